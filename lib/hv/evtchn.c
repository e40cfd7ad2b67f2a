/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
};

struct ed_evtchn {
	uv_poll_t *poll;          /* NULL until the first bind */
	struct ed_port **by_port; /* indexed by local port */
	size_t cap;
	size_t bound;
};

/* Events handled per wake-up of the loop before yielding to other work. */
#define ED_EVENTS_PER_WAKEUP 256

static void poll_close_cb(uv_handle_t *h)
{
	free(h);
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

void ed_port_unmask(struct ed_port *port)
{
	xenevtchn_unmask(port->ctx->hv.xce, port->local);
}

void ed_port_close(struct ed_port *port)
{
	struct ed_evtchn *ev;

	if (!port)
		return;
	ev = port->ctx->evtchn;
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
	free(ev->by_port);
	free(ev);
	ctx->evtchn = NULL;
}
