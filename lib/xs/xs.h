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
	struct ed_xs_conn *conn;            /* the connection it went or goes on */
	bool ordered;                       /* not a read: see ed_xs_send */
	char what[96];                      /* "read /path", for error messages */
};

/* One connection to xenstored; outlives a close until libuv is done with it. */
struct ed_xs_conn {
	uv_pipe_t pipe;
	struct ed_xs *xs; /* NULL once the connection is closed */
	struct ed_xs_reader reader;
	unsigned int lane;  /* 0: the main connection; 1...: a read lane */
	size_t inflight;    /* requests written on it, not yet answered */
	bool stream;        /* a socket: one write may carry several messages
	                     * (not the xenbus device: it takes one per write) */
	bool uv_writing;    /* new messages queue (in wq) behind a uv_write not
	                     * completed yet, */
	bool sent_now;      /* or until the loop's next turn (ed_xs.flush) */
	char *wq;           /* messages sent meanwhile, in order: one write */
	size_t wq_len, wq_cap;
	char rbuf[16384];
};

#define ED_XS_BUCKETS 256

/* Read lanes.  xenstored (C) handles one request per connection per turn
 * of its main loop, so reads pipelined on one connection wait a turn each;
 * spread over several connections, one turn handles several.  Reads outside
 * transactions, with no write (or other ordered request) of this client in
 * flight, may go on up to ED_XS_LANES_MAX - 1 extra connections to the
 * same socket, opened when every connection already has ED_XS_LANE_DEPTH
 * reads in flight and closed ED_XS_LANE_IDLE_MS after their last reply.
 * An ordered request waits until the lanes' reads are answered, so this
 * client's requests still take effect in the order it sent them.
 * EDERA_XS_CONNECTIONS=1 turns lanes off (tests, benchmarks). */
#define ED_XS_LANES_MAX 8
#define ED_XS_LANE_DEPTH 8
#define ED_XS_LANE_IDLE_MS 2000

struct ed_xs {
	edera_ctx *ctx;
	uv_loop_t *loop;
	struct ed_xs_conn *conn; /* NULL when disconnected */
	char where[128];         /* what we connected to, for messages */
	char lane_path[108];     /* the socket lanes connect to; "" for none */
	unsigned int lanes_max;  /* connections in all, lanes included */
	struct ed_xs_conn *lanes[ED_XS_LANES_MAX - 1];
	unsigned int nlanes;
	bool lane_busy;          /* a lane failed to open: not again before a reply */
	size_t lane_inflight;    /* requests in flight on the lanes */
	size_t ordered;          /* ordered requests sent or held, not answered */
	struct ed_list held;     /* ordered ones waiting for the lanes to drain */
	uv_timer_t *lane_idle;   /* closes the lanes once they are idle */
	uv_idle_t *lane_kick;    /* one loop turn after a lane opens */
	uv_idle_t *flush;        /* writes the queues of connections sent_now */
	int group_lane;          /* >= 0: requests go on that connection (0:
	                          * the main one), unordered (ed_xs_group_lane) */
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

/* The library's own unordered writes (a new zone's nodes): until called
 * again with -1, requests outside transactions go on lane LANE (modulo the
 * connections available; lanes are opened as needed), in order on that
 * lane but in no order against requests on others, nor against anything
 * sent before or after them (the caller waits for their replies before
 * relying on them; a request of another kind sent later that is not a
 * read still waits for them, as for the lanes' reads). */
void ed_xs_group_lane(struct ed_xs *xs, int lane);

/* edera_xs_transaction for the library's own transactions (devices' nodes,
 * zones' teardown): they run one at a time per context, in the
 * order asked.  They all create or remove children of the same few nodes
 * (/local/domain, /vm, the backends' directories), so in flight together
 * every commit but one conflicted and ran again: N creations at once cost
 * N * N / 2 attempts, and past 64 conflicts creations failed.  One at a
 * time, each commits at its first attempt unless another process wrote
 * meanwhile. */
int ed_xs_transaction_serial(edera_ctx *ctx, edera_xs_txn_body_cb body, edera_xs_done_cb done,
                             void *data);

#endif
