/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone lifecycle.  Creation is one operation with named steps:
 *   INTENT     a dom0-only record names the creation and its process, so
 *              that what a crash leaves half-built can be found
 *   BUILD      the domain is built on the threadpool (lib/builder/pv.c)
 *   SKELETON   its XenStore subtree is written in one transaction
 *   INTRODUCE  xenstored is told about its ring
 *   DEVICES    the backends of its disks and NICs (if any); unpaused, the
 *              guest's drivers connect them
 *   RUNNING    unpaused (unless asked not to); the record goes and the
 *              caller gets the zone
 * A failure at any step undoes the earlier ones; a crash at any step is
 * undone by the next edera_zone_reattach (see "creation intents").  Exits are found through
 * the @releaseDomain watch, which xenstored fires when a domain shuts down
 * or goes away. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include "builder/pv.h"
#include "console/console.h"
#include "ctx.h"
#include "hv/evtchn.h"
#include "hv/offload.h"
#include "xenbus/xenbus.h"
#include "zone.h"


struct shutdown_op {
	uv_timer_t timer;
	edera_zone *zone;
	edera_zone_done_cb cb;
	void *data;
};

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
	for (edera_zone *z = ctx ? ctx->zones : NULL; z; z = z->next)
		if (name && strcmp(z->name, name) == 0)
			return z;
	return NULL;
}

static void recheck_exits_soon(edera_ctx *ctx);

void edera_zone_on_exit(edera_zone *z, edera_zone_exit_cb cb, void *data)
{
	if (!z)
		return;
	z->exit_cb = cb;
	z->exit_data = data;
	/* an exit that came first (say, in the same loop turn as its
	 * creation's completion) is delivered on the next turn */
	if (cb && z->exit_undelivered)
		recheck_exits_soon(z->ctx);
}

static void unlink_zone(edera_zone *z)
{
	edera_ctx *ctx = z->ctx;

	if (z->prev)
		z->prev->next = z->next;
	else if (ctx->zones == z)
		ctx->zones = z->next;
	if (z->next)
		z->next->prev = z->prev;
	z->prev = z->next = NULL;
}

/* Into the context's registry (the name is taken from then on). */
static void link_zone(edera_zone *z)
{
	edera_ctx *ctx = z->ctx;

	z->prev = NULL;
	z->next = ctx->zones;
	if (z->next)
		z->next->prev = z;
	ctx->zones = z;
}

static void shutdown_finish(edera_zone *z, int status);

struct ed_console *ed_zone_console(edera_zone *z)
{
	return z->console;
}

edera_device **ed_zone_devices(edera_zone *z)
{
	return &z->devices;
}

edera_device **ed_zone_dead_devices(edera_zone *z)
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
	return !z->creating && !z->exited && !z->destroying;
}

static void free_zone(edera_zone *z)
{
	/* The handle goes: callbacks run below must not start anything new
	 * on it (requests check for a running zone). */
	z->exited = true;
	if (z->shutdown) {
		ed_error(EDERA_ECANCELED, "zone '%s' was destroyed", z->name);
		shutdown_finish(z, EDERA_ECANCELED);
	}
	ed_resize_zone_gone(z);
	ed_share_zone_free(z);
	ed_console_free(z->console);
	z->console = NULL;
	/* Devices still here belong to a zone that keeps running (the
	 * context closes): only their handles go. */
	ed_xb_zone_forget(z);
	ed_xb_zone_free(z);
	unlink_zone(z);
	free(z->name);
	free(z);
}

static void new_uuid(edera_zone *z)
{
	if (getrandom(z->uuid, sizeof(z->uuid), 0) != sizeof(z->uuid)) {
		/* cannot fail for 16 bytes once the pool is ready; be safe */
		for (size_t i = 0; i < sizeof(z->uuid); i++)
			z->uuid[i] = (uint8_t)(rand() ^ (getpid() >> (i % 8)));
	}
	z->uuid[6] = (uint8_t)((z->uuid[6] & 0x0f) | 0x40); /* version 4 */
	z->uuid[8] = (uint8_t)((z->uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(z->uuid_str, sizeof(z->uuid_str),
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         z->uuid[0], z->uuid[1], z->uuid[2], z->uuid[3], z->uuid[4], z->uuid[5],
	         z->uuid[6], z->uuid[7], z->uuid[8], z->uuid[9], z->uuid[10], z->uuid[11],
	         z->uuid[12], z->uuid[13], z->uuid[14], z->uuid[15]);
}

/* ---- creation intents ---------------------------------------------------------- */

/* Before its domain exists, a creation records its intent where only dom0
 * can read or write, ED_INTENTS/<uuid> = "<pid> <start time> <name>", and
 * the domain gets the same UUID as its Xen handle.  The record goes when
 * the creation completes (the zone's marker, written in the skeleton,
 * takes over) or once a failed one is undone.  A process that dies
 * mid-way leaves it, and edera_zone_reattach (in any process) destroys
 * the domain found by that handle and everything written for it; a record
 * whose process still runs is a creation under way there, left alone. */
#define ED_INTENTS "/local/domain/0/edera/creating"

/* When the process PID started (clock ticks since boot, from /proc), or 0
 * when it does not run (a zombie does not: it runs no more code). */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) state ...": comm may hold anything, ')' included */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	/* the start time is field 22: 20 spaces after the ')' */
	for (int i = 0; i < 20 && p; i++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* This process's creations under way, by UUID: a record naming this
 * process is alive only if its creation is here (a context closed on the
 * caller's loop may leave the record of one that ended). */
struct live {
	struct live *next;
	char uuid[37];
};
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct live *live_head;

static int live_add(const char *uuid)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return ed_error(EDERA_ENOMEM, "out of memory");
	snprintf(l->uuid, sizeof(l->uuid), "%s", uuid);
	pthread_mutex_lock(&live_mu);
	l->next = live_head;
	live_head = l;
	pthread_mutex_unlock(&live_mu);
	return 0;
}

static void live_del(const char *uuid)
{
	struct live **pp, *gone = NULL;

	pthread_mutex_lock(&live_mu);
	for (pp = &live_head; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->uuid, uuid) == 0) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	pthread_mutex_unlock(&live_mu);
	free(gone);
}

static bool live_has(const char *uuid)
{
	bool found = false;

	pthread_mutex_lock(&live_mu);
	for (struct live *l = live_head; l && !found; l = l->next)
		found = strcasecmp(l->uuid, uuid) == 0;
	pthread_mutex_unlock(&live_mu);
	return found;
}

/* Whether the creation a record names (its text REC, its UUID) is still
 * under way: its process runs (same pid, same start time) and, when that
 * is this process, the creation is in the live set. */
static bool intent_alive(const char *rec, const char *uuid)
{
	long pid = 0;
	unsigned long long start = 0;

	/* a record nobody could have written: not alive */
	if (!rec || sscanf(rec, "%ld %llu", &pid, &start) != 2 || pid <= 0)
		return false;
	if (pid == (long)getpid())
		return live_has(uuid);
	/* the creator could not read its own start time (no /proc there):
	 * whether the pid exists is all that can be said */
	if (start == 0)
		return kill((pid_t)pid, 0) == 0 || errno == EPERM;
	return proc_start(pid) == start;
}

static void intent_removed(edera_ctx *ctx, int status, void *data)
{
	ctx->cleanups--;
}

/* The record of a creation that completed, or was undone. */
static void intent_rm(edera_ctx *ctx, const char *uuid)
{
	char path[96];

	live_del(uuid);
	if (ctx->xs_gone)
		return;
	snprintf(path, sizeof(path), ED_INTENTS "/%s", uuid);
	if (edera_xs_rm(ctx, NULL, path, intent_removed, NULL) == 0)
		ctx->cleanups++;
}

/* ---- cleanup shared by failures, exits and destroy ---------------------------- */

/* XenStore side: forget the domain and remove its nodes, asynchronously;
 * DONE (may be NULL) runs once all requests settled, with the first failure
 * other than a node already gone (a release xenstored refuses is fine: it
 * may never have known the domain).  Only once the domain is dying:
 * xenstored's own @releaseDomain for the dying domain is what tells
 * xenconsoled to let go of the console ring, and xenstored sends it only
 * for domains it still knows.  Counted in ctx->cleanups, so closing the
 * context on its own loop waits for it. */
struct nodes_op {
	int pending;
	int status;
	edera_xs_done_cb done;
	void *data;
};

static void nodes_settled(edera_ctx *ctx, int status, void *data)
{
	struct nodes_op *op = data;

	if (status < 0 && status != EDERA_ENOENT && op->status == 0)
		op->status = status;
	if (--op->pending > 0)
		return;
	ctx->cleanups--;
	if (op->done)
		op->done(ctx, op->status, op->data);
	free(op);
}

static void nodes_released(edera_ctx *ctx, int status, void *data)
{
	nodes_settled(ctx, 0, data);
}

static void nodes_rm(edera_ctx *ctx, struct nodes_op *op, const char *path)
{
	int rc = edera_xs_rm(ctx, NULL, path, nodes_settled, op);

	if (rc == 0)
		op->pending++;
	else if (op->status == 0)
		op->status = rc;
}

static void remove_nodes(edera_ctx *ctx, uint32_t domid, const char *uuid, bool introduced,
                         edera_xs_done_cb done, void *data)
{
	struct nodes_op *op;
	char path[64];

	if (ctx->xs_gone) {
		if (done)
			done(ctx, 0, data);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		/* the marker stays: edera_zone_reattach will find it */
		if (done)
			done(ctx, ed_error(EDERA_ENOMEM, "out of memory"), data);
		return;
	}
	op->done = done;
	op->data = data;
	op->pending = 1; /* held while the requests go out */
	ctx->cleanups++;
	if (introduced && edera_xs_release(ctx, domid, nodes_released, op) == 0)
		op->pending++;
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	nodes_rm(ctx, op, path);
	snprintf(path, sizeof(path), "/vm/%s", uuid);
	nodes_rm(ctx, op, path);
	/* dom0's side of its devices (blkback and netback let go of them) */
	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u", domid);
	nodes_rm(ctx, op, path);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", domid);
	nodes_rm(ctx, op, path);
	nodes_settled(ctx, 0, op);
}

struct destroy_work {
	struct ed_hv *hv;
	uint32_t domid;
	char uuid[37];
	bool introduced;
	bool intent; /* a failed creation: its record goes last */
};

static int destroy_work(void *arg)
{
	struct destroy_work *w = arg;

	/* Destroying returns once the domain is dying; its memory is released
	 * as Xen scrubs it. */
	if (xc_domain_destroy(w->hv->xch, w->domid) < 0 && errno != ESRCH)
		return ed_error(ed_errno_code(errno), "destroying domain %u: %s", w->domid,
		                strerror(errno));
	return 0;
}

static void destroy_after_cleanup(edera_ctx *ctx, int status, void *arg)
{
	struct destroy_work *w = arg;

	remove_nodes(ctx, w->domid, w->uuid, w->introduced, NULL, NULL);
	if (w->intent)
		intent_rm(ctx, w->uuid);
	free(w);
	ctx->cleanups--;
}

/* Destroy in the background, then clean XenStore up (failure and exit
 * paths; the zone handle may be gone by then).  INTENT: the zone's
 * creation failed, and its record goes once the rest is gone. */
static void destroy_domain_async(edera_ctx *ctx, const edera_zone *z, bool introduced,
                                 bool intent)
{
	struct destroy_work *w = calloc(1, sizeof(*w));

	if (w) {
		w->hv = &ctx->hv;
		w->domid = z->domid;
		w->introduced = introduced;
		w->intent = intent;
		memcpy(w->uuid, z->uuid_str, sizeof(w->uuid));
		if (ed_offload(ctx, destroy_work, destroy_after_cleanup, w) == 0) {
			ctx->cleanups++;
			return;
		}
		free(w);
	}
	xc_domain_destroy(ctx->hv.xch, z->domid);
	remove_nodes(ctx, z->domid, z->uuid_str, introduced, NULL, NULL);
	if (intent)
		intent_rm(ctx, z->uuid_str);
}

/* ---- shutdown requests -------------------------------------------------------- */

static void shutdown_close_cb(uv_handle_t *h)
{
	free(ed_container_of((uv_timer_t *)h, struct shutdown_op, timer));
}

/* End the zone's pending shutdown request with STATUS. */
static void shutdown_finish(edera_zone *z, int status)
{
	struct shutdown_op *op = z->shutdown;

	if (!op)
		return;
	z->shutdown = NULL;
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, shutdown_close_cb);
	if (op->cb)
		ED_CALLBACK(z->ctx, op->cb(z->ctx, status, z, op->data));
}

