/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-zone subsystems plug into the zone layer here.
 *
 * A zone's console (console/zone.c), its devices (xenbus/zone.c), its
 * shared pages and event channels (zone/share.c) and its run-time
 * resources (zone/resize.c) each give the zone layer one table of hooks;
 * lib/parts.c lists the tables, in the order the hooks run (the reverse
 * for `free`).  The zone layer calls them at fixed points of a zone's
 * life and names none of them, so a subsystem depends on the zone layer
 * and not the other way round.  Every hook may be NULL.
 *
 * Creation (create.c) calls, in order:
 *   prepare   before the domain is built: take what the configuration
 *             asks of this part, or fail (nothing held: `free` undoes it)
 *   built     the domain is built, paused, not introduced; its XenStore
 *             subtree is being written: work of this part's own that
 *             needs only the domain may start here, on the loop's thread
 *             while xenstored works (no failure: `attach` repeats what did
 *             not happen and reports it; `stopped` undoes what did)
 *   attach    the domain is built and introduced, still paused: start
 *             serving it; work that completes later joins G
 *   connect   the domain runs: wait (joining G) for the guest's side
 *   created   creation ended, either way: drop what only it needed
 * Re-attach (reattach.c) calls `adopt` for a zone it makes a handle for
 * (running or stopped), then `attach` for a running one (G is NULL: a
 * failure there leaves the zone adopted and that part not serving it).
 * The end of a zone (stop.c, zone.c):
 *   stopped   the domain stopped or is being destroyed (DRAIN: its last
 *             output still matters; an exit, not a destroy)
 *   ended     after the exit event: requests still pending end
 *   forget    the context closes while the zone runs or an operation
 *             holds it: let go of the handles, leave the zone as it is
 *   free      the handle is freed
 * And for the context: ctx_close when it closes, ctx_free when it goes. */
#ifndef EDERA_ZONE_PART_H
#define EDERA_ZONE_PART_H

#include <stdbool.h>

#include "edera/zone.h"
#include "internal.h"

struct ed_zone_part {
	const char *name;
	int (*prepare)(edera_zone *z, const edera_zone_config *cfg);
	void (*built)(edera_zone *z);
	int (*attach)(edera_zone *z, struct ed_gather *g);
	int (*connect)(edera_zone *z, struct ed_gather *g);
	void (*created)(edera_zone *z);
	int (*adopt)(edera_zone *z);
	void (*stopped)(edera_zone *z, bool drain);
	void (*ended)(edera_zone *z);
	void (*forget)(edera_zone *z);
	void (*free)(edera_zone *z);
	void (*ctx_close)(edera_ctx *ctx);
	void (*ctx_free)(edera_ctx *ctx);
};

/* lib/parts.c: the parts, NULL-terminated. */
extern const struct ed_zone_part *const ed_zone_parts[];

/* Run one hook of every part.  ED_PARTS_EACH stops at the first failure
 * of a hook that returns one and gives it; both skip NULL hooks. */
#define ED_PARTS_CALL(hook, ...)                                          \
	do {                                                              \
		for (size_t ed_i_ = 0; ed_zone_parts[ed_i_]; ed_i_++)     \
			if (ed_zone_parts[ed_i_]->hook)                   \
				ed_zone_parts[ed_i_]->hook(__VA_ARGS__);  \
	} while (0)

/* The hooks that can fail, run in order; the first failure stops them
 * and is returned (what ran before is undone by `free`). */
int ed_parts_prepare(edera_zone *z, const edera_zone_config *cfg);
int ed_parts_attach(edera_zone *z, struct ed_gather *g);
int ed_parts_connect(edera_zone *z, struct ed_gather *g);
int ed_parts_adopt(edera_zone *z);

/* `free` in reverse order: what was set up last goes first. */
void ed_parts_free(edera_zone *z);

#endif
