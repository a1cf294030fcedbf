/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_mmu.bin: MMU benchmarks, a 64-bit flat image with its own paging.
 *
 *   shv-run --flat user/guests/bench_mmu.bin@0x100000 --mode long64 -m 128
 *
 * The image is linked at KBASE + 0x100000 (KBASE = 0xffffffff80000000) and
 * loaded at guest-physical 0x100000.  The entry code, still on the
 * runner's identity map, maps all guest RAM at KBASE with global 2 MiB
 * pages (the "kernel half", one PDPT shared by every address space) and
 * jumps there; from then on the guest runs like a small OS kernel: its own
 * GDT and IDT, CR4.PGE, a free-page list, per-page reference counts and a
 * #PF handler that does demand paging and copy-on-write.  Every address
 * space is a PML4 whose kernel half (entries 256..511) is copied from the
 * kernel's and whose user half (entries 0..255) has its own PDPT, PD, PT
 * and 4 KiB pages.  All user mappings are 4 KiB pages; code runs at CPL 0
 * with CR0.WP set.
 *
 * Measured with RDTSC.  Every metric is taken SAMPLES = 3 times; each
 * sample is an average over many operations, and the median sample is
 * printed as "bench: NAME N cycles/UNIT (min A, max B of 3)":
 *
 *   as_switch_N  N = 2, 8, 64 address spaces, each with one user page at
 *                AS_VA; round robin: MOV CR3 to the next space, then a
 *                read-modify-write of its page.  Cycles per switch,
 *                SWITCH_ITERS switches per sample after a warm-up of two
 *                rounds.
 *   fault_4k     a fresh address space, FAULT_MIB MiB of untouched user
 *                addresses written once per 4 KiB page; the #PF handler
 *                allocates the page (and the page tables) and maps it.
 *                Cycles per page; one round per sample after a warm-up
 *                round.
 *   fork         a parent with FORK_PAGES pages: copy its user page tables
 *                into new table pages for a child, write-protecting the
 *                writable pages in both (COW), switch to the child, write
 *                FORK_WRITES pages (COW faults copy them), switch back,
 *                tear the child down, write the same pages in the parent
 *                (COW faults, now unshared, make them writable again).
 *                Cycles per fork, FORK_ITERS forks per sample after two
 *                warm-ups.
 *
 * Every benchmark checks what it reads (each space sees its own page,
 * COW copies hold the parent's data, the parent never sees the child's
 * writes) and at the end every page must be back on the free list.  On a
 * failed check it prints "bench_mmu: FAIL: ..." and writes 1 to the
 * debug-exit port (shv-run exit status 3), on an unexpected exception 2
 * (status 5); on success 0 (status 1).
 */
#include "serial.inc"

#ifndef GUEST_RAM_MIB
#define GUEST_RAM_MIB	128		/* must match shv-run -m */
#endif
#ifndef SWITCH_ITERS
#define SWITCH_ITERS	4096		/* per N and sample; multiple of AS_MAX */
#endif
#ifndef FAULT_MIB
#define FAULT_MIB	16
#endif
#ifndef FORK_PAGES
#define FORK_PAGES	64
#endif
#ifndef FORK_WRITES
#define FORK_WRITES	8
#endif
#ifndef FORK_ITERS
#define FORK_ITERS	128		/* per sample */
#endif
#define SAMPLES		3		/* the median is reported */

#define AS_MAX		64
#define KBASE		(-0x80000000)	/* 0xffffffff80000000 */
#define RAM_TOP		(GUEST_RAM_MIB << 20)
#define AS_VA		0x400000	/* user page of each switch space */
#define FORK_VA		0x10000000
#define FAULT_VA	0x40000000
#define FAULT_PAGES	(FAULT_MIB * 256)

#define PTE_P		0x1
#define PTE_RW		0x2
#define PTE_US		0x4
#define PTE_PS		0x80
#define PTE_G		0x100
#define PTE_COW		0x200		/* software bit: copy on write */
#define PTE_USER	(PTE_P | PTE_RW | PTE_US)

