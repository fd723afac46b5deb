/* SPDX-License-Identifier: MIT */
/* test_echo.c - vsok-peer listen (echo server) over Unix sockets and TCP on
 * 127.0.0.1: concurrency, every bad-input vector, slowloris, resets,
 * half-close, a client that never reads, limits and shutdown. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"
#include "vsok_vectors.h"

TestSuite(echo, .timeout = 120);

static const char *listen_addr(int tcp, char *buf, size_t len)
{
    if (tcp)
        snprintf(buf, len, "tcp:127.0.0.1:0");
    else
        tunix_addr(buf, len);
    return buf;
}

/* ---------------------------------------------------------- many clients */

typedef struct client_arg {
    const char *addr;
    uint32_t id;
    int ok;
    char why[300];
} client_arg;

static const size_t mixed_sizes[] = {1, 2, 7, 64, 100, 1000, 4096, 65535, 65536, 65537, 200000, 1048576};
#define NSIZES (sizeof mixed_sizes / sizeof mixed_sizes[0])

/* One client: ping-pong of mixed sizes, then a burst of small messages in
 * a single write (echoed in order). */
static void *client_main(void *v)
{
    client_arg *a = v;
    int fd;
    char err[200];
    if (vsok_connect(a->addr, T_IO_MS, &fd, err, sizeof err) != VSOK_OK) {
        snprintf(a->why, sizeof a->why, "connect: %s", err);
        return NULL;
    }
    struct timeval tv = {T_IO_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    uint8_t *buf = malloc(VSOK_MAX_PAYLOAD);
    for (size_t k = 0; k < NSIZES; k++) {
        size_t n = mixed_sizes[(k + a->id) % NSIZES];
        tfill(buf, n, a->id * 100 + (uint32_t)k);
        if (vsok_write_message(fd, buf, n) != VSOK_OK) {
            snprintf(a->why, sizeof a->why, "write %zu: %s", n, strerror(errno));
            goto out;
        }
        uint8_t *m;
        size_t len;
        vsok_err e = vsok_read_message(fd, &m, &len);
        if (e != VSOK_OK || len != n || memcmp(m, buf, n) != 0) {
            snprintf(a->why, sizeof a->why, "echo of %zu bytes: %s len %zu", n, vsok_errname(e), e ? 0 : len);
            if (!e)
                free(m);
            goto out;
        }
        free(m);
    }
    /* 100 small frames in one write */
    size_t off = 0;
    for (uint32_t i = 0; i < 100; i++) {
        size_t n = 1 + (i * 7) % 60;
        uint8_t p[64];
        tfill(p, n, i);
        tframe(buf + off, p, n);
        off += VSOK_HEADER_SIZE + n;
    }
    if (send(fd, buf, off, MSG_NOSIGNAL) != (ssize_t)off) {
        snprintf(a->why, sizeof a->why, "burst send");
        goto out;
    }
    uint8_t *back = malloc(off);
    if (tread_exact(fd, back, off) != 0 || memcmp(back, buf, off) != 0) {
        snprintf(a->why, sizeof a->why, "burst echo differs");
        free(back);
        goto out;
    }
    free(back);
    a->ok = 1;
out:
    free(buf);
    close(fd);
    return NULL;
}

static void many_clients(int tcp)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(tcp, addr, sizeof addr), NULL);
    enum { N = 48 };
    pthread_t th[N];
    client_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (client_arg){.addr = p.addr, .id = (uint32_t)i};
        cr_assert_eq(pthread_create(&th[i], NULL, client_main, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_expect(args[i].ok, "client %d: %s", i, args[i].why);
    }
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "msgs_in"), N * (NSIZES + 100), "%s", st);
    cr_expect_eq(tfield(st, "errors.Io"), 0, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, many_concurrent_clients_mixed_sizes_unix) { many_clients(0); }
Test(echo, many_concurrent_clients_mixed_sizes_tcp) { many_clients(1); }

/* ------------------------------------------------------------ vectors */

