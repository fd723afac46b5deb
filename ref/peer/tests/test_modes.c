/* SPDX-License-Identifier: MIT */
/* test_modes.c - the other roles of vsok-peer: stdio (exec role), connect
 * (client role), source and sink, send and recv, and the command line. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

#include "harness.h"

TestSuite(modes, .timeout = 120);

static int run_stdio(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    tpeer p;
    const char *args[] = {"stdio", NULL};
    tpeer_startv(&p, 0, sv[1], sv[1], args);
    close(sv[1]);
    cr_assert_eq(texchange(sv[0], in, n, out, outlen), 0, "stdio peer never ended the stream");
    close(sv[0]);
    int rc = tpeer_wait(&p, T_IO_MS);
    cr_assert_geq(rc, 0, "stdio peer did not exit");
    return rc;
}

Test(modes, stdio_echoes_frames_and_exits_0_at_clean_end)
{
    uint8_t in[3 * 8 + 1 + 5 + 70000];
    uint8_t *pay = malloc(70000);
    tfill(pay, 70000, 3);
    tframe(in, "a", 1);
    tframe(in + 9, "hello", 5);
    tframe(in + 22, pay, 70000);
    uint8_t *out;
    size_t n;
    cr_expect_eq(run_stdio(in, sizeof in, &out, &n), 0);
    cr_expect_eq(n, sizeof in);
    cr_expect(n == sizeof in && memcmp(out, in, n) == 0);
    free(out);
    free(pay);
}

Test(modes, stdio_exits_1_on_protocol_error_without_echoing_it)
{
    uint8_t in[9 + 8];
    tframe(in, "z", 1);
    memcpy(in + 9, "VSOK\xff\xff\xff\xff", 8);
    uint8_t *out;
    size_t n;
    cr_expect_eq(run_stdio(in, sizeof in, &out, &n), 1);
    cr_expect_eq(n, 9, "only the valid frame is echoed");
    free(out);
    cr_expect_eq(run_stdio((const uint8_t *)"VSOK\0\0\0\x05"
                                            "ab",
                           10, &out, &n),
                 1, "truncated");
    free(out);
}

static int connect_role(const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
    char addr[128], err[256];
    int lfd;
    tunix_addr(addr, sizeof addr);
    cr_assert_eq(vsok_listen(addr, 4, &lfd, err, sizeof err), VSOK_OK, "%s", err);
    tpeer p;
    const char *args[] = {"connect", addr, NULL};
    tpeer_startv(&p, 0, -1, -1, args);
    struct pollfd pf = {lfd, POLLIN, 0};
    cr_assert_gt(poll(&pf, 1, T_IO_MS), 0, "vsok-peer connect never connected");
    int fd = accept(lfd, NULL, NULL);
    cr_assert_geq(fd, 0);
    close(lfd);
    cr_assert_eq(texchange(fd, in, n, out, outlen), 0);
    close(fd);
    return tpeer_wait(&p, T_IO_MS);
}

Test(modes, connect_echoes_as_client_and_exits_0_when_closed)
{
    uint8_t in[9 + 12];
    tframe(in, "1", 1);
    tframe(in + 9, "1234", 4);
    uint8_t *out;
    size_t n;
    cr_expect_eq(connect_role(in, 9 + 12, &out, &n), 0);
    cr_expect_eq(n, 21);
    cr_expect(n == 21 && memcmp(out, in, 21) == 0);
    free(out);
}

Test(modes, connect_exits_1_on_protocol_error)
{
    uint8_t in[9 + 8];
    tframe(in, "z", 1);
    memcpy(in + 9, "VSOK\0\0\0\0", 8);
    uint8_t *out;
    size_t n;
    cr_expect_eq(connect_role(in, sizeof in, &out, &n), 1);
    cr_expect_eq(n, 9);
    free(out);
}

Test(modes, source_into_echo_gets_every_message_back_and_sink_counts)
{
    char addr[128];
    tpeer echo, sink, src;
    tunix_addr(addr, sizeof addr);
    tpeer_start(&echo, "listen", addr, NULL);
    const char *a1[] = {"connect", "--mode",  "source", "--count", "3000", "--size",
                        "1000",    "--conns", "4",      echo.addr, NULL};
    tpeer_startv(&src, 0, -1, -1, a1);
    cr_expect_eq(tpeer_wait(&src, T_IO_MS), 0);
    char *log = tpeer_log(&src);
    /* 4 connections x 3000 messages out, all echoed back in */
    cr_expect_not_null(strstr(log, " msgs_in=12000 msgs_out=12000 "), "%s", log);
    free(log);
    tpeer_stop(&echo);

    tpeer_start(&sink, "--mode", "sink", "listen", "tcp:127.0.0.1:0", NULL);
    const char *a2[] = {"connect",   "--mode", "source",  "--count", "500",
                        "--pattern", "hello",  sink.addr, NULL};
    tpeer_startv(&src, 0, -1, -1, a2);
    cr_expect_eq(tpeer_wait(&src, T_IO_MS), 0);
    cr_expect_eq(tpeer_stop(&sink), 0);
    log = tpeer_log(&sink);
    cr_expect_not_null(strstr(log, " exit conns=1 "), "%s", log);
    cr_expect_not_null(strstr(log, " msgs_in=500 msgs_out=0 bytes_in=6500 bytes_out=0 "), "%s", log);
    free(log);
}

