/* SPDX-License-Identifier: MIT */
/* fuzz_roundtrip - any payload of 1..1 MiB, written by one of the writers,
 * read back by every reader, yields the same bytes.
 *
 * Input: [material ...][c].  With c & 0x80 and at least 4 bytes of
 * material, the payload is (m1m2m3 & (2^(m0 % 21) - 1)) + 1 bytes (1 ..
 * 1 MiB, log-uniform) tiled from the rest of the material, so a small input
 * reaches every size up to the maximum; otherwise the payload is the
 * material itself.  c & 7 picks the writer:
 *   0 vsok_stream_write_message   over a capturing mock with short writes,
 *                                  EINTR and EAGAIN
 *   1 vsok_socket_write_message   over a socketpair
 *   2 vsok_socket_queue + flush   (payload, payload, one byte)
 *   3 vsok_socket_write_messages  (payload, payload, one byte)
 *   4 vsok_write_message(fd)
 *   5 vsok_protocol_vsok.write_message over the mock
 *   6 the length-prefix protocol, written and read back over the mock
 *   7 as 0, without a poll fd: EAGAIN surfaces and the writer must say so
 * The bytes on the wire must be exactly header + payload per message, no
 * single write may carry more than the header plus 64 KiB, and every reader
 * (one-shot, push decoder in one feed and through prepare/commit, the
 * unbuffered stream reader, the protocol vtable, and over a socketpair the
 * buffered socket handle both ways and vsok_read_message) must return the
 * same messages and then a clean Eof. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"

#define MAXMSG 3

typedef struct payloads {
    const uint8_t *p[MAXMSG];
    size_t len[MAXMSG];
    size_t n;
} payloads;

/* ---- growable byte buffer ---------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

FZ_NOCOV static void bytes_add(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        FZ_CHECK(np != NULL);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* ---- capturing mock stream ---------------------------------------------- */

typedef struct capture {
    bytes out;
    uint32_t rng;       /* drives short writes and injected faults */
    int faults;         /* injected so far (bounded) */
    int any_size;       /* 1: not a VSOK writer, no 64 KiB rule per call */
    int hard;           /* 1: faults may also be EPIPE (the peer is gone) */
    const uint8_t *src; /* for reading back: the captured frame */
    size_t src_len, src_pos;
} capture;

FZ_NOCOV static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* How much of a len-byte write the mock accepts: -1 for a fault, else
 * 1..len, often short. */
FZ_NOCOV static ssize_t accept_len(capture *c, size_t len)
{
    uint32_t r = next_rand(&c->rng);
    if (c->faults < 8 && (r & 7) == 0) {
        c->faults++;
        errno = (r & 8) ? EINTR : (c->hard && (r & 32)) ? EPIPE : EAGAIN;
        return -1;
    }
    size_t n = (r & 16) ? len : (size_t)(r % 70000) + 1;
    return (ssize_t)(n < len ? n : len);
}

FZ_NOCOV static ssize_t cap_write(void *ctx, const void *buf, size_t len)
{
    capture *c = ctx;
    FZ_CHECK(len > 0 && (c->any_size || len <= VSOK_HEADER_SIZE + VSOK_CHUNK_SIZE));
    ssize_t n = accept_len(c, len);
    if (n > 0)
        bytes_add(&c->out, buf, (size_t)n);
    return n;
}

FZ_NOCOV static ssize_t cap_writev(void *ctx, const struct iovec *iov, int cnt)
{
    capture *c = ctx;
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    FZ_CHECK(total > 0 && (c->any_size || total <= VSOK_HEADER_SIZE + VSOK_CHUNK_SIZE));
    ssize_t n = accept_len(c, total);
    if (n <= 0)
        return n;
    size_t left = (size_t)n;
    for (int i = 0; i < cnt && left > 0; i++) {
        size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
        bytes_add(&c->out, iov[i].iov_base, k);
        left -= k;
    }
    return n;
}

FZ_NOCOV static ssize_t cap_read(void *ctx, void *buf, size_t len)
{
    capture *c = ctx;
    ssize_t n = accept_len(c, len);
    if (n <= 0)
        return n;
    size_t left = c->src_len - c->src_pos;
    if ((size_t)n > left)
        n = (ssize_t)left;
    memcpy(buf, c->src + c->src_pos, (size_t)n);
    c->src_pos += (size_t)n;
    return n;
}

/* ---- socketpair helpers ------------------------------------------------- */

typedef struct job {
    int fd;
    unsigned writer; /* 1..4: a library writer; 99: raw send of bytes */
    const payloads *pl;
    const uint8_t *raw;
    size_t raw_len, raw_pos;
    vsok_err result;
    int threaded;
    pthread_t th;
} job;

