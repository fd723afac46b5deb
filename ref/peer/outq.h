/* SPDX-License-Identifier: MIT */
/* outq.h - output of one connection (or relay direction): what is staged for
 * the next write, and what the kernel would not take yet.
 *
 * The one write path of echo, source and relay: spans are staged without a
 * copy (they point into the read buffer, a decoder buffer or constant
 * payload), outq_flush writes them in one writev, and only what the kernel
 * does not take is copied into the queue, which is drained on EPOLLOUT.
 * Empty costs nothing (no chunk allocated).  A queue chunk holds at most
 * max(n, min(16 KiB, 2 x pending)) bytes, so queued memory stays within
 * twice the bytes queued plus one small chunk.  The caller bounds the queue
 * by not reading while outq_bytes is above its high-water mark. */
#ifndef PEER_OUTQ_H
#define PEER_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define OUTQ_IOV_MAX 1024 /* IOV_MAX on Linux */

typedef struct outq_chunk outq_chunk;

typedef struct outq {
    outq_chunk *head, *tail;
    size_t bytes; /* pending */
    size_t alloc; /* heap held */
} outq;

/* Spans staged for one flush: scratch shared by a service's connections
 * (one connection stages, flushes, and the next one starts empty). */
typedef struct outq_batch {
    struct iovec iov[OUTQ_IOV_MAX];
    int n;
    size_t bytes;
} outq_batch;

/* Stages p[0..n) (borrowed until the flush), merged with the last span when
 * contiguous.  When the batch is full it is flushed to (q, fd) first.
 * Returns like outq_flush when that happened, else 0. */
ssize_t outq_stage(outq *q, outq_batch *b, int fd, const void *p, size_t n);
/* Writes the batch behind q: straight to fd when q is empty, the rest (or
 * all, when q holds bytes) copied into q.  Empties the batch.  Returns the
 * bytes written (0 on EAGAIN), or -1 with errno set (write error, or ENOMEM
 * copying into q). */
ssize_t outq_flush(outq *q, outq_batch *b, int fd);
/* writev(2)s as much of q as fd takes.  Returns bytes written (0 on EAGAIN)
 * or -1 with errno set. */
ssize_t outq_write(outq *q, int fd);
void outq_free(outq *q);

#endif
