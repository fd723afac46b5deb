/* SPDX-License-Identifier: MIT */
/* fuzz_address - the address parser and formatter.
 *
 * Properties: parsing never reads past the terminating NUL; an error always
 * leaves a NUL-terminated sentence inside the caller's buffer, whatever its
 * size; an accepted address has NUL-terminated fields and a valid kind; its
 * canonical text parses back to the same address and formats to the same
 * text (a fixed point); formatting into a short buffer behaves like
 * snprintf.  Nothing is ever connected or bound.
 *
 * Input: the address text up to the first NUL byte; the byte after it (if
 * any) picks the error-buffer size, the next one the format-buffer size, so
 * plain-text seeds ("vsock:3:5000") work unchanged. */
#include "fuzz_common.h"

FZ_NOCOV static int same_addr(const vsok_addr *a, const vsok_addr *b)
{
    if (a->kind != b->kind || a->cid != b->cid || a->port != b->port || a->abstract != b->abstract ||
        a->fd != b->fd || strcmp(a->host, b->host) != 0)
        return 0;
    if (strcmp(a->path, b->path) == 0)
        return 1;
    /* The formatter spells a relative file named "@x" as "./@x" so it cannot
     * read back as an abstract name: same file, different spelling. */
    return a->kind == VSOK_ADDR_UNIX && !a->abstract && a->path[0] == '@' && strncmp(b->path, "./", 2) == 0 &&
           strcmp(b->path + 2, a->path) == 0;
}

FZ_NOCOV static void check_fields(const vsok_addr *a)
{
    FZ_CHECK(a->kind >= VSOK_ADDR_VSOCK && a->kind <= VSOK_ADDR_FC);
    FZ_CHECK(memchr(a->path, '\0', sizeof(a->path)) != NULL);
    FZ_CHECK(memchr(a->host, '\0', sizeof(a->host)) != NULL);
    FZ_CHECK(a->abstract == 0 || a->abstract == 1);
    FZ_CHECK(a->listen_hint == 0 || a->listen_hint == 1);
    if (a->kind == VSOK_ADDR_TCP)
        FZ_CHECK(a->port <= 65535 && a->host[0] != '\0');
    if (a->kind == VSOK_ADDR_UNIX || a->kind == VSOK_ADDR_FC)
        FZ_CHECK(a->path[0] != '\0');
    if (a->kind == VSOK_ADDR_FD)
        FZ_CHECK(a->fd >= 0);
}

/* Parses text held in an exact-size heap block, with an exact-size error
 * buffer of errlen bytes. */
FZ_NOCOV static vsok_err parse_exact(vsok_addr *a, const char *text, size_t errlen)
{
    size_t n = strlen(text);
    char *t = (char *)fz_dup((const uint8_t *)text, n + 1);
    char *err = errlen ? malloc(errlen) : NULL;
    if (errlen)
        memset(err, 'X', errlen);
    vsok_err e = vsok_addr_parse(a, t, err, errlen);
    FZ_CHECK(e == VSOK_OK || e == VSOK_E_ADDRESS);
    if (errlen) {
        FZ_CHECK(memchr(err, '\0', errlen) != NULL);
        if (e == VSOK_OK)
            FZ_CHECK(err[0] == '\0');
        else if (errlen > 1)
            FZ_CHECK(err[0] != '\0'); /* always a sentence, possibly cut */
    }
    free(err);
    free(t);
    return e;
}

FZ_NOCOV static char *format_alloc(const vsok_addr *a)
{
    int n = vsok_addr_format(a, NULL, 0);
    FZ_CHECK(n > 0);
    char *s = malloc((size_t)n + 1);
    FZ_CHECK(s != NULL);
    FZ_CHECK(vsok_addr_format(a, s, (size_t)n + 1) == n);
    FZ_CHECK(strlen(s) == (size_t)n);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = fz_dup(data, size);
    const uint8_t *nul = memchr(in, '\0', size);
    size_t tlen = nul ? (size_t)(nul - in) : size;
    size_t rest = size - tlen;
    static const size_t errlens[8] = {256, 0, 1, 2, 16, 40, 80, 1024};
    size_t errlen = rest > 1 ? errlens[in[tlen + 1] & 7] : 256;
    size_t fmtlen = rest > 2 ? in[tlen + 2] : 0;

    char *text = malloc(tlen + 1);
    FZ_CHECK(text != NULL);
    memcpy(text, in, tlen);
    text[tlen] = '\0';

    vsok_addr a;
    if (parse_exact(&a, text, errlen) == VSOK_OK) {
        check_fields(&a);
        char *canon = format_alloc(&a);
        vsok_addr b;
        FZ_CHECK(parse_exact(&b, canon, 256) == VSOK_OK);
        check_fields(&b);
        FZ_CHECK(same_addr(&a, &b));
        char *again = format_alloc(&b);
        FZ_CHECK(strcmp(canon, again) == 0);

        /* snprintf semantics into an exact-size short buffer. */
        size_t full = strlen(canon);
        if (fmtlen > 0) {
            char *small = malloc(fmtlen);
            FZ_CHECK(small != NULL);
            FZ_CHECK(vsok_addr_format(&a, small, fmtlen) == (int)full);
            size_t keep = full < fmtlen - 1 ? full : fmtlen - 1;
            FZ_CHECK(strlen(small) == keep && memcmp(small, canon, keep) == 0);
            free(small);
        }
        free(again);
        free(canon);
    }
    FZ_CHECK(vsok_addr_parse(NULL, text, NULL, 0) == VSOK_E_INVAL);
    free(text);
    free(in);
    return 0;
}
