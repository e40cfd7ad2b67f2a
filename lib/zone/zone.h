/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_ZONE_INTERNAL_H
#define EDERA_ZONE_INTERNAL_H

#include <stdbool.h>

#include "builder/pv.h"
#include "list.h"
#include "xs/batch.h"
#include "edera/device.h"
#include "edera/share.h"
#include "edera/xenstore.h"
#include "edera/zone.h"

/* Where a zone is in its life.  Changed only by the zone layer's files;
 * a handle is freed once it is FREED and no request points to it. */
enum ed_zone_state {
	ED_ZS_CREATING,   /* create.c: its creation under way */
	ED_ZS_RUNNING,    /* created or adopted, its domain not seen stopped */
	ED_ZS_STOPPED,    /* stop.c: its exit handled (the handle stays) */
	ED_ZS_DESTROYING, /* stop.c: an edera_zone_destroy in flight */
	ED_ZS_FREED,      /* zone.c: out of the registry, its parts freed */
};

struct edera_zone {
	struct ed_link link; /* in ctx->zones */
	edera_ctx *ctx;
	char *name;
	uint8_t uuid[16];
	char uuid_str[37];
	uint32_t domid;
	struct ed_pv_result res;
	enum ed_zone_state state;
	unsigned int refs; /* requests in flight that point here (ed_zone_ref) */
	edera_zone_exit_cb exit_cb;
	void *exit_data;
	bool exit_undelivered;        /* it exited before its callback was set */
	int exit_reason;              /* then: why */
	struct shutdown_op *shutdown; /* a pending edera_zone_shutdown */
	struct ed_console *console;   /* NULL when xenconsoled serves it */
	bool served_console;          /* the library serves its console (not xenconsoled) */
	struct ed_dev_plan *dev_plan; /* devices asked for at creation (xenbus/part.c) */
	struct ed_list devices;       /* attached or being attached (edera_device.link) */
	struct ed_list dead_devices;  /* lost with the zone, the caller's handles (.dead_link) */
	/* run-time resources (resize.c, share.c) */
	uint64_t target_kib;          /* memory/target as last written */
	uint64_t ceiling_kib;         /* max_memory at creation (memory/static-max) */
	uint32_t vcpus_target;
	struct ed_resize *mem_op, *vcpu_op; /* pending requests */
	struct ed_list shares;   /* edera_share (share.c) */
	struct ed_list channels; /* edera_evtchn (share.c) */
	struct ed_list wchans;   /* edera_channel (channel.c) */
	struct edera_workload *workload; /* the workload it runs (workload/), or NULL */
};

bool ed_zone_running(const edera_zone *zone);

/* A zone has stopped (or is going): its exit handled, a destroy in
 * flight, or its handle freed. */
static inline bool ed_zone_stopped(const edera_zone *z)
{
	return z->state >= ED_ZS_STOPPED;
}

/* Hold a handle across a request or a caller's callback: it stays
 * readable (its state FREED once freed meanwhile) until ed_zone_unref. */
/* The zones of a context, newest first. */
#define ED_ZONES_EACH(z, ctx) ED_LIST_EACH(z, &(ctx)->zones, edera_zone, link)

static inline void ed_zone_ref(edera_zone *z)
{
	z->refs++;
}
void ed_zone_unref(edera_zone *z);

/* What Xen's own maximum of a domain says its target is: the builder and
 * every resize set it to the target plus the slack (so a guest cannot hold
 * more than it was asked to); a zone's ceiling is kept apart, in
 * ceiling_kib and memory/static-max. */
static inline uint64_t ed_zone_xen_max_less_slack(const xc_dominfo_t *di)
{
	return di->max_memkb > ED_PV_MAXMEM_SLACK_KIB ? di->max_memkb - ED_PV_MAXMEM_SLACK_KIB
	                                              : di->max_memkb;
}

/* zone.c: what a part that keeps the zone's struct opaque reads (also
 * declared by console/console.h and xenbus/xenbus.h). */
