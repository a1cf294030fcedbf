/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest payloads for the shv selftests.  Each payload is copied to
 * CODE_GPA and entered there (see lib/shv_util.h for the layout and the
 * port conventions).  32-bit payloads address their own data with GA(),
 * real-mode payloads with RA() (DS = CS = REAL_SEG); 64-bit payloads use
 * RIP-relative addressing.
 */
#include "lib/shv_util.h"

	.section .rodata.guest, "a"

.macro DONE
	out %al, $PORT_DONE
.endm

/* report a 32-bit register (clobbers eax) */
.macro REPORT32 reg
	mov \reg, %eax
	out %eax, $PORT_REPORT
.endm

/* report a 64-bit register as low, high (clobbers rax) */
.macro REPORT64 reg
	mov \reg, %rax
	out %eax, $PORT_REPORT
	shr $32, %rax
	out %eax, $PORT_REPORT
.endm

/* ------------------------------------------------------------------ */
/* Real mode: loop, call/ret on the stack, memory through DS, 32-bit ops */
PAYLOAD real_sum
	.code16
	xor %ax, %ax
	mov $100, %cx
1:	add %cx, %ax
	loop 1b
	out %ax, $PORT_REPORT			/* 5050 */
	call 2f
	out %ax, $PORT_REPORT			/* 10100 */
	mov %ax, RA(guest_real_sum, guest_real_sum_var)
	xor %ax, %ax
	mov RA(guest_real_sum, guest_real_sum_var), %bx
	mov $0x12345678, %ecx
	add $0x11111111, %ecx
	mov %ecx, %eax
	out %eax, $PORT_REPORT			/* 0x23456789 */
	mov $0xbeef, %si
	DONE
EXPORT real_sum_after_done
	hlt
2:	shl $1, %ax
	ret
EXPORT real_sum_var
	.word 0
ENDPAYLOAD real_sum

/* Real mode from the reset vector (lives in a ROM slot at 0xffff0000) */
PAYLOAD reset16
	.code16
	mov %dx, %ax
	out %ax, $PORT_REPORT			/* DX from reset */
	mov %cs, %ax
	out %ax, $PORT_REPORT			/* 0xf000 */
	mov %cr0, %eax
	out %eax, $PORT_REPORT			/* CR0 */
	hlt
EXPORT reset16_after_hlt
	DONE
ENDPAYLOAD reset16

/* Smallest real-mode guest: one report, then done */
PAYLOAD tiny16
	.code16
	mov $0x77, %al
	out %al, $PORT_REPORT
	DONE
ENDPAYLOAD tiny16

/* ------------------------------------------------------------------ */
/* 32-bit protected mode: arithmetic, memory shared with the host, stack */
PAYLOAD prot32
	.code32
	xor %eax, %eax
	mov $1, %ebx
	mov $30, %ecx
1:	lea (%eax,%ebx), %edx
	mov %ebx, %eax
	mov %edx, %ebx
	loop 1b
	out %eax, $PORT_REPORT			/* fib(30) = 832040 */
	mov DATA_GPA, %ecx			/* count, then values */
	mov $DATA_GPA + 4, %esi
	xor %eax, %eax
2:	add (%esi), %eax
	add $4, %esi
	loop 2b
	out %eax, $PORT_REPORT			/* sum of the host's values */
	mov $DATA_GPA + 0x100, %edi
	xor %eax, %eax
	mov $16, %ecx
3:	stosl
	add $0x01010101, %eax
	loop 3b
	push $0xabcd1234
	call 4f
	pop %edx
	REPORT32 %edx				/* 0xabcd1235 */
	mov $0x5555, %eax
	out %eax, $PORT_REPORT			/* sync: host writes memory */
	mov DATA_GPA + 0x200, %eax
	out %eax, $PORT_REPORT			/* what the host wrote */
	mov $0x600d, %edi
	DONE
	hlt
4:	addl $1, 4(%esp)
	ret
ENDPAYLOAD prot32

PAYLOAD tiny32
	.code32
	mov $0x1234abcd, %eax
	out %eax, $PORT_REPORT
	DONE
ENDPAYLOAD tiny32

/* Reads one dword at 1 MiB */
PAYLOAD read1m32
	.code32
	mov 0x100000, %eax
	out %eax, $PORT_REPORT
	DONE
ENDPAYLOAD read1m32

PAYLOAD hlt32
	.code32
	mov $0x42, %eax
	hlt
