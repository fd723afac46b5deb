/* outq.h - a connection's pending output: bytes the kernel would not take yet.
 *
 * Empty costs nothing (no chunk allocated).  Small appends share 16 KiB
 * chunks; a large one gets a chunk of its own size.  The caller bounds it by
 * not reading while outq_bytes() is above its high-water mark. */
#ifndef PEER_OUTQ_H
#define PEER_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct outq_chunk outq_chunk;

typedef struct outq {
    outq_chunk *head, *tail;
    size_t bytes; /* pending */
    size_t alloc; /* heap held */
} outq;

/* Copies n bytes to the tail.  Returns 0, or -1 when out of memory. */
int outq_append(outq *q, const void *p, size_t n);
/* Copies iov[0..cnt) skipping the first skip bytes. */
int outq_append_iov(outq *q, const struct iovec *iov, int cnt, size_t skip);
/* writev(2)s as much as fd takes.  Returns bytes written (0 on EAGAIN) or -1
 * with errno set. */
ssize_t outq_write(outq *q, int fd);
void outq_free(outq *q);

#endif
