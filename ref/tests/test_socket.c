/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vsok/vsok.h>

#include "tutil.h"

TestSuite(socket, .timeout = 60);

/* A connected handle on sv[0] (the handle owns it) and the raw peer fd. */
static vsok_socket *open_pair(int *peer)
{
    int sv[2];
    tu_socketpair(sv);
    vsok_socket *s = NULL;
    cr_assert_eq(vsok_socket_open(&s, sv[0], NULL), VSOK_OK);
    cr_assert_not_null(s);
    *peer = sv[1];
    return s;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    cr_assert_geq(fl, 0);
    cr_assert_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Builds a stream of frames with the given payload sizes; payload i is
 * pattern seed i.  Returns the malloc'd stream; offs[i] = frame offsets. */
static uint8_t *build_stream(const size_t *sizes, size_t n, size_t *len, size_t *offs)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 8 + sizes[i];
    uint8_t *s = malloc(total ? total : 1);
    cr_assert_not_null(s);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (offs)
            offs[i] = at;
        tu_header(s + at, (uint32_t)sizes[i]);
        tu_fill(s + at + 8, sizes[i], (uint32_t)i + 1000);
        at += 8 + sizes[i];
    }
    *len = total;
    return s;
}

/* Receives n frames of s (built by build_stream) via recv or read_message. */
static void expect_frames(vsok_socket *h, const uint8_t *s, const size_t *sizes, const size_t *offs, size_t n,
                          int use_recv)
{
    for (size_t i = 0; i < n; i++) {
        if (use_recv) {
            vsok_msg m;
            vsok_err r = vsok_socket_recv(h, &m);
            cr_assert_eq(r, VSOK_OK, "message %zu: %s", i, vsok_errname(r));
            cr_assert_eq(m.len, sizes[i], "message %zu", i);
            cr_assert_eq(m.offset, offs[i], "message %zu offset", i);
            cr_assert_eq(memcmp(m.data, s + offs[i] + 8, m.len), 0, "message %zu payload", i);
        } else {
            uint8_t *msg = NULL;
            size_t len = 0;
            vsok_err r = vsok_socket_read_message(h, &msg, &len);
            cr_assert_eq(r, VSOK_OK, "message %zu: %s", i, vsok_errname(r));
            cr_assert_eq(len, sizes[i], "message %zu", i);
            cr_assert_eq(memcmp(msg, s + offs[i] + 8, len), 0, "message %zu payload", i);
            free(msg);
        }
    }
}

/* ---- opening ---- */

Test(socket, open_wraps_a_socketpair_and_round_trips)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    cr_assert_geq(vsok_socket_fd(s), 0);
    cr_assert_eq(vsok_socket_protocol(s), &vsok_protocol_vsok);
    vsok_socket *p = NULL;
    cr_assert_eq(vsok_socket_open(&p, peer, &vsok_protocol_vsok), VSOK_OK);
    cr_assert_eq(vsok_socket_write_message(s, "ping", 4), VSOK_OK);
    uint8_t *msg;
    size_t len;
    cr_assert_eq(vsok_socket_read_message(p, &msg, &len), VSOK_OK);
    cr_assert_eq(len, 4);
    cr_assert_arr_eq(msg, "ping", 4);
    free(msg);
    cr_assert_eq(vsok_socket_write_message(p, "pong!", 5), VSOK_OK);
    cr_assert_eq(vsok_socket_read_message(s, &msg, &len), VSOK_OK);
    cr_assert_arr_eq(msg, "pong!", 5);
    free(msg);
    vsok_socket_close(s);
    cr_assert_eq(vsok_socket_read_message(p, &msg, &len), VSOK_E_EOF);
    cr_assert_null(msg);
    vsok_socket_close(p);
    vsok_socket_close(NULL);
}

Test(socket, open_refuses_bad_arguments_and_still_takes_the_fd)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(vsok_socket_open(NULL, sv[0], NULL), VSOK_E_INVAL);
    errno = 0;
    cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "the fd must be closed even on failure");
    cr_assert_eq(errno, EBADF);
    close(sv[1]);
    vsok_socket *s = (vsok_socket *)&sv; /* garbage that must not survive */
    cr_assert_eq(vsok_socket_open(&s, -1, NULL), VSOK_E_INVAL);
}

Test(socket, null_arguments_are_invalid)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    uint8_t *msg;
    size_t len;
    vsok_msg m;
    cr_assert_eq(vsok_socket_read_message(NULL, &msg, &len), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_read_message(s, NULL, &len), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_read_message(s, &msg, NULL), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_recv(NULL, &m), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_recv(s, NULL), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_write_message(NULL, "x", 1), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_queue(NULL, "x", 1), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_flush(NULL), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_write_messages(NULL, NULL, 0), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_write_message(s, NULL, 3), VSOK_E_INVAL);
    cr_assert_eq(tu_pending(peer), 0);
    vsok_socket_close(s);
    close(peer);
}

/* ---- reading: splits, batching, signals ---- */

Test(socket, reads_a_peer_writing_one_byte_at_a_time)
{
    static const size_t sizes[] = {1, 5, 9000, 2, 8192, 3};
    size_t offs[6], len;
    uint8_t *st = build_stream(sizes, 6, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_writer w = {.fd = peer, .buf = st, .len = len, .chunk = 1, .shut = 1};
    tu_writer_start(&w);
    expect_frames(s, st, sizes, offs, 6, 1);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_EOF);
    cr_assert_eq(vsok_socket_error_offset(s), len);
    tu_writer_join(&w);
    cr_assert_eq(w.err, 0);
    vsok_socket_close(s);
    close(peer);
    free(st);
}

Test(socket, many_small_messages_in_one_write_all_arrive)
{
    /* A read-call counter is not part of the API, so batching itself (many
     * messages per read()) is measured by bench/, not asserted here. */
    enum { N = 1000 };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 1 + i % 40;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_writer w = {.fd = peer, .buf = st, .len = len, .chunk = 0, .shut = 1};
    tu_writer_start(&w);
    expect_frames(s, st, sizes, offs, N / 2, 1);
    expect_frames(s, st, sizes + N / 2, offs + N / 2, N / 2, 0);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_EOF);
    tu_writer_join(&w);
    vsok_socket_close(s);
    close(peer);
    free(st);
}

