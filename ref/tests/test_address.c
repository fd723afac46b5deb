/* SPDX-License-Identifier: MIT */
/* Tests for vsok/address.h: parsing every spelling and every malformed
 * address, canonical formatting, and real connect/listen over loopback TCP
 * and Unix sockets in private temporary directories.
 *
 * SAFETY: AF_VSOCK is exercised through parse and format only; no vsock
 * socket is ever created here (vsock traffic on a host goes to the
 * hypervisor).  The qemu guest of scripts/vm-test covers vsock connect.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_snd_wnd, TCP_NODELAY */
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "vsok/address.h"

/* Every wait in these tests is bounded by this, so a bug shows up as a
 * failure rather than a hung test run. */
#define WAIT_MS 5000

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static vsok_addr parse_ok(const char *text)
{
    vsok_addr a;
    char err[256] = "untouched";
    vsok_err e = vsok_addr_parse(&a, text, err, sizeof err);
    cr_assert_eq(e, VSOK_OK, "parse of '%s' failed: %s", text, err);
    cr_assert_str_eq(err, "", "a successful parse leaves err empty, got '%s'", err);
    return a;
}

static void parse_fails(const char *text, const char *needle)
{
    vsok_addr a;
    char err[256] = "";
    vsok_err e = vsok_addr_parse(&a, text, err, sizeof err);
    cr_assert_eq(e, VSOK_E_ADDRESS, "parse of '%s' should fail with VSOK_E_ADDRESS, got %d", text, (int)e);
    cr_assert(strstr(err, needle) != NULL, "error for '%s' should mention '%s', got: %s", text, needle, err);
}

static void tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/vsok-addr-XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

/* Removes what the tests created; leftovers in /tmp are harmless, so
 * failures here are ignored on purpose. */
static void rmtree(const char *dir, const char *name)
{
    char p[512];
    if (name) {
        snprintf(p, sizeof p, "%s/%s", dir, name);
        (void)unlink(p);
    }
    (void)rmdir(dir);
}

static int accept_within(int lfd)
{
    struct pollfd pfd = {.fd = lfd, .events = POLLIN, .revents = 0};
    cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1, "no connection to accept within %d ms", WAIT_MS);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(fd, 0, "accept: %s", strerror(errno));
    return fd;
}

/* Bytes written on one end arrive on the other: the pair is really
 * connected, not merely "connect returned 0". */
static void assert_connected(int a, int b)
{
    char buf[8] = {0};
    cr_assert_eq(write(a, "ping", 4), 4, "write: %s", strerror(errno));
    struct pollfd pfd = {.fd = b, .events = POLLIN, .revents = 0};
    cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1, "peer got nothing within %d ms", WAIT_MS);
    cr_assert_eq(read(b, buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "ping");
}

static void assert_flags(int fd, int want_nonblock)
{
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    cr_assert_geq(fl, 0);
    cr_assert_geq(fdfl, 0);
    cr_assert_eq(!!(fl & O_NONBLOCK), want_nonblock, "O_NONBLOCK is %s", (fl & O_NONBLOCK) ? "set" : "clear");
    cr_assert(fdfl & FD_CLOEXEC, "fd must be close-on-exec");
}

/* ------------------------------------------------------------------------ */
/* Parsing: every form                                                       */

static void parses_as_vsock(const char *text, uint32_t cid, uint32_t port, int listen_hint)
{
    vsok_addr a = parse_ok(text);
    cr_assert_eq(a.kind, VSOK_ADDR_VSOCK, "%s", text);
    cr_assert_eq(a.cid, cid, "%s: cid %u", text, (unsigned)a.cid);
    cr_assert_eq(a.port, port, "%s: port %u", text, (unsigned)a.port);
    cr_assert_eq(a.listen_hint, listen_hint, "%s", text);
}

Test(parse, vsock_numeric_cid_and_port) { parses_as_vsock("vsock:3:5000", 3, 5000, 0); }

Test(parse, vsock_cid_names)
{
    cr_assert_eq(parse_ok("vsock:any:1").cid, VSOK_CID_ANY);
    cr_assert_eq(parse_ok("vsock:-1:1").cid, VSOK_CID_ANY);
    cr_assert_eq(parse_ok("vsock:local:1").cid, VSOK_CID_LOCAL);
    cr_assert_eq(parse_ok("vsock:host:1").cid, VSOK_CID_HOST);
    cr_assert_eq(parse_ok("vsock:parent:1").cid, VSOK_CID_PARENT);
    cr_assert_eq(parse_ok("VSOCK:HOST:1").cid, VSOK_CID_HOST);
}

Test(parse, vsock_accepts_full_u32_range)
{
    parses_as_vsock("vsock:4294967295:4294967295", 4294967295u, 4294967295u, 0);
    parses_as_vsock("vsock:0:0", 0, 0, 0);
}

Test(parse, leading_zeros_are_still_decimal)
{
    vsok_addr a = parse_ok("tcp:127.0.0.1:0000000000000080");
    cr_assert_eq(a.port, 80u);
}

static void parses_as_unix(const char *text, const char *path, int abstract, int listen_hint)
{
    vsok_addr a = parse_ok(text);
    cr_assert_eq(a.kind, VSOK_ADDR_UNIX, "%s", text);
    cr_assert_str_eq(a.path, path, "%s", text);
    cr_assert_eq(a.abstract, abstract, "%s", text);
    cr_assert_eq(a.listen_hint, listen_hint, "%s", text);
}

