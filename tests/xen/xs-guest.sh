#!/bin/bash
# In dom0: boot a guest whose /test is tests/guest/xs-guest (libedera's
# XenStore client, over the guest's /dev/xen/xenbus) and check what it saw:
# its own nodes writable, dom0's refused with EDERA_EACCES.
set -euo pipefail
xl=/usr/lib/xen-4.17/bin/xl
name=edera-xs-guest-$$
cfg=${EDERA_GUEST_CFG:?written by run-all.sh}
initrd=${EDERA_GUEST_XS:?the xs-guest image, built by tests/rig/xen-tests.sh}
trap '$xl destroy "$name" >/dev/null 2>&1 || true; rm -f "${clean:-}"' EXIT
$xl create -q "$cfg" "name=\"$name\"" "ramdisk=\"$initrd\""
log=/var/log/xen/console/guest-$name.log
for _ in $(seq 1 600); do
	$xl domid "$name" >/dev/null 2>&1 || break
	sleep 0.2
done
sleep 0.5
# The console log has CRLF line ends.
clean=$(mktemp)
tr -d '\r' <"$log" >"$clean"
log=$clean
fail=0
expect() {
	if ! grep -q "^EDERA-XS-GUEST $1\$" "$log"; then
		echo "xs-guest: expected 'EDERA-XS-GUEST $1'" >&2
		fail=1
	fi
}
expect "connect EDERA_OK"
expect "via /dev/xen/xenbus"
expect "write-own EDERA_OK"
expect "read-own EDERA_OK"
grep -q "^EDERA-XS-GUEST write-dom0 EDERA_EACCES " "$log" || { echo "xs-guest: write to dom0's node not refused with EDERA_EACCES" >&2; fail=1; }
grep -q "^EDERA-XS-GUEST read-dom0 EDERA_EACCES " "$log" || { echo "xs-guest: read of dom0's node not refused with EDERA_EACCES" >&2; fail=1; }
expect "watch EDERA_OK"
expect "close EDERA_OK"
if xenstore-read /local/domain/0/edera-forbidden >/dev/null 2>&1; then
	echo "xs-guest: the refused write happened anyway" >&2
	fail=1
fi
if [ $fail = 1 ]; then
	cat "$log" >&2
	exit 1
fi
grep '^EDERA-XS-GUEST' "$log"
echo "xs-guest: the client works over /dev/xen/xenbus in a guest; refusals arrive as EDERA_EACCES"
