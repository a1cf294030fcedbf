/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.bin: exit round-trip benchmark, a 64-bit flat image.
 *
 *   shv-run --flat user/guests/bench.bin@0x100000 --mode long64
 *
 * Times BENCH_ITERS CPUID (leaf 0) exits, handled in the kernel, and
 * BENCH_ITERS OUT exits to the POST port 0x80, handled by the runner,
 * with RDTSC, and prints the averages:
 *   bench: cpuid <cycles> cycles/exit
 *   bench: pio <cycles> cycles/exit
 * then writes 0 to the debug-exit port (shv-run exit status 1).
 */
#include "serial.inc"

#ifndef BENCH_ITERS
#define BENCH_ITERS	100000
#endif
#define BENCH_WARMUP	1000

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
msg_unit:	.asciz " cycles/exit\n"

	.section .bss
	.balign	16
numbuf:
	.skip	32
	.balign	16
	.skip	4096
stack_top:
