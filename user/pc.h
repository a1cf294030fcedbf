/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: the PC machine's fixed layout (Documentation/machine.rst) and
 * the firmware tables the runner writes into guest RAM in place of a BIOS.
 */
#ifndef SHV_RUN_PC_H
#define SHV_RUN_PC_H

#include "mem.h"

/* guest-physical addresses */
#define PC_BDA_ADDR		0x400ULL	/* BIOS data area */
#define PC_BDA_SIZE		0x100ULL
#define PC_EBDA_ADDR		0x9fc00ULL	/* 1 KiB extended BDA */
#define PC_EBDA_SIZE		0x400ULL
#define PC_ACPI_ADDR		0xe0000ULL	/* ACPI tables */
#define PC_ACPI_SIZE		0x10000ULL
#define PC_RSDP_ADDR		0xf0000ULL	/* RSDP, MP floating pointer */
#define PC_MPTABLE_ADDR		0xf0040ULL	/* MP configuration table */
#define PC_BIOS_END		0x100000ULL
#define PC_PCI_MMIO_BASE	0xc0000000ULL	/* 32-bit PCI BAR window */
#define PC_PCI_MMIO_END		0xfec00000ULL
#define PC_IOAPIC_ADDR		0xfec00000ULL
#define PC_LAPIC_ADDR		0xfee00000ULL
#define PC_TESTDEV_MMIO		0xff000000ULL	/* pc-testdev's buffer */
#define PC_TESTDEV_MMIO_SIZE	0x10000ULL

/* ports */
#define PC_PM_BASE		0x600		/* ACPI PM1a, PM timer */
#define PC_PM_TMR		(PC_PM_BASE + 8)
#define PC_PM_SIZE		0x40
#define PC_PCI_IO_BASE		0xc000		/* PCI I/O BAR window */
#define PC_PCI_IO_END		0x10000

/* interrupts */
#define PC_IRQ_SCI		9
#define PC_IRQ_COM1		4
#define PC_IOAPIC_ID		0
#define PC_IOAPIC_VERSION	0x20

/*
 * Write the BIOS data area, the ACPI tables and the MP table for a
 * machine of @ncpus vCPUs into @m (claiming the ranges).
 */
int pc_firmware_build(struct guest_mem *m, unsigned int ncpus);

#endif /* SHV_RUN_PC_H */
