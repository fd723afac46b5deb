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

from echo_iut import echo, serve_forever


def serve(s):
    s.settimeout(30)  # every read is bounded
    last = None

    def on_frame(head, body):
        nonlocal last
        if last is not None and len(last) == len(body) and last[:16] == body[:16]:
            body = last  # the bug: "the same message again"
        last = body
        return head + body

    echo(s, on_frame)


if __name__ == "__main__":
    serve_forever(sys.argv[1:], "usage: lookalike_iut.py --ready-fd N listen unix:PATH",
                  socket.AF_UNIX, serve)
