/* relay.c - validating proxy: LISTEN_ADDR <-> TARGET_ADDR.
 *
 * Bytes are forwarded as they arrive, but a frame header is held back until
 * all 8 bytes are in and valid, so what the far side receives before a
 * violation is a function of the byte stream, not of how it was split: every
 * frame before the bad one, and nothing of the bad one (unless
 * --keep-going).  Each direction ends with a half-close when its source
 * does.  Back-pressure: a direction whose destination will not take bytes
 * stops reading its source; at most one read (256 KiB) is buffered per
 * direction.
 *
 * The connection to a tcp: or vsock: target is non-blocking (bounded by
 * --connect-timeout) so a slow target holds up no other pair; the client is
 * not read until it completes.  unix: and fc: targets connect through the
 * library, synchronously: a local socket answers at once (or when its
 * backlog has room, within the timeout), and fc: needs its CONNECT
 * handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "outq.h"
#include "peer.h"
#include "stats.h"

static const char *const dir_name[2] = {"client-to-target", "target-to-client"};

/* Frame scanner: checks headers, skips payloads, holds a partial header. */
typedef struct scan {
    uint64_t off;         /* stream bytes consumed */
    uint64_t frame_start;
    uint32_t need;        /* payload bytes left in the current frame */
    uint8_t hdr[VSOK_HEADER_SIZE];
    uint8_t have;         /* header bytes held */
    uint64_t frames;
    vsok_err err;
    uint64_t err_off;
} scan;

typedef struct rend {
    ev e; /* first: epoll hands back &rend.e */
    uint32_t events;
    relay *r;
    int idx;
} rend;

typedef struct rdir {
    scan sc;
    outq q;
    uint8_t hdr_out[VSOK_HEADER_SIZE]; /* a header completed across reads */
    unsigned eof : 1;   /* source ended */
    unsigned shut : 1;  /* destination's write side shut */
    unsigned raw : 1;   /* --keep-going after a violation: no more checks */
    unsigned cut : 1;   /* stopped at a violation: source input is discarded */
    int64_t t_tx;
    int64_t t_frame;    /* when the frame under way began arriving, 0 between frames */
    uint64_t bytes;
} rdir;

struct relay {
    rend s[2]; /* 0 client, 1 target */
    rdir d[2]; /* d[i]: from s[i] to s[1-i] */
    relay *prev, *next;
    uint32_t id;
    unsigned dead : 1;
    unsigned connecting : 1; /* target connect in progress */
    unsigned closing : 1;
    unsigned lingering : 1;
    unsigned rd_done[2];
    int64_t t_act, t_linger, t_connect;
    size_t mem;
};

relay *next_relay(const relay *r)
{
    return r->next;
}

/* Writes what is staged for direction i; the rest goes to its queue. */
static int flush(loop *L, relay *r, int i)
{
    rdir *d = &r->d[i];
    int fd = r->s[1 - i].e.fd;
    size_t done = 0;
    int rc = 0;
    if (L->niov && d->q.bytes == 0) {
        ssize_t w;
        do
            w = writev(fd, L->iov, L->niov);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            rc = -1;
        else if (w > 0)
            done = (size_t)w;
    }
    if (rc == 0 && done < L->staged) {
        if (d->q.bytes == 0)
            d->t_tx = L->now;
        if (outq_append_iov(&d->q, L->iov, L->niov, done))
            rc = -1;
    }
    d->bytes += done;
    if (i == 0)
        g_stats.bytes_in += done;
    else
        g_stats.bytes_out += done;
    L->niov = 0;
    L->staged = 0;
    return rc;
}

/* Stages bytes for direction i, flushing when the iovec array is full.
 * Returns 0, or -1 when that flush failed. */
static int stage(loop *L, relay *r, int i, const uint8_t *p, size_t n)
{
    if (loop_stage(L, p, n) == 0)
        return 0;
    if (flush(L, r, i) != 0)
        return -1;
    return loop_stage(L, p, n);
}

