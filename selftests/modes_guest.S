/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest of modes_test: one payload at CODE_GPA with three entry
 * points that the test picks with RIP.
 *
 *   tasks_entry  32-bit task A: task switches of every kind (modes_test.c
 *                lists them with the values each one reports)
 *   v86_entry    32-bit monitor that IRETs into a virtual-8086 program
 *                (EBX = the EFLAGS to enter it with)
 *   walk_entry   real mode: up to long mode and back down again
 *
 * The test writes the GDT, IDT, TSSs and page tables (modes_guest.h).
 * Exception handlers report EXC_REPORT(vector, error code) and resume at
 * *RESUME_GPA, which the code sets before each instruction that may
 * fault.
 */
#include "lib/shv_util.h"
#include "modes_guest.h"

	.section .rodata.guest, "a"

#define G(x)	GA(guest_modes, x)
#define R(x)	RA(guest_modes, x)

.macro DONE
	out %al, $PORT_DONE
.endm

/* report an immediate or register, 32 bits (clobbers eax) */
.macro REP32 v
	mov \v, %eax
	out %eax, $PORT_REPORT
.endm

/* report the busy bit... the whole type byte of a GDT descriptor */
.macro REPDESC sel
	movzbl GDT_GPA + \sel + 5, %eax
	out %eax, $PORT_REPORT
.endm

/* report EFLAGS.NT */
.macro REPNT
	pushf
	pop %eax
	and $0x4000, %eax
	out %eax, $PORT_REPORT
.endm

/* the previous task link of a TSS */
.macro REPLINK tss
	movzwl \tss, %eax
	out %eax, $PORT_REPORT
.endm

.macro RESUME32 label
	movl $G(\label), RESUME_GPA
.endm

PAYLOAD modes

/* ------------------------------------------------------------------ */
/* task switches: task A */
	.code32
EXPORT modes_tasks_entry
	call load_tr
	/* JMP to a TSS */
	ljmp $MS_TSS_B, $0
	REP32 $0xa1
	REPDESC MS_TSS_B			/* 0x89: JMP left it */
	REPDESC MS_TSS_A			/* 0x8b */
	mov %cr0, %eax
	and $8, %eax
	out %eax, $PORT_REPORT			/* CR0.TS: 8 */
	clts

	/* CALL to a TSS: nested, back with IRET */
	lcall $MS_TSS_B, $0
	REP32 $0xa2
	REPDESC MS_TSS_B			/* 0x89: IRET left it */
	REPNT					/* 0 */

	/* INT n through a task gate */
	int $VEC_TASK_C
	REP32 $0xa3

	/* JMP through a task gate in the GDT */
	ljmp $MS_GATE_B, $0
	REP32 $0xa4

	/* CALL to a busy TSS (ourselves): #GP(selector) */
	RESUME32 1f
	lcall $MS_TSS_A, $0
1:	/* a TSS whose limit is too small: #TS(selector) */
	RESUME32 2f
	ljmp $MS_TSS_BAD, $0
2:	REP32 $0xa5

	/* #NP (a not-present gate) through a task gate, with error code */
	int $VEC_NOTPRES
	REP32 $0xa6

	/* #DF through a task gate: #NP's own gate is not present now */
	andb $0x7f, IDT_GPA + 11 * 8 + 5
	int $VEC_NOTPRES
	REP32 $0xa7

	/* a 16-bit TSS */
	mov $0x12345678, %eax
	lcall $MS_TSS_E, $0
	out %eax, $PORT_REPORT			/* restored: 0x12345678 */

	/* the T bit: #DB with DR6.BT in the new task */
	lcall $MS_TSS_G, $0
	REP32 $0xa8

	/* CR3 from the TSS */
	REP32 ALIAS_PAGE			/* 0xaaaa0001 */
	lcall $MS_TSS_H, $0
	REP32 ALIAS_PAGE			/* 0xaaaa0001 again */
	mov %cr3, %eax
	out %eax, $PORT_REPORT			/* PD32_GPA */

	/* a bad SS in the new task: #TS there, through task gate J */
	mov GDT_GPA + MS_GDT_LIMIT + 1, %eax	/* J's gate, for IDT 10 */
	mov %eax, IDT_GPA + 10 * 8
	mov GDT_GPA + MS_GDT_LIMIT + 5, %eax
	mov %eax, IDT_GPA + 10 * 8 + 4
	ljmp $MS_TSS_I, $0
	REP32 $0xa9
	REPDESC MS_TSS_I			/* 0x8b: still busy */

	/* into virtual-8086 mode by a task switch, out through a task gate */
	ljmp $MS_TSS_K, $0
	REP32 $0xaa
	DONE
	hlt

