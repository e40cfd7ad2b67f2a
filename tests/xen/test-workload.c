/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edera-zone-init (zone-init/) in a Linux zone, driven over its channel
 * the way the workload support speaks to it (lib/workload/proto.h): the
 * zone boots the init's initramfs (EDERA_ZONE_INITRD) with the test image
 * (EDERA_WL_IMAGE, erofs: busybox, a user "edera") as a read-only disk. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	case ED_WL_ERROR:
		w->p[id].error = 1;
		snprintf(w->p[id].msg, sizeof(w->p[id].msg), "%.*s", (int)len, (const char *)b);
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
		int r = edera_channel_send(w->ch, ED_WL_STDIN, m->b, m->len);

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
                    const char *cwd, const char *want)
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

	refused("wl-nocmd", nope, NULL, NULL, "cannot run '/bin/no-such-program': No such file");
	refused("wl-nouser", sh, "nobody-here", NULL, "unknown user 'nobody-here'");
	refused("wl-nocwd", sh, NULL, "/no/such/dir", "working directory '/no/such/dir'");
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
	return s;
}
