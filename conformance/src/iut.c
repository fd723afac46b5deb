/* SPDX-License-Identifier: MIT */
/* iut.c - reaching the implementation under test in its three roles:
 * server (the runner connects), client (the IUT connects to the runner,
 * optionally spawned per connection) and exec (a command per connection
 * with a socketpair as stdin/stdout).  Spawned commands get their own
 * process group, which the runner kills by its id when the connection ends. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "conform.h"

#define REAP_GRACE_MS 200

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A simple command runs as "exec COMMAND" so the IUT itself, not a shell,
 * is the process the runner watches (its crash signal, its /proc entry).
 * Commands with shell control operators keep their shell. */
static const char *exec_prefix(const char *cmd) { return strpbrk(cmd, ";&|()\n`") ? "" : "exec "; }

/* Spawned process groups still alive, so an interrupted run kills them
 * (by their ids) instead of leaving a silent IUT behind.  Slots are claimed
 * with atomics: --jobs workers spawn concurrently, and the signal handler
 * reads the table (lock-free atomics are async-signal-safe). */
#define MAX_LIVE 256
static _Atomic pid_t live[MAX_LIVE];

static void track(pid_t pid, int on)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        pid_t want = on ? 0 : pid;
        if (atomic_compare_exchange_strong(&live[i], &want, on ? pid : 0))
            return;
    }
}

static void on_signal(int sig)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] > 0)
            kill(-(pid_t)live[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

void vc_iut_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static pid_t spawn(const char *cmd, int stdio_fd, int verbose)
{
    char *line = vc_printf("%s%s", exec_prefix(cmd), cmd);
    pid_t pid = fork();
    if (pid < 0) {
        free(line);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDWR);
        if (stdio_fd >= 0) {
            dup2(stdio_fd, 0);
            dup2(stdio_fd, 1);
        } else if (null >= 0) {
            dup2(null, 0);
            if (!verbose)
                dup2(null, 1);
        }
        if (!verbose && null >= 0)
            dup2(null, 2);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    free(line);
    setpgid(pid, pid); /* also in the parent: no race with the kill below */
    track(pid, 1);
    return pid;
}

/* Non-reaping check: has the spawned leader exited?  Keeping it a zombie
 * keeps its process group id from being reused before the group is killed. */
static int exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return 1;
    return si.si_pid == pid;
}

static void reap(vc_conn *c, int grace_ms)
{
    if (c->pid <= 0 || c->reaped)
        return;
    int64_t end = vc_now_ms() + grace_ms;
    while (!exited(c->pid) && vc_now_ms() < end)
        vc_sleep_ms(1);
    if (!exited(c->pid))
        c->killed = 1;
    kill(-c->pid, SIGKILL); /* the whole group: a shell's children too */
    while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR) {
    }
    c->reaped = 1;
    track(c->pid, 0);
}

int vc_iut_start(vc_ctx *x, char *err, size_t errlen)
{
    vc_opts *o = x->o;
    x->listen_fd = x->pending_fd = -1;
    if (o->role == VC_ROLE_CLIENT) {
        if (vsok_listen(o->listen, 16, &x->listen_fd, err, errlen) != VSOK_OK) {
            if (!err[0])
                snprintf(err, errlen, "cannot listen on %s: %s", o->listen, strerror(errno));
            return -1;
        }
        set_nonblock(x->listen_fd); /* fd:N comes as it was inherited */
        vsok_addr a;
        if (vsok_addr_from_fd(x->listen_fd, 0, &a) == VSOK_OK)
            vsok_addr_format(&a, x->listen_text, sizeof x->listen_text);
        else
            snprintf(x->listen_text, sizeof x->listen_text, "%s", o->listen);
        return 0;
    }
    if (o->role == VC_ROLE_SERVER) {
        vsok_addr a;
        if (vsok_addr_parse(&a, o->target, err, errlen) != VSOK_OK)
            return -1;
    }
    return 0;
}

/* The worker thread's own listener (client role, concurrent spawned
 * clients); -1: the run's. */
static _Thread_local int slot_fd = -1;
static _Thread_local char slot_text[sizeof((vc_ctx *)0)->listen_text];