static void shutdown_timeout(uv_timer_t *t)
{
	struct shutdown_op *op = ed_container_of(t, struct shutdown_op, timer);
	edera_zone *z = op->zone;

	ed_error(EDERA_ETIMEDOUT, "zone '%s' did not stop in time (it may ignore shutdown "
	         "requests: destroy it)", z->name);
	shutdown_finish(z, EDERA_ETIMEDOUT);
}

static void shutdown_written(edera_ctx *ctx, int status, void *data)
{
	edera_zone *z = data;

	/* The zone may have been destroyed meanwhile: only act on a live
	 * request of a zone still in the registry. */
	for (edera_zone *it = ctx->zones; it; it = it->next)
		if (it == z && z->shutdown && status < 0)
			shutdown_finish(z, status);
}

int edera_zone_shutdown(edera_zone *z, int reboot, unsigned int timeout_ms,
                        edera_zone_done_cb cb, void *data)
{
	struct shutdown_op *op;
	char path[64];
	const char *what = reboot ? "reboot" : "poweroff";
	int rc;

	if (!z || z->creating || z->exited)
		return ed_error(EDERA_EINVAL, "edera_zone_shutdown: no running zone");
	if (z->shutdown)
		return ed_error(EDERA_EBUSY, "zone '%s' already has a shutdown request pending",
		                z->name);
	op = calloc(1, sizeof(*op));
	if (!op)
		return ed_error(EDERA_ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", z->domid);
	rc = edera_xs_write(z->ctx, NULL, path, what, strlen(what), shutdown_written, z);
	if (rc < 0) {
		free(op);
		return rc;
	}
	op->zone = z;
	op->cb = cb;
	op->data = data;
	uv_timer_init(z->ctx->loop, &op->timer);
	if (timeout_ms)
		uv_timer_start(&op->timer, shutdown_timeout, timeout_ms, 0);
	z->shutdown = op;
	return 0;
}

static void sync_shutdown_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ed_sync_finish(data, status);
}

