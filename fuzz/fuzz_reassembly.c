/* SPDX-License-Identifier: MIT */
/* fuzz_reassembly - the push decoder, fed at fuzzer-chosen chunk boundaries,
 * must agree with the independent one-shot decoder on every message (offset,
 * length, bytes), on the final outcome and on its offset; errors must be
 * sticky; memory must follow the bytes received, never the bytes announced.
 *
 * Input layout: see fuzz_common.h (stream, then split choices, then a
 * last byte whose top 3 bits pick the decoder's maximum payload).  A control
 * byte's 0x40 flag means: fill through prepare/commit when inside a payload,
 * or trim the idle buffer when between frames. */
#include "fuzz_common.h"

typedef struct run {
    vsok_decoder *d;
    const fz_oracle *o;
    size_t base_mem;   /* struct alone */
    size_t allowance;  /* largest buffer the bytes so far justify */
    size_t nmsg;       /* messages delivered */
    uint64_t last_end; /* end offset of the last delivered frame */
    fz_chunkbuf *cb;   /* where each chunk is fed from */
} run;

FZ_NOCOV static void got_msg(run *r, const vsok_msg *m, uint64_t now)
{
    FZ_CHECK(r->nmsg < r->o->msgs.n);
    FZ_CHECK(m->offset == r->o->msgs.v[r->nmsg].offset);
    FZ_CHECK(m->len == r->o->msgs.v[r->nmsg].len);
    FZ_CHECK(memcmp(m->data, r->o->msgs.v[r->nmsg].data, m->len) == 0);
    FZ_CHECK(now == m->offset + VSOK_HEADER_SIZE + m->len);
    /* A message completes the frame: nothing partial may be held. */
    FZ_CHECK(vsok_decoder_at_boundary(r->d));
    FZ_CHECK(vsok_decoder_pending_length(r->d) == 0);
    /* The frame may have been copied in this very call: up to its length. */
    if (m->len > r->allowance)
        r->allowance = m->len;
    FZ_CHECK(vsok_decoder_memory(r->d) <= r->base_mem + r->allowance);
    r->nmsg++;
    r->last_end = now;
}

/* Memory follows what arrived (decoder.h): inside a payload at most
 * max(VSOK_DECODER_MIN_BUF, 2 x the payload received for the frame), never
 * above its length (or the minimum); a frame does not inherit a larger
 * buffer from an earlier one, so the allowance is this frame's alone.
 * Between frames the decoder may keep the buffer the last frame was
 * delivered from (got_msg).  A peer announcing 1 MiB and sending 1 byte
 * costs at most VSOK_DECODER_MIN_BUF. */
FZ_NOCOV static void check_memory(run *r)
{
    uint32_t pending = vsok_decoder_pending_length(r->d);
    if (pending > 0) {
        uint64_t recv = vsok_decoder_offset(r->d) - r->last_end - VSOK_HEADER_SIZE;
        FZ_CHECK(recv < pending);
        uint64_t allow = 2 * recv;
        if (allow > pending)
            allow = pending;
        if (allow < VSOK_DECODER_MIN_BUF)
            allow = VSOK_DECODER_MIN_BUF;
        r->allowance = (size_t)allow;
    }
    FZ_CHECK(vsok_decoder_memory(r->d) <= r->base_mem + r->allowance);
}

