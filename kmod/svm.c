// SPDX-License-Identifier: GPL-2.0
/*
 * AMD SVM backend: detection, the VMCB, guest entry and the exit handlers.
 * The generic core owns the GPRs (RAX, RSP, RIP and RFLAGS are copied in
 * and out of the VMCB around VMRUN); segments, control registers and the
 * VMLOAD/VMSAVE MSRs live in the VMCB.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/io.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"
#include "emucore.h"
#include "svm.h"
#include "irq.h"
#include "hyperv.h"
#include "task_switch.h"

#define SVM_FEAT_NPT	BIT(0)
#define SVM_FEAT_NRIPS	BIT(3)
#define SVM_FEAT_FLUSHASID BIT(6)

#define IOPM_ORDER	2	/* 12 KiB used */
#define MSRPM_ORDER	1	/* 8 KiB */

#define SVM_NPF_WRITE	BIT_ULL(1)
#define SVM_NPF_FETCH	BIT_ULL(4)
#define SVM_NPF_GPT	BIT_ULL(33)	/* fault walking the guest's tables */

/* EXITINFO2 of the TASK_SWITCH intercept */
#define SVM_TS_IRET		BIT_ULL(36)
#define SVM_TS_JMP		BIT_ULL(38)
#define SVM_TS_HAS_ERROR	BIT_ULL(44)

/* DR7: L0-L3 and LE, cleared by a task switch */
#define DR7_LOCAL_ENABLES	0x155

#define SVM_DEFAULT_PAT	0x0007040600070406ull

static bool shv_svm_nrips;
bool shv_svm_flush_by_asid;

static inline struct shv_svm_vcpu *to_svm(struct shv_vcpu *vcpu)
{
	return vcpu->arch;
}

static inline struct vmcb *to_vmcb(struct shv_vcpu *vcpu)
{
	return to_svm(vcpu)->vmcb;
}

static inline bool svm_shadow(struct shv_vcpu *vcpu)
{
	return vcpu->vm->mmu_ops->shadow;
}

/* the guest's CR0 as it sees it */
static inline u64 vcpu_cr0(struct shv_vcpu *vcpu)
{
	return svm_shadow(vcpu) ? vcpu->cr0 : to_vmcb(vcpu)->save.cr0;
}

static void set_intercept(struct vmcb_control_area *c, unsigned int bit)
{
	c->intercepts[bit / 32] |= BIT(bit % 32);
}

/* --- segments --- */

static u16 seg_to_attrib(const struct shv_segment *s)
{
	if (s->unusable)
		return 0;
	return s->type | s->s << 4 | s->dpl << 5 | s->present << 7 |
	       s->avl << 8 | s->l << 9 | s->db << 10 | s->g << 11;
}

static void seg_to_vmcb(struct vmcb_seg *v, const struct shv_segment *s)
{
	v->selector = s->selector;
	v->attrib = seg_to_attrib(s);
	v->limit = s->limit;
	v->base = s->base;
}

static void seg_from_vmcb(struct shv_segment *s, const struct vmcb_seg *v)
{
	u16 a = v->attrib;

	*s = (struct shv_segment){
		.base = v->base, .limit = v->limit, .selector = v->selector,
		.type = a & 15, .s = (a >> 4) & 1, .dpl = (a >> 5) & 3,
		.present = (a >> 7) & 1, .avl = (a >> 8) & 1,
		.l = (a >> 9) & 1, .db = (a >> 10) & 1, .g = (a >> 11) & 1,
	};
	s->unusable = !s->present;
}

static struct vmcb_seg *svm_seg(struct vmcb *vmcb, int seg)
{
	switch (seg) {
	case SHV_SEG_ES: return &vmcb->save.es;
	case SHV_SEG_CS: return &vmcb->save.cs;
	case SHV_SEG_SS: return &vmcb->save.ss;
	case SHV_SEG_DS: return &vmcb->save.ds;
	case SHV_SEG_FS: return &vmcb->save.fs;
	case SHV_SEG_GS: return &vmcb->save.gs;
	case SHV_SEG_TR: return &vmcb->save.tr;
	default: return &vmcb->save.ldtr;
	}
}

static void svm_get_sregs(struct shv_vcpu *vcpu, struct shv_sregs *s)
{
	struct vmcb_save_area *v = &to_vmcb(vcpu)->save;

	memset(s, 0, sizeof(*s));
	seg_from_vmcb(&s->cs, &v->cs);
	seg_from_vmcb(&s->ds, &v->ds);
	seg_from_vmcb(&s->es, &v->es);
	seg_from_vmcb(&s->fs, &v->fs);
	seg_from_vmcb(&s->gs, &v->gs);
	seg_from_vmcb(&s->ss, &v->ss);
	seg_from_vmcb(&s->tr, &v->tr);
	seg_from_vmcb(&s->ldt, &v->ldtr);
	/* CS is usable whenever the vCPU runs code */
	s->cs.unusable = 0;
	s->gdt.base = v->gdtr.base;
	s->gdt.limit = v->gdtr.limit;
	s->idt.base = v->idtr.base;
	s->idt.limit = v->idtr.limit;
	s->cr2 = v->cr2;
	s->cr8 = to_vmcb(vcpu)->control.int_ctl & V_TPR_MASK;
	s->apic_base = vcpu->apic_base;
	if (svm_shadow(vcpu)) {
		s->cr0 = vcpu->cr0;
		s->cr3 = vcpu->cr3;
		s->cr4 = vcpu->cr4;
		s->efer = vcpu->efer;
	} else {
		s->cr0 = v->cr0;
		s->cr3 = v->cr3;
		s->cr4 = v->cr4;
		s->efer = v->efer & ~EFER_SVME;
	}
}

