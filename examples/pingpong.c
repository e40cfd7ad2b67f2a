/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host <-> zone channel built from the raw primitives: one shared page
 * and one event channel.  The host writes a ping number into the page and
 * notifies; the zone copies it next to it and notifies back; the host checks
 * the echo and sends the next — ROUNDS times, then prints the rate.
 *
 *   ./pingpong [--rounds N] KERNEL INITRD [CMDLINE]
 *
 * The zone side is tests/guest/res-guest (its "map" and "pong" commands,
 * typed on its console); INITRD must run it (make check builds one:
 * tests/guest/res.cpio.gz).  In a real system the grant reference and port
 * would travel through XenStore, and the zone side would be a driver or a
 * program using /dev/xen/gntdev and /dev/xen/evtchn, as res-guest does.
 * Run it in dom0, as root (module xen-gntalloc, for dom0 to grant pages).
 * Build against an installed libedera:
 *   cc pingpong.c $(pkg-config --cflags --libs edera libuv) -o pingpong */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

struct state {
	edera_ctx *ctx;
	char out[8192]; /* the zone's console output, newest part */
	size_t len;
	volatile uint64_t *page; /* [0] ping, [1] the zone's echo */
	edera_evtchn *ch;
	int events;        /* notifications seen */
	uint64_t round, rounds;
	int done, bad;
};

static void on_output(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	struct state *st = data;

	if (len > sizeof(st->out) - 1 - st->len)
		st->len = 0; /* only recent lines matter here */
	if (len > sizeof(st->out) - 1)
		len = sizeof(st->out) - 1;
	memcpy(st->out + st->len, bytes, len);
	st->len += len;
	st->out[st->len] = '\0';
}

static void on_notify(edera_ctx *ctx, edera_evtchn *ch, void *data)
{
	struct state *st = data;

	st->events++;
	if (st->round == 0 || st->done)
		return; /* the zone's hello after it mapped the page */
	if (st->page[1] != st->round)
		st->bad++;
	if (st->round == st->rounds) {
		st->done = 1;
		return;
	}
	st->page[0] = ++st->round;
	edera_evtchn_notify(ch);
}

/* Run the loop until the zone's console shows WANT (or SECONDS pass). */
static int await_text(struct state *st, const char *want, double seconds)
{
	uv_loop_t *loop = edera_ctx_loop(st->ctx);
	uint64_t end = uv_now(loop) + (uint64_t)(seconds * 1000);

	while (!strstr(st->out, want)) {
		if (uv_now(loop) > end)
			return -1;
		uv_run(loop, UV_RUN_ONCE);
		uv_update_time(loop);
	}
	return 0;
}

static int type_line(struct state *st, edera_zone *z, const char *line)
{
	st->len = 0;
	st->out[0] = '\0';
	/* short lines fit the console's input queue at once */
	return edera_console_write(z, line, strlen(line)) == (int)strlen(line) ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct state st;
	edera_zone_config cfg;
	edera_share *share = NULL;
	edera_zone *zone = NULL;
	edera_ctx *ctx;
	char line[128];
	uint64_t t0;
	int a = 1, rc = 1;

	st.rounds = 10000;
	if (a + 1 < argc && strcmp(argv[a], "--rounds") == 0) {
		st.rounds = strtoull(argv[a + 1], NULL, 10);
		a += 2;
	}
	if (argc - a < 2 || st.rounds == 0) {
		fprintf(stderr, "usage: pingpong [--rounds N] KERNEL INITRD [CMDLINE]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "pingpong: %s\n", edera_last_error());
		return 1;
	}
	st.ctx = ctx;
	edera_zone_config_init(&cfg);
	cfg.name = "pingpong-example";
	cfg.kernel = argv[a];
	cfg.initrd = argv[a + 1];
	cfg.cmdline = a + 2 < argc ? argv[a + 2] : "console=hvc0 quiet loglevel=0";
	if (edera_zone_create_sync(ctx, &cfg, &zone) < 0 ||
	    edera_console_subscribe(zone, EDERA_CONSOLE_REPLAY, on_output, &st, NULL) < 0)
		goto fail;
	if (await_text(&st, "RES READY", 120) < 0) {
		fprintf(stderr, "pingpong: the zone's program did not start\n");
		goto out;
	}

	/* one page for the zone, and a channel it binds to */
	if (edera_share_pages(zone, 1, 0, &share) < 0 ||
	    edera_evtchn_alloc_unbound(zone, on_notify, &st, &st.ch) < 0)
		goto fail;
	st.page = edera_share_addr(share);
	snprintf(line, sizeof(line), "map 0 %u - %u\n", edera_evtchn_port(st.ch),
	         edera_share_refs(share)[0]);
	if (type_line(&st, zone, line) < 0 || await_text(&st, "RES MAPPED ok", 30) < 0) {
		fprintf(stderr, "pingpong: the zone did not map the page: %s\n", st.out);
		goto out;
	}
	while (st.events == 0) /* its hello: it notifies once it mapped */
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	printf("zone %u mapped grant %u and bound to port %u\n", edera_zone_domid(zone),
	       edera_share_refs(share)[0], edera_evtchn_port(st.ch));

	snprintf(line, sizeof(line), "pong %llu\n", (unsigned long long)st.rounds);
	if (type_line(&st, zone, line) < 0)
		goto fail;
	t0 = uv_hrtime();
	st.page[0] = st.round = 1;
	if (edera_evtchn_notify(st.ch) < 0)
		goto fail;
	while (!st.done && !strstr(st.out, "RES PONG"))
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	if (!st.done) {
		fprintf(stderr, "pingpong: the zone stopped answering after %llu rounds\n",
		        (unsigned long long)st.round);
		goto out;
	}
	printf("%llu round trips in %.3f s: %.0f per second; %d echoes wrong\n",
	       (unsigned long long)st.rounds, (double)(uv_hrtime() - t0) / 1e9,
	       (double)st.rounds * 1e9 / (double)(uv_hrtime() - t0), st.bad);
	rc = st.bad ? 1 : 0;
	goto out;
fail:
	fprintf(stderr, "pingpong: %s\n", edera_last_error());
out:
	/* the share and the channel would go with the zone anyway */
	edera_evtchn_close(st.ch);
	edera_share_release(share);
	if (zone && edera_zone_destroy_sync(zone) < 0) {
		fprintf(stderr, "pingpong: %s\n", edera_last_error());
		rc = 1;
	}
	edera_ctx_close(ctx);
	return rc;
}
