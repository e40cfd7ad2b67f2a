#!/bin/sh
# Guest test program: announce, then wait to be shut down from outside.
echo "EDERA-WAITING"
exec sleep 600
