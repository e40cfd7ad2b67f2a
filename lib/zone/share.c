/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Public grants and event channels.  Each handle sits on its zone's list so
 * that whatever the caller leaves is let go of when the zone goes: shared
 * pages revoked (dom0's gntalloc frees a page once the zone's mapping of it
 * is gone too), mapped pages unmapped (a dead domain's memory stays with
 * Xen until then), ports unbound.  When the zone stops on its own, private
 * zeroed pages take the place of the pages in one step (mmap MAP_FIXED), so
 * a caller still touching the address does not fault: the zone decides when
 * it stops; the address goes only when the caller releases the handle or
 * frees the zone's. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <xen/sys/gntdev.h>

#include "ctx.h"
#include "hv/evtchn.h"
#include "part.h"
#include "zone.h"

struct edera_share {
	struct ed_link link; /* on its zone's shares */
	edera_zone *zone;
	bool mapped; /* the zone's pages mapped here, or ours granted */
	void *addr;  /* NULL once dead */
	void *hold;  /* once dead: the private pages in their place, until released */
	size_t n;
	uint32_t refs[];
};

struct edera_evtchn {
	struct ed_link link; /* on its zone's channels, until detached */
	edera_zone *zone;
	struct ed_port *port; /* NULL once dead */
	edera_evtchn_cb cb;
	void *data;
	bool in_cb;
	bool closed; /* closed inside its callback: freed after it */
	bool detached; /* off the zone's list (its zone handle is gone) */
};

/* ---- pages ------------------------------------------------------------------ */

static int check_zone(edera_zone *z, const char *fn)
{
	if (!z || !ed_zone_running(z))
		return ed_error(EDERA_EINVAL, "%s: no running zone", fn);
	return 0;
}

static int check_count(size_t n, const char *fn)
{
	if (n == 0 || n > EDERA_SHARE_MAX_PAGES)
		return ed_error(EDERA_EINVAL, "%s: %zu pages asked; 1 to %d are allowed", fn, n,
		                EDERA_SHARE_MAX_PAGES);
	return 0;
}

static edera_share *share_new(edera_zone *z, size_t n, bool mapped)
{
	edera_share *s = calloc(1, sizeof(*s) + n * sizeof(uint32_t));

	if (!s) {
		ed_error(EDERA_ENOMEM, "out of memory");
		return NULL;
	}
	s->zone = z;
	s->n = n;
	s->mapped = mapped;
	return s;
}

static void share_link(edera_share *s)
{
	edera_zone *z = s->zone;

	ed_list_push_front(&z->shares, &s->link);
}

int edera_share_pages(edera_zone *z, size_t n, int flags, edera_share **out)
{
	struct ed_hv *hv;
	edera_share *s;
	int rc;

	if (!out)
		return ed_error(EDERA_EINVAL, "edera_share_pages: OUT is NULL");
	*out = NULL;
	rc = check_zone(z, "edera_share_pages");
	if (rc == 0)
		rc = check_count(n, "edera_share_pages");
	if (rc < 0)
		return rc;
	hv = &z->ctx->hv;
	if (!hv->xgs) {
		hv->xgs = xengntshr_open(&hv->logger.vtable, 0);
		if (!hv->xgs)
			return ed_error(errno == ENOENT ? EDERA_ENODEV : ed_errno_code(errno),
			                "cannot open /dev/xen/gntalloc to grant pages: %s (load "
			                "module xen-gntalloc)",
			                strerror(errno));
	}
	s = share_new(z, n, false);
	if (!s)
		return EDERA_ENOMEM;
	s->addr = xengntshr_share_pages(hv->xgs, z->domid, (int)n, s->refs,
	                                !(flags & EDERA_SHARE_READONLY));
	if (!s->addr) {
		int e = errno;

		/* gntalloc counts every grant dom0 holds through it against
		 * one limit (module parameter "limit", 1024 by default) */
		rc = ed_error(e == ENOSPC ? EDERA_ENOSPC : e == ENOMEM ? EDERA_ENOMEM : EDERA_EIO,
		              "granting %zu pages to zone '%s': %s%s", n, z->name, strerror(e),
		              e == ENOSPC ? " (dom0's gntalloc limit, module parameter 'limit', "
		                            "counts all shared pages still granted or mapped)"
		                          : "");
		free(s);
		return rc;
	}
	/* gntalloc hands out zeroed pages; say so, whatever the kernel does */
	memset(s->addr, 0, n * EDERA_PAGE_SIZE);
	share_link(s);
	*out = s;
	return 0;
}