Test(socket, one_read_pulls_in_many_small_messages)
{
    /* The documented batching, seen from outside: after the first message
     * the whole burst (< 64 KiB) has left the kernel buffer, and the rest is
     * served without another byte arriving. */
    enum { N = 1000 };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 1 + i % 40;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    cr_assert_lt(len, 65536);
    int peer;
    vsok_socket *s = open_pair(&peer);
    vsok_socket_set_timeout(s, 10000); /* a read that would block shows up as Timeout */
    cr_assert_eq(send(peer, st, len, 0), (ssize_t)len);
    expect_frames(s, st, sizes, offs, 1, 1);
    cr_assert_eq(tu_pending(vsok_socket_fd(s)), 0, "first read took only part of the burst");
    expect_frames(s, st, sizes + 1, offs + 1, N - 1, 1);
    vsok_socket_close(s);
    close(peer);
    free(st);
}

Test(socket, mixed_sizes_survive_every_write_pattern)
{
    static const size_t sizes[] = {1, 8191, 8192, 8193, 65535, 65536, 65537, 100000, 3, VSOK_MAX_PAYLOAD,
                                   2, 9000, 9000, 1};
    enum { N = sizeof sizes / sizeof sizes[0] };
    static const size_t chunks[] = {0, 7, 4096, 8, 65536 * 3 + 5};
    size_t offs[N], len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (int use_recv = 0; use_recv < 2; use_recv++) {
            int peer;
            vsok_socket *s = open_pair(&peer);
            tu_writer w = {.fd = peer, .buf = st, .len = len, .chunk = chunks[c], .shut = 1};
            tu_writer_start(&w);
            expect_frames(s, st, sizes, offs, N, use_recv);
            uint8_t *msg;
            size_t ml;
            cr_assert_eq(vsok_socket_read_message(s, &msg, &ml), VSOK_E_EOF, "chunk %zu", chunks[c]);
            tu_writer_join(&w);
            vsok_socket_close(s);
            close(peer);
        }
    }
    free(st);
}

typedef struct {
    tu_storm *storm;
    tu_writer w;
    tu_reader r;
    int reading;
} late_peer;

/* The peer starts only once the handle has been interrupted a while; the
 * pause paces that check, correctness does not depend on it. */
static void wait_for_signals(tu_storm *st, int n)
{
    struct timespec pace = {0, 1000000};
    for (int i = 0; i < 5000 && atomic_load(&st->sent) < n; i++)
        nanosleep(&pace, NULL);
}

static void *late_peer_main(void *arg)
{
    late_peer *lp = arg;
    wait_for_signals(lp->storm, 30);
    if (lp->reading) {
        tu_reader_start(&lp->r);
        tu_reader_join(&lp->r);
    } else {
        tu_writer_start(&lp->w);
        tu_writer_join(&lp->w);
    }
    return NULL;
}

Test(socket, read_survives_signals_interrupting_blocked_calls)
{
    tu_storm_install_handler();
    static const size_t sizes[] = {3, 200000, 10};
    size_t offs[3], len;
    uint8_t *st = build_stream(sizes, 3, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_storm storm;
    tu_storm_start(&storm, pthread_self(), 100000);
    late_peer lp = {.storm = &storm, .w = {.fd = peer, .buf = st, .len = len, .chunk = 1001}};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, late_peer_main, &lp), 0);
    vsok_err errs[3];
    uint8_t *msgs[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++)
        errs[i] = vsok_socket_read_message(s, &msgs[i], &lens[i]);
    tu_storm_stop(&storm);
    cr_assert_eq(pthread_join(th, NULL), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(errs[i], VSOK_OK, "message %d: %s (errno %d)", i, vsok_errname(errs[i]), errno);
        cr_assert_eq(lens[i], sizes[i]);
        cr_assert_eq(memcmp(msgs[i], st + offs[i] + 8, lens[i]), 0);
        free(msgs[i]);
    }
    cr_assert_gt(tu_storm_received(), 0);
    vsok_socket_close(s);
    close(peer);
    free(st);
}

Test(socket, write_survives_signals_and_short_writes)
{
    tu_storm_install_handler();
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_tiny_buffers(vsok_socket_fd(s));
    tu_tiny_buffers(peer);
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 77, &flen);
    tu_storm storm;
    tu_storm_start(&storm, pthread_self(), 100000);
    late_peer lp = {.storm = &storm, .reading = 1, .r = {.fd = peer, .limit = flen}};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, late_peer_main, &lp), 0);
    vsok_err r = vsok_socket_write_message(s, f + 8, VSOK_MAX_PAYLOAD);
    tu_storm_stop(&storm);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(r, VSOK_OK, "%s (errno %d)", vsok_errname(r), errno);
    cr_assert_eq(lp.r.err, 0);
    cr_assert_eq(lp.r.len, flen);
    cr_assert_eq(memcmp(lp.r.buf, f, flen), 0);
    cr_assert_gt(tu_storm_received(), 0);
    free(lp.r.buf);
    free(f);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, large_message_through_tiny_buffers_both_ways)
{
    int sv[2];
    tu_tiny_pair(sv);
    vsok_socket *a, *b;
    cr_assert_eq(vsok_socket_open(&a, sv[0], NULL), VSOK_OK);
    cr_assert_eq(vsok_socket_open(&b, sv[1], NULL), VSOK_OK);
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 31, &flen);
    /* raw peer reader first, to see the exact bytes */
    tu_reader r = {.fd = sv[1], .limit = flen};
    tu_reader_start(&r);
    cr_assert_eq(vsok_socket_write_message(a, f + 8, VSOK_MAX_PAYLOAD), VSOK_OK);
    tu_reader_join(&r);
    cr_assert_eq(r.len, flen);
    cr_assert_eq(memcmp(r.buf, f, flen), 0);
    free(r.buf);
    /* then a raw writer into the handle's reader */
    tu_writer w = {.fd = sv[0], .buf = f, .len = flen, .chunk = 0};
    tu_writer_start(&w);
    uint8_t *msg;
    size_t len;
    cr_assert_eq(vsok_socket_read_message(b, &msg, &len), VSOK_OK);
    tu_writer_join(&w);
    cr_assert_eq(len, VSOK_MAX_PAYLOAD);
    cr_assert_eq(memcmp(msg, f + 8, len), 0);
    free(msg);
    free(f);
    vsok_socket_close(a);
    vsok_socket_close(b);
}

