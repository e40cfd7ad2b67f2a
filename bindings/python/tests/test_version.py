# SPDX-License-Identifier: LGPL-2.1-or-later
import re

import edera
from edera import capi


def test_version_string_matches_headers_and_library():
    assert re.fullmatch(r"\d+\.\d+\.\d+", edera.version())
    assert edera.__version__ == edera.version() == capi.EDERA_VERSION_STRING


def test_version_number_matches_string():
    major, minor, micro = (int(x) for x in edera.version().split("."))
    assert edera.version_number() == (major << 16) | (minor << 8) | micro
    assert capi.EDERA_VERSION_NUMBER == edera.version_number()


def test_feature_macros_are_visible():
    for name in ("HOST_INFO", "XENSTORE", "ZONE", "CONSOLE", "DEVICES", "RESOURCES"):
        assert getattr(capi, "EDERA_HAVE_" + name) == 1
