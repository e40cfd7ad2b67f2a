/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Raw Xen primitives for building one's own host <-> zone channels:
 * shared pages (grant tables) and notifications (event channels).
 *
 * Both belong to a zone.  When the zone goes away (it exits, is destroyed,
 * or its context closes) the library unmaps, revokes and unbinds whatever
 * is left, even if the caller forgot; the handles then stay valid, but dead
 * (no address, notify fails with EDERA_ENOTCONN), until released or until
 * the zone's handle is freed (edera_zone_destroy, edera_ctx_close), which
 * frees them too.  The memory at the address a share gave stays mapped
 * until then — private zeroed pages take the zone's place in one step — so
 * a thread still touching it when the zone stops (the zone decides when)
 * does not fault.  Handles are used on the context's loop thread only.
 *
 * How the zone learns the grant references and port numbers is up to the
 * caller (XenStore nodes under the zone's data/ directory are the usual way).
 */
#ifndef EDERA_SHARE_H
#define EDERA_SHARE_H

#include <edera/common.h>
#include <edera/zone.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDERA_PAGE_SIZE 4096
/* The most pages one share or mapping may hold. */
#define EDERA_SHARE_MAX_PAGES 1024

typedef struct edera_share edera_share;

enum edera_share_flags {
	EDERA_SHARE_READONLY = 1 /* the other side may only read */
};

/*
 * Share N_PAGES fresh, zeroed host pages with ZONE (writable by it unless
 * FLAGS has EDERA_SHARE_READONLY).  The zone maps them by the grant
 * references edera_share_refs gives (for instance through /dev/xen/gntdev
 * in a Linux guest).  Errors: EDERA_EINVAL (no running zone, N_PAGES 0 or
 * above EDERA_SHARE_MAX_PAGES), EDERA_ENODEV (dom0 cannot grant: module
 * xen-gntalloc not loaded), EDERA_ENOSPC (dom0's gntalloc limit — its
 * module parameter "limit", 1024 pages by default — counts every page
 * shared through it, by any process, until released and unmapped by the
 * zone), EDERA_ENOMEM, EDERA_EIO.
 */
EDERA_API int edera_share_pages(edera_zone *zone, size_t n_pages, int flags, edera_share **out);

/*
 * Map N_PAGES pages ZONE granted to dom0 (REFS are its grant references),
 * contiguously, writable unless FLAGS has EDERA_SHARE_READONLY.  Errors:
 * EDERA_EINVAL (no running zone, bad count), EDERA_EACCES (a reference is
 * not granted to dom0, or read-only and a writable mapping was asked),
 * EDERA_ENOMEM, EDERA_EIO.
 */
EDERA_API int edera_share_map(edera_zone *zone, const uint32_t *refs, size_t n_pages, int flags,
                              edera_share **out);

/* The pages (N * EDERA_PAGE_SIZE bytes); NULL once the zone went away (what
 * was there stays mapped, zeroed, until the handle is freed). */
EDERA_API void *edera_share_addr(const edera_share *share);
EDERA_API size_t edera_share_pages_count(const edera_share *share);
/* The grant references: the host's own (edera_share_pages) or the zone's
 * (edera_share_map).  Valid as long as the handle. */
EDERA_API const uint32_t *edera_share_refs(const edera_share *share);
EDERA_API edera_zone *edera_share_zone(const edera_share *share);

/*
 * Unmap (a mapping) or revoke and free (a share), and free the handle.  A
 * page the zone still has mapped is freed by dom0's kernel once the zone
 * lets go of it (or goes away); the zone keeps what it mapped until then.
 */
EDERA_API void edera_share_release(edera_share *share);

typedef struct edera_evtchn edera_evtchn;

/* The zone notified.  Notifications that arrive before the callback runs
 * coalesce into one call.  A channel's callback runs at most 32 times per
 * 10 ms: past that, notifications wait (coalesced) for the next 10 ms, so
 * a guest notifying in a loop costs the loop bounded time.  CH may be
 * closed inside the callback. */
typedef void (*edera_evtchn_cb)(edera_ctx *ctx, edera_evtchn *ch, void *data);

/*
 * A new event channel whose other end ZONE may bind (its guest binds to
 * dom0's port edera_evtchn_port(CH)).  CB runs on the loop for each
 * notification.  Errors: EDERA_EINVAL (no running zone, CB NULL),
 * EDERA_ENOSPC (no free port), EDERA_ENOMEM, EDERA_EIO.
 */
EDERA_API int edera_evtchn_alloc_unbound(edera_zone *zone, edera_evtchn_cb cb, void *data,
                                         edera_evtchn **out);
/*
 * Bind to REMOTE_PORT, a channel ZONE allocated unbound for dom0.  Xen
 * marks the new port pending as it binds it (a notification sent before
 * the binding is otherwise lost), so CB runs once soon after, whether or
 * not the zone notified.  Errors:
 * EDERA_EINVAL (no running zone, CB NULL; no such unbound port of the
 * zone), EDERA_ENOMEM, EDERA_EIO.
 */
EDERA_API int edera_evtchn_bind(edera_zone *zone, uint32_t remote_port, edera_evtchn_cb cb,
                                void *data, edera_evtchn **out);
/* dom0's port of the channel (0 once the zone went away). */
EDERA_API uint32_t edera_evtchn_port(const edera_evtchn *ch);
EDERA_API edera_zone *edera_evtchn_zone(const edera_evtchn *ch);
/* Signal the zone.  Errors: EDERA_ENOTCONN (the zone went away), EDERA_EIO. */
EDERA_API int edera_evtchn_notify(edera_evtchn *ch);
/* Unbind and free the handle (may be called inside its callback). */
EDERA_API void edera_evtchn_close(edera_evtchn *ch);

#ifdef __cplusplus
}
#endif

#endif