#define PF_P		0x1
#define PF_W		0x2

#define SEL_CODE64	0x18
#define SEL_DATA	0x10
#define CR4_PGE		0x80

#define PARENT_MARK	0x5041524e54000000	/* "PARNT" */
#define CHILD_MARK	0x4348494c44000000	/* "CHILD" */

	.section .text.entry, "ax"
	.code64
	.globl	_start
_start:
	/*
	 * At the physical load address on the runner's identity map:
	 * everything up to the jump is position independent.
	 */
	cld
	leaq	kpd(%rip), %rdi
	xorl	%ecx, %ecx
	movq	$(PTE_P | PTE_RW | PTE_PS | PTE_G), %rax
1:	movq	%rax, (%rdi,%rcx,8)
	addq	$0x200000, %rax
	incl	%ecx
	cmpl	$(GUEST_RAM_MIB / 2), %ecx
	jb	1b
	leaq	kpdpt(%rip), %rsi
	orq	$(PTE_P | PTE_RW), %rdi
	movq	%rdi, 510 * 8(%rsi)		/* KBASE: PML4 511, PDPT 510 */
	orq	$(PTE_P | PTE_RW), %rsi
	leaq	kpml4(%rip), %rdi
	movq	%rsi, 511 * 8(%rdi)
	movq	%cr3, %rdx			/* the runner's tables */
	andq	$-4096, %rdx
	movq	%rsi, 511 * 8(%rdx)
	movq	%rdx, %cr3
	movabsq	$high, %rax
	jmp	*%rax

	.text
high:
	movq	$stack_top, %rsp
	SERIAL_INIT
	lgdt	gdt_desc
	pushq	$SEL_CODE64
	pushq	$1f
	lretq
1:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs

	/* IDT: vectors 0..31, #PF to its handler, the rest report and stop */
	xorl	%ebx, %ebx
1:	movl	%ebx, %edi
	movq	%rbx, %rsi
	shlq	$4, %rsi
	addq	$exc_stubs, %rsi
	call	set_gate
	incl	%ebx
	cmpl	$32, %ebx
	jb	1b
	movl	$14, %edi
	movq	$pf_entry, %rsi
	call	set_gate
	lidt	idt_desc

	movq	%cr4, %rax
	orq	$CR4_PGE, %rax
	movq	%rax, %cr4
	movq	$kpml4, %rax
	subq	$KBASE, %rax
	movq	%rax, kernel_cr3
	movq	%rax, %cr3			/* the runner's tables are unused now */

	/* the free list: every page from the end of the image to RAM_TOP */
	movq	$(bss_end + 4095), %rbx
	subq	$KBASE, %rbx
	andq	$-4096, %rbx
	movq	$RAM_TOP, %r12
1:	subq	$4096, %r12
	movq	%r12, %rdi
	call	free_page
	cmpq	%rbx, %r12
	ja	1b
	movq	free_count, %rax
	movq	%rax, free_total

	call	print_config
	call	bench_as_switch
	call	bench_fault
	call	bench_fork

	movq	free_count, %rax
	cmpq	free_total, %rax
	jne	.Lleak
	movq	$msg_ok, %rsi
	call	puts
	xorl	%eax, %eax
	outb	%al, $DEBUG_EXIT_PORT
	cli
1:	hlt
	jmp	1b
.Lleak:
	movq	$msg_leak, %rsi
	jmp	fatal

/* ------------------------------------------------------------------ */
/* as_switch */

bench_as_switch:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	/* AS_MAX spaces, space i with one page at AS_VA: { count, i } */
	xorl	%ebx, %ebx
