# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python examples run in the rig."""
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def run(args, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ)


def test_run_zone(linux_kernel, hello_initrd):
    p = run([os.path.join(EXAMPLES, "run_zone.py"), linux_kernel, hello_initrd,
             "console=hvc0 quiet edera.test.args=run-zone-py"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "  | EDERA-TEST-PROGRAM run-zone-py 42" in p.stdout
    assert "stopped: poweroff" in p.stdout


def test_fleet(linux_kernel, hello_initrd):
    p = run([os.path.join(EXAMPLES, "fleet.py"), "-n", "3", "--seconds", "240", linux_kernel,
             hello_initrd, "console=hvc0 quiet edera.test.args=fleet"])
    assert p.returncode == 0, p.stdout + p.stderr
    for i in range(3):
        assert "%-10s| EDERA-TEST-PROGRAM fleet 42" % ("fleet-%d" % i) in p.stdout, p.stdout
        assert "fleet: fleet-%d: poweroff" % i in p.stdout


def test_fleet_teardown_on_sigint(linux_kernel, wait_initrd):
    p = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "fleet.py"), "-n", "2",
                          linux_kernel, wait_initrd, "console=hvc0 quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = ""
    for line in p.stdout:
        out += line
        if out.count("EDERA-WAITING") == 2:
            break
    p.send_signal(2)
    rest, err = p.communicate(timeout=120)
    out += rest
    assert p.returncode == 0, out + err
    assert "tearing down 2 zones" in out and out.count(": destroyed") == 2
