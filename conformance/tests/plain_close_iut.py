#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A correct VSOK echo server that follows the original design step by step:
read the 8-byte header, read the payload, echo; on a protocol error a plain
close() - with unread input that is an RST on TCP, which can make the peer's
kernel drop echoes still in flight.  The framing is right: vsok-conform
--fuzz must not report it (its drain-first replay tells the two apart).

  plain_close_iut.py --ready-fd N listen tcp:HOST:PORT
"""
import socket
import sys

from echo_iut import echo, serve_forever

if __name__ == "__main__":
    serve_forever(sys.argv[1:], "usage: plain_close_iut.py --ready-fd N listen tcp:HOST:PORT",
                  socket.AF_INET, echo)
