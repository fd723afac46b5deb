#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server over a unix socket with state shared between
connections: a protocol error sets a global "discard the next frame" flag
(meant to resynchronise that connection), and whichever connection reads a
frame next drops it without an echo and serves on.  So after every error,
one message on some other connection is lost; the server is never down.

  lose_after_error_iut.py --ready-fd N listen unix:PATH
"""
import socket
import sys
import threading

from echo_iut import MAX, read_exact, serve_forever

lock = threading.Lock()
discard_next = False


def serve(s):
    global discard_next
    s.settimeout(30)  # every read is bounded
    while True:
        head, ok = read_exact(s, 8)
        if not ok:
            return
        n = int.from_bytes(head[4:], "big")
        if head[:4] != b"VSOK" or n == 0 or n > MAX:
            with lock:
                discard_next = True  # the bug: global, not this connection's
            return
        body, ok = read_exact(s, n)
        if not ok:
            return
        with lock:
            drop, discard_next = discard_next, False
        if not drop:
            s.sendall(head + body)


if __name__ == "__main__":
    serve_forever(sys.argv[1:], "usage: lose_after_error_iut.py --ready-fd N listen unix:PATH",
                  socket.AF_UNIX, serve)
