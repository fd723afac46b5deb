/* SPDX-License-Identifier: MIT */
/* reader.h - checks the bytes an implementation under test (IUT) echoes
 * against the frames it owes.
 *
 * This is the part of vsok-conform that touches hostile input: whatever the
 * IUT sends (garbage, gigantic lengths, endless data, nothing) goes through
 * vc_reader_feed in chunks of any size.  It never allocates, never stores
 * more than a fixed window of the IUT's bytes and never trusts a length the
 * IUT announces: the expected frames are the yardstick, byte for byte.
 *
 * The echo an IUT owes for payload P is exactly one frame, "VSOK", the
 * length of P as u32 big-endian, then P.  A correct echo stream is the
 * concatenation of the owed frames in order, so the check is a comparison of
 * two byte streams; the reader also knows which frame and which field each
 * offset belongs to, so a report can say "length field of echo #3" rather
 * than "byte 1234".
 *
 * Usage:
 *   vc_reader r;
 *   vc_reader_init(&r, spans, n);
 *   while (vc_reader_feed(&r, buf, got) == VC_R_PENDING) got = read(...);
 *   vc_reader_eof(&r);     (when the IUT closed)
 *   vc_reader_explain(&r, expected, sizeof expected, actual, sizeof actual);
 */
#ifndef VSOK_CONFORM_READER_H
#define VSOK_CONFORM_READER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One owed message (borrowed; must outlive the reader). */
typedef struct vc_span {
    const uint8_t *data;
    size_t len;
} vc_span;

typedef enum vc_rstate {
    VC_R_PENDING = 0, /* every byte so far matched; more are owed */
    VC_R_COMPLETE,    /* every owed byte arrived, nothing else (yet) */
    VC_R_MISMATCH,    /* a byte differed from the owed one (sticky) */
    VC_R_EXCESS,      /* bytes arrived after the last owed one (sticky) */
    VC_R_SHORT,       /* the IUT closed before all owed bytes arrived (sticky) */
} vc_rstate;

#define VC_WINDOW 32 /* actual bytes kept from the first difference on */

typedef struct vc_reader {
    const vc_span *msgs;
    size_t nmsgs;
    uint64_t total;    /* owed bytes: sum of 8 + len */
    uint64_t received; /* bytes fed so far (all of them, also after a difference) */
    vc_rstate state;

    /* comparison cursor (advances while bytes match) */
    size_t msg;        /* index of the owed frame being compared */
    uint64_t in_frame; /* offset inside that frame */
    uint64_t frame_start;

    /* first difference (valid for MISMATCH and EXCESS; for SHORT: where the
     * stream ended) */
    uint64_t diff_offset;
    size_t diff_msg;
    uint64_t diff_in_frame;
    uint8_t window[VC_WINDOW]; /* actual bytes from diff_offset on */
    size_t nwindow;

    /* how the IUT chunked its output (informational) */
    uint64_t feeds;
    uint64_t max_chunk;
} vc_reader;

/* Starts a check against msgs[0..n).  Spans with len 0 or above the VSOK
 * maximum are still compared literally (their owed header is computed the
 * same way), so callers and fuzzers cannot make the reader misbehave. */
void vc_reader_init(vc_reader *r, const vc_span *msgs, size_t n);

/* Feeds len bytes the IUT sent.  Returns the state afterwards.  Safe with
 * any bytes, any chunking, len 0 and after a sticky state (then it only
 * fills the window and counts). */
vc_rstate vc_reader_feed(vc_reader *r, const uint8_t *buf, size_t len);

/* The IUT closed its side.  PENDING becomes SHORT; others are unchanged. */
vc_rstate vc_reader_eof(vc_reader *r);

/* True when more bytes cannot change the verdict or the report: a sticky
 * state whose window is full.  Callers stop reading then. */
int vc_reader_settled(const vc_reader *r);

/* Owed byte at stream offset off (0 when off >= total). */
uint8_t vc_reader_owed_byte(const vc_reader *r, uint64_t off);

/* Name of the frame field at in_frame: "magic", "length" or "payload". */
const char *vc_field_name(uint64_t in_frame);

/* Two sentences, always NUL-terminated: what was owed and what was seen,
 * with byte offsets (e.g. "echo #2 (frame at offset 13): length field =
 * 5 (00 00 00 05)" / "00 00 01 05 at offset 17: the IUT announced 261").
 * Returns the offset of the first difference (or the end of the stream for
 * SHORT), UINT64_MAX when nothing differs. */
uint64_t vc_reader_explain(const vc_reader *r, char *expected, size_t elen, char *actual, size_t alen);

/* A short hex dump around the first difference: up to 16 owed bytes before
 * it and VC_WINDOW from it, two lines ("owed" / "seen") and a caret under
 * the first differing byte.  Empty string when nothing differs. */
void vc_reader_hexdump(const vc_reader *r, char *out, size_t len);

/* Hex dump helper shared by the reports: "0000000d  56 53 4f 4b ... |VSOK|". */
size_t vc_hexline(char *out, size_t len, uint64_t offset, const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
