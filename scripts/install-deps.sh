#!/bin/bash
# Install what libedera's build, tests and rig need on Debian 12 (x86-64),
# as root.  Installs only what is missing; safe to re-run.
set -euo pipefail
pkgs=(
	# build
	autoconf automake libtool pkg-config make gcc libc6-dev
	libxen-dev libuv1-dev check zlib1g-dev liblzma-dev libzstd-dev libmnl-dev
	# container images (lib/image): JSON and tar layers; mkfs.erofs makes
	# the zones' root images (fsck.erofs and dump.erofs check them in tests)
	libjansson-dev libarchive-dev erofs-utils
	# the Python bindings (bindings/python): SWIG, headers, setuptools (and
	# wheel, for pip install --no-build-isolation), venv, the tests
	swig python3-dev python3-setuptools python3-wheel python3-venv python3-pip
	python3-pytest python3-pytest-asyncio
	# the Go bindings (bindings/go): Go 1.19, standard library only (gofmt
	# and the race detector's runtime come with it)
	golang-go
	# the containerd shim: containerd 1.6's Go sources (built offline in
	# GOPATH mode from /usr/share/gocode), containerd and ctr for its rig test
	# (which finds shim processes with pgrep and ps: procps, not in minbase)
	golang-github-containerd-containerd-dev containerd procps
	# the rig: Xen's tools serve dom0 through the shared host root
	xen-utils-4.17 qemu-system-x86 busybox-static cpio kmod gzip
	# checks: valgrind, libFuzzer for the fuzz targets, the ABI against its
	# baseline (abidw, abidiff; objdump and nm from binutils)
	valgrind clang libclang-rt-14-dev abigail-tools binutils
	# the reference manual: pages rendered and checked (man, groff)
	man-db groff-base
	# the Debian packages (make check-deb: dpkg-buildpackage, lintian, a
	# clean chroot made by debootstrap)
	dpkg-dev debhelper dh-python lintian debootstrap fakeroot
	# device tests: ext4 images made on the host, read back after detach;
	# bridges, addresses and loop devices set up in dom0 (from the host's root)
	e2fsprogs iproute2 mount
	# what tests/rig/rig.sh checks for besides: xenstore-read (a test reads a
	# node as a second client would), awk and find
	xenstore-utils mawk findutils coreutils
	# the workload benchmark's reference (make bench-run: edera run vs runc)
	runc
)
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root" >&2; exit 1; }
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
# The rig looks up the current Debian kernel in the package lists: keep them fresh.
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	# xen-utils prints "Can't find hypervisor information" on a host without Xen: harmless.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all dependencies present"
