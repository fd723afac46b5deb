/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vsok/vsok.h>

#include "tutil.h"

/* ---- outcome of decoding a byte stream, and an independent model ---- */

#define MAXMSG 256

typedef struct outcome {
    size_t n;
    uint64_t off[MAXMSG];
    size_t len[MAXMSG];
    vsok_err err; /* final error: protocol error, or finish()'s Eof/Truncated */
    uint64_t err_off;
} outcome;

static void add_msg(outcome *o, uint64_t off, size_t len)
{
    cr_assert_lt(o->n, MAXMSG, "too many messages for the test's outcome table");
    o->off[o->n] = off;
    o->len[o->n] = len;
    o->n++;
}

/* The rules of the developers' guide, written out as plainly as possible. */
static void model(const uint8_t *s, size_t len, size_t max, outcome *o)
{
    memset(o, 0, sizeof *o);
    if (max == 0)
        max = VSOK_MAX_PAYLOAD;
    size_t p = 0;
    for (size_t guard = 0; guard <= len; guard++) {
        if (p == len) {
            o->err = VSOK_E_EOF;
            o->err_off = len;
            return;
        }
        for (size_t i = 0; i < 4; i++) {
            if (p + i == len) {
                o->err = VSOK_E_TRUNCATED;
                o->err_off = len;
                return;
            }
            if (s[p + i] != (uint8_t) "VSOK"[i]) {
                o->err = VSOK_E_MAGIC;
                o->err_off = p + i;
                return;
            }
        }
        if (len - p < 8) {
            o->err = VSOK_E_TRUNCATED;
            o->err_off = len;
            return;
        }
        uint32_t l = (uint32_t)s[p + 4] << 24 | (uint32_t)s[p + 5] << 16 | (uint32_t)s[p + 6] << 8 | s[p + 7];
        if (l == 0 || l > max) {
            o->err = l == 0 ? VSOK_E_LENGTH : VSOK_E_TOO_LARGE;
            o->err_off = p + 4;
            return;
        }
        if (len - p - 8 < l) {
            o->err = VSOK_E_TRUNCATED;
            o->err_off = len;
            return;
        }
        add_msg(o, p, l);
        p += 8 + (size_t)l;
    }
    cr_assert_fail("model did not terminate");
}

/* Feeds s split at the sorted cut points, each piece from its own heap copy
 * that is scribbled over and freed right after (so a decoder keeping a
 * pointer into an old piece shows up as wrong data or an ASan report).
 * Every message is checked against the stream at its offset on delivery. */
static void run_split(size_t max, const uint8_t *s, size_t len, const size_t *cuts, size_t ncuts, outcome *o)
{
    memset(o, 0, sizeof *o);
    vsok_decoder *d = vsok_decoder_new(max);
    cr_assert_not_null(d);
    size_t start = 0;
    uint64_t fed = 0;
    vsok_err err = VSOK_OK;
    for (size_t c = 0; c <= ncuts && err == VSOK_OK; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        cr_assert_geq(end, start);
        size_t clen = end - start;
        uint8_t *piece = malloc(clen ? clen : 1);
        cr_assert_not_null(piece);
        memcpy(piece, s + start, clen);
        size_t pos = 0;
        for (size_t guard = 0; guard <= clen + 1; guard++) {
            size_t consumed = 12345;
            vsok_msg msg;
            vsok_err r = vsok_decoder_feed(d, piece + pos, clen - pos, &consumed, &msg);
            cr_assert_leq(consumed, clen - pos, "consumed %zu of %zu", consumed, clen - pos);
            pos += consumed;
            fed += consumed;
            cr_assert_eq(vsok_decoder_offset(d), fed);
            if (r == VSOK_OK) {
                cr_assert_gt(consumed, 0, "a message needs at least one new byte");
                cr_assert_leq(msg.offset + 8 + msg.len, fed);
                cr_assert_eq(msg.offset + 8 + msg.len, fed, "message must end at the last byte taken");
                cr_assert_not_null(msg.data);
                cr_assert_eq(memcmp(msg.data, s + msg.offset + 8, msg.len), 0,
                             "payload of message at %llu differs", (unsigned long long)msg.offset);
                add_msg(o, msg.offset, msg.len);
                if (pos == clen)
                    break;
                continue;
            }
            if (r == VSOK_E_AGAIN) {
                cr_assert_eq(pos, clen, "AGAIN must take all of the buffer");
                break;
            }
            cr_assert(r == VSOK_E_MAGIC || r == VSOK_E_LENGTH || r == VSOK_E_TOO_LARGE, "unexpected %s",
                      vsok_errname(r));
            err = r;
            break;
        }
        memset(piece, 0xEE, clen ? clen : 1);
        free(piece);
        start = end;
    }
    if (err == VSOK_OK)
        err = vsok_decoder_finish(d);
    o->err = err;
    o->err_off = vsok_decoder_error_offset(d);
    cr_assert_eq(vsok_decoder_error(d), err);
    vsok_decoder_free(d);
}

static void assert_same(const outcome *got, const outcome *want, const char *what)
{
    cr_assert_eq(got->n, want->n, "%s: %zu messages, want %zu", what, got->n, want->n);
    for (size_t i = 0; i < want->n; i++) {
        cr_assert_eq(got->off[i], want->off[i], "%s: message %zu offset", what, i);
        cr_assert_eq(got->len[i], want->len[i], "%s: message %zu length", what, i);
    }
    cr_assert_eq(got->err, want->err, "%s: %s, want %s", what, vsok_errname(got->err),
                 vsok_errname(want->err));
    cr_assert_eq(got->err_off, want->err_off, "%s: error offset %llu, want %llu", what,
                 (unsigned long long)got->err_off, (unsigned long long)want->err_off);
}

typedef struct {
    size_t n;
    size_t off[MAXMSG];
    size_t len[MAXMSG];
    outcome *o;
    size_t stop_after;
    const uint8_t *s;
} all_ctx;

static int on_msg(void *ctx, const vsok_msg *m)
{
    all_ctx *c = ctx;
    if (memcmp(m->data, c->s + m->offset + 8, m->len) != 0)
        return 2; /* flagged below: decode_all then returns VSOK_OK early */
    add_msg(c->o, m->offset, m->len);
    return c->stop_after && c->o->n >= c->stop_after;
}

static void run_all(size_t max, const uint8_t *s, size_t len, outcome *o)
{
    memset(o, 0, sizeof *o);
    all_ctx c = {.o = o, .s = s};
    uint64_t off = 424242;
    o->err = vsok_decode_all(s, len, max, on_msg, &c, &off);
    cr_assert_neq(o->err, VSOK_OK, "decode_all stopped early: a payload differed");
    o->err_off = off;
}

/* Checks model, vsok_decode_all and the push decoder (unsplit) agree, and
 * that want (if given) is what they agree on. */
static void check_all_ways(size_t max, const uint8_t *s, size_t len, outcome *ref)
{
    outcome all, push;
    model(s, len, max, ref);
    run_all(max, s, len, &all);
    assert_same(&all, ref, "decode_all");
    run_split(max, s, len, NULL, 0, &push);
    assert_same(&push, ref, "push decoder, one piece");
}

/* ---- streams used by the split tests ---- */

typedef struct {
    const char *name;
    uint8_t b[512];
    size_t len;
    size_t max;
} stream;

static size_t put_frame(uint8_t *p, uint32_t len, uint32_t seed)
{
    uint8_t pl[400];
    cr_assert_leq(len, sizeof pl);
    tu_fill(pl, len, seed);
    return tu_frame(p, pl, len);
}

static size_t put_raw(uint8_t *p, const char *bytes, size_t n)
{
    memcpy(p, bytes, n);
    return n;
}

