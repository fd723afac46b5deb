/* SPDX-License-Identifier: MIT */
/* vm/wait_port.c - vsok-vm-wait PORT PID SECONDS: returns once something
 * accepts connections on vsock:local:PORT inside the test VM.
 *
 * vm/init.sh starts a user's server (scripts/vm-test --iut) and must not
 * start the runner before it listens; an arbitrary program has no readiness
 * signal, so this connects (and at once closes) every 50 ms until a connect
 * succeeds, PID has exited, or SECONDS have passed.  On vsock loopback a
 * connect to a port nobody listens on is answered at once with a reset, so
 * each attempt is quick.
 *
 * Exit status: 0 the port accepts, 1 time is up, 3 PID exited first,
 * 2 bad usage, 77 not inside the VM (guest_guard.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "guest_guard.h"

static long number(const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (errno || end == s || *end || v < 0 || v > max) ? -1 : v;
}

int main(int argc, char **argv)
{
    if (!vsok_vm_guest_check("vsok-vm-wait"))
        return 77;
    long port = argc == 4 ? number(argv[1], 0xFFFFFFFFL) : -1;
    long pid = argc == 4 ? number(argv[2], 1L << 22) : -1;
    long secs = argc == 4 ? number(argv[3], 3600) : -1;
    if (port < 0 || pid <= 0 || secs < 0) {
        fprintf(stderr, "usage: vsok-vm-wait PORT PID SECONDS\n");
        return 2;
    }
    char addr[48];
    snprintf(addr, sizeof addr, "vsock:local:%ld", port);
    int64_t deadline = vsok_now_ms() + secs * 1000;
    for (unsigned tries = 0;; tries++) {
        int fd;
        if (vsok_connect(addr, 1000, &fd, NULL, 0) == VSOK_OK) {
            close(fd);
            return 0;
        }
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            return 3;
        if (vsok_now_ms() >= deadline) {
            fprintf(stderr, "vsok-vm-wait: nothing accepted on %s within %ld s (%u tries)\n", addr, secs,
                    tries + 1);
            return 1;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
