/* SPDX-License-Identifier: MIT */
/* fuzz.c - differential fuzzing of the IUT: vsok-conform --fuzz DURATION.
 *
 * Each input (fuzz_gen.c) is played against the IUT in its role while the
 * echoes are read; the library's push decoder is the oracle: it says which
 * echoes are owed, byte for byte, and whether the IUT must close (after a
 * protocol error: without waiting; after FIN at a boundary: once the echoes
 * are out; after FIN mid-frame: without a partial echo) or must stay open
 * (a valid stream left open).  A divergence - wrong, missing or extra echo,
 * a close too early or never, a crash, a server that stops accepting, a
 * wedge, memory growth - is confirmed by a second run, checked against a
 * drain-first replay when owed echoes were lost to a reset, shrunk
 * (fuzz_shrink.c) and written as a .bin, a schedule, a vector-format case
 * and a replay command; the run stops there and exits 1.
 *
 * Findings become ordinary results (a synthetic case fuzz.finding.N), so
 * every report format carries them. */
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "cli_opt.h"
#include "conform.h"

#ifdef VC_HAVE_VECTORS
#include "vsok_vectors.h"
#endif

#define STAY_GRACE_MS 25    /* a valid stream left open: watch this long for a wrong close */
#define CONSUME_MAX_MS 1000 /* after a cut: wait up to this long for the IUT to take the bytes */
#define PROGRESS_MS 3000
#define SHRINK_RUNS 300
#define SHRINK_MS 60000
#define RSS_GROWTH_KB (128 * 1024) /* a server's VmRSS above 2 x its early value + this: a finding */
#define SHRINK_WAIT_MS 300         /* see the shrinking of timeouts */
#define VECTOR_ID 9001             /* id of a written finding case (renumber when adding it to vectors/) */

/* ---- options ---- */
static int64_t fz_ms;         /* --fuzz DURATION */
static const char *fz_replay; /* --fuzz-replay FILE.bin */
static long fz_dump = -1;     /* --fuzz-dump N */

