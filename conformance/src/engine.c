/* engine.c - one exchange with the IUT: the runner writes its bytes (cut as
 * the plan says) while it reads and checks the echoes, in a single poll()
 * loop, so an IUT that echoes while it is still reading never deadlocks
 * against the runner.  Every wait is bounded by the exchange's deadline. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"

/* per thread: --jobs runs exchanges concurrently */
static _Thread_local uint8_t rbuf[VC_CHUNK];

static ssize_t send_some(int fd, const uint8_t *p, size_t n)
{
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == ENOTSOCK)
        w = write(fd, p, n);
    return w;
}

static ssize_t recv_some(int fd, uint8_t *p, size_t n)
{
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK)
        r = read(fd, p, n);
    return r;
}

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
        int64_t limit = t->deadline;
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
        int may_read = !t->read_after_send || !writing;
        if (may_read)
            p.events |= POLLIN;
        int64_t wake = limit;
        if (writing) {
            if (now >= ready_at)
                p.events |= POLLOUT;
            else if (ready_at < wake)
                wake = ready_at;
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

        if (may_read && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = recv_some(t->fd, rbuf, sizeof rbuf);
            if (r > 0) {
                vc_reader_feed(t->rd, rbuf, (size_t)r);
                if (t->rd->state == VC_R_COMPLETE && !t->t_complete && !writing)
                    t->t_complete = vc_now_ms();
            } else if (r == 0) {
                t->closed = 1;
            } else if (errno == ECONNRESET || errno == EPIPE) {
                t->closed = 2;
            } else if (errno != EAGAIN && errno != EINTR) {
                t->io_errno = errno;
                t->closed = 2;
            }
            if (t->closed) {
                /* An early close is a verdict of its own (SHORT), not a
                 * timeout: it is what an IUT rejecting valid input does. */
                vc_reader_eof(t->rd);
                t->t_closed = vc_now_ms();
                break;
            }
        }
        if (writing && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            uint64_t boundary = next < t->nsplits ? t->splits[next].offset : t->outlen;
            ssize_t w = send_some(t->fd, t->out + t->sent, (size_t)(boundary - t->sent));
            if (w > 0) {
                t->sent += (uint64_t)w;
                if (t->sent == boundary && next < t->nsplits) {
                    ready_at = vc_now_ms() + t->splits[next].pause_ms;
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
