/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The workload protocol: what the library and edera-zone-init (the zone's
 * PID 1, zone-init/) say to each other over the channel named
 * ED_WL_CHANNEL (edera/channel.h frames: u32 length, u32 type, payload).
 * Internal: both ends are built from this tree, and the version in READY
 * lets a newer library refuse an older init.
 *
 * Every payload starts with a u32 process id the host chooses: 0 is the
 * workload itself, others are extra processes (EXEC).  Integers are little
 * endian.  Each end treats the other's frames as untrusted: lengths are
 * checked against the frame, strings are not NUL-terminated on the wire
 * and are refused when they hold a NUL.
 *
 * A launch request (LAUNCH, EXEC) is the id followed by fields:
 *   u16 tag, u16 zero, u32 length, LENGTH bytes
 * ARG and ENV repeat in order; an unknown tag is refused (an older init
 * says which tag it does not know). */
#ifndef EDERA_WORKLOAD_PROTO_H
#define EDERA_WORKLOAD_PROTO_H

#include <stdint.h>

#define ED_WL_CHANNEL "edera-workload"
#define ED_WL_VERSION 1
/* On a spare zone's kernel command line: its init waits for the channel
 * without end (the run that takes the zone opens it). */
#define ED_WL_SPARE_ARG "edera.spare"

/* host to zone */
enum {
	ED_WL_LAUNCH = 1, /* id 0, fields: run the workload */
	ED_WL_EXEC = 2,   /* id > 0, fields: run one more process */
	ED_WL_STDIN = 3,  /* id, data; no data: close its stdin */
	ED_WL_SIGNAL = 4, /* id, u32 signal number */
	ED_WL_RESIZE = 5, /* id, u16 rows, u16 columns (a terminal's size) */
};

/* zone to host */
enum {
	ED_WL_READY = 16,   /* id 0, u32 ED_WL_VERSION: the init waits for LAUNCH */
	ED_WL_STARTED = 17, /* id, u32 pid in the zone */
	ED_WL_STDOUT = 18,  /* id, data; no data: end of its stdout */
	ED_WL_STDERR = 19,  /* id, data; no data: end of its stderr */
	ED_WL_EXIT = 20,    /* id, u32 ED_WL_EXITED or ED_WL_KILLED, u32 code or signal */
	ED_WL_STDIN_ACK = 22, /* id, u32 bytes of its stdin consumed (written, or dropped
	                         when it closed its stdin or ended): the host keeps at
	                         most ED_WL_STDIN_WINDOW unacknowledged per process */
	ED_WL_ERROR = 21,   /* id, u32 errno value (0: none fits), text: the request
	                       cannot be honoured, and why */
};

enum { ED_WL_EXITED = 0, ED_WL_KILLED = 1 };

/* fields of LAUNCH and EXEC */
enum {
	ED_WL_F_ARG = 1,      /* argv[i], in order; at least one */
	ED_WL_F_ENV = 2,      /* "NAME=value", in order */
	ED_WL_F_CWD = 3,      /* working directory in the image (default "/") */
	ED_WL_F_USER = 4,     /* "uid[:gid]" or "name[:group]", looked up in the image */
	ED_WL_F_TERMINAL = 5, /* u16 rows, u16 columns: run it on a terminal */
	ED_WL_F_RLIMIT = 6,   /* u32 resource, u64 soft, u64 hard */
	/* LAUNCH only */
	ED_WL_F_ROOT = 16,     /* "DEVICE FSTYPE", e.g. "xvda erofs": the image */
	ED_WL_F_HOSTNAME = 17, /* the zone's host name */
	ED_WL_F_DNS = 18,      /* a name server for /etc/resolv.conf (repeats) */
	ED_WL_F_ADDRESS = 19,  /* "A.B.C.D/PREFIX" for eth0 */
	ED_WL_F_GATEWAY = 20,  /* "A.B.C.D": eth0's default route */
};

#define ED_WL_STDIN_WINDOW (1024 * 1024)
#define ED_WL_ARGS_MAX  4096 /* ARG fields of one request */
#define ED_WL_ENV_MAX   4096 /* ENV fields */
#define ED_WL_FIELD_MAX 8192 /* bytes of one string field */

#endif
