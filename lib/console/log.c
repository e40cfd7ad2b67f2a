/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Console logs, written off the loop.
 *
 * The loop only copies a zone's output into its log's queue (at most
 * ED_LOG_QUEUE bytes; more is dropped and counted) and wakes the context's
 * writer thread; the writer takes the queue whole (two buffers per log,
 * swapped under the lock) and writes it with no lock held.  A slow or
 * stuck file therefore costs its own zone's log bytes, never the loop's
 * time, and never a threadpool thread (builds run there).
 *
 * A regular file is rotated when the next write would take it past its
 * limit: PATH becomes PATH.1 (the previous PATH.1 goes) and PATH starts
 * empty.  A failed write or rotation stops the log (counted as an error).
 *
 * One mutex per context guards every log's queue, its counters and the
 * writer's list; the file itself (fd, size) belongs to the writer once the
 * log is open.  Closing a log hands it to the writer, which writes what is
 * queued, closes the file and frees it.  The context's end (ed_logw_fini)
 * waits for every queued byte a file takes.  A file that is not a regular
 * one (a FIFO, a socket, a terminal) is written non-blocking: the writer
 * waits in poll(2) for it or for the context's end, so a reader that never
 * reads cannot hold the context's close; what it did not take then is
 * dropped, counted. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console/log.h"
#include "ctx.h"

struct ed_log {
	struct ed_logw *w;
	struct ed_link qlink; /* on the writer's queue */
	struct ed_link link;  /* on the writer's list of every open log */
	bool queued, writing, closing;
	/* the queue: the loop appends to fill, the writer takes it (each
	 * buffer grows as needed, up to ED_LOG_QUEUE) */
	uint8_t *fill, *spare;
	size_t fill_cap, spare_cap, len, in_flight;
	/* counters */
	uint64_t written, dropped, rotations, errors;
	bool failed; /* a write failed: the log stopped */
	/* the writer's */
	int fd;
	bool regular;
	uint64_t size, max;
	char *path;
};

struct ed_logw {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ed_list queue; /* logs with work for the writer */
	struct ed_list all;
	bool stop;   /* written under mu, read anywhere (atomic) */
	int wake_fd; /* an eventfd: the context's end, for a writer in poll(2) */
};

static void log_free(struct ed_log *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->fill);
	free(l->spare);
	free(l->path);
	free(l);
}

/* Under the lock: L has work for the writer. */
static void wake(struct ed_log *l)
{
	struct ed_logw *w = l->w;

	if (l->queued || l->writing)
		return;
	l->queued = true;
	ed_list_push_back(&w->queue, &l->qlink);
	pthread_cond_signal(&w->cv);
}

/* Under the lock: a closed log with nothing left goes. */
static bool unlink_if_done(struct ed_log *l)
{
	struct ed_logw *w = l->w;

	if (!l->closing || l->queued || l->writing || l->len)
		return false;
	ed_list_remove(&w->all, &l->link);
	return true;
}

/* The writer's: PATH becomes PATH.1 and PATH starts empty. */
static int rotate(struct ed_log *l)
{
	char old[4096];
	int fd;

	if ((size_t)snprintf(old, sizeof(old), "%s.1", l->path) >= sizeof(old))
		return -1;
	/* moved or deleted meanwhile (by hand, by logrotate): start afresh */
	if (rename(l->path, old) < 0 && errno != ENOENT)
		return -1;
	fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -1;
	close(l->fd);
	l->fd = fd;
	l->size = 0;
	return 0;
}

/* The writer's, with no lock held: write B, rotating as needed.  Returns
 * the bytes written (fewer on a failure) and counts rotations in *ROT. */
static size_t write_out(struct ed_log *l, const uint8_t *b, size_t n, uint64_t *rot)
{
	size_t done = 0;

	while (done < n) {
		size_t k = n - done;
		ssize_t w;

		if (l->regular) {
			if (l->size >= l->max) {
				if (rotate(l) < 0)
					break;
				(*rot)++;
			}
			if (k > l->max - l->size)
				k = (size_t)(l->max - l->size);
		}
		w = write(l->fd, b + done, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p[2] = { { .fd = l->fd, .events = POLLOUT },
				               { .fd = l->w->wake_fd, .events = POLLIN } };

			/* a file that takes nothing more at the context's end:
			 * the rest is dropped */
			if (__atomic_load_n(&l->w->stop, __ATOMIC_ACQUIRE))
				break;
			if (poll(p, 2, -1) < 0 && errno != EINTR)
				break;
			continue;
		}
		if (w <= 0)
			break;
		done += (size_t)w;
		l->size += (uint64_t)w;
	}
	return done;
}

