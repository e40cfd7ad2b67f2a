#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python bindings cost: the same work from Python (asyncio and
the blocking forms) and from the C API (bench/api-bench), in the same rig
boot, ratios printed, nothing asserted.

  create   create -> running of the minimal kernel (16 MiB, waiting), then
           destroyed: median of ROUNDS, seconds
  console  the minimal kernel writes MIB MiB to its console, read by an
           ``async for`` over zone.console(): MiB/s from start to its exit
           with every byte read, median of 3

Usage (in the rig; make bench runs it):
  py-bench.py API_BENCH MINI_KERNEL [ROUNDS [MIB]]"""
import asyncio
import statistics
import subprocess
import sys
import time

import edera


async def create_async(ctx, kernel, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.monotonic()
        zone = await ctx.create_zone(name="py-bench", kernel=kernel, cmdline="reason=wait",
                                     memory_mib=16)
        times.append(time.monotonic() - t0)
        await zone.destroy()
    return statistics.median(times)


def create_blocking(ctx, kernel, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.monotonic()
        zone = ctx.create_zone_sync(name="py-bench", kernel=kernel, cmdline="reason=wait",
                                    memory_mib=16)
        times.append(time.monotonic() - t0)
        zone.destroy_sync()
    return statistics.median(times)


async def console_once(ctx, kernel, nbytes):
    t0 = time.monotonic()
    zone = await ctx.create_zone(name="py-bench-console", kernel=kernel,
                                 cmdline="flood=%d reason=poweroff" % nbytes, memory_mib=16,
                                 start_paused=True)
    got = 0
    async with zone.console() as stream:
        zone.unpause()
        async for chunk in stream:
            got += len(chunk)
    elapsed = time.monotonic() - t0
    await zone.destroy()
    if got < nbytes:
        raise SystemExit("py-bench: %d of %d console bytes arrived" % (got, nbytes))
    return nbytes / (1 << 20) / elapsed


async def main_async(kernel, rounds, mib):
    async with edera.Context() as ctx:
        create = await create_async(ctx, kernel, rounds)
        console = statistics.median([await console_once(ctx, kernel, mib << 20)
                                     for _ in range(3)])
    return create, console


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    api_bench, kernel = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    mib = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    out = subprocess.run([api_bench, kernel, str(rounds), str(mib)], check=True,
                         capture_output=True, text=True).stdout
    c = dict((k, float(v)) for k, v in (line.split() for line in out.splitlines()))
    create, console = asyncio.run(main_async(kernel, rounds, mib))
    ctx = edera.Context()
    try:
        blocking = create_blocking(ctx, kernel, rounds)
    finally:
        ctx.close()
    print("Python bindings against the C API (minimal kernel, 16 MiB; medians)")
    print("%-44s %10s %10s %7s" % ("", "Python", "C", "ratio"))
    print("%-44s %9.4fs %9.4fs %6.2fx" % ("create -> running, asyncio (%d rounds)" % rounds,
                                           create, c["create"], create / c["create"]))
    print("%-44s %9.4fs %9.4fs %6.2fx" % ("create -> running, blocking forms", blocking,
                                           c["create"], blocking / c["create"]))
    print("%-44s %6.2fMiB/s %6.2fMiB/s %6.2fx" % ("console, %d MiB read (3 runs)" % mib, console,
                                                   c["console"], console / c["console"]))


if __name__ == "__main__":
    main()
