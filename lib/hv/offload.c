/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "offload.h"

struct ed_work {
	uv_work_t req;
	edera_ctx *ctx;
	ed_work_fn work;
	ed_after_fn after;
	void *arg;
	int status;
	struct ed_err err; /* the worker thread's error */
};

static void work_cb(uv_work_t *req)
{
	struct ed_work *w = ed_container_of(req, struct ed_work, req);

	w->status = w->work(w->arg);
	if (w->status < 0)
		ed_error_save_code(&w->err, w->status);
}

static void after_cb(uv_work_t *req, int uvstatus)
{
	struct ed_work *w = ed_container_of(req, struct ed_work, req);
	edera_ctx *ctx = w->ctx;
	int status = uvstatus == UV_ECANCELED ? EDERA_ECANCELED : w->status;

	if (uvstatus == UV_ECANCELED)
		ed_error(status, "canceled: the context was closed before the work ran");
	else if (status < 0)
		ed_error_restore(&w->err);
	ctx->work_pending--;
	ED_CALLBACK(ctx, w->after(ctx, status, w->arg));
	free(w);
	ed_ctx_work_done(ctx);
}

int ed_offload(edera_ctx *ctx, ed_work_fn work, ed_after_fn after, void *arg)
{
	struct ed_work *w;
	int rc;

	if (ctx->closing)
		return ed_error(EDERA_ECANCELED, "the context is closing");
	w = calloc(1, sizeof(*w));
	if (!w)
		return ed_error(EDERA_ENOMEM, "out of memory for threadpool work");
	w->ctx = ctx;
	w->work = work;
	w->after = after;
	w->arg = arg;
	rc = uv_queue_work(ctx->loop, &w->req, work_cb, after_cb);
	if (rc < 0) {
		free(w);
		return ed_error(EDERA_EIO, "cannot queue threadpool work: %s", uv_strerror(rc));
	}
	ctx->work_pending++;
	w->req.data = w;
	return 0;
}
