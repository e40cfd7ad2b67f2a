/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attach a terminal to a zone's console, served by libedera in-process.
 *
 *   ./console [--timeout S] KERNEL [INITRD|- [CMDLINE]]   create a zone, attach
 *   ./console [--timeout S] --attach NAME                 attach to a running zone
 *                                                         (left by another process)
 *
 * On a terminal, the terminal goes raw and Ctrl-] detaches: a zone this
 * program created is then powered off (destroyed if it does not stop within
 * 10 s); an attached one keeps running.  With standard input a pipe or file,
 * its bytes are typed into the console as the guest reads them (written
 * with back-pressure), and the program waits for the zone to stop (or
 * --timeout).  Run it in dom0, as root.
 * Build against an installed libedera:
 *   cc console.c $(pkg-config --cflags --libs edera libuv) -o console */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#define DETACH_KEY 0x1d /* Ctrl-] */

struct app {
	edera_ctx *ctx;
	edera_zone *zone;
	int created;
	int done;
	int status;
	int tty;
	uv_stream_t *in;
	union {
		uv_tty_t tty;
		uv_pipe_t pipe;
	} in_h;
	uv_timer_t timer;
	/* input the console did not take yet */
	char pending[4096];
	size_t pending_len;
	int reading;
};

static void stop(struct app *app, int status)
{
	app->done = 1;
	app->status = status;
}

static void on_output(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	while (len > 0) {
		ssize_t w = write(1, bytes, len);

		if (w <= 0)
			return;
		bytes += w;
		len -= (size_t)w;
	}
}

static void on_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	fprintf(stderr, "\r\nconsole: zone '%s' stopped (reason %d)\r\n", edera_zone_name(zone),
	        reason);
	stop(data, reason == EDERA_ZONE_EXIT_POWEROFF ? 0 : 1);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct app *app = h->data;

	/* Read no more than fits in what we hold back. */
	buf->base = app->pending + app->pending_len;
	buf->len = sizeof(app->pending) - app->pending_len;
}

