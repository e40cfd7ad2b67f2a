#!/bin/bash
# Build a test guest's initramfs: static busybox, tests/guest/init, and the
# files given.  The guest kernel is the rig's Debian kernel (CACHE/vmlinuz).
#
# Usage: mkinitramfs.sh OUT.cpio.gz [-t TEST] [-m MODULE.ko]... [SRC:DEST]...
#   -t TEST       a static program (or script) run as /test at boot
#   -m MODULE.ko  a kernel module loaded at boot (dependencies first)
#   SRC:DEST      any other file, copied to DEST in the image
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

out=${1:?usage: mkinitramfs.sh OUT.cpio.gz [-t TEST] [-m MODULE.ko]... [SRC:DEST]...}
shift
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	{ echo "mkinitramfs: a static busybox is needed (package busybox-static)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/modules"
cp "$busybox" "$dir/bin/busybox"
cp "$here/init" "$dir/init"
chmod 0755 "$dir/init"
n=0
while [ $# -gt 0 ]; do
	case $1 in
	-t) cp "${2:?-t needs a program}" "$dir/test"; chmod 0755 "$dir/test"; shift 2 ;;
	-m) n=$((n + 1)); cp "${2:?-m needs a module}" "$dir/modules/$(printf '%02d' $n)-$(basename "$2")"; shift 2 ;;
	*:*) src=${1%%:*}; dest=${1#*:}
	     mkdir -p "$dir/$(dirname "$dest")"; cp "$src" "$dir/$dest"; shift ;;
	*) echo "mkinitramfs: '$1' is not -t, -m or SRC:DEST" >&2; exit 2 ;;
	esac
done
(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
