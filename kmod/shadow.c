// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow MMU: shadow page tables that cache the translations of many
 * guest address spaces at once, a software tagged TLB.  The design is in
 * Documentation/mmu.rst; in short:
 *
 * - A shadow page (struct shv_sp) shadows one guest page table under one
 *   role (level, entry size, quadrant, accumulated access) or maps a
 *   guest-physical range directly (guest large pages, paging off).  It is
 *   found by (gfn, role) in a hash, so the same guest table reached from
 *   several address spaces or vCPUs maps to one shadow page.
 * - Roots (struct shv_root) are kept in an LRU cache per VM, keyed by the
 *   guest CR3 (and PDPTEs) and tagged with the guest's PCID, so switching
 *   back to an address space seen before reuses its shadow tables.
 * - Guest page tables the MMU knows (struct shv_gpt) are never mapped
 *   writable by new shadow entries; a guest write to one faults, is
 *   emulated and marks the shadow entries it affects stale.  Stale entries
 *   are dropped at the next flush point (CR3 load, INVLPG, CR4.PGE
 *   toggle); everything else stays cached.  With PCIDs a CR3 load drops
 *   only those the new PCID must not see, and with no-flush only those
 *   that were marked after this vCPU last left the root.
 * - Tracking of a newly seen guest table is deferred: writable mappings to
 *   it that existed before it became a page table are not searched for.
 *   Its shadow pages are dropped at every flush point instead, and once
 *   more untracked tables were instantiated than the threshold allows,
 *   every cached translation is purged, after which all known tables are
 *   tracked.  Tables unused for SHV_GPT_EPOCHS purges are forgotten.
 *
 * Locking: one mutex per VM (shadow->lock) covers all of it.  Hardware
 * walks shadow tables without the lock: entries are changed with single
 * 64-bit stores; a change that takes a translation away is followed by a
 * TLB flush on every vCPU (shv_vm_request_all() waits for them to leave
 * the guest) before the lock is dropped, and shadow pages are freed only
 * after that flush.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <asm/io.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"

static unsigned int shadow_roots = 128;
module_param(shadow_roots, uint, 0644);
MODULE_PARM_DESC(shadow_roots, "shadow roots (address spaces) cached per VM");

static unsigned int shadow_pages_max = 16384;
module_param(shadow_pages_max, uint, 0644);
MODULE_PARM_DESC(shadow_pages_max, "shadow page-table pages per VM");

static unsigned int shadow_defer_threshold = 64;
module_param(shadow_defer_threshold, uint, 0644);
MODULE_PARM_DESC(shadow_defer_threshold,
		 "untracked guest page tables before a full purge");

static unsigned int shadow_flood_writes = 16;
module_param(shadow_flood_writes, uint, 0644);
MODULE_PARM_DESC(shadow_flood_writes,
		 "emulated writes to an unused guest table before releasing it");

#define SPTE_P		BIT_ULL(0)
#define SPTE_RW		BIT_ULL(1)
#define SPTE_US		BIT_ULL(2)
#define SPTE_A		BIT_ULL(5)
#define SPTE_D		BIT_ULL(6)
#define SPTE_NX		BIT_ULL(63)
#define SPTE_ADDR	GENMASK_ULL(51, 12)
#define SPTE_NONLEAF	(SPTE_P | SPTE_RW | SPTE_US | SPTE_A)
#define SPT_ENTRIES	512

/*
 * A known guest table stays known (and, after a purge, tracked) until it
 * went unshadowed for this many purges: address spaces used in turn stay
 * tracked even when one round of them spans several purges.
 */
#define SHV_GPT_EPOCHS	8

/* an untracked table shadowed this often forces the purge that tracks it */
#define SHV_GPT_REBUILDS	4

enum shv_smode {
	SHV_SMODE_OFF,		/* guest paging off: direct map */
	SHV_SMODE_32,		/* 32-bit paging, shadowed with PAE tables */
	SHV_SMODE_PAE,
	SHV_SMODE_LM4,
	SHV_SMODE_LM5,
};

union shv_sp_role {
	u32 word;
	struct {
		u32 level:3;
		u32 gpte32:1;	/* the guest table has 4-byte entries */
		u32 quadrant:2;	/* which part of a 4-byte guest table */
		u32 direct:1;	/* maps a gfn range, no guest table */
		u32 access:3;	/* SHV_PERM_* of the guest levels above */
	};
};

struct shv_gpt;
struct shv_root;

struct shv_sp {
	struct hlist_node hash;
	struct list_head link;		/* shadow->sps, LRU order */
	struct list_head gpt_link;	/* gpt->sps */
	struct list_head stale_link;	/* shadow->stale */
	struct list_head parents;	/* struct shv_parent */
	u64 gfn;
	union shv_sp_role role;
	u64 *spt;
	struct shv_gpt *gpt;
	DECLARE_BITMAP(stale, SPT_ENTRIES);
	bool on_stale;
	bool linked;			/* an entry pointed to it at some time */
	u64 mark_gen;			/* the marking event of its newest mark */
	u64 visit;			/* sp_reaches() was here */
};

/* one entry that points to a shadow page: in a parent or in a root */
struct shv_parent {
	struct list_head link;
	struct shv_sp *sp;		/* NULL when in a root */
	struct shv_root *root;
	unsigned int index;
};

/* a guest page table the MMU knows */
struct shv_gpt {
	struct hlist_node hash;
	struct list_head untracked_link;
	struct list_head sps;
	u64 gfn;
	bool tracked;
	unsigned int epoch;		/* purge epoch it was last shadowed in */
	unsigned int writes;		/* emulated writes since last use */
	unsigned int rebuilds;		/* shadowed while untracked */
};

struct shv_root {
	struct list_head lru;
	int users;			/* vCPUs running on it */
	bool invalid;			/* its top page was zapped */
	int mode;
	u16 pcid;			/* CR3[11:0] with CR4.PCIDE, else 0 */
	u64 id;				/* unique in the VM, never reused */
	u64 cr3;
	u64 pdpte[4];
	struct shv_sp *sp[4];
	u64 *pae;			/* PAE-format root below 4 GiB */
	u64 hpa;
};

struct shv_shadow {
	struct mutex lock;		/* everything below */
	DECLARE_HASHTABLE(sp_hash, 12);
	DECLARE_HASHTABLE(gpt_hash, 12);
	struct list_head sps;
	struct list_head roots;
	struct list_head stale;
	struct list_head untracked;
	struct list_head zapped;	/* freed after the next flush */
	struct xarray pins;		/* gfn -> pinned struct page */
	unsigned int nr_sps, nr_roots, nr_gpts, nr_untracked;
	unsigned int untracked_seen;	/* instantiations since the purge */
	unsigned int epoch;		/* purges so far */
	u64 root_ids;			/* roots made so far */
	u64 mark_gen;			/* stale-marking events so far */
	u64 visit;			/* sp_reaches() walks so far */
	bool need_flush;
	struct shv_mmu_stats stats;
};