int vc_fuzz_opt(int which, const char *arg)
{
    char why[200];
    uint64_t n;
    switch (which) {
    case 0:
        if (cli_parse_duration(arg, 1, 7 * 24 * 3600000LL, &fz_ms, NULL, why, sizeof why) != 0) {
            fprintf(stderr, "vsok-conform: bad --fuzz '%s': %s (e.g. 60s, 500ms, 2m)\n", arg, why);
            return -1;
        }
        return 0;
    case 1: fz_replay = arg; return 0;
    default:
        if (cli_parse_count(arg, 0, 1, 1000000, &n, why, sizeof why) != 0) {
            fprintf(stderr, "vsok-conform: bad --fuzz-dump '%s': %s\n", arg, why);
            return -1;
        }
        fz_dump = (long)n;
        return 0;
    }
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int vc_fuzz_dump(const vc_opts *o, const vc_catalogue *cat, FILE *f)
{
    if (fz_dump < 0)
        return 0;
    for (long i = 0; i < fz_dump; i++) {
        vc_fz_input in;
        vc_fz_generate(&in, o->seed, (uint64_t)i, cat, o->role);
        uint64_t h = fnv(in.data, in.len);
        for (size_t k = 0; k < in.ncuts; k++)
            h = (h ^ in.cuts[k].offset ^ ((uint64_t)in.cuts[k].pause_ms << 40)) * 0x100000001b3ull;
        fprintf(f, "%ld len=%zu cuts=%zu end=%s second=%lld hash=%016llx %s\n", i, in.len, in.ncuts,
                vc_fz_end_name(in.end), (long long)in.second, (unsigned long long)h, in.origin);
        vc_fz_input_free(&in);
    }
    return 1;
}

/* ---- the oracle ---- */
typedef struct oracle {
    vc_span *owed;
    size_t nowed;
    uint64_t owed_bytes;
    vsok_err err; /* VSOK_OK, or the protocol error in the bytes */
    uint64_t err_off;
    uint64_t valid_end; /* end of the last complete frame */
    int boundary;       /* no error: the stream ends between frames */
    int early;          /* a magic error in a header the stream never completes */
    int must_close, stay_open;
} oracle;

static void oracle_build(const vc_fz_input *in, oracle *o)
{
    memset(o, 0, sizeof *o);
    vsok_decoder *d = vsok_decoder_new(0);
    size_t pos = 0, cap = 0;
    while (d && pos < in->len) {
        size_t used = 0;
        vsok_msg m;
        vsok_err e = vsok_decoder_feed(d, in->data + pos, in->len - pos, &used, &m);
        pos += used;
        if (e == VSOK_OK) {
            if (o->nowed == cap) {
                cap = cap ? cap * 2 : 16;
                o->owed = vc_xrealloc(o->owed, cap * sizeof *o->owed);
            }
            /* the payload's bytes in the input itself: m.data is borrowed */
            o->owed[o->nowed].data = in->data + m.offset + 8;
            o->owed[o->nowed].len = m.len;
            o->nowed++;
            o->owed_bytes += 8 + m.len;
            o->valid_end = m.offset + 8 + m.len;
            continue;
        }
        if (e != VSOK_E_AGAIN) {
            o->err = e;
            o->err_off = vsok_decoder_error_offset(d);
        }
        break;
    }
    o->boundary = d && !o->err && vsok_decoder_at_boundary(d);
    vsok_decoder_free(d);
    o->early = o->err == VSOK_E_MAGIC && o->valid_end + 8 > in->len;
    if (o->err)
        o->must_close = !(o->early && in->end == VC_FZ_OPEN);
    else
        o->must_close = in->end == VC_FZ_FIN;
    o->stay_open = !o->err && in->end == VC_FZ_OPEN;
}

/* ---- one exchange ---- */
typedef struct xfer {
    int *fd;
    const vc_fz_input *in;
    uint64_t drain_at; /* hold the rest until every owed echo is in (UINT64_MAX: never) */
    int64_t hook_at;   /* call hook when this many bytes are out (-1: never) */
    void (*hook)(void *);
    void *hook_ctx;
    vc_reader *rd;
    int64_t deadline;
    int must_close;
    /* out */
    uint64_t sent;
    int closed; /* 1 FIN, 2 reset */
    int timed_out, write_err, io_errno, reset_sent;
} xfer;

static uint8_t rbuf[VC_CHUNK];

/* A reset reaches the IUT as ECONNRESET only when the runner closes with
 * echo bytes unread, and whether one is waiting yet is a race.  Before a
 * reset, wait (bounded) until the IUT has taken every byte sent and, when
 * echoes are owed, the first of them is here, unread: the input then plays
 * out the same way each time it is run, replays included. */
static void settle_before_reset(int fd, const vc_reader *rd, int64_t until)
{
    for (;;) {
        int pending = 0;
        if (ioctl(fd, FIONREAD, &pending) != 0)
            pending = 0;
        int taken = vc_unread(fd) <= 0;
        if (taken && (rd->total <= rd->received || pending > 0))
            return;
        int64_t left = until - vc_now_ms();
        if (left <= 0)
            return;
        /* SIOCOUTQ has no event: look again in a millisecond (an echo that
         * is already here would make POLLIN return at once) */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        (void)poll(&p, pending > 0 ? 0 : 1, 1);
    }
}

static void xfer_run(xfer *t)
{
    const vc_fz_input *in = t->in;
    int fd = *t->fd;
    size_t next = 0;
    int writing = 1, hooked = t->hook_at < 0;
    int64_t ready_at = 0, consume_until = 0, complete_at = 0;
    t->sent = 0;
    /* A unix socket tells when the IUT has read a piece; TCP only when the
     * peer's kernel acknowledged it (delayed ACKs), so a short wait there. */
    int domain = 0;
    socklen_t dl = sizeof domain;
    int observable = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain == AF_UNIX;
    int consume_ms = observable ? CONSUME_MAX_MS : 2;
    for (;;) {
        int64_t now = vc_now_ms();
        if (writing && t->sent == in->len) {
            writing = 0;
            if (in->end == VC_FZ_FIN) {
                shutdown(fd, SHUT_WR);
            } else if (in->end == VC_FZ_RST) {
                settle_before_reset(fd, t->rd, now + consume_ms);
                struct linger l = {1, 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                close(fd);
                *t->fd = -1;
                t->reset_sent = 1;
                return;
            }
        }
        if (t->closed || vc_reader_settled(t->rd))
            return;
        int64_t limit = t->deadline;
        if (!writing && t->rd->state == VC_R_COMPLETE && !t->must_close) {
            if (!complete_at)
                complete_at = now;
            if (complete_at + STAY_GRACE_MS < limit)
                limit = complete_at + STAY_GRACE_MS;
            if (now >= limit)
                return;
        }
        if (now >= limit) {
            t->timed_out = 1;
            return;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t wake = limit;
        int fine = 0, pacing = 0;
        if (writing) {
            int can = now >= ready_at;
            pacing = !can;
            if (!can && ready_at < wake)
                wake = ready_at;
            /* make the cut observable: the IUT reads the piece on its own */
            if (can && consume_until && vc_unread(fd) > 0) {
                if (now < consume_until) {
                    can = 0;
                    fine = pacing = 1;
                } else if (observable) {
                    consume_ms = 0; /* it does not read now: stop waiting for it */
                }
            }
            if (can && t->sent == t->drain_at && t->rd->state != VC_R_COMPLETE)
                can = 0; /* drain-first: every owed echo before the rest */
            if (can && !hooked && (int64_t)t->sent >= t->hook_at) {
                hooked = 1;
                t->hook(t->hook_ctx);
            }
            if (can)
                p.events |= POLLOUT;
        }
        /* waiting for the IUT to take a piece: look again in 100 us */
        struct timespec ts = {0, fine ? 100000 : 0};
        if (!fine) {
            int64_t d = wake > now ? wake - now : 0;
            ts.tv_sec = (time_t)(d / 1000);
            ts.tv_nsec = (long)(d % 1000) * 1000000L;
        }
        int rc = ppoll(&p, 1, &ts, NULL);
        /* the timeout is the IUT's: the runner's own pacing comes on top */
        if (pacing)
            t->deadline += vc_now_ms() - now;
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            t->io_errno = errno;
            return;
        }
        if (rc == 0)
            continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            vc_recv_feed(fd, t->rd, rbuf, sizeof rbuf, &t->closed, &t->io_errno);
            if (t->closed)
                return;
        }
        if (writing && (p.revents & (POLLOUT | POLLERR | POLLHUP)) && (p.events & POLLOUT)) {
            uint64_t b = next < in->ncuts ? in->cuts[next].offset : in->len;
            if (t->sent < t->drain_at && t->drain_at < b)
                b = t->drain_at;
            if (!hooked && (uint64_t)t->hook_at > t->sent && (uint64_t)t->hook_at < b)
                b = (uint64_t)t->hook_at;
            ssize_t w = vc_send_some(fd, in->data + t->sent, (size_t)(b - t->sent));
            if (w > 0) {
                t->sent += (uint64_t)w;
                if (next < in->ncuts && t->sent == in->cuts[next].offset) {
                    now = vc_now_ms();
                    ready_at = now + in->cuts[next].pause_ms;
                    consume_until = consume_ms ? now + consume_ms : 0;
                    next++;
                }
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                t->write_err = errno; /* the IUT closed: read what it sent before */
                writing = 0;
            }
        }
    }
}

/* ---- running one input and grading it ---- */
typedef struct outcome {
    int diverged;
    const char *rule;
    char expected[640], actual[900], hexdump[700];
    int rst_loss;    /* owed echoes missing after a reset that followed a protocol error */
    int server_gone; /* the server no longer accepts connections */
    int no_shrink;
    int timeout;
    uint64_t sent, received, first_diff;
} outcome;

typedef struct fuzz {
    vc_ctx *x;
    const vc_catalogue *cat;
    uint64_t execs, dismissed, unconfirmed;
    int drain_first; /* replay every execution drain-first (an RST-loss finding) */
    const char *want_rule;
    int wait_ms; /* shrinking a finding that is a timeout: a shorter wait (0: the timeout) */
    long pid;
    long rss_base_kb; /* server memory */
} fuzz;

static const char *class_rule(vsok_err e)
{
    return e == VSOK_E_MAGIC ? "VSOK-MAGIC" : e == VSOK_E_LENGTH ? "VSOK-LENGTH-ZERO" : "VSOK-MAX";
}

static void explain(outcome *o, const vc_reader *rd)
{
    o->first_diff = vc_reader_explain(rd, o->expected, sizeof o->expected, o->actual, sizeof o->actual);
    vc_reader_hexdump(rd, o->hexdump, sizeof o->hexdump);
}

static void append(char *buf, size_t len, const char *sep, const char *s)
{
    size_t n = strlen(buf);
    if (n < len)
        snprintf(buf + n, len - n, "%s%s", sep, s);
}

static void grade(const oracle * or, const vc_fz_input *in, const xfer *t, const vc_reader *rd, int T,
                  outcome *o)
{
    o->sent = t->sent;
    o->received = rd->received;
    o->first_diff = UINT64_MAX;
    const char *what = or->err ? vsok_errname(or->err) : or->boundary ? "a clean end" : "a partial frame";
    switch (rd->state) {
    case VC_R_MISMATCH:
        explain(o, rd);
        o->diverged = 1;
        o->rule = rd->diff_in_frame < 8 || ! or->err ? "VSOK-FRAME" : "VSOK-PREFIX";
        return;
    case VC_R_EXCESS: {
        explain(o, rd);
        o->diverged = 1;
        if (! or->err) {
            o->rule = "VSOK-FRAME";
            return;
        }
        size_t n = rd->nwindow;
        if (n > in->len - or->valid_end)
            n = in->len - (size_t) or->valid_end;
        int copy = n >= 4 && memcmp(rd->window, in->data + or->valid_end, n) == 0;
        o->rule = or->err == VSOK_E_MAGIC && copy ? "VSOK-CLOSE-ON-ERROR" : class_rule(or->err);
        snprintf(o->expected, sizeof o->expected,
                 "%s at offset %llu: the echoes of the %zu frame%s before it (%llu bytes), nothing "
                 "more, then a close",
                 vsok_errname(or->err), (unsigned long long) or->err_off, or->nowed,
                 or->nowed == 1 ? "" : "s", (unsigned long long) or->owed_bytes);
        return;
    }
    case VC_R_SHORT:
        explain(o, rd);
        o->diverged = 1;
        if (or->err) {
            o->rule = "VSOK-PREFIX";
            o->rst_loss = t->closed == 2 || t->write_err;
        } else if (rd->msg < or->nowed && or->owed[rd->msg].len > VC_CHUNK) {
            o->rule = "VSOK-FLOW";
        } else if (t->sent == in->len && in->end == VC_FZ_FIN) {
            o->rule = "VSOK-HALF-CLOSE";
        } else {
            o->rule = in->ncuts ? "VSOK-SPLIT" : "VSOK-FRAME";
        }
        snprintf(o->actual + strlen(o->actual), sizeof o->actual - strlen(o->actual),
                 "; the IUT %s the connection after taking %llu of the %zu bytes sent",
                 t->closed == 2 ? "reset" : "closed", (unsigned long long)t->sent, in->len);
        return;
    case VC_R_PENDING:
        if (t->reset_sent || t->io_errno)
            return;
        o->diverged = 1;
        o->timeout = 1;
        /* every byte written, some echoes out, the later ones never: frames
         * that came with earlier ones were lost */
        o->rule = t->sent == in->len && rd->msg > 0 ? "VSOK-SPLIT" : "VSOK-TIMELY";
        o->first_diff = rd->received;
        snprintf(o->expected, sizeof o->expected, "%zu echo frame%s (%llu bytes) within %d ms", or->nowed,
                 or->nowed == 1 ? "" : "s", (unsigned long long) or->owed_bytes, T);
        snprintf(o->actual, sizeof o->actual,
                 "Timeout after %d ms: %llu of %llu owed bytes arrived; the runner had written "
                 "%llu of %zu bytes",
                 T, (unsigned long long)rd->received, (unsigned long long) or->owed_bytes,
                 (unsigned long long)t->sent, in->len);
        return;
    case VC_R_COMPLETE: break;
    }
    if (t->reset_sent)
        return;
    if (or->must_close && !t->closed) {
        o->diverged = 1;
        o->timeout = 1;
        o->rule = or->err ? "VSOK-CLOSE-ON-ERROR" : or->boundary ? "VSOK-EOF" : "VSOK-TRUNCATED";
        snprintf(o->expected, sizeof o->expected,
                 "%s at offset %llu: the %zu owed echo%s, then the IUT closes within %d ms", what,
                 (unsigned long long)(or->err ? or->err_off : in->len), or->nowed, or->nowed == 1 ? "" : "es",
                 T);
        snprintf(o->actual, sizeof o->actual,
                 "Timeout: every owed echo arrived, but the connection was still open %d ms after "
                 "the runner wrote %llu bytes (write side %s)",
                 T, (unsigned long long)t->sent, in->end == VC_FZ_FIN ? "shut down" : "left open");
        return;
    }
    if (or->stay_open && t->closed) {
        o->diverged = 1;
        o->rule = or->boundary ? "VSOK-FRAME" : "VSOK-SPLIT";
        snprintf(o->expected, sizeof o->expected,
                 "a valid stream%s, left open by the runner: the %zu echo%s and the connection "
                 "stays open",
                 or->boundary ? "" : " ending inside a frame", or->nowed, or->nowed == 1 ? "" : "es");
        snprintf(o->actual, sizeof o->actual, "the IUT %s the connection after the echoes",
                 t->closed == 2 ? "reset" : "closed");
    }
}

/* The second connection of a server-role input: opened while the first
 * stream is being written, a frame half sent; finished after the first
 * connection is closed (so a serial server is not failed for serving one
 * connection at a time). */
typedef struct second {
    vc_ctx *x;
    vc_conn c;
    int open;
    uint8_t frame[8 + 32];
} second;

static void second_open(void *arg)
{
    second *s = arg;
    int refused;
    char err[256];
    uint8_t p[32];
    vc_fill(p, sizeof p, 0x5eed);
    vc_frame_put(s->frame, p, sizeof p);
    if (vc_iut_open(s->x, &s->c, vc_now_ms() + s->x->o->timeout_ms, &refused, err, sizeof err) != 0)
        return;
    s->open = 1;
    (void)vc_send_some(s->c.fd, s->frame, 20);
}

static void second_finish(second *s, int T, outcome *o)
{
    if (!s->open)
        return;
    vc_span span = {s->frame + 8, 32};
    vc_reader rd;
    vc_reader_init(&rd, &span, 1);
    vc_fz_input in = {.data = s->frame + 20, .len = sizeof s->frame - 20, .end = VC_FZ_FIN, .second = -1};
    /* the reader expects the whole echo; the runner sends the rest of the frame */
    xfer t = {.fd = &s->c.fd,
              .in = &in,
              .drain_at = UINT64_MAX,
              .hook_at = -1,
              .rd = &rd,
              .deadline = vc_now_ms() + T,
              .must_close = 0};
    xfer_run(&t);
    vc_iut_close(s->x, &s->c);
    if (o->diverged || rd.state == VC_R_COMPLETE)
        return;
    o->diverged = 1;
    o->rule = "VSOK-SURVIVE";
    char e[512], a[512];
    vc_reader_explain(&rd, e, sizeof e, a, sizeof a);
    snprintf(o->expected, sizeof o->expected,
             "a second connection, opened while the first stream was being written, gets the echo "
             "of its 32-byte frame");
    snprintf(o->actual, sizeof o->actual, "second connection: %s%s", a,
             rd.state == VC_R_PENDING ? " (no echo within the timeout)" : "");
}

static long vmrss_kb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int execute(fuzz *F, const vc_fz_input *in, int drain_first, outcome *o)
{
    vc_ctx *x = F->x;
    int T = F->wait_ms ? F->wait_ms : x->o->timeout_ms;
    memset(o, 0, sizeof *o);
    o->first_diff = UINT64_MAX;
    F->execs++;
    oracle or ;
    oracle_build(in, & or);
    vc_conn conn;
    int refused;
    char err[512];
    if (vc_iut_open(x, &conn, vc_now_ms() + T, &refused, err, sizeof err) != 0) {
        free(or.owed);
        o->diverged = 1;
        o->server_gone = refused;
        o->no_shrink = 1;
        o->rule = "VSOK-SURVIVE";
        snprintf(o->expected, sizeof o->expected, "the IUT accepts a new connection");
        snprintf(o->actual, sizeof o->actual, "%s", err);
        return -1;
    }
    if (F->pid == 0 && x->o->role == VC_ROLE_SERVER)
        F->pid = vc_iut_pid(x, &conn);
    vc_reader rd;
    vc_reader_init(&rd, or.owed, or.nowed);
    second s = {.x = x};
    xfer t = {.fd = &conn.fd,
              .in = in,
              .drain_at = UINT64_MAX,
              .hook_at = -1,
              .rd = &rd,
              .deadline = vc_now_ms() + T,
              .must_close = or.must_close};
    if (drain_first && or.err)
        t.drain_at = or.valid_end;
    if (in->second >= 0 && x->o->role == VC_ROLE_SERVER) {
        t.hook_at = in->second;
        t.hook = second_open;
        t.hook_ctx = &s;
    }
    xfer_run(&t);
    int af_unix = vc_fd_is_unix(conn.fd);
    vc_iut_close(x, &conn);
    grade(& or, in, &t, &rd, T, o);
    if (af_unix)
        o->rst_loss = 0; /* a unix socket's reset loses nothing written: the echoes were never sent */
    char crash[160];
    vc_iut_crash(&conn, crash, sizeof crash);
    /* A process of its own per connection, killed by SIGPIPE writing to a
     * connection the runner had already ended: the default of every Unix
     * filter, and harmless (a server killed so is caught as "gone"). */
    if (conn.reaped && WIFSIGNALED(conn.status) && WTERMSIG(conn.status) == SIGPIPE)
        crash[0] = 0;
    if (crash[0]) {
        if (!o->diverged) {
            snprintf(o->expected, sizeof o->expected, "the IUT handles the input without crashing");
            snprintf(o->actual, sizeof o->actual, "%s", crash);
        } else {
            append(o->actual, sizeof o->actual, "; ", crash);
        }
        o->diverged = 1;
        o->rst_loss = 0;
        o->rule = "VSOK-SURVIVE";
    }
    second_finish(&s, T, o);
    if (o->timeout && x->o->role == VC_ROLE_SERVER) {
        char why[256];
        int p = vc_iut_probe(x, T, why, sizeof why);
        if (p == VC_PROBE_GONE || p == VC_PROBE_WEDGED) {
            append(o->actual, sizeof o->actual, "; afterwards ", why);
            o->rule = "VSOK-SURVIVE";
            o->no_shrink = p == VC_PROBE_GONE;
        }
    }
    free(or.owed);
    return 0;
}

/* A valid stream mishandled: whether it is the split that matters is
 * settled after shrinking (attribute), so the two count as one here. */
static int same_rule(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return 1;
    int fa = !strcmp(a, "VSOK-SPLIT") || !strcmp(a, "VSOK-FRAME");
    int fb = !strcmp(b, "VSOK-SPLIT") || !strcmp(b, "VSOK-FRAME");
    return fa && fb;
}

/* The shrinker's question: does this candidate still break the same rule? */
static int still(void *ctx, const vc_fz_input *cand)
{
    fuzz *F = ctx;
    outcome o;
    execute(F, cand, F->drain_first, &o);
    if (!o.diverged || o.no_shrink || !same_rule(o.rule, F->want_rule))
        return 0;
    if (o.rst_loss && !F->drain_first)
        return 0;
    return 1;
}

/* VSOK-SPLIT or VSOK-FRAME for a valid stream the IUT mishandled: does
 * the divergence depend on how the bytes were cut?  Played again in one
 * write, and with a write (and a pause) per frame: if both diverge too, the
 * frames themselves are the trouble. */
static void attribute(fuzz *F, const vc_fz_input *in, outcome *o)
{
    if (strcmp(o->rule, "VSOK-SPLIT") != 0 && strcmp(o->rule, "VSOK-FRAME") != 0)
        return;
    oracle or ;
    oracle_build(in, & or);
    int valid = ! or.err;
    vc_fz_input a, b;
    vc_fz_input_copy(&a, in);
    a.ncuts = 0;
    vc_fz_input_copy(&b, in);
    b.cuts = vc_xrealloc(b.cuts, (or.nowed + 1) * sizeof *b.cuts);
    b.ncuts = 0;
    for (size_t i = 0; i < or.nowed; i++) {
        b.cuts[b.ncuts].offset = (uint64_t)(or.owed[i].data - in->data) + or.owed[i].len;
        b.cuts[b.ncuts++].pause_ms = 2;
    }
    vc_fz_input_fix(&b);
    free(or.owed);
    if (valid) {
        outcome oa, ob;
        execute(F, &a, F->drain_first, &oa);
        execute(F, &b, F->drain_first, &ob);
        o->rule = oa.diverged && ob.diverged ? "VSOK-FRAME" : "VSOK-SPLIT";
    }
    vc_fz_input_free(&a);
    vc_fz_input_free(&b);
}

/* ---- artifacts ---- */
static void json_bytes(FILE *f, const uint8_t *p, size_t n)
{
    /* runs of one byte or of a counter become generators, the rest hex */
    int first = 1;
    size_t i = 0, hex_from = 0;
    while (i <= n) {
        size_t fill = 0, ctr = 0;
        if (i < n) {
            while (i + fill < n && p[i + fill] == p[i])
                fill++;
            while (i + ctr < n && p[i + ctr] == (uint8_t)(p[i] + ctr))
                ctr++;
        }
        size_t run = fill > ctr ? fill : ctr;
        if (i == n || run >= 24) {
            if (i > hex_from) {
                fprintf(f, "%s{\"hex\": \"", first ? "" : ", ");
                for (size_t k = hex_from; k < i; k++)
                    fprintf(f, "%02x", p[k]);
                fputs("\"}", f);
                first = 0;
            }
            if (i == n)
                break;
            fprintf(f, "%s{\"%s\": %u, \"len\": %zu}", first ? "" : ", ", fill >= ctr ? "fill" : "counter",
                    p[i], run);
            first = 0;
            i += run;
            hex_from = i;
        } else {
            i++;
        }
    }
}

#ifdef VC_HAVE_VECTORS
static void json_sha(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t d[32];
    char hex[65];
    vsok_vec_sha256(p, n, d);
    vsok_vec_hex32(d, hex);
    fprintf(f, "\"%s\"", hex);
}
#endif

static int write_vector(const char *path, const vc_fz_input *in, const outcome *o, int n, uint64_t seed,
                        uint64_t index)
{
#ifdef VC_HAVE_VECTORS
    oracle or ;
    oracle_build(in, & or);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(or.owed);
        return -1;
    }
    char *desc = vc_printf("Found by vsok-conform --fuzz (seed 0x%016llx, input %llu): %s. %s",
                           (unsigned long long)seed, (unsigned long long)index, o->rule, o->actual);
    fprintf(f, "{\n \"format\": \"vsok-test-vectors\",\n \"format_version\": 1,\n \"version\": 1,\n"
               " \"kind\": \"decoder\",\n \"group\": \"fuzz-finding\",\n \"description\": ");
    vc_json_str(f, "A stream vsok-conform --fuzz found and minimised; add the case to a group of "
                   "vectors/ under a free id.");
    fprintf(f, ",\n \"max_payload\": 1048576,\n \"notes\": {\n  \"fuzz\": {\"description\": ");
    vc_json_str(f, "A minimised input from differential fuzzing of an implementation.");
    fprintf(f, ", \"bug\": ");
    vc_json_str(f, vc_rule_text(o->rule)[0] ? vc_rule_text(o->rule) : o->rule);
    fprintf(f, ", \"effect\": ");
    vc_json_str(f, o->actual);
    int reset = in->ncuts && in->end == VC_FZ_RST;
    if (in->ncuts)
        fprintf(f, "},\n  \"split\": {\"description\": \"The case carries a delivery schedule: the "
                   "bytes are written in several pieces (possibly with pauses).\", \"bug\": \"Readers "
                   "that assume a header or a frame arrives in one read().\", \"effect\": \"Messages "
                   "corrupted or reported as Truncated on a slow or fragmented transport.\"");
    if (reset)
        fprintf(f, "},\n  \"reset\": {\"description\": \"The sender ends the stream with an abortive "
                   "close (RST).\", \"bug\": \"An implementation that crashes or misbehaves when the "
                   "peer resets the connection.\", \"effect\": \"A peer's reset takes the "
                   "implementation down.\"");
    fprintf(f,
            "}\n },\n \"cases\": [\n  {\n   \"id\": %d,\n   \"name\": \"fuzz-finding-%d\",\n"
            "   \"description\": ",
            VECTOR_ID + n - 1, n);
    vc_json_str(f, desc);
    fprintf(f, ",\n   \"tags\": [\"fuzz\"%s%s],\n   \"input\": [", in->ncuts ? ", \"split\"" : "",
            reset ? ", \"reset\"" : "");
    json_bytes(f, in->data, in->len);
    fprintf(f, "],\n   \"input_len\": %zu,\n   \"input_sha256\": ", in->len);
    json_sha(f, in->data, in->len);
    fprintf(f, ",\n   \"messages\": [");
    for (size_t i = 0; i < or.nowed; i++) {
        fprintf(f, "%s{\"frame_offset\": %llu, \"len\": %zu, \"sha256\": ", i ? ", " : "",
                (unsigned long long)(or.owed[i].data - in->data - 8), or.owed[i].len);
        json_sha(f, or.owed[i].data, or.owed[i].len);
        fputc('}', f);
    }
    const char *result = or.err ? vsok_errname(or.err) : or.boundary ? "Eof" : "Truncated";
    fprintf(f, "],\n   \"result\": \"%s\",\n   \"result_offset\": %llu", result,
            (unsigned long long)(or.err ? or.err_off : in->len));
    if (in->ncuts) {
        fprintf(f, ",\n   \"delivery\": {\"splits\": [");
        for (size_t i = 0; i < in->ncuts; i++)
            fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)in->cuts[i].offset);
        fprintf(f, "], \"pauses_ms\": [");
        for (size_t i = 0; i < in->ncuts; i++)
            fprintf(f, "%s%u", i ? ", " : "", in->cuts[i].pause_ms > 1000 ? 1000 : in->cuts[i].pause_ms);
        fprintf(f, "], \"end\": \"%s\"}", in->end == VC_FZ_RST ? "reset" : "half-close");
    }
    fprintf(f, "\n  }\n ]\n}\n");
    free(desc);
    free(or.owed);
    return fclose(f) == 0 ? 0 : -1;
