/* SPDX-License-Identifier: MIT */
/* cases.c - the catalogue: built-in cases and every decoder vector of the
 * vector set under several split patterns.  Ids are stable: they appear in
 * reports, reproducers and --pick lists. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

#ifdef VC_HAVE_VECTORS
#include "vsok_vectors.h"
#endif

static const struct {
    const char *id, *text;
} rules[] = {
    {"VSOK-FRAME", "Each message is echoed as exactly one frame: the magic 56 53 4F 4B, the payload "
                   "length as u32 big-endian, then the payload, byte for byte."},
    {"VSOK-SPLIT", "A reader accepts any split and coalescing of the byte stream: the messages depend "
                   "on the bytes alone, never on how they were cut into writes."},
    {"VSOK-ORDER", "Messages are delivered (and echoed) in the order they were sent, also when many "
                   "are sent before any echo is read."},
    {"VSOK-FLOW", "Payloads up to 1,048,576 bytes are legal; an IUT echoes while the peer is still "
                  "writing, so large messages never deadlock."},
    {"VSOK-HALF-CLOSE", "After the peer shuts down its write side, every echo owed for complete "
                        "frames is still delivered."},
    {"VSOK-EOF", "At a clean end of stream (at a frame boundary) the IUT ends the connection."},
    {"VSOK-MAGIC", "A frame starts with the 4 bytes \"VSOK\"; any other byte there is "
                   "InvalidMagicBytes, detected at the first wrong byte."},
    {"VSOK-LENGTH-ZERO", "A length field of 0 is InvalidTotalLength."},
    {"VSOK-MAX", "A length field above 1,048,576 is MessageTooLarge, judged from the header alone."},
    {"VSOK-TRUNCATED", "A stream that ends inside a frame is Truncated: the partial frame is never "
                       "delivered."},
    {"VSOK-CLOSE-ON-ERROR", "On a protocol error the IUT closes the connection (FIN or RST) without "
                            "echoing the offending frame or anything after it."},
    {"VSOK-PREFIX", "Messages completed before a protocol error stay delivered: their echoes are owed."},
    {"VSOK-SURVIVE", "A protocol error on one connection, or a peer resetting it (RST), never takes "
                     "the IUT down: a fresh connection is served normally afterwards."},
    {"VSOK-ISOLATE", "A protocol error on one connection leaves the other connections open at the "
                     "same time untouched: mid-frame or between frames, they are served on."},
    {"VSOK-TIMELY", "Every owed echo and every owed close happens within the timeout."},
    {"VSOK-EARLY-REJECT", "A wrong magic byte is detected as soon as it arrives, without waiting for "
                          "the rest of the header (robustness)."},
    {"VSOK-CONCURRENT", "A peer stalling inside a frame does not stop the IUT from serving other "
                        "connections (robustness; the wire format allows serial service)."},
    {"VSOK-LAZY-ALLOC", "The IUT does not reserve a frame's announced size before its bytes arrive "
                        "(robustness against memory exhaustion)."},
    {"VSOK-RELEASE", "A connection that has ended leaves nothing behind in the IUT: it closes the "
                     "connection's descriptor and ends what served it (a thread), so the number of "
                     "connections served over its lifetime is not bounded by its descriptor or thread "
                     "limit."},
    {"VSOK-LINGER", "After a protocol error the IUT closes gracefully, so that echoes it already "
                    "wrote still arrive: on TCP a plain close() with unread input sends RST and "
                    "discards them (robustness; use a lingering close)."},
};

const char *vc_rule_text(const char *rule)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rule && strcmp(rules[i].id, rule) == 0)
            return rules[i].text;
    return "";
}

const char *vc_pattern_name(vc_pattern p)
{
    static const char *const n[] = {"whole", "bytes", "hdr-offsets", "64k-paused", "random", "schedule"};
    return p < VC_NPATTERNS ? n[p] : "?";
}

int vc_case_has_tag(const vc_case *c, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *p = c->tags; p && *p;) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, tag, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* --- stream builder --- */
typedef struct sb {
    uint8_t *p;
    size_t n, cap;
    size_t *moff; /* offsets of owed payloads */
    size_t *mlen;
    size_t nm, mcap;
    uint64_t seed;
} sb;

static void sb_bytes(sb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = vc_xrealloc(b->p, b->cap);
    }
    if (src)
        memcpy(b->p + b->n, src, n);
    else
        vc_fill(b->p + b->n, n, vc_splitmix64(&b->seed));
    b->n += n;
}