/* what the next reload of a vCPU must flush for the root it lands on */
enum shv_load {
	SHV_LOAD_NONE,			/* nothing (flushed already, or reset) */
	SHV_LOAD_FLUSH,			/* a PCID flush: all its stale entries */
	SHV_LOAD_NOFLUSH,		/* PCID no-flush: stale it may not hold */
};

/*
 * What a vCPU's TLB may still hold for a PCID it left: the root it ran on
 * with that PCID, and the marking events it saw there (sh->mark_gen when
 * it left).  Indexed by a hash of the PCID; a collision forgets a record,
 * which only costs a purge.
 */
#define SHV_PCID_RECORDS	64

struct shv_pcid_record {
	u64 root_id;			/* 0: none */
	u64 gen;
};

struct shv_svcpu {
	struct shv_root *root;
	enum shv_load load;
	struct shv_pcid_record left[SHV_PCID_RECORDS];
};

static inline struct shv_shadow *to_shadow(struct shv_vm *vm)
{
	return vm->mmu;
}

static inline struct shv_svcpu *to_svcpu(struct shv_vcpu *vcpu)
{
	return vcpu->mmu;
}

/* the root the vCPU runs on, NULL before its first reload */
static struct shv_root *vcpu_root(struct shv_vcpu *vcpu)
{
	struct shv_svcpu *sv = to_svcpu(vcpu);

	return sv ? sv->root : NULL;
}

static struct shv_pcid_record *pcid_record(struct shv_svcpu *sv, u16 pcid)
{
	return &sv->left[hash_32(pcid, ilog2(SHV_PCID_RECORDS))];
}

static struct shv_sp *spte_to_sp(u64 spte)
{
	return (struct shv_sp *)page_private(pfn_to_page((spte & SPTE_ADDR) >>
							  PAGE_SHIFT));
}

/* the guest's paging view, as the core holds it */
static void guest_sregs(struct shv_vcpu *vcpu, struct shv_sregs *s)
{
	shv_arch->get_sregs(vcpu, s);
}

/* the PCID a root is tagged with; PCIDs exist only in long mode */
static u16 shadow_pcid(const struct shv_sregs *s)
{
	return (s->cr4 & X86_CR4_PCIDE) ? s->cr3 & SHV_CR3_PCID : 0;
}

static int shadow_mode(const struct shv_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PG))
		return SHV_SMODE_OFF;
	if (s->efer & EFER_LMA)
		return (s->cr4 & X86_CR4_LA57) ? SHV_SMODE_LM5 : SHV_SMODE_LM4;
	return (s->cr4 & X86_CR4_PAE) ? SHV_SMODE_PAE : SHV_SMODE_32;
}

/* --- guest page tables --- */

static struct shv_gpt *gpt_find(struct shv_shadow *sh, u64 gfn)
{
	struct shv_gpt *g;

	hash_for_each_possible(sh->gpt_hash, g, hash, gfn)
		if (g->gfn == gfn)
			return g;
	return NULL;
}

static struct shv_gpt *gpt_get(struct shv_shadow *sh, u64 gfn)
{
	struct shv_gpt *g = gpt_find(sh, gfn);

	if (g)
		return g;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return NULL;
	g->gfn = gfn;
	INIT_LIST_HEAD(&g->sps);
	/* writable mappings made before now are not searched: deferred */
	list_add(&g->untracked_link, &sh->untracked);
	sh->nr_untracked++;
	sh->nr_gpts++;
	hash_add(sh->gpt_hash, &g->hash, gfn);
	return g;
}

static void gpt_free(struct shv_shadow *sh, struct shv_gpt *g)
{
	if (!g->tracked) {
		list_del(&g->untracked_link);
		sh->nr_untracked--;
	}
	hash_del(&g->hash);
	sh->nr_gpts--;
	kfree(g);
}

/* --- shadow pages --- */

static void sp_unlink_parent(struct shv_sp *child, struct shv_sp *parent,
			     struct shv_root *root, unsigned int index)
{
	struct shv_parent *p;

	list_for_each_entry(p, &child->parents, link) {
		if (p->sp == parent && p->root == root && p->index == index) {
			list_del(&p->link);
			kfree(p);
			return;
		}
	}
}

static int sp_link_parent(struct shv_sp *child, struct shv_sp *parent,
			  struct shv_root *root, unsigned int index)
{
	struct shv_parent *p = kmalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);

	if (!p)
		return -ENOMEM;
	p->sp = parent;
	p->root = root;
	p->index = index;
	list_add(&p->link, &child->parents);
	child->linked = true;
	return 0;
}

/* clear one entry; a non-leaf entry stops being a parent of its child */
static void sp_clear_entry(struct shv_shadow *sh, struct shv_sp *sp,
			   unsigned int i)
{
	u64 e = sp->spt[i];

	if (!(e & SPTE_P))
		return;
	if (sp->role.level > 1)
		sp_unlink_parent(spte_to_sp(e), sp, NULL, i);
	WRITE_ONCE(sp->spt[i], 0);
	sh->need_flush = true;
}

static void root_drop_sp(struct shv_shadow *sh, struct shv_root *root,
			 unsigned int i);

/*
 * Take a shadow page out of service: every entry pointing to it is
 * cleared, its own entries are cleared, and it waits on the zapped list
 * for the flush after which nothing can reach it.
 */
static void sp_zap(struct shv_shadow *sh, struct shv_sp *sp)
{
	struct shv_parent *p, *tmp;
	unsigned int i;

	list_for_each_entry_safe(p, tmp, &sp->parents, link) {
		if (p->root) {
			root_drop_sp(sh, p->root, p->index);
			continue;
		}
		WRITE_ONCE(p->sp->spt[p->index], 0);
		list_del(&p->link);
		kfree(p);
	}
	for (i = 0; i < SPT_ENTRIES; i++)
		sp_clear_entry(sh, sp, i);
	if (sp->on_stale) {
		list_del(&sp->stale_link);
		sp->on_stale = false;
	}
	if (sp->gpt) {
		list_del(&sp->gpt_link);
		sp->gpt = NULL;
	}
	hash_del(&sp->hash);
	list_move(&sp->link, &sh->zapped);
	sh->nr_sps--;
	sh->need_flush = true;
}

static void sp_free(struct shv_sp *sp)
{
	free_page((unsigned long)sp->spt);
	kfree(sp);
}

static u32 sp_key(u64 gfn, union shv_sp_role role)
{
	return (u32)gfn ^ (u32)(gfn >> 32) ^ (role.word * 0x9e3779b1u);
}

static struct shv_sp *sp_find(struct shv_shadow *sh, u64 gfn,
			      union shv_sp_role role)
{
	struct shv_sp *sp;

	hash_for_each_possible(sh->sp_hash, sp, hash, sp_key(gfn, role))
		if (sp->gfn == gfn && sp->role.word == role.word)
			return sp;
	return NULL;
}

