/* SPDX-License-Identifier: MIT */
/* test_busy.c - --busy-poll: the loop polls for the window after an event
 * and then sleeps, so a peer left idle costs at most one window of CPU.
 * Both measure the peer's CPU (from /proc) while the test waits, bounded,
 * on the connection staying silent: the idleness being measured. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"

TestSuite(busy_poll, .timeout = 60);

/* Starts a busy-polling echo peer on a Unix socket, connects, and does
 * `echoes` round trips of a 64-byte message. */
static int start_and_echo(tpeer *p, const char *window, int echoes)
{
    char addr[128];
    tunix_addr(addr, sizeof addr);
    tpeer_start(p, "--busy-poll", window, "listen", addr, NULL);
    int fd = tconnect(p->addr);
    uint8_t pay[64], f[VSOK_HEADER_SIZE + 64], back[sizeof f];
    for (int i = 0; i < echoes; i++) {
        tfill(pay, sizeof pay, (uint32_t)i);
        tframe(f, pay, sizeof pay);
        twrite(fd, f, sizeof f);
        cr_assert_eq(tread_exact(fd, back, sizeof back), 0, "no echo of message %d", i);
        cr_assert_eq(memcmp(back, f, sizeof f), 0, "echo %d differs", i);
    }
    return fd;
}

/* CPU seconds a peer with --busy-poll WINDOW uses in idle_ms of silence
 * after its last echo (the wait is on the idle connection's end). */
static double idle_cpu_after_echo(const char *window, int idle_ms)
{
    tpeer p;
    int fd = start_and_echo(&p, window, 3);
    double cpu0 = tpeer_cpu_seconds(&p);
    cr_assert_eq(texpect_end(fd, idle_ms), 0, "the peer ended an idle connection");
    double used = tpeer_cpu_seconds(&p) - cpu0;
    cr_log_info("--busy-poll %s: %.2f CPU seconds in %d ms idle after the last echo", window, used, idle_ms);
    close(fd);
    cr_expect_eq(tpeer_stop(&p), 0);
    return used;
}

/* A peer that spun on after its window (or forever) burns the whole wait:
 * about 2 CPU seconds, or what a loaded machine leaves it of them. */
Test(busy_poll, an_idle_peer_stops_polling_after_the_window)
{
    double used = idle_cpu_after_echo("50ms", 2000);
    cr_expect_leq(used, 0.3, "an idle peer with --busy-poll 50ms used %.2f CPU seconds in 2 s", used);
}

/* With a 400 ms window the peer polls for 400 ms after the last echo:
 * 0.05 CPU seconds at the least even if a loaded machine (and this
 * suite's other tests, run in parallel) leave it only an eighth of a core.
 * A peer that ignores the option sleeps at once and uses next to nothing
 * (a sweep every 250 ms; 0.00 s measured). */
Test(busy_poll, polls_for_the_window_after_an_echo)
{
    double used = idle_cpu_after_echo("400ms", 1000);
    cr_expect_geq(used, 0.05, "--busy-poll 400ms used only %.2f CPU seconds after an echo", used);
    cr_expect_leq(used, 0.8, "--busy-poll 400ms used %.2f CPU seconds in 1 s idle", used);
}

/* A client slower than the window: 12 messages, each after 150 ms of
 * silence, with a 100 ms window.  The first window after an echo brings
 * nothing and turns polling off; each later message comes after the
 * window would have ended, so polling stays off: about one window of CPU
 * in all.  Polling a whole window after every message would be 1.2 s. */
Test(busy_poll, a_client_slower_than_the_window_costs_one_window_not_one_per_message)
{
    tpeer p;
    int fd = start_and_echo(&p, "100ms", 1);
    double cpu0 = tpeer_cpu_seconds(&p);
    uint8_t pay[64], f[VSOK_HEADER_SIZE + 64], back[sizeof f];
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(texpect_end(fd, 150), 0, "the peer ended an idle connection");
        tfill(pay, sizeof pay, (uint32_t)i);
        tframe(f, pay, sizeof pay);
        twrite(fd, f, sizeof f);
        cr_assert_eq(tread_exact(fd, back, sizeof back), 0, "no echo of message %d", i);
        cr_assert_eq(memcmp(back, f, sizeof f), 0, "echo %d differs", i);
    }
    double used = tpeer_cpu_seconds(&p) - cpu0;
    cr_log_info("--busy-poll 100ms, a message every 150 ms: %.2f CPU seconds for 12", used);
    cr_expect_leq(used, 0.5, "--busy-poll 100ms used %.2f CPU seconds for 12 messages 150 ms apart", used);
    close(fd);
    cr_expect_eq(tpeer_stop(&p), 0);
}
