/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vsok/vsok.h>

#include "mock.h"
#include "tutil.h"

TestSuite(protocol, .timeout = 60);

static void closepair(int sv[2])
{
    close(sv[0]);
    close(sv[1]);
}

/* ---- vsok_write_message / vsok_read_message over a socketpair ---- */

Test(protocol, write_message_puts_header_and_payload_on_the_wire)
{
    int sv[2];
    tu_socketpair(sv);
    cr_assert_eq(vsok_write_message(sv[0], "hello", 5), VSOK_OK);
    uint8_t buf[32];
    cr_assert_eq(tu_pending(sv[1]), 13);
    cr_assert_eq(recv(sv[1], buf, sizeof buf, 0), 13);
    cr_assert_arr_eq(buf, "VSOK\0\0\0\5hello", 13);
    closepair(sv);
}

Test(protocol, round_trip_of_small_and_1mib_messages)
{
    static const size_t sizes[] = {1, 2, 100, 65535, 65536, 65537, 200000, VSOK_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int sv[2];
        tu_socketpair(sv);
        size_t flen;
        uint8_t *f = tu_frame_alloc(sizes[i], (uint32_t)i, &flen);
        tu_reader r = {.fd = sv[1]};
        tu_reader_start(&r);
        cr_assert_eq(vsok_write_message(sv[0], f + 8, sizes[i]), VSOK_OK);
        shutdown(sv[0], SHUT_WR);
        tu_reader_join(&r);
        cr_assert_eq(r.err, 0);
        cr_assert_eq(r.len, flen, "size %zu: %zu bytes on the wire", sizes[i], r.len);
        cr_assert_eq(memcmp(r.buf, f, flen), 0);
        free(r.buf);

        /* and back through vsok_read_message */
        tu_writer w = {.fd = sv[1], .buf = f, .len = flen, .chunk = 0};
        tu_writer_start(&w);
        uint8_t *msg = NULL;
        size_t len = 0;
        cr_assert_eq(vsok_read_message(sv[0], &msg, &len), VSOK_OK);
        tu_writer_join(&w);
        cr_assert_eq(len, sizes[i]);
        cr_assert_eq(memcmp(msg, f + 8, len), 0);
        free(msg);
        free(f);
        closepair(sv);
    }
}

Test(protocol, read_message_from_a_peer_writing_one_byte_at_a_time)
{
    int sv[2];
    tu_socketpair(sv);
    uint8_t s[64];
    size_t len = tu_frame(s, "bytewise", 8);
    len += tu_frame(s + len, "again", 5);
    tu_writer w = {.fd = sv[1], .buf = s, .len = len, .chunk = 1, .shut = 1};
    tu_writer_start(&w);
    uint8_t *msg;
    size_t mlen;
    cr_assert_eq(vsok_read_message(sv[0], &msg, &mlen), VSOK_OK);
    cr_assert_eq(mlen, 8);
    cr_assert_arr_eq(msg, "bytewise", 8);
    free(msg);
    cr_assert_eq(vsok_read_message(sv[0], &msg, &mlen), VSOK_OK);
    cr_assert_arr_eq(msg, "again", 5);
    free(msg);
    cr_assert_eq(vsok_read_message(sv[0], &msg, &mlen), VSOK_E_EOF);
    cr_assert_null(msg);
    tu_writer_join(&w);
    closepair(sv);
}

Test(protocol, reader_never_reads_past_the_frame)
{
    int sv[2];
    tu_socketpair(sv);
    uint8_t s[64];
    size_t len = tu_frame(s, "first", 5);
    len += tu_frame(s + len, "second", 6);
    memcpy(s + len, "XYZ", 3);
    len += 3;
    cr_assert_eq(send(sv[1], s, len, 0), (ssize_t)len);
    uint8_t *msg;
    size_t mlen;
    cr_assert_eq(vsok_read_message(sv[0], &msg, &mlen), VSOK_OK);
    cr_assert_arr_eq(msg, "first", 5);
    free(msg);
    cr_assert_eq(tu_pending(sv[0]), 14 + 3, "the second frame must still be in the socket");
    cr_assert_eq(vsok_read_message(sv[0], &msg, &mlen), VSOK_OK);
    cr_assert_arr_eq(msg, "second", 6);
    free(msg);
    uint8_t rest[8];
    cr_assert_eq(recv(sv[0], rest, sizeof rest, MSG_DONTWAIT), 3);
    cr_assert_arr_eq(rest, "XYZ", 3);
    closepair(sv);
}

