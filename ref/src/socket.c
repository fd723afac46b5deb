/* SPDX-License-Identifier: MIT */
/* socket.c - vsok_socket, the buffered message socket: an owned fd, a
 * protocol, a read buffer and a write queue.
 *
 * Reader: one read() of up to 256 KiB (READ_BUF) serves every small message it carries,
 * handed out in place from the read buffer; large payloads are read straight
 * into the decoder's buffer.  Writer: header + first chunk in one writev,
 * chunks of at most 64 KiB after; a queue for batching small messages. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "decoder_internal.h"
#include "frame.h"
#include "stream_internal.h"
#include "vsok/socket.h"
#include "writer.h"

#define READ_BUF (256 * 1024)
#define QUEUE_BUF (256 * 1024)
/* Past this payload size the reader fetches the next header alone, so the
 * payload lands in its final place instead of being copied there. */
#define LARGE_MSG (READ_BUF / 2)
/* vsok_socket_write_message copies frames up to this size into the queue
 * buffer and sends them with one send(); larger ones go header + first
 * chunk in one writev (the copy would cost more than it saves).  Measured
 * over a socketpair against raw writes of the payload (9 interleaved reps,
 * medians): at 4 KiB copy + send and writev tie (0.91 / 0.91 wall), at
 * 8 KiB the copy is ahead (0.96 / 0.91), at 12 KiB they tie (0.84 / 0.85),
 * at 16000 bytes writev is (0.68 / 0.88). */
#define COPY_MAX (8 * 1024)
/* Queued payloads up to this size are copied inline (copy_small). */
#define SMALL_COPY 128
/* The queue takes a frame on its fast path while wlen is below this: then
 * any payload of up to SMALL_COPY bytes fits, so one compare of wlen stands
 * for the room check of every small length.  The last few frames before a
 * full queue take the slow path, which checks the exact room. */
#define QUEUE_FAST (QUEUE_BUF - VSOK_HEADER_SIZE - SMALL_COPY + 1)

struct vsok_socket {
    int fd;
    const vsok_protocol *proto; /* NULL: built-in VSOK fast path */
    vsok_stream stream;
    vsok_decoder *dec;
    uint8_t *rbuf;
    size_t rpos, rlen;
    uint8_t *wbuf;
    size_t wlen;
    size_t wfast; /* QUEUE_FAST once wbuf exists, 0 before (and for custom
                   * protocols, which never get one): wlen < wfast is the
                   * queue's whole room check */
    size_t last_len;
    uint64_t err_off;
    int proto_err;
};

vsok_err vsok_socket_open(vsok_socket **out, int fd, const vsok_protocol *proto)
{
    if (out == NULL || fd < 0) {
        if (fd >= 0)
            close(fd);
        return VSOK_E_INVAL;
    }
    *out = NULL;
    vsok_socket *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        close(fd);
        return VSOK_E_NOMEM;
    }
    s->fd = fd;
    s->proto = proto == &vsok_protocol_vsok ? NULL : proto;
    s->stream = vsok_stream_fd(fd);
    if (s->proto == NULL) {
        vsok_err err = vsok_decoder_open(&s->dec, 0);
        if (err == VSOK_OK && (s->rbuf = malloc(READ_BUF)) == NULL)
            err = VSOK_E_NOMEM;
        if (err != VSOK_OK) {
            vsok_socket_close(s);
            return err;
        }
    }
    *out = s;
    return VSOK_OK;
}

vsok_err vsok_socket_connect(vsok_socket **out, const char *text, int timeout_ms, char *err, size_t errlen)
{
    int fd = -1;
    if (out == NULL)
        return VSOK_E_INVAL;
    *out = NULL;
    vsok_err e = vsok_connect(text, timeout_ms, &fd, err, errlen);
    if (e != VSOK_OK)
        return e;
    return vsok_socket_open(out, fd, NULL);
}

vsok_err vsok_socket_accept(vsok_socket **out, int listen_fd, int timeout_ms, const vsok_protocol *proto,
                            vsok_addr *peer)
{
    if (out == NULL || listen_fd < 0)
        return VSOK_E_INVAL;
    *out = NULL;
    int fd = -1;
    vsok_err e = vsok_addr_accept(listen_fd, timeout_ms, &fd);
    if (e != VSOK_OK)
        return e;
    if (peer != NULL && vsok_addr_from_fd(fd, 1, peer) != VSOK_OK)
        memset(peer, 0, sizeof(*peer));
    return vsok_socket_open(out, fd, proto);
}

