/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest payloads of emulator_test: every snippet runs twice, with its
 * memory operand in RAM and then in MMIO (the test plays the device with
 * a buffer that starts as a copy of the RAM area); the registers and flags
 * after each run land in a record for the test to compare.
 *
 * Snippets are 64 bytes apart from emu64_snips; each addresses its
 * 64-byte area through RBX, RSI (= RBX) and RDI (= RBX + 0x20), may use
 * RAX..R10, and ends with RET.  R11..R15 belong to the runner.
 */
#include "lib/shv_util.h"
#include "emulator_guest.h"

	.section .rodata.guest, "a"

.macro SNIP body:vararg
	.balign 64
	\body
	ret
.endm

PAYLOAD emu64
	.code64
	xor %r14d, %r14d
1:	cmp emu64_count(%rip), %r14
	jae 9f
	mov %r14, %r13
	shl $6, %r13
	lea guest_emu64_snips(%rip), %rax
	add %rax, %r13				/* the snippet */
	mov %r14, %r11
	imul $2 * EMU_REC, %r11
	add $EMU_RES_GPA, %r11			/* its records */
	mov %r14, %r12
	shl $6, %r12
	add $EMU_RAM_GPA, %r12			/* RAM area */
	call emu64_one
	mov %r14, %r12
	shl $6, %r12
	mov $MMIO_GPA, %eax
	add %rax, %r12				/* MMIO area */
	add $EMU_REC, %r11
	call emu64_one
	inc %r14
	jmp 1b
9:	out %al, $PORT_DONE
	hlt

/* run the snippet at r13 on the area at r12, record into r11 */
emu64_one:
	mov $0x8877665544332211, %rax
	mov $3, %ecx
	mov $0x0123456789abcdef, %rdx
	mov %r12, %rbx
	mov $0x1234, %ebp
	mov %r12, %rsi
	lea 0x20(%r12), %rdi
	mov $0xfedcba9876543210, %r8
	mov $0x5555aaaa5555aaaa, %r9
	mov $0x0f0f0f0f0f0f0f0f, %r10
	push $EMU_FLAGS
	popf
	call *%r13
	pushf
	mov %rax, 0x00(%r11)
	mov %rcx, 0x08(%r11)
	mov %rdx, 0x10(%r11)
	mov %rbx, 0x18(%r11)
	mov %rbp, 0x20(%r11)
	mov %rsi, 0x28(%r11)
	mov %rdi, 0x30(%r11)
	mov %r8, 0x38(%r11)
	mov %r9, 0x40(%r11)
	mov %r10, 0x48(%r11)
	pop %rax
	mov %rax, 0x50(%r11)
	ret

emu64_count:
	.quad (guest_emu64_snips_end - guest_emu64_snips) / 64
emu64_ramsrc:
	.quad 0x1122334455667788
emu64_ramdst:
	.quad 0

	.balign 64
