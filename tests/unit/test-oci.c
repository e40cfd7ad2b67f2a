/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OCI image conversion: SHA-256 against FIPS 180-4's vectors; real images
 * (built by mkoci.c) converted and read back with fsck.erofs --extract and
 * dump.erofs (no mount); the cache (hits convert nothing, prune goes
 * oldest first); and broken or hostile inputs, each refused with a clear
 * message and nothing left in the cache.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/oci.h"
#include "image/priv.h"
#include "internal.h"
#include "mkoci.h"
#include "suites.h"

#define MAX (64ull << 20)

static char work[256], cache[300];

static void setup(void)
{
	snprintf(work, sizeof(work), "/tmp/edera-oci-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(work));
	snprintf(cache, sizeof(cache), "%s/cache", work);
}

static void teardown(void)
{
	ck_assert_int_eq(ed_oci_rmtree(AT_FDCWD, work), 0);
}

static char *wpath(const char *name)
{
	static _Thread_local char buf[4][512];
	static _Thread_local int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", work, name);
	return buf[k];
}

/* ---- SHA-256 --------------------------------------------------------- */

static void hex_of(const char *msg, size_t len, size_t chunk, char out[72])
{
	struct ed_sha256 c;

	ed_sha256_init(&c);
	for (size_t off = 0; off < len; off += chunk)
		ed_sha256_update(&c, msg + off, len - off < chunk ? len - off : chunk);
	ed_sha256_final_str(&c, out);
}

START_TEST(sha256_fips_vectors)
{
	static const struct {
		const char *msg, *hex;
	} v[] = {
	        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
	         "klmnopqrlmnopqrsmnopqrstnopqrstu",
	         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	char got[72];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t chunk = 1; chunk <= 128; chunk *= 3) {
			hex_of(v[i].msg, strlen(v[i].msg), chunk, got);
			ck_assert_str_eq(got + 7, v[i].hex);
		}
	/* one million 'a' */
	char *m = malloc(1000000);
	memset(m, 'a', 1000000);
	hex_of(m, 1000000, 4099, got);
	ck_assert_str_eq(got + 7,
	                 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
	ck_assert(ed_digest_valid(got));
	ck_assert(!ed_digest_valid(
	        "sha256:CDC76E5C9914FB9281A1C7E284D73E67F1809A48A497200E046D39CCC7112CD0"));
	ck_assert(!ed_digest_valid("sha512:cdc7"));
}
END_TEST

/* ---- the test image ---------------------------------------------------- */

static const struct mk_entry lower[] = {
        {"./etc/", 'd', NULL, 0755, 0, 0},
        {"./etc/keep", 'f', "keep\n", 0644, 0, 0},
        {"./etc/gone", 'f', "gone\n", 0644, 0, 0},
        {"./opq/", 'd', NULL, 0755, 0, 0},
        {"./opq/lower1", 'f', "l1\n", 0644, 0, 0},
        {"./opq/sub/lower2", 'f', "l2\n", 0644, 0, 0},
        {"./opq2/old", 'f', "old\n", 0644, 0, 0},
        {"./bin/suid", 'f', "#!/bin/sh\n", 04755, 1000, 1000},
        {"./bin/suid-link", 'h', "./bin/suid", 0, 0, 0},
        {"./bin/sh-link", 'l', "suid", 0777, 0, 0},
};
static const struct mk_entry upper[] = {
        {"etc/.wh.gone", 'f', "", 0, 0, 0},
        {"etc/new", 'f', "new\n", 0600, 0, 0},
        {"opq/", 'd', NULL, 0750, 0, 0},
        {"opq/.wh..wh..opq", 'f', "", 0, 0, 0},
        {"opq/upper", 'f', "u\n", 0644, 0, 0},
        /* the marker after the layer's own entry: that one stays */
        {"opq2/new", 'f', "new2\n", 0644, 0, 0},
        {"opq2/.wh..wh..opq", 'f', "", 0, 0, 0},
};

#define CFG                                                                                        \
	"{\"Entrypoint\":[\"/bin/suid\"],\"Cmd\":[\"-c\",\"echo hi\"],\"Env\":[\"PATH=/bin\"],"    \
	"\"WorkingDir\":\"/etc\",\"User\":\"1000:1000\"}"

static void test_image(struct mk_image *im, enum mk_comp comp)
{
	memset(im, 0, sizeof(*im));
	im->layers[0] = mk_tar(lower, sizeof(lower) / sizeof(lower[0]));
	im->layers[1] = mk_tar(upper, sizeof(upper) / sizeof(upper[0]));
	im->n_layers = 2;
	im->comp = comp;
	im->config = CFG;
}

static void run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	ck_assert_msg(pclose(p) == 0, "'%s' failed: %s", cmd, out);
}

static const char expect_tree[] = "./bin d \n"
                                  "./bin/sh-link l suid\n"
                                  "./bin/suid f \n"
                                  "./bin/suid-link f \n"
                                  "./etc d \n"
                                  "./etc/keep f \n"
                                  "./etc/new f \n"
                                  "./opq d \n"
                                  "./opq/upper f \n"
                                  "./opq2 d \n"
                                  "./opq2/new f \n";

/* An inode's NID, link count and owner from dump.erofs; its full mode
 * (dump.erofs prints only the permission bits) from the image itself. */
static void inode_of(const char *img, const char *path, unsigned long *nid, unsigned *links,
                     unsigned *uid, unsigned *gid, unsigned *mode)
{
	char cmd[1024], out[4096];
	const char *p;
	uint8_t sb[128], ino[8];
	uint32_t meta;
	int fd;

	snprintf(cmd, sizeof(cmd), "dump.erofs --path='%s' '%s'", path, img);
	run(cmd, out, sizeof(out));
	ck_assert_ptr_nonnull(p = strstr(out, "NID: "));
	ck_assert_int_eq(sscanf(p, "NID: %lu Links: %u", nid, links), 2);
	ck_assert_ptr_nonnull(p = strstr(out, "Uid: "));
	ck_assert_int_eq(sscanf(p, "Uid: %u Gid: %u", uid, gid), 2);
	fd = open(img, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, sb, sizeof(sb), 1024), (ssize_t)sizeof(sb));
	memcpy(&meta, sb + 40, 4); /* erofs_super_block.meta_blkaddr (LE) */
	ck_assert_int_eq(pread(fd, ino, sizeof(ino), (off_t)meta * 4096 + (off_t)*nid * 32),
	                 (ssize_t)sizeof(ino));
	*mode = (unsigned)ino[4] | (unsigned)ino[5] << 8; /* i_mode */
	close(fd);
}

