#!/bin/bash
# The libedera test rig: boot Xen 4.17 and a Debian dom0 under QEMU software
# emulation and run one command inside dom0, in the project tree.
#
# Usage: rig.sh [options] -- COMMAND [ARG...]
#   --share DIR     share DIR read-write with dom0 at the same absolute path
#                   (repeatable; default: the current directory)
#   --xenconsoled   also start xenconsoled in dom0 (logs under /var/log/xen)
#   --xenstored D   the XenStore daemon dom0 runs: xenstored (C, the default)
#                   or oxenstored (OCaml); both ship in xen-utils-4.17
#   --mem MIB       memory of the emulated machine (default 3072; dom0 gets 1024)
#   --cpus N        emulated CPUs (default 2)
#   --timeout SECS  limit for the command itself (default 1200)
# Environment:
#   EDERA_RIG_CACHE         where packages are cached (default: tests/rig/cache
#                           beside this script)
#   EDERA_RIG_BOOT_TIMEOUT  seconds for Xen + dom0 to come up (default 180)
#   EDERA_RIG_LOG           also save the Xen/dom0 console log there
#   EDERA_RIG_KEEP=1        keep the run folder (command, output, console log)
#   EDERA_RIG_XEN_ARGS      more Xen command-line options (e.g. loglvl=all
#                           guest_loglvl=all while debugging a guest)
#   EDERA_*, CK_*           exported into the command's environment in dom0
# The command's output is streamed as it runs; the exit status is the
# command's own, or 125 when the rig itself failed (then the console log is
# printed).  The host root is shared read-only, so the command sees the host's
# tools; write only to shared folders, /tmp, /run or /var/lib/xen.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shares=()
xenconsoled=0
xenstored=xenstored
mem=3072
cpus=2
timeout=1200
boot_timeout=${EDERA_RIG_BOOT_TIMEOUT:-180}

usage() { sed -n '4,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "rig: $*" >&2; exit 125; }

while [ $# -gt 0 ]; do
	case $1 in
	--share) shares+=("$(cd "${2:?--share needs a folder}" && pwd)"); shift 2 ;;
	--xenconsoled) xenconsoled=1; shift ;;
	--xenstored)
		case ${2:-} in
		xenstored|oxenstored) xenstored=$2 ;;
		*) echo "rig: --xenstored takes xenstored or oxenstored, not '${2:-}'" >&2; usage ;;
		esac
		shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--cpus) cpus=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) echo "rig: unknown option '$1'" >&2; usage ;;
	esac
