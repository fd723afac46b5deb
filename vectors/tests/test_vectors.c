/* SPDX-License-Identifier: MIT */
/* test_vectors.c - every golden vector through every libvsok read path, and
 * every encoder vector through the encoder and writers.
 *
 * The vectors come from vectors/vectors.txt (path compiled in as
 * VSOK_VECTORS_TXT) via the vsok_vectors loader, which verifies every
 * expanded input against its SHA-256 before we see it.  Each test walks the
 * whole set and names the case (id and name) in any failure. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vsok/vsok.h"
#include "vsok_vectors.h"

#define IO_TIMEOUT_MS 20000 /* a broken reader fails with Timeout, never hangs */

static vsok_vec_set *set;

static void load(void)
{
    char err[512];
    int rc = vsok_vec_load(VSOK_VECTORS_TXT, &set, err, sizeof err);
    cr_assert_eq(rc, 0, "cannot load %s: %s", VSOK_VECTORS_TXT, err);
    cr_assert_gt(set->ncases, 0);
}

static void unload(void) { vsok_vec_free(set); }

/* No Criterion timeout (its runner leaks it under LSan): ctest bounds the run. */
TestSuite(vectors, .init = load, .fini = unload);

/* ------------------------------------------------------------ outcomes */

/* What a read path produced, compared message by message as it goes. */
typedef struct outcome {
    const vsok_vec_case *c;
    const char *path;
    size_t nmsgs;
    int bad; /* a mismatch was already reported for this case and path */
} outcome;

static void got_msg(outcome *o, uint64_t frame_offset, int have_offset, const uint8_t *data, size_t len)
{
    const vsok_vec_case *c = o->c;
    if (o->bad)
        return;
    if (o->nmsgs >= c->nmsgs) {
        cr_expect_fail("[%s] case %u %s: message %zu delivered, only %zu expected", o->path, c->id, c->name,
                       o->nmsgs + 1, c->nmsgs);
        o->bad = 1;
        return;
    }
    const vsok_vec_msg *m = &c->msgs[o->nmsgs];
    int ok = len == m->len && memcmp(data, c->input + m->frame_offset + VSOK_HEADER_SIZE, len) == 0 &&
             (!have_offset || frame_offset == m->frame_offset);
    if (!ok) {
        cr_expect_fail("[%s] case %u %s: message %zu is %zu bytes at frame offset %llu, expected %u "
                       "bytes at %llu (or its bytes differ)",
                       o->path, c->id, c->name, o->nmsgs, len, (unsigned long long)frame_offset, m->len,
                       (unsigned long long)m->frame_offset);
        o->bad = 1;
    }
    o->nmsgs++;
}

/* have_offset 0: the path does not report offsets (stateless fd reader). */
static void got_end(outcome *o, vsok_err err, uint64_t off, int have_offset)
{
    const vsok_vec_case *c = o->c;
    if (o->bad)
        return;
    cr_expect_eq(o->nmsgs, c->nmsgs, "[%s] case %u %s: %zu messages delivered, %zu expected", o->path, c->id,
                 c->name, o->nmsgs, c->nmsgs);
    cr_expect_str_eq(vsok_errname(err), c->result, "[%s] case %u %s: result %s, expected %s", o->path, c->id,
                     c->name, vsok_errname(err), c->result);
    if (have_offset)
        cr_expect_eq(off, c->result_offset, "[%s] case %u %s: %s at offset %llu, expected %llu", o->path,
                     c->id, c->name, vsok_errname(err), (unsigned long long)off,
                     (unsigned long long)c->result_offset);
}

/* ------------------------------------------------------------ splits */

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Up to 16 random cut points in (0, len), sorted, duplicates allowed (an
 * empty piece is a legal feed). */
