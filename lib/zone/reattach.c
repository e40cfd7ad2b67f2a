/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Re-attach: take over the zones an earlier process left, in four steps:
 *   MARKERS   list /local/domain and read each domain's marker (edera/uuid
 *             and what a handle needs)
 *   RECORDS   then the creation records (create.c; files, and the XenStore
 *             nodes libedera 0.1 wrote): a record outlives its zone's
 *             creation, so a marker read first whose creation is still
 *             under way has its record read here
 *   DECIDE    per marker: adopt a running zone, destroy a stopped one,
 *             drop a marker whose domain is gone or is not ours (Xen's
 *             handle is not the marker's UUID); skip creations under way
 *   UNDO      creations whose process is gone: their domains (by handle)
 *             destroyed on the threadpool, then their nodes and records
 * Each step's requests go out together (op->g); the step after starts
 * when the last one settles, and a failure ends the operation there. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctx.h"
#include "hv/offload.h"
#include "part.h"
#include "zone.h"

/* ---- re-attach ------------------------------------------------------------ */

enum { RA_UUID, RA_NAME, RA_STORE_REF, RA_STORE_PORT, RA_CONS_REF, RA_CONS_PORT, RA_CONS_TYPE,
       RA_TARGET, RA_STATIC_MAX, RA_N };
static const char *const ra_rel[RA_N] = {
	"edera/uuid",   "name",         "store/ring-ref", "store/port",
	"console/ring-ref", "console/port", "console/type", "memory/target",
	"memory/static-max",
};

struct ra_cand {
	uint32_t domid;
	char *v[RA_N];
};

/* One marker node being read into its candidate, counted in a gather. */
struct ra_read {
	struct ra_cand *c;
	struct ed_gather *g;
	int key;
};

/* A creation's record (see "creation intents"), and for one whose process
 * is gone, the domains Xen has with its UUID as their handle. */
struct ra_intent {
	struct reattach_op *op;
	char uuid[37];
	char *val;
	bool file; /* (else a XenStore node: libedera 0.1's) */
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
	size_t n_in, cap_in;
	struct ed_gather g; /* the step's requests in flight */
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

/* The end, with the first failure (its message the thread's last error). */
static void ra_end(struct reattach_op *op, int status)
{
	if (status < 0)
		ed_error_restore(&op->g.err);
	ED_CALLBACK(op->ctx, op->cb(op->ctx, status, op->attached, op->cleaned, op->data));
	ra_free(op);
}

static void ra_finished(struct ed_gather *g)
{
	struct reattach_op *op = ed_container_of(g, struct reattach_op, g);

	/* the dead creations' records go last, once what they built is gone
	 * (a failure leaves them for the next time) */
	for (size_t i = 0; i < op->n_in && g->status == 0; i++)
		if (op->in[i].dead && op->in[i].file)
			ed_zone_intent_rm(op->ctx, op->in[i].uuid);
	ra_end(op, g->status);
}

/* One request of a step settled (a node already gone is fine). */
static void ra_step_done(edera_ctx *ctx, int status, void *data)
{
	struct reattach_op *op = data;

	ed_gather_settle(&op->g, status == EDERA_ENOENT ? 0 : status);
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
	z->state = ED_ZS_RUNNING;
	z->served_console = c->v[RA_CONS_TYPE] && strcmp(c->v[RA_CONS_TYPE], "xenconsoled") != 0;
	if (ed_parts_adopt(z) < 0) {
		ed_zone_free(z);
		return NULL;
	}
	ed_zone_link(z);
	return z;
}

/* Whether this context already has a handle on DOMID: a zone being
 * created (its marker is written before its creation completes), running,
 * or stopped with its clean-up still under way. */
static bool ra_ours_already(edera_ctx *ctx, uint32_t domid)
{
	ED_ZONES_EACH(z, ctx)
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
	ed_gather_issued(&op->g, edera_xs_rm(op->ctx, NULL, path, ra_step_done, op));
	snprintf(path, sizeof(path), "/vm/%s", c->v[RA_UUID]);
	ed_gather_issued(&op->g, edera_xs_rm(op->ctx, NULL, path, ra_step_done, op));
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
				ed_gather_issued(&op->g, 0); /* it always calls back */
				ed_zone_remove_nodes(ctx, in->domids[k], in->uuid, true, ra_step_done, op);
			}
			if (!in->file) {
				snprintf(path, sizeof(path), ED_INTENTS "/%s", in->uuid);
				ed_gather_issued(&op->g,
				                 edera_xs_rm(ctx, NULL, path, ra_step_done, op));
			}
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
	if (!any || op->g.status < 0)
		return;
	rc = ed_offload(op->ctx, ra_halfbuilt_work, ra_halfbuilt_after, op);
	ed_gather_issued(&op->g, rc);
}

/* Every marker read: decide for each candidate. */
static void ra_process(struct reattach_op *op)
{
	edera_ctx *ctx = op->ctx;

	ed_gather_start(&op->g, ra_finished);
	for (size_t i = 0; i < op->n && op->g.status == 0; i++) {
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
				ed_gather_issued(&op->g, 0);
				ed_zone_remove_nodes(ctx, c->domid, c->v[RA_UUID], false, ra_step_done, op);
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
				ed_gather_fail(&op->g, ed_error(EDERA_ENOMEM, "out of memory"));
			} else {
				op->attached++;
				/* Its parts serve it from here on (its console).
				 * If that fails (another process still serves
				 * it), the zone is still ours; that part stays
				 * disconnected. */
				ed_parts_attach(z, NULL);
			}
		} else if (exists) {
			/* Stopped with nobody to clean up after it. */
			z = ra_zone(ctx, c, uuid);
			if (!z) {
				ed_gather_fail(&op->g, ed_error(EDERA_ENOMEM, "out of memory"));
			} else {
				int rc = edera_zone_destroy(z, ra_destroyed, op);

				/* (failed: the handle stays, still a zone) */
				ed_gather_issued(&op->g, rc);
				if (rc == 0)
					op->cleaned++;
			}
		} else {
			ed_gather_issued(&op->g, 0);
			ed_zone_remove_nodes(ctx, c->domid, c->v[RA_UUID], false, ra_step_done, op);
			op->cleaned++;
		}
	}
	ra_undo_halfbuilt(op);
	ed_gather_settle(&op->g, 0);
}

