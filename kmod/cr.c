// SPDX-License-Identifier: GPL-2.0
/*
 * Control registers under shadow paging.  The guest's CR0, CR3, CR4 and
 * EFER are kept here as the guest sees them; the vendor backend derives
 * what the hardware runs with (paging always on, WP always on, PAE-format
 * roots).  Every write is checked as the processor checks it (#GP for
 * illegal combinations), long-mode activation is tracked, PAE PDPTEs are
 * loaded when the processor would load them, and the MMU hears of every
 * change that matters to it.  The MOV/CLTS/LMSW/SMSW intercepts decode
 * their instruction here (there are no decode assists).
 */
#include <asm/processor.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"
#include "irq.h"

#define CR0_PAGING_BITS	(X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)
#define CR4_PAGING_BITS	(X86_CR4_PAE | X86_CR4_PSE | X86_CR4_SMEP | \
			 X86_CR4_SMAP | X86_CR4_LA57 | X86_CR4_PCIDE)

static void shv_mmu_reset(struct shv_vcpu *vcpu)
{
	vcpu->vm->mmu_ops->reset(vcpu);
	set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
}

/* load the four PAE PDPTEs; 0, or -EINVAL if one has reserved bits */
int shv_load_pdptrs(struct shv_vcpu *vcpu, u64 cr3)
{
	u64 rsvd = GENMASK_ULL(63, boot_cpu_data.x86_phys_bits) |
		   GENMASK_ULL(8, 5) | GENMASK_ULL(2, 1);
	u64 pdpte[4];
	unsigned int i;

	if (shv_read_guest_phys(vcpu->vm, cr3 & 0xffffffe0ull, pdpte,
				sizeof(pdpte)))
		return -EINVAL;
	for (i = 0; i < 4; i++)
		if ((pdpte[i] & 1) && (pdpte[i] & rsvd))
			return -EINVAL;
	memcpy(vcpu->pdptrs, pdpte, sizeof(pdpte));
	return 0;
}

static bool shv_pae_paging(u64 cr0, u64 cr4, u64 efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & EFER_LMA);
}

static bool shv_cs_long(struct shv_vcpu *vcpu)
{
	struct shv_sregs s;

	shv_arch->get_sregs(vcpu, &s);
	return s.cs.l;
}

/* 0, or -EINVAL: the write raises #GP */
int shv_set_cr0(struct shv_vcpu *vcpu, u64 val)
{
	u64 old = vcpu->cr0, efer = vcpu->efer;

	val |= X86_CR0_ET;
	if (val >> 32)
		return -EINVAL;
	if ((val & X86_CR0_NW) && !(val & X86_CR0_CD))
		return -EINVAL;
	if ((val & X86_CR0_PG) && !(val & X86_CR0_PE))
		return -EINVAL;
	if (!(old & X86_CR0_PG) && (val & X86_CR0_PG) && (efer & EFER_LME)) {
		if (!(vcpu->cr4 & X86_CR4_PAE) || shv_cs_long(vcpu))
			return -EINVAL;
		efer |= EFER_LMA;
	}
	if ((old & X86_CR0_PG) && !(val & X86_CR0_PG) && (efer & EFER_LMA)) {
		/* long mode is left from compatibility mode, without PCIDs */
		if (shv_cs_long(vcpu) || (vcpu->cr4 & X86_CR4_PCIDE))
			return -EINVAL;
		efer &= ~EFER_LMA;
	}
	if (shv_pae_paging(val, vcpu->cr4, efer) &&
	    !shv_pae_paging(old, vcpu->cr4, vcpu->efer) &&
	    shv_load_pdptrs(vcpu, vcpu->cr3))
		return -EINVAL;

	vcpu->cr0 = val;
	vcpu->efer = efer;
	shv_arch->update_cr(vcpu);
	if ((old ^ val) & CR0_PAGING_BITS)
		shv_mmu_reset(vcpu);
	return 0;
}

/*
 * MOV to CR3 (and a task switch's CR3 load).  With CR4.PCIDE, bits 11:0
 * are the PCID and bit 63 asks not to flush it; bit 63 is never stored.
 * Without PCIDE, bit 63 is reserved like the other bits above MAXPHYADDR.
 */
