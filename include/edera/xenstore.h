/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * XenStore, spoken directly: libedera's own asynchronous client of the
 * xenstored protocol, on the context's loop.  No libxenstore.
 *
 * The context connects when it opens (the unix socket /run/xenstored/socket,
 * or $XENSTORED_PATH; the /dev/xen/xenbus device if there is no socket).
 * Many requests may be in flight at once.  Reads outside transactions may
 * go over extra connections to the socket while many are in flight
 * (EDERA_XS_CONNECTIONS, 1 to 8, default 8); requests still take effect in
 * the order they were sent (a write waits for the reads sent before it).
 *
 * Asynchronous calls return 0 once the request is sent (the callback will
 * run exactly once, on the loop thread), or a negative EDERA_E* code at once
 * (the callback will never run).  Pointers passed to a callback are valid
 * only during it.  Callbacks must not call the _sync forms.
 *
 * Blocking forms (_sync) run the context's loop until their reply arrives;
 * call them only from outside the loop (not from any callback of the loop).
 *
 * Paths: absolute ("/local/domain/0/name") or relative to the connection's
 * home; letters, digits and -/_@; at most 3072 bytes (absolute) or 2048
 * (relative).  A request whose path and value exceed the protocol's 4096-byte
 * payload is refused with EDERA_EINVAL before anything is sent.
 *
 * The daemon may allow less: the C xenstored takes paths of up to 2048
 * bytes below a domain's home, oxenstored 1024 as Debian configures it;
 * longer ones come back as EDERA_EINVAL.
 *
 * Errors xenstored reports arrive as EDERA_ENOENT, EDERA_EACCES,
 * EDERA_EEXIST, EDERA_EINVAL, EDERA_ENOSPC (also oxenstored's EQUOTA: a
 * per-domain quota reached), EDERA_EAGAIN (transaction conflict),
 * EDERA_EBUSY, ...; a lost connection as EDERA_ECONNRESET; a malformed reply
 * as EDERA_EPROTO.  Both XenStore daemons Xen ships, xenstored and
 * oxenstored, are supported.
 */
#ifndef EDERA_XENSTORE_H
#define EDERA_XENSTORE_H

#include <edera/common.h>
#include <edera/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A transaction in progress (see edera_xs_transaction). */
typedef struct edera_xs_txn edera_xs_txn;
/* A registered watch (see edera_xs_watch_add). */
typedef struct edera_xs_watch edera_xs_watch;

enum edera_xs_perm_bits {
	EDERA_XS_PERM_NONE = 0,
	EDERA_XS_PERM_READ = 1,
	EDERA_XS_PERM_WRITE = 2,
	EDERA_XS_PERM_BOTH = 3
};

/* A node's permissions are a list: the first entry names the owner (who may
 * do anything) and the access of every domain not listed; later entries
 * grant access to particular domains. */
typedef struct edera_xs_perm {
	uint32_t domid;
	uint32_t perm; /* EDERA_XS_PERM_* */
} edera_xs_perm;

/* Completion of a request with no result (write, mkdir, rm, set_perms,
 * introduce, release, transaction end). */
typedef void (*edera_xs_done_cb)(edera_ctx *ctx, int status, void *data);
/* A value (read, get_domain_path): VALUE has LEN bytes and a NUL after them;
 * NULL when STATUS < 0. */
typedef void (*edera_xs_value_cb)(edera_ctx *ctx, int status, const char *value, size_t len,
                                  void *data);
/* A directory listing: N child names. */
typedef void (*edera_xs_list_cb)(edera_ctx *ctx, int status, const char *const *names,
                                 size_t n, void *data);
/* A node's permissions. */
typedef void (*edera_xs_perms_cb)(edera_ctx *ctx, int status, const edera_xs_perm *perms,
                                  size_t n, void *data);

/* TXN may be NULL (outside any transaction) in every call below. */
EDERA_API int edera_xs_read(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                            edera_xs_value_cb cb, void *data);
/* Write LEN bytes of VALUE (binary allowed), creating the node and any
 * missing parents. */
