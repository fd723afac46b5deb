/* SPDX-License-Identifier: MIT */
/* cli_json.h - the one JSON string escaper of the tools (vsok-conform's
 * reports, vsok-peer's JSON log lines).  Valid UTF-8 passes through
 * unchanged; control characters, '"', '\\' and '<' are escaped; each byte of
 * an ill-formed UTF-8 sequence becomes U+FFFD, so the output is always valid
 * JSON whatever bytes a peer sent. */
#ifndef VSOK_CLI_JSON_H
#define VSOK_CLI_JSON_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at p, 0 when p starts an
 * ill-formed one (stray continuation, overlong, surrogate, above U+10FFFF,
 * cut short by end).  Reads p[1..] only while the bytes so far are valid and
 * before end, so a NUL-terminated string is never overrun.  p < end. */
size_t cli_utf8_len(const unsigned char *p, const unsigned char *end);

/* Escapes the text unit at p (p < end) for a JSON string: writes its form to
 * out (at most 6 bytes, not NUL-terminated), sets *outlen, and returns the
 * number of input bytes it stands for (1..4). */
size_t cli_json_unit(const unsigned char *p, const unsigned char *end, char out[6], size_t *outlen);

#endif
