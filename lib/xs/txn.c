/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XenStore transactions, retried from the start when xenstored reports a
 * conflict (EAGAIN) at commit.  States of an asynchronous transaction:
 *   WAITING   a library one, behind the one running (xs->serial_wait)
 *   STARTING  TRANSACTION_START sent               -> RUNNING, or DONE on error
 *   RUNNING   the body runs with txn->id           -> ENDING (commit or abort)
 *   ENDING    TRANSACTION_END sent                 -> DONE, or STARTING on conflict
 *             (after ED_XS_TXN_BACKOFF_AFTER conflicts, through BACKING OFF:
 *             a random wait on txn->backoff)
 *   DONE      the caller's done callback ran; the txn is freed. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ctx.h"
#include "xs_internal.h"

int ed_xs_txn_id(struct ed_xs *xs, edera_xs_txn *txn, uint32_t *id)
{
	*id = 0;
	if (!txn)
		return 0;
	if (txn->xs != xs)
		return ed_error(EDERA_EINVAL, "transaction belongs to another context");
	if (txn->id == 0 || txn->ending)
		return ed_error(EDERA_EINVAL,
		                "transaction is not open (not started, or already committed or aborted)");
	if (txn->conn_gen != xs->conn_gen || !xs->conn)
		return ed_error(EDERA_ECONNRESET,
		                "transaction lost with its connection to xenstored");
	*id = txn->id;
	return 0;
}

unsigned int edera_xs_txn_attempt(const edera_xs_txn *txn)
{
	return txn ? txn->attempt : 0;
}

static void unlink_live(struct ed_xs *xs, struct edera_xs_txn *txn)
{
	ed_list_remove(&xs->txns, &txn->link);
}

static void serial_next(struct ed_xs *xs);

static void backoff_closed(uv_handle_t *h)
{
	free(h);
}

static void finish(struct edera_xs_txn *txn, int status)
{
	struct ed_xs *xs = txn->xs;

	unlink_live(xs, txn);
	ed_list_remove(&xs->serial_wait, &txn->slink);
	if (xs->serial_active == txn)
		xs->serial_active = NULL;
	if (txn->backoff) {
		uv_close((uv_handle_t *)txn->backoff, backoff_closed);
		txn->backoff = NULL;
	}
	ED_CALLBACK(xs->ctx, txn->done(xs->ctx, status, txn->data));
	free(txn);
	serial_next(xs);
}

/* 1 ms up to 2^(ATTEMPT - ED_XS_TXN_BACKOFF_AFTER) ms (at most
 * ED_XS_TXN_BACKOFF_MAX_MS), at random: transactions that conflicted with
 * one another do not start again together. */
unsigned int ed_xs_txn_backoff_ms(unsigned int attempt)
{
	unsigned int shift = attempt > ED_XS_TXN_BACKOFF_AFTER ? attempt - ED_XS_TXN_BACKOFF_AFTER : 0;
	unsigned int cap = shift >= 6 ? ED_XS_TXN_BACKOFF_MAX_MS : 1u << shift;
	uint32_t r;

	if (cap > ED_XS_TXN_BACKOFF_MAX_MS)
		cap = ED_XS_TXN_BACKOFF_MAX_MS;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)uv_hrtime() ^ (uint32_t)(uintptr_t)&r;
	return 1 + r % cap;
}

static int parse_txn_id(const char *payload, size_t len, uint32_t *id)
{
	if (!payload || ed_xs_parse_u32(payload, id) < 0 || *id == 0)
		return ed_error(EDERA_EPROTO, "xenstored sent a bad transaction id");
	return 0;
}

/* ---- asynchronous ----------------------------------------------------------- */

static int begin(struct edera_xs_txn *txn);
static int again(struct edera_xs_txn *txn);

static void started(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                    size_t len)
{
	struct edera_xs_txn *txn = req->data;
	uint32_t id;

	if (status == 0)
		status = parse_txn_id(payload, len, &id);
	else
		ed_error(status, "XenStore transaction start: %s", edera_strerror(status));
	if (status < 0) {
		finish(txn, status);
		return;
	}
	txn->id = id;
	txn->conn_gen = xs->conn_gen;
	txn->attempt++;
	txn->ending = false;
	txn->committing = false;
	txn->abort_status = 0;
	ED_CALLBACK(xs->ctx, txn->body(xs->ctx, txn, txn->data));
}

static void ended(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                  size_t len)
{
	struct edera_xs_txn *txn = req->data;

	if (!txn->committing) {
		finish(txn, txn->abort_status);
		return;
	}
	if (status == EDERA_EAGAIN) {
		if (txn->attempt < ED_XS_TXN_MAX_ATTEMPTS) {
			txn->id = 0;
			status = again(txn);
			if (status == 0)
				return;
		} else {
			status = ed_error(EDERA_EAGAIN,
			                  "XenStore transaction conflicted %u times in a row; gave up",
			                  txn->attempt);
		}
	} else if (status < 0) {
		ed_error(status, "XenStore transaction commit: %s", edera_strerror(status));
	}
	finish(txn, status);
}

