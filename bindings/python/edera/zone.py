# SPDX-License-Identifier: LGPL-2.1-or-later
"""Zones and what belongs to them: consoles, devices, shared pages, event
channels, run-time resources."""
from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, List, Optional, Sequence

from . import capi
from ._errors import Error, check, error_from
from .config import Disk, Nic, timeout_ms


class ExitReason(enum.IntEnum):
    """Why a zone stopped (edera_zone_exit).  The values are C's, so
    POWEROFF is 0 and falsy: tell "stopped" from "not stopped" with
    ``reason is None`` (as Zone.exit_reason), not ``if reason``."""
    POWEROFF = capi.EDERA_ZONE_EXIT_POWEROFF
    REBOOT = capi.EDERA_ZONE_EXIT_REBOOT
    SUSPEND = capi.EDERA_ZONE_EXIT_SUSPEND
    CRASH = capi.EDERA_ZONE_EXIT_CRASH
    WATCHDOG = capi.EDERA_ZONE_EXIT_WATCHDOG
    DESTROYED = capi.EDERA_ZONE_EXIT_DESTROYED  #: destroyed by someone else


class ZoneState(enum.IntEnum):
    CREATING = capi.EDERA_ZONE_CREATING
    RUNNING = capi.EDERA_ZONE_RUNNING
    PAUSED = capi.EDERA_ZONE_PAUSED
    SHUTDOWN = capi.EDERA_ZONE_SHUTDOWN
    EXITED = capi.EDERA_ZONE_EXITED


class DeviceKind(enum.IntEnum):
    DISK = capi.EDERA_DEVICE_DISK
    NIC = capi.EDERA_DEVICE_NIC


@dataclass(frozen=True)
class ZoneInfo:
    """What the hypervisor says about a zone now (edera_zone_info)."""
    domid: int
    state: ZoneState
    memory_kib: int
    max_memory_kib: int
    vcpus_online: int
    max_vcpus: int
    cpu_time_ns: int
    target_memory_kib: int
    vcpus_target: int


@dataclass(frozen=True)
class ConsoleStats:
    output_bytes: int
    input_bytes: int
    input_queued: int
    history_bytes: int
    ring_errors: int
    log_errors: int
    connected: bool
    log_bytes: int
    log_dropped: int
    log_queued: int
    log_rotations: int
    notifications: int
    notifications_held: int


