/* SPDX-License-Identifier: MIT */
/* vsok/decoder.h - incremental push decoder (reassembly) for VSOK streams.
 *
 * Feed it whatever the transport delivered, one byte or many frames at a
 * time; it hands out each complete message.  The outcome is a function of the
 * byte stream alone, never of how it was split:
 *
 *   - a wrong magic byte is reported as soon as it arrives, at its own offset
 *     (frame start + 0..3);
 *   - a length is judged when all 4 length bytes are in, at frame start + 4;
 *     zero is VSOK_E_LENGTH, above the maximum VSOK_E_TOO_LARGE;
 *   - at end of stream (vsok_decoder_finish) inside a frame: VSOK_E_TRUNCATED
 *     at the offset where the stream ended; at a boundary: VSOK_E_EOF.
 *
 * Errors are sticky: once reported, every later call returns the same error.
 * Messages delivered before the error stay delivered.
 *
 * Memory: the decoder never reserves the announced length up front.  Its
 * payload buffer holds at most
 *
 *     max(VSOK_DECODER_MIN_BUF, 2 x payload bytes received for the frame)
 *
 * (and never more than the announced length) through every path: feed grows
 * it to twice what has arrived, prepare offers room for as many bytes as have
 * arrived (at least VSOK_DECODER_MIN_BUF), so a frame of n bytes still fills
 * in about log2(n / 1 KiB) reads.  A new frame does not inherit a larger
 * buffer from an earlier one.  A peer announcing 1 MiB and sending nothing
 * costs nothing; 1 byte costs 1 KiB.  vsok_decoder_memory adds the struct.
 *
 * Pass-through (vsok_decoder_scan): for a relay.  The same rules and error
 * offsets, but payload bytes are never copied: the decoder says which bytes
 * of the caller's buffer may be passed on, holding back only an incomplete
 * header (8 bytes, inside the struct).  A decoder is used either with
 * feed/prepare/commit or with scan, not both.
 */
#ifndef VSOK_DECODER_H
#define VSOK_DECODER_H
#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "header.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsok_decoder vsok_decoder;

/* Smallest payload buffer the decoder allocates (see Memory above). */
#define VSOK_DECODER_MIN_BUF 1024

/* A delivered message.  data is borrowed: it points either into the buffer
 * passed to vsok_decoder_feed (zero copy, when the whole frame was inside it)
 * or into the decoder's own buffer.  Valid until the next call on the decoder
 * or until the caller's buffer changes, whichever comes first. */
typedef struct vsok_msg {
    const uint8_t *data;
    size_t len;
    uint64_t offset; /* stream offset of the frame's first header byte */
} vsok_msg;

/* Creates a decoder accepting payloads of 1..max_payload bytes (0 means
 * VSOK_MAX_PAYLOAD) in *out, which is NULL on failure: VSOK_E_INVAL when
 * max_payload exceeds VSOK_MAX_PAYLOAD or out is NULL, VSOK_E_NOMEM when
 * the allocation fails.  Free with vsok_decoder_free. */
VSOK_API vsok_err vsok_decoder_open(vsok_decoder **out, size_t max_payload);

/* vsok_decoder_open returning the decoder, or NULL for either failure (kept
 * for source compatibility; new code uses vsok_decoder_open). */
VSOK_API vsok_decoder *vsok_decoder_new(size_t max_payload);
VSOK_API void vsok_decoder_free(vsok_decoder *d);

/* Forgets all state (position, partial frame, sticky error); keeps the
 * configured maximum.  Releases the payload buffer. */
VSOK_API void vsok_decoder_reset(vsok_decoder *d);

/* Consumes bytes from buf[0..len) until one message completes or buf is used
 * up.  *consumed receives the number of bytes taken (always set).
 *   VSOK_OK      - *msg holds a message; call again with buf + *consumed.
 *   VSOK_E_AGAIN - all of buf was taken, no message complete yet.
 *   VSOK_E_MAGIC / VSOK_E_LENGTH / VSOK_E_TOO_LARGE - protocol violation;
 *                  see vsok_decoder_error_offset.  *consumed counts the bytes
 *                  up to and including the offending one.
 *   VSOK_E_NOMEM - could not grow the payload buffer (state kept; retry).
 *   VSOK_E_INVAL - NULL arguments. */
VSOK_API vsok_err vsok_decoder_feed(vsok_decoder *d, const uint8_t *buf, size_t len, size_t *consumed,
                                    vsok_msg *msg);

/* Declares end of stream.  Returns VSOK_E_EOF at a frame boundary,
 * VSOK_E_TRUNCATED inside a frame (offset = bytes received), or the sticky
 * error if one was already reported.  Sticky afterwards. */
VSOK_API vsok_err vsok_decoder_finish(vsok_decoder *d);

/* Zero-copy fill for large payloads: when the decoder is inside a payload it
 * returns a pointer to room for the next bytes and its size in *room (grown
 * as allowed above); the caller read()s into it and calls
 * vsok_decoder_commit.  Returns NULL when not inside a payload (feed the
 * header bytes instead) or on allocation failure (*room = 0). */
VSOK_API uint8_t *vsok_decoder_prepare(vsok_decoder *d, size_t *room);

