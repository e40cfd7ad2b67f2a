/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XenStore with libedera, asynchronously on the context's loop: watch a
 * subtree, change it inside a transaction, read it back, clean up.
 * Run it in dom0 (as root):  ./xenstore [/some/path]
 * Build against an installed libedera:
 *   cc xenstore.c $(pkg-config --cflags --libs edera libuv) -o xenstore */
#include <stdio.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

struct app {
	const char *base;
	char key[256];
	edera_xs_watch *watch;
	int changes;
	int finished;
};

static void on_change(edera_ctx *ctx, int status, const char *path, void *data)
{
	struct app *app = data;

	if (status < 0) {
		fprintf(stderr, "watch: %s\n", edera_last_error());
		return;
	}
	/* The first event is xenstored confirming the watch itself. */
	printf("watch: %s changed\n", path);
	app->changes++;
}

static void on_removed(edera_ctx *ctx, int status, void *data)
{
	struct app *app = data;

	printf("rm %s: %s\n", app->base, edera_strerror(status));
	app->finished = 1;
}

static void on_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct app *app = data;

	if (status < 0)
		fprintf(stderr, "read: %s\n", edera_last_error());
	else
		printf("read %s = \"%.*s\"\n", app->key, (int)len, value);
	edera_xs_watch_remove(app->watch);
	app->watch = NULL;
	if (edera_xs_rm(ctx, NULL, app->base, on_removed, app) < 0) {
		fprintf(stderr, "rm: %s\n", edera_last_error());
		app->finished = 1;
	}
}

/* The transaction body: it may run more than once if another writer
 * conflicts, so it only issues requests and ends the transaction. */
static void wrote(edera_ctx *ctx, int status, void *data)
{
	edera_xs_txn *txn = data;

	if (status < 0)
		edera_xs_txn_abort(txn, status);
	else
		edera_xs_txn_commit(txn);
}

static void body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct app *app = data;
	int rc = edera_xs_write(ctx, txn, app->key, "hello from libedera", 19, wrote, txn);

	if (rc < 0)
		edera_xs_txn_abort(txn, rc);
}

static void committed(edera_ctx *ctx, int status, void *data)
{
	struct app *app = data;

	printf("transaction: %s\n", status < 0 ? edera_last_error() : "committed");
	if (edera_xs_read(ctx, NULL, app->key, on_read, app) < 0) {
		fprintf(stderr, "read: %s\n", edera_last_error());
		app->finished = 1;
	}
}

int main(int argc, char **argv)
{
	struct app app = { .base = argc > 1 ? argv[1] : "/edera-example" };
	edera_ctx *ctx;
	int rc;

	snprintf(app.key, sizeof(app.key), "%s/greeting", app.base);
	rc = edera_ctx_open(&ctx, NULL);
	if (rc < 0) {
		fprintf(stderr, "xenstore: %s\n", edera_last_error());
		return 1;
	}
	rc = edera_xs_watch_add(ctx, &app.watch, app.base, on_change, &app);
	if (rc == 0)
		rc = edera_xs_transaction(ctx, body, committed, &app);
	if (rc < 0) {
		fprintf(stderr, "xenstore: %s\n", edera_last_error());
		edera_ctx_close(ctx);
		return 1;
	}
	while (!app.finished)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	edera_ctx_close(ctx);
	printf("%d watch events\n", app.changes);
	return app.changes >= 2 ? 0 : 1; /* the confirmation and our write */
}
