#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict over the module and the uapi header.  The script
# and its data files come from Debian's linux-source-6.1 and are extracted
# into .cache/checkpatch/ once.  Extra arguments go to checkpatch.pl.
# Exits non-zero on any error, warning or check.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SHV_ROOT"

TARBALL=/usr/src/linux-source-6.1.tar.xz
DIR=$SHV_CACHE/checkpatch
CP=$DIR/scripts/checkpatch.pl

if [[ ! -x $CP ]]; then
	[[ -f $TARBALL ]] || "$SHV_ROOT/scripts/deps.sh"
	[[ -f $TARBALL ]] || die "$TARBALL missing (apt-get install linux-source-6.1)"
	info "extracting checkpatch.pl from $TARBALL"
	rm -rf "$DIR" "$DIR.tmp"
	mkdir -p "$DIR.tmp"
	top=linux-source-6.1
	tar -xJf "$TARBALL" -C "$DIR.tmp" --strip-components=1 \
		"$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
		"$top/scripts/const_structs.checkpatch"
	mv "$DIR.tmp" "$DIR"
fi

shopt -s nullglob
files=(kmod/*.[chS] kmod/plugins/*.[ch] include/uapi/linux/shv.h)
((${#files[@]})) || die "nothing to check"

if "$CP" --strict --no-tree --show-types --color=never --summary-file -f \
	"$@" "${files[@]}" >"$SHV_CACHE/checkpatch.log" 2>&1; then
	info "checkpatch: ${#files[@]} files clean"
	exit 0
fi
# Show the findings and the totals of the files that have any.
awk '/^(ERROR|WARNING|CHECK):/ { f = 1 }
     f { print } /^$/ { f = 0 }
     / total: / && !/ 0 errors, 0 warnings, 0 checks/ { print; print "" }' \
	"$SHV_CACHE/checkpatch.log"
err "checkpatch: errors, warnings or checks (full log: .cache/checkpatch.log)"
exit 1
