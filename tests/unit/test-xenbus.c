/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenBus device engine (lib/xenbus) against an in-memory xenstored on
 * a socketpair, served on the test's own loop so that every step happens
 * in an order the test chooses.  The test plays dom0's backend driver and
 * the guest's frontend by writing their nodes into the store; a device kind
 * of its own stands in for vbd/vif's host-side work.  Each path through the
 * handshake is checked for its status, its message and what it leaves in
 * the store: nothing of the device's.  Real backends are the rig's
 * (tests/xen/test-device.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ctx.h"
#include "suites.h"
#include "xenbus/xenbus.h"
#include "xs/wire.h"
#include "xs/xs.h"
#include "zone/zone.h"

/* ---- the fake xenstored: nodes ----------------------------------------------------- */

struct fnode {
	char *path;
	char *value;
	size_t len;
	char perms[64]; /* "n7,r0": as set, owner first */
};

struct fstore {
	struct fnode *n;
	size_t count, cap;
};

/* A transaction sees its own copy and logs its changes, which its commit
 * replays on the store (firing watches then, as xenstored does). */
struct fop {
	uint32_t type;
	char *path;
	char *value;
	size_t len;
};

struct ftxn {
	uint32_t id; /* 0: slot free */
	struct fstore st;
	struct fop *ops;
	size_t nops, cap;
};

#define FAKE_TXNS    8
#define FAKE_WATCHES 32

struct fake {
	uv_poll_t poll;
	int fd;
	bool eof;
	struct ed_xs_reader rd;
	struct fstore st;
	struct ftxn txn[FAKE_TXNS];
	uint32_t next_txn;
	struct {
		char path[256];
		char token[64];
	} watch[FAKE_WATCHES];
	int nwatch;
	/* what a test scripts */
	int fail_commits;      /* the next commits answer EAGAIN */
	bool hold_commits;     /* a commit waits for fake_release_commit */
	bool holding;          /* and one does */
	struct ed_xs_hdr held; /* its request */
	const char *hold_read; /* a read of this path waits for fake_release_read */
	char held_path[256];
	struct ed_xs_hdr held_read;
	bool holding_read;
	/* what a test counts */
	int starts, commits, conflicts, aborts;
};

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static struct fnode *st_find(struct fstore *st, const char *path)
{
	for (size_t i = 0; i < st->count; i++)
		if (strcmp(st->n[i].path, path) == 0)
			return &st->n[i];
	return NULL;
}

static bool st_parent_exists(struct fstore *st, const char *path)
{
	const char *slash = strrchr(path, '/');
	char parent[256];

	if (slash == path)
		return true; /* the root */
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	return st_find(st, parent) != NULL;
}

static struct fnode *st_add(struct fstore *st, const char *path, const char *perms)
{
	struct fnode *n;

	if (st->count == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 64;
		st->n = realloc(st->n, st->cap * sizeof(*st->n));
		ck_assert_ptr_nonnull(st->n);
	}
	n = &st->n[st->count++];
	memset(n, 0, sizeof(*n));
	n->path = strdup(path);
	n->value = strdup("");
	snprintf(n->perms, sizeof(n->perms), "%s", perms);
	return n;
}

/* The node and the ones above it, made as xenstored makes them: empty,
 * with their parent's permissions. */
static struct fnode *st_make(struct fstore *st, const char *path)
{
	char prefix[256];
	const char *perms = "n0";

	for (const char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
		struct fnode *n;

		snprintf(prefix, sizeof(prefix), "%.*s", p ? (int)(p - path) : (int)strlen(path),
		         path);
		n = st_find(st, prefix);
		if (!n)
			n = st_add(st, prefix, perms);
		if (!p)
			return n;
		perms = n->perms;
	}
}

static void st_set(struct fstore *st, const char *path, const char *v, size_t len)
{
	struct fnode *n = st_make(st, path);

	free(n->value);
	n->value = malloc(len + 1);
	memcpy(n->value, v, len);
	n->value[len] = '\0';
	n->len = len;
}

static void st_remove_at(struct fstore *st, size_t i)
{
	free(st->n[i].path);
	free(st->n[i].value);
	st->n[i] = st->n[--st->count];
}

/* NULL or the errno name xenstored would answer. */
static const char *st_apply(struct fstore *st, uint32_t type, const char *path, const char *v,
                            size_t len)
{
	struct fnode *n;

	switch (type) {
	case XS_WRITE: st_set(st, path, v, len); return NULL;
	case XS_MKDIR: st_make(st, path); return NULL;
	case XS_RM:
		if (!st_find(st, path))
			/* xenstored: fine if the parent exists */
			return st_parent_exists(st, path) ? NULL : "ENOENT";
		for (size_t i = 0; i < st->count;)
			if (under(st->n[i].path, path))
				st_remove_at(st, i);
			else
				i++;
		return NULL;
	case XS_SET_PERMS:
		n = st_find(st, path);
		if (!n)
			return "ENOENT";
		snprintf(n->perms, sizeof(n->perms), "%.*s", (int)len, v);
		return NULL;
	}
	return "ENOSYS";
}

static void st_copy(struct fstore *to, const struct fstore *from)
{
	memset(to, 0, sizeof(*to));
	for (size_t i = 0; i < from->count; i++) {
		struct fnode *n = st_add(to, from->n[i].path, from->n[i].perms);

		free(n->value);
		n->value = malloc(from->n[i].len + 1);
		memcpy(n->value, from->n[i].value, from->n[i].len + 1);
		n->len = from->n[i].len;
	}
}

static void st_free(struct fstore *st)
{
	while (st->count)
		st_remove_at(st, st->count - 1);
	free(st->n);
	memset(st, 0, sizeof(*st));
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct fnode *)a)->path, ((const struct fnode *)b)->path);
}