#else
    (void)path;
    (void)in;
    (void)o;
    (void)n;
    (void)seed;
    (void)index;
    return -1;
#endif
}

/* FILE.sched beside FILE.bin: the schedule and ending of a replay. */
static int write_sched(const char *path, const vc_fz_input *in, int drain_first)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# vsok-conform --fuzz-replay schedule: end, second, drain-first, cut OFFSET PAUSE_MS\n");
    fprintf(f, "end %s\n", vc_fz_end_name(in->end));
    if (in->second >= 0)
        fprintf(f, "second %lld\n", (long long)in->second);
    if (drain_first)
        fprintf(f, "drain-first\n");
    for (size_t i = 0; i < in->ncuts; i++)
        fprintf(f, "cut %llu %u\n", (unsigned long long)in->cuts[i].offset, in->cuts[i].pause_ms);
    return fclose(f) == 0 ? 0 : -1;
}

static char *sched_path(const char *bin)
{
    size_t n = strlen(bin);
    if (n > 4 && !strcmp(bin + n - 4, ".bin"))
        return vc_printf("%.*s.sched", (int)(n - 4), bin);
    return vc_printf("%s.sched", bin);
}

static int load_replay(const char *bin, vc_fz_input *in, int *drain_first, char *err, size_t len)
{
    memset(in, 0, sizeof *in);
    in->second = -1;
    *drain_first = 0;
    FILE *f = fopen(bin, "rb");
    if (!f) {
        snprintf(err, len, "cannot open %s: %s", bin, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    for (;;) {
        if (in->len == cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > 4u * VC_MAX_PAYLOAD) {
                fclose(f);
                snprintf(err, len, "%s: larger than 4 MiB", bin);
                return -1;
            }
            in->data = vc_xrealloc(in->data, cap);
        }
        size_t r = fread(in->data + in->len, 1, cap - in->len, f);
        if (!r)
            break;
        in->len += r;
    }
    fclose(f);
    snprintf(in->origin, sizeof in->origin, "replay");
    char *sp = sched_path(bin);
    f = fopen(sp, "r");
    free(sp);
    if (!f)
        return 0; /* no schedule: one write, then FIN */
    char line[256];
    size_t ccap = 0;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char word[32];
        unsigned long long a;
        unsigned b;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "end %31s", word) == 1) {
            in->end = !strcmp(word, "rst") ? VC_FZ_RST : !strcmp(word, "open") ? VC_FZ_OPEN : VC_FZ_FIN;
        } else if (sscanf(line, "second %llu", &a) == 1) {
            in->second = (int64_t)a;
        } else if (!strncmp(line, "drain-first", 11)) {
            *drain_first = 1;
        } else if (sscanf(line, "cut %llu %u", &a, &b) == 2 && in->ncuts < 65536) {
            if (in->ncuts == ccap) {
                ccap = ccap ? ccap * 2 : 64;
                in->cuts = vc_xrealloc(in->cuts, ccap * sizeof *in->cuts);
            }
            in->cuts[in->ncuts].offset = a;
            in->cuts[in->ncuts].pause_ms = b > 1000 ? 1000 : b;
            in->ncuts++;
        } else {
            fclose(f);
            snprintf(err, len, "schedule of %s, line %d: not understood", bin, lineno);
            return -1;
        }
    }
    fclose(f);
    vc_fz_input_fix(in);
    return 0;
}

