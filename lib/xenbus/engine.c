/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenBus device engine's attach handshake (see xenbus.h).  A device
 * goes through these phases, each one's work in the section named after
 * it, in this order when all goes well:
 *   NEW        made, and prepared by its kind
 *   WRITING    both ends' nodes, in one transaction (state Initialising)
 *   BACKEND    waiting for dom0's backend driver to probe it (InitWait)
 *   PLUMB      the kind's host-side work; then hotplug-status=connected
 *   FRONTEND   waiting for both ends to be Connected (the guest's driver)
 *   CONNECTED  attached
 * A backend that closes instead of probing goes to REFUSED while its
 * reason is read.  Detaching and every failure go on in teardown.c:
 * CLOSING (a detach only), REMOVING, RELEASING, DONE, so that nothing is
 * left behind.  Every move goes through ed_xb_set_phase, which checks it
 * against the table of the moves allowed. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xenbus/engine.h"

/* ---- phases ------------------------------------------------------------------------------ */

#define TO(p) (1u << (p))

static const unsigned int allowed[] = {
	[ED_XB_NEW] = TO(ED_XB_WRITING) | TO(ED_XB_DONE), /* DONE: it did not start */
	[ED_XB_WRITING] = TO(ED_XB_BACKEND),              /* also to be torn down */
	[ED_XB_BACKEND] = TO(ED_XB_PLUMB) | TO(ED_XB_REFUSED) | TO(ED_XB_REMOVING),
	[ED_XB_REFUSED] = TO(ED_XB_REMOVING),
	[ED_XB_PLUMB] = TO(ED_XB_FRONTEND) | TO(ED_XB_REMOVING),
	[ED_XB_FRONTEND] = TO(ED_XB_CONNECTED) | TO(ED_XB_REMOVING),
	/* FRONTEND: ed_xb_await; DONE: let go with its zone running */
	[ED_XB_CONNECTED] =
		TO(ED_XB_FRONTEND) | TO(ED_XB_CLOSING) | TO(ED_XB_REMOVING) | TO(ED_XB_DONE),
	[ED_XB_CLOSING] = TO(ED_XB_REMOVING),
	[ED_XB_REMOVING] = TO(ED_XB_RELEASING),
	[ED_XB_RELEASING] = TO(ED_XB_DONE),
	[ED_XB_DONE] = 0,
};

static const char *const names[] = {
	[ED_XB_NEW] = "NEW",
	[ED_XB_WRITING] = "WRITING",
	[ED_XB_BACKEND] = "BACKEND",
	[ED_XB_REFUSED] = "REFUSED",
	[ED_XB_PLUMB] = "PLUMB",
	[ED_XB_FRONTEND] = "FRONTEND",
	[ED_XB_CONNECTED] = "CONNECTED",
	[ED_XB_CLOSING] = "CLOSING",
	[ED_XB_REMOVING] = "REMOVING",
	[ED_XB_RELEASING] = "RELEASING",
	[ED_XB_DONE] = "DONE",
};

static const char *phase_name(enum ed_xb_phase p)
{
	return (unsigned int)p < ED_ARRAY_SIZE(names) ? names[p] : "?";
}

void ed_xb_set_phase(edera_device *d, enum ed_xb_phase to)
{
	if (!(allowed[d->phase] & TO(to))) {
		/* A bug here: going on would leave nodes or memory behind, or
		 * call a caller twice. */
		fprintf(stderr,
		        "libedera: internal error: %s device %u of zone '%s' moved from %s to %s\n",
		        d->kind->name, d->id, d->zone_name, phase_name(d->phase),
		        phase_name(to));
		abort();
	}
	d->phase = to;
}

/* ---- NEW --------------------------------------------------------------------------------- */

int ed_xb_device_new(edera_zone *zone, const struct ed_xb_kind *kind, edera_device **out)
{
	edera_device *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return ed_error(EDERA_ENOMEM, "out of memory");
	d->ctx = ed_zone_ctx(zone);
	d->zone = zone;
	d->domid = ed_zone_domid(zone);
	d->kind = kind;
	d->phase = ED_XB_NEW;
	d->wait_frontend = true;
	snprintf(d->zone_name, sizeof(d->zone_name), "%s", edera_zone_name(zone));
	/* once for its whole life: re-armed as it goes, closed at its end */
	uv_timer_init(d->ctx->loop, &d->deadline);
	uv_timer_init(d->ctx->loop, &d->poll);
	*out = d;
	return 0;
}

/* ---- state watches ------------------------------------------------------------------------ */

static void step(edera_device *d);

struct state_read {
	edera_device *d;
	bool backend;
};

static void state_changed(edera_ctx *ctx, int status, void *data, bool backend, const char *path);

static void state_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct state_read *r = data;
	edera_device *d = r->d;
	bool backend = r->backend, again;
	int st = XB_UNKNOWN;

	free(r);
	if (status == 0 && len > 0 && len < 4 && value[0] >= '0' && value[0] <= '9')
		st = atoi(value);
	if (ed_xb_settled(d))
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
	 * change made meanwhile, however many.  Held across the step, which
	 * may tear the device down. */
	d->refs++;
	step(d);
	if (!ed_xb_settled(d))
		state_changed(ctx, 0, d, backend, NULL);
}

