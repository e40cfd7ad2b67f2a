/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The C half of the Go bindings: see shim.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "shim.h"
#include "_cgo_export.h"

struct edgo_loop {
	uv_loop_t loop;
	uv_async_t wake;
	uintptr_t h;
	edgo_err err;
};

/* Copy the thread's last error when RC is a failure; return RC. */
static long fail(edgo_err *e, long rc)
{
	if (rc < 0 && e) {
		e->code = (int)rc;
		if (edera_last_error_code() == (int)rc)
			snprintf(e->msg, sizeof(e->msg), "%s", edera_last_error());
		else
			e->msg[0] = '\0'; /* the last error is about another failure */
	}
	return rc;
}

/* The message of a failure reported to a callback (status < 0), else "". */
static char *cb_msg(int status)
{
	return (char *)(status < 0 && edera_last_error_code() == status ? edera_last_error() : "");
}

static void on_wake(uv_async_t *a)
{
	goDrain(((edgo_loop *)a->data)->h);
}

int edgo_open(edgo_loop **out, edera_ctx **ctx, uintptr_t h, edgo_err *e)
{
	edera_ctx_options opts;
	edgo_loop *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	*ctx = NULL;
	if (!l) {
		e->code = EDERA_ENOMEM;
		snprintf(e->msg, sizeof(e->msg), "out of memory");
		return EDERA_ENOMEM;
	}
	rc = uv_loop_init(&l->loop);
	if (rc == 0) {
		rc = uv_async_init(&l->loop, &l->wake, on_wake);
		if (rc != 0)
			uv_loop_close(&l->loop);
	}
	if (rc != 0) {
		e->code = EDERA_EIO;
		snprintf(e->msg, sizeof(e->msg), "cannot start the loop: %s", uv_strerror(rc));
		free(l);
		return EDERA_EIO;
	}
	l->wake.data = l;
	l->h = h;
	edera_ctx_options_init(&opts);
	opts.loop = &l->loop;
	rc = (int)fail(e, edera_ctx_open(ctx, &opts));
	if (rc < 0) {
		uv_close((uv_handle_t *)&l->wake, NULL);
		uv_run(&l->loop, UV_RUN_DEFAULT);
		uv_loop_close(&l->loop);
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void edgo_run(edgo_loop *l)
{
	uv_run(&l->loop, UV_RUN_DEFAULT);
}

void edgo_wake(edgo_loop *l)
{
	uv_async_send(&l->wake);
}

void edgo_stop(edgo_loop *l)
{
	uv_stop(&l->loop);
}

void edgo_close(edgo_loop *l, edera_ctx *ctx)
{
	uv_close((uv_handle_t *)&l->wake, NULL);
	edera_ctx_close(ctx);
	/* the context's handles and threadpool work still to finish */
	while (uv_run(&l->loop, UV_RUN_DEFAULT) != 0)
		;
	uv_loop_close(&l->loop);
	free(l);
}

edgo_err *edgo_loop_err(edgo_loop *l)
{
	return &l->err;
}

/* ---- trampolines: the library's callbacks to the exported Go functions ---- */

static void t_host(edera_ctx *c, int st, const edera_host_info *info, void *d)
{
	(void)c;
	goHostInfo((uintptr_t)d, st, cb_msg(st), (edera_host_info *)info);
}

static void t_done(edera_ctx *c, int st, void *d)
{
	(void)c;
	goDone((uintptr_t)d, st, cb_msg(st));
}

static void t_value(edera_ctx *c, int st, const char *v, size_t len, void *d)
{
	(void)c;
	goValue((uintptr_t)d, st, cb_msg(st), (char *)v, len);
}

static void t_list(edera_ctx *c, int st, const char *const *names, size_t n, void *d)
{
	(void)c;
	goList((uintptr_t)d, st, cb_msg(st), (char **)names, n);
}

static void t_perms(edera_ctx *c, int st, const edera_xs_perm *p, size_t n, void *d)
{
	(void)c;
	goPerms((uintptr_t)d, st, cb_msg(st), (edera_xs_perm *)p, n);
}

static void t_watch(edera_ctx *c, int st, const char *path, void *d)
{
	(void)c;
	goWatch((uintptr_t)d, st, cb_msg(st), (char *)path);
}

static void t_txn_body(edera_ctx *c, edera_xs_txn *t, void *d)
{
	(void)c;
	goTxnBody((uintptr_t)d, t, edera_xs_txn_attempt(t));
}

static void t_txn_done(edera_ctx *c, int st, void *d)
{
	(void)c;
	goTxnDone((uintptr_t)d, st, cb_msg(st));
}

static void t_created(edera_ctx *c, int st, edera_zone *z, void *d)
{
	(void)c;
	goZoneCreated((uintptr_t)d, st, cb_msg(st), z);
}

static void t_exit(edera_ctx *c, edera_zone *z, int reason, void *d)
{
	(void)c;
	(void)z;
	goZoneExit((uintptr_t)d, reason);
}

static void t_zone_done(edera_ctx *c, int st, edera_zone *z, void *d)
{
	(void)c;
	(void)z;
	goDone((uintptr_t)d, st, cb_msg(st));
}

static void t_reattach(edera_ctx *c, int st, unsigned int a, unsigned int cl, void *d)
{
	(void)c;
	goReattached((uintptr_t)d, st, cb_msg(st), a, cl);
}

static void t_memory(edera_ctx *c, int st, edera_zone *z, uint64_t kib, void *d)
{
	(void)c;
	(void)z;
	goMemory((uintptr_t)d, st, cb_msg(st), kib);
}

static void t_output(edera_ctx *c, edera_zone *z, const char *b, size_t len, void *d)
{
	(void)c;
	(void)z;
	goConsoleOutput((uintptr_t)d, (char *)b, len);
}

static void t_writable(edera_ctx *c, edera_zone *z, void *d)
{
	(void)c;
	(void)z;
	goConsoleWritable((uintptr_t)d);
}

static void t_device(edera_ctx *c, int st, edera_device *dev, void *d)
{
	(void)c;
	goDevice((uintptr_t)d, st, cb_msg(st), dev);
}

static void t_evtchn(edera_ctx *c, edera_evtchn *ch, void *d)
{
	(void)c;
	(void)ch;
	goEvtchn((uintptr_t)d);
}

static void t_chan_frame(edera_ctx *c, edera_channel *ch, uint32_t type, const void *p,
                         size_t len, void *d)
{
	(void)c;
	(void)ch;
	goChanFrame((uintptr_t)d, type, (void *)p, len);
}

static void t_chan_end(edera_ctx *c, edera_channel *ch, int st, void *d)
{
	(void)c;
	(void)ch;
	goChanEnd((uintptr_t)d, st, cb_msg(st));
}

static void t_chan_writable(edera_ctx *c, edera_channel *ch, void *d)
{
	(void)c;
	(void)ch;
	goChanWritable((uintptr_t)d);
}

/* ---- calls ---- */

#define H(h) ((void *)(h))

int edgo_host_info(edera_ctx *ctx, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_host_info_query(ctx, t_host, H(h)));
}

int edgo_xs_read(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_read(ctx, t, path, t_value, H(h)));
}

