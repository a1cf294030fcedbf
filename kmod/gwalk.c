// SPDX-License-Identifier: GPL-2.0
/*
 * Guest page-table walker: translates guest-linear addresses the way the
 * processor does in each paging mode (none, 32-bit with PSE/PSE-36, PAE,
 * 4- and 5-level), with the same permission checks, accessed/dirty updates
 * and #PF error codes.  The emulator uses it to fetch instructions and
 * reach memory operands; the shadow MMU uses the recorded path to build
 * shadow entries.
 */
#include <linux/mm.h>
#include <asm/processor.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"

#define PTE_P		BIT_ULL(0)
#define PTE_RW		BIT_ULL(1)
#define PTE_US		BIT_ULL(2)
#define PTE_A		BIT_ULL(5)
#define PTE_D		BIT_ULL(6)
#define PTE_PS		BIT_ULL(7)
#define PTE_NX		BIT_ULL(63)

static u64 shv_phys_mask(void)
{
	return GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 12);
}

struct walk_ctx {
	struct shv_vcpu *vcpu;
	unsigned int access;
	bool wp, nxe, smep, smap, ac, user;
	bool gbpages;		/* 1 GiB pages (CPUID 0x80000001 EDX[26]) */
};

/* a 4 MiB PDE: bit 21, and PSE-36 address bits beyond MAXPHYADDR */
static u64 pse36_rsvd(void)
{
	unsigned int phys = boot_cpu_data.x86_phys_bits;

	if (phys >= 40)
		return BIT_ULL(21);
	if (phys <= 32)
		return GENMASK_ULL(21, 13);
	return GENMASK_ULL(21, 13 + phys - 32);
}

static int read_entry(struct shv_vm *vm, u64 gpa, unsigned int size, u64 *v)
{
	*v = 0;
	return shv_read_guest_phys(vm, gpa, v, size) ? -EFAULT : 0;
}

/* set the accessed (and for the leaf of a write, the dirty) bit */
static void update_ad(struct walk_ctx *w, u64 gpa, unsigned int size,
		      u64 pte, bool dirty)
{
	u64 want = pte | PTE_A | (dirty ? PTE_D : 0);

	if (want != pte && !(w->access & SHV_ACC_NOAD))
		shv_write_guest_phys(w->vcpu->vm, gpa, &want, size);
}

static u32 pte_perm(u64 pte)
{
	return ((pte & PTE_RW) ? SHV_PERM_W : 0) |
	       ((pte & PTE_US) ? SHV_PERM_U : 0) |
	       ((pte & PTE_NX) ? 0 : SHV_PERM_X);
}

/*
 * Walk from the table at level top down.  For 8-byte entries each level
 * indexes 9 bits, for 4-byte entries 10 bits; large pages are allowed at
 * level 2 (2M/4M) and, for 8-byte entries, level 3 (1G).
 */
