/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A zone's console as one of its parts (see zone/part.h): made before the
 * domain is built when the configuration asks the library to serve it,
 * connected while the domain is still paused (so not a byte is missed),
 * drained when the zone exits (its last output reaches subscribers before
 * the exit event), and freed with the handle.  Re-attach serves the
 * console of a zone it adopts, if the library served it before. */
#include "config.h"

#include "console.h"
#include "ctx.h"
#include "log.h"
#include "zone/part.h"
#include "zone/zone.h"

static int console_prepare(edera_zone *z, const edera_zone_config *c)
{
	int rc;

	if (c->console_mode != EDERA_CONSOLE_LIBRARY)
		return 0;
	z->served_console = true;
	rc = ed_console_new(z->ctx, z, (size_t)c->console_history_kib * 1024, &z->console);
	if (rc == 0 && c->console_log_max_kib)
		ed_console_log_max(z->console, (uint64_t)c->console_log_max_kib * 1024);
	if (rc == 0 && c->console_log)
		rc = edera_console_log(z, c->console_log);
	return rc;
}

/* The ring mapped and its channel bound before the domain is introduced:
 * a few hypercalls, done while xenstored writes the zone's nodes instead
 * of after (console_attach then finds it connected; a failure here is
 * tried again and reported there). */
static void console_built(edera_zone *z)
{
	struct ed_err err;

	if (!z->console)
		return;
	ed_error_save(&err);
	(void)ed_console_connect(z->console, z->domid, z->res.cons_mfn, z->res.cons_evtchn);
	ed_error_restore(&err);
}

static int console_attach(edera_zone *z, struct ed_gather *g)
{
	if (!z->console)
		return 0;
	return ed_console_connect(z->console, z->domid, z->res.cons_mfn, z->res.cons_evtchn);
}

static int console_adopt(edera_zone *z)
{
	if (!z->served_console)
		return 0;
	return ed_console_new(z->ctx, z, EDERA_CONSOLE_HISTORY_DEFAULT_KIB * 1024, &z->console);
}

static void console_stopped(edera_zone *z, bool drain)
{
	ed_console_disconnect(z->console, drain);
}

static void console_forget(edera_zone *z)
{
	/* its ports and loop handles go with the context */
	ed_console_disconnect(z->console, false);
}

static void console_free(edera_zone *z)
{
	ed_console_free(z->console);
	z->console = NULL;
}

static void console_ctx_free(edera_ctx *ctx)
{
	/* the logs' writer, once every console has handed it its last bytes */
	ed_logw_fini(ctx->logw);
	ctx->logw = NULL;
}

const struct ed_zone_part ed_console_part = {
	.name = "console",
	.prepare = console_prepare,
	.built = console_built,
	.attach = console_attach,
	.adopt = console_adopt,
	.stopped = console_stopped,
	.forget = console_forget,
	.free = console_free,
	.ctx_close = ed_consoles_fini,
	.ctx_free = console_ctx_free,
};
