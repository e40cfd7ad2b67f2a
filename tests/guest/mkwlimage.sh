#!/bin/bash
# Build the workload test image (erofs): a static busybox with its applets,
# an /etc/passwd and /etc/group naming a user "edera" (1000, also in group
# "extra" 2000) and a file /etc/edera-image.
# Usage: mkwlimage.sh OUT.erofs
set -euo pipefail
out=${1:?usage: mkwlimage.sh OUT.erofs}
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	{ echo "mkwlimage: a static busybox is needed (package busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/etc" "$dir/home/edera" "$dir/tmp" "$dir/root"
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$dir/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nedera:x:1000:1000:edera:/home/edera:/bin/sh\n' \
	>"$dir/etc/passwd"
printf 'root:x:0:\nedera:x:1000:\nextra:x:2000:edera\n' >"$dir/etc/group"
echo 'from the image' >"$dir/etc/edera-image"
mkfs.erofs --all-root "$out.tmp" "$dir" >/dev/null
mv "$out.tmp" "$out"