Test(parse, unix_path) { parses_as_unix("unix:/run/agent.sock", "/run/agent.sock", 0, 0); }

Test(parse, unix_path_keeps_colons) { parses_as_unix("unix:rel/a:b:c", "rel/a:b:c", 0, 0); }

Test(parse, unix_abstract_name) { parses_as_unix("unix:@vsok-agent", "vsok-agent", 1, 0); }

Test(parse, unix_path_of_107_bytes_fits)
{
    char text[128] = "unix:";
    memset(text + 5, 'p', 107);
    text[5 + 107] = '\0';
    cr_assert_eq(strlen(parse_ok(text).path), 107u);
}

/* IPv6 hosts come bracketed or bare (split at the last colon); brackets
 * are not part of the stored host.  An fc port follows the LAST colon, so
 * the socket path may contain colons. */
Test(parse, tcp_and_fc_forms)
{
    static const struct {
        const char *text;
        vsok_addr_kind kind;
        const char *name; /* host for tcp, path for fc */
        uint32_t port;
    } cases[] = {
        {"tcp:127.0.0.1:8080", VSOK_ADDR_TCP, "127.0.0.1", 8080},
        {"tcp:[::1]:80", VSOK_ADDR_TCP, "::1", 80},
        {"tcp:::1:80", VSOK_ADDR_TCP, "::1", 80},
        {"tcp:fe80::1%lo:22", VSOK_ADDR_TCP, "fe80::1%lo", 22},
        {"tcp:localhost:0", VSOK_ADDR_TCP, "localhost", 0},
        {"tcp:h:65535", VSOK_ADDR_TCP, "h", 65535},
        {"fc:/tmp/v.sock:5000", VSOK_ADDR_FC, "/tmp/v.sock", 5000},
        {"fc:/tmp/a:b.sock:52", VSOK_ADDR_FC, "/tmp/a:b.sock", 52},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vsok_addr a = parse_ok(cases[i].text);
        cr_assert_eq(a.kind, cases[i].kind, "%s", cases[i].text);
        cr_assert_str_eq(a.kind == VSOK_ADDR_TCP ? a.host : a.path, cases[i].name, "%s", cases[i].text);
        cr_assert_eq(a.port, cases[i].port, "%s", cases[i].text);
    }
}

Test(parse, fd_number)
{
    vsok_addr a = parse_ok("fd:3");
    cr_assert_eq(a.kind, VSOK_ADDR_FD);
    cr_assert_eq(a.fd, 3);
    cr_assert_eq(parse_ok("fd:0").fd, 0);
    cr_assert_eq(parse_ok("fd:2147483647").fd, 2147483647);
}

Test(parse, non_fd_addresses_leave_fd_minus_one)
{
    cr_assert_eq(parse_ok("tcp:h:1").fd, -1);
    cr_assert_eq(parse_ok("unix:/x").fd, -1);
}

/* ------------------------------------------------------------------------ */
/* Parsing: socat spellings                                                  */

Test(socat, vsock_connect) { parses_as_vsock("VSOCK-CONNECT:2:5000", 2, 5000, 0); }

Test(socat, vsock_listen_binds_any_cid) { parses_as_vsock("VSOCK-LISTEN:5000", VSOK_CID_ANY, 5000, 1); }

Test(socat, tcp_and_family_variants)
{
    const char *texts[] = {"TCP:127.0.0.1:80", "TCP4:127.0.0.1:80", "TCP-CONNECT:127.0.0.1:80",
                           "tcp4-connect:127.0.0.1:80"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        vsok_addr a = parse_ok(texts[i]);
        cr_assert_eq(a.kind, VSOK_ADDR_TCP, "%s", texts[i]);
        cr_assert_str_eq(a.host, "127.0.0.1", "%s", texts[i]);
        cr_assert_eq(a.port, 80u, "%s", texts[i]);
        cr_assert_eq(a.listen_hint, 0, "%s", texts[i]);
    }
    cr_assert_str_eq(parse_ok("TCP6:[::1]:80").host, "::1");
}

Test(socat, tcp_listen_binds_wildcard)
{
    vsok_addr a = parse_ok("TCP-LISTEN:8080");
    cr_assert_eq(a.kind, VSOK_ADDR_TCP);
    cr_assert_str_eq(a.host, "0.0.0.0");
    cr_assert_eq(a.port, 8080u);
    cr_assert_eq(a.listen_hint, 1);
    cr_assert_str_eq(parse_ok("TCP4-LISTEN:1").host, "0.0.0.0");
    a = parse_ok("TCP6-LISTEN:1");
    cr_assert_str_eq(a.host, "::");
    cr_assert_eq(a.listen_hint, 1);
}

Test(socat, unix_connect_and_listen)
{
    parses_as_unix("UNIX-CONNECT:/run/x.sock", "/run/x.sock", 0, 0);
    parses_as_unix("UNIX-LISTEN:/run/x.sock", "/run/x.sock", 0, 1);
}

Test(socat, abstract_spellings)
{
    parses_as_unix("ABSTRACT-LISTEN:name", "name", 1, 1);
    /* The name is taken literally: '@' is a byte of it, not a marker. */
    parses_as_unix("ABSTRACT-CONNECT:@x", "@x", 1, 0);
}

