/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prepared zone shells (include/edera/pool.h) against real Xen: a zone from
 * a shell is a cold zone (its XenStore subtree and permissions compared
 * node by node, its guest boots); the pool refills; a creation short of
 * memory reclaims shells; closing, and a crash then re-attach, leave no
 * shell behind. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>
#include <xenctrl.h>

#include "suites.h"
#include "util.h"

struct shape {
	edera_ctx *ctx;
	uint32_t memory_mib, ready;
};

static int ready_reached(void *arg)
{
	struct shape *s = arg;
	edera_pool_stats st;

	edera_pool_stats_init(&st);
	ck_assert_int_eq(edera_pool_stats_get(s->ctx, s->memory_mib, 1, &st), 0);
	ck_assert_msg(st.failed == 0, "a shell failed: %s", st.last_error);
	return st.ready == s->ready && st.filling == 0;
}

struct count {
	int want;
};

static int domains_are(void *arg)
{
	return xl_domains() == ((struct count *)arg)->want;
}

/* Shells given up are destroyed on the threadpool: wait for Xen's count. */
static void wait_domains(edera_ctx *ctx, int n)
{
	struct count c = { n };

	ck_assert_msg(run_pred(ctx, domains_are, &c, 60), "%d domains, not %d", xl_domains(), n);
}

static void wait_ready(edera_ctx *ctx, uint32_t memory_mib, uint32_t n)
{
	struct shape s = { ctx, memory_mib, n };

	ck_assert_msg(run_pred(ctx, ready_reached, &s, 120), "%u shells of %u MiB never ready", n,
	              memory_mib);
}

static edera_pool_stats stats(edera_ctx *ctx, uint32_t memory_mib)
{
	edera_pool_stats st;

	edera_pool_stats_init(&st);
	ck_assert_msg(edera_pool_stats_get(ctx, memory_mib, 1, &st) == 0, "%s", edera_last_error());
	return st;
}

static void set_pool(edera_ctx *ctx, uint32_t memory_mib, uint32_t shells)
{
	edera_pool_config pc;

	edera_pool_config_init(&pc);
	pc.memory_mib = memory_mib;
	pc.shells = shells;
	ck_assert_msg(edera_pool_set(ctx, &pc) == 0, "%s", edera_last_error());
}

/* The children of PATH in XenStore (none if it is not there). */
static size_t children(edera_ctx *ctx, const char *path)
{
	char **names = NULL;
	size_t n = 0;
	int rc = edera_xs_directory_sync(ctx, NULL, path, &names, &n);

	ck_assert_msg(rc == 0 || rc == EDERA_ENOENT, "%s", edera_last_error());
	edera_free(names);
	return rc == 0 ? n : 0;
}

/* Creation records (shells have one each). */
static size_t intents(edera_ctx *ctx)
{
	return creation_records(ctx);
}

/* Domains' subtrees and /vm entries (a shell has both, nameless). */
struct nodes {
	size_t dom, vm;
};

static struct nodes nodes(edera_ctx *ctx)
{
	return (struct nodes){ children(ctx, "/local/domain"), children(ctx, "/vm") };
}

#define ck_assert_nodes(ctx, want, more)                                              \
	do {                                                                          \
		struct nodes n_ = nodes(ctx);                                         \
		ck_assert_msg(n_.dom == (want).dom + (more) && n_.vm == (want).vm + (more), \
		              "%zu domain subtrees and %zu /vm entries, not %zu and %zu",   \
		              n_.dom, n_.vm, (want).dom + (more), (want).vm + (more));      \
	} while (0)

/* ---- a zone's XenStore subtree, as text with what must differ replaced ---- */

struct tree {
	char *text;
	size_t len, cap;
	const char *name, *uuid;
	char domid[16];
};

static void put(struct tree *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->text = realloc(t->text, t->cap);
		ck_assert_ptr_nonnull(t->text);
	}
	memcpy(t->text + t->len, s, n + 1);
	t->len += n;
}

/* S with every NAME and UUID replaced, and with DOMID its domid (as a
 * whole number, "12" in "/local/domain/12/x": only where a domid is meant,
 * or a port number equal to it would differ). */
