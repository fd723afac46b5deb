/* SPDX-License-Identifier: MIT */
/* header.c - encode and validate the 8-byte frame header. */
#include <stdint.h>

#include "frame.h"
#include "vsok/header.h"

vsok_err vsok_header_encode(uint8_t out[VSOK_HEADER_SIZE], size_t payload_len)
{
    if (out == NULL)
        return VSOK_E_INVAL;
    if (payload_len == 0)
        return VSOK_E_LENGTH;
    /* Compare as size_t before any narrowing: the original design cast to
     * u32 first, turning 4 GiB + 1 into a valid-looking 1-byte frame. */
    if (payload_len > VSOK_MAX_PAYLOAD)
        return VSOK_E_TOO_LARGE;
    vsok__header_put(out, (uint32_t)payload_len);
    return VSOK_OK;
}

vsok_err vsok_header_check_prefix(const uint8_t *in, size_t n, size_t *bad_index)
{
    if (in == NULL && n > 0)
        return VSOK_E_INVAL;
    /* The common case, a whole right magic, without the byte loop. */
    if (n >= VSOK_MAGIC_SIZE && vsok__be32(in) == VSOK__MAGIC_BE32)
        return VSOK_OK;
    if (n > VSOK_MAGIC_SIZE)
        n = VSOK_MAGIC_SIZE;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != (uint8_t)VSOK_MAGIC[i]) {
            if (bad_index)
                *bad_index = i;
            return VSOK_E_MAGIC;
        }
    }
    return VSOK_OK;
}

vsok_err vsok_header_decode_max(const uint8_t in[VSOK_HEADER_SIZE], uint32_t max_payload,
                                uint32_t *payload_len)
{
    if (in == NULL || payload_len == NULL || max_payload == 0 || max_payload > VSOK_MAX_PAYLOAD)
        return VSOK_E_INVAL;
    /* Magic before length: "GET / HTTP/1.1" has a plausible length field. */
    if (vsok__be32(in) != VSOK__MAGIC_BE32)
        return VSOK_E_MAGIC;
    uint32_t len = vsok__be32(in + VSOK_LENGTH_OFFSET);
    *payload_len = len;
    if (len == 0)
        return VSOK_E_LENGTH;
    if (len > max_payload)
        return VSOK_E_TOO_LARGE;
    return VSOK_OK;
}

vsok_err vsok_header_decode(const uint8_t in[VSOK_HEADER_SIZE], uint32_t *payload_len)
{
    return vsok_header_decode_max(in, VSOK_MAX_PAYLOAD, payload_len);
}

size_t vsok_header_error_index(const uint8_t in[VSOK_HEADER_SIZE], vsok_err err)
{
    size_t i = 0;
    if (err == VSOK_E_MAGIC && in != NULL &&
        vsok_header_check_prefix(in, VSOK_MAGIC_SIZE, &i) == VSOK_E_MAGIC)
        return i;
    return VSOK_LENGTH_OFFSET;
}
