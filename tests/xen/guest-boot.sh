#!/bin/bash
# In dom0: boot the test guest image (Debian kernel + busybox initramfs
# carrying a small static program) with xl, and check that its program ran
# and the guest powered off.  This proves the guest image the zone tests
# build on; xl here is the reference toolstack, not the code under test.
set -euo pipefail
: "${RIG_CACHE:?run me in the rig}"
xl=/usr/lib/xen-4.17/bin/xl
name=edera-guest-boot-$$
trap '$xl destroy "$name" >/dev/null 2>&1 || true' EXIT

cfg=${EDERA_GUEST_CFG:?the hello guest config, written by run-all.sh}
$xl create -q "$cfg" "name=\"$name\""
log=/var/log/xen/console/guest-$name.log
for _ in $(seq 1 600); do
	$xl domid "$name" >/dev/null 2>&1 || break
	sleep 0.2
done
if $xl domid "$name" >/dev/null 2>&1; then
	echo "guest-boot: the guest is still running after 120s" >&2
	cat "$log" >&2 || true
	exit 1
fi
sleep 0.5 # xenconsoled flushes after the domain is gone
fail=0
grep -q '^EDERA-GUEST-READY ' "$log" || { echo "guest-boot: no READY marker" >&2; fail=1; }
grep -q '^EDERA-TEST-PROGRAM hello 42' "$log" || { echo "guest-boot: test program did not run" >&2; fail=1; }
grep -q '^EDERA-GUEST-EXIT 3' "$log" || { echo "guest-boot: program status not reported" >&2; fail=1; }
if [ $fail = 1 ]; then
	cat "$log" >&2
	exit 1
fi
echo "guest-boot: guest booted, ran its program with arguments and powered off"
