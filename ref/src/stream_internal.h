/* SPDX-License-Identifier: MIT */
/* stream_internal.h - the stream loops the library's readers and writers
 * share with absolute deadlines (internal; stream.c). */
#ifndef VSOK_STREAM_INTERNAL_H
#define VSOK_STREAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vsok/stream.h"

/* One read of at most len bytes (>= 1 delivered on VSOK_OK), retrying EINTR
 * and waiting on EAGAIN up to deadline_ms (absolute, -1 = forever).
 * VSOK_E_EOF when the stream ended. */
vsok_err vsok__read_some(vsok_stream *s, void *buf, size_t len, size_t *got, int64_t deadline_ms);

/* As vsok__read_some for bytes the peer owes (the rest of a payload whose
 * header arrived): on a blocking fd stream the kernel is asked to wait for
 * all len (MSG_WAITALL), so a payload sent in 64 KiB writes is taken in one
 * call rather than one per write.  Still returns what there is on end of
 * stream, a signal, or a non-blocking fd (the handle's timeout mode). */
vsok_err vsok__read_owed(vsok_stream *s, void *buf, size_t len, size_t *got, int64_t deadline_ms);

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

#endif
