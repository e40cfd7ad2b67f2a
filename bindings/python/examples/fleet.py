#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Several zones at once from one asyncio loop: their consoles multiplexed
(each line prefixed with its zone's name), and Ctrl-C (or SECONDS passing)
tears them all down.  In dom0, as root:

    fleet.py [-n N] [--seconds S] KERNEL [INITRD|- [CMDLINE]]
"""
import argparse
import asyncio
import signal
import sys

import edera


async def follow(zone):
    """Print the zone's console, line by line, prefixed."""
    pending = b""
    async for chunk in zone.console(replay=True):
        pending += chunk.replace(b"\r", b"")
        *lines, pending = pending.split(b"\n")
        for line in lines:
            print("%-10s| %s" % (zone.name, line.decode(errors="replace")), flush=True)
    if pending:
        print("%-10s| %s" % (zone.name, pending.decode(errors="replace")), flush=True)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=3, help="zones (default 3)")
    ap.add_argument("--seconds", type=float, default=0,
                    help="tear down after S seconds (default: when all stopped, or Ctrl-C)")
    ap.add_argument("kernel")
    ap.add_argument("initrd", nargs="?", default="-")
    ap.add_argument("cmdline", nargs="?", default="console=hvc0 quiet")
    a = ap.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with edera.Context() as ctx:
        results = await asyncio.gather(*(
            ctx.create_zone(name="fleet-%d" % i, kernel=a.kernel,
                            initrd=None if a.initrd == "-" else a.initrd,
                            cmdline=a.cmdline, memory_mib=256) for i in range(a.n)),
            return_exceptions=True)
        zones = [z for z in results if isinstance(z, edera.Zone)]
        for r in results:
            if isinstance(r, BaseException):
                print("fleet: %s" % r, file=sys.stderr)
        followers = [asyncio.ensure_future(follow(z)) for z in zones]
        all_stopped = asyncio.ensure_future(asyncio.gather(*(z.wait() for z in zones)))
        waits = [all_stopped, asyncio.ensure_future(stop.wait())]
        if a.seconds:
            waits.append(asyncio.ensure_future(asyncio.sleep(a.seconds)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not all_stopped.done():
            print("fleet: tearing down %d zones" % len(zones), flush=True)
        # destroy every zone still there, all at once
        await asyncio.gather(*(z.destroy() for z in zones), return_exceptions=True)
        for f in followers + waits:
            f.cancel()
        await asyncio.gather(*followers, *waits, return_exceptions=True)
        for z in zones:
            print("fleet: %s: %s" % (z.name, z.exit_reason.name.lower()
                                     if z.exit_reason is not None else "destroyed"))
    return 0 if len(zones) == a.n else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
