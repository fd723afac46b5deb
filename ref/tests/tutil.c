/* SPDX-License-Identifier: MIT */
#include "tutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void tu_header(uint8_t out[8], uint32_t len)
{
    out[0] = 'V';
    out[1] = 'S';
    out[2] = 'O';
    out[3] = 'K';
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
}

size_t tu_frame(uint8_t *out, const void *payload, uint32_t len)
{
    tu_header(out, len);
    if (len)
        memcpy(out + 8, payload, len);
    return 8 + (size_t)len;
}

void tu_fill(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 0x9E3779B9u;
    if (x == 0)
        x = 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(tu_rand(&x) >> 24);
}

uint8_t *tu_frame_alloc(size_t len, uint32_t seed, size_t *frame_len)
{
    uint8_t *f = malloc(len + 8);
    cr_assert_not_null(f);
    tu_header(f, (uint32_t)len);
    tu_fill(f + 8, len, seed);
    *frame_len = len + 8;
    return f;
}

uint32_t tu_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

void tu_socketpair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
}

void tu_tiny_buffers(int fd)
{
    int one = 1; /* the kernel rounds up to its minimum */
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one), 0);
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one), 0);
}

void tu_tiny_pair(int sv[2])
{
    tu_socketpair(sv);
    tu_tiny_buffers(sv[0]);
    tu_tiny_buffers(sv[1]);
}

static void *writer_main(void *arg)
{
    tu_writer *w = arg;
    size_t chunk = w->chunk ? w->chunk : w->len;
    while (w->written < w->len) {
        size_t n = w->len - w->written;
        if (n > chunk)
            n = chunk;
        ssize_t r = send(w->fd, w->buf + w->written, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            w->err = errno;
            break;
        }
        w->written += (size_t)r;
    }
    if (w->shut)
        shutdown(w->fd, SHUT_WR);
    if (w->close_after)
        close(w->fd);
    return NULL;
}

void tu_writer_start(tu_writer *w)
{
    w->written = 0;
    w->err = 0;
    cr_assert_eq(pthread_create(&w->th, NULL, writer_main, w), 0);
}

void tu_writer_join(tu_writer *w) { cr_assert_eq(pthread_join(w->th, NULL), 0); }

static void *reader_main(void *arg)
{
    tu_reader *r = arg;
    size_t cap = 65536;
    r->buf = malloc(cap);
    r->len = 0;
    r->err = r->buf ? 0 : ENOMEM;
    while (r->buf && (r->limit == 0 || r->len < r->limit)) {
        if (r->len == cap) {
            uint8_t *nb = realloc(r->buf, cap * 2);
            if (!nb) {
                r->err = ENOMEM;
                break;
            }
            r->buf = nb;
            cap *= 2;
        }
        size_t want = cap - r->len;
        if (r->limit && want > r->limit - r->len)
            want = r->limit - r->len;
        ssize_t n = read(r->fd, r->buf + r->len, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r->err = errno;
            break;
        }
        if (n == 0)
            break;
        r->len += (size_t)n;
    }
    return NULL;
}

void tu_reader_start(tu_reader *r) { cr_assert_eq(pthread_create(&r->th, NULL, reader_main, r), 0); }

void tu_reader_join(tu_reader *r) { cr_assert_eq(pthread_join(r->th, NULL), 0); }

static atomic_int storm_received;

static void on_sigusr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&storm_received, 1);
}

void tu_storm_install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocked calls must see EINTR */
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

int tu_storm_received(void) { return atomic_load(&storm_received); }

static void *storm_main(void *arg)
{
    tu_storm *st = arg;
    /* The pause paces the storm so the target gets to block between
     * signals; nothing waits on it for correctness. */
    struct timespec pace = {0, 1000000};
    while (!atomic_load(&st->stop) && atomic_load(&st->sent) < st->max) {
        if (pthread_kill(st->target, SIGUSR1) != 0)
            break;
        atomic_fetch_add(&st->sent, 1);
        nanosleep(&pace, NULL);
    }
    return NULL;
}

void tu_storm_start(tu_storm *st, pthread_t target, int max)
{
    st->target = target;
    st->max = max;
    atomic_store(&st->stop, 0);
    atomic_store(&st->sent, 0);
    cr_assert_eq(pthread_create(&st->th, NULL, storm_main, st), 0);
}

void tu_storm_stop(tu_storm *st)
{
    atomic_store(&st->stop, 1);
    cr_assert_eq(pthread_join(st->th, NULL), 0);
}

size_t tu_pending(int fd)
{
    int n = 0;
    cr_assert_eq(ioctl(fd, FIONREAD, &n), 0);
    return (size_t)n;
}
