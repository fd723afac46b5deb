/* address.c - one address syntax for every vsok tool: parse, format, connect,
 * listen, and recover the address of a live socket.
 *
 * Parsing is strict because addresses come from command lines and config
 * files written by people: a typo must produce a sentence that names the
 * problem, never a silently different address.  Ports and CIDs are decimal
 * only, with no sign and no overflow, so "0x10", "+80" and "99999999999"
 * are all errors rather than surprises.
 */
#include "vsok/address.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

/* A Firecracker "OK <u32>\n" reply is at most 14 bytes; anything longer than
 * this is not Firecracker and must not make us read without bound. */
#define FC_LINE_MAX 32

/* Longest path that fits sun_path with its terminating NUL.  Abstract names
 * could use all 108 bytes, but vsok_addr stores them NUL-terminated. */
#define UNIX_PATH_LIMIT (VSOK_ADDR_PATH_MAX - 1)

/* ------------------------------------------------------------------------ */
/* Error sentences                                                           */

static vsok_err fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

typedef enum { NUM_OK, NUM_EMPTY, NUM_SIGN, NUM_NOT_DECIMAL, NUM_JUNK, NUM_RANGE } num_status;

/* Strict unsigned decimal over exactly [p, p+n).  The value saturates at
 * max+1 instead of wrapping, so "000000000000080" is 80 while
 * "99999999999999999999" is out of range, never some wrapped value. */
static num_status parse_decimal(const char *p, size_t n, uint64_t max, uint64_t *out,
                                size_t *junk_at)
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
    switch (parse_decimal(p, n, max, out, &junk)) {
    case NUM_OK:
        return VSOK_OK;
    case NUM_EMPTY:
        return fail(err, errlen, "%s is missing (empty)", what);
    case NUM_SIGN:
        return fail(err, errlen, "%s '%s' must be a plain decimal number: no sign allowed", what,
                    q.s);
    case NUM_NOT_DECIMAL:
        return fail(err, errlen, "%s '%s' is not a decimal number", what, q.s);
    case NUM_JUNK:
        return fail(err, errlen, "%s '%s' has trailing junk '%s' after the digits", what, q.s,
                    quote(p + junk, n - junk).s);
    case NUM_RANGE:
        return fail(err, errlen, "%s '%s' is out of range: 0..%llu", what, q.s,
                    (unsigned long long)max);
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
    switch (parse_decimal(p, n, UINT32_MAX, &v, &junk)) {
    case NUM_OK:
        *cid = (uint32_t)v;
        return VSOK_OK;
    case NUM_EMPTY:
        return fail(err, errlen, "vsock CID is missing (empty): expected a number or any, local, "
                                 "host, parent");
    case NUM_RANGE:
        return fail(err, errlen, "vsock CID '%s' is out of range: 0..4294967295", q.s);
    default:
        return fail(err, errlen,
                    "vsock CID '%s' is not a decimal number or one of any, local, host, parent",
                    q.s);
    }
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */

static vsok_err parse_unix(vsok_addr *a, const char *p, size_t n, int abstract_only, char *err,
                           size_t errlen)
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

static int host_char_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '[' && c != ']' && c != '/';
}

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
            return fail(err, errlen, "tcp host '%s' has '[' without a closing ']'",
                        quote(p, n).s);
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
        const char *colon = NULL;
        for (size_t i = n; i > 0; i--)
            if (p[i - 1] == ':') {
                colon = p + i - 1;
                break;
            }
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
        return fail(err, errlen, "tcp host is too long: %zu bytes, at most %zu", hostn,
                    sizeof a->host - 1);
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
    const char *colon = NULL;
    a->kind = VSOK_ADDR_FC;
    for (size_t i = n; i > 0; i--)
        if (p[i - 1] == ':') {
            colon = p + i - 1;
            break;
        }
    if (!colon)
        return fail(err, errlen, "fc address '%s' is missing the port: expected fc:UDS_PATH:PORT",
                    quote(p, n).s);
    size_t pathn = (size_t)(colon - p);
    if (pathn == 0)
        return fail(err, errlen, "fc socket path is empty: expected fc:UDS_PATH:PORT");
    if (memchr(p, '\0', pathn))
        return fail(err, errlen, "fc socket path contains a NUL byte");
    if (pathn > UNIX_PATH_LIMIT)
        return fail(err, errlen, "fc socket path is too long: %zu bytes, sun_path holds at most %d",
                    pathn, UNIX_PATH_LIMIT);
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

