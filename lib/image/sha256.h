/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 (FIPS 180-4), for checking image blobs against their digests.
 * Compact rather than fast: hashing runs at a few hundred MB/s, well under
 * the cost of decompressing and writing the same bytes.  No state outside
 * the context: safe from any thread. */
#ifndef EDERA_IMAGE_SHA256_H
#define EDERA_IMAGE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ED_SHA256_LEN 32
/* "sha256:" + 64 hex digits + NUL */
#define ED_DIGEST_STR_LEN (7 + 64 + 1)

struct ed_sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t fill;
};

void ed_sha256_init(struct ed_sha256 *c);
void ed_sha256_update(struct ed_sha256 *c, const void *data, size_t len);
void ed_sha256_final(struct ed_sha256 *c, uint8_t out[ED_SHA256_LEN]);

/* OUT = "sha256:" followed by the lowercase hex of the context's digest
 * (the context is finalized). */
void ed_sha256_final_str(struct ed_sha256 *c, char out[ED_DIGEST_STR_LEN]);

/* True if S is "sha256:" followed by exactly 64 lowercase hex digits. */
int ed_digest_valid(const char *s);

#endif
