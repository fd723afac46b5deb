/* SPDX-License-Identifier: MIT */
/* test_cli_opt.c - the option value parsers: every malformed spelling seen
 * in the field is refused with a reason, every good one gives its value. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>

#include <stdint.h>
#include <string.h>

#include "cli_opt.h"

#define DAY_MS (24 * 3600 * 1000LL)

static const struct {
    const char *in;
    int64_t ms;
    int bare;
} good_durations[] = {
    {"0", 0, 1},       {"3", 3000, 1},     {"3s", 3000, 0},   {"3000ms", 3000, 0}, {"1.5s", 1500, 0},
    {"2m", 120000, 0}, {"1h", 3600000, 0}, {"0.25", 250, 1},  {"1.5ms", 1, 0},     {"0ms", 0, 0},
    {"0.001s", 1, 0},  {"24h", DAY_MS, 0}, {"007s", 7000, 0},
};

Test(duration, accepts_units_and_bare_seconds)
{
    for (size_t i = 0; i < sizeof good_durations / sizeof good_durations[0]; i++) {
        int64_t ms = -7;
        int bare = -1;
        char why[200] = "";
        int rc = cli_parse_duration(good_durations[i].in, 0, DAY_MS, &ms, &bare, why, sizeof why);
        cr_expect_eq(rc, 0, "'%s' refused: %s", good_durations[i].in, why);
        cr_expect_eq(ms, good_durations[i].ms, "'%s' -> %lld ms", good_durations[i].in, (long long)ms);
        cr_expect_eq(bare, good_durations[i].bare, "'%s' bare=%d", good_durations[i].in, bare);
    }
}

static const struct {
    const char *in, *why;
} bad_durations[] = {
    {"", "empty"},
    {"nan", "not a duration"},
    {"NaN", "not a duration"},
    {"inf", "not a duration"},
    {"infinity", "not a duration"},
    {"-1", "not a duration"},
    {"-0", "not a duration"},
    {"+1", "not a duration"},
    {" 1", "not a duration"},
    {"1 ", "unknown unit ' '"},
    {"1s ", "unknown unit 's '"},
    {"0x10", "unknown unit 'x10'"},
    {"1e3", "unknown unit 'e3'"},
    {"1.", "not a duration"},
    {".5", "not a duration"},
    {"1..5", "not a duration"},
    {"5d", "unknown unit 'd'"},
    {"5sec", "unknown unit 'sec'"},
    {"5 s", "unknown unit ' s'"},
    {"25h", "more than the maximum of 24h"},
    {"86400001ms", "more than the maximum of 24h"},
    {"99999999999999999999", "more than the maximum"},
    {"18446744073709551615h", "more than the maximum"},
    {"0.0001s", "finer than the 1ms resolution"},
    {"0.5ms", "finer than the 1ms resolution"},
};

Test(duration, rejects_nan_inf_signs_spaces_junk_and_overflow)
{
    for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++) {
        int64_t ms = -7;
        char why[200] = "";
        int rc = cli_parse_duration(bad_durations[i].in, 0, DAY_MS, &ms, NULL, why, sizeof why);
        cr_expect_eq(rc, -1, "'%s' accepted as %lld ms", bad_durations[i].in, (long long)ms);
        cr_expect_eq(ms, -7, "'%s' wrote the output on failure", bad_durations[i].in);
        cr_expect_not_null(strstr(why, bad_durations[i].why), "'%s': reason '%s' lacks '%s'",
                           bad_durations[i].in, why, bad_durations[i].why);
    }
}

Test(duration, enforces_the_minimum)
{
    int64_t ms = -7;
    char why[200] = "";
    cr_expect_eq(cli_parse_duration("0", 1, 3600000, &ms, NULL, why, sizeof why), -1);
    cr_expect_str_eq(why, "less than the minimum of 1ms");
    cr_expect_eq(cli_parse_duration("999ms", 1000, 3600000, &ms, NULL, why, sizeof why), -1);
    cr_expect_str_eq(why, "less than the minimum of 1s");
    cr_expect_eq(cli_parse_duration("1ms", 1, 3600000, &ms, NULL, why, sizeof why), 0);
    cr_expect_eq(ms, 1);
}

Test(duration, microseconds_take_us_and_the_same_grammar)
{
    static const struct {
        const char *in;
        int64_t us;
    } good[] = {{"50us", 50}, {"0", 0},        {"1ms", 1000}, {"0.05ms", 50},
                {"1.5us", 1}, {"1s", 1000000}, {"1", 1000000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t us = -7;
        char why[200] = "";
        cr_expect_eq(cli_parse_duration_us(good[i].in, 0, 1000000, &us, why, sizeof why), 0, "'%s': %s",
                     good[i].in, why);
        cr_expect_eq(us, good[i].us, "'%s' -> %lld us", good[i].in, (long long)us);
    }
    static const struct {
        const char *in, *why;
    } bad[] = {{"nan", "not a duration"},
               {"-1", "not a duration"},
               {"", "empty"},
               {"50usx", "unknown unit 'usx'"},
               {"0.5us", "finer than the 1us resolution"},
               {"2s", "more than the maximum of 1s"},
               {"1000001us", "more than the maximum of 1s"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = -7;
        char why[200] = "";
        cr_expect_eq(cli_parse_duration_us(bad[i].in, 0, 1000000, &us, why, sizeof why), -1, "'%s' accepted",
                     bad[i].in);
        cr_expect_eq(us, -7);
        cr_expect_not_null(strstr(why, bad[i].why), "'%s': reason '%s' lacks '%s'", bad[i].in, why,
                           bad[i].why);
    }
    /* a millisecond option does not take us */
    int64_t ms = -7;
    char why[200] = "";
    cr_expect_eq(cli_parse_duration("50us", 0, DAY_MS, &ms, NULL, why, sizeof why), -1);
    cr_expect_not_null(strstr(why, "unknown unit 'us'"), "%s", why);
}

