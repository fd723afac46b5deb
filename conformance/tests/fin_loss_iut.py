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

from echo_iut import echo, serve_forever

IDLE_S = 30  # every read is bounded

lock = threading.Lock()
seen = 0  # connections with a 255-byte message so far


def loses(mode):
    global seen
    with lock:
        seen += 1
        return seen == 1 if mode == "once" else seen % 2 == 1


def serve(s, mode):
    s.settimeout(IDLE_S)
    counted = False

    def on_frame(head, body):
        nonlocal counted
        if len(body) == 255 and not counted:
            counted = True
            if loses(mode):
                while s.recv(65536):  # to the FIN (bounded by IDLE_S per read)
                    pass
                return False  # close without the echo
        return True

    echo(s, on_frame)


if __name__ == "__main__":
    usage = "usage: fin_loss_iut.py once|odd --ready-fd N listen unix:PATH"
    if len(sys.argv) < 2 or sys.argv[1] not in ("once", "odd"):
        sys.exit(usage)
    mode = sys.argv[1]
    serve_forever(sys.argv[2:], usage, socket.AF_UNIX, lambda s: serve(s, mode))
