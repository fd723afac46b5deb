/* bench_lib.c - libvsok throughput against the physical limit, in one run.
 *
 * Over a Unix socketpair with a sender and a receiver thread, for each
 * message size: (a) raw unframed writes of the message size, (a') the same
 * bytes in 256 KiB writes, (b) a naive reader/writer following the original
 * design, (c) the library one message per call, (d) the library's batched
 * write path.  Then the push decoder over memory against memcpy.  Prints
 * messages/s, MB/s and the ratios the issue sets targets for.  Best of
 * --reps runs per cell, since other processes share the machine. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vsok/vsok.h"

#define BIG_WRITE (256 * 1024)

typedef enum { RAW, RAW_BIG, NAIVE, LIB, LIB_BATCH, MODES } mode_t_;
static const char *mode_name[MODES] = {"a  raw", "a' raw 256K", "b  naive", "c  vsok", "d  vsok batch"};

typedef struct {
    mode_t_ mode;
    int fd;
    size_t size, count;
    const uint8_t *payload;
    uint64_t sum;
    int failed;
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *sender(void *arg)
{
    job *j = arg;
    size_t total = j->size * j->count;
    vsok_socket *s = NULL;
    if (j->mode == LIB || j->mode == LIB_BATCH) {
        int fd = dup(j->fd);
        if (vsok_socket_open(&s, fd, NULL) != VSOK_OK) {
            j->failed = 1;
            return NULL;
        }
    }
    switch (j->mode) {
    case RAW:
        for (size_t i = 0; i < j->count && !j->failed; i++)
            j->failed = write_all(j->fd, j->payload, j->size) != 0;
        break;
    case RAW_BIG:
        for (size_t off = 0; off < total && !j->failed; off += BIG_WRITE) {
            size_t n = total - off < BIG_WRITE ? total - off : BIG_WRITE;
            j->failed = write_all(j->fd, j->payload, n) != 0;
        }
        break;
    case NAIVE: /* the original design: header write, then one write per chunk */
        for (size_t i = 0; i < j->count && !j->failed; i++) {
            uint8_t hdr[8];
            vsok_header_encode(hdr, j->size);
            j->failed = write_all(j->fd, hdr, 8) != 0;
            for (size_t off = 0; off < j->size && !j->failed; off += VSOK_CHUNK_SIZE) {
                size_t n = j->size - off < VSOK_CHUNK_SIZE ? j->size - off : VSOK_CHUNK_SIZE;
                j->failed = write_all(j->fd, j->payload + off, n) != 0;
            }
        }
        break;
    case LIB:
        for (size_t i = 0; i < j->count && !j->failed; i++)
            j->failed = vsok_socket_write_message(s, j->payload, j->size) != VSOK_OK;
        break;
    case LIB_BATCH:
        for (size_t i = 0; i < j->count && !j->failed; i++)
            j->failed = vsok_socket_queue(s, j->payload, j->size) != VSOK_OK;
        j->failed |= vsok_socket_flush(s) != VSOK_OK;
        break;
    default:
        break;
    }
    vsok_socket_close(s);
    return NULL;
}

static void receive(job *j)
{
    size_t total = j->size * j->count;
    if (j->mode == RAW || j->mode == RAW_BIG) {
        uint8_t *buf = malloc(BIG_WRITE);
        for (size_t got = 0; got < total;) {
            ssize_t n = read(j->fd, buf, BIG_WRITE);
            if (n <= 0) {
                j->failed = 1;
                break;
            }
            j->sum += buf[0];
            got += (size_t)n;
        }
        free(buf);
    } else if (j->mode == NAIVE) {
        for (size_t i = 0; i < j->count; i++) {
            uint8_t hdr[8];
            uint32_t len = 0;
            if (read_all(j->fd, hdr, 8) != 0 || vsok_header_decode(hdr, &len) != VSOK_OK) {
                j->failed = 1;
                return;
            }
            uint8_t *p = malloc(len);
            if (p == NULL || read_all(j->fd, p, len) != 0) {
                free(p);
                j->failed = 1;
                return;
            }
            j->sum += p[0];
            free(p);
        }
    } else {
        vsok_socket *s = NULL;
        if (vsok_socket_open(&s, dup(j->fd), NULL) != VSOK_OK) {
            j->failed = 1;
            return;
        }
        for (size_t i = 0; i < j->count; i++) {
            vsok_msg m;
            if (vsok_socket_recv(s, &m) != VSOK_OK || m.len != j->size) {
                j->failed = 1;
                break;
            }
            j->sum += m.data[0];
        }
        vsok_socket_close(s);
    }
}

static double run_once(mode_t_ mode, size_t size, size_t count, const uint8_t *payload)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        exit(2);
    }
    job w = {mode, sv[0], size, count, payload, 0, 0};
    job r = {mode, sv[1], size, count, payload, 0, 0};
    pthread_t t;
    double t0 = now_s();
    pthread_create(&t, NULL, sender, &w);
    receive(&r);
    pthread_join(t, NULL);
    double dt = now_s() - t0;
    close(sv[0]);
    close(sv[1]);
    if (w.failed || r.failed) {
        fprintf(stderr, "bench: %s size %zu failed\n", mode_name[mode], size);
        exit(1);
    }
    return dt;
}

static int reps = 3;

static double best(mode_t_ mode, size_t size, size_t count, const uint8_t *payload)
{
    double b = 1e9;
    for (int i = 0; i < reps; i++) {
        double t = run_once(mode, size, count, payload);
        if (t < b)
            b = t;
    }
    return b;
}

static int ok_or_miss(double v, double target) { return v >= target; }

