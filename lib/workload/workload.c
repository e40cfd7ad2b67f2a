/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Workloads (edera/workload.h): an image, converted and cached, run by
 * edera-zone-init in a zone of its own, spoken to over the channel
 * ED_WL_CHANNEL (workload/proto.h).
 *
 * A run goes: the image and the initramfs on the threadpool (prepare),
 * the zone's creation, the channel opened, the init's READY (within
 * timeout_ms), LAUNCH, then STARTED (the caller's callback: success) or
 * ERROR (the zone is destroyed, then the callback: failure).  The
 * workload hangs off its zone (z->workload) and is freed with the zone
 * handle through the zone-part hooks at the end of this file. */
#define _GNU_SOURCE /* asprintf */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <uv.h>

#include "ctx.h"
#include "edera/channel.h"
#include "edera/device.h"
#include "edera/workload.h"
#include "hv/offload.h"
#include "image/oci.h"
#include "internal.h"
#include "list.h"
#include "workload/priv.h"
#include "workload/proto.h"
#include "zone/part.h"
#include "zone/zone.h"

#define STDIN_CHUNK   (EDERA_CHANNEL_FRAME_MAX - 4)

struct edera_process {
	struct ed_link link; /* in wl->procs */
	edera_workload *wl;
	uint32_t id;
	uint32_t pid;
	bool ended;       /* on_exit ran */
	bool stdin_shut;  /* closed by the caller */
	bool want_writable;
	uint32_t in_flight; /* stdin bytes sent, not yet acknowledged (ED_WL_STDIN_ACK) */
	edera_process_output_cb on_output;
	edera_process_exit_cb on_exit;
	edera_process_writable_cb on_writable;
	void *data;
};

struct edera_workload {
	edera_ctx *ctx;
	edera_zone *zone;
	edera_channel *ch;
	struct ed_list procs;
	uint32_t next_id;
	uv_timer_t timer; /* READY's deadline */
	struct run_op *run; /* until the workload started or failed */
	char *cwd, *user;   /* the image's defaults, for exec */
	bool ready;
	bool launched; /* LAUNCH sent: STARTED or ERROR may come */
};

/* A copied string array. */
struct strv {
	char **v;
	size_t n;
};

struct run_op {
	edera_ctx *ctx;
	edera_workload_run_cb cb;
	void *data;
	/* the config, copied */
	char *name, *image, *image_name, *cache_dir, *kernel, *modules_dir, *init;
	char *hostname, *address, *gateway;
	uint64_t cache_max_mib, memory_mib;
	uint32_t vcpus;
	unsigned int timeout_ms;
	bool kernel_defaulted; /* dom0's own */
	edera_disk_config *disks;
	size_t n_disks;
	edera_nic_config *nics;
	size_t n_nics;
	struct strv dns, args, env;
	char *cwd, *user;
	int terminal;
	uint16_t rows, cols;
	edera_rlimit rl[EDERA_PROCESS_RLIMITS_MAX];
	size_t n_rl;
	edera_process_config pcfg; /* its callbacks */
	/* the image conversion's progress: stored by the worker, reported on
	 * the loop (the latest state when the async handle fires) */
	edera_workload_progress_cb on_progress;
	void *progress_data;
	uv_async_t *progress_async;
	pthread_mutex_t progress_lock;
	edera_workload_progress progress;
	bool progress_new;
	char *rootfs;
	/* made by prepare: the image converted, or the root directory packed */
	struct ed_oci_result image_res;
	struct ed_oci_packed packed;
	char *initrd;
	/* the failure, kept while the zone is destroyed */
	struct ed_err err;
	edera_workload *wl;
	/* spare zones: what one must match (made by prepare: the initramfs,
	 * the kernel file's identity, memory and vCPUs) */
	char *spare_key;
	bool spare;    /* edera_workload_spare: a spare is booted, no workload */
	bool no_spare; /* the caller's no_spare */
	edera_zone_done_cb spare_cb;
	edera_zone *spare_zone;
	size_t attached; /* devices attached to a spare taken so far */
	uint32_t claimed_domid; /* the spare taken, and its UUID */
	char claimed_uuid[37];
	/* an attach in flight: its callback may come after the run is over
	 * (the context closed), so it holds this, not the run */
	struct attach_ticket *ticket;
};

struct attach_ticket {
	struct run_op *op; /* NULL once the run is over */
};

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int strv_add(struct strv *s, const char *str)
{
	char **v = realloc(s->v, sizeof(char *) * (s->n + 1));

	if (!v)
		return EDERA_ENOMEM;
	s->v = v;
	if (!(s->v[s->n] = strdup(str)))
		return EDERA_ENOMEM;
	s->n++;
	return 0;
}

static void op_free(struct run_op *op)
{
	char **strs[] = {&op->name,     &op->image,    &op->image_name, &op->cache_dir,
	                 &op->kernel,   &op->modules_dir, &op->init,    &op->hostname,
	                 &op->address,  &op->gateway,  &op->cwd,        &op->user,
	                 &op->initrd,   &op->rootfs,   &op->spare_key};

	for (size_t i = 0; i < ED_ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	if (op->ticket)
		op->ticket->op = NULL;
	for (size_t i = 0; i < op->n_disks; i++) {
		free((char *)op->disks[i].path);
		free((char *)op->disks[i].vdev);
	}
	for (size_t i = 0; i < op->n_nics; i++) {
		free((char *)op->nics[i].bridge);
		free((char *)op->nics[i].mac);
	}
	free(op->disks);
	free(op->nics);
	strv_free(&op->dns);
	strv_free(&op->args);
	strv_free(&op->env);
	ed_oci_result_free(&op->image_res);
	/* (a packed root directory: its loop device holds it by now, if the
	 * run got that far) */
	ed_oci_packed_free(&op->packed);
	free(op);
}

void edera_process_config_init(edera_process_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

/* edera_workload_config_init has two versions: 0.2's (the default, what
 * programs built now bind to) and 0.1's.  0.1's edera_workload_config
 * ended before rootfs: programs built against it allocate that much, and
 * their calls (bound to version EDERA_0.1) must not write past it. */
EDERA_API void ed_workload_config_init_0_2(edera_workload_config *cfg);
void ed_workload_config_init_0_2(edera_workload_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}
__asm__(".symver ed_workload_config_init_0_2, edera_workload_config_init@@EDERA_0.2");

#define WORKLOAD_CONFIG_0_1_SIZE offsetof(edera_workload_config, rootfs)
_Static_assert(WORKLOAD_CONFIG_0_1_SIZE == 192, "0.1's edera_workload_config was 192 bytes (abi/libedera.so.0.abi)");

EDERA_API void ed_workload_config_init_0_1(edera_workload_config *cfg);
void ed_workload_config_init_0_1(edera_workload_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, WORKLOAD_CONFIG_0_1_SIZE);
	cfg->sz = WORKLOAD_CONFIG_0_1_SIZE;
}
__asm__(".symver ed_workload_config_init_0_1, edera_workload_config_init@EDERA_0.1");

/* ---- requests ---- */

struct req {
	uint8_t *b;
	size_t len, cap;
	bool oom;
};

static void req_put(struct req *r, const void *p, size_t len)
{
	if (r->oom)
		return;
	if (r->len + len > r->cap) {
		size_t cap = (r->len + len) * 2;
		uint8_t *b = realloc(r->b, cap);

		if (!b) {
			r->oom = true;
			return;
		}
		r->b = b;
		r->cap = cap;
	}
	memcpy(r->b + r->len, p, len);
	r->len += len;
}

static void req_field(struct req *r, uint16_t tag, const void *p, size_t len)
{
	uint16_t zero = 0;
	uint32_t l = (uint32_t)len;

	req_put(r, &tag, 2);
	req_put(r, &zero, 2);
	req_put(r, &l, 4);
	req_put(r, p, len);
}

static void req_str(struct req *r, uint16_t tag, const char *s)
{
	if (s)
		req_field(r, tag, s, strlen(s));
}

/* The process part of a request (shared by LAUNCH and EXEC). */
static void req_process(struct req *r, uint32_t id, const struct strv *args,
                        const struct strv *env, const char *cwd, const char *user, int terminal,
                        uint16_t rows, uint16_t cols, const edera_rlimit *rl, size_t n_rl)
{
	req_put(r, &id, 4);
	for (size_t i = 0; i < args->n; i++)
		req_str(r, ED_WL_F_ARG, args->v[i]);
	for (size_t i = 0; i < env->n; i++)
		req_str(r, ED_WL_F_ENV, env->v[i]);
	req_str(r, ED_WL_F_CWD, cwd);
	req_str(r, ED_WL_F_USER, user);
	if (terminal) {
		uint16_t size[2] = {rows ? rows : 24, cols ? cols : 80};

		req_field(r, ED_WL_F_TERMINAL, size, sizeof(size));
	}
	for (size_t i = 0; i < n_rl; i++) {
		uint8_t f[20];
		uint32_t res = (uint32_t)rl[i].resource;

		memcpy(f, &res, 4);
		memcpy(f + 4, &rl[i].soft, 8);
		memcpy(f + 12, &rl[i].hard, 8);
		req_field(r, ED_WL_F_RLIMIT, f, sizeof(f));
	}
}

static int req_send(edera_workload *wl, uint32_t type, struct req *r)
{
	int rc;

	if (r->oom) {
		free(r->b);
		return EDERA_ENOMEM;
	}
	if (r->len > EDERA_CHANNEL_FRAME_MAX) {
		free(r->b);
		return ed_error(EDERA_EINVAL,
		                "the request (arguments and environment) is %zu bytes: at most %u",
		                r->len, EDERA_CHANNEL_FRAME_MAX);
	}
	rc = edera_channel_send(wl->ch, type, r->b, r->len);
	free(r->b);
	return rc;
}

/* ---- config checks ---- */

static int check_strings(const char *const *v, size_t n, const char *what, bool env)
{
	if (n && !v)
		return ed_error(EDERA_EINVAL, "%s: %zu entries but no array", what, n);
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			return ed_error(EDERA_EINVAL, "%s[%zu] is NULL", what, i);
		if (strlen(v[i]) > ED_WL_FIELD_MAX)
			return ed_error(EDERA_EINVAL, "%s[%zu] is longer than %d bytes", what, i,
			                ED_WL_FIELD_MAX);
		if (env && (v[i][0] == '=' || !strchr(v[i], '=')))
			return ed_error(EDERA_EINVAL, "%s[%zu] '%s' is not NAME=value", what, i, v[i]);
	}
	return 0;
}

static int check_process(const edera_process_config *p, bool exec)
{
	int rc;

	if (!p)
		return ed_error(EDERA_EINVAL, "the process config is NULL");
	if ((rc = ed_sized_check(p, p->sz, sizeof(*p), "edera_process_config")) < 0)
		return rc;
	if (exec && p->n_args == 0)
		return ed_error(EDERA_EINVAL, "edera_workload_exec: args are required");
	if (p->n_args > ED_WL_ARGS_MAX || p->n_env > ED_WL_ENV_MAX)
		return ed_error(EDERA_EINVAL, "at most %d args and %d env entries", ED_WL_ARGS_MAX,
		                ED_WL_ENV_MAX);
	if ((rc = check_strings(p->args, p->n_args, "args", false)) < 0 ||
	    (rc = check_strings(p->env, p->n_env, "env", true)) < 0)
		return rc;
	if (p->n_args && !p->args[0][0])
		return ed_error(EDERA_EINVAL, "args[0] is empty");
	if (ED_SIZED_HAS(p, n_rlimits) && p->n_rlimits) {
		if (!p->rlimits || p->n_rlimits > EDERA_PROCESS_RLIMITS_MAX)
			return ed_error(EDERA_EINVAL, "rlimits: at most %d, and not NULL when "
			                "n_rlimits is %zu", EDERA_PROCESS_RLIMITS_MAX, p->n_rlimits);
		for (size_t i = 0; i < p->n_rlimits; i++) {
			const edera_rlimit *l = &p->rlimits[i];

			if (l->resource < 0 || l->resource >= RLIM_NLIMITS)
				return ed_error(EDERA_EINVAL, "rlimits[%zu]: %d is not a resource "
				                "(RLIMIT_NOFILE, RLIMIT_NPROC, ...)", i, l->resource);
			if (l->soft > l->hard)
				return ed_error(EDERA_EINVAL, "rlimits[%zu]: the soft limit %llu is above "
				                "the hard one %llu", i, (unsigned long long)l->soft,
				                (unsigned long long)l->hard);
			for (size_t j = 0; j < i; j++)
				if (p->rlimits[j].resource == l->resource)
					return ed_error(EDERA_EINVAL, "rlimits[%zu]: resource %d given twice",
					                i, l->resource);
		}
	}
	return 0;
}

/* CFG: the library's own copy (edera_workload_run checked the caller's
 * sizes). */
static int check_config(edera_ctx *ctx, const edera_workload_config *cfg)
{
	int rc;

	if (!cfg->name || !*cfg->name)
		return ed_error(EDERA_EINVAL, "edera_workload_config: name is required");
	if ((!cfg->image || !*cfg->image) && (!cfg->rootfs || !*cfg->rootfs))
		return ed_error(EDERA_EINVAL, "edera_workload_config: image is required (an OCI "
		                              "layout directory or archive), or rootfs (a "
		                              "directory)");
	if (cfg->image && cfg->rootfs)
		return ed_error(EDERA_EINVAL, "edera_workload_config: image '%s' and rootfs '%s': "
		                              "give one of them",
		                cfg->image, cfg->rootfs);
	if (cfg->rootfs && (!cfg->process->args || cfg->process->n_args == 0))
		return ed_error(EDERA_EINVAL, "edera_workload_config: rootfs '%s' has no image "
		                              "config to take a command from: give the process's "
		                              "args",
		                cfg->rootfs);
	for (edera_zone *z = edera_zone_next(ctx, NULL); z; z = edera_zone_next(ctx, z))
		if (strcmp(edera_zone_name(z), cfg->name) == 0)
			return ed_error(EDERA_EEXIST, "a zone named '%s' exists", cfg->name);
	if ((rc = check_process(cfg->process, false)) < 0)
		return rc;
	if (cfg->n_disks && !cfg->disks)
		return ed_error(EDERA_EINVAL, "n_disks is %zu but disks is NULL", cfg->n_disks);
	if (cfg->n_nics && !cfg->nics)
		return ed_error(EDERA_EINVAL, "n_nics is %zu but nics is NULL", cfg->n_nics);
	for (size_t i = 0; i < cfg->n_disks; i++)
		if (!cfg->disks[i] || !cfg->disks[i]->path || !cfg->disks[i]->vdev ||
		    strcmp(cfg->disks[i]->vdev, "xvda") == 0)
			return ed_error(EDERA_EINVAL,
			                "disks[%zu]: path and vdev are required, and xvda is the "
			                "image's",
			                i);
	for (size_t i = 0; i < cfg->n_nics; i++)
		if (!cfg->nics[i] || !cfg->nics[i]->bridge)
			return ed_error(EDERA_EINVAL, "nics[%zu]: bridge is required", i);
	if ((cfg->address || cfg->gateway) && cfg->n_nics == 0)
		return ed_error(EDERA_EINVAL, "an address or gateway needs a NIC (nics)");
	if (cfg->n_dns > 4 || check_strings(cfg->dns, cfg->n_dns, "dns", false) < 0)
		return ed_error(EDERA_EINVAL, "dns: at most 4 name servers, none NULL");
	return 0;
}

/* ---- processes ---- */

static edera_process *proc_new(edera_workload *wl, uint32_t id, const edera_process_config *p)
{
	edera_process *proc = calloc(1, sizeof(*proc));

	if (!proc)
		return NULL;
	proc->wl = wl;
	proc->id = id;
	proc->on_output = p->on_output;
	proc->on_exit = p->on_exit;
	proc->on_writable = p->on_writable;
	proc->data = p->data;
	ed_list_push_back(&wl->procs, &proc->link);
	return proc;
}

static edera_process *proc_by_id(edera_workload *wl, uint32_t id)
{
	ED_LIST_EACH(p, &wl->procs, edera_process, link)
	if (p->id == id)
		return p;
	return NULL;
}

static void proc_end(edera_process *p, int status, int code, int sig)
{
	edera_ctx *ctx = p->wl->ctx;

	if (p->ended)
		return;
	p->ended = true;
	if (p->on_exit)
		ED_CALLBACK(ctx, p->on_exit(ctx, p, status, code, sig, p->data));
}

/* ---- the run ---- */

static void run_done(struct run_op *op, int status)
{
	edera_workload *wl = op->wl;
	edera_ctx *ctx = op->ctx;

	if (wl)
		wl->run = NULL;
	if (status < 0)
		ed_error_restore(&op->err);
	if (op->cb)
		ED_CALLBACK(ctx, op->cb(ctx, status, status < 0 ? NULL : wl,
		                        status < 0 ? NULL : edera_workload_process(wl), op->data));
	op_free(op);
}

static void failed_destroyed(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct run_op *op = data;

	(void)ctx;
	(void)status;
	(void)zone;
	run_done(op, op->err.code);
}

/* The run failed with RC (its message the thread's last error): undo the
 * zone if there is one, then tell the caller. */
static void run_fail(struct run_op *op, int rc)
{
	edera_workload *wl = op->wl;

	ed_error_save_code(&op->err, rc);
	if (wl) {
		/* nothing more from the zone reaches anyone */
		uv_timer_stop(&wl->timer);
		if (wl->ch)
			edera_channel_close(wl->ch);
		wl->ch = NULL;
		ED_LIST_EACH(p, &wl->procs, edera_process, link)
		p->ended = true;
	}
	if (wl && wl->zone) {
		wl->run = NULL;
		/* the callback comes once the zone is gone (and WL with it) */
		op->wl = NULL;
		if (edera_zone_destroy(wl->zone, failed_destroyed, op) == 0)
			return;
	}
	run_done(op, op->err.code);
}

static void ready_timeout(uv_timer_t *t);

static void send_launch(edera_workload *wl)
{
	struct run_op *op = wl->run;
	struct req r = {0};
	int rc;

	req_process(&r, 0, &op->args, &op->env, op->cwd, op->user, op->terminal, op->rows,
	            op->cols, op->rl, op->n_rl);
	req_str(&r, ED_WL_F_ROOT, "xvda erofs");
	req_str(&r, ED_WL_F_HOSTNAME, op->hostname ? op->hostname : op->name);
	for (size_t i = 0; i < op->dns.n; i++)
		req_str(&r, ED_WL_F_DNS, op->dns.v[i]);
	req_str(&r, ED_WL_F_ADDRESS, op->address);
	req_str(&r, ED_WL_F_GATEWAY, op->gateway);
	if ((rc = req_send(wl, ED_WL_LAUNCH, &r)) < 0) {
		run_fail(op, rc);
		return;
	}
	wl->launched = true;
	/* the same time again for the image to mount and the process to start */
	uv_timer_start(&wl->timer, ready_timeout, op->timeout_ms, 0);
}

static void on_frame(edera_ctx *ctx, edera_channel *ch, uint32_t type, const void *payload,
                     size_t len, void *data)
{
	edera_workload *wl = data;
	const uint8_t *b = payload;
	edera_process *p;
	uint32_t id, v[2] = {0, 0};

	(void)ch;
	if (len < 4)
		return; /* nothing to say it to */
	memcpy(&id, b, 4);
	b += 4;
	len -= 4;
	if (len >= 4)
		memcpy(&v[0], b, 4);
	if (len >= 8)
		memcpy(&v[1], b + 4, 4);
	if (wl->run && !(type == ED_WL_READY && !wl->ready) &&
	    !(wl->launched && id == 0 && (type == ED_WL_STARTED || type == ED_WL_ERROR))) {
		/* before the workload started, the init says READY, then
		 * STARTED or ERROR about it; nothing else */
		run_fail(wl->run, ed_error(EDERA_EPROTO,
		                           "zone '%s' sent a frame of type %u (process %u) before its "
		                           "workload started",
		                           edera_zone_name(wl->zone), type, id));
		return;
	}
	if (type == ED_WL_READY) {
		if (wl->ready || !wl->run)
			return;
		wl->ready = true;
		ed_trace("workload: zone '%s': its init is ready", edera_zone_name(wl->zone));
		if (len < 4 || v[0] != ED_WL_VERSION) {
			run_fail(wl->run,
			         ed_error(EDERA_EPROTO,
			                  "zone '%s': its init speaks version %u, the library %u "
			                  "(edera-zone-init and libedera must come from one release)",
			                  edera_zone_name(wl->zone), v[0], ED_WL_VERSION));
			return;
		}
		send_launch(wl);
		return;
	}
	/* everything else is about a process: one we know, not yet ended */
	if (!(p = proc_by_id(wl, id)) || p->ended)
		return;
	switch (type) {
	case ED_WL_STARTED:
		if (len != 4 || p->pid)
			return;
		p->pid = v[0];
		ed_trace("workload: process %u started", id);
		if (id == 0 && wl->run) {
			uv_timer_stop(&wl->timer);
			run_done(wl->run, 0);
		}
		return;
	case ED_WL_STDIN_ACK:
		if (len != 4 || v[0] > p->in_flight) {
			/* more than was sent: the zone breaks the protocol; this
			 * process's stdin is over */
			p->in_flight = ED_WL_STDIN_WINDOW;
			p->stdin_shut = true;
			return;
		}
		p->in_flight -= v[0];
		if (p->want_writable && p->in_flight < ED_WL_STDIN_WINDOW) {
			p->want_writable = false;
			if (p->on_writable)
				ED_CALLBACK(ctx, p->on_writable(ctx, p, p->data));
		}
		return;
	case ED_WL_STDOUT:
	case ED_WL_STDERR:
		if (p->on_output)
			ED_CALLBACK(ctx, p->on_output(ctx, p, type == ED_WL_STDOUT ? 1 : 2,
			                              len ? b : NULL, len, p->data));
		return;
	case ED_WL_EXIT:
		if (len != 8 || v[0] > ED_WL_KILLED || (v[0] == ED_WL_KILLED && (v[1] == 0 || v[1] > 64)) ||
		    (v[0] == ED_WL_EXITED && v[1] > 255))
			return;
		ed_trace("workload: process %u ended", id);
		if (v[0] == ED_WL_KILLED)
			proc_end(p, 0, -1, (int)v[1]);
		else
			proc_end(p, 0, (int)v[1], 0);
		return;
	case ED_WL_ERROR: {
		/* the errno value the init gave, as our code */
		int code = len >= 4 && v[0] && v[0] < 4096 ? ed_errno_code((int)v[0]) : EDERA_EINVAL;
		int n = len > 4 ? (int)(len - 4 > 1024 ? 1024 : len - 4) : 0;
		char msg[1100];

		/* the zone's text, printable only */
		snprintf(msg, sizeof(msg), "%.*s", n, (const char *)b + 4);
		for (char *c = msg; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		code = ed_error(code, "zone '%s' refused process %u: %s", edera_zone_name(wl->zone),
		                id, msg);
		if (id == 0 && wl->run && !p->pid) {
			p->ended = true; /* the run's callback says it */
			run_fail(wl->run, code);
			return;
		}
		proc_end(p, code, -1, 0);
		return;
	}
	default:
		return;
	}
}

static void on_end(edera_ctx *ctx, edera_channel *ch, int status, void *data)
{
	edera_workload *wl = data;
	char why[512];

	(void)ctx;
	(void)ch;
	snprintf(why, sizeof(why), "%s", edera_last_error());
	if (wl->run) {
		run_fail(wl->run, ed_error(status == EDERA_EPROTO ? EDERA_EPROTO : EDERA_ENOTCONN,
		                           "zone '%s' stopped before its workload started (%s); its "
		                           "console says why",
		                           edera_zone_name(wl->zone), why));
		return;
	}
	ED_LIST_EACH_SAFE(p, nx, &wl->procs, edera_process, link)
	{
		if (!p->ended)
			proc_end(p, ed_error(EDERA_ENOTCONN,
			                     "zone '%s' ended without reporting process %u's exit (%s)",
			                     edera_zone_name(wl->zone), p->id, why),
			         -1, 0);
	}
}

static void on_writable(edera_ctx *ctx, edera_channel *ch, void *data)
{
	edera_workload *wl = data;

	(void)ch;
	ED_LIST_EACH_SAFE(p, nx, &wl->procs, edera_process, link)
	{
		if (p->want_writable && !p->ended) {
			p->want_writable = false;
			if (p->on_writable)
				ED_CALLBACK(ctx, p->on_writable(ctx, p, p->data));
		}
	}
}

static void ready_timeout(uv_timer_t *t)
{
	edera_workload *wl = t->data;

	if (wl->run)
		run_fail(wl->run,
		         ed_error(EDERA_ETIMEDOUT, "zone '%s': its init did not %s within %u ms (see "
		                                   "its console)",
		                  edera_zone_name(wl->zone),
		                  wl->ready ? "start the workload" : "greet", wl->run->timeout_ms));
}

/* The workload's handle on ZONE; false when that failed (the run then
 * failed and is being undone). */
static bool wl_setup(struct run_op *op, edera_zone *zone)
{
	edera_ctx *ctx = op->ctx;
	edera_workload *wl = calloc(1, sizeof(*wl));

	if (!wl) {
		op->wl = NULL;
		ed_error(EDERA_ENOMEM, "out of memory");
		ed_error_save_code(&op->err, EDERA_ENOMEM);
		if (edera_zone_destroy(zone, failed_destroyed, op) < 0)
			run_done(op, EDERA_ENOMEM);
		return false;
	}
	wl->ctx = ctx;
	wl->zone = zone;
	wl->run = op;
	wl->next_id = 1;
	wl->cwd = op->cwd ? strdup(op->cwd) : NULL;
	wl->user = op->user ? strdup(op->user) : NULL;
	uv_timer_init(ctx->loop, &wl->timer);
	wl->timer.data = wl;
	zone->workload = wl;
	op->wl = wl;
	if ((op->cwd && !wl->cwd) || (op->user && !wl->user) || !proc_new(wl, 0, &op->pcfg)) {
		run_fail(op, ed_error(EDERA_ENOMEM, "out of memory"));
		return false;
	}
	return true;
}

/* The channel to the zone's init, and READY's deadline. */
static void wl_open(struct run_op *op)
{
	edera_workload *wl = op->wl;
	edera_channel_config cc;
	int rc;

	edera_channel_config_init(&cc);
	cc.name = ED_WL_CHANNEL;
	cc.on_frame = on_frame;
	cc.on_end = on_end;
	cc.on_writable = on_writable;
	cc.data = wl;
	if ((rc = edera_channel_open(wl->zone, &cc, &wl->ch)) < 0) {
		run_fail(op, rc);
		return;
	}
	uv_timer_start(&wl->timer, ready_timeout, op->timeout_ms, 0);
}

static void created(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct run_op *op = data;

	(void)ctx;
	ed_trace("workload: zone created");
	if (status < 0) {
		run_fail(op, status);
		return;
	}
	if (wl_setup(op, zone))
		wl_open(op);
}

/* The image's defaults under the caller's choices. */
static int merge_image(struct run_op *op)
{
	const struct ed_oci_config *ic = &op->image_res.config;
	int rc = 0;

	if (op->args.n == 0) {
		for (size_t i = 0; i < ic->n_entrypoint && rc == 0; i++)
			rc = strv_add(&op->args, ic->entrypoint[i]);
		for (size_t i = 0; i < ic->n_cmd && rc == 0; i++)
			rc = strv_add(&op->args, ic->cmd[i]);
		if (rc == 0 && op->args.n == 0)
			return ed_error(EDERA_EINVAL,
			                "image '%s' has no command (Entrypoint or Cmd): give the "
			                "arguments",
			                op->image);
	}
	if (rc == 0 && op->env.n + ic->n_env > 0) {
		/* the image's, then the caller's over them */
		struct strv env = {0};

		for (size_t i = 0; i < ic->n_env && rc == 0; i++) {
			const char *e = ic->env[i];
			size_t k = strcspn(e, "=");
			bool over = false;

			for (size_t j = 0; j < op->env.n && !over; j++)
				over = strncmp(op->env.v[j], e, k) == 0 && op->env.v[j][k] == '=';
			if (!over && e[k] == '=' && k > 0)
				rc = strv_add(&env, e);
		}
		for (size_t j = 0; j < op->env.n && rc == 0; j++)
			rc = strv_add(&env, op->env.v[j]);
		strv_free(&op->env);
		op->env = env;
	}
	if (rc == 0 && !op->cwd && ic->workdir && *ic->workdir && !(op->cwd = strdup(ic->workdir)))
		rc = EDERA_ENOMEM;
	if (rc == 0 && !op->user && ic->user && *ic->user && !(op->user = strdup(ic->user)))
		rc = EDERA_ENOMEM;
	return rc == EDERA_ENOMEM ? ed_error(rc, "out of memory") : rc;
}

/* ---- the conversion's progress ---- */

/* On the converting thread. */
static void progress_store(void *arg, int step, size_t layer, size_t n_layers, uint64_t done,
                           uint64_t total)
{
	static const char *const steps[] = {"", "reading", "unpacking", "packing"};
	struct run_op *op = arg;

	pthread_mutex_lock(&op->progress_lock);
	op->progress.step = step > 0 && step < (int)ED_ARRAY_SIZE(steps) ? steps[step] : "";
	op->progress.layer = (uint32_t)layer;
	op->progress.layers = (uint32_t)n_layers;
	op->progress.done = done;
	op->progress.total = total;
	op->progress_new = true;
	pthread_mutex_unlock(&op->progress_lock);
	uv_async_send(op->progress_async);
}

/* On the loop: the latest state, if not reported yet. */
static void progress_report(struct run_op *op)
{
	edera_workload_progress p;
	bool fresh;

	pthread_mutex_lock(&op->progress_lock);
	p = op->progress;
	fresh = op->progress_new;
	op->progress_new = false;
	pthread_mutex_unlock(&op->progress_lock);
	if (fresh && !op->ctx->closing)
		ED_CALLBACK(op->ctx, op->on_progress(op->ctx, &p, op->progress_data));
}

static void progress_fired(uv_async_t *a)
{
	progress_report(a->data);
}

static void progress_closed(uv_handle_t *h)
{
	free(h);
}

static int progress_start(struct run_op *op)
{
	if (!op->on_progress)
		return 0;
	if (!(op->progress_async = malloc(sizeof(*op->progress_async))))
		return ed_error(EDERA_ENOMEM, "out of memory");
	if (uv_async_init(op->ctx->loop, op->progress_async, progress_fired) < 0) {
		free(op->progress_async);
		op->progress_async = NULL;
		return ed_error(EDERA_ENOMEM, "cannot report progress: no async handle");
	}
	op->progress_async->data = op;
	pthread_mutex_init(&op->progress_lock, NULL);
	op->progress.sz = sizeof(op->progress);
	return 0;
}

/* After the conversion (on the loop): its last state, then no more. */
static void progress_end(struct run_op *op)
{
	if (!op->progress_async)
		return;
	progress_report(op);
	uv_close((uv_handle_t *)op->progress_async, progress_closed);
	op->progress_async = NULL;
	pthread_mutex_destroy(&op->progress_lock);
}

/* On the threadpool: the image, the kernel's release, the initramfs. */
/* What a spare zone must match to run this workload: the initramfs (its
 * name is a hash of the init and the modules), the kernel file's identity,
 * the memory and the vCPUs. */
static int spare_key(struct run_op *op)
{
	const char *base = strrchr(op->initrd, '/');
	struct stat st;

	if (stat(op->kernel, &st) < 0)
		return ed_error(ed_errno_code(errno), "the kernel %s: %s", op->kernel,
		                strerror(errno));
	if (asprintf(&op->spare_key, "1 %s %llx:%llx:%lld:%lld.%09ld %llu %u",
	             base ? base + 1 : op->initrd, (unsigned long long)st.st_dev,
	             (unsigned long long)st.st_ino, (long long)st.st_size,
	             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	             (unsigned long long)op->memory_mib, op->vcpus) < 0) {
		op->spare_key = NULL;
		return ed_error(EDERA_ENOMEM, "out of memory");
	}
	return 0;
}

static int prepare_work(void *arg)
{
	struct run_op *op = arg;
	char release[128], *moddir = op->modules_dir;
	struct ed_oci_progress prog = {progress_store, op};
	int rc;

	if (op->kernel_defaulted && access(op->kernel, R_OK) != 0)
		return ed_error(ed_errno_code(errno),
		                "dom0's own kernel %s: %s (a zone needs a PV-capable kernel: give "
		                "the config's kernel)",
		                op->kernel, strerror(errno));

	/* (a spare has no image: only the kernel and the initramfs) */
	if (!op->spare) {
		if (op->rootfs) {
			rc = ed_oci_pack_dir(op->rootfs, op->cache_dir, &op->packed);
			if (rc == 0 && !(op->image_res.path = strdup(op->packed.path)))
				rc = ed_error(EDERA_ENOMEM, "out of memory");
		} else {
			rc = ed_oci_convert_progress(op->image, op->image_name, op->cache_dir,
			                             op->cache_max_mib << 20,
			                             op->progress_async ? &prog : NULL,
			                             &op->image_res);
		}
		if (rc < 0 || (rc = merge_image(op)) < 0)
			return rc;
	}
	if (!moddir) {
		if ((rc = ed_kernel_release(op->kernel, release, sizeof(release))) < 0)
			return rc;
		if (asprintf(&moddir, "/lib/modules/%s", release) < 0)
			return ed_error(EDERA_ENOMEM, "out of memory");
	}
	rc = ed_zone_initramfs(op->init, moddir, op->cache_dir, &op->initrd);
	if (moddir != op->modules_dir)
		free(moddir);
	if (rc == 0 && (op->spare || !op->no_spare))
		rc = spare_key(op);
	return rc;
}

/* The kernel's command line of a workload zone. */
#define ZONE_CMDLINE "console=hvc0 quiet loglevel=3"

/* A workload zone's config: name, kernel, initramfs, CMDLINE, memory and
 * vCPUs (the devices are the caller's). */
static void zone_config(const struct run_op *op, edera_zone_config *zc, const char *cmdline)
{
	edera_zone_config_init(zc);
	zc->name = op->name;
	zc->kernel = op->kernel;
	zc->initrd = op->initrd;
	zc->cmdline = cmdline;
	zc->memory_mib = op->memory_mib;
	zc->vcpus = op->vcpus;
}

/* The image as the zone's disk xvda, read-only. */
static void image_disk(const struct run_op *op, edera_disk_config *image)
{
	edera_disk_config_init(image);
	image->path = op->image_res.path;
	image->vdev = "xvda";
	image->readonly = 1;
}

/* The zone booted for the run, the image its disk xvda. */
static void create_cold(struct run_op *op)
{
	edera_ctx *ctx = op->ctx;
	edera_zone_config zc;
	edera_disk_config image;
	const edera_disk_config **disks;
	const edera_nic_config **nics = NULL;
	int rc;

	disks = calloc(op->n_disks + 1, sizeof(*disks));
	nics = calloc(op->n_nics + 1, sizeof(*nics));
	if (!disks || !nics) {
		free(disks);
		free(nics);
		run_fail(op, ed_error(EDERA_ENOMEM, "out of memory"));
		return;
	}
	image_disk(op, &image);
	disks[0] = &image;
	for (size_t i = 0; i < op->n_disks; i++)
		disks[i + 1] = &op->disks[i];
	for (size_t i = 0; i < op->n_nics; i++)
		nics[i] = &op->nics[i];
	zone_config(op, &zc, ZONE_CMDLINE);
	zc.disks = disks;
	zc.n_disks = op->n_disks + 1;
	zc.nics = nics;
	zc.n_nics = op->n_nics;
	rc = edera_zone_create(ctx, &zc, created, op);
	free(disks);
	free(nics);
	if (rc < 0)
		run_fail(op, rc);
}

static void spare_find(struct run_op *op);
static void spare_boot(struct run_op *op, int status);

static void prepare_after(edera_ctx *ctx, int status, void *arg)
{
	struct run_op *op = arg;

	(void)ctx;
	progress_end(op);
	ed_trace("workload: image, kernel release and initramfs ready");
	if (op->spare) {
		spare_boot(op, status);
		return;
	}
	if (status < 0) {
		run_fail(op, status);
		return;
	}
	if (op->spare_key)
		spare_find(op);
	else
		create_cold(op);
}


/* ---- spare zones ----
 *
 * A spare is a zone booted ahead with the workload initramfs and no disk:
 * its init waits for the channel (ED_WL_SPARE_ARG on its command line).
 * Its marker /local/domain/N/edera/spare (dom0's: the guest cannot write
 * it) holds the key a run must match (spare_key).  A run looks at every
 * domain's marker, takes one whose key matches in a transaction that
 * removes the marker and renames the zone (two runs never take the same
 * one), takes the zone over (ed_zone_adopt: its console is served from
 * here on), attaches the image and the run's disks and NICs, then opens
 * the channel: the init says READY and the launch goes as in a zone
 * booted for the run.  Anything short of that falls back to booting one. */

struct spare_cand {
	struct spare_find *f;
	uint32_t domid;
	char *key;
};

struct spare_find {
	struct run_op *op;
	struct ed_gather g;
	struct spare_cand *c;
	size_t n, next;
	/* the claim's transaction */
	edera_xs_txn *txn;
	char uuid[37]; /* the candidate's, from its /vm entry */
	int pending, status;
};

static void find_free(struct spare_find *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->c[i].key);
	free(f->c);
	free(f);
}

static void spare_attach_next(struct run_op *op);

static void spare_attached(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct attach_ticket *t = data;
	struct run_op *op = t->op;

	(void)ctx;
	(void)dev;
	free(t);
	if (!op) /* the run is over (the zone went with the context) */
		return;
	op->ticket = NULL;
	if (status < 0) {
		run_fail(op, status);
		return;
	}
	op->attached++;
	spare_attach_next(op);
}

/* The image as xvda, then the run's disks and NICs, one after another;
 * then the channel. */
static void spare_attach_next(struct run_op *op)
{
	edera_zone *zone = op->wl->zone;
	size_t i = op->attached;
	struct attach_ticket *t = NULL;
	int rc;

	if (i < 1 + op->n_disks + op->n_nics) {
		if (!(t = calloc(1, sizeof(*t)))) {
			run_fail(op, ed_error(EDERA_ENOMEM, "out of memory"));
			return;
		}
		t->op = op;
		op->ticket = t;
	}
	if (i == 0) {
		edera_disk_config image;

		image_disk(op, &image);
		rc = edera_zone_attach_disk(zone, &image, op->timeout_ms, spare_attached, t);
	} else if (i <= op->n_disks) {
		rc = edera_zone_attach_disk(zone, &op->disks[i - 1], op->timeout_ms, spare_attached,
		                            t);
	} else if (i <= op->n_disks + op->n_nics) {
		rc = edera_zone_attach_nic(zone, &op->nics[i - 1 - op->n_disks], op->timeout_ms,
		                           spare_attached, t);
	} else {
		ed_trace("workload: the spare zone's devices attached");
		wl_open(op);
		return;
	}
	if (rc < 0) {
		op->ticket = NULL;
		free(t);
		run_fail(op, rc);
	}
}

static void spare_discarded(edera_ctx *ctx, int status, void *data)
{
	struct run_op *op = data;

	(void)status;
	if (ctx->closing) {
		run_fail(op, ed_error(EDERA_ECANCELED, "the context was closed"));
		return;
	}
	create_cold(op);
}

static void spare_adopted(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct run_op *op = data;
	int rc;

	if (status < 0) {
		/* taken (its mark is gone, it bears the run's name) but no
		 * handle: it goes, then a zone is booted */
		ed_trace("workload: the spare zone taken could not be taken over (%s): removing it, "
		         "booting one", edera_last_error());
		if ((rc = ed_zone_discard(ctx, op->claimed_domid, op->claimed_uuid, spare_discarded,
		                          op)) < 0)
			spare_discarded(ctx, rc, op);
		return;
	}
	ed_trace("workload: spare zone %u taken", edera_zone_domid(zone));
	if (wl_setup(op, zone))
		spare_attach_next(op);
}

static void claim_next(struct spare_find *f);
static bool spare_usable(edera_ctx *ctx, uint32_t domid);

static void vm_named(edera_ctx *ctx, int status, void *data)
{
	/* (a /vm entry that keeps the spare's name is only cosmetic) */
	(void)ctx;
	(void)status;
	(void)data;
}

static void claimed(edera_ctx *ctx, int status, void *data)
{
	struct spare_find *f = data;
	struct run_op *op = f->op;
	uint32_t domid = f->c[f->next].domid;
	edera_zone *z;
	char vm[96];
	int rc;

	if (status == 0 && ctx->closing) {
		/* (it stays, without its mark: edera_zone_destroy it) */
		find_free(f);
		run_fail(op, ed_error(EDERA_ECANCELED, "the context was closed while spare zone %u "
		                      "was being taken", domid));
		return;
	}
	if (status < 0) {
		/* taken by another run, gone, or XenStore failed: the next */
		f->next++;
		claim_next(f);
		return;
	}
	op->claimed_domid = domid;
	snprintf(op->claimed_uuid, sizeof(op->claimed_uuid), "%s", f->uuid);
	/* the /vm entry's name outside the transaction: under oxenstored a
	 * transaction touching /local/domain and /vm conflicts with any
	 * write anywhere */
	snprintf(vm, sizeof(vm), "/vm/%s/name", f->uuid);
	(void)edera_xs_write(ctx, NULL, vm, op->name, strlen(op->name), vm_named, NULL);
	find_free(f);
	if ((z = edera_zone_lookup_domid(ctx, domid))) {
		/* booted by this context: its handle is the run's, renamed */
		char *name = strdup(op->name);

		if (!name) {
			run_fail(op, ed_error(EDERA_ENOMEM, "out of memory"));
			return;
		}
		if (!spare_usable(ctx, domid)) {
			/* stopped or being destroyed meanwhile: its handle sees
			 * to it */
			free(name);
			ed_trace("workload: spare zone %u went meanwhile: booting one", domid);
			create_cold(op);
			return;
		}
		free(z->name);
		z->name = name;
		spare_adopted(ctx, 0, z, op);
		return;
	}
	if ((rc = ed_zone_adopt(ctx, domid, spare_adopted, op)) < 0)
		spare_adopted(ctx, rc, NULL, op);
}

static void claim_issued(struct spare_find *f, int rc)
{
	if (rc == 0)
		f->pending++;
	else if (f->status == 0)
		f->status = rc;
}

static void claim_step(edera_ctx *ctx, int status, void *data)
{
	struct spare_find *f = data;

	(void)ctx;
	if (status < 0 && f->status == 0)
		f->status = status;
	if (--f->pending > 0)
		return;
	if (f->status < 0)
		edera_xs_txn_abort(f->txn, f->status);
	else
		edera_xs_txn_commit(f->txn);
}

/* The zone's /vm entry ("/vm/UUID", as the builder names it): its UUID;
 * then the mark goes and the zone takes the run's name. */
static void claim_vm_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct spare_find *f = data;
	uint32_t domid = f->c[f->next].domid;
	char path[96];

	if (status < 0 || len != 4 + 36 || strncmp(value, "/vm/", 4) != 0 ||
	    strspn(value + 4, "0123456789abcdefABCDEF-") != 36) {
		edera_xs_txn_abort(f->txn, status < 0 ? status : EDERA_ENOENT);
		return;
	}
	memcpy(f->uuid, value + 4, 36);
	f->uuid[36] = '\0';
	/* (their callbacks come later: counted as they go out) */
	f->pending = 1;
	snprintf(path, sizeof(path), "/local/domain/%u/edera/spare", domid);
	claim_issued(f, edera_xs_rm(ctx, f->txn, path, claim_step, f));
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	claim_issued(f, edera_xs_write(ctx, f->txn, path, f->op->name, strlen(f->op->name),
	                               claim_step, f));
	claim_step(ctx, 0, f);
}