static size_t make_streams(stream *st)
{
    size_t k = 0;
    memset(st, 0, 16 * sizeof *st);

    st[k].name = "one byte payload";
    st[k].len = put_frame(st[k].b, 1, 1);
    k++;

    st[k].name = "ten byte payload";
    st[k].len = put_frame(st[k].b, 10, 2);
    k++;

    st[k].name = "three frames";
    st[k].len = put_frame(st[k].b, 3, 3);
    st[k].len += put_frame(st[k].b + st[k].len, 1, 4);
    st[k].len += put_frame(st[k].b + st[k].len, 5, 5);
    k++;

    st[k].name = "frame then bad magic byte 2";
    st[k].len = put_frame(st[k].b, 2, 6);
    st[k].len += put_raw(st[k].b + st[k].len, "VSXK\0\0\0\1z", 9);
    k++;

    st[k].name = "frame then zero length";
    st[k].len = put_frame(st[k].b, 1, 7);
    st[k].len += put_raw(st[k].b + st[k].len, "VSOK\0\0\0\0VSOK\0\0\0\1a", 17);
    k++;

    st[k].name = "frame then too large";
    st[k].len = put_frame(st[k].b, 1, 8);
    st[k].len += put_raw(st[k].b + st[k].len, "VSOK\0\x10\0\x01xyz", 11);
    k++;

    st[k].name = "truncated in payload";
    st[k].len = put_frame(st[k].b, 4, 9) - 2;
    k++;

    st[k].name = "frame then partial header";
    st[k].len = put_frame(st[k].b, 4, 10);
    st[k].len += put_raw(st[k].b + st[k].len, "VS", 2);
    k++;

    st[k].name = "wrong second byte then end";
    st[k].len = put_raw(st[k].b, "VX", 2);
    k++;

    st[k].name = "partial length then end";
    st[k].len = put_raw(st[k].b, "VSOK\xFF", 5);
    k++;

    st[k].name = "http request";
    st[k].len = put_raw(st[k].b, "GET / HTTP/1.1\r\n\r\n", 18);
    k++;

    st[k].name = "300 byte payload";
    st[k].len = put_frame(st[k].b, 300, 11);
    k++;

    st[k].name = "max 100: 100 then 101";
    st[k].max = 100;
    st[k].len = put_frame(st[k].b, 100, 12);
    st[k].len += put_frame(st[k].b + st[k].len, 101, 13);
    k++;

    st[k].name = "empty stream";
    st[k].len = 0;
    k++;
    return k;
}

Test(decoder, every_single_split_point_gives_the_same_outcome)
{
    stream st[16];
    size_t ns = make_streams(st);
    for (size_t i = 0; i < ns; i++) {
        outcome ref, got;
        check_all_ways(st[i].max, st[i].b, st[i].len, &ref);
        for (size_t c = 0; c <= st[i].len; c++) {
            size_t cuts[1] = {c};
            run_split(st[i].max, st[i].b, st[i].len, cuts, 1, &got);
            char what[128];
            snprintf(what, sizeof what, "%s, split at %zu", st[i].name, c);
            assert_same(&got, &ref, what);
        }
    }
}

Test(decoder, every_pair_of_split_points_gives_the_same_outcome)
{
    stream st[16];
    size_t ns = make_streams(st);
    for (size_t i = 0; i < ns; i++) {
        if (st[i].len > 64)
            continue;
        outcome ref, got;
        model(st[i].b, st[i].len, st[i].max, &ref);
        for (size_t a = 0; a <= st[i].len; a++) {
            for (size_t b = a; b <= st[i].len; b++) {
                size_t cuts[2] = {a, b};
                run_split(st[i].max, st[i].b, st[i].len, cuts, 2, &got);
                char what[128];
                snprintf(what, sizeof what, "%s, split at %zu and %zu", st[i].name, a, b);
                assert_same(&got, &ref, what);
            }
        }
    }
}

Test(decoder, byte_by_byte_gives_the_same_outcome)
{
    stream st[16];
    size_t ns = make_streams(st);
    static size_t cuts[512];
    for (size_t i = 0; i < ns; i++) {
        outcome ref, got;
        model(st[i].b, st[i].len, st[i].max, &ref);
        for (size_t c = 1; c < st[i].len; c++)
            cuts[c - 1] = c;
        run_split(st[i].max, st[i].b, st[i].len, cuts, st[i].len ? st[i].len - 1 : 0, &got);
        assert_same(&got, &ref, st[i].name);
    }
}

Test(decoder, one_mib_frame_byte_by_byte_and_in_odd_pieces)
{
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 99, &flen);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t got_msgs = 0;
    /* byte by byte */
    for (size_t i = 0; i < flen; i++) {
        size_t consumed;
        vsok_msg m;
        vsok_err r = vsok_decoder_feed(d, f + i, 1, &consumed, &m);
        cr_assert_eq(consumed, 1);
        if (i + 1 < flen) {
            cr_assert_eq(r, VSOK_E_AGAIN, "byte %zu: %s", i, vsok_errname(r));
        } else {
            cr_assert_eq(r, VSOK_OK);
            cr_assert_eq(m.len, VSOK_MAX_PAYLOAD);
            cr_assert_eq(memcmp(m.data, f + 8, m.len), 0);
            got_msgs++;
        }
    }
    /* pieces of 4093 bytes (prime, never aligned with the header) */
    for (size_t i = 0; i < flen; i += 4093) {
        size_t n = flen - i < 4093 ? flen - i : 4093;
        size_t consumed;
        vsok_msg m;
        vsok_err r = vsok_decoder_feed(d, f + i, n, &consumed, &m);
        cr_assert_eq(consumed, n);
        if (i + n < flen) {
            cr_assert_eq(r, VSOK_E_AGAIN);
        } else {
            cr_assert_eq(r, VSOK_OK);
            cr_assert_eq(m.offset, flen);
            cr_assert_eq(m.len, VSOK_MAX_PAYLOAD);
            cr_assert_eq(memcmp(m.data, f + 8, m.len), 0);
            got_msgs++;
        }
    }
    cr_assert_eq(got_msgs, 2);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_EOF);
    cr_assert_eq(vsok_decoder_error_offset(d), 2 * flen);
    vsok_decoder_free(d);
    free(f);
}

/* ---- zero copy ---- */

Test(decoder, whole_frames_in_the_callers_buffer_are_not_copied)
{
    uint8_t buf[64];
    size_t len = tu_frame(buf, "hello", 5);
    len += tu_frame(buf + len, "world!", 6);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, buf, len, &consumed, &m), VSOK_OK);
    cr_assert_eq(consumed, 13);
    cr_assert_eq(m.data, buf + 8, "first payload must point into the caller's buffer");
    cr_assert_eq(m.len, 5);
    cr_assert_eq(m.offset, 0);
    cr_assert_eq(memcmp(m.data, "hello", 5), 0);
    size_t c2;
    cr_assert_eq(vsok_decoder_feed(d, buf + consumed, len - consumed, &c2, &m), VSOK_OK);
    cr_assert_eq(c2, 14);
    cr_assert(m.data >= buf && m.data + m.len <= buf + len, "second payload outside caller's buffer");
    cr_assert_eq(m.data, buf + 13 + 8);
    cr_assert_eq(m.offset, 13);
    cr_assert_eq(memcmp(m.data, "world!", 6), 0);
    vsok_decoder_free(d);
}

Test(decoder, split_payload_survives_the_caller_reusing_its_buffer)
{
    uint8_t frame[64], buf[64];
    size_t len = tu_frame(frame, "abcdefghij", 10);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    memcpy(buf, frame, 12);
    cr_assert_eq(vsok_decoder_feed(d, buf, 12, &consumed, &m), VSOK_E_AGAIN);
    memset(buf, 'Z', sizeof buf);
    memcpy(buf, frame + 12, len - 12);
    cr_assert_eq(vsok_decoder_feed(d, buf, len - 12, &consumed, &m), VSOK_OK);
    cr_assert_eq(m.len, 10);
    cr_assert_eq(memcmp(m.data, "abcdefghij", 10), 0);
    vsok_decoder_free(d);
}

/* ---- errors, offsets and stickiness ---- */

