/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edera-zone-init: PID 1 of a workload zone.
 *
 * Packed into the zone's initramfs with the kernel modules it needs (in
 * /modules, loaded in name order).  It mounts /dev, /proc and /sys, opens
 * the channel ED_WL_CHANNEL (lib/workload/proto.h), says READY and waits
 * for the launch request.  Then it mounts the image read-only under a
 * tmpfs overlay (/mnt/root), with proc, sys, dev, devpts, shm and cgroup2
 * inside; sets the host name, /etc/hosts and /etc/resolv.conf; configures
 * eth0 when asked; and runs the workload chrooted there with its argv,
 * environment, working directory, user and groups (looked up in the image's
 * /etc/passwd and /etc/group) and rlimits, on pipes or a terminal.  Its
 * stdout and stderr go to the host as frames, stdin and signals come from
 * it; extra processes (EXEC) run the same way.  It reaps every child.  When
 * the workload ends, what is left is killed, the exit (code or signal) is
 * reported after the output, and the zone powers off.  A request it cannot
 * honour is answered with ERROR and the reason.
 *
 * Its own messages go to the zone's console, prefixed "edera-zone-init:". */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "workload/proto.h"
#include "zchan.h"

#define ROOT        "/mnt/root"
#define PROCS_MAX   64
#define RLIMITS_MAX 16
#define STOP_TIMEOUT_S 10 /* from a shutdown request to SIGKILL */
#define DNS_MAX     4

extern char **environ;

static struct zchan chan;

struct req {
	char **argv, **envp;
	int argc, envc;
	char *cwd, *user, *root, *hostname, *address, *gateway;
	char *dns[DNS_MAX];
	int ndns;
	int terminal;
	uint16_t rows, cols;
	struct {
		uint32_t res;
		struct rlimit lim;
	} rl[RLIMITS_MAX];
	int nrl;
};

struct proc {
	int used;
	uint32_t id;
	pid_t pid;
	int in_fd, out_fd, err_fd; /* -1 when closed; a terminal: out_fd is the master */
	int tty;
	uint8_t *inq;
	size_t inq_len, inq_off;
	int in_close; /* close stdin once the queue is written */
	int exited;   /* reaped: drain what is left, then report */
	int status;
};