static struct shv_sp *sp_get(struct shv_vm *vm, u64 gfn,
			     union shv_sp_role role)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp = sp_find(sh, gfn, role);
	struct page *page;

	if (sp) {
		list_move(&sp->link, &sh->sps);
		if (sp->gpt)
			sp->gpt->writes = 0;
		return sp;
	}
	sp = kzalloc(sizeof(*sp), GFP_KERNEL_ACCOUNT);
	if (!sp)
		return NULL;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page) {
		kfree(sp);
		return NULL;
	}
	set_page_private(page, (unsigned long)sp);
	sp->spt = page_address(page);
	sp->gfn = gfn;
	sp->role = role;
	INIT_LIST_HEAD(&sp->parents);
	INIT_LIST_HEAD(&sp->gpt_link);
	if (!role.direct) {
		struct shv_gpt *g = gpt_get(sh, gfn);

		if (!g) {
			sp_free(sp);
			return NULL;
		}
		sp->gpt = g;
		g->writes = 0;
		g->epoch = sh->epoch;
		list_add(&sp->gpt_link, &g->sps);
		if (!g->tracked) {
			sh->untracked_seen++;
			/*
			 * Rebuilt again and again after flush points: a table
			 * that lives this long is worth tracking now.
			 */
			if (++g->rebuilds >= SHV_GPT_REBUILDS)
				sh->untracked_seen = max(sh->untracked_seen,
							 shadow_defer_threshold + 1);
		}
	}
	hash_add(sh->sp_hash, &sp->hash, sp_key(gfn, role));
	list_add(&sp->link, &sh->sps);
	sh->nr_sps++;
	return sp;
}

/* --- pinned guest pages --- */

static void shadow_unpin_range(struct shv_shadow *sh, u64 gfn, u64 end)
{
	struct page *page;
	unsigned long idx;

	xa_for_each_range(&sh->pins, idx, page, gfn, end - 1) {
		xa_erase(&sh->pins, idx);
		unpin_user_pages_dirty_lock(&page, 1, true);
	}
}

static struct page *shadow_pin(struct shv_vm *vm, struct shv_memslot *slot,
			       u64 gfn)
{
	struct shv_shadow *sh = to_shadow(vm);
	bool ro = slot->flags & SHV_MEM_READONLY;
	struct page *page = xa_load(&sh->pins, gfn);
	unsigned long hva;
	int r;

	if (page)
		return page;
	hva = slot->userspace_addr + (gfn - slot->base_gfn) * PAGE_SIZE;
	r = pin_user_pages_fast(hva, 1, (ro ? 0 : FOLL_WRITE) | FOLL_LONGTERM,
				&page);
	if (r != 1)
		return ERR_PTR(r < 0 ? r : -EFAULT);
	r = xa_err(xa_store(&sh->pins, gfn, page, GFP_KERNEL_ACCOUNT));
	if (r) {
		unpin_user_page(page);
		return ERR_PTR(r);
	}
	return page;
}

/* --- roots --- */

static void root_drop_sp(struct shv_shadow *sh, struct shv_root *root,
			 unsigned int i)
{
	struct shv_sp *sp = root->sp[i];

	if (!sp)
		return;
	sp_unlink_parent(sp, NULL, root, i);
	root->sp[i] = NULL;
	if (root->pae) {
		WRITE_ONCE(root->pae[i], 0);
	} else {
		/* a long-mode root is its top page: the root is gone */
		root->invalid = true;
	}
	sh->need_flush = true;
}

static void root_free(struct shv_shadow *sh, struct shv_root *root)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		root_drop_sp(sh, root, i);
	list_del(&root->lru);
	sh->nr_roots--;
	if (root->pae)
		free_page((unsigned long)root->pae);
	kfree(root);
}

static int root_set_sp(struct shv_shadow *sh, struct shv_root *root,
		       unsigned int i, struct shv_sp *sp)
{
	if (sp_link_parent(sp, NULL, root, i))
		return -ENOMEM;
	root->sp[i] = sp;
	if (root->pae)
		WRITE_ONCE(root->pae[i], __pa(sp->spt) | SPTE_P);
	else
		root->hpa = __pa(sp->spt);
	return 0;
}

static union shv_sp_role role_make(int level, bool gpte32, int quadrant,
				   bool direct, u32 access)
{
	union shv_sp_role r = { .word = 0 };

	r.level = level;
	r.gpte32 = gpte32;
	r.quadrant = quadrant;
	r.direct = direct;
	r.access = access;
	return r;
}

/* the shadow page for quadrant i of a PAE-format root */
static struct shv_sp *root_sp_for(struct shv_vm *vm, struct shv_root *root,
				  unsigned int i)
{
	switch (root->mode) {
	case SHV_SMODE_OFF:
		return sp_get(vm, (u64)i << 18,
			      role_make(2, false, 0, true, SHV_PERM_ALL));
	case SHV_SMODE_32:
		return sp_get(vm, root->cr3 >> PAGE_SHIFT,
			      role_make(2, true, i, false, SHV_PERM_ALL));
	default:
		if (!(root->pdpte[i] & SPTE_P))
			return ERR_PTR(-ENOENT);
		return sp_get(vm, (root->pdpte[i] & SPTE_ADDR) >> PAGE_SHIFT,
			      role_make(2, false, 0, false, SHV_PERM_ALL));
	}
}

static struct shv_root *root_build(struct shv_vcpu *vcpu,
				   const struct shv_sregs *s, int mode)
{
	struct shv_vm *vm = vcpu->vm;
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_root *root;
	struct shv_sp *sp;
	unsigned int i;

	root = kzalloc(sizeof(*root), GFP_KERNEL_ACCOUNT);
	if (!root)
		return NULL;
	root->mode = mode;
	root->pcid = shadow_pcid(s);
	root->id = ++sh->root_ids;
	INIT_LIST_HEAD(&root->lru);
	list_add(&root->lru, &sh->roots);
	sh->nr_roots++;

	if (mode == SHV_SMODE_LM4 || mode == SHV_SMODE_LM5) {
		int level = mode == SHV_SMODE_LM5 ? 5 : 4;

		root->cr3 = s->cr3 & GENMASK_ULL(51, 12);
		sp = sp_get(vm, root->cr3 >> PAGE_SHIFT,
			    role_make(level, false, 0, false, SHV_PERM_ALL));
		if (!sp || root_set_sp(sh, root, 0, sp))
			goto err;
		return root;
	}

	/* the PAE-format root must be addressable by a 32-bit CR3 */
	root->pae = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT | GFP_DMA32);
	if (!root->pae)
		goto err;
	root->hpa = __pa(root->pae);
	if (mode == SHV_SMODE_32)
		root->cr3 = s->cr3 & 0xfffff000ull;
	if (mode == SHV_SMODE_PAE) {
		root->cr3 = s->cr3 & 0xffffffe0ull;
		memcpy(root->pdpte, vcpu->pdptrs, sizeof(root->pdpte));
	}
	for (i = 0; i < 4; i++) {
		sp = root_sp_for(vm, root, i);
		if (sp == ERR_PTR(-ENOENT))
			continue;
		if (!sp || root_set_sp(sh, root, i, sp))
			goto err;
	}
	return root;
