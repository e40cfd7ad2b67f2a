/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenStore client against the real xenstored in dom0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#include "suites.h"

#define BASE "/edera-test"
#define XL "/usr/lib/xen-4.17/bin/xl"

static edera_ctx *open_ctx(void)
{
	edera_ctx *ctx = NULL;
	int rc = edera_ctx_open(&ctx, NULL);

	ck_assert_msg(rc == 0, "edera_ctx_open: %s", edera_last_error());
	ck_assert(edera_xs_connected(ctx));
	return ctx;
}

static void run_until(edera_ctx *ctx, const int *counter, int want, int seconds)
{
	time_t deadline = time(NULL) + seconds;

	while (*counter < want) {
		ck_assert_msg(time(NULL) <= deadline, "timed out: %d of %d", *counter, want);
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	}
}

static void timer_noop(uv_timer_t *t)
{
}

/* Run the loop for about MS milliseconds, to catch events that should not come. */
static void run_for(edera_ctx *ctx, int ms)
{
	uv_loop_t *loop = edera_ctx_loop(ctx);
	uint64_t end = uv_now(loop) + (uint64_t)ms;
	uv_timer_t t;

	uv_timer_init(loop, &t);
	ck_assert_int_eq(uv_timer_start(&t, timer_noop, (uint64_t)ms, 0), 0);
	while (uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- 1,000 pipelined round trips ---------------------------------------------- */

#define N_PIPE 1000

struct pipe_state {
	int writes, reads, bad;
};

static void pipe_wrote(edera_ctx *ctx, int status, void *data)
{
	struct pipe_state *s = data;

	if (status < 0)
		s->bad++;
	s->writes++;
}

static void pipe_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	static struct pipe_state *state;
	uintptr_t i = (uintptr_t)data;
	char want[32];

	if (i == (uintptr_t)-1) { /* set the state pointer */
		state = (struct pipe_state *)value;
		return;
	}
	snprintf(want, sizeof(want), "value-%lu", (unsigned long)i);
	if (status < 0 || len != strlen(want) || memcmp(value, want, len) != 0)
		state->bad++;
	state->reads++;
}

START_TEST(pipelined_round_trips)
{
	edera_ctx *ctx = open_ctx();
	struct pipe_state s = { 0 };

	pipe_read(ctx, 0, (const char *)&s, 0, (void *)(uintptr_t)-1);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/pipe") == 0 ||
	                         edera_last_error_code() == EDERA_ENOENT,
	                 1);
	/* every write and read goes out before any reply is handled */
	for (uintptr_t i = 0; i < N_PIPE; i++) {
		char path[64], val[32];

		snprintf(path, sizeof(path), BASE "/pipe/k%lu", (unsigned long)i);
		snprintf(val, sizeof(val), "value-%lu", (unsigned long)i);
		ck_assert_int_eq(edera_xs_write(ctx, NULL, path, val, strlen(val), pipe_wrote, &s), 0);
		ck_assert_int_eq(edera_xs_read(ctx, NULL, path, pipe_read, (void *)i), 0);
	}
	run_until(ctx, &s.reads, N_PIPE, 120);
	run_until(ctx, &s.writes, N_PIPE, 5);
	ck_assert_int_eq(s.bad, 0);

	{
		char **names;
		size_t n;
		ck_assert_int_eq(edera_xs_directory_sync(ctx, NULL, BASE "/pipe", &names, &n), 0);
		ck_assert_uint_eq(n, N_PIPE);
		edera_free(names);
	}
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/pipe"), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- reads spread over several connections, in order with writes ---------------- */

/* Sockets this process has open (the context's XenStore connections among
 * them). */
static int open_sockets(void)
{
	char link[64], fdpath[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += strncmp(link, "socket:", 7) == 0;
		}
	}
	return n;
}

struct order_state {
	int done, bad;
	const char *prefix; /* what every value read must start with */
};

