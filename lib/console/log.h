/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Console logs, written off the loop (console/log.c). */
#ifndef EDERA_CONSOLE_LOG_H
#define EDERA_CONSOLE_LOG_H

#include <stdint.h>

#include "internal.h"

struct ed_log;
struct ed_logw;

/* Bytes one log may have queued for its writer (in a buffer grown as
 * needed; the writer may hold as much again); more is dropped, counted. */
#define ED_LOG_QUEUE (2 * 1024 * 1024)

struct ed_log_stats {
	uint64_t written, dropped, rotations, errors;
	uint32_t queued;
};

/* Open PATH for appending (0640 when created), rotated at MAX_BYTES when
 * it is a regular file.  The context's writer thread starts with the first
 * log.  Errors: open(2)'s, EDERA_ENOMEM, EDERA_EIO (no thread). */
int ed_log_open(edera_ctx *ctx, const char *path, uint64_t max_bytes, struct ed_log **out);
/* Queue N bytes (loop thread; never waits on the file). */
void ed_log_append(struct ed_log *l, const void *b, size_t n);
/* What is queued is still written, then the file is closed and L freed by
 * the writer; the caller lets go of L. */
void ed_log_close(struct ed_log *l);
void ed_log_stats_get(struct ed_log *l, struct ed_log_stats *st);
/* At the context's end: every queued byte written, the writer stopped. */
void ed_logw_fini(struct ed_logw *w);

#endif
