/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Zone consoles, served by the library itself on the loop (no xenconsoled).
 *
 * By default every zone's PV console is served in-process: the library maps
 * the console ring, binds its event channel and, on the loop, hands the
 * guest's output to subscribers, keeps the last of it in a bounded history,
 * optionally appends it to a log file, and feeds input to the guest.  A zone
 * created with cfg.console_mode = EDERA_CONSOLE_XENCONSOLED hands its
 * console to xenconsoled instead (for `xl console`); the functions here then
 * fail with EDERA_ENOTSUP.
 *
 * The guest is not trusted: impossible ring indices are counted
 * (ring_errors) and skipped over, a zone that floods output is served in
 * bounded slices so others keep flowing, and input waits in a bounded queue
 * (edera_console_write accepts what fits).  Memory per zone: the history
 * (cfg.console_history_kib) plus EDERA_CONSOLE_INPUT_MAX.
 *
 * The console lives as long as the zone handle: after the zone stops, its
 * last output has been delivered (before the exit callback runs) and the
 * history can still be read.
 */
#ifndef EDERA_CONSOLE_H
#define EDERA_CONSOLE_H

#include <edera/common.h>
#include <edera/zone.h>

#ifdef __cplusplus
extern "C" {
#endif

enum edera_console_mode {
	EDERA_CONSOLE_LIBRARY = 0,   /* served by this library (the default) */
	EDERA_CONSOLE_XENCONSOLED = 1 /* left to xenconsoled */
};

/* Bytes of input that may wait for the guest to read them. */
#define EDERA_CONSOLE_INPUT_MAX 16384
/* History kept when cfg.console_history_kib is 0, and the most allowed. */
#define EDERA_CONSOLE_HISTORY_DEFAULT_KIB 64
#define EDERA_CONSOLE_HISTORY_MAX_KIB 16384
/* A console log's size before it rotates, unless the zone's config says. */
#define EDERA_CONSOLE_LOG_DEFAULT_KIB 10240

/* Output of ZONE's guest: LEN bytes (any bytes; not NUL-terminated). */
typedef void (*edera_console_output_cb)(edera_ctx *ctx, edera_zone *zone, const char *bytes,
                                        size_t len, void *data);

typedef struct edera_console_sub edera_console_sub;

/* Subscribe flags. */
#define EDERA_CONSOLE_REPLAY 1 /* first pass the history to CB, before returning */

/*
 * Call CB with the zone's output from now on (and, with EDERA_CONSOLE_REPLAY,
 * with the history first).  Several subscribers may be registered; each sees
 * every byte, in order.  *OUT (may be NULL) receives a handle for
 * edera_console_unsubscribe; subscriptions end with the zone handle anyway.
 * Errors: EDERA_EINVAL, EDERA_ENOTSUP (console left to xenconsoled),
 * EDERA_ENOMEM.
 */
EDERA_API int edera_console_subscribe(edera_zone *zone, unsigned int flags,
                                      edera_console_output_cb cb, void *data,
                                      edera_console_sub **out);
/* End a subscription; allowed inside its own callback. */
EDERA_API void edera_console_unsubscribe(edera_console_sub *sub);

/* Copy the newest min(CAP, held) bytes of history into BUF; returns the
 * count, or EDERA_EINVAL / EDERA_ENOTSUP. */
EDERA_API long edera_console_history(edera_zone *zone, char *buf, size_t cap);

/*
 * Queue LEN bytes of input for the guest.  Returns how many were accepted
 * (fewer than LEN when the queue is full: the guest is not reading), or
 * EDERA_EAGAIN if none could be, EDERA_ENOTCONN once the zone has stopped.
 * Use edera_console_on_writable to learn when to write again.
 */
EDERA_API long edera_console_write(edera_zone *zone, const void *buf, size_t len);

/* CB runs whenever the input queue has drained into the guest after a write
 * that did not take everything.  NULL unsets it. */
typedef void (*edera_console_writable_cb)(edera_ctx *ctx, edera_zone *zone, void *data);
EDERA_API int edera_console_on_writable(edera_zone *zone, edera_console_writable_cb cb,
                                        void *data);

/*
 * Append the zone's output to the file PATH from now on (created 0640 if
 * missing); NULL stops logging (what is queued is still written).  The
 * file is written by the context's log writer thread, never on the loop: a
 * slow or stuck file costs its zone's log bytes, not other zones' time.
 * Each log queues at most 2 MiB for the writer; output beyond that is
 * dropped from the log (the history and subscribers still get it) and
 * counted in log_dropped.  A regular file is rotated when it would grow
 * past the zone's console_log_max_kib (edera_zone_config; default
 * EDERA_CONSOLE_LOG_DEFAULT_KIB): PATH becomes PATH.1, replacing the
 * previous PATH.1, and PATH starts empty, so a zone's log never takes
 * more than twice its limit.  A write or rotation error stops logging and
 * is counted in log_errors.  edera_ctx_close waits until every queued byte
 * is written — except what a FIFO, socket or terminal nobody reads does not
 * take: that is dropped, and the close goes on.  Errors: EDERA_ENOTSUP, open(2)'s (EDERA_EACCES,
 * EDERA_ENOENT...), EDERA_ENOMEM, EDERA_EIO (no writer thread).
 */
EDERA_API int edera_console_log(edera_zone *zone, const char *path);

typedef struct edera_console_stats {
	size_t sz;              /* set by edera_console_stats_init */
	uint64_t output_bytes;  /* read from the guest */
	uint64_t input_bytes;   /* delivered to the guest */
	uint32_t input_queued;  /* waiting for the guest to read */
	uint32_t history_bytes; /* held in the history */
	uint64_t ring_errors;   /* impossible indices seen (a buggy or hostile guest) */
	uint64_t log_errors;    /* failed log writes (the first one stops the log) */
	int connected;          /* non-zero while the ring is served */
	/* the current log file's (edera_console_log), since it was set: */
	uint64_t log_bytes;     /* written to it */
	uint64_t log_dropped;   /* output it lost: its queue was full (a slow file), or
	                           it stopped on an error */
	uint32_t log_queued;    /* waiting for the log writer */
	uint32_t log_rotations; /* times it was rotated (PATH -> PATH.1) */
	/* the console's event channel, while it is served (0 after): */
	uint64_t notifications;      /* handled */
	uint64_t notifications_held; /* times it used up its budget (32 per 10 ms
	                                of notifications bringing under 32 bytes:
	                                a guest notifying in a loop) and waited */
} edera_console_stats;

/* Zero ST and set its sz, before edera_console_stats_get. */
EDERA_API void edera_console_stats_init(edera_console_stats *st);
/* Errors: EDERA_EINVAL, EDERA_ENOTSUP. */
EDERA_API int edera_console_stats_get(edera_zone *zone, edera_console_stats *st);

#ifdef __cplusplus
}
#endif

#endif
