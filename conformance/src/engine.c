/* SPDX-License-Identifier: MIT */
/* engine.c - one exchange with the IUT: the runner writes its bytes (cut as
 * the plan says) while it reads and checks the echoes, in a single poll()
 * loop, so an IUT that echoes while it is still reading never deadlocks
 * against the runner.  Every wait is bounded by the exchange's deadline. */
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"

/* per thread: --jobs runs exchanges concurrently */
static _Thread_local uint8_t rbuf[VC_CHUNK];

ssize_t vc_send_some(int fd, const uint8_t *p, size_t n)
{
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == ENOTSOCK)
        w = write(fd, p, n);
    return w;
}

ssize_t vc_recv_some(int fd, uint8_t *p, size_t n)
{
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK)
        r = read(fd, p, n);
    return r;
}

size_t vc_recv_feed(int fd, vc_reader *rd, uint8_t *buf, size_t n, int *closed, int *io_errno)
{
    ssize_t r = vc_recv_some(fd, buf, n);
    if (r > 0) {
        vc_reader_feed(rd, buf, (size_t)r);
        return (size_t)r;
    }
    if (r == 0) {
        *closed = 1;
    } else if (errno == ECONNRESET || errno == EPIPE) {
        *closed = 2;
    } else if (errno != EAGAIN && errno != EINTR) {
        *io_errno = errno;
        *closed = 2;
    }
    if (*closed)
        vc_reader_eof(rd);
    return 0;
}

long vc_unread(int fd)
{
    int v = 0;
    return ioctl(fd, SIOCOUTQ, &v) == 0 ? v : -1;
}

#define OBSERVE_SPLITS 64     /* observed split points per exchange (and every paused one) */
#define OBSERVE_FIRST_MS 2000 /* the first read of a freshly started IUT may take a while */
#define OBSERVE_MS 200
#define DECIDED_GRACE_MS 50

void vc_xfer_run(vc_xfer *t)
{
    int64_t now = vc_now_ms();
    t->t_start = now;
    t->sent = 0;
    t->closed = t->timed_out = t->write_errno = t->io_errno = 0;
    t->t_complete = t->t_closed = t->t_sent = 0;
    size_t next = 0;
    while (next < t->nsplits && (t->splits[next].offset == 0 || t->splits[next].offset > t->outlen))
        next++;
    int64_t ready_at = 0;
    int shut = 0, writing = 1;
    t->held = 0;
    int64_t read_from = t->t_start + (t->read_delay_ms > 0 ? t->read_delay_ms : 0);
    int64_t observe_until = 0; /* waiting for the IUT to read the last piece */
    uint32_t observe_pause = 0;
    size_t observed = 0;
    int can_observe = t->observe;
    int64_t decided_at = 0; /* when the reader's verdict became final (MISMATCH, EXCESS) */

    for (;;) {
        now = vc_now_ms();
        if (writing && t->sent == t->outlen) {
            writing = 0;
            t->t_sent = now;
        }
        if (!writing && t->half_close && !shut) {
            shutdown(t->fd, SHUT_WR); /* ENOTCONN when the IUT is gone: nothing to do */
            shut = 1;
        }
        if (t->closed || vc_reader_settled(t->rd))
            break;
        if (observe_until) {
            long q = vc_unread(t->fd);
            if (q < 0)
                can_observe = 0;
            if (q <= 0 || now >= observe_until) {
                observe_until = 0;
                ready_at = now + observe_pause;
            }
        }
        int64_t limit = t->deadline;
        if (t->rd->state == VC_R_MISMATCH || t->rd->state == VC_R_EXCESS) {
            /* The verdict is in; more bytes only fill the report's window.
             * Do not wait a timeout for bytes a wrong IUT may never send. */
            if (!decided_at)
                decided_at = now;
            if (decided_at + DECIDED_GRACE_MS < limit)
                limit = decided_at + DECIDED_GRACE_MS;
            if (now >= limit)
                break;
        }
        if (!writing && t->rd->state == VC_R_COMPLETE && t->close_grace_ms >= 0) {
            if (!t->t_complete)
                t->t_complete = now;
            if (t->t_complete + t->close_grace_ms < limit)
                limit = t->t_complete + t->close_grace_ms;
            if (now >= limit)
                break; /* everything owed is in; the close is optional here */
        }
        if (now >= limit) {
            t->timed_out = 1;
            break;
        }

        struct pollfd p = {.fd = t->fd, .events = 0};
        int may_read = (!t->read_after_send || !writing) && now >= read_from;
        int64_t wake = limit;
        if (!may_read && now < read_from && read_from < wake)
            wake = read_from;
        /* hold_last: the last owed byte stays in the runner's receive queue */
        size_t want = sizeof rbuf;
        int holding = 0;
        if (t->hold_last && t->rd->total > 0 && t->rd->state == VC_R_PENDING) {
            uint64_t left = t->rd->total - t->rd->received;
            if (left <= 1)
                holding = 1;
            else if (left - 1 < want)
                want = (size_t)(left - 1);
        }
        if (may_read && !(holding && writing))
            p.events |= POLLIN;
        if (writing) {
            if (observe_until) {
                if (now + 1 < wake)
                    wake = now + 1; /* no event says "the peer read it": look again soon */
            } else if (now >= ready_at) {
                p.events |= POLLOUT;
            } else if (ready_at < wake) {
                wake = ready_at;
            }
        }
        int rc = poll(&p, 1, (int)(wake - now));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            t->io_errno = errno;
            break;
        }
        if (rc == 0)
            continue;

        if (may_read && holding && !writing && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            t->held = 1; /* every owed byte is here but one, and that one is waiting */
            break;
        }
        if (may_read && !holding && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            if (vc_recv_feed(t->fd, t->rd, rbuf, want, &t->closed, &t->io_errno) &&
                t->rd->state == VC_R_COMPLETE && !t->t_complete && !writing)
                t->t_complete = vc_now_ms();
            if (t->closed) {
                t->t_closed = vc_now_ms();
                break;
            }
        }
        if (writing && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            uint64_t boundary = next < t->nsplits ? t->splits[next].offset : t->outlen;
            ssize_t w = vc_send_some(t->fd, t->out + t->sent, (size_t)(boundary - t->sent));
            if (w > 0) {
                t->sent += (uint64_t)w;
                if (t->sent == boundary && next < t->nsplits) {
                    int64_t at = vc_now_ms();
                    ready_at = at + t->splits[next].pause_ms;
                    if (can_observe && (observed < OBSERVE_SPLITS || t->splits[next].pause_ms)) {
                        observe_until = at + (observed ? OBSERVE_MS : OBSERVE_FIRST_MS);
                        if (observe_until > t->deadline)
                            observe_until = t->deadline;
                        observe_pause = t->splits[next].pause_ms;
                        observed++;
                    }
                    next++;
                }
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                /* The IUT closed while the runner was still writing: keep
                 * reading what it sent before that. */
                t->write_errno = errno;
                writing = 0;
                shut = 1;
            }
        }
    }
    if (writing)
        t->t_sent = 0;
}