/* An end's directory changed.  Only its state (or the directory itself,
 * created or removed) matters; a guest writing other nodes of its end in a
 * loop costs a string compare per write.  One read of the state at a time
 * per end: changes while it is out mark the end dirty and are read once it
 * is back, so no amount of writing queues more than one request.
 * PATH NULL: look now. */
static void state_changed(edera_ctx *ctx, int status, void *data, bool backend, const char *path)
{
	edera_device *d = data;
	const char *dir = backend ? d->be : d->fe;
	size_t dlen = strlen(dir);
	struct state_read *r;
	char p[128];

	if (status < 0 || d->muted)
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

static void look(edera_device *d, bool backend)
{
	state_changed(d->ctx, 0, d, backend, NULL);
}

static void fe_changed(edera_ctx *ctx, int status, const char *path, void *data)
{
	state_changed(ctx, status, data, false, path);
}

static void be_changed(edera_ctx *ctx, int status, const char *path, void *data)
{
	state_changed(ctx, status, data, true, path);
}

/* ---- the deadline ------------------------------------------------------------------------- */

static const char *late(enum ed_xb_phase p)
{
	switch (p) {
	case ED_XB_BACKEND: return "dom0's backend driver did not take it";
	/* REFUSED: the words of the phase it borrowed before it had a name */
	case ED_XB_REFUSED:
	case ED_XB_PLUMB: return "its host side did not appear";
	default: return "the guest did not connect it";
	}
}

static void attach_timeout(uv_timer_t *t)
{
	edera_device *d = ed_container_of(t, edera_device, deadline);

	if (d->phase >= ED_XB_CONNECTED)
		return;
	ed_xb_teardown(d,
	               ed_error(EDERA_ETIMEDOUT,
	                        "zone '%s': %s device %u: %s in time (frontend state %d, backend "
	                        "state %d)%s",
	                        d->zone_name, d->kind->name, d->id, late(d->phase), d->fe_state,
	                        d->be_state,
	                        d->phase == ED_XB_FRONTEND
	                                ? "; does the guest kernel have its driver?"
	                                : ""),
	               false);
}

/* ---- WRITING ----------------------------------------------------------------------------- */

void ed_xb_write(struct ed_xb_writer *w, bool backend, const char *rel, const char *fmt, ...)
{
	char path[192];
	va_list ap;

	snprintf(path, sizeof(path), "%s%s%s", backend ? w->d->be : w->d->fe, rel ? "/" : "",
	         rel ? rel : "");
	va_start(ap, fmt);
	ed_xs_batch_vwrite(&w->batch, path, fmt, ap);
	va_end(ap);
}

static void writer_perms(struct ed_xb_writer *w, bool backend)
{
	uint32_t g = w->d->domid;
	/* Each end owns its directory; the other end reads it. */
	edera_xs_perm fe[2] = { { g, EDERA_XS_PERM_NONE }, { 0, EDERA_XS_PERM_READ } };
	edera_xs_perm be[2] = { { 0, EDERA_XS_PERM_NONE }, { g, EDERA_XS_PERM_READ } };
	ed_xs_batch_perms(&w->batch, backend ? w->d->be : w->d->fe, backend ? be : fe, 2);
}

static void nodes_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	edera_device *d = data;
	struct ed_xb_writer *w = &d->nodes;

	if (d->cancel) {
		edera_xs_txn_abort(txn, EDERA_ECANCELED);
		return;
	}
	/* (a body run again, for a retried transaction, starts afresh: the
	 * earlier attempt's batch settled before its commit) */
	w->d = d;
	ed_xs_batch_start(&w->batch, ctx, txn, NULL);
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
	ed_xs_batch_end(&w->batch);
}

