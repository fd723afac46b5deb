#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Process-level tests of vsok-conform: real runner, real IUT processes, real
sockets.  Each test is one ctest (see CMakeLists.txt):

  conform_test.py --bin-dir DIR TEST

Hang guards are ctest TIMEOUT properties plus subprocess timeouts; no test
asserts a duration.  The IUTs are started by this script and stopped by PID.
"""
import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile

A = None  # parsed arguments


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Server:
    """An IUT listening on an address, reporting its bound address on a pipe."""

    def __init__(self, argv_before_ready):
        r, w = os.pipe()
        self.p = subprocess.Popen(argv_before_ready(w), pass_fds=(w,),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        os.close(w)
        with os.fdopen(r) as f:
            self.addr = f.readline().strip()
        check(self.addr, "the IUT did not report its address")

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=10)


def peer_server(addr):
    return Server(lambda w: [A.peer, "-qq", "--ready-fd", str(w), "listen", addr])


def hostile_server(mode, addr):
    return Server(lambda w: [A.hostile, mode, "listen", addr, str(w)])


def conform(args, tmp, timeout=540):
    """Runs vsok-conform with a JSON report; returns (rc, report, stdout)."""
    out = os.path.join(tmp, "report.json")
    if os.path.exists(out):
        os.unlink(out)
    cmd = [A.conform, "--json", out, "--artifacts", os.path.join(tmp, "art"),
           "--color", "never"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, cwd=tmp)
    text = p.stdout.decode(errors="replace")
    rep = None
    if os.path.exists(out):
        with open(out) as f:
            rep = json.load(f)
    return p.returncode, rep, text


def assert_clean(rc, rep, text, role):
    bad = [c for c in rep["cases"] if c["verdict"] in ("FAIL", "ERROR", "NON-STRICT")]
    for c in bad[:5]:
        print(c["id"], c["verdict"], c["failed_rule"], c["expected"], c["actual"])
    check(rc == 0, "runner exit status %d, want 0\n%s" % (rc, text[-3000:]))
    check(rep["role"] == role, "role %s, want %s" % (rep["role"], role))
    s = rep["summary"]
    check(s["FAIL"] == 0 and s["ERROR"] == 0 and s["NON-STRICT"] == 0,
          "reference peer not clean: %s" % s)
    check(s["total"] > 500, "only %d cases ran: the vector cases are missing" % s["total"])
    # every case that applies to the role ran; the skipped ones say why
    for c in rep["cases"]:
        if c["verdict"] == "SKIP":
            check(c["note"], "%s skipped without a reason" % c["id"])
    # the server-role cases (other connections, the descriptor count) are
    # SKIP in the other roles; beyond those, at most 2
    other = [c for c in rep["cases"] if c["verdict"] == "SKIP" and c["note"] != "applies to the server role only"]
    check(len(other) <= 2, "too many skips: %s: %s" % (s, [(c["id"], c["note"]) for c in other]))
    print("ok: %s" % s)


# --- the reference peer passes in all three roles ---
# A generous per-case timeout: a correct peer answers at once, and ASan on a
# loaded 2-core machine must not turn slowness into a verdict.
PEER_T = "10s"


def t_peer_unix(tmp):
    srv = peer_server("unix:" + os.path.join(tmp, "peer.sock"))
    try:
        rc, rep, text = conform(["--target", srv.addr, "--timeout", PEER_T], tmp)
    finally:
        srv.stop()
    assert_clean(rc, rep, text, "server")
    lazy = [c for c in rep["cases"] if c["id"] == "robust.lazy-alloc"][0]
    check(lazy["verdict"] == "PASS" and "grew by" in lazy["note"],
          "the memory check did not measure the peer: %s" % lazy)


def t_peer_tcp(tmp):
    srv = peer_server("tcp:127.0.0.1:0")
    try:
        rc, rep, text = conform(["--target", srv.addr, "--iut-pid", str(srv.p.pid), "--timeout", PEER_T], tmp)
    finally:
        srv.stop()
    assert_clean(rc, rep, text, "server")


def t_peer_client(tmp):
    rc, rep, text = conform(["--role", "client", "--listen", "unix:" + os.path.join(tmp, "c.sock"),
                             "--spawn", shlex.quote(A.peer) + " -qq connect {addr}", "--timeout", PEER_T], tmp)
    assert_clean(rc, rep, text, "client")


def t_spawn_wildcard(tmp):
    # listening on 0.0.0.0, the runner hands the spawned client 127.0.0.1
    seen = os.path.join(tmp, "addr.txt")
    spawn = "echo {addr} > " + shlex.quote(seen) + "; exec " + shlex.quote(A.peer) + " -qq connect {addr}"
    rc, rep, text = conform(["--role", "client", "--listen", "tcp:0.0.0.0:0", "--spawn", spawn,
                             "--pick", "echo.size.1", "--timeout", "5s"], tmp)
    check(rc == 0, "runner exit status %d\n%s" % (rc, text[-2000:]))
    with open(seen) as f:
        addr = f.read().strip()
    check(addr.startswith("tcp:127.0.0.1:") and not addr.endswith(":0"), "spawned with %r" % addr)


def t_peer_exec(tmp):
    rc, rep, text = conform(["--target", "exec:" + shlex.quote(A.peer) + " -qq stdio", "--timeout", PEER_T], tmp)
    assert_clean(rc, rep, text, "exec")


# --- hostile IUTs: bounded time, bounded memory, the right verdict ---

# Timeouts: 400 ms where the timeout is the expected outcome (silent, slow);
# elsewhere a margin for slow process start under ASan on a loaded machine,
# which costs nothing when the IUT answers at once.
QUICK, MARGIN = "400ms", "3s"


def hostile_run(mode, role, tmp, extra=(), timeout=MARGIN):
    args = ["--timeout", timeout, "--budget", "120"] + list(extra)
    if role == "server":
        srv = hostile_server(mode, "unix:" + os.path.join(tmp, "h.sock"))
        try:
            rc, rep, text = conform(["--target", srv.addr] + args, tmp)
        finally:
            srv.stop()
    else:
        rc, rep, text = conform(["--target", "exec:" + shlex.quote(A.hostile) + " " + mode + " stdio"]
                                + args, tmp)
    check(rc == 1, "runner exit status %d, want 1\n%s" % (rc, text[-3000:]))
    check(rep is not None, "no JSON report")
    # the runner's memory does not follow what the IUT sends
    check(rep["runner_max_rss_kb"] < 256 * 1024,
          "runner grew to %d KiB against %s" % (rep["runner_max_rss_kb"], mode))
    first = [c for c in rep["cases"] if c["verdict"] != "PASS"][0]
    print("first non-PASS:", first["id"], first["verdict"], first["failed_rule"], first["actual"])
    return rep, first, text


def down_once(rep, first):
    """The IUT is reported once, by name; the rest is skipped, not failed."""
    s = rep["summary"]
    check(s["FAIL"] + s["ERROR"] == 1, "a cascade of failures: %s" % s)
    check(s["SKIP"] == s["total"] - 1 - s["PASS"], "unexplained verdicts: %s" % s)
    skipped = [c for c in rep["cases"] if c["verdict"] == "SKIP"]
    check(all(first["id"] in c["note"] for c in skipped if "server role" not in c["note"]),
          "skips do not name the case where the IUT went down")


def fails_everywhere(rep):
    """An IUT that answers every connection with nonsense is alive: every case
    fails on its own (fast, no timeouts), none is skipped as if it had crashed."""
    s = rep["summary"]
    check(s["PASS"] == 0 and s["ERROR"] == 0, "garbage must not pass: %s" % s)
    for c in rep["cases"]:
        if c["verdict"] == "SKIP":
            check("server role" in c["note"], "%s skipped: %s" % (c["id"], c["note"]))
        else:
            check(c["verdict"] == "FAIL" and not c["timeout"],
                  "%s: %s %s" % (c["id"], c["verdict"], c["actual"]))


def t_hostile_silent(tmp):
    rep, first, _ = hostile_run("silent", "server", tmp, timeout=QUICK)
    check(first["verdict"] == "FAIL" and first["failed_rule"] == "VSOK-TIMELY" and first["timeout"],
          "a silent IUT must get a timeout verdict: %s" % first)
    check(first["actual"].startswith("Timeout"), first["actual"])
    check("no echo" in first["actual"] or "wedged" in first["actual"], first["actual"])
    down_once(rep, first)


def t_hostile_garbage(tmp):
    rep, first, _ = hostile_run("garbage", "server", tmp)
    check(first["verdict"] == "FAIL" and first["failed_rule"] == "VSOK-FRAME", str(first))
    check(first["first_diff"] == 0, "the first garbage byte is at offset 0: %s" % first)
    check("magic" in first["expected"] and "0x80" in first["actual"], str(first))
    check(first["hexdump"] and "^^" in first["hexdump"], "no hex dump: %s" % first)
    fails_everywhere(rep)


def t_hostile_endless(tmp):
    rep, first, _ = hostile_run("endless", "server", tmp)
    check(first["verdict"] == "FAIL" and first["failed_rule"] == "VSOK-FRAME", str(first))
    fails_everywhere(rep)


def t_hostile_gigantic(tmp):
    rep, first, _ = hostile_run("gigantic", "server", tmp, ["--pick", "echo.size.1,halfclose.*"])
    check(first["verdict"] == "FAIL" and first["failed_rule"] == "VSOK-FRAME", str(first))
    check(first["first_diff"] == 4, "the length field differs at offset 4: %s" % first)
    check("4294967295" in first["actual"], "the announced length is named: %s" % first["actual"])
    fails_everywhere(rep)


def t_hostile_slow(tmp):
    rep, first, _ = hostile_run("slow", "server", tmp, timeout=QUICK)
    check(first["failed_rule"] == "VSOK-TIMELY" and first["timeout"], str(first))
    down_once(rep, first)


def t_hostile_crash(tmp):
    # the first protocol error kills the server: that case fails, naming the
    # survival rule; every later case is skipped naming it, none fails
    rep, first, _ = hostile_run("crash", "server", tmp)
    check(first["verdict"] == "FAIL" and first["failed_rule"] == "VSOK-SURVIVE", str(first))
    check("hostile" in first["tags"], "the crash is pinned on a hostile case: %s" % first["id"])
    check("crashed" in first["actual"], first["actual"])
    down_once(rep, first)


def t_strict(tmp):
    # waiting for 8 header bytes before judging the magic is legal but
    # discouraged: NON-STRICT, exit 0; with --strict, exit 1
    args = ["--target", "exec:" + shlex.quote(A.hostile) + " late stdio", "--timeout", "1500ms",
            "--pick", "invalid.magic.*,echo.size.1"]
    rc, rep, text = conform(args, tmp)
    late = [c for c in rep["cases"] if c["id"] == "invalid.magic.first-byte-only"][0]
    check(late["verdict"] == "NON-STRICT" and late["failed_rule"] == "VSOK-EARLY-REJECT", str(late))
    s = rep["summary"]
    check(rc == 0 and s["FAIL"] == 0 and s["NON-STRICT"] == 1, "%d %s" % (rc, s))
    check("NON-STRICT: allowed" in text, text[-500:])
    rc, rep, text = conform(args + ["--strict"], tmp)
    check(rc == 1 and rep["summary"]["NON-STRICT"] == 1, "--strict: %d %s" % (rc, rep["summary"]))
    print("ok")


def t_hostile_exec(tmp):
    # exec role: a fresh process per connection; a wedged one is found by
    # the probe after the first failure, a babbling one fails every case
    rep, first, _ = hostile_run("silent", "exec", tmp, timeout=QUICK)
    down_once(rep, first)
    for mode in ("garbage", "endless"):  # built-in cases: a process per case is slow under ASan
        rep, first, _ = hostile_run(mode, "exec", tmp, ["--skip", "vec.*"])
        fails_everywhere(rep)


# --- the command line ---

def t_cli(tmp):
    nv = ["--vectors", "none"]  # the built-in cases suffice here
    rc, _, text = conform(["--target", "unix:" + os.path.join(tmp, "nobody.sock")] + nv, tmp)
    check(rc == 2, "nothing listening must exit 2, got %d: %s" % (rc, text))
    check("cannot start" in text, text)
    rc, _, text = conform(["--target", "exec:/nonexistent/iut"] + nv, tmp)
    check(rc == 2, "a command that cannot run must exit 2, got %d: %s" % (rc, text))
    rc, _, _ = conform(["--target", "unix:/x", "--timeout", "soon"] + nv, tmp)
    check(rc == 2, "bad --timeout must exit 2")
    rc, _, _ = conform(["--target", "unix:/x", "--pick", "no-such-case"] + nv, tmp)
    check(rc == 2, "an empty selection must exit 2")
    rc, _, _ = conform(["--target", "unix:/x", "--vectors", os.path.join(tmp, "missing.txt")], tmp)
    check(rc == 2, "a vector set that cannot be loaded must exit 2")
    rc, _, _ = conform(["--role", "client"], tmp)
    check(rc == 2, "client role without --listen must exit 2")
    p = subprocess.run([A.conform, "--list", "--pick", "invalid.magic.*"], stdout=subprocess.PIPE,
                       timeout=60)
    lines = p.stdout.decode().splitlines()
    check(p.returncode == 0 and all(l.startswith("invalid.magic.") for l in lines[:-1])
          and len(lines) > 4, "--list --pick glob: %s" % lines)
    p = subprocess.run([A.conform, "--list", "--pick", "tag:half-close", "--skip", "halfclose.empty"],
                       stdout=subprocess.PIPE, timeout=60)
    ids = [l.split()[0] for l in p.stdout.decode().splitlines()[:-1]]
    check("halfclose.single" in ids and "halfclose.empty" not in ids, "tag pick/skip: %s" % ids)
    print("ok")


def t_reproducer(tmp):
    """A FAIL leaves the bytes sent and a command that replays that case alone."""
    srv = hostile_server("garbage", "unix:" + os.path.join(tmp, "g.sock"))
    try:
        rc, rep, _ = conform(["--target", srv.addr, "--pick", "echo.size.9", "--seed", "77",
                              "--timeout", MARGIN], tmp)
        check(rc == 1, "garbage must fail")
        c = rep["cases"][0]
        check(rep["seed"] == "0x000000000000004d", rep["seed"])
        binp = c["reproducer"]["bin"]
        with open(os.path.join(tmp, binp) if not os.path.isabs(binp) else binp, "rb") as f:
            sent = f.read()
        check(sent[:8] == b"VSOK\x00\x00\x00\x09" and len(sent) == 17, "bin file: %r" % sent[:16])
        cmd = shlex.split(c["reproducer"]["command"])
        check(cmd[0] == A.conform and "--pick" in cmd and "echo.size.9" in cmd, str(cmd))
        # the timeout in an unambiguous unit (a bare number means seconds)
        check("--timeout" in cmd and cmd[cmd.index("--timeout") + 1] == "3000ms", str(cmd))
        rc2, rep2, _ = conform(cmd[1:], tmp)
        check(rc2 == 1 and [x["id"] for x in rep2["cases"]] == ["echo.size.9"],
              "the replay line runs that case alone")
        check(rep2["cases"][0]["actual"] == c["actual"], "the replay reproduces the failure")
    finally:
        srv.stop()
    # reports in every format
    srv = peer_server("unix:" + os.path.join(tmp, "p.sock"))
    try:
        junit, html = os.path.join(tmp, "r.xml"), os.path.join(tmp, "r.html")
        earlier = os.path.join(tmp, "garbage.json")
        os.replace(os.path.join(tmp, "report.json"), earlier)
        rc, rep, text = conform(["--target", srv.addr, "--pick", "echo.*,invalid.magic.*",
                                 "--junit", junit, "--html", html, "--html-with", earlier], tmp)
        check(rc == 0, "peer subset: %d %s" % (rc, text[-2000:]))
        import xml.dom.minidom
        doc = xml.dom.minidom.parse(junit)
        check(len(doc.getElementsByTagName("testcase")) == rep["summary"]["total"], "junit cases")
        with open(html) as f:
            page = f.read()
        check(page.count('<p class="sum">') == 2, "html holds both runs")
        check("<script src" not in page and 'src="http' not in page and 'href="http' not in page,
              "html is self-contained")
        p = subprocess.run([A.conform, "--target", srv.addr, "--pick", "echo.size.1,echo.size.2",
                            "--tap"], stdout=subprocess.PIPE, timeout=60)
        tap = p.stdout.decode().splitlines()
        check(tap[0] == "TAP version 13" and tap[1] == "1..2" and tap[-1].startswith("ok 2 - "),
              "tap: %s" % tap)
    finally:
        srv.stop()
    print("ok")


# --- --jobs, the early end, the reports ---

def strip_timing(rep):
    """What must not depend on --jobs: every case field but timings, the
    informational note (how the echo was chunked) and bytes_sent (how far the
    runner got before the IUT's close after an error was seen): those vary
    with load even between two runs with --jobs 1."""
    keep = ("id", "title", "rule", "tags", "verdict", "failed", "failed_rule", "expected",
            "actual", "timeout", "first_diff", "hexdump", "bytes_received")
    return {"summary": rep["summary"],
            "cases": [{k: c.get(k) for k in keep} for c in rep["cases"]]}


def t_jobs_identical(tmp):
    # full suite, vectors included, against a correct IUT: --jobs 4 and
    # --jobs 1 give the same results in the same order (exec, server, and the
    # client role with a client spawned per case on a listener per job)
    srv = peer_server("unix:" + os.path.join(tmp, "peer.sock"))
    client = ["--role", "client", "--listen", "unix:" + os.path.join(tmp, "c.sock"),
              "--spawn", shlex.quote(A.peer) + " -qq connect {addr}"]
    try:
        for args in (["--target", "exec:" + shlex.quote(A.peer) + " -qq stdio"], ["--target", srv.addr], client):
            target = " ".join(args)
            got = {}
            for jobs in ("1", "4"):
                rc, rep, text = conform(args + ["--seed", "5", "--timeout", PEER_T, "--jobs", jobs], tmp)
                check(rc == 0, "--jobs %s against %s: exit %d\n%s" % (jobs, target, rc, text[-2000:]))
                check(rep["jobs"] == int(jobs), "the report says jobs %s" % rep["jobs"])
                check(rep["summary"]["total"] > 500, "vector cases missing: %s" % rep["summary"])
                got[jobs] = json.dumps(strip_timing(rep), sort_keys=True)
            if got["1"] != got["4"]:
                a, b = json.loads(got["1"])["cases"], json.loads(got["4"])["cases"]
                diff = [(x, y) for x, y in zip(a, b) if x != y][:3]
                fail("--jobs 4 differs from --jobs 1 against %s: %s" % (target, diff))
            print("ok: %s identical under --jobs 1 and 4" % target)
    finally:
        srv.stop()
    # a client that always connects to the same address: its connections
    # cannot be matched to cases, so they run one at a time
    fixed = "unix:" + os.path.join(tmp, "fixed.sock")
    rc, rep, text = conform(["--role", "client", "--listen", fixed, "--spawn",
                             shlex.quote(A.peer) + " -qq connect " + shlex.quote(fixed), "--jobs", "4",
                             "--pick", "echo.size.*", "--timeout", PEER_T], tmp)
    check(rc == 0 and rep["jobs"] == 1, "fixed-address client: exit %d, jobs %s\n%s" % (rc, rep["jobs"], text[-2000:]))
    rc, _, text = conform(["--target", "unix:/x", "--jobs", "0", "--vectors", "none"], tmp)
    check(rc == 2 and "--jobs" in text, "--jobs 0 must be refused: %d %s" % (rc, text))
    rc, _, text = conform(["--target", "unix:/x", "--jobs", "2x", "--vectors", "none"], tmp)
    check(rc == 2 and "--jobs" in text, "--jobs 2x must be refused: %d %s" % (rc, text))


def t_early_end(tmp):
    # a correct IUT that writes one byte per second misses every deadline:
    # the run ends after 5 misses in a row, at the default budget, instead
    # of timing out case after case; the rest is SKIP naming why.  Stdout is
    # a pipe here, so progress lines appear on stderr meanwhile.
    trickle = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trickle_iut.py")
    cmd = [A.conform, "--json", os.path.join(tmp, "r.json"), "--junit", os.path.join(tmp, "r.xml"),
           "--artifacts", "none", "--color", "never", "--jobs", "2",
           "--target", "exec:" + shlex.quote(sys.executable) + " " + shlex.quote(trickle)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=400, cwd=tmp)
    out, err = p.stdout.decode(), p.stderr.decode()
    with open(os.path.join(tmp, "r.json")) as f:
        rep = json.load(f)
    s = rep["summary"]
    check(p.returncode == 1, "exit %d, want 1\n%s" % (p.returncode, out[-2000:]))
    check(s["ended_early"] and "missed its deadline in 5 cases in a row" in s["ended_early"],
          "no early end: %s" % s)
    check(not s["conformant"], "an early end is not conformant: %s" % s)
    timely = [c for c in rep["cases"] if c["verdict"] == "FAIL" and c["failed_rule"] == "VSOK-TIMELY"]
    check(5 <= len(timely) <= 8, "5 misses end the run (plus those in flight): %d" % len(timely))
    check(s["PASS"] == 0 and s["FAIL"] == len(timely), "only deadline misses: %s" % s)
    notrun = [c for c in rep["cases"] if c["verdict"] == "SKIP"]
    check(len(notrun) == s["total"] - len(timely) - s["PASS"], "the rest is SKIP: %s" % s)
    check(all("ended early" in c["note"] for c in notrun if "server role" not in c["note"]),
          "the skips say why")
    check("the run ended early" in out and "NOT CONFORMANT" in out, out[-1500:])
    check(out.count("ended early") <= 3, "the early end is said once, not per case:\n" + out[-1500:])
    prog = [l for l in err.splitlines() if l.startswith("vsok-conform: progress ")]
    check(prog and all("cases done" in l for l in prog), "no progress lines on stderr: %r" % err)
    check("progress" not in out, "progress must stay off stdout")
    import xml.etree.ElementTree as ET
    props = {p.get("name"): p.get("value") for p in ET.parse(os.path.join(tmp, "r.xml")).iter("property")}
    check("ended early" in props.get("ended_early", ""), "junit: %s" % props)
    print("ok: %s" % s)


def fin_loss_run(mode, tmp):
    """echo.size.255 against fin_loss_iut.py MODE: the case's report."""
    rc, rep, text = conform_against_iut(tmp, "fin_loss_iut.py", mode + ".sock",
                                        ["--vectors", "none", "--pick", "echo.size.255", "--timeout", "5s"],
                                        modes=[mode])
    check(rc == 1 and rep, "exit %d, want 1 (a FAIL)\n%s" % (rc, text[-2000:]))
    c = [c for c in rep["cases"] if c["id"] == "echo.size.255"][0]
    check(c["verdict"] == "FAIL" and c["failed_rule"] == "VSOK-HALF-CLOSE",
          "%s: %s %s, want FAIL VSOK-HALF-CLOSE: %s" % (mode, c["verdict"], c["failed_rule"], c["actual"]))
    return c


def t_intermittent_fin_loss(tmp):
    # Echoes lost once, at a FIN, but not when the same bytes are replayed
    # with the FIN: the report must say the loss is intermittent (a race in
    # the IUT, e.g. a descriptor closed twice, as the Rust example of
    # vm/examples once did: issue 15), not leave its author hunting a FIN
    # bug.  A loss that the replay with the FIN repeats is a FIN bug: no
    # such note.
    once = fin_loss_run("once", tmp)
    check("intermittent" in once["actual"] and "closed twice" in once["actual"],
          "a loss the FIN replay does not repeat is not called intermittent: %s" % once["actual"])
    odd = fin_loss_run("odd", tmp)
    check("intermittent" not in odd["actual"],
          "a loss the FIN replay repeats is called intermittent: %s" % odd["actual"])
    print("ok: once: %s\nok: odd: %s" % (once["actual"], odd["actual"]))


def tests_dir():
    return os.path.dirname(os.path.abspath(__file__))

def conform_against_iut(tmp, script, sock, args, modes=(), with_pid=False, after=None):
    """Start tests/SCRIPT [MODES] listening on unix socket tmp/SOCK, run
    vsok-conform --target it (--iut-pid too with with_pid) with args, stop
    it: (rc, report, text), plus after(srv)'s result when after is given
    (it runs before the IUT is stopped)."""
    iut = os.path.join(tests_dir(), script)
    srv = Server(lambda w: [sys.executable, iut] + list(modes) +
                 ["--ready-fd", str(w), "listen", "unix:" + os.path.join(tmp, sock)])
    try:
        pid = ["--iut-pid", str(srv.p.pid)] if with_pid else []
        res = conform(["--target", srv.addr] + pid + list(args), tmp)
        return res + (after(srv),) if after else res
    finally:
        srv.stop()



def t_lookalike(tmp):
    # A server that answers a message with the previous one when both have
    # the same length and the same first 16 bytes (lookalike_iut.py).
    # Every case with unrelated random payloads passes it; the built-in
    # suite certified it until echo.payload.near-duplicates sent messages
    # that differ in one byte.  That case, and only that one, must fail it,
    # under the rule it breaks: each echo is its own payload, byte for byte.
    rc, rep, text = conform_against_iut(tmp, "lookalike_iut.py", "lookalike.sock",
                                        ["--vectors", "none", "--timeout", "10s"])
    check(rc == 1 and rep, "exit %d, want 1 (a FAIL)\n%s" % (rc, text[-2000:]))
    bad = [c for c in rep["cases"] if c["verdict"] in ("FAIL", "ERROR")]
    check([c["id"] for c in bad] == ["echo.payload.near-duplicates"],
          "want exactly echo.payload.near-duplicates to fail, got %s" % [(c["id"], c["actual"]) for c in bad])
    c = bad[0]
    check(c["failed_rule"] == "VSOK-FRAME" and "payload byte" in c["actual"],
          "%s %s" % (c["failed_rule"], c["actual"]))
    print("ok: %s: %s" % (c["id"], c["actual"]))


def fd_leak_run(mode, addr, tmp):
    iut = os.path.join(tests_dir(), "fd_leak_iut.py")
    srv = Server(lambda w: [sys.executable, iut, mode, "--ready-fd", str(w), "listen", addr])
    try:
        return conform(["--target", srv.addr, "--iut-pid", str(srv.p.pid), "--vectors", "none",
                        "--timeout", "10s"], tmp)
    finally:
        srv.stop()


def t_fd_release(tmp):
    # A server that answers every case right but leaks one descriptor per
    # connection (fd_leak_iut.py leak: a registry of duplicates, connections
    # ended by shutdown()) was certified: it dies only at its descriptor
    # limit, after more connections than a run makes.  robust.fd-release,
    # and only it, must fail it (VSOK-RELEASE), over unix and TCP, and so
    # must a thread leaked per connection; the same server releasing both
    # passes it.
    for addr in ("unix:" + os.path.join(tmp, "leak.sock"), "tcp:127.0.0.1:0"):
        rc, rep, text = fd_leak_run("leak", addr, tmp)
        check(rc == 1 and rep, "%s: exit %d, want 1 (a FAIL)\n%s" % (addr, rc, text[-2000:]))
        bad = [c for c in rep["cases"] if c["verdict"] in ("FAIL", "ERROR")]
        check([c["id"] for c in bad] == ["robust.fd-release"],
              "%s: want exactly robust.fd-release to fail, got %s" % (addr, [(c["id"], c["actual"]) for c in bad]))
        check(bad[0]["failed_rule"] == "VSOK-RELEASE" and "descriptors" in bad[0]["actual"],
              "%s %s" % (bad[0]["failed_rule"], bad[0]["actual"]))
        print("ok: %s leak: %s" % (addr, bad[0]["actual"]))
    # a thread per connection that never ends: the same rule
    rc, rep, text = fd_leak_run("thread", "unix:" + os.path.join(tmp, "thread.sock"), tmp)
    bad = [c for c in rep["cases"] if c["verdict"] in ("FAIL", "ERROR")]
    check(rc == 1 and [c["id"] for c in bad] == ["robust.fd-release"] and bad[0]["failed_rule"] == "VSOK-RELEASE"
          and "threads" in bad[0]["actual"],
          "thread leak: exit %d, %s" % (rc, [(c["id"], c["failed_rule"], c["actual"]) for c in bad]))
    print("ok: thread: %s" % bad[0]["actual"])
    rc, rep, text = fd_leak_run("release", "unix:" + os.path.join(tmp, "release.sock"), tmp)
    c = [c for c in rep["cases"] if c["id"] == "robust.fd-release"][0]
    check(rc == 0 and c["verdict"] == "PASS" and "descriptors" in c["note"],
          "a server that releases its descriptors: exit %d, %s %s" % (rc, c["verdict"], c["note"]))
    print("ok: release: %s" % c["note"])


def t_sigpipe(tmp):
    # A server that dies of SIGPIPE when it writes to a connection its peer
    # has left (sigpipe_iut.py) was certified: every reset case waited for
    # the owed echoes first, so no write of the IUT ever met a dead
    # connection.  robust.peer-gone-mid-echo resets while the IUT is still
    # writing; it must fail, naming VSOK-SURVIVE, and be the only FAIL (the
    # cases after it are SKIP: the IUT is down).
    rc, rep, text, died = conform_against_iut(tmp, "sigpipe_iut.py", "sigpipe.sock",
                                              ["--vectors", "none", "--timeout", "10s"],
                                              after=lambda srv: srv.p.wait(timeout=30))
    check(rc == 1 and rep, "exit %d, want 1 (a FAIL)\n%s" % (rc, text[-2000:]))
    check(died == -signal.SIGPIPE, "the IUT ended with %s, want SIGPIPE" % died)
    bad = [c for c in rep["cases"] if c["verdict"] in ("FAIL", "ERROR")]
    check([c["id"] for c in bad] == ["robust.peer-gone-mid-echo"],
          "want exactly robust.peer-gone-mid-echo to fail, got %s" % [(c["id"], c["actual"]) for c in bad])
    check(bad[0]["failed_rule"] == "VSOK-SURVIVE", "%s %s" % (bad[0]["failed_rule"], bad[0]["actual"]))
    print("ok: %s: %s" % (bad[0]["id"], bad[0]["actual"]))


def t_unflushed(tmp):
    # An IUT that drops its queued echoes on a protocol error
    # (unflushed_iut.py: a buffered writer not flushed on the error path)
    # closes with unread input, a reset.  The drain-first replay, meant for
    # TCP, passes it (sent alone, the prefix is echoed), and the lost prefix
    # echoes were graded NON-STRICT VSOK-LINGER, also on a unix socket and
    # in the exec role, where a reset never discards bytes already written.
    # There they are a FAIL of VSOK-PREFIX.
    iut = os.path.join(tests_dir(), "unflushed_iut.py")
    runs = [("server", conform_against_iut(tmp, "unflushed_iut.py", "unflushed.sock",
                                           ["--vectors", "none", "--pick", "invalid.*", "--timeout", "10s"]))]
    runs.append(("exec", conform(["--target", "exec:" + shlex.quote(sys.executable) + " " + shlex.quote(iut)
                                  + " stdio", "--vectors", "none", "--pick", "invalid.*", "--timeout", "10s"], tmp)))
    for role, (rc, rep, text) in runs:
        check(rc == 1 and rep, "%s: exit %d, want 1\n%s" % (role, rc, text[-2000:]))
        linger = [c["id"] for c in rep["cases"] if c["failed_rule"] == "VSOK-LINGER"]
        check(not linger, "%s: lost echoes graded VSOK-LINGER on a unix socket: %s" % (role, linger))
        c = [c for c in rep["cases"] if c["id"] == "invalid.magic.after-valid"][0]
        check(c["verdict"] == "FAIL" and c["failed_rule"] == "VSOK-PREFIX" and "unix socket" in (c["note"] or ""),
              "%s: %s %s %s" % (role, c["verdict"], c["failed_rule"], c["note"]))
        print("ok: %s: %s: %s" % (role, c["actual"], c["note"]))


def t_lost_echo_not_down(tmp):
    # A server whose protocol errors make it drop the next frame on some
    # other connection (lose_after_error_iut.py) loses the survival probe's
    # echo after each error.  One lost echo was taken for a wedged IUT: the
    # run declared it down and skipped every later case.  A second fresh
    # connection is served, so it is not down: each error case FAILs
    # VSOK-SURVIVE naming the lost echo, and the cases after it still run.
    rc, rep, text = conform_against_iut(tmp, "lose_after_error_iut.py", "lose.sock",
                                        ["--vectors", "none", "--jobs", "1", "--timeout", "2s",
                                         "--pick", "invalid.magic.byte-0,invalid.magic.byte-1,echo.size.1"])
    check(rc == 1 and rep, "exit %d, want 1\n%s" % (rc, text[-2000:]))
    by = {c["id"]: c for c in rep["cases"]}
    for cid in ("invalid.magic.byte-0", "invalid.magic.byte-1"):
        c = by[cid]
        check(c["verdict"] == "FAIL" and c["failed_rule"] == "VSOK-SURVIVE" and "not a wedged IUT" in c["actual"],
              "%s: %s %s %s %s" % (cid, c["verdict"], c["failed_rule"], c["actual"], c["note"]))
    check(by["echo.size.1"]["verdict"] == "PASS", "echo.size.1: %s" % by["echo.size.1"])
    print("ok: %s" % by["invalid.magic.byte-1"]["actual"])


def t_held_echo(tmp):
    # An exec IUT whose echoes stay in its stdout buffer until it exits
    # (held_echo_iut.py) makes robust.lazy-alloc wait for its warm-up echo
    # in vain.  That FAIL carried no expected and no actual at all; it must
    # say what was owed and that it timed out.
    iut = os.path.join(tests_dir(), "held_echo_iut.py")
    rc, rep, text = conform(["--target", "exec:" + shlex.quote(sys.executable) + " " + shlex.quote(iut),
                             "--vectors", "none", "--pick", "robust.lazy-alloc", "--timeout", "2s"], tmp)
    check(rc == 1 and rep, "exit %d, want 1\n%s" % (rc, text[-2000:]))
    c = rep["cases"][0]
    check(c["verdict"] == "FAIL" and c["failed_rule"] == "VSOK-TIMELY" and c["timeout"], str(c))
    check("echo" in (c["expected"] or "") and (c["actual"] or "").startswith("Timeout"),
          "a FAIL must say what was owed and what happened: %r / %r" % (c["expected"], c["actual"]))
    print("ok: %s / %s" % (c["expected"], c["actual"]))


# The Jenkins/Ant JUnit schema (junit-4.xsd): the attributes each element may
# carry, and the ones it must.
JUNIT_ALLOWED = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time", "disabled", "skipped",
                  "timestamp", "hostname", "id", "package", "file", "log", "url", "version"},
    "properties": set(),
    "property": {"name", "value"},
    "testcase": {"name", "assertions", "time", "classname", "status"},
    "failure": {"type", "message"},
    "error": {"type", "message"},
    "skipped": {"message"},
    "system-out": set(),
    "system-err": set(),
}
JUNIT_REQUIRED = {"testsuite": {"name", "tests"}, "testcase": {"name"}, "property": {"name", "value"},
                  "failure": {"type", "message"}, "error": {"type", "message"}}