Test(socat, keywords_are_case_insensitive)
{
    cr_assert_eq(parse_ok("Unix-Listen:/x").listen_hint, 1);
    cr_assert_eq(parse_ok("vsock-listen:7").port, 7u);
    cr_assert_eq(parse_ok("tcp-listen:7").listen_hint, 1);
    cr_assert_eq(parse_ok("FD:4").fd, 4);
    cr_assert_eq(parse_ok("FC:/p:1").kind, VSOK_ADDR_FC);
}

/* ------------------------------------------------------------------------ */
/* Parsing: malformed addresses give a sentence naming the problem           */

Test(malformed, empty_and_null)
{
    parse_fails("", "empty");
    parse_fails(NULL, "missing");
}

Test(malformed, no_scheme) { parse_fails("localhost", "no scheme"); }

Test(malformed, unknown_scheme_is_named)
{
    parse_fails("http://x", "unknown address scheme 'http'");
    parse_fails(":5000", "unknown address scheme ''");
    parse_fails("udp:1.2.3.4:5", "'udp'");
}

Test(malformed, missing_port)
{
    parse_fails("vsock:3", "missing the port");
    parse_fails("tcp:localhost", "missing the port");
    parse_fails("tcp:[::1]", "missing the port");
    parse_fails("fc:/tmp/v.sock", "missing the port");
    parse_fails("vsock:3:", "port is missing");
    parse_fails("tcp:h:", "port is missing");
    parse_fails("VSOCK-LISTEN:", "port is missing");
}

Test(malformed, port_not_decimal)
{
    parse_fails("vsock:3:abc", "not a decimal number");
    parse_fails("tcp:h:0x50", "trailing junk 'x50'");
    parse_fails("tcp:h: 80", "not a decimal number");
}

Test(malformed, port_with_sign)
{
    parse_fails("vsock:3:+5", "no sign");
    parse_fails("tcp:h:-1", "no sign");
}

Test(malformed, port_out_of_range)
{
    parse_fails("tcp:h:65536", "out of range: 0..65535");
    parse_fails("vsock:3:4294967296", "out of range: 0..4294967295");
    parse_fails("vsock:3:99999999999999999999999999", "out of range");
    parse_fails("fc:/p:18446744073709551617", "out of range");
    parse_fails("TCP-LISTEN:70000", "out of range");
}

Test(malformed, port_trailing_junk)
{
    parse_fails("tcp:h:80x", "trailing junk 'x'");
    parse_fails("tcp:h:80 ", "trailing junk");
    parse_fails("vsock:1:2:3", "trailing junk ':3'");
}

Test(malformed, socat_options_are_named)
{
    parse_fails("TCP-LISTEN:8080,fork", "socat options are not supported");
    parse_fails("VSOCK-LISTEN:5000,reuseaddr", "socat options");
}

/* A socat option list (",opt" or ",opt=value") after any address is refused
 * with the option named, for every scheme and spelling.  Before, a path took
 * it in silently: UNIX-LISTEN:/tmp/s.sock,unlink-early bound a socket named
 * "s.sock,unlink-early". */
