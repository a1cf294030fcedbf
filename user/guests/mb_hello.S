/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mb_hello: a tiny Multiboot v1 kernel for testing the loader.
 *
 *   shv-run --kernel user/guests/mb_hello.elf --append "hello world"
 *   shv-run --kernel user/guests/mb_hello_aout.bin   (a.out kludge build)
 *
 * Checks the boot magic, prints what the multiboot information says
 * (loader name, command line, memory sizes, memory map entries) and a
 * bss check, then writes 0 to the debug-exit port (exit status 1).  A
 * bad magic writes 2 (status 5), a dirty bss writes 3 (status 7).
 */
#include "serial.inc"

#define MB_MAGIC	0x1BADB002
#define MB_BOOT_MAGIC	0x2BADB002
#ifdef AOUT_KLUDGE
#define MB_FLAGS	0x00010002	/* mem info, address fields */
#else
#define MB_FLAGS	0x00000002	/* mem info */
#endif

	.section .multiboot, "a"
	.balign	4
mb_header:
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)
#ifdef AOUT_KLUDGE
	.long	mb_header		/* header_addr */
	.long	_image_start		/* load_addr */
	.long	_load_end		/* load_end_addr */
	.long	_bss_end		/* bss_end_addr */
	.long	_start			/* entry_addr */
#endif

	.text
	.code32
	.globl	_start
_start:
	cld
	movl	$stack_top, %esp
	movl	%eax, %ebp
	movl	%ebx, %edi		/* multiboot info */
	SERIAL_INIT
	cmpl	$MB_BOOT_MAGIC, %ebp
	je	1f
	movl	$msg_bad_magic, %esi
	call	puts
	movb	$2, %al
	outb	%al, $DEBUG_EXIT_PORT
1:
	movl	$msg_ok, %esi
	call	puts

	testl	$(1 << 9), (%edi)	/* boot loader name */
	jz	2f
	movl	$msg_loader, %esi
	call	puts
	movl	64(%edi), %esi
	call	puts
	movl	$msg_nl, %esi
	call	puts
2:
	testl	$(1 << 2), (%edi)	/* command line */
	jz	3f
	movl	$msg_cmdline, %esi
	call	puts
	movl	16(%edi), %esi
	call	puts
	movl	$msg_quote_nl, %esi
	call	puts
3:
	testl	$(1 << 0), (%edi)	/* memory sizes */
	jz	4f
	movl	$msg_lower, %esi
	call	puts
	movl	4(%edi), %eax
	call	putdec
	movl	$msg_upper, %esi
	call	puts
	movl	8(%edi), %eax
	call	putdec
	movl	$msg_kib, %esi
	call	puts
4:
	testl	$(1 << 6), (%edi)	/* memory map */
	jz	5f
	movl	$msg_mmap, %esi
	call	puts
	movl	44(%edi), %eax		/* mmap_length */
	xorl	%edx, %edx
	movl	$24, %ecx
	divl	%ecx
	call	putdec
	movl	$msg_entries, %esi
	call	puts
5:
	cmpl	$0, bss_word
	je	6f
	movl	$msg_bss_dirty, %esi
	call	puts
	movb	$3, %al
	outb	%al, $DEBUG_EXIT_PORT
6:
	movl	$msg_bye, %esi
	call	puts
	movb	$0, %al
	outb	%al, $DEBUG_EXIT_PORT
7:	hlt
	jmp	7b

/* print EAX in decimal; clobbers EAX, ECX, EDX, ESI, EBX */
putdec:
	movl	$(numbuf + 12), %ebx
	movb	$0, (%ebx)
	movl	$10, %ecx
1:	xorl	%edx, %edx
	divl	%ecx
	addb	$'0', %dl
	decl	%ebx
	movb	%dl, (%ebx)
	testl	%eax, %eax
	jnz	1b
	movl	%ebx, %esi
	jmp	puts

	SERIAL_PUTS puts

	.section .rodata
msg_ok:		.asciz "mb_hello: multiboot ok\n"
msg_bad_magic:	.asciz "mb_hello: bad boot magic\n"
msg_loader:	.asciz "mb_hello: loader: "
msg_cmdline:	.asciz "mb_hello: cmdline: '"
msg_quote_nl:	.asciz "'\n"
msg_lower:	.asciz "mb_hello: mem_lower "
msg_upper:	.asciz " KiB, mem_upper "
msg_kib:	.asciz " KiB\n"
msg_mmap:	.asciz "mb_hello: mmap: "
msg_entries:	.asciz " entries\n"
msg_bss_dirty:	.asciz "mb_hello: bss not cleared\n"
msg_bye:	.asciz "mb_hello: bye\n"
msg_nl:		.asciz "\n"

	.section .bss
	.balign	16
bss_word:
	.skip	4
numbuf:
	.skip	16
	.balign	16
	.skip	4096
stack_top:
