// SPDX-License-Identifier: GPL-2.0
/*
 * VMX per-CPU state: VMX operation (CR4.VMXE and VMXON) while shv has VMs
 * (main.c drives this through CPU hotplug callbacks), the residency of
 * each vCPU's VMCS, and the VPID allocator.
 *
 * A VMCS is active on at most one CPU.  It becomes active where it is
 * first used (shv_vmx_load(), or guest entry) and stays there, on that
 * CPU's list, until it is cleared: by an IPI from the CPU that wants it
 * next (the vCPU thread migrated), by the CPU's own teardown before
 * VMXOFF, or when the vCPU is freed.  Guest entry runs with IRQs off and
 * cannot wait for an IPI, so when it finds the VMCS active elsewhere it
 * returns a made-up exit; the exit handler, preemptible again, moves it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/percpu.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/bitmap.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/processor.h>
#include <asm/tlbflush.h>
#include <asm/desc.h>
#include <asm/special_insns.h>

#include "vmx.h"

DEFINE_PER_CPU(struct shv_vmx_cpu, shv_vmx_cpus);

#define VMX_NR_VPIDS_USED	4096
static DECLARE_BITMAP(shv_vmx_vpids, VMX_NR_VPIDS_USED);
static DEFINE_SPINLOCK(shv_vmx_vpid_lock);

/* 0 when no VPID is left: the vCPU then runs untagged */
u16 shv_vmx_alloc_vpid(void)
{
	unsigned long v;

	if (!shv_vmx_caps.vpid)
		return 0;
	spin_lock(&shv_vmx_vpid_lock);
	v = find_next_zero_bit(shv_vmx_vpids, VMX_NR_VPIDS_USED, 1);
	if (v < VMX_NR_VPIDS_USED)
		__set_bit(v, shv_vmx_vpids);
	else
		v = 0;
	spin_unlock(&shv_vmx_vpid_lock);
	return v;
}

void shv_vmx_free_vpid(u16 vpid)
{
	if (!vpid)
		return;
	spin_lock(&shv_vmx_vpid_lock);
	__clear_bit(vpid, shv_vmx_vpids);
	spin_unlock(&shv_vmx_vpid_lock);
}

static int vmx_vmxon(u64 pa)
{
	/* CR4.VMXE and IA32_FEATURE_CONTROL were checked: no #GP here */
	asm goto("vmxon %0\n\t"
		 "jna %l[fail]"
		 : : "m" (pa) : "memory", "cc" : fail);
	return 0;
fail:
	return -EBUSY;
}

static void vmx_vmclear(u64 pa)
{
	asm volatile("vmclear %0" : : "m" (pa) : "memory", "cc");
}

static void vmx_vmptrld(u64 pa)
{
	asm volatile("vmptrld %0" : : "m" (pa) : "memory", "cc");
}

struct vmx_inv_desc {
	u64 a, b;
};

static void vmx_invept(unsigned long type, u64 eptp)
{
	struct vmx_inv_desc d = { eptp, 0 };

	asm volatile("invept %0, %1" : : "m" (d), "r" (type) : "memory", "cc");
}

static void vmx_invvpid(unsigned long type, u16 vpid)
{
	struct vmx_inv_desc d = { vpid, 0 };

	asm volatile("invvpid %0, %1" : : "m" (d), "r" (type) :
		     "memory", "cc");
}

/* drop what this CPU may cache of the vCPU's translations */
void shv_vmx_flush_irqoff(struct shv_vmx_vcpu *vmx, bool ept)
{
	struct shv_vmx_caps *c = &shv_vmx_caps;

	if (ept && vmx->eptp)
		vmx_invept(c->invept_single ? VMX_EPT_EXTENT_CONTEXT :
			   VMX_EPT_EXTENT_GLOBAL, vmx->eptp);
	if (vmx->vpid)
		vmx_invvpid(c->invvpid_single ? VMX_VPID_EXTENT_SINGLE_CONTEXT :
			    VMX_VPID_EXTENT_ALL_CONTEXT, vmx->vpid);
	vmx->flush_pending = false;
}