static size_t random_cuts(uint32_t seed, size_t len, size_t cuts[16])
{
    if (len < 2)
        return 0;
    uint32_t s = seed ? seed : 1;
    size_t n = 1 + xorshift(&s) % 16;
    for (size_t i = 0; i < n; i++)
        cuts[i] = 1 + xorshift(&s) % (len - 1);
    qsort(cuts, n, sizeof cuts[0], cmp_size);
    return n;
}

/* ------------------------------------------------------------ vsok_decode_all */

static int on_msg(void *ctx, const vsok_msg *m)
{
    got_msg(ctx, m->offset, 1, m->data, m->len);
    return 0;
}

Test(vectors, decode_all_matches_every_decoder_vector)
{
    size_t n = 0;
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER)
            continue;
        outcome o = {c, "decode_all", 0, 0};
        uint64_t off = 0;
        vsok_err err = vsok_decode_all(c->input, c->input_len, 0, on_msg, &o, &off);
        got_end(&o, err, off, 1);
        n++;
    }
    cr_assert_gt(n, 100, "the set should hold over 100 decoder cases, found %zu", n);
}

/* ------------------------------------------------------------ push decoder */

/* Feeds input in the pieces given by cuts (bounds of pieces), optionally
 * moving payload bytes through prepare/commit, then finishes. */
static void run_push(const vsok_vec_case *c, const char *path, const size_t *cuts, size_t ncuts,
                     int zero_copy)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    outcome o = {c, path, 0, 0};
    vsok_err err = VSOK_E_AGAIN;
    size_t start = 0;
    for (size_t k = 0; k <= ncuts && err == VSOK_E_AGAIN; k++) {
        size_t end = k < ncuts ? cuts[k] : c->input_len;
        size_t p = start;
        /* each round consumes at least one byte or completes a message */
        for (size_t rounds = 0; rounds <= (end - start) + c->nmsgs + 1; rounds++) {
            vsok_msg m;
            size_t used = 0, room = 0;
            uint8_t *dst = zero_copy && p < end ? vsok_decoder_prepare(d, &room) : NULL;
            if (dst != NULL) {
                used = end - p < room ? end - p : room;
                memcpy(dst, c->input + p, used);
                err = vsok_decoder_commit(d, used, &m);
            } else {
                err = vsok_decoder_feed(d, c->input + p, end - p, &used, &m);
            }
            p += used;
            if (err == VSOK_OK) {
                got_msg(&o, m.offset, 1, m.data, m.len);
                err = VSOK_E_AGAIN;
                continue;
            }
            if (err != VSOK_E_AGAIN || p == end)
                break;
        }
        if (err == VSOK_E_AGAIN && p != end) {
            cr_expect_fail("[%s] case %u %s: decoder stalled at offset %zu", path, c->id, c->name, p);
            break;
        }
        start = end;
    }
    if (err == VSOK_E_AGAIN)
        err = vsok_decoder_finish(d);
    uint64_t off = vsok_decoder_error_offset(d);
    got_end(&o, err, off, 1);
    /* sticky: the same verdict again, whatever comes next */
    size_t used = 0;
    vsok_msg m;
    cr_expect_eq(vsok_decoder_feed(d, (const uint8_t *)"VSOK", 4, &used, &m), err,
                 "[%s] case %u %s: error not sticky after more bytes", path, c->id, c->name);
    cr_expect_eq(vsok_decoder_finish(d), err, "[%s] case %u %s: error not sticky", path, c->id, c->name);
    cr_expect_eq(vsok_decoder_error_offset(d), off, "[%s] case %u %s: offset moved", path, c->id, c->name);
    vsok_decoder_free(d);
}

Test(vectors, push_decoder_fed_whole_matches_every_decoder_vector)
{
    for (size_t i = 0; i < set->ncases; i++)
        if (set->cases[i].kind == VSOK_VEC_DECODER)
            run_push(&set->cases[i], "push whole", NULL, 0, 0);
}