EXPORT emu64_snips
	SNIP mov (%rbx), %eax
	SNIP mov 8(%rbx), %rax
	SNIP mov %edx, 4(%rbx)
	SNIP mov %dx, 2(%rbx)
	SNIP mov %dh, 5(%rbx)
	SNIP movb $0x5a, 3(%rbx)
	SNIP movq $-2, 8(%rbx)
	SNIP movl $0x12345678, 12(%rbx)
	SNIP movw $0x8001, 14(%rbx)
	SNIP mov 4(%rbx), %ah
	SNIP mov 4(%rbx), %sil
	SNIP mov 6(%rbx), %r9b
	SNIP movzbl 1(%rbx), %eax
	SNIP movzwq 2(%rbx), %r8
	SNIP movsbw 3(%rbx), %dx
	SNIP movswq 2(%rbx), %rdx
	SNIP movslq 4(%rbx), %r8
	SNIP mov 0x10(%rbx,%rcx,4), %r9
	SNIP mov -8(%rdi), %r10
	SNIP mov %r9, (%rbx,%rcx,8)
	SNIP addr32 mov (%ebx), %eax
	SNIP movnti %rdx, 8(%rbx)
	SNIP add %edx, (%rbx)
	SNIP addq $0x12345, 8(%rbx)
	SNIP adc (%rbx), %ecx
	SNIP sbbw $7, 2(%rbx)
	SNIP sub %r8, 8(%rbx)
	SNIP andb $0xf0, 1(%rbx)
	SNIP orl %edx, 4(%rbx)
	SNIP xorq $-1, 16(%rbx)
	SNIP cmp %rdx, 8(%rbx)
	SNIP cmpb $0x80, 3(%rbx)
	SNIP sub 8(%rbx), %r10
	SNIP test %eax, (%rbx)
	SNIP testw $0x8001, 2(%rbx)
	SNIP lock addl $1, (%rbx)
	SNIP lock orq %rax, 8(%rbx)
	SNIP lock decw 6(%rbx)
	SNIP incb 7(%rbx)
	SNIP negl 4(%rbx)
	SNIP notq 8(%rbx)
	SNIP xchg %edx, (%rbx)
	SNIP xchg %al, 1(%rbx)
	SNIP lock xadd %rax, 8(%rbx)
	SNIP mov (%rbx), %eax; lock cmpxchg %edx, (%rbx)
	SNIP lock cmpxchg %edx, 4(%rbx)
	SNIP mov (%rbx), %eax; mov 4(%rbx), %edx; lock cmpxchg8b (%rbx)
	SNIP lock cmpxchg8b 8(%rbx)
	SNIP bt %edx, (%rbx)
	SNIP btsl $5, 4(%rbx)
	SNIP btr %rcx, 8(%rbx)
	SNIP btcq $63, 8(%rbx)
	SNIP mov $-5, %rax; bts %rax, 16(%rbx)
	SNIP mov $100, %eax; btc %eax, (%rbx)
	SNIP shlq $3, (%rbx)
	SNIP sarl %cl, 4(%rbx)
	SNIP rolw 2(%rbx)
	SNIP rcrb $2, 1(%rbx)
	SNIP shrl $1, 8(%rbx)
	SNIP shld $4, %rdx, (%rbx)
	SNIP shrd %cl, %edx, 4(%rbx)
	SNIP mull 4(%rbx)
	SNIP imul 8(%rbx), %rax
	SNIP imulw $300, 2(%rbx), %dx
	SNIP orl $1, (%rbx); xor %edx, %edx; mov $0x12345678, %eax; divl (%rbx)
	SNIP orb $1, 1(%rbx); mov $100, %ax; idivb 1(%rbx)
	SNIP orl $1, 8(%rbx); bsf 8(%rbx), %eax
	SNIP orq $1, 8(%rbx); bsr 8(%rbx), %rdx
	SNIP cmovz (%rbx), %eax
	SNIP cmovc 8(%rbx), %rdx
	SNIP setc 3(%rbx)
	SNIP setz 4(%rbx)
	SNIP pushq (%rbx); popq 8(%rbx)
	SNIP pushw 2(%rbx); popw 6(%rbx)
	SNIP push 16(%rbx); pop %rax
	SNIP movsb
	SNIP movsw
	SNIP movsq
	SNIP rep movsb
	SNIP rep stosl
	SNIP lodsw
	SNIP lodsq
	SNIP cmpsq
	SNIP repe cmpsb
	SNIP mov (%rsi), %eax; mov %eax, (%rdi); repe cmpsb
	SNIP scasl
	SNIP repne scasb
	SNIP add $8, %rsi; add $8, %rdi; std; rep movsw; cld
	SNIP add $8, %rsi; std; lodsl; cld
	SNIP lea emu64_ramsrc(%rip), %rsi; movsq
	SNIP lea emu64_ramdst(%rip), %rdi; movsl; mov emu64_ramdst(%rip), %r10d
	SNIP addr32 rep movsb
	SNIP mov 8(%rbx), %r10; add %r10, 16(%rbx)
EXPORT emu64_snips_end
ENDPAYLOAD emu64

	.section .note.GNU-stack, "", @progbits
