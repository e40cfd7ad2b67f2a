/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The asynchronous XenStore client: connection, request table, watches. */
#ifndef EDERA_XS_H
#define EDERA_XS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "edera/xenstore.h"
#include "list.h"
#include "wire.h"

struct ed_xs;
struct ed_xs_req;

/* How a request completes: STATUS < 0 (XS_ERROR, lost connection, bad
 * reply) or 0 with the reply's payload. */
typedef void (*ed_xs_complete_fn)(struct ed_xs *xs, struct ed_xs_req *req, int status,
                                  const char *payload, size_t len);

struct ed_xs_req {
	struct ed_xs_req *hnext;            /* hash chain by id */
	struct ed_link link;                /* on xs->pending, oldest first */
	uint32_t id;
	uint32_t type;
	ed_xs_complete_fn complete;
	void (*user_cb)(void);              /* the caller's callback, cast back by complete */
	void *data;
	char what[96];                      /* "read /path", for error messages */
};

/* One connection to xenstored; outlives a close until libuv is done with it. */
struct ed_xs_conn {
	uv_pipe_t pipe;
	struct ed_xs *xs; /* NULL once the connection is closed */
	struct ed_xs_reader reader;
	char rbuf[16384];
};

#define ED_XS_BUCKETS 256

struct ed_xs {
	edera_ctx *ctx;
	uv_loop_t *loop;
	struct ed_xs_conn *conn; /* NULL when disconnected */
	char where[128];         /* what we connected to, for messages */
	uint32_t next_id;
	struct ed_xs_req *buckets[ED_XS_BUCKETS];
	struct ed_list pending;   /* ed_xs_req, oldest first */
	size_t npending;
	struct ed_list watches;   /* edera_xs_watch, newest first */
	struct edera_xs_watch *wbuckets[ED_XS_BUCKETS]; /* by token number */
	uint64_t next_token;
	uv_idle_t *defer;        /* runs deferred transaction endings */
	struct ed_list deferred;  /* edera_xs_txn endings for the next turn */
	struct ed_list txns;      /* live asynchronous transactions (edera_xs_txn) */
	struct ed_list serial_wait;          /* the library's, waiting their turn */
	struct edera_xs_txn *serial_active;  /* the library's one running now */
	bool serial_kicking;                 /* starting the next ones (no recursion) */
	uint64_t protocol_errors; /* replies we could not use */
	uint64_t requests;        /* sent, ever */
	uint64_t watch_events;    /* received, ever */
	uint32_t nwatches;        /* registered now */
	bool closing;             /* the context is closing: no reconnects */
	unsigned int lost_seq;    /* counts connection losses */
	unsigned int conn_gen;    /* counts connections: xenstored's transaction
	                           * ids are per connection */
};

void ed_xs_init(struct ed_xs *xs, edera_ctx *ctx, uv_loop_t *loop);
/* Connect to $XENSTORED_PATH, /run/xenstored/socket, or /dev/xen/xenbus.
 * Returns 0, 1 if dropping the old connection let a callback reconnect
 * (that connection is kept), or an error. */
int ed_xs_connect(struct ed_xs *xs);
/* Use an already connected stream socket or device (tests use a socketpair). */
int ed_xs_connect_fd(struct ed_xs *xs, int fd, const char *what);
/* Drop the connection: pending requests fail with STATUS, watches hear it. */
void ed_xs_disconnect(struct ed_xs *xs, int status);
/* Tear down: pending requests fail with EDERA_ECANCELED; watches freed. */
void ed_xs_fini(struct ed_xs *xs);

/* edera_xs_transaction for the library's own transactions (zone skeletons,
 * device nodes, their teardown): they run one at a time per context, in the
 * order asked.  They all create or remove children of the same few nodes
 * (/local/domain, /vm, the backends' directories), so in flight together
 * every commit but one conflicted and ran again: N creations at once cost
 * N * N / 2 attempts, and past 64 conflicts creations failed.  One at a
 * time, each commits at its first attempt unless another process wrote
 * meanwhile. */
int ed_xs_transaction_serial(edera_ctx *ctx, edera_xs_txn_body_cb body, edera_xs_done_cb done,
                             void *data);

#endif
