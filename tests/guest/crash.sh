#!/bin/sh
# Guest test program: crash the guest kernel on purpose.
echo "EDERA-CRASHING"
echo c >/proc/sysrq-trigger