FZ_NOCOV static void *job_main(void *arg)
{
    job *j = arg;
    vsok_err e = VSOK_OK;
    if (j->writer == 99) {
        size_t pos = j->raw_pos;
        while (pos < j->raw_len) {
            ssize_t r = send(j->fd, j->raw + pos, j->raw_len - pos, MSG_NOSIGNAL);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                e = VSOK_E_IO;
                break;
            }
            pos += (size_t)r;
        }
        shutdown(j->fd, SHUT_WR);
        close(j->fd);
        j->result = e;
        return NULL;
    }
    if (j->writer == 4) {
        for (size_t i = 0; i < j->pl->n && e == VSOK_OK; i++)
            e = vsok_write_message(j->fd, j->pl->p[i], j->pl->len[i]);
        close(j->fd); /* a pipe: closing is the end of stream */
        j->result = e;
        return NULL;
    }
    vsok_socket *s = NULL;
    FZ_CHECK(vsok_socket_open(&s, j->fd, NULL) == VSOK_OK);
    if (j->writer == 1) {
        for (size_t i = 0; i < j->pl->n && e == VSOK_OK; i++)
            e = vsok_socket_write_message(s, j->pl->p[i], j->pl->len[i]);
    } else if (j->writer == 2) {
        for (size_t i = 0; i < j->pl->n && e == VSOK_OK; i++)
            e = vsok_socket_queue(s, j->pl->p[i], j->pl->len[i]);
        if (e == VSOK_OK)
            e = vsok_socket_flush(s);
    } else {
        struct iovec iov[MAXMSG];
        for (size_t i = 0; i < j->pl->n; i++) {
            iov[i].iov_base = (void *)(uintptr_t)j->pl->p[i];
            iov[i].iov_len = j->pl->len[i];
        }
        e = vsok_socket_write_messages(s, iov, j->pl->n);
    }
    if (e == VSOK_OK)
        e = vsok_socket_shutdown_write(s);
    vsok_socket_close(s);
    j->result = e;
    return NULL;
}

/* Total bytes pl puts on the wire. */
FZ_NOCOV static size_t wire_len(const payloads *pl)
{
    size_t t = 0;
    for (size_t i = 0; i < pl->n; i++)
        t += VSOK_HEADER_SIZE + pl->len[i];
    return t;
}

/* Runs j on one end of a fresh socketpair and returns the other end.  When
 * everything surely fits in the socket buffer the job runs right here (no
 * thread, no wake-ups); otherwise, or when a raw send would block, the rest
 * runs in a thread.  finish_job() joins it. */
FZ_NOCOV static int start_job(job *j)
{
    int sv[2];
    if (j->writer == 4) {
        /* A pipe: the fd writer must fall back from send() to write(). */
        FZ_CHECK(pipe2(sv, O_CLOEXEC) == 0);
    } else {
        fz_socketpair(sv);
    }
    j->fd = sv[1];
    j->threaded = 0;
    if (j->writer == 99) {
        while (j->raw_pos < j->raw_len) {
            ssize_t r =
                send(j->fd, j->raw + j->raw_pos, j->raw_len - j->raw_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0)
                j->raw_pos += (size_t)r;
            else if (!(r < 0 && errno == EINTR))
                break;
        }
        if (j->raw_pos == j->raw_len) {
            job_main(j);
            return sv[0];
        }
    } else if (j->writer != 4 && wire_len(j->pl) + 2 * VSOK_CHUNK_SIZE < fz_sndbuf(j->fd)) {
        job_main(j);
        return sv[0];
    }
    j->threaded = 1;
    FZ_CHECK(pthread_create(&j->th, NULL, job_main, j) == 0);
    return sv[0];
}

FZ_NOCOV static void finish_job(job *j)
{
    if (j->threaded)
        FZ_CHECK(pthread_join(j->th, NULL) == 0);
}

/* ---- the readers ---------------------------------------------------------- */

FZ_NOCOV static void check_msg(const payloads *pl, size_t i, const uint8_t *p, size_t n)
{
    FZ_CHECK(i < pl->n);
    FZ_CHECK(n == pl->len[i] && memcmp(p, pl->p[i], n) == 0);
}

typedef struct seen {
    const payloads *pl;
    size_t i;
} seen;

FZ_NOCOV static int on_msg(void *ctx, const vsok_msg *m)
{
    seen *s = ctx;
    check_msg(s->pl, s->i++, m->data, m->len);
    return 0;
}

