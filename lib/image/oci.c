/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An OCI image converted into an erofs image, cached by config digest.
 *
 * Why erofs, not squashfs or ext4:
 *  - creation: mkfs.erofs writes the tree out in one pass with nothing to
 *    allocate or journal (ext4 needs a sized filesystem, a block allocator
 *    and, to be filled without a mount, debugfs or mke2fs -d); uncompressed
 *    erofs has no compression pass, which squashfs does by default and
 *    which dominates its creation time;
 *  - reading: erofs was built for read-only root filesystems read at
 *    random (Android's system partitions): compact inodes, data in place
 *    (inline tails), no decompression on the uncompressed layout, and the
 *    guest's kernel has erofs.ko;
 *  - size: uncompressed erofs is about the data plus a few percent of
 *    metadata; ext4 would reserve journal, inode tables and free space.
 *    (Compression, lz4 or lz4hc, can be turned on later where disk matters
 *    more than creation time.)
 *
 * Steps: open the input and pick the image (source.c); take the digest's
 * lock; if <hex>.erofs is there, done (the sidecar's time is touched: it
 * is the least-recently-used clock); else, in a temporary directory
 * ".tmp-<pid>-<hex>-XXXXXX" under the cache, copy out an archive's layers,
 * apply them to a staged tree (layer.c), run mkfs.erofs, write the
 * sidecar, rename both into place (sidecar first: an .erofs present means
 * complete), and remove the temporary directory, on every path.
 *
 * Concurrency: each digest has a lock file (flock), held from the cache
 * look-up to the rename, so two processes converting the same image do
 * the work once (the second waits and finds it done) and prune never
 * removes an image being made.  Renames of complete, fsync'ed files make
 * a crash leave only temporary files, which the next conversion of that
 * digest or the next prune removes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "priv.h"

extern char **environ;

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The last line mkfs.erofs wrote to LOG (in DIR), for a message. */
static void last_line(int dir, char *out, size_t size)
{
	uint8_t *data;
	size_t len;
	char *s, *nl;

	snprintf(out, size, "no message");
	if (ed_oci_read_at(dir, "mkfs.log", 1 << 20, &data, &len) < 0)
		return;
	s = (char *)data;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	nl = strrchr(s, '\n');
	if (len)
		snprintf(out, size, "%s", nl ? nl + 1 : s);
	free(data);
}

/* TMP/image.erofs made of ROOTDIR (NULL: TMP/root). */
static int run_mkfs(int tmp, const char *tmppath, const char *rootdir)
{
	char img[4300], root[4300], log[4300], msg[512]; /* tmppath: under 4224 bytes */
	char *argv[] = {"mkfs.erofs", "--quiet", "-x-1", "--preserve-mtime", img, root, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc, status;

	snprintf(img, sizeof(img), "%s/image.erofs", tmppath);
	if (rootdir && strlen(rootdir) >= sizeof(root))
		return ed_error(EDERA_EINVAL, "the root directory's path is too long");
	snprintf(root, sizeof(root), "%s", rootdir ? rootdir : "");
	if (!rootdir)
		snprintf(root, sizeof(root), "%s/root", tmppath);
	snprintf(log, sizeof(log), "%s/mkfs.log", tmppath);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, "mkfs.erofs", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return ed_error(rc == ENOENT ? EDERA_EIO : ed_errno_code(rc),
		                "running mkfs.erofs: %s%s", strerror(rc),
		                rc == ENOENT ? " (install erofs-utils)" : "");
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return ed_error(EDERA_EIO, "waiting for mkfs.erofs: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		last_line(tmp, msg, sizeof(msg));
		return ed_error(EDERA_EIO, "mkfs.erofs failed (%s %d): %s",
		                WIFEXITED(status) ? "exit status" : "signal",
		                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), msg);
	}
	/* Durable before it is renamed into place. */
	int fd = openat(tmp, "image.erofs", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		rc = ed_error(ed_errno_code(errno), "the erofs image '%s': %s", img,
		              strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* The staged tree, made and turned into TMP/image.erofs. */
static void step(const struct ed_oci_progress *prog, int what, size_t n_layers)
{
	if (prog && prog->fn)
		prog->fn(prog->arg, what, 0, n_layers, 0, 0);
}

static int build(struct ed_oci_src *src, const struct ed_oci_image *img, int tmp,
                 const char *tmppath, uint64_t max_bytes, const struct ed_oci_progress *prog)
{
	struct ed_oci_unpack *u = NULL;
	char what[512];
	int root, rc;

	step(prog, ED_OCI_READING, img->n_layers);
	if ((rc = ed_oci_src_fetch(src, img, tmp, max_bytes)) < 0)
		return rc;
	if (mkdirat(tmp, "root", 0755) < 0 ||
	    (root = openat(tmp, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ed_error(ed_errno_code(errno), "staging in '%s': %s", tmppath,
		                strerror(errno));
	/* (an image's root without an entry of its own: 0755, like runtimes) */
	fchmod(root, 0755);
	if ((rc = ed_oci_unpack_new(&u, root, max_bytes)) < 0)
		goto out;
	for (size_t i = 0; i < img->n_layers; i++) {
		int fd = ed_oci_src_layer(src, img, i, tmp);
		if (fd < 0) {
			rc = fd;
			goto out;
		}
		snprintf(what, sizeof(what), "layer %zu (%.300s) of %s", i + 1,
		         img->layers[i].digest[0] ? img->layers[i].digest : img->layers[i].path,
		         img->digest);
		ed_oci_unpack_progress(u, prog, i + 1, img->n_layers);
		rc = ed_oci_unpack_layer(u, fd, img->layers[i].diff_id, what);
		close(fd);
		if (rc < 0)
			goto out;
	}
	if ((rc = ed_oci_unpack_finish(u)) < 0)
		goto out;
	step(prog, ED_OCI_PACKING, img->n_layers);
	rc = run_mkfs(tmp, tmppath, NULL);
out:
	ed_oci_unpack_free(u);
	close(root);
	return rc;
}

static int publish(int cache, int tmp, const struct ed_oci_image *img, const char *cache_dir,
                   uint64_t *size)
{
	char name[96], *side;
	struct stat st;
	int rc;

	if (fstatat(tmp, "image.erofs", &st, 0) < 0)
		return ed_error(ed_errno_code(errno), "the erofs image: %s", strerror(errno));
	*size = (uint64_t)st.st_size;
	side = ed_oci_sidecar_dump(img, *size);
	if (!side)
		return ed_error(EDERA_ENOMEM, "out of memory");
	rc = ed_oci_write_at(tmp, "sidecar.json", side, strlen(side));
	free(side);
	if (rc < 0)
		return ed_error(ed_errno_code(-rc), "writing the sidecar: %s", strerror(-rc));
	snprintf(name, sizeof(name), "%s.json", img->digest + 7);
	if (renameat(tmp, "sidecar.json", cache, name) < 0)
		return ed_error(ed_errno_code(errno), "cache '%s': %s: %s", cache_dir, name,
		                strerror(errno));
	snprintf(name, sizeof(name), "%s.erofs", img->digest + 7);
	if (renameat(tmp, "image.erofs", cache, name) < 0)
		return ed_error(ed_errno_code(errno), "cache '%s': %s: %s", cache_dir, name,
		                strerror(errno));
	fsync(cache);
	return 0;
}

/* A cache hit: the image and its sidecar are there; the sidecar's time
 * says it was used now. */
static bool cached(int cache, const char *hex, uint64_t *size)
{
	char name[96];
	struct stat st;

	snprintf(name, sizeof(name), "%s.erofs", hex);
	if (fstatat(cache, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return false;
	*size = (uint64_t)st.st_size;
	snprintf(name, sizeof(name), "%s.json", hex);
	return utimensat(cache, name, NULL, AT_SYMLINK_NOFOLLOW) == 0;
}

int ed_oci_convert(const char *image_path, const char *name, const char *cache_dir,
                   uint64_t max_bytes, struct ed_oci_result *out)
{
	return ed_oci_convert_progress(image_path, name, cache_dir, max_bytes, NULL, out);
}

int ed_oci_convert_progress(const char *image_path, const char *name, const char *cache_dir,
                            uint64_t max_bytes, const struct ed_oci_progress *prog,
                            struct ed_oci_result *out)
{
	struct ed_oci_src *src = NULL;
	struct ed_oci_image *img;
	char tmppath[4096 + 128], file[96];
	const char *hex;
	int cache = -1, tmp = -1, lock = -1, rc;

	memset(out, 0, sizeof(*out));
	tmppath[0] = '\0';
	if (!image_path || !cache_dir || !*cache_dir)
		return ed_error(EDERA_EINVAL,
		                "converting an image: no image path or cache directory");
	img = calloc(1, sizeof(*img));
	if (!img)
		return ed_error(EDERA_ENOMEM, "out of memory");
	if ((rc = ed_oci_src_open(&src, image_path)) < 0 ||
	    (rc = ed_oci_src_image(src, name, img)) < 0)
		goto out;
	hex = img->digest + 7;
	if ((rc = mkdir_p(cache_dir)) < 0 ||
	    (cache = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = ed_error(ed_errno_code(rc < 0 ? -rc : errno), "image cache '%s': %s",
		              cache_dir, strerror(rc < 0 ? -rc : errno));
		goto out;
	}
	if ((rc = ed_oci_lock(cache, hex, true, &lock)) < 0) {
		rc = ed_error(ed_errno_code(-rc), "image cache '%s': locking %s: %s", cache_dir,
		              img->digest, strerror(-rc));
		goto out;
	}
	if (cached(cache, hex, &out->size)) {
		out->cached = true;
		goto done;
	}
	/* We hold the digest's lock: any temporary files of it are a dead
	 * conversion's. */
	ed_oci_clean_tmp(cache, hex);
	snprintf(tmppath, sizeof(tmppath), "%s/" ED_OCI_TMP_PREFIX "%ld-%s-XXXXXX", cache_dir,
	         (long)getpid(), hex);
	if (!mkdtemp(tmppath)) {
		rc = ed_error(ed_errno_code(errno), "image cache '%s': a temporary directory: %s",
		              cache_dir, strerror(errno));
		tmppath[0] = '\0';
		goto out;
	}
	if ((tmp = open(tmppath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = ed_error(ed_errno_code(errno), "image cache '%s': '%s': %s", cache_dir,
		              tmppath, strerror(errno));
		goto out;
	}
	if ((rc = build(src, img, tmp, tmppath, max_bytes, prog)) < 0 ||
	    (rc = publish(cache, tmp, img, cache_dir, &out->size)) < 0)
		goto out;
done:
	memcpy(out->digest, img->digest, sizeof(out->digest));
	out->config = img->config;
	memset(&img->config, 0, sizeof(img->config));
	snprintf(file, sizeof(file), "%s.erofs", hex);
	if (!(out->path = ed_oci_join(cache_dir, file))) {
		rc = ed_error(EDERA_ENOMEM, "out of memory");
	}
out:
	if (tmp >= 0)
		close(tmp);
	/* (removed while the lock is held: the next conversion of this digest
	 * would take it for a dead one's and remove it under our feet) */
	if (tmppath[0])
		ed_oci_rmtree(AT_FDCWD, tmppath);
	if (lock >= 0)
		ed_oci_unlock(cache, img->digest + 7, lock);
	if (cache >= 0)
		close(cache);
	ed_oci_image_free(img);
	free(img);
	ed_oci_src_close(src);
	if (rc < 0)
		ed_oci_result_free(out);
	return rc;
}

void ed_oci_result_free(struct ed_oci_result *r)
{
	if (!r)
		return;
	free(r->path);
	ed_oci_config_free(&r->config);
	memset(r, 0, sizeof(*r));
}

/* ---- a root directory packed for one run ---- */

static int random_bytes(uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t k = getrandom(b, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

int ed_oci_pack_dir(const char *dir, const char *cache_dir, struct ed_oci_packed *out)
{
	uint8_t rnd[32];
	char tmppath[4096 + 128];
	bool made = false;
	struct stat st;
	int rc;

	memset(out, 0, sizeof(*out));
	out->cache = out->lock = -1;
	if (!dir || !cache_dir || !*cache_dir)
		return ed_error(EDERA_EINVAL, "packing a root directory: no directory or cache");
	if (stat(dir, &st) < 0)
		return ed_error(ed_errno_code(errno), "root directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ed_error(EDERA_EINVAL, "root directory '%s' is not a directory", dir);
	/* a name of its own: random, guarded by a lock held for the run's
	 * life, so prune removes it only once its process is gone */
	if (random_bytes(rnd, sizeof(rnd)) < 0)
		return ed_error(EDERA_EIO, "packing '%s': no random bytes: %s", dir, strerror(errno));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(out->hex + 2 * i, 3, "%02x", rnd[i]);
	if ((rc = mkdir_p(cache_dir)) < 0 ||
	    (out->cache = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = ed_error(ed_errno_code(rc < 0 ? -rc : errno), "image cache '%s': %s", cache_dir,
		              strerror(rc < 0 ? -rc : errno));
		goto fail;
	}
	if ((rc = ed_oci_lock(out->cache, out->hex, false, &out->lock)) < 0) {
		rc = ed_error(ed_errno_code(-rc), "image cache '%s': a lock: %s", cache_dir,
		              strerror(-rc));
		goto fail;
	}
	snprintf(tmppath, sizeof(tmppath), "%s/" ED_OCI_TMP_PREFIX "%ld-%s-XXXXXX", cache_dir,
	         (long)getpid(), out->hex);
	if (!mkdtemp(tmppath)) {
		rc = ed_error(ed_errno_code(errno), "image cache '%s': a temporary directory: %s",
		              cache_dir, strerror(errno));
		goto fail;
	}
	made = true;
	if (!(out->tmp = strdup(tmppath)) || !(out->path = ed_oci_join(tmppath, "image.erofs"))) {
		rc = ed_error(EDERA_ENOMEM, "out of memory");
		goto fail;
	}
	{
		int tmp = open(tmppath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (tmp < 0) {
			rc = ed_error(ed_errno_code(errno), "'%s': %s", tmppath, strerror(errno));
			goto fail;
		}
		rc = run_mkfs(tmp, tmppath, dir);
		if (rc == 0 && fstatat(tmp, "image.erofs", &st, 0) == 0)
			out->size = (uint64_t)st.st_size;
		close(tmp);
	}
	if (rc < 0)
		goto fail;
	return 0;
fail:
	if (made && !out->tmp)
		ed_oci_rmtree(AT_FDCWD, tmppath);
	ed_oci_packed_free(out);
	return rc;
}

void ed_oci_packed_free(struct ed_oci_packed *p)
{
	if (!p)
		return;
	/* (removed while the lock is held, as a conversion's) */
	if (p->tmp)
		ed_oci_rmtree(AT_FDCWD, p->tmp);
	if (p->lock >= 0)
		ed_oci_unlock(p->cache, p->hex, p->lock);
	if (p->cache >= 0)
		close(p->cache);
	free(p->tmp);
	free(p->path);
	memset(p, 0, sizeof(*p));
	p->cache = p->lock = -1;
}
