/* SPDX-License-Identifier: MIT */
/* loop.c - the epoll loop: listener, signals, timers, accept policy.
 *
 * Level-triggered epoll.  Each registered io carries its own callback, so
 * the loop dispatches without knowing what a handle is; each io's interest
 * is kept in step with its owner's state by io_watch, and a handle with no
 * interest is not registered at all.  Timers are a periodic sweep over all connections
 * (10,000 connections cost microseconds per sweep), which keeps a
 * connection's timer state to three timestamps instead of heap nodes; a
 * handle that needs an earlier look (echo's wait for the kernel to take
 * output) asks for it with loop_sweep_by.
 *
 * Busy poll (--busy-poll, off by default): where the loop would sleep, it
 * polls (epoll_wait with timeout 0) instead, until busy_poll_us after the
 * end of the last batch of events it handled, then sleeps as before.  A
 * client that answers within the window is served without the cost of a
 * sleep and wake-up.  Adaptive: a window that runs out with no event turns
 * polling off; it comes back on when a sleep is ended by an event that came
 * within busy_poll_us of the last one (the window would have caught it).
 * So a peer polls at most busy_poll_us after its last event, and a client
 * slower than the window costs one wasted window, not one per message.  The
 * loop's timers bound the wait as always: a sweep due ends the polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "stats.h"

#define ACCEPT_BATCH 256

int io_watch(loop *L, io *w, uint32_t want)
{
    if (w->want == want)
        return 0;
    if (want == 0) {
        /* not registered with no interest: a socket hung up both ways
         * reports EPOLLHUP whatever the interest, and would spin the loop */
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->want = 0;
        return 0;
    }
    struct epoll_event ee = {.events = want, .data.ptr = w};
    int op = w->want ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(L->epfd, op, w->fd, &ee) != 0)
        return -1;
    w->want = want;
    return 0;
}

void loop_free_later(loop *L, void *p)
{
    if (L->nlater == L->later_cap) {
        size_t cap = L->later_cap ? 2 * L->later_cap : 16;
        void **n = realloc(L->later, cap * sizeof *n);
        if (!n) {
            /* cannot defer: leak rather than risk a use after free */
            plog(LOG_ERROR, "out-of-memory", "op=free-later");
            return;
        }
        L->later = n;
        L->later_cap = cap;
    }
    L->later[L->nlater++] = p;
}

static void on_signal(loop *L, io *w, uint32_t events);
static void on_accept(loop *L, io *w, uint32_t events);

static void free_deferred(loop *L)
{
    for (size_t i = 0; i < L->nlater; i++)
        free(L->later[i]);
    L->nlater = 0;
}

void loop_result(loop *L, int code)
{
    if (code > L->exit_code)
        L->exit_code = code;
}

static int64_t min_pos(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    if (b <= 0)
        return a;
    return a < b ? a : b;
}

int loop_init(loop *L, const peer_opts *o)
{
    memset(L, 0, sizeof *L);
    L->o = o;
    L->epfd = -1;
    L->lst.fd = -1;
    L->sig.fd = -1;
    L->now = vsok_now_ms();
    L->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L->epfd < 0) {
        plog(LOG_ERROR, "setup", "op=epoll error=%s", strerror(errno));
        return -1;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
        (L->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        plog(LOG_ERROR, "setup", "op=signalfd error=%s", strerror(errno));
        return -1;
    }
    L->sig.cb = on_signal;
    if (io_watch(L, &L->sig, EPOLLIN) != 0)
        return -1;

    int64_t t = 0;
    t = min_pos(t, o->idle_ms);
    t = min_pos(t, o->msg_ms);
    t = min_pos(t, o->write_ms);
    t = min_pos(t, o->linger_ms);
    t = min_pos(t, o->drain_ms);
    t = t > 0 ? t / 4 : 1000;
    if (t < 10)
        t = 10;
    if (t > 250)
        t = 250;
    L->sweep_ms = t;
    L->next_sweep = L->now + t;

    if (!(L->svc = serve_new(L)))
        return -1;
    return 0;
}

