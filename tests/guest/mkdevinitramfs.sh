#!/bin/bash
# Build the device test guest's initramfs: tests/guest/dev.sh as /test,
# net-send, and the guest drivers it needs (xen-blkfront, xen-netfront,
# ext4 with its dependencies) taken from the rig's Debian kernel.
# Usage: mkdevinitramfs.sh OUT.cpio.gz NET_SEND_BINARY RIG_CACHE [XS_GUEST_BINARY]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: mkdevinitramfs.sh OUT.cpio.gz NET_SEND RIG_CACHE}
netsend=${2:?}
cache=${3:?}
"$here/../rig/fetch.sh" "$cache" >/dev/null
kver=$(cat "$cache/kernel-version")
args=()
for m in ext4 xen-blkfront xen-netfront; do
	while read -r _ ko _; do
		case " ${args[*]-} " in *" $ko "*) ;; *) args+=(-m "$ko") ;; esac
	done < <(modprobe -d "$cache/root" -S "$kver" --show-depends "$m" | grep '^insmod ')
done
# xs-guest (libedera's client in the guest) for the flood step, when given
[ -n "${4:-}" ] && args+=("$4:/bin/xs-guest")
exec "$here/mkinitramfs.sh" "$out" -t "$here/dev.sh" "${args[@]}" "$netsend:/bin/net-send"