/*
 * Shadow paging: the hardware always pages (paged real mode when the
 * guest does not), always honours WP (to write-protect guest tables),
 * uses PAE-format roots for legacy guests, and never caches global or
 * PCID-tagged translations.  EFER.LME only takes effect with the guest's
 * own CR0.PG; EFER.NXE is always on, so that shadow entries can forbid
 * execution that the guest's NX bits do not (shv_shadow_efer()).
 */
static void svm_update_cr(struct shv_vcpu *vcpu)
{
	struct vmcb_save_area *v = &to_vmcb(vcpu)->save;
	u64 efer = vcpu->efer;

	if (!svm_shadow(vcpu))
		return;
	v->cr0 = (vcpu->cr0 | X86_CR0_PG | X86_CR0_WP) &
		 ~(X86_CR0_CD | X86_CR0_NW);
	v->cr4 = (vcpu->cr4 | X86_CR4_PAE) & ~(X86_CR4_PGE | X86_CR4_PCIDE);
	if (!(vcpu->cr0 & X86_CR0_PG))
		efer &= ~(EFER_LME | EFER_LMA);
	v->efer = shv_shadow_efer(efer) | EFER_SVME;
}

static void svm_set_sregs(struct shv_vcpu *vcpu, const struct shv_sregs *s)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	struct vmcb_save_area *v = &vmcb->save;

	seg_to_vmcb(&v->cs, &s->cs);
	seg_to_vmcb(&v->ds, &s->ds);
	seg_to_vmcb(&v->es, &s->es);
	seg_to_vmcb(&v->fs, &s->fs);
	seg_to_vmcb(&v->gs, &s->gs);
	seg_to_vmcb(&v->ss, &s->ss);
	seg_to_vmcb(&v->tr, &s->tr);
	seg_to_vmcb(&v->ldtr, &s->ldt);
	/* CS is always usable; keep its attributes even if marked otherwise */
	if (s->cs.unusable)
		v->cs.attrib = seg_to_attrib(&(struct shv_segment){
			.type = s->cs.type, .s = s->cs.s, .dpl = s->cs.dpl,
			.present = 1, .l = s->cs.l, .db = s->cs.db,
			.g = s->cs.g });
	v->gdtr.base = s->gdt.base;
	v->gdtr.limit = s->gdt.limit;
	v->idtr.base = s->idt.base;
	v->idtr.limit = s->idt.limit;
	v->cr2 = s->cr2;
	if (svm_shadow(vcpu)) {
		vcpu->cr0 = s->cr0;
		vcpu->cr3 = s->cr3;
		vcpu->cr4 = s->cr4;
		vcpu->efer = s->efer;
		svm_update_cr(vcpu);
	} else {
		v->cr0 = s->cr0;
		v->cr3 = s->cr3;
		v->cr4 = s->cr4;
		v->efer = s->efer | EFER_SVME;
	}
	vmcb->control.int_ctl = (vmcb->control.int_ctl & ~V_TPR_MASK) |
				(s->cr8 & V_TPR_MASK);
	if (!(s->cr0 & X86_CR0_PE))
		v->cpl = 0;
	else if (vcpu->rflags & SHV_RFLAGS_VM)
		v->cpl = 3;
	else
		v->cpl = s->ss.dpl;
}

static u64 svm_get_seg_base(struct shv_vcpu *vcpu, int seg)
{
	return svm_seg(to_vmcb(vcpu), seg)->base;
}

static int svm_get_cpl(struct shv_vcpu *vcpu)
{
	return to_vmcb(vcpu)->save.cpl;
}

static void svm_set_segment(struct shv_vcpu *vcpu, int seg,
			    const struct shv_segment *s)
{
	struct vmcb *vmcb = to_vmcb(vcpu);

	seg_to_vmcb(svm_seg(vmcb, seg), s);
	if (seg == SHV_SEG_SS && (vcpu_cr0(vcpu) & X86_CR0_PE) &&
	    !(vcpu->rflags & SHV_RFLAGS_VM))
		vmcb->save.cpl = s->dpl;
}

static void svm_set_dtable(struct shv_vcpu *vcpu, bool idt, u64 base,
			   u32 limit)
{
	struct vmcb_save_area *v = &to_vmcb(vcpu)->save;
	struct vmcb_seg *dt = idt ? &v->idtr : &v->gdtr;

	dt->base = base;
	dt->limit = limit;
}

/* an emulated STI or MOV SS: the next instruction runs in its shadow */
static void svm_insn_events(struct shv_vcpu *vcpu, unsigned int events)
{
	if (events & SHV_EMU_EV_SHADOW)
		to_vmcb(vcpu)->control.int_state |= SVM_INTERRUPT_SHADOW_MASK;
}

/* --- VMCB setup --- */

static void svm_vcpu_reset(struct shv_vcpu *vcpu)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	struct vmcb_save_area *v = &vmcb->save;
	struct vmcb_seg data = {
		.selector = 0, .attrib = 0x93, .limit = 0xffff, .base = 0,
	};

	memset(v, 0, sizeof(*v));
	v->cs = (struct vmcb_seg){
		.selector = 0xf000, .attrib = 0x9b, .limit = 0xffff,
		.base = 0xffff0000,
	};
	v->ds = data;
	v->es = data;
	v->fs = data;
	v->gs = data;
	v->ss = data;
	v->gdtr.limit = 0xffff;
	v->idtr.limit = 0xffff;
	v->ldtr = (struct vmcb_seg){ .attrib = 0x82, .limit = 0xffff };
	v->tr = (struct vmcb_seg){ .attrib = 0x8b, .limit = 0xffff };
	v->cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
	v->efer = EFER_SVME;
	v->dr6 = 0xffff0ff0;
	v->dr7 = 0x400;
	v->g_pat = SVM_DEFAULT_PAT;
	v->cpl = 0;

	vmcb->control.event_inj = 0;
	vmcb->control.int_state = 0;
	vmcb->control.int_ctl = V_INTR_MASKING_MASK;
	vmcb->control.tsc_offset = 0;

	vcpu->cr0 = v->cr0;
	vcpu->cr3 = 0;
	vcpu->cr4 = 0;
	vcpu->efer = 0;
	svm_update_cr(vcpu);
}

