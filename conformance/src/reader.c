/* SPDX-License-Identifier: MIT */
/* reader.c - the echo check; see reader.h.  No allocation, no trust in the
 * IUT's lengths: the owed frames drive the comparison. */
#include "reader.h"

#include <stdio.h>
#include <string.h>

#define HDR 8u

static uint64_t frame_len(const vc_span *s) { return HDR + (uint64_t)s->len; }

static uint8_t frame_byte(const vc_span *s, uint64_t i)
{
    static const uint8_t magic[4] = {'V', 'S', 'O', 'K'};
    if (i < 4)
        return magic[i];
    if (i < HDR) {
        uint64_t v = (uint64_t)s->len;
        return (uint8_t)(v >> (8 * (7 - i)));
    }
    return s->data[i - HDR];
}

void vc_reader_init(vc_reader *r, const vc_span *msgs, size_t n)
{
    memset(r, 0, sizeof *r);
    r->msgs = msgs;
    r->nmsgs = msgs ? n : 0;
    for (size_t i = 0; i < r->nmsgs; i++)
        r->total += frame_len(&r->msgs[i]);
    r->state = r->total ? VC_R_PENDING : VC_R_COMPLETE;
}

static void keep(vc_reader *r, const uint8_t *p, size_t n)
{
    size_t room = VC_WINDOW - r->nwindow;
    if (n > room)
        n = room;
    memcpy(r->window + r->nwindow, p, n);
    r->nwindow += n;
}

static void differ(vc_reader *r, vc_rstate st)
{
    r->state = st;
    r->diff_offset = r->received;
    r->diff_msg = r->msg;
    r->diff_in_frame = r->in_frame;
}

vc_rstate vc_reader_feed(vc_reader *r, const uint8_t *buf, size_t len)
{
    if (!len || !buf)
        return r->state;
    r->feeds++;
    if (len > r->max_chunk)
        r->max_chunk = len;
    size_t i = 0;
    while (i < len && (r->state == VC_R_PENDING || r->state == VC_R_COMPLETE)) {
        if (r->state == VC_R_COMPLETE) {
            differ(r, VC_R_EXCESS);
            break;
        }
        const vc_span *s = &r->msgs[r->msg];
        uint64_t flen = frame_len(s);
        /* Compare the rest of this frame (or of the chunk) in one go where
         * possible: payloads are the bulk and memcmp is the fast path. */
        if (r->in_frame >= HDR) {
            uint64_t want = flen - r->in_frame;
            size_t n = (size_t)(want < len - i ? want : len - i);
            const uint8_t *owed = s->data + (r->in_frame - HDR);
            if (memcmp(owed, buf + i, n) != 0) {
                size_t k = 0;
                while (owed[k] == buf[i + k])
                    k++;
                r->received += k;
                r->in_frame += k;
                i += k;
                differ(r, VC_R_MISMATCH);
                break;
            }
            r->received += n;
            r->in_frame += n;
            i += n;
        } else {
            if (frame_byte(s, r->in_frame) != buf[i]) {
                differ(r, VC_R_MISMATCH);
                break;
            }
            r->received++;
            r->in_frame++;
            i++;
        }
        if (r->in_frame == flen) {
            r->frame_start += flen;
            r->in_frame = 0;
            r->msg++;
            if (r->msg == r->nmsgs)
                r->state = VC_R_COMPLETE;
        }
    }
    if (i < len) {
        keep(r, buf + i, len - i);
        r->received += len - i;
    }
    return r->state;
}

vc_rstate vc_reader_eof(vc_reader *r)
{
    if (r->state == VC_R_PENDING)
        differ(r, VC_R_SHORT);
    return r->state;
}

int vc_reader_settled(const vc_reader *r)
{
    return (r->state == VC_R_MISMATCH || r->state == VC_R_EXCESS) && r->nwindow == VC_WINDOW;
}

uint8_t vc_reader_owed_byte(const vc_reader *r, uint64_t off)
{
    for (size_t m = 0; m < r->nmsgs; m++) {
        uint64_t fl = frame_len(&r->msgs[m]);
        if (off < fl)
            return frame_byte(&r->msgs[m], off);
        off -= fl;
    }
    return 0;
}

