/* SPDX-License-Identifier: MIT */
/* error.c - names and sentences for vsok_err. */
#include <string.h>

#include "vsok/error.h"

static const struct {
    const char *name;
    const char *text;
} errors[VSOK_E__COUNT] = {
    [VSOK_OK] = {"Ok", "success"},
    [VSOK_E_MAGIC] = {"InvalidMagicBytes",
                      "invalid magic bytes: a frame must start with \"VSOK\" (56 53 4F 4B)"},
    [VSOK_E_TOO_LARGE] = {"MessageTooLarge",
                          "message too large: payload length above the maximum (1048576 bytes)"},
    [VSOK_E_LENGTH] = {"InvalidTotalLength", "invalid total length: payload length must be at least 1"},
    [VSOK_E_IO] = {"Io", "transport I/O error (see errno)"},
    [VSOK_E_EOF] = {"Eof", "end of stream at a frame boundary"},
    [VSOK_E_TRUNCATED] = {"Truncated", "stream ended inside a frame"},
    [VSOK_E_TIMEOUT] = {"Timeout", "deadline passed before the operation completed"},
    [VSOK_E_NOMEM] = {"OutOfMemory", "out of memory"},
    [VSOK_E_INVAL] = {"InvalidArgument", "invalid argument"},
    [VSOK_E_AGAIN] = {"WouldBlock", "operation would block: more bytes or buffer room needed"},
    [VSOK_E_ADDRESS] = {"InvalidAddress", "malformed address"},
    [VSOK_E_HANDSHAKE] = {"HandshakeFailed",
                          "Firecracker hybrid vsock handshake failed (expected \"OK <port>\\n\")"},
    [VSOK_E_PROTOCOL] = {"ProtocolError", "the custom protocol reported its own error"},
};

const char *vsok_errname(vsok_err err)
{
    if ((unsigned)err >= VSOK_E__COUNT)
        return "Unknown";
    return errors[err].name;
}

const char *vsok_strerror(vsok_err err)
{
    if ((unsigned)err >= VSOK_E__COUNT)
        return "unknown error";
    return errors[err].text;
}

vsok_err vsok_err_from_name(const char *name)
{
    if (name == NULL)
        return VSOK_E__COUNT;
    for (unsigned i = 0; i < VSOK_E__COUNT; i++)
        if (strcmp(errors[i].name, name) == 0)
            return (vsok_err)i;
    return VSOK_E__COUNT;
}
