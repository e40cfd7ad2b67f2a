/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edera-zone-init (zone-init/) in a Linux zone, driven over its channel
 * the way the workload support speaks to it (lib/workload/proto.h): the
 * zone boots the init's initramfs (EDERA_ZONE_INITRD) with the test image
 * (EDERA_WL_IMAGE, erofs: busybox, a user "edera") as a read-only disk. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "edera/edera.h"
#include "suites.h"
#include "util.h"
#include "workload/proto.h"

#define IDS 4

struct wl {
	edera_channel *ch;
	int ready;
	uint32_t version;
	struct {
		int started, exited, out_eof, err_eof, error;
		uint32_t errnum;
		uint64_t acked; /* stdin the init took */
		uint32_t pid, kind, value;
		char *out, *err;
		size_t out_len, err_len;
		char msg[1024];
	} p[IDS];
	int ended;
	int bad; /* frames that broke the protocol */
	int zone_exit;
	struct text con;
};

static void append(char **buf, size_t *len, const uint8_t *b, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	ck_assert(*buf);
	if (n)
		memcpy(*buf + *len, b, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void on_frame(edera_ctx *ctx, edera_channel *ch, uint32_t type, const void *payload,
                     size_t len, void *data)
{
	struct wl *w = data;
	const uint8_t *b = payload;
	uint32_t id, v[2] = {0, 0};

	(void)ctx;
	(void)ch;
	if (len < 4) {
		w->bad++;
		return;
	}
	memcpy(&id, b, 4);
	b += 4;
	len -= 4;
	if (id >= IDS) {
		w->bad++;
		return;
	}
	if (len >= 4)
		memcpy(&v[0], b, 4);
	if (len >= 8)
		memcpy(&v[1], b + 4, 4);
	switch (type) {
	case ED_WL_READY:
		w->ready = 1;
		w->version = v[0];
		break;
	case ED_WL_STARTED:
		w->p[id].started = 1;
		w->p[id].pid = v[0];
		break;
	case ED_WL_STDOUT:
		if (w->p[id].out_eof)
			w->bad++;
		if (len == 0)
			w->p[id].out_eof = 1;
		append(&w->p[id].out, &w->p[id].out_len, b, len);
		break;
	case ED_WL_STDERR:
		if (w->p[id].err_eof)
			w->bad++;
		if (len == 0)
			w->p[id].err_eof = 1;
		append(&w->p[id].err, &w->p[id].err_len, b, len);
		break;
	case ED_WL_EXIT:
		/* after the output */
		if (len != 8 || !w->p[id].out_eof || w->p[id].exited)
			w->bad++;
		w->p[id].exited = 1;
		w->p[id].kind = v[0];
		w->p[id].value = v[1];
		break;
	case ED_WL_STDIN_ACK:
		if (len != 4)
			w->bad++;
		w->p[id].acked += v[0];
		break;
	case ED_WL_ERROR:
		if (len < 4 || v[0] == 0)
			w->bad++;
		w->p[id].error = 1;
		w->p[id].errnum = v[0];
		snprintf(w->p[id].msg, sizeof(w->p[id].msg), "%.*s", (int)(len - 4),
		         (const char *)b + 4);
		break;
	default:
		w->bad++;
	}
}

static void on_end(edera_ctx *ctx, edera_channel *ch, int status, void *data)
{
	(void)ctx;
	(void)ch;
	((struct wl *)data)->ended = status ? status : 1;
}

static void wl_free(struct wl *w)
{
	for (int i = 0; i < IDS; i++) {
		free(w->p[i].out);
		free(w->p[i].err);
	}
	if (w->ch)
		edera_channel_close(w->ch);
	free(w);
}

/* A zone booting the init with the test image; its channel open. */
static edera_zone *wl_zone(edera_ctx *ctx, const char *name, struct wl **out)
{
	edera_zone_config cfg;
	edera_disk_config disk;
	const edera_disk_config *disks[1] = {&disk};
	edera_channel_config cc;
	edera_zone *z = NULL;
	struct wl *w = calloc(1, sizeof(*w));

	ck_assert(w);
	edera_disk_config_init(&disk);
	disk.path = env("EDERA_WL_IMAGE");
	disk.vdev = "xvda";
	disk.readonly = 1;
	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_ZONE_INITRD");
	cfg.cmdline = "console=hvc0 quiet loglevel=3";
	cfg.memory_mib = 192;
	cfg.disks = disks;
	cfg.n_disks = 1;
	ck_assert_msg(edera_zone_create_sync(ctx, &cfg, &z) == 0, "%s", edera_last_error());
	edera_zone_on_exit(z, on_exit_flag, &w->zone_exit);
	ck_assert_int_eq(edera_console_subscribe(z, EDERA_CONSOLE_REPLAY, collect, &w->con, NULL),
	                 0);
	edera_channel_config_init(&cc);
	cc.name = ED_WL_CHANNEL;
	cc.on_frame = on_frame;
	cc.on_end = on_end;
	cc.data = w;
	ck_assert_msg(edera_channel_open(z, &cc, &w->ch) == 0, "%s", edera_last_error());
	ck_assert_msg(run_until(ctx, &w->ready, 120), "the init did not say READY: '%s'",
	              w->con.buf);
	ck_assert_uint_eq(w->version, ED_WL_VERSION);
	*out = w;
	return z;
}

struct msg {
	uint8_t b[64 * 1024];
	uint32_t len;
};

static void put_u32(struct msg *m, uint32_t v)
{
	memcpy(m->b + m->len, &v, 4);
	m->len += 4;
}

static void field(struct msg *m, uint16_t tag, const void *p, uint32_t len)
{
	uint16_t zero = 0;

	ck_assert(m->len + 8 + len <= sizeof(m->b));
	memcpy(m->b + m->len, &tag, 2);
	memcpy(m->b + m->len + 2, &zero, 2);
	memcpy(m->b + m->len + 4, &len, 4);
	memcpy(m->b + m->len + 8, p, len);
	m->len += 8 + len;
}

static void fstr(struct msg *m, uint16_t tag, const char *s)
{
	field(m, tag, s, (uint32_t)strlen(s));
}

/* A request for process ID: ARGV (NULL-terminated), then USER if any. */
static void request(struct msg *m, uint32_t id, const char *const *argv, const char *user)
{
	m->len = 0;
	put_u32(m, id);
	for (; *argv; argv++)
		fstr(m, ED_WL_F_ARG, *argv);
	if (user)
		fstr(m, ED_WL_F_USER, user);
}

static void wl_send(struct wl *w, uint32_t type, struct msg *m)
{
	ck_assert_msg(edera_channel_send(w->ch, type, m->b, m->len) == 0, "%s",
	              edera_last_error());
}

static void launch_root(struct msg *m)
{
	fstr(m, ED_WL_F_ROOT, "xvda erofs");
	fstr(m, ED_WL_F_HOSTNAME, "wl-test");
	fstr(m, ED_WL_F_DNS, "192.0.2.53");
}

struct pwait {
	struct wl *w;
	int id;
};

static int exited(void *arg)
{
	struct pwait *p = arg;

	return p->w->p[p->id].exited || p->w->p[p->id].error;
}

static void wait_exit(edera_ctx *ctx, struct wl *w, int id)
{
	struct pwait p = {w, id};

	ck_assert_msg(run_pred(ctx, exited, &p, 120), "process %d did not end: out '%s' console '%s'",
	              id, w->p[id].out ? w->p[id].out : "", w->con.buf);
}

/* stdout and stderr apart, the user, the host name, the overlay over the
 * image, the exit code; the zone powers off after. */
START_TEST(runs_a_command_and_reports_its_exit)
{
	edera_ctx *ctx = NULL;
	struct wl *w;
	struct msg *m = malloc(sizeof(*m));
	const char *argv[] = {"/bin/sh", "-c",
	                      "echo out; echo err >&2; id -u; id -G; hostname; cat /etc/resolv.conf; "
	                      "cat /etc/edera-image; pwd; echo $HOME; "
	                      "echo new >/tmp/new && cat /tmp/new; exit 7",
	                      NULL};

	ck_assert(m);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	(void)wl_zone(ctx, "wl-run", &w);
	request(m, 0, argv, "edera");
	launch_root(m);
	fstr(m, ED_WL_F_CWD, "/tmp");
	wl_send(w, ED_WL_LAUNCH, m);
	wait_exit(ctx, w, 0);
	ck_assert_msg(!w->p[0].error, "%s", w->p[0].msg);
	ck_assert(w->p[0].started && w->p[0].pid > 1);
	ck_assert_str_eq(w->p[0].out, "out\n1000\n1000 2000\nwl-test\nnameserver 192.0.2.53\n"
	                              "from the image\n/tmp\n/home/edera\nnew\n");
	ck_assert_str_eq(w->p[0].err, "err\n");
	ck_assert(w->p[0].err_eof);
	ck_assert_uint_eq(w->p[0].kind, ED_WL_EXITED);
	ck_assert_uint_eq(w->p[0].value, 7);
	ck_assert_int_eq(w->bad, 0);
	/* the init powers the zone off once it reported */
	ck_assert_msg(run_until(ctx, &w->zone_exit, 60), "the zone did not stop: '%s'", w->con.buf);
	wl_free(w);
	edera_ctx_close(ctx);
	free(m);
}
END_TEST

/* 4 MiB through stdin come back byte-exact through cat; closing stdin
 * ends it. */
START_TEST(stdin_round_trip)
{
	edera_ctx *ctx = NULL;
	struct wl *w;
	struct msg *m = malloc(sizeof(*m));
	const char *argv[] = {"cat", NULL};
	const size_t total = 4u << 20, chunk = 32768;
	size_t sent = 0;

	ck_assert(m);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	(void)wl_zone(ctx, "wl-stdin", &w);
	request(m, 0, argv, NULL);
	launch_root(m);
	wl_send(w, ED_WL_LAUNCH, m);
	while (sent < total) {
		m->len = 0;
		put_u32(m, 0);
		for (size_t i = 0; i < chunk; i++)
			m->b[4 + i] = (uint8_t)((sent + i) * 13 % 253);
		m->len += (uint32_t)chunk;
		int r;

		/* as the library does: at most the window unacknowledged */
		if (sent + chunk - w->p[0].acked > ED_WL_STDIN_WINDOW) {
			uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
			continue;
		}
		r = edera_channel_send(w->ch, ED_WL_STDIN, m->b, m->len);
		if (r == EDERA_EAGAIN) {
			uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
			continue;
		}
		ck_assert_msg(r == 0, "%s", edera_last_error());
		sent += chunk;
	}
	m->len = 0;
	put_u32(m, 0);
	for (;;) {
		int r = edera_channel_send(w->ch, ED_WL_STDIN, m->b, m->len);

		if (r != EDERA_EAGAIN) {
			ck_assert_int_eq(r, 0);
			break;
		}
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	}
	wait_exit(ctx, w, 0);
	ck_assert_msg(!w->p[0].error, "%s", w->p[0].msg);
	ck_assert_uint_eq(w->p[0].out_len, total);
	ck_assert_uint_eq(w->p[0].acked, total); /* every byte acknowledged */
	for (size_t i = 0; i < total; i++)
		if ((uint8_t)w->p[0].out[i] != (uint8_t)(i * 13 % 253))
			ck_abort_msg("byte %zu differs", i);
	ck_assert_uint_eq(w->p[0].kind, ED_WL_EXITED);
	ck_assert_uint_eq(w->p[0].value, 0);
	ck_assert_int_eq(w->bad, 0);
	ck_assert(run_until(ctx, &w->zone_exit, 60));
	wl_free(w);
	edera_ctx_close(ctx);
	free(m);
}
END_TEST

/* An extra process beside the workload; a signal ends the workload (exit
 * by signal); a terminal when asked for. */
START_TEST(exec_signal_and_terminal)
{
	edera_ctx *ctx = NULL;
	struct wl *w;
	struct msg *m = malloc(sizeof(*m));
	const char *sleeper[] = {"sleep", "600", NULL};
	const char *echo[] = {"/bin/sh", "-c", "echo beside; exit 3", NULL};
	const char *tty[] = {"/bin/sh", "-c", "tty; stty size", NULL};
	uint16_t size[2] = {33, 101};
	uint32_t sig[2] = {0, SIGTERM};

	ck_assert(m);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	(void)wl_zone(ctx, "wl-exec", &w);
	request(m, 0, sleeper, NULL);
	launch_root(m);
	wl_send(w, ED_WL_LAUNCH, m);
	ck_assert(run_until(ctx, &w->p[0].started, 60));
	request(m, 1, echo, NULL);
	wl_send(w, ED_WL_EXEC, m);
	wait_exit(ctx, w, 1);
	ck_assert_msg(!w->p[1].error, "%s", w->p[1].msg);
	ck_assert_str_eq(w->p[1].out, "beside\n");
	ck_assert_uint_eq(w->p[1].value, 3);
	request(m, 2, tty, NULL);
	field(m, ED_WL_F_TERMINAL, size, sizeof(size));
	wl_send(w, ED_WL_EXEC, m);
	wait_exit(ctx, w, 2);
	ck_assert_msg(!w->p[2].error, "%s", w->p[2].msg);
	ck_assert_str_eq(w->p[2].out, "/dev/pts/0\r\n33 101\r\n");
	ck_assert_uint_eq(w->p[2].kind, ED_WL_EXITED);
	ck_assert_uint_eq(w->p[2].value, 0);
	/* an EXEC for the workload's own id is refused, the workload goes on */
	request(m, 0, echo, NULL);
	wl_send(w, ED_WL_EXEC, m);
	wait_exit(ctx, w, 0);
	ck_assert_msg(w->p[0].error && strstr(w->p[0].msg, "no workload to run it beside (or id 0)"),
	              "%s", w->p[0].msg);
	ck_assert(!w->p[0].exited);
	w->p[0].error = 0;
	m->len = 0;
	memcpy(m->b, sig, sizeof(sig));
	m->len = sizeof(sig);
	wl_send(w, ED_WL_SIGNAL, m);
	wait_exit(ctx, w, 0);
	ck_assert_uint_eq(w->p[0].kind, ED_WL_KILLED);
	ck_assert_uint_eq(w->p[0].value, SIGTERM);
	ck_assert_int_eq(w->bad, 0);
	ck_assert(run_until(ctx, &w->zone_exit, 60));
	wl_free(w);
	edera_ctx_close(ctx);
	free(m);
}
END_TEST

/* Requests that cannot be honoured are answered with the reason, and the
 * zone goes. */
static void refused(const char *name, const char *const *argv, const char *user,
                    const char *cwd, const char *want, uint32_t errnum)
{
	edera_ctx *ctx = NULL;
	struct wl *w;
	struct msg *m = malloc(sizeof(*m));

	ck_assert(m);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	(void)wl_zone(ctx, name, &w);
	request(m, 0, argv, user);
	launch_root(m);
	if (cwd)
		fstr(m, ED_WL_F_CWD, cwd);
	wl_send(w, ED_WL_LAUNCH, m);
	wait_exit(ctx, w, 0);
	ck_assert_msg(w->p[0].error, "no error");
	ck_assert_msg(strstr(w->p[0].msg, want), "'%s' lacks '%s'", w->p[0].msg, want);
	ck_assert_uint_eq(w->p[0].errnum, errnum);
	ck_assert(!w->p[0].started);
	ck_assert_msg(run_until(ctx, &w->zone_exit, 60), "the zone did not stop: '%s'", w->con.buf);
	wl_free(w);
	edera_ctx_close(ctx);
	free(m);
}

START_TEST(bad_requests_are_refused_with_the_reason)
{
	const char *nope[] = {"/bin/no-such-program", NULL};
	const char *sh[] = {"/bin/sh", "-c", "true", NULL};

	refused("wl-nocmd", nope, NULL, NULL, "cannot run '/bin/no-such-program': No such file",
	        ENOENT);
	refused("wl-nouser", sh, "nobody-here", NULL, "unknown user 'nobody-here'", EINVAL);
	refused("wl-nocwd", sh, NULL, "/no/such/dir", "working directory '/no/such/dir'", ENOENT);
}
END_TEST

/* ---- the workload API (edera/workload.h) over the same init ---- */

struct run {
	int done, status;
	char msg[1024];
	edera_workload *wl;
	edera_process *proc;
	struct {
		char *out, *err;
		size_t out_len, err_len;
		int out_end, err_end;
		int exited, status, code, sig;
		char msg[1024];
	} p[3];
};

/* The workload's own process is 0, the others 1. */
static int pidx(struct run *r, edera_process *proc)
{
	return proc == r->proc ? 0 : 1;
}

static void api_output(edera_ctx *ctx, edera_process *proc, int fd, const void *bytes, size_t len,
                       void *data)
{
	struct run *r = data;
	int i = pidx(r, proc);

	(void)ctx;
	if (fd == 1) {
		if (len == 0)
			r->p[i].out_end = 1;
		append(&r->p[i].out, &r->p[i].out_len, bytes, len);
	} else {
		ck_assert_int_eq(fd, 2);
		if (len == 0)
			r->p[i].err_end = 1;
		append(&r->p[i].err, &r->p[i].err_len, bytes, len);
	}
}

static void api_exit(edera_ctx *ctx, edera_process *proc, int status, int code, int sig,
                     void *data)
{
	struct run *r = data;
	int i = pidx(r, proc);

	(void)ctx;
	ck_assert_int_eq(r->p[i].exited, 0); /* once */
	r->p[i].exited = 1;
	r->p[i].status = status;
	r->p[i].code = code;
	r->p[i].sig = sig;
	snprintf(r->p[i].msg, sizeof(r->p[i].msg), "%s", status < 0 ? edera_last_error() : "");
}

static void api_ran(edera_ctx *ctx, int status, edera_workload *wl, edera_process *proc,
                    void *data)
{
	struct run *r = data;

	(void)ctx;
	r->done = 1;
	r->status = status;
	r->wl = wl;
	r->proc = proc;
	snprintf(r->msg, sizeof(r->msg), "%s", status < 0 ? edera_last_error() : "");
}

static const char *modules_dir(void)
{
	static char path[512];
	char kver[128] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernel-version", env("RIG_CACHE"));
	f = fopen(path, "r");
	ck_assert_msg(f, "%s", path);
	ck_assert(fscanf(f, "%127s", kver) == 1);
	fclose(f);
	snprintf(path, sizeof(path), "%s/root/lib/modules/%s", env("RIG_CACHE"), kver);
	return path;
}

static void api_config(edera_workload_config *wc, edera_process_config *pc, const char *name,
                       struct run *r)
{
	memset(r, 0, sizeof(*r));
	edera_process_config_init(pc);
	pc->on_output = api_output;
	pc->on_exit = api_exit;
	pc->data = r;
	edera_workload_config_init(wc);
	wc->name = name;
	wc->image = env("EDERA_WL_OCI");
	wc->cache_dir = "/tmp/edera-wl-cache";
	wc->kernel = linux_kernel();
	wc->modules_dir = modules_dir();
	wc->init = env("EDERA_ZONE_INIT");
	wc->memory_mib = 192;
	wc->process = pc;
}

/* What a run said of its image's conversion. */
struct progress {
	int calls, unpacking, packing;
	uint32_t layers, last_layer;
	uint64_t last_done, last_total;
};

static void api_progress(edera_ctx *ctx, const edera_workload_progress *p, void *data)
{
	struct progress *g = data;

	(void)ctx;
	g->calls++;
	g->layers = p->layers;
	if (strcmp(p->step, "unpacking") == 0) {
		g->unpacking++;
		ck_assert_uint_le(p->done, p->total);
		g->last_layer = p->layer;
		g->last_done = p->done;
		g->last_total = p->total;
	} else if (strcmp(p->step, "packing") == 0) {
		g->packing++;
	}
}

static void api_run(edera_ctx *ctx, edera_workload_config *wc, struct run *r)
{
	ck_assert_msg(edera_workload_run(ctx, wc, api_ran, r) == 0, "%s", edera_last_error());
	ck_assert_msg(run_until(ctx, &r->done, 300), "the run did not end");
}

static void api_wait(edera_ctx *ctx, struct run *r, int i)
{
	ck_assert_msg(run_until(ctx, &r->p[i].exited, 120), "process %d did not end: '%s'", i,
	              r->p[i].out ? r->p[i].out : "");
}

static void api_free(struct run *r)
{
	for (int i = 0; i < 3; i++) {
		free(r->p[i].out);
		free(r->p[i].err);
	}
}

/* Nothing left: no zone in the context, no domain but dom0's. */
static void nothing_left(edera_ctx *ctx, int domains)
{
	ck_assert_ptr_null(edera_zone_next(ctx, NULL));
	for (int i = 0; i < 600 && xl_domains() != domains; i++)
		uv_sleep(100);
	ck_assert_int_eq(xl_domains(), domains);
}

/* The image's Entrypoint, Cmd, Env, WorkingDir and User; then the
 * caller's args and env over them, a whited-out file, stderr apart and the
 * exit code; the zone goes by itself. */
START_TEST(api_runs_the_image_and_its_overrides)
{
	edera_ctx *ctx = NULL;
	edera_workload_config wc;
	edera_process_config pc;
	struct run *r = calloc(1, sizeof(*r));
	int exited = 0, domains;
	const char *args[] = {"/bin/sh", "-c",
	                      "test -e /etc/gone || echo gone; cat /etc/edera-image; "
	                      "echo $OVERRIDDEN $FROM_IMAGE; ulimit -n; ulimit -Hn; echo err >&2; "
	                      "exit 5"};
	const edera_rlimit rl[] = {{RLIMIT_NOFILE, 512, 1024}};
	const char *envs[] = {"OVERRIDDEN=caller"};
	struct progress progress = {0};

	ck_assert(r);
	sweep_leftovers();
	domains = xl_domains();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	/* an empty image cache: this run converts, and says how it goes */
	(void)mkdir("/tmp/edera-wl-cache", 0700);
	ck_assert_int_eq(edera_images_prune("/tmp/edera-wl-cache", 0, NULL, NULL), 0);
	api_config(&wc, &pc, "wl-api-default", r);
	wc.on_progress = api_progress;
	wc.progress_data = &progress;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	/* (states are coalesced: the last one, packing, always arrives; the
	 * layers' as the loop wakes up, each within its bounds) */
	ck_assert_int_eq(progress.packing, 1);
	ck_assert_uint_eq(progress.layers, 2);
	if (progress.unpacking) {
		ck_assert_uint_ge(progress.last_layer, 1);
		ck_assert_uint_le(progress.last_layer, 2);
		ck_assert_uint_gt(progress.last_total, 0);
	}
	ck_assert_ptr_eq(edera_workload_process(r->wl), r->proc);
	ck_assert_ptr_eq(edera_process_workload(r->proc), r->wl);
	ck_assert_uint_gt(edera_process_pid(r->proc), 1);
	edera_zone_on_exit(edera_workload_zone(r->wl), on_exit_flag, &exited);
	api_wait(ctx, r, 0);
	ck_assert_msg(r->p[0].status == 0, "%s", r->p[0].msg);
	ck_assert_str_eq(r->p[0].out, "default command\nedera\n/home/edera\nyes\n");
	ck_assert(r->p[0].out_end && r->p[0].err_end);
	ck_assert_int_eq(r->p[0].code, 0);
	ck_assert_int_eq(r->p[0].sig, 0);
	ck_assert(run_until(ctx, &exited, 60));
	ck_assert_int_eq(edera_zone_destroy_sync(edera_workload_zone(r->wl)), 0);
	api_free(r);

	api_config(&wc, &pc, "wl-api-args", r);
	/* the image is in the cache now: nothing to report */
	memset(&progress, 0, sizeof(progress));
	wc.on_progress = api_progress;
	wc.progress_data = &progress;
	pc.args = args;
	pc.n_args = 3;
	pc.env = envs;
	pc.n_env = 1;
	pc.user = "root";
	pc.rlimits = rl;
	pc.n_rlimits = 1;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	api_wait(ctx, r, 0);
	ck_assert_str_eq(r->p[0].out, "gone\nfrom the image\ncaller yes\n512\n1024\n");
	ck_assert_str_eq(r->p[0].err, "err\n");
	ck_assert_int_eq(r->p[0].code, 5);
	ck_assert_int_eq(progress.calls, 0);
	ck_assert_int_eq(edera_zone_destroy_sync(edera_workload_zone(r->wl)), 0);
	api_free(r);
	nothing_left(ctx, domains);
	edera_ctx_close(ctx);
	free(r);
}
END_TEST

/* How many ".tmp-*" entries the cache holds (a packed root's, a dead
 * conversion's). */
static int cache_tmps(const char *dir)
{
	char cmd[512];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c '^\\.tmp-'", dir);
	f = popen(cmd, "r");
	ck_assert(f);
	ck_assert(fscanf(f, "%d", &n) == 1);
	pclose(f);
	return n;
}

/* A directory as the zone's root (what containerd's snapshotter gives):
 * busybox and a file owned by 1234:5678, no image config; packed for the
 * run, kept read-only under the overlay, its packed image gone once the
 * zone runs; refused without args, or with an image too. */
START_TEST(api_runs_a_root_directory)
{
	edera_ctx *ctx = NULL;
	edera_workload_config wc;
	edera_process_config pc;
	struct run *r = calloc(1, sizeof(*r));
	const char *root = "/tmp/edera-wl-rootfs";
	const char *args[] = {"/bin/sh", "-c",
	                      "cat /etc/marker; stat -c '%u:%g %a' /etc/marker; id -u; pwd; "
	                      "echo new > /etc/marker && cat /etc/marker; exit 4"};
	char cmd[1024];
	int domains;

	ck_assert(r);
	sweep_leftovers();
	domains = xl_domains();
	snprintf(cmd, sizeof(cmd),
	         "rm -rf %s && mkdir -p %s/bin %s/etc && cp /bin/busybox %s/bin/busybox && "
	         "for a in sh cat stat id pwd; do ln -s busybox %s/bin/$a; done && "
	         "echo from the directory > %s/etc/marker && chown 1234:5678 %s/etc/marker && "
	         "chmod 640 %s/etc/marker",
	         root, root, root, root, root, root, root, root);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	(void)mkdir("/tmp/edera-wl-cache", 0700);

	/* refused at once: no args, or an image as well */
	api_config(&wc, &pc, "wl-rootfs", r);
	wc.image = NULL;
	wc.rootfs = root;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, api_ran, r), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "give the process's args"), "%s",
	              edera_last_error());
	api_config(&wc, &pc, "wl-rootfs", r);
	wc.rootfs = root;
	pc.args = args;
	pc.n_args = 3;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, api_ran, r), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "give one of them"), "%s", edera_last_error());
	/* not a directory: in the callback, named */
	api_config(&wc, &pc, "wl-rootfs", r);
	wc.image = NULL;
	wc.rootfs = "/etc/hostname";
	pc.args = args;
	pc.n_args = 3;
	api_run(ctx, &wc, r);
	ck_assert_int_eq(r->status, EDERA_EINVAL);
	ck_assert_msg(strstr(r->msg, "'/etc/hostname' is not a directory"), "%s", r->msg);

	api_config(&wc, &pc, "wl-rootfs", r);
	wc.image = NULL;
	wc.rootfs = root;
	pc.args = args;
	pc.n_args = 3;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	/* the zone runs: its loop device holds the packed image, whose
	 * temporary directory is gone */
	ck_assert_int_eq(cache_tmps("/tmp/edera-wl-cache"), 0);
	api_wait(ctx, r, 0);
	ck_assert_msg(r->p[0].status == 0, "%s", r->p[0].msg);
	ck_assert_str_eq(r->p[0].out, "from the directory\n1234:5678 640\n0\n/\nnew\n");
	ck_assert_int_eq(r->p[0].code, 4);
	ck_assert_int_eq(edera_zone_destroy_sync(edera_workload_zone(r->wl)), 0);
	api_free(r);
	/* the directory itself is untouched */
	snprintf(cmd, sizeof(cmd), "grep -qx 'from the directory' %s/etc/marker", root);
	ck_assert_msg(system(cmd) == 0, "the workload's write reached %s", root);
	nothing_left(ctx, domains);
	ck_assert_int_eq(cache_tmps("/tmp/edera-wl-cache"), 0);
	edera_ctx_close(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ck_assert_int_eq(system(cmd), 0);
	free(r);
}
END_TEST

/* stdin in, an extra process beside the workload, a signal; the end of the
 * zone while a process runs is reported too. */
START_TEST(api_stdin_exec_and_kill)
{
	edera_ctx *ctx = NULL;
	edera_workload_config wc;
	edera_process_config pc, ec;
	edera_process *extra;
	struct run *r = calloc(1, sizeof(*r));
	const char *cat[] = {"/bin/sh", "-c", "cat; sleep 600"};
	const char *echo[] = {"echo", "beside"};
	static char data[200000];
	size_t off = 0;
	int domains;

	ck_assert(r);
	sweep_leftovers();
	domains = xl_domains();
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 23);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	api_config(&wc, &pc, "wl-api-stdin", r);
	pc.args = cat;
	pc.n_args = 3;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	while (off < sizeof(data)) {
		int n = edera_process_write(r->proc, data + off, sizeof(data) - off);

		if (n == EDERA_EAGAIN) {
			uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
			continue;
		}
		ck_assert_msg(n > 0, "%s", edera_last_error());
		off += (size_t)n;
	}
	ck_assert_int_eq(edera_process_close_stdin(r->proc), 0);
	ck_assert_int_eq(edera_process_write(r->proc, "x", 1), EDERA_EINVAL);
	for (int i = 0; i < 3000 && r->p[0].out_len < sizeof(data); i++)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	ck_assert_uint_eq(r->p[0].out_len, sizeof(data));
	ck_assert(memcmp(r->p[0].out, data, sizeof(data)) == 0);

	edera_process_config_init(&ec);
	ec.args = echo;
	ec.n_args = 2;
	ec.on_output = api_output;
	ec.on_exit = api_exit;
	ec.data = r;
	ck_assert_int_eq(edera_workload_exec(r->wl, &ec, &extra), 0);
	ck_assert_ptr_ne(extra, r->proc);
	api_wait(ctx, r, 1);
	ck_assert_str_eq(r->p[1].out, "beside\n");
	ck_assert_int_eq(r->p[1].code, 0);
	/* an exec the zone refuses */
	r->p[1].exited = 0;
	free(r->p[1].out);
	r->p[1].out = NULL;
	r->p[1].out_len = 0;
	ec.user = "nobody-at-all";
	ck_assert_int_eq(edera_workload_exec(r->wl, &ec, &extra), 0);
	api_wait(ctx, r, 1);
	ck_assert_int_eq(r->p[1].status, EDERA_EINVAL);
	ck_assert_msg(strstr(r->p[1].msg, "unknown user 'nobody-at-all'"), "%s", r->p[1].msg);
	ck_assert_int_eq(edera_process_kill(r->proc, 0), EDERA_EINVAL);
	ck_assert_int_eq(edera_process_kill(r->proc, SIGKILL), 0);
	api_wait(ctx, r, 0);
	ck_assert_int_eq(r->p[0].status, 0);
	ck_assert_int_eq(r->p[0].sig, SIGKILL);
	ck_assert_int_eq(r->p[0].code, -1);
	ck_assert_int_eq(edera_process_kill(r->proc, SIGTERM), EDERA_EINVAL); /* it ended */
	ck_assert_int_eq(edera_zone_destroy_sync(edera_workload_zone(r->wl)), 0);
	api_free(r);
	nothing_left(ctx, domains);
	edera_ctx_close(ctx);
	free(r);
}
END_TEST

