/* SPDX-License-Identifier: MIT */
/* vm/vsock_guest.c - the library over real AF_VSOCK, inside the test VM.
 *
 * Runs only in scripts/vm-test's guest (see guest_guard.h), where the only
 * vsock transport is the kernel's loopback, so CID 1 (vsock:local:PORT)
 * reaches listeners in the same guest.  Edge cases follow the kernel's own
 * tools/testing/vsock suite (reset on connect without listener, peer close,
 * shutdown, many connections, buffer size options), written here against the
 * vsok API.
 *
 * Output: one line per check, "ok N - name" or "not ok N - name" with "# "
 * diagnostics, then "N passed, N failed".  Exit status 0 only if all passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <vsok/vsok.h>

#include "guest_guard.h"

/* Waits in a check have deadlines, so a broken library shows up as a failed
 * check, not a hung guest.  make_pair hands out non-blocking fds with
 * IO_TIMEOUT_MS deadlines (the library polls on EAGAIN).  The blocking path,
 * with no deadline, runs in tiny_buffer_still_moves_max_message and in the
 * benchmark; there vm/init.sh's time limit for the step is the bound. */
#define IO_TIMEOUT_MS 20000

static unsigned n_run, n_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            printf("# %s:%d: check failed: %s\n# ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
            return 0;                                                           \
        }                                                                       \
    } while (0)

#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        vsok_err e_ = (expr);                                                                 \
        CHECK(e_ == VSOK_OK, "%s returned %s (errno %d: %s)", #expr, vsok_errname(e_), errno, \
              strerror(errno));                                                               \
    } while (0)

static void run(const char *name, int (*fn)(void))
{
    n_run++;
    int ok = fn();
    if (!ok)
        n_failed++;
    printf("%sok %u - %s\n", ok ? "" : "not ", n_run, name);
}

/* --- helpers --- */

static uint8_t pattern_byte(uint32_t seed, size_t j)
{
    return (uint8_t)(seed * 131u + j * 7u + (j >> 8) + (j >> 16));
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t j = 0; j < len; j++)
        buf[j] = pattern_byte(seed, j);
}

/* Index of the first byte that differs from the pattern, or len. */
static size_t first_mismatch(const uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t j = 0; j < len; j++)
        if (buf[j] != pattern_byte(seed, j))
            return j;
    return len;
}

static size_t small_len(unsigned i) { return 1 + (i * 37u) % 600u; }

static void close_pair(vsok_socket *a, vsok_socket *b)
{
    vsok_socket_close(a);
    vsok_socket_close(b);
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A connected pair over vsock loopback: listen on vsock:any:port, connect to
 * vsock:local:port, accept; both ends non-blocking with IO_TIMEOUT_MS
 * deadlines.  peer (may be NULL) gets accept's peer address. */
static int make_pair(uint32_t port, vsok_socket **cli, vsok_socket **srv, vsok_addr *peer)
{
    char text[64], err[256] = "";
    int lfd = -1;
    *cli = *srv = NULL;
    snprintf(text, sizeof text, "vsock:any:%" PRIu32, port);
    vsok_err e = vsok_listen(text, 16, &lfd, err, sizeof err);
    CHECK(e == VSOK_OK, "listen %s: %s %s (errno %s)", text, vsok_errname(e), err, strerror(errno));
    snprintf(text, sizeof text, "vsock:local:%" PRIu32, port);
    e = vsok_socket_connect(cli, text, IO_TIMEOUT_MS, err, sizeof err);
    if (e != VSOK_OK)
        close(lfd);
    CHECK(e == VSOK_OK, "connect %s: %s %s (errno %s)", text, vsok_errname(e), err, strerror(errno));
    e = vsok_socket_accept(srv, lfd, IO_TIMEOUT_MS, NULL, peer);
    int saved = errno;
    close(lfd);
    CHECK(e == VSOK_OK, "accept on port %" PRIu32 ": %s (errno %s)", port, vsok_errname(e), strerror(saved));
    vsok_socket_set_timeout(*cli, IO_TIMEOUT_MS);
    vsok_socket_set_timeout(*srv, IO_TIMEOUT_MS);
    if (set_nonblocking(vsok_socket_fd(*cli)) != 0 || set_nonblocking(vsok_socket_fd(*srv)) != 0) {
        close_pair(*cli, *srv);
        CHECK(0, "O_NONBLOCK: %s", strerror(errno));
    }
    return 1;
}

/* Raw AF_VSOCK socket for the options the library does not wrap. */
static int vsock_raw(void) { return socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0); }

static struct sockaddr_vm vm_addr(unsigned cid, unsigned port)
{
    struct sockaddr_vm sa;
    memset(&sa, 0, sizeof sa);
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = cid;
    sa.svm_port = port;
    return sa;
}

static int get_u64(int fd, int opt, uint64_t *v)
{
    socklen_t len = sizeof *v;
    return getsockopt(fd, AF_VSOCK, opt, v, &len);
}

