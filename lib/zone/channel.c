/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Channels (edera/channel.h): framed messages over rings in pages shared
 * with a zone and an event channel, built on the public share and event
 * channel primitives.  Everything the guest writes — its two indices and
 * the frames' headers — is checked before use; the ring arithmetic is the
 * console's (console/ring.c), which the fuzzer covers.
 *
 * Lifetimes: a channel is held (holds) while its own code calls the
 * caller; edera_channel_close inside a callback only marks it, and the last
 * release frees it.  on_end is delivered from the channel's timer, on a
 * loop turn of its own, whatever ended it (a protocol error found inside
 * edera_channel_send, the zone stopping). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "console/ring.h"
#include "ctx.h"
#include "edera/channel.h"
#include "edera/share.h"
#include "edera/xenstore.h"
#include "part.h"
#include "zone.h"

#define HDR    8
#define RX_CAP (HDR + EDERA_CHANNEL_FRAME_MAX)
/* What one loop turn takes from a guest that writes without end. */
#define SLICE (256 * 1024)

struct edera_channel {
	struct ed_link link; /* on its zone's wchans */
	edera_zone *zone;
	edera_channel_frame_cb on_frame;
	edera_channel_end_cb on_end;
	edera_channel_writable_cb on_writable;
	void *data;
	char name[33];
	char node[96];      /* its XenStore node */
	edera_share *share; /* NULL once the zone's handle is freed */
	edera_evtchn *port; /* likewise */
	volatile struct edera_channel_shared *sh;
	volatile uint8_t *h2g, *g2h;
	uint32_t ring_size;
	uint32_t h2g_prod, g2h_cons; /* ours: never read back from the page */
	uint8_t *rx;
	size_t rx_len;
	uint8_t *tx;
	size_t tx_off, tx_len, tx_cap, queue_max;
	bool want_writable;
	bool held; /* edera_channel_hold: frames are not taken */
	unsigned int holds;
	bool closed;      /* edera_channel_close called (or the zone's handle freed) */
	bool more;        /* the guest had more than a slice: the timer goes on */
	bool end_pending; /* on_end still to be delivered */
	struct ed_err end_err;
	uv_timer_t timer;
	edera_channel_stats st;
};

static void chan_free(uv_handle_t *h)
{
	edera_channel *ch = h->data;

	free(ch->rx);
	free(ch->tx);
	free(ch);
}

static void xs_ignore(edera_ctx *ctx, int status, void *data)
{
	(void)ctx;
	(void)status;
	(void)data;
}

/* Let go of everything (the zone's handle, if freed, took the share and
 * the port already). */
static void really_close(edera_channel *ch)
{
	edera_zone *z = ch->zone;

	if (ch->port)
		edera_evtchn_close(ch->port);
	if (ch->share)
		edera_share_release(ch->share);
	if (ch->share && ed_zone_running(z) && !z->ctx->closing)
		(void)edera_xs_rm(z->ctx, NULL, ch->node, xs_ignore, NULL);
	ch->share = NULL;
	ch->port = NULL;
	ed_list_remove(&z->wchans, &ch->link);
	uv_close((uv_handle_t *)&ch->timer, chan_free);
}

static void hold(edera_channel *ch)
{
	ch->holds++;
}

/* Returns whether CH is still there and open. */
static bool release(edera_channel *ch)
{
	if (--ch->holds == 0 && ch->closed) {
		really_close(ch);
		return false;
	}
	return !ch->closed;
}

static void on_timer(uv_timer_t *t);

static void arm(edera_channel *ch)
{
	uv_timer_start(&ch->timer, on_timer, 0, 0);
}

/* The channel ended (STATUS); the last error says why.  on_end comes on
 * the timer. */
static void end(edera_channel *ch, int status)
{
	if (ch->st.ended)
		return;
	ch->st.ended = status;
	if (status == EDERA_EPROTO)
		ch->st.errors++;
	ed_error_save_code(&ch->end_err, status);
	ch->end_pending = true;
	arm(ch);
}