/* ---- results ---- */
static vc_case fz_cases[2]; /* the finding and the campaign summary (static: reports borrow them) */
static vc_fz_input fz_kept; /* the finding's bytes, borrowed by its case */
static char fz_title[2][256];

static vc_result *add_result(vc_run *run, vc_case *c)
{
    run->results = vc_xrealloc(run->results, (run->n + 1) * sizeof *run->results);
    vc_result *r = &run->results[run->n++];
    memset(r, 0, sizeof *r);
    r->c = c;
    r->first_diff = UINT64_MAX;
    return r;
}

static void report_finding(fuzz *F, vc_run *run, const vc_fz_input *in, const outcome *o, uint64_t index,
                           int shrunk_runs, int replay)
{
    vc_opts *opt = F->x->o;
    vc_fz_input_copy(&fz_kept, in);
    vc_case *c = &fz_cases[0];
    snprintf(fz_title[0], sizeof fz_title[0], "%s: a %zu-byte input, %zu write%s, %s%s",
             replay ? "fuzz replay" : "fuzz finding", in->len, in->ncuts + 1, in->ncuts ? "s" : "",
             vc_fz_end_name(in->end), in->second >= 0 ? ", a second connection" : "");
    c->id = replay ? "fuzz.replay" : "fuzz.finding.1";
    c->title = fz_title[0];
    c->rule = o->rule;
    c->tags = "fuzz";
    c->kind = VC_K_EXCHANGE;
    c->roles = VC_ROLES_ALL;
    c->input = fz_kept.data;
    c->input_len = fz_kept.len;
    vc_result *r = add_result(run, c);
    r->verdict = VC_FAIL;
    r->failed_rule = o->rule;
    r->expected = vc_strdup(o->expected);
    r->actual = vc_strdup(o->actual);
    r->hexdump = o->hexdump[0] ? vc_strdup(o->hexdump) : NULL;
    r->timeout = o->timeout;
    r->first_diff = o->first_diff;
    r->bytes_sent = o->sent;
    r->bytes_received = o->received;
    if (replay) {
        r->replay = vc_printf("%s %s --timeout %dms --fuzz-replay %s", opt->argv0, opt->cmdline_role,
                              opt->timeout_ms, fz_replay);
        r->bin_path = vc_strdup(fz_replay);
        return;
    }
    r->note = vc_printf("input %llu of seed 0x%016llx (%s); shrunk in %d re-executions%s%s",
                        (unsigned long long)index, (unsigned long long)opt->seed, in->origin, shrunk_runs,
                        F->drain_first ? "; reproduced by a drain-first replay" : "",
                        o->no_shrink ? "; not shrunk (the IUT is gone)" : "");
    const char *dir = opt->artifacts;
    if (!dir || !strcmp(dir, "none")) {
        r->replay = vc_printf("(--artifacts none: no reproducer written) %s %s --fuzz 60s --seed "
                              "0x%016llx",
                              opt->argv0, opt->cmdline_role, (unsigned long long)opt->seed);
        return;
    }
    char *bin = vc_printf("%s/fuzz.finding.1.bin", dir);
    char *sched = sched_path(bin);
    char *vec = vc_printf("%s/fuzz.finding.1.json", dir);
    FILE *f = fopen(bin, "wb");
    if (!f && errno == ENOENT && vc_mkdir_p(dir) == 0)
        f = fopen(bin, "wb");
    int ok = f && fwrite(in->data, 1, in->len, f) == in->len;
    if (f && fclose(f) != 0)
        ok = 0;
    ok = ok && write_sched(sched, in, F->drain_first) == 0;
    int vok = ok && write_vector(vec, in, o, 1, opt->seed, index) == 0;
    if (ok) {
        r->bin_path = bin;
        char *q = vc_shell_quote(bin);
        r->replay = vc_printf("%s %s --timeout %dms --fuzz-replay %s", opt->argv0, opt->cmdline_role,
                              opt->timeout_ms, q);
        free(q);
        char *n2 =
            vc_printf("%s; schedule %s%s%s", r->note, sched, vok ? "; vector case " : "", vok ? vec : "");
        free(r->note);
        r->note = n2;
    } else {
        free(bin);
        r->replay = vc_printf("(cannot write to %s) %s %s --fuzz 60s --seed 0x%016llx", dir, opt->argv0,
                              opt->cmdline_role, (unsigned long long)opt->seed);
    }
    free(sched);
    free(vec);
}

