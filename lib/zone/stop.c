/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The end of a zone's life:
 *   clean-up   shared by failed creations, exits and destroy: the domain
 *              destroyed on the threadpool, then its XenStore nodes
 *   shutdown   a request the guest may honour (a timer bounds the wait)
 *   exits      found through @releaseDomain, which xenstored fires when a
 *              domain shuts down or goes away: its console drained, its
 *              devices and shares let go, the domain destroyed, then the
 *              exit event (and the shutdown request it answers)
 *   destroy    what the caller asks for: no exit event
 * A zone handle outlives all of them until edera_zone_destroy frees it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctx.h"
#include "hv/offload.h"
#include "part.h"
#include "zone.h"

struct shutdown_op {
	uv_timer_t timer;
	edera_zone *zone;
	edera_zone_done_cb cb;
	void *data;
};

/* ---- cleanup shared by failures, exits and destroy ---------------------------- */

/* XenStore side: forget the domain and remove its nodes, asynchronously;
 * DONE (may be NULL) runs once all requests settled, with the first failure
 * other than a node already gone (a release xenstored refuses is fine: it
 * may never have known the domain).  Only once the domain is dying:
 * xenstored's own @releaseDomain for the dying domain is what tells
 * xenconsoled to let go of the console ring, and xenstored sends it only
 * for domains it still knows.  Counted in ctx->cleanups, so closing the
 * context on its own loop waits for it. */
struct nodes_op {
	edera_ctx *ctx;
	struct ed_gather g;
	edera_xs_done_cb done;
	void *data;
};

static void nodes_all_settled(struct ed_gather *g)
{
	struct nodes_op *op = ed_container_of(g, struct nodes_op, g);
	edera_ctx *ctx = op->ctx;

	ctx->cleanups--;
	if (op->done) {
		if (g->status < 0)
			ed_error_restore(&g->err);
		op->done(ctx, g->status, op->data);
	}
	free(op);
}

static void nodes_settled(edera_ctx *ctx, int status, void *data)
{
	struct nodes_op *op = data;

	ed_gather_settle(&op->g, status == EDERA_ENOENT ? 0 : status);
}

static void nodes_released(edera_ctx *ctx, int status, void *data)
{
	nodes_settled(ctx, 0, data);
}

static void nodes_rm(edera_ctx *ctx, struct nodes_op *op, const char *path)
{
	ed_gather_issued(&op->g, edera_xs_rm(ctx, NULL, path, nodes_settled, op));
}

void ed_zone_remove_nodes(edera_ctx *ctx, uint32_t domid, const char *uuid, bool introduced,
                         edera_xs_done_cb done, void *data)
{
	struct nodes_op *op;
	char path[64];

	if (ctx->xs_gone) {
		if (done)
			done(ctx, 0, data);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		/* the marker stays: edera_zone_reattach will find it */
		if (done)
			done(ctx, ed_error(EDERA_ENOMEM, "out of memory"), data);
		return;
	}
	op->ctx = ctx;
	op->done = done;
	op->data = data;
	ed_gather_start(&op->g, nodes_all_settled);
	ctx->cleanups++;
	if (introduced && edera_xs_release(ctx, domid, nodes_released, op) == 0)
		ed_gather_issued(&op->g, 0);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	nodes_rm(ctx, op, path);
	snprintf(path, sizeof(path), "/vm/%s", uuid);
	nodes_rm(ctx, op, path);
	/* dom0's side of its devices (blkback and netback let go of them) */
	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u", domid);
	nodes_rm(ctx, op, path);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", domid);
	nodes_rm(ctx, op, path);
	nodes_settled(ctx, 0, op);
}

struct destroy_work {
	struct ed_hv *hv;
	uint32_t domid;
	char uuid[37];
	bool introduced;
	bool intent; /* a failed creation: its record goes last */
	bool domain_gone; /* (edera_zone_destroy) the hypercall succeeded */
};

static int destroy_work(void *arg)
{
	struct destroy_work *w = arg;

	/* Destroying returns once the domain is dying; its memory is released
	 * as Xen scrubs it. */
	ed_trace("domain %u: destroying", w->domid);
	if (xc_domain_destroy(w->hv->xch, w->domid) < 0 && errno != ESRCH)
		return ed_error(ed_errno_code(errno), "destroying domain %u: %s", w->domid,
		                strerror(errno));
	ed_trace("domain %u: destroyed", w->domid);
	return 0;
}