static void violation(loop *L, relay *r, int i, vsok_err err, uint64_t off)
{
    r->d[i].sc.err = err;
    r->d[i].sc.err_off = off;
    g_stats.errors[err]++;
    g_stats.violations[i]++;
    plog(LOG_WARN, "violation", "conn=%" PRIu32 " dir=%s error=%s offset=%" PRIu64 " frames_ok=%" PRIu64
         " action=%s", r->id, dir_name[i], vsok_errname(err), off, r->d[i].sc.frames,
         L->o->keep_going ? "forward" : "half-close");
}

/* Scans and stages p[0..n) for direction i.  Returns 0, or 1 after a
 * violation in close mode (nothing from the bad frame on is staged). */
static int scan_stage(loop *L, relay *r, int i, const uint8_t *p, size_t n)
{
    rdir *d = &r->d[i];
    scan *s = &d->sc;
    const uint64_t base = s->off; /* stream offset of p[0] */
    size_t pos = 0;
    if (d->raw)
        return stage(L, r, i, p, n);
    while (pos < n) {
        if (s->need) {
            size_t k = n - pos < s->need ? n - pos : s->need;
            if (stage(L, r, i, p + pos, k) != 0)
                return -1;
            pos += k;
            s->off += k;
            s->need -= (uint32_t)k;
            if (!s->need) {
                s->frames++;
                if (i == 0)
                    g_stats.msgs_in++;
                else
                    g_stats.msgs_out++;
            }
            continue;
        }
        if (s->have == 0)
            s->frame_start = s->off;
        uint8_t b = p[pos];
        s->hdr[s->have++] = b;
        pos++;
        s->off++;
        if (s->have <= VSOK_MAGIC_SIZE && b != (uint8_t)VSOK_MAGIC[s->have - 1]) {
            violation(L, r, i, VSOK_E_MAGIC, s->off - 1);
            goto bad;
        }
        if (s->have < VSOK_HEADER_SIZE)
            continue;
        uint32_t len = 0;
        vsok_err e = vsok_header_decode_max(s->hdr, (uint32_t)L->o->max_payload, &len);
        s->have = 0;
        if (e != VSOK_OK) {
            violation(L, r, i, e, s->frame_start + VSOK_LENGTH_OFFSET);
            goto bad;
        }
        s->need = len;
        if (s->frame_start >= base) {
            if (stage(L, r, i, p + (s->frame_start - base), VSOK_HEADER_SIZE) != 0) /* all in p */
                return -1;
        } else {
            memcpy(d->hdr_out, s->hdr, VSOK_HEADER_SIZE);
            if (stage(L, r, i, d->hdr_out, VSOK_HEADER_SIZE) != 0)
                return -1;
        }
    }
    return 0;
bad:
    if (!L->o->keep_going)
        return 1;
    /* forward the rest unchecked, starting with the held header bytes */
    if (flush(L, r, i) != 0)
        return -1;
    d->raw = 1;
    if (s->frame_start >= base) {
        if (stage(L, r, i, p + (s->frame_start - base), n - (size_t)(s->frame_start - base)) != 0)
            return -1;
    } else {
        memcpy(d->hdr_out, s->hdr, (size_t)(base - s->frame_start));
        if (stage(L, r, i, d->hdr_out, (size_t)(base - s->frame_start)) != 0)
            return -1;
        if (stage(L, r, i, p, n) != 0)
            return -1;
    }
    return 0;
}

static int wants_read(const relay *r, int i)
{
    const rdir *d = &r->d[i];
    if (r->rd_done[i])
        return 0;
    return r->lingering || d->cut || (!r->closing && !d->eof && d->q.bytes == 0);
}

static void watch(loop *L, relay *r)
{
    for (int i = 0; i < 2; i++) {
        uint32_t want = 0;
        if (r->connecting) {
            /* the client waits (unread) until the target answers */
            if (loop_watch(L, &r->s[i].e, &r->s[i].events, i ? EPOLLOUT : 0) != 0)
                r->dead = 1;
            continue;
        }
        const rdir *out = &r->d[1 - i];
        if (wants_read(r, i))
            want |= EPOLLIN;
        if (out->q.bytes)
            want |= EPOLLOUT;
        if (loop_watch(L, &r->s[i].e, &r->s[i].events, want) != 0)
            r->dead = 1;
    }
    size_t mem = sizeof *r + r->d[0].q.alloc + r->d[1].q.alloc;
    stats_mem(r->mem, mem);
    r->mem = mem;
}