/* ---- end of stream at every offset ---- */

static void eof_after(const uint8_t *st, size_t k, size_t frame_len, int use_recv)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_writer w = {.fd = peer, .buf = st, .len = k, .chunk = 0, .shut = 1};
    tu_writer_start(&w);
    size_t whole = k / frame_len;
    vsok_err r = VSOK_OK;
    for (size_t i = 0; i <= whole && r == VSOK_OK; i++) {
        if (use_recv) {
            vsok_msg m;
            r = vsok_socket_recv(s, &m);
        } else {
            uint8_t *msg;
            size_t len;
            r = vsok_socket_read_message(s, &msg, &len);
            if (r == VSOK_OK)
                free(msg);
            else
                cr_assert_null(msg);
        }
        if (i < whole)
            cr_assert_eq(r, VSOK_OK, "k %zu message %zu: %s", k, i, vsok_errname(r));
    }
    vsok_err want = k % frame_len == 0 ? VSOK_E_EOF : VSOK_E_TRUNCATED;
    cr_assert_eq(r, want, "eof after %zu bytes: %s, want %s", k, vsok_errname(r), vsok_errname(want));
    cr_assert_eq(vsok_socket_error_offset(s), k, "eof after %zu bytes: offset %llu", k,
                 (unsigned long long)vsok_socket_error_offset(s));
    uint8_t *again = NULL;
    size_t alen;
    cr_assert_eq(vsok_socket_read_message(s, &again, &alen), want, "end of stream is sticky");
    cr_assert_null(again);
    tu_writer_join(&w);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, eof_at_every_offset_of_two_frames)
{
    static const size_t sizes[] = {16, 16};
    size_t len;
    uint8_t *st = build_stream(sizes, 2, &len, NULL);
    for (size_t k = 0; k <= len; k++) {
        eof_after(st, k, 24, 0);
        eof_after(st, k, 24, 1);
    }
    free(st);
}

Test(socket, eof_inside_a_large_payload_is_truncated_at_bytes_sent)
{
    static const size_t sizes[] = {200000};
    size_t len;
    uint8_t *st = build_stream(sizes, 1, &len, NULL);
    static const size_t ks[] = {0, 1, 3, 4, 7, 8, 9, 100, 8 + 8192, 8 + 65536, 8 + 100000, 200007};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        eof_after(st, ks[i], len, 0);
        eof_after(st, ks[i], len, 1);
    }
    free(st);
}

/* ---- limits and protocol errors ---- */

Test(socket, exactly_1mib_accepted_one_more_rejected_at_offset_4)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 2, &flen);
    tu_writer w = {.fd = peer, .buf = f, .len = flen};
    tu_writer_start(&w);
    uint8_t *msg;
    size_t len;
    cr_assert_eq(vsok_socket_read_message(s, &msg, &len), VSOK_OK);
    tu_writer_join(&w);
    cr_assert_eq(len, VSOK_MAX_PAYLOAD);
    cr_assert_eq(memcmp(msg, f + 8, len), 0);
    free(msg);
    uint8_t h[8];
    tu_header(h, VSOK_MAX_PAYLOAD + 1);
    cr_assert_eq(send(peer, h, 8, 0), 8);
    cr_assert_eq(vsok_socket_read_message(s, &msg, &len), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_socket_error_offset(s), flen + 4);
    cr_assert_eq(vsok_socket_read_message(s, &msg, &len), VSOK_E_TOO_LARGE, "sticky");
    free(f);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, zero_length_rejected_at_offset_4)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    cr_assert_eq(send(peer, "VSOK\0\0\0\0", 8, 0), 8);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_LENGTH);
    cr_assert_eq(vsok_socket_error_offset(s), 4);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, configured_max_payload_applies)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    cr_assert_eq(vsok_socket_set_max_payload(s, 0), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_set_max_payload(s, VSOK_MAX_PAYLOAD + 1), VSOK_E_INVAL);
    cr_assert_eq(vsok_socket_set_max_payload(s, 100), VSOK_OK);
    static const size_t sizes[] = {100, 101};
    size_t len, offs[2];
    uint8_t *st = build_stream(sizes, 2, &len, offs);
    cr_assert_eq(send(peer, st, len, 0), (ssize_t)len);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_OK);
    cr_assert_eq(m.len, 100);
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_socket_error_offset(s), offs[1] + 4);
    free(st);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, wrong_magic_is_rejected_at_its_byte_without_waiting)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    vsok_socket_set_timeout(s, 10000); /* a hang shows up as Timeout */
    uint8_t f[16];
    size_t l = tu_frame(f, "hello", 5);
    cr_assert_eq(send(peer, f, l, 0), (ssize_t)l);
    cr_assert_eq(send(peer, "VSG", 3, 0), 3); /* peer stays open and silent */
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_OK);
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_MAGIC);
    cr_assert_eq(vsok_socket_error_offset(s), 13 + 2);
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_MAGIC, "sticky");
    vsok_socket_close(s);
    close(peer);
}

/* ---- timeouts ---- */

Test(socket, read_times_out_on_a_silent_peer)
{
    for (int partial = 0; partial < 2; partial++) {
        int peer;
        vsok_socket *s = open_pair(&peer);
        set_nonblock(vsok_socket_fd(s));
        vsok_socket_set_timeout(s, 50);
        if (partial)
            cr_assert_eq(send(peer, "VSOK\0\0\0\5he", 10, 0), 10);
        int64_t t0 = vsok_now_ms();
        uint8_t *msg;
        size_t len;
        cr_assert_eq(vsok_socket_read_message(s, &msg, &len), VSOK_E_TIMEOUT, "partial %d", partial);
        cr_assert_geq(vsok_now_ms() - t0, 50);
        cr_assert_null(msg);
        vsok_socket_close(s);
        close(peer);
    }
}