/* The finding's report line, as the fixed cases print theirs. */
static void print_finding(vc_ctx *x, vc_run *run)
{
    if (x->o->tap || x->o->quiet)
        return;
    vc_report_line(stdout, run, &run->results[run->n - 1], x->o->color);
    fflush(stdout);
}

static void summary(fuzz *F, vc_run *run, int64_t ms, int findings)
{
    vc_case *c = &fz_cases[1];
    snprintf(fz_title[1], sizeof fz_title[1], "differential fuzzing: %llu executions in %.1f s",
             (unsigned long long)F->execs, ms / 1000.0);
    c->id = "fuzz.campaign";
    c->title = fz_title[1];
    c->rule = "VSOK-FRAME";
    c->tags = "fuzz";
    c->kind = VC_K_EXCHANGE;
    c->roles = VC_ROLES_ALL;
    vc_result *r = add_result(run, c);
    r->verdict = VC_PASS;
    r->duration_ms = ms;
    r->note = vc_printf("%llu executions (%.0f/s), %d finding%s, %llu dismissed by a drain-first "
                        "replay (echoes lost to a reset after a protocol error), %llu not "
                        "reproduced by a second run; seed 0x%016llx",
                        (unsigned long long)F->execs, ms > 0 ? F->execs * 1000.0 / ms : 0.0, findings,
                        findings == 1 ? "" : "s", (unsigned long long)F->dismissed,
                        (unsigned long long)F->unconfirmed, (unsigned long long)F->x->o->seed);
}

