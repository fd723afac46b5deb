/* SPDX-License-Identifier: MIT */
/* vsok/vsok.h - umbrella header for libvsok, the reference implementation of
 * the VSOK message framing ("VSOK" + u32 big-endian length + payload) over
 * vsock and other byte streams. */
#ifndef VSOK_VSOK_H
#define VSOK_VSOK_H

#include "address.h"
#include "decoder.h"
#include "error.h"
#include "header.h"
#include "protocol.h"
#include "socket.h"
#include "stream.h"

#define VSOK_VERSION_MAJOR 0
#define VSOK_VERSION_MINOR 1
#define VSOK_VERSION_PATCH 0
#define VSOK_VERSION_STRING "0.1.0"

#endif
