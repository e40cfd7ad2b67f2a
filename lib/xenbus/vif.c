/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network interfaces (vif), served by dom0's netback.  Once netback has
 * made the host side (vifD.N), it is set up here over rtnetlink (libmnl):
 * MTU, bridge membership, up; then hotplug-status tells netback to go on.
 * Netback removes the interface (and so its bridge port) when the backend
 * goes. */
#include "config.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "xenbus/xenbus.h"

struct vif {
	char bridge[IF_NAMESIZE];
	uint32_t mtu;
};

static int parse_mac(const char *s, uint8_t m[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
	           &end) != 6 || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

int ed_vif_prepare(edera_device *d, const edera_nic_config *cfg)
{
	struct vif *v;
	char p[96];
	struct stat st;
	uint8_t m[6];
	uint32_t id = 0;
	bool taken;

	if (!cfg->bridge || !*cfg->bridge || strlen(cfg->bridge) >= IF_NAMESIZE)
		return ed_error(EDERA_EINVAL, "zone '%s': a network interface needs the name of a "
		                "bridge in dom0", d->zone_name);
	if (if_nametoindex(cfg->bridge) == 0)
		return ed_error(EDERA_ENOENT, "zone '%s': there is no bridge '%s' in dom0 (make one: "
		                "ip link add %s type bridge)", d->zone_name, cfg->bridge, cfg->bridge);
	snprintf(p, sizeof(p), "/sys/class/net/%s/bridge", cfg->bridge);
	if (stat(p, &st) < 0)
		return ed_error(EDERA_EINVAL, "zone '%s': '%s' is a network interface but not a bridge",
		                d->zone_name, cfg->bridge);
	if (cfg->mtu && (cfg->mtu < 68 || cfg->mtu > 65535))
		return ed_error(EDERA_EINVAL, "zone '%s': MTU %u is out of range (68 to 65535)",
		                d->zone_name, cfg->mtu);
	/* the lowest free handle */
	do {
		taken = false;
		ED_LIST_EACH(o, ed_zone_devices(d->zone), edera_device, link)
			if (o->kind == &ed_vif_kind && o->id == id)
				taken = true;
		if (taken)
			id++;
	} while (taken);
	if (cfg->mac) {
		if (parse_mac(cfg->mac, m) < 0)
			return ed_error(EDERA_EINVAL, "zone '%s': MAC '%s': write it as "
			                "aa:bb:cc:dd:ee:ff", d->zone_name, cfg->mac);
		if (m[0] & 1)
			return ed_error(EDERA_EINVAL, "zone '%s': MAC '%s' is a multicast address",
			                d->zone_name, cfg->mac);
	} else {
		/* Stable for the zone and the handle: FNV-1a over both, made
		 * locally administered and unicast. */
		const char *u = edera_zone_uuid(d->zone);
		uint64_t h = 1469598103934665603ull;

		for (const char *c = u; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ull;
		h = (h ^ id) * 1099511628211ull;
		for (int i = 0; i < 6; i++)
			m[i] = (uint8_t)(h >> (8 * i));
		m[0] = (uint8_t)((m[0] & 0xfc) | 0x02);
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return ed_error(EDERA_ENOMEM, "out of memory");
	snprintf(v->bridge, sizeof(v->bridge), "%s", cfg->bridge);
	v->mtu = cfg->mtu ? cfg->mtu : 1500;
	snprintf(d->mac, sizeof(d->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
	         m[4], m[5]);
	d->id = id;
	snprintf(d->host_name, sizeof(d->host_name), "vif%u.%u", d->domid, id);
	d->priv = v;
	return 0;
}

static void vif_write(edera_device *d, struct ed_xb_writer *w)
{
	struct vif *v = d->priv;

	ed_xb_write(w, false, "handle", "%u", d->id);
	ed_xb_write(w, false, "mac", "%s", d->mac);
	ed_xb_write(w, true, "handle", "%u", d->id);
	ed_xb_write(w, true, "mac", "%s", d->mac);
	ed_xb_write(w, true, "bridge", "%s", v->bridge);
	ed_xb_write(w, true, "mtu", "%u", v->mtu);
	ed_xb_write(w, true, "type", "%s", "vif");
	/* netback refuses a backend without it; the work it would name is
	 * done here, so it names nothing */
	ed_xb_write(w, true, "script", "%s", "");
}

/* One RTM_NEWLINK on IFINDEX: MTU, master, up; waits for the kernel's ACK. */
static int link_setup(edera_device *d, unsigned int ifindex, unsigned int master, uint32_t mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	unsigned int seq = (unsigned int)time(NULL), portid;
	ssize_t n;
	int rc = 0;

	if (!nl)
		return ed_error(ed_errno_code(errno), "netlink: %s", strerror(errno));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = ed_error(ed_errno_code(errno), "netlink: %s", strerror(errno));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = ed_error(ed_errno_code(errno), "netlink: %s", strerror(errno));
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0)
		rc = ed_error(ed_errno_code(errno), "setting up %s (MTU %u, bridge, up): %s",
		              d->host_name, mtu, strerror(errno));
out:
	mnl_socket_close(nl);
	return rc;
}

static int vif_plumb(edera_device *d)
{
	struct vif *v = d->priv;
	unsigned int idx = if_nametoindex(d->host_name), br;

	if (idx == 0)
		return EDERA_EAGAIN; /* netback makes it right after InitWait */
	br = if_nametoindex(v->bridge);
	if (br == 0)
		return ed_error(EDERA_ENOENT, "zone '%s': bridge '%s' went away", d->zone_name,
		                v->bridge);
	return link_setup(d, idx, br, v->mtu);
}

static bool vif_gone(edera_device *d)
{
	return if_nametoindex(d->host_name) == 0;
}

static void vif_free(edera_device *d)
{
	free(d->priv);
	d->priv = NULL;
}

const struct ed_xb_kind ed_vif_kind = {
	.name = "vif",
	.kind = EDERA_DEVICE_NIC,
	.write = vif_write,
	.plumb = vif_plumb,
	.release = NULL,
	.gone = vif_gone,
	.free = vif_free,
};
