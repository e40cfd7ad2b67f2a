/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context on a machine without Xen: it must refuse clearly, not crash. */
#include <string.h>
#include <unistd.h>

#include <edera/edera.h>

#include "suites.h"

static int have_xen(void)
{
	return access("/dev/xen/privcmd", F_OK) == 0;
}

START_TEST(open_without_xen_says_so)
{
	edera_ctx *ctx = (edera_ctx *)0x1;
	int rc;

	/* These unit tests run on the host; dom0 is the rig's business. */
	ck_assert_msg(!have_xen(), "unit tests expect a host without Xen");
	rc = edera_ctx_open(&ctx, NULL);
	ck_assert_int_eq(rc, EDERA_ENOXEN);
	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(edera_last_error_code(), EDERA_ENOXEN);
	ck_assert_str_eq(edera_last_error(),
	                 "no Xen hypervisor: /dev/xen/privcmd is missing — run in dom0");
}
END_TEST

START_TEST(open_rejects_bad_options)
{
	edera_ctx *ctx = NULL;
	edera_ctx_options opts;
	struct {
		edera_ctx_options o;
		char newer[8];
	} big;

	ck_assert_int_eq(edera_ctx_open(NULL, NULL), EDERA_EINVAL);

	memset(&opts, 0, sizeof(opts)); /* sz never set */
	ck_assert_int_eq(edera_ctx_open(&ctx, &opts), EDERA_EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(edera_last_error(), "_init") != NULL, "%s", edera_last_error());

	/* A newer caller's struct with fields this library does not know. */
	memset(&big, 0, sizeof(big));
	edera_ctx_options_init(&big.o);
	big.o.sz = sizeof(big);
	big.newer[3] = 1;
	ck_assert_int_eq(edera_ctx_open(&ctx, &big.o), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "newer libedera") != NULL, "%s",
	              edera_last_error());

	/* ...but unknown fields left zero are fine: we get as far as Xen. */
	big.newer[3] = 0;
	ck_assert_int_eq(edera_ctx_open(&ctx, &big.o), have_xen() ? 0 : EDERA_ENOXEN);
	edera_ctx_close(ctx);
}
END_TEST

START_TEST(options_init_and_macros_agree)
{
	edera_ctx_options a = EDERA_CTX_OPTIONS_INIT, b;
	edera_host_info c = EDERA_HOST_INFO_INIT, d;

	memset(&b, 0xff, sizeof(b));
	edera_ctx_options_init(&b);
	ck_assert_uint_eq(a.sz, sizeof(a));
	ck_assert_uint_eq(b.sz, sizeof(b));
	ck_assert_ptr_null(b.loop);

	memset(&d, 0xff, sizeof(d));
	edera_host_info_init(&d);
	ck_assert_uint_eq(c.sz, sizeof(c));
	ck_assert_uint_eq(d.sz, sizeof(d));
	ck_assert_uint_eq(d.nr_cpus, 0);
	ck_assert_str_eq(d.xen_extra, "");
}
END_TEST

START_TEST(null_is_harmless)
{
	edera_host_info info = EDERA_HOST_INFO_INIT;

	edera_ctx_close(NULL);
	ck_assert_ptr_null(edera_ctx_loop(NULL));
	ck_assert_int_eq(edera_host_info_get(NULL, &info), EDERA_EINVAL);
}
END_TEST

/* The run-time resource calls refuse a missing zone or output pointer
 * with a message, and the accessors and releases take NULL. */
START_TEST(resource_calls_check_arguments)
{
	edera_share *s = (edera_share *)&s;
	edera_evtchn *ch = (edera_evtchn *)&ch;
	uint32_t ref = 1;
	uint64_t reached = 7;

	ck_assert_int_eq(edera_zone_set_memory(NULL, 128, 0, NULL, NULL), EDERA_EINVAL);
	ck_assert_ptr_nonnull(strstr(edera_last_error(), "no running zone"));
	ck_assert_int_eq(edera_zone_set_memory_sync(NULL, 128, 0, &reached), EDERA_EINVAL);
	ck_assert_uint_eq(reached, 0);
	ck_assert_int_eq(edera_zone_set_vcpus(NULL, 1, 0, NULL, NULL), EDERA_EINVAL);
	ck_assert_int_eq(edera_zone_set_vcpus_sync(NULL, 1, 0), EDERA_EINVAL);
	ck_assert_int_eq(edera_share_pages(NULL, 1, 0, &s), EDERA_EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(edera_share_pages(NULL, 1, 0, NULL), EDERA_EINVAL);
	ck_assert_int_eq(edera_share_map(NULL, &ref, 1, 0, &s), EDERA_EINVAL);
	ck_assert_int_eq(edera_evtchn_alloc_unbound(NULL, NULL, NULL, &ch), EDERA_EINVAL);
	ck_assert_ptr_null(ch);
	ck_assert_int_eq(edera_evtchn_bind(NULL, 5, NULL, NULL, NULL), EDERA_EINVAL);
	ck_assert_int_eq(edera_evtchn_notify(NULL), EDERA_EINVAL);
	ck_assert_ptr_null(edera_share_addr(NULL));
	ck_assert_ptr_null(edera_share_refs(NULL));
	ck_assert_uint_eq(edera_share_pages_count(NULL), 0);
	ck_assert_uint_eq(edera_evtchn_port(NULL), 0);
	edera_share_release(NULL);
	edera_evtchn_close(NULL);
}
END_TEST

Suite *ctx_suite(void)
{
	Suite *s = suite_create("ctx");
	TCase *tc = tcase_create("no-xen");

	tcase_add_test(tc, open_without_xen_says_so);
	tcase_add_test(tc, open_rejects_bad_options);
	tcase_add_test(tc, options_init_and_macros_agree);
	tcase_add_test(tc, null_is_harmless);
	tcase_add_test(tc, resource_calls_check_arguments);
	suite_add_tcase(s, tc);
	return s;
}
