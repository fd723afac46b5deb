/* SPDX-License-Identifier: MIT */
/* vsok_vectors.c - loader for vectors/vectors.txt (grammar: vectors/README.md).
 *
 * Self-contained (libc only) so it can drive implementations other than
 * libvsok.  Every line is checked; anything unexpected fails the load with
 * the line number, because a silently misread vector is worse than none.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, strdup */
#endif
#include "vsok_vectors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- SHA-256 */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(sha256_ctx *c, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], hh = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += hh;
}

static void sha256_init(sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->bytes = 0;
    c->fill = 0;
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n)
{
    c->bytes += n;
    if (c->fill) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill < 64)
            return;
        sha256_block(c, c->block);
        c->fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        sha256_block(c, p);
    if (n) /* p may be NULL for empty input */
        memcpy(c->block, p, n);
    c->fill = n;
}

static void sha256_final(sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (c->fill < 56 ? 56 : 120) - c->fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void vsok_vec_sha256(const void *data, size_t len, uint8_t out[32])
{
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

void vsok_vec_hex32(const uint8_t digest[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[digest[i] >> 4];
        out[2 * i + 1] = hx[digest[i] & 15];
    }
    out[64] = '\0';
}

/* ---------------------------------------------------------------- helpers */

/* Inputs are at most a few MiB; this bound keeps a corrupt file from asking
 * for gigabytes. */
#define VEC_MAX_BYTES (64u << 20)

typedef struct parser {
    const char *path;
    unsigned long line;
    char *err;
    size_t errlen;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
perr(parser *p, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        int n = snprintf(p->err, p->errlen, "%s:%lu: ", p->path, p->line);
        if (n >= 0 && (size_t)n < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return s[2 * n] == '\0' ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
    uint64_t x;
    if (parse_u64(s, &x) || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static int parse_sha(const char *s, uint8_t out[32])
{
    return s && strlen(s) == 64 ? parse_hex(s, out, 32) : -1;
}

/* A growable byte buffer. */
typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static int buf_room(buf *b, size_t more)
{
    if (more > VEC_MAX_BYTES || b->len > VEC_MAX_BYTES - more)
        return -1;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (!np)
        return -1;
    b->p = np;
    b->cap = cap;
    return 0;
}

/* Appends the bytes of one generator (tok[0] = hex|fill|counter|prng).
 * Returns the number of tokens used, or -1. */
static int expand_spec(buf *b, char **tok, int ntok)
{
    if (ntok >= 2 && strcmp(tok[0], "hex") == 0) {
        if (strcmp(tok[1], "-") == 0)
            return 2;
        size_t n = strlen(tok[1]);
        if (n % 2 || buf_room(b, n / 2))
            return -1;
        if (parse_hex(tok[1], b->p + b->len, n / 2))
            return -1;
        b->len += n / 2;
        return 2;
    }
    uint32_t arg;
    uint64_t len;
    int kind = ntok < 1                         ? 0
               : strcmp(tok[0], "fill") == 0    ? 1
               : strcmp(tok[0], "counter") == 0 ? 2
               : strcmp(tok[0], "prng") == 0    ? 3
                                                : 0;
    if (kind == 0 || ntok < 3 || parse_u32(tok[1], &arg) || parse_u64(tok[2], &len) || len > VEC_MAX_BYTES ||
        buf_room(b, (size_t)len))
        return -1;
    if (len == 0)
        return (kind == 3 || arg <= 255) ? 3 : -1;
    uint8_t *o = b->p + b->len;
    if (kind == 1 && arg <= 255) {
        memset(o, (int)arg, (size_t)len);
    } else if (kind == 2 && arg <= 255) {
        for (size_t i = 0; i < len; i++)
            o[i] = (uint8_t)(arg + i);
    } else if (kind == 3) {
        uint32_t x = arg;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            o[i] = (uint8_t)(x >> 24);
        }
    } else {
        return -1;
    }
    b->len += (size_t)len;
    return 3;
}

/* Appends one input segment: a generator, or "frame" + generator. */
static int expand_segment(buf *b, char **tok, int ntok)
{
    if (ntok >= 1 && strcmp(tok[0], "frame") == 0) {
        if (buf_room(b, 8))
            return -1;
        size_t at = b->len;
        b->len += 8;
        int used = expand_spec(b, tok + 1, ntok - 1);
        if (used < 0)
            return -1;
        uint64_t n = b->len - at - 8;
        if (n > UINT32_MAX)
            return -1;
        memcpy(b->p + at, "VSOK", 4);
        b->p[at + 4] = (uint8_t)(n >> 24);
        b->p[at + 5] = (uint8_t)(n >> 16);
        b->p[at + 6] = (uint8_t)(n >> 8);
        b->p[at + 7] = (uint8_t)n;
        return used + 1;
    }
    return expand_spec(b, tok, ntok);
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

#define MAXTOK 16

/* Splits line in place on spaces; -1 when it has more than MAXTOK words. */
static int tokenize(char *line, char **tok)
{
    int n = 0;
    for (char *s = line; *s;) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        if (n == MAXTOK)
            return -1;
        tok[n++] = s;
        while (*s && *s != ' ')
            s++;
        if (*s)
            *s++ = '\0';
    }
    return n;
}

static void case_free(vsok_vec_case *c)
{
    free(c->description);
    free(c->input);
    free(c->msgs);
    free(c->splits);
    free(c->payload);
}

/* Checks a finished case and its digests. */
static int case_finish(parser *p, vsok_vec_case *c, buf *in, buf *pl, int have_input, int have_result)
{
    uint8_t d[32];
    if (!c->description || !c->tags[0] || !have_result)
        return perr(p, "case %u lacks desc, tags or result", c->id);
    if (c->kind == VSOK_VEC_DECODER) {
        if (!have_input)
            return perr(p, "case %u lacks its input line", c->id);
        if (in->len != c->input_len)
            return perr(p, "case %u: input expands to %zu bytes, expected %zu", c->id, in->len, c->input_len);
        vsok_vec_sha256(in->p, in->len, d);
        if (memcmp(d, c->input_sha256, 32))
            return perr(p, "case %u: expanded input does not match its sha256", c->id);
        c->input = in->p ? in->p : malloc(1);
        if (!c->input)
            return perr(p, "out of memory");
        in->p = NULL; /* ownership moved to the case */
        in->len = in->cap = 0;
        for (size_t i = 0; i < c->nmsgs; i++) {
            const vsok_vec_msg *m = &c->msgs[i];
            if (m->frame_offset > c->input_len || c->input_len - m->frame_offset < 8 ||
                c->input_len - m->frame_offset - 8 < m->len)
                return perr(p, "case %u: message %zu lies outside the input", c->id, i);
            vsok_vec_sha256(c->input + m->frame_offset + 8, m->len, d);
            if (memcmp(d, m->sha256, 32))
                return perr(p, "case %u: message %zu does not match its sha256", c->id, i);
        }
        if (c->nsplits && !c->has_delivery)
            return perr(p, "case %u: split lines without an end line", c->id);
        for (size_t i = 0; i < c->nsplits; i++)
            if (c->splits[i].offset == 0 || c->splits[i].offset >= c->input_len ||
                (i && c->splits[i].offset <= c->splits[i - 1].offset))
                return perr(p, "case %u: split offsets must increase inside the input", c->id);
    } else {
        if (strcmp(c->result, "Ok") == 0) {
            if (!pl->p || pl->len != c->payload_len)
                return perr(p, "case %u: payload does not expand to payload_len", c->id);
            vsok_vec_sha256(pl->p, pl->len, d);
            sha256_ctx s;
            sha256_init(&s);
            sha256_update(&s, c->header, 8);
            sha256_update(&s, pl->p, pl->len);
            sha256_final(&s, d);
            if (memcmp(d, c->frame_sha256, 32) || c->frame_len != c->payload_len + 8)
                return perr(p, "case %u: header + payload do not match the frame sha256", c->id);
            c->payload = pl->p;
            pl->p = NULL;
            pl->len = pl->cap = 0;
        }
    }
    return 0;
}

/* Returns arr with room for element n (reallocated when *cap is reached),
 * or NULL when out of memory (arr is then still valid). */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *na = realloc(arr, ncap * elem);
    if (na)
        *cap = ncap;
    return na;
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = ((const vsok_vec_case *)a)->id, y = ((const vsok_vec_case *)b)->id;
    return x < y ? -1 : x > y;
}

int vsok_vec_load(const char *path, vsok_vec_set **out, char *err, size_t errlen)
{
    parser p = {path, 0, err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!path || !out)
        return perr(&p, "NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return perr(&p, "cannot open: %s", strerror(errno));
    vsok_vec_set *s = calloc(1, sizeof *s);
    size_t cap = 0, msgcap = 0, splitcap = 0;
    vsok_vec_case *c = NULL;
    buf in = {0}, pl = {0};
    int have_input = 0, have_result = 0, rc = -1;
    char *line = NULL;
    size_t linecap = 0;
    ssize_t n;
    if (!s) {
        perr(&p, "out of memory");
        goto done;
    }
    while ((n = getline(&line, &linecap, f)) >= 0) {
        p.line++;
        if (n && line[n - 1] == '\n')
            line[--n] = '\0';
        if (p.line == 1) {
            char *tok[MAXTOK];
            int nt = tokenize(line, tok);
            if (nt != 3 || strcmp(tok[0], "vsok-vectors") || parse_u32(tok[1], &s->format_version) ||
                parse_u32(tok[2], &s->version)) {
                perr(&p, "first line must be 'vsok-vectors FORMAT VERSION'");
                goto done;
            }
            if (s->format_version != 1) {
                perr(&p, "format version %u is not supported (this loader reads 1)", s->format_version);
                goto done;
            }
            continue;
        }
        if (n == 0 || line[0] == '#')
            continue;
        if (strncmp(line, "desc ", 5) == 0) {
            if (!c || c->description) {
                perr(&p, "misplaced desc");
                goto done;
            }
            if (!(c->description = strdup(line + 5))) {
                perr(&p, "out of memory");
                goto done;
            }
            continue;
        }
        char *tok[MAXTOK];
        int nt = tokenize(line, tok);
        if (nt < 0) {
            perr(&p, "too many words");
            goto done;
        }
        if (nt == 0)
            continue;
        const char *w = tok[0];
        if (strcmp(w, "case") == 0) {
            if (c || nt != 5) {
                perr(&p, c ? "case inside a case (missing end-case)" : "bad case line");
                goto done;
            }
            void *na = grow(s->cases, &cap, s->ncases, sizeof *s->cases);
            if (!na) {
                perr(&p, "out of memory");
                goto done;
            }
            s->cases = na;
            c = &s->cases[s->ncases];
            memset(c, 0, sizeof *c);
            s->ncases++; /* counted now so a failure frees it */
            msgcap = splitcap = 0;
            in.len = pl.len = 0;
            have_input = have_result = 0;
            if (parse_u32(tok[1], &c->id) || copy_str(c->group, sizeof c->group, tok[3]) ||
                copy_str(c->name, sizeof c->name, tok[4])) {
                perr(&p, "bad case line");
                goto done;
            }
            if (strcmp(tok[2], "decoder") == 0)
                c->kind = VSOK_VEC_DECODER;
            else if (strcmp(tok[2], "encoder") == 0)
                c->kind = VSOK_VEC_ENCODER;
            else {
                perr(&p, "unknown kind %s", tok[2]);
                goto done;
            }
            continue;
        }
        if (!c) {
            perr(&p, "'%s' outside a case", w);
            goto done;
        }
        int dec = c->kind == VSOK_VEC_DECODER;
        if (strcmp(w, "tags") == 0 && nt >= 2) {
            size_t at = 0;
            for (int i = 1; i < nt; i++) {
                size_t l = strlen(tok[i]);
                if (at + l + 2 > sizeof c->tags) {
                    perr(&p, "tags too long");
                    goto done;
                }
                if (at)
                    c->tags[at++] = ' ';
                memcpy(c->tags + at, tok[i], l + 1);
                at += l;
            }
        } else if (dec && strcmp(w, "in") == 0) {
            if (expand_segment(&in, tok + 1, nt - 1) != nt - 1) {
                perr(&p, "bad input segment");
                goto done;
            }
        } else if (dec && strcmp(w, "input") == 0 && nt == 3) {
            uint64_t len;
            if (parse_u64(tok[1], &len) || len > VEC_MAX_BYTES || parse_sha(tok[2], c->input_sha256)) {
                perr(&p, "bad input line");
                goto done;
            }
            c->input_len = (size_t)len;
            have_input = 1;
        } else if (dec && strcmp(w, "msg") == 0 && nt == 4) {
            void *na = grow(c->msgs, &msgcap, c->nmsgs, sizeof *c->msgs);
            if (!na) {
                perr(&p, "out of memory");
                goto done;
            }
            c->msgs = na;
            vsok_vec_msg *m = &c->msgs[c->nmsgs];
            if (parse_u64(tok[1], &m->frame_offset) || parse_u32(tok[2], &m->len) ||
                parse_sha(tok[3], m->sha256)) {
                perr(&p, "bad msg line");
                goto done;
            }
            c->nmsgs++;
        } else if (strcmp(w, "result") == 0 && nt == (dec ? 3 : 2)) {
            if (copy_str(c->result, sizeof c->result, tok[1]) ||
                (dec && parse_u64(tok[2], &c->result_offset))) {
                perr(&p, "bad result line");
                goto done;
            }
            have_result = 1;
        } else if (dec && strcmp(w, "split") == 0 && nt == 3) {
            void *na = grow(c->splits, &splitcap, c->nsplits, sizeof *c->splits);
            if (!na) {
                perr(&p, "out of memory");
                goto done;
            }
            c->splits = na;
            vsok_vec_split *sp = &c->splits[c->nsplits];
            if (parse_u64(tok[1], &sp->offset) || parse_u32(tok[2], &sp->pause_ms)) {
                perr(&p, "bad split line");
                goto done;
            }
            c->nsplits++;
        } else if (dec && strcmp(w, "end") == 0 && nt == 2) {
            if (strcmp(tok[1], "half-close") == 0)
                c->end = VSOK_VEC_END_HALF_CLOSE;
            else if (strcmp(tok[1], "close") == 0)
                c->end = VSOK_VEC_END_CLOSE;
            else if (strcmp(tok[1], "reset") == 0)
                c->end = VSOK_VEC_END_RESET;
            else {
                perr(&p, "unknown end %s", tok[1]);
                goto done;
            }
            c->has_delivery = 1;
        } else if (!dec && strcmp(w, "payload_len") == 0 && nt == 2) {
            if (parse_u64(tok[1], &c->payload_len)) {
                perr(&p, "bad payload_len");
                goto done;
            }
        } else if (!dec && strcmp(w, "payload") == 0) {
            if (expand_spec(&pl, tok + 1, nt - 1) != nt - 1) {
                perr(&p, "bad payload generator");
                goto done;
            }
        } else if (!dec && strcmp(w, "payload_sha256") == 0 && nt == 2) {
            uint8_t d[32], want[32];
            if (parse_sha(tok[1], want)) {
                perr(&p, "bad payload_sha256");
                goto done;
            }
            vsok_vec_sha256(pl.p, pl.len, d);
            if (memcmp(d, want, 32)) {
                perr(&p, "case %u: expanded payload does not match its sha256", c->id);
                goto done;
            }
        } else if (!dec && strcmp(w, "header") == 0 && nt == 2) {
            if (strlen(tok[1]) != 16 || parse_hex(tok[1], c->header, 8)) {
                perr(&p, "bad header");
                goto done;
            }
        } else if (!dec && strcmp(w, "frame") == 0 && nt == 3) {
            if (parse_u64(tok[1], &c->frame_len) || parse_sha(tok[2], c->frame_sha256)) {
                perr(&p, "bad frame line");
                goto done;
            }
        } else if (strcmp(w, "end-case") == 0 && nt == 1) {
            if (case_finish(&p, c, &in, &pl, have_input, have_result))
                goto done;
            c = NULL;
        } else {
            perr(&p, "unexpected line '%s'", w);
            goto done;
        }
    }
    if (ferror(f)) {
        perr(&p, "read error");
        goto done;
    }
    if (p.line == 0) {
        perr(&p, "empty file");
        goto done;
    }
    if (c) {
        perr(&p, "file ends inside case %u", c->id);
        goto done;
    }
    qsort(s->cases, s->ncases, sizeof *s->cases, by_id);
    for (size_t i = 1; i < s->ncases; i++)
        if (s->cases[i].id == s->cases[i - 1].id) {
            perr(&p, "duplicate id %u", s->cases[i].id);
            goto done;
        }
    *out = s;
    s = NULL;
    rc = 0;
done:
    free(line);
    free(in.p);
    free(pl.p);
    fclose(f);
    vsok_vec_free(s);
    return rc;
}

void vsok_vec_free(vsok_vec_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->ncases; i++)
        case_free(&set->cases[i]);
    free(set->cases);
    free(set);
}

const vsok_vec_case *vsok_vec_find(const vsok_vec_set *set, uint32_t id)
{
    size_t lo = 0, hi = set ? set->ncases : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->cases[mid].id == id)
            return &set->cases[mid];
        if (set->cases[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int vsok_vec_has_tag(const vsok_vec_case *c, const char *tag)
{
    size_t l = strlen(tag);
    for (const char *s = c->tags; *s;) {
        const char *e = strchr(s, ' ');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == l && memcmp(s, tag, l) == 0)
            return 1;
        s += n;
        while (*s == ' ')
            s++;
    }
    return 0;
}

const char *vsok_vec_end_name(vsok_vec_end end)
{
    switch (end) {
    case VSOK_VEC_END_HALF_CLOSE: return "half-close";
    case VSOK_VEC_END_CLOSE: return "close";
    case VSOK_VEC_END_RESET: return "reset";
    }
    return "unknown";
}
