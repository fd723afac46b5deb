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

from echo_iut import echo, serve_forever

lock = threading.Lock()
discard_next = False


def on_error():
    global discard_next
    with lock:
        discard_next = True  # the bug: global, not this connection's


def on_frame(head, body):
    global discard_next
    with lock:
        drop, discard_next = discard_next, False
    return b"" if drop else True


def serve(s):
    s.settimeout(30)  # every read is bounded
    echo(s, on_frame, on_error)


if __name__ == "__main__":
    serve_forever(sys.argv[1:], "usage: lose_after_error_iut.py --ready-fd N listen unix:PATH",
                  socket.AF_UNIX, serve)