Test(vectors, push_decoder_fed_byte_by_byte_matches_every_decoder_vector)
{
    size_t *cuts = NULL, cap = 0;
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER)
            continue;
        size_t n = c->input_len ? c->input_len - 1 : 0;
        if (n > cap) {
            size_t *nc = realloc(cuts, n * sizeof *nc);
            cr_assert_not_null(nc);
            cuts = nc;
            cap = n;
        }
        for (size_t k = 0; k < n; k++)
            cuts[k] = k + 1;
        run_push(c, "push byte-by-byte", cuts, n, 0);
    }
    free(cuts);
}

Test(vectors, push_decoder_fed_at_random_splits_matches_every_decoder_vector)
{
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER)
            continue;
        for (uint32_t seed = 1; seed <= 8; seed++) {
            size_t cuts[16];
            size_t n = random_cuts(c->id * 7919u + seed, c->input_len, cuts);
            run_push(c, "push random splits", cuts, n, 0);
        }
    }
}

Test(vectors, push_decoder_with_delivery_schedule_and_zero_copy_matches_every_decoder_vector)
{
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER)
            continue;
        size_t cuts[16];
        size_t n = random_cuts(c->id, c->input_len, cuts);
        run_push(c, "push zero-copy random splits", cuts, n, 1);
        if (c->has_delivery) {
            size_t *dc = malloc((c->nsplits ? c->nsplits : 1) * sizeof *dc);
            cr_assert_not_null(dc);
            for (size_t k = 0; k < c->nsplits; k++)
                dc[k] = (size_t)c->splits[k].offset;
            run_push(c, "push delivery schedule", dc, c->nsplits, 0);
            run_push(c, "push zero-copy delivery schedule", dc, c->nsplits, 1);
            free(dc);
        }
    }
}

/* ------------------------------------------------------------ sockets */

/* Sender thread: plays the input on fd per schedule, then ends the stream. */
typedef struct sender {
    int fd;
    const uint8_t *buf;
    size_t len;
    const vsok_vec_split *splits;
    size_t nsplits;
    vsok_vec_end end;
    int werrno; /* 0, or errno of a failed write (EPIPE when the reader quit early) */
} sender;

static void pause_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *sender_main(void *arg)
{
    sender *s = arg;
    size_t start = 0;
    for (size_t k = 0; k <= s->nsplits && !s->werrno; k++) {
        size_t end = k < s->nsplits ? (size_t)s->splits[k].offset : s->len;
        if (k > 0 && s->splits[k - 1].pause_ms)
            pause_ms(s->splits[k - 1].pause_ms);
        while (start < end) {
            ssize_t w = send(s->fd, s->buf + start, end - start, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                s->werrno = w < 0 ? errno : EIO;
                break;
            }
            start += (size_t)w;
        }
    }
    /* AF_UNIX has no reset: an abortive close is played as a close. */
    if (s->end == VSOK_VEC_END_HALF_CLOSE)
        shutdown(s->fd, SHUT_WR);
    else {
        close(s->fd);
        s->fd = -1;
    }
    return NULL;
}

enum reader { READ_RECV, READ_MESSAGE, READ_FD_STATELESS };

