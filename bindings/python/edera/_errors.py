# SPDX-License-Identifier: LGPL-2.1-or-later
"""edera.Error and its subclasses (created by the extension), and the
conversion of a status a callback received into one of them."""
from . import capi
from .capi import (Cancelled, ConnectionLost, Error, ExistsError, InvalidArgument,  # noqa: F401
                   NoXenError, NotFoundError, NotPermitted, PermissionDenied, TimedOut, TryAgain)

__all__ = ["Cancelled", "ConnectionLost", "Error", "ExistsError", "InvalidArgument", "NoXenError",
           "NotFoundError", "NotPermitted", "PermissionDenied", "TimedOut", "TryAgain",
           "check", "error_from"]


def error_from(code: int) -> Error:
    """The exception for CODE (negative), with the library's message for the
    calling thread's last failure when it is about CODE (as in a callback
    that just received it)."""
    msg = capi.edera_last_error()
    if not msg or capi.edera_last_error_code() != code:
        msg = capi.edera_strerror(code)
    cls = capi.error_classes.get(code, Error)
    e = cls(-code, msg) if code > -1000 else cls(msg)
    e.code = code
    e.name = capi.edera_errname(code)
    return e


def check(status: int) -> int:
    """Raise the error for a negative STATUS; return it otherwise."""
    if status < 0:
        raise error_from(status)
    return status
