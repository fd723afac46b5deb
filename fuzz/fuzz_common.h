/* SPDX-License-Identifier: MIT */
/* fuzz_common.h - shared by every vsok fuzz target.
 *
 * Header-only (static functions) so each target stays one source file and
 * fuzz/build.sh can compile it without CMake.
 *
 * Input layout of the stream targets (structure-aware, but kind to seeds):
 *
 *   [ stream bytes ............ ][ ctl_0 .. ctl_{m-1} ][ L ]
 *
 * L (the last byte): m = L & 0x1F control bytes precede it, mode = L >> 5.
 * Taking the choices from the END keeps a raw VSOK stream from the vector
 * set meaningful as a seed: its front stays a real stream and the fuzzer's
 * mutations of the tail only move chunk boundaries.
 *
 * A control byte b chooses the size of one chunk (a feed, a read, a write):
 *   b & 0x80 ? ((b & 0x3F) + 1) KiB : (b & 0x3F) + 1 bytes,
 * and b & 0x40 is a per-target flag (zero-copy fill, inject EINTR, ...).
 * The bytes cycle; injected faults only on the first pass, so every run ends.
 */
#ifndef VSOK_FUZZ_COMMON_H
#define VSOK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vsok/vsok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's own model code needs no coverage feedback: leaving it
 * uninstrumented keeps libFuzzer's feature set (and its bookkeeping per
 * execution) to the library under test. */
#if defined(__clang__) && __clang_major__ >= 13
#define FZ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FZ_NOCOV
#endif

/* A property failed: say which and abort, which every engine (libFuzzer,
 * AFL++, the replay driver under ctest) records as a crash. */
#define FZ_CHECK(cond)                                                                    \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* A big-endian u32, the model's own (the library's is what is under test). */
FZ_NOCOV static inline uint32_t fz_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Exact-size heap copy so ASan flags a read even one byte past the input
 * (libFuzzer's own buffer is exact too, but AFL++'s and the replay driver's
 * are not).  Never returns NULL: malloc(0) is avoided by a 1-byte block
 * whose size we never report. */
FZ_NOCOV static inline uint8_t *fz_dup(const uint8_t *data, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    FZ_CHECK(p != NULL);
    if (n)
        memcpy(p, data, n);
    else
        p[0] = 0;
    return p;
}

/* An fd poll() always finds both readable and writable: one end of a
 * socketpair whose peer sent it a byte.  Mock streams use it as poll_fd so
 * that an injected EAGAIN is waited on (immediately) and retried. */
FZ_NOCOV static inline int fz_ready_fd(void)
{
    static int sv[2] = {-1, -1};
    if (sv[0] < 0) {
        FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        FZ_CHECK(send(sv[1], "x", 1, MSG_NOSIGNAL) == 1);
    }
    return sv[0];
}

/* A socketpair whose sending side may queue a lot, so short streams can be
 * written in full before the reader starts: no thread, no wake-ups.  The
 * caller still falls back to a writer thread whenever a send would block. */
FZ_NOCOV static inline void fz_socketpair(int sv[2])
{
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int big = 4 << 20;
    if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
        (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
}

/* Bytes the sending side of sv can surely queue (half the kernel's figure,
 * which counts bookkeeping too). */
FZ_NOCOV static inline size_t fz_sndbuf(int fd)
{
    int v = 0;
    socklen_t l = sizeof(v);
    FZ_CHECK(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l) == 0);
    return v > 0 ? (size_t)v / 4 : 0;
}

/* Failure injection.  The fuzz builds (CMake, fuzz/build.sh) define
 * FZ_WRAP_ALLOC and link each target with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=poll, so every
 * allocation and poll() made by the library's code (and the harness's)
 * comes through the wrappers below.
 *
 * Allocations: exactly one fails on demand, the k-th one made while the
 * harness has the injection live, which it is only around calls into the
 * library, and only on the thread that armed it (writer threads and the
 * harness's own bookkeeping never fail).  A realloc that fails leaves its
 * block as it was, as the C library's does.
 *
 * poll(): the next call on this thread fails with the errno the harness
 * set (0: none pending).
 *
 * Built without the wrapping nothing ever fails and fz_alloc_take() stays
 * 0, so the same target source runs anywhere. */
static _Thread_local long fz_alloc_countdown = -1; /* -1: never */
static _Thread_local int fz_alloc_is_live, fz_alloc_fired;
static _Thread_local int fz_poll_errno;

FZ_NOCOV static inline int fz_alloc_should_fail(void)
{
    if (!fz_alloc_is_live || fz_alloc_countdown < 0)
        return 0;
    if (fz_alloc_countdown-- > 0)
        return 0;
    fz_alloc_fired = 1;
    return 1;
}

