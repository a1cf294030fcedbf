/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv internal interfaces: the VM, the vCPU and the glue between the
 * generic core (main.c, vm.c, vcpu.c), the vendor backend (arch.h) and the
 * MMU (mmu.h).
 */
#ifndef SHV_H
#define SHV_H

#include <linux/types.h>
#include <linux/bits.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/refcount.h>
#include <linux/mm_types.h>
#include <linux/wait.h>
#include <uapi/linux/shv.h>

#define SHV_NR_GPRS		16
#define SHV_RUN_PAGES		2	/* struct shv_run + one ring page */

/* x86 architectural bits the core needs (see the SDM/APM) */
#define SHV_RFLAGS_FIXED	0x2ull
#define SHV_RFLAGS_TF		BIT_ULL(8)
#define SHV_RFLAGS_IF		BIT_ULL(9)
#define SHV_RFLAGS_DF		BIT_ULL(10)
#define SHV_RFLAGS_VM		BIT_ULL(17)
#define SHV_RFLAGS_RESERVED	(~0x3f7fd7ull)	/* bits 1 fixed, 3, 5, 15, 22+ */

enum shv_reg {
	SHV_RAX, SHV_RCX, SHV_RDX, SHV_RBX, SHV_RSP, SHV_RBP, SHV_RSI, SHV_RDI,
	SHV_R8, SHV_R9, SHV_R10, SHV_R11, SHV_R12, SHV_R13, SHV_R14, SHV_R15,
};

enum shv_seg {
	SHV_SEG_ES, SHV_SEG_CS, SHV_SEG_SS, SHV_SEG_DS, SHV_SEG_FS,
	SHV_SEG_GS, SHV_SEG_TR, SHV_SEG_LDTR, SHV_NR_SEGS,
};

/* x86 exception vectors */
#define SHV_DE_VECTOR	0
#define SHV_DB_VECTOR	1
#define SHV_NMI_VECTOR	2
#define SHV_BP_VECTOR	3
#define SHV_OF_VECTOR	4
#define SHV_UD_VECTOR	6
#define SHV_DF_VECTOR	8
#define SHV_TS_VECTOR	10
#define SHV_NP_VECTOR	11
#define SHV_SS_VECTOR	12
#define SHV_GP_VECTOR	13
#define SHV_PF_VECTOR	14
#define SHV_AC_VECTOR	17

static inline bool shv_exception_contributory(u8 vector)
{
	return vector == SHV_DE_VECTOR ||
	       (vector >= SHV_TS_VECTOR && vector <= SHV_GP_VECTOR);
}

/*
 * The exception to deliver when 'second' is raised while 'first' (a
 * vector, or -1 for none) is being delivered (SDM table 6-5, APM 8.2.9):
 * 'second' itself, #DF, or -1 for a triple fault (shutdown).
 */
static inline int shv_combine_exceptions(int first, u8 second)
{
	bool bad = shv_exception_contributory(second) ||
		   second == SHV_PF_VECTOR;

	if (first < 0 || !bad)
		return second;
	if (first == SHV_DF_VECTOR)
		return -1;
	if (first == SHV_PF_VECTOR ||
	    (shv_exception_contributory(first) &&
	     shv_exception_contributory(second)))
		return SHV_DF_VECTOR;
	return second;
}

/* page-fault error code bits */
#define SHV_PFERR_PRESENT	BIT(0)
#define SHV_PFERR_WRITE		BIT(1)
#define SHV_PFERR_USER		BIT(2)
#define SHV_PFERR_RSVD		BIT(3)
#define SHV_PFERR_FETCH		BIT(4)

/* CR3 with CR4.PCIDE: the PCID, and "do not flush" (never stored) */
#define SHV_CR3_PCID		GENMASK_ULL(11, 0)
#define SHV_CR3_NOFLUSH		BIT_ULL(63)

struct shv_memslot {
	u64 base_gfn;
	u64 npages;
	unsigned long userspace_addr;
	u32 flags;
	bool used;
};

struct shv_vcpu;
struct shv_mmu_ops;
struct shv_irqchip;
struct shv_lapic;
struct shv_hv;
struct shv_hv_vcpu;
struct shv_disk;

