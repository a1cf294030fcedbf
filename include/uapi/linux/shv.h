/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shv - shadow-paging hypervisor: the userspace ABI.
 *
 * This header is the whole contract between shv.ko and its users.  The
 * ioctl numbers, structure layouts and semantics are described in
 * Documentation/api.rst.  Every structure is naturally aligned and has no
 * implicit padding; every reserved field and every unknown flag must be
 * zero or the ioctl fails with -EINVAL.
 */
#ifndef _UAPI_LINUX_SHV_H
#define _UAPI_LINUX_SHV_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define SHV_API_VERSION		1

#define SHVIO			0xB7

/* ioctls on /dev/shv */
#define SHV_GET_API_VERSION	_IO(SHVIO, 0x00)
#define SHV_CREATE_VM		_IO(SHVIO, 0x01)	/* arg: SHV_VM_* flags */
#define SHV_CHECK_EXTENSION	_IO(SHVIO, 0x03)	/* arg: SHV_CAP_* */
#define SHV_GET_VCPU_MMAP_SIZE	_IO(SHVIO, 0x04)

/* SHV_CREATE_VM flags: choose the MMU (0 means the module default) */
#define SHV_VM_MMU_DEFAULT	0x0
#define SHV_VM_MMU_NESTED	0x1
#define SHV_VM_MMU_SHADOW	0x2
#define SHV_VM_MMU_MASK		0x3

/* SHV_CHECK_EXTENSION capabilities */
#define SHV_CAP_NR_VCPUS	1	/* returns the maximum vCPUs per VM */
#define SHV_CAP_NR_MEMSLOTS	2	/* returns the maximum memory slots */
#define SHV_CAP_READONLY_MEM	3
#define SHV_CAP_NESTED_PAGING	4	/* NPT/EPT usable on this host */
#define SHV_CAP_SHADOW_PAGING	5
#define SHV_CAP_EXIT_RING	6	/* returns the exit ring's entry count */
#define SHV_CAP_VENDOR		7	/* returns SHV_VENDOR_* */
#define SHV_CAP_DEFAULT_MMU	8	/* returns SHV_VM_MMU_NESTED or _SHADOW */
#define SHV_CAP_IRQCHIP		9	/* in-kernel LAPIC/IOAPIC/PIC/PIT */

#define SHV_VENDOR_SVM		1
#define SHV_VENDOR_VMX		2

/*
 * SHV_CAP_ACCEL returns what the processor does for the guest here
 * without an exit (module parameters may turn each off), an OR of:
 */
#define SHV_CAP_ACCEL		18
/* RDMSR/WRMSR of FS/GS base, SYSENTER_*, PAT; RDMSR of TSC */
#define SHV_ACCEL_MSR_BITMAP	(1u << 0)
/* MOV to/from CR8, unless the TPR drops below a held interrupt's class */
#define SHV_ACCEL_TPR_SHADOW	(1u << 1)
/* RDMSR/WRMSR of the x2APIC TPR (0x808), with the same exception */
#define SHV_ACCEL_X2APIC_TPR	(1u << 2)
/*
 * Virtual-interrupt delivery: fixed interrupts of the in-kernel APIC are
 * taken, and x2APIC EOIs of edge-triggered ones done, without exits
 * (not while a vector has AutoEOI: see Documentation/vmx.rst)
 */
#define SHV_ACCEL_VINTR		(1u << 3)

/* ioctls on a VM fd */
#define SHV_CREATE_VCPU		_IO(SHVIO, 0x41)	/* arg: vCPU id */
#define SHV_SET_USER_MEMORY_REGION \
	_IOW(SHVIO, 0x46, struct shv_userspace_memory_region)

