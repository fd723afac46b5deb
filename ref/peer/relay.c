/* SPDX-License-Identifier: MIT */
/* relay.c - validating proxy: LISTEN_ADDR <-> TARGET_ADDR.
 *
 * One direction's data, in order: read (read_side, into the service's read
 * buffer) -> decode (forward: the library's decoder in pass-through mode,
 * vsok_decoder_scan, judges every frame and never copies a payload) ->
 * stage and write (the output queue module, as the echo service).  Bytes are
 * forwarded as they arrive, but a frame header is held back until all 8
 * bytes are in and valid, so what the far side receives before a violation
 * is a function of the byte stream, not of how it was split: every frame
 * before the bad one, and nothing of the bad one (unless --keep-going).
 * The message clock and the error offsets are the echo service's (the
 * decoder's): a frame's clock starts in the read that brings its first
 * byte.  Memory: the struct, two decoders (no payload buffer), the queues.  Each direction ends with a half-close when its source
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

#define RBUF_SIZE (256 * 1024)

static const char *const dir_name[2] = {"client-to-target", "target-to-client"};

typedef struct relays relays;
typedef struct relay relay;

/* The service: the target, the pairs, the scratch they share. */
struct relays {
    service svc; /* first */
    loop *L;
    const peer_opts *o;
    vsok_addr target;
    struct sockaddr_storage target_sa; /* tcp/vsock targets: connected without blocking */
    socklen_t target_salen;            /* 0: connect through the library (unix, fc) */
    relay *pairs;
    uint8_t *rbuf;
    outq_batch out;
};

typedef struct rend {
    io w; /* first: epoll hands back &rend.w */
    relay *r;
    int idx;
} rend;

typedef struct rdir {
    vsok_decoder *dec; /* pass-through: holds at most a header */
    outq q;
    uint8_t hdr_out[VSOK_HEADER_SIZE]; /* a header completed across reads */
    unsigned eof : 1;                  /* source ended */
    unsigned shut : 1;                 /* destination's write side shut */
    unsigned raw : 1;                  /* --keep-going after a violation: no more checks */
    unsigned cut : 1;                  /* stopped at a violation: source input is discarded */
    int64_t t_tx;
    int64_t t_frame; /* when the frame under way began arriving, 0 between frames */
    uint64_t bytes, frames;
} rdir;