struct shv_vm {
	refcount_t users;		/* the VM fd and every vCPU fd */
	struct mm_struct *mm;		/* the creator's address space */
	struct mutex lock;		/* vCPU creation, slot updates */
	struct rw_semaphore slots_lock;	/* readers: vCPUs using slots */
	struct shv_memslot slots[SHV_MAX_MEMSLOTS];
	struct shv_vcpu *vcpus[SHV_MAX_VCPUS];
	unsigned int nr_vcpus;
	const struct shv_mmu_ops *mmu_ops;
	void *mmu;			/* MMU-private state */
	void *arch;			/* vendor-private state */
	struct shv_irqchip *irqchip;	/* in-kernel PIC/IOAPIC/PIT or NULL */
	struct shv_hv *hv;		/* Hyper-V partition (hyperv.c) or NULL */
	struct rw_semaphore disks_lock;	/* readers: disk I/O (crypt.c) */
	struct shv_disk *disks[SHV_CRYPT_MAX_DISKS];
};

/* vcpu->requests bits, serviced before each guest entry */
#define SHV_REQ_TLB_FLUSH	0
#define SHV_REQ_MMU_RELOAD	1	/* pick the shadow root again (sleeps) */
#define SHV_REQ_HV_WORK		2	/* SynIC work queued (hyperv.c) */

/* vcpu->mode: lets other CPUs know whether an IPI is needed to kick us */
enum shv_vcpu_mode {
	SHV_OUTSIDE_GUEST,
	SHV_IN_GUEST,
};

/* What the runner owes us before the guest can continue */
enum shv_pending {
	SHV_PENDING_NONE,
	SHV_PENDING_PIO_IN,		/* copy run->io.data to RAX */
	SHV_PENDING_PIO_STR,		/* finish one INS/OUTS element */
	SHV_PENDING_MMIO_READ,		/* run->mmio.data answers a read */
	SHV_PENDING_MMIO_WRITE,		/* more writes or REP iterations */
	SHV_PENDING_HYPERCALL,		/* copy run->hypercall.ret to RAX */
};

struct shv_pio_state {
	u16 port;
	u8 size;
	bool in;
	bool rep;
	u8 addr_size;
	int seg;
	u32 count;		/* elements handed to the runner at once */
	u64 next_rip;
};

/* an MMIO access of the instruction being emulated (see emulate.c) */
struct shv_mmio_access {
	u64 gpa;
	u64 data;
	u8 len;
};

#define SHV_MMIO_MAX_READS	4
#define SHV_MMIO_MAX_WRITES	2

/* an instruction emulated across MMIO exits */
struct shv_mmio_state {
	u8 insn[15];			/* its bytes, fetched once */
	u8 insn_len;
	u8 nr_reads;			/* reads the runner has answered */
	u8 nr_writes;			/* writes for the runner */
	u8 next_write;			/* the next of them to hand over */
	bool rep_more;			/* REP iterations follow the writes */
	struct shv_mmio_access reads[SHV_MMIO_MAX_READS];
	struct shv_mmio_access writes[SHV_MMIO_MAX_WRITES];
};

struct shv_vcpu {
	struct shv_vm *vm;
	unsigned int id;
	struct mutex mutex;		/* one ioctl at a time */
	struct shv_run *run;		/* the page shared with the runner */
	struct page *run_pages[SHV_RUN_PAGES];

	u64 regs[SHV_NR_GPRS];		/* RAX..R15 while outside the guest */
	u64 rip;
	u64 rflags;

	int cpu;			/* CPU of the last entry, -1 none */
	int mode;			/* enum shv_vcpu_mode */
	unsigned long guest_seq;	/* odd while in the guest */
	unsigned long requests;

	enum shv_pending pending;
	struct shv_pio_state pio;
	struct shv_mmio_state mmio;

	u64 apic_base;
	u64 misc_enable;		/* IA32_MISC_ENABLE (Intel hosts) */