/* The line of the log about connection id, or NULL. */
static const char *conn_line(const char *log, unsigned id, const char *event, char *out, size_t len)
{
    char key[64];
    snprintf(key, sizeof key, " %s conn=%u ", event, id);
    const char *q = strstr(log, key);
    if (!q)
        return NULL;
    const char *e = strchr(q, '\n');
    size_t n = e ? (size_t)(e - q) : strlen(q);
    if (n >= len)
        n = len - 1;
    memcpy(out, q, n);
    out[n] = 0;
    return out;
}

static void vectors_through_echo(int tcp)
{
    vsok_vec_set *set;
    char err[512], addr[128];
    cr_assert_eq(vsok_vec_load(VSOK_VECTORS_TXT, &set, err, sizeof err), 0, "%s", err);
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(tcp, addr, sizeof addr), NULL);
    unsigned conn_id = 0, *ids = calloc(set->ncases, sizeof *ids);
    size_t nerr = 0;
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER || c->end == VSOK_VEC_END_RESET)
            continue;
        int fd = tconnect(p.addr);
        ids[i] = ++conn_id;
        uint8_t *out;
        size_t outlen;
        int rc = texchange(fd, c->input, c->input_len, &out, &outlen);
        close(fd);
        cr_expect_eq(rc, 0, "case %u %s: no end of stream from the peer", c->id, c->name);
        /* exactly the frames of the expected messages, nothing of the bad one */
        size_t want = 0;
        for (size_t k = 0; k < c->nmsgs; k++)
            want += VSOK_HEADER_SIZE + c->msgs[k].len;
        int same = outlen == want;
        size_t off = 0;
        for (size_t k = 0; same && k < c->nmsgs; k++) {
            size_t fl = VSOK_HEADER_SIZE + c->msgs[k].len;
            same = memcmp(out + off, c->input + c->msgs[k].frame_offset, fl) == 0;
            off += fl;
        }
        cr_expect(same, "case %u %s (%s): echoed %zu bytes, expected the %zu frames (%zu bytes)", c->id,
                  c->name, c->result, outlen, c->nmsgs, want);
        free(out);
        if (strcmp(c->result, "Eof") != 0)
            nerr++;
    }
    cr_expect_eq(tpeer_stop(&p), 0);
    char *log = tpeer_log(&p);
    size_t checked = 0;
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (!ids[i])
            continue;
        char line[1024];
        const char *l = conn_line(log, ids[i], "protocol-error", line, sizeof line);
        if (!strcmp(c->result, "Eof")) {
            cr_expect_null(l, "case %u %s: clean stream reported as error: %s", c->id, c->name, l);
            continue;
        }
        cr_expect_not_null(l, "case %u %s: no protocol-error line for conn %u", c->id, c->name, ids[i]);
        if (!l)
            continue;
        char want[128];
        snprintf(want, sizeof want, " error=%s offset=%llu ", c->result,
                 (unsigned long long)c->result_offset);
        cr_expect_not_null(strstr(l, want), "case %u %s: expected '%s' in: %s", c->id, c->name, want, l);
        checked++;
    }
    cr_expect_eq(checked, nerr);
    cr_expect_gt(nerr, 10, "the vector set should hold many bad inputs");
    free(log);
    free(ids);
    vsok_vec_free(set);
}

Test(echo, every_vector_echoes_valid_frames_and_names_the_error_unix) { vectors_through_echo(0); }
Test(echo, every_vector_echoes_valid_frames_and_names_the_error_tcp) { vectors_through_echo(1); }

/* ---------------------------------------------------------- slowloris */

Test(echo, slowloris_is_cut_off_by_message_timeout)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "--msg-timeout", "300ms", "listen", listen_addr(1, addr, sizeof addr), NULL);
    int fd = tconnect(p.addr);
    /* a header announcing 16 bytes, then one byte every 50 ms */
    const uint8_t hdr[8] = {'V', 'S', 'O', 'K', 0, 0, 0, 16};
    twrite(fd, hdr, sizeof hdr);
    int cut = 0;
    for (int i = 0; i < 16 && !cut; i++) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 50) > 0) {
            cut = 1;
            break;
        }
        if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
            cut = 1;
    }
    /* 16 bytes at 50 ms would take 800 ms: the peer must end it first */
    cr_expect(cut || texpect_end(fd, T_IO_MS), "slow frame not cut off");
    close(fd);
    /* an unaffected client still works */
    fd = tconnect(p.addr);
    cr_assert_eq(vsok_write_message(fd, "ok", 2), VSOK_OK);
    uint8_t *m;
    size_t n;
    cr_assert_eq(vsok_read_message(fd, &m, &n), VSOK_OK);
    cr_expect_eq(n, 2);
    free(m);
    close(fd);
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "timeouts.message"), 1, "%s", st);
    cr_expect_eq(tfield(st, "errors.Timeout"), 1, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, idle_connection_is_closed_after_idle_timeout)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "--idle-timeout", "200ms", "listen", listen_addr(0, addr, sizeof addr), NULL);
    int fd = tconnect(p.addr);
    cr_expect(texpect_end(fd, T_IO_MS), "idle connection never closed");
    close(fd);
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "timeouts.idle"), 1, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

/* --------------------------------------------------------- reset, close */

static void reset_mid_frame(int tcp)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(tcp, addr, sizeof addr), NULL);
    int keep = tconnect(p.addr);
    for (int i = 0; i < 20; i++) {
        int fd = tconnect(p.addr);
        uint8_t f[8 + 1000];
        uint8_t pay[1000];
        tfill(pay, sizeof pay, (uint32_t)i);
        tframe(f, pay, sizeof pay);
        twrite(fd, f, 8 + (size_t)(i * 37) % 1000); /* part of a frame */
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* close = RST on TCP */
        close(fd);
    }
    /* the connection opened first still echoes */
    cr_assert_eq(vsok_write_message(keep, "still here", 10), VSOK_OK);
    uint8_t *m;
    size_t n;
    cr_assert_eq(vsok_read_message(keep, &m, &n), VSOK_OK);
    cr_expect(n == 10 && memcmp(m, "still here", 10) == 0);
    free(m);
    close(keep);
    /* every reset connection ended with an error by name */
    char *st = tpeer_stats(&p);
    long long ended = tfield(st, "errors.Io") + tfield(st, "errors.Truncated");
    for (int i = 0; i < 200 && ended < 20; i++) { /* closes race the stats request: bounded retry */
        free(st);
        st = tpeer_stats(&p);
        ended = tfield(st, "errors.Io") + tfield(st, "errors.Truncated");
    }
    cr_expect_eq(ended, 20, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, clients_reset_mid_frame_do_not_disturb_others_tcp) { reset_mid_frame(1); }
Test(echo, clients_closing_mid_frame_do_not_disturb_others_unix) { reset_mid_frame(0); }

static void half_close(int tcp)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(tcp, addr, sizeof addr), NULL);
    /* ~6 MiB of mixed frames, written while echoes come back, then SHUT_WR */
    size_t cap = 8u << 20, n = 0;
    uint8_t *in = malloc(cap), *pay = malloc(VSOK_MAX_PAYLOAD);
    for (uint32_t i = 0; n + VSOK_HEADER_SIZE + VSOK_MAX_PAYLOAD < cap && i < 400; i++) {
        size_t len = mixed_sizes[i % NSIZES];
        tfill(pay, len, i);
        tframe(in + n, pay, len);
        n += VSOK_HEADER_SIZE + len;
    }
    int fd = tconnect(p.addr);
    uint8_t *out;
    size_t outlen;
    cr_assert_eq(texchange(fd, in, n, &out, &outlen), 0, "no end of stream after half-close");
    cr_expect_eq(outlen, n, "got %zu of %zu echoed bytes", outlen, n);
    cr_expect(outlen == n && memcmp(in, out, n) == 0, "echo differs");
    close(fd);
    free(in);
    free(out);
    free(pay);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, half_close_still_gets_every_echo_tcp) { half_close(1); }
Test(echo, half_close_still_gets_every_echo_unix) { half_close(0); }

/* ------------------------------------------- frames cut where a read ends */

#define CUT_FRAMES 3
#define CUT_LEN 65536

/* Three whole 64 KiB frames and the first cut bytes of a fourth in one
 * write: the three are echoed at once (the cut frame is not waited for),
 * nothing of the fourth until its rest comes; then the rest, and the fourth
 * comes back whole.  Then a fifth cut off and the stream ended: Truncated
 * at the end of the stream, nothing of the fifth echoed.  The peer reads a
 * cut frame's rest right behind it in its read buffer when it has arrived
 * and hands it to the decoder when not; either way the outcome is this. */
static void cut_frames(int tcp, size_t cut)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(tcp, addr, sizeof addr), NULL);
    const size_t fl = VSOK_HEADER_SIZE + CUT_LEN, n = (CUT_FRAMES + 2) * fl;
    uint8_t *in = malloc(n), *back = malloc(n), *pay = malloc(CUT_LEN);
    for (uint32_t i = 0; i < CUT_FRAMES + 2; i++) {
        tfill(pay, CUT_LEN, i);
        tframe(in + i * fl, pay, CUT_LEN);
    }
    int fd = tconnect(p.addr);
    twrite(fd, in, CUT_FRAMES * fl + cut);
    cr_assert_eq(tread_exact(fd, back, CUT_FRAMES * fl), 0, "cut %zu: the whole frames were not echoed", cut);
    cr_expect(memcmp(back, in, CUT_FRAMES * fl) == 0, "cut %zu: echo of the whole frames differs", cut);
    struct pollfd pf = {fd, POLLIN, 0};
    cr_expect_eq(poll(&pf, 1, 100), 0, "cut %zu: something of the cut frame was echoed early", cut);
    twrite(fd, in + CUT_FRAMES * fl + cut, fl); /* its rest, and as much of the next */
    cr_assert_eq(tread_exact(fd, back, fl), 0, "cut %zu: the cut frame was not echoed", cut);
    cr_expect(memcmp(back, in + CUT_FRAMES * fl, fl) == 0, "cut %zu: echo of the cut frame differs", cut);
    shutdown(fd, SHUT_WR);
    cr_expect(texpect_end(fd, T_IO_MS), "cut %zu: no end of stream after the truncated frame", cut);
    close(fd);
    cr_expect_eq(tpeer_stop(&p), 0);
    char *log = tpeer_log(&p), want[128];
    snprintf(want, sizeof want, " error=Truncated offset=%zu ", (CUT_FRAMES + 1) * fl + cut);
    cr_expect_not_null(strstr(log, want), "cut %zu: expected '%s' in: %s", cut, want, log);
    free(log);
    free(in);
    free(back);
    free(pay);
}

static const size_t cuts[] = {1, 7, 8, 9, 4096, VSOK_HEADER_SIZE + CUT_LEN - 1};

Test(echo, frames_cut_where_a_read_ends_are_echoed_whole_unix)
{
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        cut_frames(0, cuts[i]);
}

Test(echo, frames_cut_where_a_read_ends_are_echoed_whole_tcp)
{
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        cut_frames(1, cuts[i]);
}

/* A bad header right behind a frame cut off at the end of a read (the
 * frame's rest and the bad bytes in one write): the cut frame is echoed
 * whole, nothing of the bad one, and the error is at the bad byte's offset. */
Test(echo, bad_header_behind_a_cut_frame_is_reported_at_its_offset)
{
    for (int tcp = 0; tcp < 2; tcp++) {
        char addr[128];
        tpeer p;
        tpeer_start(&p, "listen", listen_addr(tcp, addr, sizeof addr), NULL);
        const size_t fl = VSOK_HEADER_SIZE + CUT_LEN, cut = 1000;
        uint8_t *in = malloc(2 * fl + 8), *back = malloc(2 * fl), *pay = malloc(CUT_LEN);
        for (uint32_t i = 0; i < 2; i++) {
            tfill(pay, CUT_LEN, i);
            tframe(in + i * fl, pay, CUT_LEN);
        }
        memcpy(in + 2 * fl, "VSOX\0\0\0\1", 8);
        int fd = tconnect(p.addr);
        twrite(fd, in, fl + cut);
        cr_assert_eq(tread_exact(fd, back, fl), 0, "tcp=%d: first frame not echoed", tcp);
        twrite(fd, in + fl + cut, fl - cut + 8);
        uint8_t *out;
        size_t outlen;
        cr_expect_eq(texchange(fd, in, 0, &out, &outlen), 0, "tcp=%d: no end of stream", tcp);
        cr_expect(outlen == fl && memcmp(out, in + fl, fl) == 0,
                  "tcp=%d: echoed %zu bytes, want the cut frame", tcp, outlen);
        free(out);
        close(fd);
        cr_expect_eq(tpeer_stop(&p), 0);
        char *log = tpeer_log(&p), want[128];
        snprintf(want, sizeof want, " error=InvalidMagicBytes offset=%zu ", 2 * fl + 3);
        cr_expect_not_null(strstr(log, want), "tcp=%d: expected '%s' in: %s", tcp, want, log);
        free(log);
        free(in);
        free(back);
        free(pay);
    }
}