/* A spare asked to stop (a shutdown request written) is not taken. */
static void claim_shutdown_read(edera_ctx *ctx, int status, const char *value, size_t len,
                                void *data)
{
	struct spare_find *f = data;
	char path[96];
	int rc;

	(void)value;
	if ((status < 0 && status != EDERA_ENOENT) || (status == 0 && len > 0)) {
		edera_xs_txn_abort(f->txn, status < 0 ? status : EDERA_ENOENT);
		return;
	}
	snprintf(path, sizeof(path), "/local/domain/%u/vm", f->c[f->next].domid);
	if ((rc = edera_xs_read(ctx, f->txn, path, claim_vm_read, f)) < 0)
		edera_xs_txn_abort(f->txn, rc);
}

static void claim_key_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct spare_find *f = data;
	char path[96];
	int rc;

	if (status < 0 || len != strlen(f->op->spare_key) ||
	    memcmp(value, f->op->spare_key, len) != 0) {
		/* taken meanwhile */
		edera_xs_txn_abort(f->txn, status < 0 ? status : EDERA_ENOENT);
		return;
	}
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", f->c[f->next].domid);
	if ((rc = edera_xs_read(ctx, f->txn, path, claim_shutdown_read, f)) < 0)
		edera_xs_txn_abort(f->txn, rc);
}

