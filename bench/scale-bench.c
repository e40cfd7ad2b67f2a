/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A hundred zones: what each running zone costs the host process, and
 * whether the process stays asleep while they idle.  For each console mode
 * (served in-process, the default; and left to xenconsoled), N minimal
 * zones (16 MiB, "reason=wait": up and blocked until destroyed) are
 * created one after another and left running; then:
 *   - creation time of the last five against the first five (medians);
 *   - the process's resident memory (VmRSS) and heap in use (mallinfo2)
 *     per running zone, against the same process with one zone created and
 *     destroyed (kernel parsed, caches warm);
 *   - the loop's wake-ups while they all sit idle for IDLE_S seconds
 *     (every loop turn counted by a check handle), against the same wait
 *     before any zone existed (the turns the timer ending the wait takes);
 *     with consoles served, counted once every console has the guest's
 *     line (its boot output arrives after the creation returns), and the
 *     console notifications and bytes that came in the wait said;
 *   - XenStore watches per zone, and watch events received while idle;
 *   - a probe of xenstored itself: one transaction writing PROBE_NODES
 *     nodes (about what a zone's skeleton writes) under dom0's own
 *     subtree, median of 5, before the zones and with them all running;
 *     and the same nodes written without a transaction, all sent at once
 *     on one connection, then spread over PROBE_CONNS connections (raw
 *     requests on xenstored's socket: the C xenstored handles one request
 *     per connection per turn of its loop).
 * Then `xl create` of the same N zones one after another (the reference
 * for the last five against the first five).
 * N is lowered to what the host's free memory holds, and said.  Nothing is
 * asserted; numbers are printed.
 * Usage (in the rig): scale-bench MINI_KERNEL [N] */
#include <malloc.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#include "bench.h"

#define IDLE_S 10
#define ZONE_MIB 16
#define PROBE_NODES 40
#define PROBE_PATH "/local/domain/0/edera-scale-bench"
#define XL "/usr/lib/xen-4.17/bin/xl"

static edera_ctx *ctx;

static void die(const char *what)
{
	fprintf(stderr, "scale-bench: %s: %s\n", what, edera_last_error());
	exit(1);
}

/* The process's resident set, in KiB. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long)mi.uordblks + (long)mi.hblkhd;
}

static edera_zone *create(const char *name, const char *kernel, int console_mode, double *secs)
{
	edera_zone_config cfg;
	edera_zone *z;
	double t0;

	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = kernel;
	cfg.cmdline = "reason=wait";
	cfg.memory_mib = ZONE_MIB;
	cfg.console_mode = console_mode;
	t0 = bench_now();
	if (edera_zone_create_sync(ctx, &cfg, &z) < 0)
		die("edera_zone_create_sync");
	if (secs)
		*secs = bench_now() - t0;
	return z;
}

static int probe_body(edera_ctx *c, edera_xs_txn *txn, void *data)
{
	char path[96];

	for (int i = 0; i < PROBE_NODES; i++) {
		snprintf(path, sizeof(path), PROBE_PATH "/n%d", i);
		if (edera_xs_write_sync(c, txn, path, "value", 5) < 0)
			return -1;
	}
	return 0;
}

/* Seconds one PROBE_NODES-node transaction takes, median of 5. */
static double xs_probe(void)
{
	double t[5];

	for (int r = 0; r < 5; r++) {
		double t0 = bench_now();

		if (edera_xs_transaction_sync(ctx, probe_body, NULL) < 0)
			die("the XenStore probe's transaction");
		t[r] = bench_now() - t0;
		if (edera_xs_rm_sync(ctx, NULL, PROBE_PATH) < 0)
			die("removing the XenStore probe's nodes");
	}
	return bench_median(t, 5);
}

#define PROBE_CONNS 8

static int xs_socket(void)
{
	const char *env = getenv("XENSTORED_PATH");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s",
	         env && *env ? env : "/run/xenstored/socket");
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("scale-bench: connecting to xenstored's socket");
		exit(1);
	}
	return fd;
}

/* Seconds PROBE_NODES writes (XS_WRITE, no transaction) take when all are
 * sent at once over CONNS connections, until the last reply; median of 5. */
