/* SPDX-License-Identifier: MIT */
/* vsok/address.h - one address syntax for every vsok tool.
 *
 *   vsock:CID:PORT      AF_VSOCK; CID may be a number or any (-1), local (1),
 *                       host (2), parent (3, the Nitro parent instance)
 *   unix:PATH           Unix stream socket; unix:@name = abstract namespace
 *   tcp:HOST:PORT       TCP, IPv4 or IPv6 ([::1]:PORT or ::1 with last colon)
 *   fd:N                an inherited, already connected/listening descriptor
 *   fc:UDS_PATH:PORT    Firecracker hybrid vsock.  Connecting: connect to
 *                       UDS_PATH, send "CONNECT PORT\n", expect "OK <n>\n".
 *                       Listening: bind UDS_PATH_PORT, where Firecracker
 *                       delivers guest-initiated connections.
 * socat spellings are accepted too: VSOCK-CONNECT:cid:port, VSOCK-LISTEN:port,
 * TCP:host:port, TCP-LISTEN:port, UNIX-CONNECT:path, UNIX-LISTEN:path (and
 * TCP4/TCP6 variants).  A *-LISTEN spelling sets the listen hint.  socat's
 * options (",fork", ",unlink-early") are refused for every spelling: a ','
 * is never part of a path, host or port.
 */
#ifndef VSOK_ADDRESS_H
#define VSOK_ADDRESS_H
#include "export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vsok_addr_kind {
    VSOK_ADDR_VSOCK = 1,
    VSOK_ADDR_UNIX,
    VSOK_ADDR_TCP,
    VSOK_ADDR_FD,
    VSOK_ADDR_FC,
} vsok_addr_kind;

#define VSOK_CID_ANY 0xFFFFFFFFu
#define VSOK_CID_LOCAL 1u
#define VSOK_CID_HOST 2u
#define VSOK_CID_PARENT 3u
#define VSOK_ADDR_PATH_MAX 108 /* sizeof(sun_path) */

/* Caller-allocated: a parsed address holds no heap memory. */
typedef struct vsok_addr {
    vsok_addr_kind kind;
    uint32_t cid;                  /* vsock */
    uint32_t port;                 /* vsock, tcp, fc */
    char path[VSOK_ADDR_PATH_MAX]; /* unix, fc: NUL-terminated; abstract names without '@' */
    int abstract;                  /* unix: 1 for unix:@name */
    char host[256];                /* tcp: literal or name, brackets removed */
    int fd;                        /* fd */
    int listen_hint;               /* 1 when spelt as socat's *-LISTEN */
} vsok_addr;

/* Parses text into *a.  On failure returns VSOK_E_ADDRESS and writes a
 * sentence naming what is wrong into err (err may be NULL; errlen bytes,
 * always NUL-terminated). */
VSOK_API vsok_err vsok_addr_parse(vsok_addr *a, const char *text, char *err, size_t errlen);

/* Canonical text of a ("vsock:1:5000", "tcp:[::1]:80", ...).  Returns the
 * length that would have been written, like snprintf. */
VSOK_API int vsok_addr_format(const vsok_addr *a, char *buf, size_t len);

/* Connects to a (blocking until connected or timeout_ms; -1 = no limit).  The
 * returned fd is blocking, close-on-exec.  For fc: runs the CONNECT handshake
 * without reading a byte past the "OK n\n" line.  VSOK_E_IO keeps errno (a
 * vsock connect to a port with no listener gives ECONNRESET).  VSOK_E_INVAL
 * for fd: addresses (use them directly). */
VSOK_API vsok_err vsok_addr_connect(const vsok_addr *a, int timeout_ms, int *fd_out);

/* Socket options that only take effect when set before connect(2): tcp(7)
 * says so of the buffer sizes, which fix the window offered in the SYN; a
 * TCP receive buffer shrunk after the handshake makes Linux senders crawl
 * on their persist timer.  0 leaves the kernel's default. */
typedef struct vsok_sockopts {
    int rcvbuf; /* SO_RCVBUF, bytes */
    int sndbuf; /* SO_SNDBUF, bytes */
} vsok_sockopts;

/* vsok_addr_connect with so applied to the socket before it connects (so
 * may be NULL: the same as vsok_addr_connect).  A negative size is
 * VSOK_E_INVAL; a failing setsockopt VSOK_E_IO with errno kept. */
VSOK_API vsok_err vsok_addr_connect_opts(const vsok_addr *a, const vsok_sockopts *so, int timeout_ms,
                                         int *fd_out);

/* Creates a listening socket for a (SO_REUSEADDR for TCP; a stale Unix socket
 * file is replaced).  fd:N is returned as is.  The fd is non-blocking and
 * close-on-exec. */
VSOK_API vsok_err vsok_addr_listen(const vsok_addr *a, int backlog, int *fd_out);

/* Accepts one connection on listen_fd, waiting up to timeout_ms (-1 = no
 * limit): EINTR, EAGAIN and ECONNABORTED (a client that gave up in the
 * backlog) wait for the next.  *fd_out gets a blocking, close-on-exec fd.
 * VSOK_E_TIMEOUT (errno ETIMEDOUT), VSOK_E_IO with errno kept. */
VSOK_API vsok_err vsok_addr_accept(int listen_fd, int timeout_ms, int *fd_out);

/* The socket address vsok_addr_connect would connect to, for a caller that
 * connects by itself (an event loop's non-blocking connect): vsock and unix
 * as they are; tcp resolved as vsok_addr_connect resolves it (numeric
 * first, then names) and the first address getaddrinfo prefers.  fc: and
 * fd: give VSOK_E_INVAL (fc needs its CONNECT handshake: use
 * vsok_addr_connect); a name that does not resolve VSOK_E_ADDRESS. */
VSOK_API vsok_err vsok_addr_sockaddr(const vsok_addr *a, struct sockaddr_storage *ss, socklen_t *len);

/* The address a listening or connected socket is bound to, in the same
 * syntax (so port 0 can be resolved and printed). */
VSOK_API vsok_err vsok_addr_from_fd(int fd, int peer, vsok_addr *a);

/* Writes a sentence explaining why connecting (connecting=1) to or
 * listening on a failed with e, reading errno for VSOK_E_IO (and keeping
 * it).  A vsock or fc connect to a port with no listener says exactly that,
 * since the kernel reports it as ECONNRESET, which reads like a crash. */
VSOK_API void vsok_addr_explain(const vsok_addr *a, int connecting, vsok_err e, char *err, size_t errlen);

/* Convenience: parse + connect / parse + listen.  On any failure err gets a
 * sentence (errno kept): a vsock or fc connect to a port with no listener
 * says exactly that, since the kernel reports it as ECONNRESET. */
VSOK_API vsok_err vsok_connect(const char *text, int timeout_ms, int *fd_out, char *err, size_t errlen);
VSOK_API vsok_err vsok_listen(const char *text, int backlog, int *fd_out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