#ifdef FZ_WRAP_ALLOC
#include <errno.h>
#include <poll.h>
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);
FZ_NOCOV void *__wrap_malloc(size_t n) { return fz_alloc_should_fail() ? NULL : __real_malloc(n); }
FZ_NOCOV void *__wrap_calloc(size_t k, size_t n)
{
    return fz_alloc_should_fail() ? NULL : __real_calloc(k, n);
}
FZ_NOCOV void *__wrap_realloc(void *p, size_t n)
{
    return fz_alloc_should_fail() ? NULL : __real_realloc(p, n);
}
FZ_NOCOV int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int e = fz_poll_errno;
    fz_poll_errno = 0;
    if (e == 0)
        return __real_poll(fds, n, timeout);
    errno = e;
    return -1;
}
#endif

/* The next poll() on this thread fails with errno err (0: none). */
FZ_NOCOV static inline void fz_poll_fail_next(int err) { fz_poll_errno = err; }

/* Arms the injection: the k-th live allocation from now fails (k < 0:
 * none).  Clears an earlier failure not yet taken. */
FZ_NOCOV static inline void fz_alloc_fail_nth(long k)
{
    fz_alloc_countdown = k;
    fz_alloc_fired = 0;
}

/* Live only around a call into the library. */
FZ_NOCOV static inline void fz_alloc_live(int on) { fz_alloc_is_live = on; }

/* 1 when an injected failure happened since the last take, then 0. */
FZ_NOCOV static inline int fz_alloc_take(void)
{
    int f = fz_alloc_fired;
    fz_alloc_fired = 0;
    return f;
}

/* AddressSanitizer's manual poisoning, where the build has ASan (clang's
 * -fsanitize=address or gcc's); elsewhere no-ops. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FZ_ASAN)
#define FZ_ASAN 1
#endif
#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Exact-size copies without an allocation per copy.  A copy of n bytes is
 * placed so that it ends exactly at the end of a heap block (ASan's redzone
 * follows: reading one byte past it is a heap-buffer-overflow report) and
 * the part of the block before it is poisoned (reading one byte before it
 * is a use-after-poison report).  ASan tracks 8-byte granules whose
 * addressable bytes come first, so the copy must start on a granule: one
 * block per residue of n mod 8, each of a size with that residue, makes
 * both ends exact.  Blocks only grow (geometrically) and are kept from run
 * to run, which keeps malloc, its stack unwinding and the quarantine out of
 * every execution.  The same call serves every chunk of a run and every
 * input of a campaign; a pointer returned earlier may be overwritten by the
 * next call on the same fz_chunkbuf. */
typedef struct fz_chunkbuf {
    uint8_t *p[8];
    size_t cap[8];
} fz_chunkbuf;

FZ_NOCOV static inline uint8_t *fz_chunk(fz_chunkbuf *b, const uint8_t *src, size_t n)
{
    unsigned k = (unsigned)(n & 7);
    if (b->p[k] == NULL || n > b->cap[k]) {
        size_t want = b->cap[k] * 2 > n ? b->cap[k] * 2 : n;
        if (want < 64)
            want = 64;
        want = ((want + 7) & ~(size_t)7) + k; /* the residue of n */
        free(b->p[k]);
        b->p[k] = malloc(want);
        FZ_CHECK(b->p[k] != NULL);
        b->cap[k] = want;
    }
    uint8_t *blk = b->p[k], *dst = blk + (b->cap[k] - n);
    FZ_POISON(blk, b->cap[k] - n);
    FZ_UNPOISON(dst, n);
    if (n)
        memcpy(dst, src, n);
    return dst;
}

/* Blocks are poisoned whole between uses of a long-lived buffer, so a
 * pointer kept from an earlier run reads poison, not stale bytes. */
FZ_NOCOV static inline void fz_chunkbuf_retire(fz_chunkbuf *b)
{
    for (int k = 0; k < 8; k++)
        if (b->p[k] != NULL)
            FZ_POISON(b->p[k], b->cap[k]);
}

FZ_NOCOV static inline void fz_chunkbuf_free(fz_chunkbuf *b)
{
    for (int k = 0; k < 8; k++) {
        if (b->p[k] != NULL)
            FZ_UNPOISON(b->p[k], b->cap[k]);
        free(b->p[k]);
        b->p[k] = NULL;
        b->cap[k] = 0;
    }
}

typedef struct fz_split {
    const uint8_t *ctl;
    size_t nctl;
    size_t next;   /* index of the next control byte (counts past nctl: cycles) */
    unsigned mode; /* 0..7 from the last byte */
} fz_split;

/* Splits data[0..n) into the stream (returned length) and the choices. */
FZ_NOCOV static inline size_t fz_split_init(fz_split *s, const uint8_t *data, size_t n)
{
    memset(s, 0, sizeof(*s));
    if (n == 0)
        return 0;
    size_t m = data[n - 1] & 0x1Fu;
    if (m > n - 1)
        m = n - 1;
    s->mode = data[n - 1] >> 5;
    s->nctl = m;
    s->ctl = data + (n - 1 - m);
    return n - 1 - m;
}

/* Next choice: *flag receives bit 0x40 of the control byte on the first
 * pass only (faults never repeat forever); returns the chunk size, or
 * SIZE_MAX ("everything") when there are no control bytes. */
