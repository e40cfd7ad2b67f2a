# SPDX-License-Identifier: LGPL-2.1-or-later
"""The typemaps' failure paths free what they allocate: many failing calls
(config dicts, permission lists, history buffers, held callbacks, errors)
leave the process's peak memory flat."""
import resource

import edera
from edera import capi


def rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def calls(n):
    cfg = {"name": "a", "kernel": "/k", "disks": [{"path": "/x", "vdev": "xvda"}],
           "nics": [{"bridge": "br0"}]}
    for _ in range(n):
        for f in (lambda: capi.edera_xs_read_sync(None, None, "/a"),
                  lambda: capi.edera_zone_create(None, cfg, print),
                  lambda: capi.edera_xs_set_perms_sync(None, None, "/a", [(0, 1), (2, 3)]),
                  lambda: capi.edera_console_history(None, 65536),
                  lambda: capi.edera_xs_write_sync(None, None, "/a", b"x" * 1000)):
            try:
                f()
            except edera.Error:
                pass
        edera.error_from(capi.EDERA_ENOENT)
        capi.edera_zone_config_init()
        capi.edera_host_info_init()


def test_failing_calls_do_not_leak():
    calls(5000)
    before = rss_kib()
    calls(50000)
    assert rss_kib() - before < 1024