static void claim_body(edera_ctx *ctx, edera_xs_txn *txn, void *data)
{
	struct spare_find *f = data;
	char path[96];
	int rc;

	f->txn = txn;
	f->status = 0;
	snprintf(path, sizeof(path), "/local/domain/%u/edera/spare", f->c[f->next].domid);
	if ((rc = edera_xs_read(ctx, txn, path, claim_key_read, f)) < 0)
		edera_xs_txn_abort(txn, rc);
}

/* Whether DOMID may be a spare to take: a zone of another process, or one
 * of this context running with no workload. */
static bool spare_usable(edera_ctx *ctx, uint32_t domid)
{
	edera_zone *z = edera_zone_lookup_domid(ctx, domid);

	return !z || (z->state == ED_ZS_RUNNING && !z->workload);
}

/* Claim the next candidate whose key matches, or boot a zone. */
static void claim_next(struct spare_find *f)
{
	struct run_op *op = f->op;
	int rc;

	for (; f->next < f->n; f->next++) {
		struct spare_cand *c = &f->c[f->next];

		if (!c->key || strcmp(c->key, op->spare_key) != 0 || !spare_usable(op->ctx, c->domid))
			continue;
		if ((rc = edera_xs_transaction(op->ctx, claim_body, claimed, f)) == 0)
			return;
		break;
	}
	find_free(f);
	if (op->ctx->closing) {
		run_fail(op, ed_error(EDERA_ECANCELED, "the context was closed"));
		return;
	}
	ed_trace("workload: no spare zone: booting one");
	create_cold(op);
}