static void svm_init_control(struct shv_vcpu *vcpu)
{
	struct shv_svm_vm *svm_vm = vcpu->vm->arch;
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	static const unsigned int intercepts[] = {
		INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI, INTERCEPT_CPUID,
		INTERCEPT_INVD, INTERCEPT_HLT, INTERCEPT_INVLPGA,
		INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT, INTERCEPT_SHUTDOWN,
		INTERCEPT_VMRUN, INTERCEPT_VMMCALL, INTERCEPT_VMLOAD,
		INTERCEPT_VMSAVE, INTERCEPT_STGI, INTERCEPT_CLGI,
		INTERCEPT_SKINIT, INTERCEPT_RDTSCP, INTERCEPT_MONITOR,
		INTERCEPT_MWAIT, INTERCEPT_XSETBV, INTERCEPT_RDPRU,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(intercepts); i++)
		set_intercept(c, intercepts[i]);
	/* #AC and #DB loops in the guest must not wedge a host CPU */
	c->intercepts[INTERCEPT_EXCEPTION] |= BIT(SHV_AC_VECTOR) |
					      BIT(SHV_DB_VECTOR);
	/*
	 * INVPCID is not offered (CPUID hides it): on a CPU that has it,
	 * it would reach the hardware TLB and not the shadow MMU's roots.
	 */
	if (boot_cpu_has(X86_FEATURE_INVPCID))
		set_intercept(c, INTERCEPT_INVPCID);
	c->iopm_base_pa = svm_vm->iopm_pa;
	c->msrpm_base_pa = svm_vm->msrpm_pa;
	if (svm_shadow(vcpu)) {
		/* the guest's paging is ours to shadow */
		static const unsigned int sh[] = {
			INTERCEPT_CR0_READ, INTERCEPT_CR0_WRITE,
			INTERCEPT_CR3_READ, INTERCEPT_CR3_WRITE,
			INTERCEPT_CR4_READ, INTERCEPT_CR4_WRITE,
			INTERCEPT_INVLPG, INTERCEPT_TASK_SWITCH,
		};

		for (i = 0; i < ARRAY_SIZE(sh); i++)
			set_intercept(c, sh[i]);
		c->intercepts[INTERCEPT_EXCEPTION] |= BIT(SHV_PF_VECTOR);
		c->nested_ctl = 0;
	} else {
		c->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	}
	c->int_ctl = V_INTR_MASKING_MASK;
	c->asid = 0;	/* assigned at the first entry */
}

static int svm_vm_init(struct shv_vm *vm)
{
	struct shv_svm_vm *s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	struct page *p;

	if (!s)
		return -ENOMEM;
	p = alloc_pages(GFP_KERNEL_ACCOUNT, IOPM_ORDER);
	if (!p)
		goto err;
	s->iopm = page_address(p);
	p = alloc_pages(GFP_KERNEL_ACCOUNT, MSRPM_ORDER);
	if (!p)
		goto err_iopm;
	s->msrpm = page_address(p);
	memset(s->iopm, 0xff, PAGE_SIZE << IOPM_ORDER);
	memset(s->msrpm, 0xff, PAGE_SIZE << MSRPM_ORDER);
	s->iopm_pa = __pa(s->iopm);
	s->msrpm_pa = __pa(s->msrpm);
	vm->arch = s;
	return 0;

err_iopm:
	free_pages((unsigned long)s->iopm, IOPM_ORDER);
err:
	kfree(s);
	return -ENOMEM;
}

static void svm_vm_destroy(struct shv_vm *vm)
{
	struct shv_svm_vm *s = vm->arch;

	if (!s)
		return;
	free_pages((unsigned long)s->iopm, IOPM_ORDER);
	free_pages((unsigned long)s->msrpm, MSRPM_ORDER);
	kfree(s);
	vm->arch = NULL;
}

static int svm_vcpu_create(struct shv_vcpu *vcpu)
{
	struct shv_svm_vcpu *svm = kzalloc(sizeof(*svm), GFP_KERNEL_ACCOUNT);
	struct page *p;

	if (!svm)
		return -ENOMEM;
	p = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!p) {
		kfree(svm);
		return -ENOMEM;
	}
	svm->vmcb = page_address(p);
	svm->vmcb_pa = page_to_phys(p);
	svm->asid_cpu = -1;
	vcpu->arch = svm;
	svm_init_control(vcpu);
	svm_vcpu_reset(vcpu);
	return 0;
}

static void svm_vcpu_free(struct shv_vcpu *vcpu)
{
	struct shv_svm_vcpu *svm = to_svm(vcpu);

	if (!svm)
		return;
	free_page((unsigned long)svm->vmcb);
	kfree(svm);
	vcpu->arch = NULL;
}

/* --- MSRs kept in the VMCB --- */