static void io_fail(loop *L, relay *r, int side, const char *op)
{
    int e = errno;
    const char *name = peer_errno_name(e);
    g_stats.errors[VSOK_E_IO]++;
    plog(e == ECONNRESET || e == EPIPE ? LOG_INFO : LOG_WARN, "io-error",
         "conn=%" PRIu32 " side=%s op=%s error=Io errno=%s", r->id, side ? "target" : "client", op,
         name ? name : "?");
    r->dead = 1;
    (void)L;
}

static void read_side(loop *L, relay *r, int i)
{
    rdir *d = &r->d[i];
    for (int round = 0; round < 4; round++) {
        ssize_t n = read(r->s[i].e.fd, L->rbuf, L->rbuf_size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                if (r->lingering)
                    r->rd_done[i] = 1;
                else
                    io_fail(L, r, i, "read");
            }
            return;
        }
        r->t_act = L->now;
        if (n == 0) {
            r->rd_done[i] = 1;
            if (r->lingering || r->closing || d->cut)
                return;
            d->eof = 1;
            if (!d->raw && (d->sc.have || d->sc.need))
                violation(L, r, i, VSOK_E_TRUNCATED, d->sc.off);
            return;
        }
        if (r->lingering || d->cut)
            continue; /* discarded: closing under unread input would reset */
        int v = scan_stage(L, r, i, L->rbuf, (size_t)n);
        if (v < 0 || flush(L, r, i) != 0) {
            io_fail(L, r, 1 - i, "write");
            return;
        }
        if (v == 1) {
            /* this direction ends here; the other runs until its source ends */
            d->cut = 1;
            d->eof = 1;
            return;
        }
        if (d->sc.have || d->sc.need) {
            if (!d->t_frame)
                d->t_frame = L->now;
        } else {
            d->t_frame = 0;
        }
        if (d->q.bytes || (size_t)n < L->rbuf_size)
            return;
    }
}

static void write_side(loop *L, relay *r, int i)
{
    /* side i is writable: drain direction 1-i */
    rdir *d = &r->d[1 - i];
    if (!d->q.bytes)
        return;
    ssize_t w = outq_write(&d->q, r->s[i].e.fd);
    if (w < 0) {
        io_fail(L, r, i, "write");
        return;
    }
    if (w > 0) {
        d->t_tx = L->now;
        r->t_act = L->now;
        d->bytes += (size_t)w;
        if (i == 1)
            g_stats.bytes_in += (size_t)w;
        else
            g_stats.bytes_out += (size_t)w;
    }
}

/* Half-closes drained directions; ends the pair when both are done. */
static void progress(loop *L, relay *r)
{
    if (r->dead)
        return;
    if (r->closing && !r->lingering) {
        if (r->d[0].q.bytes || r->d[1].q.bytes)
            return;
        for (int i = 0; i < 2; i++)
            shutdown(r->s[i].e.fd, SHUT_WR);
        r->lingering = 1;
        r->t_linger = L->now + L->o->linger_ms;
    }
    if (r->lingering) {
        if ((r->rd_done[0] && r->rd_done[1]) || L->o->linger_ms <= 0)
            r->dead = 1;
        return;
    }
    for (int i = 0; i < 2; i++) {
        rdir *d = &r->d[i];
        if (d->eof && !d->shut && !d->q.bytes) {
            d->shut = 1;
            if (shutdown(r->s[1 - i].e.fd, SHUT_WR) != 0 && errno != ENOTCONN) {
                io_fail(L, r, 1 - i, "shutdown");
                return;
            }
        }
    }
    if (r->d[0].shut && r->d[1].shut)
        r->dead = 1;
}

static void finish(loop *L, relay *r)
{
    progress(L, r);
    if (r->dead)
        relay_destroy(L, r);
    else
        watch(L, r);
}

static void connected(loop *L, relay *r);

void relay_event(loop *L, ev *e, uint32_t events)
{
    rend *end = (rend *)e;
    relay *r = end->r;
    int i = end->idx;
    if (r->dead)
        return;
    if (r->connecting) {
        if (i == 1)
            connected(L, r);
        else if (events & (EPOLLERR | EPOLLHUP))
            r->dead = 1; /* the client gave up first */
        finish(L, r);
        return;
    }
    if (events & EPOLLOUT)
        write_side(L, r, i);
    if (!r->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (wants_read(r, i)) {
            read_side(L, r, i);
        } else if (events & EPOLLERR) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
                errno = err;
                io_fail(L, r, i, "poll");
            }
        }
    }
    finish(L, r);
}

