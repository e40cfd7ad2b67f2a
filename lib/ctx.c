/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context: hypervisor handles plus the loop everything runs on. */
#include "config.h"
#define _GNU_SOURCE /* asprintf */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"

void edera_ctx_options_init(edera_ctx_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->sz = sizeof(*opts);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void close_own_loop(edera_ctx *ctx)
{
	/* Our own loop holds only our handles; close any left, let them finish. */
	uv_walk(&ctx->own_loop, close_walk_cb, NULL);
	uv_run(&ctx->own_loop, UV_RUN_DEFAULT);
	uv_loop_close(&ctx->own_loop);
}

int edera_ctx_open(edera_ctx **out, const edera_ctx_options *opts)
{
	edera_ctx_options o;
	edera_ctx *ctx;
	int rc;

	if (!out)
		return ed_error(EDERA_EINVAL, "edera_ctx_open: out is NULL");
	*out = NULL;
	edera_ctx_options_init(&o);
	if (opts) {
		rc = ed_sized_check(opts, opts->sz, sizeof(*opts), "edera_ctx_options");
		if (rc < 0)
			return rc;
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
		o.sz = sizeof(o);
	}

	ed_trace("context opening");
	rc = ed_ctx_new(&ctx, o.loop);
	if (rc < 0)
		return rc;
	rc = ed_hv_open(&ctx->hv);
	if (rc < 0)
		goto fail;
	rc = ed_xs_connect(&ctx->xs);
	if (rc < 0)
		goto fail;

	ed_trace("context open");
	*out = ctx;
	return 0;

fail:
	edera_ctx_close(ctx);
	return rc;
}

const char *ed_cache_dir(const char *dir)
{
	const char *env = getenv("EDERA_CACHE_DIR");

	return dir ? dir : env && *env ? env : "/var/cache/edera";
}

int ed_ctx_new(edera_ctx **out, struct uv_loop_s *loop)
{
	edera_ctx *ctx;
	char *kdir;
	int rc;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return ed_error(EDERA_ENOMEM, "edera_ctx_open: out of memory");
	if (loop) {
		ctx->loop = (uv_loop_t *)loop;
	} else {
		rc = uv_loop_init(&ctx->own_loop);
		if (rc < 0) {
			free(ctx);
			return ed_error(ed_errno_code(-rc), "cannot create an event loop: %s",
			                uv_strerror(rc));
		}
		ctx->loop = &ctx->own_loop;
		ctx->owns_loop = true;
	}
	ed_xs_init(&ctx->xs, ctx, ctx->loop);
	ed_kcache_init(&ctx->kcache);
	/* decompressed kernels kept on disk for the next process (out of
	 * memory here: only without that cache) */
	if (asprintf(&kdir, "%s/kernels", ed_cache_dir(NULL)) >= 0) {
		(void)ed_kcache_set_dir(&ctx->kcache, kdir, ED_KCACHE_DISK_MAX);
		free(kdir);
	}
	*out = ctx;
	return 0;
}

static void ctx_free(edera_ctx *ctx)
{
	if (ctx->owns_loop)
		close_own_loop(ctx);
	ed_hv_close(&ctx->hv);
	ed_kcache_fini(&ctx->kcache);
	if (ctx->parts_free)
		ctx->parts_free(ctx);
	if (ctx->pool_free)
		ctx->pool_free(ctx);
	free(ctx);
	ed_trace("context closed");
}

void edera_ctx_close(edera_ctx *ctx)
{
	if (!ctx || ctx->closing)
		return;
	if (ctx->cb_depth > 0) {
		/* Its callers still use the context on return: a programmer error. */
		fprintf(stderr, "libedera: edera_ctx_close called from a libedera callback\n");
		abort();
	}
	ctx->closing = true;
	ed_trace("context closing");
	if (ctx->pool_fini)
		ctx->pool_fini(ctx);
	if (ctx->zones_fini)
		ctx->zones_fini(ctx);
	/* On our own loop, let clean-ups of zones that stopped or failed to
	 * start finish (they need XenStore).  On the caller's loop, pending
	 * ones are cut short: edera_zone_reattach finds what they left. */
	if (ctx->owns_loop)
		while ((ctx->work_pending || ctx->cleanups) && uv_run(&ctx->own_loop, UV_RUN_ONCE))
			;
	ctx->xs_gone = true;
	ed_xs_fini(&ctx->xs);
	/* Hypercalls in flight on the threadpool cannot be interrupted.  On our
	 * own loop, wait for them here; on the caller's, the context is freed
	 * when the last one completes (the caller keeps running its loop). */
	if (ctx->owns_loop)
		while (ctx->work_pending)
			uv_run(&ctx->own_loop, UV_RUN_ONCE);
	if (ctx->work_pending == 0)
		ctx_free(ctx);
}

void ed_ctx_work_done(edera_ctx *ctx)
{
	if (ctx->closing && ctx->work_pending == 0 && !ctx->owns_loop)
		ctx_free(ctx);
}

struct uv_loop_s *edera_ctx_loop(edera_ctx *ctx)
{
	return ctx ? ctx->loop : NULL;
}

int ed_ctx_check_blocking(edera_ctx *ctx, const char *what)
{
	if (!ctx)
		return ed_error(EDERA_EINVAL, "%s: ctx is NULL", what);
	if (ctx->cb_depth > 0)
		return ed_error(EDERA_EBUSY,
		                "%s called from a libedera callback: blocking calls run the loop; "
		                "use the asynchronous form there",
		                what);
	return 0;
}

int ed_ctx_wait(edera_ctx *ctx, const bool *done)
{
	while (!*done) {
		if (uv_run(ctx->loop, UV_RUN_ONCE) == 0 && !*done)
			return ed_error(EDERA_EIO, "the event loop ran out of work before the reply came");
	}
	return 0;
}

void ed_sync_finish(struct ed_sync *s, int status)
{
	s->done = true;
	s->status = status;
	if (status < 0)
		ed_error_save_code(&s->err, status);
}

int ed_sync_wait(edera_ctx *ctx, int rc, struct ed_sync *s)
{
	if (rc < 0)
		return rc;
	rc = ed_ctx_wait(ctx, &s->done);
	if (rc < 0)
		return rc;
	return s->status < 0 ? ed_error_restore(&s->err) : s->status;
}
