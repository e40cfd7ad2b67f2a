/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prepared zone shells (include/edera/pool.h).  A shape keeps up to
 * st.shells shells ready; one is made at a time per shape:
 *   1. its record, like a creation's (create.c's "creation intents"): the
 *      domain of a process that dies from here on is found by its handle
 *   2. on the threadpool: the domain created, paused, memory populated,
 *      its xenstore and console event channels allocated (builder/pv.c,
 *      ed_pv_shell_make)
 *   3. its XenStore nodes: all of a zone's subtree that does not depend
 *      on the kernel or the zone's name (create.c, ed_zone_skeleton_write),
 *      the channels' ports among them
 *   4. ready: on the shape's list, until a creation takes it (create.c)
 *      or it is destroyed (fewer wanted, memory reclaimed, the context
 *      closing): the domain first, then its nodes, then its record.
 * A shell taken belongs to its creation from then on. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>

#include "ctx.h"
#include "hv/offload.h"
#include "pool.h"
#include "zone.h"

struct ed_shape {
	uint32_t memory_mib, vcpus;
	edera_pool_stats st; /* shells, ready, filling and the counters */
	struct ed_list ready; /* struct ed_shell */
	uint32_t populating;  /* of st.filling: their memory not taken yet */
	bool removed;         /* set 0: freed once its fill is back */
};

struct ed_pool {
	struct ed_shape *shapes[EDERA_POOL_SHAPES_MAX];
};

static void fill(edera_ctx *ctx, struct ed_shape *sh);

static void shape_free_if_done(edera_ctx *ctx, struct ed_shape *sh)
{
	if (!sh->removed || sh->st.filling || !ed_list_empty(&sh->ready))
		return;
	for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++)
		if (ctx->pool->shapes[i] == sh)
			ctx->pool->shapes[i] = NULL;
	free(sh);
}

/* Destroy a shell's domain, then its nodes and its record go, in that
 * order (the record once the nodes' removal is answered: a crash between
 * them leaves a record whose domain is gone, and nodes marked with its
 * UUID: re-attach removes both).  On the threadpool (a populated domain's
 * memory takes a while to give back), unless SYNC or the context is
 * closing. */
static int destroy_work(void *arg)
{
	struct ed_shell *s = arg;

	return ed_pv_shell_destroy(&s->ctx->hv, &s->s);
}

static void destroyed(edera_ctx *ctx, int status, void *arg)
{
	struct ed_shell *s = arg;

	if (s->s.domid) /* the work never ran */
		status = ed_pv_shell_destroy(&ctx->hv, &s->s);
	if (status < 0) {
		/* Xen refused: the domain stays, and so do its nodes and
		 * record, for edera_zone_reattach to find it by */
		ed_trace("pool: %s", edera_last_error());
		ed_zone_intent_forget(s->uuid_str);
	} else if (s->nodes_domid) /* (its record after them) */
		ed_zone_undone_rm(ctx, s->nodes_domid, s->uuid_str, false);
	else
		ed_zone_intent_rm(ctx, s->uuid_str);
	free(s);
}

static void shell_destroy(edera_ctx *ctx, struct ed_shell *s, bool sync)
{
	if (sync || !s->s.domid || ed_offload(ctx, destroy_work, destroyed, s) < 0)
		destroyed(ctx, 0, s);
}

static void drop_ready(edera_ctx *ctx, struct ed_shape *sh, struct ed_shell *s, bool sync)
{
	ed_list_remove(&sh->ready, &s->link);
	sh->st.ready--;
	shell_destroy(ctx, s, sync);
}

/* ---- making one ---- */

/* A shell of SH could not be made: counted, the thread's last error kept. */
static void failed(struct ed_shape *sh)
{
	sh->st.failed++;
	snprintf(sh->st.last_error, sizeof(sh->st.last_error), "%s", edera_last_error());
}

static int make_work(void *arg)
{
	struct ed_shell *s = arg;

	return ed_pv_shell_make(&s->ctx->hv, (uint64_t)s->shape->memory_mib * 1024,
	                        s->shape->vcpus, s->uuid, &s->s);
}

