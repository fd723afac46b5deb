/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "cli_json.h"

static void esc(const char *in, size_t n, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in, *end = p + n;
    size_t o = 0;
    while (p < end) {
        char u[6];
        size_t ulen;
        size_t used = cli_json_unit(p, end, u, &ulen);
        cr_assert(used >= 1 && used <= 4 && ulen >= 1 && ulen <= 6);
        cr_assert(o + ulen < cap);
        memcpy(out + o, u, ulen);
        o += ulen;
        p += used;
    }
    out[o] = 0;
}

Test(cli_json, passes_valid_utf8_through_unchanged)
{
    char out[64];
    esc("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 14, out, sizeof out);
    cr_assert_str_eq(out, "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
}

Test(cli_json, escapes_quotes_backslash_controls_and_lt)
{
    char out[64];
    esc("a\"b\\c\n\t\x01\x7f<", 10, out, sizeof out);
    cr_assert_str_eq(out, "a\\\"b\\\\c\\n\\t\\u0001\\u007f\\u003c");
}

Test(cli_json, each_byte_of_ill_formed_utf8_becomes_fffd)
{
    char out[128];
    /* stray continuation, overlong, surrogate, above U+10FFFF, lone 0xff */
    esc("\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xff", 11, out, sizeof out);
    size_t n = 0;
    for (const char *p = out; (p = strstr(p, "\\ufffd")); p += 6)
        n++;
    /* every input byte that is not part of a well-formed sequence */
    cr_assert_eq(n, 11, "got %zu replacements in %s", n, out);
}

Test(cli_json, never_reads_past_end_of_a_cut_sequence)
{
    char out[32];
    /* the first two bytes of a 3-byte sequence, then the buffer ends */
    esc("\xe2\x9c", 2, out, sizeof out);
    cr_assert_str_eq(out, "\\ufffd\\ufffd");
    cr_assert_eq(
        cli_utf8_len((const unsigned char *)"\xe2\x9c\x93", (const unsigned char *)"\xe2\x9c\x93" + 2), 0);
}
