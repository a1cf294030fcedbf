/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Paging engines for shadow_test (see shadow_guest.h): one for long mode
 * (sh64) and one for 32-bit protected mode with 2-level or PAE paging
 * (sh32).  Both are copied to CODE_GPA, which the test maps supervisor
 * (identity) and user (at + SH_ALIAS): the same code runs the CPL 3 half
 * of an access through the alias.
 *
 * Register use: 64-bit R15 = the vCPU's block, RSI = next op, RDI = next
 * record; 32-bit EBP, ESI, EDI likewise.  An access saves the stack
 * pointer in the block and sets "in access"; it ends either in access_ok
 * (directly at CPL 0, through INT 0x80 from CPL 3) or in the exception
 * handler, which records the exception and goes on with the next op.
 * An exception outside an access is fatal: OUT 0xe000 | vector to
 * PORT_FAIL after leaving the frame in the block.
 */
#include "lib/shv_util.h"
#include "shadow_guest.h"

	.section .rodata.guest, "a"

/* vectors that push an error code */
#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || \
		    (v) == 21 || (v) == 29 || (v) == 30)

#define RFLAGS_AC	0x40000

/* ------------------------------------------------------------------ */
PAYLOAD sh64
	.code64
EXPORT sh64_entry
	mov $SEL_LDT, %eax
	lldt %ax
	mov 0(%r15), %rsi
	mov 8(%r15), %rdi
sh64_next:
	mov (%rsi), %eax
	mov 8(%rsi), %r8
	mov 16(%rsi), %r9
	mov 24(%rsi), %r10
	add $32, %rsi
	cmp $OP_END, %eax
	je 64f
	cmp $OP_W64, %eax
	je 1f
	cmp $OP_W32, %eax
	je 2f
	cmp $OP_R64, %eax
	je 3f
	cmp $OP_CR3, %eax
	je 4f
	cmp $OP_RELOAD, %eax
	je 5f
	cmp $OP_INVLPG, %eax
	je 6f
	cmp $OP_ACCESS, %eax
	je sh64_access
	cmp $OP_CR0, %eax
	je 8f
	cmp $OP_CR4, %eax
	je 9f
	cmp $OP_EFER, %eax
	je 10f
	cmp $OP_SYNC, %eax
	je 11f
	cmp $OP_FILL, %eax
	je 12f
	cmp $OP_WAIT, %eax
	je 13f
	mov $0xbad0, %eax
	out %eax, $PORT_FAIL
	hlt

64:	out %al, $PORT_DONE
	jmp guest_sh64_entry
1:	mov %r9, (%r8)
	jmp sh64_next
2:	mov %r9d, (%r8)
	jmp sh64_next
3:	mov (%r8), %rax
	movq $0, (%rdi)
	movq $0, 8(%rdi)
	movq $0, 16(%rdi)
	mov %rax, 24(%rdi)
	add $32, %rdi
	jmp sh64_next
4:	mov %r8, %cr3
	jmp sh64_next
5:	mov %cr3, %rax
	mov %rax, %cr3
	jmp sh64_next
6:	invlpg (%r8)
	jmp sh64_next
8:	mov %cr0, %rax
	and %r8, %rax
	or %r9, %rax
	mov %rax, %cr0
	jmp sh64_next
9:	mov %cr4, %rax
	and %r8, %rax
	or %r9, %rax
	mov %rax, %cr4
	jmp sh64_next
10:	mov $0xc0000080, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	and %r8, %rax
	or %r9, %rax
	mov %rax, %rdx
	shr $32, %rdx
	wrmsr
	jmp sh64_next
11:	mov %r8d, %eax
	out %eax, $PORT_REPORT
	jmp sh64_next
12:	push %rdi
	mov %r8, %rdi
	mov %r9, %rax
	mov %r10, %rcx
	cld
	rep stosq
	pop %rdi
	jmp sh64_next
13:	cmp %r9, (%r8)
	je sh64_next
	pause
	jmp 13b

sh64_access:
	mov %rsp, 16(%r15)
	movq $1, 24(%r15)
	xor %edx, %edx
	mov %r8, %rax
	mov %r10, %rbx
	mov %r9, %rcx
	pushfq				/* EFLAGS.AC as asked */
	andq $~RFLAGS_AC, (%rsp)
	test $ACC_AC, %cl
	jz 1f
	orq $RFLAGS_AC, (%rsp)
1:	popfq
	test $ACC_USER, %cl
	jnz 2f
	and $0xf, %ecx
	call sh64_do
	jmp sh64_ok
2:	and $0xf, %ecx
	push $(SEL_UDATA | 3)
	push $(SH_USER_STACK + SH_ALIAS)
	pushfq				/* RFLAGS = 2 | AC */
	andq $RFLAGS_AC, (%rsp)
	orq $2, (%rsp)
	push $(SEL_UCODE64 | 3)
	lea sh64_user(%rip), %r11
	add $SH_ALIAS, %r11
	push %r11
	iretq
sh64_user:
	call sh64_do
	int $0x80
	ud2