1:	call	new_space
	movq	%rax, as_cr3(,%rbx,8)
	movq	%rax, %r12
	call	alloc_page
	movq	%rax, as_page(,%rbx,8)
	movq	%rax, %rcx
	shrq	$12, %rcx
	movb	$1, pgref(%rcx)
	movq	$0, KBASE(%rax)
	movq	%rbx, KBASE + 8(%rax)
	movq	%r12, %rdi
	movq	$AS_VA, %rsi
	leaq	PTE_USER(%rax), %rdx
	call	map_page
	incl	%ebx
	cmpl	$AS_MAX, %ebx
	jb	1b

	movl	$2, %edi
	movq	$msg_as2, %rsi
	call	as_run
	movl	$8, %edi
	movq	$msg_as8, %rsi
	call	as_run
	movl	$64, %edi
	movq	$msg_as64, %rsi
	call	as_run

	/* space i was touched (2 + SAMPLES * SWITCH_ITERS / N) times per N > i */
	movq	kernel_cr3, %rax
	movq	%rax, %cr3
	xorl	%ebx, %ebx
1:	xorl	%edx, %edx
	cmpl	$2, %ebx
	jae	2f
	addq	$(2 + SAMPLES * SWITCH_ITERS / 2), %rdx
2:	cmpl	$8, %ebx
	jae	2f
	addq	$(2 + SAMPLES * SWITCH_ITERS / 8), %rdx
2:	addq	$(2 + SAMPLES * SWITCH_ITERS / 64), %rdx
	movq	as_page(,%rbx,8), %rax
	cmpq	%rdx, KBASE(%rax)
	jne	.Las_count
	movq	as_cr3(,%rbx,8), %rdi
	movl	$4, %esi
	call	free_level
	incl	%ebx
	cmpl	$AS_MAX, %ebx
	jb	1b
	popq	%r13
	popq	%r12
	popq	%rbx
	ret
.Las_count:
	movq	$msg_as_count, %rsi
	jmp	fatal

/* EDI = N, RSI = name: warm up, time, report */
as_run:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	movl	%edi, %ebx
	movq	%rsi, %r12
	leal	(%rbx,%rbx), %esi		/* two rounds */
	call	as_loop
	xorl	%r14d, %r14d
1:	call	tsc_now
	movq	%rax, %r13
	movl	%ebx, %edi
	movl	$SWITCH_ITERS, %esi
	call	as_loop
	call	tsc_now
	subq	%r13, %rax
	movq	%rax, samples(,%r14,8)
	incl	%r14d
	cmpl	$SAMPLES, %r14d
	jb	1b
	movq	%r12, %rsi
	movl	$SWITCH_ITERS, %ecx
	movq	$msg_u_switch, %rdi
	call	report
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	ret

/* EDI = N spaces, ESI = switches (a multiple of N), from space 0 */
as_loop:
	xorl	%ecx, %ecx
1:	movq	as_cr3(,%rcx,8), %rax
	movq	%rax, %cr3
	incq	AS_VA
	cmpq	%rcx, AS_VA + 8
	jne	2f
	incl	%ecx
	cmpl	%edi, %ecx
	jb	3f
	xorl	%ecx, %ecx
3:	decl	%esi
	jnz	1b
	ret
2:	movq	$msg_as_wrong, %rsi
	jmp	fatal

/* ------------------------------------------------------------------ */
/* fault_4k */

bench_fault:
	pushq	%rbx
	call	fault_round			/* warm-up */
	xorl	%ebx, %ebx
1:	call	fault_round
	movq	%rax, samples(,%rbx,8)
	incl	%ebx
	cmpl	$SAMPLES, %ebx
	jb	1b
	movq	$msg_fault, %rsi
	movl	$FAULT_PAGES, %ecx
	movq	$msg_u_page, %rdi
	call	report
	popq	%rbx
	ret

/* one round in a fresh space; RAX = cycles of the touching loop */
fault_round:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	call	new_space
	movq	%rax, %r12
	movq	%rax, %cr3
	call	tsc_now
	movq	%rax, %r13
	movq	$FAULT_VA, %rax
	movl	$FAULT_PAGES, %ecx
1:	movq	%rax, (%rax)
	addq	$4096, %rax
	decl	%ecx
	jnz	1b
	call	tsc_now
	subq	%r13, %rax
	movq	%rax, %r13
	/* every page holds its own address */
	movq	$FAULT_VA, %rax
	movl	$FAULT_PAGES, %ecx
