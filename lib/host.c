/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host information: the hypervisor's version and physical resources. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <stdlib.h>

#include "ctx.h"
#include "hv/offload.h"

void edera_host_info_init(edera_host_info *info)
{
	memset(info, 0, sizeof(*info));
	info->sz = sizeof(*info);
}

int edera_host_info_get(edera_ctx *ctx, edera_host_info *info)
{
	edera_host_info r;
	xen_extraversion_t extra;
	xc_physinfo_t phys;
	int ver;
	int rc;

	if (!ctx || !info)
		return ed_error(EDERA_EINVAL, "edera_host_info_get: NULL argument");
	rc = ed_sized_check(info, info->sz, sizeof(*info), "edera_host_info");
	if (rc < 0)
		return rc;

	ver = xc_version(ctx->hv.xch, XENVER_version, NULL);
	if (ver < 0)
		return ed_error(ed_errno_code(errno), "XENVER_version hypercall failed: %s",
		                strerror(errno));
	memset(extra, 0, sizeof(extra));
	if (xc_version(ctx->hv.xch, XENVER_extraversion, &extra) < 0)
		return ed_error(ed_errno_code(errno), "XENVER_extraversion hypercall failed: %s",
		                strerror(errno));
	memset(&phys, 0, sizeof(phys));
	if (xc_physinfo(ctx->hv.xch, &phys) < 0)
		return ed_error(ed_errno_code(errno), "physinfo sysctl failed: %s", strerror(errno));

	edera_host_info_init(&r);
	r.xen_major = (uint32_t)ver >> 16;
	r.xen_minor = (uint32_t)ver & 0xffff;
	memcpy(r.xen_extra, extra, sizeof(r.xen_extra) - 1);
	r.total_memory_kib = (uint64_t)phys.total_pages * (XC_PAGE_SIZE / 1024);
	r.free_memory_kib = (uint64_t)phys.free_pages * (XC_PAGE_SIZE / 1024);
	r.nr_cpus = phys.nr_cpus;
	r.nr_nodes = phys.nr_nodes;
	r.cpu_khz = phys.cpu_khz;
	r.threads_per_core = phys.threads_per_core;
	r.cores_per_socket = phys.cores_per_socket;

	/* Copy only what the caller's (possibly older) struct has room for. */
	r.sz = info->sz;
	memcpy(info, &r, info->sz < sizeof(r) ? info->sz : sizeof(r));
	return 0;
}

/* The asynchronous form: the hypercalls run on the threadpool. */
struct query {
	edera_ctx *ctx;
	edera_host_info info;
	edera_host_info_cb cb;
	void *data;
};

static int query_work(void *arg)
{
	struct query *q = arg;

	return edera_host_info_get(q->ctx, &q->info);
}

static void query_after(edera_ctx *ctx, int status, void *arg)
{
	struct query *q = arg;

	q->cb(ctx, status, status < 0 ? NULL : &q->info, q->data);
	free(q);
}

int edera_host_info_query(edera_ctx *ctx, edera_host_info_cb cb, void *data)
{
	struct query *q;
	int rc;

	if (!ctx || !cb)
		return ed_error(EDERA_EINVAL, "edera_host_info_query: ctx and cb are required");
	q = calloc(1, sizeof(*q));
	if (!q)
		return ed_error(EDERA_ENOMEM, "out of memory");
	q->ctx = ctx;
	q->cb = cb;
	q->data = data;
	edera_host_info_init(&q->info);
	rc = ed_offload(ctx, query_work, query_after, q);
	if (rc < 0)
		free(q);
	return rc;
}
