/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Workloads: a container image run in a zone of its own.
 *
 * edera_workload_run converts a local OCI image (an OCI layout directory,
 * or an OCI or `docker save` archive) into a read-only erofs image, cached
 * by the image's config digest; packs edera-zone-init with the kernel
 * modules it needs into an initramfs (cached too); creates a zone with the
 * image as its disk xvda; and asks the init, over the channel
 * "edera-workload", to run the process: the image's Entrypoint and Cmd
 * unless args are given, its Env with env added, its WorkingDir and User
 * unless cwd and user are given.  The image is mounted read-only under a
 * tmpfs overlay: the workload may write anywhere, nothing reaches the
 * cached image.
 *
 * stdout and stderr arrive apart through on_output, stdin is written with
 * edera_process_write; signals with edera_process_kill.  When the workload
 * ends, whatever else runs in the zone is killed, on_exit reports the code
 * or signal (after the last output), and the zone powers off; its zone's
 * exit event follows.  edera_workload_exec runs one more process in the
 * zone while the workload runs (what `docker exec` does).
 *
 * A workload and its processes belong to its zone handle: they stay valid
 * until the zone handle is freed (edera_zone_destroy completes, or the
 * context closes).  To end a workload early, destroy its zone.
 *
 * Pulling from a registry is not the library's: `skopeo copy
 * docker://busybox oci:DIR:busybox` makes a layout it reads.
 */
#ifndef EDERA_WORKLOAD_H
#define EDERA_WORKLOAD_H

#include <edera/common.h>
#include <edera/ctx.h>
#include <edera/zone.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edera_workload edera_workload;
typedef struct edera_process edera_process;

/* Output of a process: FD 1 (stdout; a terminal's output too) or 2
 * (stderr), LEN bytes valid during the call; LEN 0 (BYTES NULL) is the
 * stream's end. */
typedef void (*edera_process_output_cb)(edera_ctx *ctx, edera_process *proc, int fd,
                                        const void *bytes, size_t len, void *data);
/*
 * The process ended.  STATUS 0: it exited with CODE (SIGNAL 0), or was
 * killed by SIGNAL (CODE -1).  STATUS < 0: it never ran or its end is
 * unknown, edera_last_error says why — the init refused it
 * (EDERA_ENOENT: no such command or directory in the image, EDERA_EINVAL:
 * unknown user, ...), or the zone stopped without a report
 * (EDERA_ENOTCONN).  Called once per process, the last call about it —
 * not at all when the zone handle goes first (edera_zone_destroy, the
 * context's close): the process is gone with it.
 */
typedef void (*edera_process_exit_cb)(edera_ctx *ctx, edera_process *proc, int status, int code,
                                      int signal, void *data);
/* edera_process_write refused with EDERA_EAGAIN earlier: there is room. */
typedef void (*edera_process_writable_cb)(edera_ctx *ctx, edera_process *proc, void *data);

/* A resource limit of a process, set in the zone before it runs. */
typedef struct edera_rlimit {
	int resource;  /* RLIMIT_NOFILE, RLIMIT_NPROC, ... (<sys/resource.h>) */
	uint64_t soft; /* RLIM_INFINITY: none */
	uint64_t hard; /* at least SOFT */
} edera_rlimit;

/* Limits one process may be given. */
#define EDERA_PROCESS_RLIMITS_MAX 16

typedef struct edera_process_config {
	size_t sz;                /* set by edera_process_config_init */
	const char *const *args;  /* N_ARGS: argv; none: the image's Entrypoint + Cmd */
	size_t n_args;
	const char *const *env;   /* N_ENV "NAME=value", over the image's Env */
	size_t n_env;
	const char *cwd;          /* NULL: the image's WorkingDir, or "/" */
	const char *user;         /* "user[:group]", names (from the image's /etc/passwd
	                             and /etc/group) or numbers; NULL: the image's User,
	                             or root */
	int terminal;             /* non-zero: on a terminal (output all on fd 1) */
	uint16_t rows, cols;      /* its size (default 24 x 80) */
	edera_process_output_cb on_output;     /* may be NULL: output dropped */
	edera_process_exit_cb on_exit;         /* may be NULL */
	edera_process_writable_cb on_writable; /* may be NULL */
	void *data;
	/* N_RLIMITS limits (at most EDERA_PROCESS_RLIMITS_MAX, one per
	 * resource); the others are the zone kernel's defaults */
	const edera_rlimit *rlimits;
	size_t n_rlimits;
} edera_process_config;

