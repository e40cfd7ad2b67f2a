/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_ERROR_H
#define EDERA_ERROR_H

#include <edera/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error codes.  Functions return 0 on success or one of these (negative).
 * Where an errno value fits, the code is its negation on Linux, so
 * -EDERA_EINVAL == EINVAL; codes at -1000 and below are libedera's own.
 */
enum edera_error {
	EDERA_OK = 0,
	EDERA_EPERM = -1,         /* operation not permitted */
	EDERA_ENOENT = -2,        /* no such file, zone or node */
	EDERA_EIO = -5,           /* I/O error or hypercall failure */
	EDERA_EAGAIN = -11,       /* try again */
	EDERA_ENOMEM = -12,       /* out of memory */
	EDERA_EACCES = -13,       /* permission denied */
	EDERA_EBUSY = -16,        /* resource busy */
	EDERA_EEXIST = -17,       /* already exists */
	EDERA_ENODEV = -19,       /* no such device */
	EDERA_EINVAL = -22,       /* invalid argument */
	EDERA_ENOSPC = -28,       /* no space left */
	EDERA_ERANGE = -34,       /* value out of range */
	EDERA_ENOSYS = -38,       /* not implemented */
	EDERA_EPROTO = -71,       /* protocol error (malformed message) */
	EDERA_ENOTSUP = -95,      /* not supported */
	EDERA_ECONNRESET = -104,  /* connection reset */
	EDERA_ENOTCONN = -107,    /* not connected */
	EDERA_ETIMEDOUT = -110,   /* timed out */
	EDERA_ECANCELED = -125,   /* operation canceled */
	EDERA_ENOXEN = -1000,     /* no Xen hypervisor, or not its control domain */
	EDERA_EXENVERSION = -1001 /* unsupported Xen version */
};

/* A short description of CODE ("invalid argument"); never NULL.  The string
 * is static.  Unknown codes give "unknown error". */
EDERA_API const char *edera_strerror(int code);

/* The code's symbolic name ("EDERA_EINVAL"), or "EDERA_UNKNOWN"; static. */
EDERA_API const char *edera_errname(int code);

/*
 * The detailed message of the most recent failure on the calling thread,
 * e.g. "no Xen hypervisor: /dev/xen/privcmd is missing — run in dom0".
 * Empty string if nothing failed yet.  Valid until the next libedera call on
 * this thread; copy it to keep it.
 */
EDERA_API const char *edera_last_error(void);

/* The code of the most recent failure on the calling thread (0 if none). */
EDERA_API int edera_last_error_code(void);

#ifdef __cplusplus
}
#endif

#endif
