/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shadow_test: the guest "paging engines" (shadow_guest.S) and the layout
 * the test gives them.  An engine interprets a program of ops that the
 * test writes into guest memory: page-table writes, CR3 loads, INVLPG,
 * CR0/CR4/EFER changes and accesses (read, write, fetch, at CPL 0 or 3)
 * whose outcome (success and the value read, or the exception with its
 * error code and CR2) it appends to a result array.  Accesses run with
 * EFLAGS.AC as asked (SMAP); the CPL 3 ones through a user alias of the
 * engine (SH_ALIAS).  All paging-structure
 * edits are made by the guest itself, as an OS would make them.
 *
 * Per-vCPU block (R15 in 64-bit, EBP in 32-bit points to it):
 *   +0 program, +8 results, +16 saved stack pointer, +24 "in access",
 *   +32.. what the last unexpected exception left (vector, error code,
 *   RIP, CS, CR2)
 */
#ifndef SHADOW_GUEST_H
#define SHADOW_GUEST_H

/* ops: struct { u32 code; u32 pad; u64 a, b, c; } */
#define OP_END		0	/* OUT PORT_DONE, then restart from the block */
#define OP_W64		1	/* *(u64 *)a = b (32-bit: high dword first) */
#define OP_W32		2	/* *(u32 *)a = b */
#define OP_R64		3	/* record { 0, 0, 0, *(u64 *)a } */
#define OP_CR3		4	/* CR3 = a */
#define OP_RELOAD	5	/* CR3 = CR3 */
#define OP_INVLPG	6	/* INVLPG (a) */
#define OP_ACCESS	7	/* access a: b = ACC_*, c = value to write */
#define OP_CR0		8	/* CR0 = (CR0 & a) | b */
#define OP_CR4		9	/* CR4 = (CR4 & a) | b */
#define OP_EFER		10	/* EFER = (EFER & a) | b */
#define OP_SYNC		11	/* OUT a (4 bytes) to PORT_REPORT */
#define OP_FILL		12	/* c qwords (32-bit: dwords) of b at a */
#define OP_WAIT		13	/* spin until *(u64 *)a == b (32-bit: u32) */

/* OP_ACCESS kinds; records { status, error code, CR2, value } */
#define ACC_READ	0	/* value = what was read (8 or 4 bytes) */
#define ACC_WRITE	1
#define ACC_FETCH	2	/* call a: the page holds a RET */
#define ACC_MOVCR3	3	/* MOV a to CR3 */
#define ACC_LDT		4	/* load FS from LDT entry 2 (implicit read) */
#define ACC_MOVCR4	5	/* MOV a to CR4 */
#define ACC_RDCR3	6	/* value = CR3 */
#define ACC_INVPCID	7	/* INVPCID type c, descriptor at a (64-bit) */
#define ACC_USER	0x10	/* from CPL 3 (IRET there, INT 0x80 back) */
#define ACC_AC		0x20	/* with EFLAGS.AC set (else clear) */

/* record status: bit 0 = an exception was taken, bits 15:8 its vector */
#define ST_FAULT	1

/* selectors the test adds to the standard GDT */
#define SEL_UCODE32	0x30
#define SEL_UDATA	0x38
#define SEL_UCODE64	0x40
#define SEL_LDT		0x48	/* 16 bytes in long mode */
#define SH_GDT_LIMIT	0x57
/* LDT entry 2, RPL 3: a DPL 3 data segment at +16 of the LDT's page */
#define SH_LDT_SEL	0x17

#define SH_BLOCK_GPA	0xe000	/* vCPU i: + i * 0x100 */
#define SH_USER_STACK	0x30000
/*
 * The identity map is supervisor-only; CPL 3 runs the engine's code and
 * uses its stack through a user-accessible alias at linear x + SH_ALIAS
 * (x in CODE_GPA..+64K and the user stack's page), so that SMEP and SMAP
 * leave the CPL 0 side alone.
 */
#define SH_ALIAS	0x20000000
#define SH_STACK1_TOP	0x34000	/* vCPU 1 (vCPU 0: STACK_TOP) */
#define SH_RSP0		0x38000	/* TSS RSP0/ESP0: CPL 3 -> 0 */

#endif /* SHADOW_GUEST_H */
