// SPDX-License-Identifier: GPL-2.0
/*
 * SVM per-CPU state: EFER.SVME and the host save area while shv has VMs
 * (main.c drives this through CPU hotplug callbacks), and the ASID
 * allocator.  ASIDs are per CPU with a generation number: when a CPU runs
 * out, its generation moves on, every vCPU that next runs there gets a
 * fresh ASID, and the first entry of the new generation flushes the TLB.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/percpu.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/processor.h>

#include "svm.h"

struct shv_svm_cpu __percpu *shv_svm_cpus;
static u32 shv_svm_nr_asids;

int shv_svm_cpus_alloc(void)
{
	u32 eax, ebx, ecx, edx;

	cpuid(SVM_CPUID_FUNC, &eax, &ebx, &ecx, &edx);
	shv_svm_nr_asids = ebx;
	if (shv_svm_nr_asids < 2)
		return -ENODEV;
	shv_svm_cpus = alloc_percpu(struct shv_svm_cpu);
	return shv_svm_cpus ? 0 : -ENOMEM;
}

void shv_svm_cpus_free(void)
{
	free_percpu(shv_svm_cpus);
	shv_svm_cpus = NULL;
}

/* runs on the CPU being enabled (hotplug thread or the first VM) */
int shv_svm_cpu_enable(void)
{
	struct shv_svm_cpu *c = this_cpu_ptr(shv_svm_cpus);
	int node = cpu_to_node(smp_processor_id());
	u64 efer, vm_cr;

	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & (1 << SVM_VM_CR_SVM_DISABLE))
		return -EOPNOTSUPP;
	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;		/* someone else runs guests here */

	if (!c->hsave)
		c->hsave = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO, 0);
	if (!c->host_vmcb)
		c->host_vmcb = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO,
						0);
	if (!c->hsave || !c->host_vmcb) {
		if (c->hsave)
			__free_page(c->hsave);
		if (c->host_vmcb)
			__free_page(c->host_vmcb);
		c->hsave = NULL;
		c->host_vmcb = NULL;
		return -ENOMEM;
	}

	c->max_asid = shv_svm_nr_asids - 1;
	c->next_asid = c->max_asid + 1;	/* forces a new generation */
	c->asid_generation++;

	wrmsrl(MSR_EFER, efer | EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(c->hsave));
	c->enabled = true;
	return 0;
}

void shv_svm_cpu_disable(void)
{
	struct shv_svm_cpu *c = this_cpu_ptr(shv_svm_cpus);
	u64 efer;

	if (!c->enabled)
		return;
	wrmsrl(MSR_VM_HSAVE_PA, 0);
	rdmsrl(MSR_EFER, efer);
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	c->enabled = false;
	__free_page(c->hsave);
	__free_page(c->host_vmcb);
	c->hsave = NULL;
	c->host_vmcb = NULL;
}

/* called with IRQs off right before VMRUN */
void shv_svm_assign_asid(struct shv_svm_vcpu *svm)
{
	struct shv_svm_cpu *c = this_cpu_ptr(shv_svm_cpus);
	int cpu = smp_processor_id();

	if (svm->asid_cpu == cpu && svm->asid_generation == c->asid_generation)
		return;
	if (c->next_asid > c->max_asid) {
		c->asid_generation++;
		c->next_asid = 1;
		svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ALL_ASID;
	}
	svm->asid = c->next_asid++;
	svm->asid_cpu = cpu;
	svm->asid_generation = c->asid_generation;
	svm->vmcb->control.asid = svm->asid;
}
