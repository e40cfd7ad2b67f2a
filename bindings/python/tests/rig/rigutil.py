# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the rig tests."""
import asyncio
import subprocess

XL = "/usr/lib/xen-4.17/bin/xl"


def xl_domains() -> int:
    out = subprocess.run([XL, "list"], capture_output=True, text=True).stdout
    return len(out.splitlines()) - 1


async def read_until(stream, text: bytes, timeout: float = 120) -> bytes:
    """Console output from STREAM until TEXT shows (TimeoutError after)."""
    seen = b""

    async def go():
        nonlocal seen
        async for chunk in stream:
            seen += chunk
            if text in seen:
                return seen
        raise AssertionError("the console ended before %r: %r" % (text, seen[-500:]))
    return await asyncio.wait_for(go(), timeout)
