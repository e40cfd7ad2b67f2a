#!/bin/bash
# make check-deb: build libedera's Debian packages from this tree
# (dpkg-buildpackage -us -uc -b, tests skipped: make check runs them), check
# them with lintian (errors and warnings fail, the overrides in debian/ say
# why each one left is right), then install them into a clean Debian 12
# chroot (debootstrap --variant=minbase) and there build examples/hostinfo
# against the installed library with pkg-config and run it.  Outside Xen's
# control domain hostinfo must fail with the library's "no Xen" error (exit
# 1): that proves the installed library loads and answers; in dom0 it
# prints the host.  Needs root (the chroot), network (the Debian mirror).
# Usage: check-deb.sh SRCDIR [WORKDIR]   (WORKDIR keeps the chroot between runs)
set -euo pipefail
src=$(cd "${1:?usage: check-deb.sh SRCDIR [WORKDIR]}" && pwd)
work=${2:-${TMPDIR:-/tmp}/edera-check-deb}
mirror=${EDERA_DEB_MIRROR:-http://deb.debian.org/debian}
die() { echo "check-deb: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the clean chroot needs it)"
for t in dpkg-buildpackage lintian debootstrap chroot; do
	command -v "$t" >/dev/null || die "$t not found: run scripts/install-deps.sh"
done
mkdir -p "$work"
work=$(cd "$work" && pwd)

# 1. the packages, built from a copy of the tree (its own build, nothing of
# this one's)
rm -rf "$work/build" "$work/debs"
mkdir -p "$work/build/libedera" "$work/debs"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	# what is committed and what is changed, not what is ignored (nor what
	# is deleted but not yet committed: ls-files --cached still lists it)
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && while IFS= read -r -d '' f; do
			if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
		done) |
		(cd "$src" && xargs -0 -r cp -P --parents -t "$work/build/libedera")
else
	cp -a "$src/." "$work/build/libedera/"
fi
echo "check-deb: building the packages"
# debhelper (compat 13) gives the build a HOME of its own, so Go's build
# cache would start empty and compile containerd's Go sources for the shim
# again (a minute and a half here): the caller's cache is shared instead
# (Go's cache is keyed by content; the Makefile adds the headers' checksum
# and the library's directory, which Go does not hash).
gocache=
command -v go >/dev/null 2>&1 && gocache=$(go env GOCACHE 2>/dev/null) || true
(cd "$work/build/libedera" &&
	env ${gocache:+GOCACHE="$gocache"} DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "dpkg-buildpackage failed (log: $work/build.log)"; }
mv "$work"/build/*.deb "$work"/build/*.changes "$work"/build/*.buildinfo "$work/debs/"
ls "$work/debs"

# 2. lintian: errors and warnings fail
echo "check-deb: lintian"
lintian --fail-on error,warning --tag-display-limit 0 "$work"/debs/*.changes >&2 ||
	die "lintian: errors or warnings above (fix them, or override one with its reason in debian/)"

# 3. a clean Debian 12, kept between runs (reset to its first state)
root="$work/chroot"
umount_all() { for m in proc dev/pts dev; do umount "$root/$m" 2>/dev/null || true; done; }
# removes the chroot, never through a mount left behind (the host's /dev, say)
clear_root() {
	umount_all
	if [ -d "$root" ] && findmnt -R -n -o TARGET "$root" >/dev/null 2>&1; then
		findmnt -R "$root" >&2
		die "something is still mounted under $root (above): unmount it, then run again"
	fi
	rm -rf --one-file-system "$root"
}
if [ ! -f "$work/chroot.tar" ]; then
	echo "check-deb: debootstrap --variant=minbase bookworm (once)"
	clear_root
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
	# (whole or not at all: a run cut short makes it again, not half of it)
	tar -C "$root" -cf "$work/chroot.tar.part" . || die "archiving the chroot failed"
	mv "$work/chroot.tar.part" "$work/chroot.tar"
fi
trap umount_all EXIT
clear_root
mkdir -p "$root" && tar -C "$root" -xf "$work/chroot.tar"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# as an installed Debian 12 has: its updates and security fixes (the
# packages were built against them: Xen's libraries come from there)
security=${EDERA_DEB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cat >"$root/etc/apt/sources.list" <<EOS
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOS
mkdir -p "$root/debs"
cp "$work"/debs/*.deb "$root/debs/"
rm -f "$root"/debs/*-dbgsym_*.deb
cp "$src/examples/hostinfo.c" "$root/hostinfo.c"
echo "check-deb: installing the packages in the clean chroot"
chroot "$root" /bin/sh -ec '
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends /debs/*.deb gcc libc6-dev pkg-config >/dev/null
	dpkg -l libedera0 libedera-dev python3-edera golang-libedera-edera-dev edera | tail -n 5
	cc -o /hostinfo /hostinfo.c $(pkg-config --cflags --libs edera)
	python3 -c "import edera; print(\"python3-edera:\", edera.__name__, \"imports\")"
	edera --help >/dev/null && echo "edera --help: ok"
	man -w edera_zone libedera edera 2>/dev/null || ls /usr/share/man/man3/edera_zone.3.gz
' || die "installing or building in the clean chroot failed"
rc=0
out=$(chroot "$root" /hostinfo 2>&1) || rc=$?
echo "$out"
if [ -e /dev/xen/privcmd ]; then
	[ "$rc" = 0 ] || die "hostinfo failed in dom0 (exit $rc)"
else
	[ "$rc" = 1 ] && grep -qi "xen" <<<"$out" ||
		die "hostinfo outside Xen should fail with the library's no-Xen error (exit 1), not exit $rc"
fi
echo "check-deb: packages built, lintian clean, installed in a clean Debian 12; hostinfo built with pkg-config and ran (exit $rc)"