/* The transaction has ended: on to BACKEND, where a device torn down
 * meanwhile (d->cancel) or whose nodes could not be written goes down,
 * now that nothing more can appear. */
static void nodes_written(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;
	int rc;

	if (ed_xb_settled(d))
		return;
	ed_xb_set_phase(d, ED_XB_BACKEND);
	if (d->cancel) {
		/* remove whatever it wrote */
		ed_xb_teardown(d, 0, false);
		return;
	}
	if (status < 0) {
		/* nothing was written (the transaction failed as a whole) */
		ed_xb_teardown(d, status, false);
		return;
	}
	rc = edera_xs_watch_add(ctx, &d->be_watch, d->be, be_changed, d);
	if (rc == 0)
		rc = edera_xs_watch_add(ctx, &d->fe_watch, d->fe, fe_changed, d);
	if (rc < 0)
		ed_xb_teardown(d, rc, false);
}

/* Start attaching D (prepared by its kind: id chosen, priv filled): its
 * nodes are written, and CB runs when it is connected (or, without
 * d->wait_frontend, when the backend is ready), or failed. */
static int start_attach(edera_device *d, unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	struct ed_list *list = ed_zone_devices(d->zone);
	int rc;

	snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/%s/%u", d->domid, d->kind->name,
	         d->id);
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/%s/%u/%u", d->kind->name, d->domid,
	         d->id);
	uv_timer_start(&d->deadline, attach_timeout, timeout_ms ? timeout_ms : 30000, 0);
	rc = ed_xs_transaction_serial(d->ctx, nodes_body, nodes_written, d);
	if (rc < 0) {
		uv_timer_stop(&d->deadline);
		return rc;
	}
	ed_xb_set_phase(d, ED_XB_WRITING);
	d->refs++;
	d->attach_cb = cb;
	d->attach_data = data;
	ed_list_push_front(list, &d->link);
	return 0;
}

int ed_xb_attach(edera_device *d, int rc, unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	if (rc == 0)
		rc = start_attach(d, timeout_ms, cb, data);
	if (rc < 0) {
		ed_xb_set_phase(d, ED_XB_DONE);
		ed_xb_maybe_free(d);
	}
	return rc;
}

/* ---- BACKEND and REFUSED ------------------------------------------------------------------ */

static void do_plumb(edera_device *d);

static void refused_reason(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	edera_device *d = data;

	if (ed_xb_settled(d))
		return;
	ed_xb_teardown(d,
	               ed_error(EDERA_EIO, "zone '%s': dom0's %s backend refused device %u: %.*s",
	                        d->zone_name, d->kind->name, d->id, status == 0 ? (int)len : 16,
	                        status == 0 ? value : "(no reason given)"),
	               false);
}