static int listen_fd(const vc_ctx *x) { return slot_fd >= 0 ? slot_fd : x->listen_fd; }

static const char *listen_text(const vc_ctx *x) { return slot_fd >= 0 ? slot_text : x->listen_text; }

int vc_iut_slots_possible(const vc_ctx *x)
{
    vsok_addr a;
    if (x->o->role != VC_ROLE_CLIENT || !x->o->spawn || !strstr(x->o->spawn, "{addr}"))
        return 0;
    if (vsok_addr_parse(&a, x->listen_text, NULL, 0) != VSOK_OK)
        return 0;
    return a.kind == VSOK_ADDR_TCP || a.kind == VSOK_ADDR_VSOCK ||
           (a.kind == VSOK_ADDR_UNIX && strlen(a.path) + 6 < sizeof a.path);
}

static void unlink_unix(const char *text)
{
    if (strncmp(text, "unix:", 5) == 0 && text[5] != '@')
        unlink(text + 5);
}

int vc_iut_slot_open(vc_ctx *x, int slot, char *err, size_t errlen)
{
    if (slot == 0)
        return 0;
    vsok_addr a;
    char text[sizeof slot_text];
    if (vsok_addr_parse(&a, x->listen_text, err, errlen) != VSOK_OK)
        return -1;
    if (a.kind == VSOK_ADDR_TCP)
        a.port = 0;
    else if (a.kind == VSOK_ADDR_VSOCK)
        a.port = UINT32_MAX; /* VMADDR_PORT_ANY: the kernel picks one */
    else {
        size_t n = strlen(a.path);
        snprintf(a.path + n, sizeof a.path - n, ".%d", slot);
    }
    if (vsok_addr_format(&a, text, sizeof text) < 0) {
        snprintf(err, errlen, "cannot format a listen address for job %d", slot);
        return -1;
    }
    int fd = -1;
    if (vsok_listen(text, 16, &fd, err, errlen) != VSOK_OK) {
        if (!err[0])
            snprintf(err, errlen, "cannot listen on %s: %s", text, strerror(errno));
        return -1;
    }
    set_nonblock(fd);
    if (vsok_addr_from_fd(fd, 0, &a) != VSOK_OK || vsok_addr_format(&a, slot_text, sizeof slot_text) < 0)
        snprintf(slot_text, sizeof slot_text, "%s", text);
    slot_fd = fd;
    return 0;
}

void vc_iut_slot_close(void)
{
    if (slot_fd < 0)
        return;
    close(slot_fd);
    slot_fd = -1;
    unlink_unix(slot_text);
}

void vc_iut_stop(vc_ctx *x)
{
    if (x->pending_fd >= 0)
        close(x->pending_fd);
    if (x->listen_fd >= 0)
        close(x->listen_fd);
    x->pending_fd = x->listen_fd = -1;
    if (x->o->role == VC_ROLE_CLIENT)
        unlink_unix(x->listen_text);
}

/* The address a spawned client connects to: the listen address, with a
 * wildcard (vsock CID any, 0.0.0.0, ::) turned into the loopback a client
 * can actually reach. */
static void connect_text(const vc_ctx *x, char *buf, size_t len)
{
    vsok_addr a;
    snprintf(buf, len, "%s", listen_text(x));
    if (vsok_addr_parse(&a, listen_text(x), NULL, 0) != VSOK_OK)
        return;
    if (a.kind == VSOK_ADDR_VSOCK && a.cid == VSOK_CID_ANY)
        a.cid = VSOK_CID_LOCAL;
    else if (a.kind == VSOK_ADDR_TCP && strcmp(a.host, "0.0.0.0") == 0)
        snprintf(a.host, sizeof a.host, "127.0.0.1");
    else if (a.kind == VSOK_ADDR_TCP && strcmp(a.host, "::") == 0)
        snprintf(a.host, sizeof a.host, "::1");
    else
        return;
    vsok_addr_format(&a, buf, len);
}

