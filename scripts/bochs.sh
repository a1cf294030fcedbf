#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Bochs rig: shv's VMX backend under an emulated Intel CPU.  Builds
# like scripts/rig.sh, packs the same initramfs (scripts/initramfs/init)
# into an isolinux ISO with Debian's kernel and boots it in Bochs with
# cpu model corei7_skylake_x (VMX with EPT, VPID, unrestricted guest).
# See Documentation/vmx.rst.
#
#   scripts/bochs.sh check        a fast subset of the selftests (make check)
#   scripts/bochs.sh check-full   every selftest            (make check-vmx)
#   scripts/bochs.sh run          the demo guest
#   scripts/bochs.sh bench        cpuid/pio round trips     (make bench-vmx)
#
# Environment knobs (all optional; rig.sh's SHV_RIG_NOBUILD, SHV_RIG_VERBOSE,
# SHV_KO, SHV_RUNNER, SHV_GUESTS_DIR and SHV_SELFTESTS_DIR apply too):
#   SHV_BOCHS_TIMEOUT=SECS   hard limit for the Bochs run
#   SHV_BOCHS_TESTS="..."    the selftest binaries for 'check'
#   SHV_BOCHS_MMUS="..."     MMUs to run them with (default: all offered)
#   SHV_BOCHS_INSMOD="..."   module parameters (default mmu=nested), e.g.
#                            "unrestricted_guest=0"
#   SHV_BOCHS_MEGS=N         guest RAM (default 768)
#   SHV_BOCHS_CPUS=N         emulated CPUs (default 2: vCPU threads and their
#                            VMCSs move, migrate_test needs two)
#   SHV_BOCHS_RESULTS=FILE   also write the PASS/FAIL lines there (rig.sh)
#   SHV_TEST_FILTER="a,b"    only the tests whose fixture.test name has a or
#                            b (every variant; lib/shv_util.h)
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${1:-}
case $MODE in
check)		timeout_def=900 ;;
check-full)	timeout_def=3600 ;;
run)		timeout_def=600 ;;
bench)		timeout_def=900 ;;
*)	echo "usage: $0 check|check-full|run|bench" >&2; exit 2 ;;
esac

cd "$SHV_ROOT"
B=$SHV_CACHE/bochs
mkdir -p "$B"

TIMEOUT=${SHV_BOCHS_TIMEOUT:-$timeout_def}
LOG=$B/$MODE.log
BXLOG=$B/$MODE.bochs.log
BUILD_LOG=$B/build.log
IRD=$B/initramfs-$MODE
ISO=$B/$MODE.iso
RESULTS=$B/$MODE.results
SPLATS=$B/$MODE.splats
SHV_KO=${SHV_KO:-$SHV_ROOT/shv.ko}
RUNNER=${SHV_RUNNER:-$SHV_ROOT/user/shv-run}
GUESTS=${SHV_GUESTS_DIR:-$SHV_ROOT/user/guests}
SELFTESTS_DIR=${SHV_SELFTESTS_DIR:-$SHV_ROOT/selftests/build}
# The default subset (make check): the ABI and the guest tests (every CPU
# mode) under EPT, modes_test (task switches, which only VMX hands to shv
# in the rigs: QEMU's SVM does not intercept them), realmode_test under
# EPT and under the shadow MMU, which has no unrestricted guest: real mode
# in virtual-8086 mode and the emulator (vmx.rst), and migrate_test (a
# vCPU moved between the two CPUs, its VMCS with it); check-full runs
# every test with every MMU (shadow_test alone takes many minutes under
# Bochs).  SHV_BOCHS_INSMOD=unrestricted_guest=0 runs them all without
# unrestricted guest.
TESTS=${SHV_BOCHS_TESTS:-abi_test guest_test modes_test realmode_test migrate_test}
REALMODE_MMUS=
if [[ $MODE == check && -z ${SHV_BOCHS_TESTS:-} ]]; then
	SHV_BOCHS_MMUS=${SHV_BOCHS_MMUS:-nested}
	REALMODE_MMUS="nested shadow"
fi
MEGS=${SHV_BOCHS_MEGS:-768}

# The demo runs under EPT (with SHV_BOCHS_INSMOD=unrestricted_guest=0 the
# shadow MMU runs its real mode in virtual-8086 mode, Documentation/vmx.rst).
DEMO_CMD=${SHV_DEMO_CMD:-/shv-run --mmu nested --flat /guests/hello.bin@0x1000 --mode real}
DEMO_EXPECT=${SHV_DEMO_EXPECT:-1}
BENCH_CMD=${SHV_BENCH_SHV_CMD:-/shv-run --accel shv --flat /guests/bench.bin@0x100000 --mode long64}

