/* SPDX-License-Identifier: MIT */
/* main.c - vsok-conform: tells an implementation of the VSOK protocol, case
 * by case, where it breaks the protocol.  See usage() and
 * conformance/README.md.  Exit status: 0 no case failed, 1 a case failed (or
 * could not be run: ERROR), 2 the run could not start. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_opt.h"
#include "conform.h"
#include "paths.h"

#ifndef VC_VECTORS_TXT
#define VC_VECTORS_TXT "vectors/vectors.txt"
#endif

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: vsok-conform --target ADDR [options]          test a server\n"
        "       vsok-conform --target exec:COMMAND [options]  test a program echoing frames on stdin/stdout\n"
        "       vsok-conform --role client --listen ADDR [--spawn 'COMMAND {addr}'] [options]\n"
        "                                                     test a client (it connects, echoes)\n"
        "       vsok-conform --list [--pick ...] [--skip ...]\n"
        "       vsok-conform --html FILE --html-with RUN.json ...   merge earlier runs only\n"
        "\n"
        "ADDR: unix:PATH, unix:@NAME, tcp:HOST:PORT, vsock:CID:PORT, fc:UDS:PORT, fd:N (libvsok syntax).\n"
        "The IUT echoes every valid message as one frame and closes the connection on a protocol\n"
        "error; exec: commands get a socket as stdin and stdout, one process per connection;\n"
        "--spawn starts the client once per connection with {addr} replaced by the listen address\n"
        "(a wildcard - vsock CID any, 0.0.0.0, :: - becomes the loopback a client can reach).\n"
        "\n"
        "options:\n"
        "  --pick PAT       run only cases whose id matches PAT (id, glob, tag or tag:NAME;\n"
        "                   repeatable, comma-separated)\n"
        "  --skip PAT       leave those cases out\n"
        "  --timeout T      per-case timeout: 500ms, 2s, 1m (a bare number is seconds; a bare\n"
        "                   number of 100 or more is still read as milliseconds, with a\n"
        "                   warning); 1ms..1h (default 3s)\n"
        "  --seed N         seed for random split patterns, decimal or 0x-hex (default random;\n"
        "                   always printed)\n"
        "  --json FILE      JSON report (- for stdout)     --junit FILE   JUnit XML report\n"
        "  --tap            TAP on stdout instead of the human report\n"
        "  --html FILE      self-contained HTML report; --html-with RUN.json adds earlier runs\n"
        "  --label NAME     name of the IUT in reports (default: the target)\n"
        "  --artifacts DIR  where failed cases leave the bytes sent (default vsok-conform-out;\n"
        "                   none disables)\n"
        "  --vectors FILE   the vector set (default %s; none leaves vector cases out)\n"
        "  --budget T       whole-run time limit, whole seconds: 600, 10m, 1h (default 10m):\n"
        "                   later cases SKIP\n"
        "  --jobs N         cases run at the same time (default: the number of online cores;\n"
        "                   the client role: only with --spawn and {addr})\n"
        "  --iut-pid PID    the server's process id, for the memory check on tcp: targets\n"
        "  --color WHEN     auto, always or never    -v verbose (every case, IUT stderr)\n"
        "  --strict         NON-STRICT (robustness) verdicts also make the exit status 1\n"
        "  -q               summary only\n"
        "  --fuzz DURATION  differential fuzzing instead of the fixed cases (60s, 500ms, 2m):\n"
        "                   stops at the first divergence, shrinks it, writes a reproducer;\n"
        "                   --fuzz-replay FILE.bin replays one, --fuzz-dump N lists inputs\n"
        "A bad option value is a one-line error naming the option; exit status 2.\n"
        "exit status: 0 no case failed, 1 some case FAILed or had an ERROR (or, with --strict, was\n"
        "NON-STRICT), 2 could not start (bad command line included)\n",
        vc_default_vectors());
}

/* --timeout: a duration, bare numbers in seconds like every option of the
 * tools.  A bare whole number of 100 or more is the old milliseconds
 * spelling (nobody means a 100-second case timeout; everybody wrote 3000):
 * still read as milliseconds, with a warning naming both exact spellings. */
