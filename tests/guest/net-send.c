/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest test program: send BYTES of the xorshift32 stream (seed 1) to
 * HOST:PORT over TCP, wait for the host to close, then print its FNV-1a
 * checksum.
 *   net-send HOST PORT BYTES */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned char buf[65536];
	uint32_t x = 1, h = 2166136261u;
	unsigned long left;
	int s, tries = 0;

	if (argc < 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: net-send HOST PORT BYTES\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	left = strtoul(argv[3], NULL, 0);
	for (;;) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(s);
		if (++tries == 100) {
			perror("net-send: connect");
			return 1;
		}
		sleep(1); /* the host may not listen yet */
	}
	while (left > 0) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf), off = 0;

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (unsigned char)x;
			h = (h ^ buf[i]) * 16777619u;
		}
		while (off < n) {
			ssize_t w = write(s, buf + off, n - off);

			if (w <= 0) {
				perror("net-send: write");
				return 1;
			}
			off += (size_t)w;
		}
		left -= n;
	}
	/* Wait for the host to have read it all (it closes after the end of
	 * the stream): the guest powers off right after, and data still in
	 * its socket would be lost with it. */
	shutdown(s, SHUT_WR);
	while (read(s, buf, sizeof(buf)) > 0)
		;
	close(s);
	printf("EDERA-NET-SUM %08x\n", h);
	return 0;
}