int edgo_xs_write(edera_ctx *ctx, edera_xs_txn *t, const char *path, const void *v, size_t len,
                  uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_write(ctx, t, path, v, len, t_done, H(h)));
}

int edgo_xs_mkdir(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_mkdir(ctx, t, path, t_done, H(h)));
}

int edgo_xs_rm(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_rm(ctx, t, path, t_done, H(h)));
}

int edgo_xs_directory(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h,
                      edgo_err *e)
{
	return (int)fail(e, edera_xs_directory(ctx, t, path, t_list, H(h)));
}

int edgo_xs_get_perms(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h,
                      edgo_err *e)
{
	return (int)fail(e, edera_xs_get_perms(ctx, t, path, t_perms, H(h)));
}

int edgo_xs_set_perms(edera_ctx *ctx, edera_xs_txn *t, const char *path,
                      const edera_xs_perm *perms, size_t n, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_set_perms(ctx, t, path, perms, n, t_done, H(h)));
}

int edgo_xs_introduce(edera_ctx *ctx, uint32_t domid, uint64_t mfn, uint32_t evtchn,
                      uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_introduce(ctx, domid, mfn, evtchn, t_done, H(h)));
}

int edgo_xs_release(edera_ctx *ctx, uint32_t domid, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_release(ctx, domid, t_done, H(h)));
}

