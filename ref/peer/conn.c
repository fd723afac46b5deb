/* SPDX-License-Identifier: MIT */
/* conn.c - the echo, sink and source service: one VSOK connection each,
 * accepted or connected.
 *
 * One connection's data, in order (each step below is one function):
 *   read    on_readable: into the service's 256 KiB read buffer, or - for a
 *           large payload already under way - straight into the decoder's
 *           buffer (prepare/commit).  Reads end where frames do while
 *           frames keep their size, and a frame cut off at the end of a read
 *           has its rest read right behind it when it has arrived, so whole
 *           frames are echoed from the read buffer without a copy;
 *   decode  decode: the library's push decoder checks every frame;
 *   stage   echo: a frame that arrived whole in the read buffer is its own
 *           echo (its bytes are staged in place, back-to-back frames as one
 *           span); a frame reassembled by the decoder is staged from there;
 *   write   outq_flush: one writev; what the kernel does not take is copied
 *           into the connection's queue, drained on EPOLLOUT.  Until the
 *           kernel has taken it the connection is not read (or, if the
 *           kernel takes nothing for WAIT_OUT_MS, up to the high-water
 *           mark, above which it stops reading until the queue drains).
 *
 * The message clock (--msg-timeout) runs from a message's first byte to its
 * last: after each read, a frame still under way that began in that read
 * (its first byte is at or past the offset the read started at) restarts
 * the clock; between frames it is off.  Memory: the decoder's rule (at most
 * max(1 KiB, 2 x payload bytes received for the frame), see
 * vsok/decoder.h), the struct, and the output queue.
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

#define RBUF_SIZE (256 * 1024) /* whole 64 KiB frames usually fit: echoed without a copy */
#define PREPARE_MIN 16384      /* read into the decoder directly when it offers this much */
#define READ_ROUNDS 8          /* reads per wake-up before letting others run */
#define CONT_READS 2           /* reads completing a frame that straddles the end of a read */
#define HOLD_MIN 1024          /* a cut frame's bytes worth a read for its rest (less is a cheap copy) */
#define DECODER_IDLE_MS 1000
#define WAIT_OUT_MS 5 /* the kernel taking nothing this long: the client is not reading now */

typedef struct serve serve;
typedef struct conn conn;

/* The service: its connections and the scratch they share. */
struct serve {
    service svc; /* first: the loop holds &svc */
    loop *L;
    const peer_opts *o;
    conn *conns;
    uint8_t *rbuf;
    outq_batch out;
    uint8_t hdr[VSOK_HEADER_SIZE]; /* header of an echo served from a decoder buffer */
    uint8_t src_hdr[VSOK_HEADER_SIZE];
    uint8_t *src_payload;
    size_t src_len;
};

struct conn {
    io w; /* first */
    serve *S;
    conn *prev, *next;
    uint32_t id;
    unsigned client : 1;    /* we connected: its outcome is the exit status */
    unsigned rd_eof : 1;    /* read side finished */
    unsigned closing : 1;   /* no new messages: flush, shut down, linger */
    unsigned lingering : 1; /* write side shut: discarding input */
    unsigned paused : 1;    /* not reading: output above high water */
    unsigned wait_out : 1;  /* not reading: the kernel has not taken the last echoes yet */
    unsigned no_wait : 1;   /* the kernel took nothing for a while: read on up to high water */
    unsigned src_done : 1;
    unsigned dead : 1;
    vsok_decoder *dec; /* created on the first byte, freed when idle */
    uint64_t off_base; /* stream bytes consumed by earlier decoders */
    uint32_t fsize;    /* size of a recent frame, header included (0: none yet): read sizes */
    outq q;
    int64_t t_rx, t_frame, t_tx, t_linger;
    uint64_t src_left;
    size_t src_off;
    size_t mem;
    uint64_t msgs, bytes_in, bytes_out;
    vsok_err result;
};

static uint64_t stream_off(const conn *c) { return c->off_base + (c->dec ? vsok_decoder_offset(c->dec) : 0); }

static int source_pending(const conn *c) { return c->S->o->mode == MODE_SOURCE && !c->src_done; }

static int can_read(const conn *c)
{
    if (c->dead || c->rd_eof)
        return 0;
    if (c->lingering)
        return 1;
    return !c->paused && !c->wait_out && !c->closing;
}