static int decoder_bench(const uint8_t *payload)
{
    static const size_t sizes[] = {64, 4096, 65536, 1048576};
    int misses = 0;
    printf("\n## push decoder over memory vs memcpy (64 KiB feeds, %d reps, best)\n\n", reps);
    printf("| frame size | memcpy MB/s | decoder MB/s | decoder/memcpy | target |\n|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t size = sizes[k], frames = (64u << 20) / (size + 8);
        size_t len = frames * (size + 8);
        uint8_t *stream = malloc(len), *dst = malloc(len);
        if (stream == NULL || dst == NULL)
            return 1;
        for (size_t f = 0; f < frames; f++) {
            vsok_header_encode(stream + f * (size + 8), size);
            memcpy(stream + f * (size + 8) + 8, payload, size);
        }
        memset(dst, 1, len);
        double tm = 1e9, td = 1e9;
        uint64_t sum = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            for (size_t off = 0; off < len; off += VSOK_CHUNK_SIZE)
                memcpy(dst + off, stream + off, len - off < VSOK_CHUNK_SIZE ? len - off : VSOK_CHUNK_SIZE);
            double t1 = now_s();
            sum += dst[len / 2];
            vsok_decoder *d = vsok_decoder_new(0);
            size_t got = 0;
            for (size_t off = 0; off < len; off += VSOK_CHUNK_SIZE) {
                size_t n = len - off < VSOK_CHUNK_SIZE ? len - off : VSOK_CHUNK_SIZE, pos = 0;
                while (pos < n) {
                    size_t used;
                    vsok_msg m;
                    vsok_err e = vsok_decoder_feed(d, stream + off + pos, n - pos, &used, &m);
                    pos += used;
                    if (e == VSOK_OK) {
                        got++;
                        sum += m.data[m.len - 1];
                    } else if (e != VSOK_E_AGAIN) {
                        fprintf(stderr, "decoder error %s\n", vsok_errname(e));
                        return 1;
                    }
                }
            }
            double t2 = now_s();
            vsok_decoder_free(d);
            if (got != frames) {
                fprintf(stderr, "decoder delivered %zu of %zu\n", got, frames);
                return 1;
            }
            if (t1 - t0 < tm)
                tm = t1 - t0;
            if (t2 - t1 < td)
                td = t2 - t1;
        }
        double ratio = tm / td;
        int target = size >= 4096;
        if (target && !ok_or_miss(ratio, 0.8))
            misses++;
        printf("| %zu | %.0f | %.0f | %.2f | %s |%s\n", size, len / tm / 1e6, len / td / 1e6, ratio,
               target ? ">= 0.8" : "-", sum == 0xdeadbeef ? " " : "");
        free(stream);
        free(dst);
    }
    return misses;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {64, 4096, 65536, 1048576};
    double scale = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            scale = 0.1;
            reps = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_lib [--quick] [--reps N]\n");
            return 2;
        }
    }
    uint8_t *payload = malloc(VSOK_MAX_PAYLOAD);
    for (size_t i = 0; i < VSOK_MAX_PAYLOAD; i++)
        payload[i] = (uint8_t)(i * 31 + 7);

    int misses = 0;
    printf("# libvsok over a Unix socketpair (sender + receiver thread, best of %d)\n\n", reps);
    printf("| size | mode | msgs/s | MB/s |\n|---|---|---|---|\n");
    double ratios[4][4];
    for (size_t k = 0; k < 4; k++) {
        size_t size = sizes[k];
        size_t count = (size_t)(scale * (size <= 64 ? 400000 : size <= 4096 ? 60000 : (256u << 20) / size));
        if (count < 16)
            count = 16;
        double t[MODES];
        for (int m = 0; m < MODES; m++) {
            t[m] = best((mode_t_)m, size, count, payload);
            printf("| %zu | %s | %.0f | %.1f |\n", size, mode_name[m], count / t[m], size * count / t[m] / 1e6);
        }
        /* Rates, so the ratios read "x times as fast". */
        ratios[k][0] = t[RAW] / t[LIB];
        ratios[k][1] = t[NAIVE] / t[LIB];
        ratios[k][2] = t[NAIVE] / t[LIB_BATCH];
        ratios[k][3] = t[RAW_BIG] / t[LIB_BATCH];
    }
    printf("\n## ratios (higher is better)\n\n| size | c/a | c/b | d/b | d/a' |\n|---|---|---|---|---|\n");
    for (size_t k = 0; k < 4; k++)
        printf("| %zu | %.2f | %.2f | %.2f | %.2f |\n", sizes[k], ratios[k][0], ratios[k][1], ratios[k][2],
               ratios[k][3]);
    printf("\ntargets: c/a >= 0.9 at 64 KiB and 1 MiB; c/b >= 1.8, d/b >= 5, d/a' >= 0.5 at 64 B\n");
    struct {
        const char *what;
        double v, target;
    } checks[] = {
        {"c/a 64 KiB", ratios[2][0], 0.9}, {"c/a 1 MiB", ratios[3][0], 0.9}, {"c/b 64 B", ratios[0][1], 1.8},
        {"d/b 64 B", ratios[0][2], 5.0},   {"d/a' 64 B", ratios[0][3], 0.5},
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        int ok = ok_or_miss(checks[i].v, checks[i].target);
        misses += !ok;
        printf("%-12s %.2f (target %.1f) %s\n", checks[i].what, checks[i].v, checks[i].target, ok ? "met" : "MISSED");
    }
    misses += decoder_bench(payload);
    free(payload);
    printf("\nbench_lib: %d target(s) missed\n", misses);
    return 0;
}
