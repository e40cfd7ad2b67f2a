/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the XenStore client's files (client, ops, watch, txn). */
#ifndef EDERA_XS_INTERNAL_H
#define EDERA_XS_INTERNAL_H

#include "xs.h"

struct edera_xs_watch {
	struct ed_link link;          /* on xs->watches */
	struct edera_xs_watch *hnext; /* the token index's chain */
	uint64_t id;                  /* the number in its token */
	struct ed_xs *xs;
	char *path;
	char token[32];
	edera_xs_watch_cb cb;
	void *data;
	bool refused; /* xenstored said no: not registered again on reconnect */
	unsigned int lost_seq; /* the last connection loss it was told about */
};

struct edera_xs_txn {
	struct ed_xs *xs;
	uint32_t id;            /* xenstored's transaction id, 0 before start */
	unsigned int conn_gen;  /* the connection the id belongs to */
	unsigned int attempt;   /* 1, 2, ... */
	bool ending;            /* commit or abort called for this attempt */
	bool committing;
	bool sync;
	int abort_status;
	edera_xs_txn_body_cb body;
	edera_xs_done_cb done;
	void *data;
	int end_status;           /* sync: result of the last END */
	bool end_done;            /* sync: END replied */
	struct ed_link dlink; /* on xs->deferred */
	struct ed_link link; /* on xs->txns: every live async txn */
	struct ed_link slink; /* on xs->serial_wait */
	bool serial;          /* one of the library's: one at a time */
	uv_timer_t *backoff;  /* waiting to start again after conflicts */
};

#define ED_XS_TXN_MAX_ATTEMPTS 64
/* The first ED_XS_TXN_BACKOFF_AFTER conflicts are retried at once; after
 * each later one, a random wait of 1 ms up to 2, 4, ... at most
 * ED_XS_TXN_BACKOFF_MAX_MS ms comes first (ed_xs_txn_backoff_ms), so that
 * transactions conflicting with one another stop meeting. */
#define ED_XS_TXN_BACKOFF_AFTER 2
#define ED_XS_TXN_BACKOFF_MAX_MS 64
unsigned int ed_xs_txn_backoff_ms(unsigned int attempt);

/* Send a request; COMPLETE runs once with the reply or the failure.
 * *OUT (optional) gets the request, valid until it completes. */
int ed_xs_send(struct ed_xs *xs, uint32_t type, uint32_t tx_id, const struct ed_xs_part *parts,
               size_t nparts, ed_xs_complete_fn complete, void (*user_cb)(void), void *data,
               struct ed_xs_req **out);

/* The transaction id to put on a request (0 outside transactions); fails if
 * TXN is not usable now. */
int ed_xs_txn_id(struct ed_xs *xs, edera_xs_txn *txn, uint32_t *id);

/* The watch a token names (an event's), or NULL: O(1), whatever the number
 * of watches. */
struct edera_xs_watch *ed_xs_watch_find(struct ed_xs *xs, const char *token);
void ed_xs_watches_lost(struct ed_xs *xs, int status);
int ed_xs_watches_restore(struct ed_xs *xs);
void ed_xs_watches_free(struct ed_xs *xs);
void ed_xs_txn_fini(struct ed_xs *xs);

#endif