JUNIT_CHILDREN = {"testsuites": {"testsuite"}, "testsuite": {"properties", "testcase", "system-out",
                  "system-err"}, "properties": {"property"}, "property": set(),
                  "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
                  "failure": set(), "error": set(), "skipped": set(), "system-out": set(),
                  "system-err": set()}


def check_junit(path, rep, strict):
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    check(root.tag == "testsuites", "root %s" % root.tag)
    for el in root.iter():
        check(el.tag in JUNIT_ALLOWED, "element %s is not in the schema" % el.tag)
        extra = set(el.attrib) - JUNIT_ALLOWED[el.tag]
        check(not extra, "<%s> has attributes outside the schema: %s" % (el.tag, extra))
        missing = JUNIT_REQUIRED.get(el.tag, set()) - set(el.attrib)
        check(not missing, "<%s> lacks %s" % (el.tag, missing))
        for k in el:
            check(k.tag in JUNIT_CHILDREN[el.tag], "<%s> inside <%s>" % (k.tag, el.tag))
    for el in root.iter():
        for a in ("tests", "failures", "errors", "skipped", "disabled"):
            if a in el.attrib:
                check(el.get(a).isdigit(), "%s=%r" % (a, el.get(a)))
    s = rep["summary"]
    want_fail = s["FAIL"] + (s["NON-STRICT"] if strict else 0)
    suite = root.find("testsuite")
    check(int(root.get("failures")) == want_fail and int(suite.get("failures")) == want_fail,
          "failures=%s, want %d" % (root.get("failures"), want_fail))
    cases = suite.findall("testcase")
    check(len(cases) == s["total"], "testcases")
    for el, c in zip(cases, rep["cases"]):
        check(el.get("name") == c["id"], "order")
        bad = el.findall("failure") + el.findall("error")
        check(bool(bad) == c["failed"], "%s: failed=%s but junit %s" % (c["id"], c["failed"], bad))
        for b in bad:
            check(b.get("type") and b.get("message"), "%s without type/message" % b.tag)
        if c["verdict"] == "SKIP":
            check(el.find("skipped") is not None, "skip")


