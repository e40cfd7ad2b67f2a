/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest's side of a channel (edera/channel.h), for programs in a zone:
 * edera-zone-init and the channel test guest.  It finds the channel NAME in
 * XenStore (data/edera-channel/NAME, through /dev/xen/xenbus), maps the
 * host's pages (/dev/xen/gntdev) and binds its event channel
 * (/dev/xen/evtchn).  The host's indices are checked before every use: a
 * bad one is an error (EPROTO), never a read or write outside the rings. */
#ifndef EDERA_ZCHAN_H
#define EDERA_ZCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "edera/channel.h"

struct zchan {
	volatile struct edera_channel_shared *sh;
	volatile uint8_t *h2g, *g2h;
	uint32_t ring_size; /* bytes of each ring */
	uint32_t h2g_cons, g2h_prod;
	int evfd; /* poll it for POLLIN, then zchan_events() */
	int port;
	/* the frame being received */
	uint32_t rx_hdr[2];
	uint32_t rx_got; /* bytes of header and payload so far */
	uint8_t rx_buf[EDERA_CHANNEL_FRAME_MAX];
};

/* Find and map channel NAME, waiting up to WAIT_MS (< 0: without end) for
 * the host to publish it (a XenStore watch: no polling), or until STOP_FD
 * (-1: none) polls readable (errno ECANCELED).  0, or -1 with errno set
 * and WHAT naming the step that failed. */
int zchan_open(struct zchan *c, const char *name, int wait_ms, int stop_fd, const char **what);

/* Read (and re-arm) pending notifications; call when evfd polls readable. */
void zchan_events(struct zchan *c);

/* Tell the host the indices moved. */
void zchan_notify(struct zchan *c);

/* Free bytes in the guest-to-host ring (-1: the host's index is bad). */
long zchan_room(struct zchan *c);

/* Bytes written that the host has not consumed yet. */
uint32_t zchan_unread(struct zchan *c);

/* Queue one frame (TYPE; A then B as its payload) if it fits whole in the
 * ring now: 1 sent, 0 no room yet (nothing written), -1 (errno EPROTO: the
 * host's index is bad; EMSGSIZE: larger than the ring or a frame). */
int zchan_try_send(struct zchan *c, uint32_t type, const void *a, uint32_t alen, const void *b,
                   uint32_t blen);

/* The same, waiting for room (polls evfd): 0 or -1. */
int zchan_send(struct zchan *c, uint32_t type, const void *a, uint32_t alen, const void *b,
               uint32_t blen);

/* Take in what the host wrote: 1 when a whole frame is in rx_buf (type
 * rx_hdr[1], length rx_hdr[0]; the next call starts the next frame), 0 when
 * none yet, -1 on a bad index or a frame longer than
 * EDERA_CHANNEL_FRAME_MAX (errno EPROTO). */
int zchan_recv(struct zchan *c);

#endif
