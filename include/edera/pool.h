/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prepared zone shells: domains created ahead of time, paused, with their
 * memory populated, their xenstore and console event channels allocated
 * and most of their XenStore subtree written, kept per context by shape
 * (memory and vCPUs), so that a creation of that shape only loads its
 * kernel and initrd, writes the few nodes that depend on it (its name, its
 * rings' pages, its console's kind, its mark as a zone made) and starts.
 *
 * A shell is invisible: its nodes have no name and are not marked as a
 * zone, and it is not in edera_zone_list or edera_zone_reattach's zones
 * (other toolstacks, such as `xl list`, see a nameless paused domain).
 * Before its domain exists it is recorded
 * like a creation under way (its Xen handle is its UUID), so a process that
 * dies with shells leaves nothing that edera_zone_reattach, in any process,
 * does not find and destroy.  Its memory comes from Xen scrubbed, and a
 * shell serves one zone only: it never holds a previous zone's data.
 *
 * edera_zone_create takes a shell when the config's memory_mib and vcpus
 * are a shape's and it asks for no more to grow to (max_memory_mib and
 * max_vcpus 0 or equal to them); the zone is then the same as one created
 * without (the same XenStore contents and permissions, domid-based paths,
 * devices).  A creation that finds none ready takes the usual path.  The
 * pool refills on the threadpool, one shell at a time per shape, once a
 * creation that took one has ended (the creation comes first) or one that
 * found none has its memory, and never while
 * Xen has less free memory than the shape's plus 64 MiB.  When Xen has too
 * little free memory for a creation (counting shells being made), ready
 * shells are destroyed first (the ones of other shapes before the
 * creation's own).  A shell whose domain someone else destroyed is noticed
 * (by its Xen handle) and not used.  Shells go when the context closes
 * (on a loop of the caller's, the removal of records still under way is
 * cut short, as with zones: their domains are gone, and the next
 * edera_zone_reattach removes them).  Used on the context's loop thread.
 */
#ifndef EDERA_POOL_H
#define EDERA_POOL_H

#include <edera/common.h>
#include <edera/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most shapes a context keeps shells of. */
#define EDERA_POOL_SHAPES_MAX 8
/* The most shells of one shape. */
#define EDERA_POOL_SHELLS_MAX 256

typedef struct edera_pool_config {
	size_t sz;            /* edera_pool_config_init sets it */
	uint32_t memory_mib;  /* the shape: the zones' memory (16 at least) */
	uint32_t vcpus;       /* and vCPUs (0: 1) */
	uint32_t shells;      /* how many to keep ready; 0 removes the shape and its shells */
} edera_pool_config;

/* Zero CFG and set its sz. */
EDERA_API void edera_pool_config_init(edera_pool_config *cfg);

/*
 * Keep CFG->shells shells of CFG's shape ready in CTX (a shape set again
 * changes its count; shells beyond it are destroyed).  Returns at once;
 * the shells are made in the background.  Errors: EDERA_EINVAL (no
 * context or config, memory below 16 MiB or above 1 TiB, more than 128
 * vCPUs or EDERA_POOL_SHELLS_MAX shells), EDERA_ENOSPC (already
 * EDERA_POOL_SHAPES_MAX shapes), EDERA_ENOMEM.
 */
EDERA_API int edera_pool_set(edera_ctx *ctx, const edera_pool_config *cfg);

typedef struct edera_pool_stats {
	size_t sz;            /* set by edera_pool_stats_init */
	uint32_t shells;      /* the count asked for */
	uint32_t ready;       /* shells ready now */
	uint32_t filling;     /* shells being made */
	uint64_t taken;       /* creations that took a shell */
	uint64_t missed;      /* creations of the shape that found none ready */
	uint64_t reclaimed;   /* shells destroyed to give their memory to a creation */
	uint64_t failed;      /* shells that could not be made (the last error: last_error) */
	char last_error[256]; /* why the last one failed, or "" */
} edera_pool_stats;

/* Zero ST and set its sz, before edera_pool_stats_get. */
EDERA_API void edera_pool_stats_init(edera_pool_stats *st);

/*
 * What CTX's pool has of the shape MEMORY_MIB, VCPUS (0: 1) now, into
 * OUT (set up by edera_pool_stats_init).  Errors: EDERA_EINVAL (NULL arguments,
 * a bad sz), EDERA_ENOENT (no such shape).
 */
EDERA_API int edera_pool_stats_get(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus,
                                   edera_pool_stats *out);

#ifdef __cplusplus
}
#endif

#endif