static double xs_probe_raw(int conns)
{
	double t[5];
	int fds[PROBE_CONNS];

	for (int c = 0; c < conns; c++)
		fds[c] = xs_socket();
	for (int r = 0; r < 5; r++) {
		static char out[PROBE_CONNS][PROBE_NODES * 128], in[PROBE_CONNS][65536];
		size_t olen[PROBE_CONNS] = { 0 }, ilen[PROBE_CONNS] = { 0 };
		int left = PROBE_NODES;
		double t0;

		for (int i = 0; i < PROBE_NODES; i++) {
			int c = i % conns;
			char *m = out[c] + olen[c];
			int plen = snprintf(m + 16, 112, PROBE_PATH "/n%d%cvalue", i, 0);
			uint32_t hdr[4] = { 11 /* XS_WRITE */, (uint32_t)i + 1, 0, (uint32_t)plen };

			memcpy(m, hdr, 16);
			olen[c] += 16 + (size_t)plen;
		}
		t0 = bench_now();
		for (int c = 0; c < conns; c++)
			if (write(fds[c], out[c], olen[c]) != (ssize_t)olen[c]) {
				perror("scale-bench: writing to xenstored");
				exit(1);
			}
		while (left > 0) {
			struct pollfd pf[PROBE_CONNS];

			for (int c = 0; c < conns; c++)
				pf[c] = (struct pollfd){ .fd = fds[c], .events = POLLIN };
			if (poll(pf, (nfds_t)conns, 10000) <= 0) {
				fprintf(stderr, "scale-bench: xenstored did not answer\n");
				exit(1);
			}
			for (int c = 0; c < conns; c++) {
				size_t off = 0;
				ssize_t n;

				if (!(pf[c].revents & POLLIN))
					continue;
				n = read(fds[c], in[c] + ilen[c], sizeof(in[c]) - ilen[c]);
				if (n <= 0) {
					fprintf(stderr, "scale-bench: xenstored closed the connection\n");
					exit(1);
				}
				ilen[c] += (size_t)n;
				while (ilen[c] - off >= 16) {
					uint32_t hdr[4];

					memcpy(hdr, in[c] + off, 16);
					if (ilen[c] - off < 16 + hdr[3])
						break;
					if (hdr[0] != 11) {
						fprintf(stderr, "scale-bench: a probe write failed\n");
						exit(1);
					}
					off += 16 + hdr[3];
					left--;
				}
				memmove(in[c], in[c] + off, ilen[c] - off);
				ilen[c] -= off;
			}
		}
		t[r] = bench_now() - t0;
		if (edera_xs_rm_sync(ctx, NULL, PROBE_PATH) < 0)
			die("removing the XenStore probe's nodes");
	}
	for (int c = 0; c < conns; c++)
		close(fds[c]);
	return bench_median(t, 5);
}

static unsigned long turns;

static void count_turn(uv_check_t *h)
{
	turns++;
}

