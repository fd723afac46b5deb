/* SPDX-License-Identifier: MIT */
/* writer.c - the frame writer: one VSOK frame onto a stream, header and
 * first chunk together, the rest in chunks of at most VSOK_CHUNK_SIZE. */
#include <string.h>

#include "stream_internal.h"
#include "vsok/header.h"
#include "writer.h"

#define SMALL_COPY 512

vsok_err vsok__write_frame(vsok_stream *s, const void *msg, size_t len, int64_t deadline)
{
    uint8_t hdr[VSOK_HEADER_SIZE];
    if (s == NULL || (msg == NULL && len > 0))
        return VSOK_E_INVAL;
    vsok_err err = vsok_header_encode(hdr, len);
    if (err != VSOK_OK)
        return err;
    /* Header and first chunk leave together: a small message is one call.
     * Tiny ones are copied behind the header so the call is a plain send(),
     * cheaper in the kernel than a two-element sendmsg(). */
    if (len <= SMALL_COPY) {
        uint8_t frame[VSOK_HEADER_SIZE + SMALL_COPY];
        memcpy(frame, hdr, sizeof(hdr));
        memcpy(frame + sizeof(hdr), msg, len);
        struct iovec one = {frame, sizeof(hdr) + len};
        return vsok__writev_until(s, &one, 1, deadline);
    }
    size_t first = len < VSOK_CHUNK_SIZE ? len : VSOK_CHUNK_SIZE;
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)(uintptr_t)msg, first}};
    if ((err = vsok__writev_until(s, iov, 2, deadline)) != VSOK_OK)
        return err;
    for (size_t off = first; off < len; off += VSOK_CHUNK_SIZE) {
        size_t n = len - off < VSOK_CHUNK_SIZE ? len - off : VSOK_CHUNK_SIZE;
        struct iovec chunk = {(uint8_t *)(uintptr_t)msg + off, n};
        if ((err = vsok__writev_until(s, &chunk, 1, deadline)) != VSOK_OK)
            return err;
    }
    return VSOK_OK;
}