static int parse_timeout(const char *s, int *ms, char *why, size_t whylen)
{
    uint64_t n;
    int64_t v;
    if (cli_parse_count(s, 0, 100, 3600000, &n, NULL, 0) == 0) {
        char sec[32];
        int k = snprintf(sec, sizeof sec, "%" PRIu64 ".%03u", n / 1000, (unsigned)(n % 1000));
        while (k > 0 && sec[k - 1] == '0')
            sec[--k] = 0;
        if (k > 0 && sec[k - 1] == '.')
            sec[--k] = 0;
        fprintf(stderr,
                "vsok-conform: warning: --timeout %s read as milliseconds, the old spelling (a bare "
                "number means seconds); write --timeout %" PRIu64 "ms or --timeout %ss\n",
                s, n, sec);
        *ms = (int)n;
        return 0;
    }
    if (cli_parse_duration(s, 1, 3600000, &v, NULL, why, whylen) != 0)
        return -1;
    *ms = (int)v;
    return 0;
}

static void add_pats(const char ***v, size_t *n, const char *arg)
{
    char *copy = vc_strdup(arg), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        *v = vc_xrealloc(*v, (*n + 1) * sizeof **v);
        (*v)[(*n)++] = vc_strdup(t);
    }
    free(copy);
}

static void free_opts(vc_opts *o)
{
    for (size_t i = 0; i < o->npick; i++)
        free((char *)o->pick[i]);
    for (size_t i = 0; i < o->nskip; i++)
        free((char *)o->skip[i]);
    free(o->pick);
    free(o->skip);
    free(o->html_with);
    free(o->cmdline_role);
    free(o->argv0);
    memset(o, 0, sizeof *o);
}

static int bad_usage(vc_opts *o)
{
    free_opts(o);
    return 2;
}

/* A bad option value: one line naming option and value, exit status 2. */
static int bad_value(vc_opts *o, const char *opt, const char *val, const char *why)
{
    cli_bad_value("vsok-conform", opt, val, why);
    free_opts(o);
    return 2;
}

static int selected(const vc_opts *o, const vc_case *c)
{
    int in = o->npick == 0;
    for (size_t i = 0; i < o->npick && !in; i++)
        in = vc_case_matches(c, o->pick[i]);
    for (size_t i = 0; i < o->nskip && in; i++)
        in = !vc_case_matches(c, o->skip[i]);
    return in;
}

static uint64_t random_seed(void)
{
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s, sizeof s, 1, f) != 1)
        s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (f)
        fclose(f);
    return s;
}

static char *role_args(const vc_opts *o)
{
    if (o->role == VC_ROLE_CLIENT) {
        char *l = vc_shell_quote(o->listen), *s = o->spawn ? vc_shell_quote(o->spawn) : NULL;
        char *r = vc_printf("--role client --listen %s%s%s", l, s ? " --spawn " : "", s ? s : "");
        free(l);
        free(s);
        return r;
    }
    char *t = vc_shell_quote(o->target);
    char *r = vc_printf("--target %s", t);
    free(t);
    return r;
}

/* Fails the run (exit 2) when there is nothing to test at all. */
static int preflight(vc_ctx *x, char *err, size_t errlen)
{
    vc_opts *o = x->o;
    vc_conn c;
    int refused;
    if (o->role == VC_ROLE_CLIENT && !o->spawn) {
        int wait = o->timeout_ms > 30000 ? o->timeout_ms : 30000;
        if (!o->quiet && !o->tap)
            fprintf(stderr, "vsok-conform: waiting up to %d s for a client to connect to %s\n", wait / 1000,
                    x->listen_text);
        if (vc_iut_open(x, &c, vc_now_ms() + wait, &refused, err, errlen) != 0)
            return -1;
        x->pending_fd = c.fd; /* the first case uses it */
        return 0;
    }
    if (o->role == VC_ROLE_SERVER) {
        if (vc_iut_open(x, &c, vc_now_ms() + o->timeout_ms, &refused, err, errlen) != 0)
            return -1;
        vc_iut_close(x, &c);
        /* what a fresh connection gets before any case ran: the yardstick
         * for the survival checks */
        char why[256];
        x->probe_baseline = vc_iut_probe(x, o->timeout_ms, why, sizeof why);
        return 0;
    }
    /* exec, spawned client: the command must at least start */
    if (vc_iut_open(x, &c, vc_now_ms() + o->timeout_ms, &refused, err, errlen) != 0)
        return -1;
    vc_iut_close(x, &c);
    if (c.reaped && !c.killed && WIFEXITED(c.status) &&
        (WEXITSTATUS(c.status) == 127 || WEXITSTATUS(c.status) == 126)) {
        snprintf(err, errlen, "the command exited with status %d (not found or not executable): %s",
                 WEXITSTATUS(c.status), o->exec_cmd ? o->exec_cmd : o->spawn);
        return -1;
    }
    return 0;
}

