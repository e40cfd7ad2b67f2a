# SPDX-License-Identifier: LGPL-2.1-or-later
"""The context: the hypervisor handles and the libuv loop everything runs on."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import capi
from ._errors import InvalidArgument, check
from ._loop import LoopDriver
from .config import Disk, Nic, ZoneConfig


@dataclass(frozen=True)
class HostInfo:
    """What the hypervisor reports about the host (edera_host_info)."""
    xen_major: int
    xen_minor: int
    xen_extra: str
    total_memory_kib: int
    free_memory_kib: int
    nr_cpus: int
    nr_nodes: int
    cpu_khz: int
    threads_per_core: int
    cores_per_socket: int

    @property
    def xen_version(self) -> str:
        return "%d.%d%s" % (self.xen_major, self.xen_minor, self.xen_extra)


def struct_to(cls, obj):
    """A frozen dataclass CLS from a SWIG struct proxy's fields."""
    return cls(**{f.name: getattr(obj, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class PoolStats:
    """What a context's pool has of one shape (edera_pool_stats)."""
    shells: int      # the count asked for
    ready: int       # shells ready now
    filling: int     # shells being made
    taken: int       # creations that took a shell
    missed: int      # creations of the shape that found none ready
    reclaimed: int   # shells destroyed to give their memory to a creation
    failed: int      # shells that could not be made
    last_error: str  # why the last one failed, or ""


class Context:
    """A libedera context (edera_ctx): open on Xen's control domain, as root.

    Use it as a context manager, blocking (``with edera.Context() as ctx``)
    or with asyncio (``async with edera.Context() as ctx``).  Methods ending
    in ``_sync`` block (releasing the GIL); the others are coroutines, run
    by the asyncio loop that first awaits one (one loop per context).

    The context owns a libuv loop.  Under asyncio, that loop is driven from
    the asyncio loop (its fd with add_reader, its timers re-armed after every
    run and call); the ``_sync`` methods run it themselves, so they must not
    be called from a callback or while a coroutine of this context awaits
    on another thread (the body of ``ctx.xs.transaction_sync`` is no
    callback: it makes ``_sync`` calls).  One thread uses a context at a time.

    Raises edera.Error when the context cannot open: edera.NoXenError
    (EDERA_ENOXEN) on a machine without Xen or outside dom0,
    edera.PermissionDenied when not root.

    Closing the context (close(), or leaving the ``with`` block) leaves its
    zones running, as in C: a later context can take them over with
    reattach().  Destroy them first to have them gone.
    """

    def __init__(self) -> None:
        self._ptr = None
        self._ptr = capi.edera_ctx_open(None)
        self._zones: Dict[int, Any] = {}
        self._driver: Optional[LoopDriver] = None
        self._depth = 0  # > 0 while the loop runs (callbacks may be running)
        # _depth while a blocking transaction's body runs: that body is no
        # callback (C calls it between its own steps, outside the loop), and
        # may make _sync calls; a callback the loop runs meanwhile is deeper
        self._sync_body_depth = 0
        from .xenstore import XenStore
        self.xs = XenStore(self)
        """XenStore access (see edera.XenStore)."""

    # ---- plumbing ----------------------------------------------------------
    @property
    def ptr(self):
        """The raw edera_ctx handle (for edera.capi); ValueError once closed."""
        if self._ptr is None:
            raise ValueError("the context is closed")
        return self._ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        self.ptr
        if self._driver is None:
            self._driver = LoopDriver(self, loop)
        elif self._driver.loop is not loop:
            raise RuntimeError("this context is driven by another asyncio loop")
        return loop

    def _kick(self) -> None:
        if self._driver is not None:
            self._driver.arm()

    def _sync(self, fn: Callable, *args):
        """A blocking call: not from a callback (it would run the loop inside
        itself, which libuv does not allow).  The body of transaction_sync()
        is not a callback."""
        if self._depth > self._sync_body_depth:
            raise RuntimeError("a blocking (_sync) call cannot be made from a libedera "
                               "callback: await the asynchronous form")
        self._depth += 1
        try:
            return fn(*args)
        finally:
            self._depth -= 1
            self._kick()

    def _start(self, start: Callable[[Callable], Any], convert: Callable,
               on_cancelled: Optional[Callable] = None) -> "asyncio.Future":
        """Start an asynchronous operation.  START(cb) calls C with CB;
        CONVERT(*args) makes the result (or raises); ON_CANCELLED(*args) runs
        instead when the awaiting task was cancelled meanwhile, to undo a
        result nobody will take."""
        loop = self._attach()
        fut = loop.create_future()

        def cb(*args):
            if fut.cancelled():
                if on_cancelled is not None:
                    on_cancelled(*args)
                return
            try:
                v = convert(*args)
            except BaseException as e:  # noqa: BLE001 - handed to the awaiter
                fut.set_exception(e)
            else:
                fut.set_result(v)

        start(cb)
        self._kick()
        return fut

    def _zone(self, zptr):
        """The Zone object of a zone handle (one per handle)."""
        if zptr is None:
            return None
        z = self._zones.get(int(zptr))
        if z is None:
            from .zone import Zone
            z = Zone(self, zptr)
            self._zones[int(zptr)] = z
        return z

    # ---- life --------------------------------------------------------------
    def close(self) -> None:
        """Close the context (edera_ctx_close): requests in flight fail with
        edera.Cancelled, watches end; its zones keep running.  Idempotent."""
        if self._ptr is None:
            return
        if self._depth:
            raise RuntimeError("a context cannot be closed from one of its callbacks")
        if self._driver is not None:
            self._driver.close()
        ptr = self._ptr
        try:
            self.xs._close()
            self._depth += 1
            capi.edera_ctx_close(ptr)
        finally:
            self._depth -= 1
            self._ptr = None
            for z in list(self._zones.values()):
                z._forget()
            self._zones.clear()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    async def __aenter__(self) -> "Context":
        self._attach()
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_ptr", None) is not None and not self._depth:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - nothing to report to at exit
                pass

    def __repr__(self) -> str:
        return "<edera.Context %s, %d zones>" % ("closed" if self.closed else "open",
                                                len(self._zones))

    # ---- host --------------------------------------------------------------
    def host_info(self) -> HostInfo:
        """The hypervisor's version and the host's resources (two fast
        hypercalls, so no _sync suffix)."""
        return struct_to(HostInfo, capi.edera_host_info_get(self.ptr))

    async def host_info_async(self) -> HostInfo:
        """host_info() with the hypercalls on libuv's threadpool.  Cancel:
        the result is dropped."""
        return await self._start(
            lambda cb: capi.edera_host_info_query(self.ptr, cb),
            lambda st, info: struct_to(HostInfo, info) if check(st) >= 0 else None)

    # ---- prepared shells (edera/pool.h) ---------------------------------------
    def set_pool(self, memory_mib: int, shells: int, vcpus: int = 1) -> None:
        """Keep SHELLS prepared zone shells of MEMORY_MIB and VCPUS ready,
        made in the background (shells=0 removes the shape): a zone created
        with exactly that memory and those vCPUs takes one and only loads
        its kernel.  Shells are invisible, give their memory back when a
        creation lacks it, go with close(); a crashed process's are removed
        by reattach."""
        for name, v in (("memory_mib", memory_mib), ("shells", shells), ("vcpus", vcpus)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 32:
                raise InvalidArgument("set_pool: %s must be an int from 0 to 2**32 - 1, "
                                      "not %r" % (name, v))
        check(capi.edera_pool_set(self.ptr, (memory_mib, vcpus, shells)))

    def pool_stats(self, memory_mib: int, vcpus: int = 1) -> PoolStats:
        """What the pool has of the shape MEMORY_MIB, VCPUS now;
        NotFoundError when there is no such shape."""
        return struct_to(PoolStats, capi.edera_pool_stats_get(self.ptr, memory_mib, vcpus))

    # ---- zones -------------------------------------------------------------
    def _config(self, config: Optional[ZoneConfig], kw: dict) -> ZoneConfig:
        if config is not None:
            if kw:
                raise TypeError("pass a ZoneConfig or keyword arguments, not both")
            if not isinstance(config, ZoneConfig):
                raise TypeError("config must be an edera.ZoneConfig, not %s"
                                % type(config).__name__)
            return config
        return ZoneConfig(**kw)

    async def create_zone(self, config: Optional[ZoneConfig] = None, **kw) -> "Zone":
        """Create and start a zone; takes a ZoneConfig or its fields as
        keyword arguments (``name=..., kernel=..., memory_mib=...``).

        Raises TypeError/ValueError for a bad configuration (before C),
        edera.Error for what C refuses (ExistsError: name in use;
        NotFoundError: kernel or initrd missing; InvalidArgument: not a PV
        kernel ...): then nothing is left behind.

        Cancelling the awaiting task *detaches* the creation (C cannot stop
        it half way): when it completes, the zone is destroyed, so nothing
        is left either way.
        """
        cfg = self._config(config, kw)

        def undo(status, zptr):
            if status >= 0 and zptr is not None and self._ptr is not None:
                self._zone(zptr)._destroy_detached()

        return await self._start(
            lambda cb: capi.edera_zone_create(self.ptr, cfg._to_c(), cb),
            lambda st, zptr: self._zone(zptr) if check(st) >= 0 else None, undo)

    def create_zone_sync(self, config: Optional[ZoneConfig] = None, **kw) -> "Zone":
        """The blocking form of create_zone()."""
        cfg = self._config(config, kw)
        return self._zone(self._sync(capi.edera_zone_create_sync, self.ptr, cfg._to_c()))

    def zones(self) -> List["Zone"]:
        """The context's zones (edera_zone_next)."""
        out, z = [], capi.edera_zone_next(self.ptr, None)
        while z is not None:
            out.append(self._zone(z))
            z = capi.edera_zone_next(self.ptr, z)
        return out

    def __iter__(self) -> Iterator["Zone"]:
        return iter(self.zones())

    def zone(self, name: str) -> Optional["Zone"]:
        """The zone called NAME, or None."""
        if not isinstance(name, str):
            raise TypeError("name must be a str")
        return self._zone(capi.edera_zone_lookup(self.ptr, name))

    def zone_by_domid(self, domid: int) -> Optional["Zone"]:
        if isinstance(domid, bool) or not isinstance(domid, int) or not 0 <= domid < 2**32:
            raise ValueError("domid must be an int from 0 to 2**32-1")
        return self._zone(capi.edera_zone_lookup_domid(self.ptr, domid))

    def zone_by_uuid(self, uuid: str) -> Optional["Zone"]:
        if not isinstance(uuid, str):
            raise TypeError("uuid must be a str")
        return self._zone(capi.edera_zone_lookup_uuid(self.ptr, uuid))

    async def reattach(self) -> Tuple[int, int]:
        """Take over the zones libedera left running on this host (see
        edera_zone_reattach): returns (taken over, cleaned up); the zones
        taken over are in zones().  Cancel: detached (it completes; the
        zones it took over are in zones())."""
        def done(st, a, c):
            check(st)
            self.zones()  # Zone objects (and exit callbacks) for the zones taken over
            return a, c
        return await self._start(lambda cb: capi.edera_zone_reattach(self.ptr, cb), done,
                                 lambda st, a, c: self.zones() if st >= 0 else None)

    def reattach_sync(self) -> Tuple[int, int]:
        """The blocking form of reattach()."""
        a, c = self._sync(capi.edera_zone_reattach_sync, self.ptr)
        self.zones()
        return a, c


from .zone import Zone  # noqa: E402  (the type of the annotations above)

__all__ = ["Context", "HostInfo", "Disk", "Nic", "ZoneConfig", "Zone"]
