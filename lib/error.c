/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error codes, their names and descriptions, the per-thread last error, and
 * the crash points of the crash-consistency tests. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const struct {
	int code;
	const char *name;
	const char *text;
} errors[] = {
	{ EDERA_OK, "EDERA_OK", "success" },
	{ EDERA_EPERM, "EDERA_EPERM", "operation not permitted" },
	{ EDERA_ENOENT, "EDERA_ENOENT", "no such file, zone or node" },
	{ EDERA_EIO, "EDERA_EIO", "I/O error" },
	{ EDERA_EAGAIN, "EDERA_EAGAIN", "resource temporarily unavailable" },
	{ EDERA_ENOMEM, "EDERA_ENOMEM", "out of memory" },
	{ EDERA_EACCES, "EDERA_EACCES", "permission denied" },
	{ EDERA_EBUSY, "EDERA_EBUSY", "resource busy" },
	{ EDERA_EEXIST, "EDERA_EEXIST", "already exists" },
	{ EDERA_ENODEV, "EDERA_ENODEV", "no such device" },
	{ EDERA_EINVAL, "EDERA_EINVAL", "invalid argument" },
	{ EDERA_ENOSPC, "EDERA_ENOSPC", "no space left" },
	{ EDERA_ERANGE, "EDERA_ERANGE", "value out of range" },
	{ EDERA_ENOSYS, "EDERA_ENOSYS", "not implemented" },
	{ EDERA_EPROTO, "EDERA_EPROTO", "protocol error" },
	{ EDERA_ENOTSUP, "EDERA_ENOTSUP", "not supported" },
	{ EDERA_ECONNRESET, "EDERA_ECONNRESET", "connection reset" },
	{ EDERA_ENOTCONN, "EDERA_ENOTCONN", "not connected" },
	{ EDERA_ETIMEDOUT, "EDERA_ETIMEDOUT", "timed out" },
	{ EDERA_ECANCELED, "EDERA_ECANCELED", "operation canceled" },
	{ EDERA_ENOXEN, "EDERA_ENOXEN", "no Xen hypervisor, or not its control domain" },
	{ EDERA_EXENVERSION, "EDERA_EXENVERSION", "unsupported Xen version" },
};

static _Thread_local struct {
	int code;
	char msg[1024];
} last;

static int find(int code)
{
	for (size_t i = 0; i < ED_ARRAY_SIZE(errors); i++)
		if (errors[i].code == code)
			return (int)i;
	return -1;
}

const char *edera_strerror(int code)
{
	int i = find(code);
	return i < 0 ? "unknown error" : errors[i].text;
}

const char *edera_errname(int code)
{
	int i = find(code);
	return i < 0 ? "EDERA_UNKNOWN" : errors[i].name;
}

const char *edera_last_error(void)
{
	return last.msg;
}

int edera_last_error_code(void)
{
	return last.code;
}

int ed_verror(int code, const char *fmt, va_list ap)
{
	last.code = code;
	vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	return code;
}

int ed_error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ed_verror(code, fmt, ap);
	va_end(ap);
	return code;
}

void ed_error_save(struct ed_err *e)
{
	ed_error_save_code(e, last.code);
}

void ed_error_save_code(struct ed_err *e, int code)
{
	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", last.msg);
}

int ed_error_restore(const struct ed_err *e)
{
	return ed_error(e->code, "%s", e->msg);
}

void ed_gather_start(struct ed_gather *g, void (*done)(struct ed_gather *g))
{
	g->pending = 1;
	g->status = 0;
	g->err.code = 0;
	g->err.msg[0] = '\0';
	g->done = done;
}

void ed_gather_issued(struct ed_gather *g, int rc)
{
	if (rc == 0) {
		g->pending++;
	} else if (rc < 0 && g->status == 0) {
		g->status = rc;
		ed_error_save_code(&g->err, rc);
	}
}

void ed_gather_fail(struct ed_gather *g, int rc)
{
	if (rc < 0 && g->status == 0) {
		g->status = rc;
		ed_error_save_code(&g->err, rc);
	}
}

bool ed_gather_settle(struct ed_gather *g, int status)
{
	if (status < 0 && g->status == 0) {
		g->status = status;
		ed_error_save_code(&g->err, status);
	}
	if (--g->pending > 0)
		return false;
	if (g->done) {
		g->done(g);
		return false;
	}
	return true;
}

char *ed_strdup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int ed_errno_code(int e)
{
	switch (e) {
	case EPERM: return EDERA_EPERM;
	case ENOENT: return EDERA_ENOENT;
	case EAGAIN: return EDERA_EAGAIN;
	case ENOMEM: return EDERA_ENOMEM;
	case EACCES: return EDERA_EACCES;
	case EBUSY: return EDERA_EBUSY;
	case EEXIST: return EDERA_EEXIST;
	case ENODEV: return EDERA_ENODEV;
	case EINVAL: return EDERA_EINVAL;
	case ENOSPC: return EDERA_ENOSPC;
	case ERANGE: return EDERA_ERANGE;
	case ENOSYS: return EDERA_ENOSYS;
	case EPROTO: return EDERA_EPROTO;
	case ENOTSUP: return EDERA_ENOTSUP;
	case ECONNRESET: return EDERA_ECONNRESET;
	case ENOTCONN: return EDERA_ENOTCONN;
	case ETIMEDOUT: return EDERA_ETIMEDOUT;
	case ECANCELED: return EDERA_ECANCELED;
	default: return EDERA_EIO;
	}
}

int ed_sized_check(const void *ptr, size_t sz, size_t known, const char *what)
{
	const unsigned char *p = ptr;

	if (sz < sizeof(size_t))
		return ed_error(EDERA_EINVAL, "%s: sz is %zu; set it with the _init function", what, sz);
	for (size_t i = known; i < sz; i++)
		if (p[i])
			return ed_error(EDERA_EINVAL,
			                "%s: sz %zu is larger than this libedera knows (%zu) and the "
			                "unknown fields are set; link a newer libedera",
			                what, sz, known);
	return 0;
}

const char *ed_die_at;

void ed_die_point(const char *step)
{
	if (ed_die_at && strcmp(ed_die_at, step) == 0)
		raise(SIGKILL);
}

/* ---- EDERA_TRACE ---- */

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static bool trace_on;
static struct timespec trace_t0;

static void trace_init(void)
{
	const char *v = getenv("EDERA_TRACE");
	struct timespec now;

	trace_on = v && *v && strcmp(v, "0") != 0;
	clock_gettime(CLOCK_MONOTONIC, &trace_t0);
	clock_gettime(CLOCK_REALTIME, &now);
	if (trace_on)
		fprintf(stderr, "libedera: +0.000 s is %lld.%03ld (the epoch's seconds)\n",
		        (long long)now.tv_sec, now.tv_nsec / 1000000);
}

void ed_trace(const char *fmt, ...)
{
	struct timespec t;
	char line[512];
	va_list ap;

	pthread_once(&trace_once, trace_init);
	if (!trace_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write: lines from threads do not interleave */
	fprintf(stderr, "libedera: +%.4f s: %s\n",
	        (double)(t.tv_sec - trace_t0.tv_sec) + (t.tv_nsec - trace_t0.tv_nsec) / 1e9, line);
}
