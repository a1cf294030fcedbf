#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The encrypted virtio-blk disk end to end: user/guests/pc_disk.elf under
# shv-run --accel shv with --disk ...,cipher=...,keyfile=..., its images
# checked against dm-crypt (cryptsetup plain mode) both ways, a runner
# killed with SIGKILL in the middle of writes, and the errors of bad
# disk options.  Installed as build/pc_disk_test; KTAP on stdout.
# busybox sh compatible.  SHV_RUN, SHV_GUESTS: as pc_machine.sh.

here=$(cd "$(dirname "$0")" && pwd)
for d in "$here/../user" "$here/../../user"; do
	[ -z "${SHV_RUN:-}" ] && [ -x "$d/shv-run" ] && SHV_RUN=$d/shv-run
	[ -z "${SHV_GUESTS:-}" ] && [ -f "$d/guests/pc_disk.elf" ] &&
		SHV_GUESTS=$d/guests
done
[ -x /shv-run ] && [ -z "${SHV_RUN:-}" ] && SHV_RUN=/shv-run
[ -d /guests ] && [ -z "${SHV_GUESTS:-}" ] && SHV_GUESTS=/guests
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pc_disk.XXXXXX") || exit 1
DM=shvpcdisk
CS=
for f in /sbin/cryptsetup /usr/sbin/cryptsetup /bin/cryptsetup; do
	[ -z "$CS" ] && [ -x "$f" ] && CS=$f
