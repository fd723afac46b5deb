/* SPDX-License-Identifier: MIT */
/* harness.c - see harness.h. */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vsok/vsok.h>

extern char **environ;

void tpeer_startv(tpeer *p, int want_ready, int in_fd, int out_fd, const char *const *args)
{
    memset(p, 0, sizeof *p);
    p->status = -1;
    snprintf(p->log, sizeof p->log, "/tmp/vsok-peer-test-XXXXXX");
    int logfd = mkstemp(p->log);
    cr_assert_geq(logfd, 0, "mkstemp: %s", strerror(errno));

    int rp[2] = {-1, -1};
    if (want_ready)
        cr_assert_eq(pipe2(rp, O_CLOEXEC), 0);

    const char *argv[64];
    int n = 0;
    argv[n++] = VSOK_PEER_BIN;
    if (want_ready) {
        argv[n++] = "--ready-fd";
        argv[n++] = "3";
    }
    for (int i = 0; args[i]; i++) {
        cr_assert_lt(n, 62);
        argv[n++] = args[i];
    }
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    if (want_ready)
        posix_spawn_file_actions_adddup2(&fa, rp[1], 3);
    int rc = posix_spawn(&p->pid, VSOK_PEER_BIN, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(logfd);
    cr_assert_eq(rc, 0, "spawn %s: %s", VSOK_PEER_BIN, strerror(rc));
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    cr_assert_geq(p->pidfd, 0, "pidfd_open: %s", strerror(errno));
    if (!want_ready)
        return;
    close(rp[1]);
    size_t got = 0;
    for (;;) {
        struct pollfd pf = {rp[0], POLLIN, 0};
        int r = poll(&pf, 1, T_IO_MS);
        cr_assert_gt(r, 0, "vsok-peer did not report its address in time");
        ssize_t k = read(rp[0], p->addr + got, sizeof p->addr - 1 - got);
        cr_assert_gt(k, 0, "vsok-peer exited before listening; log:\n%s", tpeer_log(p));
        got += (size_t)k;
        p->addr[got] = 0;
        char *nl = strchr(p->addr, '\n');
        if (nl) {
            *nl = 0;
            break;
        }
    }
    close(rp[0]);
}

void tpeer_start(tpeer *p, const char *arg, ...)
{
    const char *args[60];
    int n = 0;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    tpeer_startv(p, 1, -1, -1, args);
}

int tpeer_wait(tpeer *p, int ms)
{
    if (p->status >= 0)
        return p->status;
    struct pollfd pf = {p->pidfd, POLLIN, 0};
    if (poll(&pf, 1, ms) <= 0)
        return -1;
    int st;
    cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
    close(p->pidfd);
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return p->status;
}

int tpeer_stop(tpeer *p)
{
    if (p->status >= 0)
        return p->status;
    kill(p->pid, SIGTERM);
    int rc = tpeer_wait(p, T_IO_MS);
    if (rc < 0) {
        kill(p->pid, SIGKILL);
        tpeer_wait(p, T_IO_MS);
        cr_assert_fail("vsok-peer did not stop within %d ms of SIGTERM", T_IO_MS);
    }
    return rc;
}

char *tpeer_log(const tpeer *p)
{
    FILE *f = fopen(p->log, "r");
    cr_assert(f, "open %s", p->log);
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            b = realloc(b, cap);
            cr_assert(b);
        }
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    b[n] = 0;
    return b;
}

static int count_stats(const char *log)
{
    int n = 0;
    for (const char *q = log; (q = strstr(q, " stats ")); q++)
        n++;
    for (const char *q = log; (q = strstr(q, "\"event\":\"stats\"")); q++)
        n++;
    return n;
}

char *tpeer_stats(tpeer *p)
{
    char *log = tpeer_log(p);
    int before = count_stats(log);
    free(log);
    kill(p->pid, SIGUSR1);
    /* the line appears when the loop handles the signal: poll the file, bounded */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        log = tpeer_log(p);
        if (count_stats(log) > before)
            break;
        free(log);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        cr_assert_lt((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000, T_IO_MS,
                     "no stats line after SIGUSR1");
        struct pollfd none;
        poll(&none, 0, 5); /* yield between reads of the file */
    }
    const char *last = log, *q;
    for (q = log; (q = strstr(q, " stats ")); q++)
        last = q;
    for (q = log; (q = strstr(q, "\"event\":\"stats\"")); q++)
        if (q > last)
            last = q;
    const char *end = strchr(last, '\n');
    size_t n = end ? (size_t)(end - last) : strlen(last);
    char *line = strndup(last, n);
    free(log);
    return line;
}

