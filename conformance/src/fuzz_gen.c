/* SPDX-License-Identifier: MIT */
/* fuzz_gen.c - the inputs of fuzz mode: streams built from the protocol's
 * grammar (valid frames at every size boundary, invalid headers of every
 * class), seeded by the catalogue's inputs (the vector set), then mutated
 * (bit flips and arithmetic on length fields, splices, duplicates,
 * truncation), with a write schedule (random cuts, 1-byte writes, header
 * offsets, pauses) and an ending (FIN, RST, left open).
 *
 * Input number i of a campaign is a pure function of (seed, i): nothing the
 * IUT does feeds back, so a seed names the same sequence on every run. */
#include <stdlib.h>
#include <string.h>

#include "conform.h"

#define MAX_STREAM (2u * VC_MAX_PAYLOAD + 4096u) /* bound on a generated input */
#define MAX_CUTS 4096

typedef struct gen {
    uint64_t st;
    vc_fz_input *in;
    size_t cap;
    uint64_t heads[64]; /* header offsets of the frames built so far */
    size_t nheads;
} gen;

static uint64_t rnd(gen *g) { return vc_splitmix64(&g->st); }
static uint64_t below(gen *g, uint64_t n) { return n ? rnd(g) % n : 0; }
static int chance(gen *g, unsigned pct) { return below(g, 100) < pct; }

static void reserve(gen *g, size_t more)
{
    if (g->in->len + more <= g->cap)
        return;
    size_t c = g->cap ? g->cap : 256;
    while (c < g->in->len + more)
        c *= 2;
    g->in->data = vc_xrealloc(g->in->data, c);
    g->cap = c;
}

static void put(gen *g, const uint8_t *p, size_t n)
{
    reserve(g, n);
    memcpy(g->in->data + g->in->len, p, n);
    g->in->len += n;
}

static void put_header(gen *g, const uint8_t magic[4], uint32_t len)
{
    if (g->nheads < sizeof g->heads / sizeof g->heads[0])
        g->heads[g->nheads++] = g->in->len;
    uint8_t h[8] = {magic[0],
                    magic[1],
                    magic[2],
                    magic[3],
                    (uint8_t)(len >> 24),
                    (uint8_t)(len >> 16),
                    (uint8_t)(len >> 8),
                    (uint8_t)len};
    put(g, h, 8);
}

/* Payload bytes: a counter from a random start (distinct per frame, so a
 * duplicated or reordered echo shows; compresses to one vector segment). */
static void put_payload(gen *g, size_t n)
{
    reserve(g, n);
    uint8_t s = (uint8_t)rnd(g);
    uint8_t *p = g->in->data + g->in->len;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(s + i);
    g->in->len += n;
}

static const uint8_t MAGIC[4] = {'V', 'S', 'O', 'K'};

/* Sizes at every boundary: tiny, around the header size, around the 64 KiB
 * write chunk and twice it, at the maximum. */
static const uint32_t boundary[] = {1,     2,      7,      8,      9,       65535,  65536,
                                    65537, 131071, 131072, 131073, 1048575, 1048576};

static uint32_t frame_size(gen *g)
{
    uint64_t k = below(g, 100);
    if (k < 55)
        return 1 + (uint32_t)below(g, 64);
    if (k < 75)
        return boundary[below(g, 5)];
    if (k < 85)
        return 1 + (uint32_t)below(g, 4096);
    return boundary[5 + below(g, sizeof boundary / sizeof boundary[0] - 5)];
}

static void valid_frame(gen *g)
{
    uint32_t n = frame_size(g);
    if (g->in->len + 8 + n > MAX_STREAM)
        n = 1 + (uint32_t)below(g, 16);
    put_header(g, MAGIC, n);
    put_payload(g, n);
}

/* An invalid header of one class, perhaps followed by bytes. */
static void invalid_frame(gen *g)
{
    uint8_t m[4];
    memcpy(m, MAGIC, 4);
    uint32_t len = 1 + (uint32_t)below(g, 32);
    switch (below(g, 6)) {
    case 0: { /* one magic byte wrong */
        size_t i = (size_t)below(g, 4);
        uint8_t b = (uint8_t)rnd(g);
        m[i] = b == MAGIC[i] ? (uint8_t)(b ^ 0x20) : b;
        break;
    }
    case 1: len = 0; break;
    case 2: len = VC_MAX_PAYLOAD + 1; break;
    case 3: len = 0xffffffffu; break;
    case 4: len = 0x80000000u | (uint32_t)below(g, 64); break;
    default: len = VC_MAX_PAYLOAD + 1 + (uint32_t)below(g, 0xfff00000u); break;
    }
    put_header(g, m, len);
    uint64_t k = below(g, 100);
    if (k < 40)
        return;
    if (k < 55 && len <= VC_MAX_PAYLOAD + 16 && g->in->len + len <= MAX_STREAM) {
        put_payload(g, len); /* the announced payload in full: a lax reader echoes it */
        return;
    }
    put_payload(g, (size_t)below(g, 40));
}

/* Seeds: the inputs of the catalogue's exchange cases (the vector set when
 * it is loaded, else the built-in cases). */
