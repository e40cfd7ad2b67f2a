# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the rig tests."""
import asyncio
import subprocess
import textwrap

XL = "/usr/lib/xen-4.17/bin/xl"

# test_zone.py's second process: creates a zone from the kernel argv[1],
# prints its domid and exits at once, without destroying it (the context is
# not closed).  os._exit() flushes nothing and stdout is a pipe, so the
# print must flush itself (a host test runs this with a stub edera).
REATTACH_CHILD = textwrap.dedent("""
    import edera, sys
    ctx = edera.Context()
    z = ctx.create_zone_sync(name="py-reattach", kernel=sys.argv[1], cmdline="reason=wait",
                             memory_mib=16)
    print(z.domid, flush=True)
    import os; os._exit(0)
""")


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
