/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zones built by libedera itself, against real Xen, checked with Xen's own
 * view (xl list, xenstore) and the guest's console output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#include "suites.h"
#include "util.h"

#define XL "/usr/lib/xen-4.17/bin/xl"

struct exit_state {
	int exits;
	int reason;
};

static void on_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	struct exit_state *s = data;

	s->exits++;
	s->reason = reason;
}

/* Whether the zone's console history (served by the library) holds NEEDLE. */
static int history_has(edera_zone *z, const char *needle)
{
	static char buf[64 * 1024 + 1];
	long n = edera_console_history(z, buf, sizeof(buf) - 1);

	ck_assert_msg(n >= 0, "history: %s", edera_last_error());
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* Whether xenconsoled's log of NAME (a zone in EDERA_CONSOLE_XENCONSOLED
 * mode) holds NEEDLE. */
static int console_has(const char *name, const char *needle)
{
	char path[256], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/var/log/xen/console/guest-%s.log", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = 1;
	fclose(f);
	return found;
}

START_TEST(zone_boots_runs_and_powers_off)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_zone *z = NULL;
	struct exit_state s = { 0, -1 };
	char dpath[64];
	uint32_t domid;
	int before = xl_domains();
	time_t deadline;
	int rc;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-zone-hello";
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_HELLO");
	cfg.cmdline = "console=hvc0 quiet edera.test.args=zone-says-hi";
	cfg.memory_mib = 256;
	rc = edera_zone_create_sync(ctx, &cfg, &z);
	ck_assert_msg(rc == 0, "create: %s", edera_last_error());
	domid = edera_zone_domid(z);
	ck_assert_uint_gt(domid, 0);
	ck_assert_str_eq(edera_zone_name(z), "edera-zone-hello");
	ck_assert_ptr_eq(edera_zone_lookup(ctx, "edera-zone-hello"), z);
	ck_assert_int_eq(xl_domains(), before + 1);
	snprintf(dpath, sizeof(dpath), "/local/domain/%u/edera/managed", domid);
	ck_assert(xs_exists(ctx, dpath));
	/* xl sees it under its name */
	ck_assert_int_eq(system(XL " domid edera-zone-hello >/dev/null"), 0);

	edera_zone_on_exit(z, on_exit_cb, &s);
	deadline = time(NULL) + 180;
	while (s.exits == 0) {
		ck_assert_msg(time(NULL) < deadline, "the zone never exited");
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	}
	ck_assert_int_eq(s.reason, EDERA_ZONE_EXIT_POWEROFF);
	/* its last words were delivered before the exit event */
	ck_assert_msg(history_has(z, "EDERA-TEST-PROGRAM zone-says-hi 42"),
	              "the guest's program line is not in its console history");
	ck_assert_msg(history_has(z, "EDERA-GUEST-EXIT 3"), "the guest's last line is missing");
	/* cleaned up by the library (on its loop): no domain, no nodes */
	snprintf(dpath, sizeof(dpath), "/local/domain/%u", domid);
	deadline = time(NULL) + 60;
	while ((xl_domains() != before || xs_exists(ctx, dpath)) && time(NULL) < deadline) {
		uv_run(edera_ctx_loop(ctx), UV_RUN_NOWAIT);
		usleep(200 * 1000);
	}
	ck_assert_int_eq(xl_domains(), before);
	ck_assert(!xs_exists(ctx, dpath));
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0); /* only frees the handle now */
	edera_ctx_close(ctx);
}
END_TEST

