/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenStore requests of the public API, asynchronous and blocking. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xs_internal.h"

/* The most permissions a payload of LEN bytes can carry (each at least
 * two bytes with its NUL); a socket reply may be longer than 4096 bytes. */
#define MAX_ITEMS(len) ((len) / 2 + 1)

static int fail_status(struct ed_xs_req *req, int status)
{
	return ed_error(status, "XenStore %s: %s", req->what, edera_strerror(status));
}

/* ---- completions: reply -> the caller's callback ---------------------------- */

static void complete_done(struct ed_xs *xs, struct ed_xs_req *req, int status,
                          const char *payload, size_t len)
{
	edera_xs_done_cb cb = (edera_xs_done_cb)req->user_cb;

	if (status < 0)
		fail_status(req, status);
	ED_CALLBACK(xs->ctx, cb(xs->ctx, status, req->data));
}

static void complete_value(struct ed_xs *xs, struct ed_xs_req *req, int status,
                           const char *payload, size_t len)
{
	edera_xs_value_cb cb = (edera_xs_value_cb)req->user_cb;

	if (status < 0) {
		fail_status(req, status);
		ED_CALLBACK(xs->ctx, cb(xs->ctx, status, NULL, 0, req->data));
		return;
	}
	/* GET_DOMAIN_PATH's reply carries its NUL; READ's value does not. */
	if (req->type == XS_GET_DOMAIN_PATH)
		len = strnlen(payload, len);
	ED_CALLBACK(xs->ctx, cb(xs->ctx, 0, payload, len, req->data));
}

static void complete_perms(struct ed_xs *xs, struct ed_xs_req *req, int status,
                           const char *payload, size_t len)
{
	edera_xs_perms_cb cb = (edera_xs_perms_cb)req->user_cb;
	const char **items = NULL;
	edera_xs_perm *perms = NULL;
	size_t n = 0;

	if (status == 0) {
		items = malloc(MAX_ITEMS(len) * sizeof(*items));
		perms = malloc(MAX_ITEMS(len) * sizeof(*perms));
		status = items && perms ? ed_xs_split(payload, len, items, MAX_ITEMS(len), &n)
		                        : EDERA_ENOMEM;
		if (status == 0 && n == 0)
			status = ed_error(EDERA_EPROTO, "xenstored sent an empty permission list");
		for (size_t i = 0; status == 0 && i < n; i++)
			status = ed_xs_parse_perm(items[i], &perms[i].domid, &perms[i].perm);
	}
	if (status < 0) {
		if (status != EDERA_EPROTO)
			fail_status(req, status);
		n = 0;
	}
	ED_CALLBACK(xs->ctx, cb(xs->ctx, status, status < 0 ? NULL : perms, n, req->data));
	free(items);
	free(perms);
}

/* ---- building requests -------------------------------------------------- */

static int check_ctx(edera_ctx *ctx, const void *cb, const char *fn)
{
	if (!ctx || !cb)
		return ed_error(EDERA_EINVAL, "%s: %s is NULL", fn, !ctx ? "ctx" : "callback");
	return 0;
}

static int send_path(edera_ctx *ctx, edera_xs_txn *txn, uint32_t type, const char *verb,
                     const char *path, const struct ed_xs_part *extra, size_t nextra,
                     ed_xs_complete_fn complete, void (*cb)(void), void *data)
{
	struct ed_xs_part parts[1 + 2 * 64];
	struct ed_xs_req *req;
	uint32_t tx_id;
	size_t len;
	int rc;

	if (!path)
		return ed_error(EDERA_EINVAL, "XenStore %s: path is NULL", verb);
	len = strnlen(path, XENSTORE_ABS_PATH_MAX + 1);
	rc = ed_xs_check_path(path, len, false);
	if (rc < 0)
		return rc;
	rc = ed_xs_txn_id(&ctx->xs, txn, &tx_id);
	if (rc < 0)
		return rc;
	parts[0].data = path;
	parts[0].len = len + 1;
	for (size_t i = 0; i < nextra; i++)
		parts[1 + i] = extra[i];
	rc = ed_xs_send(&ctx->xs, type, tx_id, parts, 1 + nextra, complete, cb, data, &req);
	if (rc < 0)
		return rc;
	snprintf(req->what, sizeof(req->what), "%s %s", verb, path);
	return 0;
}

