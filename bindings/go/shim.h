/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The C half of the Go bindings: the loop the context runs on, its wake-up
 * handle, and one small wrapper per asynchronous call.  The wrappers take
 * the callback's data as a uintptr_t (a runtime/cgo.Handle: C never holds a
 * Go pointer) and copy the thread's last error into EDGO_ERR in the same C
 * call that failed; the trampolines hand the library's callbacks to the
 * exported Go functions (callbacks.go) with the last error read in the
 * callback itself.  Everything here runs on the loop thread except
 * edgo_wake.
 */
#ifndef EDGO_SHIM_H
#define EDGO_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <edera/edera.h>

/* A failure's code and message, copied from edera_last_error(). */
typedef struct edgo_err {
	int code;
	char msg[1024];
} edgo_err;

typedef struct edgo_loop edgo_loop;

/* Make the loop and open the context on it (on the thread that will run
 * it).  H is the context's handle, passed to goDrain on every wake-up. */
int edgo_open(edgo_loop **out, edera_ctx **ctx, uintptr_t h, edgo_err *err);
/* Run the loop until edgo_stop. */
void edgo_run(edgo_loop *l);
/* Wake the loop (any thread): goDrain runs on it soon. */
void edgo_wake(edgo_loop *l);
/* Make edgo_run return (from the loop thread). */
void edgo_stop(edgo_loop *l);
/* Close the context, finish what it still runs, free the loop. */
void edgo_close(edgo_loop *l, edera_ctx *ctx);
edgo_err *edgo_loop_err(edgo_loop *l);

/* ---- calls: each returns the library's code, copying the error into E ---- */
int edgo_host_info(edera_ctx *ctx, uintptr_t h, edgo_err *e);

int edgo_xs_read(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h, edgo_err *e);
int edgo_xs_write(edera_ctx *ctx, edera_xs_txn *t, const char *path, const void *v, size_t len,
                  uintptr_t h, edgo_err *e);
int edgo_xs_mkdir(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h, edgo_err *e);
int edgo_xs_rm(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h, edgo_err *e);
int edgo_xs_directory(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h,
                      edgo_err *e);
int edgo_xs_get_perms(edera_ctx *ctx, edera_xs_txn *t, const char *path, uintptr_t h,
                      edgo_err *e);
int edgo_xs_set_perms(edera_ctx *ctx, edera_xs_txn *t, const char *path,
                      const edera_xs_perm *perms, size_t n, uintptr_t h, edgo_err *e);
int edgo_xs_introduce(edera_ctx *ctx, uint32_t domid, uint64_t mfn, uint32_t evtchn,
                      uintptr_t h, edgo_err *e);
int edgo_xs_release(edera_ctx *ctx, uint32_t domid, uintptr_t h, edgo_err *e);
int edgo_xs_get_domain_path(edera_ctx *ctx, uint32_t domid, uintptr_t h, edgo_err *e);
int edgo_xs_watch_add(edera_ctx *ctx, edera_xs_watch **out, const char *path, uintptr_t h,
                      edgo_err *e);
int edgo_xs_transaction(edera_ctx *ctx, uintptr_t h, edgo_err *e);
int edgo_xs_stats(edera_ctx *ctx, edera_xs_stats *st, edgo_err *e);
int edgo_pool_set(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus, uint32_t shells,
                  edgo_err *e);
int edgo_pool_stats(edera_ctx *ctx, uint32_t memory_mib, uint32_t vcpus, edera_pool_stats *st,
                    edgo_err *e);
int edgo_xs_reconnect(edera_ctx *ctx, edgo_err *e);

int edgo_zone_create(edera_ctx *ctx, const edera_zone_config *cfg, uintptr_t h, edgo_err *e);
void edgo_zone_on_exit(edera_zone *z, uintptr_t h);
int edgo_zone_shutdown(edera_zone *z, int reboot, unsigned int timeout_ms, uintptr_t h,
                       edgo_err *e);
