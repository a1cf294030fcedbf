// SPDX-License-Identifier: GPL-2.0
/*
 * Nested paging (AMD NPT, Intel EPT): guest-physical to host-physical
 * tables built on demand.  Both formats have 512 8-byte entries per table
 * and differ only in their bits (struct npt_format).  A nested page fault
 * on RAM pins the runner's page and maps it; faults where no slot is (or
 * writes to a read-only slot) go to the emulator.  NPT tables have the
 * host's depth (4 or 5 levels), EPT tables 4.
 *
 * Zapping a range runs in two passes so a page is never unpinned while a
 * vCPU might still reach it through its TLB: first every leaf loses its
 * present bit (the frame number stays), then all vCPUs flush, then the
 * frames are unpinned and the entries cleared.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <asm/pgtable.h>
#include <asm/io.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"

#define NPT_P		BIT_ULL(0)
#define NPT_RW		BIT_ULL(1)
#define NPT_US		BIT_ULL(2)
#define NPT_A		BIT_ULL(5)
#define NPT_D		BIT_ULL(6)
#define NPT_ADDR	GENMASK_ULL(51, 12)
#define NPT_ENTRIES	512

#define EPT_R		BIT_ULL(0)
#define EPT_W		BIT_ULL(1)
#define EPT_X		BIT_ULL(2)
#define EPT_MT_WB	(6ull << 3)
#define EPT_SW_WRITABLE	BIT_ULL(52)	/* ignored by the CPU: was writable */

struct npt_format {
	u64 present;		/* any of these: the entry is present */
	u64 table;		/* a non-leaf entry's bits */
	u64 leaf;		/* a leaf's bits */
	u64 write;		/* a writable leaf's extra bits */
};

static const struct npt_format npt_fmt = {
	.present = NPT_P,
	.table = NPT_P | NPT_RW | NPT_US | NPT_A,
	.leaf = NPT_P | NPT_US | NPT_A | NPT_D,
	.write = NPT_RW,
};

/* EPT: W without R is a misconfiguration, so RWX come and go together */
static const struct npt_format ept_fmt = {
	.present = EPT_R | EPT_W | EPT_X,
	.table = EPT_R | EPT_W | EPT_X,
	.leaf = EPT_R | EPT_X | EPT_MT_WB,
	.write = EPT_W | EPT_SW_WRITABLE,
};

struct shv_npt {
	struct mutex lock;		/* serializes table updates */
	u64 *root;
	int levels;
	const struct npt_format *fmt;
};

static inline struct shv_npt *to_npt(struct shv_vm *vm)
{
	return vm->mmu;
}

static unsigned int npt_index(u64 gfn, int level)
{
	return (gfn >> (9 * (level - 1))) & (NPT_ENTRIES - 1);
}

