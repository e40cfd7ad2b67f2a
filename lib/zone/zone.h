/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_ZONE_INTERNAL_H
#define EDERA_ZONE_INTERNAL_H

#include <stdbool.h>

#include "builder/pv.h"
#include "edera/device.h"
#include "edera/share.h"
#include "edera/xenstore.h"
#include "edera/zone.h"

struct edera_zone {
	struct edera_zone *prev, *next;
	edera_ctx *ctx;
	char *name;
	uint8_t uuid[16];
	char uuid_str[37];
	uint32_t domid;
	struct ed_pv_result res;
	bool creating;
	bool destroying; /* an edera_zone_destroy in flight */
	bool exited;
	edera_zone_exit_cb exit_cb;
	void *exit_data;
	bool exit_undelivered;        /* it exited before its callback was set */
	int exit_reason;              /* then: why */
	struct shutdown_op *shutdown; /* a pending edera_zone_shutdown */
	struct ed_console *console;   /* NULL when xenconsoled serves it */
	edera_device *devices;        /* attached or being attached */
	edera_device *dead_devices;   /* lost with the zone, the caller's handles */
	/* run-time resources (resize.c, share.c) */
	uint64_t target_kib;          /* memory/target as last written */
	uint64_t ceiling_kib;         /* max_memory at creation (memory/static-max) */
	uint32_t vcpus_target;
	struct ed_resize *mem_op, *vcpu_op; /* pending requests */
	struct edera_share *shares;
	struct edera_evtchn *channels;
};

bool ed_zone_running(const edera_zone *zone);

/* What Xen's own maximum of a domain says its target is: the builder and
 * every resize set it to the target plus the slack (so a guest cannot hold
 * more than it was asked to); a zone's ceiling is kept apart, in
 * ceiling_kib and memory/static-max. */
static inline uint64_t ed_zone_xen_max_less_slack(const xc_dominfo_t *di)
{
	return di->max_memkb > ED_PV_MAXMEM_SLACK_KIB ? di->max_memkb - ED_PV_MAXMEM_SLACK_KIB
	                                              : di->max_memkb;
}

/* resize.c: end pending memory and vCPU requests (the zone stopped, or its
 * handle goes) with EDERA_ECANCELED. */
void ed_resize_zone_gone(edera_zone *zone);

/* share.c: the zone went away: unmap, revoke and unbind what is left (the
 * handles stay, dead).  ed_share_zone_free also frees the handles. */
void ed_share_zone_gone(edera_zone *zone);
void ed_share_zone_free(edera_zone *zone);

/* Free the context's zone handles (the zones keep running). */
void ed_zones_fini(edera_ctx *ctx);

/* ---- shared by the zone layer's files (zone.c, create.c, stop.c,
 * reattach.c) ---- */

/* zone.c: the context's registry; a handle's end (its subsystems' parts
 * freed with it). */
void ed_zone_link(edera_zone *z);
void ed_zone_unlink(edera_zone *z);
void ed_zone_free(edera_zone *z);

/* create.c: the records of creations under way (see its "creation
 * intents"): where they live, whether the one for UUID (its text REC) is
 * still under way, and removing one. */
#define ED_INTENTS "/local/domain/0/edera/creating"
bool ed_zone_intent_alive(const char *rec, const char *uuid);
void ed_zone_intent_rm(edera_ctx *ctx, const char *uuid);

/* stop.c: the domain's XenStore nodes removed (DONE may be NULL); the
 * domain destroyed in the background then its nodes (INTENT: a failed
 * creation's record goes last); a zone's exit reason, or -1 while it runs;
 * exits looked for on the next loop turn; the @releaseDomain watch (and
 * the context's zone clean-up hook) set up; a pending shutdown request
 * ended with STATUS. */
void ed_zone_remove_nodes(edera_ctx *ctx, uint32_t domid, const char *uuid, bool introduced,
                          edera_xs_done_cb done, void *data);
void ed_zone_destroy_domain_async(edera_ctx *ctx, const edera_zone *z, bool introduced,
                                  bool intent);
int ed_zone_exit_reason(edera_ctx *ctx, const edera_zone *z);
void ed_zone_recheck_exits_soon(edera_ctx *ctx);
int ed_zone_watch_releases(edera_ctx *ctx);
void ed_zone_shutdown_finish(edera_zone *z, int status);

#endif