EDERA_API int edera_xs_write(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                             const void *value, size_t len, edera_xs_done_cb cb, void *data);
EDERA_API int edera_xs_mkdir(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                             edera_xs_done_cb cb, void *data);
/* Remove a node and everything below it. */
EDERA_API int edera_xs_rm(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                          edera_xs_done_cb cb, void *data);
/* A listing of any length up to 16 MiB: read in parts from the C xenstored
 * (EDERA_ERANGE past 16 MiB), in one long reply from oxenstored over its
 * socket (a reply past 16 MiB is taken as a broken stream: EDERA_EPROTO,
 * and the connection is dropped, as for any malformed message).  Over the xenbus ring oxenstored cannot give more than 4096 bytes
 * (it has no XS_DIRECTORY_PART): EDERA_ENOTSUP.  A directory that keeps
 * changing while read in parts: EDERA_EAGAIN. */
EDERA_API int edera_xs_directory(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                 edera_xs_list_cb cb, void *data);
EDERA_API int edera_xs_get_perms(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                 edera_xs_perms_cb cb, void *data);
/* Set a node's permissions (1 to 64 entries; see edera_xs_perm). */
EDERA_API int edera_xs_set_perms(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                 const edera_xs_perm *perms, size_t n, edera_xs_done_cb cb,
                                 void *data);

/* Tell xenstored about a new domain's XenStore ring (machine frame MFN,
 * event channel EVTCHN), or that it is gone. */
EDERA_API int edera_xs_introduce(edera_ctx *ctx, uint32_t domid, uint64_t mfn, uint32_t evtchn,
                                 edera_xs_done_cb cb, void *data);
EDERA_API int edera_xs_release(edera_ctx *ctx, uint32_t domid, edera_xs_done_cb cb, void *data);
/* The home path xenstored gives DOMID ("/local/domain/N"). */
EDERA_API int edera_xs_get_domain_path(edera_ctx *ctx, uint32_t domid, edera_xs_value_cb cb,
                                       void *data);

/*
 * Watches.  CB runs once when xenstored accepts the watch (it reports the
 * watched path itself), then once for each change at or below PATH, with the
 * path that changed.  PATH may also be "@releaseDomain" or
 * "@introduceDomain".  If xenstored refuses the watch, CB runs once with
 * STATUS < 0 and PATH NULL.  If the connection is lost, CB runs with STATUS
 * < 0 and PATH NULL (EDERA_ECONNRESET, or EDERA_EPROTO when xenstored sent
 * something malformed); after edera_xs_reconnect() the watch is registered
 * again (and fires again).  *OUT is owned by the caller until
 * edera_xs_watch_remove() or edera_ctx_close(), which frees the watches
 * left; CB never runs after either returns.
 */
typedef void (*edera_xs_watch_cb)(edera_ctx *ctx, int status, const char *path, void *data);
EDERA_API int edera_xs_watch_add(edera_ctx *ctx, edera_xs_watch **out, const char *path,
                                 edera_xs_watch_cb cb, void *data);
/* Unregister and free WATCH (NULL is ignored).  Never fails. */
EDERA_API void edera_xs_watch_remove(edera_xs_watch *watch);

/*
 * Transactions with automatic retry.  BODY runs with a started transaction;
 * it issues requests with TXN and, when done, calls edera_xs_txn_commit()
 * or edera_xs_txn_abort() exactly once.  If xenstored reports a conflict
 * (EDERA_EAGAIN) at commit, the transaction starts again and BODY runs again
 * (up to 64 attempts; then DONE gets EDERA_EAGAIN); after the second
 * conflict each new attempt waits first, a random time growing from 1 ms
 * to at most 64 ms, so that transactions colliding with one another spread
 * out.  (The library's own transactions, which all write the same parent
 * nodes, also run one at a time per context.)  DONE runs once at the
 * end: 0 when committed, or the error.  edera_xs_txn_attempt() tells BODY
 * which attempt it is in (1, 2, ...).  A transaction does not survive the
 * loss of its connection: requests with it fail with EDERA_ECONNRESET, and
 * so does its commit.  TXN is gone once DONE has run.
 */
