/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The input image: an OCI layout directory, a tar of one, or a `docker
 * save` archive; which image in it; its manifest and config, checked.
 *
 * An archive is read once for its small JSON members (kept in memory), so
 * that a cache hit costs one pass over the tar and no copy; on a miss a
 * second pass copies out the layers the chosen image needs (an archive's
 * members come in any order, the layers are applied in theirs).
 *
 * Trust: the manifest's and config's digests are checked against their
 * bytes (the index's own is not: nothing names it); a layer's blob digest
 * is checked before the blob is opened for extraction, and its
 * uncompressed stream against the config's diff_ids while it is applied
 * (layer.c).  A docker save archive names no digests but the config's
 * file name: the config digest is computed, and the diff_ids it lists bind
 * the layers to it, so the cache key (that digest) covers everything.
 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "priv.h"

/* An archive's members kept in memory: at most this many bytes in all. */
#define SMALL_TOTAL_MAX (64u << 20)
/* Most members an archive may have. */
#define MEMBERS_MAX  1000000
#define PATH_LEN_MAX 4096

struct member {
	char *name;
	uint8_t *data;
	size_t len;
};

struct ed_oci_src {
	char *path;
	int dir; /* the layout directory, or -1 for an archive */
	struct member *m;
	size_t n, cap, total;
};

/* A member or blob path from the image: relative, no "..", no "//". */
static bool safe_rel(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || len >= PATH_LEN_MAX || p[0] == '/')
		return false;
	for (const char *c = p; c;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = e ? e + 1 : NULL;
	}
	return true;
}

/* Archive member names as tar writes them: "./x" and "x" are one. */
static const char *member_name(const char *n)
{
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	while (n[0] == '/')
		n++;
	return n;
}

static struct archive *archive_open(const char *path)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		ed_error(EDERA_EINVAL, "image archive '%s': %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Keep the small members that may be JSON (index, manifests, configs,
 * manifest.json): what ed_oci_src_image reads. */
static int index_archive(struct ed_oci_src *s)
{
	struct archive_entry *e;
	struct archive *a;
	size_t count = 0;
	int r, rc = 0;

	a = archive_open(s->path);
	if (!a)
		return edera_last_error_code();
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		la_int64_t size = archive_entry_size(e);
		struct member *m;
		uint8_t first;

		if (++count > MEMBERS_MAX) {
			rc = ed_error(EDERA_EINVAL, "image archive '%s': more than %d members",
			              s->path, MEMBERS_MAX);
			break;
		}
		if (!name || archive_entry_filetype(e) != AE_IFREG || size <= 0 ||
		    size > (la_int64_t)ED_OCI_JSON_MAX)
			continue;
		name = member_name(name);
		if (!safe_rel(name) || archive_read_data(a, &first, 1) != 1)
			continue;
		if (first != '{' && first != '[')
			continue;
		if (s->total + (size_t)size > SMALL_TOTAL_MAX) {
			rc = ed_error(
			        EDERA_EINVAL,
			        "image archive '%s': more than %u MiB of JSON members: not an "
			        "image archive?",
			        s->path, SMALL_TOTAL_MAX >> 20);
			break;
		}
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 16;
			struct member *nm = realloc(s->m, cap * sizeof(*nm));
			if (!nm) {
				rc = ed_error(EDERA_ENOMEM, "out of memory");
				break;
			}
			s->m = nm;
			s->cap = cap;
		}
		m = &s->m[s->n];
		m->name = strdup(name);
		m->data = malloc((size_t)size + 1);
		if (!m->name || !m->data) {
			free(m->name);
			free(m->data);
			rc = ed_error(EDERA_ENOMEM, "out of memory");
			break;
		}
		m->data[0] = first;
		if (archive_read_data(a, m->data + 1, (size_t)size - 1) != size - 1) {
			free(m->name);
			free(m->data);
			rc = ed_error(EDERA_EINVAL, "image archive '%s': member '%s' is truncated",
			              s->path, name);
			break;
		}
		m->data[size] = '\0';
		m->len = (size_t)size;
		s->total += m->len;
		s->n++;
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = ed_error(EDERA_EINVAL, "image archive '%s': %s", s->path,
		              archive_error_string(a));
	archive_read_free(a);
	return rc;
}