static int begin(struct edera_xs_txn *txn)
{
	static const struct ed_xs_part empty = { "", 1 };

	return ed_xs_send(txn->xs, XS_TRANSACTION_START, 0, &empty, 1, started, NULL, txn, NULL);
}

static void backoff_done(uv_timer_t *t)
{
	struct edera_xs_txn *txn = t->data;
	int rc;

	uv_close((uv_handle_t *)t, backoff_closed);
	txn->backoff = NULL;
	rc = begin(txn);
	if (rc < 0)
		finish(txn, rc);
}

/* Start TXN again after a conflict: at once the first times, then after a
 * random wait. */
static int again(struct edera_xs_txn *txn)
{
	uv_timer_t *t;

	if (txn->attempt <= ED_XS_TXN_BACKOFF_AFTER)
		return begin(txn);
	t = malloc(sizeof(*t));
	if (!t)
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore transaction");
	if (uv_timer_init(txn->xs->loop, t) < 0) {
		free(t);
		return ed_error(EDERA_ENOMEM, "cannot make a timer for a XenStore transaction");
	}
	t->data = txn;
	txn->backoff = t;
	uv_timer_start(t, backoff_done, ed_xs_txn_backoff_ms(txn->attempt), 0);
	return 0;
}

/* The next waiting library transaction starts when none runs.  Not while
 * the context closes (ed_xs_txn_fini ends them all), and not from inside
 * itself: a start that fails finishes its transaction, which comes back
 * here, and the outer loop goes on instead of recursing. */
static void serial_next(struct ed_xs *xs)
{
	if (xs->serial_kicking)
		return;
	xs->serial_kicking = true;
	while (!xs->serial_active && !xs->closing && !ed_list_empty(&xs->serial_wait)) {
		struct edera_xs_txn *next =
			ed_list_first(&xs->serial_wait, struct edera_xs_txn, slink);
		int rc;

		ed_list_remove(&xs->serial_wait, &next->slink);
		xs->serial_active = next;
		rc = begin(next);
		if (rc < 0)
			finish(next, rc);
	}
	xs->serial_kicking = false;
}

static int transaction(edera_ctx *ctx, edera_xs_txn_body_cb body, edera_xs_done_cb done,
                       void *data, bool serial)
{
	struct edera_xs_txn *txn;
	struct ed_xs *xs;
	int rc;

	if (!ctx || !body || !done)
		return ed_error(EDERA_EINVAL, "edera_xs_transaction: ctx, body and done are required");
	xs = &ctx->xs;
	txn = calloc(1, sizeof(*txn));
	if (!txn)
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore transaction");
	txn->xs = xs;
	txn->body = body;
	txn->done = done;
	txn->data = data;
	txn->serial = serial;
	if (serial && (xs->serial_active || !ed_list_empty(&xs->serial_wait)) && !xs->closing) {
		ed_list_push_back(&xs->serial_wait, &txn->slink);
	} else {
		rc = begin(txn);
		if (rc < 0) {
			free(txn);
			return rc;
		}
		if (serial)
			xs->serial_active = txn;
	}
	ed_list_push_front(&xs->txns, &txn->link);
	return 0;
}

int edera_xs_transaction(edera_ctx *ctx, edera_xs_txn_body_cb body, edera_xs_done_cb done,
                         void *data)
{
	return transaction(ctx, body, done, data, false);
}

int ed_xs_transaction_serial(edera_ctx *ctx, edera_xs_txn_body_cb body, edera_xs_done_cb done,
                             void *data)
{
	return transaction(ctx, body, done, data, true);
}

/* Endings that could not even be sent complete on the next loop turn, never
 * inside the commit/abort call itself. */
static void idle_cb(uv_idle_t *h)
{
	struct ed_xs *xs = h->data;

	while (!ed_list_empty(&xs->deferred)) {
		struct edera_xs_txn *txn = ed_list_first(&xs->deferred, struct edera_xs_txn, dlink);
		ed_list_remove(&xs->deferred, &txn->dlink);
		finish(txn, txn->committing ? txn->end_status : txn->abort_status);
	}
	uv_idle_stop(h);
}

static void idle_close_cb(uv_handle_t *h)
{
	free(h);
}

static void defer(struct edera_xs_txn *txn)
{
	struct ed_xs *xs = txn->xs;

	if (!xs->defer) {
		xs->defer = malloc(sizeof(*xs->defer));
		if (!xs->defer || uv_idle_init(xs->loop, xs->defer) < 0)
			abort(); /* cannot fail on Linux but for memory */
		xs->defer->data = xs;
	}
	ed_list_push_front(&xs->deferred, &txn->dlink);
	uv_idle_start(xs->defer, idle_cb);
}

