/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The C API's side of the Python bindings' benchmark (bench/py-bench.py
 * runs this, then the same work from Python, in the same rig boot, and
 * prints the ratios):
 *   create   create -> running of the minimal kernel (16 MiB, waiting),
 *            then destroyed: median of ROUNDS, seconds
 *   console  the minimal kernel writes MIB MiB to its console, served
 *            in-process, counted by a subscriber: MiB/s from start to its
 *            exit with every byte counted, median of 3
 *   reads    10,000 XenStore reads of one node, one after another
 *            (edera_xs_read_sync), seconds
 *   reads-pipelined
 *            the same 10,000 sent at once (edera_xs_read), seconds
 * (bench/go-bench compares the Go bindings with these.)
 * Prints "create SECONDS", "console MIBPS", "reads SECONDS" and
 * "reads-pipelined SECONDS"; asserts nothing.
 *   api-bench MINI_KERNEL [ROUNDS [MIB]] */
#include <stdio.h>
#include <stdlib.h>

#include <edera/edera.h>
#include <uv.h>

#include "bench.h"

static void die(const char *what)
{
	fprintf(stderr, "api-bench: %s: %s\n", what, edera_last_error());
	exit(1);
}

struct flood {
	unsigned long long bytes;
	int exited;
};

static void on_output(edera_ctx *ctx, edera_zone *zone, const char *data, size_t len, void *arg)
{
	((struct flood *)arg)->bytes += len;
}

static void on_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *arg)
{
	((struct flood *)arg)->exited = 1;
}

static double console_run(edera_ctx *ctx, const char *kernel, unsigned long bytes)
{
	struct flood fl = { 0 };
	edera_zone_config cfg;
	edera_zone *z;
	char cmdline[96];
	double t0;

	snprintf(cmdline, sizeof(cmdline), "flood=%lu reason=poweroff", bytes);
	edera_zone_config_init(&cfg);
	cfg.name = "api-bench-console";
	cfg.kernel = kernel;
	cfg.cmdline = cmdline;
	cfg.memory_mib = 16;
	cfg.start_paused = 1;
	t0 = bench_now();
	if (edera_zone_create_sync(ctx, &cfg, &z) < 0)
		die("creating the console zone");
	if (edera_console_subscribe(z, 0, on_output, &fl, NULL) < 0)
		die("subscribing");
	edera_zone_on_exit(z, on_exit_cb, &fl);
	if (edera_zone_unpause(z) < 0)
		die("unpausing");
	while (!fl.exited || fl.bytes < bytes)
		if (uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE) == 0 && !fl.exited)
			die("the loop ran dry");
	t0 = bench_now() - t0;
	if (edera_zone_destroy_sync(z) < 0)
		die("destroying the console zone");
	return (double)bytes / (1 << 20) / t0;
}

#define READS 10000
#define READ_NODE "/local/domain/0/edera-api-bench"

static void on_read(edera_ctx *ctx, int status, const char *value, size_t len, void *arg)
{
	int *left = arg;

	if (status < 0)
		die("a pipelined read");
	(*left)--;
}

static void reads_run(edera_ctx *ctx, double *seq, double *pipelined)
{
	double t0;
	int left = READS;

	if (edera_xs_write_sync(ctx, NULL, READ_NODE, "value", 5) < 0)
		die("writing the node read");
	t0 = bench_now();
	for (int i = 0; i < READS; i++) {
		char *v;
		size_t len;

		if (edera_xs_read_sync(ctx, NULL, READ_NODE, &v, &len) < 0)
			die("a read");
		edera_free(v);
	}
	*seq = bench_now() - t0;
	t0 = bench_now();
	for (int i = 0; i < READS; i++)
		if (edera_xs_read(ctx, NULL, READ_NODE, on_read, &left) < 0)
			die("sending a read");
	while (left > 0)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	*pipelined = bench_now() - t0;
	edera_xs_rm_sync(ctx, NULL, READ_NODE);
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	unsigned long mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 4;
	double t[32], c[3], seq, pipelined;
	edera_ctx *ctx;

	if (argc < 2 || rounds < 1 || rounds > 32 || mib < 1) {
		fprintf(stderr, "usage: api-bench MINI_KERNEL [ROUNDS (1-32) [MIB]]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0)
		die("opening a context");
	for (int i = 0; i < rounds; i++) {
		edera_zone_config cfg;
		edera_zone *z;
		double t0;

		edera_zone_config_init(&cfg);
		cfg.name = "api-bench";
		cfg.kernel = argv[1];
		cfg.cmdline = "reason=wait";
		cfg.memory_mib = 16;
		t0 = bench_now();
		if (edera_zone_create_sync(ctx, &cfg, &z) < 0)
			die("creating a zone");
		t[i] = bench_now() - t0;
		if (edera_zone_destroy_sync(z) < 0)
			die("destroying a zone");
	}
	for (int i = 0; i < 3; i++)
		c[i] = console_run(ctx, argv[1], mib << 20);
	reads_run(ctx, &seq, &pipelined);
	printf("create %.4f\nconsole %.2f\nreads %.4f\nreads-pipelined %.4f\n",
	       bench_median(t, rounds), bench_median(c, 3), seq, pipelined);
	edera_ctx_close(ctx);
	return 0;
}