typedef enum { S_VSOCK, S_VSOCK_LISTEN, S_UNIX, S_UNIX_LISTEN, S_ABSTRACT, S_ABSTRACT_LISTEN,
               S_TCP, S_TCP_LISTEN, S_TCP4_LISTEN, S_TCP6_LISTEN, S_FD, S_FC } scheme_id;

static const struct {
    const char *name;
    scheme_id id;
} schemes[] = {
    {"vsock", S_VSOCK},           {"vsock-connect", S_VSOCK},
    {"vsock-listen", S_VSOCK_LISTEN},
    {"unix", S_UNIX},             {"unix-connect", S_UNIX},
    {"unix-client", S_UNIX},      {"unix-listen", S_UNIX_LISTEN},
    {"abstract", S_ABSTRACT},     {"abstract-connect", S_ABSTRACT},
    {"abstract-client", S_ABSTRACT}, {"abstract-listen", S_ABSTRACT_LISTEN},
    {"tcp", S_TCP},               {"tcp4", S_TCP},
    {"tcp6", S_TCP},              {"tcp-connect", S_TCP},
    {"tcp4-connect", S_TCP},      {"tcp6-connect", S_TCP},
    {"tcp-listen", S_TCP_LISTEN}, {"tcp4-listen", S_TCP4_LISTEN},
    {"tcp6-listen", S_TCP6_LISTEN},
    {"fd", S_FD},                 {"fc", S_FC},
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
        return fail(err, errlen, "address is empty: expected vsock:CID:PORT, unix:PATH, "
                                 "tcp:HOST:PORT, fd:N or fc:UDS_PATH:PORT");
    const char *colon = strchr(text, ':');
    if (!colon)
        return fail(err, errlen, "address '%s' has no scheme: expected vsock:CID:PORT, unix:PATH, "
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
        return fail(err, errlen, "unknown address scheme '%s': expected vsock, unix, tcp, fd, fc "
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
    case S_VSOCK:
        return parse_vsock(a, p, n, err, errlen);
    case S_VSOCK_LISTEN:
        a->kind = VSOK_ADDR_VSOCK;
        a->cid = VSOK_CID_ANY;
        a->listen_hint = 1;
        return parse_port("vsock", p, n, UINT32_MAX, &a->port, err, errlen);
    case S_UNIX:
        return parse_unix(a, p, n, 0, err, errlen);
    case S_UNIX_LISTEN:
        a->listen_hint = 1;
        return parse_unix(a, p, n, 0, err, errlen);
    case S_ABSTRACT:
        return parse_unix(a, p, n, 1, err, errlen);
    case S_ABSTRACT_LISTEN:
        a->listen_hint = 1;
        return parse_unix(a, p, n, 1, err, errlen);
    case S_TCP:
        return parse_tcp(a, p, n, err, errlen);
    case S_TCP_LISTEN:
    case S_TCP4_LISTEN:
    case S_TCP6_LISTEN:
        /* socat's TCP-LISTEN binds the IPv4 wildcard unless told pf=ip6. */
        a->kind = VSOK_ADDR_TCP;
        a->listen_hint = 1;
        strcpy(a->host, schemes[found].id == S_TCP6_LISTEN ? "::" : "0.0.0.0");
        return parse_port("tcp", p, n, 65535, &a->port, err, errlen);
    case S_FD:
        return parse_fd(a, p, n, err, errlen);
    case S_FC:
        return parse_fc(a, p, n, err, errlen);
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
    case VSOK_ADDR_FD:
        return snprintf(buf, len, "fd:%d", a->fd);
    case VSOK_ADDR_FC:
        return snprintf(buf, len, "fc:%s:%u", a->path, (unsigned)a->port);
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Deadlines                                                                 */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_from(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 when already passed. */
static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits for events on fd until the deadline; EINTR restarts with the time
 * that is left rather than the full timeout. */
static vsok_err wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int r = poll(&pfd, 1, remaining_ms(deadline));
        if (r > 0)
            return VSOK_OK; /* errors and hangups surface in the next call */
        if (r == 0) {
            errno = ETIMEDOUT;
            return VSOK_E_TIMEOUT;
        }
        if (errno != EINTR)
            return VSOK_E_IO;
    }
}

static void close_keep_errno(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

static vsok_err set_blocking(int fd, int blocking)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return VSOK_E_IO;
    int want = blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return VSOK_E_IO;
    return VSOK_OK;
}

/* ------------------------------------------------------------------------ */
/* Connecting                                                                */

/* Non-blocking connect + poll: the only portable way to bound a TCP or vsock
 * connect.  Returns a connected, still non-blocking fd. */
static vsok_err connect_nonblocking(int family, int proto, const struct sockaddr *sa, socklen_t salen,
                                    int64_t deadline, int *fd_out)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return VSOK_E_IO;
    if (connect(fd, sa, salen) < 0) {
        /* EINTR on a non-blocking connect still leaves the attempt running
         * in the kernel, exactly like EINPROGRESS. */
        if (errno != EINPROGRESS && errno != EINTR) {
            close_keep_errno(fd);
            return VSOK_E_IO;
        }
        vsok_err e = wait_fd(fd, POLLOUT, deadline);
        if (e) {
            close_keep_errno(fd);
            return e;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            close_keep_errno(fd);
            return VSOK_E_IO;
        }
        if (soerr) {
            close(fd);
            errno = soerr;
            return VSOK_E_IO;
        }
    }
    *fd_out = fd;
    return VSOK_OK;
}

static socklen_t fill_unix(struct sockaddr_un *sun, const char *path, int abstract)
{
    size_t n = strlen(path);
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (abstract) {
        /* The abstract name is exactly the bytes after the leading NUL; no
         * terminator is part of it, so the length must not include one. */
        memcpy(sun->sun_path + 1, path, n);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    }
    memcpy(sun->sun_path, path, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* A non-blocking Unix connect never reports EINPROGRESS: with the listener's
 * backlog full it fails at once with EAGAIN, which poll cannot wait for.  A
 * blocking connect bounded by SO_SNDTIMEO does wait for backlog room, and
 * reports the expiry as EAGAIN.  Returns a connected, blocking fd. */
static vsok_err connect_unix(const char *path, int abstract, int64_t deadline, int *fd_out)
{
    struct sockaddr_un sun;
    socklen_t sl = fill_unix(&sun, path, abstract);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VSOK_E_IO;
    for (;;) {
        if (deadline >= 0) {
            int left = remaining_ms(deadline);
            if (left == 0) {
                close(fd);
                errno = ETIMEDOUT;
                return VSOK_E_TIMEOUT;
            }
            struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
            if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
                close_keep_errno(fd);
                return VSOK_E_IO;
            }
        }
        if (connect(fd, (struct sockaddr *)&sun, sl) == 0)
            break;
        if (errno == EINTR)
            continue; /* a Unix connect is all-or-nothing, so retrying is safe */
        if (errno == EAGAIN && deadline >= 0) {
            close(fd);
            errno = ETIMEDOUT;
            return VSOK_E_TIMEOUT;
        }
        close_keep_errno(fd);
        return VSOK_E_IO;
    }
    if (deadline >= 0) {
        /* The connect timeout must not leak into the caller's later writes. */
        struct timeval zero = {0, 0};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero) < 0) {
            close_keep_errno(fd);
            return VSOK_E_IO;
        }
    }
    *fd_out = fd;
    return VSOK_OK;
}

