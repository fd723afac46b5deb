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
import threading

MAX = 1048576


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return bytes(buf), False
        buf += chunk
    return bytes(buf), True


def serve(s):
    try:
        while True:
            head, ok = read_exact(s, 8)
            if not ok:
                return  # end of stream (clean or truncated): close
            n = int.from_bytes(head[4:], "big")
            if head[:4] != b"VSOK" or n == 0 or n > MAX:
                return  # protocol error: plain close
            body, ok = read_exact(s, n)
            if not ok:
                return
            s.sendall(head + body)
    except OSError:
        pass
    finally:
        s.close()


def main(argv):
    if len(argv) != 5 or argv[1] != "--ready-fd" or argv[3] != "listen" or \
            not argv[4].startswith("tcp:"):
        sys.exit("usage: plain_close_iut.py --ready-fd N listen tcp:HOST:PORT")
    host, port = argv[4][4:].rsplit(":", 1)
    ls = socket.socket()
    ls.bind((host, int(port)))
    ls.listen(64)
    with open(int(argv[2]), "w") as ready:
        ready.write("tcp:%s:%d\n" % ls.getsockname())
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv)