/* --- the run loop: --jobs workers, results committed in case order ---
 *
 * Workers take cases strictly in catalogue order; a case that must not
 * overlap another one waits until nothing else is in flight.  Results are
 * stored by case index and committed (post-processed, printed) in case
 * order by whichever worker finishes the case that completes the prefix, so
 * the reports are identical whatever the interleaving.  Which cases overlap:
 *   - never: cases marked alone, and every case that is not a plain
 *     exchange (stall-serves-others, the memory check): they measure the IUT
 *     as a whole;
 *   - server role: hostile cases (a protocol error, followed by a survival
 *     probe) overlap only other hostile cases, never a plain one, so a crash
 *     is pinned on a hostile case and never fails a valid exchange that
 *     happened to run at the same time;
 *   - exec role: everything else (each case is a process of its own);
 *   - client role: as the exec role when each case spawns its own client
 *     with {addr} and the listen address can be multiplied (each worker then
 *     listens on an address of its own, so a connection belongs to the
 *     worker's case); otherwise one at a time (connections to the one
 *     listening socket cannot be matched to cases).
 * When the IUT is found down, the earliest case that found it is named
 * (vc_mark_down); later cases that ran at the same time and did not pass are
 * not trusted and become SKIP naming it.
 *
 * Early end: a run whose IUT misses its deadline DEADLINE_STREAK times in a
 * row (in case order: cases that FAIL VSOK-TIMELY because owed echoes did
 * not arrive within --timeout, with no other verdict in between) ends there:
 * the cases not yet started are SKIP with the reason, and the summary says
 * the run ended early.  A correct IUT never misses once; a trickling one (1
 * byte per second) would otherwise hold the runner for the whole budget. */
#define DEADLINE_STREAK 5
#define PROGRESS_EVERY_MS 5000
#define ENDED_NOTE "not run: the run ended early: the IUT kept missing its deadlines (see the summary)"

enum { CL_FREE, CL_PLAIN, CL_HOSTILE, CL_ALONE, CL_N };
enum { ST_WAIT, ST_RUNNING, ST_DONE };

typedef struct vc_sched {
    vc_ctx *x;
    vc_run *run;
    vc_case **sel;
    size_t n;
    int jobs;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a case finished */
    size_t next;       /* next case to start */
    size_t committed;  /* results [0, committed) are final */
    size_t running, running_class[CL_N];
    unsigned char *state; /* ST_* per case */
    int streak;           /* deadline misses in a row, in case order */
    size_t streak_first;
    char *ended;     /* why the run ended early */
    atomic_int stop; /* no new case starts */
    FILE *out;
    int tty_progress;
    size_t counts[VC_NVERDICTS]; /* committed so far */
    int slots;                   /* client role: workers given a listener (vc_iut_slot_open) */
    char *slot_err;              /* why a worker's listener failed (the first one) */
} vc_sched;

static int case_class(const vc_opts *o, const vc_case *c)
{
    if (!(c->roles & o->role))
        return CL_FREE; /* a SKIP, nothing runs */
    if (c->alone || c->kind != VC_K_EXCHANGE)
        return CL_ALONE;
    if (o->role == VC_ROLE_SERVER && c->hostile)
        return CL_HOSTILE;
    return CL_PLAIN;
}

static int may_start(const vc_sched *s, int cls)
{
    if (cls == CL_FREE)
        return 1;
    if (s->running >= (size_t)s->jobs)
        return 0;
    if (cls == CL_ALONE)
        return s->running - s->running_class[CL_FREE] == 0;
    if (s->running_class[CL_ALONE])
        return 0;
    if (cls == CL_PLAIN)
        return s->running_class[CL_HOSTILE] == 0;
    return s->running_class[CL_PLAIN] == 0;
}

static int deadline_miss(const vc_result *r)
{
    return r->verdict == VC_FAIL && r->timeout && r->failed_rule && !strcmp(r->failed_rule, "VSOK-TIMELY");
}

static void set_note(vc_result *r, char *note)
{
    free(r->note);
    r->note = note;
}

