#!/bin/bash
# Runs in dom0, chrooted into the host's root: start the Xen control plane
# the way a dom0 boot does, then run the rig's command.  rig.sh copies this
# file into the run folder next to env.sh (exports), cwd and cmd.
set -u
rundir=$(dirname "$0")
. "$rundir/env.sh"

say() { echo "EDERA-RIG $*"; }
fail() { echo "EDERA-RIG-FAIL $*"; exit 125; }

kdir="$RIG_CACHE/root"
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd $RIG_EXTRA_MODULES; do
	modprobe -d "$kdir" "$m" || fail "modprobe $m"
done
mkdir -p /dev/pts /proc/xen
mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
grep -q control_d /proc/xen/capabilities || fail "not the control domain"

xenbin=/usr/lib/xen-4.17/bin
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/log/xen/console
# Either XenStore daemon (rig.sh --xenstored); both fork and write the pid.
: "${RIG_XENSTORED:=xenstored}"
case $RIG_XENSTORED in
xenstored|oxenstored) ;;
*) fail "unknown XenStore daemon '$RIG_XENSTORED'" ;;
esac
"$xenbin/$RIG_XENSTORED" --pid-file /run/xenstore.pid || fail "$RIG_XENSTORED"
for _ in $(seq 50); do
	[ -S /run/xenstored/socket ] && break
	sleep 0.1
done
[ -S /run/xenstored/socket ] || fail "$RIG_XENSTORED: no socket at /run/xenstored/socket"
"$xenbin/xen-init-dom0" >/dev/null || fail "xen-init-dom0"
if [ "${RIG_XENCONSOLED:-0}" = 1 ]; then
	"$xenbin/xenconsoled" --pid-file /run/xenconsoled.pid --log=guest \
		--log-dir=/var/log/xen/console || fail "xenconsoled"
fi
say "dom0 ready: $(uname -r), $RIG_XENSTORED, $(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)$(cat /sys/hypervisor/version/extra)"
echo READY >"$rundir/ready"

cd "$(cat "$rundir/cwd")" || fail "cd"
/bin/bash "$rundir/cmd" >"$rundir/output" 2>&1 </dev/null
status=$?
echo "$status" >"$rundir/status"
exit "$status"