Test(malformed, socat_options_rejected_for_every_address_type)
{
    static const struct {
        const char *text, *option;
    } cases[] = {
        {"UNIX-LISTEN:/tmp/s.sock,unlink-early", "unlink-early"},
        {"unix:/tmp/s.sock,unlink-early", "unlink-early"},
        {"UNIX-CONNECT:/tmp/s.sock,retry=3", "retry=3"},
        {"unix-client:/tmp/s.sock,mode=600", "mode=600"},
        {"unix:@name,fork", "fork"},
        {"ABSTRACT-LISTEN:name,fork", "fork"},
        {"abstract-connect:name,retry", "retry"},
        {"TCP-LISTEN:8080,fork,reuseaddr", "fork,reuseaddr"},
        {"tcp6-listen:8080,ipv6only", "ipv6only"},
        {"tcp:127.0.0.1:80,nodelay", "nodelay"},
        {"TCP:localhost,bind=1.2.3.4:80", "bind=1.2.3.4:80"},
        {"tcp:[::1]:80,keepalive", "keepalive"},
        {"vsock:3:5000,fork", "fork"},
        {"VSOCK-CONNECT:3:5000,retry=5", "retry=5"},
        {"vsock-listen:5000,reuseaddr", "reuseaddr"},
        {"fd:3,nonblock", "nonblock"},
        {"fc:/tmp/v.sock:5000,retry", "retry"},
        {"fc:/tmp/v.sock,retry:5000", "retry:5000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char needle[96];
        parse_fails(cases[i].text, "socat options are not supported");
        snprintf(needle, sizeof needle, "'%s'", cases[i].option);
        parse_fails(cases[i].text, needle);
    }
}

Test(malformed, socat_option_error_is_one_clean_line)
{
    vsok_addr a;
    char err[256] = "";
    cr_assert_eq(vsok_addr_parse(&a, "UNIX-LISTEN:/tmp/s.sock,unlink-early", err, sizeof err),
                 VSOK_E_ADDRESS);
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    cr_assert(strstr(err, "UNIX-LISTEN") != NULL, "names the scheme as written: %s", err);
    cr_assert_eq(a.path[0], '\0', "nothing of the text reaches the path: '%s'", a.path);
}

Test(malformed, cid_problems)
{
    parse_fails("vsock:4294967296:1", "CID '4294967296' is out of range");
    parse_fails("vsock:guest:1", "CID 'guest' is not");
    parse_fails("vsock::1", "CID is missing");
    parse_fails("vsock:+3:1", "CID '+3'");
    parse_fails("vsock:", "vsock address is empty");
}

Test(malformed, unix_path_problems)
{
    char text[160] = "unix:";
    parse_fails("unix:", "unix path is empty");
    parse_fails("unix:@", "abstract name is empty");
    memset(text + 5, 'p', 108);
    text[5 + 108] = '\0';
    parse_fails(text, "too long: 108 bytes");
    text[5] = '@';
    memset(text + 6, 'n', 108);
    text[6 + 108] = '\0';
    parse_fails(text, "abstract name is too long");
}

Test(malformed, tcp_host_problems)
{
    char text[300] = "tcp:";
    parse_fails("tcp::80", "host is empty");
    parse_fails("tcp:[]:80", "host is empty");
    parse_fails("tcp:[::1]80", "after ']'");
    parse_fails("tcp:[::1:80", "without a closing ']'");
    parse_fails("tcp:1:2:3", "not an IPv6 address");
    parse_fails("tcp:ho st:80", "invalid character at byte 2");
    memset(text + 4, 'h', 256);
    memcpy(text + 260, ":80", 4);
    parse_fails(text, "host is too long");
}

Test(malformed, fd_problems)
{
    parse_fails("fd:-1", "negative");
    parse_fails("fd:", "fd is missing");
    parse_fails("fd:2147483648", "out of range");
    parse_fails("fd:3x", "trailing junk");
    parse_fails("fd:stdin", "not a decimal");
}

Test(malformed, fc_problems)
{
    char text[160] = "fc:";
    parse_fails("fc::5000", "fc socket path is empty");
    parse_fails("fc:/p:99999999999", "out of range");
    memset(text + 3, 'p', 108);
    memcpy(text + 3 + 108, ":1", 3);
    parse_fails(text, "fc socket path is too long");
}

Test(malformed, control_bytes_are_not_echoed)
{
    vsok_addr a;
    char err[256] = "";
    cr_assert_eq(vsok_addr_parse(&a, "ev\x1b[31mil:1", err, sizeof err), VSOK_E_ADDRESS);
    cr_assert_null(strchr(err, '\x1b'), "the escape byte leaked into: %s", err);
    cr_assert(strstr(err, "ev?[31mil") != NULL, "got: %s", err);
}

Test(malformed, long_input_is_cut_in_the_message)
{
    char text[2100];
    char err[512] = "";
    vsok_addr a;
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    cr_assert_eq(vsok_addr_parse(&a, text, err, sizeof err), VSOK_E_ADDRESS);
    cr_assert(strstr(err, "...") != NULL, "got: %s", err);
    cr_assert_lt(strlen(err), 300u);
}

Test(malformed, small_error_buffer_is_terminated)
{
    vsok_addr a;
    char err[8];
    memset(err, 'Z', sizeof err);
    cr_assert_eq(vsok_addr_parse(&a, "bogus:1", err, sizeof err), VSOK_E_ADDRESS);
    cr_assert_eq(strlen(err), 7u);
    cr_assert_eq(vsok_addr_parse(&a, "bogus:1", NULL, 0), VSOK_E_ADDRESS);
    cr_assert_eq(vsok_addr_parse(NULL, "tcp:h:1", NULL, 0), VSOK_E_INVAL);
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */

static void formats_as(const char *text, const char *canonical)
{
    char buf[300];
    vsok_addr a = parse_ok(text);
    int n = vsok_addr_format(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, canonical, "format of '%s'", text);
    cr_assert_eq(n, (int)strlen(canonical));
}

Test(format, canonical_text)
{
    formats_as("vsock:3:5000", "vsock:3:5000");
    formats_as("VSOCK-CONNECT:parent:5", "vsock:3:5");
    formats_as("vsock:local:5", "vsock:1:5");
    formats_as("VSOCK-LISTEN:9", "vsock:any:9");
    formats_as("tcp:127.0.0.1:80", "tcp:127.0.0.1:80");
    formats_as("tcp:::1:80", "tcp:[::1]:80");
    formats_as("TCP6:[::1]:80", "tcp:[::1]:80");
    formats_as("TCP-LISTEN:80", "tcp:0.0.0.0:80");
    formats_as("UNIX-LISTEN:/a/b", "unix:/a/b");
    formats_as("unix:@n", "unix:@n");
    formats_as("ABSTRACT-CONNECT:n", "unix:@n");
    formats_as("FD:7", "fd:7");
    formats_as("fc:/a:b:5", "fc:/a:b:5");
}

Test(format, has_snprintf_semantics)
{
    char buf[4] = "ZZZ";
    vsok_addr a = parse_ok("vsock:3:5000");
    cr_assert_eq(vsok_addr_format(&a, buf, sizeof buf), 12);
    cr_assert_str_eq(buf, "vso");
    cr_assert_eq(vsok_addr_format(&a, NULL, 0), 12);
    cr_assert_lt(vsok_addr_format(NULL, buf, sizeof buf), 0);
}

Test(format, file_named_at_sign_is_not_read_back_as_abstract)
{
    vsok_addr a, b;
    char buf[64];
    memset(&a, 0, sizeof a);
    a.kind = VSOK_ADDR_UNIX;
    strcpy(a.path, "@sock");
    vsok_addr_format(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "unix:./@sock");
    b = parse_ok(buf);
    cr_assert_eq(b.abstract, 0);
}

Test(format, round_trip_parse_format_parse)
{
    const char *texts[] = {
        "vsock:3:5000",
        "vsock:any:0",
        "vsock:4294967295:4294967295",
        "VSOCK-LISTEN:1",
        "VSOCK-CONNECT:host:2",
        "unix:/tmp/x.sock",
        "unix:rel:colon",
        "unix:@abstract",
        "UNIX-LISTEN:/p",
        "tcp:127.0.0.1:0",
        "tcp:[::1]:65535",
        "tcp:::ffff:1.2.3.4:9",
        "tcp:example.org:443",
        "TCP-LISTEN:22",
        "TCP6-LISTEN:22",
        "fd:0",
        "fd:2147483647",
        "fc:/run/fc.sock:5000",
        "fc:/a:b:c:1",
        "tcp:fe80::1%lo:22",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char buf[300];
        vsok_addr a = parse_ok(texts[i]);
        int n = vsok_addr_format(&a, buf, sizeof buf);
        cr_assert(n > 0 && (size_t)n < sizeof buf, "%s", texts[i]);
        vsok_addr b = parse_ok(buf);
        /* The canonical form names the endpoint; the listen hint is how
         * it was spelt, so it is the one field allowed to differ. */
        a.listen_hint = b.listen_hint = 0;
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "'%s' -> '%s' did not read back the same", texts[i], buf);
    }
}

/* ------------------------------------------------------------------------ */
/* TCP on loopback                                                           */

/* Listens on text (port 0), checks the resolved address, connects to it and
 * checks both ends agree about who is who. */
static void tcp_round(const char *listen_text, const char *host)
{
    int lfd = -1, cfd = -1;
    char err[256] = "", text[300];
    vsok_addr la, ca, cpeer, apeer, aself;
    cr_assert_eq(vsok_listen(listen_text, 8, &lfd, err, sizeof err), VSOK_OK, "%s: %s", listen_text, err);
    assert_flags(lfd, 1);
    int reuse = 0;
    socklen_t sl = sizeof reuse;
    cr_assert_eq(getsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &reuse, &sl), 0);
    cr_assert_eq(reuse, 1, "TCP listeners set SO_REUSEADDR");

    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &la), VSOK_OK);
    cr_assert_eq(la.kind, VSOK_ADDR_TCP);
    cr_assert_str_eq(la.host, host);
    cr_assert_neq(la.port, 0u, "port 0 must resolve to the real port");
    vsok_addr_format(&la, text, sizeof text);

    cr_assert_eq(vsok_connect(text, WAIT_MS, &cfd, err, sizeof err), VSOK_OK, "connect %s: %s", text,
                 strerror(errno));
    assert_flags(cfd, 0);
    int nodelay = 0;
    sl = sizeof nodelay;
    cr_assert_eq(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &sl), 0);
    cr_assert_neq(nodelay, 0, "TCP connections set TCP_NODELAY");

    int afd = accept_within(lfd);
    cr_assert_eq(vsok_addr_from_fd(cfd, 1, &cpeer), VSOK_OK);
    cr_assert_eq(cpeer.port, la.port);
    cr_assert_str_eq(cpeer.host, host);
    cr_assert_eq(vsok_addr_from_fd(cfd, 0, &ca), VSOK_OK);
    cr_assert_eq(vsok_addr_from_fd(afd, 1, &apeer), VSOK_OK);
    cr_assert_eq(apeer.port, ca.port, "accepted peer is the connecting socket");
    cr_assert_eq(vsok_addr_from_fd(afd, 0, &aself), VSOK_OK);
    cr_assert_eq(aself.port, la.port);
    assert_connected(cfd, afd);
    assert_connected(afd, cfd);
    close(afd);
    close(cfd);
    close(lfd);
}