def _count(name: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int, not %s" % (name, type(v).__name__))
    if not lo <= v <= hi:
        raise ValueError("%s must be from %d to %d, not %d" % (name, lo, hi, v))
    return v


class Zone:
    """A zone: a Xen PV domain built and served by libedera.

    Got from Context.create_zone(), Context.zones(), the look-ups or
    Context.reattach(); one object per zone handle.  The handle lives until
    destroy() completes or the context closes; after that every method
    raises ValueError.

    Coroutines: shutdown, reboot, destroy, wait, set_memory, set_vcpus,
    attach_disk, attach_nic, write; each slow one has a ``_sync`` twin.
    Consoles: ``async for chunk in zone.console(replay=True)``, history(),
    write(), log().  Raw channels: share_pages(), map_pages(),
    alloc_evtchn(), bind_evtchn().
    """

    def __init__(self, ctx, ptr) -> None:
        self._ctx = ctx
        self._ptr = ptr
        self.name: str = capi.edera_zone_name(ptr)
        self.uuid: str = capi.edera_zone_uuid(ptr)
        self.domid: int = capi.edera_zone_domid(ptr)
        self.exit_reason: Optional[ExitReason] = None
        """Why it stopped, once it has (None while it runs)."""
        self._exit_waiters: List[asyncio.Future] = []
        self._streams: set = set()
        self._subs: set = set()
        self._children: set = set()   # devices, shares, event channels
        self._devices: dict = {}
        self._writable: Optional[asyncio.Future] = None
        self._writable_cb = None
        # Borrowed by C until the handle is freed: held here until _forget.
        self._exit_cb = self._on_exit
        capi.edera_zone_on_exit(ptr, self._exit_cb)

    # ---- plumbing ------------------------------------------------------------
    @property
    def ptr(self):
        """The raw edera_zone handle (for edera.capi)."""
        if self._ptr is None:
            raise ValueError("zone '%s': its handle is gone (destroyed, or its context closed)"
                             % self.name)
        return self._ptr

    def _on_exit(self, zptr, reason: int) -> None:
        try:
            self.exit_reason = ExitReason(reason)
        except ValueError:
            self.exit_reason = reason  # a reason newer than these bindings
        for f in self._exit_waiters:
            if not f.done():
                f.set_result(self.exit_reason)
        self._exit_waiters.clear()
        for s in list(self._streams):
            s._end()
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(error_from(capi.EDERA_ENOTCONN))
        for c in list(self._children):
            c._zone_gone()

    def _forget(self) -> None:
        """The handle is freed (destroy completed, or the context closed):
        nothing of C refers to our callbacks any more."""
        if self._ptr is None:
            return
        self._ctx._zones.pop(int(self._ptr), None)
        self._ptr = None
        for f in self._exit_waiters:
            if not f.done():
                f.set_exception(ValueError("zone '%s' is gone" % self.name))
        self._exit_waiters.clear()
        for s in list(self._streams):
            s._end()
        for s in list(self._subs):
            s._gone()
        for c in list(self._children):
            c._gone()
        self._devices.clear()
        self._exit_cb = None
        self._writable_cb = None

    def __repr__(self) -> str:
        return "<edera.Zone %r domid %d%s>" % (self.name, self.domid,
                                               "" if self._ptr else " (gone)")

    # ---- state -----------------------------------------------------------------
    def info(self) -> ZoneInfo:
        """The zone's state and resources now (fast)."""
        i = capi.edera_zone_info_get(self.ptr)
        return ZoneInfo(i.domid, ZoneState(i.state), i.memory_kib, i.max_memory_kib,
                        i.vcpus_online, i.max_vcpus, i.cpu_time_ns, i.target_memory_kib,
                        i.vcpus_target)

    @property
    def alive(self) -> bool:
        """True while the handle exists and the zone has not stopped."""
        return self._ptr is not None and self.exit_reason is None

    def pause(self) -> None:
        capi.edera_zone_pause(self.ptr)

    def unpause(self) -> None:
        capi.edera_zone_unpause(self.ptr)

    async def wait(self) -> ExitReason:
        """Wait until the zone stops: why it did.  Cancel: only the wait."""
        if self.exit_reason is not None:
            return self.exit_reason
        self.ptr
        f = self._ctx._attach().create_future()
        self._exit_waiters.append(f)
        return await f

    # ---- stopping ----------------------------------------------------------------
    async def shutdown(self, timeout: Optional[float] = None, reboot: bool = False
                       ) -> ExitReason:
        """Ask the guest to power off (or reboot) and wait until it stopped:
        why it did.  TIMEOUT seconds (None: forever) then raises
        edera.TimedOut (destroy() it then).  Cancel: detached — the request
        stays with the guest, which may still stop."""
        ms = timeout_ms("Zone.shutdown", timeout)
        await self._ctx._start(
            lambda cb: capi.edera_zone_shutdown(self.ptr, int(bool(reboot)), ms, cb),
            lambda st, z: check(st))
        return await self.wait()

    async def reboot(self, timeout: Optional[float] = None) -> ExitReason:
        """shutdown(reboot=True)."""
        return await self.shutdown(timeout, reboot=True)

    def shutdown_sync(self, timeout: Optional[float] = None, reboot: bool = False
                      ) -> Optional[ExitReason]:
        ms = timeout_ms("Zone.shutdown_sync", timeout)
        self._ctx._sync(capi.edera_zone_shutdown_sync, self.ptr, int(bool(reboot)), ms)
        return self.exit_reason

    async def destroy(self) -> None:
        """Destroy the domain (if still there) and free the handle.  Cancel:
        detached — the destruction completes anyway."""
        ptr = self.ptr

        def done(st, z):
            if st >= 0:
                self._forget()
            check(st)

        def done_anyway(st, z):
            if st >= 0:
                self._forget()

        await self._ctx._start(lambda cb: capi.edera_zone_destroy(ptr, cb), done, done_anyway)

    def destroy_sync(self) -> None:
        self._ctx._sync(capi.edera_zone_destroy_sync, self.ptr)
        self._forget()

    def _destroy_detached(self) -> None:
        """Destroy with nobody awaiting (a cancelled creation)."""
        def done(st, z):
            if st >= 0:
                self._forget()
        try:
            capi.edera_zone_destroy(self.ptr, done)
        except Error:
            pass  # EDERA_EBUSY: someone else destroys it
        self._ctx._kick()

    # ---- resources ---------------------------------------------------------------
    async def set_memory(self, target_mib: int, timeout: Optional[float] = None) -> int:
        """Balloon to TARGET_MIB (at least EDERA_ZONE_MEMORY_FLOOR_MIB, at
        most the zone's max_memory_mib): returns the KiB reached.  A guest
        that does not get there within TIMEOUT seconds (None: 30) raises
        edera.TimedOut.  Cancel: detached (the target stays with the guest)."""
        _count("target_mib", target_mib, capi.EDERA_ZONE_MEMORY_FLOOR_MIB, 2**44)
        ms = timeout_ms("Zone.set_memory", timeout)
        return await self._ctx._start(
            lambda cb: capi.edera_zone_set_memory(self.ptr, target_mib, ms, cb),
            lambda st, z, kib: kib if check(st) >= 0 else None)

    def set_memory_sync(self, target_mib: int, timeout: Optional[float] = None) -> int:
        _count("target_mib", target_mib, capi.EDERA_ZONE_MEMORY_FLOOR_MIB, 2**44)
        ms = timeout_ms("Zone.set_memory_sync", timeout)
        return self._ctx._sync(capi.edera_zone_set_memory_sync, self.ptr, target_mib, ms)

    async def set_vcpus(self, online: int, timeout: Optional[float] = None) -> None:
        """Have ONLINE vCPUs running (1 to max_vcpus).  Cancel: detached."""
        _count("online", online, 1, 4096)
        ms = timeout_ms("Zone.set_vcpus", timeout)
        await self._ctx._start(lambda cb: capi.edera_zone_set_vcpus(self.ptr, online, ms, cb),
                               lambda st, z: check(st) and None)

    def set_vcpus_sync(self, online: int, timeout: Optional[float] = None) -> None:
        _count("online", online, 1, 4096)
        self._ctx._sync(capi.edera_zone_set_vcpus_sync, self.ptr, online,
                        timeout_ms("Zone.set_vcpus_sync", timeout))

    # ---- console -------------------------------------------------------------------
    def console(self, replay: bool = False) -> "ConsoleStream":
        """The guest's output as an async iterator of bytes, in order, from
        now on (REPLAY: the history first).  It ends after the zone stops
        (its last output included).  Close it (``async with``, close()) to
        unsubscribe: until then (or until the zone's handle is gone) it
        keeps every chunk for its reader, so close a stream you stop
        reading."""
        return ConsoleStream(self, replay)

    def subscribe(self, callback: Callable[[bytes], Any], replay: bool = False
                  ) -> "Subscription":
        """Call CALLBACK(chunk) on the loop with each piece of output.  An
        exception it raises goes to asyncio's exception handler (or is raised
        by the next blocking call).  Returns a Subscription; unsubscribe()."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        return Subscription(self, lambda z, b: callback(b), replay)

    def history(self, max_bytes: Optional[int] = None) -> bytes:
        """The newest output kept (at most MAX_BYTES; None: all of it)."""
        if max_bytes is None:
            max_bytes = capi.edera_console_stats_get(self.ptr).history_bytes
        _count("max_bytes", max_bytes, 0, 2**31)
        return capi.edera_console_history(self.ptr, max_bytes)

    def write_nowait(self, data) -> int:
        """Queue input for the guest: how many bytes were taken (0 if the
        queue is full)."""
        try:
            return capi.edera_console_write(self.ptr, data)
        except Error as e:
            if e.code == capi.EDERA_EAGAIN:
                return 0
            raise

    async def write(self, data) -> None:
        """Write all of DATA (bytes or str) to the guest's console, waiting
        while its input queue is full (the guest is not reading).  Cancel:
        what was queued stays queued; the rest is not written."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data).cast("B")
        loop = self._ctx._attach()
        while len(view):
            n = self.write_nowait(view)
            view = view[n:]
            if not len(view):
                break
            if self._writable_cb is None:
                self._writable_cb = self._on_writable
                capi.edera_console_on_writable(self.ptr, self._writable_cb)
            self._writable = loop.create_future()
            # it may have drained meanwhile
            n = self.write_nowait(view)
            view = view[n:]
            if n:
                continue
            self._ctx._kick()
            await self._writable

    def _on_writable(self, zptr) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def log(self, path: Optional[str]) -> None:
        """Append the output to the file PATH from now on (None: stop)."""
        if path is not None and not isinstance(path, str):
            import os
            path = os.fspath(path)
        capi.edera_console_log(self.ptr, path)

    def console_stats(self) -> ConsoleStats:
        s = capi.edera_console_stats_get(self.ptr)
        return ConsoleStats(s.output_bytes, s.input_bytes, s.input_queued, s.history_bytes,
                            s.ring_errors, s.log_errors, bool(s.connected), s.log_bytes,
                            s.log_dropped, s.log_queued, s.log_rotations, s.notifications,
                            s.notifications_held)

    # ---- devices --------------------------------------------------------------------
    def _device(self, dptr) -> "Device":
        d = self._devices.get(int(dptr))
        if d is None:
            d = Device(self, dptr)
            self._devices[int(dptr)] = d
        return d

    def _attach_dev(self, fn, cfg, timeout):
        def undo(st, dptr):
            if st >= 0 and dptr is not None:
                self._device(dptr)._detach_detached()
        return self._ctx._start(lambda cb: fn(self.ptr, cfg._to_c(), timeout_ms(
            "Zone.attach", timeout), cb), lambda st, d: self._device(d) if check(st) >= 0
            else None, undo)

    async def attach_disk(self, disk: Disk, timeout: Optional[float] = None) -> "Device":
        """Attach DISK and wait until the guest's driver connected it
        (TIMEOUT seconds, None: 30).  Cancel: detached, and the device is
        detached again once attached — nothing is left."""
        if not isinstance(disk, Disk):
            raise TypeError("disk must be an edera.Disk")
        return await self._attach_dev(capi.edera_zone_attach_disk, disk, timeout)

    async def attach_nic(self, nic: Nic, timeout: Optional[float] = None) -> "Device":
        """Attach NIC (see attach_disk)."""
        if not isinstance(nic, Nic):
            raise TypeError("nic must be an edera.Nic")
        return await self._attach_dev(capi.edera_zone_attach_nic, nic, timeout)

    def attach_disk_sync(self, disk: Disk, timeout: Optional[float] = None) -> "Device":
        if not isinstance(disk, Disk):
            raise TypeError("disk must be an edera.Disk")
        return self._device(self._ctx._sync(capi.edera_zone_attach_disk_sync, self.ptr,
                                            disk._to_c(), timeout_ms("attach", timeout)))

    def attach_nic_sync(self, nic: Nic, timeout: Optional[float] = None) -> "Device":
        if not isinstance(nic, Nic):
            raise TypeError("nic must be an edera.Nic")
        return self._device(self._ctx._sync(capi.edera_zone_attach_nic_sync, self.ptr,
                                            nic._to_c(), timeout_ms("attach", timeout)))

    def devices(self) -> List["Device"]:
        """The zone's devices (edera_device_next)."""
        out, d = [], capi.edera_device_next(self.ptr, None)
        while d is not None:
            out.append(self._device(d))
            d = capi.edera_device_next(self.ptr, d)
        return out

    # ---- shared pages, event channels ---------------------------------------------
    def share_pages(self, n_pages: int, readonly: bool = False) -> "Share":
        """Share N_PAGES fresh zeroed pages with the zone (Share.refs are
        the grant references to hand it; Share.memory the pages)."""
        _count("n_pages", n_pages, 1, capi.EDERA_SHARE_MAX_PAGES)
        flags = capi.EDERA_SHARE_READONLY if readonly else 0
        return Share(self, capi.edera_share_pages(self.ptr, n_pages, flags), False)

    def map_pages(self, refs: Sequence[int], readonly: bool = False) -> "Share":
        """Map the pages the zone granted to dom0 by REFS."""
        refs = list(refs)
        _count("len(refs)", len(refs), 1, capi.EDERA_SHARE_MAX_PAGES)
        flags = capi.EDERA_SHARE_READONLY if readonly else 0
        return Share(self, capi.edera_share_map(self.ptr, refs, flags), readonly)

    def alloc_evtchn(self, callback: Optional[Callable[["EventChannel"], Any]] = None
                     ) -> "EventChannel":
        """A new event channel the zone may bind (to EventChannel.port).
        Notifications call CALLBACK(channel) on the loop and wake
        EventChannel.wait()."""
        return EventChannel(self, None, callback)

    def bind_evtchn(self, remote_port: int,
                    callback: Optional[Callable[["EventChannel"], Any]] = None
                    ) -> "EventChannel":
        """Bind to REMOTE_PORT, which the zone allocated unbound for dom0."""
        _count("remote_port", remote_port, 1, 2**32 - 1)
        return EventChannel(self, remote_port, callback)


class Subscription:
    """A console subscription (edera_console_subscribe)."""

    def __init__(self, zone: Zone, fn, replay: bool) -> None:
        self._zone = zone
        self._cb = fn  # borrowed by C until unsubscribe or the handle is freed
        self._ptr = None
        flags = capi.EDERA_CONSOLE_REPLAY if replay else 0
        self._ptr = capi.edera_console_subscribe(zone.ptr, flags, self._cb)
        zone._subs.add(self)
        zone._ctx._kick()

    def _gone(self) -> None:
        self._ptr = None
        self._cb = None
        self._zone._subs.discard(self)

    def unsubscribe(self) -> None:
        if self._ptr is not None:
            capi.edera_console_unsubscribe(self._ptr)
        self._gone()


class ConsoleStream:
    """Output of a zone's console as an async iterator of bytes."""

    def __init__(self, zone: Zone, replay: bool) -> None:
        zone._ctx._attach()
        self._zone = zone
        self._queue: asyncio.Queue = asyncio.Queue()
        self._ended = False
        zone._streams.add(self)
        self._sub = Subscription(zone, self._chunk, replay)
        if zone.exit_reason is not None:
            self._end()

    def _chunk(self, zptr, data: bytes) -> None:
        self._queue.put_nowait(data)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)
        self._zone._streams.discard(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self._sub.unsubscribe()
        self._end()

    async def __aenter__(self) -> "ConsoleStream":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


class Device:
    """A disk or NIC of a zone (edera_device)."""

    def __init__(self, zone: Zone, ptr) -> None:
        self._zone = zone
        self._ptr = ptr
        self.kind = DeviceKind(capi.edera_device_kind(ptr))
        self.id: int = capi.edera_device_id(ptr)
        self.host_name: str = capi.edera_device_host_name(ptr)
        """"/dev/loop3" for a disk, "vif5.0" for a NIC."""
        self.mac: Optional[str] = capi.edera_device_mac(ptr)
        zone._children.add(self)

    def _zone_gone(self) -> None:
        pass  # the handle stays valid (dead) until the zone's is freed

    def _gone(self) -> None:
        self._ptr = None
        self._zone._children.discard(self)

    def _forget(self) -> None:
        if self._ptr is not None:
            self._zone._devices.pop(int(self._ptr), None)
        self._gone()

    @property
    def ptr(self):
        if self._ptr is None:
            raise ValueError("the device is gone")
        return self._ptr

    async def detach(self, timeout: Optional[float] = None) -> None:
        """Ask the guest to let go, wait up to TIMEOUT seconds (None: 10),
        then release it anyway.  Cancel: detached (it completes)."""
        ptr = self.ptr
        ms = timeout_ms("Device.detach", timeout)

        def done(st):
            self._forget()
            check(st)
        await self._zone._ctx._start(lambda cb: capi.edera_device_detach(ptr, ms, cb), done,
                                     lambda st: self._forget())

    def detach_sync(self, timeout: Optional[float] = None) -> None:
        self._zone._ctx._sync(capi.edera_device_detach_sync, self.ptr,
                              timeout_ms("Device.detach_sync", timeout))
        self._forget()

    def _detach_detached(self) -> None:
        try:
            capi.edera_device_detach(self.ptr, 0, lambda st: self._forget())
        except Error:
            pass
        self._zone._ctx._kick()

    def __repr__(self) -> str:
        return "<edera.Device %s %d %s>" % (self.kind.name.lower(), self.id, self.host_name)


class Share:
    """Pages shared with a zone (edera_share).  ``memory`` is a memoryview
    of them.  release() refuses (BufferError) while memoryviews are held.

    When the zone goes away the library puts private zeroed pages in the
    zone's place, so a memoryview still held reads zeros rather than
    faulting, until the zone's handle is freed (destroy, context close);
    Share.memory then raises ValueError."""

    def __init__(self, zone: Zone, ptr, readonly: bool) -> None:
        self._zone = zone
        self._ptr = ptr
        self.readonly = readonly
        """A read-only mapping: its memoryview is read-only too."""
        self.refs: List[int] = capi.ed_py_share_refs(ptr)
        """Grant references (ours to hand to the zone, or the zone's)."""
        self.pages: int = capi.edera_share_pages_count(ptr)
        self._buf = capi.ed_py_share_buffer(ptr, int(readonly))
        zone._children.add(self)

    @property
    def memory(self) -> memoryview:
        if self._buf is None:
            raise ValueError("the shared pages are gone")
        return memoryview(self._buf)

    def _zone_gone(self) -> None:
        if self._buf is not None:
            try:
                self._buf.close()
            except BufferError:
                pass  # see the class docstring
            self._buf = None

    def _gone(self) -> None:
        self._zone_gone()
        self._ptr = None
        self._zone._children.discard(self)

    def release(self) -> None:
        """Unmap or revoke the pages (edera_share_release)."""
        if self._ptr is None:
            return
        if self._buf is not None:
            self._buf.close()  # BufferError while memoryviews are held
        capi.edera_share_release(self._ptr)
        self._gone()

    def __enter__(self) -> "Share":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class EventChannel:
    """An event channel to a zone (edera_evtchn)."""

    def __init__(self, zone: Zone, remote_port: Optional[int], callback) -> None:
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        self._zone = zone
        self._user = callback
        self._waiters: List[asyncio.Future] = []
        self._cb = self._notified  # borrowed by C until close()
        self._ptr = None
        if remote_port is None:
            self._ptr = capi.edera_evtchn_alloc_unbound(zone.ptr, self._cb)
        else:
            self._ptr = capi.edera_evtchn_bind(zone.ptr, remote_port, self._cb)
        self.port: int = capi.edera_evtchn_port(self._ptr)
        """dom0's port."""
        zone._children.add(self)
        zone._ctx._kick()

    def _notified(self, chptr) -> None:
        for f in self._waiters:
            if not f.done():
                f.set_result(None)
        self._waiters.clear()
        if self._user is not None:
            self._user(self)

    def notify(self) -> None:
        """Signal the zone."""
        if self._ptr is None:
            raise ValueError("the event channel is closed")
        capi.edera_evtchn_notify(self._ptr)
        self._zone._ctx._kick()

    async def wait(self) -> None:
        """Wait for the next notification.  Cancel: only the wait."""
        if self._ptr is None:
            raise ValueError("the event channel is closed")
        f = self._zone._ctx._attach().create_future()
        self._waiters.append(f)
        await f

    def _zone_gone(self) -> None:
        for f in self._waiters:
            if not f.done():
                f.set_exception(error_from(capi.EDERA_ENOTCONN))
        self._waiters.clear()

    def _gone(self) -> None:
        self._zone_gone()
        self._ptr = None
        self._cb = None
        self._zone._children.discard(self)

    def close(self) -> None:
        """Unbind (edera_evtchn_close)."""
        if self._ptr is not None:
            capi.edera_evtchn_close(self._ptr)
        self._gone()

    def __enter__(self) -> "EventChannel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
