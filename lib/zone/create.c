/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone creation: one operation with named steps (enum create_step), in
 * the order they run:
 *   INTENT     a dom0-only record names the creation and its process, so
 *              that what a crash leaves half-built can be found
 *   BUILD      the domain is built on the threadpool (lib/builder/pv.c)
 *   SKELETON   its XenStore subtree is written (the roots, then the rest
 *              at once over the XenStore client's lanes)
 *   INTRODUCE  xenstored is told about its ring
 *   ATTACH     its parts (zone/part.h) start serving it, still paused: the
 *              console connects, its disks' and NICs' backends get ready
 *   CONNECT    unpaused (unless asked not to); the guest's drivers
 *              connect its devices (creation waits for them here)
 *   RECORD     the record goes and the caller gets the zone
 * Each step's completion calls advance(), the one transition, which
 * starts the next step or undoes according to the step reached
 * (create_fail); a crash at any step is undone by the next
 * edera_zone_reattach (see "creation intents").  The file reads top to
 * bottom: the records, then the steps in order, then edera_zone_create. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "builder/pv.h"
#include "ctx.h"
#include "hv/offload.h"
#include "part.h"
#include "pool.h"
#include "xs/batch.h"
#include "zone.h"

void ed_uuid_new(uint8_t uuid[16], char str[37])
{
	if (getrandom(uuid, 16, 0) != 16) {
		/* cannot fail for 16 bytes once the pool is ready; be safe */
		for (size_t i = 0; i < 16; i++)
			uuid[i] = (uint8_t)(rand() ^ (getpid() >> (i % 8)));
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* version 4 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(str, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8],
	         uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

/* ---- creation intents ---------------------------------------------------------- */

/* Before its domain exists, a creation records its intent in a file only
 * root can read or write, ED_RECORDS/<uuid> = "<pid> <start time>
 * <name>", and the domain gets the same UUID as its Xen handle.  The
 * record goes when the creation completes (the zone's marker, written in
 * the skeleton, takes over) or once a failed one is undone (after its
 * nodes: see ed_zone_undone_rm).  A process that dies mid-way leaves it,
 * and edera_zone_reattach (in any process) destroys the domain found by
 * that handle and everything written for it; a record whose process still
 * runs is a creation under way there, left alone.  A file on /run (a
 * tmpfs, gone with the domains when dom0 reboots) costs no round trip to
 * xenstored, where a creation from a shell otherwise spent most of its
 * last step; libedera 0.1 kept records in XenStore, at ED_INTENTS, and
 * edera_zone_reattach still reads those.  A record is written whole under
 * a name of its own (".<uuid>.<pid>") and renamed into place, so that a
 * reader never sees one half-written. */

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
	struct ed_link link;
	char uuid[37];
};
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ed_list live_set;

static int live_add(const char *uuid)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return ed_error(EDERA_ENOMEM, "out of memory");
	snprintf(l->uuid, sizeof(l->uuid), "%s", uuid);
	pthread_mutex_lock(&live_mu);
	ed_list_push_front(&live_set, &l->link);
	pthread_mutex_unlock(&live_mu);
	return 0;
}

static void live_del(const char *uuid)
{
	struct live *gone = NULL;

	pthread_mutex_lock(&live_mu);
	ED_LIST_EACH(l, &live_set, struct live, link)
		if (strcmp(l->uuid, uuid) == 0) {
			gone = l;
			break;
		}
	if (gone)
		ed_list_remove(&live_set, &gone->link);
	pthread_mutex_unlock(&live_mu);
	free(gone);
}

static bool live_has(const char *uuid)
{
	bool found = false;

	pthread_mutex_lock(&live_mu);
	ED_LIST_EACH(l, &live_set, struct live, link)
		if ((found = strcasecmp(l->uuid, uuid) == 0))
			break;
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

/* UUID's record file gone (one that cannot go stays for the next
 * edera_zone_reattach). */
static void record_unlink(const char *uuid)
{
	char path[sizeof(ED_RECORDS) + 40];

	snprintf(path, sizeof(path), ED_RECORDS "/%s", uuid);
	if (unlink(path) < 0 && errno != ENOENT)
		ed_trace("creation record %s left: %s", path, strerror(errno));
}

/* The record of a creation that completed, or was undone. */
void ed_zone_intent_rm(edera_ctx *ctx, const char *uuid)
{
	(void)ctx;
	record_unlink(uuid);
	/* after the file: a re-attach here that finds the creation gone from
	 * the live set finds its record gone too (see ra_records_read) */
	live_del(uuid);
}

void ed_zone_intent_forget(const char *uuid)
{
	live_del(uuid);
}

struct undone {
	char uuid[37];
};

static void undone_nodes_removed(edera_ctx *ctx, int status, void *data)
{
	struct undone *u = data;

	/* nodes left (the context closed, xenstored refused): the record
	 * stays, so that the next edera_zone_reattach finds them */
	if (status == 0 && !ctx->xs_gone)
		record_unlink(u->uuid);
	free(u);
}

void ed_zone_undone_rm(edera_ctx *ctx, uint32_t domid, const char *uuid, bool introduced)
{
	struct undone *u = calloc(1, sizeof(*u));

	live_del(uuid);
	if (!u) { /* (the record stays for edera_zone_reattach) */
		ed_zone_remove_nodes(ctx, domid, uuid, introduced, NULL, NULL);
		return;
	}
	snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
	ed_zone_remove_nodes(ctx, domid, uuid, introduced, undone_nodes_removed, u);
}

/* ---- creation ---------------------------------------------------------------- */

/* The steps, in the order they run.  op->step is the one in flight: its
 * work may be done or not, and a failure undoes what the steps before it
 * did (create_fail).  Only advance() moves it, one step at a time. */
enum create_step {
	CS_INTENT,    /* the record being written (no domain yet) */
	CS_BUILD,     /* the domain being built on the threadpool */
	CS_SKELETON,  /* the domain exists; its XenStore subtree being written */
	CS_INTRODUCE, /* xenstored being told of its ring */
	CS_ATTACH,    /* introduced: its parts attaching (devices' backends) */
	CS_CONNECT,   /* running (unless asked not to): the guest's side connecting */
	CS_RECORD,    /* done: its record being removed, then the caller told */
	CS_N,
};

static const char *const step_names[CS_N] = {
	"intent", "build", "skeleton", "introduce", "attach", "connect", "record",
};

struct create_op {
	edera_ctx *ctx;
	edera_zone *zone;
	enum create_step step;
	struct ed_pv_params p;
	char *kernel, *initrd, *cmdline;
	bool paused;
	struct ed_shell *shell; /* a prepared shell it builds in, or NULL */
	bool pooled;            /* it took one (the pool refills as it ends) */
	edera_zone_create_cb cb;
	void *data;
	struct ed_skeleton sk;    /* its XenStore subtree's requests */
	struct ed_gather g;       /* the step's requests in flight */
};

static void skeleton_start(struct create_op *op);
static void introduce_start(struct create_op *op);
static void attach_start(struct create_op *op);
static void connect_start(struct create_op *op);
static void record_start(struct create_op *op);

static void (*const step_start[CS_N])(struct create_op *op) = {
	NULL, NULL /* edera_zone_create: intent_start */, skeleton_start, introduce_start,
	attach_start, connect_start, record_start,
};

static void op_free(struct create_op *op)
{
	ed_pool_shell_free(op->ctx, op->shell);
	if (op->pooled) /* the creation came first: its shape refills now */
		ed_pool_refill(op->ctx);
	free(op->kernel);
	free(op->initrd);
	free(op->cmdline);
	free(op);
}

/* Undo according to the step reached, then tell the caller. */
static void create_fail(struct create_op *op, int status)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;
	struct ed_err err;
	/* nodes written for a shell's domain that is not the zone's (a build
	 * that failed in it destroyed it; one whose domain was gone made
	 * another) */
	uint32_t stale = op->shell && op->shell->nodes_domid != z->domid ? op->shell->nodes_domid
	                                                                  : 0;

	ed_error_save_code(&err, status);
	/* what its parts started (devices attached so far go, with their
	 * host side; their callbacks into this creation do not run) */
	ED_PARTS_CALL(stopped, z, false);
	ED_PARTS_CALL(created, z);
	if (op->shell && op->shell->s.domid) {
		/* a shell not built on yet: its domain, nodes, then record */
		ed_pool_shell_free(ctx, op->shell);
		op->shell = NULL;
	} else if (op->step >= CS_SKELETON) {
		/* stale nodes go too, then the record once the domain and its
		 * nodes are gone; it was introduced once that step was done */
		if (stale)
			ed_zone_remove_nodes(ctx, stale, z->uuid_str, false, NULL, NULL);
		ed_zone_destroy_domain_async(ctx, z, op->step >= CS_ATTACH, true);
	} else if (stale) {
		/* (a build that failed: they go before the record) */
		ed_zone_undone_rm(ctx, stale, z->uuid_str, false);
	} else {
		ed_zone_intent_rm(ctx, z->uuid_str);
	}
	ed_zone_free(z);
	ed_error_restore(&err);
	ED_CALLBACK(ctx, op->cb(ctx, status, NULL, op->data));
	op_free(op);
}

/* The step in flight ended with STATUS: on to NEXT (the one after it:
 * the only transition there is), or undo.  A context closed meanwhile
 * ends the creation there. */
static void advance(struct create_op *op, int status, enum create_step next)
{
	edera_zone *z = op->zone;

	if (next != op->step + 1 || next >= CS_N) {
		ed_error(EDERA_EIO, "zone '%s': internal error: creation step %s followed by %s",
		         z->name, step_names[op->step], next < CS_N ? step_names[next] : "?");
		create_fail(op, EDERA_EIO);
		return;
	}
	if (status < 0) {
		create_fail(op, status);
		return;
	}
	op->step = next;
	ed_trace("zone '%s': %s", z->name, step_names[next]);
	if (op->ctx->closing) {
		create_fail(op, ed_error(EDERA_ECANCELED, "zone '%s': the context was closed",
		                         z->name));
		return;
	}
	step_start[next](op);
}

/* ---- INTENT ---- */

/* The record's directory, made if missing (root's only). */
static int records_dir(void)
{
	if (mkdir(ED_RECORDS, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno == ENOENT && (mkdir(ED_RECORDS_PARENT, 0700) == 0 || errno == EEXIST) &&
	    (mkdir(ED_RECORDS, 0700) == 0 || errno == EEXIST))
		return 0;
	return ed_error(ed_errno_code(errno), "making %s for the records of creations under "
	                "way: %s (zones are created as root)", ED_RECORDS, strerror(errno));
}

/* V written whole to a file of its own, then renamed to PATH. */
static int record_put(const char *path, const char *uuid, const char *v)
{
	char tmp[sizeof(ED_RECORDS) + 64];
	size_t len = strlen(v);
	ssize_t n;
	int fd, e;

	snprintf(tmp, sizeof(tmp), ED_RECORDS "/.%s.%ld", uuid, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT && records_dir() == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ed_error(ed_errno_code(errno), "recording the creation in %s: %s", tmp,
		                strerror(errno));
	n = write(fd, v, len);
	e = n < 0 ? errno : ENOSPC;
	if (close(fd) < 0 && n == (ssize_t)len) {
		n = -1;
		e = errno;
	}
	if (n == (ssize_t)len && rename(tmp, path) == 0)
		return 0;
	if (n == (ssize_t)len)
		e = errno;
	unlink(tmp);
	return ed_error(ed_errno_code(e), "recording the creation in %s: %s", path, strerror(e));
}

int ed_zone_intent_write(const char *uuid, const char *name, bool live)
{
	long pid = (long)getpid();
	unsigned long long start = proc_start(pid);
	char path[sizeof(ED_RECORDS) + 40], v[128];
	int rc = live ? 0 : live_add(uuid);

	if (rc == 0) {
		snprintf(path, sizeof(path), ED_RECORDS "/%s", uuid);
		snprintf(v, sizeof(v), "%ld %llu %s\n", pid, start, name);
		rc = record_put(path, uuid, v);
		if (rc < 0 && !live)
			live_del(uuid);
	}
	return rc;
}

static int build_work(void *arg);
static void build_after(edera_ctx *ctx, int status, void *arg);

/* The first step, run by edera_zone_create itself, with the build's
 * start: a failure here is its return value (nothing left to undo), not a
 * callback.  A zone from a shell has its record already (the shell's):
 * it is rewritten with its name. */
static int intent_start(struct create_op *op)
{
	edera_zone *z = op->zone;
	int rc = ed_zone_intent_write(z->uuid_str, z->name, op->shell != NULL);

	if (rc < 0)
		return rc;
	op->step = CS_BUILD;
	ed_trace("zone '%s': %s%s", z->name, step_names[CS_BUILD], op->shell ? " (in a shell)" : "");
	rc = ed_offload(op->ctx, build_work, build_after, op);
	if (rc < 0 && !op->shell) /* (a shell's record goes with it) */
		ed_zone_intent_rm(op->ctx, z->uuid_str);
	return rc;
}

/* ---- BUILD ---- */

static int build_work(void *arg)
{
	struct create_op *op = arg;

	return ed_pv_build(&op->ctx->hv, &op->ctx->kcache, &op->p, op->shell ? &op->shell->s : NULL,
	                   &op->zone->res);
}

static void build_after(edera_ctx *ctx, int status, void *arg)
{
	struct create_op *op = arg;

	/* (a build that failed destroyed what it made) */
	if (status == 0)
		op->zone->domid = op->zone->res.domid;
	/* its memory is taken: a pool short of shells may make more (one
	 * built in a shell refills once it ends) */
	if (!op->shell)
		ed_pool_refill(ctx);
	advance(op, status, CS_SKELETON);
}

/* ---- SKELETON ---- */

/* A zone's XenStore subtree is written without a transaction, in two
 * rounds (ed_zone_skeleton_write): first, on the main connection in
 * order, what an earlier domain of the same domid left goes and
 * /local/domain/N is made with its permissions (/vm/UUID with its own on
 * a lane meanwhile); then every other node at once, spread over the
 * client's lanes (ed_xs_group_lane: the C xenstored handles one request
 * per connection per turn of its loop, so forty requests on one
 * connection wait forty turns).  A node's write and its permissions go on
 * the same lane, in order; the nodes between them (memory, cpu, control,
 * ...) are made by whichever write comes first, with the permissions of
 * the root made in the first round.  Most of it depends only on the
 * domain and its size: a prepared shell has that written when it is
 * made, and a zone built in one writes only the rest (its name, the rings
 * the build placed, its console's kind and its mark as a zone made).
 * Nothing reads the subtree before the domain is introduced (the guest
 * has no ring yet); a crash half-way leaves the creation's record, and
 * edera_zone_reattach removes all of it. */

static void sk_write(struct ed_xs_batch *b, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sk_write(struct ed_xs_batch *b, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ed_xs_batch_vwrite(b, path, fmt, ap);
	va_end(ap);
}

static void sk_perms(struct ed_xs_batch *b, uint32_t domid, const char *path, bool guest_writes)
{
	edera_xs_perm ro[2] = { { 0, EDERA_XS_PERM_NONE }, { domid, EDERA_XS_PERM_READ } };
	edera_xs_perm rw[1] = { { domid, EDERA_XS_PERM_NONE } };

	if (guest_writes)
		ed_xs_batch_perms(b, path, rw, 1);
	else
		ed_xs_batch_perms(b, path, ro, 2);
}

/* What an earlier domain with this domid left (a process that died before
 * cleaning up, a toolstack that never did): its /vm entry goes too. */
static int old_vm_read(struct ed_xs_batch *b, int status, const char *value, size_t len)
{
	struct ed_skeleton *sk = ed_container_of(b, struct ed_skeleton, batch);
	char vm[64];

	snprintf(vm, sizeof(vm), "/vm/%s", sk->uuid);
	if (status == 0 && len > 4 && len < 64 && strncmp(value, "/vm/", 4) == 0 &&
	    strcmp(value, vm) != 0 && ed_xs_check_path(value, len, false) == 0) {
		char old[64];

		memcpy(old, value, len);
		old[len] = '\0';
		ed_xs_batch_rm(b, old);
	}
	return status == EDERA_ENOENT ? 0 : status;
}

static int batch_status(struct ed_xs_batch *b)
{
	return b->g.status < 0 ? ed_error_restore(&b->g.err) : 0;
}

static void sk_written(struct ed_xs_batch *b)
{
	struct ed_skeleton *sk = ed_container_of(b, struct ed_skeleton, batch);

	sk->done(sk, batch_status(b));
}

/* The second round: every node but the roots, at once over the lanes. */
static void sk_nodes(struct ed_xs_batch *b)
{
	static const char *const guest_rw[] = {
		"control/shutdown", "control/feature-poweroff", "control/feature-reboot",
		"control/feature-suspend", "control/sysrq", "data", "drivers", "feature", "attr",
		"error",
	};
	struct ed_skeleton *sk = ed_container_of(b, struct ed_skeleton, batch);
	edera_ctx *ctx = sk->ctx;
	char dom[32], p[128], vm[64];
	int lane = 0, status = batch_status(b);

	if (status < 0) {
		sk->done(sk, status);
		return;
	}
	ed_xs_batch_start(b, ctx, NULL, sk_written);
	snprintf(dom, sizeof(dom), "/local/domain/%u", sk->domid);
	snprintf(vm, sizeof(vm), "/vm/%s", sk->uuid);
	/* each node on the next lane */
#define L() ed_xs_group_lane(&ctx->xs, lane++)
#define P(rel) (snprintf(p, sizeof(p), "%s/%s", dom, rel), p)
	L(), sk_write(b, P("domid"), "%u", sk->domid);
	L(), sk_write(b, P("vm"), "%s", vm);
	L(), sk_write(b, P("memory/static-max"), "%llu", (unsigned long long)sk->max_memory_kib);
	L(), sk_write(b, P("memory/target"), "%llu", (unsigned long long)sk->memory_kib);
	for (uint32_t i = 0; i < sk->max_vcpus; i++) {
		char rel[48];
		snprintf(rel, sizeof(rel), "cpu/%u/availability", i);
		L(), sk_write(b, P(rel), "%s", i < sk->vcpus ? "online" : "offline");
	}
	L(), sk_write(b, P("device"), "%s", "");
	/* what edera_zone_reattach knows a domain of a creation (or a
	 * shell) by, once its record is of a process gone */
	L(), sk_write(b, P("edera/uuid"), "%s", sk->uuid);
	for (size_t i = 0; i < ED_ARRAY_SIZE(guest_rw); i++) {
		L(), sk_write(b, P(guest_rw[i]), "%s", "");
		sk_perms(b, sk->domid, P(guest_rw[i]), true);
	}
#undef P
	snprintf(p, sizeof(p), "%s/uuid", vm);
	L(), sk_write(b, p, "%s", sk->uuid);
#undef L
	if (sk->more)
		sk->more(sk, &lane);
	ed_xs_group_lane(&ctx->xs, -1);
	ed_xs_batch_end(b);
}

void ed_zone_skeleton_write(struct ed_skeleton *sk)
{
	struct ed_xs_batch *b = &sk->batch;
	char dom[32], p[128], vm[64];

	ed_xs_batch_start(b, sk->ctx, NULL, sk_nodes);
	snprintf(dom, sizeof(dom), "/local/domain/%u", sk->domid);
	snprintf(vm, sizeof(vm), "/vm/%s", sk->uuid);
	snprintf(p, sizeof(p), "%s/vm", dom);
	ed_xs_batch_read(b, p, old_vm_read);
	ed_xs_batch_rm(b, dom);
	sk_write(b, dom, "%s", "");
	sk_perms(b, sk->domid, dom, false);
	/* /vm/UUID on a lane of its own meanwhile (a new UUID: nothing sent
	 * before touches it, unless the caller removed it first, ORDERED).
	 * After the requests above: a request that is not a read waits for
	 * those in flight on the lanes, and these would hold them back. */
	if (!sk->ordered)
		ed_xs_group_lane(&sk->ctx->xs, 1);
	sk_write(b, vm, "%s", "");
	sk_perms(b, sk->domid, vm, false);
	if (!sk->ordered)
		ed_xs_group_lane(&sk->ctx->xs, -1);
	if (sk->sent) /* (before the end: nothing has completed yet) */
		sk->sent(sk);
	ed_xs_batch_end(b);
}

void ed_zone_port_nodes(edera_ctx *ctx, struct ed_xs_batch *b, uint32_t domid, int *lane,
                        uint32_t store_port, uint32_t cons_port)
{
	char p[64];

	snprintf(p, sizeof(p), "/local/domain/%u/store/port", domid);
	ed_xs_group_lane(&ctx->xs, (*lane)++);
	sk_write(b, p, "%u", store_port);
	snprintf(p, sizeof(p), "/local/domain/%u/console/port", domid);
	ed_xs_group_lane(&ctx->xs, (*lane)++);
	sk_write(b, p, "%u", cons_port);
}

/* What a zone's subtree has that a shell's has not: its name, the rings
 * its build placed, its console's kind and its mark as a zone made (and
 * its event channels' ports, PORTS: a shell's has them); each node on the
 * next of the client's lanes from *LANE. */
static void zone_nodes(struct create_op *op, struct ed_xs_batch *b, int *lane, bool ports)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;
	char dom[32], p[128];

	snprintf(dom, sizeof(dom), "/local/domain/%u", z->domid);
#define L() ed_xs_group_lane(&ctx->xs, (*lane)++)
#define P(rel) (snprintf(p, sizeof(p), "%s/%s", dom, rel), p)
	L(), sk_write(b, P("name"), "%s", z->name);
	L(), sk_write(b, P("store/ring-ref"), "%llu", (unsigned long long)z->res.store_mfn);
	L(), sk_write(b, P("console/ring-ref"), "%llu", (unsigned long long)z->res.cons_mfn);
	if (ports)
		ed_zone_port_nodes(ctx, b, z->domid, lane, z->res.store_evtchn, z->res.cons_evtchn);
	/* xenconsoled serves only consoles of type "xenconsoled". */
	if (z->served_console) {
		L(), sk_write(b, P("console/type"), "%s", "edera");
	} else {
		L(), sk_write(b, P("console/limit"), "%u", 1048576);
		L(), sk_write(b, P("console/type"), "%s", "xenconsoled");
		L(), sk_write(b, P("console/output"), "%s", "pty");
	}
	/* The mark of a zone made (edera/uuid, written with the rest, is
	 * what a restarted process finds it by). */
	L(), sk_write(b, P("edera/managed"), "%s", "1");
#undef P
	snprintf(p, sizeof(p), "/vm/%s/name", z->uuid_str);
	L(), sk_write(b, p, "%s", z->name);
#undef L
}

static void more_nodes(struct ed_skeleton *sk, int *lane)
{
	struct create_op *op = ed_container_of(sk, struct create_op, sk);

	zone_nodes(op, &sk->batch, lane, true);
}

static void skeleton_sent(struct ed_skeleton *sk)
{
	edera_zone *z = ed_container_of(sk, struct create_op, sk)->zone;

	ED_PARTS_CALL(built, z);
}

static void skeleton_done(struct ed_skeleton *sk, int status)
{
	struct create_op *op = ed_container_of(sk, struct create_op, sk);

	if (status == 0)
		ed_die_point("skeleton");
	advance(op, status, CS_INTRODUCE);
}

static void zone_nodes_written(struct ed_xs_batch *b)
{
	skeleton_done(&ed_container_of(b, struct create_op, sk.batch)->sk, batch_status(b));
}

static void skeleton_start(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;
	struct ed_skeleton *sk = &op->sk;

	if (op->shell && op->shell->nodes_domid) {
		if (op->shell->nodes_domid == z->domid) {
			/* built in a shell: the rest of its subtree is there,
			 * its ports too (the build used its channels) */
			int lane = 0;

			ed_xs_batch_start(&sk->batch, ctx, NULL, zone_nodes_written);
			zone_nodes(op, &sk->batch, &lane, false);
			ed_xs_group_lane(&ctx->xs, -1);
			/* the parts' work on the built domain while xenstored
			 * works on these (before the batch's end: its callback
			 * cannot have run) */
			skeleton_sent(sk);
			ed_xs_batch_end(&sk->batch);
			return;
		}
		/* the shell's domain was gone and the build made another:
		 * what was written for it goes */
		ed_zone_remove_nodes(ctx, op->shell->nodes_domid, z->uuid_str, false, NULL, NULL);
		op->shell->nodes_domid = 0;
		sk->ordered = true; /* (/vm/UUID written after its removal) */
	}
	sk->ctx = ctx;
	sk->domid = z->domid;
	memcpy(sk->uuid, z->uuid_str, sizeof(sk->uuid));
	sk->memory_kib = op->p.memory_kib;
	sk->max_memory_kib = op->p.max_memory_kib;
	sk->vcpus = op->p.vcpus;
	sk->max_vcpus = op->p.max_vcpus;
	sk->more = more_nodes;
	sk->sent = skeleton_sent;
	sk->done = skeleton_done;
	ed_zone_skeleton_write(sk);
}

/* ---- INTRODUCE ---- */

static void introduced(edera_ctx *ctx, int status, void *data)
{
	struct create_op *op = data;

	/* A request cancelled (the context closing) may have reached
	 * xenstored: undo as if it had (a release it refuses is fine). */
	if (status == EDERA_ECANCELED) {
		op->step = CS_ATTACH;
		create_fail(op, status);
		return;
	}
	advance(op, status, CS_ATTACH);
}

static void introduce_start(struct create_op *op)
{
	edera_zone *z = op->zone;
	int rc = edera_xs_introduce(op->ctx, z->domid, z->res.store_mfn, z->res.store_evtchn,
	                            introduced, op);

	if (rc < 0)
		create_fail(op, rc);
}

/* ---- ATTACH: the zone's parts, the guest still paused ---- */

static void attached(struct ed_gather *g)
{
	struct create_op *op = ed_container_of(g, struct create_op, g);

	if (g->status < 0)
		ed_error_restore(&g->err);
	else
		ed_die_point("devices");
	advance(op, g->status, CS_CONNECT);
}

static void attach_start(struct create_op *op)
{
	/* the console is served before the guest runs, so not a byte is
	 * missed; devices' backends are ready before its drivers look */
	int rc;

	ed_gather_start(&op->g, attached);
	rc = ed_parts_attach(op->zone, &op->g);
	if (rc < 0) {
		create_fail(op, rc); /* (nothing of it is in flight) */
		return;
	}
	ed_gather_settle(&op->g, 0);
}

/* ---- CONNECT: the guest runs, and its drivers connect its devices ---- */

static void connected(struct ed_gather *g)
{
	struct create_op *op = ed_container_of(g, struct create_op, g);

	if (g->status < 0)
		ed_error_restore(&g->err);
	advance(op, g->status, CS_RECORD);
}

static void connect_start(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;
	int rc;

	/* a zone created paused: its caller unpauses it, and its devices
	 * connect then */
	if (op->paused) {
		advance(op, 0, CS_RECORD);
		return;
	}
	if (xc_domain_unpause(ctx->hv.xch, z->domid) < 0) {
		create_fail(op, ed_error(ed_errno_code(errno), "unpausing domain %u: %s", z->domid,
		                         strerror(errno)));
		return;
	}
	ed_die_point("connecting");
	ed_gather_start(&op->g, connected);
	rc = ed_parts_connect(z, &op->g);
	if (rc < 0) {
		create_fail(op, rc);
		return;
	}
	ed_gather_settle(&op->g, 0);
}

/* ---- RECORD: the record goes before the caller hears of the zone, so
 * that a process that exits (or crashes) as soon as it has the zone
 * leaves a zone to take over, not a creation to undo ---- */

static void record_start(struct create_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone *z = op->zone;

	/* (a record that cannot be removed stays: a complete zone a later
	 * re-attach may undo — see edera_zone_reattach) */
	ed_zone_intent_rm(ctx, z->uuid_str);
	ed_trace("zone '%s': created", z->name);
	z->state = ED_ZS_RUNNING;
	ED_PARTS_CALL(created, z);
	ed_zone_ref(z);
	ED_CALLBACK(ctx, op->cb(ctx, 0, z, op->data));
	op_free(op);
	/* @releaseDomain skips zones still being created: a guest that
	 * stopped meanwhile (connected its last device and powered off, or
	 * crashed) is found on the next loop turn, and its exit reported like
	 * any other, once the caller has the zone and its exit callback set. */
	if (!ctx->closing && z->state == ED_ZS_RUNNING && ed_zone_exit_reason(ctx, z) >= 0)
		ed_zone_recheck_exits_soon(ctx);
	ed_zone_unref(z);
}

/* ---- the call ---- */

int edera_zone_create(edera_ctx *ctx, const edera_zone_config *cfg, edera_zone_create_cb cb,
                      void *data)
{
	edera_zone_config c;
	struct create_op *op;
	struct ed_shell *shell;
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
		struct ed_pv_params want = {
			.memory_kib = c.memory_mib * 1024, .max_memory_kib = c.max_memory_mib * 1024,
			.vcpus = c.vcpus, .max_vcpus = c.max_vcpus,
		};

		/* a prepared shell of this shape has the memory already */
		shell = ed_pool_take(ctx, &want);
	}
	for (int tries = 0; !shell; tries++) {
		uint64_t free_mib, filling = ed_pool_filling_mib(ctx);

		if (ed_hv_free_kib(&ctx->hv, &free_mib) < 0)
			break;
		/* (shells being made will take theirs) */
		free_mib >>= 10;
		free_mib = free_mib > filling ? free_mib - filling : 0;
		if (c.memory_mib <= free_mib)
			break;
		/* shells give their memory back first (with some room for what
		 * Xen itself takes for a domain) */
		if (tries == 0 && ed_pool_reclaim(ctx, c.memory_mib - free_mib + 8,
		                                  (uint32_t)c.memory_mib, c.vcpus))
			continue;
		return ed_error(EDERA_ENOMEM,
		                "zone '%s': %llu MiB asked for, but Xen has only %llu MiB free",
		                c.name, (unsigned long long)c.memory_mib,
		                (unsigned long long)free_mib);
	}
	rc = ed_zone_watch_releases(ctx);
	op = rc < 0 ? NULL : calloc(1, sizeof(*op));
	z = rc < 0 ? NULL : calloc(1, sizeof(*z));
	if (!op || !z || !(z->name = strdup(c.name))) {
		free(op);
		if (z)
			free(z->name);
		free(z);
		ed_pool_shell_free(ctx, shell);
		ed_pool_refill(ctx);
		return rc < 0 ? rc : ed_error(EDERA_ENOMEM, "out of memory");
	}
	op->ctx = ctx;
	op->shell = shell;
	op->pooled = shell != NULL;
	op->kernel = ed_strdup_opt(c.kernel, &oom);
	op->initrd = ed_strdup_opt(c.initrd, &oom);
	op->cmdline = ed_strdup_opt(c.cmdline, &oom);
	z->ctx = ctx;
	z->state = ED_ZS_CREATING;
	if (op->shell) {
		memcpy(z->uuid, op->shell->uuid, sizeof(z->uuid));
		memcpy(z->uuid_str, op->shell->uuid_str, sizeof(z->uuid_str));
	} else {
		ed_uuid_new(z->uuid, z->uuid_str);
	}
	/* what its parts take from the configuration (its console, copies
	 * of its devices' configs) */
	rc = oom ? ed_error(EDERA_ENOMEM, "out of memory") : ed_parts_prepare(z, &c);
	if (rc < 0) {
		ed_zone_free(z);
		op_free(op);
		return rc;
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
	op->step = CS_INTENT;
	rc = intent_start(op);
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