Test(tcp, ipv4_listen_port0_resolves_and_connects) { tcp_round("tcp:127.0.0.1:0", "127.0.0.1"); }

Test(tcp, ipv6_loopback_listen_port0_resolves_and_connects)
{
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    if (probe < 0 || bind(probe, (struct sockaddr *)&s6, sizeof s6) < 0) {
        if (probe >= 0)
            close(probe);
        cr_skip_test("no IPv6 loopback here: %s", strerror(errno));
    }
    close(probe);
    tcp_round("tcp:[::1]:0", "::1");
}

Test(tcp, hostname_localhost_connects)
{
    int lfd = -1, cfd = -1;
    char text[64];
    vsok_addr la;
    cr_assert_eq(vsok_listen("tcp:127.0.0.1:0", 8, &lfd, NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &la), VSOK_OK);
    snprintf(text, sizeof text, "tcp:localhost:%u", (unsigned)la.port);
    vsok_err e = vsok_connect(text, WAIT_MS, &cfd, NULL, 0);
    if (e == VSOK_E_ADDRESS) {
        close(lfd);
        cr_skip_test("'localhost' does not resolve on this machine");
    }
    /* localhost may resolve to ::1 first; the connector must move on to
     * 127.0.0.1 when ::1 refuses. */
    cr_assert_eq(e, VSOK_OK, "connect %s: %s", text, strerror(errno));
    int afd = accept_within(lfd);
    assert_connected(cfd, afd);
    close(afd);
    close(cfd);
    close(lfd);
}

