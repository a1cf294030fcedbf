// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: what a PC BIOS leaves in memory for the operating system,
 * written by the runner before the guest starts: the BIOS data area, the
 * ACPI tables (RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT) and the legacy
 * MP floating pointer and configuration table.  The layout is in
 * Documentation/machine.rst; table formats follow the ACPI (2.0+) and
 * Intel MultiProcessor (1.4) specifications.
 */
#include <string.h>

#include "pc.h"

#define ACPI_OEM_ID		"SHV   "	/* 6 bytes */
#define ACPI_OEM_TABLE_ID	"SHVPC   "	/* 8 bytes */
#define ACPI_CREATOR_ID		"SHVR"
#define ACPI_HDR_LEN		36

#define FADT_LEN		244		/* revision 3 */
#define FACS_LEN		64

/* FADT flags */
#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_SLP_BUTTON		(1u << 5)
#define FADT_RTC_S4		(1u << 7)
#define FADT_RESET_REG_SUP	(1u << 10)

#define GAS_SYSTEM_IO		1

/* MADT entry types */
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MADT_PCAT_COMPAT	1

/* "level, active high": ACPI MPS INTI flags, also MP table irqflag */
#define INTI_LEVEL_HIGH		0x000d

/* ISA IRQs QEMU's i440FX machine declares level-triggered (PCI, SCI) */
static const u8 pc_level_irqs[] = { 5, 9, 10, 11 };

static u8 checksum(const u8 *p, size_t len)
{
	u8 sum = 0;

	while (len--)
		sum += *p++;
	return (u8)-sum;
}

/* A table being written at guest-physical @gpa, host pointer @p */
struct table {
	u8 *p;
	u64 gpa;
	u32 len;
};

static void put8(struct table *t, u8 v)
{
	t->p[t->len++] = v;
}

static void put16(struct table *t, u16 v)
{
	le_put(t->p + t->len, 2, v);
	t->len += 2;
}

static void put32(struct table *t, u32 v)
{
	le_put(t->p + t->len, 4, v);
	t->len += 4;
}

static void put64(struct table *t, u64 v)
{
	le_put(t->p + t->len, 8, v);
	t->len += 8;
}

