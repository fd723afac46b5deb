/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <vsok/vsok.h>

static void hdr(uint8_t out[8], const char magic[4], uint32_t len)
{
    memcpy(out, magic, 4);
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
}

/* ---- encode ---- */

Test(header, encodes_magic_and_big_endian_length)
{
    uint8_t out[8];
    static const uint8_t one[8] = {0x56, 0x53, 0x4F, 0x4B, 0, 0, 0, 1};
    static const uint8_t mid[8] = {0x56, 0x53, 0x4F, 0x4B, 0x00, 0x0A, 0x0B, 0x0C};
    static const uint8_t max[8] = {0x56, 0x53, 0x4F, 0x4B, 0x00, 0x10, 0x00, 0x00};
    cr_assert_eq(vsok_header_encode(out, 1), VSOK_OK);
    cr_assert_arr_eq(out, one, 8);
    cr_assert_eq(vsok_header_encode(out, 0x000A0B0C), VSOK_OK);
    cr_assert_arr_eq(out, mid, 8);
    cr_assert_eq(vsok_header_encode(out, VSOK_MAX_PAYLOAD), VSOK_OK);
    cr_assert_arr_eq(out, max, 8);
}

Test(header, encode_rejects_zero_and_leaves_output_untouched)
{
    uint8_t out[8], before[8];
    memset(out, 0xAA, sizeof out);
    memcpy(before, out, 8);
    cr_assert_eq(vsok_header_encode(out, 0), VSOK_E_LENGTH);
    cr_assert_arr_eq(out, before, 8);
}

Test(header, encode_rejects_one_byte_over_1mib)
{
    uint8_t out[8], before[8];
    memset(out, 0x55, sizeof out);
    memcpy(before, out, 8);
    cr_assert_eq(vsok_header_encode(out, VSOK_MAX_PAYLOAD + 1), VSOK_E_TOO_LARGE);
    cr_assert_arr_eq(out, before, 8);
    cr_assert_eq(vsok_header_encode(out, UINT32_MAX), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_header_encode(out, SIZE_MAX), VSOK_E_TOO_LARGE);
    cr_assert_arr_eq(out, before, 8);
}

Test(header, encode_never_truncates_sizes_above_uint32_max)
{
#if SIZE_MAX > UINT32_MAX
    uint8_t out[8], before[8];
    memset(out, 0x11, sizeof out);
    memcpy(before, out, 8);
    /* Truncated to 32 bits these would read as 0, 1 and 1 MiB. */
    cr_assert_eq(vsok_header_encode(out, (size_t)UINT32_MAX + 1), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_header_encode(out, (size_t)UINT32_MAX + 2), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_header_encode(out, ((size_t)1 << 32) + VSOK_MAX_PAYLOAD), VSOK_E_TOO_LARGE);
    cr_assert_arr_eq(out, before, 8);
#else
    cr_skip_test("size_t is 32 bits");
#endif
}

Test(header, encode_rejects_null_output) { cr_assert_eq(vsok_header_encode(NULL, 5), VSOK_E_INVAL); }

/* ---- decode ---- */

Test(header, decodes_boundary_lengths)
{
    static const uint32_t ok[] = {
        1, 2, 255, 256, 65535, 65536, 65537, VSOK_MAX_PAYLOAD - 1, VSOK_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t h[8];
        uint32_t len = 0;
        hdr(h, "VSOK", ok[i]);
        cr_assert_eq(vsok_header_decode(h, &len), VSOK_OK, "len %u", ok[i]);
        cr_assert_eq(len, ok[i]);
    }
}

Test(header, decode_rejects_zero_length_and_reports_it)
{
    uint8_t h[8];
    uint32_t len = 77;
    hdr(h, "VSOK", 0);
    cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_LENGTH);
    cr_assert_eq(len, 0);
}

Test(header, decode_rejects_too_large_and_reports_length_as_sent)
{
    static const uint32_t bad[] = {VSOK_MAX_PAYLOAD + 1, 0x00200000, 0x7FFFFFFF, 0x80000000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t h[8];
        uint32_t len = 0;
        hdr(h, "VSOK", bad[i]);
        cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_TOO_LARGE, "len %u", bad[i]);
        cr_assert_eq(len, bad[i]);
    }
}

Test(header, magic_is_checked_before_length)
{
    uint8_t h[8];
    uint32_t len;
    hdr(h, "GET ", 0);
    cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_MAGIC);
    hdr(h, "GET ", UINT32_MAX);
    cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_MAGIC);
    hdr(h, "VSOk", 0);
    cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_MAGIC);
}

Test(header, every_single_bit_flip_of_the_magic_is_rejected)
{
    for (int byte = 0; byte < 4; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t h[8];
            uint32_t len;
            hdr(h, "VSOK", 10);
            h[byte] ^= (uint8_t)(1u << bit);
            cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_MAGIC, "byte %d bit %d", byte, bit);
            cr_assert_eq(vsok_header_error_index(h, VSOK_E_MAGIC), (size_t)byte);
        }
    }
    uint8_t h[8];
    uint32_t len;
    hdr(h, "vsok", 10);
    cr_assert_eq(vsok_header_decode(h, &len), VSOK_E_MAGIC);
}

Test(header, decode_rejects_null_arguments)
{
    uint8_t h[8];
    uint32_t len;
    hdr(h, "VSOK", 1);
    cr_assert_eq(vsok_header_decode(NULL, &len), VSOK_E_INVAL);
    cr_assert_eq(vsok_header_decode(h, NULL), VSOK_E_INVAL);
    cr_assert_eq(vsok_header_decode_max(NULL, 10, &len), VSOK_E_INVAL);
    cr_assert_eq(vsok_header_decode_max(h, 10, NULL), VSOK_E_INVAL);
}

