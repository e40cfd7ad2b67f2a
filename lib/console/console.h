/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-process console backend of one zone (see include/edera/console.h).
 * part.c ties it to its zone's life: created with the zone, connected
 * once the domain exists, disconnected when it stops, freed with the
 * handle. */
#ifndef EDERA_CONSOLE_BACKEND_H
#define EDERA_CONSOLE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "edera/console.h"

struct ed_console;

/* A console for ZONE keeping HISTORY bytes of output (0: none). */
int ed_console_new(edera_ctx *ctx, edera_zone *zone, size_t history, struct ed_console **out);
/* Map the ring (by the reserved grant, else by frame MFN) and bind the
 * event channel REMOTE_PORT of DOMID; output then flows. */
int ed_console_connect(struct ed_console *c, uint32_t domid, uint64_t mfn, uint32_t remote_port);
/* Stop serving: with DRAIN, output still in the ring is delivered first.
 * The history and subscriptions stay. */
void ed_console_disconnect(struct ed_console *c, bool drain);
void ed_console_free(struct ed_console *c);
/* The size at which its log rotates (edera_zone_config.console_log_max_kib);
 * set before edera_console_log. */
void ed_console_log_max(struct ed_console *c, uint64_t max_bytes);

/* At context close, after every zone handle is gone. */
void ed_consoles_fini(edera_ctx *ctx);

/* zone.c: the zone's console, or NULL when xenconsoled serves it. */
struct ed_console *ed_zone_console(edera_zone *zone);

#endif
