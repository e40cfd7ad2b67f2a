/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <edera/edera.h>

#include "internal.h"
#include "list.h"
#include "suites.h"

static const int all_codes[] = {
	EDERA_EPERM, EDERA_ENOENT, EDERA_EIO, EDERA_EAGAIN, EDERA_ENOMEM, EDERA_EACCES,
	EDERA_EBUSY, EDERA_EEXIST, EDERA_ENODEV, EDERA_EINVAL, EDERA_ENOSPC, EDERA_ERANGE,
	EDERA_ENOSYS, EDERA_EPROTO, EDERA_ENOTSUP, EDERA_ECONNRESET, EDERA_ENOTCONN,
	EDERA_ETIMEDOUT, EDERA_ECANCELED, EDERA_ENOXEN, EDERA_EXENVERSION,
};

START_TEST(errno_compatible)
{
	ck_assert_int_eq(EDERA_EINVAL, -EINVAL);
	ck_assert_int_eq(EDERA_ENOENT, -ENOENT);
	ck_assert_int_eq(EDERA_EPROTO, -EPROTO);
	ck_assert_int_eq(EDERA_ETIMEDOUT, -ETIMEDOUT);
	ck_assert_int_eq(EDERA_ECONNRESET, -ECONNRESET);
	ck_assert_int_eq(EDERA_ENOTSUP, -ENOTSUP);
	ck_assert_int_eq(EDERA_ECANCELED, -ECANCELED);
}
END_TEST

START_TEST(every_code_named_and_described)
{
	for (size_t i = 0; i < sizeof(all_codes) / sizeof(all_codes[0]); i++) {
		int c = all_codes[i];
		ck_assert_msg(c < 0, "code %d must be negative", c);
		ck_assert_str_ne(edera_strerror(c), "unknown error");
		ck_assert_str_ne(edera_errname(c), "EDERA_UNKNOWN");
		ck_assert_msg(strncmp(edera_errname(c), "EDERA_E", 7) == 0, "%s", edera_errname(c));
		for (size_t j = 0; j < i; j++) {
			ck_assert_int_ne(c, all_codes[j]);
			ck_assert_str_ne(edera_errname(c), edera_errname(all_codes[j]));
		}
	}
	ck_assert_str_eq(edera_errname(EDERA_EINVAL), "EDERA_EINVAL");
	ck_assert_str_eq(edera_strerror(EDERA_EINVAL), "invalid argument");
	ck_assert_str_eq(edera_strerror(0), "success");
}
END_TEST

START_TEST(unknown_code)
{
	ck_assert_str_eq(edera_strerror(-99999), "unknown error");
	ck_assert_str_eq(edera_errname(12345), "EDERA_UNKNOWN");
}
END_TEST

START_TEST(version_consistent)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d.%d.%d", EDERA_VERSION_MAJOR, EDERA_VERSION_MINOR,
	         EDERA_VERSION_MICRO);
	ck_assert_str_eq(edera_version(), buf);
	ck_assert_str_eq(edera_version(), EDERA_VERSION_STRING);
	ck_assert_uint_eq(edera_version_number(), EDERA_VERSION_NUMBER);
	ck_assert(EDERA_VERSION_AT_LEAST(0, 0, 1));
	ck_assert(EDERA_VERSION_AT_LEAST(EDERA_VERSION_MAJOR, EDERA_VERSION_MINOR, EDERA_VERSION_MICRO));
	ck_assert(!EDERA_VERSION_AT_LEAST(EDERA_VERSION_MAJOR + 1, 0, 0));
}
END_TEST

/* A saved error survives later ones and comes back whole. */
START_TEST(saved_error_restored)
{
	struct ed_err e;

	ed_error(EDERA_ENODEV, "first: %s", "the disk is gone");
	ed_error_save(&e);
	ed_error(EDERA_EIO, "a later failure");
	ck_assert_int_eq(ed_error_restore(&e), EDERA_ENODEV);
	ck_assert_int_eq(edera_last_error_code(), EDERA_ENODEV);
	ck_assert_str_eq(edera_last_error(), "first: the disk is gone");
	ed_error(EDERA_EIO, "the message");
	ed_error_save_code(&e, EDERA_ETIMEDOUT);
	ck_assert_int_eq(ed_error_restore(&e), EDERA_ETIMEDOUT);
	ck_assert_str_eq(edera_last_error(), "the message");
}
END_TEST

static int gather_calls;

static void gather_done(struct ed_gather *g)
{
	gather_calls++;
}

/* The gather keeps the first failure with its message, settles once, and
 * only after the hold is released. */
