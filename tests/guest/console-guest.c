/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A guest test program for the console (run as /test on hvc0, with the
 * terminal in raw mode so bytes pass unchanged):
 *   flood N SEED   write "EDERA-FLOOD-BEGIN\n", then N bytes of the
 *                  xorshift32 stream seeded with SEED (every byte value),
 *                  then "\nEDERA-FLOOD-END <fnv1a-32 of the N bytes>\n"
 *   echo           print "EDERA-ECHO-READY\n", then answer every input
 *                  line L with "<L>\n"; the line "quit" ends it
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "guest-tty.h"

static int do_flood(unsigned long n, uint32_t x)
{
	unsigned char buf[4096];
	uint32_t h = 2166136261u;
	char end[64];

	put("EDERA-FLOOD-BEGIN\n", 18);
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		for (size_t i = 0; i < k; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
			h = (h ^ buf[i]) * 16777619u;
		}
		if (put(buf, k) < 0)
			return 1;
		n -= k;
	}
	snprintf(end, sizeof(end), "\nEDERA-FLOOD-END %08x\n", h);
	put(end, strlen(end));
	tcdrain(1);
	return 0;
}

static int do_echo(void)
{
	char line[512], in[256];
	size_t len = 0;

	put("EDERA-ECHO-READY\n", 17);
	for (;;) {
		ssize_t r = read(0, in, sizeof(in));

		if (r <= 0)
			return 1;
		for (ssize_t i = 0; i < r; i++) {
			char ch = in[i];

			if (ch == '\r' || ch == '\n') {
				line[len] = '\0';
				if (strcmp(line, "quit") == 0) {
					put("<bye>\n", 6);
					tcdrain(1);
					return 0;
				}
				put("<", 1);
				put(line, len);
				put(">\n", 2);
				len = 0;
			} else if (len < sizeof(line) - 1) {
				line[len++] = ch;
			}
		}
	}
}

int main(int argc, char **argv)
{
	raw(0);
	raw(1);
	if (argc >= 4 && strcmp(argv[1], "flood") == 0)
		return do_flood(strtoul(argv[2], NULL, 0), (uint32_t)strtoul(argv[3], NULL, 0) | 1);
	if (argc >= 2 && strcmp(argv[1], "echo") == 0)
		return do_echo();
	fprintf(stderr, "usage: console-guest flood N SEED | echo\n");
	return 2;
}
