/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the resource tests on the host and tests/guest/res-guest.c:
 * the byte pattern both sides write into and check in granted pages.
 *
 * res_pattern(seed, off) is the byte at offset off of a buffer filled with
 * pattern seed.  The offset goes through a 64-bit mixer (the splitmix64
 * finaliser, a bijection), so every byte, and so every page, looks random
 * and no two pages of a buffer are alike: a page mapped at the wrong place
 * or twice shows up.  The seed's low 8 bits are added after the mix and its
 * higher bits go into the mixer's input, so seed and seed + 1 differ in
 * every single byte (except when seed + 1 crosses a multiple of 256; there
 * they still differ in about 255 bytes of 256): a writer that skipped even
 * one byte of a "write seed + 1 over seed" is caught.
 */
#ifndef EDERA_TESTS_RES_PROTO_H
#define EDERA_TESTS_RES_PROTO_H

#include <stdint.h>

#define RES_PAGE 4096

static inline uint8_t res_pattern(uint32_t seed, uint64_t off)
{
	/* Buffers are far below 2^40 bytes, so (off, seed >> 8) never
	 * collide in the mixer's input. */
	uint64_t x = off ^ ((uint64_t)(seed >> 8) << 40);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint8_t)(x + (seed & 0xff));
}

#endif
