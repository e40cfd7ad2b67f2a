/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenStore client against a scripted fake xenstored on a socketpair:
 * request matching, partial and out-of-order replies, errors, malformed
 * replies, a dying server, watches and transaction retries.  The real
 * xenstored is exercised by the rig tests (tests/xen/test-xs.c). */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ctx.h"
#include "suites.h"
#include "xs/xs.h"
#include "xs/xs_internal.h"

/* ---- the fake server ------------------------------------------------------ */

struct msg {
	uint32_t type, id, tx, len;
	char payload[4097];
};

typedef void (*script_fn)(int fd, void *arg);

struct server {
	int fd;
	script_fn script;
	void *arg;
	pthread_t thread;
	bool joined;
};

static int srv_recv(int fd, struct msg *m)
{
	uint32_t hdr[4];
	size_t got = 0;

	while (got < 16) {
		ssize_t n = read(fd, (char *)hdr + got, 16 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	m->type = hdr[0];
	m->id = hdr[1];
	m->tx = hdr[2];
	m->len = hdr[3];
	ck_assert_uint_le(m->len, 4096);
	got = 0;
	while (got < m->len) {
		ssize_t n = read(fd, m->payload + got, m->len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	m->payload[m->len] = '\0';
	return 0;
}

static void srv_send(int fd, uint32_t type, uint32_t id, uint32_t tx, const void *p, uint32_t len)
{
	char buf[16 + 4200];
	uint32_t hdr[4] = { type, id, tx, len };

	memcpy(buf, hdr, 16);
	memcpy(buf + 16, p, len);
	ck_assert_int_eq(write(fd, buf, 16 + len), (ssize_t)(16 + len));
}

static void *server_main(void *p)
{
	struct server *s = p;

	s->script(s->fd, s->arg);
	return NULL;
}

struct fixture {
	uv_loop_t loop;
	edera_ctx *ctx;
	struct server srv;
	/* start_listening's: the socket xenstored listens on, its place */
	int lfd;
	char dir[32], path[64];
};

static int listen_xenstored(char *dir, char *path, size_t size, int backlog);
static void unlisten_xenstored(int fd, const char *dir, const char *path);

/* The client on one end of a socketpair of TYPE, SCRIPT's server on the
 * other. */
static void start_pair(struct fixture *f, int type, script_fn script, void *arg)
{
	int sv[2];

	f->lfd = -1;
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	ck_assert_int_eq(ed_ctx_new(&f->ctx, &f->loop), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(ed_xs_connect_fd(&f->ctx->xs, sv[0], "fake"), 0);
	f->srv.fd = sv[1];
	f->srv.joined = false;
	f->srv.script = script;
	f->srv.arg = arg;
	ck_assert_int_eq(pthread_create(&f->srv.thread, NULL, server_main, &f->srv), 0);
}

static void start(struct fixture *f, script_fn script, void *arg)
{
	start_pair(f, SOCK_STREAM, script, arg);
}

static void run_until(struct fixture *f, const int *flag, int want)
{
	time_t deadline = time(NULL) + 10;

	while (*flag < want) {
		ck_assert_msg(time(NULL) < deadline, "timed out waiting (%d of %d)", *flag, want);
		uv_run(&f->loop, UV_RUN_ONCE);
	}
}

/* A xenstored that hung up before the client wrote anything: its end
 * closed (the server thread joined). */
static void script_hang_up(int fd, void *arg)
{
	(void)fd, (void)arg;
}

static void start_hung_up(struct fixture *f)
{
	start(f, script_hang_up, NULL);
	pthread_join(f->srv.thread, NULL);
	f->srv.joined = true;
	close(f->srv.fd);
	f->srv.fd = -1;
}

/* Close everything and prove the loop is left with nothing alive. */
static void finish(struct fixture *f)
{
	edera_ctx_close(f->ctx);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_alive(&f->loop), 0);
	ck_assert_int_eq(uv_loop_close(&f->loop), 0);
	if (!f->srv.joined)
		pthread_join(f->srv.thread, NULL);
	if (f->srv.fd >= 0)
		close(f->srv.fd);
	if (f->lfd >= 0)
		unlisten_xenstored(f->lfd, f->dir, f->path);
}

/* ---- callbacks that record -------------------------------------------------- */

struct rec {
	int calls;
	int status[16];
	char value[16][64];
	size_t len[16];
};

static void rec_value(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct rec *r = data;

	ck_assert_int_lt(r->calls, 16);
	r->status[r->calls] = status;
	if (value)
		snprintf(r->value[r->calls], 64, "%s", value);
	else
		ck_assert_int_lt(status, 0);
	r->len[r->calls] = len;
	r->calls++;
}

static void rec_done(edera_ctx *ctx, int status, void *data)
{
	struct rec *r = data;

	r->status[r->calls++] = status;
}

/* ---- tests ---------------------------------------------------------------- */

/* Three reads, answered in reverse order, each reply written a byte at a time:
 * each callback still gets its own value. */
static void script_reverse(int fd, void *arg)
{
	struct msg m[3];

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(srv_recv(fd, &m[i]), 0);
		ck_assert_uint_eq(m[i].type, XS_READ);
	}
	for (int i = 2; i >= 0; i--) {
		char buf[16 + 64];
		char val[64];
		uint32_t hdr[4];
		int n = snprintf(val, sizeof(val), "value-of-%s", m[i].payload);

		hdr[0] = XS_READ;
		hdr[1] = m[i].id;
		hdr[2] = 0;
		hdr[3] = (uint32_t)n;
		memcpy(buf, hdr, 16);
		memcpy(buf + 16, val, (size_t)n);
		for (int b = 0; b < 16 + n; b++) {
			ck_assert_int_eq(write(fd, buf + b, 1), 1);
			if (b % 7 == 0)
				usleep(200);
		}
	}
}

START_TEST(replies_matched_by_id)
{
	struct fixture f;
	struct rec a = { 0 }, b = { 0 }, c = { 0 };

	start(&f, script_reverse, NULL);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/one", rec_value, &a), 0);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/two", rec_value, &b), 0);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/three", rec_value, &c), 0);
	run_until(&f, &a.calls, 1);
	run_until(&f, &b.calls, 1);
	run_until(&f, &c.calls, 1);
	ck_assert_str_eq(a.value[0], "value-of-/one");
	ck_assert_str_eq(b.value[0], "value-of-/two");
	ck_assert_str_eq(c.value[0], "value-of-/three");
	ck_assert_uint_eq(a.len[0], strlen("value-of-/one"));
	ck_assert_int_eq(a.calls + b.calls + c.calls, 3);
	finish(&f);
}
END_TEST

/* xenstored errors, a reply of the wrong type, then a good reply: the
 * connection survives all of them. */
static void script_errors(int fd, void *arg)
{
	struct msg m;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_ERROR, m.id, 0, "ENOENT", 7);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_ERROR, m.id, 0, "EACCES", 7);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_DIRECTORY, m.id, 0, "x", 2); /* answers a read as a directory */
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_ERROR, m.id, 0, "EBOGUS", 7);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_READ, m.id, 0, "fine", 4);
}

START_TEST(errors_reported_connection_kept)
{
	struct fixture f;
	struct rec r = { 0 };

	start(&f, script_errors, NULL);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/n", rec_value, &r), 0);
		run_until(&f, &r.calls, i + 1);
	}
	ck_assert_int_eq(r.status[0], EDERA_ENOENT);
	ck_assert_int_eq(r.status[1], EDERA_EACCES);
	ck_assert_int_eq(r.status[2], EDERA_EPROTO);
	ck_assert_int_eq(r.status[3], EDERA_EPROTO);
	ck_assert_int_eq(r.status[4], 0);
	ck_assert_str_eq(r.value[4], "fine");
	ck_assert(edera_xs_connected(f.ctx));
	finish(&f);
}
END_TEST

/* Bad input is refused before anything reaches the server. */
static void script_expect_one(int fd, void *arg)
{
	struct msg m;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	/* the only request that arrives is the valid one */
	ck_assert_str_eq(m.payload, "/valid");
	srv_send(fd, XS_WRITE, m.id, 0, "OK", 3);
}

START_TEST(bad_input_never_sent)
{
	static char big[5000];
	struct fixture f;
	struct rec r = { 0 };

	start(&f, script_expect_one, NULL);
	memset(big, 'v', sizeof(big));
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/x", big, 4096, rec_done, &r), EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/x", big, 4094, rec_done, &r), EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "bad path", "v", 1, rec_done, &r),
	                 EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, NULL, "v", 1, rec_done, &r), EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/x", NULL, 3, rec_done, &r), EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/x", NULL, &r), EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "@releaseDomain", rec_value, &r),
	                 EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_set_perms(f.ctx, NULL, "/x", NULL, 0, rec_done, &r),
	                 EDERA_EINVAL);
	ck_assert_int_eq(edera_xs_release(f.ctx, 0x7ff0, rec_done, &r), EDERA_EINVAL);
	/* path + NUL + value = 4096 exactly is the limit and is accepted */
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/valid", big, 4096 - 7, rec_done, &r), 0);
	run_until(&f, &r.calls, 1);
	ck_assert_int_eq(r.status[0], 0);
	ck_assert_int_eq(r.calls, 1);
	finish(&f);
}
END_TEST

