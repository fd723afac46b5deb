#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Self-validation of vsok-conform: run it against a deliberately faulty IUT
(vsok-mutant) and check that it reports the bug the mutant was built with, or
certify a correct IUT (the examples, the "none" mutant).

  test_mutants.py --conform BIN --mutant-bin BIN --table mutants.txt MUTANT ROLE
  test_mutants.py --conform BIN --certify ROLE --command 'COMMAND' [--full]
  test_mutants.py --check-readme conformance/README.md

ROLE is server (on a unix: socket), server-tcp (on tcp:127.0.0.1:0), client or
exec.  For a mutant, the expectation comes from its
line in mutants.txt: FAIL (exit 1 and a FAIL on one of the listed cases whose failed
rule is one of the listed rules), NON-STRICT (exit 0, no FAIL or ERROR, and a
NON-STRICT on a listed case) or PASS (exit 0, no FAIL, ERROR or NON-STRICT).
--certify expects exit 0 with no FAIL or ERROR (NON-STRICT is reported, not
fatal).  Runs that must not FAIL use a 6 s case timeout, FAIL mutants 1 s.  A server command either takes --ready-fd (vsok-mutant) or prints its
bound address as its first line on stdout (the examples).

Every wait is bounded; only processes started here are killed, by pid.
"""
import argparse
import fnmatch
import json
import os
import select
import shlex
import subprocess
import sys
import tempfile
import time

RUN_LIMIT_S = 300  # the runner has its own --budget; this is the backstop
# Where no FAIL is allowed, a correct IUT never waits for a timeout, so a
# generous one costs nothing and keeps a loaded CI machine from failing it.
CERTIFY_TIMEOUT_MS = "6000"  # a number of milliseconds; passed as "6000ms"
# vectors=whole: the vector cases except those cut by the runner's own patterns
WHOLE_SKIP = "vec.*.bytes,vec.*.hdr-offsets,vec.*.64k-paused,vec.*.random"


def load_table(path):
    """Parses mutants.txt: NAME ROLES VERDICT CASES RULES [key=value...] # comment."""
    table = {}
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].split()
            if not line:
                continue
            if len(line) < 5:
                sys.exit(f"{path}:{lineno}: want NAME ROLES VERDICT CASES RULES")
            name, roles, verdict, cases, rules = line[:5]
            opts = dict(o.split("=", 1) for o in line[5:])
            if verdict not in ("PASS", "FAIL", "NON-STRICT"):
                sys.exit(f"{path}:{lineno}: verdict must be PASS, FAIL or NON-STRICT")
            table[name] = {
                "roles": roles.split(","),
                "verdict": verdict,
                "cases": [] if cases == "-" else cases.split(","),
                "rules": [] if rules == "-" else rules.split(","),
                "opts": opts,
            }
    return table


def read_line(fd, limit_s):
    """First line written to fd, waiting at most limit_s; '' if none came."""
    data = b""
    end = time.monotonic() + limit_s
    while b"\n" not in data:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