static void io_error(conn *c, const char *op)
{
    int e = errno;
    g_stats.errors[VSOK_E_IO]++;
    c->result = VSOK_E_IO;
    c->dead = 1;
    const char *name = peer_errno_name(e);
    plog(e == ECONNRESET || e == EPIPE ? LOG_INFO : LOG_WARN, "io-error",
         "conn=%" PRIu32 " op=%s error=Io errno=%s offset=%" PRIu64, c->id, op, name ? name : "?",
         stream_off(c));
}

/* A protocol violation or timeout: the connection ends, earlier echoes
 * still go out. */
static void conn_fail(conn *c, vsok_err err, uint64_t offset, const char *why)
{
    char peer[300];
    g_stats.errors[err]++;
    c->result = err;
    c->closing = 1;
    plog(LOG_WARN, "protocol-error", "conn=%" PRIu32 " peer=%s error=%s offset=%" PRIu64 " reason=%s", c->id,
         peer_fd_name(c->w.fd, peer, sizeof peer), vsok_errname(err), offset, why);
}

/* Accounts for bytes the kernel took. */
static void wrote(conn *c, ssize_t w)
{
    if (w <= 0)
        return;
    g_stats.bytes_out += (size_t)w;
    c->bytes_out += (size_t)w;
    c->t_tx = c->S->L->now;
}

/* write: the staged batch, behind whatever is queued. */
static void flush(conn *c)
{
    serve *S = c->S;
    if (!S->out.n)
        return;
    if (c->dead) {
        S->out.n = 0;
        S->out.bytes = 0;
        return;
    }
    int was_empty = c->q.bytes == 0;
    ssize_t w = outq_flush(&c->q, &S->out, c->w.fd);
    if (w < 0) {
        if (errno == ENOMEM) {
            g_stats.errors[VSOK_E_NOMEM]++;
            c->result = VSOK_E_NOMEM;
            c->dead = 1;
            plog(LOG_ERROR, "out-of-memory", "conn=%" PRIu32 " queued=%zu", c->id, c->q.bytes);
        } else {
            io_error(c, "write");
        }
        return;
    }
    wrote(c, w);
    if (was_empty && c->q.bytes)
        c->t_tx = S->L->now; /* the write-stall clock starts now */
    if (c->q.bytes > S->o->high_water && !c->paused) {
        c->paused = 1;
        g_stats.paused++;
    }
}

/* stage: p[0..n) goes out with the next flush (borrowed until then). */
static void stage(conn *c, const uint8_t *p, size_t n)
{
    ssize_t w = outq_stage(&c->q, &c->S->out, c->w.fd, p, n);
    if (w < 0)
        io_error(c, "write");
    else
        wrote(c, w);
}

/* decode: the n bytes in the read buffer.  Whole frames that arrived back
 * to back are taken in one call and staged as one span; a frame the decoder
 * reassembled is staged from its buffer, which stays valid until the
 * decoder is fed again: the batch is flushed before that (so a read costs
 * one writev, not one per reassembled frame).  The caller flushes.
 *
 * With need set, a frame at the end of rb that is valid so far but not
 * whole, starting between frames, is held back instead of being copied into
 * the decoder: decode returns the bytes it used (less than n) and *need the
 * bytes missing, so the caller can read them behind it and the frame is
 * echoed in place.  The caller feeds the held bytes (decode with need NULL)
 * before the read buffer is used again.  Otherwise returns n. */