static vsok_err read_after_peer_sends(const void *bytes, size_t n, int then_close, uint8_t **msg)
{
    int sv[2];
    tu_socketpair(sv);
    if (n)
        cr_assert_eq(send(sv[1], bytes, n, 0), (ssize_t)n);
    if (then_close)
        shutdown(sv[1], SHUT_WR);
    size_t len = 99;
    *msg = (uint8_t *)"not touched";
    vsok_err r = vsok_read_message(sv[0], msg, &len);
    closepair(sv);
    return r;
}

Test(protocol, read_message_errors)
{
    uint8_t *msg;
    cr_assert_eq(read_after_peer_sends("", 0, 1, &msg), VSOK_E_EOF);
    cr_assert_null(msg);
    cr_assert_eq(read_after_peer_sends("VSOK\0\0", 6, 1, &msg), VSOK_E_TRUNCATED);
    cr_assert_null(msg);
    cr_assert_eq(read_after_peer_sends("VSOK\0\0\0\5he", 10, 1, &msg), VSOK_E_TRUNCATED);
    cr_assert_null(msg);
    cr_assert_eq(read_after_peer_sends("VSOK\0\0\0\0", 8, 0, &msg), VSOK_E_LENGTH);
    cr_assert_null(msg);
    cr_assert_eq(read_after_peer_sends("VSOK\0\x10\0\1", 8, 0, &msg), VSOK_E_TOO_LARGE);
    cr_assert_null(msg);
    cr_assert_eq(read_after_peer_sends("VSOK\xff\xff\xff\xff", 8, 0, &msg), VSOK_E_TOO_LARGE);
    cr_assert_eq(read_after_peer_sends("GET / HTTP/1.1\r\n", 16, 0, &msg), VSOK_E_MAGIC);
    cr_assert_null(msg);
}

Test(protocol, wrong_first_byte_is_rejected_without_waiting_for_more)
{
    /* The peer stays open and silent after one byte: only a reader that
     * checks the magic byte by byte returns (else the suite timeout hits). */
    uint8_t *msg;
    cr_assert_eq(read_after_peer_sends("G", 1, 0, &msg), VSOK_E_MAGIC);
    cr_assert_eq(read_after_peer_sends("VSX", 3, 0, &msg), VSOK_E_MAGIC);
}

Test(protocol, write_message_refuses_bad_lengths_before_writing)
{
    int sv[2];
    tu_socketpair(sv);
    static uint8_t big[VSOK_MAX_PAYLOAD + 1];
    cr_assert_eq(vsok_write_message(sv[0], big, 0), VSOK_E_LENGTH);
    cr_assert_eq(vsok_write_message(sv[0], big, VSOK_MAX_PAYLOAD + 1), VSOK_E_TOO_LARGE);
    cr_assert_eq(tu_pending(sv[1]), 0, "nothing may reach the wire");
    closepair(sv);
}

Test(protocol, write_to_closed_peer_is_epipe_and_the_process_survives)
{
    /* Default disposition on purpose: SIGPIPE would kill this test. */
    cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    static const size_t sizes[] = {5, VSOK_MAX_PAYLOAD};
    for (size_t i = 0; i < 2; i++) {
        int sv[2];
        tu_socketpair(sv);
        close(sv[1]);
        uint8_t *p = calloc(1, sizes[i]);
        cr_assert_not_null(p);
        errno = 0;
        cr_assert_eq(vsok_write_message(sv[0], p, sizes[i]), VSOK_E_IO);
        cr_assert_eq(errno, EPIPE, "errno %d", errno);
        free(p);
        close(sv[0]);
    }
}

Test(protocol, read_message_survives_signal_storm)
{
    tu_storm_install_handler();
    int sv[2];
    tu_socketpair(sv);
    size_t flen;
    uint8_t *f = tu_frame_alloc(3000, 4, &flen);
    tu_storm st;
    tu_storm_start(&st, pthread_self(), 300);
    tu_writer w = {.fd = sv[1], .buf = f, .len = flen, .chunk = 7};
    tu_writer_start(&w);
    uint8_t *msg = NULL;
    size_t len = 0;
    vsok_err r = vsok_read_message(sv[0], &msg, &len);
    tu_storm_stop(&st);
    tu_writer_join(&w);
    cr_assert_eq(r, VSOK_OK, "%s errno %d", vsok_errname(r), errno);
    cr_assert_eq(len, 3000);
    cr_assert_eq(memcmp(msg, f + 8, len), 0);
    free(msg);
    free(f);
    closepair(sv);
}