static int write_port_file(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = peer_write_all(fd, text, n) == 0 && peer_write_all(fd, "\n", 1) == 0;
    if (close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int peer_announce(const peer_opts *o, int fd)
{
    vsok_addr a;
    char text[512], q[600];
    if (vsok_addr_from_fd(fd, 0, &a) != VSOK_OK || vsok_addr_format(&a, text, sizeof text) < 0) {
        snprintf(text, sizeof text, "fd:%d", fd);
    }
    plog(LOG_INFO, "listening", "address=%s", log_q(q, sizeof q, text));
    if (o->port_file && write_port_file(o->port_file, text) != 0) {
        plog(LOG_ERROR, "setup", "op=port-file file=%s error=%s", log_q(q, sizeof q, o->port_file),
             log_q(text, sizeof text, strerror(errno)));
        return -1;
    }
    if (o->ready_fd >= 0) {
        size_t n = strlen(text);
        text[n++] = '\n';
        int rc = peer_write_all(o->ready_fd, text, n);
        close(o->ready_fd);
        if (rc != 0) {
            plog(LOG_ERROR, "setup", "op=ready-fd error=%s", log_q(q, sizeof q, strerror(errno)));
            return -1;
        }
    }
    return 0;
}

int loop_listen(loop *L, const char *text)
{
    vsok_addr a;
    char err[256], q[600];
    if (peer_parse_addr(&a, text) != 0)
        return EXIT_USAGE;
    int fd = -1;
    if (vsok_addr_listen(&a, L->o->backlog, &fd) != VSOK_OK) {
        plog(LOG_ERROR, "listen", "address=%s error=%s", log_q(q, sizeof q, text),
             log_q(err, sizeof err, strerror(errno)));
        return EXIT_SETUP;
    }
    if (a.kind == VSOK_ADDR_FD) {
        int on = 0;
        socklen_t len = sizeof on;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) {
            /* an inherited connected socket: serve just it */
            int fl = fcntl(fd, F_GETFL);
            if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return EXIT_SETUP;
            return loop_add_fd(L, fd, 1) == 0 ? EXIT_OK : EXIT_SETUP;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return EXIT_SETUP;
    }
    L->lst.cb = on_accept;
    L->lst.fd = fd;
    L->lst_tcp = a.kind == VSOK_ADDR_TCP;
    if (a.kind == VSOK_ADDR_UNIX && !a.abstract)
        snprintf(L->lst_unlink, sizeof L->lst_unlink, "%s", a.path);
    if (io_watch(L, &L->lst, EPOLLIN) != 0)
        return EXIT_SETUP;
    return peer_announce(L->o, fd) == 0 ? EXIT_OK : EXIT_SETUP;
}

int loop_add_fd(loop *L, int fd, int connected_by_us)
{
    L->svc->add(L->svc, fd, connected_by_us);
    return 0;
}

static void stop_listening(loop *L)
{
    if (L->lst.fd < 0)
        return;
    io_watch(L, &L->lst, 0);
    close(L->lst.fd);
    L->lst.fd = -1;
    if (L->lst_unlink[0])
        unlink(L->lst_unlink);
    L->lst_unlink[0] = 0;
}

static const char *refuse_why; /* reason of the latest refusal (one loop per process) */

/* One line for the refusals since the last one: at most one a second (a
 * flood must not become a log flood), and what the limit held back is
 * logged by the sweep once the second is over, or at exit (force). */
static void refuse_log(loop *L, int force)
{
    if (!L->refused_unlogged || (!force && L->now - L->refuse_logged_at < 1000))
        return;
    plog(LOG_WARN, "refused", "reason=%s count=%" PRIu64 " active=%u max_conns=%u", refuse_why,
         L->refused_unlogged, L->nconns, L->o->max_conns);
    L->refuse_logged_at = L->now;
    L->refused_unlogged = 0;
}

static void refuse(loop *L, int fd, const char *why)
{
    if (fd >= 0)
        close(fd);
    g_stats.conns_refused++;
    L->refused_unlogged++;
    refuse_why = why;
    refuse_log(L, 0);
}

static void on_accept(loop *L, io *w, uint32_t events)
{
    (void)w;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH && L->lst.fd >= 0; i++) {
        int fd = accept4(L->lst.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if ((errno == EMFILE || errno == ENFILE) && L->spare_fd >= 0) {
                /* free the spare descriptor to take the connection off the
                 * queue and refuse it; otherwise epoll would wake us forever */
                close(L->spare_fd);
                int x = accept4(L->lst.fd, NULL, NULL, SOCK_CLOEXEC);
                int drained = x < 0; /* EMFILE comes before the queue is looked at */
                if (x >= 0)
                    refuse(L, x, "descriptors");
                L->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (drained)
                    return;
                continue;
            }
            /* no spare descriptor (or another error): stop accepting until the
             * next sweep rather than spin on a listener that stays readable */
            char q[200];
            plog(LOG_ERROR, "accept", "error=%s action=pause", log_q(q, sizeof q, strerror(errno)));
            if (io_watch(L, &L->lst, 0) == 0)
                L->accept_paused = 1;
            return;
        }
        if (L->stopping) {
            refuse(L, fd, "shutting-down");
            continue;
        }
        if (L->lst_tcp) {
            /* echoes are whole frames: never hold one back for Nagle */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (L->nconns >= L->o->max_conns) {
            refuse(L, fd, "max-conns");
            continue;
        }
        loop_add_fd(L, fd, 0);
    }
}

static void begin_stop(loop *L, int sig)
{
    if (L->stopping) {
        plog(LOG_WARN, "shutdown", "signal=%s second signal: closing everything now",
             sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        L->drain_deadline = L->now;
        return;
    }
    L->stopping = 1;
    L->drain_deadline = L->now + (L->o->drain_ms > 0 ? L->o->drain_ms : 0);
    plog(LOG_INFO, "shutdown", "signal=%s active=%u drain_ms=%" PRId64,
         sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", L->nconns, L->o->drain_ms);
    stop_listening(L);
    L->next_sweep = L->now; /* close idle connections at once */
}

static void on_signal(loop *L, io *w, uint32_t events)
{
    (void)w;
    (void)events;
    struct signalfd_siginfo si;
    while (read(L->sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1)
            stats_print("stats", LOG_INFO | LOG_FORCE);
        else
            begin_stop(L, (int)si.ssi_signo);
    }
}

void loop_sweep_by(loop *L, int64_t at)
{
    if (L->next_sweep > at)
        L->next_sweep = at;
}

static void sweep(loop *L)
{
    refuse_log(L, 0);
    if (L->accept_paused && L->lst.fd >= 0) {
        if (L->spare_fd < 0)
            L->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (io_watch(L, &L->lst, EPOLLIN) == 0)
            L->accept_paused = 0;
    }
    L->svc->sweep(L->svc);
}

static void close_all(loop *L)
{
    if (L->svc)
        L->svc->close_all(L->svc);
}

/* Microseconds of CLOCK_MONOTONIC: the busy-poll window is finer than the
 * loop's millisecond clock. */
static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int loop_run(loop *L)
{
    struct epoll_event evs[256];
    for (;;) {
        L->now = vsok_now_ms();
        if (L->stopping && L->nconns == 0)
            break;
        if (L->stopping && L->now >= L->drain_deadline) {
            if (L->nconns)
                plog(LOG_WARN, "shutdown", "drain timeout: closing %u connections", L->nconns);
            close_all(L);
            break;
        }
        if (!L->stopping && L->lst.fd < 0 && L->nconns == 0)
            break; /* client roles: every connection done */
        int64_t wait = L->next_sweep - L->now;
        if (L->stopping && L->drain_deadline - L->now < wait)
            wait = L->drain_deadline - L->now;
        if (wait < 0)
            wait = 0;
        int slept = 0; /* busy poll: this wait may block */
        if (wait > 0 && L->o->busy_poll_us > 0) {
            if (mono_us() >= L->busy_until_us)
                L->spin_off = 1; /* the window ran out with no event (or never opened) */
            if (!L->spin_off)
                wait = 0; /* poll; the timers above still bound the window */
            else
                slept = 1;
        }
        int n = epoll_wait(L->epfd, evs, 256, (int)wait);
        if (n > 0 && slept) /* would the window have caught these events? */
            L->spin_off = mono_us() >= L->busy_until_us;
        if (n < 0 && errno != EINTR) {
            plog(LOG_ERROR, "epoll", "error=%s", strerror(errno));
            close_all(L);
            loop_result(L, EXIT_IO);
            break;
        }
        L->now = vsok_now_ms();
        for (int i = 0; i < n; i++) {
            io *w = evs[i].data.ptr;
            w->cb(L, w, evs[i].events);
        }
        free_deferred(L);
        if (n > 0 && L->o->busy_poll_us > 0)
            L->busy_until_us = mono_us() + L->o->busy_poll_us;
        if (L->now >= L->next_sweep) {
            L->next_sweep = L->now + L->sweep_ms; /* before: a handle may ask for an earlier one */
            sweep(L);
            free_deferred(L);
        }
    }
    refuse_log(L, 1);
    return L->exit_code;
}

void loop_free(loop *L)
{
    close_all(L);
    free_deferred(L);
    if (L->svc)
        L->svc->free(L->svc);
    stop_listening(L);
    if (L->sig.fd >= 0)
        close(L->sig.fd);
    if (L->epfd >= 0)
        close(L->epfd);
    if (L->spare_fd >= 0)
        close(L->spare_fd);
    free(L->later);
}
