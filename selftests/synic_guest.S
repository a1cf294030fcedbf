/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest code of synic_test.c: one 64-bit payload at CODE_GPA with an
 * entry point per test (ent_*) and the interrupt handlers the test puts
 * into the IDT.  Register conventions and the memory layout are in
 * synic_test.h.  A guest failure is an OUT to PORT_FAIL with a code in
 * EAX (0xdeadxxxx: a wait timed out; otherwise a hypercall status).
 */
#include "lib/shv_util.h"
#include "synic_test.h"

	.section .rodata.guest, "a"
	.code64

.macro DONE
	out %al, $PORT_DONE
.endm

.macro REPORT32 val
	mov \val, %eax
	out %eax, $PORT_REPORT
.endm

/* low then high half (clobbers rax) */
.macro REPORT64 val
	mov \val, %rax
	out %eax, $PORT_REPORT
	shr $32, %rax
	out %eax, $PORT_REPORT
.endm

/* clobber rax, rcx, rdx */
.macro WRMSRI msr, val
	mov $\msr, %ecx
	mov $\val, %rax
	mov %rax, %rdx
	shr $32, %rdx
	wrmsr
.endm

.macro RDMSRQ msr
	mov $\msr, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
.endm

/* eax != 0: report it as a failure */
.macro CHECK0
	test %eax, %eax
	jz 9f
	out %eax, $PORT_FAIL
9:
.endm

/* wait with interrupts until the qword at \addr is >= \val */
.macro HLT_WAIT addr, val
8:	cli
	cmpq $\val, \addr
	jae 9f
	sti
	hlt
	jmp 8b
9:	sti
.endm

PAYLOAD synic

/* --- helpers --- */

x2apic_on:
	mov $0x1b, %ecx
	rdmsr
	or $0xc00, %eax
	wrmsr
	WRMSRI 0x80f, 0x1ff		/* SVR: enabled, spurious 0xff */
	/*
	 * Read the GDT (SS's descriptor) and the IDT before the first
	 * interrupt: Bochs reports a stale event for a VM exit during
	 * virtual-interrupt delivery, such as the EPT violation of a first
	 * GDT or IDT read (vmx.rst).
	 */
	mov %ss, %eax
	mov %eax, %ss
	mov $IDT_GPA, %eax
	mov (%rax), %rax
	ret

/* partition MSRs, then this vCPU's SynIC */
hv_on:
	WRMSRI HV_GUEST_OS_ID, 0x8100000000000001
	WRMSRI HV_HYPERCALL, HCALL_GPA | 1
	mov $HV_SIMP, %ecx
	mov %r12, %rax
	or $1, %eax
	xor %edx, %edx
	wrmsr
	mov $HV_SIEFP, %ecx
	mov %r13, %rax
	or $1, %eax
	xor %edx, %edx
	wrmsr
	WRMSRI HV_SCONTROL, 1
	ret

/* SINT edi = esi */
set_sint:
	lea HV_SINT0(%edi), %ecx
	mov %esi, %eax
	xor %edx, %edx
	wrmsr
	ret

/* HvPostMessage(edi = connection, esi = type, rdx = payload 0) -> rax */
post:
	movl %edi, 0(%r14)
	movl $0, 4(%r14)
	movl %esi, 8(%r14)
	movl $24, 12(%r14)
	mov %rdx, 16(%r14)
	not %rdx
	mov %rdx, 24(%r14)
	movq $0x5a5a, 32(%r14)
	mov $HVCALL_POST, %ecx
	mov %r14, %rdx
	xor %r8d, %r8d
	mov $HCALL_GPA, %eax
	call *%rax
	ret

/* HvSignalEvent(edi = connection, esi = flag), fast -> rax */
signal:
	mov %esi, %edx
	shl $32, %rdx
	mov %edi, %eax
	or %rax, %rdx
	mov $(HVCALL_SIGNAL | HV_FAST), %ecx
	mov $HCALL_GPA, %eax
	call *%rax
	ret