static int walk(struct walk_ctx *w, u64 table, u64 gva, int top, bool e32,
		bool pse, u32 perm, struct shv_walk *out)
{
	struct shv_vm *vm = w->vcpu->vm;
	bool write = w->access & SHV_ACC_WRITE;
	bool fetch = w->access & SHV_ACC_FETCH;
	unsigned int size = e32 ? 4 : 8, bits = e32 ? 10 : 9;
	u64 pmask = shv_phys_mask(), amask = e32 ? 0xfffff000ull : pmask;
	u64 pte = 0, pte_gpa = 0, rsvd;
	u32 error = 0;
	int level;

	/*
	 * Reserved: the physical-address bits the CPU lacks; in PAE paging
	 * also bits 62:52, which 4- and 5-level paging leave to software.
	 */
	if (e32)
		rsvd = 0;
	else if (top >= 4)
		rsvd = ~pmask & GENMASK_ULL(51, 12);
	else
		rsvd = ~pmask & GENMASK_ULL(62, 12);
	if (!e32 && !w->nxe)
		rsvd |= PTE_NX;

	out->top = top;
	out->gpte32 = e32;
	for (level = top; level >= 1; level--) {
		unsigned int shift = 12 + bits * (level - 1);
		u64 idx = (gva >> shift) & ((1ull << bits) - 1);
		bool large;

		out->table_gfn[level] = (table & amask) >> PAGE_SHIFT;
		out->perm_above[level] = perm;
		pte_gpa = (table & amask) + idx * size;
		if (read_entry(vm, pte_gpa, size, &pte))
			return -EFAULT;
		out->pte[level] = pte;
		if (!(pte & PTE_P))
			goto fault;
		large = level > 1 && (pte & PTE_PS) &&
			(level == 2 ? pse : (!e32 && level == 3));
		if ((pte & rsvd) || (level == 5 && (pte & PTE_PS)) ||
		    (level == 4 && !e32 && (pte & PTE_PS)) ||
		    (large && level == 3 && !w->gbpages) ||
		    (large && !e32 &&
		     (pte & GENMASK_ULL(shift - 1, 13))) ||
		    (large && e32 && (pte & pse36_rsvd()))) {
			error |= SHV_PFERR_RSVD | SHV_PFERR_PRESENT;
			goto fault;
		}
		perm &= pte_perm(pte);
		if (level == 1 || large) {
			u64 page_mask = (1ull << shift) - 1, base;

			if (e32 && large)	/* PSE-36: bits 20:13 are 39:32 */
				base = (pte & 0xffc00000ull) |
				       ((pte & 0x1fe000ull) << 19);
			else
				base = pte & amask & ~page_mask;
			base &= ~page_mask;
			out->gpa = base | (gva & page_mask);
			out->page_gfn = base >> PAGE_SHIFT;
			out->leaf = level;
			break;
		}
		update_ad(w, pte_gpa, size, pte, false);
		table = pte;
	}

	out->perm = perm;
	error |= SHV_PFERR_PRESENT;
	if (w->user && !(perm & SHV_PERM_U))
		goto fault;
	if (write && !(perm & SHV_PERM_W) && (w->user || w->wp))
		goto fault;
	if (fetch && !(perm & SHV_PERM_X))
		goto fault;
	if (fetch && w->smep && !w->user && (perm & SHV_PERM_U))
		goto fault;
	if (!fetch && w->smap && !w->user && !w->ac && (perm & SHV_PERM_U) &&
	    !(w->access & SHV_ACC_NOAD))
		goto fault;
	update_ad(w, pte_gpa, size, pte, write);
	out->dirty = write || (pte & PTE_D);
	return 0;

fault:
	if (write)
		error |= SHV_PFERR_WRITE;
	if (w->user)
		error |= SHV_PFERR_USER;
	if (fetch && (w->nxe || w->smep))
		error |= SHV_PFERR_FETCH;
	out->error_code = error;
	return 1;
}

