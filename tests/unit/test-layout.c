/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "builder/layout.h"
#include "internal.h"
#include "suites.h"

#define VBASE 0xffffffff80000000ull

/* Debian's 6.1 kernel: loaded at VBASE+16 MiB, 58 MiB long. */
static const struct ed_layout_in linux_256m = {
	.nr_pages = 65536,
	.virt_base = VBASE,
	.virt_kstart = 0xffffffff81000000ull,
	.virt_kend = 0xffffffff84a00000ull,
	.ramdisk_len = 3 * 1024 * 1024 + 5,
};

START_TEST(segments_follow_each_other)
{
	struct ed_layout l;

	ck_assert_int_eq(ed_layout_compute(&linux_256m, &l), 0);
	ck_assert_uint_eq(l.kernel.vstart, 0xffffffff81000000ull);
	ck_assert_uint_eq(l.kernel.pfn, 0x1000);
	ck_assert_uint_eq(l.kernel.pages, (0x84a00000ull - 0x81000000ull) >> 12);
	ck_assert_uint_eq(l.ramdisk.pfn, l.kernel.pfn + l.kernel.pages);
	ck_assert_uint_eq(l.ramdisk.pages, 769); /* 3 MiB + 5 bytes */
	ck_assert_uint_eq(l.p2m.pfn, l.ramdisk.pfn + l.ramdisk.pages);
	ck_assert_uint_eq(l.p2m.pages, 128); /* 65536 entries of 8 bytes */
	ck_assert_uint_eq(l.start_info.pfn, l.p2m.pfn + 128);
	ck_assert_uint_eq(l.xenstore.pfn, l.start_info.pfn + 1);
	ck_assert_uint_eq(l.console.pfn, l.xenstore.pfn + 1);
	ck_assert_uint_eq(l.pgtables.pfn, l.console.pfn + 1);
	ck_assert_uint_eq(l.stack.pfn, l.pgtables.pfn + l.pgtables.pages);
	ck_assert_uint_eq(l.virt_alloc_end, l.stack.vstart + 4096);
	for (const struct ed_seg *s = &l.kernel; s <= &l.stack; s++)
		ck_assert_uint_eq(s->vstart, VBASE + (s->pfn << 12));
}
END_TEST

START_TEST(tables_cover_everything)
{
	struct ed_layout l;
	uint64_t end;

	ck_assert_int_eq(ed_layout_compute(&linux_256m, &l), 0);
	end = l.virt_pgtab_end;
	ck_assert_uint_ge(end, l.virt_alloc_end + (512u << 10));
	ck_assert_uint_eq(end % (4u << 20), 0);
	/* one L4, one L3 (all below 512 GiB from the top), one L2 (under 1 GiB),
	 * one L1 per 2 MiB mapped */
	ck_assert_uint_eq(l.nr_l4, 1);
	ck_assert_uint_eq(l.nr_l3, 1);
	ck_assert_uint_eq(l.nr_l2, 1);
	ck_assert_uint_eq(l.nr_l1, (end - VBASE) >> 21);
	ck_assert_uint_eq(l.pgtables.pages, l.nr_l1 + 3);
}
END_TEST

START_TEST(too_small_or_bad)
{
	struct ed_layout_in in = linux_256m;
	struct ed_layout l;

	in.nr_pages = 64 << 8; /* 64 MiB: less than the kernel's own reach */
	ck_assert_int_eq(ed_layout_compute(&in, &l), EDERA_ERANGE);
	ck_assert_msg(strstr(edera_last_error(), "64 MiB of memory is too small") != NULL, "%s",
	              edera_last_error());
	in = linux_256m;
	in.ramdisk_len = 300ull << 20; /* initrd larger than memory */
	ck_assert_int_eq(ed_layout_compute(&in, &l), EDERA_ERANGE);
	in = linux_256m;
	in.virt_kstart = VBASE - 4096;
	ck_assert_int_eq(ed_layout_compute(&in, &l), EDERA_EINVAL);
	in = linux_256m;
	in.nr_pages = 0;
	ck_assert_int_eq(ed_layout_compute(&in, &l), EDERA_EINVAL);
}
END_TEST

START_TEST(tiny_kernel_small_domain)
{
	/* the project's minimal PV kernel: a few pages at VIRT_BASE */
	struct ed_layout_in in = { .nr_pages = 4096, .virt_base = 0x400000,
	                           .virt_kstart = 0x400000, .virt_kend = 0x403000 };
	struct ed_layout l;

	ck_assert_int_eq(ed_layout_compute(&in, &l), 0);
	ck_assert_uint_eq(l.kernel.pfn, 0);
	ck_assert_uint_eq(l.ramdisk.pages, 0);
	ck_assert_uint_eq(l.p2m.pages, 8);
	ck_assert_uint_eq(l.virt_pgtab_end, 0x400000 + (4u << 20));
	ck_assert_uint_eq(l.nr_l1, 2);
}
END_TEST