int ed_oci_src_open(struct ed_oci_src **out, const char *path)
{
	struct ed_oci_src *s;
	struct stat st;
	int rc = 0;

	*out = NULL;
	if (stat(path, &st) < 0)
		return ed_error(errno == ENOENT ? EDERA_ENOENT : ed_errno_code(errno),
		                "image '%s': %s", path, strerror(errno));
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return ed_error(EDERA_ENOMEM, "out of memory");
	}
	s->dir = -1;
	if (S_ISDIR(st.st_mode)) {
		s->dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->dir < 0)
			rc = ed_error(ed_errno_code(errno), "image directory '%s': %s", path,
			              strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		rc = index_archive(s);
	} else {
		rc = ed_error(EDERA_EINVAL,
		              "image '%s': neither a directory (OCI layout) nor a file (archive)",
		              path);
	}
	if (rc < 0) {
		ed_oci_src_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ed_oci_src_close(struct ed_oci_src *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->m[i].name);
		free(s->m[i].data);
	}
	free(s->m);
	if (s->dir >= 0)
		close(s->dir);
	free(s->path);
	free(s);
}

/* A small file of the image (a copy, NUL-terminated); ENOENT quietly when
 * OPTIONAL and missing. */
static int read_small(struct ed_oci_src *s, const char *path, bool optional, uint8_t **data,
                      size_t *len)
{
	int rc;

	*data = NULL;
	*len = 0;
	if (s->dir >= 0) {
		rc = ed_oci_read_at(s->dir, path, ED_OCI_JSON_MAX, data, len);
		if (rc == -ENOENT && optional)
			return EDERA_ENOENT;
		if (rc == -EFBIG)
			return ed_error(EDERA_EINVAL, "image '%s': '%s' is larger than %u bytes",
			                s->path, path, ED_OCI_JSON_MAX);
		if (rc < 0)
			return ed_error(rc == -ENOENT ? EDERA_ENOENT : ed_errno_code(-rc),
			                "image '%s': '%s': %s", s->path, path, strerror(-rc));
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->m[i].name, path) != 0)
			continue;
		*data = malloc(s->m[i].len + 1);
		if (!*data)
			return ed_error(EDERA_ENOMEM, "out of memory");
		memcpy(*data, s->m[i].data, s->m[i].len + 1);
		*len = s->m[i].len;
		return 0;
	}
	if (optional)
		return EDERA_ENOENT;
	return ed_error(EDERA_ENOENT,
	                "image archive '%s': no member '%s' (or it is larger than %u bytes)",
	                s->path, path, ED_OCI_JSON_MAX);
}

static void digest_of(const uint8_t *data, size_t len, char out[ED_DIGEST_STR_LEN])
{
	struct ed_sha256 c;

	ed_sha256_init(&c);
	ed_sha256_update(&c, data, len);
	ed_sha256_final_str(&c, out);
}

static int check_digest_str(const char *d, const char *what)
{
	if (ed_digest_valid(d))
		return 0;
	if (strncmp(d, "sha256:", 7) != 0 && strchr(d, ':'))
		return ed_error(EDERA_ENOTSUP, "%s: digest '%.80s': only sha256 is supported", what,
		                d);
	return ed_error(EDERA_EINVAL, "%s: '%.80s' is not a sha256 digest", what, d);
}