/* ---- chunking, seen through a recording stream ---- */

typedef struct {
    mock m;
    uint8_t *sink;
} rec;

static void rec_init(rec *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->sink = malloc(cap);
    cr_assert_not_null(r->sink);
    r->m.sink = r->sink;
    r->m.sinkcap = cap;
}

static void check_chunks(size_t len, int with_writev, size_t max_write)
{
    size_t flen;
    uint8_t *f = tu_frame_alloc(len, (uint32_t)len, &flen);
    rec r;
    rec_init(&r, flen);
    r.m.max_write = max_write;
    vsok_stream s = mock_stream(&r.m, with_writev);
    cr_assert_eq(vsok_stream_write_message(&s, f + 8, len), VSOK_OK, "len %zu", len);
    cr_assert_eq(r.m.sinklen, flen);
    cr_assert_eq(memcmp(r.sink, f, flen), 0, "len %zu: bytes differ", len);
    cr_assert_lt(r.m.ncalls, MOCK_MAX_CALLS);
    size_t first = len < VSOK_CHUNK_SIZE ? len : VSOK_CHUNK_SIZE;
    if (with_writev && !max_write)
        cr_assert_eq(r.m.calls[0], 8 + first, "len %zu: first call %zu bytes", len, r.m.calls[0]);
    for (size_t i = 0; i < r.m.ncalls; i++) {
        cr_assert_leq(r.m.calls[i], 8 + VSOK_CHUNK_SIZE, "len %zu: call %zu offers %zu", len, i,
                      r.m.calls[i]);
        if (i > 0 && !max_write)
            cr_assert_leq(r.m.calls[i], VSOK_CHUNK_SIZE, "len %zu: call %zu", len, i);
    }
    free(r.sink);
    free(f);
}

Test(protocol, header_rides_with_the_first_chunk_and_chunks_are_at_most_64k)
{
    static const size_t sizes[] = {1, 100, 65535, 65536, 65537, 131072, 131073, VSOK_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_chunks(sizes[i], 1, 0);
        check_chunks(sizes[i], 0, 0);
        check_chunks(sizes[i], 1, 1000);
    }
}

Test(protocol, small_message_is_one_write_call)
{
    rec r;
    rec_init(&r, 200);
    vsok_stream s = mock_stream(&r.m, 1);
    uint8_t p[100];
    tu_fill(p, sizeof p, 1);
    cr_assert_eq(vsok_stream_write_message(&s, p, sizeof p), VSOK_OK);
    cr_assert_eq(r.m.ncalls, 1);
    cr_assert_eq(r.m.calls[0], 108);
    free(r.sink);
}

Test(protocol, 1mib_write_is_header_plus_64k_then_64k_chunks)
{
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 3, &flen);
    rec r;
    rec_init(&r, flen);
    vsok_stream s = mock_stream(&r.m, 1);
    cr_assert_eq(vsok_stream_write_message(&s, f + 8, VSOK_MAX_PAYLOAD), VSOK_OK);
    cr_assert_eq(r.m.calls[0], 8 + 65536);
    size_t total = 0;
    for (size_t i = 0; i < r.m.ncalls; i++)
        total += r.m.calls[i];
    cr_assert_eq(total, flen, "every byte offered once");
    cr_assert_geq(r.m.ncalls, 16);
    free(r.sink);
    free(f);
}

Test(protocol, stream_write_refuses_bad_lengths_without_a_call)
{
    rec r;
    rec_init(&r, 64);
    vsok_stream s = mock_stream(&r.m, 1);
    static uint8_t big[VSOK_MAX_PAYLOAD + 1];
    cr_assert_eq(vsok_stream_write_message(&s, big, 0), VSOK_E_LENGTH);
    cr_assert_eq(vsok_stream_write_message(&s, big, sizeof big), VSOK_E_TOO_LARGE);
#if SIZE_MAX > UINT32_MAX
    cr_assert_eq(vsok_stream_write_message(&s, big, (size_t)UINT32_MAX + 2), VSOK_E_TOO_LARGE);
#endif
    cr_assert_eq(vsok_stream_write_message(&s, NULL, 5), VSOK_E_INVAL);
    cr_assert_eq(vsok_stream_write_message(NULL, big, 5), VSOK_E_INVAL);
    cr_assert_eq(r.m.ncalls, 0);
    free(r.sink);
}