err:
	root_free(sh, root);
	return NULL;
}

static bool root_matches(struct shv_vcpu *vcpu, struct shv_root *root,
			 const struct shv_sregs *s, int mode)
{
	if (root->invalid || root->mode != mode ||
	    root->pcid != shadow_pcid(s))
		return false;
	switch (mode) {
	case SHV_SMODE_OFF:
		return true;
	case SHV_SMODE_32:
		return root->cr3 == (s->cr3 & 0xfffff000ull);
	case SHV_SMODE_PAE:
		return root->cr3 == (s->cr3 & 0xffffffe0ull) &&
		       !memcmp(root->pdpte, vcpu->pdptrs, sizeof(root->pdpte));
	default:
		return root->cr3 == (s->cr3 & GENMASK_ULL(51, 12));
	}
}

/* drop least recently used roots nobody runs on, down to the cache size */
static void roots_trim(struct shv_shadow *sh, unsigned int keep)
{
	struct shv_root *root, *tmp;

	list_for_each_entry_safe_reverse(root, tmp, &sh->roots, lru) {
		if (sh->nr_roots <= keep)
			break;
		if (!root->users)
			root_free(sh, root);
	}
}

/* --- flushing --- */

/*
 * Make every change since the last commit visible: flush all vCPUs' TLBs
 * (waiting until none can still use an old entry), reload vCPUs whose root
 * went away, then free zapped shadow pages.
 */
static void shadow_commit(struct shv_vm *vm)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp, *tmp;
	unsigned int i;

	if (!sh->need_flush && list_empty(&sh->zapped))
		return;
	for (i = 0; i < SHV_MAX_VCPUS; i++) {
		struct shv_vcpu *v = READ_ONCE(vm->vcpus[i]);
		struct shv_root *r = v ? vcpu_root(v) : NULL;

		if (r && r->invalid)
			set_bit(SHV_REQ_MMU_RELOAD, &v->requests);
	}
	shv_vm_request_all(vm, SHV_REQ_TLB_FLUSH);
	sh->need_flush = false;
	list_for_each_entry_safe(sp, tmp, &sh->zapped, link) {
		list_del(&sp->link);
		sp_free(sp);
	}
}

static void shadow_purge_all(struct shv_vm *vm)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_gpt *g;
	struct shv_sp *sp, *tmp;
	struct hlist_node *h;
	unsigned int bkt;

	list_for_each_entry_safe(sp, tmp, &sh->sps, link) {
		if (sp->gpt)
			sp->gpt->epoch = sh->epoch;	/* in use until now */
		sp_zap(sh, sp);
	}
	/*
	 * No shadow entry maps anything now, so no writable mapping of a
	 * known guest table exists: every known table is tracked from here.
	 * Tables not shadowed since the last purge are forgotten instead.
	 */
	hash_for_each_safe(sh->gpt_hash, bkt, h, g, hash) {
		if (sh->epoch - g->epoch >= SHV_GPT_EPOCHS ||
		    sh->nr_gpts > 4 * shadow_pages_max) {
			gpt_free(sh, g);
			continue;
		}
		if (!g->tracked) {
			g->tracked = true;
			list_del(&g->untracked_link);
			sh->nr_untracked--;
		}
	}
	sh->untracked_seen = 0;
	sh->epoch++;
	sh->stats.purges_all++;
	sh->need_flush = true;
}

/* clear the stale entries of one shadow page */
static void sp_purge_stale(struct shv_shadow *sh, struct shv_sp *sp)
{
	unsigned int i;

	for_each_set_bit(i, sp->stale, SPT_ENTRIES) {
		sp_clear_entry(sh, sp, i);
		sh->stats.stale_purges++;
	}
	bitmap_zero(sp->stale, SPT_ENTRIES);
	list_del(&sp->stale_link);
	sp->on_stale = false;
}

/*
 * Can a walk from root (or from the shadow page target) reach sp?  Up
 * through the parents: at most one step per level, and each shadow page
 * is looked at once per question (sh->visit).
 */
static bool __sp_reaches(struct shv_shadow *sh, struct shv_sp *sp,
			 struct shv_root *root, struct shv_sp *target)
{
	struct shv_parent *p;

	if (sp == target)
		return true;
	if (sp->visit == sh->visit)
		return false;
	sp->visit = sh->visit;
	list_for_each_entry(p, &sp->parents, link) {
		if (p->root ? p->root == root :
		    __sp_reaches(sh, p->sp, root, target))
			return true;
	}
	return false;
}

static bool sp_reaches(struct shv_shadow *sh, struct shv_sp *sp,
		       struct shv_root *root, struct shv_sp *target)
{
	sh->visit++;
	return __sp_reaches(sh, sp, root, target);
}

/*
 * Clear the stale entries reachable from root (or from the shadow page
 * target) that were marked after the marking event "since": those a TLB
 * that last saw the tables at "since" cannot hold.  since = 0: all.
 */
static void purge_stale_below(struct shv_shadow *sh, struct shv_root *root,
			      struct shv_sp *target, u64 since)
{
	struct shv_sp *sp, *tmp;

	list_for_each_entry_safe(sp, tmp, &sh->stale, stale_link)
		if (sp->mark_gen > since &&
		    sp_reaches(sh, sp, root, target))
			sp_purge_stale(sh, sp);
}

/*
 * Edits through undiscovered writable mappings are invisible: drop the
 * shadows of untracked tables (or everything, past the threshold).
 */
static void shadow_untracked_point(struct shv_vm *vm)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp, *tmp;
	struct shv_gpt *g;

	if (sh->untracked_seen > shadow_defer_threshold) {
		sh->stats.deferral_overflows++;
		shadow_purge_all(vm);
		return;
	}
	list_for_each_entry(g, &sh->untracked, untracked_link)
		list_for_each_entry_safe(sp, tmp, &g->sps, gpt_link)
			sp_zap(sh, sp);
}

/* drop all stale entries and the shadows of untracked guest tables */
static void shadow_flush_point(struct shv_vm *vm)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp, *tmp;

	shadow_untracked_point(vm);
	list_for_each_entry_safe(sp, tmp, &sh->stale, stale_link)
		sp_purge_stale(sh, sp);
}

static void shadow_reclaim(struct shv_vm *vm)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp, *tmp;
	unsigned int want = shadow_pages_max - shadow_pages_max / 8;

	sh->stats.reclaims++;
	roots_trim(sh, 1);
	/* least recently used first: pages no root reaches any more */
	list_for_each_entry_safe_reverse(sp, tmp, &sh->sps, link) {
		if (sh->nr_sps <= want)
			return;
		if (list_empty(&sp->parents))
			sp_zap(sh, sp);
	}
	if (sh->nr_sps >= shadow_pages_max)
		shadow_purge_all(vm);
}

