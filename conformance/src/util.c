/* SPDX-License-Identifier: MIT */
/* util.c - small helpers: PRNG, allocation that cannot return NULL,
 * formatting. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "conform.h"

const char *vc_verdict_name(vc_verdict v)
{
    static const char *const names[] = {"PASS", "FAIL", "NON-STRICT", "SKIP", "ERROR"};
    return v < VC_NVERDICTS ? names[v] : "?";
}

const char *vc_role_name(vc_role r)
{
    return r == VC_ROLE_SERVER ? "server" : r == VC_ROLE_CLIENT ? "client" : "exec";
}

uint64_t vc_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* FNV-1a folded through splitmix: per-case seeds depend on the run seed and
 * the case id only, so --pick ID --seed S replays exactly the same splits. */
uint64_t vc_hash(const char *s, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return vc_splitmix64(&h);
}

void *vc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "vsok-conform: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

void *vc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "vsok-conform: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return q;
}

char *vc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    return memcpy(vc_xmalloc(n), s, n);
}

char *vc_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return vc_strdup("");
    char *s = vc_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void vc_fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t st = seed;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = vc_splitmix64(&st);
        memcpy(p + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = vc_splitmix64(&st);
        memcpy(p + i, &v, n - i);
    }
}

size_t vc_frame_put(uint8_t *f, const void *p, size_t n)
{
    if (vsok_header_encode(f, n) != VSOK_OK)
        abort(); /* a runner bug: its own probes are small and valid */
    memcpy(f + VSOK_HEADER_SIZE, p, n);
    return VSOK_HEADER_SIZE + n;
}

void vc_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

char *vc_shell_quote(const char *s)
{
    size_t n = 3;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = vc_xmalloc(n), *o = q;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = 0;
    return q;
}

int64_t vc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vc_mkdir_p(const char *dir)
{
    char *p = vc_strdup(dir);
    int rc = 0;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0777) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

/* Case order is catalogue order, and the catalogue is one array: the
 * earlier case has the lower address.  A compare-and-swap loop keeps the
 * earliest, so concurrent workers that all find the IUT down agree on one
 * name whatever order they finish in. */
void vc_mark_down(vc_ctx *x, const vc_case *c)
{
    const vc_case *cur = atomic_load(&x->down_case);
    while (!cur || (uintptr_t)c < (uintptr_t)cur)
        if (atomic_compare_exchange_weak(&x->down_case, &cur, c))
            break;
    atomic_store(&x->down, 1);
}

const char *vc_down_since(const vc_ctx *x)
{
    const vc_case *c = atomic_load(&((vc_ctx *)x)->down_case);
    return c && c->id ? c->id : "?";
}

/* Was the IUT found down in a case before c?  A case that started at the
 * same time as a later one that found it down still runs (and, when it too
 * finds the IUT gone, becomes the case named), so the name does not depend
 * on which worker got there first. */
int vc_down_before(const vc_ctx *x, const vc_case *c)
{
    const vc_case *d = atomic_load(&((vc_ctx *)x)->down_case);
    return d && (uintptr_t)d <= (uintptr_t)c;
}

int vc_fd_is_unix(int fd)
{
    struct sockaddr_storage ss;
    socklen_t n = sizeof ss;
    return getsockname(fd, (struct sockaddr *)&ss, &n) == 0 && ss.ss_family == AF_UNIX;
}