static void order_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct order_state *s = data;

	if (status < 0 || len < strlen(s->prefix) || memcmp(value, s->prefix, strlen(s->prefix)))
		s->bad++;
	s->done++;
}

/* 1,000 reads go out at once, then a write to each node, then 1,000 reads
 * again, all before any reply is handled: the first reads spread over more
 * connections than one (xenstored handles one request per connection per
 * turn), yet each sees the value from before the writes and each of the
 * last sees the one after. */
START_TEST(reads_on_lanes_keep_order)
{
	edera_ctx *ctx = open_ctx();
	struct order_state before = { .prefix = "old-" }, after = { .prefix = "new-" };
	struct pipe_state w = { 0 };
	int sockets0, sockets1;

	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/lanes") == 0 ||
	                         edera_last_error_code() == EDERA_ENOENT,
	                 1);
	for (int i = 0; i < N_PIPE; i++) {
		char path[64], val[32];

		snprintf(path, sizeof(path), BASE "/lanes/k%d", i);
		snprintf(val, sizeof(val), "old-%d", i);
		ck_assert_int_eq(edera_xs_write(ctx, NULL, path, val, strlen(val), pipe_wrote, &w), 0);
	}
	run_until(ctx, &w.writes, N_PIPE, 120);
	ck_assert_int_eq(w.bad, 0);

	sockets0 = open_sockets();
	for (int i = 0; i < N_PIPE; i++) {
		char path[64];

		snprintf(path, sizeof(path), BASE "/lanes/k%d", i);
		ck_assert_int_eq(edera_xs_read(ctx, NULL, path, order_read, &before), 0);
	}
	sockets1 = open_sockets();
	for (int i = 0; i < N_PIPE; i++) {
		char path[64], val[32];

		snprintf(path, sizeof(path), BASE "/lanes/k%d", i);
		snprintf(val, sizeof(val), "new-%d", i);
		ck_assert_int_eq(edera_xs_write(ctx, NULL, path, val, strlen(val), pipe_wrote, &w), 0);
	}
	for (int i = 0; i < N_PIPE; i++) {
		char path[64];

		snprintf(path, sizeof(path), BASE "/lanes/k%d", i);
		ck_assert_int_eq(edera_xs_read(ctx, NULL, path, order_read, &after), 0);
	}
	run_until(ctx, &after.done, N_PIPE, 120);
	ck_assert_int_eq(before.done, N_PIPE);
	ck_assert_int_eq(w.writes, 2 * N_PIPE);
	ck_assert_int_eq(w.bad, 0);
	ck_assert_msg(before.bad == 0, "%d of the first reads saw a later write", before.bad);
	ck_assert_msg(after.bad == 0, "%d of the last reads did not see the writes", after.bad);
	ck_assert_msg(sockets1 > sockets0, "the reads used no more connections (%d sockets, then %d)",
	              sockets0, sockets1);
	printf("xs: 1,000 reads in flight used %d connections more than one\n", sockets1 - sockets0);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/lanes"), 0);
	edera_ctx_close(ctx);
	ck_assert_int_lt(open_sockets(), sockets0); /* the context's are closed, lanes too */
}
END_TEST

/* ---- listings longer than one reply ------------------------------------------- */

/* Several thousand children, and children whose paths are near the length
 * limit: longer than one 4096-byte reply either way.  The C xenstored says
 * E2BIG and the client reads the listing in parts; oxenstored answers over
 * the socket in one long reply.  Over the xenbus ring the C daemon's parts
 * work, and oxenstored (which has no XS_DIRECTORY_PART) is refused clearly. */
#define N_MANY 3000
#define N_LONG_NAMES 12
/* oxenstored's default limit (quota-path-max in /etc/xen/oxenstored.conf)
 * is 1024 bytes, the C daemon's 2048: stay just under the smaller */
#define LONG_PATH 1020

static void count_done(edera_ctx *ctx, int status, void *data)
{
	struct pipe_state *s = data;

	if (status < 0)
		s->bad++;
	s->writes++;
}