struct ed_console *ed_zone_console(edera_zone *zone);
struct ed_list *ed_zone_devices(edera_zone *zone);
struct ed_list *ed_zone_dead_devices(edera_zone *zone);
uint32_t ed_zone_domid(const edera_zone *zone);
edera_ctx *ed_zone_ctx(const edera_zone *zone);

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
 * intents"): where they live (and where libedera 0.1 kept them), whether
 * the one for UUID (its text REC) is still under way, and removing one:
 * at once, or once the nodes of DOMID are removed (a creation undone). */
#define ED_RECORDS_PARENT "/run/edera"
#define ED_RECORDS ED_RECORDS_PARENT "/creating"
#define ED_INTENTS "/local/domain/0/edera/creating"
bool ed_zone_intent_alive(const char *rec, const char *uuid);
void ed_zone_intent_rm(edera_ctx *ctx, const char *uuid);
void ed_zone_undone_rm(edera_ctx *ctx, uint32_t domid, const char *uuid, bool introduced);
/* The creation of UUID ended here, its record left for a re-attach (one
 * in this process too) to undo: out of the live set. */
void ed_zone_intent_forget(const char *uuid);
/* Write the record of UUID, for NAME (the file whole, or nothing); LIVE:
 * it is in this process's live set already (a shell's record rewritten
 * by the zone that takes it), otherwise it is added (and taken out again
 * if the write fails). */
int ed_zone_intent_write(const char *uuid, const char *name, bool live);
/* A new random (version 4) UUID and its text. */
void ed_uuid_new(uint8_t uuid[16], char str[37]);

/* create.c: the part of a zone's XenStore subtree that depends neither on
 * its build nor on its configuration beyond its size, written without a
 * transaction: first, in order on the main connection, what an earlier
 * domain of DOMID left goes and /local/domain/DOMID is made with its
 * permissions, while /vm/UUID is made with its own on a lane (on the main
 * connection too when ORDERED: a request sent before touched it); then
 * the other nodes (domid, vm, memory, cpu, control, device, the nodes the
 * guest writes, edera/uuid) at once over the client's lanes.  By
 * edera/uuid and the creation records edera_zone_reattach tells whose
 * nodes these are (a live process's creation or shell: left alone; a dead
 * one's: removed).  No name, and not marked as a zone made
 * (edera/managed).  A shell has them written once its domain is made
 * (pool.c); a creation whose domain has none writes them with the rest
 * (MORE, when not NULL, adds its own nodes to the second round, starting
 * on lane *LANE).  DONE gets the first failure; what was written stays
 * for ed_zone_remove_nodes. */
struct ed_skeleton {
	struct ed_xs_batch batch;
	edera_ctx *ctx;
	uint32_t domid;
	char uuid[37];
	uint64_t memory_kib, max_memory_kib;
	uint32_t vcpus, max_vcpus;
	bool ordered;
	void (*more)(struct ed_skeleton *sk, int *lane);
	void (*sent)(struct ed_skeleton *sk); /* the first round sent (may be NULL) */
	void (*done)(struct ed_skeleton *sk, int status);
};
void ed_zone_skeleton_write(struct ed_skeleton *sk);
/* Domain DOMID's store/port and console/port into B, each on the next of
 * the client's lanes from *LANE (a zone's, or a shell's ahead). */
void ed_zone_port_nodes(edera_ctx *ctx, struct ed_xs_batch *b, uint32_t domid, int *lane,
                        uint32_t store_port, uint32_t cons_port);

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

/* reattach.c: take over the one running zone DOMID (as edera_zone_reattach
 * does each): CB gets its new handle (STATUS 0), or EDERA_ENOENT when the
 * domain is not a running zone, XenStore's errors.  Errors at once:
 * EDERA_EEXIST (this context has it already), EDERA_ENOMEM. */
typedef void (*ed_zone_adopt_cb)(edera_ctx *ctx, int status, edera_zone *zone, void *data);
int ed_zone_adopt(edera_ctx *ctx, uint32_t domid, ed_zone_adopt_cb cb, void *data);
/* reattach.c: destroy domain DOMID if it is still zone UUID (its Xen
 * handle), on the threadpool, then remove its nodes; DONE gets the
 * outcome.  For a zone taken without a handle that cannot be used. */
int ed_zone_discard(edera_ctx *ctx, uint32_t domid, const char *uuid, edera_xs_done_cb done,
                    void *data);
void ed_zone_shutdown_finish(edera_zone *z, int status);

#endif
