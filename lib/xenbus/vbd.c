/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disks (vbd), served by dom0's blkback.  An image file is attached
 * through a loop device set up here (LOOP_CONFIGURE with autoclear: the
 * loop device goes away by itself once blkback lets go of it, even if this
 * process is gone by then); a block device is given to blkback directly. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ctx.h"
#include "xenbus/xenbus.h"

struct vbd {
	int loop_fd; /* held until the device is released */
	int loop_nr; /* -1: a block device given directly */
	bool readonly;
	dev_t rdev;
	char path[PATH_MAX];
	char vdev[8];
};

/* "xvda".."xvdp" -> the virtual-device number (major 202, 16 minors each). */
static int vdev_number(const char *v, uint32_t *out)
{
	if (!v || strncmp(v, "xvd", 3) != 0 || v[3] < 'a' || v[3] > 'p' || v[4] != '\0')
		return -1;
	*out = (202u << 8) | ((uint32_t)(v[3] - 'a') << 4);
	return 0;
}

static int read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Is the file ST already behind a loop device?  Fills NAME and whether
 * that one is read-only. */
static bool loop_backing(const struct stat *st, char *name, size_t cap, bool *ro)
{
	DIR *dir = opendir("/sys/block");
	struct dirent *e;
	bool found = false;

	if (!dir)
		return false;
	while (!found && (e = readdir(dir))) {
		char p[PATH_MAX], v[PATH_MAX];
		struct stat bst;

		if (strncmp(e->d_name, "loop", 4) != 0)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", e->d_name);
		if (read_small(p, v, sizeof(v)) < 0 || stat(v, &bst) < 0)
			continue;
		if (bst.st_dev != st->st_dev || bst.st_ino != st->st_ino)
			continue;
		snprintf(name, cap, "/dev/%.*s", (int)(cap > 6 ? cap - 6 : 0), e->d_name);
		snprintf(p, sizeof(p), "/sys/block/%s/ro", e->d_name);
		*ro = read_small(p, v, sizeof(v)) == 0 && v[0] == '1';
		found = true;
	}
	closedir(dir);
	return found;
}

