/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edera: run container images in zones, from the command line.
 *
 *   edera run [OPTIONS] IMAGE [CMD [ARG]...]
 *   edera spare [OPTIONS]
 *   edera ls [--json]
 *   edera rm NAME... | --all
 *   edera images [--json] | edera images prune [--keep MIB]
 *
 * Built on the public API only (edera/workload.h, edera/zone.h).  See
 * edera(1). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

/* Exit statuses of our own, as docker and podman use them. */
enum { EXIT_ERROR = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

#define ENV_MAX 1024

static const char *prog = "edera";
/* How a bad option value exits: edera run's 125, the others' usage 2. */
static int bad_value_exit = EXIT_ERROR;

static void usage_run(FILE *f)
{
	fprintf(f,
	        "usage: edera run [OPTIONS] IMAGE [CMD [ARG]...]\n"
	        "Run a container image in a zone of its own, in the foreground: its stdout and\n"
	        "stderr are ours, signals sent to edera reach it, and edera exits with its status\n"
	        "(128 + the signal when it was killed).\n"
	        "\n"
	        "IMAGE is a local OCI image layout directory, or an OCI or `docker save` archive\n"
	        "(skopeo copy docker://busybox oci:DIR:busybox makes one).  CMD replaces the\n"
	        "image's Entrypoint and Cmd.\n"
	        "\n"
	        "options:\n"
	        "  --name NAME        the zone's name (default: edera-run-<random>)\n"
	        "  --ref NAME         which image of IMAGE, when it holds several\n"
	        "  --memory MIB       the zone's memory (default 256)\n"
	        "  --vcpus N          its vCPUs (default 1)\n"
	        "  --net BRIDGE       a network interface on dom0's bridge BRIDGE (eth0)\n"
	        "  --address A.B.C.D/N, --gateway A.B.C.D, --dns A.B.C.D\n"
	        "                     eth0's address, default route and name server\n"
	        "  -e, --env NAME=VALUE\n"
	        "                     set an environment variable (repeatable)\n"
	        "  -w, --workdir DIR  working directory (default: the image's)\n"
	        "  -u, --user USER[:GROUP]\n"
	        "                     user, names or numbers (default: the image's)\n"
	        "  -i, --interactive  pass our stdin to it (otherwise it reads nothing)\n"
	        "  -t, --tty          give it a terminal\n"
	        "  --ulimit NAME=SOFT[:HARD]\n"
	        "                     a resource limit (nofile, nproc, stack, core, ...; a number\n"
	        "                     or 'unlimited'; HARD defaults to SOFT); repeatable\n"
	        "  --stop-timeout S   after a SIGTERM it ignores, SIGKILL (default 10)\n"
	        "  --kernel PATH      the zone's kernel (default: dom0's own,\n"
	        "                     /boot/vmlinuz-$(uname -r))\n"
	        "  --modules DIR      that kernel's modules (default: /lib/modules/<its release>)\n"
	        "  --init PATH        edera-zone-init (default: $EDERA_ZONE_INIT or the installed one)\n"
	        "  --cache DIR        converted images and decompressed kernels\n"
	        "                     (default: $EDERA_CACHE_DIR or /var/cache/edera)\n"
	        "  --no-spare         boot a zone even when a spare one (edera spare) would do\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "A spare zone booted ahead by edera spare with the same kernel, modules, init,\n"
	        "memory and vCPUs is taken when there is one: the run then starts without\n"
	        "waiting for a kernel's boot.\n"
	        "\n"
	        "exit status: the workload's; 125 edera failed, 126 the command cannot be run,\n"
	        "127 the command was not found.\n");
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: edera COMMAND [ARG]...\n"
	        "Run container images in zones (Xen PV domains with a kernel each).  Run in dom0,\n"
	        "as root.\n"
	        "\n"
	        "commands:\n"
	        "  run [OPTIONS] IMAGE [CMD [ARG]...]\n"
	        "              run an image in a new zone, in the foreground (edera run --help)\n"
	        "  spare [--count N] [OPTIONS]\n"
	        "              boot zones ahead for later runs (edera spare --help)\n"
	        "  ls [--json] list the zones libedera runs on this host\n"
	        "  rm NAME...  destroy these zones (--all: every one)\n"
	        "  images [--json]\n"
	        "              the converted images in the cache\n"
	        "  images prune [--keep MIB]\n"
	        "              remove the least recently used ones\n"
	        "  --help      this text;  --version  the library's version\n");
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static unsigned long number(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		die(bad_value_exit, "%s '%s': a number from 1 to %lu is needed", opt, s, max);
	return v;
}

/* "--ulimit NAME=SOFT[:HARD]" (as docker's): a number or "unlimited"
 * each; HARD defaults to SOFT. */
static void parse_ulimit(const char *arg, edera_rlimit *out)
{
	static const struct {
		const char *name;
		int res;
	} names[] = {
	        {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},
	        {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
	        {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
	        {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE},
	        {"nice", RLIMIT_NICE},       {"nofile", RLIMIT_NOFILE},
	        {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
	        {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},
	        {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
	};
	const char *eq = strchr(arg, '='), *v;
	uint64_t lim[2];
	size_t i;

	for (i = 0; eq && i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == (size_t)(eq - arg) &&
		    strncmp(arg, names[i].name, (size_t)(eq - arg)) == 0)
			break;
	if (!eq || i == sizeof(names) / sizeof(names[0]))
		die(EXIT_ERROR, "--ulimit '%s': NAME=SOFT[:HARD] is needed, NAME one of as, core, "
		    "cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, "
		    "rttime, sigpending, stack", arg);
	out->resource = names[i].res;
	v = eq + 1;
	for (int k = 0; k < 2; k++) {
		char *end;

		if (strncmp(v, "unlimited", 9) == 0) {
			lim[k] = RLIM_INFINITY;
			end = (char *)v + 9;
		} else {
			errno = 0;
			lim[k] = strtoull(v, &end, 10);
			if (errno || end == v || *v == '-')
				end = NULL;
		}
		if (!end || (*end && (*end != ':' || k == 1)))
			die(EXIT_ERROR, "--ulimit '%s': SOFT and HARD are numbers or 'unlimited'", arg);
		if (!*end) {
			if (k == 0)
				lim[1] = lim[0];
			break;
		}
		v = end + 1;
	}
	out->soft = lim[0];
	out->hard = lim[1];
	if (out->soft > out->hard)
		die(EXIT_ERROR, "--ulimit '%s': the soft limit is above the hard one", arg);
}

/* The options edera run and edera spare share (the zone's): whether OPT
 * was one. */
static bool zone_option(int opt, edera_workload_config *wc)
{
	switch (opt) {
	case 'm': wc->memory_mib = number("--memory", optarg, 1u << 20); return true;
	case 'c': wc->vcpus = (uint32_t)number("--vcpus", optarg, 128); return true;
	case 'k': wc->kernel = optarg; return true;
	case 'M': wc->modules_dir = optarg; return true;
	case 'I': wc->init = optarg; return true;
	case 'C':
		/* the images and the context's decompressed kernels */
		wc->cache_dir = optarg;
		setenv("EDERA_CACHE_DIR", optarg, 1);
		return true;
	default: return false;
	}
}

/* ---- run ---- */

struct run {
	edera_ctx *ctx;
	uv_loop_t *loop;
	edera_workload *wl;
	edera_process *proc;
	int status; /* our exit status, once known */
	bool started, ended, zone_gone, failed;
	bool interactive, tty;
	bool progress_shown; /* a progress line is on stderr */
	const char *image;
	/* stdin */
	uv_poll_t in_poll;
	uv_idle_t in_idle;
	bool in_polling, in_idling, in_file, in_done;
	char in_buf[65536];
	size_t in_len, in_off;
	/* signals */
	uv_signal_t sig[5];
	uv_signal_t winch;
	uv_timer_t stop_timer;
	unsigned int stop_timeout_s;
	struct termios saved;
	bool raw;
	int stdin_flags;       /* stdin's file status flags, given back at the end */
	int cancel;            /* a signal before the workload started: stop it then */
	bool pending_close;    /* close_stdin refused with EDERA_EAGAIN: again later */
	int pending_sig;       /* a signal refused likewise */
	uv_timer_t gone_timer; /* the zone's own stop, after the workload ended */
};

static void restore_tty(struct run *r)
{
	if (r->raw) {
		tcsetattr(0, TCSANOW, &r->saved);
		r->raw = false;
	}
}

static void write_all(int fd, const void *p, size_t len)
{
	const char *b = p;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* a terminal shared with stdin, which libuv made non-blocking */
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			(void)poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			return; /* our reader went: what it misses is lost */
		b += n;
		len -= (size_t)n;
	}
}

static void on_output(edera_ctx *ctx, edera_process *proc, int fd, const void *bytes, size_t len,
                      void *data)
{
	(void)ctx;
	(void)proc;
	(void)data;
	if (len)
		write_all(fd, bytes, len);
}

static void stop_input(struct run *r)
{
	if (r->in_polling)
		uv_poll_stop(&r->in_poll);
	if (r->in_idling)
		uv_idle_stop(&r->in_idle);
	r->in_polling = r->in_idling = false;
}

static void start_input(struct run *r);
static void shut_stdin(struct run *r);

/* Pass what stdin has to the workload, until it pushes back. */
static void feed(struct run *r)
{
	for (;;) {
		if (r->in_off == r->in_len) {
			ssize_t n;

			if (r->in_done)
				return;
			n = read(0, r->in_buf, sizeof(r->in_buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				return;
			if (n <= 0) {
				r->in_done = true;
				stop_input(r);
				shut_stdin(r);
				return;
			}
			r->in_len = (size_t)n;
			r->in_off = 0;
		}
		int w = edera_process_write(r->proc, r->in_buf + r->in_off, r->in_len - r->in_off);

		if (w == EDERA_EAGAIN) {
			stop_input(r); /* on_writable starts it again */
			return;
		}
		if (w < 0) {
			r->in_done = true;
			stop_input(r);
			return;
		}
		r->in_off += (size_t)w;
		if (!r->in_file && r->in_off == r->in_len)
			return; /* wait for the next readiness */
	}
}

static void on_in_poll(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	feed(h->data);
}

static void on_in_idle(uv_idle_t *h)
{
	feed(h->data);
}

static void start_input(struct run *r)
{
	if (r->in_done || !r->started || r->ended)
		return;
	if (r->in_file) {
		if (!r->in_idling && uv_idle_start(&r->in_idle, on_in_idle) == 0)
			r->in_idling = true;
	} else if (!r->in_polling && uv_poll_start(&r->in_poll, UV_READABLE, on_in_poll) == 0) {
		r->in_polling = true;
	}
}

static void on_writable(edera_ctx *ctx, edera_process *proc, void *data)
{
	struct run *r = data;

	(void)ctx;
	(void)proc;
	if (r->pending_sig && edera_process_kill(r->proc, r->pending_sig) != EDERA_EAGAIN)
		r->pending_sig = 0;
	if (r->pending_close && edera_process_close_stdin(r->proc) != EDERA_EAGAIN)
		r->pending_close = false;
	start_input(r);
	if (r->in_off < r->in_len)
		feed(r);
}

static void send_signal(struct run *r, int sig)
{
	if (edera_process_kill(r->proc, sig) == EDERA_EAGAIN)
		r->pending_sig = sig;
}

static void shut_stdin(struct run *r)
{
	if (edera_process_close_stdin(r->proc) == EDERA_EAGAIN)
		r->pending_close = true;
}

static void zone_gone_late(uv_timer_t *t)
{
	struct run *r = t->data;

	r->zone_gone = true; /* the destroy at the end removes it */
}

static void on_exit_cb(edera_ctx *ctx, edera_process *proc, int status, int code, int sig,
                       void *data)
{
	struct run *r = data;

	(void)ctx;
	(void)proc;
	r->ended = true;
	stop_input(r);
	uv_timer_stop(&r->stop_timer);
	if (status < 0) {
		restore_tty(r);
		fprintf(stderr, "%s: %s\n", prog, edera_last_error());
		r->status = EXIT_ERROR;
	} else {
		r->status = r->cancel ? 128 + r->cancel : sig ? 128 + sig : code;
	}
	/* the zone powers itself off now; one that does not is destroyed */
	uv_timer_start(&r->gone_timer, zone_gone_late, 30000, 0);
}

static void on_zone_exit(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	struct run *r = data;

	(void)ctx;
	(void)zone;
	(void)reason;
	r->zone_gone = true;
}

static void stop_timeout(uv_timer_t *t)
{
	struct run *r = t->data;

	if (!r->ended)
		send_signal(r, SIGKILL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct run *r = h->data;

	if (!r->started) {
		/* converting or booting: the workload is stopped once it runs */
		r->cancel = signum;
		return;
	}
	if (r->ended) {
		r->zone_gone = true; /* stop waiting for the zone: it is destroyed */
		return;
	}
	send_signal(r, signum);
	if (signum == SIGTERM && r->stop_timeout_s)
		uv_timer_start(&r->stop_timer, stop_timeout, (uint64_t)r->stop_timeout_s * 1000, 0);
}

static void on_winch(uv_signal_t *h, int signum)
{
	struct run *r = h->data;
	struct winsize ws;

	(void)signum;
	if (r->started && !r->ended && ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		(void)edera_process_resize(r->proc, ws.ws_row, ws.ws_col); /* a lost one: the next */
}

/* The image's conversion, on one line of the terminal (stderr), rewritten
 * as it goes and erased when the workload starts. */
static void on_progress(edera_ctx *ctx, const edera_workload_progress *p, void *data)
{
	struct run *r = data;

	(void)ctx;
	fprintf(stderr, "\r\033[K%s: converting %s: ", prog, r->image);
	if (strcmp(p->step, "unpacking") == 0 && p->total)
		fprintf(stderr, "layer %u of %u, %.1f of %.1f MiB", p->layer, p->layers,
		        p->done / 1048576.0, p->total / 1048576.0);
	else if (strcmp(p->step, "unpacking") == 0)
		fprintf(stderr, "layer %u of %u", p->layer, p->layers);
	else
		fprintf(stderr, "%s %u layer%s", p->step, p->layers, p->layers == 1 ? "" : "s");
	fflush(stderr);
	r->progress_shown = true;
}

static void progress_done(struct run *r)
{
	if (r->progress_shown) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
		r->progress_shown = false;
	}
}

static void ran(edera_ctx *ctx, int status, edera_workload *wl, edera_process *proc, void *data)
{
	struct run *r = data;

	progress_done(r);
	(void)ctx;
	if (status < 0) {
		const char *msg = edera_last_error();

		restore_tty(r);
		fprintf(stderr, "%s: %s\n", prog, msg);
		if (strstr(msg, "dom0's own kernel"))
			fprintf(stderr, "%s: give the zone's kernel with --kernel PATH\n", prog);
		r->failed = true;
		r->ended = r->zone_gone = true;
		/* the zone's init refused the command: not found, or not runnable
		 * (an unknown user, a missing directory); anything else is ours */
		r->status = !strstr(msg, "refused process") || status == EDERA_EIO ? EXIT_ERROR
		            : status == EDERA_ENOENT && strstr(msg, "cannot run")  ? EXIT_NOT_FOUND
		                                                                   : EXIT_CANNOT_RUN;
		return;
	}
	r->wl = wl;
	r->proc = proc;
	r->started = true;
	edera_zone_on_exit(edera_workload_zone(wl), on_zone_exit, r);
	if (r->cancel) {
		send_signal(r, SIGKILL); /* asked to stop before it ran */
		return;
	}
	if (r->interactive)
		start_input(r);
	else if (!r->tty)
		shut_stdin(r); /* a terminal stays open, as docker leaves it */
}

static void close_cb(uv_handle_t *h)
{
	(void)h;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"name", required_argument, NULL, 'n'},   {"ref", required_argument, NULL, 'r'},
	        {"memory", required_argument, NULL, 'm'}, {"vcpus", required_argument, NULL, 'c'},
	        {"net", required_argument, NULL, 'N'},    {"address", required_argument, NULL, 'A'},
	        {"gateway", required_argument, NULL, 'G'}, {"dns", required_argument, NULL, 'D'},
	        {"env", required_argument, NULL, 'e'},    {"workdir", required_argument, NULL, 'w'},
	        {"user", required_argument, NULL, 'u'},   {"interactive", no_argument, NULL, 'i'},
	        {"tty", no_argument, NULL, 't'},          {"stop-timeout", required_argument, NULL, 'T'},
	        {"kernel", required_argument, NULL, 'k'}, {"modules", required_argument, NULL, 'M'},
	        {"init", required_argument, NULL, 'I'},   {"cache", required_argument, NULL, 'C'},
	        {"ulimit", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
	        {"no-spare", no_argument, NULL, 'S'},    {NULL, 0, NULL, 0}};
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1};
	static const char *env[ENV_MAX];
	static const char *dns[4];
	static edera_rlimit rl[EDERA_PROCESS_RLIMITS_MAX];
	size_t n_rl = 0;
	static struct run r;
	edera_workload_config wc;
	edera_process_config pc;
	edera_nic_config nic;
	const edera_nic_config *nics[1] = {&nic};
	char name[64];
	int opt;
	size_t n_env = 0, n_dns = 0;

	edera_workload_config_init(&wc);
	edera_process_config_init(&pc);
	edera_nic_config_init(&nic);
	r.stop_timeout_s = 10;
	snprintf(name, sizeof(name), "edera-run-%08lx",
	         (unsigned long)(((unsigned long)getpid() << 16) ^ (unsigned long)time(NULL)));
	wc.name = name;
	/* options stop at IMAGE: what follows is the command's */
	while ((opt = getopt_long(argc, argv, "+e:w:u:ith", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': wc.name = optarg; break;
		case 'r': wc.image_name = optarg; break;
		case 'N': nic.bridge = optarg; wc.nics = nics; wc.n_nics = 1; break;
		case 'A': wc.address = optarg; break;
		case 'G': wc.gateway = optarg; break;
		case 'D':
			if (n_dns == 4)
				die(EXIT_ERROR, "at most 4 --dns");
			dns[n_dns++] = optarg;
			break;
		case 'e':
			if (n_env == ENV_MAX)
				die(EXIT_ERROR, "at most %d --env", ENV_MAX);
			if (!strchr(optarg, '=') || optarg[0] == '=')
				die(EXIT_ERROR, "--env '%s': NAME=VALUE is needed", optarg);
			env[n_env++] = optarg;
			break;
		case 'w': pc.cwd = optarg; break;
		case 'u': pc.user = optarg; break;
		case 'i': r.interactive = true; break;
		case 't': r.tty = true; break;
		case 'L':
			if (n_rl == EDERA_PROCESS_RLIMITS_MAX)
				die(EXIT_ERROR, "at most %d --ulimit", EDERA_PROCESS_RLIMITS_MAX);
			parse_ulimit(optarg, &rl[n_rl]);
			for (size_t i = 0; i < n_rl; i++)
				if (rl[i].resource == rl[n_rl].resource)
					die(EXIT_ERROR, "--ulimit '%s': that limit was given already", optarg);
			n_rl++;
			break;
		case 'T':
			r.stop_timeout_s = (unsigned int)number("--stop-timeout", optarg, 86400);
			break;
		case 'S': wc.no_spare = 1; break;
		case 'h': usage_run(stdout); return 0;
		default:
			if (zone_option(opt, &wc))
				break;
			usage_run(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: an IMAGE is needed\n", prog);
		usage_run(stderr);
		return EXIT_ERROR;
	}
	if ((wc.address || wc.gateway) && !wc.n_nics)
		die(EXIT_ERROR, "--address and --gateway need --net BRIDGE");
	wc.image = argv[optind++];
	wc.dns = dns;
	wc.n_dns = n_dns;
	pc.args = (const char *const *)(argv + optind);
	pc.n_args = (size_t)(argc - optind);
	pc.env = env;
	pc.n_env = n_env;
	pc.rlimits = rl;
	pc.n_rlimits = n_rl;
	pc.terminal = r.tty;
	pc.on_output = on_output;
	pc.on_exit = on_exit_cb;
	pc.on_writable = on_writable;
	pc.data = &r;
	wc.process = &pc;
	if (isatty(2)) {
		r.image = wc.image;
		wc.on_progress = on_progress;
		wc.progress_data = &r;
	}
	if (r.tty && isatty(0)) {
		struct winsize ws;

		if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
			pc.rows = ws.ws_row;
			pc.cols = ws.ws_col;
		}
	}

	signal(SIGPIPE, SIG_IGN); /* a reader that went: write_all stops */
	r.stdin_flags = fcntl(0, F_GETFL);
	if (edera_ctx_open(&r.ctx, NULL) < 0)
		die(EXIT_ERROR, "%s", edera_last_error());
	r.loop = edera_ctx_loop(r.ctx);
	uv_timer_init(r.loop, &r.gone_timer);
	r.gone_timer.data = &r;
	/* stdin: polled when it can be (a pipe, a terminal), read as it comes
	 * when it cannot (a file) */
	if (r.interactive) {
		r.in_poll.data = r.in_idle.data = &r;
		uv_idle_init(r.loop, &r.in_idle);
		if (uv_poll_init(r.loop, &r.in_poll, 0) < 0) {
			r.in_file = true;
			r.in_poll.loop = NULL;
		}
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		uv_signal_init(r.loop, &r.sig[i]);
		r.sig[i].data = &r;
		uv_signal_start(&r.sig[i], on_signal, sigs[i]);
	}
	uv_signal_init(r.loop, &r.winch);
	r.winch.data = &r;
	if (r.tty)
		uv_signal_start(&r.winch, on_winch, SIGWINCH);
	uv_timer_init(r.loop, &r.stop_timer);
	r.stop_timer.data = &r;

	if (edera_workload_run(r.ctx, &wc, ran, &r) < 0) {
		fprintf(stderr, "%s: %s\n", prog, edera_last_error());
		r.status = EXIT_ERROR;
		r.failed = r.ended = r.zone_gone = true;
	} else if (r.tty && r.interactive && isatty(0) && tcgetattr(0, &r.saved) == 0) {
		struct termios raw = r.saved;

		cfmakeraw(&raw);
		if (tcsetattr(0, TCSANOW, &raw) == 0)
			r.raw = true;
	}
	/* until the workload ended and its zone stopped */
	while (!(r.ended && r.zone_gone))
		uv_run(r.loop, UV_RUN_ONCE);
	restore_tty(&r);
	if (r.wl && edera_zone_destroy_sync(edera_workload_zone(r.wl)) < 0)
		fprintf(stderr, "%s: removing the zone: %s\n", prog, edera_last_error());
	stop_input(&r);
	if (r.interactive) {
		if (r.in_poll.loop)
			uv_close((uv_handle_t *)&r.in_poll, close_cb);
		uv_close((uv_handle_t *)&r.in_idle, close_cb);
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		uv_close((uv_handle_t *)&r.sig[i], close_cb);
	uv_close((uv_handle_t *)&r.winch, close_cb);
	uv_close((uv_handle_t *)&r.stop_timer, close_cb);
	uv_close((uv_handle_t *)&r.gone_timer, close_cb);
	uv_run(r.loop, UV_RUN_NOWAIT);
	edera_ctx_close(r.ctx);
	if (r.stdin_flags >= 0)
		(void)fcntl(0, F_SETFL, r.stdin_flags);
	if (r.cancel && !r.ended)
		r.status = 128 + r.cancel;
	return r.status;
}

/* ---- spare ---- */

static void usage_spare(FILE *f)
{
	fprintf(f,
	        "usage: edera spare [OPTIONS]\n"
	        "Boot zones ahead, each with no workload and its init waiting, and print their\n"
	        "names.  A later edera run with the same kernel, modules, init, memory and vCPUs\n"
	        "takes one (each is used once) and starts without waiting for a kernel's boot.\n"
	        "Spares are zones: edera ls shows them, edera rm removes them.\n"
	        "\n"
	        "options:\n"
	        "  --count N          how many (default 1)\n"
	        "  --memory MIB       each one's memory (default 256)\n"
	        "  --vcpus N          its vCPUs (default 1)\n"
	        "  --kernel PATH, --modules DIR, --init PATH, --cache DIR\n"
	        "                     as for edera run\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "exit status: 0 when all were booted; 1 otherwise (those booted stay).\n");
}

static int cmd_spare(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"count", required_argument, NULL, 'n'},  {"memory", required_argument, NULL, 'm'},
	        {"vcpus", required_argument, NULL, 'c'},  {"kernel", required_argument, NULL, 'k'},
	        {"modules", required_argument, NULL, 'M'}, {"init", required_argument, NULL, 'I'},
	        {"cache", required_argument, NULL, 'C'},  {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	edera_workload_config wc;
	unsigned long count = 1;
	edera_ctx *ctx;
	int opt, rc = 0;

	edera_workload_config_init(&wc);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': count = number("--count", optarg, 1000); break;
		case 'h': usage_spare(stdout); return 0;
		default:
			if (zone_option(opt, &wc))
				break;
			usage_spare(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: '%s': edera spare takes no arguments\n", prog, argv[optind]);
		usage_spare(stderr);
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0)
		die(1, "%s", edera_last_error());
	for (unsigned long i = 0; i < count; i++) {
		edera_zone *z;

		if (edera_workload_spare_sync(ctx, &wc, &z) < 0) {
			fprintf(stderr, "%s: %s\n", prog, edera_last_error());
			rc = 1;
			break;
		}
		printf("%s\n", edera_zone_name(z));
		fflush(stdout);
	}
	/* (the zones stay) */
	edera_ctx_close(ctx);
	return rc;
}

/* ---- ls, rm ---- */

static const char *const states[] = {"creating", "running", "paused", "shut down", "exited"};

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static edera_ctx *take_over(void)
{
	edera_ctx *ctx;

	if (edera_ctx_open(&ctx, NULL) < 0)
		die(1, "%s", edera_last_error());
	if (edera_zone_reattach_sync(ctx, NULL, NULL) < 0)
		die(1, "%s", edera_last_error());
	return ctx;
}

static int cmd_ls(int argc, char **argv)
{
	bool json = false;
	edera_ctx *ctx;
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: edera ls [--json]\nList the zones libedera runs on this host "
			       "(any process's).\n");
			return 0;
		} else {
			fprintf(stderr, "usage: edera ls [--json]\n");
			return 2;
		}
	}
	ctx = take_over();
	if (json)
		putchar('[');
	else
		printf("%-24s %6s %-9s %8s %5s  %s\n", "NAME", "DOMAIN", "STATE", "MEMORY", "VCPUS",
		       "UUID");
	for (edera_zone *z = edera_zone_next(ctx, NULL); z; z = edera_zone_next(ctx, z)) {
		edera_zone_info info;

		edera_zone_info_init(&info);
		if (edera_zone_info_get(z, &info) < 0 || info.state < 0 || info.state > 4)
			continue;
		if (json) {
			printf("%s{\"name\":", n ? "," : "");
			json_str(edera_zone_name(z));
			printf(",\"domid\":%u,\"state\":\"%s\",\"memory_kib\":%llu,\"vcpus\":%u,"
			       "\"uuid\":\"%s\"}",
			       edera_zone_domid(z), states[info.state],
			       (unsigned long long)info.memory_kib, info.vcpus_online,
			       edera_zone_uuid(z));
		} else {
			printf("%-24s %6u %-9s %4llu MiB %5u  %s\n", edera_zone_name(z),
			       edera_zone_domid(z), states[info.state],
			       (unsigned long long)(info.memory_kib / 1024), info.vcpus_online,
			       edera_zone_uuid(z));
		}
		n++;
	}
	if (json)
		printf("]\n");
	edera_ctx_close(ctx);
	return 0;
}

static int cmd_rm(int argc, char **argv)
{
	bool all = argc == 2 && strcmp(argv[1], "--all") == 0;
	edera_ctx *ctx;
	int rc = 0;

	if (argc < 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
		fprintf(argc < 2 ? stderr : stdout,
		        "usage: edera rm NAME... | --all\nDestroy zones libedera runs on this host.\n");
		return argc < 2 ? 2 : 0;
	}
	ctx = take_over();
	if (all) {
		edera_zone *z;

		while ((z = edera_zone_next(ctx, NULL))) {
			char name[256];

			snprintf(name, sizeof(name), "%s", edera_zone_name(z));
			if (edera_zone_destroy_sync(z) < 0) {
				fprintf(stderr, "%s: %s: %s\n", prog, name, edera_last_error());
				rc = 1;
				break;
			}
			printf("%s\n", name);
		}
	} else {
		for (int i = 1; i < argc; i++) {
			edera_zone *z = NULL;

			for (edera_zone *it = edera_zone_next(ctx, NULL); it;
			     it = edera_zone_next(ctx, it))
				if (strcmp(edera_zone_name(it), argv[i]) == 0)
					z = it;
			if (!z) {
				fprintf(stderr, "%s: no zone named '%s'\n", prog, argv[i]);
				rc = 1;
			} else if (edera_zone_destroy_sync(z) < 0) {
				fprintf(stderr, "%s: %s: %s\n", prog, argv[i], edera_last_error());
				rc = 1;
			} else {
				printf("%s\n", argv[i]);
			}
		}
	}
	edera_ctx_close(ctx);
	return rc;
}

/* ---- images ---- */

static int cmd_images(int argc, char **argv)
{
	const char *cache = NULL;
	bool json = false, prune = false;
	uint64_t keep = 0;
	edera_image_info *im = NULL;
	size_t n = 0, removed = 0;
	uint64_t freed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "prune") == 0 && i == 1) {
			prune = true;
		} else if (strcmp(argv[i], "--json") == 0 && !prune) {
			json = true;
		} else if (strcmp(argv[i], "--keep") == 0 && prune && i + 1 < argc) {
			i++; /* 0: keep none, as without --keep */
			keep = strcmp(argv[i], "0") == 0 ? 0 : number("--keep", argv[i], 1ul << 40);
		} else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc) {
			cache = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: edera images [--json] [--cache DIR]\n"
			       "       edera images prune [--keep MIB] [--cache DIR]\n"
			       "List the converted images in the cache, most recently used first; or\n"
			       "remove the least recently used until at most MIB are kept (default: "
			       "all).\n");
			return 0;
		} else {
			fprintf(stderr, "usage: edera images [--json] [--cache DIR] | edera images "
			                "prune [--keep MIB] [--cache DIR]\n");
			return 2;
		}
	}
	if (prune) {
		if (edera_images_prune(cache, keep, &removed, &freed) < 0)
			die(1, "%s", edera_last_error());
		printf("removed %zu image(s), %.1f MiB\n", removed, (double)freed / 1048576.0);
		return 0;
	}
	if (edera_images_list(cache, &im, &n) < 0)
		die(1, "%s", edera_last_error());
	if (json)
		putchar('[');
	else
		printf("%-20s %-24s %10s  %s\n", "DIGEST", "NAME", "SIZE", "LAST USED");
	for (size_t i = 0; i < n; i++) {
		char when[64];
		time_t t = (time_t)im[i].last_used;
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
		if (json) {
			printf("%s{\"digest\":\"%s\",\"name\":", i ? "," : "", im[i].digest);
			json_str(im[i].name);
			printf(",\"size\":%llu,\"last_used\":%lld}", (unsigned long long)im[i].size,
			       (long long)im[i].last_used);
		} else {
			printf("%-20.19s %-24s %6.1f MiB  %s\n", im[i].digest, im[i].name,
			       (double)im[i].size / 1048576.0, when);
		}
	}
	if (json)
		printf("]\n");
	edera_free(im);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("edera (libedera %s)\n", edera_version());
		return 0;
	}
	if (strcmp(argv[1], "run") == 0) {
		prog = "edera run";
		return cmd_run(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "spare") == 0) {
		prog = "edera spare";
		bad_value_exit = 2;
		return cmd_spare(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "ls") == 0)
		return cmd_ls(argc - 1, argv + 1);
	if (strcmp(argv[1], "rm") == 0)
		return cmd_rm(argc - 1, argv + 1);
	if (strcmp(argv[1], "images") == 0) {
		bad_value_exit = 2;
		return cmd_images(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: '%s' is not a command\n", prog, argv[1]);
	usage(stderr);
	return 2;
}
