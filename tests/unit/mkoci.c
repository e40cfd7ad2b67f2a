/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "image/sha256.h"
#include "mkoci.h"

struct mk_buf mk_tar(const struct mk_entry *e, size_t n)
{
	struct archive *a = archive_write_new();
	struct mk_buf b;
	size_t cap = 1 << 20, used = 0;

	b.p = malloc(cap);
	ck_assert_ptr_nonnull(b.p);
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	ck_assert_int_eq(archive_write_open_memory(a, b.p, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e[i].type == 'f' && e[i].data ? strlen(e[i].data) : 0;

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_mtime(ae, 1000000000, 0);
		archive_entry_set_uid(ae, e[i].uid);
		archive_entry_set_gid(ae, e[i].gid);
		archive_entry_set_perm(ae,
		                       e[i].mode ? e[i].mode : (e[i].type == 'd' ? 0755 : 0644));
		switch (e[i].type) {
		case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)len);
		}
		ck_assert_int_eq(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			ck_assert_int_eq(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	b.len = used;
	return b;
}

struct mk_buf mk_compress(struct mk_buf in, enum mk_comp comp)
{
	struct mk_buf b = {malloc(in.len + 4096), 0};

	ck_assert_ptr_nonnull(b.p);
	if (comp == MK_PLAIN) {
		memcpy(b.p, in.p, in.len);
		b.len = in.len;
	} else if (comp == MK_GZIP) {
		z_stream z = {0};
		ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
		                 Z_OK);
		z.next_in = in.p;
		z.avail_in = (uInt)in.len;
		z.next_out = b.p;
		z.avail_out = (uInt)(in.len + 4096);
		ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
		b.len = z.total_out;
		deflateEnd(&z);
	} else {
		size_t r = ZSTD_compress(b.p, in.len + 4096, in.p, in.len, 3);
		ck_assert(!ZSTD_isError(r));
		b.len = r;
	}
	return b;
}

void mk_digest(const void *p, size_t len, char out[72])
{
	struct ed_sha256 c;

	ed_sha256_init(&c);
	ed_sha256_update(&c, p, len);
	ed_sha256_final_str(&c, out);
}

void mk_write(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

void mk_blob(const char *dir, const void *p, size_t len, char digest[72])
{
	char path[4096];

	mk_digest(p, len, digest);
	snprintf(path, sizeof(path), "%s/blobs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7);
	mk_write(path, p, len);
}

struct mk_buf mk_config(const struct mk_image *im)
{
	struct mk_buf b = {malloc(8192), 0};
	int n;

	ck_assert_ptr_nonnull(b.p);
	n = snprintf((char *)b.p, 8192,
	             "{\"architecture\":\"amd64\",\"os\":\"linux\",%s%s%s"
	             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[",
	             im->config ? "\"config\":" : "", im->config ? im->config : "",
	             im->config ? "," : "");
	for (size_t i = 0; i < im->n_layers; i++) {
		char d[72];
		mk_digest(im->layers[i].p, im->layers[i].len, d);
		n += snprintf((char *)b.p + n, 8192 - (size_t)n, "%s\"%s\"", i ? "," : "", d);
	}
	n += snprintf((char *)b.p + n, 8192 - (size_t)n, "]}}");
	b.len = (size_t)n;
	return b;
}

void mk_layout(const char *dir, const struct mk_image *im, int append)
{
	static const char *types[] = {"application/vnd.oci.image.layer.v1.tar",
	                              "application/vnd.oci.image.layer.v1.tar+gzip",
	                              "application/vnd.oci.image.layer.v1.tar+zstd"};
	char man[16384], idx[16384], path[4096], cd[72], md[72], ld[72];
	struct mk_buf cfg = mk_config(im);
	int n;

	mkdir(dir, 0755);
	mk_blob(dir, cfg.p, cfg.len, cd);
	n = snprintf(
	        man, sizeof(man),
	        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	        "\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
	        cd, cfg.len);
	for (size_t i = 0; i < im->n_layers; i++) {
		struct mk_buf c = mk_compress(im->layers[i], im->comp);
		mk_blob(dir, c.p, c.len, ld);
		n += snprintf(man + n, sizeof(man) - (size_t)n,
		              "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}",
		              i ? "," : "", types[im->comp], ld, c.len);
		free(c.p);
	}
	n += snprintf(man + n, sizeof(man) - (size_t)n, "]}");
	mk_blob(dir, man, (size_t)n, md);
	free(cfg.p);

	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	mk_write(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	char entry[1024];
	snprintf(entry, sizeof(entry),
	         "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
	         "\"size\":%d%s%s%s}",
	         md, n,
	         im->ref_name ? ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" : "",
	         im->ref_name ? im->ref_name : "", im->ref_name ? "\"}" : "");
	if (append) {
		FILE *f = fopen(path, "rb");
		size_t len;
		ck_assert_ptr_nonnull(f);
		len = fread(idx, 1, sizeof(idx) - 1, f);
		fclose(f);
		idx[len] = '\0';
		char *end = strrchr(idx, ']');
		ck_assert_ptr_nonnull(end);
		snprintf(end, sizeof(idx) - (size_t)(end - idx), ",%s]}", entry);
	} else {
		snprintf(idx, sizeof(idx), "{\"schemaVersion\":2,\"manifests\":[%s]}", entry);
	}
	mk_write(path, idx, strlen(idx));
}

static void add_member(struct archive *a, const char *name, const void *p, size_t len)
{
	struct archive_entry *ae = archive_entry_new();

	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)len);
	ck_assert_int_eq(archive_write_header(a, ae), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, p, len), (la_ssize_t)len);
	archive_entry_free(ae);
}

void mk_docker(const char *path, const struct mk_image *im)
{
	struct archive *a = archive_write_new();
	struct mk_buf cfg = mk_config(im);
	char cd[72], name[128], man[8192];
	int n;

	mk_digest(cfg.p, cfg.len, cd);
	archive_write_set_format_ustar(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	/* layers first, manifest.json last, as docker writes them */
	for (size_t i = 0; i < im->n_layers; i++) {
		snprintf(name, sizeof(name), "%zu/layer.tar", i);
		add_member(a, name, im->layers[i].p, im->layers[i].len);
	}
	snprintf(name, sizeof(name), "%s.json", cd + 7);
	add_member(a, name, cfg.p, cfg.len);
	n = snprintf(man, sizeof(man), "[{\"Config\":\"%s\",\"RepoTags\":[\"%s\"],\"Layers\":[",
	             name, im->ref_name ? im->ref_name : "test:latest");
	for (size_t i = 0; i < im->n_layers; i++)
		n += snprintf(man + n, sizeof(man) - (size_t)n, "%s\"%zu/layer.tar\"", i ? "," : "",
		              i);
	n += snprintf(man + n, sizeof(man) - (size_t)n, "]}]");
	add_member(a, "manifest.json", man, (size_t)n);
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(cfg.p);
}

void mk_tar_dir(const char *dir, const char *path)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "tar -C '%s' -cf '%s' .", dir, path);
	ck_assert_int_eq(system(cmd), 0);
}

void mk_image_free(struct mk_image *im)
{
	for (size_t i = 0; i < im->n_layers; i++)
		free(im->layers[i].p);
}
