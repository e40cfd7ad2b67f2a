/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A transaction's requests sent together (see batch.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

static void batch_settled(struct ed_gather *g)
{
	struct ed_xs_batch *b = ed_container_of(g, struct ed_xs_batch, g);

	if (b->settled)
		b->settled(b);
	else
		ed_xs_batch_finish(b);
}

void ed_xs_batch_finish(struct ed_xs_batch *b)
{
	if (b->g.status < 0)
		edera_xs_txn_abort(b->txn, ed_error_restore(&b->g.err));
	else
		edera_xs_txn_commit(b->txn);
}

void ed_xs_batch_start(struct ed_xs_batch *b, edera_ctx *ctx, edera_xs_txn *txn,
                       void (*settled)(struct ed_xs_batch *b))
{
	b->ctx = ctx;
	b->txn = txn;
	b->settled = settled;
	ed_gather_start(&b->g, batch_settled);
}

void ed_xs_batch_end(struct ed_xs_batch *b)
{
	ed_gather_settle(&b->g, 0);
}

static void one_done(edera_ctx *ctx, int status, void *data)
{
	struct ed_xs_batch *b = data;

	ed_gather_settle(&b->g, status);
}

void ed_xs_batch_vwrite(struct ed_xs_batch *b, const char *path, const char *fmt, va_list ap)
{
	char v[512];

	vsnprintf(v, sizeof(v), fmt, ap);
	ed_gather_issued(&b->g, edera_xs_write(b->ctx, b->txn, path, v, strlen(v), one_done, b));
}

void ed_xs_batch_write(struct ed_xs_batch *b, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ed_xs_batch_vwrite(b, path, fmt, ap);
	va_end(ap);
}

void ed_xs_batch_perms(struct ed_xs_batch *b, const char *path, const edera_xs_perm *perms,
                       size_t n)
{
	ed_gather_issued(&b->g, edera_xs_set_perms(b->ctx, b->txn, path, perms, n, one_done, b));
}

static void rm_done(edera_ctx *ctx, int status, void *data)
{
	one_done(ctx, status == EDERA_ENOENT ? 0 : status, data);
}

void ed_xs_batch_rm(struct ed_xs_batch *b, const char *path)
{
	ed_gather_issued(&b->g, edera_xs_rm(b->ctx, b->txn, path, rm_done, b));
}

struct batch_read {
	struct ed_xs_batch *b;
	ed_xs_batch_read_cb cb;
};

static void read_done(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct batch_read r = *(struct batch_read *)data;

	free(data);
	ed_gather_settle(&r.b->g, r.cb(r.b, status, value, len));
}

void ed_xs_batch_read(struct ed_xs_batch *b, const char *path, ed_xs_batch_read_cb cb)
{
	struct batch_read *r = malloc(sizeof(*r));
	int rc;

	if (!r) {
		ed_gather_fail(&b->g, ed_error(EDERA_ENOMEM, "out of memory"));
		return;
	}
	r->b = b;
	r->cb = cb;
	rc = edera_xs_read(b->ctx, b->txn, path, read_done, r);
	if (rc < 0)
		free(r);
	ed_gather_issued(&b->g, rc);
}
