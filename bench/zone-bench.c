/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone creation, create -> running: libedera's own builder against `xl
 * create` of the same kernel, initrd and memory, in the same dom0.  Median
 * of ROUNDS each; ratios printed, nothing asserted.
 * Usage (in the rig): zone-bench KERNEL INITRD */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edera/edera.h>

#include "bench.h"

#define ROUNDS 5
#define XL "/usr/lib/xen-4.17/bin/xl"

int main(int argc, char **argv)
{
	double t_ed[ROUNDS], t_xl[ROUNDS];
	edera_ctx *ctx;
	char cfgpath[] = "/tmp/zone-bench.cfg";
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: zone-bench KERNEL INITRD\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "zone-bench: %s\n", edera_last_error());
		return 1;
	}
	f = fopen(cfgpath, "w");
	fprintf(f, "name=\"bench-xl\"\ntype=\"pv\"\nkernel=\"%s\"\nramdisk=\"%s\"\n"
	           "extra=\"console=hvc0 quiet\"\nmemory=256\nvcpus=1\n",
	        argv[1], argv[2]);
	fclose(f);

	for (int r = 0; r < ROUNDS; r++) {
		edera_zone_config cfg;
		edera_zone *z;
		double t0;

		edera_zone_config_init(&cfg);
		cfg.name = "bench-edera";
		cfg.kernel = argv[1];
		cfg.initrd = argv[2];
		cfg.cmdline = "console=hvc0 quiet";
		cfg.memory_mib = 256;
		t0 = bench_now();
		if (edera_zone_create_sync(ctx, &cfg, &z) < 0) {
			fprintf(stderr, "zone-bench: %s\n", edera_last_error());
			return 1;
		}
		t_ed[r] = bench_now() - t0;
		edera_zone_destroy_sync(z);

		t0 = bench_now();
		if (system(XL " create -q /tmp/zone-bench.cfg") != 0) {
			fprintf(stderr, "zone-bench: xl create failed\n");
			return 1;
		}
		t_xl[r] = bench_now() - t0;
		if (system(XL " destroy bench-xl") != 0)
			fprintf(stderr, "zone-bench: xl destroy failed\n");
	}
	edera_ctx_close(ctx);
	bench_median(t_ed, ROUNDS);
	bench_median(t_xl, ROUNDS);
	printf("Zone creation (create -> running), Debian 6.1 kernel + busybox initrd, 256 MiB,\n"
	       "median of %d (emulated: only ratios mean anything)\n", ROUNDS);
	printf("  %-28s %8.3f s   %5.2fx of xl's time\n", "libedera edera_zone_create", t_ed[ROUNDS / 2],
	       t_ed[ROUNDS / 2] / t_xl[ROUNDS / 2]);
	printf("  %-28s %8.3f s   1.00x\n", "xl create (reference)", t_xl[ROUNDS / 2]);
	return 0;
}