int edera_xs_read(edera_ctx *ctx, edera_xs_txn *txn, const char *path, edera_xs_value_cb cb,
                  void *data)
{
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_read");
	return rc < 0 ? rc
	              : send_path(ctx, txn, XS_READ, "read", path, NULL, 0, complete_value,
	                          (void (*)(void))cb, data);
}

int edera_xs_write(edera_ctx *ctx, edera_xs_txn *txn, const char *path, const void *value,
                   size_t len, edera_xs_done_cb cb, void *data)
{
	struct ed_xs_part v = { value, len };
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_write");

	if (rc == 0 && !value && len)
		rc = ed_error(EDERA_EINVAL, "edera_xs_write: value is NULL but len is %zu", len);
	return rc < 0 ? rc
	              : send_path(ctx, txn, XS_WRITE, "write", path, &v, 1, complete_done,
	                          (void (*)(void))cb, data);
}

int edera_xs_mkdir(edera_ctx *ctx, edera_xs_txn *txn, const char *path, edera_xs_done_cb cb,
                   void *data)
{
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_mkdir");
	return rc < 0 ? rc
	              : send_path(ctx, txn, XS_MKDIR, "mkdir", path, NULL, 0, complete_done,
	                          (void (*)(void))cb, data);
}

int edera_xs_rm(edera_ctx *ctx, edera_xs_txn *txn, const char *path, edera_xs_done_cb cb,
                void *data)
{
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_rm");
	return rc < 0 ? rc
	              : send_path(ctx, txn, XS_RM, "rm", path, NULL, 0, complete_done,
	                          (void (*)(void))cb, data);
}

int edera_xs_get_perms(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                       edera_xs_perms_cb cb, void *data)
{
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_get_perms");
	return rc < 0 ? rc
	              : send_path(ctx, txn, XS_GET_PERMS, "get-perms", path, NULL, 0,
	                          complete_perms, (void (*)(void))cb, data);
}

#define MAX_PERMS 64

int edera_xs_set_perms(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                       const edera_xs_perm *perms, size_t n, edera_xs_done_cb cb, void *data)
{
	char text[MAX_PERMS][16];
	struct ed_xs_part parts[MAX_PERMS];
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_set_perms");

	if (rc < 0)
		return rc;
	if (!perms || n == 0 || n > MAX_PERMS)
		return ed_error(EDERA_EINVAL,
		                "edera_xs_set_perms: give 1 to %d permissions (the owner first), not %zu",
		                MAX_PERMS, perms ? n : 0);
	for (size_t i = 0; i < n; i++) {
		rc = ed_xs_format_perm(text[i], sizeof(text[i]), perms[i].domid, perms[i].perm);
		if (rc < 0)
			return rc;
		parts[i].data = text[i];
		parts[i].len = strlen(text[i]) + 1;
	}
	return send_path(ctx, txn, XS_SET_PERMS, "set-perms", path, parts, n, complete_done,
	                 (void (*)(void))cb, data);
}

static int send_domid(edera_ctx *ctx, uint32_t type, const char *verb, const char *const *args,
                      size_t nargs, ed_xs_complete_fn complete, void (*cb)(void), void *data)
{
	struct ed_xs_part parts[3];
	struct ed_xs_req *req;
	int rc;

	for (size_t i = 0; i < nargs; i++) {
		parts[i].data = args[i];
		parts[i].len = strlen(args[i]) + 1;
	}
	rc = ed_xs_send(&ctx->xs, type, 0, parts, nargs, complete, cb, data, &req);
	if (rc < 0)
		return rc;
	snprintf(req->what, sizeof(req->what), "%s domain %s", verb, args[0]);
	return 0;
}

static int check_domid(uint32_t domid, const char *fn)
{
	if (domid >= 0x7ff0) /* DOMID_FIRST_RESERVED */
		return ed_error(EDERA_EINVAL, "%s: domain id %u is reserved or out of range", fn,
		                domid);
	return 0;
}