static void sb_hdr(sb *b, const char *magic, uint32_t len)
{
    uint8_t h[8] = {(uint8_t)magic[0],    (uint8_t)magic[1],    (uint8_t)magic[2],   (uint8_t)magic[3],
                    (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    sb_bytes(b, h, 8);
}

/* A valid frame with a pseudo-random payload (or data); its echo is owed. */
static void sb_msg(sb *b, size_t len, const void *data)
{
    sb_hdr(b, "VSOK", (uint32_t)len);
    if (b->nm == b->mcap) {
        b->mcap = b->mcap ? b->mcap * 2 : 16;
        b->moff = vc_xrealloc(b->moff, b->mcap * sizeof *b->moff);
        b->mlen = vc_xrealloc(b->mlen, b->mcap * sizeof *b->mlen);
    }
    b->moff[b->nm] = b->n;
    b->mlen[b->nm++] = len;
    sb_bytes(b, data, len);
}

static vc_case *add(vc_catalogue *cat, const char *id, const char *title, const char *rule, const char *tags)
{
    if (cat->n == cat->cap) {
        cat->cap = cat->cap ? cat->cap * 2 : 256;
        cat->cases = vc_xrealloc(cat->cases, cat->cap * sizeof *cat->cases);
    }
    vc_case *c = &cat->cases[cat->n++];
    memset(c, 0, sizeof *c);
    c->id = vc_strdup(id);
    c->title = vc_strdup(title);
    c->rule = rule;
    c->tags = vc_strdup(tags);
    c->roles = VC_ROLES_ALL;
    return c;
}

/* Adds an exchange case that owns the builder's stream. */
static vc_case *add_sb(vc_catalogue *cat, sb *b, const char *id, const char *title, const char *rule,
                       const char *tags, vc_expect expect, vc_end end, vc_pattern pat)
{
    vc_case *c = add(cat, id, title, rule, tags);
    c->kind = VC_K_EXCHANGE;
    c->input = c->input_owned = b->p;
    c->input_len = b->n;
    c->nowed = b->nm;
    c->owed = vc_xmalloc((b->nm ? b->nm : 1) * sizeof *c->owed);
    for (size_t i = 0; i < b->nm; i++) {
        c->owed[i].data = b->p + b->moff[i];
        c->owed[i].len = b->mlen[i];
    }
    free(b->moff);
    free(b->mlen);
    c->expect = expect;
    c->end = end;
    c->pattern = pat;
    c->hostile = expect == VC_X_CLOSE;
    memset(b, 0, sizeof *b);
    return c;
}

static sb sb_new(const char *id)
{
    sb b;
    memset(&b, 0, sizeof b);
    b.seed = vc_hash(id, 0x56534f4bu);
    return b;
}

/* Messages of one length that differ in a single byte (the last, the
 * middle, the first), then the original again.  Every other case sends
 * unrelated random payloads, so an IUT that answers a message with an
 * earlier one that merely looks the same (a cache or dedupe keyed on the
 * length and a prefix or a partial hash, a reused buffer) passed them all:
 * each echo must be that message's own payload, byte for byte. */
static void builtin_near_duplicates(vc_catalogue *cat)
{
    static const size_t sizes[] = {1, 2, 9, 64, 4096, 65537, 1048576};
    sb b = sb_new("echo.payload.near-duplicates");
    uint8_t *base = vc_xmalloc(VC_MAX_PAYLOAD), *v = vc_xmalloc(VC_MAX_PAYLOAD);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        vc_fill(base, n, vc_splitmix64(&b.seed));
        size_t at[3] = {n - 1, n / 2, 0};
        size_t variants = n == VC_MAX_PAYLOAD ? 1 : 3; /* 2 MiB for the largest pair is enough */
        sb_msg(&b, n, base);
        for (size_t k = 0; k < variants; k++) {
            memcpy(v, base, n);
            v[at[k]] ^= 0x5a;
            sb_msg(&b, n, v);
        }
        if (variants > 1)
            sb_msg(&b, n, base);
    }
    free(base);
    free(v);
    add_sb(cat, &b, "echo.payload.near-duplicates",
           "messages of one length differing in one byte (last, middle, first), up to 1 MiB: each is "
           "echoed as its own payload, not as an earlier look-alike",
           "VSOK-FRAME", "echo writer large", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
}

static void builtin_echo(vc_catalogue *cat)
{
    static const size_t sizes[] = {1,    2,     7,     8,     9,      255,     256,
                                   4096, 65535, 65536, 65537, 131073, 1048575, 1048576};
    char id[64], title[160];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        snprintf(id, sizeof id, "echo.size.%zu", sizes[i]);
        snprintf(title, sizeof title, "a %zu-byte message is echoed as one byte-exact frame", sizes[i]);
        sb b = sb_new(id);
        sb_msg(&b, sizes[i], NULL);
        add_sb(cat, &b, id, title, "VSOK-FRAME", sizes[i] >= 65536 ? "echo writer large" : "echo writer",
               VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
    }
    uint8_t all[1024];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (uint8_t)i;
    sb b = sb_new("echo.payload.all-bytes");
    sb_msg(&b, sizeof all, all);
    add_sb(cat, &b, "echo.payload.all-bytes", "a payload holding every byte value 00..ff is echoed unchanged",
           "VSOK-FRAME", "echo writer", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);

    /* a payload that looks like frames: an IUT that scans for the magic breaks */
    uint8_t fake[40] = "VSOK\0\0\0\x05hello"
                       "VSOK\xff\xff\xff\xff"
                       "VSOK\0\0\0\0";
    b = sb_new("echo.payload.frame-inside");
    sb_msg(&b, sizeof fake, fake);
    add_sb(cat, &b, "echo.payload.frame-inside",
           "a payload that contains VSOK headers (one announcing 4 GiB) is echoed as plain data",
           "VSOK-FRAME", "echo writer", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);

    builtin_near_duplicates(cat);
}

static void builtin_split(vc_catalogue *cat)
{
    static const size_t big[] = {1, 300, 8, 70000, 5, 64, 65536, 9};
    static const size_t small[] = {1, 300, 8, 700, 5, 64, 9, 2};
    static const struct {
        const char *id;
        vc_pattern p;
        const char *title;
    } pats[] = {
        {"split.whole", VC_P_WHOLE, "8 messages in one write are all echoed"},
        {"split.bytes", VC_P_BYTES, "8 messages written one byte per write are all echoed"},
        {"split.hdr-offsets", VC_P_HDRSPLIT,
         "8 messages with a write boundary (and a pause) at every header offset are all echoed"},
        {"split.64k-paused", VC_P_CHUNK64K,
         "8 messages (136 KiB) in 64 KiB writes with pauses are all echoed"},
        {"split.random", VC_P_RANDOM, "8 messages cut at seeded random offsets, with pauses, are all echoed"},
    };
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        sb b = sb_new("split");
        const size_t *s = pats[i].p == VC_P_BYTES ? small : big;
        for (size_t k = 0; k < 8; k++)
            sb_msg(&b, s[k], NULL);
        char tags[64];
        snprintf(tags, sizeof tags, "split split:%s", vc_pattern_name(pats[i].p));
        add_sb(cat, &b, pats[i].id, pats[i].title, "VSOK-SPLIT", tags, VC_X_ECHO, VC_END_HALF, pats[i].p);
    }
}

static void builtin_pipeline(vc_catalogue *cat)
{
    sb b = sb_new("pipeline.1000-in-one-write");
    uint64_t st = 42;
    for (int i = 0; i < 1000; i++)
        sb_msg(&b, 1 + vc_splitmix64(&st) % 64, NULL);
    vc_case *c = add_sb(cat, &b, "pipeline.1000-in-one-write",
                        "1000 small messages coalesced in one write, sent before any echo is read, "
                        "come back in order",
                        "VSOK-ORDER", "pipeline coalesced", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
    c->read_after_send = 1;

    b = sb_new("pipeline.300-mixed-random");
    for (int i = 0; i < 300; i++)
        sb_msg(&b, 1 + vc_splitmix64(&st) % 5000, NULL);
    add_sb(cat, &b, "pipeline.300-mixed-random",
           "300 messages of 1..5000 bytes cut at random offsets come back in order", "VSOK-ORDER",
           "pipeline split split:random", VC_X_ECHO, VC_END_HALF, VC_P_RANDOM);

    b = sb_new("pipeline.around-1mib");
    for (int i = 0; i < 20; i++)
        sb_msg(&b, i == 10 ? VC_MAX_PAYLOAD : 1 + vc_splitmix64(&st) % 100, NULL);
    add_sb(cat, &b, "pipeline.around-1mib",
           "10 small messages, one of 1 MiB and 9 more in one write come back in order", "VSOK-ORDER",
           "pipeline coalesced large", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
}

static void builtin_large(vc_catalogue *cat)
{
    sb b = sb_new("large.4x1mib");
    for (int i = 0; i < 4; i++)
        sb_msg(&b, VC_MAX_PAYLOAD, NULL);
    add_sb(cat, &b, "large.4x1mib",
           "four 1 MiB messages back to back are echoed while the runner is still writing", "VSOK-FLOW",
           "large flow", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);

    b = sb_new("large.1mib.64k-paused");
    sb_msg(&b, VC_MAX_PAYLOAD, NULL);
    add_sb(cat, &b, "large.1mib.64k-paused", "a 1 MiB message written in 64 KiB pieces with pauses is echoed",
           "VSOK-FLOW", "large flow split split:64k-paused", VC_X_ECHO, VC_END_HALF, VC_P_CHUNK64K);

    b = sb_new("large.slow-reader");
    for (int i = 0; i < 6; i++)
        sb_msg(&b, VC_MAX_PAYLOAD, NULL);
    vc_case *c = add_sb(cat, &b, "large.slow-reader",
                        "six 1 MiB messages to a runner with a small receive buffer that starts "
                        "reading late: the IUT's writes block, every echo still arrives whole",
                        "VSOK-FLOW", "large flow backpressure", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
    c->slow_reader = 1;
    c->close_rule = "VSOK-EOF";

    b = sb_new("large.1mib.random");
    sb_msg(&b, VC_MAX_PAYLOAD, NULL);
    sb_msg(&b, VC_MAX_PAYLOAD - 1, NULL);
    add_sb(cat, &b, "large.1mib.random", "messages of 1 MiB and 1 MiB - 1 cut at random offsets are echoed",
           "VSOK-FLOW", "large flow split split:random", VC_X_ECHO, VC_END_HALF, VC_P_RANDOM);
}

static void builtin_halfclose(vc_catalogue *cat)
{
    sb b = sb_new("halfclose.single");
    sb_msg(&b, 100, NULL);
    vc_case *c = add_sb(cat, &b, "halfclose.single",
                        "one message then an immediate shutdown of the runner's write side: the "
                        "echo still arrives, then the IUT closes",
                        "VSOK-HALF-CLOSE", "half-close", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
    c->close_rule = "VSOK-EOF";

    b = sb_new("halfclose.pipelined");
    for (int i = 0; i < 100; i++)
        sb_msg(&b, i == 50 ? VC_MAX_PAYLOAD : 10 + (size_t)i, NULL);
    c = add_sb(cat, &b, "halfclose.pipelined",
               "100 messages (one of 1 MiB) then a shutdown of the write side: every echo arrives",
               "VSOK-HALF-CLOSE", "half-close pipeline large", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
    c->close_rule = "VSOK-EOF";

    b = sb_new("halfclose.empty");
    c = add_sb(cat, &b, "halfclose.empty",
               "a connection that sends nothing and shuts down its write side: no bytes come back, "
               "the IUT closes",
               "VSOK-EOF", "half-close", VC_X_ECHO, VC_END_HALF, VC_P_WHOLE);
    c->close_rule = "VSOK-EOF";
}

static vc_case *invalid(vc_catalogue *cat, sb *b, const char *id, const char *title, const char *rule,
                        const char *err, uint64_t off, vc_end end)
{
    char tags[96];
    snprintf(tags, sizeof tags, "invalid hostile %s", err);
    vc_case *c = add_sb(cat, b, id, title, rule, tags, VC_X_CLOSE, end, VC_P_WHOLE);
    c->error_name = err;
    c->error_offset = off;
    if (!strcmp(err, "Truncated"))
        c->close_rule = "VSOK-TRUNCATED"; /* the stream ended: nothing else to wait for */
    return c;
}

static void builtin_invalid(vc_catalogue *cat)
{
    char id[64], title[200];
    for (int k = 0; k < 4; k++) {
        char magic[5] = "VSOK";
        magic[k] = (char)(magic[k] ^ 0x20); /* "vSOK", "VsOK", ...: off by a case bit */
        snprintf(id, sizeof id, "invalid.magic.byte-%d", k);
        snprintf(title, sizeof title,
                 "a header with a wrong magic byte %d (\"%s\") is not echoed; the "
                 "IUT closes",
                 k, magic);
        sb b = sb_new(id);
        sb_hdr(&b, magic, 5);
        sb_bytes(&b, "hello", 5);
        invalid(cat, &b, id, title, "VSOK-MAGIC", "InvalidMagicBytes", (uint64_t)k, VC_END_STALL);
    }
    sb b = sb_new("invalid.magic.http");
    sb_bytes(&b, "GET / HTTP/1.1\r\nHost: vsok\r\n\r\n", 30);
    invalid(cat, &b, "invalid.magic.http", "an HTTP request is rejected as bad magic; nothing is echoed",
            "VSOK-MAGIC", "InvalidMagicBytes", 0, VC_END_STALL);

    b = sb_new("invalid.magic.after-valid");
    sb_msg(&b, 20, NULL);
    sb_msg(&b, 3, NULL);
    size_t off = b.n;
    sb_hdr(&b, "VSOX", 5);
    sb_bytes(&b, "hello", 5);
    invalid(cat, &b, "invalid.magic.after-valid",
            "two valid frames then a bad magic: both echoes arrive, the bad frame is not echoed, "
            "the IUT closes",
            "VSOK-PREFIX", "InvalidMagicBytes", off + 3, VC_END_STALL);

    b = sb_new("invalid.magic.then-valid");
    sb_hdr(&b, "XSOK", 4);
    sb_bytes(&b, "abcd", 4);
    sb_hdr(&b, "VSOK", 4); /* not owed: nothing after an error is echoed */
    sb_bytes(&b, "efgh", 4);
    invalid(cat, &b, "invalid.magic.then-valid",
            "a bad frame followed by a valid one: nothing at all is echoed", "VSOK-CLOSE-ON-ERROR",
            "InvalidMagicBytes", 0, VC_END_STALL);

    b = sb_new("invalid.magic.bytewise");
    sb_msg(&b, 6, NULL);
    off = b.n;
    sb_hdr(&b, "VSKO", 6);
    sb_bytes(&b, "trails", 6);
    vc_case *c = invalid(cat, &b, "invalid.magic.bytewise",
                         "a bad magic delivered one byte per write after a valid frame: one echo, "
                         "then a close",
                         "VSOK-MAGIC", "InvalidMagicBytes", off + 2, VC_END_STALL);
    c->pattern = VC_P_BYTES;

    b = sb_new("invalid.magic.first-byte-only");
    sb_bytes(&b, "X", 1);
    c = invalid(cat, &b, "invalid.magic.first-byte-only",
                "a single wrong first byte, then silence: the IUT rejects it without waiting for "
                "the rest of the header",
                "VSOK-EARLY-REJECT", "InvalidMagicBytes", 0, VC_END_STALL);
    c->early = 1;
    free(c->tags);
    c->tags = vc_strdup("invalid hostile robustness InvalidMagicBytes");

    b = sb_new("invalid.length.zero");
    sb_hdr(&b, "VSOK", 0);
    invalid(cat, &b, "invalid.length.zero", "a header with length 0 is rejected; the IUT closes",
            "VSOK-LENGTH-ZERO", "InvalidTotalLength", 4, VC_END_STALL);

    b = sb_new("invalid.length.zero-after-valid");
    sb_msg(&b, 1, NULL);
    off = b.n;
    sb_hdr(&b, "VSOK", 0);
    sb_msg(&b, 5, NULL);
    b.nm--; /* the frame after the error is not owed */
    invalid(cat, &b, "invalid.length.zero-after-valid",
            "a valid frame, a zero-length header, another valid frame: only the first is echoed",
            "VSOK-LENGTH-ZERO", "InvalidTotalLength", off + 4, VC_END_STALL);

    static const uint32_t big[] = {VC_MAX_PAYLOAD + 1, 0x01000000u, 0xffffffffu};
    static const char *const bigid[] = {"invalid.length.max-plus-1", "invalid.length.16mib",
                                        "invalid.length.u32-max"};
    for (int i = 0; i < 3; i++) {
        snprintf(title, sizeof title,
                 "a header announcing %u bytes (above 1 MiB) is rejected from "
                 "the header alone; the IUT closes",
                 big[i]);
        b = sb_new(bigid[i]);
        sb_hdr(&b, "VSOK", big[i]);
        sb_bytes(&b, NULL, 100);
        invalid(cat, &b, bigid[i], title, "VSOK-MAX", "MessageTooLarge", 4, VC_END_STALL);
    }
    /* Echoes still queued in the IUT when it closes: a slow reader makes
     * sure they are (on TCP a plain close() with unread input then resets
     * them away; the drain-first replay tells that from a framing fault). */
    b = sb_new("invalid.length.max-plus-1-after-large");
    sb_msg(&b, VC_MAX_PAYLOAD, NULL);
    sb_msg(&b, VC_MAX_PAYLOAD, NULL);
    off = b.n;
    sb_hdr(&b, "VSOK", VC_MAX_PAYLOAD + 1);
    sb_bytes(&b, NULL, 1000);
    c = invalid(cat, &b, "invalid.length.max-plus-1-after-large",
                "two 1 MiB frames, then a header announcing 1 MiB + 1, to a slow reader: both "
                "echoes arrive whole, then a close",
                "VSOK-PREFIX", "MessageTooLarge", off + 4, VC_END_STALL);
    c->slow_reader = 1;

    b = sb_new("invalid.length.max-plus-1-full");
    sb_hdr(&b, "VSOK", VC_MAX_PAYLOAD + 1);
    sb_bytes(&b, NULL, VC_MAX_PAYLOAD + 1);
    invalid(cat, &b, "invalid.length.max-plus-1-full",
            "a complete 1 MiB + 1 frame is not echoed; the IUT closes", "VSOK-MAX", "MessageTooLarge", 4,
            VC_END_HALF);

    for (int k = 1; k < 8; k++) {
        snprintf(id, sizeof id, "invalid.truncated.header-%d", k);
        snprintf(title, sizeof title,
                 "a valid frame then %d byte%s of a header and end of stream: "
                 "one echo, then a close",
                 k, k == 1 ? "" : "s");
        b = sb_new(id);
        sb_msg(&b, 7, NULL);
        sb_hdr(&b, "VSOK", 16);
        b.n -= (size_t)(8 - k);
        invalid(cat, &b, id, title, "VSOK-TRUNCATED", "Truncated", b.n, VC_END_HALF);
    }
    b = sb_new("invalid.truncated.payload");
    sb_msg(&b, 7, NULL);
    sb_hdr(&b, "VSOK", 100);
    sb_bytes(&b, NULL, 50);
    invalid(cat, &b, "invalid.truncated.payload",
            "a valid frame then half of a 100-byte payload and end of stream: the partial frame "
            "is not echoed",
            "VSOK-TRUNCATED", "Truncated", b.n, VC_END_HALF);

    b = sb_new("invalid.truncated.payload-1mib");
    sb_hdr(&b, "VSOK", VC_MAX_PAYLOAD);
    sb_bytes(&b, NULL, VC_MAX_PAYLOAD / 2);
    invalid(cat, &b, "invalid.truncated.payload-1mib",
            "half of a 1 MiB payload and end of stream: nothing is echoed, the IUT closes", "VSOK-TRUNCATED",
            "Truncated", b.n, VC_END_HALF);

    for (int paused = 0; paused < 2; paused++) {
        const char *gid = paused ? "invalid.garbage-after-valid.paused" : "invalid.garbage-after-valid";
        b = sb_new(gid);
        sb_msg(&b, 10, NULL);
        sb_msg(&b, 2000, NULL);
        sb_msg(&b, 1, NULL);
        off = b.n;
        sb_bytes(&b, "\x00garbage\xff", 9);
        sb_bytes(&b, NULL, 200);
        c = invalid(cat, &b, gid,
                    paused ? "three valid frames, a pause, then garbage: three echoes, then a close"
                           : "three valid frames and garbage in one write: three echoes, then a close",
                    "VSOK-CLOSE-ON-ERROR", "InvalidMagicBytes", off, VC_END_STALL);
        if (paused) {
            static vc_split sp[1];
            sp[0].offset = off;
            sp[0].pause_ms = 20;
            c->pattern = VC_P_SCHEDULE;
            c->sched = sp;
            c->nsched = 1;
        }
    }
}

/* A hostile case the runner drives itself (kind is not an exchange). */
static vc_case *add_driven(vc_catalogue *cat, const char *id, const char *title, const char *rule,
                           const char *tags, vc_kind kind, unsigned roles)
{
    vc_case *c = add(cat, id, title, rule, tags);
    c->kind = kind;
    c->roles = roles;
    c->hostile = 1;
    return c;
}

static void builtin_robust(vc_catalogue *cat)
{
    /* Server role only where the exec role and spawned clients run one
     * process per connection (or the connection is the process). */
    add_driven(cat, "robust.stall-serves-others",
               "while one connection stalls inside a frame announcing 1 MiB, a second "
               "connection is served",
               "VSOK-CONCURRENT", "robustness hostile", VC_K_STALL_OTHERS, VC_ROLE_SERVER);
    add_driven(cat, "robust.lazy-alloc",
               "headers announcing 1 MiB with no payload yet do not make the IUT reserve 1 MiB each",
               "VSOK-LAZY-ALLOC", "robustness hostile", VC_K_LAZY_ALLOC, VC_ROLES_ALL);
    add_driven(cat, "robust.fd-release",
               "64 connections, each ended (a FIN after an echo, or a protocol error) and closed by "
               "the IUT: its open descriptors and threads do not grow with them",
               "VSOK-RELEASE", "robustness hostile", VC_K_FD_RELEASE, VC_ROLE_SERVER);
    add_driven(cat, "robust.peer-gone-mid-echo",
               "6 MiB of frames to a runner that reads none of the echoes and then resets the "
               "connection while the IUT is still writing them: the IUT survives (EPIPE/ECONNRESET, "
               "never a SIGPIPE death)",
               "VSOK-SURVIVE", "robustness hostile reset", VC_K_GONE_MID_ECHO, VC_ROLE_SERVER);
    add_driven(cat, "robust.error-spares-open",
               "a protocol error on one connection leaves two others open at the same time (one "
               "inside a frame, one between frames) working",
               "VSOK-ISOLATE", "robustness hostile", VC_K_ISOLATE, VC_ROLE_SERVER);

    vc_case *c;
    sb b = sb_new("robust.peer-reset");
    sb_msg(&b, 100, NULL);
    sb_hdr(&b, "VSOK", 1000);
    sb_bytes(&b, NULL, 10);
    c = add_sb(cat, &b, "robust.peer-reset",
               "one frame, part of the next, then the runner resets the connection (RST): the IUT "
               "survives",
               "VSOK-SURVIVE", "robustness hostile reset", VC_X_ECHO, VC_END_RESET, VC_P_WHOLE);
    c->hostile = 1;
    b = sb_new("robust.peer-reset-between");
    sb_msg(&b, 3000, NULL);
    c = add_sb(cat, &b, "robust.peer-reset-between",
               "one frame, then the runner resets the connection (RST) at the frame boundary: the "
               "IUT survives",
               "VSOK-SURVIVE", "robustness hostile reset", VC_X_ECHO, VC_END_RESET, VC_P_WHOLE);
    c->hostile = 1;
}

#ifdef VC_HAVE_VECTORS
#define BYTES_MAX 8192

static const char *vector_rule(const char *result)
{
    if (!strcmp(result, "InvalidMagicBytes"))
        return "VSOK-MAGIC";
    if (!strcmp(result, "InvalidTotalLength"))
        return "VSOK-LENGTH-ZERO";
    if (!strcmp(result, "MessageTooLarge"))
        return "VSOK-MAX";
    if (!strcmp(result, "Truncated"))
        return "VSOK-TRUNCATED";
    return NULL;
}

static void vector_cases(vc_catalogue *cat, vsok_vec_set *set)
{
    for (size_t i = 0; i < set->ncases; i++) {
        const vsok_vec_case *v = &set->cases[i];
        if (v->kind != VSOK_VEC_DECODER)
            continue;
        vc_pattern pats[VC_NPATTERNS];
        size_t np = 0;
        pats[np++] = VC_P_WHOLE;
        if (v->input_len <= BYTES_MAX) /* beyond, 1-byte writes only measure syscalls */
            pats[np++] = VC_P_BYTES;
        pats[np++] = VC_P_HDRSPLIT;
        if (v->input_len > VC_CHUNK)
            pats[np++] = VC_P_CHUNK64K;
        pats[np++] = VC_P_RANDOM;
        if (v->has_delivery && v->nsplits)
            pats[np++] = VC_P_SCHEDULE;
        int ok = !strcmp(v->result, "Eof");
        const char *erule = vector_rule(v->result);
        if (!ok && !erule)
            continue; /* an outcome the echo contract cannot observe */
        /* A header that is complete and wrong must make the IUT close on its
         * own (the runner keeps its write side open); a stream that ends
         * early is ended with a half-close, as the vector's sender does. */
        int stall = 0;
        if (!ok && strcmp(v->result, "Truncated") != 0) {
            uint64_t fs = 0; /* the bad frame follows the last good one */
            if (v->nmsgs)
                fs = v->msgs[v->nmsgs - 1].frame_offset + 8 + v->msgs[v->nmsgs - 1].len;
            stall = strcmp(v->result, "InvalidMagicBytes") != 0 || v->input_len >= fs + 8;
        }
        for (size_t k = 0; k < np; k++) {
            char id[64], title[400], tags[400];
            snprintf(id, sizeof id, "vec.%04u.%s", v->id, vc_pattern_name(pats[k]));
            snprintf(title, sizeof title, "vector %u %s (%s): %s", v->id, v->name, vc_pattern_name(pats[k]),
                     v->description);
            snprintf(tags, sizeof tags, "vector vector:%s split:%s %s%s", v->group, vc_pattern_name(pats[k]),
                     v->tags, ok ? "" : " invalid hostile");
            vc_case *c =
                add(cat, id, title, ok ? (pats[k] == VC_P_WHOLE ? "VSOK-FRAME" : "VSOK-SPLIT") : erule, tags);
            c->kind = VC_K_EXCHANGE;
            c->input = v->input;
            c->input_len = v->input_len;
            c->nowed = v->nmsgs;
            c->owed = vc_xmalloc((v->nmsgs ? v->nmsgs : 1) * sizeof *c->owed);
            for (size_t m = 0; m < v->nmsgs; m++) {
                c->owed[m].data = v->input + v->msgs[m].frame_offset + 8;
                c->owed[m].len = v->msgs[m].len;
            }
            c->expect = ok ? VC_X_ECHO : VC_X_CLOSE;
            c->end = stall ? VC_END_STALL : VC_END_HALF;
            c->error_name = ok ? NULL : v->result;
            c->error_offset = v->result_offset;
            c->pattern = pats[k];
            c->hostile = !ok;
            if (!ok && !strcmp(v->result, "Truncated"))
                c->close_rule = "VSOK-TRUNCATED";
            if (ok && pats[k] == VC_P_SCHEDULE && v->end == VSOK_VEC_END_RESET) {
                c->end = VC_END_RESET; /* a real RST, once the owed echoes are in */
                c->hostile = 1;
            }
            if (pats[k] == VC_P_SCHEDULE) {
                vc_split *sp = vc_xmalloc(v->nsplits * sizeof *sp);
                for (size_t s = 0; s < v->nsplits; s++) {
                    sp[s].offset = v->splits[s].offset;
                    sp[s].pause_ms = v->splits[s].pause_ms;
                }
                c->sched = c->sched_owned = sp;
                c->nsched = v->nsplits;
            }
        }
    }
}
#endif

int vc_catalogue_build(vc_catalogue *cat, const char *vectors_path, char *err, size_t errlen)
{
    memset(cat, 0, sizeof *cat);
    builtin_echo(cat);
    builtin_split(cat);
    builtin_pipeline(cat);
    builtin_large(cat);
    builtin_halfclose(cat);
    builtin_invalid(cat);
    builtin_robust(cat);
#ifdef VC_HAVE_VECTORS
    if (vectors_path && strcmp(vectors_path, "none") != 0) {
        vsok_vec_set *set = NULL;
        char e[256];
        if (vsok_vec_load(vectors_path, &set, e, sizeof e) != 0) {
            snprintf(err, errlen, "cannot load the vector set %s: %s", vectors_path, e);
            return -1;
        }
        cat->vectors = set;
        size_t before = cat->n;
        vector_cases(cat, set);
        snprintf(cat->vectors_note, sizeof cat->vectors_note, "vector set %s (version %u): %zu cases",
                 vectors_path, set->version, cat->n - before);
    } else {
        snprintf(cat->vectors_note, sizeof cat->vectors_note, "vector set not used");
    }
#else
    (void)vectors_path;
    (void)err;
    (void)errlen;
    snprintf(cat->vectors_note, sizeof cat->vectors_note,
             "built without the vector loader: vector cases unavailable");
#endif
    return 0;
}

void vc_catalogue_free(vc_catalogue *cat)
{
    for (size_t i = 0; i < cat->n; i++) {
        vc_case *c = &cat->cases[i];
        free(c->id);
        free(c->title);
        free(c->tags);
        free(c->input_owned);
        free(c->owed);
        free(c->sched_owned);
    }
    free(cat->cases);
#ifdef VC_HAVE_VECTORS
    if (cat->vectors)
        vsok_vec_free(cat->vectors);
#endif
    memset(cat, 0, sizeof *cat);
}

/* --- write plans --- */

/* Frame starts of the well-formed prefix of a stream (where header splits
 * make sense); stops at the first header that is not a valid frame. */
static size_t frame_starts(const uint8_t *p, size_t n, uint64_t *out, size_t max)
{
    size_t k = 0, pos = 0;
    while (pos < n && k < max) {
        out[k++] = pos;
        if (pos + 8 > n || memcmp(p + pos, "VSOK", 4) != 0)
            break;
        uint32_t len =
            (uint32_t)p[pos + 4] << 24 | (uint32_t)p[pos + 5] << 16 | (uint32_t)p[pos + 6] << 8 | p[pos + 7];
        if (len == 0 || len > VC_MAX_PAYLOAD)
            break;
        pos += 8 + (size_t)len;
    }
    return k;
}

typedef struct plan {
    vc_split *v;
    size_t n, cap;
} plan;

static void push(plan *pl, uint64_t off, uint32_t pause, uint64_t len)
{
    if (off == 0 || off >= len || (pl->n && pl->v[pl->n - 1].offset >= off))
        return;
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 64;
        pl->v = vc_xrealloc(pl->v, pl->cap * sizeof *pl->v);
    }
    pl->v[pl->n].offset = off;
    pl->v[pl->n++].pause_ms = pause;
}

int vc_plan_build(const vc_case *c, uint64_t seed, vc_split **out, size_t *n)
{
    plan pl = {0};
    uint64_t len = c->input_len;
    switch (c->pattern) {
    case VC_P_WHOLE: break;
    case VC_P_BYTES:
        for (uint64_t o = 1; o < len; o++)
            push(&pl, o, 0, len);
        break;
    case VC_P_HDRSPLIT: {
        uint64_t starts[4096];
        size_t ns = frame_starts(c->input, c->input_len, starts, 4096);
        for (size_t i = 0; i < ns; i++)
            for (uint64_t k = 1; k <= 8; k++)
                push(&pl, starts[i] + k, i < 4 ? 2 : 0, len); /* pauses for the first frames only */
        break;
    }
    case VC_P_CHUNK64K:
        for (uint64_t o = VC_CHUNK; o < len; o += VC_CHUNK)
            push(&pl, o, 5, len);
        break;
    case VC_P_RANDOM: {
        uint64_t st = vc_hash(c->id, seed);
        uint32_t paused = 0;
        uint64_t o = 0;
        while (o < len && pl.n < 4096) {
            uint64_t r = vc_splitmix64(&st);
            /* mostly small cuts (inside headers, across frame boundaries),
             * some up to a socket buffer's worth */
            uint64_t step, k = (r & 0xff) % 20;
            if (k < 5)
                step = 1 + (r >> 8) % 9;
            else if (k < 12)
                step = 1 + (r >> 8) % 600;
            else if (k < 17)
                step = 1 + (r >> 8) % 4096;
            else
                step = 1 + (r >> 8) % 65536;
            o += step;
            uint32_t pause = 0;
            if (((r >> 40) & 15) == 0 && paused < 40) {
                pause = 1 + (uint32_t)((r >> 44) % 3);
                paused += pause;
            }
            push(&pl, o, pause, len);
        }
        break;
    }
    case VC_P_SCHEDULE:
        for (size_t i = 0; i < c->nsched; i++)
            push(&pl, c->sched[i].offset, c->sched[i].pause_ms, len);
        break;
    case VC_NPATTERNS: break;
    }
    *out = pl.v;
    *n = pl.n;
    return 0;
}

/* --pick / --skip: an id, a glob over ids, or a tag (bare or "tag:NAME"). */
int vc_case_matches(const vc_case *c, const char *pat)
{
    if (strncmp(pat, "tag:", 4) == 0)
        return vc_case_has_tag(c, pat + 4);
    return fnmatch(pat, c->id, 0) == 0 || vc_case_has_tag(c, pat);
}
