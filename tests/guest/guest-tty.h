/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the guest test programs that talk over the zone's console share:
 * raw mode (bytes pass unchanged, input is not echoed) and writing all of a
 * buffer to stdout. */
#ifndef EDERA_GUEST_TTY_H
#define EDERA_GUEST_TTY_H

#include <errno.h>
#include <stddef.h>
#include <termios.h>
#include <unistd.h>

static inline void raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
}

/* All N bytes to stdout: 0, or -1 if it fails. */
static inline int put(const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(1, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

#endif
