/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone creation, create -> running: libedera's own builder against `xl
 * create` of the same kernel, initrd and memory, in the same dom0.  Ratios
 * printed, nothing asserted.
 *   1. Debian's kernel + busybox initrd, 256 MiB: median of ROUNDS each.
 *   2. The project's minimal PV kernel, 16 MiB: median of ROUNDS each (the
 *      toolstack's own cost, with next to no kernel to load).
 *   3. Scaling: SCALE minimal zones created one after another and left
 *      running; the first five against the last five (with up to SCALE - 1
 *      running), medians, for each toolstack; every time printed too.
 *   4. In flight: 1, 4 and 16 minimal zones created at once (edera_zone_create
 *      from one context; `xl create` processes started together), zones
 *      running per second, median of ROUNDS, and each against one at a time.
 * Parts 1 and 2 also time libedera taking a prepared shell (edera_pool_set,
 * the shell made before the timing starts).
 *   5. A fresh process (`fresh`): Debian's kernel, a new process's first
 *      creation against its second, median of ROUNDS processes, with the
 *      decompressed kernel on disk (EDERA_CACHE_DIR, a directory of the
 *      bench's own, where the kernel is copied) found through the index of
 *      kernel files' identities, and found by hashing the kernel file (the
 *      index removed first).
 * Parts 1 to 4 read copies of the images in a directory of the bench's own
 * under /tmp (tmpfs in the rig's dom0), both toolstacks the same copies:
 * the rig's tree is shared over 9p, where each stat or open costs
 * milliseconds under emulation, and a host keeps its kernels on local disk.
 * Usage (in the rig): zone-bench KERNEL INITRD MINI_KERNEL
 *                     [create|create-mini|scale|inflight|fresh]
 * (only parts 1 and 2, only part 2, only part 3, only part 4, or only part 5;
 * all without). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#include "bench.h"

#define ROUNDS 5
#define SCALE 30
#define XL "/usr/lib/xen-4.17/bin/xl"

static edera_ctx *ctx;

static void die(const char *what)
{
	fprintf(stderr, "zone-bench: %s: %s\n", what, edera_last_error());
	exit(1);
}

static void xl_config(const char *path, const char *name, const char *kernel, const char *initrd,
                      const char *extra, unsigned int mib)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "name=\"%s\"\ntype=\"pv\"\nkernel=\"%s\"\n", name, kernel);
	if (initrd)
		fprintf(f, "ramdisk=\"%s\"\n", initrd);
	fprintf(f, "extra=\"%s\"\nmemory=%u\nvcpus=1\n", extra, mib);
	fclose(f);
}

static double edera_create(const char *name, const char *kernel, const char *initrd,
                           const char *cmdline, unsigned int mib, edera_zone **out)
{
	edera_zone_config cfg;
	double t0;

	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = kernel;
	cfg.initrd = initrd;
	cfg.cmdline = cmdline;
	cfg.memory_mib = mib;
	t0 = bench_now();
	if (edera_zone_create_sync(ctx, &cfg, out) < 0)
		die("edera_zone_create");
	return bench_now() - t0;
}

static double xl_create(const char *cfgpath)
{
	char cmd[256];
	double t0 = bench_now();

	snprintf(cmd, sizeof(cmd), XL " create -q %s", cfgpath);
	if (system(cmd) != 0) {
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
		exit(1);
	}
	return bench_now() - t0;
}

static void xl_destroy(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), XL " destroy %s", name);
	if (system(cmd) != 0)
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
}

/* The context's pool: a shell of MIB ready (it is made in the background). */
static void shell_ready(unsigned int mib)
{
	edera_pool_config pc;
	edera_pool_stats st;
	double end = bench_now() + 120;

	edera_pool_config_init(&pc);
	pc.memory_mib = mib;
	pc.shells = 1;
	if (edera_pool_set(ctx, &pc) < 0)
		die("edera_pool_set");
	for (;;) {
		edera_pool_stats_init(&st);
		if (edera_pool_stats_get(ctx, mib, 1, &st) < 0)
			die("edera_pool_stats_get");
		if (st.failed) {
			fprintf(stderr, "zone-bench: a shell failed: %s\n", st.last_error);
			exit(1);
		}
		if (st.ready == 1)
			return;
		if (bench_now() > end) {
			fprintf(stderr, "zone-bench: no shell ready in 120 s\n");
			exit(1);
		}
		uv_run(edera_ctx_loop(ctx), UV_RUN_NOWAIT);
		usleep(5000);
	}
}

/* Median create -> running of ROUNDS each, alternating the toolstacks:
 * libedera cold, libedera from a prepared shell (made while nothing is
 * timed), xl. */
static void compare(const char *title, const char *kernel, const char *initrd,
                    const char *cmdline, unsigned int mib)
{
	double t_ed[ROUNDS], t_sh[ROUNDS], t_xl[ROUNDS], ed, sh, xl;
	const char *cfgpath = "/tmp/zone-bench.cfg";
	edera_pool_config off;

	xl_config(cfgpath, "bench-xl", kernel, initrd, cmdline, mib);
	edera_pool_config_init(&off);
	off.memory_mib = mib;
	for (int r = 0; r < ROUNDS; r++) {
		edera_zone *z;

		t_ed[r] = edera_create("bench-edera", kernel, initrd, cmdline, mib, &z);
		if (edera_zone_destroy_sync(z) < 0)
			die("edera_zone_destroy_sync");
		shell_ready(mib);
		t_sh[r] = edera_create("bench-edera", kernel, initrd, cmdline, mib, &z);
		if (edera_pool_set(ctx, &off) < 0) /* (no refill while the others are timed) */
			die("edera_pool_set");
		if (edera_zone_destroy_sync(z) < 0)
			die("edera_zone_destroy_sync");
		t_xl[r] = xl_create(cfgpath);
		xl_destroy("bench-xl");
	}
	ed = bench_median(t_ed, ROUNDS);
	sh = bench_median(t_sh, ROUNDS);
	xl = bench_median(t_xl, ROUNDS);
	printf("%s, %u MiB: create -> running, median of %d\n", title, mib, ROUNDS);
	printf("  %-28s %8.3f s   %5.2fx of xl's time\n", "libedera edera_zone_create", ed, ed / xl);
	printf("  %-28s %8.3f s   %5.2fx of xl's time (1/%.0f)\n", "libedera, from a shell", sh,
	       sh / xl, xl / sh);
	printf("  %-28s %8.3f s   1.00x\n", "xl create (reference)", xl);
}

/* SCALE minimal zones, each left running; the first's time and the last's. */
static void scaling(const char *mini)
{
	edera_zone *zones[SCALE];
	double ed[SCALE], xl[SCALE];
	char name[32], cfgpath[64];

	for (int i = 0; i < SCALE; i++) {
		snprintf(name, sizeof(name), "bench-scale-%d", i);
		ed[i] = edera_create(name, mini, NULL, "reason=wait", 16, &zones[i]);
	}
	for (int i = 0; i < SCALE; i++)
		if (edera_zone_destroy_sync(zones[i]) < 0)
			die("edera_zone_destroy_sync");
	for (int i = 0; i < SCALE; i++) {
		snprintf(name, sizeof(name), "bench-xl-%d", i);
		snprintf(cfgpath, sizeof(cfgpath), "/tmp/zone-bench-%d.cfg", i);
		xl_config(cfgpath, name, mini, NULL, "reason=wait", 16);
		xl[i] = xl_create(cfgpath);
	}
	for (int i = 0; i < SCALE; i++) {
		snprintf(name, sizeof(name), "bench-xl-%d", i);
		xl_destroy(name);
	}
	printf("Scaling: %d minimal zones (16 MiB) created one after another, all left running\n",
	       SCALE);
	printf("  libedera, each (ms):");
	for (int i = 0; i < SCALE; i++)
		printf(" %.0f", ed[i] * 1e3);
	printf("\n  xl, each (ms):");
	for (int i = 0; i < SCALE; i++)
		printf(" %.0f", xl[i] * 1e3);
	printf("\n");
	{
		double e0[5], e1[5], x0[5], x1[5], ef, el, xf, xlast;

		for (int i = 0; i < 5; i++) {
			e0[i] = ed[i];
			e1[i] = ed[SCALE - 5 + i];
			x0[i] = xl[i];
			x1[i] = xl[SCALE - 5 + i];
		}
		ef = bench_median(e0, 5);
		el = bench_median(e1, 5);
		xf = bench_median(x0, 5);
		xlast = bench_median(x1, 5);
		printf("  median of zones 1-5 against zones %d-%d:\n", SCALE - 4, SCALE);
		printf("  %-28s %7.3f s -> %7.3f s   %5.2fx\n", "libedera", ef, el, el / ef);
		printf("  %-28s %7.3f s -> %7.3f s   %5.2fx\n", "xl create (reference)", xf, xlast,
		       xlast / xf);
		printf("  with %d running, libedera takes %.2fx xl's time\n", SCALE - 1, el / xlast);
	}
}

/* ---- part 4: creations in flight ---- */

#define INFLIGHT_MAX 16

struct inflight {
	int left, failed;
	edera_zone *zones[INFLIGHT_MAX];
};

struct inflight_one {
	struct inflight *all;
	int i;
};

static void inflight_created(edera_ctx *c, int status, edera_zone *zone, void *data)
{
	struct inflight_one *one = data;

	if (status < 0) {
		fprintf(stderr, "zone-bench: creation %d of the batch: %s\n", one->i,
		        edera_last_error());
		one->all->failed++;
	}
	one->all->zones[one->i] = zone;
	one->all->left--;
}

/* N minimal zones asked for at once; seconds until the last runs. */
static double edera_batch(const char *mini, int n)
{
	struct inflight all = { .left = n };
	struct inflight_one one[INFLIGHT_MAX];
	double t0 = bench_now(), t;

	for (int i = 0; i < n; i++) {
		edera_zone_config cfg;
		char name[32];

		snprintf(name, sizeof(name), "bench-inflight-%d", i);
		edera_zone_config_init(&cfg);
		cfg.name = name;
		cfg.kernel = mini;
		cfg.cmdline = "reason=wait";
		cfg.memory_mib = 16;
		one[i] = (struct inflight_one){ &all, i };
		if (edera_zone_create(ctx, &cfg, inflight_created, &one[i]) < 0)
			die("edera_zone_create");
	}
	while (all.left > 0)
		uv_run(edera_ctx_loop(ctx), UV_RUN_ONCE);
	t = bench_now() - t0;
	if (all.failed)
		exit(1);
	for (int i = 0; i < n; i++)
		if (edera_zone_destroy_sync(all.zones[i]) < 0)
			die("edera_zone_destroy_sync");
	return t;
}

/* N `xl create` processes started together; seconds until all returned
 * (xl returns once its domain runs). */
static double xl_batch(const char *mini, int n)
{
	pid_t pids[INFLIGHT_MAX];
	char cfgpath[INFLIGHT_MAX][64], name[32];
	double t0, t;
	int bad = 0;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench-xl-inflight-%d", i);
		snprintf(cfgpath[i], sizeof(cfgpath[i]), "/tmp/zone-bench-inflight-%d.cfg", i);
		xl_config(cfgpath[i], name, mini, NULL, "reason=wait", 16);
	}
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			exit(1);
		}
		if (pids[i] == 0) {
			execl(XL, XL, "create", "-q", cfgpath[i], (char *)NULL);
			_exit(127);
		}
	}
	for (int i = 0; i < n; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	t = bench_now() - t0;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench-xl-inflight-%d", i);
		xl_destroy(name);
	}
	if (bad) {
		fprintf(stderr, "zone-bench: %d of %d parallel xl create failed\n", bad, n);
		exit(1);
	}
	return t;
}

static void inflight(const char *mini)
{
	static const int widths[] = { 1, 4, 16 };
	double rate_ed[3], rate_xl[3];

	printf("In flight: minimal zones (16 MiB) created at once, zones running per second, "
	       "median of %d\n", ROUNDS);
	for (int w = 0; w < 3; w++) {
		double ed[ROUNDS], xl[ROUNDS];

		for (int r = 0; r < ROUNDS; r++) {
			ed[r] = edera_batch(mini, widths[w]);
			xl[r] = xl_batch(mini, widths[w]);
		}
		rate_ed[w] = widths[w] / bench_median(ed, ROUNDS);
		rate_xl[w] = widths[w] / bench_median(xl, ROUNDS);
		printf("  %2d at once: libedera %7.2f zones/s (%5.2fx of one at a time), "
		       "xl %6.2f zones/s (%5.2fx); libedera %6.2fx xl's rate\n",
		       widths[w], rate_ed[w], rate_ed[w] / rate_ed[0], rate_xl[w],
		       rate_xl[w] / rate_xl[0], rate_ed[w] / rate_xl[w]);
	}
}

/* Part 5, in the child: open a context, create and destroy a zone twice;
 * print the three times. */
static void fresh_child(const char *kernel, const char *initrd)
{
	double t0 = bench_now(), open, first, second;
	edera_zone *z;

	if (edera_ctx_open(&ctx, NULL) < 0)
		die("edera_ctx_open");
	open = bench_now() - t0;
	first = edera_create("bench-fresh", kernel, initrd, "console=hvc0 quiet", 256, &z);
	if (edera_zone_destroy_sync(z) < 0)
		die("edera_zone_destroy_sync");
	second = edera_create("bench-fresh", kernel, initrd, "console=hvc0 quiet", 256, &z);
	if (edera_zone_destroy_sync(z) < 0)
		die("edera_zone_destroy_sync");
	edera_ctx_close(ctx);
	printf("%.6f %.6f %.6f\n", open, first, second);
}

/* One child process of part 5: its three times. */
static void fresh_run(const char *self, const char *kernel, const char *initrd, double *open,
                      double *first, double *second)
{
	char cmd[2048];
	FILE *p;
	int n;

	snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' - fresh-child", self, kernel, initrd);
	p = popen(cmd, "r");
	if (!p || (n = fscanf(p, "%lf %lf %lf", open, first, second), pclose(p)) != 0 || n != 3) {
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
		exit(1);
	}
}

/* Remove the kernel cache's index records (file identity -> entry). */
static void drop_index(const char *kdir)
{
	DIR *d = opendir(kdir);
	struct dirent *de;
	char path[1024];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "id-", 3) == 0) {
			snprintf(path, sizeof(path), "%s/%s", kdir, de->d_name);
			unlink(path);
		}
	closedir(d);
}

static void fresh(const char *self, const char *kernel, const char *initrd)
{
	char dir[] = "/tmp/zone-bench-cache-XXXXXX", kdir[64], kcopy[64], cmd[2048];
	double open[ROUNDS], first[ROUNDS], second[ROUNDS], ratio[ROUNDS];
	double h_open[ROUNDS], h_first[ROUNDS], h_second[ROUNDS], h_ratio[ROUNDS];
	double o, f, s2;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(kdir, sizeof(kdir), "%s/kernels", dir);
	setenv("EDERA_CACHE_DIR", dir, 1);
	/* The index is kept only for kernel files on local file systems (the
	 * rig's kernel is on 9p): a copy in the bench's directory, left to
	 * settle (files changed in the last second are not indexed). */
	snprintf(kcopy, sizeof(kcopy), "%s/vmlinuz", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", kernel, kcopy);
	if (system(cmd) != 0) {
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
		exit(1);
	}
	sleep(2);
	kernel = kcopy;
	/* the first process decompresses the kernel and fills the cache */
	fresh_run(self, kernel, initrd, &o, &f, &s2);
	printf("A fresh process, Debian 6.1 kernel + busybox initrd, 256 MiB, create -> running\n");
	printf("  the process that filled the disk cache: first creation %.3f s, second %.3f s\n", f,
	       s2);
	for (int r = 0; r < ROUNDS; r++) {
		fresh_run(self, kernel, initrd, &open[r], &first[r], &second[r]);
		ratio[r] = first[r] / second[r];
		drop_index(kdir);
		fresh_run(self, kernel, initrd, &h_open[r], &h_first[r], &h_second[r]);
		h_ratio[r] = h_first[r] / h_second[r];
	}
	printf("  median of %d processes        ctx open  1st creation  2nd creation  1st/2nd\n",
	       ROUNDS);
	printf("  %-30s %7.3f s %11.3f s %11.3f s %7.2fx\n", "entry found through the index",
	       bench_median(open, ROUNDS), bench_median(first, ROUNDS), bench_median(second, ROUNDS),
	       bench_median(ratio, ROUNDS));
	printf("  %-30s %7.3f s %11.3f s %11.3f s %7.2fx\n", "kernel file hashed (no index)",
	       bench_median(h_open, ROUNDS), bench_median(h_first, ROUNDS),
	       bench_median(h_second, ROUNDS), bench_median(h_ratio, ROUNDS));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
}

/* A copy of the file at PATH in DIR (named NAME), for reading off 9p. */
static char *local_copy(const char *dir, const char *path, const char *name)
{
	char cmd[2048], *copy = malloc(strlen(dir) + strlen(name) + 2);

	if (!copy)
		die("malloc");
	sprintf(copy, "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, copy);
	if (system(cmd) != 0) {
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
		exit(1);
	}
	return copy;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/zone-bench-images-XXXXXX", cmd[128];
	char *kernel, *initrd, *mini;

	if (argc < 4) {
		fprintf(stderr, "usage: zone-bench KERNEL INITRD MINI_KERNEL "
		                "[create|create-mini|scale|inflight|fresh]\n");
		return 2;
	}
	if (argc >= 5 && strcmp(argv[4], "fresh-child") == 0) {
		fresh_child(argv[1], argv[2]);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[4], "fresh") == 0) {
		fresh(argv[0], argv[1], argv[2]);
		return 0;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	kernel = local_copy(dir, argv[1], "vmlinuz");
	initrd = local_copy(dir, argv[2], "initrd");
	mini = local_copy(dir, argv[3], "mini-kernel");
	if (edera_ctx_open(&ctx, NULL) < 0)
		die("edera_ctx_open");
	printf("Zone creation (emulated machine: only ratios mean anything)\n");
	if (argc >= 5 && strcmp(argv[4], "inflight") == 0) {
		inflight(mini);
	} else if (argc >= 5 && strcmp(argv[4], "create") == 0) {
		compare("Debian 6.1 kernel + busybox initrd", kernel, initrd, "console=hvc0 quiet",
		        256);
		compare("Minimal PV kernel (tests/guest/mini)", mini, NULL, "reason=wait", 16);
	} else if (argc >= 5 && strcmp(argv[4], "create-mini") == 0) {
		compare("Minimal PV kernel (tests/guest/mini)", mini, NULL, "reason=wait", 16);
	} else {
		if (argc < 5 || strcmp(argv[4], "scale") != 0) {
			compare("Debian 6.1 kernel + busybox initrd", kernel, initrd,
			        "console=hvc0 quiet", 256);
			compare("Minimal PV kernel (tests/guest/mini)", mini, NULL, "reason=wait",
			        16);
		}
		scaling(mini);
		if (argc < 5)
			inflight(mini);
	}
	edera_ctx_close(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "zone-bench: %s failed\n", cmd);
	free(kernel);
	free(initrd);
	free(mini);
	if (argc < 5)
		fresh(argv[0], argv[1], argv[2]);
	return 0;
}
