/* SPDX-License-Identifier: MIT */
/* vsok/error.h - error codes shared by every vsok module.
 *
 * Every fallible vsok call returns a vsok_err.  VSOK_OK is zero, so
 * `if (err) ...` works.  For VSOK_E_IO the library leaves errno as the
 * failing system call set it.  The library never prints.
 */
#ifndef VSOK_ERROR_H
#define VSOK_ERROR_H
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vsok_err {
    VSOK_OK = 0,
    VSOK_E_MAGIC,     /* "InvalidMagicBytes": first 4 bytes of a frame are not "VSOK" */
    VSOK_E_TOO_LARGE, /* "MessageTooLarge": length above the maximum (or above UINT32_MAX) */
    VSOK_E_LENGTH,    /* "InvalidTotalLength": length field is zero */
    VSOK_E_IO,        /* "Io": transport failure, errno kept */
    VSOK_E_EOF,       /* "Eof": clean end of stream at a frame boundary */
    VSOK_E_TRUNCATED, /* "Truncated": stream ended inside a frame */
    VSOK_E_TIMEOUT,   /* "Timeout": a deadline passed before the operation completed */
    VSOK_E_NOMEM,     /* "OutOfMemory" */
    VSOK_E_INVAL,     /* "InvalidArgument": the caller broke a function's contract */
    VSOK_E_AGAIN,     /* "WouldBlock": non-blocking call needs more bytes / buffer room */
    VSOK_E_ADDRESS,   /* "InvalidAddress": an address string could not be parsed */
    VSOK_E_HANDSHAKE, /* "HandshakeFailed": Firecracker CONNECT/OK exchange malformed */
    VSOK_E_PROTOCOL,  /* "ProtocolError": a custom protocol's own error; see its code */
    VSOK_E__COUNT
} vsok_err;

/* Stable machine-readable name ("InvalidMagicBytes", ...).  These exact
 * strings appear in the test vectors and in conformance reports; they never
 * change.  Unknown values give "Unknown".  Returned string is static. */
VSOK_API const char *vsok_errname(vsok_err err);

/* Human sentence describing the error, naming the protocol rule it breaks.
 * Returned string is static. */
VSOK_API const char *vsok_strerror(vsok_err err);

/* Reverse of vsok_errname; returns VSOK_E__COUNT when the name is unknown. */
VSOK_API vsok_err vsok_err_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
