/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Take over the zones libedera left running on this host (after the process
 * that made them exited without destroying them), list them, and with
 * --destroy destroy them all at once, asynchronously.  Run it in dom0, as
 * root:
 *   ./zones [--destroy]
 * Build against an installed libedera:
 *   cc zones.c $(pkg-config --cflags --libs edera libuv) -o zones */
#include <stdio.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

static const char *const states[] = { "creating", "running", "paused", "shut down", "exited" };

static void destroyed(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	int *pending = data;

	if (status < 0)
		fprintf(stderr, "zones: destroying '%s': %s\n", edera_zone_name(zone),
		        edera_last_error());
	else
		printf("zones: destroyed '%s'\n", edera_zone_name(zone));
	(*pending)--;
}

int main(int argc, char **argv)
{
	int destroy = argc > 1 && strcmp(argv[1], "--destroy") == 0, pending = 0, rc = 0;
	unsigned int attached = 0, cleaned = 0;
	edera_ctx *ctx;

	if (argc > 2 || (argc == 2 && !destroy)) {
		fprintf(stderr, "usage: zones [--destroy]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "zones: %s\n", edera_last_error());
		return 1;
	}
	if (edera_zone_reattach_sync(ctx, &attached, &cleaned) < 0) {
		fprintf(stderr, "zones: %s\n", edera_last_error());
		edera_ctx_close(ctx);
		return 1;
	}
	printf("zones: %u running zone(s) taken over, %u stopped or stale one(s) cleaned up\n",
	       attached, cleaned);
	for (edera_zone *z = edera_zone_next(ctx, NULL); z; z = edera_zone_next(ctx, z)) {
		edera_zone_info info;

		edera_zone_info_init(&info);
		if (edera_zone_info_get(z, &info) < 0)
			continue;
		printf("  %-24s domain %-5u %-9s %6llu MiB  %u vCPU(s)  %.1f s CPU  %s\n",
		       edera_zone_name(z), edera_zone_domid(z), states[info.state],
		       (unsigned long long)(info.memory_kib / 1024), info.vcpus_online,
		       (double)info.cpu_time_ns / 1e9, edera_zone_uuid(z));
	}
	if (destroy) {
		/* Start every destroy, then run the loop until all are done. */
		edera_zone *z = edera_zone_next(ctx, NULL);

		while (z) {
			edera_zone *next = edera_zone_next(ctx, z);

			if (edera_zone_destroy(z, destroyed, &pending) < 0) {
				fprintf(stderr, "zones: %s\n", edera_last_error());
				rc = 1;
			} else {
				pending++;
			}
			z = next;
		}
		while (pending > 0)
			uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	}
	edera_ctx_close(ctx);
	return rc;
}
