/* SPDX-License-Identifier: MIT */
/* decoder.c - incremental push decoder and the independent one-shot decoder.
 *
 * The push decoder is split-aware: a frame wholly inside the caller's buffer
 * is handed out in place; only frames that straddle feeds are copied, into a
 * buffer that grows with the bytes actually received. */
#include <stdlib.h>
#include <string.h>

#include "decoder_internal.h"
#include "vsok/decoder.h"

#define MIN_ALLOC VSOK_DECODER_MIN_BUF
/* How far ahead of the frame handed out the fast path prefetches: 4 KiB
 * (measured on 64 B frames from a 64 MiB stream: 1 KiB and 2 KiB came
 * later than needed; two lines per frame of 72 B keep ahead of the walk). */
#define PREFETCH_AHEAD 4096

vsok_err vsok_decoder_open(vsok_decoder **out, size_t max_payload)
{
    if (out == NULL)
        return VSOK_E_INVAL;
    *out = NULL;
    if (max_payload == 0)
        max_payload = VSOK_MAX_PAYLOAD;
    if (max_payload > VSOK_MAX_PAYLOAD)
        return VSOK_E_INVAL;
    vsok_decoder *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return VSOK_E_NOMEM;
    d->max = (uint32_t)max_payload;
    *out = d;
    return VSOK_OK;
}

vsok_decoder *vsok_decoder_new(size_t max_payload)
{
    vsok_decoder *d = NULL;
    (void)vsok_decoder_open(&d, max_payload);
    return d;
}

void vsok_decoder_free(vsok_decoder *d)
{
    if (d == NULL)
        return;
    free(d->buf);
    free(d);
}

void vsok_decoder_reset(vsok_decoder *d)
{
    if (d == NULL)
        return;
    uint32_t max = d->max;
    free(d->buf);
    memset(d, 0, sizeof(*d));
    d->max = max;
}

void vsok_decoder_trim(vsok_decoder *d)
{
    if (d == NULL || d->in_payload || d->buf == NULL)
        return;
    free(d->buf);
    d->buf = NULL;
    d->cap = 0;
}

static vsok_err fail(vsok_decoder *d, vsok_err err, uint64_t at)
{
    d->err = err;
    d->err_off = at;
    return err;
}

/* Sets the capacity to cap, clamped to [MIN_ALLOC, announced length]. */
static int resize(vsok_decoder *d, size_t cap)
{
    if (cap < MIN_ALLOC)
        cap = MIN_ALLOC;
    if (cap > d->need)
        cap = d->need;
    uint8_t *nb = realloc(d->buf, cap);
    if (nb == NULL)
        return -1;
    d->buf = nb;
    d->cap = cap;
    return 0;
}

/* Grows buf to hold at least want payload bytes, want being what has
 * arrived for the frame: twice that (each growth at least doubles, so the
 * copies stay amortised), at least MIN_ALLOC, never past the announced
 * length.  Memory follows the bytes received, not the bytes promised. */
static int grow(vsok_decoder *d, size_t want)
{
    if (want <= d->cap)
        return 0;
    return resize(d, want * 2);
}

static void frame_done(vsok_decoder *d, vsok_msg *msg, const uint8_t *data, uint64_t end)
{
    msg->data = data;
    msg->len = d->need;
    msg->offset = d->frame_off;
    d->in_payload = 0;
    d->hdr_have = 0;
    d->need = 0;
    d->have = 0;
    d->frame_off = end;
}