Test(decoder, rejects_wrong_magic_at_the_offending_byte)
{
    for (size_t start = 0; start <= 9; start += 9) {
        for (size_t i = 0; i < 4; i++) {
            uint8_t s[32];
            size_t len = start ? tu_frame(s, "x", 1) : 0;
            memcpy(s + len, "VSOK\0\0\0\1y", 9);
            s[len + i] = '!';
            len += 9;
            /* all at once */
            vsok_decoder *d = vsok_decoder_new(0);
            cr_assert_not_null(d);
            size_t consumed, total = 0;
            vsok_msg m;
            vsok_err r = vsok_decoder_feed(d, s, len, &consumed, &m);
            if (start) {
                cr_assert_eq(r, VSOK_OK);
                total = consumed;
                r = vsok_decoder_feed(d, s + total, len - total, &consumed, &m);
            }
            cr_assert_eq(r, VSOK_E_MAGIC, "start %zu byte %zu", start, i);
            cr_assert_eq(consumed, i + 1, "consumed includes the offending byte");
            cr_assert_eq(vsok_decoder_error_offset(d), start + i);
            vsok_decoder_free(d);
            /* byte by byte: reported as that byte arrives */
            d = vsok_decoder_new(0);
            cr_assert_not_null(d);
            for (size_t k = 0; k < len; k++) {
                r = vsok_decoder_feed(d, s + k, 1, &consumed, &m);
                if (k < start + i) {
                    cr_assert(r == VSOK_E_AGAIN || r == VSOK_OK);
                    continue;
                }
                cr_assert_eq(k, start + i);
                cr_assert_eq(r, VSOK_E_MAGIC, "byte %zu: %s", k, vsok_errname(r));
                cr_assert_eq(consumed, 1);
                cr_assert_eq(vsok_decoder_error_offset(d), start + i);
                break;
            }
            vsok_decoder_free(d);
        }
    }
}

Test(decoder, wrong_first_byte_then_end_is_magic_not_truncated)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"G", 1, &consumed, &m), VSOK_E_MAGIC);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_MAGIC);
    cr_assert_eq(vsok_decoder_error_offset(d), 0);
    vsok_decoder_free(d);
}

Test(decoder, rejects_zero_length_at_offset_4)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"VSOK\0\0\0\0VSOK", 12, &consumed, &m), VSOK_E_LENGTH);
    cr_assert_eq(consumed, 8);
    cr_assert_eq(vsok_decoder_error_offset(d), 4);
    cr_assert_eq(vsok_decoder_error(d), VSOK_E_LENGTH);
    vsok_decoder_free(d);
}

Test(decoder, rejects_too_large_at_offset_4_without_waiting_for_payload)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    uint8_t h[8];
    tu_header(h, VSOK_MAX_PAYLOAD + 1);
    cr_assert_eq(vsok_decoder_feed(d, h, 8, &consumed, &m), VSOK_E_TOO_LARGE);
    cr_assert_eq(consumed, 8);
    cr_assert_eq(vsok_decoder_error_offset(d), 4);
    vsok_decoder_free(d);
}

Test(decoder, length_is_judged_only_when_all_four_bytes_are_in)
{
    /* 0xFF in the first length byte already means too large, but the stream
     * ends before the length is complete: Truncated at 5. */
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"VSOK\xFF", 5, &consumed, &m), VSOK_E_AGAIN);
    cr_assert_eq(consumed, 5);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_TRUNCATED);
    cr_assert_eq(vsok_decoder_error_offset(d), 5);
    vsok_decoder_free(d);
}

Test(decoder, length_errors_after_a_frame_are_at_frame_start_plus_4)
{
    uint8_t s[64];
    size_t len = tu_frame(s, "abc", 3);
    memcpy(s + len, "VSOK\0\0\0\0", 8);
    outcome o;
    run_split(0, s, len + 8, NULL, 0, &o);
    cr_assert_eq(o.n, 1);
    cr_assert_eq(o.err, VSOK_E_LENGTH);
    cr_assert_eq(o.err_off, 11 + 4);
}

Test(decoder, messages_before_an_error_are_delivered_and_none_after)
{
    uint8_t s[128];
    size_t len = tu_frame(s, "one", 3);
    len += tu_frame(s + len, "two", 3);
    size_t bad = len;
    len += tu_frame(s + len, "bad", 3);
    s[bad + 1] = 'Q';
    len += tu_frame(s + len, "after", 5);

    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t pos = 0, consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, s, len, &consumed, &m), VSOK_OK);
    cr_assert_eq(memcmp(m.data, "one", 3), 0);
    pos += consumed;
    cr_assert_eq(vsok_decoder_feed(d, s + pos, len - pos, &consumed, &m), VSOK_OK);
    cr_assert_eq(memcmp(m.data, "two", 3), 0);
    pos += consumed;
    cr_assert_eq(vsok_decoder_feed(d, s + pos, len - pos, &consumed, &m), VSOK_E_MAGIC);
    cr_assert_eq(consumed, 2);
    cr_assert_eq(vsok_decoder_error_offset(d), bad + 1);
    pos += consumed;
    /* sticky: the good frame after the error is never delivered */
    for (int i = 0; i < 3; i++) {
        m.len = 999;
        cr_assert_eq(vsok_decoder_feed(d, s + pos, len - pos, &consumed, &m), VSOK_E_MAGIC);
        cr_assert_eq(vsok_decoder_error_offset(d), bad + 1);
    }
    cr_assert_eq(vsok_decoder_feed(d, s, 11, &consumed, &m), VSOK_E_MAGIC, "fresh frame after error");
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_MAGIC);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_MAGIC);
    cr_assert_eq(vsok_decoder_error(d), VSOK_E_MAGIC);
    cr_assert_eq(vsok_decoder_error_offset(d), bad + 1);
    vsok_decoder_free(d);
}

Test(decoder, finish_at_boundary_is_eof_at_total_length)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    cr_assert(vsok_decoder_at_boundary(d));
    cr_assert_eq(vsok_decoder_error(d), VSOK_OK);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_EOF);
    cr_assert_eq(vsok_decoder_error_offset(d), 0);
    vsok_decoder_free(d);

    uint8_t s[32];
    size_t len = tu_frame(s, "hello", 5);
    d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, s, len, &consumed, &m), VSOK_OK);
    cr_assert(vsok_decoder_at_boundary(d));
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_EOF);
    cr_assert_eq(vsok_decoder_error_offset(d), len);
    /* sticky afterwards */
    cr_assert_eq(vsok_decoder_feed(d, s, len, &consumed, &m), VSOK_E_EOF);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_EOF);
    vsok_decoder_free(d);
}

Test(decoder, finish_inside_a_frame_is_truncated_at_bytes_received)
{
    uint8_t s[32];
    size_t len = tu_frame(s, "hello", 5);
    for (size_t k = 1; k < len; k++) {
        vsok_decoder *d = vsok_decoder_new(0);
        cr_assert_not_null(d);
        size_t consumed;
        vsok_msg m;
        cr_assert_eq(vsok_decoder_feed(d, s, k, &consumed, &m), VSOK_E_AGAIN);
        cr_assert_not(vsok_decoder_at_boundary(d), "k %zu", k);
        cr_assert_eq(vsok_decoder_pending_length(d), k >= 8 ? 5u : 0u, "k %zu", k);
        cr_assert_eq(vsok_decoder_finish(d), VSOK_E_TRUNCATED, "k %zu", k);
        cr_assert_eq(vsok_decoder_error_offset(d), k);
        cr_assert_eq(vsok_decoder_finish(d), VSOK_E_TRUNCATED);
        cr_assert_eq(vsok_decoder_feed(d, s + k, len - k, &consumed, &m), VSOK_E_TRUNCATED);
        vsok_decoder_free(d);
    }
}

/* ---- limits ---- */

Test(decoder, custom_max_accepts_100_and_rejects_101)
{
    uint8_t s[256];
    uint8_t pl[101];
    memset(pl, 'p', sizeof pl);
    size_t l100 = tu_frame(s, pl, 100);
    size_t len = l100 + tu_frame(s + l100, pl, 101);
    outcome o;
    run_split(100, s, len, NULL, 0, &o);
    cr_assert_eq(o.n, 1);
    cr_assert_eq(o.len[0], 100);
    cr_assert_eq(o.err, VSOK_E_TOO_LARGE);
    cr_assert_eq(o.err_off, l100 + 4);
}

