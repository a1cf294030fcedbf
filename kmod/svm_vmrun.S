/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMRUN with the guest's general purpose registers.  RAX and RSP live in
 * the VMCB; the other fourteen are loaded from and saved to regs[] (in
 * enum shv_reg order).  GIF stays clear from before the host state is
 * saved until it is restored, so no interrupt or NMI runs on guest FS/GS.
 *
 * void shv_svm_vmrun(u64 vmcb_pa, u64 host_vmcb_pa, u64 *regs)
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

#define REG(n)	(8 * (n))

.section .noinstr.text, "ax"

SYM_FUNC_START(shv_svm_vmrun)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rsi			/* 16(%rsp): host VMCB */
	push	%rdx			/*  8(%rsp): regs */
	push	%rdi			/*  0(%rsp): guest VMCB */

	clgi
	/* with GIF clear, IF=1 only makes host interrupts exit the guest */
	sti

	mov	%rsi, %rax
	vmsave	%rax			/* host FS/GS/TR/LDTR, syscall MSRs */
	mov	%rdi, %rax
	vmload	%rax

	mov	%rdx, %rax
	mov	REG(1)(%rax), %rcx
	mov	REG(2)(%rax), %rdx
	mov	REG(3)(%rax), %rbx
	mov	REG(5)(%rax), %rbp
	mov	REG(6)(%rax), %rsi
	mov	REG(7)(%rax), %rdi
	mov	REG(8)(%rax), %r8
	mov	REG(9)(%rax), %r9
	mov	REG(10)(%rax), %r10
	mov	REG(11)(%rax), %r11
	mov	REG(12)(%rax), %r12
	mov	REG(13)(%rax), %r13
	mov	REG(14)(%rax), %r14
	mov	REG(15)(%rax), %r15
	mov	(%rsp), %rax

	vmrun	%rax
SYM_INNER_LABEL(shv_svm_vmrun_ret, SYM_L_GLOBAL)
	cli
	mov	8(%rsp), %rax
	mov	%rcx, REG(1)(%rax)
	mov	%rdx, REG(2)(%rax)
	mov	%rbx, REG(3)(%rax)
	mov	%rbp, REG(5)(%rax)
	mov	%rsi, REG(6)(%rax)
	mov	%rdi, REG(7)(%rax)
	mov	%r8, REG(8)(%rax)
	mov	%r9, REG(9)(%rax)
	mov	%r10, REG(10)(%rax)
	mov	%r11, REG(11)(%rax)
	mov	%r12, REG(12)(%rax)
	mov	%r13, REG(13)(%rax)
	mov	%r14, REG(14)(%rax)
	mov	%r15, REG(15)(%rax)

	mov	(%rsp), %rax
	vmsave	%rax
	mov	16(%rsp), %rax
	vmload	%rax
	stgi

	/* no guest value may steer host speculation */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$24, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(shv_svm_vmrun)
