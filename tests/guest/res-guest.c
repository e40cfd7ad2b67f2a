/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A guest test program for the zone's resources: memory, vCPUs, grant
 * tables and event channels, seen from inside the guest.  It runs as /test
 * on hvc0 with the terminal in raw mode, prints "RES READY" and then answers
 * every command line from the host with exactly one line starting "RES ":
 *
 *   mem                       RES MEM <MemTotal kB> <MemFree kB>
 *   cpus                      RES CPUS <contents of .../cpu/online>
 *   map DOMID PORT SEED REFS  map the pages granted by DOMID (REFS is
 *                             "ref1,ref2,..."), bind to its event channel
 *                             PORT, check they hold res_pattern(SEED), write
 *                             res_pattern(SEED + 1) over them and notify:
 *                             RES MAPPED ok <npages> | RES MAPPED bad <off>
 *                             (SEED "-": no check, nothing written)
 *   share DOMID N SEED        grant N fresh pages to DOMID, filled with
 *                             res_pattern(SEED), with an unbound event
 *                             channel for DOMID:
 *                             RES SHARED <local port> <ref1>,<ref2>,...
 *   check SEED TIMEOUT_MS     wait for a notification, then check the pages
 *                             hold res_pattern(SEED):
 *                             RES CHECK ok | RES CHECK bad <off> |
 *                             RES CHECK noevent
 *   wait TIMEOUT_MS           RES EVENT | RES NOEVENT
 *   notify                    RES NOTIFIED
 *   pong N                    N times: wait for a notification, copy the
 *                             buffer's first 8 bytes to bytes 8..15 (the
 *                             host sees its ping echoed) and notify back:
 *                             RES PONG <rounds done>
 *   sink ROUNDS               ROUNDS times: wait for a notification, copy
 *                             the pages out, notify back:
 *                             RES SINK <rounds done> <fnv1a-32, 8 hex digits>
 *   unmap / unshare           undo map / share: RES UNMAPPED / RES UNSHARED
 *   exit                      RES BYE, and exit 0
 *
 * A failure is answered "RES ERR <command> <what failed>: <strerror>" and
 * the program goes on; an unknown command "RES ERR unknown <command>".
 * Numbers are parsed as strtoul base 0 (decimal, 0x hex); offsets and refs
 * are printed in decimal.  There is one buffer (mapped or shared) and one
 * bound port at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The kernel's uapi headers, as shipped by libxen-dev, expect the
 * hypervisor's integer types to be defined already; evtchn.h's
 * IOCTL_EVTCHN_RESTRICT_DOMID uses domid_t and nothing here pulls in the
 * hypervisor's public headers for it. */
typedef uint16_t domid_t;
#include <xen/sys/evtchn.h>
#include <xen/sys/gntalloc.h>
#include <xen/sys/gntdev.h>

#include "guest-tty.h"
#include "res-proto.h"

#define MAX_PAGES 1024		/* also xen-gntalloc's default grant limit */
#define LINE_MAX_LEN 16384	/* "map" with 1024 refs is about 11 kB */
#define ROUND_TIMEOUT_MS 10000	/* pong / sink give up after this */

enum buf_kind { BUF_NONE, BUF_MAPPED, BUF_SHARED };

/* The one buffer and the one bound port. */
static struct {
	enum buf_kind kind;
	unsigned char *mem;
	size_t npages;
	uint64_t index;		/* the mmap offset the gnt* device gave */
	int port;		/* local event channel port, -1 if none */
} cur = { .kind = BUF_NONE, .port = -1 };

/* The devices are opened on first use and kept open. */
static int gntdev_fd = -1, gntalloc_fd = -1, evtchn_fd = -1;

/* Every answer is one line, written with one write(2) where it fits, so
 * that kernel messages on the same console are less likely to land inside
 * it. */
__attribute__((format(printf, 1, 2)))
static void reply(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	put(line, (size_t)n);
}

static void fail(const char *cmd, const char *what, int err)
{
	reply("RES ERR %s %s: %s", cmd, what, strerror(err));
}

static int open_dev(int *fd, const char *path)
{
	if (*fd < 0)
		*fd = open(path, O_RDWR | O_CLOEXEC);
	return *fd;
}