/* Validates a complete header held in d->hdr and enters the payload state. */
static vsok_err start_payload(vsok_decoder *d)
{
    uint32_t len = 0;
    vsok_err err = vsok_header_decode_max(d->hdr, d->max, &len);
    if (err != VSOK_OK)
        return fail(d, err, d->frame_off + vsok_header_error_index(d->hdr, err));
    d->need = len;
    d->have = 0;
    d->in_payload = 1;
    if (d->cap > MIN_ALLOC) {
        /* a buffer sized by an earlier frame: this one earns its own */
        free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
    return VSOK_OK;
}

static vsok_err feed_slow(vsok_decoder *d, const uint8_t *buf, size_t len, size_t *consumed, vsok_msg *msg);

vsok_err vsok_decoder_feed(vsok_decoder *d, const uint8_t *buf, size_t len, size_t *consumed, vsok_msg *msg)
{
    /* The common case, a whole valid frame at the start of buf with the
     * decoder between frames, as a leaf: no register saves, no loop set-up
     * (vsok__decoder_whole checks state, magic, length and room). */
    if (d != NULL && buf != NULL && consumed != NULL && msg != NULL && !d->in_payload) {
        size_t whole = vsok__decoder_whole(d, buf, len, msg);
        if (whole > 0) {
            *consumed = whole;
            /* The caller walks buf frame by frame, each header found from
             * the last length: a chain of loads the hardware cannot run
             * ahead of.  Asking now for the lines a few frames on (inside
             * buf only) lets a stream that is not in cache arrive while the
             * frames before it are handed out. */
            if (len >= whole + PREFETCH_AHEAD + 128) {
                __builtin_prefetch(buf + whole + PREFETCH_AHEAD);
                __builtin_prefetch(buf + whole + PREFETCH_AHEAD + 64);
            }
            return VSOK_OK;
        }
    }
    return feed_slow(d, buf, len, consumed, msg);
}

/* Everything else: split headers and payloads, errors, bad arguments. */
__attribute__((noinline)) static vsok_err feed_slow(vsok_decoder *d, const uint8_t *buf, size_t len,
                                                    size_t *consumed, vsok_msg *msg)
{
    if (consumed != NULL)
        *consumed = 0;
    if (d == NULL || consumed == NULL || msg == NULL || (buf == NULL && len > 0))
        return VSOK_E_INVAL;
    if (d->err != VSOK_OK)
        return d->err;

    const uint64_t base = d->offset;
    size_t pos = 0;
    vsok_err ret = VSOK_E_AGAIN;
    while (pos < len) {
        if (!d->in_payload) {
            if (d->hdr_have == 0 && len - pos >= VSOK_HEADER_SIZE) {
                /* Whole valid frame in the caller's buffer: in place, no
                 * copy (the same path the socket reader takes). */
                d->offset = base + pos;
                size_t whole = vsok__decoder_whole(d, buf + pos, len - pos, msg);
                if (whole > 0) {
                    pos += whole;
                    ret = VSOK_OK;
                    break;
                }
            }
            /* The header, whole or split across feeds: take what there is
             * of it.  A wrong magic byte is caught the moment it arrives,
             * and nothing past it is consumed. */
            size_t had = d->hdr_have, take = VSOK_HEADER_SIZE - had;
            if (take > len - pos)
                take = len - pos;
            memcpy(d->hdr + had, buf + pos, take);
            size_t bad = 0;
            if (had < VSOK_MAGIC_SIZE && vsok_header_check_prefix(d->hdr, had + take, &bad) != VSOK_OK) {
                d->hdr_have = (uint8_t)(bad + 1);
                pos += bad + 1 - had;
                ret = fail(d, VSOK_E_MAGIC, d->frame_off + bad);
                break;
            }
            d->hdr_have = (uint8_t)(had + take);
            pos += take;
            if (d->hdr_have == VSOK_HEADER_SIZE && (ret = start_payload(d)) != VSOK_OK)
                break;
            ret = VSOK_E_AGAIN;
            continue;
        }
        size_t n = d->need - d->have;
        if (n > len - pos)
            n = len - pos;
        if (grow(d, (size_t)d->have + n) != 0) {
            ret = VSOK_E_NOMEM;
            break;
        }
        memcpy(d->buf + d->have, buf + pos, n);
        d->have += (uint32_t)n;
        pos += n;
        if (d->have == d->need) {
            frame_done(d, msg, d->buf, base + pos);
            ret = VSOK_OK;
            break;
        }
    }
    d->offset = base + pos;
    *consumed = pos;
    return ret;
}

vsok_err vsok_decoder_finish(vsok_decoder *d)
{
    if (d == NULL)
        return VSOK_E_INVAL;
    if (d->err != VSOK_OK)
        return d->err;
    if (d->in_payload || d->hdr_have > 0)
        return fail(d, VSOK_E_TRUNCATED, d->offset);
    return fail(d, VSOK_E_EOF, d->offset);
}

vsok_err vsok_decoder_room(vsok_decoder *d, uint8_t **p, size_t *room)
{
    if (p != NULL)
        *p = NULL;
    if (room != NULL)
        *room = 0;
    if (d == NULL || p == NULL || room == NULL)
        return VSOK_E_INVAL;
    if (d->err != VSOK_OK)
        return d->err;
    if (!d->in_payload)
        return VSOK_E_AGAIN;
    size_t left = d->need - d->have;
    /* Room for as many bytes as have arrived (the buffer doubles), at least
     * MIN_ALLOC: never the announced length up front, and a frame of n
     * bytes still fills in about log2(n / MIN_ALLOC) reads. */
    if (d->cap == d->have && resize(d, (size_t)d->have * 2) != 0)
        return VSOK_E_NOMEM;
    size_t avail = d->cap - d->have;
    *room = avail < left ? avail : left;
    *p = d->buf + d->have;
    return VSOK_OK;
}

uint8_t *vsok_decoder_prepare(vsok_decoder *d, size_t *room)
{
    uint8_t *p = NULL;
    if (room == NULL)
        return NULL;
    return vsok_decoder_room(d, &p, room) == VSOK_OK ? p : NULL;
}

vsok_err vsok_decoder_commit(vsok_decoder *d, size_t n, vsok_msg *msg)
{
    if (d == NULL || msg == NULL || !d->in_payload || n > d->cap - d->have || n > d->need - d->have)
        return VSOK_E_INVAL;
    d->have += (uint32_t)n;
    d->offset += n;
    if (d->have < d->need)
        return VSOK_E_AGAIN;
    frame_done(d, msg, d->buf, d->offset);
    return VSOK_OK;
}

uint64_t vsok_decoder_offset(const vsok_decoder *d) { return d ? d->offset : 0; }
uint64_t vsok_decoder_error_offset(const vsok_decoder *d) { return d ? d->err_off : 0; }
vsok_err vsok_decoder_error(const vsok_decoder *d) { return d ? d->err : VSOK_E_INVAL; }
int vsok_decoder_at_boundary(const vsok_decoder *d) { return d && !d->in_payload && d->hdr_have == 0; }
size_t vsok_decoder_memory(const vsok_decoder *d) { return d ? sizeof(*d) + d->cap : 0; }
uint32_t vsok_decoder_pending_length(const vsok_decoder *d) { return d && d->in_payload ? d->need : 0; }

/* ---- pass-through scanning (vsok_decoder_scan) ---- */

vsok_err vsok_decoder_scan(vsok_decoder *d, const uint8_t *buf, size_t len, size_t *consumed, vsok_span *span)
{
    if (consumed != NULL)
        *consumed = 0;
    if (span != NULL)
        *span = (vsok_span){NULL, 0, 0};
    if (d == NULL || consumed == NULL || span == NULL || (buf == NULL && len > 0))
        return VSOK_E_INVAL;
    if (d->err != VSOK_OK)
        return d->err;
    const uint64_t base = d->offset;
    size_t pos = 0;
    if (d->hdr_have > 0) {
        /* A header begun in an earlier call: complete it from d->hdr, and
         * hand it out from there on its own (it is not contiguous with buf). */
        size_t had = d->hdr_have, take = VSOK_HEADER_SIZE - had;
        if (take > len)
            take = len;
        memcpy(d->hdr + had, buf, take);
        size_t bad = 0;
        vsok_err e = VSOK_OK;
        if (had < VSOK_MAGIC_SIZE && vsok_header_check_prefix(d->hdr, had + take, &bad) != VSOK_OK)
            e = fail(d, VSOK_E_MAGIC, d->frame_off + bad);
        else if (had + take == VSOK_HEADER_SIZE)
            e = start_payload(d);
        if (e != VSOK_OK) {
            /* the bad frame so far: its held bytes, then buf from 0 */
            span->data = d->hdr;
            span->len = had;
            return e;
        }
        d->hdr_have = (uint8_t)(had + take);
        d->offset = base + take;
        *consumed = take;
        if (d->hdr_have < VSOK_HEADER_SIZE)
            return VSOK_E_AGAIN;
        d->hdr_have = 0;
        span->data = d->hdr;
        span->len = VSOK_HEADER_SIZE;
        return VSOK_OK;
    }
    /* From here everything passed on is one contiguous run of buf. */
    while (pos < len) {
        if (d->in_payload) {
            size_t n = d->need - d->have;
            if (n > len - pos)
                n = len - pos;
            pos += n;
            d->have += (uint32_t)n;
            if (d->have == d->need) {
                d->in_payload = 0;
                d->need = d->have = 0;
                d->frame_off = base + pos;
                span->frames++;
            }
            continue;
        }
        const uint8_t *h = buf + pos;
        size_t left = len - pos, bad = 0;
        vsok_err e = VSOK_OK;
        if (left >= VSOK_HEADER_SIZE && vsok__be32(h) == VSOK__MAGIC_BE32) {
            uint32_t plen = vsok__be32(h + VSOK_LENGTH_OFFSET);
            if (plen == 0 || plen > d->max) {
                e = fail(d, plen == 0 ? VSOK_E_LENGTH : VSOK_E_TOO_LARGE, d->frame_off + VSOK_LENGTH_OFFSET);
            } else {
                d->need = plen;
                d->have = 0;
                d->in_payload = 1;
                pos += VSOK_HEADER_SIZE;
                continue;
            }
        } else if (vsok_header_check_prefix(h, left, &bad) != VSOK_OK) {
            e = fail(d, VSOK_E_MAGIC, d->frame_off + bad);
        } else {
            /* a correct start of a header at the end of buf: held back */
            memcpy(d->hdr, h, left);
            d->hdr_have = (uint8_t)left;
            d->offset = base + len;
            span->data = pos ? buf : NULL;
            span->len = pos;
            *consumed = len;
            return pos ? VSOK_OK : VSOK_E_AGAIN;
        }
        /* The bad frame starts at pos: what came before it goes out first,
         * and the error (sticky, already set) is returned by the next call. */
        d->offset = base + pos;
        *consumed = pos;
        if (pos == 0)
            return e;
        span->data = buf;
        span->len = pos;
        return VSOK_OK;
    }
    d->offset = base + len;
    *consumed = len;
    span->data = len ? buf : NULL;
    span->len = len;
    return len ? VSOK_OK : VSOK_E_AGAIN;
}

uint64_t vsok_decoder_frame_offset(const vsok_decoder *d) { return d ? d->frame_off : 0; }

size_t vsok_decoder_take_frames(vsok_decoder *d, const uint8_t *buf, size_t len, vsok_span *span)
{
    if (span != NULL)
        *span = (vsok_span){buf, 0, 0};
    if (d == NULL || span == NULL || buf == NULL || d->err != VSOK_OK || d->hdr_have != 0 || d->in_payload)
        return 0;
    /* The same checks as vsok__decoder_whole, in one tight loop: at 64 B
     * a buffer holds thousands of frames, and a call per frame would cost
     * more than the system calls that moved them. */
    size_t pos = 0;
    uint64_t k = 0;
    while (len - pos >= VSOK_HEADER_SIZE) {
        const uint8_t *h = buf + pos;
        if (vsok__be32(h) != VSOK__MAGIC_BE32)
            break;
        uint32_t plen = vsok__be32(h + VSOK_LENGTH_OFFSET);
        if (plen == 0 || plen > d->max || len - pos - VSOK_HEADER_SIZE < plen)
            break;
        const size_t step = VSOK_HEADER_SIZE + (size_t)plen;
        pos += step;
        k++;
        /* Frames of the same size back to back (the common case): the next
         * header is at a known place, so each check is one 8-byte compare
         * that does not wait for the previous frame's length to load. */
        uint8_t same[VSOK_HEADER_SIZE];
        uint64_t want, got;
        memcpy(same, h, VSOK_HEADER_SIZE);
        memcpy(&want, same, sizeof want);
        while (len - pos >= step) {
            memcpy(&got, buf + pos, sizeof got);
            if (got != want)
                break;
            pos += step;
            k++;
        }
    }
    d->offset += pos;
    d->frame_off = d->offset;
    span->len = pos;
    span->frames = k;
    return pos;
}

vsok_err vsok_decode_all(const uint8_t *buf, size_t len, size_t max_payload, vsok_msg_cb on_msg, void *ctx,
                         uint64_t *err_offset)
{
    uint64_t dummy;
    if (err_offset == NULL)
        err_offset = &dummy;
    *err_offset = 0;
    if (max_payload == 0)
        max_payload = VSOK_MAX_PAYLOAD;
    if ((buf == NULL && len > 0) || max_payload > VSOK_MAX_PAYLOAD)
        return VSOK_E_INVAL;
    size_t pos = 0;
    for (;;) {
        size_t left = len - pos;
        if (left == 0) {
            *err_offset = len;
            return VSOK_E_EOF;
        }
        const uint8_t *h = buf + pos;
        /* One compare for a whole right magic; the byte loop only to name
         * the first wrong byte, or a short header that is right so far. */
        if (left < VSOK_HEADER_SIZE || vsok__be32(h) != VSOK__MAGIC_BE32) {
            size_t bad = 0;
            if (vsok_header_check_prefix(h, left, &bad) != VSOK_OK) {
                *err_offset = pos + bad;
                return VSOK_E_MAGIC;
            }
            *err_offset = len;
            return VSOK_E_TRUNCATED;
        }
        uint32_t plen = vsok__be32(h + VSOK_LENGTH_OFFSET);
        if (plen == 0 || plen > max_payload) {
            *err_offset = pos + VSOK_LENGTH_OFFSET;
            return plen == 0 ? VSOK_E_LENGTH : VSOK_E_TOO_LARGE;
        }
        if (left - VSOK_HEADER_SIZE < plen) {
            *err_offset = len;
            return VSOK_E_TRUNCATED;
        }
        vsok_msg m = {h + VSOK_HEADER_SIZE, plen, pos};
        pos += VSOK_HEADER_SIZE + plen;
        if (on_msg != NULL && on_msg(ctx, &m) != 0)
            return VSOK_OK;
    }
}
