#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vm/examples/python - a VSOK echo agent over AF_VSOCK, Python stdlib only.

    python3 echo_agent.py listen PORT     serve vsock:any:PORT, a thread per connection
    python3 echo_agent.py connect ADDR    connect to ADDR (vsock:CID:PORT), echo, exit

Certify it in the guest (the interpreter and its standard library go along):
    scripts/vm-test --iut 'python3 vm/examples/python/echo_agent.py listen {port}' \\
        --include vm/examples/python/echo_agent.py --include /usr/lib/python3.11
"""
import os, socket, sys, threading

MAX = 1 << 20  # payload length 1..1 MiB inclusive
CHUNK = 64 << 10  # largest payload write


def echo(s):
    """Echo every frame; stop at a clean end, a protocol error or a cut frame."""
    s.settimeout(30)
    buf, off = bytearray(), 0  # appends and front deletes are amortised O(1)
    while True:
        # Judge the magic at its first wrong byte and the length once it is
        # in; buffer only the bytes received.
        if not b"VSOK".startswith(buf[:4]):
            return f"InvalidMagicBytes at offset {off}"
        if len(buf) >= 8:
            n = int.from_bytes(buf[4:8], "big")
            if not 1 <= n <= MAX:
                return f"{'InvalidTotalLength' if n == 0 else 'MessageTooLarge'} at offset {off + 4}"
            if len(buf) >= 8 + n:
                s.sendall(buf[:8])
                for i in range(8, 8 + n, CHUNK):
                    s.sendall(buf[i:min(i + CHUNK, 8 + n)])
                del buf[:8 + n]
                off += 8 + n
                continue
        data = s.recv(CHUNK)
        if not data:
            return None if not buf else f"Truncated at offset {off + len(buf)}"
        buf += data


def serve(s):
    with s:
        err = echo(s)
        if err:
            print(f"echo-agent: connection: {err}", file=sys.stderr)


def main():
    # Safety net for this repository only, delete it in your agent: never
    # open a vsock socket outside scripts/vm-test's guest.
    if os.environ.get("VSOK_VM_GUEST") != "1":
        sys.exit("echo-agent: refusing to run outside the vsok test VM")
    if len(sys.argv) == 3 and sys.argv[1] == "listen":
        l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        l.bind((socket.VMADDR_CID_ANY, int(sys.argv[2])))
        l.listen(64)
        while True:
            c, _ = l.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    elif len(sys.argv) == 3 and sys.argv[1] == "connect":
        kind, cid, port = sys.argv[2].split(":")
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.connect((1 if cid == "local" else int(cid), int(port)))
        with s:
            err = echo(s)
        if err:
            sys.exit(f"echo-agent: {sys.argv[2]}: {err}")
    else:
        sys.exit("usage: echo-agent.py listen PORT | echo-agent.py connect vsock:CID:PORT")


if __name__ == "__main__":
    main()