/* the access itself: RAX = address, RBX = value, CL = kind; RDX = read */
sh64_do:
	cmp $ACC_WRITE, %cl
	je 1f
	cmp $ACC_FETCH, %cl
	je 2f
	cmp $ACC_MOVCR3, %cl
	je 3f
	cmp $ACC_LDT, %cl
	je 4f
	cmp $ACC_MOVCR4, %cl
	je 5f
	cmp $ACC_RDCR3, %cl
	je 6f
	cmp $ACC_INVPCID, %cl
	je 7f
	mov (%rax), %rdx
	ret
1:	mov %rbx, (%rax)
	ret
2:	call *%rax
	ret
3:	mov %rax, %cr3
	ret
4:	mov $SH_LDT_SEL, %eax
	mov %eax, %fs
	ret
5:	mov %rax, %cr4
	ret
6:	mov %cr3, %rdx
	ret
7:	invpcid (%rax), %rbx
	ret

/* INT 0x80 from CPL 3 lands here too */
EXPORT sh64_int80
sh64_ok:
	mov 16(%r15), %rsp
	movq $0, 24(%r15)
	pushfq
	andq $~RFLAGS_AC, (%rsp)
	popfq
	movq $0, (%rdi)
	movq $0, 8(%rdi)
	movq $0, 16(%rdi)
	mov %rdx, 24(%rdi)
	add $32, %rdi
	jmp sh64_next

/* [rsp] = vector, [rsp + 8] = error code (0 if none), then the frame */
sh64_exc:
	cmpq $0, 24(%r15)
	je 2f
	pop %r8
	pop %r9
	xor %r10d, %r10d
	cmp $14, %r8
	jne 1f
	mov %cr2, %r10
1:	mov 16(%r15), %rsp
	movq $0, 24(%r15)
	pushfq
	andq $~RFLAGS_AC, (%rsp)
	popfq
	shl $8, %r8
	or $ST_FAULT, %r8
	mov %r8, (%rdi)
	mov %r9, 8(%rdi)
	mov %r10, 16(%rdi)
	movq $0, 24(%rdi)
	add $32, %rdi
	jmp sh64_next
2:	mov (%rsp), %rax
	mov %rax, 32(%r15)
	mov 8(%rsp), %rax
	mov %rax, 40(%r15)
	mov 16(%rsp), %rax
	mov %rax, 48(%r15)
	mov 24(%rsp), %rax
	mov %rax, 56(%r15)
	mov %cr2, %rax
	mov %rax, 64(%r15)
	mov 32(%r15), %eax
	or $0xe000, %eax
	out %eax, $PORT_FAIL
3:	hlt
	jmp 3b

/* 32 stubs of 16 bytes: sh64_stubs + 16 * vector */
	.p2align 4
EXPORT sh64_stubs
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.p2align 4
	.if HAS_ERR(\v)
	push $\v
	.else
	push $0
	push $\v
	.endif
	jmp sh64_exc
	.endr
	.p2align 4
ENDPAYLOAD sh64

/* ------------------------------------------------------------------ */
#define G32(x) GA(guest_sh32, x)

PAYLOAD sh32
	.code32
EXPORT sh32_entry
	mov $SEL_LDT, %eax
	lldt %ax
	mov 0(%ebp), %esi
	mov 8(%ebp), %edi
sh32_next:
	mov (%esi), %eax
	mov 8(%esi), %ebx
	mov 16(%esi), %ecx
	mov 20(%esi), %edx
	add $32, %esi
	cmp $OP_END, %eax
	je 64f
	cmp $OP_W64, %eax
	je 1f
	cmp $OP_W32, %eax
	je 2f
	cmp $OP_R64, %eax
	je 3f
	cmp $OP_CR3, %eax
	je 4f
	cmp $OP_RELOAD, %eax
	je 5f
	cmp $OP_INVLPG, %eax
	je 6f
	cmp $OP_ACCESS, %eax
	je sh32_access
	cmp $OP_CR0, %eax
	je 8f
	cmp $OP_CR4, %eax
	je 9f
	cmp $OP_EFER, %eax
	je 10f
	cmp $OP_SYNC, %eax
	je 11f
	cmp $OP_FILL, %eax
	je 12f
	cmp $OP_WAIT, %eax
	je 13f
	mov $0xbad0, %eax
	out %eax, $PORT_FAIL
	hlt

64:	out %al, $PORT_DONE
	jmp guest_sh32_entry
1:	mov %edx, 4(%ebx)
	mov %ecx, (%ebx)
	jmp sh32_next
2:	mov %ecx, (%ebx)
	jmp sh32_next
3:	mov (%ebx), %eax
	mov 4(%ebx), %ecx
	movl $0, (%edi)
	movl $0, 4(%edi)
	movl $0, 8(%edi)
	movl $0, 12(%edi)
	movl $0, 16(%edi)
	movl $0, 20(%edi)
	mov %eax, 24(%edi)
	mov %ecx, 28(%edi)
	add $32, %edi
	jmp sh32_next
4:	mov %ebx, %cr3
	jmp sh32_next