static void *writer_main(void *arg)
{
	struct ed_logw *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct ed_log *l;
		uint8_t *out;
		size_t n, out_cap, done;
		uint64_t rot = 0;
		bool failed;

		while (ed_list_empty(&w->queue) && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		l = ed_list_first(&w->queue, struct ed_log, qlink);
		if (!l)
			break; /* stopping, and nothing is queued */
		ed_list_remove(&w->queue, &l->qlink);
		l->queued = false;
		/* take the queue whole; the loop fills the other buffer */
		out = l->fill;
		out_cap = l->fill_cap;
		n = l->len;
		l->fill = l->spare;
		l->fill_cap = l->spare_cap;
		l->spare = NULL;
		l->spare_cap = 0;
		l->len = 0;
		l->in_flight = n;
		l->writing = true;
		failed = l->failed;
		pthread_mutex_unlock(&w->mu);

		done = failed ? 0 : write_out(l, out, n, &rot);

		pthread_mutex_lock(&w->mu);
		l->writing = false;
		l->in_flight = 0;
		l->spare = out;
		l->spare_cap = out_cap;
		l->written += done;
		l->rotations += rot;
		l->dropped += n - done;
		if (done < n && !l->failed) {
			/* the first failure stops the log */
			l->failed = true;
			l->errors++;
		}
		if (l->failed) {
			l->dropped += l->len;
			l->len = 0;
		} else if (l->len) {
			wake(l); /* filled meanwhile */
		}
		if (unlink_if_done(l)) {
			pthread_mutex_unlock(&w->mu);
			log_free(l);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int logw_get(edera_ctx *ctx, struct ed_logw **out)
{
	struct ed_logw *w = ctx->logw;
	sigset_t all, old;
	int e;

	if (w) {
		*out = w;
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return ed_error(EDERA_ENOMEM, "out of memory");
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0) {
		e = errno;
		free(w);
		return ed_error(ed_errno_code(e), "console log writer: eventfd: %s", strerror(e));
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* signals are the application's threads' business (and a write to a
	 * pipe whose reader went gets EPIPE here, not a SIGPIPE that would end
	 * the process): the writer starts with all of them blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		close(w->wake_fd);
		free(w);
		return ed_error(EDERA_EIO, "cannot start the console log writer: %s", strerror(e));
	}
	ctx->logw = w;
	*out = w;
	return 0;
}

int ed_log_open(edera_ctx *ctx, const char *path, uint64_t max_bytes, struct ed_log **out)
{
	struct ed_logw *w = NULL;
	struct ed_log *l;
	struct stat st;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ed_error(EDERA_ENOMEM, "out of memory");
	l->fd = -1;
	l->max = max_bytes ? max_bytes : 1;
	/* absolute: a rotation after the caller changed directory renames
	 * the same file */
	if (path[0] == '/') {
		l->path = strdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);
		size_t len = cwd ? strlen(cwd) + strlen(path) + 2 : 0;

		l->path = cwd ? malloc(len) : NULL;
		if (l->path)
			snprintf(l->path, len, "%s/%s", cwd, path);
		free(cwd);
	}
	if (!l->path) {
		log_free(l);
		return ed_error(EDERA_ENOMEM, "console log '%s': out of memory (or no working "
		                "directory)", path);
	}
	/* non-blocking, so that a FIFO without a reader is an error (ENXIO)
	 * rather than an open(2) that waits on the loop; a regular file's
	 * writes then block as usual (on the writer's thread), others stay
	 * non-blocking (see above) */
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
	if (l->fd >= 0 && fstat(l->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		l->regular = true;
		l->size = (uint64_t)st.st_size;
	}
	if (l->fd < 0 ||
	    fcntl(l->fd, F_SETFL, l->regular ? O_APPEND : O_APPEND | O_NONBLOCK) < 0) {
		rc = ed_error(ed_errno_code(errno), "console log '%s': %s", path, strerror(errno));
		log_free(l);
		return rc;
	}
	rc = logw_get(ctx, &w);
	if (rc < 0) {
		log_free(l);
		return rc;
	}
	l->w = w;
	pthread_mutex_lock(&w->mu);
	ed_list_push_front(&w->all, &l->link);
	pthread_mutex_unlock(&w->mu);
	*out = l;
	return 0;
}

/* Under the lock: room for NEED bytes in fill, as far as the cap allows. */
static void grow(struct ed_log *l, size_t need)
{
	size_t cap = l->fill_cap ? l->fill_cap : 64 * 1024;
	uint8_t *p;

	if (need <= l->fill_cap || l->fill_cap >= ED_LOG_QUEUE)
		return;
	while (cap < need && cap < ED_LOG_QUEUE)
		cap *= 2;
	if (cap > ED_LOG_QUEUE)
		cap = ED_LOG_QUEUE;
	p = realloc(l->fill, cap);
	if (!p)
		return; /* what fits is kept; the rest counted as dropped */
	l->fill = p;
	l->fill_cap = cap;
}

void ed_log_append(struct ed_log *l, const void *b, size_t n)
{
	size_t k;

	pthread_mutex_lock(&l->w->mu);
	if (l->failed) {
		l->dropped += n;
	} else {
		grow(l, l->len + n);
		k = l->fill_cap - l->len < n ? l->fill_cap - l->len : n;
		if (k)
			memcpy(l->fill + l->len, b, k);
		l->len += k;
		l->dropped += n - k;
		if (k)
			wake(l);
	}
	pthread_mutex_unlock(&l->w->mu);
}

void ed_log_close(struct ed_log *l)
{
	struct ed_logw *w;
	bool done;

	if (!l)
		return;
	w = l->w;
	pthread_mutex_lock(&w->mu);
	l->closing = true;
	done = unlink_if_done(l);
	pthread_mutex_unlock(&w->mu);
	if (done)
		log_free(l);
}

void ed_log_stats_get(struct ed_log *l, struct ed_log_stats *st)
{
	pthread_mutex_lock(&l->w->mu);
	st->written = l->written;
	st->dropped = l->dropped;
	st->rotations = l->rotations;
	st->errors = l->errors;
	st->queued = (uint32_t)(l->len + l->in_flight);
	pthread_mutex_unlock(&l->w->mu);
}

void ed_logw_fini(struct ed_logw *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	/* a writer waiting for a file in poll(2) */
	if (write(w->wake_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
		/* the counter cannot overflow from one write: never */
	}
	pthread_join(w->thread, NULL);
	close(w->wake_fd);
	/* logs still open (their console outlived the context: never) */
	while (!ed_list_empty(&w->all)) {
		struct ed_log *l = ed_list_first(&w->all, struct ed_log, link);

		ed_list_remove(&w->all, &l->link);
		log_free(l);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