static void idle_over(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Loop turns while nothing is asked of the loop for SECS seconds (the
 * timer ending the wait takes two: the turn it wakes and the last). */
static unsigned long idle_turns(int secs)
{
	uv_loop_t *loop = edera_ctx_loop(ctx);
	uv_check_t check;
	uv_timer_t timer;

	uv_check_init(loop, &check);
	uv_timer_init(loop, &timer);
	uv_check_start(&check, count_turn);
	uv_timer_start(&timer, idle_over, (uint64_t)secs * 1000, 0);
	turns = 0;
	uv_run(loop, UV_RUN_DEFAULT);
	uv_check_stop(&check);
	uv_close((uv_handle_t *)&check, NULL);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return turns;
}

/* Console activity of ZONES in total (served consoles only): notifications
 * handled and bytes read from the guests. */
static void console_totals(edera_zone **zones, int n, uint64_t *notes, uint64_t *bytes)
{
	edera_console_stats st;

	*notes = *bytes = 0;
	for (int i = 0; i < n; i++) {
		edera_console_stats_init(&st);
		if (edera_console_stats_get(zones[i], &st) < 0)
			die("edera_console_stats_get");
		*notes += st.notifications;
		*bytes += st.output_bytes;
	}
}

static void tick(uv_timer_t *t)
{
	(void)t;
}

/* Let the zones settle before their idle time is counted: run the loop
 * until every served console's history ends with the guest's line (its
 * boot output, which reaches the loop after the creation returned), or
 * for at most 10 s.  Returns how many had; *SECS, the time it waited. */
static int settle(edera_zone **zones, int n, double *secs)
{
	uv_loop_t *loop = edera_ctx_loop(ctx);
	uv_timer_t timer;
	double t0 = bench_now();
	int done = 0;

	uv_timer_init(loop, &timer);
	for (;;) {
		char last;

		done = 0;
		for (int i = 0; i < n; i++)
			if (edera_console_history(zones[i], &last, 1) == 1 && last == '\n')
				done++;
		if (done == n || bench_now() - t0 > 10)
			break;
		uv_timer_start(&timer, tick, 20, 0);
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	*secs = bench_now() - t0;
	return done;
}

static void run(const char *kernel, int n, int console_mode, const char *title)
{
	edera_zone **zones = calloc((size_t)n, sizeof(*zones));
	double *t = calloc((size_t)n, sizeof(*t)), first[5], last[5];
	edera_xs_stats st0, st1, st2;
	long rss0, heap0, rss1, heap1;
	double probe0, probe1, one0, one1, many0, many1;
	unsigned long wakes0, wakes;
	uint64_t notes0 = 0, bytes0 = 0, notes1 = 0, bytes1 = 0;
	int settled = -1;
	double settle_s = 0;
	char name[32];

	if (!zones || !t)
		die("out of memory");
	/* warm: the kernel parsed, the context's caches made */
	edera_zone_destroy_sync(create("scale-warm", kernel, console_mode, NULL));
	wakes0 = idle_turns(IDLE_S);
	probe0 = xs_probe();
	one0 = xs_probe_raw(1);
	many0 = xs_probe_raw(PROBE_CONNS);
	malloc_trim(0);
	rss0 = rss_kib();
	heap0 = heap_bytes();
	edera_xs_stats_init(&st0);
	edera_xs_stats_get(ctx, &st0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "scale-%d", i);
		zones[i] = create(name, kernel, console_mode, &t[i]);
	}
	if (console_mode == EDERA_CONSOLE_LIBRARY)
		settled = settle(zones, n, &settle_s);
	malloc_trim(0);
	rss1 = rss_kib();
	heap1 = heap_bytes();
	edera_xs_stats_init(&st1);
	edera_xs_stats_get(ctx, &st1);
	if (console_mode == EDERA_CONSOLE_LIBRARY)
		console_totals(zones, n, &notes0, &bytes0);
	wakes = idle_turns(IDLE_S);
	if (console_mode == EDERA_CONSOLE_LIBRARY)
		console_totals(zones, n, &notes1, &bytes1);
	edera_xs_stats_init(&st2);
	edera_xs_stats_get(ctx, &st2);
	probe1 = xs_probe();
	one1 = xs_probe_raw(1);
	many1 = xs_probe_raw(PROBE_CONNS);
	for (int i = 0; i < 5; i++) {
		first[i] = t[i];
		last[i] = t[n - 5 + i];
	}
	printf("%s: %d minimal zones (%d MiB) created one after another, left running\n", title, n,
	       ZONE_MIB);
	printf("  creation, median of zones 1-5 -> %d-%d: %.3f s -> %.3f s (%.2fx)\n", n - 4, n,
	       bench_median(first, 5), bench_median(last, 5),
	       bench_median(last, 5) / bench_median(first, 5));
	printf("  host process per running zone: RSS %.1f KiB, heap %.1f KiB "
	       "(RSS %ld -> %ld KiB, heap %ld -> %ld KiB)\n",
	       (double)(rss1 - rss0) / n, (double)(heap1 - heap0) / 1024.0 / n, rss0, rss1,
	       heap0 / 1024, heap1 / 1024);
	printf("  XenStore watches: %u for %d zones (%.2f per zone; %u before them)\n",
	       st1.watches, n, (double)(st1.watches - st0.watches) / n, st0.watches);
	printf("  idle for %d s: %lu loop turns (%lu before the zones existed): %.2f wake-ups "
	       "per second for them; %llu watch events, %llu requests\n",
	       IDLE_S, wakes, wakes0, ((double)wakes - (double)wakes0) / IDLE_S,
	       (unsigned long long)(st2.watch_events - st1.watch_events),
	       (unsigned long long)(st2.requests - st1.requests));
	if (settled >= 0)
		printf("    (counted once %d of %d consoles had their guest's line (waited %.3f s); "
		       "in the wait: %llu console notifications, %llu bytes)\n",
		       settled, n, settle_s,
		       (unsigned long long)(notes1 - notes0), (unsigned long long)(bytes1 - bytes0));
	printf("  xenstored: a %d-node transaction takes %.1f ms with no zone, %.1f ms with %d "
	       "(%.2fx)\n", PROBE_NODES, probe0 * 1e3, probe1 * 1e3, n, probe1 / probe0);
	printf("  xenstored: the same %d writes without a transaction, sent at once: on one "
	       "connection %.1f ms -> %.1f ms (%.2fx); over %d connections %.1f ms -> %.1f ms "
	       "(%.2fx)\n", PROBE_NODES, one0 * 1e3, one1 * 1e3, one1 / one0, PROBE_CONNS,
	       many0 * 1e3, many1 * 1e3, many1 / many0);
	for (int i = 0; i < n; i++)
		if (edera_zone_destroy_sync(zones[i]) < 0)
			die("edera_zone_destroy_sync");
	free(zones);
	free(t);
}

/* The reference: `xl create` of N such zones one after another. */
static void xl_run(const char *kernel, int n)
{
	double *t = calloc((size_t)n, sizeof(*t)), first[5], last[5];
	char cmd[256], name[32], cfgpath[64];

	if (!t)
		die("out of memory");
	snprintf(cfgpath, sizeof(cfgpath), "/tmp/scale-bench-xl.cfg");
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(cfgpath, "w");
		double t0;

		if (!f)
			die(cfgpath);
		fprintf(f, "name=\"scale-xl-%d\"\ntype=\"pv\"\nkernel=\"%s\"\n"
		        "extra=\"reason=wait\"\nmemory=%d\nvcpus=1\n", i, kernel, ZONE_MIB);
		fclose(f);
		snprintf(cmd, sizeof(cmd), XL " create -q %s", cfgpath);
		t0 = bench_now();
		if (system(cmd) != 0) {
			fprintf(stderr, "scale-bench: %s failed (zone %d)\n", cmd, i);
			n = i;
			break;
		}
		t[i] = bench_now() - t0;
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "scale-xl-%d", i);
		snprintf(cmd, sizeof(cmd), XL " destroy %s", name);
		if (system(cmd) != 0)
			fprintf(stderr, "scale-bench: %s failed\n", cmd);
	}
	if (n < 10) {
		free(t);
		die("xl created too few zones to compare");
	}
	for (int i = 0; i < 5; i++) {
		first[i] = t[i];
		last[i] = t[n - 5 + i];
	}
	printf("xl create (reference): %d minimal zones one after another, left running\n", n);
	printf("  creation, median of zones 1-5 -> %d-%d: %.3f s -> %.3f s (%.2fx)\n", n - 4, n,
	       bench_median(first, 5), bench_median(last, 5),
	       bench_median(last, 5) / bench_median(first, 5));
	free(t);
}

