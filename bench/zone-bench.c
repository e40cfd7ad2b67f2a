/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone creation, create -> running: libedera's own builder against `xl
 * create` of the same kernel, initrd and memory, in the same dom0.  Ratios
 * printed, nothing asserted.
 *   1. Debian's kernel + busybox initrd, 256 MiB: median of ROUNDS each.
 *   2. The project's minimal PV kernel, 16 MiB: median of ROUNDS each (the
 *      toolstack's own cost, with next to no kernel to load).
 *   3. Scaling: SCALE minimal zones created one after another and left
 *      running; the first five against the last five (with up to SCALE - 1
 *      running), medians, for each toolstack; every time printed too.
 * Usage (in the rig): zone-bench KERNEL INITRD MINI_KERNEL [scale]
 * ("scale": only part 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edera/edera.h>

#include "bench.h"

#define ROUNDS 5
#define SCALE 30
#define XL "/usr/lib/xen-4.17/bin/xl"

static edera_ctx *ctx;

static void die(const char *what)
{
	fprintf(stderr, "zone-bench: %s: %s\n", what, edera_last_error());
	exit(1);
}

static void xl_config(const char *path, const char *name, const char *kernel, const char *initrd,
                      const char *extra, unsigned int mib)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "name=\"%s\"\ntype=\"pv\"\nkernel=\"%s\"\n", name, kernel);
	if (initrd)
		fprintf(f, "ramdisk=\"%s\"\n", initrd);
	fprintf(f, "extra=\"%s\"\nmemory=%u\nvcpus=1\n", extra, mib);
	fclose(f);
}

static double edera_create(const char *name, const char *kernel, const char *initrd,
                           const char *cmdline, unsigned int mib, edera_zone **out)
{
	edera_zone_config cfg;
	double t0;

	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = kernel;
	cfg.initrd = initrd;
	cfg.cmdline = cmdline;
	cfg.memory_mib = mib;
	t0 = bench_now();
	if (edera_zone_create_sync(ctx, &cfg, out) < 0)
		die("edera_zone_create");
	return bench_now() - t0;
}

static double xl_create(const char *cfgpath)
{
	char cmd[256];
	double t0 = bench_now();

	snprintf(cmd, sizeof(cmd), XL " create -q %s", cfgpath);
	if (system(cmd) != 0) {
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
		exit(1);
	}
	return bench_now() - t0;
}

static void xl_destroy(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), XL " destroy %s", name);
	if (system(cmd) != 0)
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
}

/* Median create -> running of ROUNDS each, alternating the toolstacks. */
static void compare(const char *title, const char *kernel, const char *initrd,
                    const char *cmdline, unsigned int mib)
{
	double t_ed[ROUNDS], t_xl[ROUNDS], ed, xl;
	const char *cfgpath = "/tmp/zone-bench.cfg";

	xl_config(cfgpath, "bench-xl", kernel, initrd, cmdline, mib);
	for (int r = 0; r < ROUNDS; r++) {
		edera_zone *z;

		t_ed[r] = edera_create("bench-edera", kernel, initrd, cmdline, mib, &z);
		if (edera_zone_destroy_sync(z) < 0)
			die("edera_zone_destroy_sync");
		t_xl[r] = xl_create(cfgpath);
		xl_destroy("bench-xl");
	}
	ed = bench_median(t_ed, ROUNDS);
	xl = bench_median(t_xl, ROUNDS);
	printf("%s, %u MiB: create -> running, median of %d\n", title, mib, ROUNDS);
	printf("  %-28s %8.3f s   %5.2fx of xl's time\n", "libedera edera_zone_create", ed, ed / xl);
	printf("  %-28s %8.3f s   1.00x\n", "xl create (reference)", xl);
}

/* SCALE minimal zones, each left running; the first's time and the last's. */
static void scaling(const char *mini)
{
	edera_zone *zones[SCALE];
	double ed[SCALE], xl[SCALE];
	char name[32], cfgpath[64];

	for (int i = 0; i < SCALE; i++) {
		snprintf(name, sizeof(name), "bench-scale-%d", i);
		ed[i] = edera_create(name, mini, NULL, "reason=wait", 16, &zones[i]);
	}
	for (int i = 0; i < SCALE; i++)
		if (edera_zone_destroy_sync(zones[i]) < 0)
			die("edera_zone_destroy_sync");
	for (int i = 0; i < SCALE; i++) {
		snprintf(name, sizeof(name), "bench-xl-%d", i);
		snprintf(cfgpath, sizeof(cfgpath), "/tmp/zone-bench-%d.cfg", i);
		xl_config(cfgpath, name, mini, NULL, "reason=wait", 16);
		xl[i] = xl_create(cfgpath);
	}
	for (int i = 0; i < SCALE; i++) {
		snprintf(name, sizeof(name), "bench-xl-%d", i);
		xl_destroy(name);
	}
	printf("Scaling: %d minimal zones (16 MiB) created one after another, all left running\n",
	       SCALE);
	printf("  libedera, each (ms):");
	for (int i = 0; i < SCALE; i++)
		printf(" %.0f", ed[i] * 1e3);
	printf("\n  xl, each (ms):");
	for (int i = 0; i < SCALE; i++)
		printf(" %.0f", xl[i] * 1e3);
	printf("\n");
	{
		double e0[5], e1[5], x0[5], x1[5], ef, el, xf, xlast;

		for (int i = 0; i < 5; i++) {
			e0[i] = ed[i];
			e1[i] = ed[SCALE - 5 + i];
			x0[i] = xl[i];
			x1[i] = xl[SCALE - 5 + i];
		}
		ef = bench_median(e0, 5);
		el = bench_median(e1, 5);
		xf = bench_median(x0, 5);
		xlast = bench_median(x1, 5);
		printf("  median of zones 1-5 against zones %d-%d:\n", SCALE - 4, SCALE);
		printf("  %-28s %7.3f s -> %7.3f s   %5.2fx\n", "libedera", ef, el, el / ef);
		printf("  %-28s %7.3f s -> %7.3f s   %5.2fx\n", "xl create (reference)", xf, xlast,
		       xlast / xf);
		printf("  with %d running, libedera takes %.2fx xl's time\n", SCALE - 1, el / xlast);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: zone-bench KERNEL INITRD MINI_KERNEL\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0)
		die("edera_ctx_open");
	printf("Zone creation (emulated machine: only ratios mean anything)\n");
	if (argc < 5 || strcmp(argv[4], "scale") != 0) {
		compare("Debian 6.1 kernel + busybox initrd", argv[1], argv[2], "console=hvc0 quiet",
		        256);
		compare("Minimal PV kernel (tests/guest/mini)", argv[3], NULL, "reason=wait", 16);
	}
	scaling(argv[3]);
	edera_ctx_close(ctx);
	return 0;
}