static u64 *npt_alloc_table(void)
{
	return (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
}

static u64 *npt_table(u64 entry)
{
	return __va(entry & NPT_ADDR);
}

/* the leaf entry for gfn, allocating tables on the way when asked */
static u64 *npt_leaf(struct shv_npt *npt, u64 gfn, bool alloc)
{
	u64 *table = npt->root;
	int level;

	for (level = npt->levels; level > 1; level--) {
		u64 *e = &table[npt_index(gfn, level)];

		if (!(*e & npt->fmt->present)) {
			u64 *t;

			if (!alloc)
				return NULL;
			t = npt_alloc_table();
			if (!t)
				return NULL;
			*e = __pa(t) | npt->fmt->table;
		}
		table = npt_table(*e);
	}
	return &table[npt_index(gfn, 1)];
}

static void npt_unpin(const struct npt_format *fmt, u64 entry)
{
	struct page *page = pfn_to_page((entry & NPT_ADDR) >> PAGE_SHIFT);
	/* the writable marker that survives NPT_UNMAP */
	u64 w = fmt == &ept_fmt ? EPT_SW_WRITABLE : NPT_RW;

	unpin_user_pages_dirty_lock(&page, 1, entry & w);
}

enum npt_pass { NPT_UNMAP, NPT_RELEASE, NPT_DESTROY };

/*
 * Walk [start, end) (in gfns) of the table at level.  NPT_UNMAP clears
 * present bits, NPT_RELEASE unpins non-present leaves that still hold a
 * frame, NPT_DESTROY does both and frees the tables.
 */
static void npt_walk(const struct npt_format *fmt, u64 *table, int level,
		     u64 base, u64 start, u64 end, enum npt_pass pass)
{
	u64 span = 1ull << (9 * (level - 1));
	unsigned int i;

	for (i = 0; i < NPT_ENTRIES; i++) {
		u64 lo = base + i * span, hi = lo + span;
		u64 *e = &table[i];

		if (hi <= start || lo >= end || !*e)
			continue;
		if (level > 1) {
			if (!(*e & fmt->present))
				continue;
			npt_walk(fmt, npt_table(*e), level - 1, lo, start, end,
				 pass);
			if (pass == NPT_DESTROY) {
				free_page((unsigned long)npt_table(*e));
				*e = 0;
			}
			continue;
		}
		switch (pass) {
		case NPT_UNMAP:
			*e &= ~fmt->present;
			break;
		case NPT_RELEASE:
			if (!(*e & fmt->present)) {
				npt_unpin(fmt, *e);
				*e = 0;
			}
			break;
		case NPT_DESTROY:
			npt_unpin(fmt, *e);
			*e = 0;
			break;
		}
	}
}

static int npt_vm_init(struct shv_vm *vm)
{
	struct shv_npt *npt = kzalloc(sizeof(*npt), GFP_KERNEL_ACCOUNT);

	if (!npt)
		return -ENOMEM;
	npt->root = npt_alloc_table();
	if (!npt->root) {
		kfree(npt);
		return -ENOMEM;
	}
	if (shv_arch->vendor == SHV_VENDOR_VMX) {
		/* 4-level EPT covers the 48-bit guest-physical space */
		npt->fmt = &ept_fmt;
		npt->levels = 4;
	} else {
		/* nested tables follow the host's paging depth */
		npt->fmt = &npt_fmt;
		npt->levels = pgtable_l5_enabled() ? 5 : 4;
	}
	mutex_init(&npt->lock);
	vm->mmu = npt;
	return 0;
}

static void npt_vm_destroy(struct shv_vm *vm)
{
	struct shv_npt *npt = to_npt(vm);

	if (!npt)
		return;
	npt_walk(npt->fmt, npt->root, npt->levels, 0, 0, ~0ull, NPT_DESTROY);
	free_page((unsigned long)npt->root);
	kfree(npt);
	vm->mmu = NULL;
}

static int npt_nested_fault(struct shv_vm *vm, u64 gpa, bool write,
			    bool fetch)
{
	struct shv_npt *npt = to_npt(vm);
	u64 gfn = gpa >> PAGE_SHIFT;
	struct shv_memslot *slot = shv_gfn_to_slot(vm, gfn);
	unsigned long hva;
	struct page *page;
	bool ro;
	u64 *e;
	int r;

	if (!slot)
		return SHV_MMU_EMULATE;
	ro = slot->flags & SHV_MEM_READONLY;
	if (write && ro)
		return SHV_MMU_EMULATE;

	hva = slot->userspace_addr + (gfn - slot->base_gfn) * PAGE_SIZE;
	r = pin_user_pages_fast(hva, 1, (ro ? 0 : FOLL_WRITE) | FOLL_LONGTERM,
				&page);
	if (r != 1)
		return r < 0 ? r : -EFAULT;

	mutex_lock(&npt->lock);
	e = npt_leaf(npt, gfn, true);
	if (!e) {
		mutex_unlock(&npt->lock);
		unpin_user_page(page);
		return -ENOMEM;
	}
	if (*e) {
		/* raced with another vCPU, or a zap is releasing it */
		mutex_unlock(&npt->lock);
		unpin_user_page(page);
		return 0;
	}
	*e = page_to_phys(page) | npt->fmt->leaf | (ro ? 0 : npt->fmt->write);
	mutex_unlock(&npt->lock);
	return 0;
}

static void npt_zap_range(struct shv_vm *vm, u64 gfn, u64 npages)
{
	struct shv_npt *npt = to_npt(vm);

	mutex_lock(&npt->lock);
	npt_walk(npt->fmt, npt->root, npt->levels, 0, gfn, gfn + npages,
		 NPT_UNMAP);
	mutex_unlock(&npt->lock);

	shv_vm_request_all(vm, SHV_REQ_TLB_FLUSH);

	mutex_lock(&npt->lock);
	npt_walk(npt->fmt, npt->root, npt->levels, 0, gfn, gfn + npages,
		 NPT_RELEASE);
	mutex_unlock(&npt->lock);
}

static u64 npt_root_hpa(struct shv_vcpu *vcpu)
{
	return __pa(to_npt(vcpu->vm)->root);
}

/*
 * The guest's own paging needs nothing from nested paging, but cr.c
 * calls these on paging-mode changes under VMX (which emulates CR0/CR4
 * writes under both MMUs).
 */
static void npt_vcpu_nop(struct shv_vcpu *vcpu)
{
}

static int npt_reload(struct shv_vcpu *vcpu)
{
	return 0;
}

static void npt_invlpg(struct shv_vcpu *vcpu, u64 gva)
{
}

static void npt_load_cr3(struct shv_vcpu *vcpu, bool pcid, bool noflush)
{
}

const struct shv_mmu_ops shv_npt_mmu_ops = {
	.name		= "npt",
	.vm_init	= npt_vm_init,
	.vm_destroy	= npt_vm_destroy,
	.nested_fault	= npt_nested_fault,
	.zap_range	= npt_zap_range,
	.root_hpa	= npt_root_hpa,
	.reload		= npt_reload,
	.reset		= npt_vcpu_nop,
	.flush		= npt_vcpu_nop,
	.invlpg		= npt_invlpg,
	.load_cr3	= npt_load_cr3,
};