/* Final touches to result i, in case order, then its report line. */
static void commit_one(vc_sched *s, size_t i)
{
    const vc_opts *o = s->x->o;
    vc_result *r = &s->run->results[i];
    const vc_case *dc = atomic_load(&s->x->down_case);
    int applies = (r->c->roles & o->role) != 0;
    if (dc && applies && (uintptr_t)r->c > (uintptr_t)dc) {
        if (r->verdict == VC_FAIL || r->verdict == VC_ERROR || r->verdict == VC_NONSTRICT) {
            /* it ran while the IUT went down in an earlier case */
            r->verdict = VC_SKIP;
            r->failed_rule = NULL;
            free(r->expected);
            free(r->actual);
            free(r->hexdump);
            free(r->bin_path);
            free(r->replay);
            r->expected = r->actual = r->hexdump = r->bin_path = r->replay = NULL;
            r->timeout = 0;
            r->first_diff = UINT64_MAX;
            set_note(r, vc_printf("not trusted: the IUT went down in case %s, which ran at the same "
                                  "time (--jobs %d; --jobs 1 names the exact case)",
                                  dc->id, s->jobs));
        } else if (r->verdict == VC_SKIP && r->note && strstr(r->note, "IUT is down since case")) {
            /* skipped before a concurrent, earlier case lowered down_case */
            char *want = vc_printf("not run: the IUT is down since case %s", dc->id);
            size_t n = strlen(want);
            if (strncmp(r->note, want, n) != 0 || (r->note[n] && r->note[n] != ' '))
                set_note(r, want);
            else
                free(want);
        }
    }
    if (applies && !s->ended) {
        if (deadline_miss(r)) {
            if (s->streak++ == 0)
                s->streak_first = i;
            if (s->streak >= DEADLINE_STREAK) {
                s->ended =
                    vc_printf("the run ended early: the IUT missed its deadline in %d cases in a row (%s to "
                              "%s: owed echoes did not arrive within %d ms), so it cannot be certified at "
                              "this timeout; the cases not yet started were not run",
                              s->streak, s->run->results[s->streak_first].c->id, r->c->id, o->timeout_ms);
                atomic_store(&s->stop, 1);
            }
        } else if (r->verdict != VC_SKIP) {
            s->streak = 0;
        }
    }
    s->counts[r->verdict]++;
    s->run->n = i + 1;
    if (s->tty_progress)
        fprintf(s->out, "\r\033[K");
    if (!o->tap && !o->quiet &&
        (o->verbose || (r->verdict != VC_PASS && !(r->verdict == VC_SKIP && r->note &&
                                                   (!strncmp(r->note, "applies", 7) ||
                                                    !strncmp(r->note, ENDED_NOTE, sizeof ENDED_NOTE - 1))))))
        vc_report_line(s->out, s->run, r, o->color); /* the early end is said once, at the end */
}

static void commit_ready(vc_sched *s)
{
    size_t before = s->committed;
    while (s->committed < s->n && s->state[s->committed] == ST_DONE)
        commit_one(s, s->committed++);
    if (s->tty_progress && s->committed < s->n && s->committed != before)
        fprintf(s->out, "\r\033[K[%zu/%zu] %s", s->committed + 1, s->n, s->sel[s->committed]->id);
    fflush(s->out);
}

