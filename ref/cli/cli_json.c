/* SPDX-License-Identifier: MIT */
#include "cli_json.h"

#include <stdio.h>
#include <string.h>

size_t cli_utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4
                                                                                                        : 0;
    }
    return 0;
}

size_t cli_json_unit(const unsigned char *p, const unsigned char *end, char out[6], size_t *outlen)
{
    size_t n = cli_utf8_len(p, end);
    if (n == 0) { /* one U+FFFD per byte of an ill-formed sequence */
        memcpy(out, "\\ufffd", 6);
        *outlen = 6;
        return 1;
    }
    if (n > 1) {
        memcpy(out, p, n);
        *outlen = n;
        return n;
    }
    const char *e = NULL;
    switch (*p) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\n': e = "\\n"; break;
    case '\t': e = "\\t"; break;
    case '<': e = "\\u003c"; break; /* never "</script>", whatever embeds it */
    default:
        if (*p < 0x20 || *p == 0x7f) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
            memcpy(out, tmp, 6);
            *outlen = 6;
        } else {
            out[0] = (char)*p;
            *outlen = 1;
        }
        return 1;
    }
    *outlen = strlen(e);
    memcpy(out, e, *outlen);
    return 1;
}
