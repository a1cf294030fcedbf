/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vendor backend interface.  The generic core (vcpu.c) drives a vCPU
 * through these hooks; svm.c implements them for AMD SVM and a VMX backend
 * slots in beside it.
 */
#ifndef SHV_ARCH_H
#define SHV_ARCH_H

#include "shv.h"

struct shv_arch_ops {
	const char *name;
	u32 vendor;			/* SHV_VENDOR_* */
	bool nested_paging;		/* NPT/EPT usable */
	u32 accel;			/* SHV_ACCEL_*: SHV_CAP_ACCEL */

	/* per-CPU enable/disable, run on the CPU itself (CPU hotplug) */
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	void (*hw_teardown)(void);	/* module exit */

	int (*vm_init)(struct shv_vm *vm);
	void (*vm_destroy)(struct shv_vm *vm);

	int (*vcpu_create)(struct shv_vcpu *vcpu);
	void (*vcpu_free)(struct shv_vcpu *vcpu);
	/* put everything but the GPRs into the power-on state */
	void (*vcpu_reset)(struct shv_vcpu *vcpu);

	void (*get_sregs)(struct shv_vcpu *vcpu, struct shv_sregs *sregs);
	/* sregs was validated by the core; the backend only stores it */
	void (*set_sregs)(struct shv_vcpu *vcpu, const struct shv_sregs *sregs);
	/* shadow paging: derive the hardware CR0/CR4/EFER from the guest's */
	void (*update_cr)(struct shv_vcpu *vcpu);
	u64 (*get_seg_base)(struct shv_vcpu *vcpu, int seg);
	int (*get_cpl)(struct shv_vcpu *vcpu);
	/*
	 * The emulator loaded a segment register (ES..GS), GDTR or IDTR, or
	 * ran an instruction with SHV_EMU_EV_* side effects (an STI/MOV SS
	 * interrupt shadow, an IRET that unblocks NMIs; after skip_insn).
	 */
	void (*set_segment)(struct shv_vcpu *vcpu, int seg,
			    const struct shv_segment *s);
	void (*set_dtable)(struct shv_vcpu *vcpu, bool idt, u64 base,
			   u32 limit);
	void (*insn_events)(struct shv_vcpu *vcpu, unsigned int events);
	/*
	 * MOV to/from DR0-7 for the emulator, where the debug registers are
	 * software state (VMX); NULL when the hardware holds them.  0 done,
	 * 1 an exception was queued.
	 */
	int (*mov_dr)(struct shv_vcpu *vcpu, int dr, int reg, bool write);

	/* MSRs the vendor state holds; -ENOENT when not one of them */
	int (*get_msr)(struct shv_vcpu *vcpu, u32 index, u64 *data);
	int (*set_msr)(struct shv_vcpu *vcpu, u32 index, u64 data);

	/* enter the guest once; IRQs are off, the guest FPU state is live */
	void (*run)(struct shv_vcpu *vcpu);
	/* >0: enter again, 0: return to the runner, <0: error */
	int (*handle_exit)(struct shv_vcpu *vcpu);

	/* move RIP past an emulated instruction (interrupt shadow, TF) */
	void (*skip_insn)(struct shv_vcpu *vcpu, u64 next_rip);
	void (*queue_exception)(struct shv_vcpu *vcpu, u8 vector,
				bool has_error, u32 error_code);
	void (*set_cr2)(struct shv_vcpu *vcpu, u64 cr2);
	void (*flush_tlb)(struct shv_vcpu *vcpu);
};

extern const struct shv_arch_ops shv_svm_ops;
const struct shv_arch_ops *shv_svm_probe(void);
extern const struct shv_arch_ops shv_vmx_ops;
const struct shv_arch_ops *shv_vmx_probe(void);

#endif /* SHV_ARCH_H */