START_TEST(bad_input_leaves_nothing)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_zone *z = NULL;
	int before = xl_domains();
	char **names;
	size_t n_before, n_after;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n_before), 0);
	edera_free(names);

	edera_zone_config_init(&cfg);
	cfg.name = "edera-bad";
	cfg.kernel = "/nonexistent/vmlinuz";
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_ENOENT);
	ck_assert_msg(strstr(edera_last_error(), "/nonexistent/vmlinuz") != NULL, "%s",
	              edera_last_error());
	ck_assert_ptr_null(z);

	cfg.kernel = "/bin/true"; /* an x86-64 ELF without Xen notes */
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "no XEN_ELFNOTE_ENTRY") != NULL, "%s",
	              edera_last_error());

	cfg.kernel = linux_kernel();
	cfg.initrd = "/nonexistent/initrd";
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_ENOENT);
	ck_assert_msg(strstr(edera_last_error(), "initrd") != NULL, "%s", edera_last_error());

	cfg.initrd = NULL;
	cfg.memory_mib = 1 << 20; /* 1 TiB */
	cfg.max_memory_mib = 1 << 20;
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_ENOMEM);
	ck_assert_msg(strstr(edera_last_error(), "free") != NULL, "%s", edera_last_error());

	cfg.memory_mib = 64; /* below what the kernel needs mapped */
	cfg.max_memory_mib = 64;
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_ERANGE);

	cfg.memory_mib = 256;
	cfg.max_memory_mib = 256;
	cfg.name = "bad name!";
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_EINVAL);
	cfg.name = NULL;
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), EDERA_EINVAL);

	/* nothing left: no domain, no XenStore node */
	ck_assert_int_eq(xl_domains(), before);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n_after), 0);
	edera_free(names);
	ck_assert_uint_eq(n_after, n_before);
	edera_ctx_close(ctx);
}
END_TEST

START_TEST(destroy_running_and_duplicate_name)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_zone *z = NULL, *z2 = NULL;
	int before = xl_domains();
	char dpath[64];
	uint32_t domid;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-zone-paused";
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_HELLO");
	cfg.memory_mib = 128;
	cfg.start_paused = 1;
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), 0);
	domid = edera_zone_domid(z);
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z2), EDERA_EEXIST);
	ck_assert_int_eq(xl_domains(), before + 1);
	ck_assert_int_eq(edera_zone_unpause(z), 0);
	ck_assert_int_eq(edera_zone_pause(z), 0);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	ck_assert_ptr_null(edera_zone_lookup(ctx, "edera-zone-paused"));
	snprintf(dpath, sizeof(dpath), "/local/domain/%u", domid);
	ck_assert(!xs_exists(ctx, dpath));
	{
		time_t deadline = time(NULL) + 30;
		while (xl_domains() != before && time(NULL) < deadline)
			sleep(1);
	}
	ck_assert_int_eq(xl_domains(), before);
	edera_ctx_close(ctx);
}
END_TEST

/* Create a running zone from an image and wait for its exit reason. */
static int run_until_exit(edera_ctx *ctx, const char *name, const char *initrd, int reboot_req,
                          int *shutdown_status)
{
	edera_zone_config cfg;
	edera_zone *z = NULL;
	struct exit_state s = { 0, -1 };
	time_t deadline = time(NULL) + 180;
	int rc;

	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = linux_kernel();
	cfg.initrd = initrd;
	cfg.cmdline = "console=hvc0 quiet";
	cfg.memory_mib = 192;
	rc = edera_zone_create_sync(ctx, &cfg, &z);
	ck_assert_msg(rc == 0, "create %s: %s", name, edera_last_error());
	edera_zone_on_exit(z, on_exit_cb, &s);
	if (reboot_req >= 0)
		*shutdown_status = edera_zone_shutdown_sync(z, reboot_req, 120000);
	while (s.exits == 0) {
		ck_assert_msg(time(NULL) < deadline, "zone %s never exited", name);
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	}
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	return s.reason;
}

START_TEST(graceful_poweroff_reboot_and_crash)
{
	edera_ctx *ctx = NULL;
	int st = 1;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_int_eq(run_until_exit(ctx, "edera-off", env("EDERA_GUEST_WAIT"), 0, &st),
	                 EDERA_ZONE_EXIT_POWEROFF);
	ck_assert_int_eq(st, 0);
	st = 1;
	ck_assert_int_eq(run_until_exit(ctx, "edera-reboot", env("EDERA_GUEST_WAIT"), 1,
	                                &st),
	                 EDERA_ZONE_EXIT_REBOOT);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(run_until_exit(ctx, "edera-crash", env("EDERA_GUEST_CRASH"), -1,
	                                &st),
	                 EDERA_ZONE_EXIT_CRASH);
	edera_ctx_close(ctx);
}
END_TEST

