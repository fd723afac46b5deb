/* conn.c - one accepted (or connected) VSOK connection in echo, sink or
 * source mode.
 *
 * Read path: bytes land in the loop's shared 256 KiB buffer and go through the
 * connection's push decoder; a large payload already under way is read
 * straight into the decoder's buffer (prepare/commit).  Echo: a frame that
 * arrived whole inside the shared buffer is sent back from there - the bytes
 * of a valid frame are exactly its echo - and consecutive frames merge into
 * one iovec, so a buffer of small messages costs one writev.  What the kernel
 * does not take is copied into the connection's output queue; above the
 * high-water mark the connection stops reading until it drains.
 *
 * Closing: on a protocol error or timeout the echoes of earlier messages are
 * flushed, the write side is shut down, and input is read and discarded for
 * --linger so the peer sees every echo and then end of stream (closing with
 * unread input would make TCP send a reset and could destroy echoes still in
 * flight).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "outq.h"
#include "peer.h"
#include "stats.h"

#define PREPARE_MIN 16384 /* read into the decoder directly when it offers this much */
#define READ_ROUNDS 8     /* reads per wake-up before letting others run */
#define DECODER_IDLE_MS 1000

struct conn {
    ev e;
    conn *prev, *next;
    uint32_t id;
    uint32_t events;
    unsigned client : 1;    /* we connected: its outcome is the exit status */
    unsigned rd_eof : 1;    /* read side finished */
    unsigned closing : 1;   /* no new messages: flush, shut down, linger */
    unsigned lingering : 1; /* write side shut: discarding input */
    unsigned paused : 1;    /* not reading: output above high water */
    unsigned src_done : 1;
    unsigned dead : 1;
    vsok_decoder *dec; /* created on the first byte, freed when idle */
    uint64_t off_base; /* stream bytes consumed by earlier decoders */
    outq q;
    int64_t t_rx, t_frame, t_tx, t_linger;
    uint64_t src_left;
    size_t src_off;
    size_t mem;
    uint64_t msgs, bytes_in, bytes_out;
    vsok_err result;
};

static uint64_t stream_off(const conn *c)
{
    return c->off_base + (c->dec ? vsok_decoder_offset(c->dec) : 0);
}

static int source_pending(const loop *L, const conn *c)
{
    return L->o->mode == MODE_SOURCE && !c->src_done;
}

static int can_read(const conn *c)
{
    if (c->dead || c->rd_eof)
        return 0;
    if (c->lingering)
        return 1;
    return !c->paused && !c->closing;
}

static void io_error(loop *L, conn *c, const char *op)
{
    int e = errno;
    g_stats.errors[VSOK_E_IO]++;
    c->result = VSOK_E_IO;
    c->dead = 1;
    const char *name = peer_errno_name(e);
    plog(e == ECONNRESET || e == EPIPE ? LOG_INFO : LOG_WARN, "io-error",
         "conn=%" PRIu32 " op=%s error=Io errno=%s offset=%" PRIu64, c->id, op, name ? name : "?",
         stream_off(c));
    (void)L;
}

/* A protocol violation or timeout: the connection ends, earlier echoes
 * still go out. */
static void conn_fail(loop *L, conn *c, vsok_err err, uint64_t offset, const char *why)
{
    char peer[300];
    g_stats.errors[err]++;
    c->result = err;
    c->closing = 1;
    plog(LOG_WARN, "protocol-error", "conn=%" PRIu32 " peer=%s error=%s offset=%" PRIu64 " reason=%s",
         c->id, peer_fd_name(c->e.fd, peer, sizeof peer), vsok_errname(err), offset, why);
    (void)L;
}

static void stage_flush(loop *L, conn *c)
{
    if (!L->niov)
        return;
    size_t done = 0;
    if (!c->dead && c->q.bytes == 0) {
        ssize_t w;
        do
            w = writev(c->e.fd, L->iov, L->niov);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            io_error(L, c, "write");
            L->niov = 0;
            L->staged = 0;
            return;
        }
        if (w > 0) {
            done = (size_t)w;
            g_stats.bytes_out += done;
            c->bytes_out += done;
            c->t_tx = L->now;
        }
    }
    if (!c->dead && done < L->staged) {
        if (c->q.bytes == 0)
            c->t_tx = L->now; /* the write-stall clock starts now */
        if (outq_append_iov(&c->q, L->iov, L->niov, done)) {
            g_stats.errors[VSOK_E_NOMEM]++;
            c->result = VSOK_E_NOMEM;
            c->dead = 1;
            plog(LOG_ERROR, "out-of-memory", "conn=%" PRIu32 " queued=%zu", c->id, c->q.bytes);
        }
    }
    L->niov = 0;
    L->staged = 0;
    if (c->q.bytes > L->o->high_water && !c->paused) {
        c->paused = 1;
        g_stats.paused++;
    }
}

