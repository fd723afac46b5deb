/* fuzz_stream - the readers that pull from a transport, against the
 * one-shot decoder of the same bytes.
 *
 * Input layout: see fuzz_common.h.  The mode (top 3 bits of the last byte)
 * picks the reader; the first control byte's low 3 bits its maximum payload.
 *   0 vsok_socket_recv          over a socketpair, a writer thread sending
 *   1 vsok_socket_read_message  the stream in fuzzer-chosen writes
 *   2 vsok_read_message(fd)     (unbuffered)
 *   7 socket_recv and socket_read_message alternating
 *   3 vsok_stream_read_message  over a mock stream returning fuzzer-chosen
 *                               short reads, EINTR and EAGAIN; no poll fd, so
 *                               EAGAIN surfaces as WouldBlock
 *   4 the same with a poll fd that is always ready: EAGAIN is retried
 *   5 vsok_protocol_vsok.read_message over that mock
 *   6 the length-prefix protocol over that mock, against its own model
 * Properties: every message equal to the oracle's (bytes, order), the final
 * outcome equal to the oracle's (and its offset for the buffered socket),
 * errors sticky on the socket, the unbuffered readers never read past the
 * frame they return, and no run hangs (faults are injected only once per
 * control byte, the writer always finishes or sees EPIPE). */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"

/* ---- mock stream ---------------------------------------------------------- */

typedef struct mock {
    const uint8_t *buf;
    size_t len, pos;
    fz_split *sp;
} mock;

FZ_NOCOV static ssize_t mock_read(void *ctx, void *buf, size_t len)
{
    mock *m = ctx;
    int flag = 0;
    uint8_t raw = 0;
    size_t chunk = fz_split_next(m->sp, &flag, &raw);
    if (flag) {
        errno = (raw & 1) ? EINTR : EAGAIN;
        return -1;
    }
    FZ_CHECK(len > 0);
    size_t left = m->len - m->pos;
    size_t n = chunk < len ? chunk : len;
    if (n > left)
        n = left;
    memcpy(buf, m->buf + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

FZ_NOCOV static ssize_t mock_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    FZ_CHECK(!"a reader wrote");
    return -1;
}


FZ_NOCOV static void check_msg(const fz_oracle *o, size_t i, const uint8_t *data, size_t len)
{
    FZ_CHECK(i < o->msgs.n);
    FZ_CHECK(len == o->msgs.v[i].len);
    FZ_CHECK(memcmp(data, o->msgs.v[i].data, len) == 0);
}

/* Modes 3, 4, 5: the unbuffered VSOK reader over the mock. */
FZ_NOCOV static void run_mock_vsok(const uint8_t *st, size_t n, fz_split *sp, size_t max, int poll,
                                   int via_vtable, const fz_oracle *o)
{
    mock m = {st, n, 0, sp};
    vsok_stream s = {mock_read, mock_write, NULL, &m, poll ? fz_ready_fd() : -1, -1};
    vsok_err e = VSOK_OK;
    size_t i = 0;
    for (;; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        if (via_vtable)
            e = (vsok_err)vsok_protocol_vsok.read_message(&vsok_protocol_vsok, &s, &msg, &len);
        else
            e = vsok_stream_read_message(&s, max, &msg, &len);
        if (e != VSOK_OK) {
            FZ_CHECK(msg == NULL);
            break;
        }
        check_msg(o, i, msg, len);
        /* Never a byte past the frame: the rest belongs to the next reader. */
        FZ_CHECK(m.pos == o->msgs.v[i].offset + VSOK_HEADER_SIZE + len);
        free(msg);
    }
    if (e == VSOK_E_AGAIN) { /* only without a poll fd; a prefix so far */
        FZ_CHECK(!poll);
        return;
    }
    FZ_CHECK(i == o->msgs.n);
    FZ_CHECK(e == o->end);
    uint64_t frame = o->msgs.n ? o->msgs.v[o->msgs.n - 1].offset + VSOK_HEADER_SIZE +
                                     o->msgs.v[o->msgs.n - 1].len
                               : 0;
    switch (e) {
    case VSOK_E_EOF:
    case VSOK_E_TRUNCATED:
        FZ_CHECK(m.pos == n);
        break;
    case VSOK_E_MAGIC:
        FZ_CHECK(m.pos > o->end_off && m.pos <= frame + VSOK_HEADER_SIZE);
        break;
    default: /* length errors: exactly the header was taken */
        FZ_CHECK(m.pos == frame + VSOK_HEADER_SIZE);
    }
}

/* Mode 6: the length-prefix protocol; the model is written out here. */
FZ_NOCOV static void run_mock_lenprefix(const uint8_t *st, size_t n, fz_split *sp, size_t max)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, max ? (uint32_t)max : VSOK_MAX_PAYLOAD);
    mock m = {st, n, 0, sp};
    vsok_stream s = {mock_read, mock_write, NULL, &m, fz_ready_fd(), -1};
    size_t pos = 0;
    for (;;) {
        uint8_t *msg = NULL;
        size_t len = 0;
        int e = lp.proto.read_message(&lp.proto, &s, &msg, &len);
        int want;
        uint32_t plen = 0;
        if (pos == n) {
            want = VSOK_LP_E_CLOSED;
        } else if (n - pos < 4) {
            want = VSOK_LP_E_SHORT;
        } else {
            plen = (uint32_t)st[pos] << 24 | (uint32_t)st[pos + 1] << 16 |
                   (uint32_t)st[pos + 2] << 8 | st[pos + 3];
            if (plen == 0)
                want = VSOK_LP_E_EMPTY;
            else if (plen > lp.max_len)
                want = VSOK_LP_E_OVERSIZE;
            else if (n - pos - 4 < plen)
                want = VSOK_LP_E_SHORT;
            else
                want = VSOK_LP_OK;
        }
        FZ_CHECK(e == want);
        FZ_CHECK(lp.proto.is_eof(&lp.proto, e) == (e == VSOK_LP_E_CLOSED));
        FZ_CHECK(lp.proto.strerror(&lp.proto, e) != NULL);
        if (e != VSOK_LP_OK) {
            FZ_CHECK(msg == NULL);
            return;
        }
        FZ_CHECK(len == plen && memcmp(msg, st + pos + 4, plen) == 0);
        pos += 4 + plen;
        FZ_CHECK(m.pos == pos);
        free(msg);
    }
}