done
cleanup() {
	[ -n "$CS" ] && [ -e "/dev/mapper/$DM" ] &&
		"$CS" close --batch-mode --disable-locks "$DM" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
PLAN=29

echo "TAP version 13"
if [ -z "${SHV_RUN:-}" ] || [ ! -f "${SHV_GUESTS:-}/pc_disk.elf" ]; then
	echo "1..0 # SKIP shv-run or pc_disk.elf not found"
	exit 4
fi
if [ ! -e /dev/shv ]; then
	echo "1..0 # SKIP no /dev/shv"
	exit 4
fi
echo "1..$PLAN"

MMU=
[ -n "${SHV_TEST_MMU:-}" ] && [ "$SHV_TEST_MMU" != default ] &&
	MMU="--mmu $SHV_TEST_MMU"
TO=
command -v timeout >/dev/null 2>&1 && TO="timeout 600"
n=0
failed=0

indent() {
	while IFS= read -r l || [ -n "$l" ]; do
		printf '  %s\n' "$l"
	done
}

result() {	# why desc
	n=$((n + 1))
	if [ -n "$1" ]; then
		echo "not ok $n $2 # $1"
		failed=$((failed + 1))
	else
		echo "ok $n $2"
	fi
}

skip() {	# desc why
	n=$((n + 1))
	echo "ok $n $1 # SKIP $2"
}

# guest DESC DISK APPEND [shv-run args]: run pc_disk, its TAP as subtest;
# leaves the output in $OUT and the status in $RC
guest() {
	desc=$1 disk=$2 app=$3
	shift 3
	OUT=$TMP/out.$((n + 1))
	echo "# shv-run --kernel pc_disk.elf --disk $disk $* --append '$app'"
	# shellcheck disable=SC2086
	$TO "$SHV_RUN" --accel shv $MMU --kernel "$SHV_GUESTS/pc_disk.elf" \
		--disk "$disk" "$@" --append "$app" </dev/null \
		>"$OUT.raw" 2>"$OUT.err"
	RC=$?
	tr -d '\r' <"$OUT.raw" >"$OUT"
	{
		echo "TAP version 13"
		grep -E '^1\.\.[0-9]+' "$OUT" | head -n 1
		grep -Ev '^(TAP version|1\.\.[0-9]+)' "$OUT"
	} | indent
	why=
	if [ "$RC" != 1 ]; then
		why="exit status $RC, expected 1"
	elif grep -q '^not ok' "$OUT"; then
		why="guest checks failed"
	elif ! grep -Eq '^1\.\.[1-9]' "$OUT"; then
		why="no TAP plan from the guest"
	fi
	[ -n "$why" ] && sed 's/^/# stderr: /' "$OUT.err" | tail -n 10
	result "$why" "$desc"
}

# the guest's "# crc32 X"
guest_crc() {
	sed -n 's/^# crc32 \([0-9a-f]*\)$/\1/p' "$OUT" | tail -n 1
}

# dm_open IMG CIPHER KEYBITS KEY SECTOR
dm_open() {
	"$CS" open --batch-mode --type plain --cipher "$2" --key-size "$3" \
		--key-file "$4" --sector-size "$5" --disable-locks "$1" "$DM" \
		</dev/null 2>&1 | sed 's/^/# cryptsetup: /'
	[ -e "/dev/mapper/$DM" ]
}

dm_close() {
	"$CS" close --batch-mode --disable-locks "$DM" </dev/null 2>&1 |
		sed 's/^/# cryptsetup: /'
}

# busybox's crc32 of a file: "crc32 name"
file_crc() {
	crc32 "$1" | cut -d ' ' -f 1
}

plugin() {	# module name
	[ -d "/sys/module/$1" ]
}

# interop CIPHER KEYBYTES SECTOR: the guest fills the disk, dm-crypt reads
# it; dm-crypt writes, the guest reads it
interop() {
	cipher=$1 kb=$2 ss=$3
	img=$TMP/interop.img key=$TMP/interop.key
	dd if=/dev/urandom of="$key" bs="$kb" count=1 2>/dev/null
	rm -f "$img"
	dd if=/dev/zero of="$img" bs=1M count=2 2>/dev/null
	guest "$cipher, $ss-byte sectors: the guest fills the disk" \
		"$img,cipher=$cipher,keyfile=$key,sector=$ss" \
		"mode=fill seed=$ss sectors=4096 bs=$ss"
	gcrc=$(guest_crc)
	if [ -z "$CS" ]; then
		skip "$cipher, $ss: dm-crypt reads the guest's data" "no cryptsetup"
		skip "$cipher, $ss: the guest reads dm-crypt's data" "no cryptsetup"
		return
	fi
	why=
	if ! dm_open "$img" "$cipher" $((kb * 8)) "$key" "$ss"; then
		why="cryptsetup open failed"
	else
		dcrc=$(file_crc "/dev/mapper/$DM")
		echo "# guest crc32 $gcrc, dm-crypt crc32 $dcrc"
		[ -n "$gcrc" ] && [ "$dcrc" = "$gcrc" ] ||
			why="dm-crypt reads crc32 $dcrc, the guest wrote $gcrc"
	fi
	result "$why" "$cipher, $ss-byte sectors: dm-crypt reads the guest's plaintext"
	why=
	if [ -e "/dev/mapper/$DM" ]; then
		dd if=/dev/urandom of="/dev/mapper/$DM" bs=64k count=32 \
			conv=fsync 2>/dev/null || why="write through dm-crypt failed"
		dcrc=$(file_crc "/dev/mapper/$DM")
		dm_close
	else
		why="no dm-crypt device"
	fi
	guest "$cipher, $ss: the guest reads the disk" \
		"$img,cipher=$cipher,keyfile=$key,sector=$ss" \
		"mode=sum sectors=4096 bs=$ss"
	gcrc=$(guest_crc)
	echo "# dm-crypt wrote crc32 $dcrc, the guest reads $gcrc"
	[ -z "$why" ] && [ "$gcrc" != "$dcrc" ] &&
		why="the guest reads crc32 $gcrc, dm-crypt wrote $dcrc"
	result "$why" "$cipher, $ss-byte sectors: the guest reads dm-crypt's plaintext"
}

KEY=$TMP/xts.key
IMG=$TMP/disk.img
dd if=/dev/urandom of="$KEY" bs=64 count=1 2>/dev/null
dd if=/dev/zero of="$IMG" bs=1M count=4 2>/dev/null

if plugin shv_aes_xts; then
	# 1
	guest "aes-xts-plain64, 512-byte sectors, 2 vCPUs" \
		"$IMG,cipher=aes-xts-plain64,keyfile=$KEY" \
		"cpus=2 sectors=8192 bs=512" --smp 2
	# 2
	guest "aes-xts-plain64, 4096-byte sectors" \
		"$IMG,cipher=aes-xts-plain64,keyfile=$KEY,sector=4096" \
		"sectors=8192 bs=4096"
	# 3
	guest "aes-xts-plain64, read-only" \
		"$IMG,cipher=aes-xts-plain64,keyfile=$KEY,ro" "ro=1"
	# 4-11
	interop aes-xts-plain64 64 512
	interop aes-xts-plain64 64 4096
else
	for i in 1 2 3 4 5 6 7 8 9 10 11; do
		skip "aes-xts-plain64 test $i" "no shv-aes-xts plug-in"
	done
fi

if plugin shv_aes_cbc_essiv; then
	# 12-15
	interop aes-cbc-essiv:sha256 32 512
else
	for i in 1 2 3 4; do
		skip "aes-cbc-essiv:sha256 test $i" "no shv-aes-cbc-essiv plug-in"
	done
fi

# 16-17: SIGKILL while writing; what the last completed flush covered is
# intact after a restart
if plugin shv_aes_xts; then
	out=$TMP/kill.out
	echo "# shv-run --kernel pc_disk.elf --disk $IMG,cipher=aes-xts-plain64,... --append mode=gen &"
	# shellcheck disable=SC2086
	"$SHV_RUN" --accel shv $MMU --kernel "$SHV_GUESTS/pc_disk.elf" \
		--disk "$IMG,cipher=aes-xts-plain64,keyfile=$KEY" \
		--append mode=gen </dev/null >"$out" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 300 ] && ! grep -q '^disk: flushed 2' "$out"; do
		kill -0 $pid 2>/dev/null || break
		sleep 1
		i=$((i + 1))
	done
	# in the middle of the next generation's writes
	sleep 1
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	g=$(tr -d '\r' <"$out" | sed -n 's/^disk: flushed \([0-9]*\)$/\1/p' |
		tail -n 1)
	why=
	[ -n "$g" ] && [ "$g" -ge 2 ] || why="no second flushed generation"
	echo "# killed after generation ${g:-none} was flushed"
	result "$why" "SIGKILL of the runner while the guest writes"
	guest "after SIGKILL: flushed generation ${g:-0} intact" \
		"$IMG,cipher=aes-xts-plain64,keyfile=$KEY" "mode=verify gen=${g:-0}"