static void run_socket(const vsok_vec_case *c, const char *path, enum reader how, int use_schedule,
                       uint32_t seed)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
    vsok_vec_split rnd[16];
    sender s = {sv[1], c->input, c->input_len, NULL, 0, VSOK_VEC_END_HALF_CLOSE, 0};
    if (use_schedule && c->has_delivery) {
        s.splits = c->splits;
        s.nsplits = c->nsplits;
        s.end = c->end;
    } else if (seed) {
        size_t cuts[16];
        s.nsplits = random_cuts(seed, c->input_len, cuts);
        for (size_t k = 0; k < s.nsplits; k++)
            rnd[k] = (vsok_vec_split){cuts[k], 0};
        s.splits = rnd;
    }
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, sender_main, &s), 0);

    outcome o = {c, path, 0, 0};
    vsok_socket *sock = NULL;
    if (how != READ_FD_STATELESS) {
        cr_assert_eq(vsok_socket_open(&sock, sv[0], NULL), VSOK_OK);
        vsok_socket_set_timeout(sock, IO_TIMEOUT_MS);
    }
    vsok_err err = VSOK_OK;
    /* bounded: one round per expected message, plus the end, plus one spare */
    for (size_t round = 0; round < c->nmsgs + 2 && err == VSOK_OK; round++) {
        if (how == READ_RECV) {
            vsok_msg m;
            err = vsok_socket_recv(sock, &m);
            if (err == VSOK_OK)
                got_msg(&o, m.offset, 1, m.data, m.len);
        } else {
            uint8_t *msg = NULL;
            size_t len = 0;
            err = how == READ_MESSAGE ? vsok_socket_read_message(sock, &msg, &len)
                                      : vsok_read_message(sv[0], &msg, &len);
            if (err == VSOK_OK)
                got_msg(&o, 0, 0, msg, len);
            free(msg);
        }
    }
    if (err == VSOK_OK) {
        cr_expect_fail("[%s] case %u %s: more messages than expected", path, c->id, c->name);
    } else {
        uint64_t off = how == READ_FD_STATELESS ? 0 : vsok_socket_error_offset(sock);
        got_end(&o, err, off, how != READ_FD_STATELESS);
    }
    /* Closing our end unblocks a sender still writing after an early error. */
    if (sock)
        vsok_socket_close(sock);
    else
        close(sv[0]);
    cr_assert_eq(pthread_join(th, NULL), 0);
    if (s.fd >= 0)
        close(s.fd);
}

static void socket_all(enum reader how, const char *name)
{
    char path[96];
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_DECODER)
            continue;
        snprintf(path, sizeof path, "%s, %s", name, c->has_delivery ? "delivery schedule" : "one write");
        run_socket(c, path, how, 1, 0);
        snprintf(path, sizeof path, "%s, random splits", name);
        run_socket(c, path, how, 0, c->id * 31u + 5u);
    }
}

Test(vectors, socket_recv_over_socketpair_matches_every_decoder_vector)
{
    socket_all(READ_RECV, "vsok_socket_recv");
}

Test(vectors, socket_read_message_over_socketpair_matches_every_decoder_vector)
{
    socket_all(READ_MESSAGE, "vsok_socket_read_message");
}

Test(vectors, stateless_read_message_over_socketpair_matches_every_decoder_vector)
{
    socket_all(READ_FD_STATELESS, "vsok_read_message");
}

/* ------------------------------------------------------------ encoder */

Test(vectors, header_encode_matches_every_encoder_vector)
{
    size_t n = 0;
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (c->kind != VSOK_VEC_ENCODER)
            continue;
        if (c->payload_len > SIZE_MAX) /* size64 cases on a 32-bit host */
            continue;
        uint8_t out[8];
        memset(out, 0xA5, sizeof out);
        vsok_err err = vsok_header_encode(out, (size_t)c->payload_len);
        cr_expect_str_eq(vsok_errname(err), c->result, "case %u %s: encode gave %s, expected %s", c->id,
                         c->name, vsok_errname(err), c->result);
        if (err == VSOK_OK) {
            cr_expect_arr_eq(out, c->header, 8, "case %u %s: wrong header bytes", c->id, c->name);
        } else {
            static const uint8_t untouched[8] = {0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5};
            cr_expect_arr_eq(out, untouched, 8, "case %u %s: header written on refusal", c->id, c->name);
        }
        n++;
    }
    cr_assert_geq(n, 10);
}

/* Collects everything written to fd until end of stream. */
typedef struct collector {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    int failed;
} collector;

static void *collector_main(void *arg)
{
    collector *k = arg;
    for (;;) {
        if (k->len == k->cap) {
            size_t cap = k->cap ? k->cap * 2 : 65536;
            uint8_t *nb = realloc(k->buf, cap);
            if (!nb) {
                k->failed = 1;
                return NULL;
            }
            k->buf = nb;
            k->cap = cap;
        }
        ssize_t r = read(k->fd, k->buf + k->len, k->cap - k->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            k->failed = r < 0;
            return NULL;
        }
        k->len += (size_t)r;
    }
}