/* Its nodes written (or not): ready, or destroyed. */
static void shell_done(edera_ctx *ctx, struct ed_shell *s, int status)
{
	struct ed_shape *sh = s->shape;

	sh->st.filling--;
	if (status == 0 && !ctx->closing && !sh->removed && sh->st.ready < sh->st.shells) {
		ed_trace("pool: shell of %u MiB ready (domain %u)", sh->memory_mib, s->s.domid);
		ed_list_push_back(&sh->ready, &s->link);
		sh->st.ready++;
		fill(ctx, sh);
		return;
	}
	if (status < 0 && status != EDERA_ECANCELED)
		failed(sh);
	/* failed (nothing was left), not wanted any more, or closing */
	shell_destroy(ctx, s, false);
	shape_free_if_done(ctx, sh);
	/* after a failure, the next creation or edera_pool_set tries again */
}

static void nodes_written(struct ed_skeleton *sk, int status)
{
	struct ed_shell *s = ed_container_of(sk, struct ed_shell, sk);

	s->ctx->cleanups--;
	shell_done(s->ctx, s, status);
}

/* What a shell's subtree has beyond the skeleton: its event channels'
 * ports (the build in it uses them; the rings' pages are placed by the
 * build, so their nodes wait for it). */
static void shell_nodes(struct ed_skeleton *sk, int *lane)
{
	struct ed_shell *s = ed_container_of(sk, struct ed_shell, sk);

	ed_zone_port_nodes(sk->ctx, &sk->batch, sk->domid, lane, s->s.store_evtchn,
	                   s->s.cons_evtchn);
}

static void made(edera_ctx *ctx, int status, void *arg)
{
	struct ed_shell *s = arg;
	struct ed_shape *sh = s->shape;

	sh->populating--; /* (its memory is taken, or was never) */
	if (status == 0 && (ctx->closing || sh->removed))
		status = EDERA_ECANCELED;
	if (status < 0) {
		shell_done(ctx, s, status);
		return;
	}
	s->nodes_domid = s->s.domid;
	s->sk.ctx = ctx;
	s->sk.domid = s->s.domid;
	memcpy(s->sk.uuid, s->uuid_str, sizeof(s->sk.uuid));
	s->sk.memory_kib = s->sk.max_memory_kib = s->s.memory_kib;
	s->sk.vcpus = s->sk.max_vcpus = s->s.vcpus;
	s->sk.more = shell_nodes;
	s->sk.done = nodes_written;
	/* (closing the context waits for them: the shell is undone after) */
	ctx->cleanups++;
	ed_zone_skeleton_write(&s->sk);
}

/* Start one more shell of SH if it has fewer than asked and none under
 * way. */
static void fill(edera_ctx *ctx, struct ed_shape *sh)
{
	struct ed_shell *s;
	uint64_t free_kib;
	int rc;

	if (ctx->closing || sh->removed || sh->st.filling || sh->st.ready >= sh->st.shells)
		return;
	/* not while Xen is short: creations come first (the next one of the
	 * shape, or edera_pool_set, tries again) */
	if (ed_hv_free_kib(&ctx->hv, &free_kib) == 0 &&
	    free_kib >> 10 < (uint64_t)sh->memory_mib + 64)
		return;
	if (!(s = calloc(1, sizeof(*s))))
		return; /* the next creation or edera_pool_set tries again */
	s->ctx = ctx;
	s->shape = sh;
	ed_uuid_new(s->uuid, s->uuid_str);
	sh->st.filling++;
	sh->populating++;
	rc = ed_zone_intent_write(s->uuid_str, "(shell)", false);
	if (rc == 0) {
		rc = ed_offload(ctx, make_work, made, s);
		if (rc < 0)
			ed_zone_intent_rm(ctx, s->uuid_str);
	}
	if (rc < 0) {
		sh->st.filling--;
		sh->populating--;
		failed(sh);
		free(s);
	}
}

