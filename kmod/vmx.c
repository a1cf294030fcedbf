// SPDX-License-Identifier: GPL-2.0
/*
 * Intel VMX backend: feature discovery, the VMCS, guest entry and the exit
 * handlers.  It mirrors svm.c: the generic core owns the GPRs, RIP and
 * RFLAGS (copied in and out of the VMCS around each entry) and, under
 * both MMUs, the guest's CR0, CR4 and EFER (vcpu->cr0/cr4/efer): every
 * CR0/CR4 bit is host-owned, so writes that change one exit and go
 * through cr.c, and the hardware values derive from them (update_cr).
 * Under EPT the guest owns CR3; under the shadow MMU CR3 loads exit too.
 *
 * The VMCS can only be read and written where it is current, so every
 * access outside guest entry brackets itself with shv_vmx_load() and
 * shv_vmx_put() (vmx_cpu.c moves it between CPUs).  See
 * Documentation/vmx.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <asm/io.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/msr-index.h>
#include <asm/processor-flags.h>
#include <asm/desc.h>
#include <asm/debugreg.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/apicdef.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"
#include "emucore.h"
#include "vmx.h"
#include "irq.h"
#include "hyperv.h"
#include "task_switch.h"

static bool unrestricted_guest = true;
module_param(unrestricted_guest, bool, 0444);
MODULE_PARM_DESC(unrestricted_guest,
		 "VMX: use unrestricted guest (and with it EPT) if available");

static bool ept = true;
module_param(ept, bool, 0444);
MODULE_PARM_DESC(ept, "VMX: offer EPT as nested paging if available");

static bool msr_bitmap = true;
module_param(msr_bitmap, bool, 0444);
MODULE_PARM_DESC(msr_bitmap,
		 "VMX: let the guest access the MSRs the VMCS switches without exits");

static bool tpr_shadow = true;
module_param(tpr_shadow, bool, 0444);
MODULE_PARM_DESC(tpr_shadow,
		 "VMX: TPR shadow (CR8 and the x2APIC TPR without exits) if available");

static bool apicv = true;
module_param(apicv, bool, 0444);
MODULE_PARM_DESC(apicv,
		 "VMX: virtual-interrupt delivery (needs tpr_shadow) if available");

struct shv_vmx_caps shv_vmx_caps;

/* host MSRs the guest's values replace while it runs (same on all CPUs) */
static u64 host_star, host_lstar, host_cstar, host_sfmask;
static bool host_has_debugctl;	/* not every (emulated) CPU has it */

#define VMX_DEFAULT_PAT		0x0007040600070406ull
#define VMX_AR_UNUSABLE		VMX_AR_UNUSABLE_MASK

static inline struct shv_vmx_vcpu *to_vmx(struct shv_vcpu *vcpu)
{
	return vcpu->arch;
}

static inline bool vmx_shadow(struct shv_vcpu *vcpu)
{
	return vcpu->vm->mmu_ops->shadow;
}

static void vmx_load(struct shv_vcpu *vcpu)
{
	shv_vmx_load(to_vmx(vcpu));
}

static void vmx_put(void)
{
	shv_vmx_put();
}

/* --- segments --- */

static const struct {
	u32 sel, base, limit, ar;
} vmx_segs[SHV_NR_SEGS] = {
#define SEG(s) { GUEST_##s##_SELECTOR, GUEST_##s##_BASE, GUEST_##s##_LIMIT, \
		 GUEST_##s##_AR_BYTES }
	[SHV_SEG_ES] = SEG(ES), [SHV_SEG_CS] = SEG(CS), [SHV_SEG_SS] = SEG(SS),
	[SHV_SEG_DS] = SEG(DS), [SHV_SEG_FS] = SEG(FS), [SHV_SEG_GS] = SEG(GS),
	[SHV_SEG_TR] = SEG(TR), [SHV_SEG_LDTR] = SEG(LDTR),
#undef SEG
};

static u32 seg_to_ar(const struct shv_segment *s)
{
	if (s->unusable || !s->present)
		return VMX_AR_UNUSABLE;
	return s->type | s->s << 4 | s->dpl << 5 | s->present << 7 |
	       s->avl << 12 | s->l << 13 | s->db << 14 | s->g << 15;
}

static void seg_from_vmcs(struct shv_segment *s, int seg)
{
	u32 ar = vmcs_read(vmx_segs[seg].ar);

	*s = (struct shv_segment){
		.base = vmcs_read(vmx_segs[seg].base),
		.limit = vmcs_read(vmx_segs[seg].limit),
		.selector = vmcs_read(vmx_segs[seg].sel),
		.type = ar & 15, .s = (ar >> 4) & 1, .dpl = (ar >> 5) & 3,
		.present = (ar >> 7) & 1, .avl = (ar >> 12) & 1,
		.l = (ar >> 13) & 1, .db = (ar >> 14) & 1, .g = (ar >> 15) & 1,
		.unusable = (ar >> 16) & 1,
	};
	if (s->unusable)
		s->present = 0;
}

/*
 * Store a segment, fixing up what VM entry would refuse but a processor
 * could hold: usable code/data segments are always accessed, TR is a busy
 * TSS, and the granularity matches the limit.
 */
static void seg_to_vmcs(int seg, const struct shv_segment *in)
{
	struct shv_segment s = *in;
	u32 ar;

	if (seg == SHV_SEG_CS)
		s.unusable = 0, s.present = 1;
	if (seg == SHV_SEG_TR) {
		if (s.unusable || !s.present) {
			s = (struct shv_segment){ .selector = s.selector,
				.base = s.base, .limit = 0xffff, .type = 11,
				.present = 1 };
		}
		s.s = 0;
		s.type |= 2;		/* busy */
	}
	if (s.s && !s.unusable)
		s.type |= 1;		/* accessed */
	if (s.limit & 0xfff00000)
		s.g = 1;
	else if ((s.limit & 0xfff) != 0xfff)
		s.g = 0;
	ar = seg_to_ar(&s);
	vmcs_write(vmx_segs[seg].sel, s.selector);
	vmcs_write(vmx_segs[seg].base, s.base);
	vmcs_write(vmx_segs[seg].limit, s.limit);
	vmcs_write(vmx_segs[seg].ar, ar);
}

/* --- real mode without unrestricted guest: the virtual-8086 disguise --- */

/*
 * Well-formed real mode runs in virtual-8086 mode: IOPL 3 (hidden from the
 * guest), CR4.VME with an interrupt-redirection bitmap of zeros so that
 * INT n goes through the IVT in hardware, every exception intercepted and
 * delivered through the IVT in software, and a TSS (for its redirection
 * and I/O bitmaps) the guest cannot reach: the hardware pages on a root of
 * our own whose first gigabyte is the shadow MMU's identity map of the
 * guest and whose fourth holds the TSS, above anything v86 code can
 * address (0x10FFEF).  Real-mode state v86 cannot express is emulated.
 * See Documentation/vmx.rst.
 */
#define VMX_V86_TSS_LA		0xc0000000ul
#define VMX_V86_IOMAP		0x88	/* 32 bytes of redirection bitmap below */
#define VMX_V86_TSS_LIMIT	(VMX_V86_IOMAP + 8192)	/* and a byte past it */
#define VMX_V86_TSS_ORDER	2	/* 3 pages used */
#define VMX_AR_V86		0xf3	/* read/write data, accessed, DPL 3, P */
#define VMX_AR_TSS32_BUSY	0x8b

/* the TSS and the page tables that map it, shared by every vCPU */
static struct page *vmx_v86_tss;
static u64 *vmx_v86_pd, *vmx_v86_pt;

static void vmx_v86_tables_free(void)
{
	if (vmx_v86_tss)
		__free_pages(vmx_v86_tss, VMX_V86_TSS_ORDER);
	free_page((unsigned long)vmx_v86_pd);
	free_page((unsigned long)vmx_v86_pt);
	vmx_v86_tss = NULL;
	vmx_v86_pd = NULL;
	vmx_v86_pt = NULL;
}

static int vmx_v86_tables_init(void)
{
	u8 *tss;
	int i;

	vmx_v86_tss = alloc_pages(GFP_KERNEL | __GFP_ZERO, VMX_V86_TSS_ORDER);
	vmx_v86_pd = (u64 *)get_zeroed_page(GFP_KERNEL);
	vmx_v86_pt = (u64 *)get_zeroed_page(GFP_KERNEL);
	if (!vmx_v86_tss || !vmx_v86_pd || !vmx_v86_pt) {
		vmx_v86_tables_free();
		return -ENOMEM;
	}
	/*
	 * All zeros but the I/O map base: no INT n is redirected to the
	 * IDT, every port is allowed (the I/O exit comes after the bitmap
	 * check), also a word at port 0xffff (the byte past the map is 0).
	 */
	tss = page_address(vmx_v86_tss);
	*(u16 *)(tss + 0x66) = VMX_V86_IOMAP;
	/* read-only, supervisor-only: only the processor reads it */
	for (i = 0; i < 3; i++)
		vmx_v86_pt[i] = page_to_phys(vmx_v86_tss + i) | _PAGE_PRESENT |
				_PAGE_ACCESSED;
	vmx_v86_pd[(VMX_V86_TSS_LA >> 21) & 511] = __pa(vmx_v86_pt) |
		_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
	return 0;
}

static u32 vmx_exception_bitmap(struct shv_vcpu *vcpu);

static bool vmx_rm_idt_ok(u64 base, u32 limit)
{
	/* VME redirects INT n to the IVT at linear 0, whatever IDTR says */
	return !base && limit >= 0x3ff;
}

/* the VMCS must be current: real mode begins, the segments are saved */
static void vmx_rm_enter(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	int i;

	for (i = 0; i <= SHV_SEG_TR; i++)
		seg_from_vmcs(&vmx->rm.seg[i], i);
	vmx->rm.seg[SHV_SEG_CS].unusable = 0;
	vmx->rm.active = true;
	vmx->rm.v86 = false;
	vmx->rm.idt_ok = vmx_rm_idt_ok(vmcs_read(GUEST_IDTR_BASE),
				       vmcs_read(GUEST_IDTR_LIMIT));
	vmcs_write(GUEST_TR_SELECTOR, 0);
	vmcs_write(GUEST_TR_BASE, VMX_V86_TSS_LA);
	vmcs_write(GUEST_TR_LIMIT, VMX_V86_TSS_LIMIT);
	vmcs_write(GUEST_TR_AR_BYTES, VMX_AR_TSS32_BUSY);
	vmcs_write(EXCEPTION_BITMAP, vmx_exception_bitmap(vcpu));
	/* the TSS's linear address maps guest memory outside real mode */
	vmx->flush_pending = true;
}

/* the VMCS must be current: real mode ends, the guest's segments return */
static void vmx_rm_leave(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	int i;

	for (i = 0; i <= SHV_SEG_TR; i++)
		seg_to_vmcs(i, &vmx->rm.seg[i]);
	vmx->rm.active = false;
	vmx->rm.v86 = false;
	vmx->rm.pm_check = true;
	vmcs_write(EXCEPTION_BITMAP, vmx_exception_bitmap(vcpu));
	vmx->flush_pending = true;
}

/* the VMCS must be current: all segments are about to be rewritten */
static void vmx_rm_forget(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	vmx->rm.pm_check = false;
	if (!vmx->rm.active)
		return;
	vmx->rm.active = false;
	vmx->rm.v86 = false;
	vmcs_write(EXCEPTION_BITMAP, vmx_exception_bitmap(vcpu));
	vmx->flush_pending = true;
}

/*
 * Can virtual-8086 mode run the guest's real mode as it is?  Each base
 * must be its selector times 16 (v86 loads nothing else) and each limit
 * at least 64 KiB (a bigger, "unreal" one runs with 64 KiB and the #GP of
 * an access beyond is emulated with the real limit); CS and SS must be
 * 16-bit; IP within 64 KiB; and the IDT the IVT at 0.
 */
static bool vmx_rm_v86_ok(struct shv_vcpu *vcpu)
{
	const struct shv_segment *g = to_vmx(vcpu)->rm.seg;
	int i;

	if (!shv_vmx_caps.v86 || !to_vmx(vcpu)->rm.idt_ok ||
	    vcpu->rip > 0xffff)
		return false;
	for (i = 0; i < SHV_SEG_TR; i++)
		if (g[i].base != (u64)g[i].selector << 4 || g[i].limit < 0xffff)
			return false;
	return !g[SHV_SEG_CS].db && !g[SHV_SEG_SS].db;
}

