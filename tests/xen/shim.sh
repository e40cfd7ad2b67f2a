#!/bin/bash
# containerd (Debian's) in dom0 with containerd-shim-edera-v2 on its PATH,
# driven by ctr (run by run-all.sh): the test OCI image imported (no
# registry), run with the edera runtime to its exit code and output, with a
# terminal, detached with an exec, metrics, a kill and a delete, a shim
# killed under its task (its delete destroys the zone); the same
# under runc beside it; nothing left after each (no domain, zone XenStore
# node, loop device or shim process).
set -u
top_builddir=${1:?usage: shim.sh TOP_BUILDDIR}
shimdir="$top_builddir/bindings/go"
[ -x "$shimdir/containerd-shim-edera-v2" ] || { echo "no $shimdir/containerd-shim-edera-v2"; exit 1; }
. "$(dirname "$0")/containerd.sh"

# nothing of the edera runtime may be left
left() {
	local n
	n=$(xl list | wc -l)
	[ "$n" = "$domains" ] || echo "$((n - domains)) domain(s)"
	xenstore-list /local/domain | grep -qv '^0$' && echo "zone XenStore nodes"
	losetup -a | grep -q edera-shim-cache && echo "loop devices"
	pgrep -f containerd-shim-edera-v2 >/dev/null && echo "shim processes"
	ls -A "$EDERA_CACHE_DIR" 2>/dev/null | grep -v '\.lock$' | grep -q '^\.tmp-' && echo "temporary images"
	true
}
settle() { # wait for shims and zones to go (a shim exits a few seconds after Shutdown)
	for _ in $(seq 60); do [ -z "$(left)" ] && return; sleep 0.5; done
}

run=(ctr run --rm --snapshotter native --runtime io.containerd.edera.v2)

out=$("${run[@]}" "$img" t1 /bin/sh -c 'echo hi; id -un; exit 3'); rc=$?
check "ctr run: output and exit code" "hi|edera|3" "$(echo "$out" | paste -sd'|')|$rc"
settle
check "nothing left after ctr run --rm" "" "$(left)"

# (script(1) gives ctr a terminal; it runs ctr itself, not the function)
out=$(timeout 300 script -qec "$(printf '%q ' "$(command -v ctr)" --address "$sock" run --rm \
	--snapshotter native --runtime io.containerd.edera.v2 -t "$img" t2 /bin/sh -c 'tty; exit 4')" \
	/dev/null | tr -d '\r'); rc=$?
echo "$out"
check "ctr run -t: a terminal" "yes" "$(grep -q '/dev/pts/[0-9]' <<<"$out" && echo yes)"
settle
check "nothing left after ctr run -t" "" "$(left)"

ctr run -d --snapshotter native --runtime io.containerd.edera.v2 "$img" t3 /bin/sleep 600 >/dev/null
check "ctr task ls: RUNNING" "RUNNING" "$(ctr task ls | awk '$1 == "t3" {print $3}')"
out=$(ctr task exec --exec-id e1 t3 /bin/sh -c 'echo exec; exit 5'); rc=$?
check "ctr task exec: output and exit code" "exec|5" "$out|$rc"
metrics=$(ctr task metrics t3)
echo "$metrics"
check "ctr task metrics: memory" "yes" "$(grep -Eq 'memory.usage_in_bytes +[1-9]' <<<"$metrics" && echo yes)"
ctr task kill -s SIGKILL t3
for _ in $(seq 120); do [ "$(ctr task ls | awk '$1 == "t3" {print $3}')" = STOPPED ] && break; sleep 0.5; done
check "ctr task kill: STOPPED" "STOPPED" "$(ctr task ls | awk '$1 == "t3" {print $3}')"
out=$(ctr task delete t3 2>&1); rc=$?
echo "$out"
check "ctr task delete: the status of a SIGKILL" "0|yes" "$rc|$(grep -q 'exit code 137' <<<"$out" && echo yes)"
ctr container rm t3
settle
check "nothing left after run -d, exec, kill, delete" "" "$(left)"

# a shim killed under its task: containerd runs the shim binary's delete,
# which takes the zone back (re-attach) and destroys it
ctr run -d --snapshotter native --runtime io.containerd.edera.v2 "$img" t4 /bin/sleep 600 >/dev/null
check "ctr task ls: t4 RUNNING" "RUNNING" "$(ctr task ls | awk '$1 == "t4" {print $3}')"
shim=$(pgrep -f 'containerd-shim-edera-v2 .*-id t4' | head -1)
check "the shim of t4 found" "yes" "$([ -n "$shim" ] && echo yes)"
[ -n "$shim" ] && kill -9 "$shim"
for _ in $(seq 120); do [ "$(xl list | wc -l)" = "$domains" ] && break; sleep 0.5; done
check "a killed shim's zone destroyed by its delete" "$domains" "$(xl list | wc -l)"
ctr task delete t4 >/dev/null 2>&1
ctr container rm t4
settle
check "nothing left after a killed shim" "" "$(left)"

# the same image under runc, beside it
out=$(ctr run --rm --snapshotter native --runtime io.containerd.runc.v2 "$img" r1 /bin/sh -c 'echo hi; id -un; exit 3'); rc=$?
check "runc, the same: output and exit code" "hi|edera|3" "$(echo "$out" | paste -sd'|')|$rc"

[ "$fails" = 0 ] || { echo "--- containerd's log"; tail -50 "$work/containerd.log"; }
echo "shim: $fails failed"
[ "$fails" = 0 ]