/* --- the ops --- */

static int shadow_vm_init(struct shv_vm *vm)
{
	struct shv_shadow *sh = kzalloc(sizeof(*sh), GFP_KERNEL_ACCOUNT);

	if (!sh)
		return -ENOMEM;
	mutex_init(&sh->lock);
	hash_init(sh->sp_hash);
	hash_init(sh->gpt_hash);
	INIT_LIST_HEAD(&sh->sps);
	INIT_LIST_HEAD(&sh->roots);
	INIT_LIST_HEAD(&sh->stale);
	INIT_LIST_HEAD(&sh->untracked);
	INIT_LIST_HEAD(&sh->zapped);
	xa_init(&sh->pins);
	vm->mmu = sh;
	return 0;
}

static void shadow_vm_destroy(struct shv_vm *vm)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_root *root, *rtmp;
	struct shv_sp *sp, *tmp;
	struct shv_gpt *g;
	struct hlist_node *h;
	unsigned int bkt;

	if (!sh)
		return;
	/* no vCPU runs any more: nothing to flush */
	list_for_each_entry_safe(root, rtmp, &sh->roots, lru)
		root_free(sh, root);
	list_for_each_entry_safe(sp, tmp, &sh->sps, link)
		sp_zap(sh, sp);
	list_for_each_entry_safe(sp, tmp, &sh->zapped, link) {
		list_del(&sp->link);
		sp_free(sp);
	}
	hash_for_each_safe(sh->gpt_hash, bkt, h, g, hash)
		gpt_free(sh, g);
	shadow_unpin_range(sh, 0, ~0ull);
	xa_destroy(&sh->pins);
	kfree(sh);
	vm->mmu = NULL;
}

static void shadow_vcpu_destroy(struct shv_vcpu *vcpu)
{
	struct shv_svcpu *sv = to_svcpu(vcpu);

	/* the VM is going away; its roots are freed with it */
	if (sv && sv->root)
		sv->root->users--;
	kfree(sv);
	vcpu->mmu = NULL;
}

/*
 * The per-vCPU state, made at the first reload.  A vCPU starts with an
 * empty TLB: its first root gets a PCID flush.
 */
static struct shv_svcpu *svcpu_get(struct shv_vcpu *vcpu)
{
	struct shv_svcpu *sv = to_svcpu(vcpu);

	if (sv)
		return sv;
	sv = kzalloc(sizeof(*sv), GFP_KERNEL_ACCOUNT);
	if (!sv)
		return NULL;
	sv->load = SHV_LOAD_FLUSH;
	vcpu->mmu = sv;
	return sv;
}

/*
 * A vCPU arrives on root after a CR3 load with PCIDs (or its first
 * entry).  Stale entries stand for translations a TLB may still hold; the
 * vCPU may see those of root only if its TLB could hold them for root's
 * PCID: with no-flush, when it last left this very root with this PCID
 * and they were marked before it left (it ran on root when the old
 * translation was still valid).  Everything else reachable from root that
 * is stale is cleared.
 */
static void shadow_arrive(struct shv_shadow *sh, struct shv_svcpu *sv,
			  struct shv_root *root, enum shv_load load)
{
	struct shv_pcid_record *rec = pcid_record(sv, root->pcid);
	u64 since = 0;

	if (load == SHV_LOAD_NOFLUSH && rec->root_id == root->id)
		since = rec->gen;
	if (load == SHV_LOAD_NOFLUSH)
		sh->stats.cr3_noflush++;
	purge_stale_below(sh, root, NULL, since);
}

static int shadow_reload(struct shv_vcpu *vcpu)
{
	struct shv_vm *vm = vcpu->vm;
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_root *root, *old, *found = NULL;
	struct shv_svcpu *sv;
	enum shv_load load;
	struct shv_sregs s;
	int mode, r = 0;

	guest_sregs(vcpu, &s);
	mode = shadow_mode(&s);

	mutex_lock(&sh->lock);
	sv = svcpu_get(vcpu);
	if (!sv) {
		mutex_unlock(&sh->lock);
		return -ENOMEM;
	}
	load = sv->load;
	sv->load = SHV_LOAD_NONE;
	/* before the lookup: it may zap the root's top page */
	if (load != SHV_LOAD_NONE)
		shadow_untracked_point(vm);
	if (sh->nr_sps + 8 >= shadow_pages_max)
		shadow_reclaim(vm);
	old = sv->root;
	list_for_each_entry(root, &sh->roots, lru) {
		if (root_matches(vcpu, root, &s, mode)) {
			found = root;
			break;
		}
	}
	if (found) {
		sh->stats.root_hits++;
		list_move(&found->lru, &sh->roots);
	} else {
		sh->stats.root_misses++;
		found = root_build(vcpu, &s, mode);
		if (!found) {
			r = -ENOMEM;
			goto out;
		}
	}
	found->users++;
	if (old)
		old->users--;
	sv->root = found;
	if (load != SHV_LOAD_NONE)
		shadow_arrive(sh, sv, found, load);
	/*
	 * The hardware never saw the guest's MOV CR3: drop what this vCPU's
	 * ASID caches, whether the root changed or the guest only flushed.
	 */
	set_bit(SHV_REQ_TLB_FLUSH, &vcpu->requests);
	roots_trim(sh, max(shadow_roots, 1u));
	/* invalid roots nobody uses are of no further value */
	list_for_each_entry_safe(root, old, &sh->roots, lru)
		if (root->invalid && !root->users)
			root_free(sh, root);
out:
	shadow_commit(vm);
	mutex_unlock(&sh->lock);
	return r;
}

static u64 shadow_root_hpa(struct shv_vcpu *vcpu)
{
	struct shv_root *root = vcpu_root(vcpu);

	return root ? root->hpa : 0;
}

/* the shadow index of gva in a page of level */
static unsigned int sidx(u64 gva, int level)
{
	return (gva >> (12 + 9 * (level - 1))) & (SPT_ENTRIES - 1);
}

/*
 * The child a non-leaf shadow entry must point to, for the walk w of gva
 * through the shadow page sp at level (level > 1).
 */
static struct shv_sp *child_for(struct shv_vcpu *vcpu, struct shv_sp *sp,
				const struct shv_walk *w, u64 gva, int level)
{
	int cl = level - 1;
	u64 span = 1ull << (9 * cl);	/* gfns under one entry */

	if (sp->role.direct)
		return sp_get(vcpu->vm, sp->gfn + sidx(gva, level) * span,
			      role_make(cl, false, 0, true, sp->role.access));
	if (w->leaf == level) {
		/* a guest large page: map its gfns directly */
		u64 base = (w->gpa >> PAGE_SHIFT) & ~(span - 1);

		return sp_get(vcpu->vm, base,
			      role_make(cl, false, 0, true, w->perm));
	}
	return sp_get(vcpu->vm, w->table_gfn[cl],
		      role_make(cl, w->gpte32, w->gpte32 ? (gva >> 21) & 1 : 0,
				false, w->perm_above[cl]));
}

