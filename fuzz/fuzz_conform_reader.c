/* SPDX-License-Identifier: MIT */
/* fuzz_conform_reader - the part of vsok-conform that reads a hostile IUT's
 * echo bytes (conformance/src/reader.c), against a model written here: the
 * owed byte stream is the concatenation of "VSOK" + u32 BE length + payload
 * per owed message, and after every feed the verdict must be the one the
 * bytes so far imply:
 *   first differing byte d            -> MISMATCH at d
 *   all match, more bytes than owed   -> EXCESS at the owed total
 *   all match, exactly the owed total -> COMPLETE
 *   all match, fewer                  -> PENDING (SHORT at the end after eof)
 * plus: every byte is counted, the window holds exactly the actual bytes
 * from the difference on (at most VC_WINDOW), owed_byte() agrees with the
 * model, and the explanations and hex dump stay NUL-terminated inside
 * caller buffers of any size.
 *
 * Input layout: see fuzz_common.h; the stream part is the IUT's output.
 * mode 0: owed = the messages a one-shot decode finds in the stream (a real
 *         echo of them); 1: minus the last; 2: plus one more; 3: with one
 *         byte changed; 4..7: the stream chopped at control-byte lengths
 *         (0 included: the reader must cope with lengths the protocol
 *         forbids).  Control bytes also pick chunk sizes; flag 0x40 = feed
 *         an empty chunk first. */
#include "fuzz_common.h"
#include "reader.h"

#define MAXSPANS 64

typedef struct model {
    uint8_t *owed;
    size_t owed_len;
    size_t cmp;        /* actual bytes compared so far (all equal) */
    uint64_t mismatch; /* first differing offset, UINT64_MAX while none */
} model;

FZ_NOCOV static void build_owed(model *m, const vc_span *sp, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += VSOK_HEADER_SIZE + sp[i].len;
    m->owed = malloc(t ? t : 1);
    FZ_CHECK(m->owed != NULL);
    m->owed_len = t;
    m->cmp = 0;
    m->mismatch = UINT64_MAX;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)sp[i].len;
        memcpy(m->owed + o, "VSOK", 4);
        m->owed[o + 4] = (uint8_t)(l >> 24);
        m->owed[o + 5] = (uint8_t)(l >> 16);
        m->owed[o + 6] = (uint8_t)(l >> 8);
        m->owed[o + 7] = (uint8_t)l;
        if (sp[i].len)
            memcpy(m->owed + o + 8, sp[i].data, sp[i].len);
        o += VSOK_HEADER_SIZE + sp[i].len;
    }
}

/* The verdict the first `got` actual bytes imply (compared incrementally:
 * each byte once). */
FZ_NOCOV static vc_rstate model_state(model *m, const uint8_t *act, size_t got, int eof, uint64_t *diff)
{
    size_t common = got < m->owed_len ? got : m->owed_len;
    for (; m->mismatch == UINT64_MAX && m->cmp < common; m->cmp++)
        if (act[m->cmp] != m->owed[m->cmp])
            m->mismatch = m->cmp;
    if (m->mismatch != UINT64_MAX) {
        *diff = m->mismatch;
        return VC_R_MISMATCH;
    }
    if (got > m->owed_len) {
        *diff = m->owed_len;
        return VC_R_EXCESS;
    }
    if (got == m->owed_len)
        return VC_R_COMPLETE;
    *diff = got;
    return eof ? VC_R_SHORT : VC_R_PENDING;
}

FZ_NOCOV static void check_state(const vc_reader *r, model *m, const uint8_t *act, size_t got, int eof)
{
    uint64_t diff = UINT64_MAX;
    vc_rstate want = model_state(m, act, got, eof, &diff);
    FZ_CHECK(r->state == want);
    FZ_CHECK(r->received == got);
    FZ_CHECK(r->total == m->owed_len);
    if (want == VC_R_MISMATCH || want == VC_R_EXCESS) {
        FZ_CHECK(r->diff_offset == diff);
        size_t w = got - diff < VC_WINDOW ? got - diff : VC_WINDOW;
        FZ_CHECK(r->nwindow == w);
        FZ_CHECK(memcmp(r->window, act + diff, w) == 0);
        FZ_CHECK(vc_reader_settled(r) == (w == VC_WINDOW));
    } else if (want == VC_R_SHORT) {
        FZ_CHECK(r->diff_offset == diff);
    } else {
        FZ_CHECK(!vc_reader_settled(r));
    }
}