Test(decoder, max_above_1mib_is_refused)
{
    cr_assert_null(vsok_decoder_new(VSOK_MAX_PAYLOAD + 1));
    cr_assert_null(vsok_decoder_new(SIZE_MAX));
    vsok_decoder *d = vsok_decoder_new(VSOK_MAX_PAYLOAD);
    cr_assert_not_null(d);
    vsok_decoder_free(d);
}

Test(decoder, exactly_1mib_accepted_and_one_more_rejected)
{
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 5, &flen);
    for (int which = 0; which < 2; which++) {
        vsok_decoder *d = vsok_decoder_new(which ? VSOK_MAX_PAYLOAD : 0);
        cr_assert_not_null(d);
        size_t consumed;
        vsok_msg m;
        cr_assert_eq(vsok_decoder_feed(d, f, flen, &consumed, &m), VSOK_OK);
        cr_assert_eq(m.len, VSOK_MAX_PAYLOAD);
        cr_assert_eq(m.data, f + 8);
        uint8_t h[8];
        tu_header(h, VSOK_MAX_PAYLOAD + 1);
        cr_assert_eq(vsok_decoder_feed(d, h, 8, &consumed, &m), VSOK_E_TOO_LARGE);
        cr_assert_eq(vsok_decoder_error_offset(d), flen + 4);
        vsok_decoder_free(d);
    }
    free(f);
}

/* ---- memory ---- */

Test(decoder, announced_length_costs_nothing_until_bytes_arrive)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t m0 = vsok_decoder_memory(d);
    cr_assert_gt(m0, 0, "the struct itself counts");
    cr_assert_lt(m0, 16384, "a fresh decoder holds %zu bytes", m0);
    uint8_t h[8];
    tu_header(h, VSOK_MAX_PAYLOAD);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, h, 8, &consumed, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_pending_length(d), VSOK_MAX_PAYLOAD);
    cr_assert_leq(vsok_decoder_memory(d), m0 + 4096, "holds %zu after a bare 1 MiB header",
                  vsok_decoder_memory(d));

    /* Growth stays within twice what arrived, fed in uneven pieces. */
    static uint8_t piece[70000];
    tu_fill(piece, sizeof piece, 3);
    size_t got = 0;
    static const size_t steps[] = {1, 1, 2, 10, 100, 1000, 3000, 7, 65536, 70000, 12345};
    for (size_t round = 0; got < VSOK_MAX_PAYLOAD && round < 1000; round++) {
        size_t n = steps[round % (sizeof steps / sizeof steps[0])];
        if (n > VSOK_MAX_PAYLOAD - got)
            n = VSOK_MAX_PAYLOAD - got;
        vsok_err r = vsok_decoder_feed(d, piece, n, &consumed, &m);
        got += n;
        if (got < VSOK_MAX_PAYLOAD) {
            cr_assert_eq(r, VSOK_E_AGAIN);
            size_t mem = vsok_decoder_memory(d);
            cr_assert_leq(mem, m0 + 2 * got + 4096, "holds %zu after %zu payload bytes", mem, got);
        } else {
            cr_assert_eq(r, VSOK_OK);
            cr_assert_eq(m.len, VSOK_MAX_PAYLOAD);
        }
    }
    cr_assert_eq(got, VSOK_MAX_PAYLOAD);
    vsok_decoder_reset(d);
    cr_assert_leq(vsok_decoder_memory(d), m0 + 4096, "reset releases the payload buffer");
    vsok_decoder_free(d);
}

/* ---- prepare / commit ---- */

Test(decoder, prepare_is_null_outside_a_payload)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t room = 777;
    cr_assert_null(vsok_decoder_prepare(d, &room));
    cr_assert_eq(room, 0);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"VSOK\0\0", 6, &consumed, &m), VSOK_E_AGAIN);
    room = 777;
    cr_assert_null(vsok_decoder_prepare(d, &room), "inside the header");
    cr_assert_eq(room, 0);
    vsok_decoder_free(d);
}

Test(decoder, prepare_commit_reassembles_1mib_then_feed_continues)
{
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 21, &flen);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t m0 = vsok_decoder_memory(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, f, 8, &consumed, &m), VSOK_E_AGAIN);
    size_t got = 0;
    int done = 0;
    for (size_t round = 0; !done && round < 100000; round++) {
        size_t room = 0;
        uint8_t *p = vsok_decoder_prepare(d, &room);
        cr_assert_not_null(p, "after %zu bytes", got);
        cr_assert_gt(room, 0);
        cr_assert_leq(room, VSOK_MAX_PAYLOAD - got, "room past the end of the payload");
        size_t mem = vsok_decoder_memory(d);
        cr_assert_lt(mem, m0 + VSOK_MAX_PAYLOAD / 2 + 2 * got, "holds %zu after %zu bytes", mem, got);
        /* take odd amounts, like short reads */
        size_t n = room > 5000 ? room - 4999 : room;
        memcpy(p, f + 8 + got, n);
        vsok_err r = vsok_decoder_commit(d, n, &m);
        got += n;
        cr_assert_eq(vsok_decoder_offset(d), 8 + got);
        if (got < VSOK_MAX_PAYLOAD) {
            cr_assert_eq(r, VSOK_E_AGAIN);
        } else {
            cr_assert_eq(r, VSOK_OK);
            cr_assert_eq(m.len, VSOK_MAX_PAYLOAD);
            cr_assert_eq(m.offset, 0);
            cr_assert_eq(memcmp(m.data, f + 8, m.len), 0);
            done = 1;
        }
    }
    cr_assert(done);
    cr_assert(vsok_decoder_at_boundary(d));
    uint8_t s[16];
    size_t l = tu_frame(s, "next", 4);
    cr_assert_eq(vsok_decoder_feed(d, s, l, &consumed, &m), VSOK_OK);
    cr_assert_eq(m.offset, flen);
    cr_assert_eq(memcmp(m.data, "next", 4), 0);
    vsok_decoder_free(d);
    free(f);
}

Test(decoder, prepare_after_partial_feed_of_payload)
{
    uint8_t s[32];
    size_t len = tu_frame(s, "0123456789", 10);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, s, 11, &consumed, &m), VSOK_E_AGAIN);
    size_t room;
    uint8_t *p = vsok_decoder_prepare(d, &room);
    cr_assert_not_null(p);
    cr_assert_geq(room, 1);
    cr_assert_leq(room, 7);
    memcpy(p, s + 11, room);
    vsok_err r = vsok_decoder_commit(d, room, &m);
    if (room < 7) {
        cr_assert_eq(r, VSOK_E_AGAIN);
        cr_assert_eq(vsok_decoder_feed(d, s + 11 + room, len - 11 - room, &consumed, &m), VSOK_OK);
    } else {
        cr_assert_eq(r, VSOK_OK);
    }
    cr_assert_eq(m.len, 10);
    cr_assert_eq(memcmp(m.data, "0123456789", 10), 0);
    vsok_decoder_free(d);
}

Test(decoder, commit_more_than_room_is_invalid)
{
    uint8_t h[8];
    tu_header(h, 1000);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, h, 8, &consumed, &m), VSOK_E_AGAIN);
    size_t room;
    cr_assert_not_null(vsok_decoder_prepare(d, &room));
    cr_assert_eq(vsok_decoder_commit(d, room + 1, &m), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_offset(d), 8, "a refused commit takes nothing");
    vsok_decoder_free(d);
}

/* ---- reset and arguments ---- */