static int set_u64(int fd, int opt, uint64_t v) { return setsockopt(fd, AF_VSOCK, opt, &v, sizeof v); }

/* Writer thread: count messages of len bytes (0: small_len(i)), seeds
 * seed0 + i, then half-closes when asked. */
struct writer {
    vsok_socket *s;
    unsigned count;
    size_t len;
    uint32_t seed0;
    int batched; /* 1: vsok_socket_queue + flush; 2: write_messages */
    int shutdown_after;
    vsok_err result;
    int err_no;
    unsigned written;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    size_t max = w->len ? w->len : 600;
    uint8_t *buf = malloc(max);
    w->result = VSOK_E_NOMEM;
    if (buf == NULL)
        return NULL;
    w->result = VSOK_OK;
    for (unsigned i = 0; i < w->count && w->result == VSOK_OK; i++) {
        size_t len = w->len ? w->len : small_len(i);
        fill(buf, len, w->seed0 + i);
        if (w->batched == 1)
            w->result = vsok_socket_queue(w->s, buf, len);
        else if (w->batched == 2) {
            struct iovec iov = {.iov_base = buf, .iov_len = len};
            w->result = vsok_socket_write_messages(w->s, &iov, 1);
        } else
            w->result = vsok_socket_write_message(w->s, buf, len);
        if (w->result == VSOK_OK)
            w->written++;
    }
    if (w->result == VSOK_OK && w->batched == 1)
        w->result = vsok_socket_flush(w->s);
    if (w->result == VSOK_OK && w->shutdown_after)
        w->result = vsok_socket_shutdown_write(w->s);
    w->err_no = errno;
    free(buf);
    return NULL;
}

/* Reads count messages matching a writer's (len, seed0) and checks each
 * one's bytes and stream offset. */
static int read_and_verify(vsok_socket *s, unsigned count, size_t fixed_len, uint32_t seed0, int zero_copy)
{
    uint64_t expect_off = 0;
    for (unsigned i = 0; i < count; i++) {
        size_t want = fixed_len ? fixed_len : small_len(i);
        const uint8_t *data;
        size_t len;
        uint8_t *owned = NULL;
        vsok_msg m;
        vsok_err e;
        if (zero_copy) {
            e = vsok_socket_recv(s, &m);
            data = m.data;
            len = m.len;
        } else {
            e = vsok_socket_read_message(s, &owned, &len);
            data = owned;
        }
        CHECK(e == VSOK_OK, "message %u: %s (errno %s)", i, vsok_errname(e), strerror(errno));
        size_t bad = len == want ? first_mismatch(data, len, seed0 + i) : 0;
        free(owned);
        CHECK(len == want, "message %u: length %zu, expected %zu", i, len, want);
        CHECK(bad == len, "message %u: byte %zu differs from what was sent", i, bad);
        if (zero_copy) {
            CHECK(m.offset == expect_off, "message %u at offset %" PRIu64 ", expected %" PRIu64, i, m.offset,
                  expect_off);
        }
        expect_off += VSOK_HEADER_SIZE + want;
    }
    return 1;
}

/* Reads one message and drops it; returns the outcome, and the error offset
 * in *err_off (may be NULL). */
static vsok_err read_one(vsok_socket *s, uint64_t *err_off)
{
    uint8_t *m = NULL;
    size_t len = 0;
    vsok_err e = vsok_socket_read_message(s, &m, &len);
    free(m);
    if (err_off != NULL)
        *err_off = vsok_socket_error_offset(s);
    return e;
}

static int join_writer(pthread_t t, const struct writer *w)
{
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK(w->result == VSOK_OK, "writer: %s after %u messages (errno %s)", vsok_errname(w->result),
          w->written, strerror(w->err_no));
    return 1;
}

/* --- address parsing of vsock: forms --- */