/* Zero CFG and set its sz: the defaults, before the fields are filled. */
EDERA_API void edera_process_config_init(edera_process_config *cfg);

/* Where the conversion of a workload's image stands (see on_progress). */
typedef struct edera_workload_progress {
	size_t sz;          /* sizeof(edera_workload_progress) */
	const char *step;   /* "reading" (an archive's layers copied out),
	                       "unpacking" (a layer), "packing" (the erofs image) */
	uint32_t layer;     /* while unpacking: which layer, from 1 */
	uint32_t layers;    /* how many the image has */
	uint64_t done;      /* while unpacking: the layer's compressed bytes read */
	uint64_t total;     /* ... of its size (0: unknown) */
} edera_workload_progress;

/* Called on the loop thread while a run converts its image (a first run of
 * a large image can take minutes): at each step, and while a layer is
 * unpacked, as its bytes are read (coalesced: the latest state when the
 * loop gets to it, so a state may be skipped; the last, "packing", always
 * arrives, before the run's callback).  Never for an image already in the
 * cache. */
typedef void (*edera_workload_progress_cb)(edera_ctx *ctx, const edera_workload_progress *p,
                                           void *data);

typedef struct edera_workload_config {
	size_t sz;                /* set by edera_workload_config_init */
	const char *name;         /* the zone's name; required */
	const char *image;        /* an OCI layout directory or archive; required
	                             unless rootfs is given */
	const char *image_name;   /* which image, when it holds several (a ref name or
	                             a docker tag); NULL: the only one */
	const char *cache_dir;    /* converted images and initramfs; NULL:
	                             $EDERA_CACHE_DIR, or /var/cache/edera */
	uint64_t cache_max_mib;   /* what one conversion may write (default 4096) */
	const char *kernel;       /* NULL: dom0's own, /boot/vmlinuz-$(uname -r) */
	const char *modules_dir;  /* the kernel's modules; NULL:
	                             /lib/modules/<the kernel's version> */
	const char *init;         /* edera-zone-init; NULL: $EDERA_ZONE_INIT, or the
	                             installed one */
	uint64_t memory_mib;      /* default 256 */
	uint32_t vcpus;           /* default 1 */
	/* more disks (xvdb on: xvda is the image) and NICs, as edera_zone_config */
	const struct edera_disk_config *const *disks;
	size_t n_disks;
	const struct edera_nic_config *const *nics;
	size_t n_nics;
	const char *hostname;     /* default: the name */
	const char *address;      /* "A.B.C.D/N" for eth0 (the first NIC), or NULL */
	const char *gateway;      /* its default route, or NULL */
	const char *const *dns;   /* N_DNS name servers for /etc/resolv.conf */
	size_t n_dns;
	unsigned int timeout_ms;  /* from the zone's start to its init's greeting
	                             (default 60000) */
	const edera_process_config *process; /* the workload; required */
	edera_workload_progress_cb on_progress; /* may be NULL */
	void *progress_data;
	/* Since 0.2: a directory to run as the zone's root instead of an
	 * image (image then NULL) — a container's root filesystem as
	 * containerd's snapshotter mounts it.  Packed as it is (ownership,
	 * modes, links kept) into an erofs image for this run only, not
	 * cached; read-only under the tmpfs overlay like an image.  There is
	 * no image config: the process's args are required, cwd defaults to
	 * "/" and user to root. */
	const char *rootfs;
	/* Since 0.2: non-zero: boot a zone for this run even when a spare
	 * zone (edera_workload_spare) would do. */
	int no_spare;
} edera_workload_config;

/* Zero CFG and set its sz: the defaults, before the fields are filled.
 * (Programs built against 0.1 call 0.1's, which sets 0.1's smaller size;
 * the library then takes the fields added since as unset.) */