Test(header, decode_max_uses_the_callers_limit)
{
    uint8_t h[8];
    uint32_t len = 0;
    hdr(h, "VSOK", 100);
    cr_assert_eq(vsok_header_decode_max(h, 100, &len), VSOK_OK);
    cr_assert_eq(len, 100);
    hdr(h, "VSOK", 101);
    cr_assert_eq(vsok_header_decode_max(h, 100, &len), VSOK_E_TOO_LARGE);
    cr_assert_eq(len, 101);
    hdr(h, "VSOK", 0);
    cr_assert_eq(vsok_header_decode_max(h, 100, &len), VSOK_E_LENGTH);
    hdr(h, "VSOK", 1);
    cr_assert_eq(vsok_header_decode_max(h, 1, &len), VSOK_OK);
    hdr(h, "VSOK", 2);
    cr_assert_eq(vsok_header_decode_max(h, 1, &len), VSOK_E_TOO_LARGE);
    hdr(h, "GET ", 0);
    cr_assert_eq(vsok_header_decode_max(h, 1, &len), VSOK_E_MAGIC);
    hdr(h, "VSOK", VSOK_MAX_PAYLOAD);
    cr_assert_eq(vsok_header_decode_max(h, VSOK_MAX_PAYLOAD, &len), VSOK_OK);
}

Test(header, decode_max_never_accepts_more_than_1mib)
{
    uint8_t h[8];
    uint32_t len;
    hdr(h, "VSOK", VSOK_MAX_PAYLOAD + 1);
    cr_assert_neq(vsok_header_decode_max(h, VSOK_MAX_PAYLOAD + 1, &len), VSOK_OK);
    cr_assert_neq(vsok_header_decode_max(h, UINT32_MAX, &len), VSOK_OK);
}

/* ---- prefix check ---- */

Test(header, prefix_of_a_good_header_is_fine_at_every_length)
{
    uint8_t h[8];
    hdr(h, "VSOK", 3);
    for (size_t n = 0; n <= 8; n++) {
        size_t bad = 99;
        cr_assert_eq(vsok_header_check_prefix(h, n, &bad), VSOK_OK, "n %zu", n);
    }
}

Test(header, prefix_reports_first_wrong_magic_byte)
{
    static const struct {
        const char *magic;
        size_t index;
    } cases[] = {
        {"GET ", 0}, {"XSOK", 0}, {"VXOK", 1}, {"VSXK", 2},  {"VSOX", 3},
        {"VXOX", 1}, {"XXXX", 0}, {"VSOk", 3}, {"\0SOK", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t h[8];
        hdr(h, cases[i].magic, 1);
        for (size_t n = cases[i].index + 1; n <= 8; n++) {
            size_t bad = 99;
            cr_assert_eq(vsok_header_check_prefix(h, n, &bad), VSOK_E_MAGIC, "case %zu n %zu", i, n);
            cr_assert_eq(bad, cases[i].index, "case %zu n %zu", i, n);
        }
        /* Bytes beyond n are not looked at. */
        for (size_t n = 0; n <= cases[i].index; n++) {
            size_t bad = 99;
            cr_assert_eq(vsok_header_check_prefix(h, n, &bad), VSOK_OK, "case %zu n %zu", i, n);
        }
    }
}

Test(header, prefix_rejects_http_at_its_first_byte)
{
    const char *http = "GET / HTTP/1.1\r\n";
    size_t bad = 99;
    cr_assert_eq(vsok_header_check_prefix((const uint8_t *)http, 1, &bad), VSOK_E_MAGIC);
    cr_assert_eq(bad, 0);
}

/* ---- error index ---- */

Test(header, error_index_is_first_wrong_magic_byte_or_length_offset)
{
    uint8_t h[8];
    hdr(h, "VSOX", 5);
    cr_assert_eq(vsok_header_error_index(h, VSOK_E_MAGIC), 3);
    hdr(h, "GET ", 0);
    cr_assert_eq(vsok_header_error_index(h, VSOK_E_MAGIC), 0);
    hdr(h, "VXOX", 5);
    cr_assert_eq(vsok_header_error_index(h, VSOK_E_MAGIC), 1);
    hdr(h, "VSOK", 0);
    cr_assert_eq(vsok_header_error_index(h, VSOK_E_LENGTH), VSOK_LENGTH_OFFSET);
    hdr(h, "VSOK", VSOK_MAX_PAYLOAD + 1);
    cr_assert_eq(vsok_header_error_index(h, VSOK_E_TOO_LARGE), VSOK_LENGTH_OFFSET);
    cr_assert_eq(VSOK_LENGTH_OFFSET, 4);
}

Test(header, constants_match_the_protocol)
{
    cr_assert_eq(VSOK_HEADER_SIZE, 8);
    cr_assert_eq(VSOK_MAGIC_SIZE, 4);
    cr_assert_str_eq(VSOK_MAGIC, "VSOK");
    cr_assert_eq(VSOK_CHUNK_SIZE, 64 * 1024);
    cr_assert_eq(VSOK_MAX_PAYLOAD, 1024 * 1024);
}

Test(header, prefix_of_null_bytes_is_invalid)
{
    size_t bad = 0;
    cr_assert_eq(vsok_header_check_prefix(NULL, 3, &bad), VSOK_E_INVAL);
    cr_assert_eq(vsok_header_check_prefix(NULL, 0, &bad), VSOK_OK, "nothing seen, nothing wrong");
}