static int addr_parses_vsock_forms(void)
{
    static const struct {
        const char *text;
        uint32_t cid, port;
        int listen_hint;
    } cases[] = {
        {"vsock:local:5000", VSOK_CID_LOCAL, 5000, 0},
        {"vsock:any:5000", VSOK_CID_ANY, 5000, 0},
        {"vsock:-1:7", VSOK_CID_ANY, 7, 0},
        {"vsock:host:1", VSOK_CID_HOST, 1, 0},
        {"vsock:parent:9000", VSOK_CID_PARENT, 9000, 0},
        {"vsock:16:1234", 16, 1234, 0},
        {"vsock:1:4294967294", 1, 4294967294u, 0},
        {"VSOCK-CONNECT:1:5000", 1, 5000, 0},
        {"VSOCK-CONNECT:3:80", 3, 80, 0},
        {"VSOCK-LISTEN:5000", VSOK_CID_ANY, 5000, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vsok_addr a;
        char err[256] = "";
        vsok_err e = vsok_addr_parse(&a, cases[i].text, err, sizeof err);
        CHECK(e == VSOK_OK, "%s: %s %s", cases[i].text, vsok_errname(e), err);
        CHECK(a.kind == VSOK_ADDR_VSOCK, "%s: kind %d", cases[i].text, (int)a.kind);
        CHECK(a.cid == cases[i].cid, "%s: cid %" PRIu32 ", expected %" PRIu32, cases[i].text, a.cid,
              cases[i].cid);
        CHECK(a.port == cases[i].port, "%s: port %" PRIu32, cases[i].text, a.port);
        CHECK(a.listen_hint == cases[i].listen_hint, "%s: listen_hint %d", cases[i].text, a.listen_hint);
    }
    return 1;
}

static int addr_rejects_malformed_vsock_forms(void)
{
    static const char *const bad[] = {
        "vsock:",         "vsock:1",        "vsock:1:",           "vsock::5000",
        "vsock:foo:5000", "vsock:1:bar",    "vsock:1:4294967296", "vsock:4294967296:1",
        "vsock:1:-5",     "vsock:1:5000:9", "vsock:1:50x",        "VSOCK-CONNECT:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vsok_addr a;
        char err[256] = "";
        vsok_err e = vsok_addr_parse(&a, bad[i], err, sizeof err);
        CHECK(e == VSOK_E_ADDRESS, "\"%s\" gave %s, expected InvalidAddress", bad[i], vsok_errname(e));
        CHECK(err[0] != '\0', "\"%s\": no explanation written", bad[i]);
        if (i == 0)
            printf("# e.g. \"%s\": %s\n", bad[i], err);
    }
    return 1;
}

static int addr_formats_vsock_canonically(void)
{
    vsok_addr a, b;
    char buf[128];
    CHECK_OK(vsok_addr_parse(&a, "vsock:local:5000", NULL, 0));
    int n = vsok_addr_format(&a, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n < sizeof buf, "format returned %d", n);
    CHECK(strcmp(buf, "vsock:1:5000") == 0, "formatted as \"%s\"", buf);
    CHECK_OK(vsok_addr_parse(&b, buf, NULL, 0));
    CHECK(b.kind == a.kind && b.cid == a.cid && b.port == a.port, "round trip changed %s", buf);
    return 1;
}

/* --- listen, connect, accept --- */

static int listen_reports_bound_vsock_address(void)
{
    int lfd = -1;
    char err[256] = "";
    vsok_addr a;
    CHECK_OK(vsok_listen("vsock:any:5105", 4, &lfd, err, sizeof err));
    vsok_err e = vsok_addr_from_fd(lfd, 0, &a);
    int fl = fcntl(lfd, F_GETFL), fdfl = fcntl(lfd, F_GETFD);
    close(lfd);
    CHECK(e == VSOK_OK, "from_fd: %s", vsok_errname(e));
    CHECK(a.kind == VSOK_ADDR_VSOCK && a.port == 5105, "kind %d port %" PRIu32, (int)a.kind, a.port);
    CHECK(fl >= 0 && (fl & O_NONBLOCK), "listening fd is not non-blocking");
    CHECK(fdfl >= 0 && (fdfl & FD_CLOEXEC), "listening fd is not close-on-exec");
    return 1;
}

static int listen_on_port_in_use_fails_eaddrinuse(void)
{
    int a = -1, b = -1;
    CHECK_OK(vsok_listen("vsock:any:5106", 4, &a, NULL, 0));
    errno = 0;
    vsok_err e = vsok_listen("vsock:any:5106", 4, &b, NULL, 0);
    int saved = errno;
    close(a);
    if (e == VSOK_OK)
        close(b);
    CHECK(e == VSOK_E_IO && saved == EADDRINUSE, "second listen gave %s errno %s", vsok_errname(e),
          strerror(saved));
    return 1;
}

static int accept_reports_peer_cid_and_ports(void)
{
    vsok_socket *c, *s;
    vsok_addr peer, cpeer, clocal;
    memset(&peer, 0, sizeof peer);
    if (!make_pair(5107, &c, &s, &peer))
        return 0;
    vsok_err e1 = vsok_addr_from_fd(vsok_socket_fd(c), 1, &cpeer);
    vsok_err e2 = vsok_addr_from_fd(vsok_socket_fd(c), 0, &clocal);
    int fdfl = fcntl(vsok_socket_fd(c), F_GETFD);
    close_pair(c, s);
    CHECK(peer.kind == VSOK_ADDR_VSOCK, "accept peer kind %d", (int)peer.kind);
    CHECK(peer.cid == VSOK_CID_LOCAL, "accept peer cid %" PRIu32 ", expected 1 (loopback)", peer.cid);
    CHECK(e1 == VSOK_OK && e2 == VSOK_OK, "from_fd: %s / %s", vsok_errname(e1), vsok_errname(e2));
    CHECK(cpeer.cid == VSOK_CID_LOCAL && cpeer.port == 5107, "client's peer %" PRIu32 ":%" PRIu32, cpeer.cid,
          cpeer.port);
    CHECK(peer.port == clocal.port && peer.port != 5107,
          "accept says peer port %" PRIu32 ", client is bound to %" PRIu32, peer.port, clocal.port);
    CHECK(fdfl >= 0 && (fdfl & FD_CLOEXEC), "connected fd is not close-on-exec");
    printf("# peer vsock:%" PRIu32 ":%" PRIu32 ", client local vsock:%" PRIu32 ":%" PRIu32 "\n", peer.cid,
           peer.port, clocal.cid, clocal.port);
    return 1;
}

static int connect_expect_reset(const char *text, int timeout_ms)
{
    vsok_addr a;
    int fd = -1;
    CHECK_OK(vsok_addr_parse(&a, text, NULL, 0));
    errno = 0;
    vsok_err e = vsok_addr_connect(&a, timeout_ms, &fd);
    int saved = errno;
    if (e == VSOK_OK)
        close(fd);
    CHECK(e == VSOK_E_IO, "connect %s (timeout %d) gave %s, expected Io", text, timeout_ms, vsok_errname(e));
    CHECK(saved == ECONNRESET, "connect %s (timeout %d): errno %d (%s), expected ECONNRESET", text,
          timeout_ms, saved, strerror(saved));
    return 1;
}

/* vsock has no "refused": a connection request to a port nobody listens on
 * is answered with a reset. */
static int connect_without_listener_gives_econnreset(void)
{
    if (!connect_expect_reset("vsock:local:5999", -1) || !connect_expect_reset("vsock:1:5999", 3000))
        return 0;
    vsok_socket *s = NULL;
    char err[256] = "";
    errno = 0;
    vsok_err e = vsok_socket_connect(&s, "vsock:local:5999", IO_TIMEOUT_MS, err, sizeof err);
    int saved = errno;
    vsok_socket_close(s);
    CHECK(e == VSOK_E_IO && saved == ECONNRESET, "socket_connect gave %s errno %s", vsok_errname(e),
          strerror(saved));
    printf("# connect vsock:local:5999 -> %s (%s): errno ECONNRESET: %s"
           " -- on vsock this means no listener on that port\n",
           vsok_errname(e), vsok_strerror(e), strerror(saved));
    return 1;
}

static int connect_to_bound_unlistened_port_gives_econnreset(void)
{
    int fd = vsock_raw();
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_vm sa = vm_addr(VMADDR_CID_ANY, 5998);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int saved = errno;
    if (rc != 0)
        close(fd);
    CHECK(rc == 0, "bind: %s", strerror(saved));
    int ok = connect_expect_reset("vsock:local:5998", -1);
    close(fd);
    return ok;
}

/* --- messages --- */

static int small_messages_roundtrip_in_order(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5110, &c, &s, NULL))
        return 0;
    /* 1000 queued (batched) messages then 200 sent one iov each: ~300 KiB,
     * more than the default 256 KiB vsock buffer, so the writer must wait for
     * the reader's credit. */
    struct writer w = {.s = c, .count = 1000, .seed0 = 1, .batched = 1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, writer_main, &w) == 0, "pthread_create");
    int ok = read_and_verify(s, 1000, 0, 1, 1);
    if (!join_writer(t, &w) || !ok) {
        close_pair(c, s);
        return 0;
    }
    struct writer w2 = {.s = c, .count = 200, .seed0 = 1, .batched = 2, .shutdown_after = 1};
    CHECK(pthread_create(&t, NULL, writer_main, &w2) == 0, "pthread_create");
    ok = read_and_verify(s, 200, 0, 1, 0);
    vsok_msg m;
    vsok_err e = ok ? vsok_socket_recv(s, &m) : VSOK_E_INVAL;
    ok = join_writer(t, &w2) && ok;
    close_pair(c, s);
    CHECK(ok, "see above");
    CHECK(e == VSOK_E_EOF, "after the last message: %s, expected Eof", vsok_errname(e));
    return 1;
}