/*
 * Protected mode entered from real mode keeps real mode's segment
 * registers until they are loaded again, and without unrestricted guest
 * VM entry checks them as protected-mode ones (SDM vol. 3 27.3.1.2): CS
 * and SS with the same RPL, SS's DPL its RPL, no data segment with a DPL
 * below its RPL, types a loaded descriptor would have.  A real-mode
 * selector with RPL bits set breaks that, and the instructions until the
 * segments are loaded again are emulated.  The VMCS must be current.
 */
static bool vmx_pm_state_ok(void)
{
	u16 cs = vmcs_read(GUEST_CS_SELECTOR), ss = vmcs_read(GUEST_SS_SELECTOR);
	u32 cs_ar = vmcs_read(GUEST_CS_AR_BYTES);
	u32 ss_ar = vmcs_read(GUEST_SS_AR_BYTES);
	u32 ar;
	int i;

	if ((cs & 3) != (ss & 3) || !(cs_ar & VMX_AR_TYPE_CODE_MASK) ||
	    !(cs_ar & VMX_AR_S_MASK))
		return false;
	if ((cs_ar & 4) ? VMX_AR_DPL(cs_ar) > VMX_AR_DPL(ss_ar) :
			  VMX_AR_DPL(cs_ar) != VMX_AR_DPL(ss_ar))
		return false;
	if (!(ss_ar & VMX_AR_UNUSABLE_MASK) &&
	    ((ss_ar & 0x1b) != 0x13 || VMX_AR_DPL(ss_ar) != (ss & 3)))
		return false;
	for (i = SHV_SEG_ES; i <= SHV_SEG_GS; i++) {
		if (i == SHV_SEG_CS || i == SHV_SEG_SS)
			continue;
		ar = vmcs_read(vmx_segs[i].ar);
		if (ar & VMX_AR_UNUSABLE_MASK)
			continue;
		if (!(ar & VMX_AR_S_MASK) ||
		    (ar & (VMX_AR_TYPE_CODE_MASK | VMX_AR_TYPE_READABLE_MASK)) ==
		    VMX_AR_TYPE_CODE_MASK)
			return false;
		if ((ar & 15) <= 11 &&
		    VMX_AR_DPL(ar) < (vmcs_read(vmx_segs[i].sel) & 3))
			return false;
	}
	return true;
}

/* the VMCS must be current: load ES..GS as v86 sees them */
static void vmx_rm_disguise(struct shv_vmx_vcpu *vmx)
{
	int i;

	for (i = 0; i < SHV_SEG_TR; i++) {
		u16 sel = vmx->rm.seg[i].selector;

		vmcs_write(vmx_segs[i].sel, sel);
		vmcs_write(vmx_segs[i].base, (u32)sel << 4);
		vmcs_write(vmx_segs[i].limit, 0xffff);
		vmcs_write(vmx_segs[i].ar, VMX_AR_V86);
	}
	vmx->rm.v86 = true;
}

/*
 * After v86 ran (VMCS current): the segment registers it loaded.  A load
 * in real mode sets selector and base and keeps the cached limit and
 * attributes, so the guest's view keeps them too.
 */
static void vmx_rm_sync(struct shv_vmx_vcpu *vmx)
{
	int i;

	for (i = 0; i < SHV_SEG_TR; i++) {
		struct shv_segment *g = &vmx->rm.seg[i];
		u16 sel = vmcs_read(vmx_segs[i].sel);

		if (sel == g->selector)
			continue;
		g->selector = sel;
		g->base = (u64)sel << 4;
		g->unusable = 0;
		g->present = 1;
		g->s = 1;
	}
}

static void vmx_get_sregs(struct shv_vcpu *vcpu, struct shv_sregs *s)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	memset(s, 0, sizeof(*s));
	vmx_load(vcpu);
	if (vmx->rm.active) {
		/* real mode: the guest's own registers, not the disguise */
		s->cs = vmx->rm.seg[SHV_SEG_CS];
		s->ds = vmx->rm.seg[SHV_SEG_DS];
		s->es = vmx->rm.seg[SHV_SEG_ES];
		s->fs = vmx->rm.seg[SHV_SEG_FS];
		s->gs = vmx->rm.seg[SHV_SEG_GS];
		s->ss = vmx->rm.seg[SHV_SEG_SS];
		s->tr = vmx->rm.seg[SHV_SEG_TR];
	} else {
		seg_from_vmcs(&s->cs, SHV_SEG_CS);
		seg_from_vmcs(&s->ds, SHV_SEG_DS);
		seg_from_vmcs(&s->es, SHV_SEG_ES);
		seg_from_vmcs(&s->fs, SHV_SEG_FS);
		seg_from_vmcs(&s->gs, SHV_SEG_GS);
		seg_from_vmcs(&s->ss, SHV_SEG_SS);
		seg_from_vmcs(&s->tr, SHV_SEG_TR);
	}
	seg_from_vmcs(&s->ldt, SHV_SEG_LDTR);
	s->cs.unusable = 0;
	s->gdt.base = vmcs_read(GUEST_GDTR_BASE);
	s->gdt.limit = vmcs_read(GUEST_GDTR_LIMIT);
	s->idt.base = vmcs_read(GUEST_IDTR_BASE);
	s->idt.limit = vmcs_read(GUEST_IDTR_LIMIT);
	s->cr3 = vmx_shadow(vcpu) ? vcpu->cr3 : vmcs_read(GUEST_CR3);
	vmx_put();
	s->cr0 = vcpu->cr0;
	s->cr4 = vcpu->cr4;
	s->efer = vcpu->efer;
	s->cr2 = vmx->cr2;
	s->cr8 = vcpu->lapic ? shv_lapic_get_cr8(vcpu) : vmx->cr8;
	s->apic_base = vcpu->apic_base;
}

static void vmx_write_pdptrs(struct shv_vcpu *vcpu)
{
	vmcs_write(GUEST_PDPTR0, vcpu->pdptrs[0]);
	vmcs_write(GUEST_PDPTR1, vcpu->pdptrs[1]);
	vmcs_write(GUEST_PDPTR2, vcpu->pdptrs[2]);
	vmcs_write(GUEST_PDPTR3, vcpu->pdptrs[3]);
}

static void vmx_read_pdptrs(struct shv_vcpu *vcpu)
{
	vcpu->pdptrs[0] = vmcs_read(GUEST_PDPTR0);
	vcpu->pdptrs[1] = vmcs_read(GUEST_PDPTR1);
	vcpu->pdptrs[2] = vmcs_read(GUEST_PDPTR2);
	vcpu->pdptrs[3] = vmcs_read(GUEST_PDPTR3);
}

static bool vmx_pae_paging(struct shv_vcpu *vcpu)
{
	return (vcpu->cr0 & X86_CR0_PG) && (vcpu->cr4 & X86_CR4_PAE) &&
	       !(vcpu->efer & EFER_LMA);
}

/* the VMCS must be current */
static void __vmx_update_cr(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 cr0 = vcpu->cr0, cr4 = vcpu->cr4, efer = vcpu->efer;
	bool rm = vmx_shadow(vcpu) && !(vcpu->cr0 & X86_CR0_PE);
	u32 entry;

	if (rm && !vmx->rm.active)
		vmx_rm_enter(vcpu);
	else if (!rm && vmx->rm.active)
		vmx_rm_leave(vcpu);
	if (rm) {
		/*
		 * Virtual-8086 mode runs at CPL 3: no alignment checks, which
		 * real mode (CPL 0) never makes; VME redirects INT n through
		 * the IVT.
		 */
		cr0 &= ~X86_CR0_AM;
		if (shv_vmx_caps.v86)
			cr4 |= X86_CR4_VME;
	}
	if (vmx_shadow(vcpu)) {
		/*
		 * The hardware always pages (an identity map when the guest
		 * does not), honours WP, uses PAE-format roots for legacy
		 * guests and has EFER.NXE on; without unrestricted guest PE
		 * is on too.
		 */
		cr0 |= X86_CR0_PG | X86_CR0_WP | X86_CR0_PE;
		cr4 = (cr4 | X86_CR4_PAE) & ~(X86_CR4_PGE | X86_CR4_PCIDE);
		if (!(vcpu->cr0 & X86_CR0_PG))
			efer &= ~(EFER_LME | EFER_LMA);
		efer = shv_shadow_efer(efer);
	} else if (!shv_vmx_caps.ug) {
		cr0 |= X86_CR0_PG | X86_CR0_PE;
	}
	cr0 = (cr0 | X86_CR0_NE | X86_CR0_ET) & ~(X86_CR0_CD | X86_CR0_NW);
	cr0 = (cr0 | (u32)shv_vmx_caps.cr0_fixed0) & shv_vmx_caps.cr0_fixed1;
	if (shv_vmx_caps.ug && !vmx_shadow(vcpu))
		cr0 = (cr0 & ~(X86_CR0_PE | X86_CR0_PG)) |
		      (vcpu->cr0 & (X86_CR0_PE | X86_CR0_PG));
	cr4 = (cr4 | X86_CR4_VMXE | shv_vmx_caps.cr4_fixed0) &
	      shv_vmx_caps.cr4_fixed1;

	vmcs_write(GUEST_CR0, cr0);
	vmcs_write(CR0_READ_SHADOW, vcpu->cr0);
	vmcs_write(GUEST_CR4, cr4);
	vmcs_write(CR4_READ_SHADOW, vcpu->cr4);
	vmcs_write(GUEST_IA32_EFER, efer);
	entry = vmx->entry_ctls & ~VM_ENTRY_IA32E_MODE;
	if (efer & EFER_LMA)
		entry |= VM_ENTRY_IA32E_MODE;
	if (entry != vmx->entry_ctls) {
		vmx->entry_ctls = entry;
		vmcs_write(VM_ENTRY_CONTROLS, entry);
	}
	/* EPT: the processor loads PDPTEs from the VMCS at entry */
	if (!vmx_shadow(vcpu) && vmx_pae_paging(vcpu))
		vmx_write_pdptrs(vcpu);
}

static void vmx_update_cr(struct shv_vcpu *vcpu)
{
	vmx_load(vcpu);
	__vmx_update_cr(vcpu);
	vmx_put();
}

static void vmx_set_sregs(struct shv_vcpu *vcpu, const struct shv_sregs *s)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	vmx_load(vcpu);
	vmx_rm_forget(vcpu);
	seg_to_vmcs(SHV_SEG_CS, &s->cs);
	seg_to_vmcs(SHV_SEG_DS, &s->ds);
	seg_to_vmcs(SHV_SEG_ES, &s->es);
	seg_to_vmcs(SHV_SEG_FS, &s->fs);
	seg_to_vmcs(SHV_SEG_GS, &s->gs);
	seg_to_vmcs(SHV_SEG_SS, &s->ss);
	seg_to_vmcs(SHV_SEG_TR, &s->tr);
	seg_to_vmcs(SHV_SEG_LDTR, &s->ldt);
	vmcs_write(GUEST_GDTR_BASE, s->gdt.base);
	vmcs_write(GUEST_GDTR_LIMIT, s->gdt.limit);
	vmcs_write(GUEST_IDTR_BASE, s->idt.base);
	vmcs_write(GUEST_IDTR_LIMIT, s->idt.limit);
	vcpu->cr0 = s->cr0;
	vcpu->cr3 = s->cr3;
	vcpu->cr4 = s->cr4;
	vcpu->efer = s->efer;
	if (!vmx_shadow(vcpu)) {
		vmcs_write(GUEST_CR3, s->cr3);
		if (vmx_pae_paging(vcpu))
			shv_load_pdptrs(vcpu, s->cr3);
	}
	__vmx_update_cr(vcpu);
	vmx_put();
	vmx->cr2 = s->cr2;
	vmx->cr8 = s->cr8;
	if (vcpu->lapic)
		shv_lapic_set_cr8(vcpu, s->cr8);
}

static u64 vmx_get_seg_base(struct shv_vcpu *vcpu, int seg)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 base;

	if (vmx->rm.active && seg <= SHV_SEG_TR)
		return vmx->rm.seg[seg].base;
	vmx_load(vcpu);
	base = vmcs_read(vmx_segs[seg].base);
	vmx_put();
	return base;
}

static int vmx_get_cpl(struct shv_vcpu *vcpu)
{
	u32 ar;

	if (!(vcpu->cr0 & X86_CR0_PE))
		return 0;
	if (vcpu->rflags & SHV_RFLAGS_VM)
		return 3;
	vmx_load(vcpu);
	ar = vmcs_read(GUEST_SS_AR_BYTES);
	vmx_put();
	return VMX_AR_DPL(ar);
}

