#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The rig's kernel: Debian's linux-image matching the installed
# linux-headers-amd64, downloaded once into .cache/ and unpacked there
# (never installed).  Prints shell assignments on stdout:
#
#   KVER      kernel release, e.g. 6.1.0-56-amd64
#   KPKGVER   Debian package version, e.g. 6.1.192-2
#   KDIR      headers to build shv.ko against
#   VMLINUZ   the kernel to boot
#   MODDIR    the unpacked /lib/modules/$KVER
#
# Use:  eval "$(scripts/kernel.sh --export)"   (--export: "export VAR=...")
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The headers package that linux-headers-amd64 depends on, and its version.
headers_dep() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null) ||
		die "linux-headers-amd64 is not installed (run scripts/deps.sh)"
	# "linux-headers-6.1.0-56-amd64 (= 6.1.192-2)"
	dep=${dep%%[ ,(]*}
	[[ $dep == linux-headers-* ]] ||
		die "cannot parse linux-headers-amd64's dependency: $dep"
	KVER=${dep#linux-headers-}
	KPKGVER=$(dpkg-query -W -f='${Version}' "$dep" 2>/dev/null) ||
		die "$dep is not installed"
}

apt_download() {	# dir pkg=ver
	local dir=$1 spec=$2 opts=()
	[[ $(id -u) -eq 0 ]] && opts=(-o APT::Sandbox::User=root)
	(cd "$dir" && apt-get download -q "${opts[@]}" "$spec") >&2
}

# Fetch linux-image-$KVER=$KPKGVER into $deb.  Tries the signed and the
# unsigned package, refreshes the package lists once, and as a last resort
# upgrades linux-headers-amd64 when the archive no longer has an image for
# the installed headers (the security archive keeps only the newest).
fetch_image() {
	local tmp pkg try f
	tmp=$(mktemp -d "$SHV_CACHE/deb/tmp.XXXXXX")
	for try in 1 2; do
		for pkg in "linux-image-$KVER" "linux-image-$KVER-unsigned"; do
			apt_download "$tmp" "$pkg=$KPKGVER" || continue
			f=$(echo "$tmp"/*.deb)
			if [[ -f $f ]]; then
				mv "$f" "$deb"
				rm -rf "$tmp"
				return 0
			fi
		done
		((try == 1)) || break
		info "refreshing the package lists"
		as_root apt-get update -q >&2 || true
	done
	rm -rf "$tmp"
	return 1
}

main() {
	headers_dep
	local deb_dir=$SHV_CACHE/deb
	mkdir -p "$deb_dir"
	deb=$deb_dir/linux-image-${KVER}_${KPKGVER}_amd64.deb

	if [[ ! -s $deb ]]; then
		info "downloading linux-image-$KVER ($KPKGVER) into .cache/"
		if ! fetch_image; then
			[[ ${SHV_NO_UPGRADE:-} ]] &&
				die "no linux-image-$KVER=$KPKGVER in the archive"
			warn "no linux-image-$KVER=$KPKGVER in the archive;" \
			     "upgrading linux-headers-amd64 to match one"
			DEBIAN_FRONTEND=noninteractive as_root \
				apt-get install -y -q linux-headers-amd64 >&2
			exec env SHV_NO_UPGRADE=1 "$0" "$@"
		fi
	fi

	local root=$SHV_CACHE/kernel/$KVER stamp
	stamp=$root/.unpacked
	if [[ ! -f $stamp || $(cat "$stamp") != "$KPKGVER" ]]; then
		info "unpacking $(basename "$deb")"
		rm -rf "$root" "$root.tmp"
		mkdir -p "$root.tmp"
		dpkg -x "$deb" "$root.tmp"
		echo "$KPKGVER" >"$root.tmp/.unpacked"
		mv "$root.tmp" "$root"
	fi

	KDIR=/lib/modules/$KVER/build
	[[ -d $KDIR ]] || KDIR=/usr/src/linux-headers-$KVER
	[[ -f $KDIR/Makefile ]] || die "no kernel headers in $KDIR"
	VMLINUZ=$root/boot/vmlinuz-$KVER
	MODDIR=$root/lib/modules/$KVER
	[[ -f $VMLINUZ ]] || die "$deb has no boot/vmlinuz-$KVER"
	[[ -d $MODDIR ]] || die "$deb has no lib/modules/$KVER"

	local v pfx=
	[[ ${1:-} == --export ]] && pfx="export "
	for v in KVER KPKGVER KDIR VMLINUZ MODDIR; do
		printf '%s%s=%q\n' "$pfx" "$v" "${!v}"
	done
}

main "$@"
