#!/bin/bash
# Workload benchmark, in dom0 (make bench-run): `edera run IMG /bin/true`
# cold (the image not converted yet) and warm, against `runc run` of a
# bundle whose root is the same image (its erofs, mounted read-only), in
# the same rig boot; then a CPU-bound workload (SHA-256 of 256 MiB of
# zeros) in a zone against runc.  Medians of RUNS runs; ratios printed.
# Usage: run-bench.sh TOP_BUILDDIR TOP_SRCDIR [RUNS]
set -euo pipefail
# a failing run fails the benchmark, also inside $(...): no time of a
# failure is taken for a result
shopt -s inherit_errexit
build=${1:?usage: run-bench.sh TOP_BUILDDIR TOP_SRCDIR [RUNS]}
src=${2:?}
runs=${3:-20}
command -v runc >/dev/null || { echo "run-bench: runc is missing (package runc)" >&2; exit 1; }
kver=$(cat "$RIG_CACHE/kernel-version")
work=$(mktemp -d /tmp/edera-run-bench-XXXXXX)
export EDERA_ZONE_INIT="$build/zone-init/edera-zone-init" EDERA_CACHE_DIR="$work/cache"
cleanup() {
	umount "$work/bundle/rootfs" 2>/dev/null || true
	runc delete -f edera-bench 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
"$src/tests/guest/mkoci.py" "$work/image"
# the program itself, not libtool's wrapper script in the build tree (an
# installed edera has none; the script costs about 2 s of bash under
# emulation, which would be counted as edera's)
edera_bin=$build/tools/edera
[ -x "$build/tools/.libs/edera" ] && edera_bin=$build/tools/.libs/edera
edera_cmd() { LD_LIBRARY_PATH="$build/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$edera_bin" "$@"; }
zone_args=(--kernel "$RIG_CACHE/vmlinuz" --modules "$RIG_CACHE/root/lib/modules/$kver" --memory 256)
edera() { edera_cmd run "${zone_args[@]}" "$@"; }
# seconds one command takes, to the millisecond
timed() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null || { echo "run-bench: '$*' failed ($?)" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk -v m="$1" 'BEGIN { printf "%.2f s", m / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

domains=$(xl list | wc -l)
cold=$(timed edera "$work/image" /bin/true)
warm=$(for _ in $(seq "$runs"); do timed edera "$work/image" /bin/true; done | median)
echo "run-bench: edera run IMG /bin/true: cold $(ms "$cold"), warm $(ms "$warm") (median of $runs)"
# warm, each run taking a spare zone booted ahead (edera spare, not timed,
# given 10 s to boot: the emulated CPU is quiet again when the run starts)
spare_runs=$((runs < 10 ? runs : 10))
edera_spare() { edera_cmd spare "${zone_args[@]}" >/dev/null; }
spared=$(for _ in $(seq "$spare_runs"); do edera_spare; sleep 10; timed edera "$work/image" /bin/true; done | median)
untaken=$(edera_cmd ls | grep -c edera-spare- || true)
[ "$untaken" = 0 ] || { echo "run-bench: $untaken spare zone(s) not taken" >&2; exit 1; }
echo "run-bench: edera run IMG /bin/true taking a spare zone: $(ms "$spared") (median of $spare_runs)"
left="$(($(xl list | wc -l) - domains)) domain(s), $(losetup -a | grep -c "$EDERA_CACHE_DIR" || true) loop device(s), $(xenstore-list /local/domain 2>/dev/null | wc -l) XenStore domain node(s)"

# runc: the same image's tree, from the cached erofs.  runc needs the
# cgroup2 hierarchy mounted (the rig's dom0 does not mount it)
if ! mountpoint -q /sys/fs/cgroup; then
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	trap 'cleanup; umount /sys/fs/cgroup 2>/dev/null || true' EXIT
fi
mkdir -p "$work/bundle/rootfs"
mount -o loop,ro "$(ls "$EDERA_CACHE_DIR"/*.erofs)" "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
bundle_cmd() { # rewrite config.json's args
	python3 - "$work/bundle/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
c["process"]["args"] = args
c["process"]["terminal"] = False
c["root"]["readonly"] = True
json.dump(c, open(path, "w"))
PY
}
bundle_cmd /bin/true
runc_run() { runc run -b "$work/bundle" edera-bench </dev/null; }
runc_cold=$(timed runc_run)
runc_warm=$(for _ in $(seq "$runs"); do timed runc_run; done | median)

cpu='head -c 268435456 /dev/zero | sha256sum'
edera_cpu=$(for _ in $(seq 3); do timed edera "$work/image" /bin/sh -c "$cpu"; done | median)
bundle_cmd /bin/sh -c "$cpu"
runc_cpu=$(for _ in $(seq 3); do timed runc_run; done | median)

echo "run-bench: after $((runs + spare_runs + 1)) edera runs: $left left (1 node: dom0's)"
echo "run-bench: runc run, same image: first $(ms "$runc_cold"), then $(ms "$runc_warm") (median of $runs)"
echo "run-bench: warm edera run / runc run = $(ratio "$warm" "$runc_warm") (target <= 2)"
echo "run-bench: warm edera run taking a spare zone / runc run = $(ratio "$spared" "$runc_warm") (target <= 2)"
echo "run-bench: SHA-256 of 256 MiB: edera run $(ms "$edera_cpu"), runc $(ms "$runc_cpu"); " \
	"ratio $(ratio "$edera_cpu" "$runc_cpu"), of which the zone's start about $(ms "$warm")"
