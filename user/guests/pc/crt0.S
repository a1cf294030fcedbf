/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The PC test guests' start, as kvm-unit-tests' x86-64 tests do it: a
 * multiboot (v1) header and a 32-bit entry that identity-maps the low
 * 4 GiB with 2 MiB pages and enters long mode; 64-bit interrupt stubs;
 * and the real-mode trampoline application processors start in (copied
 * to AP_TRAMPOLINE, SIPI vector AP_TRAMPOLINE >> 12), which takes them
 * through protected mode to long mode too.
 */
#include "lib.h"

#define MB_MAGIC	0x1BADB002
#define MB_FLAGS	0x00000002	/* memory information */

#define CR0_PE		0x00000001
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100

	.section .multiboot, "a"
	.balign	4
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl	_start
_start:
	cli
	cld
	movl	%eax, %esi		/* boot magic */
	movl	%ebx, %edi		/* multiboot information */
	lgdtl	gdt_desc
	ljmpl	$SEL_CODE32, $1f
1:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$boot_stack_top, %esp

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..3; PDs: 2 MiB pages */
	movl	$pdpt + 3, pml4
	movl	$pd + 3, pdpt
	movl	$pd + 0x1003, pdpt + 8
	movl	$pd + 0x2003, pdpt + 16
	movl	$pd + 0x3003, pdpt + 24
	xorl	%ecx, %ecx
2:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$0x83, %eax		/* present, writable, 2 MiB */
	movl	%eax, pd(, %ecx, 8)
	movl	%ecx, %eax
	shrl	$11, %eax		/* bits 32+ of the address */
	movl	%eax, pd + 4(, %ecx, 8)
	incl	%ecx
	cmpl	$2048, %ecx
	jne	2b

	call	enter_long_mode
	ljmpl	$SEL_CODE64, $start64

/* PAE, CR3, EFER.LME, paging; returns in compatibility mode */
enter_long_mode:
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ret

	.code64
start64:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$boot_stack_top, %rsp
	/* lib_start(magic, mbi): already in ESI, EDI */
	xchgl	%esi, %edi
	call	lib_start
1:	cli
	hlt
	jmp	1b

/*
 * Interrupt stubs, 16 bytes each (vector n at isr_stubs + 16 * n): push
 * a zero error code where the CPU pushes none, then the vector.
 */
	.altmacro
.macro ISR_STUB n
	.balign	16
	.if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17)
	.else
	pushq	$0
	.endif
	pushq	$\n
	jmp	isr_common
.endm

	.balign	16
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	256
	ISR_STUB %vec
	.set	vec, vec + 1
	.endr

isr_common:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	pushq	%rbp
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi		/* struct frame * */
	movq	%rsp, %rbx
	andq	$~15, %rsp
	call	isr_dispatch
	movq	%rbx, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rbp
	popq	%rbx
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp		/* vector, error code */
	iretq

/* The AP trampoline: copied to AP_TRAMPOLINE, entered with CS = its segment */
	.code16
	.globl	ap_tramp, ap_tramp_end
ap_tramp:
	cli
	cld
	lgdtl	%cs:(ap_gdt_desc - ap_tramp)
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $ap_entry32
	.balign	8
ap_gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
ap_tramp_end:

	.code32
ap_entry32:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$1, %eax
	lock xaddl %eax, ap_next_index
	movl	%eax, %ebx		/* AP index, from 1 */
	incl	%eax
	shll	$AP_STACK_SHIFT, %eax
	addl	$ap_stacks, %eax
	movl	%eax, %esp
	call	enter_long_mode
	ljmpl	$SEL_CODE64, $ap_entry64

	.code64
ap_entry64:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	%ebx, %edi
	call	ap_start
1:	cli
	hlt
	jmp	1b

	.data
	.balign	8
	.globl	gdt, gdt_end
gdt:
	.quad	0
	.quad	0x00af9b000000ffff	/* 0x08: code64 */
	.quad	0x00cf93000000ffff	/* 0x10: data, base 0, 4 GiB */
	.quad	0x00cf9b000000ffff	/* 0x18: code32, base 0, 4 GiB */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
	.balign	4
	.globl	ap_next_index
ap_next_index:
	.long	1

	.bss
	.balign	4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4 * 4096
	.balign	16
	.skip	16384
boot_stack_top:
	.balign	16
	.globl	ap_stacks
ap_stacks:
	.skip	(MAX_CPUS + 1) << AP_STACK_SHIFT

	.section .note.GNU-stack, "", @progbits
