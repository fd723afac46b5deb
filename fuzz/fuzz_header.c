/* SPDX-License-Identifier: MIT */
/* fuzz_header - header decode, prefix check, encode and their round trip,
 * each checked against a few-line model of the frame format written here
 * independently of ref/src/header.c.
 *
 * Input: bytes 0..7 are a candidate header; bytes 8..15 (if present) a
 * big-endian u64 payload size for the encoder; byte 16 a decoder maximum. */
#include "fuzz_common.h"

/* The model: first wrong magic byte, or 4 when the magic is right. */
FZ_NOCOV static size_t model_bad_magic(const uint8_t *h, size_t n)
{
    static const uint8_t magic[4] = {0x56, 0x53, 0x4F, 0x4B};
    for (size_t i = 0; i < n && i < 4; i++)
        if (h[i] != magic[i])
            return i;
    return 4;
}

FZ_NOCOV static vsok_err model_decode(const uint8_t *h, uint32_t max)
{
    if (model_bad_magic(h, 8) < 4)
        return VSOK_E_MAGIC;
    uint32_t len = fz_be32(h + 4);
    if (len == 0)
        return VSOK_E_LENGTH;
    return len > max ? VSOK_E_TOO_LARGE : VSOK_OK;
}

FZ_NOCOV static void check_decode(const uint8_t *h, uint32_t max)
{
    uint32_t len = 0xDEADBEEF;
    vsok_err want = model_decode(h, max);
    vsok_err got =
        max == VSOK_MAX_PAYLOAD ? vsok_header_decode(h, &len) : vsok_header_decode_max(h, max, &len);
    FZ_CHECK(got == want);
    /* The length as sent is reported whenever the magic is right. */
    if (want != VSOK_E_MAGIC)
        FZ_CHECK(len == fz_be32(h + 4));
    else
        FZ_CHECK(len == 0xDEADBEEF);
    if (want != VSOK_OK) {
        size_t idx = vsok_header_error_index(h, want);
        FZ_CHECK(idx == (want == VSOK_E_MAGIC ? model_bad_magic(h, 8) : VSOK_LENGTH_OFFSET));
        return;
    }
    /* Round trip: re-encoding the decoded length gives the same 8 bytes. */
    uint8_t out[VSOK_HEADER_SIZE];
    FZ_CHECK(vsok_header_encode(out, len) == VSOK_OK);
    FZ_CHECK(memcmp(out, h, VSOK_HEADER_SIZE) == 0);
}

FZ_NOCOV static void check_encode(uint64_t size)
{
    uint8_t out[VSOK_HEADER_SIZE];
    memset(out, 0xA5, sizeof(out));
    vsok_err want = size == 0 ? VSOK_E_LENGTH : size > VSOK_MAX_PAYLOAD ? VSOK_E_TOO_LARGE : VSOK_OK;
    if ((uint64_t)(size_t)size != size) /* 32-bit host: a size_t cannot hold it */
        return;
    vsok_err got = vsok_header_encode(out, (size_t)size);
    FZ_CHECK(got == want);
    if (got != VSOK_OK) {
        for (size_t i = 0; i < sizeof(out); i++) /* untouched on error */
            FZ_CHECK(out[i] == 0xA5);
        return;
    }
    FZ_CHECK(memcmp(out, VSOK_MAGIC, VSOK_MAGIC_SIZE) == 0);
    FZ_CHECK(fz_be32(out + 4) == size);
    uint32_t back = 0;
    FZ_CHECK(vsok_header_decode(out, &back) == VSOK_OK && back == size);
}

/* The caller's mistakes are named, never a verdict or a crash.  in holds
 * at least a header. */
FZ_NOCOV static void check_misuse(const uint8_t *in, size_t size)
{
    uint32_t unused = 0;
    FZ_CHECK(vsok_header_encode(NULL, 1) == VSOK_E_INVAL);
    FZ_CHECK(vsok_header_check_prefix(NULL, 1 + size % 8, NULL) == VSOK_E_INVAL);
    FZ_CHECK(vsok_header_check_prefix(NULL, 0, NULL) == VSOK_OK);
    FZ_CHECK(vsok_header_decode_max(NULL, VSOK_MAX_PAYLOAD, &unused) == VSOK_E_INVAL);
    FZ_CHECK(vsok_header_error_index(NULL, VSOK_E_MAGIC) == VSOK_LENGTH_OFFSET);
    /* Out-of-range maxima are the caller's error, never a verdict. */
    FZ_CHECK(vsok_header_decode_max(in, 0, &unused) == VSOK_E_INVAL);
    FZ_CHECK(vsok_header_decode_max(in, VSOK_MAX_PAYLOAD + 1, &unused) == VSOK_E_INVAL);
    FZ_CHECK(vsok_header_decode(in, NULL) == VSOK_E_INVAL);
}

FZ_NOCOV int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One exact-size copy (see fz_chunk): inputs of 0..8 bytes make every
     * prefix length an exact buffer, so an over-read by any function below
     * is an ASan report. */
    static fz_chunkbuf inputs;
    const uint8_t *in = fz_chunk(&inputs, data, size);

    size_t n = size < VSOK_HEADER_SIZE ? size : VSOK_HEADER_SIZE;
    size_t bad = 99;
    vsok_err err = vsok_header_check_prefix(in, n, &bad);
    size_t want = model_bad_magic(in, n);
    FZ_CHECK(err == (want < 4 ? VSOK_E_MAGIC : VSOK_OK));
    FZ_CHECK(want < 4 ? bad == want : bad == 99);
    FZ_CHECK(vsok_header_check_prefix(in, n, NULL) == err); /* index optional */

    if (size >= VSOK_HEADER_SIZE) {
        check_decode(in, VSOK_MAX_PAYLOAD);
        uint32_t max = size > 16 ? ((uint32_t)in[16] << 12 | in[16]) : 1; /* 1 .. ~1 MiB */
        check_decode(in, max ? max : 1);
    }

    if (size >= 16) {
        uint64_t v = 0;
        for (int i = 8; i < 16; i++)
            v = v << 8 | in[i];
        check_encode(v);
        /* Small sizes too, so the boundaries 1 and 1 MiB are hit often. */
        check_encode(v & 0x1FFFFF);
        check_encode((uint64_t)VSOK_MAX_PAYLOAD + (v & 3) - 1);
    }
    if (size >= VSOK_HEADER_SIZE && want == 4) /* MAGIC claimed for a right magic */
        FZ_CHECK(vsok_header_error_index(in, VSOK_E_MAGIC) == VSOK_LENGTH_OFFSET);
    /* Misuse on one input length in 16 (the corpus keeps a 9-byte input,
     * and any campaign meets such lengths): its calls would otherwise be
     * most of the work. */
    if (size % 16 == 9)
        check_misuse(in, size);
    fz_chunkbuf_retire(&inputs);
    return 0;
}