static int max_payload_messages_roundtrip(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5111, &c, &s, NULL))
        return 0;
    struct writer w = {.s = c, .count = 8, .len = VSOK_MAX_PAYLOAD, .seed0 = 77};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, writer_main, &w) == 0, "pthread_create");
    int ok = read_and_verify(s, 4, VSOK_MAX_PAYLOAD, 77, 0);
    if (ok) {
        /* the zero-copy path for the second half; offsets continue */
        for (unsigned i = 4; i < 8 && ok; i++) {
            vsok_msg msg;
            vsok_err e = vsok_socket_recv(s, &msg);
            ok = e == VSOK_OK && msg.len == VSOK_MAX_PAYLOAD &&
                 first_mismatch(msg.data, msg.len, 77 + i) == msg.len &&
                 msg.offset == (uint64_t)i * (VSOK_HEADER_SIZE + VSOK_MAX_PAYLOAD);
            if (!ok)
                printf("# recv %u: %s len %zu offset %" PRIu64 "\n", i, vsok_errname(e),
                       e == VSOK_OK ? msg.len : 0, e == VSOK_OK ? msg.offset : 0);
        }
    }
    ok = join_writer(t, &w) && ok;
    close_pair(c, s);
    return ok;
}

static int invalid_lengths_rejected_before_any_byte(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5112, &c, &s, NULL))
        return 0;
    static uint8_t big[VSOK_MAX_PAYLOAD + 1];
    vsok_err e1 = vsok_socket_write_message(c, big, sizeof big);
    vsok_err e2 = vsok_socket_write_message(c, big, 0);
    vsok_err e3 = vsok_socket_write_message(c, "after", 5);
    vsok_msg m;
    vsok_err e4 = vsok_socket_recv(s, &m);
    int same = e4 == VSOK_OK && m.len == 5 && memcmp(m.data, "after", 5) == 0 && m.offset == 0;
    close_pair(c, s);
    CHECK(e1 == VSOK_E_TOO_LARGE, "1 MiB + 1: %s, expected MessageTooLarge", vsok_errname(e1));
    CHECK(e2 == VSOK_E_LENGTH, "0 bytes: %s, expected InvalidTotalLength", vsok_errname(e2));
    CHECK(e3 == VSOK_OK && e4 == VSOK_OK, "valid message: %s / %s", vsok_errname(e3), vsok_errname(e4));
    CHECK(same, "the first frame on the wire is not the valid message (rejected ones leaked bytes)");
    return 1;
}

