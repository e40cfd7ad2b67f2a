/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Channels: framed messages between the library and a program in a zone —
 * the zone's init (workloads), or a caller's own agent.
 *
 * Transport: a ring of the library's own in pages shared with the zone
 * (edera/share.h) and an event channel, rather than a secondary PV console.
 * A console is a terminal in the guest (line discipline, echo, control
 * characters: a program must put it in raw mode and still shares it with
 * whatever the kernel prints there), its rings are 1 and 2 KiB, and its
 * backend would be one more XenBus device to serve.  Rings of our own are
 * binary-safe, sized by the caller (up to 64 pages each way), need no
 * backend handshake (the host writes, the guest maps whenever it starts),
 * and use only what any Linux guest has: /dev/xen/gntdev and
 * /dev/xen/evtchn (modules xen-gntdev, xen-evtchn).
 *
 * Layout: 1 + 2 * RING_PAGES pages granted to the zone, writable: page 0 is
 * struct edera_channel_shared, then the host-to-guest ring (RING_PAGES
 * pages), then the guest-to-host ring.  Each ring is a byte ring indexed
 * by free-running 32-bit producer and consumer indices (as the PV console's):
 * the host owns h2g_prod and g2h_cons, the guest h2g_cons and g2h_prod; the
 * producer writes data, then (after a write barrier) its index, then
 * notifies.  A frame is a little-endian uint32 payload length, a uint32
 * type and the payload; a frame's length is at most
 * EDERA_CHANNEL_FRAME_MAX.  The zone finds the channel in XenStore:
 * /local/domain/DOMID/data/edera-channel/NAME = "PORT RING_PAGES REF,REF,..."
 * (dom0's event channel port for the guest to bind, and the grant
 * references of the pages in order).
 *
 * The guest is not trusted: indices it writes that cannot be (more in the
 * ring than its size) or a frame longer than EDERA_CHANNEL_FRAME_MAX end
 * the channel with EDERA_EPROTO (counted in errors); a guest that writes
 * without end is served in slices (at most 256 KiB per loop turn), and
 * what the host sends waits in a bounded queue (edera_channel_send
 * refuses with EDERA_EAGAIN when it is full: back-pressure).
 *
 * Handles: a channel lives until edera_channel_close, or until its zone's
 * handle is freed (edera_zone_destroy completes, edera_ctx_close), which
 * frees it too.  When the zone stops, the frames it had written are still
 * delivered, then on_end runs with EDERA_ENOTCONN.  Used on the context's
 * loop thread only.
 */
#ifndef EDERA_CHANNEL_H
#define EDERA_CHANNEL_H

#include <edera/common.h>
#include <edera/zone.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edera_channel edera_channel;

/* The longest frame payload, either way. */
#define EDERA_CHANNEL_FRAME_MAX (64 * 1024)
/* Ring pages each way: default and most. */
#define EDERA_CHANNEL_RING_PAGES_DEFAULT 4
#define EDERA_CHANNEL_RING_PAGES_MAX     64
/* The send queue's default size (KiB), beyond what the ring holds. */
#define EDERA_CHANNEL_QUEUE_KIB_DEFAULT 1024

#define EDERA_CHANNEL_MAGIC   0x48434445u /* "EDCH" */
#define EDERA_CHANNEL_VERSION 1

/* Page 0 of a channel's pages.  Each index has a cache line of its own. */
struct edera_channel_shared {
	uint32_t magic;      /* EDERA_CHANNEL_MAGIC (written by the host) */
	uint32_t version;    /* EDERA_CHANNEL_VERSION */
	uint32_t ring_pages; /* pages of each ring */
	uint32_t pad0[13];
	uint32_t h2g_prod; /* host-to-guest ring: the host writes at this index */
	uint32_t pad1[15];
	uint32_t h2g_cons; /* ... the guest has read up to this one */
	uint32_t pad2[15];
	uint32_t g2h_prod; /* guest-to-host ring: the guest writes at this index */
	uint32_t pad3[15];
	uint32_t g2h_cons; /* ... the host has read up to this one */
	uint32_t pad4[15];
};

/* A frame arrived: TYPE and LEN bytes of PAYLOAD (valid during the call).
 * The channel may be closed inside the callback. */
typedef void (*edera_channel_frame_cb)(edera_ctx *ctx, edera_channel *ch, uint32_t type,
                                       const void *payload, size_t len, void *data);
/* The channel ended: EDERA_ENOTCONN (the zone stopped or went away),
 * EDERA_EPROTO (the guest broke the protocol: edera_last_error says how).
 * Sending fails from then on; close it (also allowed inside the callback). */
typedef void (*edera_channel_end_cb)(edera_ctx *ctx, edera_channel *ch, int status, void *data);
/* The send queue drained after a send was refused with EDERA_EAGAIN. */
typedef void (*edera_channel_writable_cb)(edera_ctx *ctx, edera_channel *ch, void *data);

typedef struct edera_channel_config {
	size_t sz;           /* set by edera_channel_config_init */
	const char *name;    /* 1 to 32 of a-z, 0-9, '-': the XenStore key; required */
	uint32_t ring_pages; /* each way, 1 to EDERA_CHANNEL_RING_PAGES_MAX (0: the default) */
	uint32_t queue_kib;  /* send queue (0: the default; at least 65) */
	edera_channel_frame_cb on_frame;       /* required */
	edera_channel_end_cb on_end;           /* may be NULL */
	edera_channel_writable_cb on_writable; /* may be NULL */
	void *data;
} edera_channel_config;

/* Zero CFG and set its sz: the defaults, before the fields are filled. */
EDERA_API void edera_channel_config_init(edera_channel_config *cfg);

/*
 * Open a channel to the running ZONE: share its pages, allocate its event
 * channel and publish both in XenStore.  The node is written
 * asynchronously (a guest program waits for it); frames sent meanwhile
 * wait in the ring.  Errors at once: EDERA_EINVAL (bad config: what and
 * why; no running zone), EDERA_EEXIST (a channel of that name is open on
 * the zone), EDERA_ENODEV / EDERA_ENOSPC (pages cannot be granted: see
 * edera_share_pages), EDERA_ENOMEM.
 */
EDERA_API int edera_channel_open(edera_zone *zone, const edera_channel_config *cfg,
                                 edera_channel **out);

/*
 * Send a frame: queued whole (0), or refused whole with EDERA_EAGAIN when
 * the queue is full (on_writable runs once it has drained).  Errors:
 * EDERA_EINVAL (LEN above EDERA_CHANNEL_FRAME_MAX), EDERA_ENOTCONN (the
 * channel ended).
 */
EDERA_API int edera_channel_send(edera_channel *ch, uint32_t type, const void *payload, size_t len);

/*
 * Stop taking frames from the guest (HOLD non-zero), or take them again
 * (0): while held, on_frame does not run, the guest's ring fills and its
 * writes wait — back-pressure toward the zone for a caller that cannot
 * take more (a slow reader of the workload's output).  Errors: EDERA_EINVAL.
 */
EDERA_API int edera_channel_hold(edera_channel *ch, int hold);

/* Revoke the pages, unbind the port, remove the XenStore node and free the
 * handle (allowed inside the channel's callbacks). */
EDERA_API void edera_channel_close(edera_channel *ch);

/* The zone CH belongs to (NULL for a NULL CH). */
EDERA_API edera_zone *edera_channel_zone(const edera_channel *ch);

typedef struct edera_channel_stats {
	size_t sz;           /* set by edera_channel_stats_init */
	uint64_t frames_in;  /* delivered to on_frame */
	uint64_t bytes_in;   /* their payloads */
	uint64_t frames_out; /* sent (queued) */
	uint64_t bytes_out;
	uint32_t queued; /* bytes waiting to go into the ring */
	uint32_t errors; /* protocol errors (each ends the channel) */
	int ended;       /* the status on_end got, or 0 */
} edera_channel_stats;

/* Zero ST and set its sz, before edera_channel_stats_get. */
EDERA_API void edera_channel_stats_init(edera_channel_stats *st);
/* Errors: EDERA_EINVAL. */
EDERA_API int edera_channel_stats_get(const edera_channel *ch, edera_channel_stats *st);

#ifdef __cplusplus
}
#endif

#endif