/* The server dies with requests in flight: each fails, the watch hears it,
 * new requests are refused at once, and nothing hangs. */
static void script_die(int fd, void *arg)
{
	struct msg m;

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(srv_recv(fd, &m), 0); /* watch + 3 reads */
	shutdown(fd, SHUT_RDWR);
}

static void rec_watch(edera_ctx *ctx, int status, const char *path, void *data)
{
	struct rec *r = data;

	ck_assert_int_lt(r->calls, 16);
	r->status[r->calls] = status;
	snprintf(r->value[r->calls], 64, "%s", path ? path : "(null)");
	r->calls++;
}

START_TEST(server_death_fails_everything)
{
	struct fixture f;
	struct rec r = { 0 }, w = { 0 };
	edera_xs_watch *watch;

	start(&f, script_die, NULL);
	ck_assert_int_eq(edera_xs_watch_add(f.ctx, &watch, "/w", rec_watch, &w), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &r), 0);
	run_until(&f, &r.calls, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(r.status[i], EDERA_ECONNRESET);
	ck_assert_int_eq(w.calls, 1);
	ck_assert_int_eq(w.status[0], EDERA_ECONNRESET);
	ck_assert(!edera_xs_connected(f.ctx));
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &r), EDERA_ENOTCONN);
	ck_assert_int_eq(r.calls, 3);
	edera_xs_watch_remove(watch);
	finish(&f);
}
END_TEST

/* Malformed streams: an oversized length, and a reply to a request never
 * made.  Both end the connection with EDERA_EPROTO. */
static void script_oversized(int fd, void *arg)
{
	struct msg m;
	/* past what even a socket may carry (longer than 4096 is fine there:
	 * oxenstored sends long listings in one reply) */
	uint32_t hdr[4] = { XS_READ, 0, 0, ED_XS_SOCKET_PAYLOAD_MAX + 1 };

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	hdr[1] = m.id;
	ck_assert_int_eq(write(fd, hdr, 16), 16);
	/* the client drops us; reading sees the end */
	while (srv_recv(fd, &m) == 0)
		;
}

static void script_unknown_id(int fd, void *arg)
{
	struct msg m;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_READ, m.id + 1000, 0, "who?", 4);
	while (srv_recv(fd, &m) == 0)
		;
}

START_TEST(malformed_replies_end_connection)
{
	script_fn scripts[2] = { script_oversized, script_unknown_id };

	for (int i = 0; i < 2; i++) {
		struct fixture f;
		struct rec r = { 0 };

		start(&f, scripts[i], NULL);
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &r), 0);
		run_until(&f, &r.calls, 1);
		ck_assert_int_eq(r.status[0], EDERA_EPROTO);
		ck_assert(!edera_xs_connected(f.ctx));
		ck_assert_uint_ge(f.ctx->xs.protocol_errors, 1);
		finish(&f);
	}
}
END_TEST

/* Watch: acknowledged, then events for it (and one for an unknown token,
 * ignored); removal sends UNWATCH. */
static void script_watch(int fd, void *arg)
{
	struct msg m;
	char ev[128];
	char token[64];
	size_t plen;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_WATCH);
	ck_assert_str_eq(m.payload, "/zone");
	snprintf(token, sizeof(token), "%s", m.payload + strlen(m.payload) + 1);
	srv_send(fd, XS_WATCH, m.id, 0, "OK", 3);
	plen = (size_t)snprintf(ev, sizeof(ev), "/zone%cnot-a-token", 0) + 1;
	srv_send(fd, XS_WATCH_EVENT, 0, 0, ev, (uint32_t)plen);
	plen = (size_t)snprintf(ev, sizeof(ev), "/zone%c%s", 0, token) + 1;
	srv_send(fd, XS_WATCH_EVENT, 0, 0, ev, (uint32_t)plen);
	plen = (size_t)snprintf(ev, sizeof(ev), "/zone/state%c%s", 0, token) + 1;
	srv_send(fd, XS_WATCH_EVENT, 0, 0, ev, (uint32_t)plen);
	srv_send(fd, XS_WATCH_EVENT, 0, 0, "garbage-no-nul", 14);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_UNWATCH);
	ck_assert_str_eq(m.payload + strlen(m.payload) + 1, token);
	srv_send(fd, XS_UNWATCH, m.id, 0, "OK", 3);
}

START_TEST(watch_events_dispatched)
{
	struct fixture f;
	struct rec w = { 0 };
	edera_xs_watch *watch;

	start(&f, script_watch, NULL);
	ck_assert_int_eq(edera_xs_watch_add(f.ctx, &watch, "/zone", rec_watch, &w), 0);
	run_until(&f, &w.calls, 2);
	ck_assert_int_eq(w.status[0], 0);
	ck_assert_str_eq(w.value[0], "/zone");
	ck_assert_str_eq(w.value[1], "/zone/state");
	edera_xs_watch_remove(watch);
	/* the UNWATCH reply arrives and is absorbed */
	while (f.ctx->xs.npending)
		uv_run(&f.loop, UV_RUN_ONCE);
	ck_assert_int_eq(w.calls, 2);
	ck_assert(edera_xs_connected(f.ctx));
	finish(&f);
}
END_TEST

/* A transaction whose first commit conflicts is run again and commits. */
static void script_txn(int fd, void *arg)
{
	struct msg m;

	for (int attempt = 1; attempt <= 2; attempt++) {
		char id[8];
		int n = snprintf(id, sizeof(id), "%d", 40 + attempt);

		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_TRANSACTION_START);
		srv_send(fd, XS_TRANSACTION_START, m.id, 0, id, (uint32_t)n + 1);
		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_WRITE);
		ck_assert_uint_eq(m.tx, 40 + attempt);
		srv_send(fd, XS_WRITE, m.id, m.tx, "OK", 3);
		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_TRANSACTION_END);
		ck_assert_str_eq(m.payload, "T");
		if (attempt == 1)
			srv_send(fd, XS_ERROR, m.id, 0, "EAGAIN", 7);
		else
			srv_send(fd, XS_TRANSACTION_END, m.id, 0, "OK", 3);
	}
}

struct txn_state {
	int bodies;
	unsigned int last_attempt;
	struct rec done;
};

static void txn_wrote(edera_ctx *ctx, int status, void *data)
{
	edera_xs_txn *txn = data;

	if (status < 0)
		edera_xs_txn_abort(txn, status);
	else
		edera_xs_txn_commit(txn);
}

static void txn_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct txn_state *s = data;

	s->bodies++;
	s->last_attempt = edera_xs_txn_attempt(txn);
	ck_assert_int_eq(edera_xs_write(ctx, txn, "/t", "v", 1, txn_wrote, txn), 0);
}

static void txn_done(edera_ctx *ctx, int status, void *data)
{
	struct txn_state *s = data;

	rec_done(ctx, status, &s->done);
}

START_TEST(transaction_retried_on_conflict)
{
	struct fixture f;
	struct txn_state s = { 0 };

	start(&f, script_txn, NULL);
	ck_assert_int_eq(edera_xs_transaction(f.ctx, txn_body, txn_done, &s), 0);
	run_until(&f, &s.done.calls, 1);
	ck_assert_int_eq(s.done.status[0], 0);
	ck_assert_int_eq(s.bodies, 2);
	ck_assert_uint_eq(s.last_attempt, 2);
	finish(&f);
}
END_TEST

/* The library's transactions run one at a time, in the order asked; one
 * that conflicts keeps its turn (retried at once, then after a random wait)
 * and the next starts only when it committed.  The server asserts that no
 * second TRANSACTION_START arrives while one is open. */
static void script_serial(int fd, void *arg)
{
	int *conflicts = arg;
	struct msg m;

	for (int k = 0; k < 3; k++) {
		int ends = 0;

		for (;;) {
			char id[8], path[8];
			int n = snprintf(id, sizeof(id), "%d", 50 + k * 10 + ends);

			ck_assert_int_eq(srv_recv(fd, &m), 0);
			ck_assert_uint_eq(m.type, XS_TRANSACTION_START);
			srv_send(fd, XS_TRANSACTION_START, m.id, 0, id, (uint32_t)n + 1);
			ck_assert_int_eq(srv_recv(fd, &m), 0);
			ck_assert_uint_eq(m.type, XS_WRITE);
			ck_assert_uint_eq(m.tx, 50 + k * 10 + ends);
			snprintf(path, sizeof(path), "/s%d", k);
			ck_assert_str_eq(m.payload, path);
			srv_send(fd, XS_WRITE, m.id, m.tx, "OK", 3);
			ck_assert_int_eq(srv_recv(fd, &m), 0);
			ck_assert_uint_eq(m.type, XS_TRANSACTION_END);
			ck_assert_uint_eq(m.tx, 50 + k * 10 + ends);
			if (k == 1 && ends < *conflicts) {
				ends++;
				srv_send(fd, XS_ERROR, m.id, 0, "EAGAIN", 7);
				continue;
			}
			srv_send(fd, XS_TRANSACTION_END, m.id, 0, "OK", 3);
			break;
		}
	}
}

