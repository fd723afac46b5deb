/* SPDX-License-Identifier: MIT */
/* writer.h - the frame writer (internal; writer.c). */
#ifndef VSOK_WRITER_H
#define VSOK_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "vsok/stream.h"

/* Writes one VSOK frame (header + first chunk coalesced, then chunks of at
 * most VSOK_CHUNK_SIZE) before deadline (absolute, -1 = none). */
vsok_err vsok__write_frame(vsok_stream *s, const void *msg, size_t len, int64_t deadline);

#endif
