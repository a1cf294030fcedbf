#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The PC machine tests: boot each user/guests/pc_*.elf test kernel with
# shv-run and report one KTAP line per run (the guest's own TAP output
# as its subtest).  Installed as build/pc_machine_test, so run_tests.sh
# runs it once per MMU (SHV_TEST_MMU).  busybox sh compatible.
#
#   SHV_ACCEL=shv|kvm   the accelerator (default shv)
#   SHV_PC_COMPARE=1    run every guest under both shv and KVM and also
#                       require the same results (lines not starting
#                       with '#') from both
#   SHV_RUN=PATH, SHV_GUESTS=DIR   where shv-run and the guests are
#                       (default: /shv-run and /guests in the rig, else
#                       the source tree's user/)
#   SHV_PC_ONLY="pc_smp pc_irq"   run only these guests

here=$(cd "$(dirname "$0")" && pwd)
for d in "$here/../user" "$here/../../user"; do
	[ -z "${SHV_RUN:-}" ] && [ -x "$d/shv-run" ] && SHV_RUN=$d/shv-run
	[ -z "${SHV_GUESTS:-}" ] && [ -f "$d/guests/pc_boot.elf" ] &&
		SHV_GUESTS=$d/guests
done
[ -x /shv-run ] && [ -z "${SHV_RUN:-}" ] && SHV_RUN=/shv-run
[ -d /guests ] && [ -z "${SHV_GUESTS:-}" ] && SHV_GUESTS=/guests
ACCEL=${SHV_ACCEL:-shv}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pc_machine.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
printf 'shv-module-0: the first module\n' >"$TMP/mod0"
printf 'shv-module-1\n' >"$TMP/mod1"
# pc_disk's plain image (selftests/pc_disk.sh does the encrypted ones)
dd if=/dev/zero of="$TMP/disk.img" bs=1M count=4 2>/dev/null

# name|expected exit status|label|shv-run arguments after --kernel GUEST
TESTS="pc_boot|1|2 cpus, 96M, modules|--smp 2 -m 96M --initrd '$TMP/mod0 one two,$TMP/mod1' --append 'cpus=2 mem=96 mods=2'
pc_boot|2|reset by port 0x92|-m 64 --append 'cpus=1 mem=64 reset=port92'
pc_boot|2|reset by port 0xcf9|-m 64 --append 'cpus=1 mem=64 reset=cf9'
pc_boot|0|ACPI S5 power-off|-m 64 --append 'cpus=1 mem=64 poweroff'
pc_fwcfg|1|QEMU spellings, 3 cpus, 80M|-smp 3 -m 80M -append 'cpus=3 mem=80 more words'
pc_acpi|1|4 cpus|--smp 4 --append cpus=4
pc_acpi|1|1 cpu|--smp 1 --append cpus=1
pc_smp|1|16 cpus|--smp 16 --append cpus=16
pc_smp|1|8 cpus|--smp 8 --append cpus=8
pc_smp|1|4 cpus|--smp 4 --append cpus=4
pc_smp|1|1 cpu|--smp 1 --append cpus=1
pc_timer|1||
pc_testdev|1||
pc_irq|1||
pc_pci|1||
pc_hyperv|1|Hyper-V, 2 cpus|--hyperv --smp 2 --append cpus=2
pc_hyperv|1|Hyper-V, 1 cpu|--hyperv --append cpus=1
pc_disk|1|plain virtio-blk disk, 2 cpus|--smp 2 --disk '$TMP/disk.img' --append 'cpus=2 sectors=8192 bs=512'"

echo "TAP version 13"
if [ -z "${SHV_RUN:-}" ] || [ -z "${SHV_GUESTS:-}" ]; then
	echo "1..0 # SKIP shv-run or the pc_*.elf guests not found"
	exit 4
fi
if [ "$ACCEL" = shv ] && [ ! -e /dev/shv ]; then
	echo "1..0 # SKIP no /dev/shv (SHV_ACCEL=kvm runs them on KVM)"
	exit 4