int shv_gva_to_gpa(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		   u64 gva, unsigned int access, struct shv_walk *out)
{
	struct walk_ctx w = {
		.vcpu = vcpu,
		.access = access,
		.wp = sregs->cr0 & X86_CR0_WP,
		/* NX exists in PAE-format entries only */
		.nxe = (sregs->efer & EFER_NX) && (sregs->cr4 & X86_CR4_PAE),
		.smep = sregs->cr4 & X86_CR4_SMEP,
		.smap = sregs->cr4 & X86_CR4_SMAP,
		.ac = (vcpu->rflags & X86_EFLAGS_AC) &&
		      !(access & SHV_ACC_IMPLICIT),
		.user = access & SHV_ACC_USER,
		.gbpages = shv_guest_has(vcpu, 0x80000001, 3, 26),
	};
	u64 pdpte;

	out->error_code = 0;
	out->top = 0;
	if (!(sregs->cr0 & X86_CR0_PG)) {
		out->gpa = (sregs->efer & EFER_LMA) ? gva : (u32)gva;
		out->page_gfn = out->gpa >> PAGE_SHIFT;
		out->perm = SHV_PERM_ALL;
		out->leaf = 1;
		out->dirty = true;
		return 0;
	}
	if (sregs->efer & EFER_LMA) {
		if (sregs->cr4 & X86_CR4_LA57)
			return walk(&w, sregs->cr3, gva, 5, false, true,
				    SHV_PERM_ALL, out);
		return walk(&w, sregs->cr3, gva, 4, false, true, SHV_PERM_ALL,
			    out);
	}
	gva = (u32)gva;
	if (sregs->cr4 & X86_CR4_PAE) {
		/* the four PDPTEs; hardware caches them at CR3 load */
		if (read_entry(vcpu->vm, (sregs->cr3 & 0xffffffe0ull) +
			       (gva >> 30) * 8, 8, &pdpte))
			return -EFAULT;
		out->pte[3] = pdpte;
		if (!(pdpte & PTE_P)) {
			out->error_code = (access & SHV_ACC_WRITE ?
					   SHV_PFERR_WRITE : 0) |
					  (w.user ? SHV_PFERR_USER : 0) |
					  ((access & SHV_ACC_FETCH) &&
					   (w.nxe || w.smep) ?
					   SHV_PFERR_FETCH : 0);
			return 1;
		}
		return walk(&w, pdpte, gva, 2, false, true, SHV_PERM_ALL, out);
	}
	/* 32-bit paging has no NX: every page is executable */
	return walk(&w, sregs->cr3, gva, 2, true, sregs->cr4 & X86_CR4_PSE,
		    SHV_PERM_ALL, out);
}

static void shv_inject_pf(struct shv_vcpu *vcpu, u64 gva, u32 error)
{
	shv_arch->set_cr2(vcpu, gva);
	shv_arch->queue_exception(vcpu, SHV_PF_VECTOR, true, error);
}

/*
 * Copy between a buffer and guest-linear memory.  Returns 0, 1 after
 * queueing a #PF into the guest (the access faulted as it would on
 * hardware), or -EFAULT when the address does not reach RAM.
 */
static int shv_rw_guest_virt(struct shv_vcpu *vcpu,
			     const struct shv_sregs *sregs, u64 gva, void *buf,
			     unsigned int len, unsigned int access)
{
	bool write = access & SHV_ACC_WRITE;
	struct shv_walk walk;
	int r;

	while (len) {
		unsigned int n = min_t(unsigned int, len,
				       PAGE_SIZE - offset_in_page(gva));

		r = shv_gva_to_gpa(vcpu, sregs, gva, access, &walk);
		if (r == 1)
			shv_inject_pf(vcpu, gva, walk.error_code);
		if (r)
			return r;
		if (write) {
			r = shv_write_guest_phys(vcpu->vm, walk.gpa, buf, n);
			if (!r)
				shv_mmu_track_write(vcpu->vm, walk.gpa, n);
		} else {
			r = shv_read_guest_phys(vcpu->vm, walk.gpa, buf, n);
		}
		if (r)
			return -EFAULT;
		gva += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int shv_read_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			u64 gva, void *buf, unsigned int len,
			unsigned int access)
{
	return shv_rw_guest_virt(vcpu, sregs, gva, buf, len,
				 access & ~SHV_ACC_WRITE);
}

int shv_write_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			 u64 gva, const void *buf, unsigned int len)
{
	unsigned int access = SHV_ACC_WRITE |
			      (shv_arch->get_cpl(vcpu) == 3 ? SHV_ACC_USER : 0);

	return shv_rw_guest_virt(vcpu, sregs, gva, (void *)buf, len, access);
}

/* a write by the processor itself (TSS, descriptors): supervisor at any CPL */
int shv_write_guest_virt_sys(struct shv_vcpu *vcpu,
			     const struct shv_sregs *sregs, u64 gva,
			     const void *buf, unsigned int len)
{
	return shv_rw_guest_virt(vcpu, sregs, gva, (void *)buf, len,
				 SHV_ACC_WRITE | SHV_ACC_IMPLICIT);
}
