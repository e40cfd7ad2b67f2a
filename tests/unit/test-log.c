/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Console logs (lib/console/log.c): every byte reaches the file in order,
 * a regular file rotates at its limit keeping one previous file, and a
 * file that blocks never blocks the caller (the loop): what does not fit
 * the queue is dropped and counted.  No Xen needed. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "console/log.h"
#include "ctx.h"
#include "suites.h"

static uv_loop_t loop;
static edera_ctx *ctx;
static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/edera-unit-log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(ed_ctx_new(&ctx, &loop), 0);
}

static void teardown(void)
{
	char cmd[128];

	edera_ctx_close(ctx); /* waits for the writer */
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A deterministic stream: byte I of it. */
static uint8_t stream(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void append_stream(struct ed_log *l, uint64_t *pos, size_t n)
{
	uint8_t b[4096];

	while (n > 0) {
		size_t k = n < sizeof(b) ? n : sizeof(b);

		for (size_t i = 0; i < k; i++)
			b[i] = stream(*pos + i);
		ed_log_append(l, b, k);
		*pos += k;
		n -= k;
	}
}

static void wait_drained(struct ed_log *l, struct ed_log_stats *st)
{
	for (int i = 0; i < 1000; i++) {
		ed_log_stats_get(l, st);
		if (st->queued == 0)
			return;
		usleep(10000);
	}
	ck_abort_msg("the writer never drained the queue (%u bytes left)", st->queued);
}

/* The bytes of PATH equal the stream from FROM on; returns its size. */
static off_t check_file(const char *path, uint64_t from)
{
	FILE *f = fopen(path, "rb");
	off_t n = 0;
	int c;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while ((c = fgetc(f)) != EOF) {
		ck_assert_msg((uint8_t)c == stream(from + (uint64_t)n), "%s: byte %lld differs", path,
		              (long long)n);
		n++;
	}
	fclose(f);
	return n;
}

START_TEST(every_byte_in_order_then_rotation)
{
	char path[128], old[140];
	struct ed_log *l = NULL;
	struct ed_log_stats st;
	uint64_t pos = 0;
	off_t cur, prev;

	snprintf(path, sizeof(path), "%s/zone.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	ck_assert_int_eq(ed_log_open(ctx, path, 100000, &l), 0);
	append_stream(l, &pos, 70000);
	wait_drained(l, &st);
	ck_assert_uint_eq(st.written, 70000);
	ck_assert_uint_eq(st.rotations, 0);
	ck_assert_int_eq(check_file(path, 0), 70000);
	ck_assert_int_eq(access(old, F_OK), -1);

	/* past the limit: 100000 bytes moved to .1, the rest in a new file */
	append_stream(l, &pos, 70000);
	wait_drained(l, &st);
	ck_assert_uint_eq(st.rotations, 1);
	ck_assert_int_eq(check_file(old, 0), 100000);
	ck_assert_int_eq(check_file(path, 100000), 40000);
	/* three more limits' worth: only the newest two files are kept, and
	 * together they end the stream */
	append_stream(l, &pos, 300000);
	wait_drained(l, &st);
	ck_assert_uint_eq(st.rotations, 4);
	ck_assert_uint_eq(st.written, 440000);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_uint_eq(st.errors, 0);
	cur = check_file(path, 400000);
	ck_assert_int_eq(cur, 40000);
	prev = check_file(old, 300000);
	ck_assert_int_eq(prev, 100000);
	ed_log_close(l);
}
END_TEST

/* A FIFO whose reader never reads: the writer blocks in write(2) once the
 * pipe is full, and appends keep returning at once; the queue's overflow
 * is dropped and counted.  Once the reader reads, the queued bytes come
 * through, in order. */
START_TEST(a_stuck_file_never_blocks_the_loop)
{
	char path[128];
	struct ed_log *l = NULL;
	struct ed_log_stats st;
	struct timespec t0, t1;
	uint64_t pos = 0, got = 0;
	uint8_t buf[65536];
	double secs;
	bool drained = false;
	int rd;

	snprintf(path, sizeof(path), "%s/stuck.fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rd, 0);
	ck_assert_int_eq(ed_log_open(ctx, path, 1024, &l), 0); /* no rotation: not a file */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	append_stream(l, &pos, 16 * 1024 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ed_log_stats_get(l, &st);
	/* 16 MiB appended; the pipe and the writer's buffers hold a few MiB at
	 * most: the rest was dropped, not waited for */
	ck_assert_uint_gt(st.dropped, 8 * 1024 * 1024);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_eq(st.rotations, 0);
	ck_assert_msg(secs < 60, "appending took %.1f s", secs); /* a hang, not a timing */
	/* the reader reads: what was kept arrives, the stream's start first */
	for (int idle = 0; idle < 500;) {
		ssize_t n = read(rd, buf, sizeof(buf));

		if (n > 0) {
			/* the pipe's first 64 KiB: the stream's start, exactly */
			for (ssize_t i = 0; i < n && got + (uint64_t)i < 65536; i++)
				ck_assert_uint_eq(buf[i], stream(got + (uint64_t)i));
			got += (uint64_t)n;
			idle = 0;
			continue;
		}
		ck_assert(n < 0 && errno == EAGAIN);
		ed_log_stats_get(l, &st);
		if (st.queued == 0 && drained)
			break;
		/* once nothing is queued, one more pass empties the pipe */
		drained = st.queued == 0;
		idle++;
		usleep(10000);
	}
	ed_log_stats_get(l, &st);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.written + st.dropped, 16 * 1024 * 1024);
	ck_assert_uint_eq(got, st.written);
	ed_log_close(l);
	close(rd);
}
END_TEST

/* The reader of a FIFO log goes away: the write fails with EPIPE (no
 * SIGPIPE ends the process), the log stops, the failure is counted. */
START_TEST(a_reader_that_goes_stops_the_log)
{
	char path[128];
	struct ed_log *l = NULL;
	struct ed_log_stats st;
	uint64_t pos = 0;
	int rd;

	snprintf(path, sizeof(path), "%s/gone.fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rd, 0);
	ck_assert_int_eq(ed_log_open(ctx, path, 1024, &l), 0);
	close(rd);
	append_stream(l, &pos, 1000);
	for (int i = 0; i < 1000; i++) {
		ed_log_stats_get(l, &st);
		if (st.errors)
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(st.errors, 1);
	append_stream(l, &pos, 1000);
	wait_drained(l, &st);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_uint_eq(st.dropped, 2000);
	ed_log_close(l);
}
END_TEST

/* A FIFO nobody reads holds a megabyte for the writer when the context
 * closes: the close returns (what the file did not take is dropped), it
 * does not wait for a reader that never comes. */
START_TEST(a_stuck_file_does_not_hold_the_close)
{
	char path[128];
	struct ed_log *l = NULL;
	uint64_t pos = 0;
	int rd;

	snprintf(path, sizeof(path), "%s/held.fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rd, 0);
	ck_assert_int_eq(ed_log_open(ctx, path, 1024, &l), 0);
	append_stream(l, &pos, 1024 * 1024);
	usleep(100000); /* the writer is waiting for the pipe by now */
	ed_log_close(l);
	edera_ctx_close(ctx); /* a hang here is the failure (the test's timeout) */
	ctx = NULL;
	close(rd);
}
END_TEST

/* A log that cannot be opened says why, with its path. */
START_TEST(open_errors_name_the_path)
{
	struct ed_log *l = (struct ed_log *)1;

	ck_assert_int_eq(ed_log_open(ctx, "/nonexistent-dir/zone.log", 1024, &l), EDERA_ENOENT);
	ck_assert_ptr_null(l);
	ck_assert_msg(strstr(edera_last_error(), "/nonexistent-dir/zone.log"), "%s",
	              edera_last_error());
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_byte_in_order_then_rotation);
	tcase_add_test(tc, a_stuck_file_never_blocks_the_loop);
	tcase_add_test(tc, a_reader_that_goes_stops_the_log);
	tcase_add_test(tc, a_stuck_file_does_not_hold_the_close);
	tcase_add_test(tc, open_errors_name_the_path);
	suite_add_tcase(s, tc);
	return s;
}
