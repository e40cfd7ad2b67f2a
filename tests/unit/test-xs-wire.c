/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenStore wire codec: encoding, incremental decoding, limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "suites.h"
#include "xs/wire.h"

START_TEST(encode_header_and_payload)
{
	struct ed_xs_part parts[2] = { { "/a/b", 5 }, { "xyz", 3 } };
	uint32_t hdr[4];
	char *buf;
	size_t len;

	ck_assert_int_eq(ed_xs_encode(XS_WRITE, 7, 9, parts, 2, &buf, &len), 0);
	ck_assert_uint_eq(len, 16 + 8);
	memcpy(hdr, buf, 16);
	ck_assert_uint_eq(hdr[0], XS_WRITE);
	ck_assert_uint_eq(hdr[1], 7);
	ck_assert_uint_eq(hdr[2], 9);
	ck_assert_uint_eq(hdr[3], 8);
	ck_assert_int_eq(memcmp(buf + 16, "/a/b\0xyz", 8), 0);
	free(buf);
}
END_TEST

START_TEST(encode_payload_limit)
{
	static char big[XENSTORE_PAYLOAD_MAX + 1];
	struct ed_xs_part parts[2] = { { big, XENSTORE_PAYLOAD_MAX - 1 }, { big, 1 } };
	char *buf = NULL;
	size_t len;

	ck_assert_int_eq(ed_xs_encode(XS_WRITE, 1, 0, parts, 2, &buf, &len), 0);
	ck_assert_uint_eq(len, 16 + XENSTORE_PAYLOAD_MAX);
	free(buf);
	parts[1].len = 2;
	buf = NULL;
	ck_assert_int_eq(ed_xs_encode(XS_WRITE, 1, 0, parts, 2, &buf, &len), EDERA_EINVAL);
	ck_assert_ptr_null(buf);
	ck_assert_msg(strstr(edera_last_error(), "4096") != NULL, "%s", edera_last_error());
	/* a huge part must not overflow the sum */
	parts[0].len = SIZE_MAX - 2;
	ck_assert_int_eq(ed_xs_encode(XS_WRITE, 1, 0, parts, 2, &buf, &len), EDERA_EINVAL);
}
END_TEST

