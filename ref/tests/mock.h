/* SPDX-License-Identifier: MIT */
/* mock.h - a scripted vsok_stream for tests: each read/write call follows the
 * next step of a script (move n bytes, fail with EINTR/EAGAIN/errno, end of
 * stream), and every write call's size is recorded. */
#ifndef VSOK_TEST_MOCK_H
#define VSOK_TEST_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <vsok/stream.h>

typedef enum { M_DATA = 1, M_EINTR, M_EAGAIN, M_ERR, M_EOF } mock_kind;

typedef struct mock_step {
    mock_kind kind;
    size_t n; /* M_DATA: at most n bytes (0 = as many as asked) */
    int err;  /* M_ERR: errno */
} mock_step;

#define MOCK_MAX_CALLS 4096

typedef struct mock {
    const mock_step *rscript, *wscript;
    size_t nr, nw, rstep, wstep;
    size_t max_read;    /* after the script: bytes per read (0 = as asked) */
    size_t max_write;   /* after the script: bytes per write (0 = as asked) */
    const uint8_t *src; /* what reads deliver */
    size_t srclen, srcpos;
    uint8_t *sink; /* what writes accepted */
    size_t sinkcap, sinklen;
    size_t calls[MOCK_MAX_CALLS]; /* bytes offered by each write/writev call */
    size_t ncalls;
    size_t read_calls, write_calls, writev_calls;
} mock;

/* Clears m and makes its reads deliver src[0..len). */
void mock_reader(mock *m, const void *src, size_t len);

/* A stream over m (poll_fd -1); with_writev 0 leaves writev NULL. */
vsok_stream mock_stream(mock *m, int with_writev);

#endif