/* The event channel device is non-blocking: poll(2) does the waiting, with
 * the timeouts the commands ask for. */
static int open_evtchn(void)
{
	if (evtchn_fd < 0)
		evtchn_fd = open("/dev/xen/evtchn", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	return evtchn_fd;
}

static int parse_ul(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || *out > max)
		return -1;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The evtchn device masks a port when it queues it for reading; writing
 * the port back unmasks it.  A notification that comes while the port is
 * masked stays pending in Xen and is delivered at the unmask, so none is
 * lost (several do coalesce into one). */
static int unmask(int port)
{
	uint32_t p = (uint32_t)port;

	/* Should this fail, the port stays masked and the next wait times
	 * out, which the host sees. */
	return write(evtchn_fd, &p, sizeof(p)) == sizeof(p) ? 0 : -1;
}

/* Wait up to timeout_ms (< 0: for ever) for a notification on the bound
 * port and take it, leaving the port masked: the caller unmasks it when it
 * suits (pong notifies back first, to keep the round trip short).  Other
 * ports (left over from an earlier binding) are unmasked and skipped.
 * Returns 1 with an event, 0 on timeout, -1 on error with errno set. */
static int wait_event(int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = evtchn_fd, .events = POLLIN };
		int left = -1;
		uint32_t p;
		ssize_t r;

		if (timeout_ms >= 0) {
			int64_t d = deadline - now_ms();

			left = d > 0 ? (int)d : 0;
		}
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		r = read(evtchn_fd, &p, sizeof(p));
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r != sizeof(p)) {
			if (r >= 0)
				errno = EIO;
			return -1;
		}
		if ((int)p == cur.port)
			return 1;
		unmask((int)p);
	}
}

/* Throw away whatever notifications are queued now. */
static void drain_events(void)
{
	uint32_t p;

	while (read(evtchn_fd, &p, sizeof(p)) == sizeof(p))
		unmask((int)p);
}

static int notify(int port)
{
	struct ioctl_evtchn_notify n = { .port = (unsigned int)port };

	return ioctl(evtchn_fd, IOCTL_EVTCHN_NOTIFY, &n);
}

static void unbind(void)
{
	struct ioctl_evtchn_unbind u = { .port = (unsigned int)cur.port };

	if (cur.port < 0)
		return;
	ioctl(evtchn_fd, IOCTL_EVTCHN_UNBIND, &u);
	cur.port = -1;
	/* The ring may still hold the old port, and the next binding is
	 * likely to get the same number back. */
	drain_events();
}

static size_t buf_len(void)
{
	return cur.npages * RES_PAGE;
}

/* The offset of the first byte that is not res_pattern(seed, off), or
 * (size_t)-1 if all are. */
static size_t first_bad(uint32_t seed)
{
	size_t n = buf_len();

	for (size_t off = 0; off < n; off++)
		if (cur.mem[off] != res_pattern(seed, off))
			return off;
	return (size_t)-1;
}

static void fill(uint32_t seed)
{
	size_t n = buf_len();

	for (size_t off = 0; off < n; off++)
		cur.mem[off] = res_pattern(seed, off);
}

static int have_buf(const char *cmd)
{
	if (cur.kind == BUF_NONE || cur.port < 0) {
		fail(cmd, "nothing mapped or shared", ENOTCONN);
		return 0;
	}
	return 1;
}

static void cmd_mem(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long total = 0, free_kb = 0, v;
	int got = 0;
	char line[256];

	if (f == NULL) {
		fail("mem", "open /proc/meminfo", errno);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "MemTotal: %lu kB", &v) == 1) {
			total = v;
			got |= 1;
		} else if (sscanf(line, "MemFree: %lu kB", &v) == 1) {
			free_kb = v;
			got |= 2;
		}
	}
	fclose(f);
	if (got != 3) {
		fail("mem", "parse /proc/meminfo", EINVAL);
		return;
	}
	reply("RES MEM %lu %lu", total, free_kb);
}

/* "inflate KIB": what a guest that wants more memory than it was given can
 * do by itself — set its own balloon driver's target (root in the guest may)
 * and let it take pages from Xen. */