EXPORT hlt32_after
	inc %eax
	out %eax, $PORT_REPORT			/* 0x43 */
	DONE
ENDPAYLOAD hlt32

/* int3 with an empty IDT: #BP -> #GP -> #DF -> shutdown */
PAYLOAD triple32
	.code32
	lidt GA(guest_triple32, zero_idtr)
	int3
	out %al, $PORT_FAIL
zero_idtr:
	.word 0
	.long 0
ENDPAYLOAD triple32

/* A read-only slot of 2 pages at 1 MiB */
PAYLOAD rom32
	.code32
	mov 0x100000, %ecx
	REPORT32 %ecx
	movl $0x12345678, 0x100004		/* MMIO write exit */
	movb $0x99, 0x101000			/* MMIO write exit */
	mov 0x100004, %ecx
	REPORT32 %ecx				/* unchanged */
	mov 0x101000, %ecx
	REPORT32 %ecx				/* unchanged */
	mov 0x100008, %ecx
	REPORT32 %ecx				/* changed by the host */
	DONE
ENDPAYLOAD rom32

/* REP OUTSB / INSB / OUTSW, backwards with DF=1 */
PAYLOAD strio32
	.code32
	cld
	mov $GA(guest_strio32, guest_strio32_msg), %esi
	mov $(guest_strio32_msg_end - guest_strio32_msg), %ecx
	mov $0xe8, %dx
	rep outsb
	REPORT32 %ecx				/* 0 */
	REPORT32 %esi				/* end of str_msg */
	mov $DATA_GPA, %edi
	mov $8, %ecx
	mov $0xe9, %dx
	rep insb
	REPORT32 %ecx				/* 0 */
	REPORT32 %edi				/* DATA_GPA + 8 */
	mov $GA(guest_strio32, str_words), %esi
	mov $0xea, %dx
	mov $2, %ecx
	rep outsw
	std
	mov $GA(guest_strio32, guest_strio32_msg) + 2, %esi
	mov $3, %ecx
	mov $0xe8, %dx
	rep outsb				/* msg[2], msg[1], msg[0] */
	cld
	REPORT32 %esi				/* str_msg - 1 */
	DONE
EXPORT strio32_msg
	.ascii "Hello, shv!"
EXPORT strio32_msg_end
str_words:
	.word 0xbeef, 0xcafe
ENDPAYLOAD strio32

/* The same port I/O sequence in every mode */
.macro IO_SEQ
	mov $0x12, %al
	out %al, $0x80
	mov $0x1234, %dx
	mov $0x3456, %ax
	out %ax, %dx
	mov $0xfffc, %dx
	mov $0x789abcde, %eax
	out %eax, %dx
	mov $0xdeadbeef, %eax
	in $0x60, %al
	out %eax, $PORT_REPORT
	mov $0xdeadbeef, %eax
	mov $0x1234, %dx
	in %dx, %ax
	out %eax, $PORT_REPORT
	mov $0xdeadbeef, %eax
	mov $0xfffc, %dx
	in %dx, %eax
	out %eax, $PORT_REPORT
	DONE
.endm

PAYLOAD io16
	.code16
	IO_SEQ
ENDPAYLOAD io16

PAYLOAD io32
	.code32
	IO_SEQ
ENDPAYLOAD io32

PAYLOAD io64
	.code64
	IO_SEQ
ENDPAYLOAD io64

/* IN in 64-bit mode: 8/16-bit merge into RAX, 32-bit zero-extends */
PAYLOAD io64_upper
	.code64
	mov $0x1122334455667788, %rax
	in $0x60, %al
	REPORT64 %rax
	mov $0x1122334455667788, %rax
	mov $0x1234, %dx
	in %dx, %ax
	REPORT64 %rax
	mov $0x1122334455667788, %rax
	in $0x64, %eax
	REPORT64 %rax
	DONE
ENDPAYLOAD io64_upper

