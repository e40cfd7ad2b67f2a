/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Directory listings of any size.  The C xenstored answers XS_DIRECTORY in
 * one payload of at most 4096 bytes; a longer listing gets E2BIG, and is
 * then read in chunks with XS_DIRECTORY_PART (path, byte offset) ->
 * generation, names, and an extra NUL after the last chunk.  If the node's
 * generation changes between chunks, the listing starts over.  oxenstored
 * answers over dom0's socket in one reply of any length (the reader accepts
 * it there), and has no XS_DIRECTORY_PART. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xs_internal.h"

#define MAX_RESTARTS 16
#define MAX_LISTING (16u << 20) /* bounds memory whatever xenstored sends */

struct dir_op {
	edera_xs_list_cb cb;
	void *data;
	uint32_t tx_id;
	char *path;
	char gen[24];
	char *buf; /* names so far, each with its NUL */
	size_t len, cap;
	unsigned int restarts;
};

static void op_free(struct dir_op *op)
{
	free(op->path);
	free(op->buf);
	free(op);
}

/* Split BUF into names and hand them to the caller. */
static void deliver(struct ed_xs *xs, struct dir_op *op, const char *buf, size_t len)
{
	const char **names = NULL;
	size_t n = 0, count = 0;
	int status = 0;

	for (size_t i = 0; i < len; i++)
		count += buf[i] == '\0';
	if (len && buf[len - 1] != '\0')
		status = ed_error(EDERA_EPROTO, "xenstored sent an unterminated listing of %s",
		                  op->path);
	else if (count && !(names = malloc(count * sizeof(*names))))
		status = ed_error(EDERA_ENOMEM, "out of memory for a listing of %s", op->path);
	else if (count)
		status = ed_xs_split(buf, len, names, count, &n);
	ED_CALLBACK(xs->ctx, op->cb(xs->ctx, status, status < 0 ? NULL : names,
	                            status < 0 ? 0 : n, op->data));
	free(names);
}

/* End the listing with STATUS, whose message is already set. */
static void fail(struct ed_xs *xs, struct dir_op *op, int status)
{
	ED_CALLBACK(xs->ctx, op->cb(xs->ctx, status, NULL, 0, op->data));
	op_free(op);
}

/* End it with a status xenstored's reply gave (a protocol error has its
 * message from the client already). */
static void fail_reply(struct ed_xs *xs, struct dir_op *op, int status)
{
	if (status != EDERA_EPROTO)
		ed_error(status, "XenStore directory %s: %s", op->path, edera_strerror(status));
	fail(xs, op, status);
}

static void part_done(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                      size_t len);

static int send_part(struct ed_xs *xs, struct dir_op *op)
{
	char off[24];
	struct ed_xs_part parts[2];

	snprintf(off, sizeof(off), "%zu", op->len);
	parts[0].data = op->path;
	parts[0].len = strlen(op->path) + 1;
	parts[1].data = off;
	parts[1].len = strlen(off) + 1;
	return ed_xs_send(xs, XS_DIRECTORY_PART, op->tx_id, parts, 2, part_done, NULL, op, NULL);
}

