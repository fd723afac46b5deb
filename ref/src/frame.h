/* SPDX-License-Identifier: MIT */
/* frame.h - the frame layout, written in one place (internal).
 *
 * Every writer of a VSOK header (vsok_header_encode, the socket's batched
 * queue) stores it through vsok__header_put or vsok__header_put8, here, so
 * the layout exists in one place. */
#ifndef VSOK_FRAME_H
#define VSOK_FRAME_H

#include <stdint.h>
#include <string.h>

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

/* The same header as one 8-byte store (the socket's queue, per message):
 * built byte by byte, gcc merged the bytes into a register with six masks
 * per message inside a loop.  Same bytes as vsok__header_put. */
static inline void vsok__header_put8(uint8_t *p, uint32_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w = (uint64_t)__builtin_bswap32(len) << 32 | __builtin_bswap32(VSOK__MAGIC_BE32);
    memcpy(p, &w, sizeof(w));
#else
    vsok__header_put(p, len);
#endif
}

#endif
