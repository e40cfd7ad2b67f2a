# SPDX-License-Identifier: LGPL-2.1-or-later
"""Zones from Python in the rig: boot, console, exits, bad input,
re-attach, several at once, cancellation."""
import asyncio
import os
import subprocess
import sys

import pytest

import edera
from rigutil import REATTACH_CHILD, read_until, xl_domains


@pytest.mark.asyncio
async def test_a_zone_boots_and_its_console_line_arrives(linux_kernel, hello_initrd):
    async with edera.Context() as ctx:
        zone = await ctx.create_zone(name="py-hello", kernel=linux_kernel, initrd=hello_initrd,
                                     cmdline="console=hvc0 quiet edera.test.args=from-python",
                                     memory_mib=256)
        assert zone.domid > 0 and ctx.zone("py-hello") is zone
        async with zone.console(replay=True) as stream:
            out = await read_until(stream, b"EDERA-TEST-PROGRAM from-python 42")
        assert b"from-python" in out
        assert await asyncio.wait_for(zone.wait(), 120) == edera.ExitReason.POWEROFF
        await zone.destroy()
        assert ctx.zones() == []


@pytest.mark.asyncio
@pytest.mark.parametrize("word,reason", [("poweroff", edera.ExitReason.POWEROFF),
                                         ("crash", edera.ExitReason.CRASH),
                                         ("reboot", edera.ExitReason.REBOOT)])
async def test_exit_reasons(mini_kernel, word, reason):
    async with edera.Context() as ctx:
        zone = await ctx.create_zone(name="py-mini-" + word, kernel=mini_kernel,
                                     cmdline="reason=" + word, memory_mib=16)
        assert await asyncio.wait_for(zone.wait(), 60) == reason
        assert zone.exit_reason == reason and not zone.alive
        assert b"EDERA-MINI" in zone.history()
        await zone.destroy()


@pytest.mark.asyncio
@pytest.mark.parametrize("reboot,reason", [(False, edera.ExitReason.POWEROFF),
                                           (True, edera.ExitReason.REBOOT)])
async def test_shutdown_reports_poweroff_and_reboot(linux_kernel, wait_initrd, reboot, reason):
    async with edera.Context() as ctx:
        zone = await ctx.create_zone(name="py-shutdown", kernel=linux_kernel, initrd=wait_initrd,
                                     cmdline="console=hvc0 quiet", memory_mib=256)
        assert await zone.shutdown(timeout=120, reboot=reboot) == reason
        await zone.destroy()


@pytest.mark.asyncio
async def test_a_panicking_guest_reports_crash(linux_kernel, crash_initrd):
    async with edera.Context() as ctx:
        zone = await ctx.create_zone(name="py-crash", kernel=linux_kernel, initrd=crash_initrd,
                                     cmdline="console=hvc0 quiet", memory_mib=256)
        assert await asyncio.wait_for(zone.wait(), 180) == edera.ExitReason.CRASH
        assert b"EDERA-CRASHING" in zone.history()
        await zone.destroy()


@pytest.mark.asyncio
async def test_shutdown_of_a_guest_that_ignores_it_times_out(mini_kernel):
    async with edera.Context() as ctx:
        zone = await ctx.create_zone(name="py-deaf", kernel=mini_kernel, cmdline="reason=wait",
                                     memory_mib=16)
        with pytest.raises(edera.TimedOut) as ei:
            await zone.shutdown(timeout=2)
        assert isinstance(ei.value, TimeoutError)
        await zone.destroy()


@pytest.mark.asyncio
async def test_bad_input_raises_with_the_message_and_leaves_no_domain(linux_kernel):
    before = xl_domains()
    async with edera.Context() as ctx:
        with pytest.raises(edera.NotFoundError) as ei:
            await ctx.create_zone(name="py-nokernel", kernel="/nonexistent/vmlinuz")
        assert "/nonexistent/vmlinuz" in str(ei.value)
        assert isinstance(ei.value, FileNotFoundError)
        with pytest.raises(edera.Error) as ei:
            await ctx.create_zone(name="py-huge", kernel=linux_kernel, memory_mib=1 << 20)
        assert ei.value.code == edera.capi.EDERA_ENOMEM and "MiB" in str(ei.value)
        with pytest.raises(ValueError):
            await ctx.create_zone(name="bad name", kernel=linux_kernel)
        assert ctx.zones() == []
    assert xl_domains() == before


