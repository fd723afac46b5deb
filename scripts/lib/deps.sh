# SPDX-License-Identifier: MIT
# scripts/lib/deps.sh - sourced by the scripts: installs Debian packages that
# are missing, and only those (apt-get update first, as a fresh machine needs).
vsok_need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || return 1
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

# Packages every build of the project needs.
VSOK_BUILD_PKGS=(cmake ninja-build gcc clang pkg-config libcriterion-dev python3 libclang-rt-14-dev)