/* spin until the qword at rdi is >= rsi: eax 0, or 1 on timeout */
poll_ge:
	mov $20000000, %ecx
1:	cmp %rsi, (%rdi)
	jae 2f
	pause
	dec %ecx
	jnz 1b
	mov $1, %eax
	ret
2:	xor %eax, %eax
	ret

/* the same, failing on a timeout (clobbers rax, rcx) */
wait_ge:
	call poll_ge
	test %eax, %eax
	jz 1f
	mov $0xdead0001, %eax
	out %eax, $PORT_FAIL
1:	ret

/* the EOI the test asked for (clobbers rax, rcx, rdx) */
do_eoi:
	cmpq $1, PC_EOI_MODE(%r15)
	jb 2f
	je 1f
	WRMSRI HV_EOI, 0
	ret
1:	WRMSRI 0x80b, 0
2:	ret

/* rsi = the next log entry (clobbers rsi) */
.macro LOG_ENTRY
	mov PC_NLOG(%r15), %rsi
	and $31, %esi
	shl $6, %rsi
	lea PC_LOG(%r15,%rsi), %rsi
	incq PC_NLOG(%r15)
.endm

/* --- handlers --- */

/* a message in SINT \sint's slot: log it, free the slot, EOM if pending */
.macro MSG_HANDLER sint
EXPORT msg_handler_\sint
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	lea (\sint * 256)(%r12), %rbx
	LOG_ENTRY
	mov (%rbx), %eax
	mov %rax, LOG_TYPE(%rsi)
	mov 16(%rbx), %rax
	mov %rax, LOG_P0(%rsi)
	mov 24(%rbx), %rax
	mov %rax, LOG_P1(%rsi)
	mov 32(%rbx), %rax
	mov %rax, LOG_P2(%rsi)
	movq $\sint, LOG_SINT(%rsi)
	movl $0, (%rbx)			/* HVMSG_NONE */
	mfence
	movzbl 5(%rbx), %eax		/* MessagePending, read after */
	mov %rax, LOG_FLAGS(%rsi)
	incq PC_MSGS(%r15)
	test $1, %al
	jz 1f
	incq PC_EOMS(%r15)
	WRMSRI HV_EOM, 0
1:	call do_eoi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	iretq
.endm

MSG_HANDLER SINT_MSG
MSG_HANDLER SINT_TMR

/* event flags of SINT_EVT: take and accumulate word 0 */
EXPORT evt_handler
	push %rax
	push %rcx
	push %rdx
	incq PC_EVTS(%r15)
	xor %eax, %eax
	xchg %rax, (SINT_EVT * 256)(%r13)
	or %rax, PC_FLAGS(%r15)
	call do_eoi
	pop %rdx
	pop %rcx
	pop %rax
	iretq

/* a direct-mode timer: EOI through the Hyper-V EOI MSR */
EXPORT direct_handler
	push %rax
	push %rcx
	push %rdx
	incq PC_DIRECT(%r15)
	WRMSRI HV_EOI, 0
	pop %rdx
	pop %rcx
	pop %rax
	iretq

/* log the vector; EOI only if \eoi */
.macro REC_HANDLER vec, eoi
EXPORT rec_handler_\vec
	push %rax
	push %rcx
	push %rdx
	push %rsi
	LOG_ENTRY
	movq $\vec, LOG_TYPE(%rsi)
	.if \eoi
	WRMSRI 0x80b, 0
	.endif
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	iretq
.endm

REC_HANDLER VEC_LO, 0
REC_HANDLER VEC_HI, 0
REC_HANDLER VEC_MID, 1

/* --- tests --- */

