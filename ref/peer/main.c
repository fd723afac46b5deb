/* SPDX-License-Identifier: MIT */
/* main.c - vsok-peer command line: parse, set up, dispatch to a mode. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli_opt.h"
#include "log.h"
#include "peer.h"
#include "stats.h"

static const char help_text[] =
    "NAME\n"
    "    vsok-peer - reference peer for the VSOK message protocol\n"
    "\n"
    "SYNOPSIS\n"
    "    vsok-peer [OPTIONS] listen ADDR\n"
    "    vsok-peer [OPTIONS] connect ADDR\n"
    "    vsok-peer [OPTIONS] relay LISTEN_ADDR TARGET_ADDR\n"
    "    vsok-peer [OPTIONS] send ADDR [FILE|-]...\n"
    "    vsok-peer [OPTIONS] recv ADDR\n"
    "    vsok-peer [OPTIONS] stdio\n"
    "\n"
    "DESCRIPTION\n"
    "    Speaks VSOK framing (\"VSOK\", u32 big-endian length 1..1048576, payload)\n"
    "    strictly, so it can sit on the other end of a channel and tell whether a\n"
    "    program speaks the protocol.  Every violation is logged with the byte\n"
    "    offset at which a conforming reader detects it and its error name\n"
    "    (InvalidMagicBytes, InvalidTotalLength, MessageTooLarge, Truncated, ...).\n"
    "\n"
    "COMMANDS\n"
    "    listen ADDR\n"
    "        Serve connections on ADDR (event-driven, one thread).  --mode echo\n"
    "        (default) sends every valid message back as a frame; on a protocol\n"
    "        error the echoes of earlier messages are flushed and the connection\n"
    "        is closed (write side shut down, input discarded for --linger, then\n"
    "        close) without echoing the bad message; other connections are not\n"
    "        affected.  --mode sink counts and discards; --mode source sends\n"
    "        --count messages of --size bytes (or --pattern) to each connection,\n"
    "        half-closes, and discards what comes in.  ADDR fd:N may be a\n"
    "        listening or an already connected socket.\n"
    "    connect ADDR\n"
    "        Like listen, but connects (--conns N connections) and exits when all\n"
    "        are closed.  Default echo: the conformance runner's client role.\n"
    "    relay LISTEN_ADDR TARGET_ADDR\n"
    "        Validating proxy.  For each client accepted on LISTEN_ADDR, connects\n"
    "        to TARGET_ADDR and forwards bytes both ways unchanged, checking\n"
    "        every frame in both directions.  A violation is logged as event\n"
    "        \"violation\" with conn, dir (client-to-target or target-to-client),\n"
    "        offset and error.  Frame headers are held back until complete and\n"
    "        valid, so the receiving side gets every frame before a bad one and\n"
    "        nothing of it, then end of stream (half-close); the rest of the bad\n"
    "        side's input is discarded while the other direction carries on until\n"
    "        its source ends (--keep-going: forward the rest unchecked instead).\n"
    "        Each direction ends with a half-close when its source does; the\n"
    "        pair is closed when both have.  A target that refuses or does not\n"
    "        answer within --connect-timeout ends the client's connection\n"
    "        (event \"connect-failed\").\n"
    "    send ADDR [FILE|-]...\n"
    "        Connect and send each FILE (default: standard input) as one message,\n"
    "        or each line as one message with --lines (empty lines skipped).\n"
    "        Then half-close and wait up to --idle-timeout (10s if unset) for the\n"
    "        peer to close; --replies prints what comes back, as recv does.\n"
    "    recv ADDR\n"
    "        Connect and print each message received until end of stream (or\n"
    "        --count messages): --format raw (payload bytes, default), hex (one\n"
    "        line per message) or json (one object per line: seq, offset, len,\n"
    "        hex, and text when printable).\n"
    "    stdio\n"
    "        Read frames from standard input and echo each to standard output.\n"
    "        Exit 0 at a clean end of input, 1 on a protocol error (the\n"
    "        conformance runner's exec role).  \"echo-stdio\" is an alias.\n"
    "\n"
    "    send and recv accept one connection instead of connecting with --listen\n"
    "    or a *-LISTEN address spelling.\n"
    "\n"
    "ADDRESSES\n"
    "    vsock:CID:PORT   AF_VSOCK (CID: number, any, local, host, parent)\n"
    "    unix:PATH        Unix stream socket (unix:@name: abstract namespace)\n"
    "    tcp:HOST:PORT    TCP; port 0 picks a free port (see --port-file)\n"
    "    fd:N             inherited descriptor\n"
    "    fc:UDS:PORT      Firecracker hybrid vsock (CONNECT handshake)\n"
    "    socat spellings (TCP-LISTEN:5000, VSOCK-CONNECT:3:5000, ...) work too.\n"
    "\n"
    "OPTIONS\n"
    "    -m, --mode MODE          echo (default), sink or source\n"
    "    -n, --count N            source: messages per connection (default 1);\n"
    "                             recv: stop after N messages\n"
    "    -s, --size SIZE          source: payload bytes (default 64)\n"
    "        --pattern TEXT       source: send TEXT as the payload\n"
    "    -c, --conns N            connect: connections to open (default 1)\n"
    "        --max-conns N        refuse connections beyond N (default 16384,\n"
    "                             capped by RLIMIT_NOFILE).  A refused connection\n"
    "                             is accepted and closed at once, and logged\n"
    "                             (at most one line per second; its count= is\n"
    "                             the refusals since the previous line).\n"
    "        --max-payload SIZE   largest accepted payload (default 1MiB)\n"
    "        --idle-timeout DUR   close a connection silent this long (default\n"
    "                             300s for listen/relay, off for connect; 0 off)\n"
    "        --msg-timeout DUR    a message must arrive whole within DUR of its\n"
    "                             first byte, else Timeout (default 30s; 0 off)\n"
    "        --write-timeout DUR  close a peer that takes none of our output for\n"
    "                             DUR (default 30s; 0 off)\n"
    "        --linger DUR         after closing our side, discard input this long\n"
    "                             before close (default 2s)\n"
    "        --drain-timeout DUR  graceful shutdown limit (default 10s)\n"
    "        --connect-timeout DUR (default 5s)\n"
    "        --high-water SIZE    stop reading from a connection while this much\n"
    "                             of its output is queued (default 1MiB); reading\n"
    "                             resumes below a quarter of it\n"
    "        --backlog N          listen backlog (default 4096)\n"
    "        --busy-poll DUR      listen/connect/relay: when the loop would sleep,\n"
    "                             poll without sleeping until DUR after the last\n"
    "                             event it handled, then sleep (default 0: off;\n"
    "                             at most 1s).  A window that brings nothing\n"
    "                             turns polling off until an event comes within\n"
    "                             DUR of the last.  Lower latency when the other\n"
    "                             side answers within DUR, for CPU time.\n"
    "        --keep-going         relay: keep forwarding after a violation\n"
    "    -f, --format FMT         recv/send --replies: raw, hex or json\n"
    "    -l, --lines              send: one message per input line\n"
    "    -r, --replies            send: print the messages that come back\n"
    "        --listen             send/recv: accept one connection on ADDR\n"
    "        --port-file FILE     write the bound address (e.g. tcp:127.0.0.1:41234)\n"
    "                             to FILE atomically once listening\n"
    "        --ready-fd N         write the bound address and a newline to fd N,\n"
    "                             then close it\n"
    "    -v, --verbose            debug lines too: every connection opened and\n"
    "                             closed, with its counts\n"
    "    -q, --quiet              fewer log lines (the exit statistics stay;\n"
    "                             -qq: none at all)\n"
    "        --log-format FMT     text (default) or json (one object per line)\n"
    "    -h, --help               this text\n"
    "        --version\n"
    "\n"
    "    DUR is a number with unit ms, s, m or h (500ms, 1.5s, 2m; --busy-poll\n"
    "    also takes us, e.g. 50us); a plain number is seconds; at most 168h.\n"
    "    SIZE is a number of bytes with optional k/KiB or m/MiB (16k, 1MiB).\n"
    "    N is an unsigned decimal number.\n"
    "    A bad value is a one-line error naming the option, exit status 2.\n"
    "\n"
    "LOGS AND STATISTICS\n"
    "    Log lines go to standard error: time, level (error, warn, info, debug),\n"
    "    event, key=value fields; with --log-format json the same as JSON.\n"
    "    SIGUSR1 prints an event \"stats\" line: connections (total, active, peak,\n"
    "    refused), messages and bytes in and out, errors by name, timeouts,\n"
    "    relay violations by direction, and connection memory (total, per\n"
    "    connection, largest).  The same line is printed as \"exit\" at the end.\n"
    "\n"
    "SIGNALS\n"
    "    SIGINT, SIGTERM   graceful shutdown: stop accepting; connections in the\n"
    "                      middle of a message finish it and get its echo, then\n"
    "                      every connection is closed; anything left after\n"
    "                      --drain-timeout is closed.  A second signal ends at once.\n"
    "    SIGUSR1           print statistics\n"
    "\n"
    "EXIT STATUS\n"
    "    0  success (listen/relay: after a signal)\n"
    "    1  the other side broke the protocol (connect, send, recv, stdio)\n"
    "    2  usage error: unknown option, bad option value, malformed address\n"
    "       (the command line is wrong; nothing was tried)\n"
    "    3  a well-formed address cannot be resolved, listened on or connected\n"
    "    4  transport failure or timeout while running\n"
    "\n"
    "EXAMPLES\n"
    "    vsok-peer listen vsock:any:5000\n"
    "    vsok-peer listen --port-file /tmp/port tcp:127.0.0.1:0\n"
    "    vsok-peer relay tcp:127.0.0.1:8000 vsock:16:5000\n"
    "    echo hello | vsok-peer send --replies --format hex tcp:127.0.0.1:5000\n"
    "    vsok-peer recv --format json unix:/run/agent.sock\n"
    "    vsok-peer connect --mode source --count 10000 --size 64K tcp:127.0.0.1:5000\n";

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...);

/* One line, exit 2: the tools' convention for every usage error. */
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vsok-peer: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see vsok-peer --help)\n");
    exit(EXIT_USAGE);
}

