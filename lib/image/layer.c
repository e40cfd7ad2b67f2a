/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layers applied, in order, to a staged tree.
 *
 * Every entry's path is made relative ("./" and "/" runs dropped); an
 * absolute path or a ".." component is refused, and so is a path through
 * a symlink or a non-directory: each directory is opened from the tree's
 * root with O_NOFOLLOW, one component at a time, and everything is created
 * relative to the opened parent, so nothing is ever written outside the
 * tree whatever the earlier entries made of it.  Hard links must point to
 * a non-directory already in the tree, reached the same way.
 *
 * Whiteouts (the OCI layer format): ".wh.NAME" removes NAME as the lower
 * layers left it; ".wh..wh..opq" in a directory removes everything the
 * lower layers put in it.  A layer may list its opaque marker after its
 * own entries of that directory, so the paths each layer wrote (and their
 * parents) are remembered until its end, and those survive.
 *
 * Kept: contents, modes (setuid and sticky bits too), owners (when running
 * as root), mtimes, symlinks, hard links; device nodes and fifos when
 * running as root (skipped otherwise: only root may make them).  Not kept:
 * extended attributes (file capabilities, SELinux labels) and sockets.
 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "priv.h"

#define ENTRIES_MAX (1u << 20) /* per layer */
#define DEPTH_MAX   256        /* path components */
#define ENTRY_COST  512        /* counted against max_bytes per entry */
#define WH          ".wh."
#define WH_OPQ      ".wh..wh..opq"

/* The paths a layer wrote (and all their parents): open addressing. */
struct pathset {
	char **slot;
	size_t cap, n;
};

struct dirtime {
	char *path;
	struct timespec mtime;
};

struct ed_oci_unpack {
	int root;
	uint64_t max_bytes, used;
	bool as_root;
	struct pathset cur;
	struct dirtime *dirs;
	size_t n_dirs, cap_dirs;
	const char *what; /* the layer, for messages */
	/* the decompressed stream, hashed on its way to the tar reader */
	struct archive *outer;
	struct ed_sha256 hash;
	char buf[1 << 16];
	int outer_err;
	/* progress: the layer's compressed bytes read, reported every step */
	const struct ed_oci_progress *prog;
	size_t layer, n_layers;
	uint64_t in_total, in_reported;
};

#define PROGRESS_STEP (256u << 10)

static void report(struct ed_oci_unpack *u, uint64_t done)
{
	if (!u->prog || !u->prog->fn)
		return;
	if (u->in_total && done > u->in_total)
		done = u->in_total;
	u->in_reported = done;
	u->prog->fn(u->prog->arg, ED_OCI_UNPACKING, u->layer, u->n_layers, done, u->in_total);
}