static void destroy_after_cleanup(edera_ctx *ctx, int status, void *arg)
{
	struct destroy_work *w = arg;

	if (status < 0) {
		/* the domain may still be there (or the work never ran: the
		 * context closed): its nodes (its marker) and record stay, for
		 * edera_zone_reattach to find it by */
		if (w->intent)
			ed_zone_intent_forget(w->uuid);
		free(w);
		ctx->cleanups--;
		return;
	}
	if (w->intent)
		ed_zone_undone_rm(ctx, w->domid, w->uuid, w->introduced);
	else
		ed_zone_remove_nodes(ctx, w->domid, w->uuid, w->introduced, NULL, NULL);
	free(w);
	ctx->cleanups--;
}

/* Destroy in the background, then clean XenStore up (failure and exit
 * paths; the zone handle may be gone by then).  INTENT: the zone's
 * creation failed, and its record goes once the rest is gone. */
void ed_zone_destroy_domain_async(edera_ctx *ctx, const edera_zone *z, bool introduced,
                                 bool intent)
{
	struct destroy_work *w = calloc(1, sizeof(*w));

	if (w) {
		w->hv = &ctx->hv;
		w->domid = z->domid;
		w->introduced = introduced;
		w->intent = intent;
		memcpy(w->uuid, z->uuid_str, sizeof(w->uuid));
		if (ed_offload(ctx, destroy_work, destroy_after_cleanup, w) == 0) {
			ctx->cleanups++;
			return;
		}
		free(w);
	}
	xc_domain_destroy(ctx->hv.xch, z->domid);
	if (intent)
		ed_zone_undone_rm(ctx, z->domid, z->uuid_str, introduced);
	else
		ed_zone_remove_nodes(ctx, z->domid, z->uuid_str, introduced, NULL, NULL);
}

/* ---- shutdown requests -------------------------------------------------------- */

static void shutdown_close_cb(uv_handle_t *h)
{
	free(ed_container_of((uv_timer_t *)h, struct shutdown_op, timer));
}

/* End the zone's pending shutdown request with STATUS. */
void ed_zone_shutdown_finish(edera_zone *z, int status)
{
	struct shutdown_op *op = z->shutdown;

	if (!op)
		return;
	z->shutdown = NULL;
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, shutdown_close_cb);
	if (op->cb)
		ED_CALLBACK(z->ctx, op->cb(z->ctx, status, z, op->data));
}

static void shutdown_timeout(uv_timer_t *t)
{
	struct shutdown_op *op = ed_container_of(t, struct shutdown_op, timer);
	edera_zone *z = op->zone;

	ed_error(EDERA_ETIMEDOUT, "zone '%s' did not stop in time (it may ignore shutdown "
	         "requests: destroy it)", z->name);
	ed_zone_shutdown_finish(z, EDERA_ETIMEDOUT);
}

static void shutdown_written(edera_ctx *ctx, int status, void *data)
{
	edera_zone *z = data;

	/* The zone may have been destroyed meanwhile (its handle is held
	 * until here): only a live request ends. */
	if (z->state != ED_ZS_FREED && z->shutdown && status < 0)
		ed_zone_shutdown_finish(z, status);
	ed_zone_unref(z);
}

int edera_zone_shutdown(edera_zone *z, int reboot, unsigned int timeout_ms,
                        edera_zone_done_cb cb, void *data)
{
	struct shutdown_op *op;
	char path[64];
	const char *what = reboot ? "reboot" : "poweroff";
	int rc;

	if (!z || !ed_zone_running(z))
		return ed_error(EDERA_EINVAL, "edera_zone_shutdown: no running zone");
	if (z->shutdown)
		return ed_error(EDERA_EBUSY, "zone '%s' already has a shutdown request pending",
		                z->name);
	op = calloc(1, sizeof(*op));
	if (!op)
		return ed_error(EDERA_ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", z->domid);
	rc = edera_xs_write(z->ctx, NULL, path, what, strlen(what), shutdown_written, z);
	if (rc < 0) {
		free(op);
		return rc;
	}
	ed_zone_ref(z);
	op->zone = z;
	op->cb = cb;
	op->data = data;
	uv_timer_init(z->ctx->loop, &op->timer);
	if (timeout_ms)
		uv_timer_start(&op->timer, shutdown_timeout, timeout_ms, 0);
	z->shutdown = op;
	return 0;
}

static void sync_shutdown_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ed_sync_finish(data, status);
}

