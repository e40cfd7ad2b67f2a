/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the PV layout computation, fed the numbers a kernel
 * image and a zone's configuration give it (the image's are anyone's).
 * Whatever they are, a layout that is accepted keeps every segment in
 * order, inside the domain's pages, at its own virtual address — the
 * builder indexes the domain's frame list with those page numbers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/layout.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t v[5] = { 0 };
	struct ed_layout_in in;
	struct ed_layout l;
	uint64_t next;

	memcpy(v, data, size < sizeof(v) ? size : sizeof(v));
	in.nr_pages = v[0];
	in.virt_base = v[1];
	in.virt_kstart = v[2];
	in.virt_kend = v[3];
	in.ramdisk_len = v[4];
	if (ed_layout_compute(&in, &l) < 0)
		return 0;
	next = l.kernel.pfn;
	for (const struct ed_seg *s = &l.kernel; s <= &l.stack; s++) {
		if (s->pfn != next || s->pages > in.nr_pages || s->pfn > in.nr_pages - s->pages ||
		    s->vstart != in.virt_base + (s->pfn << ED_PAGE_SHIFT))
			abort();
		next = s->pfn + s->pages;
	}
	if (l.virt_alloc_end > l.virt_pgtab_end ||
	    (l.virt_pgtab_end - in.virt_base) >> ED_PAGE_SHIFT > in.nr_pages)
		abort();
	return 0;
}
