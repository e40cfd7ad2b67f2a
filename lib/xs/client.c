/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XenStore connection: sending requests, matching replies by request id,
 * dispatching watch events, and failing everything cleanly when xenstored
 * goes away. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctx.h"
#include "xs_internal.h"

#define DEFAULT_SOCKET "/run/xenstored/socket"
#define XENBUS_DEVICE "/dev/xen/xenbus"

void ed_xs_init(struct ed_xs *xs, edera_ctx *ctx, uv_loop_t *loop)
{
	memset(xs, 0, sizeof(*xs));
	xs->ctx = ctx;
	xs->loop = loop;
	xs->next_id = 1;
	xs->next_token = 1;
	xs->group_lane = -1;
}

/* ---- the request table ---------------------------------------------------- */

static struct ed_xs_req **bucket(struct ed_xs *xs, uint32_t id)
{
	return &xs->buckets[id % ED_XS_BUCKETS];
}

static struct ed_xs_req *find_req(struct ed_xs *xs, uint32_t id)
{
	for (struct ed_xs_req *r = *bucket(xs, id); r; r = r->hnext)
		if (r->id == id)
			return r;
	return NULL;
}

static void unlink_req(struct ed_xs *xs, struct ed_xs_req *req)
{
	struct ed_xs_req **pp = bucket(xs, req->id);

	while (*pp != req)
		pp = &(*pp)->hnext;
	*pp = req->hnext;
	ed_list_remove(&xs->pending, &req->link);
	xs->npending--;
}

static uint32_t new_id(struct ed_xs *xs)
{
	/* 0 is what watch events carry; skip ids still in flight after a wrap. */
	for (;;) {
		uint32_t id = xs->next_id++;
		if (id != 0 && !find_req(xs, id))
			return id;
	}
}

/* ---- sending -------------------------------------------------------------- */

struct out_msg {
	uv_write_t wr;
	struct ed_link link; /* on xs->held while it waits */
	size_t len;
	char *buf;
};

static int write_queued(struct ed_xs_conn *conn);
static void write_cb(uv_write_t *wr, int status);

/* uv_write, with SIGPIPE kept from the process.  libuv writes with
 * write(2), which on a socket whose other end closed (xenstored gone)
 * raises SIGPIPE, whose default action ends the process: the write runs
 * with it blocked in this thread, and one it raised is taken back (one
 * already pending is left), so a C embedder that keeps the default action
 * sees the connection fail instead of dying.  Of a socket's writes, only
 * what send_out's send(2) could not write comes here (the xenbus device's
 * all do, unguarded).  (What libuv writes later from the loop, of a write
 * the socket took only part of, runs outside this: a process that can see
 * xenstored go while it holds back megabytes of requests should ignore
 * SIGPIPE, as Python and Go do.) */
static int write_nosigpipe(uv_write_t *wr, struct ed_xs_conn *conn, uv_buf_t *b)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pipe_only, old, pending;
	bool was_pending;
	int rc;

	if (!conn->stream) /* (the xenbus device raises no SIGPIPE) */
		return uv_write(wr, (uv_stream_t *)&conn->pipe, b, 1, write_cb);
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	/* (one pending now was blocked here before: had this thread taken
	 * it, it would have been delivered already) */
	was_pending = sigismember(&old, SIGPIPE) && sigpending(&pending) == 0 &&
	              sigismember(&pending, SIGPIPE);
	rc = uv_write(wr, (uv_stream_t *)&conn->pipe, b, 1, write_cb);
	if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void write_cb(uv_write_t *wr, int status)
{
	struct out_msg *m = ed_container_of(wr, struct out_msg, wr);
	struct ed_xs_conn *conn = wr->data;

	free(m->buf);
	free(m);
	conn->uv_writing = false;
	/* A failed write means the connection is broken; reading will say so
	 * too, but do not wait for it. */
	if (status < 0 && status != UV_ECANCELED && conn->xs) {
		ed_xs_disconnect(conn->xs, EDERA_ECONNRESET);
		return;
	}
	/* what was sent while that write was under way (a closed
	 * connection's queue was written as the context closed, or dropped
	 * with a xenstored that hung up) */
	if (conn->xs && (status = write_queued(conn)) < 0)
		ed_xs_disconnect(conn->xs, status == UV_ENOMEM ? EDERA_ENOMEM : EDERA_ECONNRESET);
}

