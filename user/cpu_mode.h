/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: the CPU state a loaded image starts in.
 *
 * Guest memory the runner itself writes (claimed, so images may not
 * overlap it):
 *   0x0500-0x052f   GDT (prot32, long64 and multiboot)
 *                     0x08 code32 flat, 0x10 data flat, 0x18 code64,
 *                     0x20 data (= 0x10)
 *   0x9000-0xefff   long64 page tables: PML4 0x9000, PDPT 0xa000, four
 *                     page directories 0xb000-0xefff identity-mapping
 *                     the low 4 GiB with 2 MiB pages
 * Stacks (not claimed): vCPU n starts with SP = 0x7000 - n * 0x80.
 * Registers: all zero except RSP, RIP, RFLAGS = 0x2 and RBX = the vCPU
 * index (loaders may override RAX/RBX for the boot vCPU).
 */
#ifndef SHV_RUN_CPU_MODE_H
#define SHV_RUN_CPU_MODE_H

#include <linux/shv.h>

#include "mem.h"

enum cpu_mode {
	CPU_MODE_REAL,
	CPU_MODE_PROT32,
	CPU_MODE_LONG64,
};

#define BOOT_GDT_ADDR		0x500ULL
#define BOOT_GDT_SIZE		0x30ULL
#define BOOT_PT_ADDR		0x9000ULL
#define BOOT_PT_SIZE		0x6000ULL
#define BOOT_STACK_TOP		0x7000ULL
#define BOOT_STACK_STRIDE	0x80ULL

#define BOOT_SEL_CODE32		0x08
#define BOOT_SEL_DATA		0x10
#define BOOT_SEL_CODE64		0x18

int cpu_mode_parse(const char *s, enum cpu_mode *mode);
const char *cpu_mode_name(enum cpu_mode mode);

/* Write (and claim) the GDT / page tables @mode needs */
int cpu_mode_prepare(struct guest_mem *m, enum cpu_mode mode);

/*
 * Fill @regs and adjust @sregs (read from the fresh vCPU) so that vCPU
 * @idx starts at @entry in @mode.
 */
int cpu_mode_setup(enum cpu_mode mode, u64 entry, unsigned int idx,
		   struct shv_regs *regs, struct shv_sregs *sregs);

#endif /* SHV_RUN_CPU_MODE_H */