struct relay {
    rend s[2]; /* 0 client, 1 target */
    rdir d[2]; /* d[i]: from s[i] to s[1-i] */
    relays *R;
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

static int in_frame(const rdir *d) { return !vsok_decoder_at_boundary(d->dec); }

static void wrote(relay *r, int i, ssize_t w)
{
    if (w <= 0)
        return;
    rdir *d = &r->d[i];
    d->t_tx = r->R->L->now;
    r->t_act = r->R->L->now;
    d->bytes += (size_t)w;
    if (i == 0)
        g_stats.bytes_in += (size_t)w;
    else
        g_stats.bytes_out += (size_t)w;
}

/* write: what is staged for direction i; the rest goes to its queue. */
static int flush(relay *r, int i)
{
    rdir *d = &r->d[i];
    int was_empty = d->q.bytes == 0;
    ssize_t w = outq_flush(&d->q, &r->R->out, r->s[1 - i].w.fd);
    if (w < 0)
        return -1;
    wrote(r, i, w);
    if (was_empty && d->q.bytes)
        d->t_tx = r->R->L->now;
    return 0;
}

/* stage: p[0..n) for direction i (borrowed until the flush). */
static int stage(relay *r, int i, const uint8_t *p, size_t n)
{
    ssize_t w = outq_stage(&r->d[i].q, &r->R->out, r->s[1 - i].w.fd, p, n);
    if (w < 0)
        return -1;
    wrote(r, i, w);
    return 0;
}

static void violation(relay *r, int i, vsok_err err, uint64_t off)
{
    g_stats.errors[err]++;
    g_stats.violations[i]++;
    plog(LOG_WARN, "violation",
         "conn=%" PRIu32 " dir=%s error=%s offset=%" PRIu64 " frames_ok=%" PRIu64 " action=%s", r->id,
         dir_name[i], vsok_errname(err), off, r->d[i].frames, r->R->o->keep_going ? "forward" : "half-close");
}

/* decode and stage: p[0..n) for direction i through the decoder.  Returns
 * 0, 1 after a violation in close mode (nothing from the bad frame on is
 * staged), -1 when a write failed. */
static int forward(relay *r, int i, const uint8_t *p, size_t n)
{
    rdir *d = &r->d[i];
    if (d->raw)
        return stage(r, i, p, n);
    for (int guard = 0; guard <= 2 * (int)(n / VSOK_HEADER_SIZE) + 4; guard++) {
        size_t used = 0;
        vsok_span sp;
        vsok_err e = vsok_decoder_scan(d->dec, p, n, &used, &sp);
        if (e == VSOK_OK || e == VSOK_E_AGAIN) {
            const uint8_t *data = sp.data;
            if (sp.len && data == NULL)
                return -1;
            if (sp.len && (data < p || data >= p + n)) {
                /* a header held across reads: the decoder reuses its copy */
                memcpy(d->hdr_out, data, sp.len);
                data = d->hdr_out;
            }
            if (sp.len && stage(r, i, data, sp.len) != 0)
                return -1;
            d->frames += sp.frames;
            if (i == 0)
                g_stats.msgs_in += sp.frames;
            else
                g_stats.msgs_out += sp.frames;
            p += used;
            n -= used;
            if (e == VSOK_E_AGAIN || n == 0)
                return 0;
            continue;
        }
        violation(r, i, e, vsok_decoder_error_offset(d->dec));
        if (!r->R->o->keep_going)
            return 1;
        /* forward the rest unchecked, from the bad frame's first byte */
        if (sp.len)
            memcpy(d->hdr_out, sp.data, sp.len);
        d->raw = 1;
        if (stage(r, i, d->hdr_out, sp.len) != 0 || stage(r, i, p + used, n - used) != 0)
            return -1;
        return 0;
    }
    return 0; /* not reached: each call consumes bytes or ends */
}

static int wants_read(const relay *r, int i)
{
    const rdir *d = &r->d[i];
    if (r->rd_done[i])
        return 0;
    return r->lingering || d->cut || (!r->closing && !d->eof && d->q.bytes == 0);
}

/* epoll interest and memory after every change. */
static void watch(relay *r)
{
    loop *L = r->R->L;
    for (int i = 0; i < 2; i++) {
        uint32_t want = 0;
        if (r->connecting) {
            /* the client waits (unread) until the target answers */
            if (io_watch(L, &r->s[i].w, i ? EPOLLOUT : 0) != 0)
                r->dead = 1;
            continue;
        }
        if (wants_read(r, i))
            want |= EPOLLIN;
        if (r->d[1 - i].q.bytes)
            want |= EPOLLOUT;
        if (io_watch(L, &r->s[i].w, want) != 0)
            r->dead = 1;
    }
    size_t mem = sizeof *r + r->d[0].q.alloc + r->d[1].q.alloc + vsok_decoder_memory(r->d[0].dec) +
                 vsok_decoder_memory(r->d[1].dec);
    stats_mem(r->mem, mem);
    r->mem = mem;
}

static void io_fail(relay *r, int side, const char *op)
{
    int e = errno;
    const char *name = peer_errno_name(e);
    g_stats.errors[VSOK_E_IO]++;
    plog(e == ECONNRESET || e == EPIPE ? LOG_INFO : LOG_WARN, "io-error",
         "conn=%" PRIu32 " side=%s op=%s error=Io errno=%s", r->id, side ? "target" : "client", op,
         name ? name : "?");
    r->dead = 1;
}

/* read: side i's input, for direction i. */
static void read_side(relay *r, int i)
{
    rdir *d = &r->d[i];
    uint8_t *rbuf = r->R->rbuf;
    for (int round = 0; round < 4; round++) {
        ssize_t n = read(r->s[i].w.fd, rbuf, RBUF_SIZE);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                if (r->lingering)
                    r->rd_done[i] = 1;
                else
                    io_fail(r, i, "read");
            }
            return;
        }
        r->t_act = r->R->L->now;
        if (n == 0) {
            r->rd_done[i] = 1;
            if (r->lingering || r->closing || d->cut)
                return;
            d->eof = 1;
            if (!d->raw && vsok_decoder_finish(d->dec) == VSOK_E_TRUNCATED)
                violation(r, i, VSOK_E_TRUNCATED, vsok_decoder_error_offset(d->dec));
            return;
        }
        if (r->lingering || d->cut)
            continue; /* discarded: closing under unread input would reset */
        const uint64_t start = vsok_decoder_offset(d->dec);
        int v = forward(r, i, rbuf, (size_t)n);
        if (v < 0 || flush(r, i) != 0) {
            io_fail(r, 1 - i, "write");
            return;
        }
        if (v == 1) {
            /* this direction ends here; the other runs until its source ends */
            d->cut = 1;
            d->eof = 1;
            return;
        }
        if (!in_frame(d))
            d->t_frame = 0;
        else if (!d->t_frame || vsok_decoder_frame_offset(d->dec) >= start)
            d->t_frame = r->R->L->now; /* the frame under way began in this read */
        if (d->q.bytes || (size_t)n < RBUF_SIZE)
            return;
    }
}