Test(socket, timeout_also_applies_to_blocking_fds)
{
    /* vsok_socket_connect and vsok_socket_accept hand the handle blocking
     * fds; their deadline must still hold. */
    for (int partial = 0; partial < 2; partial++) {
        int peer;
        vsok_socket *s = open_pair(&peer);
        vsok_socket_set_timeout(s, 50);
        if (partial)
            cr_assert_eq(send(peer, "VSOK\0\0", 6, 0), 6);
        vsok_msg m;
        cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_TIMEOUT, "partial %d", partial);
        vsok_socket_close(s);
        close(peer);
    }
}

Test(socket, read_resumes_after_a_timeout)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    vsok_socket_set_timeout(s, 50);
    cr_assert_eq(send(peer,
                      "VSOK\0\0\0\x0a"
                      "01234",
                      13, 0),
                 13);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_TIMEOUT);
    cr_assert_eq(send(peer, "56789", 5, 0), 5);
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_OK, "the partial frame is kept across a timeout");
    cr_assert_eq(m.len, 10);
    cr_assert_arr_eq(m.data, "0123456789", 10);
    cr_assert_eq(m.offset, 0);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, write_times_out_when_the_peer_never_reads)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_tiny_buffers(vsok_socket_fd(s));
    tu_tiny_buffers(peer);
    set_nonblock(vsok_socket_fd(s));
    vsok_socket_set_timeout(s, 50);
    uint8_t *p = calloc(1, VSOK_MAX_PAYLOAD);
    cr_assert_not_null(p);
    cr_assert_eq(vsok_socket_write_message(s, p, VSOK_MAX_PAYLOAD), VSOK_E_TIMEOUT);
    free(p);
    vsok_socket_close(s);
    close(peer);
}

/* ---- writing ---- */

Test(socket, write_message_refuses_bad_lengths_before_writing)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    static uint8_t big[VSOK_MAX_PAYLOAD + 1];
    cr_assert_eq(vsok_socket_write_message(s, big, 0), VSOK_E_LENGTH);
    cr_assert_eq(vsok_socket_write_message(s, big, sizeof big), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_socket_queue(s, big, 0), VSOK_E_LENGTH);
    cr_assert_eq(vsok_socket_queue(s, big, sizeof big), VSOK_E_TOO_LARGE);
    cr_assert_eq(vsok_socket_flush(s), VSOK_OK);
    cr_assert_eq(tu_pending(peer), 0);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, write_to_closed_peer_is_epipe_and_the_process_survives)
{
    cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    int peer;
    vsok_socket *s = open_pair(&peer);
    close(peer);
    errno = 0;
    cr_assert_eq(vsok_socket_write_message(s, "x", 1), VSOK_E_IO);
    cr_assert_eq(errno, EPIPE);
    cr_assert_eq(vsok_socket_queue(s, "y", 1), VSOK_OK);
    errno = 0;
    cr_assert_eq(vsok_socket_flush(s), VSOK_E_IO);
    cr_assert_eq(errno, EPIPE);
    vsok_socket_close(s);
}

/* Reads everything the peer sends until EOF with a second handle. */
typedef struct {
    int fd;
    size_t n;
    uint8_t **msgs;
    size_t *lens;
    size_t cap;
    vsok_err end;
    pthread_t th;
} collector;

static void *collect_main(void *arg)
{
    collector *c = arg;
    vsok_socket *s;
    if (vsok_socket_open(&s, c->fd, NULL) != VSOK_OK) {
        c->end = VSOK_E_NOMEM;
        return NULL;
    }
    for (;;) {
        uint8_t *m;
        size_t l;
        vsok_err r = vsok_socket_read_message(s, &m, &l);
        if (r != VSOK_OK || c->n == c->cap) {
            free(r == VSOK_OK ? m : NULL);
            c->end = r == VSOK_OK ? VSOK_E_INVAL : r;
            break;
        }
        c->msgs[c->n] = m;
        c->lens[c->n++] = l;
    }
    vsok_socket_close(s);
    return NULL;
}

static void collector_start(collector *c, int fd, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->cap = cap;
    c->msgs = calloc(cap, sizeof *c->msgs);
    c->lens = calloc(cap, sizeof *c->lens);
    cr_assert(c->msgs && c->lens);
    cr_assert_eq(pthread_create(&c->th, NULL, collect_main, c), 0);
}

static void collector_finish(collector *c, const uint8_t *st, const size_t *sizes, const size_t *offs,
                             size_t n)
{
    cr_assert_eq(pthread_join(c->th, NULL), 0);
    cr_assert_eq(c->end, VSOK_E_EOF, "collector ended with %s", vsok_errname(c->end));
    cr_assert_eq(c->n, n, "%zu messages, want %zu", c->n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(c->lens[i], sizes[i], "message %zu", i);
        cr_assert_eq(memcmp(c->msgs[i], st + offs[i] + 8, sizes[i]), 0, "message %zu", i);
        free(c->msgs[i]);
    }
    free(c->msgs);
    free(c->lens);
}

/* build_stream's frames and an iovec per payload in it (iov[i] points
 * into the returned stream). */
static uint8_t *stream_iov(const size_t *sizes, size_t n, size_t *offs, struct iovec *iov)
{
    size_t len;
    uint8_t *st = build_stream(sizes, n, &len, offs);
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){st + offs[i] + 8, sizes[i]};
    return st;
}

Test(socket, queue_holds_messages_until_flush)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    enum { N = 100 };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 1 + i;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(vsok_socket_queue(s, st + offs[i] + 8, sizes[i]), VSOK_OK);
    cr_assert_eq(tu_pending(peer), 0, "queued messages went out before flush");
    cr_assert_eq(vsok_socket_flush(s), VSOK_OK);
    cr_assert_eq(tu_pending(peer), len);
    uint8_t *raw = malloc(len);
    cr_assert_not_null(raw);
    cr_assert_eq(recv(peer, raw, len, MSG_WAITALL), (ssize_t)len);
    cr_assert_eq(memcmp(raw, st, len), 0);
    cr_assert_eq(vsok_socket_flush(s), VSOK_OK, "empty flush");
    free(raw);
    free(st);
    vsok_socket_close(s);
    close(peer);
}

