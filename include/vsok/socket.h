/* SPDX-License-Identifier: MIT */
/* vsok/socket.h - vsok_socket, a buffered message socket.
 *
 * A vsok_socket owns an fd, a protocol (VSOK unless told otherwise), a read
 * buffer and a write queue.  With the default (VSOK) protocol
 * the reader pulls up to 256 KiB per read() and serves many small messages
 * from one system call; the writer sends a message of up to 8 KiB as one
 * send() of header and payload copied together, a larger one as header and
 * first chunk in one writev and the rest in chunks of at most
 * VSOK_CHUNK_SIZE.  EINTR, short
 * reads and writes are retried; EAGAIN polls up to the per-message deadline;
 * SIGPIPE never fires (MSG_NOSIGNAL).
 *
 * With a custom protocol the handle delegates to its vtable over an fd
 * stream and the protocol's own error codes come back through
 * vsok_socket_proto_error.
 */
#ifndef VSOK_SOCKET_H
#define VSOK_SOCKET_H
#include "export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "address.h"
#include "decoder.h"
#include "error.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsok_socket vsok_socket;

/* Wraps fd (ownership passes to the handle, even on failure).  proto NULL
 * means VSOK.  Returns VSOK_E_NOMEM / VSOK_E_INVAL. */
VSOK_API vsok_err vsok_socket_open(vsok_socket **out, int fd, const vsok_protocol *proto);

/* Parses text, connects and wraps.  err receives a sentence on address
 * errors (may be NULL). */
VSOK_API vsok_err vsok_socket_connect(vsok_socket **out, const char *text, int timeout_ms, char *err,
                                      size_t errlen);

/* Accepts one connection on listen_fd (waiting up to timeout_ms; -1 = no
 * limit) and wraps it with proto (NULL = VSOK).  *peer (may be NULL) gets the
 * peer's address. */
VSOK_API vsok_err vsok_socket_accept(vsok_socket **out, int listen_fd, int timeout_ms,
                                     const vsok_protocol *proto, vsok_addr *peer);

/* Closes the fd and frees everything.  NULL is fine. */
VSOK_API void vsok_socket_close(vsok_socket *s);

VSOK_API int vsok_socket_fd(const vsok_socket *s);

/* Deadline for each whole message read or written, in ms; -1 (default)
 * waits forever.  Setting a timeout makes the handle's fd non-blocking (the
 * handle owns it) so that every wait goes through poll with the deadline. */
VSOK_API void vsok_socket_set_timeout(vsok_socket *s, int timeout_ms);

/* Maximum payload accepted by the reader (1..VSOK_MAX_PAYLOAD). */
VSOK_API vsok_err vsok_socket_set_max_payload(vsok_socket *s, size_t max_payload);

/* Reads one message into a malloc'd block the caller frees.  VSOK_E_EOF on a
 * clean end, VSOK_E_TRUNCATED inside a frame, protocol errors with the offset
 * in vsok_socket_error_offset.  With a custom protocol, any error other than
 * its clean end of stream is VSOK_E_PROTOCOL with the protocol's own code in
 * vsok_socket_proto_error (name it with proto->strerror). */
VSOK_API vsok_err vsok_socket_read_message(vsok_socket *s, uint8_t **msg, size_t *len);

/* Zero-copy read (VSOK protocol only): *msg borrows the handle's buffer until
 * the next call on s. */
VSOK_API vsok_err vsok_socket_recv(vsok_socket *s, vsok_msg *msg);

/* Writes one message (blocking up to the deadline). */
VSOK_API vsok_err vsok_socket_write_message(vsok_socket *s, const void *msg, size_t len);

/* Batched write path: queue copies small messages into the handle's output
 * buffer (256 KiB; flushing by itself when it fills), so msg may be reused as
 * soon as queue returns; flush sends what is queued in one write per buffer
 * (short writes and EAGAIN are retried up to the deadline).  Large messages
 * (>= VSOK_CHUNK_SIZE) flush the queue and bypass the copy.  When a flush
 * fails (also the one queue does by itself) part of the queue may have gone
 * out: the rest is dropped, never resent, and the stream should be closed. */
VSOK_API vsok_err vsok_socket_queue(vsok_socket *s, const void *msg, size_t len);
VSOK_API vsok_err vsok_socket_flush(vsok_socket *s);

/* Writes n messages (each iov element is one message) with as few system
 * calls as possible: behind whatever is queued, as vsok_socket_queue would
 * take each (small ones copied, one write per 256 KiB of them; large ones
 * bypass the copy), then flushed, so all have been sent when it returns
 * VSOK_OK and the iovecs may be reused.  An invalid element (empty, too
 * large, NULL with a length) returns its error after the messages before it
 * have been sent; it and those after it are not.  This is the cheapest
 * batched path per message: the queue's checks and copy in one loop, with
 * no call per message. */
VSOK_API vsok_err vsok_socket_write_messages(vsok_socket *s, const struct iovec *msgs, size_t n);

/* Stream offset at which the last protocol error was detected. */
VSOK_API uint64_t vsok_socket_error_offset(const vsok_socket *s);
/* Last custom-protocol error code (0 if none). */
VSOK_API int vsok_socket_proto_error(const vsok_socket *s);
/* The protocol in use. */
VSOK_API const vsok_protocol *vsok_socket_protocol(const vsok_socket *s);

/* Half-close: shutdown(SHUT_WR) after flushing the queue. */
VSOK_API vsok_err vsok_socket_shutdown_write(vsok_socket *s);

#ifdef __cplusplus
}
#endif
#endif
