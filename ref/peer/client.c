/* SPDX-License-Identifier: MIT */
/* client.c - the one-connection modes: send, recv, stdio.  Blocking I/O
 * through the library's own helpers: these are what a user's program would
 * call. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "stats.h"

/* Connects to addr, or (with --listen or a *-LISTEN spelling) accepts one
 * connection on it.  Returns a blocking fd or -1 with *code set. */
static int open_one(const peer_opts *o, const char *text, int *code)
{
    vsok_addr a;
    char err[256], q[600];
    if (peer_parse_addr(&a, text) != 0) {
        *code = EXIT_USAGE;
        return -1;
    }
    *code = EXIT_SETUP;
    if (a.kind == VSOK_ADDR_FD && !o->listen)
        return a.fd;
    int fd = -1;
    if (o->listen || a.listen_hint) {
        int lfd;
        if (vsok_addr_listen(&a, 1, &lfd) != VSOK_OK) {
            plog(LOG_ERROR, "listen", "address=%s error=%s", log_q(q, sizeof q, text),
                 log_q(err, sizeof err, strerror(errno)));
            return -1;
        }
        if (peer_announce(o, lfd) != 0) {
            close(lfd);
            return -1;
        }
        int timeout = o->idle_ms <= 0 ? -1 : o->idle_ms > INT_MAX ? INT_MAX : (int)o->idle_ms;
        vsok_err e = vsok_addr_accept(lfd, timeout, &fd);
        if (e == VSOK_E_IO)
            plog(LOG_ERROR, "accept", "error=%s", log_q(q, sizeof q, strerror(errno)));
        else if (e != VSOK_OK)
            plog(LOG_ERROR, "accept", "error=%s", vsok_errname(e));
        if (a.kind == VSOK_ADDR_UNIX && !a.abstract)
            unlink(a.path);
        close(lfd);
        return fd;
    }
    return peer_connect_addr(o, &a, text);
}

/* open_one, wrapped in a socket handle with the configured limits. */
static vsok_socket *open_socket(const peer_opts *o, const char *addr, int timeout_ms, int *code)
{
    vsok_socket *s;
    int fd = open_one(o, addr, code);
    if (fd < 0)
        return NULL;
    if (vsok_socket_open(&s, fd, NULL) != VSOK_OK) { /* fd closed by the handle */
        *code = EXIT_IO;
        return NULL;
    }
    if (vsok_socket_set_max_payload(s, o->max_payload) != VSOK_OK) {
        vsok_socket_close(s);
        *code = EXIT_IO;
        return NULL;
    }
    if (timeout_ms > 0)
        vsok_socket_set_timeout(s, timeout_ms);
    *code = EXIT_OK;
    return s;
}

static int err_code(vsok_err e)
{
    switch (e) {
    case VSOK_E_MAGIC:
    case VSOK_E_LENGTH:
    case VSOK_E_TOO_LARGE:
    case VSOK_E_TRUNCATED: return EXIT_PROTO;
    default: return EXIT_IO;
    }
}

static void print_msg(const peer_opts *o, uint64_t seq, const vsok_msg *m)
{
    static const char hex[] = "0123456789abcdef";
    if (o->fmt == FMT_RAW) {
        fwrite(m->data, 1, m->len, stdout);
        return;
    }
    if (o->fmt == FMT_HEX) {
        for (size_t i = 0; i < m->len; i++) {
            putchar(hex[m->data[i] >> 4]);
            putchar(hex[m->data[i] & 15]);
        }
        putchar('\n');
        return;
    }
    printf("{\"seq\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"len\":%zu,\"hex\":\"", seq, m->offset, m->len);
    int text = 1;
    for (size_t i = 0; i < m->len; i++) {
        uint8_t b = m->data[i];
        putchar(hex[b >> 4]);
        putchar(hex[b & 15]);
        if ((b < 0x20 && b != '\n' && b != '\t' && b != '\r') || b >= 0x7f)
            text = 0;
    }
    putchar('"');
    if (text) {
        fputs(",\"text\":\"", stdout);
        for (size_t i = 0; i < m->len; i++) {
            uint8_t b = m->data[i];
            if (b == '"' || b == '\\')
                printf("\\%c", b);
            else if (b < 0x20)
                printf("\\u%04x", b);
            else
                putchar(b);
        }
        putchar('"');
    }
    fputs("}\n", stdout);
}

/* Prints messages from s until end of stream or limit (0 = none). */
static int recv_loop(const peer_opts *o, vsok_socket *s, uint64_t limit, int print)
{
    uint64_t seq = 0;
    for (;;) {
        if (limit && seq >= limit)
            return EXIT_OK;
        vsok_msg m;
        vsok_err e = vsok_socket_recv(s, &m);
        if (e == VSOK_E_EOF)
            return EXIT_OK;
        if (e != VSOK_OK) {
            int en = errno;
            const char *name = e == VSOK_E_IO ? peer_errno_name(en) : NULL;
            g_stats.errors[e]++;
            plog(LOG_ERROR, "protocol-error", "error=%s offset=%" PRIu64 " messages=%" PRIu64 "%s%s",
                 vsok_errname(e), vsok_socket_error_offset(s), seq, name ? " errno=" : "", name ? name : "");
            return err_code(e);
        }
        seq++;
        g_stats.msgs_in++;
        g_stats.bytes_in += m.len + VSOK_HEADER_SIZE;
        if (print) {
            print_msg(o, seq, &m);
            if (o->fmt != FMT_RAW || seq % 64 == 0)
                fflush(stdout);
        }
    }
}

