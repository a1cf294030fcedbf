# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers shared by the rig scripts.  Source it, do not run it.

SHV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHV_CACHE=${SHV_CACHE:-$SHV_ROOT/.cache}

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
	_c_red=$'\e[1;31m' _c_grn=$'\e[1;32m' _c_yel=$'\e[1;33m'
	_c_bld=$'\e[1m' _c_off=$'\e[0m'
else
	_c_red='' _c_grn='' _c_yel='' _c_bld='' _c_off=''
fi

# Progress and errors go to stderr so that kernel.sh's stdout stays
# machine readable.
info()  { printf '%s==>%s %s\n' "$_c_bld" "$_c_off" "$*" >&2; }
warn()  { printf '%swarning:%s %s\n' "$_c_yel" "$_c_off" "$*" >&2; }
err()   { printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2; }
die()   { err "$*"; exit 1; }

# Run as root, or through sudo when we are not.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root for: $*"
	fi
}

# Seconds since the epoch, with a fraction where date supports it.
now() { date +%s.%N 2>/dev/null || date +%s; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
