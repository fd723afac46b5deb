/* SPDX-License-Identifier: MIT */
/* stats.h - process-wide counters of vsok-peer, printed on SIGUSR1 and at exit. */
#ifndef PEER_STATS_H
#define PEER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <vsok/error.h>

typedef struct peer_stats {
    uint64_t conns_accepted; /* accepted or connected */
    uint64_t conns_refused;  /* over --max-conns or out of descriptors */
    uint64_t conns_closed;
    uint64_t conns_active;
    uint64_t conns_peak;
    uint64_t msgs_in, msgs_out;
    uint64_t bytes_in, bytes_out;
    uint64_t errors[VSOK_E__COUNT]; /* by vsok_err */
    uint64_t timeouts_idle, timeouts_msg, timeouts_write;
    uint64_t violations[2]; /* relay: client-to-target, target-to-client */
    uint64_t paused;        /* times reading stopped for back-pressure */
    size_t mem_now;         /* heap held by all connections */
    size_t mem_peak;
    size_t mem_conn_peak; /* most any single connection held */
} peer_stats;

extern peer_stats g_stats;

/* Moves a connection's accounted memory from old to now. */
void stats_mem(size_t old, size_t now);
void stats_conn_open(void);
void stats_conn_close(void);
/* One log line with every counter (level info, or error when forced so -q
 * still shows it at exit). */
void stats_print(const char *event, int level);

#endif
