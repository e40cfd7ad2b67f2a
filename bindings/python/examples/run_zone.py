#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run a zone (the Python twin of examples/zone.c): build a PV domain from a
kernel and initrd, print its console output as it comes, wait for it to
stop (asking it to after SECONDS) and clean up.  In dom0, as root:

    run_zone.py KERNEL [INITRD|- [CMDLINE [SECONDS]]]
"""
import asyncio
import sys

import edera


async def main(argv) -> int:
    if len(argv) < 2:
        print("usage: run_zone.py KERNEL [INITRD|- [CMDLINE [SECONDS]]]", file=sys.stderr)
        return 2
    kernel = argv[1]
    initrd = argv[2] if len(argv) > 2 and argv[2] != "-" else None
    cmdline = argv[3] if len(argv) > 3 else "console=hvc0 quiet"
    seconds = float(argv[4]) if len(argv) > 4 else 120
    try:
        async with edera.Context() as ctx:
            zone = await ctx.create_zone(name="edera-example", kernel=kernel, initrd=initrd,
                                         cmdline=cmdline, memory_mib=256)
            print("zone: '%s' is domain %d (uuid %s)" % (zone.name, zone.domid, zone.uuid))

            # from the start: what it wrote before this is replayed
            stream = zone.console(replay=True)

            async def show():
                at_line_start = True
                async for chunk in stream:  # ends after the zone stopped
                    for line in chunk.replace(b"\r", b"").splitlines(keepends=True):
                        if at_line_start:
                            sys.stdout.write("  | ")
                        sys.stdout.write(line.decode(errors="replace"))
                        at_line_start = line.endswith(b"\n")
                    sys.stdout.flush()

            shower = asyncio.ensure_future(show())
            try:
                reason = await asyncio.wait_for(asyncio.shield(zone.wait()), seconds)
            except asyncio.TimeoutError:
                print("\nzone: asking '%s' to power off" % zone.name)
                try:
                    reason = await zone.shutdown(timeout=30)
                except edera.TimedOut as e:
                    print("zone: %s" % e, file=sys.stderr)
                    reason = None
                    stream.close()  # it still runs: stop reading (destroyed below)
            await shower
            # not "if reason": ExitReason.POWEROFF is 0, which is falsy
            print("\nzone: '%s' stopped: %s" % (
                zone.name, "timed out" if reason is None
                else getattr(reason, "name", str(reason)).lower()))
            await zone.destroy()
            return 0 if reason == edera.ExitReason.POWEROFF else 1
    except edera.Error as e:
        print("zone: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv)))
