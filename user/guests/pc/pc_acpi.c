// SPDX-License-Identifier: GPL-2.0
/*
 * pc_acpi: the ACPI tables and the MP table: find them where an OS
 * looks, check every checksum, and what they say about the machine.
 * Command line: cpus=N.
 */
#include "acpi.h"

#define FW_CFG_NB_CPUS	0x05

static bool table_ok(struct acpi_header *t, const char *sig)
{
	return t && !memcmp(t->sig, sig, 4) && t->length >= sizeof(*t) &&
	       !acpi_sum(t, t->length);
}

static void test_fadt(struct acpi_header *f)
{
	u8 *p = (u8 *)f;
	u32 dsdt = *(u32 *)(p + 40), facs = *(u32 *)(p + 36);
	struct acpi_header *d = (struct acpi_header *)(ulong)dsdt;
	u8 *fa = (u8 *)(ulong)facs;

	ok(f->revision >= 3 && f->length >= 244, "FADT revision %u, %u bytes",
	   f->revision, f->length);
	ok(table_ok(d, "DSDT"), "DSDT checksum");
	ok(*(u64 *)(p + 140) == dsdt, "X_DSDT = DSDT");
	ok(!memcmp(fa, "FACS", 4) && *(u32 *)(fa + 4) >= 64 && !(facs & 63),
	   "FACS: signature, length, 64-byte aligned");
	ok(*(u64 *)(p + 132) == facs, "X_FIRMWARE_CTRL = FIRMWARE_CTRL");
	ok(*(u16 *)(p + 46) == 9, "SCI on IRQ 9");
	ok(*(u32 *)(p + 76) == 0x608 && p[91] == 4, "PM timer at port 0x608");
	ok(!(*(u32 *)(p + 112) & (1 << 8)), "PM timer is 24 bits (no TMR_VAL_EXT)");
	ok(p[208] == 1 && *(u64 *)(p + 212) == 0x608,
	   "X_PM_TMR_BLK: system I/O 0x608");
	ok(*(u32 *)(p + 56) == 0x600 && *(u32 *)(p + 64) == 0x604,
	   "PM1a event 0x600, control 0x604");
	ok(inw(0x604) & 1, "SCI_EN set: always in ACPI mode");
	ok(*(u32 *)(p + 48) == 0, "no SMI command port");
	ok(p[108] == 0x32, "RTC century register 0x32");
}

static void test_madt(struct acpi_header *m, u32 cpus)
{
	u8 *p = (u8 *)m + sizeof(*m) + 8, *end = (u8 *)m + m->length;
	u32 lapics = 0, ioapics = 0, iso0 = 0, nmi = 0, bad = 0;
	u8 ids[MAX_CPUS];

	ok(*(u32 *)((u8 *)m + 36) == APIC_BASE, "MADT: local APIC address");
	ok(*(u32 *)((u8 *)m + 40) & 1, "MADT: PC-AT compatible (8259s)");
	for (; p + 2 <= end && p[1] >= 2; p += p[1]) {
		switch (p[0]) {
		case 0:
			if (lapics < MAX_CPUS)
				ids[lapics] = p[3];
			if (p[3] != lapics || !(*(u32 *)(p + 4) & 1))
				bad++;
			lapics++;
			break;
		case 1:
			ioapics++;
			ok(*(u32 *)(p + 4) == IOAPIC_BASE &&
			   *(u32 *)(p + 8) == 0, "MADT: IOAPIC at 0xfec00000, GSI base 0");
			ok(p[2] == (ioapic_read(0) >> 24 & 0xf),
			   "MADT: IOAPIC ID %u as its ID register", p[2]);
			break;
		case 2:
			if (p[3] == 0)
				iso0 = *(u32 *)(p + 4) == 2 && p[2] == 0;
			break;
		case 4:
			nmi = p[5] == 1;
			break;
		}
	}
	(void)ids;
	ok(p == end, "MADT: entries fill the table");
	ok(lapics == cpus, "MADT: %u local APICs", lapics);
	ok(!bad, "MADT: APIC IDs 0..%u, enabled", lapics - 1);
	ok(ioapics == 1, "MADT: one IOAPIC");
	ok(iso0, "MADT: ISA IRQ 0 -> GSI 2 override");
	ok(nmi, "MADT: NMI on LINT1");
	ok(madt_cpus(NULL, 0) == fwcfg_u64(FW_CFG_NB_CPUS, 2),
	   "MADT and fw_cfg agree on the CPU count");
}