const char *vc_field_name(uint64_t in_frame)
{
    return in_frame < 4 ? "magic" : in_frame < HDR ? "length field" : "payload";
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The actual header of the frame in which the difference lies, as far as it
 * is known: owed bytes before the difference (they matched), then the
 * window.  Returns how many of the 8 bytes are known. */
static size_t actual_header(const vc_reader *r, uint8_t hdr[HDR])
{
    const vc_span *s = &r->msgs[r->diff_msg];
    /* One index bounded by HDR (two cursors made gcc -O3 see an overflow). */
    for (size_t i = 0; i < HDR; i++) {
        if (i < r->diff_in_frame)
            hdr[i] = frame_byte(s, i);
        else if (i - r->diff_in_frame < r->nwindow)
            hdr[i] = r->window[i - r->diff_in_frame];
        else
            return i;
    }
    return HDR;
}

uint64_t vc_reader_explain(const vc_reader *r, char *expected, size_t elen, char *actual, size_t alen)
{
    if (elen)
        expected[0] = 0;
    if (alen)
        actual[0] = 0;
    switch (r->state) {
    case VC_R_PENDING:
    case VC_R_COMPLETE: return UINT64_MAX;
    case VC_R_EXCESS: {
        snprintf(expected, elen, "%zu echo frame%s (%llu bytes) and nothing after them", r->nmsgs,
                 r->nmsgs == 1 ? "" : "s", (unsigned long long)r->total);
        const char *what = "bytes";
        if (r->nwindow >= 4 && memcmp(r->window, "VSOK", 4) == 0)
            what = "a frame";
        if (r->nwindow >= HDR && memcmp(r->window, "VSOK", 4) == 0) {
            snprintf(actual, alen,
                     "%llu extra byte%s from offset %llu, starting with %s announcing %u "
                     "bytes: an echo of something that must not be echoed",
                     (unsigned long long)(r->received - r->diff_offset),
                     r->received - r->diff_offset == 1 ? "" : "s", (unsigned long long)r->diff_offset, what,
                     be32(r->window + 4));
        } else {
            snprintf(actual, alen, "%llu extra byte%s from offset %llu",
                     (unsigned long long)(r->received - r->diff_offset),
                     r->received - r->diff_offset == 1 ? "" : "s", (unsigned long long)r->diff_offset);
        }
        return r->diff_offset;
    }
    case VC_R_SHORT: {
        const vc_span *s = &r->msgs[r->diff_msg];
        snprintf(expected, elen,
                 "%zu echo frame%s, %llu bytes in all; echo #%zu (%zu-byte payload) "
                 "at offset %llu",
                 r->nmsgs, r->nmsgs == 1 ? "" : "s", (unsigned long long)r->total, r->diff_msg + 1, s->len,
                 (unsigned long long)r->frame_start);
        if (r->diff_in_frame == 0)
            snprintf(actual, alen, "the stream ended after %llu bytes: echoes #%zu..#%zu never arrived",
                     (unsigned long long)r->received, r->diff_msg + 1, r->nmsgs);
        else
            snprintf(actual, alen,
                     "the stream ended after %llu bytes, inside echo #%zu at its byte %llu (%s)",
                     (unsigned long long)r->received, r->diff_msg + 1, (unsigned long long)r->diff_in_frame,
                     vc_field_name(r->diff_in_frame));
        return r->diff_offset;
    }
    case VC_R_MISMATCH: break;
    }
    const vc_span *s = &r->msgs[r->diff_msg];
    uint64_t fi = r->diff_in_frame;
    uint8_t want = frame_byte(s, fi);
    uint8_t got = r->nwindow ? r->window[0] : 0;
    unsigned long long at = (unsigned long long)r->diff_offset;
    unsigned long long fs = (unsigned long long)(r->diff_offset - fi);
    if (fi < 4) {
        snprintf(expected, elen,
                 "echo #%zu (frame at offset %llu) starts with magic 56 53 4f 4b; "
                 "byte %llu = 0x%02x",
                 r->diff_msg + 1, fs, (unsigned long long)fi, want);
        snprintf(actual, alen, "0x%02x at offset %llu (magic byte %llu of echo #%zu)", got, at,
                 (unsigned long long)fi, r->diff_msg + 1);
    } else if (fi < HDR) {
        uint8_t hdr[HDR];
        size_t known = actual_header(r, hdr);
        snprintf(expected, elen,
                 "echo #%zu (frame at offset %llu) has length field %zu "
                 "(%02x %02x %02x %02x)",
                 r->diff_msg + 1, fs, s->len, frame_byte(s, 4), frame_byte(s, 5), frame_byte(s, 6),
                 frame_byte(s, 7));
        if (known == HDR)
            snprintf(actual, alen,
                     "length field %u (%02x %02x %02x %02x), first differing byte "
                     "0x%02x at offset %llu",
                     be32(hdr + 4), hdr[4], hdr[5], hdr[6], hdr[7], got, at);
        else
            snprintf(actual, alen, "0x%02x at offset %llu (byte %llu of the length field)", got, at,
                     (unsigned long long)(fi - 4));
    } else {
        snprintf(expected, elen, "echo #%zu (frame at offset %llu): payload byte %llu of %zu = 0x%02x",
                 r->diff_msg + 1, fs, (unsigned long long)(fi - HDR), s->len, want);
        snprintf(actual, alen, "0x%02x at offset %llu (payload byte %llu of echo #%zu)", got, at,
                 (unsigned long long)(fi - HDR), r->diff_msg + 1);
    }
    return r->diff_offset;
}

size_t vc_hexline(char *out, size_t len, uint64_t offset, const uint8_t *p, size_t n)
{
    size_t o = 0;
    int w = snprintf(out, len, "%08llx ", (unsigned long long)offset);
    if (w < 0)
        return 0;
    o = (size_t)w;
    for (size_t i = 0; i < n && o + 4 < len; i++)
        o += (size_t)snprintf(out + o, len - o, " %02x", p[i]);
    if (o + 4 + n < len) {
        o += (size_t)snprintf(out + o, len - o, "  |");
        for (size_t i = 0; i < n; i++)
            out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
        out[o++] = '|';
        out[o] = 0;
    }
    return o;
}

void vc_reader_hexdump(const vc_reader *r, char *out, size_t len)
{
    if (!len)
        return;
    out[0] = 0;
    if (r->state == VC_R_PENDING || r->state == VC_R_COMPLETE)
        return;
    uint64_t d = r->diff_offset;
    uint64_t start = d > 8 ? d - 8 : 0;
    size_t before = (size_t)(d - start);
    uint8_t owed[8 + VC_WINDOW], seen[8 + VC_WINDOW];
    size_t nowed = 0, nseen = 0;
    size_t cap = before + 16; /* one short line each */
    for (uint64_t o = start; o < r->total && nowed < cap; o++)
        owed[nowed++] = vc_reader_owed_byte(r, o);
    /* the bytes before the difference matched, so they are the owed ones */
    for (size_t i = 0; i < before; i++)
        seen[nseen++] = vc_reader_owed_byte(r, start + i);
    for (size_t i = 0; i < r->nwindow && nseen < cap; i++)
        seen[nseen++] = r->window[i];

    char l1[256], l2[256];
    vc_hexline(l1, sizeof l1, start, owed, nowed);
    vc_hexline(l2, sizeof l2, start, seen, nseen);
    /* caret under the first differing byte: "owed " prefix (5) + 8 hex + 1 + 3 per byte */
    char caret[160];
    size_t col = 5 + 9 + 3 * before + 1;
    if (col >= sizeof caret - 3)
        col = sizeof caret - 3;
    memset(caret, ' ', col);
    caret[col] = '^';
    caret[col + 1] = '^';
    caret[col + 2] = 0;
    if (!nowed)
        snprintf(l1, sizeof l1, "%08llx   (nothing: the stream should end here)", (unsigned long long)start);
    if (!nseen)
        snprintf(l2, sizeof l2, "%08llx   (nothing: the stream ended here)", (unsigned long long)start);
    snprintf(out, len, "owed %s\nseen %s\n%s", l1, l2, caret);
}
