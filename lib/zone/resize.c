/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run-time memory and vCPU changes.  Both are requests to the guest's
 * kernel through XenStore (memory/target for its balloon driver,
 * cpu/N/availability for its vCPU hot-plug watcher); neither tells us when
 * it is done, so a timer asks Xen until the domain's page count, or its
 * count of running vCPUs, matches — or the request's time is up. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "part.h"
#include "zone.h"

/* How often Xen is asked while a request is pending. */
#define RESIZE_POLL_MS 50

struct ed_resize {
	uv_timer_t timer;
	edera_zone *zone;  /* NULL once ended */
	bool mem;          /* memory, or vCPUs */
	uint64_t target_kib;
	uint64_t prev_target_kib; /* memory: the target it replaced */
	uint32_t vcpus;
	uint64_t deadline; /* loop time (ms) */
	bool seen_there;   /* memory: the last poll found the target reached */
	int refs;          /* the timer handle, and each write in flight */
	edera_zone_memory_cb mem_cb;
	edera_zone_done_cb vcpu_cb;
	void *data;
};

static void resize_unref(struct ed_resize *op)
{
	if (--op->refs == 0)
		free(op);
}

static void timer_closed(uv_handle_t *h)
{
	resize_unref(ed_container_of((uv_timer_t *)h, struct ed_resize, timer));
}

/* Within 1 MiB, or 1% of the target if that is more: a guest's kernel keeps
 * a few pages of its own accounting out of the balloon. */
static uint64_t tolerance_kib(uint64_t target_kib)
{
	return target_kib / 100 > 1024 ? target_kib / 100 : 1024;
}

static void finish(struct ed_resize *op, int status, uint64_t reached_kib)
{
	edera_zone *z = op->zone;
	edera_ctx *ctx;

	if (!z)
		return;
	ctx = z->ctx;
	/* a newer request may already have taken the zone's slot */
	if (op->mem && z->mem_op == op)
		z->mem_op = NULL;
	else if (!op->mem && z->vcpu_op == op)
		z->vcpu_op = NULL;
	op->zone = NULL;
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, timer_closed);
	if (op->mem && op->mem_cb)
		ED_CALLBACK(ctx, op->mem_cb(ctx, status, z, reached_kib, op->data));
	else if (!op->mem && op->vcpu_cb)
		ED_CALLBACK(ctx, op->vcpu_cb(ctx, status, z, op->data));
}

static void poll_tick(uv_timer_t *t)
{
	struct ed_resize *op = ed_container_of(t, struct ed_resize, timer);
	edera_zone *z = op->zone;
	xc_dominfo_t di;
	uint64_t cur = 0;
	bool there = false, found;

	/* A zone this library is destroying is not asked about: its destroy
	 * ends the request (as cancelled), or, if it fails, polling goes on. */
	if (z->state == ED_ZS_DESTROYING) {
		op->seen_there = false;
		return;
	}
	memset(&di, 0, sizeof(di));
	found = xc_domain_getinfo(z->ctx->hv.xch, z->domid, 1, &di) == 1 && di.domid == z->domid;
	if (!found)
		memset(&di, 0, sizeof(di));
	/* A domain being destroyed gives its pages back to Xen one batch at a
	 * time, so its count passes through any smaller target on the way to
	 * zero; one that has shut down is about to go the same way.  Neither
	 * has reached anything: the exit path, or the destroy, ends the
	 * request (as cancelled).  Xen reports a domain dying only once all
	 * its pages are back, so the flag alone is not enough: for a destroy
	 * by someone else, a memory target counts as reached only when two
	 * polls in a row find it (a domain being torn down is well past it by
	 * the second), or at the deadline, when one does. */
	if (found)
		cur = (uint64_t)di.nr_pages * 4;
	if (found && !di.dying && !di.shutdown) {
		if (op->mem) {
			uint64_t tol = tolerance_kib(op->target_kib);

			there = cur + tol >= op->target_kib && cur <= op->target_kib + tol;
		} else {
			there = di.nr_online_vcpus == op->vcpus;
		}
	}
	if (there && op->mem && !op->seen_there && uv_now(z->ctx->loop) < op->deadline) {
		op->seen_there = true;
		return;
	}
	op->seen_there = false;
	/* A domain that went away is reported by the exit path, which ends
	 * the request. */
	if (there) {
		finish(op, 0, cur);
		return;
	}
	if (uv_now(z->ctx->loop) >= op->deadline) {
		if (!found)
			ed_error(EDERA_ETIMEDOUT, "zone '%s': Xen no longer reports its domain",
			         z->name);
		else if (op->mem)
			ed_error(EDERA_ETIMEDOUT,
			         "zone '%s' holds %llu MiB, not the %llu MiB asked: its balloon "
			         "driver did not get there in time (is there one? can it free that "
			         "much?)",
			         z->name, (unsigned long long)(cur >> 10),
			         (unsigned long long)(op->target_kib >> 10));
		else
			ed_error(EDERA_ETIMEDOUT,
			         "zone '%s' runs %u vCPUs, not the %u asked: its kernel did not "
			         "follow cpu/N/availability in time (vCPU hot-plug support?)",
			         z->name, di.nr_online_vcpus, op->vcpus);
		finish(op, EDERA_ETIMEDOUT, cur);
	}
}

