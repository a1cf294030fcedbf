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
#else
#include <stdint.h>
#include <stdbool.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;
#endif

#define SHV_INSN_MAX		15

/* prefix flags */
#define SHV_PFX_OPSIZE		(1u << 0)	/* 66 */
#define SHV_PFX_ADSIZE		(1u << 1)	/* 67 */
#define SHV_PFX_LOCK		(1u << 2)	/* F0 */
#define SHV_PFX_REPNE		(1u << 3)	/* F2 */
#define SHV_PFX_REP		(1u << 4)	/* F3 */
#define SHV_PFX_VEX		(1u << 5)

enum shv_opmap {
	SHV_MAP_1 = 0,		/* one-byte opcodes */
	SHV_MAP_0F,
	SHV_MAP_0F38,
	SHV_MAP_0F3A,
};

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
 * width mode (16/32/64).  Returns 0, or -1 when the bytes are not a valid
 * instruction or it would exceed 15 bytes or the available bytes.
 */
int shv_decode(const u8 *buf, unsigned int avail, int mode,
	       struct shv_insn *insn);

#endif /* SHV_DECODE_H */