static void connect_failed(loop *L, relay *r, int client_fd, vsok_err err, int e)
{
    char t[300], q[600], c[300], why[400], qwhy[900];
    vsok_addr_format(&L->target, t, sizeof t);
    errno = e;
    vsok_addr_explain(&L->target, 1, err, why, sizeof why);
    g_stats.errors[err]++;
    g_stats.conns_refused++;
    plog(LOG_WARN, "connect-failed", "conn=%" PRIu32 " target=%s error=%s errno=%s client=%s reason=%s",
         r ? r->id : 0, log_q(q, sizeof q, t), vsok_errname(err), err == VSOK_E_IO ? peer_errno_name(e) : "-",
         peer_fd_name(client_fd, c, sizeof c), log_q(qwhy, sizeof qwhy, why));
}

/* The non-blocking connect finished (or failed). */
static void connected(loop *L, relay *r)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(r->s[1].e.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return;
    if (err) {
        connect_failed(L, r, r->s[0].e.fd, VSOK_E_IO, err);
        r->dead = 1;
        return;
    }
    r->connecting = 0;
    r->t_act = L->now;
    if (L->target.kind == VSOK_ADDR_TCP) {
        int one = 1;
        setsockopt(r->s[1].e.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

int relay_prepare(loop *L)
{
    vsok_addr *a = &L->target;
    L->target_salen = 0;
    if (a->kind == VSOK_ADDR_VSOCK) {
        struct sockaddr_vm svm;
        memset(&svm, 0, sizeof svm);
        svm.svm_family = AF_VSOCK;
        svm.svm_cid = a->cid;
        svm.svm_port = a->port;
        memcpy(&L->target_sa, &svm, sizeof svm);
        L->target_salen = sizeof svm;
    } else if (a->kind == VSOK_ADDR_TCP) {
        char port[16], q[600];
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof port, "%u", (unsigned)a->port);
        int rc = getaddrinfo(a->host, port, &hints, &res);
        if (rc != 0 || !res) {
            plog(LOG_ERROR, "address", "target=%s error=InvalidAddress reason=%s", log_q(q, sizeof q, a->host),
                 log_q(q + 300, 300, gai_strerror(rc)));
            return -1;
        }
        /* the first address getaddrinfo prefers; resolved once, at start */
        memcpy(&L->target_sa, res->ai_addr, res->ai_addrlen);
        L->target_salen = res->ai_addrlen;
        freeaddrinfo(res);
    }
    /* unix and fc connect through the library: immediate on a local
     * socket, and fc needs its CONNECT handshake */
    return 0;
}

static relay *relay_new(loop *L, int fd, int tfd)
{
    relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->id = ++L->next_id;
    r->t_act = L->now;
    for (int i = 0; i < 2; i++) {
        r->s[i].e.type = EV_RELAY;
        r->s[i].e.fd = i ? tfd : fd;
        r->s[i].r = r;
        r->s[i].idx = i;
        r->d[i].t_tx = L->now;
    }
    r->next = L->relays;
    if (L->relays)
        L->relays->prev = r;
    L->relays = r;
    L->nconns++;
    stats_conn_open();
    return r;
}

void relay_accept(loop *L, int fd)
{
    int tfd = -1, pending = 0;
    if (L->target_salen) {
        tfd = socket(L->target_sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (tfd < 0 || (connect(tfd, (struct sockaddr *)&L->target_sa, L->target_salen) != 0 &&
                        errno != EINPROGRESS)) {
            int e = errno;
            connect_failed(L, NULL, fd, VSOK_E_IO, e);
            if (tfd >= 0)
                close(tfd);
            close(fd);
            return;
        }
        pending = 1;
    } else {
        if (vsok_addr_connect(&L->target, L->o->connect_ms > 0 ? (int)L->o->connect_ms : -1, &tfd) !=
            VSOK_OK) {
            connect_failed(L, NULL, fd, VSOK_E_IO, errno);
            close(fd);
            return;
        }
        int fl = fcntl(tfd, F_GETFL);
        if (fl < 0 || fcntl(tfd, F_SETFL, fl | O_NONBLOCK) < 0) {
            close(fd);
            close(tfd);
            return;
        }
    }
    relay *r = relay_new(L, fd, tfd);
    if (!r) {
        plog(LOG_ERROR, "out-of-memory", "op=relay");
        close(fd);
        close(tfd);
        return;
    }
    r->connecting = pending ? 1 : 0;
    r->t_connect = L->now + (L->o->connect_ms > 0 ? L->o->connect_ms : 5000);
    if (log_enabled(LOG_DEBUG)) {
        char q[300];
        plog(LOG_DEBUG, "open", "conn=%" PRIu32 " client=%s", r->id, peer_fd_name(fd, q, sizeof q));
    }
    watch(L, r);
    if (r->dead)
        relay_destroy(L, r);
}

void relay_destroy(loop *L, relay *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        L->relays = r->next;
    if (r->next)
        r->next->prev = r->prev;
    for (int i = 0; i < 2; i++) {
        loop_forget(L, &r->s[i].e);
        close(r->s[i].e.fd);
        outq_free(&r->d[i].q);
    }
    stats_mem(r->mem, 0);
    L->nconns--;
    stats_conn_close();
    plog(LOG_DEBUG, "close",
         "conn=%" PRIu32 " frames_client_to_target=%" PRIu64 " frames_target_to_client=%" PRIu64
         " bytes_client_to_target=%" PRIu64 " bytes_target_to_client=%" PRIu64,
         r->id, r->d[0].sc.frames, r->d[1].sc.frames, r->d[0].bytes, r->d[1].bytes);
    /* events for it may still be in this batch: free after the batch */
    r->dead = 1;
    r->prev = NULL;
    r->next = L->dead_relays;
    L->dead_relays = r;
}

void relay_reap(loop *L)
{
    while (L->dead_relays) {
        relay *r = L->dead_relays;
        L->dead_relays = r->next;
        free(r);
    }
}

void relay_sweep(loop *L, relay *r)
{
    const peer_opts *o = L->o;
    int64_t now = L->now;
    if (r->connecting) {
        if (now >= r->t_connect) {
            connect_failed(L, r, r->s[0].e.fd, VSOK_E_TIMEOUT, 0);
            r->dead = 1;
        }
    } else if (r->lingering) {
        if (now >= r->t_linger)
            r->dead = 1;
    } else {
        for (int i = 0; i < 2 && !r->dead; i++) {
            if (r->d[i].q.bytes && o->write_ms && now - r->d[i].t_tx >= o->write_ms) {
                g_stats.errors[VSOK_E_TIMEOUT]++;
                g_stats.timeouts_write++;
                plog(LOG_WARN, "timeout", "conn=%" PRIu32 " dir=%s error=Timeout kind=write pending=%zu",
                     r->id, dir_name[i], r->d[i].q.bytes);
                r->dead = 1;
            }
        }
        for (int i = 0; i < 2 && !r->dead && !r->closing; i++) {
            rdir *d = &r->d[i];
            /* a frame trickling in (slowloris): not our stall if we hold output */
            if (d->t_frame && !d->eof && !d->raw && !d->q.bytes && o->msg_ms &&
                now - d->t_frame >= o->msg_ms) {
                g_stats.timeouts_msg++;
                violation(L, r, i, VSOK_E_TIMEOUT, d->sc.off);
                d->cut = 1;
                d->eof = 1;
                d->t_frame = 0;
            }
        }
        if (!r->dead && !r->closing && o->idle_ms && now - r->t_act >= o->idle_ms) {
            g_stats.timeouts_idle++;
            plog(LOG_INFO, "idle-timeout", "conn=%" PRIu32, r->id);
            r->closing = 1;
        }
        if (!r->dead && L->stopping && !r->closing) {
            int busy = 0;
            for (int i = 0; i < 2; i++)
                busy |= !r->d[i].eof && (r->d[i].sc.have || r->d[i].sc.need);
            if (!busy)
                r->closing = 1;
        }
    }
    finish(L, r);
}