static struct proc procs[PROCS_MAX];
static int launched;   /* the workload was started */
static int ending;     /* the workload ended: the zone goes once all is reported */
static int main_done;  /* its EXIT went out */
static char rootdir[64] = ROOT;

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("edera-zone-init: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void poweroff(void)
{
	sync();
	reboot(RB_POWER_OFF);
	_exit(1); /* not PID 1: a test run */
}

/* Something the zone cannot go on without: tell the console and stop. */
static void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("edera-zone-init: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	poweroff();
}

static void send_u32s(uint32_t type, uint32_t id, uint32_t a, uint32_t b, int n)
{
	uint32_t v[3] = {id, a, b};

	if (zchan_send(&chan, type, v, (uint32_t)(sizeof(uint32_t) * (1 + n)), NULL, 0) < 0)
		fatal("sending to the host: %s", strerror(errno));
}

/* ERROR for process ID: E, the errno value that fits (0: none), and why. */
static void send_error(uint32_t id, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void send_error(uint32_t id, int e, const char *fmt, ...)
{
	uint8_t msg[8 + 1024];
	uint32_t v[2] = {id, (uint32_t)e};
	va_list ap;

	memcpy(msg, v, sizeof(v));
	va_start(ap, fmt);
	vsnprintf((char *)msg + 8, sizeof(msg) - 8, fmt, ap);
	va_end(ap);
	say("process %u: %s", id, (char *)msg + 8);
	if (zchan_send(&chan, ED_WL_ERROR, msg, 8 + (uint32_t)strlen((char *)msg + 8), NULL, 0) < 0)
		fatal("sending to the host: %s", strerror(errno));
}

/* ---- the launch request ---- */

static void req_free(struct req *r)
{
	for (int i = 0; i < r->argc; i++)
		free(r->argv[i]);
	for (int i = 0; i < r->envc; i++)
		free(r->envp[i]);
	for (int i = 0; i < r->ndns; i++)
		free(r->dns[i]);
	free(r->argv);
	free(r->envp);
	free(r->cwd);
	free(r->user);
	free(r->root);
	free(r->hostname);
	free(r->address);
	free(r->gateway);
	memset(r, 0, sizeof(*r));
}

/* A string field: no NUL inside. */
static char *field_str(const uint8_t *p, uint32_t len)
{
	char *s;

	if (len > ED_WL_FIELD_MAX || memchr(p, '\0', len))
		return NULL;
	s = malloc(len + 1);
	if (!s)
		fatal("out of memory");
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int push(char ***v, int *n, int max, char *s)
{
	char **nv;

	if (*n >= max)
		return -1;
	nv = realloc(*v, sizeof(char *) * (size_t)(*n + 2));
	if (!nv)
		fatal("out of memory");
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* Parse the fields after the id; WHY says what was wrong. */
static int req_parse(struct req *r, const uint8_t *p, uint32_t len, int launch, char *why,
                     size_t whylen)
{
	memset(r, 0, sizeof(*r));
	while (len > 0) {
		uint16_t tag;
		uint32_t flen;
		char **slot = NULL, *s;

		if (len < 8) {
			snprintf(why, whylen, "a truncated field header");
			return -1;
		}
		memcpy(&tag, p, 2);
		memcpy(&flen, p + 4, 4);
		p += 8;
		len -= 8;
		if (flen > len) {
			snprintf(why, whylen, "field %u longer than the request", tag);
			return -1;
		}
		switch (tag) {
		case ED_WL_F_TERMINAL:
			if (flen != 4)
				goto bad;
			r->terminal = 1;
			memcpy(&r->rows, p, 2);
			memcpy(&r->cols, p + 2, 2);
			break;
		case ED_WL_F_RLIMIT: {
			uint64_t soft, hard;

			if (flen != 20 || r->nrl >= RLIMITS_MAX)
				goto bad;
			memcpy(&r->rl[r->nrl].res, p, 4);
			memcpy(&soft, p + 4, 8);
			memcpy(&hard, p + 12, 8);
			if (r->rl[r->nrl].res >= RLIM_NLIMITS || soft > hard) {
				snprintf(why, whylen, "rlimit %u: not a resource, or soft above hard",
				         r->rl[r->nrl].res);
				return -1;
			}
			r->rl[r->nrl].lim.rlim_cur = soft;
			r->rl[r->nrl].lim.rlim_max = hard;
			r->nrl++;
			break;
		}
		default:
			if (!(s = field_str(p, flen)))
				goto bad;
			switch (tag) {
			case ED_WL_F_ARG:
				if (push(&r->argv, &r->argc, ED_WL_ARGS_MAX, s) < 0)
					goto bad_free;
				break;
			case ED_WL_F_ENV:
				if (!strchr(s, '=') || s[0] == '=' ||
				    push(&r->envp, &r->envc, ED_WL_ENV_MAX, s) < 0)
					goto bad_free;
				break;
			case ED_WL_F_DNS:
				if (!launch || r->ndns >= DNS_MAX)
					goto bad_free;
				r->dns[r->ndns++] = s;
				break;
			case ED_WL_F_CWD: slot = &r->cwd; break;
			case ED_WL_F_USER: slot = &r->user; break;
			case ED_WL_F_ROOT: slot = launch ? &r->root : NULL; break;
			case ED_WL_F_HOSTNAME: slot = launch ? &r->hostname : NULL; break;
			case ED_WL_F_ADDRESS: slot = launch ? &r->address : NULL; break;
			case ED_WL_F_GATEWAY: slot = launch ? &r->gateway : NULL; break;
			default:
				free(s);
				snprintf(why, whylen, "unknown field %u (a newer library than this init?)",
				         tag);
				return -1;
			}
			if (tag == ED_WL_F_ARG || tag == ED_WL_F_ENV || tag == ED_WL_F_DNS)
				break;
			if (!slot || *slot) {
			bad_free:
				free(s);
				goto bad;
			}
			*slot = s;
		}
		p += flen;
		len -= flen;
		continue;
	bad:
		snprintf(why, whylen, "field %u is malformed, repeated or out of place", tag);
		return -1;
	}
	if (r->argc == 0) {
		snprintf(why, whylen, "no command to run");
		return -1;
	}
	return 0;
}

/* ---- the zone's root ---- */

static void mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(buf, mode);
			*p = '/';
		}
	(void)mkdir(buf, mode);
}

static int mount_in(const char *src, const char *dir, const char *type, unsigned long flags,
                    const char *data)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", rootdir, dir);
	mkdirs(path, 0755);
	return mount(src, path, type, flags, data);
}

static int write_in(const char *file, const char *text)
{
	char path[PATH_MAX];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/etc", rootdir);
	mkdirs(path, 0755);
	snprintf(path, sizeof(path), "%s%s", rootdir, file);
	(void)unlink(path); /* a symlink in the image is not followed */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	return close(fd) == 0 && ok ? 0 : -1;
}

/* What a container expects inside its tree: proc, sys, dev (with an
 * image), devpts, shm, cgroup2, and /etc's hostname, hosts and resolv.conf.
 * Run chrooted there (in_image): the image's symlinks resolve inside it. */
static int inside(struct req *r, char *why, size_t whylen)
{
	char text[1024];
	size_t off = 0;

	if (r->root &&
	    (mount_in("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	     mount_in("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	     mount_in("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0)) {
		snprintf(why, whylen, "mounting proc, sys and dev in the image: %s", strerror(errno));
		return -1;
	}
	if (mount_in("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	             "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 ||
	    mount_in("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0 ||
	    mount_in("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	             NULL) < 0) {
		snprintf(why, whylen, "mounting devpts, shm and cgroup2: %s", strerror(errno));
		return -1;
	}
	if (!r->root)
		return 0; /* the initramfs's own /etc is the init's */
	snprintf(text, sizeof(text), "%s\n", r->hostname ? r->hostname : "zone");
	if (write_in("/etc/hostname", text) < 0)
		goto etc;
	snprintf(text, sizeof(text),
	         "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t%s\n",
	         r->hostname ? r->hostname : "zone");
	if (write_in("/etc/hosts", text) < 0)
		goto etc;
	text[0] = '\0';
	for (int i = 0; i < r->ndns && off < sizeof(text); i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "nameserver %s\n", r->dns[i]);
	if (r->ndns && write_in("/etc/resolv.conf", text) < 0)
		goto etc;
	return 0;
etc:
	snprintf(why, whylen, "writing the image's /etc: %s", strerror(errno));
	return -1;
}

/* inside(), in a child chrooted into the tree; its failure's text comes
 * back through a pipe. */
static int in_image(struct req *r, char *why, size_t whylen)
{
	int p[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(why, whylen, "a child to set the image up: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (rootdir[0] && (chroot(rootdir) < 0 || chdir("/") < 0))
			snprintf(why, whylen, "chroot to the image: %s", strerror(errno));
		else if ((rootdir[0] = '\0', inside(r, why, whylen)) == 0)
			_exit(0);
		(void)!write(p[1], why, strlen(why));
		_exit(1);
	}
	close(p[1]);
	do
		n = read(p[0], why, whylen - 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n > 0) {
		why[n] = '\0';
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, whylen, "setting the image up failed");
		return -1;
	}
	return 0;
}

/* Mount the image and what a container expects inside it: 0, or -1 with
 * WHY. */
static int setup_root(struct req *r, char *why, size_t whylen)
{
	char dev[80], fstype[32];
	int n = 0;

	if (!r->root) {
		/* no image: the workload runs in the initramfs itself */
		rootdir[0] = '\0';
	} else {
		char name[64];

		if (sscanf(r->root, "%63s %31s%n", name, fstype, &n) != 2 || r->root[n] ||
		    strchr(name, '/') || name[0] == '.') {
			snprintf(why, whylen, "root '%s' is not 'DEVICE FSTYPE'", r->root);
			return -1;
		}
		snprintf(dev, sizeof(dev), "/dev/%s", name);
		/* the block device appears once its frontend connected */
		for (int i = 0; i < 1000 && access(dev, F_OK) != 0; i++)
			usleep(10000);
		mkdirs("/mnt/lower", 0755);
		mkdirs("/mnt/rw", 0755);
		if (mount(dev, "/mnt/lower", fstype, MS_RDONLY | MS_NODEV, NULL) < 0) {
			snprintf(why, whylen, "mounting the image %s (%s): %s", dev, fstype,
			         strerror(errno));
			return -1;
		}
		if (mount("tmpfs", "/mnt/rw", "tmpfs", MS_NODEV, "mode=0755") < 0) {
			snprintf(why, whylen, "mounting the tmpfs for writes: %s", strerror(errno));
			return -1;
		}
		mkdirs("/mnt/rw/upper", 0755);
		mkdirs("/mnt/rw/work", 0755);
		mkdirs(ROOT, 0755);
		if (mount("overlay", ROOT, "overlay", 0,
		          "lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work") < 0) {
			snprintf(why, whylen, "mounting the overlay: %s", strerror(errno));
			return -1;
		}
	}
	if (r->root) {
		const char *host = r->hostname ? r->hostname : "zone";

		if (sethostname(host, strlen(host)) < 0) {
			snprintf(why, whylen, "host name '%s': %s", host, strerror(errno));
			return -1;
		}
	}
	return in_image(r, why, whylen);
}

static int ifreq_addr(int s, unsigned long op, const char *ifname, in_addr_t a)
{
	struct ifreq ifr;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = a};

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(s, op, &ifr);
}

static int link_up(int s, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* lo always; eth0 with the request's address and gateway. */
static int setup_net(struct req *r, char *why, size_t whylen)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), prefix = -1, n = 0, ok = 0;
	char addr[32];
	struct in_addr a, gw;
	in_addr_t mask;

	if (s < 0) {
		snprintf(why, whylen, "a socket for the network set-up: %s", strerror(errno));
		return -1;
	}
	(void)link_up(s, "lo");
	if (!r->address) {
		close(s);
		return 0;
	}
	if (sscanf(r->address, "%31[0-9.]/%d%n", addr, &prefix, &n) != 2 || r->address[n] ||
	    prefix < 0 || prefix > 32 || inet_pton(AF_INET, addr, &a) != 1 ||
	    (r->gateway && inet_pton(AF_INET, r->gateway, &gw) != 1)) {
		snprintf(why, whylen, "address '%s' or gateway '%s' is not IPv4 A.B.C.D[/N]",
		         r->address, r->gateway ? r->gateway : "");
		close(s);
		return -1;
	}
	mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	/* eth0 appears once netfront connected */
	for (int i = 0; i < 1000; i++) {
		if (link_up(s, "eth0") == 0) {
			ok = 1;
			break;
		}
		usleep(10000);
	}
	if (!ok || ifreq_addr(s, SIOCSIFADDR, "eth0", a.s_addr) < 0 ||
	    ifreq_addr(s, SIOCSIFNETMASK, "eth0", mask) < 0) {
		snprintf(why, whylen, "configuring eth0 as %s: %s", r->address,
		         ok ? strerror(errno) : "no such interface (does the zone have a NIC?)");
		close(s);
		return -1;
	}
	if (r->gateway) {
		struct rtentry rt;
		struct sockaddr_in *sin;

		memset(&rt, 0, sizeof(rt));
		sin = (struct sockaddr_in *)&rt.rt_dst;
		sin->sin_family = AF_INET;
		sin = (struct sockaddr_in *)&rt.rt_genmask;
		sin->sin_family = AF_INET;
		sin = (struct sockaddr_in *)&rt.rt_gateway;
		sin->sin_family = AF_INET;
		sin->sin_addr = gw;
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = (char *)"eth0";
		if (ioctl(s, SIOCADDRT, &rt) < 0) {
			snprintf(why, whylen, "the default route via %s: %s", r->gateway,
			         strerror(errno));
			close(s);
			return -1;
		}
	}
	close(s);
	return 0;
}

/* ---- users ---- */

/* PATH opened for reading if it is a regular file (a FIFO or a device in
 * the image must not stall the init), else NULL. */
static FILE *open_regular(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
		close(fd);
		return NULL;
	}
	return f;
}

/* Find NAME (or the numeric ID when NAME is NULL) in the image's
 * /etc/passwd (GROUP 0) or /etc/group (GROUP 1): the id and, for passwd, the
 * primary group.  1 found, 0 not. */
static int lookup(const char *file, const char *name, unsigned long want, unsigned long *id,
                  unsigned long *gid, char *home, size_t homelen)
{
	char path[PATH_MAX], line[4096];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "%s%s", rootdir, file);
	if (!(f = open_regular(path)))
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *fields[7] = {0}, *p = line, *end;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		while (n < 7) {
			fields[n++] = p;
			if (!(p = strchr(p, ':')))
				break;
			*p++ = '\0';
		}
		if (n < 3 || !*fields[2])
			continue;
		unsigned long this;

		errno = 0;
		this = strtoul(fields[2], &end, 10);
		if (errno || *end)
			continue;
		if (name ? strcmp(fields[0], name) != 0 : this != want)
			continue;
		*id = this;
		if (gid) {
			if (n < 4 || !*fields[3])
				continue;
			*gid = strtoul(fields[3], &end, 10);
			if (*end)
				continue;
			if (home && n >= 6 && strlen(fields[5]) < homelen)
				memcpy(home, fields[5], strlen(fields[5]) + 1);
		}
		found = 1;
	}
	fclose(f);
	return found;
}

/* The supplementary groups naming USER in the image's /etc/group. */
static int member_groups(const char *user, gid_t *groups, int max)
{
	char path[PATH_MAX], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/etc/group", rootdir);
	if (!user || !(f = open_regular(path)))
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char *rest = line, *id, *members, *m, *end;

		line[strcspn(line, "\n")] = '\0';
		/* name:password:gid:members (empty fields kept) */
		(void)strsep(&rest, ":");
		(void)strsep(&rest, ":");
		id = strsep(&rest, ":");
		members = strsep(&rest, ":");
		if (!id || !*id || !members)
			continue;
		while ((m = strsep(&members, ",")))
			if (strcmp(m, user) == 0) {
				unsigned long g = strtoul(id, &end, 10);

				if (!*end && g <= UINT32_MAX)
					groups[n++] = (gid_t)g;
				break;
			}
	}
	fclose(f);
	return n;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

struct cred {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
	char home[256];
};

/* "user[:group]", names or numbers, as the OCI image config's User. */
static int resolve_user(const char *spec, struct cred *c, char *why, size_t whylen)
{
	char user[256], *group;
	unsigned long id, gid = 0;
	const char *name = NULL;

	memset(c, 0, sizeof(*c));
	snprintf(c->home, sizeof(c->home), "/");
	if (!spec || !*spec)
		spec = "0";
	char groupbuf[256];

	snprintf(user, sizeof(user), "%s", spec);
	group = strchr(user, ':');
	if (group) {
		*group++ = '\0';
		/* its own copy: USER is rewritten with the name a number has */
		snprintf(groupbuf, sizeof(groupbuf), "%s", group);
		group = groupbuf;
	}
	if (all_digits(user)) {
		id = strtoul(user, NULL, 10);
		if (id > UINT32_MAX - 1) {
			snprintf(why, whylen, "user id %s is out of range", user);
			return -1;
		}
		/* a number need not be in passwd; when it is, take its group */
		if (lookup("/etc/passwd", NULL, id, &id, &gid, c->home, sizeof(c->home))) {
			char line[4096], path[PATH_MAX];
			FILE *f;

			/* its name, for the supplementary groups */
			snprintf(path, sizeof(path), "%s/etc/passwd", rootdir);
			if ((f = open_regular(path))) {
				while (fgets(line, sizeof(line), f)) {
					char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

					if (c2 && strtoul(c2 + 1, NULL, 10) == id && c2[1] != ':' &&
					    (size_t)(c1 - line) < sizeof(user)) {
						*c1 = '\0';
						memcpy(user, line, (size_t)(c1 - line) + 1);
						name = user;
						break;
					}
				}
				fclose(f);
			}
		}
	} else {
		if (!lookup("/etc/passwd", user, 0, &id, &gid, c->home, sizeof(c->home))) {
			snprintf(why, whylen, "unknown user '%s' (not in the image's /etc/passwd)",
			         user);
			return -1;
		}
		name = user;
	}
	if (group) {
		if (all_digits(group)) {
			gid = strtoul(group, NULL, 10);
		} else if (!lookup("/etc/group", group, 0, &gid, NULL, NULL, 0)) {
			snprintf(why, whylen, "unknown group '%s' (not in the image's /etc/group)",
			         group);
			return -1;
		}
		if (gid > UINT32_MAX - 1) {
			snprintf(why, whylen, "group id %s is out of range", group);
			return -1;
		}
	}
	c->uid = (uid_t)id;
	c->gid = (gid_t)gid;
	c->ngroups = group ? 0 : member_groups(name, c->groups, 64);
	return 0;
}

/* ---- processes ---- */

static struct proc *proc_by_id(uint32_t id)
{
	for (int i = 0; i < PROCS_MAX; i++)
		if (procs[i].used && procs[i].id == id)
			return &procs[i];
	return NULL;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* In the child: a step failed (errno E, TEXT why); tell the parent through
 * FD and go. */
static void child_report(int fd, int e, const char *text) __attribute__((noreturn));
static void child_report(int fd, int e, const char *text)
{
	char msg[1024];

	memcpy(msg, &e, sizeof(e));
	snprintf(msg + sizeof(e), sizeof(msg) - sizeof(e), "%s", text);
	(void)!write(fd, msg, sizeof(e) + strlen(msg + sizeof(e)));
	_exit(127);
}

static void child_fail(int fd, const char *what) __attribute__((noreturn));
static void child_fail(int fd, const char *what)
{
	char msg[1024];
	int e = errno;

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(e));
	child_report(fd, e, msg);
}

static int has_env(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return 1;
	return 0;
}

static void spawn(uint32_t id, struct req *r)
{
	struct proc *p = NULL;
	struct cred c;
	char why[1024], what[PATH_MAX + 64], tty_path[64] = "", buf[1024];
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2], master = -1;
	char *extra[4];
	int nextra = 0;
	sigset_t all;
	pid_t pid;
	ssize_t n;

	if (proc_by_id(id)) {
		send_error(id, EBUSY, "process id %u is in use", id);
		return;
	}
	for (int i = 0; i < PROCS_MAX && !p; i++)
		if (!procs[i].used)
			p = &procs[i];
	if (!p) {
		send_error(id, EAGAIN, "too many processes (at most %d at once)", PROCS_MAX);
		return;
	}
	/* what every container gets unless the request says otherwise (HOME:
	 * once the user is known, in the child) */
	if (!has_env(r->envp, "PATH"))
		extra[nextra++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	if (r->terminal && !has_env(r->envp, "TERM"))
		extra[nextra++] = "TERM=xterm";
	for (int i = 0; i < nextra; i++)
		if (push(&r->envp, &r->envc, ED_WL_ENV_MAX + 4, strdup(extra[i])) < 0 ||
		    !r->envp[r->envc - 1])
			fatal("out of memory");
	if (r->terminal) {
		char ptmx[PATH_MAX];
		int num, unlock = 0;
		struct winsize ws = {.ws_row = r->rows, .ws_col = r->cols};

		snprintf(ptmx, sizeof(ptmx), "%s/dev/pts/ptmx", rootdir);
		master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
		    ioctl(master, TIOCGPTN, &num) < 0) {
			send_error(id, errno, "a terminal: %s", strerror(errno));
			if (master >= 0)
				close(master);
			return;
		}
		(void)ioctl(master, TIOCSWINSZ, &ws);
		snprintf(tty_path, sizeof(tty_path), "/dev/pts/%d", num);
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	           pipe2(err, O_CLOEXEC) < 0) {
		send_error(id, errno, "pipes for its stdio: %s", strerror(errno));
		goto close_fds;
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		send_error(id, errno, "a pipe: %s", strerror(errno));
		goto close_fds;
	}
	pid = fork();
	if (pid < 0) {
		send_error(id, errno, "fork: %s", strerror(errno));
		close(report[0]);
		close(report[1]);
		goto close_fds;
	}
	if (pid == 0) {
		close(report[0]);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (setsid() < 0)
			child_fail(report[1], "setsid");
		if (rootdir[0] && chroot(rootdir) < 0)
			child_fail(report[1], "chroot to the image");
		/* the user, from the image's files as seen inside it */
		rootdir[0] = '\0';
		if (resolve_user(r->user, &c, why, sizeof(why)) < 0)
			child_report(report[1], EINVAL, why);
		if (!has_env(r->envp, "HOME")) {
			snprintf(buf, sizeof(buf), "HOME=%s", c.home);
			if (push(&r->envp, &r->envc, ED_WL_ENV_MAX + 4, buf) < 0)
				child_report(report[1], E2BIG, "too many environment variables");
		}
		if (r->terminal) {
			int t = open(tty_path, O_RDWR);

			if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
				child_fail(report[1], "its terminal");
			dup2(t, 0);
			dup2(t, 1);
			dup2(t, 2);
			if (t > 2)
				close(t);
		} else {
			dup2(in[0], 0);
			dup2(out[1], 1);
			dup2(err[1], 2);
		}
		snprintf(what, sizeof(what), "the working directory '%s'", r->cwd ? r->cwd : "/");
		if (chdir(r->cwd ? r->cwd : "/") < 0)
			child_fail(report[1], what);
		if (setgroups((size_t)c.ngroups, c.groups) < 0)
			child_fail(report[1], "setgroups");
		if (setgid(c.gid) < 0)
			child_fail(report[1], "setgid");
		if (setuid(c.uid) < 0)
			child_fail(report[1], "setuid");
		for (int i = 0; i < r->nrl; i++)
			if (setrlimit((__rlimit_resource_t)r->rl[i].res, &r->rl[i].lim) < 0)
				child_fail(report[1], "setrlimit");
		environ = r->envp;
		execvp(r->argv[0], r->argv);
		snprintf(what, sizeof(what), "cannot run '%s'", r->argv[0]);
		child_fail(report[1], what);
	}
	close(report[1]);
	/* the child's report: nothing (exec closed it) or why it failed */
	do
		n = read(report[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n > 0) {
		int e = EINVAL;

		buf[n] = '\0';
		if (n > (ssize_t)sizeof(e))
			memcpy(&e, buf, sizeof(e));
		waitpid(pid, NULL, 0);
		send_error(id, e, "%s", n > (ssize_t)sizeof(e) ? buf + sizeof(e) : "it failed");
		goto close_fds;
	}
	memset(p, 0, sizeof(*p));
	p->used = 1;
	p->id = id;
	p->pid = pid;
	p->tty = r->terminal;
	if (r->terminal) {
		p->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 0);
		p->out_fd = master;
		p->err_fd = -1;
		master = -1;
		set_nonblock(p->out_fd);
		set_nonblock(p->in_fd);
	} else {
		close(in[0]);
		close(out[1]);
		close(err[1]);
		p->in_fd = in[1];
		p->out_fd = out[0];
		p->err_fd = err[0];
		set_nonblock(p->in_fd);
		set_nonblock(p->out_fd);
		set_nonblock(p->err_fd);
	}
	send_u32s(ED_WL_STARTED, id, (uint32_t)pid, 0, 1);
	return;
close_fds:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	if (master >= 0)
		close(master);
}

static void proc_free(struct proc *p)
{
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	free(p->inq);
	memset(p, 0, sizeof(*p));
}

/* Tell the host N bytes of process ID's stdin are consumed: it may send
 * that much more (ED_WL_STDIN_WINDOW in flight at most). */
static void ack_stdin(uint32_t id, size_t n)
{
	if (n)
		send_u32s(ED_WL_STDIN_ACK, id, (uint32_t)n, 0, 1);
}

/* Its stdin ends: what is queued is dropped (and acknowledged). */
static void close_stdin(struct proc *p)
{
	ack_stdin(p->id, p->inq_len - p->inq_off);
	p->inq_len = p->inq_off = 0;
	if (p->in_fd < 0)
		return;
	if (p->tty) {
		static const char eof = 4; /* ^D at a line's start: the reader's end */

		(void)!write(p->in_fd, &eof, 1);
	}
	close(p->in_fd);
	p->in_fd = -1;
}

/* Write what is queued for a process's stdin. */
static void flush_stdin(struct proc *p)
{
	size_t done = 0;

	while (p->in_fd >= 0 && p->inq_off < p->inq_len) {
		ssize_t n = write(p->in_fd, p->inq + p->inq_off, p->inq_len - p->inq_off);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* EPIPE: it closed its stdin; what comes is dropped */
			close_stdin(p);
			break;
		}
		p->inq_off += (size_t)n;
		done += (size_t)n;
	}
	ack_stdin(p->id, done);
	if (p->inq_off == p->inq_len) {
		p->inq_len = p->inq_off = 0;
		if (p->in_close)
			close_stdin(p);
	}
}

