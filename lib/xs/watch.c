/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XenStore watches: registration, re-registration after a reconnect, and
 * removal that is safe while events are still in flight. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xs_internal.h"

static void watch_acked(struct ed_xs *xs, struct ed_xs_req *req, int status, const char *payload,
                        size_t len)
{
	struct edera_xs_watch *w = req->data;

	/* Removed while the request was in flight: nothing to tell. */
	if (!w || status == 0)
		return;
	if (status == EDERA_ECONNRESET || status == EDERA_ECANCELED || status == EDERA_EPROTO)
		return; /* the loss itself is reported by ed_xs_watches_lost */
	w->refused = true;
	ed_error(status, "XenStore watch on %s refused: %s", w->path, edera_strerror(status));
	ED_CALLBACK(xs->ctx, w->cb(xs->ctx, status, NULL, w->data));
}

static void ignore_reply(struct ed_xs *xs, struct ed_xs_req *req, int status,
                         const char *payload, size_t len)
{
}

static int send_watch(struct ed_xs *xs, struct edera_xs_watch *w, uint32_t type)
{
	struct ed_xs_part parts[2] = {
		{ w->path, strlen(w->path) + 1 },
		{ w->token, strlen(w->token) + 1 },
	};
	struct ed_xs_req *req;
	int rc;

	rc = ed_xs_send(xs, type, 0, parts, 2, type == XS_WATCH ? watch_acked : ignore_reply,
	                NULL, type == XS_WATCH ? w : NULL, &req);
	if (rc == 0)
		snprintf(req->what, sizeof(req->what), "%s %s", type == XS_WATCH ? "watch" : "unwatch",
		         w->path);
	return rc;
}

int edera_xs_watch_add(edera_ctx *ctx, edera_xs_watch **out, const char *path,
                       edera_xs_watch_cb cb, void *data)
{
	struct edera_xs_watch *w;
	size_t len;
	int rc;

	if (out)
		*out = NULL;
	if (!ctx || !out || !cb || !path)
		return ed_error(EDERA_EINVAL, "edera_xs_watch_add: ctx, out, path and cb are required");
	len = strnlen(path, XENSTORE_ABS_PATH_MAX + 1);
	rc = ed_xs_check_path(path, len, true);
	if (rc < 0)
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore watch");
	}
	w->xs = &ctx->xs;
	w->lost_seq = ctx->xs.lost_seq;
	w->cb = cb;
	w->data = data;
	w->id = ctx->xs.next_token++;
	snprintf(w->token, sizeof(w->token), "edera-%" PRIx64, w->id);
	rc = send_watch(&ctx->xs, w, XS_WATCH);
	if (rc < 0) {
		free(w->path);
		free(w);
		return rc;
	}
	ed_list_push_front(&ctx->xs.watches, &w->link);
	w->hnext = ctx->xs.wbuckets[w->id % ED_XS_BUCKETS];
	ctx->xs.wbuckets[w->id % ED_XS_BUCKETS] = w;
	ctx->xs.nwatches++;
	*out = w;
	return 0;
}

static void unlink_watch(struct ed_xs *xs, struct edera_xs_watch *w)
{
	struct edera_xs_watch **pp = &xs->wbuckets[w->id % ED_XS_BUCKETS];

	ed_list_remove(&xs->watches, &w->link);
	while (*pp && *pp != w)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = w->hnext;
	xs->nwatches--;
}

struct edera_xs_watch *ed_xs_watch_find(struct ed_xs *xs, const char *token)
{
	uint64_t id = 0;
	const char *p;

	/* "edera-<hex>", as edera_xs_watch_add makes them; anything else is
	 * no watch of ours (an event for one already removed is normal) */
	if (strncmp(token, "edera-", 6) != 0 || !token[6] || strlen(token + 6) > 16)
		return NULL;
	for (p = token + 6; *p; p++) {
		int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

		if (v < 0)
			return NULL;
		id = id << 4 | (uint64_t)v;
	}
	for (struct edera_xs_watch *w = xs->wbuckets[id % ED_XS_BUCKETS]; w; w = w->hnext)
		if (w->id == id && strcmp(w->token, token) == 0)
			return w;
	return NULL;
}

void edera_xs_watch_remove(edera_xs_watch *w)
{
	struct ed_xs *xs;

	if (!w)
		return;
	xs = w->xs;
	unlink_watch(xs, w);
	/* An acknowledgement still in flight must not reach freed memory. */
	ED_LIST_EACH(r, &xs->pending, struct ed_xs_req, link)
		if (r->complete == watch_acked && r->data == w)
			r->data = NULL;
	if (xs->conn && !w->refused)
		send_watch(xs, w, XS_UNWATCH); /* best effort; the token is never reused */
	free(w->path);
	free(w);
}

void ed_xs_watches_lost(struct ed_xs *xs, int status)
{
	unsigned int seq = ++xs->lost_seq;

	if (xs->closing)
		return;
	/* A callback may remove any watch, add new ones or reconnect: after each
	 * one, look again for a watch not yet told about this loss. */
	for (;;) {
		struct edera_xs_watch *w = NULL;

		ED_LIST_EACH(it, &xs->watches, struct edera_xs_watch, link)
			if (it->lost_seq != seq && !it->refused) {
				w = it;
				break;
			}
		if (!w || xs->conn)
			return;
		w->lost_seq = seq;
		ed_error(status, "XenStore watch on %s: connection to xenstored lost", w->path);
		ED_CALLBACK(xs->ctx, w->cb(xs->ctx, status, NULL, w->data));
	}
}

int ed_xs_watches_restore(struct ed_xs *xs)
{
	unsigned int seq = ++xs->lost_seq;
	int first_rc = 0;

	/* Every watch is either registered again or told why not; a callback
	 * may change the list, so look again after each one. */
	for (;;) {
		struct edera_xs_watch *w = NULL;
		int rc;

		ED_LIST_EACH(it, &xs->watches, struct edera_xs_watch, link)
			if (it->lost_seq != seq && !it->refused) {
				w = it;
				break;
			}
		if (!w)
			return first_rc;
		w->lost_seq = seq;
		rc = send_watch(xs, w, XS_WATCH);
		if (rc < 0) {
			if (!first_rc)
				first_rc = rc;
			ED_CALLBACK(xs->ctx, w->cb(xs->ctx, rc, NULL, w->data));
		}
	}
}

void ed_xs_watches_free(struct ed_xs *xs)
{
	while (!ed_list_empty(&xs->watches)) {
		struct edera_xs_watch *w = ed_list_first(&xs->watches, struct edera_xs_watch, link);
		unlink_watch(xs, w);
		free(w->path);
		free(w);
	}
}