static void flush_cb(uv_idle_t *h)
{
	struct ed_xs *xs = h->data;
	bool again = false;
	int rc;

	for (unsigned int i = 0; i <= xs->nlanes; i++) {
		struct ed_xs_conn *c = i ? xs->lanes[i - 1] : xs->conn;

		if (!c || !c->sent_now)
			continue;
		c->sent_now = false;
		if ((rc = write_queued(c)) < 0) {
			ed_xs_disconnect(xs, rc == UV_ENOMEM ? EDERA_ENOMEM : EDERA_ECONNRESET);
			return; /* (the next turn stops the handle) */
		}
		again = again || c->sent_now;
	}
	if (!again)
		uv_idle_stop(h);
}

/* The queues of connections written to directly go out on the loop's next
 * turn (an active idle handle: uv_backend_timeout says 0, so an embedder
 * polling uv_backend_fd runs the loop at once).  False if no handle could
 * be had: nothing is then queued (each message is written as it comes). */
static bool flush_soon(struct ed_xs *xs)
{
	if (!xs->flush) {
		if (!(xs->flush = malloc(sizeof(*xs->flush))))
			return false;
		if (uv_idle_init(xs->loop, xs->flush) < 0) {
			free(xs->flush);
			xs->flush = NULL;
			return false;
		}
		xs->flush->data = xs;
	}
	uv_idle_start(xs->flush, flush_cb);
	return true;
}

/* Write M on CONN now (taken on success; on failure the caller still owns
 * it).  On a socket with no libuv write under way, send(2) with
 * MSG_NOSIGNAL: a xenstored that hung up is an error, never a SIGPIPE, and
 * no signal mask changes around it (three more system calls a write, each
 * costly under paravirtualization, as write_nosigpipe does).  What the
 * socket did not take now goes through uv_write, behind which later
 * messages queue until it completes; a message the socket took whole lets
 * later ones queue until the loop's next turn, to go in one write. */
static int send_out(struct ed_xs_conn *conn, struct out_msg *m)
{
	size_t off = 0;
	uv_os_fd_t fd = -1;
	uv_buf_t b;
	int rc;

	m->wr.data = conn;
	if (conn->stream && !conn->uv_writing && uv_fileno((uv_handle_t *)&conn->pipe, &fd) == 0) {
		while (off < m->len) {
			ssize_t n = send(fd, m->buf + off, m->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n >= 0)
				off += (size_t)n;
			else if (errno != EINTR)
				break; /* full, or an error uv_write meets again (and reports
				        * as it did before: through the request's callback) */
		}
		if (off == m->len) {
			free(m->buf);
			free(m);
			conn->sent_now = conn->xs && flush_soon(conn->xs);
			return 0;
		}
	}
	b = uv_buf_init(m->buf + off, (unsigned int)(m->len - off));
	rc = write_nosigpipe(&m->wr, conn, &b);
	if (rc < 0 && off > 0) {
		/* part of M is on the stream, and nothing may follow it: the
		 * connection ends (its reading sees it, and fails what is in
		 * flight, M among them) instead of this one request.  (libuv
		 * refuses a write only on a stream being closed.) */
		shutdown(fd, SHUT_RDWR);
		free(m->buf);
		free(m);
		return 0;
	}
	if (rc < 0)
		return rc;
	conn->uv_writing = conn->stream;
	return 0;
}

/* What CONN queued behind a write (or a send the loop has not turned
 * since), in one write (0: done, or nothing was queued; the queue is kept
 * only if no memory was left). */
