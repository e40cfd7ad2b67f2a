/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_UNIT_SUITES_H
#define EDERA_UNIT_SUITES_H

#include <check.h>

Suite *error_suite(void);
Suite *ctx_suite(void);
Suite *xs_wire_suite(void);
Suite *xs_client_suite(void);
Suite *offload_suite(void);
Suite *image_suite(void);
Suite *layout_suite(void);
Suite *ring_suite(void);
Suite *log_suite(void);
Suite *xenbus_suite(void);
Suite *oci_suite(void);
Suite *workload_suite(void);

#endif
