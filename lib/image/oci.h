/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Local OCI images turned into read-only root filesystems for zones.
 *
 * The input is an OCI image layout (a directory holding oci-layout,
 * index.json and blobs/sha256/...), the same layout as a tar archive, or a
 * `docker save` archive (manifest.json listing Config and Layers).  The
 * output is an erofs image in a cache directory, named by the image
 * config's digest, with a small JSON sidecar holding what the run step
 * needs from the config.  See oci.c for the choices made.
 *
 * Everything read from the image is untrusted: JSON files are at most
 * ED_OCI_JSON_MAX bytes, every blob is checked against its digest before it
 * is used (the manifest and config too), each layer's uncompressed stream
 * against the config's rootfs.diff_ids, and layer entries may not leave the
 * tree (absolute paths, "..", or a path through a symlink are refused).
 *
 * The calls block (the library runs them on a threadpool worker), keep no
 * state outside their arguments and may run on several threads and in
 * several processes at once over one cache directory.
 */
#ifndef EDERA_IMAGE_OCI_H
#define EDERA_IMAGE_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sha256.h"

/* Largest JSON file (index, manifest, config, manifest.json) read. */
#define ED_OCI_JSON_MAX (1u << 20)
/* Most layers in one image (Docker's own limit is 127). */
#define ED_OCI_LAYERS_MAX 128

/* What the run step needs from the image config (its "config" object).
 * Absent lists have n_* == 0 and a NULL array; absent strings are NULL. */
struct ed_oci_config {
	char **entrypoint;
	size_t n_entrypoint;
	char **cmd;
	size_t n_cmd;
	char **env;
	size_t n_env;
	char *workdir;
	char *user;
};

void ed_oci_config_free(struct ed_oci_config *c);

struct ed_oci_result {
	char *path;                     /* CACHE_DIR/<hex>.erofs */
	char digest[ED_DIGEST_STR_LEN]; /* the config's, "sha256:<hex>" */
	struct ed_oci_config config;
	uint64_t size; /* of the erofs image, bytes */
	bool cached;   /* true: found in the cache, nothing converted */
};

/*
 * Convert the image at IMAGE_PATH (a layout directory or a .tar archive)
 * into CACHE_DIR/<hex>.erofs, or find it there already.  NAME picks the
 * image when the input holds several (matched against the
 * org.opencontainers.image.ref.name or io.containerd.image.name annotation,
 * or a docker RepoTags entry); NULL takes the only one.  MAX_BYTES bounds
 * what the conversion writes: the layers copied out of an archive, and the
 * staged tree (file sizes plus 512 bytes per entry) each at most that.
 * CACHE_DIR is created if missing.
 *
 * On success OUT is filled and owned by the caller (ed_oci_result_free).
 * On failure OUT is zeroed and nothing of this conversion is left in
 * CACHE_DIR.  Errors (the thread's message names the file,
 * layer or entry at fault): EDERA_EINVAL (malformed or unsafe image, name
 * not found among several, bad argument), EDERA_ENOENT (input or a blob
 * missing), EDERA_ENOTSUP (a digest algorithm or layer type not handled),
 * EDERA_ENOSPC (more than MAX_BYTES), EDERA_EIO (mkfs.erofs failed or
 * missing, I/O errors), EDERA_ENOMEM, or another code from errno.
 */
int ed_oci_convert(const char *image_path, const char *name, const char *cache_dir,
                   uint64_t max_bytes, struct ed_oci_result *out);

/* Where a conversion stands, for a progress display: STEP is
 * ED_OCI_READING (an archive's layers copied out), ED_OCI_UNPACKING (layer
 * LAYER, from 1, of N_LAYERS: DONE of its TOTAL compressed bytes read, TOTAL
 * 0 when unknown; reported at its start, about every 256 KiB and at its
 * end) or ED_OCI_PACKING (the erofs image being made).  Called from the
 * converting thread, only when a conversion happens (not for a cached
 * image). */
enum { ED_OCI_READING = 1, ED_OCI_UNPACKING = 2, ED_OCI_PACKING = 3 };
struct ed_oci_progress {
	void (*fn)(void *arg, int step, size_t layer, size_t n_layers, uint64_t done,
	           uint64_t total);
	void *arg;
};

/* ed_oci_convert, reporting its progress to PROG (may be NULL). */
int ed_oci_convert_progress(const char *image_path, const char *name, const char *cache_dir,
                            uint64_t max_bytes, const struct ed_oci_progress *prog,
                            struct ed_oci_result *out);
void ed_oci_result_free(struct ed_oci_result *r);

/* A converted image in the cache. */
struct ed_oci_entry {
	char digest[ED_DIGEST_STR_LEN];
	char *path;    /* of the .erofs */
	char *name;    /* the name it was converted under, or NULL */
	uint64_t size; /* the .erofs and its sidecar, bytes */
	struct timespec last_used;
};

/*
 * The complete images in CACHE_DIR (an image and its sidecar), most
 * recently used first, into *OUT (*N entries; free with
 * ed_oci_list_free).  A missing CACHE_DIR is an empty cache.  Errors:
 * EDERA_ENOMEM, or a code from errno reading the directory.
 */
int ed_oci_list(const char *cache_dir, struct ed_oci_entry **out, size_t *n);
void ed_oci_list_free(struct ed_oci_entry *e, size_t n);

/*
 * A directory used as a root as it is (a container's root filesystem that
 * containerd's snapshotter mounted): packed by mkfs.erofs into a temporary
 * image under CACHE_DIR (".tmp-<pid>-<random>-XXXXXX/image.erofs"), kept
 * and locked until ed_oci_packed_free removes it — once a loop device
 * holds the image, it may go.  A process that dies leaves the temporary
 * directory to the next prune (its lock is then free).  Errors: EDERA_EINVAL
 * (not a directory), EDERA_ENOENT, EDERA_EIO (mkfs.erofs failed), ...
 */
struct ed_oci_packed {
	char *path;   /* the image */
	char *tmp;    /* its temporary directory */
	uint64_t size;
	char hex[65]; /* its lock's name */
	int cache, lock;
};
int ed_oci_pack_dir(const char *dir, const char *cache_dir, struct ed_oci_packed *out);
void ed_oci_packed_free(struct ed_oci_packed *p);

/*
 * Remove least recently used images until the cache holds at most
 * KEEP_BYTES, skipping images being converted or used by a conversion at
 * that moment; also removes temporary files left by conversions that
 * died.  *REMOVED and *FREED (either may be NULL) count what went.  Errors
 * as ed_oci_list.
 */
int ed_oci_prune(const char *cache_dir, uint64_t keep_bytes, size_t *removed, uint64_t *freed);

#endif