/* shadow MMU counters (all zero under nested paging) */
struct shv_mmu_stats {
	__u64 roots_cached;	/* shadow roots in the cache now */
	__u64 root_hits;	/* CR3 loads that found a cached root */
	__u64 root_misses;	/* CR3 loads that built a root */
	__u64 stale_marks;	/* shadow entries marked stale by PT writes */
	__u64 stale_purges;	/* stale entries dropped at a flush point */
	__u64 purges_all;	/* every cached translation dropped */
	__u64 deferral_overflows; /* purges caused by untracked tables */
	__u64 untracked_tables;	/* guest tables whose tracking is deferred */
	__u64 tracked_tables;	/* guest tables write-tracked */
	__u64 shadow_pages;	/* shadow page-table pages now */
	__u64 wp_faults;	/* writes to write-protected guest tables */
	__u64 emulated_pt_writes;
	__u64 unprotects;	/* guest tables released after write floods */
	__u64 shadow_faults;	/* #PF intercepts fixed by filling */
	__u64 guest_faults;	/* #PF reflected to the guest */
	__u64 mmio_faults;	/* #PF intercepts that were MMIO */
	__u64 reclaims;		/* shadow pages reclaimed at the cap */
	__u64 cr3_noflush;	/* CR3 loads with PCID no-flush */
	__u64 reserved[6];
};

#define SHV_GET_MMU_STATS	_IOR(SHVIO, 0x50, struct shv_mmu_stats)

/*
 * In-kernel interrupt controllers: a local APIC per vCPU, and an IOAPIC
 * (0xfec00000), a dual 8259 PIC and an 8254 PIT per VM, as on a PC.
 * Create them before any vCPU.  Lines are GSIs 0..23 (ISA IRQ n is GSI
 * n; GSI 0, the PIT, arrives at IOAPIC pin 2); level 1 asserts.
 */
#define SHV_CREATE_IRQCHIP	_IO(SHVIO, 0x60)

struct shv_irq_level {
	__u32 irq;
	__u32 level;
};

#define SHV_IRQ_LINE		_IOW(SHVIO, 0x61, struct shv_irq_level)

/* a message-signalled interrupt: address 0xfeeXXXXX, data as in PCI */
struct shv_msi {
	__u64 address;
	__u32 data;
	__u32 flags;
	__u32 pad;
	__u32 reserved[3];
};

#define SHV_SIGNAL_MSI		_IOW(SHVIO, 0x62, struct shv_msi)

/*
 * Drop every translation of a guest-physical range: nested-paging
 * entries, shadow entries (guest page tables there are tracked again from
 * scratch) and the pages pinned for them; every vCPU's TLB is flushed.
 * The next guest access maps the runner's memory afresh (what QEMU's
 * pc-testdev flush-page port needs).  gpa and size page aligned, size
 * not 0, no wrap; flags and pad 0.
 */
struct shv_gpa_range {
	__u64 gpa;
	__u64 size;
	__u32 flags;
	__u32 pad;
};

#define SHV_FLUSH_GPA		_IOW(SHVIO, 0x63, struct shv_gpa_range)

/*
 * Guest interface extensions (CPUID 0x40000000 "ShvShvShvShv", leaf
 * 0x40000001 EAX lists them).  Selective EOI: writing a vector to this
 * MSR ends that in-service interrupt of the local APIC even when it is
 * not the highest in service; PPR is recomputed and the next pending
 * interrupt delivered.  Writing a vector not in service does nothing.
 */
#define SHV_CPUID_FEATURES	0x40000001
#define SHV_FEAT_SEOI		(1u << 0)
#define SHV_MSR_SEOI		0x40000200

/* ioctls on a vCPU fd */
#define SHV_RUN			_IO(SHVIO, 0x80)
#define SHV_GET_REGS		_IOR(SHVIO, 0x81, struct shv_regs)
#define SHV_SET_REGS		_IOW(SHVIO, 0x82, struct shv_regs)
#define SHV_GET_SREGS		_IOR(SHVIO, 0x83, struct shv_sregs)
#define SHV_SET_SREGS		_IOW(SHVIO, 0x84, struct shv_sregs)
#define SHV_GET_MSRS		_IOWR(SHVIO, 0x88, struct shv_msrs)
#define SHV_SET_MSRS		_IOW(SHVIO, 0x89, struct shv_msrs)
#define SHV_SET_CPUID		_IOW(SHVIO, 0x8a, struct shv_cpuid)
/*
 * Shadow MMU self-check: compare every present, non-stale shadow entry
 * reachable from the vCPU's current root with a software walk of the
 * guest's tables.  Returns the number of mismatches (0: consistent).
 */
#define SHV_MMU_VERIFY		_IO(SHVIO, 0x90)

