// SPDX-License-Identifier: GPL-2.0
/*
 * Guest page-table walker: translates guest-linear addresses the way the
 * processor does in each paging mode (none, 32-bit, PAE, 4- and 5-level),
 * with the same permission checks, accessed/dirty updates and #PF error
 * codes.  The emulator uses it to fetch instructions and reach memory
 * operands; the shadow MMU will use it to fill shadow entries.
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
	bool wp, nxe, smep, user;
	u32 error;
};

static int read_entry(struct shv_vm *vm, u64 gpa, unsigned int size, u64 *v)
{
	*v = 0;
	return shv_read_guest_phys(vm, gpa, v, size) ? -EFAULT : 0;
}

/* set the accessed (and for the leaf of a write, the dirty) bit */
static void update_ad(struct shv_vm *vm, u64 gpa, unsigned int size, u64 pte,
		      bool dirty)
{
	u64 want = pte | PTE_A | (dirty ? PTE_D : 0);

	if (want != pte)
		shv_write_guest_phys(vm, gpa, &want, size);
}

/*
 * Walk levels top-down.  shifts[] gives the linear-address bit of each
 * level's index, idx_bits the index width, size the entry size.
 */
static int walk(struct walk_ctx *w, u64 table, u64 gva, const u8 *shifts,
		int levels, unsigned int idx_bits, unsigned int size,
		bool pse, struct shv_walk *out)
{
	struct shv_vm *vm = w->vcpu->vm;
	bool write = w->access & SHV_ACC_WRITE;
	bool fetch = w->access & SHV_ACC_FETCH;
	u64 pte = 0, pte_gpa, rsvd, pmask = shv_phys_mask();
	bool rw = true, us = true, nx = false;
	int level;

	rsvd = size == 8 ? ~pmask & GENMASK_ULL(62, 12) : 0;
	if (size == 8 && !w->nxe)
		rsvd |= PTE_NX;

	for (level = 0; level < levels; level++) {
		u64 idx = (gva >> shifts[level]) & ((1ull << idx_bits) - 1);
		bool leaf = level == levels - 1;

		pte_gpa = (table & (size == 8 ? pmask : 0xfffff000ull)) +
			  idx * size;
		if (read_entry(vm, pte_gpa, size, &pte))
			return -EFAULT;
		if (!(pte & PTE_P))
			goto fault;
		if (pte & rsvd) {
			w->error |= SHV_PFERR_RSVD | SHV_PFERR_PRESENT;
			goto fault;
		}
		rw &= !!(pte & PTE_RW);
		us &= !!(pte & PTE_US);
		nx |= !!(pte & PTE_NX);
		/* large pages: 1G at PDPTE (long mode), 2M/4M at the PDE */
		if (!leaf && (pte & PTE_PS) && pse &&
		    (levels - level) <= (size == 8 ? 3 : 2) &&
		    (levels - level) > 1) {
			u64 page_mask = (1ull << shifts[level]) - 1;

			if (size == 4) {
				/* PSE: bits 21:13 hold physical address 40:32 */
				u64 base = (pte & 0xffc00000ull) |
					   ((pte & 0x1fe000ull) << 19);

				out->gpa = base | (gva & page_mask);
			} else {
				out->gpa = (pte & pmask & ~page_mask) |
					   (gva & page_mask);
			}
			break;
		}
		if (leaf)
			out->gpa = (pte & (size == 8 ? pmask : 0xfffff000ull)) |
				   (gva & 0xfff);
		else
			update_ad(vm, pte_gpa, size, pte, false);
		table = pte;
	}

	w->error |= SHV_PFERR_PRESENT;
	if (w->user && !us)
		goto fault;
	if (write && !rw && (w->user || w->wp))
		goto fault;
	if (fetch && nx)
		goto fault;
	if (fetch && w->smep && !w->user && us)
		goto fault;
	update_ad(vm, pte_gpa, size, pte, write);
	return 0;

fault:
	if (write)
		w->error |= SHV_PFERR_WRITE;
	if (w->user)
		w->error |= SHV_PFERR_USER;
	if (fetch && (w->nxe || w->smep))
		w->error |= SHV_PFERR_FETCH;
	out->error_code = w->error;
	return 1;
}

static const u8 shifts_la57[] = { 48, 39, 30, 21, 12 };
static const u8 shifts_4l[] = { 39, 30, 21, 12 };
static const u8 shifts_pae[] = { 21, 12 };
static const u8 shifts_32[] = { 22, 12 };

int shv_gva_to_gpa(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		   u64 gva, unsigned int access, struct shv_walk *out)
{
	struct walk_ctx w = {
		.vcpu = vcpu,
		.access = access,
		.wp = sregs->cr0 & X86_CR0_WP,
		.nxe = sregs->efer & EFER_NX,
		.smep = sregs->cr4 & X86_CR4_SMEP,
		.user = access & SHV_ACC_USER,
	};
	u64 pdpte;

	out->error_code = 0;
	if (!(sregs->cr0 & X86_CR0_PG)) {
		out->gpa = (sregs->efer & EFER_LMA) ? gva : (u32)gva;
		return 0;
	}
	if (sregs->efer & EFER_LMA) {
		if (sregs->cr4 & X86_CR4_LA57)
			return walk(&w, sregs->cr3, gva, shifts_la57, 5, 9, 8,
				    true, out);
		return walk(&w, sregs->cr3, gva, shifts_4l, 4, 9, 8, true,
			    out);
	}
	gva = (u32)gva;
	if (sregs->cr4 & X86_CR4_PAE) {
		/* the four PDPTEs; hardware caches them at CR3 load */
		if (read_entry(vcpu->vm, (sregs->cr3 & 0xffffffe0ull) +
			       (gva >> 30) * 8, 8, &pdpte))
			return -EFAULT;
		if (!(pdpte & PTE_P)) {
			out->error_code = (access & SHV_ACC_WRITE ?
					   SHV_PFERR_WRITE : 0) |
					  (w.user ? SHV_PFERR_USER : 0);
			return 1;
		}
		w.nxe = sregs->efer & EFER_NX;
		return walk(&w, pdpte, gva, shifts_pae, 2, 9, 8, true, out);
	}
	return walk(&w, sregs->cr3, gva, shifts_32, 2, 10, 4,
		    sregs->cr4 & X86_CR4_PSE, out);
}

static void shv_inject_pf(struct shv_vcpu *vcpu, u64 gva, u32 error)
{
	shv_arch->set_cr2(vcpu, gva);
	shv_arch->queue_exception(vcpu, SHV_PF_VECTOR, true, error);
}

/*
 * Copy from guest-linear memory.  Returns 0, 1 after queueing a #PF into
 * the guest (the access faulted as it would on hardware), or -EFAULT when
 * the address does not reach RAM.
 */
int shv_read_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			u64 gva, void *buf, unsigned int len,
			unsigned int access)
{
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
		if (shv_read_guest_phys(vcpu->vm, walk.gpa, buf, n))
			return -EFAULT;
		gva += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int shv_write_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			 u64 gva, const void *buf, unsigned int len)
{
	unsigned int access = SHV_ACC_WRITE |
			      (shv_arch->get_cpl(vcpu) == 3 ? SHV_ACC_USER : 0);
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
		if (shv_write_guest_phys(vcpu->vm, walk.gpa, buf, n))
			return -EFAULT;
		gva += n;
		buf += n;
		len -= n;
	}
	return 0;
}