static char *spawn_command(vc_ctx *x)
{
    const char *t = x->o->spawn;
    char target[sizeof x->listen_text];
    connect_text(x, target, sizeof target);
    char *q = vc_shell_quote(target);
    size_t n = strlen(t) + 1, nq = strlen(q);
    for (const char *p = strstr(t, "{addr}"); p; p = strstr(p + 6, "{addr}"))
        n += nq;
    char *out = vc_xmalloc(n), *o = out;
    while (*t) {
        if (strncmp(t, "{addr}", 6) == 0) {
            memcpy(o, q, nq);
            o += nq;
            t += 6;
        } else {
            *o++ = *t++;
        }
    }
    *o = 0;
    free(q);
    return out;
}

static int accept_client(vc_ctx *x, vc_conn *c, int64_t deadline, int *refused, char *err, size_t errlen)
{
    for (;;) {
        int64_t now = vc_now_ms();
        if (now >= deadline) {
            *refused = 1;
            snprintf(err, errlen, "no client connected to %s within the timeout", listen_text(x));
            return -1;
        }
        struct pollfd p = {.fd = listen_fd(x), .events = POLLIN};
        int slice = (int)(deadline - now);
        if (c->pid > 0 && slice > 10)
            slice = 10; /* notice a spawned client that died without connecting */
        int rc = poll(&p, 1, slice);
        if (rc < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll on the listening socket: %s", strerror(errno));
            return -1;
        }
        if (rc > 0) {
            int fd = accept4(listen_fd(x), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                c->fd = fd;
                return 0;
            }
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                snprintf(err, errlen, "accept: %s", strerror(errno));
                return -1;
            }
        }
        if (c->pid > 0 && exited(c->pid)) {
            reap(c, 0);
            *refused = 1;
            if (WIFEXITED(c->status))
                snprintf(err, errlen, "the client command exited with status %d without connecting",
                         WEXITSTATUS(c->status));
            else
                snprintf(err, errlen, "the client command died (%s) without connecting",
                         strsignal(WTERMSIG(c->status)));
            return -1;
        }
    }
}

static void conn_init(vc_conn *c, int *refused, char *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->pid = -1;
    *refused = 0;
    err[0] = 0;
}

/* Server role: a connection to the target, with so (may be NULL) set on the
 * socket before it connects. */
static int server_connect(vc_ctx *x, vc_conn *c, const vsok_sockopts *so, int64_t deadline, int *refused,
                          char *err, size_t errlen)
{
    vsok_addr a;
    int64_t left = deadline - vc_now_ms();
    vsok_err e = vsok_addr_parse(&a, x->o->target, err, errlen);
    if (e == VSOK_OK && (e = vsok_addr_connect_opts(&a, so, left > 0 ? (int)left : 1, &c->fd)) != VSOK_OK)
        vsok_addr_explain(&a, 1, e, err, errlen);
    if (e != VSOK_OK) {
        int en = errno;
        /* gone, or so wedged it no longer accepts: either way the rest of
         * the run cannot reach it */
        *refused = e == VSOK_E_TIMEOUT ||
                   (e == VSOK_E_IO && (en == ECONNREFUSED || en == ENOENT || en == ECONNRESET));
        if (!err[0])
            snprintf(err, errlen, "cannot connect to %s: %s (%s)", x->o->target, vsok_errname(e),
                     e == VSOK_E_IO ? strerror(en) : vsok_strerror(e));
        errno = en;
        return -1;
    }
    set_nonblock(c->fd);
    return 0;
}

/* The slow reader's buffer on a TCP target is set before connect(2).  tcp(7):
 * set after it, it does harm: the window shrinks below what the IUT has
 * already seen.  Linux's sender caps its segments at half the largest window
 * the peer ever offered and sends nothing while one does not fit (sender-side
 * silly window avoidance) except the zero-window probe of its persist
 * timer.  With 16 KiB set after the handshake, a 6.1 kernel offers a 16 KiB
 * window against 32 KiB segments: the echoes crawl at one probe per timer
 * tick (about 160 KB/s under qemu) and a correct IUT times out (issue 14).
 * Set before connect, the SYN offers the small window, so the segments fit. */