struct serial_txn {
	int k;
	int bodies;
	int *order, *norder;
	int status;
};

static void serial_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct serial_txn *t = data;
	char path[8];

	t->bodies++;
	snprintf(path, sizeof(path), "/s%d", t->k);
	ck_assert_int_eq(edera_xs_write(ctx, txn, path, "v", 1, txn_wrote, txn), 0);
}

static void serial_done(edera_ctx *ctx, int status, void *data)
{
	struct serial_txn *t = data;

	t->status = status;
	t->order[(*t->norder)++] = t->k;
}

START_TEST(library_transactions_one_at_a_time)
{
	struct fixture f;
	int conflicts = ED_XS_TXN_BACKOFF_AFTER + 2; /* two of them after a wait */
	int order[3] = { -1, -1, -1 }, norder = 0;
	struct serial_txn t[3];

	start(&f, script_serial, &conflicts);
	for (int k = 0; k < 3; k++) {
		t[k] = (struct serial_txn){ .k = k, .order = order, .norder = &norder, .status = 1 };
		ck_assert_int_eq(ed_xs_transaction_serial(f.ctx, serial_body, serial_done, &t[k]), 0);
	}
	run_until(&f, &norder, 3);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(order[k], k);
		ck_assert_int_eq(t[k].status, 0);
	}
	ck_assert_int_eq(t[0].bodies, 1);
	ck_assert_int_eq(t[1].bodies, conflicts + 1);
	ck_assert_int_eq(t[2].bodies, 1);
	finish(&f);
}
END_TEST

/* The waits grow from 1 ms and stay within the bound. */
START_TEST(backoff_bounded)
{
	for (unsigned int a = 1; a <= ED_XS_TXN_MAX_ATTEMPTS; a++) {
		unsigned int cap = a <= ED_XS_TXN_BACKOFF_AFTER ? 1 : 1u << (a - ED_XS_TXN_BACKOFF_AFTER);

		if (a - ED_XS_TXN_BACKOFF_AFTER >= 6 && a > ED_XS_TXN_BACKOFF_AFTER)
			cap = ED_XS_TXN_BACKOFF_MAX_MS;
		for (int i = 0; i < 50; i++) {
			unsigned int ms = ed_xs_txn_backoff_ms(a);

			ck_assert_uint_ge(ms, 1);
			ck_assert_uint_le(ms, cap);
		}
	}
}
END_TEST

/* Closing the context ends every library transaction: the one running
 * (here waiting to start again after conflicts, or starting) and those
 * waiting their turn, each once with EDERA_ECANCELED, nothing left alive
 * on the loop. */
static void script_conflicts_then_silent(int fd, void *arg)
{
	int *sent = arg;
	struct msg m;

	for (int attempt = 1;; attempt++) {
		if (srv_recv(fd, &m) < 0) {
			/* closed while waiting to start again */
			ck_assert_int_gt(attempt, ED_XS_TXN_BACKOFF_AFTER + 1);
			return;
		}
		ck_assert_uint_eq(m.type, XS_TRANSACTION_START);
		if (attempt > ED_XS_TXN_BACKOFF_AFTER + 1)
			break; /* no reply: the client waits */
		srv_send(fd, XS_TRANSACTION_START, m.id, 0, "7", 2);
		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_WRITE);
		srv_send(fd, XS_WRITE, m.id, m.tx, "OK", 3);
		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_TRANSACTION_END);
		srv_send(fd, XS_ERROR, m.id, 0, "EAGAIN", 7);
		__atomic_store_n(sent, attempt, __ATOMIC_SEQ_CST);
	}
	while (srv_recv(fd, &m) == 0)
		; /* until the client closes */
}

START_TEST(library_transactions_cancelled_at_close)
{
	struct fixture f;
	int sent = 0, order[3] = { -1, -1, -1 }, norder = 0;
	struct serial_txn t[3];

	start(&f, script_conflicts_then_silent, &sent);
	for (int k = 0; k < 3; k++) {
		t[k] = (struct serial_txn){ .k = 0, .order = order, .norder = &norder, .status = 1 };
		ck_assert_int_eq(ed_xs_transaction_serial(f.ctx, serial_body, serial_done, &t[k]), 0);
	}
	/* until the last conflict is read: the first is then backing off or
	 * starting again, the others wait */
	for (time_t deadline = time(NULL) + 10;
	     __atomic_load_n(&sent, __ATOMIC_SEQ_CST) < ED_XS_TXN_BACKOFF_AFTER + 1 ||
	     f.ctx->xs.serial_active->attempt < ED_XS_TXN_BACKOFF_AFTER + 1 ||
	     f.ctx->xs.serial_active->id != 0;) {
		ck_assert(time(NULL) < deadline);
		uv_run(&f.loop, UV_RUN_NOWAIT);
	}
	ck_assert_int_eq(t[0].bodies, ED_XS_TXN_BACKOFF_AFTER + 1);
	ck_assert_int_eq(norder, 0);
	ck_assert_int_eq(t[1].bodies + t[2].bodies, 0);
	edera_ctx_close(f.ctx);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(norder, 3);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(t[k].status, EDERA_ECANCELED);
	ck_assert_int_eq(uv_loop_alive(&f.loop), 0);
	ck_assert_int_eq(uv_loop_close(&f.loop), 0);
	pthread_join(f.srv.thread, NULL);
	close(f.srv.fd);
}
END_TEST

/* Blocking forms refuse to run inside a callback. */
static void script_one_read(int fd, void *arg)
{
	struct msg m;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	srv_send(fd, XS_READ, m.id, 0, "x", 1);
}

static void read_then_sync(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	char *v = NULL;
	int *out = data;

	out[1] = edera_xs_read_sync(ctx, NULL, "/nested", &v, NULL);
	ck_assert_ptr_null(v);
	out[0]++;
}

START_TEST(sync_refused_in_callback)
{
	struct fixture f;
	int out[2] = { 0, 0 };

	start(&f, script_one_read, NULL);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/n", read_then_sync, out), 0);
	run_until(&f, &out[0], 1);
	ck_assert_int_eq(out[1], EDERA_EBUSY);
	ck_assert_msg(strstr(edera_last_error(), "asynchronous form") != NULL, "%s",
	              edera_last_error());
	finish(&f);
}
END_TEST

/* Closing the context with requests in flight cancels them (callbacks run
 * with EDERA_ECANCELED) and leaves the loop clean. */
static void script_silent(int fd, void *arg)
{
	struct msg m;

	while (srv_recv(fd, &m) == 0)
		;
}

START_TEST(close_cancels_pending)
{
	struct fixture f;
	struct rec r = { 0 };
	edera_xs_watch *watch;

	start(&f, script_silent, NULL);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/a", rec_value, &r), 0);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/b", "1", 1, rec_done, &r), 0);
	ck_assert_int_eq(edera_xs_watch_add(f.ctx, &watch, "/c", rec_watch, &r), 0);
	uv_run(&f.loop, UV_RUN_NOWAIT);
	edera_ctx_close(f.ctx);
	ck_assert_int_eq(r.calls, 2);
	ck_assert_int_eq(r.status[0], EDERA_ECANCELED);
	ck_assert_int_eq(r.status[1], EDERA_ECANCELED);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&f.loop), 0);
	pthread_join(f.srv.thread, NULL);
	close(f.srv.fd);
}
END_TEST

/* A listing too long for one reply: E2BIG, then chunks; the generation
 * changes once midway, so the listing restarts. */
static void script_dir_parts(int fd, void *arg)
{
	struct msg m;
	static const struct {
		const char *gen;
		const char *data;
		uint32_t dlen;
		uint32_t off;
	} chunks[] = {
		{ "7", "a\0bb\0", 5, 0 },
		{ "8", "ccc\0\0", 5, 5 },   /* changed: start over */
		{ "8", "a\0bb\0", 5, 0 },
		{ "8", "ccc\0\0", 5, 5 },   /* the extra NUL ends it */
	};

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_DIRECTORY);
	srv_send(fd, XS_ERROR, m.id, 0, "E2BIG", 6);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char buf[64];
		size_t glen = strlen(chunks[i].gen) + 1;

		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_DIRECTORY_PART);
		ck_assert_str_eq(m.payload, "/big");
		ck_assert_uint_eq((uint32_t)atoi(m.payload + 5), chunks[i].off);
		memcpy(buf, chunks[i].gen, glen);
		memcpy(buf + glen, chunks[i].data, chunks[i].dlen);
		srv_send(fd, XS_DIRECTORY_PART, m.id, 0, buf, (uint32_t)(glen + chunks[i].dlen));
	}
}