/* The blob DIGEST (of SIZE bytes, -1 unknown), read and checked. */
static int read_blob(struct ed_oci_src *s, const char *digest, json_int_t size, const char *what,
                     uint8_t **data, size_t *len)
{
	char path[96], got[ED_DIGEST_STR_LEN];
	int rc;

	if ((rc = check_digest_str(digest, what)) < 0)
		return rc;
	if (size > (json_int_t)ED_OCI_JSON_MAX)
		return ed_error(EDERA_EINVAL, "%s %s: %lld bytes, more than the %u allowed", what,
		                digest, (long long)size, ED_OCI_JSON_MAX);
	snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
	if ((rc = read_small(s, path, false, data, len)) < 0)
		return rc;
	digest_of(*data, *len, got);
	if (strcmp(got, digest) != 0 || (size >= 0 && (size_t)size != *len)) {
		free(*data);
		*data = NULL;
		return ed_error(EDERA_EINVAL,
		                "image '%s': %s blob '%s' does not match its digest (its content "
		                "hashes to %s, %zu bytes): the image is corrupt",
		                s->path, what, path, got, *len);
	}
	return 0;
}

static json_t *parse(const uint8_t *data, size_t len, const char *what, const char *where)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!j)
		ed_error(EDERA_EINVAL, "image '%s': %s is not valid JSON (line %d: %s)", where,
		         what, jerr.line, jerr.text);
	return j;
}

static const char *host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}

static bool is_index_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
	              strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

static const char *annotation(json_t *desc, const char *key)
{
	return json_string_value(json_object_get(json_object_get(desc, "annotations"), key));
}

static bool desc_named(json_t *desc, const char *name)
{
	const char *a = annotation(desc, "org.opencontainers.image.ref.name");
	const char *b = annotation(desc, "io.containerd.image.name");

	return (a && strcmp(a, name) == 0) || (b && strcmp(b, name) == 0);
}

static const char *desc_name(json_t *desc)
{
	const char *b = annotation(desc, "io.containerd.image.name");

	return b ? b : annotation(desc, "org.opencontainers.image.ref.name");
}

/* The names of the descriptors in MANIFESTS, for a message. */
static void list_names(json_t *manifests, char *buf, size_t size)
{
	size_t i, off = 0;
	json_t *d;

	buf[0] = '\0';
	json_array_foreach(manifests, i, d)
	{
		const char *n = desc_name(d);
		int w = snprintf(buf + off, size - off, "%s'%s'", off ? ", " : "",
		                 n ? n : "(unnamed)");
		if (w < 0 || (size_t)w >= size - off)
			break;
		off += (size_t)w;
	}
}

static int set_name(struct ed_oci_image *img, const char *name)
{
	if (!name)
		return 0;
	img->name = strdup(name);
	return img->name ? 0 : ed_error(EDERA_ENOMEM, "out of memory");
}

static int layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
	        "application/vnd.oci.image.layer.v1.tar",
	        "application/vnd.oci.image.layer.v1.tar+gzip",
	        "application/vnd.oci.image.layer.v1.tar+zstd",
	        "application/vnd.docker.image.rootfs.diff.tar",
	        "application/vnd.docker.image.rootfs.diff.tar.gzip",
	        "application/vnd.docker.image.rootfs.diff.tar.zstd",
	};

	if (!mt) /* untyped: the content decides (libarchive detects it) */
		return 1;
	for (size_t i = 0; i < ED_ARRAY_SIZE(ok); i++)
		if (strcmp(mt, ok[i]) == 0)
			return 1;
	return 0;
}

/* The config blob CFG (DIGEST known or computed), parsed into IMG and
 * matched with the layer count. */
static int take_config(struct ed_oci_src *s, struct ed_oci_image *img, const uint8_t *cfg,
                       size_t len)
{
	char ids[ED_OCI_LAYERS_MAX][ED_DIGEST_STR_LEN];
	char what[PATH_LEN_MAX + 64];
	size_t n;
	int rc;

	snprintf(what, sizeof(what), "image '%s': config %s", s->path, img->digest);
	rc = ed_oci_config_parse(&img->config, ids, &n, cfg, len, what);
	if (rc < 0)
		return rc;
	if (n != img->n_layers)
		return ed_error(
		        EDERA_EINVAL,
		        "%s: lists %zu layer digests (rootfs.diff_ids) but the manifest %zu "
		        "layers",
		        what, n, img->n_layers);
	for (size_t i = 0; i < n; i++)
		memcpy(img->layers[i].diff_id, ids[i], ED_DIGEST_STR_LEN);
	return 0;
}

