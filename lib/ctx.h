/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_CTX_INTERNAL_H
#define EDERA_CTX_INTERNAL_H

#include <uv.h>

#include "hv/hv.h"
#include "internal.h"

struct edera_ctx {
	uv_loop_t *loop;
	uv_loop_t own_loop; /* used when the caller gave no loop */
	bool owns_loop;
	struct ed_hv hv;
};

#endif
