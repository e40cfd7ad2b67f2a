# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python layer's asyncio logic on the host, with edera.capi's C calls
replaced by fakes (no Xen): the libuv loop driver (reader, timer re-arming,
no busy loop when idle, callback exceptions to the exception handler),
cancellation of awaited operations, transactions, console streams.  The
real calls are exercised by the rig tests."""
import asyncio

import pytest

import edera
from edera import capi
from fakec import Ptr  # the fake fixture is conftest.py's


@pytest.mark.asyncio
async def test_the_backend_fd_drives_the_loop(fake):
    async with edera.Context():
        await asyncio.sleep(0.01)
        n = fake.runs
        fake.wake()
        await asyncio.sleep(0.05)
        assert fake.runs == n + 1
    assert fake.closed


@pytest.mark.asyncio
async def test_the_timer_is_armed_from_uv_backend_timeout(fake):
    # libuv: the next timer in 400 ms.  (Far off, so that a loaded machine's
    # delays cannot reorder it with the sleeps below: asyncio runs due
    # timers in deadline order.  It was 30 ms, and flaked under load.)
    fake.timeouts = [400]
    async with edera.Context():
        await asyncio.sleep(0.01)
        assert fake.runs == 0
        await asyncio.sleep(0.5)
        assert fake.runs == 1  # the timer ran it; then -1: nothing armed
        await asyncio.sleep(0.05)
        assert fake.runs == 1


@pytest.mark.asyncio
async def test_an_idle_loop_does_not_spin(fake):
    # uv_backend_timeout says 0 on a loop with nothing active
    async with edera.Context() as ctx:
        fake.alive = 0
        fake.timeouts = [0] * 1000
        ctx._kick()             # a call re-arms: one run...
        await asyncio.sleep(0.05)
        assert fake.runs == 1   # ...and no busy loop after it


@pytest.mark.asyncio
async def test_callback_exceptions_go_to_the_exception_handler(fake, monkeypatch):
    loop = asyncio.get_running_loop()
    seen = []
    loop.set_exception_handler(lambda l, c: seen.append(c["exception"]))
    pending = [KeyError("first"), ValueError("second")]

    def run(ctx):
        fake._run(ctx)
        if pending:
            raise pending.pop(0)  # as the %exception of ed_py_loop_run raises a kept one
        return 1

    def check():
        if pending:
            raise pending.pop(0)
    monkeypatch.setattr(capi, "ed_py_loop_run", run)
    monkeypatch.setattr(capi, "ed_py_pending_count", lambda: len(pending))
    monkeypatch.setattr(capi, "ed_py_check", check)
    try:
        async with edera.Context():
            fake.wake()
            await asyncio.sleep(0.05)
    finally:
        loop.set_exception_handler(None)
    assert [type(e) for e in seen] == [KeyError, ValueError]


@pytest.mark.asyncio
async def test_create_zone_result_and_error(fake):
    async with edera.Context() as ctx:
        t = asyncio.ensure_future(ctx.create_zone(name="web-1", kernel="/k"))
        await asyncio.sleep(0)
        assert fake.calls[-1][0] == "edera_zone_create"
        assert fake.calls[-1][2]["name"] == "web-1"
        fake.cbs["edera_zone_create"](0, Ptr(5))
        z = await t
        assert isinstance(z, edera.Zone) and z.domid == 5 and ctx.zones is not None
        t = asyncio.ensure_future(ctx.create_zone(name="web-2", kernel="/nope"))
        await asyncio.sleep(0)
        fake.cbs["edera_zone_create"](capi.EDERA_ENOENT, None)
        with pytest.raises(FileNotFoundError):
            await t


@pytest.mark.asyncio
async def test_cancelled_create_zone_destroys_what_it_made(fake):
    async with edera.Context() as ctx:
        t = asyncio.ensure_future(ctx.create_zone(name="web-1", kernel="/k"))
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        fake.cbs["edera_zone_create"](0, Ptr(9))   # C completes later
        assert "edera_zone_destroy" in fake.names()
        fake.cbs["edera_zone_destroy"](0, Ptr(9))
        assert 9 not in ctx._zones


@pytest.mark.asyncio
async def test_cancelled_request_is_detached(fake):
    async with edera.Context() as ctx:
        t = asyncio.ensure_future(ctx.xs.read("/a"))
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        fake.cbs["edera_xs_read"](0, b"late")  # dropped, no error anywhere


@pytest.mark.asyncio
async def test_transaction_block_commits_and_reports_a_conflict(fake):
    async with edera.Context() as ctx:
        async def block():
            async with ctx.xs.transaction() as t:
                assert t.attempt == 1
                w = asyncio.ensure_future(t.write("/a", "1"))
                await asyncio.sleep(0)
                assert fake.calls[-1][:3] == ("edera_xs_write", ctx.ptr, t._ptr)
                fake.cbs["edera_xs_write"](0)
                await w
        task = asyncio.ensure_future(block())
        await asyncio.sleep(0)
        body, done = fake.cbs["edera_xs_transaction"]
        body(Ptr(1))
        await asyncio.sleep(0.01)
        assert ("commit", 1) in fake.calls
        body(Ptr(2))                       # a conflict: C runs the body again...
        assert ("abort", 2, capi.EDERA_EAGAIN) in fake.calls  # ...which cannot rerun
        done(capi.EDERA_EAGAIN)
        with pytest.raises(edera.TryAgain):
            await task


@pytest.mark.asyncio
async def test_transaction_block_aborts_on_exception(fake):
    async with edera.Context() as ctx:
        async def block():
            async with ctx.xs.transaction():
                raise RuntimeError("no")
        task = asyncio.ensure_future(block())
        await asyncio.sleep(0)
        body, done = fake.cbs["edera_xs_transaction"]
        body(Ptr(1))
        await asyncio.sleep(0)
        assert ("abort", 1, capi.EDERA_ECANCELED) in fake.calls
        done(capi.EDERA_ECANCELED)
        with pytest.raises(RuntimeError):
            await task


@pytest.mark.asyncio
async def test_run_transaction_retries_the_body(fake):
    async with edera.Context() as ctx:
        attempts = []

        async def body(t):
            attempts.append(t.attempt)
            return "v%d" % t.attempt
        task = asyncio.ensure_future(ctx.xs.run_transaction(body))
        await asyncio.sleep(0)
        b, done = fake.cbs["edera_xs_transaction"]
        b(Ptr(1))
        await asyncio.sleep(0.01)
        b(Ptr(2))                           # conflict at commit: again
        await asyncio.sleep(0.01)
        done(0)
        assert await task == "v2" and attempts == [1, 2]
        assert ("commit", 1) in fake.calls and ("commit", 2) in fake.calls


@pytest.mark.asyncio
async def test_console_stream_yields_in_order_and_ends_with_the_zone(fake):
    async with edera.Context() as ctx:
        z = ctx._zone(Ptr(3))
        stream = z.console(replay=True)
        sub_cb = fake.cbs["edera_console_subscribe"]
        assert fake.calls[-1][2] == capi.EDERA_CONSOLE_REPLAY
        for b in (b"a", b"b", b"c"):
            sub_cb(Ptr(3), b)
        fake.cbs[("exit", 3)](Ptr(3), capi.EDERA_ZONE_EXIT_CRASH)
        got = [c async for c in stream]
        assert got == [b"a", b"b", b"c"]
        assert z.exit_reason is edera.ExitReason.CRASH and await z.wait() == z.exit_reason
        stream.close()
        assert ("unsubscribe", 77) in fake.calls


@pytest.mark.asyncio
async def test_shutdown_returns_the_exit_reason(fake):
    async with edera.Context() as ctx:
        z = ctx._zone(Ptr(4))
        t = asyncio.ensure_future(z.shutdown(timeout=5))
        await asyncio.sleep(0)
        assert fake.calls[-1][1:] == (z.ptr, 0, 5000)
        fake.cbs["edera_zone_shutdown"](0, Ptr(4))
        await asyncio.sleep(0)
        fake.cbs[("exit", 4)](Ptr(4), capi.EDERA_ZONE_EXIT_POWEROFF)
        assert await t is edera.ExitReason.POWEROFF


def test_blocking_calls_are_refused_inside_callbacks(fake):
    with edera.Context() as ctx:
        ctx._depth = 1  # as while the loop runs callbacks
        with pytest.raises(RuntimeError, match="from a libedera callback"):
            ctx.xs.read_sync("/a")
        with pytest.raises(RuntimeError, match="cannot be closed from one of its callbacks"):
            ctx.close()
        ctx._depth = 0


def test_closing_forgets_zones(fake):
    ctx = edera.Context()
    z = ctx._zone(Ptr(8))
    ctx.close()
    assert fake.closed and ctx.closed
    with pytest.raises(ValueError, match="handle is gone"):
        z.info()
    with pytest.raises(ValueError, match="context is closed"):
        ctx.zones()


def test_sync_transaction_body_may_make_sync_calls(fake, monkeypatch):
    # edera_xs_transaction_sync runs BODY on the caller's stack, outside the
    # loop, "using the _sync calls" (xenstore.h): not a callback.
    store = {"/n": b"5"}
    seen = []

    def txn_sync(ctx, body):
        rc = body(Ptr(1))
        seen.append(rc)
        return 0

    def read_sync(ctx, txn, path):
        seen.append(("read", int(txn), path))
        return store[path]

    def write_sync(ctx, txn, path, value):
        seen.append(("write", int(txn), path, value))
        store[path] = value.encode() if isinstance(value, str) else bytes(value)
        return 0
    monkeypatch.setattr(capi, "edera_xs_transaction_sync", txn_sync)
    monkeypatch.setattr(capi, "edera_xs_read_sync", read_sync)
    monkeypatch.setattr(capi, "edera_xs_write_sync", write_sync)
    with edera.Context() as ctx:
        def bump(t):
            n = int(t.read_sync("/n"))
            ctx.xs.write_sync("/n", str(n + 1), txn=t)
            return n + 1
        assert ctx.xs.transaction_sync(bump) == 6
        assert seen == [("read", 1, "/n"), ("write", 1, "/n", "6"), 0]
        assert ctx._depth == 0

        # nested: a sync transaction in the body of another
        assert ctx.xs.transaction_sync(lambda t: ctx.xs.transaction_sync(bump)) == 7

        # the body cannot close the context: C's call is on the stack
        def closer(t):
            ctx.close()
        with pytest.raises(RuntimeError, match="cannot be closed"):
            ctx.xs.transaction_sync(closer)
        assert not ctx.closed

        # a callback run while a _sync call in the body runs the loop is
        # still refused blocking calls
        def read_running_a_callback(ctx_ptr, txn, path):
            with pytest.raises(RuntimeError, match="from a libedera callback"):
                ctx.xs.read_sync("/n")
            return store[path]
        monkeypatch.setattr(capi, "edera_xs_read_sync", read_running_a_callback)
        assert ctx.xs.transaction_sync(lambda t: t.read_sync("/n")) == b"7"
        assert ctx._depth == 0
    assert fake.closed
