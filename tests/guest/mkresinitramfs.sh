#!/bin/bash
# Build the resource test guest's initramfs: res-guest as /test and the
# guest drivers behind /dev/xen/{gntdev,gntalloc,evtchn} (xen-gntdev,
# xen-gntalloc, xen-evtchn with their dependencies) taken from the rig's
# Debian kernel.
# Usage: mkresinitramfs.sh OUT.cpio.gz RES_GUEST_BINARY RIG_CACHE
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: mkresinitramfs.sh OUT.cpio.gz RES_GUEST RIG_CACHE}
guest=${2:?}
cache=${3:?}
"$here/../rig/fetch.sh" "$cache" >/dev/null
kver=$(cat "$cache/kernel-version")
args=()
for m in xen-gntdev xen-gntalloc xen-evtchn; do
	while read -r _ ko _; do
		case " ${args[*]-} " in *" $ko "*) ;; *) args+=(-m "$ko") ;; esac
	done < <(modprobe -d "$cache/root" -S "$kver" --show-depends "$m" | grep '^insmod ')
done
exec "$here/mkinitramfs.sh" "$out" -t "$guest" "${args[@]}" "$here/cpu-hotplug.sh:/bin/cpu-hotplug"
