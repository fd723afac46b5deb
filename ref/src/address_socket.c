/* SPDX-License-Identifier: MIT */
/* address_socket.c - sockets for parsed addresses: connect (bounded by a
 * deadline), listen, the address of a live socket, and the sentences that
 * explain a failure.  The Firecracker CONNECT handshake is address_fc.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "address_internal.h"
#include "vsok/address.h"
#include "vsok/stream.h"

/* Milliseconds left before deadline: -1 forever, 0 when already passed. */
static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - vsok_now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static vsok_err set_blocking(int fd, int blocking)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return VSOK_E_IO;
    int want = blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return VSOK_E_IO;
    return VSOK_OK;
}

/* ------------------------------------------------------------------------ */
/* Connecting                                                                */

/* so on a socket not yet connected. */
static vsok_err apply_opts(int fd, const vsok_sockopts *so)
{
    if (so && so->rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &so->rcvbuf, sizeof so->rcvbuf) < 0)
        return VSOK_E_IO;
    if (so && so->sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &so->sndbuf, sizeof so->sndbuf) < 0)
        return VSOK_E_IO;
    return VSOK_OK;
}

/* Non-blocking connect + poll: the only portable way to bound a TCP or vsock
 * connect.  Returns a connected, still non-blocking fd. */
static vsok_err connect_nonblocking(int family, int proto, const struct sockaddr *sa, socklen_t salen,
                                    const vsok_sockopts *so, int64_t deadline, int *fd_out)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return VSOK_E_IO;
    if (apply_opts(fd, so) != VSOK_OK) {
        vsok__close_keep_errno(fd);
        return VSOK_E_IO;
    }
    if (connect(fd, sa, salen) < 0) {
        /* EINTR on a non-blocking connect still leaves the attempt running
         * in the kernel, exactly like EINPROGRESS. */
        if (errno != EINPROGRESS && errno != EINTR) {
            vsok__close_keep_errno(fd);
            return VSOK_E_IO;
        }
        vsok_err e = vsok_wait_fd(fd, POLLOUT, deadline);
        if (e) {
            vsok__close_keep_errno(fd);
            return e;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            vsok__close_keep_errno(fd);
            return VSOK_E_IO;
        }
        if (soerr) {
            close(fd);
            errno = soerr;
            return VSOK_E_IO;
        }
    }
    *fd_out = fd;
    return VSOK_OK;
}

static socklen_t fill_unix(struct sockaddr_un *sun, const char *path, int abstract)
{
    size_t n = strlen(path);
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (abstract) {
        /* The abstract name is exactly the bytes after the leading NUL; no
         * terminator is part of it, so the length must not include one. */
        memcpy(sun->sun_path + 1, path, n);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    }
    memcpy(sun->sun_path, path, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* A non-blocking Unix connect never reports EINPROGRESS: with the listener's
 * backlog full it fails at once with EAGAIN, which poll cannot wait for.  A
 * blocking connect bounded by SO_SNDTIMEO does wait for backlog room, and
 * reports the expiry as EAGAIN.  Returns a connected, blocking fd. */
vsok_err vsok__connect_unix(const char *path, int abstract, const vsok_sockopts *so, int64_t deadline,
                            int *fd_out)
{
    struct sockaddr_un sun;
    socklen_t sl = fill_unix(&sun, path, abstract);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return VSOK_E_IO;
    if (apply_opts(fd, so) != VSOK_OK) {
        vsok__close_keep_errno(fd);
        return VSOK_E_IO;
    }
    for (;;) {
        if (deadline >= 0) {
            int left = remaining_ms(deadline);
            if (left == 0) {
                close(fd);
                errno = ETIMEDOUT;
                return VSOK_E_TIMEOUT;
            }
            struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
            if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
                vsok__close_keep_errno(fd);
                return VSOK_E_IO;
            }
        }
        if (connect(fd, (struct sockaddr *)&sun, sl) == 0)
            break;
        if (errno == EINTR)
            continue; /* a Unix connect is all-or-nothing, so retrying is safe */
        if (errno == EAGAIN && deadline >= 0) {
            close(fd);
            errno = ETIMEDOUT;
            return VSOK_E_TIMEOUT;
        }
        vsok__close_keep_errno(fd);
        return VSOK_E_IO;
    }
    if (deadline >= 0) {
        /* The connect timeout must not leak into the caller's later writes. */
        struct timeval zero = {0, 0};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero) < 0) {
            vsok__close_keep_errno(fd);
            return VSOK_E_IO;
        }
    }
    *fd_out = fd;
    return VSOK_OK;
}

