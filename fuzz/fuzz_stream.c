/* SPDX-License-Identifier: MIT */
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
 *                               short reads, EINTR, EAGAIN and ECONNRESET,
 *                               waiting as bits 3-4 of the first control
 *                               byte say (see mock_stream)
 *   4 the same, then vsok_stream_read_full in fuzzer-chosen sizes
 *   5 vsok_protocol_vsok.read_message over that mock
 *   6 the length-prefix protocol over that mock, against its own model
 * Properties: every message equal to the oracle's (bytes, order), the final
 * outcome equal to the oracle's (and its offset for the buffered socket),
 * errors sticky on the socket, the unbuffered readers never read past the
 * frame they return, and no run hangs (faults are injected only once per
 * control byte, the writer always finishes or sees EPIPE). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"

/* ---- mock stream ---------------------------------------------------------- */

typedef struct mock {
    const uint8_t *buf;
    size_t len, pos;
    fz_split *sp;
    int failed; /* a hard transport error was injected (sticky, like a reset) */
} mock;

/* A flagged control byte injects a fault instead of data: raw & 3 = 1
 * EINTR, 2 ECONNRESET (the transport is gone for good), else EAGAIN.  With
 * 3 the poll() that waits after it fails too: interrupted (EINTR, retried)
 * when bit 0x20 is set, else ENOMEM, which is the transport failing. */
