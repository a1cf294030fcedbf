#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The QEMU test rig: build shv.ko against Debian's headers, pack a busybox
# initramfs with the module, the runner, the guests and the selftests, boot
# Debian's matching kernel under QEMU/TCG with SVM+NPT and read back the
# serial console.  See Documentation/testing.rst.
#
#   scripts/rig.sh check   selftests + rmmod, KTAP summary  (make check)
#   scripts/rig.sh run     the demo guest                    (make run)
#   scripts/rig.sh bench   exit round trips and MMU benchmarks, shv against
#                          KVM (make bench, Documentation/bench.rst)
#   scripts/rig.sh shell   a shell in the rig with everything loaded
#
# Environment knobs (all optional):
#   SHV_RIG_TIMEOUT=SECS    hard limit for the QEMU run
#   SHV_RIG_VERBOSE=1       stream the whole console, boot log included
#   SHV_RIG_NOBUILD=1       do not build; pack what is already built
#   SHV_KO=PATH             the module to test (default ./shv.ko)
#   SHV_RUNNER=PATH         the runner (default user/shv-run)
#   SHV_DISK_TOOL=PATH      the image tool (default user/tools/shv-disk)
#   SHV_GUESTS_DIR=DIR      guest images (default user/guests)
#   SHV_SELFTESTS_DIR=DIR   the built selftests (default selftests/build)
#   SHV_DEMO_CMD, SHV_DEMO_EXPECT, SHV_BENCH_SHV_CMD, SHV_BENCH_KVM_CMD
#   SHV_BENCH_MMU_SHV_CMD, SHV_BENCH_MMU_KVM_CMD (bench_mmu; --mmu is added)
#   SHV_BENCH_MMU_TIMEOUT=SECS  limit per bench_mmu run (default 90)
#   SHV_BENCH_IRQ_SHV_CMD, SHV_BENCH_IRQ_KVM_CMD (bench_irq, the interrupt
#                           benchmark; same time limit)
#   SHV_BENCH_DISK_CMD      the disk benchmark (scripts/bench_disk.sh)
#   SHV_TEST_MMUS="nested shadow"  run every selftest once per MMU
#   SHV_TEST_FILTER="a,b"   only the tests whose fixture.test name has a or b
#   SHV_RIG_APPEND          extra kernel command line
#   SHV_QEMU_ARGS           extra QEMU arguments
#   SHV_RIG_BOCHS=0         check: skip the VMX half under Bochs
#   SHV_RIG_TCG=OPTS        QEMU's -accel value (default tcg; e.g.
#                           tcg,thread=single for one host thread)
# report_* are called as "report_$MODE":
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${1:-}
case $MODE in
check)	timeout_def=1200 ;;	# QEMU only; the Bochs half has its own
run)	timeout_def=240 ;;
bench)	timeout_def=600 ;;
shell)	timeout_def=0 ;;
*)	echo "usage: $0 check|run|bench|shell" >&2; exit 2 ;;
esac

cd "$SHV_ROOT"
mkdir -p "$SHV_CACHE"

TIMEOUT=${SHV_RIG_TIMEOUT:-$timeout_def}
# QEMU's -accel: by default a host thread per vCPU (MTTCG).  With KVM in
# the rig, scripts/rigmod/rig_pin.ko keeps the static key KVM would
# otherwise flip in __schedule() at every VM creation and destruction:
# MTTCG then sometimes ran a stale translation of the patched code and
# the rig's kernel hung (Documentation/testing.rst).
TCG=${SHV_RIG_TCG:-tcg}
# The CPU: SVM with NPT, and SMEP, SMAP and UMIP, which QEMU 7.2's TCG
# implements (PCID and INVPCID it does not: it warns and drops them).  The
# host kernel runs with all three, so SMAP also proves that shv.ko reaches
# user memory only through the uaccess helpers; shv offers SMEP and SMAP
# to its guests and hides UMIP (Documentation/mmu.rst).
QEMU_CPU=qemu64,+svm,+npt,+smep,+smap,+umip
LOG=$SHV_CACHE/$MODE.log
BUILD_LOG=$SHV_CACHE/build.log
IRD=$SHV_CACHE/initramfs/$MODE
CPIO=$SHV_CACHE/initramfs-$MODE.cpio
RESULTS=$SHV_CACHE/$MODE.results
SHV_KO=${SHV_KO:-$SHV_ROOT/shv.ko}
RUNNER=${SHV_RUNNER:-$SHV_ROOT/user/shv-run}
DISK_TOOL=${SHV_DISK_TOOL:-$SHV_ROOT/user/tools/shv-disk}
GUESTS=${SHV_GUESTS_DIR:-$SHV_ROOT/user/guests}
SELFTESTS_DIR=${SHV_SELFTESTS_DIR:-$SHV_ROOT/selftests/build}