/* Writes one message of c->payload_len bytes with the chosen writer and
 * returns the writer's result; *wire gets everything that reached the peer. */
static vsok_err write_one(const vsok_vec_case *c, const uint8_t *payload, int use_socket, collector *k)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    *k = (collector){sv[1], NULL, 0, 0, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, collector_main, k), 0);
    vsok_err err;
    if (use_socket) {
        vsok_socket *s = NULL;
        cr_assert_eq(vsok_socket_open(&s, sv[0], NULL), VSOK_OK);
        vsok_socket_set_timeout(s, IO_TIMEOUT_MS);
        err = vsok_socket_write_message(s, payload, (size_t)c->payload_len);
        vsok_socket_close(s);
    } else {
        err = vsok_write_message(sv[0], payload, (size_t)c->payload_len);
        close(sv[0]);
    }
    cr_assert_eq(pthread_join(th, NULL), 0);
    close(sv[1]);
    cr_assert(!k->failed, "case %u: collecting the written bytes failed", c->id);
    return err;
}

Test(vectors, writers_produce_the_exact_frame_of_every_encoder_vector)
{
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        /* Refusals are materialised only while small: the larger ones are
         * covered by vsok_header_encode above. */
        if (c->kind != VSOK_VEC_ENCODER || c->payload_len > 2 * VSOK_MAX_PAYLOAD)
            continue;
        uint8_t *scratch = NULL;
        const uint8_t *payload = c->payload;
        if (!payload) {
            scratch = calloc(1, c->payload_len ? (size_t)c->payload_len : 1);
            cr_assert_not_null(scratch);
            payload = scratch;
        }
        for (int use_socket = 0; use_socket <= 1; use_socket++) {
            const char *w = use_socket ? "vsok_socket_write_message" : "vsok_write_message";
            collector k;
            vsok_err err = write_one(c, payload, use_socket, &k);
            cr_expect_str_eq(vsok_errname(err), c->result, "[%s] case %u %s: %s, expected %s", w, c->id,
                             c->name, vsok_errname(err), c->result);
            if (err == VSOK_OK) {
                uint8_t d[32];
                vsok_vec_sha256(k.buf, k.len, d);
                cr_expect_eq(k.len, c->frame_len, "[%s] case %u %s: %zu bytes on the wire, expected %llu", w,
                             c->id, c->name, k.len, (unsigned long long)c->frame_len);
                cr_expect_arr_eq(d, c->frame_sha256, 32, "[%s] case %u %s: frame bytes differ", w, c->id,
                                 c->name);
            } else {
                cr_expect_eq(k.len, 0, "[%s] case %u %s: %zu bytes written before the refusal", w, c->id,
                             c->name, k.len);
            }
            free(k.buf);
        }
        free(scratch);
    }
}

/* ------------------------------------------------------------ the loader itself */

Test(vectors, sha256_matches_the_fips_180_examples)
{
    uint8_t d[32];
    char hex[65];
    vsok_vec_sha256("", 0, d);
    vsok_vec_hex32(d, hex);
    cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    vsok_vec_sha256("abc", 3, d);
    vsok_vec_hex32(d, hex);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two blocks */
    vsok_vec_sha256(two, strlen(two), d);
    vsok_vec_hex32(d, hex);
    cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(vectors, loader_sees_the_whole_set_in_id_order)
{
    cr_expect_eq(set->format_version, 1);
    cr_expect_geq(set->version, 1);
    size_t dec = 0, enc = 0;
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *c = &set->cases[i];
        if (i)
            cr_expect_gt(c->id, set->cases[i - 1].id);
        cr_expect_eq(vsok_vec_find(set, c->id), c);
        dec += c->kind == VSOK_VEC_DECODER;
        enc += c->kind == VSOK_VEC_ENCODER;
        cr_expect(c->description && c->description[0], "case %u has no description", c->id);
        cr_expect(c->tags[0], "case %u has no tags", c->id);
        if (c->kind == VSOK_VEC_DECODER)
            cr_expect(vsok_err_from_name(c->result) != VSOK_E__COUNT, "case %u: unknown result %s", c->id,
                      c->result);
    }
    cr_expect_geq(dec, 100);
    cr_expect_geq(enc, 10);
    cr_expect_null(vsok_vec_find(set, 0));
    const vsok_vec_case *z = vsok_vec_find(set, 4000); /* the empty stream */
    cr_assert_not_null(z);
    cr_expect_eq(z->input_len, 0);
    cr_expect_str_eq(z->result, "Eof");
    cr_expect(vsok_vec_has_tag(z, "empty"));
    cr_expect(!vsok_vec_has_tag(z, "empt"));
}