/* Every node as "path=value\n", sorted: the caller frees it. */
static char *st_dump(struct fstore *st)
{
	size_t cap = 1, len = 0;
	char *out;

	qsort(st->n, st->count, sizeof(*st->n), cmp_node);
	for (size_t i = 0; i < st->count; i++)
		cap += strlen(st->n[i].path) + st->n[i].len + 2;
	out = malloc(cap);
	out[0] = '\0';
	for (size_t i = 0; i < st->count; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s=%s\n", st->n[i].path,
		                        st->n[i].value);
	return out;
}

/* ---- the fake xenstored: the protocol ------------------------------------------------ */

static void send_msg(struct fake *f, uint32_t type, uint32_t id, uint32_t tx, const void *p,
                     size_t len)
{
	char buf[16 + XENSTORE_PAYLOAD_MAX];
	uint32_t hdr[4] = { type, id, tx, (uint32_t)len };

	ck_assert_uint_le(len, XENSTORE_PAYLOAD_MAX);
	memcpy(buf, hdr, 16);
	memcpy(buf + 16, p, len);
	/* a few hundred bytes at most are ever queued: the socket takes them */
	ck_assert_int_eq(write(f->fd, buf, 16 + len), (ssize_t)(16 + len));
}

static void reply(struct fake *f, const struct ed_xs_hdr *h, uint32_t type, const void *p,
                  size_t len)
{
	send_msg(f, type, h->req_id, h->tx_id, p, len);
}

static void reply_error(struct fake *f, const struct ed_xs_hdr *h, const char *err)
{
	send_msg(f, XS_ERROR, h->req_id, h->tx_id, err, strlen(err) + 1);
}

static void send_event(struct fake *f, const char *path, const char *token)
{
	char ev[512];
	int n = snprintf(ev, sizeof(ev), "%s%c%s", path, 0, token);

	send_msg(f, XS_WATCH_EVENT, 0, 0, ev, (size_t)n + 1);
}

/* As xenstored: a watch hears of a change at or under its path; one under
 * a removed subtree hears of its own path. */
static void fire(struct fake *f, const char *path, bool removed)
{
	for (int i = 0; i < f->nwatch; i++)
		if (under(path, f->watch[i].path))
			send_event(f, path, f->watch[i].token);
		else if (removed && under(f->watch[i].path, path))
			send_event(f, f->watch[i].path, f->watch[i].token);
}

/* A change to the live store, from a request or from the test. */
static const char *fake_apply(struct fake *f, uint32_t type, const char *path, const char *v,
                              size_t len)
{
	const char *err = st_apply(&f->st, type, path, v, len);

	if (!err)
		fire(f, path, type == XS_RM);
	return err;
}

static struct ftxn *find_txn(struct fake *f, uint32_t id)
{
	for (int i = 0; id && i < FAKE_TXNS; i++)
		if (f->txn[i].id == id)
			return &f->txn[i];
	return NULL;
}

static void txn_free(struct ftxn *t)
{
	for (size_t i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].value);
	}
	free(t->ops);
	st_free(&t->st);
	memset(t, 0, sizeof(*t));
}

static void txn_log(struct ftxn *t, uint32_t type, const char *path, const char *v, size_t len)
{
	struct fop *op;

	if (t->nops == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->ops = realloc(t->ops, t->cap * sizeof(*t->ops));
		ck_assert_ptr_nonnull(t->ops);
	}
	op = &t->ops[t->nops++];
	op->type = type;
	op->path = strdup(path);
	op->value = malloc(len + 1);
	memcpy(op->value, v, len);
	op->len = len;
}

static void txn_end(struct fake *f, const struct ed_xs_hdr *h, struct ftxn *t, bool commit)
{
	if (!commit) {
		f->aborts++;
	} else if (f->fail_commits > 0) {
		f->fail_commits--;
		f->conflicts++;
		txn_free(t);
		reply_error(f, h, "EAGAIN");
		return;
	} else {
		f->commits++;
		for (size_t i = 0; i < t->nops; i++)
			fake_apply(f, t->ops[i].type, t->ops[i].path, t->ops[i].value,
			           t->ops[i].len);
	}
	txn_free(t);
	reply(f, h, XS_TRANSACTION_END, "OK", 3);
}

static void handle_watch(struct fake *f, const struct ed_xs_hdr *h, const char *path,
                         const char *token)
{
	if (h->type == XS_WATCH) {
		ck_assert_int_lt(f->nwatch, FAKE_WATCHES);
		snprintf(f->watch[f->nwatch].path, sizeof(f->watch[0].path), "%s", path);
		snprintf(f->watch[f->nwatch].token, sizeof(f->watch[0].token), "%s", token);
		f->nwatch++;
		reply(f, h, XS_WATCH, "OK", 3);
		send_event(f, path, token); /* xenstored fires a new watch once */
		return;
	}
	for (int i = 0; i < f->nwatch; i++)
		if (strcmp(f->watch[i].path, path) == 0 && strcmp(f->watch[i].token, token) == 0) {
			f->watch[i] = f->watch[--f->nwatch];
			reply(f, h, XS_UNWATCH, "OK", 3);
			return;
		}
	reply_error(f, h, "ENOENT");
}

static void handle_read(struct fake *f, const struct ed_xs_hdr *h, struct fstore *st,
                        const char *path)
{
	struct fnode *n = st_find(st, path);
	char names[XENSTORE_PAYLOAD_MAX];
	size_t len = 0, plen = strlen(path);

	if (!n) {
		reply_error(f, h, "ENOENT");
		return;
	}
	if (h->type == XS_READ) {
		reply(f, h, XS_READ, n->value, n->len);
		return;
	}
	for (size_t i = 0; i < st->count; i++) {
		const char *c = st->n[i].path;

		if (strncmp(c, path, plen) == 0 && c[plen] == '/' && !strchr(c + plen + 1, '/')) {
			size_t clen = strlen(c + plen + 1) + 1;

			memcpy(names + len, c + plen + 1, clen);
			len += clen;
		}
	}
	reply(f, h, XS_DIRECTORY, names, len);
}

