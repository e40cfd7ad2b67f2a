/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Zones: a Xen PV domain with its own kernel, built by libedera itself (no
 * libxl, no libxenguest), with its XenStore subtree and console.
 *
 * A zone handle belongs to its context: it stays valid until
 * edera_zone_destroy() completes or the context closes.  The console is
 * served by the library itself (edera/console.h) unless the zone's
 * configuration hands it to xenconsoled.
 */
#ifndef EDERA_ZONE_H
#define EDERA_ZONE_H

#include <edera/common.h>
#include <edera/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edera_zone edera_zone;

typedef struct edera_zone_config {
	size_t sz;              /* set by edera_zone_config_init */
	const char *name;       /* unique among the context's zones; required */
	const char *kernel;     /* path of a bzImage or ELF PV kernel; required */
	const char *initrd;     /* path, or NULL */
	const char *cmdline;    /* or NULL */
	uint64_t memory_mib;    /* at boot (default 256) */
	uint64_t max_memory_mib; /* ceiling for ballooning up (default: memory_mib) */
	uint32_t vcpus;         /* online at boot (default 1; 0 means the default) */
	uint32_t max_vcpus;     /* default: vcpus */
	int start_paused;       /* non-zero: leave it paused (see edera_zone_unpause) */
	int console_mode;       /* edera_console_mode: EDERA_CONSOLE_LIBRARY (default) or
	                           EDERA_CONSOLE_XENCONSOLED */
	uint32_t console_history_kib; /* output kept for late subscribers (default 64,
	                                 at most 16384) */
	const char *console_log;      /* a file the output is appended to, or NULL */
	/* Devices attached at creation (edera/device.h): arrays of N_DISKS and
	 * N_NICS pointers.  Creation then completes once the guest's drivers
	 * have connected them all (within device_timeout_ms, default 60000),
	 * unless start_paused. */
	const struct edera_disk_config *const *disks;
	size_t n_disks;
	const struct edera_nic_config *const *nics;
	size_t n_nics;
	unsigned int device_timeout_ms;
	/* console_log rotates when it would grow past this (PATH -> PATH.1;
	 * default EDERA_CONSOLE_LOG_DEFAULT_KIB, 10 MiB): see edera_console_log */
	uint32_t console_log_max_kib;
} edera_zone_config;

/* Zero CFG and set its sz: the defaults, before the fields are filled. */
EDERA_API void edera_zone_config_init(edera_zone_config *cfg);

/* Why a zone stopped. */
enum edera_zone_exit {
	EDERA_ZONE_EXIT_POWEROFF = 0,
	EDERA_ZONE_EXIT_REBOOT = 1,
	EDERA_ZONE_EXIT_SUSPEND = 2,
	EDERA_ZONE_EXIT_CRASH = 3,
	EDERA_ZONE_EXIT_WATCHDOG = 4,
	EDERA_ZONE_EXIT_DESTROYED = 100 /* destroyed by someone else */
};

/* The zone stopped: REASON is an edera_zone_exit value.  The library has
 * already destroyed the domain and removed its XenStore nodes; the handle
 * stays valid until edera_zone_destroy() (which then only frees it). */
typedef void (*edera_zone_exit_cb)(edera_ctx *ctx, edera_zone *zone, int reason, void *data);

typedef void (*edera_zone_create_cb)(edera_ctx *ctx, int status, edera_zone *zone, void *data);

/*
 * Create a zone: build the domain on the threadpool, write its XenStore
 * skeleton (the roots first, then the other nodes at once over several
 * connections), introduce it to xenstored, and start it
 * unless cfg->start_paused.  CB gets the zone, or STATUS < 0 and NULL (then
 * nothing is left behind: no domain, no XenStore node, no event channel).
 * If the process dies meanwhile, edera_zone_reattach (in any process)
 * undoes what the creation had built.
 * A compressed kernel is decompressed once per context (kept while its
 * file is unchanged) and its ELF kept on disk for the next process, in
 * "kernels/" of $EDERA_CACHE_DIR or /var/cache/edera (named by the SHA-256
 * of the kernel file, at most 256 MiB, least recently used removed first;
 * used only when that directory is the process user's and writable by no
 * one else; a cache that cannot be used only costs the decompression).
 * Errors at once: EDERA_EINVAL (bad config: what and why in
 * edera_last_error), EDERA_EEXIST (name in use), EDERA_ENOMEM,
 * EDERA_EACCES or another (the creation's record could not be written in
 * /run/edera/creating: see edera_zone_reattach; the message says why).
 * Errors in CB: EDERA_ENOENT (kernel or initrd missing), EDERA_EINVAL
 * (not a usable PV kernel), EDERA_ENOMEM (not enough free memory), ...
 */
