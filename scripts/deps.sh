#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building shv and running the QEMU and Bochs rigs need, on
# Debian 12.
# Idempotent: when everything is present it only asks dpkg and returns.
#
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --list     print the package list
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKGS=(
	build-essential		# gcc, make, libc6-dev (static libc for the runner)
	bc bison flex libelf-dev	# what kbuild may want for an external module
	kmod			# modinfo, used on the unpacked kernel tree
	linux-headers-amd64	# the headers shv.ko is built against
	linux-source-6.1	# for scripts/checkpatch.pl
	sparse			# make C=1
	perl			# checkpatch.pl
	libnl-3-dev libnl-genl-3-dev
	qemu-system-x86		# the rig
	busybox-static		# the initramfs userland
	cpio xz-utils
	cryptsetup-bin		# dm-crypt interop tests (crypt_test) in the rig
	qemu-utils		# qemu-img: VHD interop tests (disk_test) in the rig
	# the Bochs rig (VMX): scripts/bochs.sh
	bochs bochs-term bochsbios vgabios
	isolinux syslinux-common xorriso
)

if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${PKGS[@]}"
	exit 0
fi

missing=()
for p in "${PKGS[@]}"; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[[ $s == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

info "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -q
as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
