#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every numeric and choice option of vsok-peer and vsok-conform, spelled
wrong: each must exit 2 with exactly one line on stderr naming the option and
the value, before doing anything.  The good spellings still work, and the
bare-number convention (seconds) holds in both tools.

usage: malformed_options.py --peer BIN --conform BIN
"""
import argparse
import re
import subprocess
import sys

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL: " + msg)


def run(argv, stdin=subprocess.DEVNULL):
    # a hang guard, not a speed assertion
    p = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# (option, value): each must be refused
PEER_BAD = [
    ("--msg-timeout", "nan"), ("--msg-timeout", "inf"), ("--msg-timeout", "169h"),
    ("--msg-timeout", "-1"), ("--idle-timeout", "NaN"), ("--idle-timeout", "1e3"),
    ("--write-timeout", "-1s"), ("--write-timeout", "0x10"), ("--linger", " 2s"),
    ("--linger", "2s "), ("--drain-timeout", "5d"), ("--drain-timeout", ""),
    ("--connect-timeout", "0.5ms"), ("--connect-timeout", "99999999999999999999"),
    ("--count", " -1"), ("--count", "-1"), ("--count", "+1"), ("--count", "18446744073709551616"),
    ("--count", "1.5"), ("-n", "abc"),
    ("--size", "0"), ("--size", "2M"), ("--size", "1kb"), ("-s", "-64"),
    ("--conns", "0"), ("--conns", "1048577"), ("-c", " 1"),
    ("--max-conns", "0"), ("--max-conns", "-5"), ("--max-conns", "4294967297"),
    ("--max-payload", "0"), ("--max-payload", "1025k"),
    ("--high-water", "x"), ("--high-water", "4294967297"),
    ("--backlog", "-1"), ("--backlog", "1.5"),
    ("--ready-fd", "abc"), ("--ready-fd", "-1"), ("--ready-fd", "999"),
    ("--mode", "foo"), ("-m", ""), ("--format", "xml"), ("-f", "HEX"), ("--log-format", "yaml"),
    ("--pattern", ""),
    ("--busy-poll", "nan"), ("--busy-poll", "-1"), ("--busy-poll", "2s"), ("--busy-poll", "1000001us"),
    ("--busy-poll", ""), ("--busy-poll", "50usx"), ("--busy-poll", "50 us"), ("--busy-poll", "0.5us"),
]

PEER_GOOD = [
    ("--msg-timeout", "3s"), ("--msg-timeout", "3"), ("--msg-timeout", "0"), ("--msg-timeout", "1.5s"),
    ("--idle-timeout", "500ms"), ("--write-timeout", "2m"), ("--linger", "1h"), ("--drain-timeout", "168h"),
    ("--connect-timeout", "5s"), ("--count", "0"), ("--count", "18446744073709551615"), ("-n", "10"),
    ("--size", "1"), ("--size", "64K"), ("--size", "1MiB"), ("--conns", "1"), ("--max-conns", "3"),
    ("--max-payload", "1048576"), ("--high-water", "0"), ("--high-water", "4M"), ("--backlog", "0"),
    ("--mode", "sink"), ("--format", "json"), ("--log-format", "json"), ("--pattern", "hi"),
    ("--busy-poll", "50us"), ("--busy-poll", "0"), ("--busy-poll", "1ms"), ("--busy-poll", "1s"),
]

CONFORM_BAD = [
    ("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "0"), ("--timeout", "-1"),
    ("--timeout", "2h"), ("--timeout", "1e3"), ("--timeout", " 3"), ("--timeout", "3 s"),
    ("--timeout", "3600001"), ("--timeout", ""),
    ("--budget", "4294967297"), ("--budget", "0"), ("--budget", "1.5"), ("--budget", "nan"),
    ("--budget", "-600"),
    ("--iut-pid", "abc"), ("--iut-pid", "0"), ("--iut-pid", "-1"), ("--iut-pid", "12x"),
    ("--color", "rainbow"), ("--colour", ""), ("--role", "x"),
    ("--seed", "-1"), ("--seed", " 1"), ("--seed", "0x"), ("--seed", "18446744073709551616"),
    ("--seed", "1.0"),
]

CONFORM_GOOD = [
    ("--timeout", "3"), ("--timeout", "3s"), ("--timeout", "500ms"), ("--timeout", "1.5s"),
    ("--timeout", "99"), ("--budget", "600"), ("--budget", "10m"), ("--seed", "42"),
    ("--seed", "0x000000000000002a"), ("--iut-pid", "1"), ("--color", "never"), ("--colour", "always"),
]


def shown(v):
    return "'" + v + "'"


def bad_table(tool, argv_for):
    for opt, val in tool:
        rc, _, err = run(argv_for(opt, val))
        what = "%s %r" % (opt, val)
        lines = err.splitlines()
        check(rc == 2, "%s: exit %d, want 2 (stderr %r)" % (what, rc, err))
        check(len(lines) == 1, "%s: %d stderr lines, want one: %r" % (what, len(lines), err))
        long_name = {"-n": "--count", "-s": "--size", "-c": "--conns", "-m": "--mode",
                     "-f": "--format", "--colour": "--color"}.get(opt, opt)
        check(bool(lines) and long_name in lines[0] and shown(val) in lines[0],
              "%s: the line does not name the option and the value: %r" % (what, err))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--conform", required=True)
    a = ap.parse_args()

    # vsok-peer: `stdio` with empty input exits 0 at once when the options
    # are accepted, so a value that slips through shows as exit 0
    peer = lambda opt, val: [a.peer, opt, val, "stdio"]
    bad_table(PEER_BAD, peer)
    for opt, val in PEER_GOOD:
        rc, _, err = run(peer(opt, val))
        check(rc == 0, "vsok-peer %s %r refused: exit %d %r" % (opt, val, rc, err))

    # vsok-conform: --list exits 0 at once when the options are accepted
    conform = lambda opt, val: [a.conform, "--vectors", "none", "--list", opt, val]
    bad_table(CONFORM_BAD, conform)
    for opt, val in CONFORM_GOOD:
        rc, out, err = run(conform(opt, val))
        check(rc == 0 and err == "", "vsok-conform %s %r: exit %d %r" % (opt, val, rc, err))

    # the old milliseconds spelling keeps working, with a warning naming the
    # exact spellings
    rc, _, err = run(conform("--timeout", "3000"))
    check(rc == 0, "--timeout 3000: exit %d %r" % (rc, err))
    check(len(err.splitlines()) == 1 and "3000ms" in err and "3s" in err and "milliseconds" in err,
          "--timeout 3000: want one warning naming 3000ms and 3s, got %r" % err)

    # what the bare numbers mean, seen in the header of a real run (one case,
    # the reference peer as an exec IUT)
    for val, ms in (("3", 3000), ("2.5", 2500), ("3000", 3000), ("250ms", 250), ("99", 99000)):
        rc, out, err = run([a.conform, "--vectors", "none", "--pick", "echo.size.1", "--artifacts", "none",
                            "--color", "never", "--timeout", val, "--target", "exec:%s -qq stdio" % a.peer])
        m = re.search(r"timeout (\d+) ms", out)
        check(rc == 0 and m and int(m.group(1)) == ms,
              "--timeout %s: want a %d ms run, got exit %d, %r %r" % (val, ms, rc, out[:300], err))

    # usage errors: an unknown option, a missing value, nothing to test; one
    # line (not the whole --help) and exit 2, in both tools
    for argv, word in (([a.peer, "--bogus", "stdio"], "--bogus"), ([a.peer, "stdio", "--count"], "--count"),
                       ([a.conform, "--bogus"], "--bogus"), ([a.conform, "--vectors", "none", "--timeout"], "--timeout"),
                       ([a.conform, "--vectors", "none"], "--target"),
                       ([a.conform, "--vectors", "none", "--role", "client"], "--listen")):
        rc, _, err = run(argv)
        check(rc == 2 and len(err.splitlines()) == 1 and word in err,
              "%s: want exit 2 and one line naming %s, got exit %d and %d lines: %r"
              % (" ".join(argv[1:]), word, rc, len(err.splitlines()), err[:300]))

    print("ok" if not FAILS else "%d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
