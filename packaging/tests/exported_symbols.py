#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""exported_symbols.py LIBVSOK_SO INCLUDE_DIR - the shared library exports
exactly the API declared in INCLUDE_DIR/vsok/*.h: every declared function and
object is in `nm -D --defined-only`, and nothing else is (no vsok__ internals,
no helper that lost its `static`).  Each declaration must also carry VSOK_API,
the mark that keeps it exported under -fvisibility=hidden.  Exit 1 with the
differences listed."""
import glob
import os
import re
import subprocess
import sys


def declarations(incdir):
    """{name: has VSOK_API} for every function/object declared at file scope."""
    decls = {}
    for path in sorted(glob.glob(os.path.join(incdir, "vsok", "*.h"))):
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        text = text.replace('extern "C" {', " ")
        while True:  # drop struct/enum bodies (and the lone } of extern "C")
            new = re.sub(r"\{[^{}]*\}", " ", text)
            if new == text:
                break
            text = new
        text = text.replace("}", " ")
        for stmt in text.split(";"):
            stmt = " ".join(stmt.split())
            if not stmt or stmt.startswith("typedef") or stmt.startswith("struct ") \
                    and "(" not in stmt:
                continue
            if "(" in stmt:
                m = re.search(r"([A-Za-z_]\w*)\s*\($", stmt[:stmt.index("(")].rstrip() + "(")
                name = m.group(1) if m else None
            elif re.search(r"\bextern\b", stmt):
                name = re.findall(r"[A-Za-z_]\w*", stmt)[-1]
            else:
                continue
            if not name:
                sys.exit("%s: cannot read the declaration %r" % (path, stmt))
            decls[name] = "VSOK_API" in stmt.split()
    return decls


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-2] not in ("A",):  # A: version nodes
            names.add(parts[-1].split("@")[0])
    return names


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: exported_symbols.py LIBVSOK_SO INCLUDE_DIR")
    decls = declarations(sys.argv[2])
    exp = exported(sys.argv[1])
    bad = 0
    for n in sorted(set(decls) - exp):
        print("declared in include/vsok/ but not exported: %s" % n)
        bad += 1
    for n in sorted(exp - set(decls)):
        print("exported but not declared in include/vsok/: %s" % n)
        bad += 1
    for n in sorted(k for k, v in decls.items() if not v):
        print("declared without VSOK_API: %s" % n)
        bad += 1
    print("%d declarations, %d exported symbols, %d problem(s)" % (len(decls), len(exp), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
