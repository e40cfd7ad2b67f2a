#!/bin/bash
# In dom0: boot the test guest image (Debian kernel + busybox initramfs
# carrying a small static program) with xl, and check that its program ran
# and the guest powered off.  This proves the guest image the zone tests
# build on; xl here is the reference toolstack, not the code under test.
set -euo pipefail
: "${RIG_CACHE:?run me in the rig}"
xl=/usr/lib/xen-4.17/bin/xl
name=edera-guest-boot-$$
work=$(mktemp -d)
trap '$xl destroy "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# Built on the host by tests/rig/xen-tests.sh (compiling in dom0 is slow).
initrd=${EDERA_GUEST_HELLO:?the hello guest image, built by tests/rig/xen-tests.sh}

cat >"$work/guest.cfg" <<CFG
name = "$name"
type = "pv"
kernel = "$RIG_CACHE/vmlinuz"
ramdisk = "$initrd"
extra = "console=hvc0 quiet edera.test.args=hello"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
CFG
$xl create -q "$work/guest.cfg"
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
