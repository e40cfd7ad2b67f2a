/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-zone subsystems the zone layer runs (see zone/part.h), in the
 * order their hooks run: the console first (served before the guest runs,
 * drained before anything else of a stopped zone goes), then devices,
 * shared pages and event channels, and the run-time resources. */
#include "config.h"

#include "zone/part.h"

extern const struct ed_zone_part ed_console_part;
extern const struct ed_zone_part ed_devices_part;
extern const struct ed_zone_part ed_channel_part;
extern const struct ed_zone_part ed_share_part;
extern const struct ed_zone_part ed_resize_part;
extern const struct ed_zone_part ed_workload_part;

const struct ed_zone_part *const ed_zone_parts[] = {
	&ed_console_part,
	&ed_devices_part,
	&ed_channel_part, /* before the shares it is built on */
	&ed_share_part,
	&ed_resize_part,
	&ed_workload_part, /* last: freed first, while its channel is there */
	NULL,
};

/* Run HOOK of every part that has one, in order; stop at the first
 * failure and return it. */
#define EACH_UNTIL_FAILURE(hook, ...)                                          \
	do {                                                                   \
		for (size_t i = 0; ed_zone_parts[i]; i++) {                    \
			int rc = ed_zone_parts[i]->hook                        \
			       ? ed_zone_parts[i]->hook(__VA_ARGS__) : 0;      \
			if (rc < 0)                                            \
				return rc;                                     \
		}                                                              \
		return 0;                                                      \
	} while (0)

int ed_parts_prepare(edera_zone *z, const edera_zone_config *cfg)
{
	EACH_UNTIL_FAILURE(prepare, z, cfg);
}

int ed_parts_attach(edera_zone *z, struct ed_gather *g)
{
	EACH_UNTIL_FAILURE(attach, z, g);
}

int ed_parts_connect(edera_zone *z, struct ed_gather *g)
{
	EACH_UNTIL_FAILURE(connect, z, g);
}

int ed_parts_adopt(edera_zone *z)
{
	EACH_UNTIL_FAILURE(adopt, z);
}

void ed_parts_free(edera_zone *z)
{
	size_t n = 0;

	while (ed_zone_parts[n])
		n++;
	while (n-- > 0)
		if (ed_zone_parts[n]->free)
			ed_zone_parts[n]->free(z);
}