long long tfield(const char *line, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *q = strstr(line, pat);
    if (!q) {
        snprintf(pat, sizeof pat, "\"%s\":", key); /* --log-format json */
        q = strstr(line, pat);
    }
    if (!q)
        return -1;
    return strtoll(q + strlen(pat), NULL, 10);
}

double tpeer_cpu_seconds(const tpeer *p)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p->pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    const char *s = strrchr(buf, ')'); /* comm may hold spaces */
    cr_assert_not_null(s);
    unsigned long ut = 0, st = 0;
    /* fields after comm: state(3) ... utime(14) stime(15) */
    cr_assert_eq(sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int64_t tnow_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long tpeer_wait_stat(tpeer *p, const char *key, long long want)
{
    long long v = -1;
    const int64_t end = tnow_ms() + T_IO_MS;
    for (int i = 0; i < 20000 && v != want && tnow_ms() < end; i++) {
        char *st = tpeer_stats(p);
        v = tfield(st, key);
        free(st);
    }
    return v;
}

int tconnect(const char *addr)
{
    int fd;
    char err[256];
    vsok_err e = vsok_connect(addr, T_IO_MS, &fd, err, sizeof err);
    cr_assert_eq(e, VSOK_OK, "connect %s: %s (%s)", addr, vsok_errname(e), err);
    struct timeval tv = {T_IO_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

void twrite(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        cr_assert_gt(w, 0, "send: %s", strerror(errno));
        b += w;
        n -= (size_t)w;
    }
}

int tread_exact(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = recv(fd, b, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

int texpect_end(int fd, int ms)
{
    uint8_t junk[4096];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return 0;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)left) <= 0)
            return 0;
        ssize_t r = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return 1;
    }
}

int texpect_hangup(int fd, int ms)
{
    struct pollfd pf = {fd, 0, 0};
    int r = poll(&pf, 1, ms);
    return r > 0 && (pf.revents & (POLLHUP | POLLERR));
}

void tframe(uint8_t *out, const void *payload, size_t n)
{
    cr_assert_eq(vsok_header_encode(out, n), VSOK_OK);
    memcpy(out + VSOK_HEADER_SIZE, payload, n);
}

int texchange(int fd, const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
    size_t cap = 65536, got = 0, sent = 0;
    uint8_t *b = malloc(cap);
    int wr_open = 1, rc = -1;
    cr_assert(b);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (n == 0) {
        shutdown(fd, SHUT_WR);
        wr_open = 0;
    }
    for (;;) {
        struct pollfd pf = {fd, (short)(POLLIN | (wr_open ? POLLOUT : 0)), 0};
        int r = poll(&pf, 1, T_IO_MS);
        if (r <= 0)
            break; /* timeout: rc stays -1 */
        if (wr_open && (pf.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = send(fd, in + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                wr_open = 0; /* the peer closed on us: read what it sent */
            if (sent == n) {
                shutdown(fd, SHUT_WR);
                wr_open = 0;
            }
        }
        if (pf.revents & (POLLIN | POLLERR | POLLHUP)) {
            if (cap - got < 65536) {
                cap *= 2;
                b = realloc(b, cap);
                cr_assert(b);
            }
            ssize_t k = recv(fd, b + got, cap - got, 0);
            if (k > 0) {
                got += (size_t)k;
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                rc = 0; /* end of stream (or reset after it) */
                break;
            }
        }
    }
    fcntl(fd, F_SETFL, fl);
    *out = b;
    *outlen = got;
    return rc;
}

void tfill(uint8_t *p, size_t n, uint32_t seq)
{
    uint32_t x = seq * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

void tunix_addr(char *buf, size_t len)
{
    static int n;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    snprintf(buf, len, "unix:@vsok-peer-test-%d-%d-%ld", (int)getpid(), ++n, (long)t.tv_nsec);
}
