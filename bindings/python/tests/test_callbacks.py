# SPDX-License-Identifier: LGPL-2.1-or-later
"""Callback references on the host: a start that fails at once releases the
callable (C will never call it); the typemaps refuse non-callables.  What
happens once C holds a callback (released on its only call) is proven in the
rig (tests/rig/test_lifetimes.py)."""
import gc
import sys

import pytest

import edera
from edera import capi


def refs(o):
    gc.collect()
    return sys.getrefcount(o)


STARTS = [
    ("edera_host_info_query", lambda cb: capi.edera_host_info_query(None, cb)),
    ("edera_xs_read", lambda cb: capi.edera_xs_read(None, None, "/a", cb)),
    ("edera_xs_write", lambda cb: capi.edera_xs_write(None, None, "/a", b"v", cb)),
    ("edera_xs_directory", lambda cb: capi.edera_xs_directory(None, None, "/a", cb)),
    ("edera_xs_get_perms", lambda cb: capi.edera_xs_get_perms(None, None, "/a", cb)),
    ("edera_xs_set_perms", lambda cb: capi.edera_xs_set_perms(None, None, "/a", [(0, 1)], cb)),
    ("edera_xs_get_domain_path", lambda cb: capi.edera_xs_get_domain_path(None, 1, cb)),
    ("edera_zone_reattach", lambda cb: capi.edera_zone_reattach(None, cb)),
    ("edera_zone_create", lambda cb: capi.edera_zone_create(
        None, {"name": "a", "kernel": "/k"}, cb)),
]


@pytest.mark.parametrize("name,start", STARTS, ids=[s[0] for s in STARTS])
def test_failed_start_releases_the_callback(name, start):
    def cb(*args):
        raise AssertionError("C must not call a callback whose start failed")

    before = refs(cb)
    for _ in range(20):
        with pytest.raises(edera.InvalidArgument):
            start(cb)
    assert refs(cb) == before
    assert capi.ed_py_pending_count() == 0


def test_failed_transaction_start_releases_both_callables():
    body, done = (lambda t: None), (lambda st: None)
    pair = (body, done)
    b0, d0, p0 = refs(body), refs(done), refs(pair)
    for _ in range(20):
        with pytest.raises(edera.InvalidArgument):
            capi.edera_xs_transaction(None, pair)
    assert (refs(body), refs(done), refs(pair)) == (b0, d0, p0)


@pytest.mark.parametrize("call", [
    lambda: capi.edera_xs_read(None, None, "/a", 42),
    lambda: capi.edera_xs_done_dummy if False else capi.edera_xs_rm(None, None, "/a", "no"),
    lambda: capi.edera_xs_transaction(None, lambda t: None),
    lambda: capi.edera_xs_transaction(None, (print, 3)),
    lambda: capi.edera_xs_watch_add(None, "/a", None),
])
def test_non_callables_are_refused_before_c(call):
    with pytest.raises(TypeError):
        call()


def test_optional_callbacks_accept_none():
    # None is "no callback" where C allows NULL (edera_zone_shutdown's cb):
    # the call then fails on the NULL zone, not on the callback
    with pytest.raises(edera.Error):
        capi.edera_zone_shutdown(None, 0, 0, None)


def test_input_buffers_accept_bytes_str_and_memoryview_and_are_released():
    data = bytearray(b"value")
    for v in (b"value", "välue", memoryview(data), data):
        with pytest.raises(edera.InvalidArgument):
            capi.edera_xs_write_sync(None, None, "/a", v)
    data.extend(b"!")  # a held buffer export would make this raise BufferError
    with pytest.raises(TypeError):
        capi.edera_xs_write_sync(None, None, "/a", 5)


def test_permission_lists_are_checked():
    for bad in ("r", [(0,)], [("0", 1)], 5):
        with pytest.raises(TypeError):
            capi.edera_xs_set_perms_sync(None, None, "/a", bad)
