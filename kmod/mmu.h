/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The MMU interface.  Guest-physical memory is provided either by nested
 * paging (npt.c, NPT/EPT) or by shadow page tables; the core and the
 * vendor backends only talk to the MMU through these hooks.
 */
#ifndef SHV_MMU_H
#define SHV_MMU_H

#include <asm/cpufeature.h>
#include <asm/msr-index.h>

#include "shv.h"

/* nested_fault() result: no RAM there, the access must be emulated */
#define SHV_MMU_EMULATE		1

struct shv_mmu_ops {
	const char *name;
	bool shadow;		/* the guest's own paging is shadowed */
	int (*vm_init)(struct shv_vm *vm);
	void (*vm_destroy)(struct shv_vm *vm);
	void (*vcpu_destroy)(struct shv_vcpu *vcpu);
	/*
	 * Nested paging: a guest-physical access faulted: map the page (0)
	 * or report SHV_MMU_EMULATE for MMIO and writes to read-only slots.
	 */
	int (*nested_fault)(struct shv_vm *vm, u64 gpa, bool write, bool fetch);
	/*
	 * Shadow paging: a #PF intercept.  >0 resume the guest, 0 an exit
	 * for the runner is ready, <0 error.
	 */
	int (*page_fault)(struct shv_vcpu *vcpu, u64 gva, u32 error_code);
	/* the guest's CR3 or paging mode changed: pick the root (sleeps) */
	int (*reload)(struct shv_vcpu *vcpu);
	/* guest TLB maintenance: INVLPG and a global flush (CR4.PGE) */
	void (*invlpg)(struct shv_vcpu *vcpu, u64 gva);
	void (*flush)(struct shv_vcpu *vcpu);
	/*
	 * MOV to CR3 (vcpu->cr3 is the new value): a flush of PCID 0, with
	 * pcid a flush of the new PCID or, with noflush, none at all.
	 */
	void (*load_cr3)(struct shv_vcpu *vcpu, bool pcid, bool noflush);
	/*
	 * a paging-mode bit changed: CR0.PG, WP, PE, CR4.PAE, PSE, SMEP,
	 * SMAP, PCIDE, LA57, EFER.NXE or LMA
	 */
	void (*reset)(struct shv_vcpu *vcpu);
	/* drop every translation of [gfn, gfn + npages) */
	void (*zap_range)(struct shv_vm *vm, u64 gfn, u64 npages);
	/* physical address of the root handed to the hardware */
	u64 (*root_hpa)(struct shv_vcpu *vcpu);
	/* the kernel wrote guest RAM (emulation): it may be a page table */
	void (*track_write)(struct shv_vm *vm, u64 gpa, unsigned int len);
	void (*get_stats)(struct shv_vm *vm, struct shv_mmu_stats *stats);
	int (*verify)(struct shv_vcpu *vcpu);
	/*
	 * Optional: copy len bytes at linear address la (within one page)
	 * the way the hardware reaches them now, without a walk of the
	 * guest's tables; -ENOENT when that takes the walk.
	 */
	int (*read_insn)(struct shv_vcpu *vcpu, u64 la, void *buf,
			 unsigned int len);
};

extern const struct shv_mmu_ops shv_npt_mmu_ops;

static inline void shv_mmu_track_write(struct shv_vm *vm, u64 gpa,
				       unsigned int len)
{
	if (vm->mmu_ops->track_write && len)
		vm->mmu_ops->track_write(vm, gpa, len);
}

extern const struct shv_mmu_ops shv_shadow_mmu_ops;

/*
 * The EFER the hardware runs a shadow-paged guest with: NXE whenever the
 * CPU has NX, whatever the guest's, so that a shadow entry can forbid
 * supervisor execution that only CR4.SMEP forbids (shadow_fill()).  No
 * guest-visible effect: shadow entries of a guest without NXE never have
 * NX set otherwise, and the guest's error codes come from its own walk.
 */
static inline u64 shv_shadow_efer(u64 efer)
{
	return boot_cpu_has(X86_FEATURE_NX) ? efer | EFER_NX : efer;
}

/* gwalk.c: translate a guest-linear address with the guest's paging */
#define SHV_GMAX_LEVELS	5

/* accumulated permissions along a walk */
#define SHV_PERM_W	BIT(0)
#define SHV_PERM_U	BIT(1)
#define SHV_PERM_X	BIT(2)
#define SHV_PERM_ALL	(SHV_PERM_W | SHV_PERM_U | SHV_PERM_X)

struct shv_walk {
	u64 gpa;
	u32 error_code;		/* #PF error code when the walk fails */
	/* the path, by level (1 = page table); filled for the shadow MMU */
	int top;		/* level of the root table */
	int leaf;		/* level of the entry that mapped the page */
	bool gpte32;		/* 4-byte entries (32-bit paging) */
	u64 table_gfn[SHV_GMAX_LEVELS + 1];
	u64 pte[SHV_GMAX_LEVELS + 1];
	u32 perm_above[SHV_GMAX_LEVELS + 1];	/* of the levels above */
	u32 perm;		/* of the whole path, leaf included */
	u64 page_gfn;		/* first gfn of the (large) page */
	bool dirty;		/* the leaf's D bit after the walk */
};

#define SHV_ACC_WRITE	BIT(0)
#define SHV_ACC_USER	BIT(1)
#define SHV_ACC_FETCH	BIT(2)
#define SHV_ACC_IMPLICIT BIT(3)	/* supervisor access by the CPU itself */
#define SHV_ACC_NOAD	BIT(4)	/* inspect only: no A/D bits, no SMAP */

int shv_gva_to_gpa(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		   u64 gva, unsigned int access, struct shv_walk *walk);
int shv_read_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			u64 gva, void *buf, unsigned int len,
			unsigned int access);
int shv_write_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			 u64 gva, const void *buf, unsigned int len);
int shv_write_guest_virt_sys(struct shv_vcpu *vcpu,
			     const struct shv_sregs *sregs, u64 gva,
			     const void *buf, unsigned int len);

#endif /* SHV_MMU_H */