static int write_queued(struct ed_xs_conn *conn)
{
	struct out_msg *m;
	int rc;

	if (conn->wq_len == 0)
		return 0;
	if (!(m = calloc(1, sizeof(*m))))
		return UV_ENOMEM;
	m->buf = conn->wq;
	m->len = conn->wq_len;
	conn->wq = NULL;
	conn->wq_len = conn->wq_cap = 0;
	rc = send_out(conn, m);
	if (rc < 0) {
		free(m->buf);
		free(m);
	}
	return rc;
}

static int write_now(struct ed_xs *xs, struct ed_xs_conn *conn, struct out_msg *m)
{
	int rc = send_out(conn, m);

	if (rc < 0)
		return ed_error(EDERA_ECONNRESET, "writing to xenstored (%s): %s", xs->where,
		                uv_strerror(rc));
	return 0;
}

/* Send M on CONN (taken on success).  On a socket, messages sent after
 * one that went out at once wait, with any others, for the loop's next
 * turn (or for the uv_write of what the socket did not take to complete),
 * and they go in one write: a thousand reads sent at once cost a few
 * system calls, not a thousand, and xenstored (sharing dom0's CPUs) gets
 * the time.  Both are due at once for libuv (uv_backend_timeout says 0),
 * so a loop run from its backend descriptor, as the Python bindings do,
 * does not leave them waiting. */
static int write_msg(struct ed_xs *xs, struct ed_xs_conn *conn, struct out_msg *m)
{
	if (!conn->uv_writing && !conn->sent_now)
		return write_now(xs, conn, m);
	if (m->len > conn->wq_cap - conn->wq_len) {
		size_t cap = conn->wq_cap ? conn->wq_cap : 4096;
		char *p;

		while (cap - conn->wq_len < m->len)
			cap *= 2;
		p = realloc(conn->wq, cap);
		if (!p)
			return ed_error(EDERA_ENOMEM, "out of memory for a XenStore request");
		conn->wq = p;
		conn->wq_cap = cap;
	}
	memcpy(conn->wq + conn->wq_len, m->buf, m->len);
	conn->wq_len += m->len;
	free(m->buf);
	free(m);
	return 0;
}

static bool read_only(uint32_t type)
{
	return type == XS_READ || type == XS_DIRECTORY || type == XS_DIRECTORY_PART ||
	       type == XS_GET_PERMS;
}

static int conn_open(struct ed_xs *xs, int fd, const char *what, unsigned int lane,
                     struct ed_xs_conn **out);
static int connect_socket(const char *path, int timeout_ms, int *fd_out);

/* How long opening a lane may wait for xenstored to take the connection:
 * the C xenstored listens with a backlog of one and accepts one connection
 * per turn of its loop, so a third connection asked at once waits for a
 * turn, on the loop's thread.  A xenstored that does not accept must not
 * hang the loop: past this, the lanes open so far are used. */
#define ED_XS_LANE_CONNECT_MS 100

/* Open one more lane; false if it could not be (tried again once a reply
 * came, that is once xenstored turned). */
static bool lane_open(struct ed_xs *xs)
{
	int fd;

	if (xs->lane_busy || xs->nlanes + 1 >= xs->lanes_max)
		return false;
	if (connect_socket(xs->lane_path, ED_XS_LANE_CONNECT_MS, &fd) < 0 ||
	    conn_open(xs, fd, xs->lane_path, xs->nlanes + 1, &xs->lanes[xs->nlanes]) < 0) {
		xs->lane_busy = true;
		return false;
	}
	xs->nlanes++;
	return true;
}

/* The connection with the fewest reads in flight; a new lane when all have
 * ED_XS_LANE_DEPTH and another can be opened. */
static struct ed_xs_conn *pick_lane(struct ed_xs *xs)
{
	struct ed_xs_conn *best = xs->conn;

	for (unsigned int i = 0; i < xs->nlanes; i++)
		if (xs->lanes[i]->inflight < best->inflight)
			best = xs->lanes[i];
	if (best->inflight < ED_XS_LANE_DEPTH || !lane_open(xs))
		return best;
	return xs->lanes[xs->nlanes - 1];
}

