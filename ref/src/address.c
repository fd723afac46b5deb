/* SPDX-License-Identifier: MIT */
/* address.c - the address syntax: parse and format (vsok/address.h).
 *
 * Parsing is strict because addresses come from command lines and config
 * files written by people: a typo must produce a sentence that names the
 * problem, never a silently different address.  Ports and CIDs are decimal
 * only, with no sign and no overflow, so "0x10", "+80" and "99999999999"
 * are all errors rather than surprises.  Connecting and listening are in
 * address_socket.c, the Firecracker handshake in address_fc.c.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "address_internal.h"
#include "vsok/address.h"

/* ------------------------------------------------------------------------ */
/* Error sentences                                                           */

static vsok_err fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static vsok_err fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return VSOK_E_ADDRESS;
}

/* Quotes n bytes of untrusted text for an error sentence: control bytes
 * become '?' so a hostile address cannot inject terminal escapes into the
 * caller's log, and long input is cut so the sentence stays readable. */
typedef struct {
    char s[72];
} quoted;

static quoted quote(const char *p, size_t n)
{
    quoted q;
    size_t keep = n, o = 0;
    if (keep > 60)
        keep = 60;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)p[i];
        q.s[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (keep < n) {
        memcpy(q.s + o, "...", 3);
        o += 3;
    }
    q.s[o] = '\0';
    return q;
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */

/* Strict unsigned decimal over exactly [p, p+n).  The value saturates at
 * max+1 instead of wrapping, so "000000000000080" is 80 while
 * "99999999999999999999" is out of range, never some wrapped value. */
num_status vsok__parse_decimal(const char *p, size_t n, uint64_t max, uint64_t *out, size_t *junk_at)
{
    uint64_t v = 0;
    size_t i = 0;
    if (n == 0)
        return NUM_EMPTY;
    if (p[0] == '+' || p[0] == '-')
        return NUM_SIGN;
    if (p[0] < '0' || p[0] > '9')
        return NUM_NOT_DECIMAL;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > max)
            v = max + 1;
    }
    if (i < n) {
        *junk_at = i;
        return NUM_JUNK;
    }
    if (v > max)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

/* what: "tcp port", "vsock CID", "fd" ... used as the subject of the
 * sentence. */
static vsok_err parse_number(const char *what, const char *p, size_t n, uint64_t max, uint64_t *out,
                             char *err, size_t errlen)
{
    size_t junk = 0;
    quoted q = quote(p, n);
    switch (vsok__parse_decimal(p, n, max, out, &junk)) {
    case NUM_OK: return VSOK_OK;
    case NUM_EMPTY: return fail(err, errlen, "%s is missing (empty)", what);
    case NUM_SIGN:
        return fail(err, errlen, "%s '%s' must be a plain decimal number: no sign allowed", what, q.s);
    case NUM_NOT_DECIMAL: return fail(err, errlen, "%s '%s' is not a decimal number", what, q.s);
    case NUM_JUNK:
        return fail(err, errlen, "%s '%s' has trailing junk '%s' after the digits", what, q.s,
                    quote(p + junk, n - junk).s);
    case NUM_RANGE:
        return fail(err, errlen, "%s '%s' is out of range: 0..%llu", what, q.s, (unsigned long long)max);
    }
    return fail(err, errlen, "%s could not be parsed", what);
}

static vsok_err parse_port(const char *scheme, const char *p, size_t n, uint64_t max, uint32_t *port,
                           char *err, size_t errlen)
{
    char what[32];
    uint64_t v = 0;
    snprintf(what, sizeof what, "%s port", scheme);
    vsok_err e = parse_number(what, p, n, max, &v, err, errlen);
    if (e == VSOK_OK)
        *port = (uint32_t)v;
    return e;
}