int edera_zone_shutdown_sync(edera_zone *z, int reboot, unsigned int timeout_ms)
{
	struct ed_sync s = { 0 };
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_shutdown_sync: zone is NULL");
	rc = ed_ctx_check_blocking(z->ctx, "edera_zone_shutdown_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(z->ctx, edera_zone_shutdown(z, reboot, timeout_ms, sync_shutdown_cb, &s),
	                    &s);
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
	if (z->creating) {
		r.state = EDERA_ZONE_CREATING;
	} else if (z->exited || xc_domain_getinfo(z->ctx->hv.xch, z->domid, 1, &di) != 1 ||
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
	return prev ? prev->next : ctx->zones;
}

edera_zone *edera_zone_lookup_domid(edera_ctx *ctx, uint32_t domid)
{
	for (edera_zone *z = ctx ? ctx->zones : NULL; z; z = z->next)
		if (!z->creating && z->domid == domid)
			return z;
	return NULL;
}

edera_zone *edera_zone_lookup_uuid(edera_ctx *ctx, const char *uuid)
{
	for (edera_zone *z = ctx ? ctx->zones : NULL; z; z = z->next)
		if (uuid && strcasecmp(z->uuid_str, uuid) == 0)
			return z;
	return NULL;
}

/* ---- exits ------------------------------------------------------------------- */

static int exit_reason(edera_ctx *ctx, const edera_zone *z)
{
	xc_dominfo_t info;

	if (xc_domain_getinfo(ctx->hv.xch, z->domid, 1, &info) != 1 || info.domid != z->domid)
		return EDERA_ZONE_EXIT_DESTROYED;
	if (info.shutdown)
		return info.shutdown_reason <= 4 ? (int)info.shutdown_reason : EDERA_ZONE_EXIT_CRASH;
	if (info.crashed)
		return EDERA_ZONE_EXIT_CRASH;
	if (info.dying)
		return EDERA_ZONE_EXIT_DESTROYED;
	return -1; /* still running */
}

static void on_release(edera_ctx *ctx, int status, const char *path, void *data)
{
	/* Look for one zone that stopped, handle it, and look again: the exit
	 * callback may destroy zones or create new ones. */
	for (;;) {
		edera_zone *z;
		int reason = -1;

		for (z = ctx->zones; z; z = z->next) {
			if (z->creating || z->exited)
				continue;
			reason = exit_reason(ctx, z);
			if (reason >= 0)
				break;
		}
		if (!z)
			return;
		z->exited = true;
		/* Its last output reaches the subscribers before the exit event;
		 * the ring is unmapped before the domain is destroyed. */
		ed_console_disconnect(z->console, true);
		/* its devices' backends go, and their loop devices with them */
		ed_xb_zone_gone(z, NULL);
		/* what the caller shared or mapped with it */
		ed_share_zone_gone(z);
		if (reason != EDERA_ZONE_EXIT_DESTROYED)
			destroy_domain_async(ctx, z, true, false);
		else
			remove_nodes(ctx, z->domid, z->uuid_str, true, NULL, NULL);
		/* The exit event first, then the shutdown request it answers;
		 * either callback may destroy the zone. */
		if (z->exit_cb) {
			ED_CALLBACK(ctx, z->exit_cb(ctx, z, reason, z->exit_data));
		} else {
			z->exit_undelivered = true;
			z->exit_reason = reason;
		}
		for (edera_zone *it = ctx->zones; it; it = it->next)
			if (it == z) {
				shutdown_finish(z, 0);
				/* pending resizes: cancelled, after the exit
				 * event (a destroy from their callbacks then
				 * fires none) */
				ed_resize_zone_gone(z);
				break;
			}
	}
}

static void recheck_closed(uv_handle_t *h)
{
	free(h);
}

static void zones_fini(edera_ctx *ctx)
{
	if (ctx->exit_recheck) {
		uv_close((uv_handle_t *)ctx->exit_recheck, recheck_closed);
		ctx->exit_recheck = NULL;
	}
	ed_zones_fini(ctx);
	ed_consoles_fini(ctx);
	ed_evtchn_fini(ctx);
}

static void recheck_fired(uv_timer_t *t)
{
	edera_ctx *ctx = t->data;

	/* exits that came before their callback was set; a callback may
	 * change the list: look again after each */
	for (;;) {
		edera_zone *z = ctx->zones;

		while (z && !(z->exit_undelivered && z->exit_cb))
			z = z->next;
		if (!z)
			break;
		z->exit_undelivered = false;
		ED_CALLBACK(ctx, z->exit_cb(ctx, z, z->exit_reason, z->exit_data));
	}
	on_release(ctx, 0, NULL, NULL);
}

/* Look for stopped zones on the next loop turn, as if @releaseDomain had
 * fired: a caller that had a zone's creation complete sets its exit
 * callback on return, and hears of the exit then (as it would of any). */
static void recheck_exits_soon(edera_ctx *ctx)
{
	if (!ctx->exit_recheck) {
		ctx->exit_recheck = malloc(sizeof(*ctx->exit_recheck));
		if (!ctx->exit_recheck)
			return; /* the next @releaseDomain event finds it */
		uv_timer_init(ctx->loop, ctx->exit_recheck);
		ctx->exit_recheck->data = ctx;
	}
	uv_timer_start(ctx->exit_recheck, recheck_fired, 0, 0);
}

static int ensure_release_watch(edera_ctx *ctx)
{
	ctx->zones_fini = zones_fini;
	if (ctx->release_watch)
		return 0;
	return edera_xs_watch_add(ctx, &ctx->release_watch, "@releaseDomain", on_release, NULL);
}

/* ---- creation ---------------------------------------------------------------- */

struct create_op {
	edera_ctx *ctx;
	edera_zone *zone;
	struct ed_pv_params p;
	char *kernel, *initrd, *cmdline;
	bool paused;
	edera_zone_create_cb cb;
	void *data;
	/* the skeleton transaction's batch of requests */
	edera_xs_txn *txn;
	int pending;
	int status;
	/* devices attached at creation (copies of the caller's configs) */
	edera_disk_config *disks;
	size_t n_disks;
	edera_nic_config *nics;
	size_t n_nics;
	unsigned int dev_timeout_ms;
	edera_device **devs;
	size_t n_devs;
	int dev_pending;
	int dev_status;
	char dev_msg[512];
};

static void op_free(struct create_op *op)
{
	free(op->kernel);
	free(op->initrd);
	free(op->cmdline);
	for (size_t i = 0; i < op->n_disks; i++) {
		free((char *)op->disks[i].path);
		free((char *)op->disks[i].vdev);
	}
	for (size_t i = 0; i < op->n_nics; i++) {
		free((char *)op->nics[i].bridge);
		free((char *)op->nics[i].mac);
	}
	free(op->disks);
	free(op->nics);
	free(op->devs);
	free(op);
}

static void create_fail(struct create_op *op, int status, bool built, bool introduced)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", edera_last_error());
	/* devices attached so far go, with their host side */
	ed_xb_zone_gone(z, op);
	if (built)
		destroy_domain_async(ctx, z, introduced, true);
	else
		intent_rm(ctx, z->uuid_str);
	free_zone(z);
	ed_error(status, "%s", msg);
	ED_CALLBACK(ctx, op->cb(ctx, status, NULL, op->data));
	op_free(op);
}

static void batch_done(edera_ctx *ctx, int status, void *data)
{
	struct create_op *op = data;

	if (status < 0 && op->status == 0)
		op->status = status;
	if (--op->pending > 0)
		return;
	if (op->status < 0) {
		edera_xs_txn_abort(op->txn, op->status);
	} else {
		ed_die_point("skeleton");
		edera_xs_txn_commit(op->txn);
	}
}

static void bwrite(struct create_op *op, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bwrite(struct create_op *op, const char *path, const char *fmt, ...)
{
	char v[256];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	rc = edera_xs_write(op->ctx, op->txn, path, v, strlen(v), batch_done, op);
	if (rc < 0 && op->status == 0)
		op->status = rc;
	else if (rc == 0)
		op->pending++;
}

static void bperms(struct create_op *op, const char *path, bool guest_writes)
{
	uint32_t d = op->zone->domid;
	edera_xs_perm ro[2] = { { 0, EDERA_XS_PERM_NONE }, { d, EDERA_XS_PERM_READ } };
	edera_xs_perm rw[1] = { { d, EDERA_XS_PERM_NONE } };
	int rc = guest_writes ? edera_xs_set_perms(op->ctx, op->txn, path, rw, 1, batch_done, op)
	                      : edera_xs_set_perms(op->ctx, op->txn, path, ro, 2, batch_done, op);

	if (rc < 0 && op->status == 0)
		op->status = rc;
	else if (rc == 0)
		op->pending++;
}

/* A removal in the batch; a node already gone is fine. */
static void brm_done(edera_ctx *ctx, int status, void *data)
{
	batch_done(ctx, status == EDERA_ENOENT ? 0 : status, data);
}

static void brm(struct create_op *op, const char *path)
{
	int rc = edera_xs_rm(op->ctx, op->txn, path, brm_done, op);

	if (rc < 0 && op->status == 0)
		op->status = rc;
	else if (rc == 0)
		op->pending++;
}

/* What an earlier domain with this domid left (a process that died before
 * cleaning up, a toolstack that never did): its /vm entry goes too. */
static void old_vm_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct create_op *op = data;
	char vm[64];

	snprintf(vm, sizeof(vm), "/vm/%s", op->zone->uuid_str);
	if (status == 0 && len > 4 && len < 64 && strncmp(value, "/vm/", 4) == 0 &&
	    strcmp(value, vm) != 0 && ed_xs_check_path(value, len, false) == 0)
		brm(op, value);
	batch_done(ctx, status == EDERA_ENOENT ? 0 : status, op);
}

/* The subtree a careful toolstack writes: the guest reads all of it, and
 * writes only where its drivers report (control features, data, ...).
 * Anything an earlier domain of the same domid left there goes first, in
 * the same transaction: re-attach must never find a stale marker on the
 * domain this one becomes. */
static void skeleton_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	static const char *const guest_rw[] = {
		"control/shutdown", "control/feature-poweroff", "control/feature-reboot",
		"control/feature-suspend", "control/sysrq", "data", "drivers", "feature", "attr",
		"error",
	};
	struct create_op *op = data;
	edera_zone *z = op->zone;
	char dom[32], p[128], vm[64];
	int rc;

	op->txn = txn;
	op->pending = 1; /* held until every request is issued */
	op->status = 0;
	snprintf(dom, sizeof(dom), "/local/domain/%u", z->domid);
	snprintf(vm, sizeof(vm), "/vm/%s", z->uuid_str);

	snprintf(p, sizeof(p), "%s/vm", dom);
	rc = edera_xs_read(ctx, txn, p, old_vm_read, op);
	if (rc == 0)
		op->pending++;
	else if (op->status == 0)
		op->status = rc;
	brm(op, dom);
	bwrite(op, dom, "%s", "");
	bperms(op, dom, false);
	bwrite(op, vm, "%s", "");
	bperms(op, vm, false);