static void test_mptable(u32 cpus)
{
	u8 *fp = mp_find_fp(), *t, *p, *end;
	u32 procs = 0, bsps = 0, ioapic = 0, ints = 0, irq0pin = 0xff;
	u16 n, i;

	ok(fp != NULL, "MP floating pointer found");
	if (!fp)
		return;
	ok((ulong)fp >= 0xf0000 && fp[8] == 1 && fp[9] == 4,
	   "MP: in the BIOS area, 16 bytes, spec 1.4");
	t = (u8 *)(ulong)*(u32 *)(fp + 4);
	ok(t && !memcmp(t, "PCMP", 4), "MP configuration table");
	if (!t || memcmp(t, "PCMP", 4))
		return;
	ok(!acpi_sum(t, *(u16 *)(t + 4)), "MP configuration table checksum");
	ok(*(u32 *)(t + 36) == APIC_BASE, "MP: local APIC address");
	n = *(u16 *)(t + 34);
	p = t + 44;
	end = t + *(u16 *)(t + 4);
	for (i = 0; i < n && p < end; i++) {
		switch (p[0]) {
		case 0:
			procs++;
			if (p[3] & 2) {
				bsps++;
				ok(p[1] == apic_id(), "MP: the BSP is APIC %u", p[1]);
			}
			p += 20;
			break;
		case 2:
			ioapic = *(u32 *)(p + 4) == IOAPIC_BASE;
			p += 8;
			break;
		case 3:
			ints++;
			if (p[5] == 0)
				irq0pin = p[7];
			p += 8;
			break;
		default:
			p += 8;
		}
	}
	ok(i == n && p == end, "MP: %u entries fill the table", n);
	ok(procs == cpus && bsps == 1, "MP: %u processors, one BSP", procs);
	ok(ioapic, "MP: IOAPIC at 0xfec00000");
	ok(ints == 15 && irq0pin == 2, "MP: ISA IRQs, IRQ 0 at pin 2");
}

void test_main(void)
{
	u32 cpus = atou(arg_value("cpus") ? arg_value("cpus") : "1");
	struct acpi_rsdp *r = acpi_find_rsdp();
	struct acpi_header *rsdt, *xsdt, *fadt = NULL, *madt = NULL;
	u32 i, n, bad = 0;

	ok(r != NULL, "RSDP found in 0xe0000-0xfffff");
	if (!r)
		return;
	ok(!acpi_sum(r, 20), "RSDP checksum");
	ok(r->revision == 2 && r->length == 36 && !acpi_sum(r, 36),
	   "RSDP revision 2, extended checksum");
	rsdt = (struct acpi_header *)(ulong)r->rsdt;
	xsdt = (struct acpi_header *)(ulong)r->xsdt;
	ok(table_ok(rsdt, "RSDT"), "RSDT checksum");
	ok(table_ok(xsdt, "XSDT"), "XSDT checksum");
	n = (rsdt->length - sizeof(*rsdt)) / 4;
	ok(n == (xsdt->length - sizeof(*xsdt)) / 8, "RSDT and XSDT: %u tables", n);
	for (i = 0; i < n; i++) {
		u32 a = ((u32 *)(rsdt + 1))[i];
		u64 x = ((u64 *)(xsdt + 1))[i];
		struct acpi_header *t = (struct acpi_header *)(ulong)a;

		if (a != x || acpi_sum(t, t->length))
			bad++;
		if (!memcmp(t->sig, "FACP", 4))
			fadt = t;
		if (!memcmp(t->sig, "APIC", 4))
			madt = t;
	}
	ok(!bad, "every table: same in both, checksum valid");
	ok(fadt != NULL && madt != NULL, "FADT and MADT present");
	if (fadt)
		test_fadt(fadt);
	if (madt)
		test_madt(madt, cpus);
	test_mptable(cpus);
	ok(apic_id() == 0, "the BSP is APIC 0");
}
