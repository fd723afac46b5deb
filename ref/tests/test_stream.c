/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vsok/vsok.h>

#include "mock.h"
#include "tutil.h"

TestSuite(stream, .timeout = 60);

static uint8_t src[4096];
static uint8_t sink[1 << 16];

static void mock_init(mock *m, size_t srclen)
{
    memset(m, 0, sizeof *m);
    tu_fill(src, sizeof src, 77);
    m->src = src;
    m->srclen = srclen;
    m->sink = sink;
    m->sinkcap = sizeof sink;
}

/* ---- read_full over a scripted stream ---- */

Test(stream, read_full_retries_short_reads)
{
    mock m;
    mock_init(&m, 100);
    m.max_read = 1;
    vsok_stream s = mock_stream(&m, 1);
    uint8_t buf[100];
    size_t got = 0;
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_OK);
    cr_assert_eq(got, 100);
    cr_assert_arr_eq(buf, src, 100);
    cr_assert_eq(m.read_calls, 100);
}

Test(stream, read_full_retries_eintr)
{
    static const mock_step r[] = {{M_EINTR, 0, 0}, {M_DATA, 3, 0}, {M_EINTR, 0, 0},
                                  {M_EINTR, 0, 0}, {M_DATA, 1, 0}, {M_EINTR, 0, 0}};
    mock m;
    mock_init(&m, 50);
    m.rscript = r;
    m.nr = sizeof r / sizeof r[0];
    vsok_stream s = mock_stream(&m, 1);
    uint8_t buf[50];
    size_t got = 0;
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_OK);
    cr_assert_eq(got, 50);
    cr_assert_arr_eq(buf, src, 50);
}

Test(stream, read_full_eagain_without_poll_fd_is_would_block)
{
    static const mock_step r[] = {{M_DATA, 5, 0}, {M_EAGAIN, 0, 0}};
    mock m;
    mock_init(&m, 50);
    m.rscript = r;
    m.nr = 2;
    vsok_stream s = mock_stream(&m, 1);
    uint8_t buf[50];
    size_t got = 0;
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_E_AGAIN);
    cr_assert_eq(got, 5, "bytes read before EAGAIN are reported");
    cr_assert_arr_eq(buf, src, 5);
}

Test(stream, read_full_error_is_io_with_errno_kept)
{
    static const mock_step r[] = {{M_DATA, 2, 0}, {M_ERR, 0, ECONNRESET}};
    mock m;
    mock_init(&m, 50);
    m.rscript = r;
    m.nr = 2;
    vsok_stream s = mock_stream(&m, 1);
    uint8_t buf[50];
    size_t got = 0;
    errno = 0;
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_E_IO);
    cr_assert_eq(errno, ECONNRESET, "errno %d", errno);
    cr_assert_eq(got, 2);
}

Test(stream, read_full_end_before_any_byte_is_eof)
{
    mock m;
    mock_init(&m, 0);
    vsok_stream s = mock_stream(&m, 1);
    uint8_t buf[8];
    size_t got = 99;
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_E_EOF);
    cr_assert_eq(got, 0);
}

Test(stream, read_full_end_after_some_bytes_is_truncated)
{
    for (size_t k = 1; k < 8; k++) {
        mock m;
        mock_init(&m, k);
        m.max_read = 1;
        vsok_stream s = mock_stream(&m, 1);
        uint8_t buf[8];
        size_t got = 99;
        cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_E_TRUNCATED, "k %zu", k);
        cr_assert_eq(got, k);
    }
}

Test(stream, read_full_null_stream_is_invalid)
{
    uint8_t buf[4];
    size_t got = 99;
    cr_assert_eq(vsok_stream_read_full(NULL, buf, 4, &got), VSOK_E_INVAL);
    cr_assert_eq(got, 0);
}

/* ---- writev_full over a scripted stream ---- */

static size_t iov_fill(struct iovec *iov, uint8_t *store)
{
    static const size_t lens[] = {5, 0, 7, 300, 1, 0, 2000};
    size_t off = 0, n = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < n; i++) {
        iov[i].iov_base = store + off;
        iov[i].iov_len = lens[i];
        off += lens[i];
    }
    tu_fill(store, off, 5);
    return n;
}