#define P(rel) (snprintf(p, sizeof(p), "%s/%s", dom, rel), p)
	bwrite(op, P("name"), "%s", z->name);
	bwrite(op, P("domid"), "%u", z->domid);
	bwrite(op, P("vm"), "%s", vm);
	bwrite(op, P("memory/static-max"), "%llu", (unsigned long long)op->p.max_memory_kib);
	bwrite(op, P("memory/target"), "%llu", (unsigned long long)op->p.memory_kib);
	for (uint32_t i = 0; i < op->p.max_vcpus; i++) {
		char rel[48];
		snprintf(rel, sizeof(rel), "cpu/%u/availability", i);
		bwrite(op, P(rel), "%s", i < op->p.vcpus ? "online" : "offline");
	}
	bwrite(op, P("store/ring-ref"), "%llu", (unsigned long long)z->res.store_mfn);
	bwrite(op, P("store/port"), "%u", z->res.store_evtchn);
	bwrite(op, P("console/ring-ref"), "%llu", (unsigned long long)z->res.cons_mfn);
	bwrite(op, P("console/port"), "%u", z->res.cons_evtchn);
	/* xenconsoled serves only consoles of type "xenconsoled". */
	if (z->console) {
		bwrite(op, P("console/type"), "%s", "edera");
	} else {
		bwrite(op, P("console/limit"), "%u", 1048576);
		bwrite(op, P("console/type"), "%s", "xenconsoled");
		bwrite(op, P("console/output"), "%s", "pty");
	}
	bwrite(op, P("device"), "%s", "");
	/* The marker a restarted process finds its zones by. */
	bwrite(op, P("edera/managed"), "%s", "1");
	bwrite(op, P("edera/uuid"), "%s", z->uuid_str);
	for (size_t i = 0; i < ED_ARRAY_SIZE(guest_rw); i++) {
		bwrite(op, P(guest_rw[i]), "%s", "");
		bperms(op, P(guest_rw[i]), true);
	}
#undef P
	snprintf(p, sizeof(p), "%s/name", vm);
	bwrite(op, p, "%s", z->name);
	snprintf(p, sizeof(p), "%s/uuid", vm);
	bwrite(op, p, "%s", z->uuid_str);
	batch_done(ctx, 0, op); /* release the hold */
}

static void created(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;

	z->creating = false;
	/* the zone's marker stands for it from here on */
	intent_rm(ctx, z->uuid_str);
	ED_CALLBACK(ctx, op->cb(ctx, 0, z, op->data));
	op_free(op);
	/* @releaseDomain skips zones still being created: a guest that
	 * stopped meanwhile (connected its last device and powered off, or
	 * crashed) is found on the next loop turn, and its exit reported like
	 * any other, once the caller has the zone and its exit callback set.
	 * (The callback cannot free the handle synchronously: a destroy it
	 * starts completes later, and marks the zone exited at once.) */
	if (ctx->closing)
		return;
	for (edera_zone *it = ctx->zones; it; it = it->next)
		if (it == z && !z->exited && exit_reason(ctx, z) >= 0) {
			recheck_exits_soon(ctx);
			break;
		}
}

/* One device settled (attached, or connected by the guest): note a
 * failure; true when it was the last one out. */
static bool device_settled(struct create_op *op, int status)
{
	if (status < 0 && op->dev_status == 0) {
		op->dev_status = status;
		snprintf(op->dev_msg, sizeof(op->dev_msg), "%s", edera_last_error());
	}
	return --op->dev_pending == 0;
}

static bool devices_failed(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;

	if (op->dev_status == 0 && ctx->closing) {
		op->dev_status = EDERA_ECANCELED;
		snprintf(op->dev_msg, sizeof(op->dev_msg), "zone '%s': the context was closed",
		         op->zone->name);
	}
	if (op->dev_status == 0)
		return false;
	ed_error(op->dev_status, "%s", op->dev_msg);
	create_fail(op, op->dev_status, true, true);
	return true;
}

static void device_connected(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct create_op *op = data;

	if (device_settled(op, status) && !devices_failed(op))
		created(op);
}

/* Every device's backend is ready: run the guest, and wait for its drivers
 * to connect them. */
static void devices_attached(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;

	if (devices_failed(op))
		return;
	ed_die_point("devices");
	if (op->paused) {
		created(op);
		return;
	}
	if (xc_domain_unpause(ctx->hv.xch, z->domid) < 0) {
		create_fail(op, ed_error(ed_errno_code(errno), "unpausing domain %u: %s", z->domid,
		                         strerror(errno)),
		            true, true);
		return;
	}
	ed_die_point("connecting");
	op->dev_pending = 1; /* held while the waits start */
	for (size_t i = 0; i < op->n_devs; i++) {
		int rc = ed_xb_await(op->devs[i], op->dev_timeout_ms, device_connected, op);

		if (rc < 0) {
			device_settled(op, rc);
			op->dev_pending++;
			break;
		}
		op->dev_pending++;
	}
	device_connected(ctx, 0, NULL, op);
}

static void device_attached(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct create_op *op = data;

	if (status == 0 && dev)
		op->devs[op->n_devs++] = dev;
	if (device_settled(op, status))
		devices_attached(op);
}

static void start_devices(struct create_op *op)
{
	edera_zone *z = op->zone;

	op->devs = calloc(op->n_disks + op->n_nics, sizeof(*op->devs));
	if (!op->devs) {
		create_fail(op, ed_error(EDERA_ENOMEM, "out of memory"), true, true);
		return;
	}
	op->dev_pending = 1; /* held while the attaches start */
	for (size_t i = 0; i < op->n_disks + op->n_nics && op->dev_status == 0; i++) {
		int rc = i < op->n_disks
		       ? ed_xb_attach_early(z, &op->disks[i], NULL, op->dev_timeout_ms,
		                            device_attached, op)
		       : ed_xb_attach_early(z, NULL, &op->nics[i - op->n_disks], op->dev_timeout_ms,
		                            device_attached, op);

		op->dev_pending++;
		if (rc < 0)
			device_settled(op, rc);
	}
	device_attached(op->ctx, 0, NULL, op);
}

static void start_running(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;

	if (!op->paused && xc_domain_unpause(ctx->hv.xch, z->domid) < 0) {
		create_fail(op, ed_error(ed_errno_code(errno), "unpausing domain %u: %s", z->domid,
		                         strerror(errno)),
		            true, true);
		return;
	}
	created(op);
}

static void introduced(edera_ctx *ctx, int status, void *data)
{
	struct create_op *op = data;
	edera_zone *z = op->zone;

	if (status == 0 && ctx->closing)
		status = ed_error(EDERA_ECANCELED, "zone '%s': the context was closed", z->name);
	if (status < 0) {
		create_fail(op, status, true, status == EDERA_ECANCELED);
		return;
	}
	/* Served before the guest runs, so not a byte is missed. */
	if (z->console) {
		int rc = ed_console_connect(z->console, z->domid, z->res.cons_mfn,
		                            z->res.cons_evtchn);

		if (rc < 0) {
			create_fail(op, rc, true, true);
			return;
		}
	}
	if (op->n_disks + op->n_nics > 0)
		start_devices(op);
	else
		start_running(op);
}

static void skeleton_done(edera_ctx *ctx, int status, void *data)
{
	struct create_op *op = data;
	edera_zone *z = op->zone;
	int rc;

	if (status == 0 && ctx->closing)
		status = ed_error(EDERA_ECANCELED, "zone '%s': the context was closed", z->name);
	if (status < 0) {
		create_fail(op, status, true, false);
		return;
	}
	rc = edera_xs_introduce(ctx, z->domid, z->res.store_mfn, z->res.store_evtchn, introduced, op);
	if (rc < 0)
		create_fail(op, rc, true, false);
}

static int build_work(void *arg)
{
	struct create_op *op = arg;

	return ed_pv_build(&op->ctx->hv, &op->ctx->kcache, &op->p, &op->zone->res);
}

static void build_after(edera_ctx *ctx, int status, void *arg)
{
	struct create_op *op = arg;
	int rc;

	if (status < 0) {
		create_fail(op, status, false, false);
		return;
	}
	op->zone->domid = op->zone->res.domid;
	if (ctx->closing) {
		create_fail(op, ed_error(EDERA_ECANCELED, "zone '%s': the context was closed",
		                         op->zone->name),
		            true, false);
		return;
	}
	rc = edera_xs_transaction(ctx, skeleton_body, skeleton_done, op);
	if (rc < 0)
		create_fail(op, rc, true, false);
}

