/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The workload zone's initramfs: edera-zone-init and its kernel modules in
 * an uncompressed newc cpio archive (the kernel unpacks it with no
 * decompressor), cached by what went into it. */
#define _GNU_SOURCE /* asprintf */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/sha256.h"
#include "internal.h"
#include "workload/priv.h"

/* What the init loads, in this order (each after its dependencies): the
 * channel's drivers, the image's disk and file systems, the network.
 * crc32c_generic is libcrc32c's soft dependency (erofs needs it; modprobe
 * would find it through modules.softdep, which the init has no use for). */
static const struct {
	const char *name;
	int optional; /* skipped when the kernel has none */
} wanted[] = {
	{"xen_gntdev", 0}, {"xen_evtchn", 0}, {"xen_blkfront", 0}, {"crc32c_generic", 1},
	{"erofs", 0},      {"overlay", 0},    {"xen_netfront", 0},
};

#define MODS_MAX 64
/* In the cache key: a change to what the archive holds besides the init
 * and the modules makes new ones. */
#define ARCHIVE_FORMAT "edera-zone-initramfs 2"

int ed_kernel_release(const char *kernel, char *out, size_t size)
{
	uint8_t hdr[0x210];
	char ver[128];
	uint16_t off;
	int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t i;

	if (fd < 0)
		return ed_error(ed_errno_code(errno), "kernel '%s': %s", kernel, strerror(errno));
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr + 0x202, "HdrS", 4) != 0) {
		close(fd);
		return ed_error(EDERA_EINVAL,
		                "kernel '%s' is not a bzImage: its release is unknown (give the "
		                "modules' directory)",
		                kernel);
	}
	memcpy(&off, hdr + 0x20e, 2);
	n = pread(fd, ver, sizeof(ver) - 1, (off_t)off + 0x200);
	close(fd);
	if (n <= 0 || off == 0)
		return ed_error(EDERA_EINVAL, "kernel '%s': no version string in its header", kernel);
	ver[n] = '\0';
	for (i = 0; ver[i] && ver[i] != ' '; i++)
		if (ver[i] < 0x21 || ver[i] > 0x7e || ver[i] == '/')
			return ed_error(EDERA_EINVAL, "kernel '%s': a malformed version string", kernel);
	if (i == 0 || i >= size)
		return ed_error(EDERA_EINVAL, "kernel '%s': a malformed version string", kernel);
	memcpy(out, ver, i);
	out[i] = '\0';
	return 0;
}

/* A module's name from its path in modules.dep: the file name without
 * ".ko" and what follows, '-' as '_'. */
static void mod_name(const char *path, size_t len, char *out, size_t size)
{
	const char *base = path;
	size_t n;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	n = (size_t)(path + len - base);
	for (size_t i = 0; i + 2 < n; i++)
		if (base[i] == '.' && base[i + 1] == 'k' && base[i + 2] == 'o') {
			n = i;
			break;
		}
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[n] = '\0';
}

struct mods {
	char *paths[MODS_MAX]; /* relative to the modules' directory, load order */
	size_t n;
};

static bool have(const struct mods *m, const char *p, size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->paths[i]) == len && memcmp(m->paths[i], p, len) == 0)
			return true;
	return false;
}

static int add(struct mods *m, const char *p, size_t len)
{
	if (have(m, p, len))
		return 0;
	if (m->n >= MODS_MAX)
		return ed_error(EDERA_EINVAL, "more than %d modules to load", MODS_MAX);
	if (!(m->paths[m->n] = strndup(p, len)))
		return EDERA_ENOMEM;
	m->n++;
	return 0;
}

/* Find NAME's line in modules.dep (DEP, NUL-terminated) and add its
 * dependencies (listed last-loaded first) and itself.  1 added, 0 absent. */