Test(decoder, reset_forgets_errors_and_position_but_keeps_max)
{
    vsok_decoder *d = vsok_decoder_new(100);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"GET", 3, &consumed, &m), VSOK_E_MAGIC);
    vsok_decoder_reset(d);
    cr_assert_eq(vsok_decoder_error(d), VSOK_OK);
    cr_assert_eq(vsok_decoder_error_offset(d), 0);
    cr_assert_eq(vsok_decoder_offset(d), 0);
    cr_assert(vsok_decoder_at_boundary(d));
    uint8_t s[256], pl[101];
    memset(pl, 1, sizeof pl);
    size_t l = tu_frame(s, pl, 100);
    cr_assert_eq(vsok_decoder_feed(d, s, l, &consumed, &m), VSOK_OK);
    cr_assert_eq(m.offset, 0);
    /* reset in the middle of a frame */
    cr_assert_eq(vsok_decoder_feed(d, s, 20, &consumed, &m), VSOK_E_AGAIN);
    vsok_decoder_reset(d);
    cr_assert_eq(vsok_decoder_pending_length(d), 0);
    cr_assert(vsok_decoder_at_boundary(d));
    l = tu_frame(s, pl, 101);
    cr_assert_eq(vsok_decoder_feed(d, s, l, &consumed, &m), VSOK_E_TOO_LARGE, "max survives reset");
    cr_assert_eq(vsok_decoder_error_offset(d), 4);
    vsok_decoder_reset(d);
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_EOF);
    vsok_decoder_free(d);
}

Test(decoder, null_arguments_are_invalid)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    uint8_t s[16];
    size_t l = tu_frame(s, "x", 1);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(NULL, s, l, &consumed, &m), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_feed(d, NULL, l, &consumed, &m), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_feed(d, s, l, NULL, &m), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_feed(d, s, l, &consumed, NULL), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_offset(d), 0, "refused calls take nothing");
    cr_assert_eq(vsok_decoder_feed(d, s, 0, &consumed, &m), VSOK_E_AGAIN);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(vsok_decoder_feed(d, s, l, &consumed, &m), VSOK_OK);
    vsok_decoder_free(d);
}

/* ---- vsok_decode_all ---- */

Test(decoder, decode_all_calls_back_in_order_and_ends_with_eof)
{
    uint8_t s[64];
    size_t len = tu_frame(s, "a", 1);
    len += tu_frame(s + len, "bb", 2);
    len += tu_frame(s + len, "ccc", 3);
    outcome o;
    run_all(0, s, len, &o);
    cr_assert_eq(o.n, 3);
    cr_assert_eq(o.off[0], 0);
    cr_assert_eq(o.off[1], 9);
    cr_assert_eq(o.off[2], 19);
    cr_assert_eq(o.len[2], 3);
    cr_assert_eq(o.err, VSOK_E_EOF);
    cr_assert_eq(o.err_off, len);
}

Test(decoder, decode_all_stops_when_the_callback_asks)
{
    uint8_t s[64];
    size_t len = tu_frame(s, "a", 1);
    len += tu_frame(s + len, "bb", 2);
    len += tu_frame(s + len, "ccc", 3);
    outcome o;
    memset(&o, 0, sizeof o);
    all_ctx c = {.o = &o, .s = s, .stop_after = 2};
    uint64_t off = 0;
    cr_assert_eq(vsok_decode_all(s, len, 0, on_msg, &c, &off), VSOK_OK);
    cr_assert_eq(o.n, 2);
}

Test(decoder, decode_all_reports_errors_with_offsets)
{
    outcome o;
    run_all(0, (const uint8_t *)"VSOK\0\0\0\0", 8, &o);
    cr_assert_eq(o.err, VSOK_E_LENGTH);
    cr_assert_eq(o.err_off, 4);
    run_all(0, (const uint8_t *)"VSO", 3, &o);
    cr_assert_eq(o.err, VSOK_E_TRUNCATED);
    cr_assert_eq(o.err_off, 3);
    run_all(0, (const uint8_t *)"VSOKVSOK", 8, &o);
    cr_assert_eq(o.err, VSOK_E_TOO_LARGE, "bytes 4..7 are the length, whatever they spell");
    cr_assert_eq(o.err_off, 4);
    run_all(0,
            (const uint8_t *)"VSOK\0\0\0\x02"
                             "a",
            9, &o);
    cr_assert_eq(o.err, VSOK_E_TRUNCATED);
    cr_assert_eq(o.err_off, 9);
    run_all(0, (const uint8_t *)"", 0, &o);
    cr_assert_eq(o.err, VSOK_E_EOF);
    cr_assert_eq(o.err_off, 0);
    run_all(2,
            (const uint8_t *)"VSOK\0\0\0\x02"
                             "abVSOK\0\0\0\x03"
                             "abc",
            21, &o);
    cr_assert_eq(o.n, 1);
    cr_assert_eq(o.err, VSOK_E_TOO_LARGE);
    cr_assert_eq(o.err_off, 10 + 4);
}

/* ---- random streams: model, decode_all and the push decoder agree ---- */

Test(decoder, random_streams_agree_with_decode_all_and_the_model)
{
    static uint8_t s[40000];
    static size_t cuts[40000];
    static const size_t maxes[] = {0, 1, 10, 100, 1000};
    uint32_t rng = 0x5EED1234u;
    for (int iter = 0; iter < 3000; iter++) {
        size_t max = maxes[tu_rand(&rng) % 5];
        size_t len = 0;
        size_t nframes = tu_rand(&rng) % 9;
        for (size_t f = 0; f < nframes; f++) {
            uint32_t pl = tu_rand(&rng) % 4 == 0 ? 100 + tu_rand(&rng) % 3000 : 1 + tu_rand(&rng) % 20;
            if (len + 8 + pl > sizeof s)
                break;
            tu_header(s + len, pl);
            tu_fill(s + len + 8, pl, tu_rand(&rng));
            len += 8 + pl;
        }
        switch (tu_rand(&rng) % 6) {
        case 0: /* flip a byte */
            if (len)
                s[tu_rand(&rng) % len] ^= (uint8_t)(1 + tu_rand(&rng) % 255);
            break;
        case 1: /* cut short */
            if (len)
                len = tu_rand(&rng) % len;
            break;
        case 2: /* trailing junk */
            for (int j = tu_rand(&rng) % 10; j > 0 && len < sizeof s; j--)
                s[len++] = (uint8_t)tu_rand(&rng);
            break;
        case 3: /* rewrite a length field near a boundary */
            if (len >= 8) {
                static const uint32_t ls[] = {0, 1, VSOK_MAX_PAYLOAD, VSOK_MAX_PAYLOAD + 1, 0xFFFFFFFFu};
                uint32_t l = ls[tu_rand(&rng) % 5];
                s[4] = (uint8_t)(l >> 24);
                s[5] = (uint8_t)(l >> 16);
                s[6] = (uint8_t)(l >> 8);
                s[7] = (uint8_t)l;
            }
            break;
        default: break;
        }
        outcome ref, got;
        check_all_ways(max, s, len, &ref);
        size_t ncuts = 0;
        if (len && len < 200 && tu_rand(&rng) % 4 == 0) {
            for (size_t c = 1; c < len; c++)
                cuts[ncuts++] = c;
        } else if (len) {
            size_t k = tu_rand(&rng) % 8;
            size_t at = 0;
            for (size_t j = 0; j < k; j++) {
                at += tu_rand(&rng) % (len / 4 + 1);
                if (at > len)
                    at = len;
                cuts[ncuts++] = at;
            }
        }
        run_split(max, s, len, cuts, ncuts, &got);
        char what[64];
        snprintf(what, sizeof what, "iteration %d", iter);
        assert_same(&got, &ref, what);
    }
}

Test(decoder, trim_releases_the_buffer_only_between_frames)
{
    size_t flen;
    uint8_t *f = tu_frame_alloc(200000, 8, &flen);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t m0 = vsok_decoder_memory(d);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, f, 100000, &consumed, &m), VSOK_E_AGAIN);
    vsok_decoder_trim(d); /* mid-frame: must keep the partial payload */
    cr_assert_eq(vsok_decoder_feed(d, f + 100000, flen - 100000, &consumed, &m), VSOK_OK);
    cr_assert_eq(m.len, 200000);
    cr_assert_eq(memcmp(m.data, f + 8, m.len), 0);
    vsok_decoder_trim(d);
    cr_assert_leq(vsok_decoder_memory(d), m0 + 4096, "holds %zu after trim", vsok_decoder_memory(d));
    cr_assert_eq(vsok_decoder_feed(d, f, flen, &consumed, &m), VSOK_OK, "usable after trim");
    cr_assert_eq(m.offset, flen);
    vsok_decoder_free(d);
    free(f);
}