Test(protocol, stream_write_error_is_io_with_errno)
{
    static const mock_step w[] = {{M_DATA, 3, 0}, {M_ERR, 0, ECONNRESET}};
    rec r;
    rec_init(&r, 64);
    r.m.wscript = w;
    r.m.nw = 2;
    vsok_stream s = mock_stream(&r.m, 1);
    errno = 0;
    cr_assert_eq(vsok_stream_write_message(&s, "abcdef", 6), VSOK_E_IO);
    cr_assert_eq(errno, ECONNRESET);
    free(r.sink);
}

/* ---- vsok_stream_read_message through a scripted stream ---- */

Test(protocol, stream_reader_takes_exactly_one_frame)
{
    uint8_t s[64];
    size_t len = tu_frame(s, "one", 3);
    size_t first = len;
    len += tu_frame(s + len, "two", 3);
    mock m;
    mock_reader(&m, s, len);
    vsok_stream st = mock_stream(&m, 1);
    uint8_t *msg;
    size_t mlen;
    cr_assert_eq(vsok_stream_read_message(&st, 0, &msg, &mlen), VSOK_OK);
    cr_assert_arr_eq(msg, "one", 3);
    free(msg);
    cr_assert_eq(m.srcpos, first, "read %zu bytes for a %zu-byte frame", m.srcpos, first);
    cr_assert_eq(vsok_stream_read_message(&st, 0, &msg, &mlen), VSOK_OK);
    cr_assert_arr_eq(msg, "two", 3);
    free(msg);
    cr_assert_eq(vsok_stream_read_message(&st, 0, &msg, &mlen), VSOK_E_EOF);
}

Test(protocol, stream_reader_handles_one_byte_reads_and_eintr)
{
    static const mock_step rs[] = {{M_EINTR, 0, 0}, {M_DATA, 1, 0}, {M_EINTR, 0, 0}, {M_DATA, 2, 0}};
    size_t flen;
    uint8_t *f = tu_frame_alloc(5000, 6, &flen);
    mock m;
    mock_reader(&m, f, flen);
    m.rscript = rs;
    m.nr = 4;
    m.max_read = 1;
    vsok_stream st = mock_stream(&m, 1);
    uint8_t *msg;
    size_t mlen;
    cr_assert_eq(vsok_stream_read_message(&st, 0, &msg, &mlen), VSOK_OK);
    cr_assert_eq(mlen, 5000);
    cr_assert_eq(memcmp(msg, f + 8, mlen), 0);
    free(msg);
    free(f);
}

Test(protocol, stream_reader_uses_the_callers_maximum)
{
    uint8_t s[512], p[101];
    memset(p, 'm', sizeof p);
    size_t a = tu_frame(s, p, 100);
    size_t len = a + tu_frame(s + a, p, 101);
    mock m;
    mock_reader(&m, s, len);
    vsok_stream st = mock_stream(&m, 1);
    uint8_t *msg;
    size_t mlen;
    cr_assert_eq(vsok_stream_read_message(&st, 100, &msg, &mlen), VSOK_OK);
    cr_assert_eq(mlen, 100);
    free(msg);
    cr_assert_eq(vsok_stream_read_message(&st, 100, &msg, &mlen), VSOK_E_TOO_LARGE);
    cr_assert_null(msg);
}

Test(protocol, stream_reader_passes_transport_errors_through)
{
    static const mock_step eagain[] = {{M_DATA, 3, 0}, {M_EAGAIN, 0, 0}};
    static const mock_step eio[] = {{M_DATA, 9, 0}, {M_ERR, 0, EIO}};
    uint8_t s[32];
    size_t len = tu_frame(s, "payload", 7);
    mock m;
    mock_reader(&m, s, len);
    m.rscript = eagain;
    m.nr = 2;
    vsok_stream st = mock_stream(&m, 1);
    uint8_t *msg;
    size_t mlen;
    cr_assert_eq(vsok_stream_read_message(&st, 0, &msg, &mlen), VSOK_E_AGAIN);
    cr_assert_null(msg);
    mock_reader(&m, s, len);
    m.rscript = eio;
    m.nr = 2;
    errno = 0;
    cr_assert_eq(vsok_stream_read_message(&st, 0, &msg, &mlen), VSOK_E_IO);
    cr_assert_eq(errno, EIO);
    cr_assert_null(msg);
    cr_assert_eq(vsok_stream_read_message(NULL, 0, &msg, &mlen), VSOK_E_INVAL);
    cr_assert_eq(vsok_stream_read_message(&st, 0, NULL, &mlen), VSOK_E_INVAL);
    cr_assert_eq(vsok_stream_read_message(&st, VSOK_MAX_PAYLOAD + 1, &msg, &mlen), VSOK_E_INVAL);
}