static void written(edera_ctx *ctx, int status, void *data)
{
	struct ed_resize *op = data;

	edera_zone *z = op->zone;

	if (status < 0 && z) {
		/* memory/target was not written: the guest was never asked, so
		 * Xen's maximum and the zone's target go back to what they were
		 * (unless a newer request has moved them since) */
		if (op->mem && z->mem_op == op) {
			xc_domain_setmaxmem(z->ctx->hv.xch, z->domid,
			                    op->prev_target_kib + ED_PV_MAXMEM_SLACK_KIB);
			z->target_kib = op->prev_target_kib;
		}
		finish(op, status, 0);
	}
	resize_unref(op);
}

static int write_node(struct ed_resize *op, const char *rel, const char *value)
{
	edera_zone *z = op->zone;
	char path[96];
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", z->domid, rel);
	rc = edera_xs_write(z->ctx, NULL, path, value, strlen(value), written, op);
	if (rc == 0)
		op->refs++;
	return rc;
}

static struct ed_resize *resize_new(edera_zone *z, bool mem, unsigned int timeout_ms)
{
	struct ed_resize *op = calloc(1, sizeof(*op));

	if (!op) {
		ed_error(EDERA_ENOMEM, "out of memory");
		return NULL;
	}
	op->zone = z;
	op->mem = mem;
	op->refs = 1; /* the timer */
	uv_timer_init(z->ctx->loop, &op->timer);
	op->deadline = uv_now(z->ctx->loop) + (timeout_ms ? timeout_ms : EDERA_ZONE_RESIZE_TIMEOUT_MS);
	return op;
}

/* Drop a request whose writes could not even start. */
static void resize_abort(struct ed_resize *op)
{
	op->zone = NULL;
	uv_close((uv_handle_t *)&op->timer, timer_closed);
}

/* End OLD, which a newer request replaced (already in the zone's slot, so
 * OLD's callback may even make a third). */
static void supersede(struct ed_resize *old)
{
	if (!old)
		return;
	ed_error(EDERA_ECANCELED, "a newer request for zone '%s' replaced this one",
	         old->zone->name);
	finish(old, EDERA_ECANCELED, 0);
}

