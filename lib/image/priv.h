/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the image conversion's files (lib/image/). */
#ifndef EDERA_IMAGE_PRIV_H
#define EDERA_IMAGE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci.h"

/* ---- the input (source.c) ----------------------------------------------- */

struct ed_oci_src;

struct ed_oci_layer {
	char *path;                      /* in the layout or archive */
	char digest[ED_DIGEST_STR_LEN];  /* the blob's, "" for docker save */
	char diff_id[ED_DIGEST_STR_LEN]; /* of the uncompressed tar */
	size_t same_as;                  /* first layer with the same path */
};

/* The image picked from the input, its manifest and config checked. */
struct ed_oci_image {
	char digest[ED_DIGEST_STR_LEN]; /* the config's */
	char *name;                     /* the matched or only name, or NULL */
	struct ed_oci_config config;
	struct ed_oci_layer layers[ED_OCI_LAYERS_MAX];
	size_t n_layers;
};

/* Open PATH (a layout directory or an archive; an archive is read once
 * for its small JSON members). */
int ed_oci_src_open(struct ed_oci_src **out, const char *path);
void ed_oci_src_close(struct ed_oci_src *s);
/* Pick the image named NAME (NULL: the only one) into IMG. */
int ed_oci_src_image(struct ed_oci_src *s, const char *name, struct ed_oci_image *img);
void ed_oci_image_free(struct ed_oci_image *img);
/* Make the layers readable with ed_oci_src_layer: an archive's are copied
 * into the directory TMP (at most MAX_BYTES); a directory's need nothing. */
int ed_oci_src_fetch(struct ed_oci_src *s, const struct ed_oci_image *img, int tmp,
                     uint64_t max_bytes);
/* An fd reading layer I (its blob digest checked first when it has one). */
int ed_oci_src_layer(struct ed_oci_src *s, const struct ed_oci_image *img, size_t i, int tmp);

/* ---- the config (config.c) ------------------------------------------------ */

/* Parse a config blob: the run-time fields into C, rootfs.diff_ids into
 * DIFF_IDS (N_DIFF_IDS of at most ED_OCI_LAYERS_MAX). */
int ed_oci_config_parse(struct ed_oci_config *c, char (*diff_ids)[ED_DIGEST_STR_LEN],
                        size_t *n_diff_ids, const uint8_t *data, size_t len, const char *what);
/* The sidecar's bytes (malloc'ed JSON text, NUL-terminated). */
char *ed_oci_sidecar_dump(const struct ed_oci_image *img, uint64_t size);
/* The name recorded in sidecar DATA (malloc'ed, or NULL). */
char *ed_oci_sidecar_name(const char *data, size_t len);

/* ---- layers applied to a tree (layer.c) ----------------------------------- */

struct ed_oci_unpack;

int ed_oci_unpack_new(struct ed_oci_unpack **out, int root, uint64_t max_bytes);
/* Apply the layer read from FD (gzip, zstd or plain tar), whose
 * uncompressed stream must hash to DIFF_ID; WHAT names it in messages. */
int ed_oci_unpack_layer(struct ed_oci_unpack *u, int fd, const char *diff_id, const char *what);
/* Report the next layers' progress to PROG (NULL: none) as layer LAYER of
 * N_LAYERS (see struct ed_oci_progress). */
void ed_oci_unpack_progress(struct ed_oci_unpack *u, const struct ed_oci_progress *prog,
                            size_t layer, size_t n_layers);
/* Directory times, set once nothing more is written under them. */
int ed_oci_unpack_finish(struct ed_oci_unpack *u);
void ed_oci_unpack_free(struct ed_oci_unpack *u);

/* ---- files (fsutil.c) ----------------------------------------------------- */

/* Remove NAME under DIR and everything below it, following no symlink;
 * a missing NAME is not an error.  Returns 0 or -errno. */
int ed_oci_rmtree(int dir, const char *name);
/* Read the regular file PATH under DIR (no symlink at the end) of at most
 * MAX bytes into *DATA (malloc'ed, NUL-terminated), *LEN. -errno or 0,
 * -EFBIG when larger. */
int ed_oci_read_at(int dir, const char *path, size_t max, uint8_t **data, size_t *len);
/* Write LEN bytes to NAME under DIR (created, 0644) and fsync it. */
int ed_oci_write_at(int dir, const char *name, const void *data, size_t len);
/* Take the exclusive lock of digest HEX in the cache directory CACHE
 * (a file <hex>.lock); WAIT false: -EWOULDBLOCK when held.  *FD keeps it. */
int ed_oci_lock(int cache, const char *hex, bool wait, int *fd);
/* Release it, removing the lock file (a process waiting on the removed file
 * notices and locks a new one): the directory keeps only images. */
void ed_oci_unlock(int cache, const char *hex, int fd);
/* Remove stale temporary files in CACHE: those of digest HEX (whose lock
 * the caller holds), or with HEX NULL every one whose digest lock is free. */
void ed_oci_clean_tmp(int cache, const char *hex);

/* "A/B" (malloc'ed), or NULL when out of memory. */
char *ed_oci_join(const char *a, const char *b);

#define ED_OCI_TMP_PREFIX ".tmp-"

#endif