int edera_xs_introduce(edera_ctx *ctx, uint32_t domid, uint64_t mfn, uint32_t evtchn,
                       edera_xs_done_cb cb, void *data)
{
	char a[3][24];
	const char *args[3] = { a[0], a[1], a[2] };
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_introduce");

	if (rc == 0)
		rc = check_domid(domid, "edera_xs_introduce");
	if (rc < 0)
		return rc;
	snprintf(a[0], sizeof(a[0]), "%" PRIu32, domid);
	snprintf(a[1], sizeof(a[1]), "%" PRIu64, mfn);
	snprintf(a[2], sizeof(a[2]), "%" PRIu32, evtchn);
	return send_domid(ctx, XS_INTRODUCE, "introduce", args, 3, complete_done,
	                  (void (*)(void))cb, data);
}

int edera_xs_release(edera_ctx *ctx, uint32_t domid, edera_xs_done_cb cb, void *data)
{
	char a[24];
	const char *args[1] = { a };
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_release");

	if (rc == 0)
		rc = check_domid(domid, "edera_xs_release");
	if (rc < 0)
		return rc;
	snprintf(a, sizeof(a), "%" PRIu32, domid);
	return send_domid(ctx, XS_RELEASE, "release", args, 1, complete_done, (void (*)(void))cb,
	                  data);
}

int edera_xs_get_domain_path(edera_ctx *ctx, uint32_t domid, edera_xs_value_cb cb, void *data)
{
	char a[24];
	const char *args[1] = { a };
	int rc = check_ctx(ctx, (const void *)cb, "edera_xs_get_domain_path");

	if (rc == 0)
		rc = check_domid(domid, "edera_xs_get_domain_path");
	if (rc < 0)
		return rc;
	snprintf(a, sizeof(a), "%" PRIu32, domid);
	return send_domid(ctx, XS_GET_DOMAIN_PATH, "get-domain-path", args, 1, complete_value,
	                  (void (*)(void))cb, data);
}

/* ---- blocking forms ------------------------------------------------------- */

struct sync_res {
	struct ed_sync s; /* first: the callbacks' DATA points at both */
	void *out;
	size_t n;
};

static void sync_finish(struct sync_res *r, int status)
{
	ed_sync_finish(&r->s, status);
}

static void sync_done_cb(edera_ctx *ctx, int status, void *data)
{
	sync_finish(data, status);
}

static void sync_value_cb(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct sync_res *r = data;

	if (status == 0) {
		r->out = malloc(len + 1);
		if (!r->out) {
			sync_finish(r, ed_error(EDERA_ENOMEM, "out of memory for a XenStore value"));
			return;
		}
		memcpy(r->out, value, len);
		((char *)r->out)[len] = '\0';
		r->n = len;
	}
	sync_finish(r, status);
}

static void sync_list_cb(edera_ctx *ctx, int status, const char *const *names, size_t n,
                         void *data)
{
	struct sync_res *r = data;
	size_t bytes = (n + 1) * sizeof(char *);
	char **arr, *p;

	if (status < 0) {
		sync_finish(r, status);
		return;
	}
	for (size_t i = 0; i < n; i++)
		bytes += strlen(names[i]) + 1;
	arr = malloc(bytes);
	if (!arr) {
		sync_finish(r, ed_error(EDERA_ENOMEM, "out of memory for a XenStore listing"));
		return;
	}
	p = (char *)(arr + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]) + 1;
		memcpy(p, names[i], l);
		arr[i] = p;
		p += l;
	}
	arr[n] = NULL;
	r->out = arr;
	r->n = n;
	sync_finish(r, 0);
}

static void sync_perms_cb(edera_ctx *ctx, int status, const edera_xs_perm *perms, size_t n,
                          void *data)
{
	struct sync_res *r = data;

	if (status == 0) {
		r->out = malloc(n * sizeof(*perms));
		if (!r->out) {
			sync_finish(r, ed_error(EDERA_ENOMEM, "out of memory for XenStore permissions"));
			return;
		}
		memcpy(r->out, perms, n * sizeof(*perms));
		r->n = n;
	}
	sync_finish(r, status);
}

/* Wait for R after a successful start (RC == 0); returns the outcome. */
static int sync_wait(edera_ctx *ctx, int rc, struct sync_res *r)
{
	return ed_sync_wait(ctx, rc, &r->s);
}

