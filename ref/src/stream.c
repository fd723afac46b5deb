/* SPDX-License-Identifier: MIT */
/* stream.c - byte streams: the fd-backed default and the retry loops every
 * protocol needs (EINTR, short transfers, EAGAIN with a deadline). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stream_internal.h"
#include "vsok/stream.h"

#define VSOK_READ_STEP 65536

#define IOV_WINDOW 64

static int ctx_fd(void *ctx) { return (int)(intptr_t)ctx; }

static ssize_t fd_read(void *ctx, void *buf, size_t len) { return read(ctx_fd(ctx), buf, len); }

/* send(MSG_NOSIGNAL) turns a vanished peer into EPIPE instead of killing the
 * process; pipes and files (exec role's stdio) fall back to write(). */
static ssize_t fd_write(void *ctx, const void *buf, size_t len)
{
    ssize_t n = send(ctx_fd(ctx), buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
        n = write(ctx_fd(ctx), buf, len);
    return n;
}

static ssize_t fd_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = (struct iovec *)(uintptr_t)iov;
    mh.msg_iovlen = (size_t)iovcnt;
    ssize_t n = sendmsg(ctx_fd(ctx), &mh, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
        n = writev(ctx_fd(ctx), iov, iovcnt);
    return n;
}

vsok_stream vsok_stream_fd(int fd)
{
    vsok_stream s = {fd_read, fd_write, fd_writev, (void *)(intptr_t)fd, fd, -1};
    return s;
}

int64_t vsok_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

vsok_err vsok_wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        /* A passed deadline still polls once, with 0: an fd that is ready
         * is not a timeout. */
        int timeout = -1;
        if (deadline_ms >= 0) {
            int64_t left = deadline_ms - vsok_now_ms();
            timeout = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, timeout);
        if (r > 0)
            return VSOK_OK; /* POLLHUP/POLLERR too: the next call says what */
        if (r == 0) {
            errno = ETIMEDOUT;
            return VSOK_E_TIMEOUT;
        }
        if (errno != EINTR)
            return VSOK_E_IO;
    }
}

static int64_t deadline_of(const vsok_stream *s)
{
    return s->timeout_ms < 0 ? -1 : vsok_now_ms() + s->timeout_ms;
}

/* EAGAIN on an fd stream means wait for readiness up to the deadline; on a
 * callback stream there is nothing to poll, so the caller decides. */
static vsok_err wait_ready(const vsok_stream *s, short events, int64_t deadline)
{
    if (s->poll_fd < 0)
        return VSOK_E_AGAIN;
    return vsok_wait_fd(s->poll_fd, events, deadline);
}

static int would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/* After a read or write that failed with errno: 1 = make the call again
 * (interrupted, or the fd became ready); 0 = the call ends with *err (a
 * callback stream's EAGAIN included: wait_ready hands it to the caller). */
static int retry_after_failure(const vsok_stream *s, short events, int64_t deadline, vsok_err *err)
{
    if (errno == EINTR)
        return 1;
    *err = would_block(errno) ? wait_ready(s, events, deadline) : VSOK_E_IO;
    return *err == VSOK_OK;
}

vsok_err vsok_stream_read_full(vsok_stream *s, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    vsok_err err = VSOK_OK;
    if (s == NULL || s->read == NULL || (buf == NULL && len > 0)) {
        err = VSOK_E_INVAL;
        goto out;
    }
    int64_t deadline = deadline_of(s);
    while (done < len) {
        size_t n = 0;
        err = vsok__read_some(s, (uint8_t *)buf + done, len - done, &n, deadline);
        if (err == VSOK_E_EOF && done > 0)
            err = VSOK_E_TRUNCATED;
        if (err != VSOK_OK)
            break;
        done += n;
    }
out:
    if (got != NULL)
        *got = done;
    return err;
}

static ssize_t write_some(vsok_stream *s, const struct iovec *iov, int cnt)
{
    if (cnt == 1 || s->writev == NULL)
        return s->write(s->ctx, iov[0].iov_base, iov[0].iov_len);
    return s->writev(s->ctx, iov, cnt);
}

vsok_err vsok_stream_writev_full(vsok_stream *s, const struct iovec *iov, int iovcnt)
{
    if (s == NULL)
        return VSOK_E_INVAL;
    return vsok__writev_until(s, iov, iovcnt, deadline_of(s));
}