1:	cmpq	%rax, (%rax)
	jne	2f
	addq	$4096, %rax
	decl	%ecx
	jnz	1b
	movq	kernel_cr3, %rax
	movq	%rax, %cr3
	movq	%r12, %rdi
	movl	$4, %esi
	call	free_level
	movq	%r13, %rax
	popq	%r13
	popq	%r12
	popq	%rbx
	ret
2:	movq	$msg_fault_wrong, %rsi
	jmp	fatal

/* ------------------------------------------------------------------ */
/* fork */

bench_fork:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	call	new_space
	movq	%rax, parent_cr3
	xorl	%ebx, %ebx
1:	call	alloc_page
	movq	%rax, %rcx
	shrq	$12, %rcx
	movb	$1, pgref(%rcx)
	movabsq	$PARENT_MARK, %rdx
	addq	%rbx, %rdx
	movq	%rdx, KBASE(%rax)
	leaq	PTE_USER(%rax), %rdx
	movq	%rbx, %rsi
	shlq	$12, %rsi
	addq	$FORK_VA, %rsi
	movq	parent_cr3, %rdi
	call	map_page
	incl	%ebx
	cmpl	$FORK_PAGES, %ebx
	jb	1b
	movq	parent_cr3, %rax
	movq	%rax, %cr3

	call	fork_once
	call	fork_once
	xorl	%r12d, %r12d
2:	call	tsc_now
	movq	%rax, %r13
	movl	$FORK_ITERS, %ebx
1:	call	fork_once
	decl	%ebx
	jnz	1b
	call	tsc_now
	subq	%r13, %rax
	movq	%rax, samples(,%r12,8)
	incl	%r12d
	cmpl	$SAMPLES, %r12d
	jb	2b
	movq	$msg_fork, %rsi
	movl	$FORK_ITERS, %ecx
	movq	$msg_u_fork, %rdi
	call	report

	movq	kernel_cr3, %rax
	movq	%rax, %cr3
	movq	parent_cr3, %rdi
	movl	$4, %esi
	call	free_level
	popq	%r13
	popq	%r12
	popq	%rbx
	ret

fork_once:
	pushq	%rbx
	pushq	%r12
	call	new_space
	movq	%rax, %r12
	movq	parent_cr3, %rdi
	movq	%rax, %rsi
	movl	$4, %edx
	call	copy_level
	/* the child: it sees the parent's data and gets its own copies */
	movq	%r12, %cr3
	xorl	%ecx, %ecx
	movq	$FORK_VA, %rsi
1:	movabsq	$PARENT_MARK, %rax
	addq	%rcx, %rax
	cmpq	%rax, (%rsi)
	jne	3f
	movabsq	$CHILD_MARK, %rax
	addq	%rcx, %rax
	movq	%rax, (%rsi)
	addq	$4096, %rsi
	incl	%ecx
	cmpl	$FORK_WRITES, %ecx
	jb	1b
	/* the child exits */
	movq	parent_cr3, %rax
	movq	%rax, %cr3
	movq	%r12, %rdi
	movl	$4, %esi
	call	free_level
	/* the parent's data is untouched; writing it unshares */
	xorl	%ecx, %ecx
	movq	$FORK_VA, %rsi
1:	movabsq	$PARENT_MARK, %rax
	addq	%rcx, %rax
	cmpq	%rax, (%rsi)
	jne	3f
	movq	%rax, (%rsi)
	addq	$4096, %rsi
	incl	%ecx
	cmpl	$FORK_WRITES, %ecx
	jb	1b
	popq	%r12
	popq	%rbx
	ret
3:	movq	$msg_fork_wrong, %rsi
	jmp	fatal

/* ------------------------------------------------------------------ */
/* page tables and pages; physical addresses, accessed at KBASE + pa */

/* RAX = a free page; clobbers RCX */
alloc_page:
	movq	free_head, %rax
	testq	%rax, %rax
	jz	1f
	movq	KBASE(%rax), %rcx
	movq	%rcx, free_head
	decq	free_count
	ret
1:	movq	$msg_oom, %rsi
	jmp	fatal

