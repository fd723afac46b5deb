/* SPDX-License-Identifier: MIT */
/* tutil.h - helpers shared by the vsok Criterion tests: frame building that
 * does not go through the library under test, deterministic data, and peer
 * threads over socketpairs. */
#ifndef VSOK_TUTIL_H
#define VSOK_TUTIL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Writes "VSOK" + big-endian len into out[0..8) (no validation: tests use it
 * to build invalid frames too). */
void tu_header(uint8_t out[8], uint32_t len);

/* Appends a frame (header + payload) at out; returns bytes written. */
size_t tu_frame(uint8_t *out, const void *payload, uint32_t len);

/* malloc'd frame for a payload of len pattern bytes (seed); *frame_len set. */
uint8_t *tu_frame_alloc(size_t len, uint32_t seed, size_t *frame_len);

/* Fills buf with a deterministic pattern derived from seed. */
void tu_fill(uint8_t *buf, size_t n, uint32_t seed);

/* xorshift32; state must be non-zero. */
uint32_t tu_rand(uint32_t *state);

/* AF_UNIX stream socketpair (asserts on failure). */
void tu_socketpair(int sv[2]);

/* A socketpair with both ends' buffers at the kernel minimum. */
void tu_tiny_pair(int sv[2]);

/* Shrinks SO_SNDBUF and SO_RCVBUF of fd to the kernel minimum. */
void tu_tiny_buffers(int fd);

/* Peer thread writing buf[0..len) in pieces of at most chunk bytes (with
 * MSG_NOSIGNAL), then shutdown(SHUT_WR) if shut, close if close_after. */
typedef struct tu_writer {
    int fd;
    const uint8_t *buf;
    size_t len;
    size_t chunk;
    int shut;
    int close_after;
    size_t written;
    int err; /* errno of a failed send, 0 if all went out */
    pthread_t th;
} tu_writer;
void tu_writer_start(tu_writer *w);
void tu_writer_join(tu_writer *w);

/* Peer thread reading everything until EOF (or limit bytes) into a malloc'd
 * buffer. */
typedef struct tu_reader {
    int fd;
    size_t limit;
    uint8_t *buf;
    size_t len;
    int err;
    pthread_t th;
} tu_reader;
void tu_reader_start(tu_reader *r);
void tu_reader_join(tu_reader *r);

/* Signal storm: installs a no-op SIGUSR1 handler without SA_RESTART (so
 * blocking calls fail with EINTR) and runs a thread that pthread_kill()s the
 * target every ~1 ms until stopped or max signals sent. */
typedef struct tu_storm {
    pthread_t target;
    int max;
    atomic_int stop;
    atomic_int sent;
    pthread_t th;
} tu_storm;
void tu_storm_install_handler(void);
int tu_storm_received(void);
void tu_storm_start(tu_storm *st, pthread_t target, int max);
void tu_storm_stop(tu_storm *st);

/* Number of bytes readable right now on fd without blocking (0 if none). */
size_t tu_pending(int fd);

#endif
