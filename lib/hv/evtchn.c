/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context's event channels (see evtchn.h).
 *
 * Each port has a budget: ED_PORT_BUDGET charged notifications per window
 * of ED_PORT_WINDOW_MS.  Its owner says, as it unmasks the port after a
 * notification, whether that one is charged: a console charges those that
 * brought next to nothing (output that did bring something is work, which
 * the console's own slices already bound, as for any flood of output); a
 * caller's channel charges every one (the library cannot tell).  A port
 * that used up its budget stays masked until its window ends (one timer
 * for the context serves all such ports): a guest notifying in a tight
 * loop, on one channel or on every one it has, costs the loop at most
 * ED_PORT_BUDGET handler runs per window and channel, and other zones'
 * events are served in between. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "hv/evtchn.h"

struct ed_port {
	edera_ctx *ctx;
	uint32_t local;
	ed_port_fn fn;
	void *data;
	/* the budget */
	uint64_t window; /* when the current window started (uv_now, ms) */
	unsigned int used;
	bool held; /* masked until its window ends */
	struct ed_link held_link; /* on ev->held while held */
	uint64_t events, throttled;
};

struct ed_evtchn {
	uv_poll_t *poll;          /* NULL until the first bind */
	struct ed_port **by_port; /* indexed by local port */
	size_t cap;
	size_t bound;
	struct ed_list held;      /* ports waiting for their window to end */
	uv_timer_t *timer;        /* ends them */
};

/* Events handled per wake-up of the loop before yielding to other work. */
#define ED_EVENTS_PER_WAKEUP 256

static void poll_close_cb(uv_handle_t *h)
{
	free(h);
}

static void arm(struct ed_evtchn *ev, uint64_t now);

/* Ports whose window ended are unmasked (and start a new one). */
static void on_timer(uv_timer_t *t)
{
	edera_ctx *ctx = t->data;
	struct ed_evtchn *ev = ctx->evtchn;
	uint64_t now = uv_now(ctx->loop);

	ED_LIST_EACH_SAFE(port, nx, &ev->held, struct ed_port, held_link) {
		if (now - port->window < ED_PORT_WINDOW_MS)
			continue;
		ed_list_remove(&ev->held, &port->held_link);
		port->held = false;
		port->window = now;
		port->used = 0;
		xenevtchn_unmask(ctx->hv.xce, port->local);
	}
	arm(ev, now);
}

/* The timer fires when the first held port's window ends. */
static void arm(struct ed_evtchn *ev, uint64_t now)
{
	uint64_t first = UINT64_MAX;

	ED_LIST_EACH(p, &ev->held, struct ed_port, held_link) {
		uint64_t end = p->window + ED_PORT_WINDOW_MS;

		if (end < first)
			first = end;
	}
	if (first == UINT64_MAX)
		uv_timer_stop(ev->timer);
	else
		uv_timer_start(ev->timer, on_timer, first > now ? first - now : 0, 0);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	edera_ctx *ctx = h->data;
	struct ed_evtchn *ev = ctx->evtchn;

	for (int i = 0; i < ED_EVENTS_PER_WAKEUP; i++) {
		xenevtchn_port_or_error_t p = xenevtchn_pending(ctx->hv.xce);
		struct ed_port *port;

		if (p < 0)
			break; /* EAGAIN: nothing more for now */
		port = (size_t)p < ev->cap ? ev->by_port[p] : NULL;
		if (!port) {
			/* Closed meanwhile: nothing wants it any more. */
			continue;
		}
		port->events++;
		port->fn(port, port->data);
		/* ctx->evtchn stays: it is only freed at context close. */
	}
}

static int evtchn_start(edera_ctx *ctx)
{
	struct ed_evtchn *ev = ctx->evtchn;
	int fd, flags, rc;

	if (!ev) {
		ev = calloc(1, sizeof(*ev));
		if (!ev)
			return ed_error(EDERA_ENOMEM, "out of memory");
		ctx->evtchn = ev;
	}
	if (ev->poll)
		return 0;
	if (!ev->timer) {
		ev->timer = calloc(1, sizeof(*ev->timer));
		if (!ev->timer)
			return ed_error(EDERA_ENOMEM, "out of memory");
		uv_timer_init(ctx->loop, ev->timer);
		ev->timer->data = ctx;
	}
	fd = xenevtchn_fd(ctx->hv.xce);
	flags = fcntl(fd, F_GETFL);
	/* Read pending ports until the device has none, without blocking. */
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return ed_error(ed_errno_code(errno), "event channel device: %s", strerror(errno));
	ev->poll = calloc(1, sizeof(*ev->poll));
	if (!ev->poll)
		return ed_error(EDERA_ENOMEM, "out of memory");
	rc = uv_poll_init(ctx->loop, ev->poll, fd);
	if (rc < 0) {
		free(ev->poll); /* never initialised: nothing to close */
		ev->poll = NULL;
		return ed_error(EDERA_EIO, "polling the event channel device: %s", uv_strerror(rc));
	}
	rc = uv_poll_start(ev->poll, UV_READABLE, on_readable);
	if (rc < 0) {
		uv_close((uv_handle_t *)ev->poll, poll_close_cb);
		ev->poll = NULL;
		return ed_error(EDERA_EIO, "polling the event channel device: %s", uv_strerror(rc));
	}
	ev->poll->data = ctx;
	return 0;
}

/* Enter LOCAL (just bound) into the table; on failure it is unbound. */
static int port_add(edera_ctx *ctx, xenevtchn_port_or_error_t local, ed_port_fn fn, void *data,
                    struct ed_port **out)
{
	struct ed_evtchn *ev = ctx->evtchn;
	struct ed_port *port = calloc(1, sizeof(*port));

	if (port && (size_t)local >= ev->cap) {
		size_t cap = ev->cap ? ev->cap : 64;
		struct ed_port **t;

		while (cap <= (size_t)local)
			cap *= 2;
		t = realloc(ev->by_port, cap * sizeof(*t));
		if (!t) {
			free(port);
			port = NULL;
		} else {
			memset(t + ev->cap, 0, (cap - ev->cap) * sizeof(*t));
			ev->by_port = t;
			ev->cap = cap;
		}
	}
	if (!port) {
		xenevtchn_unbind(ctx->hv.xce, (evtchn_port_t)local);
		return ed_error(EDERA_ENOMEM, "out of memory");
	}
	port->ctx = ctx;
	port->local = (uint32_t)local;
	port->fn = fn;
	port->data = data;
	ev->by_port[local] = port;
	ev->bound++;
	*out = port;
	return 0;
}

int ed_port_bind(edera_ctx *ctx, uint32_t domid, uint32_t remote_port, ed_port_fn fn,
                 void *data, struct ed_port **out)
{
	xenevtchn_port_or_error_t local;
	int rc;

	*out = NULL;
	rc = evtchn_start(ctx);
	if (rc < 0)
		return rc;
	local = xenevtchn_bind_interdomain(ctx->hv.xce, domid, remote_port);
	if (local < 0)
		return ed_error(ed_errno_code(errno), "binding event channel %u of domain %u: %s",
		                remote_port, domid, strerror(errno));
	return port_add(ctx, local, fn, data, out);
}

int ed_port_alloc_unbound(edera_ctx *ctx, uint32_t domid, ed_port_fn fn, void *data,
                          struct ed_port **out)
{
	xenevtchn_port_or_error_t local;
	int rc;

	*out = NULL;
	rc = evtchn_start(ctx);
	if (rc < 0)
		return rc;
	local = xenevtchn_bind_unbound_port(ctx->hv.xce, domid);
	if (local < 0)
		return ed_error(ed_errno_code(errno),
		                "allocating an event channel for domain %u: %s", domid,
		                strerror(errno));
	return port_add(ctx, local, fn, data, out);
}

uint32_t ed_port_local(const struct ed_port *port)
{
	return port->local;
}

int ed_port_notify(struct ed_port *port)
{
	if (xenevtchn_notify(port->ctx->hv.xce, port->local) < 0)
		return ed_error(ed_errno_code(errno), "notifying event channel %u: %s", port->local,
		                strerror(errno));
	return 0;
}

void ed_port_unmask(struct ed_port *port, bool charge)
{
	struct ed_evtchn *ev = port->ctx->evtchn;
	uint64_t now;

	if (port->held)
		return;
	now = uv_now(port->ctx->loop);
	if (now - port->window >= ED_PORT_WINDOW_MS) {
		port->window = now;
		port->used = 0;
	}
	if (charge)
		port->used++;
	if (port->used >= ED_PORT_BUDGET) {
		port->held = true;
		port->throttled++;
		ed_list_push_front(&ev->held, &port->held_link);
		arm(ev, now);
		return;
	}
	xenevtchn_unmask(port->ctx->hv.xce, port->local);
}

void ed_port_stats(const struct ed_port *port, uint64_t *events, uint64_t *throttled)
{
	*events = port->events;
	*throttled = port->throttled;
}

void ed_port_close(struct ed_port *port)
{
	struct ed_evtchn *ev;

	if (!port)
		return;
	ev = port->ctx->evtchn;
	if (port->held)
		ed_list_remove(&ev->held, &port->held_link);
	xenevtchn_unbind(port->ctx->hv.xce, port->local);
	ev->by_port[port->local] = NULL;
	ev->bound--;
	free(port);
}

void ed_evtchn_fini(edera_ctx *ctx)
{
	struct ed_evtchn *ev = ctx->evtchn;

	if (!ev)
		return;
	/* Ports still bound belong to code that outlives nothing: unbind. */
	for (size_t i = 0; i < ev->cap; i++)
		if (ev->by_port[i])
			ed_port_close(ev->by_port[i]);
	if (ev->poll)
		uv_close((uv_handle_t *)ev->poll, poll_close_cb);
	if (ev->timer)
		uv_close((uv_handle_t *)ev->timer, poll_close_cb);
	free(ev->by_port);
	free(ev);
	ctx->evtchn = NULL;
}