void vsok_socket_close(vsok_socket *s)
{
    if (s == NULL)
        return;
    int saved = errno;
    if (s->fd >= 0)
        close(s->fd);
    vsok_decoder_free(s->dec);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
    errno = saved;
}

int vsok_socket_fd(const vsok_socket *s) { return s ? s->fd : -1; }

void vsok_socket_set_timeout(vsok_socket *s, int timeout_ms)
{
    if (s == NULL)
        return;
    s->stream.timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
    /* A deadline holds only if read/write can say EAGAIN: connect and
     * accept hand over blocking fds.  The handle owns the fd, and its loops
     * poll on EAGAIN, so non-blocking changes nothing else. */
    if (timeout_ms >= 0) {
        int fl = fcntl(s->fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK))
            (void)fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
    }
}

vsok_err vsok_socket_set_max_payload(vsok_socket *s, size_t max_payload)
{
    if (s == NULL || s->dec == NULL || max_payload == 0 || max_payload > VSOK_MAX_PAYLOAD ||
        !vsok_decoder_at_boundary(s->dec) || vsok_decoder_offset(s->dec) != 0)
        return VSOK_E_INVAL;
    vsok_decoder *d = NULL;
    vsok_err err = vsok_decoder_open(&d, max_payload);
    if (err != VSOK_OK)
        return err;
    vsok_decoder_free(s->dec);
    s->dec = d;
    return VSOK_OK;
}

static vsok_err protocol_error(vsok_socket *s, vsok_err err)
{
    s->err_off = vsok_decoder_error_offset(s->dec);
    return err;
}

static vsok_err recv_slow(vsok_socket *s, vsok_msg *msg);

vsok_err vsok_socket_recv(vsok_socket *s, vsok_msg *msg)
{
    if (s == NULL || msg == NULL || s->dec == NULL)
        return VSOK_E_INVAL;
    size_t whole = vsok__decoder_whole(s->dec, s->rbuf + s->rpos, s->rlen - s->rpos, msg);
    if (whole > 0) {
        /* The common case of a burst: the next frame is already here.  Kept
         * apart from recv_slow so this path costs no register saves. */
        s->rpos += whole;
        s->last_len = msg->len;
        return VSOK_OK;
    }
    return recv_slow(s, msg);
}

/* Everything but a whole frame already in the read buffer. */
__attribute__((noinline)) static vsok_err recv_slow(vsok_socket *s, vsok_msg *msg)
{
    int64_t deadline = vsok__deadline(&s->stream);
    for (;;) {
        if (s->rpos < s->rlen || vsok_decoder_error(s->dec) != VSOK_OK) {
            size_t used = 0;
            vsok_err err = vsok_decoder_feed(s->dec, s->rbuf + s->rpos, s->rlen - s->rpos, &used, msg);
            s->rpos += used;
            if (err == VSOK_OK) {
                s->last_len = msg->len;
                return VSOK_OK;
            }
            if (err != VSOK_E_AGAIN)
                return protocol_error(s, err);
        }
        size_t n = 0, room = 0;
        vsok_err err = VSOK_OK;
        uint8_t *direct = NULL;
        if (vsok_decoder_pending_length(s->dec) >= LARGE_MSG) {
            err = vsok_decoder_room(s->dec, &direct, &room);
            if (err == VSOK_E_NOMEM)
                return err; /* state kept: the caller may retry */
        }
        if (direct != NULL) {
            err = vsok__read_owed(&s->stream, direct, room, &n, deadline);
            if (err == VSOK_OK) {
                err = vsok_decoder_commit(s->dec, n, msg);
                if (err == VSOK_OK) {
                    s->last_len = msg->len;
                    return VSOK_OK;
                }
                continue;
            }
        } else {
            /* After large frames, fetch just the next header so its payload
             * goes straight to the decoder's buffer. */
            size_t want =
                vsok_decoder_at_boundary(s->dec) && s->last_len >= LARGE_MSG ? VSOK_HEADER_SIZE : READ_BUF;
            s->rpos = s->rlen = 0;
            err = vsok__read_some(&s->stream, s->rbuf, want, &n, deadline);
            if (err == VSOK_OK) {
                s->rlen = n;
                continue;
            }
        }
        if (err == VSOK_E_EOF)
            return protocol_error(s, vsok_decoder_finish(s->dec));
        return err;
    }
}