static void find_read(edera_ctx *ctx, int status, const char *value, size_t len, void *data)
{
	struct spare_cand *c = data;

	(void)ctx;
	if (status == 0 && len < 1024)
		c->key = strndup(value, len);
	/* (unreadable or absent: not a candidate) */
	ed_gather_settle(&c->f->g, 0);
}

static void find_read_all(struct ed_gather *g)
{
	claim_next(ed_container_of(g, struct spare_find, g));
}

static void find_listed(edera_ctx *ctx, int status, const char *const *names, size_t n,
                        void *data)
{
	struct spare_find *f = data;

	if (status < 0 || !(f->c = calloc(n ? n : 1, sizeof(*f->c)))) {
		struct run_op *op = f->op;

		find_free(f);
		create_cold(op);
		return;
	}
	ed_gather_start(&f->g, find_read_all);
	for (size_t i = 0; i < n; i++) {
		char *end, path[96];
		unsigned long d = strtoul(names[i], &end, 10);
		struct spare_cand *c = &f->c[f->n];

		if (*end || end == names[i] || d == 0 || d >= DOMID_FIRST_RESERVED ||
		    !spare_usable(ctx, (uint32_t)d))
			continue;
		c->f = f;
		c->domid = (uint32_t)d;
		f->n++;
		snprintf(path, sizeof(path), "/local/domain/%lu/edera/spare", d);
		ed_gather_issued(&f->g, edera_xs_read(ctx, NULL, path, find_read, c));
	}
	ed_gather_settle(&f->g, 0);
}

