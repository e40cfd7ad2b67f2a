/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenBus device engine (see xenbus.h).  One device goes through:
 *   WRITING    both ends' nodes, in one transaction (state Initialising)
 *   BACKEND    waiting for dom0's backend driver to probe it (InitWait)
 *   PLUMB      the kind's host-side work; then hotplug-status=connected
 *   FRONTEND   waiting for both ends to be Connected (the guest's driver)
 *   CONNECTED  attached
 *   CLOSING    detaching: backend told Closing, waiting for Closed
 *   REMOVING   both ends' nodes being removed
 *   RELEASING  host side released, waiting for it to be gone
 * Failures at any step go to REMOVING, so nothing is left behind. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xenbus/xenbus.h"

enum { P_WRITING, P_BACKEND, P_PLUMB, P_FRONTEND, P_CONNECTED, P_CLOSING, P_REMOVING,
       P_RELEASING, P_DONE };

#define ED_XB_POLL_MS 20
#define ED_XB_GONE_POLLS 250 /* 5 s for the host side to disappear */

struct ed_xb_writer {
	edera_device *d;
	edera_xs_txn *txn;
	int pending;
	int status;
};

static void step(edera_device *d);
static void teardown(edera_device *d, int status, bool close_first);

/* ---- timers and lifetime ---------------------------------------------------------- */

static void timer_close_cb(uv_handle_t *h)
{
	free(h);
}

static void stop(uv_timer_t **t)
{
	if (*t) {
		uv_timer_stop(*t);
		uv_close((uv_handle_t *)*t, timer_close_cb);
		*t = NULL;
	}
}

static int start(edera_device *d, uv_timer_t **t, unsigned int ms, uv_timer_cb cb)
{
	stop(t);
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return ed_error(EDERA_ENOMEM, "out of memory");
	uv_timer_init(d->ctx->loop, *t);
	(*t)->data = d;
	uv_timer_start(*t, cb, ms, 0);
	return 0;
}

static void unlink_device(edera_device *d)
{
	if (!d->zone)
		return;
	for (edera_device **pp = ed_zone_devices(d->zone); *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	d->next = NULL;
	d->zone = NULL;
}

static void unwatch(edera_device *d)
{
	edera_xs_watch_remove(d->fe_watch);
	edera_xs_watch_remove(d->be_watch);
	d->fe_watch = d->be_watch = NULL;
}

/* Done: free once no request points here any more. */
static void maybe_free(edera_device *d)
{
	if (d->phase != P_DONE || d->refs > 0)
		return;
	stop(&d->deadline);
	stop(&d->poll);
	unwatch(d);
	if (d->kind->free && !d->priv_freed)
		d->kind->free(d);
	d->priv_freed = true;
	if (d->keep)
		return; /* the caller's handle, dead: goes with its zone's */
	free(d);
}

static void release(edera_device *d);

/* A request pointing at D settled: true if the caller has nothing more to
 * do (D is being removed, or finished and maybe freed). */
static bool settled(edera_device *d)
{
	d->refs--;
	if (d->phase == P_DONE) {
		maybe_free(d);
		return true;
	}
	if (d->phase == P_REMOVING) {
		/* the last request out: the nodes are gone */
		if (d->refs == 0)
			release(d);
		return true;
	}
	return false;
}

/* ---- state watches ------------------------------------------------------------------ */

struct state_read {
	edera_device *d;
	bool backend;
};

static void state_changed(edera_ctx *ctx, int status, void *data, bool backend,
                          const char *path);

static void state_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct state_read *r = data;
	edera_device *d = r->d;
	bool backend = r->backend, again;
	int st = XB_UNKNOWN;

	free(r);
	if (status == 0 && len > 0 && len < 4 && value[0] >= '0' && value[0] <= '9')
		st = atoi(value);
	if (settled(d))
		return;
	again = backend ? d->be_dirty : d->fe_dirty;
	if (backend)
		d->be_reading = d->be_dirty = false;
	else
		d->fe_reading = d->fe_dirty = false;
	if (backend)
		d->be_state = st;
	else
		d->fe_state = st;
	if (!again) {
		step(d);
		return;
	}
	/* Changed again while this read was out: one more read covers every
	 * change made meanwhile, however many.  Held across step, which may
	 * tear the device down. */
	d->refs++;
	step(d);
	if (!settled(d))
		state_changed(ctx, 0, d, backend, NULL);
}

/* An end's directory changed.  Only its state (or the directory itself,
 * created or removed) matters; a guest writing other nodes of its end in a
 * loop costs a string compare per write.  One read of the state at a time
 * per end: changes while it is out mark the end dirty and are read once it
 * is back, so no amount of writing queues more than one request.
 * PATH NULL: look now. */
static void state_changed(edera_ctx *ctx, int status, void *data, bool backend,
                          const char *path)
{
	edera_device *d = data;
	const char *dir = backend ? d->be : d->fe;
	size_t dlen = strlen(dir);
	struct state_read *r;
	char p[128];

	if (status < 0 || d->phase >= P_REMOVING)
		return;
	if (path && !(strncmp(path, dir, dlen) == 0 &&
	              (path[dlen] == '\0' || strcmp(path + dlen, "/state") == 0)))
		return;
	if (backend ? d->be_reading : d->fe_reading) {
		if (backend)
			d->be_dirty = true;
		else
			d->fe_dirty = true;
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->d = d;
	r->backend = backend;
	snprintf(p, sizeof(p), "%s/state", dir);
	if (edera_xs_read(ctx, NULL, p, state_read, r) == 0) {
		d->refs++;
		if (backend)
			d->be_reading = true;
		else
			d->fe_reading = true;
	} else {
		free(r);
	}
}

static void fe_changed(edera_ctx *ctx, int status, const char *path, void *data)
{
	state_changed(ctx, status, data, false, path);
}

static void be_changed(edera_ctx *ctx, int status, const char *path, void *data)
{
	state_changed(ctx, status, data, true, path);
}

/* ---- teardown ------------------------------------------------------------------------ */

/* Where a backend's xenbus_dev_error/fatal messages go. */
static void error_path(const edera_device *d, char *buf, size_t cap)
{
	snprintf(buf, cap, "/local/domain/0/error/backend/%s/%u/%u/error", d->kind->name, d->domid,
	         d->id);
}

static void finish(edera_device *d)
{
	edera_ctx *ctx = d->ctx;
	edera_device_cb acb = d->attach_cb;
	edera_device_done_cb dcb = d->detach_cb;

	stop(&d->deadline);
	stop(&d->poll);
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
	d->phase = P_DONE;
	if (d->counted) {
		/* last: a context closed meanwhile on its caller's loop is
		 * freed here once nothing else runs */
		d->counted = false;
		ctx->cleanups--;
		ctx->work_pending--;
		maybe_free(d);
		ed_ctx_work_done(ctx);
		return;
	}
	maybe_free(d);
}

static void gone_poll(uv_timer_t *t)
{
	edera_device *d = t->data;

	/* Dom0's backend lets go of the host side as it sees its nodes go. */
	if ((d->kind->gone && !d->kind->gone(d)) && ++d->polls < ED_XB_GONE_POLLS &&
	    start(d, &d->poll, ED_XB_POLL_MS, gone_poll) == 0)
		return;
	finish(d);
}

static void release(edera_device *d)
{
	d->phase = P_RELEASING;
	if (d->kind->release)
		d->kind->release(d);
	d->polls = 0;
	if (start(d, &d->poll, 1, gone_poll) < 0)
		finish(d);
}

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

	if (status == 0 && n == 0 &&
	    edera_xs_rm(ctx, r->txn, r->path, parent_removed, r) == 0)
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
	settled(d);
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
	if (edera_xs_transaction(d->ctx, parent_body, parent_done, r) == 0)
		d->refs++;
	else
		free(r);
}

static void fe_removed(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (status == 0)
		rm_parent_if_empty(d, d->fe);
	settled(d);
}

static void be_removed(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (status == 0)
		rm_parent_if_empty(d, d->be);
	settled(d);
}

static void error_removed(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;
	char p[160];

	if (status == 0) {
		error_path(d, p, sizeof(p));
		*strrchr(p, '/') = '\0';
		rm_parent_if_empty(d, p);
	}
	settled(d);
}

static void closing_written(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (settled(d))
		return;
	if (status < 0 && d->phase == P_CLOSING)
		teardown(d, 0, false);
}

static void close_deadline(uv_timer_t *t)
{
	edera_device *d = t->data;

	/* The guest did not answer: take the device away regardless. */
	teardown(d, 0, false);
}

/* Take D down: with CLOSE_FIRST, the backend is told Closing and the guest
 * gets time to let go; then both ends' nodes are removed and the host side
 * released. */
static void teardown(edera_device *d, int status, bool close_first)
{
	char p[160];
	int rc;

	if (d->phase >= P_REMOVING)
		return;
	if (status < 0 && d->status == 0) {
		d->status = status;
		snprintf(d->msg, sizeof(d->msg), "%s", edera_last_error());
	}
	stop(&d->poll);
	if (!d->counted) {
		/* the context waits for it (own loop), or outlives it */
		d->ctx->cleanups++;
		d->ctx->work_pending++;
		d->counted = true;
	}
	if (d->phase == P_WRITING) {
		/* its transaction is still out: finish when it has ended
		 * (nodes_written), or nodes could appear after the removal */
		d->cancel = true;
		stop(&d->deadline);
		return;
	}
	if (close_first && !d->zone_gone && d->phase != P_CLOSING && !d->ctx->xs_gone) {
		d->phase = P_CLOSING;
		stop(&d->deadline);
		snprintf(p, sizeof(p), "%s/online", d->be);
		if (edera_xs_write(d->ctx, NULL, p, "0", 1, closing_written, d) == 0)
			d->refs++;
		snprintf(p, sizeof(p), "%s/state", d->be);
		rc = edera_xs_write(d->ctx, NULL, p, "5", 1, closing_written, d);
		if (rc == 0) {
			d->refs++;
			if (start(d, &d->deadline,
			          d->detach_timeout_ms ? d->detach_timeout_ms : 10000,
			          close_deadline) == 0)
				return;
		}
	}
	d->phase = P_REMOVING;
	stop(&d->deadline);
	unwatch(d);
	if (!d->ctx->xs_gone) {
		if ((!d->zone_gone || d->cancel) &&
		    edera_xs_rm(d->ctx, NULL, d->fe, fe_removed, d) == 0)
			d->refs++;
		if (edera_xs_rm(d->ctx, NULL, d->be, be_removed, d) == 0)
			d->refs++;
		/* the error node a backend may have left, with its directory */
		error_path(d, p, sizeof(p));
		*strrchr(p, '/') = '\0';
		if (edera_xs_rm(d->ctx, NULL, p, error_removed, d) == 0)
			d->refs++;
	}
	if (d->refs == 0)
		release(d);
}

/* ---- attach ---------------------------------------------------------------------------- */

static void attach_timeout(uv_timer_t *t)
{
	edera_device *d = t->data;
	const char *what = d->phase == P_BACKEND ? "dom0's backend driver did not take it"
	                 : d->phase == P_PLUMB   ? "its host side did not appear"
	                                         : "the guest did not connect it";

	if (d->phase >= P_CONNECTED)
		return;
	teardown(d,
	         ed_error(EDERA_ETIMEDOUT,
	                  "zone '%s': %s device %u: %s in time (frontend state %d, backend "
	                  "state %d)%s",
	                  d->zone_name, d->kind->name, d->id, what, d->fe_state, d->be_state,
	                  d->phase == P_FRONTEND ? "; does the guest kernel have its driver?" : ""),
	         false);
}

static void plumb_retry(uv_timer_t *t);

static void hotplug_written(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (settled(d) || d->phase != P_PLUMB)
		return;
	if (status < 0) {
		teardown(d, status, false);
		return;
	}
	d->phase = P_FRONTEND;
	step(d);
}

static void do_plumb(edera_device *d)
{
	int rc = d->kind->plumb ? d->kind->plumb(d) : 0;
	char p[128];

	if (rc == EDERA_EAGAIN) {
		/* not there yet; the attach deadline bounds the waiting */
		if (start(d, &d->poll, ED_XB_POLL_MS, plumb_retry) < 0)
			teardown(d, EDERA_ENOMEM, false);
		return;
	}
	if (rc < 0) {
		teardown(d, rc, false);
		return;
	}
	/* What xl's hot-plug scripts report when done; netback waits for it. */
	snprintf(p, sizeof(p), "%s/hotplug-status", d->be);
	rc = edera_xs_write(d->ctx, NULL, p, "connected", 9, hotplug_written, d);
	if (rc < 0) {
		teardown(d, rc, false);
		return;
	}
	d->refs++;
}

static void plumb_retry(uv_timer_t *t)
{
	edera_device *d = t->data;

	if (d->phase == P_PLUMB)
		do_plumb(d);
}

static void connected(edera_device *d)
{
	edera_device_cb cb = d->attach_cb;

	d->phase = P_CONNECTED;
	stop(&d->deadline);
	d->attach_cb = NULL;
	if (cb)
		ED_CALLBACK(d->ctx, cb(d->ctx, 0, d, d->attach_data));
}

static void refused_reason(edera_ctx *ctx, int status, const char *value, size_t len,
                           void *data)
{
	edera_device *d = data;

	if (settled(d))
		return;
	teardown(d, ed_error(EDERA_EIO, "zone '%s': dom0's %s backend refused device %u: %.*s",
	                     d->zone_name, d->kind->name, d->id,
	                     status == 0 ? (int)len : 16, status == 0 ? value : "(no reason given)"),
	         false);
}

static void step(edera_device *d)
{
	switch (d->phase) {
	case P_BACKEND:
		if (d->be_state == XB_INITWAIT || d->be_state == XB_CONNECTED) {
			d->phase = P_PLUMB;
			do_plumb(d);
		} else if (d->be_state >= XB_CLOSING) {
			char p[160];

			/* its reason, then down */
			error_path(d, p, sizeof(p));
			d->phase = P_PLUMB; /* nothing more from the watches meanwhile */
			d->refs++;
			if (edera_xs_read(d->ctx, NULL, p, refused_reason, d) < 0)
				refused_reason(d->ctx, EDERA_ENOENT, NULL, 0, d);
		}
		break;
	case P_FRONTEND:
		if (!d->wait_frontend ||
		    (d->fe_state == XB_CONNECTED && d->be_state == XB_CONNECTED))
			connected(d);
		else if (d->be_state >= XB_CLOSING || d->fe_state >= XB_CLOSING)
			teardown(d, ed_error(EDERA_EIO,
			                     "zone '%s': %s device %u closed while connecting "
			                     "(frontend state %d, backend state %d)",
			                     d->zone_name, d->kind->name, d->id, d->fe_state,
			                     d->be_state),
			         false);
		break;
	case P_CLOSING:
		if (d->be_state == XB_CLOSED || d->be_state == XB_UNKNOWN ||
		    d->fe_state == XB_CLOSED || d->fe_state == XB_UNKNOWN)
			teardown(d, 0, false);
		break;
	default:
		break;
	}
}

static void writer_settled(edera_ctx *ctx, int status, void *data)
{
	struct ed_xb_writer *w = data;

	if (status < 0 && w->status == 0)
		w->status = status;
	if (--w->pending > 0)
		return;
	if (w->status < 0)
		edera_xs_txn_abort(w->txn, w->status);
	else
		edera_xs_txn_commit(w->txn);
	free(w);
}

void ed_xb_write(struct ed_xb_writer *w, bool backend, const char *rel, const char *fmt, ...)
{
	char path[192], v[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s%s%s", backend ? w->d->be : w->d->fe, rel ? "/" : "",
	         rel ? rel : "");
	rc = edera_xs_write(w->d->ctx, w->txn, path, v, strlen(v), writer_settled, w);
	if (rc < 0 && w->status == 0)
		w->status = rc;
	else if (rc == 0)
		w->pending++;
}

static void writer_perms(struct ed_xb_writer *w, bool backend)
{
	uint32_t g = w->d->domid;
	/* Each end owns its directory; the other end reads it. */
	edera_xs_perm fe[2] = { { g, EDERA_XS_PERM_NONE }, { 0, EDERA_XS_PERM_READ } };
	edera_xs_perm be[2] = { { 0, EDERA_XS_PERM_NONE }, { g, EDERA_XS_PERM_READ } };
	int rc = edera_xs_set_perms(w->d->ctx, w->txn, backend ? w->d->be : w->d->fe,
	                            backend ? be : fe, 2, writer_settled, w);

	if (rc < 0 && w->status == 0)
		w->status = rc;
	else if (rc == 0)
		w->pending++;
}

static void nodes_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	edera_device *d = data;
	struct ed_xb_writer *w;

	if (d->cancel) {
		edera_xs_txn_abort(txn, EDERA_ECANCELED);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		edera_xs_txn_abort(txn, ed_error(EDERA_ENOMEM, "out of memory"));
		return;
	}
	w->d = d;
	w->txn = txn;
	w->pending = 1; /* held while the writes go out */
	/* The directories first, with their permissions: what is written in
	 * them afterwards inherits those. */
	ed_xb_write(w, false, NULL, "%s", "");
	writer_perms(w, false);
	ed_xb_write(w, true, NULL, "%s", "");
	writer_perms(w, true);
	ed_xb_write(w, false, "backend", "%s", d->be);
	ed_xb_write(w, false, "backend-id", "%u", 0);
	ed_xb_write(w, false, "state", "%d", XB_INITIALISING);
	ed_xb_write(w, true, "frontend", "%s", d->fe);
	ed_xb_write(w, true, "frontend-id", "%u", d->domid);
	ed_xb_write(w, true, "online", "%d", 1);
	ed_xb_write(w, true, "state", "%d", XB_INITIALISING);
	d->kind->write(d, w);
	writer_settled(ctx, 0, w); /* release the hold */
}

