/* SPDX-License-Identifier: MIT */
/* test_relay.c - vsok-peer relay between a test client and a test-owned
 * target socket, so the test sees exactly the bytes forwarded each way. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"
#include "vsok_vectors.h"

TestSuite(relay, .timeout = 120);

typedef struct setup {
    int lfd; /* the target's listening socket (ours) */
    char target[128];
    tpeer relay;
} setup;

static void start(setup *s, int tcp_front, const char *extra)
{
    char err[256], front[128];
    /* a tcp: front gets a tcp: target (the relay's non-blocking connect),
     * a unix: front a unix: target (connected through the library) */
    if (tcp_front)
        snprintf(s->target, sizeof s->target, "tcp:127.0.0.1:0");
    else
        tunix_addr(s->target, sizeof s->target);
    cr_assert_eq(vsok_listen(s->target, 16, &s->lfd, err, sizeof err), VSOK_OK, "%s", err);
    vsok_addr bound;
    cr_assert_eq(vsok_addr_from_fd(s->lfd, 0, &bound), VSOK_OK);
    vsok_addr_format(&bound, s->target, sizeof s->target);
    snprintf(front, sizeof front, tcp_front ? "tcp:127.0.0.1:0" : "unix:@vsok-relay-front-%d", getpid());
    if (extra)
        tpeer_start(&s->relay, "--log-format", "json", extra, "relay", front, s->target, NULL);
    else
        tpeer_start(&s->relay, "--log-format", "json", "relay", front, s->target, NULL);
}