static size_t decode(conn *c, const uint8_t *rb, size_t n, size_t *need)
{
    const int echo = c->S->o->mode == MODE_ECHO;
    const uint8_t *run = NULL;
    size_t run_len = 0, off = 0;
    uint64_t msgs = 0;
    int owned = 0; /* an echo staged from the decoder's buffer */
    while (off < n && !c->dead) {
        /* whole frames in place, many per call: their bytes are their echo */
        vsok_span sp;
        size_t took = vsok_decoder_take_frames(c->dec, rb + off, n - off, &sp);
        if (took) {
            msgs += sp.frames;
            if (echo) {
                if (run && run + run_len == sp.data) {
                    run_len += took;
                } else {
                    if (run)
                        stage(c, run, run_len);
                    run = sp.data;
                    run_len = took;
                }
            }
            off += took;
            c->fsize = (uint32_t)(took / sp.frames);
            if (off == n)
                break;
        }
        if (owned) {
            /* the next feed may reuse the buffer an echo is staged from */
            if (run)
                stage(c, run, run_len);
            run = NULL;
            flush(c);
            owned = 0;
        }
        if (need && vsok_decoder_at_boundary(c->dec) && n - off >= HOLD_MIN) {
            /* take_frames stopped: the next frame is either not whole or
             * not valid; only a valid one is held (a bad one is fed below,
             * which reports it at its offset) */
            uint32_t len = 0;
            if (vsok_header_decode_max(rb + off, (uint32_t)c->S->o->max_payload, &len) == VSOK_OK &&
                n - off < VSOK_HEADER_SIZE + (size_t)len) {
                *need = VSOK_HEADER_SIZE + (size_t)len - (n - off);
                c->fsize = VSOK_HEADER_SIZE + len;
                break;
            }
        }
        size_t used = 0;
        vsok_msg m;
        vsok_err err = vsok_decoder_feed(c->dec, rb + off, n - off, &used, &m);
        off += used;
        if (err == VSOK_E_AGAIN)
            break;
        if (err != VSOK_OK) {
            if (run)
                stage(c, run, run_len);
            run = NULL;
            flush(c); /* echoes of the messages before the bad one */
            uint64_t at = c->off_base + vsok_decoder_error_offset(c->dec);
            conn_fail(c, err, at, err == VSOK_E_NOMEM ? "allocation" : "frame");
            break;
        }
        msgs++;
        if (!echo)
            continue;
        const uint8_t *f = m.data - VSOK_HEADER_SIZE;
        if (m.data >= rb + VSOK_HEADER_SIZE && m.data + m.len <= rb + n) {
            /* whole frame in the read buffer: its bytes are its echo */
            if (run && run + run_len == f) {
                run_len += VSOK_HEADER_SIZE + m.len;
            } else {
                if (run)
                    stage(c, run, run_len);
                run = f;
                run_len = VSOK_HEADER_SIZE + m.len;
            }
            continue;
        }
        if (run)
            stage(c, run, run_len);
        run = NULL;
        c->fsize = (uint32_t)(VSOK_HEADER_SIZE + m.len);
        vsok_header_encode(c->S->hdr, m.len); /* cannot fail: the decoder checked it */
        stage(c, c->S->hdr, VSOK_HEADER_SIZE);
        stage(c, m.data, m.len);
        owned = 1; /* flushed before the decoder is fed again */
    }
    if (run)
        stage(c, run, run_len);
    c->msgs += msgs;
    g_stats.msgs_in += msgs;
    if (echo)
        g_stats.msgs_out += msgs;
    return need && *need ? off : n;
}

static void on_eof(conn *c)
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
    conn_fail(c, e, at, "end-of-stream");
}

/* The message clock after a read that started at decoder offset start. */
static void frame_clock(conn *c, uint64_t start)
{
    if (!c->dec || c->closing)
        return;
    if (vsok_decoder_at_boundary(c->dec))
        c->t_frame = 0;
    else if (!c->t_frame || vsok_decoder_frame_offset(c->dec) >= start)
        c->t_frame = c->S->L->now; /* the frame under way began in this read */
}

/* Accounts for bytes read. */
static void got(conn *c, size_t n)
{
    g_stats.bytes_in += n;
    c->bytes_in += n;
    c->t_rx = c->S->L->now;
}

/* read: one wake-up's worth (at most READ_ROUNDS reads, not counting those
 * completing a frame cut off at the end of one). */
