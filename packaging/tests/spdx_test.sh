#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging/tests/spdx_test.sh - scripts/spdx on a small git tree holding one
# file of each kind: --check lists exactly the source files without the
# identifier and exits 1; --add inserts it in each file's comment syntax
# (after a #! line and a coding line), keeps modes and data files untouched,
# is idempotent, and leaves files that still parse.
set -uo pipefail
spdx=$(cd "$(dirname "$0")/../.." && pwd)/scripts/spdx
command -v git >/dev/null || { echo "git not found: skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsok-spdx.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
check() { local what=$1; shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }

git init -q .
mkdir -p src man corpus
printf '/* a.c */\nint a(void);\nint a(void) { return 0; }\n' >src/a.c
printf '#ifndef B_H\n#define B_H\n#endif\n' >src/b.h
printf '/* SPDX-License-Identifier: MIT */\nint c;\n' >src/c.c
printf '#!/bin/sh\n# s.sh\necho hi\n' >s.sh
printf '#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint("t")\n' >tool; chmod +x tool
printf 'import os\n' >m.py
printf 'cmake_minimum_required(VERSION 3.20)\n' >CMakeLists.txt
printf 'set(X 1)\n' >x.cmake
printf 'name: w\non: push\n' >w.yml
printf 'FROM debian\n' >Dockerfile
printf '.TH X 1\n.SH NAME\nx \\- y\n' >man/x.1
printf '{"a": 1}\n' >data.json
printf '#!not a script, a fuzz input\n' >corpus/input1
printf '# readme\n' >README.md
git add -A
before_json=$(md5sum data.json corpus/input1 README.md)

out=$("$spdx" --check . 2>/dev/null); rc=$?
check "--check exits 1 when files lack it" test $rc -eq 1
expected=$(printf '%s\n' CMakeLists.txt Dockerfile m.py man/x.1 s.sh src/a.c src/b.h tool w.yml x.cmake)
check "--check lists exactly the untagged source files" test "$out" = "$expected"
[ "$out" = "$expected" ] || diff <(echo "$expected") <(echo "$out")

"$spdx" --add . >/dev/null; rc=$?
check "--add then passes its own check" test $rc -eq 0
check "C: a comment on line 1" test "$(head -n 1 src/a.c)" = "/* SPDX-License-Identifier: MIT */"
check "C: an already tagged file is unchanged" test "$(grep -c SPDX src/c.c)" -eq 1
check "sh: after the #! line" test "$(sed -n 1p s.sh)" = "#!/bin/sh" -a "$(sed -n 2p s.sh)" = "# SPDX-License-Identifier: MIT"
check "python: after #! and the coding line" test "$(sed -n 3p tool)" = "# SPDX-License-Identifier: MIT"
check "executable bit kept" test -x tool
check "roff: a .\\\" comment" test "$(head -n 1 man/x.1)" = '.\" SPDX-License-Identifier: MIT'
check "CMake, YAML, Dockerfile: a # comment on line 1" \
    test "$(head -qn 1 CMakeLists.txt x.cmake w.yml Dockerfile | sort -u)" = "# SPDX-License-Identifier: MIT"
check "data, corpus and Markdown untouched" test "$(md5sum data.json corpus/input1 README.md)" = "$before_json"
snap=$(cat src/a.c s.sh tool | md5sum)
"$spdx" --add . >/dev/null
check "--add is idempotent" test "$(cat src/a.c s.sh tool | md5sum)" = "$snap"
check "the files still parse" bash -c "sh -n s.sh && python3 -m py_compile tool m.py && cc -fsyntax-only src/a.c"
check "--check exits 0 now" "$spdx" --check .
check "a bad option exits 2" bash -c "'$spdx' --frobnicate >/dev/null 2>&1; [ \$? -eq 2 ]"
[ $fail -eq 0 ] && echo "spdx_test.sh: all checks passed" || echo "spdx_test.sh: FAILED"
exit $fail