void ed_oci_unpack_progress(struct ed_oci_unpack *u, const struct ed_oci_progress *prog,
                            size_t layer, size_t n_layers)
{
	u->prog = prog;
	u->layer = layer;
	u->n_layers = n_layers;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static bool set_has(const struct pathset *ps, const char *p)
{
	if (!ps->cap)
		return false;
	for (size_t i = hash_str(p) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
		if (!ps->slot[i])
			return false;
		if (strcmp(ps->slot[i], p) == 0)
			return true;
	}
}

static int set_add1(struct pathset *ps, const char *p)
{
	size_t i;

	if (set_has(ps, p))
		return 0;
	if (2 * (ps->n + 1) > ps->cap) {
		struct pathset big = {calloc(ps->cap ? 2 * ps->cap : 256, sizeof(char *)),
		                      ps->cap ? 2 * ps->cap : 256, 0};
		if (!big.slot)
			return -ENOMEM;
		for (size_t k = 0; k < ps->cap; k++) {
			if (!ps->slot[k])
				continue;
			for (i = hash_str(ps->slot[k]) & (big.cap - 1); big.slot[i];
			     i = (i + 1) & (big.cap - 1))
				;
			big.slot[i] = ps->slot[k];
			big.n++;
		}
		free(ps->slot);
		*ps = big;
	}
	for (i = hash_str(p) & (ps->cap - 1); ps->slot[i]; i = (i + 1) & (ps->cap - 1))
		;
	if (!(ps->slot[i] = strdup(p)))
		return -ENOMEM;
	ps->n++;
	return 0;
}

/* P and each of its parents. */
static int set_add(struct pathset *ps, const char *p)
{
	char tmp[PATH_MAX];
	char *slash;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s", p);
	for (;;) {
		if ((rc = set_add1(ps, tmp)) < 0)
			return rc;
		slash = strrchr(tmp, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
}

static void set_clear(struct pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
	memset(ps, 0, sizeof(*ps));
}

int ed_oci_unpack_new(struct ed_oci_unpack **out, int root, uint64_t max_bytes)
{
	struct ed_oci_unpack *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return ed_error(EDERA_ENOMEM, "out of memory");
	u->root = root;
	u->max_bytes = max_bytes;
	u->as_root = geteuid() == 0;
	*out = u;
	return 0;
}

void ed_oci_unpack_free(struct ed_oci_unpack *u)
{
	if (!u)
		return;
	set_clear(&u->cur);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	free(u);
}

/* The entry's path, made relative and checked, into OUT ("" for the
 * root).  Its components are separated by single slashes. */
static int clean_path(struct ed_oci_unpack *u, const char *in, char out[PATH_MAX], const char *kind)
{
	size_t o = 0, depth = 0;
	const char *c = in;

	if (!in)
		return ed_error(EDERA_EINVAL, "%s: an entry has no path", u->what);
	if (in[0] == '/')
		return ed_error(EDERA_EINVAL, "%s: %s '%.200s' is absolute: refusing it", u->what,
		                kind, in);
	while (*c) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return ed_error(EDERA_EINVAL,
			                "%s: %s '%.200s' has a '..' component: refusing to write "
			                "outside the image",
			                u->what, kind, in);
		if (n > 0 && !(n == 1 && c[0] == '.')) {
			if (n > NAME_MAX || o + n + 2 > PATH_MAX || ++depth > DEPTH_MAX)
				return ed_error(EDERA_EINVAL, "%s: %s '%.200s...' is too long",
				                u->what, kind, in);
			if (o)
				out[o++] = '/';
			memcpy(out + o, c, n);
			o += n;
		}
		c = e ? e + 1 : c + n;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The directory holding PATH's last component, opened from the root
 * without following any symlink; *BASE points into PATH at that
 * component.  CREATE makes missing directories (root-owned, 0755, as
 * container runtimes do).  Returns the fd, -ENOENT when missing and not
 * CREATE, or an ed_error code naming the component in the way.
 */
static int open_parent(struct ed_oci_unpack *u, const char *path, bool create, const char **base)
{
	char comp[NAME_MAX + 1];
	const char *c = path, *slash;
	int fd = dup(u->root);

	if (fd < 0)
		return ed_error(ed_errno_code(errno), "%s: %s", u->what, strerror(errno));
	while ((slash = strchr(c, '/'))) {
		size_t n = (size_t)(slash - c);
		int next;

		memcpy(comp, c, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				return ed_error(ed_errno_code(e), "%s: creating '%.*s': %s",
				                u->what, (int)(slash - path), path, strerror(e));
			}
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = errno;
			struct stat st;
			/* (O_DIRECTORY | O_NOFOLLOW on a symlink: ENOTDIR, or ELOOP) */
			bool link = (e == ELOOP || e == ENOTDIR) &&
			            fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			            S_ISLNK(st.st_mode);
			close(fd);
			if (e == ENOENT && !create)
				return -ENOENT;
			if (e == ELOOP || e == ENOTDIR)
				return ed_error(
				        EDERA_EINVAL,
				        "%s: entry '%.200s' goes through '%.*s', a %s: refusing "
				        "to write through it",
				        u->what, path, (int)(slash - path), path,
				        link ? "symlink" : "non-directory");
			return ed_error(ed_errno_code(e), "%s: '%.*s': %s", u->what,
			                (int)(slash - path), path, strerror(e));
		}
		close(fd);
		fd = next;
		c = slash + 1;
	}
	*base = c;
	return fd;
}

static int sys_fail(struct ed_oci_unpack *u, const char *op, const char *path)
{
	int e = errno;
	return ed_error(ed_errno_code(e), "%s: %s '%.200s': %s", u->what, op, path, strerror(e));
}

/* Make room for a new entry BASE in DIR (a directory stays when KEEP_DIR). */
static int clear_spot(struct ed_oci_unpack *u, int dir, const char *base, bool keep_dir,
                      const char *path)
{
	struct stat st;
	int rc;

	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sys_fail(u, "looking at", path);
	if (keep_dir && S_ISDIR(st.st_mode))
		return 1;
	rc = ed_oci_rmtree(dir, base);
	if (rc < 0) {
		errno = -rc;
		return sys_fail(u, "replacing", path);
	}
	return 0;
}

static int set_meta(struct ed_oci_unpack *u, int dir, const char *base, int fd,
                    struct archive_entry *e, const char *path)
{
	struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
	                         {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
	bool link = archive_entry_filetype(e) == AE_IFLNK;

	/* chown before chmod: chown clears the setuid and setgid bits. */
	if (u->as_root &&
	    (fd >= 0 ? fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e))
	             : fchownat(dir, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
	                        AT_SYMLINK_NOFOLLOW)) < 0)
		return sys_fail(u, "setting the owner of", path);
	if (!link && (fd >= 0 ? fchmod(fd, archive_entry_perm(e) & 07777)
	                      : fchmodat(dir, base, archive_entry_perm(e) & 07777, 0)) < 0)
		return sys_fail(u, "setting the mode of", path);
	if (archive_entry_filetype(e) == AE_IFDIR)
		return 0; /* its time is set at the end */
	if ((fd >= 0 ? futimens(fd, ts) : utimensat(dir, base, ts, AT_SYMLINK_NOFOLLOW)) < 0)
		return sys_fail(u, "setting the time of", path);
	return 0;
}

static int write_file(struct ed_oci_unpack *u, struct archive *a, int dir, const char *base,
                      struct archive_entry *e, const char *path)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int fd, r, rc;

	fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sys_fail(u, "creating", path);
	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (size > 0) {
			ssize_t w = pwrite(fd, p, size, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = sys_fail(u, "writing", path);
				close(fd);
				return rc;
			}
			p += w, off += w, size -= (size_t)w;
		}
	}
	if (r != ARCHIVE_EOF) {
		close(fd);
		return ed_error(EDERA_EINVAL, "%s: reading '%.200s': %s", u->what, path,
		                u->outer_err ? archive_error_string(u->outer)
		                             : archive_error_string(a));
	}
	/* (sparse files end with a hole) */
	if (ftruncate(fd, archive_entry_size(e)) < 0) {
		rc = sys_fail(u, "writing", path);
		close(fd);
		return rc;
	}
	rc = set_meta(u, dir, base, fd, e, path);
	close(fd);
	return rc;
}

