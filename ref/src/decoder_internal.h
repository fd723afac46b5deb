/* SPDX-License-Identifier: MIT */
/* decoder_internal.h - the decoder's internals (the struct and its whole-frame fast
 * path), shared by decoder.c and the socket reader; not part of the API.
 * Other internals live by concept: byteorder.h, frame.h (header layout),
 * writer.h (frame writer), stream_internal.h (stream loops). */
#ifndef VSOK_DECODER_INTERNAL_H
#define VSOK_DECODER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "vsok/decoder.h"

/* The decoder's state, here so the socket reader can take whole frames
 * without a call per message. */
struct vsok_decoder {
    uint32_t max;
    uint8_t hdr_have;   /* header bytes held, 0..8 */
    uint8_t in_payload; /* header complete, collecting payload */
    uint8_t hdr[VSOK_HEADER_SIZE];
    uint32_t need; /* payload length of the current frame */
    uint32_t have; /* payload bytes held in buf */
    size_t cap;
    uint8_t *buf;
    uint64_t offset;    /* bytes consumed so far */
    uint64_t frame_off; /* offset of the current frame's first byte */
    uint64_t err_off;
    vsok_err err;
};

/* Whole-frame fast path: when d is between frames, error-free, and buf
 * starts with a complete valid frame, hands it out in place and returns the
 * frame's size; otherwise 0 (the caller uses vsok_decoder_feed, which also
 * reports errors at their offsets). */
static inline size_t vsok__decoder_whole(struct vsok_decoder *d, const uint8_t *buf, size_t len,
                                         vsok_msg *msg)
{
    if (len < VSOK_HEADER_SIZE || d->hdr_have != 0 || d->err != VSOK_OK ||
        vsok__be32(buf) != VSOK__MAGIC_BE32)
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