static const vc_case *pick_seed(gen *g, const vc_catalogue *cat)
{
    if (!cat || !cat->n)
        return NULL;
    for (int tries = 0; tries < 8; tries++) {
        const vc_case *c = &cat->cases[below(g, cat->n)];
        if (c->kind == VC_K_EXCHANGE && c->input_len && c->input_len <= MAX_STREAM)
            return c;
    }
    return NULL;
}

static void add_cut(vc_fz_input *in, size_t *cap, uint64_t off, uint32_t pause)
{
    if (in->ncuts >= MAX_CUTS)
        return;
    if (in->ncuts == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        in->cuts = vc_xrealloc(in->cuts, *cap * sizeof *in->cuts);
    }
    in->cuts[in->ncuts].offset = off;
    in->cuts[in->ncuts].pause_ms = pause;
    in->ncuts++;
}

static int cmp_cut(const void *a, const void *b)
{
    uint64_t x = ((const vc_split *)a)->offset, y = ((const vc_split *)b)->offset;
    return x < y ? -1 : x > y;
}

void vc_fz_input_fix(vc_fz_input *in)
{
    if (in->ncuts > 1)
        qsort(in->cuts, in->ncuts, sizeof *in->cuts, cmp_cut);
    size_t k = 0;
    for (size_t i = 0; i < in->ncuts; i++) {
        vc_split c = in->cuts[i];
        if (c.offset == 0 || c.offset >= in->len)
            continue;
        if (k && in->cuts[k - 1].offset == c.offset) {
            if (c.pause_ms > in->cuts[k - 1].pause_ms)
                in->cuts[k - 1].pause_ms = c.pause_ms;
            continue;
        }
        in->cuts[k++] = c;
    }
    in->ncuts = k;
    if (in->second >= (int64_t)in->len)
        in->second = in->len ? (int64_t)in->len - 1 : -1;
}

static uint32_t pause_ms(gen *g)
{
    uint64_t k = below(g, 100);
    return k < 60 ? 0 : k < 90 ? 1 + (uint32_t)below(g, 3) : 5 + (uint32_t)below(g, 20);
}

static void schedule(gen *g, const vc_case *seed)
{
    vc_fz_input *in = g->in;
    size_t cap = 0;
    uint64_t len = in->len;
    switch (below(g, 7)) {
    case 0: /* one write */ break;
    case 1: /* 1-byte writes (the first 300 bytes of a long stream) */
        for (uint64_t o = 1; o < len && o <= 300; o++)
            add_cut(in, &cap, o, o < 16 && chance(g, 20) ? 1 : 0);
        break;
    case 2: /* a cut at every header offset */
        for (size_t i = 0; i < g->nheads; i++)
            for (uint64_t k = 1; k <= 8; k++)
                add_cut(in, &cap, g->heads[i] + k, i < 8 ? pause_ms(g) : 0);
        break;
    case 3: /* 64 KiB writes */
        for (uint64_t o = VC_CHUNK; o < len; o += VC_CHUNK)
            add_cut(in, &cap, o, chance(g, 30) ? 2 : 0);
        break;
    case 4: /* the seed's own schedule, when it has one */
        if (seed && seed->sched && seed->nsched) {
            for (size_t i = 0; i < seed->nsched; i++)
                add_cut(in, &cap, seed->sched[i].offset, seed->sched[i].pause_ms);
            break;
        }
        /* fall through */
    default: { /* random cuts, mostly near headers */
        size_t k = 1 + (size_t)below(g, 12);
        for (size_t i = 0; i < k && len > 1; i++) {
            uint64_t o;
            if (g->nheads && chance(g, 60))
                o = g->heads[below(g, g->nheads)] + below(g, 10);
            else
                o = 1 + below(g, len - 1);
            add_cut(in, &cap, o, pause_ms(g));
        }
        break;
    }
    }
    vc_fz_input_fix(in);
}

/* Header offsets of whatever the stream holds now (after seeds/splices),
 * read as the grammar would: frame after frame by the announced lengths. */
static void rescan(gen *g)
{
    g->nheads = 0;
    uint64_t o = 0;
    const uint8_t *p = g->in->data;
    while (o + 8 <= g->in->len && g->nheads < sizeof g->heads / sizeof g->heads[0]) {
        g->heads[g->nheads++] = o;
        uint32_t l = (uint32_t)p[o + 4] << 24 | (uint32_t)p[o + 5] << 16 | (uint32_t)p[o + 6] << 8 | p[o + 7];
        o += 8 + (uint64_t)l;
    }
}