int edgo_zone_destroy(edera_zone *z, uintptr_t h, edgo_err *e);
int edgo_zone_reattach(edera_ctx *ctx, uintptr_t h, edgo_err *e);
int edgo_zone_info(edera_zone *z, edera_zone_info *info, edgo_err *e);
/* 1 while the zone is being created. */
int edgo_zone_creating(edera_zone *z);
int edgo_zone_pause(edera_zone *z, int pause, edgo_err *e);
int edgo_zone_set_memory(edera_zone *z, uint64_t mib, unsigned int timeout_ms, uintptr_t h,
                         edgo_err *e);
int edgo_zone_set_vcpus(edera_zone *z, uint32_t n, unsigned int timeout_ms, uintptr_t h,
                        edgo_err *e);

int edgo_console_subscribe(edera_zone *z, unsigned int flags, uintptr_t h,
                           edera_console_sub **out, edgo_err *e);
int edgo_console_on_writable(edera_zone *z, uintptr_t h, edgo_err *e);
long edgo_console_write(edera_zone *z, const void *buf, size_t len, edgo_err *e);
long edgo_console_history(edera_zone *z, char *buf, size_t cap, edgo_err *e);
int edgo_console_log(edera_zone *z, const char *path, edgo_err *e);
int edgo_console_stats(edera_zone *z, edera_console_stats *st, edgo_err *e);

int edgo_attach_disk(edera_zone *z, const char *path, const char *vdev, int ro,
                     unsigned int timeout_ms, uintptr_t h, edgo_err *e);
int edgo_attach_nic(edera_zone *z, const char *bridge, const char *mac, uint32_t mtu,
                    unsigned int timeout_ms, uintptr_t h, edgo_err *e);
int edgo_device_detach(edera_device *d, unsigned int timeout_ms, uintptr_t h, edgo_err *e);
int edgo_device_detach_quiet(edera_device *d);

int edgo_share_pages(edera_zone *z, size_t n, int flags, edera_share **out, edgo_err *e);
int edgo_share_map(edera_zone *z, const uint32_t *refs, size_t n, int flags,
                   edera_share **out, edgo_err *e);
int edgo_evtchn_alloc(edera_zone *z, uintptr_t h, edera_evtchn **out, edgo_err *e);
int edgo_evtchn_bind(edera_zone *z, uint32_t port, uintptr_t h, edera_evtchn **out,
                     edgo_err *e);
int edgo_evtchn_notify(edera_evtchn *ch, edgo_err *e);

int edgo_channel_open(edera_zone *z, const char *name, uint32_t pages, uint32_t queue_kib,
                      uintptr_t h, edera_channel **out, edgo_err *e);
int edgo_channel_send(edera_channel *ch, uint32_t type, const void *p, size_t len, edgo_err *e);
int edgo_channel_stats(edera_channel *ch, edera_channel_stats *st, edgo_err *e);

/* Workloads: the process config's callbacks go to the process of handle
 * PH; the run's (and the progress') to the run of handle H.  The config is
 * the caller's, filled but for those. */
int edgo_workload_run(edera_ctx *ctx, edera_workload_config *cfg, edera_process_config *pc,
                      uintptr_t h, uintptr_t ph, int progress, edgo_err *e);
int edgo_workload_exec(edera_workload *wl, edera_process_config *pc, uintptr_t ph,
                       edera_process **out, edgo_err *e);
int edgo_workload_hold(edera_workload *wl, int hold, edgo_err *e);
/* A spare zone booted: the callback as a creation's (goZoneCreated). */
int edgo_workload_spare(edera_ctx *ctx, const edera_workload_config *cfg, uintptr_t h,
                        edgo_err *e);
int edgo_process_write(edera_process *p, const void *buf, size_t len, edgo_err *e);
int edgo_process_close_stdin(edera_process *p, edgo_err *e);
int edgo_process_kill(edera_process *p, int sig, edgo_err *e);
int edgo_process_resize(edera_process *p, uint16_t rows, uint16_t cols, edgo_err *e);
int edgo_images_list(const char *dir, edera_image_info **out, size_t *n, edgo_err *e);
int edgo_images_prune(const char *dir, uint64_t keep_mib, size_t *removed, uint64_t *freed,
                      edgo_err *e);

/* An array of N C strings, for directory listings (names[i]). */
static inline const char *edgo_str_at(const char *const *names, size_t i)
{
	return names[i];
}

#endif
