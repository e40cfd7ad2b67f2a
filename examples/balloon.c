/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Move memory and vCPUs to where the work is, without a reboot: start a
 * zone with room to grow, balloon it down and back up, bring a second vCPU
 * online and take it away again, printing what Xen reports at each step.
 *
 *   ./balloon [--keep] [--ready TEXT] KERNEL INITRD|- [CMDLINE]
 *
 * The zone's kernel needs a balloon driver (Linux: CONFIG_XEN_BALLOON) and
 * vCPU hot-plug (CONFIG_HOTPLUG_CPU); a kernel without them leaves the
 * requests unanswered, which the example reports as timeouts.  The guest
 * should have booted before its resources change (a kernel still starting
 * may miss a vCPU change): --ready TEXT waits for TEXT on its console
 * first (for instance a line its init prints).  The zone is
 * destroyed at the end unless --keep.  Run it in dom0, as root.
 * Build against an installed libedera:
 *   cc balloon.c $(pkg-config --cflags --libs edera libuv) -o balloon */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

struct ready {
	const char *text;
	char tail[4096]; /* recent output, to find TEXT across chunks */
	size_t len;
	int seen;
};

static void on_output(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	struct ready *r = data;

	fwrite(bytes, 1, len, stdout);
	for (size_t i = 0; i < len && !r->seen; i++) {
		if (r->len == sizeof(r->tail) - 1) {
			memmove(r->tail, r->tail + r->len / 2, r->len - r->len / 2);
			r->len -= r->len / 2;
		}
		r->tail[r->len++] = bytes[i];
		r->tail[r->len] = '\0';
		r->seen = strstr(r->tail, r->text) != NULL;
	}
}

/* Run the loop until the zone printed R->TEXT (or 120 s passed). */
static int wait_ready(edera_ctx *ctx, edera_zone *z, struct ready *r)
{
	uv_loop_t *loop = edera_ctx_loop(ctx);
	uint64_t end = uv_now(loop) + 120000;
	edera_console_sub *sub;

	if (edera_console_subscribe(z, EDERA_CONSOLE_REPLAY, on_output, r, &sub) < 0)
		return -1;
	while (!r->seen && uv_now(loop) < end) {
		uv_run(loop, UV_RUN_ONCE);
		uv_update_time(loop);
	}
	edera_console_unsubscribe(sub);
	printf("\n");
	return r->seen ? 0 : -1;
}

static void show(edera_ctx *ctx, edera_zone *z, const char *when)
{
	edera_zone_info info;
	edera_host_info host;

	edera_zone_info_init(&info);
	edera_host_info_init(&host);
	if (edera_zone_info_get(z, &info) < 0 || edera_host_info_get(ctx, &host) < 0) {
		fprintf(stderr, "balloon: %s\n", edera_last_error());
		return;
	}
	printf("%-22s zone holds %4" PRIu64 " MiB (target %4" PRIu64 ", max %4" PRIu64
	       "), %u of %u vCPUs online; host has %" PRIu64 " MiB free\n",
	       when, info.memory_kib >> 10, info.target_memory_kib >> 10,
	       info.max_memory_kib >> 10, info.vcpus_online, info.max_vcpus,
	       host.free_memory_kib >> 10);
}

static int set_memory(edera_ctx *ctx, edera_zone *z, uint64_t mib)
{
	uint64_t reached = 0;
	int rc = edera_zone_set_memory_sync(z, mib, 60000, &reached);
	char when[64];

	if (rc == EDERA_ETIMEDOUT) {
		/* the request stays; the zone just did not get there in time */
		printf("memory -> %" PRIu64 " MiB: timed out at %" PRIu64 " MiB (%s)\n", mib,
		       reached >> 10, edera_last_error());
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "balloon: memory -> %" PRIu64 " MiB: %s\n", mib, edera_last_error());
		return rc;
	}
	snprintf(when, sizeof(when), "memory -> %" PRIu64 " MiB:", mib);
	show(ctx, z, when);
	return 0;
}

static int set_vcpus(edera_ctx *ctx, edera_zone *z, uint32_t n)
{
	int rc = edera_zone_set_vcpus_sync(z, n, 60000);
	char when[64];

	if (rc < 0 && rc != EDERA_ETIMEDOUT) {
		fprintf(stderr, "balloon: vCPUs -> %u: %s\n", n, edera_last_error());
		return rc;
	}
	snprintf(when, sizeof(when), "vCPUs -> %u%s:", n, rc ? " (timed out)" : "");
	show(ctx, z, when);
	return 0;
}

int main(int argc, char **argv)
{
	edera_zone_config cfg;
	edera_ctx *ctx;
	edera_zone *zone;
	struct ready ready = { 0 };
	int a = 1, keep = 0, rc;

	for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		if (strcmp(argv[a], "--keep") == 0)
			keep = 1;
		else if (strcmp(argv[a], "--ready") == 0 && a + 1 < argc)
			ready.text = argv[++a];
		else
			break;
	}
	if (argc - a < 2) {
		fprintf(stderr, "usage: balloon [--keep] [--ready TEXT] KERNEL INITRD|- [CMDLINE]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "balloon: %s\n", edera_last_error());
		return 1;
	}
	edera_zone_config_init(&cfg);
	cfg.name = "balloon-example";
	cfg.kernel = argv[a];
	cfg.initrd = strcmp(argv[a + 1], "-") ? argv[a + 1] : NULL;
	cfg.cmdline = a + 2 < argc ? argv[a + 2] : "console=hvc0 quiet";
	cfg.memory_mib = 256;     /* at boot */
	cfg.max_memory_mib = 384; /* room to grow without a reboot */
	cfg.vcpus = 1;
	cfg.max_vcpus = 2;
	if (edera_zone_create_sync(ctx, &cfg, &zone) < 0) {
		fprintf(stderr, "balloon: %s\n", edera_last_error());
		edera_ctx_close(ctx);
		return 1;
	}
	show(ctx, zone, "started:");
	if (ready.text && wait_ready(ctx, zone, &ready) < 0) {
		fprintf(stderr, "balloon: no '%s' from the zone: %s\n", ready.text,
		        edera_last_error());
		edera_zone_destroy_sync(zone);
		edera_ctx_close(ctx);
		return 1;
	}
	rc = set_memory(ctx, zone, 128);
	if (rc == 0)
		rc = set_memory(ctx, zone, 384);
	if (rc == 0)
		rc = set_memory(ctx, zone, 256);
	if (rc == 0)
		rc = set_vcpus(ctx, zone, 2);
	if (rc == 0)
		rc = set_vcpus(ctx, zone, 1);
	if (!keep && edera_zone_destroy_sync(zone) < 0) {
		fprintf(stderr, "balloon: %s\n", edera_last_error());
		rc = -1;
	}
	edera_ctx_close(ctx);
	return rc < 0 ? 1 : 0;
}
