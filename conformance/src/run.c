/* SPDX-License-Identifier: MIT */
/* run.c - running one case and grading it.  Every verdict other than PASS
 * and SKIP says what was owed and what was seen; survival of the IUT is
 * checked after every hostile or failed case so that a crash or a wedge is
 * reported once, on the case that caused it. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conform.h"

static void set(char **dst, char *s)
{
    free(*dst);
    *dst = s;
}

static void verdict(vc_result *r, vc_verdict v, const char *rule)
{
    r->verdict = v;
    r->failed_rule = rule;
}

static void skip(vc_result *r, char *why)
{
    verdict(r, VC_SKIP, NULL);
    set(&r->note, why);
}

#define SHORT_WAIT_MS 150        /* the close wait after 3 missed closes */
#define SHORTER_WAIT_MS 50       /* and after 10 */
#define RESET_SETTLE_MS 300      /* server role: how long a reset may take to kill the IUT */
#define SLOW_READER_MS 300       /* back-pressure cases read nothing for this long */
#define SLOW_READER_RCVBUF 16384 /* and have this receive buffer */

static int64_t deadline(vc_ctx *x) { return vc_now_ms() + x->o->timeout_ms; }

/* The connection could not be opened.  When the IUT is simply gone, the
 * case before this one is where it died: say so there, once. */
static void open_failed(vc_ctx *x, vc_result *res, vc_result *prev, int refused, const char *err)
{
    if (!refused) {
        verdict(res, VC_ERROR, NULL);
        set(&res->actual, vc_printf("the runner could not open a connection: %s", err));
        return;
    }
    if (prev && (prev->verdict == VC_PASS || prev->verdict == VC_NONSTRICT)) {
        verdict(prev, VC_FAIL, "VSOK-SURVIVE");
        set(&prev->expected, vc_printf("the IUT keeps serving new connections after this case"));
        set(&prev->actual, vc_printf("the next connection failed: %s (crashed?)", err));
        vc_mark_down(x, prev->c);
        skip(res, vc_printf("not run: the IUT is down since case %s", vc_down_since(x)));
    } else if (prev) {
        vc_mark_down(x, prev->c);
        skip(res, vc_printf("not run: the IUT is down since case %s (%s)", vc_down_since(x), err));
    } else {
        /* No earlier case to blame: the first case, or (--jobs) one that
         * ran alongside the case that took the IUT down. */
        vc_mark_down(x, res->c);
        verdict(res, VC_FAIL, "VSOK-SURVIVE");
        set(&res->expected, vc_strdup("the IUT accepts a connection"));
        set(&res->actual, vc_printf("%s (crashed?)", err));
    }
}

static void explain(vc_result *res, const vc_reader *rd)
{
    char e[512], a[512], h[640];
    res->first_diff = vc_reader_explain(rd, e, sizeof e, a, sizeof a);
    vc_reader_hexdump(rd, h, sizeof h);
    set(&res->expected, vc_strdup(e));
    set(&res->actual, vc_strdup(a));
    if (h[0])
        set(&res->hexdump, vc_strdup(h));
}

/* The rule a protocol error's detection belongs to. */
static const char *error_rule(const vc_case *c)
{
    const char *e = c->error_name ? c->error_name : "";
    if (!strcmp(e, "InvalidMagicBytes"))
        return "VSOK-MAGIC";
    if (!strcmp(e, "InvalidTotalLength"))
        return "VSOK-LENGTH-ZERO";
    if (!strcmp(e, "MessageTooLarge"))
        return "VSOK-MAX";
    if (!strcmp(e, "Truncated"))
        return "VSOK-TRUNCATED";
    return "VSOK-CLOSE-ON-ERROR";
}

/* Offset of the first byte after the owed frames: where the error starts. */
static uint64_t prefix_len(const vc_case *c)
{
    uint64_t fs = 0;
    for (size_t i = 0; i < c->nowed; i++)
        fs += 8 + c->owed[i].len;
    return fs;
}

/* Does the excess begin with an echo of the offending frame, re-framed as a
 * valid one ("VSOK", its length field, its payload)?  Then the IUT did not
 * see the error at all: the error's own rule is broken (a magic check that
 * was skipped, a length accepted), not the obligation to close. */
static int excess_is_reframed(const vc_case *c, const vc_reader *rd)
{
    uint64_t fs = prefix_len(c);
    if (fs + 8 > c->input_len || rd->nwindow < 4 || memcmp(rd->window, "VSOK", 4) != 0)
        return 0;
    size_t n = rd->nwindow;
    if (n > c->input_len - fs)
        n = (size_t)(c->input_len - fs);
    return memcmp(rd->window + 4, c->input + fs + 4, n - 4) == 0;
}

static const char *closed_how(const vc_xfer *t) { return t->closed == 2 ? "reset (RST)" : "closed (FIN)"; }

/* The same bytes in one write on a fresh connection, with the runner's FIN
 * after them when fin is set: 1 when every owed echo then arrives, 0 when
 * not, -1 when no connection opened. */
static int replay_whole(vc_ctx *x, const vc_case *c, int fin)
{
    vc_conn conn;
    int refused;
    char err[512];
    if (vc_iut_open(x, &conn, deadline(x), &refused, err, sizeof err) != 0)
        return -1;
    vc_reader rd;
    vc_reader_init(&rd, c->owed, c->nowed);
    vc_xfer t = {.fd = conn.fd,
                 .out = c->input,
                 .outlen = c->input_len,
                 .half_close = fin,
                 .rd = &rd,
                 .deadline = deadline(x),
                 .close_grace_ms = 0};
    vc_xfer_run(&t);
    int lingering = x->lingering; /* a diagnostic replay: no verdict of its own */
    vc_iut_close(x, &conn);
    x->lingering = lingering;
    return rd.state == VC_R_COMPLETE;
}

/* The replay without the FIN: tells an IUT that drops the echoes owed at a
 * FIN from one that rejected the input (both close without them). */
static int echoes_without_fin(vc_ctx *x, const vc_case *c)
{
    if (x->nofin_rejects >= 3)
        return 0; /* it rejected valid input three times already: no need to ask again */
    int ok = replay_whole(x, c, 0);
    if (ok == 0)
        x->nofin_rejects++;
    return ok == 1;
}