EDERA_API void edera_workload_config_init(edera_workload_config *cfg);

/* The workload runs (STATUS 0, WL and its process PROC), or could not be
 * started (STATUS < 0, both NULL, nothing left behind: no zone). */
typedef void (*edera_workload_run_cb)(edera_ctx *ctx, int status, edera_workload *wl,
                                      edera_process *proc, void *data);

/*
 * Run a workload.  The image conversion and the initramfs are made on the
 * threadpool (the first run of an image converts it; later ones find it in
 * the cache).  Errors at once: EDERA_EINVAL (bad config: what and why),
 * EDERA_EEXIST (the name is in use), EDERA_ENOMEM.  Errors in CB: those of
 * the image conversion (EDERA_ENOENT: no such image; EDERA_EINVAL: a
 * malformed one, or one with no command and no args given), of the kernel
 * and its modules (EDERA_ENOENT: the kernel, a module or edera-zone-init
 * is missing), of edera_zone_create, EDERA_ETIMEDOUT (the init never
 * greeted), and the init's refusal (see edera_process_exit_cb).
 */
EDERA_API int edera_workload_run(edera_ctx *ctx, const edera_workload_config *cfg,
                                 edera_workload_run_cb cb, void *data);
EDERA_API int edera_workload_run_sync(edera_ctx *ctx, const edera_workload_config *cfg,
                                      edera_workload **wl, edera_process **proc);

/*
 * Spare zones (since 0.2): a zone booted ahead, its init waiting, so that a
 * later run starts without waiting for a kernel's boot — from this process
 * or any other on the host (a one-shot `edera run` too).
 *
 * edera_workload_spare boots one zone with CFG's kernel, modules_dir,
 * init, cache_dir, memory_mib, vcpus and name (NULL: "edera-spare-" and
 * random hex); its image, process and devices are not used (CFG->process
 * may be NULL).  It has no disk and no channel; its init waits without
 * end, and powers off if asked to stop (edera_zone_shutdown) first.  CB
 * gets the zone once it is created and marked as a spare (it may still be
 * booting); the zone stays when this context closes (closed before the
 * mark was written, CB gets EDERA_ECANCELED and no zone, and the zone
 * stays unmarked: destroy it).
 *
 * A run (edera_workload_run, unless no_spare) takes a spare whose kernel
 * file (the same file, unchanged), initramfs (the same init and modules),
 * memory and vCPUs are its own: it renames the zone to the run's name,
 * takes it over (as edera_zone_reattach does: its console is served by the
 * run's context), attaches the image as xvda and the run's disks and NICs,
 * and launches the workload as in a zone booted for it.  A spare is taken
 * once (a XenStore transaction removes its mark), by one run, and never
 * given back: the run's zone ends with the workload as any other.  A spare
 * asked to stop is not taken.  When none matches, or the one taken cannot
 * be taken over (it is then destroyed), the run boots a zone; a failure
 * after that (attaching the image, the init's greeting) fails the run as
 * in a zone booted for it.  A spare from another process or `edera
 * spare` never ran anything; one this context booted is taken with its
 * handle, as the caller left it (a spare that runs a workload is not
 * taken).
 *
 * Spares are zones like others: edera_zone_reattach finds them,
 * edera_zone_destroy removes them.  A spare whose kernel file changed is
 * never taken (remove it).  A spare this context booted is taken with its
 * handle (renamed); one another process booted and still holds a handle
 * on should not be used there once taken: the zone's console stays served
 * by that process until its handle goes, and the run's is then left
 * disconnected.  Errors at once: EDERA_EINVAL (CFG or its name),
 * EDERA_EEXIST (the name is in use in this context), EDERA_ENOMEM,
 * EDERA_ECANCELED (the context is closing); in CB: the kernel's and
 * modules' (as edera_workload_run), edera_zone_create's, XenStore's
 * writing the mark (the zone is then destroyed), EDERA_ECANCELED.
 */
EDERA_API int edera_workload_spare(edera_ctx *ctx, const edera_workload_config *cfg,
                                   edera_zone_done_cb cb, void *data);
