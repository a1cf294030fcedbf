/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: the accelerator interface.  One ops table per backend (shv.ko
 * through /dev/shv, or KVM through /dev/kvm); everything else in the
 * runner talks only to this.  Registers use the shv ABI structures as the
 * common representation; the KVM backend converts.
 */
#ifndef SHV_RUN_ACCEL_H
#define SHV_RUN_ACCEL_H

#include <linux/shv.h>

#include "util.h"

enum accel_exit_kind {
	ACCEL_EXIT_IO,
	ACCEL_EXIT_MMIO,
	ACCEL_EXIT_HLT,
	ACCEL_EXIT_SHUTDOWN,
	ACCEL_EXIT_INTERNAL_ERROR,
	ACCEL_EXIT_FAIL_ENTRY,
	ACCEL_EXIT_INTR,	/* interrupted by a signal: just rerun */
	ACCEL_EXIT_UNKNOWN,	/* the backend could not classify the exit */
	ACCEL_EXIT_UNHANDLED,	/* a valid exit the runner does not handle */
};

/* A normalized exit; data pointers point into the vCPU's run area */
struct accel_exit {
	enum accel_exit_kind kind;
	u32 raw_reason;		/* the backend's own exit_reason */
	union {
		struct {
			u16 port;
			u8 size;	/* 1, 2 or 4 */
			bool out;
			u32 count;	/* elements of @size bytes at @data */
			u8 *data;
		} io;
		struct {
			u64 addr;
			u32 len;
			bool is_write;
			u8 *data;
		} mmio;
		struct {
			u32 suberror;
			u32 ndata;
			u64 data[16];
		} internal;
		struct {		/* FAIL_ENTRY, UNKNOWN, SHUTDOWN */
			u64 reason;
			u64 info1, info2;
			u32 cpu;
		} hw;
	};
};

struct accel;

struct accel_vcpu {
	struct accel *accel;
	unsigned int id;
	int fd;
	void *run;
	size_t run_size;
	volatile u8 *immediate_exit;	/* set before kicking with a signal */
	int stats_fd;			/* KVM: binary statistics, or -1 */
	u64 exits_offset;		/* KVM: where "exits" is in them */
};

struct accel_ops {
	const char *name;
	int (*open)(struct accel *a);
	/* @mmu: SHV_VM_MMU_* (shv only; other backends require 0) */
	int (*create_vm)(struct accel *a, unsigned int mmu);
	int (*max_vcpus)(struct accel *a);
	int (*set_memslot)(struct accel *a, u32 slot, u64 gpa, u64 size,
			   void *hva, bool readonly);
	int (*create_vcpu)(struct accel *a, unsigned int id,
			   struct accel_vcpu *v);
	/* NULL when the backend's default CPUID is used */
	int (*set_cpuid)(struct accel_vcpu *v);
	int (*get_regs)(struct accel_vcpu *v, struct shv_regs *regs);
	int (*set_regs)(struct accel_vcpu *v, const struct shv_regs *regs);
	int (*get_sregs)(struct accel_vcpu *v, struct shv_sregs *sregs);
	int (*set_sregs)(struct accel_vcpu *v, const struct shv_sregs *sregs);
	/* 0 with @exit filled in, or -1 (message printed) on a failed run */
	int (*run)(struct accel_vcpu *v, struct accel_exit *exit);
	/*
	 * The vCPU's count of guest exits of every kind (shv's
	 * SHV_GET_VCPU_STATS, KVM's "exits" statistic), from any thread,
	 * also while the vCPU runs.  -1 when the backend cannot tell.
	 */
	int (*vcpu_exits)(struct accel_vcpu *v, u64 *exits);
	/* describe a raw exit reason for error messages */
	const char *(*exit_name)(u32 raw_reason);

	/*
	 * Interrupt controllers.  create_irqchip gives the VM a PC's: a
	 * local APIC per vCPU, IOAPIC at 0xfec00000, dual 8259 PIC, 8254
	 * PIT (which owns ports 0x40-0x43 and 0x61); call it before any
	 * vCPU exists.  Afterwards vCPUs other than 0 wait in the kernel
	 * for INIT/SIPI.  GSIs are routed the same way by every backend:
	 * GSI 0-15 reach the PIC (IRQ 2 being the cascade) and the IOAPIC,
	 * GSI 0 (the PIT) at IOAPIC pin 2, GSI 2 at no IOAPIC pin, 16-23
	 * the IOAPIC only.
	 */
	int (*create_irqchip)(struct accel *a);
	/*
	 * Give the VM the Hyper-V guest interface (hypercall page, VP index,
	 * reference time, SynIC with its timers): shv's in-kernel SynIC, or
	 * KVM's own emulation.  After create_irqchip, before any vCPU.
	 */
	int (*enable_hyperv)(struct accel *a);
	/*
	 * SynIC sources for devices, after enable_hyperv succeeded; @vp is a
	 * VP index (= vCPU index of a created vCPU), @sint below 16; 0, or
	 * -1 with errno.  Both backends give the semantics of shv's kernel
	 * (Documentation/interrupts.rst), the KVM one in the runner
	 * (accel_kvm_hyperv.c).
	 *
	 * hv_sint_route: a device starts (@add) or stops using SINT @sint
	 * of @vp; hv_sint_raise raises that SINT's interrupt once (nothing
	 * while the vCPU's SynIC is disabled or the SINT masked), as
	 * SHV_HV_RAISE_SINT.  hv_set_connection: as SHV_HV_SET_CONNECTION
	 * with target_fd -1 (this VM): the guest's HvPostMessage and
	 * HvSignalEvent on connection @c->conn_id reach SINT @c->sint of
	 * VP @c->vcpu; flags 0 deletes the connection.
	 */
	int (*hv_sint_route)(struct accel *a, u32 vp, u32 sint, bool add);
	int (*hv_sint_raise)(struct accel *a, u32 vp, u32 sint);
	int (*hv_set_connection)(struct accel *a,
				 const struct shv_hv_connection *c);
	/* drive GSI @gsi to @level (1 asserted); -1 with errno on failure */
	int (*irq_line)(struct accel *a, u32 gsi, int level);
	/* an MSI write of @data to @address (0xfeeXXXXX) */
	int (*signal_msi)(struct accel *a, u64 address, u32 data);
	/*
	 * Drop every cached translation and shadow of the guest page at
	 * @gpa (runner memory @hva): pc-testdev's flush-page port.  0 when
	 * done, -1 with errno ENOTTY when the backend cannot (yet).
	 */
	int (*flush_page)(struct accel *a, u64 gpa, void *hva);
	void (*destroy_vcpu)(struct accel_vcpu *v);
	void (*close)(struct accel *a);
};

struct accel {
	const struct accel_ops *ops;
	int sys_fd;
	int vm_fd;
	bool irqchip;		/* create_irqchip succeeded */
	bool hyperv;		/* enable_hyperv succeeded */
	size_t vcpu_mmap_size;
	void *priv;
};

extern const struct accel_ops accel_shv_ops;
extern const struct accel_ops accel_kvm_ops;

/* Find a backend by name ("shv", "kvm"); NULL if unknown */
const struct accel_ops *accel_find(const char *name);

/* Helpers shared by the backends */
int accel_map_run(struct accel_vcpu *v, size_t size);
void accel_unmap_run(struct accel_vcpu *v);

#endif /* SHV_RUN_ACCEL_H */
