// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: real, 32-bit protected and 64-bit long mode start states.
 */
#include <string.h>

#include "cpu_mode.h"

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_WP	(1ULL << 16)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_PS		(1ULL << 7)

#define SEG_TYPE_DATA_RWA	0x3
#define SEG_TYPE_CODE_XRA	0xb

/* Descriptors matching what the vCPU gets loaded with below */
static const u64 boot_gdt[] = {
	0,				/* null */
	0x00cf9b000000ffffULL,		/* 0x08: code32, base 0, 4 GiB */
	0x00cf93000000ffffULL,		/* 0x10: data, base 0, 4 GiB */
	0x00af9b000000ffffULL,		/* 0x18: code64 */
	0x00cf93000000ffffULL,		/* 0x20: data */
};

int cpu_mode_parse(const char *s, enum cpu_mode *mode)
{
	if (!strcmp(s, "real"))
		*mode = CPU_MODE_REAL;
	else if (!strcmp(s, "prot32"))
		*mode = CPU_MODE_PROT32;
	else if (!strcmp(s, "long64"))
		*mode = CPU_MODE_LONG64;
	else
		return -1;
	return 0;
}

const char *cpu_mode_name(enum cpu_mode mode)
{
	static const char *const names[] = {
		[CPU_MODE_REAL]		= "real",
		[CPU_MODE_PROT32]	= "prot32",
		[CPU_MODE_LONG64]	= "long64",
	};

	return (unsigned int)mode < ARRAY_SIZE(names) ? names[mode] : "?";
}

static int write_gdt(struct guest_mem *m)
{
	u8 *p;
	unsigned int i;

	if (guest_mem_claim(m, BOOT_GDT_ADDR, BOOT_GDT_SIZE, "runner GDT"))
		return -1;
	p = gpa_to_hva(m, BOOT_GDT_ADDR, BOOT_GDT_SIZE);
	memset(p, 0, BOOT_GDT_SIZE);
	for (i = 0; i < ARRAY_SIZE(boot_gdt); i++)
		le_put(p + i * 8, 8, boot_gdt[i]);
	return 0;
}

static int write_page_tables(struct guest_mem *m)
{
	u64 pml4 = BOOT_PT_ADDR, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000;
	unsigned int i;
	u8 *p;

	if (guest_mem_claim(m, BOOT_PT_ADDR, BOOT_PT_SIZE,
			    "runner page tables"))
		return -1;
	p = gpa_to_hva(m, BOOT_PT_ADDR, BOOT_PT_SIZE);
	memset(p, 0, BOOT_PT_SIZE);
	le_put(p, 8, pdpt | PTE_P | PTE_RW);
	for (i = 0; i < 4; i++)
		le_put(p + 0x1000 + i * 8, 8, (pd + i * 0x1000) | PTE_P | PTE_RW);
	for (i = 0; i < 4 * 512; i++)
		le_put(p + 0x2000 + i * 8, 8,
		       (u64)i * SZ_2M | PTE_P | PTE_RW | PTE_PS);
	return 0;
}

int cpu_mode_prepare(struct guest_mem *m, enum cpu_mode mode)
{
	switch (mode) {
	case CPU_MODE_REAL:
		return 0;
	case CPU_MODE_PROT32:
		return write_gdt(m);
	case CPU_MODE_LONG64:
		if (write_gdt(m))
			return -1;
		return write_page_tables(m);
	}
	return -1;
}

static void set_seg(struct shv_segment *s, u16 sel, u64 base, u32 limit,
		    u8 type, bool db, bool g, bool l)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = base;
	s->limit = limit;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = db;
	s->g = g;
	s->l = l;
}

static void set_data_segs(struct shv_sregs *s, u16 sel, u64 base, u32 limit,
			  bool big)
{
	set_seg(&s->ds, sel, base, limit, SEG_TYPE_DATA_RWA, big, big, false);
	s->es = s->fs = s->gs = s->ss = s->ds;
}

/* TR must describe a busy TSS once protection is on (VMX checks it) */
static void set_tr_ldt(struct shv_sregs *s)
{
	memset(&s->tr, 0, sizeof(s->tr));
	s->tr.type = SEG_TYPE_CODE_XRA;	/* 0xb: busy 32/64-bit TSS */
	s->tr.present = 1;
	s->tr.limit = 0xffff;
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.type = 0x2;
	s->ldt.present = 1;
	s->ldt.limit = 0xffff;
}

int cpu_mode_setup(enum cpu_mode mode, u64 entry, unsigned int idx,
		   struct shv_regs *regs, struct shv_sregs *s)
{
	u64 sp = BOOT_STACK_TOP - idx * BOOT_STACK_STRIDE;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;
	regs->rbx = idx;
	regs->rsp = sp;
	set_tr_ldt(s);
	s->idt.base = 0;
	s->idt.limit = 0x3ff;
	s->cr2 = 0;
	s->cr3 = 0;
	s->cr4 = 0;
	s->cr8 = 0;
	s->efer = 0;

	switch (mode) {
	case CPU_MODE_REAL:
		if (entry >= SZ_1M) {
			pr_err("real mode entry 0x%llx is above 1 MiB",
			       (unsigned long long)entry);
			return -1;
		}
		/* CS:IP = (entry & 0xf0000) >> 4 : entry & 0xffff */
		set_seg(&s->cs, (entry & ~0xffffULL) >> 4, entry & ~0xffffULL,
			0xffff, SEG_TYPE_CODE_XRA, false, false, false);
		set_data_segs(s, 0, 0, 0xffff, false);
		s->gdt.base = 0;
		s->gdt.limit = 0xffff;
		s->cr0 = X86_CR0_ET;
		regs->rip = entry & 0xffff;
		break;
	case CPU_MODE_PROT32:
		if (entry > 0xffffffffULL) {
			pr_err("32-bit entry 0x%llx is above 4 GiB",
			       (unsigned long long)entry);
			return -1;
		}
		set_seg(&s->cs, BOOT_SEL_CODE32, 0, 0xffffffff,
			SEG_TYPE_CODE_XRA, true, true, false);
		set_data_segs(s, BOOT_SEL_DATA, 0, 0xffffffff, true);
		s->gdt.base = BOOT_GDT_ADDR;
		s->gdt.limit = BOOT_GDT_SIZE - 1;
		s->cr0 = X86_CR0_PE | X86_CR0_ET;
		regs->rip = entry;
		break;
	case CPU_MODE_LONG64:
		set_seg(&s->cs, BOOT_SEL_CODE64, 0, 0xffffffff,
			SEG_TYPE_CODE_XRA, false, true, true);
		set_data_segs(s, BOOT_SEL_DATA, 0, 0xffffffff, true);
		s->gdt.base = BOOT_GDT_ADDR;
		s->gdt.limit = BOOT_GDT_SIZE - 1;
		s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP |
			 X86_CR0_PG;
		s->cr3 = BOOT_PT_ADDR;
		s->cr4 = X86_CR4_PAE;
		s->efer = EFER_LME | EFER_LMA;
		regs->rip = entry;
		break;
	}
	return 0;
}
