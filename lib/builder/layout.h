/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where everything goes in a new x86-64 PV domain's memory: the kernel, the
 * initrd, the phys-to-machine list, the special pages, the bootstrap page
 * tables and the boot stack.  Pure arithmetic, unit-tested on any machine. */
#ifndef EDERA_BUILD_LAYOUT_H
#define EDERA_BUILD_LAYOUT_H

#include <stdint.h>

#define ED_PAGE_SHIFT 12
#define ED_PAGE_SIZE (1ull << ED_PAGE_SHIFT)

struct ed_layout_in {
	uint64_t nr_pages;    /* the domain's memory, in 4 KiB pages */
	uint64_t virt_base;   /* the kernel's VIRT_BASE: guest pfn 0 maps here */
	uint64_t virt_kstart; /* the kernel's loaded range */
	uint64_t virt_kend;
	uint64_t ramdisk_len; /* bytes; 0 for none */
};

/* A run of consecutive pages, virtual and pseudo-physical. */
struct ed_seg {
	uint64_t vstart;
	uint64_t pfn;
	uint64_t pages;
};

struct ed_layout {
	struct ed_seg kernel, ramdisk, p2m, start_info, xenstore, console, pgtables, stack;
	uint64_t virt_alloc_end; /* first virtual address after the last segment */
	uint64_t virt_pgtab_end; /* the bootstrap tables map [virt_base, this) */
	uint64_t nr_l1, nr_l2, nr_l3, nr_l4; /* page-table pages per level */
};

/* Returns 0, or EDERA_EINVAL / EDERA_ENOMEM-like EDERA_ERANGE with a message
 * when the image cannot fit (e.g. "256 MiB is too small: kernel, initrd and
 * boot structures need 300 MiB"). */
int ed_layout_compute(const struct ed_layout_in *in, struct ed_layout *out);

/* Fill a 4 KiB hypercall page for a 64-bit PV kernel (the page its
 * XEN_ELFNOTE_HYPERCALL_PAGE names): 32-byte stubs, one per hypercall
 * number, each `push %rcx; push %r11; mov $N,%eax; syscall; pop %r11;
 * pop %rcx; ret`, except iret's, which pushes %rax too and does not
 * return.  Bytes between stubs are int3. */
void ed_hypercall_page_fill(uint8_t *page);

#endif