static int coalesced_frames_split_into_messages(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5113, &c, &s, NULL))
        return 0;
    uint8_t wire[50 * 18];
    for (unsigned i = 0; i < 50; i++) {
        (void)vsok_header_encode(wire + i * 18, 10);
        fill(wire + i * 18 + 8, 10, 300 + i);
    }
    ssize_t n = write(vsok_socket_fd(c), wire, sizeof wire); /* one write, many frames */
    int ok = n == (ssize_t)sizeof wire;
    if (!ok)
        printf("# raw write: %zd (%s)\n", n, strerror(errno));
    ok = ok && read_and_verify(s, 50, 10, 300, 1);
    close_pair(c, s);
    return ok;
}

static int clean_close_gives_eof_at_boundary(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5114, &c, &s, NULL))
        return 0;
    vsok_err w1 = vsok_socket_write_message(c, "one", 3);
    vsok_err w2 = vsok_socket_write_message(c, "two", 3);
    vsok_socket_close(c);
    vsok_err r1 = read_one(s, NULL);
    vsok_err r2 = read_one(s, NULL);
    vsok_err r3 = read_one(s, NULL);
    vsok_socket_close(s);
    CHECK(w1 == VSOK_OK && w2 == VSOK_OK, "writes: %s %s", vsok_errname(w1), vsok_errname(w2));
    CHECK(r1 == VSOK_OK && r2 == VSOK_OK, "reads: %s %s", vsok_errname(r1), vsok_errname(r2));
    CHECK(r3 == VSOK_E_EOF, "after peer close: %s, expected Eof", vsok_errname(r3));
    return 1;
}

/* The peer sends raw bytes (then closes, or stays connected and silent); the
 * reader must report want at stream offset want_off. */
static int raw_bytes_give(uint32_t port, const void *bytes, size_t n, int close_after, vsok_err want,
                          uint64_t want_off)
{
    vsok_socket *c, *s;
    if (!make_pair(port, &c, &s, NULL))
        return 0;
    ssize_t w = write(vsok_socket_fd(c), bytes, n);
    if (close_after) {
        vsok_socket_close(c);
        c = NULL;
    }
    uint64_t off = 0;
    vsok_err e = read_one(s, &off);
    close_pair(c, s);
    CHECK(w == (ssize_t)n, "raw write %zd of %zu", w, n);
    CHECK(e == want, "got %s, expected %s", vsok_errname(e), vsok_errname(want));
    CHECK(off == want_off, "%s at offset %" PRIu64 ", expected %" PRIu64, vsok_errname(e), off, want_off);
    return 1;
}

/* Truncated is reported where the stream ended. */
static int close_inside_frame_gives_truncated(void)
{
    uint8_t wire[18];
    (void)vsok_header_encode(wire, 100);
    memset(wire + 8, 'x', 10);
    return raw_bytes_give(5115, wire, sizeof wire, 1, VSOK_E_TRUNCATED, 18);
}

/* The reader must not wait for more bytes (or for the close) to reject a
 * stream whose first byte is wrong: the sender stays connected and silent. */
static int wrong_magic_reported_without_waiting(void)
{
    return raw_bytes_give(5116, "G", 1, 0, VSOK_E_MAGIC, 0);
}