FZ_NOCOV static void read_in_memory(const uint8_t *b, size_t n, const payloads *pl, uint32_t seed)
{
    /* One-shot. */
    seen s = {pl, 0};
    uint64_t off = 0;
    FZ_CHECK(vsok_decode_all(b, n, 0, on_msg, &s, &off) == VSOK_E_EOF && s.i == pl->n && off == n);

    /* Push decoder: everything in one feed (zero copy), then again through
     * prepare/commit after the header bytes (the large-payload path). */
    vsok_decoder *d = vsok_decoder_new(0);
    FZ_CHECK(d != NULL);
    size_t pos = 0, i = 0;
    vsok_msg m;
    while (pos < n) {
        size_t used = 0;
        vsok_err e = vsok_decoder_feed(d, b + pos, n - pos, &used, &m);
        pos += used;
        FZ_CHECK(e == VSOK_OK);
        check_msg(pl, i++, m.data, m.len);
    }
    FZ_CHECK(i == pl->n && vsok_decoder_finish(d) == VSOK_E_EOF);
    vsok_decoder_reset(d);
    pos = i = 0;
    while (pos < n) {
        size_t used = 0;
        vsok_err e = vsok_decoder_feed(d, b + pos, VSOK_HEADER_SIZE, &used, &m);
        FZ_CHECK(e == VSOK_E_AGAIN && used == VSOK_HEADER_SIZE);
        pos += used;
        for (;;) {
            size_t room = 0;
            uint8_t *dst = vsok_decoder_prepare(d, &room);
            FZ_CHECK(dst != NULL && room > 0 && room <= n - pos);
            size_t k = (next_rand(&seed) % room) + 1;
            memcpy(dst, b + pos, k);
            pos += k;
            e = vsok_decoder_commit(d, k, &m);
            if (e == VSOK_OK)
                break;
            FZ_CHECK(e == VSOK_E_AGAIN);
        }
        check_msg(pl, i++, m.data, m.len);
    }
    FZ_CHECK(i == pl->n && vsok_decoder_finish(d) == VSOK_E_EOF);
    vsok_decoder_free(d);

    /* Unbuffered stream reader and the protocol vtable, over a mock that
     * returns short reads, EINTR and EAGAIN (retried: the poll fd is ready). */
    for (int via = 0; via < 2; via++) {
        capture c = {.rng = seed + (uint32_t)via, .src = b, .src_len = n};
        vsok_stream st = {cap_read, cap_write, NULL, &c, fz_ready_fd(), -1};
        for (i = 0;; i++) {
            uint8_t *msg = NULL;
            size_t len = 0;
            vsok_err e = via ? (vsok_err)vsok_protocol_vsok.read_message(&vsok_protocol_vsok, &st, &msg, &len)
                             : vsok_stream_read_message(&st, 0, &msg, &len);
            if (e != VSOK_OK) {
                FZ_CHECK(e == VSOK_E_EOF && i == pl->n);
                break;
            }
            check_msg(pl, i, msg, len);
            free(msg);
        }
    }
}

FZ_NOCOV static void read_over_socket(const uint8_t *b, size_t n, const payloads *pl)
{
    for (int how = 0; how < 3; how++) {
        job j = {.writer = 99, .raw = b, .raw_len = n};
        int fd = start_job(&j);
        size_t i = 0;
        vsok_err e;
        if (how == 2) {
            for (;; i++) {
                uint8_t *msg = NULL;
                size_t len = 0;
                if ((e = vsok_read_message(fd, &msg, &len)) != VSOK_OK)
                    break;
                check_msg(pl, i, msg, len);
                free(msg);
            }
            close(fd);
        } else {
            vsok_socket *s = NULL;
            FZ_CHECK(vsok_socket_open(&s, fd, NULL) == VSOK_OK);
            for (;; i++) {
                if (how == 0) {
                    vsok_msg m;
                    if ((e = vsok_socket_recv(s, &m)) != VSOK_OK)
                        break;
                    check_msg(pl, i, m.data, m.len);
                } else {
                    uint8_t *msg = NULL;
                    size_t len = 0;
                    if ((e = vsok_socket_read_message(s, &msg, &len)) != VSOK_OK)
                        break;
                    check_msg(pl, i, msg, len);
                    free(msg);
                }
            }
            vsok_socket_close(s);
        }
        finish_job(&j);
        FZ_CHECK(j.result == VSOK_OK);
        FZ_CHECK(e == VSOK_E_EOF && i == pl->n);
    }
}

/* ---- the writers ---------------------------------------------------------- */

/* vsok_stream_write_full and vsok_stream_writev_full (empty elements
 * included) move exactly the bytes given, through short writes and faults. */