EXPORT modes_task_b
	mov %eax, %ebx
	out %eax, $PORT_REPORT			/* 0xb0b0b0b0 from its TSS */
	str %ax
	movzwl %ax, %eax
	out %eax, $PORT_REPORT			/* MS_TSS_B */
	REPNT					/* 0 (JMP) */
	ljmp $MS_TSS_A, $0
	/* entered again by CALL */
	REPNT					/* 0x4000 */
	REPLINK TSS_GPA_OF(0)			/* MS_TSS_A */
	REPDESC MS_TSS_A			/* 0x8b */
	iret
	/* entered again through the GDT task gate */
	REP32 $0xb3
	ljmp $MS_TSS_A, $0
	hlt

EXPORT modes_task_c
	REPNT					/* 0x4000 */
	REPLINK TSS_GPA_OF(1)			/* MS_TSS_A */
	sldt %ax
	movzwl %ax, %eax
	out %eax, $PORT_REPORT			/* MS_LDT */
	lsl %cs:G(ldt_sel), %eax
	out %eax, $PORT_REPORT			/* 0xffff, from the LDT */
	mov $MS_LDT_DATA, %eax
	mov %eax, %ds
	REP32 0x100				/* DATA_GPA + 0x100 via LDT */
	mov $MS_DATA, %eax
	mov %eax, %ds
	iret
ldt_sel:
	.word MS_LDT_DATA
	hlt

EXPORT modes_task_d					/* #DF */
	pop %eax
	out %eax, $PORT_REPORT			/* error code 0 */
	REPLINK TSS_GPA_OF(2)			/* MS_TSS_A */
	addl $2, TSS_A_GPA + 0x20		/* past the INT n */
	iret
	hlt

EXPORT modes_task_f					/* #NP */
	pop %eax
	out %eax, $PORT_REPORT			/* VEC_NOTPRES << 3 | 2 */
	REPLINK TSS_GPA_OF(6)			/* MS_TSS_A */
	REP32 %esp				/* its stack, error code popped */
	addl $2, TSS_A_GPA + 0x20
	iret
	hlt

	.code16
EXPORT modes_task_e					/* 16-bit TSS */
	out %ax, $PORT_REPORT			/* 0xe16e from its TSS */
	str %ax
	out %ax, $PORT_REPORT			/* MS_TSS_E */
	pushf
	pop %ax
	and $0x4000, %ax
	out %ax, $PORT_REPORT			/* 0x4000 */
	mov %cs, %ax
	out %ax, $PORT_REPORT			/* MS_CODE16 */
	iret
	hlt
	.code32

EXPORT modes_task_g					/* T bit */
	REP32 $0x9999
	iret
	hlt

EXPORT modes_task_h					/* own CR3 */
	REP32 ALIAS_PAGE			/* 0xbbbb0002 */
	mov %cr3, %eax
	out %eax, $PORT_REPORT			/* H_PD_GPA */
	iret
	hlt

EXPORT modes_task_i					/* never runs */
	out %al, $PORT_FAIL
	hlt

EXPORT modes_task_j					/* #TS */
	pop %eax
	out %eax, $PORT_REPORT			/* MS_CODE32: the bad SS */
	REPLINK TSS_GPA_OF(9)			/* MS_TSS_I */
	ljmp $MS_TSS_A, $0
	hlt

EXPORT modes_task_l				/* INT n from task K */
	REPLINK TSS_GPA_OF(11)			/* MS_TSS_K */
	REP32 TSS_GPA_OF(10) + 0x24		/* K's EFLAGS: VM, IOPL 3 */
	movzwl TSS_GPA_OF(10) + 0x4c, %eax
	out %eax, $PORT_REPORT			/* K's CS: V86_CS */
	REP32 TSS_GPA_OF(10) + 0x20		/* K's EIP: past the INT */
	ljmp $MS_TSS_A, $0
	hlt

	.code16
