#!/bin/bash
# Fetch Xen 4.17 and a Debian 6.1 kernel into the rig cache, unpacked but never
# installed on the host.  Prints nothing on success but the cache's summary.
#
# Usage: fetch.sh CACHE_DIR
# Leaves in CACHE_DIR:
#   xen            the hypervisor, a 32-bit multiboot ELF QEMU boots directly
#   vmlinuz        the Debian kernel (dom0 and test guests)
#   kernel-version its version name, e.g. 6.1.0-57-amd64
#   root/          the unpacked packages; root/lib/modules/VERSION has modules.dep
# Set EDERA_RIG_REFRESH=1 to fetch again even if the cache is complete.
set -euo pipefail

cache=${1:?usage: fetch.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

if [ -s "$cache/xen" ] && [ -s "$cache/vmlinuz" ] && [ -s "$cache/kernel-version" ] &&
	[ -s "$cache/root/lib/modules/$(cat "$cache/kernel-version")/modules.dep" ] &&
	[ "${EDERA_RIG_REFRESH:-0}" != 1 ]; then
	exit 0
fi

die() { echo "rig fetch: $*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg depmod; do
	command -v "$tool" >/dev/null || die "'$tool' not found; this needs a Debian 12 host (package kmod for depmod)"
done

# Kernel version names move with Debian updates: take the newest 6.1 generic
# kernel the package lists offer instead of naming one here.
kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
	awk '{print $1}' | sort -V | tail -n 1)
[ -n "$kpkg" ] || die "no linux-image-6.1.0-*-amd64-unsigned package in the apt lists; run 'apt-get update' first"
xpkg=xen-hypervisor-4.17-amd64

tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download drops privileges to _apt, which may not write to $tmp.
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download -q "$xpkg" "$kpkg" >/dev/null 2>"$tmp/apt.err") ||
	{ cat "$tmp/apt.err" >&2; die "could not download $xpkg and $kpkg"; }

mkdir "$tmp/root"
for deb in "$tmp"/*.deb; do
	dpkg -x "$deb" "$tmp/root"
done

kver=${kpkg#linux-image-}
kver=${kver%-unsigned}
[ -s "$tmp/root/boot/vmlinuz-$kver" ] || die "$kpkg has no /boot/vmlinuz-$kver"
[ -s "$tmp/root/boot/xen-4.17-amd64.gz" ] || die "$xpkg has no /boot/xen-4.17-amd64.gz"
depmod -b "$tmp/root" "$kver"

gunzip -c "$tmp/root/boot/xen-4.17-amd64.gz" >"$tmp/xen"
cp "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
echo "$kver" >"$tmp/kernel-version"
rm -f "$tmp"/*.deb "$tmp/apt.err"

# Replace the cache's contents in one step per entry so an interrupted
# fetch never leaves a half-populated cache that looks complete.
rm -rf "$cache/root"
mv "$tmp/root" "$cache/root"
mv "$tmp/xen" "$cache/xen"
mv "$tmp/vmlinuz" "$cache/vmlinuz"
mv "$tmp/kernel-version" "$cache/kernel-version"
echo "rig fetch: cached $xpkg and $kpkg in $cache"