/* The replay with the FIN, once the one without it got every echo: 1 when
 * it gets them all too, i.e. the loss does not come with every FIN (a race
 * in the IUT, not its half-close handling as such). */
static int echoes_with_fin(vc_ctx *x, const vc_case *c)
{
    if (x->fin_repros >= 3)
        return 0; /* the loss came again three times already: it is no race */
    int ok = replay_whole(x, c, 1);
    if (ok == 0)
        x->fin_repros++;
    return ok == 1;
}

static void grade_exchange(vc_ctx *x, const vc_case *c, vc_result *res, const vc_xfer *t, const vc_reader *rd)
{
    int T = x->o->timeout_ms;
    uint64_t owed = rd->total;
    res->bytes_sent = t->sent;
    res->bytes_received = rd->received;
    if (rd->feeds)
        set(&res->note, vc_printf("the IUT's echo arrived in %llu read%s, largest %llu bytes",
                                  (unsigned long long)rd->feeds, rd->feeds == 1 ? "" : "s",
                                  (unsigned long long)rd->max_chunk));
    if (rd->state == VC_R_PENDING && t->held)
        return; /* a reset ending: every owed byte but the one left unread came */
    switch (rd->state) {
    case VC_R_MISMATCH:
        explain(res, rd);
        verdict(res, VC_FAIL,
                rd->diff_in_frame < 8 || c->end == VC_END_RESET ? "VSOK-FRAME"
                : c->expect == VC_X_CLOSE                       ? "VSOK-PREFIX"
                                                                : c->rule);
        return;
    case VC_R_EXCESS:
        explain(res, rd);
        if (c->expect == VC_X_CLOSE) {
            verdict(res, VC_FAIL, excess_is_reframed(c, rd) ? error_rule(c) : "VSOK-CLOSE-ON-ERROR");
            if (c->nowed)
                set(&res->expected,
                    vc_printf("%s at offset %llu: the echoes of the %zu frame%s before it (%llu "
                              "bytes), nothing more, then a close",
                              c->error_name, (unsigned long long)c->error_offset, c->nowed,
                              c->nowed == 1 ? "" : "s", (unsigned long long)owed));
            else
                set(&res->expected, vc_printf("%s at offset %llu: no echo at all, then a close",
                                              c->error_name, (unsigned long long)c->error_offset));
            /* Is the excess a copy of what the runner sent after the last
             * good frame, i.e. the offending frame itself? */
            uint64_t fs = 0;
            for (size_t i = 0; i < c->nowed; i++)
                fs += 8 + c->owed[i].len;
            size_t n = fs < c->input_len ? rd->nwindow : 0;
            if (n > c->input_len - fs)
                n = (size_t)(c->input_len - fs);
            if (n >= 4 && memcmp(rd->window, c->input + fs, n) == 0)
                set(&res->actual, vc_printf("%s: a copy of the bytes the runner sent from offset %llu "
                                            "on, the invalid frame itself",
                                            res->actual, (unsigned long long)fs));
            else if (excess_is_reframed(c, rd))
                set(&res->actual, vc_printf("%s: the invalid frame from offset %llu echoed as if it "
                                            "were valid (%s not detected)",
                                            res->actual, (unsigned long long)fs, c->error_name));
        } else {
            verdict(res, VC_FAIL, "VSOK-FRAME");
        }
        return;
    case VC_R_SHORT:
        res->cut = 1;
        explain(res, rd);
        /* (a reset case is about surviving the reset: an echo missing
         * before it is a framing fault) */
        verdict(res, VC_FAIL,
                c->expect == VC_X_CLOSE  ? "VSOK-PREFIX"
                : c->end == VC_END_RESET ? "VSOK-FRAME"
                                         : c->rule);
        /* Everything was sent, then the runner's FIN, then a clean close
         * (FIN: the IUT had read all its input) with whole echoes missing:
         * the echoes owed at the FIN were dropped.  (An echo cut inside a
         * frame is a broken frame, whenever the close came.) */
        if (t->closed == 1 && c->end == VC_END_HALF && t->t_sent && t->sent == c->input_len &&
            t->t_closed >= t->t_sent && rd->in_frame == 0 && echoes_without_fin(x, c)) {
            verdict(res, VC_FAIL, "VSOK-HALF-CLOSE");
            set(&res->actual, vc_printf("%s; the IUT closed (FIN) after the runner's FIN without "
                                        "delivering every echo owed by then (the same bytes "
                                        "without a FIN are all echoed)",
                                        res->actual));
            /* A loss that a replay with the FIN does not repeat points
             * elsewhere: say so, or the IUT's author hunts a FIN bug. */
            if (echoes_with_fin(x, c))
                set(&res->actual,
                    vc_printf("%s; a replay WITH the FIN got every echo too: the loss is "
                              "intermittent, a race in the IUT (its close racing its last "
                              "writes, or a descriptor closed twice, e.g. by two handles to one "
                              "fd, which closes whatever connection got that number since)",
                              res->actual));
            return;
        }
        if (c->expect == VC_X_ECHO && t->sent < c->input_len)
            set(&res->actual, vc_printf("%s; the IUT %s the connection after taking %llu of the %zu valid "
                                        "bytes sent (it rejected valid input)",
                                        res->actual, t->closed == 2 ? "reset" : "closed",
                                        (unsigned long long)t->sent, c->input_len));
        else
            set(&res->actual, vc_printf("%s; then the connection was %s", res->actual, closed_how(t)));
        return;
    case VC_R_PENDING:
        if (t->io_errno) {
            verdict(res, VC_ERROR, NULL);
            set(&res->actual, vc_printf("transport error: %s", strerror(t->io_errno)));
            return;
        }
        res->timeout = 1;
        verdict(res, VC_FAIL, "VSOK-TIMELY");
        set(&res->expected, vc_printf("%zu echo frame%s (%llu bytes) within %d ms", c->nowed,
                                      c->nowed == 1 ? "" : "s", (unsigned long long)owed, T));
        set(&res->actual,
            vc_printf("Timeout after %d ms: %llu of %llu owed bytes arrived (echo #%zu incomplete); "
                      "the runner had written %llu of %zu bytes%s",
                      T, (unsigned long long)rd->received, (unsigned long long)owed, rd->msg + 1,
                      (unsigned long long)t->sent, c->input_len,
                      t->read_after_send ? " (pipelined: nothing read until all was written)" : ""));
        res->first_diff = rd->received;
        return;
    case VC_R_COMPLETE: break;
    }
    if (c->expect == VC_X_CLOSE) {
        if (t->closed)
            return;
        int waited = T;
        if (t->close_grace_ms >= 0 && t->close_grace_ms < T)
            waited = (int)t->close_grace_ms;
        x->close_misses++;
        res->timeout = 1;
        if (c->early) {
            verdict(res, VC_NONSTRICT, "VSOK-EARLY-REJECT");
        } else {
            verdict(res, VC_FAIL, c->close_rule ? c->close_rule : "VSOK-CLOSE-ON-ERROR");
        }
        set(&res->expected,
            vc_printf("%s at offset %llu: the IUT closes the connection (FIN or RST) within %d ms",
                      c->error_name, (unsigned long long)c->error_offset, T));
        set(&res->actual,
            vc_printf("Timeout: the connection was still open %d ms after the runner wrote %llu "
                      "bytes (%s); %llu bytes echoed, as owed%s",
                      waited, (unsigned long long)t->sent,
                      c->end == VC_END_STALL ? "its write side left open" : "then a half-close",
                      (unsigned long long)rd->received,
                      waited < T ? " (wait shortened: this IUT already failed to close in 3 or more "
                                   "cases)"
                                 : ""));
        return;
    }
    if (c->close_rule && !t->closed) {
        verdict(res, VC_FAIL, c->close_rule); /* staying open is no way to end a stream */
        res->timeout = 1;
        set(&res->expected, vc_printf("every echo, then the IUT ends the connection within %d ms "
                                      "of the runner's FIN",
                                      T));
        set(&res->actual, vc_printf("every echo arrived, but the connection was still open %d ms "
                                    "after the runner's FIN",
                                    T));
        return;
    }
    if (!t->closed && c->end == VC_END_HALF && !x->no_close_after_eof)
        x->no_close_after_eof = 1; /* stop waiting for closes this IUT never makes */
}

