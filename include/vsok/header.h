/* SPDX-License-Identifier: MIT */
/* vsok/header.h - the 8-byte VSOK frame header.
 *
 *   +-------------+-------------------+----------------+
 *   | "VSOK"      | payload length    | payload        |
 *   | 56 53 4F 4B | u32, big-endian   | length bytes   |
 *   +-------------+-------------------+----------------+
 *
 * Pure functions: no allocation, no I/O.
 */
#ifndef VSOK_HEADER_H
#define VSOK_HEADER_H
#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VSOK_HEADER_SIZE 8
#define VSOK_MAGIC "VSOK"
#define VSOK_MAGIC_SIZE 4
#define VSOK_LENGTH_OFFSET 4     /* offset of the length field in a frame */
#define VSOK_CHUNK_SIZE 65536    /* largest single payload write */
#define VSOK_MAX_PAYLOAD 1048576 /* 1 MiB = 16 x 64 KiB, inclusive */

/* Writes the header for a payload of payload_len bytes into out[0..8).
 * Returns VSOK_E_LENGTH for 0, VSOK_E_TOO_LARGE above VSOK_MAX_PAYLOAD (and so
 * for any size_t above UINT32_MAX: never truncated), VSOK_E_INVAL for a NULL
 * out.  On error out is left untouched. */
VSOK_API vsok_err vsok_header_encode(uint8_t out[VSOK_HEADER_SIZE], size_t payload_len);

/* Validates a complete header: magic first, then length.  *payload_len
 * receives the length field as sent whenever the magic is right (also when it
 * is then rejected, so reports can show it).  Returns VSOK_OK,
 * VSOK_E_MAGIC, VSOK_E_LENGTH, VSOK_E_TOO_LARGE or VSOK_E_INVAL (NULL). */
VSOK_API vsok_err vsok_header_decode(const uint8_t in[VSOK_HEADER_SIZE], uint32_t *payload_len);

/* As vsok_header_decode with a caller-chosen maximum (1..VSOK_MAX_PAYLOAD). */
VSOK_API vsok_err vsok_header_decode_max(const uint8_t in[VSOK_HEADER_SIZE], uint32_t max_payload,
                                         uint32_t *payload_len);

/* Checks the first n (< 8 allowed) bytes of a header as far as they go.
 * Returns VSOK_E_MAGIC with *bad_index set to the first byte (0..3) that
 * differs from "VSOK"; VSOK_OK if nothing seen so far is wrong.  This is what
 * lets a reader reject "GET / HTTP/1.1" at its first byte instead of waiting
 * for eight. */
VSOK_API vsok_err vsok_header_check_prefix(const uint8_t *in, size_t n, size_t *bad_index);

/* Offset, relative to the start of the frame, at which a conforming reader
 * first detects err for this header: the first wrong magic byte for
 * VSOK_E_MAGIC, VSOK_LENGTH_OFFSET for length errors. */
VSOK_API size_t vsok_header_error_index(const uint8_t in[VSOK_HEADER_SIZE], vsok_err err);

#ifdef __cplusplus
}
#endif
#endif
