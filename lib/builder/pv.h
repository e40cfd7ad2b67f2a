/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libedera's own x86-64 PV domain builder, on libxenctrl and
 * libxenforeignmemory (no libxenguest).  Blocking: run it on the
 * threadpool. */
#ifndef EDERA_BUILD_PV_H
#define EDERA_BUILD_PV_H

#include <stdbool.h>
#include <stdint.h>
#include <xenctrl.h>

#include "hv/hv.h"
#include "kcache.h"

struct ed_pv_params {
	const char *kernel;   /* path of a bzImage or ELF PV kernel */
	const char *ramdisk;  /* path, or NULL */
	const char *cmdline;  /* or NULL */
	uint64_t memory_kib;  /* given at boot */
	uint64_t max_memory_kib; /* ceiling for ballooning up (>= memory_kib) */
	uint32_t vcpus;       /* online at boot */
	uint32_t max_vcpus;
	uint8_t uuid[16];
	uint32_t backend_domid; /* console and xenstore backends (0: dom0) */
};

struct ed_pv_result {
	uint32_t domid;
	uint64_t store_mfn;
	uint32_t store_evtchn;
	uint64_t cons_mfn;
	uint32_t cons_evtchn;
	uint64_t nr_pages;
};

/*
 * Create a paused PV domain and build it: memory, kernel, initrd, p2m,
 * page tables, start_info, shared_info, console and xenstore pages with
 * their event channels and grant entries, vCPU 0's context.  On failure the
 * domain is destroyed and nothing is left behind; the thread's message says
 * what was wrong ("kernel image 'x': ...").
 */
/* What Xen's maximum for a zone holds beyond its memory target: slack for
 * the pages Xen itself charges to the domain. */
#define ED_PV_MAXMEM_SLACK_KIB 1024

/* A prepared shell (zone/pool.c): a domain created paused with its memory
 * populated (steps 2 and 3) and its xenstore and console event channels
 * allocated (unbound, for dom0), nothing else, its handle UUID, for a
 * build of MEMORY_KIB (= its maximum) and VCPUS (= their maximum). */
struct ed_pv_shell {
	uint32_t domid;
	uint8_t uuid[16]; /* its Xen handle: the domid is trusted only with it */
	uint64_t memory_kib;
	uint32_t vcpus;
	xen_pfn_t *p2m; /* pfn -> mfn, malloc'd */
	uint32_t store_evtchn, cons_evtchn;
};

/* Make one (on failure nothing is left: the domain is destroyed). */
int ed_pv_shell_make(struct ed_hv *hv, uint64_t memory_kib, uint32_t vcpus,
                     const uint8_t uuid[16], struct ed_pv_shell *s);
/* Destroy its domain (if the domid is still the shell's: a domain gone
 * meanwhile, its domid reused, is left alone) and free it; < 0 when Xen
 * refused to destroy it (the domain is still there). */
int ed_pv_shell_destroy(struct ed_hv *hv, struct ed_pv_shell *s);
/* Whether S's domain still exists, is not dying, and is S's (its handle). */
bool ed_pv_shell_alive(struct ed_hv *hv, const struct ed_pv_shell *s);
/* Whether a build of P can take S (the same memory and vCPUs, no more
 * memory or vCPUs to grow to, its backends in dom0).  A build in S uses
 * its event channels.  ed_pv_shape_fits: the same for a shell of
 * MEMORY_KIB and VCPUS (a pool's shape). */
bool ed_pv_shell_fits(const struct ed_pv_shell *s, const struct ed_pv_params *p);
bool ed_pv_shape_fits(uint64_t memory_kib, uint32_t vcpus, const struct ed_pv_params *p);

/* With SHELL (which must fit P; NULL: a new domain), the build loads into
 * the shell's domain once the kernel is parsed: from then on it is the
 * build's (SHELL zeroed), destroyed on failure like a new one; a failure
 * before leaves SHELL to the caller.  A shell whose domain went meanwhile
 * (destroyed by someone else) is dropped and a new domain made instead. */
int ed_pv_build(struct ed_hv *hv, struct ed_kcache *kc, const struct ed_pv_params *p,
                struct ed_pv_shell *shell, struct ed_pv_result *r);

#endif
