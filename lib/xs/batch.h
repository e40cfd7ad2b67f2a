/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A transaction's requests sent together: writes, permissions, removals
 * and reads go out at once inside one transaction, and once every one has
 * settled the transaction is committed, or aborted with the first failure
 * (its message kept).  Creation's skeleton (zone/create.c) and each
 * device's nodes (xenbus/) are written this way. */
#ifndef EDERA_XS_BATCH_H
#define EDERA_XS_BATCH_H

#include <stdarg.h>
#include <stdbool.h>

#include "edera/xenstore.h"
#include "internal.h"

struct ed_xs_batch {
	edera_ctx *ctx;
	edera_xs_txn *txn;
	struct ed_gather g;
	/* Called once all have settled, instead of committing at once (it
	 * calls ed_xs_batch_finish when it is done); may be NULL. */
	void (*settled)(struct ed_xs_batch *b);
};

/* Start a batch in TXN (from a transaction body); requests are held until
 * ed_xs_batch_end. */
void ed_xs_batch_start(struct ed_xs_batch *b, edera_ctx *ctx, edera_xs_txn *txn,
                       void (*settled)(struct ed_xs_batch *b));
void ed_xs_batch_write(struct ed_xs_batch *b, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ed_xs_batch_vwrite(struct ed_xs_batch *b, const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void ed_xs_batch_perms(struct ed_xs_batch *b, const char *path, const edera_xs_perm *perms,
                       size_t n);
/* (a node already gone is fine) */
void ed_xs_batch_rm(struct ed_xs_batch *b, const char *path);
/* A read whose CB may add requests to the batch; it returns the status to
 * count (0 for a failure that does not matter). */
typedef int (*ed_xs_batch_read_cb)(struct ed_xs_batch *b, int status, const char *value,
                                   size_t len);
void ed_xs_batch_read(struct ed_xs_batch *b, const char *path, ed_xs_batch_read_cb cb);
/* Every request issued: release the hold. */
void ed_xs_batch_end(struct ed_xs_batch *b);
/* Commit, or abort with the first failure. */
void ed_xs_batch_finish(struct ed_xs_batch *b);

#endif