FZ_NOCOV static inline size_t fz_split_next(fz_split *s, int *flag, uint8_t *raw)
{
    if (flag)
        *flag = 0;
    if (raw)
        *raw = 0;
    if (s->nctl == 0)
        return SIZE_MAX;
    uint8_t b = s->ctl[s->next % s->nctl];
    if (flag && s->next < s->nctl)
        *flag = (b & 0x40) != 0;
    if (raw)
        *raw = b;
    s->next++;
    return (b & 0x80) ? ((size_t)(b & 0x3F) + 1) * 1024 : (size_t)(b & 0x3F) + 1;
}

/* Maximum payload chosen by the mode bits (0 = the protocol maximum). */
FZ_NOCOV static inline size_t fz_max_payload(unsigned mode)
{
    static const size_t table[8] = {0, 1, 7, 255, 4096, 65536, 1048575, 1048576};
    return table[mode & 7];
}

/* The messages the one-shot decoder sees: the oracle the others must match. */
typedef struct fz_msgs {
    struct {
        const uint8_t *data;
        size_t len;
        uint64_t offset;
    } * v;
    size_t n, cap;
} fz_msgs;

FZ_NOCOV static inline int fz_msgs_add(void *ctx, const vsok_msg *m)
{
    fz_msgs *ms = ctx;
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 16;
        void *nv = realloc(ms->v, cap * sizeof(*ms->v));
        FZ_CHECK(nv != NULL);
        ms->v = nv;
        ms->cap = cap;
    }
    ms->v[ms->n].data = m->data;
    ms->v[ms->n].len = m->len;
    ms->v[ms->n].offset = m->offset;
    ms->n++;
    return 0;
}

/* The oracle result for a whole stream. */
typedef struct fz_oracle {
    fz_msgs msgs;
    vsok_err end;     /* VSOK_E_EOF or the error */
    uint64_t end_off; /* where it was detected */
} fz_oracle;

/* Runs the one-shot decoder and checks each message against the bytes
 * themselves: a valid header announcing exactly len, payload right after.
 * o is zero-initialised or left by an earlier run, whose message array is
 * reused (a long-lived oracle allocates nothing once it has grown). */
FZ_NOCOV static inline void fz_oracle_run(fz_oracle *o, const uint8_t *buf, size_t n, size_t max_payload)
{
    o->msgs.n = 0;
    o->end = vsok_decode_all(buf, n, max_payload, fz_msgs_add, &o->msgs, &o->end_off);
    FZ_CHECK(o->end != VSOK_OK && o->end != VSOK_E_INVAL);
    uint64_t expect_off = 0;
    size_t max = max_payload ? max_payload : VSOK_MAX_PAYLOAD;
    for (size_t i = 0; i < o->msgs.n; i++) {
        FZ_CHECK(o->msgs.v[i].offset == expect_off);
        FZ_CHECK(o->msgs.v[i].len >= 1 && o->msgs.v[i].len <= max);
        FZ_CHECK(o->msgs.v[i].data == buf + expect_off + VSOK_HEADER_SIZE);
        /* Checked by the model, not by the library under test. */
        FZ_CHECK(memcmp(buf + expect_off, VSOK_MAGIC, VSOK_MAGIC_SIZE) == 0);
        FZ_CHECK(fz_be32(buf + expect_off + VSOK_LENGTH_OFFSET) == o->msgs.v[i].len);
        expect_off += VSOK_HEADER_SIZE + o->msgs.v[i].len;
    }
    FZ_CHECK(expect_off <= n);
    /* Where the stream stopped being valid follows the project's offset rule. */
    switch (o->end) {
    case VSOK_E_EOF: FZ_CHECK(expect_off == n && o->end_off == n); break;
    case VSOK_E_TRUNCATED: FZ_CHECK(o->end_off == n && n > expect_off); break;
    case VSOK_E_MAGIC:
        FZ_CHECK(o->end_off >= expect_off && o->end_off < expect_off + VSOK_MAGIC_SIZE);
        FZ_CHECK(o->end_off < n);
        FZ_CHECK(buf[o->end_off] != (uint8_t)VSOK_MAGIC[o->end_off - expect_off]);
        break;
    case VSOK_E_LENGTH:
    case VSOK_E_TOO_LARGE:
        FZ_CHECK(o->end_off == expect_off + VSOK_LENGTH_OFFSET);
        FZ_CHECK(expect_off + VSOK_HEADER_SIZE <= n);
        {
            const uint8_t *h = buf + expect_off;
            uint32_t field = fz_be32(h + VSOK_LENGTH_OFFSET);
            FZ_CHECK(memcmp(h, VSOK_MAGIC, VSOK_MAGIC_SIZE) == 0);
            FZ_CHECK(o->end == VSOK_E_LENGTH ? field == 0 : field > max);
        }
        break;
    default: FZ_CHECK(!"unexpected one-shot result");
    }
}

FZ_NOCOV static inline void fz_oracle_free(fz_oracle *o)
{
    free(o->msgs.v);
    memset(o, 0, sizeof(*o));
}

#endif