static void vmx_set_segment(struct shv_vcpu *vcpu, int seg,
			    const struct shv_segment *s)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (vmx->rm.active) {
		vmx->rm.seg[seg] = *s;
		vmx->rm.v86 = false;	/* disguise again before v86 runs */
		return;
	}
	vmx_load(vcpu);
	seg_to_vmcs(seg, s);
	vmx_put();
}

static void vmx_set_dtable(struct shv_vcpu *vcpu, bool idt, u64 base,
			   u32 limit)
{
	vmx_load(vcpu);
	vmcs_write(idt ? GUEST_IDTR_BASE : GUEST_GDTR_BASE, base);
	vmcs_write(idt ? GUEST_IDTR_LIMIT : GUEST_GDTR_LIMIT, limit);
	vmx_put();
	if (idt)
		to_vmx(vcpu)->rm.idt_ok = vmx_rm_idt_ok(base, limit);
}

/* after an emulated instruction: its interrupt shadow, or an IRET */
static void vmx_insn_events(struct shv_vcpu *vcpu, unsigned int events)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (events & SHV_EMU_EV_SHADOW) {
		/* entry refuses STI blocking with IF clear (after MOV SS) */
		vmx->intr_state &= ~(GUEST_INTR_STATE_STI |
				     GUEST_INTR_STATE_MOV_SS);
		vmx->intr_state |= (vcpu->rflags & SHV_RFLAGS_IF) ?
				   GUEST_INTR_STATE_STI :
				   GUEST_INTR_STATE_MOV_SS;
	}
	if ((events & SHV_EMU_EV_IRET) && shv_vmx_caps.vnmi)
		vmx->intr_state &= ~GUEST_INTR_STATE_NMI;
	vmx->intr_state_dirty = true;
}

/* --- VMCS setup --- */

static void vmx_vcpu_reset(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	struct shv_segment data = {
		.limit = 0xffff, .type = 3, .s = 1, .present = 1,
	};
	struct shv_segment cs = {
		.selector = 0xf000, .base = 0xffff0000, .limit = 0xffff,
		.type = 11, .s = 1, .present = 1,
	};
	struct shv_segment ldt = { .limit = 0xffff, .type = 2, .present = 1 };
	struct shv_segment tr = { .limit = 0xffff, .type = 11, .present = 1 };

	vmx_load(vcpu);
	vmx_rm_forget(vcpu);
	seg_to_vmcs(SHV_SEG_CS, &cs);
	seg_to_vmcs(SHV_SEG_DS, &data);
	seg_to_vmcs(SHV_SEG_ES, &data);
	seg_to_vmcs(SHV_SEG_FS, &data);
	seg_to_vmcs(SHV_SEG_GS, &data);
	seg_to_vmcs(SHV_SEG_SS, &data);
	seg_to_vmcs(SHV_SEG_LDTR, &ldt);
	seg_to_vmcs(SHV_SEG_TR, &tr);
	vmcs_write(GUEST_GDTR_BASE, 0);
	vmcs_write(GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(GUEST_IDTR_BASE, 0);
	vmcs_write(GUEST_IDTR_LIMIT, 0xffff);
	vmcs_write(GUEST_CR3, 0);
	vmcs_write(GUEST_DR7, 0x400);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(GUEST_IA32_PAT, VMX_DEFAULT_PAT);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(TSC_OFFSET, 0);
	vcpu->cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
	vcpu->cr3 = 0;
	vcpu->cr4 = 0;
	vcpu->efer = 0;
	__vmx_update_cr(vcpu);
	vmx_put();

	vmx->intr_state = 0;
	vmx->intr_state_dirty = true;
	vmx->inject_info = 0;
	vmx->cr2 = 0;
	vmx->cr8 = 0;
	memset(vmx->dr, 0, sizeof(vmx->dr));
	vmx->dr6 = 0xffff0ff0;
	vmx->dr7 = 0x400;
	vmx->star = 0;
	vmx->lstar = 0;
	vmx->cstar = 0;
	vmx->sfmask = 0;
	vmx->kernel_gs_base = 0;
	vmx->tsc_offset = 0;
	vmx->triple_fault = false;
}

static u32 vmx_exception_bitmap(struct shv_vcpu *vcpu)
{
	/* #AC and #DB loops must not wedge a host CPU; #UD for VMMCALL */
	u32 eb = BIT(SHV_AC_VECTOR) | BIT(SHV_DB_VECTOR) | BIT(SHV_UD_VECTOR);

	/* real mode: every exception goes through the IVT, in software */
	if (to_vmx(vcpu)->rm.active)
		return ~0u;
	if (vmx_shadow(vcpu))
		eb |= BIT(SHV_PF_VECTOR);
	return eb;
}

/* --- the MSR bitmap --- */

#define VMX_MSR_R	BIT(0)
#define VMX_MSR_W	BIT(1)

/*
 * The MSR bitmap has one bit per MSR and access: reads of MSRs 0-0x1fff
 * at byte 0, of 0xc0000000-0xc0001fff at byte 0x400, writes at 0x800 and
 * 0xc00.  A set bit makes the access exit; MSRs outside both ranges
 * always exit.
 */
static void vmx_msr_intercept(struct shv_vmx_vcpu *vmx, u32 msr,
			      unsigned int rw, bool on)
{
	unsigned long base;

	if (!vmx->msr_bitmap)
		return;
	if (msr <= 0x1fff)
		base = 0;
	else if (msr - 0xc0000000u <= 0x1fff)
		base = 0x400 * BITS_PER_BYTE;
	else
		return;
	base += msr & 0x1fff;
	if (rw & VMX_MSR_R)
		assign_bit(base, vmx->msr_bitmap, on);
	if (rw & VMX_MSR_W)
		assign_bit(base + 0x800 * BITS_PER_BYTE, vmx->msr_bitmap, on);
}

/*
 * MSRs whose guest value the VMCS holds (loaded at entry, saved at exit)
 * need no exit: FS/GS base, the SYSENTER MSRs and PAT, which the
 * processor checks as it would outside VMX; TSC reads, which TSC
 * offsetting adjusts.  Everything else exits; the SYSCALL MSRs are
 * handled per entry (vmx_syscall_msrs()).
 */
static void vmx_init_msr_bitmap(struct shv_vmx_vcpu *vmx)
{
	static const u32 direct[] = {
		MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_SYSENTER_CS,
		MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_IA32_CR_PAT,
	};
	unsigned int i;

	if (!vmx->msr_bitmap)
		return;
	memset(vmx->msr_bitmap, 0xff, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(direct); i++)
		vmx_msr_intercept(vmx, direct[i], VMX_MSR_R | VMX_MSR_W, false);
	vmx_msr_intercept(vmx, MSR_IA32_TSC, VMX_MSR_R, false);
}

/*
 * While the guest's SYSCALL MSRs and KERNEL_GS_BASE are loaded around
 * the entry (vmx_save_host()), its RDMSRs of them read its own values and
 * need no exit, nor do writes of KERNEL_GS_BASE, which is read back after
 * the exit.  Writes of STAR, LSTAR, CSTAR and SFMASK still exit: shv
 * would otherwise have to read them back after every exit.  Otherwise
 * the host's values are in the MSRs, and every access exits.
 */
static void vmx_syscall_msrs(struct shv_vcpu *vcpu, bool direct)
{
	static const u32 readable[] = {
		MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	};
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	unsigned int i;

	if (!vmx->msr_bitmap || vmx->syscall_msrs_direct == direct)
		return;
	for (i = 0; i < ARRAY_SIZE(readable); i++)
		vmx_msr_intercept(vmx, readable[i], VMX_MSR_R, !direct);
	vmx_msr_intercept(vmx, MSR_KERNEL_GS_BASE, VMX_MSR_R | VMX_MSR_W,
			  !direct);
	vmx->syscall_msrs_direct = direct;
}

/* the VMCS must be current */
static void vmx_init_vmcs(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	struct shv_vmx_caps *c = &shv_vmx_caps;
	u32 cpu = c->cpu, cpu2 = c->cpu2;

	if (vmx_shadow(vcpu)) {
		cpu |= CPU_BASED_INVLPG_EXITING | CPU_BASED_CR3_LOAD_EXITING |
		       CPU_BASED_CR3_STORE_EXITING;
		cpu2 &= ~(SECONDARY_EXEC_ENABLE_EPT |
			  SECONDARY_EXEC_UNRESTRICTED_GUEST);
	} else {
		/* the capability checks made these settable */
		cpu &= ~(CPU_BASED_INVLPG_EXITING | CPU_BASED_CR3_LOAD_EXITING |
			 CPU_BASED_CR3_STORE_EXITING);
		if (!c->ug)
			cpu2 &= ~SECONDARY_EXEC_UNRESTRICTED_GUEST;
	}
	if (!vmx->vpid)
		cpu2 &= ~SECONDARY_EXEC_ENABLE_VPID;
	/* switched on per entry, as the guest's APIC allows */
	cpu2 &= ~(SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE |
		  SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY);
	vmx->cpu_ctls = cpu;
	vmx->cpu2_ctls = cpu2;
	vmx->entry_ctls = c->entry;
	vmx->tpr_threshold = 0;
	vmx->x2apic_virt_on = false;
	vmx->vid_on = false;
	memset(vmx->eoi_exit, 0, sizeof(vmx->eoi_exit));

	vmcs_write(VMCS_LINK_POINTER, ~0ull);
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, c->pin);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, cpu);
	if (cpu & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		vmcs_write(SECONDARY_VM_EXEC_CONTROL, cpu2);
	vmcs_write(VM_EXIT_CONTROLS, c->exit);
	vmcs_write(VM_ENTRY_CONTROLS, c->entry);
	vmcs_write(EXCEPTION_BITMAP, vmx_exception_bitmap(vcpu));
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	if (vmx->msr_bitmap)
		vmcs_write(MSR_BITMAP, __pa(vmx->msr_bitmap));
	if (vmx->vapic) {
		vmcs_write(VIRTUAL_APIC_PAGE_ADDR, __pa(vmx->vapic));
		vmcs_write(TPR_THRESHOLD, 0);
	}
	if (c->vid) {
		vmcs_write(EOI_EXIT_BITMAP0, 0);
		vmcs_write(EOI_EXIT_BITMAP1, 0);
		vmcs_write(EOI_EXIT_BITMAP2, 0);
		vmcs_write(EOI_EXIT_BITMAP3, 0);
		vmcs_write(GUEST_INTR_STATUS, 0);
	}
	if (vmx->vpid)
		vmcs_write(VIRTUAL_PROCESSOR_ID, vmx->vpid);
	/* every CR0/CR4 bit is ours; the guest reads its own values */
	vmcs_write(CR0_GUEST_HOST_MASK, ~0ul);
	vmcs_write(CR4_GUEST_HOST_MASK, ~0ul);

	/* host state that never changes */
	vmcs_write(HOST_CR0, read_cr0());
	vmx->host_cr3 = __read_cr3();
	vmcs_write(HOST_CR3, vmx->host_cr3);
	vmx->host_cr4 = cr4_read_shadow();
	vmcs_write(HOST_CR4, vmx->host_cr4);
	vmcs_write(HOST_CS_SELECTOR, __KERNEL_CS);
	vmcs_write(HOST_SS_SELECTOR, __KERNEL_DS);
	vmcs_write(HOST_DS_SELECTOR, 0);
	vmcs_write(HOST_ES_SELECTOR, 0);
	vmcs_write(HOST_FS_SELECTOR, 0);
	vmcs_write(HOST_GS_SELECTOR, 0);
	vmcs_write(HOST_RIP, (unsigned long)shv_vmx_vmexit);
	shv_vmx_set_host_cpu_state(vmx);
}

static int vmx_vm_init(struct shv_vm *vm)
{
	return 0;
}

static void vmx_vm_destroy(struct shv_vm *vm)
{
}

static void vmx_free_pages(struct shv_vmx_vcpu *vmx)
{
	free_page((unsigned long)vmx->vmcs);
	free_page((unsigned long)vmx->msr_bitmap);
	free_page((unsigned long)vmx->vapic);
}