/* Maps a getaddrinfo failure onto vsok's errors: a name that does not exist
 * is a bad address; a resolver that could not answer is an I/O problem. */
static vsok_err resolve_error(int rc)
{
    switch (rc) {
    case EAI_SYSTEM: return VSOK_E_IO;
    case EAI_MEMORY: errno = ENOMEM; return VSOK_E_NOMEM;
    case EAI_AGAIN: errno = EAGAIN; return VSOK_E_IO;
    default: errno = ENOENT; return VSOK_E_ADDRESS;
    }
}

/* Numeric first: a literal never touches NSS, DNS or /etc/hosts, so
 * "127.0.0.1" works even in a static binary inside an enclave. */
static vsok_err resolve_tcp(const vsok_addr *a, int passive, struct addrinfo **res)
{
    char port[16];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    snprintf(port, sizeof port, "%u", (unsigned)a->port);
    int rc = getaddrinfo(a->host, port, &hints, res);
    if (rc == EAI_NONAME) {
        hints.ai_flags &= ~AI_NUMERICHOST;
        rc = getaddrinfo(a->host, port, &hints, res);
    }
    return rc ? resolve_error(rc) : VSOK_OK;
}

static vsok_err connect_tcp(const vsok_addr *a, const vsok_sockopts *so, int64_t deadline, int *fd_out)
{
    struct addrinfo *res = NULL;
    vsok_err e = resolve_tcp(a, 0, &res);
    if (e)
        return e;
    e = VSOK_E_IO;
    errno = EHOSTUNREACH;
    /* Try each resolved address in order (RFC 6724 sorting by getaddrinfo)
     * within the one shared deadline. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = -1;
        e = connect_nonblocking(ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen, so, deadline,
                                &fd);
        if (e == VSOK_OK) {
            /* Small request/response messages must not wait for Nagle. */
            int one = 1;
            if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
                vsok__close_keep_errno(fd);
                e = VSOK_E_IO;
                break;
            }
            *fd_out = fd;
            break;
        }
        if (e == VSOK_E_TIMEOUT)
            break;
    }
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return e;
}

static socklen_t fill_vsock(struct sockaddr_vm *svm, const vsok_addr *a)
{
    memset(svm, 0, sizeof(*svm));
    svm->svm_family = AF_VSOCK;
    svm->svm_cid = a->cid;
    svm->svm_port = a->port;
    return sizeof(*svm);
}

static vsok_err connect_vsock(const vsok_addr *a, const vsok_sockopts *so, int64_t deadline, int *fd_out)
{
    struct sockaddr_vm svm;
    socklen_t sl = fill_vsock(&svm, a);
    return connect_nonblocking(AF_VSOCK, 0, (struct sockaddr *)&svm, sl, so, deadline, fd_out);
}

vsok_err vsok_addr_accept(int listen_fd, int timeout_ms, int *fd_out)
{
    if (fd_out == NULL || listen_fd < 0)
        return VSOK_E_INVAL;
    *fd_out = -1;
    int64_t deadline = timeout_ms < 0 ? -1 : vsok_now_ms() + timeout_ms;
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            *fd_out = fd;
            return VSOK_OK;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            return VSOK_E_IO;
        vsok_err e = vsok_wait_fd(listen_fd, POLLIN, deadline);
        if (e != VSOK_OK)
            return e;
    }
}

