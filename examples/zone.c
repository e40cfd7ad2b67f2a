/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a zone: build a PV domain from a kernel and initrd with libedera's own
 * builder, print its console output as it comes (served by libedera itself),
 * wait for it to stop (asking it to after SECONDS) and clean up.  Run it in
 * dom0, as root:
 *   ./zone KERNEL [INITRD|- [CMDLINE [SECONDS]]]
 * Build against an installed libedera:
 *   cc zone.c $(pkg-config --cflags --libs edera libuv) -o zone */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

static const char *const reasons[] = { "poweroff", "reboot", "suspend", "crash", "watchdog" };

struct app {
	int exited;
	int reason;
};

static void on_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	struct app *app = data;

	app->exited = 1;
	app->reason = reason;
}

/* The guest's output, a chunk at a time, each line prefixed. */
static void on_output(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	int *at_line_start = data;

	for (size_t i = 0; i < len; i++) {
		if (*at_line_start)
			fputs("  | ", stdout);
		if (bytes[i] != '\r')
			putchar(bytes[i]);
		*at_line_start = bytes[i] == '\n';
	}
	fflush(stdout);
}

static void on_timeout(uv_timer_t *t)
{
	edera_zone *zone = t->data;

	printf("zone: asking '%s' to power off\n", edera_zone_name(zone));
	if (edera_zone_shutdown(zone, 0, 30000, NULL, NULL) < 0)
		fprintf(stderr, "zone: %s\n", edera_last_error());
}

int main(int argc, char **argv)
{
	edera_ctx *ctx;
	edera_zone_config cfg;
	edera_zone *zone;
	struct app app = { 0, -1 };
	uv_timer_t timer;
	int at_line_start = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: zone KERNEL [INITRD|- [CMDLINE [SECONDS]]]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "zone: %s\n", edera_last_error());
		return 1;
	}
	edera_zone_config_init(&cfg);
	cfg.name = "edera-example";
	cfg.kernel = argv[1];
	cfg.initrd = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL; /* "-": none */
	cfg.cmdline = argc > 3 ? argv[3] : "console=hvc0 quiet";
	cfg.memory_mib = 256;
	if (edera_zone_create_sync(ctx, &cfg, &zone) < 0) {
		fprintf(stderr, "zone: %s\n", edera_last_error());
		edera_ctx_close(ctx);
		return 1;
	}
	printf("zone: '%s' is domain %u (uuid %s)\n", edera_zone_name(zone), edera_zone_domid(zone),
	       edera_zone_uuid(zone));
	edera_zone_on_exit(zone, on_exit_cb, &app);
	/* From the start: what it wrote before this call is replayed. */
	if (edera_console_subscribe(zone, EDERA_CONSOLE_REPLAY, on_output, &at_line_start, NULL) < 0)
		fprintf(stderr, "zone: %s\n", edera_last_error());
	uv_timer_init(edera_ctx_loop(ctx), &timer);
	timer.data = zone;
	uv_timer_start(&timer, on_timeout, (argc > 4 ? strtoul(argv[4], NULL, 10) : 120) * 1000, 0);
	while (!app.exited)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	uv_close((uv_handle_t *)&timer, NULL);
	printf("%szone: '%s' stopped: %s\n", at_line_start ? "" : "\n", edera_zone_name(zone),
	       app.reason >= 0 && app.reason <= 4 ? reasons[app.reason] : "destroyed");

	edera_zone_destroy_sync(zone);
	edera_ctx_close(ctx);
	return app.reason == 0 ? 0 : 1;
}
