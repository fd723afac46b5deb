/* SPDX-License-Identifier: MIT */
/* vsok-mutant - deliberately faulty VSOK echo peers, to prove that
 * vsok-conform catches real bugs.
 *
 *   vsok-mutant [--mutant NAME] [--ready-fd N] [--lifetime S] [-v] listen ADDR
 *   vsok-mutant [--mutant NAME] [--lifetime S] [-v] connect ADDR
 *   vsok-mutant [--mutant NAME] [--lifetime S] [-v] stdio
 *   vsok-mutant --list
 *
 * Each mutant breaks exactly ONE rule of the protocol or of the conformance
 * contract; "none" is a correct echo peer.  The framing code below is a
 * naive hand-written loop on purpose: it does not use libvsok's decoder or
 * writer, so every bug is the bug a real implementation would have, not a
 * switch flipped inside a correct decoder.  libvsok is used only to parse
 * addresses and to create sockets.
 *
 * Exit status: 0 when the peer closed at a frame boundary, 1 after a
 * protocol error (or a truncated stream), 2 on usage or transport failure.
 * Nothing is ever printed on stdout: in the stdio role it is the wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

#define MAX_PAYLOAD 1048576u             /* 1 MiB, inclusive */
#define WRITE_CHUNK 65536u               /* largest payload write */
#define BUF_CAP (8u + MAX_PAYLOAD + 16u) /* room for one 1 MiB + 1 frame */

enum mutant {
    M_NONE,
    M_ACCEPT_ZERO,
    M_REJECT_MAX,
    M_ACCEPT_OVER_MAX,
    M_IGNORE_MAGIC,
    M_LATE_MAGIC,
    M_LATE_LENGTH,
    M_LITTLE_ENDIAN,
    M_ONE_READ,
    M_DROP_COALESCED,
    M_NEVER_CLOSE,
    M_TRUNCATE_LARGE,
    M_RESYNC,
    M_CRASH,
    M_SERIAL,
    M_WRITER_MAGIC,
    M_ECHO_BAD,
    M_EOF_NO_CLOSE,
    M_TRUNCATED_NO_CLOSE,
    M_CLOSE_WAITS,
    M_ERROR_KILLS_OTHERS,
    M_DROP_AT_FIN,
    M_RST_CRASH,
    M_SPLIT_MAGIC,
    M_BACKPRESSURE,
    M_NAIVE_CLOSE,
};

static const struct {
    const char *name;
    enum mutant m;
    const char *bug;
} mutants[] = {
    {"none", M_NONE, "correct echo peer (sanity check)"},
    {"accept-zero", M_ACCEPT_ZERO, "accepts a zero length and echoes an empty frame"},
    {"reject-max", M_REJECT_MAX, "off by one: rejects a payload of exactly 1 MiB"},
    {"accept-over-max", M_ACCEPT_OVER_MAX, "off by one: accepts a payload of 1 MiB + 1"},
    {"ignore-magic", M_IGNORE_MAGIC, "never checks the magic bytes"},
    {"late-magic", M_LATE_MAGIC, "checks the magic only once all 8 header bytes are in"},
    {"late-length", M_LATE_LENGTH, "reads the announced payload before judging its length"},
    {"little-endian", M_LITTLE_ENDIAN, "reads the length field little-endian"},
    {"one-read", M_ONE_READ, "assumes one read() returns exactly one whole frame"},
    {"drop-coalesced", M_DROP_COALESCED, "drops the bytes after a frame that came in the same read"},
    {"never-close", M_NEVER_CLOSE, "never closes on a protocol error, just stops echoing"},
    {"truncate-large", M_TRUNCATE_LARGE, "echoes at most 64 KiB of a payload"},
    {"resync", M_RESYNC, "after a wrong magic, scans for the next \"VSOK\" and carries on"},
    {"crash", M_CRASH, "abort()s on a protocol error, taking the whole server down"},
    {"serial", M_SERIAL, "serves one connection at a time"},
    {"writer-magic", M_WRITER_MAGIC, "writes the magic as a host-order u32 (\"KOSV\")"},
    {"echo-bad", M_ECHO_BAD, "echoes the offending header before closing"},
    {"eof-no-close", M_EOF_NO_CLOSE, "after the peer's FIN at a frame boundary: echoes, never closes"},
    {"truncated-no-close", M_TRUNCATED_NO_CLOSE, "a stream ending inside a frame: never closes"},
    {"close-waits", M_CLOSE_WAITS, "on a protocol error, closes only once more input (or FIN) comes"},
    {"error-kills-others", M_ERROR_KILLS_OTHERS,
     "a protocol error on one connection shuts down every other open connection (shared state)"},
    {"drop-at-fin", M_DROP_AT_FIN, "buffers echoes until it must wait for input; drops them at FIN"},
    {"rst-crash", M_RST_CRASH, "abort()s when the peer resets the connection (ECONNRESET)"},
    {"split-magic", M_SPLIT_MAGIC, "checks the magic only when a header's first read has 4 bytes"},
    {"backpressure", M_BACKPRESSURE, "non-blocking writes: drops what a full socket buffer refuses"},
    {"naive-close", M_NAIVE_CLOSE,
     "CORRECT framing the original Rust way: blocking 8-byte header read, payload read, plain "
     "close() on an error (no lingering close)"},
};
#define N_MUTANTS (sizeof mutants / sizeof mutants[0])