int edgo_xs_get_domain_path(edera_ctx *ctx, uint32_t domid, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_get_domain_path(ctx, domid, t_value, H(h)));
}

int edgo_xs_watch_add(edera_ctx *ctx, edera_xs_watch **out, const char *path, uintptr_t h,
                      edgo_err *e)
{
	return (int)fail(e, edera_xs_watch_add(ctx, out, path, t_watch, H(h)));
}

int edgo_xs_transaction(edera_ctx *ctx, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_xs_transaction(ctx, t_txn_body, t_txn_done, H(h)));
}

int edgo_xs_stats(edera_ctx *ctx, edera_xs_stats *st, edgo_err *e)
{
	edera_xs_stats_init(st);
	return (int)fail(e, edera_xs_stats_get(ctx, st));
}

int edgo_pool_set(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus, uint32_t shells,
                  edgo_err *e)
{
	edera_pool_config pc;

	edera_pool_config_init(&pc);
	pc.memory_mib = memory_mib;
	pc.vcpus = vcpus;
	pc.shells = shells;
	return (int)fail(e, edera_pool_set(ctx, &pc));
}

int edgo_pool_stats(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus, edera_pool_stats *st,
                    edgo_err *e)
{
	edera_pool_stats_init(st);
	return (int)fail(e, edera_pool_stats_get(ctx, memory_mib, vcpus, st));
}

int edgo_xs_reconnect(edera_ctx *ctx, edgo_err *e)
{
	return (int)fail(e, edera_xs_reconnect(ctx));
}

int edgo_zone_create(edera_ctx *ctx, const edera_zone_config *cfg, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_zone_create(ctx, cfg, t_created, H(h)));
}

void edgo_zone_on_exit(edera_zone *z, uintptr_t h)
{
	edera_zone_on_exit(z, t_exit, H(h));
}

int edgo_zone_shutdown(edera_zone *z, int reboot, unsigned int timeout_ms, uintptr_t h,
                       edgo_err *e)
{
	return (int)fail(e, edera_zone_shutdown(z, reboot, timeout_ms, t_zone_done, H(h)));
}

int edgo_zone_destroy(edera_zone *z, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_zone_destroy(z, t_zone_done, H(h)));
}

int edgo_zone_reattach(edera_ctx *ctx, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_zone_reattach(ctx, t_reattach, H(h)));
}

int edgo_zone_info(edera_zone *z, edera_zone_info *info, edgo_err *e)
{
	edera_zone_info_init(info);
	return (int)fail(e, edera_zone_info_get(z, info));
}

int edgo_zone_creating(edera_zone *z)
{
	edera_zone_info info;

	edera_zone_info_init(&info);
	return edera_zone_info_get(z, &info) == 0 && info.state == EDERA_ZONE_CREATING;
}

int edgo_zone_pause(edera_zone *z, int pause, edgo_err *e)
{
	return (int)fail(e, pause ? edera_zone_pause(z) : edera_zone_unpause(z));
}

int edgo_zone_set_memory(edera_zone *z, uint64_t mib, unsigned int timeout_ms, uintptr_t h,
                         edgo_err *e)
{
	return (int)fail(e, edera_zone_set_memory(z, mib, timeout_ms, t_memory, H(h)));
}

int edgo_zone_set_vcpus(edera_zone *z, uint32_t n, unsigned int timeout_ms, uintptr_t h,
                        edgo_err *e)
{
	return (int)fail(e, edera_zone_set_vcpus(z, n, timeout_ms, t_zone_done, H(h)));
}