static void write_side(relay *r, int i)
{
    /* side i is writable: drain direction 1-i */
    rdir *d = &r->d[1 - i];
    if (!d->q.bytes)
        return;
    ssize_t w = outq_write(&d->q, r->s[i].w.fd);
    if (w < 0) {
        io_fail(r, i, "write");
        return;
    }
    wrote(r, 1 - i, w);
    if (!d->q.bytes && d->t_frame)
        d->t_frame = r->R->L->now; /* the stall was ours, not the sender's */
}

/* Half-closes drained directions; ends the pair when both are done. */
static void progress(relay *r)
{
    const peer_opts *o = r->R->o;
    if (r->dead)
        return;
    if (r->closing && !r->lingering) {
        if (r->d[0].q.bytes || r->d[1].q.bytes)
            return;
        for (int i = 0; i < 2; i++)
            shutdown(r->s[i].w.fd, SHUT_WR);
        r->lingering = 1;
        r->t_linger = r->R->L->now + o->linger_ms;
    }
    if (r->lingering) {
        if ((r->rd_done[0] && r->rd_done[1]) || o->linger_ms <= 0)
            r->dead = 1;
        return;
    }
    for (int i = 0; i < 2; i++) {
        rdir *d = &r->d[i];
        if (d->eof && !d->shut && !d->q.bytes) {
            d->shut = 1;
            if (shutdown(r->s[1 - i].w.fd, SHUT_WR) != 0 && errno != ENOTCONN) {
                io_fail(r, 1 - i, "shutdown");
                return;
            }
        }
    }
    if (r->d[0].shut && r->d[1].shut)
        r->dead = 1;
}

static void relay_destroy(relay *r)
{
    relays *R = r->R;
    if (r->prev)
        r->prev->next = r->next;
    else
        R->pairs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    for (int i = 0; i < 2; i++) {
        io_watch(R->L, &r->s[i].w, 0);
        close(r->s[i].w.fd);
        outq_free(&r->d[i].q);
        vsok_decoder_free(r->d[i].dec);
        r->d[i].dec = NULL;
    }
    stats_mem(r->mem, 0);
    R->L->nconns--;
    stats_conn_close();
    plog(LOG_DEBUG, "close",
         "conn=%" PRIu32 " frames_client_to_target=%" PRIu64 " frames_target_to_client=%" PRIu64
         " bytes_client_to_target=%" PRIu64 " bytes_target_to_client=%" PRIu64,
         r->id, r->d[0].frames, r->d[1].frames, r->d[0].bytes, r->d[1].bytes);
    /* an event for the other end may still be in this batch */
    r->dead = 1;
    loop_free_later(R->L, r);
}