/* Queues the n messages of st (payloads at offs[i] + 8), ends the stream,
 * and checks that the peer read exactly st, message by message. */
static void queue_all_and_collect(vsok_socket *s, int peer, const uint8_t *st, const size_t *sizes,
                                  const size_t *offs, size_t n)
{
    collector c;
    collector_start(&c, peer, n + 1);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(vsok_socket_queue(s, st + offs[i] + 8, sizes[i]), VSOK_OK, "message %zu", i);
    cr_assert_eq(vsok_socket_shutdown_write(s), VSOK_OK);
    collector_finish(&c, st, sizes, offs, n);
}

Test(socket, queue_keeps_order_around_large_messages_and_flushes_when_full)
{
    enum { N = 20000 };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = i % 997 == 5 ? 70000 + i : 1 + i % 150;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    queue_all_and_collect(s, peer, st, sizes, offs, N);
    free(st);
    vsok_socket_close(s);
}

Test(socket, queue_flushes_by_itself_when_full)
{
    enum { N = 30000 }; /* about 2.5 MB of small messages, no large one */
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 1 + (i * 7) % 150;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    queue_all_and_collect(s, peer, st, sizes, offs, N);
    free(st);
    vsok_socket_close(s);
}

Test(socket, queue_fills_its_256_kib_to_the_last_byte_before_it_flushes)
{
    /* 2048 frames of 120 + 8 bytes are exactly the queue's 256 KiB: all of
     * them stay queued (the last few past the fast path's room check, which
     * leaves room for any small frame, go in by the exact check), and the
     * next message flushes them and is queued itself. */
    enum { N = 2048 + 2 };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 120;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    /* Nothing reads yet: a flush too early would block on the full socket
     * buffer; the deadline turns that into a failed queue call. */
    vsok_socket_set_timeout(s, 5000);
    for (size_t i = 0; i < 2048; i++)
        cr_assert_eq(vsok_socket_queue(s, st + offs[i] + 8, sizes[i]), VSOK_OK,
                     "message %zu: a queue with room left flushed by itself", i);
    cr_assert_eq(tu_pending(peer), 0, "a queue with room left flushed by itself");
    collector c;
    collector_start(&c, peer, N + 1);
    for (size_t i = 2048; i < N; i++)
        cr_assert_eq(vsok_socket_queue(s, st + offs[i] + 8, sizes[i]), VSOK_OK, "message %zu", i);
    cr_assert_eq(vsok_socket_shutdown_write(s), VSOK_OK);
    collector_finish(&c, st, sizes, offs, N);
    free(st);
    vsok_socket_close(s);
}

Test(socket, queue_copies_every_small_length_byte_exact)
{
    /* Every length through each copy the queue uses (1-3, 4-7, 8-15,
     * 16-31, 32-64, 65-128 bytes inline, larger by memcpy), each payload a
     * different pattern, twice over so that lengths also follow each other
     * in descending order.  Each payload sits in a block of exactly its
     * size (ASan sees any read past it) that is scribbled over and freed as
     * soon as queue returns: the caller may reuse it then. */
    enum { MAXLEN = 300, N = 2 * MAXLEN };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = i < MAXLEN ? 1 + i : N - i;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    for (size_t i = 0; i < N; i++) {
        uint8_t *p = malloc(sizes[i]);
        cr_assert_not_null(p);
        memcpy(p, st + offs[i] + 8, sizes[i]);
        cr_assert_eq(vsok_socket_queue(s, p, sizes[i]), VSOK_OK, "message %zu", i);
        memset(p, 0xA5, sizes[i]);
        free(p);
    }
    cr_assert_eq(tu_pending(peer), 0, "queued messages went out before flush");
    cr_assert_eq(vsok_socket_flush(s), VSOK_OK);
    cr_assert_eq(tu_pending(peer), len);
    uint8_t *raw = malloc(len);
    cr_assert_not_null(raw);
    cr_assert_eq(recv(peer, raw, len, MSG_WAITALL), (ssize_t)len);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(memcmp(raw + offs[i], st + offs[i], 8 + sizes[i]), 0, "message %zu (%zu bytes)", i,
                     sizes[i]);
    free(raw);
    free(st);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, queue_survives_partial_writes_and_eagain_on_tiny_buffers)
{
    /* A queue of 256 KiB meets a send buffer of a few KiB on a non-blocking
     * fd: every flush (the ones queue does by itself when full, and the
     * last) is many short writes and EAGAINs, waited out with poll. */
    enum { N = 12000 }; /* about 900 KB of small messages */
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 1 + (i * 13) % 140;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_tiny_buffers(vsok_socket_fd(s));
    tu_tiny_buffers(peer);
    vsok_socket_set_timeout(s, 30000); /* bounds each flush; makes the fd non-blocking */
    cr_assert(fcntl(vsok_socket_fd(s), F_GETFL) & O_NONBLOCK);
    queue_all_and_collect(s, peer, st, sizes, offs, N);
    free(st);
    vsok_socket_close(s);
}

