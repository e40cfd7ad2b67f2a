/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs inside an unprivileged guest: libedera's XenStore client over the
 * guest kernel's /dev/xen/xenbus (no xenstored socket there).  Proves the
 * device path and that xenstored's refusals reach the caller as such.
 * Prints one "EDERA-XS-GUEST <step> <EDERA_code>" line per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ctx.h"

static void report(const char *step, int rc)
{
	printf("EDERA-XS-GUEST %s %s%s%s\n", step, edera_errname(rc), rc ? " " : "",
	       rc ? edera_last_error() : "");
	fflush(stdout);
}

static void on_watch(edera_ctx *ctx, int status, const char *path, void *data)
{
	int *events = data;

	if (status == 0)
		(*events)++;
}

/* "chatty SECONDS [NODE]": write one of its own nodes (data/chatty by
 * default; a path relative to its home) as fast as it can for that long: a
 * guest that keeps XenStore busy, for dom0's transactions and watches to
 * meet. */
static int chatty(edera_ctx *ctx, uv_loop_t *loop, int seconds, const char *node)
{
	uint64_t end = uv_now(loop) + (uint64_t)seconds * 1000;
	unsigned long n = 0;
	char v[32];
	int rc = 0;

	printf("EDERA-XS-GUEST chatty start\n");
	fflush(stdout);
	while (rc == 0 && uv_now(loop) < end) {
		snprintf(v, sizeof(v), "%lu", ++n);
		rc = edera_xs_write_sync(ctx, NULL, node, v, strlen(v));
		uv_update_time(loop);
	}
	printf("EDERA-XS-GUEST chatty %lu writes\n", n);
	report("chatty", rc);
	return rc < 0;
}

int main(int argc, char **argv)
{
	uv_loop_t loop;
	edera_ctx *ctx;
	edera_xs_watch *w;
	char *v = NULL;
	int events = 0;
	int rc;

	uv_loop_init(&loop);
	if (ed_ctx_new(&ctx, &loop) < 0)
		return 1;
	rc = ed_xs_connect(&ctx->xs);
	report("connect", rc);
	if (rc < 0)
		return 1;
	printf("EDERA-XS-GUEST via %s\n", ctx->xs.where);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "chatty") == 0)
		return chatty(ctx, &loop, atoi(argv[2]), argc == 4 ? argv[3] : "data/chatty");

	/* Its own home (relative paths) is writable. */
	report("write-own", edera_xs_write_sync(ctx, NULL, "data/edera-test", "guest-ok", 8));
	rc = edera_xs_read_sync(ctx, NULL, "data/edera-test", &v, NULL);
	report("read-own", rc == 0 && strcmp(v, "guest-ok") != 0 ? EDERA_EPROTO : rc);
	edera_free(v);

	/* dom0's nodes are not. */
	report("write-dom0", edera_xs_write_sync(ctx, NULL, "/local/domain/0/edera-forbidden", "x", 1));
	v = NULL;
	report("read-dom0", edera_xs_read_sync(ctx, NULL, "/local/domain/0/name", &v, NULL));
	edera_free(v);

	/* A watch on its own node, then a change. */
	rc = edera_xs_watch_add(ctx, &w, "data/edera-test", on_watch, &events);
	while (rc == 0 && events < 1)
		uv_run(&loop, UV_RUN_ONCE);
	if (rc == 0)
		rc = edera_xs_write_sync(ctx, NULL, "data/edera-test", "changed", 7);
	while (rc == 0 && events < 2)
		uv_run(&loop, UV_RUN_ONCE);
	report("watch", rc);
	edera_xs_watch_remove(w);

	edera_ctx_close(ctx);
	uv_run(&loop, UV_RUN_DEFAULT);
	report("close", uv_loop_close(&loop) == 0 ? 0 : EDERA_EBUSY);
	return 0;
}
