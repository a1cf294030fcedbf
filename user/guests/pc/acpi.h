/* SPDX-License-Identifier: GPL-2.0 */
/* ACPI and MP table lookup for the PC test guests */
#ifndef PC_GUEST_ACPI_H
#define PC_GUEST_ACPI_H

#include "lib.h"

struct acpi_header {
	char sig[4];
	u32 length;
	u8 revision, checksum;
	char oem_id[6], oem_table_id[8];
	u32 oem_revision;
	char creator_id[4];
	u32 creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char sig[8];
	u8 checksum;
	char oem_id[6];
	u8 revision;
	u32 rsdt;
	u32 length;
	u64 xsdt;
	u8 ext_checksum, reserved[3];
} __attribute__((packed));

u8 acpi_sum(const void *p, u32 len);
/* the RSDP in 0xe0000-0xfffff (first valid one), or NULL */
struct acpi_rsdp *acpi_find_rsdp(void);
/* the table with signature @sig through the RSDT, or NULL */
struct acpi_header *acpi_find(const char *sig);
/* number of enabled local APICs in the MADT (0 without one) */
unsigned int madt_cpus(u8 *apic_ids, unsigned int max);
/* the MP floating pointer (spec search order), or NULL */
u8 *mp_find_fp(void);

#endif