int shv_set_cr3(struct shv_vcpu *vcpu, u64 val)
{
	bool pcid = vcpu->cr4 & X86_CR4_PCIDE, noflush = false;

	if (vcpu->efer & EFER_LMA) {
		if (pcid) {
			noflush = val & SHV_CR3_NOFLUSH;
			val &= ~SHV_CR3_NOFLUSH;
		}
		if (val & GENMASK_ULL(63, boot_cpu_data.x86_phys_bits))
			return -EINVAL;
	} else {
		val = (u32)val;
		if (shv_pae_paging(vcpu->cr0, vcpu->cr4, vcpu->efer) &&
		    shv_load_pdptrs(vcpu, val))
			return -EINVAL;
	}
	vcpu->cr3 = val;
	/* an address-space switch: flush what it flushes, find the root */
	vcpu->vm->mmu_ops->load_cr3(vcpu, pcid, noflush);
	set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
	return 0;
}

/*
 * PCIDs: the shadow MMU tags its cached roots with them in software, so
 * it offers them on any CPU; nested paging leaves them to the hardware.
 */
bool shv_pcid_offered(struct shv_vm *vm)
{
	return vm->mmu_ops->shadow || boot_cpu_has(X86_FEATURE_PCID);
}

/*
 * The CR4 bits a guest may set: those of the features its CPUID shows
 * (cpuid.c hides LA57, UMIP, OSXSAVE and the rest).  SET_SREGS and guest
 * writes under shadow paging both check against this.
 */
u64 shv_cr4_valid_bits(struct shv_vcpu *vcpu)
{
	u64 v = X86_CR4_TSD | X86_CR4_DE |
		X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE |
		X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;

	/* virtual-8086 mode extensions run in hardware: only with VME */
	if (boot_cpu_has(X86_FEATURE_VME))
		v |= X86_CR4_VME | X86_CR4_PVI;
	if (boot_cpu_has(X86_FEATURE_FSGSBASE))
		v |= X86_CR4_FSGSBASE;
	if (boot_cpu_has(X86_FEATURE_SMEP))
		v |= X86_CR4_SMEP;
	if (boot_cpu_has(X86_FEATURE_SMAP))
		v |= X86_CR4_SMAP;
	if (shv_pcid_offered(vcpu->vm))
		v |= X86_CR4_PCIDE;
	return v;
}

int shv_set_cr4(struct shv_vcpu *vcpu, u64 val)
{
	u64 old = vcpu->cr4;

	if (val & ~shv_cr4_valid_bits(vcpu))
		return -EINVAL;
	if ((vcpu->efer & EFER_LMA) && !(val & X86_CR4_PAE))
		return -EINVAL;
	/* PCIDs only in long mode, and only from PCID 0 on */
	if ((val & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE) &&
	    (!(vcpu->efer & EFER_LMA) || (vcpu->cr3 & SHV_CR3_PCID)))
		return -EINVAL;
	if (shv_pae_paging(vcpu->cr0, val, vcpu->efer) &&
	    ((old ^ val) & (X86_CR4_PAE | X86_CR4_PSE | X86_CR4_PGE |
			    X86_CR4_SMEP)) &&
	    shv_load_pdptrs(vcpu, vcpu->cr3))
		return -EINVAL;

	vcpu->cr4 = val;
	shv_arch->update_cr(vcpu);
	if ((old ^ val) & CR4_PAGING_BITS)
		shv_mmu_reset(vcpu);
	else if ((old ^ val) & X86_CR4_PGE)
		vcpu->vm->mmu_ops->flush(vcpu);	/* a global flush */
	return 0;
}

int shv_set_efer(struct shv_vcpu *vcpu, u64 val, bool host)
{
	u64 valid = EFER_SCE | EFER_LME | EFER_LMA | EFER_NX;
	u64 old = vcpu->efer;

	if (val & ~valid)
		return -EINVAL;
	if (!host) {
		/* LME cannot change while paging is on; LMA is read-only */
		if ((vcpu->cr0 & X86_CR0_PG) && ((val ^ old) & EFER_LME))
			return -EINVAL;
		val = (val & ~EFER_LMA) | (old & EFER_LMA);
	}
	vcpu->efer = val;
	shv_arch->update_cr(vcpu);
	if ((old ^ val) & (EFER_NX | EFER_LMA))
		shv_mmu_reset(vcpu);
	return 0;
}

/*
 * Emulate a MOV to/from CR0/CR3/CR4, CLTS, LMSW or SMSW that the shadow
 * MMU intercepts.  Returns 1 to resume the guest, <=0 as exit handlers do.
 */