static void check_tree(const char *img)
{
	char cmd[2048], out[8192], *x = wpath("x");
	unsigned long nid_a, nid_b;
	unsigned links, uid, gid, mode, l2, u2, g2, m2;

	ed_oci_rmtree(AT_FDCWD, x);
	snprintf(cmd, sizeof(cmd), "fsck.erofs --extract='%s' '%s' 2>&1", x, img);
	run(cmd, out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -mindepth 1 -printf '%%p %%y %%l\\n' | sort",
	         x);
	run(cmd, out, sizeof(out));
	ck_assert_str_eq(out, expect_tree);
	snprintf(cmd, sizeof(cmd),
	         "cat '%s/etc/keep' '%s/etc/new' '%s/opq2/new' '%s/bin/suid-link'", x, x, x, x);
	run(cmd, out, sizeof(out));
	ck_assert_str_eq(out, "keep\nnew\nnew2\n#!/bin/sh\n");

	inode_of(img, "/bin/suid", &nid_a, &links, &uid, &gid, &mode);
	ck_assert_uint_eq(links, 2);
	ck_assert_uint_eq(uid, 1000);
	ck_assert_uint_eq(gid, 1000);
	ck_assert_uint_eq(mode, S_IFREG | 04755);
	inode_of(img, "/bin/suid-link", &nid_b, &l2, &u2, &g2, &m2);
	ck_assert_uint_eq(nid_a, nid_b); /* one inode: the hard link kept */
	inode_of(img, "/etc/new", &nid_b, &l2, &u2, &g2, &m2);
	ck_assert_uint_eq(m2, S_IFREG | 0600);
	inode_of(img, "/opq", &nid_b, &l2, &u2, &g2, &m2);
	ck_assert_uint_eq(m2, S_IFDIR | 0750);
	inode_of(img, "/", &nid_b, &l2, &u2, &g2, &m2);
	ck_assert_uint_eq(m2, S_IFDIR | 0755);
	/* mtimes kept (1000000000 is 2001-09-09) */
	struct stat st;
	snprintf(cmd, sizeof(cmd), "%s/etc/keep", x);
	ck_assert_int_eq(lstat(cmd, &st), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000000000);
	snprintf(cmd, sizeof(cmd), "%s/etc", x);
	ck_assert_int_eq(lstat(cmd, &st), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000000000);
}