int edera_share_map(edera_zone *z, const uint32_t *refs, size_t n, int flags, edera_share **out)
{
	edera_share *s;
	int rc, prot = PROT_READ | (flags & EDERA_SHARE_READONLY ? 0 : PROT_WRITE);

	if (!out)
		return ed_error(EDERA_EINVAL, "edera_share_map: OUT is NULL");
	*out = NULL;
	rc = check_zone(z, "edera_share_map");
	if (rc == 0)
		rc = check_count(n, "edera_share_map");
	if (rc == 0 && !refs)
		rc = ed_error(EDERA_EINVAL, "edera_share_map: REFS is NULL");
	if (rc < 0)
		return rc;
	s = share_new(z, n, true);
	if (!s)
		return EDERA_ENOMEM;
	memcpy(s->refs, refs, n * sizeof(*refs));
	s->addr = xengnttab_map_domain_grant_refs(z->ctx->hv.xgt, (uint32_t)n, z->domid, s->refs,
	                                          prot);
	if (!s->addr) {
		int e = errno;

		/* Xen refuses a reference not granted to us (or read-only for
		 * a writable mapping) with EINVAL from the ioctl's status */
		rc = ed_error(e == EINVAL || e == EPERM || e == EACCES ? EDERA_EACCES
		              : e == ENOMEM                         ? EDERA_ENOMEM
		                                                    : EDERA_EIO,
		              "mapping %zu pages zone '%s' granted: %s (are the references "
		              "granted to domain 0%s?)",
		              n, z->name, strerror(e), prot & PROT_WRITE ? ", writable" : "");
		free(s);
		return rc;
	}
	share_link(s);
	*out = s;
	return 0;
}

void *edera_share_addr(const edera_share *s)
{
	return s ? s->addr : NULL;
}

size_t edera_share_pages_count(const edera_share *s)
{
	return s ? s->n : 0;
}

const uint32_t *edera_share_refs(const edera_share *s)
{
	return s ? s->refs : NULL;
}

edera_zone *edera_share_zone(const edera_share *s)
{
	return s ? s->zone : NULL;
}

/* Private zeroed pages over LEN bytes at ADDR, replacing what is mapped there
 * in one step. */
static bool placeholder(void *addr, size_t len)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
	            -1, 0) == addr;
}

/* Give the pages back; the handle stays.  With KEEP, the address stays
 * mapped (to private zeroed pages) until the handle is released. */
static void share_drop(edera_share *s, bool keep)
{
	struct ed_hv *hv = &s->zone->ctx->hv;
	size_t len = s->n * EDERA_PAGE_SIZE;

	if (!s->addr)
		return;
	if (keep && s->mapped) {
		/* what xengnttab_unmap does, with the new pages put in place
		 * before the grants are let go of */
		int fd = xengnttab_fd(hv->xgt);
		struct ioctl_gntdev_get_offset_for_vaddr get = { .vaddr = (uintptr_t)s->addr };

		if (ioctl(fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &get) == 0 &&
		    placeholder(s->addr, len)) {
			struct ioctl_gntdev_unmap_grant_ref un = { .index = get.offset,
				                                   .count = get.count };

			(void)ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un);
			s->hold = s->addr;
			s->addr = NULL;
			return;
		}
	} else if (keep && placeholder(s->addr, len)) {
		/* gntalloc: the grants were released as they were made; the
		 * mapping replaced, the pages are revoked */
		s->hold = s->addr;
		s->addr = NULL;
		return;
	}
	if (s->mapped)
		xengnttab_unmap(hv->xgt, s->addr, (uint32_t)s->n);
	else
		xengntshr_unshare(hv->xgs, s->addr, (uint32_t)s->n);
	s->addr = NULL;
}

static void share_free(edera_share *s)
{
	share_drop(s, false);
	if (s->hold)
		munmap(s->hold, s->n * EDERA_PAGE_SIZE);
	ed_list_remove(&s->zone->shares, &s->link);
	free(s);
}

void edera_share_release(edera_share *s)
{
	if (s)
		share_free(s);
}

/* ---- event channels ----------------------------------------------------------- */

static void evtchn_free(edera_evtchn *ch)
{
	edera_zone *z = ch->zone;

	ed_port_close(ch->port);
	ch->port = NULL;
	if (!ch->detached)
		ed_list_remove(&z->channels, &ch->link);
	free(ch);
}

static void on_port(struct ed_port *port, void *data)
{
	edera_evtchn *ch = data;
	edera_ctx *ctx = ch->zone->ctx;

	ch->in_cb = true;
	ED_CALLBACK(ctx, ch->cb(ctx, ch, ch->data));
	ch->in_cb = false;
	if (ch->closed)
		evtchn_free(ch);
	else if (ch->port)
		ed_port_unmask(ch->port, true); /* may fire again; each call is charged */
}