static void cmd_inflate(char **argv, int argc)
{
	const char *path = "/sys/devices/system/xen_memory/xen_memory0/target_kb";
	unsigned long kib;
	char v[32];
	int fd, n;

	if (argc != 2 || parse_ul(argv[1], ULONG_MAX >> 10, &kib) < 0) {
		reply("RES ERR inflate: usage: inflate KIB");
		return;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fail("inflate", path, errno);
		return;
	}
	n = snprintf(v, sizeof(v), "%lu", kib);
	if (write(fd, v, (size_t)n) != n) {
		fail("inflate", path, errno);
		close(fd);
		return;
	}
	close(fd);
	reply("RES INFLATE %lu", kib);
}

static void cmd_cpus(void)
{
	char buf[256];
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		fail("cpus", "open /sys/devices/system/cpu/online", errno);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		fail("cpus", "read /sys/devices/system/cpu/online", errno);
		close(fd);
		return;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	reply("RES CPUS %s", buf);
}

/* Parse "r1,r2,..." into refs[]; returns the count, or -1 with errno. */
static int parse_refs(char *s, uint32_t *refs)
{
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (n == MAX_PAGES) {
			errno = E2BIG;
			return -1;
		}
		if (parse_ul(t, UINT32_MAX, &v) < 0) {
			errno = EINVAL;
			return -1;
		}
		refs[n++] = (uint32_t)v;
	}
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

static void cmd_map(char **argv, int argc)
{
	static uint32_t refs[MAX_PAGES];
	struct ioctl_gntdev_map_grant_ref *op;
	struct ioctl_gntdev_unmap_grant_ref un;
	struct ioctl_evtchn_bind_interdomain bind;
	unsigned long domid, port, seed = 0;
	bool check = true;
	const char *what;
	void *mem;
	int n, lport, e;
	size_t len, bad;

	if (argc != 5 || parse_ul(argv[1], 0xffff, &domid) < 0 ||
	    parse_ul(argv[2], UINT32_MAX, &port) < 0 ||
	    (strcmp(argv[3], "-") != 0 && parse_ul(argv[3], UINT32_MAX, &seed) < 0)) {
		fail("map", "usage: map DOMID PORT SEED REF1,REF2,...", EINVAL);
		return;
	}
	check = strcmp(argv[3], "-") != 0;
	n = parse_refs(argv[4], refs);
	if (n < 0) {
		fail("map", "refs (1 to 1024)", errno);
		return;
	}
	if (cur.kind != BUF_NONE) {
		fail("map", "busy, unmap or unshare first", EBUSY);
		return;
	}
	if (open_dev(&gntdev_fd, "/dev/xen/gntdev") < 0) {
		fail("map", "open /dev/xen/gntdev", errno);
		return;
	}
	if (open_evtchn() < 0) {
		fail("map", "open /dev/xen/evtchn", errno);
		return;
	}

	/* The request carries its refs inline, after the header. */
	op = calloc(1, sizeof(*op) + (size_t)(n - 1) * sizeof(op->refs[0]));
	if (op == NULL) {
		fail("map", "calloc", ENOMEM);
		return;
	}
	op->count = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		op->refs[i].domid = (uint32_t)domid;
		op->refs[i].ref = refs[i];
	}
	if (ioctl(gntdev_fd, IOCTL_GNTDEV_MAP_GRANT_REF, op) < 0) {
		fail("map", "IOCTL_GNTDEV_MAP_GRANT_REF", errno);
		free(op);
		return;
	}
	/* The ioctl only reserves a range of the device; in a PV guest the
	 * grants are really mapped by mmap(), so bad refs fail here. */
	len = (size_t)n * RES_PAGE;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, gntdev_fd,
		   (off_t)op->index);
	if (mem == MAP_FAILED) {
		e = errno;
		what = "mmap /dev/xen/gntdev";
		goto undo_grant;
	}
	bind.remote_domain = (unsigned int)domid;
	bind.remote_port = (unsigned int)port;
	lport = ioctl(evtchn_fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
	if (lport < 0) {
		e = errno;
		what = "IOCTL_EVTCHN_BIND_INTERDOMAIN";
		munmap(mem, len);
		goto undo_grant;
	}

	cur.kind = BUF_MAPPED;
	cur.mem = mem;
	cur.npages = (size_t)n;
	cur.index = op->index;
	cur.port = lport;
	free(op);

	bad = (size_t)-1;
	if (check) {
		bad = first_bad((uint32_t)seed);
		fill((uint32_t)seed + 1);
	}

	/* Xen marks the binder's new port pending straight away (whatever was
	 * sent to the remote port while it was unbound is lost, and this
	 * stands in for it), so one spurious event arrives for it.  The host
	 * notifies only once it has our answer, so anything queued now is
	 * stale: swallow it, so that the next wait / check / pong / sink sees
	 * the host's first real notification. */
	if (wait_event(100) == 1)
		unmask(cur.port);
	drain_events();

	if (notify(cur.port) < 0) {
		fail("map", "IOCTL_EVTCHN_NOTIFY", errno);
		return;
	}
	if (bad == (size_t)-1)
		reply("RES MAPPED ok %zu", cur.npages);
	else
		reply("RES MAPPED bad %zu", bad);
	return;

undo_grant:
	un.index = op->index;
	un.count = (uint32_t)n;
	un.pad = 0;
	ioctl(gntdev_fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un);
	free(op);
	fail("map", what, e);
}

