/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run-time resources, measured on a Linux zone running tests/guest/res-guest:
 *   - balloon-down of 128 MiB (256 -> 128), until Xen counts the zone's
 *     pages at the target: libedera's edera_zone_set_memory against
 *     `xl mem-set` on a domain xl created with the same kernel and initrd
 *     (Xen polled the same way for both), in the same rig boot;
 *   - event-channel ping-pong round trips per second (a shared page carries
 *     the ping and its echo);
 *   - shared-page copy throughput: the host writes 256 KiB into pages it
 *     granted, notifies, the guest copies them out and notifies back; the
 *     guest's hash of everything is checked against the host's.
 * Printed, not asserted.
 *   resource-bench KERNEL RES_INITRD [RUNS]
 * Run in dom0 (make bench does), with xen-gntalloc loaded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>
#include <xenctrl.h>

#include "bench.h"

#define XL "/usr/lib/xen-4.17/bin/xl"
#define CMDLINE "console=hvc0 quiet loglevel=0"
#define PONGS 5000
#define SINK_PAGES 64
#define SINK_ROUNDS 400
/* after the guest's program is up, before ballooning: its boot settles */
#define SETTLE_MS 3000

struct bench {
	edera_ctx *ctx;
	edera_zone *zone;
	char out[8192];
	size_t len;
	/* the channel's state */
	edera_evtchn *ch;
	int events;
	uint8_t *buf;
	const uint8_t *src;
	size_t buf_len;
	uint64_t round, rounds;
	int pong; /* ping-pong, or the copy rounds */
	int bad;
	uint32_t fnv;
};

static void on_output(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	struct bench *b = data;

	if (len > sizeof(b->out) - 1 - b->len)
		b->len = 0;
	if (len > sizeof(b->out) - 1)
		len = sizeof(b->out) - 1;
	memcpy(b->out + b->len, bytes, len);
	b->len += len;
	b->out[b->len] = '\0';
}

static int run_until_text(struct bench *b, const char *want, double seconds)
{
	uv_loop_t *loop = edera_ctx_loop(b->ctx);
	double end = bench_now() + seconds;

	while (!strstr(b->out, want)) {
		if (bench_now() > end)
			return -1;
		uv_run(loop, UV_RUN_NOWAIT);
		uv_sleep(1);
	}
	return 0;
}

static int type_line(struct bench *b, const char *line)
{
	b->len = 0;
	b->out[0] = '\0';
	return edera_console_write(b->zone, line, strlen(line)) == (int)strlen(line) ? 0 : -1;
}

/* ---- ballooning ------------------------------------------------------------- */

static uint64_t xen_kib(xc_interface *xch, uint32_t domid)
{
	xc_dominfo_t di;

	if (xc_domain_getinfo(xch, domid, 1, &di) != 1 || di.domid != domid)
		return 0;
	return (uint64_t)di.nr_pages * 4;
}

/* Until the domain holds MIB (within libedera's tolerance: 1 MiB, or 1%). */
static int wait_kib(xc_interface *xch, uint32_t domid, uint64_t mib, double seconds)
{
	uint64_t want = mib * 1024, tol = want / 100 > 1024 ? want / 100 : 1024;
	double end = bench_now() + seconds;

	while (bench_now() < end) {
		uint64_t cur = xen_kib(xch, domid);

		if (cur + tol >= want && cur <= want + tol)
			return 0;
		uv_sleep(50);
	}
	return -1;
}

static double balloon_edera(struct bench *b, int runs)
{
	double t[16];

	uv_sleep(SETTLE_MS);
	for (int r = 0; r < runs; r++) {
		double t0 = bench_now();

		if (edera_zone_set_memory_sync(b->zone, 128, 120000, NULL) < 0)
			return -1;
		t[r] = bench_now() - t0;
		if (edera_zone_set_memory_sync(b->zone, 256, 120000, NULL) < 0)
			return -1;
	}
	return bench_median(t, runs);
}

/* xl's domain gets the console to xenconsoled, so its boot is not seen
 * here: it is given the time the same guest took to boot as a zone. */
