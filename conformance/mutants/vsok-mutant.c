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

#define MAX_PAYLOAD 1048576u  /* 1 MiB, inclusive */
#define WRITE_CHUNK 65536u    /* largest payload write */
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

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The echo writer: header, then the payload in writes of at most 64 KiB. */
static int echo_frame(int fd, const uint8_t *payload, uint32_t len)
{
    uint8_t hdr[8];
    if (g_m == M_TRUNCATE_LARGE && len > WRITE_CHUNK)
        len = WRITE_CHUNK; /* the bug: a fixed 64 KiB echo buffer */
    if (g_m == M_WRITER_MAGIC) {
        uint32_t magic = 0x56534F4Bu; /* "VSOK" read as big-endian... */
        memcpy(hdr, &magic, 4);      /* ...stored in host order */
    } else {
        memcpy(hdr, "VSOK", 4);
    }
    hdr[4] = (uint8_t)(len >> 24);
    hdr[5] = (uint8_t)(len >> 16);
    hdr[6] = (uint8_t)(len >> 8);
    hdr[7] = (uint8_t)len;
    if (write_all(fd, hdr, sizeof hdr) < 0)
        return -1;
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < WRITE_CHUNK ? len - off : WRITE_CHUNK;
        if (write_all(fd, payload + off, n) < 0)
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

enum verdict { V_NEED = 0, V_FRAME = 1, V_ERROR = -1 };

typedef struct conn {
    int in, out;
    uint8_t *buf;
    size_t used;
    uint64_t skip; /* late-length: announced bytes still to swallow */
    int skip_bad;  /* late-length: error to raise once swallowed */
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
    case M_ACCEPT_ZERO:
        return len <= MAX_PAYLOAD;
    case M_REJECT_MAX:
        return len > 0 && len < MAX_PAYLOAD;
    case M_ACCEPT_OVER_MAX:
        return len > 0 && len <= MAX_PAYLOAD + 1;
    default:
        return len > 0 && len <= MAX_PAYLOAD;
    }
}

/* Looks at the frame at the start of c->buf.  V_FRAME: *flen bytes form a
 * frame whose payload starts at buf + 8 (already echoed).  V_NEED: wait for
 * more.  V_ERROR: protocol violation. */
static enum verdict parse(conn *c, size_t *flen)
{
    size_t n = c->used;
    if (g_m != M_IGNORE_MAGIC && g_m != M_LATE_MAGIC) {
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
    case M_CRASH:
        logf_("crashing");
        abort();
    case M_NEVER_CLOSE:
        drain(c->in);
        return 1;
    case M_ECHO_BAD:
        (void)write_all(c->out, c->buf, c->used < 8 ? c->used : 8);
        return 1;
    case M_RESYNC: {
        if (c->used >= 4 && memcmp(c->buf, "VSOK", 4) == 0)
            return 1; /* a length error: this one it does close on */
        size_t i = 1;
        while (i < c->used && !(c->buf[i] == 'V' &&
                                memcmp(c->buf + i, "VSOK", c->used - i < 4 ? c->used - i : 4) == 0))
            i++;
        memmove(c->buf, c->buf + i, c->used - i);
        c->used -= i;
        logf_("resynchronising, skipped %zu bytes", i);
        return 0;
    }
    default:
        return 1;
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
    for (;;) {
        if (g_m == M_ONE_READ)
            c.used = 0; /* every read starts a new frame */
        ssize_t r = read(in, c.buf + c.used, BUF_CAP - c.used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            status = 2;
            break;
        }
        if (r == 0) {
            status = (c.used || c.skip) ? 1 : 0;
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
        }
        if (closing) {
            status = closing;
            break;
        }
    }
    if (status == 1)
        linger_close(in, out);
    munmap(mem, BUF_CAP);
    return status;
}

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    (void)serve(fd, fd);
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
            (void)serve(fd, fd);
            close(fd);
            continue;
        }
        pthread_t t;
        pthread_attr_t at;
        if (pthread_attr_init(&at) != 0 ||
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) != 0 ||
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
    int st = serve(fd, fd);
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
    if (g_m == M_CRASH) {
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
        return serve(STDIN_FILENO, STDOUT_FILENO);
    usage(stderr);
    return 2;
}
