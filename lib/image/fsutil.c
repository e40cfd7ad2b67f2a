/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File helpers of the image cache: removal that follows no symlink, small
 * reads and durable writes relative to a directory fd, per-digest locks
 * and the clean-up of temporary files left by conversions that died. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "priv.h"

char *ed_oci_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (s) {
		memcpy(s, a, la);
		s[la] = '/';
		memcpy(s + la + 1, b, lb + 1);
	}
	return s;
}

int ed_oci_rmtree(int dir, const char *name)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	/* A directory without write or search permission for us (a layer may
	 * ship one) would keep its entries: open it up first. */
	if ((st.st_mode & 0700) != 0700 && fchmodat(dir, name, 0700, 0) < 0) {
		/* not fatal: root may read it anyway; the openat and unlinkat
		 * below say whether it mattered */
	}
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int r = ed_oci_rmtree(dirfd(d), de->d_name);
		if (r < 0 && rc == 0)
			rc = r;
	}
	closedir(d);
	if (unlinkat(dir, name, AT_REMOVEDIR) < 0 && errno != ENOENT && rc == 0)
		rc = -errno;
	return rc;
}

int ed_oci_read_at(int dir, const char *path, size_t max, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc;

	*data = NULL;
	*len = 0;
	fd = openat(dir, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			free(buf);
			close(fd);
			return rc;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

int ed_oci_write_at(int dir, const char *name, const void *data, size_t len)
{
	const char *p = data;
	int fd, rc = 0;

	fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* A lock file may be removed (by prune) between our open and our flock:
 * the lock is ours only if the name still leads to the file we locked. */
int ed_oci_lock(int cache, const char *hex, bool wait, int *fd)
{
	char name[96];
	struct stat a, b;

	snprintf(name, sizeof(name), "%s.lock", hex);
	*fd = -1;
	for (;;) {
		int f = openat(cache, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f < 0)
			return -errno;
		while (flock(f, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(f);
			return -e;
		}
		if (fstat(f, &a) == 0 && fstatat(cache, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			*fd = f;
			return 0;
		}
		close(f);
	}
}

void ed_oci_unlock(int cache, const char *hex, int fd)
{
	char name[96];

	if (fd < 0)
		return;
	snprintf(name, sizeof(name), "%s.lock", hex);
	unlinkat(cache, name, 0);
	close(fd);
}

/* Temporary names are ".tmp-<pid>-<hex>-XXXXXX": the digest tells which
 * lock guards them (the pid is for people looking at the directory; pids
 * do not tell a dead process from a live one in another pid namespace). */
static const char *tmp_hex(const char *name, char hex[65])
{
	const char *p;

	if (strncmp(name, ED_OCI_TMP_PREFIX, strlen(ED_OCI_TMP_PREFIX)) != 0)
		return NULL;
	p = strchr(name + strlen(ED_OCI_TMP_PREFIX), '-');
	if (!p || strlen(p + 1) < 65 || p[65] != '-')
		return NULL;
	memcpy(hex, p + 1, 64);
	hex[64] = '\0';
	for (int i = 0; i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return NULL;
	return hex;
}

void ed_oci_clean_tmp(int cache, const char *hex)
{
	struct dirent *de;
	char h[65];
	DIR *d;
	int fd;

	fd = openat(cache, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		int lock;

		if (!tmp_hex(de->d_name, h))
			continue;
		if (hex) {
			if (strcmp(h, hex) == 0)
				ed_oci_rmtree(cache, de->d_name);
			continue;
		}
		if (ed_oci_lock(cache, h, false, &lock) < 0)
			continue; /* a conversion of that image is under way */
		ed_oci_rmtree(cache, de->d_name);
		ed_oci_unlock(cache, h, lock);
	}
	closedir(d);
}
