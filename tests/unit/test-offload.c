/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Threadpool offload: the loop keeps running while blocking work runs, errors
 * come back with their message, and a context closed meanwhile is freed only
 * when the work is done. */
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "ctx.h"
#include "hv/offload.h"
#include "suites.h"

struct state {
	int ticks;
	int ticks_at_done;
	int done;
	int status;
	char msg[128];
};

static void tick(uv_timer_t *t)
{
	((struct state *)t->data)->ticks++;
}

static int slow_ok(void *arg)
{
	usleep(300 * 1000); /* stands in for a long hypercall */
	return 0;
}

static int slow_fail(void *arg)
{
	usleep(50 * 1000);
	return ed_error(EDERA_EIO, "populating memory failed: the worker's words");
}

static void after(edera_ctx *ctx, int status, void *arg)
{
	struct state *s = arg;

	s->status = status;
	s->ticks_at_done = s->ticks;
	snprintf(s->msg, sizeof(s->msg), "%s", edera_last_error());
	s->done++;
}

START_TEST(loop_runs_while_work_blocks)
{
	uv_loop_t loop;
	uv_timer_t timer;
	edera_ctx *ctx;
	struct state s = { 0 };

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(ed_ctx_new(&ctx, &loop), 0);
	uv_timer_init(&loop, &timer);
	timer.data = &s;
	uv_timer_start(&timer, tick, 20, 20);
	ck_assert_int_eq(ed_offload(ctx, slow_ok, after, &s), 0);
	while (!s.done)
		uv_run(&loop, UV_RUN_ONCE);
	ck_assert_int_eq(s.status, 0);
	/* 300 ms of work at a 20 ms tick: the loop was not stalled */
	ck_assert_int_ge(s.ticks_at_done, 5);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ed_offload(ctx, slow_fail, after, &s), 0);
	while (!s.done)
		uv_run(&loop, UV_RUN_ONCE);
	ck_assert_int_eq(s.status, EDERA_EIO);
	ck_assert_str_eq(s.msg, "populating memory failed: the worker's words");

	uv_close((uv_handle_t *)&timer, NULL);
	edera_ctx_close(ctx);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(close_waits_for_work)
{
	uv_loop_t loop;
	edera_ctx *ctx;
	struct state s = { 0 };

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(ed_ctx_new(&ctx, &loop), 0);
	ck_assert_int_eq(ed_offload(ctx, slow_ok, after, &s), 0);
	edera_ctx_close(ctx); /* work still running: freed when it completes */
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(s.done, 1);
	ck_assert_int_eq(uv_loop_close(&loop), 0);

	/* the same with the context's own loop: close waits */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ed_ctx_new(&ctx, NULL), 0);
	ck_assert_int_eq(ed_offload(ctx, slow_ok, after, &s), 0);
	edera_ctx_close(ctx);
	ck_assert_int_eq(s.done, 1);
}
END_TEST

Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("threadpool");

	tcase_add_test(tc, loop_runs_while_work_blocks);
	tcase_add_test(tc, close_waits_for_work);
	suite_add_tcase(s, tc);
	return s;
}
