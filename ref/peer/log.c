/* SPDX-License-Identifier: MIT */
/* log.c - one write(2) per line so lines from a busy loop never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_json.h"
#include "cli_opt.h"

static int g_level = LOG_INFO;
static int g_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(int level, int json)
{
    if (level < LOG_ERROR)
        level = LOG_ERROR - 1; /* -qq: nothing at all */
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    g_level = level;
    g_json = json;
}

int log_enabled(int level) { return level <= g_level; }

const char *log_q(char *buf, size_t len, const char *s)
{
    size_t o = 0;
    char copy[1024];
    if ((uintptr_t)s >= (uintptr_t)buf && (uintptr_t)s < (uintptr_t)buf + len) {
        /* quoting a buffer into itself would read the escapes it writes */
        snprintf(copy, sizeof copy, "%s", s);
        s = copy;
    }
    if (len < 3) {
        if (len)
            buf[0] = 0;
        return buf;
    }
    buf[o++] = '"';
    for (; *s && o + 6 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    buf[o] = 0;
    return buf;
}

typedef struct out {
    char *p;
    size_t len, cap;
} out;

static void put(out *o, const void *s, size_t n)
{
    if (o->len + n >= o->cap)
        n = o->cap - o->len - 1;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* A JSON string from text that may carry log_q escapes (\" \\ \xHH):
 * those are undone first, then the tools' one escaper (cli_json.h) writes
 * it, so peer bytes that are not UTF-8 still make valid JSON. */
static void put_json_str(out *o, const char *s, size_t n, int unescape)
{
    unsigned char raw[4096];
    size_t r = 0;
    for (size_t i = 0; i < n && r < sizeof raw; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (unescape && ch == '\\' && i + 1 < n) {
            if (s[i + 1] == 'x' && i + 3 < n && cli_hexval(s[i + 2]) >= 0 && cli_hexval(s[i + 3]) >= 0) {
                ch = (unsigned char)(cli_hexval(s[i + 2]) * 16 + cli_hexval(s[i + 3]));
                i += 3;
            } else {
                ch = (unsigned char)s[i + 1];
                i += 1;
            }
        }
        raw[r++] = ch;
    }
    put(o, "\"", 1);
    for (const unsigned char *p = raw, *end = raw + r; p < end;) {
        char u[6];
        size_t ulen;
        p += cli_json_unit(p, end, u, &ulen);
        put(o, u, ulen);
    }
    put(o, "\"", 1);
}

static int is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (n && s[0] == '-')
        i++;
    if (i >= n || n - i > 19)
        return 0;
    if (s[i] == '0' && n - i > 1)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Splits "k=v k2=\"v w\" free text" into JSON members; words without '='
 * are gathered into "msg". */
static void fields_to_json(out *o, const char *f)
{
    char msg[512];
    out m = {msg, 0, sizeof msg};
    msg[0] = 0;
    const char *p = f;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *k = p;
        while (*p && *p != ' ' && *p != '=' && *p != '"')
            p++;
        if (*p != '=' || p == k) {
            /* free word: up to the next space (a quoted word whole) */
            const char *w = k;
            if (*p == '"' && p == k) {
                for (p++; *p && *p != '"'; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p)
                    p++;
            }
            while (*p && *p != ' ')
                p++;
            if (m.len)
                put(&m, " ", 1);
            put(&m, w, (size_t)(p - w));
            continue;
        }
        size_t klen = (size_t)(p - k);
        p++; /* '=' */
        const char *v = p;
        size_t vlen;
        int quoted = 0;
        if (*p == '"') {
            quoted = 1;
            v = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            vlen = (size_t)(p - v);
            if (*p)
                p++;
        } else {
            while (*p && *p != ' ')
                p++;
            vlen = (size_t)(p - v);
        }
        put(o, ",", 1);
        put_json_str(o, k, klen, 0);
        put(o, ":", 1);
        if (!quoted && is_json_number(v, vlen))
            put(o, v, vlen);
        else
            put_json_str(o, v, vlen, quoted);
    }
    if (m.len) {
        puts_(o, ",\"msg\":");
        put_json_str(o, msg, m.len, 0);
    }
}

void plog(int level, const char *event, const char *fmt, ...)
{
    int force = level & LOG_FORCE;
    level &= ~LOG_FORCE;
    if (!force && !log_enabled(level))
        return;
    char fields[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[96];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

    char line[4096];
    out o = {line, 0, sizeof line};
    line[0] = 0;
    if (g_json) {
        puts_(&o, "{\"ts\":\"");
        puts_(&o, ts);
        puts_(&o, "\",\"level\":\"");
        puts_(&o, level_names[level]);
        puts_(&o, "\",\"event\":");
        put_json_str(&o, event, strlen(event), 0);
        fields_to_json(&o, fields);
        puts_(&o, "}");
    } else {
        puts_(&o, ts);
        puts_(&o, " vsok-peer ");
        puts_(&o, level_names[level]);
        puts_(&o, " ");
        puts_(&o, event);
        if (fields[0]) {
            puts_(&o, " ");
            puts_(&o, fields);
        }
    }
    /* always room for the newline: put() keeps one byte spare */
    line[o.len++] = '\n';
    ssize_t r = write(STDERR_FILENO, line, o.len);
    (void)r; /* nowhere left to report a failing stderr */
}