static int vmx_vcpu_create(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = kzalloc(sizeof(*vmx), GFP_KERNEL_ACCOUNT);

	if (!vmx)
		return -ENOMEM;
	vmx->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (shv_vmx_caps.msr_bitmap)
		vmx->msr_bitmap = (void *)__get_free_page(GFP_KERNEL_ACCOUNT);
	if (shv_vmx_caps.tpr_shadow)
		vmx->vapic = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vmx->vmcs || (shv_vmx_caps.msr_bitmap && !vmx->msr_bitmap) ||
	    (shv_vmx_caps.tpr_shadow && !vmx->vapic)) {
		vmx_free_pages(vmx);
		kfree(vmx);
		return -ENOMEM;
	}
	vmx->vmcs_pa = __pa(vmx->vmcs);
	vmx_init_msr_bitmap(vmx);
	*(u32 *)vmx->vmcs = shv_vmx_caps.revision;
	vmx->loaded_cpu = -1;
	INIT_LIST_HEAD(&vmx->loaded_link);
	vcpu->arch = vmx;
	/* real mode's v86 root: a PAE page-directory-pointer table < 4 GiB */
	if (vmx_shadow(vcpu)) {
		vmx->rm.pdpt = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT |
						      GFP_DMA32);
		if (!vmx->rm.pdpt) {
			free_page((unsigned long)vmx->vmcs);
			kfree(vmx);
			vcpu->arch = NULL;
			return -ENOMEM;
		}
		if (vmx_v86_pd)
			vmx->rm.pdpt[3] = __pa(vmx_v86_pd) | _PAGE_PRESENT;
	}
	vmx->vpid = shv_vmx_alloc_vpid();

	vmx_load(vcpu);
	vmx_init_vmcs(vcpu);
	vmx_put();
	vmx_vcpu_reset(vcpu);
	return 0;
}

static void vmx_vcpu_free(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (!vmx)
		return;
	shv_vmx_clear(vmx);
	shv_vmx_free_vpid(vmx->vpid);
	free_page((unsigned long)vmx->rm.pdpt);
	vmx_free_pages(vmx);
	kfree(vmx);
	vcpu->arch = NULL;
}

/* --- MSRs --- */

static u64 vmx_vmcs_get(struct shv_vcpu *vcpu, unsigned long field)
{
	u64 v;

	vmx_load(vcpu);
	v = vmcs_read(field);
	vmx_put();
	return v;
}

static void vmx_vmcs_set(struct shv_vcpu *vcpu, unsigned long field, u64 v)
{
	vmx_load(vcpu);
	vmcs_write(field, v);
	vmx_put();
}

static int vmx_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	switch (index) {
	case MSR_EFER:
		*data = vcpu->efer;
		break;
	case MSR_STAR:
		*data = vmx->star;
		break;
	case MSR_LSTAR:
		*data = vmx->lstar;
		break;
	case MSR_CSTAR:
		*data = vmx->cstar;
		break;
	case MSR_SYSCALL_MASK:
		*data = vmx->sfmask;
		break;
	case MSR_KERNEL_GS_BASE:
		*data = vmx->kernel_gs_base;
		break;
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		*data = vmx_get_seg_base(vcpu, index == MSR_FS_BASE ?
					 SHV_SEG_FS : SHV_SEG_GS);
		break;
	case MSR_IA32_SYSENTER_CS:
		*data = vmx_vmcs_get(vcpu, GUEST_SYSENTER_CS);
		break;
	case MSR_IA32_SYSENTER_ESP:
		*data = vmx_vmcs_get(vcpu, GUEST_SYSENTER_ESP);
		break;
	case MSR_IA32_SYSENTER_EIP:
		*data = vmx_vmcs_get(vcpu, GUEST_SYSENTER_EIP);
		break;
	case MSR_IA32_CR_PAT:
		*data = vmx_vmcs_get(vcpu, GUEST_IA32_PAT);
		break;
	case MSR_IA32_TSC:
		*data = rdtsc() + vmx->tsc_offset;
		break;
	case MSR_IA32_DEBUGCTLMSR:
		*data = 0;
		break;
	default:
		return -ENOENT;
	}
	return 0;
}

static int vmx_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	switch (index) {
	case MSR_EFER:
		return shv_set_efer(vcpu, data, false);
	case MSR_STAR:
		vmx->star = data;
		break;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		/* shv_set_msr() checked that the address is canonical */
		if ((index == MSR_FS_BASE || index == MSR_GS_BASE) &&
		    vmx->rm.active) {
			/* real mode: the guest's FS/GS, not the disguise */
			vmx->rm.seg[index == MSR_FS_BASE ? SHV_SEG_FS :
				    SHV_SEG_GS].base = data;
			vmx->rm.v86 = false;
			break;
		}
		if (index == MSR_LSTAR)
			vmx->lstar = data;
		else if (index == MSR_CSTAR)
			vmx->cstar = data;
		else if (index == MSR_KERNEL_GS_BASE)
			vmx->kernel_gs_base = data;
		else if (index == MSR_FS_BASE)
			vmx_vmcs_set(vcpu, GUEST_FS_BASE, data);
		else if (index == MSR_GS_BASE)
			vmx_vmcs_set(vcpu, GUEST_GS_BASE, data);
		else if (index == MSR_IA32_SYSENTER_ESP)
			vmx_vmcs_set(vcpu, GUEST_SYSENTER_ESP, data);
		else
			vmx_vmcs_set(vcpu, GUEST_SYSENTER_EIP, data);
		break;
	case MSR_SYSCALL_MASK:
		vmx->sfmask = (u32)data;
		break;
	case MSR_IA32_SYSENTER_CS:
		vmx_vmcs_set(vcpu, GUEST_SYSENTER_CS, data & 0xffff);
		break;
	case MSR_IA32_CR_PAT:
		vmx_vmcs_set(vcpu, GUEST_IA32_PAT, data);
		break;
	case MSR_IA32_TSC:
		vmx->tsc_offset = data - rdtsc();
		vmx_vmcs_set(vcpu, TSC_OFFSET, vmx->tsc_offset);
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
 * Queue an exception, combining it with one already pending (whose
 * delivery caused this exit) as the processor would: #DF, or a shutdown
 * when delivering #DF faulted.
 */
static void vmx_queue_exception(struct shv_vcpu *vcpu, u8 vector,
				bool has_error, u32 error_code)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 prev = vmx->inject_info;
	int v = vector;

	if ((prev & INTR_INFO_VALID_MASK) &&
	    (prev & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_HARD_EXCEPTION)
		v = shv_combine_exceptions(prev & INTR_INFO_VECTOR_MASK,
					   vector);
	if (v < 0) {
		vmx->triple_fault = true;
		return;
	}
	if (v != vector) {
		vector = v;	/* #DF, with an error code of 0 */
		has_error = true;
		error_code = 0;
	}
	/* real mode pushes no error code */
	if (!(vcpu->cr0 & X86_CR0_PE))
		has_error = false;
	vmx->inject_info = vector | INTR_TYPE_HARD_EXCEPTION |
			   INTR_INFO_VALID_MASK |
			   (has_error ? INTR_INFO_DELIVER_CODE_MASK : 0);
	vmx->inject_err = error_code;
}

static void vmx_set_cr2(struct shv_vcpu *vcpu, u64 cr2)
{
	to_vmx(vcpu)->cr2 = cr2;
}

static bool vmx_long_cs(struct shv_vcpu *vcpu)
{
	u32 ar;

	if (!(vcpu->efer & EFER_LMA))
		return false;
	ar = vmx_vmcs_get(vcpu, GUEST_CS_AR_BYTES);
	return ar & VMX_AR_L_MASK;
}

static void vmx_skip_insn(struct shv_vcpu *vcpu, u64 next_rip)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (!vmx_long_cs(vcpu))
		next_rip = (u32)next_rip;
	vcpu->rip = next_rip;
	if (vmx->intr_state & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) {
		vmx->intr_state &= ~(GUEST_INTR_STATE_STI |
				     GUEST_INTR_STATE_MOV_SS);
		vmx->intr_state_dirty = true;
	}
	/* a single-step trap follows the emulated instruction */
	if (vcpu->rflags & SHV_RFLAGS_TF) {
		vmx->dr6 |= BIT(14);
		vmx_queue_exception(vcpu, SHV_DB_VECTOR, false, 0);
	}
}

static void vmx_flush_tlb(struct shv_vcpu *vcpu)
{
	to_vmx(vcpu)->flush_pending = true;
}

/*
 * An exit that interrupted the delivery of an event must deliver it
 * again.  Software interrupts and INT3/INTO are re-executed instead.
 */
static void vmx_requeue_event(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 info = vmx->idt_info;
	u32 type = info & INTR_INFO_INTR_TYPE_MASK;

	if (!(info & VECTORING_INFO_VALID_MASK))
		return;
	if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION ||
	    type == INTR_TYPE_PRIV_SW_EXCEPTION)
		return;
	if (type == INTR_TYPE_NMI_INTR) {
		/* delivery failed: the NMI did not block NMIs yet */
		vmx->intr_state &= ~GUEST_INTR_STATE_NMI;
		vmx->intr_state_dirty = true;
	}
	vmx->inject_info = info & ~INTR_INFO_RESVD_BITS_MASK;
	vmx->inject_err = vmx->idt_err;
}

/* --- interrupt injection --- */

static void vmx_set_cpu_ctl(struct shv_vmx_vcpu *vmx, u32 bit, bool on)
{
	u32 ctls = on ? vmx->cpu_ctls | bit : vmx->cpu_ctls & ~bit;

	if (ctls != vmx->cpu_ctls) {
		vmx->cpu_ctls = ctls;
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, ctls);
	}
}

/* --- TPR shadow --- */

static void vmx_set_cpu2_ctl(struct shv_vmx_vcpu *vmx, u32 bit, bool on)
{
	u32 ctls = on ? vmx->cpu2_ctls | bit : vmx->cpu2_ctls & ~bit;

	if (ctls != vmx->cpu2_ctls) {
		vmx->cpu2_ctls = ctls;
		vmcs_write(SECONDARY_VM_EXEC_CONTROL, ctls);
	}
}

/*
 * The TPR threshold: a MOV to CR8 (or x2APIC TPR write) that drops the
 * TPR's class below it exits, so that an interrupt only the TPR holds back
 * (vector held, or -1) is injected as soon as it may be.  VM entry
 * requires the threshold not to exceed the TPR's class.
 */
static void vmx_set_tpr_threshold(struct shv_vcpu *vcpu, int held)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 thr = 0;

	if (held >= 0)
		thr = min_t(u32, held >> 4, shv_lapic_get_tpr(vcpu) >> 4);
	if (thr != vmx->tpr_threshold) {
		vmx->tpr_threshold = thr;
		vmcs_write(TPR_THRESHOLD, thr);
	}
}

/*
 * The x2APIC MSRs the processor virtualizes: the TPR with x2APIC
 * virtualization, EOI with virtual-interrupt delivery too.  Any other
 * x2APIC MSR exits (reads without APIC-register virtualization would
 * reach the host's x2APIC), and so does SELF IPI, so that the in-kernel
 * APIC sets IRR and TMR itself.
 */
static void vmx_apic_msrs(struct shv_vmx_vcpu *vmx)
{
	vmx_msr_intercept(vmx, APIC_BASE_MSR + (APIC_TASKPRI >> 4),
			  VMX_MSR_R | VMX_MSR_W, !vmx->x2apic_virt_on);
	vmx_msr_intercept(vmx, APIC_BASE_MSR + (APIC_EOI >> 4), VMX_MSR_W,
			  !(vmx->x2apic_virt_on && vmx->vid_on));
}

/*
 * Before entry (IRQs off, VMCS current): the TPR goes into the
 * virtual-APIC page, where MOV CR8 and, in x2APIC mode, the TPR MSR read
 * and write it without exits.  x2APIC virtualization follows the guest's
 * APIC mode: with it off, RDMSR/WRMSR of 0x808 would reach the host's
 * x2APIC, so the MSR bitmap passes them only while it is on.
 */
static void vmx_tpr_enter(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	bool x2;

	if (!vmx->vapic)
		return;
	WRITE_ONCE(*(u32 *)(vmx->vapic + APIC_TASKPRI),
		   vcpu->lapic ? shv_lapic_get_tpr(vcpu) : vmx->cr8 << 4);
	x2 = shv_vmx_caps.x2apic_virt && vcpu->lapic &&
	     (vcpu->apic_base & X2APIC_ENABLE);
	if (x2 == vmx->x2apic_virt_on)
		return;
	vmx_set_cpu2_ctl(vmx, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE, x2);
	vmx->x2apic_virt_on = x2;
	vmx_apic_msrs(vmx);
}

/* after the exit: what the guest wrote to the TPR */
static void vmx_tpr_exit(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u8 tpr;

	if (!vmx->vapic)
		return;
	tpr = READ_ONCE(*(u32 *)(vmx->vapic + APIC_TASKPRI));
	if (vcpu->lapic)
		shv_lapic_set_tpr(vcpu, tpr);
	else
		vmx->cr8 = tpr >> 4;
}