static void proto(edera_channel *ch, const char *what)
{
	ed_error(EDERA_EPROTO,
	         "channel '%s' of zone '%s': %s (a buggy or hostile guest): "
	         "the channel is closed",
	         ch->name, ch->zone->name, what);
	end(ch, EDERA_EPROTO);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void notify(edera_channel *ch)
{
	if (ch->port)
		(void)edera_evtchn_notify(ch->port); /* ENOTCONN once the zone went */
}

/* Move queued frames into the host-to-guest ring.  WRITABLE: tell the
 * caller when the queue drained after a refused send (not from inside
 * edera_channel_send). */
static void flush(edera_channel *ch, bool writable)
{
	bool wrote = false;

	while (ch->tx_len > 0 && !ch->st.ended) {
		uint32_t cons = ch->sh->h2g_cons;
		long n;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		n = ed_ring_write(ch->h2g, ch->ring_size, cons, ch->h2g_prod, ch->tx + ch->tx_off,
		                  ch->tx_len);
		if (n < 0) {
			proto(ch, "impossible host-to-guest consumer index");
			return;
		}
		if (n == 0)
			break;
		ch->h2g_prod += (uint32_t)n;
		ch->tx_off += (size_t)n;
		ch->tx_len -= (size_t)n;
		wrote = true;
	}
	if (ch->tx_len == 0)
		ch->tx_off = 0;
	if (wrote) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		ch->sh->h2g_prod = ch->h2g_prod;
		notify(ch);
	}
	if (writable && ch->want_writable && ch->tx_len <= ch->queue_max / 2 && !ch->st.ended) {
		ch->want_writable = false;
		if (ch->on_writable) {
			edera_ctx *ctx = ch->zone->ctx;

			hold(ch);
			ED_CALLBACK(ctx, ch->on_writable(ctx, ch, ch->data));
			release(ch);
		}
	}
}

/* Take what the guest wrote and deliver its frames: a slice (then the
 * timer goes on) or, with ALL, everything there is.  Returns false if CH
 * was freed. */
static bool pump(edera_channel *ch, bool all)
{
	edera_ctx *ctx = ch->zone->ctx;
	bool consumed = false;
	size_t done = 0;

	hold(ch);
	while (!ch->closed && !ch->st.ended && !ch->held) {
		uint32_t prod = ch->sh->g2h_prod;
		size_t off = 0;
		long n;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		n = ed_ring_read(ch->g2h, ch->ring_size, ch->g2h_cons, prod, ch->rx + ch->rx_len,
		                 RX_CAP - ch->rx_len);
		if (n < 0) {
			proto(ch, "impossible guest-to-host producer index");
			break;
		}
		if (n > 0) {
			ch->g2h_cons += (uint32_t)n;
			ch->rx_len += (size_t)n;
			__atomic_thread_fence(__ATOMIC_RELEASE);
			ch->sh->g2h_cons = ch->g2h_cons;
			consumed = true;
		}
		while (ch->rx_len - off >= HDR && !ch->closed && !ch->held && !ch->st.ended) {
			uint32_t len = le32(ch->rx + off), type = le32(ch->rx + off + 4);

			if (len > EDERA_CHANNEL_FRAME_MAX) {
				char what[96];

				snprintf(what, sizeof(what), "a frame of %u bytes (at most %u)",
				         len, EDERA_CHANNEL_FRAME_MAX);
				proto(ch, what);
				goto out;
			}
			if (ch->rx_len - off < HDR + (size_t)len)
				break;
			ch->st.frames_in++;
			ch->st.bytes_in += len;
			ED_CALLBACK(ctx,
			            ch->on_frame(ctx, ch, type, ch->rx + off + HDR, len, ch->data));
			off += HDR + (size_t)len;
			done += HDR + (size_t)len;
		}
		if (ch->closed)
			break;
		memmove(ch->rx, ch->rx + off, ch->rx_len - off);
		ch->rx_len -= off;
		if (n == 0 && off == 0)
			break;
		if (!all && done >= SLICE) {
			ch->more = true;
			arm(ch);
			break;
		}
	}
out:
	if (consumed && !ch->closed)
		notify(ch); /* the guest may be waiting for room */
	return release(ch);
}