static void write_bin(vc_ctx *x, const vc_case *c, vc_result *res)
{
    const char *dir = x->o->artifacts;
    res->replay = vc_printf("%s %s --seed 0x%016llx --timeout %dms --pick %s", x->o->argv0,
                            x->o->cmdline_role, (unsigned long long)x->o->seed, x->o->timeout_ms, c->id);
    if (!dir || !strcmp(dir, "none") || !c->input_len)
        return;
    char *path = vc_printf("%s/%s.bin", dir, c->id);
    FILE *f = fopen(path, "wb");
    if (!f && errno == ENOENT && vc_mkdir_p(dir) == 0)
        f = fopen(path, "wb");
    if (f && fwrite(c->input, 1, c->input_len, f) == c->input_len && fclose(f) == 0) {
        res->bin_path = path;
        return;
    }
    if (f)
        fclose(f);
    free(path);
}

/* A server that dies of a reset may not have been scheduled yet when the
 * survival probe connects: give it a bounded moment, ended at once by its
 * exit (a pidfd is readable when the process ends).  pid <= 0: none. */
static void settle_after_reset(const vc_ctx *x, long pid)
{
#ifdef SYS_pidfd_open
    int pfd = pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1;
    if (pfd >= 0) {
        struct pollfd pp = {.fd = pfd, .events = POLLIN};
        (void)poll(&pp, 1, x->o->timeout_ms < RESET_SETTLE_MS ? x->o->timeout_ms : RESET_SETTLE_MS);
        close(pfd);
    }
#else
    (void)x;
    (void)pid;
#endif
}

static void run_exchange(vc_ctx *x, const vc_case *c, vc_result *res, vc_result *prev)
{
    vc_split *splits = NULL;
    size_t nsplits = 0;
    vc_plan_build(c, x->o->seed, &splits, &nsplits);
    vc_conn conn;
    int refused;
    char err[512];
    /* The slow reader: a small receive buffer (TCP honours it for its
     * window, from the SYN on; unix sockets are bounded by the IUT's send
     * buffer anyway) plus a late start of reading: the IUT's writes must
     * block or come back short, whatever the transport's buffers would
     * otherwise absorb. */
    if (vc_iut_open_rcvbuf(x, &conn, deadline(x), c->slow_reader ? SLOW_READER_RCVBUF : 0, &refused, err,
                           sizeof err) != 0) {
        free(splits);
        open_failed(x, res, prev, refused, err);
        return;
    }
    int af_unix = vc_fd_is_unix(conn.fd);
    vc_reader rd;
    vc_reader_init(&rd, c->owed, c->nowed);
    /* An IUT that already failed to close on errors three times gets a
     * shorter wait for its close (it has every byte it needs by then), so a
     * never-closing IUT costs 200 ms per case, not a timeout (a correct IUT
     * closes within milliseconds of the byte that is its error). */
    int shorten = c->expect == VC_X_CLOSE && x->close_misses >= 3 && x->o->timeout_ms > SHORT_WAIT_MS;
    vc_xfer t = {
        .fd = conn.fd,
        .out = c->input,
        .outlen = c->input_len,
        .splits = splits,
        .nsplits = nsplits,
        .half_close = c->end == VC_END_HALF,
        .read_after_send = c->read_after_send,
        .rd = &rd,
        .deadline = deadline(x),
        .close_grace_ms = shorten ? (x->close_misses >= 10 ? SHORTER_WAIT_MS : SHORT_WAIT_MS)
                          : c->expect == VC_X_CLOSE || c->close_rule ? -1
                          : x->no_close_after_eof                    ? 0
                                                                     : 100,
        .hold_last = c->end == VC_END_RESET,
        .read_delay_ms = c->slow_reader ? SLOW_READER_MS : 0,
        .observe = !c->read_after_send && !c->slow_reader,
    };
    vc_xfer_run(&t);
    long server_pid = -1;
    if (c->end == VC_END_RESET) {
        /* An abortive close: RST on TCP; on unix sockets the unread byte
         * makes the IUT's next read fail with ECONNRESET. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        if (x->o->role == VC_ROLE_SERVER)
            server_pid = vc_iut_pid(x, &conn);
    }
    vc_iut_close(x, &conn);
    settle_after_reset(x, server_pid);
    free(splits);
    grade_exchange(x, c, res, &t, &rd);
    if (res->verdict == VC_FAIL && c->expect == VC_X_CLOSE && t.closed == 2 && rd.state == VC_R_SHORT) {
        if (af_unix) {
            /* No reset destroys written bytes on a unix socket: the IUT never
             * sent them (an output buffer dropped on the error path, say). */
            set(&res->note, vc_strdup("no drain-first replay: on a unix socket a reset never discards "
                                      "bytes the IUT had written (they are read before the error), so "
                                      "the missing echoes were never sent"));
        } else {
            /* Owed echo bytes lost to a reset after a protocol error: the
             * IUT's plain close() with unread input (TCP discards what it
             * still had queued), or a framing bug?  Replay with the prefix
             * drained first. */
            char why[512];
            int d = vc_replay_drain_first(x, c, why, sizeof why);
            if (d == 1) {
                verdict(res, VC_NONSTRICT, "VSOK-LINGER");
                set(&res->note, vc_printf("drain-first replay passed: every owed echo arrives when "
                                          "the runner reads them before sending the invalid rest, so "
                                          "the framing is right. The loss is the IUT's plain close() "
                                          "with unread input: on TCP that sends RST and discards the "
                                          "echoes still queued. Use a lingering close (shutdown(fd, "
                                          "SHUT_WR), read and discard for a bounded time, then "
                                          "close)"));
            } else {
                set(&res->note, vc_printf("drain-first replay: %s", why));
            }
        }
    }
    char crash[160];
    vc_iut_crash(&conn, crash, sizeof crash);
    if (crash[0]) {
        if (res->verdict == VC_PASS || res->verdict == VC_NONSTRICT) {
            verdict(res, VC_FAIL, "VSOK-SURVIVE");
            set(&res->expected, vc_strdup("the IUT handles the input without crashing"));
            set(&res->actual, vc_strdup(crash));
        } else {
            set(&res->actual, vc_printf("%s; %s", res->actual, crash));
        }
    }
}