Test(decoder, payload_buffer_never_exceeds_the_announced_length)
{
    static const uint32_t lens[] = {1, 2, 10, 100, 1000, 5000, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t flen;
        uint8_t *f = tu_frame_alloc(lens[i], 12, &flen);
        vsok_decoder *d = vsok_decoder_new(0);
        cr_assert_not_null(d);
        size_t m0 = vsok_decoder_memory(d);
        size_t consumed;
        vsok_msg m;
        /* header alone first, so no frame is ever wholly in one buffer */
        cr_assert_eq(vsok_decoder_feed(d, f, 8, &consumed, &m), VSOK_E_AGAIN);
        size_t step = lens[i] / 3 + 1;
        for (size_t at = 8; at < flen; at += step) {
            size_t n = flen - at < step ? flen - at : step;
            vsok_err r = vsok_decoder_feed(d, f + at, n, &consumed, &m);
            cr_assert_leq(vsok_decoder_memory(d), m0 + lens[i], "len %u: holds %zu", lens[i],
                          vsok_decoder_memory(d));
            cr_assert_eq(r, at + n == flen ? VSOK_OK : VSOK_E_AGAIN);
        }
        cr_assert_eq(memcmp(m.data, f + 8, lens[i]), 0);
        vsok_decoder_free(d);
        free(f);
    }
}

/* ---- allocation failure (address-space limit; not under ASan, which
 * reserves terabytes of address space) ---- */

#if defined(__SANITIZE_ADDRESS__)
#define VSOK_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VSOK_TEST_ASAN 1
#endif
#endif

#ifndef VSOK_TEST_ASAN
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long pages = 0;
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

Test(decoder, out_of_memory_keeps_state_and_retry_succeeds)
{
#ifdef VSOK_TEST_ASAN
    cr_skip_test("address-space limits do not work under ASan");
#else
    size_t flen;
    uint8_t *f = tu_frame_alloc(VSOK_MAX_PAYLOAD, 44, &flen);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t consumed;
    vsok_msg m;
    size_t at = 8 + 100000; /* buffer 200 KB: the rest needs about 850 KB more */
    cr_assert_eq(vsok_decoder_feed(d, f, 8, &consumed, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_feed(d, f + 8, at - 8, &consumed, &m), VSOK_E_AGAIN);

    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = vm_bytes() + 256 * 1024;
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    vsok_err r = vsok_decoder_feed(d, f + at, flen - at, &consumed, &m);
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);

    cr_assert_eq(r, VSOK_E_NOMEM, "%s", vsok_errname(r));
    cr_assert_leq(consumed, flen - at);
    at += consumed;
    cr_assert_eq(vsok_decoder_offset(d), at);
    cr_assert_eq(vsok_decoder_error(d), VSOK_OK, "out of memory is not sticky");
    cr_assert_eq(vsok_decoder_pending_length(d), VSOK_MAX_PAYLOAD);
    /* retry with the limit lifted */
    for (int i = 0; i < 4 && at < flen; i++) {
        r = vsok_decoder_feed(d, f + at, flen - at, &consumed, &m);
        at += consumed;
    }
    cr_assert_eq(r, VSOK_OK, "%s", vsok_errname(r));
    cr_assert_eq(at, flen);
    cr_assert_eq(m.len, VSOK_MAX_PAYLOAD);
    cr_assert_eq(memcmp(m.data, f + 8, m.len), 0);
    vsok_decoder_free(d);
    free(f);
#endif
}

Test(decoder, contract_violations_are_invalid)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    vsok_msg m;
    size_t room = 5;
    cr_assert_eq(vsok_decoder_finish(NULL), VSOK_E_INVAL);
    cr_assert_null(vsok_decoder_prepare(NULL, &room));
    cr_assert_eq(room, 0);
    cr_assert_null(vsok_decoder_prepare(d, NULL));
    cr_assert_eq(vsok_decoder_commit(d, 1, &m), VSOK_E_INVAL, "commit outside a payload");
    cr_assert_eq(vsok_decoder_commit(NULL, 0, &m), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_offset(d), 0);
    uint64_t off = 7;
    cr_assert_eq(vsok_decode_all(NULL, 5, 0, NULL, NULL, &off), VSOK_E_INVAL);
    cr_assert_eq(vsok_decode_all((const uint8_t *)"VSOK", 4, VSOK_MAX_PAYLOAD + 1, NULL, NULL, &off),
                 VSOK_E_INVAL);
    /* free and reset accept NULL */
    vsok_decoder_reset(NULL);
    vsok_decoder_trim(NULL);
    vsok_decoder_free(NULL);
    vsok_decoder_free(d);
}

/* ---- pass-through scanning (vsok_decoder_scan) ---- */

/* Scans s split at cuts, collecting what is passed on into out.  The
 * outcome's messages are the frame boundaries seen (offset, length). */
static size_t run_scan(size_t max, const uint8_t *s, size_t len, const size_t *cuts, size_t ncuts, outcome *o,
                       uint8_t *out)
{
    memset(o, 0, sizeof *o);
    vsok_decoder *d = vsok_decoder_new(max);
    cr_assert_not_null(d);
    const size_t m0 = vsok_decoder_memory(d);
    size_t prev = 0, olen = 0;
    uint64_t frames = 0;
    vsok_err err = VSOK_E_AGAIN;
    for (size_t k = 0; k <= ncuts && err != VSOK_E_MAGIC && err != VSOK_E_LENGTH && err != VSOK_E_TOO_LARGE;
         k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        const uint8_t *p = s + prev;
        size_t n = end - prev;
        prev = end;
        for (int guard = 0; guard < 1000; guard++) {
            size_t used = 99;
            vsok_span sp;
            err = vsok_decoder_scan(d, p, n, &used, &sp);
            cr_assert_leq(used, n);
            if (err == VSOK_OK || err == VSOK_E_AGAIN) {
                cr_assert(err == VSOK_OK || sp.len == 0);
                if (sp.len)
                    memcpy(out + olen, sp.data, sp.len);
                olen += sp.len;
                frames += sp.frames;
            }
            cr_assert_eq(vsok_decoder_memory(d), m0, "scanning never holds payload");
            p += used;
            n -= used;
            if (err != VSOK_OK || n == 0)
                break;
        }
        if (err != VSOK_OK && err != VSOK_E_AGAIN)
            break;
    }
    if (err == VSOK_OK || err == VSOK_E_AGAIN)
        err = vsok_decoder_finish(d);
    o->err = err;
    o->err_off = vsok_decoder_error_offset(d);
    o->n = (size_t)frames;
    vsok_decoder_free(d);
    return olen;
}

/* What a pass-through scanner must pass on: every byte before the first
 * bad frame, the payload of a frame under way, never a partial header. */
static size_t scan_expect(const uint8_t *s, size_t len, const outcome *ref)
{
    size_t e = ref->n ? (size_t)ref->off[ref->n - 1] + 8 + ref->len[ref->n - 1] : 0;
    if (ref->err == VSOK_E_TRUNCATED && len - e >= 8)
        return len;
    (void)s;
    return e;
}

static void assert_scan(const stream *st, const size_t *cuts, size_t ncuts, const char *what)
{
    outcome ref, got;
    static uint8_t out[1024];
    model(st->b, st->len, st->max, &ref);
    size_t olen = run_scan(st->max, st->b, st->len, cuts, ncuts, &got, out);
    cr_assert_eq(got.err, ref.err, "%s: error %s, want %s", what, vsok_errname(got.err),
                 vsok_errname(ref.err));
    cr_assert_eq(got.err_off, ref.err_off, "%s: error offset %llu, want %llu", what,
                 (unsigned long long)got.err_off, (unsigned long long)ref.err_off);
    cr_assert_eq(got.n, ref.n, "%s: %zu frames, want %zu", what, got.n, ref.n);
    size_t want = scan_expect(st->b, st->len, &ref);
    cr_assert_eq(olen, want, "%s: passed on %zu bytes, want %zu", what, olen, want);
    cr_assert_eq(memcmp(out, st->b, olen), 0, "%s: passed-on bytes differ", what);
}

