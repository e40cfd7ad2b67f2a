/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the integration suites share. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define XL "/usr/lib/xen-4.17/bin/xl"

const char *env(const char *var)
{
	const char *p = getenv(var);

	ck_assert_msg(p != NULL, "%s is set by xen-tests.sh", var);
	return p;
}

const char *linux_kernel(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/vmlinuz", env("RIG_CACHE"));
	return path;
}

int xl_domains(void)
{
	char line[256];
	int n = -1;
	FILE *p = popen(XL " list 2>/dev/null", "r");

	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		n++;
	pclose(p);
	return n;
}

void sweep_leftovers(void)
{
	edera_ctx *ctx = NULL;
	unsigned int attached = 0, cleaned = 0;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_msg(edera_zone_reattach_sync(ctx, &attached, &cleaned) == 0, "%s",
	              edera_last_error());
	while (edera_zone_next(ctx, NULL))
		ck_assert_msg(edera_zone_destroy_sync(edera_zone_next(ctx, NULL)) == 0, "%s",
		              edera_last_error());
	if (attached || cleaned)
		printf("(zones an earlier test left: %u running, %u stopped or stale; removed)\n",
		       attached, cleaned);
	edera_ctx_close(ctx);
}

size_t creation_records(edera_ctx *ctx)
{
	DIR *d = opendir(RECORDS_DIR);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, m = 0;
	int rc;

	ck_assert_msg(d || errno == ENOENT, "opening %s: %s", RECORDS_DIR, strerror(errno));
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	if (d)
		closedir(d);
	rc = edera_xs_directory_sync(ctx, NULL, RECORDS_XS, &names, &m);
	ck_assert_msg(rc == 0 || rc == EDERA_ENOENT, "%s", edera_last_error());
	edera_free(names);
	return n + (rc == 0 ? m : 0);
}

int xs_exists(edera_ctx *ctx, const char *path)
{
	char *v = NULL;
	int rc = edera_xs_read_sync(ctx, NULL, path, &v, NULL);

	edera_free(v);
	return rc == 0;
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void tick(uv_timer_t *t)
{
}

/* Run the loop (waking at least every 20 ms) until PRED(ARG) holds or
 * SECONDS pass; returns PRED(ARG). */
int run_pred(edera_ctx *ctx, int (*pred)(void *), void *arg, double seconds)
{
	double end = now() + seconds;
	uv_timer_t t;
	int ok;

	uv_timer_init(edera_ctx_loop(ctx), &t);
	uv_timer_start(&t, tick, 20, 20);
	while (!(ok = pred(arg)) && now() < end)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(edera_ctx_loop(ctx), UV_RUN_NOWAIT);
	return ok;
}

static int flag_set(void *arg)
{
	return *(const int *)arg != 0;
}

/* Run the loop until *FLAG is non-zero or SECONDS pass; returns *FLAG. */
int run_until(edera_ctx *ctx, const int *flag, double seconds)
{
	return run_pred(ctx, flag_set, (void *)flag, seconds);
}

edera_zone *mini(edera_ctx *ctx, const char *name, const char *cmdline,
                        uint32_t history_kib)
{
	edera_zone_config cfg;
	edera_zone *z = NULL;

	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = env("EDERA_MINI_KERNEL");
	cfg.cmdline = cmdline;
	cfg.memory_mib = 16;
	cfg.console_history_kib = history_kib;
	ck_assert_msg(edera_zone_create_sync(ctx, &cfg, &z) == 0, "%s: %s", name,
	              edera_last_error());
	return z;
}

void collect(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	struct text *t = data;

	t->calls++;
	if (len > sizeof(t->buf) - 1 - t->len) {
		/* keep the newest half */
		memmove(t->buf, t->buf + t->len / 2, t->len - t->len / 2);
		t->len -= t->len / 2;
		if (len > sizeof(t->buf) - 1 - t->len)
			len = sizeof(t->buf) - 1 - t->len;
	}
	memcpy(t->buf + t->len, bytes, len);
	t->len += len;
	t->buf[t->len] = '\0';
	if (t->want && memmem(t->buf, t->len, t->want, strlen(t->want)))
		t->found = 1;
}

void on_exit_flag(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	*(int *)data = 1;
}

