# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the rig tests run in other processes, run on the host against a
stub edera package (the rig runs them for real, in dom0)."""
import importlib.util
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))


def rigutil():
    spec = importlib.util.spec_from_file_location("rigutil_host",
                                                  os.path.join(HERE, "rig", "rigutil.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_reattach_child_prints_its_domid_through_a_pipe(tmp_path):
    # test_zone.py::test_reattach_from_a_second_python_process reads the
    # domid the child prints to a pipe before it leaves with os._exit(),
    # which flushes nothing: the print must flush itself.
    stub = tmp_path / "edera"
    stub.mkdir()
    (stub / "__init__.py").write_text(textwrap.dedent("""
        class Zone:
            domid = 42

        class Context:
            def create_zone_sync(self, **kw):
                assert kw["name"] == "py-reattach" and kw["kernel"] == "/k", kw
                return Zone()
    """))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(tmp_path)
    p = subprocess.run([sys.executable, "-c", rigutil().REATTACH_CHILD, "/k"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["42"]
