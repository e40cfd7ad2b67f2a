/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device API (edera/device.h) and the zone layer's way in, over the
 * engine (engine.c, teardown.c).  An attach checks its arguments, then
 * makes a device (NEW), lets its kind prepare it (vbd.c, vif.c) and hands
 * it to ed_xb_attach; a detach hands an attached device to ed_xb_teardown.
 * The blocking forms wait on the asynchronous ones; the getters read the
 * handle, alive or dead. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xenbus/engine.h"

void edera_disk_config_init(edera_disk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

void edera_nic_config_init(edera_nic_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
}

/* WHAT NULL: the zone layer's own call, for a zone still being created. */
static int check_zone(edera_zone *zone, const char *what)
{
	if (!zone)
		return ed_error(EDERA_EINVAL, "%s: zone is NULL", what ? what : "(null)");
	if (what && !ed_zone_running(zone))
		return ed_error(EDERA_EINVAL, "%s: zone '%s' is not running", what,
		                edera_zone_name(zone));
	return 0;
}

static int attach_kind(edera_zone *zone, const struct ed_xb_kind *kind, ed_xb_prepare_fn prepare,
                       const void *arg, bool wait_frontend, unsigned int timeout_ms,
                       edera_device_cb cb, void *data)
{
	edera_device *d;
	int rc = ed_xb_device_new(zone, kind, &d);

	if (rc < 0)
		return rc;
	d->wait_frontend = wait_frontend;
	return ed_xb_attach(d, prepare(d, arg), timeout_ms, cb, data);
}

int ed_xb_attach_kind(edera_zone *zone, const struct ed_xb_kind *kind, ed_xb_prepare_fn prepare,
                      const void *arg, bool wait_frontend, unsigned int timeout_ms,
                      edera_device_cb cb, void *data)
{
	int rc = check_zone(zone, NULL);

	return rc < 0 ? rc
	              : attach_kind(zone, kind, prepare, arg, wait_frontend, timeout_ms, cb, data);
}

static int prepare_disk(edera_device *d, const void *cfg)
{
	return ed_vbd_prepare(d, cfg);
}

static int prepare_nic(edera_device *d, const void *cfg)
{
	return ed_vif_prepare(d, cfg);
}

int ed_xb_attach_early(edera_zone *zone, const edera_disk_config *disk, const edera_nic_config *nic,
                       unsigned int timeout_ms, edera_device_cb cb, void *data)
{
	if (disk)
		return ed_xb_attach_kind(zone, &ed_vbd_kind, prepare_disk, disk, false, timeout_ms,
		                         cb, data);
	return ed_xb_attach_kind(zone, &ed_vif_kind, prepare_nic, nic, false, timeout_ms, cb, data);
}

int edera_zone_attach_disk(edera_zone *zone, const edera_disk_config *cfg, unsigned int timeout_ms,
                           edera_device_cb cb, void *data)
{
	edera_disk_config c;
	int rc = check_zone(zone, "edera_zone_attach_disk");

	if (rc < 0)
		return rc;
	if (!cfg || !cb)
		return ed_error(EDERA_EINVAL, "edera_zone_attach_disk: cfg and cb are required");
	rc = ed_sized_check(cfg, cfg->sz, sizeof(*cfg), "edera_disk_config");
	if (rc < 0)
		return rc;
	edera_disk_config_init(&c);
	memcpy(&c, cfg, cfg->sz < sizeof(c) ? cfg->sz : sizeof(c));
	return attach_kind(zone, &ed_vbd_kind, prepare_disk, &c, true, timeout_ms, cb, data);
}

int edera_zone_attach_nic(edera_zone *zone, const edera_nic_config *cfg, unsigned int timeout_ms,
                          edera_device_cb cb, void *data)
{
	edera_nic_config c;
	int rc = check_zone(zone, "edera_zone_attach_nic");

	if (rc < 0)
		return rc;
	if (!cfg || !cb)
		return ed_error(EDERA_EINVAL, "edera_zone_attach_nic: cfg and cb are required");
	rc = ed_sized_check(cfg, cfg->sz, sizeof(*cfg), "edera_nic_config");
	if (rc < 0)
		return rc;
	edera_nic_config_init(&c);
	memcpy(&c, cfg, cfg->sz < sizeof(c) ? cfg->sz : sizeof(c));
	return attach_kind(zone, &ed_vif_kind, prepare_nic, &c, true, timeout_ms, cb, data);
}

struct sync_attach {
	struct ed_sync s; /* first */
	edera_device *dev;
};

static void sync_attached(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct sync_attach *s = data;

	s->dev = dev;
	ed_sync_finish(&s->s, status);
}

static int attach_sync(edera_zone *zone, int disk, const void *cfg, unsigned int timeout_ms,
                       edera_device **out)
{
	struct sync_attach s;
	int rc;

	if (out)
		*out = NULL;
	if (!zone)
		return ed_error(EDERA_EINVAL, "attach: zone is NULL");
	rc = ed_ctx_check_blocking(ed_zone_ctx(zone), disk ? "edera_zone_attach_disk_sync"
	                                                   : "edera_zone_attach_nic_sync");
	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	rc = disk ? edera_zone_attach_disk(zone, cfg, timeout_ms, sync_attached, &s)
	          : edera_zone_attach_nic(zone, cfg, timeout_ms, sync_attached, &s);
	rc = ed_sync_wait(ed_zone_ctx(zone), rc, &s.s);
	if (rc == 0 && out)
		*out = s.dev;
	return rc;
}

int edera_zone_attach_disk_sync(edera_zone *zone, const edera_disk_config *cfg,
                                unsigned int timeout_ms, edera_device **out)
{
	return attach_sync(zone, 1, cfg, timeout_ms, out);
}

int edera_zone_attach_nic_sync(edera_zone *zone, const edera_nic_config *cfg,
                               unsigned int timeout_ms, edera_device **out)
{
	return attach_sync(zone, 0, cfg, timeout_ms, out);
}

int edera_device_detach(edera_device *d, unsigned int timeout_ms, edera_device_done_cb cb,
                        void *data)
{
	if (!d)
		return ed_error(EDERA_EINVAL, "edera_device_detach: dev is NULL");
	if (d->zone_gone)
		return ed_error(EDERA_ENOTCONN,
		                "%s device %u: its zone '%s' is gone (the device "
		                "went with it)",
		                d->kind->name, d->id, d->zone_name);
	if (d->phase < ED_XB_CONNECTED)
		return ed_error(EDERA_EBUSY, "%s device %u is still being attached", d->kind->name,
		                d->id);
	if (d->phase > ED_XB_CONNECTED)
		return ed_error(EDERA_EBUSY, "%s device %u is already being detached",
		                d->kind->name, d->id);
	d->detach_cb = cb;
	d->detach_data = data;
	d->detach_timeout_ms = timeout_ms;
	ed_xb_teardown(d, 0, true);
	return 0;
}

static void sync_detached(edera_ctx *ctx, int status, void *data)
{
	ed_sync_finish(data, status);
}

int edera_device_detach_sync(edera_device *d, unsigned int timeout_ms)
{
	struct ed_sync s = { 0 };
	edera_ctx *ctx;
	int rc;

	if (!d)
		return ed_error(EDERA_EINVAL, "edera_device_detach_sync: dev is NULL");
	ctx = d->ctx;
	rc = ed_ctx_check_blocking(ctx, "edera_device_detach_sync");
	if (rc < 0)
		return rc;
	return ed_sync_wait(ctx, edera_device_detach(d, timeout_ms, sync_detached, &s), &s);
}

int edera_device_kind(const edera_device *d)
{
	return d ? d->kind->kind : 0;
}

uint32_t edera_device_id(const edera_device *d)
{
	return d ? d->id : 0;
}

const char *edera_device_host_name(const edera_device *d)
{
	return d ? d->host_name : NULL;
}

const char *edera_device_mac(const edera_device *d)
{
	return d && d->mac[0] ? d->mac : NULL;
}

edera_device *edera_device_next(edera_zone *zone, edera_device *prev)
{
	edera_device *d;

	if (!zone)
		return NULL;
	d = prev ? ed_list_next(prev, edera_device, link)
	         : ed_list_first(ed_zone_devices(zone), edera_device, link);
	/* only attached ones */
	while (d && d->phase != ED_XB_CONNECTED)
		d = ed_list_next(d, edera_device, link);
	return d;
}