# The demo: hello.bin greets from real, protected and long mode and writes
# 0 to the debug-exit port, so shv-run exits with (0 << 1) | 1.  Status 1
# also means "bad options", hence the check for its last line too.
DEMO_CMD=${SHV_DEMO_CMD:-/shv-run --flat /guests/hello.bin@0x1000 --mode real}
DEMO_EXPECT=${SHV_DEMO_EXPECT:-1}
DEMO_EXPECT_TEXT=${SHV_DEMO_EXPECT_TEXT-hello: bye}
BENCH_GUEST="--flat /guests/bench.bin@0x100000 --mode long64"
BENCH_SHV_CMD=${SHV_BENCH_SHV_CMD:-/shv-run --accel shv $BENCH_GUEST}
BENCH_KVM_CMD=${SHV_BENCH_KVM_CMD:-/shv-run --accel kvm $BENCH_GUEST}
# bench_mmu.bin assumes 128 MiB of RAM (GUEST_RAM_MIB in the source).
BENCH_MMU_GUEST="--flat /guests/bench_mmu.bin@0x100000 --mode long64 -m 128"
BENCH_MMU_SHV_CMD=${SHV_BENCH_MMU_SHV_CMD:-/shv-run --accel shv $BENCH_MMU_GUEST}
BENCH_MMU_KVM_CMD=${SHV_BENCH_MMU_KVM_CMD:-/shv-run --accel kvm $BENCH_MMU_GUEST}
BENCH_MMU_TIMEOUT=${SHV_BENCH_MMU_TIMEOUT:-90}
# the interrupt benchmark: a PC-machine guest with two vCPUs and Hyper-V
BENCH_IRQ_GUEST="--kernel /guests/bench_irq.elf --smp 2 --hyperv --pin"
BENCH_IRQ_SHV_CMD=${SHV_BENCH_IRQ_SHV_CMD:-/shv-run --accel shv $BENCH_IRQ_GUEST}
BENCH_IRQ_KVM_CMD=${SHV_BENCH_IRQ_KVM_CMD:-/shv-run --accel kvm $BENCH_IRQ_GUEST}
# the disk benchmark: encrypted virtio-blk against dm-crypt and AF_ALG
BENCH_DISK_CMD=${SHV_BENCH_DISK_CMD:-/bench_disk.sh}

# A kernel splat on a console or dmesg line ("[   12.345678] ...").
SPLAT_RE='\[ *[0-9]+\.[0-9]+\].*([^[:alnum:]_](BUG|WARNING|Oops)([^[:alnum:]_]|$)|general protection|Call Trace|[Kk]ernel panic|UBSAN|KASAN|KFENCE|kmemleak|lockdep|circular locking|recursive locking|inconsistent lock state|suspicious RCU usage|soft lockup|hard LOCKUP|blocked for more than|rcu.*stall|double fault|invalid opcode:|cut here)'
export SPLAT_RE

RIG_ERRORS=()

# ---------------------------------------------------------------------
# Reporting

# The log to point at: the console once QEMU ran, else the build's.
logname() {
	local f=$BUILD_LOG
	[[ ${BOOTED:-} ]] && f=$LOG
	echo "${f#"$SHV_ROOT"/}"
}

# The summary of a check run; its last line is "N passed, N failed, N
# skipped".  Reads $RESULTS when the guest got that far.
report_check() {
	local p=0 f=0 s=0 st name why
	local -a fails=() skips=()
	if [[ -s $RESULTS ]]; then
		while IFS=$'\t' read -r st name why; do
			case $st in
			PASS)	((++p)) ;;
			FAIL)	((++f)); fails+=("$name${why:+  # $why}") ;;
			SKIP)	((++s)); skips+=("$name${why:+  # $why}") ;;
			esac
		done < <(grep -E '^(PASS|FAIL|SKIP)'$'\t' "$RESULTS")
	fi
	for why in "${RIG_ERRORS[@]}"; do
		((++f)); fails+=("rig: $why")
	done
	if [[ ${SPLATS_CHECKED:-} ]]; then
		if [[ -s $SHV_CACHE/$MODE.splats ]]; then
			((++f)); fails+=("kernel log clean  # splat, see below")
		else
			((++p))
		fi
	fi

	echo
	printf '%s---- results (%s s, log: %s) ----%s\n' "$_c_bld" \
		"$(elapsed "$T0")" "$(logname)" "$_c_off"
	for name in "${skips[@]}"; do echo "skip: $name"; done
	for name in "${fails[@]}"; do echo "${_c_red}FAIL${_c_off}: $name"; done
	if [[ -s $SHV_CACHE/$MODE.splats ]]; then
		echo "kernel splat (first lines):"
		head -n 20 "$SHV_CACHE/$MODE.splats" | sed 's/^/  /'
	fi
	echo "$p passed, $f failed, $s skipped"
	((f == 0))
}