vsok_err vsok__writev_until(vsok_stream *s, const struct iovec *iov, int iovcnt, int64_t deadline)
{
    if (s == NULL || s->write == NULL || iovcnt < 0 || (iov == NULL && iovcnt > 0))
        return VSOK_E_INVAL;
    int idx = 0;
    size_t skip = 0; /* bytes of iov[idx] already written */
    for (;;) {
        while (idx < iovcnt && iov[idx].iov_len == skip) {
            idx++;
            skip = 0;
        }
        if (idx == iovcnt)
            return VSOK_OK;
        /* A window over the caller's array, so it is never modified. */
        struct iovec win[IOV_WINDOW];
        int cnt = 0;
        for (int i = idx; i < iovcnt && cnt < IOV_WINDOW; i++) {
            if (iov[i].iov_len == 0 && i != idx)
                continue;
            win[cnt] = iov[i];
            if (i == idx) {
                win[cnt].iov_base = (uint8_t *)iov[i].iov_base + skip;
                win[cnt].iov_len -= skip;
            }
            cnt++;
        }
        ssize_t n = write_some(s, win, cnt);
        if (n < 0) {
            vsok_err err;
            if (!retry_after_failure(s, POLLOUT, deadline, &err))
                return err;
            continue;
        }
        size_t left = (size_t)n;
        while (left > 0 && idx < iovcnt) {
            size_t room = iov[idx].iov_len - skip;
            if (left < room) {
                skip += left;
                left = 0;
            } else {
                left -= room;
                idx++;
                skip = 0;
            }
        }
    }
}

vsok_err vsok_stream_write_full(vsok_stream *s, const void *buf, size_t len)
{
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    return vsok_stream_writev_full(s, &iov, 1);
}

int64_t vsok__deadline(const vsok_stream *s) { return deadline_of(s); }

/* waitall: on an fd stream, recv(MSG_WAITALL), falling back to read() for
 * what is not a socket. */
static vsok_err read_loop(vsok_stream *s, void *buf, size_t len, size_t *got, int64_t deadline_ms,
                          int waitall)
{
    *got = 0;
    waitall = waitall && s->read == fd_read;
    for (;;) {
        ssize_t n;
        if (waitall) {
            n = recv(ctx_fd(s->ctx), buf, len, MSG_WAITALL);
            if (n < 0 && errno == ENOTSOCK)
                n = read(ctx_fd(s->ctx), buf, len);
            if (n < 0 && errno == ENOMEM) {
                /* vsock refuses a large MSG_WAITALL receive with ENOMEM (seen
                 * on the guest's loopback transport with 1 MiB): plain reads */
                waitall = 0;
                continue;
            }
        } else {
            n = s->read(s->ctx, buf, len);
        }
        if (n > 0) {
            *got = (size_t)n;
            return VSOK_OK;
        }
        if (n == 0)
            return VSOK_E_EOF;
        vsok_err err;
        if (!retry_after_failure(s, POLLIN, deadline_ms, &err))
            return err;
    }
}

vsok_err vsok__read_some(vsok_stream *s, void *buf, size_t len, size_t *got, int64_t deadline_ms)
{
    return read_loop(s, buf, len, got, deadline_ms, 0);
}

vsok_err vsok__read_owed(vsok_stream *s, void *buf, size_t len, size_t *got, int64_t deadline_ms)
{
    return read_loop(s, buf, len, got, deadline_ms, 1);
}

vsok_err vsok__read_payload(vsok_stream *s, size_t len, uint8_t **out, int64_t deadline)
{
    *out = NULL;
    size_t cap = len < VSOK_READ_STEP ? len : VSOK_READ_STEP, done = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return VSOK_E_NOMEM;
    while (done < len) {
        if (done == cap) {
            size_t ncap = cap * 2 < len ? cap * 2 : len;
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL) {
                free(buf);
                return VSOK_E_NOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = 0;
        vsok_err err = vsok__read_some(s, buf + done, cap - done, &n, deadline);
        if (err != VSOK_OK) {
            free(buf);
            return err == VSOK_E_EOF ? VSOK_E_TRUNCATED : err;
        }
        done += n;
    }
    *out = buf;
    return VSOK_OK;
}
