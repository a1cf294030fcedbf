/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout shared by modes_test.c and modes_guest.S: the GDT, IDT, TSSs
 * and page tables the test writes for the task-switch, virtual-8086 and
 * mode-walk guests (on top of lib/shv_util.h's layout).
 */
#ifndef MODES_GUEST_H
#define MODES_GUEST_H

/* GDT selectors (the test's own GDT at GDT_GPA) */
#define MS_CODE32	0x08
#define MS_DATA		0x10
#define MS_CODE64	0x18
#define MS_TSS_A	0x20	/* the first task; TR at entry */
#define MS_CODE16	0x28	/* 16-bit code, base CODE_GPA */
#define MS_TSS_B	0x30
#define MS_TSS_C	0x38	/* entered through IDT task gate 0x40 */
#define MS_TSS_D	0x40	/* the #DF task */
#define MS_TSS_E	0x48	/* a 16-bit TSS */
#define MS_GATE_B	0x50	/* task gate in the GDT -> TSS B */
#define MS_TSS_BAD	0x58	/* limit below 0x67: #TS */
#define MS_DATA16	0x60	/* 64 KiB data, base 0 */
#define MS_LDT		0x68	/* task C's LDT */
#define MS_TSS_G	0x70	/* T bit set */
#define MS_TSS_F	0x78	/* the #NP task */
#define MS_TSS_H	0x80	/* its own CR3 */
#define MS_TSS_I	0x88	/* a bad SS: #TS in the new task */
#define MS_TSS_J	0x90	/* the #TS task */
#define MS_TSS_K	0x98	/* a virtual-8086 task */
#define MS_TSS_L	0xa0	/* entered from K through a task gate */
#define MS_GDT_LIMIT	0xa7

#define MS_LDT_DATA	0x0c	/* LDT entry 1, TI=1: data based at DATA_GPA */

/* TSSs */
#define TSS_A_GPA	0x2a000	/* with I/O and redirection bitmaps */
#define TSS_A_IOMAP	0x88	/* redirection bitmap at 0x68 */
#define TSS_A_LIMIT	(TSS_A_IOMAP + 0x2000)
#define TSS_GPA_OF(n)	(0x22000 + (n) * 0x100)	/* B=0, C=1, ... */
#define LDT_GPA		0x2d000

/* task stacks */
#define TASK_STACK(n)	(0x30000 + (n) * 0x800 + 0x800)
#define RING0_STACK	0x38000	/* TSS A's ESP0 */

/* IDT vectors */
#define VEC_TASK_C	0x40	/* task gate -> TSS C */
#define VEC_NOTPRES	0x42	/* not-present gate: #NP */
#define VEC_PM31	0x31	/* DPL 3 interrupt gates for v86 INT n */
#define VEC_PM32	0x32
#define VEC_TASK_L	0x43	/* DPL 3 task gate -> TSS L */
#define IDT64_GPA	0x2800	/* 64-bit IDT of the mode walk */

/* mode walk: nonzero to try the illegal CR0/CR4/EFER/PDPTE values */
#define CHECKS_GPA	(DATA_GPA + 0xff8)

/* the guest's exception handlers resume at *RESUME_GPA when it is set */
#define RESUME_GPA	(DATA_GPA + 0xffc)
#define RESUME_V86	0xffc	/* the same, through v86 DS = 0x2000 */

/* what a handler reports: 0xe0000000 | vector << 16 | error code */
#define EXC_REPORT(v, e)	(0xe0000000u | ((v) << 16) | (e))

/* virtual-8086 mode */
#define V86_CS		0x1000	/* = CODE_GPA >> 4 */
#define V86_DS		0x2000	/* = DATA_GPA >> 4 */
#define V86_SS		0x2000
#define V86_SP		0x8000
#define V86_PORT_DENIED	0x80	/* set in TSS A's I/O bitmap */

/* task H's page tables: linear ALIAS_PAGE maps to ALIAS_PAGE + 0x1000 */
#define H_PD_GPA	0x2e000
#define H_PT_GPA	0x2f000
#define ALIAS_PAGE	0x70000

/* mode walk: linear 4 MiB maps physical 0 in every paging mode */
#define WALK_ALIAS	0x400000
#define BAD_PDPT_GPA	0x2c800	/* a PAE PDPT with reserved bits set */

#endif /* MODES_GUEST_H */