/* Maps a getaddrinfo failure onto vsok's errors: a name that does not exist
 * is a bad address; a resolver that could not answer is an I/O problem. */
static vsok_err resolve_error(int rc)
{
    switch (rc) {
    case EAI_SYSTEM:
        return VSOK_E_IO;
    case EAI_MEMORY:
        errno = ENOMEM;
        return VSOK_E_NOMEM;
    case EAI_AGAIN:
        errno = EAGAIN;
        return VSOK_E_IO;
    default:
        errno = ENOENT;
        return VSOK_E_ADDRESS;
    }
}

/* Numeric first: a literal never touches NSS, DNS or /etc/hosts, so
 * "127.0.0.1" works even in a static binary inside an enclave. */
static vsok_err resolve_tcp(const vsok_addr *a, int passive, struct addrinfo **res)
{
    char port[16];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    int rc = getaddrinfo(a->host, port, &hints, res);
    if (rc == EAI_NONAME) {
        hints.ai_flags &= ~AI_NUMERICHOST;
        rc = getaddrinfo(a->host, port, &hints, res);
    }
    return rc ? resolve_error(rc) : VSOK_OK;
}

static vsok_err connect_tcp(const vsok_addr *a, int64_t deadline, int *fd_out)
{
    struct addrinfo *res = NULL;
    vsok_err e = resolve_tcp(a, 0, &res);
    if (e)
        return e;
    e = VSOK_E_IO;
    errno = EHOSTUNREACH;
    /* Try each resolved address in order (RFC 6724 sorting by getaddrinfo)
     * within the one shared deadline. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = -1;
        e = connect_nonblocking(ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen,
                                deadline, &fd);
        if (e == VSOK_OK) {
            /* Small request/response messages must not wait for Nagle. */
            int one = 1;
            if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
                close_keep_errno(fd);
                e = VSOK_E_IO;
                break;
            }
            *fd_out = fd;
            break;
        }
        if (e == VSOK_E_TIMEOUT)
            break;
    }
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return e;
}

