/* SPDX-License-Identifier: MIT */
/* conform.h - internals of vsok-conform shared by its source files. */
#ifndef VSOK_CONFORM_H
#define VSOK_CONFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "reader.h"
#include "vsok/header.h"

/* The protocol's limits come from the library, where each framing rule
 * exists once.  The runner's independence from the implementation it may be
 * certifying lives in the golden vectors (vectors/, checked by their own
 * independent checker) and in reader.c's own echo comparison, not in a second
 * spelling of these numbers. */
#define VC_MAX_PAYLOAD ((uint32_t)VSOK_MAX_PAYLOAD)
#define VC_CHUNK ((uint32_t)VSOK_CHUNK_SIZE)

typedef enum vc_verdict { VC_PASS, VC_FAIL, VC_NONSTRICT, VC_SKIP, VC_ERROR, VC_NVERDICTS } vc_verdict;
const char *vc_verdict_name(vc_verdict v);

typedef enum vc_role { VC_ROLE_SERVER = 1, VC_ROLE_CLIENT = 2, VC_ROLE_EXEC = 4 } vc_role;
#define VC_ROLES_ALL 7u
const char *vc_role_name(vc_role r);

/* How the runner cuts the bytes it sends into write() calls. */
typedef enum vc_pattern {
    VC_P_WHOLE,    /* one write */
    VC_P_BYTES,    /* one byte per write */
    VC_P_HDRSPLIT, /* a write boundary at every header offset, short pauses */
    VC_P_CHUNK64K, /* 64 KiB writes with pauses */
    VC_P_RANDOM,   /* seeded random boundaries and pauses */
    VC_P_SCHEDULE, /* the vector's own delivery schedule */
    VC_NPATTERNS
} vc_pattern;
const char *vc_pattern_name(vc_pattern p);

typedef struct vc_split {
    uint64_t offset;   /* a new write starts here */
    uint32_t pause_ms; /* after this pause */
} vc_split;

typedef enum vc_kind {
    VC_K_EXCHANGE,
    VC_K_STALL_OTHERS,
    VC_K_LAZY_ALLOC,
    VC_K_ISOLATE,
    VC_K_FD_RELEASE,
    VC_K_GONE_MID_ECHO
} vc_kind;

/* What the IUT must do once the runner's bytes are in. */
typedef enum vc_expect {
    VC_X_ECHO,  /* echo everything; the stream ends cleanly (half-close) */
    VC_X_CLOSE, /* echo the owed prefix, then close: a protocol error is in the input */
} vc_expect;

typedef enum vc_end {
    VC_END_HALF,  /* shutdown(SHUT_WR) after the last byte */
    VC_END_STALL, /* keep the write side open: the IUT must act on what it has */
    VC_END_RESET, /* once the owed echoes are in: an abortive close (SO_LINGER 0, RST) */
} vc_end;

typedef struct vc_case {
    char *id;
    char *title;
    const char *rule; /* rule id, see vc_rule_text */
    char *tags;       /* space-separated */
    vc_kind kind;
    unsigned roles; /* VC_ROLE_* bits where the case applies */

    /* exchange */
    const uint8_t *input;
    size_t input_len;
    uint8_t *input_owned;
    vc_span *owed;
    size_t nowed;
    vc_expect expect;
    vc_end end;
    const char *error_name; /* expected protocol error (vsok_errname spelling), or NULL */
    uint64_t error_offset;
    const char *close_rule; /* rule named when the IUT fails to close (default VSOK-CLOSE-ON-ERROR) */
    vc_pattern pattern;
    const vc_split *sched; /* VC_P_SCHEDULE */
    vc_split *sched_owned;
    size_t nsched;
    int read_after_send; /* pipelining: read nothing until every byte is written */
    int early;           /* a late close is NON-STRICT, not FAIL */
    int hostile;         /* check that the IUT still serves afterwards */
    int alone;           /* never run concurrently with another case (--jobs): it measures
                              the IUT as a whole (memory, other connections) */
    int slow_reader;     /* back-pressure: small receive buffer, reading starts late */
} vc_case;

