/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test images built without a registry: layer tars written with
 * libarchive entry by entry (any path, owner or type, hostile ones too),
 * laid out as an OCI layout directory, a tar of one, or a docker save
 * archive. */
#ifndef EDERA_UNIT_MKOCI_H
#define EDERA_UNIT_MKOCI_H

#include <stddef.h>
#include <stdint.h>

struct mk_entry {
	const char *path;
	char type;        /* 'f' file, 'd' directory, 'l' symlink, 'h' hard link */
	const char *data; /* a file's content, a link's target */
	unsigned int mode, uid, gid;
};

struct mk_buf {
	uint8_t *p;
	size_t len;
};

enum mk_comp { MK_PLAIN, MK_GZIP, MK_ZSTD };

struct mk_image {
	struct mk_buf layers[8]; /* uncompressed tars */
	size_t n_layers;
	enum mk_comp comp;
	const char *config;   /* the "config" object's JSON text, or NULL */
	const char *ref_name; /* the index's ref name annotation, or NULL */
};

/* An uncompressed tar of the N entries (mtime 1000000000 each). */
struct mk_buf mk_tar(const struct mk_entry *e, size_t n);
struct mk_buf mk_compress(struct mk_buf in, enum mk_comp comp);
void mk_digest(const void *p, size_t len, char out[72]);
/* The image config's bytes (the diff_ids of IM's layers). */
struct mk_buf mk_config(const struct mk_image *im);
/* Write a blob (its digest into DIGEST) under DIR/blobs/sha256. */
void mk_blob(const char *dir, const void *p, size_t len, char digest[72]);
/* An OCI layout in DIR (created) holding IM (alone, or added to an
 * existing index when APPEND). */
void mk_layout(const char *dir, const struct mk_image *im, int append);
/* A docker save archive of IM at PATH. */
void mk_docker(const char *path, const struct mk_image *im);
/* A tar of directory DIR at PATH. */
void mk_tar_dir(const char *dir, const char *path);
void mk_write(const char *path, const void *p, size_t len);
void mk_image_free(struct mk_image *im);

#endif