static int on_request(const struct ed_xs_hdr *h, const char *payload, void *arg)
{
	struct fake *f = arg;
	struct ftxn *t = find_txn(f, h->tx_id);
	const char *path = payload;
	size_t plen = strnlen(payload, h->len);
	const char *rest = payload + plen + 1;
	size_t rlen = h->len > plen ? h->len - plen - 1 : 0;
	const char *err;

	if (h->tx_id && !t) {
		reply_error(f, h, "ENOENT");
		return 0;
	}
	switch (h->type) {
	case XS_TRANSACTION_START:
		for (int i = 0; i < FAKE_TXNS; i++)
			if (!f->txn[i].id) {
				char id[16];
				int n;

				f->starts++;
				f->txn[i].id = ++f->next_txn;
				st_copy(&f->txn[i].st, &f->st);
				n = snprintf(id, sizeof(id), "%u", f->txn[i].id);
				reply(f, h, XS_TRANSACTION_START, id, (size_t)n + 1);
				return 0;
			}
		reply_error(f, h, "EQUOTA");
		return 0;
	case XS_TRANSACTION_END:
		if (!t) {
			reply_error(f, h, "EINVAL");
		} else if (payload[0] == 'T' && f->hold_commits && !f->holding) {
			f->held = *h;
			f->holding = true;
		} else {
			txn_end(f, h, t, payload[0] == 'T');
		}
		return 0;
	case XS_WATCH:
	case XS_UNWATCH: handle_watch(f, h, path, rest); return 0;
	case XS_READ:
		if (f->hold_read && strcmp(path, f->hold_read) == 0 && !f->holding_read) {
			snprintf(f->held_path, sizeof(f->held_path), "%s", path);
			f->held_read = *h;
			f->holding_read = true;
			return 0;
		}
		/* fall through */
	case XS_DIRECTORY: handle_read(f, h, t ? &t->st : &f->st, path); return 0;
	case XS_SET_PERMS: {
		/* "n7\0r0\0" kept as "n7,r0" */
		char perms[64];
		size_t k = rlen < sizeof(perms) - 1 ? rlen : sizeof(perms) - 1;

		memcpy(perms, rest, k);
		perms[k] = '\0';
		for (size_t i = 0; i < k; i++)
			if (perms[i] == '\0')
				perms[i] = ',';
		if (k && perms[k - 1] == ',')
			perms[k - 1] = '\0';
		rest = perms;
		rlen = strlen(perms);
		break;
	}
	case XS_WRITE:
	case XS_MKDIR:
	case XS_RM: break;
	default: reply_error(f, h, "ENOSYS"); return 0;
	}
	if (t) {
		err = st_apply(&t->st, h->type, path, rest, rlen);
		if (!err)
			txn_log(t, h->type, path, rest, rlen);
	} else {
		err = fake_apply(f, h->type, path, rest, rlen);
	}
	if (err)
		reply_error(f, h, err);
	else
		reply(f, h, h->type, "OK", 3);
	return 0;
}

