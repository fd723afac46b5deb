#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How long vsok-conform takes on the runs that used to be slow (run by
scripts/bench; never by ctest, and no threshold: it prints the figures).

  bench/conform_bench.py --bin-dir build/bench [--runs N] [--jobs N] [--quick]

  1. the full suite, vectors included, against the correct Python exec IUT
     (conformance/examples/iut.py), at the default --jobs and at --jobs 1;
  2. against an IUT that never closes after an error (vsok-mutant --mutant
     never-close), exec role and server role on a unix socket;
  3. against a correct IUT that trickles its echoes at 1 byte per second
     (conformance/tests/trickle_iut.py), at the default --budget: the
     early-end rule stops it.

Each figure is the wall time of the whole run: min / median / max over
--runs runs, with the load average, because the machine may be shared.
The Python IUT runs under a real interpreter (--python: /usr/bin/python3 where
it exists, else sys.executable), not a launcher shim that would add a shell
per case.
"""
import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_conform(conform, args, tmp):
    out = os.path.join(tmp, "r.json")
    if os.path.exists(out):
        os.unlink(out)
    t0 = time.monotonic()
    p = subprocess.run([conform, "-q", "--artifacts", "none", "--json", out] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1200)
    dt = time.monotonic() - t0
    with open(out) as f:
        rep = json.load(f)
    return dt, p.returncode, rep


def server(mutant_bin, name, addr):
    r, w = os.pipe()
    p = subprocess.Popen([mutant_bin, "--mutant", name, "--ready-fd", str(w), "--lifetime", "1200",
                          "listen", addr], pass_fds=(w,), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(w)
    with os.fdopen(r) as f:
        bound = f.readline().strip()
    return p, bound


def measure(label, conform, args, runs, tmp, setup=None):
    times, last = [], None
    for _ in range(runs):
        stop = None
        a = list(args)
        if setup:
            stop, target = setup()
            a = ["--target", target] + a
        try:
            dt, rc, rep = run_conform(conform, a, tmp)
        finally:
            if stop:
                stop()
        times.append(dt)
        last = (rc, rep)
    rc, rep = last
    s = rep["summary"]
    verdicts = " ".join("%d %s" % (s[v], v) for v in ("PASS", "FAIL", "NON-STRICT", "SKIP", "ERROR"))
    ended = " (ended early)" if s.get("ended_early") else ""
    print("%-46s %6.1f / %6.1f / %6.1f s   jobs %s, exit %d, %d cases: %s%s" % (
        label, min(times), statistics.median(times), max(times), rep.get("jobs", "?"), rc,
        s["total"], verdicts, ended))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True, help="a build tree (build/bench, build/dev)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=0, help="0: the runner's default (online cores)")
    ap.add_argument("--quick", action="store_true", help="one run each")
    # Debian's interpreter where there is one: a pyenv build whose site loads
    # .pth files costs 40 ms more per start, which is the machine's, not the runner's
    ap.add_argument("--python", default="/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK)
                    else sys.executable, help="the interpreter of the Python IUTs")
    a = ap.parse_args()
    runs = 1 if a.quick else a.runs
    conform = os.path.join(a.bin_dir, "conformance", "vsok-conform")
    mutant = os.path.join(a.bin_dir, "conformance", "mutants", "vsok-mutant")
    py = a.python
    iut = os.path.join(ROOT, "conformance", "examples", "iut.py")
    trickle = os.path.join(ROOT, "conformance", "tests", "trickle_iut.py")
    jobs = ["--jobs", str(a.jobs)] if a.jobs else []
    print("vsok-conform timings (wall, min / median / max of %d), %d cores, load %s, python %s" % (
        runs, os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg()), py))
    with tempfile.TemporaryDirectory(prefix="vsok-conform-bench.") as tmp:
        py_target = "exec:" + shlex.quote(py) + " " + shlex.quote(iut)
        measure("full suite, Python exec IUT", conform, ["--target", py_target, "--seed", "1"] + jobs,
                runs, tmp)
        measure("full suite, Python exec IUT, --jobs 1", conform,
                ["--target", py_target, "--seed", "1", "--jobs", "1"], runs, tmp)
        nc = "exec:" + shlex.quote(mutant) + " --mutant never-close stdio"
        measure("full suite, never-close mutant, exec", conform, ["--target", nc, "--seed", "1"] + jobs,
                runs, tmp)

        def nc_server():
            p, addr = server(mutant, "never-close", "unix:" + os.path.join(tmp, "nc.sock"))

            def stop():
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            return stop, addr
        measure("full suite, never-close mutant, server (unix)", conform, ["--seed", "1"] + jobs, runs,
                tmp, setup=nc_server)
        tr = "exec:" + shlex.quote(py) + " " + shlex.quote(trickle)
        measure("full suite, 1 byte/s trickling IUT", conform, ["--target", tr, "--seed", "1"] + jobs,
                runs, tmp)
    print("load afterwards %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
