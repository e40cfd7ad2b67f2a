/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context's event channels: one xenevtchn handle whose fd is polled on
 * the loop, and a table from local port to handler.  A port that fired
 * stays masked until its handler (or later code) calls ed_port_unmask, so a
 * guest that notifies in a loop costs one wake-up per unmask, not one per
 * notification. */
#ifndef EDERA_HV_EVTCHN_H
#define EDERA_HV_EVTCHN_H

#include <stdbool.h>
#include <stdint.h>

#include "edera/ctx.h"

struct ed_port;
typedef void (*ed_port_fn)(struct ed_port *port, void *data);

/* Bind to REMOTE_PORT of domain DOMID (a channel the domain, or its
 * builder, left unbound for dom0).  FN runs on the loop when the domain
 * notifies.  Errors: EDERA_EINVAL (no such unbound port), EDERA_ENOMEM, ... */
int ed_port_bind(edera_ctx *ctx, uint32_t domid, uint32_t remote_port, ed_port_fn fn,
                 void *data, struct ed_port **out);
/* A new channel whose other end domain DOMID may bind.  Errors:
 * EDERA_ENOSPC (no free port), EDERA_ENOMEM, ... */
int ed_port_alloc_unbound(edera_ctx *ctx, uint32_t domid, ed_port_fn fn, void *data,
                          struct ed_port **out);
uint32_t ed_port_local(const struct ed_port *port);
/* Signal the other end. */
int ed_port_notify(struct ed_port *port);
/* Charged notifications a port may deliver per window: past that, its
 * unmask is held until the window ends (see evtchn.c). */
#define ED_PORT_WINDOW_MS 10
#define ED_PORT_BUDGET 32
/* Let the port fire again: at once, or when its window ends if it used up
 * its budget.  CHARGE: the notification that fired it counts against the
 * budget (it did no work the owner can see, or the owner cannot tell). */
void ed_port_unmask(struct ed_port *port, bool charge);
/* Notifications handled, and times the port was held for its budget. */
void ed_port_stats(const struct ed_port *port, uint64_t *events, uint64_t *throttled);
/* Unbind and free (never from inside the port's own FN while it still uses
 * PORT afterwards). */
void ed_port_close(struct ed_port *port);

/* At context close, once every port is closed: stop polling. */
void ed_evtchn_fini(edera_ctx *ctx);

#endif