void ed_xs_group_lane(struct ed_xs *xs, int lane)
{
	unsigned int want;

	if (lane < 0 || !xs->conn || !xs->lane_path[0] || xs->lanes_max < 2) {
		xs->group_lane = lane < 0 ? -1 : 0;
		return;
	}
	/* the connection is chosen here, once: a node's write and its
	 * permissions must go on the same one */
	want = (unsigned int)lane % xs->lanes_max;
	while (xs->nlanes < want && lane_open(xs))
		;
	xs->group_lane = (int)(want <= xs->nlanes ? want : want % (xs->nlanes + 1));
}

/* The ordered requests held behind the lanes' reads, written on CONN in
 * the order they were asked; at the first that cannot be, its error (it
 * is freed, the rest stay held: no gap). */
static int write_held(struct ed_xs *xs, struct ed_xs_conn *conn)
{
	while (!ed_list_empty(&xs->held)) {
		struct out_msg *m = ed_list_first(&xs->held, struct out_msg, link);
		int rc;

		ed_list_remove(&xs->held, &m->link);
		if ((rc = write_msg(xs, conn, m)) < 0) {
			free(m->buf);
			free(m);
			return rc;
		}
	}
	return 0;
}

/* The lanes' reads are all answered: what was held goes out on the main
 * connection. */
static void flush_held(struct ed_xs *xs)
{
	if (xs->conn && write_held(xs, xs->conn) < 0)
		ed_xs_disconnect(xs, EDERA_ECONNRESET);
}

int ed_xs_send(struct ed_xs *xs, uint32_t type, uint32_t tx_id, const struct ed_xs_part *parts,
               size_t nparts, ed_xs_complete_fn complete, void (*user_cb)(void), void *data,
               struct ed_xs_req **out)
{
	struct ed_xs_req *req;
	struct ed_xs_conn *conn = NULL;
	struct out_msg *m;
	int rc;

	if (!xs->conn)
		return ed_error(EDERA_ENOTCONN,
		                "not connected to xenstored (connection lost; call edera_xs_reconnect)");
	req = calloc(1, sizeof(*req));
	m = calloc(1, sizeof(*m));
	if (!req || !m) {
		free(req);
		free(m);
		return ed_error(EDERA_ENOMEM, "out of memory for a XenStore request");
	}
	req->id = new_id(xs);
	req->type = type;
	rc = ed_xs_encode(type, req->id, tx_id, parts, nparts, &m->buf, &m->len);
	if (rc < 0) {
		free(req);
		free(m);
		return rc;
	}
	/* Everything after a held request is held too; a request that is not
	 * a read waits for the lanes' reads; a read goes on a lane only when
	 * nothing ordered is in flight (it would overtake it). */
	req->ordered = !read_only(type);
	if (xs->group_lane >= 0 && tx_id == 0)
		conn = xs->group_lane && (unsigned int)xs->group_lane <= xs->nlanes
		               ? xs->lanes[xs->group_lane - 1]
		               : xs->conn;
	else if (ed_list_empty(&xs->held) && !(req->ordered && xs->lane_inflight > 0))
		conn = !req->ordered && tx_id == 0 && xs->ordered == 0 && xs->lane_path[0]
		               ? pick_lane(xs)
		               : xs->conn;
	if (conn) {
		rc = write_msg(xs, conn, m);
		if (rc < 0) {
			free(m->buf);
			free(m);
			free(req);
			return rc;
		}
		conn->inflight++;
		if (conn->lane)
			xs->lane_inflight++;
	} else {
		ed_list_push_back(&xs->held, &m->link);
		conn = xs->conn;
		conn->inflight++;
	}
	if (req->ordered)
		xs->ordered++;
	req->conn = conn;
	req->complete = complete;
	req->user_cb = user_cb;
	req->data = data;
	req->hnext = *bucket(xs, req->id);
	*bucket(xs, req->id) = req;
	ed_list_push_back(&xs->pending, &req->link);
	xs->npending++;
	xs->requests++;
	if (out)
		*out = req;
	return 0;
}

/* ---- receiving ------------------------------------------------------------ */

