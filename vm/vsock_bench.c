/* SPDX-License-Identifier: MIT */
/* vm/vsock_bench.c - throughput over real AF_VSOCK inside the test VM.
 *
 * The guest CPU is emulated (qemu TCG), so absolute numbers say nothing about
 * real hardware; what carries over is the ratio between the library and raw
 * AF_VSOCK read()/write() measured in the same guest, same run.
 *
 * Each case runs REPS times on fresh connections and the best run counts:
 * under emulation the first pass over a code path pays for translating it,
 * which would otherwise favour whichever case runs later.
 *
 * usage: vsok-vsock-bench [MiB per case, default 32]
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "guest_guard.h"

#define IO_TIMEOUT_MS 30000
#define REPS 3

enum mode { RAW, LIB_WRITE, LIB_QUEUE };

struct job {
    enum mode mode;
    int fd;
    vsok_socket *s;
    size_t chunk; /* bytes per write() or per message */
    uint64_t total;
    int failed;
};

static void *writer_main(void *arg)
{
    struct job *j = arg;
    uint8_t *buf = malloc(j->chunk);
    if (buf == NULL) {
        j->failed = 1;
        return NULL;
    }
    memset(buf, 0x5a, j->chunk);
    for (uint64_t sent = 0; sent < j->total && !j->failed; sent += j->chunk) {
        if (j->mode == RAW) {
            for (size_t off = 0; off < j->chunk;) {
                ssize_t n = write(j->fd, buf + off, j->chunk - off);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    j->failed = 1;
                    break;
                }
                off += (size_t)n;
            }
        } else if (j->mode == LIB_WRITE) {
            j->failed = vsok_socket_write_message(j->s, buf, j->chunk) != VSOK_OK;
        } else {
            j->failed = vsok_socket_queue(j->s, buf, j->chunk) != VSOK_OK;
        }
    }
    if (!j->failed && j->mode == LIB_QUEUE)
        j->failed = vsok_socket_flush(j->s) != VSOK_OK;
    free(buf);
    return NULL;
}

static double now_s(void) { return (double)vsok_now_ms() / 1000.0; }

/* Runs one case on a fresh connection; returns MB/s (10^6 bytes of payload
 * per second) or a negative value on failure. */
static double run_case(uint32_t port, enum mode mode, size_t chunk, uint64_t total)
{
    char text[64], err[256] = "";
    int lfd = -1;
    vsok_socket *c = NULL, *s = NULL;
    snprintf(text, sizeof text, "vsock:any:%" PRIu32, port);
    if (vsok_listen(text, 4, &lfd, err, sizeof err) != VSOK_OK)
        return -1;
    snprintf(text, sizeof text, "vsock:local:%" PRIu32, port);
    vsok_err e1 = vsok_socket_connect(&c, text, IO_TIMEOUT_MS, err, sizeof err);
    vsok_err e2 = e1 == VSOK_OK ? vsok_socket_accept(&s, lfd, IO_TIMEOUT_MS, NULL, NULL) : e1;
    close(lfd);
    if (e1 != VSOK_OK || e2 != VSOK_OK) {
        fprintf(stderr, "bench: setup on port %" PRIu32 ": %s\n", port, vsok_errname(e2));
        vsok_socket_close(c);
        vsok_socket_close(s);
        return -1;
    }
    /* No deadline: blocking fds, the library's default path (a hang is
     * bounded by vm/init.sh's time limit for the step). */

    struct job j = {.mode = mode, .fd = vsok_socket_fd(c), .s = c, .chunk = chunk, .total = total};
    uint64_t got = 0;
    int bad = 0;
    uint8_t *rbuf = malloc(VSOK_CHUNK_SIZE);
    pthread_t t;
    double t0 = now_s();
    if (rbuf == NULL || pthread_create(&t, NULL, writer_main, &j) != 0) {
        free(rbuf);
        vsok_socket_close(c);
        vsok_socket_close(s);
        return -1;
    }
    while (got < total && !bad) {
        if (mode == RAW) {
            ssize_t n = read(vsok_socket_fd(s), rbuf, VSOK_CHUNK_SIZE);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                bad = 1;
            else
                got += (uint64_t)n;
        } else {
            vsok_msg m;
            vsok_err e = vsok_socket_recv(s, &m);
            if (e != VSOK_OK || m.len != chunk)
                bad = 1;
            else
                got += m.len;
        }
    }
    double dt = now_s() - t0;
    /* unblock a writer stuck on a failed reader before joining it */
    if (bad)
        (void)shutdown(vsok_socket_fd(s), SHUT_RDWR);
    (void)pthread_join(t, NULL);
    free(rbuf);
    vsok_socket_close(c);
    vsok_socket_close(s);
    if (bad || j.failed || dt <= 0)
        return -1;
    return (double)total / dt / 1e6;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!vsok_vm_guest_check("vsok-vsock-bench"))
        return 77;
    unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
    if (mib == 0 || mib > 4096) {
        fprintf(stderr, "usage: vsok-vsock-bench [MiB per case, 1..4096]\n");
        return 2;
    }
    uint64_t total = (uint64_t)mib << 20;

    static const struct {
        const char *name;
        enum mode mode;
        size_t chunk;
    } cases[] = {
        {"raw AF_VSOCK write()/read() 64 KiB", RAW, 65536},
        {"vsok 64 KiB messages (write_message/recv)", LIB_WRITE, 65536},
        {"vsok 1 MiB messages (write_message/recv)", LIB_WRITE, VSOK_MAX_PAYLOAD},
        {"vsok 1 KiB messages (queue+flush/recv)", LIB_QUEUE, 1024},
        {"raw AF_VSOCK write() 1 KiB / read() 64 KiB", RAW, 1024},
    };
    double raw = 0;
    int failed = 0;
    printf("bench: %lu MiB per case, best of %d, over AF_VSOCK loopback (CID 1) in an emulated"
           " guest; only ratios to raw mean anything\n",
           mib, REPS);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double r = 0;
        for (int rep = 0; rep < REPS && r >= 0; rep++) {
            double one = run_case(5200 + (uint32_t)(i * REPS + rep), cases[i].mode, cases[i].chunk, total);
            r = one < 0 ? one : (one > r ? one : r);
        }
        if (r < 0) {
            printf("bench: %-46s FAILED\n", cases[i].name);
            failed = 1;
            continue;
        }
        if (i == 0)
            raw = r;
        if (raw > 0)
            printf("bench: %-46s %9.1f MB/s  %5.2f x raw 64 KiB\n", cases[i].name, r, r / raw);
        else
            printf("bench: %-46s %9.1f MB/s\n", cases[i].name, r);
    }
    return failed;
}
