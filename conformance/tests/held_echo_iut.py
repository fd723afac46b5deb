#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo IUT for the exec role whose framing is right but whose
stdout is block-buffered and flushed only at exit (a forgotten flush()):
every echo arrives, but only once the input has ended.  A peer that waits
for an echo before it sends more, or before it ends its side, never gets it.

  vsok-conform --target 'exec:python3 held_echo_iut.py'
"""
import io
import os
import sys

MAX = 1 << 20

out = io.BufferedWriter(io.FileIO(1, "w", closefd=False), buffer_size=64 << 20)
buf = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    buf += chunk
    bad = False
    while True:
        if buf and not b"VSOK".startswith(buf[:4]):
            bad = True
            break
        if len(buf) < 8:
            break
        n = int.from_bytes(buf[4:8], "big")
        if not 1 <= n <= MAX:
            bad = True
            break
        if len(buf) < 8 + n:
            break
        out.write(buf[:8 + n])  # the bug: no flush() after it
        buf = buf[8 + n:]
    if bad:
        break
out.flush()
sys.exit(0 if not buf else 1)