static vsok_err connect_vsock(const vsok_addr *a, int64_t deadline, int *fd_out)
{
    struct sockaddr_vm svm;
    memset(&svm, 0, sizeof svm);
    svm.svm_family = AF_VSOCK;
    svm.svm_cid = a->cid;
    svm.svm_port = a->port;
    return connect_nonblocking(AF_VSOCK, 0, (struct sockaddr *)&svm, sizeof svm, deadline, fd_out);
}

/* Writes all of buf on a socket before the deadline.  MSG_NOSIGNAL because a
 * peer that hangs up must give EPIPE, not kill the caller. */
static vsok_err send_all(int fd, const char *buf, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            vsok_err e = wait_fd(fd, POLLOUT, deadline);
            if (e)
                return e;
            continue;
        }
        return VSOK_E_IO;
    }
    return VSOK_OK;
}

/* Reads the "OK <n>\n" line and nothing after it: the application's first
 * bytes may share the segment, and they belong to the caller.  Each round
 * peeks at what is queued and consumes only up to the newline (or all of it
 * when there is no newline yet, since those bytes are line bytes anyway), so
 * poll() never spins on data we have already seen. */
static vsok_err fc_read_ok(int fd, int64_t deadline)
{
    char line[FC_LINE_MAX];
    size_t have = 0;
    for (;;) {
        vsok_err e = wait_fd(fd, POLLIN, deadline);
        if (e)
            return e;
        ssize_t r = recv(fd, line + have, sizeof line - have, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return VSOK_E_IO;
        }
        if (r == 0) {
            /* Firecracker closes the connection when no guest listens on the
             * port: report it like a vsock connect to a closed port. */
            if (have == 0) {
                errno = ECONNRESET;
                return VSOK_E_IO;
            }
            errno = EPROTO;
            return VSOK_E_HANDSHAKE; /* cut off inside the reply line */
        }
        const char *nl = memchr(line + have, '\n', (size_t)r);
        size_t take = nl ? (size_t)(nl - (line + have)) + 1 : (size_t)r;
        size_t got = 0;
        while (got < take) {
            /* The bytes are already queued, so this cannot block for long;
             * the loop only guards against a short read. */
            ssize_t c = recv(fd, line + have + got, take - got, MSG_DONTWAIT);
            if (c > 0) {
                got += (size_t)c;
                continue;
            }
            if (c < 0 && errno == EINTR)
                continue;
            if (c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                e = wait_fd(fd, POLLIN, deadline);
                if (e)
                    return e;
                continue;
            }
            if (c == 0)
                errno = EPROTO;
            return c == 0 ? VSOK_E_HANDSHAKE : VSOK_E_IO;
        }
        have += take;
        if (nl)
            break;
        if (have == sizeof line) {
            errno = EPROTO;
            return VSOK_E_HANDSHAKE; /* no newline within FC_LINE_MAX bytes */
        }
    }
    /* Strictly "OK " + 1..10 digits fitting u32 + "\n". */
    uint64_t v = 0;
    size_t junk = 0;
    if (have < 5 || memcmp(line, "OK ", 3) != 0 ||
        parse_decimal(line + 3, have - 4, UINT32_MAX, &v, &junk) != NUM_OK) {
        errno = EPROTO;
        return VSOK_E_HANDSHAKE;
    }
    return VSOK_OK;
}