/* ---- the vtable: VSOK and the length-prefix protocol ---- */

/* Round trip through nothing but the interface, then a clean close. */
static void round_trip_through(const vsok_protocol *p, size_t biggest)
{
    int sv[2];
    tu_socketpair(sv);
    vsok_stream ws = vsok_stream_fd(sv[0]);
    vsok_stream rs = vsok_stream_fd(sv[1]);
    size_t sizes[3] = {1, 17, biggest};
    size_t total = 0;
    uint8_t *bufs[3];
    for (int i = 0; i < 3; i++) {
        bufs[i] = malloc(sizes[i]);
        cr_assert_not_null(bufs[i]);
        tu_fill(bufs[i], sizes[i], (uint32_t)i + 40);
        total += sizes[i];
    }
    cr_assert_lt(total, 100000, "keep it below the socket buffer: no reader thread here");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(p->write_message(p, &ws, bufs[i], sizes[i]), 0, "%s: write %d", p->name, i);
    shutdown(sv[0], SHUT_WR);
    for (int i = 0; i < 3; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        int e = p->read_message(p, &rs, &msg, &len);
        cr_assert_eq(e, 0, "%s: read %d: %s", p->name, i, p->strerror(p, e));
        cr_assert_eq(len, sizes[i]);
        cr_assert_eq(memcmp(msg, bufs[i], len), 0);
        free(msg);
        free(bufs[i]);
    }
    uint8_t *msg = (uint8_t *)"x";
    size_t len;
    int e = p->read_message(p, &rs, &msg, &len);
    cr_assert_neq(e, 0);
    cr_assert(p->is_eof(p, e), "%s: clean close gave %s", p->name, p->strerror(p, e));
    cr_assert_null(msg);
    closepair(sv);
}

Test(protocol, vsok_protocol_round_trips_through_the_vtable)
{
    const vsok_protocol *p = &vsok_protocol_vsok;
    cr_assert_not_null(p->name);
    round_trip_through(p, 65536);
}

Test(protocol, vsok_protocol_keeps_vsok_error_codes)
{
    const vsok_protocol *p = &vsok_protocol_vsok;
    for (int e = 0; e < VSOK_E__COUNT; e++)
        cr_assert_str_eq(p->strerror(p, e), vsok_errname((vsok_err)e));
    cr_assert(p->is_eof(p, VSOK_E_EOF));
    cr_assert_not(p->is_eof(p, VSOK_E_TRUNCATED));
    cr_assert_not(p->is_eof(p, VSOK_OK));
    mock m;
    mock_reader(&m, (const uint8_t *)"VSOK\0\0\0\0", 8);
    vsok_stream st = mock_stream(&m, 1);
    uint8_t *msg;
    size_t len;
    cr_assert_eq(p->read_message(p, &st, &msg, &len), VSOK_E_LENGTH);
    m.src = (const uint8_t *)"VSOK\0\0\0\3ab";
    m.srclen = 10;
    m.srcpos = 0;
    cr_assert_eq(p->read_message(p, &st, &msg, &len), VSOK_E_TRUNCATED);
    cr_assert_eq(p->write_message(p, &st, "", 0), VSOK_E_LENGTH);
}

Test(protocol, lenprefix_round_trips_through_the_vtable)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    cr_assert_not_null(lp.proto.name);
    cr_assert_str_neq(lp.proto.name, vsok_protocol_vsok.name);
    round_trip_through(&lp.proto, 1024);
}

