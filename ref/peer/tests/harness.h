/* SPDX-License-Identifier: MIT */
/* harness.h - drive the real vsok-peer binary from Criterion tests.
 * Every wait is bounded; a peer is synchronised with through --ready-fd,
 * never through sleeps. */
#ifndef PEER_HARNESS_H
#define PEER_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define T_IO_MS 15000 /* no single wait in a test exceeds this */

typedef struct tpeer {
    pid_t pid;
    int pidfd;
    char addr[256]; /* bound address from --ready-fd */
    char log[128];  /* its stderr */
    int status;     /* exit status once reaped, -1 before */
} tpeer;

/* Starts vsok-peer with --ready-fd and args (NULL-terminated) and waits for
 * the bound address.  in_fd/out_fd (-1: /dev/null) become its stdin/stdout. */
void tpeer_start(tpeer *p, const char *arg, ...);
void tpeer_startv(tpeer *p, int want_ready, int in_fd, int out_fd, const char *const *args);
/* Waits up to ms for the process to exit; returns its exit code, or -1. */
int tpeer_wait(tpeer *p, int ms);
/* SIGTERM, then waits; returns the exit code (fails the test on a hang). */
int tpeer_stop(tpeer *p);
/* Its stderr so far (malloc'd, NUL-terminated). */
char *tpeer_log(const tpeer *p);
/* Sends SIGUSR1 and returns the stats line it prints (malloc'd). */
char *tpeer_stats(tpeer *p);
/* Value of "key=N" in a text log line, or -1. */
long long tfield(const char *line, const char *key);
/* Polls the stats until key reaches want, bounded in count and by T_IO_MS;
 * returns the last value seen (the caller asserts on it). */
long long tpeer_wait_stat(tpeer *p, const char *key, long long want);
/* CPU seconds (user + system) the running peer has used so far, from
 * /proc/PID/stat (clock-tick resolution). */
double tpeer_cpu_seconds(const tpeer *p);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t tnow_ms(void);

/* A blocking connection with T_IO_MS send/receive timeouts. */
int tconnect(const char *addr);
void twrite(int fd, const void *p, size_t n);
/* Reads exactly n bytes; 0 ok, -1 on end, error or timeout. */
int tread_exact(int fd, void *p, size_t n);
/* 1 when the peer ends the connection (EOF or reset) within ms. */
int texpect_end(int fd, int ms);
/* 1 when the connection is hung up (POLLHUP/POLLERR) within ms, without
 * reading a byte. */
int texpect_hangup(int fd, int ms);
/* header + payload into out (8 + n bytes) */
void tframe(uint8_t *out, const void *payload, size_t n);
/* Writes in[0..n) while reading whatever comes back, half-closes after the
 * last byte, and reads until end of stream.  *out (malloc'd) gets what came
 * back.  Returns 0, or -1 on a timeout or error. */
int texchange(int fd, const uint8_t *in, size_t n, uint8_t **out, size_t *outlen);
/* Deterministic payload bytes for message number seq. */
void tfill(uint8_t *p, size_t n, uint32_t seq);
/* A fresh abstract Unix address, unique per process and call. */
void tunix_addr(char *buf, size_t len);

#endif
