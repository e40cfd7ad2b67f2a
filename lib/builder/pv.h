/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libedera's own x86-64 PV domain builder, on libxenctrl and
 * libxenforeignmemory (no libxenguest).  Blocking: run it on the
 * threadpool. */
#ifndef EDERA_BUILD_PV_H
#define EDERA_BUILD_PV_H

#include <stdint.h>

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

int ed_pv_build(struct ed_hv *hv, struct ed_kcache *kc, const struct ed_pv_params *p,
                struct ed_pv_result *r);

#endif
