#!/bin/bash -eu
# SPDX-License-Identifier: MIT
# fuzz/build.sh - builds every vsok fuzz target the OSS-Fuzz way, for
# OSS-Fuzz and ClusterFuzzLite (.clusterfuzzlite/build.sh calls this).
#
# Honours the OSS-Fuzz variables: $CC $CFLAGS (sanitizer and coverage flags
# come in through them), $CXX $CXXFLAGS, $LIB_FUZZING_ENGINE and $OUT.  The
# code is C, but the link uses $CXX as OSS-Fuzz requires (the engines are
# C++).  For each target it puts in $OUT: the binary, <target>.options,
# <target>.dict (and vsok.dict, which the options name) and
# <target>_seed_corpus.zip made from fuzz/corpus/<target>/ plus, for the
# stream targets, the vector set's raw streams.
#
# Plain compiler calls, no CMake, so it runs in any base-builder image.
# Locally: scripts/fuzz --oss-fuzz-check runs it with the variables set and
# runs each binary briefly.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CC:=clang}" "${CXX:=clang++}"
: "${CFLAGS:=-O1 -g -fsanitize=address,undefined,fuzzer-no-link}"
: "${CXXFLAGS:=$CFLAGS}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:=$here/build/oss-fuzz-out}"
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cflags=(-std=c11 -D_GNU_SOURCE -I"$here/include" -I"$here/conformance/src")

# The library (every source in ref/src is part of it) and the conformance
# runner's reader, the part a fuzz target links.
objs=()
for src in "$here"/ref/src/*.c "$here"/conformance/src/reader.c; do
    [ -f "$src" ] || continue
    o="$work/$(basename "$(dirname "$(dirname "$src")")")_$(basename "${src%.c}").o"
    # shellcheck disable=SC2086
    $CC $CFLAGS "${cflags[@]}" -c "$src" -o "$o"
    objs+=("$o")
done
ar rcs "$work/libvsok_fuzz.a" "${objs[@]}"

stream_targets=" fuzz_reassembly fuzz_stream fuzz_conform_reader "
for src in "$here"/fuzz/fuzz_*.c; do
    t=$(basename "${src%.c}")
    [ "$t" = fuzz_conform_reader ] && [ ! -f "$here/conformance/src/reader.c" ] && continue
    # shellcheck disable=SC2086
    $CC $CFLAGS "${cflags[@]}" -DFZ_WRAP_ALLOC -c "$src" -o "$work/$t.o"
    # The wrapped allocators and poll() are fuzz_common.h's failure injection.
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "$work/$t.o" -o "$OUT/$t" $LIB_FUZZING_ENGINE "$work/libvsok_fuzz.a" -lpthread \
        -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=poll
    cp "$here/fuzz/vsok.dict" "$OUT/$t.dict"
    [ -f "$here/fuzz/$t.options" ] && cp "$here/fuzz/$t.options" "$OUT/$t.options"
    rm -f "$OUT/${t}_seed_corpus.zip"
    seeds=()
    [ -d "$here/fuzz/corpus/$t" ] && seeds+=("$here/fuzz/corpus/$t")
    [ -d "$here/fuzz/regressions/$t" ] && seeds+=("$here/fuzz/regressions/$t")
    case "$stream_targets" in
        *" $t "*) [ -d "$here/vectors/bin" ] && seeds+=("$here/vectors/bin") ;;
    esac
    if [ ${#seeds[@]} -gt 0 ]; then
        # -j: flat archive; names are content hashes or vector names, unique.
        find "${seeds[@]}" -maxdepth 1 -type f ! -name '.*' -print0 |
            xargs -0 zip -q -j "$OUT/${t}_seed_corpus.zip"
    fi
done
cp "$here/fuzz/vsok.dict" "$OUT/vsok.dict"
echo "fuzz/build.sh: built $(ls "$OUT" | grep -c '^fuzz_[a-z_]*$') targets into $OUT"