static int half_close_then_reply(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5117, &c, &s, NULL))
        return 0;
    int ok = 1;
    for (unsigned i = 0; i < 5 && ok; i++)
        ok = vsok_socket_write_message(c, "req", 3) == VSOK_OK;
    vsok_err sh = vsok_socket_shutdown_write(c);
    unsigned got = 0;
    vsok_err e;
    while ((e = read_one(s, NULL)) == VSOK_OK && got < 10)
        got++;
    char reply[32];
    int rl = snprintf(reply, sizeof reply, "got %u", got);
    vsok_err w = vsok_socket_write_message(s, reply, (size_t)rl);
    vsok_socket_close(s);
    uint8_t *r = NULL;
    size_t rlen = 0;
    vsok_err re = vsok_socket_read_message(c, &r, &rlen);
    int match = re == VSOK_OK && rlen == (size_t)rl && memcmp(r, reply, rlen) == 0;
    free(r);
    vsok_err re2 = read_one(c, NULL);
    vsok_socket_close(c);
    CHECK(ok && sh == VSOK_OK, "client writes / shutdown: %s", vsok_errname(sh));
    CHECK(got == 5 && e == VSOK_E_EOF, "server read %u messages then %s", got, vsok_errname(e));
    CHECK(w == VSOK_OK, "server reply after client half-close: %s", vsok_errname(w));
    CHECK(match, "client did not get the reply after its own half-close: %s", vsok_errname(re));
    CHECK(re2 == VSOK_E_EOF, "then %s, expected Eof", vsok_errname(re2));
    return 1;
}

/* Writing to a closed peer must fail with EPIPE, not kill us with SIGPIPE
 * (this process keeps SIGPIPE's default action on purpose). */
static int write_after_peer_close_gives_epipe(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5118, &c, &s, NULL))
        return 0;
    vsok_socket_close(s);
    /* Eof proves the peer's shutdown (both directions) has arrived, so the
     * write below cannot race it. */
    vsok_err r = read_one(c, NULL);
    errno = 0;
    vsok_err w = vsok_socket_write_message(c, "late", 4);
    int saved = errno;
    vsok_socket_close(c);
    CHECK(r == VSOK_E_EOF, "read after peer close: %s", vsok_errname(r));
    CHECK(w == VSOK_E_IO && saved == EPIPE, "write after peer close: %s errno %s", vsok_errname(w),
          strerror(saved));
    return 1;
}

static int read_deadline_on_silent_peer_then_recovers(void)
{
    vsok_socket *c, *s;
    if (!make_pair(5119, &c, &s, NULL))
        return 0;
    vsok_socket_set_timeout(s, 300);
    vsok_msg m;
    vsok_err e1 = vsok_socket_recv(s, &m);
    vsok_socket_set_timeout(s, IO_TIMEOUT_MS);
    vsok_err w = vsok_socket_write_message(c, "late but fine", 13);
    vsok_err e2 = vsok_socket_recv(s, &m);
    int ok = e2 == VSOK_OK && m.len == 13 && memcmp(m.data, "late but fine", 13) == 0;
    close_pair(c, s);
    CHECK(e1 == VSOK_E_TIMEOUT, "silent peer: %s, expected Timeout", vsok_errname(e1));
    CHECK(w == VSOK_OK && ok, "message after the timeout: %s / %s", vsok_errname(w), vsok_errname(e2));
    return 1;
}

/* --- vsock socket options --- */

static int buffer_size_clamped_to_min_and_max(void)
{
    int fd = vsock_raw();
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    uint64_t size = 0, min = 0, max = 0, v = 0;
    int rc = get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, &size) |
             get_u64(fd, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &min) |
             get_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &max);
    printf("# defaults: size %" PRIu64 " min %" PRIu64 " max %" PRIu64 "\n", size, min, max);
    int ok = rc == 0 && min <= size && size <= max;
    /* above max: clamped to max */
    ok = ok && set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, max * 4) == 0 &&
         get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, &v) == 0 && v == max;
    uint64_t above = v;
    /* below min: raised to min */
    ok = ok && set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, min / 2) == 0 &&
         get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, &v) == 0 && v == min;
    uint64_t below = v;
    /* raise the max first, then the size is taken as asked */
    ok = ok && set_u64(fd, SO_VM_SOCKETS_BUFFER_MAX_SIZE, 4u << 20) == 0 &&
         set_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, 2u << 20) == 0 &&
         get_u64(fd, SO_VM_SOCKETS_BUFFER_SIZE, &v) == 0 && v == (2u << 20);
    close(fd);
    CHECK(ok,
          "size above max read back %" PRIu64 ", below min %" PRIu64 ", 2 MiB under 4 MiB max %" PRIu64
          " (errno %s)",
          above, below, v, strerror(errno));
    return 1;
}

/* A 4 KiB vsock buffer on both ends: a 1 MiB message crosses in hundreds of
 * partial writes and credit updates; the library must retry them all. */
