# SPDX-License-Identifier: LGPL-2.1-or-later
"""examples/run_zone.py on the host, its C calls faked (fakec.py): what it
prints and returns for each way a zone stops.  The rig runs it for real
(tests/rig/test_examples.py)."""
import asyncio
import importlib.util
import os

import pytest

import edera
from edera import capi
from fakec import Ptr

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "run_zone.py")


def load_example():
    spec = importlib.util.spec_from_file_location("run_zone_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


async def until(cond):
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the example did not get there")


async def run_example(fake, reason):
    """Run main(); play C: the zone is created, writes a line, stops for
    REASON (an EDERA_ZONE_EXIT_*), is destroyed."""
    main = asyncio.ensure_future(load_example().main(["run_zone.py", "/k", "/i", "console=hvc0"]))
    await until(lambda: "edera_zone_create" in fake.cbs)
    fake.cbs["edera_zone_create"](0, Ptr(7))
    await until(lambda: "edera_console_subscribe" in fake.cbs)
    fake.cbs["edera_console_subscribe"](Ptr(7), b"EDERA-GUEST-EXIT 3\r\nreboot: System halted\r\n")
    fake.cbs[("exit", 7)](Ptr(7), reason)   # the guest stopped by itself
    await until(lambda: "edera_zone_destroy" in fake.cbs)
    fake.cbs["edera_zone_destroy"](0, Ptr(7))
    return await asyncio.wait_for(main, 5)


@pytest.mark.asyncio
@pytest.mark.parametrize("reason, word, rc", [
    (capi.EDERA_ZONE_EXIT_POWEROFF, "poweroff", 0),   # 0: falsy as an IntEnum
    (capi.EDERA_ZONE_EXIT_CRASH, "crash", 1),
    (capi.EDERA_ZONE_EXIT_REBOOT, "reboot", 1),
])
async def test_run_zone_reports_how_the_zone_stopped(fake, capsys, reason, word, rc):
    assert await run_example(fake, reason) == rc
    out = capsys.readouterr().out
    assert "zone: 'z7' is domain 7" in out
    assert "  | EDERA-GUEST-EXIT 3\n  | reboot: System halted\n" in out
    assert "zone: 'z7' stopped: %s\n" % word in out
    assert "timed out" not in out and "asking" not in out


@pytest.mark.asyncio
@pytest.mark.parametrize("shutdown_status, word, rc", [
    (0, "poweroff", 0),
    (capi.EDERA_ETIMEDOUT, "timed out", 1),
])
async def test_run_zone_asks_the_zone_to_stop_after_seconds(fake, capsys, shutdown_status,
                                                             word, rc):
    main = asyncio.ensure_future(load_example().main(["run_zone.py", "/k", "-", "", "0.01"]))
    await until(lambda: "edera_zone_create" in fake.cbs)
    fake.cbs["edera_zone_create"](0, Ptr(7))
    await until(lambda: "edera_zone_shutdown" in fake.cbs)
    assert fake.calls[-1][2:] == (0, 30000)   # poweroff, 30 s
    fake.cbs["edera_zone_shutdown"](shutdown_status, Ptr(7))
    if shutdown_status == 0:
        await asyncio.sleep(0.01)
        fake.cbs[("exit", 7)](Ptr(7), capi.EDERA_ZONE_EXIT_POWEROFF)
    # a zone that did not stop: the console stream is closed, the zone destroyed
    await until(lambda: "edera_zone_destroy" in fake.cbs)
    fake.cbs["edera_zone_destroy"](0, Ptr(7))
    assert await asyncio.wait_for(main, 5) == rc
    out = capsys.readouterr().out
    assert "zone: asking 'z7' to power off" in out
    assert "zone: 'z7' stopped: %s\n" % word in out


def test_exit_reason_poweroff_is_zero_so_test_it_with_is_none():
    # what made run_zone.py print "timed out" for a guest that powered off
    assert edera.ExitReason.POWEROFF == 0 and not edera.ExitReason.POWEROFF
