#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/tests/deb.sh - the Debian packages, as a user gets them:
#   1. copies the source tree to a scratch directory, builds it there
#      (Release, prefix /usr, no tests) and runs cpack: three .debs;
#   2. lintian on them: no error (E:) allowed; warnings are printed and
#      listed in packaging/README.md;
#   3. checks what each package holds;
#   4. deletes the scratch source and build trees, unpacks the .debs into a
#      scratch root (dpkg -x) and runs what was installed there, with
#      nothing from any source tree: vsok-conform --list finds the installed
#      vector set, the installed vsok-peer is certified by the installed
#      vsok-conform over a Unix socket, the man pages are readable, and a
#      program built against libvsok-dev (pkg-config) runs on libvsok0.
# Exit 0 all good, 1 a check failed, 77 a needed tool is missing (skip).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
for t in cmake cpack dpkg-deb dpkg-shlibdeps lintian lexgrog file gcc pkg-config; do
    command -v "$t" >/dev/null || { echo "deb.sh: $t not found: skipped"; exit 77; }
done
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsok-deb.XXXXXX")
peer_pid=
cleanup() {
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail=0
check() { # check DESCRIPTION CMD...: run CMD, report
    local what=$1; shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}
t0=$(date +%s)
step() { echo "--- $* ($(( $(date +%s) - t0 ))s)"; }

# ---- 1. build the packages from a copy of the tree -------------------------
step "copy the source tree"
mkdir -p "$tmp/src" "$tmp/build" "$tmp/debs" "$tmp/root" "$tmp/run"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new (not ignored) files: what a commit would hold
    (cd "$src" && git ls-files -z -co --exclude-standard |
        tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
        tar -xf - -C "$tmp/src" || { echo "cannot copy $src"; exit 1; }
else
    (cd "$src" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$tmp/src"
fi
cp "$src/ref/tests/consumer/main.c" "$tmp/run/consumer.c"

step "configure and build (Release, prefix /usr, BUILD_TESTING=OFF)"
cmake -S "$tmp/src" -B "$tmp/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" -j "$(nproc 2>/dev/null || echo 2)" >"$tmp/build.log" 2>&1 ||
    { tail -50 "$tmp/build.log"; exit 1; }
step "cpack"
(cd "$tmp/build" && cpack -B "$tmp/debs" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; exit 1; }
debs=("$tmp"/debs/*.deb)
ls -l "${debs[@]}" | awk '{print $5, $NF}'
lib=$(ls "$tmp"/debs/libvsok0_*.deb 2>/dev/null)
dev=$(ls "$tmp"/debs/libvsok-dev_*.deb 2>/dev/null)
tools=$(ls "$tmp"/debs/vsok-tools_*.deb 2>/dev/null)
check "three packages: libvsok0, libvsok-dev, vsok-tools" \
    test -n "$lib" -a -n "$dev" -a -n "$tools" -a "${#debs[@]}" -eq 3
[ $fail -eq 0 ] || exit 1

# ---- 2. lintian ------------------------------------------------------------------
step "lintian"
lintian --tag-display-limit 0 "${debs[@]}" >"$tmp/lintian.log" 2>&1
grep -v '^running with root privileges' "$tmp/lintian.log" | sed 's/^/    /'
check "lintian: no errors" bash -c "! grep -q '^E: ' '$tmp/lintian.log'"

# ---- 3. contents -------------------------------------------------------------------
has() { # has DEB PATH-REGEX: the package holds a path matching the regex
    dpkg-deb -c "$1" | awk '{print $6}' | grep -E "^\./$2\$" >/dev/null # no -q: pipefail
}
lacks() { ! has "$@"; }
ma='usr/lib/([a-z0-9_]+-linux-gnu[a-z0-9_]*/)?'
check "libvsok0 holds libvsok.so.0" has "$lib" "${ma}libvsok\.so\.0"
check "libvsok0 has no headers, .a or bare .so" \
    bash -c "! dpkg-deb -c '$lib' | grep -Eq 'include/|libvsok\.a|libvsok\.so\$'"
check "libvsok0 control: shlibs and the ldconfig trigger" \
    bash -c "dpkg-deb --ctrl-tarfile '$lib' | tar -t | grep -qx './shlibs' &&
             dpkg-deb --ctrl-tarfile '$lib' | tar -xO ./triggers | grep -q 'ldconfig'"
for f in usr/include/vsok/vsok.h usr/include/vsok/export.h "${ma}libvsok\.a" "${ma}libvsok\.so" \
         "${ma}pkgconfig/vsok\.pc" "${ma}cmake/vsok/vsokConfig\.cmake"; do
    check "libvsok-dev holds $f" has "$dev" "$f"
done
check "libvsok-dev depends on libvsok0 of its version" \
    bash -c "dpkg-deb -f '$dev' Depends | grep -q \"libvsok0 (= \$(dpkg-deb -f '$dev' Version))\""
for f in usr/bin/vsok-peer usr/bin/vsok-conform usr/share/vsok/vectors/vectors.txt \
         usr/share/vsok/vectors/schema.json usr/share/vsok/vectors/encoder.json \
         'usr/share/vsok/vectors/bin/[0-9]+-.*\.bin' usr/share/man/man1/vsok-peer\.1\.gz \
         usr/share/man/man1/vsok-conform\.1\.gz usr/share/man/man7/vsok\.7\.gz; do
    check "vsok-tools holds $f" has "$tools" "$f"
done
for d in "${debs[@]}"; do
    p=$(dpkg-deb -f "$d" Package)
    check "$p: copyright and changelog" bash -c "has() { dpkg-deb -c '$d' | awk '{print \$6}' | grep -qx \"\$1\"; };
        has ./usr/share/doc/$p/copyright && has ./usr/share/doc/$p/changelog.Debian.gz"
done

# ---- 4. install into a scratch root, nothing from a source tree -----------------
step "remove the scratch source and build trees; dpkg -x into a scratch root"
rm -rf "$tmp/src" "$tmp/build"
for d in "${debs[@]}"; do dpkg -x "$d" "$tmp/root"; done
r=$tmp/root
# A user's environment, not the developer's: no build tree on any path.
export PATH="$r/usr/bin:/usr/bin:/bin"
unset LD_LIBRARY_PATH PKG_CONFIG_PATH
cd "$tmp/run" || exit 1

step "vsok-conform --list"
"$r/usr/bin/vsok-conform" --list >list.out 2>list.err
rc=$?
tail -1 list.out; cat list.err
check "vsok-conform --list exits 0" test $rc -eq 0
check "vsok-conform --list loads the installed vector set" \
    grep -q "vector set $r/usr/share/vsok/vectors/vectors.txt (version [0-9]*): [1-9][0-9]* cases" list.out
check "vsok-conform --help names the installed vector set as default" \
    bash -c "'$r/usr/bin/vsok-conform' --help | grep -q -- '--vectors FILE.*default $r/usr/share/vsok/vectors/vectors.txt'"

step "certify the installed vsok-peer with the installed vsok-conform"
mkfifo ready
"$r/usr/bin/vsok-peer" listen -qq --ready-fd 3 "unix:$tmp/run/iut.sock" 3>ready 2>peer.log &
peer_pid=$!
addr=
read -r -t 30 addr <ready
check "vsok-peer listens (ready-fd gave '$addr')" test "$addr" = "unix:$tmp/run/iut.sock"
"$r/usr/bin/vsok-conform" --target "$addr" -q --budget 90 --junit junit.xml --json run.json \
    --artifacts none >conform.out 2>&1
rc=$?
cat conform.out
check "vsok-conform certifies vsok-peer (exit 0)" test $rc -eq 0
check "CONFORMANT with the vector cases" \
    bash -c "grep -q '^CONFORMANT' conform.out && grep -q 'vector set $r/usr/share/vsok/vectors/vectors.txt' conform.out"
check "JUnit report written" grep -q '<testsuite' junit.xml
kill "$peer_pid" 2>/dev/null; wait "$peer_pid" 2>/dev/null; peer_pid=

step "man pages and the library"
for m in man1/vsok-peer.1 man1/vsok-conform.1 man7/vsok.7; do
    check "installed $m.gz: lexgrog reads its NAME" lexgrog "$r/usr/share/man/$m.gz"
done
pc=$(find "$r/usr/lib" -name vsok.pc | head -n 1)
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
# shellcheck disable=SC2046 # pkg-config prints word lists
check "a program built with libvsok-dev's vsok.pc links libvsok.so.0" \
    gcc consumer.c $(PKG_CONFIG_LIBDIR="$pcdir" pkg-config --cflags --libs vsok) -o consumer
check "it runs on the installed libvsok0 (and links nothing else named vsok)" \
    bash -c "LD_LIBRARY_PATH='$libdir' ./consumer >/dev/null &&
             LD_LIBRARY_PATH='$libdir' ldd ./consumer | grep -q 'libvsok.so.0 => $libdir/libvsok.so.0'"

step "done"
[ $fail -eq 0 ] && echo "deb.sh: all checks passed" || echo "deb.sh: FAILED"
exit $fail