static void check_writev(int with_writev, size_t max_write, const mock_step *w, size_t nw)
{
    struct iovec iov[8], copy[8];
    static uint8_t store[4096];
    size_t n = iov_fill(iov, store);
    memcpy(copy, iov, sizeof iov);
    mock m;
    mock_init(&m, 0);
    m.max_write = max_write;
    m.wscript = w;
    m.nw = nw;
    vsok_stream s = mock_stream(&m, with_writev);
    cr_assert_eq(vsok_stream_writev_full(&s, iov, (int)n), VSOK_OK);
    cr_assert_eq(m.sinklen, 2313);
    cr_assert_arr_eq(sink, store, 2313);
    cr_assert_arr_eq(iov, copy, sizeof iov, "the iov array was modified");
    if (!with_writev)
        cr_assert_eq(m.writev_calls, 0);
}

Test(stream, writev_full_retries_short_writes_across_buffers)
{
    check_writev(1, 3, NULL, 0);
    check_writev(1, 1, NULL, 0);
    check_writev(1, 299, NULL, 0);
    check_writev(1, 0, NULL, 0);
}

Test(stream, writev_full_without_writev_falls_back_to_write)
{
    check_writev(0, 0, NULL, 0);
    check_writev(0, 4, NULL, 0);
}

Test(stream, writev_full_retries_eintr)
{
    static const mock_step w[] = {
        {M_EINTR, 0, 0}, {M_DATA, 6, 0}, {M_EINTR, 0, 0}, {M_EINTR, 0, 0}, {M_DATA, 1, 0}};
    check_writev(1, 0, w, sizeof w / sizeof w[0]);
    check_writev(0, 0, w, sizeof w / sizeof w[0]);
}

Test(stream, writev_full_eagain_without_poll_fd_is_would_block)
{
    static const mock_step w[] = {{M_DATA, 2, 0}, {M_EAGAIN, 0, 0}};
    mock m;
    mock_init(&m, 0);
    m.wscript = w;
    m.nw = 2;
    vsok_stream s = mock_stream(&m, 1);
    cr_assert_eq(vsok_stream_write_full(&s, src, 100), VSOK_E_AGAIN);
    cr_assert_eq(m.sinklen, 2);
}

Test(stream, write_full_error_is_io_with_errno_kept)
{
    static const mock_step w[] = {{M_DATA, 10, 0}, {M_ERR, 0, EPIPE}};
    mock m;
    mock_init(&m, 0);
    m.wscript = w;
    m.nw = 2;
    vsok_stream s = mock_stream(&m, 0);
    errno = 0;
    cr_assert_eq(vsok_stream_write_full(&s, src, 100), VSOK_E_IO);
    cr_assert_eq(errno, EPIPE);
    cr_assert_eq(m.sinklen, 10);
}

Test(stream, writev_full_null_stream_is_invalid)
{
    struct iovec iov = {src, 4};
    cr_assert_eq(vsok_stream_writev_full(NULL, &iov, 1), VSOK_E_INVAL);
}

/* ---- the fd stream ---- */

Test(stream, fd_stream_round_trip_over_a_pipe)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    vsok_stream w = vsok_stream_fd(p[1]);
    vsok_stream r = vsok_stream_fd(p[0]);
    cr_assert_eq(w.poll_fd, p[1]);
    cr_assert_eq(vsok_stream_write_full(&w, src, 1000), VSOK_OK);
    uint8_t buf[1000];
    cr_assert_eq(vsok_stream_read_full(&r, buf, sizeof buf, NULL), VSOK_OK);
    cr_assert_arr_eq(buf, src, 1000);
    close(p[1]);
    size_t got = 9;
    cr_assert_eq(vsok_stream_read_full(&r, buf, 1, &got), VSOK_E_EOF);
    cr_assert_eq(got, 0);
    close(p[0]);
}

