/* SPDX-License-Identifier: MIT */
/* stats.c - counters; errors are printed by their stable vsok_errname. */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

peer_stats g_stats;

void stats_mem(size_t old, size_t now)
{
    g_stats.mem_now = g_stats.mem_now - old + now;
    if (g_stats.mem_now > g_stats.mem_peak)
        g_stats.mem_peak = g_stats.mem_now;
    if (now > g_stats.mem_conn_peak)
        g_stats.mem_conn_peak = now;
}

void stats_conn_open(void)
{
    g_stats.conns_accepted++;
    g_stats.conns_active++;
    if (g_stats.conns_active > g_stats.conns_peak)
        g_stats.conns_peak = g_stats.conns_active;
}

void stats_conn_close(void)
{
    g_stats.conns_closed++;
    if (g_stats.conns_active)
        g_stats.conns_active--;
}

void stats_print(const char *event, int level)
{
    char errs[1024];
    size_t o = 0;
    errs[0] = 0;
    /* the protocol and transport errors a peer can cause, always listed */
    static const vsok_err shown[] = {VSOK_E_MAGIC, VSOK_E_TOO_LARGE, VSOK_E_LENGTH, VSOK_E_TRUNCATED,
                                     VSOK_E_IO,    VSOK_E_TIMEOUT,   VSOK_E_NOMEM};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        o += (size_t)snprintf(errs + o, sizeof errs - o, " errors.%s=%" PRIu64, vsok_errname(shown[i]),
                              g_stats.errors[shown[i]]);
    size_t per = g_stats.conns_active ? g_stats.mem_now / g_stats.conns_active : 0;
    plog(level, event,
         "conns=%" PRIu64 " active=%" PRIu64 " peak=%" PRIu64 " refused=%" PRIu64 " closed=%" PRIu64
         " msgs_in=%" PRIu64 " msgs_out=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
         "%s timeouts.idle=%" PRIu64 " timeouts.message=%" PRIu64 " timeouts.write=%" PRIu64
         " violations.client_to_target=%" PRIu64 " violations.target_to_client=%" PRIu64 " paused=%" PRIu64
         " mem_bytes=%zu"
         " mem_peak_bytes=%zu mem_per_conn_bytes=%zu mem_conn_peak_bytes=%zu",
         g_stats.conns_accepted, g_stats.conns_active, g_stats.conns_peak, g_stats.conns_refused,
         g_stats.conns_closed, g_stats.msgs_in, g_stats.msgs_out, g_stats.bytes_in, g_stats.bytes_out, errs,
         g_stats.timeouts_idle, g_stats.timeouts_msg, g_stats.timeouts_write, g_stats.violations[0],
         g_stats.violations[1], g_stats.paused, g_stats.mem_now, g_stats.mem_peak, per,
         g_stats.mem_conn_peak);
}
