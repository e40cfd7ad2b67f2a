/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_XEN_SUITES_H
#define EDERA_XEN_SUITES_H

#include <check.h>

Suite *host_suite(void);
Suite *xs_suite(void);
Suite *zone_suite(void);
Suite *console_suite(void);
Suite *device_suite(void);
Suite *resource_suite(void);
Suite *channel_suite(void);
Suite *workload_suite(void);
Suite *pool_suite(void);

#endif