EDERA_API int edera_zone_create(edera_ctx *ctx, const edera_zone_config *cfg,
                                edera_zone_create_cb cb, void *data);
EDERA_API int edera_zone_create_sync(edera_ctx *ctx, const edera_zone_config *cfg,
                                     edera_zone **out);

/* Called once when the zone stops for any reason but edera_zone_destroy.
 * A zone that stopped before CB was set (even in the loop turn that
 * completed its creation) has CB called on the next loop turn. */
EDERA_API void edera_zone_on_exit(edera_zone *zone, edera_zone_exit_cb cb, void *data);

/*
 * Ask the zone's kernel to stop: writes control/shutdown ("poweroff", or
 * "reboot" if REBOOT), which a PV kernel watches.  CB runs with 0 once the
 * zone has stopped (its exit event runs too), or with EDERA_ETIMEDOUT after
 * TIMEOUT_MS if it has not (0: wait forever); the caller may then destroy
 * it.  One request at a time per zone (EDERA_EBUSY).  CB may be NULL.
 */
typedef void (*edera_zone_done_cb)(edera_ctx *ctx, int status, edera_zone *zone, void *data);
EDERA_API int edera_zone_shutdown(edera_zone *zone, int reboot, unsigned int timeout_ms,
                                  edera_zone_done_cb cb, void *data);
EDERA_API int edera_zone_shutdown_sync(edera_zone *zone, int reboot, unsigned int timeout_ms);

enum edera_zone_state {
	EDERA_ZONE_CREATING = 0,
	EDERA_ZONE_RUNNING = 1,
	EDERA_ZONE_PAUSED = 2,
	EDERA_ZONE_SHUTDOWN = 3, /* stopped, being cleaned up */
	EDERA_ZONE_EXITED = 4    /* gone; only the handle is left */
};

typedef struct edera_zone_info {
	size_t sz;               /* set by edera_zone_info_init */
	uint32_t domid;
	int state;               /* edera_zone_state */
	uint64_t memory_kib;     /* pages the domain holds now */
	uint64_t max_memory_kib; /* its ceiling */
	uint32_t vcpus_online;
	uint32_t max_vcpus;
	uint64_t cpu_time_ns;    /* all vCPUs together */
	uint64_t target_memory_kib; /* what the zone was last asked to hold
	                               (edera_zone_set_memory) */
	uint32_t vcpus_target;   /* vCPUs it was last asked to have online */
} edera_zone_info;

/* Zero INFO and set its sz, before edera_zone_info_get. */
EDERA_API void edera_zone_info_init(edera_zone_info *info);
/* Fill INFO from the hypervisor (fast).  Errors: EDERA_EINVAL. */
EDERA_API int edera_zone_info_get(edera_zone *zone, edera_zone_info *info);

/* Iterate the context's zones: PREV NULL gives the first; NULL at the end. */
EDERA_API edera_zone *edera_zone_next(edera_ctx *ctx, edera_zone *prev);
EDERA_API edera_zone *edera_zone_lookup_domid(edera_ctx *ctx, uint32_t domid);
EDERA_API edera_zone *edera_zone_lookup_uuid(edera_ctx *ctx, const char *uuid);

/* Let a paused zone run (one created with start_paused, or paused), or stop
 * its vCPUs from being scheduled; its state and memory stay.  Errors:
 * EDERA_EINVAL (no running zone: NULL, still being created, or stopped),
 * or what Xen reports. */
EDERA_API int edera_zone_unpause(edera_zone *zone);
EDERA_API int edera_zone_pause(edera_zone *zone);

