/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest payloads of emulator_test: every snippet runs twice, with its
 * memory operand in RAM and then in MMIO (the test plays the device with
 * a buffer that starts as a copy of the RAM area); the registers and flags
 * after each run land in a record for the test to compare.
 *
 * Snippets are 64 bytes apart from emu64_snips (one instruction per
 * SNIP, several between SBEGIN and SEND); each addresses its
 * 64-byte area through RBX, RSI (= RBX) and RDI (= RBX + 0x20), may use
 * RAX..R10, and ends with RET.  R11..R15 belong to the runner.  The last
 * four bytes of a snippet's slot are the flags it defines (SNIPF, SEND
 * with a mask): the others are left undefined by the SDM.
 */
#include "lib/shv_util.h"
#include "emulator_guest.h"

	.section .rodata.guest, "a"

.macro SBEGIN
	.balign 64
.Lsnip_start = .
.endm

.macro SEND mask=EMU_FLAGS_ALL
	ret
	.if . - .Lsnip_start > EMU_MASK_OFF
	.error "snippet longer than 60 bytes"
	.endif
	.org .Lsnip_start + EMU_MASK_OFF
	.long \mask
.endm

/* a one-instruction snippet; longer ones go between SBEGIN and SEND */
.macro SNIP body:vararg
	SBEGIN
	\body
	SEND
.endm

/* the same, with only the flags in mask defined */
.macro SNIPF mask, body:vararg
	SBEGIN
	\body
	SEND \mask
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
	SNIPF 0xcc5, andb $0xf0, 1(%rbx)
	SNIPF 0xcc5, orl %edx, 4(%rbx)
	SNIPF 0xcc5, xorq $-1, 16(%rbx)
	SNIP cmp %rdx, 8(%rbx)
	SNIP cmpb $0x80, 3(%rbx)
	SNIP sub 8(%rbx), %r10
	SNIPF 0xcc5, test %eax, (%rbx)
	SNIPF 0xcc5, testw $0x8001, 2(%rbx)
	SNIP lock addl $1, (%rbx)
	SNIPF 0xcc5, lock orq %rax, 8(%rbx)
	SNIP lock decw 6(%rbx)
	SNIP incb 7(%rbx)
	SNIP negl 4(%rbx)
	SNIP notq 8(%rbx)
	SNIP xchg %edx, (%rbx)
	SNIP xchg %al, 1(%rbx)
	SNIP lock xadd %rax, 8(%rbx)
	SBEGIN
	mov (%rbx), %eax
	lock cmpxchg %edx, (%rbx)
	SEND
	SNIP lock cmpxchg %edx, 4(%rbx)
	SBEGIN
	mov %rbx, %rdi
	mov $0x11223344, %ebx
	mov (%rdi), %eax
	mov 4(%rdi), %edx
	lock cmpxchg8b (%rdi)
	SEND
	SNIP lock cmpxchg8b 8(%rbx)
	SNIPF 0x441, bt %ecx, (%rbx)
	SNIPF 0x441, btsl $5, 4(%rbx)
	SNIPF 0x441, btr %rcx, 8(%rbx)
	SNIPF 0x441, btcq $63, 8(%rbx)
	SBEGIN
	mov $-5, %rax
	bts %rax, 16(%rbx)
	SEND 0x441
	SBEGIN
	mov $100, %eax
	btc %eax, (%rbx)
	SEND 0x441
	SNIPF 0x4c5, shlq $3, (%rbx)
	SNIPF 0x4c5, sarl %cl, 4(%rbx)
	SNIP rolw 2(%rbx)
	SNIPF 0x4d5, rcrb $2, 1(%rbx)
	SNIPF 0xcc5, shrl $1, 8(%rbx)
	SNIPF 0x4c5, shld $4, %rdx, (%rbx)
	SNIPF 0x4c5, shrd %cl, %edx, 4(%rbx)
	SNIPF 0xc01, mull 4(%rbx)
	SNIPF 0xc01, imul 8(%rbx), %rax
	SNIPF 0xc01, imulw $300, 2(%rbx), %dx
	SBEGIN
	orl $1, (%rbx)
	xor %edx, %edx
	mov $0x12345678, %eax
	divl (%rbx)
	SEND 0x400
	SBEGIN
	orb $1, 1(%rbx)
	mov $100, %ax
	idivb 1(%rbx)
	SEND 0x400
	SBEGIN
	orl $1, 8(%rbx)
	bsf 8(%rbx), %eax
	SEND 0x440
	SBEGIN
	orq $1, 8(%rbx)
	bsr 8(%rbx), %rdx
	SEND 0x440
	SNIP cmovz (%rbx), %eax
	SNIP cmovc 8(%rbx), %rdx
	SNIP setc 3(%rbx)
	SNIP setz 4(%rbx)
	SBEGIN
	pushq (%rbx)
	popq 8(%rbx)
	SEND
	SBEGIN
	pushw 2(%rbx)
	popw 6(%rbx)
	SEND
	SBEGIN
	push 16(%rbx)
	pop %rax
	SEND
	SNIP movsb
	SNIP movsw
	SNIP movsq
	SNIP rep movsb
	SNIP rep stosl
	SNIP lodsw
	SNIP lodsq
	SNIP cmpsq
	SNIP repe cmpsb
	SBEGIN
	mov (%rsi), %eax
	mov %eax, (%rdi)
	repe cmpsb
	SEND
	SNIP scasl
	SNIP repne scasb
	SBEGIN
	add $8, %rsi
	add $8, %rdi
	std
	rep movsw
	cld
	SEND
	SBEGIN
	add $8, %rsi
	std
	lodsl
	cld
	SEND
	SBEGIN
	lea emu64_ramsrc(%rip), %rsi
	movsq
	SEND
	SBEGIN
	lea emu64_ramdst(%rip), %rdi
	movsl
	mov emu64_ramdst(%rip), %r10d
	SEND
	SNIP addr32 rep movsb
	SBEGIN
	mov 8(%rbx), %r10
	add %r10, 16(%rbx)
	SEND
