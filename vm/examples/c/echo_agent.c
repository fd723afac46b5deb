/* SPDX-License-Identifier: MIT */
/* vm/examples/c/echo_agent.c - a VSOK echo agent over AF_VSOCK with libvsok.
 *
 *   echo-agent listen PORT     serve vsock:any:PORT, one thread per connection
 *   echo-agent connect ADDR    connect to ADDR (e.g. vsock:1:5000), echo, exit
 *
 * Every valid message comes back as one frame; on a protocol error the
 * connection is closed (and the error named on stderr with its offset).
 * Certify it, in a throw-away VM, in both roles:
 *   scripts/vm-test --iut 'build/vm/vsok-echo-agent listen {port}'
 *   scripts/vm-test --iut 'build/vm/vsok-echo-agent connect {addr}' --role client
 *
 * ECHO_AGENT_BROKEN builds the deliberately faulty variant the self-test
 * must see FAIL: it drops the last byte of every echo longer than 100 bytes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vsok/vsok.h>

/* A connection that sends nothing for this long is dropped: no wait is
 * unbounded, even with a silent peer. */
#define IDLE_MS 30000

/* Echoes until the peer closes or breaks the protocol; 0 on a clean end. */
static int echo(vsok_socket *s, const char *who)
{
    vsok_socket_set_timeout(s, IDLE_MS);
    for (;;) {
        uint8_t *msg;
        size_t len;
        vsok_err e = vsok_socket_read_message(s, &msg, &len);
        if (e == VSOK_E_EOF)
            return 0;
        if (e != VSOK_OK) {
            fprintf(stderr, "echo-agent: %s: %s at offset %llu\n", who, vsok_errname(e),
                    (unsigned long long)vsok_socket_error_offset(s));
            return 1;
        }
#ifdef ECHO_AGENT_BROKEN
        if (len > 100)
            len--;
#endif
        e = vsok_socket_write_message(s, msg, len);
        free(msg);
        if (e != VSOK_OK) {
            fprintf(stderr, "echo-agent: %s: write: %s\n", who, vsok_errname(e));
            return 1;
        }
    }
}

static void *serve(void *arg)
{
    vsok_socket *s = arg;
    echo(s, "connection");
    vsok_socket_close(s);
    return NULL;
}

int main(int argc, char **argv)
{
    char addr[64], err[256] = "";
    /* Safety net for this repository only, delete it in your agent: never
     * open a vsock socket outside scripts/vm-test's guest. */
    const char *guest = getenv("VSOK_VM_GUEST");
    if (guest == NULL || strcmp(guest, "1") != 0) {
        fprintf(stderr, "echo-agent: refusing to run outside the vsok test VM\n");
        return 77;
    }
    if (argc == 3 && strcmp(argv[1], "connect") == 0) {
        vsok_socket *s;
        vsok_err e = vsok_socket_connect(&s, argv[2], 10000, err, sizeof err);
        if (e != VSOK_OK) {
            fprintf(stderr, "echo-agent: connect %s: %s %s\n", argv[2], vsok_errname(e), err);
            return 2;
        }
        int rc = echo(s, argv[2]);
        vsok_socket_close(s);
        return rc;
    }
    if (argc != 3 || strcmp(argv[1], "listen") != 0 || strspn(argv[2], "0123456789") != strlen(argv[2])) {
        fprintf(stderr, "usage: echo-agent listen PORT | echo-agent connect vsock:CID:PORT\n");
        return 2;
    }
    snprintf(addr, sizeof addr, "vsock:any:%s", argv[2]);
    int lfd;
    vsok_err e = vsok_listen(addr, 64, &lfd, err, sizeof err);
    if (e != VSOK_OK) {
        fprintf(stderr, "echo-agent: listen %s: %s %s\n", addr, vsok_errname(e), err);
        return 2;
    }
    for (;;) {
        vsok_socket *s;
        pthread_t t;
        if (vsok_socket_accept(&s, lfd, -1, NULL, NULL) != VSOK_OK)
            continue; /* ECONNABORTED and the like: the listener itself is fine */
        if (pthread_create(&t, NULL, serve, s) != 0) {
            vsok_socket_close(s);
            continue;
        }
        pthread_detach(t);
    }
}