/* the interface: CPUID, MSRs, hypercall statuses */
EXPORT ent_basics
	/* no guest OS ID yet: VMMCALL is shv's, for the runner */
	mov $0x1234, %eax
	vmmcall
	REPORT64 %rax
	mov $0x40000000, %eax
	cpuid
	mov %eax, %esi
	REPORT32 %esi
	REPORT32 %ebx
	REPORT32 %ecx
	REPORT32 %edx
	mov $0x40000001, %eax
	cpuid
	REPORT32 %eax
	mov $0x40000003, %eax
	cpuid
	mov %eax, %esi
	REPORT32 %esi
	REPORT32 %ebx
	REPORT32 %edx
	mov $0x40000100, %eax
	cpuid
	REPORT32 %ebx
	mov $0x40000101, %eax
	cpuid
	REPORT32 %eax

	call x2apic_on
	call hv_on
	RDMSRQ HV_VP_INDEX
	REPORT64 %rax
	RDMSRQ HV_SVERSION
	REPORT64 %rax
	RDMSRQ HV_TIME_REF
	mov %rax, %rbx
	mov $200000, %ecx
1:	pause
	dec %ecx
	jnz 1b
	RDMSRQ HV_TIME_REF
	sub %rbx, %rax
	REPORT64 %rax				/* > 0 */

	mov $0x99, %ecx				/* no such call */
	mov $HCALL_GPA, %eax
	call *%rax
	REPORT64 %rax
	mov $CONN_BAD, %edi
	mov $1, %esi
	mov $1, %edx
	call post
	REPORT64 %rax				/* invalid connection */
	mov $CONN_SELF_MSG, %edi
	mov $0x80000001, %esi			/* hypervisor type */
	call post
	REPORT64 %rax
	mov $CONN_SELF_MSG, %edi		/* a message-only one */
	mov $1, %esi
	call signal
	REPORT64 %rax
	mov $CONN_SELF_EVT, %edi
	mov $2048, %esi				/* past the flags */
	call signal
	REPORT64 %rax
	/* a rep count on a simple call */
	mov $(HVCALL_SIGNAL | HV_FAST), %ecx
	bts $32, %rcx
	mov $CONN_SELF_EVT, %edx
	mov $HCALL_GPA, %eax
	call *%rax
	REPORT64 %rax
	DONE
EXPORT ent_basics_end

/* AutoEOI against an EOI write, in exits per delivered interrupt */
EXPORT ent_autoeoi
	call x2apic_on
	call hv_on
	mov $SINT_EVT, %edi
	mov $(VEC_EVT | HV_SINT_AUTOEOI), %esi
	call set_sint
	movq $0, PC_EOI_MODE(%r15)
	sti
	REPORT32 $1
	xor %ebp, %ebp
1:	inc %rbp
	mov $CONN_SELF_EVT, %edi
	mov $5, %esi
	call signal
	CHECK0
	lea PC_EVTS(%r15), %rdi
	mov %rbp, %rsi
	call wait_ge
	cmp $N_IRQS, %rbp
	jb 1b
	REPORT32 $2

	mov $SINT_EVT, %edi
	mov $VEC_EVT, %esi
	call set_sint
	movq $1, PC_EOI_MODE(%r15)
	REPORT32 $3
2:	inc %rbp
	mov $CONN_SELF_EVT, %edi
	mov $5, %esi
	call signal
	CHECK0
	lea PC_EVTS(%r15), %rdi
	mov %rbp, %rsi
	call wait_ge
	cmp $(2 * N_IRQS), %rbp
	jb 2b
	REPORT32 $4

	xor %ebx, %ebx				/* ISR must be empty */
	mov $0x810, %esi
3:	mov %esi, %ecx
	rdmsr
	or %eax, %ebx
	inc %esi
	cmp $0x818, %esi
	jb 3b
	REPORT32 %ebx
	DONE

/* MessagePending and EOM redelivery; then no EOM when nothing waits */
EXPORT ent_pending
	call x2apic_on
	call hv_on
	mov $SINT_MSG, %edi
	mov $(VEC_MSG | HV_SINT_AUTOEOI), %esi
	call set_sint
	movq $0, PC_EOI_MODE(%r15)
	cli
	mov $0x1111, %ebx