/* Forward what one stream has, as far as the channel has room.  Returns 1
 * when the stream is done (closed, EOF sent). */
static int relay(struct proc *p, int *fd, uint32_t type)
{
	static uint8_t buf[16384];

	for (;;) {
		long room = zchan_room(&chan);
		ssize_t n;
		size_t want;

		if (room < 0)
			fatal("the host's consumer index is impossible");
		if (room < 16 + 256)
			return 0; /* the host wakes us when it reads */
		want = (size_t)room - 16;
		if (want > sizeof(buf))
			want = sizeof(buf);
		n = read(*fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !p->exited)
			return 0;
		if (n <= 0) {
			/* EOF; or, once it exited, nothing more now (a child it left
			 * may hold the pipe: its output after the exit is not waited
			 * for); EIO: a terminal whose last user went */
			close(*fd);
			*fd = -1;
			send_u32s(type, p->id, 0, 0, 0);
			return 1;
		}
		if (zchan_try_send(&chan, type, &p->id, sizeof(p->id), buf, (uint32_t)n) != 1)
			fatal("sending output: %s", strerror(errno));
	}
}

/* A process's EXIT goes once its output did. */
static void maybe_report(struct proc *p)
{
	if (!p->exited || p->out_fd >= 0 || p->err_fd >= 0)
		return;
	if (WIFSIGNALED(p->status))
		send_u32s(ED_WL_EXIT, p->id, ED_WL_KILLED, (uint32_t)WTERMSIG(p->status), 2);
	else
		send_u32s(ED_WL_EXIT, p->id, ED_WL_EXITED, (uint32_t)WEXITSTATUS(p->status), 2);
	if (p->id == 0)
		main_done = 1;
	proc_free(p);
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < PROCS_MAX; i++) {
			struct proc *p = &procs[i];

			if (!p->used || p->pid != pid)
				continue;
			p->exited = 1;
			p->status = status;
			if (p->id == 0 && !ending) {
				/* the workload ended: so does everything else in the zone */
				ending = 1;
				kill(-1, SIGKILL);
			}
			close_stdin(p);
			break;
		}
	}
}

