#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A complete VSOK echo peer in plain Python (stdlib only), certified by vsok-conform.

exec role:   vsok-conform --target 'exec:python3 iut.py'
server role: python3 iut.py tcp:127.0.0.1:7000 &   vsok-conform --target tcp:127.0.0.1:7000
             (also unix:PATH; port 0 picks a free port; the bound address is printed on stdout)
"""
import os, socket, socketserver, sys

MAX = 1 << 20  # payload length 1..1 MiB inclusive


def frame_len(buf):
    """Size of the frame at the start of buf: 0 = need more bytes, -1 = protocol error."""
    if not b"VSOK".startswith(buf[:4]):
        return -1  # wrong magic: give up at the first wrong byte, do not wait for 8
    if len(buf) < 8:
        return 0
    n = int.from_bytes(buf[4:8], "big")
    if not 1 <= n <= MAX:
        return -1  # zero or above 1 MiB: judged as soon as the length is in
    return 8 + n if len(buf) >= 8 + n else 0


def serve(read, write):
    """Echo every frame; return 0 on a clean end, 1 on a protocol error or a cut frame."""
    buf = b""
    while True:
        n = frame_len(buf)
        if n < 0:
            return 1
        if n:
            write(buf[:8])
            for i in range(8, n, 65536):  # payload in writes of at most 64 KiB
                write(buf[i:min(i + 65536, n)])
            buf = buf[n:]
            continue
        chunk = read(65536)  # any split or coalescing: we just accumulate
        if not chunk:
            return 1 if buf else 0
        buf += chunk


def write_fd(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        try:
            if serve(sock.recv, sock.sendall):
                # Close gracefully: on TCP, closing with unread input sends RST,
                # which can destroy echoes still in flight.  FIN first, then
                # discard what the peer still sends, for at most 2 s.
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(2)
                while sock.recv(65536):
                    pass
        except OSError:
            pass  # reset or timed out: nothing more to do


def main(argv):
    if len(argv) < 2:  # exec role: the runner's socket is our stdin and stdout
        try:
            return serve(lambda k: os.read(0, k), lambda d: write_fd(1, d))
        except OSError:
            return 2
    kind, _, rest = argv[1].partition(":")
    if kind == "unix":
        if os.path.exists(rest):
            os.unlink(rest)
        server = socketserver.ThreadingUnixStreamServer(rest, Handler)
        bound = "unix:" + rest
    elif kind == "tcp":
        host, _, port = rest.rpartition(":")
        server = socketserver.ThreadingTCPServer((host, int(port)), Handler)
        bound = "tcp:%s:%d" % server.server_address[:2]
    else:
        sys.exit("usage: iut.py [unix:PATH | tcp:HOST:PORT]")
    server.daemon_threads = True  # one thread per connection; a stuck peer blocks nobody
    print(bound, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