static void rec_list(edera_ctx *ctx, int status, const char *const *names, size_t n, void *data)
{
	struct rec *r = data;

	r->status[0] = status;
	r->len[0] = n;
	for (size_t i = 0; i < n && i < 16; i++)
		snprintf(r->value[i], 64, "%s", names[i]);
	r->calls++;
}

START_TEST(directory_in_parts)
{
	struct fixture f;
	struct rec r = { 0 };

	start(&f, script_dir_parts, NULL);
	ck_assert_int_eq(edera_xs_directory(f.ctx, NULL, "/big", rec_list, &r), 0);
	run_until(&f, &r.calls, 1);
	ck_assert_int_eq(r.status[0], 0);
	ck_assert_uint_eq(r.len[0], 3);
	ck_assert_str_eq(r.value[0], "a");
	ck_assert_str_eq(r.value[1], "bb");
	ck_assert_str_eq(r.value[2], "ccc");
	finish(&f);
}
END_TEST

/* Many watches: an event's token finds its watch through the index (no
 * scan), removed ones and foreign tokens find none. */
static void script_ack_watches(int fd, void *arg)
{
	int *n = arg;
	struct msg m;

	for (int i = 0; i < *n; i++) {
		ck_assert_int_eq(srv_recv(fd, &m), 0);
		ck_assert_uint_eq(m.type, XS_WATCH);
		srv_send(fd, XS_WATCH, m.id, 0, "OK", 3);
	}
	while (srv_recv(fd, &m) == 0) /* UNWATCHes, until the client goes */
		;
}

static void count_event(edera_ctx *ctx, int status, const char *path, void *data)
{
	(*(int *)data)++;
}

#define N_WATCHES 2000

START_TEST(watch_tokens_indexed)
{
	static edera_xs_watch *w[N_WATCHES];
	static int events[N_WATCHES];
	struct fixture f;
	int n = N_WATCHES;

	start(&f, script_ack_watches, &n);
	for (int i = 0; i < N_WATCHES; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/w/%d", i);
		ck_assert_int_eq(edera_xs_watch_add(f.ctx, &w[i], path, count_event, &events[i]), 0);
	}
	while (f.ctx->xs.npending)
		uv_run(&f.loop, UV_RUN_ONCE);
	{
		edera_xs_stats st;

		edera_xs_stats_init(&st);
		ck_assert_int_eq(edera_xs_stats_get(f.ctx, &st), 0);
		ck_assert_uint_eq(st.watches, N_WATCHES);
		ck_assert_uint_eq(st.requests, N_WATCHES);
		ck_assert_uint_eq(st.pending, 0);
		st.sz = 3; /* not set by the _init function */
		ck_assert_int_eq(edera_xs_stats_get(f.ctx, &st), EDERA_EINVAL);
	}
	for (int i = 0; i < N_WATCHES; i++)
		ck_assert_ptr_eq(ed_xs_watch_find(&f.ctx->xs, w[i]->token), w[i]);
	ck_assert_ptr_null(ed_xs_watch_find(&f.ctx->xs, "edera-"));
	ck_assert_ptr_null(ed_xs_watch_find(&f.ctx->xs, "edera-zz"));
	ck_assert_ptr_null(ed_xs_watch_find(&f.ctx->xs, "edera-11111111111111111"));
	ck_assert_ptr_null(ed_xs_watch_find(&f.ctx->xs, "other-1"));
	ck_assert_ptr_null(ed_xs_watch_find(&f.ctx->xs, "edera-ffffff"));
	{
		char token[32];

		snprintf(token, sizeof(token), "%s", w[1234]->token);
		edera_xs_watch_remove(w[1234]);
		ck_assert_ptr_null(ed_xs_watch_find(&f.ctx->xs, token));
		ck_assert_ptr_eq(ed_xs_watch_find(&f.ctx->xs, w[1234 + ED_XS_BUCKETS]->token),
		                 w[1234 + ED_XS_BUCKETS]);
		ck_assert_ptr_eq(ed_xs_watch_find(&f.ctx->xs, w[1234 - ED_XS_BUCKETS]->token),
		                 w[1234 - ED_XS_BUCKETS]);
	}
	for (int i = 0; i < N_WATCHES; i++)
		if (i != 1234)
			edera_xs_watch_remove(w[i]);
	ck_assert_uint_eq(f.ctx->xs.nwatches, 0);
	finish(&f);
}
END_TEST

/* oxenstored's way: a listing longer than 4096 bytes in one XS_DIRECTORY
 * reply over the socket, no E2BIG.  A read sent after it still gets its
 * own reply: the connection survives. */
#define LONG_DIR_NAMES 3000

static void script_dir_long(int fd, void *arg)
{
	size_t cap = LONG_DIR_NAMES * 8, len = 0;
	char *buf = malloc(16 + cap);
	uint32_t hdr[4] = { XS_DIRECTORY, 0, 0, 0 };
	struct msg m;

	for (int i = 0; i < LONG_DIR_NAMES; i++)
		len += (size_t)snprintf(buf + 16 + len, cap - len, "n%d", i) + 1;
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_DIRECTORY);
	hdr[1] = m.id;
	hdr[3] = (uint32_t)len;
	memcpy(buf, hdr, 16);
	ck_assert_int_eq(write(fd, buf, 16 + len), (ssize_t)(16 + len));
	free(buf);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_READ);
	srv_send(fd, XS_READ, m.id, 0, "still", 5);
}

static void rec_long_list(edera_ctx *ctx, int status, const char *const *names, size_t n,
                          void *data)
{
	struct rec *r = data;
	char want[24];

	r->status[0] = status;
	r->len[0] = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "n%zu", i);
		if (strcmp(names[i], want) != 0) {
			r->status[0] = -1; /* a name lost or out of order */
			break;
		}
	}
	r->calls++;
}

START_TEST(directory_in_one_long_reply)
{
	struct fixture f;
	struct rec r = { 0 }, v = { 0 };

	start(&f, script_dir_long, NULL);
	ck_assert_int_eq(edera_xs_directory(f.ctx, NULL, "/big", rec_long_list, &r), 0);
	run_until(&f, &r.calls, 1);
	ck_assert_int_eq(r.status[0], 0);
	ck_assert_uint_eq(r.len[0], LONG_DIR_NAMES);
	ck_assert(edera_xs_connected(f.ctx));
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &v), 0);
	run_until(&f, &v.calls, 1);
	ck_assert_int_eq(v.status[0], 0);
	ck_assert_str_eq(v.value[0], "still");
	ck_assert_uint_eq(f.ctx->xs.protocol_errors, 0);
	finish(&f);
}
END_TEST

/* oxenstored over the ring: E2BIG, and no XS_DIRECTORY_PART to go on with
 * (it answers ENOSYS): a clear refusal, the connection kept. */
static void script_dir_no_parts(int fd, void *arg)
{
	struct msg m;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_DIRECTORY);
	srv_send(fd, XS_ERROR, m.id, 0, "E2BIG", 6);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_DIRECTORY_PART);
	srv_send(fd, XS_ERROR, m.id, 0, "ENOSYS", 7);
}

START_TEST(directory_parts_unsupported)
{
	struct fixture f;
	struct rec r = { 0 };

	start(&f, script_dir_no_parts, NULL);
	ck_assert_int_eq(edera_xs_directory(f.ctx, NULL, "/big", rec_list, &r), 0);
	run_until(&f, &r.calls, 1);
	ck_assert_int_eq(r.status[0], EDERA_ENOTSUP);
	ck_assert_msg(strstr(edera_last_error(), "/big") &&
	                      strstr(edera_last_error(), "XS_DIRECTORY_PART"),
	              "%s", edera_last_error());
	ck_assert(edera_xs_connected(f.ctx));
	finish(&f);
}
END_TEST

/* A fake xenstored's listening socket in a new directory DIR (a mkdtemp
 * template), named by XENSTORED_PATH; PATH gets its name. */
static int listen_xenstored(char *dir, char *path, size_t size, int backlog)
{
	struct sockaddr_un sa;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, size, "%s/socket", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	setenv("XENSTORED_PATH", path, 1);
	return fd;
}