static void on_frame(void)
{
	uint32_t type = chan.rx_hdr[1], len = chan.rx_hdr[0], id, v[2];
	const uint8_t *b = chan.rx_buf;
	struct proc *p;
	struct req r;
	char why[512];

	if (len < 4) {
		say("a frame of type %u without a process id: ignored", type);
		return;
	}
	memcpy(&id, b, 4);
	b += 4;
	len -= 4;
	p = proc_by_id(id);
	switch (type) {
	case ED_WL_LAUNCH:
	case ED_WL_EXEC:
		if (type == ED_WL_LAUNCH ? (launched || id != 0) : (!launched || id == 0 || ending)) {
			send_error(id, type == ED_WL_LAUNCH ? EBUSY : EINVAL,
			           type == ED_WL_LAUNCH ? "the workload was launched already"
			                                    : "no workload to run it beside (or id 0)");
			return;
		}
		if (req_parse(&r, b, len, type == ED_WL_LAUNCH, why, sizeof(why)) < 0) {
			send_error(id, EINVAL, "a bad request: %s", why);
		} else if (type == ED_WL_LAUNCH &&
		           (setup_root(&r, why, sizeof(why)) < 0 ||
		            setup_net(&r, why, sizeof(why)) < 0)) {
			send_error(id, EIO, "%s", why);
		} else {
			spawn(id, &r);
		}
		req_free(&r);
		if (type == ED_WL_LAUNCH) {
			launched = 1;
			if (!proc_by_id(0)) {
				/* it could not start: the zone has nothing to do */
				ending = 1;
				main_done = 1;
			}
		}
		return;
	case ED_WL_STDIN:
		if (!p || p->in_fd < 0 || p->in_close) {
			ack_stdin(id, len); /* gone or closed: dropped */
			return;
		}
		if (len == 0) {
			p->in_close = 1;
		} else {
			uint8_t *q;

			/* what is written goes; the rest moves to the front */
			if (p->inq_off)
				memmove(p->inq, p->inq + p->inq_off, p->inq_len - p->inq_off);
			p->inq_len -= p->inq_off;
			p->inq_off = 0;
			q = realloc(p->inq, p->inq_len + len);
			if (!q)
				fatal("out of memory");
			memcpy(q + p->inq_len, b, len);
			p->inq = q;
			p->inq_len += len;
		}
		flush_stdin(p);
		return;
	case ED_WL_SIGNAL:
		if (len != 4)
			return;
		memcpy(v, b, 4);
		if (p && !p->exited && v[0] >= 1 && v[0] <= (uint32_t)SIGRTMAX)
			kill(p->pid, (int)v[0]);
		return;
	case ED_WL_RESIZE:
		if (len == 4 && p && p->tty && p->out_fd >= 0) {
			struct winsize ws = {0};

			memcpy(&ws.ws_row, b, 2);
			memcpy(&ws.ws_col, b + 2, 2);
			(void)ioctl(p->out_fd, TIOCSWINSZ, &ws);
		}
		return;
	default:
		say("a frame of unknown type %u: ignored", type);
	}
}