static void end(struct edera_xs_txn *txn, bool commit)
{
	struct ed_xs_part part = { commit ? "T" : "F", 2 };
	int rc;

	if (!txn || txn->sync || txn->ending || txn->id == 0)
		return; /* programmer error: ignored rather than corrupting state */
	txn->ending = true;
	txn->committing = commit;
	if (txn->conn_gen != txn->xs->conn_gen || !txn->xs->conn) {
		/* Its connection is gone: so is the transaction (xenstored dropped
		 * it), and its id may name another transaction now. */
		txn->end_status = ed_error(EDERA_ECONNRESET,
		                           "transaction lost with its connection to xenstored");
		defer(txn);
		return;
	}
	rc = ed_xs_send(txn->xs, XS_TRANSACTION_END, txn->id, &part, 1, ended, NULL, txn, NULL);
	if (rc < 0) {
		txn->end_status = rc;
		defer(txn);
	}
}

void edera_xs_txn_commit(edera_xs_txn *txn)
{
	end(txn, true);
}

void edera_xs_txn_abort(edera_xs_txn *txn, int status)
{
	if (txn && !txn->ending && !txn->sync)
		txn->abort_status = status;
	end(txn, false);
}

void ed_xs_txn_fini(struct ed_xs *xs)
{
	/* Endings waiting for the next loop turn, then transactions whose body
	 * still holds them: all end now, canceled. */
	while (!ed_list_empty(&xs->deferred)) {
		struct edera_xs_txn *txn = ed_list_first(&xs->deferred, struct edera_xs_txn, dlink);
		ed_list_remove(&xs->deferred, &txn->dlink);
		finish(txn, EDERA_ECANCELED);
	}
	while (!ed_list_empty(&xs->txns))
		finish(ed_list_first(&xs->txns, struct edera_xs_txn, link), EDERA_ECANCELED);
	if (xs->defer) {
		uv_close((uv_handle_t *)xs->defer, idle_close_cb);
		xs->defer = NULL;
	}
}

/* ---- blocking ------------------------------------------------------------- */

struct sync_step {
	bool done;
	int status;
	uint32_t id;
};

static void sync_started(struct ed_xs *xs, struct ed_xs_req *req, int status,
                         const char *payload, size_t len)
{
	struct sync_step *s = req->data;

	if (status == 0)
		status = parse_txn_id(payload, len, &s->id);
	s->status = status;
	s->done = true;
}

static void sync_ended(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                       size_t len)
{
	struct sync_step *s = req->data;

	s->status = status;
	s->done = true;
}

static int sync_step(edera_ctx *ctx, uint32_t type, uint32_t tx_id, const char *arg,
                     ed_xs_complete_fn fn, struct sync_step *s)
{
	struct ed_xs_part part = { arg, strlen(arg) + 1 };
	int rc;

	memset(s, 0, sizeof(*s));
	rc = ed_xs_send(&ctx->xs, type, tx_id, &part, 1, fn, NULL, s, NULL);
	if (rc == 0)
		rc = ed_ctx_wait(ctx, &s->done);
	return rc < 0 ? rc : s->status;
}

int edera_xs_transaction_sync(edera_ctx *ctx, edera_xs_txn_sync_body_cb body, void *data)
{
	int rc = ed_ctx_check_blocking(ctx, "edera_xs_transaction_sync");

	if (rc < 0)
		return rc;
	if (!body)
		return ed_error(EDERA_EINVAL, "edera_xs_transaction_sync: body is NULL");
	for (unsigned int attempt = 1; attempt <= ED_XS_TXN_MAX_ATTEMPTS; attempt++) {
		struct edera_xs_txn txn;
		struct sync_step s;
		int body_rc;

		rc = sync_step(ctx, XS_TRANSACTION_START, 0, "", sync_started, &s);
		if (rc < 0)
			return ed_error(rc, "XenStore transaction start: %s", edera_strerror(rc));
		memset(&txn, 0, sizeof(txn));
		txn.xs = &ctx->xs;
		txn.id = s.id;
		txn.conn_gen = ctx->xs.conn_gen;
		txn.attempt = attempt;
		txn.sync = true;
		body_rc = body(ctx, &txn, data);
		if (body_rc < 0) {
			struct ed_err err;

			/* Report the body's failure, not the abort's outcome. */
			ed_error_save_code(&err, body_rc);
			if (txn.conn_gen == ctx->xs.conn_gen)
				sync_step(ctx, XS_TRANSACTION_END, txn.id, "F", sync_ended, &s);
			return ed_error_restore(&err);
		}
		if (txn.conn_gen != ctx->xs.conn_gen)
			return ed_error(EDERA_ECONNRESET,
			                "transaction lost with its connection to xenstored");
		rc = sync_step(ctx, XS_TRANSACTION_END, txn.id, "T", sync_ended, &s);
		if (rc != EDERA_EAGAIN)
			return rc < 0 ? ed_error(rc, "XenStore transaction commit: %s", edera_strerror(rc))
			              : 0;
		if (attempt > ED_XS_TXN_BACKOFF_AFTER && attempt < ED_XS_TXN_MAX_ATTEMPTS) {
			unsigned int ms = ed_xs_txn_backoff_ms(attempt);
			struct timespec ts = { 0, (long)ms * 1000000L };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
	return ed_error(EDERA_EAGAIN, "XenStore transaction conflicted %d times in a row; gave up",
	                ED_XS_TXN_MAX_ATTEMPTS);
}