int edera_zone_shutdown_sync(edera_zone *z, int reboot, unsigned int timeout_ms)
{
	struct ed_sync s = { 0 };
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_shutdown_sync: zone is NULL");
	rc = ed_ctx_check_blocking(z->ctx, "edera_zone_shutdown_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(z->ctx, edera_zone_shutdown(z, reboot, timeout_ms, sync_shutdown_cb, &s),
	                    &s);
}

/* ---- exits ------------------------------------------------------------------- */

int ed_zone_exit_reason(edera_ctx *ctx, const edera_zone *z)
{
	xc_dominfo_t info;
	int n = xc_domain_getinfo(ctx->hv.xch, z->domid, 1, &info);

	/* A failed query says nothing (the next @releaseDomain asks again);
	 * no domain at or after its id, or the next one, means it is gone. */
	if (n < 0)
		return -1;
	if (n != 1 || info.domid != z->domid)
		return EDERA_ZONE_EXIT_DESTROYED;
	if (info.shutdown)
		return info.shutdown_reason <= 4 ? (int)info.shutdown_reason : EDERA_ZONE_EXIT_CRASH;
	if (info.crashed)
		return EDERA_ZONE_EXIT_CRASH;
	if (info.dying)
		return EDERA_ZONE_EXIT_DESTROYED;
	return -1; /* still running */
}

static void on_release(edera_ctx *ctx, int status, const char *path, void *data)
{
	/* Look for one zone that stopped, handle it, and look again: the exit
	 * callback may destroy zones or create new ones. */
	for (;;) {
		edera_zone *z = NULL;
		int reason = -1;

		ED_ZONES_EACH(it, ctx) {
			if (!ed_zone_running(it))
				continue;
			reason = ed_zone_exit_reason(ctx, it);
			if (reason >= 0) {
				z = it;
				break;
			}
		}
		if (!z)
			return;
		z->state = ED_ZS_STOPPED;
		ed_trace("zone '%s': stopped (exit reason %d)", z->name, reason);
		/* Its parts let go: its last output reaches the subscribers
		 * before the exit event, the ring is unmapped before the domain
		 * is destroyed; its devices' backends go, with their loop
		 * devices; what the caller shared or mapped with it goes. */
		ED_PARTS_CALL(stopped, z, true);
		if (reason != EDERA_ZONE_EXIT_DESTROYED)
			ed_zone_destroy_domain_async(ctx, z, true, false);
		else
			ed_zone_remove_nodes(ctx, z->domid, z->uuid_str, true, NULL, NULL);
		/* The exit event first, then the shutdown request it answers;
		 * either callback may destroy the zone. */
		ed_zone_ref(z);
		if (z->exit_cb) {
			ED_CALLBACK(ctx, z->exit_cb(ctx, z, reason, z->exit_data));
		} else {
			z->exit_undelivered = true;
			z->exit_reason = reason;
		}
		if (z->state != ED_ZS_FREED) {
			ed_zone_shutdown_finish(z, 0);
			/* pending requests end after the exit event (a
			 * destroy from their callbacks then fires none) */
			if (z->state != ED_ZS_FREED)
				ED_PARTS_CALL(ended, z);
		}
		ed_zone_unref(z);
	}
}

static void recheck_closed(uv_handle_t *h)
{
	free(h);
}

static void zones_fini(edera_ctx *ctx)
{
	if (ctx->exit_recheck) {
		uv_close((uv_handle_t *)ctx->exit_recheck, recheck_closed);
		ctx->exit_recheck = NULL;
	}
	ed_zones_fini(ctx);
	/* then what the parts keep per context (consoles waiting for a
	 * later turn, bound event channels) */
	ED_PARTS_CALL(ctx_close, ctx);
}

static void parts_ctx_free(edera_ctx *ctx)
{
	ED_PARTS_CALL(ctx_free, ctx);
}

static void recheck_fired(uv_timer_t *t)
{
	edera_ctx *ctx = t->data;

	/* exits that came before their callback was set; a callback may
	 * change the list: look again after each */
	for (;;) {
		edera_zone *z = NULL;

		ED_ZONES_EACH(it, ctx)
			if (it->exit_undelivered && it->exit_cb) {
				z = it;
				break;
			}
		if (!z)
			break;
		z->exit_undelivered = false;
		ED_CALLBACK(ctx, z->exit_cb(ctx, z, z->exit_reason, z->exit_data));
	}
	on_release(ctx, 0, NULL, NULL);
}

