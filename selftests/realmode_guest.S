/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest of realmode_test: one real-mode payload at CODE_GPA (CS = DS
 * = ES = SS = REAL_SEG) with entry points the test picks with RIP.
 *
 *   rm_big     to protected mode and back, keeping a 4 GiB DS and ES
 *              ("big real" mode) and an FS whose base is not its
 *              selector times 16; then 32-bit offsets, REP MOVSD and MMIO
 *              above 1 MiB through them
 *   rm_exc     #DE, #UD, #BP, #OF, INT n, #GP and #NM through the IVT
 *   rm_irq     an interrupt of the 8259 PIC, in a HLT, twice: once in
 *              plain real mode and once with FS as rm_big leaves it
 *   rm_df      INT n beyond the IVT's limit: #GP, #GP again, #DF
 *   rm_triple  INT3 with an IVT limit of 0: a triple fault
 *   rm_rpl     protected mode entered with real-mode SS and GS selectors
 *              whose RPL is 3 (VM entry refuses that without
 *              unrestricted guest), until they are loaded
 *
 * The test writes the IVT (vectors to the rm_vec* stubs).  Handlers
 * report the vector, the IP pushed, the IF and TF they run with and the
 * IF before, and step over a faulting instruction of R(skip) bytes.
 */
#include "lib/shv_util.h"
#include "realmode_guest.h"

	.section .rodata.guest, "a"

#define R(x)	RA(guest_rm, x)

.macro DONE
	out %al, $PORT_DONE
.endm

.macro REP16 v
	mov \v, %ax
	out %ax, $PORT_REPORT
.endm

PAYLOAD rm
	.code16

/* ------------------------------------------------------------------ */
EXPORT rm_big
	cli
	lgdtl %cs:R(gdtr)
	call unreal
	/* FS's base is not its selector times 16: emulated from here */
	mov %fs:0, %ax
	out %ax, $PORT_REPORT			/* RM_ODD_VALUE */
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs				/* virtual-8086 mode again */
	mov $RM_BIG_GPA, %esi
	addr32 mov (%esi), %eax			/* offset beyond 64 KiB */
	out %eax, $PORT_REPORT			/* RM_BIG_VALUE */
	addr32 movl $0x600dbeef, 4(%esi)
	lea 0x100(%esi), %edi
	mov $4, %ecx
	cld
	addr32 rep movsl			/* 16 bytes, above 64 KiB */
	mov $MMIO_GPA, %ebx
	addr32 mov %eax, (%ebx)			/* MMIO write above 1 MiB */
	addr32 mov 8(%ebx), %eax		/* MMIO read */
	out %eax, $PORT_REPORT			/* RM_MMIO_VALUE */
	DONE
	hlt

/*
 * Protected mode and back: DS and ES keep a flat 4 GiB segment, FS one
 * based at RM_ODD_BASE; CS is REAL_SEG again.
 */
unreal:
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $RM_CODE16, $R(1f)
1:	mov $RM_FLAT, %ax
	mov %ax, %ds
	mov %ax, %es
	mov $RM_ODD, %ax
	mov %ax, %fs
	mov %cr0, %eax
	and $~1, %eax
	mov %eax, %cr0
	ljmp $REAL_SEG, $R(2f)
2:	ret

/* ------------------------------------------------------------------ */
EXPORT rm_exc
	sti
	xor %bl, %bl
	movb $2, R(skip)
EXPORT rm_exc_de
	div %bl					/* #DE */
	movb $2, R(skip)
EXPORT rm_exc_ud
	ud2					/* #UD */
	int3					/* #BP */
EXPORT rm_exc_bp_next
	mov $0x7f, %al
	add $1, %al
	into					/* #OF */
EXPORT rm_exc_of_next
	int $RM_VEC_INT
EXPORT rm_exc_int_next
	mov $0xdeadbeef, %ecx
	movb $2, R(skip)
EXPORT rm_exc_gp
	rdmsr					/* no such MSR: #GP */
	mov %cr0, %eax
	or $8, %eax				/* CR0.TS */
	mov %eax, %cr0
	movb $2, R(skip)
EXPORT rm_exc_nm
	fnop					/* #NM */
	clts
	REP16 $0x600d
	DONE
	hlt

/* the stubs the IVT points to: push the vector, then the common part */
EXPORT rm_vec0
	push $0
	jmp 1f
EXPORT rm_vec3
	push $3
	jmp 1f
EXPORT rm_vec4
	push $4
	jmp 1f