int vc_iut_open_rcvbuf(vc_ctx *x, vc_conn *c, int64_t deadline, int rcvbuf, int *refused, char *err,
                       size_t errlen)
{
    vsok_addr a;
    if (rcvbuf > 0 && x->o->role == VC_ROLE_SERVER && vsok_addr_parse(&a, x->o->target, NULL, 0) == VSOK_OK &&
        a.kind == VSOK_ADDR_TCP) {
        vsok_sockopts so = {.rcvbuf = rcvbuf};
        conn_init(c, refused, err);
        return server_connect(x, c, &so, deadline, refused, err, errlen);
    }
    /* unix: bounded by the IUT's send buffer anyway; vsock: its buffer is
     * SO_VM_SOCKETS_BUFFER_SIZE and the credit it grants, not this.  A TCP
     * connection accepted in the client role is past its handshake:
     * shrinking it now would make a correct client crawl, so it keeps its
     * buffer and the late start of reading alone pushes back. */
    if (vc_iut_open(x, c, deadline, refused, err, errlen) != 0)
        return -1;
    int proto = 0;
    socklen_t pl = sizeof proto;
    if (rcvbuf > 0 && !(getsockopt(c->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0 && proto == IPPROTO_TCP))
        (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return 0;
}

int vc_iut_open(vc_ctx *x, vc_conn *c, int64_t deadline, int *refused, char *err, size_t errlen)
{
    vc_opts *o = x->o;
    conn_init(c, refused, err);
    if (o->role == VC_ROLE_SERVER)
        return server_connect(x, c, NULL, deadline, refused, err, errlen);
    if (o->role == VC_ROLE_EXEC) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            snprintf(err, errlen, "socketpair: %s", strerror(errno));
            return -1;
        }
        c->pid = spawn(o->exec_cmd, sv[1], o->verbose);
        close(sv[1]);
        if (c->pid < 0) {
            close(sv[0]);
            snprintf(err, errlen, "fork: %s", strerror(errno));
            return -1;
        }
        c->fd = sv[0];
        set_nonblock(c->fd);
        return 0;
    }
    /* client role */
    if (x->pending_fd >= 0) {
        c->fd = x->pending_fd;
        x->pending_fd = -1;
        return 0;
    }
    if (!o->spawn) {
        if (accept_client(x, c, deadline, refused, err, errlen) != 0)
            return -1;
        return 0;
    }
    /* A client that does not connect gets one more fresh start before the
     * run concludes it is gone: one slow start on a loaded machine must
     * not end the run. */
    for (int attempt = 0; attempt < 2; attempt++) {
        /* A connection left in the backlog by an earlier, killed client
         * would be taken for this case's client: drop it first. */
        for (int fd; (fd = accept4(listen_fd(x), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;)
            close(fd);
        char *cmd = spawn_command(x);
        c->pid = spawn(cmd, -1, o->verbose);
        free(cmd);
        if (c->pid < 0) {
            snprintf(err, errlen, "fork: %s", strerror(errno));
            return -1;
        }
        if (attempt)
            deadline = vc_now_ms() + o->timeout_ms;
        if (accept_client(x, c, deadline, refused, err, errlen) == 0)
            return 0;
        vc_iut_close(x, c);
        memset(c, 0, sizeof *c);
        c->fd = -1;
        c->pid = -1;
    }
    return -1;
}

void vc_iut_close(vc_ctx *x, vc_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->pid > 0 && !c->reaped) {
        /* A correct IUT exits once its stream ended; one that lingers is
         * killed, and after a few such the runner stops waiting for it. */
        reap(c, x->lingering >= 3 ? 0 : REAP_GRACE_MS);
        if (c->killed)
            x->lingering++;
    }
}

void vc_iut_crash(const vc_conn *c, char *out, size_t len)
{
    out[0] = 0;
    if (c->pid <= 0 || !c->reaped || c->killed)
        return;
    if (WIFSIGNALED(c->status)) {
        snprintf(out, len, "the IUT process died from signal %d (%s)", WTERMSIG(c->status),
                 strsignal(WTERMSIG(c->status)));
        return;
    }
    /* A shell in front of the IUT reports its child's crash as 128 + signal. */
    int st = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 0;
    static const int crash_signals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSYS};
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        if (st == 128 + crash_signals[i])
            snprintf(out, len,
                     "the IUT's shell exited with status %d: its command died from "
                     "signal %d (%s)",
                     st, crash_signals[i], strsignal(crash_signals[i]));
}

