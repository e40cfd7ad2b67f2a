# SPDX-License-Identifier: LGPL-2.1-or-later
"""libedera from Python: isolation zones on Xen PV, with asyncio.

    import asyncio, edera

    async def main():
        async with edera.Context() as ctx:
            zone = await ctx.create_zone(name="web-1", kernel="/boot/vmlinuz",
                                         initrd="web.cpio.gz", cmdline="console=hvc0",
                                         memory_mib=256, nics=[edera.Nic(bridge="br0")])
            async for chunk in zone.console(replay=True):
                ...
            reason = await zone.shutdown(timeout=30)    # edera.ExitReason.POWEROFF

    asyncio.run(main())

Every slow call is a coroutine with a blocking ``_sync`` twin.  Failures
raise edera.Error (an OSError: .code, .name, .errno, the library's
message); bad arguments raise TypeError or ValueError before reaching C.
The raw SWIG module is edera.capi.
"""
from . import capi
from ._errors import (Cancelled, ConnectionLost, Error, ExistsError, InvalidArgument,
                      NoXenError, NotFoundError, NotPermitted, PermissionDenied, TimedOut,
                      TryAgain, error_from)
from .config import ConsoleMode, Disk, Nic, ZoneConfig
from .context import Context, HostInfo, PoolStats
from .xenstore import Perm, PermEntry, Transaction, Watch, XenStore, XsStats
from .zone import (ConsoleStats, ConsoleStream, Device, DeviceKind, EventChannel, ExitReason,
                   Share, Subscription, Zone, ZoneInfo, ZoneState)

__version__ = capi.edera_version()
version = capi.edera_version
version_number = capi.edera_version_number
strerror = capi.edera_strerror
errname = capi.edera_errname

__all__ = [
    "Cancelled", "ConnectionLost", "ConsoleMode", "ConsoleStats", "ConsoleStream", "Context",
    "Device", "DeviceKind", "Disk", "Error", "EventChannel", "ExistsError", "ExitReason",
    "HostInfo", "InvalidArgument", "Nic", "NoXenError", "NotFoundError", "NotPermitted",
    "Perm", "PermEntry", "PermissionDenied", "PoolStats", "Share", "Subscription", "TimedOut",
    "Transaction", "TryAgain", "Watch", "XenStore", "XsStats", "Zone", "ZoneConfig",
    "ZoneInfo", "ZoneState", "capi", "error_from", "errname", "strerror", "version",
    "version_number",
]