typedef void (*edera_xs_txn_body_cb)(edera_ctx *ctx, edera_xs_txn *txn, void *data);
EDERA_API int edera_xs_transaction(edera_ctx *ctx, edera_xs_txn_body_cb body,
                                   edera_xs_done_cb done, void *data);
EDERA_API void edera_xs_txn_commit(edera_xs_txn *txn);
/* End without committing; DONE gets STATUS (pass the error that made BODY
 * give up, or 0). */
EDERA_API void edera_xs_txn_abort(edera_xs_txn *txn, int status);
EDERA_API unsigned int edera_xs_txn_attempt(const edera_xs_txn *txn);

/* Blocking forms.  Results are allocated by the library: release them with
 * edera_free().  *VALUE gets a NUL after its LEN bytes. */
EDERA_API int edera_xs_read_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                 char **value, size_t *len);
EDERA_API int edera_xs_write_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                  const void *value, size_t len);
EDERA_API int edera_xs_mkdir_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path);
EDERA_API int edera_xs_rm_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path);
/* *NAMES is one allocation: an array of *N pointers followed by the strings. */
EDERA_API int edera_xs_directory_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                      char ***names, size_t *n);
EDERA_API int edera_xs_get_perms_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                      edera_xs_perm **perms, size_t *n);
EDERA_API int edera_xs_set_perms_sync(edera_ctx *ctx, edera_xs_txn *txn, const char *path,
                                      const edera_xs_perm *perms, size_t n);
EDERA_API int edera_xs_introduce_sync(edera_ctx *ctx, uint32_t domid, uint64_t mfn,
                                      uint32_t evtchn);
EDERA_API int edera_xs_release_sync(edera_ctx *ctx, uint32_t domid);
EDERA_API int edera_xs_get_domain_path_sync(edera_ctx *ctx, uint32_t domid, char **path);

/* A blocking transaction: BODY runs synchronously with TXN, using the _sync
 * calls, and returns 0 to commit or a negative code to abort (returned).
 * Retried on conflict like edera_xs_transaction. */
typedef int (*edera_xs_txn_sync_body_cb)(edera_ctx *ctx, edera_xs_txn *txn, void *data);
EDERA_API int edera_xs_transaction_sync(edera_ctx *ctx, edera_xs_txn_sync_body_cb body,
                                        void *data);

/* What the context's XenStore client has done: for watching its load (a
 * guest that writes its nodes in a loop shows as watch events, and must not
 * show as requests). */
typedef struct edera_xs_stats {
	size_t sz;                /* set by edera_xs_stats_init */
	uint64_t requests;        /* sent since the context opened */
	uint64_t watch_events;    /* received (for live watches or not) */
	uint64_t protocol_errors; /* replies and events that could not be used */
	uint32_t pending;         /* requests waiting for their reply now */
	uint32_t watches;         /* registered now */
} edera_xs_stats;

/* Zero ST and set its sz, before edera_xs_stats_get. */
EDERA_API void edera_xs_stats_init(edera_xs_stats *st);
/* Errors: EDERA_EINVAL. */
EDERA_API int edera_xs_stats_get(edera_ctx *ctx, edera_xs_stats *st);

/* Whether the context is connected to xenstored. */
EDERA_API int edera_xs_connected(edera_ctx *ctx);
/* Connect again after the connection was lost (or drop and remake it).
 * Pending requests of the old connection fail with EDERA_ECONNRESET; live
 * watches are registered again (a watch that cannot be gets its callback
 * with the error).  May be called from a callback.  Errors: EDERA_ENOTCONN
 * (xenstored not reachable), EDERA_ECANCELED (the context is closing). */
EDERA_API int edera_xs_reconnect(edera_ctx *ctx);

/* Free memory the library allocated for a caller (NULL is ignored). */
EDERA_API void edera_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif
