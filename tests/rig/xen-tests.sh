#!/bin/bash
# The `make check` entry for the integration tests: boot the rig and run
# tests/xen/run-all.sh inside dom0.  Needs root (QEMU shares the host root).
set -eu
: "${abs_top_srcdir:?set by make check}" "${abs_top_builddir:?set by make check}"
# Guest images are built here on the host: much faster than in emulated dom0.
export EDERA_GUEST_HELLO="$abs_top_builddir/tests/guest/hello.cpio.gz"
"$abs_top_srcdir/tests/guest/mkinitramfs.sh" "$EDERA_GUEST_HELLO" \
	-t "$abs_top_builddir/tests/guest/hello"
export EDERA_MINI_KERNEL="$abs_top_builddir/tests/guest/mini/mini-kernel"
export EDERA_DIE_CREATING="$abs_top_builddir/tests/xen/die-creating"
export EDERA_GUEST_WAIT="$abs_top_builddir/tests/guest/wait.cpio.gz"
"$abs_top_srcdir/tests/guest/mkinitramfs.sh" "$EDERA_GUEST_WAIT" -t "$abs_top_srcdir/tests/guest/wait.sh"
export EDERA_GUEST_CRASH="$abs_top_builddir/tests/guest/crash.cpio.gz"
"$abs_top_srcdir/tests/guest/mkinitramfs.sh" "$EDERA_GUEST_CRASH" -t "$abs_top_srcdir/tests/guest/crash.sh"
export EDERA_GUEST_CONSOLE="$abs_top_builddir/tests/guest/console.cpio.gz"
"$abs_top_srcdir/tests/guest/mkinitramfs.sh" "$EDERA_GUEST_CONSOLE" \
	-t "$abs_top_builddir/tests/guest/console-guest"
export EDERA_GUEST_DEV="$abs_top_builddir/tests/guest/dev.cpio.gz"
"$abs_top_srcdir/tests/guest/mkdevinitramfs.sh" "$EDERA_GUEST_DEV" \
	"$abs_top_builddir/tests/guest/net-send" "$EDERA_RIG_CACHE" \
	"$abs_top_builddir/tests/guest/xs-guest"
export EDERA_GUEST_RES="$abs_top_builddir/tests/guest/res.cpio.gz"
"$abs_top_srcdir/tests/guest/mkresinitramfs.sh" "$EDERA_GUEST_RES" \
	"$abs_top_builddir/tests/guest/res-guest" "$EDERA_RIG_CACHE"
# the channel suite's guest: its side of the protocol, with the same drivers
export EDERA_GUEST_CHAN="$abs_top_builddir/tests/guest/chan.cpio.gz"
"$abs_top_srcdir/tests/guest/mkresinitramfs.sh" "$EDERA_GUEST_CHAN" \
	"$abs_top_builddir/tests/guest/chan-guest" "$EDERA_RIG_CACHE"
# the workload suite: edera-zone-init's initramfs and the test image
export EDERA_ZONE_INITRD="$abs_top_builddir/tests/guest/zone-init.cpio"
"$abs_top_srcdir/tests/guest/mkzoneinitramfs.sh" "$EDERA_ZONE_INITRD" \
	"$abs_top_builddir/zone-init/edera-zone-init" "$EDERA_RIG_CACHE"
export EDERA_WL_IMAGE="$abs_top_builddir/tests/guest/wl-image.erofs"
"$abs_top_srcdir/tests/guest/mkwlimage.sh" "$EDERA_WL_IMAGE"
# ... and for the workload API: the init itself and an OCI image layout
export EDERA_ZONE_INIT="$abs_top_builddir/zone-init/edera-zone-init"
export EDERA_WL_OCI="$abs_top_builddir/tests/guest/wl-oci"
rm -rf "$EDERA_WL_OCI"
"$abs_top_srcdir/tests/guest/mkoci.py" "$EDERA_WL_OCI"
# dom0's backends and what the device tests need there; gntalloc lets dom0
# grant pages (edera_share_pages)
export EDERA_RIG_MODULES="xen-blkback xen-netback loop bridge xen-gntalloc"
export EDERA_GUEST_XS="$abs_top_builddir/tests/guest/xs-guest.cpio.gz"
"$abs_top_srcdir/tests/guest/mkinitramfs.sh" "$EDERA_GUEST_XS" \
	-t "$abs_top_builddir/tests/guest/xs-guest"
# Two boots: everything under the C xenstored, then the XenStore-heavy
# suites again under oxenstored (the other daemon Xen ships).  The short
# pass (--enable-quick-rig) boots once.  EDERA_RIG_DAEMONS picks the boots
# ("xenstored oxenstored" by default) when working on one of them.
daemons=${EDERA_RIG_DAEMONS:-xenstored oxenstored}
[ "${EDERA_RIG_QUICK:-0}" = 1 ] && daemons=xenstored
status=0
failures="$abs_top_builddir/tests/rig/failures.txt"
rm -f "$failures"
for daemon in $daemons; do
	echo "=== rig boot with $daemon"
	# the first boot runs about 20 minutes here: room for a slower machine
	"$abs_top_srcdir/tests/rig/rig.sh" --xenconsoled --xenstored "$daemon" --timeout 2400 \
		--share "$abs_top_srcdir" --share "$abs_top_builddir" \
		-- "$abs_top_builddir/tests/xen/run-all.sh" || status=$?
done
# what failed, again, at the end (run-all.sh kept each failing test's
# telling lines)
if [ -s "$failures" ]; then
	echo "=== what failed, in both boots"
	cat "$failures"
fi
exit "$status"