static void fake_readable(uv_poll_t *p, int status, int events)
{
	struct fake *f = p->data;
	char buf[8192];
	ssize_t n;

	while ((n = read(f->fd, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(ed_xs_reader_feed(&f->rd, buf, (size_t)n, on_request, f), 0);
	if (n == 0) {
		/* the client went */
		f->eof = true;
		uv_poll_stop(p);
	}
}

static void fake_start(struct fake *f, uv_loop_t *loop, int fd)
{
	f->fd = fd;
	ed_xs_reader_init(&f->rd, ED_XS_SOCKET_PAYLOAD_MAX);
	ck_assert_int_eq(uv_poll_init(loop, &f->poll, fd), 0);
	f->poll.data = f;
	ck_assert_int_eq(uv_poll_start(&f->poll, UV_READABLE, fake_readable), 0);
}

/* The commit held answered now (as scripted: it may conflict). */
static void fake_release_commit(struct fake *f)
{
	struct ftxn *t = find_txn(f, f->held.tx_id);

	ck_assert(f->holding);
	ck_assert_ptr_nonnull(t);
	f->holding = false;
	f->hold_commits = false;
	txn_end(f, &f->held, t, true);
}

/* The read held answered now, from the store as it is. */
static void fake_release_read(struct fake *f)
{
	ck_assert(f->holding_read);
	f->holding_read = false;
	f->hold_read = NULL;
	handle_read(f, &f->held_read, &f->st, f->held_path);
}

/* ---- the fixture: a loop, a context on the fake, a zone ------------------------------- */

#define DOMID  7
#define DEV_ID 3
#define FE     "/local/domain/7/device/fake/3"
#define BE     "/local/domain/0/backend/fake/7/3"
#define ERR    "/local/domain/0/error/backend/fake/7/3"

struct fx {
	uv_loop_t loop;
	uv_timer_t tick; /* wakes the loop, so waits can give up */
	edera_ctx *ctx;
	struct fake fs;
	edera_zone *zone;
	char *initial; /* the store before the test */
};

static void tick_cb(uv_timer_t *t)
{
}

/* A zone handle for the engine: only what it reads (ed_zone_ctx,
 * ed_zone_domid, edera_zone_name and the two device lists, through their
 * functions), the rest zeroed, whatever else zone.h holds. */
static edera_zone *zone_new(edera_ctx *ctx, uint32_t domid, const char *name)
{
	struct edera_zone *z = calloc(1, sizeof(*z));

	ck_assert_ptr_nonnull(z);
	z->ctx = ctx;
	z->domid = domid;
	z->name = strdup(name);
	return z;
}

static void zone_free(edera_zone *z)
{
	ck_assert(ed_list_empty(ed_zone_devices(z)));
	ed_xb_zone_free(z);
	free(z->name);
	free(z);
}

static void fs_write(struct fx *f, const char *path, const char *value)
{
	ck_assert_ptr_null(fake_apply(&f->fs, XS_WRITE, path, value, strlen(value)));
}

/* A node's value, or "(none)". */
static const char *fs_value(struct fx *f, const char *path)
{
	struct fnode *n = st_find(&f->fs.st, path);

	return n ? n->value : "(none)";
}

static bool fs_has(struct fx *f, const char *path)
{
	return st_find(&f->fs.st, path) != NULL;
}

static bool fs_is(struct fx *f, const char *path, const char *value)
{
	return strcmp(fs_value(f, path), value) == 0;
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	ck_assert_int_eq(ed_ctx_new(&f->ctx, &f->loop), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(ed_xs_connect_fd(&f->ctx->xs, sv[0], "fake"), 0);
	fake_start(&f->fs, &f->loop, sv[1]);
	ck_assert_int_eq(uv_timer_init(&f->loop, &f->tick), 0);
	ck_assert_int_eq(uv_timer_start(&f->tick, tick_cb, 5, 5), 0);
	/* what dom0 and a running guest already have */
	fs_write(f, "/local/domain/0/name", "Domain-0");
	fs_write(f, "/local/domain/0/backend/fake", "");
	fs_write(f, "/local/domain/7/name", "zt");
	fs_write(f, "/local/domain/7/device", "");
	f->initial = st_dump(&f->fs.st);
	f->zone = zone_new(f->ctx, DOMID, "zt");
	return f;
}

/* The store as it was before the test. */
static void assert_store_clean(struct fx *f)
{
	char *now = st_dump(&f->fs.st);

	ck_assert_str_eq(now, f->initial);
	free(now);
}

/* Wait (on the loop) for COND, or fail after 5 s. */
#define RUN_UNTIL(f, cond)                                                                         \
	do {                                                                                       \
		uint64_t t0_ = uv_now(&(f)->loop);                                                 \
		while (!(cond)) {                                                                  \
			ck_assert_msg(uv_now(&(f)->loop) - t0_ < 5000, "timed out: %s", #cond);    \
			uv_run(&(f)->loop, UV_RUN_ONCE);                                           \
		}                                                                                  \
	} while (0)

static void run_for(struct fx *f, uint64_t ms)
{
	uint64_t t0 = uv_now(&f->loop);

	while (uv_now(&f->loop) - t0 < ms)
		uv_run(&f->loop, UV_RUN_ONCE);
}

/* Close everything and prove the loop is left with nothing alive. */
static void fx_done(struct fx *f)
{
	zone_free(f->zone);
	ck_assert_uint_eq(f->ctx->cleanups, 0);
	ck_assert_uint_eq(f->ctx->work_pending, 0);
	edera_ctx_close(f->ctx);
	uv_close((uv_handle_t *)&f->tick, NULL);
	uv_close((uv_handle_t *)&f->fs.poll, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&f->loop), 0);
	close(f->fs.fd);
	for (int i = 0; i < FAKE_TXNS; i++)
		txn_free(&f->fs.txn[i]);
	ed_xs_reader_fini(&f->fs.rd);
	st_free(&f->fs.st);
	free(f->initial);
	free(f);
}

/* ---- a device kind the test controls --------------------------------------------------- */

struct fake_dev {
	int prepare_rc;   /* prepare fails with this */
	int plumb_eagain; /* plumb answers EDERA_EAGAIN this many times; < 0: always */
	int plumb_rc;     /* and then this */
	int plumbs, releases, gones, frees;
	edera_device *dev;
};

static void fk_write(edera_device *d, struct ed_xb_writer *w)
{
	ed_xb_write(w, true, "params", "%s", "fake-params");
	ed_xb_write(w, false, "feature", "%d", 1);
}

static int fk_plumb(edera_device *d)
{
	struct fake_dev *fd = d->priv;

	fd->plumbs++;
	if (fd->plumb_eagain != 0) {
		if (fd->plumb_eagain > 0)
			fd->plumb_eagain--;
		return EDERA_EAGAIN;
	}
	if (fd->plumb_rc < 0)
		return ed_error(fd->plumb_rc, "fake: the host side broke");
	return 0;
}

static void fk_release(edera_device *d)
{
	((struct fake_dev *)d->priv)->releases++;
}

static bool fk_gone(edera_device *d)
{
	((struct fake_dev *)d->priv)->gones++;
	return true;
}

static void fk_free(edera_device *d)
{
	((struct fake_dev *)d->priv)->frees++;
}

static const struct ed_xb_kind fake_kind = {
	.name = "fake",
	.kind = EDERA_DEVICE_DISK,
	.write = fk_write,
	.plumb = fk_plumb,
	.release = fk_release,
	.gone = fk_gone,
	.free = fk_free,
};

static int fk_prepare(edera_device *d, const void *arg)
{
	struct fake_dev *fd = (struct fake_dev *)arg;

	d->id = DEV_ID;
	d->priv = fd;
	snprintf(d->host_name, sizeof(d->host_name), "fake%u.%u", d->domid, d->id);
	fd->dev = d;
	if (fd->prepare_rc < 0)
		return ed_error(fd->prepare_rc, "fake: no such image");
	return 0;
}

/* ---- callbacks that record ------------------------------------------------------------- */

struct res {
	int calls;
	int status;
	edera_device *dev;
	char msg[512];
};

static void on_attached(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct res *r = data;

	r->calls++;
	r->status = status;
	r->dev = dev;
	snprintf(r->msg, sizeof(r->msg), "%s", status < 0 ? edera_last_error() : "");
}

static void on_detached(edera_ctx *ctx, int status, void *data)
{
	on_attached(ctx, status, NULL, data);
}

static void attach(struct fx *f, struct fake_dev *fd, bool wait_frontend, unsigned int ms,
                   struct res *r)
{
	ck_assert_int_eq(ed_xb_attach_kind(f->zone, &fake_kind, fk_prepare, fd, wait_frontend, ms,
	                                   on_attached, r),
	                 0);
}

/* Attach, and wait until the engine follows both ends' states. */
static void attach_watched(struct fx *f, struct fake_dev *fd, bool wait_frontend,
                           unsigned int ms, struct res *r)
{
	attach(f, fd, wait_frontend, ms, r);
	RUN_UNTIL(f, f->fs.nwatch == 2);
}

/* The backend shows STATE; wait for the engine's plumbing to be done. */
static void backend_ready(struct fx *f, const char *state)
{
	fs_write(f, BE "/state", state);
	RUN_UNTIL(f, fs_has(f, BE "/hotplug-status"));
}

/* Attach and play both ends to Connected. */
static void attach_connected(struct fx *f, struct fake_dev *fd, struct res *r)
{
	attach_watched(f, fd, true, 2000, r);
	backend_ready(f, "2");
	fs_write(f, BE "/state", "4");
	fs_write(f, FE "/state", "4");
	RUN_UNTIL(f, r->calls == 1);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_eq(r->dev, fd->dev);
}

/* A failed attach's end: one callback with STATUS and MSG, the host side
 * released, the device freed, and the store as before. */
static void assert_failed_clean(struct fx *f, struct fake_dev *fd, struct res *r, int status,
                                const char *msg)
{
	RUN_UNTIL(f, fd->frees == 1);
	ck_assert_int_eq(r->calls, 1);
	ck_assert_int_eq(r->status, status);
	ck_assert_ptr_null(r->dev);
	ck_assert_str_eq(r->msg, msg);
	ck_assert_int_eq(fd->releases, 1);
	ck_assert_int_eq(fd->gones, 1);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	assert_store_clean(f);
	ck_assert_int_eq(f->fs.nwatch, 0);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* The whole life: both ends written with their permissions, InitWait ->
 * plumbing -> hotplug-status, Connected on both ends -> attached; detach
 * -> Closing, the ends close -> removed, released, freed. */
START_TEST(attach_then_detach)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 }, d = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	ck_assert_str_eq(fs_value(f, FE "/backend"), BE);
	ck_assert_str_eq(fs_value(f, FE "/backend-id"), "0");
	ck_assert_str_eq(fs_value(f, FE "/state"), "1");
	ck_assert_str_eq(fs_value(f, FE "/feature"), "1");
	ck_assert_str_eq(fs_value(f, BE "/frontend"), FE);
	ck_assert_str_eq(fs_value(f, BE "/frontend-id"), "7");
	ck_assert_str_eq(fs_value(f, BE "/online"), "1");
	ck_assert_str_eq(fs_value(f, BE "/state"), "1");
	ck_assert_str_eq(fs_value(f, BE "/params"), "fake-params");
	/* each end owns its directory, the other reads it */
	ck_assert_str_eq(st_find(&f->fs.st, FE)->perms, "n7,r0");
	ck_assert_str_eq(st_find(&f->fs.st, BE)->perms, "n0,r7");
	ck_assert_str_eq(st_find(&f->fs.st, BE "/state")->perms, "n0,r7");
	ck_assert_int_eq(f->fs.commits, 1);
	run_for(f, 20);
	ck_assert_int_eq(fd.plumbs, 0);

	backend_ready(f, "2");
	ck_assert_str_eq(fs_value(f, BE "/hotplug-status"), "connected");
	ck_assert_int_eq(fd.plumbs, 1);
	fs_write(f, BE "/state", "4");
	run_for(f, 20);
	ck_assert_int_eq(a.calls, 0); /* the guest has not connected */
	ck_assert_ptr_null(edera_device_next(f->zone, NULL));
	fs_write(f, FE "/state", "4");
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_ptr_eq(a.dev, fd.dev);
	ck_assert_ptr_eq(edera_device_next(f->zone, NULL), a.dev);
	ck_assert_ptr_null(edera_device_next(f->zone, a.dev));
	ck_assert_uint_eq(edera_device_id(a.dev), DEV_ID);
	ck_assert_int_eq(edera_device_kind(a.dev), EDERA_DEVICE_DISK);
	ck_assert_str_eq(edera_device_host_name(a.dev), "fake7.3");
	ck_assert_int_eq(fd.plumbs, 1);
	ck_assert_int_eq(fd.releases, 0);
	ck_assert_int_eq(edera_device_detach(a.dev, 2000, on_detached, &d), 0);

	/* dom0's side is told to close */
	RUN_UNTIL(f, fs_is(f, BE "/state", "5"));
	ck_assert_str_eq(fs_value(f, BE "/online"), "0");
	ck_assert_ptr_null(edera_device_next(f->zone, NULL));
	ck_assert_int_eq(edera_device_detach(a.dev, 2000, on_detached, &d), EDERA_EBUSY);
	ck_assert_str_eq(edera_last_error(), "fake device 3 is already being detached");
	run_for(f, 20);
	ck_assert_int_eq(d.calls, 0);
	ck_assert(fs_has(f, BE));
	/* the guest lets go, then the backend */
	fs_write(f, FE "/state", "6");
	fs_write(f, BE "/state", "6");
	RUN_UNTIL(f, d.calls == 1);
	ck_assert_int_eq(d.status, 0);
	ck_assert_int_eq(fd.releases, 1);
	ck_assert_int_eq(fd.gones, 1);
	RUN_UNTIL(f, fd.frees == 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	assert_store_clean(f);
	fx_done(f);
}
END_TEST

/* A backend that shows Connected without InitWait first (or moves on
 * before its InitWait is read): plumbed all the same, once, and attached
 * once the guest connects. */
START_TEST(backend_skips_initwait)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	fs_write(f, BE "/state", "2");
	fs_write(f, BE "/state", "4"); /* before the engine reads the 2 */
	RUN_UNTIL(f, fs_has(f, BE "/hotplug-status"));
	ck_assert_int_eq(fd.plumbs, 1);
	fs_write(f, FE "/state", "4");
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(fd.plumbs, 1);
	/* the zone goes: the backend's nodes with it, the guest's are the
	 * zone layer's to remove with the domain */
	ed_xb_zone_gone(f->zone, NULL);
	RUN_UNTIL(f, fd.frees == 1);
	ck_assert(!fs_has(f, BE));
	ck_assert(!fs_has(f, "/local/domain/0/backend/fake/7"));
	ck_assert_str_eq(fs_value(f, FE "/state"), "4");
	ck_assert_int_eq(a.calls, 1);
	fx_done(f);
}
END_TEST

/* Dom0's backend refuses (Closing, with its reason in the error node):
 * the attach fails with that reason, and everything goes, the error node
 * and its now empty directory too. */
START_TEST(backend_refuses)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	fs_write(f, ERR "/error", "2 opening /img: no such file");
	fs_write(f, BE "/state", "5");
	RUN_UNTIL(f, fd.frees == 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.status, EDERA_EIO);
	ck_assert_str_eq(a.msg, "zone 'zt': dom0's fake backend refused device 3: 2 opening /img: "
	                        "no such file");
	ck_assert_int_eq(fd.plumbs, 0);
	ck_assert_int_eq(fd.releases, 1);
	ck_assert_int_eq(fd.gones, 1);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	/* the kernel made error/backend/fake on its way to the device's
	 * error node: that stays, the device's part and the zone's directory
	 * it emptied go */
	ck_assert(fs_has(f, "/local/domain/0/error/backend/fake"));
	ck_assert(!fs_has(f, "/local/domain/0/error/backend/fake/7"));
	ck_assert_ptr_null(fake_apply(&f->fs, XS_RM, "/local/domain/0/error", NULL, 0));
	assert_store_clean(f);
	fx_done(f);
}
END_TEST

START_TEST(backend_never_probes)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };
	uint64_t t0 = uv_now(&f->loop);

	attach(f, &fd, true, 150, &a);
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_uint_ge(uv_now(&f->loop) - t0, 150);
	assert_failed_clean(f, &fd, &a, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: dom0's backend driver did not take it in "
	                    "time (frontend state 1, backend state 1)");
	ck_assert_int_eq(fd.plumbs, 0);
	fx_done(f);
}
END_TEST