static void cmd_share(char **argv, int argc)
{
	static char line[LINE_MAX_LEN];
	struct ioctl_gntalloc_alloc_gref *op;
	struct ioctl_gntalloc_dealloc_gref de;
	struct ioctl_evtchn_bind_unbound_port bind;
	unsigned long domid, n, seed;
	const char *what;
	void *mem;
	int lport, e;
	size_t len, pos;

	if (argc != 4 || parse_ul(argv[1], 0xffff, &domid) < 0 ||
	    parse_ul(argv[2], ULONG_MAX, &n) < 0 ||
	    parse_ul(argv[3], UINT32_MAX, &seed) < 0) {
		fail("share", "usage: share DOMID N SEED", EINVAL);
		return;
	}
	if (n == 0 || n > MAX_PAGES) {
		fail("share", "N (1 to 1024)", n == 0 ? EINVAL : E2BIG);
		return;
	}
	if (cur.kind != BUF_NONE) {
		fail("share", "busy, unmap or unshare first", EBUSY);
		return;
	}
	if (open_dev(&gntalloc_fd, "/dev/xen/gntalloc") < 0) {
		fail("share", "open /dev/xen/gntalloc", errno);
		return;
	}
	if (open_evtchn() < 0) {
		fail("share", "open /dev/xen/evtchn", errno);
		return;
	}

	/* The answer comes back inline too: one gref per page. */
	op = calloc(1, sizeof(*op) + (n - 1) * sizeof(op->gref_ids[0]));
	if (op == NULL) {
		fail("share", "calloc", ENOMEM);
		return;
	}
	op->domid = (uint16_t)domid;
	op->flags = GNTALLOC_FLAG_WRITABLE;
	op->count = (uint32_t)n;
	if (ioctl(gntalloc_fd, IOCTL_GNTALLOC_ALLOC_GREF, op) < 0) {
		fail("share", "IOCTL_GNTALLOC_ALLOC_GREF", errno);
		free(op);
		return;
	}
	len = n * RES_PAGE;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, gntalloc_fd,
		   (off_t)op->index);
	if (mem == MAP_FAILED) {
		e = errno;
		what = "mmap /dev/xen/gntalloc";
		goto undo_grant;
	}
	bind.remote_domain = (unsigned int)domid;
	lport = ioctl(evtchn_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &bind);
	if (lport < 0) {
		e = errno;
		what = "IOCTL_EVTCHN_BIND_UNBOUND_PORT";
		munmap(mem, len);
		goto undo_grant;
	}

	cur.kind = BUF_SHARED;
	cur.mem = mem;
	cur.npages = n;
	cur.index = op->index;
	cur.port = lport;
	/* The host maps the pages only once it has the refs below. */
	fill((uint32_t)seed);

	pos = (size_t)snprintf(line, sizeof(line), "RES SHARED %d ", lport);
	for (unsigned long i = 0; i < n; i++)
		pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "%s%u",
					i ? "," : "", (unsigned int)op->gref_ids[i]);
	line[pos++] = '\n';
	put(line, pos);
	free(op);
	return;

undo_grant:
	/* Deallocating while still mapped is allowed: the grants go away at
	 * the munmap (done above, or never made). */
	de.index = op->index;
	de.count = (uint32_t)n;
	ioctl(gntalloc_fd, IOCTL_GNTALLOC_DEALLOC_GREF, &de);
	free(op);
	fail("share", what, e);
}

