# SPDX-License-Identifier: LGPL-2.1-or-later
"""Symbol coverage: every function lib/libedera.sym exports is reached by the
extension (it is an undefined symbol of _capi*.so, i.e. the module calls it)
and bound in edera.capi — or left out below with a reason.  And the Pythonic
package uses each bound one, or says here why only edera.capi has it."""
import os
import re
import subprocess

import edera
from edera import capi

from paths import SRCDIR

# Functions the module does not bind, with why.
_CHANNEL = ("channels (edera/channel.h) are new: bound with the workload support that "
            "uses them (issue 17)")
_WORKLOAD = ("workloads (edera/workload.h) are new: the Python binding of them is the "
             "next step of issue 17")
LEFT_OUT = {
    "edera_process_config_init": _WORKLOAD,
    "edera_workload_config_init": _WORKLOAD,
    "edera_workload_run": _WORKLOAD,
    "edera_workload_run_sync": _WORKLOAD,
    "edera_workload_zone": _WORKLOAD,
    "edera_workload_process": _WORKLOAD,
    "edera_workload_exec": _WORKLOAD,
    "edera_workload_hold": _WORKLOAD,
    "edera_workload_spare": _WORKLOAD,
    "edera_workload_spare_sync": _WORKLOAD,
    "edera_process_write": _WORKLOAD,
    "edera_process_close_stdin": _WORKLOAD,
    "edera_process_kill": _WORKLOAD,
    "edera_process_resize": _WORKLOAD,
    "edera_process_pid": _WORKLOAD,
    "edera_process_workload": _WORKLOAD,
    "edera_images_list": _WORKLOAD,
    "edera_images_prune": _WORKLOAD,
    "edera_channel_config_init": _CHANNEL,
    "edera_channel_open": _CHANNEL,
    "edera_channel_send": _CHANNEL,
    "edera_channel_hold": _CHANNEL,
    "edera_channel_close": _CHANNEL,
    "edera_channel_zone": _CHANNEL,
    "edera_channel_stats_init": _CHANNEL,
    "edera_channel_stats_get": _CHANNEL,
}

# Bound in edera.capi (and reached), but not called by the package's Python
# code, with why.
CAPI_ONLY = {
    "edera_free": "used inside the typemaps: results the library allocates are copied, "
                  "then freed",
    "edera_ctx_options_init": "the package always opens with the defaults: a libuv loop "
                              "cannot come from Python (edera_ctx_options.loop)",
    "edera_ctx_loop": "used by the ed_py_loop_* helpers in C (backend fd, timeout, run)",
    "edera_host_info_init": "used by the result-struct typemap of edera_host_info_get",
    "edera_zone_config_init": "used by the config typemap (dict -> edera_zone_config)",
    "edera_zone_info_init": "used by the result-struct typemap of edera_zone_info_get",
    "edera_disk_config_init": "used by the config typemap",
    "edera_nic_config_init": "used by the config typemap",
    "edera_xs_stats_init": "used by the result-struct typemap of edera_xs_stats_get",
    "edera_console_stats_init": "used by the result-struct typemap",
    "edera_share_addr": "used by ed_py_share_buffer (Share.memory)",
    "edera_share_refs": "used by ed_py_share_refs (Share.refs)",
    "edera_share_zone": "a Share knows its Zone object",
    "edera_evtchn_zone": "an EventChannel knows its Zone object",
    "edera_pool_config_init": "used by the pool config typemap of edera_pool_set",
    "edera_pool_stats_init": "used by the result-struct typemap of edera_pool_stats_get",
}


def exported():
    with open(os.path.join(SRCDIR, "lib", "libedera.sym")) as f:
        text = f.read()
    return sorted(set(re.findall(r"^\s*(edera_\w+);", text, re.M)))


def reached():
    so = capi._capi.__file__ if hasattr(capi, "_capi") else None
    if so is None:
        from edera import _capi
        so = _capi.__file__
    out = subprocess.run(["nm", "-D", "--undefined-only", so], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if "edera_" in line}


def test_sym_file_is_read():
    names = exported()
    assert len(names) > 90 and "edera_ctx_open" in names


def test_every_exported_function_is_reached_and_bound_or_left_out():
    syms, calls = exported(), reached()
    missing = [n for n in syms if n not in LEFT_OUT and
               (n not in calls or not callable(getattr(capi, n, None)))]
    assert not missing, "neither bound nor listed in LEFT_OUT with a reason: %s" % missing
    stale = [n for n in LEFT_OUT if n not in syms or n in calls]
    assert not stale, "LEFT_OUT lists what is bound or no longer exported: %s" % stale
    assert all(LEFT_OUT.values()), "every left-out function needs a reason"


def test_the_module_reaches_nothing_outside_the_public_api():
    extra = sorted(n for n in reached() if n.startswith("edera_") and n not in exported())
    assert not extra, extra


def test_every_bound_function_is_used_by_the_package_or_explained():
    pkg = os.path.dirname(edera.__file__)
    src = ""
    for fn in sorted(os.listdir(pkg)):
        if fn.endswith(".py") and fn != "capi.py":
            with open(os.path.join(pkg, fn)) as f:
                src += f.read()
    unused = [n for n in exported() if n not in LEFT_OUT and n not in CAPI_ONLY
              and not re.search(r"\bcapi\.%s\b" % n, src)]
    assert not unused, "not used by the edera package nor listed in CAPI_ONLY: %s" % unused
    stale = [n for n in CAPI_ONLY if re.search(r"\bcapi\.%s\b" % n, src)]
    assert not stale, "CAPI_ONLY lists functions the package uses: %s" % stale


def test_every_capi_name_the_package_uses_exists():
    pkg = os.path.dirname(edera.__file__)
    names = set()
    for fn in os.listdir(pkg):
        if fn.endswith(".py") and fn != "capi.py":
            with open(os.path.join(pkg, fn)) as f:
                names |= set(re.findall(r"\bcapi\.(\w+)", f.read()))
    missing = sorted(n for n in names if not hasattr(capi, n))
    assert not missing, missing