EXPORT emu64_snips_end
ENDPAYLOAD emu64

/*
 * Real mode: the same with 16-bit addressing.  The area is DS:BX = ES:BX
 * with DS = ES = EMU16_RAM_SEG, then the MMIO segment REAL_MMIO_SEG; SI =
 * BX, DI = BX + 0x20.  The loop keeps its state in CS-relative variables
 * and writes the records (EAX ECX EDX EBX EBP ESI EDI EFLAGS) through FS.
 */
#define V(x)	%cs:RA(guest_emu16, x)

PAYLOAD emu16
	.code16
	movw $0, V(emu16_idx)
	mov $EMU16_RES_SEG, %ax
	mov %ax, %fs
1:	mov V(emu16_idx), %ax
	cmp V(emu16_count), %ax
	jae 9f
	movw $0, V(emu16_var)
	movw $EMU16_RAM_SEG, V(emu16_seg)
	call emu16_one
	movw $1, V(emu16_var)
	movw $REAL_MMIO_SEG, V(emu16_seg)
	call emu16_one
	incw V(emu16_idx)
	jmp 1b
9:	out %al, $PORT_DONE
	hlt

emu16_one:
	mov V(emu16_idx), %ax
	shl $6, %ax
	mov %ax, V(emu16_area)
	add $RA(guest_emu16, guest_emu16_snips), %ax
	mov %ax, V(emu16_ptr)
	mov V(emu16_seg), %ax
	mov %ax, %ds
	mov %ax, %es
	mov $0x88776655, %eax
	mov $3, %ecx
	mov $0x89abcdef, %edx
	movzwl V(emu16_area), %ebx
	mov %ebx, %ebp
	mov %ebx, %esi
	lea 0x20(%bx), %di
	movzwl %di, %edi
	pushw $EMU_FLAGS
	popfw
	call *V(emu16_ptr)
	pushfl
	mov %eax, V(emu16_save)
	mov %ecx, V(emu16_save + 4)
	mov %edx, V(emu16_save + 8)
	mov %ebx, V(emu16_save + 12)
	mov %ebp, V(emu16_save + 16)
	mov %esi, V(emu16_save + 20)
	mov %edi, V(emu16_save + 24)
	popl V(emu16_save + 28)
	mov V(emu16_idx), %di			/* record (idx * 2 + var) */
	shl $1, %di
	add V(emu16_var), %di
	imul $EMU16_REC, %di, %di
	xor %si, %si
2:	mov V(emu16_save)(%si), %eax
	mov %eax, %fs:(%di)
	add $4, %si
	add $4, %di
	cmp $EMU16_REC, %si
	jb 2b
	push %cs
	pop %ds
	ret

