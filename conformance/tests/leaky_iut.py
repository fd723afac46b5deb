#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server with correct framing that keeps 512 KiB of memory for
every connection it served and never gives it back: vsok-conform --fuzz must
report its memory growth (VmRSS, the server's pid from SO_PEERCRED).

  leaky_iut.py --ready-fd N listen unix:PATH
"""
import socket
import sys

from echo_iut import MAX, echo, serve_forever

kept = []


def serve(s):
    # the leak: 512 KiB written (so resident) per connection, kept forever
    kept.append(b"\x01" * (MAX // 2))
    s.settimeout(30)
    echo(s)


if __name__ == "__main__":
    # one at a time: the runner's second connections wait in the backlog
    serve_forever(sys.argv[1:], "usage: leaky_iut.py --ready-fd N listen unix:PATH", socket.AF_UNIX, serve,
                  threaded=False)