EXPORT modes_task_k				/* virtual-8086 task */
	mov %ds, %ax
	out %ax, $PORT_REPORT			/* V86_DS */
	mov %cs, %ax
	out %ax, $PORT_REPORT			/* V86_CS */
	movw $0x4b4b, 0x20			/* DATA_GPA + 0x20 */
	int $VEC_TASK_L
EXPORT modes_task_k_after
	hlt
	.code32

/* ------------------------------------------------------------------ */
/* exception handlers, 32-bit interrupt gates (SS is flat everywhere) */
EXPORT modes_exc10
	push $10
	jmp 1f
EXPORT modes_exc11
	push $11
	jmp 1f
EXPORT modes_exc12
	push $12
	jmp 1f
EXPORT modes_exc13
	push $13
	jmp 1f
EXPORT modes_exc6
	push $0
	push $6
1:	push %eax
	mov 4(%esp), %eax
	shl $16, %eax
	or $0xe0000000, %eax
	or 8(%esp), %eax
	out %eax, $PORT_REPORT
	mov %ss:RESUME_GPA, %eax
	test %eax, %eax
	jz 2f
	mov %eax, 12(%esp)
	movl $0, %ss:RESUME_GPA
	pop %eax
	add $8, %esp
	iret
2:	out %al, $PORT_FAIL			/* a fault nobody expected */
	hlt

EXPORT modes_exc1					/* #DB: DR6.BT */
	push %eax
	mov %dr6, %eax
	and $0x8000, %eax
	or $0xe0010000, %eax
	out %eax, $PORT_REPORT
	mov $0xffff0ff0, %eax
	mov %eax, %dr6
	pop %eax
	iret

/*
 * LTR of task A (its GDT descriptor is available, type 9).  The test set
 * TR already, but QEMU's TCG keeps TR's cached type without the busy bit
 * and aborts at the next stack switch if a VMRUN handed it a busy one.
 */
load_tr:
	mov $MS_TSS_A, %ax
	ltr %ax
	ret

/* INT n from v86 that reach the protected-mode handlers */
EXPORT modes_pm31
	push %eax
	mov $0xc0de0031, %eax
	out %eax, $PORT_REPORT
	pop %eax
	iret
EXPORT modes_pm32
	push %eax
	mov $0xc0de0032, %eax
	out %eax, $PORT_REPORT
	pop %eax
	iret

/* ------------------------------------------------------------------ */
/* virtual-8086 mode */
EXPORT modes_v86_entry
	call load_tr
	push $0					/* GS */
	push $0					/* FS */
	push $V86_DS				/* DS */
	push $V86_DS				/* ES */
	push $V86_SS
	push $V86_SP
	push %ebx				/* EFLAGS, VM set */
	push $V86_CS
	push $R(v86_code)
	iret

	.code16
v86_code:
	/* segment arithmetic: DS = 0x2000, then ES = 0x2100 */
	movw $0x1234, 0x10			/* 0x20010 */
	mov $0x2100, %ax
	mov %ax, %es
	movw $0x5678, %es:0x20			/* 0x21020 */
	mov %ds, %ax
	out %ax, $PORT_REPORT			/* 0x2000 */
	/* MMIO through a v86 segment */
	mov $REAL_MMIO_SEG, %ax
	mov %ax, %es
	mov %es:0x10, %ax			/* MMIO read at 0xa0010 */
	out %ax, $PORT_REPORT
	movw $0x7777, %es:0x12			/* MMIO write at 0xa0012 */
	/* a string instruction against a port */
	mov $R(v86_msg), %si
	mov $4, %cx
	mov $PORT_REPORT, %dx
	cld
	rep outsb %cs:(%si), (%dx)
	/* IOPL-sensitive: CLI, PUSHF */
	movw $R(1f), RESUME_V86
	cli
	pushf
	pop %ax
	and $0x200, %ax
	out %ax, $PORT_REPORT
