/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests: pure code, run on any machine (no Xen needed). */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(error_suite());
	int failed;

	srunner_add_suite(sr, ctx_suite());
	srunner_add_suite(sr, xs_wire_suite());
	srunner_add_suite(sr, xs_client_suite());
	srunner_add_suite(sr, offload_suite());
	srunner_add_suite(sr, image_suite());
	srunner_add_suite(sr, layout_suite());
	srunner_add_suite(sr, ring_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, xenbus_suite());
	srunner_add_suite(sr, oci_suite());
	srunner_add_suite(sr, workload_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
