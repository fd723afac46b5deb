/* SPDX-License-Identifier: MIT */
/* The echo reader: the part of vsok-conform that judges the IUT's bytes. */
#include <criterion/criterion.h>
#include <string.h>

#include "reader.h"

static const uint8_t hello[] = "hello";
static const uint8_t ab[] = "ab";

static vc_span two[2] = {{hello, 5}, {ab, 2}};
/* the owed stream for two: VSOK 00000005 hello VSOK 00000002 ab (23 bytes) */
static const uint8_t owed[] = "VSOK\0\0\0\x05hello"
                              "VSOK\0\0\0\x02"
                              "ab";

static vc_rstate feed_split(vc_reader *r, const uint8_t *p, size_t n, size_t chunk)
{
    vc_rstate st = r->state;
    for (size_t i = 0; i < n; i += chunk)
        st = vc_reader_feed(r, p + i, n - i < chunk ? n - i : chunk);
    return st;
}

Test(reader, exact_echo_completes_whatever_the_chunking)
{
    for (size_t chunk = 1; chunk <= sizeof owed; chunk++) {
        vc_reader r;
        vc_reader_init(&r, two, 2);
        cr_assert_eq(r.total, 23);
        cr_assert_eq(feed_split(&r, owed, 23, chunk), VC_R_COMPLETE, "chunk %zu", chunk);
        cr_assert_eq(r.received, 23);
    }
}

Test(reader, wrong_length_field_is_reported_at_its_offset_with_the_announced_value)
{
    uint8_t bad[23];
    memcpy(bad, owed, 23);
    bad[7] = 6; /* echo #1 announces 6 */
    for (size_t chunk = 1; chunk <= 23; chunk += 5) {
        vc_reader r;
        vc_reader_init(&r, two, 2);
        cr_assert_eq(feed_split(&r, bad, 23, chunk), VC_R_MISMATCH);
        char e[256], a[256];
        cr_assert_eq(vc_reader_explain(&r, e, sizeof e, a, sizeof a), 7);
        cr_assert_eq(r.diff_msg, 0);
        cr_assert_eq(r.diff_in_frame, 7);
        cr_assert(strstr(e, "length field 5"), "%s", e);
        cr_assert(strstr(a, "length field 6"), "%s", a);
    }
}

Test(reader, payload_difference_in_second_echo_names_echo_and_byte)
{
    uint8_t bad[23];
    memcpy(bad, owed, 23);
    bad[22] = 'c';
    vc_reader r;
    vc_reader_init(&r, two, 2);
    cr_assert_eq(vc_reader_feed(&r, bad, 23), VC_R_MISMATCH);
    char e[256], a[256];
    cr_assert_eq(vc_reader_explain(&r, e, sizeof e, a, sizeof a), 22);
    cr_assert(strstr(e, "echo #2") && strstr(e, "payload byte 1"), "%s", e);
    cr_assert(strstr(a, "0x63 at offset 22"), "%s", a);
    char h[512];
    vc_reader_hexdump(&r, h, sizeof h);
    cr_assert(strstr(h, "owed ") && strstr(h, "seen ") && strstr(h, "^^"), "%s", h);
}

Test(reader, bytes_after_the_last_owed_one_are_excess)
{
    vc_reader r;
    vc_reader_init(&r, two, 2);
    vc_reader_feed(&r, owed, 23);
    cr_assert_eq(vc_reader_feed(&r, (const uint8_t *)"VSOK\0\0\0\x01x", 9), VC_R_EXCESS);
    char e[256], a[256];
    cr_assert_eq(vc_reader_explain(&r, e, sizeof e, a, sizeof a), 23);
    cr_assert(strstr(a, "9 extra bytes from offset 23") && strstr(a, "announcing 1"), "%s", a);
}

Test(reader, close_before_everything_owed_is_short_with_position)
{
    vc_reader r;
    vc_reader_init(&r, two, 2);
    vc_reader_feed(&r, owed, 15);
    cr_assert_eq(vc_reader_eof(&r), VC_R_SHORT);
    char e[256], a[256];
    cr_assert_eq(vc_reader_explain(&r, e, sizeof e, a, sizeof a), 15);
    cr_assert(strstr(a, "after 15 bytes, inside echo #2 at its byte 2 (magic)"), "%s", a);
}

Test(reader, nothing_owed_is_complete_at_once_and_any_byte_is_excess)
{
    vc_reader r;
    vc_reader_init(&r, NULL, 0);
    cr_assert_eq(r.state, VC_R_COMPLETE);
    cr_assert_eq(vc_reader_feed(&r, (const uint8_t *)"x", 1), VC_R_EXCESS);
    cr_assert_eq(r.diff_offset, 0);
}

Test(reader, endless_input_is_counted_not_stored)
{
    static uint8_t junk[65536];
    memset(junk, 'A', sizeof junk);
    vc_reader r;
    vc_reader_init(&r, two, 2);
    for (int i = 0; i < 64; i++) /* 4 MiB of garbage */
        vc_reader_feed(&r, junk, sizeof junk);
    cr_assert_eq(r.state, VC_R_MISMATCH);
    cr_assert_eq(r.diff_offset, 0);
    cr_assert_eq(r.nwindow, VC_WINDOW);
    cr_assert(vc_reader_settled(&r));
    cr_assert_eq(r.received, 64u * 65536u);
}

Test(reader, mismatch_is_sticky_and_later_matching_bytes_do_not_clear_it)
{
    vc_reader r;
    vc_reader_init(&r, two, 2);
    vc_reader_feed(&r, (const uint8_t *)"VSOX", 4);
    cr_assert_eq(r.state, VC_R_MISMATCH);
    vc_reader_feed(&r, owed + 4, 19);
    cr_assert_eq(r.state, VC_R_MISMATCH);
    cr_assert_eq(r.diff_offset, 3);
    cr_assert_eq(vc_reader_eof(&r), VC_R_MISMATCH);
}