int shv_emulate_cr_access(struct shv_vcpu *vcpu)
{
	struct shv_sregs s;
	struct shv_insn insn;
	u64 val = 0, next;
	int r, cr, sub;

	shv_arch->get_sregs(vcpu, &s);
	r = shv_fetch_insn(vcpu, &s, &insn);
	if (r == 1)
		return 1;
	if (r || insn.map != SHV_MAP_0F)
		goto fail;
	next = vcpu->rip + insn.len;
	cr = insn.reg;
	sub = insn.reg & 7;
	/* AMD's LOCK MOV CR0 is CR8 outside 64-bit mode */
	if (cr == 0 && (insn.prefixes & SHV_PFX_LOCK))
		cr = 8;

	switch (insn.opcode) {
	case 0x20:	/* mov r, crN */
	case 0x22:	/* mov crN, r */
		if (shv_arch->get_cpl(vcpu))
			goto gp;
		if (insn.opcode == 0x20) {
			switch (cr) {
			case 0:
				val = vcpu->cr0;
				break;
			case 3:
				val = vcpu->cr3;
				break;
			case 4:
				val = vcpu->cr4;
				break;
			default:
				goto fail;
			}
			/* the register operand is always 32/64 bits wide */
			vcpu->regs[insn.rm] = insn.mode == 64 ? val : (u32)val;
			break;
		}
		val = vcpu->regs[insn.rm];
		if (insn.mode != 64)
			val = (u32)val;
		if (cr == 8) {
			/* intercepted only while an interrupt window is open */
			if (val & ~0xfull)
				goto gp;
			vcpu->stats.tpr_exits++;
			shv_lapic_set_cr8(vcpu, val);
			break;
		}
		if (cr == 0)
			r = shv_set_cr0(vcpu, val);
		else if (cr == 3)
			r = shv_set_cr3(vcpu, val);
		else if (cr == 4)
			r = shv_set_cr4(vcpu, val);
		else
			goto fail;
		if (r)
			goto gp;
		break;
	case 0x06:	/* clts */
		if (shv_arch->get_cpl(vcpu))
			goto gp;
		r = shv_set_cr0(vcpu, vcpu->cr0 & ~X86_CR0_TS);
		break;
	case 0x01:
		if (sub != 4 && sub != 6)
			goto fail;
		if (sub == 4) {	/* smsw: allowed at any CPL (no UMIP) */
			val = vcpu->cr0;
			if (insn.mod == 3) {
				vcpu->regs[insn.rm] = insn.op_size == 2 ?
					(vcpu->regs[insn.rm] & ~0xffffull) |
					(val & 0xffff) :
					(insn.op_size == 4 ? (u32)val : val);
			} else if (shv_write_guest_virt(vcpu, &s,
					shv_insn_linear(vcpu, &s, &insn),
					&val, 2)) {
				return 1;
			}
			break;
		}
		/* lmsw: sets PE (never clears it), MP, EM and TS */
		if (shv_arch->get_cpl(vcpu))
			goto gp;
		if (insn.mod == 3) {
			val = vcpu->regs[insn.rm];
		} else {
			r = shv_read_guest_virt(vcpu, &s,
						shv_insn_linear(vcpu, &s, &insn),
						&val, 2, 0);
			if (r)
				return r == 1 ? 1 : 0;
		}
		val = (vcpu->cr0 & ~0xeull) | (val & 0xf) |
		      (vcpu->cr0 & X86_CR0_PE);
		if (shv_set_cr0(vcpu, val))
			goto gp;
		break;
	default:
		goto fail;
	}
	shv_arch->skip_insn(vcpu, next);
	return 1;
gp:
	shv_arch->queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
	return 1;
fail:
	{
		u64 data[2] = { vcpu->rip, r };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_EMULATION,
					  2, data);
	}
}

/* INVLPG m: invalidate one guest translation */
int shv_emulate_invlpg(struct shv_vcpu *vcpu)
{
	struct shv_sregs s;
	struct shv_insn insn;
	int r;

	shv_arch->get_sregs(vcpu, &s);
	r = shv_fetch_insn(vcpu, &s, &insn);
	if (r == 1)
		return 1;
	if (r || insn.map != SHV_MAP_0F || insn.opcode != 0x01 ||
	    (insn.reg & 7) != 7 || insn.mod == 3) {
		u64 data[1] = { vcpu->rip };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_EMULATION,
					  1, data);
	}
	if (shv_arch->get_cpl(vcpu)) {
		shv_arch->queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
		return 1;
	}
	vcpu->vm->mmu_ops->invlpg(vcpu, shv_insn_linear(vcpu, &s, &insn));
	shv_arch->skip_insn(vcpu, vcpu->rip + insn.len);
	return 1;
}