static double balloon_xl(const char *kernel, const char *initrd, int runs, double boot)
{
	xc_interface *xch = xc_interface_open(NULL, NULL, 0);
	FILE *f = fopen("/tmp/edera-bench-res.cfg", "w");
	double t[16], result = -1;
	unsigned int domid = 0;
	char line[64];

	if (!xch || !f)
		goto out;
	fprintf(f,
	        "name = \"edera-bench-res\"\ntype = \"pv\"\nkernel = \"%s\"\nramdisk = \"%s\"\n"
	        "extra = \"" CMDLINE "\"\nmemory = 256\nmaxmem = 256\n",
	        kernel, initrd);
	fclose(f);
	f = NULL;
	if (system(XL " create -q /tmp/edera-bench-res.cfg") != 0)
		goto out;
	f = popen(XL " domid edera-bench-res", "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%u", &domid) != 1)
		goto out;
	uv_sleep((unsigned int)(boot * 1000) + SETTLE_MS);
	for (int r = 0; r < runs; r++) {
		double t0 = bench_now();

		if (system(XL " mem-set edera-bench-res 128m") != 0 ||
		    wait_kib(xch, domid, 128, 120) < 0)
			goto out;
		t[r] = bench_now() - t0;
		if (system(XL " mem-set edera-bench-res 256m") != 0 ||
		    wait_kib(xch, domid, 256, 120) < 0)
			goto out;
	}
	result = bench_median(t, runs);
out:
	if (f)
		pclose(f);
	if (domid)
		(void)!system(XL " destroy edera-bench-res");
	if (xch)
		xc_interface_close(xch);
	return result;
}

/* ---- the channel -------------------------------------------------------------- */

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void on_notify(edera_ctx *ctx, edera_evtchn *ch, void *data)
{
	struct bench *b = data;

	b->events++;
	if (b->round == 0 || b->round > b->rounds)
		return; /* the guest's notification after it mapped */
	if (b->pong) {
		volatile uint64_t *page = (volatile uint64_t *)b->buf;

		if (page[1] != b->round)
			b->bad++;
		if (b->round++ == b->rounds)
			return;
		page[0] = b->round;
	} else {
		/* the guest has its copy of the last round: write the next */
		if (b->round++ == b->rounds)
			return;
		memcpy(b->buf, b->src + (b->round % 4) * 4096, b->buf_len);
		b->fnv = fnv1a(b->fnv, b->buf, b->buf_len);
	}
	edera_evtchn_notify(ch);
}

/* Share N pages, have the guest map them and bind the channel. */
static int channel(struct bench *b, size_t pages, edera_share **share)
{
	char line[1024];
	size_t off;

	b->events = 0;
	b->round = 0;
	if (edera_share_pages(b->zone, pages, 0, share) < 0 ||
	    edera_evtchn_alloc_unbound(b->zone, on_notify, b, &b->ch) < 0)
		return -1;
	b->buf = edera_share_addr(*share);
	b->buf_len = pages * EDERA_PAGE_SIZE;
	off = (size_t)snprintf(line, sizeof(line), "map 0 %u - ", edera_evtchn_port(b->ch));
	for (size_t i = 0; i < pages; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%u", i ? "," : "",
		                        edera_share_refs(*share)[i]);
	snprintf(line + off, sizeof(line) - off, "\n");
	if (type_line(b, line) < 0 || run_until_text(b, "RES MAPPED ok", 60) < 0)
		return -1;
	while (b->events == 0)
		uv_run(edera_ctx_loop(b->ctx), UV_RUN_ONCE);
	return 0;
}

static void unchannel(struct bench *b, edera_share *share)
{
	type_line(b, "unmap\n");
	run_until_text(b, "RES UNMAPPED", 30);
	edera_evtchn_close(b->ch);
	edera_share_release(share);
}

static double pingpong(struct bench *b)
{
	edera_share *share = NULL;
	char line[64];
	double t0, t;

	if (channel(b, 1, &share) < 0)
		return -1;
	b->pong = 1;
	b->rounds = PONGS;
	b->bad = 0;
	snprintf(line, sizeof(line), "pong %d\n", PONGS);
	if (type_line(b, line) < 0)
		return -1;
	t0 = bench_now();
	b->round = 1;
	((volatile uint64_t *)b->buf)[0] = 1;
	edera_evtchn_notify(b->ch);
	while (b->round <= b->rounds && !strstr(b->out, "RES PONG"))
		uv_run(edera_ctx_loop(b->ctx), UV_RUN_ONCE);
	t = bench_now() - t0;
	unchannel(b, share);
	if (b->round <= b->rounds || b->bad) {
		fprintf(stderr, "resource-bench: ping-pong stopped at %" PRIu64 " (%d bad)\n",
		        b->round, b->bad);
		return -1;
	}
	return PONGS / t;
}

