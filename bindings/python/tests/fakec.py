# SPDX-License-Identifier: LGPL-2.1-or-later
"""The C side of edera.capi faked for the host tests (no Xen): records the
calls, keeps the callbacks C would hold, and stands in for the libuv loop's
backend fd with a pipe.  The ``fake`` fixture (conftest.py) installs it."""
import os

from edera import capi


class Ptr:
    """A stand-in for a SWIG pointer (the package keys handles by int())."""
    def __init__(self, n):
        self.n = n

    def __int__(self):
        return self.n


class FakeC:
    """The C side: records calls, keeps the callbacks C would hold."""

    def __init__(self, monkeypatch):
        self.rfd, self.wfd = os.pipe()
        self.timeouts = []          # what ed_py_loop_timeout returns next (then -1)
        self.runs = 0
        self.alive = 1
        self.run_hook = None
        self.calls = []
        self.cbs = {}
        self.closed = False
        m = monkeypatch
        m.setattr(capi, "edera_ctx_open", lambda opts: Ptr(1))
        m.setattr(capi, "edera_ctx_close", self._close)
        m.setattr(capi, "ed_py_loop_fd", lambda ctx: self.rfd)
        m.setattr(capi, "ed_py_loop_timeout",
                  lambda ctx: self.timeouts.pop(0) if self.timeouts else -1)
        m.setattr(capi, "ed_py_loop_run", self._run)
        m.setattr(capi, "edera_zone_name", lambda z: "z%d" % int(z))
        m.setattr(capi, "edera_zone_uuid", lambda z: "uuid-%d" % int(z))
        m.setattr(capi, "edera_zone_domid", lambda z: int(z))
        m.setattr(capi, "edera_zone_on_exit", lambda z, cb: self.cbs.__setitem__(("exit", int(z)), cb))

        def keep(name, result=0):
            def f(*args):
                self.calls.append((name,) + args[:-1])
                self.cbs[name] = args[-1]
                return result
            return f
        for name in ("edera_zone_create", "edera_xs_read", "edera_xs_write", "edera_zone_destroy",
                     "edera_zone_shutdown", "edera_xs_transaction"):
            m.setattr(capi, name, keep(name))
        m.setattr(capi, "edera_xs_txn_attempt", lambda t: int(t))
        m.setattr(capi, "edera_xs_txn_commit", lambda t: self.calls.append(("commit", int(t))))
        m.setattr(capi, "edera_xs_txn_abort",
                  lambda t, st: self.calls.append(("abort", int(t), st)))
        m.setattr(capi, "edera_console_subscribe", keep("edera_console_subscribe", Ptr(77)))
        m.setattr(capi, "edera_console_unsubscribe",
                  lambda s: self.calls.append(("unsubscribe", int(s))))

    def _run(self, ctx):
        self.runs += 1
        while True:  # drain the "backend fd"
            try:
                os.set_blocking(self.rfd, False)
                if not os.read(self.rfd, 100):
                    break
            except BlockingIOError:
                break
        if self.run_hook:
            hook, self.run_hook = self.run_hook, None
            hook()
        return self.alive

    def _close(self, ctx):
        self.closed = True

    def wake(self):
        os.write(self.wfd, b"x")

    def names(self):
        return [c[0] for c in self.calls]
