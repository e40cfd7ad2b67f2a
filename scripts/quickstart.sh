#!/bin/bash
# The quick start: install what is missing, build libedera, and run the demo
# (Xen 4.17 booted in the rig, the example run in its dom0).
# EDERA_CONFIGURE_FLAGS adds configure options (CI passes --enable-werror).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure ${EDERA_CONFIGURE_FLAGS:-}
make -j"$(nproc)"
make demo