static void put_norm(struct tree *t, const char *s, int domid)
{
	while (*s) {
		size_t dl = strlen(t->domid);

		if (strncmp(s, t->uuid, 36) == 0) {
			put(t, "<UUID>");
			s += 36;
		} else if (strncmp(s, t->name, strlen(t->name)) == 0) {
			put(t, "<NAME>");
			s += strlen(t->name);
		} else if (domid && strncmp(s, t->domid, dl) == 0 && (s[dl] < '0' || s[dl] > '9') &&
		           (t->len == 0 || t->text[t->len - 1] < '0' || t->text[t->len - 1] > '9')) {
			put(t, "<DOMID>");
			s += dl;
		} else {
			char c[2] = { *s++, 0 };

			put(t, c);
		}
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each node with its value and permissions, children by name (xenstored
 * lists them in the order they were made, and a zone's nodes are written
 * at once over several connections, in no set order). */
static void walk(edera_ctx *ctx, struct tree *t, const char *path, const char *rel)
{
	char *v = NULL, **kids = NULL, line[1024];
	edera_xs_perm *perms = NULL;
	size_t n = 0, np = 0;
	const char *leaf = strrchr(path, '/') + 1;

	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, path, &v, NULL), 0);
	ck_assert_int_eq(edera_xs_get_perms_sync(ctx, NULL, path, &perms, &np), 0);
	put_norm(t, rel, 1);
	put(t, " = ");
	/* machine frames differ from domain to domain */
	if (strcmp(leaf, "ring-ref") == 0)
		put(t, "<MFN>");
	else
		put_norm(t, v, strcmp(leaf, "domid") == 0);
	put(t, " (");
	for (size_t i = 0; i < np; i++) {
		if ((unsigned long)perms[i].domid == strtoul(t->domid, NULL, 10))
			snprintf(line, sizeof(line), "%s<DOMID>:%u", i ? " " : "", perms[i].perm);
		else
			snprintf(line, sizeof(line), "%s%u:%u", i ? " " : "", perms[i].domid,
			         perms[i].perm);
		put(t, line);
	}
	put(t, ")\n");
	edera_free(v);
	edera_free(perms);
	ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, path, &kids, &n), 0);
	qsort(kids, n, sizeof(*kids), by_name);
	for (size_t i = 0; i < n; i++) {
		char p[512], r[512];

		snprintf(p, sizeof(p), "%s/%s", path, kids[i]);
		snprintf(r, sizeof(r), "%s/%s", rel, kids[i]);
		walk(ctx, t, p, r);
	}
	edera_free(kids);
}

static char *subtree(edera_ctx *ctx, edera_zone *z)
{
	struct tree t = { .name = edera_zone_name(z), .uuid = edera_zone_uuid(z) };
	char path[64];

	snprintf(t.domid, sizeof(t.domid), "%u", edera_zone_domid(z));
	snprintf(path, sizeof(path), "/local/domain/%u", edera_zone_domid(z));
	walk(ctx, &t, path, "/local/domain/<DOMID>");
	snprintf(path, sizeof(path), "/vm/%s", edera_zone_uuid(z));
	walk(ctx, &t, path, "/vm/<UUID>");
	return t.text;
}

static int history_has_hello(void *arg)
{
	static char buf[16 * 1024 + 1];
	long n = edera_console_history(arg, buf, sizeof(buf) - 1);

	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "EDERA-MINI hello") != NULL;
}

/* A zone from a shell and one created cold, of the same config, are the
 * same zone; the shells are invisible; the pool refills. */