START_TEST(host_side_never_appears)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { .plumb_eagain = -1 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 200, &a);
	fs_write(f, BE "/state", "2");
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_int_ge(fd.plumbs, 3); /* retried, every 20 ms */
	assert_failed_clean(f, &fd, &a, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: its host side did not appear in time "
	                    "(frontend state 1, backend state 2)");
	fx_done(f);
}
END_TEST

/* The host side appears on the third try: attached. */
START_TEST(host_side_appears_late)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { .plumb_eagain = 2 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	backend_ready(f, "2");
	ck_assert_int_eq(fd.plumbs, 3);
	fs_write(f, BE "/state", "4");
	fs_write(f, FE "/state", "4");
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_int_eq(a.status, 0);
	ed_xb_zone_gone(f->zone, NULL);
	RUN_UNTIL(f, fd.frees == 1);
	fx_done(f);
}
END_TEST

START_TEST(plumbing_fails)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { .plumb_rc = EDERA_ENODEV };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	fs_write(f, BE "/state", "2");
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ENODEV, "fake: the host side broke");
	ck_assert_int_eq(fd.plumbs, 1);
	fx_done(f);
}
END_TEST

START_TEST(guest_never_connects)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 200, &a);
	backend_ready(f, "2");
	fs_write(f, BE "/state", "4");
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: the guest did not connect it in time "
	                    "(frontend state 1, backend state 4); does the guest kernel have its "
	                    "driver?");
	fx_done(f);
}
END_TEST

