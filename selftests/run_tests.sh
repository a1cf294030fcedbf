#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run every *_test next to this script and print one KTAP document: each
# binary's own TAP output (kselftest harness) is a subtest indented by two
# spaces, followed by "ok N selftests: shv: NAME" or "not ok ...".  A
# binary that exits non-zero (failure, crash, all skipped) is "not ok".
#
# Tests that run guests (all but abi_test, emu_unit_test, crypt_test,
# disk_test, disk_tool_test, pc_disk_test, whose data path does not
# depend on the MMU, and shadow_test, which covers both MMUs itself) run
# once per MMU the module
# offers (shv_caps: "nested shadow"), with SHV_TEST_MMU set; the list can
# be forced with SHV_TEST_MMUS="nested shadow" or SHV_TEST_MMUS=default,
# and for one test with SHV_TEST_MMUS_<name without _test>, e.g.
# SHV_TEST_MMUS_realmode="nested shadow" (of those, the ones the module
# offers).  busybox sh compatible.

cd "$(dirname "$0")" || exit 1

indent() {
	while IFS= read -r l || [ -n "$l" ]; do
		printf '  %s\n' "$l"
	done
}

rcf=${TMPDIR:-/tmp}/shv-selftests.$$.rc
offered=$(./shv_caps 2>/dev/null)
mmus=${SHV_TEST_MMUS:-$offered}
[ -n "$mmus" ] || mmus=default
# every result names the backend it ran on: svm or vmx
backend=$(./shv_caps vendor 2>/dev/null)

set --
for t in ./*_test; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	t=${t#./}
	case $t in
	abi_test|emu_unit_test|shadow_test|crypt_test|disk_test|disk_tool_test|pc_disk_test)
		set -- "$@" "$t:default" ;;
	*)
		eval "want=\${SHV_TEST_MMUS_${t%_test}:-}"
		tmmus=
		for m in $want; do
			case " $offered " in
			*" $m "*) tmmus="$tmmus $m" ;;
			esac
		done
		for m in ${tmmus:-$mmus}; do
			set -- "$@" "$t:$m"
		done ;;
	esac
done

echo "TAP version 13"
if [ $# -eq 0 ]; then
	echo "1..1"
	echo "not ok 1 selftests: shv: no *_test binaries in $(pwd)"
	exit 1
fi
echo "1..$#"

n=0
failed=0
for tm; do
	n=$((n + 1))
	t=${tm%:*}
	m=${tm##*:}
	tag=$backend
	[ "$m" = default ] || tag="${tag:+$tag/}$m"
	name=$t
	[ -n "$tag" ] && name="$t [$tag]"
	echo "# selftests: shv: $name"
	rm -f "$rcf"
	(
		if [ "$m" = default ]; then
			./"$t" 2>&1
		else
			SHV_TEST_MMU=$m ./"$t" 2>&1
		fi
		echo $? >"$rcf"
	) | indent
	rc=$(cat "$rcf" 2>/dev/null)
	rm -f "$rcf"
	if [ "$rc" = 0 ]; then
		echo "ok $n selftests: shv: $name"
	else
		echo "not ok $n selftests: shv: $name # exit=${rc:-unknown}"
		failed=$((failed + 1))
	fi
done

[ $failed -eq 0 ]