Test(decoder, scan_passes_on_exactly_the_valid_bytes_at_every_split)
{
    stream st[16];
    size_t ns = make_streams(st);
    for (size_t i = 0; i < ns; i++) {
        assert_scan(&st[i], NULL, 0, st[i].name);
        for (size_t c = 0; c <= st[i].len; c++) {
            size_t cuts[1] = {c};
            char what[128];
            snprintf(what, sizeof what, "%s, split at %zu", st[i].name, c);
            assert_scan(&st[i], cuts, 1, what);
        }
        if (st[i].len > 64)
            continue;
        for (size_t a = 0; a <= st[i].len; a++)
            for (size_t b = a; b <= st[i].len; b++) {
                size_t cuts[2] = {a, b};
                char what[128];
                snprintf(what, sizeof what, "%s, split at %zu and %zu", st[i].name, a, b);
                assert_scan(&st[i], cuts, 2, what);
            }
    }
}

Test(decoder, scan_passes_back_to_back_frames_as_one_span_of_the_callers_buffer)
{
    uint8_t s[64];
    size_t n = tu_frame(s, "abc", 3);
    n += tu_frame(s + n, "de", 2);
    n += tu_frame(s + n, "f", 1);
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t used;
    vsok_span sp;
    cr_assert_eq(vsok_decoder_scan(d, s, n, &used, &sp), VSOK_OK);
    cr_assert_eq(used, n);
    cr_assert_eq(sp.data, s, "passed through in place, not copied");
    cr_assert_eq(sp.len, n);
    cr_assert_eq(sp.frames, 3);
    cr_assert(vsok_decoder_at_boundary(d));
    cr_assert_eq(vsok_decoder_frame_offset(d), n);
    vsok_decoder_free(d);
}

Test(decoder, scan_error_span_and_rest_of_buffer_are_the_whole_bad_frame)
{
    /* a header split 3 + rest, the length zero: the held 3 bytes come back
     * with the error, and buf from *consumed on is the rest of the frame */
    const uint8_t bad[] = {'V', 'S', 'O', 'K', 0, 0, 0, 0, 'z'};
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t used;
    vsok_span sp;
    cr_assert_eq(vsok_decoder_scan(d, bad, 3, &used, &sp), VSOK_E_AGAIN);
    cr_assert_eq(used, 3);
    cr_assert_eq(sp.len, 0, "a partial header is held back");
    cr_assert_eq(vsok_decoder_scan(d, bad + 3, sizeof bad - 3, &used, &sp), VSOK_E_LENGTH);
    cr_assert_eq(vsok_decoder_error_offset(d), 4);
    cr_assert_eq(sp.len, 3);
    cr_assert_eq(memcmp(sp.data, bad, 3), 0);
    cr_assert_eq(used, 0);
    cr_assert_eq(vsok_decoder_scan(d, bad + 3, sizeof bad - 3, &used, &sp), VSOK_E_LENGTH, "sticky");
    cr_assert_eq(sp.len, 0);
    vsok_decoder_free(d);

    /* a good frame, then a bad magic in the same buffer: the good frame
     * first, then the error with consumed 0 at the bad frame */
    uint8_t s[32];
    size_t n = tu_frame(s, "ok", 2);
    memcpy(s + n, "VSOX", 4);
    d = vsok_decoder_new(0);
    cr_assert_eq(vsok_decoder_scan(d, s, n + 4, &used, &sp), VSOK_OK);
    cr_assert_eq(used, n);
    cr_assert_eq(sp.len, n);
    cr_assert_eq(sp.frames, 1);
    cr_assert_eq(vsok_decoder_scan(d, s + used, 4, &used, &sp), VSOK_E_MAGIC);
    cr_assert_eq(used, 0);
    cr_assert_eq(sp.len, 0);
    cr_assert_eq(vsok_decoder_error_offset(d), n + 3);
    vsok_decoder_free(d);
}

Test(decoder, scan_holds_nothing_for_an_announced_mib)
{
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t m0 = vsok_decoder_memory(d), used;
    uint8_t h[9];
    tu_header(h, VSOK_MAX_PAYLOAD);
    h[8] = 'x';
    vsok_span sp;
    cr_assert_eq(vsok_decoder_scan(d, h, 9, &used, &sp), VSOK_OK);
    cr_assert_eq(sp.len, 9, "header and first payload byte pass on at once");
    cr_assert_eq(sp.frames, 0);
    cr_assert_eq(vsok_decoder_memory(d), m0);
    cr_assert_eq(vsok_decoder_frame_offset(d), 0, "the frame under way began at 0");
    cr_assert_eq(vsok_decoder_finish(d), VSOK_E_TRUNCATED);
    cr_assert_eq(vsok_decoder_error_offset(d), 9);
    vsok_decoder_free(d);
}

Test(decoder, frame_offset_names_the_first_byte_of_the_frame_under_way)
{
    uint8_t s[64];
    size_t n = tu_frame(s, "abcdef", 6); /* 14 bytes */
    n += tu_frame(s + n, "xyz", 3);
    vsok_decoder *d = vsok_decoder_new(0);
    size_t used;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, s, 10, &used, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_frame_offset(d), 0);
    cr_assert_eq(vsok_decoder_feed(d, s + 10, 6, &used, &m), VSOK_OK);
    cr_assert_eq(used, 4);
    cr_assert_eq(vsok_decoder_frame_offset(d), 14, "the next frame starts where this one ended");
    cr_assert_eq(vsok_decoder_feed(d, s + 14, 2, &used, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_frame_offset(d), 14);
    vsok_decoder_free(d);
}

Test(decoder, prepare_offers_room_for_what_arrived_not_for_what_was_announced)
{
    /* 1 MiB announced, 1 byte in, then 1 more: the payload buffer stays at
     * the 1 KiB minimum, whichever path the bytes take */
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    size_t m0 = vsok_decoder_memory(d), used, room;
    uint8_t h[8];
    tu_header(h, VSOK_MAX_PAYLOAD);
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, h, 8, &used, &m), VSOK_E_AGAIN);
    uint8_t *p = vsok_decoder_prepare(d, &room);
    cr_assert_not_null(p);
    cr_assert_leq(room, VSOK_DECODER_MIN_BUF);
    p[0] = 'x';
    cr_assert_eq(vsok_decoder_commit(d, 1, &m), VSOK_E_AGAIN);
    cr_assert_not_null(vsok_decoder_prepare(d, &room));
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"y", 1, &used, &m), VSOK_E_AGAIN);
    cr_assert_leq(vsok_decoder_memory(d), m0 + VSOK_DECODER_MIN_BUF);

    /* filling each offered room: at most twice what arrived, and the whole
     * MiB in a handful of reads */
    size_t got = 2;
    int reads = 0;
    static uint8_t junk[VSOK_MAX_PAYLOAD];
    vsok_err r = VSOK_E_AGAIN;
    for (; r == VSOK_E_AGAIN && reads < 100; reads++) {
        p = vsok_decoder_prepare(d, &room);
        cr_assert_not_null(p);
        size_t mem = vsok_decoder_memory(d) - m0;
        cr_assert_leq(mem, 2 * got > VSOK_DECODER_MIN_BUF ? 2 * got : VSOK_DECODER_MIN_BUF,
                      "holds %zu after %zu bytes", mem, got);
        memcpy(p, junk, room);
        r = vsok_decoder_commit(d, room, &m);
        got += room;
    }
    cr_assert_eq(r, VSOK_OK);
    cr_assert_eq(got, VSOK_MAX_PAYLOAD);
    cr_assert_leq(reads, 12, "%d reads for 1 MiB", reads);

    /* the next frame does not inherit the big buffer */
    cr_assert_eq(vsok_decoder_feed(d, h, 8, &used, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"z", 1, &used, &m), VSOK_E_AGAIN);
    cr_assert_leq(vsok_decoder_memory(d), m0 + VSOK_DECODER_MIN_BUF);
    vsok_decoder_free(d);
}

