/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a hostile neighbour costs a zone's console: the echo latency of a
 * Linux zone (a line typed, its echo back) alone, then beside a minimal
 * zone that notifies its console's event channel in a tight loop, then
 * beside one that floods its console with output.  Medians and the 90th
 * percentile of each, the ratio against the quiet run, and how busy the
 * loop thread was.  Run in dom0 (make bench does):
 *
 *   flood-bench KERNEL CONSOLE-INITRD MINI-KERNEL [ROUND-TRIPS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edera/edera.h>
#include <uv.h>

#include "bench.h"

struct out {
	char buf[8192];
	size_t len;
};

static void collect(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	struct out *o = data;

	/* keep the newest bytes: the echo searched for is at the end */
	if (len >= sizeof(o->buf) - 1) {
		bytes += len - (sizeof(o->buf) - 1);
		len = sizeof(o->buf) - 1;
	}
	if (o->len + len > sizeof(o->buf) - 1) {
		size_t drop = o->len + len - (sizeof(o->buf) - 1);

		memmove(o->buf, o->buf + drop, o->len - drop);
		o->len -= drop;
	}
	memcpy(o->buf + o->len, bytes, len);
	o->len += len;
	o->buf[o->len] = '\0';
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the loop until WANT shows up in O (true) or SECONDS pass. */
static int wait_for(edera_ctx *ctx, struct out *o, const char *want, double seconds)
{
	double end = bench_now() + seconds;

	while (!strstr(o->buf, want)) {
		if (bench_now() > end)
			return 0;
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	}
	return 1;
}

struct phase {
	const char *name;
	double median, p90, busy;
};

static int measure(edera_ctx *ctx, edera_zone *z, struct out *o, int n, struct phase *ph)
{
	double *lat = calloc((size_t)n, sizeof(*lat)), t0, c0;
	static int seq;

	if (!lat)
		return -1;
	t0 = bench_now();
	c0 = thread_cpu();
	for (int i = 0; i < n; i++) {
		char line[32], want[40];
		double t;

		snprintf(line, sizeof(line), "q%d\n", ++seq);
		snprintf(want, sizeof(want), "<q%d>", seq);
		t = bench_now();
		if (edera_console_write(z, line, strlen(line)) != (long)strlen(line) ||
		    !wait_for(ctx, o, want, 30)) {
			fprintf(stderr, "flood-bench: no echo of %s within 30 s (%s)\n", want,
			        ph->name);
			free(lat);
			return -1;
		}
		lat[i] = bench_now() - t;
	}
	ph->busy = (thread_cpu() - c0) / (bench_now() - t0);
	ph->median = bench_median(lat, n);
	ph->p90 = lat[n * 9 / 10];
	free(lat);
	return 0;
}

static edera_zone *mini(edera_ctx *ctx, const char *name, const char *kernel, const char *cmdline)
{
	edera_zone_config cfg;
	edera_zone *z = NULL;

	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = kernel;
	cfg.cmdline = cmdline;
	cfg.memory_mib = 16;
	cfg.console_history_kib = 16;
	if (edera_zone_create_sync(ctx, &cfg, &z) < 0)
		fprintf(stderr, "flood-bench: %s: %s\n", name, edera_last_error());
	return z;
}

int main(int argc, char **argv)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_zone *echo = NULL, *noisy;
	struct out o = { .len = 0 };
	struct phase ph[3] = { { .name = "alone" }, { .name = "beside a notifying zone" },
	                       { .name = "beside a zone flooding its console" } };
	edera_console_stats st;
	int n = argc > 4 ? atoi(argv[4]) : 200, rc = 1;

	if (argc < 4 || n < 10) {
		fprintf(stderr, "usage: flood-bench KERNEL CONSOLE-INITRD MINI-KERNEL [ROUND-TRIPS>=10]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "flood-bench: %s\n", edera_last_error());
		return 1;
	}
	edera_zone_config_init(&cfg);
	cfg.name = "bench-echo";
	cfg.kernel = argv[1];
	cfg.initrd = argv[2];
	cfg.cmdline = "console=hvc0 quiet loglevel=0 edera.test.args=echo";
	cfg.memory_mib = 256;
	if (edera_zone_create_sync(ctx, &cfg, &echo) < 0 ||
	    edera_console_subscribe(echo, EDERA_CONSOLE_REPLAY, collect, &o, NULL) < 0) {
		fprintf(stderr, "flood-bench: %s\n", edera_last_error());
		goto out;
	}
	if (!wait_for(ctx, &o, "EDERA-ECHO-READY", 300)) {
		fprintf(stderr, "flood-bench: the echo zone never got ready\n");
		goto out;
	}
	if (measure(ctx, echo, &o, n, &ph[0]) < 0)
		goto out;
	noisy = mini(ctx, "bench-notify", argv[3], "notify reason=wait");
	if (!noisy || measure(ctx, echo, &o, n, &ph[1]) < 0)
		goto out;
	edera_console_stats_init(&st);
	edera_console_stats_get(noisy, &st);
	edera_zone_destroy_sync(noisy);
	noisy = mini(ctx, "bench-flood", argv[3], "flood=0 reason=wait");
	if (!noisy || measure(ctx, echo, &o, n, &ph[2]) < 0)
		goto out;
	edera_zone_destroy_sync(noisy);

	printf("console echo latency of a Linux zone, %d round trips each (ms):\n", n);
	printf("  %-38s %8s %8s %8s %10s\n", "", "median", "p90", "ratio", "loop busy");
	for (int i = 0; i < 3; i++)
		printf("  %-38s %8.2f %8.2f %7.2fx %9.0f%%\n", ph[i].name, ph[i].median * 1e3,
		       ph[i].p90 * 1e3, ph[i].median / ph[0].median, ph[i].busy * 100);
	printf("  the notifying zone: %llu notifications handled, held %llu times for its budget\n",
	       (unsigned long long)st.notifications, (unsigned long long)st.notifications_held);
	rc = 0;
out:
	if (echo)
		edera_zone_destroy_sync(echo);
	edera_ctx_close(ctx);
	return rc;
}