typedef struct vc_catalogue {
    vc_case *cases;
    size_t n, cap;
    void *vectors; /* vsok_vec_set *, when loaded */
    char vectors_note[256];
} vc_catalogue;

const char *vc_rule_text(const char *rule);
int vc_catalogue_build(vc_catalogue *cat, const char *vectors_path, char *err, size_t errlen);
void vc_catalogue_free(vc_catalogue *cat);
int vc_case_has_tag(const vc_case *c, const char *tag);
int vc_case_matches(const vc_case *c, const char *pattern);

/* Write boundaries for a case under its pattern (seeded per case). */
int vc_plan_build(const vc_case *c, uint64_t seed, vc_split **out, size_t *n);

/* --- results --- */
typedef struct vc_result {
    const vc_case *c;
    vc_verdict verdict;
    const char *failed_rule; /* rule of the check that failed (NULL when none) */
    char *expected;
    char *actual;
    char *hexdump;
    char *note; /* informational: chunking seen, timings, skip reason */
    int timeout;
    uint64_t first_diff; /* UINT64_MAX if none */
    uint64_t bytes_sent, bytes_received;
    int64_t duration_ms;
    char *bin_path; /* reproducer: bytes sent */
    char *replay;   /* reproducer: command */
    int cut;        /* the IUT ended the connection before every owed byte came */
} vc_result;

/* --- options and run state --- */
typedef struct vc_opts {
    vc_role role;
    const char *target; /* server: ADDR or exec:COMMAND */
    const char *listen; /* client */
    const char *spawn;  /* client: COMMAND with {addr} */
    const char *exec_cmd;
    int timeout_ms;
    uint64_t seed;
    const char *json, *junit, *html;
    const char **html_with;
    size_t nhtml_with;
    int tap, list, verbose, quiet, strict;
    int jobs;  /* cases run concurrently (--jobs); 1 in the client role without per-job listeners */
    int color; /* -1 auto */
    const char **pick, **skip;
    size_t npick, nskip;
    const char *artifacts;
    const char *vectors;
    int budget_s;
    long iut_pid;
    const char *label;  /* name of the IUT in reports */
    char *cmdline_role; /* role arguments for replay lines */
    char *argv0;        /* how the runner was invoked, shell-quoted */
} vc_opts;

typedef struct vc_conn {
    int fd;
    pid_t pid;  /* spawned process group leader, or -1 */
    int status; /* wait status once reaped */
    int reaped;
    int killed; /* the runner killed it */
} vc_conn;

/* Run-wide state, shared by the --jobs workers: what one case learns about
 * the IUT (it is down, it never closes) applies to every later case, so
 * these fields are atomics.  Everything per connection (buffers, readers,
 * vc_conn, vc_xfer) lives on the worker's stack or in thread-local storage. */
typedef struct vc_ctx {
    vc_opts *o;
    int listen_fd; /* client role */
    char listen_text[256];
    int pending_fd;                   /* client role: a connection accepted by the preflight */
    _Atomic int down;                 /* the IUT stopped serving; rest is skipped */
    const vc_case *_Atomic down_case; /* where it was found down (vc_mark_down) */
    _Atomic int lingering;            /* spawned processes that did not exit after close */
    _Atomic int no_close_after_eof;   /* the IUT keeps connections open after FIN: stop waiting */
    _Atomic int close_misses;         /* protocol errors after which the IUT did not close */
    int probe_baseline;               /* the probe's result before any case ran */
    _Atomic int nofin_rejects;        /* replays without FIN that showed the IUT rejecting valid input */
    _Atomic int fin_repros;           /* replays with FIN that lost the echoes again */
    int64_t run_deadline;
} vc_ctx;

/* util.c: the IUT was found down in case c.  With concurrent cases the
 * earliest case (in catalogue order) that found it down is the one named. */
