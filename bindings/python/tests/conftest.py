# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host tests: run anywhere, no Xen.  `make check-python` runs them against
the extension built in the tree (LD_LIBRARY_PATH and PYTHONPATH set)."""
import os

import pytest

from fakec import FakeC


@pytest.fixture
def fake(monkeypatch):
    f = FakeC(monkeypatch)
    yield f
    os.close(f.rfd)
    os.close(f.wfd)