START_TEST(guest_closes_while_connecting)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	backend_ready(f, "2");
	fs_write(f, BE "/state", "4");
	fs_write(f, FE "/state", "5");
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_EIO,
	                    "zone 'zt': fake device 3 closed while connecting (frontend state 5, "
	                    "backend state 4)");
	fx_done(f);
}
END_TEST

/* Zone creation's way: attached once the backend is ready (the guest is
 * still paused), then ed_xb_await waits for the guest's driver. */
START_TEST(early_then_await)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 }, w = { 0 }, w2 = { 0 };

	attach_watched(f, &fd, false, 2000, &a);
	fs_write(f, BE "/state", "2");
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_str_eq(fs_value(f, BE "/hotplug-status"), "connected");
	ck_assert_ptr_eq(edera_device_next(f->zone, NULL), a.dev);
	ck_assert_int_eq(ed_xb_await(a.dev, 2000, on_attached, &w), 0);
	ck_assert_int_eq(ed_xb_await(a.dev, 2000, on_attached, &w2), EDERA_EBUSY);
	ck_assert_str_eq(edera_last_error(), "fake device 3 is not attached");
	fs_write(f, BE "/state", "4");
	run_for(f, 20);
	ck_assert_int_eq(w.calls, 0);
	fs_write(f, FE "/state", "4");
	RUN_UNTIL(f, w.calls == 1);
	ck_assert_int_eq(w.status, 0);
	ck_assert_ptr_eq(w.dev, a.dev);
	ck_assert_int_eq(w2.calls, 0);
	ck_assert_int_eq(a.calls, 1);
	ed_xb_zone_gone(f->zone, NULL);
	RUN_UNTIL(f, fd.frees == 1);
	fx_done(f);
}
END_TEST

/* Zone creation waits for a guest whose kernel lacks the driver. */
START_TEST(await_times_out)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 }, w = { 0 };

	attach_watched(f, &fd, false, 2000, &a);
	fs_write(f, BE "/state", "4");
	RUN_UNTIL(f, a.calls == 1);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(ed_xb_await(a.dev, 100, on_attached, &w), 0);
	RUN_UNTIL(f, w.calls == 1);
	assert_failed_clean(f, &fd, &w, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: the guest did not connect it in time "
	                    "(frontend state 1, backend state 4); does the guest kernel have its "
	                    "driver?");
	fx_done(f);
}
END_TEST

/* A detach the guest never answers: the device is taken away when the
 * detach timeout ends, and the detach reports success. */