static vsok_err proto_result(vsok_socket *s, int code)
{
    if (code == 0)
        return VSOK_OK;
    if (s->proto->is_eof != NULL && s->proto->is_eof(s->proto, code))
        return VSOK_E_EOF;
    s->proto_err = code;
    return VSOK_E_PROTOCOL;
}

vsok_err vsok_socket_read_message(vsok_socket *s, uint8_t **msg, size_t *len)
{
    if (msg != NULL)
        *msg = NULL;
    if (len != NULL)
        *len = 0;
    if (s == NULL || msg == NULL || len == NULL)
        return VSOK_E_INVAL;
    if (s->proto != NULL)
        return proto_result(s, s->proto->read_message(s->proto, &s->stream, msg, len));
    vsok_msg m;
    vsok_err err = vsok_socket_recv(s, &m);
    if (err != VSOK_OK)
        return err;
    if ((*msg = malloc(m.len)) == NULL)
        return VSOK_E_NOMEM;
    memcpy(*msg, m.data, m.len);
    *len = m.len;
    return VSOK_OK;
}

vsok_err vsok_socket_flush(vsok_socket *s)
{
    if (s == NULL)
        return VSOK_E_INVAL;
    if (s->wlen == 0)
        return VSOK_OK;
    struct iovec iov = {s->wbuf, s->wlen};
    vsok_err err = vsok__writev_until(&s->stream, &iov, 1, vsok__deadline(&s->stream));
    /* On failure the stream position is unknown: drop the queue rather than
     * resend bytes that may have gone out. */
    s->wlen = 0;
    return err;
}

vsok_err vsok_socket_write_message(vsok_socket *s, const void *msg, size_t len)
{
    if (s == NULL)
        return VSOK_E_INVAL;
    if (s->proto != NULL)
        return proto_result(s, s->proto->write_message(s->proto, &s->stream, msg, len));
    vsok_err err;
    /* Up to COPY_MAX the frame is copied behind whatever is queued and
     * leaves in one plain send(): a copy of a few KiB costs less than a
     * two-element sendmsg() (header + payload) does in the kernel. */
    if (len - 1 < COPY_MAX) {
        if ((err = vsok_socket_queue(s, msg, len)) != VSOK_OK)
            return err;
        return vsok_socket_flush(s);
    }
    if ((err = vsok_socket_flush(s)) != VSOK_OK)
        return err;
    return vsok__write_frame(&s->stream, msg, len, vsok__deadline(&s->stream));
}

static vsok_err queue_slow(vsok_socket *s, const void *msg, size_t len);

/* Copies n bytes, 1 <= n <= SMALL_COPY, with fixed-size moves that overlap
 * at the end instead of a call to memcpy: at 64 B the libc call (PLT jump,
 * size dispatch) cost as much as the copy itself, and the queue is a leaf
 * only if it calls nothing. */
static inline void copy_small(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n > 64) {
        for (size_t i = 0; i + 32 < n; i += 32)
            memcpy(dst + i, src + i, 32);
        memcpy(dst + n - 32, src + n - 32, 32);
    } else if (n >= 32) {
        memcpy(dst, src, 32);
        memcpy(dst + n - 32, src + n - 32, 32);
    } else if (n >= 16) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/* Header and payload of a small frame (1 <= len <= SMALL_COPY) at p. */
static inline void put_small(uint8_t *p, const void *msg, size_t len)
{
    vsok__header_put8(p, (uint32_t)len);
    copy_small(p + VSOK_HEADER_SIZE, msg, len);
}

vsok_err vsok_socket_queue(vsok_socket *s, const void *msg, size_t len)
{
    /* The per-message cost of the batched path: a valid small message
     * (1 <= len < VSOK_CHUNK_SIZE <= VSOK_MAX_PAYLOAD, so the header goes in
     * without vsok_header_encode's checks) that fits the queue, copied
     * behind what is queued: the whole cost is this copy, the system call
     * is paid once per QUEUE_BUF bytes by flush.  Four checks, each one
     * compare: s, the length range, the room (wfast is 0 until the queue
     * exists, and only the VSOK protocol gets one), then msg. */
    size_t wlen;
    if (s != NULL && len - 1 < SMALL_COPY && (wlen = s->wlen) < s->wfast && msg != NULL) {
        uint8_t *p = s->wbuf + wlen;
        /* stored before the copy: the copy's stores may alias s for all
         * the compiler knows, and would force wlen to be loaded again */
        s->wlen = wlen + VSOK_HEADER_SIZE + len;
        put_small(p, msg, len);
        return VSOK_OK;
    }
    return queue_slow(s, msg, len);
}