/* Hand what we hold to the console; stop reading while it is full. */
static void push(struct app *app)
{
	while (app->pending_len > 0) {
		long n = edera_console_write(app->zone, app->pending, app->pending_len);

		if (n == EDERA_EAGAIN)
			break;
		if (n < 0) {
			fprintf(stderr, "console: %s\r\n", edera_last_error());
			app->pending_len = 0;
			break;
		}
		memmove(app->pending, app->pending + n, app->pending_len - (size_t)n);
		app->pending_len -= (size_t)n;
	}
	if (app->pending_len == sizeof(app->pending) && app->reading) {
		uv_read_stop(app->in);
		app->reading = 0;
	}
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void writable_cb(edera_ctx *ctx, edera_zone *zone, void *data)
{
	struct app *app = data;

	push(app);
	if (!app->reading && app->in && !uv_is_closing((uv_handle_t *)app->in) &&
	    app->pending_len < sizeof(app->pending)) {
		uv_read_start(app->in, alloc_cb, read_cb);
		app->reading = 1;
	}
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct app *app = s->data;

	if (nread < 0) {
		/* End of input: the zone goes on until it stops by itself. */
		uv_close((uv_handle_t *)s, NULL);
		app->in = NULL;
		app->reading = 0;
		return;
	}
	if (app->tty) {
		char *k = memchr(buf->base, DETACH_KEY, (size_t)nread);

		if (k) {
			nread = k - buf->base;
			app->pending_len += (size_t)nread;
			push(app);
			stop(app, 0);
			return;
		}
	}
	app->pending_len += (size_t)nread;
	push(app);
}

static void on_timeout(uv_timer_t *t)
{
	fprintf(stderr, "\r\nconsole: timed out\r\n");
	stop(t->data, 1);
}

static int usage(void)
{
	fprintf(stderr, "usage: console [--timeout S] KERNEL [INITRD|- [CMDLINE]]\n"
	                "       console [--timeout S] --attach NAME\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct app app;
	unsigned long timeout = 0;
	int a = 1, rc;

	memset(&app, 0, sizeof(app));
	if (a + 1 < argc && strcmp(argv[a], "--timeout") == 0) {
		timeout = strtoul(argv[a + 1], NULL, 10);
		a += 2;
	}
	if (a >= argc)
		return usage();
	if (edera_ctx_open(&app.ctx, NULL) < 0) {
		fprintf(stderr, "console: %s\n", edera_last_error());
		return 1;
	}
	if (strcmp(argv[a], "--attach") == 0) {
		if (a + 1 >= argc)
			return usage();
		rc = edera_zone_reattach_sync(app.ctx, NULL, NULL);
		app.zone = rc < 0 ? NULL : edera_zone_lookup(app.ctx, argv[a + 1]);
		if (!app.zone) {
			fprintf(stderr, "console: %s\n",
			        rc < 0 ? edera_last_error() : "no running libedera zone by that name");
			edera_ctx_close(app.ctx);
			return 1;
		}
	} else {
		edera_zone_config cfg;

		edera_zone_config_init(&cfg);
		cfg.name = "edera-console";
		cfg.kernel = argv[a];
		cfg.initrd = a + 1 < argc && strcmp(argv[a + 1], "-") != 0 ? argv[a + 1] : NULL;
		cfg.cmdline = a + 2 < argc ? argv[a + 2] : "console=hvc0";
		cfg.memory_mib = 256;
		if (edera_zone_create_sync(app.ctx, &cfg, &app.zone) < 0) {
			fprintf(stderr, "console: %s\n", edera_last_error());
			edera_ctx_close(app.ctx);
			return 1;
		}
		app.created = 1;
	}
	edera_zone_on_exit(app.zone, on_exit_cb, &app);
	/* The history first, so a late attach shows what came before. */
	if (edera_console_subscribe(app.zone, EDERA_CONSOLE_REPLAY, on_output, NULL, NULL) < 0 ||
	    edera_console_on_writable(app.zone, writable_cb, &app) < 0) {
		fprintf(stderr, "console: %s\n", edera_last_error());
		edera_ctx_close(app.ctx);
		return 1;
	}

	app.tty = isatty(0);
	if (app.tty) {
		uv_tty_init(edera_ctx_loop(app.ctx), &app.in_h.tty, 0, 1);
		uv_tty_set_mode(&app.in_h.tty, UV_TTY_MODE_RAW);
		fprintf(stderr, "console: attached to '%s' (domain %u); Ctrl-] detaches\r\n",
		        edera_zone_name(app.zone), edera_zone_domid(app.zone));
	} else {
		uv_pipe_init(edera_ctx_loop(app.ctx), &app.in_h.pipe, 0);
		uv_pipe_open(&app.in_h.pipe, 0);
	}
	app.in = (uv_stream_t *)&app.in_h;
	app.in->data = &app;
	uv_read_start(app.in, alloc_cb, read_cb);
	app.reading = 1;
	uv_timer_init(edera_ctx_loop(app.ctx), &app.timer);
	app.timer.data = &app;
	if (timeout)
		uv_timer_start(&app.timer, on_timeout, timeout * 1000, 0);

	while (!app.done)
		uv_run(edera_ctx_loop(app.ctx), UV_RUN_ONCE);

	if (app.tty)
		uv_tty_reset_mode();
	if (app.in)
		uv_close((uv_handle_t *)app.in, NULL);
	uv_close((uv_handle_t *)&app.timer, NULL);
	if (app.created) {
		/* Ours: power it off, or destroy it if it will not go. */
		if (edera_zone_shutdown_sync(app.zone, 0, 10000) < 0 &&
		    edera_last_error_code() != EDERA_EINVAL)
			fprintf(stderr, "console: %s; destroying it\n", edera_last_error());
		if (edera_zone_destroy_sync(app.zone) < 0)
			fprintf(stderr, "console: %s\n", edera_last_error());
	} else {
		fprintf(stderr, "console: detached; '%s' keeps running\n", edera_zone_name(app.zone));
	}
	edera_ctx_close(app.ctx);
	return app.status;
}
