/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "layout.h"

/* The PV boot ABI asks that the bootstrap mappings reach at least 512 KiB
 * past the last boot structure; rounding to 4 MiB as well gives the guest
 * room to build its own tables before it touches anything unmapped. */
#define PAD (512u << 10)
#define ALIGN_END (4u << 20)

/* Every sum below is checked: the kernel's range comes from its image,
 * which nobody vetted, and a cursor that wrapped past 2^64 would place
 * pages beyond the domain's last (and the builder would index its frame
 * list with them). */
static int too_high(void)
{
	return ed_error(EDERA_EINVAL, "image reaches past the top of the address space");
}

static uint64_t pages_for(uint64_t bytes)
{
	return (bytes >> ED_PAGE_SHIFT) + ((bytes & (ED_PAGE_SIZE - 1)) != 0);
}

/* V rounded up to a multiple of A (a power of two), or an error. */
static int round_up(uint64_t v, uint64_t a, uint64_t *out)
{
	if (__builtin_add_overflow(v, a - 1, out))
		return too_high();
	*out &= ~(a - 1);
	return 0;
}

/* Distinct table pages at a level whose entries each cover 1 << SHIFT
 * (END > START). */
static uint64_t span(uint64_t start, uint64_t end, unsigned int shift)
{
	return ((end - 1) >> shift) - (start >> shift) + 1;
}

static int place(struct ed_seg *s, uint64_t *cursor, uint64_t virt_base, uint64_t pages)
{
	uint64_t end;

	if (pages > (UINT64_MAX >> ED_PAGE_SHIFT) ||
	    __builtin_add_overflow(*cursor, pages << ED_PAGE_SHIFT, &end))
		return too_high();
	s->vstart = *cursor;
	s->pfn = (*cursor - virt_base) >> ED_PAGE_SHIFT;
	s->pages = pages;
	*cursor = end;
	return 0;
}

int ed_layout_compute(const struct ed_layout_in *in, struct ed_layout *out)
{
	uint64_t cursor, before_pt, nr_pt = 1, need;
	int rc;

	memset(out, 0, sizeof(*out));
	if (in->virt_kstart < in->virt_base || in->virt_kend <= in->virt_kstart ||
	    (in->virt_kstart & (ED_PAGE_SIZE - 1)) || (in->virt_base & (ED_PAGE_SIZE - 1)))
		return ed_error(EDERA_EINVAL, "kernel range %#llx-%#llx does not fit VIRT_BASE %#llx",
		                (unsigned long long)in->virt_kstart,
		                (unsigned long long)in->virt_kend, (unsigned long long)in->virt_base);
	if (in->nr_pages == 0 || in->nr_pages > (1ull << 40))
		return ed_error(EDERA_EINVAL, "memory of %llu pages is out of range",
		                (unsigned long long)in->nr_pages);

	cursor = in->virt_kstart;
	rc = place(&out->kernel, &cursor, in->virt_base, pages_for(in->virt_kend - in->virt_kstart));
	if (rc == 0)
		rc = place(&out->ramdisk, &cursor, in->virt_base, pages_for(in->ramdisk_len));
	if (rc == 0)
		rc = place(&out->p2m, &cursor, in->virt_base, pages_for(in->nr_pages * 8));
	if (rc == 0)
		rc = place(&out->start_info, &cursor, in->virt_base, 1);
	if (rc == 0)
		rc = place(&out->xenstore, &cursor, in->virt_base, 1);
	if (rc == 0)
		rc = place(&out->console, &cursor, in->virt_base, 1);
	if (rc < 0)
		return rc;
	before_pt = cursor;

	/* The tables must map themselves and the stack: iterate to a fixpoint
	 * (the count only grows, and by very little; it is bounded by the
	 * address space, which the sums below check). */
	for (;;) {
		uint64_t end, l1, l2, l3, n;

		if (__builtin_add_overflow(before_pt, ((nr_pt + 1) << ED_PAGE_SHIFT) + PAD, &end) ||
		    round_up(end, ALIGN_END, &end) < 0 || end == 0)
			return too_high();
		l1 = span(in->virt_base, end, 21);
		l2 = span(in->virt_base, end, 30);
		l3 = span(in->virt_base, end, 39);
		n = l1 + l2 + l3 + 1;
		if (n <= nr_pt) {
			out->nr_l1 = l1;
			out->nr_l2 = l2;
			out->nr_l3 = l3;
			out->nr_l4 = 1;
			out->virt_pgtab_end = end;
			break;
		}
		nr_pt = n;
	}
	cursor = before_pt;
	rc = place(&out->pgtables, &cursor, in->virt_base,
	           out->nr_l1 + out->nr_l2 + out->nr_l3 + out->nr_l4);
	if (rc == 0)
		rc = place(&out->stack, &cursor, in->virt_base, 1);
	if (rc < 0)
		return rc;
	out->virt_alloc_end = cursor;

	/* Everything the bootstrap tables map must be real memory (and with
	 * no sum above wrapping, that covers every segment placed). */
	need = (out->virt_pgtab_end - in->virt_base) >> ED_PAGE_SHIFT;
	if (need > in->nr_pages)
		return ed_error(EDERA_ERANGE,
		                "%llu MiB of memory is too small: the kernel, initrd and boot "
		                "structures need %llu MiB",
		                (unsigned long long)(in->nr_pages >> 8),
		                (unsigned long long)((need + 255) >> 8));
	return 0;
}

void ed_hypercall_page_fill(uint8_t *page)
{
	/* __HYPERVISOR_iret in Xen's public xen.h */
	enum { HC_IRET = 23, STUB = 32 };

	memset(page, 0xcc, ED_PAGE_SIZE);
	for (unsigned int nr = 0; nr < ED_PAGE_SIZE / STUB; nr++) {
		uint8_t *p = page + nr * STUB;

		*p++ = 0x51;             /* push %rcx */
		*p++ = 0x41, *p++ = 0x53; /* push %r11 */
		if (nr == HC_IRET)
			*p++ = 0x50; /* push %rax: iret's frame starts with it */
		*p++ = 0xb8;     /* mov $nr, %eax */
		*p++ = (uint8_t)nr, *p++ = 0, *p++ = 0, *p++ = 0;
		*p++ = 0x0f, *p++ = 0x05; /* syscall */
		if (nr == HC_IRET)
			continue; /* never returns here */
		*p++ = 0x41, *p++ = 0x5b; /* pop %r11 */
		*p++ = 0x59;             /* pop %rcx */
		*p++ = 0xc3;             /* ret */
	}
}