/* --- virtual-interrupt delivery --- */

static void vmx_set_vid(struct shv_vcpu *vcpu, bool on)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (on == vmx->vid_on)
		return;
	vmx_set_cpu2_ctl(vmx, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY, on);
	vmx->vid_on = on;
	vmx_apic_msrs(vmx);
}

/*
 * Hand the APIC's IRR (unless an interrupt window is wanted: then the
 * window exit comes first and IRR stays), ISR, TPR and PPR to the
 * processor: RVI and SVI in the guest interrupt status, and as EOI-exit
 * bitmap the level-triggered vectors, whose EOI the IOAPIC must see.
 */
static void vmx_vid_enter(struct shv_vcpu *vcpu, bool load_irr)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 eoi_exit[4];
	u8 rvi, svi;
	int i;

	shv_lapic_vid_enter(vcpu, vmx->vapic, load_irr, &rvi, &svi);
	vmx->vid_loaded = true;
	vmcs_write(GUEST_INTR_STATUS, rvi | svi << 8);
	shv_lapic_eoi_exits(vcpu, eoi_exit);
	for (i = 0; i < 4; i++) {
		if (eoi_exit[i] == vmx->eoi_exit[i])
			continue;
		vmx->eoi_exit[i] = eoi_exit[i];
		vmcs_write(EOI_EXIT_BITMAP0 + 2 * i, eoi_exit[i]);
	}
}

/* after the exit (or a failed entry): IRR and ISR back to the APIC */
static void vmx_vid_exit(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (!vmx->vid_loaded)
		return;
	shv_lapic_vid_exit(vcpu, vmx->vapic);
	vmx->vid_loaded = false;
}

/*
 * Right before entry (IRQs off, VMCS current): inject an NMI or the
 * highest deliverable interrupt if the guest can take it now, else ask
 * for an NMI- or interrupt-window exit.  An interrupt held back only by
 * the TPR needs an exit when the TPR drops: with CR8 exits it comes by
 * itself, with the TPR shadow through the TPR threshold.
 *
 * With virtual-interrupt delivery the processor takes the APIC's fixed
 * interrupts itself, whenever RFLAGS.IF, the interrupt shadow, the TPR
 * and ISR allow; only the PIC's (ExtINT) are still injected.
 */
static void vmx_inject_events(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	bool shadow = vmx->intr_state & (GUEST_INTR_STATE_STI |
					 GUEST_INTR_STATE_MOV_SS);
	bool busy = vmx->inject_info & INTR_INFO_VALID_MASK;
	bool nmi_window = false, intr_window = false, vid;
	int v;

	vcpu->nmi_masked = vmx->intr_state & GUEST_INTR_STATE_NMI;
	if (READ_ONCE(vcpu->nmi_pending)) {
		if (!vcpu->nmi_masked && !busy && !shadow) {
			WRITE_ONCE(vcpu->nmi_pending, false);
			vmx->inject_info = SHV_NMI_VECTOR | INTR_TYPE_NMI_INTR |
					   INTR_INFO_VALID_MASK;
			busy = true;
		} else if (shv_vmx_caps.vnmi) {
			nmi_window = true;
		}
	}

	vid = shv_vmx_caps.vid && shv_lapic_vid_usable(vcpu);
	vmx_set_vid(vcpu, vid);
	v = shv_lapic_pending(vcpu);
	if (v >= 0 && (!vid || v == SHV_EXTINT)) {
		if (!busy && !shadow && (vcpu->rflags & SHV_RFLAGS_IF)) {
			v = shv_lapic_ack(vcpu, v);
			vmx->inject_info = v | INTR_TYPE_EXT_INTR |
					   INTR_INFO_VALID_MASK;
			vcpu->stats.irq_injections++;
		} else {
			intr_window = true;
		}
	}
	vmx_set_cpu_ctl(vmx, CPU_BASED_NMI_WINDOW_EXITING, nmi_window);
	vmx_set_cpu_ctl(vmx, CPU_BASED_INTR_WINDOW_EXITING, intr_window);
	if (vid)
		vmx_vid_enter(vcpu, !intr_window);
	else if (vmx->vapic)
		vmx_set_tpr_threshold(vcpu, v < 0 ? shv_lapic_tpr_blocked(vcpu) :
					       -1);
}

/*
 * Real mode, right before entry (IRQs off, VMCS current).  Events go
 * through the IVT in software, which needs guest memory: an exception
 * queued, or an NMI or interrupt the guest can take now, makes a made-up
 * exit (SHV_VMX_EXIT_RM_EVENT) instead of an entry; otherwise the window
 * exits are armed as for protected mode.  State v86 cannot express makes
 * SHV_VMX_EXIT_RM_EMULATE.  0: enter in v86 mode.
 */
static u32 vmx_rm_prepare(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	bool shadow = vmx->intr_state & (GUEST_INTR_STATE_STI |
					 GUEST_INTR_STATE_MOV_SS);
	bool nmi_window = false, intr_window = false;
	u64 *root, root_hpa;

	if (vmx->inject_info & INTR_INFO_VALID_MASK)
		return SHV_VMX_EXIT_RM_EVENT;
	if (vcpu->lapic) {
		vcpu->nmi_masked = vmx->intr_state & GUEST_INTR_STATE_NMI;
		if (READ_ONCE(vcpu->nmi_pending)) {
			if (!vcpu->nmi_masked && !shadow)
				return SHV_VMX_EXIT_RM_EVENT;
			nmi_window = shv_vmx_caps.vnmi;
		}
		if (shv_lapic_pending(vcpu) >= 0) {
			if (!shadow && (vcpu->rflags & SHV_RFLAGS_IF))
				return SHV_VMX_EXIT_RM_EVENT;
			intr_window = true;
		}
	}
	if (!vmx_rm_v86_ok(vcpu))
		return SHV_VMX_EXIT_RM_EMULATE;
	vmx_set_cpu_ctl(vmx, CPU_BASED_NMI_WINDOW_EXITING, nmi_window);
	vmx_set_cpu_ctl(vmx, CPU_BASED_INTR_WINDOW_EXITING, intr_window);
	if (!vmx->rm.v86)
		vmx_rm_disguise(vmx);
	/*
	 * The v86 root: the shadow MMU's first gigabyte (its PAE root's
	 * PDPTE 0, taken at each entry as the processor takes PDPTEs) and
	 * the TSS's in the fourth.
	 */
	root_hpa = vcpu->vm->mmu_ops->root_hpa(vcpu);
	root = root_hpa ? phys_to_virt(root_hpa) : NULL;
	vmx->rm.pdpt[0] = root ? READ_ONCE(root[0]) : 0;
	return 0;
}

/* --- guest entry --- */

struct vmx_host_state {
	u16 ds, es, fs, gs, ldt;
	u64 kernel_gs_base;
	unsigned long dr7;
	u64 debugctl;
	struct desc_ptr gdt, idt;
	bool swap_msrs;
};

static void vmx_save_host(struct shv_vcpu *vcpu, struct vmx_host_state *h)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 v;

	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	asm volatile("sldt %0" : "=r" (h->ldt));
	vmcs_write(HOST_FS_SELECTOR, (h->fs & 7) ? 0 : h->fs);
	vmcs_write(HOST_GS_SELECTOR, (h->gs & 7) ? 0 : h->gs);
	rdmsrl(MSR_FS_BASE, v);
	vmcs_write(HOST_FS_BASE, v);
	rdmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	native_store_gdt(&h->gdt);
	store_idt(&h->idt);
	get_debugreg(h->dr7, 7);
	h->debugctl = 0;
	if (host_has_debugctl)
		rdmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);

	v = __read_cr3();
	if (v != vmx->host_cr3) {
		vmx->host_cr3 = v;
		vmcs_write(HOST_CR3, v);
	}
	v = cr4_read_shadow();
	if (v != vmx->host_cr4) {
		vmx->host_cr4 = v;
		vmcs_write(HOST_CR4, v);
	}

	/* SYSCALL and SWAPGS use these directly: the guest's go in */
	h->swap_msrs = vcpu->efer & (EFER_SCE | EFER_LMA);
	vmx_syscall_msrs(vcpu, h->swap_msrs);
	if (h->swap_msrs) {
		wrmsrl(MSR_STAR, vmx->star);
		wrmsrl(MSR_LSTAR, vmx->lstar);
		wrmsrl(MSR_CSTAR, vmx->cstar);
		wrmsrl(MSR_SYSCALL_MASK, vmx->sfmask);
		wrmsrl(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);
	}
}

static void vmx_restore_host(struct shv_vcpu *vcpu, struct vmx_host_state *h)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (h->swap_msrs) {
		rdmsrl(MSR_KERNEL_GS_BASE, vmx->kernel_gs_base);
		wrmsrl(MSR_STAR, host_star);
		wrmsrl(MSR_LSTAR, host_lstar);
		wrmsrl(MSR_CSTAR, host_cstar);
		wrmsrl(MSR_SYSCALL_MASK, host_sfmask);
	}
	/* VM exit leaves 0xffff limits, a null LDT and a 0x67 TSS limit */
	native_load_gdt(&h->gdt);
	native_load_idt(&h->idt);
	if (h->ldt)
		asm volatile("lldt %0" : : "rm" (h->ldt));
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if (h->fs & 7)
		loadsegment(fs, h->fs);
	if (h->gs & 7)
		load_gs_index(h->gs);
	wrmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	invalidate_tss_limit();
	if (h->dr7 != 0x400)
		set_debugreg(h->dr7, 7);
	if (h->debugctl)
		wrmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
}

static void vmx_read_exit(struct shv_vmx_vcpu *vmx)
{
	vmx->exit_reason = vmcs_read(VM_EXIT_REASON);
	vmx->exit_qual = vmcs_read(EXIT_QUALIFICATION);
	vmx->exit_intr_info = vmcs_read(VM_EXIT_INTR_INFO);
	vmx->exit_intr_err = vmcs_read(VM_EXIT_INTR_ERROR_CODE);
	vmx->idt_info = vmcs_read(IDT_VECTORING_INFO_FIELD);
	vmx->idt_err = vmcs_read(IDT_VECTORING_ERROR_CODE);
	vmx->exit_insn_len = vmcs_read(VM_EXIT_INSTRUCTION_LEN);
	if ((u16)vmx->exit_reason == EXIT_REASON_EPT_VIOLATION ||
	    (u16)vmx->exit_reason == EXIT_REASON_EPT_MISCONFIG)
		vmx->exit_gpa = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	vmx->intr_state = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
}

