/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.bin: exit round-trip benchmark, a 64-bit flat image.
 *
 *   shv-run --flat user/guests/bench.bin@0x100000 --mode long64
 *
 * Times BENCH_ITERS CPUID (leaf 0) exits, handled in the kernel,
 * BENCH_ITERS OUT exits to the POST port 0x80, handled by the runner,
 * BENCH_ITERS 32-bit MOV stores to unclaimed MMIO (MMIO_ADDR: decoded
 * and emulated by the hypervisor, completed by the runner), and
 * OUTSB_ITERS "rep outsb" of 4 KiB to port 0x80, with RDTSC, and prints
 * the averages (the string I/O also with its exits per operation, from
 * the runner's exit counter at port 0xe10):
 *   bench: cpuid <cycles> cycles/exit
 *   bench: pio <cycles> cycles/exit
 *   bench: mmio <cycles> cycles/exit
 *   bench: outsb_4k <cycles> cycles/op, <exits> exits/op
 * then writes 0 to the debug-exit port (shv-run exit status 1).
 */
#include "serial.inc"

#ifndef BENCH_ITERS
#define BENCH_ITERS	100000
#endif
#define BENCH_WARMUP	1000
#define OUTSB_ITERS	(BENCH_ITERS / 1000 + 10)
#define MMIO_ADDR	0xd0000000
#define EXIT_COUNTER	0xe10

	.section .text.entry, "ax"
	.code64
	.globl	_start
_start:
	cld
	movq	$stack_top, %rsp
	SERIAL_INIT

	/* CPUID */
	movq	$BENCH_WARMUP, %rcx
	call	cpuid_loop
	call	tsc_now
	movq	%rax, %r12
	movq	$BENCH_ITERS, %rcx
	call	cpuid_loop
	call	tsc_now
	subq	%r12, %rax
	movq	$msg_cpuid, %rsi
	call	report

	/* port I/O */
	movq	$BENCH_WARMUP, %rcx
	call	pio_loop
	call	tsc_now
	movq	%rax, %r12
	movq	$BENCH_ITERS, %rcx
	call	pio_loop
	call	tsc_now
	subq	%r12, %rax
	movq	$msg_pio, %rsi
	call	report

	/* MMIO stores */
	movq	$BENCH_WARMUP, %rcx
	call	mmio_loop
	call	tsc_now
	movq	%rax, %r12
	movq	$BENCH_ITERS, %rcx
	call	mmio_loop
	call	tsc_now
	subq	%r12, %rax
	movq	$msg_mmio, %rsi
	call	report

	/* rep outsb, 4 KiB */
	movq	$2, %rcx
	call	outsb_loop
	movw	$EXIT_COUNTER, %dx
	inl	%dx, %eax
	movl	%eax, %r13d
	call	tsc_now
	movq	%rax, %r12
	movq	$OUTSB_ITERS, %rcx
	call	outsb_loop
	call	tsc_now
	subq	%r12, %rax
	movq	%rax, %r12
	movw	$EXIT_COUNTER, %dx
	inl	%dx, %eax
	subl	%r13d, %eax
	decl	%eax			/* the counter read itself */
	movl	%eax, %r13d
	movq	$msg_outsb, %rsi
	call	puts
	movq	%r12, %rax
	xorl	%edx, %edx
	movq	$OUTSB_ITERS, %rcx
	divq	%rcx
	call	putdec
	movq	$msg_op, %rsi
	call	puts
	movl	%r13d, %eax
	xorl	%edx, %edx
	movq	$OUTSB_ITERS, %rcx
	divq	%rcx
	call	putdec
	movq	$msg_exits_op, %rsi
	call	puts

	movb	$0, %al
	outb	%al, $DEBUG_EXIT_PORT
1:	hlt
	jmp	1b

/* RCX iterations of CPUID leaf 0; clobbers RAX, RBX, RCX, RDX, R8 */
cpuid_loop:
	movq	%rcx, %r8
1:	xorl	%eax, %eax
	xorl	%ecx, %ecx
	cpuid
	decq	%r8
	jnz	1b
	ret

/* RCX iterations of OUT to port 0x80; clobbers RAX, RCX */
pio_loop:
	movb	$0x42, %al
1:	outb	%al, $POST_PORT
	decq	%rcx
	jnz	1b
	ret

/* RCX 32-bit stores to MMIO_ADDR; clobbers RAX, RCX, RDI */
mmio_loop:
	movl	$0x5a5a5a5a, %eax
	movl	$MMIO_ADDR, %edi
1:	movl	%eax, (%rdi)
	decq	%rcx
	jnz	1b
	ret

/* RCX times rep outsb of the 4 KiB buffer to port 0x80; clobbers RCX, RDX, RSI, R8 */
outsb_loop:
	movq	%rcx, %r8
	movw	$POST_PORT, %dx
1:	leaq	outbuf(%rip), %rsi
	movq	$4096, %rcx
	rep outsb
	decq	%r8
	jnz	1b
	ret

/* RAX = serialised TSC; clobbers RDX */
tsc_now:
	lfence
	rdtsc
	lfence
	shlq	$32, %rdx
	orq	%rdx, %rax
	ret

/* print string RSI, then RAX / BENCH_ITERS, then " cycles/exit\n" */
report:
	pushq	%rax
	call	puts
	popq	%rax
	xorl	%edx, %edx
	movq	$BENCH_ITERS, %rcx
	divq	%rcx
	call	putdec
	movq	$msg_unit, %rsi
	call	puts
	ret

/* print RAX in decimal; clobbers RAX, RCX, RDX, RSI, RDI */
putdec:
	movq	$(numbuf + 20), %rdi
	movb	$0, (%rdi)
	movq	$10, %rcx
1:	xorl	%edx, %edx
	divq	%rcx
	addb	$'0', %dl
	decq	%rdi
	movb	%dl, (%rdi)
	testq	%rax, %rax
	jnz	1b
	movq	%rdi, %rsi
	jmp	puts

	SERIAL_PUTS puts

	.section .rodata
msg_cpuid:	.asciz "bench: cpuid "
msg_pio:	.asciz "bench: pio "
msg_mmio:	.asciz "bench: mmio "
msg_outsb:	.asciz "bench: outsb_4k "
msg_unit:	.asciz " cycles/exit\n"
msg_op:		.asciz " cycles/op, "
msg_exits_op:	.asciz " exits/op\n"

	.section .bss
	.balign	16
numbuf:
	.skip	32
	.balign	4096
outbuf:
	.skip	4096
	.balign	16
	.skip	4096
stack_top:
