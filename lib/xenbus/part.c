/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A zone's devices as one of its parts (see zone/part.h).  The disks and
 * NICs a creation asks for are copied when it starts (prepare), their
 * backends set up while the domain is still paused (attach: each device's
 * backend reaches InitWait and its host side is plumbed), and once the
 * domain runs, creation waits for the guest's drivers to connect them
 * (connect).  When the zone stops, its devices' backends go and their
 * host side with them (the engine, xenbus.c, tears each down); a handle
 * freed with the zone still running lets go of the handles only. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "xenbus.h"
#include "zone/part.h"
#include "zone/zone.h"

/* The devices a creation attaches: copies of the caller's configs, then
 * the devices as their backends become ready. */
struct ed_dev_plan {
	edera_disk_config *disks;
	size_t n_disks;
	edera_nic_config *nics;
	size_t n_nics;
	unsigned int timeout_ms;
	edera_device **devs;
	size_t n_devs;
	struct ed_gather *g; /* the creation's, while it waits */
};

static void plan_free(struct ed_dev_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_disks; i++) {
		free((char *)p->disks[i].path);
		free((char *)p->disks[i].vdev);
	}
	for (size_t i = 0; i < p->n_nics; i++) {
		free((char *)p->nics[i].bridge);
		free((char *)p->nics[i].mac);
	}
	free(p->disks);
	free(p->nics);
	free(p->devs);
	free(p);
}

/* A caller's config (of the size its sz says; create.c checked it) copied
 * into one of ours, its strings duplicated. */
#define COPY_CONFIG(dst, src, init)                                                   \
	do {                                                                          \
		init(dst);                                                            \
		memcpy((dst), (src), (src)->sz < sizeof(*(dst)) ? (src)->sz : sizeof(*(dst))); \
		(dst)->sz = sizeof(*(dst));                                           \
	} while (0)

static int devices_prepare(edera_zone *z, const edera_zone_config *c)
{
	struct ed_dev_plan *p;
	bool oom = false;

	if (c->n_disks + c->n_nics == 0)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ed_error(EDERA_ENOMEM, "out of memory");
	z->dev_plan = p;
	p->timeout_ms = c->device_timeout_ms ? c->device_timeout_ms : 60000;
	p->devs = calloc(c->n_disks + c->n_nics, sizeof(*p->devs));
	p->disks = c->n_disks ? calloc(c->n_disks, sizeof(*p->disks)) : NULL;
	p->nics = c->n_nics ? calloc(c->n_nics, sizeof(*p->nics)) : NULL;
	if (!p->devs || (c->n_disks && !p->disks) || (c->n_nics && !p->nics))
		return ed_error(EDERA_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n_disks; i++, p->n_disks++) {
		edera_disk_config *d = &p->disks[i];

		COPY_CONFIG(d, c->disks[i], edera_disk_config_init);
		d->path = ed_strdup_opt(d->path, &oom);
		d->vdev = ed_strdup_opt(d->vdev, &oom);
	}
	for (size_t i = 0; i < c->n_nics; i++, p->n_nics++) {
		edera_nic_config *n = &p->nics[i];

		COPY_CONFIG(n, c->nics[i], edera_nic_config_init);
		n->bridge = ed_strdup_opt(n->bridge, &oom);
		n->mac = ed_strdup_opt(n->mac, &oom);
	}
	return oom ? ed_error(EDERA_ENOMEM, "out of memory") : 0;
}

static void device_attached(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct ed_dev_plan *p = data;

	if (status == 0 && dev)
		p->devs[p->n_devs++] = dev;
	ed_gather_settle(p->g, status);
}

/* Each device's backend, the guest still paused: the first failure stops
 * the rest from starting. */
static int devices_attach(edera_zone *z, struct ed_gather *g)
{
	struct ed_dev_plan *p = z->dev_plan;

	if (!p || !g)
		return 0;
	p->g = g;
	for (size_t i = 0; i < p->n_disks + p->n_nics && g->status == 0; i++)
		ed_gather_issued(g, i < p->n_disks
		                    ? ed_xb_attach_early(z, &p->disks[i], NULL, p->timeout_ms,
		                                         device_attached, p)
		                    : ed_xb_attach_early(z, NULL, &p->nics[i - p->n_disks],
		                                         p->timeout_ms, device_attached, p));
	return 0;
}

static void device_connected(edera_ctx *ctx, int status, edera_device *dev, void *data)
{
	struct ed_dev_plan *p = data;

	ed_gather_settle(p->g, status);
}

/* The guest runs: its drivers connect every device. */
static int devices_connect(edera_zone *z, struct ed_gather *g)
{
	struct ed_dev_plan *p = z->dev_plan;

	if (!p)
		return 0;
	p->g = g;
	for (size_t i = 0; i < p->n_devs && g->status == 0; i++)
		ed_gather_issued(g, ed_xb_await(p->devs[i], p->timeout_ms, device_connected, p));
	return 0;
}

static void devices_created(edera_zone *z)
{
	plan_free(z->dev_plan);
	z->dev_plan = NULL;
}

/* Their backends go, and their loop devices with them; a creation's own
 * attaches and waits end without calling back into it. */
static void devices_stopped(edera_zone *z, bool drain)
{
	ed_xb_zone_gone(z, z->dev_plan);
}

static void devices_free(edera_zone *z)
{
	/* devices still here belong to a zone that keeps running (the
	 * context closes): only their handles go */
	ed_xb_zone_forget(z);
	ed_xb_zone_free(z);
	devices_created(z);
}

const struct ed_zone_part ed_devices_part = {
	.name = "devices",
	.prepare = devices_prepare,
	.attach = devices_attach,
	.connect = devices_connect,
	.created = devices_created,
	.stopped = devices_stopped,
	.forget = ed_xb_zone_forget,
	.free = devices_free,
};
