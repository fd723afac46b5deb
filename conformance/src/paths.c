/* SPDX-License-Identifier: MIT */
/* paths.c - the default vector set, found relative to the running binary. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

#ifndef VC_VECTORS_TXT
#define VC_VECTORS_TXT "vectors/vectors.txt"
#endif
#ifndef VC_VECTORS_REL
#define VC_VECTORS_REL "../share/vsok/vectors/vectors.txt"
#endif

const char *vc_default_vectors(void)
{
    static char installed[PATH_MAX + sizeof VC_VECTORS_REL + 1];
    int saved = errno;
    char exe[PATH_MAX];
    /* /proc/self/exe names the binary itself, whatever argv[0] and $PATH
     * said and through any symlink to it. */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *result = VC_VECTORS_TXT;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(installed, sizeof installed, "%s/%s", exe, VC_VECTORS_REL);
        char canon[PATH_MAX];
        if (access(installed, R_OK) == 0) {
            /* /usr/share/..., not /usr/bin/../share/..., in messages. */
            if (realpath(installed, canon))
                snprintf(installed, sizeof installed, "%s", canon);
            result = installed;
        } else if (access(VC_VECTORS_TXT, R_OK) != 0) {
            result = installed;
        }
    }
    errno = saved;
    return result;
}
