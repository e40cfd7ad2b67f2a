/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Zone creation with one disk (an ext4 image on a loop device) and one NIC
 * (on a bridge), until the guest's drivers have connected both: libedera
 * against `xl create` with the same devices (xl's hot-plug scripts), in the
 * same rig boot (xl given a loop device made beforehand: see with_xl); then
 * zone -> dom0 TCP throughput over libedera's vif.
 * Printed, not asserted.
 *   device-bench KERNEL DEV_INITRD [RUNS]
 * Run in dom0 (make bench does), with xen-blkback, xen-netback, loop and
 * bridge loaded. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <edera/edera.h>
#include <uv.h>

#include "bench.h"

#define XL "/usr/lib/xen-4.17/bin/xl"
#define IMG "/tmp/edera-bench-disk.img"
#define IMG2 "/tmp/edera-bench-disk-xl.img"
#define CMDLINE "console=hvc0 quiet loglevel=0 edera.test.args="
#define TCP_BYTES (50u << 20)

static int frontend_connected(edera_ctx *ctx, unsigned int domid, const char *rel)
{
	char path[128], *v = NULL;
	int ok;

	snprintf(path, sizeof(path), "/local/domain/%u/device/%s/state", domid, rel);
	ok = edera_xs_read_sync(ctx, NULL, path, &v, NULL) == 0 && strcmp(v, "4") == 0;
	edera_free(v);
	return ok;
}

/* xl's block script sets up a loop device itself for a file, which under
 * emulation outlasts xl's 10 s hot-plug timeout here; so xl is given a loop
 * device made beforehand (phy), which its script only checks. */
static double with_xl(edera_ctx *ctx, const char *kernel, const char *initrd, const char *loop,
                      int with_disk)
{
	FILE *f = fopen("/tmp/edera-bench-xl.cfg", "w");
	unsigned int domid = 0;
	double t0, t;
	char line[64];

	if (!f)
		return -1;
	fprintf(f,
	        "name = \"edera-bench-xl\"\ntype = \"pv\"\nkernel = \"%s\"\nramdisk = \"%s\"\n"
	        "extra = \"" CMDLINE "idle\"\nmemory = 256\n"
	        "%s%s%s"
	        "vif = [ \"bridge=edbr0\" ]\n",
	        kernel, initrd, with_disk ? "disk = [ \"format=raw,vdev=xvda,access=rw,target=" : "",
	        with_disk ? loop : "", with_disk ? "\" ]\n" : "");
	fclose(f);
	t0 = bench_now();
	if (system(XL " create -q /tmp/edera-bench-xl.cfg") != 0) {
		if (system(XL " destroy edera-bench-xl >/dev/null 2>&1") != 0)
			(void)0;
		return -1;
	}
	f = popen(XL " domid edera-bench-xl", "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%u", &domid) != 1) {
		if (f)
			pclose(f);
		return -1;
	}
	pclose(f);
	while (!((!with_disk || frontend_connected(ctx, domid, "vbd/51712")) &&
	         frontend_connected(ctx, domid, "vif/0")))
		if (bench_now() - t0 > 300)
			return -1;
		else
			usleep(20000);
	t = bench_now() - t0;
	if (system(XL " destroy edera-bench-xl") != 0)
		return -1;
	return t;
}

static edera_zone *zone_with_devices(edera_ctx *ctx, const char *kernel, const char *initrd,
                                     const char *step, int with_disk, double *secs)
{
	edera_disk_config d;
	edera_nic_config n;
	const edera_disk_config *dp[1] = { &d };
	const edera_nic_config *np[1] = { &n };
	edera_zone_config cfg;
	edera_zone *z = NULL;
	char cmdline[160];
	double t0;

	edera_disk_config_init(&d);
	d.path = IMG;
	d.vdev = "xvda";
	edera_nic_config_init(&n);
	n.bridge = "edbr0";
	snprintf(cmdline, sizeof(cmdline), CMDLINE "%s", step);
	edera_zone_config_init(&cfg);
	cfg.name = "edera-bench-lib";
	cfg.kernel = kernel;
	cfg.initrd = initrd;
	cfg.cmdline = cmdline;
	cfg.memory_mib = 256;
	cfg.disks = dp;
	cfg.n_disks = with_disk ? 1 : 0;
	cfg.nics = np;
	cfg.n_nics = 1;
	cfg.device_timeout_ms = 300000;
	t0 = bench_now();
	if (edera_zone_create_sync(ctx, &cfg, &z) < 0) {
		fprintf(stderr, "device-bench: %s\n", edera_last_error());
		return NULL;
	}
	*secs = bench_now() - t0;
	return z;
}

struct sink {
	int fd;
	unsigned long got;
	double t0, t1;
	int done;
};

