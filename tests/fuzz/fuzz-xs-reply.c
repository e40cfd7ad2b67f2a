/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: arbitrary bytes as the stream from xenstored.  The first
 * byte picks how the stream is cut into reads; every decoded message is
 * then run through each reply parser the client uses.  Nothing may crash,
 * read out of bounds or leak, whatever xenstored (or a man in the middle)
 * sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xs/wire.h"

static int on_msg(const struct ed_xs_hdr *hdr, const char *payload, void *arg)
{
	const char *items[XENSTORE_PAYLOAD_MAX / 2 + 1];
	size_t n = 0;
	uint32_t a, b;

	(void)arg;
	if (hdr->len > XENSTORE_PAYLOAD_MAX || payload[hdr->len] != '\0')
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
	chunk = (size_t)data[0] + 1;
	ed_xs_reader_init(&r);
	while (off < size) {
		size_t take = size - off < chunk ? size - off : chunk;
		if (ed_xs_reader_feed(&r, data + off, take, on_msg, NULL) < 0)
			break;
		off += take;
	}
	return 0;
}
