/* SPDX-License-Identifier: MIT */
/* util.c - small helpers shared by the modes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"

const char *peer_fd_name(int fd, char *buf, size_t len)
{
    vsok_addr a;
    if (vsok_addr_from_fd(fd, 1, &a) != VSOK_OK || vsok_addr_format(&a, buf, len) < 0)
        snprintf(buf, len, "fd:%d", fd);
    /* unnamed Unix peers format as "unix:"; keep the field non-empty */
    if (!buf[0])
        snprintf(buf, len, "-");
    for (char *p = buf; *p; p++)
        if (*p == ' ' || *p == '"')
            *p = '_'; /* stays one bare log field */
    return buf;
}

int peer_write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

const char *peer_errno_name(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "unknown";
}

int peer_connect_addr(const peer_opts *o, const vsok_addr *a, const char *text)
{
    int fd = -1;
    vsok_err e = vsok_addr_connect(a, o->connect_ms > 0 ? (int)o->connect_ms : -1, &fd);
    if (e == VSOK_OK)
        return fd;
    char err[256], q[600], why[400], qwhy[900];
    const char *what = e == VSOK_E_IO ? strerror(errno) : vsok_errname(e);
    vsok_addr_explain(a, 1, e, why, sizeof why);
    plog(LOG_ERROR, "connect", "address=%s error=%s reason=%s", log_q(q, sizeof q, text),
         log_q(err, sizeof err, what), log_q(qwhy, sizeof qwhy, why));
    return -1;
}

int peer_parse_addr(vsok_addr *a, const char *text)
{
    char err[256], q[600], qerr[600];
    if (vsok_addr_parse(a, text, err, sizeof err) == VSOK_OK)
        return 0;
    plog(LOG_ERROR, "address", "address=%s error=InvalidAddress reason=%s", log_q(q, sizeof q, text),
         log_q(qerr, sizeof qerr, err));
    return -1;
}
