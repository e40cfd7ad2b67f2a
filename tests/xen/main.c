/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests: run inside dom0 of the rig (tests/rig/rig.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "suites.h"

int main(void)
{
	SRunner *sr;
	int failed;

	if (access("/dev/xen/privcmd", F_OK) != 0) {
		fprintf(stderr, "check-xen: no /dev/xen/privcmd: run me in dom0 (tests/rig/rig.sh)\n");
		return 99; /* a hard error, never a skip */
	}
	sr = srunner_create(host_suite());
	srunner_add_suite(sr, xs_suite());
	srunner_add_suite(sr, zone_suite());
	srunner_add_suite(sr, console_suite());
	srunner_add_suite(sr, device_suite());
	srunner_add_suite(sr, resource_suite());
	srunner_add_suite(sr, channel_suite());
	srunner_add_suite(sr, workload_suite());
	srunner_add_suite(sr, pool_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