/* Every name child-00000 .. child-NNNNN exactly once. */
static int check_many(char **names, size_t n)
{
	static unsigned char seen[N_MANY];

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < n; i++) {
		unsigned int k;
		char tail;

		if (sscanf(names[i], "child-%5u%c", &k, &tail) != 1 || k >= N_MANY || seen[k]++)
			return -1;
	}
	return n == N_MANY ? 0 : -1;
}

static void long_name(char *buf, size_t size, const char *dir, int i)
{
	int n = snprintf(buf, size, "%s/%02d-", dir, i);

	for (; n < LONG_PATH; n++)
		buf[n] = (char)('a' + (n + i) % 26);
	buf[n] = '\0';
}

START_TEST(long_listings)
{
	edera_ctx *ctx = open_ctx(), *ring;
	struct pipe_state s = { 0 };
	const char *daemon = getenv("RIG_XENSTORED");
	char path[LONG_PATH + 1200];
	char **names = NULL;
	size_t n = 0;
	int rc;

	ck_assert_msg(daemon != NULL, "RIG_XENSTORED (set by the rig) names the daemon");
	rc = edera_xs_rm_sync(ctx, NULL, BASE "/long");
	ck_assert(rc == 0 || rc == EDERA_ENOENT);
	for (int i = 0; i < N_MANY; i++) {
		snprintf(path, sizeof(path), BASE "/long/many/child-%05d", i);
		ck_assert_int_eq(edera_xs_write(ctx, NULL, path, "x", 1, count_done, &s), 0);
	}
	for (int i = 0; i < N_LONG_NAMES; i++) {
		long_name(path, sizeof(path), BASE "/long/names", i);
		ck_assert_int_eq(edera_xs_write(ctx, NULL, path, "y", 1, count_done, &s), 0);
	}
	run_until(ctx, &s.writes, N_MANY + N_LONG_NAMES, 120);
	ck_assert_int_eq(s.bad, 0);

	/* the socket: both daemons */
	ck_assert_msg(edera_xs_directory_sync(ctx, NULL, BASE "/long/many", &names, &n) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(n, N_MANY);
	ck_assert_int_eq(check_many(names, n), 0);
	edera_free(names);
	ck_assert_msg(edera_xs_directory_sync(ctx, NULL, BASE "/long/names", &names, &n) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(n, N_LONG_NAMES);
	for (size_t i = 0; i < n; i++) {
		int k = atoi(names[i]);

		ck_assert_int_lt(k, N_LONG_NAMES);
		long_name(path, sizeof(path), BASE "/long/names", k);
		ck_assert_str_eq(names[i], path + strlen(BASE "/long/names/"));
	}
	edera_free(names);
	ck_assert(edera_xs_connected(ctx));

	/* one byte past the daemon's limit on a path: its refusal, named */
	long_name(path, sizeof(path), BASE "/long/names", 99);
	memset(path + LONG_PATH, 'z', strcmp(daemon, "oxenstored") == 0 ? 8 : 1100);
	path[strcmp(daemon, "oxenstored") == 0 ? LONG_PATH + 8 : LONG_PATH + 1100] = '\0';
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, path, "y", 1), EDERA_EINVAL);
	ck_assert(edera_xs_connected(ctx));

	/* the xenbus ring */
	setenv("XENSTORED_PATH", "/nonexistent/xenstored-socket", 1);
	ring = open_ctx();
	unsetenv("XENSTORED_PATH");
	rc = edera_xs_directory_sync(ring, NULL, BASE "/long/many", &names, &n);
	if (strcmp(daemon, "oxenstored") == 0) {
		ck_assert_int_eq(rc, EDERA_ENOTSUP);
		ck_assert_msg(strstr(edera_last_error(), "XS_DIRECTORY_PART"), "%s",
		              edera_last_error());
		ck_assert(edera_xs_connected(ring));
	} else {
		ck_assert_msg(rc == 0, "%s", edera_last_error());
		ck_assert_int_eq(check_many(names, n), 0);
		edera_free(names);
	}
	edera_ctx_close(ring);

	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/long"), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- blocking forms and error mapping ------------------------------------------ */

START_TEST(blocking_forms_and_errors)
{
	edera_ctx *ctx = open_ctx();
	char *v = NULL, *dpath = NULL;
	size_t len = 0;
	edera_xs_perm perms[2] = { { 0, EDERA_XS_PERM_NONE }, { 5, EDERA_XS_PERM_READ } };
	edera_xs_perm *got = NULL;
	size_t n = 0;
	static const char bin[] = { 'a', 0, 'b', (char)0xff };

	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/b/v", bin, sizeof(bin)), 0);
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, BASE "/b/v", &v, &len), 0);
	ck_assert_uint_eq(len, sizeof(bin));
	ck_assert_int_eq(memcmp(v, bin, len), 0);
	ck_assert_int_eq(v[len], '\0');
	edera_free(v);

	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, BASE "/b/missing", &v, &len), EDERA_ENOENT);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(edera_last_error(), BASE "/b/missing") != NULL, "%s",
	              edera_last_error());

	ck_assert_int_eq(edera_xs_mkdir_sync(ctx, NULL, BASE "/b/dir"), 0);
	ck_assert_int_eq(edera_xs_set_perms_sync(ctx, NULL, BASE "/b/dir", perms, 2), 0);
	ck_assert_int_eq(edera_xs_get_perms_sync(ctx, NULL, BASE "/b/dir", &got, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(got[0].domid, 0);
	ck_assert_uint_eq(got[0].perm, EDERA_XS_PERM_NONE);
	ck_assert_uint_eq(got[1].domid, 5);
	ck_assert_uint_eq(got[1].perm, EDERA_XS_PERM_READ);
	edera_free(got);

	ck_assert_int_eq(edera_xs_get_domain_path_sync(ctx, 7, &dpath), 0);
	ck_assert_str_eq(dpath, "/local/domain/7");
	edera_free(dpath);

	/* xenstored's own checks, reported with the request named */
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/b"), 0);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE "/b/never"), EDERA_ENOENT);
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, "bad path!", "x", 1), EDERA_EINVAL);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- watches ------------------------------------------------------------------ */

