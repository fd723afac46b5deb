#!/bin/sh
# SPDX-License-Identifier: MIT
# man-check.sh MANDIR [TOOL...] - every man page in MANDIR renders without a
# single groff or man warning (man --warnings, 80 columns)
# and has a NAME section that lexgrog (mandb's parser) reads as
# "page - description", naming the page itself.  Each TOOL (a built binary)
# has a page NAME.1 there that documents every long option its --help lists.
set -eu
dir=$1
shift
n=0 bad=0
for tool in "$@"; do
    name=$(basename "$tool")
    page=$dir/$name.1
    [ -f "$page" ] || { echo "$name: no man page $page"; bad=$((bad + 1)); continue; }
    text=$(sed 's/\\-/-/g' "$page")
    for opt in $("$tool" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        case $text in
            *"$opt"*) ;;
            *) echo "$page: $opt (in $name --help) is not documented"; bad=$((bad + 1)) ;;
        esac
    done
done
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
