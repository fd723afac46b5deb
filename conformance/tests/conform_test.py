#!/usr/bin/env python3
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
    check(s["SKIP"] <= 2, "too many skips: %s" % s)
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
        rc, rep, _ = conform(["--target", srv.addr, "--pick", "echo.*,invalid.magic.*",
                              "--junit", junit, "--html", html,
                              "--html-with", os.path.join(tmp, "report.json")], tmp)
        check(rc == 0, "peer subset")
        import xml.dom.minidom
        doc = xml.dom.minidom.parse(junit)
        check(len(doc.getElementsByTagName("testcase")) == rep["summary"]["total"], "junit cases")
        with open(html) as f:
            page = f.read()
        check(page.count("\"tool\":\"vsok-conform\"") == 2, "html holds both runs")
        check("<script src" not in page and "http" not in page.split("<script>")[0],
              "html is self-contained")
        p = subprocess.run([A.conform, "--target", srv.addr, "--pick", "echo.size.1,echo.size.2",
                            "--tap"], stdout=subprocess.PIPE, timeout=60)
        tap = p.stdout.decode().splitlines()
        check(tap[0] == "TAP version 13" and tap[1] == "1..2" and tap[-1].startswith("ok 2 - "),
              "tap: %s" % tap)
    finally:
        srv.stop()
    print("ok")


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
