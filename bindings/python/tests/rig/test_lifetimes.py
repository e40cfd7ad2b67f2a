# SPDX-License-Identifier: LGPL-2.1-or-later
"""References and memory over many zones: 20 create/destroy cycles leave the
process's object count, callback references and memory flat; an exception
in a callback is never lost."""
import asyncio
import gc
import resource
import sys

import pytest

import edera


@pytest.mark.asyncio
async def test_twenty_create_destroy_cycles_keep_counts_flat(mini_kernel):
    async with edera.Context() as ctx:
        async def cycle(i):
            z = await ctx.create_zone(name="py-cycle", kernel=mini_kernel, cmdline="reason=wait",
                                      memory_mib=16)
            async with z.console(replay=True) as s:
                await asyncio.wait_for(s.__anext__(), 30)
            await z.destroy()

        await cycle(0)  # warm up caches
        gc.collect()
        objs, rss = len(gc.get_objects()), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        probe = object()
        base = sys.getrefcount(probe)
        for i in range(20):
            await cycle(i)
        gc.collect()
        assert len(gc.get_objects()) - objs < 200
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 8 * 1024  # KiB
        assert sys.getrefcount(probe) == base
        assert edera.capi.ed_py_pending_count() == 0


@pytest.mark.asyncio
async def test_one_shot_callback_released_after_its_call():
    async with edera.Context() as ctx:
        fut = asyncio.get_running_loop().create_future()

        def cb(status, value):
            fut.set_result(status)
        before = sys.getrefcount(cb)
        edera.capi.edera_xs_read(ctx.ptr, None, "/local/domain/0/name", cb)
        assert sys.getrefcount(cb) == before + 1  # C holds it
        ctx._kick()
        await asyncio.wait_for(fut, 10)
        await asyncio.sleep(0)
        assert sys.getrefcount(cb) == before  # released on its only call


@pytest.mark.asyncio
async def test_exception_in_a_callback_reaches_the_exception_handler(mini_kernel):
    loop = asyncio.get_running_loop()
    seen = []
    loop.set_exception_handler(lambda l, c: seen.append(c.get("exception")))
    try:
        async with edera.Context() as ctx:
            z = await ctx.create_zone(name="py-raises", kernel=mini_kernel,
                                      cmdline="reason=poweroff", memory_mib=16)

            def bad(chunk):
                raise KeyError("from a console callback")
            sub = z.subscribe(bad, replay=True)
            await asyncio.wait_for(z.wait(), 60)
            for _ in range(50):
                if seen:
                    break
                await asyncio.sleep(0.1)
            sub.unsubscribe()
            await z.destroy()
    finally:
        loop.set_exception_handler(None)
    assert any(isinstance(e, KeyError) for e in seen)


def test_exception_in_a_callback_is_raised_by_the_blocking_call():
    with edera.Context() as ctx:
        def body(t):
            raise LookupError("from a transaction body")
        with pytest.raises(LookupError):
            ctx.xs.transaction_sync(body)
        assert edera.capi.ed_py_pending_count() == 0
