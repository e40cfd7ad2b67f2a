# SPDX-License-Identifier: LGPL-2.1-or-later
"""Driving a context's libuv loop from asyncio.

The loop's backend fd (an epoll fd) becomes readable whenever libuv has
something to do; asyncio watches it with add_reader and runs the libuv loop
once without blocking (UV_RUN_NOWAIT).  libuv's timers are not in that fd:
after every run, and after every call that may add or change a handle or a
timer, the timeout of the loop's next timer (uv_backend_timeout) is read
again and an asyncio timer armed for it.  Debian 12's libuv 1.44 has no
UV_LOOP_INTERRUPT_ON_IO_CHANGE, so this re-arming is what keeps it right
(libvirt-python's libvirtaio.py maps libvirt's loop the same way).

An exception a Python callback raised is kept by the extension and raised by
the next call; here, each one goes to the asyncio loop's exception handler.
"""
from __future__ import annotations

import asyncio
from typing import Optional

from . import capi


class LoopDriver:
    def __init__(self, ctx, loop: asyncio.AbstractEventLoop) -> None:
        self._ctx = ctx
        self.loop = loop
        self._fd = capi.ed_py_loop_fd(ctx._ptr)
        self._timer: Optional[asyncio.TimerHandle] = None  # libuv's next timer
        self._soon: Optional[asyncio.Handle] = None  # a run asked for now
        self._closed = False
        loop.add_reader(self._fd, self.run)
        self.arm()

    def _report(self, e: BaseException) -> None:
        self.loop.call_exception_handler({
            "message": "exception in a libedera callback",
            "exception": e,
        })

    def drain(self) -> None:
        """Hand every exception kept from callbacks to the exception handler."""
        while capi.ed_py_pending_count():
            try:
                capi.ed_py_check()
            except Exception as e:  # noqa: BLE001 - reported, not swallowed
                self._report(e)

    def _timer_due(self) -> None:
        self._timer = None
        self.run()

    def _soon_due(self) -> None:
        self._soon = None
        self.run()

    def run(self) -> None:
        """Run what libuv has ready, then re-arm its timer."""
        if self._closed or self._ctx._ptr is None:
            return
        alive = True
        self._ctx._depth += 1
        try:
            alive = bool(capi.ed_py_loop_run(self._ctx._ptr))
        except Exception as e:  # noqa: BLE001
            self._report(e)
        finally:
            self._ctx._depth -= 1
        self.drain()
        self.arm(idle=not alive)

    def arm(self, idle: bool = False) -> None:
        """Re-arm the timer for libuv's next timeout.  IDLE: the loop just
        ran and has nothing active — uv_backend_timeout() then says 0 (run
        now), which must not make a busy loop; the next call re-arms.

        A timer armed for that time or earlier is kept (waking early only
        runs the loop once more): a cancelled asyncio timer stays in the
        asyncio loop's heap until it is due, so cancelling and re-arming on
        every call piled them up while a long libuv timer ran.  A run asked
        for now (timeout 0) leaves the timer alone."""
        if self._closed or self._ctx._ptr is None:
            return
        t = capi.ed_py_loop_timeout(self._ctx._ptr)
        if t == 0:
            if not idle and self._soon is None:
                self._soon = self.loop.call_soon(self._soon_due)
            return
        if t > 0 and self._timer is not None and \
                self._timer.when() <= self.loop.time() + t / 1000.0 + 0.001:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if t > 0:
            self._timer = self.loop.call_later(t / 1000.0, self._timer_due)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for h in (self._timer, self._soon):
            if h is not None:
                h.cancel()
        self._timer = self._soon = None
        if not self.loop.is_closed():
            self.loop.remove_reader(self._fd)