1:	mov $CONN_SELF_MSG, %edi
	mov $1, %esi
	mov %rbx, %rdx
	call post
	CHECK0
	add $0x1111, %ebx
	cmp $0x4444, %ebx
	jb 1b
	lea (SINT_MSG * 256)(%r12), %rbx	/* the first one, pending set */
	REPORT32 (%rbx)
	REPORT64 16(%rbx)
	movzbl 5(%rbx), %eax
	REPORT32 %eax
	REPORT32 PC_MSGS(%r15)			/* 0: interrupts are off */
	sti
	lea PC_MSGS(%r15), %rdi
	mov $3, %esi
	call wait_ge
	REPORT32 PC_EOMS(%r15)

	mov $3, %ebp				/* one at a time */
2:	inc %rbp
	mov $CONN_SELF_MSG, %edi
	mov $1, %esi
	mov %rbp, %rdx
	call post
	CHECK0
	lea PC_MSGS(%r15), %rdi
	mov %rbp, %rsi
	call wait_ge
	cmp $11, %rbp
	jb 2b
	REPORT32 PC_EOMS(%r15)
	DONE

/* vCPU 0: start vCPU 1, then post to it and signal it */
EXPORT ent_bsp
	call x2apic_on
	call hv_on
	WRMSRI 0x830, 0x100004500		/* INIT to APIC 1 */
	mov $1000000, %ecx			/* let it settle */
1:	pause
	dec %ecx
	jnz 1b
	mov $5, %ebx			/* a SIPI that met INIT may be lost */
2:	WRMSRI 0x830, 0x100004600 | AP_SIPI_VECTOR
	mov $(SHARED_GPA + SH_READY), %edi
	mov $1, %esi
	call poll_ge
	test %eax, %eax
	jz 3f
	dec %ebx
	jnz 2b
	mov $0xdead0002, %eax
	out %eax, $PORT_FAIL
3:
	mov $0xa1, %ebx
1:	mov $CONN_AP_MSG, %edi
	mov $7, %esi
	mov %rbx, %rdx
	call post
	CHECK0
	inc %ebx
	cmp $0xa4, %ebx
	jb 1b
	mov $CONN_AP_EVT, %edi
	mov $7, %esi
	call signal
	CHECK0
	mov $CONN_AP_EVT, %edi
	mov $9, %esi
	call signal
	CHECK0
	mov $(SHARED_GPA + SH_DONE), %edi
	mov $1, %esi
	call wait_ge
	DONE

/* a receiver: three messages and event flags 7 and 9 */
EXPORT ent_receiver
	call x2apic_on
	call hv_on
	mov $SINT_MSG, %edi
	mov $(VEC_MSG | HV_SINT_AUTOEOI), %esi
	call set_sint
	mov $SINT_EVT, %edi
	mov $(VEC_EVT | HV_SINT_AUTOEOI), %esi
	call set_sint
	movq $0, PC_EOI_MODE(%r15)
	sti
	movq $1, SHARED_GPA + SH_READY
	HLT_WAIT PC_MSGS(%r15), 3
1:	cli
	mov PC_FLAGS(%r15), %rax
	and $0x280, %eax
	cmp $0x280, %eax
	je 2f
	sti
	hlt
	jmp 1b
2:	sti
	movq $1, SHARED_GPA + SH_DONE
	REPORT32 PC_MSGS(%r15)
	DONE

/* a sender to another VM; after the test closed that VM, once more */
EXPORT ent_sender
	call x2apic_on
	call hv_on
	mov $0xb1, %ebx
1:	mov $CONN_VMB_MSG, %edi
	mov $7, %esi
	mov %rbx, %rdx
	call post
	CHECK0
	inc %ebx
	cmp $0xb4, %ebx
	jb 1b
	mov $CONN_VMB_EVT, %edi
	mov $7, %esi
	call signal
	CHECK0
	mov $CONN_VMB_EVT, %edi
	mov $9, %esi
	call signal
	CHECK0
	REPORT32 $0
	mov $CONN_VMB_MSG, %edi
	mov $7, %esi
	mov $0xb9, %edx
	call post
	REPORT64 %rax
	DONE