/* ---- the API ---- */

void edera_pool_config_init(edera_pool_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

void edera_pool_stats_init(edera_pool_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
}

static struct ed_shape *find(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus)
{
	if (!ctx->pool)
		return NULL;
	for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++) {
		struct ed_shape *sh = ctx->pool->shapes[i];

		if (sh && !sh->removed && sh->memory_mib == memory_mib && sh->vcpus == vcpus)
			return sh;
	}
	return NULL;
}

int edera_pool_set(edera_ctx *ctx, const edera_pool_config *user_cfg)
{
	edera_pool_config cfg;
	struct ed_shape *sh;
	int rc;

	if (!ctx || !user_cfg)
		return ed_error(EDERA_EINVAL, "edera_pool_set: ctx or cfg is NULL");
	if ((rc = ed_sized_check(user_cfg, user_cfg->sz, sizeof(cfg), "edera_pool_config")) < 0)
		return rc;
	edera_pool_config_init(&cfg);
	memcpy(&cfg, user_cfg, user_cfg->sz < sizeof(cfg) ? user_cfg->sz : sizeof(cfg));
	if (cfg.vcpus == 0)
		cfg.vcpus = 1;
	if (cfg.memory_mib < 16 || cfg.memory_mib > (1u << 20))
		return ed_error(EDERA_EINVAL,
		                "edera_pool_set: memory_mib %u is out of range (16 MiB to 1 TiB)",
		                cfg.memory_mib);
	if (cfg.vcpus > 128)
		return ed_error(EDERA_EINVAL, "edera_pool_set: %u vCPUs (128 at most)", cfg.vcpus);
	if (cfg.shells > EDERA_POOL_SHELLS_MAX)
		return ed_error(EDERA_EINVAL, "edera_pool_set: %u shells (%d at most)", cfg.shells,
		                EDERA_POOL_SHELLS_MAX);
	if (ctx->closing)
		return ed_error(EDERA_EINVAL, "edera_pool_set: the context is closing");
	if (!ctx->pool) {
		if (!(ctx->pool = calloc(1, sizeof(*ctx->pool))))
			return ed_error(EDERA_ENOMEM, "out of memory");
		ctx->pool_fini = ed_pool_fini;
		ctx->pool_free = ed_pool_free;
	}
	sh = find(ctx, cfg.memory_mib, cfg.vcpus);
	if (!sh) {
		size_t i;

		if (cfg.shells == 0)
			return 0;
		for (i = 0; i < EDERA_POOL_SHAPES_MAX && ctx->pool->shapes[i]; i++)
			;
		if (i == EDERA_POOL_SHAPES_MAX)
			return ed_error(EDERA_ENOSPC, "edera_pool_set: %d shapes already (remove one "
			                "with shells 0 first)",
			                EDERA_POOL_SHAPES_MAX);
		if (!(sh = calloc(1, sizeof(*sh))))
			return ed_error(EDERA_ENOMEM, "out of memory");
		sh->memory_mib = cfg.memory_mib;
		sh->vcpus = cfg.vcpus;
		edera_pool_stats_init(&sh->st);
		ctx->pool->shapes[i] = sh;
	}
	sh->st.shells = cfg.shells;
	while (sh->st.ready > sh->st.shells)
		drop_ready(ctx, sh, ed_list_first(&sh->ready, struct ed_shell, link), false);
	if (cfg.shells == 0) {
		sh->removed = true;
		shape_free_if_done(ctx, sh);
		return 0;
	}
	fill(ctx, sh);
	return 0;
}

int edera_pool_stats_get(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus,
                         edera_pool_stats *out)
{
	struct ed_shape *sh;
	size_t sz;
	int rc;

	if (!ctx || !out)
		return ed_error(EDERA_EINVAL, "edera_pool_stats_get: NULL argument");
	if ((rc = ed_sized_check(out, out->sz, sizeof(*out), "edera_pool_stats")) < 0)
		return rc;
	if (!(sh = find(ctx, memory_mib, vcpus ? vcpus : 1)))
		return ed_error(EDERA_ENOENT, "no pool shape of %u MiB and %u vCPUs", memory_mib,
		                vcpus ? vcpus : 1);
	sz = out->sz;
	memcpy(out, &sh->st, sz < sizeof(sh->st) ? sz : sizeof(sh->st));
	out->sz = sz;
	return 0;
}

