/* SPDX-License-Identifier: MIT */
/* fuzz_shrink.c - minimising a fuzz finding: the smallest input (bytes and
 * write schedule) that still diverges the same way.  Greedy passes, each
 * candidate checked by re-executing it against the IUT: drop the second
 * connection, drop frames, shrink payloads (rewriting their length field),
 * merge writes, drop pauses.  Bounded in executions and in time. */
#include <stdlib.h>
#include <string.h>

#include "conform.h"

typedef struct shrink {
    vc_fz_input *in;
    vc_fz_still still;
    void *ctx;
    int runs, max_runs;
    int64_t deadline;
} shrink;

static int budget(const shrink *s) { return s->runs < s->max_runs && vc_now_ms() < s->deadline; }

/* Takes cand: keeps it (and returns 1) when it still diverges. */
static int attempt(shrink *s, vc_fz_input *cand)
{
    vc_fz_input_fix(cand);
    if (!budget(s) || cand->len == 0) {
        vc_fz_input_free(cand);
        return 0;
    }
    s->runs++;
    if (!s->still(s->ctx, cand)) {
        vc_fz_input_free(cand);
        return 0;
    }
    vc_fz_input_free(s->in);
    *s->in = *cand;
    return 1;
}

/* Frame starts as the grammar reads them (by the announced lengths). */
static size_t segments(const vc_fz_input *in, uint64_t *starts, size_t max)
{
    size_t n = 0;
    uint64_t o = 0;
    while (o < in->len && n < max) {
        starts[n++] = o;
        if (o + 8 > in->len)
            break;
        const uint8_t *p = in->data + o + 4;
        o += 8 + ((uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3]);
    }
    return n;
}

/* A copy of in without bytes [a, a+n), the schedule shifted to match. */
static void without(vc_fz_input *out, const vc_fz_input *in, uint64_t a, uint64_t n)
{
    vc_fz_input_copy(out, in);
    memmove(out->data + a, out->data + a + n, (size_t)(in->len - a - n));
    out->len -= (size_t)n;
    size_t k = 0;
    for (size_t i = 0; i < out->ncuts; i++) {
        vc_split c = out->cuts[i];
        if (c.offset > a && c.offset <= a + n)
            continue;
        if (c.offset > a + n)
            c.offset -= n;
        out->cuts[k++] = c;
    }
    out->ncuts = k;
    if (out->second > (int64_t)(a + n))
        out->second -= (int64_t)n;
    else if (out->second > (int64_t)a)
        out->second = (int64_t)a;
}

static int drop_frames(shrink *s)
{
    uint64_t st[512];
    int progress = 0;
    size_t n = segments(s->in, st, 512);
    for (size_t i = n; i-- > 0 && budget(s);) {
        n = segments(s->in, st, 512);
        if (i >= n)
            continue;
        uint64_t end = i + 1 < n ? st[i + 1] : s->in->len;
        if (end > s->in->len)
            end = s->in->len;
        vc_fz_input c;
        without(&c, s->in, st[i], end - st[i]);
        progress |= attempt(s, &c);
    }
    /* the tail from the middle of the last frame (truncated streams) */
    n = segments(s->in, st, 512);
    if (n && budget(s)) {
        uint64_t last = st[n - 1], len = s->in->len;
        if (len - last > 9) {
            uint64_t keep = last + 8 + (len - last - 8) / 2;
            vc_fz_input c;
            without(&c, s->in, keep, len - keep);
            progress |= attempt(s, &c);
        }
    }
    return progress;
}

static int shrink_payloads(shrink *s)
{
    uint64_t st[512];
    int progress = 0;
    size_t n = segments(s->in, st, 512);
    for (size_t i = n; i-- > 0 && budget(s);) {
        for (int step = 0; step < 24 && budget(s); step++) {
            n = segments(s->in, st, 512);
            if (i >= n || st[i] + 8 > s->in->len)
                break;
            const uint8_t *p = s->in->data + st[i];
            uint32_t l = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
            uint64_t have = s->in->len - st[i] - 8;
            if (l < 2 || l > VC_MAX_PAYLOAD || have < l)
                break;
            /* the smallest first, then halves */
            uint32_t nl = step == 0 ? 1 : l / 2;
            vc_fz_input c;
            without(&c, s->in, st[i] + 8 + nl, l - nl);
            uint8_t *q = c.data + st[i] + 4;
            q[0] = (uint8_t)(nl >> 24);
            q[1] = (uint8_t)(nl >> 16);
            q[2] = (uint8_t)(nl >> 8);
            q[3] = (uint8_t)nl;
            if (attempt(s, &c)) {
                progress = 1;
                if (nl == 1)
                    break;
            } else if (step > 0) {
                break;
            }
        }
    }
    return progress;
}

static int merge_writes(shrink *s)
{
    int progress = 0;
    if (!s->in->ncuts)
        return 0;
    vc_fz_input c;
    vc_fz_input_copy(&c, s->in);
    c.ncuts = 0;
    if (attempt(s, &c))
        return 1;
    /* halves, then single cuts */
    for (size_t chunk = s->in->ncuts / 2; chunk >= 1 && budget(s); chunk /= 2) {
        for (size_t at = 0; at < s->in->ncuts && budget(s);) {
            size_t k = chunk < s->in->ncuts - at ? chunk : s->in->ncuts - at;
            vc_fz_input_copy(&c, s->in);
            memmove(c.cuts + at, c.cuts + at + k, (c.ncuts - at - k) * sizeof *c.cuts);
            c.ncuts -= k;
            if (attempt(s, &c))
                progress = 1;
            else
                at += k;
        }
        if (chunk == 1)
            break;
    }
    return progress;
}

static int drop_pauses(shrink *s)
{
    int any = 0;
    for (size_t i = 0; i < s->in->ncuts; i++)
        any |= s->in->cuts[i].pause_ms != 0;
    if (!any)
        return 0;
    vc_fz_input c;
    vc_fz_input_copy(&c, s->in);
    for (size_t i = 0; i < c.ncuts; i++)
        c.cuts[i].pause_ms = 0;
    if (attempt(s, &c))
        return 1;
    int progress = 0;
    for (size_t i = 0; i < s->in->ncuts && budget(s); i++) {
        if (!s->in->cuts[i].pause_ms)
            continue;
        vc_fz_input_copy(&c, s->in);
        c.cuts[i].pause_ms = 0;
        progress |= attempt(s, &c);
    }
    return progress;
}

int vc_fz_shrink(vc_fz_input *in, vc_fz_still still, void *ctx, int max_runs, int64_t deadline)
{
    shrink s = {.in = in, .still = still, .ctx = ctx, .max_runs = max_runs, .deadline = deadline};
    for (int pass = 0; pass < 8 && budget(&s); pass++) {
        int progress = 0;
        if (in->second >= 0) {
            vc_fz_input c;
            vc_fz_input_copy(&c, in);
            c.second = -1;
            progress |= attempt(&s, &c);
        }
        progress |= drop_frames(&s);
        progress |= shrink_payloads(&s);
        progress |= merge_writes(&s);
        progress |= drop_pauses(&s);
        if (!progress)
            break;
    }
    return s.runs;
}
