/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The MMU interface.  Guest-physical memory is provided either by nested
 * paging (npt.c, NPT/EPT) or by shadow page tables; the core and the
 * vendor backends only talk to the MMU through these hooks.
 */
#ifndef SHV_MMU_H
#define SHV_MMU_H

#include "shv.h"

/* nested_fault() result: no RAM there, the access must be emulated */
#define SHV_MMU_EMULATE		1

struct shv_mmu_ops {
	const char *name;
	int (*vm_init)(struct shv_vm *vm);
	void (*vm_destroy)(struct shv_vm *vm);
	/*
	 * A guest-physical access faulted: map the page (0) or report
	 * SHV_MMU_EMULATE for MMIO and writes to read-only slots.
	 */
	int (*nested_fault)(struct shv_vm *vm, u64 gpa, bool write, bool fetch);
	/* drop every translation of [gfn, gfn + npages) */
	void (*zap_range)(struct shv_vm *vm, u64 gfn, u64 npages);
	/* physical address of the root handed to the hardware */
	u64 (*root_hpa)(struct shv_vm *vm);
};

extern const struct shv_mmu_ops shv_npt_mmu_ops;

/* gwalk.c: translate a guest-linear address with the guest's paging */
struct shv_walk {
	u64 gpa;
	u32 error_code;		/* #PF error code when the walk fails */
};

#define SHV_ACC_WRITE	BIT(0)
#define SHV_ACC_USER	BIT(1)
#define SHV_ACC_FETCH	BIT(2)

int shv_gva_to_gpa(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		   u64 gva, unsigned int access, struct shv_walk *walk);
int shv_read_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			u64 gva, void *buf, unsigned int len,
			unsigned int access);
int shv_write_guest_virt(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			 u64 gva, const void *buf, unsigned int len);

#endif /* SHV_MMU_H */
