# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rig tests: pytest in dom0 against real zones (`make check-python-rig`
inside the rig, as root).  They need what tests/rig/xen-tests.sh and
tests/xen/run-all.sh export: RIG_CACHE (its vmlinuz), EDERA_MINI_KERNEL,
EDERA_GUEST_HELLO, EDERA_GUEST_WAIT, EDERA_GUEST_CRASH, EDERA_GUEST_RES,
EDERA_GUEST_DEV (a test whose variable is missing is skipped, naming it); modules xen-gntalloc, xen-blkback,
xen-netback, loop, bridge.  Without Xen every test is skipped."""
import os

import pytest


def pytest_collection_modifyitems(config, items):
    if not os.path.exists("/proc/xen"):
        skip = pytest.mark.skip(reason="no Xen here (/proc/xen is absent): rig tests run in dom0")
        here = os.path.dirname(os.path.abspath(__file__))
        for item in items:  # (the hook sees the whole session's items)
            if str(item.path).startswith(here + os.sep):
                item.add_marker(skip)


def _env(var: str) -> str:
    v = os.environ.get(var)
    if not v:
        pytest.skip("%s is not set (tests/rig/xen-tests.sh exports it)" % var)
    return v


@pytest.fixture
def linux_kernel() -> str:
    return os.path.join(_env("RIG_CACHE"), "vmlinuz")


@pytest.fixture
def mini_kernel() -> str:
    return _env("EDERA_MINI_KERNEL")


@pytest.fixture
def hello_initrd() -> str:
    return _env("EDERA_GUEST_HELLO")


@pytest.fixture
def res_initrd() -> str:
    return _env("EDERA_GUEST_RES")


@pytest.fixture
def dev_initrd() -> str:
    return _env("EDERA_GUEST_DEV")


@pytest.fixture
def wait_initrd() -> str:
    return _env("EDERA_GUEST_WAIT")


@pytest.fixture
def crash_initrd() -> str:
    return _env("EDERA_GUEST_CRASH")
