/* SPDX-License-Identifier: MIT */
/* vsok/export.h - VSOK_API, the mark of the public API.
 *
 * libvsok.so is built with hidden default visibility (-fvisibility=hidden):
 * only declarations marked VSOK_API are exported, so the library's internal
 * vsok__* helpers stay private to it and can change without breaking the ABI.
 * Every function and object declared in include/vsok/ carries VSOK_API; the
 * test packaging/tests/exported_symbols.py checks the two agree.  The static library
 * is built the same way; the mark changes nothing for a program linking it.
 */
#ifndef VSOK_EXPORT_H
#define VSOK_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define VSOK_API __attribute__((visibility("default")))
#else
#define VSOK_API
#endif

#endif
