/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Channels (edera/channel.h) against a real guest: tests/guest/chan-guest
 * speaks the guest's side in a Linux zone. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "edera/edera.h"
#include "suites.h"
#include "util.h"

#define BYE 0xffffffffu

struct peer {
	edera_channel *ch;
	/* frames the guest sent, checked as they come */
	uint64_t frames, bytes, bad;
	uint32_t next_type; /* echo: the type the next answer must have */
	uint32_t next_size;
	uint64_t flood_off; /* flood: the stream's offset */
	int flood_done;
	int ended; /* on_end's status, 1 for none yet */
	int end_calls;
	char end_msg[512];
	int writable;
	int close_on_end;
	uint64_t want_frames;
};

static uint8_t pattern(uint32_t type, size_t i)
{
	return (uint8_t)(type * 31 + i * 13);
}

static void on_echo(edera_ctx *ctx, edera_channel *ch, uint32_t type, const void *payload,
                    size_t len, void *data)
{
	struct peer *p = data;
	const uint8_t *b = payload;

	(void)ctx;
	(void)ch;
	if (type == 7) { /* flood */
		for (size_t i = 0; i < len; i++)
			if (b[i] != (uint8_t)((p->flood_off + i) * 7 % 251))
				p->bad++;
		p->flood_off += len;
	} else if (type == 8) {
		uint64_t total;

		memcpy(&total, payload, sizeof(total));
		if (len != sizeof(total) || total != p->flood_off)
			p->bad++;
		p->flood_done = 1;
	} else {
		if (type != p->next_type || len != p->next_size)
			p->bad++;
		for (size_t i = 0; i < len; i++)
			if (b[i] != pattern(type - 1, i))
				p->bad++;
		p->next_type++;
		p->next_size = (p->next_size * 7 + 1013) % (EDERA_CHANNEL_FRAME_MAX + 1);
	}
	p->frames++;
	p->bytes += len;
}

static void on_end(edera_ctx *ctx, edera_channel *ch, int status, void *data)
{
	struct peer *p = data;

	(void)ctx;
	p->ended = status;
	p->end_calls++;
	snprintf(p->end_msg, sizeof(p->end_msg), "%s", edera_last_error());
	if (p->close_on_end)
		edera_channel_close(ch);
}

static void on_writable(edera_ctx *ctx, edera_channel *ch, void *data)
{
	(void)ctx;
	(void)ch;
	((struct peer *)data)->writable = 1;
}

static edera_zone *chan_zone(edera_ctx *ctx, const char *name, const char *mode, struct text *t)
{
	edera_zone_config cfg;
	edera_zone *z = NULL;
	char cmdline[128];

	snprintf(cmdline, sizeof(cmdline), "console=hvc0 quiet loglevel=0 edera.test.args=%s",
	         mode);
	edera_zone_config_init(&cfg);
	cfg.name = name;
	cfg.kernel = linux_kernel();
	cfg.initrd = env("EDERA_GUEST_CHAN");
	cfg.cmdline = cmdline;
	cfg.memory_mib = 128;
	ck_assert_msg(edera_zone_create_sync(ctx, &cfg, &z) == 0, "%s", edera_last_error());
	memset(t, 0, sizeof(*t));
	t->want = "CHAN READY";
	ck_assert_int_eq(edera_console_subscribe(z, EDERA_CONSOLE_REPLAY, collect, t, NULL), 0);
	return z;
}

static edera_channel *open_test(edera_zone *z, struct peer *p, uint32_t ring_pages)
{
	edera_channel_config cfg;

	memset(p, 0, sizeof(*p));
	p->ended = 1;
	p->next_type = 1001;
	p->next_size = 0;
	edera_channel_config_init(&cfg);
	cfg.name = "test";
	cfg.ring_pages = ring_pages;
	cfg.on_frame = on_echo;
	cfg.on_end = on_end;
	cfg.on_writable = on_writable;
	cfg.data = p;
	ck_assert_msg(edera_channel_open(z, &cfg, &p->ch) == 0, "%s", edera_last_error());
	return p->ch;
}

