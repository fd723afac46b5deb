/* SPDX-License-Identifier: MIT */
/* A complete VSOK echo peer in plain C: no libvsok, just read(2)/write(2).
 * Exec role: the conformance runner's socket is stdin and stdout.
 *
 *   cc -O2 -o iut iut.c && vsok-conform --target exec:./iut
 *
 * Frame = "VSOK" + u32 big-endian length (1..1 MiB) + payload.  Any protocol
 * error ends the process, which closes the connection without echoing. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MAX_PAYLOAD (1u << 20)
#define CHUNK 65536u

static uint8_t buf[8 + MAX_PAYLOAD + CHUNK];

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n < CHUNK ? n : CHUNK); /* at most 64 KiB a write */
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(void)
{
    size_t start = 0, end = 0; /* unparsed bytes are buf[start..end) */
    for (;;) {
        for (;;) { /* echo every whole frame already received */
            const uint8_t *f = buf + start;
            size_t have = end - start;
            for (size_t i = 0; i < have && i < 4; i++)
                if (f[i] != "VSOK"[i])
                    return 1; /* wrong magic: fail at the first wrong byte */
            if (have < 8)
                break;
            uint32_t len = (uint32_t)f[4] << 24 | (uint32_t)f[5] << 16 | (uint32_t)f[6] << 8 | f[7];
            if (len == 0 || len > MAX_PAYLOAD)
                return 1; /* judged as soon as the length is in */
            if (have < 8 + (size_t)len)
                break;
            if (write_all(STDOUT_FILENO, f, 8 + (size_t)len) < 0)
                return 2;
            start += 8 + (size_t)len;
        }
        memmove(buf, buf + start, end - start); /* keep the partial frame at the front */
        end -= start;
        start = 0;
        ssize_t r = read(STDIN_FILENO, buf + end, sizeof buf - end);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 2;
        if (r == 0)
            return end == 0 ? 0 : 1; /* a cut frame is an error too */
        end += (size_t)r;
    }
}