/* Feeds stream[0..n) as sp dictates; returns the final outcome. */
FZ_NOCOV static void run_push(run *r, const uint8_t *stream, size_t n, fz_split *sp)
{
    size_t pos = 0;
    vsok_err err = VSOK_OK;
    vsok_msg m;
    while (pos < n && err == VSOK_OK) {
        int flag = 0;
        size_t chunk = fz_split_next(sp, &flag, NULL);
        if (chunk > n - pos)
            chunk = n - pos;
        if (flag && vsok_decoder_at_boundary(r->d)) {
            vsok_decoder_trim(r->d);
            FZ_CHECK(vsok_decoder_memory(r->d) == r->base_mem);
            r->allowance = 0;
        } else if (flag) {
            /* Inside a payload trimming must keep what arrived; inside a
             * header the buffer holds nothing and may go. */
            size_t before = vsok_decoder_memory(r->d);
            int in_payload = vsok_decoder_pending_length(r->d) > 0;
            vsok_decoder_trim(r->d);
            if (in_payload)
                FZ_CHECK(vsok_decoder_memory(r->d) == before);
            else
                FZ_CHECK(vsok_decoder_memory(r->d) <= before);
        }
        size_t room = 0;
        uint8_t *fill = NULL;
        if (flag) {
            fz_alloc_live(1);
            fill = vsok_decoder_prepare(r->d, &room);
            fz_alloc_live(0);
            /* A failed allocation gives no window, and only inside a
             * payload; the plain feed below then goes on losing nothing. */
            if (fz_alloc_take())
                FZ_CHECK(fill == NULL && room == 0 && vsok_decoder_pending_length(r->d) > 0);
        }
        if (fill != NULL) {
            /* Zero-copy path: only ever inside a payload, never past it. */
            uint32_t pending = vsok_decoder_pending_length(r->d);
            uint64_t recv = vsok_decoder_offset(r->d) - r->last_end - VSOK_HEADER_SIZE;
            FZ_CHECK(pending > 0 && room > 0 && room <= pending - recv);
            size_t k = chunk < room ? chunk : room;
            memcpy(fill, stream + pos, k);
            check_memory(r);
            FZ_CHECK(vsok_decoder_commit(r->d, room + 1, &m) == VSOK_E_INVAL);
            vsok_err c = vsok_decoder_commit(r->d, k, &m);
            pos += k;
            FZ_CHECK(vsok_decoder_offset(r->d) == pos);
            if (c == VSOK_OK)
                got_msg(r, &m, pos);
            else
                FZ_CHECK(c == VSOK_E_AGAIN && recv + k < pending);
            check_memory(r);
            continue;
        }
        FZ_CHECK(room == 0);
        /* Each chunk flush against the end of a heap block: ASan sees any
         * over-read. */
        uint8_t *blk = fz_chunk(r->cb, stream + pos, chunk);
        size_t off = 0;
        while (off < chunk) {
            size_t used = (size_t)-1;
            fz_alloc_live(1);
            vsok_err e = vsok_decoder_feed(r->d, blk + off, chunk - off, &used, &m);
            fz_alloc_live(0);
            FZ_CHECK(used <= chunk - off);
            off += used;
            FZ_CHECK(vsok_decoder_offset(r->d) == pos + off);
            /* OutOfMemory exactly when an allocation failed; what was
             * consumed before it is kept, and feeding the rest again goes
             * on as if nothing had happened (the oracle checks it all). */
            int failed = fz_alloc_take();
            FZ_CHECK(failed == (e == VSOK_E_NOMEM));
            if (failed) {
                FZ_CHECK(vsok_decoder_error(r->d) == VSOK_OK);
                check_memory(r);
                continue;
            }
            if (e == VSOK_OK) {
                FZ_CHECK(used > 0);
                got_msg(r, &m, pos + off);
            } else if (e == VSOK_E_AGAIN) {
                FZ_CHECK(off == chunk);
            } else {
                err = e;
                break;
            }
            check_memory(r);
        }
        pos += off;
    }

    const fz_oracle *o = r->o;
    if (err != VSOK_OK) {
        /* A protocol error, at the oracle's offset, after all its messages. */
        FZ_CHECK(err == o->end);
        FZ_CHECK(vsok_decoder_error(r->d) == err);
        FZ_CHECK(vsok_decoder_error_offset(r->d) == o->end_off);
        FZ_CHECK(vsok_decoder_offset(r->d) > o->end_off);
        FZ_CHECK(vsok_decoder_offset(r->d) <= o->end_off + VSOK_HEADER_SIZE);
        size_t used = 1;
        FZ_CHECK(vsok_decoder_feed(r->d, stream, n, &used, &m) == err && used == 0);
    }
    FZ_CHECK(r->nmsg == o->msgs.n);
    vsok_err fin = vsok_decoder_finish(r->d);
    FZ_CHECK(fin == o->end);
    FZ_CHECK(vsok_decoder_error_offset(r->d) == o->end_off);
    /* Sticky: asking again, or feeding more, changes nothing. */
    FZ_CHECK(vsok_decoder_finish(r->d) == fin);
    size_t used = 1;
    FZ_CHECK(vsok_decoder_feed(r->d, stream, n, &used, &m) == fin && used == 0);
    FZ_CHECK(vsok_decoder_prepare(r->d, &used) == NULL && used == 0);
}

