/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: arbitrary bytes as a kernel image (bzImage or ELF, any
 * compression).  Parsing must fail cleanly or yield a kernel whose loaded
 * range and entry are consistent; loading it must stay within that range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/image.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ed_kernel k;

	if (ed_kernel_parse(&k, data, size, "fuzz") < 0)
		return 0;
	if (k.virt_kend <= k.virt_kstart || k.entry < k.virt_kstart || k.entry >= k.virt_kend)
		abort();
	if (k.virt_kend - k.virt_kstart <= (64u << 20)) {
		uint8_t *mem = malloc(k.virt_kend - k.virt_kstart);
		if (mem) {
			ed_kernel_load(&k, mem);
			free(mem);
		}
	}
	ed_kernel_free(&k);
	return 0;
}