/* runs on the CPU being enabled (hotplug thread or the first VM) */
int shv_vmx_cpu_enable(void)
{
	struct shv_vmx_cpu *c = this_cpu_ptr(&shv_vmx_cpus);
	int node = cpu_to_node(smp_processor_id());
	struct page *p;
	u64 feat, cr0;
	int r;

	if (cr4_read_shadow() & X86_CR4_VMXE)
		return -EBUSY;		/* another hypervisor runs guests here */
	rdmsrl(MSR_IA32_FEAT_CTL, feat);
	if (!(feat & FEAT_CTL_LOCKED)) {
		feat |= FEAT_CTL_LOCKED | FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX;
		wrmsrl(MSR_IA32_FEAT_CTL, feat);
	}
	if (!(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX))
		return -EOPNOTSUPP;
	cr0 = read_cr0();
	if ((cr0 & shv_vmx_caps.cr0_fixed0) != shv_vmx_caps.cr0_fixed0 ||
	    (cr0 & ~shv_vmx_caps.cr0_fixed1))
		return -EOPNOTSUPP;

	if (!c->vmxon) {
		p = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO, 0);
		if (!p)
			return -ENOMEM;
		c->vmxon = page_address(p);
	}
	*(u32 *)c->vmxon = shv_vmx_caps.revision;
	INIT_LIST_HEAD(&c->loaded);
	c->current_vmcs = NULL;

	cr4_set_bits(X86_CR4_VMXE);
	r = vmx_vmxon(__pa(c->vmxon));
	if (r) {
		cr4_clear_bits(X86_CR4_VMXE);
		free_page((unsigned long)c->vmxon);
		c->vmxon = NULL;
		return r;
	}
	/* whoever used VMX here before may have left translations behind */
	if (shv_vmx_caps.ept_vpid & VMX_EPT_EXTENT_GLOBAL_BIT)
		vmx_invept(VMX_EPT_EXTENT_GLOBAL, 0);
	if (shv_vmx_caps.ept_vpid & ((u64)VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT << 32))
		vmx_invvpid(VMX_VPID_EXTENT_ALL_CONTEXT, 0);
	c->enabled = true;
	return 0;
}

/* make the VMCS inactive on this CPU (IRQs off, on its CPU) */
static void vmx_clear_here(struct shv_vmx_vcpu *vmx)
{
	struct shv_vmx_cpu *c = this_cpu_ptr(&shv_vmx_cpus);

	if (READ_ONCE(vmx->loaded_cpu) != smp_processor_id())
		return;
	vmx_vmclear(vmx->vmcs_pa);
	if (c->current_vmcs == vmx->vmcs)
		c->current_vmcs = NULL;
	list_del(&vmx->loaded_link);
	vmx->launched = false;
	/* the VMCS is in memory before another CPU may load it */
	smp_wmb();
	WRITE_ONCE(vmx->loaded_cpu, -1);
}

static void vmx_clear_ipi(void *info)
{
	vmx_clear_here(info);
}

void shv_vmx_cpu_disable(void)
{
	struct shv_vmx_cpu *c = this_cpu_ptr(&shv_vmx_cpus);
	struct shv_vmx_vcpu *vmx, *tmp;
	unsigned long flags;

	if (!c->enabled)
		return;
	local_irq_save(flags);
	list_for_each_entry_safe(vmx, tmp, &c->loaded, loaded_link)
		vmx_clear_here(vmx);
	asm volatile("vmxoff" : : : "cc", "memory");
	cr4_clear_bits(X86_CR4_VMXE);
	c->enabled = false;
	local_irq_restore(flags);
	free_page((unsigned long)c->vmxon);
	c->vmxon = NULL;
}

/* make the VMCS inactive wherever it is (may sleep-wait for an IPI) */
void shv_vmx_clear(struct shv_vmx_vcpu *vmx)
{
	int cpu = READ_ONCE(vmx->loaded_cpu);

	if (cpu >= 0)
		smp_call_function_single(cpu, vmx_clear_ipi, vmx, 1);
	/* an offline CPU cleared everything on its way down */
}

