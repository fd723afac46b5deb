#!/bin/sh
# SPDX-License-Identifier: MIT
# install_consumer.sh BUILD_DIR CONSUMER_SRC CC GENERATOR [EXTRA_CFLAGS]
# Installs the build into a throw-away prefix, then builds and runs a small
# outside project against it twice: through find_package(vsok) (vsok::vsok)
# and through pkg-config (vsok.pc).
set -eu
build=$1 src=$2 cc=$3 gen=$4 extra=${5:-}

prefix=$(mktemp -d "${TMPDIR:-/tmp}/vsok-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT INT TERM

cmake --install "$build" --prefix "$prefix/usr" >"$prefix/install.log" ||
    { cat "$prefix/install.log"; exit 1; }
for f in include/vsok/vsok.h include/vsok/decoder.h; do
    [ -f "$prefix/usr/$f" ] || { echo "not installed: $f"; exit 1; }
done

echo "== find_package(vsok)"
cmake -S "$src" -B "$prefix/cmake-build" -G "$gen" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" \
    -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
cmake --build "$prefix/cmake-build"
"$prefix/cmake-build/consumer"

echo "== pkg-config vsok"
pc=$(find "$prefix/usr" -name vsok.pc | head -n 1)
[ -n "$pc" ] || { echo "vsok.pc not installed"; exit 1; }
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
# Only the temporary prefix: never a system-wide vsok.
cflags=$(PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH= pkg-config --cflags vsok)
libs=$(PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH= pkg-config --libs vsok)
echo "cflags: $cflags"
echo "libs: $libs"
# shellcheck disable=SC2086 # the flags are word lists
"$cc" $extra "$src/main.c" $cflags $libs -o "$prefix/consumer-pc"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$prefix/consumer-pc"