def test_blocking_api(mini_kernel):
    with edera.Context() as ctx:
        info = ctx.host_info()
        assert info.xen_major == 4 and info.xen_minor >= 17
        zone = ctx.create_zone_sync(name="py-sync", kernel=mini_kernel, cmdline="reason=wait",
                                    memory_mib=16)
        assert zone.info().state == edera.ZoneState.RUNNING
        zone.pause()
        assert zone.info().state == edera.ZoneState.PAUSED
        zone.unpause()
        zone.destroy_sync()
        with pytest.raises(ValueError):
            zone.info()


@pytest.mark.asyncio
async def test_three_zones_from_one_loop_with_interleaved_consoles(linux_kernel, hello_initrd):
    async with edera.Context() as ctx:
        zones = await asyncio.gather(*(
            ctx.create_zone(name="py-fleet-%d" % i, kernel=linux_kernel, initrd=hello_initrd,
                            cmdline="console=hvc0 quiet edera.test.args=fleet-%d" % i,
                            memory_mib=256) for i in range(3)))
        seen = await asyncio.gather(*(
            read_until(z.console(replay=True), b"EDERA-TEST-PROGRAM fleet-%d 42" % i)
            for i, z in enumerate(zones)))
        for i, out in enumerate(seen):
            assert b"fleet-%d" % i in out
        await asyncio.gather(*(asyncio.wait_for(z.wait(), 120) for z in zones))
        await asyncio.gather(*(z.destroy() for z in zones))


@pytest.mark.asyncio
async def test_cancelling_create_zone_leaves_nothing(linux_kernel, hello_initrd):
    before = xl_domains()
    async with edera.Context() as ctx:
        task = asyncio.ensure_future(ctx.create_zone(
            name="py-cancel", kernel=linux_kernel, initrd=hello_initrd, memory_mib=256))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the creation completes in C, then the zone is destroyed
        for _ in range(600):
            if not ctx.zones() and xl_domains() == before:
                break
            await asyncio.sleep(0.1)
        assert ctx.zones() == []
    assert xl_domains() == before


def test_reattach_from_a_second_python_process(mini_kernel):
    out = subprocess.run([sys.executable, "-c", REATTACH_CHILD, mini_kernel], check=True,
                         capture_output=True, text=True, env=os.environ).stdout
    domid = int(out.split()[-1])
    with edera.Context() as ctx:
        attached, cleaned = ctx.reattach_sync()
        assert attached >= 1
        zone = ctx.zone("py-reattach")
        assert zone is not None and zone.domid == domid
        assert ctx.zone_by_domid(domid) is zone and ctx.zone_by_uuid(zone.uuid) is zone
        zone.destroy_sync()


@pytest.mark.asyncio
async def test_pool_shell_taken_and_refilled(mini_kernel):
    before = xl_domains()
    async with edera.Context() as ctx:
        ctx.set_pool(16, 1)

        async def ready(n):
            for _ in range(1200):
                st = ctx.pool_stats(16)
                assert st.failed == 0, st.last_error
                if st.ready == n:
                    return st
                await asyncio.sleep(0.1)
            raise AssertionError("%d shells ready after 2 minutes, not %d" % (st.ready, n))

        await ready(1)
        assert xl_domains() == before + 1
        zone = await ctx.create_zone(name="py-pool", kernel=mini_kernel, cmdline="reason=wait",
                                     memory_mib=16)
        st = await ready(1)  # refilled
        assert (st.taken, st.missed, st.shells) == (1, 0, 1)
        await zone.destroy()
        ctx.set_pool(16, 0)
        with pytest.raises(edera.NotFoundError):
            ctx.pool_stats(16)
        with pytest.raises(edera.InvalidArgument):
            ctx.set_pool(8, 1)  # the library's check: 16 MiB at least
        with pytest.raises(edera.InvalidArgument):
            ctx.set_pool(-1, 1)  # the package's
        # the shells go on the threadpool, then their records (closing
        # before would leave the records to the next reattach)
        for _ in range(600):
            try:  # (files the library keeps; shells have one each)
                left = os.listdir("/run/edera/creating")
            except FileNotFoundError:
                left = []
            if not left and xl_domains() == before:
                break
            await asyncio.sleep(0.1)
        assert (left, xl_domains()) == ([], before)
    assert xl_domains() == before