static void vmx_run(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	struct vmx_host_state h;
	bool shadow = vmx_shadow(vcpu);
	u64 rflags = vcpu->rflags, iopl = rflags & X86_EFLAGS_IOPL;
	u32 rm_exit;
	int r;

	/* the VMCS is active elsewhere, or this CPU left VMX: go around */
	if (unlikely(!shv_vmx_attach_irqoff(vmx))) {
		vmx->exit_reason = SHV_VMX_EXIT_MIGRATED;
		vmx->idt_info = 0;
		return;
	}
	if (vmx->host_cpu_dirty)
		shv_vmx_set_host_cpu_state(vmx);
	if (unlikely(vmx->rm.active)) {
		rm_exit = vmx_rm_prepare(vcpu);
		if (rm_exit) {
			vmx->exit_reason = rm_exit;
			vmx->idt_info = 0;
			return;
		}
		/* virtual-8086 mode, IOPL 3: the guest's IOPL is ours */
		rflags |= SHV_RFLAGS_VM | X86_EFLAGS_IOPL;
		vmcs_write(GUEST_CR3, __pa(vmx->rm.pdpt));
	} else if (unlikely(vmx->rm.pm_check) && !vmx_pm_state_ok() &&
		   !(vmx->inject_info & INTR_INFO_VALID_MASK)) {
		/* just out of real mode, not yet enterable: emulate */
		vmx->exit_reason = SHV_VMX_EXIT_RM_EMULATE;
		vmx->idt_info = 0;
		return;
	} else if (shadow) {
		vmcs_write(GUEST_CR3, vcpu->vm->mmu_ops->root_hpa(vcpu));
	} else {
		u64 eptp = vcpu->vm->mmu_ops->root_hpa(vcpu) | VMX_EPTP_MT_WB |
			   VMX_EPTP_PWL_4;

		if (eptp != vmx->eptp) {
			vmx->eptp = eptp;
			vmcs_write(EPT_POINTER, eptp);
			vmx->flush_pending = true;
		}
	}
	vmx->rm.pm_check = false;
	if (vmx->flush_pending)
		shv_vmx_flush_irqoff(vmx, !shadow);
	vmcs_write(GUEST_RSP, vcpu->regs[SHV_RSP]);
	vmcs_write(GUEST_RIP, vcpu->rip);
	vmcs_write(GUEST_RFLAGS, rflags);
	vmx_tpr_enter(vcpu);
	/*
	 * Real mode in virtual-8086 mode takes its events through the IVT
	 * from shv; the processor would deliver virtual interrupts through
	 * the IDT.
	 */
	if (vmx->rm.active)
		vmx_set_vid(vcpu, false);
	if (vcpu->lapic && !vmx->rm.active)
		vmx_inject_events(vcpu);
	if (vmx->intr_state_dirty) {
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO, vmx->intr_state);
		vmx->intr_state_dirty = false;
	}
	if (vmx->inject_info & INTR_INFO_VALID_MASK) {
		/*
		 * Real mode pushes no error code, and VM entry refuses one
		 * there (SDM 26.2.1.3), also for an event put back from the
		 * IDT-vectoring information (realmode_test's #DF under Bochs
		 * failed its entry with VM-instruction error 7 without this).
		 */
		if (!(vcpu->cr0 & X86_CR0_PE))
			vmx->inject_info &= ~INTR_INFO_DELIVER_CODE_MASK;
		vmcs_write(VM_ENTRY_INTR_INFO_FIELD, vmx->inject_info);
		if (vmx->inject_info & INTR_INFO_DELIVER_CODE_MASK)
			vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE,
				   vmx->inject_err);
		if ((vmx->inject_info & INTR_INFO_VECTOR_MASK) ==
		    SHV_DB_VECTOR)
			vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	}

	vmx_save_host(vcpu, &h);
	if (native_read_cr2() != vmx->cr2)
		native_write_cr2(vmx->cr2);

	r = shv_vmx_vmenter(vcpu->regs, vmx->launched);

	vmx->cr2 = native_read_cr2();
	vmx_restore_host(vcpu, &h);
	vmx->inject_info = 0;
	vmx_tpr_exit(vcpu);
	vmx_vid_exit(vcpu);

	if (r) {
		vmx->exit_reason = VMX_EXIT_REASONS_FAILED_VMENTRY;
		vmx->vm_insn_error = vmcs_read(VM_INSTRUCTION_ERROR);
		vmx->idt_info = 0;
		return;
	}
	vmx->launched = true;
	vmx_read_exit(vmx);
	vcpu->regs[SHV_RSP] = vmcs_read(GUEST_RSP);
	vcpu->rip = vmcs_read(GUEST_RIP);
	vcpu->rflags = vmcs_read(GUEST_RFLAGS);
	if (unlikely(vmx->rm.active)) {
		vcpu->rflags = (vcpu->rflags & ~(SHV_RFLAGS_VM |
						 X86_EFLAGS_IOPL)) | iopl;
		vmx_rm_sync(vmx);
	}

	/* an NMI for the host arrived in the guest: hand it over */
	if ((u16)vmx->exit_reason == EXIT_REASON_EXCEPTION_NMI &&
	    (vmx->exit_intr_info & (INTR_INFO_VALID_MASK |
				    INTR_INFO_INTR_TYPE_MASK)) ==
	    (INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR))
		asm volatile("int $2");
}

/* --- exits --- */

static int vmx_unhandled(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u64 data[4] = {
		vmx->exit_reason, vmx->exit_qual, vmx->exit_intr_info,
		vcpu->rip,
	};

	return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_UNHANDLED, 4, data);
}

static u64 vmx_next_rip(struct shv_vcpu *vcpu)
{
	return vcpu->rip + to_vmx(vcpu)->exit_insn_len;
}

static int vmx_handle_io(struct shv_vcpu *vcpu)
{
	u64 q = to_vmx(vcpu)->exit_qual;
	u8 size = (q & 7) + 1;
	bool in = q & BIT(3), str = q & BIT(4), rep = q & BIT(5);
	u16 port = q >> 16;

	if (vcpu->vm->irqchip && !str) {
		u32 val = vcpu->regs[SHV_RAX];

		if (shv_irq_pio(vcpu, port, size, in, &val)) {
			if (in)
				vcpu->regs[SHV_RAX] =
					(vcpu->regs[SHV_RAX] & ~0xffull) |
					(val & 0xff);
			vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
			return 1;
		}
	}
	return shv_pio_exit(vcpu, port, size, in, str, rep,
			    vmx_next_rip(vcpu));
}

static int vmx_handle_msr(struct shv_vcpu *vcpu, bool write)
{
	u32 index = vcpu->regs[SHV_RCX];
	u64 data;

	vcpu->stats.msr_exits++;
	if (write) {
		data = (u32)vcpu->regs[SHV_RAX] |
		       (vcpu->regs[SHV_RDX] << 32);
		if (shv_set_msr(vcpu, index, data, false)) {
			vmx_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
			return 1;
		}
	} else {
		if (shv_get_msr(vcpu, index, &data, false)) {
			vmx_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
			return 1;
		}
		vcpu->regs[SHV_RAX] = (u32)data;
		vcpu->regs[SHV_RDX] = data >> 32;
	}
	vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
	return 1;
}

static int vmx_handle_ept_violation(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	struct shv_vm *vm = vcpu->vm;
	u64 q = vmx->exit_qual, gpa = vmx->exit_gpa;
	bool write = q & EPT_VIOLATION_ACC_WRITE;
	bool fetch = q & EPT_VIOLATION_ACC_INSTR;
	int r;

	/* a fault during an IRET that unblocked NMIs: block them again */
	if ((q & INTR_INFO_UNBLOCK_NMI) && shv_vmx_caps.vnmi &&
	    !(vmx->idt_info & VECTORING_INFO_VALID_MASK)) {
		vmx->intr_state |= GUEST_INTR_STATE_NMI;
		vmx->intr_state_dirty = true;
	}
	r = vm->mmu_ops->nested_fault(vm, gpa, write, fetch);
	if (r < 0) {
		u64 data[2] = { gpa, q };

		if (r == -EINTR)
			return 1;
		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_UNHANDLED,
					  2, data);
	}
	if (r != SHV_MMU_EMULATE)
		return 1;
	/* no RAM: device memory, or a write to ROM */
	if (fetch || ((q & EPT_VIOLATION_GVA_IS_VALID) &&
		      !(q & EPT_VIOLATION_GVA_TRANSLATED))) {
		u64 data[3] = { gpa, q, vcpu->rip };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_FETCH, 3,
					  data);
	}
	return shv_mmio_exit(vcpu, gpa, write);
}

/* MOV to/from CR8: the TPR, the in-kernel APIC's when there is one */
static int vmx_handle_cr8(struct shv_vcpu *vcpu, u64 q)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	int reg = (q >> 8) & 15;

	vcpu->stats.tpr_exits++;
	if ((q & CONTROL_REG_ACCESS_TYPE) == 0) {	/* mov to cr8 */
		u64 v = vcpu->regs[reg];

		if (v & ~0xfull) {
			vmx_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
			return 1;
		}
		vmx->cr8 = v;
		if (vcpu->lapic)
			shv_lapic_set_cr8(vcpu, v);
	} else {
		vcpu->regs[reg] = vcpu->lapic ? shv_lapic_get_cr8(vcpu) :
						vmx->cr8;
	}
	vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
	return 1;
}

static int vmx_handle_cr(struct shv_vcpu *vcpu)
{
	u64 q = to_vmx(vcpu)->exit_qual;
	bool pae;
	int r;

	if ((q & 15) == 8 &&
	    (q & CONTROL_REG_ACCESS_TYPE) <= 0x10)
		return vmx_handle_cr8(vcpu, q);
	if (vmx_shadow(vcpu))
		return shv_emulate_cr_access(vcpu);
	/*
	 * EPT: the guest owns CR3 and the PDPTEs it loaded; cr.c works on
	 * the software copies, so fetch them first.
	 */
	vmx_load(vcpu);
	vcpu->cr3 = vmcs_read(GUEST_CR3);
	pae = vmx_pae_paging(vcpu);
	if (pae)
		vmx_read_pdptrs(vcpu);
	vmx_put();
	r = shv_emulate_cr_access(vcpu);
	if (pae && vmx_pae_paging(vcpu))
		vmx_update_cr(vcpu);
	return r;
}

/*
 * MOV DR: the debug registers are plain storage for the guest.  0 done,
 * 1 an exception was queued.  Also the emulator's (arch mov_dr).
 */
static int vmx_mov_dr(struct shv_vcpu *vcpu, int dr, int reg, bool write)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	bool lma = vcpu->efer & EFER_LMA;
	u64 *p, v;

	if (vmx_get_cpl(vcpu)) {
		vmx_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
		return 1;
	}
	if (dr == 4 || dr == 5) {
		if (vcpu->cr4 & X86_CR4_DE) {
			vmx_queue_exception(vcpu, SHV_UD_VECTOR, false, 0);
			return 1;
		}
		dr += 2;
	}
	p = dr < 4 ? &vmx->dr[dr] : dr == 6 ? &vmx->dr6 : &vmx->dr7;
	if (!write) {
		v = *p;
		vcpu->regs[reg] = lma ? v : (u32)v;
		return 0;
	}
	v = vcpu->regs[reg];
	if (!lma)
		v = (u32)v;
	if (dr >= 6 && v >> 32) {
		vmx_queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
		return 1;
	}
	if (dr == 6)
		v = (v & 0xf00f) | 0xffff0ff0;
	else if (dr == 7)
		v = (v & ~0xd800ull) | 0x400;
	*p = v;
	return 0;
}

static int vmx_handle_dr(struct shv_vcpu *vcpu)
{
	u64 q = to_vmx(vcpu)->exit_qual;

	if (!vmx_mov_dr(vcpu, q & DEBUG_REG_ACCESS_NUM,
			DEBUG_REG_ACCESS_REG(q), !(q & TYPE_MOV_FROM_DR)))
		vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
	return 1;
}

/* VMMCALL (AMD's hypercall) raises #UD on Intel: treat it as VMCALL */
static int vmx_handle_ud(struct shv_vcpu *vcpu)
{
	struct shv_sregs s;
	struct shv_insn insn;
	int r;

	vmx_get_sregs(vcpu, &s);
	r = shv_fetch_insn(vcpu, &s, &insn);
	if (r == 1)
		return 1;
	if (!r && insn.map == SHV_MAP_0F && insn.opcode == 0x01 &&
	    insn.modrm == 0xd9) {
		if (shv_hv_hypercall(vcpu, vcpu->rip + insn.len))
			return 1;
		return shv_hypercall_exit(vcpu, vcpu->rip + insn.len);
	}
	vmx_queue_exception(vcpu, SHV_UD_VECTOR, false, 0);
	return 1;
}

/* --- real mode: events through the IVT, emulation --- */

/* an event the guest takes now: queued, or an NMI or interrupt it allows */
static bool vmx_rm_event_ready(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	if (vmx->inject_info & INTR_INFO_VALID_MASK)
		return true;
	if (vmx->intr_state & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))
		return false;
	if (READ_ONCE(vcpu->nmi_pending) &&
	    !(vmx->intr_state & GUEST_INTR_STATE_NMI))
		return true;
	return (vcpu->rflags & SHV_RFLAGS_IF) && shv_lapic_pending(vcpu) >= 0;
}

/*
 * SHV_VMX_EXIT_RM_EVENT: deliver the queued exception (or re-delivered
 * event), else an NMI, else the in-kernel APIC's interrupt, through the
 * real-mode IVT as the processor would (push FLAGS, CS, IP; clear IF, TF,
 * AC; a fault on the way is #GP, #SS, #DF, then a triple fault).
 */
