/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone creation: one operation with named steps, in the order they run:
 *   INTENT     a dom0-only record names the creation and its process, so
 *              that what a crash leaves half-built can be found
 *   BUILD      the domain is built on the threadpool (lib/builder/pv.c)
 *   SKELETON   its XenStore subtree is written in one transaction
 *   INTRODUCE  xenstored is told about its ring
 *   DEVICES    the backends of its disks and NICs (if any); unpaused, the
 *              guest's drivers connect them
 *   RUNNING    unpaused (unless asked not to); the record goes and the
 *              caller gets the zone
 * A failure at any step undoes the earlier ones (create_fail); a crash at
 * any step is undone by the next edera_zone_reattach (see "creation
 * intents").  The file reads top to bottom: the records, then the steps
 * from the last one back to the first, then edera_zone_create. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include "builder/pv.h"
#include "console/console.h"
#include "ctx.h"
#include "hv/offload.h"
#include "xenbus/xenbus.h"
#include "zone.h"

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
bool ed_zone_intent_alive(const char *rec, const char *uuid)
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
void ed_zone_intent_rm(edera_ctx *ctx, const char *uuid)
{
	char path[96];

	live_del(uuid);
	if (ctx->xs_gone)
		return;
	snprintf(path, sizeof(path), ED_INTENTS "/%s", uuid);
	if (edera_xs_rm(ctx, NULL, path, intent_removed, NULL) == 0)
		ctx->cleanups++;
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
		ed_zone_destroy_domain_async(ctx, z, introduced, true);
	else
		ed_zone_intent_rm(ctx, z->uuid_str);
	ed_zone_free(z);
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

/* The record is gone: the zone's marker stands for it from here on, and
 * the caller gets it. */
static void record_removed(edera_ctx *ctx, int status, void *data)
{
	struct create_op *op = data;
	edera_zone *z = op->zone;

	if (ctx->closing) {
		create_fail(op, ed_error(EDERA_ECANCELED, "zone '%s': the context was closed",
		                         z->name),
		            true, true);
		return;
	}
	/* (a removal XenStore refused leaves the record: a complete zone a
	 * later re-attach may undo — see edera_zone_reattach) */
	live_del(z->uuid_str);
	z->creating = false;
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
		if (it == z && !z->exited && ed_zone_exit_reason(ctx, z) >= 0) {
			ed_zone_recheck_exits_soon(ctx);
			break;
		}
}

/* Every step done: the creation's record goes before the caller hears of
 * the zone, so that a process that exits (or crashes) as soon as it has
 * the zone leaves a zone to take over, not a creation to undo. */
static void created(struct create_op *op)
{
	char path[96];
	int rc;

	snprintf(path, sizeof(path), ED_INTENTS "/%s", op->zone->uuid_str);
	rc = edera_xs_rm(op->ctx, NULL, path, record_removed, op);
	if (rc < 0)
		record_removed(op->ctx, rc, op);
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
	rc = ed_zone_watch_releases(ctx);
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
	ed_zone_link(z); /* at once, so the name is taken */
	rc = intent_write(op);
	if (rc < 0) {
		ed_zone_free(z);
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