int edera_zone_set_memory(edera_zone *z, uint64_t target_mib, unsigned int timeout_ms,
                          edera_zone_memory_cb cb, void *data)
{
	uint64_t target_kib, max_kib, cur_kib;
	struct ed_resize *op, *old;
	xc_dominfo_t di;
	char value[32];
	int rc;

	if (!z || !ed_zone_running(z))
		return ed_error(EDERA_EINVAL, "edera_zone_set_memory: no running zone");
	if (xc_domain_getinfo(z->ctx->hv.xch, z->domid, 1, &di) != 1 || di.domid != z->domid)
		return ed_error(EDERA_EINVAL, "zone '%s' has no domain any more", z->name);
	max_kib = z->ceiling_kib;
	if (target_mib > max_kib >> 10)
		return ed_error(EDERA_EINVAL,
		                "zone '%s' cannot grow to %llu MiB: its maximum is %llu MiB "
		                "(max_memory_mib, set at creation)",
		                z->name, (unsigned long long)target_mib,
		                (unsigned long long)(max_kib >> 10));
	if (target_mib < EDERA_ZONE_MEMORY_FLOOR_MIB)
		return ed_error(EDERA_EINVAL,
		                "%llu MiB is below the floor of %d MiB a zone's kernel needs to "
		                "keep running",
		                (unsigned long long)target_mib, EDERA_ZONE_MEMORY_FLOOR_MIB);
	target_kib = target_mib * 1024;
	cur_kib = (uint64_t)di.nr_pages * 4;
	if (target_kib > cur_kib) {
		uint64_t free_kib;

		if (ed_hv_free_kib(&z->ctx->hv, &free_kib) < 0)
			return ed_error(ed_errno_code(errno), "reading the host's free memory: %s",
			                strerror(errno));
		if (target_kib - cur_kib > free_kib)
			return ed_error(EDERA_ENOMEM,
			                "zone '%s' needs %llu MiB more to reach %llu MiB, but the "
			                "host has only %llu MiB free",
			                z->name, (unsigned long long)((target_kib - cur_kib) >> 10),
			                (unsigned long long)target_mib,
			                (unsigned long long)(free_kib >> 10));
	}
	op = resize_new(z, true, timeout_ms);
	if (!op)
		return EDERA_ENOMEM;
	op->target_kib = target_kib;
	op->prev_target_kib = z->target_kib;
	op->mem_cb = cb;
	op->data = data;
	/* Xen's maximum moves with the target, first (as xl mem-set does): a
	 * guest that ignores a smaller target, or reaches it and grows back,
	 * cannot hold more than it was given; a larger one is allowed before
	 * it is asked for.  (Xen lets the maximum fall below what the domain
	 * holds: it then gets no new pages until it is back under.) */
	if (xc_domain_setmaxmem(z->ctx->hv.xch, z->domid, target_kib + ED_PV_MAXMEM_SLACK_KIB) < 0) {
		rc = ed_error(ed_errno_code(errno), "zone '%s': setting Xen's memory maximum: %s",
		              z->name, strerror(errno));
		resize_abort(op);
		return rc;
	}
	snprintf(value, sizeof(value), "%llu", (unsigned long long)target_kib);
	rc = write_node(op, "memory/target", value);
	if (rc < 0) {
		/* the target stays what it was: so does the maximum */
		xc_domain_setmaxmem(z->ctx->hv.xch, z->domid, z->target_kib + ED_PV_MAXMEM_SLACK_KIB);
		resize_abort(op);
		return rc;
	}
	old = z->mem_op;
	z->mem_op = op;
	z->target_kib = target_kib;
	uv_timer_start(&op->timer, poll_tick, RESIZE_POLL_MS, RESIZE_POLL_MS);
	supersede(old);
	return 0;
}

struct sync_mem {
	struct ed_sync s; /* first */
	uint64_t reached;
};

static void sync_mem_cb(edera_ctx *ctx, int status, edera_zone *zone, uint64_t reached_kib,
                        void *data)
{
	struct sync_mem *s = data;

	s->reached = reached_kib;
	ed_sync_finish(&s->s, status);
}