/*
 * Destroy the domain (if still there), remove its XenStore nodes and free
 * the handle.  The destroy hypercall runs on the threadpool (it returns once
 * Xen has started releasing the memory).  CB (may be NULL) runs when the
 * domain and its nodes are gone; ZONE is still valid during CB and freed
 * right after.  On failure (EDERA_EPERM, EDERA_EIO, ...) the zone is kept
 * and may be destroyed again (when the domain went but its nodes could not
 * be removed, it is kept as exited: destroying it again frees it, and
 * edera_zone_reattach removes the nodes).  No exit event fires for a zone
 * destroyed this way.  Errors here: EDERA_EBUSY (still being created, or already being
 * destroyed).
 *
 * A zone that exited on its own is already destroyed and cleaned up; this
 * then only frees the handle (CB still runs, from the loop).
 *
 * If the context is closed meanwhile, CB runs with the hypercall's outcome
 * but the XenStore nodes may be left: edera_zone_reattach removes them.
 */
EDERA_API int edera_zone_destroy(edera_zone *zone, edera_zone_done_cb cb, void *data);
/* Blocking form; never call it from a callback. */
EDERA_API int edera_zone_destroy_sync(edera_zone *zone);

/*
 * Find the zones libedera left running on this host — after this process or
 * another using libedera exited without destroying them — by the marker
 * every zone carries in XenStore (/local/domain/N/edera), and take them over:
 *   - a zone whose domain is running or paused gets a handle in this context
 *     (found by edera_zone_next and the look-ups; set its exit callback);
 *   - a zone whose domain has stopped (shut down or crashed, with nobody to
 *     clean it up) is destroyed;
 *   - a marker whose domain is gone has its XenStore nodes removed;
 *   - a marker whose domain does not carry the marker's UUID as its Xen
 *     handle (the domid was reused by a domain that is not a zone) is
 *     removed, and that domain left alone;
 *   - a creation cut short by its process's death (killed, crashed) at any
 *     step is undone: its domain (found by its Xen handle, even before any
 *     XenStore node names it), its nodes and its devices' backends (their
 *     loop devices and interfaces go with them).  Every creation records
 *     itself, with its process, in a file of /run/edera/creating (root's
 *     only) before its domain exists and until it completes; a creation
 *     whose process still runs (found by its pid and start time, so
 *     processes must share the pid namespace, and /run) is under way and
 *     left alone, neither taken over nor undone.  The record goes before
 *     a creation's callback runs: a process that exits as soon as it has
 *     the zone leaves a zone to take over.  The records libedera 0.1 kept
 *     in XenStore (/local/domain/0/edera/creating) are read too.
 * Zones this context already has are left as they are.  A taken-over zone's
 * console is served by this context from then on (with an empty history),
 * unless another process still serves it: its console then stays
 * disconnected (edera_console_stats_get says so).  CB gets the number
 * of zones taken over and the number cleaned up (stopped zones, stale
 * markers and creations undone).  Errors: XenStore ones
 * (EDERA_ECONNRESET, EDERA_EACCES, ...), EDERA_ENOMEM.
 */
typedef void (*edera_zone_reattach_cb)(edera_ctx *ctx, int status, unsigned int attached,
                                       unsigned int cleaned, void *data);
EDERA_API int edera_zone_reattach(edera_ctx *ctx, edera_zone_reattach_cb cb, void *data);
/* Blocking form; ATTACHED and CLEANED may be NULL. */
EDERA_API int edera_zone_reattach_sync(edera_ctx *ctx, unsigned int *attached,
                                       unsigned int *cleaned);

/* ---- run-time resources -------------------------------------------------- */

/* The lowest memory target edera_zone_set_memory accepts: below it a Linux
 * kernel starts killing its own processes or stops answering. */
#define EDERA_ZONE_MEMORY_FLOOR_MIB 64
/* Default wait of edera_zone_set_memory and edera_zone_set_vcpus. */
#define EDERA_ZONE_RESIZE_TIMEOUT_MS 30000

/*
 * STATUS 0: the zone holds REACHED_KIB, within 1 MiB (or 1%, the larger) of
 * the target.  EDERA_ETIMEDOUT: it did not get there in time; REACHED_KIB
 * is what it holds then (the request stays: the guest may still get there
 * later).  EDERA_ECANCELED: a newer request replaced this one, or the
 * zone stopped (the callback then runs after the exit event) or was
 * destroyed, or the context closed.  Other errors (EDERA_ECONNRESET, ...):
 * writing the target failed.
 */