static int vmx_rm_event(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 info = vmx->inject_info;
	bool exc = false;
	int v, r;

	if (info & INTR_INFO_VALID_MASK) {
		vmx->inject_info = 0;
		v = info & INTR_INFO_VECTOR_MASK;
		exc = (info & INTR_INFO_INTR_TYPE_MASK) ==
		      INTR_TYPE_HARD_EXCEPTION;
		if ((info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR &&
		    shv_vmx_caps.vnmi)
			vmx->intr_state |= GUEST_INTR_STATE_NMI;
	} else if (!vmx_rm_event_ready(vcpu)) {
		return 1;		/* gone, or blocked again since */
	} else if (READ_ONCE(vcpu->nmi_pending) &&
		   !(vmx->intr_state & GUEST_INTR_STATE_NMI)) {
		WRITE_ONCE(vcpu->nmi_pending, false);
		if (shv_vmx_caps.vnmi)	/* until the handler's IRET */
			vmx->intr_state |= GUEST_INTR_STATE_NMI;
		v = SHV_NMI_VECTOR;
	} else {
		v = shv_lapic_pending(vcpu);
		if (v < 0)
			return 1;	/* withdrawn (a level line dropped) */
		v = shv_lapic_ack(vcpu, v);
	}
	r = shv_real_mode_event(vcpu, v, exc);
	vcpu->stats.rm_ivt_events++;
	if (r < 0) {
		u64 data[3] = { v, vcpu->rip, r };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_EMULATION,
					  3, data);
	}
	if (!r)
		vmx->triple_fault = true;
	/* delivering an event ends an interrupt shadow */
	vmx->intr_state &= ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
	vmx->intr_state_dirty = true;
	return 1;
}

/* instructions emulated in one go before the loop looks around */
#define VMX_RM_EMULATE_BATCH	256

/*
 * SHV_VMX_EXIT_RM_EMULATE: real mode v86 cannot run (a base that is not
 * selector << 4, a 32-bit CS or SS, the reset vector's CS, an IDT that
 * is not the IVT at 0): emulate until it can, an event is deliverable,
 * the guest left real mode or halted, or the runner is needed.  Also
 * protected mode that VM entry refuses right after real mode
 * (vmx_pm_state_ok()): one instruction per round, vmx_run() looks again.
 */
static int vmx_rm_emulate(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	int i, r;

	for (i = 0; i < VMX_RM_EMULATE_BATCH; i++) {
		vcpu->stats.rm_emulated++;
		r = shv_emulate_insn(vcpu);
		if (r <= 0)
			return r;
		if (!vmx->rm.active || vmx->triple_fault ||
		    READ_ONCE(vcpu->mp_state) != SHV_MP_RUNNABLE ||
		    vmx_rm_v86_ok(vcpu) || vmx_rm_event_ready(vcpu) ||
		    need_resched() || signal_pending(current))
			break;
	}
	return 1;
}

/* an exception in virtual-8086 mode, all of them intercepted */
static int vmx_rm_exception(struct shv_vcpu *vcpu, u8 vector, u32 type)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	switch (vector) {
	case SHV_PF_VECTOR:
		return vcpu->vm->mmu_ops->page_fault(vcpu, vmx->exit_qual,
						     vmx->exit_intr_err);
	case SHV_GP_VECTOR:
	case SHV_SS_VECTOR:
	case SHV_TS_VECTOR:
	case SHV_NP_VECTOR:
		/*
		 * What v86 refuses and real mode allows (privileged
		 * instructions at CPL 3, offsets beyond 64 KiB in "unreal"
		 * segments, IRET with NT set...): the emulator runs the
		 * instruction as real mode would, faults included.
		 */
		vcpu->stats.rm_emulated++;
		return shv_emulate_insn(vcpu);
	case SHV_UD_VECTOR:
		return vmx_handle_ud(vcpu);
	case SHV_DB_VECTOR:
		vmx->dr6 = (vmx->dr6 & ~0xf00full) | (vmx->exit_qual & 0xf00f);
		break;
	}
	/* INT3, INTO, INT1: delivered after the instruction */
	if (type == INTR_TYPE_SOFT_EXCEPTION ||
	    type == INTR_TYPE_PRIV_SW_EXCEPTION)
		vcpu->rip = (vcpu->rip + vmx->exit_insn_len) & 0xffff;
	vmx_queue_exception(vcpu, vector, false, 0);
	return 1;
}

static int vmx_handle_exception(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 info = vmx->exit_intr_info;
	u8 vector = info & INTR_INFO_VECTOR_MASK;
	u32 type = info & INTR_INFO_INTR_TYPE_MASK;

	if (type == INTR_TYPE_NMI_INTR)
		return 1;		/* the host's, handled in run */
	if ((info & INTR_INFO_UNBLOCK_NMI) && shv_vmx_caps.vnmi &&
	    !(vmx->idt_info & VECTORING_INFO_VALID_MASK)) {
		vmx->intr_state |= GUEST_INTR_STATE_NMI;
		vmx->intr_state_dirty = true;
	}
	if (vmx->rm.active)
		return vmx_rm_exception(vcpu, vector, type);
	switch (vector) {
	case SHV_PF_VECTOR:
		return vcpu->vm->mmu_ops->page_fault(vcpu, vmx->exit_qual,
						     vmx->exit_intr_err);
	case SHV_UD_VECTOR:
		return vmx_handle_ud(vcpu);
	case SHV_AC_VECTOR:
		vmx_queue_exception(vcpu, SHV_AC_VECTOR, true,
				    vmx->exit_intr_err);
		return 1;
	case SHV_DB_VECTOR:
		vmx->dr6 = (vmx->dr6 & ~0xf00full) | (vmx->exit_qual & 0xf00f);
		vmx_queue_exception(vcpu, SHV_DB_VECTOR, false, 0);
		return 1;
	default:
		return vmx_unhandled(vcpu);
	}
}

static void vmx_ts_commit(struct shv_vcpu *vcpu,
			  const struct shv_ts_info *info)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);

	/* an NMI delivered through a task gate blocks NMIs until IRET */
	if ((vmx->inject_info & INTR_INFO_VALID_MASK) &&
	    (vmx->inject_info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_NMI_INTR)
		vmx->intr_state |= GUEST_INTR_STATE_NMI;
	/* an IRET unblocks them, this one too */
	if (info->source == SHV_TS_IRET)
		vmx->intr_state &= ~GUEST_INTR_STATE_NMI;
	vmx->inject_info = 0;		/* delivered through the gate */
	vmx->intr_state &= ~(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
	vmx->intr_state_dirty = true;
	vmx->dr7 &= ~0x155ull;		/* L0-L3, LE */
}

/*
 * A task switch (always an exit on VMX).  The exit qualification holds
 * the new TSS selector and the source: CALL, IRET, JMP or a task gate in
 * the IDT, whose event is in the IDT-vectoring information.  RIP is on
 * the instruction for CALL, JMP, IRET and INT n/INT3/INTO/INT1.
 */
static int vmx_handle_task_switch(struct shv_vcpu *vcpu)
{
	static const u8 sources[] = {
		SHV_TS_CALL, SHV_TS_IRET, SHV_TS_JMP, SHV_TS_GATE,
	};
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 idt = vmx->idt_info, type = idt & INTR_INFO_INTR_TYPE_MASK;
	struct shv_ts_info ts = {
		.selector = vmx->exit_qual & 0xffff,
		.source = sources[(vmx->exit_qual >> 30) & 3],
		.commit = vmx_ts_commit,
	};
	bool insn = true;
	int r;

	if (ts.source == SHV_TS_GATE) {
		insn = (idt & VECTORING_INFO_VALID_MASK) &&
		       (type == INTR_TYPE_SOFT_INTR ||
			type == INTR_TYPE_SOFT_EXCEPTION ||
			type == INTR_TYPE_PRIV_SW_EXCEPTION);
		if ((idt & VECTORING_INFO_VALID_MASK) &&
		    type == INTR_TYPE_HARD_EXCEPTION &&
		    (idt & VECTORING_INFO_DELIVER_CODE_MASK)) {
			ts.has_error = true;
			ts.error_code = vmx->idt_err;
		}
	}
	ts.next_rip = insn ? (u32)shv_insn_next_rip(vcpu, vmx->exit_insn_len) :
			     vcpu->rip;
	r = shv_task_switch(vcpu, &ts);
	if (ts.debug_trap) {
		vmx->dr6 |= BIT(15);	/* BT */
		vmx_queue_exception(vcpu, SHV_DB_VECTOR, false, 0);
	}
	return r;
}

/* a triple fault: start over from the power-on state */
static int vmx_shutdown(struct shv_vcpu *vcpu, u32 code)
{
	vcpu->run->exit_reason = SHV_EXIT_SHUTDOWN;
	vcpu->run->shutdown.reason = code;
	vmx_vcpu_reset(vcpu);
	shv_vcpu_reset_regs(vcpu);
	if (vmx_shadow(vcpu)) {
		vcpu->vm->mmu_ops->reset(vcpu);
		set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
	}
	return 0;
}

static int vmx_fail_entry(struct shv_vcpu *vcpu, u64 reason, u64 info1,
			  u64 info2)
{
	vcpu->run->exit_reason = SHV_EXIT_FAIL_ENTRY;
	vcpu->run->hw.hardware_exit_reason = reason;
	vcpu->run->hw.info1 = info1;
	vcpu->run->hw.info2 = info2;
	return 0;
}

static int vmx_dispatch_exit(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	u32 reason = vmx->exit_reason;

	if (reason == SHV_VMX_EXIT_MIGRATED) {
		/* preemptible here: fetch the VMCS from its old CPU */
		vmx_load(vcpu);
		vmx_put();
		return 1;
	}
	if (reason == SHV_VMX_EXIT_RM_EVENT)
		return vmx_rm_event(vcpu);
	if (reason == SHV_VMX_EXIT_RM_EMULATE)
		return vmx_rm_emulate(vcpu);
	if (reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
		if (reason == VMX_EXIT_REASONS_FAILED_VMENTRY)
			return vmx_fail_entry(vcpu, reason, vmx->vm_insn_error,
					      vcpu->rip);
		return vmx_fail_entry(vcpu, reason, vmx->exit_qual, vcpu->rip);
	}

	vmx_requeue_event(vcpu);

	switch ((u16)reason) {
	case EXIT_REASON_EXCEPTION_NMI:
		return vmx_handle_exception(vcpu);
	case EXIT_REASON_EXTERNAL_INTERRUPT:
		return 1;
	case EXIT_REASON_TRIPLE_FAULT:
		return vmx_shutdown(vcpu, reason);
	case EXIT_REASON_INTERRUPT_WINDOW:
	case EXIT_REASON_NMI_WINDOW:
		return 1;	/* the next entry injects */
	case EXIT_REASON_TPR_BELOW_THRESHOLD:
		vcpu->stats.tpr_exits++;
		return 1;	/* the TPR is stored: the next entry injects */
	case EXIT_REASON_EOI_INDUCED:
		/* trap-like: the processor ended the vector's service */
		shv_lapic_vid_eoi(vcpu, vmx->exit_qual & 0xff);
		return 1;
	case EXIT_REASON_CPUID:
		shv_emulate_cpuid(vcpu);
		vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
		return 1;
	case EXIT_REASON_HLT:
		vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
		if (vcpu->lapic) {
			/* the in-kernel APIC wakes it: sleep in the kernel */
			WRITE_ONCE(vcpu->mp_state, SHV_MP_HALTED);
			return 1;
		}
		vcpu->run->exit_reason = SHV_EXIT_HLT;
		return 0;
	case EXIT_REASON_INVD:
	case EXIT_REASON_WBINVD:
		vmx_skip_insn(vcpu, vmx_next_rip(vcpu));
		return 1;
	case EXIT_REASON_INVLPG:
		return shv_emulate_invlpg(vcpu);
	case EXIT_REASON_TASK_SWITCH:
		return vmx_handle_task_switch(vcpu);
	case EXIT_REASON_VMCALL:
		if (shv_hv_hypercall(vcpu, vmx_next_rip(vcpu)))
			return 1;
		return shv_hypercall_exit(vcpu, vmx_next_rip(vcpu));
	case EXIT_REASON_CR_ACCESS:
		return vmx_handle_cr(vcpu);
	case EXIT_REASON_DR_ACCESS:
		return vmx_handle_dr(vcpu);
	case EXIT_REASON_IO_INSTRUCTION:
		return vmx_handle_io(vcpu);
	case EXIT_REASON_MSR_READ:
		return vmx_handle_msr(vcpu, false);
	case EXIT_REASON_MSR_WRITE:
		return vmx_handle_msr(vcpu, true);
	case EXIT_REASON_EPT_VIOLATION:
		return vmx_handle_ept_violation(vcpu);
	case EXIT_REASON_EPT_MISCONFIG: {
		u64 data[2] = { vmx->exit_gpa, vcpu->rip };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_UNHANDLED,
					  2, data);
	}
	case EXIT_REASON_VMCLEAR:
	case EXIT_REASON_VMLAUNCH:
	case EXIT_REASON_VMPTRLD:
	case EXIT_REASON_VMPTRST:
	case EXIT_REASON_VMREAD:
	case EXIT_REASON_VMRESUME:
	case EXIT_REASON_VMWRITE:
	case EXIT_REASON_VMOFF:
	case EXIT_REASON_VMON:
	case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID:
	case EXIT_REASON_VMFUNC:
	case EXIT_REASON_MONITOR_INSTRUCTION:
	case EXIT_REASON_MWAIT_INSTRUCTION:
	case EXIT_REASON_XSETBV:
		/* not offered to the guest: #UD as on a CPU without them */
		vmx_queue_exception(vcpu, SHV_UD_VECTOR, false, 0);
		return 1;
	default:
		return vmx_unhandled(vcpu);
	}
}

