/* internal.h - helpers shared between library files, not part of the API. */
#ifndef VSOK_INTERNAL_H
#define VSOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "vsok/decoder.h"
#include "vsok/stream.h"

/* One read of at most len bytes (>= 1 delivered on VSOK_OK), retrying EINTR
 * and waiting on EAGAIN up to deadline_ms (absolute, -1 = forever).
 * VSOK_E_EOF when the stream ended. */
vsok_err vsok__read_some(vsok_stream *s, void *buf, size_t len, size_t *got, int64_t deadline_ms);

/* Absolute deadline for a stream's per-call timeout (-1 = none). */
int64_t vsok__deadline(const vsok_stream *s);

/* Reads a payload of exactly len bytes into a buffer that grows with the
 * bytes received (so a stalled peer announcing 1 MiB costs little).  On
 * VSOK_OK *out is malloc'd.  VSOK_E_EOF from the stream becomes
 * VSOK_E_TRUNCATED: the header already arrived. */
vsok_err vsok__read_payload(vsok_stream *s, size_t len, uint8_t **out, int64_t deadline);

/* vsok_stream_writev_full with an absolute deadline shared by several
 * calls (one deadline for a whole message, not one per chunk). */
vsok_err vsok__writev_until(vsok_stream *s, const struct iovec *iov, int iovcnt, int64_t deadline);

/* Writes one VSOK frame (header + first chunk coalesced, then chunks of at
 * most VSOK_CHUNK_SIZE) before deadline. */
vsok_err vsok__write_frame(vsok_stream *s, const void *msg, size_t len, int64_t deadline);

/* The magic as one big-endian word: a header is validated with one load and
 * one compare instead of a byte loop or memcmp (also what a fuzzer's
 * comparison tracing learns the magic from in one step). */
#define VSOK__MAGIC_BE32 0x56534F4Bu

static inline uint32_t vsok__be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The decoder's state, here so the socket reader can take whole frames
 * without a call per message. */
struct vsok_decoder {
    uint32_t max;
    uint8_t hdr_have;           /* header bytes held, 0..8 */
    uint8_t in_payload;         /* header complete, collecting payload */
    uint8_t hdr[VSOK_HEADER_SIZE];
    uint32_t need;              /* payload length of the current frame */
    uint32_t have;              /* payload bytes held in buf */
    size_t cap;
    uint8_t *buf;
    uint64_t offset;            /* bytes consumed so far */
    uint64_t frame_off;         /* offset of the current frame's first byte */
    uint64_t err_off;
    vsok_err err;
};

/* Whole-frame fast path: when d is between frames, error-free, and buf
 * starts with a complete valid frame, hands it out in place and returns the
 * frame's size; otherwise 0 (the caller uses vsok_decoder_feed, which also
 * reports errors at their offsets). */
static inline size_t vsok__decoder_whole(struct vsok_decoder *d, const uint8_t *buf, size_t len, vsok_msg *msg)
{
    if (len < VSOK_HEADER_SIZE || d->hdr_have != 0 || d->err != VSOK_OK || vsok__be32(buf) != VSOK__MAGIC_BE32)
        return 0;
    uint32_t plen = vsok__be32(buf + VSOK_LENGTH_OFFSET);
    if (plen == 0 || plen > d->max || len - VSOK_HEADER_SIZE < plen)
        return 0;
    msg->data = buf + VSOK_HEADER_SIZE;
    msg->len = plen;
    msg->offset = d->frame_off;
    d->offset += VSOK_HEADER_SIZE + (uint64_t)plen;
    d->frame_off = d->offset;
    return VSOK_HEADER_SIZE + (size_t)plen;
}

#endif
