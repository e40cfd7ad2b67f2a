# Sourced by tests/xen/shim.sh and bench/shim-bench.sh: containerd
# (Debian's) started in dom0 on a socket of its own with
# containerd-shim-edera-v2 on its PATH, the test OCI image ($EDERA_WL_OCI)
# imported as $img; ctr bounded to 300 s a call (a hang counts in $fails,
# with what was going on); runc given the cgroup2 hierarchy it needs; all
# of it undone on exit.  Wants top_builddir and shimdir; CTD_LOG_LEVEL.
work=/tmp/edera-ctd
rm -rf "$work"
mkdir -p "$work"
sock="$work/containerd.sock"
kver=$(cat "$RIG_CACHE/kernel-version")
# what the shim reads (containerd passes its environment on)
export EDERA_KERNEL="$RIG_CACHE/vmlinuz" EDERA_MODULES_DIR="$RIG_CACHE/root/lib/modules/$kver"
export EDERA_ZONE_INIT="$top_builddir/zone-init/edera-zone-init"
export EDERA_CACHE_DIR=/tmp/edera-shim-cache
fails=0
check() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAILED: $1: wanted '$2', got '$3'"; fails=$((fails + 1)); fi
}
# (each ctr call bounded: a hang fails the test, with what was going on)
ctr() {
	local rc=0
	timeout 300 ctr --address "$sock" "$@" || rc=$?
	if [ "$rc" = 124 ]; then
		echo "FAILED: ctr $* did not finish in 300 s"
		fails=$((fails + 1))
		xl list
		ps -ef | grep -E 'containerd|mkfs|edera' | grep -v grep
		tail -40 "$work/containerd.log"
	fi
	return "$rc"
}
domains=$(xl list | wc -l)
# runc needs a cgroup hierarchy (the rig's dom0 mounts none)
umount_cg=0
if ! mountpoint -q /sys/fs/cgroup; then
	mount -t cgroup2 cgroup2 /sys/fs/cgroup && umount_cg=1
fi
cat >"$work/config.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[debug]
  level = "${CTD_LOG_LEVEL:-debug}"
EOF
PATH="$shimdir:$PATH" containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
ctd=$!
cleanup() {
	kill "$ctd" 2>/dev/null && wait "$ctd" 2>/dev/null
	[ "$umount_cg" = 1 ] && umount /sys/fs/cgroup 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && ctr version >/dev/null 2>&1 && break; sleep 0.2; done
ctr version >/dev/null || { cat "$work/containerd.log"; echo "containerd did not start"; exit 1; }

(cd "$EDERA_WL_OCI" && tar -cf "$work/image.tar" .)
ctr images import --base-name edera/test --snapshotter native "$work/image.tar" >/dev/null
img=edera/test:test
check "ctr images import" "$img" "$(ctr images ls -q | grep -x "$img")"