/* RAX = a free page, zeroed; clobbers RCX, RDX, RDI */
alloc_zeroed:
	call	alloc_page
	movq	%rax, %rdx
	leaq	KBASE(%rax), %rdi
	xorl	%eax, %eax
	movl	$512, %ecx
	rep stosq
	movq	%rdx, %rax
	ret

/* RDI = page; clobbers RAX */
free_page:
	movq	free_head, %rax
	movq	%rax, KBASE(%rdi)
	movq	%rdi, free_head
	incq	free_count
	ret

/* RAX = a new PML4: empty user half, the kernel's kernel half */
new_space:
	pushq	%rsi
	call	alloc_zeroed
	leaq	KBASE + 256 * 8(%rax), %rdi
	movq	$(kpml4 + 256 * 8), %rsi
	movl	$256, %ecx
	rep movsq
	popq	%rsi
	ret

/* RDI = PML4, RSI = address: RAX = pointer to its PTE, or 0 */
walk:
	movl	$39, %ecx
1:	movq	%rsi, %rax
	shrq	%cl, %rax
	andl	$511, %eax
	leaq	KBASE(%rdi,%rax,8), %rdx
	cmpl	$12, %ecx
	je	2f
	movq	(%rdx), %rdi
	testb	$PTE_P, %dil
	jz	3f
	andq	$-4096, %rdi
	subl	$9, %ecx
	jmp	1b
2:	movq	%rdx, %rax
	ret
3:	xorl	%eax, %eax
	ret

/* RDI = PML4, RSI = address, RDX = PTE; allocates missing tables */
map_page:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rdi, %rbx
	movq	%rsi, %r12
	movq	%rdx, %r13
	movl	$39, %r14d
1:	movq	%r12, %rax
	movl	%r14d, %ecx
	shrq	%cl, %rax
	andl	$511, %eax
	leaq	KBASE(%rbx,%rax,8), %r15
	cmpl	$12, %r14d
	je	3f
	movq	(%r15), %rax
	testb	$PTE_P, %al
	jnz	2f
	call	alloc_zeroed
	orq	$PTE_USER, %rax
	movq	%rax, (%r15)
2:	andq	$-4096, %rax
	movq	%rax, %rbx
	subl	$9, %r14d
	jmp	1b
3:	movq	%r13, (%r15)
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	ret

/* entries of a table at level EDX: the user half of a PML4, else all */
#define LEVEL_ENTRIES(lvl, reg)		\
	movl	$512, reg;		\
	cmpl	$4, lvl;		\
	jne	9f;			\
	movl	$256, reg;		\
9:

/*
 * RDI = source table, RSI = new empty table, EDX = level (4 = PML4):
 * copy the user mappings into new tables; writable pages become
 * read-only and COW in both, every page gains a reference.
 */
copy_level:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	leaq	KBASE(%rdi), %r12
	leaq	KBASE(%rsi), %r13
	movl	%edx, %r14d
	LEVEL_ENTRIES(%r14d, %r15d)
	xorl	%ebx, %ebx
1:	movq	(%r12,%rbx,8), %rax
	testb	$PTE_P, %al
	jz	5f
	cmpl	$1, %r14d
	je	3f
	movq	%rax, %rbp
	call	alloc_zeroed
	movq	%rbp, %rdx
	andl	$0xfff, %edx
	orq	%rax, %rdx
	movq	%rdx, (%r13,%rbx,8)
	movq	%rbp, %rdi
	andq	$-4096, %rdi
	movq	%rax, %rsi
	leal	-1(%r14), %edx
	call	copy_level
	jmp	5f
3:	testb	$PTE_RW, %al
	jz	4f
	andq	$~PTE_RW, %rax
	orq	$PTE_COW, %rax
	movq	%rax, (%r12,%rbx,8)
4:	movq	%rax, (%r13,%rbx,8)
	andq	$-4096, %rax
	shrq	$12, %rax
	incb	pgref(%rax)