/* --------------------------------------------------------- back-pressure */

static void never_reads(int tcp)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "--write-timeout", "1s", "listen", listen_addr(tcp, addr, sizeof addr), NULL);
    int fd = tconnect(p.addr);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    uint8_t *frame = malloc(VSOK_HEADER_SIZE + 65536), pay[65536];
    tfill(pay, sizeof pay, 1);
    tframe(frame, pay, sizeof pay);
    /* send until the peer stops taking bytes (it must, or we stop at 512 MiB) */
    const size_t cap = 512u << 20, flen = VSOK_HEADER_SIZE + 65536;
    size_t sent = 0;
    while (sent < cap) {
        ssize_t w = send(fd, frame + sent % flen, flen - sent % flen, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN)
            break;
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 2000) == 0)
            break; /* blocked for two seconds: the peer stopped reading */
    }
    /* the peer holds at most its high-water mark plus a read and a message,
     * the kernel the socket buffers (a few MiB each way on loopback) */
    cr_expect_lt(sent, 64u << 20, "peer kept accepting %zu bytes from a client that never reads", sent);
    /* another client is served meanwhile */
    int other = tconnect(p.addr);
    cr_assert_eq(vsok_write_message(other, "hi", 2), VSOK_OK);
    uint8_t *m;
    size_t n;
    cr_assert_eq(vsok_read_message(other, &m, &n), VSOK_OK);
    free(m);
    close(other);
    char *st = tpeer_stats(&p);
    cr_expect_geq(tfield(st, "paused"), 1, "%s", st);
    cr_expect_lt(tfield(st, "mem_peak_bytes"), 4 << 20, "%s", st);
    free(st);
    /* and the write timeout ends the silent reader */
    cr_expect(texpect_hangup(fd, T_IO_MS), "a client that never reads was never dropped");
    close(fd);
    free(frame);
    st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "timeouts.write"), 1, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, client_that_never_reads_is_bounded_and_dropped_tcp) { never_reads(1); }
Test(echo, client_that_never_reads_is_bounded_and_dropped_unix) { never_reads(0); }

/* ------------------------------------------------------------- limits */