static void dispatch_watch_event(struct ed_xs *xs, const char *payload, size_t len)
{
	const char *items[2];
	size_t n;

	xs->watch_events++;
	/* path\0token\0; an event for a watch already removed is normal. */
	if (ed_xs_split(payload, len, items, 2, &n) < 0 || n != 2) {
		xs->protocol_errors++;
		return;
	}
	{
		struct edera_xs_watch *w = ed_xs_watch_find(xs, items[1]);

		if (w)
			ED_CALLBACK(xs->ctx, w->cb(xs->ctx, 0, items[0], w->data));
	}
}

static void conn_close_cb(uv_handle_t *h);

/* Close CONN.  FLUSH (the context closing, xenstored still there): what
 * it queued behind a write goes out first, as far as the socket takes it
 * now (a request sent just before the context closes, with nothing to run
 * the loop after, still reaches xenstored, as it would have without the
 * queue).  Not to a xenstored that hung up: a write there is pointless. */
static void conn_close(struct ed_xs_conn *conn, bool flush)
{
	conn->xs = NULL;
	if (flush)
		(void)write_queued(conn); /* (libuv writes what the socket takes now) */
	uv_close((uv_handle_t *)&conn->pipe, conn_close_cb);
}

static bool conn_current(const struct ed_xs_conn *conn)
{
	const struct ed_xs *xs = conn->xs;

	return xs && (conn->lane ? xs->lanes[conn->lane - 1] == conn : xs->conn == conn);
}

static void lanes_close(struct ed_xs *xs, bool flush)
{
	for (unsigned int i = 0; i < xs->nlanes; i++) {
		struct ed_xs_conn *c = xs->lanes[i];

		xs->lanes[i] = NULL;
		conn_close(c, flush);
	}
	xs->nlanes = 0;
}

static void lane_idle_cb(uv_timer_t *t)
{
	struct ed_xs *xs = t->data;

	if (xs->lane_inflight == 0)
		lanes_close(xs, false);
}

/* The lanes' last reply: close them unless reads come again soon.  The
 * timer does not keep the loop alive; without it the lanes just stay. */
static void lanes_idle(struct ed_xs *xs)
{
	if (!xs->lane_idle) {
		xs->lane_idle = malloc(sizeof(*xs->lane_idle));
		if (!xs->lane_idle)
			return;
		if (uv_timer_init(xs->loop, xs->lane_idle) < 0) {
			free(xs->lane_idle);
			xs->lane_idle = NULL;
			return;
		}
		xs->lane_idle->data = xs;
		uv_unref((uv_handle_t *)xs->lane_idle);
	}
	uv_timer_start(xs->lane_idle, lane_idle_cb, ED_XS_LANE_IDLE_MS, 0);
}

/* A message that cannot be ours: nothing after it on this stream can be
 * trusted. */
static int bad_message(struct ed_xs *xs, const struct ed_xs_hdr *hdr, const char *what)
{
	xs->protocol_errors++;
	ed_error(EDERA_EPROTO, "xenstored sent %s (request %u, type %u)", what, hdr->req_id,
	         hdr->type);
	ed_xs_disconnect(xs, EDERA_EPROTO);
	return 1;
}