/* Option values go through the tools' shared strict parser (ref/cli); a bad
 * one is a one-line error naming the option and the value, exit 2. */
__attribute__((noreturn)) static void bad_value(const char *opt, const char *val, const char *why)
{
    cli_bad_value("vsok-peer", opt, val, why);
    exit(EXIT_USAGE);
}

/* A week: every timeout fits the int milliseconds of poll(2) and the library. */
#define DUR_MAX_MS (168 * 3600 * 1000LL)

/* A spin window longer than a second is a misconfiguration, not a latency
 * trade: the loop would burn a core for seconds after every event. */
#define BUSY_POLL_MAX_US 1000000

static int64_t opt_dur(const char *opt, const char *s)
{
    int64_t ms;
    char why[256];
    if (cli_parse_duration(s, 0, DUR_MAX_MS, &ms, NULL, why, sizeof why) != 0)
        bad_value(opt, s, why);
    return ms;
}

static uint64_t opt_size(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    uint64_t v;
    char why[256];
    if (cli_parse_size(s, min, max, &v, why, sizeof why) != 0)
        bad_value(opt, s, why);
    return v;
}

static uint64_t opt_count(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    uint64_t v;
    char why[256];
    if (cli_parse_count(s, 0, min, max, &v, why, sizeof why) != 0)
        bad_value(opt, s, why);
    return v;
}