static int echoed(void *arg)
{
	struct peer *p = arg;

	return p->frames >= p->want_frames;
}

static int ended_pred(void *arg)
{
	return ((struct peer *)arg)->ended != 1;
}

START_TEST(frames_both_ways)
{
	edera_ctx *ctx = NULL;
	edera_zone *z;
	struct text t;
	struct peer p;
	edera_channel *ch;
	edera_channel_config cfg;
	edera_channel_stats st;
	static uint8_t buf[EDERA_CHANNEL_FRAME_MAX];
	uint32_t size = 0;
	double t0, secs;
	int shut = 0;
	const uint64_t frames = 600;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	z = chan_zone(ctx, "chan-echo", "echo", &t);
	edera_zone_on_exit(z, on_exit_flag, &shut);
	ch = open_test(z, &p, 0);
	ck_assert_ptr_eq(edera_channel_zone(ch), z);

	/* bad configs and a second channel of the same name */
	edera_channel_config_init(&cfg);
	cfg.on_frame = on_echo;
	cfg.name = "Bad_Name";
	ck_assert_int_eq(edera_channel_open(z, &cfg, &ch), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "a-z, 0-9"), "%s", edera_last_error());
	cfg.name = "ok";
	cfg.ring_pages = 3;
	ck_assert_int_eq(edera_channel_open(z, &cfg, &ch), EDERA_EINVAL);
	cfg.ring_pages = 0;
	cfg.on_frame = NULL;
	ck_assert_int_eq(edera_channel_open(z, &cfg, &ch), EDERA_EINVAL);
	cfg.on_frame = on_echo;
	cfg.name = "test";
	ck_assert_int_eq(edera_channel_open(z, &cfg, &ch), EDERA_EEXIST);
	ch = p.ch;
	ck_assert_int_eq(edera_channel_send(ch, 1, buf, EDERA_CHANNEL_FRAME_MAX + 1), EDERA_EINVAL);

	/* frames of every size up to the largest, sent before the guest even
	 * looked, each answered in order with its type + 1 and its payload;
	 * the queue pushes back when full */
	t0 = now();
	for (uint64_t i = 0; i < frames; i++) {
		uint32_t type = 1000 + (uint32_t)i;
		int rc;

		for (uint32_t k = 0; k < size; k++)
			buf[k] = pattern(type, k);
		while ((rc = edera_channel_send(ch, type, buf, size)) == EDERA_EAGAIN) {
			p.writable = 0;
			ck_assert_msg(run_until(ctx, &p.writable, 60), "the queue never drained");
		}
		ck_assert_msg(rc == 0, "%s", edera_last_error());
		size = (size * 7 + 1013) % (EDERA_CHANNEL_FRAME_MAX + 1);
	}
	p.want_frames = frames;
	ck_assert_msg(run_pred(ctx, echoed, &p, 120), "%" PRIu64 " of %" PRIu64 " echoes: '%s'",
	              p.frames, frames, t.buf);
	secs = now() - t0;
	ck_assert_uint_eq(p.bad, 0);
	ck_assert(t.found);
	printf("channel: %" PRIu64 " frames, %.1f MiB each way, echoed in %.2f s (%.1f MiB/s)\n",
	       p.frames, (double)p.bytes / (1 << 20), secs, (double)p.bytes / (1 << 20) / secs);
	edera_channel_stats_init(&st);
	ck_assert_int_eq(edera_channel_stats_get(ch, &st), 0);
	ck_assert_uint_eq(st.frames_out, frames);
	ck_assert_uint_eq(st.frames_in, frames);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.bytes_in, st.bytes_out);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_int_eq(st.ended, 0);

	/* held: the guest's answers wait in its ring (and then in the guest),
	 * none is delivered; released: all of them, in order */
	ck_assert_int_eq(edera_channel_hold(ch, 1), 0);
	for (uint64_t i = 0; i < 8; i++) {
		uint32_t type = 1000 + (uint32_t)(frames + i);

		for (uint32_t k = 0; k < size; k++)
			buf[k] = pattern(type, k);
		ck_assert_msg(edera_channel_send(ch, type, buf, size) == 0, "%s",
		              edera_last_error());
		size = (size * 7 + 1013) % (EDERA_CHANNEL_FRAME_MAX + 1);
	}
	{
		int never = 0;

		run_until(ctx, &never, 2);
	}
	ck_assert_uint_eq(p.frames, frames);
	ck_assert_int_eq(edera_channel_hold(ch, 0), 0);
	p.want_frames = frames + 8;
	ck_assert_msg(run_pred(ctx, echoed, &p, 60), "%" PRIu64 " echoes after the hold", p.frames);
	ck_assert_uint_eq(p.bad, 0);

	/* the guest program ends, the zone powers off: the channel ends */
	ck_assert_int_eq(edera_channel_send(ch, BYE, NULL, 0), 0);
	ck_assert(run_until(ctx, &shut, 60));
	ck_assert_msg(run_pred(ctx, ended_pred, &p, 10), "on_end did not run");
	ck_assert_int_eq(p.ended, EDERA_ENOTCONN);
	ck_assert_int_eq(p.end_calls, 1);
	ck_assert_int_eq(edera_channel_send(ch, 1, NULL, 0), EDERA_ENOTCONN);
	edera_channel_close(ch);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	edera_ctx_close(ctx);
}
END_TEST