static int oci_manifest(struct ed_oci_src *s, json_t *desc, struct ed_oci_image *img)
{
	json_t *man = NULL, *cfg, *layers, *l;
	uint8_t *data = NULL, *cdata = NULL;
	const char *d;
	size_t len, clen, i;
	int rc;

	d = json_string_value(json_object_get(desc, "digest"));
	if (!d)
		return ed_error(EDERA_EINVAL, "image '%s': a manifest descriptor has no digest",
		                s->path);
	rc = read_blob(s, d,
	               json_is_integer(json_object_get(desc, "size"))
	                       ? json_integer_value(json_object_get(desc, "size"))
	                       : -1,
	               "manifest", &data, &len);
	if (rc < 0)
		return rc;
	man = parse(data, len, "the manifest", s->path);
	if (!man) {
		rc = EDERA_EINVAL;
		goto out;
	}
	cfg = json_object_get(man, "config");
	layers = json_object_get(man, "layers");
	if (!json_is_object(cfg) || !json_is_string(json_object_get(cfg, "digest")) ||
	    !json_is_array(layers)) {
		rc = ed_error(EDERA_EINVAL,
		              "image '%s': manifest %s has no config digest or layers list: not an "
		              "image manifest",
		              s->path, d);
		goto out;
	}
	if (json_array_size(layers) > ED_OCI_LAYERS_MAX) {
		rc = ed_error(EDERA_EINVAL, "image '%s': manifest %s has %zu layers, more than %d",
		              s->path, d, json_array_size(layers), ED_OCI_LAYERS_MAX);
		goto out;
	}
	json_array_foreach(layers, i, l)
	{
		const char *ld = json_string_value(json_object_get(l, "digest"));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		struct ed_oci_layer *ly = &img->layers[i];
		char what[512];

		snprintf(what, sizeof(what), "image '%.400s': layer %zu", s->path, i + 1);
		if (!ld) {
			rc = ed_error(EDERA_EINVAL, "%s has no digest", what);
			goto out;
		}
		if ((rc = check_digest_str(ld, what)) < 0)
			goto out;
		if (!layer_type_ok(mt)) {
			rc = ed_error(
			        EDERA_ENOTSUP,
			        "%s (%s) has media type '%.100s': only tar layers (plain, gzip, "
			        "zstd) are supported",
			        what, ld, mt);
			goto out;
		}
		memcpy(ly->digest, ld, ED_DIGEST_STR_LEN);
		if (!(ly->path = ed_oci_join("blobs/sha256", ld + 7))) {
			rc = ed_error(EDERA_ENOMEM, "out of memory");
			goto out;
		}
		img->n_layers = i + 1;
	}
	if ((rc = read_blob(s, json_string_value(json_object_get(cfg, "digest")),
	                    json_is_integer(json_object_get(cfg, "size"))
	                            ? json_integer_value(json_object_get(cfg, "size"))
	                            : -1,
	                    "config", &cdata, &clen)) < 0)
		goto out;
	memcpy(img->digest, json_string_value(json_object_get(cfg, "digest")), ED_DIGEST_STR_LEN);
	rc = take_config(s, img, cdata, clen);
out:
	json_decref(man);
	free(data);
	free(cdata);
	return rc;
}