5:	incl	%ebx
	cmpl	%r15d, %ebx
	jb	1b
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/*
 * RDI = table, ESI = level (4 = PML4): free the user half below it, pages
 * whose last reference goes, and the table itself.
 */
free_level:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rdi, %r12
	leaq	KBASE(%rdi), %r13
	movl	%esi, %r14d
	LEVEL_ENTRIES(%r14d, %r15d)
	xorl	%ebx, %ebx
1:	movq	(%r13,%rbx,8), %rdi
	testb	$PTE_P, %dil
	jz	3f
	andq	$-4096, %rdi
	cmpl	$1, %r14d
	je	2f
	leal	-1(%r14), %esi
	call	free_level
	jmp	3f
2:	movq	%rdi, %rax
	shrq	$12, %rax
	decb	pgref(%rax)
	jnz	3f
	call	free_page
3:	incl	%ebx
	cmpl	%r15d, %ebx
	jb	1b
	movq	%r12, %rdi
	call	free_page
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	ret

/* ------------------------------------------------------------------ */
/* exceptions */

/* EDI = vector, RSI = handler: an interrupt gate in the IDT */
set_gate:
	shlq	$4, %rdi
	addq	$idt, %rdi
	movq	%rsi, %rax
	movw	%ax, (%rdi)
	movw	$SEL_CODE64, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shrq	$16, %rax
	movw	%ax, 6(%rdi)
	shrq	$16, %rax
	movl	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
	ret

pf_entry:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	movq	%cr2, %rdi
	movq	9 * 8(%rsp), %rsi		/* error code */
	call	pf_handle
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$8, %rsp
	iretq

/*
 * RDI = faulting address, RSI = error code.  Not present in the fault_4k
 * range: map a new page.  Write to a COW page: copy it, or make it
 * writable when it is no longer shared.  Anything else is a bug.
 */
pf_handle:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	movq	%rdi, %r12
	movq	%rsi, %r13
	movq	%cr3, %rbx
	andq	$-4096, %rbx
	testb	$PF_P, %r13b
	jnz	.Lpf_prot
	movq	%r12, %rax
	subq	$FAULT_VA, %rax
	cmpq	$(FAULT_PAGES * 4096), %rax
	jae	.Lpf_bad
	call	alloc_page
	movq	%rax, %rcx
	shrq	$12, %rcx
	movb	$1, pgref(%rcx)
	leaq	PTE_USER(%rax), %rdx
	movq	%rbx, %rdi
	movq	%r12, %rsi
	andq	$-4096, %rsi
	call	map_page
	jmp	.Lpf_done
.Lpf_prot:
	testb	$PF_W, %r13b
	jz	.Lpf_bad
	movq	%rbx, %rdi
	movq	%r12, %rsi
	call	walk
	testq	%rax, %rax
	jz	.Lpf_bad
	movq	%rax, %rbx			/* the PTE */
	movq	(%rbx), %rdx
	testl	$PTE_COW, %edx
	jz	.Lpf_bad
	andq	$-4096, %rdx
	movq	%rdx, %r13			/* the shared page */
	shrq	$12, %rdx
	cmpb	$1, pgref(%rdx)
	jbe	.Lpf_reuse
	decb	pgref(%rdx)
	call	alloc_page
	leaq	KBASE(%rax), %rdi
	leaq	KBASE(%r13), %rsi
	movl	$512, %ecx
	rep movsq
	movq	%rax, %rcx
	shrq	$12, %rcx
	movb	$1, pgref(%rcx)
	orq	$PTE_USER, %rax
	movq	%rax, (%rbx)
	jmp	.Lpf_flush
.Lpf_reuse:
	movq	(%rbx), %rax
	andq	$~PTE_COW, %rax
	orq	$PTE_RW, %rax
	movq	%rax, (%rbx)
.Lpf_flush:
	invlpg	(%r12)
.Lpf_done:
	popq	%r13
	popq	%r12
	popq	%rbx
	ret
