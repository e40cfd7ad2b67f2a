#!/bin/busybox sh
# Run by busybox's uevent listener for each kernel uevent in the resource
# test guest (tests/guest/init starts it when the image carries this): a
# Linux PV kernel only makes a vCPU the toolstack marks available present;
# onlining it is userspace's job, as a distribution's udev rule does
# (40-vm-hotadd.rules in Debian).
[ "$ACTION" = add ] && [ "$SUBSYSTEM" = cpu ] && echo 1 >"/sys$DEVPATH/online" 2>/dev/null
exit 0
