/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context and host information against the real hypervisor, checked
 * against what Xen's own tools (xl info, /sys/hypervisor) report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

#include "suites.h"

#define XL "/usr/lib/xen-4.17/bin/xl"

/* One "key : value" field of `xl info`, as a string; NULL if absent. */
static char *xl_info(const char *key)
{
	char line[512];
	char *val = NULL;
	FILE *p = popen(XL " info 2>/dev/null", "r");

	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		char *colon = strchr(line, ':');
		char *end;
		if (!colon)
			continue;
		end = colon;
		while (end > line && end[-1] == ' ')
			end--;
		if ((size_t)(end - line) != strlen(key) || strncmp(line, key, strlen(key)) != 0)
			continue;
		colon++;
		while (*colon == ' ')
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		val = strdup(colon);
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(val != NULL, "xl info has no %s", key);
	return val;
}

static unsigned long long xl_info_num(const char *key)
{
	char *s = xl_info(key);
	unsigned long long v = strtoull(s, NULL, 10);
	free(s);
	return v;
}

static char *read_sys(const char *path)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	ck_assert_msg(f != NULL, "open %s", path);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

START_TEST(host_info_matches_xl)
{
	edera_ctx *ctx = NULL;
	edera_host_info info;
	char *extra, *sys_extra;
	unsigned long long xl_total_mib, xl_free_mib;
	int rc;

	rc = edera_ctx_open(&ctx, NULL);
	ck_assert_msg(rc == 0, "edera_ctx_open: %s", edera_last_error());
	edera_host_info_init(&info);
	rc = edera_host_info_get(ctx, &info);
	ck_assert_msg(rc == 0, "edera_host_info_get: %s", edera_last_error());

	ck_assert_uint_eq(info.xen_major, 4);
	ck_assert_uint_eq(info.xen_minor, 17);
	ck_assert_uint_eq(info.xen_major, xl_info_num("xen_major"));
	ck_assert_uint_eq(info.xen_minor, xl_info_num("xen_minor"));
	extra = xl_info("xen_extra");
	ck_assert_str_eq(info.xen_extra, extra);
	free(extra);
	sys_extra = read_sys("/sys/hypervisor/version/extra");
	ck_assert_str_eq(info.xen_extra, sys_extra);
	free(sys_extra);

	ck_assert_uint_eq(info.nr_cpus, xl_info_num("nr_cpus"));
	ck_assert_uint_eq(info.nr_nodes, xl_info_num("nr_nodes"));
	ck_assert_uint_eq(info.threads_per_core, xl_info_num("threads_per_core"));
	ck_assert_uint_eq(info.cores_per_socket, xl_info_num("cores_per_socket"));
	ck_assert_uint_gt(info.nr_cpus, 0);
	ck_assert_uint_gt(info.cpu_khz, 0);

	/* xl rounds to MiB; free memory may move a little between the calls. */
	xl_total_mib = xl_info_num("total_memory");
	xl_free_mib = xl_info_num("free_memory");
	ck_assert_uint_eq(info.total_memory_kib / 1024, xl_total_mib);
	ck_assert_uint_gt(info.total_memory_kib, 1024 * 1024); /* dom0 alone has 1 GiB */
	ck_assert_uint_le(info.free_memory_kib, info.total_memory_kib);
	ck_assert_uint_gt(info.free_memory_kib, 0);
	ck_assert_msg(llabs((long long)(info.free_memory_kib / 1024) - (long long)xl_free_mib) <= 64,
	              "free memory: libedera %llu MiB, xl %llu MiB",
	              (unsigned long long)info.free_memory_kib / 1024, xl_free_mib);

	edera_ctx_close(ctx);
}
END_TEST

/* An older caller's struct (smaller sz) is filled only as far as it goes. */
START_TEST(host_info_older_struct)
{
	edera_ctx *ctx = NULL;
	edera_host_info info;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	memset(&info, 0xab, sizeof(info));
	info.sz = offsetof(edera_host_info, xen_extra);
	ck_assert_int_eq(edera_host_info_get(ctx, &info), 0);
	ck_assert_uint_eq(info.xen_major, 4);
	ck_assert_uint_eq(info.xen_minor, 17);
	ck_assert_uint_eq(info.sz, offsetof(edera_host_info, xen_extra));
	ck_assert_uint_eq((unsigned char)info.xen_extra[0], 0xab); /* untouched */
	ck_assert_uint_eq(info.nr_cpus, 0xabababab);
	edera_ctx_close(ctx);
}
END_TEST

START_TEST(ctx_on_caller_loop_leaves_it_clean)
{
	uv_loop_t loop;
	edera_ctx *ctx = NULL;
	edera_ctx_options opts;

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	edera_ctx_options_init(&opts);
	opts.loop = &loop;
	ck_assert_int_eq(edera_ctx_open(&ctx, &opts), 0);
	ck_assert_ptr_eq(edera_ctx_loop(ctx), &loop);
	edera_ctx_close(ctx);
	uv_run(&loop, UV_RUN_DEFAULT); /* the XenStore connection finishes closing */
	ck_assert_int_eq(uv_loop_alive(&loop), 0);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(ctx_open_close_repeatedly)
{
	/* Handles are released: 200 cycles would exhaust fds or gntdev otherwise. */
	for (int i = 0; i < 200; i++) {
		edera_ctx *ctx = NULL;
		int rc = edera_ctx_open(&ctx, NULL);
		ck_assert_msg(rc == 0, "cycle %d: %s", i, edera_last_error());
		ck_assert_ptr_nonnull(edera_ctx_loop(ctx));
		edera_ctx_close(ctx);
	}
}
END_TEST

static void on_info(edera_ctx *ctx, int status, const edera_host_info *info, void *data)
{
	edera_host_info *out = data;

	ck_assert_int_eq(status, 0);
	ck_assert_ptr_nonnull(info);
	*out = *info;
}

START_TEST(host_info_async_matches_sync)
{
	edera_ctx *ctx = NULL;
	edera_host_info a, b;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_host_info_init(&a);
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(edera_host_info_get(ctx, &a), 0);
	ck_assert_int_eq(edera_host_info_query(ctx, on_info, &b), 0);
	while (b.sz == 0)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	ck_assert_uint_eq(b.sz, sizeof(b));
	ck_assert_uint_eq(b.xen_major, a.xen_major);
	ck_assert_uint_eq(b.xen_minor, a.xen_minor);
	ck_assert_str_eq(b.xen_extra, a.xen_extra);
	ck_assert_uint_eq(b.total_memory_kib, a.total_memory_kib);
	ck_assert_uint_eq(b.nr_cpus, a.nr_cpus);
	edera_ctx_close(ctx);
}
END_TEST

Suite *host_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("dom0");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, host_info_matches_xl);
	tcase_add_test(tc, host_info_older_struct);
	tcase_add_test(tc, ctx_on_caller_loop_leaves_it_clean);
	tcase_add_test(tc, ctx_open_close_repeatedly);
	tcase_add_test(tc, host_info_async_matches_sync);
	suite_add_tcase(s, tc);
	return s;
}