/* What a successful layout promises the builder: every segment in order,
 * inside the domain's pages, at its own virtual address. */
static void assert_sound(const struct ed_layout_in *in, const struct ed_layout *l)
{
	uint64_t next_pfn = l->kernel.pfn;

	for (const struct ed_seg *s = &l->kernel; s <= &l->stack; s++) {
		ck_assert_uint_eq(s->pfn, next_pfn);
		ck_assert_uint_le(s->pages, in->nr_pages);
		ck_assert_uint_le(s->pfn, in->nr_pages - s->pages);
		ck_assert_uint_eq(s->vstart, in->virt_base + (s->pfn << 12));
		next_pfn = s->pfn + s->pages;
	}
	ck_assert_uint_le(l->virt_alloc_end, l->virt_pgtab_end);
	ck_assert_uint_le((l->virt_pgtab_end - in->virt_base) >> 12, in->nr_pages);
}

/* Crafted kernels whose ranges make the placement cursor wrap past 2^64:
 * refused, never a layout with pages beyond the domain's last. */
START_TEST(wrapping_ranges_refused)
{
	static const struct ed_layout_in crafted[] = {
		/* the kernel itself spans almost the whole address space */
		{ .nr_pages = 65536, .virt_base = 0, .virt_kstart = 0x1000,
		  .virt_kend = 0xfffffffffffff000ull },
		/* its length rounds up past 2^64 when counted in pages */
		{ .nr_pages = 65536, .virt_base = 0, .virt_kstart = 0,
		  .virt_kend = 0xffffffffffffffffull },
		/* a kernel at the top; the initrd carries the cursor over */
		{ .nr_pages = 65536, .virt_base = VBASE, .virt_kstart = 0xfffffffffff00000ull,
		  .virt_kend = 0xfffffffffffff000ull, .ramdisk_len = 2u << 20 },
		/* the boot structures after it wrap (p2m, special pages) */
		{ .nr_pages = 65536, .virt_base = VBASE, .virt_kstart = 0xffffffffffe00000ull,
		  .virt_kend = 0xfffffffffffff000ull },
		/* the tables' end rounds past 2^64 */
		{ .nr_pages = 65536, .virt_base = VBASE, .virt_kstart = 0xffffffffffc00000ull,
		  .virt_kend = 0xffffffffffc01000ull },
		/* an initrd as long as the address space */
		{ .nr_pages = 1ull << 40, .virt_base = 0x400000, .virt_kstart = 0x400000,
		  .virt_kend = 0x401000, .ramdisk_len = 0xfffffffffffff001ull },
	};

	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		struct ed_layout l;
		int rc = ed_layout_compute(&crafted[i], &l);

		if (rc == 0)
			assert_sound(&crafted[i], &l); /* fails: that is the bug */
		ck_assert_msg(rc == EDERA_EINVAL || rc == EDERA_ERANGE, "case %zu: %d", i, rc);
	}
}
END_TEST

START_TEST(good_layouts_are_sound)
{
	struct ed_layout_in in = linux_256m;
	struct ed_layout l;

	ck_assert_int_eq(ed_layout_compute(&in, &l), 0);
	assert_sound(&in, &l);
	in.nr_pages = 1ull << 20; /* 4 GiB: more table pages */
	ck_assert_int_eq(ed_layout_compute(&in, &l), 0);
	assert_sound(&in, &l);
}
END_TEST

/* The hypercall page: stub N at N*32 loads N into %eax and traps with
 * syscall; iret's stub also pushes %rax and does not return. */
START_TEST(hypercall_page_stubs)
{
	static uint8_t page[4096];
	static const uint8_t normal[] = { 0x51, 0x41, 0x53, 0xb8, 7, 0, 0, 0, 0x0f, 0x05,
		                          0x41, 0x5b, 0x59, 0xc3, 0xcc };
	static const uint8_t iret[] = { 0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05, 0xcc };

	memset(page, 0, sizeof(page));
	ed_hypercall_page_fill(page);
	ck_assert_mem_eq(page + 7 * 32, normal, sizeof(normal));
	ck_assert_mem_eq(page + 23 * 32, iret, sizeof(iret));
	for (unsigned int nr = 0; nr < 128; nr++) {
		const uint8_t *p = page + nr * 32 + (nr == 23 ? 5 : 4);

		ck_assert_uint_eq(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24, nr);
	}
	ck_assert_uint_eq(page[4095], 0xcc);
}
END_TEST

Suite *layout_suite(void)
{
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("pv");

	tcase_add_test(tc, segments_follow_each_other);
	tcase_add_test(tc, tables_cover_everything);
	tcase_add_test(tc, too_small_or_bad);
	tcase_add_test(tc, tiny_kernel_small_domain);
	tcase_add_test(tc, wrapping_ranges_refused);
	tcase_add_test(tc, good_layouts_are_sound);
	tcase_add_test(tc, hypercall_page_stubs);
	suite_add_tcase(s, tc);
	return s;
}
