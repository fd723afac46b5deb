/* SPDX-License-Identifier: MIT */
/* log.h - leveled log lines for vsok-peer, as text or JSON lines.
 *
 * A line is an event name plus "key=value" fields.  Text output prints them
 * as given; JSON output turns each field into a member (bare decimal numbers
 * become JSON numbers, everything else a string).  A value containing spaces
 * or quotes must be wrapped with log_q(). */
#ifndef PEER_LOG_H
#define PEER_LOG_H

#include <stddef.h>

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
#define LOG_FORCE 0x100 /* or'ed into a level: print whatever -q says */

void log_setup(int level, int json);
int log_enabled(int level);
void plog(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Quotes s for use as one field value ("..." with \" and \\ escaped,
 * control bytes as \xHH).  Returns buf.  s may point into buf (it is
 * copied first, up to 1023 bytes). */
const char *log_q(char *buf, size_t len, const char *s);

#endif