FZ_NOCOV static void check_reports(const vc_reader *r, const model *m, size_t elen, size_t alen)
{
    /* Exact sizes, 0 included (malloc(0) memory is off limits to ASan). */
    char *e = malloc(elen), *a = malloc(alen), *h = malloc(elen);
    FZ_CHECK((e && a && h) || elen == 0 || alen == 0);
    if (elen)
        memset(e, 'X', elen);
    if (alen)
        memset(a, 'X', alen);
    uint64_t d = vc_reader_explain(r, e, elen, a, alen);
    if (elen)
        FZ_CHECK(memchr(e, '\0', elen) != NULL);
    if (alen)
        FZ_CHECK(memchr(a, '\0', alen) != NULL);
    if (r->state == VC_R_PENDING || r->state == VC_R_COMPLETE)
        FZ_CHECK(d == UINT64_MAX);
    else
        FZ_CHECK(d == r->diff_offset);
    vc_reader_hexdump(r, h, elen);
    if (elen)
        FZ_CHECK(memchr(h, '\0', elen) != NULL);
    /* The owed bytes as the reader computes them, around the difference. */
    uint64_t probe[4] = {0, d == UINT64_MAX ? 0 : d, m->owed_len, m->owed_len ? m->owed_len - 1 : 0};
    for (int i = 0; i < 4; i++) {
        uint64_t off = probe[i];
        FZ_CHECK(vc_reader_owed_byte(r, off) == (off < m->owed_len ? m->owed[off] : 0));
    }
    free(h);
    free(a);
    free(e);
}

typedef struct collect {
    vc_span sp[MAXSPANS];
    size_t n;
} collect;

FZ_NOCOV static int on_msg(void *ctx, const vsok_msg *msg)
{
    collect *c = ctx;
    if (c->n == MAXSPANS)
        return 1;
    c->sp[c->n].data = msg->data;
    c->sp[c->n].len = msg->len;
    c->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = fz_dup(data, size);
    fz_split sp;
    size_t n = fz_split_init(&sp, in, size);
    uint8_t *st = fz_dup(in, n);

    collect c = {.n = 0};
    static const uint8_t extra[3] = {'e', 'x', 't'};
    uint8_t *changed = NULL;
    if (sp.mode < 4) {
        vsok_decode_all(st, n, 0, on_msg, &c, NULL);
        if (sp.mode == 1 && c.n > 0)
            c.n--;
        if (sp.mode == 2 && c.n < MAXSPANS)
            c.sp[c.n++] = (vc_span){extra, sizeof(extra)};
        if (sp.mode == 3 && c.n > 0) {
            size_t j = (size_t)in[0] % c.n;
            changed = fz_dup(c.sp[j].data, c.sp[j].len);
            changed[(size_t)in[size - 1] % c.sp[j].len] ^= 0x20;
            c.sp[j].data = changed;
        }
    } else {
        size_t pos = 0;
        for (size_t i = 0; i < sp.nctl && c.n < MAXSPANS && pos <= n; i++) {
            size_t l = sp.ctl[i];
            if (l > n - pos)
                l = n - pos;
            c.sp[c.n++] = (vc_span){st + pos, l};
            pos += l;
        }
    }

    model m;
    build_owed(&m, c.sp, c.n);
    vc_reader r;
    vc_reader_init(&r, c.sp, c.n);
    check_state(&r, &m, st, 0, 0);

    fz_chunkbuf cb = {{NULL}, {0}};
    size_t pos = 0;
    while (pos < n) {
        int flag = 0;
        size_t chunk = fz_split_next(&sp, &flag, NULL);
        if (chunk > n - pos)
            chunk = n - pos;
        if (flag) {
            vc_reader_feed(&r, st + pos, 0);
            check_state(&r, &m, st, pos, 0);
        }
        uint8_t *blk = fz_chunk(&cb, st + pos, chunk);
        vc_rstate s = vc_reader_feed(&r, blk, chunk);
        pos += chunk;
        FZ_CHECK(s == r.state);
        check_state(&r, &m, st, pos, 0);
    }
    FZ_CHECK(vc_reader_eof(&r) == r.state);
    check_state(&r, &m, st, n, 1);
    FZ_CHECK(r.feeds >= (n > 0));
    FZ_CHECK(r.max_chunk <= n);

    static const size_t lens[8] = {512, 0, 1, 2, 8, 33, 80, 200};
    check_reports(&r, &m, lens[(n ? in[0] : 0) & 7], lens[(n > 1 ? in[1] : 0) & 7]);
    FZ_CHECK(vc_field_name(0) != NULL && vc_field_name(4) != NULL && vc_field_name(8) != NULL);

    fz_chunkbuf_free(&cb);
    free(m.owed);
    free(changed);
    free(st);
    free(in);
    return 0;
}