Test(stream, fd_stream_reads_a_peer_writing_one_byte_at_a_time)
{
    int sv[2];
    tu_socketpair(sv);
    uint8_t data[3000];
    tu_fill(data, sizeof data, 9);
    tu_writer w = {.fd = sv[1], .buf = data, .len = sizeof data, .chunk = 1, .shut = 1};
    tu_writer_start(&w);
    vsok_stream s = vsok_stream_fd(sv[0]);
    uint8_t buf[3000];
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, NULL), VSOK_OK);
    tu_writer_join(&w);
    cr_assert_eq(w.err, 0);
    cr_assert_arr_eq(buf, data, sizeof data);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, fd_stream_writes_through_a_full_tiny_buffer)
{
    int sv[2];
    tu_tiny_pair(sv);
    size_t len = 500000;
    uint8_t *data = malloc(len);
    cr_assert_not_null(data);
    tu_fill(data, len, 10);
    tu_reader r = {.fd = sv[1]};
    tu_reader_start(&r);
    vsok_stream s = vsok_stream_fd(sv[0]);
    struct iovec iov[3] = {{data, 10}, {data + 10, 100000}, {data + 100010, len - 100010}};
    cr_assert_eq(vsok_stream_writev_full(&s, iov, 3), VSOK_OK);
    shutdown(sv[0], SHUT_WR);
    tu_reader_join(&r);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(r.len, len);
    cr_assert_eq(memcmp(r.buf, data, len), 0);
    free(r.buf);
    free(data);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, fd_stream_read_times_out_on_a_silent_nonblocking_peer)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    vsok_stream s = vsok_stream_fd(sv[0]);
    s.timeout_ms = 50;
    uint8_t buf[10];
    size_t got = 99;
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_E_TIMEOUT);
    cr_assert_eq(got, 0);
    cr_assert_eq(send(sv[1], "abc", 3, 0), 3);
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, &got), VSOK_E_TIMEOUT);
    cr_assert_eq(got, 3, "partial data then silence");
    cr_assert_arr_eq(buf, "abc", 3);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, fd_stream_eagain_without_poll_fd_is_would_block)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    vsok_stream s = vsok_stream_fd(sv[0]);
    s.poll_fd = -1;
    uint8_t buf[4];
    cr_assert_eq(vsok_stream_read_full(&s, buf, sizeof buf, NULL), VSOK_E_AGAIN);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, fd_stream_write_times_out_when_nobody_reads)
{
    int sv[2];
    tu_tiny_pair(sv);
    cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    vsok_stream s = vsok_stream_fd(sv[0]);
    s.timeout_ms = 50;
    size_t len = 1 << 20;
    uint8_t *data = calloc(1, len);
    cr_assert_not_null(data);
    cr_assert_eq(vsok_stream_write_full(&s, data, len), VSOK_E_TIMEOUT);
    free(data);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, fd_stream_write_to_closed_peer_is_epipe_not_sigpipe)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this test */
    int sv[2];
    tu_socketpair(sv);
    close(sv[1]);
    vsok_stream s = vsok_stream_fd(sv[0]);
    errno = 0;
    cr_assert_eq(vsok_stream_write_full(&s, src, 100), VSOK_E_IO);
    cr_assert_eq(errno, EPIPE);
    close(sv[0]);
}

/* Signals without SA_RESTART interrupt the blocked read over and over; the
 * data must still arrive intact. */
typedef struct {
    tu_storm *storm;
    tu_writer w;
} late_writer;

static void *late_writer_main(void *arg)
{
    late_writer *lw = arg;
    /* Start writing only after the reader has been interrupted a while; the
     * pause paces the check, correctness does not depend on it. */
    struct timespec pace = {0, 1000000};
    for (int i = 0; i < 5000 && atomic_load(&lw->storm->sent) < 30; i++)
        nanosleep(&pace, NULL);
    tu_writer_start(&lw->w);
    tu_writer_join(&lw->w);
    return NULL;
}

Test(stream, fd_stream_read_survives_signal_storm)
{
    tu_storm_install_handler();
    int sv[2];
    tu_socketpair(sv);
    uint8_t data[200];
    tu_fill(data, sizeof data, 11);
    tu_storm st;
    tu_storm_start(&st, pthread_self(), 100000);
    late_writer lw = {.storm = &st, .w = {.fd = sv[1], .buf = data, .len = sizeof data, .chunk = 1}};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, late_writer_main, &lw), 0);
    vsok_stream s = vsok_stream_fd(sv[0]);
    uint8_t buf[200];
    size_t got = 0;
    vsok_err r = vsok_stream_read_full(&s, buf, sizeof buf, &got);
    tu_storm_stop(&st);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(r, VSOK_OK, "%s after %zu bytes, errno %d", vsok_errname(r), got, errno);
    cr_assert_arr_eq(buf, data, sizeof data);
    cr_assert_gt(tu_storm_received(), 0);
    close(sv[0]);
    close(sv[1]);
}

/* ---- wait_fd and the clock ---- */

Test(stream, wait_fd_times_out_on_silent_socket)
{
    int sv[2];
    tu_socketpair(sv);
    int64_t deadline = vsok_now_ms() + 50;
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, deadline), VSOK_E_TIMEOUT);
    cr_assert_geq(vsok_now_ms(), deadline, "returned before the deadline");
    close(sv[0]);
    close(sv[1]);
}

/* The address code's connect and handshake waits rely on both of these
 * (they used a private copy of the wait that did them). */
