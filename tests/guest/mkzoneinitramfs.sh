#!/bin/bash
# Build a workload zone's initramfs for the rig: edera-zone-init as /init
# and the drivers it needs (the channel's xen-gntdev and xen-evtchn, the
# image's xen-blkfront, erofs and overlay, xen-netfront; dependencies first)
# from the rig's Debian kernel, loaded by the init from /modules in name
# order.  Uncompressed: the kernel unpacks it without a decompressor.
# Usage: mkzoneinitramfs.sh OUT.cpio EDERA_ZONE_INIT RIG_CACHE
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: mkzoneinitramfs.sh OUT.cpio EDERA_ZONE_INIT RIG_CACHE}
init=${2:?}
cache=${3:?}
"$here/../rig/fetch.sh" "$cache" >/dev/null
kver=$(cat "$cache/kernel-version")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/modules" "$dir/dev" "$dir/proc" "$dir/sys" "$dir/mnt" "$dir/sbin"
cp "$init" "$dir/init"
chmod 0755 "$dir/init"
# the kernel's orderly shutdown runs these: the init asks PID 1 to stop
ln -s /init "$dir/sbin/poweroff"
ln -s /init "$dir/sbin/reboot"
n=0
seen=" "
for m in xen-gntdev xen-evtchn xen-blkfront erofs overlay xen-netfront; do
	while read -r _ ko _; do
		case $seen in *" $ko "*) continue ;; esac
		seen="$seen$ko "
		n=$((n + 1))
		cp "$ko" "$dir/modules/$(printf '%02d' $n)-$(basename "$ko")"
	done < <(modprobe -d "$cache/root" -S "$kver" --show-depends "$m" | grep '^insmod ')
done
(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
