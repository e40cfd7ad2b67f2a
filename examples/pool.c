/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prepared zone shells: create a zone cold, then keep a shell of its shape
 * ready and create it again from the shell, printing both times (create ->
 * running) and what the pool says.  Run it in dom0, as root:
 *   ./pool [--memory MIB] KERNEL [CMDLINE]
 * (any PV kernel; the zones are destroyed at once).  Build against an
 * installed libedera:
 *   cc pool.c $(pkg-config --cflags --libs edera libuv) -o pool */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edera/edera.h>
#include <uv.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Create and destroy one zone; its creation's seconds, or -1. */
static double once(edera_ctx *ctx, const edera_zone_config *cfg)
{
	edera_zone *z;
	double t0 = now(), t;

	if (edera_zone_create_sync(ctx, cfg, &z) < 0) {
		fprintf(stderr, "pool: creating '%s': %s\n", cfg->name, edera_last_error());
		return -1;
	}
	t = now() - t0;
	if (edera_zone_destroy_sync(z) < 0)
		fprintf(stderr, "pool: destroying '%s': %s\n", cfg->name, edera_last_error());
	return t;
}

int main(int argc, char **argv)
{
	edera_zone_config cfg;
	edera_pool_config pc;
	edera_pool_stats st;
	edera_ctx *ctx;
	unsigned long mib = 16;
	double cold, warm, deadline;
	int a = 1;

	if (argc > 2 && strcmp(argv[1], "--memory") == 0) {
		mib = strtoul(argv[2], NULL, 10);
		a = 3;
	}
	if (argc - a < 1 || argc - a > 2 || mib < 16 || mib > 65536) {
		fprintf(stderr, "usage: pool [--memory MIB (16 to 65536)] KERNEL [CMDLINE]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "pool: %s\n", edera_last_error());
		return 1;
	}
	edera_zone_config_init(&cfg);
	cfg.name = "pool-example";
	cfg.kernel = argv[a];
	cfg.cmdline = argc - a == 2 ? argv[a + 1] : NULL;
	cfg.memory_mib = mib;
	if ((cold = once(ctx, &cfg)) < 0)
		goto fail;

	/* one shell of the zone's shape, made in the background */
	edera_pool_config_init(&pc);
	pc.memory_mib = (uint32_t)mib;
	pc.vcpus = 1;
	pc.shells = 1;
	if (edera_pool_set(ctx, &pc) < 0) {
		fprintf(stderr, "pool: %s\n", edera_last_error());
		goto fail;
	}
	deadline = now() + 120;
	for (;;) {
		edera_pool_stats_init(&st);
		if (edera_pool_stats_get(ctx, pc.memory_mib, 1, &st) < 0) {
			fprintf(stderr, "pool: %s\n", edera_last_error());
			goto fail;
		}
		if (st.failed) {
			fprintf(stderr, "pool: no shell could be made: %s\n", st.last_error);
			goto fail;
		}
		if (st.ready)
			break;
		if (now() > deadline) {
			fprintf(stderr, "pool: no shell ready after 120 s\n");
			goto fail;
		}
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE); /* the shell comes on the loop */
	}
	if ((warm = once(ctx, &cfg)) < 0)
		goto fail;
	edera_pool_stats_init(&st);
	edera_pool_stats_get(ctx, pc.memory_mib, 1, &st);
	printf("pool: %lu MiB zone created cold in %.3f s, from a shell in %.3f s (%.1fx faster)\n",
	       mib, cold, warm, cold / warm);
	printf("pool: shells taken %llu, missed %llu, ready %u (refilling: %u)\n",
	       (unsigned long long)st.taken, (unsigned long long)st.missed, st.ready, st.filling);
	edera_ctx_close(ctx); /* the shells go with it */
	return st.taken == 1 ? 0 : 1;
fail:
	edera_ctx_close(ctx);
	return 1;
}
