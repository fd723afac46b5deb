/* SPDX-License-Identifier: MIT */
/* address_fc.c - the Firecracker hybrid vsock handshake: connect to the
 * UDS, send "CONNECT <port>\n", accept exactly "OK <u32>\n" and not one
 * byte more. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "address_internal.h"
#include "vsok/stream.h"

/* A Firecracker "OK <u32>\n" reply is at most 14 bytes; anything longer than
 * this is not Firecracker and must not make us read without bound. */
#define FC_LINE_MAX 32

/* Writes all of buf on a socket before the deadline.  MSG_NOSIGNAL because a
 * peer that hangs up must give EPIPE, not kill the caller. */
static vsok_err send_all(int fd, const char *buf, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            vsok_err e = vsok_wait_fd(fd, POLLOUT, deadline);
            if (e)
                return e;
            continue;
        }
        return VSOK_E_IO;
    }
    return VSOK_OK;
}

/* Reads the "OK <n>\n" line and nothing after it: the application's first
 * bytes may share the segment, and they belong to the caller.  Each round
 * peeks at what is queued and consumes only up to the newline (or all of it
 * when there is no newline yet, since those bytes are line bytes anyway), so
 * poll() never spins on data we have already seen. */
static vsok_err fc_read_ok(int fd, int64_t deadline)
{
    char line[FC_LINE_MAX];
    size_t have = 0;
    for (;;) {
        vsok_err e = vsok_wait_fd(fd, POLLIN, deadline);
        if (e)
            return e;
        ssize_t r = recv(fd, line + have, sizeof line - have, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return VSOK_E_IO;
        }
        if (r == 0) {
            /* Firecracker closes the connection when no guest listens on the
             * port: report it like a vsock connect to a closed port. */
            if (have == 0) {
                errno = ECONNRESET;
                return VSOK_E_IO;
            }
            errno = EPROTO;
            return VSOK_E_HANDSHAKE; /* cut off inside the reply line */
        }
        const char *nl = memchr(line + have, '\n', (size_t)r);
        size_t take = nl ? (size_t)(nl - (line + have)) + 1 : (size_t)r;
        size_t got = 0;
        while (got < take) {
            /* The bytes are already queued, so this cannot block for long;
             * the loop only guards against a short read. */
            ssize_t c = recv(fd, line + have + got, take - got, MSG_DONTWAIT);
            if (c > 0) {
                got += (size_t)c;
                continue;
            }
            if (c < 0 && errno == EINTR)
                continue;
            if (c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                e = vsok_wait_fd(fd, POLLIN, deadline);
                if (e)
                    return e;
                continue;
            }
            if (c == 0)
                errno = EPROTO;
            return c == 0 ? VSOK_E_HANDSHAKE : VSOK_E_IO;
        }
        have += take;
        if (nl)
            break;
        if (have == sizeof line) {
            errno = EPROTO;
            return VSOK_E_HANDSHAKE; /* no newline within FC_LINE_MAX bytes */
        }
    }
    /* Strictly "OK " + 1..10 digits fitting u32 + "\n". */
    uint64_t v = 0;
    size_t junk = 0;
    if (have < 5 || memcmp(line, "OK ", 3) != 0 ||
        vsok__parse_decimal(line + 3, have - 4, UINT32_MAX, &v, &junk) != NUM_OK) {
        errno = EPROTO;
        return VSOK_E_HANDSHAKE;
    }
    return VSOK_OK;
}

vsok_err vsok__fc_connect(const vsok_addr *a, const vsok_sockopts *so, int64_t deadline, int *fd_out)
{
    int fd = -1;
    vsok_err e = vsok__connect_unix(a->path, 0, so, deadline, &fd);
    if (e)
        return e;
    char req[32];
    int n = snprintf(req, sizeof req, "CONNECT %u\n", (unsigned)a->port);
    e = send_all(fd, req, (size_t)n, deadline);
    if (e == VSOK_OK)
        e = fc_read_ok(fd, deadline);
    if (e) {
        vsok__close_keep_errno(fd);
        return e;
    }
    *fd_out = fd;
    return VSOK_OK;
}