Test(decoder, take_frames_takes_every_whole_frame_in_place_and_stops_at_the_first_other)
{
    uint8_t s[128];
    size_t n = tu_frame(s, "abc", 3);
    n += tu_frame(s + n, "de", 2);
    size_t whole = n;
    n += tu_frame(s + n, "fghij", 5) - 2; /* the third is cut short */
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    vsok_span sp;
    cr_assert_eq(vsok_decoder_take_frames(d, s, n, &sp), whole);
    cr_assert_eq(sp.data, s);
    cr_assert_eq(sp.len, whole);
    cr_assert_eq(sp.frames, 2);
    cr_assert_eq(vsok_decoder_offset(d), whole);
    cr_assert_eq(vsok_decoder_frame_offset(d), whole);
    /* the rest goes through feed, which finishes the third on more bytes */
    size_t used;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, s + whole, n - whole, &used, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_take_frames(d, s, n, &sp), 0, "not at a boundary");
    cr_assert_eq(sp.frames, 0);
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"ij", 2, &used, &m), VSOK_OK);
    cr_assert_eq(m.offset, whole);
    cr_assert_eq(memcmp(m.data, "fghij", 5), 0);
    vsok_decoder_free(d);

    /* a bad frame is left to feed, which names it */
    d = vsok_decoder_new(0);
    n = tu_frame(s, "ok", 2);
    memcpy(s + n, "VSOK\0\0\0\0", 8);
    cr_assert_eq(vsok_decoder_take_frames(d, s, n + 8, &sp), n);
    cr_assert_eq(vsok_decoder_take_frames(d, s + n, 8, &sp), 0);
    cr_assert_eq(vsok_decoder_feed(d, s + n, 8, &used, &m), VSOK_E_LENGTH);
    cr_assert_eq(vsok_decoder_error_offset(d), n + 4);
    vsok_decoder_free(d);
}

Test(decoder, take_frames_same_size_run_stops_at_a_bad_or_short_frame)
{
    enum { K = 100 };
    static uint8_t s[K * 13 + 64];
    size_t n = 0;
    for (int i = 0; i < K; i++)
        n += tu_frame(s + n, "12345", 5);
    size_t good = n;
    n += tu_frame(s + n, "12345", 5);
    s[good + 3] = 'X'; /* same length, wrong magic */
    vsok_decoder *d = vsok_decoder_new(0);
    cr_assert_not_null(d);
    vsok_span sp;
    cr_assert_eq(vsok_decoder_take_frames(d, s, n, &sp), good);
    cr_assert_eq(sp.frames, K);
    vsok_decoder_free(d);

    /* the same run, the last frame one byte short */
    s[good + 3] = 'K';
    d = vsok_decoder_new(0);
    cr_assert_eq(vsok_decoder_take_frames(d, s, n - 1, &sp), good);
    cr_assert_eq(sp.frames, K);
    /* and whole: every frame */
    cr_assert_eq(vsok_decoder_take_frames(d, s + good, n - good, &sp), n - good);
    cr_assert_eq(sp.frames, 1);
    cr_assert_eq(vsok_decoder_offset(d), n);
    vsok_decoder_free(d);

    /* a size change inside the run is taken by the general step */
    n = tu_frame(s, "ab", 2);
    n += tu_frame(s + n, "ab", 2);
    n += tu_frame(s + n, "abc", 3);
    n += tu_frame(s + n, "ab", 2);
    d = vsok_decoder_new(3);
    cr_assert_eq(vsok_decoder_take_frames(d, s, n, &sp), n);
    cr_assert_eq(sp.frames, 4);
    vsok_decoder_free(d);
}

/* ---- the constructor and room conventions (CONTRIBUTING.md) ---- */

Test(decoder, open_tells_a_bad_maximum_from_success)
{
    vsok_decoder *d = (vsok_decoder *)1;
    cr_assert_eq(vsok_decoder_open(&d, VSOK_MAX_PAYLOAD + 1), VSOK_E_INVAL);
    cr_assert_null(d, "*out is NULL on failure");
    cr_assert_eq(vsok_decoder_open(NULL, 0), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_open(&d, 0), VSOK_OK);
    cr_assert_not_null(d);
    uint8_t f[16];
    size_t flen = tu_frame(f, "12345678", 8), consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, f, flen, &consumed, &m), VSOK_OK);
    vsok_decoder_free(d);
    cr_assert_eq(vsok_decoder_open(&d, 4), VSOK_OK);
    cr_assert_eq(vsok_decoder_feed(d, f, flen, &consumed, &m), VSOK_E_TOO_LARGE, "the maximum holds");
    vsok_decoder_free(d);
    /* the old constructor keeps its source contract */
    cr_assert_null(vsok_decoder_new(VSOK_MAX_PAYLOAD + 1));
}

Test(decoder, room_is_again_outside_a_payload_and_the_error_once_sticky)
{
    vsok_decoder *d = NULL;
    cr_assert_eq(vsok_decoder_open(&d, 0), VSOK_OK);
    uint8_t *p = (uint8_t *)1;
    size_t room = 9;
    cr_assert_eq(vsok_decoder_room(d, &p, &room), VSOK_E_AGAIN, "between frames: no room, not a failure");
    cr_assert_null(p);
    cr_assert_eq(room, 0);
    uint8_t f[40];
    size_t flen = tu_frame(f, "0123456789abcdef0123456789abcdef", 32), consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, f, 8, &consumed, &m), VSOK_E_AGAIN);
    cr_assert_eq(vsok_decoder_room(d, &p, &room), VSOK_OK);
    cr_assert_not_null(p);
    cr_assert_eq(room, 32);
    memcpy(p, f + 8, 32);
    cr_assert_eq(vsok_decoder_commit(d, 32, &m), VSOK_OK);
    cr_assert_eq(m.len, 32);
    cr_assert_eq(memcmp(m.data, f + 8, 32), 0);
    cr_assert_eq(vsok_decoder_feed(d, (const uint8_t *)"VSOX", 4, &consumed, &m), VSOK_E_MAGIC);
    cr_assert_eq(vsok_decoder_room(d, &p, &room), VSOK_E_MAGIC, "the sticky error, not 'no room'");
    cr_assert_eq(vsok_decoder_room(NULL, &p, &room), VSOK_E_INVAL);
    cr_assert_eq(vsok_decoder_room(d, NULL, &room), VSOK_E_INVAL);
    vsok_decoder_free(d);
    (void)flen;
}

Test(decoder, room_out_of_memory_is_nomem_not_again)
{
#ifdef VSOK_TEST_ASAN
    cr_skip_test("address-space limits do not work under ASan");
#else
    vsok_decoder *d = NULL;
    cr_assert_eq(vsok_decoder_open(&d, 0), VSOK_OK);
    uint8_t hdr[8];
    cr_assert_eq(vsok_header_encode(hdr, VSOK_MAX_PAYLOAD), VSOK_OK);
    size_t consumed;
    vsok_msg m;
    cr_assert_eq(vsok_decoder_feed(d, hdr, 8, &consumed, &m), VSOK_E_AGAIN);
    uint8_t *p = NULL;
    size_t room = 0, have = 0;
    /* Fill the room as offered until the buffer is 512 KiB and full: the
     * next room needs a 1 MiB buffer, new address space. */
    for (int i = 0; i < 32 && have < 512 * 1024; i++) {
        cr_assert_eq(vsok_decoder_room(d, &p, &room), VSOK_OK);
        memset(p, 'x', room);
        cr_assert_eq(vsok_decoder_commit(d, room, &m), VSOK_E_AGAIN);
        have += room;
    }
    cr_assert_eq(have, 512 * 1024);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = vm_bytes(); /* no room to grow at all */
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    vsok_err r = vsok_decoder_room(d, &p, &room);
    cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
    cr_assert_eq(r, VSOK_E_NOMEM, "%s", vsok_errname(r));
    cr_assert_eq(vsok_decoder_room(d, &p, &room), VSOK_OK, "state kept: a retry succeeds");
    cr_assert_gt(room, 0);
    vsok_decoder_free(d);
#endif
}
