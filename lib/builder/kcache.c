/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#define _GNU_SOURCE /* O_TMPFILE */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "image/sha256.h"
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
	free(c->dir);
	c->dir = NULL;
}

int ed_kcache_set_dir(struct ed_kcache *c, const char *dir, uint64_t max)
{
	char *d = NULL;

	if (dir && !(d = strdup(dir)))
		return ed_error(EDERA_ENOMEM, "out of memory");
	free(c->dir);
	c->dir = d;
	c->disk_max = max;
	return 0;
}

/* ---- the cache on disk ----------------------------------------------------- */

#define ENTRY_PREFIX "kernel-"
#define ENTRY_SUFFIX ".elf"
/* "kernel-" + 64 hex digits + ".elf" + NUL */
#define ENTRY_NAME_LEN (sizeof(ENTRY_PREFIX) - 1 + 64 + sizeof(ENTRY_SUFFIX))

static void count(struct ed_kcache *c, unsigned long *what)
{
	pthread_mutex_lock(&c->lock);
	(*what)++;
	pthread_mutex_unlock(&c->lock);
}

/* The cache directory, created if missing, opened if it is safe to use:
 * a directory (not a symbolic link) of this user that no one else may
 * write to.  -1 when there is none to use. */
static int disk_open(const char *dir)
{
	char *parent = strdup(dir), *slash;
	struct stat st;
	int fd;

	if (!parent)
		return -1;
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		(void)mkdir(parent, 0700);
	}
	free(parent);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The entry's name for a kernel file's bytes. */
static void entry_name(const uint8_t *data, size_t len, char name[ENTRY_NAME_LEN])
{
	struct ed_sha256 h;
	char digest[ED_DIGEST_STR_LEN];

	ed_sha256_init(&h);
	ed_sha256_update(&h, data, len);
	ed_sha256_final_str(&h, digest);
	snprintf(name, ENTRY_NAME_LEN, ENTRY_PREFIX "%s" ENTRY_SUFFIX, digest + 7);
}

/* Open and check the entry NAME as K (its segments are read from the
 * file when loaded).  Returns true on a hit; an entry that is not a valid
 * ELF kernel is removed. */
static bool disk_load(struct ed_kcache *c, int dfd, const char *name, struct ed_kernel *k,
                      const char *what)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;
	struct ed_err saved;
	struct stat st;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > ED_KERNEL_MAX) {
		close(fd);
		goto bad;
	}
	/* the thread's message is kept: a bad entry is not the caller's error */
	ed_error_save(&saved);
	rc = ed_kernel_open_elf(k, fd, (size_t)st.st_size, what); /* (fd closed on failure) */
	ed_error_restore(&saved);
	if (rc == EDERA_EINVAL)
		goto bad;
	if (rc < 0)
		return false; /* (no memory, or the file system failed: not the entry's fault) */
	k->compression = "cached";
	(void)utimensat(dfd, name, NULL, 0); /* recently used */
	count(c, &c->disk_hits);
	return true;
bad:
	if (unlinkat(dfd, name, 0) == 0)
		count(c, &c->disk_bad);
	return false;
}

struct entry {
	char name[200]; /* an entry's or an index record's (INDEX_NAME_MAX) */
	off_t size;
	struct timespec used;
};

static int older_first(const void *a, const void *b)
{
	const struct timespec *x = &((const struct entry *)a)->used,
	                      *y = &((const struct entry *)b)->used;

	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* The regular files of DFD whose names WANT accepts, with their sizes and
 * times, the least recently used first; *COUNT of them (NULL when none, or
 * out of memory: then nothing is removed). */
static struct entry *list_files(int dfd, bool (*want)(const char *name, size_t len),
                                size_t *count)
{
	struct entry *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	*count = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (len >= sizeof(v->name) || !want(de->d_name, len) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(nv = realloc(v, cap * sizeof(*v)))) {
				closedir(d);
				free(v);
				return NULL;
			}
			v = nv;
		}
		memcpy(v[n].name, de->d_name, len + 1);
		v[n].size = st.st_size;
		v[n].used = st.st_mtim;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), older_first);
	*count = n;
	return v;
}

static bool is_entry(const char *name, size_t len)
{
	return len == ENTRY_NAME_LEN - 1 && strncmp(name, ENTRY_PREFIX, sizeof(ENTRY_PREFIX) - 1) == 0;
}

/* Remove the least recently used entries (not KEEP) until they hold at
 * most MAX bytes. */
static void disk_prune(int dfd, uint64_t max, const char *keep)
{
	size_t n;
	struct entry *v = list_files(dfd, is_entry, &n);
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += (uint64_t)v[i].size;
	for (size_t i = 0; i < n && total > max; i++)
		if (strcmp(v[i].name, keep) != 0 &&
		    (unlinkat(dfd, v[i].name, 0) == 0 || errno == ENOENT))
			total -= (uint64_t)v[i].size;
	free(v);
}