static void unlisten_xenstored(int fd, const char *dir, const char *path)
{
	unsetenv("XENSTORED_PATH");
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* start's fixture with xenstored listening on a socket (BACKLOG), where
 * the client opens its lanes: SCRIPT's server finds the socket in *LFD,
 * set before it starts; finish removes it. */
static void start_listening(struct fixture *f, int backlog, script_fn script, void *arg,
                            int *lfd)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/edera-xs-XXXXXX");
	f->lfd = *lfd = listen_xenstored(f->dir, f->path, sizeof(f->path), backlog);
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	ck_assert_int_eq(ed_ctx_new(&f->ctx, &f->loop), 0);
	f->srv.fd = -1;
	f->srv.joined = false;
	f->srv.script = script;
	f->srv.arg = arg;
	ck_assert_int_eq(pthread_create(&f->srv.thread, NULL, server_main, &f->srv), 0);
	ck_assert_int_eq(ed_xs_connect(&f->ctx->xs), 0);
}

/* N writes, /g0 to /g<N-1>, the i-th on lane i (ed_xs_group_lane),
 * recorded in W. */
static void write_group(edera_ctx *ctx, int n, struct rec *w)
{
	for (int i = 0; i < n; i++) {
		char node[8];

		snprintf(node, sizeof(node), "/g%d", i);
		ed_xs_group_lane(&ctx->xs, i);
		ck_assert_int_eq(edera_xs_write(ctx, NULL, node, "v", 1, rec_done, w), 0);
	}
	ed_xs_group_lane(&ctx->xs, -1);
}

/* xenstored restarts: the context reconnects through XENSTORED_PATH and
 * registers its watch again. */
struct listener {
	int lfd;
	int generation; /* which server life this is */
};

static void script_listen(int unused, void *arg)
{
	struct listener *l = arg;
	struct msg m;
	char ev[96];
	char token[64];
	size_t plen;
	int fd = accept(l->lfd, NULL, NULL);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_WATCH);
	snprintf(token, sizeof(token), "%s", m.payload + strlen(m.payload) + 1);
	srv_send(fd, XS_WATCH, m.id, 0, "OK", 3);
	plen = (size_t)snprintf(ev, sizeof(ev), "/life%d%c%s", l->generation, 0, token) + 1;
	srv_send(fd, XS_WATCH_EVENT, 0, 0, ev, (uint32_t)plen);
	if (l->generation == 2) {
		ck_assert_int_eq(srv_recv(fd, &m), 0);
		srv_send(fd, XS_READ, m.id, 0, "back", 4);
		while (srv_recv(fd, &m) == 0)
			;
	}
	close(fd); /* the first life ends here: xenstored "dies" */
}

START_TEST(reconnect_restores_watches)
{
	char dir[] = "/tmp/edera-xs-XXXXXX";
	char path[64];
	struct listener l = { 0 };
	struct rec w = { 0 }, r = { 0 };
	uv_loop_t loop;
	edera_ctx *ctx;
	edera_xs_watch *watch;
	pthread_t th;
	struct server srv = { .fd = -1, .script = script_listen, .arg = &l };

	l.lfd = listen_xenstored(dir, path, sizeof(path), 4);

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(ed_ctx_new(&ctx, &loop), 0);
	l.generation = 1;
	ck_assert_int_eq(pthread_create(&th, NULL, server_main, &srv), 0);
	ck_assert_int_eq(ed_xs_connect(&ctx->xs), 0);
	ck_assert_int_eq(edera_xs_watch_add(ctx, &watch, "/life", rec_watch, &w), 0);
	while (w.calls < 2)
		uv_run(&loop, UV_RUN_ONCE);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.status[0], 0);
	ck_assert_str_eq(w.value[0], "/life1");
	ck_assert_int_eq(w.status[1], EDERA_ECONNRESET);
	ck_assert(!edera_xs_connected(ctx));

	/* xenstored is back */
	l.generation = 2;
	ck_assert_int_eq(pthread_create(&th, NULL, server_main, &srv), 0);
	ck_assert_int_eq(edera_xs_reconnect(ctx), 0);
	ck_assert(edera_xs_connected(ctx));
	while (w.calls < 3)
		uv_run(&loop, UV_RUN_ONCE);
	ck_assert_int_eq(w.status[2], 0);
	ck_assert_str_eq(w.value[2], "/life2");
	ck_assert_int_eq(edera_xs_read(ctx, NULL, "/x", rec_value, &r), 0);
	while (r.calls < 1)
		uv_run(&loop, UV_RUN_ONCE);
	ck_assert_str_eq(r.value[0], "back");

	edera_xs_watch_remove(watch);
	edera_ctx_close(ctx);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	pthread_join(th, NULL);
	unlisten_xenstored(l.lfd, dir, path);
}
END_TEST

/* A fake xenstored taking any number of connections on a listening
 * socket (the client's lanes): each poll, one message of each connection
 * that has one, as xenstored does. */
struct multi {
	int lfd, n;          /* connections accepted */
	int fds[16];
	struct pollfd pf[17];
	int next;            /* the connection to look at next; -1: poll */
};

static void multi_init(struct multi *s, int lfd)
{
	memset(s, 0, sizeof(*s));
	s->lfd = lfd;
	s->pf[0].fd = lfd;
	s->pf[0].events = POLLIN;
	s->next = -1;
}

/* The next message (accepting connections on the way): its connection's
 * index, or -1 - C when connection C ended (no longer polled). */
static int multi_recv(struct multi *s, struct msg *m)
{
	for (;;) {
		if (s->next < 0) {
			ck_assert_int_gt(poll(s->pf, (nfds_t)(1 + s->n), 10000), 0);
			if (s->pf[0].revents & POLLIN) {
				ck_assert_int_lt(s->n, 16);
				s->fds[s->n] = accept(s->lfd, NULL, NULL);
				ck_assert_int_ge(s->fds[s->n], 0);
				s->pf[1 + s->n].fd = s->fds[s->n];
				s->pf[1 + s->n].events = POLLIN;
				s->pf[1 + s->n].revents = 0; /* (not polled yet this turn) */
				s->n++;
			}
			s->next = 0;
		}
		while (s->next < s->n) {
			int c = s->next++;

			if (!(s->pf[1 + c].revents & (POLLIN | POLLHUP)))
				continue;
			if (srv_recv(s->fds[c], m) < 0) {
				s->pf[1 + c].fd = -1;
				return -1 - c;
			}
			return c;
		}
		s->next = -1;
	}
}

static void multi_close(struct multi *s)
{
	for (int c = 0; c < s->n; c++)
		close(s->fds[c]);
}

/* Read lanes: a fake xenstored on a socket that accepts any number of
 * connections.  It answers no read until it has all NREADS of them, so the
 * client must have spread them; the write sent behind them must arrive
 * only after every lane's read was answered, on the main connection, with
 * the read asked after it behind it. */
#define NREADS 40

struct lane_srv {
	int lfd;
	int nconns;        /* connections accepted */
	int per_conn[16];  /* reads received on each */
	bool write_early;  /* the write came before the reads were answered */
	bool order_ok;     /* write, then /after, both on the first connection */
	int closed;        /* lanes the client closed (EOF) */
};

static void script_lanes(int unused, void *arg)
{
	struct lane_srv *l = arg;
	struct multi srv;
	struct msg m, pend[NREADS];
	int pend_conn[NREADS], npend = 0, stage = 0, c;

	multi_init(&srv, l->lfd);
	for (;;) {
		c = multi_recv(&srv, &m);
		l->nconns = srv.n;
		if (c == -1)
			break; /* the client closed its main connection: the end */
		if (c < 0) {
			l->closed++; /* a lane gone idle */
			continue;
		}
		if (stage == 0 && m.type == XS_READ) {
			l->per_conn[c]++;
			pend[npend] = m;
			pend_conn[npend++] = c;
			if (npend == NREADS) {
				for (int i = 0; i < NREADS; i++)
					srv_send(srv.fds[pend_conn[i]], XS_READ, pend[i].id, 0,
					         pend[i].payload, pend[i].len - 1);
				stage = 1;
			}
		} else if (stage == 0) {
			l->write_early = true;
		} else if (stage == 1) {
			ck_assert_uint_eq(m.type, XS_WRITE);
			l->order_ok = c == 0;
			srv_send(srv.fds[c], XS_WRITE, m.id, 0, "OK", 3);
			stage = 2;
		} else if (stage == 2) {
			ck_assert_uint_eq(m.type, XS_READ);
			l->order_ok = l->order_ok && c == 0 && !strcmp(m.payload, "/after");
			srv_send(srv.fds[c], XS_READ, m.id, 0, "late", 4);
			stage = 3;
		}
	}
	multi_close(&srv);
}

