/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a zone with disks and network interfaces wired by libedera (dom0's
 * blkback and netback; no hot-plug scripts), show its console until it
 * stops, and clean up.
 *
 *   ./devices [--disk PATH[:VDEV[:ro]]]... [--nic BRIDGE[:MAC]]... KERNEL INITRD|- [CMDLINE]
 *
 * A disk PATH is an image file (a loop device is set up for it) or a block
 * device; VDEV defaults to xvda, xvdb, ... in order.  A zone booting from a
 * disk image: --disk root.img and CMDLINE "root=/dev/xvda ...".  A
 * networked zone: --nic br0, with br0 a bridge in dom0 (ip link add br0 type
 * bridge).  Run it in dom0, as root (modules xen-blkback, xen-netback,
 * loop, bridge).
 * Build against an installed libedera:
 *   cc devices.c $(pkg-config --cflags --libs edera libuv) -o devices */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <edera/edera.h>
#include <uv.h>

#define MAX_DEV 8

static void on_output(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data)
{
	fwrite(bytes, 1, len, stdout);
	fflush(stdout);
}

static void on_exit_cb(edera_ctx *ctx, edera_zone *zone, int reason, void *data)
{
	*(int *)data = reason + 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: devices [--disk PATH[:VDEV[:ro]]]... [--nic BRIDGE[:MAC]]... "
	                "KERNEL INITRD|- [CMDLINE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	edera_disk_config disks[MAX_DEV];
	edera_nic_config nics[MAX_DEV];
	const edera_disk_config *dp[MAX_DEV];
	const edera_nic_config *np[MAX_DEV];
	static char vdevs[MAX_DEV][8];
	size_t nd = 0, nn = 0;
	edera_zone_config cfg;
	edera_ctx *ctx;
	edera_zone *zone;
	int a = 1, exited = 0;

	for (; a + 1 < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
		char *spec = argv[a + 1], *c1 = strchr(spec, ':'), *c2;

		if (strcmp(argv[a], "--disk") == 0 && nd < MAX_DEV) {
			edera_disk_config_init(&disks[nd]);
			snprintf(vdevs[nd], sizeof(vdevs[nd]), "xvd%c", (char)('a' + nd));
			disks[nd].vdev = vdevs[nd];
			if (c1) {
				*c1++ = '\0';
				c2 = strchr(c1, ':');
				if (c2) {
					*c2++ = '\0';
					disks[nd].readonly = strcmp(c2, "ro") == 0;
				}
				if (*c1)
					disks[nd].vdev = c1;
			}
			disks[nd].path = spec;
			dp[nd] = &disks[nd];
			nd++;
		} else if (strcmp(argv[a], "--nic") == 0 && nn < MAX_DEV) {
			edera_nic_config_init(&nics[nn]);
			if (c1) {
				/* BRIDGE:aa:bb:cc:dd:ee:ff */
				*c1++ = '\0';
				nics[nn].mac = c1;
			}
			nics[nn].bridge = spec;
			np[nn] = &nics[nn];
			nn++;
		} else {
			return usage();
		}
	}
	if (a + 1 >= argc)
		return usage();
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "devices: %s\n", edera_last_error());
		return 1;
	}
	edera_zone_config_init(&cfg);
	cfg.name = "edera-devices";
	cfg.kernel = argv[a];
	cfg.initrd = strcmp(argv[a + 1], "-") != 0 ? argv[a + 1] : NULL;
	cfg.cmdline = a + 2 < argc ? argv[a + 2] : "console=hvc0 root=/dev/xvda";
	cfg.memory_mib = 256;
	cfg.disks = dp;
	cfg.n_disks = nd;
	cfg.nics = np;
	cfg.n_nics = nn;
	/* Creation completes once the guest's drivers have connected them. */
	if (edera_zone_create_sync(ctx, &cfg, &zone) < 0) {
		fprintf(stderr, "devices: %s\n", edera_last_error());
		edera_ctx_close(ctx);
		return 1;
	}
	printf("devices: zone '%s' (domain %u) is up with:\n", edera_zone_name(zone),
	       edera_zone_domid(zone));
	for (edera_device *d = edera_device_next(zone, NULL); d; d = edera_device_next(zone, d))
		printf("  %s %u on %s%s%s\n",
		       edera_device_kind(d) == EDERA_DEVICE_DISK ? "disk" : "nic", edera_device_id(d),
		       edera_device_host_name(d), edera_device_mac(d) ? ", MAC " : "",
		       edera_device_mac(d) ? edera_device_mac(d) : "");
	edera_zone_on_exit(zone, on_exit_cb, &exited);
	edera_console_subscribe(zone, EDERA_CONSOLE_REPLAY, on_output, NULL, NULL);
	while (!exited)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	printf("devices: the zone stopped (reason %d); its devices are released\n", exited - 1);
	edera_zone_destroy_sync(zone);
	edera_ctx_close(ctx);
	return exited - 1 == EDERA_ZONE_EXIT_POWEROFF ? 0 : 1;
}