1:	movw $R(2f), RESUME_V86
	sti
	pushf
	pop %ax
	and $0x200, %ax
	out %ax, $PORT_REPORT
2:	/* INT n: 0x31 not redirected, 0x32 redirected under VME */
	movw $R(3f), RESUME_V86
	int $VEC_PM31
3:	movw $R(4f), RESUME_V86
	int $VEC_PM32
4:	/* a port denied by the I/O bitmap: #GP(0) whatever IOPL */
	movw $R(5f), RESUME_V86
	out %al, $V86_PORT_DENIED
5:	movw $0, RESUME_V86
	DONE
	hlt

v86_msg:
	.ascii "v86!"

EXPORT modes_v86_int32				/* the IVT's handler */
	push %ax
	mov $0x3232, %ax
	out %ax, $PORT_REPORT
	pop %ax
	iret

/* ------------------------------------------------------------------ */
/* the mode walk, from real mode */
EXPORT modes_walk_entry
	mov %cr0, %eax
	out %eax, $PORT_REPORT			/* PE clear */
	cli
	lgdtl %cs:R(walk_gdtr)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $MS_CODE16, $R(walk_pm16)
walk_pm16:					/* 16-bit protected mode */
	mov $MS_DATA, %ax
	mov %ax, %ds
	mov %cs, %ax
	out %ax, $PORT_REPORT			/* MS_CODE16 */
	mov %cr0, %eax
	out %eax, $PORT_REPORT			/* PE set */
	addr32 movl DATA_GPA + 0x40, %eax	/* flat DS from 16-bit code */
	out %eax, $PORT_REPORT
	ljmpl $MS_CODE32, $G(walk_pm32)

	.code32
walk_pm32:
	mov $MS_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $STACK_TOP, %esp
	lidt G(walk_idtr32)
	mov %cs, %eax
	movzwl %ax, %eax
	out %eax, $PORT_REPORT			/* MS_CODE32 */

	/* illegal control register values: #GP(0) each */
	cmpl $0, CHECKS_GPA
	je 5f
	RESUME32 1f
	mov $0x80000010, %eax			/* PG without PE */
	mov %eax, %cr0
1:	RESUME32 2f
	mov %cr0, %eax
	and $~0x40000000, %eax			/* NW without CD */
	or $0x20000000, %eax
	mov %eax, %cr0
2:	RESUME32 3f
	mov %cr4, %eax
	or $0x8000, %eax			/* a reserved CR4 bit */
	mov %eax, %cr4
3:	RESUME32 4f
	mov $0xc0000080, %ecx
	rdmsr
	or $2, %eax				/* a reserved EFER bit */
	wrmsr
4:	mov $0xc0000080, %ecx			/* LME, then PG without PAE */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov $PD32_GPA, %eax
	mov %eax, %cr3
	RESUME32 41f
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
41:	mov $0xc0000080, %ecx
	rdmsr
	out %eax, $PORT_REPORT			/* LME set, LMA clear */
	and $~0x100, %eax
	wrmsr
5:

	/* 32-bit paging with 4 MiB pages */
	mov $PD32_GPA, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x10, %eax				/* PSE */
	mov %eax, %cr4
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	mov %cr0, %eax
	out %eax, $PORT_REPORT
	REP32 WALK_ALIAS + DATA_GPA + 0x40	/* the alias of physical 0 */
	movl $0x11223344, WALK_ALIAS + DATA_GPA + 0x44
	cmpl $0, CHECKS_GPA
	je 6f
	RESUME32 6f				/* LME while paging: #GP */
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
6:
	/* PAE paging */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $PAE_PDPT_GPA, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	mov %cr4, %eax
	out %eax, $PORT_REPORT			/* PSE PAE */
	REP32 WALK_ALIAS + DATA_GPA + 0x40
	cmpl $0, CHECKS_GPA
	je 7f
	RESUME32 7f				/* PDPTEs with reserved bits */
	mov $BAD_PDPT_GPA, %eax
	mov %eax, %cr3
7:	mov %cr3, %eax
	out %eax, $PORT_REPORT			/* still PAE_PDPT_GPA */

	/* long mode */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov $PML4_GPA, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	rdmsr
	out %eax, $PORT_REPORT			/* LME LMA: 0x500 */
	lidt G(walk_idtr64)
	ljmp $MS_CODE64, $G(walk_lm64)

	.code64