FZ_NOCOV static void check_write_full(const payloads *pl, uint32_t seed)
{
    capture c = {.rng = seed ^ 0x9E3779B9u, .any_size = 1};
    vsok_stream st = {NULL, cap_write, cap_writev, &c, fz_ready_fd(), -1};
    FZ_CHECK(vsok_stream_write_full(&st, pl->p[0], pl->len[0]) == VSOK_OK);
    static const uint8_t mark[3] = {'e', 'n', 'd'};
    struct iovec iov[5] = {{NULL, 0},
                           {(void *)(uintptr_t)pl->p[0], pl->len[0]},
                           {NULL, 0},
                           {(void *)(uintptr_t)mark, sizeof(mark)},
                           {NULL, 0}};
    FZ_CHECK(vsok_stream_writev_full(&st, iov, 5) == VSOK_OK);
    FZ_CHECK(vsok_stream_writev_full(&st, iov, 0) == VSOK_OK);
    FZ_CHECK(c.out.n == 2 * pl->len[0] + sizeof(mark));
    FZ_CHECK(memcmp(c.out.p, pl->p[0], pl->len[0]) == 0);
    FZ_CHECK(memcmp(c.out.p + pl->len[0], pl->p[0], pl->len[0]) == 0);
    FZ_CHECK(memcmp(c.out.p + 2 * pl->len[0], mark, sizeof(mark)) == 0);

    /* More elements than one writev window, over a stream without writev
     * (the helpers fall back to one write per element). */
    enum { N = 70 };
    struct iovec many[N];
    for (int i = 0; i < N; i++) {
        many[i].iov_base = (void *)(uintptr_t)(pl->p[0] + (size_t)i % pl->len[0]);
        many[i].iov_len = 1;
    }
    c.out.n = 0;
    FZ_CHECK(vsok_stream_writev_full(&st, many, N) == VSOK_OK);
    vsok_stream plain = st;
    plain.writev = NULL;
    FZ_CHECK(vsok_stream_writev_full(&plain, many, N) == VSOK_OK);
    FZ_CHECK(c.out.n == 2 * N);
    for (int i = 0; i < 2 * N; i++)
        FZ_CHECK(c.out.p[i] == pl->p[0][(size_t)(i % N) % pl->len[0]]);
    free(c.out.p);
}

/* A vanished peer is an Io error, never SIGPIPE (which would kill us). */
FZ_NOCOV static void check_closed_peer(void)
{
    int sv[2];
    fz_socketpair(sv);
    close(sv[0]);
    static const uint8_t x[2] = {'h', 'i'};
    FZ_CHECK(vsok_write_message(sv[1], x, sizeof(x)) == VSOK_E_IO && errno == EPIPE);
    vsok_stream s = vsok_stream_fd(sv[1]);
    FZ_CHECK(vsok_stream_write_full(&s, x, sizeof(x)) == VSOK_E_IO && errno == EPIPE);
    struct iovec two[2] = {{(void *)(uintptr_t)x, 1}, {(void *)(uintptr_t)(x + 1), 1}};
    FZ_CHECK(vsok_stream_writev_full(&s, two, 2) == VSOK_E_IO && errno == EPIPE);
    close(sv[1]);
}

