#!/bin/bash
# The containerd shim's benchmark, in dom0 (make bench-shim): `ctr run --rm`
# of /bin/true with the edera runtime against runc, the same image, the
# same containerd, one rig boot; medians of RUNS runs, the ratio printed
# (issue 18's target: within 2x of runc).  The first edera run converts
# nothing (the bundle's root is packed each time) but is kept apart: a
# fresh shim binary's first start pages it in.
# Usage: shim-bench.sh TOP_BUILDDIR TOP_SRCDIR [RUNS]
set -euo pipefail
shopt -s inherit_errexit
top_builddir=${1:?usage: shim-bench.sh TOP_BUILDDIR TOP_SRCDIR [RUNS]}
src=${2:?}
runs=${3:-10}
shimdir="$top_builddir/bindings/go"
[ -x "$shimdir/containerd-shim-edera-v2" ] || { echo "shim-bench: no $shimdir/containerd-shim-edera-v2 (configure found no containerd sources?)" >&2; exit 1; }
oci=
if [ -z "${EDERA_WL_OCI:-}" ]; then
	oci=$(mktemp -d /tmp/edera-shim-bench-oci-XXXXXX)
	rmdir "$oci"
	"$src/tests/guest/mkoci.py" "$oci"
	export EDERA_WL_OCI=$oci
fi
CTD_LOG_LEVEL=warn
set +u
. "$src/tests/xen/containerd.sh"
set -u
trap 'cleanup; [ -z "$oci" ] || rm -rf "$oci"' EXIT
[ "$fails" = 0 ] || { echo "shim-bench: the image was not imported" >&2; exit 1; }

timed() { # milliseconds one command takes; a failure fails the benchmark
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null || { echo "shim-bench: '$*' failed ($?)" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk -v m="$1" 'BEGIN { printf "%.2f s", m / 1000 }'; }
n=0
one() { # RUNTIME: ctr run --rm of /bin/true, a new container id each time
	n=$((n + 1))
	ctr run --rm --snapshotter native --runtime "$1" "$img" "bench$n" /bin/true
}
edera_first=$(timed one io.containerd.edera.v2)
edera=$(for _ in $(seq "$runs"); do timed one io.containerd.edera.v2; done | median)
runc_first=$(timed one io.containerd.runc.v2)
runc=$(for _ in $(seq "$runs"); do timed one io.containerd.runc.v2; done | median)
echo "shim-bench: ctr run --rm IMG /bin/true, edera runtime: first $(ms "$edera_first"), then $(ms "$edera") (median of $runs)"
echo "shim-bench: ctr run --rm IMG /bin/true, runc runtime: first $(ms "$runc_first"), then $(ms "$runc") (median of $runs)"
echo "shim-bench: edera / runc = $(awk -v a="$edera" -v b="$runc" 'BEGIN { printf "%.2f", a / b }') (target <= 2)"