done
[ $# -gt 0 ] || { echo "rig: no command given" >&2; usage; }
[ ${#shares[@]} -gt 0 ] || shares=("$PWD")

[ "$(id -u)" = 0 ] || die "must run as root (QEMU exports the host root to dom0)"
# Every command the rig, the guest-image scripts and the tests in dom0 call
# (dom0 runs on the host's root, so they come from the host), with the
# Debian package that provides it: a minimal Debian 12 lacks several, and a
# missing one is clearer here than as failures deep inside three suites.
missing=()
while read -r tool pkg; do
	command -v "$tool" >/dev/null || missing+=("'$tool' (package $pkg)")
done <<'TOOLS'
qemu-system-x86_64 qemu-system-x86
cpio cpio
gzip gzip
modprobe kmod
depmod kmod
apt-get apt
dpkg dpkg
ldd libc-bin
ip iproute2
losetup mount
mkfs.ext4 e2fsprogs
debugfs e2fsprogs
truncate coreutils
timeout coreutils
seq coreutils
awk mawk
find findutils
xenstore-read xenstore-utils
valgrind valgrind
TOOLS
[ ${#missing[@]} = 0 ] ||
	die "missing: ${missing[*]}; run scripts/install-deps.sh (it installs them all)"
busybox=$(command -v busybox 2>/dev/null || true)
[ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	die "a static busybox is needed (package busybox-static)"
[ -x /usr/lib/xen-4.17/bin/$xenstored ] || die "Xen 4.17 tools missing (package xen-utils-4.17)"

cache=${EDERA_RIG_CACHE:-$here/cache}
"$here/fetch.sh" "$cache" >&2 || die "could not fetch Xen and the kernel"
cache=$(cd "$cache" && pwd)
kver=$(cat "$cache/kernel-version")
kdir="$cache/root/lib/modules/$kver"

# Keep only the outermost of the shared folders; the cache must be reachable.
all=("${shares[@]}" "$cache")
shares=()
while IFS= read -r d; do
	keep=1
	for s in "${shares[@]}"; do
		case $d/ in "$s"/*) keep=0 ;; esac
	done
	[ $keep = 1 ] && shares+=("$d")
done < <(printf '%s\n' "${all[@]}" | awk '{print length, $0}' | sort -n | cut -d' ' -f2-)
for s in "${shares[@]}"; do
	case $s in *[[:space:]=]*) die "shared folder '$s' has a space or '='; move it" ;; esac
	[ "$s" != / ] || die "cannot share / read-write"
done

mkdir -p "$cache/runs"
rundir=$(mktemp -d "$cache/runs/run.XXXXXX")
qpid=
tailpid=
cleanup() {
	[ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	if [ "${EDERA_RIG_KEEP:-0}" = 1 ]; then
		echo "rig: run folder kept: $rundir" >&2
	else
		rm -rf "$rundir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command, its folder and environment, for dom0-run.sh.
printf '%q ' "$@" >"$rundir/cmd"
echo >>"$rundir/cmd"
pwd >"$rundir/cwd"
{
	printf 'export RIG_CACHE=%q\n' "$cache"
	printf 'export RIG_XENCONSOLED=%q\n' "$xenconsoled"
	printf 'export RIG_XENSTORED=%q\n' "$xenstored"
	printf 'export RIG_EXTRA_MODULES=%q\n' "${EDERA_RIG_MODULES:-}"
	printf 'export PATH=%q\n' "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	printf 'export HOME=/root TERM=dumb LANG=C.UTF-8\n'
	printf 'export EDERA_IN_RIG=1\n'
	while IFS='=' read -r name _; do
		case $name in EDERA_*|CK_*) printf 'export %s=%q\n' "$name" "${!name}" ;; esac
	done < <(env)
} >"$rundir/env.sh"
cp "$here/dom0-run.sh" "$rundir/dom0-run.sh"

# dom0's initramfs: static busybox, the modules that reach virtio-9p, rig.conf.
ird="$rundir/initramfs"
mkdir -p "$ird/bin" "$ird/modules"
cp "$busybox" "$ird/bin/busybox"
cp "$here/init" "$ird/init"
modules=()
while read -r _ path _; do
	name=$(basename "$path")
	case " ${modules[*]-} " in *" $name "*) continue ;; esac
	cp "$path" "$ird/modules/$name"
	modules+=("$name")
done < <(for m in virtio_pci 9pnet_virtio 9p; do
	modprobe -d "$cache/root" -S "$kver" --show-depends "$m" | grep '^insmod '
done)
{
	printf 'RIG_RUNDIR=%s\n' "$rundir"
	printf 'RIG_MODULES="%s"\n' "${modules[*]}"
	printf 'RIG_SHARES="'
	i=0
	for s in "${shares[@]}"; do printf 'share%d=%s\n' $i "$s"; i=$((i + 1)); done
	printf '"\n'
} >"$ird/rig.conf"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$rundir/initramfs.cpio.gz"
rm -rf "$ird"

virtfs=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
i=0
for s in "${shares[@]}"; do
	virtfs+=(-virtfs "local,path=$s,mount_tag=share$i,security_model=none,multidevs=remap")
	i=$((i + 1))
done

log="$rundir/console.log"
: >"$log"
: >"$rundir/output"
start=$(date +%s)
qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64 -m "$mem" -smp "$cpus" \
	-display none -serial "file:$log" -monitor none -no-reboot -nic none \
	-kernel "$cache/xen" \
	-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=$cpus ${EDERA_RIG_XEN_ARGS:-}" \
	-initrd "$cache/vmlinuz console=hvc0 quiet,$rundir/initramfs.cpio.gz" \
	"${virtfs[@]}" </dev/null >"$rundir/qemu.out" 2>&1 &
qpid=$!

show_log() {
	echo "rig: ---- Xen and dom0 console ($log) ----" >&2
	cat "$log" >&2
	if [ -s "$rundir/qemu.out" ]; then
		echo "rig: ---- QEMU ----" >&2
		cat "$rundir/qemu.out" >&2
	fi
	echo "rig: ---- end ----" >&2
}
save_log() {
	[ -n "${EDERA_RIG_LOG:-}" ] && cp "$log" "$EDERA_RIG_LOG"
	return 0
}

# Phase 1: Xen and dom0 come up, within the boot limit.
while [ ! -e "$rundir/ready" ]; do
	if ! kill -0 "$qpid" 2>/dev/null || grep -q '^EDERA-RIG-FAIL' "$log"; then
		save_log; show_log
		die "dom0 did not come up (see the console log above)"
	fi
	if [ $(($(date +%s) - start)) -ge "$boot_timeout" ]; then
		save_log; show_log
		die "dom0 not ready after ${boot_timeout}s; giving up"
	fi
	sleep 0.2
done
ready=$(($(date +%s) - start))
echo "rig: $(grep -m 1 'Xen version' "$log" | tr -d '\r')" >&2
echo "rig: Xen $(grep -o 'Xen version [^ ]*' "$log" | head -n 1 | cut -d' ' -f3) and dom0 ready in ${ready}s" >&2

# Phase 2: the command runs; stream its output.
tail -n +1 -s 0.2 -f "$rundir/output" &
tailpid=$!
deadline=$(($(date +%s) + timeout))
while kill -0 "$qpid" 2>/dev/null; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		kill "$qpid" 2>/dev/null || true
		sleep 0.5
		kill "$tailpid" 2>/dev/null || true
		save_log; show_log
		die "command still running after ${timeout}s; stopped the rig"
	fi
	sleep 0.2
done
wait "$qpid" 2>/dev/null || true
qpid=
sleep 0.3
kill "$tailpid" 2>/dev/null || true
wait "$tailpid" 2>/dev/null || true
tailpid=
save_log

if [ -s "$rundir/status" ]; then
	status=$(cat "$rundir/status")
else
	status=$(sed -n 's/^EDERA-RIG-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$status" ] || status=125
fi
echo "rig: command exited with status $status after $(($(date +%s) - start))s in all" >&2
if [ "$status" != 0 ]; then
	show_log
fi
exit "$status"