/* Appends a valid message (1 <= len < VSOK_CHUNK_SIZE) that fits. */
static void queue_copy(vsok_socket *s, const void *msg, size_t len)
{
    uint8_t *p = s->wbuf + s->wlen;
    vsok__header_put(p, (uint32_t)len);
    memcpy(p + VSOK_HEADER_SIZE, msg, len);
    s->wlen += VSOK_HEADER_SIZE + len;
}

/* Arguments to refuse, other protocols, large messages, payloads past
 * SMALL_COPY (a memcpy call), the first message (allocates the queue) and
 * a full queue (flushes, then queues). */
__attribute__((noinline)) static vsok_err queue_slow(vsok_socket *s, const void *msg, size_t len)
{
    if (s == NULL || (msg == NULL && len > 0))
        return VSOK_E_INVAL;
    if (s->proto != NULL || len >= VSOK_CHUNK_SIZE)
        return vsok_socket_write_message(s, msg, len);
    if (len == 0)
        return VSOK_E_LENGTH;
    if (s->wbuf == NULL) {
        if ((s->wbuf = malloc(QUEUE_BUF)) == NULL)
            return VSOK_E_NOMEM;
        s->wfast = QUEUE_FAST;
    }
    if (QUEUE_BUF - s->wlen < VSOK_HEADER_SIZE + len) {
        vsok_err err = vsok_socket_flush(s);
        if (err != VSOK_OK)
            return err;
    }
    queue_copy(s, msg, len);
    return VSOK_OK;
}

vsok_err vsok_socket_write_messages(vsok_socket *s, const struct iovec *msgs, size_t n)
{
    if (s == NULL || (msgs == NULL && n > 0))
        return VSOK_E_INVAL;
    /* Each message goes as vsok_socket_queue would take it, behind what is
     * already queued, and the queue is flushed at the end: small messages
     * cost one copy each and a system call per QUEUE_BUF bytes.  This is
     * the queue's fast path as a loop, with wlen held in a register: no
     * call, and no load and store of wlen per message (a writev with an
     * iovec per header and payload cost the kernel far more per message
     * than the copy does).  Anything else (large, invalid, the first
     * message, a full queue) goes through queue_slow. */
    uint8_t *wbuf = s->wbuf; /* locals: the copies' stores may alias s */
    size_t wlen = s->wlen, wfast = s->wfast;
    for (size_t i = 0; i < n; i++) {
        const void *msg = msgs[i].iov_base;
        size_t len = msgs[i].iov_len;
        if (len - 1 < SMALL_COPY && wlen < wfast && msg != NULL) {
            put_small(wbuf + wlen, msg, len);
            wlen += VSOK_HEADER_SIZE + len;
            continue;
        }
        s->wlen = wlen;
        vsok_err err = queue_slow(s, msg, len);
        if (err != VSOK_OK) {
            /* An invalid message: those before it still go out, as they
             * would one call each.  (After an I/O error the queue is
             * already dropped and this flush has nothing to send.) */
            vsok_err ferr = vsok_socket_flush(s);
            return ferr != VSOK_OK ? ferr : err;
        }
        wbuf = s->wbuf;
        wlen = s->wlen;
        wfast = s->wfast;
    }
    s->wlen = wlen;
    return vsok_socket_flush(s);
}

uint64_t vsok_socket_error_offset(const vsok_socket *s) { return s ? s->err_off : 0; }
int vsok_socket_proto_error(const vsok_socket *s) { return s ? s->proto_err : 0; }
const vsok_protocol *vsok_socket_protocol(const vsok_socket *s)
{
    if (s == NULL)
        return NULL;
    return s->proto ? s->proto : &vsok_protocol_vsok;
}

vsok_err vsok_socket_shutdown_write(vsok_socket *s)
{
    vsok_err err = vsok_socket_flush(s);
    if (err != VSOK_OK)
        return err;
    return shutdown(s->fd, SHUT_WR) == 0 ? VSOK_OK : VSOK_E_IO;
}