static int opt_choice(const char *opt, const char *s, const char *const *names)
{
    int v;
    char why[256];
    if (cli_parse_choice(s, names, &v, why, sizeof why) != 0)
        bad_value(opt, s, why);
    return v;
}

enum {
    O_PATTERN = 256,
    O_MAXCONNS,
    O_MAXPAYLOAD,
    O_IDLE,
    O_MSGTO,
    O_WRITETO,
    O_LINGER,
    O_DRAIN,
    O_CONNTO,
    O_HIGHWATER,
    O_BACKLOG,
    O_BUSYPOLL,
    O_KEEPGOING,
    O_LISTEN,
    O_PORTFILE,
    O_READYFD,
    O_LOGFMT,
    O_VERSION
};

static const struct option longopts[] = {
    {"mode", required_argument, 0, 'm'},
    {"count", required_argument, 0, 'n'},
    {"size", required_argument, 0, 's'},
    {"pattern", required_argument, 0, O_PATTERN},
    {"conns", required_argument, 0, 'c'},
    {"max-conns", required_argument, 0, O_MAXCONNS},
    {"max-payload", required_argument, 0, O_MAXPAYLOAD},
    {"idle-timeout", required_argument, 0, O_IDLE},
    {"msg-timeout", required_argument, 0, O_MSGTO},
    {"write-timeout", required_argument, 0, O_WRITETO},
    {"linger", required_argument, 0, O_LINGER},
    {"drain-timeout", required_argument, 0, O_DRAIN},
    {"connect-timeout", required_argument, 0, O_CONNTO},
    {"high-water", required_argument, 0, O_HIGHWATER},
    {"backlog", required_argument, 0, O_BACKLOG},
    {"busy-poll", required_argument, 0, O_BUSYPOLL},
    {"keep-going", no_argument, 0, O_KEEPGOING},
    {"format", required_argument, 0, 'f'},
    {"lines", no_argument, 0, 'l'},
    {"replies", no_argument, 0, 'r'},
    {"listen", no_argument, 0, O_LISTEN},
    {"port-file", required_argument, 0, O_PORTFILE},
    {"ready-fd", required_argument, 0, O_READYFD},
    {"verbose", no_argument, 0, 'v'},
    {"quiet", no_argument, 0, 'q'},
    {"log-format", required_argument, 0, O_LOGFMT},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, O_VERSION},
    {0, 0, 0, 0},
};