EXPORT rm_vec6
	push $6
	jmp 1f
EXPORT rm_vec7
	push $7
	jmp 1f
EXPORT rm_vec13
	push $13
	jmp 1f
EXPORT rm_vec_int
	push $RM_VEC_INT
1:	push %bp
	mov %sp, %bp				/* vector, IP, CS, FLAGS above */
	mov 2(%bp), %ax
	out %ax, $PORT_REPORT			/* the vector */
	mov 4(%bp), %ax
	out %ax, $PORT_REPORT			/* the IP pushed */
	pushf
	pop %ax
	and $0x300, %ax
	out %ax, $PORT_REPORT			/* IF, TF now: clear */
	mov 8(%bp), %ax
	and $0x200, %ax
	out %ax, $PORT_REPORT			/* IF before: set */
	movzbw %cs:R(skip), %ax			/* over a faulting insn */
	add %ax, 4(%bp)
	movb $0, %cs:R(skip)
	pop %bp
	add $2, %sp
	iret

/* ------------------------------------------------------------------ */
EXPORT rm_irq
	cli
	mov $0x11, %al				/* ICW1: edge, cascade, ICW4 */
	out %al, $0x20
	mov $RM_IRQ_BASE, %al			/* ICW2: the vectors */
	out %al, $0x21
	mov $0x04, %al				/* ICW3: slave on IRQ 2 */
	out %al, $0x21
	mov $0x01, %al				/* ICW4: 8086 mode */
	out %al, $0x21
	mov $~(1 << RM_IRQ) & 0xff, %al		/* OCW1: only our line */
	out %al, $0x21
	REP16 $1				/* the host pulses the line */
	sti
	hlt
	REP16 $2
	cli
	lgdtl %cs:R(gdtr)
	call unreal				/* FS: emulated from here */
	REP16 $3				/* the host pulses it again */
	sti
	hlt
	REP16 $4
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	DONE
	hlt

EXPORT rm_vec_irq
	push %ax
	REP16 $RM_IRQ_BASE + RM_IRQ
	mov $0x20, %al				/* EOI */
	out %al, $0x20
	pop %ax
	iret

/* ------------------------------------------------------------------ */
EXPORT rm_df
	lidt %cs:R(idtr_df)
EXPORT rm_df_int
	int $RM_VEC_INT				/* beyond the limit: #GP */
	hlt

EXPORT rm_vec_df
	mov %sp, %bp
	REP16 $8
	REP16 (%bp)				/* the IP pushed */
	DONE
	hlt

EXPORT rm_triple
	lidt %cs:R(idtr_zero)
	int3
	REP16 $0xbad
	hlt

/* ------------------------------------------------------------------ */
EXPORT rm_rpl
	cli
	lgdtl %cs:R(gdtr)
	mov %ss, %bx
	mov $3, %ax
	mov %ax, %gs
	mov $RM_SS_RPL3, %ax
	mov %ax, %ss
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $RM_CODE16, $R(1f)
1:	mov %gs, %ax
	out %ax, $PORT_REPORT			/* 3 */
	mov %ss, %ax
	out %ax, $PORT_REPORT			/* RM_SS_RPL3 */
	mov $RM_DATA16, %ax
	mov %ax, %ss
	mov %ax, %gs
	mov %gs, %ax
	out %ax, $PORT_REPORT			/* RM_DATA16 */
	mov %cr0, %eax
	and $~1, %eax
	mov %eax, %cr0
	ljmp $REAL_SEG, $R(2f)
2:	mov %bx, %ss
	xor %ax, %ax
	mov %ax, %gs
	REP16 $0x600d
	DONE
	hlt

/* ------------------------------------------------------------------ */
	.p2align 3
gdt:
	.quad 0
	.quad 0x00009b010000ffff		/* RM_CODE16: base CODE_GPA */
	.quad 0x00cf93000000ffff		/* RM_FLAT */
	.quad 0x000093012340ffff		/* RM_ODD: base RM_ODD_BASE */
	.quad 0x000093000000ffff		/* RM_DATA16 */
gdt_end:
	.p2align 3
gdtr:
	.word gdt_end - gdt - 1
	.long CODE_GPA + R(gdt)
	.p2align 3
idtr_df:
	.word 9 * 4 - 1				/* vectors 0 to 8 */
	.long 0
	.p2align 3
idtr_zero:
	.word 0
	.long 0
EXPORT rm_skip
skip:
	.byte 0
ENDPAYLOAD rm

	.section .note.GNU-stack, "", @progbits
