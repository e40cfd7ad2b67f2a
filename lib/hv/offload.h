/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blocking hypercalls run on libuv's threadpool so the loop never stalls. */
#ifndef EDERA_OFFLOAD_H
#define EDERA_OFFLOAD_H

#include "edera/ctx.h"

/* Runs on a pool thread: may block, must not touch the loop.  Returns 0 or
 * an EDERA_E* code (with ed_error's message, carried back to the loop). */
typedef int (*ed_work_fn)(void *arg);
/* Runs on the loop thread with WORK's result (EDERA_ECANCELED if the work
 * never ran because the context closed first).  Always runs exactly once. */
typedef void (*ed_after_fn)(edera_ctx *ctx, int status, void *arg);

int ed_offload(edera_ctx *ctx, ed_work_fn work, ed_after_fn after, void *arg);

#endif