/* A run: take a spare whose key matches, or boot a zone. */
static void spare_find(struct run_op *op)
{
	struct spare_find *f = calloc(1, sizeof(*f));

	if (f) {
		f->op = op;
		if (edera_xs_directory(op->ctx, NULL, "/local/domain", find_listed, f) == 0)
			return;
		free(f);
	}
	create_cold(op);
}

/* ---- booting a spare ---- */

static void spare_end(struct run_op *op, int status, edera_zone *zone)
{
	if (status < 0 && op->err.code < 0)
		ed_error_restore(&op->err);
	if (op->spare_cb)
		ED_CALLBACK(op->ctx, op->spare_cb(op->ctx, status, zone, op->data));
	op_free(op);
}

static void spare_undone(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	(void)ctx;
	(void)status;
	(void)zone;
	spare_end(data, ((struct run_op *)data)->err.code, NULL);
}

static void spare_marked(edera_ctx *ctx, int status, void *data)
{
	struct run_op *op = data;
	edera_zone *z = op->spare_zone;
	bool gone = z->state == ED_ZS_FREED || ctx->closing;
	uint32_t domid = z->domid;

	/* (held since its creation: the context may have closed meanwhile) */
	ed_zone_unref(z);
	if (gone) {
		/* marked or not, it stays: re-attach, or edera_zone_destroy */
		spare_end(op, ed_error(EDERA_ECANCELED, "the context was closed while spare zone %u "
		                       "was being marked (%s)", domid,
		                       status < 0 ? "not marked" : "marked"),
		          NULL);
		return;
	}
	if (status < 0) {
		ed_error_save_code(&op->err, status);
		if (edera_zone_destroy(z, spare_undone, op) < 0)
			spare_end(op, status, NULL);
		return;
	}
	ed_trace("workload: spare zone %u ready for a run", domid);
	spare_end(op, 0, z);
}