static void part_done(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                      size_t len)
{
	struct dir_op *op = req->data;
	size_t glen, dlen;
	const char *d;
	bool last;

	if ((status == EDERA_ENOSYS || status == EDERA_EINVAL) && op->len == 0 && !op->restarts) {
		/* oxenstored has no XS_DIRECTORY_PART; over a socket it never
		 * says E2BIG (it sends the whole listing), over the ring it
		 * does and then cannot go on. */
		fail(xs, op, ed_error(EDERA_ENOTSUP,
		                      "the listing of %s is longer than one 4096-byte reply and "
		                      "xenstored (%s) does not support reading it in parts "
		                      "(XS_DIRECTORY_PART; oxenstored has none): connect through "
		                      "its socket instead",
		                      op->path, xs->where));
		return;
	}
	if (status < 0) {
		fail_reply(xs, op, status);
		return;
	}
	glen = strnlen(payload, len);
	if (glen == len || glen == 0 || glen >= sizeof(op->gen)) {
		fail(xs, op, ed_error(EDERA_EPROTO, "xenstored sent a bad directory chunk of %s",
		                      op->path));
		return;
	}
	d = payload + glen + 1;
	dlen = len - glen - 1;
	if (dlen == 0 || d[dlen - 1] != '\0') {
		fail(xs, op, ed_error(EDERA_EPROTO, "xenstored sent an unterminated directory chunk of %s",
		                      op->path));
		return;
	}
	if (op->len == 0) {
		memcpy(op->gen, payload, glen + 1);
	} else if (strcmp(op->gen, payload) != 0) {
		/* The directory changed under us: start over. */
		if (++op->restarts > MAX_RESTARTS) {
			fail(xs, op, ed_error(EDERA_EAGAIN, "directory %s kept changing while being listed",
			                      op->path));
			return;
		}
		op->len = 0;
		status = send_part(xs, op);
		if (status < 0)
			fail(xs, op, status);
		return;
	}
	last = dlen == 1 || d[dlen - 2] == '\0';
	if (last)
		dlen--; /* the extra NUL that marks the end */
	if (op->len + dlen > MAX_LISTING) {
		fail(xs, op, ed_error(EDERA_ERANGE, "listing of %s is larger than %u bytes", op->path,
		                      MAX_LISTING));
		return;
	}
	if (op->len + dlen > op->cap) {
		size_t cap = op->cap ? op->cap : 8192;
		char *nb;
		while (cap < op->len + dlen)
			cap *= 2;
		nb = realloc(op->buf, cap);
		if (!nb) {
			fail(xs, op, ed_error(EDERA_ENOMEM, "out of memory listing %s", op->path));
			return;
		}
		op->buf = nb;
		op->cap = cap;
	}
	memcpy(op->buf + op->len, d, dlen);
	op->len += dlen;
	if (!last) {
		status = send_part(xs, op);
		if (status < 0)
			fail(xs, op, status);
		return;
	}
	deliver(xs, op, op->buf, op->len);
	op_free(op);
}

static void dir_done(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                     size_t len)
{
	struct dir_op *op = req->data;

	if (status == EDERA_ERANGE) { /* E2BIG: too long for one reply */
		status = send_part(xs, op);
		if (status < 0)
			fail(xs, op, status);
		return;
	}
	if (status < 0) {
		fail_reply(xs, op, status);
		return;
	}
	deliver(xs, op, payload, len);
	op_free(op);
}

int edera_xs_directory(edera_ctx *ctx, edera_xs_txn *txn, const char *path, edera_xs_list_cb cb,
                       void *data)
{
	struct dir_op *op;
	struct ed_xs_part part;
	struct ed_xs_req *req;
	size_t len;
	int rc;

	if (!ctx || !cb || !path)
		return ed_error(EDERA_EINVAL, "edera_xs_directory: ctx, path and cb are required");
	len = strnlen(path, XENSTORE_ABS_PATH_MAX + 1);
	rc = ed_xs_check_path(path, len, false);
	if (rc < 0)
		return rc;
	op = calloc(1, sizeof(*op));
	if (!op || !(op->path = strdup(path))) {
		free(op);
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore listing");
	}
	op->cb = cb;
	op->data = data;
	rc = ed_xs_txn_id(&ctx->xs, txn, &op->tx_id);
	if (rc == 0) {
		part.data = op->path;
		part.len = len + 1;
		rc = ed_xs_send(&ctx->xs, XS_DIRECTORY, op->tx_id, &part, 1, dir_done, NULL, op, &req);
	}
	if (rc < 0) {
		op_free(op);
		return rc;
	}
	snprintf(req->what, sizeof(req->what), "directory %s", path);
	return 0;
}
