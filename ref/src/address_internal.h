/* SPDX-License-Identifier: MIT */
/* address_internal.h - what address.c, address_socket.c and address_fc.c
 * share (internal). */
#ifndef VSOK_ADDRESS_INTERNAL_H
#define VSOK_ADDRESS_INTERNAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "vsok/address.h"

/* Longest path that fits sun_path with its terminating NUL.  Abstract names
 * could use all 108 bytes, but vsok_addr stores them NUL-terminated. */
#define UNIX_PATH_LIMIT (VSOK_ADDR_PATH_MAX - 1)

typedef enum { NUM_OK, NUM_EMPTY, NUM_SIGN, NUM_NOT_DECIMAL, NUM_JUNK, NUM_RANGE } num_status;

/* Strict unsigned decimal over exactly [p, p+n) (address.c); *junk_at is the
 * index of the first non-digit for NUM_JUNK. */
num_status vsok__parse_decimal(const char *p, size_t n, uint64_t max, uint64_t *out, size_t *junk_at);

/* Connects a Unix stream socket to path (abstract: the name without its
 * leading NUL) before deadline (absolute, vsok_now_ms clock; -1 = none),
 * with so (may be NULL) set first.  Returns a connected, blocking fd
 * (address_socket.c). */
vsok_err vsok__connect_unix(const char *path, int abstract, const vsok_sockopts *so, int64_t deadline,
                            int *fd_out);

/* Connects to a Firecracker hybrid vsock address and runs the CONNECT
 * handshake before deadline (address_fc.c). */
vsok_err vsok__fc_connect(const vsok_addr *a, const vsok_sockopts *so, int64_t deadline, int *fd_out);

static inline void vsok__close_keep_errno(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

#endif