static int svm_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	struct vmcb_save_area *v = &vmcb->save;

	switch (index) {
	case MSR_EFER:
		*data = svm_shadow(vcpu) ? vcpu->efer : v->efer & ~EFER_SVME;
		break;
	case MSR_STAR:
		*data = v->star;
		break;
	case MSR_LSTAR:
		*data = v->lstar;
		break;
	case MSR_CSTAR:
		*data = v->cstar;
		break;
	case MSR_SYSCALL_MASK:
		*data = v->sfmask;
		break;
	case MSR_KERNEL_GS_BASE:
		*data = v->kernel_gs_base;
		break;
	case MSR_FS_BASE:
		*data = v->fs.base;
		break;
	case MSR_GS_BASE:
		*data = v->gs.base;
		break;
	case MSR_IA32_SYSENTER_CS:
		*data = v->sysenter_cs;
		break;
	case MSR_IA32_SYSENTER_ESP:
		*data = v->sysenter_esp;
		break;
	case MSR_IA32_SYSENTER_EIP:
		*data = v->sysenter_eip;
		break;
	case MSR_IA32_CR_PAT:
		*data = v->g_pat;
		break;
	case MSR_IA32_TSC:
		*data = rdtsc() + vmcb->control.tsc_offset;
		break;
	case MSR_IA32_DEBUGCTLMSR:
		*data = 0;
		break;
	default:
		return -ENOENT;
	}
	return 0;
}

static int svm_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	struct vmcb_save_area *v = &vmcb->save;

	switch (index) {
	case MSR_EFER: {
		u64 valid = EFER_SCE | EFER_LME | EFER_LMA | EFER_NX;

		if (svm_shadow(vcpu))
			return shv_set_efer(vcpu, data, false);
		if (data & ~valid)
			return -EINVAL;
		/* LME cannot change while paging is on; LMA is read-only */
		if ((v->cr0 & X86_CR0_PG) &&
		    ((data ^ v->efer) & EFER_LME))
			return -EINVAL;
		v->efer = (data & ~EFER_LMA) | (v->efer & EFER_LMA) |
			  EFER_SVME;
		break;
	}
	case MSR_STAR:
		v->star = data;
		break;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		/* shv_set_msr() checked that the address is canonical */
		if (index == MSR_LSTAR)
			v->lstar = data;
		else if (index == MSR_CSTAR)
			v->cstar = data;
		else if (index == MSR_KERNEL_GS_BASE)
			v->kernel_gs_base = data;
		else if (index == MSR_FS_BASE)
			v->fs.base = data;
		else if (index == MSR_GS_BASE)
			v->gs.base = data;
		else if (index == MSR_IA32_SYSENTER_ESP)
			v->sysenter_esp = data;
		else
			v->sysenter_eip = data;
		break;
	case MSR_SYSCALL_MASK:
		v->sfmask = (u32)data;
		break;
	case MSR_IA32_SYSENTER_CS:
		v->sysenter_cs = data & 0xffff;
		break;
	case MSR_IA32_CR_PAT:
		v->g_pat = data;
		break;
	case MSR_IA32_TSC:
		vmcb->control.tsc_offset = data - rdtsc();
		break;
	case MSR_IA32_DEBUGCTLMSR:
		return 0;	/* only 0 gets here */
	default:
		return -ENOENT;
	}
	return 0;
}

/* --- events --- */

/*
 * Queue an exception.  When another exception is already pending (one
 * whose delivery caused this exit), combine them as the processor does:
 * a contributory or page fault during a page fault, or a contributory
 * fault during a contributory one, is a double fault; a fault while
 * delivering a double fault shuts the processor down.
 */
static void svm_queue_exception(struct shv_vcpu *vcpu, u8 vector,
				bool has_error, u32 error_code)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	u32 prev = vmcb->control.event_inj;
	int v = vector;

	if ((prev & SVM_EVTINJ_VALID) &&
	    (prev & SVM_EVTINJ_TYPE_MASK) == SVM_EVTINJ_TYPE_EXEPT)
		v = shv_combine_exceptions(prev & SVM_EVTINJ_VEC_MASK, vector);
	if (v < 0) {
		to_svm(vcpu)->triple_fault = true;
		return;
	}
	if (v != vector) {
		vector = v;	/* #DF, with an error code of 0 */
		has_error = true;
		error_code = 0;
	}
	/* real mode pushes no error code */
	if (!(vcpu_cr0(vcpu) & X86_CR0_PE))
		has_error = false;
	vmcb->control.event_inj = vector | SVM_EVTINJ_TYPE_EXEPT |
				  SVM_EVTINJ_VALID |
				  (has_error ? SVM_EVTINJ_VALID_ERR : 0);
	vmcb->control.event_inj_err = error_code;
}

static void svm_set_cr2(struct shv_vcpu *vcpu, u64 cr2)
{
	to_vmcb(vcpu)->save.cr2 = cr2;
}

static void svm_skip_insn(struct shv_vcpu *vcpu, u64 next_rip)
{
	struct vmcb *vmcb = to_vmcb(vcpu);

	if (!(vmcb->save.efer & EFER_LMA) || !vmcb->save.cs.attrib ||
	    !(vmcb->save.cs.attrib & (1 << 9)))
		next_rip = (u32)next_rip;
	vcpu->rip = next_rip;
	vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	/* a single-step trap follows the emulated instruction */
	if (vcpu->rflags & SHV_RFLAGS_TF) {
		vmcb->save.dr6 |= BIT(14);
		svm_queue_exception(vcpu, SHV_DB_VECTOR, false, 0);
	}
}

static void svm_flush_tlb(struct shv_vcpu *vcpu)
{
	struct shv_svm_vcpu *svm = to_svm(vcpu);

	if (shv_svm_flush_by_asid)
		svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	else
		svm->asid_generation = 0;	/* a new ASID at entry */
}

/*
 * An exit that interrupted the delivery of an event must deliver it again.
 * Software interrupts and INT3/INTO are re-executed instead (without NRIPS
 * there is no next RIP to inject them with).
 */
