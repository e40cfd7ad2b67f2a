# SPDX-License-Identifier: LGPL-2.1-or-later
"""XenStore through the context's own client (``ctx.xs``)."""
from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, List, Optional, Union

from . import capi
from ._errors import check, error_from

Value = Union[bytes, bytearray, memoryview, str]


class Perm(enum.IntFlag):
    """Access bits of a XenStore permission entry."""
    NONE = capi.EDERA_XS_PERM_NONE
    READ = capi.EDERA_XS_PERM_READ
    WRITE = capi.EDERA_XS_PERM_WRITE
    BOTH = capi.EDERA_XS_PERM_BOTH


@dataclass(frozen=True)
class PermEntry:
    """One entry of a node's permissions.  The first entry names the owner
    and the access of every domain not listed."""
    domid: int
    perm: Perm


@dataclass(frozen=True)
class XsStats:
    requests: int
    watch_events: int
    protocol_errors: int
    pending: int
    watches: int


def _path(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError("a XenStore path must be a str, not %s" % type(path).__name__)
    if not path or "\0" in path:
        raise ValueError("a XenStore path must be non-empty, without NUL: %r" % path)
    return path


def _value(value: Value):
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        return value
    raise TypeError("a XenStore value must be bytes or str, not %s" % type(value).__name__)


def _perms(perms) -> list:
    if isinstance(perms, (str, bytes)) or not isinstance(perms, (list, tuple)):
        raise TypeError("perms must be a list of PermEntry or (domid, perm) pairs")
    if not 1 <= len(perms) <= 64:
        raise ValueError("a node has 1 to 64 permission entries, not %d" % len(perms))
    out = []
    for p in perms:
        d, b = (p.domid, p.perm) if isinstance(p, PermEntry) else p
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < 2**32:
            raise ValueError("a permission's domid must be an int from 0 to 2**32-1")
        if not 0 <= int(b) <= 3:
            raise ValueError("a permission must be a Perm (0 to 3), not %r" % (b,))
        out.append((d, int(b)))
    return out


def _entries(pairs) -> List[PermEntry]:
    return [PermEntry(d, Perm(p)) for d, p in pairs]


def _txn(txn):
    if txn is None:
        return None
    if not isinstance(txn, Transaction):
        raise TypeError("txn must be an edera.Transaction or None")
    if txn._ptr is None:
        raise ValueError("the transaction has ended")
    return txn._ptr


class XenStore:
    """XenStore requests on the context's loop (<edera/xenstore.h>).

    Coroutines: read, write, mkdir, rm, directory, get_perms, set_perms,
    get_domain_path, introduce, release; each has a blocking ``_sync`` twin.
    ``txn=`` runs a request inside a transaction.  Cancelling an awaiting
    task detaches the request: it is already sent and completes; its result
    is dropped.

    Errors are edera.Error: NotFoundError (no such node), PermissionDenied,
    TryAgain (transaction conflict), ConnectionLost, ...
    """

    def __init__(self, ctx) -> None:
        self._ctx = ctx
        self._watches: set = set()

    def _close(self) -> None:
        for w in list(self._watches):
            w._gone()

    def _op(self, fn, *args, convert=None):
        ctx = self._ctx
        return ctx._start(lambda cb: fn(ctx.ptr, *args, cb),
                          convert or (lambda st: check(st) and None))

    # ---- asynchronous -------------------------------------------------------
    async def read(self, path: str, txn: "Transaction" = None) -> bytes:
        """The node's value."""
        return await self._op(capi.edera_xs_read, _txn(txn), _path(path),
                              convert=lambda st, v: v if check(st) >= 0 else None)

    async def write(self, path: str, value: Value, txn: "Transaction" = None) -> None:
        """Write VALUE (str: as UTF-8), creating the node and its parents."""
        await self._op(capi.edera_xs_write, _txn(txn), _path(path), _value(value))

    async def mkdir(self, path: str, txn: "Transaction" = None) -> None:
        await self._op(capi.edera_xs_mkdir, _txn(txn), _path(path))

    async def rm(self, path: str, txn: "Transaction" = None) -> None:
        """Remove the node and everything below it."""
        await self._op(capi.edera_xs_rm, _txn(txn), _path(path))

    async def directory(self, path: str, txn: "Transaction" = None) -> List[str]:
        """The names of the node's children."""
        return await self._op(capi.edera_xs_directory, _txn(txn), _path(path),
                              convert=lambda st, names: names if check(st) >= 0 else None)

    async def get_perms(self, path: str, txn: "Transaction" = None) -> List[PermEntry]:
        return await self._op(capi.edera_xs_get_perms, _txn(txn), _path(path),
                              convert=lambda st, p: _entries(p) if check(st) >= 0 else None)

    async def set_perms(self, path: str, perms, txn: "Transaction" = None) -> None:
        """Set the node's permissions: PermEntry or (domid, Perm) pairs."""
        await self._op(capi.edera_xs_set_perms, _txn(txn), _path(path), _perms(perms))

    async def get_domain_path(self, domid: int) -> str:
        return await self._op(capi.edera_xs_get_domain_path, domid,
                              convert=lambda st, v: v.decode() if check(st) >= 0 else None)

    async def introduce(self, domid: int, mfn: int, evtchn: int) -> None:
        """Tell xenstored about a domain's ring (toolstack use)."""
        await self._op(capi.edera_xs_introduce, domid, mfn, evtchn)

    async def release(self, domid: int) -> None:
        await self._op(capi.edera_xs_release, domid)

    # ---- blocking -----------------------------------------------------------
    def read_sync(self, path: str, txn: "Transaction" = None) -> bytes:
        return self._ctx._sync(capi.edera_xs_read_sync, self._ctx.ptr, _txn(txn), _path(path))

    def write_sync(self, path: str, value: Value, txn: "Transaction" = None) -> None:
        self._ctx._sync(capi.edera_xs_write_sync, self._ctx.ptr, _txn(txn), _path(path),
                        _value(value))

    def mkdir_sync(self, path: str, txn: "Transaction" = None) -> None:
        self._ctx._sync(capi.edera_xs_mkdir_sync, self._ctx.ptr, _txn(txn), _path(path))

    def rm_sync(self, path: str, txn: "Transaction" = None) -> None:
        self._ctx._sync(capi.edera_xs_rm_sync, self._ctx.ptr, _txn(txn), _path(path))

    def directory_sync(self, path: str, txn: "Transaction" = None) -> List[str]:
        return self._ctx._sync(capi.edera_xs_directory_sync, self._ctx.ptr, _txn(txn),
                               _path(path))

    def get_perms_sync(self, path: str, txn: "Transaction" = None) -> List[PermEntry]:
        return _entries(self._ctx._sync(capi.edera_xs_get_perms_sync, self._ctx.ptr, _txn(txn),
                                        _path(path)))

    def set_perms_sync(self, path: str, perms, txn: "Transaction" = None) -> None:
        self._ctx._sync(capi.edera_xs_set_perms_sync, self._ctx.ptr, _txn(txn), _path(path),
                        _perms(perms))

    def get_domain_path_sync(self, domid: int) -> str:
        return self._ctx._sync(capi.edera_xs_get_domain_path_sync, self._ctx.ptr, domid)

    def introduce_sync(self, domid: int, mfn: int, evtchn: int) -> None:
        self._ctx._sync(capi.edera_xs_introduce_sync, self._ctx.ptr, domid, mfn, evtchn)

    def release_sync(self, domid: int) -> None:
        self._ctx._sync(capi.edera_xs_release_sync, self._ctx.ptr, domid)

    # ---- state --------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return capi.edera_xs_connected(self._ctx.ptr)

    def reconnect(self) -> None:
        """Connect again (pending requests fail with ConnectionLost; watches
        are registered again)."""
        capi.edera_xs_reconnect(self._ctx.ptr)
        self._ctx._kick()

    def stats(self) -> XsStats:
        s = capi.edera_xs_stats_get(self._ctx.ptr)
        return XsStats(s.requests, s.watch_events, s.protocol_errors, s.pending, s.watches)

    # ---- watches ------------------------------------------------------------
    def watch(self, path: str, callback: Optional[Callable[[str], Any]] = None) -> "Watch":
        """Watch PATH and everything below it (or "@releaseDomain",
        "@introduceDomain").  Iterate the returned Watch with ``async for``
        to get each changed path — the first is PATH itself, xenstored
        confirming the watch — or pass CALLBACK(path) to be called on the
        loop.  Close it (``async with``/``with``, or close()) to remove it."""
        return Watch(self, _path(path), callback)

    # ---- transactions ---------------------------------------------------------
    def transaction(self) -> "_TransactionBlock":
        """``async with ctx.xs.transaction() as t:`` — requests with
        ``txn=t`` (or t.read(...), t.write(...)) inside the block commit when
        it ends, or abort if it raises.  A conflict at commit raises
        edera.TryAgain: the block cannot run again by itself — use
        run_transaction(fn) for automatic retries.  Cancelling the task in
        the block aborts the transaction."""
        return _TransactionBlock(self)

    async def run_transaction(self, body: Callable[["Transaction"], Awaitable[Any]]) -> Any:
        """Run the coroutine function BODY(t) in a transaction, again on each
        conflict (up to 64 attempts; from the third, after a random wait of
        at most 64 ms), and commit when it returns: returns its
        result.  If it raises, the transaction aborts and the exception
        propagates.  Cancel: the attempt running is cancelled and the
        transaction aborted."""
        ctx = self._ctx
        loop = ctx._attach()
        state: dict = {"result": None, "exc": None, "task": None}
        done = loop.create_future()

        def on_body(tptr):
            t = Transaction(self, tptr)
            state["txn"] = t

            async def attempt():
                try:
                    state["result"] = await body(t)
                except BaseException as e:  # noqa: BLE001 - re-raised below
                    state["exc"] = e
                    t._end(capi.EDERA_ECANCELED)
                else:
                    t._end(None)
            state["task"] = loop.create_task(attempt())

        def on_done(status):
            if "txn" in state:
                state["txn"]._ptr = None
            if not done.done():
                done.set_result(status)

        capi.edera_xs_transaction(ctx.ptr, (on_body, on_done))
        ctx._kick()
        try:
            status = await done
        except asyncio.CancelledError:
            if state["task"] is not None:
                state["task"].cancel()
            raise
        if state["exc"] is not None:
            raise state["exc"]
        check(status)
        return state["result"]

    def transaction_sync(self, body: Callable[["Transaction"], Any]) -> Any:
        """Run BODY(t) — using the _sync calls with ``txn=t`` (BODY runs in
        this call, outside the loop: it is not a callback) — in a
        transaction, again on each conflict; commit when it returns (its
        result is returned) or abort if it raises (the exception
        propagates)."""
        result = []
        ctx = self._ctx

        def on_body(tptr):
            # Called by edera_xs_transaction_sync itself, between its steps
            # and outside the loop (it is no callback): _sync calls allowed,
            # as in C.  Closing the context stays refused (C is on the stack).
            t = Transaction(self, tptr)
            outer, ctx._sync_body_depth = ctx._sync_body_depth, ctx._depth
            try:
                result[:] = [body(t)]
            finally:
                ctx._sync_body_depth = outer
                t._ptr = None
            return 0

        self._ctx._sync(capi.edera_xs_transaction_sync, self._ctx.ptr, on_body)
        return result[0] if result else None


class Transaction:
    """A XenStore transaction in progress.  Pass it as ``txn=`` or use its
    own methods (same names as XenStore's, without txn)."""

    def __init__(self, xs: XenStore, ptr) -> None:
        self._xs = xs
        self._ptr = ptr
        self.attempt = capi.edera_xs_txn_attempt(ptr)
        """1 for the first attempt, 2 after a conflict..."""

    def _end(self, abort_status: Optional[int]) -> None:
        if self._ptr is None:
            return
        ptr, self._ptr = self._ptr, None
        if abort_status is None:
            capi.edera_xs_txn_commit(ptr)
        else:
            capi.edera_xs_txn_abort(ptr, abort_status)
        self._xs._ctx._kick()

    def __getattr__(self, name):
        fn = getattr(XenStore, name, None)
        if name in ("read", "write", "mkdir", "rm", "directory", "get_perms", "set_perms",
                    "read_sync", "write_sync", "mkdir_sync", "rm_sync", "directory_sync",
                    "get_perms_sync", "set_perms_sync"):
            return lambda *a, **kw: fn(self._xs, *a, txn=self, **kw)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return "<edera.Transaction attempt %d%s>" % (self.attempt,
                                                     "" if self._ptr else ", ended")


class _TransactionBlock:
    def __init__(self, xs: XenStore) -> None:
        self._xs = xs
        self._txn: Optional[Transaction] = None
        self._done: Optional[asyncio.Future] = None

    async def __aenter__(self) -> Transaction:
        ctx = self._xs._ctx
        loop = ctx._attach()
        started = loop.create_future()
        self._done = done = loop.create_future()

        def on_body(tptr):
            if self._txn is None and not started.cancelled():
                self._txn = Transaction(self._xs, tptr)
                started.set_result(self._txn)
            else:
                # a retry after a conflict (the block cannot run twice), or
                # nobody waits any more
                capi.edera_xs_txn_abort(tptr, capi.EDERA_EAGAIN if self._txn
                                        else capi.EDERA_ECANCELED)

        def on_done(status):
            if self._txn is not None:
                self._txn._ptr = None
            if not done.done():
                done.set_result(status)

        capi.edera_xs_transaction(ctx.ptr, (on_body, on_done))
        ctx._kick()
        return await started

    async def __aexit__(self, et, e, tb) -> None:
        t = self._txn
        if et is None:
            t._end(None)
        else:
            t._end(capi.EDERA_ECANCELED)
        status = await self._done
        if et is None and status < 0:
            raise error_from(status)


class Watch:
    """A XenStore watch (edera_xs_watch).  ``async for path in watch`` yields
    each changed path; an error from xenstored (the watch refused, the
    connection lost) is raised from the iteration.  close() removes it."""

    def __init__(self, xs: XenStore, path: str, callback) -> None:
        self._xs = xs
        self.path = path
        self._user = callback
        self._queue: Optional[asyncio.Queue] = None
        if callback is None:
            xs._ctx._attach()
            self._queue = asyncio.Queue()
        self._cb = self._event  # borrowed by C until close()
        self._ptr = None
        self._ptr = capi.edera_xs_watch_add(xs._ctx.ptr, path, self._cb)
        xs._watches.add(self)
        xs._ctx._kick()

    def _event(self, status: int, path: Optional[str]) -> None:
        item: Any = error_from(status) if status < 0 else path
        if self._queue is not None:
            self._queue.put_nowait(item)
        elif status >= 0:
            self._user(path)
        else:
            raise item

    def _gone(self) -> None:
        """The context closed: C freed the watch."""
        self._ptr = None
        self._xs._watches.discard(self)
        if self._queue is not None:
            self._queue.put_nowait(None)

    def close(self) -> None:
        """Remove the watch (edera_xs_watch_remove); the iteration ends."""
        if self._ptr is not None:
            capi.edera_xs_watch_remove(self._ptr)
            self._ptr = None
            self._xs._watches.discard(self)
            if self._queue is not None:
                self._queue.put_nowait(None)
        self._cb = None

    def __aiter__(self) -> "Watch":
        if self._queue is None:
            raise TypeError("a watch with a callback is not iterable")
        return self

    async def __anext__(self) -> str:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aenter__(self) -> "Watch":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