void vc_mark_down(vc_ctx *x, const vc_case *c);
/* Was it found down in c or an earlier case? */
int vc_down_before(const vc_ctx *x, const vc_case *c);
/* Id of that case ("?" when none). */
const char *vc_down_since(const vc_ctx *x);

/* iut.c */
int vc_iut_start(vc_ctx *x, char *err, size_t errlen);
/* SIGINT/SIGTERM/SIGHUP kill the spawned process groups, then the runner. */
void vc_iut_signals(void);
void vc_iut_stop(vc_ctx *x);
/* Client role, --spawn with {addr}: can each concurrent case listen on an
 * address of its own (tcp, unix, vsock listen address)?  Only then can the
 * runner tell which incoming connection belongs to which case. */
int vc_iut_slots_possible(const vc_ctx *x);
/* Gives the calling worker thread a listening socket of its own next to the
 * run's (same kind and host; an ephemeral port, or the path with ".N"), used
 * by every case the thread runs; slot 0 keeps the run's.  0 on success; -1
 * with a sentence in err (the worker then takes no case). */
int vc_iut_slot_open(vc_ctx *x, int slot, char *err, size_t errlen);
void vc_iut_slot_close(void);
/* 0 on success; -1 with a sentence in err.  *refused set when the IUT is
 * simply not there (connection refused, no such socket, no client). */
int vc_iut_open(vc_ctx *x, vc_conn *c, int64_t deadline, int *refused, char *err, size_t errlen);
/* vc_iut_open with a receive buffer of rcvbuf bytes (0: the default), the
 * slow reader's.  On a TCP target (server role) it is set before connect(2),
 * so the window is small from the SYN on; set after the handshake, a small
 * buffer makes Linux senders crawl on their persist timer (issue 14).
 * Elsewhere it is set after the open, except on a TCP connection accepted in
 * the client role (past its handshake: it keeps its buffer, and the late
 * start of reading alone pushes back on the client). */
int vc_iut_open_rcvbuf(vc_ctx *x, vc_conn *c, int64_t deadline, int rcvbuf, int *refused, char *err,
                       size_t errlen);
/* Closes the runner's side and reaps a spawned process (bounded). */
void vc_iut_close(vc_ctx *x, vc_conn *c);
/* Describes how a spawned process ended when it crashed (signal other than
 * the runner's kill); "" otherwise. */
void vc_iut_crash(const vc_conn *c, char *out, size_t len);
long vc_iut_pid(vc_ctx *x, const vc_conn *c);
/* One small echo on a fresh connection (survival probe / preflight).
 * GONE: no connection at all (crashed); WEDGED: connected, nothing came
 * back in time; WRONG: the IUT answered, but not with the echo. */
enum { VC_PROBE_OK, VC_PROBE_GONE, VC_PROBE_WEDGED, VC_PROBE_WRONG };
int vc_iut_probe(vc_ctx *x, int timeout_ms, char *why, size_t len);

/* engine.c: one concurrent write/read exchange on a connection */
typedef struct vc_xfer {
    /* in */
    int fd;
    const uint8_t *out;
    size_t outlen;
    const vc_split *splits;
    size_t nsplits;
    int half_close; /* shutdown(SHUT_WR) after the last byte */
    int read_after_send;
    vc_reader *rd;
    int64_t deadline; /* absolute (vsok_now_ms) */
    int64_t
        close_grace_ms; /* once every owed byte is in: wait this long for the IUT's close (-1: until deadline) */
    int hold_last;      /* leave the last owed byte unread (so a close resets, also on unix
                           sockets) and stop once it is there: sets held */
    int read_delay_ms; /* read nothing for this long (back-pressure on the IUT's writes) */
    int observe;       /* at the first split points and every paused one, wait (bounded)
                           until the IUT has read what was written (SIOCOUTQ), so that
                           each piece reaches it as a read of its own */
    /* out */
    uint64_t sent;
    int write_errno; /* the IUT stopped taking bytes (EPIPE, ECONNRESET) */
    int closed;      /* 0 open, 1 FIN, 2 reset */
    int timed_out;
    int io_errno; /* unexpected transport error */
    int held;     /* hold_last: all but the last owed byte read, the last one waiting */
    int64_t t_start, t_complete, t_closed, t_sent;
} vc_xfer;
void vc_xfer_run(vc_xfer *t);
/* Non-blocking send/recv on fd, falling back to write/read where fd is not a
 * socket (a pipe); -1 with errno as send/recv set it. */
ssize_t vc_send_some(int fd, const uint8_t *p, size_t n);
ssize_t vc_recv_some(int fd, uint8_t *p, size_t n);
/* One non-blocking read of at most n bytes into buf, fed to rd.  Returns the
 * bytes fed (0: none were waiting).  A close sets *closed (1 FIN, 2 reset or
 * transport error, the latter also in *io_errno) and ends rd with
 * vc_reader_eof: an early close is a verdict of its own, not a timeout. */
size_t vc_recv_feed(int fd, vc_reader *rd, uint8_t *buf, size_t n, int *closed, int *io_errno);
/* Bytes written but not yet read by the IUT (-1: the transport cannot say).
 * Unix sockets and socketpairs count until the reader takes them; TCP until
 * the peer's kernel acknowledges them, which on loopback is at once. */
long vc_unread(int fd);

/* run.c */
void vc_run_case(vc_ctx *x, const vc_case *c, vc_result *res, vc_result *prev);

/* The drain-first replay of an exchange that ended in RST after a protocol
 * error, with owed echo bytes lost: on a fresh connection, send the valid
 * prefix of c->input (the owed frames: sum of 8 + c->owed[i].len bytes),
 * read every owed echo, then send the rest and expect nothing more but a
 * close.  Returns 1 when the IUT passes that way (the loss was its plain
 * close() with unread input on TCP, not its framing: grade NON-STRICT
 * VSOK-LINGER, never FAIL), 0 when it still fails (why says how), -1 when
 * the replay could not run.  Only c->input, input_len, owed, nowed and end
 * are used, so other code (fuzz mode) can call it with a vc_case it built
 * on the stack:
 *     vc_case k = {.input = bytes, .input_len = n, .owed = spans, .nowed = m,
 *                  .end = VC_END_STALL};
 *     if (vc_replay_drain_first(x, &k, why, sizeof why) == 1) ...not a finding
 */
int vc_replay_drain_first(vc_ctx *x, const vc_case *c, char *why, size_t len);

/* report.c */
/* Markup text and attribute values (XML and HTML): <>&"' escaped, valid UTF-8
 * passed through, what XML 1.0 cannot hold at all (control characters,
 * ill-formed UTF-8) as U+FFFD; newline and tab kept as they are with
 * keep_ws, else as character references (kept in attribute values too). */
void vc_markup_put(FILE *f, const char *s, int keep_ws);
typedef struct vc_run {
    const vc_opts *o;
    vc_result *results;
    size_t n;
    size_t counts[VC_NVERDICTS];
    int64_t duration_ms;
    char started[32];
    const char *vectors_note;
    const char *ended; /* why the run ended early (remaining cases SKIP), or NULL */
} vc_run;
/* Does r count as a failure of the run (FAIL, ERROR; NON-STRICT with --strict)? */
int vc_result_failed(const vc_opts *o, const vc_result *r);
void vc_report_line(FILE *f, const vc_run *run, const vc_result *r, int color);
void vc_report_human(FILE *f, const vc_run *run, int color);
void vc_report_tap(FILE *f, const vc_run *run);
int vc_report_json(const char *path, const vc_run *run);
int vc_report_junit(const char *path, const vc_run *run);
int vc_report_html(const char *path, const vc_run *run, const char **with, size_t nwith, char *err,
                   size_t errlen);
void vc_json_str(FILE *f, const char *s);
/* html.c: 0 when path is a readable vsok-conform JSON report of format 1;
 * else -1 with a one-line reason naming the file. */
int vc_html_check(const char *path, char *err, size_t errlen);