/* The record is in XenStore: the domain may be built. */
static void intent_written(edera_ctx *ctx, int status, void *data)
{
	struct create_op *op = data;
	int rc;

	if (status == 0 && ctx->closing)
		status = ed_error(EDERA_ECANCELED, "zone '%s': the context was closed",
		                  op->zone->name);
	if (status < 0) {
		create_fail(op, status, false, false);
		return;
	}
	rc = ed_offload(ctx, build_work, build_after, op);
	if (rc < 0)
		create_fail(op, rc, false, false);
}

static int intent_write(struct create_op *op)
{
	long pid = (long)getpid();
	unsigned long long start = proc_start(pid);
	edera_zone *z = op->zone;
	char path[96], v[128];
	int rc = live_add(z->uuid_str);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), ED_INTENTS "/%s", z->uuid_str);
	snprintf(v, sizeof(v), "%ld %llu %s", pid, start, z->name);
	rc = edera_xs_write(op->ctx, NULL, path, v, strlen(v), intent_written, op);
	if (rc < 0)
		live_del(z->uuid_str);
	return rc;
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int edera_zone_create(edera_ctx *ctx, const edera_zone_config *cfg, edera_zone_create_cb cb,
                      void *data)
{
	edera_zone_config c;
	struct create_op *op;
	edera_zone *z;
	bool oom = false;
	int rc;

	if (!ctx || !cfg || !cb)
		return ed_error(EDERA_EINVAL, "edera_zone_create: ctx, cfg and cb are required");
	rc = ed_sized_check(cfg, cfg->sz, sizeof(*cfg), "edera_zone_config");
	if (rc < 0)
		return rc;
	edera_zone_config_init(&c);
	memcpy(&c, cfg, cfg->sz < sizeof(c) ? cfg->sz : sizeof(c));
	if (!c.name || !*c.name || strlen(c.name) > 64)
		return ed_error(EDERA_EINVAL, "a zone needs a name of 1 to 64 bytes");
	for (const char *s = c.name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return ed_error(EDERA_EINVAL,
			                "zone name '%s': use letters, digits, '-', '_' and '.'", c.name);
	if (!c.kernel)
		return ed_error(EDERA_EINVAL, "zone '%s': no kernel image given", c.name);
	if (edera_zone_lookup(ctx, c.name))
		return ed_error(EDERA_EEXIST, "a zone named '%s' already exists", c.name);
	if (c.memory_mib == 0)
		c.memory_mib = 256;
	if (c.max_memory_mib == 0)
		c.max_memory_mib = c.memory_mib;
	if (c.vcpus == 0)
		c.vcpus = 1;
	if (c.max_vcpus == 0)
		c.max_vcpus = c.vcpus;
	if (c.memory_mib > (1ull << 30) || c.max_memory_mib > (1ull << 30))
		return ed_error(EDERA_EINVAL, "zone '%s': memory size out of range", c.name);
	if (c.console_mode != EDERA_CONSOLE_LIBRARY && c.console_mode != EDERA_CONSOLE_XENCONSOLED)
		return ed_error(EDERA_EINVAL,
		                "zone '%s': console_mode %d is neither EDERA_CONSOLE_LIBRARY nor "
		                "EDERA_CONSOLE_XENCONSOLED",
		                c.name, c.console_mode);
	if (c.console_history_kib > EDERA_CONSOLE_HISTORY_MAX_KIB)
		return ed_error(EDERA_EINVAL, "zone '%s': console history of %u KiB is over the %u KiB "
		                "allowed",
		                c.name, c.console_history_kib, EDERA_CONSOLE_HISTORY_MAX_KIB);
	if (c.console_log && c.console_mode != EDERA_CONSOLE_LIBRARY)
		return ed_error(EDERA_EINVAL, "zone '%s': console_log needs console_mode "
		                "EDERA_CONSOLE_LIBRARY (xenconsoled keeps its own log)",
		                c.name);
	if (c.console_history_kib == 0)
		c.console_history_kib = EDERA_CONSOLE_HISTORY_DEFAULT_KIB;
	if ((c.n_disks && !c.disks) || (c.n_nics && !c.nics) || c.n_disks > 16 || c.n_nics > 16)
		return ed_error(EDERA_EINVAL, "zone '%s': disks and nics: arrays of n_disks and "
		                "n_nics pointers, 16 at most",
		                c.name);
	for (size_t i = 0; i < c.n_disks + c.n_nics; i++) {
		const size_t *sz = i < c.n_disks ? (const void *)c.disks[i]
		                                 : (const void *)c.nics[i - c.n_disks];

		if (!sz)
			return ed_error(EDERA_EINVAL, "zone '%s': device %zu of the config is NULL",
			                c.name, i);
		rc = ed_sized_check(sz, *sz, i < c.n_disks ? sizeof(edera_disk_config)
		                                          : sizeof(edera_nic_config),
		                    i < c.n_disks ? "edera_disk_config" : "edera_nic_config");
		if (rc < 0)
			return rc;
	}
	{
		xc_physinfo_t pi = { 0 };
		uint64_t free_mib;

		if (xc_physinfo(ctx->hv.xch, &pi) == 0) {
			free_mib = (uint64_t)pi.free_pages >> (20 - XC_PAGE_SHIFT);
			if (c.memory_mib > free_mib)
				return ed_error(EDERA_ENOMEM,
				                "zone '%s': %llu MiB asked for, but Xen has only %llu MiB "
				                "free",
				                c.name, (unsigned long long)c.memory_mib,
				                (unsigned long long)free_mib);
		}
	}
	rc = ensure_release_watch(ctx);
	if (rc < 0)
		return rc;

	op = calloc(1, sizeof(*op));
	z = calloc(1, sizeof(*z));
	if (!op || !z || !(z->name = strdup(c.name))) {
		free(op);
		if (z)
			free(z->name);
		free(z);
		return ed_error(EDERA_ENOMEM, "out of memory");
	}
	op->kernel = dup_opt(c.kernel, &oom);
	op->initrd = dup_opt(c.initrd, &oom);
	op->cmdline = dup_opt(c.cmdline, &oom);
	op->dev_timeout_ms = c.device_timeout_ms ? c.device_timeout_ms : 60000;
	if (c.n_disks) {
		op->disks = calloc(c.n_disks, sizeof(*op->disks));
		oom = oom || !op->disks;
		for (size_t i = 0; op->disks && i < c.n_disks; i++) {
			edera_disk_config_init(&op->disks[i]);
			memcpy(&op->disks[i], c.disks[i],
			       c.disks[i]->sz < sizeof(op->disks[i]) ? c.disks[i]->sz
			                                             : sizeof(op->disks[i]));
			op->disks[i].sz = sizeof(op->disks[i]);
			op->disks[i].path = dup_opt(op->disks[i].path, &oom);
			op->disks[i].vdev = dup_opt(op->disks[i].vdev, &oom);
			op->n_disks++;
		}
	}
	if (c.n_nics) {
		op->nics = calloc(c.n_nics, sizeof(*op->nics));
		oom = oom || !op->nics;
		for (size_t i = 0; op->nics && i < c.n_nics; i++) {
			edera_nic_config_init(&op->nics[i]);
			memcpy(&op->nics[i], c.nics[i],
			       c.nics[i]->sz < sizeof(op->nics[i]) ? c.nics[i]->sz
			                                           : sizeof(op->nics[i]));
			op->nics[i].sz = sizeof(op->nics[i]);
			op->nics[i].bridge = dup_opt(op->nics[i].bridge, &oom);
			op->nics[i].mac = dup_opt(op->nics[i].mac, &oom);
			op->n_nics++;
		}
	}
	if (oom) {
		free(z->name);
		free(z);
		op_free(op);
		return ed_error(EDERA_ENOMEM, "out of memory");
	}
	z->ctx = ctx;
	z->creating = true;
	new_uuid(z);
	if (c.console_mode == EDERA_CONSOLE_LIBRARY) {
		rc = ed_console_new(ctx, z, (size_t)c.console_history_kib * 1024, &z->console);
		if (rc == 0 && c.console_log_max_kib)
			ed_console_log_max(z->console, (uint64_t)c.console_log_max_kib * 1024);
		if (rc == 0 && c.console_log)
			rc = edera_console_log(z, c.console_log);
		if (rc < 0) {
			ed_console_free(z->console);
			free(z->name);
			free(z);
			op_free(op);
			return rc;
		}
	}
	op->ctx = ctx;
	op->zone = z;
	op->cb = cb;
	op->data = data;
	op->paused = c.start_paused != 0;
	op->p.kernel = op->kernel;
	op->p.ramdisk = op->initrd;
	op->p.cmdline = op->cmdline;
	op->p.memory_kib = c.memory_mib * 1024;
	op->p.max_memory_kib = c.max_memory_mib * 1024;
	op->p.vcpus = c.vcpus;
	op->p.max_vcpus = c.max_vcpus;
	z->target_kib = op->p.memory_kib;
	z->ceiling_kib = op->p.max_memory_kib;
	z->vcpus_target = c.vcpus;
	memcpy(op->p.uuid, z->uuid, sizeof(z->uuid));
	link_zone(z); /* at once, so the name is taken */
	rc = intent_write(op);
	if (rc < 0) {
		free_zone(z);
		op_free(op);
	}
	return rc;
}

struct sync_create {
	struct ed_sync s; /* first */
	edera_zone *zone;
};

static void sync_created(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct sync_create *s = data;

	s->zone = zone;
	ed_sync_finish(&s->s, status);
}

int edera_zone_create_sync(edera_ctx *ctx, const edera_zone_config *cfg, edera_zone **out)
{
	struct sync_create s;
	int rc = ed_ctx_check_blocking(ctx, "edera_zone_create_sync");

	if (rc < 0)
		return rc;
	if (!out)
		return ed_error(EDERA_EINVAL, "edera_zone_create_sync: out is NULL");
	*out = NULL;
	memset(&s, 0, sizeof(s));
	rc = ed_sync_wait(ctx, edera_zone_create(ctx, cfg, sync_created, &s), &s.s);
	if (rc < 0)
		return rc;
	*out = s.zone;
	return 0;
}

/* ---- control --------------------------------------------------------------- */

int edera_zone_unpause(edera_zone *z)
{
	if (!z || z->creating || z->exited)
		return ed_error(EDERA_EINVAL, "edera_zone_unpause: no running zone");
	if (xc_domain_unpause(z->ctx->hv.xch, z->domid) < 0)
		return ed_error(ed_errno_code(errno), "unpausing zone '%s': %s", z->name, strerror(errno));
	return 0;
}

int edera_zone_pause(edera_zone *z)
{
	if (!z || z->creating || z->exited)
		return ed_error(EDERA_EINVAL, "edera_zone_pause: no running zone");
	if (xc_domain_pause(z->ctx->hv.xch, z->domid) < 0)
		return ed_error(ed_errno_code(errno), "pausing zone '%s': %s", z->name, strerror(errno));
	return 0;
}

/* ---- destroy ------------------------------------------------------------- */

struct destroy_op {
	struct destroy_work w; /* what the threadpool sees */
	edera_zone *zone;
	edera_zone_done_cb cb;
	void *data;
};

static void destroy_finish(edera_ctx *ctx, struct destroy_op *op, int status)
{
	edera_zone *z = op->zone;

	z->destroying = false;
	if (status < 0) {
		/* The domain is still there (the hypercall failed): the zone stays. */
		if (!ctx->closing)
			z->exited = false;
	}
	if (op->cb)
		ED_CALLBACK(ctx, op->cb(ctx, status, z, op->data));
	if (status == 0 || ctx->closing)
		free_zone(z);
	free(op);
}

static void destroy_nodes_removed(edera_ctx *ctx, int status, void *data)
{
	destroy_finish(ctx, data, status);
}

static void destroyed(edera_ctx *ctx, int status, void *arg)
{
	struct destroy_op *op = ed_container_of((struct destroy_work *)arg, struct destroy_op, w);

	if (status == 0) {
		ed_console_disconnect(op->zone->console, false);
		ed_xb_zone_gone(op->zone, NULL);
		ed_share_zone_gone(op->zone);
		ed_resize_zone_gone(op->zone);
	}
	if (status < 0 || ctx->xs_gone || !op->w.introduced) {
		destroy_finish(ctx, op, status);
		return;
	}
	/* Only now that the domain is dying (see remove_nodes). */
	remove_nodes(ctx, op->zone->domid, op->zone->uuid_str, true, destroy_nodes_removed, op);
}

static int nothing_to_do(void *arg)
{
	return 0;
}

int edera_zone_destroy(edera_zone *z, edera_zone_done_cb cb, void *data)
{
	struct destroy_op *op;
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_destroy: zone is NULL");
	if (z->creating)
		return ed_error(EDERA_EBUSY, "zone '%s' is still being created", z->name);
	if (z->destroying)
		return ed_error(EDERA_EBUSY, "zone '%s' is already being destroyed", z->name);
	op = calloc(1, sizeof(*op));
	if (!op)
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->zone = z;
	op->cb = cb;
	op->data = data;
	op->w.hv = &z->ctx->hv;
	op->w.domid = z->domid;
	/* A zone whose exit was handled is already gone, with its nodes; its
	 * domid may even belong to a new domain by now: touch nothing. */
	op->w.introduced = !z->exited;
	rc = ed_offload(z->ctx, z->exited ? nothing_to_do : destroy_work, destroyed, &op->w);
	if (rc < 0) {
		free(op);
		return rc;
	}
	z->destroying = true;
	z->exited = true; /* no exit event for a destroy we asked for */
	return 0;
}

static void sync_destroyed(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ed_sync_finish(data, status);
}

int edera_zone_destroy_sync(edera_zone *z)
{
	struct ed_sync s = { 0 };
	int rc;

	if (!z)
		return ed_error(EDERA_EINVAL, "edera_zone_destroy_sync: zone is NULL");
	rc = ed_ctx_check_blocking(z->ctx, "edera_zone_destroy_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(z->ctx, edera_zone_destroy(z, sync_destroyed, &s), &s);
}

void ed_zones_fini(edera_ctx *ctx)
{
	/* Zones outlive the process that made them (the marker lets another
	 * find them); only the handles go.  A zone with an operation in flight
	 * is freed by that operation when it completes (it sees ctx->closing). */
	while (ctx->zones) {
		edera_zone *z = ctx->zones;

		if (z->creating || z->destroying) {
			/* Its console lets go now: the ports and the loop
			 * handles go with the context. */
			ed_console_disconnect(z->console, false);
			ed_xb_zone_forget(z);
			/* its ports go with the context's event channels
			 * below: let go of them (and of its pages) now */
			ed_share_zone_gone(z);
			unlink_zone(z);
		} else
			free_zone(z);
	}
}

/* ---- re-attach ------------------------------------------------------------ */

enum { RA_UUID, RA_NAME, RA_STORE_REF, RA_STORE_PORT, RA_CONS_REF, RA_CONS_PORT, RA_CONS_TYPE,
       RA_TARGET, RA_STATIC_MAX, RA_N };
static const char *const ra_rel[RA_N] = {
	"edera/uuid",   "name",         "store/ring-ref", "store/port",
	"console/ring-ref", "console/port", "console/type", "memory/target",
	"memory/static-max",
};

struct reattach_op;

struct ra_read {
	struct reattach_op *op;
	size_t cand;
	int key;
};

struct ra_cand {
	uint32_t domid;
	char *v[RA_N];
};

/* A creation's record (see "creation intents"), and for one whose process
 * is gone, the domains Xen has with its UUID as their handle. */
struct ra_intent {
	struct reattach_op *op;
	char uuid[37];
	char *val;
	bool dead;
	uint32_t domids[4];
	bool dying[4];
	unsigned int n_domids;
};

struct reattach_op {
	edera_ctx *ctx;
	edera_zone_reattach_cb cb;
	void *data;
	struct ra_cand *c;
	struct ra_read *r;
	size_t n;
	struct ra_intent *in;
	size_t n_in;
	int pending;
	int status;
	unsigned int attached, cleaned;
};

static void ra_free(struct reattach_op *op)
{
	for (size_t i = 0; i < op->n; i++)
		for (int k = 0; k < RA_N; k++)
			free(op->c[i].v[k]);
	free(op->c);
	free(op->r);
	for (size_t i = 0; i < op->n_in; i++)
		free(op->in[i].val);
	free(op->in);
	free(op);
}

static void ra_step_done(edera_ctx *ctx, int status, void *data)
{
	struct reattach_op *op = data;

	if (status < 0 && status != EDERA_ENOENT && op->status == 0)
		op->status = status;
	if (--op->pending > 0)
		return;
	ED_CALLBACK(ctx, op->cb(ctx, op->status, op->attached, op->cleaned, op->data));
	ra_free(op);
}

static void ra_destroyed(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	ra_step_done(ctx, status, data);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	     : c >= 'a' && c <= 'f' ? c - 'a' + 10
	     : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                            : -1;
}

static bool parse_uuid(const char *s, uint8_t out[16])
{
	size_t j = 0;

	if (!s || strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[++i]);
		if (hi < 0 || lo < 0 || j >= 16)
			return false;
		out[j++] = (uint8_t)(hi << 4 | lo);
	}
	return j == 16;
}

static uint64_t ra_num(const char *s)
{
	return s ? strtoull(s, NULL, 10) : 0;
}

/* An adopted zone's vCPU target, taken as what runs now (the availability
 * nodes are not read back). */
static void ra_vcpus(edera_ctx *ctx, edera_zone *z)
{
	xc_dominfo_t di;

	if (xc_domain_getinfo(ctx->hv.xch, z->domid, 1, &di) == 1 && di.domid == z->domid) {
		z->vcpus_target = di.nr_online_vcpus;
		/* no memory/static-max (written since 0.1 by every creation):
		 * the most Xen lets it hold is all that can be said */
		if (!z->ceiling_kib)
			z->ceiling_kib = ed_zone_xen_max_less_slack(&di);
	}
}

/* A handle for a marked zone found in XenStore; NULL when out of memory. */
static edera_zone *ra_zone(edera_ctx *ctx, const struct ra_cand *c, const uint8_t uuid[16])
{
	edera_zone *z = calloc(1, sizeof(*z));
	char fallback[32];
	const char *name = c->v[RA_NAME];

	if (!z)
		return NULL;
	snprintf(fallback, sizeof(fallback), "zone-%u", c->domid);
	/* Two live zones must not share a name in one context. */
	if (!name || !*name || edera_zone_lookup(ctx, name))
		name = fallback;
	z->name = strdup(name);
	if (!z->name) {
		free(z);
		return NULL;
	}
	z->ctx = ctx;
	z->domid = c->domid;
	memcpy(z->uuid, uuid, 16);
	snprintf(z->uuid_str, sizeof(z->uuid_str), "%s", c->v[RA_UUID]);
	z->res.domid = c->domid;
	z->res.store_mfn = ra_num(c->v[RA_STORE_REF]);
	z->res.store_evtchn = (uint32_t)ra_num(c->v[RA_STORE_PORT]);
	z->res.cons_mfn = ra_num(c->v[RA_CONS_REF]);
	z->res.cons_evtchn = (uint32_t)ra_num(c->v[RA_CONS_PORT]);
	z->target_kib = ra_num(c->v[RA_TARGET]);
	z->ceiling_kib = ra_num(c->v[RA_STATIC_MAX]);
	ra_vcpus(ctx, z);
	if (c->v[RA_CONS_TYPE] && strcmp(c->v[RA_CONS_TYPE], "xenconsoled") != 0 &&
	    ed_console_new(ctx, z, EDERA_CONSOLE_HISTORY_DEFAULT_KIB * 1024, &z->console) < 0) {
		free(z->name);
		free(z);
		return NULL;
	}
	link_zone(z);
	return z;
}

/* Whether this context already has a handle on DOMID: a zone being
 * created (its marker is written before its creation completes), running,
 * or stopped with its clean-up still under way. */
static bool ra_ours_already(edera_ctx *ctx, uint32_t domid)
{
	for (edera_zone *z = ctx->zones; z; z = z->next)
		if (z->domid == domid)
			return true;
	return false;
}

/* A marker on a domain whose Xen handle is not the marker's UUID: the
 * zone it named is long gone and its domid belongs to another domain now
 * (or someone wrote a marker that was never ours).  The domain is not
 * ours to adopt or destroy; only the stale marker (and the old zone's /vm
 * entry) go. */
static void ra_stale_marker(struct reattach_op *op, const struct ra_cand *c)
{
	char path[96];

	snprintf(path, sizeof(path), "/local/domain/%u/edera", c->domid);
	if (edera_xs_rm(op->ctx, NULL, path, ra_step_done, op) == 0)
		op->pending++;
	snprintf(path, sizeof(path), "/vm/%s", c->v[RA_UUID]);
	if (edera_xs_rm(op->ctx, NULL, path, ra_step_done, op) == 0)
		op->pending++;
	op->cleaned++;
}

static struct ra_intent *ra_intent_find(struct reattach_op *op, const char *uuid)
{
	/* a record gone by the time it was read: that creation ended */
	for (size_t i = 0; i < op->n_in; i++)
		if (op->in[i].val && strcasecmp(op->in[i].uuid, uuid) == 0)
			return &op->in[i];
	return NULL;
}

/* On the threadpool: the domains of the dead creations (by Xen handle),
 * destroyed. */
static int ra_halfbuilt_work(void *arg)
{
	struct reattach_op *op = arg;
	xc_dominfo_t di[64];
	uint32_t next = 0;
	int got, rc = 0;

	while ((got = xc_domain_getinfo(op->ctx->hv.xch, next, ED_ARRAY_SIZE(di), di)) > 0) {
		for (int k = 0; k < got; k++) {
			for (size_t i = 0; i < op->n_in; i++) {
				struct ra_intent *in = &op->in[i];
				uint8_t uuid[16];

				if (!in->dead || in->n_domids == ED_ARRAY_SIZE(in->domids) ||
				    !parse_uuid(in->uuid, uuid) ||
				    memcmp(di[k].handle, uuid, sizeof(uuid)) != 0)
					continue;
				in->dying[in->n_domids] = di[k].dying;
				in->domids[in->n_domids++] = di[k].domid;
				if (!di[k].dying && xc_domain_destroy(op->ctx->hv.xch, di[k].domid) < 0 &&
				    errno != ESRCH && rc == 0)
					rc = ed_error(ed_errno_code(errno),
					              "destroying domain %u, left half-built by a "
					              "creation that died: %s",
					              di[k].domid, strerror(errno));
			}
		}
		next = di[got - 1].domid + 1;
		if (got < (int)ED_ARRAY_SIZE(di) || next >= DOMID_FIRST_RESERVED)
			break;
	}
	if (got < 0 && rc == 0)
		rc = ed_error(ed_errno_code(errno), "listing Xen's domains: %s", strerror(errno));
	return rc;
}

/* Their domains are dying: what was written for them goes, then the
 * records themselves (a crash meanwhile leaves them for the next time). */
static void ra_halfbuilt_after(edera_ctx *ctx, int status, void *arg)
{
	struct reattach_op *op = arg;

	if (status == 0 && ctx->xs_gone)
		status = ed_error(EDERA_ECANCELED, "the context was closed: the nodes of creations "
		                  "undone are left for the next re-attach");
	if (status == 0) {
		for (size_t i = 0; i < op->n_in; i++) {
			struct ra_intent *in = &op->in[i];
			char path[96];

			if (!in->dead)
				continue;
			for (unsigned int k = 0; k < in->n_domids; k++) {
				op->pending++;
				remove_nodes(ctx, in->domids[k], in->uuid, true, ra_step_done, op);
			}
			snprintf(path, sizeof(path), ED_INTENTS "/%s", in->uuid);
			if (edera_xs_rm(ctx, NULL, path, ra_step_done, op) == 0)
				op->pending++;
			op->cleaned++;
		}
	}
	ra_step_done(ctx, status, op);
}

/* Creations whose process is gone: undo what they built. */
static void ra_undo_halfbuilt(struct reattach_op *op)
{
	bool any = false;
	int rc;

	for (size_t i = 0; i < op->n_in; i++)
		any = any || op->in[i].dead;
	if (!any || op->status < 0)
		return;
	rc = ed_offload(op->ctx, ra_halfbuilt_work, ra_halfbuilt_after, op);
	if (rc < 0)
		op->status = rc;
	else
		op->pending++;
}

/* Every marker read: decide for each candidate. */
static void ra_process(struct reattach_op *op)
{
	edera_ctx *ctx = op->ctx;

	op->pending = 1; /* held while the work goes out */
	for (size_t i = 0; i < op->n && op->status == 0; i++) {
		struct ra_cand *c = &op->c[i];
		struct ra_intent *in;
		uint8_t uuid[16];
		xc_dominfo_t di;
		bool exists;
		edera_zone *z;

		if (!c->v[RA_UUID] || !parse_uuid(c->v[RA_UUID], uuid))
			continue; /* not a zone of ours (or a marker we cannot read) */
		/* a creation of this context wrote it while the markers were read */
		if (ra_ours_already(ctx, c->domid))
			continue;
		exists = xc_domain_getinfo(ctx->hv.xch, c->domid, 1, &di) == 1 &&
		         di.domid == c->domid && !di.dying;
		/* a creation under way elsewhere, or a half-built zone undone
		 * below (by its domain's handle; its marker here too when that
		 * domain is already gone) */
		in = ra_intent_find(op, c->v[RA_UUID]);
		if (in) {
			if (in->dead && !exists) {
				op->pending++;
				remove_nodes(ctx, c->domid, c->v[RA_UUID], false, ra_step_done, op);
			}
			continue;
		}
		/* the builder gives every zone's domain its UUID as Xen's handle */
		if (exists && memcmp(di.handle, uuid, sizeof(uuid)) != 0) {
			ra_stale_marker(op, c);
			continue;
		}
		if (exists && !di.shutdown && !di.crashed) {
			z = ra_zone(ctx, c, uuid);
			if (!z) {
				op->status = ed_error(EDERA_ENOMEM, "out of memory");
			} else {
				op->attached++;
				/* Serve its console from here on.  If that fails
				 * (another process still serves it), the zone is
				 * still ours; its console stays disconnected. */
				if (z->console)
					ed_console_connect(z->console, z->domid, z->res.cons_mfn,
					                   z->res.cons_evtchn);
			}
		} else if (exists) {
			/* Stopped with nobody to clean up after it. */
			z = ra_zone(ctx, c, uuid);
			if (!z) {
				op->status = ed_error(EDERA_ENOMEM, "out of memory");
			} else {
				int rc = edera_zone_destroy(z, ra_destroyed, op);

				if (rc < 0) {
					op->status = rc; /* the handle stays: still a zone */
				} else {
					op->pending++;
					op->cleaned++;
				}
			}
		} else {
			op->pending++;
			remove_nodes(ctx, c->domid, c->v[RA_UUID], false, ra_step_done, op);
			op->cleaned++;
		}
	}
	ra_undo_halfbuilt(op);
	ra_step_done(ctx, 0, op);
}

static void ra_intents_listed(edera_ctx *ctx, int status, const char *const *names, size_t n,
                              void *data);

/* One read (or the hold while they go out) settled. */
static void ra_read_settled(edera_ctx *ctx, struct reattach_op *op)
{
	int rc;

	if (--op->pending > 0)
		return;
	if (op->status < 0) {
		op->pending = 1;
		ra_step_done(ctx, op->status, op);
		return;
	}
	/* The records after the markers: a record exists from before its
	 * zone's marker until after the creation, so a marker read above
	 * whose creation is still under way has its record read below. */
	rc = edera_xs_directory(ctx, NULL, ED_INTENTS, ra_intents_listed, op);
	if (rc < 0) {
		op->pending = 1;
		ra_step_done(ctx, rc, op);
	}
}

static void ra_read_done(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct ra_read *r = data;
	struct reattach_op *op = r->op;

	if (status == 0) {
		char *v = malloc(len + 1);

		if (!v) {
			status = ed_error(EDERA_ENOMEM, "out of memory");
		} else {
			memcpy(v, value, len);
			v[len] = '\0';
			op->c[r->cand].v[r->key] = v;
		}
	}
	if (status < 0 && status != EDERA_ENOENT && op->status == 0)
		op->status = status;
	ra_read_settled(ctx, op);
}

static void ra_listed(edera_ctx *ctx, int status, const char *const *names, size_t n, void *data)
{
	struct reattach_op *op = data;

	if (status == 0) {
		op->c = calloc(n ? n : 1, sizeof(*op->c));
		op->r = calloc(n ? n * RA_N : 1, sizeof(*op->r));
		if (!op->c || !op->r)
			status = ed_error(EDERA_ENOMEM, "out of memory");
	}
	op->pending = 1; /* held while the reads go out */
	op->status = status;
	for (size_t i = 0; i < n && op->status == 0; i++) {
		char *end;
		unsigned long d = strtoul(names[i], &end, 10);
		struct ra_cand *c = &op->c[op->n];

		if (*end || end == names[i] || d == 0 || d >= DOMID_FIRST_RESERVED ||
		    ra_ours_already(ctx, (uint32_t)d))
			continue;
		c->domid = (uint32_t)d;
		for (int k = 0; k < RA_N; k++) {
			struct ra_read *r = &op->r[op->n * RA_N + k];
			char path[96];
			int rc;

			r->op = op;
			r->cand = op->n;
			r->key = k;
			snprintf(path, sizeof(path), "/local/domain/%u/%s", c->domid, ra_rel[k]);
			rc = edera_xs_read(ctx, NULL, path, ra_read_done, r);
			if (rc < 0)
				op->status = rc;
			else
				op->pending++;
		}
		op->n++;
	}
	ra_read_settled(ctx, op);
}

/* Every record read: whose creation is still under way; then decide. */
static void ra_intents_settled(edera_ctx *ctx, struct reattach_op *op)
{
	if (--op->pending > 0)
		return;
	/* a record gone meanwhile (no value): that creation ended */
	for (size_t i = 0; op->status == 0 && i < op->n_in; i++)
		op->in[i].dead = op->in[i].val && !intent_alive(op->in[i].val, op->in[i].uuid);
	if (op->status < 0) {
		op->pending = 1;
		ra_step_done(ctx, op->status, op);
		return;
	}
	ra_process(op);
}

static void ra_intent_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct ra_intent *in = data;
	struct reattach_op *op = in->op;

	if (status == 0) {
		in->val = strndup(value, len);
		if (!in->val)
			status = ed_error(EDERA_ENOMEM, "out of memory");
	}
	if (status < 0 && status != EDERA_ENOENT && op->status == 0)
		op->status = status;
	ra_intents_settled(ctx, op);
}