static int resolve(struct mods *m, const char *dep, const char *name)
{
	for (const char *line = dep; *line;) {
		const char *end = strchr(line, '\n'), *colon;
		char got[128];

		if (!end)
			end = line + strlen(line);
		colon = memchr(line, ':', (size_t)(end - line));
		if (colon) {
			mod_name(line, (size_t)(colon - line), got, sizeof(got));
			if (strcmp(got, name) == 0) {
				const char *deps[MODS_MAX];
				size_t nd = 0, lens[MODS_MAX];
				int rc;

				for (const char *p = colon + 1; p < end && nd < MODS_MAX;) {
					while (p < end && *p == ' ')
						p++;
					const char *q = p;

					while (q < end && *q != ' ')
						q++;
					if (q > p) {
						deps[nd] = p;
						lens[nd++] = (size_t)(q - p);
					}
					p = q;
				}
				while (nd-- > 0)
					if ((rc = add(m, deps[nd], lens[nd])) < 0)
						return rc;
				rc = add(m, line, (size_t)(colon - line));
				return rc < 0 ? rc : 1;
			}
		}
		line = *end ? end + 1 : end;
	}
	return 0;
}

/* Whether NAME is built into the kernel (modules.builtin). */
static bool builtin(const char *builtin_list, const char *name)
{
	char got[128];

	for (const char *line = builtin_list; line && *line;) {
		const char *end = strchr(line, '\n');

		if (!end)
			end = line + strlen(line);
		mod_name(line, (size_t)(end - line), got, sizeof(got));
		if (strcmp(got, name) == 0)
			return true;
		line = *end ? end + 1 : end;
	}
	return false;
}

static char *slurp(const char *path, size_t max)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int find_modules(const char *dir, struct mods *m)
{
	char path[4096];
	char *dep, *bi;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	if (!(dep = slurp(path, 8u << 20)))
		return ed_error(ed_errno_code(errno),
		                "the kernel's modules: %s: %s (is this the kernel's modules "
		                "directory?)",
		                path, strerror(errno));
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	bi = slurp(path, 8u << 20);
	for (size_t i = 0; i < ED_ARRAY_SIZE(wanted) && rc >= 0; i++) {
		rc = resolve(m, dep, wanted[i].name);
		if (rc == 0 && !wanted[i].optional && !builtin(bi, wanted[i].name))
			rc = ed_error(EDERA_ENOENT,
			              "the kernel's modules (%s) have no %s, and it is not built in: "
			              "a zone needs it",
			              dir, wanted[i].name);
	}
	free(dep);
	free(bi);
	return rc < 0 ? rc : 0;
}

/* ---- the archive ---- */

struct cpio {
	FILE *f;
	uint32_t ino;
	bool failed;
};

static void pad4(struct cpio *c, uint64_t len)
{
	static const char zero[4];

	if (len % 4 && fwrite(zero, 1, 4 - len % 4, c->f) != 4 - len % 4)
		c->failed = true;
}

static void cpio_entry(struct cpio *c, const char *name, uint32_t mode, const void *data,
                       uint32_t size)
{
	char hdr[128];
	size_t nlen = strlen(name) + 1;

	snprintf(hdr, sizeof(hdr),
	         "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", ++c->ino, mode, 0,
	         0, (mode & 0040000) ? 2 : 1, 0, size, 0, 0, 0, 0, nlen, 0);
	if (fwrite(hdr, 1, 110, c->f) != 110 || fwrite(name, 1, nlen, c->f) != nlen)
		c->failed = true;
	pad4(c, 110 + nlen);
	if (size && fwrite(data, 1, size, c->f) != size)
		c->failed = true;
	pad4(c, size);
}

static int read_file(const char *path, uint8_t **data, uint32_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return ed_error(ed_errno_code(errno), "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
		close(fd);
		return ed_error(EDERA_EINVAL, "%s: not a regular file of at most 64 MiB", path);
	}
	*size = (uint32_t)st.st_size;
	*data = malloc(*size ? *size : 1);
	if (!*data) {
		close(fd);
		return EDERA_ENOMEM;
	}
	n = pread(fd, *data, *size, 0);
	close(fd);
	if (n != (ssize_t)*size) {
		free(*data);
		return ed_error(EDERA_EIO, "%s: a short read", path);
	}
	return 0;
}

