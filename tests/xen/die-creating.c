/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A process that dies while it creates a zone, for the crash-consistency
 * tests (tests/xen/test-device.c): it creates a zone with a disk and a NIC,
 * and the library kills it with SIGKILL at STEP (lib/internal.h lists the
 * steps), as a crash at that point would.  STEP "none" never dies on its
 * own: it waits for its creation until it is killed.
 *
 *   die-creating STEP NAME KERNEL INITRD|- CMDLINE DISK BRIDGE
 *
 * Exit status: killed by SIGKILL as asked; 3 when the creation ended
 * without reaching STEP (its error on stderr); 2 for bad arguments or no
 * context.  Linked with the library's internals (lib/libedera-core.la) to
 * reach ed_die_at; everything else is the public API. */
#include <stdio.h>
#include <string.h>

#include <edera/edera.h>

#include "internal.h"

int main(int argc, char **argv)
{
	edera_ctx *ctx = NULL;
	edera_zone_config cfg;
	edera_disk_config disk;
	edera_nic_config nic;
	const edera_disk_config *disks[1] = { &disk };
	const edera_nic_config *nics[1] = { &nic };
	edera_zone *z = NULL;
	int rc;

	if (argc != 8) {
		fprintf(stderr, "usage: %s STEP NAME KERNEL INITRD|- CMDLINE DISK BRIDGE\n",
		        argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "none") != 0)
		ed_die_at = argv[1];
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "die-creating: %s\n", edera_last_error());
		return 2;
	}
	edera_disk_config_init(&disk);
	disk.path = argv[6];
	disk.vdev = "xvda";
	edera_nic_config_init(&nic);
	nic.bridge = argv[7];
	edera_zone_config_init(&cfg);
	cfg.name = argv[2];
	cfg.kernel = argv[3];
	cfg.initrd = strcmp(argv[4], "-") != 0 ? argv[4] : NULL;
	cfg.cmdline = argv[5];
	cfg.memory_mib = cfg.initrd ? 256 : 16;
	cfg.disks = disks;
	cfg.n_disks = 1;
	cfg.nics = nics;
	cfg.n_nics = 1;
	cfg.device_timeout_ms = 600000;
	rc = edera_zone_create_sync(ctx, &cfg, &z);
	fprintf(stderr, "die-creating: the creation ended (%s) before step %s: %s\n",
	        edera_strerror(rc), argv[1], rc < 0 ? edera_last_error() : "created");
	edera_ctx_close(ctx);
	return 3;
}
