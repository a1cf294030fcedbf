#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot Linux as a guest: the rig's own kernel (a Debian bzImage) with
# linux_guest.cpio, whose /init (linux_guest/init.c) checks CPUs, memory,
# fork/exec/copy-on-write, mprotect, threads unmapping memory on every
# CPU, files and timers, prints TAP, and powers off through ACPI.
# Installed as build/linux_boot_test; run_tests.sh runs it once per MMU.
# busybox sh compatible.
#
#   SHV_LINUX_KERNEL=PATH  the bzImage (default /guests/vmlinuz in the rig)
#   SHV_RUN=PATH           shv-run (default /shv-run, else ../user/shv-run)
#   SHV_ACCEL=shv|kvm      the accelerator (default shv)
#   SHV_LINUX_SMP2=1       also boot with 2 vCPUs (see RUNS below)
#   SHV_PC_COMPARE=1       also boot under KVM (once, with the nested or
#                          default MMU) and require the same results
#
# A guest kernel splat (WARNING, BUG, Oops, an unchecked MSR access) fails
# the run: Linux on shv must not see what it would not see on hardware.

here=$(cd "$(dirname "$0")" && pwd)
[ -z "${SHV_RUN:-}" ] && [ -x /shv-run ] && SHV_RUN=/shv-run
for d in "$here/../user" "$here/../../user"; do
	[ -z "${SHV_RUN:-}" ] && [ -x "$d/shv-run" ] && SHV_RUN=$d/shv-run
done
[ -z "${SHV_LINUX_KERNEL:-}" ] && [ -f /guests/vmlinuz ] &&
	SHV_LINUX_KERNEL=/guests/vmlinuz
CPIO=$here/linux_guest.cpio
ACCEL=${SHV_ACCEL:-shv}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/linux_boot.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT

# label|shv-run arguments|kernel command line additions
RUNS="1 cpu, 256M|--smp 1 -m 256M|shv.cpus=1 shv.mem=256"
# Two vCPUs still meet an open host bug in the rig (Documentation/
# testing.rst, "Linux guests"): a soft lockup in shv_vm_request_all()
# under the shadow MMU, a guest VMCB holding host state under NPT.
[ "${SHV_LINUX_SMP2:-}" = 1 ] && RUNS="$RUNS
2 cpus, 256M|--smp 2 -m 256M|shv.cpus=2 shv.mem=256"

echo "TAP version 13"
if [ -z "${SHV_RUN:-}" ] || [ ! -f "${SHV_LINUX_KERNEL:-/nonexistent}" ] ||
   [ ! -f "$CPIO" ]; then
	echo "1..0 # SKIP shv-run, a Linux bzImage (SHV_LINUX_KERNEL) or linux_guest.cpio not found"
	exit 4
fi
if [ "$ACCEL" = shv ] && [ ! -e /dev/shv ]; then
	echo "1..0 # SKIP no /dev/shv"
	exit 4
fi
if [ "$ACCEL" = shv ] && [ -x "$here/shv_caps" ] &&
   [ "$("$here/shv_caps" vendor 2>/dev/null)" = vmx ] &&
   [ "${SHV_LINUX_VMX:-}" != 1 ]; then
	# Bochs runs a Linux guest's boot for far longer than make check has
	echo "1..0 # SKIP VMX under Bochs is too slow for a Linux boot (SHV_LINUX_VMX=1 forces it)"
	exit 4
fi

indent() {
	while IFS= read -r l || [ -n "$l" ]; do
		printf '  %s\n' "$l"
	done
}

TO=
command -v timeout >/dev/null 2>&1 && TO="timeout 600"
mmu=
[ "$ACCEL" = shv ] && [ -n "${SHV_TEST_MMU:-}" ] &&
	[ "$SHV_TEST_MMU" != default ] && mmu="--mmu $SHV_TEST_MMU"
compare=
[ "${SHV_PC_COMPARE:-}" = 1 ] && [ "$ACCEL" = shv ] &&
	case ${SHV_TEST_MMU:-default} in nested|default) compare=1 ;; esac

# boot once: $1 accel, $2 args, $3 cmdline, $4 output file; sets $why
boot() {
	eval "$TO \"\$SHV_RUN\" --accel $1 $([ "$1" = shv ] && echo "$mmu") \
		--kernel \"\$SHV_LINUX_KERNEL\" --initrd \"\$CPIO\" $2 \
		--append 'console=ttyS0 loglevel=5 panic=-1 $3'" \
		</dev/null >"$4.raw" 2>"$4.err"
	echo $? >"$4.rc"
	tr -d '\r' <"$4.raw" >"$4"
	why=
	rc=$(cat "$4.rc")
	if grep -Eq 'WARNING:|BUG:|Oops|Call Trace|unchecked MSR|general protection|Kernel panic' "$4"; then
		why="$1: the guest kernel complained"
	elif ! grep -q '^guest-init: [0-9]* passed, 0 failed' "$4"; then
		why="$1: the guest's checks did not all pass"
	elif [ "$rc" != 0 ]; then
		why="$1: exit status $rc, expected 0 (ACPI power-off)"
	fi
}

count=$(echo "$RUNS" | wc -l)
echo "1..$count"
failed=0
n=0
while IFS='|' read -r label args cmdline; do
	n=$((n + 1))
	out=$TMP/out.$n
	echo "# shv-run --accel $ACCEL $mmu --kernel $SHV_LINUX_KERNEL $args"
	boot "$ACCEL" "$args" "$cmdline" "$out"
	{
		echo "TAP version 13"
		echo "1..$(grep -Ec '^(not )?ok [0-9]+ - ' "$out")"
		grep -E '^(not )?ok [0-9]+ - ' "$out"
	} | indent
	if [ -z "$why" ] && [ -n "$compare" ]; then
		grep -E '^(not )?ok [0-9]+ - ' "$out" |
			sed 's/ ([^)]*)$//; s/[0-9][0-9]* ms/N ms/g; s/MemTotal [0-9]*/MemTotal N/' >"$out.mine"
		boot kvm "$args" "$cmdline" "$out.kvm"
		grep -E '^(not )?ok [0-9]+ - ' "$out.kvm" |
			sed 's/ ([^)]*)$//; s/[0-9][0-9]* ms/N ms/g; s/MemTotal [0-9]*/MemTotal N/' >"$out.other"
		if [ -z "$why" ] && ! cmp -s "$out.mine" "$out.other"; then
			why="differs under kvm"
			diff "$out.mine" "$out.other" | head -n 20 | sed 's/^/# /'
		fi
		[ -n "$why" ] && out=$out.kvm
	fi
	if [ -n "$why" ]; then
		failed=$((failed + 1))
		echo "# the guest's console (last 60 lines):"
		tail -n 60 "$out" | sed 's/^/# guest: /'
		sed 's/^/# stderr: /' "$out.err"
		echo "not ok $n linux ($label) # $why"
	else
		echo "ok $n linux ($label)"
	fi
done <<EOT
$RUNS
EOT
[ "$failed" = 0 ]