fi

indent() {
	while IFS= read -r l || [ -n "$l" ]; do
		printf '  %s\n' "$l"
	done
}

TO=
command -v timeout >/dev/null 2>&1 && TO="timeout 300"

if [ -n "${SHV_PC_ONLY:-}" ]; then
	TESTS=$(echo "$TESTS" | while IFS= read -r l; do
		case " $SHV_PC_ONLY " in
		*" ${l%%|*} "*) echo "$l" ;;
		esac
	done)
fi
count=$(echo "$TESTS" | wc -l)
echo "1..$count"
failed=0
n=0
while IFS='|' read -r name want label args; do
	n=$((n + 1))
	out=$TMP/out.$n
	desc=$name${label:+ ($label)}
	echo "# shv-run --accel $ACCEL --kernel $name.elf $args"
	(
		mmu=
		[ "$ACCEL" = shv ] && [ -n "${SHV_TEST_MMU:-}" ] &&
			[ "$SHV_TEST_MMU" != default ] &&
			mmu="--mmu $SHV_TEST_MMU"
		eval "$TO \"\$SHV_RUN\" --accel $ACCEL $mmu --kernel \"\$SHV_GUESTS/$name.elf\" $args" \
			</dev/null >"$out.raw" 2>"$out.err"
		echo $? >"$out.rc"
	)
	tr -d '\r' <"$out.raw" >"$out"
	rc=$(cat "$out.rc")
	# the guest prints its plan last: KTAP wants it first
	{
		echo "TAP version 13"
		grep -E '^1\.\.[0-9]+' "$out" | head -n 1
		grep -Ev '^(TAP version|1\.\.[0-9]+)' "$out"
	} | indent
	why=
	if [ "$rc" != "$want" ]; then
		why="exit status $rc, expected $want"
	elif grep -q '^not ok' "$out"; then
		why="guest checks failed"
	elif ! grep -Eq '^1\.\.[1-9]' "$out"; then
		why="no TAP plan from the guest"
	fi
	if [ -z "$why" ] && [ "${SHV_PC_COMPARE:-}" = 1 ]; then
		other=kvm
		[ "$ACCEL" = kvm ] && other=shv
		(
			eval "$TO \"\$SHV_RUN\" --accel $other --kernel \"\$SHV_GUESTS/$name.elf\" $args" \
				</dev/null >"$out.other.raw" 2>"$out.other.err"
			echo $? >"$out.other.rc"
		)
		tr -d '\r' <"$out.other.raw" | grep -v '^#' >"$out.other"
		grep -v '^#' "$out" >"$out.mine"
		if [ "$(cat "$out.other.rc")" != "$rc" ] ||
		   ! cmp -s "$out.mine" "$out.other"; then
			why="differs under $other (status $(cat "$out.other.rc"))"
			diff "$out.mine" "$out.other" 2>/dev/null | head -n 20 |
				sed 's/^/# /'
			# what each run said about its failed checks
			for who in "$ACCEL" "$other"; do
				o=$out
				[ "$who" = "$ACCEL" ] || o=$out.other.raw
				tr -d '\r' <"$o" | awk -v who="$who" '
					/^not ok/ { f = 1; next }
					/^#/ { if (f) print "# " who ": " $0; next }
					{ f = 0 }'
			done
			sed "s/^/# stderr ($other): /" "$out.other.err" |
				tail -n 15
		fi
	fi
	if [ -n "$why" ]; then
		sed 's/^/# stderr: /' "$out.err" | tail -n 15
		echo "not ok $n $desc # $why"
		failed=$((failed + 1))
	else
		echo "ok $n $desc"
	fi
	echo "$failed" >"$TMP/failed"
done <<EOT
$TESTS
EOT
failed=$(cat "$TMP/failed" 2>/dev/null || echo 1)
[ "$failed" -eq 0 ]
