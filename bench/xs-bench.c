/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XenStore read throughput in dom0: libedera's client, pipelined (over its
 * read lanes, then on one connection: EDERA_XS_CONNECTIONS=1) and one at a
 * time, against libxenstore's xs_read in a loop, same nodes, same boot.
 * Prints reads per second and the ratio; asserts nothing about timing.
 * Run in the rig: make bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edera/edera.h>

#include "bench.h"
#include <uv.h>
#include <xenstore.h>

#define N 1000
#define ROUNDS 5

static int got, bad;

static void on_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	if (status < 0 || len == 0)
		bad++;
	got++;
}

/* N reads sent at once, then the loop run until all are answered. */
static double pipelined(edera_ctx *ctx)
{
	char path[64];
	double t0 = bench_now();

	got = 0;
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/edera-bench/k%d", i);
		edera_xs_read(ctx, NULL, path, on_read, NULL);
	}
	while (got < N)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	return bench_now() - t0;
}

int main(void)
{
	edera_ctx *ctx, *one;
	struct xs_handle *xsh;
	char path[64];
	double t_pipe[ROUNDS], t_one[ROUNDS], t_sync[ROUNDS], t_xs[ROUNDS];

	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "xs-bench: %s\n", edera_last_error());
		return 1;
	}
	setenv("EDERA_XS_CONNECTIONS", "1", 1);
	if (edera_ctx_open(&one, NULL) < 0) {
		fprintf(stderr, "xs-bench: %s\n", edera_last_error());
		return 1;
	}
	unsetenv("EDERA_XS_CONNECTIONS");
	xsh = xs_open(0);
	if (!xsh) {
		perror("xs-bench: xs_open");
		return 1;
	}
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/edera-bench/k%d", i);
		if (edera_xs_write_sync(ctx, NULL, path, "some-value-of-a-node", 20) < 0) {
			fprintf(stderr, "xs-bench: %s\n", edera_last_error());
			return 1;
		}
	}

	for (int r = 0; r < ROUNDS; r++) {
		double t0;

		t_pipe[r] = pipelined(ctx);
		t_one[r] = pipelined(one);

		t0 = bench_now();
		for (int i = 0; i < N; i++) {
			char *v;
			snprintf(path, sizeof(path), "/edera-bench/k%d", i);
			if (edera_xs_read_sync(ctx, NULL, path, &v, NULL) < 0)
				bad++;
			edera_free(v);
		}
		t_sync[r] = bench_now() - t0;

		t0 = bench_now();
		for (int i = 0; i < N; i++) {
			unsigned int len;
			char *v;
			snprintf(path, sizeof(path), "/edera-bench/k%d", i);
			v = xs_read(xsh, XBT_NULL, path, &len);
			if (!v)
				bad++;
			free(v);
		}
		t_xs[r] = bench_now() - t0;
	}
	edera_xs_rm_sync(ctx, NULL, "/edera-bench");
	xs_close(xsh);
	edera_ctx_close(one);
	edera_ctx_close(ctx);
	if (bad) {
		fprintf(stderr, "xs-bench: %d reads failed\n", bad);
		return 1;
	}

	{
		double p = N / bench_median(t_pipe, ROUNDS), o = N / bench_median(t_one, ROUNDS),
		       s = N / bench_median(t_sync, ROUNDS), x = N / bench_median(t_xs, ROUNDS);
		printf("XenStore reads of %d nodes, median of %d rounds (emulated dom0: only ratios mean anything)\n",
		       N, ROUNDS);
		printf("  %-38s %10.0f reads/s   %5.2fx\n", "libedera, pipelined (async), lanes", p, p / x);
		printf("  %-38s %10.0f reads/s   %5.2fx\n", "libedera, pipelined, one connection", o, o / x);
		printf("  %-38s %10.0f reads/s   %5.2fx\n", "libedera, one at a time (_sync)", s, s / x);
		printf("  %-38s %10.0f reads/s   %5.2fx\n", "libxenstore xs_read loop (reference)", x, 1.0);
	}
	return 0;
}