else
	skip "SIGKILL while writing" "no shv-aes-xts plug-in"
	skip "after SIGKILL" "no shv-aes-xts plug-in"
fi

# 18-20: the key in the kernel keyring (keyid=logon:NAME), not in a file
if plugin shv_aes_xts && [ -x "$here/disk_bench" ] &&
   "$here/disk_bench" key shvpcdisk:test "$KEY"; then
	guest "aes-xts-plain64, key file: the guest fills the disk" \
		"$IMG,cipher=aes-xts-plain64,keyfile=$KEY" "mode=fill seed=77"
	fcrc=$(guest_crc)
	guest "aes-xts-plain64, keyring key logon:shvpcdisk:test: the guest reads" \
		"$IMG,cipher=aes-xts-plain64,keyid=logon:shvpcdisk:test,keysize=64" \
		"mode=sum"
	kcrc=$(guest_crc)
	why=
	[ -n "$fcrc" ] && [ "$fcrc" = "$kcrc" ] ||
		why="crc32 with the key file $fcrc, with the keyring key $kcrc"
	result "$why" "the keyring key reads what the key file wrote"
else
	for i in 1 2 3; do
		skip "keyring key test $i" "no plug-in, disk_bench or add_key"
	done
fi

# 21-26: VHD containers (format=vhd), made by shv-disk: a dynamic VHD
# grows as the guest writes, shv-disk reads back what the guest wrote;
# aes-gcm-random inside a fixed VHD, every tag checked afterwards
TOOL=
[ -x /shv-disk ] && TOOL=/shv-disk
[ -z "$TOOL" ] && [ -x "$here/../../user/tools/shv-disk" ] &&
	TOOL=$here/../../user/tools/shv-disk
if plugin shv_aes_xts && [ -n "$TOOL" ]; then
	vhd=$TMP/dyn.vhd
	"$TOOL" create "$vhd" --size 4M --format vhd-dynamic --block-size 1M \
		--cipher aes-xts-plain64 --keyfile "$KEY" --quiet 2>&1 |
		sed 's/^/# shv-disk: /'
	before=$(wc -c <"$vhd")
	guest "aes-xts-plain64 in a dynamic VHD" \
		"$vhd,format=vhd,cipher=aes-xts-plain64,keyfile=$KEY" \
		"sectors=8192 bs=512"
	guest "dynamic VHD: the guest fills it" \
		"$vhd,format=vhd,cipher=aes-xts-plain64,keyfile=$KEY" \
		"mode=fill seed=5"
	gcrc=$(guest_crc)
	after=$(wc -c <"$vhd")
	raw=$TMP/dyn.raw
	rm -f "$raw"
	why=
	if ! "$TOOL" check "$vhd" --quiet >"$TMP/chk.out" 2>&1; then
		why="shv-disk check: $(head -n 1 "$TMP/chk.out")"
	elif [ "$after" -le "$before" ]; then
		why="the VHD did not grow ($before -> $after bytes)"
	elif ! "$TOOL" convert "$vhd" "$raw" --format raw --quiet \
			>"$TMP/conv.out" 2>&1 ||
	     ! "$TOOL" decrypt "$raw" --cipher aes-xts-plain64 \
			--keyfile "$KEY" --quiet >>"$TMP/conv.out" 2>&1; then
		why="shv-disk convert/decrypt: $(head -n 1 "$TMP/conv.out")"
	elif [ "$(file_crc "$raw")" != "$gcrc" ]; then
		why="crc32 $(file_crc "$raw") from shv-disk, $gcrc from the guest"
	fi
	echo "# dynamic VHD: $before -> $after bytes"
	result "$why" "dynamic VHD: grown, consistent, and shv-disk reads the guest's data"
