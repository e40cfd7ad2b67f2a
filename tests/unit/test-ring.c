/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The console ring functions: wrap-around, full and empty rings, and
 * impossible indices from a hostile guest. */
#include <string.h>

#include "console/ring.h"
#include "suites.h"

START_TEST(read_wraps_and_limits)
{
	uint8_t ring[16], out[32];

	for (int i = 0; i < 16; i++)
		ring[i] = (uint8_t)('a' + i);
	/* 6 bytes from index 13: ring[13..15] then ring[0..2] */
	ck_assert_int_eq(ed_ring_read(ring, 16, 13, 19, out, sizeof(out)), 6);
	ck_assert_mem_eq(out, "nopabc", 6);
	/* MAX limits the copy */
	ck_assert_int_eq(ed_ring_read(ring, 16, 13, 19, out, 2), 2);
	ck_assert_mem_eq(out, "no", 2);
	/* empty; indices wrapped past 2^32 */
	ck_assert_int_eq(ed_ring_read(ring, 16, 7, 7, out, sizeof(out)), 0);
	ck_assert_int_eq(ed_ring_read(ring, 16, 0xfffffffeu, 2, out, sizeof(out)), 4);
	ck_assert_mem_eq(out, "opab", 4);
	/* exactly full */
	ck_assert_int_eq(ed_ring_read(ring, 16, 5, 21, out, sizeof(out)), 16);
}
END_TEST

START_TEST(read_rejects_impossible_indices)
{
	uint8_t ring[16] = { 0 }, out[64];

	memset(out, 0x55, sizeof(out));
	ck_assert_int_eq(ed_ring_read(ring, 16, 0, 17, out, sizeof(out)), -1);
	ck_assert_int_eq(ed_ring_read(ring, 16, 10, 9, out, sizeof(out)), -1); /* prod behind */
	ck_assert_int_eq(ed_ring_read(ring, 16, 0, 0x80000000u, out, sizeof(out)), -1);
	ck_assert_int_eq(ed_ring_read(ring, 12, 0, 1, out, sizeof(out)), -1); /* not a power of 2 */
	ck_assert_int_eq(ed_ring_read(ring, 0, 0, 0, out, sizeof(out)), -1);
	ck_assert_uint_eq(out[0], 0x55); /* nothing copied */
}
END_TEST

START_TEST(write_wraps_fills_and_rejects)
{
	uint8_t ring[8];

	memset(ring, '.', sizeof(ring));
	/* the guest consumed up to 5, we produced up to 6: 7 free */
	ck_assert_int_eq(ed_ring_write(ring, 8, 5, 6, (const uint8_t *)"ABCDEFGHIJ", 10), 7);
	ck_assert_mem_eq(ring, "CDEFG", 5); /* "AB" went to indices 6 and 7 */
	ck_assert_uint_eq(ring[6], 'A');
	ck_assert_uint_eq(ring[7], 'B');
	ck_assert_uint_eq(ring[5], '.');
	/* full: nothing more */
	ck_assert_int_eq(ed_ring_write(ring, 8, 5, 13, (const uint8_t *)"Z", 1), 0);
	/* the guest's consumer index ahead of our producer, or too far behind */
	ck_assert_int_eq(ed_ring_write(ring, 8, 14, 13, (const uint8_t *)"Z", 1), -1);
	ck_assert_int_eq(ed_ring_write(ring, 8, 0, 9, (const uint8_t *)"Z", 1), -1);
	ck_assert_uint_eq(ring[5], '.');
}
END_TEST

Suite *ring_suite(void)
{
	Suite *s = suite_create("console-ring");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, read_wraps_and_limits);
	tcase_add_test(tc, read_rejects_impossible_indices);
	tcase_add_test(tc, write_wraps_fills_and_rejects);
	suite_add_tcase(s, tc);
	return s;
}