static int vmx_handle_exit(struct shv_vcpu *vcpu)
{
	struct shv_vmx_vcpu *vmx = to_vmx(vcpu);
	int r = vmx_dispatch_exit(vcpu);

	if (vmx->triple_fault)
		return vmx_shutdown(vcpu, EXIT_REASON_TRIPLE_FAULT);
	return r;
}

/* --- probe --- */

static void vmx_hw_teardown(void)
{
	vmx_v86_tables_free();
}

const struct shv_arch_ops shv_vmx_ops = {
	.name		= "vmx",
	.vendor		= SHV_VENDOR_VMX,
	.cpu_enable	= shv_vmx_cpu_enable,
	.cpu_disable	= shv_vmx_cpu_disable,
	.hw_teardown	= vmx_hw_teardown,
	.vm_init	= vmx_vm_init,
	.vm_destroy	= vmx_vm_destroy,
	.vcpu_create	= vmx_vcpu_create,
	.vcpu_free	= vmx_vcpu_free,
	.vcpu_reset	= vmx_vcpu_reset,
	.get_sregs	= vmx_get_sregs,
	.set_sregs	= vmx_set_sregs,
	.update_cr	= vmx_update_cr,
	.get_seg_base	= vmx_get_seg_base,
	.get_cpl	= vmx_get_cpl,
	.set_segment	= vmx_set_segment,
	.set_dtable	= vmx_set_dtable,
	.insn_events	= vmx_insn_events,
	.mov_dr		= vmx_mov_dr,
	.get_msr	= vmx_get_msr,
	.set_msr	= vmx_set_msr,
	.run		= vmx_run,
	.handle_exit	= vmx_handle_exit,
	.skip_insn	= vmx_skip_insn,
	.queue_exception = vmx_queue_exception,
	.set_cr2	= vmx_set_cr2,
	.flush_tlb	= vmx_flush_tlb,
};

static struct shv_arch_ops shv_vmx_ops_rt;

/*
 * Controls: min must be settable, opt is used where the CPU allows it.
 * The capability MSR's low half is what must be 1, its high half what
 * may be 1.
 */
static int vmx_adjust(u32 min, u32 opt, u32 msr, u32 *out)
{
	u64 cap;
	u32 v;

	rdmsrl(msr, cap);
	v = ((min | opt) & (u32)(cap >> 32)) | (u32)cap;
	if ((v & min) != min) {
		pr_err("VMX: controls %#x (MSR %#x) lack %#x\n", v, msr,
		       min & ~v);
		return -EOPNOTSUPP;
	}
	*out = v;
	return 0;
}

static int vmx_setup_caps(void)
{
	struct shv_vmx_caps *c = &shv_vmx_caps;
	u64 basic;
	u32 m_pin, m_cpu, m_exit, m_entry, cpu_min, cpu_opt;
	bool true_ctls;
	int r;

	rdmsrl(MSR_IA32_VMX_BASIC, basic);
	c->revision = basic & 0x7fffffff;
	c->vmcs_size = (basic >> 32) & 0x1fff;
	if (c->vmcs_size > PAGE_SIZE || (basic & BIT_ULL(48)) ||
	    ((basic >> 50) & 15) != 6) {
		pr_err("VMX: unusable VMCS (size %u, basic %#llx)\n",
		       c->vmcs_size, basic);
		return -EOPNOTSUPP;
	}
	true_ctls = basic & BIT_ULL(55);
	m_pin = true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
			    MSR_IA32_VMX_PINBASED_CTLS;
	m_cpu = true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
			    MSR_IA32_VMX_PROCBASED_CTLS;
	m_exit = true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS :
			     MSR_IA32_VMX_EXIT_CTLS;
	m_entry = true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
			      MSR_IA32_VMX_ENTRY_CTLS;

	r = vmx_adjust(PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING,
		       PIN_BASED_VIRTUAL_NMIS, m_pin, &c->pin);
	if (r)
		return r;
	c->vnmi = c->pin & PIN_BASED_VIRTUAL_NMIS;
	cpu_min = CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
		  CPU_BASED_MOV_DR_EXITING | CPU_BASED_MWAIT_EXITING |
		  CPU_BASED_MONITOR_EXITING | CPU_BASED_USE_TSC_OFFSETTING |
		  CPU_BASED_INVLPG_EXITING | CPU_BASED_CR3_LOAD_EXITING |
		  CPU_BASED_CR3_STORE_EXITING | CPU_BASED_INTR_WINDOW_EXITING;
	cpu_opt = CPU_BASED_ACTIVATE_SECONDARY_CONTROLS |
		  (msr_bitmap ? CPU_BASED_USE_MSR_BITMAPS : 0) |
		  (c->vnmi ? CPU_BASED_NMI_WINDOW_EXITING : 0);
	r = vmx_adjust(cpu_min, cpu_opt |
		       (tpr_shadow ? CPU_BASED_TPR_SHADOW : 0), m_cpu, &c->cpu);
	if (r)
		return r;
	c->tpr_shadow = c->cpu & CPU_BASED_TPR_SHADOW;
	if (!c->tpr_shadow) {
		/* MOV CR8 must exit to reach the in-kernel APIC's TPR */
		r = vmx_adjust(cpu_min | CPU_BASED_CR8_LOAD_EXITING |
			       CPU_BASED_CR8_STORE_EXITING, cpu_opt, m_cpu,
			       &c->cpu);
		if (r)
			return r;
	}
	/* the window exits are switched on per entry */
	c->cpu &= ~(CPU_BASED_INTR_WINDOW_EXITING |
		    CPU_BASED_NMI_WINDOW_EXITING);
	c->msr_bitmap = c->cpu & CPU_BASED_USE_MSR_BITMAPS;
	c->cpu2 = 0;
	if (c->cpu & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) {
		r = vmx_adjust(0, SECONDARY_EXEC_ENABLE_EPT |
			       SECONDARY_EXEC_ENABLE_VPID |
			       SECONDARY_EXEC_UNRESTRICTED_GUEST |
			       SECONDARY_EXEC_WBINVD_EXITING |
			       (c->tpr_shadow && c->msr_bitmap ?
				SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE : 0) |
			       (c->tpr_shadow && apicv ?
				SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY : 0),
			       MSR_IA32_VMX_PROCBASED_CTLS2, &c->cpu2);
		if (r)
			return r;
	}
	c->x2apic_virt = c->cpu2 & SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE;
	/* it needs external-interrupt exiting, which shv always has */
	c->vid = c->cpu2 & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY;
	r = vmx_adjust(VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_PAT |
		       VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_IA32_EFER |
		       VM_EXIT_LOAD_IA32_EFER, 0, m_exit, &c->exit);
	if (r)
		return r;
	c->exit &= ~VM_EXIT_ACK_INTR_ON_EXIT;
	r = vmx_adjust(VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER, 0,
		       m_entry, &c->entry);
	if (r)
		return r;
	c->entry &= ~VM_ENTRY_IA32E_MODE;

	if (c->cpu2 & (SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID))
		rdmsrl(MSR_IA32_VMX_EPT_VPID_CAP, c->ept_vpid);
	rdmsrl(MSR_IA32_VMX_MISC, c->misc);
	rdmsrl(MSR_IA32_VMX_CR0_FIXED0, c->cr0_fixed0);
	rdmsrl(MSR_IA32_VMX_CR0_FIXED1, c->cr0_fixed1);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED0, c->cr4_fixed0);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED1, c->cr4_fixed1);

	c->ept = ept && (c->cpu2 & SECONDARY_EXEC_ENABLE_EPT) &&
		 (c->ept_vpid & VMX_EPT_PAGE_WALK_4_BIT) &&
		 (c->ept_vpid & VMX_EPTP_WB_BIT) &&
		 (c->ept_vpid & VMX_EPT_INVEPT_BIT) &&
		 (c->ept_vpid & (VMX_EPT_EXTENT_CONTEXT_BIT |
				 VMX_EPT_EXTENT_GLOBAL_BIT));
	c->invept_single = c->ept_vpid & VMX_EPT_EXTENT_CONTEXT_BIT;
	/* unpaged guests under EPT need unrestricted guest (see vmx.rst) */
	c->ug = c->ept && unrestricted_guest &&
		(c->cpu2 & SECONDARY_EXEC_UNRESTRICTED_GUEST);
	if (!c->ug)
		c->ept = false;
	c->vpid = (c->cpu2 & SECONDARY_EXEC_ENABLE_VPID) &&
		  (c->ept_vpid & ((u64)VMX_VPID_INVVPID_BIT << 32)) &&
		  (c->ept_vpid & ((u64)(VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT |
					VMX_VPID_EXTENT_GLOBAL_CONTEXT_BIT)
				  << 32));
	c->invvpid_single = c->ept_vpid &
			    ((u64)VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT << 32);
	if (!c->ept)
		c->cpu2 &= ~(SECONDARY_EXEC_ENABLE_EPT |
			     SECONDARY_EXEC_UNRESTRICTED_GUEST);
	if (!c->vpid)
		c->cpu2 &= ~SECONDARY_EXEC_ENABLE_VPID;
	if (!c->cpu2)
		c->cpu &= ~CPU_BASED_ACTIVATE_SECONDARY_CONTROLS;
	return 0;
}

const struct shv_arch_ops *shv_vmx_probe(void)
{
	u64 feat;
	int r;

	if (!(cpuid_ecx(1) & BIT(5)))
		return ERR_PTR(-ENODEV);
	rdmsrl(MSR_IA32_FEAT_CTL, feat);
	if ((feat & FEAT_CTL_LOCKED) &&
	    !(feat & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked with VMX off)\n");
		return ERR_PTR(-EOPNOTSUPP);
	}
	r = vmx_setup_caps();
	if (r)
		return ERR_PTR(r);
	rdmsrl(MSR_STAR, host_star);
	rdmsrl(MSR_LSTAR, host_lstar);
	rdmsrl(MSR_CSTAR, host_cstar);
	rdmsrl(MSR_SYSCALL_MASK, host_sfmask);
	host_has_debugctl = !rdmsrl_safe(MSR_IA32_DEBUGCTLMSR, &feat);

	/* real mode without unrestricted guest: v86 with VME, or emulation */
	shv_vmx_caps.v86 = boot_cpu_has(X86_FEATURE_VME) &&
			   (shv_vmx_caps.cr4_fixed1 & X86_CR4_VME) &&
			   !vmx_v86_tables_init();

	shv_vmx_ops_rt = shv_vmx_ops;
	shv_vmx_ops_rt.nested_paging = shv_vmx_caps.ept;
	if (shv_vmx_caps.msr_bitmap)
		shv_vmx_ops_rt.accel |= SHV_ACCEL_MSR_BITMAP;
	if (shv_vmx_caps.tpr_shadow)
		shv_vmx_ops_rt.accel |= SHV_ACCEL_TPR_SHADOW;
	if (shv_vmx_caps.x2apic_virt)
		shv_vmx_ops_rt.accel |= SHV_ACCEL_X2APIC_TPR;
	if (shv_vmx_caps.vid)
		shv_vmx_ops_rt.accel |= SHV_ACCEL_VINTR;
	pr_info("VMX: EPT %s, unrestricted guest %s, VPID %s, virtual NMIs %s, MSR bitmap %s, TPR shadow %s, x2APIC virtualization %s, virtual-interrupt delivery %s, real mode %s\n",
		shv_vmx_caps.ept ? "yes" : "no",
		shv_vmx_caps.ug ? "yes" : "no",
		shv_vmx_caps.vpid ? "yes" : "no",
		shv_vmx_caps.vnmi ? "yes" : "no",
		shv_vmx_caps.msr_bitmap ? "yes" : "no",
		shv_vmx_caps.tpr_shadow ? "yes" : "no",
		shv_vmx_caps.x2apic_virt ? "yes" : "no",
		shv_vmx_caps.vid ? "yes" : "no",
		shv_vmx_caps.v86 ? "v86" : "emulated");
	return &shv_vmx_ops_rt;
}