/* MMIO in 32-bit mode at MMIO_GPA */
PAYLOAD mmio32
	.code32
	mov $MMIO_GPA, %ebx
	movb $0x5a, 0x1(%ebx)
	movw $0x1234, 0x2(%ebx)
	movl $0xdeadbeef, 0x4(%ebx)
	mov $0xcafebabe, %ecx
	mov %ecx, MMIO_GPA + 0x8
	mov $0x12345678, %eax
	movb (%ebx), %al
	out %eax, $PORT_REPORT			/* 0x1234569a */
	mov $0x12345678, %eax
	movw 0x10(%ebx), %ax
	out %eax, $PORT_REPORT			/* 0x1234bcde */
	movl 0x14(%ebx), %eax
	out %eax, $PORT_REPORT			/* 0x0badcafe */
	mov $-1, %eax
	movzbl 0x18(%ebx), %eax
	out %eax, $PORT_REPORT			/* 0xff */
	movswl 0x1a(%ebx), %eax
	out %eax, $PORT_REPORT			/* 0xfffffff0 */
	mov MMIO_GPA + 0x20, %edx
	REPORT32 %edx				/* 0x11223344 */
	DONE
ENDPAYLOAD mmio32

/* MMIO in real mode at 0xa0000 through ES and DS */
PAYLOAD mmio16
	.code16
	mov $REAL_MMIO_SEG, %ax
	mov %ax, %es
	movw $0x1234, %es:0x10
	movb $0x56, %es:0x12
	mov $0x89abcdef, %ecx
	mov %ecx, %es:0x14
	mov %es:0x20, %bx
	mov %bx, %ax
	out %ax, $PORT_REPORT			/* 0x4321 */
	mov %es, %ax
	mov %ax, %ds
	mov $0x30, %si
	movb (%si), %cl
	mov %cl, %al
	out %al, $PORT_REPORT			/* 0x77 */
	DONE
ENDPAYLOAD mmio16

/* ------------------------------------------------------------------ */
/* 64-bit: arithmetic in all registers, RIP-relative data, stack */
PAYLOAD long64
	.code64
	mov $0x0123456789abcdef, %r8
	mov %r8, %r9
	rol $12, %r9
	mov %r8, %r10
	xor %r9, %r10
	lea (%r8,%r8,2), %r11			/* r8 * 3 */
	xor %r15, %r15
	mov $1000, %ecx
1:	add %rcx, %r15
	loop 1b
	shl $40, %r15				/* 500500 << 40 */
	REPORT64 %r9
	REPORT64 %r11
	REPORT64 %r15
	mov %r10, DATA_GPA + 0x300
	mov long64_const(%rip), %r12
	REPORT64 %r12
	push %r12
	pop %r13
	mov $0x7fffffffffffffff, %r14
	add $1, %r14				/* 0x8000000000000000 */
	DONE
	hlt
	.p2align 3
long64_const:
	.quad 0xfedcba9876543210
ENDPAYLOAD long64

PAYLOAD tiny64
	.code64
	mov $0x64646464, %eax
	out %eax, $PORT_REPORT
	DONE
ENDPAYLOAD tiny64

/* ud2 with IDT limit 0 (set by the test): shutdown */
PAYLOAD triple64
	.code64
	ud2
	out %al, $PORT_FAIL
ENDPAYLOAD triple64

/* MMIO in 64-bit mode at MMIO_GPA: sizes 1/2/4/8, many encodings */
PAYLOAD mmio64
	.code64
	mov $MMIO_GPA, %ebx
	movb $0x11, (%rbx)			/* W +0x00 1 0x11 */
	movw $0x2233, 0x2(%rbx)			/* W +0x02 2 0x2233 */
	movl $0x44556677, 0x4(%rbx)		/* W +0x04 4 */
	mov $0x8899aabbccddeeff, %rax
	mov %rax, 0x8(%rbx)			/* W +0x08 8 */
	movq $-2, 0x10(%rbx)			/* W +0x10 8 0xff..fe */
	mov %ah, 0x18(%rbx)			/* W +0x18 1 0xee */
	mov $0x0123456789abcdef, %r9
	mov %r9w, 0x1a(%rbx)			/* W +0x1a 2 0xcdef */
	mov $0x5a, %esi
	mov %sil, 0x1c(%rbx)			/* W +0x1c 1 0x5a */
	mov $0xfeedf00d, %ecx
	mov $4, %edx
	mov %ecx, (%rbx,%rdx,8)			/* W +0x20 4 0xfeedf00d */
	mov $MMIO_GPA + 0x30, %r12d
	movl $0x31323334, (%r12)		/* W +0x30 4 */
	mov $MMIO_GPA, %r13d
	movw $0x7788, 0x38(%r13)		/* W +0x38 2 */

	mov $0x1111111111111111, %rax
	movb 0x100(%rbx), %al			/* R +0x100 1 0xab */
	REPORT64 %rax
	mov $0x1111111111111111, %rax
	movw 0x102(%rbx), %ax			/* R +0x102 2 0xcdef */
	REPORT64 %rax
	mov $0x1111111111111111, %rax
	movl 0x104(%rbx), %eax			/* R +0x104 4 0x89abcdef */
	REPORT64 %rax
	movq 0x108(%rbx), %rax			/* R +0x108 8 */
	REPORT64 %rax
	mov $-1, %rax
	movzbl 0x110(%rbx), %eax		/* R +0x110 1 0xfe */
	REPORT64 %rax
	mov $-1, %rax
	movsbq 0x111(%rbx), %rax		/* R +0x111 1 0x80 */
	REPORT64 %rax
	mov $-1, %rax
	movzwl 0x112(%rbx), %eax		/* R +0x112 2 0x8001 */
	REPORT64 %rax
	mov $-1, %rax
	movswl 0x114(%rbx), %eax		/* R +0x114 2 0x8001 */
	REPORT64 %rax
	mov $0x2222222222222222, %rax
	movsbw 0x116(%rbx), %ax			/* R +0x116 1 0x80 */
	REPORT64 %rax
	mov 0x118(%rbx), %r12			/* R +0x118 8 */
	REPORT64 %r12
	mov $0x3333333333333333, %rax
	movb 0x120(%rbx), %ah			/* R +0x120 1 0x44 */
	REPORT64 %rax
	mov $-1, %rsi
	mov $5, %ecx
	mov 0x100(%rbx,%rcx,8), %esi		/* R +0x128 4 0x600df00d */
	REPORT64 %rsi
	DONE
