/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zones: the handle and the context's registry of them, look-ups, info,
 * pause and unpause, and freeing a handle.  The rest of a zone's life is in
 * its own file, each a sequence of named steps:
 *   create.c    creation, INTENT to RUNNING, and the records that make a
 *               crash during it recoverable
 *   stop.c      shutdown requests, exits, destroy, and the clean-up they
 *               share
 *   reattach.c  taking over the zones an earlier process left
 * A zone's console, devices, shares and resources plug in as parts (their
 * hooks: part.h); resize.c and share.c are two of them.
 *
 * A handle's state (enum ed_zone_state) moves CREATING -> RUNNING ->
 * STOPPED or DESTROYING -> FREED; RUNNING also follows DESTROYING when
 * the destroy hypercall fails.  Requests and callbacks that outlive a call
 * hold a reference (ed_zone_ref), so a handle freed meanwhile stays
 * readable, FREED, until the last one lets go. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctx.h"
#include "part.h"
#include "zone.h"

void edera_zone_config_init(edera_zone_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

uint32_t edera_zone_domid(const edera_zone *z)
{
	return z ? z->domid : 0;
}

const char *edera_zone_name(const edera_zone *z)
{
	return z ? z->name : NULL;
}

const char *edera_zone_uuid(const edera_zone *z)
{
	return z ? z->uuid_str : NULL;
}

edera_zone *edera_zone_lookup(edera_ctx *ctx, const char *name)
{
	if (!ctx || !name)
		return NULL;
	ED_ZONES_EACH(z, ctx)
		if (strcmp(z->name, name) == 0)
			return z;
	return NULL;
}


void edera_zone_on_exit(edera_zone *z, edera_zone_exit_cb cb, void *data)
{
	if (!z)
		return;
	z->exit_cb = cb;
	z->exit_data = data;
	/* an exit that came first (say, in the same loop turn as its
	 * creation's completion) is delivered on the next turn */
	if (cb && z->exit_undelivered)
		ed_zone_recheck_exits_soon(z->ctx);
}

void ed_zone_unlink(edera_zone *z)
{
	ed_list_remove(&z->ctx->zones, &z->link);
}

/* Into the context's registry (the name is taken from then on). */
void ed_zone_link(edera_zone *z)
{
	ed_list_push_front(&z->ctx->zones, &z->link);
}


struct ed_console *ed_zone_console(edera_zone *z)
{
	return z->console;
}

struct ed_list *ed_zone_devices(edera_zone *z)
{
	return &z->devices;
}

struct ed_list *ed_zone_dead_devices(edera_zone *z)
{
	return &z->dead_devices;
}

uint32_t ed_zone_domid(const edera_zone *z)
{
	return z->domid;
}

edera_ctx *ed_zone_ctx(const edera_zone *z)
{
	return z->ctx;
}

bool ed_zone_running(const edera_zone *z)
{
	return z->state == ED_ZS_RUNNING;
}

static void zone_release(edera_zone *z)
{
	free(z->name);
	free(z);
}

void ed_zone_unref(edera_zone *z)
{
	if (--z->refs == 0 && z->state == ED_ZS_FREED)
		zone_release(z);
}

void ed_zone_free(edera_zone *z)
{
	/* The handle goes: callbacks run below must not start anything new
	 * on it (requests check for a running zone). */
	z->state = ED_ZS_FREED;
	if (z->shutdown) {
		ed_error(EDERA_ECANCELED, "zone '%s' was destroyed", z->name);
		ed_zone_shutdown_finish(z, EDERA_ECANCELED);
	}
	/* its parts, the last set up first (devices still here belong to a
	 * zone that keeps running: the context closes, only their handles
	 * go) */
	ed_parts_free(z);
	ed_zone_unlink(z);
	if (z->refs == 0)
		zone_release(z);
}

/* ---- information ----------------------------------------------------------- */

void edera_zone_info_init(edera_zone_info *info)
{
	memset(info, 0, sizeof(*info));
	info->sz = sizeof(*info);
}

int edera_zone_info_get(edera_zone *z, edera_zone_info *info)
{
	edera_zone_info r;
	xc_dominfo_t di;
	int rc;

	if (!z || !info)
		return ed_error(EDERA_EINVAL, "edera_zone_info_get: NULL argument");
	rc = ed_sized_check(info, info->sz, sizeof(*info), "edera_zone_info");
	if (rc < 0)
		return rc;
	edera_zone_info_init(&r);
	r.domid = z->domid;
	if (z->state == ED_ZS_CREATING) {
		r.state = EDERA_ZONE_CREATING;
	} else if (ed_zone_stopped(z) || xc_domain_getinfo(z->ctx->hv.xch, z->domid, 1, &di) != 1 ||
	           di.domid != z->domid) {
		r.state = EDERA_ZONE_EXITED;
	} else {
		r.state = di.shutdown || di.dying || di.crashed ? EDERA_ZONE_SHUTDOWN
		        : di.paused                           ? EDERA_ZONE_PAUSED
		                                              : EDERA_ZONE_RUNNING;
		r.memory_kib = (uint64_t)di.nr_pages * 4;
		r.max_memory_kib = z->ceiling_kib;
		r.vcpus_online = di.nr_online_vcpus;
		r.max_vcpus = di.max_vcpu_id + 1;
		r.cpu_time_ns = di.cpu_time;
	}
	r.target_memory_kib = z->target_kib;
	r.vcpus_target = z->vcpus_target;
	r.sz = info->sz;
	memcpy(info, &r, info->sz < sizeof(r) ? info->sz : sizeof(r));
	return 0;
}

edera_zone *edera_zone_next(edera_ctx *ctx, edera_zone *prev)
{
	if (!ctx)
		return NULL;
	return prev ? ed_list_next(prev, edera_zone, link)
	            : ed_list_first(&ctx->zones, edera_zone, link);
}

edera_zone *edera_zone_lookup_domid(edera_ctx *ctx, uint32_t domid)
{
	if (!ctx)
		return NULL;
	ED_ZONES_EACH(z, ctx)
		if (z->state != ED_ZS_CREATING && z->domid == domid)
			return z;
	return NULL;
}

edera_zone *edera_zone_lookup_uuid(edera_ctx *ctx, const char *uuid)
{
	if (!ctx || !uuid)
		return NULL;
	ED_ZONES_EACH(z, ctx)
		if (strcasecmp(z->uuid_str, uuid) == 0)
			return z;
	return NULL;
}

/* ---- control --------------------------------------------------------------- */

int edera_zone_unpause(edera_zone *z)
{
	if (!z || z->state == ED_ZS_CREATING || ed_zone_stopped(z))
		return ed_error(EDERA_EINVAL, "edera_zone_unpause: no running zone");
	if (xc_domain_unpause(z->ctx->hv.xch, z->domid) < 0)
		return ed_error(ed_errno_code(errno), "unpausing zone '%s': %s", z->name, strerror(errno));
	return 0;
}

int edera_zone_pause(edera_zone *z)
{
	if (!z || z->state == ED_ZS_CREATING || ed_zone_stopped(z))
		return ed_error(EDERA_EINVAL, "edera_zone_pause: no running zone");
	if (xc_domain_pause(z->ctx->hv.xch, z->domid) < 0)
		return ed_error(ed_errno_code(errno), "pausing zone '%s': %s", z->name, strerror(errno));
	return 0;
}

void ed_zones_fini(edera_ctx *ctx)
{
	/* Zones outlive the process that made them (the marker lets another
	 * find them); only the handles go.  A zone with an operation in flight
	 * is freed by that operation when it completes (it sees ctx->closing). */
	while (!ed_list_empty(&ctx->zones)) {
		edera_zone *z = ed_list_first(&ctx->zones, edera_zone, link);

		if (z->state == ED_ZS_CREATING || z->state == ED_ZS_DESTROYING) {
			/* Its parts let go now (console ports, loop handles
			 * and event channels go with the context). */
			ED_PARTS_CALL(forget, z);
			ed_zone_unlink(z);
		} else
			ed_zone_free(z);
	}
}
