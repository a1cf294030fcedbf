#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
#
# The disk benchmark in the rig (scripts/rig.sh bench, section "disk";
# Documentation/bench.rst): one image, one key, one cipher, three ways.
#   alg_*   the kernel cipher through AF_ALG (disk_bench alg)
#   disk_*  pc_disk.elf mode=bench: the encrypted virtio-blk disk of
#           shv-run --accel shv (SHV_DISK_IO in shv.ko)
#   dm_*    dm-crypt (cryptsetup plain) on the same image, O_DIRECT from
#           the host (disk_bench dev), the same pattern
# Prints "bench: NAME N KiB/s" lines.  busybox sh.

CIPHER=${BENCH_DISK_CIPHER:-aes-xts-plain64}
KCIPHER=${BENCH_DISK_KCIPHER:-xts(aes)}
KEYBYTES=${BENCH_DISK_KEYBYTES:-64}
MIB=${BENCH_DISK_MIB:-32}
OPS=${BENCH_DISK_OPS:-2048}
IMG=/tmp/bench-disk.img
KEY=/tmp/bench-disk.key
DM=shvbench
CS=
for f in /sbin/cryptsetup /usr/sbin/cryptsetup; do
	[ -z "$CS" ] && [ -x "$f" ] && CS=$f
done

dd if=/dev/urandom of="$KEY" bs="$KEYBYTES" count=1 2>/dev/null
dd if=/dev/zero of="$IMG" bs=1M count="$MIB" 2>/dev/null
echo "# $CIPHER, $MIB MiB image in tmpfs, $OPS random 4 KiB operations"
rc=0
/disk_bench alg "$KCIPHER" "$KEYBYTES" 65536 alg "$MIB" || rc=1
/shv-run --accel shv --kernel /guests/pc_disk.elf \
	--disk "$IMG,cipher=$CIPHER,keyfile=$KEY" \
	--append "mode=bench ops=$OPS" </dev/null
[ $? = 1 ] || rc=1
if [ -n "$CS" ] && "$CS" open --batch-mode --type plain --cipher "$CIPHER" \
	--key-size $((KEYBYTES * 8)) --key-file "$KEY" --disable-locks \
	"$IMG" "$DM" </dev/null; then
	/disk_bench dev "/dev/mapper/$DM" dm "$OPS" || rc=1
	"$CS" close --batch-mode --disable-locks "$DM"
else
	echo "# no dm-crypt (cryptsetup)"
	rc=1
fi
rm -f "$IMG" "$KEY"
exit $rc