/* Two connections: the first stalls inside a frame announcing 1 MiB, the
 * second must still get its echo. */
static void run_stall_others(vc_ctx *x, vc_result *res, vc_result *prev)
{
    static const uint8_t stall[8] = {'V', 'S', 'O', 'K', 0x00, 0x10, 0x00, 0x00};
    vc_conn a, b;
    int refused;
    char err[512];
    if (vc_iut_open(x, &a, deadline(x), &refused, err, sizeof err) != 0) {
        open_failed(x, res, prev, refused, err);
        return;
    }
    uint8_t part[8 + 1000];
    memcpy(part, stall, 8);
    vc_fill(part + 8, 1000, 7);
    ssize_t w = send(a.fd, part, sizeof part, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (vc_iut_open(x, &b, deadline(x), &refused, err, sizeof err) != 0) {
        vc_iut_close(x, &a);
        open_failed(x, res, prev, refused, err);
        return;
    }
    static const uint8_t msg[] = "served while another connection stalls";
    vc_span span = {msg, sizeof msg - 1};
    uint8_t frame[8 + sizeof msg - 1];
    vc_frame_put(frame, msg, span.len);
    vc_reader rd;
    vc_reader_init(&rd, &span, 1);
    vc_xfer t = {.fd = b.fd,
                 .out = frame,
                 .outlen = sizeof frame,
                 .rd = &rd,
                 .deadline = deadline(x),
                 .close_grace_ms = 0};
    vc_xfer_run(&t);
    vc_iut_close(x, &b);
    vc_iut_close(x, &a);
    res->bytes_sent = (uint64_t)(w > 0 ? w : 0) + t.sent;
    res->bytes_received = rd.received;
    if (rd.state == VC_R_COMPLETE) {
        set(&res->note, vc_printf("second connection echoed after %lld ms while the first held "
                                  "%zd bytes of a 1 MiB frame",
                                  (long long)(t.t_complete - t.t_start), w));
        return;
    }
    if (rd.state == VC_R_PENDING && t.timed_out) {
        res->timeout = 1;
        verdict(res, VC_NONSTRICT, "VSOK-CONCURRENT");
        set(&res->expected, vc_printf("an echo on a second connection within %d ms while the first "
                                      "stalls inside a frame announcing 1 MiB",
                                      x->o->timeout_ms));
        set(&res->actual, vc_printf("no echo within %d ms: the IUT serves one connection at a time, "
                                    "so one stalled peer blocks every other",
                                    x->o->timeout_ms));
        return;
    }
    explain(res, &rd);
    verdict(res, VC_FAIL, "VSOK-FRAME");
}

static long vmsize(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long pages = -1;
    if (fscanf(f, "%ld", &pages) != 1)
        pages = -1;
    fclose(f);
    return pages < 0 ? -1 : pages * sysconf(_SC_PAGESIZE);
}

/* Headers announcing 1 MiB, no payload: the IUT's virtual size must not grow
 * by the announced amount.  Measured through /proc, so it needs the IUT's
 * process id (spawned, SO_PEERCRED on unix sockets, or --iut-pid). */
static void run_lazy_alloc(vc_ctx *x, vc_result *res, vc_result *prev)
{
    enum { K = 4 };
    int k = x->o->role == VC_ROLE_SERVER ? K : 1;
    vc_conn conn[K];
    int open = 0, refused, serial = 0;
    char err[512];
    static const uint8_t warm[] = "warm";
    vc_span span = {warm, 4};
    uint8_t frame[12];
    vc_frame_put(frame, warm, 4);
    for (; open < k; open++) {
        if (vc_iut_open(x, &conn[open], deadline(x), &refused, err, sizeof err) != 0) {
            for (int i = 0; i < open; i++)
                vc_iut_close(x, &conn[i]);
            open_failed(x, res, prev, refused, err);
            return;
        }
        /* one echo first, so per-connection state (threads, buffers) exists
         * before the baseline is taken */
        vc_reader rd;
        vc_reader_init(&rd, &span, 1);
        /* Connections after the first get a short wait: a server that
         * serves one connection at a time (legal) is measured with one. */
        int64_t dl = open ? vc_now_ms() + (x->o->timeout_ms < 500 ? x->o->timeout_ms : 500) : deadline(x);
        vc_xfer t = {.fd = conn[open].fd,
                     .out = frame,
                     .outlen = sizeof frame,
                     .rd = &rd,
                     .deadline = dl,
                     .close_grace_ms = 0};
        vc_xfer_run(&t);
        if (rd.state == VC_R_PENDING && open > 0) {
            vc_iut_close(x, &conn[open]);
            serial = 1;
            break;
        }
        if (rd.state != VC_R_COMPLETE) {
            for (int i = 0; i <= open; i++)
                vc_iut_close(x, &conn[i]);
            explain(res, &rd);
            if (rd.state == VC_R_PENDING) { /* the reader explains only what came, not a wait */
                res->timeout = 1;
                set(&res->expected, vc_printf("the echo of a 4-byte message on connection %d within %d ms",
                                              open + 1, x->o->timeout_ms));
                set(&res->actual,
                    vc_printf("Timeout: %llu of 12 echo bytes arrived, the connection still open",
                              (unsigned long long)rd.received));
            }
            verdict(res, VC_FAIL, rd.state == VC_R_PENDING ? "VSOK-TIMELY" : "VSOK-FRAME");
            return;
        }
    }
    long pid = vc_iut_pid(x, &conn[0]);
    long before = pid > 0 ? vmsize(pid) : -1;
    if (before < 0) {
        for (int i = 0; i < open; i++)
            vc_iut_close(x, &conn[i]);
        skip(res, vc_strdup("not measurable: needs the IUT's process id (a unix: target, exec:, "
                            "--spawn, or --iut-pid PID) and its /proc entry"));
        return;
    }
    static const uint8_t hdr[8] = {'V', 'S', 'O', 'K', 0x00, 0x10, 0x00, 0x00};
    for (int i = 0; i < open; i++)
        if (send(conn[i].fd, hdr, 8, MSG_NOSIGNAL | MSG_DONTWAIT) != 8)
            break;
    long grow = 0;
    int64_t end = vc_now_ms() + 150;
    while (vc_now_ms() < end && grow < (long)VC_MAX_PAYLOAD) {
        vc_sleep_ms(10);
        long now = vmsize(pid);
        if (now - before > grow)
            grow = now - before;
    }
    for (int i = 0; i < open; i++)
        vc_iut_close(x, &conn[i]);
    res->bytes_sent = (uint64_t)open * (12 + 8);
    if (grow >= (long)VC_MAX_PAYLOAD) {
        verdict(res, VC_NONSTRICT, "VSOK-LAZY-ALLOC");
        set(&res->expected, vc_printf("the IUT's virtual size grows by less than 1 MiB after %d "
                                      "header%s announcing 1 MiB with no payload",
                                      open, open == 1 ? "" : "s"));
        set(&res->actual, vc_printf("process %ld grew by %ld KiB: it reserves the announced size "
                                    "before the bytes arrive",
                                    pid, grow / 1024));
        return;
    }
    set(&res->note,
        vc_printf("process %ld grew by %ld KiB after %d header%s announcing 1 MiB%s", pid, grow / 1024, open,
                  open == 1 ? "" : "s", serial ? " (it served one connection at a time)" : ""));
}

/* Entries of /proc/PID/WHAT (fd: open descriptors, task: threads); -1
 * when /proc does not say. */
static long proc_count(long pid, const char *what)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, what);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The fewest entries /proc/PID/WHAT has within ms (a server's counts settle
 * once its connection threads have finished): sampled every 10 ms, ending
 * early once it is at most `enough`. */