Test(socket, failed_flush_drops_the_queue_after_sending_a_prefix)
{
    /* The peer never reads: the flush sends what the buffers take, times
     * out, and drops the rest (resending could repeat bytes already out). */
    enum { N = 200 };
    static size_t sizes[N], offs[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = 100;
    size_t len;
    uint8_t *st = build_stream(sizes, N, &len, offs);
    int peer;
    vsok_socket *s = open_pair(&peer);
    tu_tiny_buffers(vsok_socket_fd(s));
    tu_tiny_buffers(peer);
    vsok_socket_set_timeout(s, 50);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(vsok_socket_queue(s, st + offs[i] + 8, sizes[i]), VSOK_OK, "message %zu", i);
    cr_assert_eq(vsok_socket_flush(s), VSOK_E_TIMEOUT);
    size_t sent = tu_pending(peer);
    cr_assert_gt(sent, 0, "nothing went out");
    cr_assert_lt(sent, len, "the tiny buffers took all %zu bytes", len);
    cr_assert_eq(vsok_socket_flush(s), VSOK_OK, "the queue was dropped");
    cr_assert_eq(tu_pending(peer), sent, "a dropped queue sends nothing more");
    uint8_t *raw = malloc(sent);
    cr_assert_not_null(raw);
    cr_assert_eq(recv(peer, raw, sent, MSG_WAITALL), (ssize_t)sent);
    cr_assert_eq(memcmp(raw, st, sent), 0, "what went out is the start of the stream");
    free(raw);
    free(st);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, write_messages_sends_all_in_order)
{
    /* The first message is queued before the batch: it goes first. */
    enum { N = 301 };
    static size_t sizes[N], offs[N];
    static struct iovec iov[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = i % 50 == 7 ? 65536 + i : 1 + (i * 37) % 500;
    uint8_t *st = stream_iov(sizes, N, offs, iov);
    int peer;
    vsok_socket *s = open_pair(&peer);
    collector c;
    collector_start(&c, peer, N);
    cr_assert_eq(vsok_socket_queue(s, iov[0].iov_base, iov[0].iov_len), VSOK_OK);
    cr_assert_eq(vsok_socket_write_messages(s, iov + 1, N - 1), VSOK_OK);
    cr_assert_eq(vsok_socket_write_messages(s, iov, 0), VSOK_OK);
    cr_assert_eq(vsok_socket_shutdown_write(s), VSOK_OK);
    collector_finish(&c, st, sizes, offs, N);
    free(st);
    vsok_socket_close(s);
}

Test(socket, write_messages_sends_the_messages_before_an_invalid_one_and_none_after)
{
    /* As one vsok_socket_write_message per element would: what comes
     * before the bad element goes out, the bad one and the rest do not. */
    static uint8_t big[VSOK_MAX_PAYLOAD + 1];
    struct {
        struct iovec bad;
        vsok_err err;
    } cases[] = {
        {{(void *)"", 0}, VSOK_E_LENGTH}, {{NULL, 5}, VSOK_E_INVAL}, {{big, sizeof big}, VSOK_E_TOO_LARGE}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int peer;
        vsok_socket *s = open_pair(&peer);
        cr_assert_eq(vsok_socket_queue(s, "q", 1), VSOK_OK);
        struct iovec iov[4] = {{(void *)"abc", 3}, {big, 200}, cases[k].bad, {(void *)"def", 3}};
        cr_assert_eq(vsok_socket_write_messages(s, iov, 4), cases[k].err, "case %zu", k);
        uint8_t want[3 * 8 + 1 + 3 + 200], got[sizeof want + 1];
        tu_header(want, 1);
        want[8] = 'q';
        tu_header(want + 9, 3);
        memcpy(want + 17, "abc", 3);
        tu_header(want + 20, 200);
        memcpy(want + 28, big, 200);
        cr_assert_eq(tu_pending(peer), sizeof want, "case %zu", k);
        cr_assert_eq(recv(peer, got, sizeof got, MSG_DONTWAIT), (ssize_t)sizeof want);
        cr_assert_eq(memcmp(got, want, sizeof want), 0, "case %zu", k);
        vsok_socket_close(s);
        close(peer);
    }
}

Test(socket, write_messages_fills_and_flushes_the_queue_around_large_messages)
{
    /* Far more than a queue of small messages (past the inline copy's 128
     * bytes too) and large ones among them, behind messages queued
     * before, in calls of 1, 7, 1000 and the rest: all in order. */
    enum { N = 20000 };
    static size_t sizes[N], offs[N];
    static struct iovec iov[N];
    for (size_t i = 0; i < N; i++)
        sizes[i] = i % 997 == 5 ? 70000 + i : 1 + (i * 7) % 300;
    uint8_t *st = stream_iov(sizes, N, offs, iov);
    int peer;
    vsok_socket *s = open_pair(&peer);
    collector c;
    collector_start(&c, peer, N + 1);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(vsok_socket_queue(s, iov[i].iov_base, iov[i].iov_len), VSOK_OK);
    static const size_t calls[] = {1, 7, 1000, N - 3 - 1 - 7 - 1000};
    for (size_t k = 0, at = 3; k < sizeof(calls) / sizeof(calls[0]); at += calls[k++])
        cr_assert_eq(vsok_socket_write_messages(s, iov + at, calls[k]), VSOK_OK, "call %zu", k);
    cr_assert_eq(vsok_socket_shutdown_write(s), VSOK_OK);
    collector_finish(&c, st, sizes, offs, N);
    free(st);
    vsok_socket_close(s);
}

Test(socket, recv_hands_out_messages_with_stream_offsets)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    uint8_t st[64];
    size_t l = tu_frame(st, "hello", 5);
    l += tu_frame(st + l, "w", 1);
    l += tu_frame(st + l, "xyz", 3);
    cr_assert_eq(send(peer, st, l, 0), (ssize_t)l);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_OK);
    cr_assert_eq(m.offset, 0);
    cr_assert_arr_eq(m.data, "hello", 5);
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_OK);
    cr_assert_eq(m.offset, 13);
    cr_assert_eq(m.len, 1);
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_OK);
    cr_assert_eq(m.offset, 22);
    cr_assert_arr_eq(m.data, "xyz", 3);
    vsok_socket_close(s);
    close(peer);
}

