# SPDX-License-Identifier: LGPL-2.1-or-later
"""Zone, disk and NIC configurations, validated in Python.

Every check the C library makes at once on a configuration is made here
first, so bad input raises TypeError or ValueError with a clear message
before anything reaches C.
"""
from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

from . import capi

PathLike = Union[str, "os.PathLike[str]"]

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_VDEV_RE = re.compile(r"^xvd[a-p]$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
MAX_DEVICES = 16
U32 = 2**32 - 1


class ConsoleMode(enum.IntEnum):
    """Who serves a zone's console."""
    LIBRARY = capi.EDERA_CONSOLE_LIBRARY          #: this process (the default)
    XENCONSOLED = capi.EDERA_CONSOLE_XENCONSOLED  #: xenconsoled (for ``xl console``)


def _int(owner: str, name: str, value, lo: int = 0, hi: int = 2**64 - 1,
         optional: bool = False) -> Optional[int]:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s.%s must be an int, not %s" % (owner, name, type(value).__name__))
    if not lo <= value <= hi:
        raise ValueError("%s.%s must be from %d to %d, not %d" % (owner, name, lo, hi, value))
    return value


def _path(owner: str, name: str, value, optional: bool = False) -> Optional[str]:
    if value is None and optional:
        return None
    if value is None:
        raise TypeError("%s.%s is required" % (owner, name))
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError("%s.%s must be a path (str or os.PathLike), not %s"
                        % (owner, name, type(value).__name__))
    s = os.fspath(value)
    if not isinstance(s, str):
        raise TypeError("%s.%s must be a str path, not bytes" % (owner, name))
    if not s:
        raise ValueError("%s.%s must not be empty" % (owner, name))
    if "\0" in s:
        raise ValueError("%s.%s must not contain NUL" % (owner, name))
    return s


def _str(owner: str, name: str, value, optional: bool = False) -> Optional[str]:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError("%s.%s must be a str, not %s" % (owner, name, type(value).__name__))
    if "\0" in value:
        raise ValueError("%s.%s must not contain NUL" % (owner, name))
    return value


@dataclass
class Disk:
    """A disk for a zone: an image file (attached through a loop device) or
    a block device, seen by the guest as VDEV ("xvda" to "xvdp")."""
    path: PathLike
    vdev: str = "xvda"
    readonly: bool = False

    def __post_init__(self) -> None:
        self.path = _path("Disk", "path", self.path)
        self.vdev = _str("Disk", "vdev", self.vdev)
        if not _VDEV_RE.match(self.vdev):
            raise ValueError("Disk.vdev must be 'xvda' to 'xvdp', not %r" % self.vdev)
        if not isinstance(self.readonly, bool):
            raise TypeError("Disk.readonly must be a bool")

    def _to_c(self) -> dict:
        return {"path": self.path, "vdev": self.vdev, "readonly": self.readonly}


@dataclass
class Nic:
    """A network interface joining the dom0 bridge BRIDGE.  MAC None: a
    stable one derived from the zone's UUID.  MTU 0: 1500."""
    bridge: str
    mac: Optional[str] = None
    mtu: int = 0

    def __post_init__(self) -> None:
        self.bridge = _str("Nic", "bridge", self.bridge)
        if not self.bridge or len(self.bridge.encode()) > 15:
            raise ValueError("Nic.bridge must name a bridge (1 to 15 bytes), not %r"
                             % self.bridge)
        self.mac = _str("Nic", "mac", self.mac, optional=True)
        if self.mac is not None and not _MAC_RE.match(self.mac):
            raise ValueError("Nic.mac must look like 'aa:bb:cc:dd:ee:ff', not %r" % self.mac)
        _int("Nic", "mtu", self.mtu, 0, 65535)
        if self.mtu and self.mtu < 68:
            raise ValueError("Nic.mtu must be 0 (1500) or from 68 to 65535, not %d" % self.mtu)

    def _to_c(self) -> dict:
        return {"bridge": self.bridge, "mac": self.mac, "mtu": self.mtu}


@dataclass
class ZoneConfig:
    """Everything a zone is created from (see edera_zone_config in
    <edera/zone.h>).  Only NAME and KERNEL are required.

    memory_mib: at boot (default 256); max_memory_mib: the ceiling for
    ballooning up (default memory_mib); vcpus / max_vcpus: online at boot
    and the most (default 1 / vcpus); start_paused: leave it paused;
    console_history_kib: output kept for late readers (0: 64, at most 16384);
    console_log: a file the output is appended to, rotated past
    console_log_max_kib; disks / nics: attached at creation, which then waits
    up to device_timeout (seconds, None: 60) for the guest's drivers.
    """
    name: str
    kernel: PathLike
    initrd: Optional[PathLike] = None
    cmdline: Optional[str] = None
    memory_mib: int = 256
    max_memory_mib: Optional[int] = None
    vcpus: int = 1
    max_vcpus: Optional[int] = None
    start_paused: bool = False
    console_mode: ConsoleMode = ConsoleMode.LIBRARY
    console_history_kib: int = 0
    console_log: Optional[PathLike] = None
    console_log_max_kib: int = 0
    disks: Sequence[Disk] = field(default_factory=list)
    nics: Sequence[Nic] = field(default_factory=list)
    device_timeout: Optional[float] = None

    def __post_init__(self) -> None:
        o = "ZoneConfig"
        self.name = _str(o, "name", self.name)
        if not _NAME_RE.match(self.name):
            raise ValueError("ZoneConfig.name must be 1 to 64 letters, digits, '-', '_' or "
                             "'.', not %r" % self.name)
        self.kernel = _path(o, "kernel", self.kernel)
        self.initrd = _path(o, "initrd", self.initrd, optional=True)
        self.cmdline = _str(o, "cmdline", self.cmdline, optional=True)
        _int(o, "memory_mib", self.memory_mib, 1, 2**44)
        _int(o, "max_memory_mib", self.max_memory_mib, 1, 2**44, optional=True)
        if self.max_memory_mib is not None and self.max_memory_mib < self.memory_mib:
            raise ValueError("ZoneConfig.max_memory_mib (%d) is below memory_mib (%d)"
                             % (self.max_memory_mib, self.memory_mib))
        _int(o, "vcpus", self.vcpus, 1, 512)
        _int(o, "max_vcpus", self.max_vcpus, 1, 512, optional=True)
        if self.max_vcpus is not None and self.max_vcpus < self.vcpus:
            raise ValueError("ZoneConfig.max_vcpus (%d) is below vcpus (%d)"
                             % (self.max_vcpus, self.vcpus))
        if not isinstance(self.start_paused, bool):
            raise TypeError("ZoneConfig.start_paused must be a bool")
        try:
            self.console_mode = ConsoleMode(self.console_mode)
        except ValueError:
            raise ValueError("ZoneConfig.console_mode must be a ConsoleMode, not %r"
                             % (self.console_mode,)) from None
        _int(o, "console_history_kib", self.console_history_kib, 0,
             capi.EDERA_CONSOLE_HISTORY_MAX_KIB)
        self.console_log = _path(o, "console_log", self.console_log, optional=True)
        _int(o, "console_log_max_kib", self.console_log_max_kib, 0, U32)
        for what, items, cls in (("disks", self.disks, Disk), ("nics", self.nics, Nic)):
            if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
                raise TypeError("ZoneConfig.%s must be a list of %s" % (what, cls.__name__))
            if len(items) > MAX_DEVICES:
                raise ValueError("ZoneConfig.%s: at most %d, not %d"
                                 % (what, MAX_DEVICES, len(items)))
            for i, d in enumerate(items):
                if not isinstance(d, cls):
                    raise TypeError("ZoneConfig.%s[%d] must be an edera.%s, not %s"
                                    % (what, i, cls.__name__, type(d).__name__))
        vdevs = [d.vdev for d in self.disks]
        if len(set(vdevs)) != len(vdevs):
            raise ValueError("ZoneConfig.disks: each disk needs its own vdev (%s)"
                             % ", ".join(vdevs))
        self.device_timeout_ms = _ms(o, "device_timeout", self.device_timeout)

    def _to_c(self) -> dict:
        return {
            "name": self.name, "kernel": self.kernel, "initrd": self.initrd,
            "cmdline": self.cmdline, "memory_mib": self.memory_mib,
            "max_memory_mib": self.max_memory_mib or 0, "vcpus": self.vcpus,
            "max_vcpus": self.max_vcpus or 0, "start_paused": self.start_paused,
            "console_mode": int(self.console_mode),
            "console_history_kib": self.console_history_kib,
            "console_log": self.console_log, "console_log_max_kib": self.console_log_max_kib,
            "disks": [d._to_c() for d in self.disks], "nics": [n._to_c() for n in self.nics],
            "device_timeout_ms": self.device_timeout_ms,
        }


def _ms(owner: str, name: str, seconds: Optional[float]) -> int:
    """Seconds (None: the library's default) as the milliseconds C takes."""
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s: %s must be a number of seconds, not %s"
                        % (owner, name, type(seconds).__name__))
    if not 0 < seconds <= U32 / 1000:
        raise ValueError("%s: %s must be a positive number of seconds (at most %d), not %r"
                         % (owner, name, U32 // 1000, seconds))
    return max(1, int(seconds * 1000))


def timeout_ms(owner: str, seconds: Optional[float]) -> int:
    return _ms(owner, "timeout", seconds)


def device_list(items) -> List:
    return list(items)
