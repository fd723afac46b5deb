/* SPDX-License-Identifier: MIT */
/* test_bounds.c - the peer's three rules a correct or hostile client must
 * find exactly as documented:
 *   - the message timeout measures one message, from its first byte to its
 *     last, whatever the read alignment (echo and relay);
 *   - memory follows the bytes received, not the length announced;
 *   - a relay pair whose sockets are both hung up costs no CPU while it
 *     waits for output to drain (no EPOLLHUP busy loop). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"

TestSuite(bounds, .timeout = 120);

/* ------------------------------------------------ unaligned paced stream */

enum { PAY = 16001, FRAME = VSOK_HEADER_SIZE + PAY, CHUNK = 4096, NFRAMES = 400 };

/* The expected stream: NFRAMES frames of 16,001 bytes. */
static uint8_t *make_stream(void)
{
    uint8_t *s = malloc((size_t)NFRAMES * FRAME), *pay = malloc(PAY);
    cr_assert(s && pay);
    for (int i = 0; i < NFRAMES; i++) {
        tfill(pay, PAY, (uint32_t)i);
        tframe(s + (size_t)i * FRAME, pay, PAY);
    }
    free(pay);
    return s;
}

/* Reads what is ready on fd into got (bounded by cap); -1 at end of stream
 * or error. */
static int drain_into(int fd, uint8_t *got, size_t *have, size_t cap)
{
    ssize_t r = recv(fd, got + *have, cap - *have, MSG_DONTWAIT);
    if (r > 0) {
        *have += (size_t)r;
        return 0;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return -1;
}

/* Streams frames in 4 KiB writes, one write every 10 ms (about 400 KB/s), for
 * run_ms, so no read the peer makes ever ends on a frame boundary.  fd is the
 * client; if echo_fd >= 0 it is the relay's target side, which the test
 * serves as an echo.  Everything sent must come back byte for byte: a peer
 * that measures the clock from the first partial read (not from each
 * message's first byte) cuts the stream after one timeout. */
static void paced_unaligned(int fd, int echo_fd, int64_t run_ms)
{
    uint8_t *want = make_stream();
    size_t cap = (size_t)NFRAMES * FRAME;
    uint8_t *got = malloc(cap), *relay_buf = malloc(1 << 16);
    size_t sent = 0, have = 0;
    int cut = 0;
    const int64_t start = tnow_ms(), stop = start + run_ms;
    int64_t next = start;
    /* bounded: at most cap / CHUNK writes, each step waits at most 10 ms */
    for (int step = 0; step < 200000 && !cut; step++) {
        int64_t t = tnow_ms();
        int writing = t < stop && sent + CHUNK < cap;
        if (!writing && sent % FRAME == 0)
            break;
        if (t >= next) {
            /* after the deadline: finish the frame under way in one write */
            size_t n = writing ? CHUNK : FRAME - sent % FRAME;
            ssize_t w = send(fd, want + sent, n, MSG_NOSIGNAL);
            if (w <= 0) {
                cut = 1;
                break;
            }
            sent += (size_t)w;
            next += 10;
        }
        struct pollfd pf[2] = {{fd, POLLIN, 0}, {echo_fd, POLLIN, 0}};
        int wait = (int)(next - tnow_ms());
        if (poll(pf, echo_fd >= 0 ? 2 : 1, wait < 0 ? 0 : wait) < 0 && errno != EINTR)
            cr_assert_fail("poll: %s", strerror(errno));
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) && drain_into(fd, got, &have, cap) != 0)
            cut = 1;
        if (echo_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = recv(echo_fd, relay_buf, 1 << 16, MSG_DONTWAIT);
            if (r > 0)
                twrite(echo_fd, relay_buf, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                cut = 1;
        }
    }
    cr_expect_not(cut, "the peer cut a correct client after %zu of its bytes", sent);
    cr_expect_geq(tnow_ms() - start, run_ms, "the stream ended before its run time");
    /* the echo of everything sent, then a clean end */
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 10000 && have < sent && !cut; i++) {
        struct pollfd pf[2] = {{fd, POLLIN, 0}, {echo_fd, POLLIN, 0}};
        cr_assert_gt(poll(pf, echo_fd >= 0 ? 2 : 1, T_IO_MS), 0, "echo of the tail never came");
        if (pf[0].revents && drain_into(fd, got, &have, cap) != 0)
            break;
        if (echo_fd >= 0 && pf[1].revents) {
            ssize_t r = recv(echo_fd, relay_buf, 1 << 16, MSG_DONTWAIT);
            if (r > 0)
                twrite(echo_fd, relay_buf, (size_t)r);
            else if (r == 0)
                shutdown(echo_fd, SHUT_WR);
        }
    }
    if (echo_fd >= 0) {
        /* the relay passes the client's end on; the target ends in turn */
        char rest[64];
        cr_expect_eq(recv(echo_fd, rest, sizeof rest, 0), 0, "target: more bytes or no end of stream");
        shutdown(echo_fd, SHUT_WR);
    }
    cr_expect_eq(have, sent, "echoed %zu of %zu bytes", have, sent);
    cr_expect_eq(memcmp(got, want, have < sent ? have : sent), 0, "echo differs");
    free(want);
    free(got);
    free(relay_buf);
}