ENDPAYLOAD mmio64

/* MMIO through a 4 KiB mapping: RBX = a virtual MMIO address */
PAYLOAD mmio64_virt
	.code64
	lea 0(%rip), %r8			/* where we run */
	REPORT64 %r8
	movl $0x11223344, 0x8(%rbx)		/* W +0x08 4 */
	mov 0x10(%rbx), %rax			/* R +0x10 8 */
	REPORT64 %rax
	DONE
ENDPAYLOAD mmio64_virt

/*
 * Guest page-table updates.  RBX = a virtual address mapped by the PTE at
 * (identity-mapped) R12; the host filled pages A/B/C (RSI/RDI/RBP are their
 * physical addresses).  #PF handler: reports 14, error code, CR2, and
 * skips R15 bytes.
 */
PAYLOAD pt64
	.code64
	mov (%rbx), %eax
	out %eax, $PORT_REPORT			/* page A */
	lea 3(%rdi), %rax			/* -> page B */
	mov %rax, (%r12)
	invlpg (%rbx)
	mov (%rbx), %eax
	out %eax, $PORT_REPORT			/* page B */
	lea 3(%rbp), %rax			/* -> page C, flush by CR3 */
	mov %rax, (%r12)
	mov %cr3, %rax
	mov %rax, %cr3
	mov (%rbx), %eax
	out %eax, $PORT_REPORT			/* page C */
	movl $0x5a5a5a5a, 4(%rbx)		/* sets D */
	mov (%r12), %rax
	REPORT64 %rax				/* PTE with A and D */
	lea 1(%rbp), %rax			/* read-only (CR0.WP=1) */
	mov %rax, (%r12)
	invlpg (%rbx)
	mov 4(%rbx), %eax
	out %eax, $PORT_REPORT			/* 0x5a5a5a5a */
	mov $7, %r15d
	movl $1, 8(%rbx)			/* #PF, 7 bytes */
	mov 8(%rbx), %eax
	out %eax, $PORT_REPORT			/* unchanged */
	movq $0, (%r12)				/* not present */
	invlpg (%rbx)
	mov $2, %r15d
	mov (%rbx), %eax			/* #PF, 2 bytes */
	DONE
EXPORT pt64_pf_handler
	push %rax
	mov $14, %eax
	out %eax, $PORT_REPORT
	mov 8(%rsp), %rax			/* error code */
	out %eax, $PORT_REPORT
	mov %cr2, %rax
	REPORT64 %rax
	add %r15, 16(%rsp)			/* skip the access */
	pop %rax
	add $8, %rsp
	iretq
ENDPAYLOAD pt64

/* CR3 switches between R12 and R13 (RCX times), reading (%rbx) in each */
PAYLOAD cr3sw64
	.code64
1:	mov %r13, %cr3
	mov (%rbx), %eax
	out %eax, $PORT_REPORT
	mov %r12, %cr3
	mov (%rbx), %eax
	out %eax, $PORT_REPORT
	loop 1b
	DONE
