/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_ZONE_INTERNAL_H
#define EDERA_ZONE_INTERNAL_H

#include "edera/zone.h"

/* Free the context's zone handles (the zones keep running). */
void ed_zones_fini(edera_ctx *ctx);

#endif