/*
 * Guest memory.  A slot maps [guest_phys_addr, guest_phys_addr +
 * memory_size) onto runner memory at userspace_addr.  All three must be
 * page aligned; memory_size 0 deletes the slot.  Slots may not overlap
 * and may not wrap.  A read-only slot (ROM) reads normally; guest writes
 * to it leave to the runner as MMIO exits.
 */
#define SHV_MEM_READONLY	(1u << 0)
#define SHV_MAX_MEMSLOTS	32
#define SHV_MAX_VCPUS		64
#define SHV_MAX_PHYS_BITS	48	/* guest-physical address width */

struct shv_userspace_memory_region {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
};

/* General purpose registers, RIP and RFLAGS */
struct shv_regs {
	__u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;
};

/*
 * A segment register as the hidden descriptor cache holds it.  type, s,
 * dpl, present, avl, l, db and g are the descriptor fields; unusable
 * marks a null/unusable selector.
 */
struct shv_segment {
	__u64 base;
	__u32 limit;
	__u16 selector;
	__u8  type;
	__u8  present, dpl, db, s, l, g, avl;
	__u8  unusable;
	__u8  padding;
};

struct shv_dtable {
	__u64 base;
	__u16 limit;
	__u16 padding[3];
};

struct shv_sregs {
	struct shv_segment cs, ds, es, fs, gs, ss;
	struct shv_segment tr, ldt;
	struct shv_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8;
	__u64 efer;
	__u64 apic_base;
	__u64 reserved[4];
};

struct shv_msr_entry {
	__u32 index;
	__u32 reserved;
	__u64 data;
};

/* SHV_GET_MSRS / SHV_SET_MSRS return the number of entries processed */
#define SHV_MAX_MSR_ENTRIES	256
struct shv_msrs {
	__u32 nmsrs;
	__u32 pad;
	struct shv_msr_entry entries[];
};

struct shv_cpuid_entry {
	__u32 function;
	__u32 index;
	__u32 flags;
	__u32 eax, ebx, ecx, edx;
	__u32 padding[3];
};

#define SHV_CPUID_FLAG_SIGNIFCANT_INDEX	(1u << 0)
#define SHV_MAX_CPUID_ENTRIES		128
struct shv_cpuid {
	__u32 nent;
	__u32 padding;
	struct shv_cpuid_entry entries[];
};

/* Exit reasons in struct shv_run */
#define SHV_EXIT_UNKNOWN	0
#define SHV_EXIT_IO		2
#define SHV_EXIT_HLT		5
#define SHV_EXIT_MMIO		6
#define SHV_EXIT_SHUTDOWN	8
#define SHV_EXIT_FAIL_ENTRY	9
#define SHV_EXIT_INTR		10	/* a signal is pending; rerun */
#define SHV_EXIT_INTERNAL_ERROR	17
#define SHV_EXIT_HYPERCALL	18
#define SHV_EXIT_RING		19	/* batched exits wait in the ring */

#define SHV_EXIT_IO_IN		0
#define SHV_EXIT_IO_OUT		1

/* Internal error sub-reasons */
#define SHV_INTERNAL_ERROR_EMULATION	1	/* instruction not emulated */
#define SHV_INTERNAL_ERROR_UNHANDLED	2	/* unexpected hardware exit */
#define SHV_INTERNAL_ERROR_FETCH	3	/* could not read the instruction */
#define SHV_INTERNAL_ERROR_HOST_STATE	4	/* the CPU ran the guest on host state */

/*
 * The shared area: mmap the vCPU fd at offset 0 with the size
 * SHV_GET_VCPU_MMAP_SIZE returns.  The first page is struct shv_run,
 * with the data of REP INS/OUTS exits in its second half; the exit ring
 * follows at ring_offset.
 */
#define SHV_RUN_PIO_DATA_OFFSET	2048
#define SHV_RUN_PIO_DATA_SIZE	2048
struct shv_run {
	/* in */
	__u8  request_immediate_exit;
	__u8  padding1[7];

	/* out */
	__u32 exit_reason;
	__u32 flags;
	__u64 ring_offset;	/* byte offset of struct shv_exit_ring */
	__u64 cr8;
	__u64 apic_base;
	__u64 reserved[4];