static void svm_requeue_event(struct shv_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	u32 info = c->exit_int_info;
	u32 type = info & SVM_EXITINTINFO_TYPE_MASK;
	u8 vector = info & SVM_EXITINTINFO_VEC_MASK;

	if (!(info & SVM_EXITINTINFO_VALID))
		return;
	if (type == SVM_EXITINTINFO_TYPE_SOFT)
		return;
	if (type == SVM_EXITINTINFO_TYPE_EXEPT &&
	    (vector == SHV_BP_VECTOR || vector == SHV_OF_VECTOR))
		return;
	c->event_inj = info;
	c->event_inj_err = c->exit_int_info_err;
}

/* --- interrupt injection --- */

/*
 * Request or cancel an exit at the next interrupt window (a virtual
 * interrupt that ignores V_TPR, with the VINTR intercept).  While an
 * interrupt is pending or held back by TPR, CR8 writes are intercepted
 * as well, so the APIC sees every priority change at once (and QEMU 7.2's
 * TCG, the test rig, aborts on a guest CR8 write while V_IRQ is set).
 */
static void svm_set_vintr(struct vmcb_control_area *c, bool on)
{
	c->int_ctl &= ~(V_IRQ_MASK | V_INTR_PRIO_MASK | V_IGN_TPR_MASK);
	c->intercepts[INTERCEPT_WORD3] &= ~BIT(INTERCEPT_VINTR - 96);
	if (!on)
		return;
	c->int_ctl |= V_IRQ_MASK | (0xf << V_INTR_PRIO_SHIFT) | V_IGN_TPR_MASK;
	c->int_vector = 0;
	set_intercept(c, INTERCEPT_VINTR);
}

static void svm_set_cr8_intercept(struct vmcb_control_area *c, bool on)
{
	if (on)
		set_intercept(c, INTERCEPT_CR8_WRITE);
	else
		c->intercepts[INTERCEPT_CR] &= ~BIT(INTERCEPT_CR8_WRITE);
}

/*
 * Right before VMRUN (IRQs off): inject an NMI or the highest deliverable
 * interrupt if the guest can take it now, else ask the hardware for an
 * exit as soon as it can (a virtual interrupt with the VINTR intercept;
 * with the APIC's priority and V_IGN_TPR clear when only the TPR holds it
 * back, so lowering CR8 opens the window without an exit of its own).
 */
static void svm_inject_events(struct shv_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	bool shadow = c->int_state & SVM_INTERRUPT_SHADOW_MASK;
	bool busy = c->event_inj & SVM_EVTINJ_VALID;
	int v;

	c->int_ctl = (c->int_ctl & ~V_TPR_MASK) |
		     (shv_lapic_get_cr8(vcpu) & V_TPR_MASK);

	/* nothing may be injected while we single-step the guest's IRET */
	if (to_svm(vcpu)->nmi_step)
		busy = true;
	if (READ_ONCE(vcpu->nmi_pending) && !vcpu->nmi_masked && !busy &&
	    !shadow) {
		WRITE_ONCE(vcpu->nmi_pending, false);
		vcpu->nmi_masked = true;
		c->event_inj = SHV_NMI_VECTOR | SVM_EVTINJ_TYPE_NMI |
			       SVM_EVTINJ_VALID;
		set_intercept(c, INTERCEPT_IRET);
		busy = true;
	}

	v = shv_lapic_pending(vcpu);
	if (v >= 0) {
		if (!busy && !shadow && (vcpu->rflags & SHV_RFLAGS_IF)) {
			v = shv_lapic_ack(vcpu, v);
			c->event_inj = v | SVM_EVTINJ_TYPE_INTR |
				       SVM_EVTINJ_VALID;
			vcpu->stats.irq_injections++;
			svm_set_vintr(c, false);
		} else {
			svm_set_vintr(c, true);
		}
		svm_set_cr8_intercept(c, true);
		return;
	}
	svm_set_vintr(c, false);
	/* held back by TPR only: a CR8 write that lowers it must exit */
	svm_set_cr8_intercept(c, shv_lapic_tpr_blocked(vcpu) >= 0);
}

/* --- guest entry --- */

/*
 * VMRUN saves the host state at VM_HSAVE_PA.  Should anything on this CPU
 * have moved it since shv enabled SVM here (another hypervisor that does
 * not respect EFER.SVME, say), that write would land in a page shv does
 * not own, perhaps a guest's VMCB: put ours back first.  Once seen in the
 * QEMU rig with KVM beside shv, as a guest VMCB holding the host's state.
 */
static void svm_check_hsave(struct shv_svm_cpu *c)
{
	u64 pa = page_to_phys(c->hsave), cur;

	rdmsrl(MSR_VM_HSAVE_PA, cur);
	if (likely(cur == pa))
		return;
	pr_warn_ratelimited("shv: CPU %d: VM_HSAVE_PA was %#llx, not %#llx: restored\n",
			    smp_processor_id(), cur, pa);
	wrmsrl(MSR_VM_HSAVE_PA, pa);
}

static void svm_run(struct shv_vcpu *vcpu)
{
	struct shv_svm_vcpu *svm = to_svm(vcpu);
	struct shv_svm_cpu *c = this_cpu_ptr(shv_svm_cpus);
	struct vmcb *vmcb = svm->vmcb;

	/* this CPU is going offline and gave up SVM: let it migrate us */
	if (unlikely(!c->enabled)) {
		vmcb->control.exit_code = SVM_EXIT_INTR;
		vmcb->control.exit_code_hi = 0;
		vmcb->control.exit_int_info = 0;
		return;
	}
	shv_svm_assign_asid(svm);
	if (svm_shadow(vcpu))
		vmcb->save.cr3 = vcpu->vm->mmu_ops->root_hpa(vcpu);
	else
		vmcb->control.nested_cr3 = vcpu->vm->mmu_ops->root_hpa(vcpu);
	vmcb->control.clean = 0;
	vmcb->save.rax = vcpu->regs[SHV_RAX];
	vmcb->save.rsp = vcpu->regs[SHV_RSP];
	vmcb->save.rip = vcpu->rip;
	vmcb->save.rflags = vcpu->rflags;
	if (vcpu->lapic)
		svm_inject_events(vcpu);

	svm_check_hsave(c);
	shv_svm_vmrun(svm->vmcb_pa, page_to_phys(c->host_vmcb), vcpu->regs);

	vcpu->regs[SHV_RAX] = vmcb->save.rax;
	vcpu->regs[SHV_RSP] = vmcb->save.rsp;
	vcpu->rip = vmcb->save.rip;
	vcpu->rflags = vmcb->save.rflags;
	vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	vmcb->control.event_inj = 0;
	if (vcpu->lapic)
		shv_lapic_set_cr8(vcpu, vmcb->control.int_ctl & V_TPR_MASK);
}