/* vsok_decoder_prepare with "no room" told apart from failure: VSOK_OK with
 * *p and *room (> 0) set; VSOK_E_AGAIN when not inside a payload (feed the
 * header bytes first); VSOK_E_NOMEM when the buffer could not grow (state
 * kept: retry); the sticky error once there is one; VSOK_E_INVAL for NULL
 * arguments.  *p = NULL and *room = 0 on anything but VSOK_OK. */
VSOK_API vsok_err vsok_decoder_room(vsok_decoder *d, uint8_t **p, size_t *room);

/* Accepts n bytes written into the region from vsok_decoder_prepare.
 * Returns VSOK_OK with *msg set when the payload completed, VSOK_E_AGAIN
 * otherwise, VSOK_E_INVAL if n exceeds the room given. */
VSOK_API vsok_err vsok_decoder_commit(vsok_decoder *d, size_t n, vsok_msg *msg);

/* Releases the payload buffer unless a payload is being collected (between
 * frames, or with only part of a header in: the buffer then holds nothing).  The
 * decoder otherwise keeps its buffer for the next frame (fast for one busy
 * connection); servers holding many idle connections call this after each
 * message so an idle connection costs only the struct. */
VSOK_API void vsok_decoder_trim(vsok_decoder *d);

/* Total bytes consumed so far. */
VSOK_API uint64_t vsok_decoder_offset(const vsok_decoder *d);
/* Stream offset at which the sticky error was detected (0 if none). */
VSOK_API uint64_t vsok_decoder_error_offset(const vsok_decoder *d);
/* The sticky error, VSOK_OK if none. */
VSOK_API vsok_err vsok_decoder_error(const vsok_decoder *d);
/* True when between frames (no partial header or payload held). */
VSOK_API int vsok_decoder_at_boundary(const vsok_decoder *d);
/* Bytes of heap the decoder holds now, struct included. */
VSOK_API size_t vsok_decoder_memory(const vsok_decoder *d);
/* Length announced by the frame being received, 0 if none yet. */
VSOK_API uint32_t vsok_decoder_pending_length(const vsok_decoder *d);

/* Stream offset of the first byte of the frame under way (or of the next
 * frame, between frames).  A caller timing each message compares it with
 * the offset before its latest read: a frame that began in that read began
 * then, whatever the read alignment. */
VSOK_API uint64_t vsok_decoder_frame_offset(const vsok_decoder *d);

/* Bytes that may be passed on, from vsok_decoder_scan. */
typedef struct vsok_span {
    const uint8_t *data; /* into the caller's buffer, or the decoder's held header */
    size_t len;
    uint64_t frames; /* frames that end inside this span */
} vsok_span;

/* Validates buf[0..len) without copying payloads.  *consumed receives the
 * bytes taken (always set); *span the bytes to pass on now (len 0 if none).
 *   VSOK_OK      - pass span on, then call again with buf + *consumed (when
 *                  bytes remain).  The span is either one contiguous run of
 *                  buf (any number of whole frames, then the start of the
 *                  next frame's payload) or, alone, a header completed from
 *                  bytes held across calls (data points into the decoder:
 *                  valid until the next call).
 *   VSOK_E_AGAIN - all of buf taken, nothing to pass on (a partial header is
 *                  held back until it is whole and valid).
 *   VSOK_E_MAGIC / VSOK_E_LENGTH / VSOK_E_TOO_LARGE - the frame starting at
 *                  buf + *consumed is bad (see vsok_decoder_error_offset);
 *                  everything before it was passed on by earlier calls.
 *                  The first time the error is returned, *span holds the bad
 *                  frame's bytes taken in earlier calls, so span then
 *                  buf[*consumed..len) is the bad frame from its first byte
 *                  (for a caller that forwards on regardless).  Sticky, with
 *                  an empty span afterwards.
 *   VSOK_E_INVAL - NULL arguments.
 * End of stream: vsok_decoder_finish, as for feed. */
VSOK_API vsok_err vsok_decoder_scan(vsok_decoder *d, const uint8_t *buf, size_t len, size_t *consumed,
                                    vsok_span *span);

/* Batch fast path for feed: when the decoder is between frames (and
 * error-free), takes every whole valid frame at the start of buf[0..len) in
 * one call and returns the bytes taken; *span (always set) covers them
 * (data = buf, in place) with their count in span->frames.  Returns 0 when
 * the first frame is not whole in buf or not valid, or the decoder is not
 * at a boundary: feed the bytes then (feed reports errors at their
 * offsets).  Afterwards feed continues from buf + the bytes taken.  For the
 * feed/prepare mode only; offsets and frame_offset advance as if each frame
 * had been fed. */
VSOK_API size_t vsok_decoder_take_frames(vsok_decoder *d, const uint8_t *buf, size_t len, vsok_span *span);

/* One-shot decode of a whole byte stream (everything the peer will ever
 * send).  Calls on_msg for each message in order (stop early by returning
 * non-zero: then VSOK_OK is returned).  Returns VSOK_E_EOF when the stream
 * ends cleanly, otherwise the error with *err_offset set.  Independent of the
 * push decoder: used by tests and fuzzers to cross-check it. */
typedef int (*vsok_msg_cb)(void *ctx, const vsok_msg *msg);
VSOK_API vsok_err vsok_decode_all(const uint8_t *buf, size_t len, size_t max_payload, vsok_msg_cb on_msg,
                                  void *ctx, uint64_t *err_offset);

#ifdef __cplusplus
}
#endif
#endif