/* A multi-platform index: this host's platform's manifest. */
static int oci_nested(struct ed_oci_src *s, json_t *desc, struct ed_oci_image *img, int depth)
{
	json_t *idx, *ms, *m;
	uint8_t *data;
	size_t len, i;
	const char *d = json_string_value(json_object_get(desc, "digest"));
	int rc;

	if (!d)
		return ed_error(EDERA_EINVAL, "image '%s': an index descriptor has no digest",
		                s->path);
	if (depth > 2)
		return ed_error(EDERA_EINVAL, "image '%s': indexes nested too deep", s->path);
	rc = read_blob(s, d, -1, "index", &data, &len);
	if (rc < 0)
		return rc;
	idx = parse(data, len, "a nested index", s->path);
	free(data);
	if (!idx)
		return EDERA_EINVAL;
	ms = json_object_get(idx, "manifests");
	rc = 1;
	json_array_foreach(ms, i, m)
	{
		json_t *p = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *mt = json_string_value(json_object_get(m, "mediaType"));

		if (!os || !arch || strcmp(os, "linux") != 0 || strcmp(arch, host_arch()) != 0)
			continue;
		rc = is_index_type(mt) ? oci_nested(s, m, img, depth + 1) : oci_manifest(s, m, img);
		break;
	}
	if (rc == 1)
		rc = ed_error(EDERA_ENOTSUP, "image '%s': index %s has no manifest for linux/%s",
		              s->path, d, host_arch());
	json_decref(idx);
	return rc;
}

static int oci_image(struct ed_oci_src *s, json_t *index, const char *name,
                     struct ed_oci_image *img)
{
	json_t *ms = json_object_get(index, "manifests"), *pick = NULL, *d;
	char names[512];
	size_t i;
	int rc;

	if (!json_is_array(ms) || json_array_size(ms) == 0)
		return ed_error(EDERA_EINVAL, "image '%s': index.json lists no manifest", s->path);
	if (name) {
		json_array_foreach(ms, i, d) if (desc_named(d, name))
		{
			pick = d;
			break;
		}
		if (!pick) {
			list_names(ms, names, sizeof(names));
			return ed_error(EDERA_ENOENT,
			                "image '%s' has no image named '%s' (it has %s)", s->path,
			                name, names);
		}
	} else if (json_array_size(ms) > 1) {
		list_names(ms, names, sizeof(names));
		return ed_error(EDERA_EINVAL, "image '%s' holds %zu images (%s): name one", s->path,
		                json_array_size(ms), names);
	} else {
		pick = json_array_get(ms, 0);
	}
	if ((rc = set_name(img, name ? name : desc_name(pick))) < 0)
		return rc;
	if (is_index_type(json_string_value(json_object_get(pick, "mediaType"))))
		return oci_nested(s, pick, img, 0);
	return oci_manifest(s, pick, img);
}

/* A docker save manifest.json: [{"Config": path, "RepoTags": [...],
 * "Layers": [paths]}]. */