static void on_readable(conn *c)
{
    serve *S = c->S;
    for (int round = 0; round < READ_ROUNDS && can_read(c); round++) {
        ssize_t n, cont = 1;
        int cont_errno = 0;
        size_t want = RBUF_SIZE;
        if (c->lingering) {
            n = read(c->w.fd, S->rbuf, RBUF_SIZE);
            if (n > 0)
                continue;
        } else {
            if (!c->dec && !(c->dec = vsok_decoder_new(S->o->max_payload))) {
                conn_fail(c, VSOK_E_NOMEM, stream_off(c), "allocation");
                return;
            }
            const uint64_t start = vsok_decoder_offset(c->dec);
            size_t room = 0;
            uint8_t *p = NULL;
            if (vsok_decoder_pending_length(c->dec) >= PREPARE_MIN)
                p = vsok_decoder_prepare(c->dec, &room);
            if (p && room >= PREPARE_MIN) {
                want = room;
                n = read(c->w.fd, p, room);
                if (n > 0) {
                    vsok_msg m;
                    got(c, (size_t)n);
                    if (vsok_decoder_commit(c->dec, (size_t)n, &m) == VSOK_OK) {
                        g_stats.msgs_in++;
                        c->msgs++;
                        c->fsize = (uint32_t)(VSOK_HEADER_SIZE + m.len);
                        if (S->o->mode == MODE_ECHO) {
                            g_stats.msgs_out++;
                            vsok_header_encode(S->hdr, m.len);
                            stage(c, S->hdr, VSOK_HEADER_SIZE);
                            stage(c, m.data, m.len);
                            flush(c);
                        }
                    }
                }
            } else {
                /* reads that end where a frame does, when frames keep their
                 * size: the next read starts at a boundary and no frame is
                 * split between reads (a split one is copied) */
                if (c->fsize && c->fsize <= RBUF_SIZE / 2)
                    want = RBUF_SIZE / c->fsize * c->fsize;
                n = read(c->w.fd, S->rbuf, want);
                if (n > 0) {
                    got(c, (size_t)n);
                    size_t have = (size_t)n, need = 0, done = decode(c, S->rbuf, have, &need);
                    /* A frame cut off at the end of the read: its remainder is
                     * read right behind it (it has usually arrived, or is about
                     * to), so it is echoed in place with the frames before it;
                     * only if it has not come does it go to the decoder. */
                    for (int k = 0; done < have && k < CONT_READS && need <= RBUF_SIZE - have; k++) {
                        ssize_t r = read(c->w.fd, S->rbuf + have, need);
                        if (r < 0 && errno == EINTR)
                            continue;
                        if (r <= 0) {
                            cont = r; /* end of stream or error: handled below, after the held bytes */
                            cont_errno = errno;
                            break;
                        }
                        got(c, (size_t)r);
                        have += (size_t)r;
                        need = 0;
                        done += decode(c, S->rbuf + done, have - done, &need);
                    }
                    if (done < have)
                        decode(c, S->rbuf + done, have - done, NULL);
                    flush(c);
                    n = (ssize_t)have;
                }
            }
            if (n > 0)
                frame_clock(c, start);
            if (cont <= 0) {
                n = cont; /* the continuation read's end of stream or error */
                errno = cont_errno;
            }
        }
        if (n == 0) {
            on_eof(c);
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                if (c->lingering)
                    c->dead = 1;
                else
                    io_error(c, "read");
            }
            break;
        }
        if (c->q.bytes && !c->no_wait && !c->lingering) {
            /* The kernel did not take all of the echoes: what is read now
             * would only be copied into the queue behind them.  Read again
             * once it has taken them (a client reading its echoes), or once
             * it has taken nothing for WAIT_OUT_MS (one that does not: then
             * up to high water, as before). */
            c->wait_out = 1;
            loop_sweep_by(S->L, S->L->now + WAIT_OUT_MS + 1);
            break;
        }
        if ((size_t)n < want)
            break; /* most likely drained; epoll says if not */
    }
}

/* source: stages as many whole messages as one writev takes (the constant
 * payload, no copy); what the kernel leaves goes to the queue like an echo. */
static void source_write(conn *c)
{
    serve *S = c->S;
    while (c->src_left && !c->dead && !c->q.bytes) {
        if (S->L->stopping) {
            c->src_left = 0;
            break;
        }
        uint64_t k = 0;
        size_t total = 0;
        while (k < c->src_left && S->out.n + 2 <= 256 && total < RBUF_SIZE) {
            stage(c, S->src_hdr, VSOK_HEADER_SIZE);
            stage(c, S->src_payload, S->src_len);
            total += VSOK_HEADER_SIZE + S->src_len;
            k++;
        }
        c->src_left -= k;
        g_stats.msgs_out += k;
        flush(c);
    }
    if (!c->src_left && !c->src_done && !c->dead && !c->q.bytes) {
        c->src_done = 1;
        if (shutdown(c->w.fd, SHUT_WR) != 0 && errno != ENOTCONN && errno != ENOTSOCK)
            io_error(c, "shutdown");
    }
}