SPLAT_RE='\[ *[0-9]+\.[0-9]+\].*([^[:alnum:]_](BUG|WARNING|Oops)([^[:alnum:]_]|$)|general protection|Call Trace|[Kk]ernel panic|UBSAN|KASAN|KFENCE|kmemleak|lockdep|circular locking|recursive locking|inconsistent lock state|suspicious RCU usage|soft lockup|hard LOCKUP|blocked for more than|rcu.*stall|double fault|invalid opcode:|cut here)'
export SPLAT_RE

ERRORS=()

build() {	# make args
	local step=$B/build-step.log
	printf '%s==>%s make %s ... ' "$_c_bld" "$_c_off" "$*" >&2
	if make -C "$SHV_ROOT" "$@" >"$step" 2>&1; then
		cat "$step" >>"$BUILD_LOG"
		echo ok >&2
		return 0
	fi
	cat "$step" >>"$BUILD_LOG"
	echo "${_c_red}FAILED${_c_off}" >&2
	grep -E -m 20 -A3 '(error|warning):' "$step" >&2 || tail -n 20 "$step" >&2
	ERRORS+=("build failed: make $*")
	return 1
}

conf() { printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }

pack() {
	local busybox applet f t
	rm -rf "$IRD"
	mkdir -p "$IRD"/{bin,dev,etc,proc,sys,tmp,guests,selftests}
	busybox=$(command -v busybox) || { ERRORS+=("busybox not installed"); return 1; }
	cp "$busybox" "$IRD/bin/busybox"
	for applet in $("$IRD/bin/busybox" --list); do
		[[ $applet == busybox ]] || ln -s busybox "$IRD/bin/$applet"
	done
	install -m 0755 "$SHV_ROOT/scripts/initramfs/init" "$IRD/init"
	[[ -f $SHV_KO ]] && cp "$SHV_KO" "$IRD/shv.ko"
	[[ -x $RUNNER ]] && cp "$RUNNER" "$IRD/shv-run"
	for f in "$GUESTS"/*.bin "$GUESTS"/*.elf; do
		[[ -f $f ]] && cp "$f" "$IRD/guests/"
	done
	if [[ $MODE == check* ]]; then
		if [[ $MODE == check-full ]]; then
			cp "$SELFTESTS_DIR"/*_test "$IRD/selftests/" 2>/dev/null || true
		else
			# a tree with only some tests built runs those
			for t in $TESTS; do
				cp "$SELFTESTS_DIR/$t" "$IRD/selftests/" 2>/dev/null ||
					warn "no selftest $t in $SELFTESTS_DIR"
			done
		fi
		cp "$SELFTESTS_DIR/shv_caps" "$IRD/selftests/" 2>/dev/null || true
		cp "$SHV_ROOT/selftests/run_tests.sh" "$IRD/selftests/"
		chmod +x "$IRD/selftests/run_tests.sh"
	fi
	{
		conf MODE "${MODE%-full}"
		conf GUEST_TIMEOUT "$((TIMEOUT > 120 ? TIMEOUT - 60 : 0))"
		conf DEMO_CMD "$DEMO_CMD"
		conf BENCH_SHV_CMD "$BENCH_CMD"
		conf BENCH_ONLY_SHV 1
		conf KVM_MODULES ""
		conf SHV_TEST_MMUS "${SHV_BOCHS_MMUS:-}"
		conf SHV_TEST_MMUS_realmode "$REALMODE_MMUS"
		conf SHV_TEST_FILTER "${SHV_TEST_FILTER:-}"
		# EPT by default: tests that use the default MMU run on it
		conf SHV_INSMOD_ARGS "${SHV_BOCHS_INSMOD-mmu=nested}"
		# Bochs' UART sends at its emulated baud rate: wait for it
		conf SERIAL_DRAIN 1
	} >"$IRD/etc/rig.conf"
	(cd "$IRD" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$B/initrd-$MODE"
}

mkiso() {
	local d=$B/iso-$MODE
	rm -rf "$d"
	mkdir -p "$d/isolinux"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 \
		"$d/isolinux/"
	cp "$VMLINUZ" "$d/vmlinuz"
	mv "$B/initrd-$MODE" "$d/initrd"
	cat >"$d/isolinux/isolinux.cfg" <<-EOF
	SERIAL 0 115200
	DEFAULT shv
	PROMPT 0
	TIMEOUT 0
	LABEL shv
	  KERNEL /vmlinuz
	  APPEND initrd=/initrd console=ttyS0,115200 panic=-1 loglevel=4 ${SHV_RIG_APPEND:-}
	EOF
	xorriso -as mkisofs -quiet -o "$ISO" -b isolinux/isolinux.bin \
		-c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
		-boot-info-table "$d" >/dev/null 2>&1 ||
		{ ERRORS+=("xorriso failed"); return 1; }
	rm -rf "$d"
}

# Without a terminal, Bochs' term display opens a pty of its own and draws
# the VGA screen there, a cursor blink every so often.  Nobody reads it:
# once its buffer is full Bochs blocks in the write and the guest stands
# still, in long runs (make check-vmx).  Read it until Bochs is gone.
drain_screen() {
	local pts i
	for ((i = 0; i < 600; i++)); do
		pts=$(sed -n 's|^Bochs connected to screen "*\(/dev/pts/[0-9]*\).*|\1|p' \
			"$B/$MODE.stdout" 2>/dev/null || true)
		[[ -n $pts ]] && exec cat "$pts" >/dev/null 2>&1
		sleep 0.5
	done
}

boot() {
	local rc=$B/$MODE.bochsrc cont=$B/cont brc
	sed -e "s|@MEGS@|$MEGS|" -e "s|@CPUS@|${SHV_BOCHS_CPUS:-2}|" \
		-e "s|@ISO@|$ISO|" -e "s|@SERIAL@|$LOG|" -e "s|@LOG@|$BXLOG|" \
		"$SHV_ROOT/scripts/bochsrc.in" >"$rc"
	# Debian's bochs-bin stops in its debugger at start and whenever a
	# guest's INT3 reaches it: continue, every time
	awk 'BEGIN { for (i = 0; i < 100000; i++) print "c" }' >"$cont"
	: >"$LOG"
	info "booting $KVER under Bochs (corei7_skylake_x: VMX, EPT), timeout" \
	     "${TIMEOUT}s; log: ${LOG#"$SHV_ROOT"/}"
	# Bochs ignores SIGTERM; a guest poweroff ends it with status 1.
	timeout -s KILL "$TIMEOUT" bochs-bin -q -f "$rc" -rc "$cont" \
		<"$cont" >"$B/$MODE.stdout" 2>&1 &
	local bpid=$!
	drain_screen &
	local dpid=$!
	# host wall-clock stamps of the console lines (bench: exits/s)
	: >"$B/$MODE.stamps"
	tail -n +1 -F "$LOG" 2>/dev/null --pid=$bpid |
		while IFS= read -r l; do
			printf '%s %s\n' "$EPOCHREALTIME" "$l" >>"$B/$MODE.stamps"
			printf '%s\n' "$l"
		done |
		awk -v verbose="${SHV_RIG_VERBOSE:-0}" \
			-f "$SHV_ROOT/scripts/console.awk" || true
	set +e
	wait "$bpid"
	brc=$?
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	set -e
	sed -i -e 's/\r//g' -e 's/\(.\)shv-rig: /\1\nshv-rig: /' "$LOG"
	BOOTED=1
	((brc == 137)) && ERRORS+=("timeout: Bochs killed after ${TIMEOUT}s")
	local e
	while IFS= read -r e; do
		ERRORS+=("guest: $e")
	done < <(sed -n 's/^shv-rig: error: //p' "$LOG")
	if ((brc != 137)) && ! grep -q '^shv-rig: done$' "$LOG"; then
		ERRORS+=("the guest did not finish (no 'shv-rig: done'; see ${BXLOG#"$SHV_ROOT"/})")
	fi
	# Splats once /init runs, outside the final dmesg dump: the boot
	# warns about Bochs' CPU model (xstate sizes, RETBleed) every time.
	awk '/^shv-rig: begin dmesg/ { p = 0 } p; /^shv-rig: kernel/ { p = 1 }' \
		"$LOG" | grep -E "$SPLAT_RE" |
		sed -E 's/^.*(\[ *[0-9]+\.[0-9]+\])/\1/' |
		awk '!seen[$0]++' >"$SPLATS" || true
}

section_lines() {	# name
	awk -v b="shv-rig: begin $1" -v e="shv-rig: end $1" \
		'index($0, e) == 1 { p = 0 } p; $0 == b { p = 1 }' "$LOG"
}

report_check() {
	local p=0 f=0 s=0 st name why out=$B/$MODE.lines
	: >"$out"
	if grep -q '^shv-rig: begin ktap$' "$LOG" 2>/dev/null; then
		section_lines ktap >"$B/$MODE.ktap"
		awk -v need_plan=selftests -f "$SHV_ROOT/scripts/ktap.awk" \
			"$B/$MODE.ktap" | grep -E '^(PASS|FAIL|SKIP)'$'\t' |
			sed 's/\t/\tvmx: /' >>"$out" || true
	elif ((${#ERRORS[@]} == 0)); then
		ERRORS+=("no KTAP output from the guest")
	fi
	for why in "${ERRORS[@]}"; do
		printf 'FAIL\tvmx: bochs rig\t%s\n' "$why" >>"$out"
	done
	if [[ ${BOOTED:-} ]]; then
		if [[ -s $SPLATS ]]; then
			printf 'FAIL\tvmx: kernel log clean\tsplat, see %s\n' \
				"${LOG#"$SHV_ROOT"/}" >>"$out"
		else
			printf 'PASS\tvmx: kernel log clean\t\n' >>"$out"
		fi
	fi
	[[ -n ${SHV_BOCHS_RESULTS:-} ]] && cp "$out" "$SHV_BOCHS_RESULTS"
	cp "$out" "$RESULTS"
	while IFS=$'\t' read -r st name why; do
		case $st in
		PASS)	((++p)) ;;
		FAIL)	((++f)); echo "${_c_red}FAIL${_c_off}: $name${why:+  # $why}" ;;
		SKIP)	((++s)); echo "skip: $name${why:+  # $why}" ;;
		esac
	done <"$out"
	if [[ -s $SPLATS ]]; then
		echo "kernel splat (first lines):"
		head -n 20 "$SPLATS" | sed 's/^/  /'
	fi
	printf '%s---- Bochs/VMX results (%s s, log: %s) ----%s\n' "$_c_bld" \
		"$(elapsed "$T0")" "${LOG#"$SHV_ROOT"/}" "$_c_off"
	echo "$p passed, $f failed, $s skipped"
	((f == 0))
}

report_run() {
	local rc
	rc=$(sed -n 's/^shv-rig: demo exit status \([0-9]*\)$/\1/p' "$LOG")
	[[ -s $SPLATS ]] && ERRORS+=("kernel splat in the log")
	[[ $rc == "$DEMO_EXPECT" ]] || ERRORS+=("demo exit status ${rc:-none}, expected $DEMO_EXPECT")
	section_lines demo | grep -qF 'hello: bye' ||
		ERRORS+=("the demo did not print 'hello: bye'")
	if ((${#ERRORS[@]} == 0)); then
		echo "${_c_grn}shv/vmx: demo OK${_c_off} ($(elapsed "$T0") s)"
		return 0
	fi
	local why
	for why in "${ERRORS[@]}"; do echo "${_c_red}FAIL${_c_off}: $why"; done
	echo "shv/vmx: demo FAILED ($(elapsed "$T0") s); log: ${LOG#"$SHV_ROOT"/}"
	return 1
}

# bench: "bench: cpuid 1234 cycles/exit 56789 exits/s" lines, and the
# wall time of the whole guest run for exits per second of host time.
report_bench() {
	echo
	section_lines bench-shv | grep -E '^bench:' || ERRORS+=("no bench results")
	local secs
	secs=$(sed -n 's/^shv-rig: bench-shv took \([0-9]*\) s.*/\1/p' "$LOG")
	[[ -n $secs ]] && echo "guest wall time of the bench run: ${secs} s (emulated)"
	awk '/^bench-host: /' "$B/$MODE.hostbench" 2>/dev/null || true
	local why
	for why in "${ERRORS[@]}"; do echo "${_c_red}FAIL${_c_off}: $why"; done
	echo "bench-vmx: $( ((${#ERRORS[@]})) && echo FAILED || echo done) in $(elapsed "$T0") s"
	((${#ERRORS[@]} == 0))
}

fatal() {
	err "$*"
	ERRORS+=("$*")
	"report_${MODE%-full}" || true
	exit 1
}

main() {
	exec 8>"$B/lock"
	if ! flock -n 8; then
		info "another Bochs run is using this tree; waiting"
		flock 8
	fi
	T0=$(now)
	info "shv Bochs rig: $MODE"
	"$SHV_ROOT/scripts/deps.sh" || fatal "installing the dependencies failed"
	command -v bochs-bin >/dev/null || fatal "bochs-bin not installed"
	kout=$("$SHV_ROOT/scripts/kernel.sh") || fatal "cannot get the rig's kernel"
	eval "$kout"
	: >"$BUILD_LOG"
	rm -f "$SPLATS" "$RESULTS"
	if [[ -z ${SHV_RIG_NOBUILD:-} ]]; then
		build module KDIR="$KDIR" || fatal "build failed"
		build user || fatal "build failed"
		[[ $MODE == check* ]] && { build selftests || fatal "build failed"; }
	fi
	[[ -f $SHV_KO ]] || fatal "no module: $SHV_KO"
	pack || fatal "packing the initramfs failed"
	mkiso || fatal "making the ISO failed"
	boot
	"report_${MODE%-full}"
}

main "$@"; exit
