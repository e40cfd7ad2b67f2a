/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals shared across libedera's sources (ed_ prefix); never installed. */
#ifndef EDERA_INTERNAL_H
#define EDERA_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "edera/edera.h"

#define ED_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ed_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Record CODE and a formatted detail message as the calling thread's last
 * error; returns CODE so failures read `return ed_error(EDERA_EINVAL, ...)`. */
int ed_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ed_verror(int code, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The EDERA_E* code for errno value E (EDERA_EIO when none fits). */
int ed_errno_code(int e);

/*
 * Sized structs.  A caller's struct may be older (smaller sz) than ours:
 * ED_SIZED_HAS tells whether it has FIELD.  It may also be newer (larger):
 * ed_sized_check accepts that only if the bytes we do not know are zero.
 */
#define ED_SIZED_HAS(ptr, field) \
	((ptr)->sz >= offsetof(__typeof__(*(ptr)), field) + sizeof((ptr)->field))
int ed_sized_check(const void *ptr, size_t sz, size_t known, const char *what);

/*
 * Crash points.  The crash-consistency tests (tests/xen/die-creating,
 * linked with the library's internals) set ed_die_at to a step's name, and
 * the process is killed there with SIGKILL, as a crash at that instruction
 * would kill it.  NULL in every other program: one compare per step.
 * Steps: "parse", "build", "skeleton", "devices", "connecting".
 */
extern const char *ed_die_at;
void ed_die_point(const char *step);

#endif
