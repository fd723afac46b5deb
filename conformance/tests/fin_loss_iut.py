#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A VSOK echo server over a unix socket that loses the echo of some
255-byte messages: on such a connection it reads on to the peer's FIN and
closes without echoing.  Which connections, counted among those carrying a
255-byte message:

  once   the first only: an intermittent loss, as when another thread closes
         the connection's descriptor (a double close) - not a FIN bug
  odd    the 1st, 3rd, 5th...: the runner's case and its replay with the FIN
         lose it, its replay without the FIN (the 2nd) does not - a FIN bug

  fin_loss_iut.py once|odd --ready-fd N listen unix:PATH
"""
import socket
import sys
import threading

MAX = 1048576
IDLE_S = 30  # every read is bounded

lock = threading.Lock()
seen = 0  # connections with a 255-byte message so far


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return bytes(buf), False
        buf += chunk
    return bytes(buf), True


def loses(mode):
    global seen
    with lock:
        seen += 1
        return seen == 1 if mode == "once" else seen % 2 == 1


def serve(s, mode):
    s.settimeout(IDLE_S)
    try:
        counted = False
        while True:
            head, ok = read_exact(s, 8)
            if not ok:
                return
            n = int.from_bytes(head[4:], "big")
            if head[:4] != b"VSOK" or n == 0 or n > MAX:
                return
            body, ok = read_exact(s, n)
            if not ok:
                return
            if n == 255 and not counted:
                counted = True
                if loses(mode):
                    while s.recv(65536):  # to the FIN (bounded by IDLE_S per read)
                        pass
                    return  # close without the echo
            s.sendall(head + body)
    except OSError:
        pass
    finally:
        s.close()


def main(argv):
    if len(argv) != 6 or argv[1] not in ("once", "odd") or argv[2] != "--ready-fd" or \
            argv[4] != "listen" or not argv[5].startswith("unix:"):
        sys.exit("usage: fin_loss_iut.py once|odd --ready-fd N listen unix:PATH")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(argv[5][5:])
    ls.listen(64)
    with open(int(argv[3]), "w") as ready:
        ready.write(argv[5] + "\n")
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(s, argv[1]), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv)