static bool gfn_is_gpt(struct shv_shadow *sh, u64 gfn)
{
	return !!gpt_find(sh, gfn);
}

/*
 * A shadow page is about to become reachable from one more entry: a vCPU
 * on the roots above it never saw the translations its stale entries (and
 * those of the pages below it) stand for, so they go.  A page never
 * linked before has no entries, nor pages below it.
 */
static void link_purge(struct shv_shadow *sh, struct shv_sp *sp)
{
	if (sp->linked && !list_empty(&sh->stale))
		purge_stale_below(sh, NULL, sp, 0);
}

/*
 * Install the translation of gva found by the walk w into the vCPU's
 * current root.  Returns 0 or -errno; called with the lock held.
 */
static int shadow_fill(struct shv_vcpu *vcpu, const struct shv_sregs *s,
		       u64 gva, const struct shv_walk *w, bool write,
		       bool user, struct shv_memslot *slot)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);
	struct shv_root *root = vcpu_root(vcpu);
	u64 gfn = w->gpa >> PAGE_SHIFT, spte;
	struct shv_sp *sp, *child;
	struct page *page;
	unsigned int i;
	int level;

	if (!root || root->invalid)
		return -EAGAIN;
	if (root->pae) {
		i = (gva >> 30) & 3;
		sp = root->sp[i];
		if (!sp) {
			/* zapped since, or a PDPTE not present at CR3 load */
			sp = root_sp_for(vcpu->vm, root, i);
			if (sp == ERR_PTR(-ENOENT))
				return -EAGAIN;
			if (!sp)
				return -ENOMEM;
			link_purge(sh, sp);
			if (root_set_sp(sh, root, i, sp))
				return -ENOMEM;
		}
		level = 2;
	} else {
		sp = root->sp[0];
		level = sp->role.level;
	}

	for (; level > 1; level--) {
		u64 e;

		i = sidx(gva, level);
		child = child_for(vcpu, sp, w, gva, level);
		if (!child)
			return -ENOMEM;
		e = sp->spt[i];
		if ((e & SPTE_P) && spte_to_sp(e) != child)
			sp_clear_entry(sh, sp, i);
		if (!(sp->spt[i] & SPTE_P)) {
			link_purge(sh, child);
			if (sp_link_parent(child, sp, NULL, i))
				return -ENOMEM;
			WRITE_ONCE(sp->spt[i], __pa(child->spt) | SPTE_NONLEAF);
		}
		sp = child;
	}

	page = shadow_pin(vcpu->vm, slot, gfn);
	if (IS_ERR(page))
		return PTR_ERR(page);

	spte = page_to_phys(page) | SPTE_P | SPTE_A | SPTE_D;
	if (w->perm & SHV_PERM_U)
		spte |= SPTE_US;
	if (!(w->perm & SHV_PERM_X) && (s->efer & EFER_NX))
		spte |= SPTE_NX;
	if ((w->perm & SHV_PERM_W) && w->dirty)
		spte |= SPTE_RW;
	else if (write && !user && !(s->cr0 & X86_CR0_WP))
		/*
		 * CR0.WP=0 lets the kernel write read-only pages; the shadow
		 * allows it for supervisor accesses only, so user accesses
		 * fault and are judged again.
		 */
		spte = (spte | SPTE_RW) & ~SPTE_US;
	if ((spte & SPTE_RW) && ((slot->flags & SHV_MEM_READONLY) ||
				 gfn_is_gpt(sh, gfn)))
		spte &= ~SPTE_RW;
	/* ... but SMEP still forbids the kernel to execute it */
	if (!(spte & SPTE_US) && (w->perm & SHV_PERM_U) &&
	    (s->cr4 & X86_CR4_SMEP) && boot_cpu_has(X86_FEATURE_NX))
		spte |= SPTE_NX;	/* hardware EFER.NXE is on */
	i = sidx(gva, 1);
	WRITE_ONCE(sp->spt[i], spte);
	if (sp->on_stale)
		clear_bit(i, sp->stale);
	return 0;
}

/* mark the shadow entries of the guest entries in [off, off + len) stale */
static void shadow_mark_stale(struct shv_shadow *sh, struct shv_gpt *g,
			      unsigned int off, unsigned int len)
{
	u64 gen = sh->mark_gen + 1;
	struct shv_sp *sp;

	list_for_each_entry(sp, &g->sps, gpt_link) {
		unsigned int es = sp->role.gpte32 ? 4 : 8;
		unsigned int k, first = off / es, last = (off + len - 1) / es;

		for (k = first; k <= last && k < PAGE_SIZE / es; k++) {
			int i = k, n = 1;

			if (sp->role.gpte32 && sp->role.level == 1) {
				if (k / 512 != sp->role.quadrant)
					continue;
				i = k % 512;
			} else if (sp->role.gpte32) {
				if (k / 256 != sp->role.quadrant)
					continue;
				i = 2 * (k % 256);
				n = 2;
			}
			while (n--) {
				if (sp->spt[i] & SPTE_P) {
					set_bit(i, sp->stale);
					sp->mark_gen = gen;
					sh->mark_gen = gen;
					sh->stats.stale_marks++;
				}
				i++;
			}
		}
		if (!sp->on_stale && !bitmap_empty(sp->stale, SPT_ENTRIES)) {
			list_add(&sp->stale_link, &sh->stale);
			sp->on_stale = true;
		}
	}
}

/* stop tracking a guest table that is written far more than walked */
static void shadow_unprotect(struct shv_vm *vm, struct shv_gpt *g)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp, *tmp;

	list_for_each_entry_safe(sp, tmp, &g->sps, gpt_link)
		sp_zap(sh, sp);
	gpt_free(sh, g);
	sh->stats.unprotects++;
}

/* a write to a write-protected guest page table */
static int shadow_pt_write(struct shv_vcpu *vcpu, u64 gpa)
{
	struct shv_vm *vm = vcpu->vm;
	struct shv_shadow *sh = to_shadow(vm);
	unsigned int off, len;
	struct shv_gpt *g;
	int r;

	sh->stats.wp_faults++;
	r = shv_emulate_write(vcpu, gpa, &off, &len);
	mutex_lock(&sh->lock);
	g = gpt_find(sh, gpa >> PAGE_SHIFT);
	if (g) {
		if (r == 0) {
			sh->stats.emulated_pt_writes++;
			shadow_mark_stale(sh, g, off, len);
			/*
			 * A string instruction filling or copying the page,
			 * or a flood of writes, means it is data now.
			 */
			if (++g->writes > shadow_flood_writes || len > 8)
				shadow_unprotect(vm, g);
		} else if (r == -EOPNOTSUPP) {
			/* not emulated: let the guest write it itself */
			shadow_unprotect(vm, g);
		}
	}
	shadow_commit(vm);
	mutex_unlock(&sh->lock);
	return r == -EOPNOTSUPP ? 0 : r;
}