static void on_writable(conn *c)
{
    const peer_opts *o = c->S->o;
    if (c->q.bytes) {
        ssize_t w = outq_write(&c->q, c->w.fd);
        if (w < 0) {
            io_error(c, "write");
            return;
        }
        wrote(c, w);
        if (c->paused && c->q.bytes <= o->low_water) {
            c->paused = 0;
            if (c->t_frame)
                c->t_frame = c->S->L->now; /* the stall was ours, not the peer's */
        }
        if (!c->q.bytes) {
            if (c->wait_out && c->t_frame)
                c->t_frame = c->S->L->now;
            c->wait_out = c->no_wait = 0;
        }
    }
    if (!c->q.bytes && source_pending(c))
        source_write(c);
}

/* Moves the close sequence forward once output is flushed. */
static void progress(conn *c)
{
    if (c->dead || c->q.bytes || source_pending(c))
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
        if (shutdown(c->w.fd, SHUT_WR) != 0 || c->S->o->linger_ms <= 0) {
            c->dead = 1;
            return;
        }
        c->lingering = 1;
        c->t_linger = c->S->L->now + c->S->o->linger_ms;
    }
}

static void conn_destroy(conn *c)
{
    serve *S = c->S;
    loop *L = S->L;
    io_watch(L, &c->w, 0);
    close(c->w.fd);
    if (c->dec)
        vsok_decoder_free(c->dec);
    outq_free(&c->q);
    stats_mem(c->mem, 0);
    if (c->prev)
        c->prev->next = c->next;
    else
        S->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    L->nconns--;
    stats_conn_close();
    plog(LOG_DEBUG, "close",
         "conn=%" PRIu32 " result=%s msgs=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64, c->id,
         c->result == VSOK_OK ? "closed" : vsok_errname(c->result), c->msgs, c->bytes_in, c->bytes_out);
    if (c->client) {
        switch (c->result) {
        case VSOK_OK:
        case VSOK_E_EOF: loop_result(L, EXIT_OK); break;
        case VSOK_E_MAGIC:
        case VSOK_E_LENGTH:
        case VSOK_E_TOO_LARGE:
        case VSOK_E_TRUNCATED: loop_result(L, EXIT_PROTO); break;
        default: loop_result(L, EXIT_IO); break;
        }
    }
    free(c);
}

/* After every event and sweep: the close sequence, epoll interest, memory. */
static void update(conn *c)
{
    loop *L = c->S->L;
    if (L->stopping && !c->closing && !c->t_frame)
        c->closing = 1; /* shutting down: no new message starts */
    if (L->stopping && source_pending(c) && !c->dead)
        source_write(c); /* ends the source at the next message boundary */
    if (!c->dead)
        progress(c);
    if (c->dead) {
        conn_destroy(c);
        return;
    }
    uint32_t want = 0;
    if (can_read(c))
        want |= EPOLLIN;
    if (c->q.bytes || source_pending(c))
        want |= EPOLLOUT;
    if (io_watch(L, &c->w, want) != 0) {
        io_error(c, "epoll_ctl");
        conn_destroy(c);
        return;
    }
    size_t mem = sizeof *c + c->q.alloc + (c->dec ? vsok_decoder_memory(c->dec) : 0);
    stats_mem(c->mem, mem);
    c->mem = mem;
}

static void conn_event(loop *L, io *w, uint32_t events)
{
    conn *c = (conn *)w;
    (void)L;
    if (events & EPOLLOUT) {
        int waited = c->wait_out;
        on_writable(c);
        /* it waited for the kernel to take its echoes, not for input: read
         * now rather than after another epoll_ctl and epoll_wait */
        if (waited && !c->wait_out && !c->dead && can_read(c))
            events |= EPOLLIN;
    }
    if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (can_read(c)) {
            on_readable(c);
        } else if (events & EPOLLERR) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->w.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
                errno = err;
                io_error(c, "poll");
            }
        }
    }
    update(c);
}