static vsok_err connect_fc(const vsok_addr *a, int64_t deadline, int *fd_out)
{
    int fd = -1;
    vsok_err e = connect_unix(a->path, 0, deadline, &fd);
    if (e)
        return e;
    char req[32];
    int n = snprintf(req, sizeof req, "CONNECT %u\n", (unsigned)a->port);
    e = send_all(fd, req, (size_t)n, deadline);
    if (e == VSOK_OK)
        e = fc_read_ok(fd, deadline);
    if (e) {
        close_keep_errno(fd);
        return e;
    }
    *fd_out = fd;
    return VSOK_OK;
}

vsok_err vsok_addr_connect(const vsok_addr *a, int timeout_ms, int *fd_out)
{
    if (!a || !fd_out)
        return VSOK_E_INVAL;
    *fd_out = -1;
    int64_t deadline = deadline_from(timeout_ms);
    int fd = -1;
    vsok_err e;
    switch (a->kind) {
    case VSOK_ADDR_VSOCK:
        e = connect_vsock(a, deadline, &fd);
        break;
    case VSOK_ADDR_UNIX:
        e = connect_unix(a->path, a->abstract, deadline, &fd);
        break;
    case VSOK_ADDR_TCP:
        e = connect_tcp(a, deadline, &fd);
        break;
    case VSOK_ADDR_FC:
        e = connect_fc(a, deadline, &fd);
        break;
    case VSOK_ADDR_FD:
    default:
        errno = EINVAL;
        return VSOK_E_INVAL;
    }
    if (e)
        return e;
    if (set_blocking(fd, 1)) {
        close_keep_errno(fd);
        return VSOK_E_IO;
    }
    *fd_out = fd;
    return VSOK_OK;
}

/* ------------------------------------------------------------------------ */
/* Listening                                                                 */

static int listen_backlog(int backlog)
{
    return backlog < 0 ? SOMAXCONN : backlog;
}

/* A socket file left behind by a dead server makes bind fail with
 * EADDRINUSE forever.  Remove it only when it is a socket AND nobody
 * answers on it: unlinking a live server's socket would silently steal its
 * future clients, and unlinking a regular file would destroy data. */
static vsok_err remove_stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? VSOK_OK : VSOK_E_IO;
    if (!S_ISSOCK(st.st_mode))
        return VSOK_OK; /* let bind report EADDRINUSE */
    struct sockaddr_un sun;
    socklen_t sl = fill_unix(&sun, path, 0);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return VSOK_E_IO;
    int r = connect(probe, (struct sockaddr *)&sun, sl);
    int cerr = r < 0 ? errno : 0;
    close(probe);
    /* Only ECONNREFUSED proves nobody listens.  Anything else (accepted,
     * backlog full, EACCES) leaves the file for bind to refuse with
     * EADDRINUSE.  A live server sees the probe as an empty connection. */
    if (cerr == ECONNREFUSED && unlink(path) < 0 && errno != ENOENT)
        return VSOK_E_IO;
    return VSOK_OK;
}

