/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire.h"

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '/' || c == '-' || c == '_' || c == '@';
}

int ed_xs_check_path(const char *path, size_t len, bool special)
{
	size_t max;

	if (!path || len == 0)
		return ed_error(EDERA_EINVAL, "XenStore path is empty");
	if (memchr(path, '\0', len))
		return ed_error(EDERA_EINVAL, "XenStore path has an embedded NUL at byte %zu",
		                (size_t)((const char *)memchr(path, '\0', len) - path));
	if (path[0] == '@') {
		if (special && ((len == 14 && memcmp(path, "@releaseDomain", 14) == 0) ||
		                (len == 16 && memcmp(path, "@introduceDomain", 16) == 0)))
			return 0;
		return ed_error(EDERA_EINVAL,
		                "XenStore path '%.64s' starts with '@': only the watch paths "
		                "@releaseDomain and @introduceDomain may",
		                path);
	}
	max = path[0] == '/' ? XENSTORE_ABS_PATH_MAX : XENSTORE_REL_PATH_MAX;
	if (len > max)
		return ed_error(EDERA_EINVAL, "XenStore path is %zu bytes; the limit is %zu (%s path)",
		                len, max, path[0] == '/' ? "absolute" : "relative");
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(path[i]))
			return ed_error(EDERA_EINVAL,
			                "XenStore path '%.64s': byte %zu (0x%02x) is not allowed "
			                "(letters, digits and -/_@ only)",
			                path, i, (unsigned char)path[i]);
		if (path[i] == '/' && i + 1 < len && path[i + 1] == '/')
			return ed_error(EDERA_EINVAL, "XenStore path '%.64s' has an empty component",
			                path);
	}
	if (len > 1 && path[len - 1] == '/')
		return ed_error(EDERA_EINVAL, "XenStore path '%.64s' ends with '/'", path);
	return 0;
}

int ed_xs_encode(uint32_t type, uint32_t req_id, uint32_t tx_id, const struct ed_xs_part *parts,
                 size_t nparts, char **out, size_t *out_len)
{
	size_t len = 0;
	uint32_t hdr[4];
	char *buf, *p;

	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].len > XENSTORE_PAYLOAD_MAX || len + parts[i].len > XENSTORE_PAYLOAD_MAX)
			return ed_error(EDERA_EINVAL,
			                "XenStore request is larger than the protocol's %u-byte limit",
			                XENSTORE_PAYLOAD_MAX);
		len += parts[i].len;
	}
	buf = malloc(ED_XS_HDR_LEN + len);
	if (!buf)
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore request");
	/* Xen's wire format is the host's byte order (both ends share a machine). */
	hdr[0] = type;
	hdr[1] = req_id;
	hdr[2] = tx_id;
	hdr[3] = (uint32_t)len;
	memcpy(buf, hdr, ED_XS_HDR_LEN);
	p = buf + ED_XS_HDR_LEN;
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].len)
			memcpy(p, parts[i].data, parts[i].len);
		p += parts[i].len;
	}
	*out = buf;
	*out_len = ED_XS_HDR_LEN + len;
	return 0;
}

void ed_xs_reader_init(struct ed_xs_reader *r, uint32_t max)
{
	r->have = 0;
	r->max = max;
	r->payload = r->small;
	r->big = NULL;
	r->failed = false;
}

void ed_xs_reader_fini(struct ed_xs_reader *r)
{
	free(r->big);
	r->big = NULL;
	r->payload = r->small;
}

/* Where the current message's payload goes, once its header is known. */
static int reader_place(struct ed_xs_reader *r)
{
	if (r->cur.len > r->max) {
		r->failed = true;
		return ed_error(EDERA_EPROTO, "xenstored sent a message of %u bytes (limit %u)",
		                r->cur.len, r->max);
	}
	r->payload = r->small;
	if (r->cur.len <= XENSTORE_PAYLOAD_MAX)
		return 0;
	r->big = malloc((size_t)r->cur.len + 1);
	if (!r->big) {
		r->failed = true;
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore reply of %u bytes",
		                r->cur.len);
	}
	r->payload = r->big;
	return 0;
}