static int word_is(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

static vsok_err parse_cid(const char *p, size_t n, uint32_t *cid, char *err, size_t errlen)
{
    uint64_t v = 0;
    /* Names first: these are what people remember, and "any" is the only
     * sensible spelling of 0xFFFFFFFF.  "-1" is accepted for VMADDR_CID_ANY
     * because that is how the kernel headers and many tools write it. */
    if (word_is(p, n, "any") || word_is(p, n, "-1")) {
        *cid = VSOK_CID_ANY;
        return VSOK_OK;
    }
    if (word_is(p, n, "local")) {
        *cid = VSOK_CID_LOCAL;
        return VSOK_OK;
    }
    if (word_is(p, n, "host")) {
        *cid = VSOK_CID_HOST;
        return VSOK_OK;
    }
    if (word_is(p, n, "parent")) {
        *cid = VSOK_CID_PARENT;
        return VSOK_OK;
    }
    size_t junk = 0;
    quoted q = quote(p, n);
    switch (vsok__parse_decimal(p, n, UINT32_MAX, &v, &junk)) {
    case NUM_OK: *cid = (uint32_t)v; return VSOK_OK;
    case NUM_EMPTY:
        return fail(err, errlen,
                    "vsock CID is missing (empty): expected a number or any, local, "
                    "host, parent");
    case NUM_RANGE: return fail(err, errlen, "vsock CID '%s' is out of range: 0..4294967295", q.s);
    default:
        return fail(err, errlen, "vsock CID '%s' is not a decimal number or one of any, local, host, parent",
                    q.s);
    }
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */

static vsok_err parse_unix(vsok_addr *a, const char *p, size_t n, int abstract_only, char *err, size_t errlen)
{
    a->kind = VSOK_ADDR_UNIX;
    if (!abstract_only && n > 0 && p[0] == '@') {
        p++;
        n--;
        abstract_only = 1;
        if (n == 0)
            return fail(err, errlen, "unix abstract name is empty: expected unix:@NAME");
    }
    if (n == 0)
        return fail(err, errlen, "unix path is empty: expected unix:PATH or unix:@NAME");
    if (memchr(p, '\0', n))
        return fail(err, errlen, "unix path contains a NUL byte");
    if (n > UNIX_PATH_LIMIT)
        return fail(err, errlen, "unix %s is too long: %zu bytes, sun_path holds at most %d",
                    abstract_only ? "abstract name" : "path", n, UNIX_PATH_LIMIT);
    memcpy(a->path, p, n);
    a->path[n] = '\0';
    a->abstract = abstract_only;
    return VSOK_OK;
}

/* The port follows the last colon: hosts (bare IPv6) and fc paths may hold
 * colons of their own. */
static const char *last_colon(const char *p, size_t n)
{
    for (size_t i = n; i > 0; i--)
        if (p[i - 1] == ':')
            return p + i - 1;
    return NULL;
}

static int host_char_ok(unsigned char c) { return c > 0x20 && c != 0x7f && c != '[' && c != ']' && c != '/'; }

/* HOST:PORT where HOST is a name, an IPv4 literal, [IPv6] or a bare IPv6
 * literal split at its last colon ("::1:80"). */
static vsok_err parse_tcp(vsok_addr *a, const char *p, size_t n, char *err, size_t errlen)
{
    const char *host, *port;
    size_t hostn, portn;
    a->kind = VSOK_ADDR_TCP;
    if (n > 0 && p[0] == '[') {
        const char *rbr = memchr(p, ']', n);
        if (!rbr)
            return fail(err, errlen, "tcp host '%s' has '[' without a closing ']'", quote(p, n).s);
        host = p + 1;
        hostn = (size_t)(rbr - host);
        const char *rest = rbr + 1;
        size_t restn = n - (size_t)(rest - p);
        if (restn == 0)
            return fail(err, errlen, "tcp address is missing the port: expected tcp:[HOST]:PORT");
        if (rest[0] != ':')
            return fail(err, errlen, "tcp address has '%s' after ']': expected ':PORT'",
                        quote(rest, restn).s);
        port = rest + 1;
        portn = restn - 1;
        if (hostn == 0)
            return fail(err, errlen, "tcp host is empty: expected tcp:HOST:PORT");
    } else {
        const char *colon = last_colon(p, n);
        if (!colon)
            return fail(err, errlen, "tcp address '%s' is missing the port: expected tcp:HOST:PORT",
                        quote(p, n).s);
        host = p;
        hostn = (size_t)(colon - p);
        port = colon + 1;
        portn = n - hostn - 1;
        if (hostn == 0)
            return fail(err, errlen, "tcp host is empty: expected tcp:HOST:PORT");
    }
    if (hostn >= sizeof a->host)
        return fail(err, errlen, "tcp host is too long: %zu bytes, at most %zu", hostn, sizeof a->host - 1);
    for (size_t i = 0; i < hostn; i++)
        if (!host_char_ok((unsigned char)host[i]))
            return fail(err, errlen, "tcp host '%s' contains an invalid character at byte %zu",
                        quote(host, hostn).s, i);
    memcpy(a->host, host, hostn);
    a->host[hostn] = '\0';
    /* A bare host with a colon can only be an IPv6 literal; checking it now
     * turns "tcp:1:2:3" into a parse error instead of a resolver failure. */
    if (memchr(host, ':', hostn)) {
        struct in6_addr in6;
        char lit[sizeof a->host];
        memcpy(lit, a->host, hostn + 1);
        char *pct = strchr(lit, '%'); /* zone id, e.g. fe80::1%eth0 */
        if (pct)
            *pct = '\0';
        if (inet_pton(AF_INET6, lit, &in6) != 1)
            return fail(err, errlen, "tcp host '%s' contains ':' but is not an IPv6 address",
                        quote(host, hostn).s);
    }
    return parse_port("tcp", port, portn, 65535, &a->port, err, errlen);
}

static vsok_err parse_vsock(vsok_addr *a, const char *p, size_t n, char *err, size_t errlen)
{
    a->kind = VSOK_ADDR_VSOCK;
    const char *colon = memchr(p, ':', n);
    if (n == 0)
        return fail(err, errlen, "vsock address is empty: expected vsock:CID:PORT");
    if (!colon)
        return fail(err, errlen, "vsock address '%s' is missing the port: expected vsock:CID:PORT",
                    quote(p, n).s);
    size_t cidn = (size_t)(colon - p);
    vsok_err e = parse_cid(p, cidn, &a->cid, err, errlen);
    if (e)
        return e;
    return parse_port("vsock", colon + 1, n - cidn - 1, UINT32_MAX, &a->port, err, errlen);
}

static vsok_err parse_fc(vsok_addr *a, const char *p, size_t n, char *err, size_t errlen)
{
    const char *colon = last_colon(p, n);
    a->kind = VSOK_ADDR_FC;
    if (!colon)
        return fail(err, errlen, "fc address '%s' is missing the port: expected fc:UDS_PATH:PORT",
                    quote(p, n).s);
    size_t pathn = (size_t)(colon - p);
    if (pathn == 0)
        return fail(err, errlen, "fc socket path is empty: expected fc:UDS_PATH:PORT");
    if (memchr(p, '\0', pathn))
        return fail(err, errlen, "fc socket path contains a NUL byte");
    if (pathn > UNIX_PATH_LIMIT)
        return fail(err, errlen, "fc socket path is too long: %zu bytes, sun_path holds at most %d", pathn,
                    UNIX_PATH_LIMIT);
    memcpy(a->path, p, pathn);
    a->path[pathn] = '\0';
    return parse_port("fc", colon + 1, n - pathn - 1, UINT32_MAX, &a->port, err, errlen);
}

static vsok_err parse_fd(vsok_addr *a, const char *p, size_t n, char *err, size_t errlen)
{
    uint64_t v = 0;
    a->kind = VSOK_ADDR_FD;
    if (n > 0 && p[0] == '-')
        return fail(err, errlen, "fd '%s' is negative: expected fd:N with N >= 0", quote(p, n).s);
    vsok_err e = parse_number("fd", p, n, INT_MAX, &v, err, errlen);
    if (e == VSOK_OK)
        a->fd = (int)v;
    return e;
}

typedef enum {
    S_VSOCK,
    S_VSOCK_LISTEN,
    S_UNIX,
    S_UNIX_LISTEN,
    S_ABSTRACT,
    S_ABSTRACT_LISTEN,
    S_TCP,
    S_TCP_LISTEN,
    S_TCP4_LISTEN,
    S_TCP6_LISTEN,
    S_FD,
    S_FC
} scheme_id;

static const struct {
    const char *name;
    scheme_id id;
} schemes[] = {
    {"vsock", S_VSOCK},
    {"vsock-connect", S_VSOCK},
    {"vsock-listen", S_VSOCK_LISTEN},
    {"unix", S_UNIX},
    {"unix-connect", S_UNIX},
    {"unix-client", S_UNIX},
    {"unix-listen", S_UNIX_LISTEN},
    {"abstract", S_ABSTRACT},
    {"abstract-connect", S_ABSTRACT},
    {"abstract-client", S_ABSTRACT},
    {"abstract-listen", S_ABSTRACT_LISTEN},
    {"tcp", S_TCP},
    {"tcp4", S_TCP},
    {"tcp6", S_TCP},
    {"tcp-connect", S_TCP},
    {"tcp4-connect", S_TCP},
    {"tcp6-connect", S_TCP},
    {"tcp-listen", S_TCP_LISTEN},
    {"tcp4-listen", S_TCP4_LISTEN},
    {"tcp6-listen", S_TCP6_LISTEN},
    {"fd", S_FD},
    {"fc", S_FC},
};

vsok_err vsok_addr_parse(vsok_addr *a, const char *text, char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!a)
        return VSOK_E_INVAL;
    memset(a, 0, sizeof *a);
    a->fd = -1;
    if (!text)
        return fail(err, errlen, "address is missing (NULL)");
    size_t len = strlen(text);
    if (len == 0)
        return fail(err, errlen,
                    "address is empty: expected vsock:CID:PORT, unix:PATH, "
                    "tcp:HOST:PORT, fd:N or fc:UDS_PATH:PORT");
    const char *colon = strchr(text, ':');
    if (!colon)
        return fail(err, errlen,
                    "address '%s' has no scheme: expected vsock:CID:PORT, unix:PATH, "
                    "tcp:HOST:PORT, fd:N or fc:UDS_PATH:PORT",
                    quote(text, len).s);
    size_t sn = (size_t)(colon - text);
    const char *p = colon + 1;
    size_t n = len - sn - 1;
    int found = -1;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (word_is(text, sn, schemes[i].name)) {
            found = (int)i;
            break;
        }
    if (found < 0)
        return fail(err, errlen,
                    "unknown address scheme '%s': expected vsock, unix, tcp, fd, fc "
                    "or a socat spelling (VSOCK-CONNECT, VSOCK-LISTEN, TCP, "
                    "TCP-LISTEN, UNIX-CONNECT, UNIX-LISTEN)",
                    quote(text, sn).s);

    /* socat appends options after a comma (UNIX-LISTEN:/tmp/s.sock,unlink-early).
     * None of them is supported, and no path, host or port here may hold a
     * comma, so one check serves every scheme: an option is never silently
     * taken into a path or host name. */
    const char *comma = memchr(p, ',', n);
    if (comma)
        return fail(err, errlen,
                    "%s address '%s' ends in socat option(s) '%s': socat options are not "
                    "supported (and a path, host or port never contains ',')",
                    quote(text, sn).s, quote(p, (size_t)(comma - p)).s,
                    quote(comma + 1, n - (size_t)(comma + 1 - p)).s);

    switch (schemes[found].id) {
    case S_VSOCK: return parse_vsock(a, p, n, err, errlen);
    case S_VSOCK_LISTEN:
        a->kind = VSOK_ADDR_VSOCK;
        a->cid = VSOK_CID_ANY;
        a->listen_hint = 1;
        return parse_port("vsock", p, n, UINT32_MAX, &a->port, err, errlen);
    case S_UNIX: return parse_unix(a, p, n, 0, err, errlen);
    case S_UNIX_LISTEN: a->listen_hint = 1; return parse_unix(a, p, n, 0, err, errlen);
    case S_ABSTRACT: return parse_unix(a, p, n, 1, err, errlen);
    case S_ABSTRACT_LISTEN: a->listen_hint = 1; return parse_unix(a, p, n, 1, err, errlen);
    case S_TCP: return parse_tcp(a, p, n, err, errlen);
    case S_TCP_LISTEN:
    case S_TCP4_LISTEN:
    case S_TCP6_LISTEN:
        /* socat's TCP-LISTEN binds the IPv4 wildcard unless told pf=ip6. */
        a->kind = VSOK_ADDR_TCP;
        a->listen_hint = 1;
        strcpy(a->host, schemes[found].id == S_TCP6_LISTEN ? "::" : "0.0.0.0");
        return parse_port("tcp", p, n, 65535, &a->port, err, errlen);
    case S_FD: return parse_fd(a, p, n, err, errlen);
    case S_FC: return parse_fc(a, p, n, err, errlen);
    }
    return fail(err, errlen, "address could not be parsed");
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */

int vsok_addr_format(const vsok_addr *a, char *buf, size_t len)
{
    char dummy[1];
    if (!buf) {
        /* snprintf(NULL, 0, ...) is legal; keep that for size queries. */
        buf = dummy;
        len = 0;
    }
    if (!a)
        return -1;
    switch (a->kind) {
    case VSOK_ADDR_VSOCK:
        if (a->cid == VSOK_CID_ANY)
            return snprintf(buf, len, "vsock:any:%u", (unsigned)a->port);
        return snprintf(buf, len, "vsock:%u:%u", (unsigned)a->cid, (unsigned)a->port);
    case VSOK_ADDR_UNIX:
        if (a->abstract)
            return snprintf(buf, len, "unix:@%s", a->path);
        /* A relative file literally named "@x" would read back as an
         * abstract name; "./@x" names the same file unambiguously. */
        if (a->path[0] == '@')
            return snprintf(buf, len, "unix:./%s", a->path);
        return snprintf(buf, len, "unix:%s", a->path);
    case VSOK_ADDR_TCP:
        if (strchr(a->host, ':'))
            return snprintf(buf, len, "tcp:[%s]:%u", a->host, (unsigned)a->port);
        return snprintf(buf, len, "tcp:%s:%u", a->host, (unsigned)a->port);
    case VSOK_ADDR_FD: return snprintf(buf, len, "fd:%d", a->fd);
    case VSOK_ADDR_FC: return snprintf(buf, len, "fc:%s:%u", a->path, (unsigned)a->port);
    }
    return -1;
}
