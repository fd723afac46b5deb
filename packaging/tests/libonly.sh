#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/tests/libonly.sh - building vsok needs nothing but a C compiler
# and CMake:
#   1. a plain top-level configure with Criterion hidden (PKG_CONFIG_LIBDIR
#      points at an empty directory) succeeds with a one-line notice, and
#      builds the library (static and shared) and the tools, no test;
#   2. a project that embeds vsok with add_subdirectory (as FetchContent
#      does) builds and runs against vsok::vsok, prints no notice, and gets
#      no tests, benchmarks or fuzz drivers.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
for t in cmake cc; do
    command -v "$t" >/dev/null || { echo "libonly.sh: $t not found: skipped"; exit 77; }
done
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
jobs=$(nproc 2>/dev/null || echo 2)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsok-libonly.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$tmp/empty-pc"
export PKG_CONFIG_LIBDIR=$tmp/empty-pc PKG_CONFIG_PATH=
fail=0
check() { local what=$1; shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }

echo "--- 1. top-level build, Criterion hidden"
cmake -S "$src" -B "$tmp/top" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release >"$tmp/top.log" 2>&1
rc=$?
check "configure succeeds without Criterion" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$tmp/top.log"; exit 1; }
grep -i criterion "$tmp/top.log" | sed 's/^/    /'
check "exactly one line mentions Criterion, naming the package" \
    test "$(grep -ci criterion "$tmp/top.log")" -eq 1 -a "$(grep -c 'libcriterion-dev' "$tmp/top.log")" -eq 1
cmake --build "$tmp/top" -j "$jobs" >"$tmp/top-build.log" 2>&1
rc=$?
check "the build succeeds" test $rc -eq 0
[ $rc -eq 0 ] || tail -30 "$tmp/top-build.log"
for f in ref/libvsok.a ref/libvsok.so ref/peer/vsok-peer conformance/vsok-conform; do
    check "built $f" test -f "$tmp/top/$f"
done
check "no Criterion test program built" \
    test -z "$(find "$tmp/top" -name 'test_*' -type f -perm -u+x | head -n 1)"
check "no Criterion test registered (ctest -N)" \
    bash -c "! ctest --test-dir '$tmp/top' -N | grep -Eq 'Test +#[0-9]+: (header|decoder|socket|vectors)\$'"

echo "--- 2. a consumer project with add_subdirectory(vsok)"
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/CMakeLists.txt" <<EOC
cmake_minimum_required(VERSION 3.20)
project(embedder C)
include(CTest)
add_subdirectory("$src" vsok)
add_executable(app main.c)
target_link_libraries(app PRIVATE vsok::vsok)
EOC
cat >"$tmp/consumer/main.c" <<'EOC'
#include <stdio.h>
#include <string.h>
#include <vsok/vsok.h>
int main(void)
{
    uint8_t h[VSOK_HEADER_SIZE];
    uint32_t len = 0;
    if (vsok_header_encode(h, 5) != VSOK_OK || memcmp(h, "VSOK\0\0\0\5", 8) != 0)
        return 1;
    if (vsok_header_decode(h, &len) != VSOK_OK || len != 5)
        return 1;
    h[0] = 'X';
    if (strcmp(vsok_errname(vsok_header_decode(h, &len)), "InvalidMagicBytes") != 0)
        return 1;
    puts("embedded libvsok works");
    return 0;
}
EOC
cmake -S "$tmp/consumer" -B "$tmp/cbuild" "${gen[@]}" >"$tmp/consumer.log" 2>&1
rc=$?
check "the consumer configures" test $rc -eq 0
[ $rc -eq 0 ] || { cat "$tmp/consumer.log"; exit 1; }
check "no Criterion notice for an embedded vsok" bash -c "! grep -qi criterion '$tmp/consumer.log'"
cmake --build "$tmp/cbuild" -j "$jobs" --target app >"$tmp/cbuild.log" 2>&1
rc=$?
check "the consumer builds" test $rc -eq 0
[ $rc -eq 0 ] || tail -30 "$tmp/cbuild.log"
check "the consumer runs" "$tmp/cbuild/app"
check "no vsok test, benchmark or fuzz target in the consumer" \
    bash -c "! cmake --build '$tmp/cbuild' --target help | grep -Eq 'test_header|bench_lib|fuzz_header_replay'"
check "no vsok test registered in the consumer" \
    bash -c "[ \"\$(ctest --test-dir '$tmp/cbuild' -N | grep -c 'Test *#')\" -eq 0 ]"
[ $fail -eq 0 ] && echo "libonly.sh: all checks passed" || echo "libonly.sh: FAILED"
exit $fail
