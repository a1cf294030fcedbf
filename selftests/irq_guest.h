/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contract between irq_test.c (the host side) and irq_guest.c (a
 * freestanding 64-bit guest linked at CODE_GPA, see irq_guest.lds).
 *
 * The host writes struct irq_shared at IRQ_SHARED_GPA, then starts vCPU 0
 * at CODE_GPA in 64-bit mode with the standard tables of lib/shv_util.h.
 * The guest runs the scenario the host chose, checks what it sees and
 * reports through ports:
 *
 *   PORT_REPORT   a value for the host (the AP reports what it receives)
 *   PORT_FAIL     a check failed; irq_shared.fail[cpu] says which
 *   PORT_DONE     the scenario finished
 *   PORT_HOSTCMD  a request the host carries out before resuming the
 *                 vCPU: drive a GSI (SHV_IRQ_LINE), send an MSI
 *                 (SHV_SIGNAL_MSI) or let the AP's thread enter SHV_RUN
 *
 * vCPU 1 (the AP) waits for INIT-SIPI and starts in real mode at the
 * page of tramp_start, which takes it to 64-bit mode on its own stack.
 */
#ifndef IRQ_GUEST_H
#define IRQ_GUEST_H

#include <stdint.h>

#define IRQ_SHARED_GPA		0x30000
#define IRQ_IMAGE_END		0x30000		/* the image ends below */
#define IRQ_AP_STACK_TOP	0x3c000		/* BSP: 0x40000 - 0x3c000 */
#define PORT_HOSTCMD		0xe2

/* host commands (32-bit OUT to PORT_HOSTCMD) */
#define HCMD_LINE(gsi, level)	((1u << 24) | ((gsi) << 8) | (level))
#define HCMD_MSI		(2u << 24)	/* msi_addr, msi_data */
#define HCMD_AP_GO		(3u << 24)	/* the AP's thread may run */
#define HCMD_OP(c)		((c) >> 24)

/* irq_shared.flags */
#define IRQ_F_X2APIC		(1u << 0)

enum irq_scenario {
	SC_LAPIC_REGS = 1,
	SC_TPR,
	SC_NESTED,
	SC_SVR,
	SC_ESR,
	SC_TIMER_ONESHOT,
	SC_TIMER_PERIODIC,
	SC_TIMER_DIVIDE,
	SC_TIMER_DEADLINE,
	SC_IPI,
	SC_IPI_LATE_AP,
	SC_IOAPIC_EDGE,
	SC_IOAPIC_LEVEL,
	SC_MSI,
	SC_PIC_BASIC,
	SC_PIC_AEOI,
	SC_PIC_CASCADE,
	SC_PIC_ELCR,
	SC_PIT_PIC,
	SC_PIT_IOAPIC,
	SC_PIT_CH2,
	SC_PIT_LATCH,
	SC_SEOI,
	SC_TPR_EQUAL,
	SC_ESR_LVT,
	SC_DEADLINE_ONESHOT_MSR,
	SC_X2APIC_EOI_GP,
	SC_TPR_CR8,
	SC_NMI_IRET,
	SC_X2APIC_ON,
	SC_TPR_NOEXIT,
	SC_VINTR,
};

struct irq_fail {
	uint32_t line;		/* irq_guest.c line of the failed check */
	uint32_t pad;
	uint64_t a, b, c;	/* the values compared */
	uint64_t what;		/* guest address of the check's text */
};

#define IRQ_NOUT	16

struct irq_shared {
	uint32_t scenario;
	uint32_t flags;
	uint64_t tsc_khz;	/* guest TSC ticks per ms (host-calibrated) */
	uint64_t msi_addr;	/* HCMD_MSI arguments */
	uint32_t msi_data;
	int32_t cmd_ret;	/* result of the last host command */
	struct irq_fail fail[2];
	uint64_t out[IRQ_NOUT];	/* measurements, for the host's log */
	volatile uint32_t sync[16];	/* BSP <-> AP */
};

#endif /* IRQ_GUEST_H */