/* A divergence seen once: is it real?  Same rule again on a second run;
 * and owed echoes lost to a reset must be lost in a drain-first replay too. */
static int confirm(fuzz *F, const vc_fz_input *in, outcome *o)
{
    if (o->no_shrink)
        return 1;
    outcome again;
    if (o->rst_loss) {
        execute(F, in, 1, &again);
        if (!again.diverged) {
            F->dismissed++;
            return 0;
        }
        F->drain_first = 1;
        *o = again;
        return 1;
    }
    execute(F, in, 0, &again);
    if (!again.diverged || !same_rule(again.rule, o->rule)) {
        F->unconfirmed++;
        return 0;
    }
    return 1;
}

static void progress(const fuzz *F, int64_t t0, int findings)
{
    int64_t ms = vc_now_ms() - t0;
    fprintf(stderr, "vsok-conform: fuzz %lld s: %llu executions (%.0f/s), %d finding%s, %llu dismissed\n",
            (long long)(ms / 1000), (unsigned long long)F->execs, ms > 0 ? F->execs * 1000.0 / ms : 0.0,
            findings, findings == 1 ? "" : "s", (unsigned long long)F->dismissed);
}

static size_t replay(fuzz *F, vc_run *run)
{
    vc_fz_input in;
    int drain = 0;
    char err[512];
    if (load_replay(fz_replay, &in, &drain, err, sizeof err) != 0) {
        fprintf(stderr, "vsok-conform: %s\n", err);
        vc_fz_input_free(&in);
        outcome o = {.rule = "VSOK-FRAME"};
        snprintf(o.actual, sizeof o.actual, "%s", err);
        vc_fz_input none = {.second = -1};
        report_finding(F, run, &none, &o, 0, 0, 1);
        run->results[run->n - 1].verdict = VC_ERROR;
        return 0;
    }
    int64_t t0 = vc_now_ms();
    outcome o;
    execute(F, &in, drain, &o);
    if (!o.diverged && F->x->o->role == VC_ROLE_SERVER) {
        char why[256];
        int p = vc_iut_probe(F->x, F->x->o->timeout_ms, why, sizeof why);
        if (p == VC_PROBE_GONE || p == VC_PROBE_WEDGED) {
            o.diverged = 1;
            o.rule = "VSOK-SURVIVE";
            snprintf(o.expected, sizeof o.expected, "the IUT keeps serving new connections");
            snprintf(o.actual, sizeof o.actual, "%s", why);
        }
    }
    if (o.diverged && o.rst_loss && !drain) {
        outcome d;
        execute(F, &in, 1, &d);
        if (!d.diverged) {
            o.diverged = 0;
            F->dismissed++;
        }
    }
    if (o.diverged) {
        report_finding(F, run, &in, &o, 0, 0, 1);
        print_finding(F->x, run);
    }
    summary(F, run, vc_now_ms() - t0, o.diverged);
    vc_fz_input_free(&in);
    return 0;
}