static enum mutant g_m = M_NONE;
static const char *g_name = "none";
static int g_verbose;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    if (!g_verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vsok-mutant[%s]: ", g_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* drop-at-fin: echoes collected here until the loop has to wait for input */
static __thread uint8_t *g_ob;
static __thread size_t g_obn, g_obcap;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (g_m == M_BACKPRESSURE && (w < 0 ? errno == EAGAIN : (size_t)w < n))
            return 0; /* the bug: what the full socket buffer refused is "sent" */
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) { /* a non-blocking descriptor: wait until it drains */
                struct pollfd pw = {.fd = fd, .events = POLLOUT};
                (void)poll(&pw, 1, 1000);
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_out(int fd)
{
    int rc = write_all(fd, g_ob, g_obn);
    g_obn = 0;
    return rc;
}

/* drop-at-fin: the output goes to a buffer, written out when it grows large
 * or when the loop is about to wait for input (see serve). */
static int put(int fd, const uint8_t *p, size_t n)
{
    if (g_m != M_DROP_AT_FIN)
        return write_all(fd, p, n);
    if (g_obn + n > g_obcap) {
        size_t cap = g_obcap ? g_obcap : 65536;
        while (cap < g_obn + n)
            cap *= 2;
        uint8_t *nb = realloc(g_ob, cap);
        if (!nb)
            return -1;
        g_ob = nb;
        g_obcap = cap;
    }
    memcpy(g_ob + g_obn, p, n);
    g_obn += n;
    return g_obn > 2 * BUF_CAP ? flush_out(fd) : 0;
}

/* The echo writer: header, then the payload in writes of at most 64 KiB. */
static int echo_frame(int fd, const uint8_t *payload, uint32_t len)
{
    uint8_t hdr[8];
    if (g_m == M_TRUNCATE_LARGE && len > WRITE_CHUNK)
        len = WRITE_CHUNK; /* the bug: a fixed 64 KiB echo buffer */
    if (g_m == M_WRITER_MAGIC) {
        uint32_t magic = 0x56534F4Bu; /* "VSOK" read as big-endian... */
        memcpy(hdr, &magic, 4);       /* ...stored in host order */
    } else {
        memcpy(hdr, "VSOK", 4);
    }
    hdr[4] = (uint8_t)(len >> 24);
    hdr[5] = (uint8_t)(len >> 16);
    hdr[6] = (uint8_t)(len >> 8);
    hdr[7] = (uint8_t)len;
    if (put(fd, hdr, sizeof hdr) < 0)
        return -1;
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < WRITE_CHUNK ? len - off : WRITE_CHUNK;
        if (put(fd, payload + off, n) < 0)
            return -1;
        off += n;
    }
    return 0;
}

/* Reads and discards until the peer closes (bounded by the peer). */
static void drain(int fd)
{
    uint8_t tmp[4096];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        return;
    }
}