/* Blocking form (OUT may be NULL). */
EDERA_API int edera_workload_spare_sync(edera_ctx *ctx, const edera_workload_config *cfg,
                                        edera_zone **out);

/* The zone WL runs in (NULL for a NULL WL). */
EDERA_API edera_zone *edera_workload_zone(const edera_workload *wl);
/* The workload's own process. */
EDERA_API edera_process *edera_workload_process(const edera_workload *wl);

/*
 * Run one more process in the workload's zone: CFG's args are required
 * (the image's Entrypoint is not used); cwd and user default as for the
 * workload.  Its on_exit reports a refusal too.  Errors at once:
 * EDERA_EINVAL (bad config; the workload ended), EDERA_EAGAIN (the
 * channel's queue is full), EDERA_ENOMEM.
 */
EDERA_API int edera_workload_exec(edera_workload *wl, const edera_process_config *cfg,
                                  edera_process **out);

/*
 * Write to the process's stdin: what was queued is returned (at most 64 KiB
 * a call, and at most 1 MiB waits for the zone to take it), or
 * EDERA_EAGAIN (nothing: on_writable runs once there is room).  Errors:
 * EDERA_EINVAL (LEN 0; the process ended or its stdin was closed),
 * EDERA_ENOTCONN (the zone went).
 */
EDERA_API int edera_process_write(edera_process *proc, const void *buf, size_t len);
/* End its stdin (a terminal gets an end-of-file character).  Errors as
 * edera_process_write (EDERA_EAGAIN too). */
EDERA_API int edera_process_close_stdin(edera_process *proc);
/* Send it signal SIGNAL (1 to 64).  Errors as edera_process_write. */
EDERA_API int edera_process_kill(edera_process *proc, int signal);
/* Resize its terminal.  Errors as edera_process_write. */
EDERA_API int edera_process_resize(edera_process *proc, uint16_t rows, uint16_t cols);
/* Its pid in the zone (0 before it started). */
EDERA_API uint32_t edera_process_pid(const edera_process *proc);
EDERA_API edera_workload *edera_process_workload(const edera_process *proc);

/*
 * Stop taking output from the workload's zone (HOLD non-zero), or take it
 * again (0): back-pressure for a caller whose reader is slow (a pipe, a
 * FIFO, a network peer) and who must not block the loop.  While held, no
 * on_output or on_exit of any of the zone's processes runs (they share
 * the zone's channel), the zone's writes wait once its ring is full, and
 * nothing is lost or reordered; taking output again delivers what waited.
 * A workload that ended has nothing to hold: 0.  Errors: EDERA_EINVAL (WL
 * is NULL).  Since 0.2.
 */
EDERA_API int edera_workload_hold(edera_workload *wl, int hold);

/* ---- the image cache ---- */

typedef struct edera_image_info {
	size_t sz;          /* set by the library */
	char digest[72];    /* the image config's, "sha256:<hex>" */
	char name[256];     /* the name it was converted under (--ref), or "" */
	uint64_t size;      /* bytes it takes in the cache */
	int64_t last_used;  /* when a run last used it, seconds since the epoch */
} edera_image_info;

/*
 * The images converted in CACHE_DIR (NULL: $EDERA_CACHE_DIR, or
 * /var/cache/edera), most recently used first: *OUT (free it with
 * edera_free; NULL when there are none) and *N.  A missing directory is an
 * empty cache.  Errors: EDERA_ENOMEM, or a code from errno reading it.
 */
EDERA_API int edera_images_list(const char *cache_dir, edera_image_info **out, size_t *n);
/*
 * Remove the least recently used images until the cache holds at most
 * KEEP_MIB (0: empty it), skipping images being converted or used by a
 * conversion at that moment (a running zone's image stays usable: its loop
 * device holds it); also removes what conversions that died left.
 * REMOVED and FREED (bytes) may be NULL.  Errors as edera_images_list.
 */
EDERA_API int edera_images_prune(const char *cache_dir, uint64_t keep_mib, size_t *removed,
                                 uint64_t *freed);

#ifdef __cplusplus
}
#endif

#endif
