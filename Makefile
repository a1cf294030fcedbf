# SPDX-License-Identifier: GPL-2.0
#
# shv top-level Makefile.
#   make            module (against KDIR), static runner, guests, selftests
#   make check      the whole test suite inside the QEMU rig (installs deps)
#   make run        boot the rig and run the demo guest under shv
#   make bench      exit round-trip benchmarks, shv against KVM, in the rig
#   make check-vmx  every selftest on the VMX backend, under Bochs
#   make bench-vmx  cpuid/pio exit round trips on VMX, under Bochs
#   make checkpatch checkpatch.pl --strict over kmod/ and the uapi header
#   make C=1        also run sparse over the module

# The rig builds against Debian's headers; scripts/kernel.sh prints them.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
		   $(wildcard /lib/modules/*-amd64/build))
PWD := $(shell pwd)

.PHONY: all module user selftests check run bench checkpatch sparse clean deps \
	check-vmx bench-vmx

all: module user selftests

module:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

user:
	$(MAKE) -C user

selftests:
	$(MAKE) -C selftests

deps:
	@scripts/deps.sh

check:
	@scripts/rig.sh check

run:
	@scripts/rig.sh run

bench:
	@scripts/rig.sh bench

check-vmx:
	@scripts/bochs.sh check-full

bench-vmx:
	@scripts/bochs.sh bench

checkpatch:
	@scripts/checkpatch.sh

sparse:
	$(MAKE) -C $(KDIR) M=$(PWD) C=2 modules

clean:
	-$(MAKE) -C $(KDIR) M=$(PWD) clean
	$(MAKE) -C user clean
	$(MAKE) -C selftests clean
	rm -rf build