static int note_dir(struct ed_oci_unpack *u, const char *path, struct archive_entry *e)
{
	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? 2 * u->cap_dirs : 64;
		struct dirtime *d = realloc(u->dirs, cap * sizeof(*d));
		if (!d)
			return ed_error(EDERA_ENOMEM, "out of memory");
		u->dirs = d;
		u->cap_dirs = cap;
	}
	if (!(u->dirs[u->n_dirs].path = strdup(path)))
		return ed_error(EDERA_ENOMEM, "out of memory");
	u->dirs[u->n_dirs].mtime.tv_sec = archive_entry_mtime(e);
	u->dirs[u->n_dirs].mtime.tv_nsec = archive_entry_mtime_nsec(e);
	u->n_dirs++;
	return 0;
}

/* Everything under the open directory FD (at PATH) that this layer did not
 * write goes. */
static int make_opaque(struct ed_oci_unpack *u, int fd, const char *path)
{
	struct dirent *de;
	char child[PATH_MAX];
	int rc = 0, dfd;
	DIR *d;

	dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return sys_fail(u, "reading", path);
	}
	while (rc == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(child, sizeof(child), "%s%s%s", path, *path ? "/" : "", de->d_name);
		if (set_has(&u->cur, child)) {
			int sub = openat(fd, de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				rc = make_opaque(u, sub, child);
				close(sub);
			}
			continue;
		}
		int r = ed_oci_rmtree(fd, de->d_name);
		if (r < 0) {
			errno = -r;
			rc = sys_fail(u, "removing", child);
		}
	}
	closedir(d);
	return rc;
}

static int whiteout(struct ed_oci_unpack *u, const char *path, int dir, const char *base)
{
	char target[PATH_MAX];
	size_t plen = (size_t)(base - path);
	int rc;

	if (strcmp(base, WH_OPQ) == 0) {
		int fd;
		if (plen == 0)
			return make_opaque(u, u->root, "");
		snprintf(target, sizeof(target), "%.*s", (int)plen - 1, path);
		fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return sys_fail(u, "opening", target);
		rc = make_opaque(u, fd, target);
		close(fd);
		return rc;
	}
	if (strncmp(base, WH WH, 2 * strlen(WH)) == 0)
		return 0; /* aufs's own files (.wh..wh.plnk and the like) */
	base += strlen(WH);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return ed_error(EDERA_EINVAL, "%s: whiteout '%.200s' names no file", u->what, path);
	snprintf(target, sizeof(target), "%.*s%s", (int)plen, path, base);
	if (set_has(&u->cur, target))
		return 0; /* this layer's own file: whiteouts hide lower layers only */
	rc = ed_oci_rmtree(dir, base);
	if (rc < 0) {
		errno = -rc;
		return sys_fail(u, "removing", target);
	}
	return 0;
}

