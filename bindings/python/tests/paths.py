# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where the source tree is (for lib/libedera.sym)."""
import os

SRCDIR = os.environ.get("EDERA_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