static int evtchn_new(edera_zone *z, bool bind, uint32_t remote, edera_evtchn_cb cb, void *data,
                      edera_evtchn **out)
{
	const char *fn = bind ? "edera_evtchn_bind" : "edera_evtchn_alloc_unbound";
	edera_evtchn *ch;
	int rc;

	if (!out)
		return ed_error(EDERA_EINVAL, "%s: OUT is NULL", fn);
	*out = NULL;
	rc = check_zone(z, fn);
	if (rc == 0 && !cb)
		rc = ed_error(EDERA_EINVAL, "%s: a callback is required", fn);
	if (rc < 0)
		return rc;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return ed_error(EDERA_ENOMEM, "out of memory");
	ch->zone = z;
	ch->cb = cb;
	ch->data = data;
	if (bind)
		rc = ed_port_bind(z->ctx, z->domid, remote, on_port, ch, &ch->port);
	else
		rc = ed_port_alloc_unbound(z->ctx, z->domid, on_port, ch, &ch->port);
	if (rc < 0) {
		if (bind && rc == EDERA_EINVAL)
			ed_error(rc, "zone '%s' has no port %u left unbound for domain 0", z->name,
			         remote);
		free(ch);
		return rc;
	}
	/* ports start masked in our dispatch until unmasked */
	ed_port_unmask(ch->port, false);
	ed_list_push_front(&z->channels, &ch->link);
	*out = ch;
	return 0;
}

int edera_evtchn_alloc_unbound(edera_zone *z, edera_evtchn_cb cb, void *data, edera_evtchn **out)
{
	return evtchn_new(z, false, 0, cb, data, out);
}

int edera_evtchn_bind(edera_zone *z, uint32_t remote_port, edera_evtchn_cb cb, void *data,
                      edera_evtchn **out)
{
	return evtchn_new(z, true, remote_port, cb, data, out);
}

uint32_t edera_evtchn_port(const edera_evtchn *ch)
{
	return ch && ch->port ? ed_port_local(ch->port) : 0;
}

edera_zone *edera_evtchn_zone(const edera_evtchn *ch)
{
	return ch ? ch->zone : NULL;
}

int edera_evtchn_notify(edera_evtchn *ch)
{
	if (!ch)
		return ed_error(EDERA_EINVAL, "edera_evtchn_notify: channel is NULL");
	if (!ch->port || ch->closed)
		return ed_error(EDERA_ENOTCONN, "the event channel's zone '%s' is gone",
		                ch->zone->name);
	return ed_port_notify(ch->port);
}

void edera_evtchn_close(edera_evtchn *ch)
{
	if (!ch || ch->closed)
		return;
	if (ch->in_cb) {
		/* on_port frees it once the callback returns */
		ch->closed = true;
		ed_port_close(ch->port);
		ch->port = NULL;
		return;
	}
	evtchn_free(ch);
}

/* ---- the zone goes -------------------------------------------------------------- */

static void share_zone_gone(edera_zone *z)
{
	ED_LIST_EACH(s, &z->shares, edera_share, link)
		share_drop(s, true);
	ED_LIST_EACH(ch, &z->channels, edera_evtchn, link) {
		ed_port_close(ch->port);
		ch->port = NULL;
	}
}

static void share_zone_free(edera_zone *z)
{
	share_zone_gone(z);
	while (!ed_list_empty(&z->shares))
		edera_share_release(ed_list_first(&z->shares, edera_share, link));
	while (!ed_list_empty(&z->channels)) {
		edera_evtchn *ch = ed_list_first(&z->channels, edera_evtchn, link);

		if (ch->in_cb) {
			/* freed by on_port after the callback; off the list now */
			ch->closed = true;
			ch->detached = true;
			ed_list_remove(&z->channels, &ch->link);
			continue;
		}
		evtchn_free(ch);
	}
}

static void share_zone_stopped(edera_zone *z, bool drain)
{
	share_zone_gone(z);
}

static void share_ctx_close(edera_ctx *ctx)
{
	/* the ports still bound (the zones' and the caller's own) */
	ed_evtchn_fini(ctx);
}

/* What the caller shared or mapped with a zone goes when it stops: the
 * handles stay (dead) until released or the zone's handle is freed. */
const struct ed_zone_part ed_share_part = {
	.name = "share",
	.stopped = share_zone_stopped,
	.forget = share_zone_gone,
	.free = share_zone_free,
	.ctx_close = share_ctx_close,
};
