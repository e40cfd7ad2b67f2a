/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest test program for channels (edera/channel.h): the guest's side of
 * the protocol, as an agent in a zone would speak it.  It finds the channel
 * "test" in XenStore (data/edera-channel/test, read through
 * /dev/xen/xenbus), maps its pages with /dev/xen/gntdev, binds its event
 * channel with /dev/xen/evtchn and then, by its first argument:
 *   echo        answer every frame (TYPE, PAYLOAD) with (TYPE + 1, PAYLOAD);
 *               a frame of type 0xffffffff ends it
 *   flood MIB   send MIB MiB in 32 KiB frames of type 7 (byte i of the
 *               stream is i * 7 mod 251), then a frame of type 8, then echo
 *   bad-index   publish an impossible producer index, then echo
 *   bad-len     publish a frame header of 1 MiB, then echo
 * It prints CHAN READY once mapped, CHAN ERR <what> on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>
#include <xen/io/xs_wire.h>

#include "edera/channel.h"
#include "console/ring.h"

#define PAGE 4096

static volatile struct edera_channel_shared *sh;
static volatile uint8_t *h2g, *g2h;
static uint32_t ring_size, h2g_cons, g2h_prod;
static int evfd, port;

static void die(const char *what)
{
	printf("CHAN ERR %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

/* XS_READ of PATH through /dev/xen/xenbus: the value, or NULL. */
static char *xs_read(const char *path)
{
	struct xsd_sockmsg m = {.type = XS_READ, .req_id = 1, .tx_id = 0};
	static char buf[4096 + sizeof(m)];
	int fd = open("/dev/xen/xenbus", O_RDWR);
	ssize_t n, got = 0;

	if (fd < 0)
		die("open /dev/xen/xenbus");
	m.len = (uint32_t)strlen(path) + 1;
	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), path, m.len);
	if (write(fd, buf, sizeof(m) + m.len) != (ssize_t)(sizeof(m) + m.len))
		die("write /dev/xen/xenbus");
	while (got < (ssize_t)sizeof(m) ||
	       got < (ssize_t)(sizeof(m) + ((struct xsd_sockmsg *)buf)->len)) {
		n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got);
		if (n <= 0)
			die("read /dev/xen/xenbus");
		got += n;
	}
	close(fd);
	memcpy(&m, buf, sizeof(m));
	if (m.type != XS_READ)
		return NULL;
	buf[sizeof(m) + m.len] = '\0';
	return buf + sizeof(m);
}

static void wait_event(void)
{
	struct pollfd p = {.fd = evfd, .events = POLLIN};
	uint32_t got;

	if (poll(&p, 1, -1) < 0)
		die("poll");
	while (read(evfd, &got, sizeof(got)) == sizeof(got))
		if (write(evfd, &got, sizeof(got)) != sizeof(got)) /* unmask */
			die("unmask");
}

static void notify(void)
{
	struct ioctl_evtchn_notify n = {.port = (unsigned int)port};

	if (ioctl(evfd, IOCTL_EVTCHN_NOTIFY, &n) < 0)
		die("notify");
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
	char *v = NULL;
	unsigned int pages, n = 0;
	uint32_t refs[1 + 2 * EDERA_CHANNEL_RING_PAGES_MAX];
	struct ioctl_gntdev_map_grant_ref *op;
	struct ioctl_evtchn_bind_interdomain bind;
	int gfd, off = 0, used;
	char *p;
	void *mem;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < 600 && !(v = xs_read("data/edera-channel/test")); i++)
		usleep(100000);
	if (!v) {
		errno = ENOENT;
		die("data/edera-channel/test");
	}
	if (sscanf(v, "%d %u %n", &port, &pages, &off) != 2 || pages == 0 ||
	    pages > EDERA_CHANNEL_RING_PAGES_MAX) {
		errno = EINVAL;
		die(v);
	}
	for (p = v + off; n < 1 + 2 * pages && sscanf(p, "%u%n", &refs[n], &used) == 1; n++) {
		p += used;
		if (*p == ',')
			p++;
	}
	if (n != 1 + 2 * pages) {
		errno = EINVAL;
		die("refs");
	}
	gfd = open("/dev/xen/gntdev", O_RDWR);
	evfd = open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK);
	if (gfd < 0 || evfd < 0)
		die("open gntdev/evtchn");
	op = calloc(1, sizeof(*op) + n * sizeof(op->refs[0]));
	if (!op)
		die("calloc");
	op->count = n;
	for (unsigned int i = 0; i < n; i++) {
		op->refs[i].domid = 0;
		op->refs[i].ref = refs[i];
	}
	if (ioctl(gfd, IOCTL_GNTDEV_MAP_GRANT_REF, op) < 0)
		die("IOCTL_GNTDEV_MAP_GRANT_REF");
	mem = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gfd,
	           (off_t)op->index);
	if (mem == MAP_FAILED)
		die("mmap");
	bind.remote_domain = 0;
	bind.remote_port = (unsigned int)port;
	port = ioctl(evfd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
	if (port < 0)
		die("IOCTL_EVTCHN_BIND_INTERDOMAIN");
	sh = mem;
	if (sh->magic != EDERA_CHANNEL_MAGIC || sh->ring_pages != pages) {
		errno = EPROTO;
		die("magic");
	}
	ring_size = pages * PAGE;
	h2g = (volatile uint8_t *)mem + PAGE;
	g2h = h2g + ring_size;
	/* the host may have written already: start from its indices */
	h2g_cons = sh->h2g_cons;
	g2h_prod = sh->g2h_prod;
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