static void stage(loop *L, conn *c, const uint8_t *p, size_t n)
{
    if (loop_stage(L, p, n) != 0) {
        stage_flush(L, c);
        loop_stage(L, p, n); /* cannot fail: the array is empty now */
    }
}

/* A message served from the decoder's own buffer (it straddled reads): m is
 * gone at the next decoder call, so its echo is written (or queued) now. */
static void deliver_owned(loop *L, conn *c, const vsok_msg *m)
{
    g_stats.msgs_in++;
    c->msgs++;
    if (L->o->mode != MODE_ECHO)
        return;
    g_stats.msgs_out++;
    if (vsok_header_encode(L->hdr, m->len) != VSOK_OK)
        return; /* cannot happen: the decoder checked the length */
    stage(L, c, L->hdr, VSOK_HEADER_SIZE);
    stage(L, c, m->data, m->len);
    stage_flush(L, c);
}

/* Decodes the n bytes in the shared buffer.  Whole frames that arrived
 * back to back are gathered into one span and staged once. */
static void process(loop *L, conn *c, size_t n)
{
    const uint8_t *rb = L->rbuf;
    const int echo = L->o->mode == MODE_ECHO;
    const uint8_t *run = NULL;
    size_t run_len = 0, off = 0;
    uint64_t msgs = 0;
    int stuck = 0;
    while (off < n && !c->dead) {
        size_t used = 0;
        vsok_msg m;
        vsok_err err = vsok_decoder_feed(c->dec, rb + off, n - off, &used, &m);
        off += used;
        if (err == VSOK_OK) {
            if (used == 0 && ++stuck > 1)
                break; /* decoder made no progress twice: do not spin */
            msgs++;
            if (!echo)
                continue;
            uintptr_t d = (uintptr_t)m.data;
            if (d >= (uintptr_t)rb + VSOK_HEADER_SIZE && d + m.len <= (uintptr_t)rb + n &&
                memcmp(m.data - VSOK_HEADER_SIZE, VSOK_MAGIC, VSOK_MAGIC_SIZE) == 0) {
                /* whole frame in the shared buffer: its bytes are its echo */
                const uint8_t *f = m.data - VSOK_HEADER_SIZE;
                if (run && run + run_len == f) {
                    run_len += VSOK_HEADER_SIZE + m.len;
                } else {
                    if (run)
                        stage(L, c, run, run_len);
                    run = f;
                    run_len = VSOK_HEADER_SIZE + m.len;
                }
                continue;
            }
            if (run)
                stage(L, c, run, run_len);
            run = NULL;
            msgs--; /* deliver_owned counts this one */
            deliver_owned(L, c, &m);
            continue;
        }
        if (err == VSOK_E_AGAIN)
            break;
        if (run)
            stage(L, c, run, run_len);
        run = NULL;
        stage_flush(L, c); /* echoes of the messages before the bad one */
        uint64_t at = c->off_base + vsok_decoder_error_offset(c->dec);
        conn_fail(L, c, err, at, err == VSOK_E_NOMEM ? "allocation" : "frame");
        break;
    }
    if (run)
        stage(L, c, run, run_len);
    c->msgs += msgs;
    g_stats.msgs_in += msgs;
    if (echo)
        g_stats.msgs_out += msgs;
    stage_flush(L, c);
}

static void on_eof(loop *L, conn *c)
{
    c->rd_eof = 1;
    if (c->lingering)
        return;
    vsok_err e = c->dec ? vsok_decoder_finish(c->dec) : VSOK_E_EOF;
    if (e == VSOK_E_EOF) {
        c->result = VSOK_E_EOF;
        return;
    }
    if (c->closing)
        return; /* already reported */
    uint64_t at = c->off_base + vsok_decoder_error_offset(c->dec);
    if (e == VSOK_E_TRUNCATED && at == 0)
        at = stream_off(c);
    conn_fail(L, c, e, at, "end-of-stream");
}