START_TEST(shutdown_ignored_times_out_then_destroy)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_zone *z = NULL;
	edera_zone_info info;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-deaf";
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_WAIT");
	cfg.memory_mib = 128;
	cfg.vcpus = 1;
	cfg.max_vcpus = 2;
	cfg.start_paused = 1; /* a paused zone cannot answer */
	ck_assert_int_eq(edera_zone_create_sync(ctx, &cfg, &z), 0);
	edera_zone_info_init(&info);
	ck_assert_int_eq(edera_zone_info_get(z, &info), 0);
	ck_assert_int_eq(info.state, EDERA_ZONE_PAUSED);
	ck_assert_uint_eq(info.domid, edera_zone_domid(z));
	ck_assert_uint_eq(info.max_vcpus, 2);
	ck_assert_uint_eq(info.vcpus_online, 1);
	ck_assert_uint_ge(info.memory_kib, 127 * 1024);
	ck_assert_uint_le(info.memory_kib, 129 * 1024);
	ck_assert_ptr_eq(edera_zone_lookup_domid(ctx, info.domid), z);
	ck_assert_ptr_eq(edera_zone_lookup_uuid(ctx, edera_zone_uuid(z)), z);
	ck_assert_ptr_eq(edera_zone_next(ctx, NULL), z);
	ck_assert_ptr_null(edera_zone_next(ctx, z));
	ck_assert_int_eq(edera_zone_shutdown_sync(z, 0, 1500), EDERA_ETIMEDOUT);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* 20 create/destroy cycles leave nothing behind: domains, XenStore nodes
 * and Xen's free memory are where they started. */
START_TEST(cycles_leave_nothing)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_host_info before, after;
	char **names;
	size_t n_before, n_after;
	int doms = xl_domains();
	time_t deadline;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_host_info_init(&before);
	ck_assert_int_eq(edera_host_info_get(ctx, &before), 0);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n_before), 0);
	edera_free(names);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-cycle";
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_HELLO");
	cfg.memory_mib = 128;
	cfg.start_paused = 1;
	for (int i = 0; i < 20; i++) {
		edera_zone *z = NULL;
		int rc = edera_zone_create_sync(ctx, &cfg, &z);

		ck_assert_msg(rc == 0, "cycle %d: %s", i, edera_last_error());
		ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	}
	/* Xen gives the memory back as it scrubs the dead domains. */
	edera_host_info_init(&after);
	deadline = time(NULL) + 60;
	do {
		sleep(1);
		ck_assert_int_eq(edera_host_info_get(ctx, &after), 0);
	} while (after.free_memory_kib + 4096 < before.free_memory_kib && time(NULL) < deadline);
	ck_assert_msg(after.free_memory_kib + 4096 >= before.free_memory_kib,
	              "free memory %llu KiB, was %llu KiB",
	              (unsigned long long)after.free_memory_kib,
	              (unsigned long long)before.free_memory_kib);
	ck_assert_int_eq(xl_domains(), doms);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n_after), 0);
	edera_free(names);
	ck_assert_uint_eq(n_after, n_before);
	edera_ctx_close(ctx);
}
END_TEST

/* The project's minimal PV kernel (a few KiB, tests/guest/mini) built and
 * run by libedera, once per shutdown reason: its console line arrives and
 * the exit is reported with the reason the kernel asked Xen for. */
