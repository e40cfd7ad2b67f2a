#!/bin/bash
# edera(1) in dom0 against real zones (run by run-all.sh): stdout and
# stderr apart, exit codes, the image's defaults and the caller's
# overrides, stdin byte-exact, a terminal, signals (and the stop timeout's
# SIGKILL), errors with their statuses, the cache reused, nothing left.
set -u
top_builddir=${1:?usage: cli.sh TOP_BUILDDIR}
edera="$top_builddir/tools/edera"
kver=$(cat "$RIG_CACHE/kernel-version")
export EDERA_ZONE_INIT="$top_builddir/zone-init/edera-zone-init"
export EDERA_CACHE_DIR=/tmp/edera-cli-cache
rm -rf "$EDERA_CACHE_DIR"
img=${EDERA_WL_OCI:?}
zone_args=(--kernel "$RIG_CACHE/vmlinuz" --modules "$RIG_CACHE/root/lib/modules/$kver" --memory 192)
edera_run=("$edera" run "${zone_args[@]}")
run() { "${edera_run[@]}" "$@"; }
fails=0
check() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAILED: $1: wanted '$2', got '$3'"; fails=$((fails + 1)); fi
}
domains=$(xl list | wc -l)

# On a terminal (script(1) gives one), the first conversion of an image
# shows its progress on stderr, erased when the workload starts ...
out=$(script -qec "$(printf '%q ' "${edera_run[@]}" "$img" /bin/sh -c 'echo ran')" /dev/null); rc=$?
check "a conversion's progress on a terminal" "0|yes|yes" \
	"$rc|$(grep -q 'converting .*: packing 2 layers' <<<"$out" && echo yes)|$(grep -q 'ran' <<<"$out" && echo yes)"
# ... and nothing off one (the image converted again: stderr is the workload's only)
check "edera images prune --keep 0" "removed 1 image(s)" "$("$edera" images prune --keep 0 | cut -d, -f1)"
out=$(run "$img" /bin/sh -c 'echo out; echo err >&2; exit 7' 2>/tmp/cli-err); rc=$?
check "exit code" 7 "$rc"
check "stdout" out "$out"
check "stderr" err "$(cat /tmp/cli-err)"

out=$(run "$img"); rc=$?
check "the image's Entrypoint, Cmd, User, WorkingDir, Env" \
	"default command|edera|/home/edera|yes|0" "$(echo "$out" | paste -sd'|')|$rc"
check "one image in the cache after two runs" 1 "$(ls "$EDERA_CACHE_DIR"/*.erofs | wc -l)"

out=$(run --ulimit nofile=256:512 --ulimit core=0 "$img" /bin/sh -c 'ulimit -n; ulimit -Hn; ulimit -c'); rc=$?
check "--ulimit" "256|512|0|0" "$(echo "$out" | paste -sd'|')|$rc"
out=$(run --ulimit bogus=1 "$img" /bin/true 2>&1); rc=$?
check "--ulimit with an unknown name" "125|yes" "$rc|$(grep -q "NAME one of" <<<"$out" && echo yes)"