Test(bounds, unaligned_paced_stream_outlives_the_message_timeout_echo)
{
    tpeer p;
    tpeer_start(&p, "--msg-timeout", "1s", "listen", "tcp:127.0.0.1:0", NULL);
    int fd = tconnect(p.addr);
    paced_unaligned(fd, -1, 4000);
    cr_expect(texpect_end(fd, T_IO_MS));
    close(fd);
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "timeouts.message"), 0, "%s", st);
    cr_expect_eq(tfield(st, "errors.Timeout"), 0, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

typedef struct relay_setup {
    int lfd; /* the target's listening socket (ours) */
    char target[128];
    tpeer relay;
} relay_setup;

static void relay_start(relay_setup *s, int unix_socks, const char *const *extra)
{
    char err[256], front[128];
    if (unix_socks) {
        tunix_addr(s->target, sizeof s->target);
        tunix_addr(front, sizeof front);
    } else {
        snprintf(s->target, sizeof s->target, "tcp:127.0.0.1:0");
        snprintf(front, sizeof front, "tcp:127.0.0.1:0");
    }
    cr_assert_eq(vsok_listen(s->target, 16, &s->lfd, err, sizeof err), VSOK_OK, "%s", err);
    vsok_addr bound;
    cr_assert_eq(vsok_addr_from_fd(s->lfd, 0, &bound), VSOK_OK);
    vsok_addr_format(&bound, s->target, sizeof s->target);
    const char *args[16];
    int n = 0;
    for (; extra && extra[n]; n++)
        args[n] = extra[n];
    args[n++] = "relay";
    args[n++] = front;
    args[n++] = s->target;
    args[n] = NULL;
    tpeer_startv(&s->relay, 1, -1, -1, args);
}

static void relay_pair(relay_setup *s, int *client, int *target)
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

Test(bounds, unaligned_paced_stream_outlives_the_message_timeout_relay)
{
    relay_setup s;
    const char *extra[] = {"--msg-timeout", "1s", NULL};
    relay_start(&s, 0, extra);
    int c, t;
    relay_pair(&s, &c, &t);
    paced_unaligned(c, t, 4000);
    cr_expect(texpect_end(c, T_IO_MS));
    close(c);
    close(t);
    char *st = tpeer_stats(&s.relay);
    cr_expect_eq(tfield(st, "timeouts.message"), 0, "%s", st);
    cr_expect_eq(tfield(st, "errors.Timeout"), 0, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    char *log = tpeer_log(&s.relay);
    cr_expect_null(strstr(log, " violation "), "%s", log);
    free(log);
    close(s.lfd);
}

/* ------------------------------------------------ slow payload memory */

static long vm_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* A connection retried after a full accept queue is late: wait for the bytes. */
static void wait_bytes_in(tpeer *p, long long want)
{
    cr_assert_eq(tpeer_wait_stat(p, "bytes_in", want), want, "the peer did not receive every byte");
}

/* 1,000 connections each announce 1 MiB, send 1 payload byte, and later one
 * more in a separate write.  Each frame has 2 bytes of payload in: the peer
 * may hold 2 x 2 bytes + 4 KiB per connection, not a read-ahead buffer. */
Test(bounds, slow_payload_costs_what_was_received_not_what_was_announced)
{
    enum { N = 1000, PER_CONN = 2 * 2 + 4096 };
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 64 && rl.rlim_max >= N + 64) {
        rl.rlim_cur = rl.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < N + 64)
        cr_skip_test("RLIMIT_NOFILE hard limit %llu is below %d", (unsigned long long)rl.rlim_max, N + 64);
    tpeer p;
    tpeer_start(&p, "listen", "tcp:127.0.0.1:0", NULL);
    /* baseline: one connection through a whole big frame, so the shared read
     * buffer and allocator arenas are already paid for */
    int f0 = tconnect(p.addr);
    uint8_t *big = calloc(1, VSOK_MAX_PAYLOAD);
    cr_assert_eq(vsok_write_message(f0, big, VSOK_MAX_PAYLOAD), VSOK_OK);
    uint8_t *m;
    size_t n;
    cr_assert_eq(vsok_read_message(f0, &m, &n), VSOK_OK);
    free(m);
    free(big);
    close(f0);
    wait_bytes_in(&p, VSOK_HEADER_SIZE + VSOK_MAX_PAYLOAD);
    long base_kib = vm_rss_kib(p.pid);
    const long long base_in = VSOK_HEADER_SIZE + VSOK_MAX_PAYLOAD;

    static int fds[N];
    const uint8_t hdr[9] = {'V', 'S', 'O', 'K', 0, 0x10, 0, 0, 'x'}; /* 1 MiB announced, 1 byte */
    for (int i = 0; i < N; i++) {
        fds[i] = tconnect(p.addr);
        twrite(fds[i], hdr, sizeof hdr);
    }
    wait_bytes_in(&p, base_in + (long long)N * 9);
    for (int i = 0; i < N; i++)
        twrite(fds[i], "y", 1);
    wait_bytes_in(&p, base_in + (long long)N * 10);

    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "active"), N, "%s", st);
    cr_expect_leq(tfield(st, "mem_bytes"), (long long)N * PER_CONN, "%s", st);
    long rss_kib = vm_rss_kib(p.pid);
    cr_log_info("peer memory %lld bytes, VmRSS +%ld KiB for %d slow connections", tfield(st, "mem_bytes"),
                rss_kib - base_kib, N);
    cr_expect_leq((rss_kib - base_kib) * 1024, (long)N * PER_CONN,
                  "VmRSS grew by %ld KiB for %d connections of 10 bytes each", rss_kib - base_kib, N);
    free(st);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    tpeer_stop(&p);
}

