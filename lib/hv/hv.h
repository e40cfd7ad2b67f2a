/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Thin layer over libxenctrl, libxenevtchn, libxengnttab and
 * libxenforeignmemory: opening and closing the handles, and their logging. */
#ifndef EDERA_HV_H
#define EDERA_HV_H

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xentoollog.h>

/* Collects the Xen libraries' log messages instead of letting them reach
 * stderr; the calling thread's last error-level one enriches our messages. */
struct ed_hv_logger {
	struct xentoollog_logger vtable;
};

struct ed_hv {
	struct ed_hv_logger logger;
	xc_interface *xch;
	xenevtchn_handle *xce;
	xengnttab_handle *xgt;
	xengntshr_handle *xgs; /* opened at the first share (zone/share.c) */
	xenforeignmemory_handle *xfm;
};

/* Open every handle, or none: on failure the thread's last error says which
 * and why, and HV holds nothing. */
int ed_hv_open(struct ed_hv *hv);
void ed_hv_close(struct ed_hv *hv);

/* Xen's free memory in KiB: 0, or -1 with errno (xc_physinfo's). */
int ed_hv_free_kib(struct ed_hv *hv, uint64_t *kib);

#endif
