/* SPDX-License-Identifier: MIT */
/* lenprefix.c - the example custom protocol: a bare u32 big-endian length
 * prefix with its own maximum and its own error codes, to show (and test)
 * that the vtable carries protocols other than VSOK without flattening their
 * errors into vsok_err. */
#include <stdlib.h>

#include "byteorder.h"
#include "stream_internal.h"
#include "vsok/protocol.h"

static uint32_t lp_max(const vsok_protocol *p) { return ((const vsok_lenprefix *)p)->max_len; }

static int lp_from(vsok_err err)
{
    switch (err) {
    case VSOK_OK: return VSOK_LP_OK;
    case VSOK_E_EOF: return VSOK_LP_E_CLOSED;
    case VSOK_E_TRUNCATED: return VSOK_LP_E_SHORT;
    case VSOK_E_NOMEM: return VSOK_LP_E_ALLOC;
    default: return VSOK_LP_E_TRANSPORT;
    }
}

static int lp_read(const vsok_protocol *p, vsok_stream *s, uint8_t **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    uint8_t pre[4];
    vsok_err err = vsok_stream_read_full(s, pre, sizeof(pre), NULL);
    if (err != VSOK_OK)
        return lp_from(err);
    uint32_t n = vsok__be32(pre);
    if (n == 0)
        return VSOK_LP_E_EMPTY;
    if (n > lp_max(p))
        return VSOK_LP_E_OVERSIZE;
    if ((err = vsok__read_payload(s, n, msg, vsok__deadline(s))) != VSOK_OK)
        return lp_from(err);
    *len = n;
    return VSOK_LP_OK;
}

static int lp_write(const vsok_protocol *p, vsok_stream *s, const void *msg, size_t len)
{
    if (len == 0)
        return VSOK_LP_E_EMPTY;
    if (len > lp_max(p))
        return VSOK_LP_E_OVERSIZE;
    uint8_t pre[4];
    vsok__put_be32(pre, (uint32_t)len); /* len <= max_len, a uint32_t */
    struct iovec iov[2] = {{pre, sizeof(pre)}, {(void *)(uintptr_t)msg, len}};
    return lp_from(vsok_stream_writev_full(s, iov, 2));
}

static const char *lp_strerror(const vsok_protocol *p, int err)
{
    (void)p;
    switch (err) {
    case VSOK_LP_OK: return "Ok";
    case VSOK_LP_E_EMPTY: return "EmptyMessage";
    case VSOK_LP_E_OVERSIZE: return "Oversize";
    case VSOK_LP_E_CLOSED: return "Closed";
    case VSOK_LP_E_SHORT: return "ShortMessage";
    case VSOK_LP_E_TRANSPORT: return "Transport";
    case VSOK_LP_E_ALLOC: return "Alloc";
    default: return "Unknown";
    }
}

static int lp_is_eof(const vsok_protocol *p, int err)
{
    (void)p;
    return err == VSOK_LP_E_CLOSED;
}

void vsok_lenprefix_init(vsok_lenprefix *lp, uint32_t max_len)
{
    lp->proto.name = "lenprefix";
    lp->proto.read_message = lp_read;
    lp->proto.write_message = lp_write;
    lp->proto.strerror = lp_strerror;
    lp->proto.is_eof = lp_is_eof;
    lp->proto.state = lp;
    lp->max_len = max_len;
}