static unsigned raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > 1u << 30 ? 1u << 30 : (unsigned)rl.rlim_cur;
}

static void need_args(int have, int want_min, int want_max, const char *cmd)
{
    if (have < want_min || (want_max >= 0 && have > want_max))
        usage_error("wrong number of arguments for '%s'", cmd);
}

static int run_loop_mode(peer_opts *o, const char *cmd, char **args, int nargs)
{
    loop L;
    int code;
    if (loop_init(&L, o) != 0) {
        loop_free(&L);
        return EXIT_SETUP;
    }
    if (!strcmp(cmd, "listen")) {
        need_args(nargs, 1, 1, cmd);
        code = loop_listen(&L, args[0]);
    } else if (!strcmp(cmd, "relay")) {
        need_args(nargs, 2, 2, cmd);
        int rc = relay_attach(&L, args[1]);
        if (rc != 0) {
            loop_free(&L);
            /* -1 malformed: the command line is wrong; -2 well-formed but cannot be resolved */
            return rc == -1 ? EXIT_USAGE : EXIT_SETUP;
        }
        code = loop_listen(&L, args[0]);
    } else {
        need_args(nargs, 1, 1, cmd);
        vsok_addr a;
        code = peer_parse_addr(&a, args[0]) == 0 ? EXIT_OK : EXIT_USAGE;
        for (unsigned i = 0; i < o->conns && code == EXIT_OK; i++) {
            int fd;
            if (a.kind == VSOK_ADDR_FD) {
                fd = a.fd;
                if (i > 0)
                    break;
            } else if ((fd = peer_connect_addr(o, &a, args[0])) < 0) {
                code = EXIT_SETUP;
                break;
            }
            int fl = fcntl(fd, F_GETFL);
            if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
                close(fd);
                code = EXIT_SETUP;
                break;
            }
            L.now = vsok_now_ms();
            loop_add_fd(&L, fd, 1);
        }
    }
    if (code == EXIT_OK)
        code = loop_run(&L);
    loop_free(&L);
    stats_print("exit", LOG_INFO | (log_enabled(LOG_WARN) ? LOG_FORCE : 0));
    return code;
}