	union {
		/* SHV_EXIT_UNKNOWN, SHV_EXIT_FAIL_ENTRY */
		struct {
			__u64 hardware_exit_reason;
			__u64 info1, info2;
		} hw;
		/*
		 * SHV_EXIT_IO: count elements of size bytes each, at byte
		 * offset data_offset of this shared area: data of an OUT,
		 * to be filled in for an IN.  count is 1 for IN/OUT and
		 * for a single INS/OUTS, where data_offset names data[];
		 * a REP INS/OUTS hands over up to SHV_RUN_PIO_DATA_SIZE
		 * bytes of its iterations at once (at
		 * SHV_RUN_PIO_DATA_OFFSET), as many as stay in one guest
		 * page.
		 */
		struct {
			__u8  direction;
			__u8  size;		/* 1, 2 or 4 */
			__u16 port;
			__u32 count;
			__u8  data[8];
			__u32 data_offset;
			__u32 pad;
		} io;
		/* SHV_EXIT_MMIO */
		struct {
			__u64 phys_addr;
			__u8  data[8];
			__u32 len;		/* 1, 2, 4 or 8 */
			__u8  is_write;
			__u8  pad[3];
		} mmio;
		/* SHV_EXIT_INTERNAL_ERROR */
		struct {
			__u32 suberror;
			__u32 ndata;
			__u64 data[16];
		} internal;
		/* SHV_EXIT_SHUTDOWN */
		struct {
			__u64 reason;		/* hardware exit code */
		} shutdown;
		/* SHV_EXIT_HYPERCALL: VMMCALL/VMCALL with RAX=nr */
		struct {
			__u64 nr;
			__u64 args[6];
			__u64 ret;
		} hypercall;
		char pad[256];
	};
};

/*
 * The exit ring (filled by later work: exits bound for the runner are
 * batched here and handed over with one SHV_EXIT_RING).
 */
struct shv_ring_entry {
	__u32 exit_reason;
	__u32 flags;
	__u64 data[7];
};

struct shv_exit_ring {
	__u32 head;		/* written by the kernel */
	__u32 tail;		/* written by the runner */
	__u32 nr_entries;
	__u32 padding;
	struct shv_ring_entry entries[];
};

/* ==================== Hyper-V SynIC (Documentation/interrupts.rst) ==== */
/*
 * SHV_ENABLE_HYPERV (VM fd, arg 0): the guest sees the Hyper-V interface
 * instead of shv's own: CPUID 0x40000000-0x40000005 ("Microsoft Hv",
 * "Hv#1"), the hypercall page, VP index, the reference counter and TSC
 * page, the synthetic interrupt controller (SynIC: SCONTROL, SIMP, SIEFP,
 * EOM, SINT0-15), four synthetic timers per vCPU and the APIC access
 * MSRs; shv's leaves move to 0x40000100.  HvPostMessage and HvSignalEvent
 * are handled in the kernel.  Needs the in-kernel irqchip and must come
 * before the first vCPU: -ENXIO without an irqchip, -EBUSY after a vCPU,
 * -EEXIST the second time.  SHV_CHECK_EXTENSION(SHV_CAP_HYPERV) is 1.
 */
#define SHV_CAP_HYPERV		16
#define SHV_ENABLE_HYPERV	_IO(SHVIO, 0x68)

/*
 * SHV_HV_SET_CONNECTION (VM fd): connection conn_id of this VM's guest
 * (HvPostMessage/HvSignalEvent's ConnectionId, 0..0xffffff) reaches SINT
 * sint of the vCPU with id vcpu in the VM behind target_fd (an shv VM fd
 * with Hyper-V enabled; -1 is this VM).  flags: which hypercalls the
 * connection carries; 0 deletes it (-ENOENT if there is none).  An event
 * connection is a port with flag_count flags from flag_base: HvSignalEvent's
 * FlagNumber n (below flag_count, else HV_STATUS_INVALID_PARAMETER) sets
 * flag flag_base + n of the SINT's area.  flag_base < SHV_HV_EVENT_FLAGS,
 * flag_base + flag_count <= SHV_HV_EVENT_FLAGS; flag_count 0 means up to
 * the end of the area.  Both are 0 without SHV_HV_CONN_EVENTS.  A
 * connection holds no reference on the target VM: once that is gone,
 * posts return HV_STATUS_INVALID_PORT_ID.  -EBADF: target_fd is no file;
 * -EINVAL: not an shv VM, no Hyper-V there, a bad field or reserved bits;
 * -ENOSPC: SHV_HV_MAX_CONNECTIONS exist.
 */