/* A graceful close after an error: send FIN behind the echoes already
 * queued, then swallow what the peer still sends for a bounded while.
 * Closing a TCP socket with unread input sends RST instead, and the peer's
 * kernel may then throw away echoes it owes us (the "lingering close" every
 * HTTP server does).  Bounded: 2 s, 16 MiB. */
static void linger_close(int in, int out)
{
    if (shutdown(out, SHUT_WR) != 0 && errno != ENOTSOCK && errno != ENOTCONN)
        return;
    uint8_t tmp[65536];
    size_t budget = 16u << 20;
    int64_t deadline = vsok_now_ms() + 2000;
    while (budget > 0) {
        if (vsok_wait_fd(in, POLLIN, deadline) != VSOK_OK)
            return;
        ssize_t r = read(in, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        budget -= (size_t)r < budget ? (size_t)r : budget;
    }
}

/* eof-no-close, truncated-no-close: keep the connection open after the
 * peer's FIN, until the peer goes away completely (bounded: 10 s). */
static void hold_open(int fd)
{
    for (int i = 0; i < 100; i++) {
        struct pollfd p = {.fd = fd, .events = 0};
        if (poll(&p, 1, 100) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
            return;
    }
}

/* error-kills-others: every open connection, so that one connection's error
 * can (wrongly) reach the others. */
#define MAX_OPEN 256
static pthread_mutex_t g_open_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_open[MAX_OPEN];
static int g_nopen;

static void open_track(int fd, int on)
{
    pthread_mutex_lock(&g_open_mu);
    if (on && g_nopen < MAX_OPEN) {
        g_open[g_nopen++] = fd;
    } else if (!on) {
        for (int i = 0; i < g_nopen; i++)
            if (g_open[i] == fd) {
                g_open[i] = g_open[--g_nopen];
                break;
            }
    }
    pthread_mutex_unlock(&g_open_mu);
}

/* The bug: "reset the connection state" on an error, for every connection. */
static void kill_others(int self)
{
    pthread_mutex_lock(&g_open_mu);
    for (int i = 0; i < g_nopen; i++)
        if (g_open[i] != self)
            shutdown(g_open[i], SHUT_RDWR);
    pthread_mutex_unlock(&g_open_mu);
}

enum verdict { V_NEED = 0, V_FRAME = 1, V_ERROR = -1 };

typedef struct conn {
    int in, out;
    uint8_t *buf;
    size_t used;
    uint64_t skip;   /* late-length: announced bytes still to swallow */
    int skip_bad;    /* late-length: error to raise once swallowed */
    int magic_state; /* split-magic: 0 new header, 1 check it, 2 skip the check */
} conn;

static uint32_t length_field(const uint8_t *h)
{
    if (g_m == M_LITTLE_ENDIAN)
        return (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
    return (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | (uint32_t)h[7];
}

static int length_ok(uint32_t len)
{
    switch (g_m) {
    case M_ACCEPT_ZERO: return len <= MAX_PAYLOAD;
    case M_REJECT_MAX: return len > 0 && len < MAX_PAYLOAD;
    case M_ACCEPT_OVER_MAX: return len > 0 && len <= MAX_PAYLOAD + 1;
    default: return len > 0 && len <= MAX_PAYLOAD;
    }
}

/* Looks at the frame at the start of c->buf.  V_FRAME: *flen bytes form a
 * frame whose payload starts at buf + 8 (already echoed).  V_NEED: wait for
 * more.  V_ERROR: protocol violation. */
static enum verdict parse(conn *c, size_t *flen)
{
    size_t n = c->used;
    if (g_m == M_SPLIT_MAGIC && c->magic_state == 0 && n > 0)
        c->magic_state = n >= 4 ? 1 : 2; /* the bug: a header in pieces goes unchecked */
    if (g_m != M_IGNORE_MAGIC && g_m != M_LATE_MAGIC && c->magic_state != 2) {
        for (size_t i = 0; i < n && i < 4; i++)
            if (c->buf[i] != "VSOK"[i]) {
                logf_("wrong magic byte %zu", i);
                return V_ERROR;
            }
    }
    if (n < 8)
        return V_NEED;
    if (g_m == M_LATE_MAGIC && memcmp(c->buf, "VSOK", 4) != 0) {
        logf_("wrong magic");
        return V_ERROR;
    }
    uint32_t len = length_field(c->buf);
    if (g_m == M_LATE_LENGTH) {
        if (len > MAX_PAYLOAD && n - 8 >= len) {
            logf_("length %u: rejected after reading it", len);
            return V_ERROR;
        }
        if (len > MAX_PAYLOAD) {
            /* the bug: swallow what was announced, complain afterwards */
            c->skip = (uint64_t)len - (n - 8);
            c->skip_bad = 1;
            c->used = 0;
            logf_("length %u: reading it before rejecting", len);
            return V_NEED;
        }
    } else if (!length_ok(len)) {
        logf_("bad length %u", len);
        return V_ERROR;
    }
    if (n - 8 < len)
        return V_NEED;
    if (g_m == M_LATE_LENGTH && len == 0) {
        logf_("zero length");
        return V_ERROR;
    }
    *flen = 8 + (size_t)len;
    return V_FRAME;
}

/* On a protocol error: what a correct peer does (close) or the mutant's
 * variation.  Returns 1 to close, 0 to carry on parsing. */
static int on_error(conn *c)
{
    switch (g_m) {
    case M_CRASH: logf_("crashing"); abort();
    case M_NEVER_CLOSE: drain(c->in); return 1;
    case M_ECHO_BAD: (void)write_all(c->out, c->buf, c->used < 8 ? c->used : 8); return 1;
    case M_CLOSE_WAITS: {
        uint8_t tmp[4096]; /* the bug: the close waits for the next read to return */
        while (read(c->in, tmp, sizeof tmp) < 0 && (errno == EINTR || errno == EAGAIN)) {
        }
        return 1;
    }
    case M_ERROR_KILLS_OTHERS: kill_others(c->in); return 1;
    case M_RESYNC: {
        if (c->used >= 4 && memcmp(c->buf, "VSOK", 4) == 0)
            return 1; /* a length error: this one it does close on */
        size_t i = 1;
        while (i < c->used &&
               !(c->buf[i] == 'V' && memcmp(c->buf + i, "VSOK", c->used - i < 4 ? c->used - i : 4) == 0))
            i++;
        memmove(c->buf, c->buf + i, c->used - i);
        c->used -= i;
        logf_("resynchronising, skipped %zu bytes", i);
        return 0;
    }
    default: return 1;
    }
}

/* Echo loop over one byte stream.  Returns the exit status. */
static int serve(int in, int out)
{
    /* mmap, not malloc: a thread's first malloc makes glibc reserve a 64 MiB
     * arena, which a memory check of the IUT would mistake for eagerness. */
    void *mem = mmap(NULL, BUF_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 2;
    conn c = {.in = in, .out = out, .buf = mem};
    int status = 0;
    if (g_m == M_BACKPRESSURE) {
        int fl = fcntl(out, F_GETFL);
        if (fl >= 0)
            (void)fcntl(out, F_SETFL, fl | O_NONBLOCK);
    }
    for (;;) {
        if (g_m == M_ONE_READ)
            c.used = 0; /* every read starts a new frame */
        if (g_m == M_DROP_AT_FIN && g_obn) {
            struct pollfd p = {.fd = in, .events = POLLIN};
            if (poll(&p, 1, 0) == 0 && flush_out(out) < 0) { /* about to wait: flush */
                status = 2;
                break;
            }
        }
        ssize_t r = read(in, c.buf + c.used, BUF_CAP - c.used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) { /* backpressure made the descriptor non-blocking */
            struct pollfd p = {.fd = in, .events = POLLIN};
            (void)poll(&p, 1, 1000);
            continue;
        }
        if (r < 0 && errno == ECONNRESET && g_m == M_RST_CRASH) {
            logf_("connection reset: crashing");
            abort(); /* the bug: a reset "cannot happen" */
        }
        if (r < 0) {
            status = 2;
            break;
        }
        if (r == 0) {
            status = (c.used || c.skip) ? 1 : 0;
            g_obn = 0; /* drop-at-fin: the bug, the buffered echoes are forgotten */
            if ((status == 0 && g_m == M_EOF_NO_CLOSE) || (status == 1 && g_m == M_TRUNCATED_NO_CLOSE)) {
                logf_("end of stream: keeping the connection open");
                hold_open(in);
            }
            break;
        }
        if (c.skip) {
            size_t take = (uint64_t)r < c.skip ? (size_t)r : (size_t)c.skip;
            c.skip -= take;
            if (c.skip > 0)
                continue;
            memmove(c.buf, c.buf + take, (size_t)r - take);
            r -= (ssize_t)take;
            if (c.skip_bad && on_error(&c)) {
                status = 1;
                break;
            }
        }
        c.used += (size_t)r;
        int closing = 0;
        for (;;) {
            size_t flen = 0;
            enum verdict v = parse(&c, &flen);
            if (v == V_NEED) {
                if (g_m == M_ONE_READ && (c.used > 0 || c.skip)) {
                    logf_("short read, giving up");
                    closing = 1; /* the bug: a partial frame is "invalid" */
                }
                break;
            }
            if (v == V_ERROR) {
                if (on_error(&c)) {
                    closing = 1;
                    break;
                }
                continue;
            }
            if (echo_frame(out, c.buf + 8, (uint32_t)(flen - 8)) < 0) {
                closing = 2;
                break;
            }
            if (g_m == M_ONE_READ || g_m == M_DROP_COALESCED) {
                c.used = 0; /* the bug: the rest of this read is forgotten */
                break;
            }
            memmove(c.buf, c.buf + flen, c.used - flen);
            c.used -= flen;
            c.magic_state = 0;
        }
        if (closing) {
            status = closing;
            break;
        }
    }
    if (g_obn && flush_out(out) < 0)
        status = 2;
    if (status == 1)
        linger_close(in, out);
    munmap(mem, BUF_CAP);
    return status;
}

static int read_exact(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return got ? 1 : (r == 0 ? 0 : -1);
        got += (size_t)r;
    }
    return 2;
}

/* naive-close: correct framing, written the way the original Rust crate
 * reads (read_exact of the 8-byte header, then of the payload), and a plain
 * close() on a protocol error: with unread input, TCP sends RST. */
static int serve_naive(int in, int out)
{
    uint8_t *buf = mmap(NULL, BUF_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return 2;
    int status;
    for (;;) {
        int h = read_exact(in, buf, 8);
        if (h != 2) {
            status = h == 0 ? 0 : h == 1 ? 1 : 2; /* clean end / truncated header / I/O */
            break;
        }
        uint32_t len = length_field(buf);
        if (memcmp(buf, "VSOK", 4) != 0 || len == 0 || len > MAX_PAYLOAD) {
            logf_("protocol error: plain close");
            status = 1;
            break;
        }
        if (read_exact(in, buf + 8, len) != 2) {
            status = 1;
            break;
        }
        if (echo_frame(out, buf + 8, len) < 0) {
            status = 2;
            break;
        }
    }
    munmap(buf, BUF_CAP);
    return status; /* the caller closes: no shutdown, no lingering */
}

static int serve_any(int in, int out) { return g_m == M_NAIVE_CLOSE ? serve_naive(in, out) : serve(in, out); }

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    open_track(fd, 1);
    (void)serve_any(fd, fd);
    open_track(fd, 0);
    close(fd);
    return NULL;
}

static int run_listen(const char *text, int ready_fd)
{
    int lfd;
    char err[256];
    if (vsok_listen(text, 64, &lfd, err, sizeof err) != VSOK_OK) {
        fprintf(stderr, "vsok-mutant: cannot listen on %s: %s\n", text, err[0] ? err : strerror(errno));
        return 2;
    }
    int fl = fcntl(lfd, F_GETFL);
    if (fl < 0 || fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        perror("vsok-mutant: fcntl");
        return 2;
    }
    if (ready_fd >= 0) {
        vsok_addr a;
        char line[512];
        if (vsok_addr_from_fd(lfd, 0, &a) != VSOK_OK) {
            perror("vsok-mutant: getsockname");
            return 2;
        }
        int n = vsok_addr_format(&a, line, sizeof line - 1);
        if (n < 0 || (size_t)n >= sizeof line - 1) {
            fprintf(stderr, "vsok-mutant: address too long\n");
            return 2;
        }
        line[n++] = '\n';
        if (write_all(ready_fd, (const uint8_t *)line, (size_t)n) < 0) {
            perror("vsok-mutant: ready-fd");
            return 2;
        }
        close(ready_fd);
    }
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            perror("vsok-mutant: accept");
            return 2;
        }
        if (g_m == M_SERIAL) {
            (void)serve_any(fd, fd);
            close(fd);
            continue;
        }
        pthread_t t;
        pthread_attr_t at;
        if (pthread_attr_init(&at) != 0 || pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) != 0 ||
            pthread_create(&t, &at, conn_thread, (void *)(intptr_t)fd) != 0) {
            fprintf(stderr, "vsok-mutant: cannot start a connection thread\n");
            close(fd);
        }
        pthread_attr_destroy(&at);
    }
}

static int run_connect(const char *text)
{
    int fd;
    char err[256];
    if (vsok_connect(text, 10000, &fd, err, sizeof err) != VSOK_OK) {
        fprintf(stderr, "vsok-mutant: cannot connect to %s: %s\n", text, err[0] ? err : strerror(errno));
        return 2;
    }
    int st = serve_any(fd, fd);
    close(fd);
    return st;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vsok-mutant [--mutant NAME] [--ready-fd N] [--lifetime SECONDS] [-v]\n"
               "                   (listen ADDR | connect ADDR | stdio)\n"
               "       vsok-mutant --list\n");
}