static int tiny_buffer_still_moves_max_message(void)
{
    int lfd = vsock_raw(), cfd = vsock_raw();
    CHECK(lfd >= 0 && cfd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_vm la = vm_addr(VMADDR_CID_ANY, 5120), ca = vm_addr(VMADDR_CID_LOCAL, 5120);
    int ok = set_u64(lfd, SO_VM_SOCKETS_BUFFER_SIZE, 4096) == 0 &&
             set_u64(cfd, SO_VM_SOCKETS_BUFFER_SIZE, 4096) == 0 &&
             bind(lfd, (struct sockaddr *)&la, sizeof la) == 0 && listen(lfd, 4) == 0 &&
             connect(cfd, (struct sockaddr *)&ca, sizeof ca) == 0;
    if (!ok) {
        printf("# setup: %s\n", strerror(errno));
        close(lfd);
        close(cfd);
        return 0;
    }
    vsok_socket *c = NULL, *s = NULL;
    vsok_err e1 = vsok_socket_open(&c, cfd, NULL);
    vsok_err e2 = vsok_socket_accept(&s, lfd, IO_TIMEOUT_MS, NULL, NULL);
    close(lfd);
    if (e1 != VSOK_OK || e2 != VSOK_OK) {
        close_pair(c, s);
        CHECK(0, "open/accept: %s / %s", vsok_errname(e1), vsok_errname(e2));
    }
    uint64_t inherited = 0;
    (void)get_u64(vsok_socket_fd(s), SO_VM_SOCKETS_BUFFER_SIZE, &inherited);
    struct writer w = {.s = c, .count = 1, .len = VSOK_MAX_PAYLOAD, .seed0 = 9};
    pthread_t t;
    if (pthread_create(&t, NULL, writer_main, &w) != 0) {
        close_pair(c, s);
        CHECK(0, "pthread_create");
    }
    ok = read_and_verify(s, 1, VSOK_MAX_PAYLOAD, 9, 0);
    ok = join_writer(t, &w) && ok;
    close_pair(c, s);
    CHECK(ok, "see above");
    CHECK(inherited == 4096, "accepted socket's buffer %" PRIu64 ", expected the listener's 4096", inherited);
    return 1;
}

static int connect_timeout_option_roundtrip_and_range(void)
{
    int fd = vsock_raw();
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 1, .tv_usec = 500000}, got = {0, 0}, bad1 = {0, 1000000}, bad2 = {-1, 0};
    socklen_t gl = sizeof got;
    int rc = setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof tv);
    int rg = getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &got, &gl);
    errno = 0;
    int rb1 = setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &bad1, sizeof bad1);
    int eb1 = errno;
    errno = 0;
    int rb2 = setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &bad2, sizeof bad2);
    int eb2 = errno;
    /* The option is honoured by a real connect to a listener. */
    int lfd = -1;
    vsok_err le = vsok_listen("vsock:any:5121", 4, &lfd, NULL, 0);
    struct sockaddr_vm ca = vm_addr(VMADDR_CID_LOCAL, 5121);
    int rcon = le == VSOK_OK ? connect(fd, (struct sockaddr *)&ca, sizeof ca) : -1;
    int econ = errno;
    if (le == VSOK_OK)
        close(lfd);
    close(fd);
    CHECK(rc == 0 && rg == 0, "set/get: %d/%d", rc, rg);
    /* read back in jiffies: allow one 1/100 s tick of rounding */
    CHECK(got.tv_sec == 1 && got.tv_usec >= 500000 && got.tv_usec <= 510000, "read back %ld.%06ld s",
          (long)got.tv_sec, (long)got.tv_usec);
    CHECK(rb1 == -1 && eb1 == ERANGE, "tv_usec 1000000: rc %d errno %s", rb1, strerror(eb1));
    CHECK(rb2 == -1 && eb2 == ERANGE, "tv_sec -1: rc %d errno %s", rb2, strerror(eb2));
    CHECK(rcon == 0, "connect with 1.5 s timeout to a listener: %s", strerror(econ));
    return 1;
}

/* --- many connections --- */

#define NCONN 100

