/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the console ring functions with arbitrary indices,
 * ring sizes and contents, as a hostile guest could leave them.  They must
 * stay inside the ring (ASan), copy exactly what the indices allow, and
 * refuse impossible indices. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console/ring.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t cons, prod, rsize;
	size_t max;
	uint8_t *ring, out[4096];
	long n;

	if (size < 14)
		return 0;
	cons = get32(data);
	prod = get32(data + 4);
	rsize = 1u << (data[8] % 13); /* 1 .. 4096 */
	max = (size_t)(data[9] | data[10] << 8) % (sizeof(out) + 1);
	data += 11;
	size -= 11;
	ring = malloc(rsize); /* exact size: ASan catches any overrun */
	if (!ring)
		return 0;
	for (uint32_t i = 0; i < rsize; i++)
		ring[i] = data[i % size];

	n = ed_ring_read(ring, rsize, cons, prod, out, max);
	if (prod - cons > rsize ? n != -1 : n != (long)((prod - cons) < max ? prod - cons : max))
		abort();
	for (long i = 0; i < n; i++)
		if (out[i] != ring[(cons + (uint32_t)i) & (rsize - 1)])
			abort();

	n = ed_ring_write(ring, rsize, cons, prod, data, size);
	if (prod - cons > rsize ? n != -1
	                        : n != (long)(rsize - (prod - cons) < size ? rsize - (prod - cons) : size))
		abort();
	for (long i = 0; i < n; i++)
		if (ring[(prod + (uint32_t)i) & (rsize - 1)] != data[i])
			abort();
	free(ring);
	return 0;
}
