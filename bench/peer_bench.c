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
 * each, and the peer's VmRSS before and after.  Loopback only, every run
 * bounded in time. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
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

static void start_raw(server *s, int tcp)
{
    int lfd;
    char err[256];
    if (tcp)
        snprintf(s->addr, sizeof s->addr, "tcp:127.0.0.1:0");
    else
        snprintf(s->addr, sizeof s->addr, "unix:@vsok-bench-raw-%d", getpid());
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
        raw_echo_main(lfd, tcp);
        _exit(0);
    }
    close(lfd);
}

static void start_peer(server *s, const char *bin, int tcp, int out_fd)
{
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) != 0)
        die("pipe");
    char unixaddr[128];
    snprintf(unixaddr, sizeof unixaddr, "unix:@vsok-bench-peer-%d", getpid());
    const char *argv[] = {bin,      "--ready-fd", "3", "-q", "--idle-timeout", "0", "--max-conns", "20000",
                          "listen", tcp ? "tcp:127.0.0.1:0" : unixaddr, NULL};
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

/* Stops the server; returns the CPU seconds it used (user + system). */
static double stop(server *s)
{
    kill(s->pid, SIGTERM);
    int st;
    struct rusage ru;
    if (wait4(s->pid, &st, 0, &ru) < 0)
        return 0;
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

/* Echoed frames per second over conns connections for secs seconds. */
static double load(const char *addr, size_t msg, int conns, double secs, double *mbps, uint64_t *all)
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
                        fprintf(stderr, "bench_peer: server closed a connection\n");
                        exit(1);
                    }
                    break;
                }
            }
            while (l->sent - l->recvd < window) {
                size_t k = plen - l->soff;
                if (k > window - (l->sent - l->recvd))
                    k = (size_t)(window - (l->sent - l->recvd));
                ssize_t w = write(l->fd, pat + l->soff, k);
                if (w <= 0)
                    break;
                l->sent += (uint64_t)w;
                l->soff = (l->soff + (size_t)w) % plen;
            }
            uint32_t want = EPOLLIN | (l->sent - l->recvd < window ? EPOLLOUT : 0);
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
    start_peer(&s, bin, 1, lp[1]);
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
    printf("| connections | echoed | VmRSS before | VmRSS after | per connection | peer-reported heap/conn | target |\n");
    printf("|---|---|---|---|---|---|---|\n");
    printf("| %d | %d | %ld KiB | %ld KiB | %.0f B | %ld B | <= 16384 B %s |\n", opened, echoed, before, after,
           per, heap, ok ? "met" : "MISSED");
    printf("\n(VmRSS counts the peer's user memory; the kernel's socket buffers are not in it.)\n");
    return !ok;
}

int main(int argc, char **argv)
{
    const char *bin = NULL;
    double secs = 0.6;
    int reps = 5, nconn = 10000, only_tcp = -1, skip_mem = 0;
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
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_peer --peer PATH/vsok-peer [--quick] [--reps N] [--conns N]"
                            " [--cell tcp|unix SIZE CONNS]\n");
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

    static const size_t sizes[] = {64, 65536};
    static const int conns[] = {1, 64};
    int misses = 0;
    printf("# vsok-peer echo vs raw byte echo (same client and transport; best of %d x %.1f s)\n\n", reps,
           secs);
    printf("| transport | size | conns | raw msgs/s | raw MB/s | peer msgs/s | peer MB/s | peer/raw | target "
           "| peer/raw per server CPU s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int tcp = 1; tcp >= 0; tcp--) {
        for (size_t si = 0; si < 2; si++) {
            for (size_t ci = 0; ci < 2; ci++) {
                if (only_tcp >= 0 && (only_tcp != tcp || (size_t)only_size != sizes[si] ||
                                      only_conns != conns[ci]))
                    continue;
                double raw = 0, rawmb = 0, peer = 0, peermb = 0, rawcpu = 0, peercpu = 0;
                for (int r = 0; r < reps; r++) {
                    server s;
                    double mb, v, cpu;
                    uint64_t all;
                    start_raw(&s, tcp);
                    v = load(s.addr, sizes[si], conns[ci], secs, &mb, &all);
                    cpu = stop(&s);
                    if (v > raw) {
                        raw = v;
                        rawmb = mb;
                    }
                    if (cpu > 0 && (double)all / cpu > rawcpu)
                        rawcpu = (double)all / cpu;
                    start_peer(&s, bin, tcp, -1);
                    v = load(s.addr, sizes[si], conns[ci], secs, &mb, &all);
                    cpu = stop(&s);
                    if (v > peer) {
                        peer = v;
                        peermb = mb;
                    }
                    if (cpu > 0 && (double)all / cpu > peercpu)
                        peercpu = (double)all / cpu;
                }
                double ratio = raw > 0 ? peer / raw : 0, target = sizes[si] == 64 ? 0.6 : 0.8;
                int ok = ratio >= target;
                misses += !ok;
                printf("| %s | %s | %d | %.0f | %.1f | %.0f | %.1f | %.2f | >= %.1f %s | %.2f |\n",
                       tcp ? "tcp" : "unix", sizes[si] == 64 ? "64 B" : "64 KiB", conns[ci], raw, rawmb, peer,
                       peermb, ratio, target, ok ? "met" : "MISSED", rawcpu > 0 ? peercpu / rawcpu : 0);
                fflush(stdout);
            }
        }
    }
    printf("\npeer/raw: echoed messages per second, best of %d runs each, alternating.  The last column\n"
           "divides bytes echoed by the CPU time each server used, which other load on the machine\n"
           "disturbs far less than wall-clock throughput.\n",
           reps);
    if (!skip_mem)
        misses += idle_memory(bin, nconn);
    printf("\nbench_peer: %d target(s) missed\n", misses);
    return 0;
}
