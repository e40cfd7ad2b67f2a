/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsed kernel images, shared and cached: creating many zones from one
 * kernel reads and decompresses it once (tens of MiB of xz for Linux).
 * The cache keeps the most recent image per context, keyed by the file's
 * identity (device, inode, size, modification and status-change times),
 * and is safe to use from threadpool workers.
 *
 * Behind it, a cache on disk that outlives the process (a restarted
 * orchestrator, a one-shot CLI): the decompressed ELF of each compressed
 * kernel, named by the SHA-256 of the kernel file's bytes (a changed file
 * is another entry; nothing is trusted from the file's name), and an index
 * from a file's identity (device, inode, size, modification and
 * status-change times) to its entry, so a file seen before is neither read
 * nor hashed again (see kcache.c).
 * An entry is opened, and its headers and notes read and checked like any
 * ELF kernel's (one that fails is removed and the kernel decompressed
 * again); its segments are read from the file into a zone's memory as it
 * is built (ed_kernel_open_elf), so the image kept here is an open file,
 * not tens of MiB of the process's memory.  Entries appear
 * whole or not at all (written unnamed, O_TMPFILE, then linked), so a
 * process killed while writing leaves nothing.  The directory is used only
 * when it belongs to the process's user and no one else may write to it;
 * the least recently used entries go beyond a size bound.  Any failure of
 * the disk cache only costs the decompression: creation goes on. */
#ifndef EDERA_BUILD_KCACHE_H
#define EDERA_BUILD_KCACHE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "image.h"

/* An immutable parsed kernel with a reference count. */
struct ed_kimage {
	unsigned int refs; /* under the cache's lock */
	struct ed_kernel k;
	struct stat st; /* the file's, when read: its identity */
};

struct ed_kcache {
	pthread_mutex_t lock;
	struct ed_kimage *last;
	unsigned long hits, misses;
	char *dir;          /* the cache on disk; NULL: none */
	uint64_t disk_max;  /* bytes of entries kept there */
	/* entries read, entries written, entries found bad and removed; of
	 * the entries read, those found through the index (the file not read) */
	unsigned long disk_hits, disk_writes, disk_bad, index_hits;
};

/* Bytes of decompressed kernels kept on disk by default (a Debian kernel's
 * ELF is about 60 MiB). */
#define ED_KCACHE_DISK_MAX (256u << 20)

void ed_kcache_init(struct ed_kcache *c);
void ed_kcache_fini(struct ed_kcache *c);

/* Keep decompressed kernels in DIR (created, mode 0700, with its parent)
 * up to MAX bytes; DIR NULL: no cache on disk.  Call before the first
 * ed_kcache_get.  Errors: EDERA_ENOMEM. */
int ed_kcache_set_dir(struct ed_kcache *c, const char *dir, uint64_t max);

/* A reference to the parsed image at PATH (read and parsed on a miss).
 * Errors as ed_read_file and ed_kernel_parse. */
int ed_kcache_get(struct ed_kcache *c, const char *path, struct ed_kimage **out);
void ed_kcache_put(struct ed_kcache *c, struct ed_kimage *img);

#endif
