/* loop.c - the epoll loop: listener, signals, timers, accept policy.
 *
 * Level-triggered epoll; each object's interest is kept in step with its
 * state by loop_watch.  Timers are a periodic sweep over all connections
 * (10,000 connections cost microseconds per sweep), which keeps a
 * connection's timer state to three timestamps instead of heap nodes.
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
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "stats.h"

#define RBUF_SIZE (256 * 1024) /* whole 64 KiB frames usually fit: echoed without a copy */
#define ACCEPT_BATCH 256

#define WATCHED 0x80000000u /* in *cur: registered with epoll */

int loop_watch(loop *L, ev *e, uint32_t *cur, uint32_t want)
{
    /* registered even with no interest, so errors and hang-ups still wake us */
    if (*cur == (want | WATCHED))
        return 0;
    struct epoll_event ee = {.events = want, .data.ptr = e};
    int op = (*cur & WATCHED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(L->epfd, op, e->fd, &ee) != 0)
        return -1;
    *cur = want | WATCHED;
    return 0;
}

int loop_stage(loop *L, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (L->niov) {
        struct iovec *last = &L->iov[L->niov - 1];
        if ((const uint8_t *)last->iov_base + last->iov_len == (const uint8_t *)p) {
            last->iov_len += n;
            L->staged += n;
            return 0;
        }
    }
    if (L->niov == PEER_IOV_MAX)
        return -1;
    L->iov[L->niov].iov_base = (void *)p;
    L->iov[L->niov].iov_len = n;
    L->niov++;
    L->staged += n;
    return 0;
}

void loop_forget(loop *L, ev *e)
{
    epoll_ctl(L->epfd, EPOLL_CTL_DEL, e->fd, NULL);
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
    L->rbuf_size = RBUF_SIZE;
    L->rbuf = malloc(RBUF_SIZE);
    if (L->epfd < 0 || !L->rbuf) {
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
    L->sig.type = EV_SIGNAL;
    uint32_t cur = 0;
    if (loop_watch(L, &L->sig, &cur, EPOLLIN) != 0)
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

    if (o->mode == MODE_SOURCE) {
        size_t n = o->pattern ? strlen(o->pattern) : o->size;
        if (vsok_header_encode(L->src_hdr, n) != VSOK_OK) {
            plog(LOG_ERROR, "usage", "source payload of %zu bytes is not 1..%u", n, VSOK_MAX_PAYLOAD);
            return -1;
        }
        L->src_payload = malloc(n);
        if (!L->src_payload)
            return -1;
        if (o->pattern)
            memcpy(L->src_payload, o->pattern, n);
        else
            for (size_t i = 0; i < n; i++)
                L->src_payload[i] = (uint8_t)('a' + i % 26);
    }
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
    L->lst.type = EV_LISTENER;
    L->lst.fd = fd;
    L->lst_tcp = a.kind == VSOK_ADDR_TCP;
    if (a.kind == VSOK_ADDR_UNIX && !a.abstract)
        snprintf(L->lst_unlink, sizeof L->lst_unlink, "%s", a.path);
    if (loop_watch(L, &L->lst, &L->lst_events, EPOLLIN) != 0)
        return EXIT_SETUP;
    return peer_announce(L->o, fd) == 0 ? EXIT_OK : EXIT_SETUP;
}

int loop_add_fd(loop *L, int fd, int connected_by_us)
{
    if (L->is_relay) {
        relay_accept(L, fd);
        return 0;
    }
    conn_new(L, fd, connected_by_us);
    return 0;
}

static void stop_listening(loop *L)
{
    if (L->lst.fd < 0)
        return;
    loop_forget(L, &L->lst);
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

static void on_accept(loop *L)
{
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
            if (loop_watch(L, &L->lst, &L->lst_events, 0) == 0)
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

static void on_signal(loop *L)
{
    struct signalfd_siginfo si;
    while (read(L->sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1)
            stats_print("stats", LOG_INFO | LOG_FORCE);
        else
            begin_stop(L, (int)si.ssi_signo);
    }
}

static void sweep(loop *L)
{
    refuse_log(L, 0);
    if (L->accept_paused && L->lst.fd >= 0) {
        if (L->spare_fd < 0)
            L->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (loop_watch(L, &L->lst, &L->lst_events, EPOLLIN) == 0)
            L->accept_paused = 0;
    }
    for (conn *c = L->conns, *n; c; c = n) {
        n = next_conn(c);
        conn_sweep(L, c);
    }
    for (relay *r = L->relays, *n; r; r = n) {
        n = next_relay(r);
        relay_sweep(L, r);
    }
}

static void close_all(loop *L)
{
    while (L->conns)
        conn_destroy(L, L->conns);
    while (L->relays)
        relay_destroy(L, L->relays);
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
        int n = epoll_wait(L->epfd, evs, 256, (int)wait);
        if (n < 0 && errno != EINTR) {
            plog(LOG_ERROR, "epoll", "error=%s", strerror(errno));
            close_all(L);
            loop_result(L, EXIT_IO);
            break;
        }
        L->now = vsok_now_ms();
        for (int i = 0; i < n; i++) {
            ev *e = evs[i].data.ptr;
            switch (e->type) {
            case EV_SIGNAL:
                on_signal(L);
                break;
            case EV_LISTENER:
                on_accept(L);
                break;
            case EV_CONN:
                conn_event(L, (conn *)e, evs[i].events);
                break;
            case EV_RELAY:
                relay_event(L, e, evs[i].events);
                break;
            }
        }
        relay_reap(L);
        if (L->now >= L->next_sweep) {
            sweep(L);
            relay_reap(L);
            L->next_sweep = L->now + L->sweep_ms;
        }
    }
    refuse_log(L, 1);
    return L->exit_code;
}

void loop_free(loop *L)
{
    close_all(L);
    relay_reap(L);
    stop_listening(L);
    if (L->sig.fd >= 0)
        close(L->sig.fd);
    if (L->epfd >= 0)
        close(L->epfd);
    if (L->spare_fd >= 0)
        close(L->spare_fd);
    free(L->rbuf);
    free(L->src_payload);
}
