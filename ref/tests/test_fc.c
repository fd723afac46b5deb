/* SPDX-License-Identifier: MIT */
/* Tests for Firecracker hybrid vsock (fc:UDS_PATH:PORT) against a fake
 * Firecracker: a thread that listens on a real Unix socket, reads the
 * "CONNECT <port>\n" line and answers with a scripted reply.
 *
 * The point of most tests is the boundary: Firecracker may put the guest
 * application's first bytes in the same segment as "OK <n>\n", so the
 * handshake must consume exactly the OK line and leave the rest.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsok/address.h"

#define WAIT_MS 5000

typedef enum {
    REPLY,            /* write reply in one write, then hold until the client closes */
    CLOSE_NO_REPLY,   /* close right after reading CONNECT */
    REPLY_THEN_CLOSE, /* write reply, close at once */
    HOLD_NO_REPLY,    /* never answer; hold until the client closes */
    REPLY_IN_TWO,     /* reply split at split_at into two writes */
} fake_mode;

typedef struct {
    char dir[64];
    char path[128];
    int lfd;
    fake_mode mode;
    const char *reply;
    size_t reply_len;
    size_t split_at;
    /* filled by the thread, checked by the test after join */
    char got[64];
    size_t gotn;
    int accepted;
    int wrote_ok;
    pthread_t th;
} fake_fc;

static int poll_one(int fd, short ev)
{
    struct pollfd pfd = {.fd = fd, .events = ev, .revents = 0};
    return poll(&pfd, 1, WAIT_MS);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The thread records instead of asserting: Criterion's asserts must run on
 * the test's own thread. */
static void *fake_main(void *arg)
{
    fake_fc *f = arg;
    if (poll_one(f->lfd, POLLIN) != 1)
        return NULL;
    int c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return NULL;
    f->accepted = 1;
    /* Byte by byte, like Firecracker's own line reader: it must not
     * matter how the client split its write. */
    while (f->gotn < sizeof f->got - 1) {
        char ch;
        if (poll_one(c, POLLIN) != 1 || read(c, &ch, 1) != 1)
            break;
        f->got[f->gotn++] = ch;
        if (ch == '\n')
            break;
    }
    f->got[f->gotn] = '\0';
    switch (f->mode) {
    case CLOSE_NO_REPLY: close(c); return NULL;
    case REPLY:
    case REPLY_THEN_CLOSE: f->wrote_ok = write_all(c, f->reply, f->reply_len) == 0; break;
    case REPLY_IN_TWO:
        f->wrote_ok = write_all(c, f->reply, f->split_at) == 0 &&
                      write_all(c, f->reply + f->split_at, f->reply_len - f->split_at) == 0;
        break;
    case HOLD_NO_REPLY: break;
    }
    if (f->mode != REPLY_THEN_CLOSE) {
        /* Keep the connection open until the client hangs up, so a client
         * that fails did so on its own rules, not because we left. */
        char sink[64];
        for (int i = 0; i < 1000 && poll_one(c, POLLIN) == 1; i++)
            if (read(c, sink, sizeof sink) <= 0)
                break;
    }
    close(c);
    return NULL;
}

static void fake_start(fake_fc *f, fake_mode mode, const char *reply, size_t reply_len)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->reply = reply;
    f->reply_len = reply_len;
    snprintf(f->dir, sizeof f->dir, "/tmp/vsok-fc-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir), "mkdtemp: %s", strerror(errno));
    snprintf(f->path, sizeof f->path, "%s/v.sock", f->dir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(f->lfd, 0);
    cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0, "%s", strerror(errno));
    cr_assert_eq(listen(f->lfd, 4), 0);
    cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake_fc *f)
{
    cr_assert_eq(pthread_join(f->th, NULL), 0);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
}

static vsok_err fc_connect(fake_fc *f, uint32_t port, int timeout_ms, int *fd)
{
    char text[160];
    snprintf(text, sizeof text, "fc:%s:%u", f->path, (unsigned)port);
    return vsok_connect(text, timeout_ms, fd, NULL, 0);
}

/* Reads exactly n bytes within the bounded wait. */
static void read_exactly(int fd, char *buf, size_t n)
{
    size_t have = 0;
    for (int i = 0; i < 100 && have < n; i++) {
        cr_assert_eq(poll_one(fd, POLLIN), 1, "only %zu of %zu bytes arrived", have, n);
        ssize_t r = read(fd, buf + have, n - have);
        cr_assert_gt(r, 0, "read: %s", r < 0 ? strerror(errno) : "EOF");
        have += (size_t)r;
    }
    cr_assert_eq(have, n);
}

static void expect_handshake_fails(const char *reply, size_t len)
{
    fake_fc f;
    int fd = 42;
    fake_start(&f, REPLY, reply, len);
    errno = 0;
    vsok_err e = fc_connect(&f, 5000, WAIT_MS, &fd);
    fake_stop(&f);
    cr_assert_eq(e, VSOK_E_HANDSHAKE, "reply '%.*s' gave error %d (errno %s)", (int)len, reply, (int)e,
                 strerror(errno));
    cr_assert_eq(fd, -1);
    cr_assert_str_eq(f.got, "CONNECT 5000\n");
}

#define REPLY_LIT(s) (s), (sizeof(s) - 1)

Test(fc, handshake_leaves_application_bytes_in_the_socket)
{
    static const char reply[] = "OK 1073741824\nVSOK\0\0\0\5hello";
    const size_t app = sizeof reply - 1 - 14;
    fake_fc f;
    int fd = -1;
    char buf[32];
    fake_start(&f, REPLY, reply, sizeof reply - 1);
    cr_assert_eq(fc_connect(&f, 5000, WAIT_MS, &fd), VSOK_OK, "%s", strerror(errno));
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "connected fd is blocking");
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    read_exactly(fd, buf, app);
    cr_assert(memcmp(buf, "VSOK\0\0\0\5hello", app) == 0,
              "the bytes after the OK line must reach the application intact");
    close(fd);
    fake_stop(&f);
    cr_assert(f.wrote_ok);
    cr_assert_str_eq(f.got, "CONNECT 5000\n");
}

