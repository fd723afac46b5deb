/* SPDX-License-Identifier: MIT */
/* protocol.c - the VSOK protocol behind the vsok_protocol vtable, and the
 * stateless one-frame helpers over a stream or an fd. */
#include <stdlib.h>

#include "stream_internal.h"
#include "vsok/header.h"
#include "vsok/protocol.h"
#include "writer.h"

vsok_err vsok_stream_write_message(vsok_stream *s, const void *msg, size_t len)
{
    if (s == NULL)
        return VSOK_E_INVAL;
    return vsok__write_frame(s, msg, len, vsok__deadline(s));
}

vsok_err vsok_stream_read_message(vsok_stream *s, size_t max_payload, uint8_t **msg, size_t *len)
{
    if (msg != NULL)
        *msg = NULL;
    if (len != NULL)
        *len = 0;
    if (max_payload == 0)
        max_payload = VSOK_MAX_PAYLOAD;
    if (s == NULL || s->read == NULL || msg == NULL || len == NULL || max_payload > VSOK_MAX_PAYLOAD)
        return VSOK_E_INVAL;
    uint8_t hdr[VSOK_HEADER_SIZE];
    size_t got = 0, bad = 0;
    int64_t deadline = vsok__deadline(s);
    /* Never ask for more than the header: bytes past the frame belong to
     * whoever reads next. */
    while (got < VSOK_HEADER_SIZE) {
        size_t n = 0;
        vsok_err err = vsok__read_some(s, hdr + got, VSOK_HEADER_SIZE - got, &n, deadline);
        if (err == VSOK_E_EOF)
            return got == 0 ? VSOK_E_EOF : VSOK_E_TRUNCATED;
        if (err != VSOK_OK)
            return err;
        got += n;
        if (vsok_header_check_prefix(hdr, got, &bad) != VSOK_OK)
            return VSOK_E_MAGIC;
    }
    uint32_t plen = 0;
    vsok_err err = vsok_header_decode_max(hdr, (uint32_t)max_payload, &plen);
    if (err != VSOK_OK)
        return err;
    if ((err = vsok__read_payload(s, plen, msg, deadline)) != VSOK_OK)
        return err;
    *len = plen;
    return VSOK_OK;
}

vsok_err vsok_write_message(int fd, const void *msg, size_t len)
{
    vsok_stream s = vsok_stream_fd(fd);
    return vsok_stream_write_message(&s, msg, len);
}

vsok_err vsok_read_message(int fd, uint8_t **msg, size_t *len)
{
    vsok_stream s = vsok_stream_fd(fd);
    return vsok_stream_read_message(&s, VSOK_MAX_PAYLOAD, msg, len);
}

static int vsok_proto_read(const vsok_protocol *p, vsok_stream *s, uint8_t **msg, size_t *len)
{
    (void)p;
    return (int)vsok_stream_read_message(s, VSOK_MAX_PAYLOAD, msg, len);
}

static int vsok_proto_write(const vsok_protocol *p, vsok_stream *s, const void *msg, size_t len)
{
    (void)p;
    return (int)vsok_stream_write_message(s, msg, len);
}

static const char *vsok_proto_strerror(const vsok_protocol *p, int err)
{
    (void)p;
    return vsok_errname((vsok_err)err);
}

static int vsok_proto_is_eof(const vsok_protocol *p, int err)
{
    (void)p;
    return err == VSOK_E_EOF;
}

const vsok_protocol vsok_protocol_vsok = {
    "vsok", vsok_proto_read, vsok_proto_write, vsok_proto_strerror, vsok_proto_is_eof, NULL,
};