Test(count, accepts_decimal_and_hex_only_when_asked)
{
    uint64_t v = 7;
    char why[200] = "";
    cr_expect_eq(cli_parse_count("0", 0, 0, UINT64_MAX, &v, why, sizeof why), 0);
    cr_expect_eq(v, 0);
    cr_expect_eq(cli_parse_count("18446744073709551615", 0, 0, UINT64_MAX, &v, why, sizeof why), 0);
    cr_expect_eq(v, UINT64_MAX);
    cr_expect_eq(cli_parse_count("0x000000000000002a", 1, 0, UINT64_MAX, &v, why, sizeof why), 0);
    cr_expect_eq(v, 42);
    cr_expect_eq(cli_parse_count("0xFFFFFFFFFFFFFFFF", 1, 0, UINT64_MAX, &v, why, sizeof why), 0);
    cr_expect_eq(v, UINT64_MAX);
    cr_expect_eq(cli_parse_count("0x2a", 0, 0, UINT64_MAX, &v, why, sizeof why), -1);
    cr_expect_str_eq(why, "junk 'x2a' after the number; expected an unsigned decimal number");
}

static const struct {
    const char *in;
    int hex;
    uint64_t max;
    const char *why;
} bad_counts[] = {
    {"", 0, UINT64_MAX, "empty"},
    {" -1", 0, UINT64_MAX, "not a number"},
    {"-1", 0, UINT64_MAX, "not a number"},
    {"-1", 1, UINT64_MAX, "not a number"},
    {"+1", 0, UINT64_MAX, "not a number"},
    {" 1", 0, UINT64_MAX, "not a number"},
    {"1 ", 0, UINT64_MAX, "junk ' '"},
    {"12abc", 0, UINT64_MAX, "junk 'abc'"},
    {"1.5", 0, UINT64_MAX, "junk '.5'"},
    {"1e3", 0, UINT64_MAX, "junk 'e3'"},
    {"abc", 0, UINT64_MAX, "not a number"},
    {"0x", 1, UINT64_MAX, "not a number"},
    {"0xg", 1, UINT64_MAX, "not a number"},
    {"18446744073709551616", 0, UINT64_MAX, "more than the maximum of 18446744073709551615"},
    {"0x10000000000000000", 1, UINT64_MAX, "more than the maximum"},
    {"4294967297", 0, 4294967295u, "more than the maximum of 4294967295"},
};