START_TEST(path_rules)
{
	static char longp[XENSTORE_ABS_PATH_MAX + 2];

	ck_assert_int_eq(ed_xs_check_path("/local/domain/0/name", 20, false), 0);
	ck_assert_int_eq(ed_xs_check_path("data/x-y_z@1", 12, false), 0);
	ck_assert_int_eq(ed_xs_check_path("/", 1, false), 0);
	ck_assert_int_eq(ed_xs_check_path("", 0, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path("/a\0b", 4, false), EDERA_EINVAL);
	ck_assert_msg(strstr(edera_last_error(), "embedded NUL") != NULL, "%s", edera_last_error());
	ck_assert_int_eq(ed_xs_check_path("/a//b", 5, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path("/a/b/", 5, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path("/a b", 4, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path("/a\xc3\xa9", 4, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path("@releaseDomain", 14, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path("@releaseDomain", 14, true), 0);
	ck_assert_int_eq(ed_xs_check_path("@introduceDomain", 16, true), 0);
	ck_assert_int_eq(ed_xs_check_path("@other", 6, true), EDERA_EINVAL);

	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	ck_assert_int_eq(ed_xs_check_path(longp, XENSTORE_ABS_PATH_MAX, false), 0);
	ck_assert_int_eq(ed_xs_check_path(longp, XENSTORE_ABS_PATH_MAX + 1, false), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_check_path(longp + 1, XENSTORE_REL_PATH_MAX, false), 0);
	ck_assert_int_eq(ed_xs_check_path(longp + 1, XENSTORE_REL_PATH_MAX + 1, false),
	                 EDERA_EINVAL);
}
END_TEST

/* ---- decoding ------------------------------------------------------------- */

struct seen {
	int n;
	struct ed_xs_hdr hdr[8];
	char payload[8][64];
	int stop_after;
	const char *expect; /* a long payload to compare whole */
	size_t expect_len;
	int matched;
};

static int collect(const struct ed_xs_hdr *hdr, const char *payload, void *arg)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 8);
	ck_assert_int_eq(payload[hdr->len], '\0'); /* NUL appended */
	s->hdr[s->n] = *hdr;
	memcpy(s->payload[s->n], payload, hdr->len < 63 ? hdr->len : 63);
	if (s->expect && hdr->len == s->expect_len && memcmp(payload, s->expect, hdr->len) == 0)
		s->matched++;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static size_t put_msg(char *buf, uint32_t type, uint32_t id, const char *p, uint32_t len)
{
	uint32_t hdr[4] = { type, id, 0, len };

	memcpy(buf, hdr, 16);
	memcpy(buf + 16, p, len);
	return 16 + len;
}

START_TEST(decode_byte_by_byte)
{
	struct ed_xs_reader *r = malloc(sizeof(*r));
	struct seen s = { 0 };
	char stream[256];
	size_t len = 0;

	len += put_msg(stream + len, XS_READ, 3, "hello", 5);
	len += put_msg(stream + len, XS_WATCH_EVENT, 0, "/p\0tok\0", 7);
	len += put_msg(stream + len, XS_WRITE, 4, "", 0);
	ed_xs_reader_init(r, XENSTORE_PAYLOAD_MAX);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(ed_xs_reader_feed(r, stream + i, 1, collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_uint_eq(s.hdr[0].req_id, 3);
	ck_assert_str_eq(s.payload[0], "hello");
	ck_assert_uint_eq(s.hdr[1].type, XS_WATCH_EVENT);
	ck_assert_int_eq(memcmp(s.payload[1], "/p\0tok\0", 7), 0);
	ck_assert_uint_eq(s.hdr[2].len, 0);

	/* the same stream in one piece, and in uneven chunks */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ed_xs_reader_feed(r, stream, len, collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(ed_xs_reader_feed(r, stream, 17, collect, &s), 0);
	ck_assert_int_eq(ed_xs_reader_feed(r, stream + 17, 30, collect, &s), 0);
	ck_assert_int_eq(ed_xs_reader_feed(r, stream + 47, len - 47, collect, &s), 0);
	ck_assert_int_eq(s.n, 3);
	free(r);
}
END_TEST

START_TEST(decode_callback_stops)
{
	struct ed_xs_reader *r = malloc(sizeof(*r));
	struct seen s = { .stop_after = 1 };
	char stream[128];
	size_t len = 0;

	len += put_msg(stream + len, XS_READ, 1, "a", 1);
	len += put_msg(stream + len, XS_READ, 2, "b", 1);
	ed_xs_reader_init(r, XENSTORE_PAYLOAD_MAX);
	ck_assert_int_eq(ed_xs_reader_feed(r, stream, len, collect, &s), 42);
	ck_assert_int_eq(s.n, 1);
	free(r);
}
END_TEST

START_TEST(decode_oversized_is_fatal)
{
	struct ed_xs_reader *r = malloc(sizeof(*r));
	struct seen s = { 0 };
	uint32_t hdr[4] = { XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
	char ok[64];

	ed_xs_reader_init(r, XENSTORE_PAYLOAD_MAX);
	ck_assert_int_eq(ed_xs_reader_feed(r, hdr, 16, collect, &s), EDERA_EPROTO);
	ck_assert_int_eq(s.n, 0);
	/* the stream is lost: later good bytes are refused too */
	ck_assert_int_eq(ed_xs_reader_feed(r, ok, put_msg(ok, XS_READ, 2, "x", 1), collect, &s),
	                 EDERA_EPROTO);
	ck_assert_int_eq(s.n, 0);
	/* exactly the maximum is fine */
	{
		static char big[16 + XENSTORE_PAYLOAD_MAX];
		static char payload[XENSTORE_PAYLOAD_MAX];
		ed_xs_reader_init(r, XENSTORE_PAYLOAD_MAX);
		put_msg(big, XS_READ, 9, payload, XENSTORE_PAYLOAD_MAX);
		ck_assert_int_eq(ed_xs_reader_feed(r, big, sizeof(big), collect, &s), 0);
		ck_assert_int_eq(s.n, 1);
	}
	free(r);
}
END_TEST

/* oxenstored answers a long XS_DIRECTORY over dom0's socket in one message:
 * a socket reader takes it (in pieces, with messages around it), up to its
 * own limit; a ring reader never does. */
START_TEST(decode_long_socket_reply)
{
	struct ed_xs_reader *r = malloc(sizeof(*r));
	struct seen s = { 0 };
	size_t plen = 16890, len = 0;
	char *stream = malloc(3 * 16 + plen + 8);
	char *names = malloc(plen);
	uint32_t hdr[4];

	for (size_t i = 0; i < plen; i++)
		names[i] = i % 7 == 6 ? '\0' : (char)('a' + i % 26);
	names[plen - 1] = '\0';
	len += put_msg(stream + len, XS_READ, 1, "x", 1);
	len += put_msg(stream + len, XS_DIRECTORY, 2, names, (uint32_t)plen);
	len += put_msg(stream + len, XS_READ, 3, "y", 1);
	s.expect = names, s.expect_len = plen;
	ed_xs_reader_init(r, ED_XS_SOCKET_PAYLOAD_MAX);
	for (size_t off = 0; off < len; off += 1000) {
		size_t take = len - off < 1000 ? len - off : 1000;
		ck_assert_int_eq(ed_xs_reader_feed(r, stream + off, take, collect, &s), 0);
	}
	ck_assert_int_eq(s.n, 3);
	ck_assert_uint_eq(s.hdr[1].type, XS_DIRECTORY);
	ck_assert_uint_eq(s.hdr[1].len, plen);
	ck_assert_int_eq(s.matched, 1);
	ck_assert_str_eq(s.payload[2], "y");
	ck_assert_ptr_null(r->big); /* the long buffer went with its message */
	ed_xs_reader_fini(r);

	/* the ring's cap: the same reply is a protocol error */
	memset(&s, 0, sizeof(s));
	ed_xs_reader_init(r, XENSTORE_PAYLOAD_MAX);
	ck_assert_int_eq(ed_xs_reader_feed(r, stream, len, collect, &s), EDERA_EPROTO);
	ck_assert_int_eq(s.n, 1);
	ck_assert_ptr_nonnull(strstr(edera_last_error(), "16890 bytes (limit 4096)"));
	ed_xs_reader_fini(r);

	/* past the socket's limit: refused before anything is allocated */
	memset(&s, 0, sizeof(s));
	ed_xs_reader_init(r, ED_XS_SOCKET_PAYLOAD_MAX);
	hdr[0] = XS_DIRECTORY, hdr[1] = 4, hdr[2] = 0, hdr[3] = ED_XS_SOCKET_PAYLOAD_MAX + 1;
	ck_assert_int_eq(ed_xs_reader_feed(r, hdr, 16, collect, &s), EDERA_EPROTO);
	ck_assert_ptr_null(r->big);
	ck_assert_int_eq(s.n, 0);

	/* a stream cut in the middle of a long message: fini frees it */
	ed_xs_reader_init(r, ED_XS_SOCKET_PAYLOAD_MAX);
	ck_assert_int_eq(ed_xs_reader_feed(r, stream + 16 + 1, 16 + 5000, collect, &s), 0);
	ck_assert_ptr_nonnull(r->big);
	ed_xs_reader_fini(r);
	ck_assert_ptr_null(r->big);
	free(names);
	free(stream);
	free(r);
}
END_TEST

START_TEST(error_names)
{
	ck_assert_int_eq(ed_xs_error_code("ENOENT", 7), EDERA_ENOENT);
	ck_assert_int_eq(ed_xs_error_code("EACCES", 7), EDERA_EACCES);
	ck_assert_int_eq(ed_xs_error_code("EAGAIN", 7), EDERA_EAGAIN);
	ck_assert_int_eq(ed_xs_error_code("EEXIST", 6), EDERA_EEXIST); /* no NUL */
	ck_assert_int_eq(ed_xs_error_code("E2BIG", 6), EDERA_ERANGE);
	ck_assert_int_eq(ed_xs_error_code("EWHAT", 6), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_error_code("EQUOTA", 7), EDERA_ENOSPC); /* oxenstored's quota */
	ck_assert_int_eq(ed_xs_error_code("EQUOTAX", 8), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_error_code("ENOENTX", 8), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_error_code("", 0), EDERA_EPROTO);
}
END_TEST

START_TEST(split_lists)
{
	const char *items[4];
	size_t n;

	ck_assert_int_eq(ed_xs_split("a\0bb\0\0c\0", 8, items, 4, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(items[0], "a");
	ck_assert_str_eq(items[1], "bb");
	ck_assert_str_eq(items[2], "");
	ck_assert_str_eq(items[3], "c");
	ck_assert_int_eq(ed_xs_split("", 0, items, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ed_xs_split("a\0b", 3, items, 4, &n), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_split("a\0b\0c\0d\0e\0", 10, items, 4, &n), EDERA_EPROTO);
}
END_TEST

START_TEST(perms_round_trip)
{
	uint32_t d, p;
	char buf[16];

	ck_assert_int_eq(ed_xs_parse_perm("b0", &d, &p), 0);
	ck_assert_uint_eq(d, 0);
	ck_assert_uint_eq(p, EDERA_XS_PERM_BOTH);
	ck_assert_int_eq(ed_xs_parse_perm("r12", &d, &p), 0);
	ck_assert_uint_eq(d, 12);
	ck_assert_uint_eq(p, EDERA_XS_PERM_READ);
	ck_assert_int_eq(ed_xs_parse_perm("n", &d, &p), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_parse_perm("x1", &d, &p), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_parse_perm("r1a", &d, &p), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_parse_perm("r99999999999", &d, &p), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_parse_perm("r70000", &d, &p), EDERA_EPROTO);
	ck_assert_int_eq(ed_xs_format_perm(buf, sizeof(buf), 5, EDERA_XS_PERM_WRITE), 0);
	ck_assert_str_eq(buf, "w5");
	ck_assert_int_eq(ed_xs_format_perm(buf, sizeof(buf), 5, 7), EDERA_EINVAL);
	ck_assert_int_eq(ed_xs_format_perm(buf, sizeof(buf), 70000, 1), EDERA_EINVAL);
}
END_TEST

Suite *xs_wire_suite(void)
{
	Suite *s = suite_create("xs-wire");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, encode_header_and_payload);
	tcase_add_test(tc, encode_payload_limit);
	tcase_add_test(tc, path_rules);
	tcase_add_test(tc, decode_byte_by_byte);
	tcase_add_test(tc, decode_callback_stops);
	tcase_add_test(tc, decode_oversized_is_fatal);
	tcase_add_test(tc, decode_long_socket_reply);
	tcase_add_test(tc, error_names);
	tcase_add_test(tc, split_lists);
	tcase_add_test(tc, perms_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