static int load_text(const char *text, char *err, size_t errlen)
{
    char path[] = "/tmp/vsok-vectors-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    vsok_vec_set *s = NULL;
    int rc = vsok_vec_load(path, &s, err, errlen);
    unlink(path);
    if (rc == 0)
        vsok_vec_free(s);
    else
        cr_expect_null(s);
    return rc;
}

#define GOOD_CASE                                                               \
    "case 1 decoder t one\ndesc One frame.\ntags valid\nin frame counter 0 2\n" \
    "input 10 %s\nmsg 0 2 %s\nresult Eof 10\nend-case\n"

Test(vectors, loader_accepts_a_minimal_file_and_rejects_damage)
{
    /* digests of 56534f4b00000002 0001 and of 0001 */
    uint8_t in[10] = {'V', 'S', 'O', 'K', 0, 0, 0, 2, 0, 1}, d[32];
    char hi[65], hm[65], text[1024], err[256];
    vsok_vec_sha256(in, 10, d);
    vsok_vec_hex32(d, hi);
    vsok_vec_sha256(in + 8, 2, d);
    vsok_vec_hex32(d, hm);

    snprintf(text, sizeof text, "vsok-vectors 1 1\n" GOOD_CASE, hi, hm);
    cr_expect_eq(load_text(text, err, sizeof err), 0, "minimal file refused: %s", err);

    snprintf(text, sizeof text, "vsok-vectors 1 1\n" GOOD_CASE, hm, hm); /* wrong input digest */
    cr_expect_eq(load_text(text, err, sizeof err), -1);
    cr_expect(strstr(err, "case 1") && strstr(err, "sha256"), "error should name the case: %s", err);

    snprintf(text, sizeof text, "vsok-vectors 1 1\n" GOOD_CASE, hi, hi); /* wrong message digest */
    cr_expect_eq(load_text(text, err, sizeof err), -1);

    snprintf(text, sizeof text, "vsok-vectors 2 1\n" GOOD_CASE, hi, hm); /* future format */
    cr_expect_eq(load_text(text, err, sizeof err), -1);
    cr_expect(strstr(err, "format"), "%s", err);

    snprintf(text, sizeof text, "vsok-vectors 1 1\n" GOOD_CASE GOOD_CASE, hi, hm, hi, hm); /* dup id */
    cr_expect_eq(load_text(text, err, sizeof err), -1);
    cr_expect(strstr(err, "duplicate"), "%s", err);

    snprintf(text, sizeof text, "vsok-vectors 1 1\ncase 1 decoder t one\ndesc x\n"); /* cut short */
    cr_expect_eq(load_text(text, err, sizeof err), -1);

    snprintf(text, sizeof text, "vsok-vectors 1 1\n" GOOD_CASE, hi, hm);
    char *bad = strstr(text, "counter 0 2");
    cr_assert_not_null(bad);
    memcpy(bad, "counter 0 3", 11); /* expands to the wrong length */
    cr_expect_eq(load_text(text, err, sizeof err), -1);
    cr_expect(strstr(err, "expands"), "%s", err);
}