static void conn_sweep(conn *c)
{
    const peer_opts *o = c->S->o;
    int64_t now = c->S->L->now;
    if (c->lingering) {
        if (now >= c->t_linger)
            c->dead = 1;
    } else if ((c->q.bytes || source_pending(c)) && o->write_ms && now - c->t_tx >= o->write_ms) {
        /* the peer does not read: nothing more can be delivered */
        g_stats.errors[VSOK_E_TIMEOUT]++;
        g_stats.timeouts_write++;
        c->result = VSOK_E_TIMEOUT;
        c->dead = 1;
        plog(LOG_WARN, "timeout", "conn=%" PRIu32 " error=Timeout kind=write pending=%zu offset=%" PRIu64,
             c->id, c->q.bytes, stream_off(c));
    } else if (!c->closing && !c->rd_eof && !c->paused && !c->wait_out && c->t_frame && o->msg_ms &&
               now - c->t_frame >= o->msg_ms) {
        g_stats.timeouts_msg++;
        conn_fail(c, VSOK_E_TIMEOUT, stream_off(c), "message-timeout");
    } else if (!c->closing && !c->rd_eof && o->idle_ms && !c->t_frame && !c->q.bytes && !source_pending(c) &&
               now - c->t_rx >= o->idle_ms) {
        g_stats.timeouts_idle++;
        c->closing = 1;
        plog(LOG_INFO, "idle-timeout", "conn=%" PRIu32 " idle_ms=%" PRId64, c->id, now - c->t_rx);
    }
    if (c->wait_out) {
        if (now - c->t_tx >= WAIT_OUT_MS) {
            /* nothing taken for a while: a client not reading its echoes
             * is read on up to high water, as the output bound allows */
            c->wait_out = 0;
            c->no_wait = 1;
            if (c->t_frame)
                c->t_frame = now;
        } else {
            loop_sweep_by(c->S->L, c->t_tx + WAIT_OUT_MS + 1);
        }
    }
    if (c->dec && !c->t_frame && now - c->t_rx >= DECODER_IDLE_MS && vsok_decoder_at_boundary(c->dec) &&
        vsok_decoder_error(c->dec) == VSOK_OK) {
        c->off_base += vsok_decoder_offset(c->dec);
        vsok_decoder_free(c->dec);
        c->dec = NULL;
    }
    update(c);
}

/* ------------------------------------------------------------ service */

static void serve_add(service *svc, int fd, int client)
{
    serve *S = (serve *)svc;
    loop *L = S->L;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        plog(LOG_ERROR, "out-of-memory", "op=accept");
        close(fd);
        g_stats.conns_refused++;
        return;
    }
    c->w.cb = conn_event;
    c->w.fd = fd;
    c->S = S;
    c->id = ++L->next_id;
    c->client = client ? 1 : 0;
    c->t_rx = c->t_tx = L->now;
    c->src_left = S->o->mode == MODE_SOURCE ? S->o->count : 0;
    c->result = VSOK_OK;
    c->next = S->conns;
    if (S->conns)
        S->conns->prev = c;
    S->conns = c;
    L->nconns++;
    stats_conn_open();
    if (log_enabled(LOG_DEBUG)) {
        char peer[300];
        plog(LOG_DEBUG, "open", "conn=%" PRIu32 " peer=%s", c->id, peer_fd_name(fd, peer, sizeof peer));
    }
    update(c);
}

static void serve_sweep(service *svc)
{
    serve *S = (serve *)svc;
    for (conn *c = S->conns, *n; c; c = n) {
        n = c->next;
        conn_sweep(c);
    }
}

static void serve_close_all(service *svc)
{
    serve *S = (serve *)svc;
    while (S->conns)
        conn_destroy(S->conns);
}

static void serve_free(service *svc)
{
    serve *S = (serve *)svc;
    free(S->rbuf);
    free(S->src_payload);
    free(S);
}

service *serve_new(loop *L)
{
    const peer_opts *o = L->o;
    serve *S = calloc(1, sizeof *S);
    if (!S || !(S->rbuf = malloc(RBUF_SIZE))) {
        free(S);
        plog(LOG_ERROR, "out-of-memory", "op=setup");
        return NULL;
    }
    S->svc.add = serve_add;
    S->svc.sweep = serve_sweep;
    S->svc.close_all = serve_close_all;
    S->svc.free = serve_free;
    S->L = L;
    S->o = o;
    if (o->mode == MODE_SOURCE) {
        size_t n = o->pattern ? strlen(o->pattern) : o->size;
        if (vsok_header_encode(S->src_hdr, n) != VSOK_OK) {
            plog(LOG_ERROR, "usage", "source payload of %zu bytes is not 1..%u", n, VSOK_MAX_PAYLOAD);
            serve_free(&S->svc);
            return NULL;
        }
        S->src_len = n;
        if (!(S->src_payload = malloc(n))) {
            serve_free(&S->svc);
            return NULL;
        }
        if (o->pattern)
            memcpy(S->src_payload, o->pattern, n);
        else
            for (size_t i = 0; i < n; i++)
                S->src_payload[i] = (uint8_t)('a' + i % 26);
    }
    return &S->svc;
}
