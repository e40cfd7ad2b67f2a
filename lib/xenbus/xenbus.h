/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenBus device engine: both ends' XenStore nodes, the state handshake
 * (Initialising -> InitWait -> Initialised -> Connected; Closing -> Closed)
 * watched on the loop, timeouts, and the teardown that leaves nothing.  A
 * small table of operations per kind (vbd.c, vif.c) does the host-side
 * work a hot-plug script would. */
#ifndef EDERA_XENBUS_H
#define EDERA_XENBUS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "edera/device.h"
#include "edera/xenstore.h"
#include "list.h"
#include "xs/batch.h"

enum {
	XB_UNKNOWN = 0,
	XB_INITIALISING = 1,
	XB_INITWAIT = 2,
	XB_INITIALISED = 3,
	XB_CONNECTED = 4,
	XB_CLOSING = 5,
	XB_CLOSED = 6,
};

/* Collects the writes of one device's creation transaction. */
struct ed_xb_writer {
	struct ed_xs_batch batch;
	edera_device *d;
};
void ed_xb_write(struct ed_xb_writer *w, bool backend, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct ed_xb_kind {
	const char *name; /* "vbd", "vif" */
	int kind;         /* EDERA_DEVICE_* */
	/* The kind's own nodes, inside the creation transaction. */
	void (*write)(edera_device *d, struct ed_xb_writer *w);
	/* Once the backend exists (InitWait): the host-side plumbing.  0 when
	 * done, EDERA_EAGAIN to be called again shortly (the interface has not
	 * appeared yet), or an error. */
	int (*plumb)(edera_device *d);
	/* Let go of the host side (close the loop device...). */
	void (*release)(edera_device *d);
	/* True once the host side is really gone (loop device free,
	 * interface removed); polled for a while after release. */
	bool (*gone)(edera_device *d);
	void (*free)(edera_device *d);
};

/* Where a device is, in this order (engine.c moves it, against a table of
 * the moves allowed; it and teardown.c say what each phase does). */
enum ed_xb_phase {
	ED_XB_NEW,       /* made, and prepared by its kind */
	ED_XB_WRITING,   /* both ends' nodes, in one transaction */
	ED_XB_BACKEND,   /* waiting for dom0's backend driver (InitWait) */
	ED_XB_REFUSED,   /* the backend closed instead: reading its reason */
	ED_XB_PLUMB,     /* the kind's host-side work, then hotplug-status */
	ED_XB_FRONTEND,  /* waiting for both ends to be Connected */
	ED_XB_CONNECTED, /* attached */
	ED_XB_CLOSING,   /* detaching: the backend told Closing */
	ED_XB_REMOVING,  /* both ends' nodes being removed */
	ED_XB_RELEASING, /* the host side released, waiting for it to go */
	ED_XB_DONE,      /* finished: freed once nothing points here */
};

struct edera_device {
	struct ed_link link; /* on its zone's devices */
	edera_ctx *ctx;
	edera_zone *zone; /* NULL once the zone is gone */
	char zone_name[72];
	uint32_t domid;
	const struct ed_xb_kind *kind;
	uint32_t id;
	char fe[96], be[96]; /* both ends' directories */
	char host_name[64];
	char mac[18];
	void *priv; /* the kind's */
	enum ed_xb_phase phase; /* changed by ed_xb_set_phase only */
	/* Its ends' states move it no more: its nodes are going, or its
	 * handle was let go with the zone still running. */
	bool muted;
	int fe_state, be_state;
	bool fe_reading, be_reading; /* a read of that end's state is out */
	bool fe_dirty, be_dirty;     /* and it changed again meanwhile */
	edera_xs_watch *fe_watch, *be_watch;
	/* Initialised with the device, re-armed as it goes, closed at its
	 * end: it is freed once both have closed. */
	uv_timer_t deadline; /* attach or detach timeout */
	uv_timer_t poll;     /* plumbing retries, waiting for the host side to go */
	int timers_closed;
	unsigned int polls;
	int status;           /* the failure a teardown is for */
	char msg[512];        /* and its message */
	bool wait_frontend;   /* attach waits for the guest's Connected */
	bool zone_gone;       /* the frontend went with its domain */
	bool counted;         /* in ctx->cleanups and work_pending while tearing down */
	bool cancel;          /* torn down while its nodes were being written */
	int refs;             /* XenStore requests in flight that point here */
	edera_device_cb attach_cb;
	void *attach_data;
	edera_device_done_cb detach_cb;
	void *detach_data;
	unsigned int detach_timeout_ms;
	/* A device its zone lost while attached: the caller may still hold the
	 * handle, so it stays (dead) on the zone handle's list until that is
	 * freed (ed_xb_zone_free), whatever the teardown does meanwhile. */
	bool keep;
	bool released; /* done, everything let go but the memory (ed_xb_maybe_free) */
	struct ed_link dead_link; /* on its zone's dead devices, while kept */
	struct ed_xb_writer nodes; /* the creation transaction's batch */
};

/* For zone creation: attach a disk (DISK non-NULL) or a NIC to a zone being
 * created, without waiting for the guest (it is still paused); CB runs when
 * the backend is ready.  Then ed_xb_await waits for the guest's driver. */
int ed_xb_attach_early(edera_zone *zone, const edera_disk_config *disk,
                       const edera_nic_config *nic, unsigned int timeout_ms, edera_device_cb cb,
                       void *data);
int ed_xb_await(edera_device *d, unsigned int timeout_ms, edera_device_cb cb, void *data);

/* The engine's one way in for a device of any KIND (ed_xb_attach_early
 * uses it; so do the unit tests, with a kind of their own): PREPARE(d, ARG)
 * chooses d->id and fills d->priv (or fails with nothing held, and so does
 * this call); with WAIT_FRONTEND, CB runs once the guest has connected the
 * device, otherwise once the backend is ready.  No check that ZONE runs. */
typedef int (*ed_xb_prepare_fn)(edera_device *d, const void *arg);
int ed_xb_attach_kind(edera_zone *zone, const struct ed_xb_kind *kind, ed_xb_prepare_fn prepare,
                      const void *arg, bool wait_frontend, unsigned int timeout_ms,
                      edera_device_cb cb, void *data);

/* The zone is gone (exited or destroyed): its devices leave it, and remove
 * the backends' nodes and release their host side in the background. */
void ed_xb_zone_gone(edera_zone *zone, const void *quiet);
/* (QUIET: attaches whose callback data is QUIET get no callback.) */
/* The context closes with the zone running: let go of the handles only
 * (the devices stay attached; blkback keeps its loop device). */
void ed_xb_zone_forget(edera_zone *zone);
/* The zone's handle is freed: the dead device handles it kept go with it. */
void ed_xb_zone_free(edera_zone *zone);

/* zone.c */
struct ed_list *ed_zone_devices(edera_zone *zone);
struct ed_list *ed_zone_dead_devices(edera_zone *zone);
uint32_t ed_zone_domid(const edera_zone *zone);
edera_ctx *ed_zone_ctx(const edera_zone *zone);
bool ed_zone_running(const edera_zone *zone);

extern const struct ed_xb_kind ed_vbd_kind;
extern const struct ed_xb_kind ed_vif_kind;

/* vbd.c / vif.c: check a config and prepare D (open the image, set up the
 * loop device; check the bridge, choose the MAC), or fail with nothing
 * held. */
int ed_vbd_prepare(edera_device *d, const edera_disk_config *cfg);
int ed_vif_prepare(edera_device *d, const edera_nic_config *cfg);

#endif