Test(tcp, connect_to_closed_port_is_io_econnrefused)
{
    /* A bound but not listening socket owns the port, so nothing else can
     * start listening there during the test and the SYN gets an RST. */
    int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    char text[64];
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_geq(holder, 0);
    cr_assert_eq(bind(holder, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(holder, (struct sockaddr *)&sin, &sl), 0);
    snprintf(text, sizeof text, "tcp:127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    int fd = 12345;
    errno = 0;
    cr_assert_eq(vsok_connect(text, WAIT_MS, &fd, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, ECONNREFUSED, "errno %d (%s)", errno, strerror(errno));
    cr_assert_eq(fd, -1, "no fd on failure");
    close(holder);
}

/* The buffer sizes are set on the socket before it connects: the window
 * the SYN offers is already the small one. */
Test(tcp, connect_opts_set_the_buffers_before_the_handshake)
{
    vsok_addr a, b;
    int lfd = -1, fd = -1, afd = -1;
    char text[64];
    cr_assert_eq(vsok_addr_parse(&a, "tcp:127.0.0.1:0", NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_addr_listen(&a, 4, &lfd), VSOK_OK);
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &b), VSOK_OK);
    cr_assert_gt(vsok_addr_format(&b, text, sizeof text), 0);
    vsok_sockopts so = {.rcvbuf = 8192, .sndbuf = 16384};
    cr_assert_eq(vsok_addr_connect_opts(&b, &so, WAIT_MS, &fd), VSOK_OK, "%s", strerror(errno));
    cr_assert_eq(vsok_addr_accept(lfd, WAIT_MS, &afd), VSOK_OK);
    int v = 0;
    socklen_t vl = sizeof v;
    cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &vl), 0);
    cr_expect_eq(v, 2 * 8192, "SO_RCVBUF %d (the kernel doubles what was set)", v);
    cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &vl), 0);
    cr_expect_eq(v, 2 * 16384, "SO_SNDBUF %d", v);
    /* set before connect, the receive buffer sized the window of the SYN:
     * the listener's side sees it before any data */
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t tl = sizeof ti;
    cr_assert_eq(getsockopt(afd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    if (tl >= offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof ti.tcpi_snd_wnd)
        cr_expect_leq(ti.tcpi_snd_wnd, 2 * 8192,
                      "the handshake offered a %u-byte window: SO_RCVBUF was set after it", ti.tcpi_snd_wnd);
    int nodelay = 0;
    vl = sizeof nodelay;
    cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &vl), 0);
    cr_expect(nodelay, "TCP_NODELAY as vsok_addr_connect sets it");
    close(afd);
    close(fd);
    close(lfd);
    vsok_sockopts bad = {.rcvbuf = -1};
    cr_expect_eq(vsok_addr_connect_opts(&b, &bad, WAIT_MS, &fd), VSOK_E_INVAL);
    cr_expect_eq(fd, -1);
}

Test(tcp, listen_on_busy_port_is_io_eaddrinuse)
{
    int lfd = -1, lfd2 = -1;
    char text[64];
    vsok_addr la;
    cr_assert_eq(vsok_listen("tcp:127.0.0.1:0", 8, &lfd, NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &la), VSOK_OK);
    vsok_addr_format(&la, text, sizeof text);
    cr_assert_eq(vsok_listen(text, 8, &lfd2, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, EADDRINUSE);
    close(lfd);
}

/* ------------------------------------------------------------------------ */
/* Unix sockets                                                              */

Test(unix, path_listen_connect_and_from_fd)
{
    char dir[64], text[256], path[128];
    int lfd = -1, cfd = -1;
    struct stat st;
    vsok_addr la, cpeer;
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/s", dir);
    snprintf(text, sizeof text, "unix:%s", path);
    cr_assert_eq(vsok_listen(text, 8, &lfd, NULL, 0), VSOK_OK, "%s", strerror(errno));
    assert_flags(lfd, 1);
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &la), VSOK_OK);
    cr_assert_eq(la.kind, VSOK_ADDR_UNIX);
    cr_assert_str_eq(la.path, path);
    cr_assert_eq(la.abstract, 0);

    cr_assert_eq(vsok_connect(text, WAIT_MS, &cfd, NULL, 0), VSOK_OK, "%s", strerror(errno));
    assert_flags(cfd, 0);
    /* The connect deadline is gone once connected: later writes block. */
    struct timeval tv = {1, 1};
    socklen_t sl = sizeof tv;
    cr_assert_eq(getsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, &sl), 0);
    cr_assert(tv.tv_sec == 0 && tv.tv_usec == 0, "SO_SNDTIMEO left at %ld.%06ld", (long)tv.tv_sec,
              (long)tv.tv_usec);
    cr_assert_eq(vsok_addr_from_fd(cfd, 1, &cpeer), VSOK_OK);
    cr_assert_str_eq(cpeer.path, path);
    int afd = accept_within(lfd);
    assert_connected(cfd, afd);
    close(afd);
    close(cfd);
    close(lfd);
    rmtree(dir, "s");
}

Test(unix, abstract_listen_connect_and_from_fd)
{
    char text[128], name[96];
    int lfd = -1, cfd = -1;
    vsok_addr la;
    snprintf(name, sizeof name, "vsok-test-%ld-abstract", (long)getpid());
    snprintf(text, sizeof text, "unix:@%s", name);
    cr_assert_eq(vsok_listen(text, 8, &lfd, NULL, 0), VSOK_OK, "%s", strerror(errno));
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &la), VSOK_OK);
    cr_assert_eq(la.abstract, 1);
    cr_assert_str_eq(la.path, name, "the name must not gain a NUL or padding");
    cr_assert_eq(vsok_connect(text, WAIT_MS, &cfd, NULL, 0), VSOK_OK, "%s", strerror(errno));
    int afd = accept_within(lfd);
    assert_connected(afd, cfd);
    close(afd);
    close(cfd);
    close(lfd);
}