Test(echo, connections_beyond_max_conns_are_refused)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "--max-conns", "3", "listen", listen_addr(1, addr, sizeof addr), NULL);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = tconnect(p.addr);
        /* an exchange makes sure the peer has accepted it */
        cr_assert_eq(vsok_write_message(fds[i], "x", 1), VSOK_OK);
        uint8_t *m;
        size_t n;
        cr_assert_eq(vsok_read_message(fds[i], &m, &n), VSOK_OK);
        free(m);
    }
    int extra = tconnect(p.addr);
    cr_expect(texpect_end(extra, T_IO_MS), "connection over --max-conns not closed");
    close(extra);
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "refused"), 1, "%s", st);
    cr_expect_eq(tfield(st, "active"), 3, "%s", st);
    free(st);
    char *log = tpeer_log(&p);
    cr_expect_not_null(strstr(log, " refused reason=max-conns "), "%s", log);
    free(log);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, out_of_descriptors_refuses_cleanly_and_recovers)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(1, addr, sizeof addr), NULL);
    /* leave the running peer 32 descriptors: its --max-conns is far above */
    struct rlimit lim = {32, 32};
    cr_assert_eq(prlimit(p.pid, RLIMIT_NOFILE, &lim, NULL), 0, "prlimit: %s", strerror(errno));
    enum { N = 40 };
    int fds[N], served = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = tconnect(p.addr);
        uint8_t *m;
        size_t n;
        if (vsok_write_message(fds[i], "x", 1) == VSOK_OK && vsok_read_message(fds[i], &m, &n) == VSOK_OK) {
            free(m);
            cr_expect_eq(refused, 0, "connection %d served after one was refused", i);
            served++;
        } else {
            refused++;
        }
    }
    cr_expect_gt(served, 10);
    cr_expect_gt(refused, 0, "40 connections fit in 32 descriptors?");
    for (int i = 0; i < N; i++)
        close(fds[i]);
    /* descriptors back: once the peer has seen the closes (a connection that
     * races them is refused, and one behind a paused accept waits for the
     * sweep), it serves again */
    cr_assert_eq(tpeer_wait_stat(&p, "active", 0), 0, "the peer did not see the closes");
    int ok = 0;
    const int64_t end = tnow_ms() + T_IO_MS;
    for (int tries = 0; tries < 100 && !ok && tnow_ms() < end; tries++) {
        int fd = tconnect(p.addr);
        uint8_t *m;
        size_t n;
        if (vsok_write_message(fd, "y", 1) == VSOK_OK && vsok_read_message(fd, &m, &n) == VSOK_OK) {
            free(m);
            ok = 1;
        } else {
            refused++;
        }
        close(fd);
    }
    cr_expect(ok, "peer did not recover after descriptors were freed");
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "refused"), refused, "%s", st);
    free(st);
    char *log = tpeer_log(&p);
    cr_expect_not_null(strstr(log, " refused reason=descriptors "), "%s", log);
    free(log);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(echo, thousand_idle_connections_stay_small)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(1, addr, sizeof addr), NULL);
    enum { N = 1000 };
    static int fds[N];
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 64 && rl.rlim_max >= N + 64) {
        rl.rlim_cur = rl.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < N + 64)
        cr_skip_test("RLIMIT_NOFILE hard limit %llu is below %d", (unsigned long long)rl.rlim_max, N + 64);
    for (int i = 0; i < N; i++) {
        fds[i] = tconnect(p.addr);
        cr_assert_eq(vsok_write_message(fds[i], "ping", 4), VSOK_OK);
    }
    for (int i = 0; i < N; i++) {
        uint8_t *m;
        size_t n;
        cr_assert_eq(vsok_read_message(fds[i], &m, &n), VSOK_OK, "connection %d", i);
        free(m);
    }
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "active"), N, "%s", st);
    cr_expect_leq(tfield(st, "mem_per_conn_bytes"), 16384, "%s", st);
    free(st);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    cr_expect_eq(tpeer_stop(&p), 0);
}

/* ------------------------------------------------------------ shutdown */

Test(echo, sigterm_finishes_the_message_in_flight)
{
    char addr[128];
    tpeer p;
    tpeer_start(&p, "listen", listen_addr(1, addr, sizeof addr), NULL);
    int fd = tconnect(p.addr);
    uint8_t f[8 + 100], pay[100];
    tfill(pay, sizeof pay, 7);
    tframe(f, pay, sizeof pay);
    twrite(fd, f, 50);
    /* wait until the peer has those 50 bytes (bounded: stats polling) */
    long long in = 0;
    for (int i = 0; i < 200 && in < 50; i++) {
        char *st = tpeer_stats(&p);
        in = tfield(st, "bytes_in");
        free(st);
    }
    cr_assert_eq(in, 50);
    kill(p.pid, SIGTERM);
    twrite(fd, f + 50, sizeof f - 50);
    /* the message in flight is finished and echoed, then the peer closes */
    uint8_t back[sizeof f];
    cr_assert_eq(tread_exact(fd, back, sizeof back), 0, "in-flight message not echoed");
    cr_expect_eq(memcmp(back, f, sizeof f), 0);
    cr_expect(texpect_end(fd, T_IO_MS));
    close(fd);
    cr_expect_eq(tpeer_wait(&p, T_IO_MS), 0, "peer did not exit 0 after SIGTERM");
    char *log = tpeer_log(&p);
    cr_expect_not_null(strstr(log, " exit conns=1 "), "%s", log);
    free(log);
}