static long proc_settle(long pid, const char *what, int ms, long enough)
{
    long best = proc_count(pid, what);
    for (int64_t end = vc_now_ms() + ms; best > enough && vc_now_ms() < end;) {
        vc_sleep_ms(10);
        long n = proc_count(pid, what);
        if (n >= 0 && (best < 0 || n < best))
            best = n;
    }
    return best;
}

/* Connections the IUT ended must not leave descriptors or threads behind.
 * A server that only shuts a finished connection down (or keeps it in a
 * registry), or whose per-connection writer thread waits forever for a
 * sentinel nobody sends, answers every case right and dies at its
 * descriptor or thread limit (often 1024 descriptors): in production, not
 * in a run of a few hundred connections.  Counted through /proc/PID/fd and
 * /proc/PID/task, so it needs the pid. */
static void run_fd_release(vc_ctx *x, vc_result *res, vc_result *prev)
{
    enum { N = 64, WARM = 4 };
    static const uint8_t msg[] = "release";
    static const uint8_t bad[] = "XSOK\0\0\0\x05hello";
    uint8_t frame[8 + sizeof msg - 1];
    vc_frame_put(frame, msg, sizeof msg - 1);
    vc_span span = {msg, sizeof msg - 1};
    long pid = -1, fd0 = -1, th0 = -1;
    int settle = x->o->timeout_ms < 2000 ? x->o->timeout_ms : 2000;
    for (int i = 0; i < WARM + N; i++) {
        if (i == WARM) {
            /* the baseline once warm-up connections (threads, pools) are done */
            fd0 = proc_settle(pid, "fd", settle / 8, -1);
            th0 = proc_settle(pid, "task", settle / 8, -1);
            if (fd0 < 0)
                break;
        }
        vc_conn conn;
        int refused;
        char err[512];
        if (vc_iut_open(x, &conn, deadline(x), &refused, err, sizeof err) != 0) {
            open_failed(x, res, prev, refused, err);
            return;
        }
        if (pid < 0 && (pid = vc_iut_pid(x, &conn)) < 0) {
            vc_iut_close(x, &conn);
            break;
        }
        int error = i % 2; /* a clean end and a protocol error, alternately */
        vc_reader rd;
        vc_reader_init(&rd, &span, error ? 0 : 1);
        vc_xfer t = {.fd = conn.fd,
                     .out = error ? bad : frame,
                     .outlen = error ? sizeof bad - 1 : sizeof frame,
                     .half_close = !error,
                     .rd = &rd,
                     .deadline = deadline(x),
                     .close_grace_ms = -1};
        vc_xfer_run(&t);
        vc_iut_close(x, &conn);
        if (rd.state != VC_R_COMPLETE) {
            explain(res, &rd);
            verdict(res, VC_FAIL,
                    rd.state == VC_R_PENDING ? "VSOK-TIMELY"
                    : error                  ? "VSOK-CLOSE-ON-ERROR"
                                             : "VSOK-FRAME");
            set(&res->note, vc_printf("connection %d of %d (%s)", i + 1, WARM + N,
                                      error ? "a bad magic" : "one frame, then a FIN"));
            return;
        }
        if (!t.closed) {
            verdict(res, VC_FAIL, error ? "VSOK-CLOSE-ON-ERROR" : "VSOK-EOF");
            res->timeout = 1;
            set(&res->expected, vc_printf("connection %d (%s) closed by the IUT", i + 1,
                                          error ? "a bad magic" : "one frame, then a FIN"));
            set(&res->actual, vc_printf("still open %d ms after the runner's last byte", x->o->timeout_ms));
            return;
        }
    }
    if (fd0 < 0) {
        skip(res, vc_strdup("not measurable: needs the IUT's process id (a unix: target or --iut-pid "
                            "PID) and its /proc entry"));
        return;
    }
    long fd1 = proc_settle(pid, "fd", settle, fd0 + N / 4);
    long th1 = th0 < 0 ? -1 : proc_settle(pid, "task", settle, th0 + N / 4);
    res->bytes_sent = (uint64_t)(WARM + N) * sizeof frame;
    int fd_leak = fd1 >= 0 && fd1 - fd0 >= N / 2, th_leak = th1 >= 0 && th1 - th0 >= N / 2;
    if (fd_leak || th_leak) {
        const char *what = fd_leak ? "descriptors" : "threads";
        long a = fd_leak ? fd0 : th0, b = fd_leak ? fd1 : th1;
        verdict(res, VC_FAIL, "VSOK-RELEASE");
        set(&res->expected, vc_printf("after %d more connections, each closed by the IUT, it holds about as "
                                      "many descriptors (%ld) and threads (%ld) as before",
                                      N, fd0, th0));
        char limit[160] = "", threads[96] = "";
        if (fd_leak)
            snprintf(
                limit, sizeof limit,
                "; at a limit of 1024 (a common ulimit -n) it stops accepting after about %ld connections",
                (1024 - fd0) * N / (fd1 - fd0));
        if (fd_leak && th_leak)
            snprintf(threads, sizeof threads, "; threads: %ld, %ld before", th1, th0);
        set(&res->actual,
            vc_printf("process %ld holds %ld %s %d ms after the last connection ended: %ld more "
                      "for %d connections, so each ended connection leaves about one behind%s%s",
                      pid, b, what, settle, b - a, N, limit, threads));
        return;
    }
    set(&res->note, vc_printf("process %ld before and after %d connections: %ld and %ld open descriptors, "
                              "%ld and %ld threads",
                              pid, N, fd0, fd1, th0, th1));
}