class Server:
    """A server IUT started for one run, stopped by its own pid."""

    def __init__(self, argv, ready_fd_flag):
        if ready_fd_flag:
            r, w = os.pipe()
            argv = argv[:1] + ["--ready-fd", str(w)] + argv[1:]
            self.proc = subprocess.Popen(argv, pass_fds=(w,), stdin=subprocess.DEVNULL)
            os.close(w)
        else:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
            r = self.proc.stdout.fileno()
        self.addr = read_line(r, 10)
        if ready_fd_flag:
            os.close(r)
        if not self.addr:
            self.stop()
            sys.exit(f"the server {argv} did not report its address within 10 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print(f"warning: pid {self.proc.pid} did not exit after SIGKILL", file=sys.stderr)
        if self.proc.stdout:
            self.proc.stdout.close()


def run_conform(conform, args, workdir):
    report = os.path.join(workdir, "report.json")
    argv = [conform] + args + ["--json", report, "--artifacts", os.path.join(workdir, "out"),
                               "--color", "never", "-q"]
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        sys.exit(f"FAILED: vsok-conform did not finish within {RUN_LIMIT_S} s")
    out = p.stdout.decode(errors="replace")
    print(out.strip())
    if not os.path.exists(report):
        sys.exit(f"FAILED: vsok-conform exited {p.returncode} without writing {report}")
    with open(report) as f:
        return p.returncode, json.load(f)


def role_args(role, command, server=None):
    if role.startswith("server"):
        return ["--target", server.addr]
    if role == "client":
        return ["--role", "client", "--listen", "tcp:127.0.0.1:0", "--spawn", command]
    return ["--target", "exec:" + command]


def run_role(conform, role, server_argv, command, extra, workdir, ready_fd_flag):
    if not role.startswith("server"):
        return run_conform(conform, role_args(role, command) + extra, workdir)
    server = Server(server_argv, ready_fd_flag)
    try:
        args = role_args(role, None, server)
        if server.addr.startswith("tcp:"):
            args += ["--iut-pid", str(server.proc.pid)]  # for the memory check
        return run_conform(conform, args + extra, workdir)
    finally:
        server.stop()


def summarize(cases):
    seen = {}
    for c in cases:
        if c["verdict"] not in ("PASS", "SKIP"):
            key = (c["verdict"], c.get("failed_rule") or c["rule"])
            seen.setdefault(key, []).append(c["id"])
    for (verdict, rule), ids in sorted(seen.items()):
        more = f" (+{len(ids) - 5} more)" if len(ids) > 5 else ""
        print(f"  {verdict:10s} {rule:20s} {', '.join(ids[:5])}{more}")


def matching(cases, verdict, globs, rules):
    """Cases with that verdict on one of globs whose failed rule (the check
    that failed; a NON-STRICT names it too) is one of rules: a FAIL must be
    attributed to the rule the mutant breaks, not to a neighbouring one."""
    return [c for c in cases if c["verdict"] == verdict
            and any(fnmatch.fnmatchcase(c["id"], g) for g in globs)
            and (not rules or (c.get("failed_rule") or c["rule"]) in rules)]


def check_mutant(rc, report, exp, name, role):
    cases = report["cases"]
    counts = report["summary"]
    summarize(cases)
    problems = []
    if exp["verdict"] == "FAIL":
        if rc != 1:
            problems.append(f"exit status {rc}, want 1")
        hits = matching(cases, "FAIL", exp["cases"], exp["rules"])
        if not hits:
            problems.append(f"no FAIL on {','.join(exp['cases'])} naming {','.join(exp['rules'])}")
        else:
            print(f"caught: {hits[0]['id']} FAIL ({hits[0].get('failed_rule') or hits[0]['rule']})"
                  f" and {len(hits) - 1} more of the expected cases")
    else:
        if rc != 0:
            problems.append(f"exit status {rc}, want 0")
        for v in ("FAIL", "ERROR"):
            if counts.get(v):
                problems.append(f"{counts[v]} {v} verdict(s), want none")
        if exp["verdict"] == "NON-STRICT":
            hits = matching(cases, "NON-STRICT", exp["cases"], exp["rules"])
            if not hits:
                problems.append(f"no NON-STRICT on {','.join(exp['cases'])}")
            else:
                print(f"flagged: {hits[0]['id']} NON-STRICT ({hits[0].get('failed_rule')})")
        elif counts.get("NON-STRICT"):
            problems.append(f"{counts['NON-STRICT']} NON-STRICT verdict(s), want none")
    for need in filter(None, exp["opts"].get("need", "").split(",")):
        nrole, glob, rule = need.split("/")
        if nrole != role:
            continue
        want = "FAIL" if exp["verdict"] == "FAIL" else "NON-STRICT"
        hits = matching(cases, want, [glob], [rule])
        if not hits:
            problems.append(f"no {want} on {glob} naming {rule} (needed in the {role} role)")
        else:
            print(f"needed and seen: {hits[0]['id']} {want} ({rule})")
    for c in cases:  # a drain-first NON-STRICT says why, and what to do about it
        if c.get("failed_rule") == "VSOK-LINGER" and "lingering close" not in (c.get("note") or ""):
            problems.append(f"{c['id']}: VSOK-LINGER without the hint: {c.get('note')!r}")
    if counts.get("PASS", 0) + counts.get("NON-STRICT", 0) + counts.get("FAIL", 0) == 0:
        problems.append("no case ran")
    if problems:
        print(f"FAILED: mutant {name} in the {role} role: " + "; ".join(problems))
        return 1
    print(f"ok: mutant {name} in the {role} role gets {exp['verdict']} as designed")
    return 0


def check_readme(path):
    """Every code block of the README that starts with a "from examples/FILE"
    comment must appear verbatim in that file, so the documented examples are
    the certified ones."""
    base = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        text = f.read()
    blocks = text.split("```")[1::2]
    checked = 0
    for block in blocks:
        lines = block.split("\n")[1:]  # drop the language tag
        first = lines[0].strip() if lines else ""
        for prefix, suffix in (("# from ", ""), ("/* from ", " */")):
            if first.startswith(prefix) and first.endswith(suffix):
                name = first[len(prefix):len(first) - len(suffix)]
                body = "\n".join(lines[1:]).strip("\n")
                with open(os.path.join(base, name)) as src:
                    if body not in src.read():
                        print(f"FAILED: the README's excerpt of {name} is not in {name}:\n{body}")
                        return 1
                checked += 1
    if checked == 0:
        print(f"FAILED: no 'from examples/...' excerpt found in {path}")
        return 1
    print(f"ok: {checked} README excerpts match their example files")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conform")
    ap.add_argument("--mutant-bin")
    ap.add_argument("--table")
    ap.add_argument("--certify", choices=("server", "client", "exec"))
    ap.add_argument("--command", help="IUT command (--certify); server: prints its address")
    ap.add_argument("--full", action="store_true", help="include the vector set's cases")
    ap.add_argument("mutant", nargs="?")
    ap.add_argument("role", nargs="?", choices=("server", "server-tcp", "client", "exec"))
    ap.add_argument("--check-readme", metavar="README",
                    help="check that the README's example excerpts match the example files")
    a = ap.parse_args()
    if a.check_readme:
        return check_readme(a.check_readme)

    if not a.conform:
        ap.error("--conform BIN is required")
    with tempfile.TemporaryDirectory(prefix="vsok-mutant-") as workdir:
        if a.certify:
            if not a.command:
                ap.error("--certify needs --command")
            extra = ["--timeout", CERTIFY_TIMEOUT_MS + "ms"] + ([] if a.full else ["--vectors", "none"])
            rc, report = run_role(a.conform, a.certify, shlex.split(a.command), a.command,
                                  extra, workdir, ready_fd_flag=False)
            summarize(report["cases"])
            counts = report["summary"]
            bad = counts.get("FAIL", 0) + counts.get("ERROR", 0)
            if rc != 0 or bad or counts.get("PASS", 0) == 0:
                print(f"FAILED: {a.command} ({a.certify} role): exit {rc}, "
                      f"{counts.get('FAIL', 0)} FAIL, {counts.get('ERROR', 0)} ERROR")
                return 1
            print(f"ok: {a.command} is conformant in the {a.certify} role "
                  f"({counts['PASS']} PASS, {counts.get('NON-STRICT', 0)} NON-STRICT)")
            return 0

        if not (a.mutant and a.role and a.mutant_bin and a.table):
            ap.error("a mutant run needs --mutant-bin, --table, MUTANT and ROLE")
        table = load_table(a.table)
        if a.mutant not in table:
            ap.error(f"mutant {a.mutant} is not in {a.table}")
        exp = table[a.mutant]
        if a.role not in exp["roles"]:
            ap.error(f"mutant {a.mutant} is not listed for the {a.role} role")
        opts = exp["opts"]
        # A short timeout cannot hide a FAIL, it only makes more.
        default_timeout = "1000" if exp["verdict"] == "FAIL" else CERTIFY_TIMEOUT_MS
        # mutants.txt's timeout=MS is milliseconds; the runner's bare number is seconds
        extra = ["--timeout", opts.get("timeout", default_timeout) + "ms"]
        # VSOK_MUTANT_VECTORS replaces the default (not a row's own vectors=):
        # scripts/test's sanitizer stage sets "none", since the verdicts with
        # the vector set are proven in the plain build and ASan looks for
        # memory errors, which the built-in cases reach as well.
        vectors = opts.get("vectors", os.environ.get("VSOK_MUTANT_VECTORS", "whole"))
        if vectors == "none":
            extra += ["--vectors", "none"]
        elif vectors == "whole":  # each vector once, in one write, and on its own schedule
            extra += ["--skip", WHOLE_SKIP]
        elif vectors != "all":
            ap.error(f"vectors={vectors}: want all, whole or none")
        for pat in filter(None, opts.get("skip", "").split(",")):
            extra += ["--skip", pat]
        # lifetime: a mutant forgotten by a crashed test dies on its own
        mut = [a.mutant_bin, "--mutant", a.mutant, "--lifetime", str(RUN_LIMIT_S + 60)]
        if a.role == "server":
            server_argv = mut + ["listen", "unix:" + os.path.join(workdir, "iut.sock")]
            command = None
        elif a.role == "server-tcp":
            server_argv = mut + ["listen", "tcp:127.0.0.1:0"]
            command = None
        else:
            server_argv = None
            command = " ".join(shlex.quote(x) for x in mut)
            command += " connect {addr}" if a.role == "client" else " stdio"
        rc, report = run_role(a.conform, a.role, server_argv, command, extra, workdir,
                              ready_fd_flag=True)
        return check_mutant(rc, report, exp, a.mutant, a.role)


if __name__ == "__main__":
    sys.exit(main())