ENDPAYLOAD cr3sw64

PAYLOAD cpuid64
	.code64
	xor %eax, %eax
	xor %ecx, %ecx
	cpuid
	mov %eax, %r8d
	mov %ebx, %r9d
	mov %ecx, %r10d
	mov %edx, %r11d
	REPORT32 %r8d
	REPORT32 %r9d				/* ebx */
	REPORT32 %r11d				/* edx */
	REPORT32 %r10d				/* ecx */
	mov $1, %eax
	xor %ecx, %ecx
	cpuid
	mov %ecx, %r10d
	REPORT32 %eax
	REPORT32 %r10d
	DONE
ENDPAYLOAD cpuid64

PAYLOAD hcall64
	.code64
	mov $0x42, %eax
	mov $0x1111111111111111, %rbx
	mov $0x2222222222222222, %rcx
	mov $0x3333333333333333, %rdx
	mov $0x4444444444444444, %rsi
	vmmcall
	REPORT64 %rax
	mov $7, %eax
	mov $5, %ebx
	mov $6, %ecx
	mov $7, %edx
	mov $8, %esi
	vmmcall
	REPORT64 %rax
	DONE
ENDPAYLOAD hcall64

/* RDMSR/WRMSR of an unknown MSR: #GP, reported by the handler */
PAYLOAD msrgp64
	.code64
	mov $0xdeadbeef, %ecx
	mov $0x1111, %eax
	mov $0x2222, %edx
	rdmsr
	REPORT32 %eax				/* 0x1111: not written */
	REPORT32 %edx				/* 0x2222 */
	mov $0xdeadbeef, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
	mov $0x600d, %eax
	out %eax, $PORT_REPORT
	DONE
EXPORT msrgp64_handler
	push %rax
	push %rbx
	mov 16(%rsp), %rbx			/* error code */
	mov $13, %eax
	out %eax, $PORT_REPORT
	mov %ebx, %eax
	out %eax, $PORT_REPORT
	addq $2, 24(%rsp)			/* skip rdmsr/wrmsr */
	pop %rbx
	pop %rax
	add $8, %rsp
	iretq
ENDPAYLOAD msrgp64

/* LSTAR: read what the host set, then write a new value */
PAYLOAD lstar64
	.code64
	mov $0xc0000082, %ecx
	rdmsr
	mov %edx, %r8d
	out %eax, $PORT_REPORT
	REPORT32 %r8d
	mov $0xc0000082, %ecx
	mov $0x89abcdef, %eax
	mov $0xffffffff, %edx
	wrmsr
	DONE
ENDPAYLOAD lstar64

/* RDMSR of \msr; reports the 64-bit value, low then high (rax-rdx) */
.macro RDMSR_REPORT msr
	mov $\msr, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	out %eax, $PORT_REPORT
	shr $32, %rax
	out %eax, $PORT_REPORT
.endm

/* WRMSR of \hi:\lo to \msr, then RDMSR_REPORT it */
.macro WRMSR_REPORT msr, lo, hi
	mov $\msr, %ecx
	mov $\lo, %eax
	mov $\hi, %edx
	wrmsr
	RDMSR_REPORT \msr
.endm

/*
 * The MSRs the VMX MSR bitmap lets through (guest_test msr_bitmap): the
 * host counts MSR exits between the reports 1, 2 and 3.
 */
PAYLOAD msrdirect64
	.code64
	mov $1, %eax
	out %eax, $PORT_REPORT
	WRMSR_REPORT 0xc0000100, 0x12345000, 0			/* FS_BASE */
	WRMSR_REPORT 0xc0000101, 0x23456000, 0			/* GS_BASE */
	WRMSR_REPORT 0xc0000102, 0x34567000, 0xffff8000	/* KERNEL_GS */
	WRMSR_REPORT 0x174, 0x10, 0				/* SYSENTER_CS */
	WRMSR_REPORT 0x175, 0x80001234, 0xffffffff		/* ..._ESP */
	WRMSR_REPORT 0x176, 0x80005678, 0xffffffff		/* ..._EIP */
	WRMSR_REPORT 0x277, 0x00070406, 0x00070106		/* PAT */
	RDMSR_REPORT 0xc0000081					/* STAR */
	RDMSR_REPORT 0xc0000082					/* LSTAR */
	RDMSR_REPORT 0xc0000083					/* CSTAR */
	RDMSR_REPORT 0xc0000084					/* SFMASK */
	RDMSR_REPORT 0x10					/* TSC */
	swapgs				/* GS base <-> KERNEL_GS_BASE */
	RDMSR_REPORT 0xc0000101
	swapgs
	mov $2, %eax
	out %eax, $PORT_REPORT
	mov $0xc0000081, %ecx		/* STAR writes exit */
	mov $0, %eax
	mov $0x00230010, %edx
	wrmsr
	mov $0xc0000080, %ecx		/* so does EFER */
	rdmsr
	mov $0x1b, %ecx			/* and IA32_APIC_BASE */
	rdmsr
	mov $3, %eax
	out %eax, $PORT_REPORT
	DONE