static vsok_err listen_sockaddr(int family, int proto, const struct sockaddr *sa, socklen_t sl,
                                int reuse, int backlog, int *fd_out)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return VSOK_E_IO;
    int one = 1;
    if ((reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
        bind(fd, sa, sl) < 0 || listen(fd, listen_backlog(backlog)) < 0) {
        close_keep_errno(fd);
        return VSOK_E_IO;
    }
    *fd_out = fd;
    return VSOK_OK;
}

static vsok_err listen_unix(const char *path, int abstract, int backlog, int *fd_out)
{
    struct sockaddr_un sun;
    if (!abstract) {
        vsok_err e = remove_stale_socket(path);
        if (e)
            return e;
    }
    socklen_t sl = fill_unix(&sun, path, abstract);
    return listen_sockaddr(AF_UNIX, 0, (struct sockaddr *)&sun, sl, 0, backlog, fd_out);
}

static vsok_err listen_tcp(const vsok_addr *a, int backlog, int *fd_out)
{
    struct addrinfo *res = NULL;
    vsok_err e = resolve_tcp(a, 1, &res);
    if (e)
        return e;
    e = VSOK_E_IO;
    errno = EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        e = listen_sockaddr(ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen, 1,
                            backlog, fd_out);
        if (e == VSOK_OK)
            break;
    }
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return e;
}

vsok_err vsok_addr_listen(const vsok_addr *a, int backlog, int *fd_out)
{
    if (!a || !fd_out)
        return VSOK_E_INVAL;
    *fd_out = -1;
    switch (a->kind) {
    case VSOK_ADDR_VSOCK: {
        struct sockaddr_vm svm;
        memset(&svm, 0, sizeof svm);
        svm.svm_family = AF_VSOCK;
        svm.svm_cid = a->cid;
        svm.svm_port = a->port;
        return listen_sockaddr(AF_VSOCK, 0, (struct sockaddr *)&svm, sizeof svm, 0, backlog,
                               fd_out);
    }
    case VSOK_ADDR_UNIX:
        return listen_unix(a->path, a->abstract, backlog, fd_out);
    case VSOK_ADDR_TCP:
        return listen_tcp(a, backlog, fd_out);
    case VSOK_ADDR_FC: {
        /* Firecracker forwards a guest's connect to port P as a connection
         * on "<uds_path>_<P>", so that is the file a host server listens on. */
        char path[VSOK_ADDR_PATH_MAX + 16];
        int n = snprintf(path, sizeof path, "%s_%u", a->path, (unsigned)a->port);
        if (n < 0 || n > UNIX_PATH_LIMIT) {
            errno = ENAMETOOLONG;
            return VSOK_E_ADDRESS;
        }
        return listen_unix(path, 0, backlog, fd_out);
    }
    case VSOK_ADDR_FD:
        if (a->fd < 0 || fcntl(a->fd, F_GETFD) < 0) {
            errno = EBADF;
            return VSOK_E_IO;
        }
        *fd_out = a->fd;
        return VSOK_OK;
    }
    errno = EINVAL;
    return VSOK_E_INVAL;
}

/* ------------------------------------------------------------------------ */
/* Address of a live socket                                                  */