.Lpf_bad:
	movq	$msg_pf_bad, %rsi
	call	puts
	movq	%r12, %rax
	call	puthex
	movq	$msg_err, %rsi
	call	puts
	movq	%r13, %rax
	call	puthex
	movq	$msg_nl, %rsi
	call	puts
	movb	$1, %al
	outb	%al, $DEBUG_EXIT_PORT
	cli
1:	hlt
	jmp	1b

/* vectors 0..31: push a dummy error code where the CPU pushes none */
	.balign	16
exc_stubs:
	.irp	v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign	16
	.if	(\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq	$0
	.endif
	pushq	$\v
	jmp	exc_common
	.endr

exc_common:
	movq	$msg_exc, %rsi
	call	puts
	movq	(%rsp), %rax
	call	putdec
	movq	$msg_err, %rsi
	call	puts
	movq	8(%rsp), %rax
	call	puthex
	movq	$msg_rip, %rsi
	call	puts
	movq	16(%rsp), %rax
	call	puthex
	movq	$msg_cr2, %rsi
	call	puts
	movq	%cr2, %rax
	call	puthex
	movq	$msg_nl, %rsi
	call	puts
	movb	$2, %al
	outb	%al, $DEBUG_EXIT_PORT
	cli
1:	hlt
	jmp	1b

/* RSI = message: "bench_mmu: FAIL: <message>", debug exit 1 */
fatal:
	pushq	%rsi
	movq	$msg_fail, %rsi
	call	puts
	popq	%rsi
	call	puts
	movq	$msg_nl, %rsi
	call	puts
	movb	$1, %al
	outb	%al, $DEBUG_EXIT_PORT
	cli
1:	hlt
	jmp	1b

/* ------------------------------------------------------------------ */
/* output */

/* RAX = serialised TSC; clobbers RDX */
tsc_now:
	lfence
	rdtsc
	lfence
	shlq	$32, %rdx
	orq	%rdx, %rax
	ret

/*
 * samples[0..2] are totals over RCX operations each: print
 * "bench: <RSI> <median> cycles/<RDI> (min <min>, max <max> of 3)\n"
 */
report:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%rdi
	pushq	%rsi
	/* per-operation averages, sorted: RBX <= R12 <= R13 */
	movq	%rcx, %r14
	movq	samples, %rax
	xorl	%edx, %edx
	divq	%r14
	movq	%rax, %rbx
	movq	samples + 8, %rax
	xorl	%edx, %edx
	divq	%r14
	movq	%rax, %r12
	movq	samples + 16, %rax
	xorl	%edx, %edx
	divq	%r14
	movq	%rax, %r13
	cmpq	%r12, %rbx
	jbe	1f
	xchgq	%rbx, %r12
1:	cmpq	%r13, %r12
	jbe	1f
	xchgq	%r12, %r13
1:	cmpq	%r12, %rbx
	jbe	1f
	xchgq	%rbx, %r12
1:	movq	$msg_bench, %rsi
	call	puts
	popq	%rsi
	call	puts
	movq	$msg_sp, %rsi
	call	puts
	movq	%r12, %rax
	call	putdec
	movq	$msg_cycles, %rsi
	call	puts
	popq	%rsi
	call	puts
	movq	$msg_min, %rsi
	call	puts
	movq	%rbx, %rax
	call	putdec
	movq	$msg_max, %rsi
	call	puts
	movq	%r13, %rax
	call	putdec
	movq	$msg_of3, %rsi
	call	puts
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	ret

print_config:
	movq	$msg_cfg1, %rsi
	call	puts
	movl	$SWITCH_ITERS, %eax
	call	putdec
	movq	$msg_cfg2, %rsi
	call	puts
	movl	$FAULT_MIB, %eax
	call	putdec
	movq	$msg_cfg3, %rsi
	call	puts
	movq	$msg_cfg4, %rsi
	call	puts
	movl	$FORK_PAGES, %eax
	call	putdec
	movq	$msg_cfg5, %rsi
	call	puts
	movl	$FORK_WRITES, %eax
	call	putdec
	movq	$msg_cfg6, %rsi
	call	puts
	movl	$FORK_ITERS, %eax
	call	putdec
	movq	$msg_cfg7, %rsi
	jmp	puts

/* print RAX in decimal; clobbers RAX, RCX, RDX, RSI, RDI */
putdec:
	movq	$(numbuf + 31), %rdi
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

/* print RAX as 0x and 16 hex digits; clobbers RAX, RCX, RDX, RSI, RDI */
puthex:
	movq	$(numbuf + 31), %rdi
	movb	$0, (%rdi)
	movl	$16, %ecx
1:	movl	%eax, %edx
	andl	$15, %edx
	movb	hexdigits(%rdx), %dl
	decq	%rdi
	movb	%dl, (%rdi)
	shrq	$4, %rax
	decl	%ecx
	jnz	1b
	decq	%rdi
	movb	$'x', (%rdi)
	decq	%rdi
	movb	$'0', (%rdi)
	movq	%rdi, %rsi
	jmp	puts

	SERIAL_PUTS puts

	.section .rodata
hexdigits:	.ascii "0123456789abcdef"
msg_bench:	.asciz "bench: "
msg_sp:		.asciz " "
msg_cycles:	.asciz " cycles/"
msg_nl:		.asciz "\n"
msg_min:	.asciz " (min "
msg_max:	.asciz ", max "
msg_of3:	.asciz " of 3)\n"
msg_as2:	.asciz "as_switch_2"
msg_as8:	.asciz "as_switch_8"
msg_as64:	.asciz "as_switch_64"
msg_fault:	.asciz "fault_4k"
msg_fork:	.asciz "fork"
msg_u_switch:	.asciz "switch"
msg_u_page:	.asciz "page"
msg_u_fork:	.asciz "fork"
msg_cfg1:	.asciz "bench_mmu: 3 samples of: as_switch: 2/8/64 spaces, "
msg_cfg2:	.asciz " switches; fault_4k: "
msg_cfg3:	.asciz " MiB"
msg_cfg4:	.asciz "; fork: "
msg_cfg5:	.asciz " pages, "
msg_cfg6:	.asciz " written, "
msg_cfg7:	.asciz " forks\n"
msg_ok:		.asciz "bench_mmu: all checks passed\n"
msg_fail:	.asciz "bench_mmu: FAIL: "
msg_leak:	.asciz "pages leaked (free list does not add up)"
msg_oom:	.asciz "out of guest pages"
msg_as_wrong:	.asciz "as_switch: a space sees another space's page"
msg_as_count:	.asciz "as_switch: a space's page has the wrong count"
msg_fault_wrong: .asciz "fault_4k: a page lost its contents"
msg_fork_wrong:	.asciz "fork: wrong data (COW broken)"
msg_pf_bad:	.asciz "bench_mmu: FAIL: unexpected #PF at "
msg_exc:	.asciz "bench_mmu: FAIL: exception "
msg_err:	.asciz " error "
msg_rip:	.asciz " rip "
msg_cr2:	.asciz " cr2 "

	.section .data
	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff		/* 0x08: code32 */
	.quad	0x00cf93000000ffff		/* 0x10: data */
	.quad	0x00af9b000000ffff		/* 0x18: code64 */
	.quad	0x00cf93000000ffff		/* 0x20: data */
gdt_end:
	.balign	8
	.word	0, 0, 0
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt
	.balign	8
	.word	0, 0, 0
idt_desc:
	.word	32 * 16 - 1
	.quad	idt

	.section .bss
	.balign	4096
kpml4:	.skip	4096			/* the kernel's own space */
kpdpt:	.skip	4096
kpd:	.skip	4096
idt:	.skip	32 * 16
	.balign	16
	.skip	16384
stack_top:
as_cr3:	.skip	AS_MAX * 8
as_page: .skip	AS_MAX * 8
kernel_cr3:	.skip	8
parent_cr3:	.skip	8
free_head:	.skip	8
free_count:	.skip	8
free_total:	.skip	8
numbuf:	.skip	32
samples:	.skip	SAMPLES * 8
pgref:	.skip	RAM_TOP >> 12		/* references per page frame */
	.balign	4096
bss_end:
