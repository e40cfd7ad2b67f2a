/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-process console backend.
 *
 * Each connected console maps its zone's ring page and binds its event
 * channel.  When the guest notifies, the console is served: output is read
 * (ed_ring_read over a snapshot of the indices), handed to the history, the
 * log and the subscribers, and queued input is written.  One turn reads at
 * most ED_CONSOLE_SLICE bytes; a console with more waiting goes to the back
 * of the context's run queue (served from an idle handle, one turn each per
 * loop iteration) with its port still masked, so a flooding guest gets its
 * share and no more, and its notifications cost nothing meanwhile.
 *
 * The indices the host owns (out_cons, in_prod) are kept here and only ever
 * written to the page, never read back: the guest may scribble on them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h" /* xenctrl.h first: the Xen headers need its types */

#include <xen/grant_table.h>
#include <xen/io/console.h>

#include "console/console.h"
#include "console/log.h"
#include "console/ring.h"
#include "hv/evtchn.h"

/* Output bytes one console may take per turn. */
#define ED_CONSOLE_SLICE (64 * 1024)
/* A notification that brought less output than this (and no room for
 * input) is charged against the channel's budget (hv/evtchn.c). */
#define ED_CONSOLE_CHEAP 32

struct edera_console_sub {
	struct ed_link link; /* on its console's subs */
	struct ed_console *con;
	edera_console_output_cb cb;
	void *data;
	bool dead;
};

struct ed_console {
	edera_ctx *ctx;
	edera_zone *zone;
	/* the ring, while connected */
	struct xencons_interface *intf;
	bool by_grant;
	struct ed_port *port;
	uint32_t out_cons, in_prod; /* ours; never read back from the page */
	/* scheduling */
	struct ed_link rq; /* on ctx->con_rq */
	bool queued;
	int busy;            /* > 0 while being served (callbacks may run) */
	bool disconnect_due; /* asked to disconnect while busy */
	bool free_due;       /* asked to be freed while busy */
	/* history: a ring of hist_size bytes, hist_len of them valid, ending
	 * at hist_end.  It starts small and doubles as output comes, up to
	 * hist_cap, and wraps only once there: a zone that prints little costs
	 * little (while smaller than hist_cap it has never wrapped, so its
	 * bytes are the first hist_len). */
	uint8_t *hist;
	size_t hist_cap, hist_size, hist_len, hist_end;
	/* subscribers */
	struct ed_list subs; /* edera_console_sub, newest first */
	int dispatching;
	bool subs_dead;
	/* input waiting for the guest */
	uint8_t *inq;
	size_t in_head, in_len;
	bool want_writable;
	edera_console_writable_cb writable_cb;
	void *writable_data;
	/* log (console/log.c) */
	struct ed_log *log;
	uint64_t log_max;
	/* statistics */
	uint64_t output_bytes, input_bytes, ring_errors;
};

/* ---- run queue ------------------------------------------------------------- */

static void service(struct ed_console *c);

static void idle_close_cb(uv_handle_t *h)
{
	free(h);
}

static void run_queue(uv_idle_t *h)
{
	edera_ctx *ctx = h->data;
	size_t n = 0;

	/* One turn for each console queued now; those still busy requeue. */
	ED_LIST_EACH(c, &ctx->con_rq, struct ed_console, rq)
		n++;
	while (n-- > 0 && !ed_list_empty(&ctx->con_rq)) {
		struct ed_console *c = ed_list_first(&ctx->con_rq, struct ed_console, rq);

		ed_list_remove(&ctx->con_rq, &c->rq);
		c->queued = false;
		service(c);
	}
	if (ed_list_empty(&ctx->con_rq))
		uv_idle_stop(h);
}

static void enqueue(struct ed_console *c)
{
	edera_ctx *ctx = c->ctx;

	if (c->queued)
		return;
	if (!ctx->con_idle) {
		ctx->con_idle = calloc(1, sizeof(*ctx->con_idle));
		if (!ctx->con_idle) {
			/* No turn later: take the events again instead. */
			ed_port_unmask(c->port, false);
			return;
		}
		uv_idle_init(ctx->loop, ctx->con_idle);
		ctx->con_idle->data = ctx;
	}
	c->queued = true;
	ed_list_push_back(&ctx->con_rq, &c->rq);
	uv_idle_start(ctx->con_idle, run_queue);
}

