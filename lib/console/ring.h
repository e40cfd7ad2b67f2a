/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PV console rings (xen/io/console.h: a 1 KiB "in" ring the host
 * writes, a 2 KiB "out" ring the guest writes), as pure functions over a
 * snapshot of the indices.  The guest owns out_prod and in_cons and may
 * write anything there: every function checks the indices it is given
 * before touching the ring, and never reads or writes outside it. */
#ifndef EDERA_CONSOLE_RING_H
#define EDERA_CONSOLE_RING_H

#include <stddef.h>
#include <stdint.h>

/* Copy up to MAX bytes the guest produced, from CONS towards PROD, out of
 * RING (SIZE bytes, a power of two) into DST.  Returns the count (the new
 * consumer index is CONS + count), or -1 if the indices are impossible
 * (PROD - CONS > SIZE: the guest wrote garbage; the caller resynchronises,
 * e.g. by setting its consumer index to PROD, and copies nothing). */
long ed_ring_read(const volatile uint8_t *ring, uint32_t size, uint32_t cons, uint32_t prod,
                  uint8_t *dst, size_t max);

/* Copy up to LEN bytes of SRC into RING (SIZE bytes, a power of two) at
 * PROD, as far as the guest's consumer index CONS leaves room.  Returns the
 * count (the new producer index is PROD + count; 0 when full), or -1 if the
 * indices are impossible (PROD - CONS > SIZE). */
long ed_ring_write(volatile uint8_t *ring, uint32_t size, uint32_t cons, uint32_t prod,
                   const uint8_t *src, size_t len);

#endif
