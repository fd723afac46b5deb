#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server over a unix socket with right framing that, like a C
server written with plain send() (no MSG_NOSIGNAL, SIGPIPE not ignored),
dies of SIGPIPE when it writes to a connection its peer has gone from.  On
vsock and unix sockets the first write after the peer's close does that.

  sigpipe_iut.py --ready-fd N listen unix:PATH
"""
import signal
import socket
import sys

from echo_iut import echo, serve_forever


def serve(s):
    s.settimeout(30)  # every read is bounded
    echo(s)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # the bug: C's default
    serve_forever(sys.argv[1:], "usage: sigpipe_iut.py --ready-fd N listen unix:PATH", socket.AF_UNIX, serve)