START_TEST(zone_from_a_shell_is_a_cold_zone)
{
	edera_ctx *ctx = NULL;
	edera_zone *warm, *cold;
	edera_pool_stats st;
	struct nodes nodes_before;
	char *a, *b;
	int before;

	sweep_leftovers();
	before = xl_domains();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	nodes_before = nodes(ctx);
	set_pool(ctx, 16, 2);
	wait_ready(ctx, 16, 2);
	ck_assert_int_eq(xl_domains(), before + 2);
	ck_assert_uint_eq(intents(ctx), 2);
	/* each shell has its subtree written, but no name and no marker */
	ck_assert_nodes(ctx, nodes_before, 2);
	ck_assert_ptr_null(edera_zone_next(ctx, NULL)); /* no zone handles */

	warm = mini(ctx, "edera-pool-warm", "reason=wait", 16);
	st = stats(ctx, 16);
	ck_assert_uint_eq(st.taken, 1);
	ck_assert_uint_eq(st.missed, 0);
	/* then no shells: the same config, cold */
	wait_ready(ctx, 16, 2); /* refilled after the take */
	set_pool(ctx, 16, 0);
	ck_assert_int_eq(edera_pool_stats_get(ctx, 16, 1, &st), EDERA_ENOENT);
	wait_domains(ctx, before + 1);
	cold = mini(ctx, "edera-pool-cold", "reason=wait", 16);
	ck_assert_msg(run_pred(ctx, history_has_hello, warm, 30), "the zone from a shell never "
	              "said hello");
	ck_assert_msg(run_pred(ctx, history_has_hello, cold, 30), "the cold zone never said hello");

	a = subtree(ctx, warm);
	b = subtree(ctx, cold);
	if (strcmp(a, b) != 0) {
		/* both, then the first line that differs in the message */
		size_t i = 0, l = 0;

		printf("--- from a shell:\n%s--- cold:\n%s", a, b);
		fflush(stdout);
		for (; a[i] && a[i] == b[i]; i++)
			if (a[i] == '\n')
				l = i + 1;
		ck_abort_msg("the XenStore subtrees differ: from a shell '%.120s', cold '%.120s'",
		             a + l, b + l);
	}
	ck_assert_msg(strstr(a, "/local/domain/<DOMID>/edera/managed = 1") != NULL, "%s", a);
	free(a);
	free(b);
	/* and what Xen says of them */
	{
		edera_zone_info iw, ic;

		edera_zone_info_init(&iw);
		edera_zone_info_init(&ic);
		ck_assert_int_eq(edera_zone_info_get(warm, &iw), 0);
		ck_assert_int_eq(edera_zone_info_get(cold, &ic), 0);
		ck_assert_uint_eq(iw.memory_kib, ic.memory_kib);
		ck_assert_uint_eq(iw.max_memory_kib, ic.max_memory_kib);
		ck_assert_uint_eq(iw.vcpus_online, ic.vcpus_online);
		ck_assert_uint_eq(iw.max_vcpus, ic.max_vcpus);
		ck_assert_int_eq(iw.state, ic.state);
	}

	/* refilled after a take */
	set_pool(ctx, 16, 1);
	wait_ready(ctx, 16, 1);
	ck_assert_int_eq(edera_zone_destroy_sync(warm), 0);
	ck_assert_int_eq(edera_zone_destroy_sync(cold), 0);
	ck_assert_int_eq(xl_domains(), before + 1);
	warm = mini(ctx, "edera-pool-warm2", "reason=wait", 16);
	ck_assert_uint_eq(stats(ctx, 16).taken, 1); /* a new shape: its own counters */
	wait_ready(ctx, 16, 1);
	ck_assert_int_eq(xl_domains(), before + 2);
	ck_assert_int_eq(edera_zone_destroy_sync(warm), 0);
	edera_ctx_close(ctx);
	ck_assert_int_eq(xl_domains(), before);
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_uint_eq(intents(ctx), 0);
	ck_assert_nodes(ctx, nodes_before, 0);
	edera_ctx_close(ctx);
}
END_TEST

/* A creation Xen has too little free memory for destroys shells first. */
START_TEST(memory_short_reclaims_shells)
{
	edera_ctx *ctx = NULL;
	edera_host_info hi;
	edera_zone_config cfg;
	edera_zone *z = NULL;
	uint32_t size;
	uint64_t free_mib;
	int before;

	sweep_leftovers();
	before = xl_domains();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	edera_host_info_init(&hi);
	ck_assert_int_eq(edera_host_info_get(ctx, &hi), 0);
	free_mib = hi.free_memory_kib / 1024;
	ck_assert_msg(free_mib >= 512, "only %llu MiB free", (unsigned long long)free_mib);
	/* 8 shells leaving about 80 MiB (the pool stops at 64 MiB above a
	 * shell's size: the last ones may not be made) */
	size = (uint32_t)((free_mib - 80) / 8);
	set_pool(ctx, size, 8);
	{
		struct shape s = { ctx, size, 0 };
		double end = now() + 120;

		/* as many as there is room for, at least 6 */
		while (now() < end) {
			edera_pool_stats st = stats(ctx, size);

			ck_assert_msg(st.failed == 0, "a shell failed: %s", st.last_error);
			if (st.filling == 0 && st.ready >= 6)
				break;
			run_pred(ctx, ready_reached, &s, 0.2);
		}
	}
	ck_assert_uint_ge(stats(ctx, size).ready, 6);
	ck_assert_int_eq(edera_host_info_get(ctx, &hi), 0);
	ck_assert_msg(hi.free_memory_kib / 1024 < size + 32u, "%llu MiB free with the shells",
	              (unsigned long long)(hi.free_memory_kib / 1024));
	/* 32 MiB more than a shell: another shape, so shells go for it */
	edera_zone_config_init(&cfg);
	cfg.name = "edera-pool-big";
	cfg.kernel = env("EDERA_MINI_KERNEL");
	cfg.cmdline = "reason=wait";
	cfg.memory_mib = size + 32;
	ck_assert_msg(edera_zone_create_sync(ctx, &cfg, &z) == 0, "%s", edera_last_error());
	ck_assert_uint_ge(stats(ctx, size).reclaimed, 1);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	edera_ctx_close(ctx);
	ck_assert_int_eq(xl_domains(), before);
}
END_TEST

