/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libedera: isolation zones on Xen PV.
 *
 * Include this one header.  Conventions throughout the API:
 *  - functions return 0 or a negative EDERA_E* code (see error.h); the
 *    calling thread's last failure is described by edera_last_error();
 *  - objects are opaque handles, created by an _open/_new function writing
 *    to an out-parameter and released by the matching _close/_free;
 *  - option and result structs start with `size_t sz`, set by their _init
 *    function or _INIT macro, so fields can be added without breaking ABI;
 *  - strings are UTF-8 and NUL-terminated, owned by the caller unless a
 *    function says otherwise.
 */
#ifndef EDERA_EDERA_H
#define EDERA_EDERA_H

#include <edera/version.h>
#include <edera/common.h>
#include <edera/error.h>
#include <edera/ctx.h>
#include <edera/xenstore.h>
#include <edera/zone.h>
#include <edera/console.h>
#include <edera/device.h>
#include <edera/share.h>
#include <edera/channel.h>
#include <edera/workload.h>
#include <edera/pool.h>

/* Feature macros: defined to 1 when the headers offer the capability. */
#define EDERA_HAVE_HOST_INFO 1
#define EDERA_HAVE_XENSTORE 1
#define EDERA_HAVE_ZONE 1
#define EDERA_HAVE_CONSOLE 1
#define EDERA_HAVE_DEVICES 1
#define EDERA_HAVE_RESOURCES 1 /* memory and vCPU changes, shared pages, event channels */
#define EDERA_HAVE_CHANNEL 1   /* framed host <-> zone channels (edera/channel.h) */
#define EDERA_HAVE_WORKLOAD 1  /* container images run in zones (edera/workload.h) */

#ifdef __cplusplus
extern "C" {
#endif

/* The linked library's version, "MAJOR.MINOR.MICRO" (static string). */
EDERA_API const char *edera_version(void);
/* The linked library's version as 0xMMmmuu, like EDERA_VERSION_NUMBER. */
EDERA_API unsigned int edera_version_number(void);

#ifdef __cplusplus
}
#endif

#endif