static void cmd_unmap(const char *cmd, enum buf_kind kind)
{
	const char *what = NULL;
	int e = 0;

	if (cur.kind != kind) {
		fail(cmd, kind == BUF_MAPPED ? "nothing mapped" : "nothing shared",
		     ENOTCONN);
		return;
	}
	if (munmap(cur.mem, buf_len()) < 0) {
		e = errno;
		what = "munmap";
	}
	if (kind == BUF_MAPPED) {
		struct ioctl_gntdev_unmap_grant_ref un = {
			.index = cur.index, .count = (uint32_t)cur.npages,
		};

		if (ioctl(gntdev_fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &un) < 0 && what == NULL) {
			e = errno;
			what = "IOCTL_GNTDEV_UNMAP_GRANT_REF";
		}
	} else {
		struct ioctl_gntalloc_dealloc_gref de = {
			.index = cur.index, .count = (uint32_t)cur.npages,
		};

		if (ioctl(gntalloc_fd, IOCTL_GNTALLOC_DEALLOC_GREF, &de) < 0 && what == NULL) {
			e = errno;
			what = "IOCTL_GNTALLOC_DEALLOC_GREF";
		}
	}
	/* Forget the buffer whatever failed: there is no retrying these. */
	cur.kind = BUF_NONE;
	cur.mem = NULL;
	cur.npages = 0;
	unbind();
	if (what != NULL)
		fail(cmd, what, e);
	else
		reply(kind == BUF_MAPPED ? "RES UNMAPPED" : "RES UNSHARED");
}

static void cmd_check(char **argv, int argc)
{
	unsigned long seed, ms;
	size_t bad;
	int r;

	if (argc != 3 || parse_ul(argv[1], UINT32_MAX, &seed) < 0 ||
	    parse_ul(argv[2], INT_MAX, &ms) < 0) {
		fail("check", "usage: check SEED TIMEOUT_MS", EINVAL);
		return;
	}
	if (!have_buf("check"))
		return;
	r = wait_event((int)ms);
	if (r < 0) {
		fail("check", "wait for event", errno);
		return;
	}
	if (r == 0) {
		reply("RES CHECK noevent");
		return;
	}
	unmask(cur.port);
	bad = first_bad((uint32_t)seed);
	if (bad == (size_t)-1)
		reply("RES CHECK ok");
	else
		reply("RES CHECK bad %zu", bad);
}

static void cmd_wait(char **argv, int argc)
{
	unsigned long ms;
	int r;

	if (argc != 2 || parse_ul(argv[1], INT_MAX, &ms) < 0) {
		fail("wait", "usage: wait TIMEOUT_MS", EINVAL);
		return;
	}
	if (!have_buf("wait"))
		return;
	r = wait_event((int)ms);
	if (r < 0) {
		fail("wait", "wait for event", errno);
		return;
	}
	if (r == 1)
		unmask(cur.port);
	reply(r == 1 ? "RES EVENT" : "RES NOEVENT");
}

static void cmd_notify(int argc)
{
	if (argc != 1) {
		fail("notify", "usage: notify", EINVAL);
		return;
	}
	if (!have_buf("notify"))
		return;
	if (notify(cur.port) < 0)
		fail("notify", "IOCTL_EVTCHN_NOTIFY", errno);
	else
		reply("RES NOTIFIED");
}

/* The host times the round trips: notify back before unmasking, so the
 * unmask's system call is not in them. */
static void cmd_pong(char **argv, int argc)
{
	unsigned long n, done;

	if (argc != 2 || parse_ul(argv[1], ULONG_MAX, &n) < 0) {
		fail("pong", "usage: pong N", EINVAL);
		return;
	}
	if (!have_buf("pong"))
		return;
	for (done = 0; done < n; done++) {
		int r = wait_event(ROUND_TIMEOUT_MS);

		if (r < 0) {
			fail("pong", "wait for event", errno);
			return;
		}
		if (r == 0)
			break;
		memcpy(cur.mem + 8, (const void *)cur.mem, 8);
		if (notify(cur.port) < 0) {
			fail("pong", "IOCTL_EVTCHN_NOTIFY", errno);
			return;
		}
		unmask(cur.port);
	}
	reply("RES PONG %lu", done);
}

