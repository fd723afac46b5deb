/* SPDX-License-Identifier: MIT */
/* peer_bench.c - vsok-peer echo against a raw byte-echo server, same client,
 * same transport, same run.
 *
 * The raw server (forked from this program) is a single-threaded epoll loop
 * that writes back whatever it reads, 256 KiB at a time (the peer's read size),
 * with the same back-pressure rule as the peer; it knows nothing of frames, so it is the
 * physical limit of an echo over this transport on this machine.  The load
 * generator is one epoll thread that keeps a window of framed messages in
 * flight on every connection and counts echoed bytes.  Cells: 64 B and
 * 64 KiB messages, 1 and 64 connections, over TCP on 127.0.0.1 and Unix
 * sockets.  Then memory per idle connection: 10,000 connections, one echo
 * each, and the peer's VmRSS before and after.
 *
 * Latency-bound cells: one connection with a window of 1 or 4 whole
 * messages in flight (the next is sent only when an echo is complete), 64 B,
 * 4 KiB and 64 KiB, against the raw echo and a second baseline: a naive
 * thread-per-connection server written the original (Rust) way - blocking
 * read of the 8-byte header, blocking read of the payload, then two writes
 * (header, payload).  It gets TCP_NODELAY like the others.  Two peer rows
 * per cell, each with its own ratios and goal verdict: the default peer
 * and vsok-peer --busy-poll 50us (--busy-poll DUR picks another window),
 * with each server's CPU seconds per wall second, since polling buys its
 * latency with CPU.  The raw echo sleeps in epoll_wait like the default
 * peer (it does not poll).
 *
 * The throughput cells use the default peer; one more short table runs the
 * 1-connection throughput cells with the default and the busy-poll peer, to
 * show what polling costs per CPU second where it cannot help (--busy-cost:
 * that table only).
 *
 * Every cell runs the servers interleaved (raw, peer, [busy-poll peer,]
 * naive, raw, ...) reps times and prints the ratios of each rep's pair with
 * their spread (min / median / max), so noise is visible.  Loopback only,
 * every run bounded in time. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vsok/vsok.h"

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_peer: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ------------------------------------------------------------ raw echo */

#define RAW_BUF (256 * 1024) /* same read size as vsok-peer's shared buffer */

typedef struct rconn {
    int fd;
    uint8_t *pend;
    size_t off, len;
} rconn;

static void raw_echo_main(int lfd, int tcp)
{
    int ep = epoll_create1(0);
    uint8_t *buf = malloc(RAW_BUF);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || !buf || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
        _exit(1);
    for (;;) {
        struct epoll_event evs[128];
        int n = epoll_wait(ep, evs, 128, -1);
        for (int i = 0; i < n; i++) {
            rconn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (tcp) { /* as vsok-peer does: same transport settings */
                        int one = 1;
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    }
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e2);
                }
                continue;
            }
            if (c->len) { /* writable: drain the remainder */
                ssize_t w = write(c->fd, c->pend + c->off, c->len - c->off);
                if (w > 0)
                    c->off += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                    goto drop;
                if (c->off == c->len) {
                    c->off = c->len = 0;
                    struct epoll_event e2 = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e2);
                }
                continue;
            }
            for (int round = 0; round < 8; round++) {
                ssize_t r = read(c->fd, buf, RAW_BUF);
                if (r == 0 || (r < 0 && errno != EAGAIN))
                    goto drop;
                if (r < 0)
                    break;
                ssize_t w = write(c->fd, buf, (size_t)r);
                if (w < 0 && errno != EAGAIN)
                    goto drop;
                if (w < 0)
                    w = 0;
                if (w < r) {
                    if (!c->pend)
                        c->pend = malloc(RAW_BUF);
                    memcpy(c->pend, buf + w, (size_t)(r - w));
                    c->off = 0;
                    c->len = (size_t)(r - w);
                    struct epoll_event e2 = {.events = EPOLLOUT, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e2);
                    break;
                }
                if (r < RAW_BUF)
                    break;
            }
            continue;
        drop:
            close(c->fd);
            free(c->pend);
            free(c);
        }
    }
}