int edgo_console_subscribe(edera_zone *z, unsigned int flags, uintptr_t h,
                           edera_console_sub **out, edgo_err *e)
{
	return (int)fail(e, edera_console_subscribe(z, flags, t_output, H(h), out));
}

int edgo_console_on_writable(edera_zone *z, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_console_on_writable(z, h ? t_writable : NULL, H(h)));
}

long edgo_console_write(edera_zone *z, const void *buf, size_t len, edgo_err *e)
{
	return fail(e, edera_console_write(z, buf, len));
}

long edgo_console_history(edera_zone *z, char *buf, size_t cap, edgo_err *e)
{
	return fail(e, edera_console_history(z, buf, cap));
}

int edgo_console_log(edera_zone *z, const char *path, edgo_err *e)
{
	return (int)fail(e, edera_console_log(z, path));
}

int edgo_console_stats(edera_zone *z, edera_console_stats *st, edgo_err *e)
{
	edera_console_stats_init(st);
	return (int)fail(e, edera_console_stats_get(z, st));
}

int edgo_attach_disk(edera_zone *z, const char *path, const char *vdev, int ro,
                     unsigned int timeout_ms, uintptr_t h, edgo_err *e)
{
	edera_disk_config cfg;

	edera_disk_config_init(&cfg);
	cfg.path = path;
	cfg.vdev = vdev;
	cfg.readonly = ro;
	return (int)fail(e, edera_zone_attach_disk(z, &cfg, timeout_ms, t_device, H(h)));
}

int edgo_attach_nic(edera_zone *z, const char *bridge, const char *mac, uint32_t mtu,
                    unsigned int timeout_ms, uintptr_t h, edgo_err *e)
{
	edera_nic_config cfg;

	edera_nic_config_init(&cfg);
	cfg.bridge = bridge;
	cfg.mac = mac;
	cfg.mtu = mtu;
	return (int)fail(e, edera_zone_attach_nic(z, &cfg, timeout_ms, t_device, H(h)));
}

int edgo_device_detach(edera_device *d, unsigned int timeout_ms, uintptr_t h, edgo_err *e)
{
	return (int)fail(e, edera_device_detach(d, timeout_ms, t_done, H(h)));
}

int edgo_device_detach_quiet(edera_device *d)
{
	return edera_device_detach(d, 0, NULL, NULL);
}

int edgo_share_pages(edera_zone *z, size_t n, int flags, edera_share **out, edgo_err *e)
{
	return (int)fail(e, edera_share_pages(z, n, flags, out));
}

int edgo_share_map(edera_zone *z, const uint32_t *refs, size_t n, int flags,
                   edera_share **out, edgo_err *e)
{
	return (int)fail(e, edera_share_map(z, refs, n, flags, out));
}

int edgo_evtchn_alloc(edera_zone *z, uintptr_t h, edera_evtchn **out, edgo_err *e)
{
	return (int)fail(e, edera_evtchn_alloc_unbound(z, t_evtchn, H(h), out));
}

int edgo_evtchn_bind(edera_zone *z, uint32_t port, uintptr_t h, edera_evtchn **out,
                     edgo_err *e)
{
	return (int)fail(e, edera_evtchn_bind(z, port, t_evtchn, H(h), out));
}

int edgo_evtchn_notify(edera_evtchn *ch, edgo_err *e)
{
	return (int)fail(e, edera_evtchn_notify(ch));
}

int edgo_channel_open(edera_zone *z, const char *name, uint32_t pages, uint32_t queue_kib,
                      uintptr_t h, edera_channel **out, edgo_err *e)
{
	edera_channel_config cfg;

	edera_channel_config_init(&cfg);
	cfg.name = name;
	cfg.ring_pages = pages;
	cfg.queue_kib = queue_kib;
	cfg.on_frame = t_chan_frame;
	cfg.on_end = t_chan_end;
	cfg.on_writable = t_chan_writable;
	cfg.data = H(h);
	return (int)fail(e, edera_channel_open(z, &cfg, out));
}