Test(fc, reply_split_across_writes_is_accepted)
{
    static const char reply[] = "OK 10737\nAPP";
    fake_fc f;
    int fd = -1;
    char buf[4] = {0};
    fake_start(&f, REPLY_IN_TWO, reply, sizeof reply - 1);
    f.split_at = 5;
    cr_assert_eq(fc_connect(&f, 5000, WAIT_MS, &fd), VSOK_OK, "%s", strerror(errno));
    read_exactly(fd, buf, 3);
    cr_assert_str_eq(buf, "APP");
    close(fd);
    fake_stop(&f);
}

Test(fc, reply_then_close_still_connects)
{
    fake_fc f;
    int fd = -1;
    char c;
    fake_start(&f, REPLY_THEN_CLOSE, REPLY_LIT("OK 7\n"));
    cr_assert_eq(fc_connect(&f, 5000, WAIT_MS, &fd), VSOK_OK, "%s", strerror(errno));
    cr_assert_eq(poll_one(fd, POLLIN), 1);
    cr_assert_eq(read(fd, &c, 1), 0, "nothing but EOF follows the OK line");
    close(fd);
    fake_stop(&f);
}

Test(fc, connect_line_carries_the_port)
{
    fake_fc f;
    int fd = -1;
    fake_start(&f, REPLY, REPLY_LIT("OK 0\n"));
    cr_assert_eq(fc_connect(&f, 4294967295u, WAIT_MS, &fd), VSOK_OK, "%s", strerror(errno));
    close(fd);
    fake_stop(&f);
    cr_assert_str_eq(f.got, "CONNECT 4294967295\n");
}

Test(fc, reply_without_number_is_handshake_error)
{
    expect_handshake_fails(REPLY_LIT("OK\n"));
    expect_handshake_fails(REPLY_LIT("OK \n"));
}

Test(fc, reply_with_junk_in_number_is_handshake_error)
{
    expect_handshake_fails(REPLY_LIT("OK 12x\n"));
    expect_handshake_fails(REPLY_LIT("OK -5\n"));
    expect_handshake_fails(REPLY_LIT("OK  5\n"));
    expect_handshake_fails(REPLY_LIT("OK 5\r\n"));
    expect_handshake_fails(REPLY_LIT("OKx5\n"));
}

Test(fc, reply_number_above_u32_is_handshake_error) { expect_handshake_fails(REPLY_LIT("OK 4294967296\n")); }

Test(fc, refusal_is_handshake_error) { expect_handshake_fails(REPLY_LIT("NO\n")); }