static void spare_created(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct run_op *op = data;
	char path[96];
	int rc;

	if (status < 0) {
		ed_error_save_code(&op->err, status);
		spare_end(op, status, NULL);
		return;
	}
	op->spare_zone = zone;
	ed_zone_ref(zone);
	snprintf(path, sizeof(path), "/local/domain/%u/edera/spare", edera_zone_domid(zone));
	if ((rc = edera_xs_write(ctx, NULL, path, op->spare_key, strlen(op->spare_key),
	                         spare_marked, op)) < 0)
		spare_marked(ctx, rc, op);
}

static void spare_boot(struct run_op *op, int status)
{
	edera_zone_config zc;
	int rc;

	if (status < 0) {
		ed_error_save_code(&op->err, status);
		spare_end(op, status, NULL);
		return;
	}
	zone_config(op, &zc, ZONE_CMDLINE " " ED_WL_SPARE_ARG);
	if ((rc = edera_zone_create(op->ctx, &zc, spare_created, op)) < 0) {
		ed_error_save_code(&op->err, rc);
		spare_end(op, rc, NULL);
	}
}

static int copy_config(struct run_op *op, const edera_workload_config *cfg)
{
	const edera_process_config *p = cfg->process;
	const char *init = cfg->init ? cfg->init : getenv("EDERA_ZONE_INIT");
	bool oom = false;
	int rc = 0;

	op->name = ed_strdup_opt(cfg->name, &oom);
	op->image = ed_strdup_opt(cfg->image, &oom);
	op->rootfs = ed_strdup_opt(cfg->rootfs, &oom);
	op->image_name = ed_strdup_opt(cfg->image_name, &oom);
	op->cache_dir = ed_strdup_opt(ed_cache_dir(cfg->cache_dir), &oom);
	op->modules_dir = ed_strdup_opt(cfg->modules_dir, &oom);
	op->init = ed_strdup_opt(init && *init ? init : ED_PKGLIBEXECDIR "/edera-zone-init", &oom);
	op->hostname = ed_strdup_opt(cfg->hostname, &oom);
	op->address = ed_strdup_opt(cfg->address, &oom);
	op->gateway = ed_strdup_opt(cfg->gateway, &oom);
	op->cwd = ed_strdup_opt(p->cwd, &oom);
	op->user = ed_strdup_opt(p->user, &oom);
	if (cfg->kernel) {
		op->kernel = ed_strdup_opt(cfg->kernel, &oom);
	} else {
		struct utsname u;

		if (uname(&u) < 0 || asprintf(&op->kernel, "/boot/vmlinuz-%s", u.release) < 0)
			op->kernel = NULL, oom = true;
		op->kernel_defaulted = true;
	}
	op->cache_max_mib = cfg->cache_max_mib ? cfg->cache_max_mib : 4096;
	op->memory_mib = cfg->memory_mib ? cfg->memory_mib : 256;
	op->vcpus = cfg->vcpus ? cfg->vcpus : 1;
	op->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 60000;
	op->no_spare = cfg->no_spare != 0;
	op->terminal = p->terminal;
	op->rows = p->rows;
	op->cols = p->cols;
	op->n_rl = p->n_rlimits; /* (checked: at most EDERA_PROCESS_RLIMITS_MAX) */
	if (op->n_rl)
		memcpy(op->rl, p->rlimits, op->n_rl * sizeof(*op->rl));
	op->pcfg = *p;
	op->pcfg.rlimits = NULL; /* the caller's memory: op->rl instead */
	op->pcfg.n_rlimits = 0;
	op->disks = calloc(cfg->n_disks + 1, sizeof(*op->disks));
	op->nics = calloc(cfg->n_nics + 1, sizeof(*op->nics));
	if (!op->disks || !op->nics)
		oom = true;
	for (size_t i = 0; !oom && i < cfg->n_disks; i++, op->n_disks++) {
		edera_disk_config_init(&op->disks[i]);
		op->disks[i].path = ed_strdup_opt(cfg->disks[i]->path, &oom);
		op->disks[i].vdev = ed_strdup_opt(cfg->disks[i]->vdev, &oom);
		op->disks[i].readonly = cfg->disks[i]->readonly;
	}
	for (size_t i = 0; !oom && i < cfg->n_nics; i++, op->n_nics++) {
		edera_nic_config_init(&op->nics[i]);
		op->nics[i].bridge = ed_strdup_opt(cfg->nics[i]->bridge, &oom);
		op->nics[i].mac = ed_strdup_opt(cfg->nics[i]->mac, &oom);
		op->nics[i].mtu = cfg->nics[i]->mtu;
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_dns; i++)
		rc = strv_add(&op->dns, cfg->dns[i]);
	for (size_t i = 0; rc == 0 && i < p->n_args; i++)
		rc = strv_add(&op->args, p->args[i]);
	for (size_t i = 0; rc == 0 && i < p->n_env; i++)
		rc = strv_add(&op->env, p->env[i]);
	return oom || rc < 0 ? ed_error(EDERA_ENOMEM, "out of memory") : 0;
}