Test(socket, shutdown_write_half_closes_after_all_messages)
{
    int peer;
    vsok_socket *s = open_pair(&peer);
    for (int i = 0; i < 10; i++) {
        char b[16];
        int n = snprintf(b, sizeof b, "msg %d", i);
        cr_assert_eq(vsok_socket_queue(s, b, (size_t)n), VSOK_OK);
    }
    cr_assert_eq(vsok_socket_shutdown_write(s), VSOK_OK);
    vsok_socket *p;
    cr_assert_eq(vsok_socket_open(&p, peer, NULL), VSOK_OK);
    for (int i = 0; i < 10; i++) {
        uint8_t *msg;
        size_t len;
        char b[16];
        int n = snprintf(b, sizeof b, "msg %d", i);
        cr_assert_eq(vsok_socket_read_message(p, &msg, &len), VSOK_OK);
        cr_assert_eq(len, (size_t)n);
        cr_assert_arr_eq(msg, b, len);
        free(msg);
    }
    uint8_t *msg;
    size_t len;
    cr_assert_eq(vsok_socket_read_message(p, &msg, &len), VSOK_E_EOF);
    /* the other direction still works */
    cr_assert_eq(vsok_socket_write_message(p, "reply", 5), VSOK_OK);
    cr_assert_eq(vsok_socket_read_message(s, &msg, &len), VSOK_OK);
    cr_assert_arr_eq(msg, "reply", 5);
    free(msg);
    vsok_socket_close(p);
    vsok_socket_close(s);
}

/* ---- a custom protocol through the handle ---- */

Test(socket, custom_protocol_keeps_its_own_errors)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    int sv[2];
    tu_socketpair(sv);
    vsok_socket *s, *p;
    cr_assert_eq(vsok_socket_open(&s, sv[0], &lp.proto), VSOK_OK);
    cr_assert_eq(vsok_socket_open(&p, sv[1], &lp.proto), VSOK_OK);
    cr_assert_eq(vsok_socket_protocol(s), &lp.proto);

    static uint8_t big[1025];
    tu_fill(big, sizeof big, 1);
    cr_assert_eq(vsok_socket_write_message(s, big, 1024), VSOK_OK);
    uint8_t *msg;
    size_t len;
    cr_assert_eq(vsok_socket_read_message(p, &msg, &len), VSOK_OK);
    cr_assert_eq(len, 1024);
    cr_assert_eq(memcmp(msg, big, 1024), 0);
    free(msg);

    cr_assert_eq(vsok_socket_write_message(s, big, 1025), VSOK_E_PROTOCOL);
    cr_assert_eq(vsok_socket_proto_error(s), VSOK_LP_E_OVERSIZE);
    cr_assert_str_eq(lp.proto.strerror(&lp.proto, vsok_socket_proto_error(s)), "Oversize");

    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(p, &m), VSOK_E_INVAL, "zero-copy recv is VSOK only");

    /* raw oversize prefix from the peer */
    cr_assert_eq(send(vsok_socket_fd(s), "\0\0\4\1", 4, 0), 4);
    cr_assert_eq(vsok_socket_read_message(p, &msg, &len), VSOK_E_PROTOCOL);
    cr_assert_eq(vsok_socket_proto_error(p), VSOK_LP_E_OVERSIZE);
    cr_assert_null(msg);
    vsok_socket_close(s);
    vsok_socket_close(p);
}

Test(socket, custom_protocol_clean_close_is_eof_and_short_is_protocol_error)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    for (int shortmsg = 0; shortmsg < 2; shortmsg++) {
        int sv[2];
        tu_socketpair(sv);
        vsok_socket *s;
        cr_assert_eq(vsok_socket_open(&s, sv[0], &lp.proto), VSOK_OK);
        if (shortmsg)
            cr_assert_eq(send(sv[1], "\0\0\0\5ab", 6, 0), 6);
        close(sv[1]);
        uint8_t *msg;
        size_t len;
        vsok_err r = vsok_socket_read_message(s, &msg, &len);
        if (shortmsg) {
            cr_assert_eq(r, VSOK_E_PROTOCOL, "%s", vsok_errname(r));
            cr_assert_eq(vsok_socket_proto_error(s), VSOK_LP_E_SHORT);
        } else {
            cr_assert_eq(r, VSOK_E_EOF, "%s", vsok_errname(r));
        }
        vsok_socket_close(s);
    }
}

/* ---- listening, connecting, accepting (Unix sockets only) ---- */

typedef struct {
    char dir[64];
    char path[128];
    char addr[160];
} tmpsock;

static void tmpsock_make(tmpsock *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/vsok-test.XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/sock", t->dir);
    snprintf(t->addr, sizeof t->addr, "unix:%s", t->path);
}

static void tmpsock_remove(tmpsock *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

Test(socket, accept_and_connect_over_a_unix_socket)
{
    tmpsock t;
    tmpsock_make(&t);
    int lfd = -1;
    char err[256] = "";
    cr_assert_eq(vsok_listen(t.addr, 4, &lfd, err, sizeof err), VSOK_OK, "%s", err);
    vsok_socket *c = NULL, *a = NULL;
    /* a Unix connect completes in the backlog, before accept */
    cr_assert_eq(vsok_socket_connect(&c, t.addr, 5000, err, sizeof err), VSOK_OK, "%s", err);
    vsok_addr peer;
    memset(&peer, 0xAB, sizeof peer);
    cr_assert_eq(vsok_socket_accept(&a, lfd, 5000, NULL, &peer), VSOK_OK);
    cr_assert_eq(vsok_socket_protocol(a), &vsok_protocol_vsok);
    cr_assert_eq(vsok_socket_write_message(c, "hi server", 9), VSOK_OK);
    uint8_t *msg;
    size_t len;
    cr_assert_eq(vsok_socket_read_message(a, &msg, &len), VSOK_OK);
    cr_assert_arr_eq(msg, "hi server", 9);
    free(msg);
    cr_assert_eq(vsok_socket_write_message(a, "hi client", 9), VSOK_OK);
    cr_assert_eq(vsok_socket_read_message(c, &msg, &len), VSOK_OK);
    cr_assert_arr_eq(msg, "hi client", 9);
    free(msg);
    vsok_socket_close(c);
    cr_assert_eq(vsok_socket_read_message(a, &msg, &len), VSOK_E_EOF);
    vsok_socket_close(a);

    /* a second client, accepted with a custom protocol and no peer out */
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 64);
    cr_assert_eq(vsok_socket_connect(&c, t.addr, 5000, err, sizeof err), VSOK_OK, "%s", err);
    cr_assert_eq(vsok_socket_accept(&a, lfd, 5000, &lp.proto, NULL), VSOK_OK);
    cr_assert_eq(vsok_socket_protocol(a), &lp.proto);
    vsok_socket_close(c);
    vsok_socket_close(a);
    close(lfd);
    tmpsock_remove(&t);
}