START_TEST(mini_kernel_each_reason)
{
	static const struct {
		const char *word;
		int reason;
	} want[] = {
		{ "poweroff", EDERA_ZONE_EXIT_POWEROFF }, { "reboot", EDERA_ZONE_EXIT_REBOOT },
		{ "suspend", EDERA_ZONE_EXIT_SUSPEND },   { "crash", EDERA_ZONE_EXIT_CRASH },
		{ "watchdog", EDERA_ZONE_EXIT_WATCHDOG },
	};
	edera_ctx *ctx = NULL;
	int before = xl_domains();

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		edera_zone_config cfg;
		edera_zone *z = NULL;
		struct exit_state s = { 0, -1 };
		time_t deadline = time(NULL) + 60;
		char name[64], cmdline[64], line[160];

		snprintf(name, sizeof(name), "edera-mini-%s", want[i].word);
		snprintf(cmdline, sizeof(cmdline), "reason=%s", want[i].word);
		edera_zone_config_init(&cfg);
		cfg.name = name;
		cfg.kernel = env("EDERA_MINI_KERNEL");
		cfg.cmdline = cmdline;
		cfg.memory_mib = 16;
		/* One of them hands its console to xenconsoled. */
		if (i == 0)
			cfg.console_mode = EDERA_CONSOLE_XENCONSOLED;
		ck_assert_msg(edera_zone_create_sync(ctx, &cfg, &z) == 0, "%s", edera_last_error());
		edera_zone_on_exit(z, on_exit_cb, &s);
		while (s.exits == 0) {
			ck_assert_msg(time(NULL) < deadline, "the mini kernel (%s) never exited", cmdline);
			uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
		}
		ck_assert_msg(s.reason == want[i].reason, "%s: exit reason %d, expected %d", cmdline,
		              s.reason, want[i].reason);
		snprintf(line, sizeof(line), "EDERA-MINI hello from a minimal PV kernel; cmdline: %s",
		         cmdline);
		if (i == 0) {
			char buf[8];

			ck_assert_int_eq(edera_console_history(z, buf, sizeof(buf)), EDERA_ENOTSUP);
			ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
			for (int tries = 0; !console_has(name, line) && tries < 20; tries++)
				usleep(100000);
			ck_assert_msg(console_has(name, line),
			              "no console line from the mini kernel (%s) in xenconsoled's log",
			              cmdline);
		} else {
			ck_assert_msg(history_has(z, line), "no console line from the mini kernel (%s)",
			              cmdline);
			ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
		}
	}
	ck_assert_int_eq(xl_domains(), before);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- re-attach, asynchronous destroy, close during creation, xl agreement -- */

/* A zone of the mini kernel (16 MiB) with REASON, created synchronously. */
static edera_zone *mini_zone(edera_ctx *ctx, const char *name, const char *reason)
{
	char cmdline[64];

	snprintf(cmdline, sizeof(cmdline), "reason=%s", reason);
	return mini(ctx, name, cmdline, 0);
}

/* xl's line for NAME: its domid and state column; 0 if xl does not list it. */
static int xl_find(const char *name, unsigned int *domid, char state[16], unsigned int *mem_mib)
{
	char line[512], n[128], st[16];
	unsigned int id, mem, vcpus;
	int found = 0;
	FILE *p = popen(XL " list 2>/dev/null", "r");

	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%127s %u %u %u %15s", n, &id, &mem, &vcpus, st) == 5 &&
		    strcmp(n, name) == 0) {
			found = 1;
			if (domid)
				*domid = id;
			if (state)
				snprintf(state, 16, "%s", st);
			if (mem_mib)
				*mem_mib = mem;
		}
	pclose(p);
	return found;
}

struct destroy_state {
	int calls, status;
};

static void destroy_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct destroy_state *d = data;

	ck_assert_ptr_nonnull(zone);
	ck_assert_ptr_eq(edera_zone_lookup(ctx, edera_zone_name(zone)), zone);
	d->calls++;
	d->status = status;
}

/* A zone created by a process that then dies without destroying it (and one
 * that stopped with nobody to clean up, and a marker whose domain is gone)
 * is found by a new context: the live one is taken over, the rest cleaned. */
