# SPDX-License-Identifier: GPL-2.0
#
# The PC machine test guests (included by user/Makefile): multiboot
# kernels in C, guests/pc_NAME.elf from guests/pc/pc_NAME.c and the
# library.  As kvm-unit-tests does it, they are x86-64 code with a 32-bit
# entry, linked as ELF64 and converted to ELF32 for the multiboot loader.
# selftests/pc_machine.sh runs them.

PC_GUEST_NAMES	= pc_boot pc_fwcfg pc_acpi pc_smp pc_timer pc_testdev \
		  pc_irq pc_pci pc_hyperv pc_disk
PC_GUESTS	= $(PC_GUEST_NAMES:%=guests/%.elf)
# benchmarks on the same library (scripts/rig.sh bench)
PC_BENCHES	= guests/bench_irq.elf
PC_CFLAGS	= -m64 -mno-red-zone -std=gnu11 -O2 -g -Wall -Wextra -Werror \
		  -ffreestanding -fno-builtin -fno-pic -fno-pie \
		  -fno-stack-protector -fno-asynchronous-unwind-tables \
		  -mgeneral-regs-only -Wno-array-bounds -MMD -MP
PC_LIB_OBJS	= guests/pc/crt0.po guests/pc/lib.po guests/pc/acpi.po \
		  guests/pc/vblk.po

all: $(PC_GUESTS) $(PC_BENCHES)

guests/pc/%.po: guests/pc/%.c
	$(CC) $(PC_CFLAGS) -c -o $@ $<

guests/pc/%.po: guests/pc/%.S
	$(CC) $(PC_CFLAGS) -c -o $@ $<

guests/pc/pc_%.elf64: guests/pc/pc_%.po $(PC_LIB_OBJS) guests/pc/pc.ld
	$(LD) $(GUEST_LDFLAGS) -T guests/pc/pc.ld -o $@ $< $(PC_LIB_OBJS)

guests/pc_%.elf: guests/pc/pc_%.elf64
	$(OBJCOPY) -O elf32-i386 $< $@

guests/pc/bench_%.elf64: guests/pc/bench_%.po $(PC_LIB_OBJS) guests/pc/pc.ld
	$(LD) $(GUEST_LDFLAGS) -T guests/pc/pc.ld -o $@ $< $(PC_LIB_OBJS)

guests/bench_%.elf: guests/pc/bench_%.elf64
	$(OBJCOPY) -O elf32-i386 $< $@

.PHONY: clean-pc
clean: clean-pc
clean-pc:
	rm -f guests/pc/*.po guests/pc/*.d guests/pc/*.elf64 $(PC_GUESTS) \
		$(PC_BENCHES)

-include $(wildcard guests/pc/*.d)
