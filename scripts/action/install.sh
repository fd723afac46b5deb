#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/action/install.sh - step 1 of action.yml: makes vsok-conform and
# vsok-peer available and prints their directory as the step output "bin".
#   VSOK_INSTALL=build  (default) build and install the action's own source
#                       tree (VSOK_SOURCE) into $RUNNER_TEMP/vsok
#   VSOK_INSTALL=debs   unpack the .deb files matching VSOK_DEBS (a glob,
#                       the vsok-tools package at least) into
#                       $RUNNER_TEMP/vsok-root (dpkg -x: no root needed)
#   VSOK_INSTALL=path   use the vsok-conform already on PATH
set -euo pipefail
: "${RUNNER_TEMP:?RUNNER_TEMP not set}" "${GITHUB_OUTPUT:?GITHUB_OUTPUT not set}"
mode=${VSOK_INSTALL:-build}
case $mode in
build)
    src=${VSOK_SOURCE:?VSOK_SOURCE not set}
    [ -f "$src/CMakeLists.txt" ] || { echo "::error::no vsok source tree at $src"; exit 1; }
    prefix=$RUNNER_TEMP/vsok
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    echo "building vsok from $src into $prefix"
    cmake -S "$src" -B "$RUNNER_TEMP/vsok-build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >"$RUNNER_TEMP/vsok-configure.log" 2>&1 ||
        { cat "$RUNNER_TEMP/vsok-configure.log"; echo "::error::cmake configure failed"; exit 1; }
    cmake --build "$RUNNER_TEMP/vsok-build" -j "$(nproc 2>/dev/null || echo 2)" ||
        { echo "::error::building vsok failed"; exit 1; }
    cmake --install "$RUNNER_TEMP/vsok-build" --component tools >/dev/null
    bin=$prefix/bin
    ;;
debs)
    root=$RUNNER_TEMP/vsok-root
    mkdir -p "$root"
    shopt -s nullglob
    # shellcheck disable=SC2206 # VSOK_DEBS is a glob to expand
    debs=(${VSOK_DEBS:?VSOK_DEBS: which .deb files to install})
    [ ${#debs[@]} -gt 0 ] || { echo "::error::no .deb file matches '$VSOK_DEBS'"; exit 1; }
    for d in "${debs[@]}"; do echo "unpacking $d"; dpkg -x "$d" "$root"; done
    conform=$(find "$root" -path '*/bin/vsok-conform' -type f | head -n 1)
    [ -n "$conform" ] || { echo "::error::no bin/vsok-conform in ${debs[*]} (install vsok-tools)"; exit 1; }
    bin=$(dirname "$conform")
    ;;
path)
    conform=$(command -v vsok-conform) || { echo "::error::vsok-conform is not on PATH"; exit 1; }
    bin=$(dirname "$conform")
    ;;
*)
    echo "::error::install must be build, debs or path, not '$mode'"; exit 1 ;;
esac
for t in vsok-conform vsok-peer; do
    [ -x "$bin/$t" ] || { echo "::error::$bin/$t missing"; exit 1; }
done
"$bin/vsok-conform" --list >/dev/null || { echo "::error::$bin/vsok-conform cannot run"; exit 1; }
echo "vsok tools in $bin"
echo "bin=$bin" >>"$GITHUB_OUTPUT"
[ -n "${GITHUB_PATH:-}" ] && echo "$bin" >>"$GITHUB_PATH"
exit 0
