/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image cache's contents: listed, and pruned least recently used
 * first.  An image is <hex>.erofs with its sidecar <hex>.json; the
 * sidecar's mtime is when the image was last converted or found by a
 * conversion (atime is not kept by relatime or noatime mounts). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "priv.h"

void ed_oci_list_free(struct ed_oci_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].path);
		free(e[i].name);
	}
	free(e);
}

static int newest_first(const void *a, const void *b)
{
	const struct ed_oci_entry *x = a, *y = b;

	if (x->last_used.tv_sec != y->last_used.tv_sec)
		return x->last_used.tv_sec < y->last_used.tv_sec ? 1 : -1;
	if (x->last_used.tv_nsec != y->last_used.tv_nsec)
		return x->last_used.tv_nsec < y->last_used.tv_nsec ? 1 : -1;
	return strcmp(x->digest, y->digest);
}

/* "<64 hex>.erofs" */
static bool image_name(const char *n, char hex[65])
{
	if (strlen(n) != 64 + 6 || strcmp(n + 64, ".erofs") != 0)
		return false;
	snprintf(hex, 65, "%.64s", n);
	char d[ED_DIGEST_STR_LEN];
	snprintf(d, sizeof(d), "sha256:%s", hex);
	return ed_digest_valid(d);
}

static int list_fd(int cache, const char *cache_dir, struct ed_oci_entry **out, size_t *n)
{
	struct ed_oci_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	fd = dup(cache);
	if (fd < 0 || !(d = fdopendir(fd))) {
		rc = ed_error(ed_errno_code(errno), "image cache '%s': %s", cache_dir,
		              strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		char hex[65], side[96];
		struct stat si, ss;
		uint8_t *data;
		size_t len;

		if (!image_name(de->d_name, hex))
			continue;
		snprintf(side, sizeof(side), "%s.json", hex);
		if (fstatat(cache, de->d_name, &si, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fstatat(cache, side, &ss, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(si.st_mode))
			continue; /* being pruned, or left half-made by a crash */
		if (cnt == cap) {
			struct ed_oci_entry *nv = realloc(v, (cap ? 2 * cap : 16) * sizeof(*nv));
			if (!nv) {
				rc = ed_error(EDERA_ENOMEM, "out of memory");
				break;
			}
			v = nv;
			cap = cap ? 2 * cap : 16;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		snprintf(v[cnt].digest, sizeof(v[cnt].digest), "sha256:%s", hex);
		v[cnt].size = (uint64_t)si.st_size + (uint64_t)ss.st_size;
		v[cnt].last_used = ss.st_mtim;
		if (ed_oci_read_at(cache, side, ED_OCI_JSON_MAX, &data, &len) == 0) {
			v[cnt].name = ed_oci_sidecar_name((const char *)data, len);
			free(data);
		}
		cnt++;
		if (!(v[cnt - 1].path = ed_oci_join(cache_dir, de->d_name))) {
			rc = ed_error(EDERA_ENOMEM, "out of memory");
			break;
		}
	}
	closedir(d);
	if (rc < 0) {
		ed_oci_list_free(v, cnt);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), newest_first);
	*out = v;
	*n = cnt;
	return 0;
}

int ed_oci_list(const char *cache_dir, struct ed_oci_entry **out, size_t *n)
{
	int cache, rc;

	*out = NULL;
	*n = 0;
	cache = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cache < 0)
		return errno == ENOENT ? 0
		                       : ed_error(ed_errno_code(errno), "image cache '%s': %s",
		                                  cache_dir, strerror(errno));
	rc = list_fd(cache, cache_dir, out, n);
	close(cache);
	return rc;
}

int ed_oci_prune(const char *cache_dir, uint64_t keep_bytes, size_t *removed, uint64_t *freed)
{
	struct ed_oci_entry *v;
	uint64_t total = 0, gone = 0;
	size_t n, count = 0;
	int cache, rc;

	if (removed)
		*removed = 0;
	if (freed)
		*freed = 0;
	cache = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cache < 0)
		return errno == ENOENT ? 0
		                       : ed_error(ed_errno_code(errno), "image cache '%s': %s",
		                                  cache_dir, strerror(errno));
	ed_oci_clean_tmp(cache, NULL);
	rc = list_fd(cache, cache_dir, &v, &n);
	if (rc < 0) {
		close(cache);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		total += v[i].size;
	/* (v is newest first: the oldest go first) */
	for (size_t i = n; i-- > 0 && total > keep_bytes;) {
		const char *hex = v[i].digest + 7;
		char name[96];
		int lock;

		if (ed_oci_lock(cache, hex, false, &lock) < 0)
			continue; /* a conversion holds it: it is in use */
		snprintf(name, sizeof(name), "%s.erofs", hex);
		unlinkat(cache, name, 0);
		snprintf(name, sizeof(name), "%s.json", hex);
		unlinkat(cache, name, 0);
		ed_oci_unlock(cache, hex, lock);
		total -= v[i].size;
		gone += v[i].size;
		count++;
	}
	ed_oci_list_free(v, n);
	close(cache);
	if (removed)
		*removed = count;
	if (freed)
		*freed = gone;
	return 0;
}