/* --- exits --- */

static u64 svm_next_rip(struct shv_vcpu *vcpu, unsigned int len)
{
	struct vmcb *vmcb = to_vmcb(vcpu);

	if (shv_svm_nrips && vmcb->control.next_rip)
		return vmcb->control.next_rip;
	return shv_insn_next_rip(vcpu, len);
}

static int svm_unhandled(struct shv_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	u64 data[4] = {
		((u64)c->exit_code_hi << 32) | c->exit_code,
		c->exit_info_1, c->exit_info_2, vcpu->rip,
	};

	return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_UNHANDLED, 4, data);
}

static int svm_handle_ioio(struct shv_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	u64 info = c->exit_info_1;
	u8 size = (info & SVM_IOIO_SIZE_MASK) >> SVM_IOIO_SIZE_SHIFT;

	/* SZ8/SZ16/SZ32 are one-hot; exit_info_2 is the next RIP */
	size = size & 4 ? 4 : size & 2 ? 2 : 1;
	if (vcpu->vm->irqchip && !(info & SVM_IOIO_STR_MASK)) {
		bool in = info & SVM_IOIO_TYPE_MASK;
		u32 val = vcpu->regs[SHV_RAX];

		if (shv_irq_pio(vcpu, info >> 16, size, in, &val)) {
			if (in)
				vcpu->regs[SHV_RAX] =
					(vcpu->regs[SHV_RAX] & ~0xffull) |
					(val & 0xff);
			svm_skip_insn(vcpu, c->exit_info_2);
			return 1;
		}
	}
	return shv_pio_exit(vcpu, info >> 16, size,
			    info & SVM_IOIO_TYPE_MASK, info & SVM_IOIO_STR_MASK,
			    info & SVM_IOIO_REP_MASK, c->exit_info_2);
}

static int svm_handle_msr(struct shv_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	u32 index = vcpu->regs[SHV_RCX];
	u64 data;

	vcpu->stats.msr_exits++;
	if (c->exit_info_1) {
		data = (u32)vcpu->regs[SHV_RAX] |
		       (vcpu->regs[SHV_RDX] << 32);
		if (shv_set_msr(vcpu, index, data, false)) {
			svm_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
			return 1;
		}
	} else {
		if (shv_get_msr(vcpu, index, &data, false)) {
			svm_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
			return 1;
		}
		vcpu->regs[SHV_RAX] = (u32)data;
		vcpu->regs[SHV_RDX] = data >> 32;
	}
	svm_skip_insn(vcpu, svm_next_rip(vcpu, 2));
	return 1;
}

static int svm_handle_npf(struct shv_vcpu *vcpu)
{
	struct vmcb_control_area *c = &to_vmcb(vcpu)->control;
	struct shv_vm *vm = vcpu->vm;
	u64 err = c->exit_info_1, gpa = c->exit_info_2;
	int r;

	r = vm->mmu_ops->nested_fault(vm, gpa, err & SVM_NPF_WRITE,
				      err & SVM_NPF_FETCH);
	if (r < 0) {
		u64 data[2] = { gpa, err };

		if (r == -EINTR)
			return 1;	/* the run loop sees the signal */
		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_UNHANDLED,
					  2, data);
	}
	if (r != SHV_MMU_EMULATE)
		return 1;
	/* no RAM: device memory, or a write to ROM */
	if ((err & SVM_NPF_GPT) || (err & SVM_NPF_FETCH)) {
		u64 data[3] = { gpa, err, vcpu->rip };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_FETCH, 3,
					  data);
	}
	return shv_mmio_exit(vcpu, gpa, err & SVM_NPF_WRITE);
}

static void svm_ts_commit(struct shv_vcpu *vcpu,
			  const struct shv_ts_info *info)
{
	struct shv_svm_vcpu *svm = to_svm(vcpu);
	struct vmcb *vmcb = svm->vmcb;

	vmcb->control.event_inj = 0;	/* delivered through the gate */
	vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	vmcb->save.dr7 &= ~DR7_LOCAL_ENABLES;
	/* the NMI handler's IRET (see SVM_EXIT_IRET) is done: unmask */
	if (info->source == SHV_TS_IRET && svm->nmi_step) {
		svm->nmi_step = false;
		vmcb->save.dr6 = svm->nmi_step_dr6;
		vcpu->nmi_masked = false;
	}
}

/*
 * A task switch under the shadow MMU (it loads CR3).  EXITINFO1 holds the
 * new TSS selector, EXITINFO2 says IRET or JMP and carries the error code
 * of an exception; an event in EXITINTINFO makes it a task gate in the
 * IDT, else it is a CALL.  RIP is on the instruction for CALL, JMP, IRET
 * and INT n/INT3/INTO: its length comes from the decoder.
 */
