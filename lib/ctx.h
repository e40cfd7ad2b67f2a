/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_CTX_INTERNAL_H
#define EDERA_CTX_INTERNAL_H

#include <uv.h>

#include "builder/kcache.h"
#include "hv/hv.h"
#include "internal.h"
#include "list.h"
#include "xs/xs.h"

struct edera_ctx {
	uv_loop_t *loop;
	uv_loop_t own_loop; /* used when the caller gave no loop */
	bool owns_loop;
	struct ed_hv hv;
	struct ed_xs xs;
	struct ed_kcache kcache; /* parsed kernels, shared by builds */
	int cb_depth; /* > 0 while one of the caller's callbacks runs */
	unsigned int work_pending; /* threadpool work in flight */
	struct ed_list zones;      /* this context's zone handles (zone/zone.h) */
	edera_xs_watch *release_watch; /* @releaseDomain, for zone exits */
	uv_timer_t *exit_recheck;      /* looks for exits @releaseDomain skipped */
	bool closing;              /* edera_ctx_close called; freed when work is done */
	bool xs_gone;              /* the XenStore client is shut: send nothing more */
	unsigned int cleanups;     /* zone clean-ups in flight (destroy, node removal) */
	struct ed_evtchn *evtchn;  /* bound event channels (hv/evtchn.c) */
	/* Set by zone.c once zones are used: closes zones, consoles, devices
	 * and event channels.  A hook, so that a program using only the
	 * XenStore client (tests/guest/xs-guest, linked statically) does not
	 * pull in the rest. */
	void (*zones_fini)(edera_ctx *ctx);
	/* and what the zones' parts keep until the context is freed (the
	 * console logs' writer thread) */
	void (*parts_free)(edera_ctx *ctx);
	/* consoles with output left for a later turn (console/console.c) */
	struct ed_list con_rq; /* struct ed_console, in turn */
	uv_idle_t *con_idle;
	struct ed_logw *logw; /* console logs' writer thread (console/log.c) */
	/* prepared shells (zone/pool.c), and its hooks (set with it) */
	struct ed_pool *pool;
	void (*pool_fini)(edera_ctx *ctx);
	void (*pool_free)(edera_ctx *ctx);
};

/* Called after threadpool work completes: frees a context closed meanwhile. */
void ed_ctx_work_done(edera_ctx *ctx);

/* Run a caller's callback, noting that we are inside one: blocking calls and
 * edera_ctx_close are refused there. */
#define ED_CALLBACK(ctx, call)        \
	do {                          \
		(ctx)->cb_depth++;    \
		call;                 \
		(ctx)->cb_depth--;    \
	} while (0)

/* A context with a loop and a XenStore client but no hypervisor handles
 * and no connection yet (edera_ctx_open completes it; unit tests use it). */
int ed_ctx_new(edera_ctx **out, struct uv_loop_s *loop);

/* For the blocking forms: they run the loop, which a callback must not do. */
int ed_ctx_check_blocking(edera_ctx *ctx, const char *what);
/* Run the loop until *DONE becomes true. */
int ed_ctx_wait(edera_ctx *ctx, const bool *done);

/* The blocking forms' shared state: the asynchronous form's callback calls
 * ed_sync_finish; the blocking form waits with ed_sync_wait, which returns
 * the status and restores the failure's message on the caller's side (the
 * loop may have overwritten the thread's last error meanwhile). */
struct ed_sync {
	bool done;
	int status;
	struct ed_err err;
};
void ed_sync_finish(struct ed_sync *s, int status);
/* RC is the asynchronous call's own result: < 0 means it never started. */
int ed_sync_wait(edera_ctx *ctx, int rc, struct ed_sync *s);

#endif
