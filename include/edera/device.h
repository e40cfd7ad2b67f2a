/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PV split devices: disks (vbd, served by dom0's blkback) and network
 * interfaces (vif, served by netback), wired by the library itself — the
 * XenStore nodes of both ends, the XenBus handshake, and the host-side work
 * hot-plug scripts do for xl (loop devices, bridge membership), without
 * scripts.
 *
 * A device is attached when both ends report Connected: the guest's driver
 * took it.  Attaching waits for that, so a guest without the driver (or one
 * still booting for longer than the timeout) fails the attach with
 * EDERA_ETIMEDOUT — and then nothing is left: no XenStore node, no loop
 * device, no interface.  Devices go away with their zone.
 *
 * Handles: a device handle (an attach's result, or found with
 * edera_device_next) is valid until its detach completes, or until its
 * zone's handle is freed (edera_zone_destroy completes, or the context
 * closes).  When the zone stops on its own (the guest decides when), its
 * devices are torn down and their handles stay valid but dead:
 * edera_device_detach returns EDERA_ENOTCONN; the kind, id, host name and
 * MAC still say what the device was.
 */
#ifndef EDERA_DEVICE_H
#define EDERA_DEVICE_H

#include <edera/common.h>
#include <edera/zone.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edera_device edera_device;

typedef struct edera_disk_config {
	size_t sz;          /* set by edera_disk_config_init */
	const char *path;   /* an image file (attached through a loop device the
	                       library sets up) or a block device; required */
	const char *vdev;   /* the guest's name for it: "xvda" ... "xvdp"; required */
	int readonly;       /* non-zero: the guest cannot write */
} edera_disk_config;

typedef struct edera_nic_config {
	size_t sz;          /* set by edera_nic_config_init */
	const char *bridge; /* a Linux bridge in dom0 the interface joins; required */
	const char *mac;    /* "aa:bb:cc:dd:ee:ff", or NULL: a stable locally
	                       administered one derived from the zone's UUID */
	uint32_t mtu;       /* 0: 1500 */
} edera_nic_config;

/* Zero CFG and set its sz: the defaults, before the fields are filled. */
EDERA_API void edera_disk_config_init(edera_disk_config *cfg);
EDERA_API void edera_nic_config_init(edera_nic_config *cfg);

/* STATUS 0: DEV is attached and connected.  Otherwise DEV is NULL and
 * nothing of it is left. */
typedef void (*edera_device_cb)(edera_ctx *ctx, int status, edera_device *dev, void *data);

/*
 * Attach a disk or a network interface to a running zone.  TIMEOUT_MS
 * (0: 30 s) bounds the wait for the guest's driver to connect.
 * Errors at once: EDERA_EINVAL (bad config: what and why), EDERA_ENOENT
 * (no such image or bridge), EDERA_EBUSY (image attached read-write
 * elsewhere, or read-write wanted where it is attached), EDERA_EEXIST
 * (virtual device in use in this zone), EDERA_ENODEV (no free loop device).
 * Errors in CB: EDERA_ETIMEDOUT, EDERA_EIO (the backend refused: its
 * message in edera_last_error), XenStore's.
 */
EDERA_API int edera_zone_attach_disk(edera_zone *zone, const edera_disk_config *cfg,
                                     unsigned int timeout_ms, edera_device_cb cb, void *data);
EDERA_API int edera_zone_attach_nic(edera_zone *zone, const edera_nic_config *cfg,
                                    unsigned int timeout_ms, edera_device_cb cb, void *data);
/* Blocking forms (OUT may be NULL). */
EDERA_API int edera_zone_attach_disk_sync(edera_zone *zone, const edera_disk_config *cfg,
                                          unsigned int timeout_ms, edera_device **out);
EDERA_API int edera_zone_attach_nic_sync(edera_zone *zone, const edera_nic_config *cfg,
                                         unsigned int timeout_ms, edera_device **out);

/*
 * Detach: ask the guest to let go (Closing), wait up to TIMEOUT_MS (0: 10 s)
 * for the backend to close, then remove both ends' nodes and release the
 * host side (loop device, interface).  A guest that does not answer is
 * detached anyway once the time is up.  CB (may be NULL) runs when all is
 * released; DEV is valid during CB and freed after.  Errors here:
 * EDERA_EBUSY (still attaching, or already detaching), EDERA_ENOTCONN (its
 * zone is gone: the device went with it).
 */
typedef void (*edera_device_done_cb)(edera_ctx *ctx, int status, void *data);
EDERA_API int edera_device_detach(edera_device *dev, unsigned int timeout_ms,
                                  edera_device_done_cb cb, void *data);
EDERA_API int edera_device_detach_sync(edera_device *dev, unsigned int timeout_ms);

enum edera_device_kind { EDERA_DEVICE_DISK = 1, EDERA_DEVICE_NIC = 2 };

/* What DEV is: EDERA_DEVICE_DISK or EDERA_DEVICE_NIC (0 for a NULL DEV). */
EDERA_API int edera_device_kind(const edera_device *dev);
/* The XenBus device id (a disk's virtual-device number, a NIC's handle). */
EDERA_API uint32_t edera_device_id(const edera_device *dev);
/* The host side: "/dev/loop3" (or the block device given) for a disk,
 * "vif5.0" for a NIC. */
EDERA_API const char *edera_device_host_name(const edera_device *dev);
/* A NIC's MAC address ("02:..."); NULL for a disk. */
EDERA_API const char *edera_device_mac(const edera_device *dev);
/* The zone's devices: PREV NULL gives the first; NULL at the end. */
EDERA_API edera_device *edera_device_next(edera_zone *zone, edera_device *prev);

#ifdef __cplusplus
}
#endif

#endif
