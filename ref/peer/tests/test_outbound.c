/* SPDX-License-Identifier: MIT */
/* test_outbound.c - what a client that never reads its echoes can make
 * vsok-peer hold, by the peer's own statistic (mem_conn_peak_bytes), against
 * the bound ref/peer/README.md documents ("Output bound"). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"

TestSuite(outbound, .timeout = 240);

/* The documented bound, with the names of the README:
 *   Q = high water + R + max payload + 7   queued bytes when reading stops
 *   memory <= S + D + P + Q + (P + 7) + k * (16 KiB + 64)
 * for k queued messages of 16 KiB or more (each message's 8-byte header
 * takes a 16 KiB chunk of its own), R the 256 KiB read buffer, P the max
 * payload (the decoder keeps its buffer; the queue's first chunk stays
 * whole until all of it is sent), S + D < 1 KiB the connection and decoder
 * structs. */
#define KIB 1024ull
#define R_BUF (256 * KIB)
#define CHUNK (16 * KIB)
static unsigned long long documented_bound(unsigned long long hw, unsigned long long p,
                                           unsigned long long frame)
{
    unsigned long long q = hw + R_BUF + p + 7;
    unsigned long long k = (q + (p + 7)) / frame + 2;
    return 1 * KIB + p + q + (p + 7) + k * (CHUNK + 64);
}

/* For any input: pieces under 16 KiB can leave each chunk half empty.
 *   memory <= 1 KiB + P + 2 * (Q + P + 7) + 16 KiB + 32 B per chunk */
static unsigned long long documented_bound_any(unsigned long long hw, unsigned long long p)
{
    unsigned long long q = hw + R_BUF + p + 7, b = q + p + 7;
    return 1 * KIB + p + 2 * b + CHUNK + 32 * (2 * b / CHUNK + 2);
}

/* Sends frames of plen bytes without reading until the peer stops
 * reading (its "paused" statistic) and the socket is full; returns the
 * peer's largest per-connection memory. */
static long long fill_until_paused(tpeer *p, size_t plen, int max_frames)
{
    int fd = tconnect(p->addr);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    size_t flen = VSOK_HEADER_SIZE + plen;
    uint8_t *frame = malloc(flen);
    cr_assert(frame);
    uint8_t *pay = malloc(plen);
    tfill(pay, plen, 1);
    tframe(frame, pay, plen);
    free(pay);
    size_t sent = 0, cap = flen * (size_t)max_frames;
    long long paused = 0;
    int stalls = 0;
    for (int rounds = 0; rounds < 100000 && sent < cap; rounds++) {
        ssize_t w = send(fd, frame + sent % flen, flen - sent % flen, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            continue;
        }
        cr_assert(w < 0 && (errno == EAGAIN || errno == EINTR), "send: %s", strerror(errno));
        char *st = tpeer_stats(p);
        paused = tfield(st, "paused");
        free(st);
        if (paused >= 1)
            break; /* it stopped reading and our socket is full: nothing moves any more */
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 1000) == 0) /* bounded; the stats are asked again either way */
            cr_assert_lt(++stalls, 30, "the peer neither reads nor pauses (sent %zu bytes)", sent);
    }
    char *st = tpeer_stats(p);
    long long peak = tfield(st, "mem_conn_peak_bytes");
    cr_expect_geq(tfield(st, "paused"), 1, "the peer never stopped reading (sent %zu bytes): %s", sent, st);
    cr_log_info("frames of %zu bytes: sent %zu bytes, %s", plen, sent, st);
    free(st);
    close(fd);
    free(frame);
    return peak;
}

static void never_reads(int tcp, size_t plen, int max_frames, const char *hw_opt, unsigned long long hw)
{
    tpeer p;
    char addr[128];
    if (tcp)
        snprintf(addr, sizeof addr, "tcp:127.0.0.1:0");
    else
        tunix_addr(addr, sizeof addr);
    if (hw_opt)
        tpeer_start(&p, "--high-water", hw_opt, "listen", addr, NULL);
    else
        tpeer_start(&p, "listen", addr, NULL);
    long long peak = fill_until_paused(&p, plen, max_frames);
    unsigned long long bound = documented_bound(hw, VSOK_MAX_PAYLOAD, plen);
    cr_expect_gt(peak, 0);
    cr_expect_leq((unsigned long long)peak, bound,
                  "a client that never reads made the peer hold %lld bytes, above the documented %llu", peak,
                  bound);
    cr_log_info("%s, %zu-byte frames, high water %llu: peak %lld bytes, documented bound %llu",
                tcp ? "tcp" : "unix", plen, hw, peak, bound);
    cr_expect_eq(tpeer_stop(&p), 0);
    unlink(p.log);
}

