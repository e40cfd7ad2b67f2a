# SPDX-License-Identifier: LGPL-2.1-or-later
"""Errors: codes, classes, messages, without Xen."""
import errno
import os

import pytest

import edera
from edera import capi

no_xen = pytest.mark.skipif(os.path.exists("/proc/xen/capabilities")
                            or os.path.exists("/dev/xen/privcmd"),
                            reason="this host has Xen: the no-Xen error cannot happen")


@no_xen
def test_context_without_xen_raises_the_clear_error():
    with pytest.raises(edera.Error) as ei:
        edera.Context()
    e = ei.value
    assert isinstance(e, edera.NoXenError) and isinstance(e, OSError)
    assert e.code == capi.EDERA_ENOXEN == -1000
    assert e.name == "EDERA_ENOXEN"
    assert e.errno is None  # libedera's own code: no errno fits
    assert str(e).startswith("no Xen hypervisor")
    assert "run in dom0" in str(e)
    # the message is the library's own, read in the same call
    assert str(e) == capi.edera_last_error()


@no_xen
def test_context_error_is_raised_again_each_time_and_leaves_nothing():
    for _ in range(3):
        with pytest.raises(edera.NoXenError):
            edera.Context()


def test_errno_codes_are_catchable_as_builtin_oserrors():
    cases = [
        (capi.EDERA_ENOENT, FileNotFoundError, edera.NotFoundError, errno.ENOENT),
        (capi.EDERA_EEXIST, FileExistsError, edera.ExistsError, errno.EEXIST),
        (capi.EDERA_EACCES, PermissionError, edera.PermissionDenied, errno.EACCES),
        (capi.EDERA_EPERM, PermissionError, edera.NotPermitted, errno.EPERM),
        (capi.EDERA_ETIMEDOUT, TimeoutError, edera.TimedOut, errno.ETIMEDOUT),
        (capi.EDERA_EAGAIN, BlockingIOError, edera.TryAgain, errno.EAGAIN),
        (capi.EDERA_ECONNRESET, ConnectionResetError, edera.ConnectionLost, errno.ECONNRESET),
    ]
    for code, builtin, cls, eno in cases:
        e = edera.error_from(code)
        assert type(e) is cls
        assert isinstance(e, builtin) and isinstance(e, edera.Error)
        assert e.errno == eno and e.code == code == -eno
        assert e.name == capi.edera_errname(code)


def test_codes_without_a_subclass_are_plain_errors_with_errno():
    e = edera.error_from(capi.EDERA_ENOSPC)
    assert type(e) is edera.Error
    assert e.errno == errno.ENOSPC
    assert e.strerror == "no space left"


def test_strerror_and_errname_cover_every_code():
    codes = [getattr(capi, n) for n in dir(capi)
             if n.startswith("EDERA_E") and n != "EDERA_EDERA" and isinstance(getattr(capi, n), int)
             and getattr(capi, n) < 0]
    assert capi.EDERA_ENOXEN in codes and capi.EDERA_EXENVERSION in codes
    for c in codes:
        assert edera.strerror(c) != "unknown error", c
        assert edera.errname(c).startswith("EDERA_E")
    assert edera.strerror(-99999) == "unknown error"
    assert edera.errname(-99999) == "EDERA_UNKNOWN"


def test_failed_c_call_raises_with_the_message_of_that_call():
    with pytest.raises(edera.InvalidArgument) as ei:
        capi.edera_xs_read_sync(None, None, "/local")
    e = ei.value
    assert e.code == capi.EDERA_EINVAL and e.errno == errno.EINVAL
    assert "ctx" in str(e)  # the library's detailed message, not strerror's
    assert str(e) != edera.strerror(capi.EDERA_EINVAL)


def test_error_is_an_oserror_subclass_with_a_docstring():
    assert issubclass(edera.Error, OSError)
    assert "code" in edera.Error.__doc__