def t_reports(tmp):
    hostile = shlex.quote(A.hostile)
    junit = os.path.join(tmp, "r.xml")
    # --strict: the NON-STRICT case is a failure in every format
    args = ["--target", "exec:" + hostile + " late stdio", "--timeout", "1500ms",
            "--pick", "invalid.magic.*,echo.size.1,robust.*", "--seed", "3"]
    for strict in (False, True):
        rc, rep, text = conform(args + ["--junit", junit] + (["--strict"] if strict else []), tmp)
        s = rep["summary"]
        check(rc == (1 if strict else 0), "exit %d" % rc)
        check(s["strict"] == strict and s["NON-STRICT"] == 1 and s["failed"] == (1 if strict else 0)
              and s["conformant"] == (not strict), "summary %s" % s)
        ns = [c for c in rep["cases"] if c["verdict"] == "NON-STRICT"][0]
        check(ns["failed"] == strict, "case failed=%s" % ns["failed"])
        check_junit(junit, rep, strict)
        import xml.etree.ElementTree as ET
        el = [e for e in ET.parse(junit).iter("testcase") if e.get("name") == ns["id"]][0]
        f = el.find("failure")
        check((f is not None) == strict, "junit failure element for NON-STRICT: %s" % f)
        if strict:
            check(f.get("type") == "VSOK-EARLY-REJECT" and "NON-STRICT" in f.get("message"),
                  "failure %s" % f.attrib)
        p = subprocess.run([A.conform, "--color", "never", "--artifacts", "none", "--tap"] + args +
                           (["--strict"] if strict else []), stdout=subprocess.PIPE, timeout=120,
                           cwd=tmp)
        line = [l for l in p.stdout.decode().splitlines() if ns["id"] in l][0]
        check(line.startswith("not ok" if strict else "ok"), "tap: %s" % line)
    # FAIL, SKIP and a label in UTF-8 (with one byte that is not)
    label = "café ✓".encode() + b" \xff"
    rc, rep, text = conform(["--target", "exec:" + hostile + " garbage stdio", "--junit", junit,
                             "--pick", "echo.size.1,invalid.magic.byte-0,robust.*", "--label", label], tmp)
    check(rc == 1, "garbage fails")
    check(rep["label"] == "café ✓ \ufffd", "the label reads back as %r" % rep["label"])
    check_junit(junit, rep, False)
    import xml.etree.ElementTree as ET
    check(ET.parse(junit).find("testsuite").get("name").endswith("café ✓ \ufffd"), "junit label")
    bad_run = os.path.join(tmp, "bad.json")
    os.replace(os.path.join(tmp, "report.json"), bad_run)
    # HTML: readable without JavaScript, failures first
    srv = peer_server("unix:" + os.path.join(tmp, "p.sock"))
    try:
        html = os.path.join(tmp, "r.html")
        rc, rep, text = conform(["--target", srv.addr, "--pick", "echo.size.*,invalid.magic.*,robust.*",
                                 "--html", html, "--html-with", bad_run], tmp)
        check(rc == 0, "peer: %d %s" % (rc, text[-1000:]))
        check_html(html, bad_run, rep)
        # --html-with refuses what is not a report, before running anything
        with open(bad_run, "rb") as f:
            good = f.read()
        cases = {
            "truncated": good[: len(good) // 2],
            "not json": b"hello",
            "trailing": good + b"{}",
            "other tool": good.replace(b'"tool":"vsok-conform"', b'"tool":"other"', 1),
            "format 2": good.replace(b'"format":1', b'"format":2', 1),
        }
        vec = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "vectors", "decoder-magic.json")
        paths = {"vector file": vec, "missing": os.path.join(tmp, "nope.json")}
        for name, data in cases.items():
            paths[name] = os.path.join(tmp, name.replace(" ", "_") + ".json")
            with open(paths[name], "wb") as f:
                f.write(data)
        for name, path in paths.items():
            p = subprocess.run([A.conform, "--target", srv.addr, "--html", html, "--html-with", path,
                                "--vectors", "none"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            err = p.stderr.decode().strip().splitlines()
            check(p.returncode == 2 and len(err) == 1 and path in err[0],
                  "--html-with %s: exit %d, %r" % (name, p.returncode, err))
            check(p.stdout == b"", "%s: refused before any case ran" % name)
            print("refused %s: %s" % (name, err[0]))
    finally:
        srv.stop()
    print("ok")


def check_html(path, earlier, current):
    """The page parsed as a browser without JavaScript sees it: summary, every
    failure's details in the markup, failing rows before passing ones."""
    from html.parser import HTMLParser
    with open(earlier) as f:
        bad = json.load(f)

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.text, self.sections, self.scripts, self.stack = [], [], [], [], []
            self.in_script = False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "tr" and "data-v" in a:
                self.rows.append(a["data-v"].split())
            if tag == "section":
                self.sections.append((a.get("id"), len(self.text)))
            if tag == "script":
                check("src" not in a, "no external script")
                self.in_script = True

        def handle_endtag(self, tag):
            if tag == "script":
                self.in_script = False

        def handle_data(self, d):
            if self.in_script:
                self.scripts.append(d)
            else:
                self.text.append(d)

    p = P()
    with open(path, encoding="utf-8") as f:
        page = f.read()
    p.feed(page)
    check("http://" not in page and "https://" not in page, "self-contained")
    order = [s for s, _ in p.sections]
    check(order == ["summary", "failures", "cases"], "sections %s" % order)
    text = "".join(p.text)
    failures_text = "".join(p.text[p.sections[1][1]:p.sections[2][1]])
    fails = [c for c in bad["cases"] if c["verdict"] in ("FAIL", "ERROR", "NON-STRICT")]
    check(fails, "the earlier run has failures")
    for c in fails:
        check(c["id"] in failures_text and c["actual"] in failures_text and
              c["expected"] in failures_text, "details of %s are not in the markup" % c["id"])
        if c["hexdump"]:
            check(c["hexdump"] in failures_text, "hex dump of %s" % c["id"])
    check("NOT CONFORMANT" in text and "CONFORMANT" in text, "summary")
    ranks = [0 if any(v in ("FAIL", "ERROR") for v in r) else 1 if "NON-STRICT" in r else 2
             for r in p.rows]
    check(ranks == sorted(ranks) and ranks and ranks[0] == 0, "failing rows first: %s" % ranks[:20])
    ids = {c["id"] for c in bad["cases"]} | {c["id"] for c in current["cases"]}
    check(len(p.rows) == len(ids), "every case has a row: %d, want %d" % (len(p.rows), len(ids)))
    check(all(len(r) == 2 for r in p.rows), "two runs per row")
    js = "".join(p.scripts)
    check("vsok-conform" not in js and "cases" not in js, "the script holds no data, it only filters")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--conform", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--hostile", required=True)
    ap.add_argument("test")
    A = ap.parse_args()
    fn = globals().get("t_" + A.test.replace("-", "_"))
    if not fn:
        fail("no test " + A.test)
    with tempfile.TemporaryDirectory(prefix="vsok-conform-test.") as tmp:
        fn(tmp)


if __name__ == "__main__":
    main()