vsok_err vsok_addr_sockaddr(const vsok_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
    if (a == NULL || ss == NULL || len == NULL)
        return VSOK_E_INVAL;
    memset(ss, 0, sizeof(*ss));
    *len = 0;
    switch (a->kind) {
    case VSOK_ADDR_VSOCK: *len = fill_vsock((struct sockaddr_vm *)ss, a); return VSOK_OK;
    case VSOK_ADDR_UNIX: *len = fill_unix((struct sockaddr_un *)ss, a->path, a->abstract); return VSOK_OK;
    case VSOK_ADDR_TCP: {
        struct addrinfo *res = NULL;
        vsok_err e = resolve_tcp(a, 0, &res);
        if (e != VSOK_OK)
            return e;
        if (res == NULL || res->ai_addrlen > sizeof(*ss)) {
            freeaddrinfo(res);
            errno = EAFNOSUPPORT;
            return VSOK_E_ADDRESS;
        }
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        freeaddrinfo(res);
        return VSOK_OK;
    }
    case VSOK_ADDR_FC:
    case VSOK_ADDR_FD:
    default: errno = EINVAL; return VSOK_E_INVAL;
    }
}

vsok_err vsok_addr_connect(const vsok_addr *a, int timeout_ms, int *fd_out)
{
    return vsok_addr_connect_opts(a, NULL, timeout_ms, fd_out);
}

vsok_err vsok_addr_connect_opts(const vsok_addr *a, const vsok_sockopts *so, int timeout_ms, int *fd_out)
{
    if (!fd_out)
        return VSOK_E_INVAL;
    *fd_out = -1;
    if (!a || (so && (so->rcvbuf < 0 || so->sndbuf < 0)))
        return VSOK_E_INVAL;
    int64_t deadline = timeout_ms < 0 ? -1 : vsok_now_ms() + timeout_ms;
    int fd = -1;
    vsok_err e;
    switch (a->kind) {
    case VSOK_ADDR_VSOCK: e = connect_vsock(a, so, deadline, &fd); break;
    case VSOK_ADDR_UNIX: e = vsok__connect_unix(a->path, a->abstract, so, deadline, &fd); break;
    case VSOK_ADDR_TCP: e = connect_tcp(a, so, deadline, &fd); break;
    case VSOK_ADDR_FC: e = vsok__fc_connect(a, so, deadline, &fd); break;
    case VSOK_ADDR_FD:
    default: errno = EINVAL; return VSOK_E_INVAL;
    }
    if (e)
        return e;
    if (set_blocking(fd, 1)) {
        vsok__close_keep_errno(fd);
        return VSOK_E_IO;
    }
    *fd_out = fd;
    return VSOK_OK;
}

/* ------------------------------------------------------------------------ */
/* Listening                                                                 */

static int listen_backlog(int backlog) { return backlog < 0 ? SOMAXCONN : backlog; }

/* A socket file left behind by a dead server makes bind fail with
 * EADDRINUSE forever.  Remove it only when it is a socket AND nobody
 * answers on it: unlinking a live server's socket would silently steal its
 * future clients, and unlinking a regular file would destroy data. */
static vsok_err remove_stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? VSOK_OK : VSOK_E_IO;
    if (!S_ISSOCK(st.st_mode))
        return VSOK_OK; /* let bind report EADDRINUSE */
    struct sockaddr_un sun;
    socklen_t sl = fill_unix(&sun, path, 0);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return VSOK_E_IO;
    int r = connect(probe, (struct sockaddr *)&sun, sl);
    int cerr = r < 0 ? errno : 0;
    close(probe);
    /* Only ECONNREFUSED proves nobody listens.  Anything else (accepted,
     * backlog full, EACCES) leaves the file for bind to refuse with
     * EADDRINUSE.  A live server sees the probe as an empty connection. */
    if (cerr == ECONNREFUSED && unlink(path) < 0 && errno != ENOENT)
        return VSOK_E_IO;
    return VSOK_OK;
}