#define SHV_HV_CONN_MESSAGES	(1u << 0)	/* HvPostMessage */
#define SHV_HV_CONN_EVENTS	(1u << 1)	/* HvSignalEvent */
#define SHV_HV_MAX_CONNECTIONS	1024
#define SHV_HV_SINTS		16
#define SHV_HV_EVENT_FLAGS	2048		/* per SINT */

struct shv_hv_connection {
	__u32 conn_id;
	__s32 target_fd;
	__u32 vcpu;
	__u32 sint;
	__u32 flags;
	__u32 flag_base;
	__u32 flag_count;
	__u32 reserved;
};

#define SHV_HV_SET_CONNECTION	_IOW(SHVIO, 0x69, struct shv_hv_connection)

/*
 * Userspace as a source of SynIC work for SINT sint (< SHV_HV_SINTS) of the
 * vCPU with id vcpu, delivered like the guest's own hypercalls, before
 * that vCPU next enters the guest (Documentation/interrupts.rst):
 *
 * SHV_HV_RAISE_SINT: raise the SINT's interrupt once, as a device behind
 * the SINT would (QEMU's SINT routes): nothing happens while the vCPU's
 * SynIC is disabled (SCONTROL), the SINT masked or polling, or its vector
 * below 16.  flag and reserved 0.
 *
 * SHV_HV_SIGNAL_EVENT: set event flag number `flag` (below
 * SHV_HV_EVENT_FLAGS) of the SINT, raising the SINT if the flag was clear
 * and the SINT can take it (else the flag waits, as for HvSignalEvent).
 * reserved 0.
 *
 * SHV_HV_POST_MESSAGE: queue a message for the SINT's message slot, as
 * HvPostMessage does: the slot gets it when free, with MessagePending and
 * EOM as for the guest's posts, with which it shares the SINT's queue of
 * SHV_HV_MSG_QUEUE messages (-EAGAIN when full).  Any message_type but 0
 * (HVMSG_NONE), hypervisor types included; payload_size at most 240;
 * sender is passed on; flags, reserved, message_flags (the kernel's) and
 * reserved2 0.
 *
 * Errors: -ENXIO no Hyper-V; -EINVAL a bad field; -ENOENT no vCPU vcpu;
 * -EFAULT.
 */
#define SHV_HV_MSG_QUEUE	16

struct shv_hv_sint {
	__u32 vcpu;
	__u32 sint;
	__u32 flag;
	__u32 reserved;
};

struct shv_hv_message {
	__u32 vcpu;
	__u32 sint;
	__u32 flags;
	__u32 reserved;
	/* the message as the slot holds it (struct hv_message) */
	__u32 message_type;
	__u8  payload_size;
	__u8  message_flags;
	__u16 reserved2;
	__u64 sender;
	__u64 payload[30];
};

#define SHV_HV_RAISE_SINT	_IOW(SHVIO, 0x6a, struct shv_hv_sint)
#define SHV_HV_SIGNAL_EVENT	_IOW(SHVIO, 0x6b, struct shv_hv_sint)
#define SHV_HV_POST_MESSAGE	_IOW(SHVIO, 0x6c, struct shv_hv_message)

/*
 * SHV_GET_VCPU_STATS (vCPU fd): counters since the vCPU was created.  The
 * exit counters are general; the hv_ ones count SynIC work.  Any thread
 * may read them, also while the vCPU runs (no vCPU lock is taken).
 */
