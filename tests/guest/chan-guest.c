/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest test program for channels (edera/channel.h): the guest's side of
 * the protocol, as an agent in a zone would speak it.  It finds the channel
 * "test" and maps it (zone-init/zchan.c: the guest's side, shared with
 * edera-zone-init) and then, by its first argument:
 *   echo        answer every frame (TYPE, PAYLOAD) with (TYPE + 1, PAYLOAD);
 *               a frame of type 0xffffffff ends it
 *   flood MIB   send MIB MiB in 32 KiB frames of type 7 (byte i of the
 *               stream is i * 7 mod 251), then a frame of type 8, then echo
 *   bad-index   publish an impossible producer index, then echo
 *   bad-len     publish a frame header of 1 MiB, then echo
 * It prints CHAN READY once mapped, CHAN ERR <what> on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/ring.h"
#include "zchan.h"

static struct zchan c;
static volatile struct edera_channel_shared *sh;
static volatile uint8_t *h2g, *g2h;
static uint32_t ring_size, h2g_cons, g2h_prod;

static void die(const char *what)
{
	printf("CHAN ERR %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void wait_event(void)
{
	struct pollfd p = {.fd = c.evfd, .events = POLLIN};

	if (poll(&p, 1, -1) < 0)
		die("poll");
	zchan_events(&c);
}

static void notify(void)
{
	zchan_notify(&c);
}

/* Write LEN bytes to the guest-to-host ring, waiting for room. */
static void put(const void *src, size_t len)
{
	const uint8_t *p = src;

	while (len > 0) {
		long n = ed_ring_write(g2h, ring_size, sh->g2h_cons, g2h_prod, p, len);

		if (n < 0) {
			errno = EPROTO;
			die("host's consumer index");
		}
		if (n == 0) {
			__atomic_thread_fence(__ATOMIC_RELEASE);
			sh->g2h_prod = g2h_prod;
			notify();
			wait_event();
			continue;
		}
		g2h_prod += (uint32_t)n;
		p += n;
		len -= (size_t)n;
	}
}

static void send_frame(uint32_t type, const void *payload, uint32_t len)
{
	uint32_t hdr[2] = {len, type}; /* little-endian guest */

	put(hdr, sizeof(hdr));
	put(payload, len);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	sh->g2h_prod = g2h_prod;
	notify();
}

/* Read exactly LEN bytes from the host-to-guest ring. */
static void get(void *dst, size_t len)
{
	uint8_t *p = dst;

	while (len > 0) {
		uint32_t prod = sh->h2g_prod;
		long n;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		n = ed_ring_read(h2g, ring_size, h2g_cons, prod, p, len);
		if (n < 0) {
			errno = EPROTO;
			die("host's producer index");
		}
		if (n == 0) {
			wait_event();
			continue;
		}
		h2g_cons += (uint32_t)n;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		sh->h2g_cons = h2g_cons;
		notify(); /* room for the host */
		p += n;
		len -= (size_t)n;
	}
}

static void echo(void)
{
	static uint8_t payload[EDERA_CHANNEL_FRAME_MAX];
	uint32_t hdr[2];

	for (;;) {
		get(hdr, sizeof(hdr));
		if (hdr[0] > EDERA_CHANNEL_FRAME_MAX) {
			errno = EPROTO;
			die("host frame length");
		}
		get(payload, hdr[0]);
		if (hdr[1] == 0xffffffffu)
			return;
		send_frame(hdr[1] + 1, payload, hdr[0]);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "echo";
	const char *what;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (zchan_open(&c, "test", 60000, -1, &what) < 0)
		die(what);
	sh = c.sh;
	ring_size = c.ring_size;
	h2g = c.h2g;
	g2h = c.g2h;
	h2g_cons = c.h2g_cons;
	g2h_prod = c.g2h_prod;
	printf("CHAN READY %s\n", mode);

	if (strcmp(mode, "flood") == 0) {
		static uint8_t buf[32768];
		unsigned long total = (argc > 2 ? strtoul(argv[2], NULL, 10) : 1) << 20, sent = 0;

		while (sent < total) {
			uint32_t len =
			        total - sent < sizeof(buf) ? (uint32_t)(total - sent) : sizeof(buf);

			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)((sent + i) * 7 % 251);
			send_frame(7, buf, len);
			sent += len;
		}
		send_frame(8, &total, sizeof(total));
	} else if (strcmp(mode, "bad-index") == 0) {
		sh->g2h_prod = g2h_prod + 3 * ring_size + 5;
		notify();
	} else if (strcmp(mode, "bad-len") == 0) {
		uint32_t hdr[2] = {1u << 20, 1};

		put(hdr, sizeof(hdr));
		__atomic_thread_fence(__ATOMIC_RELEASE);
		sh->g2h_prod = g2h_prod;
		notify();
	}
	echo();
	printf("CHAN BYE\n");
	return 0;
}