/* the measurement of issue 14: 8 x 1 MiB frames into a client that never reads */
Test(outbound, eight_1mib_frames_unix_stay_within_the_documented_bound)
{
    never_reads(0, 1u << 20, 8, NULL, 1u << 20);
}
Test(outbound, one_mib_frames_tcp_stay_within_the_documented_bound)
{
    never_reads(1, 1u << 20, 256, NULL, 1u << 20);
}
Test(outbound, frames_of_64k_unix_stay_within_the_documented_bound)
{
    never_reads(0, 65536, 512, NULL, 1u << 20);
}
Test(outbound, frames_of_100k_with_4m_high_water_stay_within_the_documented_bound)
{
    never_reads(0, 100000, 512, "4M", 4u << 20);
}

/* Sends one frame of plen bytes and waits (through the statistics, bounded)
 * until the peer has read all sent so far. */
static void send_and_wait_read(tpeer *p, int fd, size_t plen, long long *total)
{
    static uint8_t buf[VSOK_HEADER_SIZE + 65536];
    cr_assert_leq(plen, 65536);
    memset(buf + VSOK_HEADER_SIZE, 'p', plen);
    tframe(buf, buf + VSOK_HEADER_SIZE, plen);
    twrite(fd, buf, VSOK_HEADER_SIZE + plen);
    *total += (long long)(VSOK_HEADER_SIZE + plen);
    for (int i = 0; i < 1000; i++) {
        char *st = tpeer_stats(p);
        long long in = tfield(st, "bytes_in");
        free(st);
        if (in == *total)
            return;
    }
    cr_assert_fail("the peer did not read %lld bytes", *total);
}

/* The worst case of the chunked queue: each read brings one piece that
 * does not fit the room left in the last 16 KiB chunk - a 9-byte frame,
 * then a 16,376-byte one - so every 16 KiB chunk holds about half of it. */
Test(outbound, pieces_that_half_fill_chunks_stay_within_the_bound_for_any_input)
{
    tpeer p;
    char addr[128];
    tunix_addr(addr, sizeof addr);
    tpeer_start(&p, "listen", addr, NULL);
    int fd = tconnect(p.addr);
    long long total = 0, paused = 0, before = -1;
    /* fill the kernel's buffers so the peer's echoes queue up */
    for (int i = 0; i < 64; i++) {
        send_and_wait_read(&p, fd, 65536, &total);
        char *st = tpeer_stats(&p);
        long long mem = tfield(st, "mem_bytes");
        free(st);
        if (mem > 64 * 1024) {
            before = mem;
            break;
        }
    }
    cr_assert_geq(before, 0, "the echoes never queued up");
    for (int i = 0; i < 2000 && paused < 1; i++) {
        send_and_wait_read(&p, fd, i % 2 ? 16368 : 1, &total);
        char *st = tpeer_stats(&p);
        paused = tfield(st, "paused");
        free(st);
    }
    cr_assert_geq(paused, 1, "the peer never stopped reading");
    char *st = tpeer_stats(&p);
    long long peak = tfield(st, "mem_conn_peak_bytes");
    long long queued = tfield(st, "bytes_in") - tfield(st, "bytes_out"); /* every byte is echoed */
    free(st);
    unsigned long long bound = documented_bound_any(1u << 20, VSOK_MAX_PAYLOAD);
    cr_log_info("half-filled chunks: peak %lld bytes for %lld bytes queued (%lld before the small pieces), "
                "documented bound %llu",
                peak, queued, before, bound);
    cr_expect_leq((unsigned long long)peak, bound, "peak %lld above the documented bound %llu", peak, bound);
    close(fd);
    cr_expect_eq(tpeer_stop(&p), 0);
    unlink(p.log);
}
