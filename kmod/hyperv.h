/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Hyper-V guest interface of shv (hyperv.c): CPUID leaves, the
 * partition and SynIC MSRs, synthetic timers, and HvPostMessage /
 * HvSignalEvent between vCPUs of one VM or of different VMs.  See the
 * SynIC section of Documentation/interrupts.rst.
 */
#ifndef SHV_HYPERV_H
#define SHV_HYPERV_H

#include <linux/types.h>

#include "shv.h"

/* hooks of vm.c */
long shv_hv_vm_ioctl(struct shv_vm *vm, unsigned int ioctl,
		     unsigned long arg);
void shv_hv_vm_destroy(struct shv_vm *vm);

/* hooks of vcpu.c */
int shv_hv_vcpu_create(struct shv_vcpu *vcpu);
void shv_hv_vcpu_free(struct shv_vcpu *vcpu);
/* before entry, in the vCPU's own context: deliver what was queued */
void shv_hv_vcpu_run(struct shv_vcpu *vcpu);
/* queued SynIC work: a halted vCPU must wake to do it */
bool shv_hv_work_pending(struct shv_vcpu *vcpu);

/* hooks of msr.c and cpuid.c: -ENOENT when not a Hyper-V register */
int shv_hv_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data, bool host);
int shv_hv_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data, bool host);
/* fills the hypervisor leaves when Hyper-V is on; true if it did */
bool shv_hv_cpuid(struct shv_vcpu *vcpu, u32 fn, u32 *a, u32 *b, u32 *c,
		  u32 *d);

/* the VMMCALL exit hook: true when handled as a Hyper-V hypercall */
bool shv_hv_hypercall(struct shv_vcpu *vcpu, u64 next_rip);

#endif /* SHV_HYPERV_H */
