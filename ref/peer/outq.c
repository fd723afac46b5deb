/* SPDX-License-Identifier: MIT */
/* outq.c - chunked byte queue drained with writev. */
#include "outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_MIN 16384
#define CHUNK_SMALL 256
#define WRITEV_MAX 64

struct outq_chunk {
    outq_chunk *next;
    size_t off, len, cap; /* unsent bytes are data[off..len) */
    uint8_t data[];
};

static int outq_append(outq *q, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    outq_chunk *t = q->tail;
    if (t && t->cap - t->len >= n) {
        memcpy(t->data + t->len, p, n);
        t->len += n;
        q->bytes += n;
        return 0;
    }
    /* small queues get small chunks: queued memory follows queued bytes */
    size_t cap = 2 * (q->bytes + n);
    if (cap > CHUNK_MIN)
        cap = CHUNK_MIN;
    if (cap < CHUNK_SMALL)
        cap = CHUNK_SMALL;
    if (cap < n)
        cap = n;
    outq_chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return -1;
    c->next = NULL;
    c->off = 0;
    c->len = n;
    c->cap = cap;
    memcpy(c->data, p, n);
    if (t)
        t->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += n;
    q->alloc += sizeof *c + cap;
    return 0;
}

static int outq_append_iov(outq *q, const struct iovec *iov, int cnt, size_t skip)
{
    for (int i = 0; i < cnt; i++) {
        size_t l = iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        if (outq_append(q, (const uint8_t *)iov[i].iov_base + skip, l - skip))
            return -1;
        skip = 0;
    }
    return 0;
}

ssize_t outq_write(outq *q, int fd)
{
    struct iovec iov[WRITEV_MAX];
    int n = 0;
    for (outq_chunk *c = q->head; c && n < WRITEV_MAX; c = c->next) {
        iov[n].iov_base = c->data + c->off;
        iov[n].iov_len = c->len - c->off;
        n++;
    }
    if (n == 0)
        return 0;
    ssize_t w;
    do
        w = writev(fd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    size_t left = (size_t)w;
    q->bytes -= left;
    while (left) {
        outq_chunk *c = q->head;
        size_t have = c->len - c->off;
        if (left < have) {
            c->off += left;
            break;
        }
        left -= have;
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        q->alloc -= sizeof *c + c->cap;
        free(c);
    }
    return w;
}

ssize_t outq_flush(outq *q, outq_batch *b, int fd)
{
    if (b->n == 0)
        return 0;
    ssize_t w = 0;
    if (q->bytes == 0) {
        do
            w = writev(fd, b->iov, b->n);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            b->n = 0;
            b->bytes = 0;
            return -1;
        }
        if (w < 0)
            w = 0;
    }
    int rc = 0;
    if ((size_t)w < b->bytes && outq_append_iov(q, b->iov, b->n, (size_t)w) != 0) {
        errno = ENOMEM;
        rc = -1;
    }
    b->n = 0;
    b->bytes = 0;
    return rc ? -1 : w;
}

ssize_t outq_stage(outq *q, outq_batch *b, int fd, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->n) {
        struct iovec *last = &b->iov[b->n - 1];
        if ((const uint8_t *)last->iov_base + last->iov_len == (const uint8_t *)p) {
            last->iov_len += n;
            b->bytes += n;
            return 0;
        }
    }
    ssize_t w = 0;
    if (b->n == OUTQ_IOV_MAX && (w = outq_flush(q, b, fd)) < 0)
        return -1;
    b->iov[b->n].iov_base = (void *)p;
    b->iov[b->n].iov_len = n;
    b->n++;
    b->bytes += n;
    return w;
}

void outq_free(outq *q)
{
    outq_chunk *c = q->head;
    while (c) {
        outq_chunk *n = c->next;
        free(c);
        c = n;
    }
    q->head = q->tail = NULL;
    q->bytes = q->alloc = 0;
}