int edgo_channel_send(edera_channel *ch, uint32_t type, const void *p, size_t len, edgo_err *e)
{
	return (int)fail(e, edera_channel_send(ch, type, p, len));
}

int edgo_channel_stats(edera_channel *ch, edera_channel_stats *st, edgo_err *e)
{
	edera_channel_stats_init(st);
	return (int)fail(e, edera_channel_stats_get(ch, st));
}

/* ---- workloads ---- */

static void t_proc_output(edera_ctx *c, edera_process *p, int fd, const void *b, size_t len,
                          void *d)
{
	(void)c;
	(void)p;
	goProcOutput((uintptr_t)d, fd, (void *)b, len);
}

static void t_proc_exit(edera_ctx *c, edera_process *p, int st, int code, int sig, void *d)
{
	(void)c;
	(void)p;
	goProcExit((uintptr_t)d, st, cb_msg(st), code, sig);
}

static void t_proc_writable(edera_ctx *c, edera_process *p, void *d)
{
	(void)c;
	(void)p;
	goProcWritable((uintptr_t)d);
}

static void t_wl_run(edera_ctx *c, int st, edera_workload *wl, edera_process *p, void *d)
{
	(void)c;
	goWorkloadRun((uintptr_t)d, st, cb_msg(st), wl, p);
}

static void t_wl_progress(edera_ctx *c, const edera_workload_progress *p, void *d)
{
	(void)c;
	goWorkloadProgress((uintptr_t)d, (char *)p->step, p->layer, p->layers, p->done, p->total);
}

static void proc_callbacks(edera_process_config *pc, uintptr_t ph)
{
	pc->on_output = t_proc_output;
	pc->on_exit = t_proc_exit;
	pc->on_writable = t_proc_writable;
	pc->data = H(ph);
}

int edgo_workload_run(edera_ctx *ctx, edera_workload_config *cfg, edera_process_config *pc,
                      uintptr_t h, uintptr_t ph, int progress, edgo_err *e)
{
	proc_callbacks(pc, ph);
	cfg->process = pc;
	if (progress) {
		cfg->on_progress = t_wl_progress;
		cfg->progress_data = H(h);
	}
	return (int)fail(e, edera_workload_run(ctx, cfg, t_wl_run, H(h)));
}

int edgo_workload_exec(edera_workload *wl, edera_process_config *pc, uintptr_t ph,
                       edera_process **out, edgo_err *e)
{
	proc_callbacks(pc, ph);
	return (int)fail(e, edera_workload_exec(wl, pc, out));
}

int edgo_workload_spare(edera_ctx *ctx, const edera_workload_config *cfg, uintptr_t h,
                        edgo_err *e)
{
	return (int)fail(e, edera_workload_spare(ctx, cfg, t_created, H(h)));
}

int edgo_workload_hold(edera_workload *wl, int hold, edgo_err *e)
{
	return (int)fail(e, edera_workload_hold(wl, hold));
}

int edgo_process_write(edera_process *p, const void *buf, size_t len, edgo_err *e)
{
	return (int)fail(e, edera_process_write(p, buf, len));
}

int edgo_process_close_stdin(edera_process *p, edgo_err *e)
{
	return (int)fail(e, edera_process_close_stdin(p));
}

int edgo_process_kill(edera_process *p, int sig, edgo_err *e)
{
	return (int)fail(e, edera_process_kill(p, sig));
}

int edgo_process_resize(edera_process *p, uint16_t rows, uint16_t cols, edgo_err *e)
{
	return (int)fail(e, edera_process_resize(p, rows, cols));
}

int edgo_images_list(const char *dir, edera_image_info **out, size_t *n, edgo_err *e)
{
	return (int)fail(e, edera_images_list(dir, out, n));
}

int edgo_images_prune(const char *dir, uint64_t keep_mib, size_t *removed, uint64_t *freed,
                      edgo_err *e)
{
	return (int)fail(e, edera_images_prune(dir, keep_mib, removed, freed));
}
