#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server over a unix socket with a "dedupe" cache: when a
payload has the previous payload's length and the same first 16 bytes, it
answers with the previous echo instead of this one (a cache keyed on the
length and a prefix, as an author saving a copy might write it).  Every
echo of unrelated random payloads is right; only a message that looks like
the one before it, and differs later on, gets a wrong echo.

  lookalike_iut.py --ready-fd N listen unix:PATH
"""
import socket
import sys

from echo_iut import MAX, read_exact, serve_forever


def serve(s):
    s.settimeout(30)  # every read is bounded
    last = None
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
        if last is not None and len(last) == n and last[:16] == body[:16]:
            body = last  # the bug: "the same message again"
        last = body
        s.sendall(head + body)


if __name__ == "__main__":
    serve_forever(sys.argv[1:], "usage: lookalike_iut.py --ready-fd N listen unix:PATH",
                  socket.AF_UNIX, serve)
