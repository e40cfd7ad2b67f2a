# SPDX-License-Identifier: LGPL-2.1-or-later
"""Devices, ballooning, shared pages and event channels from Python."""
import asyncio
import os
import struct
import subprocess
import tempfile

import pytest

import edera
from rigutil import read_until


async def res_zone(ctx, kernel, initrd, name, **kw):
    zone = await ctx.create_zone(name=name, kernel=kernel, initrd=initrd,
                                 cmdline="console=hvc0 quiet loglevel=0", **kw)
    stream = zone.console(replay=True)
    await read_until(stream, b"RES READY")
    return zone, stream


@pytest.mark.asyncio
async def test_balloon_down_and_up(linux_kernel, res_initrd):
    async with edera.Context() as ctx:
        zone, stream = await res_zone(ctx, linux_kernel, res_initrd, "py-balloon",
                                      memory_mib=256, max_memory_mib=384)
        kib = await zone.set_memory(128, timeout=60)
        assert abs(kib - 128 * 1024) <= 2048
        kib = await zone.set_memory(384, timeout=60)
        assert abs(kib - 384 * 1024) <= 4096
        with pytest.raises(ValueError):
            await zone.set_memory(8)
        stream.close()
        await zone.shutdown(timeout=60)
        await zone.destroy()


@pytest.mark.asyncio
async def test_disk_and_nic_attach_and_detach(linux_kernel, dev_initrd):
    img = tempfile.NamedTemporaryFile(suffix=".img", delete=False)
    img.truncate(32 << 20)
    img.close()
    subprocess.run(["mkfs.ext4", "-q", "-F", img.name], check=True)
    subprocess.run("ip link show edbr0 >/dev/null 2>&1 || "
                   "{ ip link add edbr0 type bridge && ip link set edbr0 up; }",
                   shell=True, check=True)
    try:
        async with edera.Context() as ctx:
            zone = await ctx.create_zone(name="py-devices", kernel=linux_kernel,
                                         initrd=dev_initrd, memory_mib=256,
                                         cmdline="console=hvc0 quiet loglevel=0 "
                                             "edera.test.args=idle")
            await asyncio.sleep(5)
            disk = await zone.attach_disk(edera.Disk(img.name, "xvdb"), timeout=60)
            nic = await zone.attach_nic(edera.Nic("edbr0"), timeout=60)
            assert disk.kind == edera.DeviceKind.DISK and disk.host_name.startswith("/dev/loop")
            assert nic.kind == edera.DeviceKind.NIC and nic.mac
            assert set(zone.devices()) == {disk, nic}
            await disk.detach(timeout=10)
            await nic.detach(timeout=10)
            assert zone.devices() == []
            await zone.destroy()
    finally:
        os.unlink(img.name)


@pytest.mark.asyncio
async def test_shared_page_and_event_channel_ping_pong(linux_kernel, res_initrd):
    async with edera.Context() as ctx:
        zone, stream = await res_zone(ctx, linux_kernel, res_initrd, "py-pingpong")
        with zone.share_pages(1) as share, zone.alloc_evtchn() as ch:
            mem = share.memory
            await zone.write("map 0 %d - %d\n" % (ch.port, share.refs[0]))
            await read_until(stream, b"RES MAPPED ok", 30)
            await zone.write("pong 100\n")
            for i in range(1, 101):
                struct.pack_into("<Q", mem, 0, i)
                waiter = asyncio.ensure_future(ch.wait())
                ch.notify()
                await asyncio.wait_for(waiter, 10)
                assert struct.unpack_from("<Q", mem, 8)[0] == i
            with pytest.raises(BufferError):
                share.release()  # a memoryview is still held
            mem.release()
        stream.close()
        await zone.destroy()