struct watch_state {
	int events;
	int errors;
	char last[128];
};

static void on_watch(edera_ctx *ctx, int status, const char *path, void *data)
{
	struct watch_state *s = data;

	if (status < 0) {
		s->errors++;
		return;
	}
	snprintf(s->last, sizeof(s->last), "%s", path);
	s->events++;
}

START_TEST(watch_fires_once_per_change)
{
	edera_ctx *ctx = open_ctx();
	struct watch_state s = { 0 };
	edera_xs_watch *w;

	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/w/seed", "0", 1), 0);
	ck_assert_int_eq(edera_xs_watch_add(ctx, &w, BASE "/w", on_watch, &s), 0);
	run_until(ctx, &s.events, 1, 10); /* xenstored fires once on registration */
	ck_assert_str_eq(s.last, BASE "/w");
	for (int i = 0; i < 10; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%d", i + 1);
		ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/w/k", v, strlen(v)), 0);
	}
	run_until(ctx, &s.events, 11, 10);
	run_for(ctx, 300);
	ck_assert_int_eq(s.events, 11);
	ck_assert_str_eq(s.last, BASE "/w/k");
	/* a change elsewhere does not fire it */
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/other", "x", 1), 0);
	run_for(ctx, 300);
	ck_assert_int_eq(s.events, 11);
	/* after removal, nothing */
	edera_xs_watch_remove(w);
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/w/k", "z", 1), 0);
	run_for(ctx, 300);
	ck_assert_int_eq(s.events, 11);
	ck_assert_int_eq(s.errors, 0);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- transactions --------------------------------------------------------------- */

struct tx_state {
	int bodies;
	int done;
	int status;
	edera_xs_txn *txn;
	edera_ctx *ctx;
};

static void tx_wrote(edera_ctx *ctx, int status, void *data)
{
	struct tx_state *s = data;

	if (status < 0)
		edera_xs_txn_abort(s->txn, status);
	else
		edera_xs_txn_commit(s->txn);
}

/* On the first attempt, someone else changes the node between our read and
 * our write, so the commit must conflict. */
static void tx_outside_wrote(edera_ctx *ctx, int status, void *data)
{
	struct tx_state *s = data;

	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(edera_xs_write(ctx, s->txn, BASE "/tx/n", "mine", 4, tx_wrote, s), 0);
}

static void tx_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct tx_state *s = data;

	if (status < 0) {
		edera_xs_txn_abort(s->txn, status);
		return;
	}
	if (edera_xs_txn_attempt(s->txn) == 1)
		ck_assert_int_eq(edera_xs_write(ctx, NULL, BASE "/tx/n", "theirs", 6,
		                                tx_outside_wrote, s),
		                 0);
	else
		ck_assert_int_eq(edera_xs_write(ctx, s->txn, BASE "/tx/n", "mine", 4, tx_wrote, s),
		                 0);
}