START_TEST(reattach_after_restart)
{
	edera_ctx *ctx = NULL;
	edera_zone *z;
	edera_zone_info info;
	unsigned int attached = 99, cleaned = 99, xl_id = 0;
	char state[16] = "", *v = NULL;
	int before, status = -1;
	time_t deadline = time(NULL) + 60;
	pid_t pid;
	struct destroy_state ds = { 0, 1 };
	const char *stale_uuid = "0e0e0e0e-1111-4222-8333-444455556666";

	sweep_leftovers();
	before = xl_domains();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The "orchestrator" that dies: no destroy, no close. */
		edera_ctx *c = NULL;
		edera_zone_config cfg;
		edera_zone *z2 = NULL;

		if (edera_ctx_open(&c, NULL) < 0)
			_exit(2);
		mini_zone(c, "edera-orphan", "wait");
		/* created paused, unpaused as the process goes: it powers off
		 * with nobody left to clean up after it (run, it could stop
		 * while this process still served its loop, which would clean
		 * up after it as it should) */
		edera_zone_config_init(&cfg);
		cfg.name = "edera-orphan-stopped";
		cfg.kernel = env("EDERA_MINI_KERNEL");
		cfg.cmdline = "reason=poweroff";
		cfg.memory_mib = 16;
		cfg.start_paused = 1;
		if (edera_zone_create_sync(c, &cfg, &z2) < 0 || edera_zone_unpause(z2) < 0)
			_exit(3);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ck_assert_int_eq(xl_domains(), before + 2);
	/* The second one powers off by itself; nobody handles it. */
	while (!(xl_find("edera-orphan-stopped", NULL, state, NULL) && strchr(state, 's'))) {
		ck_assert_msg(time(NULL) < deadline, "edera-orphan-stopped never shut down (%s)",
		              state);
		usleep(100000);
	}
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	/* A marker left behind for a domain that no longer exists. */
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, "/local/domain/4000/edera/uuid", stale_uuid,
	                                     strlen(stale_uuid)),
	                 0);
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, "/vm/0e0e0e0e-1111-4222-8333-444455556666/name",
	                                     "x", 1),
	                 0);

	ck_assert_msg(edera_zone_reattach_sync(ctx, &attached, &cleaned) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(attached, 1);
	ck_assert_uint_eq(cleaned, 2);
	z = edera_zone_lookup(ctx, "edera-orphan");
	ck_assert_ptr_nonnull(z);
	ck_assert_ptr_null(edera_zone_lookup(ctx, "edera-orphan-stopped"));
	ck_assert(xl_find("edera-orphan", &xl_id, state, NULL));
	ck_assert_uint_eq(edera_zone_domid(z), xl_id);
	ck_assert_ptr_eq(edera_zone_lookup_uuid(ctx, edera_zone_uuid(z)), z);
	edera_zone_info_init(&info);
	ck_assert_int_eq(edera_zone_info_get(z, &info), 0);
	ck_assert_int_eq(info.state, EDERA_ZONE_RUNNING);
	ck_assert(!xl_find("edera-orphan-stopped", NULL, NULL, NULL));
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, "/local/domain/4000/edera/uuid", &v, NULL),
	                 EDERA_ENOENT);
	ck_assert_int_eq(
	        edera_xs_read_sync(ctx, NULL, "/vm/0e0e0e0e-1111-4222-8333-444455556666/name", &v,
	                           NULL),
	        EDERA_ENOENT);

	/* Again: nothing new. */
	ck_assert_int_eq(edera_zone_reattach_sync(ctx, &attached, &cleaned), 0);
	ck_assert_uint_eq(attached, 0);
	ck_assert_uint_eq(cleaned, 0);

	/* The asynchronous destroy: the handle is valid in the callback, the
	 * domain and its nodes are gone when it runs. */
	ck_assert_int_eq(edera_zone_destroy(z, destroy_cb, &ds), 0);
	ck_assert_int_eq(edera_zone_destroy(z, destroy_cb, &ds), EDERA_EBUSY);
	while (ds.calls == 0)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	ck_assert_int_eq(ds.calls, 1);
	ck_assert_int_eq(ds.status, 0);
	ck_assert_ptr_null(edera_zone_lookup(ctx, "edera-orphan"));
	ck_assert(!xl_find("edera-orphan", NULL, NULL, NULL));
	ck_assert_int_eq(xl_domains(), before);
	{
		char path[64];

		snprintf(path, sizeof(path), "/local/domain/%u", xl_id);
		ck_assert(!xs_exists(ctx, path));
	}
	edera_ctx_close(ctx);
}
END_TEST

static void create_cb(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	int *st = data;

	*st = status;
}

/* Closing the context while a creation is under way leaves no domain and no
 * XenStore nodes, and the creation's callback reports the cancellation. */
START_TEST(close_during_create_leaves_nothing)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	char **names = NULL;
	size_t n_before = 0, n_after = 0;
	int before = xl_domains(), st = 1;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n_before), 0);
	edera_free(names);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-closed";
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_HELLO");
	cfg.memory_mib = 128;
	ck_assert_int_eq(edera_zone_create(ctx, &cfg, create_cb, &st), 0);
	edera_ctx_close(ctx);
	ck_assert_msg(st < 0, "the creation's callback ran with %d", st);
	ck_assert_int_eq(xl_domains(), before);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n_after), 0);
	edera_free(names);
	ck_assert_uint_eq(n_after, n_before);
	edera_ctx_close(ctx);
}
END_TEST