static int hundred_concurrent_connections(void)
{
    static vsok_socket *cli[NCONN], *srv[NCONN];
    int lfd = -1, ok = 1;
    char err[256] = "";
    memset(cli, 0, sizeof cli);
    memset(srv, 0, sizeof srv);
    CHECK_OK(vsok_listen("vsock:any:5122", 128, &lfd, err, sizeof err));
    unsigned ports_seen = 0;
    uint32_t ports[NCONN];
    /* All connected before the first accept: the kernel holds them in the
     * backlog. */
    for (int i = 0; i < NCONN && ok; i++) {
        vsok_err e = vsok_socket_connect(&cli[i], "vsock:local:5122", IO_TIMEOUT_MS, err, sizeof err);
        if (e != VSOK_OK) {
            printf("# connect #%d: %s (%s)\n", i, vsok_errname(e), strerror(errno));
            ok = 0;
        } else
            vsok_socket_set_timeout(cli[i], IO_TIMEOUT_MS);
    }
    for (int i = 0; i < NCONN && ok; i++) {
        vsok_addr peer;
        memset(&peer, 0, sizeof peer);
        vsok_err e = vsok_socket_accept(&srv[i], lfd, IO_TIMEOUT_MS, NULL, &peer);
        if (e != VSOK_OK || peer.cid != VSOK_CID_LOCAL) {
            printf("# accept #%d: %s peer cid %" PRIu32 "\n", i, vsok_errname(e), peer.cid);
            ok = 0;
            break;
        }
        vsok_socket_set_timeout(srv[i], IO_TIMEOUT_MS);
        for (unsigned k = 0; k < ports_seen; k++)
            if (ports[k] == peer.port) {
                printf("# peer port %" PRIu32 " accepted twice\n", peer.port);
                ok = 0;
            }
        ports[ports_seen++] = peer.port;
    }
    close(lfd);
    for (int i = 0; i < NCONN && ok; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "conn %d", i);
        ok = vsok_socket_write_message(cli[i], msg, (size_t)n) == VSOK_OK;
    }
    /* every server side learns which client it has, and echoes */
    int seen[NCONN] = {0};
    for (int i = 0; i < NCONN && ok; i++) {
        uint8_t *m = NULL;
        size_t len = 0;
        int id = -1;
        char text[40];
        ok = vsok_socket_read_message(srv[i], &m, &len) == VSOK_OK && len < sizeof text;
        if (ok) {
            memcpy(text, m, len);
            text[len] = '\0';
            ok = sscanf(text, "conn %d", &id) == 1 && id >= 0 && id < NCONN && !seen[id];
        }
        free(m);
        if (!ok) {
            printf("# server side #%d got a bad or duplicate id\n", i);
            break;
        }
        seen[id] = 1;
        int n = snprintf(text, sizeof text, "echo %d", id);
        ok = vsok_socket_write_message(srv[i], text, (size_t)n) == VSOK_OK;
    }
    for (int i = 0; i < NCONN && ok; i++) {
        vsok_msg m;
        char want[32];
        int n = snprintf(want, sizeof want, "echo %d", i);
        ok = vsok_socket_recv(cli[i], &m) == VSOK_OK && m.len == (size_t)n &&
             memcmp(m.data, want, (size_t)n) == 0;
        if (!ok)
            printf("# client %d: wrong or missing echo\n", i);
    }
    for (int i = 0; i < NCONN; i++)
        close_pair(cli[i], srv[i]);
    return ok;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!vsok_vm_guest_check("vsok-vsock-tests"))
        return 77;

    run("addr_parses_vsock_forms", addr_parses_vsock_forms);
    run("addr_rejects_malformed_vsock_forms", addr_rejects_malformed_vsock_forms);
    run("addr_formats_vsock_canonically", addr_formats_vsock_canonically);
    run("listen_reports_bound_vsock_address", listen_reports_bound_vsock_address);
    run("listen_on_port_in_use_fails_eaddrinuse", listen_on_port_in_use_fails_eaddrinuse);
    run("accept_reports_peer_cid_and_ports", accept_reports_peer_cid_and_ports);
    run("connect_without_listener_gives_econnreset", connect_without_listener_gives_econnreset);
    run("connect_to_bound_unlistened_port_gives_econnreset",
        connect_to_bound_unlistened_port_gives_econnreset);
    run("small_messages_roundtrip_in_order", small_messages_roundtrip_in_order);
    run("max_payload_messages_roundtrip", max_payload_messages_roundtrip);
    run("invalid_lengths_rejected_before_any_byte", invalid_lengths_rejected_before_any_byte);
    run("coalesced_frames_split_into_messages", coalesced_frames_split_into_messages);
    run("clean_close_gives_eof_at_boundary", clean_close_gives_eof_at_boundary);
    run("close_inside_frame_gives_truncated", close_inside_frame_gives_truncated);
    run("wrong_magic_reported_without_waiting", wrong_magic_reported_without_waiting);
    run("half_close_then_reply", half_close_then_reply);
    run("write_after_peer_close_gives_epipe", write_after_peer_close_gives_epipe);
    run("read_deadline_on_silent_peer_then_recovers", read_deadline_on_silent_peer_then_recovers);
    run("buffer_size_clamped_to_min_and_max", buffer_size_clamped_to_min_and_max);
    run("tiny_buffer_still_moves_max_message", tiny_buffer_still_moves_max_message);
    run("connect_timeout_option_roundtrip_and_range", connect_timeout_option_roundtrip_and_range);
    run("hundred_concurrent_connections", hundred_concurrent_connections);

    printf("%u passed, %u failed\n", n_run - n_failed, n_failed);
    return n_failed ? 1 : 0;
}