static void mutate(gen *g)
{
    vc_fz_input *in = g->in;
    if (!in->len)
        return;
    switch (below(g, 7)) {
    case 0: { /* bit flip, mostly in a header */
        uint64_t o =
            g->nheads && chance(g, 70) ? g->heads[below(g, g->nheads)] + below(g, 8) : below(g, in->len);
        if (o < in->len)
            in->data[o] ^= (uint8_t)(1u << below(g, 8));
        snprintf(in->origin + strlen(in->origin), sizeof in->origin - strlen(in->origin), "+flip");
        break;
    }
    case 1:
    case 2: { /* arithmetic on a length field */
        if (!g->nheads)
            break;
        uint64_t h = g->heads[below(g, g->nheads)];
        if (h + 8 > in->len)
            break;
        uint8_t *p = in->data + h + 4;
        uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        switch (below(g, 4)) {
        case 0: l += 1; break;
        case 1: l -= 1; break;
        case 2: l ^= 0x80000000u; break;
        default: l = (l >> 24) | ((l >> 8) & 0xff00u) | ((l << 8) & 0xff0000u) | (l << 24); break;
        }
        p[0] = (uint8_t)(l >> 24);
        p[1] = (uint8_t)(l >> 16);
        p[2] = (uint8_t)(l >> 8);
        p[3] = (uint8_t)l;
        snprintf(in->origin + strlen(in->origin), sizeof in->origin - strlen(in->origin), "+len");
        break;
    }
    case 3: { /* duplicate a frame */
        if (!g->nheads)
            break;
        size_t i = (size_t)below(g, g->nheads);
        uint64_t a = g->heads[i], b = i + 1 < g->nheads ? g->heads[i + 1] : in->len;
        if (b > in->len || b - a > 65536 || in->len + (b - a) > MAX_STREAM)
            break;
        size_t n = (size_t)(b - a);
        reserve(g, n);
        memmove(in->data + b + n, in->data + b, in->len - b);
        memcpy(in->data + b, in->data + a, n);
        in->len += n;
        snprintf(in->origin + strlen(in->origin), sizeof in->origin - strlen(in->origin), "+dup");
        break;
    }
    case 4: { /* splice: a second grammar stream from a random point */
        uint64_t at = below(g, in->len + 1);
        in->len = (size_t)at;
        size_t k = 1 + (size_t)below(g, 3);
        for (size_t i = 0; i < k; i++)
            chance(g, 75) ? valid_frame(g) : invalid_frame(g);
        snprintf(in->origin + strlen(in->origin), sizeof in->origin - strlen(in->origin), "+splice");
        break;
    }
    default: { /* truncate: inside a header, right after one, or anywhere */
        uint64_t o;
        if (g->nheads && chance(g, 70))
            o = g->heads[below(g, g->nheads)] + 1 + below(g, 9);
        else
            o = 1 + below(g, in->len);
        if (o < in->len)
            in->len = (size_t)o;
        snprintf(in->origin + strlen(in->origin), sizeof in->origin - strlen(in->origin), "+cut");
        break;
    }
    }
    rescan(g);
}

void vc_fz_generate(vc_fz_input *out, uint64_t seed, uint64_t index, const vc_catalogue *cat, vc_role role)
{
    memset(out, 0, sizeof *out);
    out->second = -1;
    gen g = {.st = seed ^ (index * 0x9e3779b97f4a7c15ull) ^ 0x56534f4bull, .in = out};
    (void)vc_splitmix64(&g.st);
    const vc_case *s = chance(&g, 30) ? pick_seed(&g, cat) : NULL;
    if (s) {
        put(&g, s->input, s->input_len);
        snprintf(out->origin, sizeof out->origin, "seed %s", s->id);
        rescan(&g);
    } else {
        size_t n = 1 + (size_t)below(&g, 4);
        while (chance(&g, 30) && n < 40)
            n += 1 + (size_t)below(&g, 8);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            if (chance(&g, bad ? 5 : 15)) {
                invalid_frame(&g);
                bad = 1;
            } else {
                valid_frame(&g);
            }
        }
        snprintf(out->origin, sizeof out->origin, "grammar %zu frames", n);
    }
    size_t k = chance(&g, 45) ? 1 + (size_t)below(&g, 3) : 0;
    for (size_t i = 0; i < k; i++)
        mutate(&g);
    if (!out->len)
        valid_frame(&g);
    schedule(&g, s);
    uint64_t e = below(&g, 100);
    out->end = e < 60 ? VC_FZ_FIN : e < 85 ? VC_FZ_OPEN : VC_FZ_RST;
    if (role == VC_ROLE_SERVER && out->len > 1 && chance(&g, 15))
        out->second = (int64_t)(1 + below(&g, out->len - 1));
}

void vc_fz_input_free(vc_fz_input *in)
{
    free(in->data);
    free(in->cuts);
    memset(in, 0, sizeof *in);
    in->second = -1;
}

void vc_fz_input_copy(vc_fz_input *dst, const vc_fz_input *src)
{
    *dst = *src;
    dst->data = vc_xmalloc(src->len ? src->len : 1);
    if (src->len)
        memcpy(dst->data, src->data, src->len);
    dst->cuts = vc_xmalloc((src->ncuts ? src->ncuts : 1) * sizeof *dst->cuts);
    if (src->ncuts)
        memcpy(dst->cuts, src->cuts, src->ncuts * sizeof *dst->cuts);
}

const char *vc_fz_end_name(vc_fz_end e) { return e == VC_FZ_FIN ? "fin" : e == VC_FZ_RST ? "rst" : "open"; }