static void nodes_written(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;
	int rc;

	if (settled(d))
		return;
	if (d->cancel) {
		/* torn down meanwhile: now that the transaction has ended,
		 * remove whatever it wrote */
		d->phase = P_BACKEND;
		teardown(d, 0, false);
		return;
	}
	if (status < 0) {
		/* nothing was written (the transaction failed as a whole) */
		d->phase = P_BACKEND;
		teardown(d, status, false);
		return;
	}
	d->phase = P_BACKEND;
	rc = edera_xs_watch_add(ctx, &d->be_watch, d->be, be_changed, d);
	if (rc == 0)
		rc = edera_xs_watch_add(ctx, &d->fe_watch, d->fe, fe_changed, d);
	if (rc < 0)
		teardown(d, rc, false);
}

/* Start attaching D (prepared by its kind: id chosen, priv filled): its
 * nodes are written, and CB runs when it is connected (or, without
 * d->wait_frontend, when the backend is ready), or failed (then D is freed).
 * Returns < 0 if it could not start (D is then the caller's to free). */
static int start_attach(edera_device *d, unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	edera_device **list = ed_zone_devices(d->zone);
	int rc;

	snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/%s/%u", d->domid, d->kind->name,
	         d->id);
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/%s/%u/%u", d->kind->name, d->domid,
	         d->id);
	d->phase = P_WRITING;
	rc = start(d, &d->deadline, timeout_ms ? timeout_ms : 30000, attach_timeout);
	if (rc < 0)
		return rc;
	rc = edera_xs_transaction(d->ctx, nodes_body, nodes_written, d);
	if (rc < 0) {
		stop(&d->deadline);
		return rc;
	}
	d->refs++;
	d->attach_cb = cb;
	d->attach_data = data;
	d->next = *list;
	*list = d;
	return 0;
}