typedef struct server {
    pid_t pid;
    char addr[256];
} server;

/* ------------------------------------------------------- naive threaded */

static int read_exact(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One connection, step by step as the original design: header, payload,
 * write header, write payload. */
static void *naive_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint8_t hdr[VSOK_HEADER_SIZE], *buf = malloc(VSOK_MAX_PAYLOAD);
    while (buf && read_exact(fd, hdr, sizeof hdr) == 0) {
        uint32_t len;
        if (vsok_header_decode(hdr, &len) != VSOK_OK || read_exact(fd, buf, len) != 0)
            break;
        if (write_all(fd, hdr, sizeof hdr) != 0 || write_all(fd, buf, len) != 0)
            break;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void naive_main(int lfd, int tcp)
{
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK); /* blocking, all the way */
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(1);
        }
        if (tcp) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, naive_conn, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&at);
    }
}

static void start_forked(server *s, int tcp, int naive)
{
    int lfd;
    char err[256];
    if (tcp)
        snprintf(s->addr, sizeof s->addr, "tcp:127.0.0.1:0");
    else
        snprintf(s->addr, sizeof s->addr, "unix:@vsok-bench-%s-%d", naive ? "naive" : "raw", getpid());
    if (vsok_listen(s->addr, 4096, &lfd, err, sizeof err) != VSOK_OK) {
        fprintf(stderr, "bench_peer: listen %s: %s\n", s->addr, err);
        exit(1);
    }
    vsok_addr a;
    if (vsok_addr_from_fd(lfd, 0, &a) != VSOK_OK)
        die("addr");
    vsok_addr_format(&a, s->addr, sizeof s->addr);
    s->pid = fork();
    if (s->pid < 0)
        die("fork");
    if (s->pid == 0) {
        if (naive)
            naive_main(lfd, tcp);
        else
            raw_echo_main(lfd, tcp);
        _exit(0);
    }
    close(lfd);
}

static const char *g_busy = "50us"; /* --busy-poll of the busy-poll peer row */

/* busy: NULL, or the --busy-poll value to start it with. */
static void start_peer(server *s, const char *bin, int tcp, int out_fd, const char *busy)
{
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) != 0)
        die("pipe");
    char unixaddr[128];
    snprintf(unixaddr, sizeof unixaddr, "unix:@vsok-bench-peer-%d", getpid());
    const char *argv[] = {bin,  "--ready-fd",  "3",     "-q",     "--idle-timeout",
                          "0",  "--max-conns", "20000", "listen", tcp ? "tcp:127.0.0.1:0" : unixaddr,
                          NULL, NULL,          NULL};
    if (busy) {
        argv[10] = argv[8];
        argv[11] = argv[9];
        argv[8] = "--busy-poll";
        argv[9] = busy;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, rp[1], 3);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&s->pid, bin, &fa, NULL, (char *const *)argv, environ) != 0)
        die("spawn vsok-peer");
    posix_spawn_file_actions_destroy(&fa);
    close(rp[1]);
    size_t got = 0;
    for (;;) {
        struct pollfd pf = {rp[0], POLLIN, 0};
        if (poll(&pf, 1, 10000) <= 0)
            die("vsok-peer did not start");
        ssize_t r = read(rp[0], s->addr + got, sizeof s->addr - 1 - got);
        if (r <= 0)
            die("vsok-peer exited");
        got += (size_t)r;
        s->addr[got] = 0;
        char *nl = strchr(s->addr, '\n');
        if (nl) {
            *nl = 0;
            break;
        }
    }
    close(rp[0]);
}

static double g_user, g_sys; /* the last stopped server's CPU split */