report_run() {
	local rc=${DEMO_RC:-}
	[[ -s $SHV_CACHE/$MODE.splats ]] && RIG_ERRORS+=("kernel splat in the log")
	if [[ -n $DEMO_EXPECT_TEXT && -n $rc ]] &&
	   ! section_lines demo | grep -qF -- "$DEMO_EXPECT_TEXT"; then
		RIG_ERRORS+=("the demo did not print '$DEMO_EXPECT_TEXT'")
	fi
	echo
	if ((${#RIG_ERRORS[@]} == 0)) && [[ $rc == "$DEMO_EXPECT" ]]; then
		echo "${_c_grn}shv: demo OK${_c_off}: guest exit status $rc" \
		     "(debug-exit $(( (rc - 1) / 2 ))), kernel log clean," \
		     "$(elapsed "$T0") s; log: $(logname)"
		return 0
	fi
	local why
	for why in "${RIG_ERRORS[@]}"; do echo "${_c_red}FAIL${_c_off}: $why"; done
	[[ -n $rc && $rc != "$DEMO_EXPECT" ]] &&
		echo "${_c_red}FAIL${_c_off}: demo exit status $rc, expected $DEMO_EXPECT"
	if [[ -s $SHV_CACHE/$MODE.splats ]]; then
		echo "kernel splat (first lines):"
		head -n 20 "$SHV_CACHE/$MODE.splats" | sed 's/^/  /'
	fi
	echo "shv: demo FAILED ($(elapsed "$T0") s); log: $(logname)"
	return 1
}

# The lines of one section of the log.
section_lines() {	# name
	awk -v b="shv-rig: begin $1" -v e="shv-rig: end $1" \
		'index($0, e) == 1 { p = 0 } p; $0 == b { p = 1 }' "$LOG"
}

# "bench: cpuid 1234 cycles/exit" lines of one section -> "cpuid 1234"
# (any unit: cycles/exit, cycles/switch, cycles/page, cycles/fork).
bench_numbers() {	# section
	section_lines "$1" |
		sed -nE 's/^bench: ([a-z0-9_]+) ([0-9.]+) cycles\/[a-z]+.*/\1 \2/p'
}

# The bench_mmu configurations: section, column title.
MMU_CONFIGS="mmu-shv-shadow:shv-shadow mmu-shv-shadow1:shv-sh/1root
	mmu-shv-nested:shv-nested mmu-kvm-shadow:kvm-shadow
	mmu-kvm-nested:kvm-nested"
MMU_METRICS="as_switch_2 as_switch_8 as_switch_64 fault_4k fork"

# One table of the bench_mmu results: a row per metric, a column per
# configuration, then shv/KVM ratios for shadow and for nested paging.
report_mmu() {
	local c sec titles=() rc i=0
	for c in $MMU_CONFIGS; do
		sec=${c%%:*}
		bench_numbers "$sec" >"$SHV_CACHE/bench.$sec"
		sed "s/^/$((++i)) /" "$SHV_CACHE/bench.$sec"
		titles+=("${c#*:}")
		rc=$(sed -n "s/^shv-rig: end $sec rc=//p" "$LOG" | tail -n 1)
		if [[ $rc != 1 ]]; then
			RIG_ERRORS+=("bench_mmu $sec: exit status ${rc:-none}, expected 1")
			section_lines "$sec" | grep -E 'FAIL|error|Error' |
				head -n 3 | sed 's/^/  /' >&2 || true
		fi
	done >"$SHV_CACHE/bench.mmu"
	echo
	awk -v titles="${titles[*]}" -v metrics="$MMU_METRICS" '
	{ v[$1, $2] = $3 }
	function cell(i, k) { return ((i, k) in v) ? v[i, k] : "-" }
	function ratio(a, b, k) {
		if (!((a, k) in v) || !((b, k) in v) || v[b, k] <= 0)
			return "-"
		return sprintf("%.2f", v[a, k] / v[b, k])
	}
	END {
		nt = split(titles, t, " ")
		printf "%-13s", "cycles/op"
		for (i = 1; i <= nt; i++)
			printf " %12s", t[i]
		printf " %10s %10s\n", "shv/kvm sh", "shv/kvm np"
		nm = split(metrics, m, " ")
		for (j = 1; j <= nm; j++) {
			k = m[j]
			printf "%-13s", k
			for (i = 1; i <= nt; i++)
				printf " %12s", cell(i, k)
			printf " %10s %10s\n", ratio(1, 4, k), ratio(3, 5, k)
		}
		r = ratio(1, 4, "as_switch_64")
		if (r != "-")
			printf "issue 3 goal, as_switch_64 shv-shadow <= 0.5 x kvm-shadow: %s (%s)\n",
			       r + 0 <= 0.5 ? "met" : "NOT met", r
	}' "$SHV_CACHE/bench.mmu"
	echo "as_switch: cycles per MOV CR3 + touch; fault_4k: per demand-faulted"
	echo "4 KiB page; fork: per fork + COW + exit.  shv-sh/1root is"
	echo "shv-shadow with shadow_roots=1.  See Documentation/bench.rst."
	local k
	for c in $MMU_CONFIGS; do
		sec=${c%%:*}
		for k in $MMU_METRICS; do
			grep -q "^$k " "$SHV_CACHE/bench.$sec" || {
				RIG_ERRORS+=("bench_mmu $sec: no $k result")
				break
			}
		done
	done
}

# The interrupt benchmark, bench_irq.elf: "bench: NAME N cycles/UNIT, E
# exits/UNIT ..." -> "NAME N E".
IRQ_METRICS="ipi_rt self_ipi timer_latency timer_periodic synic_autoeoi
	synic_eoi stimer_direct"

irq_numbers() {	# section
	section_lines "$1" | sed -nE \
		's/^bench: ([a-z0-9_]+) ([0-9]+) cycles\/[a-z]+, ([0-9.]+) exits\/.*/\1 \2 \3/p'
}

report_irq() {
	local k sec rc
	for k in shv kvm; do
		sec=irq-$k
		irq_numbers "$sec" >"$SHV_CACHE/bench.$sec"
		rc=$(sed -n "s/^shv-rig: end $sec rc=//p" "$LOG" | tail -n 1)
		if [[ $rc != 1 ]]; then
			RIG_ERRORS+=("bench_irq $sec: exit status ${rc:-none}, expected 1")
			section_lines "$sec" | grep -E '^not ok|error' |
				head -n 3 | sed 's/^/  /' >&2 || true
		fi
	done
	echo
	awk -v metrics="$IRQ_METRICS" '
	FNR == NR { sc[$1] = $2; se[$1] = $3; next }
	{ kc[$1] = $2; ke[$1] = $3 }
	function cell(a, k) { return (k in a) ? a[k] : "-" }
	END {
		printf "%-14s %11s %11s %8s %10s %10s\n", "interrupt",
		       "shv cycles", "kvm cycles", "shv/kvm", "shv exits",
		       "kvm exits"
		n = split(metrics, m, " ")
		for (i = 1; i <= n; i++) {
			k = m[i]
			r = "-"
			if ((k in sc) && (k in kc) && kc[k] > 0)
				r = sprintf("%.2f", sc[k] / kc[k])
			printf "%-14s %11s %11s %8s %10s %10s\n", k, cell(sc, k),
			       cell(kc, k), r, cell(se, k), cell(ke, k)
		}
		goal = "issue 5, an AutoEOI SINT costs fewer exits than one with an EOI write:"
		if (("synic_autoeoi" in se) && ("synic_eoi" in se)) {
			v = se["synic_autoeoi"] + 0 < se["synic_eoi"] + 0
			goal = goal sprintf(" shv %s (%s < %s)",
					    v ? "met" : "NOT met",
					    se["synic_autoeoi"], se["synic_eoi"])
		}
		if (("synic_autoeoi" in ke) && ("synic_eoi" in ke)) {
			v = ke["synic_autoeoi"] + 0 < ke["synic_eoi"] + 0
			goal = goal sprintf(", kvm %s (%s < %s)",
					    v ? "met" : "NOT met",
					    ke["synic_autoeoi"], ke["synic_eoi"])
		}
		print goal
	}' "$SHV_CACHE/bench.irq-shv" "$SHV_CACHE/bench.irq-kvm"
	echo "cycles: median per round trip (ipi_rt) or interrupt; timer_latency"
	echo "from the deadline to the handler, timer_periodic lost by a running"
	echo "loop; exits: of both vCPUs, per operation.  See Documentation/bench.rst."
	for k in shv kvm; do
		for sec in $IRQ_METRICS; do
			grep -q "^$sec " "$SHV_CACHE/bench.irq-$k" || {
				RIG_ERRORS+=("bench_irq irq-$k: no $sec result")
				break
			}
		done
	done
}

# The disk benchmark, section disk (scripts/bench_disk.sh): "bench: NAME
# N KiB/s" -> "NAME N".
report_disk() {
	local rc
	section_lines disk |
		sed -nE 's/^bench: ([a-z0-9_]+) ([0-9]+) KiB\/s.*/\1 \2/p' \
		>"$SHV_CACHE/bench.disk"
	rc=$(sed -n "s/^shv-rig: end disk rc=//p" "$LOG" | tail -n 1)
	[[ $rc == 0 ]] ||
		RIG_ERRORS+=("bench disk: exit status ${rc:-none}, expected 0")
	echo
	awk '{ v[$1] = $2 }
	function cell(k) { return (k in v) ? v[k] : "-" }
	END {
		printf "%-12s %12s %12s %10s\n", "disk KiB/s", "shv virtio",
		       "dm-crypt", "shv/dm"
		n = split("seq_write seq_read rand_write rand_read", m, " ")
		for (i = 1; i <= n; i++) {
			s = "disk_" m[i]; d = "dm_" m[i]
			r = "-"
			if ((s in v) && (d in v) && v[d] > 0)
				r = sprintf("%.2f", v[s] / v[d])
			printf "%-12s %12s %12s %10s\n", m[i], cell(s), cell(d), r
		}
		printf "cipher alone (AF_ALG, 64 KiB requests): encrypt %s, decrypt %s KiB/s\n",
		       cell("alg_encrypt"), cell("alg_decrypt")
	}' "$SHV_CACHE/bench.disk"
	echo "aes-xts-plain64, one request at a time; sequential: 1 MiB requests,"
	echo "random: 4 KiB.  See Documentation/bench.rst."
}

report_bench() {
	local ok=1 why
	echo
	bench_numbers bench-shv >"$SHV_CACHE/bench.shv"
	bench_numbers bench-kvm >"$SHV_CACHE/bench.kvm"
	awk 'FNR == NR { shv[$1] = $2; next } { kvm[$1] = $2 }
	     END {
		printf "%-8s %14s %14s %10s\n", "exit", "shv cyc/exit",
		       "kvm cyc/exit", "shv/kvm"
		n = split("cpuid pio mmio outsb_4k", order, " ")
		for (i = 1; i <= n; i++) {
			k = order[i]
			s = (k in shv) ? shv[k] : "-"
			v = (k in kvm) ? kvm[k] : "-"
			r = "-"
			if (k in shv && k in kvm && kvm[k] > 0)
				r = sprintf("%.2f", shv[k] / kvm[k])
			printf "%-8s %14s %14s %10s\n", k, s, v, r
		}
	     }' "$SHV_CACHE/bench.shv" "$SHV_CACHE/bench.kvm"
	echo "cpuid exits are handled in shv.ko, pio exits by shv-run; mmio is a"
	echo "decoded and emulated store completed by shv-run; outsb_4k is one"
	echo "rep outsb of 4 KiB (cycles per instruction; exits per instruction in"
	echo "the log).  Under QEMU/TCG SVM is emulated: compare the ratios, not"
	echo "the cycles."
	[[ ${BOOTED:-} ]] && report_irq
	[[ ${BOOTED:-} ]] && report_mmu
	[[ ${BOOTED:-} ]] && report_disk
	for why in "${RIG_ERRORS[@]}"; do
		echo "${_c_red}FAIL${_c_off}: $why"; ok=0
	done
	local k
	for k in shv kvm; do
		if ! grep -q '^cpuid ' "$SHV_CACHE/bench.$k" ||
		   ! grep -q '^pio ' "$SHV_CACHE/bench.$k"; then
			echo "${_c_red}FAIL${_c_off}: no complete $k results"
			ok=0
		fi
	done
	if [[ -s $SHV_CACHE/$MODE.splats ]]; then
		ok=0
		echo "kernel splat (first lines):"
		head -n 20 "$SHV_CACHE/$MODE.splats" | sed 's/^/  /'
	fi
	local verdict=FAILED
	((ok)) && verdict='done'
	echo "bench: $verdict in $(elapsed "$T0") s; log: $(logname)"
	((ok))
}

report() { "report_$MODE"; }

# A rig error that stops the run before the guest's results exist.
fatal() {
	err "$*"
	RIG_ERRORS+=("$*")
	report || true
	exit 1
}

# ---------------------------------------------------------------------
# Build

build() {	# target [make args]
	local what=$1 t step=$SHV_CACHE/build-step.log
	t=$(now)
	printf '%s==>%s make %s ... ' "$_c_bld" "$_c_off" "$*" >&2
	local rc=0
	make -C "$SHV_ROOT" "$@" >"$step" 2>&1 || rc=$?
	{ echo "=== make $* ==="; cat "$step"; } >>"$BUILD_LOG"
	if ((rc == 0)); then
		echo "ok ($(elapsed "$t") s)" >&2
		return 0
	fi
	echo "${_c_red}FAILED${_c_off}" >&2
	# The compiler's and make's complaints, else the end of the output.
	if grep -qE '(error|warning):|\*\*\*|undefined reference' "$step"; then
		grep -E -m 30 -A3 '(error|warning):|undefined reference' "$step" >&2
		grep -E '\*\*\*' "$step" | tail -n 3 >&2
	else
		tail -n 25 "$step" >&2
	fi
	echo "(full output: ${BUILD_LOG#"$SHV_ROOT"/})" >&2
	fatal "build failed: make $what"
}

# scripts/rigmod/rig_pin.ko, loaded before KVM (see rig_pin.c), built in
# .cache/rigmod against the rig's kernel headers.
build_rigmod() {
	local d=$SHV_CACHE/rigmod
	if [[ -f $d/rig_pin.ko && $d/rig_pin.ko -nt $SHV_ROOT/scripts/rigmod/rig_pin.c ]]; then
		return 0
	fi
	rm -rf "$d"
	mkdir -p "$d"
	cp "$SHV_ROOT"/scripts/rigmod/{Kbuild,rig_pin.c} "$d/"
	make -C "$KDIR" M="$d" modules >>"$BUILD_LOG" 2>&1 ||
		fatal "building scripts/rigmod/rig_pin.ko failed (see ${BUILD_LOG#"$SHV_ROOT"/})"
}

# ---------------------------------------------------------------------
# Initramfs

# Copy the shared libraries a dynamic executable needs (the runner is
# static; test binaries might not be).
add_libs() {	# file
	local lib
	LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'program interpreter' ||
		return 0
	for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+'); do
		[[ -e $IRD$lib ]] || cp -L --parents "$lib" "$IRD/"
	done
}

# The module $1 from the unpacked kernel and everything it depends on,
# decompressed, into $IRD/kvm/; appends the load order to the list named
# $2 (default KVM_MODULES).  A module goes into one list only.
add_kmod() {	# name [list]
	local name=${1//_/-} list=${2:-KVM_MODULES} f dep
	[[ " $KMODS_PACKED " == *" $name "* ]] && return 0
	f=$(find "$MODDIR/kernel" \( -name "$name.ko*" -o \
		-name "${name//-/_}.ko*" \) | head -n 1)
	[[ -n $f ]] || fatal "module $name not found in $MODDIR"
	for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
		add_kmod "$dep" "$list"
	done
	case $f in
	*.xz)	xz -dc "$f" >"$IRD/kvm/$name.ko" ;;
	*.zst)	zstd -qdc "$f" >"$IRD/kvm/$name.ko" ;;
	*.gz)	gzip -dc "$f" >"$IRD/kvm/$name.ko" ;;
	*)	cp "$f" "$IRD/kvm/$name.ko" ;;
	esac
	printf -v "$list" '%s' "${!list:+${!list} }$name"
	KMODS_PACKED+=" $name"
}