static void finish(relay *r)
{
    progress(r);
    if (r->dead)
        relay_destroy(r);
    else
        watch(r);
}

static void connected(relay *r);

static void relay_event(loop *L, io *w, uint32_t events)
{
    rend *end = (rend *)w;
    relay *r = end->r;
    int i = end->idx;
    (void)L;
    if (r->dead)
        return;
    if (r->connecting) {
        if (i == 1)
            connected(r);
        else if (events & (EPOLLERR | EPOLLHUP))
            r->dead = 1; /* the client gave up first */
        finish(r);
        return;
    }
    if (events & EPOLLOUT)
        write_side(r, i);
    if (!r->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (wants_read(r, i)) {
            read_side(r, i);
        } else if (events & EPOLLERR) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
                errno = err;
                io_fail(r, i, "poll");
            }
        }
    }
    finish(r);
}

static void connect_failed(relays *R, relay *r, int client_fd, vsok_err err, int e)
{
    char t[300], q[600], c[300], why[400], qwhy[900];
    vsok_addr_format(&R->target, t, sizeof t);
    errno = e;
    vsok_addr_explain(&R->target, 1, err, why, sizeof why);
    g_stats.errors[err]++;
    g_stats.conns_refused++;
    plog(LOG_WARN, "connect-failed", "conn=%" PRIu32 " target=%s error=%s errno=%s client=%s reason=%s",
         r ? r->id : 0, log_q(q, sizeof q, t), vsok_errname(err), err == VSOK_E_IO ? peer_errno_name(e) : "-",
         peer_fd_name(client_fd, c, sizeof c), log_q(qwhy, sizeof qwhy, why));
}