/* Write LEN bytes of DATA as the file NAME of DFD, unnamed until whole (a
 * process killed meanwhile leaves nothing).  1: written; 0: NAME was there
 * already (another process wrote it meanwhile); -1: not written. */
static int store_file(int dfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600), rc = -1;
	const uint8_t *p = data;
	char proc[64];
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (done == len)
		rc = linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) == 0 ? 1
		     : errno == EEXIST                                         ? 0
		                                                               : -1;
	close(fd);
	return rc;
}

/* Write K's ELF as the entry NAME.  True when the entry is there afterwards
 * (written, or by another process meanwhile). */
static bool disk_store(struct ed_kcache *c, int dfd, const char *name, const struct ed_kernel *k)
{
	int rc = store_file(dfd, name, k->elf, k->elf_len);

	if (rc == 1)
		count(c, &c->disk_writes);
	disk_prune(dfd, c->disk_max, name);
	return rc >= 0;
}

/* ---- the index: a kernel file's identity -> its entry ------------------------
 * Hashing the kernel file costs more than reading its entry (SHA-256 of a
 * Debian kernel's 8 MiB is most of a fresh process's first creation under
 * emulation), so the entry a file had is remembered under the file's
 * identity: device, inode, size, and modification and status-change times
 * to the nanosecond.  Any write to a file changes its status-change time,
 * which no unprivileged process can set back, and a replaced file is
 * another inode: an identity seen again is the same bytes.  A file whose
 * identity changed while it was read is not indexed.  An index record only
 * names an entry, which is checked as ever when read; records beyond
 * INDEX_MAX go, the oldest first. */
#define INDEX_PREFIX "id-"
#define INDEX_NAME_MAX 200
#define INDEX_MAX 64

/* This boot's identity: a device number or a mount's id means nothing
 * after a reboot.  "" when unknown (then nothing is indexed). */
static void boot_id(char id[40])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, id, 36) : -1;

	if (fd >= 0)
		close(fd);
	id[n == 36 ? 36 : 0] = '\0';
	if (strspn(id, "0123456789abcdef-") != 36)
		id[0] = '\0';
}

/* The record's name for the open kernel file FD of status ST; false when
 * its identity cannot be trusted: file systems whose times and inode
 * numbers the kernel itself keeps (not images made elsewhere, such as
 * squashfs, erofs or ISO 9660, whose times and inodes are the image's;
 * not network or FUSE file systems, whose attributes are a server's). */
