/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Console throughput, guest to host: the minimal kernel writes MIB MiB to
 * its PV console as fast as the backend takes it, then powers off.  The same
 * zone is run with its console served by libedera in-process (writing a log
 * file) and by xenconsoled (writing its log), alternately, in the same rig
 * boot; the time from start to exit gives MiB/s.  Printed, not asserted.
 *   console-bench MINI_KERNEL [MIB [RUNS]]
 * Run in dom0 with xenconsoled --log=guest (make bench does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#include "bench.h"

#define LOGDIR "/var/log/xen/console"

static void on_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	*(int *)data = 1;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* One run: seconds from start to exit, or a negative value on failure. */
static double run(edera_ctx *ctx, const char *kernel, unsigned long bytes, int mode,
                  const char *name)
{
	edera_zone_config cfg;
	edera_zone *z;
	char cmdline[96], log[256];
	int exited = 0;
	double t0, t;
	long long size = -1;

	snprintf(cmdline, sizeof(cmdline), "flood=%lu reason=poweroff", bytes);
	snprintf(log, sizeof(log), mode == EDERA_CONSOLE_LIBRARY ? LOGDIR "/edera-%s.log"
	                                                         : LOGDIR "/guest-%s.log",
	         name);
	unlink(log);
	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = kernel;
	cfg.cmdline = cmdline;
	cfg.memory_mib = 16;
	cfg.console_mode = mode;
	cfg.console_log = mode == EDERA_CONSOLE_LIBRARY ? log : NULL;
	/* the whole run in one file (no rotation) */
	cfg.console_log_max_kib = (uint32_t)(bytes / 1024 + 1024);
	cfg.start_paused = 1;
	if (edera_zone_create_sync(ctx, &cfg, &z) < 0) {
		fprintf(stderr, "console-bench: %s\n", edera_last_error());
		return -1;
	}
	edera_zone_on_exit(z, on_exit_cb, &exited);
	t0 = bench_now();
	edera_zone_unpause(z);
	while (!exited)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	t = bench_now() - t0;
	edera_zone_destroy_sync(z);
	/* xenconsoled may still be writing its log: give it a moment */
	for (int i = 0; i < 50 && (size = file_size(log)) < (long long)bytes; i++)
		usleep(100000);
	if (size < (long long)bytes) {
		fprintf(stderr, "console-bench: %s holds %lld of %lu bytes\n", log, size, bytes);
		return -1;
	}
	unlink(log);
	return t;
}

int main(int argc, char **argv)
{
	edera_ctx *ctx;
	unsigned long mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
	int runs = argc > 3 ? atoi(argv[3]) : 3;
	double lib[16], xcd[16], ml, mx;

	if (argc < 2 || mib == 0 || runs < 1 || runs > 16) {
		fprintf(stderr, "usage: console-bench MINI_KERNEL [MIB [RUNS (1-16)]]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "console-bench: %s\n", edera_last_error());
		return 1;
	}
	for (int i = 0; i < runs; i++) {
		lib[i] = run(ctx, argv[1], mib << 20, EDERA_CONSOLE_LIBRARY, "edera-cbench-lib");
		xcd[i] = run(ctx, argv[1], mib << 20, EDERA_CONSOLE_XENCONSOLED, "edera-cbench-xcd");
		if (lib[i] < 0 || xcd[i] < 0) {
			edera_ctx_close(ctx);
			return 1;
		}
		printf("  run %d: libedera %.2f s, xenconsoled %.2f s\n", i + 1, lib[i], xcd[i]);
	}
	ml = bench_median(lib, runs);
	mx = bench_median(xcd, runs);
	printf("console throughput, guest -> host log, %lu MiB (median of %d):\n", mib, runs);
	printf("  libedera in-process  %8.2f MiB/s\n", (double)mib / ml);
	printf("  xenconsoled          %8.2f MiB/s\n", (double)mib / mx);
	printf("  ratio (libedera / xenconsoled): %.2fx\n", mx / ml);
	edera_ctx_close(ctx);
	return 0;
}
