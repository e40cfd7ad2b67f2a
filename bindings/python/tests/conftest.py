# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host tests: run anywhere, no Xen.  `make check-python` runs them against
the extension built in the tree (LD_LIBRARY_PATH and PYTHONPATH set)."""
import os

SRCDIR = os.environ.get("EDERA_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