/* ---- socketpair ------------------------------------------------------------ */

typedef struct writer {
    int fd;
    const uint8_t *buf;
    size_t len, pos;
    fz_split sp;
    size_t pending; /* chunk size that met EAGAIN, to retry */
} writer;

/* Sends what is left in fuzzer-chosen writes; with nonblock, stops at the
 * first EAGAIN and returns 0 (the rest goes to a thread). */
FZ_NOCOV static int writer_pump(writer *w, int nonblock)
{
    while (w->pos < w->len) {
        size_t chunk = w->pending ? w->pending : fz_split_next(&w->sp, NULL, NULL);
        w->pending = 0;
        if (chunk > w->len - w->pos)
            chunk = w->len - w->pos;
        ssize_t r = send(w->fd, w->buf + w->pos, chunk, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && nonblock && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            w->pending = chunk; /* the thread retries it */
            return 0;
        }
        if (r <= 0)
            break; /* the reader closed after an error: EPIPE */
        w->pos += (size_t)r;
    }
    shutdown(w->fd, SHUT_WR);
    return 1;
}

FZ_NOCOV static void *writer_main(void *arg)
{
    writer_pump(arg, 0);
    return NULL;
}

FZ_NOCOV static void run_socket(const uint8_t *st, size_t n, const fz_split *sp, size_t max,
                                unsigned mode, const fz_oracle *o)
{
    int sv[2];
    fz_socketpair(sv);
    writer w = {sv[1], st, n, 0, *sp, 0};
    pthread_t th;
    int threaded = !writer_pump(&w, 1);
    if (threaded)
        FZ_CHECK(pthread_create(&th, NULL, writer_main, &w) == 0);

    vsok_err e = VSOK_OK;
    size_t i = 0;
    if (mode == 2) {
        for (;; i++) {
            uint8_t *msg = NULL;
            size_t len = 0;
            if ((e = vsok_read_message(sv[0], &msg, &len)) != VSOK_OK)
                break;
            check_msg(o, i, msg, len);
            free(msg);
        }
        close(sv[0]);
    } else {
        vsok_socket *s = NULL;
        FZ_CHECK(vsok_socket_open(&s, sv[0], NULL) == VSOK_OK);
        if (max)
            FZ_CHECK(vsok_socket_set_max_payload(s, max) == VSOK_OK);
        for (;; i++) {
            int copy = mode == 1 || (mode == 7 && (i & 1));
            if (copy) {
                uint8_t *msg = NULL;
                size_t len = 0;
                if ((e = vsok_socket_read_message(s, &msg, &len)) != VSOK_OK)
                    break;
                check_msg(o, i, msg, len);
                free(msg);
            } else {
                vsok_msg m;
                if ((e = vsok_socket_recv(s, &m)) != VSOK_OK)
                    break;
                check_msg(o, i, m.data, m.len);
                FZ_CHECK(m.offset == o->msgs.v[i].offset);
            }
        }
        FZ_CHECK(vsok_socket_error_offset(s) == o->end_off);
        /* Sticky: the handle repeats its verdict instead of reading on. */
        vsok_msg m;
        FZ_CHECK(vsok_socket_recv(s, &m) == e);
        vsok_socket_close(s);
    }
    if (threaded)
        FZ_CHECK(pthread_join(th, NULL) == 0);
    close(sv[1]);
    FZ_CHECK(i == o->msgs.n);
    FZ_CHECK(e == o->end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = fz_dup(data, size);
    fz_split sp;
    size_t n = fz_split_init(&sp, in, size);
    uint8_t *st = fz_dup(in, n);
    unsigned mode = sp.mode;
    size_t max = fz_max_payload(sp.nctl ? sp.ctl[0] : 0);
    /* The unbuffered fd reader and the protocol vtable take the default. */
    if (mode == 2 || mode == 5)
        max = 0;

    fz_oracle o;
    fz_oracle_run(&o, st, n, max);
    switch (mode) {
    case 3:
    case 4:
    case 5:
        run_mock_vsok(st, n, &sp, max, mode != 3, mode == 5, &o);
        break;
    case 6:
        run_mock_lenprefix(st, n, &sp, max);
        break;
    default:
        run_socket(st, n, &sp, max, mode, &o);
    }
    fz_oracle_free(&o);
    free(st);
    free(in);
    return 0;
}