/* ------------------------------------------------ relay hang-up spin */

/* Over Unix sockets (a half-close is seen at once, whatever is buffered):
 * the target half-closes and stops reading; the client fills the relay with
 * frames, sees end of stream, and sends its FIN.  Both of the relay's client
 * socket directions are now shut (EPOLLHUP, reported whatever the interest)
 * while output to the target is still queued.  Waiting for that output must
 * cost no CPU.  Then the target reads: every byte arrives, then the end. */
static void hup_wait(const char *write_timeout)
{
    relay_setup s;
    const char *extra[] = {"--write-timeout", write_timeout, NULL};
    relay_start(&s, 1, extra);
    int c, t;
    relay_pair(&s, &c, &t);
    cr_assert_eq(shutdown(t, SHUT_WR), 0);
    /* the relay half-closes the client in turn */
    cr_assert(texpect_end(c, T_IO_MS), "relay did not pass on the target's end of stream");

    /* fill the relay until the client cannot write any more (bounded) */
    enum { PAYLEN = 65536, CAP = 64 << 20 };
    uint8_t *f = malloc(VSOK_HEADER_SIZE + PAYLEN);
    uint8_t *pay = malloc(PAYLEN);
    tfill(pay, PAYLEN, 1);
    tframe(f, pay, PAYLEN);
    free(pay);
    size_t sent = 0;
    int fl = fcntl(c, F_GETFL);
    fcntl(c, F_SETFL, fl | O_NONBLOCK);
    for (int i = 0; sent < CAP && i < 100000; i++) {
        size_t off = sent % (VSOK_HEADER_SIZE + PAYLEN);
        ssize_t w = send(c, f + off, VSOK_HEADER_SIZE + PAYLEN - off, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            continue;
        }
        cr_assert(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "send: %s", strerror(errno));
        /* full: give the relay a bounded chance to take more */
        struct pollfd pf = {c, POLLOUT, 0};
        if (poll(&pf, 1, 200) == 0)
            break;
    }
    cr_assert_lt(sent, CAP, "the relay took %zu bytes without back-pressure", sent);
    fcntl(c, F_SETFL, fl);
    /* the FIN, possibly inside a frame: the relay forwards every payload
     * byte and holds back only an incomplete header, then reports the
     * truncation when it reaches the end */
    size_t off = sent % (VSOK_HEADER_SIZE + PAYLEN);
    size_t expect = off > 0 && off < VSOK_HEADER_SIZE ? sent - off : sent;
    cr_assert_eq(shutdown(c, SHUT_WR), 0);

    /* the window: the relay waits on a target that does not read */
    double cpu0 = tpeer_cpu_seconds(&s.relay);
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL); /* a measurement window, not synchronisation */
    double used = tpeer_cpu_seconds(&s.relay) - cpu0;

    /* now the target reads everything: the relay must resume */
    uint8_t *got = malloc(CAP);
    size_t have = 0;
    for (int i = 0; i < 100000; i++) {
        ssize_t r = recv(t, got + have, CAP - have, 0);
        if (r == 0)
            break;
        cr_assert_gt(r, 0, "target recv: %s", strerror(errno));
        have += (size_t)r;
    }
    cr_log_info("relay used %.2f CPU seconds in the 3 s wait", used);
    cr_expect_leq(used, 0.3, "relay burnt %.2f CPU seconds in a 3 s wait", used);
    cr_expect_eq(have, expect, "target got %zu of %zu bytes", have, expect);
    for (size_t i = 0; i + VSOK_HEADER_SIZE + PAYLEN <= have; i += VSOK_HEADER_SIZE + PAYLEN)
        cr_assert_eq(memcmp(got + i, f, VSOK_HEADER_SIZE + PAYLEN), 0, "frame at %zu differs", i);
    free(got);
    free(f);
    close(c);
    close(t);
    cr_expect_eq(tpeer_stop(&s.relay), 0);
    close(s.lfd);
}

Test(bounds, relay_waiting_on_a_hung_up_client_costs_no_cpu) { hup_wait("30s"); }
Test(bounds, relay_waiting_on_a_hung_up_client_costs_no_cpu_without_write_timeout) { hup_wait("0"); }