START_TEST(reads_spread_on_lanes_in_order)
{
	char key[NREADS][16];
	struct lane_srv l = { 0 };
	struct rec w = { 0 }, after = { 0 };
	static struct rec vals[NREADS];
	struct fixture f;
	edera_ctx *ctx;

	memset(vals, 0, sizeof(vals));
	start_listening(&f, 16, script_lanes, &l, &l.lfd);
	ctx = f.ctx;

	for (int i = 0; i < NREADS; i++) {
		snprintf(key[i], sizeof(key[i]), "/k%d", i);
		ck_assert_int_eq(edera_xs_read(ctx, NULL, key[i], rec_value, &vals[i]), 0);
	}
	ck_assert_int_eq(edera_xs_write(ctx, NULL, "/w", "v", 1, rec_done, &w), 0);
	ck_assert_int_eq(edera_xs_read(ctx, NULL, "/after", rec_value, &after), 0);
	while (after.calls < 1)
		uv_run(&f.loop, UV_RUN_ONCE);
	for (int i = 0; i < NREADS; i++) {
		ck_assert_int_eq(vals[i].calls, 1);
		ck_assert_int_eq(vals[i].status[0], 0);
		ck_assert_str_eq(vals[i].value[0], key[i]);
	}
	ck_assert_int_eq(w.calls, 1);
	ck_assert_int_eq(w.status[0], 0);
	ck_assert_str_eq(after.value[0], "late");

	/* spread: more than one connection, at most ED_XS_LANES_MAX, none
	 * holding more than ED_XS_LANE_DEPTH while others were below it */
	ck_assert_int_gt(l.nconns, 1);
	ck_assert_int_le(l.nconns, ED_XS_LANES_MAX);
	for (int c = 0; c < l.nconns; c++)
		ck_assert_int_le(l.per_conn[c], ED_XS_LANE_DEPTH);
	ck_assert(!l.write_early);
	ck_assert(l.order_ok);

	/* idle lanes close (the timer's 2 s); the main connection stays */
	{
		time_t deadline = time(NULL) + 10;

		while (l.closed < l.nconns - 1 && time(NULL) < deadline)
			uv_run(&f.loop, UV_RUN_NOWAIT), usleep(10 * 1000);
	}
	ck_assert_int_eq(l.closed, l.nconns - 1);
	ck_assert_int_eq(ctx->xs.nlanes, 0);
	ck_assert(edera_xs_connected(ctx));
	finish(&f);
}
END_TEST

/* A write held behind reads in flight on the lanes when the context
 * closes still reaches xenstored, on the main connection, as it would
 * have with no lanes (and its callback is told it was cancelled). */
struct held_srv {
	int lfd;
	int writes_main, writes_lane;
};

static void script_held(int unused, void *arg)
{
	struct held_srv *h = arg;
	struct multi srv;
	struct msg m;
	int c, ended = 0;

	multi_init(&srv, h->lfd);
	do { /* until every connection ended (a lane opens before any ends) */
		if ((c = multi_recv(&srv, &m)) < 0)
			ended++;
		else if (m.type == XS_WRITE)
			(*(c == 0 ? &h->writes_main : &h->writes_lane))++;
	} while (ended < srv.n);
	multi_close(&srv);
}

START_TEST(held_requests_written_at_close)
{
	struct held_srv h = { 0 };
	static struct rec vals[NREADS];
	struct rec w = { 0 };
	struct fixture f;

	memset(vals, 0, sizeof(vals));
	start_listening(&f, 16, script_held, &h, &h.lfd);
	for (int i = 0; i < NREADS; i++)
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/k", rec_value, &vals[i]), 0);
	ck_assert_uint_gt(f.ctx->xs.nlanes, 0);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/w", "v", 1, rec_done, &w), 0);
	ck_assert(!ed_list_empty(&f.ctx->xs.held)); /* behind the reads */
	finish(&f);
	ck_assert_int_eq(h.writes_main, 1);
	ck_assert_int_eq(h.writes_lane, 0);
	ck_assert_int_eq(w.calls, 1);
	ck_assert_int_eq(w.status[0], EDERA_ECANCELED);
}
END_TEST

/* ...but not ahead of a write still in flight on a lane (a group's: a
 * zone's nodes), which it was held behind: then it is dropped. */
START_TEST(held_requests_never_overtake_lane_writes)
{
	struct held_srv h = { 0 };
	struct rec g = { 0 }, w = { 0 };
	struct fixture f;

	start_listening(&f, 16, script_held, &h, &h.lfd);
	ed_xs_group_lane(&f.ctx->xs, 1);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/node", "v", 1, rec_done, &g), 0);
	ed_xs_group_lane(&f.ctx->xs, -1);
	ck_assert_uint_eq(f.ctx->xs.nlanes, 1);
	ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/after", "v", 1, rec_done, &w), 0);
	ck_assert(!ed_list_empty(&f.ctx->xs.held)); /* behind the lane's write */
	finish(&f);
	ck_assert_int_eq(h.writes_lane, 1);
	ck_assert_int_eq(h.writes_main, 0);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(w.calls, 1);
	ck_assert_int_eq(w.status[0], EDERA_ECANCELED);
}
END_TEST

/* The library's unordered writes (a zone's nodes): each on the lane it is
 * given, and a write sent after them waits until all were answered. */
#define NGROUP 4

struct group_srv {
	int lfd;
	int nconns;
	int lane_of[NGROUP]; /* the connection /g<i> came on */
	bool after_early;     /* /after came before the group was answered */
	bool after_main;      /* /after came on the first connection */
};

static void script_group(int unused, void *arg)
{
	struct group_srv *l = arg;
	struct multi srv;
	struct msg m, pend[NGROUP];
	int pend_conn[NGROUP], got = 0, c;

	multi_init(&srv, l->lfd);
	for (;;) {
		c = multi_recv(&srv, &m);
		ck_assert_int_ge(c, 0);
		l->nconns = srv.n;
		ck_assert_uint_eq(m.type, XS_WRITE);
		if (!strcmp(m.payload, "/after")) {
			l->after_early = got < NGROUP;
			l->after_main = c == 0;
			srv_send(srv.fds[c], XS_WRITE, m.id, 0, "OK", 3);
			break;
		}
		ck_assert_int_eq(m.payload[0], '/');
		ck_assert_int_eq(m.payload[1], 'g');
		l->lane_of[m.payload[2] - '0'] = c;
		pend[got] = m;
		pend_conn[got++] = c;
		if (got == NGROUP)
			for (int i = 0; i < NGROUP; i++)
				srv_send(srv.fds[pend_conn[i]], XS_WRITE, pend[i].id, 0, "OK", 3);
	}
	/* until the client closes its main connection */
	while (multi_recv(&srv, &m) != -1)
		;
	multi_close(&srv);
}

START_TEST(group_writes_on_their_lanes)
{
	struct group_srv l = { 0 };
	struct rec w = { 0 }, after = { 0 };
	struct fixture f;
	edera_ctx *ctx;

	start_listening(&f, 16, script_group, &l, &l.lfd);
	ctx = f.ctx;
	write_group(ctx, NGROUP, &w);
	ck_assert_int_eq(edera_xs_write(ctx, NULL, "/after", "v", 1, rec_done, &after), 0);
	while (after.calls < 1)
		uv_run(&f.loop, UV_RUN_ONCE);
	ck_assert_int_eq(w.calls, NGROUP);
	for (int i = 0; i < NGROUP; i++) {
		ck_assert_int_eq(w.status[i], 0);
		ck_assert_int_eq(l.lane_of[i], i); /* lane i: the i-th connection */
	}
	ck_assert_int_eq(l.nconns, NGROUP);
	ck_assert(!l.after_early);
	ck_assert(l.after_main);
	finish(&f);
}
END_TEST

/* A xenstored that does not accept (the C one listens with a backlog of
 * one and accepts once per turn): opening lanes gives up after a bounded
 * wait instead of hanging the loop, and the writes go on the connections
 * there are. */
struct busy_srv {
	int lfd;
	int nconns;
};

static void script_busy(int unused, void *arg)
{
	struct busy_srv *l = arg;
	struct multi srv;
	struct msg m;

	usleep(500 * 1000); /* not accepting meanwhile */
	multi_init(&srv, l->lfd);
	for (int answered = 0; answered < 9; answered++) {
		int c = multi_recv(&srv, &m);

		ck_assert_int_ge(c, 0);
		l->nconns = srv.n;
		ck_assert_uint_eq(m.type, XS_WRITE);
		srv_send(srv.fds[c], XS_WRITE, m.id, 0, "OK", 3);
	}
	while (multi_recv(&srv, &m) != -1)
		;
	multi_close(&srv);
}