static int svm_handle_task_switch(struct shv_vcpu *vcpu)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	struct vmcb_control_area *c = &vmcb->control;
	u32 ii = c->exit_int_info;
	u32 type = ii & SVM_EXITINTINFO_TYPE_MASK;
	u8 vec = ii & SVM_EXITINTINFO_VEC_MASK;
	struct shv_ts_info ts = {
		.selector = c->exit_info_1,
		.commit = svm_ts_commit,
	};
	bool insn = true;
	int r;

	if (c->exit_info_2 & SVM_TS_IRET) {
		ts.source = SHV_TS_IRET;
	} else if (c->exit_info_2 & SVM_TS_JMP) {
		ts.source = SHV_TS_JMP;
	} else if (ii & SVM_EXITINTINFO_VALID) {
		ts.source = SHV_TS_GATE;
		insn = type == SVM_EXITINTINFO_TYPE_SOFT ||
		       (type == SVM_EXITINTINFO_TYPE_EXEPT &&
			(vec == SHV_BP_VECTOR || vec == SHV_OF_VECTOR));
		if (type == SVM_EXITINTINFO_TYPE_EXEPT &&
		    (c->exit_info_2 & SVM_TS_HAS_ERROR)) {
			ts.has_error = true;
			ts.error_code = c->exit_info_2;
		}
	} else {
		ts.source = SHV_TS_CALL;
	}
	ts.next_rip = insn ? (u32)shv_insn_next_rip(vcpu, 0) : vcpu->rip;
	/* our single step over the NMI handler's IRET is not the guest's */
	if (ts.source == SHV_TS_IRET && to_svm(vcpu)->nmi_step)
		vcpu->rflags &= ~(SHV_RFLAGS_TF | X86_EFLAGS_RF);
	r = shv_task_switch(vcpu, &ts);
	if (ts.debug_trap) {
		vmcb->save.dr6 |= BIT(15);	/* BT */
		svm_queue_exception(vcpu, SHV_DB_VECTOR, false, 0);
	}
	return r;
}

/* a triple fault: the VMCB is undefined afterwards, so start over */
static int svm_shutdown(struct shv_vcpu *vcpu, u32 code)
{
	vcpu->run->exit_reason = SHV_EXIT_SHUTDOWN;
	vcpu->run->shutdown.reason = code;
	to_svm(vcpu)->triple_fault = false;
	svm_vcpu_reset(vcpu);
	shv_vcpu_reset_regs(vcpu);
	if (svm_shadow(vcpu)) {
		vcpu->vm->mmu_ops->reset(vcpu);
		set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
	}
	return 0;
}

static int svm_finish_exit(struct shv_vcpu *vcpu, int r)
{
	if (to_svm(vcpu)->triple_fault)
		return svm_shutdown(vcpu, SVM_EXIT_SHUTDOWN);
	return r;
}

static int svm_dispatch_exit(struct shv_vcpu *vcpu);

static int svm_handle_exit(struct shv_vcpu *vcpu)
{
	return svm_finish_exit(vcpu, svm_dispatch_exit(vcpu));
}

static int svm_dispatch_exit(struct shv_vcpu *vcpu)
{
	struct vmcb *vmcb = to_vmcb(vcpu);
	u32 code = vmcb->control.exit_code;

	if (vmcb->control.exit_code_hi || code == (u32)SVM_EXIT_ERR) {
		vcpu->run->exit_reason = SHV_EXIT_FAIL_ENTRY;
		vcpu->run->hw.hardware_exit_reason = SVM_EXIT_ERR;
		vcpu->run->hw.info1 = vmcb->control.exit_info_1;
		vcpu->run->hw.info2 = vmcb->control.exit_info_2;
		return 0;
	}

	/*
	 * A sound processor never runs the guest on the host's own state.
	 * QEMU 7.2's emulated SVM with a thread per CPU (MTTCG) now and then
	 * does (Documentation/testing.rst): the exit then holds the host's
	 * CR3 and RIP, just past VMRUN, and the guest's state is lost.  Say
	 * so rather than emulate host code as the guest's.
	 */
	if (unlikely(vmcb->save.rip == (unsigned long)shv_svm_vmrun_ret &&
		     vmcb->save.cr3 == __read_cr3())) {
		u64 data[2] = { ((u64)vmcb->control.exit_code_hi << 32) | code,
				vmcb->save.rip };

		pr_warn_ratelimited("vCPU %u entered the guest on the host's state (a broken VMRUN)\n",
				    vcpu->id);
		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_HOST_STATE,
					  2, data);
	}

	svm_requeue_event(vcpu);

	switch (code) {
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
	case SVM_EXIT_SMI:
		return 1;
	case SVM_EXIT_CPUID:
		shv_emulate_cpuid(vcpu);
		svm_skip_insn(vcpu, svm_next_rip(vcpu, 2));
		return 1;
	case SVM_EXIT_HLT:
		svm_skip_insn(vcpu, svm_next_rip(vcpu, 1));
		if (vcpu->lapic) {
			/* the in-kernel APIC wakes it: sleep in the kernel */
			WRITE_ONCE(vcpu->mp_state, SHV_MP_HALTED);
			return 1;
		}
		vcpu->run->exit_reason = SHV_EXIT_HLT;
		return 0;
	case SVM_EXIT_VINTR:
		svm_set_vintr(&vmcb->control, false);
		return 1;
	case SVM_EXIT_IRET:
		/*
		 * The NMI handler is returning.  NMIs are unmasked once the
		 * IRET completed: single-step over it (a #DB trap follows
		 * the IRET whatever flags it loads) and unmask at that #DB.
		 */
		vmcb->control.intercepts[INTERCEPT_WORD3] &=
			~BIT(INTERCEPT_IRET - 96);
		to_svm(vcpu)->nmi_step = true;
		to_svm(vcpu)->nmi_step_dr6 = vmcb->save.dr6;
		vcpu->rflags |= SHV_RFLAGS_TF | X86_EFLAGS_RF;
		return 1;
	case SVM_EXIT_IOIO:
		return svm_handle_ioio(vcpu);
	case SVM_EXIT_MSR:
		return svm_handle_msr(vcpu);
	case SVM_EXIT_NPF:
		return svm_handle_npf(vcpu);
	case SVM_EXIT_READ_CR0:
	case SVM_EXIT_READ_CR3:
	case SVM_EXIT_READ_CR4:
	case SVM_EXIT_WRITE_CR0:
	case SVM_EXIT_WRITE_CR3:
	case SVM_EXIT_WRITE_CR4:
	case SVM_EXIT_WRITE_CR8:
		return shv_emulate_cr_access(vcpu);
	case SVM_EXIT_INVLPG:
		return shv_emulate_invlpg(vcpu);
	case SVM_EXIT_TASK_SWITCH:
		return svm_handle_task_switch(vcpu);
	case SVM_EXIT_EXCP_BASE + SHV_PF_VECTOR:
		return vcpu->vm->mmu_ops->page_fault(vcpu,
						     vmcb->control.exit_info_2,
						     vmcb->control.exit_info_1);
	case SVM_EXIT_VMMCALL:
		if (shv_hv_hypercall(vcpu, svm_next_rip(vcpu, 3)))
			return 1;
		return shv_hypercall_exit(vcpu, svm_next_rip(vcpu, 3));
	case SVM_EXIT_INVD:
		svm_skip_insn(vcpu, svm_next_rip(vcpu, 2));
		return 1;
	case SVM_EXIT_SHUTDOWN:
		return svm_shutdown(vcpu, code);
	case SVM_EXIT_EXCP_BASE + SHV_AC_VECTOR:
		svm_queue_exception(vcpu, SHV_AC_VECTOR, true,
				    vmcb->control.exit_info_1);
		return 1;
	case SVM_EXIT_EXCP_BASE + SHV_DB_VECTOR:
		if (to_svm(vcpu)->nmi_step) {
			/* our step over the NMI handler's IRET: it is done */
			to_svm(vcpu)->nmi_step = false;
			vmcb->save.dr6 = to_svm(vcpu)->nmi_step_dr6;
			vcpu->nmi_masked = false;
			return 1;
		}
		svm_queue_exception(vcpu, SHV_DB_VECTOR, false, 0);
		return 1;
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_INVLPGA:
	case SVM_EXIT_RDTSCP:
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
	case SVM_EXIT_XSETBV:
	case SVM_EXIT_RDPRU:
	case SVM_EXIT_INVPCID:
		/* not offered to the guest: #UD as on a CPU without them */
		svm_queue_exception(vcpu, SHV_UD_VECTOR, false, 0);
		return 1;
	default:
		return svm_unhandled(vcpu);
	}
}

