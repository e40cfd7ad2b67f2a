/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Print what Xen reports about this host.  Run it in dom0 (as root):
 *   ./hostinfo
 * Build against an installed libedera:
 *   cc hostinfo.c $(pkg-config --cflags --libs edera) -o hostinfo */
#include <stdio.h>

#include <edera/edera.h>

int main(void)
{
	edera_ctx *ctx;
	edera_host_info info = EDERA_HOST_INFO_INIT;
	int rc;

	rc = edera_ctx_open(&ctx, NULL);
	if (rc < 0) {
		fprintf(stderr, "hostinfo: %s (%s)\n", edera_last_error(), edera_errname(rc));
		return 1;
	}
	rc = edera_host_info_get(ctx, &info);
	if (rc < 0) {
		fprintf(stderr, "hostinfo: %s (%s)\n", edera_last_error(), edera_errname(rc));
		edera_ctx_close(ctx);
		return 1;
	}
	printf("libedera      %s\n", edera_version());
	printf("Xen           %u.%u%s\n", info.xen_major, info.xen_minor, info.xen_extra);
	printf("memory        %llu MiB total, %llu MiB free\n",
	       (unsigned long long)info.total_memory_kib / 1024,
	       (unsigned long long)info.free_memory_kib / 1024);
	printf("CPUs          %u (%u NUMA node%s, %u MHz)\n", info.nr_cpus, info.nr_nodes,
	       info.nr_nodes == 1 ? "" : "s", info.cpu_khz / 1000);
	edera_ctx_close(ctx);
	return 0;
}