FZ_NOCOV static ssize_t mock_read(void *ctx, void *buf, size_t len)
{
    mock *m = ctx;
    fz_poll_fail_next(0); /* a wait that never came (no poll fd) */
    if (m->failed) {
        errno = ECONNRESET;
        return -1;
    }
    int flag = 0;
    uint8_t raw = 0;
    size_t chunk = fz_split_next(m->sp, &flag, &raw);
    if (flag) {
        unsigned kind = raw & 3;
        m->failed = kind == 2 || (kind == 3 && !(raw & 0x20));
        if (kind == 3)
            fz_poll_fail_next(raw & 0x20 ? EINTR : ENOMEM);
        errno = kind == 1 ? EINTR : kind == 2 ? ECONNRESET : EAGAIN;
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

/* An fd poll() never finds readable: a socketpair nobody writes to. */
FZ_NOCOV static int idle_fd(void)
{
    static int sv[2] = {-1, -1};
    if (sv[0] < 0)
        FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    return sv[0];
}

/* How a mock stream waits on EAGAIN, from bits 3-4 of the first control
 * byte: 0 a ready poll fd, no deadline (EAGAIN is retried); 1 no poll fd
 * (WouldBlock surfaces); 2 an idle fd with a 0 or 1 ms deadline (Timeout
 * surfaces, after at most 1 ms); 3 a ready fd with a long deadline (the
 * deadline arithmetic runs, nothing expires). */
FZ_NOCOV static vsok_stream mock_stream(mock *m, unsigned wait)
{
    vsok_stream s = {mock_read, mock_write, NULL, m, fz_ready_fd(), -1};
    if (wait == 1)
        s.poll_fd = -1;
    if (wait == 2) {
        s.poll_fd = idle_fd();
        s.timeout_ms = (int)(m->len & 1);
    }
    if (wait == 3)
        s.timeout_ms = 600000;
    return s;
}

/* May an error end the run early, before the oracle's verdict?  Only the
 * one the injected fault or the waiting mode implies. */
FZ_NOCOV static int fault_explains(const mock *m, unsigned wait, vsok_err e)
{
    return (m->failed && e == VSOK_E_IO) || (wait == 1 && e == VSOK_E_AGAIN) ||
           (wait == 2 && e == VSOK_E_TIMEOUT);
}

FZ_NOCOV static void check_msg(const fz_oracle *o, size_t i, const uint8_t *data, size_t len)
{
    FZ_CHECK(i < o->msgs.n);
    FZ_CHECK(len == o->msgs.v[i].len);
    FZ_CHECK(memcmp(data, o->msgs.v[i].data, len) == 0);
}

/* Modes 3, 4, 5: the unbuffered VSOK reader over the mock.  With
 * fail_k >= 0 the fail_k-th allocation of the readers fails: OutOfMemory,
 * no message, nothing leaked (LeakSanitizer), after a correct prefix. */
FZ_NOCOV static void run_mock_vsok(const uint8_t *st, size_t n, fz_split *sp, size_t max, unsigned wait,
                                   int via_vtable, const fz_oracle *o, long fail_k)
{
    mock m = {st, n, 0, sp, 0};
    vsok_stream s = mock_stream(&m, wait);
    vsok_err e;
    size_t i = 0;
    fz_alloc_fail_nth(fail_k);
    for (;; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        fz_alloc_live(1);
        if (via_vtable)
            e = (vsok_err)vsok_protocol_vsok.read_message(&vsok_protocol_vsok, &s, &msg, &len);
        else
            e = vsok_stream_read_message(&s, max, &msg, &len);
        fz_alloc_live(0);
        int failed = fz_alloc_take();
        FZ_CHECK(failed == (e == VSOK_E_NOMEM));
        if (e != VSOK_OK) {
            FZ_CHECK(msg == NULL && len == 0);
            if (failed)
                return; /* the messages before it were checked as they came */
            break;
        }
        check_msg(o, i, msg, len);
        /* Never a byte past the frame: the rest belongs to the next reader. */
        FZ_CHECK(m.pos == o->msgs.v[i].offset + VSOK_HEADER_SIZE + len);
        free(msg);
    }
    if (fault_explains(&m, wait, e))
        return; /* a prefix of the messages, checked above */
    FZ_CHECK(i == o->msgs.n);
    FZ_CHECK(e == o->end);
    uint64_t frame =
        o->msgs.n ? o->msgs.v[o->msgs.n - 1].offset + VSOK_HEADER_SIZE + o->msgs.v[o->msgs.n - 1].len : 0;
    switch (e) {
    case VSOK_E_EOF:
    case VSOK_E_TRUNCATED: FZ_CHECK(m.pos == n); break;
    case VSOK_E_MAGIC: FZ_CHECK(m.pos > o->end_off && m.pos <= frame + VSOK_HEADER_SIZE); break;
    default: /* length errors: exactly the header was taken */ FZ_CHECK(m.pos == frame + VSOK_HEADER_SIZE);
    }
}

/* Mode 4 also: vsok_stream_read_full in fuzzer-chosen sizes returns the
 * stream byte for byte, then Eof (or Truncated with the count). */
FZ_NOCOV static void run_mock_read_full(const uint8_t *st, size_t n, const fz_split *sp0, unsigned wait)
{
    fz_split sp = *sp0, sizes = *sp0;
    sp.next = sizes.next = 0;
    mock m = {st, n, 0, &sp, 0};
    vsok_stream s = mock_stream(&m, wait);
    uint8_t *buf = malloc(n + 1);
    FZ_CHECK(buf != NULL);
    size_t pos = 0;
    for (;;) {
        size_t want = fz_split_next(&sizes, NULL, NULL);
        if (want == SIZE_MAX)
            want = n + 1; /* more than there is: Truncated (or Eof when empty) */
        if (want > n + 1 - pos)
            want = n + 1 - pos;
        size_t got = SIZE_MAX;
        vsok_err e = vsok_stream_read_full(&s, buf + pos, want, &got);
        FZ_CHECK(got <= want);
        FZ_CHECK(memcmp(buf + pos, st + pos, got < n - pos ? got : n - pos) == 0);
        pos += got;
        if (e == VSOK_OK) {
            FZ_CHECK(got == want && pos <= n);
            continue;
        }
        if (!fault_explains(&m, wait, e)) {
            FZ_CHECK(pos == n);
            FZ_CHECK(e == (got == 0 ? VSOK_E_EOF : VSOK_E_TRUNCATED));
        }
        break;
    }
    free(buf);
}

/* Mode 6: the length-prefix protocol; the model is written out here. */
FZ_NOCOV static void run_mock_lenprefix(const uint8_t *st, size_t n, fz_split *sp, size_t max, unsigned wait)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, max ? (uint32_t)max : VSOK_MAX_PAYLOAD);
    mock m = {st, n, 0, sp, 0};
    vsok_stream s = mock_stream(&m, wait);
    size_t pos = 0;
    for (;;) {
        uint8_t *msg = NULL;
        size_t len = 0;
        int e = lp.proto.read_message(&lp.proto, &s, &msg, &len);
        FZ_CHECK(lp.proto.strerror(&lp.proto, e) != NULL);
        if (e == VSOK_LP_E_TRANSPORT && (m.failed || wait == 1 || wait == 2))
            return; /* the injected fault, in the protocol's own words */
        int want;
        uint32_t plen = 0;
        if (pos == n) {
            want = VSOK_LP_E_CLOSED;
        } else if (n - pos < 4) {
            want = VSOK_LP_E_SHORT;
        } else {
            plen = (uint32_t)st[pos] << 24 | (uint32_t)st[pos + 1] << 16 | (uint32_t)st[pos + 2] << 8 |
                   st[pos + 3];
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

/* The caller's mistakes get InvalidArgument, never a crash. */
FZ_NOCOV static void check_misuse(void)
{
    uint8_t b[1], *msg = b;
    size_t len = 7, got = 7;
    vsok_stream none = {NULL, NULL, NULL, NULL, -1, -1};
    FZ_CHECK(vsok_stream_read_full(NULL, b, 1, &got) == VSOK_E_INVAL && got == 0);
    FZ_CHECK(vsok_stream_read_full(&none, b, 1, NULL) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_writev_full(NULL, NULL, 0) == VSOK_E_INVAL);
    mock mk = {b, 0, 0, NULL, 0};
    vsok_stream ok = {mock_read, mock_write, NULL, &mk, -1, -1};
    struct iovec iov = {b, 1};
    FZ_CHECK(vsok_stream_read_full(&ok, NULL, 1, NULL) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_writev_full(&none, &iov, 1) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_writev_full(&ok, &iov, -1) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_writev_full(&ok, NULL, 1) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_writev_full(&ok, NULL, 0) == VSOK_OK); /* nothing to do */
    FZ_CHECK(vsok_stream_read_full(&ok, NULL, 0, &got) == VSOK_OK && got == 0);
    FZ_CHECK(vsok_stream_write_full(&none, b, 1) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_read_message(&none, 0, &msg, &len) == VSOK_E_INVAL);
    FZ_CHECK(msg == NULL && len == 0);
    FZ_CHECK(vsok_stream_read_message(NULL, VSOK_MAX_PAYLOAD + 1, &msg, &len) == VSOK_E_INVAL);
    FZ_CHECK(vsok_stream_write_message(NULL, b, 1) == VSOK_E_INVAL);
    /* A deadline further away than poll() can express waits in slices. */
    FZ_CHECK(vsok_wait_fd(fz_ready_fd(), POLLIN, vsok_now_ms() + ((int64_t)1 << 40)) == VSOK_OK);
    FZ_CHECK(vsok_wait_fd(idle_fd(), POLLIN, vsok_now_ms() - 1) == VSOK_E_TIMEOUT);
    vsok_msg m;
    FZ_CHECK(vsok_socket_recv(NULL, &m) == VSOK_E_INVAL);
    FZ_CHECK(vsok_socket_read_message(NULL, &msg, &len) == VSOK_E_INVAL);
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

FZ_NOCOV static void run_socket(const uint8_t *st, size_t n, const fz_split *sp, size_t max, unsigned mode,
                                const fz_oracle *o)
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
    uint8_t c0 = sp.nctl ? sp.ctl[0] : 0;
    size_t max = fz_max_payload(c0);
    unsigned wait = (c0 >> 3) & 3;
    /* The unbuffered fd reader and the protocol vtable take the default. */
    if (mode == 2 || mode == 5)
        max = 0;

    fz_oracle o = {{NULL, 0, 0}, VSOK_OK, 0};
    fz_oracle_run(&o, st, n, max);
    switch (mode) {
    case 3:
    case 4:
    case 5:
        /* One input length in four also fails an allocation. */
        run_mock_vsok(st, n, &sp, max, wait, mode == 5, &o, size % 4 == 3 ? (long)(size / 4 % 3) : -1);
        if (mode == 4)
            run_mock_read_full(st, n, &sp, wait);
        break;
    case 6: run_mock_lenprefix(st, n, &sp, max, wait); break;
    default: run_socket(st, n, &sp, max, mode, &o);
    }
    /* Misuse (and its poll calls) once per tiny input: the empty input is
     * in every corpus. */
    if (size < 2)
        check_misuse();
    fz_poll_fail_next(0);
    fz_oracle_free(&o);
    free(st);
    free(in);
    return 0;
}