static double copy_throughput(struct bench *b, double *local)
{
	edera_share *share = NULL;
	static uint8_t src[SINK_PAGES * 4096 + 4 * 4096];
	char line[64];
	unsigned int done, hash;
	double t0, t;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 2654435761u >> 13);
	if (channel(b, SINK_PAGES, &share) < 0)
		return -1;
	b->pong = 0;
	b->src = src;
	b->rounds = SINK_ROUNDS;
	snprintf(line, sizeof(line), "sink %d\n", SINK_ROUNDS);
	if (type_line(b, line) < 0)
		return -1;
	t0 = bench_now();
	b->round = 1;
	memcpy(b->buf, src + 4096, b->buf_len);
	b->fnv = fnv1a(2166136261u, b->buf, b->buf_len);
	edera_evtchn_notify(b->ch);
	if (run_until_text(b, "RES SINK", 300) < 0 || run_until_text(b, "\n", 5) < 0)
		return -1;
	t = bench_now() - t0;
	if (sscanf(strstr(b->out, "RES SINK"), "RES SINK %u %x", &done, &hash) != 2 ||
	    done != SINK_ROUNDS || hash != b->fnv) {
		fprintf(stderr, "resource-bench: the guest saw other bytes: %s (host %08x)\n",
		        strstr(b->out, "RES SINK"), b->fnv);
		return -1;
	}
	/* for scale: the same copies into the same pages, host only */
	t0 = bench_now();
	for (int r = 0; r < SINK_ROUNDS; r++) {
		memcpy(b->buf, src + (r % 4) * 4096, b->buf_len);
		b->fnv = fnv1a(b->fnv, b->buf, 64);
	}
	*local = SINK_ROUNDS * (double)b->buf_len / (1 << 20) / (bench_now() - t0);
	unchannel(b, share);
	return SINK_ROUNDS * (double)b->buf_len / (1 << 20) / t;
}

int main(int argc, char **argv)
{
	static struct bench b;
	edera_zone_config cfg;
	double down, down_xl, rate, mibs, local = 0, boot;
	int runs = argc > 3 ? atoi(argv[3]) : 3;

	if (argc < 3 || runs < 1 || runs > 16) {
		fprintf(stderr, "usage: resource-bench KERNEL RES_INITRD [RUNS (1-16)]\n");
		return 2;
	}
	if (edera_ctx_open(&b.ctx, NULL) < 0) {
		fprintf(stderr, "resource-bench: %s\n", edera_last_error());
		return 1;
	}
	edera_zone_config_init(&cfg);
	cfg.name = "bench-resource";
	cfg.kernel = argv[1];
	cfg.initrd = argv[2];
	cfg.cmdline = CMDLINE;
	cfg.memory_mib = 256;
	boot = bench_now();
	if (edera_zone_create_sync(b.ctx, &cfg, &b.zone) < 0 ||
	    edera_console_subscribe(b.zone, EDERA_CONSOLE_REPLAY, on_output, &b, NULL) < 0 ||
	    run_until_text(&b, "RES READY", 120) < 0) {
		fprintf(stderr, "resource-bench: zone: %s\n", edera_last_error());
		return 1;
	}
	boot = bench_now() - boot;
	down = balloon_edera(&b, runs);
	rate = pingpong(&b);
	mibs = copy_throughput(&b, &local);
	edera_zone_destroy_sync(b.zone);
	down_xl = balloon_xl(argv[1], argv[2], runs, boot);
	edera_ctx_close(b.ctx);

	printf("balloon down 128 MiB (256 -> 128, until Xen counts it), median of %d:\n", runs);
	printf("  libedera %.2f s   xl mem-set %.2f s   ratio %.2fx\n", down, down_xl,
	       down > 0 && down_xl > 0 ? down / down_xl : 0);
	printf("event-channel ping-pong: %.0f round trips/s (%d rounds, a shared page echoed)\n",
	       rate, PONGS);
	printf("shared-page copy, host -> zone, %d KiB per round: %.1f MiB/s "
	       "(host-only copy into the same pages: %.0f MiB/s)\n",
	       SINK_PAGES * 4, mibs, local);
	return down > 0 && down_xl > 0 && rate > 0 && mibs > 0 ? 0 : 1;
}