static void on_timer(uv_timer_t *t)
{
	edera_channel *ch = t->data;
	edera_ctx *ctx = ch->zone->ctx;

	if (ch->closed)
		return;
	if (ch->more && !ch->st.ended) {
		ch->more = false;
		if (!pump(ch, false))
			return;
		flush(ch, true);
	}
	if (ch->end_pending && !ch->closed) {
		ch->end_pending = false;
		if (ch->on_end) {
			hold(ch);
			ed_error_restore(&ch->end_err);
			ED_CALLBACK(ctx, ch->on_end(ctx, ch, ch->st.ended, ch->data));
			release(ch);
		}
	}
}

static void on_port(edera_ctx *ctx, edera_evtchn *port, void *data)
{
	edera_channel *ch = data;

	(void)ctx;
	(void)port;
	if (ch->closed || ch->st.ended)
		return;
	if (pump(ch, false))
		flush(ch, true);
}

void edera_channel_config_init(edera_channel_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

static int check_config(const edera_channel_config *cfg)
{
	size_t n;
	int rc;

	if (!cfg)
		return ed_error(EDERA_EINVAL, "edera_channel_open: CFG is NULL");
	rc = ed_sized_check(cfg, cfg->sz, sizeof(*cfg), "edera_channel_config");
	if (rc < 0)
		return rc;
	if (!cfg->name || !*cfg->name)
		return ed_error(EDERA_EINVAL, "edera_channel_open: the channel needs a name");
	n = strlen(cfg->name);
	if (n > 32 || strspn(cfg->name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return ed_error(
		        EDERA_EINVAL,
		        "edera_channel_open: name '%.40s' is not 1 to 32 of a-z, 0-9 and '-'",
		        cfg->name);
	if (cfg->ring_pages > EDERA_CHANNEL_RING_PAGES_MAX ||
	    (cfg->ring_pages & (cfg->ring_pages - 1)) != 0)
		return ed_error(EDERA_EINVAL,
		                "edera_channel_open: ring_pages %u is not a power of two up to %d",
		                cfg->ring_pages, EDERA_CHANNEL_RING_PAGES_MAX);
	if (cfg->queue_kib != 0 && cfg->queue_kib < (HDR + EDERA_CHANNEL_FRAME_MAX + 1023) / 1024)
		return ed_error(EDERA_EINVAL,
		                "edera_channel_open: queue_kib %u cannot hold the largest frame "
		                "(at least %d)",
		                cfg->queue_kib, (HDR + EDERA_CHANNEL_FRAME_MAX + 1023) / 1024);
	if (!cfg->on_frame)
		return ed_error(EDERA_EINVAL, "edera_channel_open: on_frame is required");
	return 0;
}

int edera_channel_open(edera_zone *z, const edera_channel_config *cfg, edera_channel **out)
{
	uint32_t pages;
	edera_channel *ch;
	char value[64 + 12 * (1 + 2 * EDERA_CHANNEL_RING_PAGES_MAX)];
	size_t off;
	const uint32_t *refs;
	int rc;

	if (!out)
		return ed_error(EDERA_EINVAL, "edera_channel_open: OUT is NULL");
	*out = NULL;
	rc = check_config(cfg);
	if (rc < 0)
		return rc;
	if (!z || !ed_zone_running(z))
		return ed_error(EDERA_EINVAL, "edera_channel_open: no running zone");
	ED_LIST_EACH(c, &z->wchans, edera_channel, link)
	if (strcmp(c->name, cfg->name) == 0)
		return ed_error(EDERA_EEXIST, "zone '%s' has a channel '%s' open already", z->name,
		                cfg->name);
	pages = cfg->ring_pages ? cfg->ring_pages : EDERA_CHANNEL_RING_PAGES_DEFAULT;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return ed_error(EDERA_ENOMEM, "out of memory");
	ch->rx = malloc(RX_CAP);
	ch->queue_max =
	        (size_t)(cfg->queue_kib ? cfg->queue_kib : EDERA_CHANNEL_QUEUE_KIB_DEFAULT) * 1024;
	if (!ch->rx) {
		free(ch);
		return ed_error(EDERA_ENOMEM, "out of memory");
	}
	rc = edera_share_pages(z, 1 + 2 * (size_t)pages, 0, &ch->share);
	if (rc == 0)
		rc = edera_evtchn_alloc_unbound(z, on_port, ch, &ch->port);
	if (rc < 0) {
		if (ch->share)
			edera_share_release(ch->share);
		free(ch->rx);
		free(ch);
		return rc;
	}
	ch->zone = z;
	ch->on_frame = cfg->on_frame;
	ch->on_end = cfg->on_end;
	ch->on_writable = cfg->on_writable;
	ch->data = cfg->data;
	snprintf(ch->name, sizeof(ch->name), "%s", cfg->name);
	snprintf(ch->node, sizeof(ch->node), "/local/domain/%u/data/edera-channel/%s", z->domid,
	         cfg->name);
	ch->ring_size = pages * EDERA_PAGE_SIZE;
	ch->sh = edera_share_addr(ch->share);
	ch->h2g = (volatile uint8_t *)ch->sh + EDERA_PAGE_SIZE;
	ch->g2h = ch->h2g + ch->ring_size;
	ch->sh->ring_pages = pages;
	ch->sh->version = EDERA_CHANNEL_VERSION;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ch->sh->magic = EDERA_CHANNEL_MAGIC;
	uv_timer_init(edera_ctx_loop(z->ctx), &ch->timer);
	ch->timer.data = ch;
	ed_list_push_back(&z->wchans, &ch->link);
	/* publish: "PORT RING_PAGES REF,REF,..." */
	refs = edera_share_refs(ch->share);
	off = (size_t)snprintf(value, sizeof(value), "%u %u ", edera_evtchn_port(ch->port), pages);
	for (uint32_t i = 0; i < 1 + 2 * pages; i++)
		off += (size_t)snprintf(value + off, sizeof(value) - off, "%s%u", i ? "," : "",
		                        refs[i]);
	rc = edera_xs_write(z->ctx, NULL, ch->node, value, off, xs_ignore, NULL);
	if (rc < 0) {
		struct ed_err e;

		ed_error_save(&e);
		ch->closed = true;
		really_close(ch);
		return ed_error_restore(&e);
	}
	*out = ch;
	return 0;
}

int edera_channel_send(edera_channel *ch, uint32_t type, const void *payload, size_t len)
{
	size_t need;

	if (!ch)
		return ed_error(EDERA_EINVAL, "edera_channel_send: CH is NULL");
	if (!payload && len)
		return ed_error(EDERA_EINVAL, "edera_channel_send: PAYLOAD is NULL but LEN is %zu",
		                len);
	if (len > EDERA_CHANNEL_FRAME_MAX)
		return ed_error(EDERA_EINVAL,
		                "edera_channel_send: a frame of %zu bytes (at most %d)", len,
		                EDERA_CHANNEL_FRAME_MAX);
	if (ch->closed || ch->st.ended)
		return ed_error(EDERA_ENOTCONN, "channel '%s' of zone '%s' has ended", ch->name,
		                ch->zone->name);
	need = HDR + len;
	if (ch->tx_len + need > ch->queue_max) {
		ch->want_writable = true;
		return ed_error(EDERA_EAGAIN,
		                "channel '%s': the send queue is full (%zu bytes "
		                "waiting for the guest to read)",
		                ch->name, ch->tx_len);
	}
	if (ch->tx_off + ch->tx_len + need > ch->tx_cap) {
		if (ch->tx_off) {
			memmove(ch->tx, ch->tx + ch->tx_off, ch->tx_len);
			ch->tx_off = 0;
		}
		if (ch->tx_len + need > ch->tx_cap) {
			size_t cap = ch->tx_cap ? ch->tx_cap : 4096;
			uint8_t *p;

			while (cap < ch->tx_len + need)
				cap *= 2;
			p = realloc(ch->tx, cap);
			if (!p)
				return ed_error(EDERA_ENOMEM, "out of memory");
			ch->tx = p;
			ch->tx_cap = cap;
		}
	}
	put_le32(ch->tx + ch->tx_off + ch->tx_len, (uint32_t)len);
	put_le32(ch->tx + ch->tx_off + ch->tx_len + 4, type);
	if (len)
		memcpy(ch->tx + ch->tx_off + ch->tx_len + HDR, payload, len);
	ch->tx_len += need;
	ch->st.frames_out++;
	ch->st.bytes_out += len;
	flush(ch, false);
	return 0;
}

int edera_channel_hold(edera_channel *ch, int hold)
{
	if (!ch)
		return ed_error(EDERA_EINVAL, "edera_channel_hold: CH is NULL");
	if (ch->held && !hold && !ch->closed && !ch->st.ended) {
		/* frames already taken or written meanwhile: on the timer */
		ch->more = true;
		arm(ch);
	}
	ch->held = hold != 0;
	return 0;
}

void edera_channel_close(edera_channel *ch)
{
	if (!ch || ch->closed)
		return;
	ch->closed = true;
	uv_timer_stop(&ch->timer);
	if (ch->holds == 0)
		really_close(ch);
}

edera_zone *edera_channel_zone(const edera_channel *ch)
{
	return ch ? ch->zone : NULL;
}

void edera_channel_stats_init(edera_channel_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
}

int edera_channel_stats_get(const edera_channel *ch, edera_channel_stats *st)
{
	size_t sz;
	int rc;

	if (!ch || !st)
		return ed_error(EDERA_EINVAL, "edera_channel_stats_get: NULL argument");
	rc = ed_sized_check(st, st->sz, sizeof(*st), "edera_channel_stats");
	if (rc < 0)
		return rc;
	sz = st->sz;
	*st = ch->st;
	st->sz = sz;
	st->queued = (uint32_t)ch->tx_len;
	return 0;
}

/* ---- the zone's end ---------------------------------------------------------- */

/* Before the shares go (this part runs before theirs): what the guest
 * wrote is still delivered when it exits (DRAIN), then the channel ends. */
static void chan_zone_stopped(edera_zone *z, bool drain)
{
	size_t n = 0, i = 0;
	edera_channel **all;

	ED_LIST_EACH(ch, &z->wchans, edera_channel, link)
	n++;
	if (n == 0)
		return;
	all = calloc(n, sizeof(*all));
	if (!all) { /* cannot hold them: end them without delivering more */
		ED_LIST_EACH(ch, &z->wchans, edera_channel, link)
		{
			ed_error(EDERA_ENOTCONN, "zone '%s' stopped", z->name);
			end(ch, EDERA_ENOTCONN);
		}
		return;
	}
	ED_LIST_EACH(ch, &z->wchans, edera_channel, link)
	{
		hold(ch);
		all[i++] = ch;
	}
	for (i = 0; i < n; i++) {
		edera_channel *ch = all[i];

		if (drain && !ch->closed && !ch->st.ended)
			pump(ch, true);
		if (!ch->closed) {
			ed_error(EDERA_ENOTCONN, "zone '%s' stopped: channel '%s' ended", z->name,
			         ch->name);
			end(ch, EDERA_ENOTCONN);
		}
	}
	for (i = 0; i < n; i++)
		release(all[i]);
	free(all);
}

/* The zone's handle is freed: the share part freed the pages and the port
 * (its free runs before this one's: parts free in reverse). */
static void chan_zone_free(edera_zone *z)
{
	ED_LIST_EACH_SAFE(ch, nx, &z->wchans, edera_channel, link)
	{
		ch->share = NULL;
		ch->port = NULL;
		ch->closed = true;
		uv_timer_stop(&ch->timer);
		if (ch->holds == 0)
			really_close(ch);
	}
}

const struct ed_zone_part ed_channel_part = {
        .name = "channel",
        .stopped = chan_zone_stopped,
        .free = chan_zone_free,
};
