/* SPDX-License-Identifier: MIT */
/* vsok/protocol.h - vsok_protocol, a message framing behind a vtable.
 *
 * A vsok_protocol reads and writes whole messages over a vsok_stream.  Its
 * functions return the protocol's own int error codes (0 = success) and its
 * strerror hook names those codes, so a custom protocol keeps its own errors
 * instead of being squeezed into vsok_err.
 *
 * Messages read through a protocol are heap blocks the caller frees with
 * free().
 */
#ifndef VSOK_PROTOCOL_H
#define VSOK_PROTOCOL_H
#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsok_protocol vsok_protocol;

struct vsok_protocol {
    const char *name;
    /* Reads one whole message.  On 0, *msg is a malloc'd block of *len bytes
     * owned by the caller.  On error *msg is NULL. */
    int (*read_message)(const vsok_protocol *p, vsok_stream *s, uint8_t **msg, size_t *len);
    /* Writes one whole message. */
    int (*write_message)(const vsok_protocol *p, vsok_stream *s, const void *msg, size_t len);
    /* Name of one of this protocol's error codes (static string). */
    const char *(*strerror)(const vsok_protocol *p, int err);
    /* True when err means a clean end of stream at a message boundary. */
    int (*is_eof)(const vsok_protocol *p, int err);
    void *state; /* protocol's own configuration */
};

/* The VSOK protocol; its error codes are vsok_err values. */
VSOK_API extern const vsok_protocol vsok_protocol_vsok;

/* --- the example custom protocol: plain u32 big-endian length prefix ---
 * Frame = 4-byte big-endian length, then payload.  Zero length allowed?  No:
 * it is rejected like VSOK so an empty read is never ambiguous.  It keeps its
 * own codes (vsok_lp_err), not vsok_err. */
typedef enum vsok_lp_err {
    VSOK_LP_OK = 0,
    VSOK_LP_E_EMPTY,     /* zero length prefix */
    VSOK_LP_E_OVERSIZE,  /* length above the configured maximum */
    VSOK_LP_E_CLOSED,    /* clean end of stream before a prefix */
    VSOK_LP_E_SHORT,     /* stream ended inside a message */
    VSOK_LP_E_TRANSPORT, /* read/write failed, errno kept */
    VSOK_LP_E_ALLOC,
} vsok_lp_err;

typedef struct vsok_lenprefix {
    vsok_protocol proto; /* first member: pass &lp.proto wherever a protocol goes */
    uint32_t max_len;
} vsok_lenprefix;

/* Initialises a length-prefix protocol accepting 1..max_len byte messages.
 * lp is caller-allocated and must
 * outlive its uses. */
VSOK_API void vsok_lenprefix_init(vsok_lenprefix *lp, uint32_t max_len);

/* --- stateless one-frame helpers over an fd (no buffering) --- */

/* Writes one frame: header and first chunk in one writev, then chunks of at
 * most VSOK_CHUNK_SIZE.  Blocks (fd may be non-blocking: it then polls).
 * Never raises SIGPIPE.  VSOK_E_LENGTH / VSOK_E_TOO_LARGE before any byte is
 * written. */
VSOK_API vsok_err vsok_write_message(int fd, const void *msg, size_t len);

/* Reads exactly one frame.  On VSOK_OK *msg is a malloc'd block of *len bytes
 * the caller frees with free().  Returns VSOK_E_EOF on clean end before any
 * byte, VSOK_E_TRUNCATED inside a frame, protocol errors as the decoder.
 * Never reads past the frame. */
VSOK_API vsok_err vsok_read_message(int fd, uint8_t **msg, size_t *len);

/* The same over any stream. */
VSOK_API vsok_err vsok_stream_write_message(vsok_stream *s, const void *msg, size_t len);
VSOK_API vsok_err vsok_stream_read_message(vsok_stream *s, size_t max_payload, uint8_t **msg, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
