/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenStore wire protocol (xen/io/xs_wire.h): pure encode and decode, no
 * I/O, so every byte of it can be unit-tested and fuzzed on any machine. */
#ifndef EDERA_XS_WIRE_H
#define EDERA_XS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#define ED_XS_HDR_LEN 16u

struct ed_xs_hdr {
	uint32_t type;
	uint32_t req_id;
	uint32_t tx_id;
	uint32_t len;
};

/* One piece of a request's payload; NUL-terminated pieces carry their NUL. */
struct ed_xs_part {
	const void *data;
	size_t len;
};

/*
 * Check a node path of LEN bytes before it is sent: non-empty, no NUL, only
 * the characters xenstored accepts, no "//" and no trailing '/', within
 * XENSTORE_ABS_PATH_MAX (absolute) or XENSTORE_REL_PATH_MAX (relative).
 * SPECIAL also admits the watch-only paths "@releaseDomain" and
 * "@introduceDomain".  Returns 0 or EDERA_EINVAL with the thread's message set.
 */
int ed_xs_check_path(const char *path, size_t len, bool special);

/*
 * Build a complete message (header + payload) in a new malloc'ed buffer.
 * Fails with EDERA_EINVAL (message set) if the payload would exceed
 * XENSTORE_PAYLOAD_MAX; EDERA_ENOMEM.
 */
int ed_xs_encode(uint32_t type, uint32_t req_id, uint32_t tx_id, const struct ed_xs_part *parts,
                 size_t nparts, char **out, size_t *out_len);

/*
 * Incremental decoder for the byte stream from xenstored.  Feed it whatever
 * arrives; it calls CB once per complete message with the payload (always
 * followed by a NUL the wire did not carry, for convenience).
 *
 * How long a message may be depends on the transport.  On the shared ring
 * (/dev/xen/xenbus) the protocol caps every payload at XENSTORE_PAYLOAD_MAX.
 * On dom0's Unix socket there is no ring to fit: the C daemon keeps to the
 * cap all the same (a long listing gets E2BIG), but oxenstored answers
 * XS_DIRECTORY in one reply of any length.  So a socket reader accepts up to
 * ED_XS_SOCKET_PAYLOAD_MAX (the client's listing limit), held in a buffer
 * allocated for that message only.  A message announcing more than the
 * reader's limit is a protocol error: the stream cannot be resynchronized,
 * so the reader stops (EDERA_EPROTO).  If CB returns non-zero, feeding
 * stops and that value is returned.
 */
#define ED_XS_SOCKET_PAYLOAD_MAX (16u << 20)

struct ed_xs_reader {
	unsigned char hdr[ED_XS_HDR_LEN];
	size_t have; /* bytes of the current message received so far */
	struct ed_xs_hdr cur;
	uint32_t max;    /* the longest payload accepted */
	char *payload;   /* the current message's: SMALL, or BIG */
	char *big;       /* allocated for a message longer than SMALL */
	bool failed;
	char small[XENSTORE_PAYLOAD_MAX + 1];
};

typedef int (*ed_xs_msg_cb)(const struct ed_xs_hdr *hdr, const char *payload, void *arg);

/* MAX: XENSTORE_PAYLOAD_MAX on the ring, ED_XS_SOCKET_PAYLOAD_MAX on the socket. */
void ed_xs_reader_init(struct ed_xs_reader *r, uint32_t max);
/* Frees a long message's buffer if one is held (a stream cut mid-message). */
void ed_xs_reader_fini(struct ed_xs_reader *r);
int ed_xs_reader_feed(struct ed_xs_reader *r, const void *data, size_t len, ed_xs_msg_cb cb,
                      void *arg);

/* The errno an XS_ERROR payload names ("EACCES"), as an EDERA_E* code; a
 * name xs_wire.h does not list gives EDERA_EPROTO. */
int ed_xs_error_code(const char *payload, size_t len);

/*
 * Split a payload of NUL-terminated strings.  Fills up to MAX pointers into
 * PAYLOAD (not copied) and *N with the count.  A payload whose last string
 * is unterminated, or that has more than MAX strings, is EDERA_EPROTO.  An
 * empty payload has zero strings.
 */
int ed_xs_split(const char *payload, size_t len, const char **items, size_t max, size_t *n);

/* Parse one permission string ("r5", "b0", "n12", "w3"). */
int ed_xs_parse_perm(const char *s, uint32_t *domid, uint32_t *perm);

/* Format a permission as "<c><domid>" into BUF (at least 12 bytes). */
int ed_xs_format_perm(char *buf, size_t size, uint32_t domid, uint32_t perm);

/* Parse a decimal unsigned 32-bit number that must fill the whole string. */
int ed_xs_parse_u32(const char *s, uint32_t *out);

#endif