emu16_idx:	.word 0
emu16_var:	.word 0
emu16_seg:	.word 0
emu16_area:	.word 0
emu16_ptr:	.word 0
emu16_count:	.word (guest_emu16_snips_end - guest_emu16_snips) / 64
	.balign 4
emu16_save:	.fill 8, 4, 0

	.balign 64
EXPORT emu16_snips
	SNIP mov (%bx), %ax
	SNIP mov 4(%bx), %eax
	SNIP mov 6(%bx), %dh
	SNIP mov %dx, 2(%bx)
	SNIP mov %edx, 8(%bx)
	SNIP mov %dl, 1(%di)
	SNIP movb $0x5a, 3(%bx)
	SNIP movw $0x1234, 4(%bx)
	SNIP movl $0x12345678, 8(%bx)
	SBEGIN
	mov $4, %si
	mov (%bx,%si), %ax
	SEND
	SBEGIN
	mov $2, %di
	mov 6(%bx,%di), %cx
	SEND
	SNIP mov %ds:4(%bp), %ax
	SNIP mov %es:4(%si), %ax
	SNIP mov 0x10(%si), %eax
	SNIP movzbl 1(%bx), %eax
	SNIP movsbw 3(%bx), %dx
	SNIP movswl 2(%bx), %ecx
	SNIP addr32 mov 4(%ebx), %ax
	SNIP addr32 mov (%ebx,%ecx,2), %dx
	SNIP add %dx, (%bx)
	SNIP addl $0x12345, 8(%bx)
	SNIP adcw $5, 2(%bx)
	SNIP sub 4(%bx), %cx
	SNIP sbb %edx, 12(%bx)
	SNIPF 0xcc5, andb $0x0f, 1(%bx)
	SNIPF 0xcc5, or %dl, 5(%bx)
	SNIPF 0xcc5, xorw $-1, 6(%bx)
	SNIP cmp %ax, 4(%bx)
	SNIP cmpl $0x80000000, 8(%bx)
	SNIPF 0xcc5, test %dx, (%bx)
	SNIPF 0xcc5, testb $0x81, 3(%bx)
	SNIP lock addw $1, (%bx)
	SNIP incb 7(%bx)
	SNIP decl 8(%bx)
	SNIP negw 2(%bx)
	SNIP notl 4(%bx)
	SNIP xchg %ax, (%bx)
	SNIP lock xadd %edx, 4(%bx)
	SBEGIN
	mov (%bx), %ax
	cmpxchg %dx, (%bx)
	SEND
	SNIP cmpxchg %cx, 2(%bx)
	SNIP lock cmpxchg8b 8(%bx)
	SNIPF 0x441, bt %cx, (%bx)
	SNIPF 0x441, btsw $3, 2(%bx)
	SBEGIN
	mov $-3, %ax
	btr %ax, 16(%bx)
	SEND 0x441
	SNIPF 0x441, btcl $31, 4(%bx)
	SNIPF 0x4c5, shlw $3, (%bx)
	SNIPF 0x4c5, sarb %cl, 1(%bx)
	SNIP rcll 4(%bx)
	SNIPF 0x4c5, shrd $5, %edx, 8(%bx)
	SNIPF 0xc01, mulw 2(%bx)
	SNIPF 0xc01, imul 4(%bx), %dx
	SBEGIN
	orb $1, 1(%bx)
	mov $0xff, %ax
	divb 1(%bx)
	SEND 0x400
	SNIP setc 3(%bx)
	SNIP cmovc 4(%bx), %eax
	SBEGIN
	pushw (%bx)
	popw 6(%bx)
	SEND
	SBEGIN
	pushl 8(%bx)
	popl 12(%bx)
	SEND
	SNIP movsb
	SNIP movsw
	SNIP movsl
	SNIP rep movsb
	SNIP rep stosw
	SNIP lodsb
	SNIP lodsl
	SNIP cmpsw
	SNIP repe cmpsb
	SBEGIN
	mov (%si), %ax
	mov %ax, (%di)
	repe cmpsb
	SEND
	SNIP scasw
	SNIP repne scasb
	SBEGIN
	add $8, %si
	add $8, %di
	std
	rep movsw
	cld
	SEND
	SNIP addr32 rep movsb
EXPORT emu16_snips_end
ENDPAYLOAD emu16

	.section .note.GNU-stack, "", @progbits