static int apply_entry(struct ed_oci_unpack *u, struct archive *a, struct archive_entry *e)
{
	char path[PATH_MAX], target[PATH_MAX];
	unsigned int type = archive_entry_filetype(e);
	const char *base, *tbase;
	int dir, tdir, rc;
	la_int64_t size = archive_entry_size(e);

	if ((rc = clean_path(u, archive_entry_pathname(e), path, "entry")) < 0)
		return rc;
	if (size < 0)
		size = 0;
	if ((uint64_t)size + ENTRY_COST > u->max_bytes - u->used ||
	    u->used + ENTRY_COST > u->max_bytes)
		return ed_error(EDERA_ENOSPC,
		                "%s: entry '%.200s': the image is larger than the limit of %llu "
		                "bytes",
		                u->what, path, (unsigned long long)u->max_bytes);
	u->used += (uint64_t)size + ENTRY_COST;

	if (!*path) { /* the root itself */
		if (type != AE_IFDIR)
			return ed_error(EDERA_EINVAL, "%s: the root entry is not a directory",
			                u->what);
		rc = set_meta(u, -1, NULL, u->root, e, "/");
		return rc < 0 ? rc : note_dir(u, "", e);
	}
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (strncmp(base, WH, strlen(WH)) == 0) {
		dir = open_parent(u, path, false, &base);
		if (dir == -ENOENT)
			return 0; /* nothing below to hide */
		if (dir < 0)
			return dir;
		rc = whiteout(u, path, dir, base);
		close(dir);
		return rc;
	}
	if ((rc = set_add(&u->cur, path)) < 0)
		return ed_error(EDERA_ENOMEM, "out of memory");
	dir = open_parent(u, path, true, &base);
	if (dir < 0)
		return dir;
	if (archive_entry_hardlink(e)) {
		if ((rc = clean_path(u, archive_entry_hardlink(e), target, "hard link target")) < 0)
			goto out;
		tdir = open_parent(u, target, false, &tbase);
		if (tdir == -ENOENT || (tdir >= 0 && !*target)) {
			if (tdir >= 0)
				close(tdir);
			rc = ed_error(EDERA_EINVAL, "%s: hard link '%.200s' to missing '%.200s'",
			              u->what, path, target);
			goto out;
		}
		if (tdir < 0) {
			rc = tdir;
			goto out;
		}
		struct stat st;
		if (fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode)) {
			rc = ed_error(EDERA_EINVAL,
			              "%s: hard link '%.200s' to '%.200s', which is missing or a "
			              "directory",
			              u->what, path, target);
			close(tdir);
			goto out;
		}
		if (strcmp(path, target) != 0 &&
		    ((rc = clear_spot(u, dir, base, false, path)) < 0 ||
		     linkat(tdir, tbase, dir, base, 0) < 0))
			rc = rc < 0 ? rc : sys_fail(u, "linking", path);
		close(tdir);
		goto out;
	}
	switch (type) {
	case AE_IFREG:
		if ((rc = clear_spot(u, dir, base, false, path)) == 0)
			rc = write_file(u, a, dir, base, e, path);
		break;
	case AE_IFDIR: {
		int fd;
		if ((rc = clear_spot(u, dir, base, true, path)) < 0)
			break;
		if (rc == 0 && mkdirat(dir, base, 0700) < 0) {
			rc = sys_fail(u, "creating", path);
			break;
		}
		fd = openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			rc = sys_fail(u, "opening", path);
			break;
		}
		rc = set_meta(u, dir, base, fd, e, path);
		close(fd);
		if (rc == 0)
			rc = note_dir(u, path, e);
		break;
	}
	case AE_IFLNK: {
		const char *to = archive_entry_symlink(e);
		if (!to || !*to || strlen(to) >= PATH_MAX) {
			rc = ed_error(EDERA_EINVAL,
			              "%s: symlink '%.200s' has no or too long a target", u->what,
			              path);
			break;
		}
		/* The target is only stored: nothing here ever follows it. */
		if ((rc = clear_spot(u, dir, base, false, path)) == 0 &&
		    symlinkat(to, dir, base) < 0)
			rc = sys_fail(u, "creating", path);
		if (rc == 0)
			rc = set_meta(u, dir, base, -1, e, path);
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (!u->as_root)
			break; /* only root may make them (a fifo could be, but not owned) */
		if ((rc = clear_spot(u, dir, base, false, path)) == 0 &&
		    mknodat(dir, base, type | (archive_entry_perm(e) & 0777),
		            makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0)
			rc = sys_fail(u, "creating", path);
		if (rc == 0)
			rc = set_meta(u, dir, base, -1, e, path);
		break;
	default: break; /* sockets and the like: nothing to keep */
	}
out:
	close(dir);
	return rc < 0 ? rc : 0;
}

