/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AMD SVM backend internals shared by svm.c (VMCB and exits) and
 * svm_cpu.c (per-CPU enablement and ASIDs).
 */
#ifndef SHV_SVM_H
#define SHV_SVM_H

#include <linux/types.h>
#include <asm/svm.h>

#include "shv.h"

struct shv_svm_cpu {
	struct page *hsave;		/* VM_HSAVE_PA: host state for VMRUN */
	struct page *host_vmcb;		/* VMSAVE/VMLOAD of the host */
	u64 asid_generation;
	u32 next_asid;
	u32 max_asid;
	bool enabled;
};

struct shv_svm_vcpu {
	struct vmcb *vmcb;
	u64 vmcb_pa;
	u64 asid_generation;
	int asid_cpu;
	u32 asid;
	bool triple_fault;		/* a fault while delivering #DF */
	bool nmi_step;			/* single-stepping an NMI's IRET */
	u64 nmi_step_dr6;
};

struct shv_svm_vm {
	void *iopm;			/* 12 KiB, every port intercepted */
	void *msrpm;			/* 8 KiB, every MSR intercepted */
	u64 iopm_pa, msrpm_pa;
};

extern struct shv_svm_cpu __percpu *shv_svm_cpus;
extern bool shv_svm_flush_by_asid;

int shv_svm_cpus_alloc(void);
void shv_svm_cpus_free(void);
int shv_svm_cpu_enable(void);
void shv_svm_cpu_disable(void);
void shv_svm_assign_asid(struct shv_svm_vcpu *svm);

/* svm_vmrun.S */
void shv_svm_vmrun(u64 vmcb_pa, u64 host_vmcb_pa, u64 *regs);
extern const char shv_svm_vmrun_ret[];	/* just past its VMRUN */

#endif /* SHV_SVM_H */