static void on_readable(loop *L, conn *c)
{
    for (int round = 0; round < READ_ROUNDS && can_read(c); round++) {
        ssize_t n;
        size_t want = L->rbuf_size;
        if (c->lingering) {
            n = read(c->e.fd, L->rbuf, L->rbuf_size);
            if (n > 0)
                continue;
        } else {
            if (!c->dec && !(c->dec = vsok_decoder_new(L->o->max_payload))) {
                conn_fail(L, c, VSOK_E_NOMEM, stream_off(c), "allocation");
                return;
            }
            size_t room = 0;
            uint8_t *p = NULL;
            if (vsok_decoder_pending_length(c->dec) >= PREPARE_MIN)
                p = vsok_decoder_prepare(c->dec, &room);
            if (p && room >= PREPARE_MIN) {
                want = room;
                n = read(c->e.fd, p, room);
                if (n > 0) {
                    vsok_msg m;
                    g_stats.bytes_in += (size_t)n;
                    c->bytes_in += (size_t)n;
                    c->t_rx = L->now;
                    if (vsok_decoder_commit(c->dec, (size_t)n, &m) == VSOK_OK) {
                        deliver_owned(L, c, &m);
                    }
                }
            } else {
                n = read(c->e.fd, L->rbuf, L->rbuf_size);
                if (n > 0) {
                    g_stats.bytes_in += (size_t)n;
                    c->bytes_in += (size_t)n;
                    c->t_rx = L->now;
                    process(L, c, (size_t)n);
                }
            }
        }
        if (n == 0) {
            on_eof(L, c);
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                if (c->lingering)
                    c->dead = 1;
                else
                    io_error(L, c, "read");
            }
            break;
        }
        if ((size_t)n < want)
            break; /* most likely drained; epoll says if not */
    }
    if (c->dec && !c->closing) {
        if (vsok_decoder_at_boundary(c->dec))
            c->t_frame = 0;
        else if (!c->t_frame)
            c->t_frame = L->now;
    }
}

static void source_write(loop *L, conn *c)
{
    size_t plen = L->o->pattern ? strlen(L->o->pattern) : L->o->size;
    size_t frame = VSOK_HEADER_SIZE + plen;
    while (c->src_left && !c->dead) {
        if (L->stopping && c->src_off == 0) {
            c->src_left = 0;
            break;
        }
        struct iovec iov[256];
        int n = 0;
        size_t total = 0;
        uint64_t k = 0;
        size_t off = c->src_off;
        while (n + 2 <= 256 && k < c->src_left && total < (1u << 20)) {
            if (off < VSOK_HEADER_SIZE) {
                iov[n].iov_base = L->src_hdr + off;
                iov[n++].iov_len = VSOK_HEADER_SIZE - off;
                total += VSOK_HEADER_SIZE - off;
                off = VSOK_HEADER_SIZE;
            }
            iov[n].iov_base = L->src_payload + (off - VSOK_HEADER_SIZE);
            iov[n++].iov_len = frame - off;
            total += frame - off;
            off = 0;
            k++;
        }
        ssize_t w;
        do
            w = writev(c->e.fd, iov, n);
        while (w < 0 && errno == EINTR);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                io_error(L, c, "write");
            return;
        }
        g_stats.bytes_out += (size_t)w;
        c->bytes_out += (size_t)w;
        c->t_tx = L->now;
        size_t adv = c->src_off + (size_t)w;
        c->src_left -= adv / frame;
        g_stats.msgs_out += adv / frame;
        c->src_off = adv % frame;
        if ((size_t)w < total)
            return;
    }
    if (!c->src_left && !c->src_done && !c->dead) {
        c->src_done = 1;
        if (shutdown(c->e.fd, SHUT_WR) != 0 && errno != ENOTCONN && errno != ENOTSOCK)
            io_error(L, c, "shutdown");
    }
}

static void on_writable(loop *L, conn *c)
{
    if (c->q.bytes) {
        ssize_t w = outq_write(&c->q, c->e.fd);
        if (w < 0) {
            io_error(L, c, "write");
            return;
        }
        if (w > 0) {
            g_stats.bytes_out += (size_t)w;
            c->bytes_out += (size_t)w;
            c->t_tx = L->now;
        }
        if (c->paused && c->q.bytes <= L->o->low_water) {
            c->paused = 0;
            if (c->t_frame)
                c->t_frame = L->now; /* the stall was ours, not the peer's */
        }
    }
    if (!c->q.bytes && source_pending(L, c))
        source_write(L, c);
}

/* Moves the close sequence forward once output is flushed. */
static void progress(loop *L, conn *c)
{
    if (c->dead || c->q.bytes || source_pending(L, c))
        return;
    if (c->lingering) {
        if (c->rd_eof)
            c->dead = 1;
        return;
    }
    if (c->rd_eof) {
        c->dead = 1; /* peer is done sending and has every echo */
        return;
    }
    if (c->closing) {
        if (shutdown(c->e.fd, SHUT_WR) != 0 || L->o->linger_ms <= 0) {
            c->dead = 1;
            return;
        }
        c->lingering = 1;
        c->t_linger = L->now + L->o->linger_ms;
    }
}

static void update(loop *L, conn *c)
{
    if (L->stopping && !c->closing && !c->t_frame)
        c->closing = 1; /* shutting down: no new message starts */
    if (L->stopping && source_pending(L, c) && c->src_off == 0 && !c->dead) {
        c->src_left = 0; /* nor a new source message */
        source_write(L, c);
    }
    if (!c->dead)
        progress(L, c);
    if (c->dead) {
        conn_destroy(L, c);
        return;
    }
    uint32_t want = 0;
    if (can_read(c))
        want |= EPOLLIN;
    if (c->q.bytes || source_pending(L, c))
        want |= EPOLLOUT;
    if (loop_watch(L, &c->e, &c->events, want) != 0) {
        io_error(L, c, "epoll_ctl");
        conn_destroy(L, c);
        return;
    }
    size_t mem = sizeof *c + c->q.alloc + (c->dec ? vsok_decoder_memory(c->dec) : 0);
    stats_mem(c->mem, mem);
    c->mem = mem;
}