Test(stream, wait_fd_on_a_ready_fd_is_ok_even_past_the_deadline)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, vsok_now_ms() - 1), VSOK_OK);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, wait_fd_timeout_sets_errno_etimedout)
{
    int sv[2];
    tu_socketpair(sv);
    errno = 0;
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, vsok_now_ms() + 5), VSOK_E_TIMEOUT);
    cr_assert_eq(errno, ETIMEDOUT);
    errno = 0;
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, vsok_now_ms() - 1), VSOK_E_TIMEOUT);
    cr_assert_eq(errno, ETIMEDOUT);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, wait_fd_past_deadline_is_timeout)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, vsok_now_ms() - 1), VSOK_E_TIMEOUT);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, wait_fd_returns_when_ready)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(vsok_wait_fd(sv[0], POLLOUT, -1), VSOK_OK);
    cr_assert_eq(send(sv[1], "x", 1, 0), 1);
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, vsok_now_ms() + 10000), VSOK_OK);
    cr_assert_eq(vsok_wait_fd(sv[0], POLLIN, -1), VSOK_OK);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, wait_fd_retries_eintr_until_the_deadline)
{
    tu_storm_install_handler();
    int sv[2];
    tu_socketpair(sv);
    tu_storm st;
    tu_storm_start(&st, pthread_self(), 50);
    int64_t deadline = vsok_now_ms() + 150;
    vsok_err r = vsok_wait_fd(sv[0], POLLIN, deadline);
    int64_t now = vsok_now_ms();
    tu_storm_stop(&st);
    cr_assert_eq(r, VSOK_E_TIMEOUT, "%s", vsok_errname(r));
    cr_assert_geq(now, deadline);
    cr_assert_gt(tu_storm_received(), 0);
    close(sv[0]);
    close(sv[1]);
}

Test(stream, now_ms_never_goes_backwards)
{
    int64_t prev = vsok_now_ms();
    cr_assert_gt(prev, 0);
    for (int i = 0; i < 10000; i++) {
        int64_t t = vsok_now_ms();
        cr_assert_geq(t, prev);
        prev = t;
    }
}

Test(stream, contract_violations_are_invalid)
{
    mock m;
    mock_init(&m, 10);
    vsok_stream s = mock_stream(&m, 1);
    size_t got = 9;
    cr_assert_eq(vsok_stream_read_full(&s, NULL, 4, &got), VSOK_E_INVAL);
    cr_assert_eq(got, 0);
    struct iovec iov = {src, 4};
    cr_assert_eq(vsok_stream_writev_full(&s, &iov, -1), VSOK_E_INVAL);
    cr_assert_eq(vsok_stream_writev_full(&s, NULL, 1), VSOK_E_INVAL);
    s.write = NULL;
    cr_assert_eq(vsok_stream_writev_full(&s, &iov, 1), VSOK_E_INVAL);
    s.read = NULL;
    cr_assert_eq(vsok_stream_read_full(&s, src, 4, &got), VSOK_E_INVAL);
    cr_assert_eq(m.read_calls + m.write_calls + m.writev_calls, 0);
}

Test(stream, bad_fd_is_io_with_ebadf)
{
    vsok_stream s = vsok_stream_fd(-1);
    uint8_t b[4];
    errno = 0;
    cr_assert_eq(vsok_stream_read_full(&s, b, 4, NULL), VSOK_E_IO);
    cr_assert_eq(errno, EBADF);
    errno = 0;
    cr_assert_eq(vsok_stream_write_full(&s, b, 4), VSOK_E_IO);
    cr_assert_eq(errno, EBADF);
}

Test(stream, writev_full_handles_hundreds_of_buffers_and_empty_ones)
{
    enum { N = 300 };
    static struct iovec iov[N], copy[N];
    static uint8_t store[N * 20];
    size_t off = 0;
    uint32_t rng = 12345;
    for (size_t i = 0; i < N; i++) {
        size_t l = i % 7 == 3 ? 0 : 1 + tu_rand(&rng) % 19;
        iov[i].iov_base = store + off;
        iov[i].iov_len = l;
        off += l;
    }
    tu_fill(store, off, 6);
    memcpy(copy, iov, sizeof iov);
    static const size_t limits[] = {0, 1, 13, 97, 1000};
    for (int with_writev = 0; with_writev < 2; with_writev++) {
        for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
            mock m;
            mock_init(&m, 0);
            m.max_write = limits[k];
            vsok_stream s = mock_stream(&m, with_writev);
            cr_assert_eq(vsok_stream_writev_full(&s, iov, N), VSOK_OK);
            cr_assert_eq(m.sinklen, off, "writev %d limit %zu", with_writev, limits[k]);
            cr_assert_eq(memcmp(sink, store, off), 0, "writev %d limit %zu", with_writev, limits[k]);
            cr_assert_arr_eq(iov, copy, sizeof iov);
        }
    }
}