else
	for i in 1 2 3; do
		skip "dynamic VHD test $i" "no shv-aes-xts plug-in or shv-disk"
	done
fi
if plugin shv_aes_gcm && [ -n "$TOOL" ]; then
	vhd=$TMP/gcm.vhd
	gkey=$TMP/gcm.key
	head -c 32 "$KEY" >"$gkey"
	"$TOOL" create "$vhd" --size 4M --format vhd-fixed \
		--cipher aes-gcm-random --keyfile "$gkey" --quiet 2>&1 |
		sed 's/^/# shv-disk: /'
	guest "aes-gcm-random in a fixed VHD: the guest fills it" \
		"$vhd,format=vhd,cipher=aes-gcm-random,keyfile=$gkey" \
		"mode=fill seed=9"
	why=
	"$TOOL" check "$vhd" --cipher aes-gcm-random --keyfile "$gkey" \
		>"$TMP/chk.out" 2>&1 ||
		why="shv-disk check: $(grep -v '^$' "$TMP/chk.out" | head -n 1)"
	result "$why" "aes-gcm-random: every tag the guest's writes left checks out"
	# one flipped byte in the data area (disk_test: the guest gets EIO)
	off=$(($(wc -c <"$vhd") / 2))
	b=$(dd if="$vhd" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 |
		tr -d ' ')
	# its complement: a fixed value would be no change once in 256 runs
	printf "\\$(printf %03o $((255 - ${b:-0})))" |
		dd of="$vhd" bs=1 seek=$off conv=notrunc 2>/dev/null
	why=
	"$TOOL" check "$vhd" --cipher aes-gcm-random --keyfile "$gkey" \
		>"$TMP/chk.out" 2>&1 && why="shv-disk check found no damage"
	result "$why" "aes-gcm-random: a flipped byte is found by shv-disk check"
else
	for i in 1 2 3; do
		skip "aes-gcm-random VHD test $i" "no shv-aes-gcm plug-in or shv-disk"
	done
fi

# 27-29: bad disk options: clear errors, nothing run
bad() {	# desc status message-regex disk [args]
	desc=$1 want=$2 re=$3 disk=$4
	shift 4
	# shellcheck disable=SC2086
	"$SHV_RUN" "$@" --kernel "$SHV_GUESTS/pc_disk.elf" --disk "$disk" \
		</dev/null >"$TMP/bad.out" 2>&1
	rc=$?
	sed 's/^/# /' "$TMP/bad.out" | head -n 3
	why=
	if [ "$rc" != "$want" ]; then
		why="exit status $rc, expected $want"
	elif ! grep -Eq "$re" "$TMP/bad.out"; then
		why="no message matching '$re'"
	fi
	result "$why" "$desc"
}
head -c 10 "$KEY" >"$TMP/short.key"
bad "a cipher under --accel kvm" 1 "needs --accel shv" \
	"$IMG,cipher=aes-xts-plain64,keyfile=$KEY" --accel kvm
bad "a 10-byte key for aes-xts-plain64" 3 "10-byte key" \
	"$IMG,cipher=aes-xts-plain64,keyfile=$TMP/short.key" --accel shv
bad "an unknown cipher" 3 "no such cipher" \
	"$IMG,cipher=rot13-plain,keyfile=$KEY" --accel shv

[ $n -eq $PLAN ] || echo "# $n results for a plan of $PLAN"
[ $failed -eq 0 ] && [ $n -eq $PLAN ]