conn *next_conn(const conn *c)
{
    return c->next;
}

void conn_new(loop *L, int fd, int client)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        plog(LOG_ERROR, "out-of-memory", "op=accept");
        close(fd);
        g_stats.conns_refused++;
        return;
    }
    c->e.type = EV_CONN;
    c->e.fd = fd;
    c->id = ++L->next_id;
    c->client = client ? 1 : 0;
    c->t_rx = c->t_tx = L->now;
    c->src_left = L->o->mode == MODE_SOURCE ? L->o->count : 0;
    c->result = VSOK_OK;
    c->next = L->conns;
    if (L->conns)
        L->conns->prev = c;
    L->conns = c;
    L->nconns++;
    stats_conn_open();
    if (log_enabled(LOG_DEBUG)) {
        char peer[300];
        plog(LOG_DEBUG, "open", "conn=%" PRIu32 " peer=%s", c->id, peer_fd_name(fd, peer, sizeof peer));
    }
    update(L, c);
}

void conn_destroy(loop *L, conn *c)
{
    loop_forget(L, &c->e);
    close(c->e.fd);
    if (c->dec)
        vsok_decoder_free(c->dec);
    outq_free(&c->q);
    stats_mem(c->mem, 0);
    if (c->prev)
        c->prev->next = c->next;
    else
        L->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    L->nconns--;
    stats_conn_close();
    plog(LOG_DEBUG, "close",
         "conn=%" PRIu32 " result=%s msgs=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64, c->id,
         c->result == VSOK_OK ? "closed" : vsok_errname(c->result), c->msgs, c->bytes_in,
         c->bytes_out);
    if (c->client) {
        switch (c->result) {
        case VSOK_OK:
        case VSOK_E_EOF:
            loop_result(L, EXIT_OK);
            break;
        case VSOK_E_MAGIC:
        case VSOK_E_LENGTH:
        case VSOK_E_TOO_LARGE:
        case VSOK_E_TRUNCATED:
            loop_result(L, EXIT_PROTO);
            break;
        default:
            loop_result(L, EXIT_IO);
            break;
        }
    }
    free(c);
}

void conn_event(loop *L, conn *c, uint32_t events)
{
    if (events & EPOLLOUT)
        on_writable(L, c);
    if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (can_read(c)) {
            on_readable(L, c);
        } else if (events & EPOLLERR) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->e.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
                errno = err;
                io_error(L, c, "poll");
            }
        }
    }
    update(L, c);
}

void conn_sweep(loop *L, conn *c)
{
    const peer_opts *o = L->o;
    int64_t now = L->now;
    if (c->lingering) {
        if (now >= c->t_linger)
            c->dead = 1;
    } else if ((c->q.bytes || source_pending(L, c)) && o->write_ms && now - c->t_tx >= o->write_ms) {
        /* the peer does not read: nothing more can be delivered */
        g_stats.errors[VSOK_E_TIMEOUT]++;
        g_stats.timeouts_write++;
        c->result = VSOK_E_TIMEOUT;
        c->dead = 1;
        plog(LOG_WARN, "timeout", "conn=%" PRIu32 " error=Timeout kind=write pending=%zu offset=%" PRIu64,
             c->id, c->q.bytes, stream_off(c));
    } else if (!c->closing && !c->rd_eof && !c->paused && c->t_frame && o->msg_ms &&
               now - c->t_frame >= o->msg_ms) {
        g_stats.timeouts_msg++;
        conn_fail(L, c, VSOK_E_TIMEOUT, stream_off(c), "message-timeout");
    } else if (!c->closing && !c->rd_eof && o->idle_ms && !c->t_frame && !c->q.bytes &&
               !source_pending(L, c) && now - c->t_rx >= o->idle_ms) {
        g_stats.timeouts_idle++;
        c->closing = 1;
        plog(LOG_INFO, "idle-timeout", "conn=%" PRIu32 " idle_ms=%" PRId64, c->id, now - c->t_rx);
    }
    if (c->dec && !c->t_frame && now - c->t_rx >= DECODER_IDLE_MS &&
        vsok_decoder_at_boundary(c->dec) && vsok_decoder_error(c->dec) == VSOK_OK) {
        c->off_base += vsok_decoder_offset(c->dec);
        vsok_decoder_free(c->dec);
        c->dec = NULL;
    }
    update(L, c);
}