/* A caller's sized struct as ours: what it has, the rest zero (an older
 * caller's lacks the newer fields). */
#define SIZED_COPY(dst, src)                                                                   \
	do {                                                                                   \
		memset((dst), 0, sizeof(*(dst)));                                              \
		memcpy((dst), (src), (src)->sz < sizeof(*(dst)) ? (src)->sz : sizeof(*(dst))); \
		(dst)->sz = sizeof(*(dst));                                                    \
	} while (0)

int edera_workload_run(edera_ctx *ctx, const edera_workload_config *user_cfg,
                       edera_workload_run_cb cb, void *data)
{
	edera_workload_config c;
	edera_process_config pc;
	const edera_workload_config *cfg = &c;
	struct run_op *op;
	int rc;

	if (!ctx || !user_cfg)
		return ed_error(EDERA_EINVAL, "edera_workload_run: ctx or cfg is NULL");
	if ((rc = ed_sized_check(user_cfg, user_cfg->sz, sizeof(c), "edera_workload_config")) < 0)
		return rc;
	if (!ED_SIZED_HAS(user_cfg, process) || !user_cfg->process)
		return ed_error(EDERA_EINVAL, "edera_workload_config: process is required");
	if ((rc = ed_sized_check(user_cfg->process, user_cfg->process->sz, sizeof(pc),
	                         "edera_process_config")) < 0)
		return rc;
	SIZED_COPY(&c, user_cfg);
	SIZED_COPY(&pc, user_cfg->process);
	c.process = &pc;
	if ((rc = check_config(ctx, cfg)) < 0)
		return rc;
	if (!(op = calloc(1, sizeof(*op))))
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->packed.cache = op->packed.lock = -1;
	op->ctx = ctx;
	op->cb = cb;
	op->data = data;
	op->on_progress = cfg->on_progress;
	op->progress_data = cfg->progress_data;
	ed_trace("workload: run");
	if ((rc = copy_config(op, cfg)) < 0 || (rc = progress_start(op)) < 0 ||
	    (rc = ed_offload(ctx, prepare_work, prepare_after, op)) < 0) {
		progress_end(op);
		op_free(op);
		return rc;
	}
	return 0;
}

int edera_workload_spare(edera_ctx *ctx, const edera_workload_config *user_cfg,
                         edera_zone_done_cb cb, void *data)
{
	edera_workload_config c;
	edera_process_config pc;
	struct run_op *op;
	char name[32];
	uint8_t rnd[16];
	char uuid[37];
	int rc;

	if (!ctx || !user_cfg)
		return ed_error(EDERA_EINVAL, "edera_workload_spare: ctx or cfg is NULL");
	if ((rc = ed_sized_check(user_cfg, user_cfg->sz, sizeof(c), "edera_workload_config")) < 0)
		return rc;
	SIZED_COPY(&c, user_cfg);
	edera_process_config_init(&pc);
	c.process = &pc;
	c.image = c.image_name = c.rootfs = NULL;
	c.n_disks = c.n_nics = c.n_dns = 0;
	c.address = c.gateway = NULL;
	if (!c.name) {
		ed_uuid_new(rnd, uuid);
		snprintf(name, sizeof(name), "edera-spare-%.8s", uuid);
		c.name = name;
	}
	if (!*c.name)
		return ed_error(EDERA_EINVAL, "edera_workload_spare: the name is empty");
	if (edera_zone_lookup(ctx, c.name))
		return ed_error(EDERA_EEXIST, "a zone named '%s' exists", c.name);
	if (!(op = calloc(1, sizeof(*op))))
		return ed_error(EDERA_ENOMEM, "out of memory");
	op->packed.cache = op->packed.lock = -1;
	op->ctx = ctx;
	op->spare = true;
	op->spare_cb = cb;
	op->data = data;
	ed_trace("workload: a spare zone");
	if ((rc = copy_config(op, &c)) < 0 ||
	    (rc = ed_offload(ctx, prepare_work, prepare_after, op)) < 0) {
		op_free(op);
		return rc;
	}
	return 0;
}

struct sync_spare {
	struct ed_sync s; /* first */
	edera_zone *zone;
};

static void sync_spared(edera_ctx *ctx, int status, edera_zone *zone, void *data)
{
	struct sync_spare *s = data;

	(void)ctx;
	s->zone = zone;
	ed_sync_finish(&s->s, status);
}

int edera_workload_spare_sync(edera_ctx *ctx, const edera_workload_config *cfg,
                              edera_zone **out)
{
	struct sync_spare s;
	int rc = ed_ctx_check_blocking(ctx, "edera_workload_spare_sync");

	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	rc = ed_sync_wait(ctx, edera_workload_spare(ctx, cfg, sync_spared, &s), &s.s);
	if (out)
		*out = rc < 0 ? NULL : s.zone;
	return rc;
}

struct sync_run {
	struct ed_sync s; /* first */
	edera_workload *wl;
	edera_process *proc;
};

static void sync_ran(edera_ctx *ctx, int status, edera_workload *wl, edera_process *proc,
                     void *data)
{
	struct sync_run *s = data;

	(void)ctx;
	s->wl = wl;
	s->proc = proc;
	ed_sync_finish(&s->s, status);
}

int edera_workload_run_sync(edera_ctx *ctx, const edera_workload_config *cfg,
                            edera_workload **wl, edera_process **proc)
{
	struct sync_run s;
	int rc;

	if (!ctx)
		return ed_error(EDERA_EINVAL, "edera_workload_run_sync: ctx is NULL");
	if ((rc = ed_ctx_check_blocking(ctx, "edera_workload_run_sync")) < 0)
		return rc;
	if (!wl)
		return ed_error(EDERA_EINVAL, "edera_workload_run_sync: wl is NULL");
	*wl = NULL;
	if (proc)
		*proc = NULL;
	memset(&s, 0, sizeof(s));
	rc = ed_sync_wait(ctx, edera_workload_run(ctx, cfg, sync_ran, &s), &s.s);
	if (rc < 0)
		return rc;
	*wl = s.wl;
	if (proc)
		*proc = s.proc;
	return 0;
}

