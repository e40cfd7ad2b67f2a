#!/bin/sh
# Guest test program for PV devices (xen-blkfront, xen-netfront and ext4
# are loaded by /init).  Steps, in the order given as arguments:
#   disk        wait for /dev/xvda (ext4), print the host's hello.txt, write
#               from-zone.txt, unmount: EDERA-DISK-READ <text>, EDERA-DISK-DONE
#   hotplug     wait for /dev/xvdb to appear, then to go:
#               EDERA-XVDB-APPEARED, EDERA-XVDB-GONE
#   net IP PEER PORT BYTES
#               bring eth0 up as IP/24, ping PEER (EDERA-PING-OK), then send
#               BYTES of the test stream to PEER:PORT (EDERA-NET-SENT)
#   idle        wait until shut down
#   crash       crash the kernel at once (its drivers connected already)
#   flood SECONDS
#               write a node of its disk's frontend directory in a loop
#               (xs-guest chatty): EDERA-FLOOD-DONE
wait_for() { # path seconds
	i=0
	while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}
while [ $# -gt 0 ]; do
	case $1 in
	disk)
		wait_for /dev/xvda 120 || { echo "EDERA-DISK-MISSING"; exit 1; }
		mkdir -p /mnt
		mount -t ext4 /dev/xvda /mnt || { echo "EDERA-DISK-MOUNT-FAILED"; exit 1; }
		echo "EDERA-DISK-READ $(cat /mnt/hello.txt)"
		echo "written by the zone" >/mnt/from-zone.txt
		umount /mnt && sync
		echo "EDERA-DISK-DONE"
		shift ;;
	hotplug)
		wait_for /dev/xvdb 120 || { echo "EDERA-XVDB-MISSING"; exit 1; }
		echo "EDERA-XVDB-APPEARED $(cat /sys/block/xvdb/size) sectors"
		i=0
		while [ -e /dev/xvdb ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
		[ -e /dev/xvdb ] && { echo "EDERA-XVDB-STAYED"; exit 1; }
		echo "EDERA-XVDB-GONE"
		shift ;;
	net)
		ip=$2 peer=$3 port=$4 bytes=$5
		shift 5
		wait_for /sys/class/net/eth0 120 || { echo "EDERA-ETH0-MISSING"; exit 1; }
		ip link set eth0 up
		ip addr add "$ip/24" dev eth0
		ok=0
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			ping -c 1 -W 2 "$peer" >/dev/null 2>&1 && { ok=1; break; }
		done
		[ $ok = 1 ] || { echo "EDERA-PING-FAILED"; exit 1; }
		echo "EDERA-PING-OK"
		/bin/net-send "$peer" "$port" "$bytes" || exit 1
		echo "EDERA-NET-SENT"
		;;
	flood)
		wait_for /dev/xvda 120 || { echo "EDERA-DISK-MISSING"; exit 1; }
		echo "EDERA-FLOOD-START"
		/bin/xs-guest chatty "$2" device/vbd/51712/flood || exit 1
		echo "EDERA-FLOOD-DONE"
		shift 2 ;;
	crash)
		echo "EDERA-CRASHING"
		echo c >/proc/sysrq-trigger ;;
	idle)
		echo "EDERA-IDLE"
		exec sleep 100000 ;;
	*) echo "dev.sh: unknown step $1"; exit 2 ;;
	esac
done
exit 0