typedef void (*edera_zone_memory_cb)(edera_ctx *ctx, int status, edera_zone *zone,
                                     uint64_t reached_kib, void *data);

/*
 * Ask the zone to hold TARGET_MIB of memory: writes memory/target, which the
 * guest's balloon driver follows by giving pages back to Xen or taking more
 * (up to the zone's max_memory_mib, set at creation).  CB (may be NULL) runs
 * once Xen counts the zone's pages at the target (at two checks in a row,
 * 50 ms apart, or one at TIMEOUT_MS: a domain being destroyed passes through
 * any smaller count on its way to none), or after TIMEOUT_MS (0:
 * EDERA_ZONE_RESIZE_TIMEOUT_MS) with the size reached — a guest without a
 * balloon driver, or one that cannot give memory back, never leaves the
 * caller waiting longer.  A new request replaces a pending one (whose
 * callback runs with EDERA_ECANCELED).  Xen's own maximum for the domain
 * moves with the target, before the guest is asked (as xl mem-set does), and
 * a zone is created with it at memory_mib: a guest that ignores a smaller
 * target, or reaches it and grows back, or balloons up unasked, can never
 * hold more than its last target (plus 1 MiB Xen charges to it), so what it
 * gave back stays free for other zones.
 * Errors at once: EDERA_EINVAL (no running zone; target above the zone's
 * maximum or below EDERA_ZONE_MEMORY_FLOOR_MIB: the message says the
 * bounds), EDERA_ENOMEM (growing needs more than the host has free: the
 * message says how much is free), EDERA_ENOMEM (out of memory), XenStore
 * errors (EDERA_ENOTCONN, EDERA_ECONNRESET, ...), Xen's refusal of the new
 * maximum (EDERA_EPERM, EDERA_EINVAL, EDERA_EIO, with its reason).  If the
 * write of memory/target fails later (CB gets the error), the maximum goes
 * back to the previous target.
 */
EDERA_API int edera_zone_set_memory(edera_zone *zone, uint64_t target_mib,
                                    unsigned int timeout_ms, edera_zone_memory_cb cb,
                                    void *data);
/* Blocking form; REACHED_KIB (may be NULL) as in the callback. */
EDERA_API int edera_zone_set_memory_sync(edera_zone *zone, uint64_t target_mib,
                                         unsigned int timeout_ms, uint64_t *reached_kib);

/*
 * Bring vCPUs online or offline so that ONLINE of them run (1 to the
 * zone's max_vcpus): writes cpu/N/availability, which the guest's kernel
 * follows by starting or parking vCPUs.  CB (may be NULL) runs with 0 once
 * Xen counts ONLINE running vCPUs, with EDERA_ETIMEDOUT after TIMEOUT_MS (0:
 * EDERA_ZONE_RESIZE_TIMEOUT_MS) if it does not, with EDERA_ECANCELED if a
 * newer request replaced it, the zone stopped or was destroyed, or the
 * context closed, with a XenStore error if writing the nodes failed.  A
 * Linux guest takes a vCPU offline by itself, but only makes an added one
 * present: onlining it is userspace's job (a distribution's udev rule,
 * 40-vm-hotadd.rules in Debian); a guest without one times out growing.
 * Errors at once: EDERA_EINVAL (no running zone, ONLINE out of range),
 * EDERA_ENOMEM, XenStore errors (then some nodes may have been written: a
 * pending request ends with EDERA_ECANCELED).
 */
EDERA_API int edera_zone_set_vcpus(edera_zone *zone, uint32_t online, unsigned int timeout_ms,
                                   edera_zone_done_cb cb, void *data);
EDERA_API int edera_zone_set_vcpus_sync(edera_zone *zone, uint32_t online,
                                        unsigned int timeout_ms);

/* The zone's Xen domain id (0 for a NULL ZONE), and its name (valid while
 * the handle is). */
EDERA_API uint32_t edera_zone_domid(const edera_zone *zone);
EDERA_API const char *edera_zone_name(const edera_zone *zone);
/* The zone's UUID as a string (36 characters). */
EDERA_API const char *edera_zone_uuid(const edera_zone *zone);
/* Look a zone of this context up by name; NULL if none. */
EDERA_API edera_zone *edera_zone_lookup(edera_ctx *ctx, const char *name);

#ifdef __cplusplus
}
#endif

#endif