/* The non-blocking connect finished (or failed). */
static void connected(relay *r)
{
    relays *R = r->R;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(r->s[1].w.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return;
    if (err) {
        connect_failed(R, r, r->s[0].w.fd, VSOK_E_IO, err);
        r->dead = 1;
        return;
    }
    r->connecting = 0;
    r->t_act = R->L->now;
    if (R->target.kind == VSOK_ADDR_TCP) {
        int one = 1;
        setsockopt(r->s[1].w.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

/* Resolves a tcp/vsock target once, so each connect can be non-blocking. */
static int resolve(relays *R)
{
    vsok_addr *a = &R->target;
    R->target_salen = 0;
    if (a->kind == VSOK_ADDR_VSOCK || a->kind == VSOK_ADDR_TCP) {
        /* the library's resolution (the same vsok_addr_connect uses): the
         * first address getaddrinfo prefers, resolved once, at start */
        char qh[1100], qw[300]; /* a 255-byte host quoted byte by byte as \xNN */
        vsok_err e = vsok_addr_sockaddr(a, &R->target_sa, &R->target_salen);
        if (e != VSOK_OK) {
            const char *why = e == VSOK_E_IO ? strerror(errno) : vsok_strerror(e);
            plog(LOG_ERROR, "address", "target=%s error=InvalidAddress reason=%s",
                 log_q(qh, sizeof qh, a->host), log_q(qw, sizeof qw, why));
            return -1;
        }
    }
    /* unix and fc connect through the library: immediate on a local
     * socket, and fc needs its CONNECT handshake */
    return 0;
}

static relay *relay_new(relays *R, int fd, int tfd)
{
    loop *L = R->L;
    relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    for (int i = 0; i < 2; i++) {
        if (!(r->d[i].dec = vsok_decoder_new(R->o->max_payload))) {
            vsok_decoder_free(r->d[0].dec);
            free(r);
            return NULL;
        }
    }
    r->R = R;
    r->id = ++L->next_id;
    r->t_act = L->now;
    for (int i = 0; i < 2; i++) {
        r->s[i].w.cb = relay_event;
        r->s[i].w.fd = i ? tfd : fd;
        r->s[i].r = r;
        r->s[i].idx = i;
        r->d[i].t_tx = L->now;
    }
    r->next = R->pairs;
    if (R->pairs)
        R->pairs->prev = r;
    R->pairs = r;
    L->nconns++;
    stats_conn_open();
    return r;
}

static void relays_add(service *svc, int fd, int connected_by_us)
{
    relays *R = (relays *)svc;
    const peer_opts *o = R->o;
    (void)connected_by_us;
    int tfd = -1, pending = 0;
    if (R->target_salen) {
        tfd = socket(R->target_sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (tfd < 0 ||
            (connect(tfd, (struct sockaddr *)&R->target_sa, R->target_salen) != 0 && errno != EINPROGRESS)) {
            int e = errno;
            connect_failed(R, NULL, fd, VSOK_E_IO, e);
            if (tfd >= 0)
                close(tfd);
            close(fd);
            return;
        }
        pending = 1;
    } else {
        if (vsok_addr_connect(&R->target, o->connect_ms > 0 ? (int)o->connect_ms : -1, &tfd) != VSOK_OK) {
            connect_failed(R, NULL, fd, VSOK_E_IO, errno);
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
    relay *r = relay_new(R, fd, tfd);
    if (!r) {
        plog(LOG_ERROR, "out-of-memory", "op=relay");
        close(fd);
        close(tfd);
        return;
    }
    r->connecting = pending ? 1 : 0;
    r->t_connect = R->L->now + (o->connect_ms > 0 ? o->connect_ms : 5000);
    if (log_enabled(LOG_DEBUG)) {
        char q[300];
        plog(LOG_DEBUG, "open", "conn=%" PRIu32 " client=%s", r->id, peer_fd_name(fd, q, sizeof q));
    }
    watch(r);
    if (r->dead)
        relay_destroy(r);
}

static void relay_sweep(relay *r)
{
    relays *R = r->R;
    const peer_opts *o = R->o;
    int64_t now = R->L->now;
    if (r->connecting) {
        if (now >= r->t_connect) {
            connect_failed(R, r, r->s[0].w.fd, VSOK_E_TIMEOUT, 0);
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
                violation(r, i, VSOK_E_TIMEOUT, vsok_decoder_offset(d->dec));
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
        if (!r->dead && R->L->stopping && !r->closing) {
            int busy = 0;
            for (int i = 0; i < 2; i++)
                busy |= !r->d[i].eof && in_frame(&r->d[i]);
            if (!busy)
                r->closing = 1;
        }
    }
    finish(r);
}

static void relays_sweep(service *svc)
{
    relays *R = (relays *)svc;
    for (relay *r = R->pairs, *n; r; r = n) {
        n = r->next;
        relay_sweep(r);
    }
}

static void relays_close_all(service *svc)
{
    relays *R = (relays *)svc;
    while (R->pairs)
        relay_destroy(R->pairs);
}

static void relays_free(service *svc)
{
    relays *R = (relays *)svc;
    free(R->rbuf);
    free(R);
}

int relay_attach(loop *L, const char *target)
{
    relays *R = calloc(1, sizeof *R);
    if (!R || !(R->rbuf = malloc(RBUF_SIZE))) {
        free(R);
        plog(LOG_ERROR, "out-of-memory", "op=setup");
        return -2;
    }
    R->svc.add = relays_add;
    R->svc.sweep = relays_sweep;
    R->svc.close_all = relays_close_all;
    R->svc.free = relays_free;
    R->L = L;
    R->o = L->o;
    int rc = peer_parse_addr(&R->target, target) != 0 ? -1 : resolve(R) != 0 ? -2 : 0;
    if (rc != 0) {
        relays_free(&R->svc);
        return rc;
    }
    if (L->svc)
        L->svc->free(L->svc);
    L->svc = &R->svc;
    return 0;
}