/* The library's list against xl's, step by step: names, domids, paused
 * state and memory agree, and xl lists no zone the library does not. */
static void assert_xl_agrees(edera_ctx *ctx)
{
	char line[512], n[128], st[16];
	unsigned int id, mem, vcpus, ours = 0, xl_zones = 0;
	FILE *p;

	for (edera_zone *z = edera_zone_next(ctx, NULL); z; z = edera_zone_next(ctx, z)) {
		edera_zone_info info;
		unsigned int xl_id = 0, xl_mem = 0;
		char state[16] = "";

		edera_zone_info_init(&info);
		ck_assert_int_eq(edera_zone_info_get(z, &info), 0);
		ck_assert_msg(xl_find(edera_zone_name(z), &xl_id, state, &xl_mem), "xl lacks '%s'",
		              edera_zone_name(z));
		ck_assert_uint_eq(xl_id, edera_zone_domid(z));
		ck_assert_msg((strchr(state, 'p') != NULL) == (info.state == EDERA_ZONE_PAUSED),
		              "'%s': xl state %s, library state %d", edera_zone_name(z), state,
		              info.state);
		ck_assert_msg(xl_mem + 1 >= info.memory_kib / 1024 && xl_mem <= info.memory_kib / 1024 + 1,
		              "'%s': xl says %u MiB, the library %llu KiB", edera_zone_name(z), xl_mem,
		              (unsigned long long)info.memory_kib);
		ours++;
	}
	p = popen(XL " list 2>/dev/null", "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%127s %u %u %u %15s", n, &id, &mem, &vcpus, st) == 5 && id != 0) {
			ck_assert_msg(edera_zone_lookup_domid(ctx, id) != NULL,
			              "xl lists domain %u '%s' the library does not", id, n);
			xl_zones++;
		}
	pclose(p);
	ck_assert_uint_eq(xl_zones, ours);
}

START_TEST(xl_list_agrees)
{
	edera_ctx *ctx = NULL;
	edera_zone *a, *b, *c;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	assert_xl_agrees(ctx);
	a = mini_zone(ctx, "edera-agree-a", "wait");
	assert_xl_agrees(ctx);
	b = mini_zone(ctx, "edera-agree-b", "wait");
	c = mini_zone(ctx, "edera-agree-c", "wait");
	assert_xl_agrees(ctx);
	ck_assert_int_eq(edera_zone_pause(b), 0);
	assert_xl_agrees(ctx);
	ck_assert_int_eq(edera_zone_destroy_sync(a), 0);
	assert_xl_agrees(ctx);
	ck_assert_int_eq(edera_zone_unpause(b), 0);
	assert_xl_agrees(ctx);
	ck_assert_int_eq(edera_zone_destroy_sync(b), 0);
	ck_assert_int_eq(edera_zone_destroy_sync(c), 0);
	assert_xl_agrees(ctx);
	edera_ctx_close(ctx);
}
END_TEST

/* A marker naming a zone of ours on a domain xl created (its domid reused,
 * or a marker never ours): Xen's handle for that domain is not the
 * marker's UUID, so re-attach neither adopts nor destroys it; only the
 * stale marker goes. */
START_TEST(foreign_marker_left_alone)
{
	edera_ctx *ctx = NULL;
	const char *cfg = env("EDERA_PAUSED_CFG");
	const char *uuid = "1f1f1f1f-2222-4333-8444-555566667777";
	unsigned int attached = 99, cleaned = 99, id = 0;
	char cmd[512], path[96], state[16];

	sweep_leftovers();
	snprintf(cmd, sizeof(cmd), XL " create -q -p %s 'name=\"edera-foreign\"'", cfg);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert(xl_find("edera-foreign", &id, state, NULL));
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/edera/managed", id);
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, path, "1", 1), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/edera/uuid", id);
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, path, uuid, strlen(uuid)), 0);

	ck_assert_msg(edera_zone_reattach_sync(ctx, &attached, &cleaned) == 0, "%s",
	              edera_last_error());
	ck_assert_ptr_null(edera_zone_lookup_domid(ctx, id));
	ck_assert_ptr_null(edera_zone_lookup(ctx, "edera-foreign"));
	ck_assert_uint_eq(attached, 0);
	ck_assert_uint_eq(cleaned, 1);
	/* xl's domain is still there, with its own nodes; the marker is gone */
	ck_assert(xl_find("edera-foreign", NULL, state, NULL));
	snprintf(path, sizeof(path), "/local/domain/%u/name", id);
	ck_assert(xs_exists(ctx, path));
	snprintf(path, sizeof(path), "/local/domain/%u/edera", id);
	ck_assert(!xs_exists(ctx, path));
	edera_ctx_close(ctx);
	ck_assert_int_eq(system(XL " destroy edera-foreign"), 0);
}
END_TEST