int main(int argc, char **argv)
{
	edera_host_info hi;
	int n = argc > 2 ? atoi(argv[2]) : 100, fits;

	if (argc < 2 || n < 5) {
		fprintf(stderr, "usage: scale-bench MINI_KERNEL [N (at least 5; default 100)]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0)
		die("edera_ctx_open");
	edera_host_info_init(&hi);
	if (edera_host_info_get(ctx, &hi) < 0)
		die("edera_host_info_get");
	/* each zone: its memory and about 1 MiB more (page tables, p2m, rings) */
	fits = (int)((hi.free_memory_kib / 1024 - 64) / (ZONE_MIB + 1));
	printf("Zones at scale (emulated machine; %llu MiB free)\n",
	       (unsigned long long)hi.free_memory_kib / 1024);
	if (fits < n) {
		printf("  (the host's free memory holds %d such zones, not %d: %d it is)\n", fits, n,
		       fits);
		n = fits;
	}
	if (n < 5)
		die("not enough free memory for 5 zones");
	run(argv[1], n, EDERA_CONSOLE_LIBRARY, "Consoles served in-process (the default)");
	run(argv[1], n, EDERA_CONSOLE_XENCONSOLED, "Consoles left to xenconsoled");
	xl_run(argv[1], n);
	edera_ctx_close(ctx);
	return 0;
}