5:	mov %cr3, %eax
	mov %eax, %cr3
	jmp sh32_next
6:	invlpg (%ebx)
	jmp sh32_next
8:	mov %cr0, %eax
	and %ebx, %eax
	or %ecx, %eax
	mov %eax, %cr0
	jmp sh32_next
9:	mov %cr4, %eax
	and %ebx, %eax
	or %ecx, %eax
	mov %eax, %cr4
	jmp sh32_next
10:	push %ecx
	mov $0xc0000080, %ecx
	rdmsr
	and %ebx, %eax
	or (%esp), %eax
	pop %ebx
	wrmsr
	jmp sh32_next
11:	mov %ebx, %eax
	out %eax, $PORT_REPORT
	jmp sh32_next
12:	push %edi
	mov %ebx, %edi
	mov %ecx, %eax
	mov -8(%esi), %ecx
	cld
	rep stosl
	pop %edi
	jmp sh32_next
13:	cmp %ecx, (%ebx)
	je sh32_next
	pause
	jmp 13b

sh32_access:
	mov %esp, 16(%ebp)
	movl $1, 24(%ebp)
	mov %ebx, %eax
	mov -8(%esi), %ebx
	xor %edx, %edx
	pushf				/* EFLAGS.AC as asked */
	andl $~RFLAGS_AC, (%esp)
	test $ACC_AC, %cl
	jz 1f
	orl $RFLAGS_AC, (%esp)
1:	popf
	test $ACC_USER, %cl
	jnz 2f
	and $0xf, %ecx
	call sh32_do
	jmp sh32_ok
2:	and $0xf, %ecx
	push $(SEL_UDATA | 3)
	pop %ds
	push $(SEL_UDATA | 3)
	pop %es
	push $(SEL_UDATA | 3)
	push $(SH_USER_STACK + SH_ALIAS)
	pushf				/* EFLAGS = 2 | AC */
	andl $RFLAGS_AC, (%esp)
	orl $2, (%esp)
	push $(SEL_UCODE32 | 3)
	push $(G32(sh32_user) + SH_ALIAS)
	iret
sh32_user:
	call sh32_do
	int $0x80
	ud2

sh32_do:
	cmp $ACC_WRITE, %cl
	je 1f
	cmp $ACC_FETCH, %cl
	je 2f
	cmp $ACC_MOVCR3, %cl
	je 3f
	cmp $ACC_LDT, %cl
	je 4f
	cmp $ACC_MOVCR4, %cl
	je 5f
	cmp $ACC_RDCR3, %cl
	je 6f
	mov (%eax), %edx
	ret
1:	mov %ebx, (%eax)
	ret
2:	call *%eax
	ret
3:	mov %eax, %cr3
	ret
4:	mov $SH_LDT_SEL, %eax
	mov %eax, %fs
	ret
5:	mov %eax, %cr4
	ret
6:	mov %cr3, %edx
	ret

EXPORT sh32_int80
sh32_ok:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov 16(%ebp), %esp
	movl $0, 24(%ebp)
	pushf
	andl $~RFLAGS_AC, (%esp)
	popf
	movl $0, (%edi)
	movl $0, 4(%edi)
	movl $0, 8(%edi)
	movl $0, 12(%edi)
	movl $0, 16(%edi)
	movl $0, 20(%edi)
	mov %edx, 24(%edi)
	movl $0, 28(%edi)
	add $32, %edi
	jmp sh32_next

sh32_exc:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	cmpl $0, 24(%ebp)
	je 2f
	pop %eax
	pop %ecx
	xor %edx, %edx
	cmp $14, %eax
	jne 1f
	mov %cr2, %edx
1:	mov 16(%ebp), %esp
	movl $0, 24(%ebp)
	pushf
	andl $~RFLAGS_AC, (%esp)
	popf
	shl $8, %eax
	or $ST_FAULT, %eax
	mov %eax, (%edi)
	movl $0, 4(%edi)
	mov %ecx, 8(%edi)
	movl $0, 12(%edi)
	mov %edx, 16(%edi)
	movl $0, 20(%edi)
	movl $0, 24(%edi)
	movl $0, 28(%edi)
	add $32, %edi
	jmp sh32_next
2:	mov (%esp), %eax
	mov %eax, 32(%ebp)
	mov 4(%esp), %eax
	mov %eax, 40(%ebp)
	mov 8(%esp), %eax
	mov %eax, 48(%ebp)
	mov 12(%esp), %eax
	mov %eax, 56(%ebp)
	mov %cr2, %eax
	mov %eax, 64(%ebp)
	mov 32(%ebp), %eax
	or $0xe000, %eax
	out %eax, $PORT_FAIL
3:	hlt
	jmp 3b

	.p2align 4
EXPORT sh32_stubs
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.p2align 4
	.if HAS_ERR(\v)
	push $\v
	.else
	push $0
	push $\v
	.endif
	jmp sh32_exc
	.endr
	.p2align 4
ENDPAYLOAD sh32

	.section .note.GNU-stack, "", @progbits