ENDPAYLOAD msrdirect64

/* 32-bit, no SYSCALL: KERNEL_GS_BASE and STAR hold the host's values */
PAYLOAD msrhost32
	.code32
	mov $0xc0000102, %ecx
	rdmsr
	mov %edx, %ebx
	REPORT32 %eax
	REPORT32 %ebx
	mov $0xc0000081, %ecx
	rdmsr
	mov %edx, %ebx
	REPORT32 %eax
	REPORT32 %ebx
	DONE
ENDPAYLOAD msrhost32

/*
 * migrate_test: until the host sets the dword at DATA_GPA: CPUID (an exit
 * shv handles in the kernel), FS_BASE written and read back, sums in GPRs
 * and an XMM register, a report of the count every 64 iterations.  Then
 * the count and the sums at DATA_GPA + 8, 16, 24, 32; a mismatch stores
 * 0xbad and the value read there instead.
 */
PAYLOAD migrate64
	.code64
	mov %cr4, %rax
	or $0x200, %rax				/* OSFXSR: SSE */
	mov %rax, %cr4
	xor %r12, %r12
	mov $1, %r13
	xor %r14, %r14
	pxor %xmm0, %xmm0
	mov $1, %eax
	movq %rax, %xmm1
1:	inc %r14
	mov $0xc0000100, %ecx
	mov %r14, %rax
	shl $12, %rax
	mov %rax, %rdx
	shr $32, %rdx
	wrmsr
	xor %eax, %eax
	cpuid
	mov $0xc0000100, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	mov %r14, %rbx
	shl $12, %rbx
	cmp %rbx, %rax
	jne 3f
	add %r14, %r12
	imul $3, %r13, %r13
	add %r14, %r13
	paddq %xmm1, %xmm0
	test $63, %r14
	jnz 2f
	REPORT32 %r14d
2:	cmpl $0, DATA_GPA
	je 1b
	mov %r14, DATA_GPA + 8
	mov %r12, DATA_GPA + 16
	mov %r13, DATA_GPA + 24
	movq %xmm0, %rax
	mov %rax, DATA_GPA + 32
	DONE
3:	movq $0xbad, DATA_GPA + 8
	mov %rax, DATA_GPA + 16
	DONE
ENDPAYLOAD migrate64

/* ------------------------------------------------------------------ */
/* lifecycle payloads (32-bit) */

/*
 * In: EDI = id, ESI = n.  Adds 1 to the dword at DATA_GPA + 0x40 n times
 * with LOCK and reports (id + 1) * n * (n + 1) / 2.
 */
PAYLOAD par32
	.code32
	mov %esi, %ecx
	xor %eax, %eax
	lea 1(%edi), %ebx
1:	lock incl DATA_GPA + 0x40
	mov %ecx, %edx
	imul %ebx, %edx
	add %edx, %eax
	loop 1b
	out %eax, $PORT_REPORT
	DONE
ENDPAYLOAD par32

/* Reports 1, then spins until the dword at DATA_GPA is not 0, reports it */
PAYLOAD waitflag32
	.code32
	mov $1, %eax
	out %eax, $PORT_REPORT
1:	mov DATA_GPA, %eax
	test %eax, %eax
	jz 1b
	out %eax, $PORT_REPORT
	DONE
ENDPAYLOAD waitflag32

/* Reports 1, then spins forever */
PAYLOAD spin32
	.code32
	mov $1, %eax
	out %eax, $PORT_REPORT
1:	jmp 1b
ENDPAYLOAD spin32

/* A single hlt (bad segment state test) */
PAYLOAD hltonly
	hlt
	hlt
ENDPAYLOAD hltonly

	.section .note.GNU-stack, "", @progbits