/* ---- the zone going away ---------------------------------------------------------------- */

void ed_xb_zone_gone(edera_zone *zone, const void *quiet)
{
	edera_device **list = ed_zone_devices(zone);

	while (*list) {
		edera_device *d = *list;

		unlink_device(d);
		d->zone_gone = true;
		if (quiet && d->attach_data == quiet)
			d->attach_cb = NULL;
		if (d->phase == P_CONNECTED) {
			/* attached: the caller may hold it (an attach's result,
			 * or found with edera_device_next) */
			d->keep = true;
			d->dead_next = *ed_zone_dead_devices(zone);
			*ed_zone_dead_devices(zone) = d;
		}
		if (d->phase < P_CONNECTED) {
			ed_error(EDERA_ECANCELED, "zone '%s' stopped while its %s device %u was being "
			         "attached", d->zone_name, d->kind->name, d->id);
			teardown(d, EDERA_ECANCELED, false);
		} else {
			teardown(d, 0, false);
		}
	}
}

void ed_xb_zone_forget(edera_zone *zone)
{
	edera_device **list = ed_zone_devices(zone);

	while (*list) {
		edera_device *d = *list;

		unlink_device(d);
		if (d->phase < P_CONNECTED) {
			/* an attach in flight: cancelled, its callback told */
			ed_error(EDERA_ECANCELED, "zone '%s': %s device %u: the context was closed",
			         d->zone_name, d->kind->name, d->id);
			teardown(d, EDERA_ECANCELED, false);
		} else if (d->phase == P_CONNECTED) {
			/* attached to a zone that keeps running: only the handle
			 * goes (blkback keeps its own reference to the loop
			 * device; netback keeps the interface) */
			if (d->kind->release)
				d->kind->release(d);
			d->phase = P_DONE;
			maybe_free(d);
		}
		/* a detach in flight goes on to its end (counted) */
	}
}