static void ra_intents_listed(edera_ctx *ctx, int status, const char *const *names, size_t n,
                              void *data);

/* Room in op->in for N more records. */
static bool ra_intent_room(struct reattach_op *op, size_t n)
{
	if (op->n_in + n > op->cap_in) {
		size_t ncap = op->n_in + n + 8;
		struct ra_intent *in = realloc(op->in, ncap * sizeof(*in));

		if (!in)
			return false;
		op->in = in;
		op->cap_in = ncap;
	}
	return true;
}

/* One more record in op->in (zeroed), or NULL when out of memory. */
static struct ra_intent *ra_intent_add(struct reattach_op *op)
{
	if (!ra_intent_room(op, 1))
		return NULL;
	memset(&op->in[op->n_in], 0, sizeof(op->in[0]));
	return &op->in[op->n_in];
}

/* The records in ED_RECORDS (read here, on the loop: a few small files
 * on a tmpfs).  A file ".<uuid>.<pid>" is one being written, left by a
 * process that died before renaming it when that pid runs no more. */
static int ra_read_records(struct reattach_op *op)
{
	DIR *d = opendir(ED_RECORDS);
	struct dirent *e;
	uint8_t uuid[16];
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 /* no creation ever recorded */
		                       : ed_error(ed_errno_code(errno), "reading %s: %s", ED_RECORDS,
		                                  strerror(errno));
	while (rc == 0 && (e = readdir(d))) {
		struct ra_intent *in;
		char buf[128];
		ssize_t len;
		int fd;

		if (e->d_name[0] == '.') {
			const char *dot = strrchr(e->d_name, '.');
			char *end;
			long pid = dot && dot != e->d_name ? strtol(dot + 1, &end, 10) : 0;

			if (pid > 0 && *end == '\0' && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
				unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (!parse_uuid(e->d_name, uuid))
			continue; /* not a record of ours */
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue; /* gone meanwhile: that creation ended */
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		in = ra_intent_add(op);
		if (!in) {
			rc = ed_error(EDERA_ENOMEM, "out of memory");
			break;
		}
		in->op = op;
		in->file = true;
		memcpy(in->uuid, e->d_name, 36); /* (parse_uuid: 36 characters) */
		in->uuid[36] = '\0';
		/* (one that cannot be read is nobody's: undone) */
		in->val = strndup(len > 0 ? buf : "", len > 0 ? (size_t)len : 0);
		if (!in->val) {
			rc = ed_error(EDERA_ENOMEM, "out of memory");
			break;
		}
		op->n_in++;
	}
	closedir(d);
	return rc;
}

/* Every marker read. */
static void ra_markers_read(struct ed_gather *g)
{
	struct reattach_op *op = ed_container_of(g, struct reattach_op, g);
	int rc;

	if (g->status < 0) {
		ra_end(op, g->status);
		return;
	}
	/* The records after the markers: a record exists from before its
	 * zone's marker until after the creation, so a marker read above
	 * whose creation is still under way has its record read below. */
	rc = ra_read_records(op);
	if (rc == 0)
		rc = edera_xs_directory(op->ctx, NULL, ED_INTENTS, ra_intents_listed, op);
	if (rc < 0) {
		ed_gather_fail(g, rc);
		ra_end(op, rc);
	}
}

static void ra_read_done(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct ra_read *r = data;

	if (status == 0) {
		char *v = malloc(len + 1);

		if (!v) {
			status = ed_error(EDERA_ENOMEM, "out of memory");
		} else {
			memcpy(v, value, len);
			v[len] = '\0';
			r->c->v[r->key] = v;
		}
	}
	ed_gather_settle(r->g, status == EDERA_ENOENT ? 0 : status);
}

/* The marker's nodes of C's domain read into C->v (an absent one stays
 * NULL), each counted in G; READS holds RA_N. */
static void ra_read_marker(edera_ctx *ctx, struct ra_cand *c, struct ra_read *reads,
                           struct ed_gather *g)
{
	for (int k = 0; k < RA_N; k++) {
		char path[96];

		reads[k] = (struct ra_read){.c = c, .g = g, .key = k};
		snprintf(path, sizeof(path), "/local/domain/%u/%s", c->domid, ra_rel[k]);
		ed_gather_issued(g, edera_xs_read(ctx, NULL, path, ra_read_done, &reads[k]));
	}
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
	ed_gather_start(&op->g, ra_markers_read);
	ed_gather_fail(&op->g, status); /* the listing itself failed */
	for (size_t i = 0; i < n && op->g.status == 0; i++) {
		char *end;
		unsigned long d = strtoul(names[i], &end, 10);
		struct ra_cand *c = &op->c[op->n];

		if (*end || end == names[i] || d == 0 || d >= DOMID_FIRST_RESERVED ||
		    ra_ours_already(ctx, (uint32_t)d))
			continue;
		c->domid = (uint32_t)d;
		ra_read_marker(ctx, c, &op->r[op->n * RA_N], &op->g);
		op->n++;
	}
	ed_gather_settle(&op->g, 0);
}

static bool ra_own_record(const struct ra_intent *in)
{
	long pid = 0;

	return sscanf(in->val, "%ld", &pid) == 1 && pid == (long)getpid();
}

static bool ra_record_gone(const char *uuid)
{
	char path[sizeof(ED_RECORDS) + 40];

	snprintf(path, sizeof(path), ED_RECORDS "/%s", uuid);
	return access(path, F_OK) < 0 && errno == ENOENT;
}

/* Every record read: whose creation is still under way; then decide. */
static void ra_records_read(struct ed_gather *g)
{
	struct reattach_op *op = ed_container_of(g, struct reattach_op, g);

	if (g->status < 0) {
		ra_end(op, g->status);
		return;
	}
	/* a record gone meanwhile (no value): that creation ended */
	for (size_t i = 0; i < op->n_in; i++) {
		struct ra_intent *in = &op->in[i];

		in->dead = in->val && !ed_zone_intent_alive(in->val, in->uuid);
		/* One of this process's, read before its creation completed
		 * and left the live set: it removed its record first, so a
		 * record gone since says so (a dead process's cannot go but
		 * by a re-attach). */
		if (in->dead && in->file && ra_own_record(in) && ra_record_gone(in->uuid)) {
			free(in->val); /* (as if read after it went) */
			in->val = NULL;
			in->dead = false;
		}
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
	ed_gather_settle(&op->g, status == EDERA_ENOENT ? 0 : status);
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
	/* (room for all at once: each read below holds its record's address) */
	if (status == 0 && !ra_intent_room(op, n))
		status = ed_error(EDERA_ENOMEM, "out of memory");
	ed_gather_start(&op->g, ra_records_read);
	ed_gather_fail(&op->g, status); /* the listing itself failed */
	for (size_t i = 0; i < n && op->g.status == 0; i++) {
		struct ra_intent *in;
		char path[96];

		if (!parse_uuid(names[i], uuid))
			continue; /* not a record of ours */
		in = ra_intent_add(op); /* (there is room) */
		in->op = op;
		snprintf(in->uuid, sizeof(in->uuid), "%s", names[i]);
		op->n_in++;
		snprintf(path, sizeof(path), ED_INTENTS "/%s", in->uuid);
		ed_gather_issued(&op->g, edera_xs_read(ctx, NULL, path, ra_intent_read, in));
	}
	ed_gather_settle(&op->g, 0);
}

int edera_zone_reattach(edera_ctx *ctx, edera_zone_reattach_cb cb, void *data)
{
	struct reattach_op *op;
	int rc;

	if (!ctx || !cb)
		return ed_error(EDERA_EINVAL, "edera_zone_reattach: ctx and cb are required");
	/* Watch before looking, so no exit falls between the two. */
	rc = ed_zone_watch_releases(ctx);
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


/* ---- one zone, by domid (a spare zone taken by a run) ---- */

struct adopt_op {
	edera_ctx *ctx;
	uint32_t domid;
	ed_zone_adopt_cb cb;
	void *data;
	struct ed_gather g;
	struct ra_cand c;
	struct ra_read r[RA_N];
};

static void adopt_end(struct adopt_op *op, int status, edera_zone *z)
{
	ED_CALLBACK(op->ctx, op->cb(op->ctx, status, z, op->data));
	for (int k = 0; k < RA_N; k++)
		free(op->c.v[k]);
	free(op);
}

static void adopt_read(struct ed_gather *g)
{
	struct adopt_op *op = ed_container_of(g, struct adopt_op, g);
	edera_ctx *ctx = op->ctx;
	uint8_t uuid[16];
	xc_dominfo_t di;
	edera_zone *z;

	if (g->status < 0) {
		ed_error_restore(&g->err);
		adopt_end(op, g->status, NULL);
		return;
	}
	if (ctx->closing) {
		adopt_end(op, ed_error(EDERA_ECANCELED, "the context was closed"), NULL);
		return;
	}
	if (!parse_uuid(op->c.v[RA_UUID], uuid)) {
		adopt_end(op, ed_error(EDERA_ENOENT, "domain %u carries no zone marker", op->domid),
		          NULL);
		return;
	}
	if (xc_domain_getinfo(ctx->hv.xch, op->domid, 1, &di) != 1 || di.domid != op->domid ||
	    di.dying || di.shutdown || di.crashed || memcmp(di.handle, uuid, sizeof(uuid)) != 0) {
		adopt_end(op, ed_error(EDERA_ENOENT, "zone %s (domain %u) is not running",
		                       op->c.v[RA_UUID], op->domid),
		          NULL);
		return;
	}
	if (!(z = ra_zone(ctx, &op->c, uuid))) {
		adopt_end(op, ed_error(EDERA_ENOMEM, "out of memory"), NULL);
		return;
	}
	/* (its console stays disconnected if another process serves it) */
	ed_parts_attach(z, NULL);
	adopt_end(op, 0, z);
}

int ed_zone_adopt(edera_ctx *ctx, uint32_t domid, ed_zone_adopt_cb cb, void *data)
{
	struct adopt_op *op;
	int rc;

	if (ra_ours_already(ctx, domid))
		return ed_error(EDERA_EEXIST, "domain %u is a zone of this context already", domid);
	if ((rc = ed_zone_watch_releases(ctx)) < 0)
		return rc;
	if (!(op = calloc(1, sizeof(*op))))
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->ctx = ctx;
	op->domid = domid;
	op->cb = cb;
	op->data = data;
	op->c.domid = domid;
	ed_gather_start(&op->g, adopt_read);
	ra_read_marker(ctx, &op->c, op->r, &op->g);
	ed_gather_settle(&op->g, 0);
	return 0;
}

/* ---- a running zone with no handle, given up ---- */

struct discard_op {
	edera_ctx *ctx;
	uint32_t domid;
	char uuid[37];
	edera_xs_done_cb done;
	void *data;
};

/* On the threadpool: the domain destroyed if it still is the zone (its Xen
 * handle the UUID). */
static int discard_work(void *arg)
{
	struct discard_op *op = arg;
	uint8_t uuid[16];
	xc_dominfo_t di;

	if (!parse_uuid(op->uuid, uuid))
		return ed_error(EDERA_EINVAL, "'%s' is not a UUID", op->uuid);
	if (xc_domain_getinfo(op->ctx->hv.xch, op->domid, 1, &di) == 1 && di.domid == op->domid &&
	    !di.dying && memcmp(di.handle, uuid, sizeof(uuid)) == 0 &&
	    xc_domain_destroy(op->ctx->hv.xch, op->domid) < 0 && errno != ESRCH)
		return ed_error(ed_errno_code(errno), "destroying domain %u: %s", op->domid,
		                strerror(errno));
	return 0;
}

static void discard_nodes_gone(edera_ctx *ctx, int status, void *data)
{
	struct discard_op *op = data;

	ED_CALLBACK(ctx, op->done(ctx, status, op->data));
	free(op);
}

static void discard_after(edera_ctx *ctx, int status, void *arg)
{
	struct discard_op *op = arg;

	if (status < 0 || ctx->closing) {
		/* (the nodes are left to edera_zone_reattach) */
		discard_nodes_gone(ctx, status, op);
		return;
	}
	ed_zone_remove_nodes(ctx, op->domid, op->uuid, true, discard_nodes_gone, op);
}

int ed_zone_discard(edera_ctx *ctx, uint32_t domid, const char *uuid, edera_xs_done_cb done,
                    void *data)
{
	struct discard_op *op = calloc(1, sizeof(*op));
	int rc;

	if (!op)
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->ctx = ctx;
	op->domid = domid;
	snprintf(op->uuid, sizeof(op->uuid), "%s", uuid);
	op->done = done;
	op->data = data;
	if ((rc = ed_offload(ctx, discard_work, discard_after, op)) < 0)
		free(op);
	return rc;
}