/* One complete message from xenstored.  Non-zero stops the feeding. */
static int on_message(const struct ed_xs_hdr *hdr, const char *payload, void *arg)
{
	struct ed_xs_conn *conn = arg;
	struct ed_xs *xs = conn->xs;
	struct ed_xs_req *req;
	int status = 0;

	if (hdr->type == XS_WATCH_EVENT) {
		/* watches are registered on the main connection only */
		if (conn->lane)
			return bad_message(xs, hdr, "a watch event on a read lane");
		dispatch_watch_event(xs, payload, hdr->len);
	} else {
		req = find_req(xs, hdr->req_id);
		if (!req)
			return bad_message(xs, hdr, "a reply to no request of ours");
		if (req->conn != conn)
			return bad_message(xs, hdr, "a reply on another connection than its request's");
		unlink_req(xs, req);
		xs->lane_busy = false; /* xenstored turned: it may accept a lane */
		conn->inflight--;
		if (req->ordered)
			xs->ordered--;
		if (conn->lane && --xs->lane_inflight == 0) {
			flush_held(xs);
			lanes_idle(xs);
		}
		if (hdr->type == XS_ERROR) {
			status = ed_xs_error_code(payload, hdr->len);
		} else if (hdr->type != req->type) {
			xs->protocol_errors++;
			status = ed_error(EDERA_EPROTO,
			                  "xenstored answered request %u of type %u with type %u",
			                  req->id, req->type, hdr->type);
		}
		req->complete(xs, req, status, status < 0 ? NULL : payload, hdr->len);
		free(req);
	}
	/* A callback may have reconnected or torn the connection down. */
	return !conn_current(conn);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ed_xs_conn *conn = ed_container_of((uv_pipe_t *)h, struct ed_xs_conn, pipe);

	*buf = uv_buf_init(conn->rbuf, sizeof(conn->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ed_xs_conn *conn = ed_container_of((uv_pipe_t *)s, struct ed_xs_conn, pipe);
	int rc;

	if (!conn->xs || nread == 0)
		return;
	if (nread < 0) {
		ed_error(EDERA_ECONNRESET, "xenstored (%s) closed the connection: %s",
		         conn->xs->where, uv_strerror((int)nread));
		ed_xs_disconnect(conn->xs, EDERA_ECONNRESET);
		return;
	}
	rc = ed_xs_reader_feed(&conn->reader, buf->base, (size_t)nread, on_message, conn);
	/* a bad message (or no memory for a long one): the stream is lost */
	if (rc < 0 && conn_current(conn)) {
		conn->xs->protocol_errors++;
		ed_xs_disconnect(conn->xs, EDERA_EPROTO);
	}
}

/* ---- connecting ----------------------------------------------------------- */

static void conn_close_cb(uv_handle_t *h)
{
	struct ed_xs_conn *conn = ed_container_of((uv_pipe_t *)h, struct ed_xs_conn, pipe);

	ed_xs_reader_fini(&conn->reader);
	free(conn->wq);
	free(conn);
}

static void kick_cb(uv_idle_t *h)
{
	uv_idle_stop(h);
}

/* libuv adds a new descriptor to its epoll set on the loop's next turn;
 * a program that runs the loop only when that set is ready (an embedder
 * polling uv_backend_fd, as the Python bindings do) would not see a new
 * lane's replies.  An active idle handle makes uv_backend_timeout say 0,
 * so such a program runs the loop once more, and the lane is watched. */
static void kick_loop(struct ed_xs *xs)
{
	if (!xs->lane_kick) {
		xs->lane_kick = malloc(sizeof(*xs->lane_kick));
		if (!xs->lane_kick)
			return;
		if (uv_idle_init(xs->loop, xs->lane_kick) < 0) {
			free(xs->lane_kick);
			xs->lane_kick = NULL;
			return;
		}
	}
	uv_idle_start(xs->lane_kick, kick_cb);
}

/* A connection on FD (taken over: closed on failure), reading. */
static int conn_open(struct ed_xs *xs, int fd, const char *what, unsigned int lane,
                     struct ed_xs_conn **out)
{
	struct stat st;
	struct ed_xs_conn *conn;
	int rc;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return ed_error(EDERA_ENOMEM, "out of memory for the XenStore connection");
	}
	rc = uv_pipe_init(xs->loop, &conn->pipe, 0);
	if (rc < 0) {
		close(fd);
		free(conn);
		return ed_error(EDERA_EIO, "cannot use the XenStore connection %s: %s", what,
		                uv_strerror(rc));
	}
	rc = uv_pipe_open(&conn->pipe, fd);
	if (rc < 0)
		close(fd); /* not libuv's yet */
	else
		rc = uv_read_start((uv_stream_t *)&conn->pipe, alloc_cb, read_cb);
	if (rc < 0) {
		/* Closing the handle closes the fd if libuv owns it. */
		uv_close((uv_handle_t *)&conn->pipe, conn_close_cb);
		return ed_error(EDERA_EIO, "cannot use the XenStore connection %s: %s", what,
		                uv_strerror(rc));
	}
	conn->xs = xs;
	conn->lane = lane;
	kick_loop(xs);
	/* Only the kernel's xenbus device is a ring, with the protocol's cap
	 * on a message (and one message per write); a socket may carry longer
	 * replies (oxenstored). */
	conn->stream = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	ed_xs_reader_init(&conn->reader,
	                  conn->stream ? ED_XS_SOCKET_PAYLOAD_MAX : XENSTORE_PAYLOAD_MAX);
	*out = conn;
	return 0;
}

int ed_xs_connect_fd(struct ed_xs *xs, int fd, const char *what)
{
	int rc = conn_open(xs, fd, what, 0, &xs->conn);

	if (rc < 0)
		return rc;
	xs->conn_gen++; /* transactions of earlier connections are void */
	xs->lane_path[0] = '\0'; /* no lanes unless ed_xs_connect says where */
	snprintf(xs->where, sizeof(xs->where), "%s", what);
	return 0;
}

/* How many connections a context may use (EDERA_XS_CONNECTIONS, 1 to
 * ED_XS_LANES_MAX; anything else: the most). */
static unsigned int lanes_max(void)
{
	const char *env = getenv("EDERA_XS_CONNECTIONS");
	char *end;
	unsigned long n;

	if (!env || !*env)
		return ED_XS_LANES_MAX;
	n = strtoul(env, &end, 10);
	return *end || n < 1 || n > ED_XS_LANES_MAX ? ED_XS_LANES_MAX : (unsigned int)n;
}

static int connect_socket(const char *path, int timeout_ms, int *fd_out)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (timeout_ms > 0) {
		/* bounds a unix socket's connect while the listener's queue is full */
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
			              .tv_usec = (timeout_ms % 1000) * 1000 };

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	*fd_out = fd;
	return 0;
}