void ed_xb_zone_free(edera_zone *zone)
{
	edera_device **dead = ed_zone_dead_devices(zone);

	while (*dead) {
		edera_device *d = *dead;

		*dead = d->dead_next;
		d->dead_next = NULL;
		d->keep = false;
		/* torn down already: free now; otherwise at the end of it */
		if (d->phase == P_DONE && d->refs == 0)
			free(d);
	}
}

/* A handle whose zone went away (calls on it: EDERA_ENOTCONN). */
static bool dead(const edera_device *d)
{
	return d->zone_gone;
}

/* ---- public API ----------------------------------------------------------------------------- */

void edera_disk_config_init(edera_disk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

void edera_nic_config_init(edera_nic_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

static int new_device(edera_zone *zone, const struct ed_xb_kind *kind, const char *what,
                      edera_device **out)
{
	edera_device *d;

	*out = NULL;
	if (!zone)
		return ed_error(EDERA_EINVAL, "%s: zone is NULL", what);
	if (what && !ed_zone_running(zone))
		return ed_error(EDERA_EINVAL, "%s: zone '%s' is not running", what,
		                edera_zone_name(zone));
	d = calloc(1, sizeof(*d));
	if (!d)
		return ed_error(EDERA_ENOMEM, "out of memory");
	d->ctx = ed_zone_ctx(zone);
	d->zone = zone;
	d->domid = ed_zone_domid(zone);
	d->kind = kind;
	d->wait_frontend = true;
	snprintf(d->zone_name, sizeof(d->zone_name), "%s", edera_zone_name(zone));
	*out = d;
	return 0;
}

static int attach(edera_device *d, int rc, unsigned int timeout_ms, edera_device_cb cb,
                  void *data);

int ed_xb_attach_kind(edera_zone *zone, const struct ed_xb_kind *kind, ed_xb_prepare_fn prepare,
                      const void *arg, bool wait_frontend, unsigned int timeout_ms,
                      edera_device_cb cb, void *data)
{
	edera_device *d;
	int rc = new_device(zone, kind, NULL, &d);

	if (rc < 0)
		return rc;
	d->wait_frontend = wait_frontend;
	return attach(d, prepare(d, arg), timeout_ms, cb, data);
}

static int prepare_disk(edera_device *d, const void *cfg)
{
	return ed_vbd_prepare(d, cfg);
}

static int prepare_nic(edera_device *d, const void *cfg)
{
	return ed_vif_prepare(d, cfg);
}

int ed_xb_attach_early(edera_zone *zone, const edera_disk_config *disk,
                       const edera_nic_config *nic, unsigned int timeout_ms, edera_device_cb cb,
                       void *data)
{
	if (disk)
		return ed_xb_attach_kind(zone, &ed_vbd_kind, prepare_disk, disk, false, timeout_ms,
		                         cb, data);
	return ed_xb_attach_kind(zone, &ed_vif_kind, prepare_nic, nic, false, timeout_ms, cb,
	                         data);
}

int ed_xb_await(edera_device *d, unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	int rc;

	if (d->phase != P_CONNECTED)
		return ed_error(EDERA_EBUSY, "%s device %u is not attached", d->kind->name, d->id);
	rc = start(d, &d->deadline, timeout_ms ? timeout_ms : 30000, attach_timeout);
	if (rc < 0)
		return rc;
	d->wait_frontend = true;
	d->attach_cb = cb;
	d->attach_data = data;
	d->phase = P_FRONTEND;
	/* the states may be there already: look again now */
	state_changed(d->ctx, 0, d, false, NULL);
	state_changed(d->ctx, 0, d, true, NULL);
	return 0;
}

static int attach(edera_device *d, int rc, unsigned int timeout_ms, edera_device_cb cb,
                  void *data)
{
	if (rc == 0)
		rc = start_attach(d, timeout_ms, cb, data);
	if (rc < 0) {
		d->phase = P_DONE;
		maybe_free(d);
	}
	return rc;
}

int edera_zone_attach_disk(edera_zone *zone, const edera_disk_config *cfg,
                           unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	edera_disk_config c;
	edera_device *d;
	int rc = new_device(zone, &ed_vbd_kind, "edera_zone_attach_disk", &d);

	if (rc < 0)
		return rc;
	if (!cfg || !cb) {
		free(d);
		return ed_error(EDERA_EINVAL, "edera_zone_attach_disk: cfg and cb are required");
	}
	rc = ed_sized_check(cfg, cfg->sz, sizeof(*cfg), "edera_disk_config");
	if (rc < 0) {
		free(d);
		return rc;
	}
	edera_disk_config_init(&c);
	memcpy(&c, cfg, cfg->sz < sizeof(c) ? cfg->sz : sizeof(c));
	return attach(d, ed_vbd_prepare(d, &c), timeout_ms, cb, data);
}

int edera_zone_attach_nic(edera_zone *zone, const edera_nic_config *cfg, unsigned int timeout_ms,
                          edera_device_cb cb, void *data)
{
	edera_nic_config c;
	edera_device *d;
	int rc = new_device(zone, &ed_vif_kind, "edera_zone_attach_nic", &d);

	if (rc < 0)
		return rc;
	if (!cfg || !cb) {
		free(d);
		return ed_error(EDERA_EINVAL, "edera_zone_attach_nic: cfg and cb are required");
	}
	rc = ed_sized_check(cfg, cfg->sz, sizeof(*cfg), "edera_nic_config");
	if (rc < 0) {
		free(d);
		return rc;
	}
	edera_nic_config_init(&c);
	memcpy(&c, cfg, cfg->sz < sizeof(c) ? cfg->sz : sizeof(c));
	return attach(d, ed_vif_prepare(d, &c), timeout_ms, cb, data);
}

struct sync_attach {
	struct ed_sync s; /* first */
	edera_device *dev;
};

static void sync_attached(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct sync_attach *s = data;

	s->dev = dev;
	ed_sync_finish(&s->s, status);
}

static int attach_sync(edera_zone *zone, int disk, const void *cfg, unsigned int timeout_ms,
                       edera_device **out)
{
	struct sync_attach s;
	int rc;

	if (out)
		*out = NULL;
	if (!zone)
		return ed_error(EDERA_EINVAL, "attach: zone is NULL");
	rc = ed_ctx_check_blocking(ed_zone_ctx(zone), disk ? "edera_zone_attach_disk_sync"
	                                                   : "edera_zone_attach_nic_sync");
	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	rc = disk ? edera_zone_attach_disk(zone, cfg, timeout_ms, sync_attached, &s)
	          : edera_zone_attach_nic(zone, cfg, timeout_ms, sync_attached, &s);
	rc = ed_sync_wait(ed_zone_ctx(zone), rc, &s.s);
	if (rc == 0 && out)
		*out = s.dev;
	return rc;
}

int edera_zone_attach_disk_sync(edera_zone *zone, const edera_disk_config *cfg,
                                unsigned int timeout_ms, edera_device **out)
{
	return attach_sync(zone, 1, cfg, timeout_ms, out);
}

int edera_zone_attach_nic_sync(edera_zone *zone, const edera_nic_config *cfg,
                               unsigned int timeout_ms, edera_device **out)
{
	return attach_sync(zone, 0, cfg, timeout_ms, out);
}

int edera_device_detach(edera_device *d, unsigned int timeout_ms, edera_device_done_cb cb,
                        void *data)
{
	if (!d)
		return ed_error(EDERA_EINVAL, "edera_device_detach: dev is NULL");
	if (dead(d))
		return ed_error(EDERA_ENOTCONN, "%s device %u: its zone '%s' is gone (the device "
		                "went with it)", d->kind->name, d->id, d->zone_name);
	if (d->phase < P_CONNECTED)
		return ed_error(EDERA_EBUSY, "%s device %u is still being attached", d->kind->name,
		                d->id);
	if (d->phase > P_CONNECTED)
		return ed_error(EDERA_EBUSY, "%s device %u is already being detached", d->kind->name,
		                d->id);
	d->detach_cb = cb;
	d->detach_data = data;
	d->detach_timeout_ms = timeout_ms;
	teardown(d, 0, true);
	return 0;
}

static void sync_detached(edera_ctx *ctx, int status, void *data)
{
	ed_sync_finish(data, status);
}

int edera_device_detach_sync(edera_device *d, unsigned int timeout_ms)
{
	struct ed_sync s = { 0 };
	edera_ctx *ctx;
	int rc;

	if (!d)
		return ed_error(EDERA_EINVAL, "edera_device_detach_sync: dev is NULL");
	ctx = d->ctx;
	rc = ed_ctx_check_blocking(ctx, "edera_device_detach_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(ctx, edera_device_detach(d, timeout_ms, sync_detached, &s), &s);
}

int edera_device_kind(const edera_device *d)
{
	return d ? d->kind->kind : 0;
}

uint32_t edera_device_id(const edera_device *d)
{
	return d ? d->id : 0;
}

const char *edera_device_host_name(const edera_device *d)
{
	return d ? d->host_name : NULL;
}

const char *edera_device_mac(const edera_device *d)
{
	return d && d->mac[0] ? d->mac : NULL;
}

edera_device *edera_device_next(edera_zone *zone, edera_device *prev)
{
	edera_device *d;

	if (!zone)
		return NULL;
	d = prev ? prev->next : *ed_zone_devices(zone);
	/* only attached ones */
	while (d && d->phase != P_CONNECTED)
		d = d->next;
	return d;
}