Test(unix, stale_socket_file_is_replaced)
{
    char dir[64], path[128], text[256];
    int lfd = -1;
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/stale", dir);
    snprintf(text, sizeof text, "unix:%s", path);
    /* A server that died: its socket file stays, nobody listens. */
    int dead = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    cr_assert_eq(bind(dead, (struct sockaddr *)&sun, sizeof sun), 0);
    close(dead);
    cr_assert_eq(vsok_listen(text, 8, &lfd, NULL, 0), VSOK_OK, "%s", strerror(errno));
    int cfd = -1;
    cr_assert_eq(vsok_connect(text, WAIT_MS, &cfd, NULL, 0), VSOK_OK);
    close(cfd);
    close(lfd);
    rmtree(dir, "stale");
}

Test(unix, live_socket_is_not_stolen)
{
    char dir[64], path[128], text[256];
    int lfd = -1, lfd2 = -1, cfd = -1;
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/live", dir);
    snprintf(text, sizeof text, "unix:%s", path);
    cr_assert_eq(vsok_listen(text, 8, &lfd, NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_listen(text, 8, &lfd2, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, EADDRINUSE);
    /* The first server still gets its clients. */
    cr_assert_eq(vsok_connect(text, WAIT_MS, &cfd, NULL, 0), VSOK_OK);
    int afd = accept_within(lfd);
    close(afd);
    close(cfd);
    close(lfd);
    rmtree(dir, "live");
}

Test(unix, regular_file_is_not_removed)
{
    char dir[64], path[128], text[256];
    int lfd = -1;
    struct stat st;
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data", dir);
    snprintf(text, sizeof text, "unix:%s", path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("precious", f);
    fclose(f);
    cr_assert_eq(vsok_listen(text, 8, &lfd, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, EADDRINUSE);
    cr_assert_eq(lstat(path, &st), 0, "the file must survive");
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_size, 8);
    rmtree(dir, "data");
}

Test(unix, connect_to_missing_path_is_io_enoent)
{
    char dir[64], text[140];
    int fd = 7;
    tmpdir(dir, sizeof dir);
    snprintf(text, sizeof text, "unix:%s/nobody", dir);
    cr_assert_eq(vsok_connect(text, WAIT_MS, &fd, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(fd, -1);
    rmtree(dir, NULL);
}

Test(unix, connect_times_out_when_backlog_is_full)
{
    /* With backlog 0 Linux queues exactly one unaccepted connection; the
     * second connect must wait for room that never comes. */
    char name[96], text[128];
    int lfd = -1, first = -1, second = 99;
    snprintf(name, sizeof name, "vsok-test-%ld-backlog", (long)getpid());
    snprintf(text, sizeof text, "unix:@%s", name);
    cr_assert_eq(vsok_listen(text, 0, &lfd, NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_connect(text, WAIT_MS, &first, NULL, 0), VSOK_OK, "%s", strerror(errno));
    cr_assert_eq(vsok_connect(text, 100, &second, NULL, 0), VSOK_E_TIMEOUT, "%s", strerror(errno));
    cr_assert_eq(errno, ETIMEDOUT);
    cr_assert_eq(second, -1);
    close(first);
    close(lfd);
}

Test(unix, socketpair_has_an_unnamed_address)
{
    int sv[2];
    vsok_addr a;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(vsok_addr_from_fd(sv[0], 1, &a), VSOK_OK);
    cr_assert_eq(a.kind, VSOK_ADDR_UNIX);
    cr_assert_str_eq(a.path, "");
    cr_assert_eq(a.abstract, 0);
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------------------ */
/* fd:N                                                                      */

Test(fd, listen_returns_the_inherited_fd)
{
    int lfd = -1, got = -1;
    char text[32];
    cr_assert_eq(vsok_listen("tcp:127.0.0.1:0", 8, &lfd, NULL, 0), VSOK_OK);
    snprintf(text, sizeof text, "fd:%d", lfd);
    cr_assert_eq(vsok_listen(text, 8, &got, NULL, 0), VSOK_OK);
    cr_assert_eq(got, lfd);
    close(lfd);
}

Test(fd, listen_on_closed_fd_is_io_ebadf)
{
    int fd = dup(0), got = 5;
    char text[32];
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(text, sizeof text, "fd:%d", fd);
    cr_assert_eq(vsok_listen(text, 8, &got, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(got, -1);
}

Test(fd, connect_is_invalid_argument)
{
    int fd = 5;
    cr_assert_eq(vsok_connect("fd:0", WAIT_MS, &fd, NULL, 0), VSOK_E_INVAL);
    cr_assert_eq(fd, -1);
}

Test(fd, from_fd_on_a_pipe_is_io)
{
    int p[2];
    vsok_addr a;
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(vsok_addr_from_fd(p[0], 0, &a), VSOK_E_IO);
    cr_assert_eq(errno, ENOTSOCK);
    close(p[0]);
    close(p[1]);
}

Test(api, null_arguments_are_invalid)
{
    vsok_addr a = parse_ok("tcp:127.0.0.1:1");
    int fd;
    cr_assert_eq(vsok_addr_connect(NULL, 0, &fd), VSOK_E_INVAL);
    cr_assert_eq(vsok_addr_connect(&a, 0, NULL), VSOK_E_INVAL);
    cr_assert_eq(vsok_addr_listen(NULL, 0, &fd), VSOK_E_INVAL);
    cr_assert_eq(vsok_addr_from_fd(0, 0, NULL), VSOK_E_INVAL);
}

Test(api, convenience_wrappers_report_parse_errors)
{
    char err[128] = "";
    int fd = 3;
    cr_assert_eq(vsok_connect("tcp:h", WAIT_MS, &fd, err, sizeof err), VSOK_E_ADDRESS);
    cr_assert(strstr(err, "missing the port") != NULL, "%s", err);
    cr_assert_eq(fd, -1);
    err[0] = '\0';
    cr_assert_eq(vsok_listen("nope:1", 1, &fd, err, sizeof err), VSOK_E_ADDRESS);
    cr_assert(strstr(err, "unknown address scheme") != NULL, "%s", err);
}

Test(address, explains_vsock_reset_as_no_listener_and_keeps_errno)
{
    vsok_addr a;
    char why[256];
    cr_assert_eq(vsok_addr_parse(&a, "vsock:local:6999", NULL, 0), VSOK_OK);
    errno = ECONNRESET;
    vsok_addr_explain(&a, 1, VSOK_E_IO, why, sizeof(why));
    cr_assert_eq(errno, ECONNRESET);
    cr_assert(strstr(why, "nothing is listening on vsock:1:6999") != NULL, "%s", why);
    cr_assert(strstr(why, "ECONNRESET") != NULL, "%s", why);
    /* The same errno on TCP is an ordinary reset, not a missing listener. */
    cr_assert_eq(vsok_addr_parse(&a, "tcp:127.0.0.1:80", NULL, 0), VSOK_OK);
    vsok_addr_explain(&a, 1, VSOK_E_IO, why, sizeof(why));
    cr_assert(strstr(why, "nothing is listening") == NULL, "%s", why);
    cr_assert(strstr(why, "tcp:127.0.0.1:80") != NULL, "%s", why);
}

Test(address, connect_failure_fills_the_error_sentence)
{
    char why[256] = "";
    int fd = -1;
    /* Port 1 on loopback: nothing listens there in a test sandbox. */
    vsok_err e = vsok_connect("tcp:127.0.0.1:1", 1000, &fd, why, sizeof(why));
    cr_assert_eq(e, VSOK_E_IO);
    cr_assert_eq(fd, -1);
    cr_assert(strstr(why, "cannot connect to tcp:127.0.0.1:1") != NULL, "%s", why);
}

/* ---- vsok_addr_sockaddr: what an event loop connects to by itself ---- */

static void sockaddr_of(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    vsok_addr a;
    char err[256];
    cr_assert_eq(vsok_addr_parse(&a, text, err, sizeof(err)), VSOK_OK, "%s: %s", text, err);
    cr_assert_eq(vsok_addr_sockaddr(&a, ss, len), VSOK_OK, "%s", text);
}

Test(address, sockaddr_of_tcp_literals_is_the_resolved_address)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    sockaddr_of("tcp:127.0.0.1:5000", &ss, &len);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    cr_assert_eq(ss.ss_family, AF_INET);
    cr_assert_eq(len, sizeof(*in));
    cr_assert_eq(ntohs(in->sin_port), 5000);
    cr_assert_eq(ntohl(in->sin_addr.s_addr), 0x7f000001u);
    sockaddr_of("tcp:[::1]:80", &ss, &len);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    cr_assert_eq(ss.ss_family, AF_INET6);
    cr_assert_eq(ntohs(in6->sin6_port), 80);
    cr_assert(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
}

Test(address, sockaddr_of_vsock_and_unix_without_touching_a_socket)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    sockaddr_of("vsock:3:5000", &ss, &len); /* only fills a struct: nothing is connected */
    const struct sockaddr_vm *svm = (const struct sockaddr_vm *)&ss;
    cr_assert_eq(ss.ss_family, AF_VSOCK);
    cr_assert_eq(len, sizeof(*svm));
    cr_assert_eq(svm->svm_cid, 3u);
    cr_assert_eq(svm->svm_port, 5000u);
    sockaddr_of("unix:/tmp/x.sock", &ss, &len);
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
    cr_assert_eq(ss.ss_family, AF_UNIX);
    cr_assert_str_eq(sun->sun_path, "/tmp/x.sock");
    cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/x.sock") + 1);
    sockaddr_of("unix:@abs", &ss, &len);
    cr_assert_eq(sun->sun_path[0], '\0');
    cr_assert_eq(memcmp(sun->sun_path + 1, "abs", 3), 0);
    cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + 1 + 3);
}

Test(address, sockaddr_refuses_fc_fd_and_null)
{
    vsok_addr a;
    struct sockaddr_storage ss;
    socklen_t len = 7;
    cr_assert_eq(vsok_addr_parse(&a, "fc:/tmp/v.sock:52", NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_addr_sockaddr(&a, &ss, &len), VSOK_E_INVAL);
    cr_assert_eq(len, 0);
    cr_assert_eq(vsok_addr_parse(&a, "fd:3", NULL, 0), VSOK_OK);
    cr_assert_eq(vsok_addr_sockaddr(&a, &ss, &len), VSOK_E_INVAL);
    cr_assert_eq(vsok_addr_sockaddr(NULL, &ss, &len), VSOK_E_INVAL);
    cr_assert_eq(vsok_addr_sockaddr(&a, NULL, &len), VSOK_E_INVAL);
}