vsok_err vsok_addr_from_fd(int fd, int peer, vsok_addr *a)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!a)
        return VSOK_E_INVAL;
    memset(a, 0, sizeof *a);
    a->fd = -1;
    memset(&ss, 0, sizeof ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
                 : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (r < 0)
        return VSOK_E_IO;
    if (sl > sizeof ss)
        sl = sizeof ss;
    switch (ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        a->kind = VSOK_ADDR_TCP;
        a->port = ntohs(in->sin_port);
        if (!inet_ntop(AF_INET, &in->sin_addr, a->host, sizeof a->host))
            return VSOK_E_IO;
        return VSOK_OK;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        a->kind = VSOK_ADDR_TCP;
        a->port = ntohs(in6->sin6_port);
        if (!inet_ntop(AF_INET6, &in6->sin6_addr, a->host, sizeof a->host))
            return VSOK_E_IO;
        return VSOK_OK;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = sl > off ? sl - off : 0;
        const char *p = sun->sun_path;
        a->kind = VSOK_ADDR_UNIX;
        if (n > 0 && p[0] == '\0') {
            /* Abstract: the name is exactly the remaining bytes. */
            a->abstract = 1;
            p++;
            n--;
        } else {
            /* Pathname: the kernel may or may not count the NUL. */
            n = strnlen(p, n);
        }
        /* An unnamed socket (socketpair, unbound client) leaves path empty. */
        if (n > UNIX_PATH_LIMIT) {
            errno = ENAMETOOLONG;
            return VSOK_E_ADDRESS;
        }
        memcpy(a->path, p, n);
        a->path[n] = '\0';
        return VSOK_OK;
    }
    case AF_VSOCK: {
        const struct sockaddr_vm *svm = (const struct sockaddr_vm *)&ss;
        a->kind = VSOK_ADDR_VSOCK;
        a->cid = svm->svm_cid;
        a->port = svm->svm_port;
        return VSOK_OK;
    }
    default:
        errno = EAFNOSUPPORT;
        return VSOK_E_INVAL;
    }
}

/* ------------------------------------------------------------------------ */
/* Convenience                                                               */

/* A sentence for a failed connect or listen, keeping errno.  vsock and
 * Firecracker answer a port nobody listens on with a reset, not a refusal;
 * say so, since "Connection reset by peer" reads like a crash. */
void vsok_addr_explain(const vsok_addr *a, int connecting, vsok_err e, char *err, size_t errlen)
{
    if (a == NULL || err == NULL || errlen == 0)
        return;
    const char *verb = connecting ? "connect to" : "listen on";
    int saved = errno;
    char text[VSOK_ADDR_PATH_MAX + 300];
    vsok_addr_format(a, text, sizeof(text));
    if (e == VSOK_E_IO && saved == ECONNRESET && connecting && a->kind == VSOK_ADDR_VSOCK)
        snprintf(err, errlen, "nothing is listening on %s: vsock answers a connect to a port without a listener "
                 "with a reset (ECONNRESET), not a refusal", text);
    else if (e == VSOK_E_IO && saved == ECONNRESET && connecting && a->kind == VSOK_ADDR_FC)
        snprintf(err, errlen, "nothing is listening on guest port %u behind %s: Firecracker closed the "
                 "connection instead of answering CONNECT", (unsigned)a->port, text);
    else if (e == VSOK_E_IO)
        snprintf(err, errlen, "cannot %s %s: %s", verb, text, strerror(saved));
    else
        snprintf(err, errlen, "cannot %s %s: %s", verb, text, vsok_strerror(e));
    errno = saved;
}

vsok_err vsok_connect(const char *text, int timeout_ms, int *fd_out, char *err, size_t errlen)
{
    vsok_addr a;
    if (fd_out)
        *fd_out = -1;
    vsok_err e = vsok_addr_parse(&a, text, err, errlen);
    if (e != VSOK_OK)
        return e;
    if ((e = vsok_addr_connect(&a, timeout_ms, fd_out)) != VSOK_OK)
        vsok_addr_explain(&a, 1, e, err, errlen);
    return e;
}

vsok_err vsok_listen(const char *text, int backlog, int *fd_out, char *err, size_t errlen)
{
    vsok_addr a;
    if (fd_out)
        *fd_out = -1;
    vsok_err e = vsok_addr_parse(&a, text, err, errlen);
    if (e != VSOK_OK)
        return e;
    if ((e = vsok_addr_listen(&a, backlog, fd_out)) != VSOK_OK)
        vsok_addr_explain(&a, 0, e, err, errlen);
    return e;
}