/* The peer goes away while the IUT is still writing: every other reset
 * case waits for the owed echoes first, so the IUT's writes never meet a
 * dead connection there.  Here the runner reads next to nothing (a few KiB,
 * checked), with a small receive buffer, so that the IUT blocks writing
 * echoes of more than any loopback buffer holds; then it resets the
 * connection.  The IUT's next
 * write fails with EPIPE or ECONNRESET; a server that does not ignore
 * SIGPIPE (send() without MSG_NOSIGNAL, as most C servers start out) dies
 * of it, which the survival probe after this hostile case reports. */
static void run_gone_mid_echo(vc_ctx *x, vc_result *res, vc_result *prev)
{
    enum { FRAMES = 6 };
    size_t fl = 8 + VC_MAX_PAYLOAD, n = FRAMES * fl;
    uint8_t *out = vc_xmalloc(n), *pl = vc_xmalloc(VC_MAX_PAYLOAD);
    for (size_t i = 0; i < FRAMES; i++) {
        vc_fill(pl, VC_MAX_PAYLOAD, 0x600d + i);
        vc_frame_put(out + i * fl, pl, VC_MAX_PAYLOAD);
    }
    free(pl);
    vc_conn conn;
    int refused;
    char err[512];
    if (vc_iut_open_rcvbuf(x, &conn, deadline(x), SLOW_READER_RCVBUF, &refused, err, sizeof err) != 0) {
        free(out);
        open_failed(x, res, prev, refused, err);
        return;
    }
    long pid = vc_iut_pid(x, &conn);
    /* write what the IUT takes for a while, reading nothing: it is then
     * blocked writing echoes the runner never reads */
    int hold = x->o->timeout_ms < SLOW_READER_MS ? x->o->timeout_ms : SLOW_READER_MS;
    vc_reader rd;
    vc_reader_init(&rd, NULL, 0);
    vc_xfer t = {.fd = conn.fd,
                 .out = out,
                 .outlen = n,
                 .rd = &rd,
                 .deadline = vc_now_ms() + hold,
                 .read_delay_ms = hold + 1,
                 .close_grace_ms = 0};
    vc_xfer_run(&t);
    /* Whatever echo came meanwhile must be right: a moment of reading
     * (up to 4 KiB, at most 1 s) before the reset. */
    vc_span spans[FRAMES];
    for (size_t i = 0; i < FRAMES; i++)
        spans[i] = (vc_span){out + i * fl + 8, VC_MAX_PAYLOAD};
    vc_reader echo;
    vc_reader_init(&echo, spans, FRAMES);
    uint8_t buf[4096];
    int closed = 0, ioe = 0;
    for (int64_t dl = vc_now_ms() + (x->o->timeout_ms < 1000 ? x->o->timeout_ms : 1000);
         echo.state == VC_R_PENDING && echo.received < sizeof buf && !closed && vc_now_ms() < dl;) {
        struct pollfd pp = {.fd = conn.fd, .events = POLLIN};
        if (poll(&pp, 1, 10) > 0)
            (void)vc_recv_feed(conn.fd, &echo, buf, sizeof buf, &closed, &ioe);
    }
    if (echo.state == VC_R_MISMATCH || echo.state == VC_R_EXCESS) {
        vc_iut_close(x, &conn);
        explain(res, &echo); /* reads the owed bytes: before out is freed */
        free(out);
        verdict(res, VC_FAIL, "VSOK-FRAME");
        return;
    }
    free(out);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    vc_iut_close(x, &conn);
    res->bytes_sent = t.sent;
    settle_after_reset(x, pid);
    set(&res->note, vc_printf("reset after writing %llu of %zu bytes and reading %llu echo bytes",
                              (unsigned long long)t.sent, n, (unsigned long long)echo.received));
}

