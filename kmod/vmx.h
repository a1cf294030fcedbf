/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel VMX backend internals shared by vmx.c (VMCS, entry and exits),
 * vmx_cpu.c (VMXON per CPU, VMCS residency, VPIDs) and vmx_vmenter.S.
 */
#ifndef SHV_VMX_H
#define SHV_VMX_H

#include <linux/types.h>
#include <linux/list.h>
#include <asm/vmx.h>

#include "shv.h"

/* what the capability MSRs allow, decided once at probe time */
struct shv_vmx_caps {
	u32 revision;
	u32 vmcs_size;
	u32 pin, cpu, cpu2, exit, entry;	/* the controls we run with */
	u64 ept_vpid;			/* IA32_VMX_EPT_VPID_CAP */
	u64 misc;
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	bool ept, ug, vpid, vnmi;
	bool invept_single, invvpid_single;
	bool v86;			/* real mode in virtual-8086 mode (VME) */
	bool msr_bitmap;		/* CPU_BASED_USE_MSR_BITMAPS */
	bool tpr_shadow;		/* CPU_BASED_TPR_SHADOW */
	bool x2apic_virt;		/* ..._VIRTUALIZE_X2APIC_MODE */
	bool vid;			/* ..._VIRTUAL_INTR_DELIVERY */
};

extern struct shv_vmx_caps shv_vmx_caps;

struct shv_vmx_cpu {
	void *vmxon;			/* the VMXON region */
	void *current_vmcs;		/* VMPTRLD'd here, or NULL */
	struct list_head loaded;	/* VMCSs active on this CPU */
	bool enabled;
};

struct shv_vmx_vcpu {
	void *vmcs;
	u64 vmcs_pa;
	/* VMCS residency: the CPU it is active on (-1 clear) */
	int loaded_cpu;
	bool launched;
	struct list_head loaded_link;	/* on shv_vmx_cpu.loaded */
	bool host_cpu_dirty;		/* per-CPU host fields to rewrite */
	bool flush_pending;		/* INVVPID/INVEPT before entry */
	bool migrated;			/* run() found the VMCS elsewhere */
	u16 vpid;

	/* what the current controls are (to skip redundant VMWRITEs) */
	u32 cpu_ctls;
	u32 cpu2_ctls;
	u32 entry_ctls;
	u32 tpr_threshold;
	u64 host_cr3, host_cr4;
	u64 eptp;

	/* the exit, as read right after it */
	u32 exit_reason;
	u64 exit_qual;
	u64 exit_gpa;
	u32 exit_intr_info, exit_intr_err;
	u32 idt_info, idt_err;
	u32 exit_insn_len;
	u32 vm_insn_error;

	/* software-held guest state */
	u32 intr_state;			/* GUEST_INTERRUPTIBILITY_INFO */
	bool intr_state_dirty;
	u32 inject_info, inject_err;	/* VM_ENTRY_INTR_INFO_FIELD */
	u64 cr2, cr8;
	u64 dr[4], dr6, dr7;
	u64 star, lstar, cstar, sfmask, kernel_gs_base;
	u64 tsc_offset;
	bool triple_fault;		/* a fault while delivering #DF */

	/*
	 * Real mode without unrestricted guest (vmx_rm_*, vmx.rst): the
	 * guest's segment registers (ES..GS, and TR) are kept here while the
	 * VMCS holds the virtual-8086 disguise or nothing at all.
	 */
	struct {
		bool active;		/* CR0.PE clear under the shadow MMU */
		bool v86;		/* the VMCS's ES..GS are the disguise */
		bool idt_ok;		/* IDTR is the IVT at 0 (VME redirects) */
		bool pm_check;		/* PE set since: segments still real */
		struct shv_segment seg[SHV_NR_SEGS];
		u64 *pdpt;		/* the PAE root in v86 mode, < 4 GiB */
	} rm;

	/* the MSR bitmap (NULL: every RDMSR/WRMSR exits) */
	unsigned long *msr_bitmap;
	bool syscall_msrs_direct;	/* SYSCALL MSRs passed through now */

	/* TPR shadow: the virtual-APIC page (NULL: MOV CR8 exits) */
	u8 *vapic;
	bool x2apic_virt_on;		/* x2APIC TPR MSR virtualized now */
	/* virtual-interrupt delivery */
	bool vid_on;			/* the control is on now */
	bool vid_loaded;		/* the page holds the APIC's IRR/ISR */
	u64 eoi_exit[4];		/* EOI_EXIT_BITMAP0-3 as written */
};

/* a made-up exit reason: the VMCS was active on another CPU */
#define SHV_VMX_EXIT_MIGRATED	0xffff
/* made up: real mode has an event for the IVT, or code v86 cannot run */
#define SHV_VMX_EXIT_RM_EVENT	0xfffe
#define SHV_VMX_EXIT_RM_EMULATE	0xfffd

DECLARE_PER_CPU(struct shv_vmx_cpu, shv_vmx_cpus);

int shv_vmx_cpu_enable(void);
void shv_vmx_cpu_disable(void);
void shv_vmx_load(struct shv_vmx_vcpu *vmx);
void shv_vmx_put(void);
bool shv_vmx_attach_irqoff(struct shv_vmx_vcpu *vmx);
void shv_vmx_clear(struct shv_vmx_vcpu *vmx);
u16 shv_vmx_alloc_vpid(void);
void shv_vmx_free_vpid(u16 vpid);
void shv_vmx_flush_irqoff(struct shv_vmx_vcpu *vmx, bool ept);
void shv_vmx_set_host_cpu_state(struct shv_vmx_vcpu *vmx);

/* vmx_vmenter.S: 0 after a VM exit, 1 when VMLAUNCH/VMRESUME failed */
int shv_vmx_vmenter(u64 *regs, bool launched);
extern char shv_vmx_vmexit[];

/* --- VMCS access; the VMCS must be current on this CPU --- */

static __always_inline u64 vmcs_read(unsigned long field)
{
	unsigned long v;

	asm volatile("vmread %1, %0" : "=rm" (v) : "r" (field) : "cc");
	return v;
}

void shv_vmwrite_error(unsigned long field, u64 val);

static __always_inline void vmcs_write(unsigned long field, u64 val)
{
	asm goto("vmwrite %1, %0\n\t"
		 "jna %l[fail]"
		 : : "r" (field), "rm" (val) : "cc" : fail);
	return;
fail:
	shv_vmwrite_error(field, val);
}

#endif /* SHV_VMX_H */
