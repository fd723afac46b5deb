/* SPDX-License-Identifier: MIT */
#include "mock.h"

#include <errno.h>
#include <string.h>

static ssize_t fail(const mock_step *st)
{
    switch (st->kind) {
    case M_EINTR: errno = EINTR; return -1;
    case M_EAGAIN: errno = EAGAIN; return -1;
    case M_ERR: errno = st->err; return -1;
    default: return 0; /* M_EOF */
    }
}

static ssize_t mock_read(void *ctx, void *buf, size_t len)
{
    mock *m = ctx;
    m->read_calls++;
    size_t n = m->max_read ? m->max_read : len;
    if (m->rstep < m->nr) {
        const mock_step *st = &m->rscript[m->rstep++];
        if (st->kind != M_DATA)
            return fail(st);
        n = st->n ? st->n : len;
    }
    if (n > len)
        n = len;
    if (n > m->srclen - m->srcpos)
        n = m->srclen - m->srcpos;
    memcpy(buf, m->src + m->srcpos, n);
    m->srcpos += n;
    return (ssize_t)n;
}

/* Accepts up to the step's limit from the concatenated iov. */
static ssize_t take(mock *m, const struct iovec *iov, int cnt)
{
    size_t offered = 0;
    for (int i = 0; i < cnt; i++)
        offered += iov[i].iov_len;
    if (m->ncalls < MOCK_MAX_CALLS)
        m->calls[m->ncalls] = offered;
    m->ncalls++;
    size_t n = m->max_write ? m->max_write : offered;
    if (m->wstep < m->nw) {
        const mock_step *st = &m->wscript[m->wstep++];
        if (st->kind != M_DATA)
            return fail(st);
        n = st->n ? st->n : offered;
    }
    if (n > offered)
        n = offered;
    if (n > m->sinkcap - m->sinklen)
        n = m->sinkcap - m->sinklen;
    size_t left = n;
    for (int i = 0; i < cnt && left; i++) {
        size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
        memcpy(m->sink + m->sinklen, iov[i].iov_base, k);
        m->sinklen += k;
        left -= k;
    }
    if (n == 0 && offered > 0) { /* sink full: report it rather than spin */
        errno = ENOSPC;
        return -1;
    }
    return (ssize_t)n;
}

static ssize_t mock_write(void *ctx, const void *buf, size_t len)
{
    mock *m = ctx;
    m->write_calls++;
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    return take(m, &iov, 1);
}

static ssize_t mock_writev(void *ctx, const struct iovec *iov, int cnt)
{
    mock *m = ctx;
    m->writev_calls++;
    return take(m, iov, cnt);
}

void mock_reader(mock *m, const void *src, size_t len)
{
    memset(m, 0, sizeof *m);
    m->src = src;
    m->srclen = len;
}

vsok_stream mock_stream(mock *m, int with_writev)
{
    vsok_stream s;
    memset(&s, 0, sizeof s);
    s.read = mock_read;
    s.write = mock_write;
    s.writev = with_writev ? mock_writev : NULL;
    s.ctx = m;
    s.poll_fd = -1;
    s.timeout_ms = -1;
    return s;
}
