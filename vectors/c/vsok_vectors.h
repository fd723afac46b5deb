/* SPDX-License-Identifier: MIT */
/* vsok_vectors.h - loader for vectors/vectors.txt, the C-friendly export of
 * the VSOK golden test vectors (the JSON files are the primary form; this
 * line-based file carries exactly the same cases so C code needs no JSON
 * parser).
 *
 * The loader is independent of libvsok: it can drive any implementation.
 * It expands every input stream and payload to bytes and verifies each
 * against its SHA-256 while loading, so a loaded set is known to be intact.
 *
 *   vsok_vec_set *set;
 *   char err[256];
 *   if (vsok_vec_load(VSOK_VECTORS_TXT, &set, err, sizeof err) != 0) { ... }
 *   for (size_t i = 0; i < set->ncases; i++) {
 *       const vsok_vec_case *c = &set->cases[i];
 *       if (c->kind == VSOK_VEC_DECODER) run(c->input, c->input_len) ...
 *   }
 *   vsok_vec_free(set);
 */
#ifndef VSOK_VECTORS_H
#define VSOK_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vsok_vec_kind {
    VSOK_VEC_DECODER = 1, /* input stream -> messages, then Eof or an error */
    VSOK_VEC_ENCODER = 2, /* payload length (and payload) -> header, or refusal */
} vsok_vec_kind;

/* How the sender ends the stream after its last byte. */
typedef enum vsok_vec_end {
    VSOK_VEC_END_HALF_CLOSE = 1, /* shutdown(SHUT_WR), then wait for the reader */
    VSOK_VEC_END_CLOSE = 2,      /* close() */
    VSOK_VEC_END_RESET = 3,      /* abortive close (SO_LINGER 0 + close: TCP RST).  The
                                    reader may then see Io instead of the expected result,
                                    after a prefix of the expected messages. */
} vsok_vec_end;

/* One expected message: its payload is input[frame_offset + 8 ..
 * frame_offset + 8 + len). */
typedef struct vsok_vec_msg {
    uint64_t frame_offset; /* stream offset of the frame's first header byte */
    uint32_t len;
    uint8_t sha256[32];
} vsok_vec_msg;

typedef struct vsok_vec_split {
    uint64_t offset;   /* the sender starts a new write() at this stream offset */
    uint32_t pause_ms; /* after a pause of this many milliseconds */
} vsok_vec_split;

typedef struct vsok_vec_case {
    uint32_t id; /* stable: never changes meaning */
    vsok_vec_kind kind;
    char group[32]; /* "boundary", "magic", ..., "encoder" */
    char name[96];
    char tags[256];    /* space-separated; see vsok_vec_has_tag */
    char *description; /* one sentence, never NULL */

    /* --- decoder cases --- */
    uint8_t *input; /* input_len bytes (malloc'd; non-NULL even when empty) */
    size_t input_len;
    uint8_t input_sha256[32];
    vsok_vec_msg *msgs; /* expected messages, in order */
    size_t nmsgs;

    /* Both kinds: "Eof" (decoder, clean end) or "Ok" (encoder, accepted) or an
     * error name exactly as vsok_errname spells it ("InvalidMagicBytes",
     * "MessageTooLarge", "InvalidTotalLength", "Truncated"). */
    char result[32];
    uint64_t result_offset; /* decoder: stream offset where a conforming reader first
                               detects the result (input_len for Eof and Truncated) */

    /* Optional delivery schedule (decoder): has_delivery 0 means "any split";
     * runners then send everything in one write and half-close. */
    int has_delivery;
    vsok_vec_split *splits;
    size_t nsplits;
    vsok_vec_end end;

    /* --- encoder cases --- */
    uint64_t payload_len; /* may exceed SIZE_MAX on 32-bit hosts (see tag size64) */
    uint8_t *payload;     /* accepted cases: payload_len bytes; rejected: NULL (the
                              length is only described, never materialised) */
    uint8_t header[8];    /* accepted cases: the exact header an encoder must produce */
    uint64_t frame_len;   /* accepted cases: 8 + payload_len */
    uint8_t frame_sha256[32];
} vsok_vec_case;

typedef struct vsok_vec_set {
    uint32_t format_version; /* layout of vectors.txt (1) */
    uint32_t version;        /* version of the vector set */
    vsok_vec_case *cases;    /* sorted by id */
    size_t ncases;
} vsok_vec_set;

/* Loads and expands path.  Returns 0, or -1 with a sentence naming the line
 * and the problem in err (errlen bytes, always NUL-terminated; err may be
 * NULL).  Every input and payload is checked against its SHA-256. */
int vsok_vec_load(const char *path, vsok_vec_set **out, char *err, size_t errlen);
void vsok_vec_free(vsok_vec_set *set);

/* The case with this id, or NULL. */
const vsok_vec_case *vsok_vec_find(const vsok_vec_set *set, uint32_t id);

/* True when c carries tag. */
int vsok_vec_has_tag(const vsok_vec_case *c, const char *tag);

/* Text of an end mode ("half-close", "close", "reset"). */
const char *vsok_vec_end_name(vsok_vec_end end);

/* SHA-256 (FIPS 180-4), self-contained so consumers can check payloads. */
void vsok_vec_sha256(const void *data, size_t len, uint8_t out[32]);

/* Writes 64 lowercase hex digits and a NUL into out[65]. */
void vsok_vec_hex32(const uint8_t digest[32], char out[65]);

#ifdef __cplusplus
}
#endif
#endif