static void *worker(void *arg)
{
    vc_sched *s = arg;
    const vc_opts *o = s->x->o;
    pthread_mutex_lock(&s->mu);
    if (o->role == VC_ROLE_CLIENT) {
        int slot = s->slots++;
        char err[512] = "";
        pthread_mutex_unlock(&s->mu);
        int rc = vc_iut_slot_open(s->x, slot, err, sizeof err);
        pthread_mutex_lock(&s->mu);
        if (rc != 0) {
            /* fewer jobs, not a failed run: slot 0 (the run's listener) always works */
            if (!s->slot_err)
                s->slot_err = vc_printf("job %d: %s", slot, err);
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
    }
    while (s->next < s->n) {
        size_t i = s->next;
        vc_case *c = s->sel[i];
        int cls = case_class(o, c);
        if (!may_start(s, cls)) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        s->next++;
        s->state[i] = ST_RUNNING;
        s->running++;
        s->running_class[cls]++;
        /* The case before this one may be blamed for a crash this case
         * notices (run.c); only safe to hand over when nothing else runs. */
        vc_result *prev = NULL;
        if (s->jobs == 1 || cls == CL_ALONE)
            for (size_t k = i; k-- > 0;)
                if (s->run->results[k].verdict != VC_SKIP) {
                    prev = &s->run->results[k];
                    break;
                }
        int stop = atomic_load(&s->stop);
        pthread_mutex_unlock(&s->mu);
        vc_result *r = &s->run->results[i];
        if (stop && cls != CL_FREE) {
            memset(r, 0, sizeof *r);
            r->c = c;
            r->verdict = VC_SKIP;
            r->first_diff = UINT64_MAX;
            r->note = vc_strdup(ENDED_NOTE);
        } else {
            vc_run_case(s->x, c, r, prev);
        }
        pthread_mutex_lock(&s->mu);
        s->state[i] = ST_DONE;
        s->running--;
        s->running_class[cls]--;
        commit_ready(s);
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    vc_iut_slot_close();
    return NULL;
}

static void progress_line(vc_sched *s, int64_t t0)
{
    fprintf(stderr,
            "vsok-conform: progress %zu/%zu cases done, %zu running, %zu FAIL, %zu ERROR, "
            "%zu NON-STRICT, %.0f s\n",
            s->committed, s->n, s->running, s->counts[VC_FAIL], s->counts[VC_ERROR], s->counts[VC_NONSTRICT],
            (vc_now_ms() - t0) / 1000.0);
}

/* Runs the selection; returns the early-end reason (heap) or NULL. */
static char *run_all(vc_ctx *x, vc_run *run, vc_case **sel, size_t nsel, FILE *out, int64_t t0)
{
    const vc_opts *o = x->o;
    vc_sched s;
    memset(&s, 0, sizeof s);
    s.x = x;
    s.run = run;
    s.sel = sel;
    s.n = nsel;
    s.jobs = o->jobs;
    s.out = out;
    s.tty_progress = o->color && !o->tap && !o->quiet;
    s.state = calloc(nsel, 1);
    if (!s.state) {
        fprintf(stderr, "vsok-conform: out of memory\n");
        exit(2);
    }
    atomic_init(&s.stop, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s.cv, &ca);
    pthread_condattr_destroy(&ca);
    int nthreads = s.jobs;
    pthread_t *th = vc_xmalloc((size_t)nthreads * sizeof *th);
    int started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&th[started], NULL, worker, &s) != 0)
            break;
    if (!started)
        worker(&s); /* no thread at all: run them here, one at a time */
    /* The main thread only reports progress: every few seconds on stderr
     * when stdout is not a terminal (CI logs), so a long run shows life and
     * TAP on stdout stays clean. */
    int report = !o->quiet && !isatty(1);
    pthread_mutex_lock(&s.mu);
    int64_t next_report = vc_now_ms() + PROGRESS_EVERY_MS;
    while (s.committed < s.n) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s.cv, &s.mu, &ts);
        if (report && vc_now_ms() >= next_report && s.committed < s.n) {
            progress_line(&s, t0);
            next_report = vc_now_ms() + PROGRESS_EVERY_MS;
        }
    }
    pthread_mutex_unlock(&s.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    if (s.slot_err) {
        if (!o->quiet)
            fprintf(stderr, "vsok-conform: warning: fewer concurrent cases than --jobs: %s\n", s.slot_err);
        free(s.slot_err);
    }
    free(s.state);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return s.ended;
}