static int shadow_page_fault(struct shv_vcpu *vcpu, u64 gva, u32 ec)
{
	struct shv_vm *vm = vcpu->vm;
	struct shv_shadow *sh = to_shadow(vm);
	bool write = ec & SHV_PFERR_WRITE, user = ec & SHV_PFERR_USER;
	bool fetch = ec & SHV_PFERR_FETCH, emulate = true;
	unsigned int access, off, len;
	struct shv_memslot *slot;
	struct shv_sregs s;
	struct shv_walk w;
	u64 gfn;
	int r;

	guest_sregs(vcpu, &s);
	access = (write ? SHV_ACC_WRITE : 0) | (user ? SHV_ACC_USER : 0) |
		 (fetch ? SHV_ACC_FETCH : 0);
	/*
	 * A supervisor-mode access at CPL 3 is one the processor makes
	 * itself (descriptor tables, TSS): SMAP forbids it user pages
	 * whatever EFLAGS.AC.  At CPL 0-2 the error code cannot tell such an
	 * access from an explicit one (Documentation/mmu.rst).
	 */
	if (!user && shv_arch->get_cpl(vcpu) == 3)
		access |= SHV_ACC_IMPLICIT;
	if (!(s.efer & EFER_LMA))
		gva = (u32)gva;

	mutex_lock(&sh->lock);
retry:
	if (sh->nr_sps + SHV_GMAX_LEVELS >= shadow_pages_max)
		shadow_reclaim(vm);
	r = shv_gva_to_gpa(vcpu, &s, gva, access, &w);
	if (r == 1) {
		sh->stats.guest_faults++;
		mutex_unlock(&sh->lock);
		shv_arch->set_cr2(vcpu, gva);
		shv_arch->queue_exception(vcpu, SHV_PF_VECTOR, true,
					  w.error_code);
		return 1;
	}
	if (r < 0) {
		u64 data[3] = { gva, ec, vcpu->rip };

		mutex_unlock(&sh->lock);
		/* the guest's page tables are not in RAM */
		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_FETCH, 3,
					  data);
	}

	gfn = w.gpa >> PAGE_SHIFT;
	slot = shv_gfn_to_slot(vm, gfn);
	if (!slot || (write && (slot->flags & SHV_MEM_READONLY))) {
		sh->stats.mmio_faults++;
		mutex_unlock(&sh->lock);
		if (fetch) {
			u64 data[3] = { w.gpa, ec, vcpu->rip };

			return shv_internal_error(vcpu,
						  SHV_INTERNAL_ERROR_FETCH, 3,
						  data);
		}
		return shv_mmio_exit(vcpu, w.gpa, write);
	}
	if (write && gfn_is_gpt(sh, gfn) &&
	    ((w.perm & SHV_PERM_W) || (!user && !(s.cr0 & X86_CR0_WP)))) {
		mutex_unlock(&sh->lock);
		r = shadow_pt_write(vcpu, w.gpa);
		return r < 0 ? r : 1;
	}
	/*
	 * CR0.WP=0 and SMAP=1: a supervisor write to a read-only user page
	 * that EFLAGS.AC allows.  A supervisor-only writable leaf (what
	 * shadow_fill() does without SMAP) would also let accesses with
	 * AC=0 through, so the write is emulated instead, leaving the leaf
	 * read-only and user.
	 */
	if (emulate && write && !user && !(s.cr0 & X86_CR0_WP) &&
	    (s.cr4 & X86_CR4_SMAP) && (w.perm & SHV_PERM_U) &&
	    !(w.perm & SHV_PERM_W)) {
		mutex_unlock(&sh->lock);
		r = shv_emulate_write(vcpu, w.gpa, &off, &len);
		if (r != -EOPNOTSUPP)
			return r < 0 ? r : 1;
		/* not emulated: map it as without SMAP (inexact) */
		emulate = false;
		mutex_lock(&sh->lock);
		goto retry;
	}

	r = shadow_fill(vcpu, &s, gva, &w, write, user, slot);
	if (r == -EAGAIN) {
		set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
		r = 0;
	}
	if (!r)
		sh->stats.shadow_faults++;
	shadow_commit(vm);
	mutex_unlock(&sh->lock);
	return r < 0 ? r : 1;
}

/*
 * Walk root's shadow tables for gva down to the leaf entry (level 1), or
 * to the first entry that is not present: return that entry's shadow
 * page and level, or NULL when the root maps nothing there.
 */
static struct shv_sp *root_walk(struct shv_root *root, u64 gva, int *level)
{
	struct shv_sp *sp;
	int l;
	u64 e;

	if (!root || root->invalid)
		return NULL;
	sp = root->pae ? root->sp[(gva >> 30) & 3] : root->sp[0];
	l = root->pae ? 2 : (sp ? sp->role.level : 0);
	for (; sp && l > 1; l--) {
		e = sp->spt[sidx(gva, l)];
		if (!(e & SPTE_P))
			break;
		sp = spte_to_sp(e);
	}
	*level = l;
	return sp;
}

static void shadow_invlpg(struct shv_vcpu *vcpu, u64 gva)
{
	struct shv_vm *vm = vcpu->vm;
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_sp *sp;
	int level;

	mutex_lock(&sh->lock);
	shadow_flush_point(vm);
	/* the leaf for gva, however deep it is */
	sp = root_walk(vcpu_root(vcpu), gva, &level);
	if (sp)
		sp_clear_entry(sh, sp, sidx(gva, level));
	/* the guest's INVLPG never reached the hardware TLB */
	set_bit(SHV_REQ_TLB_FLUSH, &vcpu->requests);
	shadow_commit(vm);
	mutex_unlock(&sh->lock);
}

static void shadow_flush(struct shv_vcpu *vcpu)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);

	mutex_lock(&sh->lock);
	shadow_flush_point(vcpu->vm);
	set_bit(SHV_REQ_TLB_FLUSH, &vcpu->requests);
	shadow_commit(vcpu->vm);
	mutex_unlock(&sh->lock);
}

/*
 * MOV to CR3.  Without PCIDs it flushes PCID 0, which for the shadow MMU
 * is a flush point of the whole VM.  With PCIDs, the root it lands on is
 * only known at the reload: remember what the vCPU leaves behind and let
 * shadow_arrive() purge there what the load flushes.
 */
