/* outq.c - chunked byte queue drained with writev. */
#include "outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_MIN 16384
#define WRITEV_MAX 64

struct outq_chunk {
    outq_chunk *next;
    size_t off, len, cap; /* unsent bytes are data[off..len) */
    uint8_t data[];
};

int outq_append(outq *q, const void *p, size_t n)
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
    size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
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

int outq_append_iov(outq *q, const struct iovec *iov, int cnt, size_t skip)
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