static int setup_loop(edera_device *d, struct vbd *v)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int file, rc = 0;

	if (ctl < 0)
		return ed_error(errno == ENOENT ? EDERA_ENODEV : ed_errno_code(errno),
		                "disk '%s': /dev/loop-control: %s (is the loop module loaded?)",
		                v->path, strerror(errno));
	file = open(v->path, (v->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (file < 0) {
		rc = ed_error(ed_errno_code(errno), "disk image '%s': %s%s", v->path, strerror(errno),
		              errno == EACCES || errno == EROFS ? " (attach it read-only?)" : "");
		close(ctl);
		return rc;
	}
	for (int tries = 0; tries < 16; tries++) {
		struct loop_config lc;
		char dev[32];
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0) {
			rc = ed_error(EDERA_ENODEV, "disk '%s': no free loop device: %s", v->path,
			              strerror(errno));
			break;
		}
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		v->loop_fd = open(dev, (v->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (v->loop_fd < 0) {
			rc = ed_error(ed_errno_code(errno), "disk '%s': %s: %s", v->path, dev,
			              strerror(errno));
			break;
		}
		memset(&lc, 0, sizeof(lc));
		lc.fd = (uint32_t)file;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR | (v->readonly ? LO_FLAGS_READ_ONLY : 0);
		/* informational; a long path is cut short */
		memcpy(lc.info.lo_file_name, v->path,
		       strnlen(v->path, sizeof(lc.info.lo_file_name) - 1));
		if (ioctl(v->loop_fd, LOOP_CONFIGURE, &lc) == 0) {
			v->loop_nr = nr;
			v->rdev = makedev(7, (unsigned int)nr);
			snprintf(d->host_name, sizeof(d->host_name), "%s", dev);
			rc = 0;
			break;
		}
		rc = ed_error(ed_errno_code(errno), "disk '%s': setting up %s: %s", v->path, dev,
		              strerror(errno));
		close(v->loop_fd);
		v->loop_fd = -1;
		if (errno != EBUSY)
			break; /* EBUSY: another took it first; try the next */
	}
	close(file);
	close(ctl);
	return rc;
}

int ed_vbd_prepare(edera_device *d, const edera_disk_config *cfg)
{
	struct vbd *v;
	struct stat st;
	uint32_t id;
	int rc;

	if (!cfg->path || !*cfg->path)
		return ed_error(EDERA_EINVAL, "zone '%s': a disk needs a path (an image file or a "
		                "block device)", d->zone_name);
	if (vdev_number(cfg->vdev, &id) < 0)
		return ed_error(EDERA_EINVAL, "zone '%s': disk '%s': virtual device '%s': use xvda "
		                "to xvdp", d->zone_name, cfg->path, cfg->vdev ? cfg->vdev : "(none)");
	ED_LIST_EACH(o, ed_zone_devices(d->zone), edera_device, link)
		if (o->kind == &ed_vbd_kind && o->id == id)
			return ed_error(EDERA_EEXIST, "zone '%s' already has a disk %s", d->zone_name,
			                cfg->vdev);
	if (stat(cfg->path, &st) < 0)
		return ed_error(ed_errno_code(errno), "zone '%s': disk '%s': %s", d->zone_name,
		                cfg->path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return ed_error(EDERA_EINVAL, "zone '%s': disk '%s' is neither a file nor a block "
		                "device", d->zone_name, cfg->path);
	if (S_ISREG(st.st_mode)) {
		char other[64];
		bool ro = false;

		/* Two writers on one image corrupt it; readers beside a
		 * writer see garbage. */
		if (loop_backing(&st, other, sizeof(other), &ro) && (!ro || !cfg->readonly))
			return ed_error(EDERA_EBUSY,
			                "zone '%s': disk image '%s' is already attached %s (%s); "
			                "share it only read-only everywhere",
			                d->zone_name, cfg->path, ro ? "read-only" : "read-write", other);
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return ed_error(EDERA_ENOMEM, "out of memory");
	v->loop_fd = -1;
	v->loop_nr = -1;
	v->readonly = cfg->readonly != 0;
	snprintf(v->path, sizeof(v->path), "%s", cfg->path);
	snprintf(v->vdev, sizeof(v->vdev), "%s", cfg->vdev);
	if (S_ISBLK(st.st_mode)) {
		v->rdev = st.st_rdev;
		snprintf(d->host_name, sizeof(d->host_name), "%s", cfg->path);
	} else {
		rc = setup_loop(d, v);
		if (rc < 0) {
			free(v);
			return rc;
		}
	}
	d->id = id;
	d->priv = v;
	return 0;
}

static void vbd_write(edera_device *d, struct ed_xb_writer *w)
{
	struct vbd *v = d->priv;

	ed_xb_write(w, false, "virtual-device", "%u", d->id);
	ed_xb_write(w, false, "device-type", "%s", "disk");
	ed_xb_write(w, true, "params", "%s", v->path);
	ed_xb_write(w, true, "type", "%s", "phy");
	ed_xb_write(w, true, "mode", "%s", v->readonly ? "r" : "w");
	ed_xb_write(w, true, "removable", "%d", 0);
	ed_xb_write(w, true, "bootable", "%d", 1);
	ed_xb_write(w, true, "dev", "%s", v->vdev);
	ed_xb_write(w, true, "device-type", "%s", "disk");
	ed_xb_write(w, true, "physical-device-path", "%s", d->host_name);
	/* what blkback opens: written with the rest, so it opens at probe */
	ed_xb_write(w, true, "physical-device", "%x:%x", major(v->rdev), minor(v->rdev));
}

static void vbd_release(edera_device *d)
{
	struct vbd *v = d->priv;

	if (v && v->loop_fd >= 0) {
		close(v->loop_fd);
		v->loop_fd = -1;
	}
}

static bool vbd_gone(edera_device *d)
{
	struct vbd *v = d->priv;
	char p[96], val[PATH_MAX];

	if (!v || v->loop_nr < 0)
		return true;
	/* autoclear unbinds it once blkback has closed it */
	snprintf(p, sizeof(p), "/sys/block/loop%d/loop/backing_file", v->loop_nr);
	return read_small(p, val, sizeof(val)) < 0;
}

static void vbd_free(edera_device *d)
{
	vbd_release(d);
	free(d->priv);
	d->priv = NULL;
}

const struct ed_xb_kind ed_vbd_kind = {
	.name = "vbd",
	.kind = EDERA_DEVICE_DISK,
	.write = vbd_write,
	.plumb = NULL,
	.release = vbd_release,
	.gone = vbd_gone,
	.free = vbd_free,
};