/* What cannot run says why, and leaves no zone. */
START_TEST(api_failures_leave_nothing)
{
	edera_ctx *ctx = NULL;
	edera_workload_config wc;
	edera_process_config pc;
	struct run *r = calloc(1, sizeof(*r));
	const char *nope[] = {"/bin/nope"};
	int domains;

	ck_assert(r);
	sweep_leftovers();
	domains = xl_domains();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	/* at once */
	api_config(&wc, &pc, "wl-api-bad", r);
	wc.image = NULL;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, api_ran, r), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "image is required"), "%s", edera_last_error());
	/* in the callback: no image, no kernel, an unknown user, no command */
	api_config(&wc, &pc, "wl-api-bad", r);
	wc.image = "/no/such/image";
	api_run(ctx, &wc, r);
	ck_assert_int_eq(r->status, EDERA_ENOENT);
	ck_assert_msg(strstr(r->msg, "/no/such/image"), "%s", r->msg);
	api_config(&wc, &pc, "wl-api-bad", r);
	wc.kernel = "/no/such/kernel";
	wc.modules_dir = NULL;
	api_run(ctx, &wc, r);
	ck_assert_int_eq(r->status, EDERA_ENOENT);
	ck_assert_msg(strstr(r->msg, "/no/such/kernel"), "%s", r->msg);
	api_config(&wc, &pc, "wl-api-bad", r);
	pc.user = "nobody-at-all";
	api_run(ctx, &wc, r);
	ck_assert_int_eq(r->status, EDERA_EINVAL);
	ck_assert_msg(strstr(r->msg, "unknown user 'nobody-at-all'"), "%s", r->msg);
	ck_assert_ptr_null(r->wl);
	api_config(&wc, &pc, "wl-api-bad", r);
	pc.args = nope;
	pc.n_args = 1;
	api_run(ctx, &wc, r);
	ck_assert_int_eq(r->status, EDERA_ENOENT);
	ck_assert_msg(strstr(r->msg, "cannot run '/bin/nope'"), "%s", r->msg);
	ck_assert_int_eq(r->p[0].exited, 0); /* the run's callback said it */
	nothing_left(ctx, domains);
	edera_ctx_close(ctx);
	free(r);
}
END_TEST