START_TEST(detach_backend_never_closes)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 }, d = { 0 };
	uint64_t t0;

	attach_connected(f, &fd, &a);
	t0 = uv_now(&f->loop);
	ck_assert_int_eq(edera_device_detach(a.dev, 150, on_detached, &d), 0);
	ck_assert_uint_eq(f->ctx->cleanups, 1);
	RUN_UNTIL(f, fs_is(f, BE "/state", "5"));
	RUN_UNTIL(f, d.calls == 1);
	ck_assert_uint_ge(uv_now(&f->loop) - t0, 150);
	ck_assert_int_eq(d.status, 0);
	ck_assert_int_eq(fd.releases, 1);
	RUN_UNTIL(f, fd.frees == 1);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	assert_store_clean(f);
	fx_done(f);
}
END_TEST

/* The zone goes while the nodes' transaction is out: the engine waits for
 * its end, then removes what it wrote; the attach is cancelled. */
START_TEST(zone_gone_while_writing)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	f->fs.hold_commits = true;
	attach(f, &fd, true, 2000, &a);
	RUN_UNTIL(f, f->fs.holding);
	ed_xb_zone_gone(f->zone, NULL);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	run_for(f, 20);
	ck_assert_int_eq(a.calls, 0); /* not before the transaction ends */
	ck_assert(!fs_has(f, BE));
	fake_release_commit(&f->fs);
	ck_assert(fs_has(f, BE)); /* committed after all */
	ck_assert_int_eq(f->fs.commits, 1);
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ECANCELED,
	                    "zone 'zt' stopped while its fake device 3 was being attached");
	/* and the two parents emptied, each in a transaction of its own */
	ck_assert_int_eq(f->fs.commits, 3);
	fx_done(f);
}
END_TEST

/* The same, and the held commit conflicts: the retry finds the device
 * cancelled and aborts; nothing was ever written. */
START_TEST(zone_gone_while_writing_conflicted)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	f->fs.hold_commits = true;
	f->fs.fail_commits = 1;
	attach(f, &fd, true, 2000, &a);
	RUN_UNTIL(f, f->fs.holding);
	ed_xb_zone_gone(f->zone, NULL);
	fake_release_commit(&f->fs);
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ECANCELED,
	                    "zone 'zt' stopped while its fake device 3 was being attached");
	ck_assert_int_eq(f->fs.starts, 2);
	ck_assert_int_eq(f->fs.conflicts, 1);
	ck_assert_int_eq(f->fs.aborts, 1);
	ck_assert_int_eq(f->fs.commits, 0);
	fx_done(f);
}
END_TEST

/* The attach deadline ends while the nodes' transaction is out: the
 * engine waits for its end, then removes what it wrote.  (The message
 * names the guest, whatever was late: so it is today.) */
START_TEST(deadline_while_writing)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	f->fs.hold_commits = true;
	attach(f, &fd, true, 100, &a);
	run_for(f, 150);
	ck_assert(f->fs.holding);
	ck_assert_int_eq(a.calls, 0);
	fake_release_commit(&f->fs);
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: the guest did not connect it in time "
	                    "(frontend state 0, backend state 0)");
	fx_done(f);
}
END_TEST

/* The deadline ends while a refusal's reason is being read: the timeout
 * is what the attach reports, and the read's late answer changes nothing.
 * (The message says the host side did not appear: so it is today.) */
START_TEST(deadline_while_reading_refusal)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 150, &a);
	f->fs.hold_read = ERR "/error";
	fs_write(f, BE "/state", "5");
	RUN_UNTIL(f, f->fs.holding_read);
	run_for(f, 200);
	ck_assert_int_eq(a.calls, 0); /* the removal waits for the read */
	ck_assert(!fs_has(f, BE));
	fake_release_read(&f->fs);
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: its host side did not appear in time "
	                    "(frontend state 1, backend state 5)");
	ck_assert_int_eq(fd.plumbs, 0);
	fx_done(f);
}
END_TEST

/* A commit that conflicts once is run again and the device attaches. */
START_TEST(commit_conflict_retried)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 }, d = { 0 };

	f->fs.fail_commits = 1;
	attach_connected(f, &fd, &a);
	ck_assert_int_eq(f->fs.starts, 2);
	ck_assert_int_eq(f->fs.conflicts, 1);
	ck_assert_int_eq(f->fs.commits, 1);
	ck_assert_str_eq(fs_value(f, BE "/params"), "fake-params");
	ck_assert_int_eq(edera_device_detach(a.dev, 2000, on_detached, &d), 0);
	RUN_UNTIL(f, fs_is(f, BE "/state", "5"));
	fs_write(f, BE "/state", "6");
	RUN_UNTIL(f, d.calls == 1);
	ck_assert_int_eq(d.status, 0);
	RUN_UNTIL(f, fd.frees == 1);
	assert_store_clean(f);
	fx_done(f);
}
END_TEST

/* The kind cannot prepare the device: the call fails, no callback, the
 * kind's part freed, nothing written (and the handle freed: valgrind). */
START_TEST(prepare_fails)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { .prepare_rc = EDERA_ENOENT };
	struct res a = { 0 };

	ck_assert_int_eq(ed_xb_attach_kind(f->zone, &fake_kind, fk_prepare, &fd, true, 2000,
	                                   on_attached, &a),
	                 EDERA_ENOENT);
	ck_assert_str_eq(edera_last_error(), "fake: no such image");
	ck_assert_int_eq(fd.frees, 1);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	run_for(f, 20);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(fd.plumbs + fd.releases + fd.gones, 0);
	ck_assert_int_eq(f->fs.starts, 0);
	assert_store_clean(f);
	fx_done(f);
}
END_TEST

/* Hostile states: text that is no state reads as Unknown (0), and the
 * deadline still ends the attach. */