Test(socket, accept_times_out_without_a_client)
{
    tmpsock t;
    tmpsock_make(&t);
    int lfd = -1;
    char err[256] = "";
    cr_assert_eq(vsok_listen(t.addr, 4, &lfd, err, sizeof err), VSOK_OK, "%s", err);
    vsok_socket *a = (vsok_socket *)&t;
    int64_t t0 = vsok_now_ms();
    cr_assert_eq(vsok_socket_accept(&a, lfd, 50, NULL, NULL), VSOK_E_TIMEOUT);
    cr_assert_geq(vsok_now_ms() - t0, 50);
    cr_assert_null(a);
    cr_assert_eq(vsok_socket_accept(NULL, lfd, 50, NULL, NULL), VSOK_E_INVAL);
    close(lfd);
    tmpsock_remove(&t);
}

Test(socket, connect_reports_address_and_io_errors)
{
    vsok_socket *c = (vsok_socket *)&c;
    char err[256] = "";
    cr_assert_eq(vsok_socket_connect(&c, "nonsense:1", 1000, err, sizeof err), VSOK_E_ADDRESS);
    cr_assert_gt(strlen(err), 0, "a sentence says what is wrong");
    cr_assert_null(c);
    tmpsock t;
    tmpsock_make(&t);
    errno = 0;
    cr_assert_eq(vsok_socket_connect(&c, t.addr, 1000, err, sizeof err), VSOK_E_IO);
    cr_assert_eq(errno, ENOENT, "errno %d", errno);
    cr_assert_null(c);
    tmpsock_remove(&t);
}

Test(socket, accept_on_a_non_listening_fd_is_io)
{
    int sv[2];
    tu_socketpair(sv);
    vsok_socket *a;
    errno = 0;
    cr_assert_eq(vsok_socket_accept(&a, sv[0], 50, NULL, NULL), VSOK_E_IO);
    cr_assert_eq(errno, EINVAL, "errno %d", errno);
    cr_assert_eq(vsok_socket_accept(&a, -1, 50, NULL, NULL), VSOK_E_INVAL);
    close(sv[0]);
    close(sv[1]);
}

Test(socket, custom_protocol_transport_failure_keeps_errno)
{
    cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    int sv[2];
    tu_socketpair(sv);
    vsok_socket *s;
    cr_assert_eq(vsok_socket_open(&s, sv[0], &lp.proto), VSOK_OK);
    cr_assert_eq(vsok_socket_set_max_payload(s, 10), VSOK_E_INVAL, "the custom protocol has its own max");
    close(sv[1]);
    errno = 0;
    cr_assert_eq(vsok_socket_write_message(s, "abc", 3), VSOK_E_PROTOCOL);
    cr_assert_eq(vsok_socket_proto_error(s), VSOK_LP_E_TRANSPORT);
    cr_assert_eq(errno, EPIPE);
    vsok_socket_close(s);
}

/* ---- a peer in another process ---- */

/* Forks a child that writes buf[0..len) to fd one byte at a time, then
 * exits normally or, with die, kills itself (no clean shutdown). */
static pid_t fork_writer(int fd, int other, const uint8_t *buf, size_t len, int die)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(other);
        for (size_t i = 0; i < len; i++) {
            ssize_t n;
            do
                n = send(fd, buf + i, 1, MSG_NOSIGNAL);
            while (n < 0 && errno == EINTR);
            if (n != 1)
                _exit(2);
        }
        if (die)
            raise(SIGKILL);
        _exit(0);
    }
    close(fd);
    return pid;
}

static int wait_child(pid_t pid)
{
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

Test(socket, reads_frames_from_a_process_writing_one_byte_at_a_time)
{
    static const size_t sizes[] = {1, 300, 9000, 4};
    size_t offs[4], len;
    uint8_t *st = build_stream(sizes, 4, &len, offs);
    int sv[2];
    tu_socketpair(sv);
    pid_t pid = fork_writer(sv[1], sv[0], st, len, 0);
    vsok_socket *s;
    cr_assert_eq(vsok_socket_open(&s, sv[0], NULL), VSOK_OK);
    expect_frames(s, st, sizes, offs, 4, 1);
    vsok_msg m;
    cr_assert_eq(vsok_socket_recv(s, &m), VSOK_E_EOF, "the child's exit closes its end");
    cr_assert_eq(vsok_socket_error_offset(s), len);
    int stt = wait_child(pid);
    cr_assert(WIFEXITED(stt) && WEXITSTATUS(stt) == 0);
    vsok_socket_close(s);
    free(st);
}

Test(socket, peer_process_killed_mid_frame_is_truncated_at_bytes_sent)
{
    static const size_t sizes[] = {50, 50};
    size_t offs[2], len;
    uint8_t *st = build_stream(sizes, 2, &len, offs);
    static const size_t ks[] = {3, 57, 61, 90, 107}; /* 58 is a frame boundary */
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int sv[2];
        tu_socketpair(sv);
        pid_t pid = fork_writer(sv[1], sv[0], st, ks[i], 1);
        vsok_socket *s;
        cr_assert_eq(vsok_socket_open(&s, sv[0], NULL), VSOK_OK);
        uint8_t *msg;
        size_t ml;
        vsok_err r = vsok_socket_read_message(s, &msg, &ml);
        if (ks[i] >= 58) {
            cr_assert_eq(r, VSOK_OK);
            free(msg);
            r = vsok_socket_read_message(s, &msg, &ml);
        }
        cr_assert_eq(r, VSOK_E_TRUNCATED, "killed after %zu bytes: %s", ks[i], vsok_errname(r));
        cr_assert_eq(vsok_socket_error_offset(s), ks[i]);
        int stt = wait_child(pid);
        cr_assert(WIFSIGNALED(stt) && WTERMSIG(stt) == SIGKILL);
        vsok_socket_close(s);
    }
    free(st);
}