Test(count, rejects_signs_spaces_junk_and_overflow)
{
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        uint64_t v = 7;
        char why[200] = "";
        int rc =
            cli_parse_count(bad_counts[i].in, bad_counts[i].hex, 0, bad_counts[i].max, &v, why, sizeof why);
        cr_expect_eq(rc, -1, "'%s' accepted as %llu", bad_counts[i].in, (unsigned long long)v);
        cr_expect_eq(v, 7);
        cr_expect_not_null(strstr(why, bad_counts[i].why), "'%s': reason '%s' lacks '%s'", bad_counts[i].in,
                           why, bad_counts[i].why);
    }
    uint64_t v = 7;
    char why[200] = "";
    cr_expect_eq(cli_parse_count("0", 0, 1, 10, &v, why, sizeof why), -1);
    cr_expect_str_eq(why, "less than the minimum of 1");
}

Test(size, accepts_suffixes)
{
    static const struct {
        const char *in;
        uint64_t v;
    } good[] = {
        {"1", 1},        {"64", 64},      {"16k", 16384},    {"16K", 16384},       {"16KiB", 16384},
        {"1m", 1048576}, {"1M", 1048576}, {"1MiB", 1048576}, {"1048576", 1048576},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 7;
        char why[200] = "";
        cr_expect_eq(cli_parse_size(good[i].in, 1, 1048576, &v, why, sizeof why), 0, "'%s': %s", good[i].in,
                     why);
        cr_expect_eq(v, good[i].v, "'%s' -> %llu", good[i].in, (unsigned long long)v);
    }
}

Test(size, rejects_zero_when_one_is_the_minimum_and_junk_and_overflow)
{
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"0", "less than the minimum of 1 byte"},
        {"0k", "less than the minimum of 1 byte"},
        {"", "empty"},
        {" 1", "not a size"},
        {"-1", "not a size"},
        {"1kb", "unknown suffix 'kb'"},
        {"1 k", "unknown suffix ' k'"},
        {"1.5k", "unknown suffix '.5k'"},
        {"1G", "unknown suffix 'G'"},
        {"1025k", "more than the maximum of 1048576 bytes"},
        {"2M", "more than the maximum of 1048576 bytes"},
        {"18446744073709551615k", "more than the maximum"},
        {"99999999999999999999", "more than the maximum"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 7;
        char why[200] = "";
        cr_expect_eq(cli_parse_size(bad[i].in, 1, 1048576, &v, why, sizeof why), -1, "'%s' accepted as %llu",
                     bad[i].in, (unsigned long long)v);
        cr_expect_eq(v, 7);
        cr_expect_not_null(strstr(why, bad[i].why), "'%s': reason '%s' lacks '%s'", bad[i].in, why,
                           bad[i].why);
    }
}

Test(choice, takes_exact_names_and_lists_them_on_error)
{
    static const char *const when[] = {"auto", "always", "never", NULL};
    int v = -1;
    char why[200] = "";
    cr_expect_eq(cli_parse_choice("never", when, &v, why, sizeof why), 0);
    cr_expect_eq(v, 2);
    cr_expect_eq(cli_parse_choice("rainbow", when, &v, why, sizeof why), -1);
    cr_expect_str_eq(why, "expected auto, always or never");
    cr_expect_eq(cli_parse_choice("Never", when, &v, why, sizeof why), -1);
    cr_expect_eq(cli_parse_choice("", when, &v, why, sizeof why), -1);
    cr_expect_eq(v, 2);
}

Test(pid, takes_decimal_process_ids_only)
{
    pid_t p = 7;
    char why[200] = "";
    cr_expect_eq(cli_parse_pid("1", &p, why, sizeof why), 0);
    cr_expect_eq(p, 1);
    cr_expect_eq(cli_parse_pid("4194304", &p, why, sizeof why), 0);
    static const char *const bad[] = {"abc", "0", "-1", " 1", "1x", "4194305", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = 7;
        cr_expect_eq(cli_parse_pid(bad[i], &p, why, sizeof why), -1, "'%s' accepted", bad[i]);
        cr_expect_eq(p, 7);
        cr_expect_str_eq(why, "not a process id (a decimal number from 1 to 4194304)");
    }
}

Test(message, is_one_line_naming_option_and_value, .init = cr_redirect_stderr)
{
    cli_bad_value("tool", "--count", "1\n2", "junk '\n2' after the number");
    fflush(stderr);
    cr_expect_stderr_eq_str("tool: bad --count '1\\x0a2': junk '\\x0a2' after the number\n");
}