int vc_replay_drain_first(vc_ctx *x, const vc_case *c, char *why, size_t len)
{
    uint64_t pre = prefix_len(c);
    if (pre > c->input_len) {
        snprintf(why, len, "not applicable: the owed frames are longer than the input");
        return -1;
    }
    vc_conn conn;
    int refused;
    char err[512];
    if (vc_iut_open(x, &conn, deadline(x), &refused, err, sizeof err) != 0) {
        snprintf(why, len, "could not run: %s", err);
        return -1;
    }
    vc_reader rd;
    vc_reader_init(&rd, c->owed, c->nowed);
    vc_xfer a = {.fd = conn.fd,
                 .out = c->input,
                 .outlen = (size_t)pre,
                 .rd = &rd,
                 .deadline = deadline(x),
                 .close_grace_ms = 0};
    vc_xfer_run(&a);
    if (rd.state != VC_R_COMPLETE) {
        char e[512], g[512];
        vc_reader_explain(&rd, e, sizeof e, g, sizeof g);
        snprintf(why, len,
                 "still fails with the valid prefix (%llu bytes) sent alone and drained: "
                 "%s",
                 (unsigned long long)pre, rd.state == VC_R_PENDING ? "timeout" : g);
        vc_iut_close(x, &conn);
        return 0;
    }
    vc_reader none;
    vc_reader_init(&none, NULL, 0);
    vc_xfer b = {.fd = conn.fd,
                 .out = c->input + pre,
                 .outlen = (size_t)(c->input_len - pre),
                 .half_close = c->end == VC_END_HALF,
                 .rd = &none,
                 .deadline = deadline(x),
                 .close_grace_ms = -1};
    vc_xfer_run(&b);
    vc_iut_close(x, &conn);
    char crash[160];
    vc_iut_crash(&conn, crash, sizeof crash);
    if (crash[0]) {
        snprintf(why, len, "%s", crash);
        return 0;
    }
    if (none.state != VC_R_COMPLETE) {
        snprintf(why, len, "every owed echo came, but then %llu bytes more after the invalid rest",
                 (unsigned long long)none.received);
        return 0;
    }
    if (!b.closed) {
        snprintf(why, len, "every owed echo came, but no close after the invalid rest");
        return 0;
    }
    snprintf(why, len, "every owed echo came, then the close");
    return 1;
}

/* One step of the isolation case: send out on fd and expect the echo of
 * span (or nothing, span NULL), within the deadline.  0 when it came,
 * STEP_SLOW when it did not come in time, STEP_WRONG for a wrong echo or a
 * close. */
enum { STEP_SLOW = 1, STEP_WRONG = 2 };
static int step(int fd, const uint8_t *out, size_t n, const vc_span *span, int64_t dl, char *what, size_t len)
{
    vc_reader rd;
    vc_reader_init(&rd, span, span ? 1 : 0);
    vc_xfer t = {.fd = fd, .out = out, .outlen = n, .rd = &rd, .deadline = dl, .close_grace_ms = 0};
    vc_xfer_run(&t);
    if (rd.state == VC_R_COMPLETE && !t.closed)
        return 0;
    if (t.closed) {
        snprintf(what, len, "was %s after %llu of %llu echo bytes", closed_how(&t),
                 (unsigned long long)rd.received, (unsigned long long)rd.total);
        return STEP_WRONG;
    }
    if (rd.state == VC_R_PENDING) {
        snprintf(what, len, "got %llu of %llu echo bytes within the timeout (wedged)",
                 (unsigned long long)rd.received, (unsigned long long)rd.total);
        return STEP_SLOW;
    }
    char e[200], a[200];
    vc_reader_explain(&rd, e, sizeof e, a, sizeof a);
    snprintf(what, len, "got a wrong echo: %s", a);
    return STEP_WRONG;
}

/* Three connections open at the same time: A stops inside a frame, B
 * between frames, C sends a bad magic and is closed.  Then A and B carry on
 * and must be served exactly as if C had never existed. */