# What the encrypted-disk tests need beside shv.ko (check and shell):
# the plug-ins, the kernel ciphers they use (nothing autoloads without
# modules.dep), AF_ALG, dm-crypt and loop, cryptsetup and qemu-img with
# their libraries.  Documentation/crypt.rst.
add_crypt() {
	local f cs
	for f in "$(dirname "$SHV_KO")"/shv-*.ko; do
		[[ -f $f ]] && cp "$f" "$IRD/"
	done
	for f in gf128mul ecb xts essiv authenc ctr ghash-generic gcm \
		 af-alg algif-skcipher algif-aead dm-mod dm-crypt loop; do
		add_kmod "$f" CRYPT_MODULES
	done
	# shv-disk's aes-gcm-random: gcm(aes) through AF_ALG's aead sockets
	for f in ctr ghash-generic gcm algif-aead; do
		add_kmod "$f" CRYPT_MODULES
	done
	cs=$(command -v cryptsetup || true)
	for f in /usr/sbin/cryptsetup /sbin/cryptsetup; do
		[[ -z $cs && -x $f ]] && cs=$f
	done
	if [[ -n $cs ]]; then
		mkdir -p "$IRD/sbin"
		cp "$cs" "$IRD/sbin/cryptsetup"
		add_libs "$IRD/sbin/cryptsetup"
	else
		warn "no cryptsetup on the host: the dm-crypt tests will skip" \
		     "(apt-get install cryptsetup-bin)"
	fi
	# qemu-img: VHD files made and read by another implementation
	if [[ -x /usr/bin/qemu-img ]]; then
		mkdir -p "$IRD/usr/bin"
		cp /usr/bin/qemu-img "$IRD/usr/bin/qemu-img"
		add_libs "$IRD/usr/bin/qemu-img"
	else
		warn "no qemu-img on the host: the VHD interop test will skip" \
		     "(apt-get install qemu-utils)"
	fi
}

