/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VMLAUNCH/VMRESUME with the guest's general purpose registers.  RSP lives
 * in the VMCS; the other fifteen are loaded from and saved to regs[] (in
 * enum shv_reg order).  The VMCS's HOST_RSP is this frame and HOST_RIP is
 * shv_vmx_vmexit, so a VM exit resumes below with the pointer to regs[]
 * on top of the stack.  IRQs are off throughout.
 *
 * int shv_vmx_vmenter(u64 *regs, bool launched)
 *	0 after a VM exit, 1 when the instruction failed (VMfail)
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

#define REG(n)		(8 * (n))
#define VMCS_HOST_RSP	0x6c14

.section .noinstr.text, "ax"

SYM_FUNC_START(shv_vmx_vmenter)
	push	%rbp
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx
	push	%rdi			/* 0(%rsp): regs */

	mov	$VMCS_HOST_RSP, %eax
	vmwrite	%rsp, %rax

	/* the MOVs below leave ZF alone: it still says "not launched" */
	test	%esi, %esi
	mov	%rdi, %rax
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
	mov	REG(0)(%rax), %rax
	UNWIND_HINT_SAVE
	jnz	.Lresume
	vmlaunch
	jmp	.Lfail
.Lresume:
	vmresume
.Lfail:
	mov	$1, %eax
	jmp	.Lout

SYM_INNER_LABEL(shv_vmx_vmexit, SYM_L_GLOBAL)
	/* the stack is as it was before VMLAUNCH/VMRESUME */
	UNWIND_HINT_RESTORE
	ENDBR
	push	%rax
	mov	8(%rsp), %rax
	popq	REG(0)(%rax)
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
	xor	%eax, %eax

.Lout:
	/* no guest value may steer host speculation */
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d

	add	$8, %rsp
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(shv_vmx_vmenter)