#define SYNC_BEGIN(fn)                                   \
	struct sync_res r;                               \
	int rc;                                          \
	memset(&r, 0, sizeof(r));                        \
	rc = ed_ctx_check_blocking(ctx, fn);             \
	if (rc < 0)                                      \
		return rc

int edera_xs_read_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path, char **value,
                       size_t *len)
{
	SYNC_BEGIN("edera_xs_read_sync");
	if (!value)
		return ed_error(EDERA_EINVAL, "edera_xs_read_sync: value is NULL");
	*value = NULL;
	rc = sync_wait(ctx, edera_xs_read(ctx, txn, path, sync_value_cb, &r), &r);
	if (rc < 0)
		return rc;
	*value = r.out;
	if (len)
		*len = r.n;
	return 0;
}

int edera_xs_write_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path, const void *value,
                        size_t len)
{
	SYNC_BEGIN("edera_xs_write_sync");
	return sync_wait(ctx, edera_xs_write(ctx, txn, path, value, len, sync_done_cb, &r), &r);
}

int edera_xs_mkdir_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path)
{
	SYNC_BEGIN("edera_xs_mkdir_sync");
	return sync_wait(ctx, edera_xs_mkdir(ctx, txn, path, sync_done_cb, &r), &r);
}

int edera_xs_rm_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path)
{
	SYNC_BEGIN("edera_xs_rm_sync");
	return sync_wait(ctx, edera_xs_rm(ctx, txn, path, sync_done_cb, &r), &r);
}

int edera_xs_directory_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path, char ***names,
                            size_t *n)
{
	SYNC_BEGIN("edera_xs_directory_sync");
	if (!names || !n)
		return ed_error(EDERA_EINVAL, "edera_xs_directory_sync: names or n is NULL");
	*names = NULL;
	*n = 0;
	rc = sync_wait(ctx, edera_xs_directory(ctx, txn, path, sync_list_cb, &r), &r);
	if (rc < 0)
		return rc;
	*names = r.out;
	*n = r.n;
	return 0;
}

int edera_xs_get_perms_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                            edera_xs_perm **perms, size_t *n)
{
	SYNC_BEGIN("edera_xs_get_perms_sync");
	if (!perms || !n)
		return ed_error(EDERA_EINVAL, "edera_xs_get_perms_sync: perms or n is NULL");
	*perms = NULL;
	*n = 0;
	rc = sync_wait(ctx, edera_xs_get_perms(ctx, txn, path, sync_perms_cb, &r), &r);
	if (rc < 0)
		return rc;
	*perms = r.out;
	*n = r.n;
	return 0;
}

int edera_xs_set_perms_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                            const edera_xs_perm *perms, size_t n)
{
	SYNC_BEGIN("edera_xs_set_perms_sync");
	return sync_wait(ctx, edera_xs_set_perms(ctx, txn, path, perms, n, sync_done_cb, &r), &r);
}

int edera_xs_introduce_sync(edera_ctx *ctx, uint32_t domid, uint64_t mfn, uint32_t evtchn)
{
	SYNC_BEGIN("edera_xs_introduce_sync");
	return sync_wait(ctx, edera_xs_introduce(ctx, domid, mfn, evtchn, sync_done_cb, &r), &r);
}

int edera_xs_release_sync(edera_ctx *ctx, uint32_t domid)
{
	SYNC_BEGIN("edera_xs_release_sync");
	return sync_wait(ctx, edera_xs_release(ctx, domid, sync_done_cb, &r), &r);
}

int edera_xs_get_domain_path_sync(edera_ctx *ctx, uint32_t domid, char **path)
{
	SYNC_BEGIN("edera_xs_get_domain_path_sync");
	if (!path)
		return ed_error(EDERA_EINVAL, "edera_xs_get_domain_path_sync: path is NULL");
	*path = NULL;
	rc = sync_wait(ctx, edera_xs_get_domain_path(ctx, domid, sync_value_cb, &r), &r);
	if (rc < 0)
		return rc;
	*path = r.out;
	return 0;
}

void edera_free(void *ptr)
{
	free(ptr);
}