static void ra_intents_listed(edera_ctx *ctx, int status, const char *const *names, size_t n,
                              void *data)
{
	struct reattach_op *op = data;
	uint8_t uuid[16];

	if (status == EDERA_ENOENT) { /* no creation ever recorded */
		status = 0;
		n = 0;
	}
	if (status == 0 && n) {
		op->in = calloc(n, sizeof(*op->in));
		if (!op->in)
			status = ed_error(EDERA_ENOMEM, "out of memory");
	}
	op->pending = 1; /* held while the reads go out */
	op->status = status;
	for (size_t i = 0; i < n && op->status == 0; i++) {
		struct ra_intent *in = &op->in[op->n_in];
		char path[96];
		int rc;

		if (!parse_uuid(names[i], uuid))
			continue; /* not a record of ours */
		in->op = op;
		snprintf(in->uuid, sizeof(in->uuid), "%s", names[i]);
		op->n_in++;
		snprintf(path, sizeof(path), ED_INTENTS "/%s", in->uuid);
		rc = edera_xs_read(ctx, NULL, path, ra_intent_read, in);
		if (rc < 0)
			op->status = rc;
		else
			op->pending++;
	}
	ra_intents_settled(ctx, op);
}

int edera_zone_reattach(edera_ctx *ctx, edera_zone_reattach_cb cb, void *data)
{
	struct reattach_op *op;
	int rc;

	if (!ctx || !cb)
		return ed_error(EDERA_EINVAL, "edera_zone_reattach: ctx and cb are required");
	/* Watch before looking, so no exit falls between the two. */
	rc = ensure_release_watch(ctx);
	if (rc < 0)
		return rc;
	op = calloc(1, sizeof(*op));
	if (!op)
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->ctx = ctx;
	op->cb = cb;
	op->data = data;
	rc = edera_xs_directory(ctx, NULL, "/local/domain", ra_listed, op);
	if (rc < 0)
		free(op);
	return rc;
}

struct sync_reattach {
	struct ed_sync s; /* first */
	unsigned int attached, cleaned;
};

static void sync_reattached(edera_ctx *ctx, int status, unsigned int attached,
                            unsigned int cleaned, void *data)
{
	struct sync_reattach *s = data;

	s->attached = attached;
	s->cleaned = cleaned;
	ed_sync_finish(&s->s, status);
}

int edera_zone_reattach_sync(edera_ctx *ctx, unsigned int *attached, unsigned int *cleaned)
{
	struct sync_reattach s;
	int rc = ed_ctx_check_blocking(ctx, "edera_zone_reattach_sync");

	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	rc = ed_sync_wait(ctx, edera_zone_reattach(ctx, sync_reattached, &s), &s.s);
	if (attached)
		*attached = s.attached;
	if (cleaned)
		*cleaned = s.cleaned;
	return rc;
}
