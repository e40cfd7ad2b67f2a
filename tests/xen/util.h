/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef EDERA_XEN_UTIL_H
#define EDERA_XEN_UTIL_H

#include <check.h>
#include <edera/edera.h>
#include <uv.h>

/* An environment variable xen-tests.sh sets (the test fails without it). */
const char *env(const char *var);
/* The rig's Debian kernel, for Linux guests. */
const char *linux_kernel(void);
/* Domains Xen knows (dom0 included), from xl. */
int xl_domains(void);
/* Zones an earlier test left behind (it failed half-way, its process
 * gone): taken over and destroyed, so that a test counting what re-attach
 * finds counts only its own.  Says so when there were any. */
void sweep_leftovers(void);
/* Records of creations under way (or of ones a crash cut short): the
 * files in RECORDS_DIR, and any in XenStore where libedera 0.1 kept
 * them. */
#define RECORDS_DIR "/run/edera/creating"
#define RECORDS_XS "/local/domain/0/edera/creating"
size_t creation_records(edera_ctx *ctx);
/* Whether the XenStore node PATH exists. */
int xs_exists(edera_ctx *ctx, const char *path);
double now(void);
/* Run the loop (waking at least every 20 ms) until PRED(ARG) holds or
 * SECONDS pass; returns PRED(ARG). */
int run_pred(edera_ctx *ctx, int (*pred)(void *), void *arg, double seconds);
/* Run the loop until *FLAG is non-zero or SECONDS pass; returns *FLAG. */
int run_until(edera_ctx *ctx, const int *flag, double seconds);
/* A minimal-kernel zone (16 MiB), created synchronously. */
edera_zone *mini(edera_ctx *ctx, const char *name, const char *cmdline, uint32_t history_kib);

/* Console output collected by a subscriber (collect), searchable as text. */
struct text {
	char buf[64 * 1024];
	size_t len;
	int calls;
	const char *want; /* sets found when it appears */
	int found;
};
void collect(edera_ctx *ctx, edera_zone *zone, const char *bytes, size_t len, void *data);
/* An exit callback setting the int DATA points to. */
void on_exit_flag(edera_ctx *ctx, edera_zone *zone, int reason, void *data);

#endif