long vc_iut_pid(vc_ctx *x, const vc_conn *c)
{
    if (x->o->iut_pid > 0)
        return x->o->iut_pid;
    if (c->pid > 0)
        return c->pid;
    struct ucred cr;
    socklen_t n = sizeof cr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) == 0 && cr.pid > 0 && cr.pid != getpid())
        return cr.pid;
    return -1;
}

#define PROBE_CLOSED (-100) /* internal: closed without a byte of echo */

static int probe_once(vc_ctx *x, int timeout_ms, char *why, size_t len)
{
    static const uint8_t msg[] = "vsok-conform survival probe";
    vc_span span = {msg, sizeof msg - 1};
    vc_conn c;
    int refused;
    int64_t deadline = vc_now_ms() + timeout_ms;
    if (vc_iut_open(x, &c, deadline, &refused, why, len) != 0)
        return VC_PROBE_GONE;
    uint8_t frame[8 + sizeof msg - 1];
    vc_frame_put(frame, msg, span.len);
    vc_reader rd;
    vc_reader_init(&rd, &span, 1);
    vc_xfer t = {.fd = c.fd,
                 .out = frame,
                 .outlen = sizeof frame,
                 .half_close = 0,
                 .rd = &rd,
                 .deadline = deadline,
                 .close_grace_ms = 0};
    vc_xfer_run(&t);
    vc_iut_close(x, &c);
    char crash[160];
    vc_iut_crash(&c, crash, sizeof crash);
    if (rd.state == VC_R_COMPLETE && !crash[0])
        return VC_PROBE_OK;
    if (t.timed_out && rd.received == 0) {
        snprintf(why, len,
                 "a fresh connection got no echo of a %zu-byte message within %d ms "
                 "(wedged?)",
                 span.len, timeout_ms);
        return VC_PROBE_WEDGED;
    }
    if (crash[0])
        snprintf(why, len, "a fresh connection with a %zu-byte message: %s", span.len, crash);
    else if (t.closed && rd.received == 0) {
        snprintf(why, len, "a fresh connection was closed without an echo of a %zu-byte message", span.len);
        return PROBE_CLOSED;
    } else
        snprintf(why, len, "a fresh connection got a wrong echo of a %zu-byte message", span.len);
    return VC_PROBE_WRONG;
}

int vc_iut_probe(vc_ctx *x, int timeout_ms, char *why, size_t len)
{
    /* A server that is dying still has its listening socket for a moment
     * (longer under ASan, which unmaps its shadow on exit): a connection
     * accepted by the kernel then closes unanswered.  Look again, a few
     * times within the timeout, before calling that "broken" rather than
     * "gone". */
    int64_t deadline = vc_now_ms() + timeout_ms;
    for (int attempt = 0;; attempt++) {
        int p = probe_once(x, timeout_ms, why, len);
        if (p == VC_PROBE_WEDGED) {
            /* One echo that never came is not yet a wedged IUT: one that
             * loses a message now and then, or the first after an error,
             * serves on, and taking it for down would skip the rest of the
             * run.  A second fresh connection tells the two apart. */
            char again[256];
            if (probe_once(x, timeout_ms, again, sizeof again) != VC_PROBE_OK)
                return p;
            snprintf(why, len,
                     "a fresh connection got no echo of its message within %d ms, while a second "
                     "fresh connection was served: an echo lost, not a wedged IUT",
                     timeout_ms);
            return VC_PROBE_WRONG;
        }
        if (p != PROBE_CLOSED)
            return p;
        int64_t left = deadline - vc_now_ms();
        /* an IUT that answered the probe like this before any case ran is
         * not dying: no second look */
        if (attempt >= 4 || left < 100 || x->probe_baseline != VC_PROBE_OK)
            return VC_PROBE_WRONG;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}