/* A process that dies with its shells ready leaves them for re-attach,
 * which destroys them; bad input is refused. */
START_TEST(crash_then_reattach_leaves_nothing)
{
	edera_ctx *ctx = NULL;
	edera_pool_config pc;
	struct nodes nodes_before;
	unsigned int attached = 99, cleaned = 99;
	int before, fds[2], status;
	char c = 0;
	pid_t pid;

	sweep_leftovers();
	before = xl_domains();
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	nodes_before = nodes(ctx);
	edera_ctx_close(ctx);
	ctx = NULL;
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		edera_ctx *cc = NULL;

		close(fds[0]);
		if (edera_ctx_open(&cc, NULL) < 0)
			_exit(2);
		set_pool(cc, 16, 3);
		wait_ready(cc, 16, 3);
		(void)!write(fds[1], "r", 1);
		pause(); /* killed */
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(xl_domains(), before + 3);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(xl_domains(), before + 3); /* nobody cleaned */
	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	ck_assert_uint_eq(intents(ctx), 3);
	ck_assert_nodes(ctx, nodes_before, 3);
	/* one shell's domain goes behind the dead process's back (as when it
	 * died between destroying a shell and removing its nodes): its
	 * nodes, nameless, are still found by their UUID */
	{
		char **names = NULL, path[96];
		size_t n = 0;
		long victim = -1;
		xc_interface *xch;

		ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, "/local/domain", &names, &n), 0);
		for (size_t i = 0; i < n && victim < 0; i++) {
			char np[96];

			snprintf(np, sizeof(np), "/local/domain/%s/name", names[i]);
			if (strcmp(names[i], "0") != 0 && !xs_exists(ctx, np))
				victim = strtol(names[i], NULL, 10);
		}
		edera_free(names);
		ck_assert_msg(victim > 0, "no nameless shell subtree");
		/* (not xl destroy: it removes the domain's nodes too) */
		xch = xc_interface_open(NULL, NULL, 0);
		ck_assert_ptr_nonnull(xch);
		ck_assert_int_eq(xc_domain_destroy(xch, (uint32_t)victim), 0);
		xc_interface_close(xch);
		wait_domains(ctx, before + 2);
		snprintf(path, sizeof(path), "/local/domain/%ld", victim);
		ck_assert(xs_exists(ctx, path));
	}
	ck_assert_msg(edera_zone_reattach_sync(ctx, &attached, &cleaned) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(attached, 0);
	ck_assert_uint_eq(cleaned, 3);
	ck_assert_int_eq(xl_domains(), before);
	ck_assert_uint_eq(intents(ctx), 0);
	ck_assert_nodes(ctx, nodes_before, 0); /* the destroyed shell's included */

	edera_pool_config_init(&pc);
	pc.memory_mib = 8;
	pc.shells = 1;
	ck_assert_int_eq(edera_pool_set(ctx, &pc), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "memory_mib 8") != NULL, "%s", edera_last_error());
	pc.memory_mib = 16;
	pc.shells = EDERA_POOL_SHELLS_MAX + 1;
	ck_assert_int_eq(edera_pool_set(ctx, &pc), EDERA_EINVAL);
	ck_assert_int_eq(edera_pool_set(ctx, NULL), EDERA_EINVAL);
	edera_ctx_close(ctx);
}
END_TEST

Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("shells");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, zone_from_a_shell_is_a_cold_zone);
	tcase_add_test(tc, memory_short_reclaims_shells);
	tcase_add_test(tc, crash_then_reattach_leaves_nothing);
	suite_add_tcase(s, tc);
	return s;
}