/* Whether the kernel's command line says ED_WL_SPARE_ARG (a word). */
static int spare_zone(void)
{
	char line[4096], *w, *save = NULL;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof(line) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	for (w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (strcmp(w, ED_WL_SPARE_ARG) == 0)
			return 1;
	return 0;
}

static void load_modules(void)
{
	struct dirent **names;
	int n = scandir("/modules", &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		int fd;

		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "/modules/%s", names[i]->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
				say("module %s: %s", names[i]->d_name, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

int main(void)
{
	const char *what;
	sigset_t chld;
	int sfd, fd;
	uint32_t v[2] = {0, ED_WL_VERSION};
	double linger_end = 0, stop_at = 0;

	(void)mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	(void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	(void)mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (getpid() != 1) {
		/* run as /sbin/poweroff or /sbin/reboot: the kernel's orderly
		 * shutdown (Xen's control/shutdown) asks PID 1 to stop */
		return kill(1, SIGPWR) == 0 ? 0 : 1;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigaddset(&chld, SIGPWR);
	sigaddset(&chld, SIGTERM);
	sigaddset(&chld, SIGINT);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		fatal("signalfd: %s", strerror(errno));
	load_modules();
	/* A spare zone (booted ahead, edera_workload_spare) waits for the
	 * run that takes it without end; otherwise the host opens the channel
	 * as the zone starts. */
	if (zchan_open(&chan, ED_WL_CHANNEL, spare_zone() ? -1 : 60000, sfd, &what) < 0 &&
	    errno == ECANCELED) {
		/* a spare asked to stop (shut down) before any run took it */
		say("%s", what);
		poweroff();
	}
	if (!chan.sh)
		fatal("the channel '%s': %s: %s", ED_WL_CHANNEL, what, strerror(errno));
	send_u32s(ED_WL_READY, v[0], v[1], 0, 1);

	for (;;) {
		struct pollfd pfd[2 + 3 * PROCS_MAX];
		struct proc *who[2 + 3 * PROCS_MAX];
		int np = 0, r;

		/* the host's frames (it keeps each process's stdin within the
		 * window: the queues stay bounded without holding the ring) */
		while ((r = zchan_recv(&chan)) == 1)
			on_frame();
		if (r < 0)
			fatal("the host's frames: %s", strerror(errno));
		for (int i = 0; i < PROCS_MAX; i++) {
			struct proc *p = &procs[i];

			if (!p->used)
				continue;
			if (p->out_fd >= 0)
				relay(p, &p->out_fd, ED_WL_STDOUT);
			if (p->err_fd >= 0)
				relay(p, &p->err_fd, ED_WL_STDERR);
			maybe_report(p);
		}
		if (ending && main_done) {
			int left = 0;

			for (int i = 0; i < PROCS_MAX; i++)
				left += procs[i].used;
			/* everything reported: let the host read it, then go */
			if (!left) {
				if (!linger_end)
					linger_end = (double)time(NULL) + 10;
				if (zchan_unread(&chan) == 0 || (double)time(NULL) > linger_end)
					poweroff();
			}
		}
		pfd[np] = (struct pollfd){.fd = chan.evfd, .events = POLLIN};
		who[np++] = NULL;
		pfd[np] = (struct pollfd){.fd = sfd, .events = POLLIN};
		who[np++] = NULL;
		for (int i = 0; i < PROCS_MAX; i++) {
			struct proc *p = &procs[i];

			if (!p->used)
				continue;
			/* output only while the channel has room (it wakes us) */
			if (p->out_fd >= 0 && zchan_room(&chan) >= 16 + 256) {
				pfd[np] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
				who[np++] = p;
			}
			if (p->err_fd >= 0 && zchan_room(&chan) >= 16 + 256) {
				pfd[np] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
				who[np++] = p;
			}
			if (p->in_fd >= 0 && p->inq_off < p->inq_len) {
				pfd[np] = (struct pollfd){.fd = p->in_fd, .events = POLLOUT};
				who[np++] = p;
			}
		}
		if (poll(pfd, (nfds_t)np, (ending && main_done) || stop_at ? 100 : 5000) < 0 &&
		    errno != EINTR)
			fatal("poll: %s", strerror(errno));
		if (pfd[0].revents)
			zchan_events(&chan);
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD || stop_at)
					continue;
				/* asked to stop: the workload gets SIGTERM, then the
				 * stop timeout */
				say("asked to stop (signal %u)", si.ssi_signo);
				stop_at = (double)time(NULL) + STOP_TIMEOUT_S;
				if (!launched || !proc_by_id(0)) {
					ending = main_done = 1;
					launched = 1;
				} else {
					kill(proc_by_id(0)->pid, SIGTERM);
				}
			}
		}
		if (stop_at && (double)time(NULL) > stop_at && !ending) {
			ending = 1;
			kill(-1, SIGKILL);
		}
		reap();
		for (int i = 2; i < np; i++)
			if (pfd[i].revents && (pfd[i].events & POLLOUT))
				flush_stdin(who[i]);
	}
}