static vsok_err listen_sockaddr(int family, int proto, const struct sockaddr *sa, socklen_t sl, int reuse,
                                int backlog, int *fd_out)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return VSOK_E_IO;
    int one = 1;
    if ((reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) || bind(fd, sa, sl) < 0 ||
        listen(fd, listen_backlog(backlog)) < 0) {
        vsok__close_keep_errno(fd);
        return VSOK_E_IO;
    }
    *fd_out = fd;
    return VSOK_OK;
}

static vsok_err listen_unix(const char *path, int abstract, int backlog, int *fd_out)
{
    struct sockaddr_un sun;
    if (!abstract) {
        vsok_err e = remove_stale_socket(path);
        if (e)
            return e;
    }
    socklen_t sl = fill_unix(&sun, path, abstract);
    return listen_sockaddr(AF_UNIX, 0, (struct sockaddr *)&sun, sl, 0, backlog, fd_out);
}

static vsok_err listen_tcp(const vsok_addr *a, int backlog, int *fd_out)
{
    struct addrinfo *res = NULL;
    vsok_err e = resolve_tcp(a, 1, &res);
    if (e)
        return e;
    e = VSOK_E_IO;
    errno = EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        e = listen_sockaddr(ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen, 1, backlog, fd_out);
        if (e == VSOK_OK)
            break;
    }
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return e;
}

vsok_err vsok_addr_listen(const vsok_addr *a, int backlog, int *fd_out)
{
    if (!a || !fd_out)
        return VSOK_E_INVAL;
    *fd_out = -1;
    switch (a->kind) {
    case VSOK_ADDR_VSOCK: {
        struct sockaddr_vm svm;
        socklen_t sl = fill_vsock(&svm, a);
        return listen_sockaddr(AF_VSOCK, 0, (struct sockaddr *)&svm, sl, 0, backlog, fd_out);
    }
    case VSOK_ADDR_UNIX: return listen_unix(a->path, a->abstract, backlog, fd_out);
    case VSOK_ADDR_TCP: return listen_tcp(a, backlog, fd_out);
    case VSOK_ADDR_FC: {
        /* Firecracker forwards a guest's connect to port P as a connection
         * on "<uds_path>_<P>", so that is the file a host server listens on. */
        char path[VSOK_ADDR_PATH_MAX + 16];
        int n = snprintf(path, sizeof path, "%s_%u", a->path, (unsigned)a->port);
        if (n < 0 || n > UNIX_PATH_LIMIT) {
            errno = ENAMETOOLONG;
            return VSOK_E_ADDRESS;
        }
        return listen_unix(path, 0, backlog, fd_out);
    }
    case VSOK_ADDR_FD:
        if (a->fd < 0 || fcntl(a->fd, F_GETFD) < 0) {
            errno = EBADF;
            return VSOK_E_IO;
        }
        *fd_out = a->fd;
        return VSOK_OK;
    }
    errno = EINVAL;
    return VSOK_E_INVAL;
}

/* ------------------------------------------------------------------------ */
/* Address of a live socket                                                  */

/* An IPv4 or IPv6 socket address (port in network order) as a tcp address. */
static vsok_err tcp_from(vsok_addr *a, int family, const void *addr, uint16_t port_be)
{
    a->kind = VSOK_ADDR_TCP;
    a->port = ntohs(port_be);
    return inet_ntop(family, addr, a->host, sizeof a->host) ? VSOK_OK : VSOK_E_IO;
}