/* Connects a client through the relay and accepts the target side. */
static void pair(setup *s, int *client, int *target)
{
    *client = tconnect(s->relay.addr);
    struct pollfd pf = {s->lfd, POLLIN, 0};
    cr_assert_gt(poll(&pf, 1, T_IO_MS), 0, "relay never connected to the target");
    *target = accept(s->lfd, NULL, NULL);
    cr_assert_geq(*target, 0);
    struct timeval tv = {T_IO_MS / 1000, 0};
    setsockopt(*target, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(*target, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static size_t frames(uint8_t *out, uint32_t seed, int count)
{
    static const size_t sizes[] = {1, 5, 64, 1000, 65536, 70000, 3};
    uint8_t *pay = malloc(70000);
    size_t n = 0;
    for (int i = 0; i < count; i++) {
        size_t len = sizes[(size_t)i % 7];
        tfill(pay, len, seed + (uint32_t)i);
        tframe(out + n, pay, len);
        n += VSOK_HEADER_SIZE + len;
    }
    free(pay);
    return n;
}

/* Reads until end of stream; returns the byte count (buf must be big). */
static size_t read_to_end(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        cr_assert_lt(got, cap, "more bytes than expected");
        ssize_t r = recv(fd, buf + got, cap - got, 0);
        if (r == 0)
            return got;
        cr_assert_gt(r, 0, "recv: %s", strerror(errno));
        got += (size_t)r;
    }
}

static void forward_exact(int tcp)
{
    setup s;
    start(&s, tcp, NULL);
    int c, t;
    pair(&s, &c, &t);
    size_t cap = 1 << 20;
    uint8_t *a = malloc(cap), *b = malloc(cap), *got = malloc(cap + 1);
    size_t na = frames(a, 1, 14), nb = frames(b, 100, 21);
    /* client -> target, byte-exact (written in odd pieces) */
    for (size_t off = 0; off < na;) {
        size_t k = na - off < 7777 ? na - off : 7777;
        twrite(c, a + off, k);
        off += k;
        cr_assert_eq(tread_exact(t, got, k), 0);
        cr_assert_eq(memcmp(got, a + off - k, k), 0, "client-to-target bytes differ at %zu", off - k);
    }
    /* the client half-closes: the target sees end of stream ... */
    shutdown(c, SHUT_WR);
    cr_expect_eq(read_to_end(t, got, cap), 0);
    /* ... and can still answer, byte-exact, then close */
    twrite(t, b, nb);
    shutdown(t, SHUT_WR);
    size_t n = read_to_end(c, got, cap);
    cr_expect_eq(n, nb);
    cr_expect_eq(memcmp(got, b, nb), 0, "target-to-client bytes differ");
    close(c);
    close(t);
    char *st = tpeer_stats(&s.relay);
    cr_expect_eq(tfield(st, "violations.client_to_target"), 0, "%s", st);
    cr_expect_eq(tfield(st, "violations.target_to_client"), 0, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    char *log = tpeer_log(&s.relay);
    cr_expect_null(strstr(log, "\"violation\""), "%s", log);
    free(log);
    close(s.lfd);
    free(a);
    free(b);
    free(got);
}

Test(relay, forwards_a_valid_exchange_byte_exactly_with_half_close_tcp) { forward_exact(1); }
Test(relay, forwards_a_valid_exchange_byte_exactly_with_half_close_unix) { forward_exact(0); }

Test(relay, reports_a_seeded_violation_in_each_direction)
{
    setup s;
    start(&s, 1, NULL);
    size_t cap = 1 << 20;
    uint8_t *a = malloc(cap), *got = malloc(cap);

    /* 1: client sends 3 good frames then a bad magic byte at frame offset 2 */
    int c, t;
    pair(&s, &c, &t);
    size_t na = frames(a, 5, 3);
    memcpy(a + na, "VSXK\0\0\0\x01z", 9);
    twrite(c, a, na + 9);
    /* the target gets the good frames, nothing of the bad one, then EOF */
    size_t n = read_to_end(t, got, cap);
    cr_expect_eq(n, na);
    cr_expect_eq(memcmp(got, a, na), 0);
    /* the other direction still runs: the target's answer reaches the client */
    uint8_t ans[8 + 2];
    tframe(ans, "ok", 2);
    twrite(t, ans, sizeof ans);
    shutdown(t, SHUT_WR);
    n = read_to_end(c, got, cap);
    cr_expect_eq(n, sizeof ans);
    close(c);
    close(t);

    /* 2: target sends 2 good frames then a zero length */
    pair(&s, &c, &t);
    size_t nb = frames(a, 9, 2);
    memcpy(a + nb, "VSOK\0\0\0\0", 8);
    twrite(t, a, nb + 8);
    n = read_to_end(c, got, cap);
    cr_expect_eq(n, nb);
    cr_expect_eq(memcmp(got, a, nb), 0);
    close(c);
    close(t);

    /* 3: client ends inside a frame */
    pair(&s, &c, &t);
    twrite(c,
           "VSOK\0\0\0\x09"
           "abc",
           11);
    shutdown(c, SHUT_WR);
    cr_expect_eq(read_to_end(t, got, cap), 11); /* forwarded as far as it went */
    close(t);
    cr_expect(texpect_end(c, T_IO_MS));
    close(c);

    char *st = tpeer_stats(&s.relay);
    cr_expect_eq(tfield(st, "violations.client_to_target"), 2, "%s", st);
    cr_expect_eq(tfield(st, "violations.target_to_client"), 1, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    char *log = tpeer_log(&s.relay);
    char want[256];
    snprintf(
        want, sizeof want,
        "\"event\":\"violation\",\"conn\":1,\"dir\":\"client-to-target\",\"error\":\"InvalidMagicBytes\","
        "\"offset\":%zu,",
        na + 2);
    cr_expect_not_null(strstr(log, want), "missing %s in:\n%s", want, log);
    snprintf(
        want, sizeof want,
        "\"event\":\"violation\",\"conn\":2,\"dir\":\"target-to-client\",\"error\":\"InvalidTotalLength\","
        "\"offset\":%zu,",
        nb + 4);
    cr_expect_not_null(strstr(log, want), "missing %s in:\n%s", want, log);
    cr_expect_not_null(strstr(log, "\"event\":\"violation\",\"conn\":3,\"dir\":\"client-to-target\","
                                   "\"error\":\"Truncated\",\"offset\":11,"),
                       "%s", log);
    free(log);
    close(s.lfd);
    free(a);
    free(got);
}

Test(relay, slow_frame_is_cut_off_by_message_timeout)
{
    setup s;
    start(&s, 1, "--msg-timeout=300ms");
    int c, t;
    pair(&s, &c, &t);
    uint8_t f[9];
    tframe(f, "a", 1);
    twrite(c, f, sizeof f);
    twrite(c,
           "VSOK\0\0\0\x20"
           "abc",
           11); /* 32 announced, 3 sent, then nothing */
    uint8_t got[64];
    /* the target gets the whole frames and the started one as far as it
     * came, then end of stream when the timeout cuts the direction */
    size_t n = read_to_end(t, got, sizeof got);
    cr_expect_eq(n, 9 + 11);
    close(t);
    cr_expect(texpect_end(c, T_IO_MS));
    close(c);
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    char *log = tpeer_log(&s.relay);
    cr_expect_not_null(strstr(log, "\"event\":\"violation\",\"conn\":1,\"dir\":\"client-to-target\","
                                   "\"error\":\"Timeout\",\"offset\":20,"),
                       "%s", log);
    free(log);
    close(s.lfd);
}

Test(relay, sigterm_closes_quiet_pairs_and_exits_0)
{
    setup s;
    start(&s, 0, "--drain-timeout=20s");
    int c, t;
    pair(&s, &c, &t);
    uint8_t f[9], got[16];
    tframe(f, "q", 1);
    twrite(c, f, sizeof f);
    cr_assert_eq(tread_exact(t, got, sizeof f), 0);
    kill(s.relay.pid, SIGTERM);
    /* both sides at a frame boundary: closed at once, far inside the drain limit */
    cr_expect(texpect_end(c, T_IO_MS));
    cr_expect(texpect_end(t, T_IO_MS));
    cr_expect_eq(tpeer_wait(&s.relay, T_IO_MS), 0);
    close(c);
    close(t);
    close(s.lfd);
}

Test(relay, unreachable_target_ends_the_client_and_is_logged)
{
    /* a port that was just free: nobody listens there */
    int lfd;
    char err[256], dead[128], front[] = "tcp:127.0.0.1:0";
    cr_assert_eq(vsok_listen("tcp:127.0.0.1:0", 1, &lfd, err, sizeof err), VSOK_OK);
    vsok_addr a;
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &a), VSOK_OK);
    vsok_addr_format(&a, dead, sizeof dead);
    close(lfd);
    tpeer r;
    tpeer_start(&r, "relay", front, dead, NULL);
    for (int i = 0; i < 3; i++) {
        int c = tconnect(r.addr);
        cr_expect(texpect_end(c, T_IO_MS), "client of an unreachable target never ended");
        close(c);
    }
    char *st = tpeer_stats(&r);
    cr_expect_eq(tfield(st, "refused"), 3, "%s", st);
    cr_expect_eq(tfield(st, "active"), 0, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&r), 0);
    char *log = tpeer_log(&r);
    cr_expect_not_null(strstr(log, " connect-failed "), "%s", log);
    cr_expect_not_null(strstr(log, " errno=ECONNREFUSED "), "%s", log);
    free(log);
}

Test(relay, keep_going_forwards_past_a_violation)
{
    setup s;
    start(&s, 0, "--keep-going");
    int c, t;
    pair(&s, &c, &t);
    const uint8_t bad[] = "VSOK\0\0\0\x02hiGARBAGE";
    twrite(c, bad, sizeof bad - 1);
    shutdown(c, SHUT_WR);
    uint8_t got[64];
    size_t n = read_to_end(t, got, sizeof got);
    cr_expect_eq(n, sizeof bad - 1);
    cr_expect_eq(memcmp(got, bad, n), 0);
    close(t);
    close(c);
    char *st = tpeer_stats(&s.relay);
    cr_expect_eq(tfield(st, "violations.client_to_target"), 1, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    close(s.lfd);
}

/* Every decoder vector sent through the relay, client to target: the target
 * receives exactly the frames before the violation (and a truncated frame
 * as far as it went once its header was whole), and the log names the
 * vector's error at the vector's offset. */
Test(relay, every_vector_is_judged_like_the_decoder)
{
    vsok_vec_set *set;
    char err[512];
    cr_assert_eq(vsok_vec_load(VSOK_VECTORS_TXT, &set, err, sizeof err), 0, "%s", err);
    setup s;
    start(&s, 0, NULL);
    unsigned id = 0, *ids = calloc(set->ncases, sizeof *ids);
    uint8_t *got = malloc(8u << 20);
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER || c->end == VSOK_VEC_END_RESET || c->input_len > (6u << 20))
            continue;
        int cl, t;
        pair(&s, &cl, &t);
        ids[i] = ++id;
        /* the client writes and half-closes while the target drains to end */
        cr_assert_eq(shutdown(t, SHUT_WR), 0);
        size_t sent = 0, n = 0;
        int shut = 0;
        if (c->input_len == 0) {
            shutdown(cl, SHUT_WR);
            shut = 1;
        }
        for (;;) {
            struct pollfd pf[2] = {{cl, (short)(shut ? 0 : POLLOUT), 0}, {t, POLLIN, 0}};
            cr_assert_gt(poll(pf, 2, T_IO_MS), 0, "case %u: stalled", c->id);
            if (!shut && (pf[0].revents & POLLOUT)) {
                ssize_t w = send(cl, c->input + sent, c->input_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0)
                    sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                    sent = c->input_len; /* cut off: nothing more to say */
                if (sent == c->input_len) {
                    shutdown(cl, SHUT_WR);
                    shut = 1;
                }
            }
            if (pf[1].revents) {
                ssize_t r = recv(t, got + n, (8u << 20) - n, MSG_DONTWAIT);
                if (r == 0)
                    break;
                if (r > 0)
                    n += (size_t)r;
                else
                    cr_assert_eq(errno, EAGAIN, "case %u: %s", c->id, strerror(errno));
            }
        }
        size_t want = 0;
        for (size_t k = 0; k < c->nmsgs; k++)
            want = c->msgs[k].frame_offset + VSOK_HEADER_SIZE + c->msgs[k].len;
        if (!strcmp(c->result, "Eof") || (!strcmp(c->result, "Truncated") && c->input_len - want >= 8))
            want = c->input_len;
        cr_expect_eq(n, want, "case %u %s (%s): target got %zu bytes, expected %zu", c->id, c->name,
                     c->result, n, want);
        cr_expect(n != want || memcmp(got, c->input, n) == 0, "case %u: forwarded bytes differ", c->id);
        close(t);
        /* the client sees the end too */
        cr_expect(texpect_end(cl, T_IO_MS), "case %u: client never saw the end", c->id);
        close(cl);
    }
    cr_expect_gt(id, 50, "the vector set should hold many decoder cases");
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    char *log = tpeer_log(&s.relay);
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (!ids[i])
            continue;
        char key[256];
        snprintf(key, sizeof key, "\"event\":\"violation\",\"conn\":%u,", ids[i]);
        const char *l = strstr(log, key);
        if (!strcmp(c->result, "Eof")) {
            cr_expect_null(l, "case %u %s: valid stream reported as a violation", c->id, c->name);
            continue;
        }
        cr_expect_not_null(l, "case %u %s: no violation logged", c->id, c->name);
        if (!l)
            continue;
        snprintf(key, sizeof key,
                 "\"event\":\"violation\",\"conn\":%u,\"dir\":\"client-to-target\",\"error\":\"%s\","
                 "\"offset\":%llu,",
                 ids[i], c->result, (unsigned long long)c->result_offset);
        cr_expect_not_null(strstr(log, key), "case %u %s: expected %s", c->id, c->name, key);
    }
    free(log);
    free(ids);
    free(got);
    close(s.lfd);
    vsok_vec_free(set);
}