int ed_xs_connect(struct ed_xs *xs)
{
	const char *env = getenv("XENSTORED_PATH");
	const char *path = env && *env ? env : DEFAULT_SOCKET;
	int fd = -1, rc, dev_errno;

	if (xs->closing)
		return ed_error(EDERA_ECANCELED, "the context is closing");
	if (xs->conn) {
		ed_xs_disconnect(xs, EDERA_ECONNRESET);
		/* A callback told of the loss may have reconnected already. */
		if (xs->conn)
			return 1;
		if (xs->closing)
			return ed_error(EDERA_ECANCELED, "the context is closing");
	}
	rc = connect_socket(path, 0, &fd);
	if (rc == 0) {
		rc = ed_xs_connect_fd(xs, fd, path);
		if (rc == 0 && strlen(path) < sizeof(xs->lane_path)) {
			/* more connections to a socket are cheap; the xenbus
			 * device's are one ring to xenstored anyway */
			strcpy(xs->lane_path, path);
			xs->lanes_max = lanes_max();
			xs->lane_busy = false;
		}
		return rc;
	}
	/* No socket: xenstored may live in a stub domain, reached through the
	 * kernel's xenbus device.  A socket that exists but refuses is an error
	 * of its own (xenstored died). */
	if (rc != -ENOENT)
		return ed_error(EDERA_ENOTCONN, "cannot connect to xenstored at %s: %s — is xenstored running?",
		                path, strerror(-rc));
	fd = open(XENBUS_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return ed_xs_connect_fd(xs, fd, XENBUS_DEVICE);
	dev_errno = errno;
	return ed_error(EDERA_ENOTCONN,
	                "cannot reach xenstored: no socket at %s and %s: %s — is xenstored running?",
	                path, XENBUS_DEVICE, strerror(dev_errno));
}

/* Whether a request that is not a read is in flight on a lane. */
static bool lane_writes_in_flight(struct ed_xs *xs)
{
	ED_LIST_EACH(req, &xs->pending, struct ed_xs_req, link)
		if (req->ordered && req->conn && req->conn->lane)
			return true;
	return false;
}

void ed_xs_disconnect(struct ed_xs *xs, int status)
{
	struct ed_xs_conn *conn = xs->conn;

	if (!conn)
		return;
	xs->conn = NULL;
	/* The context closing: what was held behind the lanes' reads goes
	 * out too, as it would have with no lanes (those reads are cancelled:
	 * a read it overtakes tells no one) — unless a write is among them (a
	 * group's, ed_xs_group_lane): held requests come after it, and would
	 * reach xenstored first; they are dropped then, as before.  Then what
	 * the connection queued, as far as the socket takes it now. */
	if (status == EDERA_ECANCELED && !lane_writes_in_flight(xs))
		(void)write_held(xs, conn); /* (what it cannot write is dropped below) */
	conn_close(conn, status == EDERA_ECANCELED);
	lanes_close(xs, status == EDERA_ECANCELED);
	if (xs->lane_idle)
		uv_timer_stop(xs->lane_idle);
	xs->lane_inflight = 0;
	xs->ordered = 0;
	xs->lane_path[0] = '\0';
	while (!ed_list_empty(&xs->held)) {
		struct out_msg *m = ed_list_first(&xs->held, struct out_msg, link);

		ed_list_remove(&xs->held, &m->link);
		free(m->buf);
		free(m);
	}

	/* Everything in flight fails, oldest first.  Detach the table first: a
	 * completion may send new requests or even reconnect, and those belong
	 * to the next connection. */
	struct ed_list failed = xs->pending;
	memset(xs->buckets, 0, sizeof(xs->buckets));
	memset(&xs->pending, 0, sizeof(xs->pending));
	xs->npending = 0;
	ED_LIST_EACH_SAFE(req, next, &failed, struct ed_xs_req, link) {
		req->complete(xs, req, status, NULL, 0);
		free(req);
	}
	ed_xs_watches_lost(xs, status);
}

static void free_handle_cb(uv_handle_t *h)
{
	free(h);
}

void ed_xs_fini(struct ed_xs *xs)
{
	xs->closing = true;
	ed_xs_disconnect(xs, EDERA_ECANCELED);
	if (xs->lane_idle) {
		uv_close((uv_handle_t *)xs->lane_idle, free_handle_cb);
		xs->lane_idle = NULL;
	}
	if (xs->lane_kick) {
		uv_close((uv_handle_t *)xs->lane_kick, free_handle_cb);
		xs->lane_kick = NULL;
	}
	if (xs->flush) {
		uv_close((uv_handle_t *)xs->flush, free_handle_cb);
		xs->flush = NULL;
	}
	ed_xs_txn_fini(xs);
	ed_xs_watches_free(xs);
}

void edera_xs_stats_init(edera_xs_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
}

int edera_xs_stats_get(edera_ctx *ctx, edera_xs_stats *st)
{
	edera_xs_stats r;
	int rc;

	if (!ctx || !st)
		return ed_error(EDERA_EINVAL, "edera_xs_stats_get: ctx and st are required");
	rc = ed_sized_check(st, st->sz, sizeof(*st), "edera_xs_stats");
	if (rc < 0)
		return rc;
	edera_xs_stats_init(&r);
	r.requests = ctx->xs.requests;
	r.watch_events = ctx->xs.watch_events;
	r.protocol_errors = ctx->xs.protocol_errors;
	r.pending = (uint32_t)ctx->xs.npending;
	r.watches = ctx->xs.nwatches;
	r.sz = st->sz;
	memcpy(st, &r, st->sz < sizeof(r) ? st->sz : sizeof(r));
	return 0;
}

int edera_xs_connected(edera_ctx *ctx)
{
	return ctx && ctx->xs.conn != NULL;
}

int edera_xs_reconnect(edera_ctx *ctx)
{
	int rc;

	if (!ctx)
		return ed_error(EDERA_EINVAL, "edera_xs_reconnect: ctx is NULL");
	rc = ed_xs_connect(&ctx->xs);
	if (rc != 0)
		return rc < 0 ? rc : 0; /* 1: a callback reconnected and restored them */
	return ed_xs_watches_restore(&ctx->xs);
}
