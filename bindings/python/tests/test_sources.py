# SPDX-License-Identifier: LGPL-2.1-or-later
"""Mistakes in the Python sources (package, examples, host and rig tests)
that only show when the code runs — for the rig tests, only in dom0."""
import ast
import glob
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SOURCES = sorted(glob.glob(os.path.join(ROOT, "edera", "*.py")) +
                 glob.glob(os.path.join(ROOT, "examples", "*.py")) +
                 glob.glob(os.path.join(HERE, "*.py")) +
                 glob.glob(os.path.join(HERE, "rig", "*.py")))


def test_the_sources_are_found():
    names = [os.path.relpath(p, ROOT) for p in SOURCES]
    assert os.path.join("edera", "xenstore.py") in names
    assert os.path.join("examples", "run_zone.py") in names
    assert os.path.join("tests", "rig", "test_xenstore.py") in names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: os.path.relpath(p, ROOT))
def test_no_attribute_of_a_call_is_awaited(path):
    # "await f(x).attr" is "await (f(x).attr)": it awaits the attribute (for
    # .__class__, a type: "object type can't be used in 'await' expression")
    # and never awaits the coroutine f(x).  Write "(await f(x)).attr".
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    bad = ["line %d" % n.lineno for n in ast.walk(tree)
           if isinstance(n, ast.Await) and isinstance(n.value, ast.Attribute)
           and isinstance(n.value.value, ast.Call)]
    assert not bad, "%s: await of an attribute of a call: %s" % (path, ", ".join(bad))
