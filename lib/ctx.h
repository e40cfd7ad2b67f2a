/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_CTX_INTERNAL_H
#define EDERA_CTX_INTERNAL_H

#include <uv.h>

#include "build/kcache.h"
#include "hv/hv.h"
#include "internal.h"
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
	struct edera_zone *zones;  /* this context's zone handles */
	edera_xs_watch *release_watch; /* @releaseDomain, for zone exits */
	bool closing;              /* edera_ctx_close called; freed when work is done */
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

#endif
