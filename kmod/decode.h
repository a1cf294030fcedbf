/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86 instruction decoder: prefixes, opcode maps 1/0F/0F38/0F3A and VEX,
 * ModRM, SIB, displacement and immediate.  Used for instruction lengths
 * (no NRIPS, no decode assists) and by the emulator.  It has no kernel
 * dependencies beyond fixed-width types so userland tests can build it.
 */
#ifndef SHV_DECODE_H
#define SHV_DECODE_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/bits.h>
#else
#include "kernel_types.h"	/* userland builds: u8..s64, bool, BIT() */
#endif

#define SHV_INSN_MAX		15

/* prefix flags */
#define SHV_PFX_OPSIZE		BIT(0)	/* 66 */
#define SHV_PFX_ADSIZE		BIT(1)	/* 67 */
#define SHV_PFX_LOCK		BIT(2)	/* F0 */
#define SHV_PFX_REPNE		BIT(3)	/* F2 */
#define SHV_PFX_REP		BIT(4)	/* F3 */
#define SHV_PFX_VEX		BIT(5)

#define SHV_PFX_EVEX		BIT(6)
#define SHV_PFX_XOP		BIT(7)

enum shv_opmap {
	SHV_MAP_1 = 0,		/* one-byte opcodes */
	SHV_MAP_0F,
	SHV_MAP_0F38,
	SHV_MAP_0F3A,
	SHV_MAP_EVEX5,		/* EVEX maps 5 and 6 (AVX512-FP16) */
	SHV_MAP_EVEX6,
	SHV_MAP_XOP8,		/* AMD XOP maps 8, 9 and 0Ah */
	SHV_MAP_XOP9,
	SHV_MAP_XOPA,
};

/* shv_decode() failures */
#define SHV_DECODE_UD		(-1)	/* invalid encoding: #UD */
#define SHV_DECODE_GP		(-2)	/* longer than 15 bytes: #GP(0) */
#define SHV_DECODE_SHORT	(-3)	/* needs more than the bytes given */

struct shv_insn {
	u8 len;
	u8 mode;		/* 16, 32 or 64: the code segment's width */
	u8 op_size;		/* 2, 4 or 8 bytes */
	u8 addr_size;		/* 2, 4 or 8 bytes */
	u32 prefixes;
	int seg;		/* segment override (enum shv_seg) or -1 */
	u8 rex;			/* 0 when absent */
	u8 map;			/* enum shv_opmap */
	u8 opcode;
	bool has_modrm;
	u8 modrm, mod, reg, rm;	/* reg and rm include REX.R / REX.B */
	bool has_sib;
	u8 sib;
	s64 disp;
	u8 disp_size;
	u64 imm;		/* zero-extended */
	u8 imm_size;
	u8 bytes[SHV_INSN_MAX];
};

/*
 * Decode the instruction in buf (avail valid bytes) for a code segment of
 * width mode (16/32/64).  Returns 0, or a negative SHV_DECODE_* when the
 * bytes are not a valid instruction (SHV_DECODE_UD), it would exceed 15
 * bytes (SHV_DECODE_GP) or the available bytes (SHV_DECODE_SHORT).
 */
int shv_decode(const u8 *buf, unsigned int avail, int mode,
	       struct shv_insn *insn);

#endif /* SHV_DECODE_H */
