/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "kcache.h"

void ed_kcache_init(struct ed_kcache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

static void release(struct ed_kimage *img)
{
	if (--img->refs == 0) {
		ed_kernel_free(&img->k);
		free(img);
	}
}

void ed_kcache_fini(struct ed_kcache *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->last)
		release(c->last);
	c->last = NULL;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
}

static bool same_file(const struct ed_kimage *img, const struct stat *st)
{
	return img->dev == st->st_dev && img->ino == st->st_ino && img->size == st->st_size &&
	       img->mtime.tv_sec == st->st_mtim.tv_sec && img->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int ed_kcache_get(struct ed_kcache *c, const char *path, struct ed_kimage **out)
{
	struct ed_kimage *img;
	struct stat st;
	char what[512];
	uint8_t *data;
	size_t len;
	int rc;

	*out = NULL;
	if (stat(path, &st) < 0)
		return ed_error(errno == ENOENT ? EDERA_ENOENT : ed_errno_code(errno),
		                "kernel image '%s': %s", path, strerror(errno));
	pthread_mutex_lock(&c->lock);
	if (c->last && same_file(c->last, &st)) {
		c->last->refs++;
		c->hits++;
		*out = c->last;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	c->misses++;
	pthread_mutex_unlock(&c->lock);

	/* Parse outside the lock: other builds go on meanwhile. */
	img = calloc(1, sizeof(*img));
	if (!img)
		return ed_error(EDERA_ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "kernel image '%s'", path);
	rc = ed_read_file(path, "kernel image", ED_KERNEL_MAX, &data, &len);
	if (rc == 0) {
		rc = ed_kernel_parse(&img->k, data, len, what);
		free(data);
	}
	if (rc < 0) {
		free(img);
		return rc;
	}
	img->dev = st.st_dev;
	img->ino = st.st_ino;
	img->size = st.st_size;
	img->mtime = st.st_mtim;
	img->refs = 2; /* the caller's and the cache's */
	pthread_mutex_lock(&c->lock);
	if (c->last)
		release(c->last);
	c->last = img;
	pthread_mutex_unlock(&c->lock);
	*out = img;
	return 0;
}

void ed_kcache_put(struct ed_kcache *c, struct ed_kimage *img)
{
	if (!img)
		return;
	pthread_mutex_lock(&c->lock);
	release(img);
	pthread_mutex_unlock(&c->lock);
}
