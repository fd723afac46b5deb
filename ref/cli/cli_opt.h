/* SPDX-License-Identifier: MIT */
/* cli_opt.h - strict parsing of command-line option values, shared by the
 * tools (vsok-peer, vsok-conform).  Not part of the libvsok API.
 *
 * Every parser takes the whole string or nothing: no leading or trailing
 * spaces, no sign, no junk after the number or unit, no NaN or infinity, no
 * wrap-around.  On failure it returns -1, leaves *out untouched and writes
 * one sentence to why[0..whylen) saying what is wrong with the value
 * ("more than the maximum of 1h"), for cli_bad_value() to print.
 *
 * One convention for bare numbers across the tools: a duration without a
 * unit is in seconds.
 */
#ifndef VSOK_CLI_OPT_H
#define VSOK_CLI_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit status of a usage error in every tool. */
#define CLI_EXIT_USAGE 2

/* Duration: DIGITS[.DIGITS][UNIT], UNIT one of ms, s, m, h; no unit means
 * seconds (*bare is set to 1 then, else 0; bare may be NULL).  The result,
 * in milliseconds, must lie in [min_ms, max_ms]; a non-zero value finer than
 * 1 ms ("0.5ms") is refused rather than rounded to 0 (which means "off" for
 * many options). */
int cli_parse_duration(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out_ms, int *bare, char *why,
                       size_t whylen);

/* The same grammar with the unit us as well, for a duration finer than a
 * millisecond (a busy-poll window): result and limits in microseconds;
 * non-zero below 1 us is refused. */
int cli_parse_duration_us(const char *s, int64_t min_us, int64_t max_us, int64_t *out_us, char *why,
                          size_t whylen);

/* Count: unsigned decimal DIGITS in [min, max].  With allow_hex, 0xHEX too
 * (seeds are printed in hex). */
int cli_parse_count(const char *s, int allow_hex, uint64_t min, uint64_t max, uint64_t *out, char *why,
                    size_t whylen);

/* The value of one hex digit, or -1 for any other character. */
int cli_hexval(char c);

/* Size in bytes: DIGITS with an optional suffix k, K, KiB (1024) or m, M,
 * MiB (1048576), in [min, max]. */
int cli_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t whylen);

/* One of names[0..] (NULL-terminated, exact match); *out is its index. */
int cli_parse_choice(const char *s, const char *const *names, int *out, char *why, size_t whylen);

/* A process id: decimal in [1, 4194304] (PID_MAX_LIMIT). */
int cli_parse_pid(const char *s, pid_t *out, char *why, size_t whylen);

/* Prints the one-line usage error "PROG: bad OPT 'VALUE': WHY" to stderr,
 * control bytes in VALUE shown as \xHH so it stays one line. */
void cli_bad_value(const char *prog, const char *opt, const char *value, const char *why);

#endif
