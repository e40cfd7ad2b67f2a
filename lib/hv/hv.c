/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv.h"
#include "internal.h"

#define PRIVCMD "/dev/xen/privcmd"
#define CAPABILITIES "/proc/xen/capabilities"

/* The Xen libraries log from whichever thread made the call (the loop's or
 * a threadpool worker's): keep the last message per thread. */
static _Thread_local char last_xen_message[256];

static void logger_vmessage(struct xentoollog_logger *l, xentoollog_level level, int errnoval,
                            const char *context, const char *format, va_list al)
{
	if (level < XTL_ERROR)
		return;
	vsnprintf(last_xen_message, sizeof(last_xen_message), format, al);
}

static void logger_progress(struct xentoollog_logger *l, const char *context,
                            const char *doing_what, int percent, unsigned long done,
                            unsigned long total)
{
}

static void logger_destroy(struct xentoollog_logger *l)
{
}

/* A domU may have privcmd but is not the control domain; xenfs tells. */
static int check_control_domain(void)
{
	char caps[128] = "";
	FILE *f = fopen(CAPABILITIES, "r");

	if (!f)
		return 0; /* xenfs not mounted: let the hypercalls decide */
	if (!fgets(caps, sizeof(caps), f))
		caps[0] = '\0';
	fclose(f);
	if (!strstr(caps, "control_d"))
		return ed_error(EDERA_ENOXEN,
		                "not Xen's control domain (" CAPABILITIES " lacks control_d) — run in dom0");
	return 0;
}

/* libedera is built and tested against Xen 4.17's interfaces. */
static int check_version(struct ed_hv *hv)
{
	int ver = xc_version(hv->xch, XENVER_version, NULL);
	int e = errno;

	if (ver < 0) {
		ed_hv_close(hv);
		return ed_error(EDERA_ENOXEN, "the hypervisor refused a version hypercall (%s): "
		                "this is not Xen's control domain — run in dom0", strerror(e));
	}
	if ((ver >> 16) < 4 || ((ver >> 16) == 4 && (ver & 0xffff) < 17)) {
		ed_hv_close(hv);
		return ed_error(EDERA_EXENVERSION, "Xen %d.%d is too old: libedera needs Xen 4.17 or later",
		                ver >> 16, ver & 0xffff);
	}
	return 0;
}

static int open_failed(struct ed_hv *hv, const char *what, int e)
{
	int code = (e == EACCES || e == EPERM) ? EDERA_EACCES : ed_errno_code(e);

	ed_error(code, "cannot open %s: %s%s%s%s%s", what, strerror(e),
	         last_xen_message[0] ? " (" : "", last_xen_message, last_xen_message[0] ? ")" : "",
	         code == EDERA_EACCES ? " — run as root in dom0" : "");
	ed_hv_close(hv);
	return code;
}

int ed_hv_open(struct ed_hv *hv)
{
	struct stat st;
	int rc;

	memset(hv, 0, sizeof(*hv));
	last_xen_message[0] = '\0'; /* only this open's messages may explain its failure */
	hv->logger.vtable.vmessage = logger_vmessage;
	hv->logger.vtable.progress = logger_progress;
	hv->logger.vtable.destroy = logger_destroy;

	if (stat(PRIVCMD, &st) < 0) {
		if (errno == ENOENT)
			return ed_error(EDERA_ENOXEN,
			                "no Xen hypervisor: " PRIVCMD " is missing — run in dom0");
		return ed_error(ed_errno_code(errno), "cannot stat " PRIVCMD ": %s", strerror(errno));
	}
	rc = check_control_domain();
	if (rc < 0)
		return rc;

	hv->xch = xc_interface_open(&hv->logger.vtable, &hv->logger.vtable, 0);
	if (!hv->xch)
		return open_failed(hv, "the Xen control interface (" PRIVCMD ")", errno);
	rc = check_version(hv);
	if (rc < 0)
		return rc;
	hv->xce = xenevtchn_open(&hv->logger.vtable, 0);
	if (!hv->xce)
		return open_failed(hv, "/dev/xen/evtchn (module xen-evtchn)", errno);
	hv->xgt = xengnttab_open(&hv->logger.vtable, 0);
	if (!hv->xgt)
		return open_failed(hv, "/dev/xen/gntdev (module xen-gntdev)", errno);
	hv->xfm = xenforeignmemory_open(&hv->logger.vtable, 0);
	if (!hv->xfm)
		return open_failed(hv, "foreign memory mapping (" PRIVCMD ")", errno);
	return 0;
}

void ed_hv_close(struct ed_hv *hv)
{
	if (hv->xfm)
		xenforeignmemory_close(hv->xfm);
	if (hv->xgs)
		xengntshr_close(hv->xgs);
	if (hv->xgt)
		xengnttab_close(hv->xgt);
	if (hv->xce)
		xenevtchn_close(hv->xce);
	if (hv->xch)
		xc_interface_close(hv->xch);
	hv->xfm = NULL;
	hv->xgt = NULL;
	hv->xgs = NULL;
	hv->xce = NULL;
	hv->xch = NULL;
}

int ed_hv_free_kib(struct ed_hv *hv, uint64_t *kib)
{
	xc_physinfo_t pi;

	memset(&pi, 0, sizeof(pi));
	if (xc_physinfo(hv->xch, &pi) < 0)
		return -1;
	*kib = (uint64_t)pi.free_pages * (XC_PAGE_SIZE / 1024);
	return 0;
}
