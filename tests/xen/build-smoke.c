/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Smoke test of libedera's own PV builder in dom0: build the Debian kernel
 * with the hello initramfs, wire the console to xenconsoled and xenstore to
 * xenstored, run it, and look for the guest program's line in the console
 * log.  Usage: build-smoke KERNEL INITRD */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/pv.h"
#include "ctx.h"

static int xsw(edera_ctx *ctx, uint32_t domid, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int xsw(edera_ctx *ctx, uint32_t domid, const char *rel, const char *fmt, ...)
{
	char path[128], val[128];
	va_list ap;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, rel);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return edera_xs_write_sync(ctx, NULL, path, val, strlen(val));
}

int main(int argc, char **argv)
{
	edera_ctx *ctx;
	struct ed_pv_params p;
	struct ed_pv_result r;
	xc_dominfo_t info;
	char log[256], line[512], dpath[64];
	int rc, found = 0;
	time_t deadline;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: build-smoke KERNEL INITRD\n");
		return 2;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "build-smoke: %s\n", edera_last_error());
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.kernel = argv[1];
	p.ramdisk = argv[2];
	p.cmdline = "console=hvc0 quiet edera.test.args=built-by-libedera";
	p.memory_kib = p.max_memory_kib = 256 * 1024;
	p.vcpus = p.max_vcpus = 1;
	rc = ed_pv_build(&ctx->hv, &ctx->kcache, &p, NULL, &r);
	if (rc < 0) {
		fprintf(stderr, "build-smoke: build: %s\n", edera_last_error());
		return 1;
	}
	printf("built domain %u: store mfn %#llx port %u, console mfn %#llx port %u\n", r.domid,
	       (unsigned long long)r.store_mfn, r.store_evtchn, (unsigned long long)r.cons_mfn,
	       r.cons_evtchn);
	rc = xsw(ctx, r.domid, "name", "edera-smoke");
	rc = rc ?: xsw(ctx, r.domid, "domid", "%u", r.domid);
	rc = rc ?: xsw(ctx, r.domid, "console/ring-ref", "%llu", (unsigned long long)r.cons_mfn);
	rc = rc ?: xsw(ctx, r.domid, "console/port", "%u", r.cons_evtchn);
	rc = rc ?: xsw(ctx, r.domid, "console/limit", "%u", 1048576);
	rc = rc ?: xsw(ctx, r.domid, "console/type", "xenconsoled");
	rc = rc ?: xsw(ctx, r.domid, "console/output", "pty");
	rc = rc ?: edera_xs_introduce_sync(ctx, r.domid, r.store_mfn, r.store_evtchn);
	if (rc < 0) {
		fprintf(stderr, "build-smoke: xenstore: %s\n", edera_last_error());
		xc_domain_destroy(ctx->hv.xch, r.domid);
		return 1;
	}
	if (xc_domain_unpause(ctx->hv.xch, r.domid) < 0) {
		perror("unpause");
		return 1;
	}
	deadline = time(NULL) + 150;
	for (;;) {
		if (xc_domain_getinfo(ctx->hv.xch, r.domid, 1, &info) != 1 || info.domid != r.domid) {
			printf("domain vanished\n");
			break;
		}
		if (info.shutdown || info.crashed) {
			printf("domain shut down: reason %u%s\n", info.shutdown_reason,
			       info.crashed ? " (crashed)" : "");
			break;
		}
		if (time(NULL) > deadline) {
			printf("timed out; still running\n");
			break;
		}
		usleep(200 * 1000);
	}
	sleep(1);
	snprintf(log, sizeof(log), "/var/log/xen/console/guest-edera-smoke.log");
	f = fopen(log, "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			fputs(line, stdout);
			if (strstr(line, "EDERA-TEST-PROGRAM built-by-libedera 42"))
				found = 1;
		}
		fclose(f);
	} else {
		printf("no console log at %s\n", log);
	}
	xc_domain_destroy(ctx->hv.xch, r.domid);
	edera_xs_release_sync(ctx, r.domid);
	snprintf(dpath, sizeof(dpath), "/local/domain/%u", r.domid);
	edera_xs_rm_sync(ctx, NULL, dpath);
	edera_ctx_close(ctx);
	printf("build-smoke: %s\n", found ? "the guest ran its program" : "FAILED");
	return found ? 0 : 1;
}