/* --- probe --- */

static void svm_hw_teardown(void)
{
	shv_svm_cpus_free();
}

const struct shv_arch_ops shv_svm_ops = {
	.name		= "svm",
	.vendor		= SHV_VENDOR_SVM,
	.cpu_enable	= shv_svm_cpu_enable,
	.cpu_disable	= shv_svm_cpu_disable,
	.hw_teardown	= svm_hw_teardown,
	.vm_init	= svm_vm_init,
	.vm_destroy	= svm_vm_destroy,
	.vcpu_create	= svm_vcpu_create,
	.vcpu_free	= svm_vcpu_free,
	.vcpu_reset	= svm_vcpu_reset,
	.get_sregs	= svm_get_sregs,
	.set_sregs	= svm_set_sregs,
	.update_cr	= svm_update_cr,
	.get_seg_base	= svm_get_seg_base,
	.get_cpl	= svm_get_cpl,
	.set_segment	= svm_set_segment,
	.set_dtable	= svm_set_dtable,
	.insn_events	= svm_insn_events,
	.get_msr	= svm_get_msr,
	.set_msr	= svm_set_msr,
	.run		= svm_run,
	.handle_exit	= svm_handle_exit,
	.skip_insn	= svm_skip_insn,
	.queue_exception = svm_queue_exception,
	.set_cr2	= svm_set_cr2,
	.flush_tlb	= svm_flush_tlb,
};

static struct shv_arch_ops shv_svm_ops_rt;

const struct shv_arch_ops *shv_svm_probe(void)
{
	u32 eax, ebx, ecx, edx;
	u64 vm_cr;
	int r;

	if (!boot_cpu_has(X86_FEATURE_SVM))
		return ERR_PTR(-ENODEV);
	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & (1 << SVM_VM_CR_SVM_DISABLE)) {
		pr_err("SVM is disabled by the firmware (VM_CR.SVMDIS)\n");
		return ERR_PTR(-EOPNOTSUPP);
	}
	cpuid(SVM_CPUID_FUNC, &eax, &ebx, &ecx, &edx);
	shv_svm_nrips = edx & SVM_FEAT_NRIPS;
	shv_svm_flush_by_asid = edx & SVM_FEAT_FLUSHASID;

	r = shv_svm_cpus_alloc();
	if (r)
		return ERR_PTR(r);
	shv_svm_ops_rt = shv_svm_ops;
	shv_svm_ops_rt.nested_paging = edx & SVM_FEAT_NPT;
	/* V_TPR: CR8 writes are intercepted only while one may unblock */
	shv_svm_ops_rt.accel = SHV_ACCEL_TPR_SHADOW;
	pr_info("SVM: %u ASIDs, NPT %s, NRIPS %s\n", ebx,
		(edx & SVM_FEAT_NPT) ? "yes" : "no",
		shv_svm_nrips ? "yes" : "no (instruction lengths decoded)");
	return &shv_svm_ops_rt;
}
