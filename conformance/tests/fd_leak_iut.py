#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server whose framing is right but which never releases a
connection.  leak: it keeps a duplicate of each connection's socket in a
registry ("for the admin endpoint") that nothing prunes, and ends a
connection with shutdown(SHUT_RDWR), which the peer sees as an ordinary
close: one descriptor leaks per connection, and at a limit of 1024 it stops
accepting.  thread: descriptors are released, but each connection starts a
keepalive thread that waits for a cancel nobody sends: one thread leaks per
connection.  release: neither (a correct server).

  fd_leak_iut.py leak|thread|release --ready-fd N listen unix:PATH|tcp:HOST:PORT
"""
import socket
import sys
import threading

from echo_iut import echo, serve_forever

registry = []
lock = threading.Lock()


def serve(s, mode):
    s.settimeout(30)  # every read is bounded
    if mode == "thread":
        # the bug: nothing sets the event; bounded only so a test cannot leave it behind
        threading.Thread(target=threading.Event().wait, args=(300,), daemon=True).start()
    keep = s.dup()
    with lock:
        registry.append(keep)
    try:
        echo(s)
    finally:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if mode != "leak":
            with lock:
                registry.remove(keep)
            keep.close()


if __name__ == "__main__":
    usage = "usage: fd_leak_iut.py leak|thread|release --ready-fd N listen unix:PATH|tcp:HOST:PORT"
    if len(sys.argv) < 6 or sys.argv[1] not in ("leak", "thread", "release"):
        sys.exit(usage)
    mode = sys.argv[1]
    family = socket.AF_UNIX if sys.argv[5].startswith("unix:") else socket.AF_INET
    serve_forever(sys.argv[2:], usage, family, lambda s: serve(s, mode))
