#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make_seeds.py OUTDIR - seed inputs for every fuzz target, made from the
vector set's raw streams (vectors/bin/*.bin) plus a few hand-written ones.

The stream targets take their split choices from the END of the input (see
fuzz/fuzz_common.h): [stream][control bytes][L], L & 0x1F = number of control
bytes, L >> 5 = mode.  So each raw stream is written as is (its tail is then
read as choices) and with explicit trailers: in one piece, byte by byte,
in 64 KiB pieces, and through the zero-copy / fault-injection flag.

scripts/fuzz runs this, fuzzes briefly and minimises the result into
fuzz/corpus/<target>/ (committed)."""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "vectors", "bin")
MAX = 1 << 20


def trailer(ctl, mode):
    assert len(ctl) < 32 and mode < 8
    return bytes(ctl) + bytes([(mode << 5) | len(ctl)])


SPLITS = [
    [],            # everything in one piece
    [0x00],        # byte by byte
    [0xBF],        # 64 KiB pieces
    [0x07, 0x00],  # 8 bytes, then 1 byte, ...
    [0x4F, 0x03],  # flag set (prepare/commit, EINTR/EAGAIN), 16 and 4 bytes
    [0x42, 0x41, 0x0A, 0x81],  # EAGAIN, EINTR, 11 bytes, 2 KiB
    # fuzz_stream reads bits 3-4 of the first control byte as the way a mock
    # stream waits (0 ready fd, 1 none, 2 idle fd + 0/1 ms deadline, 3 ready
    # fd + long deadline) and raw & 3 of a flagged byte as the fault
    [0x50, 0x01],        # EAGAIN, idle fd: Timeout
    [0x48, 0x01],        # EAGAIN, no poll fd: WouldBlock
    [0x18, 0x40, 0x02],  # long deadline, then EAGAIN (retried)
    [0x03, 0x42, 0x41],  # 4 bytes, then ECONNRESET: Io
]


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py OUTDIR")
    out = sys.argv[1]
    streams = {}
    if os.path.isdir(BIN):
        for n in sorted(os.listdir(BIN)):
            if n.endswith(".bin"):
                with open(os.path.join(BIN, n), "rb") as f:
                    streams[n[:-4]] = f.read()
    streams["hand-two-frames"] = b"VSOK\x00\x00\x00\x01A" + b"VSOK\x00\x00\x00\x02BC"
    streams["hand-max-header"] = b"VSOK\x00\x10\x00\x00" + b"x" * 100
    streams["hand-too-large"] = b"VSOK\x00\x10\x00\x01"

    for name, s in streams.items():
        small = len(s) <= 4096
        # header: the first header of each stream, plus an encoder size
        write(out, "fuzz_header", name, s[:8] + struct.pack(">Q", len(s)) + b"\x07")
        write(out, "fuzz_reassembly", name + "-raw", s)
        write(out, "fuzz_stream", name + "-raw", s)
        write(out, "fuzz_conform_reader", name + "-raw", s)
        splits = SPLITS if small else SPLITS[:3]
        if not small and len(s) > 60000:
            splits = SPLITS[:1]
        for i, ctl in enumerate(splits):
            for mode in ((0, 5, 7) if small else (0,)):
                write(out, "fuzz_reassembly", "%s-s%d-m%d" % (name, i, mode), s + trailer(ctl, mode))
            for mode in (range(8) if small else (0, 4)):
                if small or i == 0:
                    write(out, "fuzz_stream", "%s-s%d-m%d" % (name, i, mode), s + trailer(ctl, mode))
            if small:
                for mode in (0, 1, 2, 3, 4):
                    c = ctl if mode < 4 else [3, 8, 0, 1]
                    write(out, "fuzz_conform_reader", "%s-s%d-m%d" % (name, i, mode),
                          s + trailer(c, mode))

    for size in (0, 1, 2, 255, 65535, 65536, 65537, MAX - 1, MAX, MAX + 1, 1 << 32, (1 << 64) - 1):
        h = b"VSOK" + struct.pack(">I", min(size, 0xFFFFFFFF))
        write(out, "fuzz_header", "size-%d" % size, h + struct.pack(">Q", size) + b"\x01")

    # roundtrip: [material][c]; c & 7 = writer, c & 0x80 = expand to a size
    for w in range(8):
        write(out, "fuzz_roundtrip", "hello-w%d" % w, b"hello, enclave" + bytes([w]))
        write(out, "fuzz_roundtrip", "one-w%d" % w, b"Z" + bytes([w]))
        # 2^16 bits mask: 64 KiB sizes around the chunk boundary
        write(out, "fuzz_roundtrip", "64k-w%d" % w, bytes([16, 0x00, 0xFF, 0xFF]) + b"ab" + bytes([0x80 | w]))
        write(out, "fuzz_roundtrip", "64k1-w%d" % w, bytes([17, 0x01, 0x00, 0x00]) + b"xyz" + bytes([0x80 | w]))
        write(out, "fuzz_roundtrip", "max-w%d" % w, bytes([20, 0xFF, 0xFF, 0xFF]) + b"M" + bytes([0x80 | w]))

    addrs = [
        "vsock:3:5000", "vsock:any:1234", "vsock:-1:80", "vsock:local:9", "vsock:host:1",
        "vsock:parent:4294967295", "VSOCK-CONNECT:16:5005", "VSOCK-LISTEN:5000",
        "unix:/tmp/vsok.sock", "unix:@vsok", "unix:./@x", "UNIX-CONNECT:/run/x", "UNIX-LISTEN:/run/y",
        "ABSTRACT-CONNECT:name", "abstract-listen:srv", "tcp:127.0.0.1:8080", "tcp:[::1]:80",
        "tcp:::1:80", "tcp:[fe80::1%eth0]:443", "tcp:localhost:1", "TCP:example:65535",
        "TCP-LISTEN:9000", "TCP4-LISTEN:1", "TCP6-LISTEN:2", "tcp4:10.0.0.1:22", "fd:3", "fd:0",
        "fc:/tmp/v.sock:52", "fc:/a:b:5", "vsock:3:", "vsock::1", "tcp:1:2:3", "unix:", "fd:-1",
        "vsock:0x10:1", "vsock:99999999999:1", "nosuch:1", "",
        "unix:" + "p" * 107, "unix:" + "p" * 108, "tcp:" + "h" * 255 + ":1",
    ]
    for i, a in enumerate(addrs):
        write(out, "fuzz_address", "addr-%02d" % i, a.encode())
        write(out, "fuzz_address", "addr-%02d-small" % i, a.encode() + b"\x00\x02\x05")


if __name__ == "__main__":
    main()