struct shv_vcpu_stats {
	__u64 exits;		/* guest exits of every kind */
	__u64 msr_exits;	/* RDMSR/WRMSR intercepts */
	__u64 irq_injections;	/* external interrupts injected */
	__u64 hv_hypercalls;	/* Hyper-V hypercalls handled in the kernel */
	__u64 hv_msgs_delivered; /* messages written into a message slot */
	__u64 hv_msgs_pending;	/* MessagePending set: slot busy, or more queued */
	__u64 hv_eoms;		/* writes to the EOM MSR */
	__u64 hv_sint_irqs;	/* SINT interrupts raised */
	__u64 hv_events;	/* event flags newly set */
	__u64 hv_stimer_expiries;
	/* VMX real mode without unrestricted guest (vmx.rst) */
	__u64 rm_emulated;	/* instructions emulated: v86 could not run */
	__u64 rm_ivt_events;	/* events delivered through the IVT by shv */
	__u64 tpr_exits;	/* exits for TPR accesses: CR8, TPR register */
	__u64 eoi_exits;	/* exits for EOIs: EOI register, SEOI, EOI-induced */
	__u64 cpu_migrations;	/* entries on another host CPU than the last */
	__u64 reserved[1];
};

#define SHV_GET_VCPU_STATS	_IOR(SHVIO, 0x91, struct shv_vcpu_stats)
/* ==================== end of Hyper-V SynIC ============================ */

/* ==================== Encrypted disks (Documentation/crypt.rst) ======= */
/*
 * SHV_CRYPT_LIST (system fd): the encryption plug-ins registered now.  In:
 * nr, the room in plugins[] (at most SHV_CRYPT_MAX_PLUGINS); out: min(nr,
 * registered) entries filled in, in registration order.  Returns the
 * number registered.  pad 0.
 */
#define SHV_CAP_CRYPT		17	/* returns SHV_CRYPT_MAX_DISKS */

#define SHV_CRYPT_NAME_LEN	64
#define SHV_CRYPT_MAX_KEY_SIZES	8
#define SHV_CRYPT_MAX_KEY_SIZE	128	/* bytes */
#define SHV_CRYPT_MAX_PLUGINS	64
#define SHV_CRYPT_MAX_DISKS	16	/* per VM */

/* IV schemes, dm-crypt's names (crypt.rst) */
#define SHV_CRYPT_IV_PLAIN64	1	/* le64 sector number */
#define SHV_CRYPT_IV_ESSIV	2	/* E_salt(le64 sector), salt = H(key) */
#define SHV_CRYPT_IV_RANDOM	3	/* random nonce per write, in metadata */

/* plug-in capabilities */
#define SHV_CRYPT_CAP_AUTH	(1u << 0)	/* authenticated: tags per sector */

struct shv_crypt_plugin_info {
	char name[SHV_CRYPT_NAME_LEN];	/* the cipher spec, e.g. aes-xts-plain64 */
	__u16 key_sizes[SHV_CRYPT_MAX_KEY_SIZES]; /* bytes; 0 ends the list */
	__u32 sector_sizes;	/* OR of the supported sizes (powers of two) */
	__u32 iv_scheme;	/* SHV_CRYPT_IV_* */
	__u32 caps;		/* SHV_CRYPT_CAP_* */
	__u32 users;		/* disks using it now */
	__u64 reserved[2];
};

struct shv_crypt_list {
	__u32 nr;
	__u32 pad;
	struct shv_crypt_plugin_info plugins[];
};

#define SHV_CRYPT_LIST		_IOWR(SHVIO, 0x08, struct shv_crypt_list)

/*
 * SHV_DISK_ATTACH (VM fd): attach the regular file behind fd (opened for
 * reading, and writing unless SHV_DISK_READONLY) as disk number disk
 * (< SHV_CRYPT_MAX_DISKS) of the VM, every sector_size bytes of it one
 * sector encrypted by the plug-in named cipher.  The key is key_size bytes
 * at user address key, read once; with SHV_DISK_KEY_KEYRING, key points to
 * a NUL-terminated description "logon:NAME" or "user:NAME" of a key of
 * that type in the caller's keyrings, whose payload must be key_size
 * bytes.  iv_offset is added to the IV sector in 512-byte units, as
 * dm-crypt's <iv_offset>; the IV sector of a sector counts 512-byte units
 * unless SHV_DISK_IV_LARGE_SECTORS (dm-crypt's iv_large_sectors).  Out:
 * nr_sectors, the disk size in sectors.
 * Errors: EBADF fd; EINVAL a bad field or format, a file that is not
 * regular or is open with O_APPEND, an image size that is 0 or not a
 * multiple of sector_size, a corrupt VHD or authenticated header, O_DIRECT
 * with a dynamic VHD or an authenticated plug-in; ENOENT no such
 * plug-in; EOPNOTSUPP key or sector size not supported by it; EKEYREJECTED
 * the plug-in refused the key; ENOKEY/EKEYREVOKED/EKEYEXPIRED keyring;
 * EEXIST the disk number is in use; EFAULT.
 */