static void step_backend(edera_device *d)
{
	char p[160];

	if (d->be_state == XB_INITWAIT || d->be_state == XB_CONNECTED) {
		ed_xb_set_phase(d, ED_XB_PLUMB);
		do_plumb(d);
		return;
	}
	if (d->be_state < XB_CLOSING)
		return;
	/* its reason, then down */
	ed_xb_set_phase(d, ED_XB_REFUSED);
	ed_xb_error_path(d, p, sizeof(p));
	d->refs++;
	if (edera_xs_read(d->ctx, NULL, p, refused_reason, d) < 0)
		refused_reason(d->ctx, EDERA_ENOENT, NULL, 0, d);
}

/* ---- PLUMB ------------------------------------------------------------------------------- */

static void hotplug_written(edera_ctx *ctx, int status, void *data)
{
	edera_device *d = data;

	if (ed_xb_settled(d) || d->phase != ED_XB_PLUMB)
		return;
	if (status < 0) {
		ed_xb_teardown(d, status, false);
		return;
	}
	ed_xb_set_phase(d, ED_XB_FRONTEND);
	step(d);
}

static void plumb_retry(uv_timer_t *t)
{
	edera_device *d = ed_container_of(t, edera_device, poll);

	if (d->phase == ED_XB_PLUMB)
		do_plumb(d);
}

static void do_plumb(edera_device *d)
{
	int rc = d->kind->plumb ? d->kind->plumb(d) : 0;
	char p[128];

	if (rc == EDERA_EAGAIN) {
		/* not there yet; the attach deadline bounds the waiting */
		uv_timer_start(&d->poll, plumb_retry, ED_XB_POLL_MS, 0);
		return;
	}
	if (rc < 0) {
		ed_xb_teardown(d, rc, false);
		return;
	}
	/* What xl's hot-plug scripts report when done; netback waits for it. */
	snprintf(p, sizeof(p), "%s/hotplug-status", d->be);
	rc = edera_xs_write(d->ctx, NULL, p, "connected", 9, hotplug_written, d);
	if (rc < 0) {
		ed_xb_teardown(d, rc, false);
		return;
	}
	d->refs++;
}

/* ---- FRONTEND ---------------------------------------------------------------------------- */

static void connected(edera_device *d)
{
	edera_device_cb cb = d->attach_cb;

	ed_xb_set_phase(d, ED_XB_CONNECTED);
	uv_timer_stop(&d->deadline);
	d->attach_cb = NULL;
	if (cb)
		ED_CALLBACK(d->ctx, cb(d->ctx, 0, d, d->attach_data));
}

static void step_frontend(edera_device *d)
{
	if (!d->wait_frontend || (d->fe_state == XB_CONNECTED && d->be_state == XB_CONNECTED))
		connected(d);
	else if (d->be_state >= XB_CLOSING || d->fe_state >= XB_CLOSING)
		ed_xb_teardown(d,
		               ed_error(EDERA_EIO,
		                        "zone '%s': %s device %u closed while connecting "
		                        "(frontend state %d, backend state %d)",
		                        d->zone_name, d->kind->name, d->id, d->fe_state,
		                        d->be_state),
		               false);
}

int ed_xb_await(edera_device *d, unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	if (d->phase != ED_XB_CONNECTED)
		return ed_error(EDERA_EBUSY, "%s device %u is not attached", d->kind->name, d->id);
	uv_timer_start(&d->deadline, attach_timeout, timeout_ms ? timeout_ms : 30000, 0);
	d->wait_frontend = true;
	d->attach_cb = cb;
	d->attach_data = data;
	ed_xb_set_phase(d, ED_XB_FRONTEND);
	/* the states may be there already: look again now */
	look(d, false);
	look(d, true);
	return 0;
}

/* ---- what a state change does, phase by phase --------------------------------------------- */

static void step(edera_device *d)
{
	switch (d->phase) {
	case ED_XB_BACKEND: step_backend(d); break;
	case ED_XB_FRONTEND: step_frontend(d); break;
	case ED_XB_CLOSING: ed_xb_step_closing(d); break;
	default:
		/* WRITING: not watched yet; REFUSED, PLUMB: busy with their
		 * own work; CONNECTED: nothing to do until a detach; from
		 * REMOVING on: muted */
		break;
	}
}
