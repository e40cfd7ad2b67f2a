/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a container image in a zone and wait for its exit: the image's own
 * command, or the one given; its stdout and stderr printed as they come,
 * prefixed.  Run it in dom0, as root:
 *   ./workload [--spare] KERNEL MODULES_DIR IMAGE [CMD [ARG]...]
 * (IMAGE: an OCI image layout directory or archive; KERNEL and MODULES_DIR:
 * the zone's kernel and its modules.  EDERA_ZONE_INIT names the
 * edera-zone-init to use when it is not installed.  --spare: a spare zone
 * is booted first, as an orchestrator keeps some ahead of its runs, and
 * the run takes it instead of booting one.)
 * Build against an installed libedera:
 *   cc workload.c $(pkg-config --cflags --libs edera libuv) -o workload */
#include <stdio.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

struct app {
	int done, status, code, signal;
};

/* Each line of output prefixed with the stream it came on. */
static void on_output(edera_ctx *ctx, edera_process *proc, int fd, const void *bytes, size_t len,
                      void *data)
{
	static int at_line_start[3] = {1, 1, 1};
	const char *b = bytes;

	for (size_t i = 0; i < len; i++) {
		if (at_line_start[fd])
			printf("%s| ", fd == 1 ? "out" : "err");
		putchar(b[i]);
		at_line_start[fd] = b[i] == '\n';
	}
}

static void on_exit_cb(edera_ctx *ctx, edera_process *proc, int status, int code, int signal,
                       void *data)
{
	struct app *app = data;

	app->done = 1;
	app->status = status;
	app->code = code;
	app->signal = signal;
	if (status < 0)
		fprintf(stderr, "workload: %s\n", edera_last_error());
}

/* A first run converts the image: say how far it got (a line per layer). */
static void on_progress(edera_ctx *ctx, const edera_workload_progress *p, void *data)
{
	(void)ctx;
	(void)data;
	if (strcmp(p->step, "unpacking") != 0)
		printf("workload: converting the image: %s %u layer(s)\n", p->step, p->layers);
	else if (p->total && p->done == p->total)
		printf("workload: converting the image: layer %u of %u unpacked (%llu bytes)\n",
		       p->layer, p->layers, (unsigned long long)p->total);
}

int main(int argc, char **argv)
{
	edera_workload_config wc;
	edera_process_config pc;
	edera_workload *wl;
	edera_process *proc;
	struct app app = {0};
	edera_ctx *ctx;
	edera_zone *spare = NULL;
	int want_spare = argc > 1 && strcmp(argv[1], "--spare") == 0;

	argc -= want_spare;
	argv += want_spare;
	if (argc < 4) {
		fprintf(stderr, "usage: workload [--spare] KERNEL MODULES_DIR IMAGE [CMD [ARG]...]\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "workload: %s\n", edera_last_error());
		return 1;
	}
	edera_process_config_init(&pc);
	pc.args = (const char *const *)(argv + 4);
	pc.n_args = (size_t)(argc - 4);
	pc.on_output = on_output;
	pc.on_exit = on_exit_cb;
	pc.data = &app;
	edera_workload_config_init(&wc);
	wc.name = "edera-workload-example";
	wc.image = argv[3];
	wc.kernel = argv[1];
	wc.modules_dir = argv[2];
	wc.cache_dir = "/tmp/edera-example-cache";
	wc.process = &pc;
	wc.on_progress = on_progress;
	/* a zone booted ahead with the same kernel, modules, memory and vCPUs
	 * (its name and the image are not the run's concern) */
	if (want_spare) {
		wc.name = NULL;
		if (edera_workload_spare_sync(ctx, &wc, &spare) < 0) {
			fprintf(stderr, "workload: %s\n", edera_last_error());
			edera_ctx_close(ctx);
			return 1;
		}
		printf("workload: spare zone '%s' (domain %u) booting\n", edera_zone_name(spare),
		       edera_zone_domid(spare));
		wc.name = "edera-workload-example";
	}
	/* converts the image (once), boots the zone, starts the process */
	if (edera_workload_run_sync(ctx, &wc, &wl, &proc) < 0) {
		fprintf(stderr, "workload: %s\n", edera_last_error());
		edera_ctx_close(ctx);
		return 1;
	}
	printf("workload: running as pid %u in zone '%s' (domain %u%s)\n", edera_process_pid(proc),
	       edera_zone_name(edera_workload_zone(wl)), edera_zone_domid(edera_workload_zone(wl)),
	       spare && edera_workload_zone(wl) == spare ? ", the spare" : "");
	while (!app.done)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	if (app.status == 0)
		printf("workload: %s %d\n", app.signal ? "killed by signal" : "exited with",
		       app.signal ? app.signal : app.code);
	/* the zone powers itself off; destroying it also frees the handles */
	edera_zone_destroy_sync(edera_workload_zone(wl));
	edera_ctx_close(ctx);
	return app.status < 0 ? 1 : app.signal ? 128 + app.signal : app.code;
}
