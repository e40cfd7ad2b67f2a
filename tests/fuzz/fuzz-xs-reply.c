/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: arbitrary bytes as the stream from xenstored.  The first
 * byte picks how the stream is cut into reads and, by its top bit, the
 * transport (ring: 4096-byte messages; socket: longer ones, as oxenstored
 * sends); every decoded message is
 * then run through each reply parser the client uses.  Nothing may crash,
 * read out of bounds or leak, whatever xenstored (or a man in the middle)
 * sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xs/wire.h"

/* The socket reader's logic does not depend on its limit; a smaller one
 * keeps the fuzzer's memory small. */
#define FUZZ_SOCKET_MAX (64u << 10)

static int on_msg(const struct ed_xs_hdr *hdr, const char *payload, void *arg)
{
	static const char *items[FUZZ_SOCKET_MAX / 2 + 1];
	const struct ed_xs_reader *r = arg;
	size_t n = 0;
	uint32_t a, b;

	if (hdr->len > r->max || payload[hdr->len] != '\0')
		abort(); /* the reader's own promises */
	ed_xs_error_code(payload, hdr->len);
	if (ed_xs_split(payload, hdr->len, items, sizeof(items) / sizeof(items[0]), &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (items[i] < payload || items[i] >= payload + hdr->len)
				abort();
			ed_xs_parse_perm(items[i], &a, &b);
			ed_xs_parse_u32(items[i], &a);
		}
	}
	/* a directory chunk: generation, then names */
	{
		size_t glen = strnlen(payload, hdr->len);
		if (glen < hdr->len)
			ed_xs_split(payload + glen + 1, hdr->len - glen - 1, items,
			            sizeof(items) / sizeof(items[0]), &n);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ed_xs_reader r;
	size_t chunk, off = 1;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x7f) * 2 + 1;
	ed_xs_reader_init(&r, data[0] & 0x80 ? FUZZ_SOCKET_MAX : XENSTORE_PAYLOAD_MAX);
	while (off < size) {
		size_t take = size - off < chunk ? size - off : chunk;
		if (ed_xs_reader_feed(&r, data + off, take, on_msg, &r) < 0)
			break;
		off += take;
	}
	ed_xs_reader_fini(&r);
	return 0;
}
