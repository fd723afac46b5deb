#!/bin/sh
# SPDX-License-Identifier: MIT
# man-check.sh MANDIR - every man page in MANDIR renders without a single
# groff or man warning (man --warnings, 80 columns)
# and has a NAME section that lexgrog (mandb's parser) reads as
# "page - description", naming the page itself.
set -eu
dir=$1
n=0 bad=0
for page in "$dir"/*.[1-9]; do
    [ -f "$page" ] || continue
    n=$((n + 1))
    name=$(basename "$page"); name=${name%.*}
    for width in 80; do
        warn=$(MANWIDTH=$width LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) || {
            echo "$page: man failed"; bad=$((bad + 1)); }
        if [ -n "$warn" ]; then
            echo "$page (width $width):"; echo "$warn"; bad=$((bad + 1))
        fi
    done
    whatis=$(lexgrog "$page" 2>&1) || { echo "$page: lexgrog: $whatis"; bad=$((bad + 1)); continue; }
    case $whatis in
        *": \"$name - "?*\") ;;
        *) echo "$page: NAME section not read as \"$name - ...\": $whatis"; bad=$((bad + 1)) ;;
    esac
done
[ "$n" -gt 0 ] || { echo "no man pages in $dir"; exit 1; }
echo "$n man pages, $bad problem(s)"
[ "$bad" -eq 0 ]
