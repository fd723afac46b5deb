#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server with correct framing that keeps 512 KiB of memory for
every connection it served and never gives it back: vsok-conform --fuzz must
report its memory growth (VmRSS, the server's pid from SO_PEERCRED).

  leaky_iut.py --ready-fd N listen unix:PATH
"""
import os
import socket
import sys

MAX = 1048576
kept = []


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 65536))
        if not chunk:
            return bytes(buf), False
        buf += chunk
    return bytes(buf), True


def serve(s):
    # the leak: 512 KiB written (so resident) per connection, kept forever
    kept.append(b"\x01" * (MAX // 2))
    try:
        while True:
            head, ok = read_exact(s, 8)
            if not ok:
                return
            n = int.from_bytes(head[4:], "big")
            if head[:4] != b"VSOK" or n == 0 or n > MAX:
                return
            body, ok = read_exact(s, n)
            if not ok:
                return
            s.sendall(head + body)
    except OSError:
        pass
    finally:
        s.close()


def main(argv):
    if len(argv) != 5 or argv[1] != "--ready-fd" or argv[3] != "listen" or \
            not argv[4].startswith("unix:"):
        sys.exit("usage: leaky_iut.py --ready-fd N listen unix:PATH")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(argv[4][5:])
    ls.listen(64)
    with os.fdopen(int(argv[2]), "w") as ready:
        ready.write(argv[4] + "\n")
    while True:
        s, _ = ls.accept()
        s.settimeout(30)
        serve(s)  # one at a time: the runner's second connections wait in the backlog


if __name__ == "__main__":
    main(sys.argv)