static int docker_image(struct ed_oci_src *s, json_t *list, const char *name,
                        struct ed_oci_image *img)
{
	json_t *pick = NULL, *e, *t, *layers, *l;
	const char *cfgpath, *tag = NULL;
	char hexname[ED_DIGEST_STR_LEN];
	uint8_t *cdata = NULL;
	size_t i, j, clen;
	int rc;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return ed_error(EDERA_EINVAL, "image '%s': manifest.json lists no image", s->path);
	json_array_foreach(list, i, e)
	{
		json_array_foreach(json_object_get(e, "RepoTags"), j,
		                   t) if (!name || (json_is_string(t) &&
		                                    strcmp(json_string_value(t), name) == 0))
		{
			tag = json_string_value(t);
			break;
		}
		if (name && tag) {
			pick = e;
			break;
		}
	}
	if (!name) {
		if (json_array_size(list) > 1)
			return ed_error(EDERA_EINVAL,
			                "image '%s' holds %zu images (manifest.json): name one by "
			                "its RepoTags",
			                s->path, json_array_size(list));
		pick = json_array_get(list, 0);
		tag = json_string_value(json_array_get(json_object_get(pick, "RepoTags"), 0));
	}
	if (!pick)
		return ed_error(EDERA_ENOENT, "image '%s' has no image tagged '%s' (manifest.json)",
		                s->path, name);
	if ((rc = set_name(img, tag)) < 0)
		return rc;
	cfgpath = json_string_value(json_object_get(pick, "Config"));
	layers = json_object_get(pick, "Layers");
	if (!cfgpath || !json_is_array(layers))
		return ed_error(EDERA_EINVAL, "image '%s': manifest.json has no Config or Layers",
		                s->path);
	if (!safe_rel(cfgpath))
		return ed_error(EDERA_EINVAL,
		                "image '%s': manifest.json: unsafe Config path '%.200s'", s->path,
		                cfgpath);
	if (json_array_size(layers) > ED_OCI_LAYERS_MAX)
		return ed_error(EDERA_EINVAL, "image '%s': %zu layers, more than %d", s->path,
		                json_array_size(layers), ED_OCI_LAYERS_MAX);
	json_array_foreach(layers, i, l)
	{
		const char *p = json_string_value(l);
		if (!p || !safe_rel(p))
			return ed_error(EDERA_EINVAL,
			                "image '%s': manifest.json: layer %zu has an unsafe path "
			                "'%.200s'",
			                s->path, i + 1, p ? p : "(not a string)");
		img->layers[i].path = strdup(member_name(p));
		if (!img->layers[i].path)
			return ed_error(EDERA_ENOMEM, "out of memory");
		img->n_layers = i + 1;
	}
	if ((rc = read_small(s, member_name(cfgpath), false, &cdata, &clen)) < 0)
		return rc;
	digest_of(cdata, clen, img->digest);
	/* The file name is a claim ("<hex>.json" or "blobs/sha256/<hex>"):
	 * when it names a digest, the content must have it. */
	{
		const char *base = strrchr(cfgpath, '/') ? strrchr(cfgpath, '/') + 1 : cfgpath;
		snprintf(hexname, sizeof(hexname), "sha256:%.64s", base);
		if (ed_digest_valid(hexname) && strcmp(hexname, img->digest) != 0) {
			free(cdata);
			return ed_error(
			        EDERA_EINVAL,
			        "image '%s': config '%s' does not match the digest its name "
			        "gives (its content hashes to %s): the image is corrupt",
			        s->path, cfgpath, img->digest);
		}
	}
	rc = take_config(s, img, cdata, clen);
	free(cdata);
	return rc;
}

int ed_oci_src_image(struct ed_oci_src *s, const char *name, struct ed_oci_image *img)
{
	uint8_t *data;
	size_t len;
	json_t *j;
	int rc;

	memset(img, 0, sizeof(*img));
	rc = read_small(s, "index.json", true, &data, &len);
	if (rc == 0) {
		j = parse(data, len, "index.json", s->path);
		free(data);
		if (!j)
			return EDERA_EINVAL;
		rc = json_is_object(j)
		             ? oci_image(s, j, name, img)
		             : ed_error(EDERA_EINVAL, "image '%s': index.json is not an object",
		                        s->path);
	} else if (rc == EDERA_ENOENT) {
		rc = read_small(s, "manifest.json", true, &data, &len);
		if (rc == EDERA_ENOENT)
			return ed_error(EDERA_EINVAL,
			                "image '%s' has neither index.json (OCI layout) nor "
			                "manifest.json (docker save): not an image",
			                s->path);
		if (rc < 0)
			return rc;
		j = parse(data, len, "manifest.json", s->path);
		free(data);
		if (!j)
			return EDERA_EINVAL;
		rc = docker_image(s, j, name, img);
	} else {
		return rc;
	}
	json_decref(j);
	if (rc < 0) {
		ed_oci_image_free(img);
		return rc;
	}
	/* Layers named twice are copied out of an archive once. */
	for (size_t i = 0; i < img->n_layers; i++) {
		img->layers[i].same_as = i;
		for (size_t k = 0; k < i; k++)
			if (strcmp(img->layers[k].path, img->layers[i].path) == 0) {
				img->layers[i].same_as = k;
				break;
			}
	}
	return 0;
}

void ed_oci_image_free(struct ed_oci_image *img)
{
	for (size_t i = 0; i < img->n_layers; i++)
		free(img->layers[i].path);
	free(img->name);
	ed_oci_config_free(&img->config);
	memset(img, 0, sizeof(*img));
}

