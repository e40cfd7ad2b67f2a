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

/* The thread's last error, kept across code that may overwrite it (a
 * callback run meanwhile, a clean-up's own failures, the loop run by a
 * blocking call): ed_error_save copies it, ed_error_restore makes it the
 * thread's last error again and returns its code.  The one place such
 * copies are made. */
/* DIR, or the cache directory by default: $EDERA_CACHE_DIR, or
 * /var/cache/edera (converted images, initramfs, decompressed kernels). */
const char *ed_cache_dir(const char *dir);

/* With $EDERA_TRACE set (to anything but "" or "0"), one line on stderr
 * per step of a zone's creation and a workload's start and end, with the
 * time since the first line, which gives that instant's wall-clock time
 * ("libedera: +1.234 s: ..."): where a start's time goes.  Otherwise
 * nothing, at the cost of a pthread_once. */
void ed_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct ed_err {
	int code;
	char msg[1024];
};
void ed_error_save(struct ed_err *e);
/* (as ed_error_save, with CODE for the code) */
void ed_error_save_code(struct ed_err *e, int code);
int ed_error_restore(const struct ed_err *e);

/*
 * Several requests out at once, waited for together, the first failure
 * kept with its message.  ed_gather_start holds it while the requests go
 * out; each issued one is counted with ed_gather_issued (RC 0: it was
 * sent and will call back; RC < 0: it could not be sent, noted as a
 * failure); each completion, and finally
 * the hold, calls ed_gather_settle, which returns true for the last one.
 * DONE, when set, is called then instead (for gathers shared between
 * files).  The status is g->status and the message ed_error_restore(&g->err).
 */
struct ed_gather {
	int pending;
	int status;
	struct ed_err err;
	void (*done)(struct ed_gather *g);
};
void ed_gather_start(struct ed_gather *g, void (*done)(struct ed_gather *g));
void ed_gather_issued(struct ed_gather *g, int rc);
/* A failure before any request (RC < 0) noted as if a request had failed;
 * nothing for RC >= 0. */
void ed_gather_fail(struct ed_gather *g, int rc);
bool ed_gather_settle(struct ed_gather *g, int status);

/* A copy of S (NULL for NULL); a copy that fails sets *OOM. */
char *ed_strdup_opt(const char *s, bool *oom);

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