START_TEST(garbage_state_then_deadline)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };
	char *huge = malloc(3001);

	memset(huge, '9', 3000);
	huge[3000] = '\0';
	attach_watched(f, &fd, true, 200, &a);
	fs_write(f, BE "/state", huge);
	fs_write(f, FE "/state", "connected");
	run_for(f, 30);
	fs_write(f, BE "/state", "\x01\x02\xff");
	RUN_UNTIL(f, a.calls == 1);
	free(huge);
	assert_failed_clean(f, &fd, &a, EDERA_ETIMEDOUT,
	                    "zone 'zt': fake device 3: dom0's backend driver did not take it in "
	                    "time (frontend state 0, backend state 0)");
	ck_assert_int_eq(fd.plumbs, 0);
	fx_done(f);
}
END_TEST

/* How states are parsed today: up to three characters starting with a
 * digit, by atoi.  So "2xy" is InitWait, and "99" is past Closing: a
 * refusal, with no reason given (the message cuts its last character). */
START_TEST(lax_state_parsing)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 }, fd2 = { 0 };
	struct res a = { 0 }, a2 = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	backend_ready(f, "2xy");
	ck_assert_int_eq(fd.plumbs, 1);
	ed_xb_zone_forget(f->zone);
	RUN_UNTIL(f, a.calls == 1);
	assert_failed_clean(f, &fd, &a, EDERA_ECANCELED,
	                    "zone 'zt': fake device 3: the context was closed");

	attach_watched(f, &fd2, true, 2000, &a2);
	fs_write(f, BE "/state", "99");
	RUN_UNTIL(f, a2.calls == 1);
	assert_failed_clean(f, &fd2, &a2, EDERA_EIO,
	                    "zone 'zt': dom0's fake backend refused device 3: (no reason given");
	fx_done(f);
}
END_TEST

/* The zone goes with its device attached: the handle stays (dead) until
 * the zone's handle is freed, the backend's nodes go. */
START_TEST(zone_gone_when_attached)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 }, d = { 0 };

	attach_connected(f, &fd, &a);
	ed_xb_zone_gone(f->zone, NULL);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	ck_assert_ptr_eq(ed_list_first(ed_zone_dead_devices(f->zone), edera_device, dead_link), a.dev);
	RUN_UNTIL(f, fd.frees == 1);
	ck_assert_int_eq(fd.releases, 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert(!fs_has(f, BE));
	ck_assert(!fs_has(f, "/local/domain/0/backend/fake/7"));
	ck_assert_str_eq(fs_value(f, FE "/state"), "4");
	/* the handle still answers */
	ck_assert_uint_eq(edera_device_id(a.dev), DEV_ID);
	ck_assert_int_eq(edera_device_detach(a.dev, 100, on_detached, &d), EDERA_ENOTCONN);
	ck_assert_str_eq(edera_last_error(),
	                 "fake device 3: its zone 'zt' is gone (the device went with it)");
	ck_assert_int_eq(d.calls, 0);
	fx_done(f); /* frees the dead handle: valgrind checks */
}
END_TEST

/* Zone creation fails: the attaches it started go without a word to it
 * (their callback data is the one it names). */
START_TEST(zone_gone_quiet)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };

	attach_watched(f, &fd, true, 2000, &a);
	ed_xb_zone_gone(f->zone, &a);
	RUN_UNTIL(f, fd.frees == 1);
	run_for(f, 20);
	ck_assert_int_eq(a.calls, 0);
	ck_assert_int_eq(fd.releases, 1);
	ck_assert(!fs_has(f, BE));
	ck_assert_str_eq(fs_value(f, FE "/state"), "1");
	ck_assert_int_eq(f->fs.nwatch, 0);
	fx_done(f);
}
END_TEST

/* The context closes with the zone running: an attached device's handle
 * goes, the device stays (its nodes, and the host side to the backend). */
START_TEST(zone_forget_keeps_device)
{
	struct fx *f = fx_new();
	struct fake_dev fd = { 0 };
	struct res a = { 0 };
	char *before;

	attach_connected(f, &fd, &a);
	before = st_dump(&f->fs.st);
	ed_xb_zone_forget(f->zone);
	ck_assert(ed_list_empty(ed_zone_devices(f->zone)));
	ck_assert_int_eq(fd.releases, 1);
	RUN_UNTIL(f, fd.frees == 1);
	ck_assert_int_eq(fd.gones, 0);
	RUN_UNTIL(f, f->fs.nwatch == 0);
	/* a change now reaches nothing */
	fs_write(f, BE "/state", "5");
	run_for(f, 20);
	fs_write(f, BE "/state", "4");
	{
		char *now = st_dump(&f->fs.st);

		ck_assert_str_eq(now, before);
		free(now);
	}
	free(before);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_uint_eq(f->ctx->cleanups, 0);
	fx_done(f);
}
END_TEST

Suite *xenbus_suite(void)
{
	Suite *s = suite_create("xenbus");
	TCase *tc = tcase_create("fake-xenstored");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, attach_then_detach);
	tcase_add_test(tc, backend_skips_initwait);
	tcase_add_test(tc, backend_refuses);
	tcase_add_test(tc, backend_never_probes);
	tcase_add_test(tc, host_side_never_appears);
	tcase_add_test(tc, host_side_appears_late);
	tcase_add_test(tc, plumbing_fails);
	tcase_add_test(tc, guest_never_connects);
	tcase_add_test(tc, guest_closes_while_connecting);
	tcase_add_test(tc, early_then_await);
	tcase_add_test(tc, await_times_out);
	tcase_add_test(tc, detach_backend_never_closes);
	tcase_add_test(tc, zone_gone_while_writing);
	tcase_add_test(tc, zone_gone_while_writing_conflicted);
	tcase_add_test(tc, commit_conflict_retried);
	tcase_add_test(tc, deadline_while_writing);
	tcase_add_test(tc, deadline_while_reading_refusal);
	tcase_add_test(tc, prepare_fails);
	tcase_add_test(tc, garbage_state_then_deadline);
	tcase_add_test(tc, lax_state_parsing);
	tcase_add_test(tc, zone_gone_when_attached);
	tcase_add_test(tc, zone_gone_quiet);
	tcase_add_test(tc, zone_forget_keeps_device);
	suite_add_tcase(s, tc);
	return s;
}