int edera_zone_set_memory_sync(edera_zone *z, uint64_t target_mib, unsigned int timeout_ms,
                               uint64_t *reached_kib)
{
	struct sync_mem s = { 0 };
	int rc;

	if (reached_kib)
		*reached_kib = 0;
	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_set_memory_sync: zone is NULL");
	rc = ed_ctx_check_blocking(z->ctx, "edera_zone_set_memory_sync");
	if (rc < 0)
		return rc;
	rc = ed_sync_wait(z->ctx, edera_zone_set_memory(z, target_mib, timeout_ms, sync_mem_cb, &s),
	                  &s.s);
	if (reached_kib)
		*reached_kib = s.reached;
	return rc;
}

int edera_zone_set_vcpus(edera_zone *z, uint32_t online, unsigned int timeout_ms,
                         edera_zone_done_cb cb, void *data)
{
	struct ed_resize *op, *old;
	uint32_t sent = 0, max_vcpus;
	xc_dominfo_t di;
	int rc = 0;

	if (!z || !ed_zone_running(z))
		return ed_error(EDERA_EINVAL, "edera_zone_set_vcpus: no running zone");
	if (xc_domain_getinfo(z->ctx->hv.xch, z->domid, 1, &di) != 1 || di.domid != z->domid)
		return ed_error(EDERA_EINVAL, "zone '%s' has no domain any more", z->name);
	max_vcpus = di.max_vcpu_id + 1;
	if (online < 1 || online > max_vcpus)
		return ed_error(EDERA_EINVAL,
		                "zone '%s' can run 1 to %u vCPUs (max_vcpus, set at creation), "
		                "not %u",
		                z->name, max_vcpus, online);
	op = resize_new(z, false, timeout_ms);
	if (!op)
		return EDERA_ENOMEM;
	op->vcpus = online;
	op->vcpu_cb = cb;
	op->data = data;
	/* Every vCPU's node, so a guest that missed an earlier change sees the
	 * whole picture; its kernel acts only on the ones that differ. */
	for (uint32_t i = 0; i < max_vcpus && rc == 0; i++) {
		char rel[48];

		snprintf(rel, sizeof(rel), "cpu/%u/availability", i);
		rc = write_node(op, rel, i < online ? "online" : "offline");
		if (rc == 0)
			sent++;
	}
	if (rc < 0) {
		/* The writes already sent end on their own (op->refs).  If
		 * some went out, the guest may act on them: a pending request
		 * no longer describes what was asked. */
		resize_abort(op);
		if (sent && z->vcpu_op) {
			int saved = rc;

			supersede(z->vcpu_op);
			ed_error(saved, "zone '%s': only %u of %u vCPU nodes were written", z->name,
			         sent, max_vcpus);
		}
		return rc;
	}
	old = z->vcpu_op;
	z->vcpu_op = op;
	z->vcpus_target = online;
	uv_timer_start(&op->timer, poll_tick, RESIZE_POLL_MS, RESIZE_POLL_MS);
	supersede(old);
	return 0;
}

static void sync_vcpus_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ed_sync_finish(data, status);
}

int edera_zone_set_vcpus_sync(edera_zone *z, uint32_t online, unsigned int timeout_ms)
{
	struct ed_sync s = { 0 };
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_set_vcpus_sync: zone is NULL");
	rc = ed_ctx_check_blocking(z->ctx, "edera_zone_set_vcpus_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(z->ctx, edera_zone_set_vcpus(z, online, timeout_ms, sync_vcpus_cb, &s),
	                    &s);
}

static void resize_zone_gone(edera_zone *z)
{
	/* The zone is no longer running (its callers made sure), so a
	 * callback cannot start another request; loop all the same. */
	while (z->mem_op || z->vcpu_op) {
		ed_error(EDERA_ECANCELED, "zone '%s' is gone (it stopped, or its context closed)",
		         z->name);
		finish(z->mem_op ? z->mem_op : z->vcpu_op, EDERA_ECANCELED, 0);
	}
}

/* Pending requests end when the zone has stopped (after its exit event:
 * a destroy from their callbacks then fires none) or its handle goes. */
const struct ed_zone_part ed_resize_part = {
	.name = "resize",
	.ended = resize_zone_gone,
	.free = resize_zone_gone,
};