	/*
	 * The guest's view of the paging controls under shadow paging, where
	 * the hardware runs with other values (see cr.c).
	 */
	u64 cr0, cr3, cr4, efer;
	u64 pdptrs[4];			/* PAE PDPTEs loaded with CR3 */

	struct shv_cpuid_entry *cpuid;	/* runner-supplied table or NULL */
	unsigned int cpuid_nent;

	/* guest FPU/SSE state, swapped around each entry */
	u8 fxsave[512] __aligned(16);

	void *arch;			/* vendor-private state */
	void *mmu;			/* MMU-private state */

	/* interrupts (irq.h); all idle without an in-kernel irqchip */
	struct shv_lapic *lapic;
	wait_queue_head_t wq;		/* a halted vCPU sleeps here */
	unsigned int halt_poll_ns;	/* spin this long before sleeping */
	int mp_state;			/* SHV_MP_* */
	unsigned long events;		/* SHV_EVENT_* */
	u8 sipi_vector;
	bool nmi_pending;
	bool nmi_masked;		/* an NMI handler runs until IRET */

	struct shv_hv_vcpu *hv;		/* Hyper-V SynIC (hyperv.c) or NULL */
	struct shv_vcpu_stats stats;	/* SHV_GET_VCPU_STATS */
};

#define SHV_MP_RUNNABLE		0
#define SHV_MP_HALTED		1	/* HLT, waiting for an interrupt */
#define SHV_MP_WAIT_SIPI	2	/* INIT received, waiting for SIPI */

#define SHV_EVENT_INIT		0
#define SHV_EVENT_SIPI		1

/* main.c */
extern const struct shv_arch_ops *shv_arch;
int shv_hw_get(void);
void shv_hw_put(void);

/* vm.c */
int shv_vm_create(unsigned long flags);
int shv_default_mmu(void);
void shv_vm_put(struct shv_vm *vm);
struct shv_vm *shv_vm_get_by_fd(int fd);
struct shv_memslot *shv_gfn_to_slot(struct shv_vm *vm, u64 gfn);
int shv_read_guest_phys(struct shv_vm *vm, u64 gpa, void *buf, unsigned int len);
int shv_write_guest_phys(struct shv_vm *vm, u64 gpa, const void *buf,
			 unsigned int len);
void shv_vm_request_all(struct shv_vm *vm, int req);

/* crypt.c: encrypted disks */
long shv_crypt_list(struct shv_crypt_list __user *arg);
long shv_disk_ioctl(struct shv_vm *vm, unsigned int ioctl, unsigned long arg);
void shv_disks_destroy(struct shv_vm *vm);

/* vcpu.c */
int shv_vcpu_create(struct shv_vm *vm, unsigned long id);
void shv_vcpu_free(struct shv_vcpu *vcpu);
void shv_vcpu_reset_regs(struct shv_vcpu *vcpu);

/* cr.c */
int shv_set_cr0(struct shv_vcpu *vcpu, u64 val);
int shv_set_cr3(struct shv_vcpu *vcpu, u64 val);
int shv_set_cr4(struct shv_vcpu *vcpu, u64 val);
int shv_set_efer(struct shv_vcpu *vcpu, u64 val, bool host);
int shv_load_pdptrs(struct shv_vcpu *vcpu, u64 cr3);
u64 shv_cr4_valid_bits(struct shv_vcpu *vcpu);
bool shv_pcid_offered(struct shv_vm *vm);
int shv_emulate_cr_access(struct shv_vcpu *vcpu);
int shv_emulate_invlpg(struct shv_vcpu *vcpu);

/* cpuid.c */
void shv_emulate_cpuid(struct shv_vcpu *vcpu);
bool shv_guest_has(struct shv_vcpu *vcpu, u32 fn, int reg, int bit);
int shv_set_cpuid(struct shv_vcpu *vcpu, struct shv_cpuid __user *arg);

/* msr.c */
void shv_msr_vcpu_init(struct shv_vcpu *vcpu);
int shv_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data, bool host);
int shv_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data, bool host);
long shv_msrs_ioctl(struct shv_vcpu *vcpu, struct shv_msrs __user *arg,
		    bool set);

#endif /* SHV_H */