vsok_err vsok_addr_from_fd(int fd, int peer, vsok_addr *a)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!a)
        return VSOK_E_INVAL;
    memset(a, 0, sizeof *a);
    a->fd = -1;
    memset(&ss, 0, sizeof ss);
    int r =
        peer ? getpeername(fd, (struct sockaddr *)&ss, &sl) : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (r < 0)
        return VSOK_E_IO;
    if (sl > sizeof ss)
        sl = sizeof ss;
    switch (ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return tcp_from(a, AF_INET, &in->sin_addr, in->sin_port);
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        return tcp_from(a, AF_INET6, &in6->sin6_addr, in6->sin6_port);
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = sl > off ? sl - off : 0;
        const char *p = sun->sun_path;
        a->kind = VSOK_ADDR_UNIX;
        if (n > 0 && p[0] == '\0') {
            /* Abstract: the name is exactly the remaining bytes. */
            a->abstract = 1;
            p++;
            n--;
        } else {
            /* Pathname: the kernel may or may not count the NUL. */
            n = strnlen(p, n);
        }
        /* An unnamed socket (socketpair, unbound client) leaves path empty. */
        if (n > UNIX_PATH_LIMIT) {
            errno = ENAMETOOLONG;
            return VSOK_E_ADDRESS;
        }
        memcpy(a->path, p, n);
        a->path[n] = '\0';
        return VSOK_OK;
    }
    case AF_VSOCK: {
        const struct sockaddr_vm *svm = (const struct sockaddr_vm *)&ss;
        a->kind = VSOK_ADDR_VSOCK;
        a->cid = svm->svm_cid;
        a->port = svm->svm_port;
        return VSOK_OK;
    }
    default: errno = EAFNOSUPPORT; return VSOK_E_INVAL;
    }
}

/* ------------------------------------------------------------------------ */
/* Convenience                                                               */

/* A sentence for a failed connect or listen, keeping errno.  vsock and
 * Firecracker answer a port nobody listens on with a reset, not a refusal;
 * say so, since "Connection reset by peer" reads like a crash. */
void vsok_addr_explain(const vsok_addr *a, int connecting, vsok_err e, char *err, size_t errlen)
{
    if (a == NULL || err == NULL || errlen == 0)
        return;
    const char *verb = connecting ? "connect to" : "listen on";
    int saved = errno;
    char text[VSOK_ADDR_PATH_MAX + 300];
    vsok_addr_format(a, text, sizeof(text));
    if (e == VSOK_E_IO && saved == ECONNRESET && connecting && a->kind == VSOK_ADDR_VSOCK)
        snprintf(err, errlen,
                 "nothing is listening on %s: vsock answers a connect to a port without a listener "
                 "with a reset (ECONNRESET), not a refusal",
                 text);
    else if (e == VSOK_E_IO && saved == ECONNRESET && connecting && a->kind == VSOK_ADDR_FC)
        snprintf(err, errlen,
                 "nothing is listening on guest port %u behind %s: Firecracker closed the "
                 "connection instead of answering CONNECT",
                 (unsigned)a->port, text);
    else if (e == VSOK_E_IO)
        snprintf(err, errlen, "cannot %s %s: %s", verb, text, strerror(saved));
    else
        snprintf(err, errlen, "cannot %s %s: %s", verb, text, vsok_strerror(e));
    errno = saved;
}

/* vsok_connect and vsok_listen: parse, open, explain a failure. */
static vsok_err open_text(const char *text, int connecting, int arg, int *fd_out, char *err, size_t errlen)
{
    vsok_addr a;
    if (fd_out)
        *fd_out = -1;
    vsok_err e = vsok_addr_parse(&a, text, err, errlen);
    if (e != VSOK_OK)
        return e;
    e = connecting ? vsok_addr_connect(&a, arg, fd_out) : vsok_addr_listen(&a, arg, fd_out);
    if (e != VSOK_OK)
        vsok_addr_explain(&a, connecting, e, err, errlen);
    return e;
}

vsok_err vsok_connect(const char *text, int timeout_ms, int *fd_out, char *err, size_t errlen)
{
    return open_text(text, 1, timeout_ms, fd_out, err, errlen);
}

vsok_err vsok_listen(const char *text, int backlog, int *fd_out, char *err, size_t errlen)
{
    return open_text(text, 0, backlog, fd_out, err, errlen);
}
