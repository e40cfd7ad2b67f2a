# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad configurations fail in Python (TypeError/ValueError), before C."""
import pathlib

import pytest

import edera
from edera import capi


def zc(**kw):
    args = {"name": "web-1", "kernel": "/boot/vmlinuz"}
    args.update(kw)
    return edera.ZoneConfig(**args)


def test_a_good_config_converts_for_c():
    c = zc(initrd=pathlib.Path("/srv/web.cpio.gz"), cmdline="console=hvc0", memory_mib=128,
           nics=[edera.Nic(bridge="br0")], disks=[edera.Disk("/srv/a.img", "xvdb", True)],
           device_timeout=5)
    d = c._to_c()
    assert d["initrd"] == "/srv/web.cpio.gz" and d["memory_mib"] == 128
    assert d["disks"] == [{"path": "/srv/a.img", "vdev": "xvdb", "readonly": True}]
    assert d["nics"][0]["bridge"] == "br0" and d["device_timeout_ms"] == 5000


@pytest.mark.parametrize("kw,exc,words", [
    ({"name": 5}, TypeError, "ZoneConfig.name must be a str"),
    ({"name": ""}, ValueError, "1 to 64 letters"),
    ({"name": "a" * 65}, ValueError, "1 to 64 letters"),
    ({"name": "bad name"}, ValueError, "1 to 64 letters"),
    ({"kernel": None}, TypeError, "ZoneConfig.kernel is required"),
    ({"kernel": 3}, TypeError, "ZoneConfig.kernel must be a path"),
    ({"kernel": b"/boot/vmlinuz"}, TypeError, "must be a path"),
    ({"kernel": ""}, ValueError, "must not be empty"),
    ({"kernel": "/boot/\0x"}, ValueError, "NUL"),
    ({"memory_mib": "256"}, TypeError, "memory_mib must be an int"),
    ({"memory_mib": True}, TypeError, "memory_mib must be an int"),
    ({"memory_mib": 0}, ValueError, "memory_mib must be from 1"),
    ({"memory_mib": 512, "max_memory_mib": 256}, ValueError, "is below memory_mib"),
    ({"vcpus": 0}, ValueError, "vcpus must be from 1"),
    ({"vcpus": 4, "max_vcpus": 2}, ValueError, "is below vcpus"),
    ({"start_paused": 1}, TypeError, "start_paused must be a bool"),
    ({"console_mode": 7}, ValueError, "console_mode must be a ConsoleMode"),
    ({"console_history_kib": 16385}, ValueError, "console_history_kib must be from 0 to 16384"),
    ({"disks": "xvda"}, TypeError, "disks must be a list of Disk"),
    ({"disks": [{"path": "/x"}]}, TypeError, "disks[0] must be an edera.Disk"),
    ({"nics": [edera.Nic("br0")] * 17}, ValueError, "at most 16"),
    ({"disks": [edera.Disk("/a"), edera.Disk("/b")]}, ValueError, "its own vdev"),
    ({"device_timeout": -1}, ValueError, "positive number of seconds"),
    ({"device_timeout": "5"}, TypeError, "number of seconds"),
])
def test_bad_zone_configs(kw, exc, words):
    with pytest.raises(exc) as ei:
        zc(**kw)
    assert words in str(ei.value)


@pytest.mark.parametrize("make,exc,words", [
    (lambda: edera.Disk(None), TypeError, "Disk.path is required"),
    (lambda: edera.Disk("/x", "sda"), ValueError, "'xvda' to 'xvdp'"),
    (lambda: edera.Disk("/x", readonly="yes"), TypeError, "readonly must be a bool"),
    (lambda: edera.Nic(""), ValueError, "must name a bridge"),
    (lambda: edera.Nic(3), TypeError, "Nic.bridge must be a str"),
    (lambda: edera.Nic("br0", mac="zz:00:00:00:00:00"), ValueError, "aa:bb:cc:dd:ee:ff"),
    (lambda: edera.Nic("br0", mtu=20), ValueError, "68 to 65535"),
    (lambda: edera.Nic("br0", mtu=70000), ValueError, "Nic.mtu must be from 0 to 65535"),
])
def test_bad_device_configs(make, exc, words):
    with pytest.raises(exc) as ei:
        make()
    assert words in str(ei.value)


def test_the_c_typemap_rejects_what_python_did_not_check():
    # the raw module checks types too: a config is a dict of typed fields
    with pytest.raises(TypeError, match="a zone config must be a dict"):
        capi.edera_zone_create_sync(None, ["web-1"])
    with pytest.raises(TypeError, match="name must be a str"):
        capi.edera_zone_create_sync(None, {"name": 3})
    with pytest.raises(ValueError, match="at most 16 disks"):
        capi.edera_zone_create_sync(None, {"name": "a", "disks": [{}] * 17})


def test_c_defaults_are_what_the_headers_say():
    c = capi.edera_zone_config_init()
    assert c.sz > 0 and c.name is None and c.n_disks == 0
    d = capi.edera_disk_config_init()
    assert d.sz > 0 and d.readonly == 0
    assert capi.edera_nic_config_init().mtu == 0
    assert capi.edera_ctx_options_init().loop is None


def test_exit_reasons_match_c():
    assert edera.ExitReason.POWEROFF == 0 and edera.ExitReason.CRASH == 3
    assert edera.ExitReason.DESTROYED == 100