static void putstr(struct table *t, const char *s, size_t n)
{
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void acpi_header(struct table *t, const char *sig, u8 rev)
{
	t->len = 0;
	putstr(t, sig, 4);
	put32(t, 0);			/* length, set by acpi_finish */
	put8(t, rev);
	put8(t, 0);			/* checksum */
	putstr(t, ACPI_OEM_ID, 6);
	putstr(t, ACPI_OEM_TABLE_ID, 8);
	put32(t, 1);			/* OEM revision */
	putstr(t, ACPI_CREATOR_ID, 4);
	put32(t, 1);			/* creator revision */
}

static void acpi_finish(struct table *t)
{
	le_put(t->p + 4, 4, t->len);
	t->p[9] = 0;
	t->p[9] = checksum(t->p, t->len);
}

/* A Generic Address Structure for a system I/O register */
static void put_gas_io(struct table *t, u8 bits, u8 access, u64 port)
{
	put8(t, port ? GAS_SYSTEM_IO : 0);
	put8(t, port ? bits : 0);
	put8(t, 0);
	put8(t, port ? access : 0);
	put64(t, port);
}

/* The allocator for the ACPI area: 16-byte aligned tables */
struct area {
	struct guest_mem *m;
	u64 next, end;
};

static void area_table(struct area *a, struct table *t, u64 align)
{
	a->next = (a->next + align - 1) & ~(align - 1);
	t->gpa = a->next;
	t->p = gpa_to_hva(a->m, t->gpa, a->end - t->gpa);
	t->len = 0;
}

static void area_done(struct area *a, struct table *t)
{
	a->next = t->gpa + t->len;
}

static void build_facs(struct table *t)
{
	memset(t->p, 0, FACS_LEN);
	putstr(t, "FACS", 4);
	put32(t, FACS_LEN);
	t->len = FACS_LEN;		/* the rest: zero, no checksum */
}

/*
 * A minimal DSDT: only \_S5 (soft off, SLP_TYP 0), which the PM1a
 * control register turns into the end of the run.
 */
static void build_dsdt(struct table *t)
{
	static const u8 aml_s5[] = {
		0x08, '_', 'S', '5', '_',	/* NameOp "_S5_" */
		0x12, 0x06, 0x04,		/* Package, length 6, 4 items */
		0x00, 0x00, 0x00, 0x00,		/* Zero x4 */
	};

	acpi_header(t, "DSDT", 1);
	putstr(t, (const char *)aml_s5, sizeof(aml_s5));
	acpi_finish(t);
}

static void build_fadt(struct table *t, u64 facs, u64 dsdt)
{
	acpi_header(t, "FACP", 3);
	put32(t, facs);			/* FIRMWARE_CTRL */
	put32(t, dsdt);			/* DSDT */
	put8(t, 0);			/* reserved (INT_MODEL) */
	put8(t, 0);			/* preferred PM profile: unspecified */
	put16(t, PC_IRQ_SCI);		/* SCI_INT */
	put32(t, 0);			/* SMI_CMD: always in ACPI mode */
	put8(t, 0);			/* ACPI_ENABLE */
	put8(t, 0);			/* ACPI_DISABLE */
	put8(t, 0);			/* S4BIOS_REQ */
	put8(t, 0);			/* PSTATE_CNT */
	put32(t, PC_PM_BASE);		/* PM1a_EVT_BLK */
	put32(t, 0);			/* PM1b_EVT_BLK */
	put32(t, PC_PM_BASE + 4);	/* PM1a_CNT_BLK */
	put32(t, 0);			/* PM1b_CNT_BLK */
	put32(t, 0);			/* PM2_CNT_BLK */
	put32(t, PC_PM_TMR);		/* PM_TMR_BLK */
	put32(t, 0);			/* GPE0_BLK */
	put32(t, 0);			/* GPE1_BLK */
	put8(t, 4);			/* PM1_EVT_LEN */
	put8(t, 2);			/* PM1_CNT_LEN */
	put8(t, 0);			/* PM2_CNT_LEN */
	put8(t, 4);			/* PM_TMR_LEN */
	put8(t, 0);			/* GPE0_BLK_LEN */
	put8(t, 0);			/* GPE1_BLK_LEN */
	put8(t, 0);			/* GPE1_BASE */
	put8(t, 0);			/* CST_CNT */
	put16(t, 0x0fff);		/* P_LVL2_LAT: no C2 */
	put16(t, 0x0fff);		/* P_LVL3_LAT: no C3 */
	put16(t, 0);			/* FLUSH_SIZE */
	put16(t, 0);			/* FLUSH_STRIDE */
	put8(t, 0);			/* DUTY_OFFSET */
	put8(t, 0);			/* DUTY_WIDTH */
	put8(t, 0);			/* DAY_ALRM */
	put8(t, 0);			/* MON_ALRM */
	put8(t, 0x32);			/* CENTURY: CMOS index */
	put16(t, 0);			/* IAPC_BOOT_ARCH */
	put8(t, 0);			/* reserved */
	put32(t, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
		 FADT_RTC_S4 | FADT_RESET_REG_SUP);	/* 24-bit timer */
	put_gas_io(t, 8, 1, 0xcf9);	/* RESET_REG: PIIX reset control */
	put8(t, 0x06);			/* RESET_VALUE: hard reset */
	put8(t, 0);
	put8(t, 0);
	put8(t, 0);
	put64(t, facs);			/* X_FIRMWARE_CTRL */
	put64(t, dsdt);			/* X_DSDT */
	put_gas_io(t, 32, 2, PC_PM_BASE);	/* X_PM1a_EVT_BLK */
	put_gas_io(t, 0, 0, 0);			/* X_PM1b_EVT_BLK */
	put_gas_io(t, 16, 2, PC_PM_BASE + 4);	/* X_PM1a_CNT_BLK */
	put_gas_io(t, 0, 0, 0);			/* X_PM1b_CNT_BLK */
	put_gas_io(t, 0, 0, 0);			/* X_PM2_CNT_BLK */
	put_gas_io(t, 32, 3, PC_PM_TMR);	/* X_PM_TMR_BLK */
	put_gas_io(t, 0, 0, 0);			/* X_GPE0_BLK */
	put_gas_io(t, 0, 0, 0);			/* X_GPE1_BLK */
	acpi_finish(t);
}

static void build_madt(struct table *t, unsigned int ncpus)
{
	unsigned int i;

	acpi_header(t, "APIC", 1);
	put32(t, PC_LAPIC_ADDR);
	put32(t, MADT_PCAT_COMPAT);
	for (i = 0; i < ncpus; i++) {
		put8(t, MADT_LAPIC);
		put8(t, 8);
		put8(t, i);		/* ACPI processor UID */
		put8(t, i);		/* APIC ID */
		put32(t, 1);		/* enabled */
	}
	put8(t, MADT_IOAPIC);
	put8(t, 12);
	put8(t, PC_IOAPIC_ID);
	put8(t, 0);
	put32(t, PC_IOAPIC_ADDR);
	put32(t, 0);			/* GSI base */
	/* ISA IRQ 0, the PIT, is IOAPIC pin 2 */
	put8(t, MADT_ISO);
	put8(t, 10);
	put8(t, 0);			/* bus: ISA */
	put8(t, 0);			/* source IRQ */
	put32(t, 2);			/* GSI */
	put16(t, 0);			/* conforms to the bus */
	for (i = 0; i < ARRAY_SIZE(pc_level_irqs); i++) {
		put8(t, MADT_ISO);
		put8(t, 10);
		put8(t, 0);
		put8(t, pc_level_irqs[i]);
		put32(t, pc_level_irqs[i]);
		put16(t, INTI_LEVEL_HIGH);
	}
	/* NMI on LINT1 of every processor */
	put8(t, MADT_LAPIC_NMI);
	put8(t, 6);
	put8(t, 0xff);
	put16(t, 0);
	put8(t, 1);
	acpi_finish(t);
}

static void build_rsdt(struct table *t, const u64 *tables, unsigned int n,
		       bool xsdt)
{
	unsigned int i;

	acpi_header(t, xsdt ? "XSDT" : "RSDT", 1);
	for (i = 0; i < n; i++) {
		if (xsdt)
			put64(t, tables[i]);
		else
			put32(t, tables[i]);
	}
	acpi_finish(t);
}

static void build_rsdp(struct table *t, u64 rsdt, u64 xsdt)
{
	putstr(t, "RSD PTR ", 8);
	put8(t, 0);			/* checksum of the first 20 bytes */
	putstr(t, ACPI_OEM_ID, 6);
	put8(t, 2);			/* revision: ACPI 2.0+ */
	put32(t, rsdt);
	put32(t, 36);			/* length */
	put64(t, xsdt);
	put8(t, 0);			/* extended checksum */
	put8(t, 0);
	put8(t, 0);
	put8(t, 0);
	t->p[8] = checksum(t->p, 20);
	t->p[32] = checksum(t->p, 36);
}

static int build_acpi(struct guest_mem *m, unsigned int ncpus)
{
	struct area a = { m, PC_ACPI_ADDR, PC_ACPI_ADDR + PC_ACPI_SIZE };
	struct table facs, dsdt, fadt, madt, rsdt, xsdt, rsdp;
	u64 list[2];

	area_table(&a, &facs, 64);
	build_facs(&facs);
	area_done(&a, &facs);
	area_table(&a, &dsdt, 16);
	build_dsdt(&dsdt);
	area_done(&a, &dsdt);
	area_table(&a, &fadt, 16);
	build_fadt(&fadt, facs.gpa, dsdt.gpa);
	area_done(&a, &fadt);
	area_table(&a, &madt, 16);
	build_madt(&madt, ncpus);
	area_done(&a, &madt);
	list[0] = fadt.gpa;
	list[1] = madt.gpa;
	area_table(&a, &rsdt, 16);
	build_rsdt(&rsdt, list, 2, false);
	area_done(&a, &rsdt);
	area_table(&a, &xsdt, 16);
	build_rsdt(&xsdt, list, 2, true);
	area_done(&a, &xsdt);
	if (a.next > a.end) {
		pr_err("ACPI tables do not fit (%u vCPUs)", ncpus);
		return -1;
	}

	rsdp.gpa = PC_RSDP_ADDR;
	rsdp.p = gpa_to_hva(m, rsdp.gpa, 36);
	rsdp.len = 0;
	build_rsdp(&rsdp, rsdt.gpa, xsdt.gpa);
	pr_debug("ACPI: RSDP 0x%llx, RSDT 0x%llx, XSDT 0x%llx, FADT 0x%llx, MADT 0x%llx, DSDT 0x%llx, FACS 0x%llx",
		 (unsigned long long)rsdp.gpa, (unsigned long long)rsdt.gpa,
		 (unsigned long long)xsdt.gpa, (unsigned long long)fadt.gpa,
		 (unsigned long long)madt.gpa, (unsigned long long)dsdt.gpa,
		 (unsigned long long)facs.gpa);
	return 0;
}

/*
 * The MP table: processors, an ISA bus, the IOAPIC, an I/O interrupt
 * entry per ISA IRQ (IRQ 0 at pin 2, no IRQ 2) and LINT0/LINT1.
 */
#define MP_PROCESSOR		0
#define MP_BUS			1
#define MP_IOAPIC		2
#define MP_IOINTR		3
#define MP_LINTR		4
#define MP_INT			0
#define MP_NMI			1
#define MP_EXTINT		3

static void mp_intr(struct table *t, u8 type, u8 kind, u16 flags, u8 bus,
		    u8 irq, u8 dst, u8 pin)
{
	put8(t, type);
	put8(t, kind);
	put16(t, flags);
	put8(t, bus);
	put8(t, irq);
	put8(t, dst);
	put8(t, pin);
}

static void build_mptable(struct guest_mem *m, unsigned int ncpus)
{
	struct table t = { gpa_to_hva(m, PC_MPTABLE_ADDR, 0x1000),
			   PC_MPTABLE_ADDR, 0 };
	struct table fp = { gpa_to_hva(m, PC_RSDP_ADDR + 0x30, 16),
			    PC_RSDP_ADDR + 0x30, 0 };
	unsigned int i, n = 0;
	u16 flags;

	putstr(&t, "PCMP", 4);
	put16(&t, 0);			/* base table length */
	put8(&t, 4);			/* spec revision 1.4 */
	put8(&t, 0);			/* checksum */
	putstr(&t, "SHV     ", 8);
	putstr(&t, "SHV-RUN PC  ", 12);
	put32(&t, 0);			/* OEM table */
	put16(&t, 0);
	put16(&t, 0);			/* entry count */
	put32(&t, PC_LAPIC_ADDR);
	put16(&t, 0);			/* extended table */
	put8(&t, 0);
	put8(&t, 0);

	for (i = 0; i < ncpus; i++, n++) {
		put8(&t, MP_PROCESSOR);
		put8(&t, i);		/* local APIC ID */
		put8(&t, 0x14);		/* local APIC version */
		put8(&t, 1 | (i == 0 ? 2 : 0));	/* enabled, BSP */
		put32(&t, 0x600);	/* signature: family 6 */
		put32(&t, 0x201);	/* features: FPU, APIC */
		put32(&t, 0);
		put32(&t, 0);
	}
	put8(&t, MP_BUS);
	put8(&t, 0);
	putstr(&t, "ISA   ", 6);
	n++;
	put8(&t, MP_IOAPIC);
	put8(&t, PC_IOAPIC_ID);
	put8(&t, PC_IOAPIC_VERSION);
	put8(&t, 1);			/* enabled */
	put32(&t, PC_IOAPIC_ADDR);
	n++;
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;
		flags = 0;
		if (memchr(pc_level_irqs, i, sizeof(pc_level_irqs)))
			flags = INTI_LEVEL_HIGH;
		mp_intr(&t, MP_IOINTR, MP_INT, flags, 0, i, PC_IOAPIC_ID,
			i ? i : 2);
		n++;
	}
	mp_intr(&t, MP_LINTR, MP_EXTINT, 0, 0, 0, 0xff, 0);
	mp_intr(&t, MP_LINTR, MP_NMI, 0, 0, 0, 0xff, 1);
	n += 2;
	le_put(t.p + 4, 2, t.len);
	le_put(t.p + 34, 2, n);
	t.p[7] = checksum(t.p, t.len);

	putstr(&fp, "_MP_", 4);
	put32(&fp, PC_MPTABLE_ADDR);
	put8(&fp, 1);			/* length in 16-byte units */
	put8(&fp, 4);			/* spec revision 1.4 */
	put8(&fp, 0);			/* checksum */
	put8(&fp, 0);			/* feature 1: the table above */
	put32(&fp, 0);			/* feature 2-5: no IMCR */
	fp.p[10] = checksum(fp.p, 16);
}