static int copy_member(struct archive *a, int tmp, const char *to, uint64_t *budget,
                       const char *what)
{
	char buf[1 << 16];
	la_ssize_t n;
	int fd, rc = 0;

	fd = openat(tmp, to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ed_error(ed_errno_code(errno), "%s: %s", what, strerror(errno));
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		if ((uint64_t)n > *budget) {
			rc = ed_error(EDERA_ENOSPC, "%s: the layers are larger than the limit",
			              what);
			break;
		}
		*budget -= (uint64_t)n;
		for (la_ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = ed_error(ed_errno_code(errno), "%s: copying it out: %s", what,
				              strerror(errno));
				break;
			}
			off += w;
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && n < 0)
		rc = ed_error(EDERA_EINVAL, "%s: %s", what, archive_error_string(a));
	close(fd);
	return rc;
}

int ed_oci_src_fetch(struct ed_oci_src *s, const struct ed_oci_image *img, int tmp,
                     uint64_t max_bytes)
{
	struct archive_entry *e;
	struct archive *a;
	bool got[ED_OCI_LAYERS_MAX] = {false};
	uint64_t budget = max_bytes;
	int r, rc = 0;

	if (s->dir >= 0)
		return 0;
	a = archive_open(s->path);
	if (!a)
		return edera_last_error_code();
	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (!name || archive_entry_filetype(e) != AE_IFREG)
			continue;
		name = member_name(name);
		for (size_t i = 0; i < img->n_layers; i++) {
			char to[32], what[PATH_LEN_MAX + 64];
			if (img->layers[i].same_as != i || got[i] ||
			    strcmp(img->layers[i].path, name) != 0)
				continue;
			snprintf(to, sizeof(to), "layer-%zu", i);
			snprintf(what, sizeof(what), "image archive '%s': layer '%s'", s->path,
			         name);
			rc = copy_member(a, tmp, to, &budget, what);
			got[i] = true;
			break;
		}
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = ed_error(EDERA_EINVAL, "image archive '%s': %s", s->path,
		              archive_error_string(a));
	archive_read_free(a);
	for (size_t i = 0; rc == 0 && i < img->n_layers; i++)
		if (img->layers[i].same_as == i && !got[i])
			rc = ed_error(EDERA_ENOENT,
			              "image archive '%s': layer %zu ('%s') is missing", s->path,
			              i + 1, img->layers[i].path);
	return rc;
}

/* Hash FD's content and rewind it. */
static int check_fd(int fd, const char *digest, const char *what)
{
	char buf[1 << 16], got[ED_DIGEST_STR_LEN];
	struct ed_sha256 c;
	ssize_t n;

	ed_sha256_init(&c);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ed_error(ed_errno_code(errno), "%s: %s", what, strerror(errno));
		ed_sha256_update(&c, buf, (size_t)n);
	}
	ed_sha256_final_str(&c, got);
	if (strcmp(got, digest) != 0)
		return ed_error(EDERA_EINVAL,
		                "%s does not match its digest %s (its content hashes to %s): the "
		                "image is corrupt",
		                what, digest, got);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return ed_error(ed_errno_code(errno), "%s: %s", what, strerror(errno));
	return 0;
}

int ed_oci_src_layer(struct ed_oci_src *s, const struct ed_oci_image *img, size_t i, int tmp)
{
	const struct ed_oci_layer *l = &img->layers[i];
	char what[PATH_LEN_MAX + 64], to[32];
	int fd, rc;

	snprintf(what, sizeof(what), "image '%s': layer %zu ('%s')", s->path, i + 1, l->path);
	if (s->dir >= 0) {
		fd = openat(s->dir, l->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		snprintf(to, sizeof(to), "layer-%zu", l->same_as);
		fd = openat(tmp, to, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return ed_error(errno == ENOENT ? EDERA_ENOENT : ed_errno_code(errno), "%s: %s",
		                what, strerror(errno));
	if (l->digest[0] && (rc = check_fd(fd, l->digest, what)) < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