static void dequeue(struct ed_console *c)
{
	edera_ctx *ctx = c->ctx;

	if (!c->queued)
		return;
	ed_list_remove(&ctx->con_rq, &c->rq);
	c->queued = false;
}

void ed_consoles_fini(edera_ctx *ctx)
{
	if (ctx->con_idle)
		uv_close((uv_handle_t *)ctx->con_idle, idle_close_cb);
	ctx->con_idle = NULL;
	while (!ed_list_empty(&ctx->con_rq)) {
		struct ed_console *c = ed_list_first(&ctx->con_rq, struct ed_console, rq);

		ed_list_remove(&ctx->con_rq, &c->rq);
		c->queued = false;
	}
}

/* ---- output ---------------------------------------------------------------- */

#define ED_CONSOLE_HISTORY_FIRST 2048

/* Room for N more bytes without wrapping, while the history is below its
 * cap.  When memory is short the history stays the size it has (its cap
 * becomes that size, so the "never wrapped below the cap" rule holds). */
static void history_grow(struct ed_console *c, size_t n)
{
	size_t want = c->hist_size ? c->hist_size : ED_CONSOLE_HISTORY_FIRST;
	uint8_t *p;

	if (c->hist_size >= c->hist_cap || c->hist_len + n <= c->hist_size)
		return;
	while (want < c->hist_len + n && want < c->hist_cap)
		want *= 2;
	if (want > c->hist_cap)
		want = c->hist_cap;
	p = realloc(c->hist, want);
	if (!p) {
		c->hist_cap = c->hist_size; /* 0 if none yet: no history then */
		return;
	}
	c->hist = p;
	c->hist_size = want;
	c->hist_end = c->hist_len;
}

static void history_append(struct ed_console *c, const uint8_t *b, size_t n)
{
	size_t size;

	history_grow(c, n);
	size = c->hist_size;
	if (size == 0 || n == 0)
		return; /* no history (none asked, or no memory); output still flows */
	if (n >= size) {
		memcpy(c->hist, b + n - size, size);
		c->hist_end = 0;
		c->hist_len = size;
		return;
	}
	while (n > 0) {
		size_t seg = size - c->hist_end < n ? size - c->hist_end : n;

		memcpy(c->hist + c->hist_end, b, seg);
		c->hist_end = (c->hist_end + seg) % size;
		b += seg;
		n -= seg;
		c->hist_len = c->hist_len + seg > size ? size : c->hist_len + seg;
	}
}

/* The newest N bytes of history as up to two segments. */
static void history_segments(const struct ed_console *c, size_t n, const uint8_t **a,
                             size_t *alen, const uint8_t **b, size_t *blen)
{
	size_t start;

	if (n > c->hist_len)
		n = c->hist_len;
	*a = *b = NULL;
	*alen = *blen = 0;
	if (n == 0)
		return;
	start = (c->hist_end + c->hist_size - n) % c->hist_size;
	if (start + n <= c->hist_size) {
		*a = c->hist + start;
		*alen = n;
	} else {
		*a = c->hist + start;
		*alen = c->hist_size - start;
		*b = c->hist;
		*blen = n - *alen;
	}
}

static void subs_sweep(struct ed_console *c)
{
	ED_LIST_EACH_SAFE(s, nx, &c->subs, struct edera_console_sub, link)
		if (s->dead) {
			ed_list_remove(&c->subs, &s->link);
			free(s);
		}
	c->subs_dead = false;
}

static void deliver(struct ed_console *c, const uint8_t *b, size_t n)
{
	c->output_bytes += n;
	history_append(c, b, n);
	if (c->log)
		ed_log_append(c->log, b, n);
	/* Subscribers added meanwhile go to the head: they do not see this
	 * chunk twice (a replay already held it). */
	c->dispatching++;
	ED_LIST_EACH(s, &c->subs, struct edera_console_sub, link)
		if (!s->dead)
			ED_CALLBACK(c->ctx, s->cb(c->ctx, c->zone, (const char *)b, n, s->data));
	c->dispatching--;
	if (c->dispatching == 0 && c->subs_dead)
		subs_sweep(c);
}

