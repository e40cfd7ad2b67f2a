/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenBus device engine's way down (see engine.c for the way up).  A
 * device leaves through these phases, each one's work in the section named
 * after it:
 *   CLOSING    a detach: the backend told Closing, the guest given the
 *              detach timeout to let go
 *   REMOVING   both ends' nodes (and a backend's error node) being removed,
 *              then their directories if that left them empty
 *   RELEASING  the kind lets go of the host side; waiting for it to go
 *   DONE       the caller told; freed once no request points here
 * ed_xb_teardown is the one way in, from any phase before REMOVING: a
 * failed attach, a detach, the deadline, the zone going away.  The zone
 * hooks (ed_xb_zone_gone/forget/free) are at the end. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xenbus/engine.h"

#define ED_XB_GONE_POLLS 250 /* 5 s for the host side to disappear */

/* ---- lifetime ----------------------------------------------------------------------------- */

/* Take D off its zone's list. */
static void unlink_device(edera_device *d)
{
	if (!d->zone)
		return;
	ed_list_remove(ed_zone_devices(d->zone), &d->link);
	d->zone = NULL;
}

static void unwatch(edera_device *d)
{
	edera_xs_watch_remove(d->fe_watch);
	edera_xs_watch_remove(d->be_watch);
	d->fe_watch = d->be_watch = NULL;
}

static void timer_closed(uv_handle_t *h)
{
	edera_device *d = h->data;

	if (++d->timers_closed == 2 && !d->keep)
		free(d);
}

void ed_xb_maybe_free(edera_device *d)
{
	if (d->phase != ED_XB_DONE || d->refs > 0 || d->released)
		return;
	d->released = true;
	unwatch(d);
	if (d->kind->free)
		d->kind->free(d);
	/* the memory goes when libuv is done with both timers; a dead
	 * handle the caller may hold stays until its zone's goes */
	d->deadline.data = d;
	d->poll.data = d;
	uv_close((uv_handle_t *)&d->deadline, timer_closed);
	uv_close((uv_handle_t *)&d->poll, timer_closed);
}

static void release(edera_device *d);

bool ed_xb_settled(edera_device *d)
{
	d->refs--;
	if (d->phase == ED_XB_DONE) {
		ed_xb_maybe_free(d);
		return true;
	}
	if (d->phase == ED_XB_REMOVING) {
		/* the last request out: the nodes are gone */
		if (d->refs == 0)
			release(d);
		return true;
	}
	return false;
}

void ed_xb_error_path(const edera_device *d, char *buf, size_t cap)
{
	snprintf(buf, cap, "/local/domain/0/error/backend/%s/%u/%u/error", d->kind->name, d->domid,
	         d->id);
}

/* ---- CLOSING ------------------------------------------------------------------------------ */

static void closing_written(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (ed_xb_settled(d))
		return;
	if (status < 0 && d->phase == ED_XB_CLOSING)
		ed_xb_teardown(d, 0, false);
}

static void close_deadline(uv_timer_t *t)
{
	edera_device *d = ed_container_of(t, edera_device, deadline);

	/* The guest did not answer: take the device away regardless. */
	ed_xb_teardown(d, 0, false);
}

/* False if the backend could not be told: then straight to REMOVING. */
static bool start_closing(edera_device *d)
{
	char p[160];

	ed_xb_set_phase(d, ED_XB_CLOSING);
	uv_timer_stop(&d->deadline);
	snprintf(p, sizeof(p), "%s/online", d->be);
	if (edera_xs_write(d->ctx, NULL, p, "0", 1, closing_written, d) == 0)
		d->refs++;
	snprintf(p, sizeof(p), "%s/state", d->be);
	if (edera_xs_write(d->ctx, NULL, p, "5", 1, closing_written, d) < 0)
		return false;
	d->refs++;
	uv_timer_start(&d->deadline, close_deadline,
	               d->detach_timeout_ms ? d->detach_timeout_ms : 10000, 0);
	return true;
}

void ed_xb_step_closing(edera_device *d)
{
	if (d->be_state == XB_CLOSED || d->be_state == XB_UNKNOWN || d->fe_state == XB_CLOSED ||
	    d->fe_state == XB_UNKNOWN)
		ed_xb_teardown(d, 0, false);
}

/* ---- REMOVING ----------------------------------------------------------------------------- */

/* After a device's directory went: its parent (.../vbd/DOMID, device/vbd)
 * too, if no other device is left in it.  Listing and removing in one
 * transaction, so a device attached meanwhile makes it retry, not vanish. */