/* A spare booted by one context, closed: a run in another takes it (the
 * same domain, renamed, its mark gone) and runs the image in it; a spare
 * booted by the run's own context is taken with its handle; a run whose
 * memory differs boots a zone of its own and leaves the spare. */
START_TEST(api_spare_zones_are_taken)
{
	edera_ctx *ctx = NULL;
	edera_workload_config wc;
	edera_process_config pc;
	struct run *r = calloc(1, sizeof(*r));
	const char *args[] = {"/bin/sh", "-c", "hostname; echo $((6 * 7)); exit 3"};
	edera_zone *spare;
	uint32_t domid, domid2;
	char node[96], *name = NULL;
	int domains;

	ck_assert(r);
	sweep_leftovers();
	domains = xl_domains();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	api_config(&wc, &pc, "wl-spare-1", r);
	ck_assert_msg(edera_workload_spare_sync(ctx, &wc, &spare) == 0, "%s", edera_last_error());
	domid = edera_zone_domid(spare);
	ck_assert_str_eq(edera_zone_name(spare), "wl-spare-1");
	snprintf(node, sizeof(node), "/local/domain/%u/edera/spare", domid);
	ck_assert(xs_exists(ctx, node));
	/* the name is taken in this context */
	ck_assert_int_eq(edera_workload_spare_sync(ctx, &wc, NULL), EDERA_EEXIST);
	edera_ctx_close(ctx); /* the spare stays */
	ck_assert_int_eq(xl_domains(), domains + 1);

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	api_config(&wc, &pc, "wl-from-spare", r);
	pc.args = args;
	pc.n_args = 3;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	ck_assert_uint_eq(edera_zone_domid(edera_workload_zone(r->wl)), domid);
	ck_assert_str_eq(edera_zone_name(edera_workload_zone(r->wl)), "wl-from-spare");
	ck_assert(!xs_exists(ctx, node));
	snprintf(node, sizeof(node), "/local/domain/%u/name", domid);
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, node, &name, NULL), 0);
	ck_assert_str_eq(name, "wl-from-spare");
	edera_free(name);
	api_wait(ctx, r, 0);
	ck_assert_msg(r->p[0].status == 0, "%s", r->p[0].msg);
	ck_assert_str_eq(r->p[0].out, "wl-from-spare\n42\n");
	ck_assert_int_eq(r->p[0].code, 3);
	ck_assert_int_eq(edera_zone_destroy_sync(edera_workload_zone(r->wl)), 0);
	api_free(r);

	/* one of this context's: taken with its handle; a run of another
	 * size leaves it */
	api_config(&wc, &pc, "wl-spare-2", r);
	ck_assert_msg(edera_workload_spare_sync(ctx, &wc, &spare) == 0, "%s", edera_last_error());
	domid2 = edera_zone_domid(spare);
	api_config(&wc, &pc, "wl-other-size", r);
	wc.memory_mib = 160;
	pc.args = args;
	pc.n_args = 3;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	ck_assert_uint_ne(edera_zone_domid(edera_workload_zone(r->wl)), domid2);
	api_wait(ctx, r, 0);
	ck_assert_int_eq(r->p[0].code, 3);
	ck_assert_int_eq(edera_zone_destroy_sync(edera_workload_zone(r->wl)), 0);
	api_free(r);
	api_config(&wc, &pc, "wl-own-spare", r);
	pc.args = args;
	pc.n_args = 3;
	api_run(ctx, &wc, r);
	ck_assert_msg(r->status == 0, "%s", r->msg);
	ck_assert_ptr_eq(edera_workload_zone(r->wl), spare);
	ck_assert_str_eq(edera_zone_name(spare), "wl-own-spare");
	api_wait(ctx, r, 0);
	ck_assert_str_eq(r->p[0].out, "wl-own-spare\n42\n");
	ck_assert_int_eq(edera_zone_destroy_sync(spare), 0);
	api_free(r);
	nothing_left(ctx, domains);
	edera_ctx_close(ctx);
	free(r);
}
END_TEST

Suite *workload_suite(void)
{
	Suite *s = suite_create("workload");
	TCase *tc = tcase_create("init");

	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, runs_a_command_and_reports_its_exit);
	tcase_add_test(tc, stdin_round_trip);
	tcase_add_test(tc, exec_signal_and_terminal);
	tcase_add_test(tc, bad_requests_are_refused_with_the_reason);
	suite_add_tcase(s, tc);
	tc = tcase_create("api");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, api_runs_the_image_and_its_overrides);
	tcase_add_test(tc, api_stdin_exec_and_kill);
	tcase_add_test(tc, api_runs_a_root_directory);
	tcase_add_test(tc, api_failures_leave_nothing);
	tcase_add_test(tc, api_spare_zones_are_taken);
	suite_add_tcase(s, tc);
	return s;
}