int main(int argc, char **argv)
{
    peer_opts o = {
        .mode = MODE_ECHO,
        .max_payload = VSOK_MAX_PAYLOAD,
        .conns = 1,
        .idle_ms = -1, /* -1: the command's default */
        .msg_ms = 30000,
        .write_ms = 30000,
        .drain_ms = 10000,
        .connect_ms = 5000,
        .linger_ms = 2000,
        .count = 0,
        .size = 64,
        .ready_fd = -1,
        .high_water = VSOK_MAX_PAYLOAD,
        .backlog = 4096,
        .fmt = FMT_RAW,
    };
    int verbosity = LOG_INFO, json = 0, count_set = 0;
    unsigned max_conns = 16384;

    signal(SIGPIPE, SIG_IGN);
    /* Output queue chunks of up to a read (256 KiB) come and go at line
     * rate under load; keep them off mmap/munmap so each is not a round of
     * page faults.  Freed memory stays reusable in the heap instead. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    unsigned nofile = raise_nofile();

    int ch;
    while ((ch = getopt_long(argc, argv, "m:n:s:c:f:lrvqh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': {
            static const char *const modes[] = {"echo", "sink", "source", NULL};
            static const peer_mode mv[] = {MODE_ECHO, MODE_SINK, MODE_SOURCE};
            o.mode = mv[opt_choice("--mode", optarg, modes)];
            break;
        }
        case 'n':
            o.count = opt_count("--count", optarg, 0, UINT64_MAX);
            count_set = 1;
            break;
        case 's': o.size = (size_t)opt_size("--size", optarg, 1, VSOK_MAX_PAYLOAD); break;
        case O_PATTERN:
            if (!*optarg || strlen(optarg) > VSOK_MAX_PAYLOAD)
                bad_value("--pattern", optarg, "a payload is 1 to 1048576 bytes");
            o.pattern = optarg;
            break;
        case 'c': o.conns = (unsigned)opt_count("--conns", optarg, 1, 1u << 20); break;
        case O_MAXCONNS: max_conns = (unsigned)opt_count("--max-conns", optarg, 1, 1u << 30); break;
        case O_MAXPAYLOAD:
            o.max_payload = (size_t)opt_size("--max-payload", optarg, 1, VSOK_MAX_PAYLOAD);
            break;
        case O_IDLE: o.idle_ms = opt_dur("--idle-timeout", optarg); break;
        case O_MSGTO: o.msg_ms = opt_dur("--msg-timeout", optarg); break;
        case O_WRITETO: o.write_ms = opt_dur("--write-timeout", optarg); break;
        case O_LINGER: o.linger_ms = opt_dur("--linger", optarg); break;
        case O_DRAIN: o.drain_ms = opt_dur("--drain-timeout", optarg); break;
        case O_CONNTO: o.connect_ms = opt_dur("--connect-timeout", optarg); break;
        case O_HIGHWATER: o.high_water = (size_t)opt_size("--high-water", optarg, 0, 1ull << 32); break;
        case O_BACKLOG: o.backlog = (int)opt_count("--backlog", optarg, 0, 1u << 20); break;
        case O_BUSYPOLL: {
            int64_t us;
            char why[256];
            if (cli_parse_duration_us(optarg, 0, BUSY_POLL_MAX_US, &us, why, sizeof why) != 0)
                bad_value("--busy-poll", optarg, why);
            o.busy_poll_us = us;
            break;
        }
        case O_KEEPGOING: o.keep_going = 1; break;
        case 'f': {
            static const char *const fmts[] = {"raw", "hex", "json", NULL};
            static const recv_fmt fv[] = {FMT_RAW, FMT_HEX, FMT_JSON};
            o.fmt = fv[opt_choice("--format", optarg, fmts)];
            break;
        }
        case 'l': o.lines = 1; break;
        case 'r': o.replies = 1; break;
        case O_LISTEN: o.listen = 1; break;
        case O_PORTFILE: o.port_file = optarg; break;
        case O_READYFD:
            o.ready_fd = (int)opt_count("--ready-fd", optarg, 0, INT_MAX);
            if (fcntl(o.ready_fd, F_GETFD) < 0)
                bad_value("--ready-fd", optarg, "not an open descriptor");
            break;
        case 'v': verbosity++; break;
        case 'q': verbosity--; break;
        case O_LOGFMT: {
            static const char *const lfmts[] = {"text", "json", NULL};
            json = opt_choice("--log-format", optarg, lfmts);
            break;
        }
        case 'h': fputs(help_text, stdout); return EXIT_OK;
        case O_VERSION: printf("vsok-peer %s\n", VSOK_VERSION_STRING); return EXIT_OK;
        default: /* getopt has printed the line naming the option */ return EXIT_USAGE;
        }
    }
    log_setup(verbosity, json);
    if (optind >= argc)
        usage_error("%s", "missing command (listen, connect, relay, send, recv, stdio)");
    const char *cmd = argv[optind];
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;

    if (!count_set)
        o.count = !strcmp(cmd, "recv") ? 0 : 1;
    if (o.mode == MODE_SOURCE && o.count == 0)
        usage_error("%s", "--mode source needs --count of at least 1");
    o.low_water = o.high_water / 4;
    /* descriptors for listener, epoll, signalfd, spare, stdio and a margin */
    if (nofile > 64 && max_conns > nofile - 64) {
        plog(LOG_INFO, "limit", "max_conns=%u reason=\"RLIMIT_NOFILE is %u\"", nofile - 64, nofile);
        max_conns = nofile - 64;
    }
    o.max_conns = max_conns;
    int loop_cmd = !strcmp(cmd, "listen") || !strcmp(cmd, "relay") || !strcmp(cmd, "connect");
    if (o.idle_ms < 0)
        o.idle_ms = loop_cmd && strcmp(cmd, "connect") ? 300000 : 0;
    if (!strcmp(cmd, "relay"))
        o.max_conns = max_conns / 2; /* two descriptors per pair */

    if (loop_cmd)
        return run_loop_mode(&o, cmd, args, nargs);
    if (!strcmp(cmd, "send")) {
        need_args(nargs, 1, -1, cmd);
        return client_send(&o, args[0], args + 1, nargs - 1);
    }
    if (!strcmp(cmd, "recv")) {
        need_args(nargs, 1, 1, cmd);
        return client_recv(&o, args[0]);
    }
    if (!strcmp(cmd, "stdio") || !strcmp(cmd, "echo-stdio")) {
        need_args(nargs, 0, 0, cmd);
        return client_stdio(&o);
    }
    usage_error("unknown command '%s'", cmd);
    return EXIT_USAGE;
}