Test(fc, lowercase_ok_is_handshake_error) { expect_handshake_fails(REPLY_LIT("ok 5\n")); }

Test(fc, overlong_line_without_newline_fails_fast)
{
    /* The fake keeps the connection open: only the line bound, not the
     * 5 s deadline, can end this with HANDSHAKE instead of TIMEOUT. */
    expect_handshake_fails(REPLY_LIT("OK 1111111111111111111111111111111111111111"));
    expect_handshake_fails(REPLY_LIT("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

Test(fc, reply_cut_off_mid_line_is_handshake_error)
{
    fake_fc f;
    int fd = 42;
    fake_start(&f, REPLY_THEN_CLOSE, REPLY_LIT("OK 5"));
    cr_assert_eq(fc_connect(&f, 5000, WAIT_MS, &fd), VSOK_E_HANDSHAKE);
    cr_assert_eq(fd, -1);
    fake_stop(&f);
}

Test(fc, close_without_reply_is_io_econnreset)
{
    /* What Firecracker does when no guest listens on the port. */
    fake_fc f;
    int fd = 42;
    fake_start(&f, CLOSE_NO_REPLY, NULL, 0);
    errno = 0;
    cr_assert_eq(fc_connect(&f, 5000, WAIT_MS, &fd), VSOK_E_IO);
    cr_assert_eq(errno, ECONNRESET, "errno %s", strerror(errno));
    cr_assert_eq(fd, -1);
    fake_stop(&f);
    cr_assert_str_eq(f.got, "CONNECT 5000\n");
}

Test(fc, silent_server_times_out)
{
    fake_fc f;
    int fd = 42;
    fake_start(&f, HOLD_NO_REPLY, NULL, 0);
    cr_assert_eq(fc_connect(&f, 5000, 100, &fd), VSOK_E_TIMEOUT);
    cr_assert_eq(errno, ETIMEDOUT);
    cr_assert_eq(fd, -1);
    fake_stop(&f); /* the fake sees our close and exits */
}

Test(fc, missing_socket_is_io_enoent)
{
    int fd = 42;
    char text[] = "fc:/nonexistent-vsok-dir/v.sock:5000";
    cr_assert_eq(vsok_connect(text, WAIT_MS, &fd, NULL, 0), VSOK_E_IO);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(fd, -1);
}

Test(fc, listen_binds_path_underscore_port)
{
    char dir[64], text[256], portpath[128], base[128];
    int lfd = -1, cfd = -1;
    struct stat st;
    vsok_addr la;
    snprintf(dir, sizeof dir, "/tmp/vsok-fc-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(base, sizeof base, "%s/v.sock", dir);
    snprintf(portpath, sizeof portpath, "%s/v.sock_5000", dir);
    snprintf(text, sizeof text, "fc:%s:5000", base);
    cr_assert_eq(vsok_listen(text, 8, &lfd, NULL, 0), VSOK_OK, "%s", strerror(errno));
    cr_assert_eq(lstat(portpath, &st), 0, "%s must exist", portpath);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_neq(lstat(base, &st), 0, "the UDS path itself belongs to Firecracker");
    cr_assert_eq(vsok_addr_from_fd(lfd, 0, &la), VSOK_OK);
    cr_assert_str_eq(la.path, portpath);
    /* A guest-initiated connection arrives as a plain Unix connect. */
    snprintf(text, sizeof text, "unix:%s", portpath);
    cr_assert_eq(vsok_connect(text, WAIT_MS, &cfd, NULL, 0), VSOK_OK);
    cr_assert_eq(poll_one(lfd, POLLIN), 1);
    int afd = accept(lfd, NULL, NULL);
    cr_assert_geq(afd, 0);
    close(afd);
    close(cfd);
    close(lfd);
    unlink(portpath);
    rmdir(dir);
}

Test(fc, listen_path_too_long_for_port_suffix)
{
    char text[160] = "fc:/";
    int fd = 3;
    memset(text + 4, 'p', 103); /* 104-byte path parses; +"_5000" does not fit */
    strcpy(text + 107, ":5000");
    cr_assert_eq(vsok_listen(text, 8, &fd, NULL, 0), VSOK_E_ADDRESS);
    cr_assert_eq(errno, ENAMETOOLONG);
    cr_assert_eq(fd, -1);
}