static void run_isolate(vc_ctx *x, vc_result *res, vc_result *prev)
{
    enum { NA = 300, NB = 40 };
    static uint8_t pa[NA], pb1[NB], pb2[NB];
    vc_fill(pa, NA, 11);
    vc_fill(pb1, NB, 12);
    vc_fill(pb2, NB, 13);
    uint8_t fa[8 + NA], fb1[8 + NB], fb2[8 + NB];
    vc_frame_put(fa, pa, NA);
    vc_frame_put(fb1, pb1, NB);
    vc_frame_put(fb2, pb2, NB);
    vc_span sa = {pa, NA}, sb1 = {pb1, NB}, sb2 = {pb2, NB};
    static const uint8_t bad[] = "XSOK\0\0\0\x05hello";
    vc_conn a, b, cc;
    int refused;
    char err[512], what[256];
    int na = 8 + NA / 2; /* A: the header and half of the payload */
    if (vc_iut_open(x, &a, deadline(x), &refused, err, sizeof err) != 0) {
        open_failed(x, res, prev, refused, err);
        return;
    }
    (void)step(a.fd, fa, (size_t)na, NULL, deadline(x), what, sizeof what); /* no echo owed yet */
    if (vc_iut_open(x, &b, deadline(x), &refused, err, sizeof err) != 0) {
        vc_iut_close(x, &a);
        open_failed(x, res, prev, refused, err);
        return;
    }
    int64_t short_dl = vc_now_ms() + (x->o->timeout_ms < 1000 ? x->o->timeout_ms : 1000);
    int sb = step(b.fd, fb1, sizeof fb1, &sb1, short_dl, what, sizeof what);
    if (sb != 0) {
        vc_iut_close(x, &b);
        vc_iut_close(x, &a);
        if (sb == STEP_SLOW) {
            skip(res, vc_printf("not measurable: a second connection opened while the first is "
                                "inside a frame %s, before any error: the IUT serves one "
                                "connection at a time (see robust.stall-serves-others)",
                                what));
            return;
        }
        verdict(res, VC_FAIL, "VSOK-FRAME");
        set(&res->expected, vc_strdup("a 40-byte message on a second connection (the first one "
                                      "inside a frame) is echoed"));
        set(&res->actual, vc_printf("before any error, the second connection %s", what));
        return;
    }
    if (vc_iut_open(x, &cc, deadline(x), &refused, err, sizeof err) != 0) {
        vc_iut_close(x, &b);
        vc_iut_close(x, &a);
        open_failed(x, res, prev, refused, err);
        return;
    }
    vc_reader rc;
    vc_reader_init(&rc, NULL, 0);
    vc_xfer tc = {.fd = cc.fd,
                  .out = bad,
                  .outlen = sizeof bad - 1,
                  .rd = &rc,
                  .deadline = deadline(x),
                  .close_grace_ms = -1};
    vc_xfer_run(&tc); /* its own verdicts are other cases' business: this one waits for it */
    res->bytes_sent = (uint64_t)na + sizeof fb1 + tc.sent;
    const char *who = NULL;
    int bad_a = step(a.fd, fa + na, sizeof fa - (size_t)na, &sa, deadline(x), what, sizeof what);
    if (bad_a)
        who = "connection A, stopped inside a frame (the header and half of a 300-byte payload)";
    char what_b[256] = "";
    int bad_b = step(b.fd, fb2, sizeof fb2, &sb2, deadline(x), what_b, sizeof what_b);
    if (!bad_a && bad_b) {
        who = "connection B, between frames (one echoed, the next sent afterwards)";
        snprintf(what, sizeof what, "%s", what_b);
    }
    vc_iut_close(x, &cc);
    vc_iut_close(x, &b);
    vc_iut_close(x, &a);
    res->bytes_sent += sizeof fa - (size_t)na + sizeof fb2;
    if (!who) {
        set(&res->note, vc_printf("both open connections were served after the third one's "
                                  "protocol error (it was %s)",
                                  tc.closed ? closed_how(&tc) : "not closed"));
        return;
    }
    verdict(res, VC_FAIL, "VSOK-ISOLATE");
    set(&res->expected, vc_strdup("connections open at the same time as one with a protocol error "
                                  "are served normally: the rest of A's frame and B's next frame "
                                  "are echoed"));
    set(&res->actual, vc_printf("%s %s%s%s, after a third connection sent a bad magic", who, what,
                                bad_a && bad_b ? "; connection B also " : "", bad_a && bad_b ? what_b : ""));
}

void vc_run_case(vc_ctx *x, const vc_case *c, vc_result *res, vc_result *prev)
{
    memset(res, 0, sizeof *res);
    res->c = c;
    res->verdict = VC_PASS;
    res->first_diff = UINT64_MAX;
    int64_t t0 = vc_now_ms();
    if (!(c->roles & x->o->role)) {
        skip(res, vc_printf("applies to the server role only"));
        return;
    }
    if (vc_down_before(x, c)) {
        skip(res, vc_printf("not run: the IUT is down since case %s", vc_down_since(x)));
        return;
    }
    if (x->run_deadline && t0 >= x->run_deadline) {
        skip(res, vc_printf("not run: the run's time budget (--budget %d s) is used up", x->o->budget_s));
        return;
    }
    switch (c->kind) {
    case VC_K_EXCHANGE: run_exchange(x, c, res, prev); break;
    case VC_K_STALL_OTHERS: run_stall_others(x, res, prev); break;
    case VC_K_LAZY_ALLOC: run_lazy_alloc(x, res, prev); break;
    case VC_K_ISOLATE: run_isolate(x, res, prev); break;
    case VC_K_FD_RELEASE: run_fd_release(x, res, prev); break;
    case VC_K_GONE_MID_ECHO: run_gone_mid_echo(x, res, prev); break;
    }
    /* Survival.  A long-lived server can be taken down by one connection:
     * probe after every hostile or failed case.  In the other roles every
     * connection is a fresh IUT (a crash there shows in its exit status);
     * a probe after a timeout still tells a slow case from an IUT that
     * never answers, which would otherwise time out in every case. */
    int probe = x->o->role == VC_ROLE_SERVER ? c->hostile || res->verdict != VC_PASS
                                             : res->timeout || res->verdict == VC_ERROR;
    if (probe && !x->down && res->verdict != VC_SKIP) {
        char why[512];
        int p = vc_iut_probe(x, x->o->timeout_ms, why, sizeof why);
        int ok = res->verdict == VC_PASS || res->verdict == VC_NONSTRICT;
        if (p == VC_PROBE_GONE || p == VC_PROBE_WEDGED) {
            /* Gone or wedged: report it here, once, and skip the rest. */
            vc_mark_down(x, c);
            if (ok) {
                verdict(res, VC_FAIL, "VSOK-SURVIVE");
                set(&res->expected, vc_strdup("after this case, a fresh connection gets a correct "
                                              "echo"));
                set(&res->actual, vc_printf("%s: the IUT crashed or wedged in this case", why));
            } else if (p == VC_PROBE_GONE && res->verdict == VC_FAIL && res->cut) {
                /* The connection was cut and the server is gone: the cut is
                 * the crash, whichever case (this one, or a hostile one
                 * alongside under --jobs) brought it down. */
                verdict(res, VC_FAIL, "VSOK-SURVIVE");
                set(&res->actual, vc_printf("%s; afterwards %s: the IUT went down while this case ran "
                                            "(the missing echoes are its crash), the remaining cases are "
                                            "skipped",
                                            res->actual ? res->actual : "", why));
            } else {
                set(&res->actual, vc_printf("%s; afterwards %s: the IUT no longer serves, the "
                                            "remaining cases are skipped",
                                            res->actual ? res->actual : "", why));
            }
        } else if (p == VC_PROBE_WRONG && ok && x->probe_baseline == VC_PROBE_OK) {
            /* It echoed the probe before the run, not after this case. */
            verdict(res, VC_FAIL, "VSOK-SURVIVE");
            set(&res->expected, vc_strdup("after this case, a fresh connection gets a correct echo, "
                                          "as it did before the run"));
            set(&res->actual, vc_printf("%s: this case left the IUT broken", why));
        }
    }
    if (res->verdict == VC_FAIL || res->verdict == VC_ERROR)
        write_bin(x, c, res);
    res->duration_ms = vc_now_ms() - t0;
}