static int write_archive(const char *tmp, const char *init, const char *dir,
                         const struct mods *m)
{
	static const char *const dirs[] = {".", "dev", "mnt", "modules", "proc", "sbin", "sys"};
	struct cpio c = {0};
	uint8_t *data;
	uint32_t size;
	int rc;

	c.f = fopen(tmp, "we");
	if (!c.f)
		return ed_error(ed_errno_code(errno), "%s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < ED_ARRAY_SIZE(dirs); i++)
		cpio_entry(&c, dirs[i], 0040755, NULL, 0);
	if ((rc = read_file(init, &data, &size)) < 0)
		goto out;
	cpio_entry(&c, "init", 0100755, data, size);
	free(data);
	/* what the kernel runs for an orderly shutdown (Xen's control/shutdown):
	 * the init, which then asks PID 1 to stop */
	cpio_entry(&c, "sbin/poweroff", 0120777, "/init", 5);
	cpio_entry(&c, "sbin/reboot", 0120777, "/init", 5);
	for (size_t i = 0; i < m->n; i++) {
		char path[4096], name[256];
		const char *base = strrchr(m->paths[i], '/');

		snprintf(path, sizeof(path), "%s/%s", dir, m->paths[i]);
		snprintf(name, sizeof(name), "modules/%02zu-%s", i + 1,
		         base ? base + 1 : m->paths[i]);
		if ((rc = read_file(path, &data, &size)) < 0)
			goto out;
		cpio_entry(&c, name, 0100644, data, size);
		free(data);
	}
	cpio_entry(&c, "TRAILER!!!", 0, NULL, 0);
out:
	if (fflush(c.f) != 0 || fsync(fileno(c.f)) != 0)
		c.failed = true;
	fclose(c.f);
	if (rc == 0 && c.failed)
		rc = ed_error(EDERA_EIO, "writing %s failed", tmp);
	return rc;
}

int ed_zone_initramfs(const char *init, const char *modules_dir, const char *cache_dir,
                      char **out)
{
	struct mods m = {0};
	struct ed_sha256 h;
	struct stat st;
	char digest[ED_DIGEST_STR_LEN], *path = NULL, *tmp = NULL;
	uint8_t *data;
	uint32_t size;
	int rc, fd;

	*out = NULL;
	if ((rc = find_modules(modules_dir, &m)) < 0)
		goto out;
	/* the key: the init's bytes and each module's identity */
	if ((rc = read_file(init, &data, &size)) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", edera_last_error());
		rc = ed_error(rc, "edera-zone-init: %s (install libedera, or give its path)", why);
		goto out;
	}
	ed_sha256_init(&h);
	ed_sha256_update(&h, ARCHIVE_FORMAT, strlen(ARCHIVE_FORMAT));
	ed_sha256_update(&h, data, size);
	free(data);
	for (size_t i = 0; i < m.n; i++) {
		char p[4096];
		uint64_t id[3];

		snprintf(p, sizeof(p), "%s/%s", modules_dir, m.paths[i]);
		if (stat(p, &st) < 0) {
			rc = ed_error(ed_errno_code(errno), "module %s: %s", p, strerror(errno));
			goto out;
		}
		id[0] = (uint64_t)st.st_size;
		id[1] = (uint64_t)st.st_mtim.tv_sec;
		id[2] = (uint64_t)st.st_mtim.tv_nsec;
		ed_sha256_update(&h, p, strlen(p) + 1);
		ed_sha256_update(&h, id, sizeof(id));
	}
	ed_sha256_final_str(&h, digest);
	if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST) {
		rc = ed_error(ed_errno_code(errno), "cache directory %s: %s", cache_dir,
		              strerror(errno));
		goto out;
	}
	/* "sha256:" and 24 hex digits */
	if (asprintf(&path, "%s/zone-init-%.24s.cpio", cache_dir, digest + 7) < 0 ||
	    asprintf(&tmp, "%s/.tmp-zone-init-XXXXXX", cache_dir) < 0) {
		path = tmp = NULL;
		rc = EDERA_ENOMEM;
		goto out;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		*out = path;
		path = NULL;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = ed_error(ed_errno_code(errno), "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	if ((rc = write_archive(tmp, init, modules_dir, &m)) < 0 || chmod(tmp, 0644) < 0 ||
	    rename(tmp, path) < 0) {
		if (rc == 0)
			rc = ed_error(ed_errno_code(errno), "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	*out = path;
	path = NULL;
out:
	for (size_t i = 0; i < m.n; i++)
		free(m.paths[i]);
	free(path);
	free(tmp);
	return rc;
}