/* util.c */
uint64_t vc_splitmix64(uint64_t *state);
uint64_t vc_hash(const char *s, uint64_t seed);
char *vc_strdup(const char *s);
char *vc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vc_fill(uint8_t *p, size_t n, uint64_t seed);
/* The frame of payload p (n bytes, 1..VSOK_MAX_PAYLOAD) written at f, which
 * holds 8 + n bytes; returns 8 + n.  The valid frames the runner sends are
 * encoded by the library; the invalid ones are made by hand in cases.c. */
size_t vc_frame_put(uint8_t *f, const void *p, size_t n);
void vc_sleep_ms(int ms);
/* 1 when fd is a unix-domain socket (a unix: address, the exec role's
 * socketpair).  There a peer's close, even with unread input (ECONNRESET),
 * never destroys bytes it had already written: they are in the reader's
 * queue and are read before the error.  On TCP a reset discards what the
 * closing side had not transmitted yet. */
int vc_fd_is_unix(int fd);
int64_t vc_now_ms(void);
int vc_mkdir_p(const char *dir);
char *vc_shell_quote(const char *s);
void *vc_xmalloc(size_t n);
void *vc_xrealloc(void *p, size_t n);

/* --- fuzz mode: vsok-conform --fuzz DURATION (fuzz.c, fuzz_gen.c, fuzz_shrink.c) --- */

/* How a fuzz input ends once its last byte is written. */
typedef enum vc_fz_end {
    VC_FZ_FIN,  /* shutdown(SHUT_WR) */
    VC_FZ_RST,  /* SO_LINGER 0 + close: an abortive close */
    VC_FZ_OPEN, /* write side left open */
} vc_fz_end;
const char *vc_fz_end_name(vc_fz_end e);

/* One generated input: the bytes, where the writes are cut, how it ends. */
typedef struct vc_fz_input {
    uint8_t *data;
    size_t len;
    vc_split *cuts; /* strictly increasing offsets in (0, len) */
    size_t ncuts;
    vc_fz_end end;
    int64_t second;  /* server role: open a second connection at this offset (-1: none) */
    char origin[96]; /* how it was made, for dumps and reports */
} vc_fz_input;
void vc_fz_input_free(vc_fz_input *in);
void vc_fz_input_copy(vc_fz_input *dst, const vc_fz_input *src);
/* Drops cuts outside (0, len), keeps them strictly increasing. */
void vc_fz_input_fix(vc_fz_input *in);

/* fuzz_gen.c: input number index of the campaign seeded with seed.  A pure
 * function of (seed, index, the catalogue's inputs, roles): the same seed
 * gives the same sequence.  cat may be NULL (no seeds). */
void vc_fz_generate(vc_fz_input *out, uint64_t seed, uint64_t index, const vc_catalogue *cat, vc_role role);

/* fuzz_shrink.c: makes in smaller while still(ctx, candidate) says it
 * diverges the same way; at most max_runs calls and until deadline
 * (vc_now_ms).  Returns the number of calls made. */
typedef int (*vc_fz_still)(void *ctx, const vc_fz_input *candidate);
int vc_fz_shrink(vc_fz_input *in, vc_fz_still still, void *ctx, int max_runs, int64_t deadline);

#define VC_FUZZ_OPT 0x1000 /* getopt values of --fuzz, --fuzz-replay, --fuzz-dump */
/* fuzz.c: options (which: 0 --fuzz, 1 --fuzz-replay, 2 --fuzz-dump);
 * -1 with a message on stderr for a bad value. */
int vc_fuzz_opt(int which, const char *arg);
/* --fuzz-dump N: prints the first N inputs and returns 1 (0: not asked). */
int vc_fuzz_dump(const vc_opts *o, const vc_catalogue *cat, FILE *f);
/* Runs the campaign (or the replay) when asked and returns 0, with the
 * findings (and one summary) as results in run; returns nsel otherwise. */
size_t vc_fuzz_run(vc_ctx *x, const vc_catalogue *cat, vc_run *run, size_t nsel);

#endif