# Shell-quote for /etc/rig.conf (read by busybox sh).
conf() { printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }

pack() {
	local busybox applet f
	rm -rf "$IRD"
	mkdir -p "$IRD"/{bin,dev,etc,proc,sys,tmp,guests,selftests,kvm}

	busybox=$(command -v busybox) || fatal "busybox not installed"
	cp "$busybox" "$IRD/bin/busybox"
	for applet in $("$IRD/bin/busybox" --list); do
		[[ $applet == busybox ]] || ln -s busybox "$IRD/bin/$applet"
	done
	install -m 0755 "$SHV_ROOT/scripts/initramfs/init" "$IRD/init"

	[[ -f $SHV_KO ]] && cp "$SHV_KO" "$IRD/shv.ko"
	if [[ -x $RUNNER ]]; then
		cp "$RUNNER" "$IRD/shv-run"
		add_libs "$IRD/shv-run"
	fi
	if [[ -x $DISK_TOOL ]]; then
		cp "$DISK_TOOL" "$IRD/shv-disk"
		add_libs "$IRD/shv-disk"
	fi
	for f in "$GUESTS"/*.bin "$GUESTS"/*.elf; do
		[[ -f $f ]] && cp "$f" "$IRD/guests/"
	done
	# linux_boot_test boots the rig's own kernel as a guest
	[[ $MODE == check || $MODE == shell ]] &&
		cp "$VMLINUZ" "$IRD/guests/vmlinuz"

	if [[ $MODE == check || $MODE == shell ]]; then
		[[ -d $SELFTESTS_DIR ]] && cp -a "$SELFTESTS_DIR"/. "$IRD/selftests/"
		# Build by-products the guest does not need.
		rm -rf "$IRD/selftests/include"
		find "$IRD/selftests" \( -name '*.o' -o -name '*.d' \) -delete
		[[ -e $IRD/selftests/run_tests.sh ]] ||
			cp "$SHV_ROOT/selftests/run_tests.sh" "$IRD/selftests/" \
				2>/dev/null || true
		while IFS= read -r -d '' f; do
			add_libs "$f"
		done < <(find "$IRD/selftests" -type f -perm -u+x -print0)
	fi

	KVM_MODULES='' CRYPT_MODULES='' KMODS_PACKED=
	# check: the PC-machine guests also run under KVM for comparison
	if [[ $MODE == bench || $MODE == shell || $MODE == check ]]; then
		add_kmod kvm-amd
		cp "$SHV_CACHE/rigmod/rig_pin.ko" "$IRD/kvm/"
	fi
	[[ $MODE == shell || $MODE == check || $MODE == bench ]] && add_crypt
	# the disk benchmark's script and host side
	if [[ $MODE == bench ]]; then
		install -m 0755 "$SHV_ROOT/scripts/bench_disk.sh" "$IRD/bench_disk.sh"
		[[ -x $SELFTESTS_DIR/disk_bench ]] &&
			cp "$SELFTESTS_DIR/disk_bench" "$IRD/disk_bench"
	fi

	{
		conf MODE "$MODE"
		# Leave the guest 45 s to dump its log before the host kills it.
		conf GUEST_TIMEOUT "$((TIMEOUT > 90 ? TIMEOUT - 45 : 0))"
		conf DEMO_CMD "$DEMO_CMD"
		conf BENCH_SHV_CMD "$BENCH_SHV_CMD"
		conf BENCH_KVM_CMD "$BENCH_KVM_CMD"
		conf KVM_MODULES "$KVM_MODULES"
		conf CRYPT_MODULES "$CRYPT_MODULES"
		if [[ $MODE == bench ]]; then
			conf BENCH_MMU_SHV_CMD "$BENCH_MMU_SHV_CMD"
			conf BENCH_MMU_KVM_CMD "$BENCH_MMU_KVM_CMD"
			conf BENCH_MMU_TIMEOUT "$BENCH_MMU_TIMEOUT"
			conf BENCH_IRQ_SHV_CMD "$BENCH_IRQ_SHV_CMD"
			conf BENCH_IRQ_KVM_CMD "$BENCH_IRQ_KVM_CMD"
			conf BENCH_DISK_CMD "$BENCH_DISK_CMD"
		fi
		conf SHV_TEST_MMUS "${SHV_TEST_MMUS:-}"
		conf SHV_TEST_FILTER "${SHV_TEST_FILTER:-}"
	} >"$IRD/etc/rig.conf"

	(cd "$IRD" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$CPIO"
}

# ---------------------------------------------------------------------
# Boot

boot() {
	local append rcs qrc
	append="console=ttyS0 panic=-1"
	append+=" ${SHV_RIG_APPEND:-}"
	info "booting $KVER under QEMU/TCG ($QEMU_CPU), timeout ${TIMEOUT}s;" \
	     "log: ${LOG#"$SHV_ROOT"/}"
	BOOTED=1
	if [[ $MODE == shell ]]; then
		info "serial console on this terminal; 'exit' powers off," \
		     "Ctrl-A X quits QEMU"
		# shellcheck disable=SC2086
		qemu-system-x86_64 \
			-accel "$TCG" -cpu "$QEMU_CPU" -smp 2 -m 1G \
			-nographic -no-reboot -net none \
			-kernel "$VMLINUZ" -initrd "$CPIO" -append "$append" \
			${SHV_QEMU_ARGS:-} 2>&1 | tee "$LOG"
		exit 0
	fi
	set +e
	# shellcheck disable=SC2086
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-accel "$TCG" -cpu "$QEMU_CPU" -smp 2 -m 1G \
		-nographic -no-reboot -net none \
		-kernel "$VMLINUZ" -initrd "$CPIO" -append "$append" \
		${SHV_QEMU_ARGS:-} </dev/null 2>&1 |
		tee "$LOG" |
		awk -v verbose="${SHV_RIG_VERBOSE:-0}" \
			-f "$SHV_ROOT/scripts/console.awk"
	rcs=("${PIPESTATUS[@]}")
	set -e
	qrc=${rcs[0]}
	# CRs off; a marker after output without a final newline gets its own
	# line.
	sed -i -e 's/\r//g' -e 's/\(.\)shv-rig: /\1\nshv-rig: /' "$LOG"

	if ((qrc == 124 || qrc == 137)); then
		RIG_ERRORS+=("timeout: QEMU killed after ${TIMEOUT}s")
	elif ((qrc != 0)); then
		RIG_ERRORS+=("QEMU exited with status $qrc")
	fi
	local e
	while IFS= read -r e; do
		RIG_ERRORS+=("guest: $e")
	done < <(sed -n 's/^shv-rig: error: //p' "$LOG")
	if ((qrc != 124 && qrc != 137)) && ! grep -q '^shv-rig: done$' "$LOG"; then
		RIG_ERRORS+=("the guest did not finish (no 'shv-rig: done')")
	fi

	grep -E "$SPLAT_RE" "$LOG" | sed -E 's/^.*(\[ *[0-9]+\.[0-9]+\])/\1/' |
		awk '!seen[$0]++' >"$SHV_CACHE/$MODE.splats" || true
	SPLATS_CHECKED=1
}

# ---------------------------------------------------------------------
# The VMX half of `make check`: a fast subset of the selftests under Bochs
# (scripts/bochs.sh; the whole suite is `make check-vmx`).  Its results,
# named "vmx: ...", join this run's.  SHV_RIG_BOCHS=0 skips it.

bochs_check() {
	local f=$SHV_CACHE/check.bochs
	[[ ${SHV_RIG_BOCHS:-1} == 0 ]] && return 0
	rm -f "$f"
	info "VMX: the Bochs rig (scripts/bochs.sh check)"
	SHV_RIG_NOBUILD=1 SHV_BOCHS_RESULTS=$f "$SHV_ROOT/scripts/bochs.sh" check ||
		true
	if [[ -s $f ]]; then
		grep -E '^(PASS|FAIL|SKIP)'$'\t' "$f" >>"$RESULTS" || true
	else
		RIG_ERRORS+=("the Bochs rig (VMX) left no results")
	fi
}

# ---------------------------------------------------------------------

main() {
	# One rig run per tree at a time: they share the build, .cache/ and
	# the logs.
	exec 9>"$SHV_CACHE/rig.lock"
	if ! flock -n 9; then
		info "another rig run is using this tree (.cache/rig.lock); waiting"
		flock 9
	fi
	T0=$(now)

	info "shv rig: $MODE"
	"$SHV_ROOT/scripts/deps.sh" || fatal "installing the dependencies failed"
	kout=$("$SHV_ROOT/scripts/kernel.sh") || fatal "cannot get the rig's kernel"
	eval "$kout"
	info "kernel $KVER (Debian $KPKGVER), headers $KDIR"

	: >"$BUILD_LOG"
	rm -f "$SHV_CACHE/$MODE.splats" "$RESULTS"
	if [[ -z ${SHV_RIG_NOBUILD:-} ]]; then
		build module KDIR="$KDIR"
		build user
		[[ $MODE == check || $MODE == shell || $MODE == bench ]] &&
			build selftests
	fi

	build_rigmod
	[[ -f $SHV_KO ]] || fatal "no module: $SHV_KO was not built"
	vermagic=$(modinfo -F vermagic "$SHV_KO" 2>/dev/null || true)
	[[ $vermagic == "$KVER "* ]] ||
		fatal "$SHV_KO is built for '${vermagic%% *}', the rig runs $KVER"
	if [[ $MODE != check && ! -x $RUNNER ]]; then
		fatal "no runner: ${RUNNER#"$SHV_ROOT"/} was not built"
	fi

	pack
	info "initramfs: ${CPIO#"$SHV_ROOT"/} ($(du -h "$CPIO" | cut -f1))"
	boot

	case $MODE in
	check)
		section_lines ktap >"$SHV_CACHE/check.ktap"
		if grep -q '^shv-rig: begin ktap$' "$LOG"; then
			awk -v need_plan=selftests -f "$SHV_ROOT/scripts/ktap.awk" \
				"$SHV_CACHE/check.ktap" >"$RESULTS"
		else
			: >"$RESULTS"
			((${#RIG_ERRORS[@]})) ||
				RIG_ERRORS+=("no KTAP output from the guest")
		fi
		bochs_check
		;;
	run)
		DEMO_RC=$(sed -n 's/^shv-rig: demo exit status \([0-9]*\)$/\1/p' "$LOG")
		;;
	esac
	report
}

# All of the above is read before main runs: editing this file while the
# rig runs does not disturb it.
main "$@"; exit
