/* SPDX-License-Identifier: MIT */
/* cli_opt.c - see cli_opt.h.  Hand-written digit loops rather than
 * strtod/strtoull: those skip leading spaces, take signs ("-1" wraps to
 * 2^64-1), hex floats, "nan" and "inf", which is how nonsense got in. */
#include "cli_opt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads DIGITS at *p into *v; 1 when they overflow 64 bits, -1 when there
 * are none. */
static int digits_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    int over = 0;
    if (!is_digit(*s))
        return -1;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            over = 1;
        else
            x = x * 10 + d;
    }
    *p = s;
    *v = x;
    return over;
}

/* "250ms", "90s", "2m", "1.5h", "50us": the shortest exact spelling of us. */
static void fmt_us(char *b, size_t n, uint64_t us)
{
    static const struct {
        uint64_t us;
        const char *u;
    } units[] = {{3600000000u, "h"}, {60000000, "m"}, {1000000, "s"}, {1000, "ms"}, {1, "us"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (us % units[i].us == 0 || units[i].us == 1) {
            snprintf(b, n, "%" PRIu64 "%s", us / units[i].us, units[i].u);
            return;
        }
}

/* The one duration grammar, in microseconds; res is the resolution of the
 * result (1 or 1000 us), limits and result in units of res.  The unit us
 * is taken only when res is 1 (a millisecond option says "unknown unit"). */
static int parse_duration(const char *s, uint64_t res, int64_t min, int64_t max, int64_t *out, int *bare,
                          char *why, size_t whylen)
{
    const char *form = res == 1 ? "a number with unit us, ms, s, m or h, e.g. 50us, 500ms, 10s"
                                : "a number with unit ms, s, m or h, e.g. 500ms, 10s, 2m";
    char lim[32];
    if (!*s)
        return fail(why, whylen, "empty; expected %s", form);
    const char *p = s;
    uint64_t ip;
    int r = digits_u64(&p, &ip);
    if (r < 0)
        return fail(why, whylen, "not a duration; expected %s", form);
    uint64_t frac = 0, scale = 1;
    int nonzero = ip != 0;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return fail(why, whylen, "not a duration; expected %s", form);
        for (; is_digit(*p); p++) {
            if (*p != '0')
                nonzero = 1;
            if (scale < 1000000000) { /* nanosecond-of-an-hour precision is plenty */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
    }
    uint64_t unit; /* in us */
    const char *u = p;
    if (res == 1 && !strcmp(u, "us"))
        unit = 1;
    else if (!strcmp(u, "ms"))
        unit = 1000;
    else if (!strcmp(u, "s") || !*u)
        unit = 1000000;
    else if (!strcmp(u, "m"))
        unit = 60000000;
    else if (!strcmp(u, "h"))
        unit = 3600000000u;
    else
        return fail(why, whylen, "unknown unit '%s'; expected %s", u, form);
    uint64_t max_us = (uint64_t)max > UINT64_MAX / 4 / res ? UINT64_MAX / 4 : (uint64_t)max * res;
    fmt_us(lim, sizeof lim, max_us);
    if (r > 0 || ip > max_us / unit)
        return fail(why, whylen, "more than the maximum of %s", lim);
    uint64_t us = ip * unit + frac * unit / scale; /* frac*unit < 1e9 * 3.6e9 */
    if (us > max_us)
        return fail(why, whylen, "more than the maximum of %s", lim);
    uint64_t v = us / res;
    if (v == 0 && nonzero)
        return fail(why, whylen, "finer than the 1%s resolution", res == 1 ? "us" : "ms");
    if ((int64_t)v < min) {
        fmt_us(lim, sizeof lim, (uint64_t)min * res);
        return fail(why, whylen, "less than the minimum of %s", lim);
    }
    *out = (int64_t)v;
    if (bare)
        *bare = !*u;
    return 0;
}

int cli_parse_duration(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out_ms, int *bare, char *why,
                       size_t whylen)
{
    return parse_duration(s, 1000, min_ms, max_ms, out_ms, bare, why, whylen);
}

int cli_parse_duration_us(const char *s, int64_t min_us, int64_t max_us, int64_t *out_us, char *why,
                          size_t whylen)
{
    return parse_duration(s, 1, min_us, max_us, out_us, NULL, why, whylen);
}

int cli_hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cli_parse_count(const char *s, int allow_hex, uint64_t min, uint64_t max, uint64_t *out, char *why,
                    size_t whylen)
{
    const char *kind = allow_hex ? "an unsigned decimal or 0x-hex number" : "an unsigned decimal number";
    if (!*s)
        return fail(why, whylen, "empty; expected %s", kind);
    uint64_t v = 0;
    int over = 0;
    const char *p = s;
    if (allow_hex && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        if (cli_hexval(*p) < 0)
            return fail(why, whylen, "not a number; expected %s", kind);
        for (; cli_hexval(*p) >= 0; p++) {
            if (v >> 60)
                over = 1;
            v = v << 4 | (uint64_t)cli_hexval(*p);
        }
    } else {
        int r = digits_u64(&p, &v);
        if (r < 0)
            return fail(why, whylen, "not a number; expected %s", kind);
        over = r > 0;
    }
    if (*p)
        return fail(why, whylen, "junk '%s' after the number; expected %s", p, kind);
    if (over || v > max)
        return fail(why, whylen, "more than the maximum of %" PRIu64, max);
    if (v < min)
        return fail(why, whylen, "less than the minimum of %" PRIu64, min);
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why, size_t whylen)
{
    static const char form[] = "bytes, optionally with k/KiB or M/MiB, e.g. 64, 16k, 1MiB";
    if (!*s)
        return fail(why, whylen, "empty; expected %s", form);
    const char *p = s;
    uint64_t v;
    int r = digits_u64(&p, &v);
    if (r < 0)
        return fail(why, whylen, "not a size; expected %s", form);
    uint64_t mul;
    if (!*p)
        mul = 1;
    else if (!strcmp(p, "k") || !strcmp(p, "K") || !strcmp(p, "KiB"))
        mul = 1024;
    else if (!strcmp(p, "m") || !strcmp(p, "M") || !strcmp(p, "MiB"))
        mul = 1024 * 1024;
    else
        return fail(why, whylen, "unknown suffix '%s'; expected %s", p, form);
    if (r > 0 || v > max / mul)
        return fail(why, whylen, "more than the maximum of %" PRIu64 " bytes", max);
    if (v * mul < min)
        return fail(why, whylen, "less than the minimum of %" PRIu64 " byte%s", min, min == 1 ? "" : "s");
    *out = v * mul;
    return 0;
}

int cli_parse_choice(const char *s, const char *const *names, int *out, char *why, size_t whylen)
{
    char list[256];
    size_t o = 0;
    list[0] = 0;
    for (int i = 0; names[i]; i++) {
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
        int w =
            snprintf(list + o, sizeof list - o, "%s%s", i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
        if (w > 0 && (size_t)w < sizeof list - o)
            o += (size_t)w;
    }
    return fail(why, whylen, "expected %s", list);
}

int cli_parse_pid(const char *s, pid_t *out, char *why, size_t whylen)
{
    uint64_t v = 0; /* gcc -O2 cannot see that a failed parse returns first */
    if (cli_parse_count(s, 0, 1, 4194304, &v, NULL, 0) != 0)
        return fail(why, whylen, "not a process id (a decimal number from 1 to 4194304)");
    *out = (pid_t)v;
    return 0;
}

/* Copies s to b with control bytes as \xHH: the message stays one line. */
static const char *one_line(char *b, size_t n, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < n; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(b + o, n - o, "\\x%02x", *p);
        else
            b[o++] = (char)*p;
    }
    b[o] = 0;
    return b;
}

void cli_bad_value(const char *prog, const char *opt, const char *value, const char *why)
{
    char q[256], w[512];
    fprintf(stderr, "%s: bad %s '%s': %s\n", prog, opt, one_line(q, sizeof q, value),
            one_line(w, sizeof w, why));
}