/* Each round the host fills the buffer and notifies; copy it out and
 * notify back at once, so the host can write the next round while this
 * side hashes the private copy.  The hash runs over all the bytes of all
 * the rounds, in order (FNV-1a 32, offset basis 2166136261). */
static void cmd_sink(char **argv, int argc)
{
	unsigned long rounds, done;
	uint32_t h = 2166136261u;
	unsigned char *priv;
	size_t len;

	if (argc != 2 || parse_ul(argv[1], ULONG_MAX, &rounds) < 0) {
		fail("sink", "usage: sink ROUNDS", EINVAL);
		return;
	}
	if (!have_buf("sink"))
		return;
	len = buf_len();
	priv = malloc(len);
	if (priv == NULL) {
		fail("sink", "malloc", ENOMEM);
		return;
	}
	for (done = 0; done < rounds; done++) {
		int r = wait_event(ROUND_TIMEOUT_MS);

		if (r < 0) {
			fail("sink", "wait for event", errno);
			free(priv);
			return;
		}
		if (r == 0)
			break;
		memcpy(priv, cur.mem, len);
		if (notify(cur.port) < 0) {
			fail("sink", "IOCTL_EVTCHN_NOTIFY", errno);
			free(priv);
			return;
		}
		unmask(cur.port);
		for (size_t i = 0; i < len; i++)
			h = (h ^ priv[i]) * 16777619u;
	}
	free(priv);
	reply("RES SINK %lu %08x", done, (unsigned int)h);
}

static void dispatch(char *line)
{
	char *argv[8], *save = NULL;
	int argc = 0;

	for (char *t = strtok_r(line, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
		if (argc < (int)(sizeof(argv) / sizeof(argv[0])))
			argv[argc] = t;
		argc++;
	}
	if (argc == 0)
		return;
	if (strcmp(argv[0], "mem") == 0) {
		cmd_mem();
	} else if (strcmp(argv[0], "inflate") == 0) {
		cmd_inflate(argv, argc);
	} else if (strcmp(argv[0], "cpus") == 0) {
		cmd_cpus();
	} else if (strcmp(argv[0], "map") == 0) {
		cmd_map(argv, argc);
	} else if (strcmp(argv[0], "share") == 0) {
		cmd_share(argv, argc);
	} else if (strcmp(argv[0], "check") == 0) {
		cmd_check(argv, argc);
	} else if (strcmp(argv[0], "wait") == 0) {
		cmd_wait(argv, argc);
	} else if (strcmp(argv[0], "notify") == 0) {
		cmd_notify(argc);
	} else if (strcmp(argv[0], "pong") == 0) {
		cmd_pong(argv, argc);
	} else if (strcmp(argv[0], "sink") == 0) {
		cmd_sink(argv, argc);
	} else if (strcmp(argv[0], "unmap") == 0) {
		cmd_unmap("unmap", BUF_MAPPED);
	} else if (strcmp(argv[0], "unshare") == 0) {
		cmd_unmap("unshare", BUF_SHARED);
	} else if (strcmp(argv[0], "exit") == 0) {
		reply("RES BYE");
		tcdrain(1);
		exit(0);
	} else {
		reply("RES ERR unknown %.64s", argv[0]);
	}
}

int main(void)
{
	static char line[LINE_MAX_LEN];
	size_t len = 0;
	int overlong = 0;

	/* Raw mode: the console must not echo the commands back into the
	 * answers, nor turn "\n" into "\r\n". */
	raw(0);
	raw(1);
	reply("RES READY");
	for (;;) {
		char in[4096];
		ssize_t r = read(0, in, sizeof(in));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 1;
		for (ssize_t i = 0; i < r; i++) {
			char ch = in[i];

			if (ch != '\r' && ch != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = ch;
				else
					overlong = 1;
				continue;
			}
			line[len] = '\0';
			if (overlong) {
				char *save = NULL, *cmd = strtok_r(line, " \t", &save);

				fail(cmd != NULL ? cmd : "?", "line too long", E2BIG);
			} else {
				dispatch(line);
			}
			len = 0;
			overlong = 0;
		}
	}
}