int main(int argc, char **argv)
{
    vc_opts o;
    memset(&o, 0, sizeof o);
    o.role = VC_ROLE_SERVER;
    o.timeout_ms = 3000;
    o.color = -1;
    o.artifacts = "vsok-conform-out";
    o.vectors = vc_default_vectors();
    o.budget_s = 600;
    int role_given = 0, seed_given = 0;

    enum {
        O_TARGET = 256,
        O_ROLE,
        O_LISTEN,
        O_SPAWN,
        O_LIST,
        O_PICK,
        O_SKIP,
        O_TIMEOUT,
        O_SEED,
        O_JSON,
        O_JUNIT,
        O_TAP,
        O_HTML,
        O_HTML_WITH,
        O_ARTIFACTS,
        O_VECTORS,
        O_BUDGET,
        O_IUT_PID,
        O_COLOR,
        O_LABEL,
        O_VERSION,
        O_STRICT,
        O_JOBS
    };
    static const struct option lo[] = {{"target", 1, 0, O_TARGET},
                                       {"role", 1, 0, O_ROLE},
                                       {"listen", 1, 0, O_LISTEN},
                                       {"spawn", 1, 0, O_SPAWN},
                                       {"list", 0, 0, O_LIST},
                                       {"pick", 1, 0, O_PICK},
                                       {"skip", 1, 0, O_SKIP},
                                       {"timeout", 1, 0, O_TIMEOUT},
                                       {"seed", 1, 0, O_SEED},
                                       {"json", 1, 0, O_JSON},
                                       {"junit", 1, 0, O_JUNIT},
                                       {"tap", 0, 0, O_TAP},
                                       {"html", 1, 0, O_HTML},
                                       {"html-with", 1, 0, O_HTML_WITH},
                                       {"artifacts", 1, 0, O_ARTIFACTS},
                                       {"vectors", 1, 0, O_VECTORS},
                                       {"budget", 1, 0, O_BUDGET},
                                       {"iut-pid", 1, 0, O_IUT_PID},
                                       {"color", 1, 0, O_COLOR},
                                       {"colour", 1, 0, O_COLOR},
                                       {"label", 1, 0, O_LABEL},
                                       {"verbose", 0, 0, 'v'},
                                       {"quiet", 0, 0, 'q'},
                                       {"strict", 0, 0, O_STRICT},
                                       {"jobs", 1, 0, O_JOBS},
                                       {"fuzz", 1, 0, VC_FUZZ_OPT},
                                       {"fuzz-replay", 1, 0, VC_FUZZ_OPT + 1},
                                       {"fuzz-dump", 1, 0, VC_FUZZ_OPT + 2},
                                       {"help", 0, 0, 'h'},
                                       {"version", 0, 0, O_VERSION},
                                       {0, 0, 0, 0}};
    int ch;
    char why[256];
    uint64_t u;
    int64_t d;
    while ((ch = getopt_long(argc, argv, "vqh", lo, NULL)) != -1) {
        switch (ch) {
        case O_TARGET: o.target = optarg; break;
        case O_ROLE: {
            static const char *const roles[] = {"server", "client", "exec", NULL};
            static const vc_role rv[] = {VC_ROLE_SERVER, VC_ROLE_CLIENT, VC_ROLE_EXEC};
            int k;
            if (cli_parse_choice(optarg, roles, &k, why, sizeof why) != 0)
                return bad_value(&o, "--role", optarg, why);
            o.role = rv[k];
            role_given = 1;
            break;
        }
        case O_LISTEN: o.listen = optarg; break;
        case O_SPAWN: o.spawn = optarg; break;
        case O_LIST: o.list = 1; break;
        case O_PICK: add_pats(&o.pick, &o.npick, optarg); break;
        case O_SKIP: add_pats(&o.skip, &o.nskip, optarg); break;
        case O_TIMEOUT:
            if (parse_timeout(optarg, &o.timeout_ms, why, sizeof why) != 0)
                return bad_value(&o, "--timeout", optarg, why);
            break;
        case O_SEED:
            if (cli_parse_count(optarg, 1, 0, UINT64_MAX, &u, why, sizeof why) != 0)
                return bad_value(&o, "--seed", optarg, why);
            o.seed = u;
            seed_given = 1;
            break;
        case O_JSON: o.json = optarg; break;
        case O_JUNIT: o.junit = optarg; break;
        case O_TAP: o.tap = 1; break;
        case O_HTML: o.html = optarg; break;
        case O_HTML_WITH:
            o.html_with = vc_xrealloc(o.html_with, (o.nhtml_with + 1) * sizeof *o.html_with);
            o.html_with[o.nhtml_with++] = optarg;
            break;
        case O_ARTIFACTS: o.artifacts = optarg; break;
        case O_VECTORS: o.vectors = optarg; break;
        case O_BUDGET:
            if (cli_parse_duration(optarg, 1000, 168 * 3600 * 1000LL, &d, NULL, why, sizeof why) != 0)
                return bad_value(&o, "--budget", optarg, why);
            if (d % 1000)
                return bad_value(&o, "--budget", optarg, "not a whole number of seconds");
            o.budget_s = (int)(d / 1000);
            break;
        case O_IUT_PID: {
            pid_t pid;
            if (cli_parse_pid(optarg, &pid, why, sizeof why) != 0)
                return bad_value(&o, "--iut-pid", optarg, why);
            o.iut_pid = pid;
            break;
        }
        case O_COLOR: {
            static const char *const when[] = {"auto", "always", "never", NULL};
            static const int wv[] = {-1, 1, 0};
            int k;
            if (cli_parse_choice(optarg, when, &k, why, sizeof why) != 0)
                return bad_value(&o, "--color", optarg, why);
            o.color = wv[k];
            break;
        }
        case O_LABEL: o.label = optarg; break;
        case O_STRICT: o.strict = 1; break;
        case VC_FUZZ_OPT:
        case VC_FUZZ_OPT + 1:
        case VC_FUZZ_OPT + 2:
            if (vc_fuzz_opt(ch - VC_FUZZ_OPT, optarg) != 0)
                return bad_usage(&o);
            break;
        case O_JOBS:
            if (cli_parse_count(optarg, 0, 1, 64, &u, why, sizeof why) != 0)
                return bad_value(&o, "--jobs", optarg, why);
            o.jobs = (int)u;
            break;
        case 'v': o.verbose = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_VERSION: puts("vsok-conform 0.1.0"); return 0;
        default: return bad_usage(&o); /* getopt said which option, in one line */
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsok-conform: unexpected argument %s\n", argv[optind]);
        return bad_usage(&o);
    }
    if (o.target && !strncmp(o.target, "exec:", 5)) {
        o.exec_cmd = o.target + 5;
        if (role_given && o.role != VC_ROLE_EXEC && o.role != VC_ROLE_SERVER) {
            fprintf(stderr, "vsok-conform: exec: targets are tested in the exec role\n");
            return bad_usage(&o);
        }
        o.role = VC_ROLE_EXEC;
        if (!*o.exec_cmd) {
            fprintf(stderr, "vsok-conform: exec: needs a command\n");
            return bad_usage(&o);
        }
    } else if (o.role == VC_ROLE_EXEC) {
        fprintf(stderr, "vsok-conform: the exec role needs --target exec:COMMAND\n");
        return bad_usage(&o);
    }

    vc_catalogue cat;
    char err[512] = "";
    if (vc_catalogue_build(&cat, o.vectors, err, sizeof err) != 0) {
        fprintf(stderr, "vsok-conform: %s\n", err);
        vc_catalogue_free(&cat);
        free_opts(&o);
        return 2;
    }
    int rc = 2;
    vc_run run;
    memset(&run, 0, sizeof run);
    vc_ctx x;
    memset(&x, 0, sizeof x);
    x.o = &o;
    x.listen_fd = x.pending_fd = -1;
    vc_case **sel = vc_xmalloc(cat.n * sizeof *sel);
    size_t nsel = 0;
    for (size_t i = 0; i < cat.n; i++)
        if (selected(&o, &cat.cases[i]))
            sel[nsel++] = &cat.cases[i];

    if (vc_fuzz_dump(&o, &cat, stdout)) {
        rc = 0;
        goto done;
    }
    if (o.list) {
        for (size_t i = 0; i < nsel; i++)
            printf("%-40s %-20s %s  [%s]\n", sel[i]->id, sel[i]->rule, sel[i]->title, sel[i]->tags);
        printf("%zu cases; %s\n", nsel, cat.vectors_note);
        rc = 0;
        goto done;
    }
    /* --html-with files are checked now: a bad one must not cost a run */
    for (size_t i = 0; i < o.nhtml_with; i++)
        if (vc_html_check(o.html_with[i], err, sizeof err) != 0) {
            fprintf(stderr, "vsok-conform: --html-with: %s\n", err);
            goto done;
        }
    if (o.nhtml_with && !o.html) {
        fprintf(stderr, "vsok-conform: --html-with needs --html FILE\n");
        goto done;
    }
    int have_target = o.role == VC_ROLE_CLIENT ? o.listen != NULL : o.target != NULL;
    if (!have_target && o.html && o.nhtml_with) {
        rc = vc_report_html(o.html, NULL, o.html_with, o.nhtml_with, err, sizeof err) ? 2 : 0;
        if (rc)
            fprintf(stderr, "vsok-conform: %s\n", err);
        goto done;
    }
    if (!have_target) {
        fprintf(stderr, o.role == VC_ROLE_CLIENT
                            ? "vsok-conform: the client role needs --listen ADDR (see --help)\n"
                            : "vsok-conform: --target ADDR is required (see --help)\n");
        goto done;
    }
    if (o.role == VC_ROLE_CLIENT && o.target) {
        fprintf(stderr, "vsok-conform: the client role takes --listen, not --target\n");
        goto done;
    }
    if (!nsel) {
        fprintf(stderr, "vsok-conform: no case matches the --pick/--skip selection\n");
        goto done;
    }
    if (!seed_given)
        o.seed = random_seed();
    if (!o.label)
        o.label = o.role == VC_ROLE_CLIENT ? (o.spawn ? o.spawn : o.listen) : o.target;
    if (!o.jobs) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o.jobs = cores < 1 ? 1 : cores > 64 ? 64 : (int)cores;
    }
    o.cmdline_role = role_args(&o);
    o.argv0 = vc_shell_quote(argv[0]);
    if (o.color < 0)
        o.color = !o.tap && isatty(1) && !getenv("NO_COLOR");
    signal(SIGPIPE, SIG_IGN);
    vc_iut_signals();

    if (vc_iut_start(&x, err, sizeof err) != 0) {
        fprintf(stderr, "vsok-conform: %s\n", err);
        goto done;
    }
    if (o.role == VC_ROLE_CLIENT && !vc_iut_slots_possible(&x))
        o.jobs = 1; /* one listening socket: its connections cannot be matched to cases */
    FILE *out = stdout;
    if (!o.tap && !o.quiet) {
        fprintf(out, "vsok-conform 0.1.0: %zu cases, role %s, target %s\n", nsel, vc_role_name(o.role),
                o.role == VC_ROLE_CLIENT ? x.listen_text : o.target);
        fprintf(out, "seed 0x%016llx, timeout %d ms, %d job%s\n", (unsigned long long)o.seed, o.timeout_ms,
                o.jobs, o.jobs == 1 ? "" : "s");
        fflush(out);
    }
    if (preflight(&x, err, sizeof err) != 0) {
        fprintf(stderr, "vsok-conform: the run cannot start: %s\n", err);
        vc_iut_stop(&x);
        goto done;
    }

    run.o = &o;
    run.results = vc_xmalloc(nsel * sizeof *run.results);
    memset(run.results, 0, nsel * sizeof *run.results);
    run.vectors_note = cat.vectors_note;
    time_t now = time(NULL);
    strftime(run.started, sizeof run.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int64_t t0 = vc_now_ms();
    x.run_deadline = t0 + (int64_t)o.budget_s * 1000;
    nsel = vc_fuzz_run(&x, &cat, &run, nsel); /* 0 in fuzz mode: its results are in run */
    if (nsel) {
        for (size_t i = 0; i < nsel; i++) /* a case not run yet reads as SKIP */
            run.results[i].verdict = VC_SKIP;
        run.ended = run_all(&x, &run, sel, nsel, out, t0);
    }
    run.duration_ms = vc_now_ms() - t0;
    vc_iut_stop(&x);
    for (size_t i = 0; i < run.n; i++)
        run.counts[run.results[i].verdict]++;

    rc = run.counts[VC_FAIL] || run.counts[VC_ERROR] || (o.strict && run.counts[VC_NONSTRICT]) || run.ended
             ? 1
             : 0;
    if (o.tap)
        vc_report_tap(out, &run);
    else
        vc_report_human(out, &run, o.color);
    if (o.json && vc_report_json(o.json, &run) != 0) {
        fprintf(stderr, "vsok-conform: cannot write %s\n", o.json);
        rc = rc ? rc : 1;
    }
    if (o.junit && vc_report_junit(o.junit, &run) != 0) {
        fprintf(stderr, "vsok-conform: cannot write %s\n", o.junit);
        rc = rc ? rc : 1;
    }
    if (o.html && vc_report_html(o.html, &run, o.html_with, o.nhtml_with, err, sizeof err) != 0) {
        fprintf(stderr, "vsok-conform: %s\n", err);
        rc = rc ? rc : 1;
    }
    for (size_t i = 0; i < run.n; i++) {
        vc_result *r = &run.results[i];
        free(r->expected);
        free(r->actual);
        free(r->hexdump);
        free(r->note);
        free(r->bin_path);
        free(r->replay);
    }
    free((char *)run.ended);
done:
    free(run.results);
    free(sel);
    free_opts(&o);
    vc_catalogue_free(&cat);
    return rc;
}
