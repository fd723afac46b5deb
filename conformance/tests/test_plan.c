/* SPDX-License-Identifier: MIT */
/* Write plans: how the runner cuts its bytes into writes.  Seeded plans
 * must replay exactly (--seed), and every plan must stay inside the stream. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

static vc_catalogue cat;

static void setup(void)
{
    char err[256];
    cr_assert_eq(vc_catalogue_build(&cat, "none", err, sizeof err), 0, "%s", err);
}

static void teardown(void) { vc_catalogue_free(&cat); }

static const vc_case *find(const char *id)
{
    for (size_t i = 0; i < cat.n; i++)
        if (!strcmp(cat.cases[i].id, id))
            return &cat.cases[i];
    cr_assert_fail("no case %s", id);
    return NULL;
}

static void assert_inside(const vc_case *c, const vc_split *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert(s[i].offset > 0 && s[i].offset < c->input_len, "%s split %zu at %llu", c->id, i,
                  (unsigned long long)s[i].offset);
        if (i)
            cr_assert_gt(s[i].offset, s[i - 1].offset, "%s splits ascend", c->id);
    }
}

TestSuite(plan, .init = setup, .fini = teardown);

Test(plan, random_splits_replay_with_the_same_seed_and_differ_with_another)
{
    const vc_case *c = find("split.random");
    vc_split *a, *b, *d;
    size_t na, nb, nd;
    vc_plan_build(c, 42, &a, &na);
    vc_plan_build(c, 42, &b, &nb);
    vc_plan_build(c, 43, &d, &nd);
    cr_assert_gt(na, 2);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na * sizeof *a), 0);
    cr_assert(nd != na || memcmp(a, d, na * sizeof *a) != 0, "seed 43 cuts like seed 42");
    assert_inside(c, a, na);
    assert_inside(c, d, nd);
    free(a);
    free(b);
    free(d);
}

Test(plan, bytes_pattern_starts_a_write_at_every_offset)
{
    const vc_case *c = find("split.bytes");
    vc_split *s;
    size_t n;
    vc_plan_build(c, 1, &s, &n);
    cr_assert_eq(n, c->input_len - 1);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(s[i].offset, i + 1);
    free(s);
}

Test(plan, header_pattern_cuts_at_every_header_offset_of_every_frame)
{
    const vc_case *c = find("split.hdr-offsets");
    vc_split *s;
    size_t n;
    vc_plan_build(c, 1, &s, &n);
    assert_inside(c, s, n);
    uint64_t start = 0;
    for (size_t m = 0; m < c->nowed; m++) {
        for (uint64_t k = 1; k <= 8; k++) {
            int found = 0;
            for (size_t i = 0; i < n && !found; i++)
                found = s[i].offset == start + k;
            cr_assert(found || start + k == c->input_len, "frame %zu header offset %llu", m,
                      (unsigned long long)k);
        }
        start += 8 + c->owed[m].len;
    }
    free(s);
}

Test(plan, whole_is_one_write_and_64k_pattern_pauses_between_chunks)
{
    vc_split *s;
    size_t n;
    vc_plan_build(find("split.whole"), 1, &s, &n);
    cr_assert_eq(n, 0);
    free(s);
    const vc_case *c = find("large.1mib.64k-paused");
    vc_plan_build(c, 1, &s, &n);
    cr_assert_eq(n, (c->input_len - 1) / VC_CHUNK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(s[i].offset, (i + 1) * (uint64_t)VC_CHUNK);
        cr_assert_gt(s[i].pause_ms, 0);
    }
    free(s);
}

Test(plan, every_case_owes_only_frames_that_are_in_its_input)
{
    for (size_t i = 0; i < cat.n; i++) {
        const vc_case *c = &cat.cases[i];
        if (c->kind != VC_K_EXCHANGE)
            continue;
        cr_assert(c->id[0] && c->title[0] && vc_rule_text(c->rule)[0], "case %zu described", i);
        uint64_t off = 0;
        for (size_t m = 0; m < c->nowed; m++) {
            /* owed frame m is the input's frame at off, byte for byte */
            cr_assert_leq(off + 8 + c->owed[m].len, c->input_len, "%s", c->id);
            cr_assert_eq(memcmp(c->input + off, "VSOK", 4), 0, "%s", c->id);
            cr_assert_eq(c->owed[m].data, c->input + off + 8, "%s", c->id);
            off += 8 + c->owed[m].len;
        }
        if (c->expect == VC_X_ECHO && c->end == VC_END_RESET)
            cr_assert_leq(off, c->input_len, "%s: a reset may cut the last frame", c->id);
        else if (c->expect == VC_X_ECHO)
            cr_assert_eq(off, c->input_len, "%s: a valid case owes all it sends", c->id);
        else
            cr_assert_lt(off, c->input_len, "%s: an invalid case sends more than it owes", c->id);
    }
}

Test(plan, ids_are_unique)
{
    for (size_t i = 0; i < cat.n; i++)
        for (size_t k = i + 1; k < cat.n; k++)
            cr_assert_str_neq(cat.cases[i].id, cat.cases[k].id);
}

Test(plan, every_rule_a_case_can_fail_with_is_documented)
{
    for (size_t i = 0; i < cat.n; i++) {
        const vc_case *c = &cat.cases[i];
        cr_assert(vc_rule_text(c->rule)[0], "%s: rule %s", c->id, c->rule);
        if (c->close_rule)
            cr_assert(vc_rule_text(c->close_rule)[0], "%s: close rule %s", c->id, c->close_rule);
    }
    cr_assert(vc_rule_text("VSOK-ISOLATE")[0] && vc_rule_text("VSOK-LINGER")[0]);
}

Test(plan, an_iut_staying_open_after_a_truncated_stream_fails_the_truncation_rule)
{
    size_t n = 0;
    for (size_t i = 0; i < cat.n; i++) {
        const vc_case *c = &cat.cases[i];
        if (c->error_name && !strcmp(c->error_name, "Truncated")) {
            cr_assert_str_eq(c->close_rule, "VSOK-TRUNCATED", "%s", c->id);
            cr_assert_eq(c->end, VC_END_HALF, "%s: the stream really ends", c->id);
            n++;
        }
    }
    cr_assert_geq(n, 9);
}

Test(plan, end_of_stream_cases_require_a_close)
{
    const char *ids[] = {"halfclose.single", "halfclose.pipelined", "halfclose.empty", "large.slow-reader"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const vc_case *c = find(ids[i]);
        cr_assert_str_eq(c->close_rule, "VSOK-EOF", "%s", ids[i]);
        cr_assert_eq(c->end, VC_END_HALF, "%s", ids[i]);
    }
    cr_assert(find("large.slow-reader")->slow_reader);
}

Test(plan, peer_reset_cases_end_in_a_reset_after_owed_echoes)
{
    const char *ids[] = {"robust.peer-reset", "robust.peer-reset-between"};
    for (size_t i = 0; i < 2; i++) {
        const vc_case *c = find(ids[i]);
        cr_assert_eq(c->end, VC_END_RESET, "%s", ids[i]);
        cr_assert(c->nowed >= 1 && c->hostile, "%s: an echo to hold back, a probe after", ids[i]);
    }
    cr_assert_eq(find("robust.error-spares-open")->roles, (unsigned)VC_ROLE_SERVER);
}