/* A pid that runs no more: a child's, reaped. */
static long dead_pid(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	return (long)pid;
}

/* When PID started (clock ticks since boot: field 22 of its stat). */
static unsigned long long start_time(long pid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (int i = 0; i < 20 && p; i++)
		p = strchr(p + 1, ' ');
	ck_assert_ptr_nonnull(p);
	return strtoull(p + 1, NULL, 10);
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* What crashed creations left with no domain yet: a record in XenStore
 * (where libedera 0.1 kept them), a record file, and a record file half
 * written (its temporary name) by a process gone; and a record and one
 * being written of a process that runs, left alone.  Re-attach removes
 * the first three and counts the two records as cleaned. */
START_TEST(records_of_dead_creations_removed)
{
	const char *old = "0badc0de-1111-4222-8333-444455556666";
	const char *rec = "0badc0de-1111-4222-8333-444455557777";
	const char *half = "0badc0de-1111-4222-8333-444455558888";
	const char *busy = "0badc0de-1111-4222-8333-444455559999";
	char busy_path[160];
	pid_t runs;
	edera_ctx *ctx = NULL;
	unsigned int attached = 99, cleaned = 99;
	char path[160], text[96], tmp[160], live[160];
	long pid = dead_pid();

	sweep_leftovers();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_uint_eq(creation_records(ctx), 0);
	snprintf(text, sizeof(text), "%ld 1 old-zone", pid);
	snprintf(path, sizeof(path), RECORDS_XS "/%s", old);
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, path, text, strlen(text)), 0);
	(void)mkdir("/run/edera", 0700);
	(void)mkdir(RECORDS_DIR, 0700);
	snprintf(path, sizeof(path), RECORDS_DIR "/%s", rec);
	put_file(path, text);
	snprintf(tmp, sizeof(tmp), RECORDS_DIR "/.%s.%ld", half, pid);
	put_file(tmp, "");
	snprintf(live, sizeof(live), RECORDS_DIR "/.%s.%ld", half, (long)getpid());
	put_file(live, "");
	runs = fork(); /* (a creation under way in another process) */
	ck_assert_int_ge(runs, 0);
	if (runs == 0) {
		pause();
		_exit(0);
	}
	snprintf(text, sizeof(text), "%ld %llu busy-zone", (long)runs, start_time(runs));
	snprintf(busy_path, sizeof(busy_path), RECORDS_DIR "/%s", busy);
	put_file(busy_path, text);
	ck_assert_uint_eq(creation_records(ctx), 5);

	ck_assert_msg(edera_zone_reattach_sync(ctx, &attached, &cleaned) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(attached, 0);
	ck_assert_uint_eq(cleaned, 2);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	ck_assert_int_eq(access(live, F_OK), 0);
	ck_assert_int_eq(access(busy_path, F_OK), 0);
	ck_assert_int_eq(kill(runs, SIGKILL), 0);
	ck_assert_int_eq(waitpid(runs, NULL, 0), runs);
	ck_assert_int_eq(unlink(live), 0);
	ck_assert_int_eq(unlink(busy_path), 0);
	ck_assert_uint_eq(creation_records(ctx), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* A guest that writes its own node as fast as it can while dom0 runs
 * transactions and creates a zone.  oxenstored's conflict detection is
 * coarser than the C daemon's (a transaction whose nodes share only "/"
 * with the guest's conflicts with every write it makes), so this is where
 * the client's 64 attempts could run out; oxenstored's answer is to hold
 * back a domain that keeps making others' commits fail. */
#define CHATTY_TXNS 20

struct chatty_txn {
	int bodies;
};

static int chatty_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct chatty_txn *t = data;
	char *v = NULL;
	int rc;

	t->bodies++;
	/* nothing of the guest's: nodes of dom0's own on two branches, as a
	 * zone's skeleton has (/local/domain/N and /vm/UUID) */
	rc = edera_xs_read_sync(ctx, txn, "/edera-test-chatty/a", &v, NULL);
	edera_free(v);
	if (rc == EDERA_ENOENT)
		rc = 0;
	if (rc == 0)
		rc = edera_xs_write_sync(ctx, txn, "/edera-test-chatty/a", "x", 1);
	if (rc == 0)
		rc = edera_xs_write_sync(ctx, txn, "/local/domain/0/edera-test-chatty", "y", 1);
	return rc;
}

static unsigned long chatty_count(edera_ctx *ctx, const char *node)
{
	char *v = NULL;
	unsigned long n = 0;

	if (edera_xs_read_sync(ctx, NULL, node, &v, NULL) == 0)
		n = strtoul(v, NULL, 10);
	edera_free(v);
	return n;
}

START_TEST(transactions_beside_a_chatty_guest)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_zone *z = NULL, *m;
	char node[64];
	unsigned long before, after;
	int most = 0, total = 0;
	time_t deadline;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-xs-chatty";
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_XS");
	cfg.cmdline = "console=hvc0 quiet loglevel=0 edera.test.args=chatty,90";
	cfg.memory_mib = 128;
	ck_assert_msg(edera_zone_create_sync(ctx, &cfg, &z) == 0, "create: %s", edera_last_error());
	snprintf(node, sizeof(node), "/local/domain/%u/data/chatty", edera_zone_domid(z));
	deadline = time(NULL) + 120;
	while (chatty_count(ctx, node) < 100) {
		ck_assert_msg(time(NULL) < deadline, "the guest never started writing");
		usleep(100 * 1000);
	}

	before = chatty_count(ctx, node);
	for (int i = 0; i < CHATTY_TXNS; i++) {
		struct chatty_txn t = { 0 };
		int rc = edera_xs_transaction_sync(ctx, chatty_body, &t);

		ck_assert_msg(rc == 0, "transaction %d after %d attempts: %s", i, t.bodies,
		              edera_last_error());
		most = t.bodies > most ? t.bodies : most;
		total += t.bodies;
	}
	/* and a zone's creation (its skeleton is no transaction now) */
	m = mini(ctx, "edera-xs-chatty-mini", "reason=wait", 0);
	after = chatty_count(ctx, node);
	printf("beside a guest that wrote %lu times meanwhile: %d transactions took %d attempts "
	       "(at most %d); a zone was created\n",
	       after - before, CHATTY_TXNS, total, most);
	/* the guest kept writing all along, or this proved nothing */
	ck_assert_uint_gt(after - before, 100);
	ck_assert_int_eq(edera_zone_destroy_sync(m), 0);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, "/edera-test-chatty"), 0);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, "/local/domain/0/edera-test-chatty"), 0);
	edera_ctx_close(ctx);
}
END_TEST

Suite *zone_suite(void)
{
	Suite *s = suite_create("zone");
	TCase *tc = tcase_create("lifecycle");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, bad_input_leaves_nothing);
	tcase_add_test(tc, destroy_running_and_duplicate_name);
	tcase_add_test(tc, zone_boots_runs_and_powers_off);
	tcase_add_test(tc, graceful_poweroff_reboot_and_crash);
	tcase_add_test(tc, shutdown_ignored_times_out_then_destroy);
	tcase_add_test(tc, cycles_leave_nothing);
	tcase_add_test(tc, mini_kernel_each_reason);
	tcase_add_test(tc, reattach_after_restart);
	tcase_add_test(tc, close_during_create_leaves_nothing);
	tcase_add_test(tc, xl_list_agrees);
	tcase_add_test(tc, transactions_beside_a_chatty_guest);
	tcase_add_test(tc, foreign_marker_left_alone);
	tcase_add_test(tc, records_of_dead_creations_removed);
	suite_add_tcase(s, tc);
	return s;
}