Test(protocol, lenprefix_wire_format_is_a_bare_be32_prefix)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    rec r;
    rec_init(&r, 64);
    vsok_stream s = mock_stream(&r.m, 1);
    cr_assert_eq(lp.proto.write_message(&lp.proto, &s, "abc", 3), VSOK_LP_OK);
    cr_assert_eq(r.m.sinklen, 7);
    cr_assert_arr_eq(r.sink, "\0\0\0\3abc", 7);
    free(r.sink);
}

static int lp_read_bytes(const vsok_lenprefix *lp, const void *bytes, size_t n, uint8_t **msg, size_t *len)
{
    mock m;
    mock_reader(&m, bytes, n);
    vsok_stream s = mock_stream(&m, 1);
    *msg = (uint8_t *)"untouched";
    return lp->proto.read_message(&lp->proto, &s, msg, len);
}

Test(protocol, lenprefix_keeps_its_own_error_codes)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    const vsok_protocol *p = &lp.proto;
    uint8_t *msg;
    size_t len;
    static uint8_t ok1024[4 + 1024] = {0, 0, 4, 0};
    cr_assert_eq(lp_read_bytes(&lp, ok1024, sizeof ok1024, &msg, &len), VSOK_LP_OK);
    cr_assert_eq(len, 1024);
    free(msg);
    cr_assert_eq(lp_read_bytes(&lp, "\0\0\4\1", 4, &msg, &len), VSOK_LP_E_OVERSIZE);
    cr_assert_null(msg);
    cr_assert_eq(lp_read_bytes(&lp, "\0\0\0\0", 4, &msg, &len), VSOK_LP_E_EMPTY);
    cr_assert_null(msg);
    cr_assert_eq(lp_read_bytes(&lp, "", 0, &msg, &len), VSOK_LP_E_CLOSED);
    cr_assert_null(msg);
    cr_assert_eq(lp_read_bytes(&lp, "\0\0", 2, &msg, &len), VSOK_LP_E_SHORT);
    cr_assert_eq(lp_read_bytes(&lp, "\0\0\0\5ab", 6, &msg, &len), VSOK_LP_E_SHORT);
    cr_assert_null(msg);
    cr_assert(p->is_eof(p, VSOK_LP_E_CLOSED));
    cr_assert_not(p->is_eof(p, VSOK_LP_E_SHORT));
    cr_assert_not(p->is_eof(p, VSOK_LP_E_TRANSPORT));
    cr_assert_not(p->is_eof(p, VSOK_LP_OK));

    /* Writer-side limits, before any byte. */
    rec r;
    rec_init(&r, 4096);
    vsok_stream s = mock_stream(&r.m, 1);
    static uint8_t big[1025];
    cr_assert_eq(p->write_message(p, &s, big, 0), VSOK_LP_E_EMPTY);
    cr_assert_eq(p->write_message(p, &s, big, 1025), VSOK_LP_E_OVERSIZE);
    cr_assert_eq(r.m.ncalls, 0);
    cr_assert_eq(p->write_message(p, &s, big, 1024), VSOK_LP_OK);
    free(r.sink);
}

Test(protocol, lenprefix_transport_errors_keep_errno)
{
    static const mock_step rs[] = {{M_DATA, 2, 0}, {M_ERR, 0, ECONNRESET}};
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    mock m;
    mock_reader(&m, (const uint8_t *)"\0\0\0\3abc", 7);
    m.rscript = rs;
    m.nr = 2;
    vsok_stream s = mock_stream(&m, 1);
    uint8_t *msg;
    size_t len;
    errno = 0;
    cr_assert_eq(lp.proto.read_message(&lp.proto, &s, &msg, &len), VSOK_LP_E_TRANSPORT);
    cr_assert_eq(errno, ECONNRESET);
    cr_assert_null(msg);
}

Test(protocol, lenprefix_names_every_code_distinctly)
{
    vsok_lenprefix lp;
    vsok_lenprefix_init(&lp, 1024);
    const vsok_protocol *p = &lp.proto;
    for (int e = VSOK_LP_OK; e <= VSOK_LP_E_ALLOC; e++) {
        const char *n = p->strerror(p, e);
        cr_assert_not_null(n);
        cr_assert_gt(strlen(n), 0);
        for (int f = VSOK_LP_OK; f < e; f++)
            cr_assert_str_neq(n, p->strerror(p, f), "codes %d and %d", e, f);
    }
    cr_assert_str_eq(p->strerror(p, VSOK_LP_E_OVERSIZE), "Oversize");
    cr_assert_not_null(p->strerror(p, 999));
}
