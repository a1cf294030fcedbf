/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The x86 instruction emulator core: the effect of one decoded instruction
 * on a register file and on memory reached through two callbacks.  It
 * knows segmentation (limits, types, canonical addresses) and the flags,
 * nothing of vCPUs, guest page tables or exits: emulate.c supplies those,
 * and the userspace unit test builds the same source (see
 * Documentation/emulator.rst).
 */
#ifndef SHV_EMUCORE_H
#define SHV_EMUCORE_H

#include "decode.h"

/* what shv_emu_exec() and the memory callbacks return */
enum shv_emu_result {
	SHV_EMU_OK,		/* done: regs, RIP, RFLAGS updated */
	SHV_EMU_EXCEPTION,	/* e->exc is to be raised; nothing committed */
	SHV_EMU_EXIT,		/* a callback must leave first; nothing done */
	SHV_EMU_UNHANDLED,	/* not emulated; nothing committed */
};

/* segment registers, in the order of enum shv_seg */
#define SHV_EMU_ES		0
#define SHV_EMU_CS		1
#define SHV_EMU_SS		2
#define SHV_EMU_DS		3
#define SHV_EMU_FS		4
#define SHV_EMU_GS		5
#define SHV_EMU_NR_SEGS		6

/* a segment register's hidden part */
struct shv_emu_seg {
	u64 base;
	u32 limit;		/* in bytes, granularity applied */
	u16 selector;
	u8 type;		/* bit 3 code, bit 2 expand-down, bit 1 W/R */
	u8 db;
	bool unusable;		/* null selector (protected mode) */
	/*
	 * The other attributes, for the caller to store back after a load:
	 * S (bit 4), DPL (6:5), P (7), AVL (12), L (13), G (15), as in the
	 * VMX access-rights format; type and D/B live in the fields above.
	 */
	u16 attr;
};

/* a descriptor-table register (GDTR, IDTR) */
struct shv_emu_dt {
	u64 base;
	u32 limit;
};

/* what an instruction did besides registers and memory (e->events) */
#define SHV_EMU_EV_SHADOW	BIT(0)	/* STI, MOV SS, POP SS: one insn */
#define SHV_EMU_EV_IRET		BIT(1)	/* IRET: NMIs are unblocked */

struct shv_emu_exc {
	u8 vector;
	bool has_error;
	u32 error_code;
	u64 cr2;		/* #PF */
};

/* CPU features the core honours (instructions whose meaning they change) */
#define SHV_EMU_F_BMI1		BIT(0)	/* F3 0F BC is TZCNT */
#define SHV_EMU_F_LZCNT		BIT(1)	/* F3 0F BD is LZCNT */
#define SHV_EMU_F_POPCNT	BIT(2)
#define SHV_EMU_F_MOVBE		BIT(3)
#define SHV_EMU_F_CX16		BIT(4)	/* CMPXCHG16B */

struct shv_emu;

/*
 * Memory at a linear address.  Return SHV_EMU_OK; SHV_EMU_EXCEPTION after
 * filling e->exc (#PF); SHV_EMU_EXIT to stop the instruction (it is run
 * again later); SHV_EMU_UNHANDLED.  An instruction writes memory at most
 * once (one call, two when the access wraps around 4 GiB), always after
 * all its reads and checks: a write that returns OK commits it.
 */
struct shv_emu_ops {
	int (*read)(struct shv_emu *e, u64 la, void *buf, unsigned int len);
	int (*write)(struct shv_emu *e, u64 la, const void *buf,
		     unsigned int len);
};

struct shv_emu {
	/* in and out: RAX..R15 in the usual encoding order */
	u64 regs[16];
	u64 rip;
	u64 rflags;

	/* in: the processor mode */
	struct shv_emu_seg seg[SHV_EMU_NR_SEGS];
	u8 mode;		/* code width: 16, 32 or 64 */
	bool pe;		/* CR0.PE */
	bool vm86;		/* RFLAGS.VM */
	bool am;		/* CR0.AM: alignment checks at CPL 3 */
	u8 cpl;
	u8 va_bits;		/* 48 or 57 (LA57) */
	u32 features;		/* SHV_EMU_F_* */
	const struct shv_emu_ops *ops;

	/* in and out: LGDT and LIDT load them; the IVT, descriptors */
	struct shv_emu_dt gdt, idt;
	struct shv_emu_dt ldt;	/* in: LDTR's base and limit */
	bool ldt_usable;

	/* out */
	struct shv_insn insn;	/* in for shv_emu_exec() */
	struct shv_emu_exc exc;
	bool rep_more;		/* a REP string op has iterations left */
	u8 seg_dirty;		/* BIT(SHV_EMU_xS): segment registers loaded */
	u8 dt_dirty;		/* BIT(0) GDTR, BIT(1) IDTR loaded */
	u8 events;		/* SHV_EMU_EV_* */
};

/*
 * Decode buf into e->insn for e->mode.  SHV_EMU_OK, SHV_EMU_EXCEPTION
 * (#UD or #GP for invalid or overlong encodings) or SHV_EMU_UNHANDLED
 * when avail is too short.
 */
int shv_emu_decode(struct shv_emu *e, const u8 *buf, unsigned int avail);

/*
 * Execute e->insn (one iteration of a REP string instruction: RIP stays
 * and rep_more is set while iterations remain).  On anything but
 * SHV_EMU_OK the registers, RIP and RFLAGS are left as they were.
 */
int shv_emu_exec(struct shv_emu *e);

/* the segment and offset of e->insn's ModRM memory operand */
void shv_emu_modrm_ea(const struct shv_emu *e, int *seg, u64 *off);

/*
 * Deliver interrupt or exception vector through the real-mode IVT as the
 * processor does in real-address mode: FLAGS, CS and IP (e->rip, the
 * return address) pushed, IF, TF, AC and RF cleared, CS:IP loaded from
 * the IVT at IDTR.base + 4 * vector.  SHV_EMU_OK, or SHV_EMU_EXCEPTION
 * (#GP beyond the IDT limit, #SS beyond the stack limit) with nothing
 * changed; or what a memory callback returned.  Only for real mode.
 */
int shv_emu_real_int(struct shv_emu *e, u8 vector);

#endif /* SHV_EMUCORE_H */