#define SHV_DISK_READONLY		(1u << 0)
#define SHV_DISK_IV_LARGE_SECTORS	(1u << 1)
#define SHV_DISK_KEY_KEYRING		(1u << 2)

/*
 * format: the container (crypt.rst).  RAW, the file is the virtual disk;
 * VHD, a Microsoft VHD file, fixed or dynamic, whose footer, dynamic
 * header and BAT are checked (EINVAL when corrupt or truncated) and stay
 * plaintext.  With an authenticated plug-in (SHV_CRYPT_CAP_AUTH) the
 * virtual disk holds a header and per-sector metadata before the data
 * sectors, and nr_sectors counts the data sectors only.
 */
#define SHV_DISK_FORMAT_RAW		0
#define SHV_DISK_FORMAT_VHD		1

struct shv_disk_attach {
	__u32 disk;
	__s32 fd;
	__u32 flags;		/* SHV_DISK_* */
	__u32 sector_size;	/* 512 .. 4096, a power of two */
	__u64 iv_offset;	/* 512-byte units */
	__u64 key;		/* user pointer: key bytes or description */
	__u32 key_size;		/* bytes */
	__u32 format;		/* SHV_DISK_FORMAT_* (was pad: 0 is raw) */
	char cipher[SHV_CRYPT_NAME_LEN];
	__u64 nr_sectors;	/* out */
	__u64 reserved[3];
};

#define SHV_DISK_ATTACH		_IOWR(SHVIO, 0x70, struct shv_disk_attach)
/* arg: the disk number; waits for its I/O, wipes its key; ENOENT none */
#define SHV_DISK_DETACH		_IO(SHVIO, 0x71)

/*
 * SHV_DISK_IO (VM fd): nr (1..SHV_DISK_MAX_IOS) descriptors of disk, done in
 * order; each moves nr_sectors sectors from sector on between the image
 * and guest-physical memory at gpa (RAM in the VM's memory slots; guest
 * memory is decrypted into / encrypted from in the kernel).  FLUSH makes
 * every completed write durable (sector, nr_sectors and gpa 0); DISCARD
 * punches out the sectors (they then read as the decryption of zeros);
 * WRITE with SHV_DISK_IO_FUA is durable when it completes.  Each
 * descriptor's result is 0 or -errno; processing stops at the first
 * failure.  Returns the number of descriptors that succeeded.
 * Errors of a descriptor: EINVAL bad op, flags or reserved; ERANGE
 * sectors beyond the image (or nr_sectors 0 or above
 * SHV_DISK_MAX_IO_SECTORS); EFAULT gpa range not RAM, or read-only memory
 * for a READ; EROFS a write to a read-only disk; EIO the image or the
 * cipher failed.  The ioctl fails with ENOENT (no such disk) or EINVAL.
 */
#define SHV_DISK_OP_READ	0
#define SHV_DISK_OP_WRITE	1
#define SHV_DISK_OP_FLUSH	2
#define SHV_DISK_OP_DISCARD	3

#define SHV_DISK_IO_FUA		(1u << 0)

#define SHV_DISK_MAX_IOS	64
#define SHV_DISK_MAX_IO_SECTORS	2048

struct shv_disk_io {
	__u32 op;		/* SHV_DISK_OP_* */
	__u32 flags;		/* SHV_DISK_IO_* */
	__u64 sector;		/* in sector_size units */
	__u32 nr_sectors;
	__s32 result;		/* out: 0 or -errno */
	__u64 gpa;
	__u64 reserved;
};

struct shv_disk_ios {
	__u32 disk;
	__u32 nr;
	__u64 reserved;
	struct shv_disk_io ios[];
};

#define SHV_DISK_IO		_IOWR(SHVIO, 0x72, struct shv_disk_ios)
/* ==================== end of encrypted disks ========================== */

#endif /* _UAPI_LINUX_SHV_H */
