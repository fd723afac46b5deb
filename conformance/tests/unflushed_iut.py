#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo IUT with a buffered writer, as Go's bufio.Writer is often
used: echoes are queued and flushed when no input is pending; on a protocol
error it returns at once, and the close skips the flush, so the echoes owed
for frames just before the error are lost.  Its close has unread input, so
the runner sees a reset (ECONNRESET on a unix socket), and when the prefix
is sent alone it is echoed: a drain-first replay passes.

  unflushed_iut.py --ready-fd N listen unix:PATH     (server role)
  unflushed_iut.py stdio                             (exec role)
"""
import select
import socket
import sys

from echo_iut import MAX, read_exact, serve_forever


def serve(s):
    s.settimeout(30)  # every read is bounded
    out = []
    while True:
        if out and not select.select([s], [], [], 0)[0]:
            s.sendall(b"".join(out))
            out.clear()
        head, ok = read_exact(s, 8)
        n = int.from_bytes(head[4:8], "big")
        if not ok or head[:4] != b"VSOK" or n == 0 or n > MAX:
            if not ok and out:
                s.sendall(b"".join(out))
            return  # the bug: a protocol error returns before the flush
        body, ok = read_exact(s, n)
        if not ok:
            s.sendall(b"".join(out))
            return
        out.append(head + body)


if __name__ == "__main__":
    if sys.argv[1:] == ["stdio"]:
        try:
            serve(socket.socket(fileno=0))
        except OSError:
            pass
        sys.exit(0)
    serve_forever(sys.argv[1:], "usage: unflushed_iut.py --ready-fd N listen unix:PATH | stdio",
                  socket.AF_UNIX, serve)