/* The tar reader's input: the next decompressed bytes, hashed. */
static la_ssize_t pull(struct archive *a, void *opaque, const void **buf)
{
	struct ed_oci_unpack *u = opaque;
	la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof(u->buf));

	if (n < 0) {
		u->outer_err = 1;
		archive_set_error(a, EINVAL, "%s", archive_error_string(u->outer));
		return -1;
	}
	ed_sha256_update(&u->hash, u->buf, (size_t)n);
	if (u->prog) {
		la_int64_t in = archive_filter_bytes(u->outer, -1);

		if (in > 0 && (uint64_t)in >= u->in_reported + PROGRESS_STEP)
			report(u, (uint64_t)in);
	}
	*buf = u->buf;
	return n;
}

int ed_oci_unpack_layer(struct ed_oci_unpack *u, int fd, const char *diff_id, const char *what)
{
	struct archive *tar = NULL;
	struct archive_entry *e;
	char got[ED_DIGEST_STR_LEN];
	size_t count = 0;
	int r, rc = 0;

	u->what = what;
	u->outer_err = 0;
	if (u->prog) {
		struct stat st;

		u->in_total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		report(u, 0);
	}
	set_clear(&u->cur);
	ed_sha256_init(&u->hash);
	u->outer = archive_read_new();
	tar = archive_read_new();
	if (!u->outer || !tar) {
		rc = ed_error(EDERA_ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_filter_gzip(u->outer);
	archive_read_support_filter_zstd(u->outer);
	archive_read_support_format_raw(u->outer);
	archive_read_support_format_tar(tar);
	if (archive_read_open_fd(u->outer, fd, 1 << 16) != ARCHIVE_OK ||
	    archive_read_next_header(u->outer, &e) != ARCHIVE_OK) {
		rc = ed_error(EDERA_EINVAL, "%s: %s", what, archive_error_string(u->outer));
		goto out;
	}
	if (archive_read_open(tar, u, NULL, pull, NULL) != ARCHIVE_OK) {
		rc = ed_error(EDERA_EINVAL, "%s: not a tar archive: %s", what,
		              archive_error_string(tar));
		goto out;
	}
	while ((r = archive_read_next_header(tar, &e)) == ARCHIVE_OK) {
		if (++count > ENTRIES_MAX) {
			rc = ed_error(EDERA_EINVAL, "%s: more than %u entries", what, ENTRIES_MAX);
			goto out;
		}
		if ((rc = apply_entry(u, tar, e)) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		rc = ed_error(EDERA_EINVAL, "%s: %s", what,
		              u->outer_err ? archive_error_string(u->outer)
		                           : archive_error_string(tar));
		goto out;
	}
	/* The tar's end may leave padding unread: the digest covers it. */
	for (;;) {
		la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof(u->buf));
		if (n < 0) {
			rc = ed_error(EDERA_EINVAL, "%s: %s", what, archive_error_string(u->outer));
			goto out;
		}
		if (n == 0)
			break;
		ed_sha256_update(&u->hash, u->buf, (size_t)n);
	}
	ed_sha256_final_str(&u->hash, got);
	if (u->prog)
		report(u, u->in_total ? u->in_total : (uint64_t)archive_filter_bytes(u->outer, -1));
	if (strcmp(got, diff_id) != 0)
		rc = ed_error(EDERA_EINVAL,
		              "%s: its uncompressed content hashes to %s, not %s as the config's "
		              "rootfs.diff_ids says: the image is corrupt",
		              what, got, diff_id);
out:
	if (tar)
		archive_read_free(tar);
	if (u->outer)
		archive_read_free(u->outer);
	u->outer = NULL;
	set_clear(&u->cur);
	return rc;
}

int ed_oci_unpack_finish(struct ed_oci_unpack *u)
{
	/* Every write is done: the directories get their times, the later
	 * layers' last.  One removed or replaced since is skipped. */
	for (size_t i = 0; i < u->n_dirs; i++) {
		struct timespec ts[2] = {u->dirs[i].mtime, u->dirs[i].mtime};
		const char *base;
		int dir;

		if (!*u->dirs[i].path) {
			futimens(u->root, ts);
			continue;
		}
		dir = open_parent(u, u->dirs[i].path, false, &base);
		if (dir < 0)
			continue;
		utimensat(dir, base, ts, AT_SYMLINK_NOFOLLOW);
		close(dir);
	}
	return 0;
}