int main(int argc, char **argv)
{
    int ready_fd = -1;
    long lifetime = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--list")) {
            for (size_t k = 0; k < N_MUTANTS; k++)
                printf("%-16s %s\n", mutants[k].name, mutants[k].bug);
            return 0;
        } else if (!strcmp(o, "-v")) {
            g_verbose = 1;
        } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        } else if (i + 1 < argc && !strcmp(o, "--mutant")) {
            const char *name = argv[++i];
            size_t k = 0;
            while (k < N_MUTANTS && strcmp(mutants[k].name, name) != 0)
                k++;
            if (k == N_MUTANTS) {
                fprintf(stderr, "vsok-mutant: unknown mutant '%s' (see --list)\n", name);
                return 2;
            }
            g_m = mutants[k].m;
            g_name = mutants[k].name;
        } else if (i + 1 < argc && !strcmp(o, "--ready-fd")) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 65535 || fcntl((int)v, F_GETFD) < 0) {
                fprintf(stderr, "vsok-mutant: --ready-fd needs an open descriptor\n");
                return 2;
            }
            ready_fd = (int)v;
        } else if (i + 1 < argc && !strcmp(o, "--lifetime")) {
            char *end;
            lifetime = strtol(argv[++i], &end, 10);
            if (*end || lifetime < 0 || lifetime > 86400) {
                fprintf(stderr, "vsok-mutant: --lifetime wants 0..86400 seconds\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    /* A write to a peer that went away must fail with EPIPE, not kill us:
     * only the crash mutant is allowed to die. */
    signal(SIGPIPE, SIG_IGN);
    if (g_m == M_CRASH || g_m == M_RST_CRASH) {
        struct rlimit no_core = {0, 0}; /* crash on purpose, but leave no core files */
        (void)setrlimit(RLIMIT_CORE, &no_core);
    }
    if (lifetime > 0)
        alarm((unsigned)lifetime); /* a forgotten server cannot outlive its test */
    if (i + 2 == argc && !strcmp(argv[i], "listen"))
        return run_listen(argv[i + 1], ready_fd);
    if (i + 2 == argc && !strcmp(argv[i], "connect"))
        return run_connect(argv[i + 1]);
    if (i + 1 == argc && !strcmp(argv[i], "stdio"))
        return serve_any(STDIN_FILENO, STDOUT_FILENO);
    usage(stderr);
    return 2;
}