int ed_xs_reader_feed(struct ed_xs_reader *r, const void *data, size_t len, ed_xs_msg_cb cb,
                      void *arg)
{
	const unsigned char *p = data;
	int rc;

	if (r->failed)
		return EDERA_EPROTO;
	while (len > 0) {
		size_t take;

		if (r->have < ED_XS_HDR_LEN) {
			take = ED_XS_HDR_LEN - r->have;
			if (take > len)
				take = len;
			memcpy(r->hdr + r->have, p, take);
			r->have += take;
			p += take;
			len -= take;
			if (r->have < ED_XS_HDR_LEN)
				break;
			memcpy(&r->cur, r->hdr, ED_XS_HDR_LEN);
			rc = reader_place(r);
			if (rc < 0)
				return rc;
		}
		take = ED_XS_HDR_LEN + (size_t)r->cur.len - r->have;
		if (take > len)
			take = len;
		memcpy(r->payload + (r->have - ED_XS_HDR_LEN), p, take);
		r->have += take;
		p += take;
		len -= take;
		if (r->have == ED_XS_HDR_LEN + (size_t)r->cur.len) {
			char *big = r->big;

			r->payload[r->cur.len] = '\0';
			r->have = 0;
			/* the callback may feed no more; a long buffer is this
			 * message's alone */
			r->big = NULL;
			rc = cb(&r->cur, r->payload, arg);
			free(big);
			r->payload = r->small;
			if (rc)
				return rc;
		}
	}
	return 0;
}

int ed_xs_error_code(const char *payload, size_t len)
{
	/* The payload is the name, normally with its NUL. */
	size_t n = strnlen(payload, len);

	for (size_t i = 0; i < ED_ARRAY_SIZE(xsd_errors); i++) {
		if (strlen(xsd_errors[i].errstring) == n &&
		    memcmp(xsd_errors[i].errstring, payload, n) == 0) {
			switch (xsd_errors[i].errnum) {
			case EISDIR:
			case ENOTEMPTY:
			case EISCONN:
			case E2BIG:
				/* No EDERA_ code of their own: nearest meaning. */
				return xsd_errors[i].errnum == E2BIG ? EDERA_ERANGE
				     : xsd_errors[i].errnum == EISCONN ? EDERA_EEXIST
				                                       : EDERA_EBUSY;
			case EROFS:
				return EDERA_EACCES;
			default:
				return ed_errno_code(xsd_errors[i].errnum);
			}
		}
	}
	/* oxenstored's own name for a quota reached (its per-domain limits on
	 * nodes, watches, transactions); the C daemon says ENOSPC. */
	if (n == 6 && memcmp(payload, "EQUOTA", 6) == 0)
		return EDERA_ENOSPC;
	return EDERA_EPROTO;
}

int ed_xs_split(const char *payload, size_t len, const char **items, size_t max, size_t *n)
{
	size_t count = 0, i = 0;

	*n = 0;
	if (len == 0)
		return 0;
	if (payload[len - 1] != '\0')
		return ed_error(EDERA_EPROTO, "xenstored sent an unterminated string list");
	while (i < len) {
		if (count == max)
			return ed_error(EDERA_EPROTO, "xenstored sent more than %zu strings", max);
		items[count++] = payload + i;
		i += strlen(payload + i) + 1;
	}
	*n = count;
	return 0;
}

int ed_xs_parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (!*s)
		return EDERA_EPROTO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return EDERA_EPROTO;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT32_MAX)
			return EDERA_EPROTO;
	}
	*out = (uint32_t)v;
	return 0;
}

int ed_xs_parse_perm(const char *s, uint32_t *domid, uint32_t *perm)
{
	switch (s[0]) {
	case 'n': *perm = EDERA_XS_PERM_NONE; break;
	case 'r': *perm = EDERA_XS_PERM_READ; break;
	case 'w': *perm = EDERA_XS_PERM_WRITE; break;
	case 'b': *perm = EDERA_XS_PERM_BOTH; break;
	default:
		return ed_error(EDERA_EPROTO, "bad XenStore permission '%.16s'", s);
	}
	if (ed_xs_parse_u32(s + 1, domid) < 0 || *domid > 0xffff)
		return ed_error(EDERA_EPROTO, "bad domain id in XenStore permission '%.16s'", s);
	return 0;
}

int ed_xs_format_perm(char *buf, size_t size, uint32_t domid, uint32_t perm)
{
	static const char letters[] = "nrwb";

	if (perm > EDERA_XS_PERM_BOTH)
		return ed_error(EDERA_EINVAL, "permission %u is not an EDERA_XS_PERM_* value", perm);
	if (domid > 0xffff)
		return ed_error(EDERA_EINVAL, "domain id %u is out of range", domid);
	snprintf(buf, size, "%c%u", letters[perm], domid);
	return 0;
}