static void shadow_load_cr3(struct shv_vcpu *vcpu, bool pcid, bool noflush)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);
	struct shv_svcpu *sv = to_svcpu(vcpu);

	mutex_lock(&sh->lock);
	if (sv && sv->root) {
		struct shv_pcid_record *rec = pcid_record(sv, sv->root->pcid);

		rec->root_id = sv->root->id;
		rec->gen = sh->mark_gen;
	}
	if (!pcid)
		shadow_flush_point(vcpu->vm);
	else if (sv && sv->load == SHV_LOAD_NONE)
		sv->load = noflush ? SHV_LOAD_NOFLUSH : SHV_LOAD_FLUSH;
	else if (sv && !noflush)
		sv->load = SHV_LOAD_FLUSH;
	set_bit(SHV_REQ_TLB_FLUSH, &vcpu->requests);
	shadow_commit(vcpu->vm);
	mutex_unlock(&sh->lock);
}

static void shadow_reset(struct shv_vcpu *vcpu)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);
	struct shv_root *root, *tmp;

	mutex_lock(&sh->lock);
	shadow_purge_all(vcpu->vm);
	list_for_each_entry_safe(root, tmp, &sh->roots, lru)
		if (!root->users)
			root_free(sh, root);
	shadow_commit(vcpu->vm);
	mutex_unlock(&sh->lock);
}

static void shadow_zap_range(struct shv_vm *vm, u64 gfn, u64 npages)
{
	struct shv_shadow *sh = to_shadow(vm);

	mutex_lock(&sh->lock);
	shadow_purge_all(vm);
	shadow_commit(vm);
	shadow_unpin_range(sh, gfn, gfn + npages);
	mutex_unlock(&sh->lock);
}

/*
 * The emulator wrote guest RAM (an INS, a MOVS from MMIO, a PUSH): if it
 * was a known guest table, its entries there are stale now.
 */
static void shadow_track_write(struct shv_vm *vm, u64 gpa, unsigned int len)
{
	struct shv_shadow *sh = to_shadow(vm);
	struct shv_gpt *g;

	mutex_lock(&sh->lock);
	g = gpt_find(sh, gpa >> PAGE_SHIFT);
	if (g)
		shadow_mark_stale(sh, g, offset_in_page(gpa),
				  min_t(unsigned int, len,
					PAGE_SIZE - offset_in_page(gpa)));
	mutex_unlock(&sh->lock);
}

static void shadow_get_stats(struct shv_vm *vm, struct shv_mmu_stats *st)
{
	struct shv_shadow *sh = to_shadow(vm);

	mutex_lock(&sh->lock);
	*st = sh->stats;
	st->roots_cached = sh->nr_roots;
	st->shadow_pages = sh->nr_sps;
	st->untracked_tables = sh->nr_untracked;
	st->tracked_tables = sh->nr_gpts - sh->nr_untracked;
	mutex_unlock(&sh->lock);
}

/*
 * Check a subtree: every present leaf that is not stale must map what the
 * guest's tables map there, with no more rights than they give.
 */
static int verify_sp(struct shv_vcpu *vcpu, const struct shv_sregs *s,
		     struct shv_sp *sp, int level, u64 base)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);
	unsigned int i;
	int bad = 0;

	if (sp->gpt && !sp->gpt->tracked)
		return 0;	/* may lag until the next flush point */
	for (i = 0; i < SPT_ENTRIES; i++) {
		u64 e = sp->spt[i], gva = base + ((u64)i << (12 + 9 * (level - 1)));
		struct shv_walk w;
		struct page *page;

		if (!(e & SPTE_P) || test_bit(i, sp->stale))
			continue;
		if (level > 1) {
			bad += verify_sp(vcpu, s, spte_to_sp(e), level - 1, gva);
			continue;
		}
		if (s->efer & EFER_LMA)
			gva = (u64)((s64)(gva << 16) >> 16);
		if (shv_gva_to_gpa(vcpu, s, gva,
				   SHV_ACC_IMPLICIT | SHV_ACC_NOAD, &w)) {
			bad++;
			continue;
		}
		page = xa_load(&sh->pins, w.gpa >> PAGE_SHIFT);
		if (!page || page_to_phys(page) != (e & SPTE_ADDR) ||
		    ((e & SPTE_RW) && !(w.perm & SHV_PERM_W) &&
		     (s->cr0 & X86_CR0_WP)) ||
		    ((e & SPTE_US) && !(w.perm & SHV_PERM_U)))
			bad++;
	}
	return bad;
}

static int shadow_verify(struct shv_vcpu *vcpu)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);
	struct shv_root *root;
	struct shv_sregs s;
	unsigned int i;
	int bad = 0;

	guest_sregs(vcpu, &s);
	mutex_lock(&sh->lock);
	root = vcpu_root(vcpu);
	if (root && !root->invalid) {
		if (root->pae) {
			for (i = 0; i < 4; i++)
				if (root->sp[i])
					bad += verify_sp(vcpu, &s, root->sp[i],
							 2, (u64)i << 30);
		} else {
			bad = verify_sp(vcpu, &s, root->sp[0],
					root->sp[0]->role.level, 0);
		}
	}
	mutex_unlock(&sh->lock);
	return bad;
}

/*
 * Instruction bytes for the decoder, through the shadow entries the
 * hardware fetched them with: a few loads instead of a walk of the guest's
 * tables in its memory and a user copy, which is most of what an
 * intercept without NRIPS costs to decode.  A page the shadow does not
 * map is read the long way.  An entry marked stale is still what the
 * hardware uses until the next flush point, as a TLB entry would be.
 */
static int shadow_read_insn(struct shv_vcpu *vcpu, u64 la, void *buf,
			    unsigned int len)
{
	struct shv_shadow *sh = to_shadow(vcpu->vm);
	struct shv_sp *sp;
	int level, r = -ENOENT;
	u64 e;

	if (offset_in_page(la) + len > PAGE_SIZE)
		return -EINVAL;
	mutex_lock(&sh->lock);
	sp = root_walk(vcpu_root(vcpu), la, &level);
	e = sp && level == 1 ? sp->spt[sidx(la, 1)] : 0;
	if (e & SPTE_P) {
		memcpy(buf, __va((e & SPTE_ADDR) + offset_in_page(la)), len);
		r = 0;
	}
	mutex_unlock(&sh->lock);
	return r;
}

const struct shv_mmu_ops shv_shadow_mmu_ops = {
	.name		= "shadow",
	.shadow		= true,
	.vm_init	= shadow_vm_init,
	.vm_destroy	= shadow_vm_destroy,
	.vcpu_destroy	= shadow_vcpu_destroy,
	.page_fault	= shadow_page_fault,
	.reload		= shadow_reload,
	.invlpg		= shadow_invlpg,
	.flush		= shadow_flush,
	.load_cr3	= shadow_load_cr3,
	.reset		= shadow_reset,
	.zap_range	= shadow_zap_range,
	.root_hpa	= shadow_root_hpa,
	.track_write	= shadow_track_write,
	.get_stats	= shadow_get_stats,
	.verify		= shadow_verify,
	.read_insn	= shadow_read_insn,
};