size_t vc_fuzz_run(vc_ctx *x, const vc_catalogue *cat, vc_run *run, size_t nsel)
{
    if (!fz_ms && !fz_replay)
        return nsel;
    fuzz F = {.x = x, .cat = cat};
    free(run->results);
    run->results = NULL;
    run->n = 0;
    if (fz_replay)
        return replay(&F, run);

    int64_t t0 = vc_now_ms(), end = t0 + fz_ms, next_progress = t0 + PROGRESS_MS;
    vc_fz_input prev = {.second = -1};
    int findings = 0;
    uint64_t i = 0;
    for (; vc_now_ms() < end; i++) {
        vc_fz_input in;
        vc_fz_generate(&in, x->o->seed, i, cat, x->o->role);
        outcome o;
        int64_t tx = vc_now_ms();
        execute(&F, &in, 0, &o);
        if (x->o->verbose)
            fprintf(stderr, "vsok-conform: fuzz input %llu: %zu bytes, %zu cuts, %s, %lld ms%s%s\n",
                    (unsigned long long)i, in.len, in.ncuts, vc_fz_end_name(in.end),
                    (long long)(vc_now_ms() - tx), o.diverged ? ": diverges, " : "",
                    o.diverged ? o.rule : "");
        if (o.diverged && o.server_gone && prev.data) {
            /* the server died: the input before this one killed it */
            o.no_shrink = 1;
            snprintf(o.expected, sizeof o.expected, "the IUT keeps serving new connections after this input");
            char a[sizeof o.actual];
            snprintf(a, sizeof a, "the next connection failed: %.800s (crashed?)", o.actual);
            snprintf(o.actual, sizeof o.actual, "%s", a);
            vc_fz_input_free(&in);
            in = prev;
            prev.data = NULL;
            prev.cuts = NULL;
            i--;
        }
        if (!o.diverged && x->o->role == VC_ROLE_SERVER && F.pid > 0 && i % 100 == 50) {
            long kb = vmrss_kb(F.pid);
            if (F.rss_base_kb <= 0)
                F.rss_base_kb = kb;
            else if (kb > 2 * F.rss_base_kb + RSS_GROWTH_KB) {
                o.diverged = 1;
                o.no_shrink = 1;
                o.rule = "VSOK-LAZY-ALLOC";
                snprintf(o.expected, sizeof o.expected,
                         "the IUT's memory stays bounded (VmRSS %ld kB after the first inputs)",
                         F.rss_base_kb);
                snprintf(o.actual, sizeof o.actual, "VmRSS of process %ld grew to %ld kB after %llu inputs",
                         F.pid, kb, (unsigned long long)i + 1);
            }
        }
        if (o.diverged && confirm(&F, &in, &o)) {
            int runs = 0;
            if (!o.no_shrink) {
                F.want_rule = o.rule;
                fprintf(stderr, "vsok-conform: fuzz: input %llu diverges (%s); shrinking\n",
                        (unsigned long long)i, o.rule);
                int64_t budget = fz_ms < SHRINK_MS ? (fz_ms > 10000 ? fz_ms : 10000) : SHRINK_MS;
                /* A missing close or echo costs the whole wait on every
                 * candidate that still diverges: shrink with a short one;
                 * the result is checked with the full timeout below. */
                if (o.timeout && x->o->timeout_ms > SHRINK_WAIT_MS)
                    F.wait_ms = SHRINK_WAIT_MS;
                vc_fz_input orig;
                vc_fz_input_copy(&orig, &in);
                runs = vc_fz_shrink(&in, still, &F, SHRINK_RUNS, vc_now_ms() + budget);
                F.wait_ms = 0;
                outcome fin;
                execute(&F, &in, F.drain_first, &fin);
                if (fin.diverged && same_rule(fin.rule, o.rule)) {
                    o = fin;
                    vc_fz_input_free(&orig);
                } else { /* the shrunk input does not reproduce at full timeout */
                    vc_fz_input_free(&in);
                    in = orig;
                    runs = 0;
                }
            }
            if (!o.no_shrink)
                attribute(&F, &in, &o);
            findings = 1;
            report_finding(&F, run, &in, &o, i, runs, 0);
            print_finding(x, run);
            vc_fz_input_free(&in);
            break;
        }
        vc_fz_input_free(&prev);
        prev = in;
        if (vc_now_ms() >= next_progress) {
            progress(&F, t0, findings);
            next_progress = vc_now_ms() + PROGRESS_MS;
        }
    }
    vc_fz_input_free(&prev);
    progress(&F, t0, findings);
    summary(&F, run, vc_now_ms() - t0, findings);
    return 0;
}