/* Produces the wire bytes of pl with writer w (0..5, 7). */
FZ_NOCOV static bytes write_all(unsigned w, const payloads *pl, uint32_t seed)
{
    bytes out = {0};
    if (w == 0 || w == 5 || w == 7) {
        capture c = {.rng = seed, .hard = w == 7};
        /* Mode 7: no poll fd, so EAGAIN surfaces; and a deadline, so the
         * deadline arithmetic runs. */
        vsok_stream st = {NULL, cap_write, cap_writev, &c, w == 7 ? -1 : fz_ready_fd(), w == 7 ? 600000 : -1};
        for (size_t i = 0; i < pl->n; i++) {
            vsok_err e = w == 5 ? (vsok_err)vsok_protocol_vsok.write_message(&vsok_protocol_vsok, &st,
                                                                             pl->p[i], pl->len[i])
                                : vsok_stream_write_message(&st, pl->p[i], pl->len[i]);
            if (w == 7 && (e == VSOK_E_AGAIN || e == VSOK_E_IO)) {
                /* The stream position is now unknown to the caller: it
                 * must not be reported as success.  Nothing to compare. */
                FZ_CHECK(c.faults > 0);
                free(c.out.p);
                return (bytes){0};
            }
            FZ_CHECK(e == VSOK_OK);
        }
        if (w == 0) {
            check_write_full(pl, seed);
            check_closed_peer();
        }
        /* Refusals come before any byte is written. */
        size_t before = c.out.n;
        static const uint8_t one = 0;
        FZ_CHECK(vsok_stream_write_message(&st, &one, 0) == VSOK_E_LENGTH);
        FZ_CHECK(vsok_stream_write_message(&st, &one, (size_t)VSOK_MAX_PAYLOAD + 1) == VSOK_E_TOO_LARGE);
        FZ_CHECK(c.out.n == before);
        return c.out;
    }
    /* Socket writers run in a thread; raw bytes are read here. */
    job j = {.writer = w, .pl = pl};
    int fd = start_job(&j);
    uint8_t *buf = malloc(65536);
    FZ_CHECK(buf != NULL);
    for (;;) {
        ssize_t r = read(fd, buf, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        FZ_CHECK(r >= 0);
        if (r == 0)
            break;
        bytes_add(&out, buf, (size_t)r);
    }
    free(buf);
    close(fd);
    finish_job(&j);
    FZ_CHECK(j.result == VSOK_OK);
    return out;
}

FZ_NOCOV static void roundtrip_lenprefix(const payloads *pl, uint32_t seed)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, VSOK_MAX_PAYLOAD);
    capture c = {.rng = seed, .any_size = 1};
    vsok_stream st = {cap_read, cap_write, cap_writev, &c, fz_ready_fd(), -1};
    for (size_t i = 0; i < pl->n; i++)
        FZ_CHECK(lp.proto.write_message(&lp.proto, &st, pl->p[i], pl->len[i]) == VSOK_LP_OK);
    c.src = c.out.p;
    c.src_len = c.out.n;
    for (size_t i = 0;; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        int e = lp.proto.read_message(&lp.proto, &st, &msg, &len);
        if (e != VSOK_LP_OK) {
            FZ_CHECK(e == VSOK_LP_E_CLOSED && i == pl->n);
            break;
        }
        check_msg(pl, i, msg, len);
        free(msg);
    }
    free(c.out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t *in = fz_dup(data, size);
    uint8_t c = in[size - 1];
    size_t mlen = size - 1;
    uint8_t *payload;
    size_t plen;
    if ((c & 0x80) && mlen >= 4) {
        /* Log-uniform sizes: most runs stay cheap, every size is reachable
         * (bits 20 gives 1..1048576, the maximum included). */
        unsigned bits = in[0] % 21u;
        size_t v = (size_t)in[1] << 16 | (size_t)in[2] << 8 | in[3];
        plen = (v & (((size_t)1 << bits) - 1)) + 1;
        payload = malloc(plen);
        FZ_CHECK(payload != NULL);
        const uint8_t *src = in + 4;
        size_t srcn = mlen - 4;
        if (srcn == 0)
            memset(payload, 0, plen);
        for (size_t o = 0; srcn > 0 && o < plen; o += srcn)
            memcpy(payload + o, src, plen - o < srcn ? plen - o : srcn);
    } else {
        plen = mlen;
        payload = fz_dup(in, plen);
    }
    unsigned w = c & 7;
    uint32_t seed = (uint32_t)size * 2654435761u ^ c;

    static const uint8_t one = 0x5A;
    payloads pl = {.p = {payload}, .len = {plen}, .n = 1};
    if (w == 2 || w == 3) {
        pl.p[1] = payload, pl.len[1] = plen;
        pl.p[2] = &one, pl.len[2] = 1;
        pl.n = 3;
    }

    if (w == 6) {
        roundtrip_lenprefix(&pl, seed);
    } else {
        bytes b = write_all(w, &pl, seed);
        if (b.n > 0 || w != 7) {
            /* Exactly header + payload per message, in order. */
            size_t pos = 0;
            for (size_t i = 0; i < pl.n; i++) {
                uint8_t h[VSOK_HEADER_SIZE];
                FZ_CHECK(vsok_header_encode(h, pl.len[i]) == VSOK_OK);
                FZ_CHECK(b.n - pos >= VSOK_HEADER_SIZE + pl.len[i]);
                FZ_CHECK(memcmp(b.p + pos, h, VSOK_HEADER_SIZE) == 0);
                FZ_CHECK(memcmp(b.p + pos + VSOK_HEADER_SIZE, pl.p[i], pl.len[i]) == 0);
                pos += VSOK_HEADER_SIZE + pl.len[i];
            }
            FZ_CHECK(pos == b.n);
            uint8_t *exact = fz_dup(b.p, b.n);
            read_in_memory(exact, b.n, &pl, seed);
            read_over_socket(exact, b.n, &pl);
            free(exact);
        }
        free(b.p);
    }
    free(payload);
    free(in);
    return 0;
}
