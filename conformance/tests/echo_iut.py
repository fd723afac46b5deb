#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The scaffolding of the Python test IUTs (leaky_iut.py, fin_loss_iut.py,
lookalike_iut.py, lose_after_error_iut.py, ...): an echo loop that reads
the 8-byte header and then the payload, as the original design does, and a
listener that announces its address on a ready fd.  Each IUT supplies only what it does wrong."""
import os
import socket
import sys
import threading

MAX = 1048576


def read_exact(s, n):
    """(bytes, True) once n bytes are in; (what came, False) at the end."""
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 65536))
        if not chunk:
            return bytes(buf), False
        buf += chunk
    return bytes(buf), True


def echo(s, on_frame=None, on_error=None):
    """Echoes frames on s until the end or a protocol error (then calls
    on_error() and returns: the caller's close is a plain close).
    on_frame(head, body) decides what each frame gets: True or None, its
    echo; False, no echo and the end; bytes, those bytes instead of the
    echo (b"": nothing, and reading goes on)."""
    while True:
        head, ok = read_exact(s, 8)
        if not ok:
            return  # end of stream (clean or truncated)
        n = int.from_bytes(head[4:], "big")
        if head[:4] != b"VSOK" or n == 0 or n > MAX:
            if on_error is not None:
                on_error()
            return  # protocol error
        body, ok = read_exact(s, n)
        if not ok:
            return
        out = head + body if on_frame is None else on_frame(head, body)
        if out is False:
            return
        s.sendall(head + body if out is True or out is None else out)


def serve_forever(argv, usage, family, handle, threaded=True):
    """argv: --ready-fd N listen ADDR (unix:PATH or tcp:HOST:PORT, as family
    says).  Binds, writes the bound address and a newline to fd N, then
    calls handle(conn) for every connection (a thread each, or one at a
    time), closing conn after it whatever happens."""
    scheme = "unix:" if family == socket.AF_UNIX else "tcp:"
    if len(argv) != 4 or argv[0] != "--ready-fd" or argv[2] != "listen" or not argv[3].startswith(scheme):
        sys.exit(usage)
    ls = socket.socket(family)
    if family == socket.AF_UNIX:
        ls.bind(argv[3][5:])
        addr = argv[3]
    else:
        host, port = argv[3][4:].rsplit(":", 1)
        ls.bind((host, int(port)))
        addr = "tcp:%s:%d" % ls.getsockname()[:2]
    ls.listen(64)
    with os.fdopen(int(argv[1]), "w") as ready:
        ready.write(addr + "\n")

    def run(s):
        try:
            handle(s)
        except OSError:
            pass
        finally:
            s.close()

    while True:
        s, _ = ls.accept()
        if threaded:
            threading.Thread(target=run, args=(s,), daemon=True).start()
        else:
            run(s)