static size_t cache_entries(void)
{
	char cmd[600], out[4096];
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null || true", cache);
	run(cmd, out, sizeof(out));
	for (char *p = out; *p; p++)
		n += *p == '\n';
	return n;
}

START_TEST(layout_converted_with_whiteouts_links_and_owners)
{
	struct ed_oci_result r;
	struct mk_image im;
	char side[600], *data;
	FILE *f;
	long len;

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	ck_assert_msg(ed_oci_convert(wpath("img"), NULL, cache, MAX, &r) == 0, "%s",
	              edera_last_error());
	ck_assert(!r.cached);
	ck_assert(ed_digest_valid(r.digest));
	ck_assert_uint_eq(r.config.n_entrypoint, 1);
	ck_assert_str_eq(r.config.entrypoint[0], "/bin/suid");
	ck_assert_uint_eq(r.config.n_cmd, 2);
	ck_assert_str_eq(r.config.cmd[1], "echo hi");
	ck_assert_str_eq(r.config.env[0], "PATH=/bin");
	ck_assert_str_eq(r.config.workdir, "/etc");
	ck_assert_str_eq(r.config.user, "1000:1000");
	ck_assert_uint_gt(r.size, 0);
	check_tree(r.path);
	/* the sidecar, and nothing else but the image */
	snprintf(side, sizeof(side), "%s/%s.json", cache, r.digest + 7);
	ck_assert_ptr_nonnull(f = fopen(side, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	data = calloc(1, (size_t)len + 1);
	ck_assert_int_eq(fread(data, 1, (size_t)len, f), len);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(data, "\"Entrypoint\": ["));
	ck_assert_ptr_nonnull(strstr(data, "\"WorkingDir\": \"/etc\""));
	ck_assert_ptr_nonnull(strstr(data, r.digest));
	free(data);
	ck_assert_uint_eq(cache_entries(), 2);
	ed_oci_result_free(&r);
	mk_image_free(&im);
}
END_TEST

START_TEST(archives_give_the_same_digest_and_tree)
{
	struct ed_oci_result a, b, c;
	struct mk_image im, iz;

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	mk_tar_dir(wpath("img"), wpath("oci.tar"));
	mk_docker(wpath("docker.tar"), &im);
	test_image(&iz, MK_ZSTD);
	mk_layout(wpath("zimg"), &iz, 0);
	ck_assert_msg(ed_oci_convert(wpath("oci.tar"), NULL, cache, MAX, &a) == 0, "%s",
	              edera_last_error());
	check_tree(a.path);
	ed_oci_rmtree(AT_FDCWD, cache);
	ck_assert_msg(ed_oci_convert(wpath("docker.tar"), "test:latest", cache, MAX, &b) == 0, "%s",
	              edera_last_error());
	ck_assert(!b.cached);
	ck_assert_str_eq(a.digest, b.digest);
	check_tree(b.path);
	ed_oci_rmtree(AT_FDCWD, cache);
	/* zstd layers: the same uncompressed tars, so the same config */
	ck_assert_msg(ed_oci_convert(wpath("zimg"), NULL, cache, MAX, &c) == 0, "%s",
	              edera_last_error());
	ck_assert_str_eq(a.digest, c.digest);
	check_tree(c.path);
	ed_oci_result_free(&a);
	ed_oci_result_free(&b);
	ed_oci_result_free(&c);
	mk_image_free(&im);
	mk_image_free(&iz);
}
END_TEST

struct seen {
	char log[2048];
	size_t len;
	uint64_t total[8];
};

static void note_progress(void *arg, int step, size_t layer, size_t n_layers, uint64_t done,
                          uint64_t total)
{
	struct seen *s = arg;

	if (step == ED_OCI_UNPACKING) {
		ck_assert_uint_ge(layer, 1);
		ck_assert_uint_le(layer, n_layers);
		ck_assert_uint_le(done, total);
		if (done == 0)
			s->total[layer - 1] = total;
		else /* its size does not change under way */
			ck_assert_uint_eq(total, s->total[layer - 1]);
	}
	s->len += (size_t)snprintf(s->log + s->len, sizeof(s->log) - s->len, "%d:%zu/%zu:%s ", step,
	                           layer, n_layers,
	                           done == 0 ? "0" : done == total ? "all" : "part");
}

START_TEST(progress_is_reported_while_converting)
{
	struct ed_oci_result r;
	struct mk_image im;
	struct seen seen = {0};
	struct ed_oci_progress prog = {note_progress, &seen};

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	ck_assert_msg(ed_oci_convert_progress(wpath("img"), NULL, cache, MAX, &prog, &r) == 0, "%s",
	              edera_last_error());
	/* reading, each layer from its start to its end, packing */
	ck_assert_str_eq(seen.log, "1:0/2:0 2:1/2:0 2:1/2:all 2:2/2:0 2:2/2:all 3:0/2:0 ");
	ck_assert_uint_gt(seen.total[0], 0);
	ck_assert_uint_gt(seen.total[1], 0);
	ed_oci_result_free(&r);
	/* a cached image: nothing to report */
	seen.len = 0;
	seen.log[0] = '\0';
	ck_assert_int_eq(ed_oci_convert_progress(wpath("img"), NULL, cache, MAX, &prog, &r), 0);
	ck_assert(r.cached);
	ck_assert_str_eq(seen.log, "");
	ed_oci_result_free(&r);
	mk_image_free(&im);
}
END_TEST

START_TEST(a_cache_hit_converts_nothing)
{
	struct ed_oci_result a, b;
	struct mk_image im;
	struct stat s1, s2;

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	mk_docker(wpath("docker.tar"), &im);
	ck_assert_int_eq(ed_oci_convert(wpath("img"), NULL, cache, MAX, &a), 0);
	ck_assert_int_eq(stat(a.path, &s1), 0);
	usleep(20000);
	/* the same config digest through the other format: found */
	ck_assert_msg(ed_oci_convert(wpath("docker.tar"), NULL, cache, MAX, &b) == 0, "%s",
	              edera_last_error());
	ck_assert(b.cached);
	ck_assert_str_eq(a.path, b.path);
	ck_assert_str_eq(b.config.entrypoint[0], "/bin/suid");
	ck_assert_int_eq(stat(b.path, &s2), 0);
	ck_assert_uint_eq(s1.st_ino, s2.st_ino);
	ck_assert_int_eq(s1.st_mtim.tv_sec, s2.st_mtim.tv_sec);
	ck_assert_int_eq(s1.st_mtim.tv_nsec, s2.st_mtim.tv_nsec);
	ck_assert_uint_eq(cache_entries(), 2);
	ed_oci_result_free(&a);
	ed_oci_result_free(&b);
	mk_image_free(&im);
}
END_TEST

START_TEST(names_pick_among_several)
{
	struct ed_oci_result r;
	struct mk_image a, b;
	const char *env_a = "{\"Env\":[\"A=1\"]}", *env_b = "{\"Cmd\":[\"b\"]}";

	test_image(&a, MK_PLAIN);
	a.config = env_a;
	a.ref_name = "alpha";
	test_image(&b, MK_GZIP);
	b.config = env_b;
	b.ref_name = "beta";
	mk_layout(wpath("img"), &a, 0);
	mk_layout(wpath("img"), &b, 1);
	ck_assert_int_eq(ed_oci_convert(wpath("img"), NULL, cache, MAX, &r), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "'alpha', 'beta'") &&
	                      strstr(edera_last_error(), "name one"),
	              "%s", edera_last_error());
	ck_assert_int_eq(ed_oci_convert(wpath("img"), "gamma", cache, MAX, &r), EDERA_ENOENT);
	ck_assert_ptr_nonnull(strstr(edera_last_error(), "'gamma'"));
	ck_assert_msg(ed_oci_convert(wpath("img"), "beta", cache, MAX, &r) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(r.config.n_cmd, 1);
	ck_assert_str_eq(r.config.cmd[0], "b");
	ck_assert_uint_eq(r.config.n_env, 0);
	ed_oci_result_free(&r);
	mk_image_free(&a);
	mk_image_free(&b);
}
END_TEST

START_TEST(no_entrypoint_nor_cmd_is_still_converted)
{
	struct ed_oci_result r;
	struct mk_image im;

	test_image(&im, MK_GZIP);
	im.config = NULL;
	mk_layout(wpath("img"), &im, 0);
	ck_assert_msg(ed_oci_convert(wpath("img"), NULL, cache, MAX, &r) == 0, "%s",
	              edera_last_error());
	ck_assert_uint_eq(r.config.n_entrypoint, 0);
	ck_assert_uint_eq(r.config.n_cmd, 0);
	ck_assert_ptr_null(r.config.entrypoint);
	ck_assert_ptr_null(r.config.workdir);
	ed_oci_result_free(&r);
	mk_image_free(&im);
}
END_TEST

/* ---- broken and hostile inputs ----------------------------------------- */

static void expect_fail(const char *path, int code, const char *needle)
{
	struct ed_oci_result r;
	int rc = ed_oci_convert(path, NULL, cache, MAX, &r);

	ck_assert_msg(rc == code, "%s: %s (%s) instead of %s", path, edera_errname(rc),
	              edera_last_error(), edera_errname(code));
	ck_assert_msg(strstr(edera_last_error(), needle), "'%s' not in: %s", needle,
	              edera_last_error());
	ck_assert_ptr_null(r.path);
	ck_assert_uint_eq(cache_entries(), 0);
}

/* The first layer blob's path in layout DIR. */
static void first_layer(const char *dir, char *out, size_t size)
{
	char cmd[1024], m[4096];
	const char *p;

	snprintf(cmd, sizeof(cmd),
	         "cd '%s/blobs/sha256' && grep -l '\"layers\"' * | head -1 | xargs cat", dir);
	run(cmd, m, sizeof(m));
	ck_assert_ptr_nonnull(p = strstr(m, "\"layers\":[{"));
	ck_assert_ptr_nonnull(p = strstr(p, "sha256:"));
	snprintf(out, size, "%s/blobs/sha256/%.64s", dir, p + 7);
}

START_TEST(a_blob_not_matching_its_digest)
{
	struct mk_image im;
	char blob[1024];
	FILE *f;

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	first_layer(wpath("img"), blob, sizeof(blob));
	ck_assert_ptr_nonnull(f = fopen(blob, "r+b"));
	fseek(f, 20, SEEK_SET);
	fputc('X', f);
	fclose(f);
	expect_fail(wpath("img"), EDERA_EINVAL, "does not match its digest");
	mk_image_free(&im);
}
END_TEST

/* A layout with one layer whose blob is exactly LAYER (its digest right)
 * and whose diff_id is that of TAR. */
static void layout_with_blob(const char *dir, struct mk_buf tar, struct mk_buf layer)
{
	struct mk_image im = {.n_layers = 1, .comp = MK_PLAIN};
	char cmd[1024], blob[1024];

	im.layers[0] = tar;
	mk_layout(dir, &im, 0);
	/* swap the plain blob for LAYER under the name of LAYER's digest */
	char d[72], man[4096], md[72], idx[512];
	struct mk_buf cfg = mk_config(&im);
	char cd[72];
	first_layer(dir, blob, sizeof(blob));
	unlink(blob);
	mk_blob(dir, layer.p, layer.len, d);
	mk_blob(dir, cfg.p, cfg.len, cd);
	snprintf(man, sizeof(man),
	         "{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\",\"size\":%zu},\"layers\":[{"
	         "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
	         "\"size\":%zu}]}",
	         cd, cfg.len, d, layer.len);
	mk_blob(dir, man, strlen(man), md);
	snprintf(idx, sizeof(idx), "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"%s\"}]}", md);
	snprintf(cmd, sizeof(cmd), "%s/index.json", dir);
	mk_write(cmd, idx, strlen(idx));
	free(cfg.p);
}

START_TEST(a_truncated_gzip_layer)
{
	struct mk_buf tar = mk_tar(lower, sizeof(lower) / sizeof(lower[0]));
	struct mk_buf gz = mk_compress(tar, MK_GZIP);

	gz.len /= 2;
	layout_with_blob(wpath("img"), tar, gz);
	expect_fail(wpath("img"), EDERA_EINVAL, "layer 1");
	free(tar.p);
	free(gz.p);
}
END_TEST

START_TEST(a_layer_escaping_with_dotdot)
{
	static const struct mk_entry bad[] = {
	        {"ok", 'f', "fine\n", 0644, 0, 0},
	        {"../escape", 'f', "pwned\n", 0644, 0, 0},
	};
	struct mk_image im = {.n_layers = 1, .comp = MK_GZIP};
	struct stat st;

	im.layers[0] = mk_tar(bad, 2);
	mk_layout(wpath("img"), &im, 0);
	expect_fail(wpath("img"), EDERA_EINVAL, "'../escape' has a '..' component");
	ck_assert_int_ne(stat(wpath("escape"), &st), 0);
	ck_assert_int_ne(stat(wpath("cache/escape"), &st), 0);
	mk_image_free(&im);
}
END_TEST

START_TEST(a_layer_writing_through_a_symlink)
{
	char target[600];
	struct mk_entry bad[] = {
	        {"link", 'l', target, 0777, 0, 0},
	        {"link/pwned", 'f', "pwned\n", 0644, 0, 0},
	};
	struct mk_image im = {.n_layers = 2, .comp = MK_GZIP};
	struct stat st;

	snprintf(target, sizeof(target), "%s", wpath("outside"));
	ck_assert_int_eq(mkdir(target, 0755), 0);
	/* the link in one layer, the write through it in the next */
	im.layers[0] = mk_tar(bad, 1);
	im.layers[1] = mk_tar(bad + 1, 1);
	mk_layout(wpath("img"), &im, 0);
	expect_fail(wpath("img"), EDERA_EINVAL, "goes through 'link', a symlink");
	ck_assert_int_ne(stat(wpath("outside/pwned"), &st), 0);
	/* and an absolute path */
	static const struct mk_entry abs[] = {{"/etc/passwd-x", 'f', "x\n", 0644, 0, 0}};
	mk_image_free(&im);
	im.n_layers = 1;
	im.layers[0] = mk_tar(abs, 1);
	ed_oci_rmtree(AT_FDCWD, wpath("img"));
	mk_layout(wpath("img"), &im, 0);
	expect_fail(wpath("img"), EDERA_EINVAL, "is absolute");
	mk_image_free(&im);
}
END_TEST

START_TEST(an_index_with_no_manifest)
{
	mkdir(wpath("img"), 0755);
	mk_write(wpath("img/oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	mk_write(wpath("img/index.json"), "{\"schemaVersion\":2,\"manifests\":[]}", 34);
	expect_fail(wpath("img"), EDERA_EINVAL, "index.json lists no manifest");
	mk_write(wpath("img/index.json"), "{\"schemaVersion\":2,", 19);
	expect_fail(wpath("img"), EDERA_EINVAL, "index.json is not valid JSON");
	unlink(wpath("img/index.json"));
	expect_fail(wpath("img"), EDERA_EINVAL, "neither index.json");
	expect_fail(wpath("nothing-here"), EDERA_ENOENT, "nothing-here");
}
END_TEST

START_TEST(json_too_large)
{
	size_t len = ED_OCI_JSON_MAX + 10;
	char *big = malloc(len);

	memset(big, ' ', len);
	memcpy(big, "{\"schemaVersion\":2,\"manifests\":[]}", 34);
	mkdir(wpath("img"), 0755);
	mk_write(wpath("img/index.json"), big, len);
	expect_fail(wpath("img"), EDERA_EINVAL, "larger than 1048576 bytes");
	free(big);
}
END_TEST

START_TEST(a_layer_not_matching_its_diff_id)
{
	struct mk_buf tar = mk_tar(lower, sizeof(lower) / sizeof(lower[0]));
	struct mk_buf other = mk_tar(upper, sizeof(upper) / sizeof(upper[0]));
	struct mk_buf gz = mk_compress(other, MK_GZIP);

	layout_with_blob(wpath("img"), tar, gz);
	expect_fail(wpath("img"), EDERA_EINVAL, "rootfs.diff_ids");
	free(tar.p);
	free(other.p);
	free(gz.p);
}
END_TEST

START_TEST(larger_than_the_limit)
{
	struct ed_oci_result r;
	struct mk_image im;

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	ck_assert_int_eq(ed_oci_convert(wpath("img"), NULL, cache, 2048, &r), EDERA_ENOSPC);
	ck_assert_ptr_nonnull(strstr(edera_last_error(), "larger than the limit"));
	ck_assert_uint_eq(cache_entries(), 0);
	mk_image_free(&im);
}
END_TEST

/* ---- the cache ---------------------------------------------------------- */

/* Two converters of one image at once: the digest's lock (flock, which
 * holds between open file descriptions, so between threads as between
 * processes) makes one of them do it and the other find it done; the cache
 * holds one image.  (Threads, not processes: a forked child under valgrind
 * reports the parent's other threads' memory as lost and exits with
 * valgrind's error code.) */
struct converter {
	const char *src;
	int rc;
	bool cached;
};

static void *convert_thread(void *arg)
{
	struct converter *c = arg;
	struct ed_oci_result r;

	c->rc = ed_oci_convert(c->src, NULL, cache, MAX, &r);
	if (c->rc == 0) {
		c->cached = r.cached;
		ed_oci_result_free(&r);
	}
	return NULL;
}

START_TEST(two_processes_convert_one_image)
{
	struct ed_oci_result r;
	struct mk_image im;
	pthread_t th[2];
	struct converter c[2];
	char src0[4096], src1[4096];

	test_image(&im, MK_GZIP);
	mk_layout(wpath("img"), &im, 0);
	mk_docker(wpath("docker.tar"), &im);
	snprintf(src0, sizeof(src0), "%s", wpath("img"));
	snprintf(src1, sizeof(src1), "%s", wpath("docker.tar"));
	c[0] = (struct converter){ src0, 0, false };
	c[1] = (struct converter){ src1, 0, false };
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, convert_thread, &c[i]), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_msg(c[0].rc == 0 && c[1].rc == 0, "%d %d", c[0].rc, c[1].rc);
	ck_assert_int_eq((int)c[0].cached + (int)c[1].cached, 1);
	ck_assert_uint_eq(cache_entries(), 2);
	ck_assert_int_eq(ed_oci_convert(wpath("img"), NULL, cache, MAX, &r), 0);
	ck_assert(r.cached);
	check_tree(r.path);
	ed_oci_result_free(&r);
	mk_image_free(&im);
}
END_TEST

START_TEST(prune_removes_the_least_recently_used_first)
{
	static const char *cfgs[] = {"{\"Env\":[\"N=0\"]}", "{\"Env\":[\"N=1\"]}",
	                             "{\"Env\":[\"N=2\"]}"};
	struct ed_oci_result r[3], hit;
	struct ed_oci_entry *e;
	struct mk_image im;
	char dir[32], side[1024];
	size_t n, removed;
	uint64_t freed;

	for (int i = 0; i < 3; i++) {
		test_image(&im, MK_GZIP);
		im.config = cfgs[i];
		snprintf(dir, sizeof(dir), "img%d", i);
		mk_layout(wpath(dir), &im, 0);
		ck_assert_int_eq(ed_oci_convert(wpath(dir), NULL, cache, MAX, &r[i]), 0);
		mk_image_free(&im);
		/* used at 1000, 2000, 3000 */
		struct timespec ts[2] = {{1000 * (i + 1), 0}, {1000 * (i + 1), 0}};
		snprintf(side, sizeof(side), "%s/%s.json", cache, r[i].digest + 7);
		ck_assert_int_eq(utimensat(AT_FDCWD, side, ts, 0), 0);
	}
	/* image 0 used again: now the most recent */
	ck_assert_int_eq(ed_oci_convert(wpath("img0"), NULL, cache, MAX, &hit), 0);
	ck_assert(hit.cached);
	ed_oci_result_free(&hit);
	ck_assert_int_eq(ed_oci_list(cache, &e, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(e[0].digest, r[0].digest);
	ck_assert_str_eq(e[1].digest, r[2].digest);
	ck_assert_str_eq(e[2].digest, r[1].digest);
	ck_assert_ptr_null(e[0].name);
	uint64_t keep = e[0].size + e[1].size;
	ed_oci_list_free(e, n);
	/* a dead conversion's leftovers go too */
	snprintf(side, sizeof(side), "%s/.tmp-999999-%s-abcdef", cache, r[1].digest + 7);
	ck_assert_int_eq(mkdir(side, 0700), 0);

	ck_assert_int_eq(ed_oci_prune(cache, keep, &removed, &freed), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_uint_gt(freed, 0);
	ck_assert_int_eq(ed_oci_list(cache, &e, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(e[0].digest, r[0].digest);
	ck_assert_str_eq(e[1].digest, r[2].digest);
	ed_oci_list_free(e, n);
	ck_assert_uint_eq(cache_entries(), 4);
	ck_assert_int_eq(ed_oci_prune(cache, 0, &removed, NULL), 0);
	ck_assert_uint_eq(removed, 2);
	ck_assert_uint_eq(cache_entries(), 0);
	for (int i = 0; i < 3; i++)
		ed_oci_result_free(&r[i]);
	ck_assert_int_eq(ed_oci_list(wpath("no-such-cache"), &e, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

Suite *oci_suite(void)
{
	Suite *s = suite_create("oci");
	TCase *tc = tcase_create("oci");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sha256_fips_vectors);
	tcase_add_test(tc, layout_converted_with_whiteouts_links_and_owners);
	tcase_add_test(tc, archives_give_the_same_digest_and_tree);
	tcase_add_test(tc, a_cache_hit_converts_nothing);
	tcase_add_test(tc, progress_is_reported_while_converting);
	tcase_add_test(tc, names_pick_among_several);
	tcase_add_test(tc, no_entrypoint_nor_cmd_is_still_converted);
	tcase_add_test(tc, a_blob_not_matching_its_digest);
	tcase_add_test(tc, a_truncated_gzip_layer);
	tcase_add_test(tc, a_layer_escaping_with_dotdot);
	tcase_add_test(tc, a_layer_writing_through_a_symlink);
	tcase_add_test(tc, an_index_with_no_manifest);
	tcase_add_test(tc, json_too_large);
	tcase_add_test(tc, a_layer_not_matching_its_diff_id);
	tcase_add_test(tc, larger_than_the_limit);
	tcase_add_test(tc, two_processes_convert_one_image);
	tcase_add_test(tc, prune_removes_the_least_recently_used_first);
	suite_add_tcase(s, tc);
	return s;
}