/* synthetic timers: message and direct mode, one-shot and periodic */
EXPORT ent_stimer
	call x2apic_on
	call hv_on
	mov $SINT_TMR, %edi
	mov $(VEC_TMR | HV_SINT_AUTOEOI), %esi
	call set_sint
	movq $0, PC_EOI_MODE(%r15)
	sti
	/* STIMER0: one-shot, message, 2 ms from now */
	WRMSRI HV_STIMER0_CFG, HV_ST_ENABLE | (SINT_TMR << 16)
	RDMSRQ HV_TIME_REF
	add $20000, %rax
	mov %rax, %rbx
	mov %rax, %rdx
	shr $32, %rdx
	mov $HV_STIMER0_CNT, %ecx
	wrmsr
	REPORT64 %rbx
	HLT_WAIT PC_MSGS(%r15), 1
	RDMSRQ HV_STIMER0_CFG			/* enable is clear now */
	REPORT64 %rax
	/* STIMER1: periodic, message, every 1 ms */
	WRMSRI HV_STIMER0_CNT + 2, 10000
	WRMSRI HV_STIMER0_CFG + 2, HV_ST_ENABLE | HV_ST_PERIODIC | (SINT_TMR << 16)
	HLT_WAIT PC_MSGS(%r15), 6
	WRMSRI HV_STIMER0_CFG + 2, 0
	/* STIMER2: one-shot, direct, 1 ms from now */
	WRMSRI HV_STIMER0_CFG + 4, HV_ST_ENABLE | HV_ST_DIRECT | (VEC_DIRECT << 4)
	RDMSRQ HV_TIME_REF
	add $10000, %rax
	mov %rax, %rdx
	shr $32, %rdx
	mov $(HV_STIMER0_CNT + 4), %ecx
	wrmsr
	HLT_WAIT PC_DIRECT(%r15), 1
	/* STIMER3: periodic, direct, every 0.5 ms */
	WRMSRI HV_STIMER0_CNT + 6, 5000
	WRMSRI HV_STIMER0_CFG + 6, HV_ST_ENABLE | HV_ST_PERIODIC | HV_ST_DIRECT | (VEC_DIRECT << 4)
	HLT_WAIT PC_DIRECT(%r15), 4
	WRMSRI HV_STIMER0_CFG + 6, 0
	RDMSRQ 0x813				/* ISR 0x60..0x7f */
	REPORT32 %eax
	DONE

/* selective EOI of a lower vector while a higher one is in service */
EXPORT ent_seoi
	call x2apic_on
	sti
	WRMSRI 0x83f, VEC_LO			/* self IPIs */
	WRMSRI 0x83f, VEC_HI
	WRMSRI 0x83f, VEC_MID			/* blocked by PPR 0x80 */
	RDMSRQ 0x812				/* ISR 0x40..0x5f */
	REPORT32 %eax
	RDMSRQ 0x814				/* ISR 0x80..0x9f */
	REPORT32 %eax
	RDMSRQ 0x822				/* IRR 0x40..0x5f */
	REPORT32 %eax
	REPORT32 PC_NLOG(%r15)
	WRMSRI 0x40000200, VEC_LO		/* SHV_MSR_SEOI */
	RDMSRQ 0x812
	REPORT32 %eax
	RDMSRQ 0x814
	REPORT32 %eax
	REPORT32 PC_NLOG(%r15)			/* VEC_MID still blocked */
	WRMSRI 0x80b, 0				/* EOI: VEC_HI */
	nop
	REPORT32 PC_NLOG(%r15)			/* VEC_MID came */
	RDMSRQ 0x812
	REPORT32 %eax
	RDMSRQ 0x814
	REPORT32 %eax
	DONE

/* a masked SINT queues, then floods; polling; the hypercall page off */
EXPORT ent_queue
	call x2apic_on
	call hv_on
	mov $SINT_MSG, %edi
	mov $(VEC_MSG | HV_SINT_MASKED | HV_SINT_AUTOEOI), %esi
	call set_sint
	movq $0, PC_EOI_MODE(%r15)
	sti
	mov $1, %ebx