int client_recv(const peer_opts *o, const char *addr)
{
    int code;
    vsok_socket *s = open_socket(o, addr, (int)o->idle_ms, &code);
    if (!s)
        return code;
    code = recv_loop(o, s, o->count, 1);
    fflush(stdout);
    vsok_socket_close(s);
    return code;
}

/* Reads all of f (at most max bytes; *len = max + 1 means more). */
static uint8_t *slurp(FILE *f, size_t max, size_t *len)
{
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        if (n == cap) {
            if (cap > max)
                break;
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0 || n > max)
            break;
    }
    *len = n > max ? max + 1 : n;
    return b;
}

static int send_one(vsok_socket *s, const char *what, const uint8_t *p, size_t n, size_t max)
{
    char q[600];
    if (n == 0 || n > max) {
        plog(LOG_ERROR, "send", "input=%s error=%s reason=%s", log_q(q, sizeof q, what),
             vsok_errname(n ? VSOK_E_TOO_LARGE : VSOK_E_LENGTH),
             n ? "\"message larger than --max-payload\""
               : "\"empty message (payloads are 1..1048576 bytes)\"");
        return EXIT_USAGE;
    }
    vsok_err e = vsok_socket_write_message(s, p, n);
    if (e != VSOK_OK) {
        plog(LOG_ERROR, "send", "input=%s error=%s", log_q(q, sizeof q, what), vsok_errname(e));
        return EXIT_IO;
    }
    g_stats.msgs_out++;
    g_stats.bytes_out += n + VSOK_HEADER_SIZE;
    return EXIT_OK;
}

int client_send(const peer_opts *o, const char *addr, char **files, int nfiles)
{
    static char *dash[] = {"-"};
    if (nfiles == 0) {
        files = dash;
        nfiles = 1;
    }
    int code;
    vsok_socket *s = open_socket(o, addr, (int)o->write_ms, &code);
    if (!s)
        return code;
    for (int i = 0; i < nfiles && code == EXIT_OK; i++) {
        FILE *f = strcmp(files[i], "-") ? fopen(files[i], "rb") : stdin;
        if (!f) {
            char q[600], e[300];
            plog(LOG_ERROR, "send", "input=%s error=%s", log_q(q, sizeof q, files[i]),
                 log_q(e, sizeof e, strerror(errno)));
            code = EXIT_USAGE;
            break;
        }
        if (o->lines) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t n;
            while (code == EXIT_OK && (n = getline(&line, &cap, f)) >= 0) {
                if (n && line[n - 1] == '\n')
                    n--;
                if (n == 0)
                    continue; /* an empty line cannot be a message */
                code = send_one(s, files[i], (uint8_t *)line, (size_t)n, o->max_payload);
            }
            free(line);
        } else {
            size_t n;
            uint8_t *b = slurp(f, o->max_payload, &n);
            code = b ? send_one(s, files[i], b, n, o->max_payload) : EXIT_IO;
            free(b);
        }
        if (f != stdin)
            fclose(f);
    }
    /* Half-close, then read until the peer closes: closing with its echoes
     * unread could make our kernel reset the connection under them. */
    if (code == EXIT_OK) {
        if (vsok_socket_shutdown_write(s) != VSOK_OK) {
            code = EXIT_IO;
        } else {
            vsok_socket_set_timeout(s, o->idle_ms > 0 ? (int)o->idle_ms : 10000);
            int rc = recv_loop(o, s, 0, o->replies);
            fflush(stdout);
            if (rc != EXIT_OK)
                code = rc;
        }
    }
    vsok_socket_close(s);
    return code;
}

int client_stdio(const peer_opts *o)
{
    vsok_decoder *d = vsok_decoder_new(o->max_payload);
    uint8_t *buf = malloc(65536);
    int code = EXIT_IO;
    if (!d || !buf)
        goto out;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && vsok_wait_fd(STDIN_FILENO, POLLIN,
                                                o->idle_ms > 0 ? vsok_now_ms() + o->idle_ms : -1) == VSOK_OK)
                continue;
            plog(LOG_ERROR, "io-error", "op=read error=Io errno=%s", peer_errno_name(errno));
            goto out;
        }
        if (n == 0) {
            vsok_err e = vsok_decoder_finish(d);
            if (e == VSOK_E_EOF) {
                code = EXIT_OK;
                shutdown(STDOUT_FILENO, SHUT_WR); /* a socket: tell the peer now */
            } else {
                plog(LOG_ERROR, "protocol-error", "error=%s offset=%" PRIu64, vsok_errname(e),
                     vsok_decoder_error_offset(d));
                code = EXIT_PROTO;
            }
            goto out;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used;
            vsok_msg m;
            vsok_err e = vsok_decoder_feed(d, buf + off, (size_t)n - off, &used, &m);
            off += used;
            if (e == VSOK_E_AGAIN)
                break;
            if (e != VSOK_OK) {
                plog(LOG_ERROR, "protocol-error", "error=%s offset=%" PRIu64, vsok_errname(e),
                     vsok_decoder_error_offset(d));
                code = e == VSOK_E_NOMEM ? EXIT_IO : EXIT_PROTO;
                goto out;
            }
            if (vsok_write_message(STDOUT_FILENO, m.data, m.len) != VSOK_OK) {
                plog(LOG_ERROR, "io-error", "op=write error=Io errno=%s", peer_errno_name(errno));
                goto out;
            }
        }
    }
out:
    vsok_decoder_free(d);
    free(buf);
    return code;
}
