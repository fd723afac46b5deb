/* SPDX-License-Identifier: MIT */
/* vsok/stream.h - the abstract byte stream protocols run over.
 *
 * A stream is a pair of callbacks and a context, so a protocol can run over
 * an fd, a TLS session, an in-memory buffer or a fuzzer's mock.  Callbacks
 * follow read(2)/write(2): >0 bytes moved, 0 end of stream (read only), -1
 * with errno set (EINTR and EAGAIN allowed; the helpers below deal with them).
 */
#ifndef VSOK_STREAM_H
#define VSOK_STREAM_H
#include "export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsok_stream {
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    ssize_t (*write)(void *ctx, const void *buf, size_t len);
    /* Optional (NULL: the helpers fall back to write per element). */
    ssize_t (*writev)(void *ctx, const struct iovec *iov, int iovcnt);
    void *ctx;
    /* fd to poll(2) on EAGAIN, or -1 when the stream is not an fd (then
     * EAGAIN is returned to the caller as VSOK_E_AGAIN). */
    int poll_fd;
    /* Per-call deadline in ms for vsok_stream_read_full/write_full when they
     * must wait; -1 waits forever. */
    int timeout_ms;
} vsok_stream;

/* A stream over fd (not owned: closing stays the caller's job).  Writes use
 * MSG_NOSIGNAL on sockets so a closed peer gives EPIPE, never SIGPIPE. */
VSOK_API vsok_stream vsok_stream_fd(int fd);

/* Reads exactly len bytes, retrying EINTR and short reads, polling on EAGAIN
 * up to the deadline.  *got (may be NULL) receives the bytes read even on
 * failure.  Returns VSOK_OK, VSOK_E_EOF (0 bytes then end), VSOK_E_TRUNCATED
 * (some bytes then end), VSOK_E_TIMEOUT, VSOK_E_AGAIN (non-fd stream) or
 * VSOK_E_IO (errno kept). */
VSOK_API vsok_err vsok_stream_read_full(vsok_stream *s, void *buf, size_t len, size_t *got);

/* Writes all iovcnt buffers, retrying EINTR and short writes, polling on
 * EAGAIN up to the deadline.  The iov array is not modified.
 * Returns VSOK_OK, VSOK_E_TIMEOUT, VSOK_E_AGAIN or VSOK_E_IO. */
VSOK_API vsok_err vsok_stream_writev_full(vsok_stream *s, const struct iovec *iov, int iovcnt);
VSOK_API vsok_err vsok_stream_write_full(vsok_stream *s, const void *buf, size_t len);

/* Monotonic milliseconds, for deadlines. */
VSOK_API int64_t vsok_now_ms(void);

/* Waits until fd is ready for events (POLLIN/POLLOUT) or deadline_ms
 * (absolute, vsok_now_ms clock; -1 = forever) passes; a ready fd is not a
 * timeout even past the deadline, and a timeout sets errno to ETIMEDOUT.
 * Retries EINTR with the remaining time.  Returns VSOK_OK, VSOK_E_TIMEOUT or VSOK_E_IO. */
VSOK_API vsok_err vsok_wait_fd(int fd, short events, int64_t deadline_ms);

#ifdef __cplusplus
}
#endif
#endif
