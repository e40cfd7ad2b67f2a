/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prepared zone shells (pool.c; include/edera/pool.h): what creation and
 * the context use of them. */
#ifndef EDERA_ZONE_POOL_H
#define EDERA_ZONE_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/pv.h"
#include "edera/pool.h"
#include "list.h"
#include "zone.h"

struct ed_shape;

struct ed_shell {
	struct ed_link link; /* on its shape's ready list */
	edera_ctx *ctx;
	struct ed_shape *shape; /* NULL once taken */
	uint8_t uuid[16];       /* its Xen handle, and the zone's UUID */
	char uuid_str[37];
	struct ed_pv_shell s;   /* domid 0 once a build took it */
	/* The domain its XenStore nodes were written for (0: none yet): a
	 * zone's subtree but its name, rings, console and its mark as a
	 * zone made (ed_zone_skeleton_write).  They go with the shell, or
	 * with the zone built in it. */
	uint32_t nodes_domid;
	struct ed_skeleton sk;
};

/* A ready shell a creation of P can take (its record is live, its
 * domain paused and populated, its nodes written), or NULL.  The pool
 * refills once the creation ends (ed_pool_refill). */
struct ed_shell *ed_pool_take(edera_ctx *ctx, const struct ed_pv_params *p);
/* A taken shell's end: its domain, nodes and record go unless a build
 * took them (which zeroes its s; the creation sees to its nodes then). */
void ed_pool_shell_free(edera_ctx *ctx, struct ed_shell *s);
/* Shapes short of shells start making one (a creation that found none,
 * once its own memory is taken). */
void ed_pool_refill(edera_ctx *ctx);
/* Memory the shells being made will take (MiB). */
uint64_t ed_pool_filling_mib(edera_ctx *ctx);
/* Destroy ready shells, at once, for NEED_MIB of memory, other shapes'
 * before those of MEMORY_MIB, VCPUS; whether any went. */
bool ed_pool_reclaim(edera_ctx *ctx, uint64_t need_mib, uint32_t memory_mib, uint32_t vcpus);
/* (ctx.c's hooks) the context closing: ready shells go; freed with it. */
void ed_pool_fini(edera_ctx *ctx);
void ed_pool_free(edera_ctx *ctx);

#endif
