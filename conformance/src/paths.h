/* SPDX-License-Identifier: MIT */
/* paths.h - where vsok-conform finds the files it ships with. */
#ifndef VC_PATHS_H
#define VC_PATHS_H

/* The default vector set: VC_VECTORS_REL (the installed share/vsok/vectors/
 * vectors.txt, relative to the directory of the running binary) when that
 * file exists, so any install prefix works; else VC_VECTORS_TXT (the source
 * tree's, for a binary run from the build tree) when that exists; else the
 * installed path, so an error names where the file should have been.
 * Returns a static string; errno is preserved. */
const char *vc_default_vectors(void);

#endif
