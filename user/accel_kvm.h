/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: what the files of the KVM backend share: accel_kvm.c (the VM,
 * vCPUs, registers, irqchip) and accel_kvm_hyperv.c (SynIC sources and
 * connections).
 */
#ifndef SHV_RUN_ACCEL_KVM_H
#define SHV_RUN_ACCEL_KVM_H

#include <linux/kvm.h>

#include "accel.h"

#define KVM_MAX_SLOTS		8	/* slots the backend can translate */
#define KVM_PC_GSIS		24	/* the PC's GSIs: 0..23 */

struct kvm_hv;

struct kvm_slot {
	u64 gpa;
	u64 size;			/* 0: unused */
	u8 *hva;
};

struct kvm_priv {
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID result */
	bool tsc_deadline;		/* KVM_CAP_TSC_DEADLINE_TIMER */
	/* the PC's GSI routes, resubmitted with every routing change */
	struct kvm_irq_routing_entry pc_routes[2 * KVM_PC_GSIS];
	unsigned int nr_pc_routes;
	struct kvm_slot slots[KVM_MAX_SLOTS];
	struct kvm_hv *hv;		/* with enable_hyperv */
};

/*
 * Set the VM's GSI routing: the PC's routes and @n more.  Serialized by
 * the caller (setup, or accel_kvm_hyperv.c's lock).
 */
int kvm_set_routes(struct accel *a, const struct kvm_irq_routing_entry *more,
		   unsigned int n);

/* Runner memory of guest-physical [gpa, gpa + len) in one slot, or NULL */
void *kvm_gpa_to_hva(struct accel *a, u64 gpa, u64 len);

/* accel_kvm_hyperv.c */
int kvm_hv_init(struct accel *a);
void kvm_hv_close(struct accel *a);
/* vCPU @id exists, with its SynIC */
void kvm_hv_add_vcpu(struct accel *a, unsigned int id);
/* a KVM_EXIT_HYPERV of vCPU @v: true once handled (the vCPU runs on) */
bool kvm_hv_exit(struct accel_vcpu *v, struct kvm_hyperv_exit *h);
int kvm_hv_sint_route(struct accel *a, u32 vp, u32 sint, bool add);
int kvm_hv_sint_raise(struct accel *a, u32 vp, u32 sint);
int kvm_hv_set_connection(struct accel *a,
			  const struct shv_hv_connection *c);

#endif /* SHV_RUN_ACCEL_KVM_H */