Test(modes, listen_source_sends_count_messages_then_half_closes)
{
    tpeer p;
    tpeer_start(&p, "--mode", "source", "--count", "5", "--size", "70000", "listen", "tcp:127.0.0.1:0", NULL);
    int fd = tconnect(p.addr);
    for (int i = 0; i < 5; i++) {
        uint8_t *m;
        size_t n;
        cr_assert_eq(vsok_read_message(fd, &m, &n), VSOK_OK, "message %d", i);
        cr_expect_eq(n, 70000);
        cr_expect(m[0] == 'a' && m[25] == 'z' && m[26] == 'a');
        free(m);
    }
    uint8_t *m;
    size_t n;
    cr_expect_eq(vsok_read_message(fd, &m, &n), VSOK_E_EOF, "source did not half-close after 5");
    /* what we send is checked and discarded */
    cr_assert_eq(vsok_write_message(fd, "ignored", 7), VSOK_OK);
    shutdown(fd, SHUT_WR);
    cr_expect(texpect_end(fd, T_IO_MS));
    close(fd);
    char *st = tpeer_stats(&p);
    cr_expect_eq(tfield(st, "msgs_out"), 5, "%s", st);
    cr_expect_eq(tfield(st, "msgs_in"), 1, "%s", st);
    free(st);
    cr_expect_eq(tpeer_stop(&p), 0);
}

Test(modes, send_and_recv_over_a_listening_recv)
{
    char addr[128];
    tunix_addr(addr, sizeof addr);
    int out[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    tpeer rcv;
    const char *ra[] = {"recv", "--listen", "--format", "json", addr, NULL};
    tpeer_startv(&rcv, 1, -1, out[1], ra);
    close(out[1]);
    int in[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    tpeer snd;
    const char *sa[] = {"send", "--lines", rcv.addr, "-", NULL};
    tpeer_startv(&snd, 0, in[0], -1, sa);
    close(in[0]);
    const char text[] = "first\n\nsecond \"q\"\n";
    cr_assert_eq(write(in[1], text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(in[1]);
    cr_expect_eq(tpeer_wait(&snd, T_IO_MS), 0);
    cr_expect_eq(tpeer_wait(&rcv, T_IO_MS), 0);
    char buf[1024];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(out[0]);
    cr_expect_str_eq(buf, "{\"seq\":1,\"offset\":0,\"len\":5,\"hex\":\"6669727374\",\"text\":\"first\"}\n"
                          "{\"seq\":2,\"offset\":13,\"len\":10,\"hex\":\"7365636f6e6420227122\","
                          "\"text\":\"second \\\"q\\\"\"}\n");
}

static int run_cli(const char *const *args, char **out_log)
{
    tpeer p;
    int out[2];
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    tpeer_startv(&p, 0, -1, out[1], args);
    close(out[1]);
    char *buf = malloc(65536);
    size_t n = 0;
    ssize_t r;
    while (n < 65535 && (r = read(out[0], buf + n, 65535 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(out[0]);
    int rc = tpeer_wait(&p, T_IO_MS);
    char *log = tpeer_log(&p);
    if (out_log) {
        *out_log = malloc(n + strlen(log) + 1);
        strcpy(*out_log, buf);
        strcat(*out_log, log);
    }
    free(log);
    free(buf);
    return rc;
}

Test(modes, help_reads_like_a_man_page_and_exit_codes_are_distinct)
{
    char *o;
    const char *h[] = {"--help", NULL};
    cr_expect_eq(run_cli(h, &o), 0);
    const char *sections[] = {"NAME",         "SYNOPSIS",     "DESCRIPTION",       "COMMANDS",
                              "OPTIONS",      "EXIT STATUS",  "SIGNALS",           "EXAMPLES",
                              "listen ADDR",  "connect ADDR", "relay LISTEN_ADDR", "stdio",
                              "--log-format", "--ready-fd"};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        cr_expect_not_null(strstr(o, sections[i]), "--help lacks %s", sections[i]);
    free(o);
    const char *u1[] = {"frobnicate", NULL};
    cr_expect_eq(run_cli(u1, NULL), 2);
    const char *u2[] = {"--mode", "nonsense", "listen", "tcp:127.0.0.1:0", NULL};
    cr_expect_eq(run_cli(u2, NULL), 2);
    const char *u3[] = {"listen", "nonsense:1", NULL};
    cr_expect_eq(run_cli(u3, &o), 2);
    cr_expect_not_null(strstr(o, "InvalidAddress"), "%s", o);
    free(o);
    /* a port nobody listens on: connect fails, exit 3 */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    cr_assert_eq(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t sl = sizeof sin;
    getsockname(s, (struct sockaddr *)&sin, &sl);
    char a[64];
    snprintf(a, sizeof a, "tcp:127.0.0.1:%u", ntohs(sin.sin_port));
    const char *u4[] = {"recv", a, NULL};
    cr_expect_eq(run_cli(u4, NULL), 3);
    close(s);
}
