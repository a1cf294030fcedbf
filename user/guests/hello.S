/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hello.bin: the demo guest.
 *
 *   shv-run --flat user/guests/hello.bin@0x1000 --mode real
 *
 * Starts in real mode at 0:0x1000, sets up COM1, greets, then climbs to
 * 32-bit protected mode and 64-bit long mode on its own (own GDT, page
 * tables at 0x20000-0x22fff identity-mapping the first GiB), prints a
 * line from each mode and the CPUID vendor string, and finally writes 0
 * to the debug-exit port: shv-run exits with status 1, meaning success.
 */
#include "serial.inc"

#define PT_BASE		0x20000		/* PML4, PDPT at +0x1000, PD at +0x2000 */
#define STACK_TOP	0x7000
#define MSR_EFER	0xc0000080
#define EFER_LME	0x100

	.section .text.entry, "ax"
	.code16
	.globl	_start
_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$STACK_TOP, %sp
	ljmpw	$0, $1f			/* CS = 0 whatever we came in with */
1:
	SERIAL_INIT
	movw	$msg_hello, %si
	call	puts16
	movw	$msg_real, %si
	call	puts16

	/* real -> 32-bit protected mode */
	lgdtl	gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax		/* PE */
	movl	%eax, %cr0
	ljmpl	$0x08, $pm32

	SERIAL_PUTS puts16

	.code32
pm32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movw	%ax, %ss
	movl	$STACK_TOP, %esp
	movl	$msg_prot, %esi
	call	puts32

	/* page tables: 1 GiB identity map with 2 MiB pages */
	movl	$PT_BASE, %edi
	xorl	%eax, %eax
	movl	$(3 * 4096 / 4), %ecx
	rep stosl
	movl	$(PT_BASE + 0x1000 + 3), PT_BASE
	movl	$(PT_BASE + 0x2000 + 3), PT_BASE + 0x1000
	movl	$(PT_BASE + 0x2000), %edi
	movl	$0x83, %eax		/* P | RW | PS */
	movl	$512, %ecx
2:	movl	%eax, (%edi)
	addl	$0x200000, %eax
	addl	$8, %edi
	loop	2b

	/* 32-bit protected -> 64-bit long mode */
	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	$PT_BASE, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000000, %eax	/* PG */
	movl	%eax, %cr0
	ljmpl	$0x18, $lm64

	SERIAL_PUTS puts32

	.code64
lm64:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movq	$STACK_TOP, %rsp
	movq	$msg_long, %rsi
	call	puts64

	xorl	%eax, %eax
	xorl	%ecx, %ecx
	cpuid
	movl	%ebx, vendor
	movl	%edx, vendor + 4
	movl	%ecx, vendor + 8
	movq	$msg_cpuid, %rsi
	call	puts64
	movq	$vendor, %rsi
	call	puts64
	movq	$msg_nl, %rsi
	call	puts64
	movq	$msg_bye, %rsi
	call	puts64

	movb	$0, %al
	outb	%al, $DEBUG_EXIT_PORT
3:	hlt				/* not reached under shv-run */
	jmp	3b

	SERIAL_PUTS puts64

	.section .rodata
msg_hello:	.asciz "Hello from a shv guest!\n"
msg_real:	.asciz "hello: running in real mode (16-bit)\n"
msg_prot:	.asciz "hello: running in protected mode (32-bit)\n"
msg_long:	.asciz "hello: running in long mode (64-bit)\n"
msg_cpuid:	.asciz "hello: cpuid vendor: "
msg_nl:		.asciz "\n"
msg_bye:	.asciz "hello: bye\n"

	.section .data
	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: code32 flat */
	.quad	0x00cf93000000ffff	/* 0x10: data flat */
	.quad	0x00af9b000000ffff	/* 0x18: code64 */
gdt_end:
	.balign	8
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
vendor:
	.fill	13, 1, 0