static void *sink_run(void *arg)
{
	struct sink *s = arg;
	char buf[65536];
	int c = accept(s->fd, NULL, NULL);
	ssize_t n;

	s->t0 = bench_now();
	while (c >= 0 && (n = read(c, buf, sizeof(buf))) > 0)
		s->got += (unsigned long)n;
	s->t1 = bench_now();
	if (c >= 0)
		close(c);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void tcp_throughput(edera_ctx *ctx, const char *kernel, const char *initrd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5556) };
	struct sink s = { 0 };
	pthread_t th;
	edera_zone *z;
	double secs;
	int one = 1;
	char step[96];

	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, "10.99.0.1", &a.sin_addr);
	if (bind(s.fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s.fd, 1) < 0 ||
	    pthread_create(&th, NULL, sink_run, &s) != 0) {
		perror("device-bench: listen");
		return;
	}
	snprintf(step, sizeof(step), "net,10.99.0.3,10.99.0.1,5556,%u", TCP_BYTES);
	z = zone_with_devices(ctx, kernel, initrd, step, 0, &secs);
	if (z) {
		while (!__atomic_load_n(&s.done, __ATOMIC_ACQUIRE))
			uv_run(edera_ctx_loop(ctx), UV_RUN_NOWAIT), usleep(10000);
		edera_zone_destroy_sync(z);
	}
	shutdown(s.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(s.fd);
	if (s.got == TCP_BYTES)
		printf("zone -> dom0 TCP over libedera's vif: %u MiB in %.2f s = %.1f MiB/s\n",
		       TCP_BYTES >> 20, s.t1 - s.t0, (double)(TCP_BYTES >> 20) / (s.t1 - s.t0));
	else
		printf("zone -> dom0 TCP: only %lu bytes arrived\n", s.got);
}

int main(int argc, char **argv)
{
	int runs = argc > 3 ? atoi(argv[3]) : 3;
	double lib[16], xl[16];
	char loop[64];
	edera_ctx *ctx;

	if (argc < 3 || runs < 1 || runs > 16) {
		fprintf(stderr, "usage: device-bench KERNEL DEV_INITRD [RUNS (1-16)]\n");
		return 2;
	}
	if (system("rm -rf /tmp/edera-bench-root && mkdir -p /tmp/edera-bench-root && "
	           "echo bench >/tmp/edera-bench-root/hello.txt && "
	           "mkfs.ext4 -q -F -d /tmp/edera-bench-root " IMG " 64M && "
	           "cp " IMG " " IMG2 " && "
	           "{ ip link show edbr0 >/dev/null 2>&1 || { ip link add edbr0 type bridge && "
	           "ip addr add 10.99.0.1/24 dev edbr0 && ip link set edbr0 up; }; }") != 0) {
		fprintf(stderr, "device-bench: could not make the image or the bridge\n");
		return 1;
	}
	if (edera_ctx_open(&ctx, NULL) < 0) {
		fprintf(stderr, "device-bench: %s\n", edera_last_error());
		return 1;
	}
	{
		FILE *p = popen("losetup -f --show " IMG2, "r");

		if (!p || !fgets(loop, sizeof(loop), p)) {
			fprintf(stderr, "device-bench: losetup failed\n");
			return 1;
		}
		pclose(p);
		loop[strcspn(loop, "\n")] = '\0';
	}
	for (int with_disk = 1; with_disk >= 0; with_disk--) {
		int xl_ok = 1;

		printf("zone creation with %s, until the guest connected %s:\n",
		       with_disk ? "one disk and one NIC" : "one NIC", with_disk ? "both" : "it");
		for (int i = 0; i < runs; i++) {
			edera_zone *z = zone_with_devices(ctx, argv[1], argv[2], "idle", with_disk,
			                                  &lib[i]);

			if (!z)
				return 1;
			edera_zone_destroy_sync(z);
			xl[i] = xl_ok ? with_xl(ctx, argv[1], argv[2], loop, with_disk) : -1;
			if (xl[i] < 0 && xl_ok) {
				xl_ok = 0;
				printf("  xl create failed (see libxl's messages above)\n");
			}
			printf("  run %d: libedera %.2f s, xl create %.2f s\n", i + 1, lib[i], xl[i]);
		}
		if (xl_ok)
			printf("  median of %d: libedera %.2f s, xl create %.2f s, ratio %.2fx\n", runs,
			       bench_median(lib, runs), bench_median(xl, runs),
			       bench_median(lib, runs) / bench_median(xl, runs));
		else
			printf("  median of %d: libedera %.2f s; no xl reference\n", runs,
			       bench_median(lib, runs));
	}
	tcp_throughput(ctx, argv[1], argv[2]);
	edera_ctx_close(ctx);
	{
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "losetup -d %s", loop);
		if (system(cmd) != 0)
			fprintf(stderr, "device-bench: %s failed\n", cmd);
	}
	return 0;
}
