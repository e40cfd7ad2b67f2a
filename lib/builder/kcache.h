/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsed kernel images, shared and cached: creating many zones from one
 * kernel reads and decompresses it once (tens of MiB of xz for Linux).
 * The cache keeps the most recent image per context, keyed by the file's
 * identity (device, inode, size, modification time), and is safe to use
 * from threadpool workers. */
#ifndef EDERA_BUILD_KCACHE_H
#define EDERA_BUILD_KCACHE_H

#include <pthread.h>
#include <sys/types.h>

#include "image.h"

/* An immutable parsed kernel with a reference count. */
struct ed_kimage {
	unsigned int refs; /* under the cache's lock */
	struct ed_kernel k;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct ed_kcache {
	pthread_mutex_t lock;
	struct ed_kimage *last;
	unsigned long hits, misses;
};

void ed_kcache_init(struct ed_kcache *c);
void ed_kcache_fini(struct ed_kcache *c);

/* A reference to the parsed image at PATH (read and parsed on a miss).
 * Errors as ed_read_file and ed_kernel_parse. */
int ed_kcache_get(struct ed_kcache *c, const char *path, struct ed_kimage **out);
void ed_kcache_put(struct ed_kcache *c, struct ed_kimage *img);

#endif