/*
 * With IRQs off: make the VMCS active on this CPU, and current.  False
 * when it is still active on another CPU (the caller cannot IPI now) or
 * this CPU is not in VMX operation.
 */
bool shv_vmx_attach_irqoff(struct shv_vmx_vcpu *vmx)
{
	struct shv_vmx_cpu *c = this_cpu_ptr(&shv_vmx_cpus);
	int cpu = smp_processor_id();
	int old = READ_ONCE(vmx->loaded_cpu);

	if (!c->enabled)
		return false;
	if (old != cpu) {
		if (old >= 0)
			return false;
		/* pairs with the barrier in vmx_clear_here() */
		smp_rmb();
		vmx_vmptrld(vmx->vmcs_pa);
		c->current_vmcs = vmx->vmcs;
		list_add(&vmx->loaded_link, &c->loaded);
		WRITE_ONCE(vmx->loaded_cpu, cpu);
		vmx->launched = false;
		/* this CPU may hold stale translations from an earlier visit */
		vmx->flush_pending = true;
		vmx->host_cpu_dirty = true;
	}
	if (c->current_vmcs != vmx->vmcs) {
		vmx_vmptrld(vmx->vmcs_pa);
		c->current_vmcs = vmx->vmcs;
	}
	return true;
}

/*
 * Preemptible context: make the VMCS current on this CPU and keep the
 * thread here until shv_vmx_put().
 */
void shv_vmx_load(struct shv_vmx_vcpu *vmx)
{
	unsigned long flags;
	int cpu;

	for (;;) {
		cpu = get_cpu();
		local_irq_save(flags);
		if (shv_vmx_attach_irqoff(vmx)) {
			local_irq_restore(flags);
			return;
		}
		local_irq_restore(flags);
		if (!this_cpu_ptr(&shv_vmx_cpus)->enabled) {
			/* going offline: nothing can be loaded here */
			WARN_ONCE(1, "shv: VMCS access on a CPU without VMX\n");
			return;
		}
		shv_vmx_clear(vmx);
		put_cpu();
	}
}

void shv_vmx_put(void)
{
	put_cpu();
}

void shv_vmwrite_error(unsigned long field, u64 val)
{
	pr_err_ratelimited("VMWRITE %#lx = %#llx failed (error %llu)\n", field,
			   val, (u64)vmcs_read(VM_INSTRUCTION_ERROR));
}

/* the host state that belongs to this CPU: TSS, GDT, IDT, SYSENTER */
void shv_vmx_set_host_cpu_state(struct shv_vmx_vcpu *vmx)
{
	struct desc_ptr gdt, idt;
	struct ldttss_desc *tss;
	u64 v, base;
	u16 tr;

	native_store_gdt(&gdt);
	store_idt(&idt);
	asm volatile("str %0" : "=r" (tr));
	tss = (struct ldttss_desc *)(gdt.address + (tr & ~7));
	base = tss->base0 | ((u64)tss->base1 << 16) | ((u64)tss->base2 << 24) |
	       ((u64)tss->base3 << 32);
	vmcs_write(HOST_TR_SELECTOR, tr);
	vmcs_write(HOST_TR_BASE, base);
	vmcs_write(HOST_GDTR_BASE, gdt.address);
	vmcs_write(HOST_IDTR_BASE, idt.address);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	vmcs_write(HOST_IA32_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vmcs_write(HOST_IA32_SYSENTER_ESP, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	vmcs_write(HOST_IA32_SYSENTER_EIP, v);
	rdmsrl(MSR_GS_BASE, v);
	vmcs_write(HOST_GS_BASE, v);
	rdmsrl(MSR_EFER, v);
	vmcs_write(HOST_IA32_EFER, v);
	rdmsrl(MSR_IA32_CR_PAT, v);
	vmcs_write(HOST_IA32_PAT, v);
	vmx->host_cpu_dirty = false;
}
