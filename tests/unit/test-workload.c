/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The workload layer's host side: a kernel's release from its bzImage
 * header, the zone's initramfs (modules resolved from a modules.dep, the
 * newc archive, its cache), and the checks edera_workload_run makes before
 * anything starts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "internal.h"
#include "suites.h"
#include "workload/priv.h"

static char dir[] = "/tmp/edera-unit-wl-XXXXXX";

static void put(const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f, "%s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void puts_(const char *name, const char *text)
{
	put(name, text, strlen(text));
}

static void setup(void)
{
	strcpy(dir, "/tmp/edera-unit-wl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A bzImage header: "HdrS" at 0x202, the version string's offset (from
 * 0x200) at 0x20e. */
static void bzimage(const char *name, const char *magic, uint16_t off, const char *version)
{
	uint8_t b[0x1000] = {0};

	memcpy(b + 0x202, magic, 4);
	memcpy(b + 0x20e, &off, 2);
	if (version)
		memcpy(b + 0x200 + off, version, strlen(version) + 1);
	put(name, b, sizeof(b));
}

START_TEST(kernel_release_from_the_header)
{
	char path[512], rel[128];

	bzimage("k1", "HdrS", 0x300, "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP");
	snprintf(path, sizeof(path), "%s/k1", dir);
	ck_assert_int_eq(ed_kernel_release(path, rel, sizeof(rel)), 0);
	ck_assert_str_eq(rel, "6.1.0-57-amd64");
	/* too small an output */
	ck_assert_int_eq(ed_kernel_release(path, rel, 5), EDERA_EINVAL);

	bzimage("k2", "ELF!", 0x300, "6.1.0");
	snprintf(path, sizeof(path), "%s/k2", dir);
	ck_assert_int_eq(ed_kernel_release(path, rel, sizeof(rel)), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "not a bzImage"), "%s", edera_last_error());

	bzimage("k3", "HdrS", 0x300, "6.1" "\x01" "bad");
	snprintf(path, sizeof(path), "%s/k3", dir);
	ck_assert_int_eq(ed_kernel_release(path, rel, sizeof(rel)), EDERA_EINVAL);
	bzimage("k4", "HdrS", 0x300, "../../etc");
	snprintf(path, sizeof(path), "%s/k4", dir);
	ck_assert_int_eq(ed_kernel_release(path, rel, sizeof(rel)), EDERA_EINVAL);
	/* the offset points past the file */
	bzimage("k5", "HdrS", 0xf000, NULL);
	snprintf(path, sizeof(path), "%s/k5", dir);
	ck_assert_int_eq(ed_kernel_release(path, rel, sizeof(rel)), EDERA_EINVAL);
	snprintf(path, sizeof(path), "%s/none", dir);
	ck_assert_int_eq(ed_kernel_release(path, rel, sizeof(rel)), EDERA_ENOENT);
}
END_TEST

/* The archive's names, in order, into NAMES ("name:size" each). */
static int cpio_names(const char *path, char names[][64], int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	ck_assert_ptr_nonnull(f);
	for (;;) {
		char hdr[111] = {0}, name[256];
		unsigned int f_[13];
		long pos;

		ck_assert_uint_eq(fread(hdr, 1, 110, f), 110);
		ck_assert_msg(memcmp(hdr, "070701", 6) == 0, "magic at entry %d", n);
		for (int i = 0; i < 13; i++) {
			char h[9];

			memcpy(h, hdr + 6 + i * 8, 8);
			h[8] = '\0';
			f_[i] = (unsigned int)strtoul(h, NULL, 16);
		}
		/* f_[6] filesize, f_[11] namesize */
		ck_assert_uint_lt(f_[11], sizeof(name));
		ck_assert_uint_eq(fread(name, 1, f_[11], f), f_[11]);
		ck_assert_int_eq(name[f_[11] - 1], '\0');
		pos = ftell(f);
		fseek(f, (pos + 3) & ~3L, SEEK_SET);
		if (strcmp(name, "TRAILER!!!") == 0)
			break;
		ck_assert_int_lt(n, max);
		snprintf(names[n++], 64, "%.40s:%u", name, f_[6]);
		fseek(f, ((ftell(f) + f_[6]) + 3) & ~3L, SEEK_SET);
	}
	fclose(f);
	return n;
}

START_TEST(initramfs_has_the_init_and_modules_in_load_order)
{
	char mods[512], init[512], cache[512], *out = NULL, *again = NULL, *other = NULL;
	char names[32][64];
	int n;

	snprintf(mods, sizeof(mods), "%s/mods", dir);
	ck_assert_int_eq(mkdir(mods, 0755), 0);
	ck_assert_int_eq(mkdir(strcat(strcpy(cache, mods), "/kernel"), 0755), 0);
	/* dependencies listed last-loaded first, as depmod writes them; a
	 * '-' in a name matches '_'; overlay built in */
	puts_("mods/modules.dep",
	      "kernel/xen-gntdev.ko:\n"
	      "kernel/xen-evtchn.ko:\n"
	      "kernel/xen-blkfront.ko:\n"
	      "kernel/crc32c_generic.ko:\n"
	      "kernel/erofs.ko: kernel/libcrc32c.ko kernel/crc32c_generic.ko\n"
	      "kernel/libcrc32c.ko:\n"
	      "kernel/xen-netfront.ko: kernel/netdep-b.ko kernel/netdep-a.ko\n");
	puts_("mods/modules.builtin", "kernel/fs/overlayfs/overlay.ko\n");
	puts_("mods/kernel/xen-gntdev.ko", "g");
	puts_("mods/kernel/xen-evtchn.ko", "ev");
	puts_("mods/kernel/xen-blkfront.ko", "blk");
	puts_("mods/kernel/crc32c_generic.ko", "crc");
	puts_("mods/kernel/erofs.ko", "erofs");
	puts_("mods/kernel/libcrc32c.ko", "lib");
	puts_("mods/kernel/xen-netfront.ko", "net");
	puts_("mods/kernel/netdep-a.ko", "a");
	puts_("mods/kernel/netdep-b.ko", "bb");
	puts_("init", "#!init");
	snprintf(init, sizeof(init), "%s/init", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	ck_assert_msg(ed_zone_initramfs(init, mods, cache, &out) == 0, "%s", edera_last_error());
	ck_assert_msg(strstr(out, "/zone-init-") && strstr(out, ".cpio"), "%s", out);
	n = cpio_names(out, names, 32);
	ck_assert_int_eq(n, 19);
	ck_assert_str_eq(names[0], ".:0");
	ck_assert_str_eq(names[7], "init:6");
	ck_assert_str_eq(names[8], "sbin/poweroff:5"); /* -> /init */
	ck_assert_str_eq(names[9], "sbin/reboot:5");
	ck_assert_str_eq(names[10], "modules/01-xen-gntdev.ko:1");
	ck_assert_str_eq(names[11], "modules/02-xen-evtchn.ko:2");
	ck_assert_str_eq(names[12], "modules/03-xen-blkfront.ko:3");
	ck_assert_str_eq(names[13], "modules/04-crc32c_generic.ko:3");
	ck_assert_str_eq(names[14], "modules/05-libcrc32c.ko:3"); /* before erofs, once */
	ck_assert_str_eq(names[15], "modules/06-erofs.ko:5");
	/* netfront's dependencies: the one listed last loads first */
	ck_assert_str_eq(names[16], "modules/07-netdep-a.ko:1");
	ck_assert_str_eq(names[17], "modules/08-netdep-b.ko:2");
	ck_assert_str_eq(names[18], "modules/09-xen-netfront.ko:3");
	/* found again: the same file */
	ck_assert_int_eq(ed_zone_initramfs(init, mods, cache, &again), 0);
	ck_assert_str_eq(out, again);
	/* another init: another archive */
	puts_("init", "#!init, newer");
	ck_assert_int_eq(ed_zone_initramfs(init, mods, cache, &other), 0);
	ck_assert_str_ne(out, other);
	free(out);
	free(again);
	free(other);

	/* a needed module missing, not built in: named */
	puts_("mods/modules.builtin", "");
	ck_assert_int_eq(ed_zone_initramfs(init, mods, cache, &out), EDERA_ENOENT);
	ck_assert_msg(strstr(edera_last_error(), "no overlay"), "%s", edera_last_error());
	ck_assert_ptr_null(out);
	/* the optional one may be missing */
	puts_("mods/modules.builtin", "kernel/fs/overlayfs/overlay.ko\n");
	puts_("mods/modules.dep", "kernel/xen-gntdev.ko:\nkernel/xen-evtchn.ko:\n"
	                          "kernel/xen-blkfront.ko:\nkernel/erofs.ko:\n"
	                          "kernel/xen-netfront.ko:\n");
	ck_assert_msg(ed_zone_initramfs(init, mods, cache, &out) == 0, "%s", edera_last_error());
	free(out);
	/* a listed module whose file is gone */
	snprintf(init, sizeof(init), "%s/mods/kernel/erofs.ko", dir);
	ck_assert_int_eq(unlink(init), 0);
	snprintf(init, sizeof(init), "%s/init", dir);
	ck_assert_int_eq(ed_zone_initramfs(init, mods, cache, &out), EDERA_ENOENT);
	ck_assert_msg(strstr(edera_last_error(), "erofs.ko"), "%s", edera_last_error());
	/* no init, no modules directory */
	snprintf(init, sizeof(init), "%s/no-init", dir);
	ck_assert_int_eq(ed_zone_initramfs(init, mods, cache, &out), EDERA_ENOENT);
	ck_assert_msg(strstr(edera_last_error(), "edera-zone-init"), "%s", edera_last_error());
	ck_assert_int_eq(ed_zone_initramfs(init, "/no/such/modules", cache, &out), EDERA_ENOENT);
	ck_assert_msg(strstr(edera_last_error(), "/no/such/modules/modules.dep"), "%s",
	              edera_last_error());
}
END_TEST

/* What edera_workload_run refuses at once, before anything starts. */
START_TEST(run_refuses_bad_configs_at_once)
{
	edera_ctx *ctx = NULL;
	edera_workload_config wc;
	edera_process_config pc;
	edera_disk_config disk;
	const edera_disk_config *disks[] = {&disk};
	const char *bad_env[] = {"NOEQUALS"};
	const char *empty_arg[] = {""};
	const char *args[] = {"/bin/true"};
	edera_rlimit rl[EDERA_PROCESS_RLIMITS_MAX + 1] = {{0}};
	edera_workload *wl = (edera_workload *)1;
	edera_process *p = (edera_process *)1;
	struct {
		edera_workload_config c;
		uint64_t extra;
	} newer;

	ck_assert_int_eq(ed_ctx_new(&ctx, NULL), 0);
	edera_process_config_init(&pc);
	edera_workload_config_init(&wc);
	wc.process = &pc;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "name is required"), "%s", edera_last_error());
	wc.name = "w";
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "image is required"), "%s", edera_last_error());
	wc.image = "/img";
	wc.process = NULL;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	wc.process = &pc;
	pc.env = bad_env;
	pc.n_env = 1;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "'NOEQUALS' is not NAME=value"), "%s",
	              edera_last_error());
	pc.n_env = 0;
	pc.args = empty_arg;
	pc.n_args = 1;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	pc.args = NULL;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	pc.args = args;
	edera_disk_config_init(&disk);
	disk.path = "/d";
	disk.vdev = "xvda";
	wc.disks = disks;
	wc.n_disks = 1;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "xvda is the image's"), "%s", edera_last_error());
	wc.n_disks = 0;
	wc.address = "10.0.0.2/24";
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "needs a NIC"), "%s", edera_last_error());
	wc.address = NULL;
	/* resource limits: a resource, soft within hard, each once, at most 16 */
	pc.rlimits = rl;
	pc.n_rlimits = 1;
	rl[0] = (edera_rlimit){RLIMIT_NLIMITS, 1, 1};
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "is not a resource"), "%s", edera_last_error());
	rl[0] = (edera_rlimit){RLIMIT_NOFILE, 2048, 1024};
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "soft limit 2048 is above the hard one 1024"), "%s",
	              edera_last_error());
	rl[0] = (edera_rlimit){RLIMIT_NOFILE, 512, 1024};
	rl[1] = (edera_rlimit){RLIMIT_NOFILE, 64, 64};
	pc.n_rlimits = 2;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "given twice"), "%s", edera_last_error());
	pc.n_rlimits = EDERA_PROCESS_RLIMITS_MAX + 1;
	ck_assert_int_eq(edera_workload_run(ctx, &wc, NULL, NULL), EDERA_EINVAL);
	ck_assert_int_eq(edera_workload_exec((edera_workload *)1, &pc, &p), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "at most 16"), "%s", edera_last_error());
	pc.rlimits = NULL;
	pc.n_rlimits = 0;
	/* a newer caller's struct, with fields this library does not know set */
	newer.c = wc;
	newer.c.sz = sizeof(newer);
	newer.extra = 1;
	ck_assert_int_eq(edera_workload_run(ctx, &newer.c, NULL, NULL), EDERA_EINVAL);
	/* handles of nothing */
	ck_assert_ptr_null(edera_workload_zone(NULL));
	ck_assert_ptr_null(edera_workload_process(NULL));
	ck_assert_uint_eq(edera_process_pid(NULL), 0);
	ck_assert_int_eq(edera_process_kill(NULL, 9), EDERA_EINVAL);
	ck_assert_int_eq(edera_process_write(NULL, "x", 1), EDERA_EINVAL);
	ck_assert_int_eq(edera_workload_exec(NULL, &pc, &p), EDERA_EINVAL);
	ck_assert_int_eq(edera_workload_run_sync(ctx, NULL, &wl, &p), EDERA_EINVAL);
	ck_assert_ptr_null(wl);
	ck_assert_ptr_null(p);
	edera_ctx_close(ctx);
}
END_TEST

Suite *workload_suite(void)
{
	Suite *s = suite_create("workload");
	TCase *tc = tcase_create("host");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, kernel_release_from_the_header);
	tcase_add_test(tc, initramfs_has_the_init_and_modules_in_load_order);
	tcase_add_test(tc, run_refuses_bad_configs_at_once);
	suite_add_tcase(s, tc);
	return s;
}