START_TEST(gather_first_failure)
{
	struct ed_gather g;

	ed_gather_start(&g, NULL);
	ed_gather_issued(&g, 0);
	ed_gather_issued(&g, 0);
	ed_gather_issued(&g, 0);
	ck_assert(!ed_gather_settle(&g, 0));
	ed_error(EDERA_EACCES, "denied: %d", 1);
	ck_assert(!ed_gather_settle(&g, EDERA_EACCES));
	ed_error(EDERA_EIO, "second failure");
	ck_assert(!ed_gather_settle(&g, EDERA_EIO));
	ck_assert(ed_gather_settle(&g, 0)); /* the hold, last */
	ck_assert_int_eq(g.status, EDERA_EACCES);
	ck_assert_int_eq(ed_error_restore(&g.err), EDERA_EACCES);
	ck_assert_str_eq(edera_last_error(), "denied: 1");

	/* a request that could not be sent counts as the failure */
	gather_calls = 0;
	ed_gather_start(&g, gather_done);
	ed_error(EDERA_ENOMEM, "out of memory");
	ed_gather_issued(&g, EDERA_ENOMEM);
	ed_gather_issued(&g, 0);
	ck_assert(!ed_gather_settle(&g, 0));
	ck_assert_int_eq(gather_calls, 0);
	ck_assert(!ed_gather_settle(&g, 0)); /* DONE ran instead */
	ck_assert_int_eq(gather_calls, 1);
	ck_assert_int_eq(g.status, EDERA_ENOMEM);
	ck_assert_str_eq(g.err.msg, "out of memory");

	/* a failure noted before any request counts nothing in flight; a
	 * success noted so is nothing at all */
	ed_gather_start(&g, NULL);
	ed_gather_fail(&g, 0);
	ck_assert_int_eq(g.status, 0);
	ed_error(EDERA_ENOENT, "no such listing");
	ed_gather_fail(&g, EDERA_ENOENT);
	ck_assert(ed_gather_settle(&g, 0)); /* the hold was the only one */
	ck_assert_int_eq(g.status, EDERA_ENOENT);
}
END_TEST

struct item {
	int v;
	struct ed_link link;
};

static int list_sum(struct ed_list *l, int *count)
{
	int sum = 0, weight = 1;

	*count = 0;
	ED_LIST_EACH(it, l, struct item, link) {
		sum += it->v * weight; /* order matters */
		weight *= 10;
		(*count)++;
	}
	return sum;
}

/* The one list: order kept at both ends, removal from anywhere (twice is
 * harmless), removal while walking with the _SAFE form. */
START_TEST(list_order_and_removal)
{
	struct item a = { 1, { 0 } }, b = { 2, { 0 } }, c = { 3, { 0 } }, d = { 4, { 0 } };
	struct ed_list l = { 0 };
	int n;

	ck_assert(ed_list_empty(&l));
	ck_assert(!ed_linked(&l, &a.link));
	ed_list_push_back(&l, &b.link);
	ed_list_push_front(&l, &a.link);
	ed_list_push_back(&l, &c.link);
	ck_assert_int_eq(list_sum(&l, &n), 1 + 20 + 300);
	ck_assert_int_eq(n, 3);
	ed_list_remove(&l, &b.link); /* middle */
	ck_assert_int_eq(list_sum(&l, &n), 1 + 30);
	ed_list_remove(&l, &b.link); /* again: nothing */
	ck_assert_int_eq(list_sum(&l, &n), 1 + 30);
	ed_list_remove(&l, &c.link); /* tail */
	ed_list_push_back(&l, &d.link);
	ck_assert_int_eq(list_sum(&l, &n), 1 + 40);
	ck_assert_ptr_eq(l.tail, &d.link);
	ed_list_remove(&l, &a.link); /* head */
	ck_assert_ptr_eq(ed_list_first(&l, struct item, link), &d);
	ck_assert(ed_linked(&l, &d.link));
	ed_list_push_back(&l, &a.link);
	ed_list_push_back(&l, &b.link);
	ED_LIST_EACH_SAFE(it, nx, &l, struct item, link)
		if (it->v != 1)
			ed_list_remove(&l, &it->link);
	ck_assert_int_eq(list_sum(&l, &n), 1);
	ck_assert_int_eq(n, 1);
	ed_list_remove(&l, &a.link);
	ck_assert(ed_list_empty(&l));
	ck_assert_ptr_null(l.tail);
}
END_TEST

Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("codes");

	tcase_add_test(tc, errno_compatible);
	tcase_add_test(tc, every_code_named_and_described);
	tcase_add_test(tc, unknown_code);
	tcase_add_test(tc, version_consistent);
	tcase_add_test(tc, saved_error_restored);
	tcase_add_test(tc, gather_first_failure);
	tcase_add_test(tc, list_order_and_removal);
	suite_add_tcase(s, tc);
	return s;
}