/* The BIOS data area and the EBDA, as far as OSes look at them */
static void build_bda(struct guest_mem *m)
{
	u8 *bda = gpa_to_hva(m, PC_BDA_ADDR, PC_BDA_SIZE);
	u8 *ebda = gpa_to_hva(m, PC_EBDA_ADDR, PC_EBDA_SIZE);

	memset(bda, 0, PC_BDA_SIZE);
	le_put(bda + 0x00, 2, 0x3f8);		/* COM1 */
	le_put(bda + 0x0e, 2, PC_EBDA_ADDR >> 4);	/* EBDA segment */
	le_put(bda + 0x10, 2, 0x0202);		/* equipment: 1 COM, FPU */
	le_put(bda + 0x13, 2, PC_EBDA_ADDR >> 10);	/* base memory KiB */
	memset(ebda, 0, PC_EBDA_SIZE);
	ebda[0] = PC_EBDA_SIZE >> 10;		/* EBDA size in KiB */
}

int pc_firmware_build(struct guest_mem *m, unsigned int ncpus)
{
	if (guest_mem_claim(m, PC_BDA_ADDR, PC_BDA_SIZE, "BIOS data area") ||
	    guest_mem_claim(m, PC_EBDA_ADDR, PC_EBDA_SIZE, "EBDA") ||
	    guest_mem_claim(m, PC_ACPI_ADDR, PC_BIOS_END - PC_ACPI_ADDR,
			    "ACPI and MP tables"))
		return -1;
	memset(gpa_to_hva(m, PC_ACPI_ADDR, PC_BIOS_END - PC_ACPI_ADDR), 0,
	       PC_BIOS_END - PC_ACPI_ADDR);
	build_bda(m);
	if (build_acpi(m, ncpus))
		return -1;
	build_mptable(m, ncpus);
	return 0;
}