before=$(sha256sum "$EDERA_CACHE_DIR"/*.erofs)
out=$(run -e FROM_IMAGE=caller -w /tmp -u 0:2000 "$img" /bin/sh -c \
	'echo $FROM_IMAGE; pwd; id -u; id -g; test -e /etc/gone || echo whited-out; echo w >/etc/new && cat /etc/new')
check "--env --workdir --user, the whiteout, writes" "caller|/tmp|0|2000|whited-out|w" \
	"$(echo "$out" | paste -sd'|')"
check "the cached image is unchanged by the writes" "$before" "$(sha256sum "$EDERA_CACHE_DIR"/*.erofs)"

head -c 10485760 /dev/urandom >/tmp/cli-in
want=$(sha256sum </tmp/cli-in | cut -d' ' -f1)
got=$(run -i "$img" cat </tmp/cli-in | sha256sum | cut -d' ' -f1)
check "10 MiB through stdin, byte-exact" "$want" "$got"
got=$(cat /tmp/cli-in | run -i "$img" sha256sum | cut -d' ' -f1)
check "... from a pipe" "$want" "$got"
rm -f /tmp/cli-in

out=$(run -t "$img" tty | tr -d '\r'); rc=$?
check "-t gives a terminal" "/dev/pts/0|0" "$out|$rc"

# (started directly: $! is edera's own pid)
rm -f /tmp/cli-out
"${edera_run[@]}" "$img" /bin/sh -c 'echo ready; exec sleep 600' >/tmp/cli-out & pid=$!
for _ in $(seq 120); do grep -q ready /tmp/cli-out 2>/dev/null && break; sleep 1; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM reaches the workload" 143 "$rc"
rm -f /tmp/cli-out
"${edera_run[@]}" --stop-timeout 2 "$img" /bin/sh -c \
	'trap "" TERM; echo ready; while :; do sleep 1; done' >/tmp/cli-out & pid=$!
for _ in $(seq 120); do grep -q ready /tmp/cli-out 2>/dev/null && break; sleep 1; done
kill -TERM $pid; wait $pid; rc=$?
check "a workload ignoring SIGTERM is killed after the stop timeout" 137 "$rc"

# the network: a bridge in dom0 with an address, the zone's eth0 on it
ip link show edbr-cli >/dev/null 2>&1 || ip link add edbr-cli type bridge
ip addr flush dev edbr-cli && ip addr add 10.213.0.1/24 dev edbr-cli && ip link set edbr-cli up
out=$(run -u 0 --net edbr-cli --address 10.213.0.2/24 --gateway 10.213.0.1 --dns 10.213.0.1 "$img" \
	/bin/sh -c 'ping -c 1 -W 10 10.213.0.1 >/dev/null && echo reached; cat /etc/resolv.conf')
check "--net: the zone reaches dom0 over the bridge" "reached|nameserver 10.213.0.1" \
	"$(echo "$out" | paste -sd'|')"
ip link del edbr-cli

run /no/such/image true 2>/tmp/cli-err; rc=$?
check "a missing image" "125|1" "$rc|$(grep -c '/no/such/image' /tmp/cli-err)"
run "$img" /bin/nope 2>/tmp/cli-err; rc=$?
check "a missing command" "127|1" "$rc|$(grep -c "cannot run '/bin/nope'" /tmp/cli-err)"
run -u nobody-here "$img" true 2>/tmp/cli-err; rc=$?
check "an unknown user" "126|1" "$rc|$(grep -c "unknown user 'nobody-here'" /tmp/cli-err)"
# a corrupt archive: a tar of the layout, cut short
tar -C "$img" -cf /tmp/cli-image.tar . && truncate -s 100000 /tmp/cli-image.tar
run /tmp/cli-image.tar true 2>/tmp/cli-err; rc=$?
check "a corrupt archive" "125" "$rc"
grep . /tmp/cli-err | head -2
rm -f /tmp/cli-image.tar
"$(dirname "$0")/../guest/mkoci.py" /tmp/cli-nocmd --no-cmd
run /tmp/cli-nocmd 2>/tmp/cli-err; rc=$?
check "an image with no command" "125|1" "$rc|$(grep -c 'has no command' /tmp/cli-err)"
rm -rf /tmp/cli-nocmd
"$edera" run --kernel /no/such/kernel "$img" true 2>/tmp/cli-err; rc=$?
check "a missing kernel" "125|1" "$rc|$(grep -c '/no/such/kernel' /tmp/cli-err)"

# spare zones: booted ahead (edera spare), each taken once by a run with
# the same kernel, modules, memory and vCPUs
spare=("$edera" spare "${zone_args[@]}")
spares() { "$edera" ls --json | grep -o '"name":"edera-spare-[0-9a-f]*"' | wc -l; }
names=$("${spare[@]}" --count 2); rc=$?
check "edera spare --count 2" "0|2|2" "$rc|$(grep -c '^edera-spare-' <<<"$names")|$(spares)"
# taken at once (still booting) ...
out=$(EDERA_TRACE=1 run "$img" /bin/sh -c 'echo out; echo err >&2; exit 7' 2>/tmp/cli-err); rc=$?
check "a run takes a spare: its status, stdout, stderr" "7|out|1|1" \
	"$rc|$out|$(grep -c '^err$' /tmp/cli-err)|$(grep -c 'spare zone [0-9]* taken' /tmp/cli-err)"
check "... and the spare is gone from the list" 1 "$(spares)"
# ... or booted: a mismatch is not taken (the spare left may still be booting)
out=$(EDERA_TRACE=1 run --memory 160 "$img" /bin/sh -c 'echo ran' 2>/tmp/cli-err); rc=$?
check "another memory size boots a zone" "0|ran|1|1" \
	"$rc|$out|$(grep -c 'no spare zone: booting one' /tmp/cli-err)|$(spares)"
out=$(EDERA_TRACE=1 run --no-spare "$img" /bin/sh -c 'echo ran' 2>/tmp/cli-err); rc=$?
check "--no-spare boots a zone" "0|ran|0|1" \
	"$rc|$out|$(grep -c 'spare zone [0-9]* taken' /tmp/cli-err)|$(spares)"
# two runs at once, one spare: one takes it, the other boots a zone
(EDERA_TRACE=1 run "$img" /bin/sh -c 'echo ran' >/tmp/cli-out1 2>/tmp/cli-err1; echo $? >>/tmp/cli-out1) &
(EDERA_TRACE=1 run "$img" /bin/sh -c 'echo ran' >/tmp/cli-out2 2>/tmp/cli-err2; echo $? >>/tmp/cli-out2) &
wait
check "two runs, one spare: both ran, one took it" "ran|0|ran|0|1|0" \
	"$(paste -sd'|' /tmp/cli-out1)|$(paste -sd'|' /tmp/cli-out2)|$(cat /tmp/cli-err1 /tmp/cli-err2 |
		grep -c 'spare zone [0-9]* taken')|$(spares)"
rm -f /tmp/cli-out1 /tmp/cli-out2 /tmp/cli-err1 /tmp/cli-err2
# spares are zones: edera rm removes them
"${spare[@]}" >/dev/null
check "edera rm removes a spare" "1|0" "$("$edera" rm --all | grep -c '^edera-spare-')|$(spares)"
# a spare asked to stop (as xl shutdown asks) powers off, and is not taken
name=$("${spare[@]}")
d=$("$edera" ls --json | grep -o "\"name\":\"$name\",\"domid\":[0-9]*" | grep -o '[0-9]*$')
# (once its kernel listens: Linux writes control/feature-poweroff after
# setting its watch on control/shutdown)
for _ in $(seq 120); do
	[ "$(xenstore-read "/local/domain/$d/control/feature-poweroff" 2>/dev/null)" = 1 ] && break
	sleep 1
done
xenstore-write "/local/domain/$d/control/shutdown" poweroff
shut() { xl list "$d" 2>/dev/null | awk 'NR == 2 && $5 ~ /s/ { print "yes" }'; }
# (asked again every 5 s while the request was taken and nothing came of
# it: the kernel listens before the zone's init is up to hear it, and a
# request it takes in between is lost, as it would be from xl shutdown;
# never once the domain is gone, whose nodes must not come back)
for i in $(seq 60); do
	[ "$(shut)" = yes ] && break
	if [ $((i % 5)) = 0 ] && v=$(xenstore-read "/local/domain/$d/control/shutdown" 2>/dev/null) &&
		[ -z "$v" ] && xl list "$d" >/dev/null 2>&1; then
		xenstore-write "/local/domain/$d/control/shutdown" poweroff
	fi
	sleep 1
done
check "a spare asked to stop powers off" "yes" "$(shut)"
check "... and is cleaned up, not listed" 0 "$(spares)"
out=$("$edera" spare --kernel /no/such/kernel 2>&1); rc=$?
check "edera spare with a missing kernel" "1|1" "$rc|$(grep -c '/no/such/kernel' <<<"$out")"

# the test image and the one without a command (converted before its run failed)
check "edera images" 2 "$("$edera" images --json | grep -o '"name":"test"' | wc -l)"
check "edera images prune" "removed 2 image(s)" "$("$edera" images prune | cut -d, -f1)"
check "edera images after prune" "[]" "$("$edera" images --json)"
check "edera ls: none left" "[]" "$("$edera" ls --json)"
check "no domain left" "$domains" "$(xl list | wc -l)"
check "no loop device left" "" "$(losetup -a | grep edera-cli-cache)"
check "no XenStore node of a zone left" "0" "$(xenstore-list /local/domain | grep -vc '^0$')"
check "no temporary file left in the cache" "" "$(find "$EDERA_CACHE_DIR" -name '.*' -o -name '*tmp*')"
rm -rf "$EDERA_CACHE_DIR" /tmp/cli-err /tmp/cli-out
echo "cli: $fails failed"
[ "$fails" = 0 ]