static void tx_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct tx_state *s = data;

	s->bodies++;
	s->txn = txn;
	ck_assert_int_eq(edera_xs_read(ctx, txn, BASE "/tx/n", tx_read, s), 0);
}

static void tx_done(edera_ctx *ctx, int status, void *data)
{
	struct tx_state *s = data;

	s->status = status;
	s->done++;
}

START_TEST(transaction_conflict_retried)
{
	edera_ctx *ctx = open_ctx();
	struct tx_state s = { 0 };
	char *v;

	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/tx/n", "start", 5), 0);
	ck_assert_int_eq(edera_xs_transaction(ctx, tx_body, tx_done, &s), 0);
	run_until(ctx, &s.done, 1, 30);
	ck_assert_msg(s.status == 0, "transaction: %s", edera_last_error());
	ck_assert_int_eq(s.bodies, 2); /* conflicted once, then committed */
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, BASE "/tx/n", &v, NULL), 0);
	ck_assert_str_eq(v, "mine");
	edera_free(v);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE), 0);
	edera_ctx_close(ctx);
}
END_TEST

static int sync_body_conflict(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	int *bodies = data;
	char *v;
	int rc;

	(*bodies)++;
	rc = edera_xs_read_sync(ctx, txn, BASE "/stx/n", &v, NULL);
	if (rc < 0)
		return rc;
	edera_free(v);
	if (*bodies == 1) { /* a write outside the transaction: conflict */
		rc = edera_xs_write_sync(ctx, NULL, BASE "/stx/n", "theirs", 6);
		if (rc < 0)
			return rc;
	}
	return edera_xs_write_sync(ctx, txn, BASE "/stx/n", "mine", 4);
}

static int sync_body_abort(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	int rc = edera_xs_write_sync(ctx, txn, BASE "/stx/aborted", "x", 1);
	return rc < 0 ? rc : EDERA_ECANCELED;
}

START_TEST(transaction_sync_conflict_and_abort)
{
	edera_ctx *ctx = open_ctx();
	int bodies = 0;
	char *v;

	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/stx/n", "start", 5), 0);
	ck_assert_int_eq(edera_xs_transaction_sync(ctx, sync_body_conflict, &bodies), 0);
	ck_assert_int_eq(bodies, 2);
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, BASE "/stx/n", &v, NULL), 0);
	ck_assert_str_eq(v, "mine");
	edera_free(v);
	/* an aborted transaction leaves nothing */
	ck_assert_int_eq(edera_xs_transaction_sync(ctx, sync_body_abort, NULL), EDERA_ECANCELED);
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, BASE "/stx/aborted", &v, NULL), EDERA_ENOENT);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- @introduceDomain and @releaseDomain ---------------------------------------- */