1:	mov $CONN_SELF_MSG, %edi
	mov $1, %esi
	mov %rbx, %rdx
	call post
	CHECK0
	inc %ebx
	cmp $17, %ebx
	jb 1b
	mov $CONN_SELF_MSG, %edi		/* the 17th: no room */
	mov $1, %esi
	mov %rbx, %rdx
	call post
	REPORT64 %rax
	REPORT32 PC_MSGS(%r15)
	lea (SINT_MSG * 256)(%r12), %rbx
	REPORT32 (%rbx)				/* nothing while masked */
	mov $SINT_MSG, %edi			/* unmask: all 16 come */
	mov $(VEC_MSG | HV_SINT_AUTOEOI), %esi
	call set_sint
	lea PC_MSGS(%r15), %rdi
	mov $16, %esi
	call wait_ge
	REPORT32 PC_EOMS(%r15)
	mov $SINT_MSG, %edi			/* polling: no interrupt */
	mov $(VEC_MSG | HV_SINT_MASKED | HV_SINT_POLLING), %esi
	call set_sint
	mov $CONN_SELF_MSG, %edi
	mov $2, %esi
	mov $0x77, %edx
	call post
	CHECK0
	lea (SINT_MSG * 256)(%r12), %rbx
	REPORT32 (%rbx)
	REPORT64 16(%rbx)
	REPORT32 PC_MSGS(%r15)
	movl $0, (%rbx)
	WRMSRI HV_GUEST_OS_ID, 0		/* disables the hypercall page */
	RDMSRQ HV_HYPERCALL
	REPORT64 %rax
	mov $0x4321, %eax
	vmmcall					/* shv's hypercall again */
	REPORT64 %rax
	DONE

/*
 * Userspace's SynIC sources: two messages, flags 7 and 9 and a raw SINT
 * (SINT_RAW: VEC_LO, AutoEOI, logged) from the test; then a port with a
 * base flag number (CONN_PORT_EVT: flags 40 and 41)
 */
EXPORT ent_user
	call x2apic_on
	call hv_on
	mov $SINT_MSG, %edi
	mov $(VEC_MSG | HV_SINT_AUTOEOI), %esi
	call set_sint
	mov $SINT_EVT, %edi
	mov $(VEC_EVT | HV_SINT_AUTOEOI), %esi
	call set_sint
	mov $SINT_RAW, %edi
	mov $(VEC_LO | HV_SINT_AUTOEOI), %esi
	call set_sint
	movq $0, PC_EOI_MODE(%r15)
	cli
	REPORT32 $1
	sti
	HLT_WAIT PC_MSGS(%r15), 2
	HLT_WAIT PC_NLOG(%r15), 3
1:	cli
	mov PC_FLAGS(%r15), %rax
	and $0x280, %eax
	cmp $0x280, %eax
	je 2f
	sti
	hlt
	jmp 1b
2:	sti
	REPORT32 PC_EOMS(%r15)
	/* the SynIC off: a raised SINT is dropped */
	WRMSRI HV_SCONTROL, 0
	REPORT32 $2
	WRMSRI HV_SCONTROL, 1
	mov $10000, %ecx
3:	pause
	dec %ecx
	jnz 3b
	REPORT32 PC_NLOG(%r15)
	mov $CONN_PORT_EVT, %edi
	xor %esi, %esi
	call signal
	CHECK0
	mov $CONN_PORT_EVT, %edi
	mov $1, %esi
	call signal
	CHECK0
	mov $CONN_PORT_EVT, %edi
	mov $2, %esi				/* past the port's flags */
	call signal
	REPORT64 %rax
4:	cli
	mov PC_FLAGS(%r15), %rax
	shr $40, %rax
	cmp $3, %eax
	je 5f
	sti
	hlt
	jmp 4b
5:	sti
	REPORT64 PC_FLAGS(%r15)
	DONE

ENDPAYLOAD synic

/* the AP's first instruction, at AP_SIPI_VECTOR << 12 in real mode */
PAYLOAD ap_trampoline
	.code16
	out %al, $PORT_REPORT
	hlt
	.code64
ENDPAYLOAD ap_trampoline
	.section .note.GNU-stack, "", @progbits
