/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest's side of a channel: see zchan.h. */
#define _GNU_SOURCE
#include "zchan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>
#include <xen/io/xs_wire.h>

#include "console/ring.h"

#define PAGE 4096

/* Exactly LEN bytes from FD: 0, or -1 (errno; EIO at an end). */
static int read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Send a request of TYPE whose payload is A then B (each NUL included as
 * the caller counts it) on a /dev/xen/xenbus handle: 0 or -1. */
static int xs_send(int fd, uint32_t type, const char *a, size_t alen, const char *b,
                   size_t blen)
{
	struct xsd_sockmsg m = {.type = type, .req_id = 1, .tx_id = 0};
	char buf[sizeof(m) + XENSTORE_PAYLOAD_MAX];

	if (sizeof(m) + alen + blen > sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	m.len = (uint32_t)(alen + blen);
	memcpy(buf, &m, sizeof(m));
	memcpy(buf + sizeof(m), a, alen);
	memcpy(buf + sizeof(m) + alen, b, blen);
	return write(fd, buf, sizeof(m) + m.len) == (ssize_t)(sizeof(m) + m.len) ? 0 : -1;
}

/* The next message on a /dev/xen/xenbus handle: its header into M, its
 * payload into BODY (at most XENSTORE_PAYLOAD_MAX bytes).  0 or -1. */
static int xs_recv(int fd, struct xsd_sockmsg *m, char body[XENSTORE_PAYLOAD_MAX])
{
	if (read_exact(fd, m, sizeof(*m)) < 0)
		return -1;
	if (m->len > XENSTORE_PAYLOAD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	return read_exact(fd, body, m->len);
}

/* XS_READ of PATH through /dev/xen/xenbus into OUT (SIZE bytes): 1 read,
 * 0 absent, -1 error. */
static int xs_read(const char *path, char *out, size_t size)
{
	struct xsd_sockmsg m;
	char body[XENSTORE_PAYLOAD_MAX];
	int fd = open("/dev/xen/xenbus", O_RDWR | O_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (xs_send(fd, XS_READ, path, strlen(path) + 1, "", 0) < 0 || xs_recv(fd, &m, body) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	if (m.type != XS_READ)
		return 0;
	if (m.len >= size) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(out, body, m.len);
	out[m.len] = '\0';
	return 1;
}

/* A XenStore watch on PATH through a /dev/xen/xenbus handle of its own
 * (its messages: the watch's acknowledgement, then an event when it is
 * set and one per change): the handle, or -1. */
static int xs_watch(const char *path)
{
	static const char token[] = "zchan";
	int fd = open("/dev/xen/xenbus", O_RDWR | O_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (xs_send(fd, XS_WATCH, path, strlen(path) + 1, token, sizeof(token)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Wait up to MS (< 0: without end) for the watch's next message, and
 * take it: 1, 0 when the time is up, -1 on an error (ECANCELED: STOP_FD,
 * if not -1, polled readable first). */
static int xs_watch_next(int fd, int ms, int stop_fd)
{
	struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
	struct xsd_sockmsg m;
	char body[XENSTORE_PAYLOAD_MAX];
	int r = poll(pfd, stop_fd >= 0 ? 2 : 1, ms);

	if (r <= 0)
		return r < 0 && errno != EINTR ? -1 : 0;
	if (stop_fd >= 0 && pfd[1].revents) {
		errno = ECANCELED;
		return -1;
	}
	if (!pfd[0].revents)
		return 0;
	if (xs_recv(fd, &m, body) < 0)
		return -1;
	if (m.type == XS_ERROR) {
		errno = EPROTO;
		return -1;
	}
	return 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int zchan_open(struct zchan *c, const char *name, int wait_ms, int stop_fd, const char **what)
{
	char path[256], v[4096], *p;
	uint32_t refs[1 + 2 * EDERA_CHANNEL_RING_PAGES_MAX];
	unsigned int pages, n = 0;
	struct ioctl_gntdev_map_grant_ref *op;
	struct ioctl_evtchn_bind_interdomain bind;
	double end = now() + wait_ms / 1000.0;
	int gfd, r, r2, wfd, off = 0, used, port;
	void *mem;

	memset(c, 0, offsetof(struct zchan, rx_buf));
	c->evfd = -1;
	snprintf(path, sizeof(path), "data/edera-channel/%s", name);
	*what = "watching the channel's XenStore node";
	wfd = xs_watch(path);
	if (wfd < 0)
		return -1;
	*what = "reading the channel's XenStore node";
	/* read after the watch is set, so no write falls between; each
	 * message of the watch (its events, its acknowledgement) reads again */
	while ((r = xs_read(path, v, sizeof(v))) == 0) {
		int left = wait_ms < 0 ? -1 : (int)((end - now()) * 1000);

		if (wait_ms >= 0 && left <= 0)
			break;
		if ((r = xs_watch_next(wfd, left, stop_fd)) < 0) {
			*what = errno == ECANCELED ? "asked to stop while waiting for the channel"
			                           : "waiting on the watch of the channel's XenStore node";
			break;
		}
	}
	r2 = errno;
	close(wfd);
	errno = r2;
	if (r <= 0) {
		if (r == 0) {
			*what = "waiting for the host to open the channel";
			errno = ETIMEDOUT;
		}
		return -1;
	}
	*what = "parsing the channel's XenStore node";
	if (sscanf(v, "%d %u %n", &port, &pages, &off) != 2 || pages == 0 ||
	    pages > EDERA_CHANNEL_RING_PAGES_MAX) {
		errno = EPROTO;
		return -1;
	}
	for (p = v + off; n < 1 + 2 * pages && sscanf(p, "%u%n", &refs[n], &used) == 1; n++) {
		p += used;
		if (*p == ',')
			p++;
	}
	if (n != 1 + 2 * pages) {
		errno = EPROTO;
		return -1;
	}
	*what = "opening /dev/xen/gntdev and /dev/xen/evtchn";
	gfd = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
	if (gfd < 0)
		return -1;
	c->evfd = open("/dev/xen/evtchn", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (c->evfd < 0) {
		close(gfd);
		return -1;
	}
	*what = "mapping the channel's pages";
	op = calloc(1, sizeof(*op) + n * sizeof(op->refs[0]));
	if (!op)
		goto fail;
	op->count = n;
	for (unsigned int i = 0; i < n; i++) {
		op->refs[i].domid = 0;
		op->refs[i].ref = refs[i];
	}
	if (ioctl(gfd, IOCTL_GNTDEV_MAP_GRANT_REF, op) < 0) {
		free(op);
		goto fail;
	}
	mem = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gfd,
	           (off_t)op->index);
	free(op);
	if (mem == MAP_FAILED)
		goto fail;
	close(gfd); /* the mapping holds the grants */
	gfd = -1;
	*what = "binding the channel's event channel";
	bind.remote_domain = 0;
	bind.remote_port = (unsigned int)port;
	c->port = ioctl(c->evfd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
	if (c->port < 0)
		goto fail;
	c->sh = mem;
	*what = "checking the channel's header";
	if (c->sh->magic != EDERA_CHANNEL_MAGIC || c->sh->ring_pages != pages) {
		errno = EPROTO;
		goto fail;
	}
	c->ring_size = pages * PAGE;
	c->h2g = (volatile uint8_t *)mem + PAGE;
	c->g2h = c->h2g + c->ring_size;
	/* the host may have written already: start from its indices */
	c->h2g_cons = c->sh->h2g_cons;
	c->g2h_prod = c->sh->g2h_prod;
	return 0;
fail:
	r = errno;
	if (gfd >= 0)
		close(gfd);
	close(c->evfd);
	c->evfd = -1;
	errno = r;
	return -1;
}

void zchan_events(struct zchan *c)
{
	uint32_t got;

	while (read(c->evfd, &got, sizeof(got)) == sizeof(got))
		if (write(c->evfd, &got, sizeof(got)) != sizeof(got)) /* unmask */
			break;
}

void zchan_notify(struct zchan *c)
{
	struct ioctl_evtchn_notify n = {.port = (unsigned int)c->port};

	(void)ioctl(c->evfd, IOCTL_EVTCHN_NOTIFY, &n);
}

long zchan_room(struct zchan *c)
{
	uint32_t used = c->g2h_prod - c->sh->g2h_cons;

	return used > c->ring_size ? -1 : (long)(c->ring_size - used);
}

uint32_t zchan_unread(struct zchan *c)
{
	return c->g2h_prod - c->sh->g2h_cons;
}

static void put(struct zchan *c, const void *src, uint32_t len)
{
	/* the caller checked the room */
	long n = ed_ring_write(c->g2h, c->ring_size, c->sh->g2h_cons, c->g2h_prod, src, len);

	c->g2h_prod += (uint32_t)(n > 0 ? n : 0);
}

int zchan_try_send(struct zchan *c, uint32_t type, const void *a, uint32_t alen, const void *b,
                   uint32_t blen)
{
	uint32_t hdr[2] = {alen + blen, type}; /* little-endian guest */
	uint64_t whole = sizeof(hdr) + (uint64_t)alen + blen;
	long room = zchan_room(c);

	if (room < 0) {
		errno = EPROTO;
		return -1;
	}
	if (whole > c->ring_size || alen + (uint64_t)blen > EDERA_CHANNEL_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((uint64_t)room < whole)
		return 0;
	put(c, hdr, sizeof(hdr));
	if (alen)
		put(c, a, alen);
	if (blen)
		put(c, b, blen);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	c->sh->g2h_prod = c->g2h_prod;
	zchan_notify(c);
	return 1;
}

int zchan_send(struct zchan *c, uint32_t type, const void *a, uint32_t alen, const void *b,
               uint32_t blen)
{
	for (;;) {
		struct pollfd p = {.fd = c->evfd, .events = POLLIN};
		int r = zchan_try_send(c, type, a, alen, b, blen);

		if (r != 0)
			return r < 0 ? -1 : 0;
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -1;
		zchan_events(c);
	}
}

int zchan_recv(struct zchan *c)
{
	int moved = 0;

	for (;;) {
		uint32_t prod = c->sh->h2g_prod, want;
		uint8_t *dst;
		long n;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (c->rx_got < sizeof(c->rx_hdr)) {
			want = (uint32_t)sizeof(c->rx_hdr) - c->rx_got;
			dst = (uint8_t *)c->rx_hdr + c->rx_got;
		} else {
			want = (uint32_t)sizeof(c->rx_hdr) + c->rx_hdr[0] - c->rx_got;
			dst = c->rx_buf + (c->rx_got - sizeof(c->rx_hdr));
		}
		if (want == 0) {
			c->rx_got = 0; /* the next call starts the next frame */
			if (moved)
				zchan_notify(c);
			return 1;
		}
		n = ed_ring_read(c->h2g, c->ring_size, c->h2g_cons, prod, dst, want);
		if (n < 0) {
			errno = EPROTO;
			return -1;
		}
		if (n == 0) {
			if (moved)
				zchan_notify(c); /* room for the host */
			return 0;
		}
		c->h2g_cons += (uint32_t)n;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		c->sh->h2g_cons = c->h2g_cons;
		moved = 1;
		c->rx_got += (uint32_t)n;
		if (c->rx_got == sizeof(c->rx_hdr) && c->rx_hdr[0] > EDERA_CHANNEL_FRAME_MAX) {
			errno = EPROTO;
			return -1;
		}
	}
}
