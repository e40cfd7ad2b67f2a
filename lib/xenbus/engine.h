/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the XenBus device engine: what its three files share.
 *   engine.c    a device's phases and the attach handshake
 *   teardown.c  detach, removal of the nodes, release of the host side,
 *               and the zone going away
 *   device.c    the public API over both */
#ifndef EDERA_XENBUS_ENGINE_H
#define EDERA_XENBUS_ENGINE_H

#include "xenbus/xenbus.h"

#define ED_XB_POLL_MS 20

/* Move D to phase TO; a move the table in engine.c does not allow is a
 * bug in the engine: reported, then abort(). */
void ed_xb_set_phase(edera_device *d, enum ed_xb_phase to);

/* A new device of KIND for ZONE, in phase NEW, its timers ready; freed
 * through ed_xb_maybe_free once DONE. */
int ed_xb_device_new(edera_zone *zone, const struct ed_xb_kind *kind, edera_device **out);
/* Start attaching a device its kind prepared with RC (< 0: it failed,
 * and D goes); CB runs when it is attached or failed.  Returns < 0, D
 * gone, if it could not start. */
int ed_xb_attach(edera_device *d, int rc, unsigned int timeout_ms, edera_device_cb cb, void *data);

/* teardown.c */
/* CLOSING: the ends' states after a detach asked the backend to close. */
void ed_xb_step_closing(edera_device *d);
/* Where a backend's xenbus_dev_error/fatal messages go. */
void ed_xb_error_path(const edera_device *d, char *buf, size_t cap);
/* Take D down with STATUS (< 0: the failure its callback reports, with
 * the thread's message): with CLOSE_FIRST the backend is told Closing and
 * the guest given time; then both ends' nodes go and the host side is
 * released.  Does nothing once D is past CLOSING. */
void ed_xb_teardown(edera_device *d, int status, bool close_first);
/* A request pointing at D settled: true if its callback has nothing more
 * to do (D is being removed, or done and maybe freed). */
bool ed_xb_settled(edera_device *d);
/* Done and no request out: let go of everything (the kind's part, the
 * watches, the timers) and free D when the timers have closed, unless a
 * zone keeps its handle. */
void ed_xb_maybe_free(edera_device *d);

#endif