/* Read up to BUDGET bytes of output; true if the consumer index moved.
 * *AGAIN is set when the guest may have more (budget spent, bad indices). */
static bool read_output(struct ed_console *c, size_t budget, bool *again)
{
	uint8_t buf[sizeof(c->intf->out)];
	bool moved = false;

	*again = false;
	while (c->intf && !c->disconnect_due && !c->free_due) {
		struct xencons_interface *intf = c->intf;
		uint32_t prod = __atomic_load_n(&intf->out_prod, __ATOMIC_ACQUIRE);
		size_t max = budget < sizeof(buf) ? budget : sizeof(buf);
		long n;

		if (max == 0) {
			*again = prod != c->out_cons;
			break;
		}
		n = ed_ring_read((const volatile uint8_t *)intf->out, sizeof(intf->out), c->out_cons,
		                 prod, buf, max);
		if (n < 0) {
			/* Impossible indices: skip to where the guest says it is. */
			c->ring_errors++;
			c->out_cons = prod;
			__atomic_store_n(&intf->out_cons, c->out_cons, __ATOMIC_RELEASE);
			*again = true; /* look again next turn, not in a loop */
			return true;
		}
		if (n == 0)
			break;
		/* Copied out before the guest may reuse the space. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		c->out_cons += (uint32_t)n;
		__atomic_store_n(&intf->out_cons, c->out_cons, __ATOMIC_RELEASE);
		moved = true;
		budget -= (size_t)n;
		deliver(c, buf, (size_t)n);
	}
	return moved;
}

/* ---- input ----------------------------------------------------------------- */

/* Move queued input into the ring; true if the producer index moved. */
static bool flush_input(struct ed_console *c)
{
	struct xencons_interface *intf = c->intf;
	bool moved = false;

	while (intf && c->in_len > 0) {
		uint32_t cons = __atomic_load_n(&intf->in_cons, __ATOMIC_ACQUIRE);
		size_t seg = EDERA_CONSOLE_INPUT_MAX - c->in_head;
		long n;

		if (seg > c->in_len)
			seg = c->in_len;
		n = ed_ring_write((volatile uint8_t *)intf->in, sizeof(intf->in), cons, c->in_prod,
		                  c->inq + c->in_head, seg);
		if (n < 0) {
			/* The guest's consumer index is impossible: it reads no
			 * more, so input waits (bounded) until it does. */
			c->ring_errors++;
			break;
		}
		if (n == 0)
			break;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		c->in_prod += (uint32_t)n;
		__atomic_store_n(&intf->in_prod, c->in_prod, __ATOMIC_RELEASE);
		c->in_head = (c->in_head + (size_t)n) % EDERA_CONSOLE_INPUT_MAX;
		c->in_len -= (size_t)n;
		c->input_bytes += (uint64_t)n;
		moved = true;
	}
	return moved;
}

/* ---- serving --------------------------------------------------------------- */

static void really_disconnect(struct ed_console *c);
static void really_free(struct ed_console *c);

static void service(struct ed_console *c)
{
	bool again = false, notify, input = false;
	uint64_t before = c->output_bytes;

	if (!c->intf)
		return;
	c->busy++;
	notify = read_output(c, ED_CONSOLE_SLICE, &again);
	if (c->intf && !c->disconnect_due && !c->free_due) {
		if (flush_input(c))
			notify = input = true;
		if (notify)
			ed_port_notify(c->port);
		if (c->in_len == 0 && c->want_writable && c->writable_cb) {
			c->want_writable = false;
			ED_CALLBACK(c->ctx, c->writable_cb(c->ctx, c->zone, c->writable_data));
		}
	}
	c->busy--;
	if (c->busy > 0)
		return;
	if (c->free_due) {
		really_free(c);
		return;
	}
	if (c->disconnect_due) {
		really_disconnect(c);
		return;
	}
	if (!c->intf)
		return;
	if (again || __atomic_load_n(&c->intf->out_prod, __ATOMIC_ACQUIRE) != c->out_cons)
		enqueue(c); /* the port stays masked until the queue drains */
	else
		/* a notification that brought (next to) nothing is charged
		 * against the channel's budget; one that brought output is
		 * work, bounded like any flood by the slices above (a Linux
		 * guest pushes its output 256 bytes per notification) */
		ed_port_unmask(c->port, !input && c->output_bytes - before < ED_CONSOLE_CHEAP);
}

static void on_event(struct ed_port *port, void *data)
{
	struct ed_console *c = data;

	if (c->queued)
		return; /* served on its turn (the port is masked meanwhile) */
	service(c);
}

/* ---- lifetime -------------------------------------------------------------- */

int ed_console_new(edera_ctx *ctx, edera_zone *zone, size_t history, struct ed_console **out)
{
	struct ed_console *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return ed_error(EDERA_ENOMEM, "out of memory");
	c->ctx = ctx;
	c->zone = zone;
	c->hist_cap = history;
	c->log_max = (uint64_t)EDERA_CONSOLE_LOG_DEFAULT_KIB * 1024;
	*out = c;
	return 0;
}

int ed_console_connect(struct ed_console *c, uint32_t domid, uint64_t mfn, uint32_t remote_port)
{
	edera_ctx *ctx = c->ctx;
	void *page;
	int rc;

	if (c->intf)
		return 0;
	/* The builder granted the ring to dom0 in the reserved entry; a
	 * foreign mapping of the frame is the fallback (older guests, or a
	 * kernel without gntdev). */
	page = xengnttab_map_grant_ref(ctx->hv.xgt, domid, GNTTAB_RESERVED_CONSOLE,
	                               PROT_READ | PROT_WRITE);
	c->by_grant = page != NULL;
	if (!page) {
		xen_pfn_t frame = (xen_pfn_t)mfn;

		page = xenforeignmemory_map(ctx->hv.xfm, domid, PROT_READ | PROT_WRITE, 1, &frame,
		                            NULL);
		if (!page)
			return ed_error(ed_errno_code(errno),
			                "mapping the console ring of domain %u (grant and frame %#llx): %s",
			                domid, (unsigned long long)mfn, strerror(errno));
	}
	rc = ed_port_bind(ctx, domid, remote_port, on_event, c, &c->port);
	if (rc < 0) {
		if (c->by_grant)
			xengnttab_unmap(ctx->hv.xgt, page, 1);
		else
			xenforeignmemory_unmap(ctx->hv.xfm, page, 1);
		return rc;
	}
	c->intf = page;
	/* Start from where the guest's indices are: a re-attached zone has
	 * been served before, by another process. */
	c->out_cons = __atomic_load_n(&c->intf->out_cons, __ATOMIC_ACQUIRE);
	c->in_prod = __atomic_load_n(&c->intf->in_prod, __ATOMIC_ACQUIRE);
	if (c->in_prod - __atomic_load_n(&c->intf->in_cons, __ATOMIC_ACQUIRE) >
	    sizeof(c->intf->in)) {
		/* Not a state we left: start the input ring over, empty. */
		c->ring_errors++;
		c->in_prod = c->intf->in_cons;
		__atomic_store_n(&c->intf->in_prod, c->in_prod, __ATOMIC_RELEASE);
	}
	/* Anything already written (before we bound) is served now; indices
	 * found impossible are skipped over there like any others. */
	service(c);
	return 0;
}

static void really_disconnect(struct ed_console *c)
{
	edera_ctx *ctx = c->ctx;

	c->disconnect_due = false;
	dequeue(c);
	ed_port_close(c->port);
	c->port = NULL;
	if (c->intf) {
		if (c->by_grant)
			xengnttab_unmap(ctx->hv.xgt, c->intf, 1);
		else
			xenforeignmemory_unmap(ctx->hv.xfm, c->intf, 1);
	}
	c->intf = NULL;
	/* Input for a guest that is gone goes nowhere. */
	free(c->inq);
	c->inq = NULL;
	c->in_len = c->in_head = 0;
}

void ed_console_disconnect(struct ed_console *c, bool drain)
{
	bool again;

	if (!c || !c->intf)
		return;
	if (drain && c->busy == 0) {
		/* The guest stopped: what it wrote last is all in the ring. */
		c->busy++;
		read_output(c, sizeof(c->intf->out), &again);
		c->busy--;
		if (c->free_due) {
			really_free(c);
			return;
		}
	}
	if (c->busy > 0) {
		c->disconnect_due = true;
		return;
	}
	really_disconnect(c);
}

static void really_free(struct ed_console *c)
{
	if (c->intf)
		really_disconnect(c);
	ED_LIST_EACH_SAFE(s, nx, &c->subs, struct edera_console_sub, link)
		free(s);
	ed_log_close(c->log);
	free(c->hist);
	free(c->inq);
	free(c);
}

void ed_console_free(struct ed_console *c)
{
	if (!c)
		return;
	if (c->busy > 0 || c->dispatching > 0) {
		c->free_due = true;
		return;
	}
	really_free(c);
}

/* ---- public API ------------------------------------------------------------ */

static int get(edera_zone *zone, const char *what, struct ed_console **out)
{
	*out = NULL;
	if (!zone)
		return ed_error(EDERA_EINVAL, "%s: zone is NULL", what);
	*out = ed_zone_console(zone);
	if (!*out || (*out)->free_due)
		return ed_error(EDERA_ENOTSUP,
		                "%s: zone '%s' hands its console to xenconsoled (console_mode); read "
		                "it with `xl console` or xenconsoled's log",
		                what, edera_zone_name(zone));
	return 0;
}

int edera_console_subscribe(edera_zone *zone, unsigned int flags, edera_console_output_cb cb,
                            void *data, edera_console_sub **out)
{
	struct edera_console_sub *s;
	struct ed_console *c;
	int rc;

	if (out)
		*out = NULL;
	rc = get(zone, "edera_console_subscribe", &c);
	if (rc < 0)
		return rc;
	if (!cb)
		return ed_error(EDERA_EINVAL, "edera_console_subscribe: cb is NULL");
	if (flags & ~(unsigned int)EDERA_CONSOLE_REPLAY)
		return ed_error(EDERA_EINVAL, "edera_console_subscribe: unknown flags %#x", flags);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ed_error(EDERA_ENOMEM, "out of memory");
	s->con = c;
	s->cb = cb;
	s->data = data;
	ed_list_push_front(&c->subs, &s->link);
	if (out)
		*out = s;
	if (flags & EDERA_CONSOLE_REPLAY) {
		const uint8_t *a, *b;
		size_t alen, blen;

		history_segments(c, c->hist_len, &a, &alen, &b, &blen);
		/* The callback may unsubscribe, even free nothing else: the
		 * console stays (only zone.c frees it, never from here). */
		c->dispatching++;
		if (alen && !s->dead)
			ED_CALLBACK(c->ctx, cb(c->ctx, zone, (const char *)a, alen, data));
		if (blen && !s->dead)
			ED_CALLBACK(c->ctx, cb(c->ctx, zone, (const char *)b, blen, data));
		c->dispatching--;
		if (c->dispatching == 0 && c->free_due && c->busy == 0) {
			really_free(c);
			return 0;
		}
		if (c->dispatching == 0 && c->subs_dead)
			subs_sweep(c);
	}
	return 0;
}

void edera_console_unsubscribe(edera_console_sub *s)
{
	struct ed_console *c;

	if (!s)
		return;
	c = s->con;
	s->dead = true;
	c->subs_dead = true;
	if (c->dispatching == 0)
		subs_sweep(c);
}

long edera_console_history(edera_zone *zone, char *buf, size_t cap)
{
	const uint8_t *a, *b;
	size_t alen, blen;
	struct ed_console *c;
	int rc = get(zone, "edera_console_history", &c);

	if (rc < 0)
		return rc;
	if (!buf && cap)
		return ed_error(EDERA_EINVAL, "edera_console_history: buf is NULL");
	history_segments(c, cap, &a, &alen, &b, &blen);
	if (alen)
		memcpy(buf, a, alen);
	if (blen)
		memcpy(buf + alen, b, blen);
	return (long)(alen + blen);
}

long edera_console_write(edera_zone *zone, const void *buf, size_t len)
{
	const uint8_t *src = buf;
	struct ed_console *c;
	size_t room, n;
	int rc = get(zone, "edera_console_write", &c);

	if (rc < 0)
		return rc;
	if (!buf && len)
		return ed_error(EDERA_EINVAL, "edera_console_write: buf is NULL");
	if (!c->intf || c->disconnect_due)
		return ed_error(EDERA_ENOTCONN, "zone '%s': its console is not connected (stopped?)",
		                edera_zone_name(zone));
	if (len == 0)
		return 0;
	if (!c->inq) {
		c->inq = malloc(EDERA_CONSOLE_INPUT_MAX);
		if (!c->inq)
			return ed_error(EDERA_ENOMEM, "out of memory");
	}
	room = EDERA_CONSOLE_INPUT_MAX - c->in_len;
	n = len < room ? len : room;
	for (size_t i = 0; i < n; i++)
		c->inq[(c->in_head + c->in_len + i) % EDERA_CONSOLE_INPUT_MAX] = src[i];
	c->in_len += n;
	if (flush_input(c))
		ed_port_notify(c->port);
	if (n < len)
		c->want_writable = true;
	if (n == 0)
		return ed_error(EDERA_EAGAIN,
		                "zone '%s': its console input queue is full (the guest is not "
		                "reading); wait for the writable callback",
		                edera_zone_name(zone));
	return (long)n;
}

int edera_console_on_writable(edera_zone *zone, edera_console_writable_cb cb, void *data)
{
	struct ed_console *c;
	int rc = get(zone, "edera_console_on_writable", &c);

	if (rc < 0)
		return rc;
	c->writable_cb = cb;
	c->writable_data = data;
	return 0;
}

void ed_console_log_max(struct ed_console *c, uint64_t max_bytes)
{
	c->log_max = max_bytes;
}

int edera_console_log(edera_zone *zone, const char *path)
{
	struct ed_console *c;
	struct ed_log *l = NULL;
	int rc = get(zone, "edera_console_log", &c);

	if (rc < 0)
		return rc;
	if (path) {
		rc = ed_log_open(c->ctx, path, c->log_max, &l);
		if (rc < 0)
			return rc;
	}
	ed_log_close(c->log);
	c->log = l;
	return 0;
}

void edera_console_stats_init(edera_console_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
}

int edera_console_stats_get(edera_zone *zone, edera_console_stats *st)
{
	edera_console_stats r;
	struct ed_console *c;
	int rc;

	if (!st)
		return ed_error(EDERA_EINVAL, "edera_console_stats_get: st is NULL");
	rc = ed_sized_check(st, st->sz, sizeof(*st), "edera_console_stats");
	if (rc < 0)
		return rc;
	rc = get(zone, "edera_console_stats_get", &c);
	if (rc < 0)
		return rc;
	edera_console_stats_init(&r);
	r.output_bytes = c->output_bytes;
	r.input_bytes = c->input_bytes;
	r.input_queued = (uint32_t)c->in_len;
	r.history_bytes = (uint32_t)c->hist_len;
	r.ring_errors = c->ring_errors;
	if (c->log) {
		struct ed_log_stats ls;

		ed_log_stats_get(c->log, &ls);
		r.log_errors = ls.errors;
		r.log_bytes = ls.written;
		r.log_dropped = ls.dropped;
		r.log_queued = ls.queued;
		r.log_rotations = (uint32_t)ls.rotations;
	}
	r.connected = c->intf != NULL && !c->disconnect_due;
	if (c->port)
		ed_port_stats(c->port, &r.notifications, &r.notifications_held);
	r.sz = st->sz;
	memcpy(st, &r, st->sz < sizeof(r) ? st->sz : sizeof(r));
	return 0;
}