START_TEST(flood_from_the_guest)
{
	edera_ctx *ctx = NULL;
	edera_zone *z;
	struct text t;
	struct peer p;
	double t0;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	z = chan_zone(ctx, "chan-flood", "flood,8", &t);
	open_test(z, &p, 16);
	t0 = now();
	ck_assert_msg(run_until(ctx, &p.flood_done, 120), "%" PRIu64 " bytes: '%s'", p.flood_off,
	              t.buf);
	printf("channel: the guest sent 8 MiB in %.2f s\n", now() - t0);
	ck_assert_uint_eq(p.flood_off, 8u << 20);
	ck_assert_uint_eq(p.bad, 0);
	/* frames keep their order and nothing else interleaves: the echo works after */
	ck_assert_int_eq(edera_channel_send(p.ch, BYE, NULL, 0), 0);
	edera_channel_close(p.ch);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	edera_ctx_close(ctx);
}
END_TEST

static void hostile(const char *mode, const char *says)
{
	edera_ctx *ctx = NULL;
	edera_zone *z;
	struct text t;
	struct peer p;
	edera_zone_info info;

	ck_assert_int_eq(edera_ctx_open(&ctx, NULL), 0);
	z = chan_zone(ctx, "chan-hostile", mode, &t);
	open_test(z, &p, 0);
	p.close_on_end = 1; /* closing inside on_end is allowed */
	ck_assert_msg(run_pred(ctx, ended_pred, &p, 120), "%s: the channel did not end: '%s'", mode,
	              t.buf);
	ck_assert_int_eq(p.ended, EDERA_EPROTO);
	ck_assert_msg(strstr(p.end_msg, says), "%s: '%s'", mode, p.end_msg);
	ck_assert_uint_eq(p.frames, 0);
	/* the zone and the loop go on */
	edera_zone_info_init(&info);
	ck_assert_int_eq(edera_zone_info_get(z, &info), 0);
	ck_assert_int_eq(info.state, EDERA_ZONE_RUNNING);
	ck_assert_int_eq(edera_zone_destroy_sync(z), 0);
	edera_ctx_close(ctx);
}

START_TEST(hostile_guests_end_the_channel)
{
	hostile("bad-index", "impossible guest-to-host producer index");
	hostile("bad-len", "a frame of 1048576 bytes");
}
END_TEST

Suite *channel_suite(void)
{
	Suite *s = suite_create("channel");
	TCase *tc = tcase_create("channel");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, frames_both_ways);
	tcase_add_test(tc, flood_from_the_guest);
	tcase_add_test(tc, hostile_guests_end_the_channel);
	suite_add_tcase(s, tc);
	return s;
}
