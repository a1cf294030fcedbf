// SPDX-License-Identifier: GPL-2.0
/*
 * pc_smp: count the CPUs (fw_cfg, MADT, MP table), start every AP with
 * INIT-SIPI-SIPI, and send each an IPI.  Command line: cpus=N.
 */
#include "acpi.h"

#define FW_CFG_NB_CPUS	0x05
#define IPI_VECTOR	0x70

static volatile u32 online;
static volatile u32 ap_apic_id[MAX_CPUS + 1];
static volatile u32 ap_ipis[MAX_CPUS + 1];
static volatile u32 ap_index_of_apic[256];

static void ipi_isr(struct frame *f)
{
	(void)f;
	ap_ipis[ap_index_of_apic[apic_id()]]++;
	apic_eoi();
}

void ap_main(u32 index)
{
	u32 id = apic_id();

	ap_apic_id[index] = id;
	ap_index_of_apic[id & 0xff] = index;
	__atomic_add_fetch(&online, 1, __ATOMIC_SEQ_CST);
	for (;;)
		asm volatile("sti; hlt; cli");
}

void test_main(void)
{
	u32 cpus = atou(arg_value("cpus") ? arg_value("cpus") : "1");
	u32 fw = fwcfg_u64(FW_CFG_NB_CPUS, 2), madt, i, good;
	u8 ids[MAX_CPUS];
	u32 start, end;

	ok(fw == cpus, "fw_cfg: %u CPUs", fw);
	madt = madt_cpus(ids, MAX_CPUS);
	ok(madt == cpus, "MADT: %u CPUs", madt);
	ok(apic_id() == 0, "BSP is APIC 0");
	apic_enable();
	set_isr(IPI_VECTOR, ipi_isr);

	memcpy((void *)AP_TRAMPOLINE, ap_tramp, ap_tramp_end - ap_tramp);
	start = pm_timer();
	apic_icr(0, 0xc4500);			/* INIT, assert, all but self */
	pm_delay_us(10000);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));	/* SIPI */
	pm_delay_us(200);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
	for (i = 0; i < 3000 && online < cpus - 1; i++)
		pm_delay_us(10000);
	end = pm_timer();
	ok(online == cpus - 1, "%u APs started", online);
	diag("APs up after %u ms", (u32)div64((u64)((end - start) & 0xffffff) * 1000,
					      PM_TIMER_HZ, NULL));

	/* the APs' APIC IDs are the MADT's, each once */
	good = online == cpus - 1;
	for (i = 1; i < cpus && good; i++) {
		u32 j, found = 0;

		for (j = 1; j < cpus; j++)
			found += ap_apic_id[j] == ids[i];
		good = found == 1;
	}
	ok(good, "AP APIC IDs match the MADT");

	/* a fixed IPI to each AP */
	for (i = 1; i < cpus; i++)
		apic_icr(ids[i], IPI_VECTOR);	/* fixed, physical */
	good = true;
	for (i = 1; i < cpus; i++)
		good &= wait_for(&ap_ipis[i], 2000000);
	ok(good, "every AP took an IPI");
	good = true;
	for (i = 1; i < cpus; i++)
		good &= ap_ipis[i] == 1;
	ok(good, "exactly one each");
}