struct parent_rm {
	edera_device *d;
	char path[96];
	edera_xs_txn *txn;
};

static void parent_removed(edera_ctx *ctx, int status, void *data)
{
	struct parent_rm *r = data;

	if (status < 0)
		edera_xs_txn_abort(r->txn, status);
	else
		edera_xs_txn_commit(r->txn);
}

static void parent_listed(edera_ctx *ctx, int status, const char *const *names, size_t n,
                          void *data)
{
	struct parent_rm *r = data;

	if (status == 0 && n == 0 && edera_xs_rm(ctx, r->txn, r->path, parent_removed, r) == 0)
		return;
	/* not empty (or gone): nothing to do */
	edera_xs_txn_abort(r->txn, status < 0 ? status : EDERA_ECANCELED);
}

static void parent_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct parent_rm *r = data;

	r->txn = txn;
	if (edera_xs_directory(ctx, txn, r->path, parent_listed, r) < 0)
		edera_xs_txn_abort(txn, EDERA_EIO);
}

static void parent_done(edera_ctx *ctx, int status, void *data)
{
	struct parent_rm *r = data;
	edera_device *d = r->d;

	free(r);
	ed_xb_settled(d);
}

static void rm_parent_if_empty(edera_device *d, const char *child)
{
	struct parent_rm *r = calloc(1, sizeof(*r));
	char *slash;

	if (!r)
		return;
	r->d = d;
	snprintf(r->path, sizeof(r->path), "%s", child);
	slash = strrchr(r->path, '/');
	if (!slash) {
		free(r);
		return;
	}
	*slash = '\0';
	if (ed_xs_transaction_serial(d->ctx, parent_body, parent_done, r) == 0)
		d->refs++;
	else
		free(r);
}

static void fe_removed(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (status == 0)
		rm_parent_if_empty(d, d->fe);
	ed_xb_settled(d);
}

static void be_removed(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (status == 0)
		rm_parent_if_empty(d, d->be);
	ed_xb_settled(d);
}

static void error_removed(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;
	char p[160];

	if (status == 0) {
		ed_xb_error_path(d, p, sizeof(p));
		*strrchr(p, '/') = '\0';
		rm_parent_if_empty(d, p);
	}
	ed_xb_settled(d);
}

static void start_removing(edera_device *d)
{
	char p[160];

	ed_xb_set_phase(d, ED_XB_REMOVING);
	d->muted = true;
	uv_timer_stop(&d->deadline);
	unwatch(d);
	if (!d->ctx->xs_gone) {
		/* a zone gone took its domain's nodes with it, unless they were
		 * written after (d->cancel) */
		if ((!d->zone_gone || d->cancel) &&
		    edera_xs_rm(d->ctx, NULL, d->fe, fe_removed, d) == 0)
			d->refs++;
		if (edera_xs_rm(d->ctx, NULL, d->be, be_removed, d) == 0)
			d->refs++;
		/* the error node a backend may have left, with its directory */
		ed_xb_error_path(d, p, sizeof(p));
		*strrchr(p, '/') = '\0';
		if (edera_xs_rm(d->ctx, NULL, p, error_removed, d) == 0)
			d->refs++;
	}
	if (d->refs == 0)
		release(d);
}

void ed_xb_teardown(edera_device *d, int status, bool close_first)
{
	if (d->phase >= ED_XB_REMOVING)
		return;
	if (status < 0 && d->status == 0) {
		d->status = status;
		snprintf(d->msg, sizeof(d->msg), "%s", edera_last_error());
	}
	uv_timer_stop(&d->poll);
	if (!d->counted) {
		/* the context waits for it (own loop), or outlives it */
		d->ctx->cleanups++;
		d->ctx->work_pending++;
		d->counted = true;
	}
	if (d->phase == ED_XB_WRITING) {
		/* its transaction is still out: go on when it has ended
		 * (nodes_written), or nodes could appear after the removal */
		d->cancel = true;
		uv_timer_stop(&d->deadline);
		return;
	}
	if (close_first && !d->zone_gone && d->phase != ED_XB_CLOSING && !d->ctx->xs_gone &&
	    start_closing(d))
		return;
	start_removing(d);
}

/* ---- RELEASING and DONE ------------------------------------------------------------------- */

