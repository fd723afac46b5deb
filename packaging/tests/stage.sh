#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/tests/stage.sh - the "package" stage of scripts/test: installs
# what the packaging tests need (Debian packages), then runs them in turn:
#   libonly.sh      library-only build without Criterion; add_subdirectory
#   deb.sh          cpack .debs, lintian, installed tools from a scratch root
#   test_action.py  action.yml and the workflows, run locally
# Exit 0 when all pass, 1 when one fails, 77 when the tools are missing and
# cannot be installed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. scripts/lib/deps.sh
vsok_need_pkgs cmake gcc pkg-config python3 lintian dpkg-dev file man-db python3-yaml ||
    { echo "package stage: cannot install lintian, dpkg-dev, file, man-db, python3-yaml: skipped"; exit 77; }
failed=()
for t in packaging/tests/libonly.sh packaging/tests/deb.sh packaging/tests/test_action.py; do
    t0=$(date +%s)
    echo "=== $t"
    case $t in
    *.py) python3 "$t" ;;
    *) "$t" ;;
    esac
    rc=$?
    echo "=== $t: exit $rc ($(( $(date +%s) - t0 ))s)"
    [ $rc -eq 0 ] || failed+=("$t")
done
[ ${#failed[@]} -eq 0 ] || { echo "package stage failed: ${failed[*]}"; exit 1; }
