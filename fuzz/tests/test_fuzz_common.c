/* SPDX-License-Identifier: MIT */
/* test_fuzz_common.c - the exact-size copies every fuzz target relies on:
 * under ASan, the byte before and the byte after each copy are poisoned and
 * the copy itself is not, for every length, after growth and reuse; a
 * retired buffer is poisoned whole.  Without ASan only the contents are
 * checked (the poisoning compiles to nothing). */
#include <criterion/criterion.h>

#include "../fuzz_common.h"

/* The targets' entry point, which fuzz_common.h declares. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    return (int)size;
}

#ifdef FZ_ASAN
static int poisoned(const volatile void *p) { return __asan_address_is_poisoned(p); }
#endif

static void check_copy(const uint8_t *p, const uint8_t *src, size_t n)
{
    cr_assert(n == 0 || memcmp(p, src, n) == 0, "copy of %zu bytes differs", n);
#ifdef FZ_ASAN
    cr_assert(__asan_region_is_poisoned((void *)p, n) == NULL, "part of a %zu-byte copy is poisoned", n);
    cr_assert(poisoned(p + n), "the byte after a %zu-byte copy is addressable", n);
    cr_assert(poisoned(p - 1), "the byte before a %zu-byte copy is addressable", n);
#endif
}

Test(fuzz_common, chunk_copies_are_exact_at_both_ends_for_every_length)
{
    fz_chunkbuf b = {{NULL}, {0}};
    uint8_t src[300];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7 + 1);
    /* Up, down and up again: blocks grow, then serve shorter copies. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t n = 0; n <= sizeof(src); n++)
            check_copy(fz_chunk(&b, src, n), src, n);
        for (size_t n = sizeof(src); n-- > 0;)
            check_copy(fz_chunk(&b, src, n), src, n);
    }
    fz_chunkbuf_free(&b);
}

Test(fuzz_common, retired_buffer_is_poisoned_whole)
{
    fz_chunkbuf b = {{NULL}, {0}};
    uint8_t src[32] = {1, 2, 3};
    const uint8_t *p = fz_chunk(&b, src, sizeof(src));
    check_copy(p, src, sizeof(src));
    fz_chunkbuf_retire(&b);
#ifdef FZ_ASAN
    for (size_t i = 0; i < sizeof(src); i++)
        cr_assert(poisoned(p + i), "byte %zu of a retired copy is addressable", i);
#endif
    /* Reuse after retirement gives an exact copy again. */
    check_copy(fz_chunk(&b, src, 5), src, 5);
    fz_chunkbuf_free(&b);
}