START_TEST(lanes_do_not_wait_for_a_busy_xenstored)
{
	struct busy_srv l = { 0 };
	struct rec w = { 0 }, after = { 0 };
	struct fixture f;
	edera_ctx *ctx;

	start_listening(&f, 1, script_busy, &l, &l.lfd);
	ctx = f.ctx;
	write_group(ctx, 8, &w);
	/* (a blocking connect would still be waiting here, the server asleep) */
	ck_assert_int_lt(ctx->xs.nlanes, 7);
	ck_assert_int_eq(edera_xs_write(ctx, NULL, "/after", "v", 1, rec_done, &after), 0);
	while (after.calls < 1)
		uv_run(&f.loop, UV_RUN_ONCE);
	ck_assert_int_eq(w.calls, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(w.status[i], 0);
	ck_assert_int_eq(after.status[0], 0);
	ck_assert_int_eq(l.nconns, (int)ctx->xs.nlanes + 1);
	finish(&f);
}
END_TEST


/* Requests sent after one that went out at once go together in the next
 * write, on the loop's next turn: on a SOCK_SEQPACKET pair each write is
 * one packet, so the fake server sees how many writes carried NCOAL reads
 * sent at once (the first alone, the rest together), and answers each in
 * order. */
#define NCOAL 100

struct coal_srv {
	int packets, msgs;
	bool order_ok;
};

static void script_coalesced(int fd, void *arg)
{
	struct coal_srv *c = arg;
	static char pkt[65536];

	c->order_ok = true;
	while (c->msgs < NCOAL) {
		ssize_t n = recv(fd, pkt, sizeof(pkt), 0);
		size_t off = 0;

		ck_assert_int_gt(n, 0);
		c->packets++;
		while (off + 16 <= (size_t)n) {
			uint32_t hdr[4];
			char want[16];

			memcpy(hdr, pkt + off, 16);
			ck_assert_uint_eq(hdr[0], XS_READ);
			ck_assert_uint_le(off + 16 + hdr[3], (size_t)n);
			snprintf(want, sizeof(want), "/c%d", c->msgs);
			if (hdr[3] != strlen(want) + 1 || memcmp(pkt + off + 16, want, hdr[3]) != 0)
				c->order_ok = false;
			srv_send(fd, XS_READ, hdr[1], 0, pkt + off + 16, hdr[3] - 1);
			off += 16 + hdr[3];
			c->msgs++;
		}
		ck_assert_uint_eq(off, (size_t)n); /* whole messages only */
	}
}

START_TEST(requests_sent_meanwhile_go_in_one_write)
{
	struct fixture f;
	struct coal_srv c = { 0 };
	static struct rec vals[NCOAL];
	char key[NCOAL][16];

	memset(vals, 0, sizeof(vals));
	start_pair(&f, SOCK_SEQPACKET, script_coalesced, &c);

	for (int i = 0; i < NCOAL; i++) {
		snprintf(key[i], sizeof(key[i]), "/c%d", i);
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, key[i], rec_value, &vals[i]), 0);
	}
	for (int i = 0; i < NCOAL; i++)
		run_until(&f, &vals[i].calls, 1);
	for (int i = 0; i < NCOAL; i++) {
		ck_assert_int_eq(vals[i].calls, 1);
		ck_assert_int_eq(vals[i].status[0], 0);
		ck_assert_str_eq(vals[i].value[0], key[i]);
	}
	finish(&f); /* (joins the server: its counts are final) */
	ck_assert_int_eq(c.msgs, NCOAL);
	ck_assert(c.order_ok);
	/* the first alone, then the other 99 in one write */
	ck_assert_int_eq(c.packets, 2);
}
END_TEST

/* The same, with the loop run as an embedder polling its backend
 * descriptor does (the Python bindings): the requests queued after the
 * first are due at once (uv_backend_timeout says 0), never left waiting
 * while the loop sleeps for a reply that cannot come. */
START_TEST(requests_queued_reach_a_loop_run_from_its_backend_fd)
{
	struct fixture f;
	struct coal_srv c = { 0 };
	static struct rec vals[NCOAL];
	char key[NCOAL][16];
	time_t deadline = time(NULL) + 10;
	int answered = 0;

	memset(vals, 0, sizeof(vals));
	start_pair(&f, SOCK_SEQPACKET, script_coalesced, &c);
	for (int i = 0; i < NCOAL; i++) {
		snprintf(key[i], sizeof(key[i]), "/c%d", i);
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, key[i], rec_value, &vals[i]), 0);
	}
	while (answered < NCOAL) {
		int t = uv_backend_timeout(&f.loop);
		struct pollfd p = { .fd = uv_backend_fd(&f.loop), .events = POLLIN };
		int n = poll(&p, 1, t < 0 ? 2000 : t);

		ck_assert_msg(n > 0 || t >= 0, "the loop would sleep with %d of %d answered",
		              answered, NCOAL);
		ck_assert(time(NULL) < deadline);
		uv_run(&f.loop, UV_RUN_NOWAIT);
		answered = 0;
		for (int i = 0; i < NCOAL; i++)
			answered += vals[i].calls;
	}
	for (int i = 0; i < NCOAL; i++)
		ck_assert_str_eq(vals[i].value[0], key[i]);
	finish(&f);
	ck_assert(c.order_ok);
	ck_assert_int_eq(c.packets, 2);
}
END_TEST

/* Requests sent just before the context closes, on a loop nobody runs
 * after: those queued after the first still reach xenstored. */
static void script_count(int fd, void *arg)
{
	int *n = arg;
	struct msg m;

	while (srv_recv(fd, &m) == 0) {
		ck_assert_uint_eq(m.type, XS_WRITE);
		(*n)++;
	}
}

START_TEST(requests_sent_before_close_are_written)
{
	struct fixture f;
	struct rec r = { 0 };
	int n = 0;

	start(&f, script_count, &n);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(edera_xs_write(f.ctx, NULL, "/last", "v", 1, rec_done, &r), 0);
	finish(&f);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(r.calls, 5); /* (each told it was cancelled) */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(r.status[i], EDERA_ECANCELED);
}
END_TEST

/* xenstored gone before a request is written: the request fails, and the
 * process lives on with SIGPIPE's default action (the write raised it;
 * the library took it back), its signal mask as it was. */
START_TEST(hung_up_xenstored_raises_no_sigpipe)
{
	struct fixture f;
	struct rec r = { 0 };
	sigset_t mask, pending;

	start_hung_up(&f); /* before anything is written: the write meets EPIPE */
	signal(SIGPIPE, SIG_DFL);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &r), 0);
	run_until(&f, &r.calls, 1);
	ck_assert_int_eq(r.status[0], EDERA_ECONNRESET);
	ck_assert(!edera_xs_connected(f.ctx));
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
	ck_assert(!sigismember(&mask, SIGPIPE));
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(!sigismember(&pending, SIGPIPE));
	finish(&f);
}
END_TEST

/* A SIGPIPE the caller had pending (blocked) before the write is left
 * pending: the library takes back only what it raised. */
START_TEST(pending_sigpipe_left_alone)
{
	static const struct timespec now = { 0, 0 };
	struct fixture f;
	struct rec r = { 0 };
	sigset_t pipe_only, old, pending;
	bool still;
	int taken;

	start_hung_up(&f);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &pipe_only, &old), 0);
	ck_assert_int_eq(raise(SIGPIPE), 0);
	ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &r), 0);
	run_until(&f, &r.calls, 1);
	/* (the mask restored before asserting: without a fork, the tests
	 * after this one run in this process) */
	still = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	taken = sigtimedwait(&pipe_only, NULL, &now);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	ck_assert_int_eq(r.status[0], EDERA_ECONNRESET);
	ck_assert(still);
	ck_assert_int_eq(taken, SIGPIPE);
	finish(&f);
}
END_TEST

/* Nothing listening: a clear error naming the place, not a hang. */
START_TEST(connect_refused_is_clear)
{
	uv_loop_t loop;
	edera_ctx *ctx;

	setenv("XENSTORED_PATH", "/tmp", 1); /* exists, but is no socket */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(ed_ctx_new(&ctx, &loop), 0);
	ck_assert_int_eq(ed_xs_connect(&ctx->xs), EDERA_ENOTCONN);
	ck_assert_msg(strstr(edera_last_error(), "xenstored") != NULL, "%s", edera_last_error());
	ck_assert_int_eq(edera_xs_reconnect(ctx), EDERA_ENOTCONN);
	unsetenv("XENSTORED_PATH");
	edera_ctx_close(ctx);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* A transaction does not outlive its connection. */
static void script_txn_then_die(int fd, void *arg)
{
	struct msg m;

	ck_assert_int_eq(srv_recv(fd, &m), 0);
	ck_assert_uint_eq(m.type, XS_TRANSACTION_START);
	srv_send(fd, XS_TRANSACTION_START, m.id, 0, "1", 2);
	usleep(100 * 1000);
	shutdown(fd, SHUT_RDWR);
}

struct held {
	edera_xs_txn *txn;
	struct rec done;
};

static void hold_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	((struct held *)data)->txn = txn;
}

static void held_done(edera_ctx *ctx, int status, void *data)
{
	rec_done(ctx, status, &((struct held *)data)->done);
}

