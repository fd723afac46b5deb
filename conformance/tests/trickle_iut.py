#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A correct but trickling VSOK echo IUT for the exec role: it frames exactly
like conformance/examples/iut.py, but writes its echoes one byte per
--interval seconds (default 1).  Used by the early-end ctest and the runner
benchmark (bench/conform_bench.py): a runner must not spend its whole time
budget on such an IUT.

  vsok-conform --target 'exec:python3 trickle_iut.py [--interval S]'

It exits after --lifetime seconds (default 600) whatever happens, so a
forgotten process cannot linger.
"""
import argparse
import os
import select
import sys
import time

MAX = 1 << 20


def frame_len(buf):
    if not b"VSOK".startswith(buf[:4]):
        return -1
    if len(buf) < 8:
        return 0
    n = int.from_bytes(buf[4:8], "big")
    if not 1 <= n <= MAX:
        return -1
    return 8 + n if len(buf) >= 8 + n else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--lifetime", type=float, default=600.0)
    a = ap.parse_args()
    end = time.monotonic() + a.lifetime
    inp, owed = b"", bytearray()
    reading, next_write = True, time.monotonic() + a.interval
    while time.monotonic() < end:
        if not reading and not owed:
            return 0
        timeout = max(0.0, min(next_write - time.monotonic(), end - time.monotonic()))
        r, _, _ = select.select([0] if reading else [], [], [], timeout)
        if r:
            chunk = os.read(0, 65536)
            if not chunk:
                reading = False
            inp += chunk
            while True:
                n = frame_len(inp)
                if n < 0:  # protocol error: deliver the owed prefix, then exit
                    reading, inp = False, b""
                    break
                if n == 0:
                    break
                owed += inp[:n]
                inp = inp[n:]
        if owed and time.monotonic() >= next_write:
            os.write(1, owed[:1])
            del owed[:1]
            next_write = time.monotonic() + a.interval
        elif not owed:
            next_write = time.monotonic() + a.interval
    return 0


if __name__ == "__main__":
    sys.exit(main())