/* Look for stopped zones on the next loop turn, as if @releaseDomain had
 * fired: a caller that had a zone's creation complete sets its exit
 * callback on return, and hears of the exit then (as it would of any). */
void ed_zone_recheck_exits_soon(edera_ctx *ctx)
{
	if (!ctx->exit_recheck) {
		ctx->exit_recheck = malloc(sizeof(*ctx->exit_recheck));
		if (!ctx->exit_recheck)
			return; /* the next @releaseDomain event finds it */
		uv_timer_init(ctx->loop, ctx->exit_recheck);
		ctx->exit_recheck->data = ctx;
	}
	uv_timer_start(ctx->exit_recheck, recheck_fired, 0, 0);
}

int ed_zone_watch_releases(edera_ctx *ctx)
{
	ctx->zones_fini = zones_fini;
	ctx->parts_free = parts_ctx_free;
	if (ctx->release_watch)
		return 0;
	return edera_xs_watch_add(ctx, &ctx->release_watch, "@releaseDomain", on_release, NULL);
}

/* ---- destroy ------------------------------------------------------------- */

struct destroy_op {
	struct destroy_work w; /* what the threadpool sees */
	edera_zone *zone;
	edera_zone_done_cb cb;
	void *data;
};

static void destroy_finish(edera_ctx *ctx, struct destroy_op *op, int status)
{
	edera_zone *z = op->zone;

	/* The domain is still there when the hypercall failed: the zone
	 * stays, running (closing: stopped, and freed below).  When only its
	 * nodes could not be removed, the domain is gone: the zone stays,
	 * stopped (no exit event later; destroying it again frees it, and
	 * edera_zone_reattach removes the nodes). */
	z->state = status < 0 && !op->w.domain_gone && !ctx->closing ? ED_ZS_RUNNING
	                                                                : ED_ZS_STOPPED;
	ed_trace("zone '%s': destroyed", z->name);
	if (op->cb)
		ED_CALLBACK(ctx, op->cb(ctx, status, z, op->data));
	if (status == 0 || ctx->closing)
		ed_zone_free(z);
	free(op);
}

static void destroy_nodes_removed(edera_ctx *ctx, int status, void *data)
{
	destroy_finish(ctx, data, status);
}

static void destroyed(edera_ctx *ctx, int status, void *arg)
{
	struct destroy_op *op = ed_container_of((struct destroy_work *)arg, struct destroy_op, w);

	if (status == 0) {
		op->w.domain_gone = true;
		ED_PARTS_CALL(stopped, op->zone, false);
		ED_PARTS_CALL(ended, op->zone);
	}
	if (status < 0 || ctx->xs_gone || !op->w.introduced) {
		destroy_finish(ctx, op, status);
		return;
	}
	/* Only now that the domain is dying (see ed_zone_remove_nodes). */
	ed_zone_remove_nodes(ctx, op->zone->domid, op->zone->uuid_str, true, destroy_nodes_removed, op);
}

static int nothing_to_do(void *arg)
{
	return 0;
}

int edera_zone_destroy(edera_zone *z, edera_zone_done_cb cb, void *data)
{
	struct destroy_op *op;
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_destroy: zone is NULL");
	if (z->state == ED_ZS_CREATING)
		return ed_error(EDERA_EBUSY, "zone '%s' is still being created", z->name);
	if (z->state == ED_ZS_DESTROYING)
		return ed_error(EDERA_EBUSY, "zone '%s' is already being destroyed", z->name);
	op = calloc(1, sizeof(*op));
	if (!op)
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->zone = z;
	op->cb = cb;
	op->data = data;
	op->w.hv = &z->ctx->hv;
	op->w.domid = z->domid;
	/* A zone whose exit was handled is already gone, with its nodes; its
	 * domid may even belong to a new domain by now: touch nothing. */
	op->w.introduced = !ed_zone_stopped(z);
	rc = ed_offload(z->ctx, ed_zone_stopped(z) ? nothing_to_do : destroy_work, destroyed, &op->w);
	if (rc < 0) {
		free(op);
		return rc;
	}
	z->state = ED_ZS_DESTROYING; /* no exit event for a destroy we asked for */
	return 0;
}

static void sync_destroyed(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ed_sync_finish(data, status);
}

int edera_zone_destroy_sync(edera_zone *z)
{
	struct ed_sync s = { 0 };
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_destroy_sync: zone is NULL");
	rc = ed_ctx_check_blocking(z->ctx, "edera_zone_destroy_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(z->ctx, edera_zone_destroy(z, sync_destroyed, &s), &s);
}
