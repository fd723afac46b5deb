/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>
#include <vsok/vsok.h>

/* The stable names from the developers' guide, in enum order. */
static const char *const names[VSOK_E__COUNT] = {
    "Ok",         "InvalidMagicBytes", "MessageTooLarge", "InvalidTotalLength", "Io",
    "Eof",        "Truncated",         "Timeout",         "OutOfMemory",        "InvalidArgument",
    "WouldBlock", "InvalidAddress",    "HandshakeFailed", "ProtocolError",
};

Test(error, ok_is_zero)
{
    cr_assert_eq(VSOK_OK, 0);
    cr_assert_eq(VSOK_E__COUNT, 14);
}

Test(error, every_code_has_its_stable_name)
{
    for (int e = 0; e < VSOK_E__COUNT; e++) {
        const char *n = vsok_errname((vsok_err)e);
        cr_assert_not_null(n, "code %d", e);
        cr_assert_str_eq(n, names[e], "code %d", e);
    }
}

Test(error, unknown_codes_are_named_unknown)
{
    cr_assert_str_eq(vsok_errname(VSOK_E__COUNT), "Unknown");
    cr_assert_str_eq(vsok_errname((vsok_err)1000), "Unknown");
    cr_assert_str_eq(vsok_errname((vsok_err)-1), "Unknown");
}

Test(error, names_map_back_to_codes)
{
    for (int e = 0; e < VSOK_E__COUNT; e++)
        cr_assert_eq(vsok_err_from_name(names[e]), (vsok_err)e, "%s", names[e]);
}

Test(error, unknown_names_map_to_count)
{
    cr_assert_eq(vsok_err_from_name("Unknown"), VSOK_E__COUNT);
    cr_assert_eq(vsok_err_from_name(""), VSOK_E__COUNT);
    cr_assert_eq(vsok_err_from_name("InvalidMagicByte"), VSOK_E__COUNT);
    cr_assert_eq(vsok_err_from_name("InvalidMagicBytesX"), VSOK_E__COUNT);
}

Test(error, every_code_has_a_distinct_sentence)
{
    for (int e = 0; e < VSOK_E__COUNT; e++) {
        const char *s = vsok_strerror((vsok_err)e);
        cr_assert_not_null(s, "code %d", e);
        cr_assert_gt(strlen(s), 0, "code %d", e);
        for (int f = 0; f < e; f++)
            cr_assert_str_neq(s, vsok_strerror((vsok_err)f), "codes %d and %d", e, f);
    }
}

Test(error, unknown_codes_still_have_a_sentence)
{
    cr_assert_not_null(vsok_strerror(VSOK_E__COUNT));
    cr_assert_not_null(vsok_strerror((vsok_err)-7));
}
