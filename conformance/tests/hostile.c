/* SPDX-License-Identifier: MIT */
/* hostile.c - implementations under test that attack the runner rather than
 * break a protocol rule: the runner must survive them with bounded time and
 * memory and say what happened.
 *
 *   vc-hostile MODE listen ADDR [READY_FD]     server role (thread per connection)
 *   vc-hostile MODE stdio                      exec role
 *
 * MODE: silent    reads and discards, never writes, never closes
 *       garbage   sends 4 KiB of bytes that are not a frame, then discards input
 *       endless   sends an endless stream of 'A' until the runner goes away
 *       gigantic  answers with a header announcing 4 GiB - 1, then endless payload
 *       slow      a correct echo, but each echo leaves 1 s after its message
 *       crash     a correct echo that abort()s the whole process on a protocol error
 *       late      a correct echo that judges the magic only once 8 header bytes are in
 *                 (legal, discouraged: NON-STRICT)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vsok/vsok.h>

static const char *mode;

static int put(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int get(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void late_echo(int in, int out)
{
    static uint8_t buf[8 + 1048576];
    for (;;) {
        if (get(in, buf, 8) != 0 || memcmp(buf, "VSOK", 4) != 0)
            return;
        uint32_t n = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
        if (n == 0 || n > 1048576 || get(in, buf + 8, n) != 0 || put(out, buf, 8 + (size_t)n) != 0)
            return;
    }
}

static void discard(int fd)
{
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

static void serve(int in, int out)
{
    static char blob[65536];
    if (!strcmp(mode, "silent")) {
        discard(in);
        pause(); /* never close */
    } else if (!strcmp(mode, "garbage")) {
        for (size_t i = 0; i < 4096; i++)
            blob[i] = (char)(0x80 | (i * 37));
        if (put(out, blob, 4096) == 0)
            discard(in);
    } else if (!strcmp(mode, "endless") || !strcmp(mode, "gigantic")) {
        memset(blob, 'A', sizeof blob);
        if (!strcmp(mode, "gigantic") && put(out, "VSOK\xff\xff\xff\xff", 8) != 0)
            return;
        while (put(out, blob, sizeof blob) == 0) {
        }
    } else if (!strcmp(mode, "late")) {
        late_echo(in, out);
    } else if (!strcmp(mode, "slow") || !strcmp(mode, "crash")) {
        int slow = !strcmp(mode, "slow");
        for (;;) {
            uint8_t *msg;
            size_t len;
            vsok_err e = vsok_read_message(in, &msg, &len);
            if (e != VSOK_OK && e != VSOK_E_EOF && !slow)
                abort();
            if (e != VSOK_OK)
                return;
            if (slow)
                sleep(1);
            e = vsok_write_message(out, msg, len);
            free(msg);
            if (e != VSOK_OK)
                return;
        }
    }
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve(fd, fd);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vc-hostile MODE listen ADDR [READY_FD] | vc-hostile MODE stdio\n");
        return 2;
    }
    mode = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(argv[2], "stdio")) {
        serve(0, 1);
        return 1;
    }
    if (strcmp(argv[2], "listen") != 0 || argc < 4)
        return 2;
    int lfd;
    char err[256];
    if (vsok_listen(argv[3], 64, &lfd, err, sizeof err) != VSOK_OK) {
        fprintf(stderr, "vc-hostile: %s\n", err);
        return 2;
    }
    int fl = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK);
    if (argc > 4) {
        vsok_addr a;
        char text[300] = "?";
        if (vsok_addr_from_fd(lfd, 0, &a) == VSOK_OK)
            vsok_addr_format(&a, text, sizeof text);
        dprintf(atoi(argv[4]), "%s\n", text);
        close(atoi(argv[4]));
    }
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return 1;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
