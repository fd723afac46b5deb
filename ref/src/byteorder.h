/* SPDX-License-Identifier: MIT */
/* byteorder.h - big-endian loads and stores (internal).
 *
 * Leaf header: no library types, so anything may include it and it
 * includes nothing of the library's. */
#ifndef VSOK_BYTEORDER_H
#define VSOK_BYTEORDER_H

#include <stdint.h>

static inline uint32_t vsok__be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void vsok__put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