edera_zone *edera_workload_zone(const edera_workload *wl)
{
	return wl ? wl->zone : NULL;
}

edera_process *edera_workload_process(const edera_workload *wl)
{
	return wl ? proc_by_id((edera_workload *)wl, 0) : NULL;
}

/* ---- exec and what is sent to a process ---- */

int edera_workload_exec(edera_workload *wl, const edera_process_config *user_cfg,
                        edera_process **out)
{
	const edera_process_config *cfg;
	struct strv args = {0}, env = {0};
	struct req r = {0};
	edera_process *p0, *p;
	int rc;

	edera_process_config c;

	if (!wl || !out)
		return ed_error(EDERA_EINVAL, "edera_workload_exec: wl or out is NULL");
	*out = NULL;
	if ((rc = check_process(user_cfg, true)) < 0)
		return rc;
	SIZED_COPY(&c, user_cfg);
	cfg = &c;
	p0 = edera_workload_process(wl);
	if (wl->run || !p0 || p0->ended || !wl->ch)
		return ed_error(EDERA_EINVAL, "edera_workload_exec: zone '%s' runs no workload now",
		                edera_zone_name(wl->zone));
	for (size_t i = 0; rc == 0 && i < cfg->n_args; i++)
		rc = strv_add(&args, cfg->args[i]);
	for (size_t i = 0; rc == 0 && i < cfg->n_env; i++)
		rc = strv_add(&env, cfg->env[i]);
	p = rc == 0 ? proc_new(wl, wl->next_id, cfg) : NULL;
	if (p) {
		req_process(&r, wl->next_id, &args, &env, cfg->cwd ? cfg->cwd : wl->cwd,
		            cfg->user ? cfg->user : wl->user, cfg->terminal, cfg->rows, cfg->cols,
		            cfg->rlimits, cfg->n_rlimits);
		rc = req_send(wl, ED_WL_EXEC, &r);
	} else {
		rc = ed_error(EDERA_ENOMEM, "out of memory");
	}
	strv_free(&args);
	strv_free(&env);
	if (rc < 0) {
		if (p) {
			ed_list_remove(&wl->procs, &p->link);
			free(p);
		}
		return rc;
	}
	wl->next_id++;
	*out = p;
	return 0;
}

/* A frame to process P: ID then LEN bytes of B. */
static int to_proc(edera_process *p, uint32_t type, const void *b, size_t len, const char *what)
{
	uint8_t buf[4 + STDIN_CHUNK];
	int rc;

	if (!p)
		return ed_error(EDERA_EINVAL, "%s: proc is NULL", what);
	if (p->ended || !p->wl->ch)
		return ed_error(EDERA_EINVAL, "%s: process %u of zone '%s' has ended", what, p->id,
		                edera_zone_name(p->wl->zone));
	memcpy(buf, &p->id, 4);
	if (len)
		memcpy(buf + 4, b, len);
	rc = edera_channel_send(p->wl->ch, type, buf, 4 + len);
	if (rc == EDERA_EAGAIN)
		p->want_writable = true;
	return rc;
}

int edera_process_write(edera_process *proc, const void *buf, size_t len)
{
	int rc;

	if (!buf || len == 0)
		return ed_error(EDERA_EINVAL, "edera_process_write: nothing to write");
	if (proc && proc->stdin_shut)
		return ed_error(EDERA_EINVAL, "edera_process_write: its stdin was closed");
	if (len > STDIN_CHUNK)
		len = STDIN_CHUNK;
	if (proc && !proc->ended && proc->in_flight >= ED_WL_STDIN_WINDOW) {
		/* the zone has not taken what was sent: wait for its ACK */
		proc->want_writable = true;
		return EDERA_EAGAIN;
	}
	if (proc && len > ED_WL_STDIN_WINDOW - proc->in_flight)
		len = ED_WL_STDIN_WINDOW - proc->in_flight;
	rc = to_proc(proc, ED_WL_STDIN, buf, len, "edera_process_write");
	if (rc < 0)
		return rc;
	proc->in_flight += (uint32_t)len;
	return (int)len;
}

int edera_process_close_stdin(edera_process *proc)
{
	int rc;

	if (proc && proc->stdin_shut)
		return 0;
	rc = to_proc(proc, ED_WL_STDIN, NULL, 0, "edera_process_close_stdin");
	if (rc == 0)
		proc->stdin_shut = true;
	return rc;
}

int edera_process_kill(edera_process *proc, int sig)
{
	uint32_t v = (uint32_t)sig;

	if (sig < 1 || sig > 64)
		return ed_error(EDERA_EINVAL, "edera_process_kill: %d is not a signal (1 to 64)", sig);
	return to_proc(proc, ED_WL_SIGNAL, &v, sizeof(v), "edera_process_kill");
}

int edera_process_resize(edera_process *proc, uint16_t rows, uint16_t cols)
{
	uint16_t v[2] = {rows, cols};

	if (rows == 0 || cols == 0)
		return ed_error(EDERA_EINVAL, "edera_process_resize: %ux%u is no size", rows, cols);
	return to_proc(proc, ED_WL_RESIZE, v, sizeof(v), "edera_process_resize");
}

uint32_t edera_process_pid(const edera_process *proc)
{
	return proc ? proc->pid : 0;
}

edera_workload *edera_process_workload(const edera_process *proc)
{
	return proc ? proc->wl : NULL;
}

int edera_workload_hold(edera_workload *wl, int hold)
{
	if (!wl)
		return ed_error(EDERA_EINVAL, "edera_workload_hold: WL is NULL");
	return wl->ch ? edera_channel_hold(wl->ch, hold) : 0;
}

/* ---- the image cache ---- */

int edera_images_list(const char *cache_dir, edera_image_info **out, size_t *n)
{
	struct ed_oci_entry *e = NULL;
	size_t count = 0;
	int rc;

	if (!out || !n)
		return ed_error(EDERA_EINVAL, "edera_images_list: out or n is NULL");
	*out = NULL;
	*n = 0;
	if ((rc = ed_oci_list(ed_cache_dir(cache_dir), &e, &count)) < 0)
		return rc;
	if (count) {
		*out = calloc(count, sizeof(**out));
		if (!*out) {
			ed_oci_list_free(e, count);
			return ed_error(EDERA_ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < count; i++) {
		edera_image_info *im = &(*out)[i];

		im->sz = sizeof(*im);
		snprintf(im->digest, sizeof(im->digest), "%s", e[i].digest);
		snprintf(im->name, sizeof(im->name), "%s", e[i].name ? e[i].name : "");
		im->size = e[i].size;
		im->last_used = (int64_t)e[i].last_used.tv_sec;
	}
	*n = count;
	ed_oci_list_free(e, count);
	return 0;
}

int edera_images_prune(const char *cache_dir, uint64_t keep_mib, size_t *removed,
                       uint64_t *freed)
{
	if (keep_mib > (UINT64_MAX >> 20))
		return ed_error(EDERA_EINVAL, "edera_images_prune: %llu MiB is too many",
		                (unsigned long long)keep_mib);
	return ed_oci_prune(ed_cache_dir(cache_dir), keep_mib << 20, removed, freed);
}

/* ---- the zone part: the workload goes with its zone handle ---- */

static void wl_closed(uv_handle_t *h)
{
	free(h->data);
}

static void wl_zone_free(edera_zone *z)
{
	edera_workload *wl = z->workload;

	if (!wl)
		return;
	z->workload = NULL;
	if (wl->run) {
		/* the zone went during the run (the context closed): no zone to
		 * undo */
		struct run_op *op = wl->run;

		wl->run = NULL;
		op->wl = NULL;
		ed_error_save_code(&op->err, ed_error(EDERA_ECANCELED,
		                                      "zone '%s' was freed while its workload started",
		                                      edera_zone_name(z)));
		run_done(op, EDERA_ECANCELED);
	}
	if (wl->ch)
		edera_channel_close(wl->ch);
	wl->ch = NULL;
	ED_LIST_EACH_SAFE(p, nx, &wl->procs, edera_process, link)
	{
		ed_list_remove(&wl->procs, &p->link);
		free(p);
	}
	free(wl->cwd);
	free(wl->user);
	uv_timer_stop(&wl->timer);
	uv_close((uv_handle_t *)&wl->timer, wl_closed);
}

const struct ed_zone_part ed_workload_part = {
        .name = "workload",
        .free = wl_zone_free,
};