static bool index_name(int fd, const struct stat *st, char name[INDEX_NAME_MAX])
{
	struct statfs fs;
	struct statx stx;
	char boot[40];

	if (fstatfs(fd, &fs) < 0)
		return false;
	switch ((unsigned long)fs.f_type) {
	case 0xEF53:     /* ext2, ext3, ext4 */
	case 0x58465342: /* xfs */
	case 0x9123683E: /* btrfs */
	case 0x01021994: /* tmpfs */
	case 0x858458F6: /* ramfs */
		break;
	default:
		return false;
	}
	boot_id(boot);
	if (!boot[0] || statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return false;
	snprintf(name, INDEX_NAME_MAX, INDEX_PREFIX "%s-%llx-%llx-%llx-%llx-%llx.%09ld-%llx.%09ld",
	         boot, (unsigned long long)stx.stx_mnt_id, (unsigned long long)st->st_dev,
	         (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
	         (unsigned long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
	         (unsigned long long)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec);
	return true;
}

static bool same_identity(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A file last changed more than INDEX_SETTLED_NS before T (taken before it
 * was opened).  Times come from a coarse clock (a few milliseconds): a
 * file changed again within the tick of a change just before it was read
 * would keep its identity, so such a file is not indexed (the next process
 * hashes it again and indexes it then). */
#define INDEX_SETTLED_NS 1000000000LL

static bool settled(const struct stat *st, const struct timespec *t)
{
	return ((long long)t->tv_sec - (long long)st->st_ctim.tv_sec) * 1000000000LL +
	               (t->tv_nsec - st->st_ctim.tv_nsec) >
	       INDEX_SETTLED_NS;
}

/* The entry the record INAME names, in ENTRY; a record that is not 64 hex
 * digits is removed. */
static bool index_read(int dfd, const char *iname, char entry[ENTRY_NAME_LEN])
{
	int fd = openat(dfd, iname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char hex[65];
	struct stat st;
	bool ok = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 64 &&
	    read(fd, hex, 64) == 64) {
		hex[64] = '\0';
		ok = strspn(hex, "0123456789abcdef") == 64;
	}
	close(fd);
	if (!ok) {
		(void)unlinkat(dfd, iname, 0);
		return false;
	}
	snprintf(entry, ENTRY_NAME_LEN, ENTRY_PREFIX "%s" ENTRY_SUFFIX, hex);
	return true;
}

static bool is_index_record(const char *name, size_t len)
{
	return strncmp(name, INDEX_PREFIX, sizeof(INDEX_PREFIX) - 1) == 0;
}

/* Keep at most INDEX_MAX records, the newest. */
static void index_prune(int dfd)
{
	size_t n;
	struct entry *v = list_files(dfd, is_index_record, &n);

	for (size_t i = 0; i + INDEX_MAX < n; i++)
		(void)unlinkat(dfd, v[i].name, 0);
	free(v);
}

/* Record (as INAME) that a file is the entry ENTRY (its name's 64 hex
 * digits). */
static void index_write(int dfd, const char *iname, const char *entry)
{
	(void)store_file(dfd, iname, entry + sizeof(ENTRY_PREFIX) - 1, 64);
	index_prune(dfd);
}

/* Parse the kernel file's bytes DATA into K, through the cache on disk
 * (DFD, -1: none) when K's kernel is compressed.  ENTRY: the name of the
 * entry on disk that holds it afterwards, or "". */
static int parse(struct ed_kcache *c, int dfd, const uint8_t *data, size_t len,
                 struct ed_kernel *k, const char *what, char entry[ENTRY_NAME_LEN])
{
	bool elf = len >= 4 && memcmp(data, "\177ELF", 4) == 0;
	int rc;

	entry[0] = '\0';
	if (dfd < 0 || elf)
		return ed_kernel_parse(k, data, len, what);
	entry_name(data, len, entry);
	if (disk_load(c, dfd, entry, k, what))
		return 0;
	rc = ed_kernel_parse(k, data, len, what);
	if (rc < 0 || strcmp(k->compression, "none") == 0 || !disk_store(c, dfd, entry, k))
		entry[0] = '\0';
	return rc;
}

/* Read and parse the kernel file PATH into K: through the index when the
 * file's identity is known, else hashed, and then indexed.  *ST becomes
 * the status of the file opened. */
static int load(struct ed_kcache *c, const char *path, struct stat *st, struct ed_kernel *k,
                const char *what)
{
	int dfd = c->dir ? disk_open(c->dir) : -1, fd;
	char iname[INDEX_NAME_MAX], entry[ENTRY_NAME_LEN];
	bool indexable = false;
	struct timespec t0;
	struct stat after;
	uint8_t *data;
	size_t len;
	int rc;

	if (clock_gettime(CLOCK_REALTIME, &t0) < 0)
		t0.tv_sec = t0.tv_nsec = 0; /* (then nothing is settled) */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = ed_error(errno == ENOENT ? EDERA_ENOENT : ed_errno_code(errno),
		              "kernel image '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		rc = ed_error(EDERA_EINVAL, "kernel image '%s': not a regular file", path);
		goto out;
	}
	if (dfd >= 0 && index_name(fd, st, iname)) {
		indexable = true;
		if (index_read(dfd, iname, entry)) {
			if (disk_load(c, dfd, entry, k, what)) {
				count(c, &c->index_hits);
				(void)utimensat(dfd, iname, NULL, 0); /* recently used */
				rc = 0;
				goto out;
			}
			(void)unlinkat(dfd, iname, 0);
		}
	}
	rc = ed_read_fd(fd, path, "kernel image", ED_KERNEL_MAX, &data, &len);
	if (rc == 0) {
		rc = parse(c, dfd, data, len, k, what, entry);
		free(data);
		/* indexed only if the file did not change while it was read, nor
		 * just before (see settled) */
		if (rc == 0 && indexable && entry[0] && fstat(fd, &after) == 0 &&
		    same_identity(st, &after) && settled(st, &t0))
			index_write(dfd, iname, entry);
	}
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int ed_kcache_get(struct ed_kcache *c, const char *path, struct ed_kimage **out)
{
	struct ed_kimage *img;
	struct stat st;
	char what[512];
	int rc;

	*out = NULL;
	if (stat(path, &st) < 0)
		return ed_error(errno == ENOENT ? EDERA_ENOENT : ed_errno_code(errno),
		                "kernel image '%s': %s", path, strerror(errno));
	pthread_mutex_lock(&c->lock);
	if (c->last && same_identity(&c->last->st, &st)) {
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
	rc = load(c, path, &st, &img->k, what);
	if (rc < 0) {
		free(img);
		return rc;
	}
	img->st = st;
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