/* The caller's mistakes get InvalidArgument or a harmless no-op, never a
 * crash or a verdict about the stream. */
FZ_NOCOV static void check_misuse(const uint8_t *stream)
{
    vsok_msg m;
    size_t used = 9, room = 9;
    uint64_t off = 9;
    FZ_CHECK(vsok_decoder_new(VSOK_MAX_PAYLOAD + 1) == NULL);
    vsok_decoder_free(NULL);
    vsok_decoder_reset(NULL);
    vsok_decoder_trim(NULL);
    FZ_CHECK(vsok_decoder_feed(NULL, stream, 1, &used, &m) == VSOK_E_INVAL && used == 0);
    FZ_CHECK(vsok_decoder_finish(NULL) == VSOK_E_INVAL);
    FZ_CHECK(vsok_decoder_prepare(NULL, &room) == NULL && room == 0);
    FZ_CHECK(vsok_decoder_commit(NULL, 0, &m) == VSOK_E_INVAL);
    FZ_CHECK(vsok_decoder_offset(NULL) == 0 && vsok_decoder_error_offset(NULL) == 0);
    FZ_CHECK(vsok_decoder_error(NULL) == VSOK_E_INVAL && !vsok_decoder_at_boundary(NULL));
    FZ_CHECK(vsok_decoder_memory(NULL) == 0 && vsok_decoder_pending_length(NULL) == 0);
    FZ_CHECK(vsok_decode_all(NULL, 1, 0, NULL, NULL, &off) == VSOK_E_INVAL && off == 0);
    FZ_CHECK(vsok_decode_all(NULL, 0, 0, NULL, NULL, &off) == VSOK_E_EOF && off == 0);
    FZ_CHECK(vsok_decode_all(stream, 0, VSOK_MAX_PAYLOAD + 1, NULL, NULL, NULL) == VSOK_E_INVAL);
    vsok_decoder *d = vsok_decoder_new(0);
    FZ_CHECK(d != NULL);
    FZ_CHECK(vsok_decoder_feed(d, NULL, 1, &used, &m) == VSOK_E_INVAL);
    FZ_CHECK(vsok_decoder_feed(d, NULL, 0, &used, &m) == VSOK_E_AGAIN && used == 0);
    FZ_CHECK(vsok_decoder_feed(d, stream, 1, NULL, &m) == VSOK_E_INVAL);
    FZ_CHECK(vsok_decoder_feed(d, stream, 1, &used, NULL) == VSOK_E_INVAL);
    FZ_CHECK(vsok_decoder_prepare(d, NULL) == NULL);
    FZ_CHECK(vsok_decoder_commit(d, 0, NULL) == VSOK_E_INVAL);
    FZ_CHECK(vsok_decoder_commit(d, 1, &m) == VSOK_E_INVAL); /* not inside a payload */
    FZ_CHECK(vsok_decoder_offset(d) == 0 && vsok_decoder_error(d) == VSOK_OK);
    vsok_decoder_free(d);
}

/* The k-th allocation of a fresh decoder fails (k = 0: the decoder
 * itself).  vsok_decoder_new then returns NULL; a failed buffer growth
 * makes feed return OutOfMemory and prepare NULL, and the run continues
 * with nothing lost: every message, the outcome and its offset still
 * agree with the oracle. */