START_TEST(transaction_dies_with_connection)
{
	struct fixture f;
	struct held h = { 0 };
	struct rec r = { 0 };

	start(&f, script_txn_then_die, NULL);
	ck_assert_int_eq(edera_xs_transaction(f.ctx, hold_body, held_done, &h), 0);
	while (!h.txn)
		uv_run(&f.loop, UV_RUN_ONCE);
	while (edera_xs_connected(f.ctx))
		uv_run(&f.loop, UV_RUN_ONCE);
	ck_assert_int_eq(edera_xs_write(f.ctx, h.txn, "/a", "v", 1, rec_done, &r), EDERA_ECONNRESET);
	edera_xs_txn_commit(h.txn);
	ck_assert_int_eq(h.done.calls, 0); /* never inside the commit call */
	run_until(&f, &h.done.calls, 1);
	ck_assert_int_eq(h.done.status[0], EDERA_ECONNRESET);
	ck_assert_int_eq(r.calls, 0);
	finish(&f);
}
END_TEST

/* Writes larger than the socket takes at once: the rest of the one sent
 * directly goes through libuv, the queue behind it after, every byte in
 * order (the fake server reads only once the client's buffer is full). */
#define NBIG 40
#define BIGLEN 3000

struct big_srv {
	int got;
	bool ok;
};

static void script_big(int fd, void *arg)
{
	struct big_srv *b = arg;
	sigset_t pipe_only;
	struct msg m;

	/* (a client that closed first makes this thread's replies fail) */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
	b->ok = true;
	usleep(300 * 1000); /* the client's socket fills meanwhile */
	while (b->got < NBIG && srv_recv(fd, &m) == 0) {
		static const char reply[16 + 3] = { 0 };
		char want[32], out[sizeof(reply)];
		uint32_t hdr[4] = { XS_WRITE, m.id, 0, 3 };
		const char *val;

		snprintf(want, sizeof(want), "/big%d", b->got);
		if (m.type != XS_WRITE || m.len != strlen(want) + 1 + BIGLEN ||
		    strcmp(m.payload, want) != 0)
			b->ok = false;
		val = m.payload + strlen(want) + 1;
		for (int i = 0; i < BIGLEN && b->ok; i++)
			b->ok = val[i] == (char)('a' + (b->got + i) % 26);
		memcpy(out, hdr, 16);
		memcpy(out + 16, "OK", 3);
		if (write(fd, out, sizeof(out)) != (ssize_t)sizeof(out))
			break;
		b->got++;
	}
}

static void send_big(struct fixture *f, struct rec *r, int i)
{
	static char val[BIGLEN];
	char path[32];

	snprintf(path, sizeof(path), "/big%d", i);
	for (int j = 0; j < BIGLEN; j++)
		val[j] = (char)('a' + (i + j) % 26);
	ck_assert_int_eq(edera_xs_write(f->ctx, NULL, path, val, BIGLEN, rec_done, r), 0);
}

static void small_send_buffer(struct fixture *f)
{
	int sz = 4096;
	uv_os_fd_t fd;

	ck_assert_int_eq(uv_fileno((uv_handle_t *)&f->ctx->xs.conn->pipe, &fd), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
}

START_TEST(writes_the_socket_takes_in_part_stay_in_order)
{
	struct fixture f;
	struct big_srv b = { 0 };
	static struct rec r[NBIG];
	int done = 0;

	memset(r, 0, sizeof(r));
	start(&f, script_big, &b);
	small_send_buffer(&f);
	for (int i = 0; i < NBIG; i++)
		send_big(&f, &r[i], i);
	uv_run(&f.loop, UV_RUN_NOWAIT); /* the queue: more than the socket takes */
	ck_assert(f.ctx->xs.conn->uv_writing);
	while (done < NBIG) {
		uv_run(&f.loop, UV_RUN_ONCE);
		done = 0;
		for (int i = 0; i < NBIG; i++)
			done += r[i].calls;
	}
	for (int i = 0; i < NBIG; i++)
		ck_assert_int_eq(r[i].status[0], 0);
	/* nothing due once it is all written: an embedder does not spin */
	uv_run(&f.loop, UV_RUN_NOWAIT);
	uv_run(&f.loop, UV_RUN_NOWAIT);
	ck_assert_int_eq(uv_backend_timeout(&f.loop), -1);
	finish(&f);
	ck_assert_int_eq(b.got, NBIG);
	ck_assert(b.ok);
}
END_TEST

/* The context closed with part of a write still in libuv's hands and more
 * queued behind it: every request's callback runs once, nothing is left
 * on the loop, and the queue is not written ahead of libuv's part. */
START_TEST(close_with_a_write_in_part_and_a_queue)
{
	struct fixture f;
	struct big_srv b = { 0 };
	static struct rec r[NBIG];

	memset(r, 0, sizeof(r));
	start(&f, script_big, &b);
	small_send_buffer(&f);
	for (int i = 0; i < NBIG / 2; i++)
		send_big(&f, &r[i], i);
	uv_run(&f.loop, UV_RUN_NOWAIT); /* the queue: part to the socket, the rest to libuv */
	ck_assert(f.ctx->xs.conn->uv_writing);
	usleep(600 * 1000); /* the server empties the socket; libuv's part waits for the loop */
	for (int i = NBIG / 2; i < NBIG; i++)
		send_big(&f, &r[i], i);
	finish(&f);
	for (int i = 0; i < NBIG; i++)
		ck_assert_int_eq(r[i].calls, 1);
	/* what reached the server came whole and in order (the queue went
	 * behind what libuv still held, not past it) */
	ck_assert(b.ok);
}
END_TEST

/* xenstored gone while requests wait for the loop's next turn: they fail
 * with EDERA_ECONNRESET, and no SIGPIPE reaches a process that keeps its
 * default action. */
static volatile int hung;

static void script_read_one_hang_up(int fd, void *arg)
{
	struct msg m;

	(void)arg;
	(void)srv_recv(fd, &m);
	shutdown(fd, SHUT_RDWR);
	hung = 1;
}

START_TEST(queued_requests_meet_a_hung_up_xenstored)
{
	struct fixture f;
	static struct rec r[5];
	sigset_t pending;

	memset(r, 0, sizeof(r));
	hung = 0;
	signal(SIGPIPE, SIG_DFL);
	start(&f, script_read_one_hang_up, NULL);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(edera_xs_read(f.ctx, NULL, "/r", rec_value, &r[i]), 0);
	ck_assert(f.ctx->xs.conn->sent_now);
	ck_assert_uint_gt(f.ctx->xs.conn->wq_len, 0);
	while (!hung)
		usleep(1000);
	for (int i = 0; i < 5; i++)
		run_until(&f, &r[i].calls, 1);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(r[i].status[0], EDERA_ECONNRESET);
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(!sigismember(&pending, SIGPIPE));
	finish(&f);
}
END_TEST

Suite *xs_client_suite(void)
{
	Suite *s = suite_create("xs-client");
	TCase *tc = tcase_create("fake-xenstored");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, replies_matched_by_id);
	tcase_add_test(tc, errors_reported_connection_kept);
	tcase_add_test(tc, bad_input_never_sent);
	tcase_add_test(tc, server_death_fails_everything);
	tcase_add_test(tc, malformed_replies_end_connection);
	tcase_add_test(tc, watch_events_dispatched);
	tcase_add_test(tc, watch_tokens_indexed);
	tcase_add_test(tc, transaction_retried_on_conflict);
	tcase_add_test(tc, library_transactions_one_at_a_time);
	tcase_add_test(tc, backoff_bounded);
	tcase_add_test(tc, library_transactions_cancelled_at_close);
	tcase_add_test(tc, sync_refused_in_callback);
	tcase_add_test(tc, close_cancels_pending);
	tcase_add_test(tc, directory_in_parts);
	tcase_add_test(tc, directory_in_one_long_reply);
	tcase_add_test(tc, directory_parts_unsupported);
	tcase_add_test(tc, reconnect_restores_watches);
	tcase_add_test(tc, reads_spread_on_lanes_in_order);
	tcase_add_test(tc, group_writes_on_their_lanes);
	tcase_add_test(tc, lanes_do_not_wait_for_a_busy_xenstored);
	tcase_add_test(tc, requests_sent_meanwhile_go_in_one_write);
	tcase_add_test(tc, requests_queued_reach_a_loop_run_from_its_backend_fd);
	tcase_add_test(tc, writes_the_socket_takes_in_part_stay_in_order);
	tcase_add_test(tc, close_with_a_write_in_part_and_a_queue);
	tcase_add_test(tc, queued_requests_meet_a_hung_up_xenstored);
	tcase_add_test(tc, requests_sent_before_close_are_written);
	tcase_add_test(tc, hung_up_xenstored_raises_no_sigpipe);
	tcase_add_test(tc, pending_sigpipe_left_alone);
	tcase_add_test(tc, held_requests_written_at_close);
	tcase_add_test(tc, held_requests_never_overtake_lane_writes);
	tcase_add_test(tc, connect_refused_is_clear);
	tcase_add_test(tc, transaction_dies_with_connection);
	suite_add_tcase(s, tc);
	return s;
}