/* ---- for create.c and ctx.c ---- */

struct ed_shell *ed_pool_take(edera_ctx *ctx, const struct ed_pv_params *p)
{
	struct ed_shape *sh;
	struct ed_shell *s;

	if (!ctx->pool || p->memory_kib % 1024 || p->memory_kib / 1024 > UINT32_MAX)
		return NULL;
	sh = find(ctx, (uint32_t)(p->memory_kib / 1024), p->vcpus);
	if (!sh || !ed_pv_shape_fits((uint64_t)sh->memory_mib * 1024, sh->vcpus, p))
		return NULL;
	s = ed_list_first(&sh->ready, struct ed_shell, link);
	if (!s) {
		/* (refilled once this creation has its memory: ed_pool_refill) */
		sh->st.missed++;
		return NULL;
	}
	ed_list_remove(&sh->ready, &s->link);
	sh->st.ready--;
	sh->st.taken++;
	s->shape = NULL;
	/* (refilled once the creation ends: it comes first) */
	return s;
}

void ed_pool_shell_free(edera_ctx *ctx, struct ed_shell *s)
{
	if (!s)
		return;
	if (s->s.domid) /* never built on: its domain goes (and its record) */
		shell_destroy(ctx, s, false);
	else
		free(s);
}

void ed_pool_refill(edera_ctx *ctx)
{
	if (!ctx->pool)
		return;
	for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++)
		if (ctx->pool->shapes[i])
			fill(ctx, ctx->pool->shapes[i]);
}

uint64_t ed_pool_filling_mib(edera_ctx *ctx)
{
	uint64_t mib = 0;

	if (!ctx->pool)
		return 0;
	for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++)
		if (ctx->pool->shapes[i])
			mib += (uint64_t)ctx->pool->shapes[i]->populating *
			       ctx->pool->shapes[i]->memory_mib;
	return mib;
}

bool ed_pool_reclaim(edera_ctx *ctx, uint64_t need_mib, uint32_t memory_mib, uint32_t vcpus)
{
	bool any = false;

	if (!ctx->pool)
		return false;
	/* shapes other than the creation's first: its own would refill */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++) {
			struct ed_shape *sh = ctx->pool->shapes[i];
			bool own = sh && sh->memory_mib == memory_mib && sh->vcpus == vcpus;

			if (!sh || own != (pass == 1))
				continue;
			while (need_mib && !ed_list_empty(&sh->ready)) {
				uint64_t m = sh->memory_mib;

				/* at once: the creation looks at Xen's free memory next */
				drop_ready(ctx, sh, ed_list_first(&sh->ready, struct ed_shell, link),
				           true);
				sh->st.reclaimed++;
				any = true;
				need_mib = need_mib > m ? need_mib - m : 0;
			}
		}
	}
	return any;
}

void ed_pool_fini(edera_ctx *ctx)
{
	if (!ctx->pool)
		return;
	for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++) {
		struct ed_shape *sh = ctx->pool->shapes[i];

		if (!sh)
			continue;
		sh->removed = true;
		while (!ed_list_empty(&sh->ready)) /* (closing: at once) */
			drop_ready(ctx, sh, ed_list_first(&sh->ready, struct ed_shell, link), true);
		shape_free_if_done(ctx, sh); /* or when its fill comes back */
	}
}

void ed_pool_free(edera_ctx *ctx)
{
	if (!ctx->pool)
		return;
	for (size_t i = 0; i < EDERA_POOL_SHAPES_MAX; i++)
		free(ctx->pool->shapes[i]);
	free(ctx->pool);
	ctx->pool = NULL;
}
