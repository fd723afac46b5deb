/* SPDX-License-Identifier: MIT */
/* Opening the IUT connection: the slow reader's receive buffer (issue 14). */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "conform.h"

#define SMALL 16384 /* the slow reader's buffer (run.c) */

static int listen_tcp(char *target, size_t len)
{
    vsok_addr a;
    cr_assert_eq(vsok_addr_parse(&a, "tcp:127.0.0.1:0", NULL, 0), VSOK_OK);
    int fd = -1;
    cr_assert_eq(vsok_addr_listen(&a, 16, &fd), VSOK_OK, "listen: %s", strerror(errno));
    vsok_addr b;
    cr_assert_eq(vsok_addr_from_fd(fd, 0, &b), VSOK_OK);
    cr_assert_gt(vsok_addr_format(&b, target, len), 0);
    return fd;
}

/* A run's options and context for one role: addr is the server role's
 * target or the client role's listen address. */
static void ctx_init(vc_ctx *x, vc_opts *o, vc_role role, const char *addr)
{
    memset(o, 0, sizeof *o);
    o->role = role;
    if (role == VC_ROLE_CLIENT)
        o->listen = addr;
    else
        o->target = addr;
    o->timeout_ms = 5000;
    memset(x, 0, sizeof *x);
    x->o = o;
    x->listen_fd = -1;
    x->pending_fd = -1;
}

/* The window the runner offered in its handshake, as the IUT's side sees
 * it before any data: tcpi_snd_wnd of the accepted socket. */
static unsigned offered_window(int rcvbuf)
{
    char target[128];
    int lfd = listen_tcp(target, sizeof target);
    vc_opts o;
    vc_ctx x;
    ctx_init(&x, &o, VC_ROLE_SERVER, target);
    vc_conn c;
    int refused = 0;
    char err[512];
    cr_assert_eq(vc_iut_open_rcvbuf(&x, &c, vc_now_ms() + 5000, rcvbuf, &refused, err, sizeof err), 0,
                 "open: %s", err);
    int afd = -1;
    cr_assert_eq(vsok_addr_accept(lfd, 5000, &afd), VSOK_OK, "accept: %s", strerror(errno));
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t tl = sizeof ti;
    cr_assert_eq(getsockopt(afd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    if (tl < offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd)
        cr_skip_test("this kernel's TCP_INFO has no tcpi_snd_wnd");
    int nodelay = 0;
    socklen_t nl = sizeof nodelay;
    cr_assert_eq(getsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl), 0);
    cr_assert(nodelay, "the runner's TCP connection has TCP_NODELAY, as the library's connect sets it");
    close(afd);
    close(c.fd);
    close(lfd);
    return ti.tcpi_snd_wnd;
}

/* Set after the handshake, the small buffer shrinks a window the IUT has
 * already seen (64 KiB), and a Linux sender then crawls on its persist timer
 * (segments capped at half the largest window seen do not fit).  The SYN
 * must offer the small window. */
Test(iut_open, slow_reader_offers_its_small_window_from_the_handshake)
{
    unsigned dflt = offered_window(0);
    if (dflt <= 2 * SMALL)
        cr_skip_test("the default window here (%u) is no larger than the slow reader's", dflt);
    unsigned small = offered_window(SMALL);
    /* the kernel doubles SO_RCVBUF and offers part of it */
    cr_assert_leq(small, 2 * SMALL,
                  "the slow reader offered a %u-byte window at connect (default %u): its "
                  "buffer was not set before connect(2)",
                  small, dflt);
}

Test(iut_open, slow_reader_connect_to_nothing_is_refused_with_the_reason)
{
    char target[128];
    int lfd = listen_tcp(target, sizeof target);
    close(lfd); /* the port is free again: nothing listens */
    vc_opts o;
    vc_ctx x;
    ctx_init(&x, &o, VC_ROLE_SERVER, target);
    vc_conn c;
    int refused = 0;
    char err[512] = "";
    cr_assert_eq(vc_iut_open_rcvbuf(&x, &c, vc_now_ms() + 5000, SMALL, &refused, err, sizeof err), -1);
    cr_assert(refused, "a refused connection marks the IUT as not there");
    cr_assert(strstr(err, target) && strstr(err, "refused"), "error names target and reason: %s", err);
}

/* A TCP connection the runner accepts (client role) is past its handshake:
 * the slow reader must not shrink its buffer then (the client would crawl),
 * it pushes back by reading late.  A unix one gets the small buffer. */
static int client_rcvbuf(const char *listen)
{
    vc_opts o;
    vc_ctx x;
    ctx_init(&x, &o, VC_ROLE_CLIENT, listen);
    char err[512] = "";
    cr_assert_eq(vc_iut_start(&x, err, sizeof err), 0, "listen: %s", err);
    int cfd = -1;
    cr_assert_eq(vsok_connect(x.listen_text, 5000, &cfd, err, sizeof err), VSOK_OK, "connect: %s", err);
    vc_conn c;
    int refused = 0;
    cr_assert_eq(vc_iut_open_rcvbuf(&x, &c, vc_now_ms() + 5000, SMALL, &refused, err, sizeof err), 0,
                 "accept: %s", err);
    int v = 0;
    socklen_t vl = sizeof v;
    cr_assert_eq(getsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &v, &vl), 0);
    close(c.fd);
    close(cfd);
    vc_iut_stop(&x);
    return v;
}

Test(iut_open, slow_reader_does_not_shrink_an_accepted_tcp_connection)
{
    int v = client_rcvbuf("tcp:127.0.0.1:0");
    cr_assert_gt(v, 2 * SMALL, "the accepted TCP connection's buffer was shrunk to %d after its handshake",
                 v);
}

Test(iut_open, slow_reader_shrinks_an_accepted_unix_connection)
{
    char path[64];
    snprintf(path, sizeof path, "unix:@vsok-test-open-%d", (int)getpid());
    int v = client_rcvbuf(path);
    cr_assert_leq(v, 2 * SMALL, "the accepted unix connection kept a %d-byte buffer", v);
}
