/* SPDX-License-Identifier: MIT */
/* test_logs.c - what vsok-peer's log lines say: the address parser's own
 * explanation of a bad address, and refusal summaries that add up to every
 * refusal. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"

TestSuite(logs, .timeout = 120);

/* Runs vsok-peer with args (no --ready-fd), returns its exit status and
 * (in *log) its stderr. */
static int run_peer(const char *const *args, char **log)
{
    tpeer p;
    tpeer_startv(&p, 0, -1, -1, args);
    int rc = tpeer_wait(&p, T_IO_MS);
    if (rc < 0)
        tpeer_stop(&p);
    *log = tpeer_log(&p);
    unlink(p.log);
    return rc;
}

/* The sentence vsok_addr_parse gives for text, as a quoted log value. */
static void parser_sentence(const char *text, char *out, size_t len)
{
    vsok_addr a;
    char err[256];
    cr_assert_neq(vsok_addr_parse(&a, text, err, sizeof err), VSOK_OK, "'%s' parses", text);
    cr_assert_null(strchr(err, '"'), "the sentence needs no escaping: %s", err);
    snprintf(out, len, "reason=\"%s\"", err);
}

static void bad_address_is_explained(const char *const *args, const char *addr)
{
    char want[400], *log;
    parser_sentence(addr, want, sizeof want);
    int rc = run_peer(args, &log);
    cr_expect_eq(rc, 2, "a malformed address is a usage error (exit 2), got %d:\n%s", rc, log);
    cr_expect_not_null(strstr(log, want), "the log does not carry the parser's sentence %s:\n%s", want, log);
    cr_expect_not_null(strstr(log, "error=InvalidAddress"), "%s", log);
    free(log);
}

Test(logs, bad_listen_address_logs_the_parsers_sentence)
{
    const char *args[] = {"listen", "tcp:nope", NULL};
    bad_address_is_explained(args, "tcp:nope");
}

Test(logs, bad_port_logs_the_parsers_sentence)
{
    const char *args[] = {"listen", "tcp:127.0.0.1:99999", NULL};
    bad_address_is_explained(args, "tcp:127.0.0.1:99999");
}

Test(logs, bad_connect_send_recv_and_relay_addresses_log_the_parsers_sentence)
{
    const char *c[] = {"connect", "vsock:x:1", NULL};
    bad_address_is_explained(c, "vsock:x:1");
    const char *s[] = {"send", "bogus:1", NULL};
    bad_address_is_explained(s, "bogus:1");
    const char *r[] = {"recv", "unix:", NULL};
    bad_address_is_explained(r, "unix:");
    const char *rl[] = {"relay", "tcp:127.0.0.1:0", "tcp::", NULL};
    bad_address_is_explained(rl, "tcp::");
}

/* A well-formed target that does not resolve, whose quoted host is longer
 * than the 300 bytes the reason was once written at inside the same buffer. */
Test(logs, unresolvable_long_relay_target_is_logged_whole)
{
    char host[256], target[300], want[600], *log;
    size_t n = 0;
    for (; n + 2 < 241; n += 2)
        memcpy(host + n, "a\\", 2);
    host[n] = 0;
    snprintf(target, sizeof target, "tcp:%s:1", host);
    vsok_addr a;
    cr_assert_eq(vsok_addr_parse(&a, target, NULL, 0), VSOK_OK, "%s", target);
    size_t o = snprintf(want, sizeof want, "target=\"");
    for (const char *c = host; *c; c++) {
        if (*c == '\\')
            want[o++] = '\\';
        want[o++] = *c;
    }
    snprintf(want + o, sizeof want - o, "\" error=InvalidAddress reason=\"");
    cr_assert_gt(strlen(want), 300);
    const char *args[] = {"relay", "tcp:127.0.0.1:0", target, NULL};
    int rc = run_peer(args, &log);
    cr_expect_neq(rc, 0, "an unresolvable target must not start the relay:\n%s", log);
    cr_expect_not_null(strstr(log, want), "want %s in:\n%s", want, log);
    free(log);
}

Test(logs, bad_address_in_json_logs_the_parsers_sentence)
{
    vsok_addr a;
    char err[256], want[400], *log;
    cr_assert_neq(vsok_addr_parse(&a, "tcp:nope", err, sizeof err), VSOK_OK);
    snprintf(want, sizeof want, "\"reason\":\"%s\"", err);
    const char *args[] = {"--log-format", "json", "listen", "tcp:nope", NULL};
    cr_expect_eq(run_peer(args, &log), 2);
    cr_expect_not_null(strstr(log, want), "want %s in:\n%s", want, log);
    free(log);
}

Test(logs, json_log_keeps_utf8_and_replaces_bytes_that_are_not)
{
    /* a well-formed address whose path holds "caf\u00e9" and a lone 0xff byte */
    char *log;
    const char *args[] = {"--log-format", "json", "listen", "unix:/nonexistent-vsok-dir/caf\xc3\xa9\xff.sock",
                          NULL};
    cr_expect_eq(run_peer(args, &log), 3);
    cr_expect_not_null(strstr(log, "caf\xc3\xa9\\ufffd.sock"), "want caf\u00e9 then U+FFFD in:\n%s", log);
    cr_expect_null(strchr(log, '\xff'), "a raw 0xff byte makes the line invalid JSON:\n%s", log);
    free(log);
}

/* Sum of count= over every "refused" line. */
static long long refused_logged(const char *log)
{
    long long sum = 0;
    for (const char *q = log; (q = strstr(q, " refused reason=")); q++) {
        const char *nl = strchr(q, '\n');
        char *line = strndup(q, nl ? (size_t)(nl - q) : strlen(q));
        long long n = tfield(line, "count");
        cr_expect_geq(n, 1, "refused line without a count: %s", line);
        sum += n;
        free(line);
    }
    return sum;
}

Test(logs, refusal_summaries_count_every_refused_connection)
{
    tpeer p;
    char addr[128];
    tunix_addr(addr, sizeof addr);
    tpeer_start(&p, "--max-conns", "1", "listen", addr, NULL);
    int held = tconnect(p.addr);
    /* an exchange makes sure the peer has accepted it */
    cr_assert_eq(vsok_write_message(held, "x", 1), VSOK_OK);
    uint8_t *m;
    size_t n;
    cr_assert_eq(vsok_read_message(held, &m, &n), VSOK_OK);
    free(m);
    /* a burst of refusals, well inside the one-line-per-second limit */
    enum { N = 7 };
    for (int i = 0; i < N; i++) {
        int fd = tconnect(p.addr);
        cr_expect(texpect_end(fd, T_IO_MS), "connection %d over --max-conns not closed", i);
        close(fd);
    }
    close(held);
    cr_expect_eq(tpeer_stop(&p), 0);
    char *log = tpeer_log(&p);
    const char *exit_line = strstr(log, " exit ");
    cr_assert_not_null(exit_line, "%s", log);
    cr_expect_eq(tfield(exit_line, "refused"), N, "%s", log);
    cr_expect_eq(refused_logged(log), N, "the refused lines do not add up to the %d refusals:\n%s", N, log);
    free(log);
    unlink(p.log);
}