FZ_NOCOV static void run_nomem(const fz_oracle *o, const uint8_t *stream, size_t n, size_t max, long k,
                               fz_split *sp, fz_chunkbuf *cb)
{
    fz_alloc_fail_nth(k);
    fz_alloc_live(1);
    vsok_decoder *d = vsok_decoder_new(max);
    fz_alloc_live(0);
    if (fz_alloc_take()) {
        FZ_CHECK(d == NULL);
        d = vsok_decoder_new(max);
    }
    FZ_CHECK(d != NULL);
    sp->next = 0; /* the same split again */
    run r = {.d = d, .o = o, .base_mem = vsok_decoder_memory(d), .cb = cb};
    run_push(&r, stream, n, sp);
    fz_alloc_fail_nth(-1);
    vsok_decoder_free(d);
}

typedef struct stop_ctx {
    fz_msgs *seen;
    size_t stop;
} stop_ctx;

FZ_NOCOV static int stop_after(void *ctx, const vsok_msg *m)
{
    stop_ctx *c = ctx;
    fz_msgs_add(c->seen, m);
    return c->seen->n > c->stop;
}

FZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Kept from run to run, so an execution allocates only what the
     * decoder under test does (see fz_chunk). */
    static fz_chunkbuf streams, chunks;
    static fz_oracle o;
    static fz_msgs seen;

    /* The choices are read from the engine's bytes; the library only ever
     * sees the exact-size copies. */
    fz_split sp;
    size_t n = fz_split_init(&sp, data, size);
    size_t max = fz_max_payload(sp.mode);
    const uint8_t *stream = fz_chunk(&streams, data, n);

    fz_oracle_run(&o, stream, n, max);

    vsok_decoder *d = vsok_decoder_new(max);
    FZ_CHECK(d != NULL);
    run r = {.d = d, .o = &o, .base_mem = vsok_decoder_memory(d), .cb = &chunks};
    run_push(&r, stream, n, &sp);

    /* One more property per input, picked by its length (the fuzzer moves
     * it freely, and a raw VSOK stream keeps its meaning whatever it is):
     * the decoder each needs would otherwise cost every execution. */
    switch (size % 4) {
    case 0:
        /* After reset the same decoder, fed everything at once, agrees
         * again: nothing of the first run (sticky error, offsets, buffer)
         * survives. */
        vsok_decoder_reset(d);
        FZ_CHECK(vsok_decoder_memory(d) == r.base_mem);
        FZ_CHECK(vsok_decoder_offset(d) == 0 && vsok_decoder_error(d) == VSOK_OK);
        fz_split whole;
        fz_split_init(&whole, NULL, 0);
        run r2 = {.d = d, .o = &o, .base_mem = r.base_mem, .cb = &chunks};
        run_push(&r2, stream, n, &whole);
        break;
    case 1:
        /* One-shot decode without a callback or an offset pointer agrees. */
        FZ_CHECK(vsok_decode_all(stream, n, max, NULL, NULL, NULL) == o.end);
        break;
    case 2: run_nomem(&o, stream, n, max, (long)(size / 4 % 6), &sp, &chunks); break;
    default:
        /* Early stop: the callback's non-zero return ends decoding with OK
         * after exactly the k-th message. */
        if (o.msgs.n > 0) {
            seen.n = 0;
            stop_ctx c = {.seen = &seen, .stop = (size / 4) % o.msgs.n};
            vsok_err e = vsok_decode_all(stream, n, max, stop_after, &c, NULL);
            FZ_CHECK(e == VSOK_OK && seen.n == c.stop + 1);
        }
    }
    vsok_decoder_free(d);

    /* Misuse once per tiny input (the empty input is in every corpus):
     * its allocations would otherwise cost every execution. */
    if (size < 2)
        check_misuse(stream);

    fz_chunkbuf_retire(&chunks);
    fz_chunkbuf_retire(&streams);
    return 0;
}
