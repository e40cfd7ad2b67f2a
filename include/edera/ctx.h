/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_CTX_H
#define EDERA_CTX_H

#include <edera/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A context: the hypervisor handles and the event loop everything runs on. */
typedef struct edera_ctx edera_ctx;

/* libuv's loop type, declared here so the headers do not need <uv.h>. */
struct uv_loop_s;

typedef struct edera_ctx_options {
	size_t sz; /* sizeof(edera_ctx_options), set by edera_ctx_options_init */
	/* The loop the context runs on, owned by the caller, who must keep it
	 * alive until edera_ctx_close() returns.  NULL: the context creates and
	 * owns a loop (see edera_ctx_loop). */
	struct uv_loop_s *loop;
} edera_ctx_options;

#define EDERA_CTX_OPTIONS_INIT { sizeof(edera_ctx_options), NULL }

/* Fill OPTS with the defaults and set its sz. */
EDERA_API void edera_ctx_options_init(edera_ctx_options *opts);

/*
 * Open a context: check that this is Xen's control domain and open the
 * hypervisor interfaces (privcmd, event channels, grant tables, foreign
 * memory).  OPTS may be NULL for the defaults.  On success *OUT is a context
 * owned by the caller, released with edera_ctx_close().
 * Errors: EDERA_ENOXEN (no Xen, or not dom0: /dev/xen/privcmd missing or
 * refused), EDERA_EXENVERSION (Xen older than 4.17), EDERA_EACCES (not
 * permitted to open the Xen devices: run as root), EDERA_EINVAL (bad OPTS),
 * EDERA_ENOMEM, EDERA_EIO.  On failure *OUT is NULL and nothing is left open.
 * Call from the thread that runs the loop.
 */
EDERA_API int edera_ctx_open(edera_ctx **out, const edera_ctx_options *opts);

/*
 * Release the context and everything it opened.  NULL is ignored.  XenStore
 * requests in flight complete with EDERA_ECANCELED (their callbacks run
 * during this call); one not yet written to xenstored is still written
 * first, as far as the socket takes it, so EDERA_ECANCELED does not say it
 * was not done (read the node again to know); remaining watches are
 * freed.  Hypercalls already
 * running on the threadpool cannot be stopped: their callbacks still run
 * once they finish (during this call if the context owns its loop, else
 * when the caller next runs its loop; the context is freed after the last).
 * If the context owns its loop, the loop is closed too.  On a caller's
 * loop, the context's handles finish closing when the caller next runs the
 * loop: run it (uv_run) before uv_loop_close.
 * Must not be called from a libedera callback (it aborts).
 */
EDERA_API void edera_ctx_close(edera_ctx *ctx);

/* The loop the context runs on (borrowed, valid while CTX is open). */
EDERA_API struct uv_loop_s *edera_ctx_loop(edera_ctx *ctx);

/* What the hypervisor reports about the host. */
typedef struct edera_host_info {
	size_t sz;               /* sizeof(edera_host_info), set by _init */
	uint32_t xen_major;      /* e.g. 4 */
	uint32_t xen_minor;      /* e.g. 17 */
	char xen_extra[16];      /* e.g. ".7", NUL-terminated */
	uint64_t total_memory_kib; /* RAM Xen manages */
	uint64_t free_memory_kib;  /* not given to any domain */
	uint32_t nr_cpus;        /* physical CPUs online */
	uint32_t nr_nodes;       /* NUMA nodes online */
	uint32_t cpu_khz;        /* CPU frequency */
	uint32_t threads_per_core;
	uint32_t cores_per_socket;
} edera_host_info;

#define EDERA_HOST_INFO_INIT { sizeof(edera_host_info), 0, 0, "", 0, 0, 0, 0, 0, 0, 0 }

/* Zero INFO and set its sz. */
EDERA_API void edera_host_info_init(edera_host_info *info);

/*
 * Fill INFO (whose sz the caller set) with the hypervisor version and the
 * host's physical information.  Fast (two hypercalls); callable from the loop
 * thread.  Errors: EDERA_EINVAL (NULL argument or sz too small), EDERA_EIO.
 */
EDERA_API int edera_host_info_get(edera_ctx *ctx, edera_host_info *info);

/*
 * The asynchronous form: the hypercalls run on libuv's threadpool and CB runs
 * on the loop thread with the result (INFO valid during the call only; NULL
 * when STATUS < 0).  Returns 0 once queued, or an error at once (then CB never
 * runs): EDERA_EINVAL, EDERA_ENOMEM, EDERA_ECANCELED (context closing).
 */
typedef void (*edera_host_info_cb)(edera_ctx *ctx, int status, const edera_host_info *info,
                                   void *data);
EDERA_API int edera_host_info_query(edera_ctx *ctx, edera_host_info_cb cb, void *data);

#ifdef __cplusplus
}
#endif

#endif