static void finish(edera_device *d)
{
	edera_ctx *ctx = d->ctx;
	edera_device_cb acb = d->attach_cb;
	edera_device_done_cb dcb = d->detach_cb;

	uv_timer_stop(&d->deadline);
	uv_timer_stop(&d->poll);
	unlink_device(d);
	d->attach_cb = NULL;
	d->detach_cb = NULL;
	if (acb) {
		/* an attach that failed: its message, not a later one */
		int status = d->status < 0 ? d->status : EDERA_ECANCELED;

		ed_error(status, "%s", d->status < 0 ? d->msg : "the zone stopped while attaching");
		ED_CALLBACK(ctx, acb(ctx, status, NULL, d->attach_data));
	}
	if (dcb) {
		if (d->status < 0)
			ed_error(d->status, "%s", d->msg);
		ED_CALLBACK(ctx, dcb(ctx, d->status, d->detach_data));
	}
	ed_xb_set_phase(d, ED_XB_DONE);
	if (d->counted) {
		/* last: a context closed meanwhile on its caller's loop is
		 * freed here once nothing else runs */
		d->counted = false;
		ctx->cleanups--;
		ctx->work_pending--;
		ed_xb_maybe_free(d);
		ed_ctx_work_done(ctx);
		return;
	}
	ed_xb_maybe_free(d);
}

static void gone_poll(uv_timer_t *t)
{
	edera_device *d = ed_container_of(t, edera_device, poll);

	/* Dom0's backend lets go of the host side as it sees its nodes go. */
	if (d->kind->gone && !d->kind->gone(d) && ++d->polls < ED_XB_GONE_POLLS) {
		uv_timer_start(&d->poll, gone_poll, ED_XB_POLL_MS, 0);
		return;
	}
	finish(d);
}

static void release(edera_device *d)
{
	ed_xb_set_phase(d, ED_XB_RELEASING);
	if (d->kind->release)
		d->kind->release(d);
	d->polls = 0;
	uv_timer_start(&d->poll, gone_poll, 1, 0);
}

/* ---- the zone going away ------------------------------------------------------------------ */

void ed_xb_zone_gone(edera_zone *zone, const void *quiet)
{
	struct ed_list *list = ed_zone_devices(zone);

	while (!ed_list_empty(list)) {
		edera_device *d = ed_list_first(list, edera_device, link);

		unlink_device(d);
		d->zone_gone = true;
		if (quiet && d->attach_data == quiet)
			d->attach_cb = NULL;
		if (d->phase == ED_XB_CONNECTED) {
			/* attached: the caller may hold it (an attach's result,
			 * or found with edera_device_next) */
			d->keep = true;
			ed_list_push_front(ed_zone_dead_devices(zone), &d->dead_link);
		}
		if (d->phase < ED_XB_CONNECTED) {
			ed_error(EDERA_ECANCELED,
			         "zone '%s' stopped while its %s device %u was being attached",
			         d->zone_name, d->kind->name, d->id);
			ed_xb_teardown(d, EDERA_ECANCELED, false);
		} else {
			ed_xb_teardown(d, 0, false);
		}
	}
}

void ed_xb_zone_forget(edera_zone *zone)
{
	struct ed_list *list = ed_zone_devices(zone);

	while (!ed_list_empty(list)) {
		edera_device *d = ed_list_first(list, edera_device, link);

		unlink_device(d);
		if (d->phase < ED_XB_CONNECTED) {
			/* an attach in flight: cancelled, its callback told */
			ed_error(EDERA_ECANCELED, "zone '%s': %s device %u: the context was closed",
			         d->zone_name, d->kind->name, d->id);
			ed_xb_teardown(d, EDERA_ECANCELED, false);
		} else if (d->phase == ED_XB_CONNECTED) {
			/* attached to a zone that keeps running: only the handle
			 * goes (blkback keeps its own reference to the loop
			 * device; netback keeps the interface) */
			if (d->kind->release)
				d->kind->release(d);
			d->muted = true;
			ed_xb_set_phase(d, ED_XB_DONE);
			ed_xb_maybe_free(d);
		}
		/* a detach in flight goes on to its end (counted) */
	}
}

void ed_xb_zone_free(edera_zone *zone)
{
	struct ed_list *dead = ed_zone_dead_devices(zone);

	while (!ed_list_empty(dead)) {
		edera_device *d = ed_list_first(dead, edera_device, dead_link);

		ed_list_remove(dead, &d->dead_link);
		d->keep = false;
		/* let go of already (its timers closed): free now; otherwise
		 * when its timers have closed */
		if (d->timers_closed == 2)
			free(d);
	}
}