START_TEST(domain_watches_fire)
{
	edera_ctx *ctx = open_ctx();
	struct watch_state intro = { 0 }, rel = { 0 };
	edera_xs_watch *wi, *wr;
	const char *cfg = getenv("EDERA_PAUSED_CFG");

	ck_assert_msg(cfg != NULL, "EDERA_PAUSED_CFG (an xl config) is set by run-all.sh");
	ck_assert_int_eq(edera_xs_watch_add(ctx, &wi, "@introduceDomain", on_watch, &intro), 0);
	ck_assert_int_eq(edera_xs_watch_add(ctx, &wr, "@releaseDomain", on_watch, &rel), 0);
	run_until(ctx, &intro.events, 1, 10);
	run_until(ctx, &rel.events, 1, 10);
	ck_assert_str_eq(rel.last, "@releaseDomain");

	/* xl creates (paused) and destroys a domain: the loop is not running
	 * meanwhile; the events wait in the socket. */
	{
		char cmd[512];
		snprintf(cmd, sizeof(cmd), XL " create -q -p %s 'name=\"edera-xs-watch\"' && " XL
		         " destroy edera-xs-watch", cfg);
		ck_assert_int_eq(system(cmd), 0);
	}
	run_until(ctx, &intro.events, 2, 30);
	run_until(ctx, &rel.events, 2, 30);
	ck_assert_str_eq(intro.last, "@introduceDomain");
	ck_assert_str_eq(rel.last, "@releaseDomain");
	edera_xs_watch_remove(wi);
	edera_xs_watch_remove(wr);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- the xenbus device instead of the socket ----------------------------------- */

START_TEST(xenbus_device_fallback)
{
	edera_ctx *ctx;
	char *v = NULL;

	setenv("XENSTORED_PATH", "/nonexistent/xenstored-socket", 1);
	ctx = open_ctx();
	unsetenv("XENSTORED_PATH");
	ck_assert_int_eq(edera_xs_write_sync(ctx, NULL, BASE "/dev", "via-xenbus", 10), 0);
	ck_assert_int_eq(edera_xs_read_sync(ctx, NULL, BASE "/dev", &v, NULL), 0);
	ck_assert_str_eq(v, "via-xenbus");
	edera_free(v);
	ck_assert_int_eq(edera_xs_rm_sync(ctx, NULL, BASE), 0);
	edera_ctx_close(ctx);
}
END_TEST

/* ---- a context on the caller's loop leaves it clean ---------------------------- */

START_TEST(caller_loop_clean_after_close)
{
	uv_loop_t loop;
	edera_ctx *ctx = NULL;
	edera_ctx_options opts;
	struct watch_state s = { 0 };
	edera_xs_watch *w;

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	edera_ctx_options_init(&opts);
	opts.loop = &loop;
	ck_assert_int_eq(edera_ctx_open(&ctx, &opts), 0);
	ck_assert_int_eq(edera_xs_watch_add(ctx, &w, BASE, on_watch, &s), 0);
	run_until(ctx, &s.events, 1, 10);
	edera_ctx_close(ctx);
	uv_run(&loop, UV_RUN_DEFAULT); /* lets the connection finish closing */
	ck_assert_int_eq(uv_loop_alive(&loop), 0);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

Suite *xs_suite(void)
{
	Suite *s = suite_create("xenstore");
	TCase *tc = tcase_create("xenstored");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, pipelined_round_trips);
	tcase_add_test(tc, reads_on_lanes_keep_order);
	tcase_add_test(tc, long_listings);
	tcase_add_test(tc, blocking_forms_and_errors);
	tcase_add_test(tc, watch_fires_once_per_change);
	tcase_add_test(tc, transaction_conflict_retried);
	tcase_add_test(tc, transaction_sync_conflict_and_abort);
	tcase_add_test(tc, domain_watches_fire);
	tcase_add_test(tc, xenbus_device_fallback);
	tcase_add_test(tc, caller_loop_clean_after_close);
	suite_add_tcase(s, tc);
	return s;
}