walk_lm64:
	mov %cs, %eax
	movzwl %ax, %eax
	out %eax, $PORT_REPORT			/* MS_CODE64 */
	mov $0x123456789abcdef0, %rax
	rol $8, %rax
	mov %rax, %rbx
	out %eax, $PORT_REPORT			/* 0x9abcdef0 << 8 | 0x12 */
	shr $32, %rax
	out %eax, $PORT_REPORT			/* 0x3456789a */
	movl WALK_ALIAS + DATA_GPA + 0x40, %eax
	out %eax, $PORT_REPORT
	cmpl $0, CHECKS_GPA
	je 9f
	movl $G(8f), RESUME_GPA			/* CR4.PAE off in long mode */
	mov %cr4, %rax
	and $~0x20, %rax
	mov %rax, %cr4
8:	movl $G(9f), RESUME_GPA			/* CR0.PG off in 64-bit code */
	mov %cr0, %rax
	btr $31, %rax
	mov %rax, %cr0
9:	/* down: compatibility mode, then paging off */
	mov %rbx, %rax
	ror $8, %rax
	shr $32, %rax
	out %eax, $PORT_REPORT			/* 0x12345678: RAX intact */
	pushq $MS_CODE32
	pushq $G(walk_compat)
	lretq

	.code32
walk_compat:
	lidt G(walk_idtr32)
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0				/* LMA clears */
	mov $0xc0000080, %ecx
	rdmsr
	out %eax, $PORT_REPORT			/* 0x100: LME only */
	and $~0x100, %eax
	wrmsr
	mov $PAE_PDPT_GPA, %eax			/* PAE again */
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	REP32 WALK_ALIAS + DATA_GPA + 0x40
	mov %cr0, %eax				/* 32-bit paging again */
	and $0x7fffffff, %eax
	mov %eax, %cr0
	mov %cr4, %eax
	and $~0x20, %eax
	mov %eax, %cr4
	mov $PD32_GPA, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	REP32 WALK_ALIAS + DATA_GPA + 0x40
	mov %cr0, %eax				/* paging off */
	and $0x7fffffff, %eax
	mov %eax, %cr0
	out %eax, $PORT_REPORT
	ljmp $MS_CODE16, $R(walk_down16)

	.code16
walk_down16:
	mov $MS_DATA16, %ax			/* real-mode limits */
	mov %ax, %es
	mov %ax, %ss
	mov $MS_DATA, %ax			/* DS keeps 4 GiB: unreal */
	mov %ax, %ds
	mov %cr0, %eax
	and $~1, %eax
	mov %eax, %cr0
	ljmp $REAL_SEG, $R(walk_real)
walk_real:
	addr32 movl DATA_GPA + 0x40, %eax	/* beyond 64 KiB through DS */
	out %eax, $PORT_REPORT
	mov $REAL_SEG, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $REAL_SP, %sp
	mov %cs, %ax
	out %ax, $PORT_REPORT			/* REAL_SEG */
	mov %cr0, %eax
	out %eax, $PORT_REPORT			/* PE clear */
	mov $DATA_GPA >> 4, %ax
	mov %ax, %es
	movw $0x4242, %es:0x48			/* DATA_GPA + 0x48 */
	DONE
	hlt

	.p2align 3
walk_gdtr:
	.word MS_GDT_LIMIT
	.long GDT_GPA
	.p2align 3
walk_idtr32:
	.word 0x7ff
	.long IDT_GPA
	.p2align 3
walk_idtr64:
	.word 0xfff
	.long IDT64_GPA

/* the 64-bit #GP handler of the mode walk */
	.code64
EXPORT modes_exc64_13
	push %rax
	mov 8(%rsp), %rax
	or $0xe00d0000, %eax
	out %eax, $PORT_REPORT
	movl RESUME_GPA, %eax
	mov %rax, 16(%rsp)
	movl $0, RESUME_GPA
	pop %rax
	add $8, %rsp
	iretq
ENDPAYLOAD modes

	.section .note.GNU-stack, "", @progbits
