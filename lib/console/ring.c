/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ring.h"

long ed_ring_read(const volatile uint8_t *ring, uint32_t size, uint32_t cons, uint32_t prod,
                  uint8_t *dst, size_t max)
{
	uint32_t avail = prod - cons; /* unsigned: wraps like the indices */
	size_t n;

	if (size == 0 || (size & (size - 1)) || avail > size)
		return -1;
	n = avail < max ? avail : max;
	for (size_t i = 0; i < n; i++)
		dst[i] = ring[(cons + (uint32_t)i) & (size - 1)];
	return (long)n;
}

long ed_ring_write(volatile uint8_t *ring, uint32_t size, uint32_t cons, uint32_t prod,
                   const uint8_t *src, size_t len)
{
	uint32_t used = prod - cons;
	size_t n;

	if (size == 0 || (size & (size - 1)) || used > size)
		return -1;
	n = size - used < len ? size - used : len;
	for (size_t i = 0; i < n; i++)
		ring[(prod + (uint32_t)i) & (size - 1)] = src[i];
	return (long)n;
}
