/* SPDX-License-Identifier: MIT */
/* frame.h - the frame layout, written in one place (internal).
 *
 * Every writer of a VSOK header (vsok_header_encode, the socket's batched
 * queue) stores it through vsok__header_put, so the layout exists once. */
#ifndef VSOK_FRAME_H
#define VSOK_FRAME_H

#include <stdint.h>

#include "byteorder.h"
#include "vsok/header.h"

/* The magic as one big-endian word: a header is validated with one load and
 * one compare instead of a byte loop or memcmp (also what a fuzzer's
 * comparison tracing learns the magic from in one step). */
#define VSOK__MAGIC_BE32 0x56534F4Bu

/* Stores the header of a payload of len bytes at p[0..8).  len must already
 * be valid (1..VSOK_MAX_PAYLOAD): validation is the caller's, so the
 * batched path pays it once per batch rule, not per byte. */
static inline void vsok__header_put(uint8_t *p, uint32_t len)
{
    vsok__put_be32(p, VSOK__MAGIC_BE32);
    vsok__put_be32(p + VSOK_LENGTH_OFFSET, len);
}

#endif