/* Stops the server; returns the CPU seconds it used (user + system). */
static double stop(server *s)
{
    kill(s->pid, SIGTERM);
    int st;
    struct rusage ru;
    if (wait4(s->pid, &st, 0, &ru) < 0)
        return 0;
    g_user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    g_sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (getenv("BENCH_PEER_CPU"))
        fprintf(stderr, "server %d: user %.3f s, system %.3f s\n", (int)s->pid, g_user, g_sys);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- load */

typedef struct lconn {
    int fd;
    uint64_t sent, recvd;
    size_t soff;
    uint32_t events;
} lconn;

/* Echoed frames per second over conns connections for secs seconds.
 * wmsgs 0: a 512 KiB byte window (throughput); else at most wmsgs whole
 * messages in flight per connection (latency-bound). */
static double load(const char *addr, size_t msg, int conns, int wmsgs, double secs, double *mbps,
                   uint64_t *all)
{
    size_t frame = VSOK_HEADER_SIZE + msg;
    size_t nframes = (256 * 1024) / frame;
    if (nframes < 1)
        nframes = 1;
    size_t plen = nframes * frame;
    uint8_t *pat = malloc(plen), *scratch = malloc(256 * 1024);
    for (size_t f = 0; f < nframes; f++) {
        vsok_header_encode(pat + f * frame, msg);
        memset(pat + f * frame + VSOK_HEADER_SIZE, (int)('a' + f % 26), msg);
    }
    uint64_t window = plen > (512u << 10) ? plen : (512u << 10);
    int ep = epoll_create1(0);
    lconn *c = calloc((size_t)conns, sizeof *c);
    for (int i = 0; i < conns; i++) {
        char err[256];
        if (vsok_connect(addr, 5000, &c[i].fd, err, sizeof err) != VSOK_OK) {
            fprintf(stderr, "bench_peer: connect %s: %s\n", addr, err);
            exit(1);
        }
        fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
        c[i].events = EPOLLIN | EPOLLOUT;
        struct epoll_event ev = {.events = c[i].events, .data.ptr = &c[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    double warm = 0.2, t0 = now_s(), t_start = 0;
    uint64_t base = 0, total = 0;
    for (;;) {
        double t = now_s();
        if (!t_start && t - t0 >= warm) {
            t_start = t;
            base = total;
        }
        if (t_start && t - t_start >= secs)
            break;
        struct epoll_event evs[128];
        int n = epoll_wait(ep, evs, 128, 100);
        for (int i = 0; i < n; i++) {
            lconn *l = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                for (;;) {
                    ssize_t r = read(l->fd, scratch, 256 * 1024);
                    if (r > 0) {
                        l->recvd += (uint64_t)r;
                        total += (uint64_t)r;
                        if (r == 256 * 1024)
                            continue;
                    } else if (r == 0 || errno != EAGAIN) {
                        fprintf(stderr, "bench_peer: server %s closed a connection (%s)\n", addr,
                                r == 0 ? "end of stream" : strerror(errno));
                        exit(1);
                    }
                    break;
                }
            }
            /* latency-bound: the next message only when an echo is whole */
            uint64_t limit = wmsgs ? (l->recvd / frame + (uint64_t)wmsgs) * frame : l->recvd + window;
            while (l->sent < limit) {
                size_t k = plen - l->soff;
                if (k > limit - l->sent)
                    k = (size_t)(limit - l->sent);
                ssize_t w = write(l->fd, pat + l->soff, k);
                if (w <= 0)
                    break;
                l->sent += (uint64_t)w;
                l->soff = (l->soff + (size_t)w) % plen;
            }
            uint32_t want = EPOLLIN | (l->sent < limit ? EPOLLOUT : 0);
            if (want != l->events) {
                l->events = want;
                struct epoll_event ev = {.events = want, .data.ptr = l};
                epoll_ctl(ep, EPOLL_CTL_MOD, l->fd, &ev);
            }
        }
    }
    double dt = now_s() - t_start;
    uint64_t bytes = total - base;
    for (int i = 0; i < conns; i++)
        close(c[i].fd);
    close(ep);
    free(c);
    free(pat);
    free(scratch);
    *mbps = (double)bytes / dt / 1e6;
    *all = total;
    return (double)bytes / (double)frame / dt;
}

/* ------------------------------------------------------------- memory */

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

static int idle_memory(const char *bin, int nconn)
{
    int lp[2];
    if (pipe2(lp, O_CLOEXEC) != 0)
        die("pipe");
    server s;
    start_peer(&s, bin, 1, lp[1], NULL);
    close(lp[1]);
    fcntl(lp[0], F_SETFL, O_NONBLOCK);
    /* let the freshly started peer settle before the baseline */
    struct pollfd none;
    poll(&none, 0, 200);
    long before = rss_kib(s.pid);
    int *fds = malloc(sizeof(int) * (size_t)nconn);
    uint8_t frame[8 + 64], back[8 + 64];
    vsok_header_encode(frame, 64);
    memset(frame + 8, 'm', 64);
    int opened = 0;
    double t0 = now_s();
    for (; opened < nconn && now_s() - t0 < 60; opened++) {
        char err[256];
        if (vsok_connect(s.addr, 5000, &fds[opened], err, sizeof err) != VSOK_OK) {
            fprintf(stderr, "bench_peer: connection %d: %s\n", opened, err);
            break;
        }
        if (write(fds[opened], frame, sizeof frame) != (ssize_t)sizeof frame)
            die("write");
    }
    int echoed = 0;
    for (int i = 0; i < opened; i++) {
        struct pollfd pf = {fds[i], POLLIN, 0};
        if (poll(&pf, 1, 5000) > 0 && recv(fds[i], back, sizeof back, MSG_WAITALL) == (ssize_t)sizeof back)
            echoed++;
    }
    /* idle: the peer frees per-connection decoders after 1 s of silence */
    poll(&none, 0, 1500);
    long after = rss_kib(s.pid);
    kill(s.pid, SIGUSR1);
    poll(&none, 0, 300);
    char log[8192];
    ssize_t n = read(lp[0], log, sizeof log - 1);
    log[n > 0 ? n : 0] = 0;
    long heap = -1;
    const char *q = strstr(log, " mem_per_conn_bytes=");
    if (q)
        heap = strtol(q + 20, NULL, 10);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    stop(&s);
    close(lp[0]);
    double per = opened ? (double)(after - before) * 1024.0 / opened : 0;
    int ok = opened == nconn && echoed == nconn && per <= 16384;
    printf("\n# memory per idle connection (TCP, %d connections, one 64 B echo each)\n\n", nconn);
    printf("| connections | echoed | VmRSS before | VmRSS after | per connection | peer-reported heap/conn | "
           "target |\n");
    printf("|---|---|---|---|---|---|---|\n");
    printf("| %d | %d | %ld KiB | %ld KiB | %.0f B | %ld B | <= 16384 B %s |\n", opened, echoed, before,
           after, per, heap, ok ? "met" : "MISSED");
    printf("\n(VmRSS counts the peer's user memory; the kernel's socket buffers are not in it.)\n");
    return !ok;
}

#define MAXREP 32

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double t[MAXREP];
    memcpy(t, v, sizeof *v * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* "min / median / max" of v[0..n). */
static const char *spread(char *out, size_t len, const double *v, int n)
{
    double t[MAXREP];
    memcpy(t, v, sizeof *v * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    snprintf(out, len, "%.2f / %.2f / %.2f", t[0], median(v, n), t[n - 1]);
    return out;
}

/* Servers of run_one. */
enum { K_RAW, K_PEER, K_NAIVE, K_BUSY };

/* One run of one server (a K_*; K_BUSY: vsok-peer --busy-poll g_busy):
 * messages per second; *per_cpu gets bytes echoed per server CPU second,
 * *cpu_s (may be NULL) the server's CPU seconds per wall second. */
static double run_one(int kind, const char *bin, int tcp, size_t size, int conns, int wmsgs, double secs,
                      double *per_cpu, double *cpu_s)
{
    server s;
    double mb;
    uint64_t all;
    if (kind == K_PEER || kind == K_BUSY)
        start_peer(&s, bin, tcp, -1, kind == K_BUSY ? g_busy : NULL);
    else
        start_forked(&s, tcp, kind == K_NAIVE);
    double t0 = now_s();
    double v = load(s.addr, size, conns, wmsgs, secs, &mb, &all);
    double cpu = stop(&s), wall = now_s() - t0;
    *per_cpu = cpu > 0 ? (double)all / cpu : 0;
    if (cpu_s)
        *cpu_s = wall > 0 ? cpu / wall : 0;
    return v;
}

int main(int argc, char **argv)
{
    const char *bin = NULL;
    double secs = 0.6;
    int reps = 5, nconn = 10000, only_tcp = -1, skip_mem = 0, only_lat = 0, only_mem = 0, only_cost = 0;
    long only_size = 0, only_conns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            secs = 0.3;
            reps = 1;
        } else if (!strcmp(argv[i], "--peer") && i + 1 < argc) {
            bin = argv[++i];
        } else if (!strcmp(argv[i], "--conns") && i + 1 < argc) {
            nconn = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cell") && i + 3 < argc) {
            /* one throughput cell only, e.g. --cell tcp 65536 1 (for profiling) */
            only_tcp = !strcmp(argv[++i], "tcp");
            only_size = atol(argv[++i]);
            only_conns = atol(argv[++i]);
            skip_mem = 1;
        } else if (!strcmp(argv[i], "--latency")) {
            only_lat = 1; /* the latency-bound cells only */
            skip_mem = 1;
        } else if (!strcmp(argv[i], "--busy-poll") && i + 1 < argc) {
            g_busy = argv[++i]; /* the busy-poll row's window (default 50us) */
        } else if (!strcmp(argv[i], "--busy-cost")) {
            only_cost = 1; /* the busy-poll throughput cost table only */
            skip_mem = 1;
        } else if (!strcmp(argv[i], "--memory")) {
            only_mem = 1; /* the idle-connection memory cell only */
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_peer --peer PATH/vsok-peer [--quick] [--reps N] [--conns N]"
                            " [--cell tcp|unix SIZE CONNS] [--latency] [--busy-cost] [--busy-poll DUR]"
                            " [--memory]\n");
            return 2;
        }
    }
    if (!bin) {
        fprintf(stderr, "usage: bench_peer --peer PATH/vsok-peer [--quick] [--reps N] [--conns N]"
                        " [--cell tcp|unix SIZE CONNS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if ((long)rl.rlim_cur < nconn + 100)
            nconn = (int)rl.rlim_cur - 100;
    }

    int misses = 0;
    if (reps > MAXREP)
        reps = MAXREP;
    if (only_mem) {
        misses = idle_memory(bin, nconn);
        printf("\nbench_peer: %d target(s) missed\n", misses);
        return 0;
    }
    printf("# vsok-peer echo vs raw byte echo (same client and transport; %d interleaved runs x %.1f s)\n\n",
           reps, secs);
    if (!only_lat && !only_cost) {
        printf("Throughput (512 KiB window per connection).  Ratios are per run (each run's pair), "
               "min / median / max.\n\n");
        printf(
            "| transport | size | conns | raw msgs/s | peer msgs/s | peer/raw msgs/s | peer/raw per server "
            "CPU s | goal (per CPU s, median) |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
    }
    static const size_t sizes[] = {64, 65536};
    static const int conns[] = {1, 64};
    for (int tcp = 1; tcp >= 0 && !only_lat && !only_cost; tcp--) {
        for (size_t si = 0; si < 2; si++) {
            for (size_t ci = 0; ci < 2; ci++) {
                if (only_tcp >= 0 &&
                    (only_tcp != tcp || (size_t)only_size != sizes[si] || only_conns != conns[ci]))
                    continue;
                double raw[MAXREP], peer[MAXREP], rcpu[MAXREP], pcpu[MAXREP], q[MAXREP], qc[MAXREP];
                for (int r = 0; r < reps; r++) {
                    raw[r] = run_one(K_RAW, bin, tcp, sizes[si], conns[ci], 0, secs, &rcpu[r], NULL);
                    peer[r] = run_one(K_PEER, bin, tcp, sizes[si], conns[ci], 0, secs, &pcpu[r], NULL);
                    q[r] = raw[r] > 0 ? peer[r] / raw[r] : 0;
                    qc[r] = rcpu[r] > 0 ? pcpu[r] / rcpu[r] : 0;
                }
                double goal = sizes[si] == 64 ? 0.85 : 0.9;
                char sq[64], sqc[64];
                int ok = median(qc, reps) >= goal;
                misses += !ok;
                printf("| %s | %s | %d | %.0f | %.0f | %s | %s | >= %.2f %s |\n", tcp ? "tcp" : "unix",
                       sizes[si] == 64 ? "64 B" : "64 KiB", conns[ci], median(raw, reps), median(peer, reps),
                       spread(sq, sizeof sq, q, reps), spread(sqc, sizeof sqc, qc, reps), goal,
                       ok ? "met" : "MISSED");
                fflush(stdout);
            }
        }
    }
    if (!only_lat && !only_cost)
        printf(
            "\npeer/raw msgs/s is wall-clock throughput; per server CPU s divides the bytes echoed by the\n"
            "CPU time each server used, which other load on the machine disturbs far less.\n");

    if ((only_tcp < 0 && !only_lat) || only_cost) {
        /* what busy polling costs where it cannot help: a full pipeline
         * never lets the loop run dry, so any spin is pure overhead */
        printf("\nThroughput with --busy-poll %s (512 KiB window, 1 connection): its cost per server CPU "
               "second.\n\n",
               g_busy);
        printf(
            "| transport | size | peer msgs/s | busy msgs/s | busy/peer msgs/s | busy/peer per server CPU s "
            "| peer CPU s/s | busy CPU s/s |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        for (int tcp = 1; tcp >= 0; tcp--) {
            for (size_t si = 0; si < 2; si++) {
                double peer[MAXREP], busy[MAXREP], pcpu[MAXREP], bcpu[MAXREP], pu[MAXREP], bu[MAXREP];
                double q[MAXREP], qc[MAXREP];
                for (int r = 0; r < reps; r++) {
                    peer[r] = run_one(K_PEER, bin, tcp, sizes[si], 1, 0, secs, &pcpu[r], &pu[r]);
                    busy[r] = run_one(K_BUSY, bin, tcp, sizes[si], 1, 0, secs, &bcpu[r], &bu[r]);
                    q[r] = peer[r] > 0 ? busy[r] / peer[r] : 0;
                    qc[r] = pcpu[r] > 0 ? bcpu[r] / pcpu[r] : 0;
                }
                char sq[64], sqc[64];
                printf("| %s | %s | %.0f | %.0f | %s | %s | %.2f | %.2f |\n", tcp ? "tcp" : "unix",
                       sizes[si] == 64 ? "64 B" : "64 KiB", median(peer, reps), median(busy, reps),
                       spread(sq, sizeof sq, q, reps), spread(sqc, sizeof sqc, qc, reps), median(pu, reps),
                       median(bu, reps));
                fflush(stdout);
            }
        }
        printf("\nCPU s/s: server CPU seconds per wall second of the run (medians).\n");
    }

    if ((only_tcp < 0 || only_lat) && !only_cost) {
        char busy_name[64];
        snprintf(busy_name, sizeof busy_name, "peer --busy-poll %s", g_busy);
        printf("\nLatency-bound (1 connection, the next message sent only when an echo is whole).  Two rows "
               "per cell:\nthe default peer and %s, each with its own ratios (min / median / max of "
               "the runs).\n\n",
               busy_name);
        printf("| transport | size | in flight | server | raw msgs/s | server msgs/s | naive msgs/s | /raw | "
               "/naive | server CPU s/s | goal (medians) |\n");
        printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
        static const size_t lsizes[] = {64, 4096, 65536};
        static const int windows[] = {1, 4};
        int met[2] = {0, 0}, cells = 0;
        for (int tcp = 1; tcp >= 0; tcp--) {
            for (size_t wi = 0; wi < 2; wi++) {
                for (size_t si = 0; si < 3; si++) {
                    /* --latency --cell tcp SIZE WINDOW: one cell */
                    if (only_tcp >= 0 &&
                        (only_tcp != tcp || (size_t)only_size != lsizes[si] || only_conns != windows[wi]))
                        continue;
                    /* row 0: default peer, row 1: busy-poll peer */
                    double raw[MAXREP], naive[MAXREP], srv[2][MAXREP], q[2][MAXREP], qn[2][MAXREP],
                        cpu[2][MAXREP], bpc;
                    for (int r = 0; r < reps; r++) {
                        raw[r] = run_one(K_RAW, bin, tcp, lsizes[si], 1, windows[wi], secs, &bpc, NULL);
                        srv[0][r] =
                            run_one(K_PEER, bin, tcp, lsizes[si], 1, windows[wi], secs, &bpc, &cpu[0][r]);
                        srv[1][r] =
                            run_one(K_BUSY, bin, tcp, lsizes[si], 1, windows[wi], secs, &bpc, &cpu[1][r]);
                        naive[r] = run_one(K_NAIVE, bin, tcp, lsizes[si], 1, windows[wi], secs, &bpc, NULL);
                        for (int k = 0; k < 2; k++) {
                            q[k][r] = raw[r] > 0 ? srv[k][r] / raw[r] : 0;
                            qn[k][r] = naive[r] > 0 ? srv[k][r] / naive[r] : 0;
                        }
                    }
                    cells++;
                    for (int k = 0; k < 2; k++) {
                        char sq[64], sqn[64];
                        int ok = median(q[k], reps) >= 0.9 && median(qn[k], reps) >= 1.2;
                        misses += !ok;
                        met[k] += ok;
                        printf("| %s | %s | %d | %s | %.0f | %.0f | %.0f | %s | %s | %.2f | >= 0.9 and >= "
                               "1.2 %s "
                               "|\n",
                               tcp ? "tcp" : "unix",
                               lsizes[si] == 64     ? "64 B"
                               : lsizes[si] == 4096 ? "4 KiB"
                                                    : "64 KiB",
                               windows[wi], k ? busy_name : "peer", median(raw, reps), median(srv[k], reps),
                               median(naive, reps), spread(sq, sizeof sq, q[k], reps),
                               spread(sqn, sizeof sqn, qn[k], reps), median(cpu[k], reps),
                               ok ? "met" : "MISSED");
                    }
                    fflush(stdout);
                }
            }
        }
        printf("\nnaive: thread per connection, blocking read of the header, of the payload, two writes.\n"
               "server CPU s/s: the server's CPU seconds per wall second of the run (median).\n"
               "Latency goal met: peer in %d of %d cells, %s in %d of %d cells.\n",
               met[0], cells, busy_name, met[1], cells);
    }
    if (!skip_mem)
        misses += idle_memory(bin, nconn);
    printf("\nbench_peer: %d target(s) missed\n", misses);
    return 0;
}
