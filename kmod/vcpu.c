// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU file descriptor and the run loop: register state, validation of
 * everything the runner hands in, the shared shv_run page, and the loop
 * that enters the guest until an exit needs the runner.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/smp.h>
#include <asm/fpu/api.h>
#include <asm/processor.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"
#include "irq.h"
#include "hyperv.h"

#define SHV_CR0_VALID	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | \
			 X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | \
			 X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)

void shv_vcpu_reset_regs(struct shv_vcpu *vcpu)
{
	u32 eax, ebx, ecx, edx;

	memset(vcpu->regs, 0, sizeof(vcpu->regs));
	/* EDX holds the processor signature after RESET */
	cpuid(1, &eax, &ebx, &ecx, &edx);
	vcpu->regs[SHV_RDX] = eax;
	vcpu->rip = 0xfff0;
	vcpu->rflags = SHV_RFLAGS_FIXED;
	vcpu->apic_base = 0xfee00000 | BIT(11) | (vcpu->id ? 0 : BIT(8));
	vcpu->pending = SHV_PENDING_NONE;

	/* FNINIT/MXCSR power-on values */
	memset(vcpu->fxsave, 0, sizeof(vcpu->fxsave));
	*(u16 *)&vcpu->fxsave[0] = 0x37f;	/* FCW */
	*(u32 *)&vcpu->fxsave[24] = 0x1f80;	/* MXCSR */
}

static bool shv_is_canonical(u64 addr, bool la57)
{
	int bits = la57 ? 57 : 48;

	return (s64)(addr << (64 - bits)) >> (64 - bits) == (s64)addr;
}

static bool shv_seg_fields_ok(const struct shv_segment *s)
{
	return s->type <= 15 && s->dpl <= 3 && s->present <= 1 &&
	       s->db <= 1 && s->s <= 1 && s->l <= 1 && s->g <= 1 &&
	       s->avl <= 1 && s->unusable <= 1 && !s->padding;
}

/*
 * Reject what a processor could never hold, and what VMRUN/VMLAUNCH would
 * refuse, so entry failures stay the exception (see Documentation/api.rst).
 */
static int shv_check_sregs(struct shv_vcpu *vcpu, const struct shv_sregs *s)
{
	const struct shv_segment *segs[] = {
		&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldt,
	};
	bool lma = s->efer & EFER_LMA, la57 = s->cr4 & X86_CR4_LA57;
	u64 efer_valid = EFER_SCE | EFER_LME | EFER_LMA | EFER_NX;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s->reserved); i++)
		if (s->reserved[i])
			return -EINVAL;
	for (i = 0; i < 3; i++)
		if (s->gdt.padding[i] || s->idt.padding[i])
			return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(segs); i++)
		if (!shv_seg_fields_ok(segs[i]))
			return -EINVAL;

	if (s->cr0 & ~(u64)SHV_CR0_VALID)
		return -EINVAL;
	if ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE))
		return -EINVAL;
	if ((s->cr0 & X86_CR0_NW) && !(s->cr0 & X86_CR0_CD))
		return -EINVAL;
	if (s->cr4 & ~shv_cr4_valid_bits(vcpu))
		return -EINVAL;
	if (s->efer & ~efer_valid)
		return -EINVAL;
	if (s->cr8 > 15)
		return -EINVAL;

	/* long mode: LMA is LME && PG, and needs PAE */
	if (!!lma != ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)))
		return -EINVAL;
	if (lma && !(s->cr4 & X86_CR4_PAE))
		return -EINVAL;
	if (!lma && (s->cr4 & (X86_CR4_PCIDE | X86_CR4_LA57)))
		return -EINVAL;
	if (lma) {
		if (s->cr3 & ~GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 0))
			return -EINVAL;
		if (s->cs.l && s->cs.db)
			return -EINVAL;
		if (!shv_is_canonical(s->fs.base, la57) ||
		    !shv_is_canonical(s->gs.base, la57) ||
		    !shv_is_canonical(s->tr.base, la57) ||
		    !shv_is_canonical(s->ldt.base, la57) ||
		    !shv_is_canonical(s->gdt.base, la57) ||
		    !shv_is_canonical(s->idt.base, la57))
			return -EINVAL;
	} else {
		if (s->cr3 >> 32 || s->cs.l)
			return -EINVAL;
		if (((s->cs.base | s->ds.base | s->es.base | s->fs.base |
		      s->gs.base | s->ss.base | s->tr.base | s->ldt.base |
		      s->gdt.base | s->idt.base) >> 32))
			return -EINVAL;
	}
	/* in protected mode CS must be a present code segment */
	if ((s->cr0 & X86_CR0_PE) && !s->cs.unusable &&
	    (!s->cs.present || !s->cs.s || !(s->cs.type & 8)))
		return -EINVAL;
	if (s->apic_base & ~(BIT_ULL(8) | BIT_ULL(10) | BIT_ULL(11) |
			     GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 12)))
		return -EINVAL;
	/* x2APIC (EXTD) only with the in-kernel APIC, and only enabled */
	if ((s->apic_base & BIT_ULL(10)) &&
	    (!vcpu->lapic || !(s->apic_base & BIT_ULL(11))))
		return -EINVAL;
	return 0;
}

static int shv_check_regs(struct shv_vcpu *vcpu, const struct shv_regs *r)
{
	struct shv_sregs s;

	if (r->rflags & SHV_RFLAGS_RESERVED || !(r->rflags & SHV_RFLAGS_FIXED))
		return -EINVAL;
	shv_arch->get_sregs(vcpu, &s);
	if (shv_cpu_mode(&s, r->rflags) == 64 &&
	    !shv_is_canonical(r->rip, s.cr4 & X86_CR4_LA57))
		return -EINVAL;
	if (!(s.efer & EFER_LMA) && r->rip >> 32)
		return -EINVAL;
	return 0;
}

static void shv_get_regs(struct shv_vcpu *vcpu, struct shv_regs *r)
{
	const u64 *g = vcpu->regs;

	*r = (struct shv_regs){
		.rax = g[SHV_RAX], .rbx = g[SHV_RBX], .rcx = g[SHV_RCX],
		.rdx = g[SHV_RDX], .rsi = g[SHV_RSI], .rdi = g[SHV_RDI],
		.rsp = g[SHV_RSP], .rbp = g[SHV_RBP],
		.r8 = g[SHV_R8], .r9 = g[SHV_R9], .r10 = g[SHV_R10],
		.r11 = g[SHV_R11], .r12 = g[SHV_R12], .r13 = g[SHV_R13],
		.r14 = g[SHV_R14], .r15 = g[SHV_R15],
		.rip = vcpu->rip, .rflags = vcpu->rflags,
	};
}

static void shv_set_regs(struct shv_vcpu *vcpu, const struct shv_regs *r)
{
	u64 *g = vcpu->regs;

	g[SHV_RAX] = r->rax; g[SHV_RBX] = r->rbx; g[SHV_RCX] = r->rcx;
	g[SHV_RDX] = r->rdx; g[SHV_RSI] = r->rsi; g[SHV_RDI] = r->rdi;
	g[SHV_RSP] = r->rsp; g[SHV_RBP] = r->rbp;
	g[SHV_R8] = r->r8; g[SHV_R9] = r->r9; g[SHV_R10] = r->r10;
	g[SHV_R11] = r->r11; g[SHV_R12] = r->r12; g[SHV_R13] = r->r13;
	g[SHV_R14] = r->r14; g[SHV_R15] = r->r15;
	vcpu->rip = r->rip;
	vcpu->rflags = r->rflags;
}

/*
 * One entry into the guest and back, with IRQs and preemption off.
 * Returns false when a request that needs a sleeping context arrived
 * first (the guest did not run).
 */
static bool shv_enter_guest(struct shv_vcpu *vcpu)
{
	kernel_fpu_begin();
	local_irq_disable();

	if (vcpu->cpu != smp_processor_id() && vcpu->cpu >= 0)
		vcpu->stats.cpu_migrations++;
	WRITE_ONCE(vcpu->cpu, smp_processor_id());
	WRITE_ONCE(vcpu->mode, SHV_IN_GUEST);
	WRITE_ONCE(vcpu->guest_seq, vcpu->guest_seq + 1);
	/*
	 * Pairs with shv_vcpu_kick() and shv_vm_request_all(): either we
	 * see their request here, or they see this entry and kick us out.
	 */
	smp_mb();
	if (test_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests) ||
	    test_bit(SHV_REQ_HV_WORK, &vcpu->requests)) {
		WRITE_ONCE(vcpu->guest_seq, vcpu->guest_seq + 1);
		WRITE_ONCE(vcpu->mode, SHV_OUTSIDE_GUEST);
		local_irq_enable();
		kernel_fpu_end();
		return false;
	}
	if (test_and_clear_bit(SHV_REQ_TLB_FLUSH, &vcpu->requests))
		shv_arch->flush_tlb(vcpu);

	asm volatile("fxrstor64 %0" : : "m" (vcpu->fxsave));
	shv_arch->run(vcpu);
	asm volatile("fxsave64 %0" : "=m" (vcpu->fxsave));

	WRITE_ONCE(vcpu->guest_seq, vcpu->guest_seq + 1);
	WRITE_ONCE(vcpu->mode, SHV_OUTSIDE_GUEST);
	local_irq_enable();
	kernel_fpu_end();
	return true;
}

/*
 * INIT and SIPI, as the local APIC posted them.  INIT puts the vCPU into
 * the INIT state: the BSP runs again from the reset vector, an AP waits
 * for a SIPI, which starts it in real mode at vector << 12.
 */
static void shv_vcpu_events(struct shv_vcpu *vcpu)
{
	struct shv_sregs s;

	if (test_and_clear_bit(SHV_EVENT_INIT, &vcpu->events)) {
		u64 apic_base = vcpu->apic_base;

		shv_arch->vcpu_reset(vcpu);
		shv_vcpu_reset_regs(vcpu);
		vcpu->apic_base = apic_base;
		shv_lapic_reset(vcpu, true);
		vcpu->nmi_pending = false;
		vcpu->nmi_masked = false;
		if (vcpu->vm->mmu_ops->shadow) {
			vcpu->vm->mmu_ops->reset(vcpu);
			set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
		}
		WRITE_ONCE(vcpu->mp_state, vcpu->id ? SHV_MP_WAIT_SIPI :
						      SHV_MP_RUNNABLE);
	}
	if (test_and_clear_bit(SHV_EVENT_SIPI, &vcpu->events) &&
	    vcpu->mp_state == SHV_MP_WAIT_SIPI) {
		shv_arch->get_sregs(vcpu, &s);
		s.cs.selector = vcpu->sipi_vector << 8;
		s.cs.base = (u64)vcpu->sipi_vector << 12;
		shv_arch->set_sregs(vcpu, &s);
		vcpu->rip = 0;
		WRITE_ONCE(vcpu->mp_state, SHV_MP_RUNNABLE);
	}
}

/* something for a halted or waiting vCPU to do */
static bool shv_vcpu_wakeup(struct shv_vcpu *vcpu)
{
	if (signal_pending(current) || READ_ONCE(vcpu->events))
		return true;
	if (READ_ONCE(vcpu->mp_state) == SHV_MP_WAIT_SIPI)
		return false;
	if (READ_ONCE(vcpu->nmi_pending))
		return true;
	return (vcpu->rflags & SHV_RFLAGS_IF) && shv_lapic_pending(vcpu) >= 0;
}

/*
 * Halt polling: a halted vCPU spins for a while before it sleeps, so that
 * a wakeup that comes soon (the answer to an IPI it sent, a near timer)
 * costs neither a sleep nor the wakeup of an idle CPU.  The window is
 * per vCPU and adapts to how long its halts last: it doubles (from
 * 10 us, up to halt_poll_ns) after a halt shorter than halt_poll_ns that
 * outlasted it, and closes after a halt longer than halt_poll_ns, so a
 * vCPU that halts for long does not burn CPU time.  0 turns it off.
 */
static unsigned int halt_poll_ns = 200000;
module_param(halt_poll_ns, uint, 0644);
MODULE_PARM_DESC(halt_poll_ns, "most ns a halted vCPU spins before it sleeps");

#define HALT_POLL_START_NS	10000

static bool shv_vcpu_should_wake(struct shv_vcpu *vcpu)
{
	return shv_vcpu_wakeup(vcpu) || shv_hv_work_pending(vcpu);
}

static void shv_vcpu_adapt_poll(struct shv_vcpu *vcpu, u64 halted_ns)
{
	unsigned int max = READ_ONCE(halt_poll_ns);

	if (halted_ns <= vcpu->halt_poll_ns)
		return;				/* the window caught it */
	if (halted_ns > max)
		vcpu->halt_poll_ns = 0;		/* a long halt */
	else
		vcpu->halt_poll_ns = clamp_t(u64, 2ull * vcpu->halt_poll_ns,
					     HALT_POLL_START_NS, max);
}

/* sleep until an interrupt, NMI, INIT/SIPI or signal */
static void shv_vcpu_block(struct shv_vcpu *vcpu)
{
	bool halted = READ_ONCE(vcpu->mp_state) == SHV_MP_HALTED;
	u64 start = ktime_get_ns(), now = start;

	if (halted && vcpu->halt_poll_ns) {
		u64 stop = start + vcpu->halt_poll_ns;

		while (!shv_vcpu_should_wake(vcpu) && !need_resched() &&
		       now < stop) {
			cpu_relax();
			now = ktime_get_ns();
		}
	}
	wait_event_interruptible(vcpu->wq, shv_vcpu_should_wake(vcpu));
	if (halted)
		shv_vcpu_adapt_poll(vcpu, ktime_get_ns() - start);
	if (READ_ONCE(vcpu->mp_state) == SHV_MP_HALTED &&
	    !signal_pending(current) && shv_vcpu_wakeup(vcpu))
		WRITE_ONCE(vcpu->mp_state, SHV_MP_RUNNABLE);
}

/*
 * New work for a vCPU, from any context: wake it if it sleeps, or make it
 * leave the guest if it is in there.  Pairs with the barrier in
 * shv_enter_guest(): either the vCPU sees the new state before entry, or
 * it is in the guest and the IPI makes it exit.
 */
void shv_vcpu_kick(struct shv_vcpu *vcpu)
{
	int cpu;

	/* order the caller's state change before reading vcpu->mode */
	smp_mb();
	wake_up_interruptible(&vcpu->wq);
	if (READ_ONCE(vcpu->mode) != SHV_IN_GUEST)
		return;
	/* entry writes the CPU first: this is that entry's or a later one's */
	smp_rmb();
	cpu = READ_ONCE(vcpu->cpu);
	if (cpu >= 0 && cpu != raw_smp_processor_id())
		smp_send_reschedule(cpu);
}

static int shv_vcpu_run(struct shv_vcpu *vcpu)
{
	struct shv_run *run = vcpu->run;
	unsigned int i;
	int r;

	for (i = 0; i < ARRAY_SIZE(run->padding1); i++)
		if (run->padding1[i])
			return -EINVAL;

	r = shv_complete_pending(vcpu);
	if (r <= 0)
		return r;

	for (;;) {
		if (signal_pending(current) ||
		    READ_ONCE(run->request_immediate_exit)) {
			run->exit_reason = SHV_EXIT_INTR;
			return -EINTR;
		}
		cond_resched();

		if (vcpu->lapic) {
			shv_vcpu_events(vcpu);
			shv_hv_vcpu_run(vcpu);
			if (READ_ONCE(vcpu->mp_state) != SHV_MP_RUNNABLE) {
				shv_vcpu_block(vcpu);
				continue;
			}
		}

		down_read(&vcpu->vm->slots_lock);
		if (test_and_clear_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests)) {
			r = vcpu->vm->mmu_ops->reload(vcpu);
			if (r) {
				set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
				up_read(&vcpu->vm->slots_lock);
				return r;
			}
		}
		r = 1;
		if (shv_enter_guest(vcpu)) {
			vcpu->stats.exits++;
			r = shv_arch->handle_exit(vcpu);
		}
		up_read(&vcpu->vm->slots_lock);
		if (r <= 0)
			return r;
	}
}

/*
 * SHV_GET_VCPU_STATS takes no lock, so that another thread may sample the
 * counters while the vCPU runs (as KVM's binary statistics may be read):
 * each counter is read whole, the set need not be one instant's.
 */
static long shv_vcpu_get_stats(struct shv_vcpu *vcpu, void __user *argp)
{
	const u64 *from = (const u64 *)&vcpu->stats;
	struct shv_vcpu_stats s;
	u64 *to = (u64 *)&s;
	unsigned int i;

	BUILD_BUG_ON(sizeof(s) % sizeof(u64));
	for (i = 0; i < sizeof(s) / sizeof(u64); i++)
		to[i] = READ_ONCE(from[i]);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long shv_vcpu_ioctl(struct file *filp, unsigned int ioctl,
			   unsigned long arg)
{
	struct shv_vcpu *vcpu = filp->private_data;
	void __user *argp = (void __user *)arg;
	long r;

	if (vcpu->vm->mm != current->mm)
		return -EIO;
	if (ioctl == SHV_GET_VCPU_STATS)
		return shv_vcpu_get_stats(vcpu, argp);
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;

	switch (ioctl) {
	case SHV_RUN:
		r = arg ? -EINVAL : shv_vcpu_run(vcpu);
		break;
	case SHV_GET_REGS: {
		struct shv_regs regs;

		shv_get_regs(vcpu, &regs);
		r = copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
		break;
	}
	case SHV_SET_REGS: {
		struct shv_regs regs;

		r = -EFAULT;
		if (copy_from_user(&regs, argp, sizeof(regs)))
			break;
		r = shv_check_regs(vcpu, &regs);
		if (!r) {
			shv_set_regs(vcpu, &regs);
			/* the runner took over: drop an unfinished exit */
			vcpu->pending = SHV_PENDING_NONE;
		}
		break;
	}
	case SHV_GET_SREGS: {
		struct shv_sregs sregs;

		shv_arch->get_sregs(vcpu, &sregs);
		r = copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
		break;
	}
	case SHV_SET_SREGS: {
		struct shv_sregs sregs;

		r = -EFAULT;
		if (copy_from_user(&sregs, argp, sizeof(sregs)))
			break;
		r = shv_check_sregs(vcpu, &sregs);
		if (r)
			break;
		/* RIP must stay canonical in the new mode */
		if (shv_cpu_mode(&sregs, vcpu->rflags) == 64 &&
		    !shv_is_canonical(vcpu->rip, sregs.cr4 & X86_CR4_LA57)) {
			r = -EINVAL;
			break;
		}
		/* shadow paging reads PAE PDPTEs when the CPU would */
		if (vcpu->vm->mmu_ops->shadow &&
		    (sregs.cr0 & X86_CR0_PG) && (sregs.cr4 & X86_CR4_PAE) &&
		    !(sregs.efer & EFER_LMA) &&
		    shv_load_pdptrs(vcpu, sregs.cr3)) {
			r = -EINVAL;
			break;
		}
		shv_arch->set_sregs(vcpu, &sregs);
		if (vcpu->lapic)
			shv_lapic_set_base(vcpu, sregs.apic_base, true);
		else
			vcpu->apic_base = sregs.apic_base;
		vcpu->pending = SHV_PENDING_NONE;
		shv_lapic_set_cr8(vcpu, sregs.cr8);
		set_bit(SHV_REQ_TLB_FLUSH, &vcpu->requests);
		if (vcpu->vm->mmu_ops->shadow) {
			vcpu->vm->mmu_ops->reset(vcpu);
			set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
		}
		break;
	}
	case SHV_MMU_VERIFY:
		r = -EINVAL;
		if (!arg)
			r = vcpu->vm->mmu_ops->verify ?
			    vcpu->vm->mmu_ops->verify(vcpu) : 0;
		break;
	case SHV_GET_MSRS:
		r = shv_msrs_ioctl(vcpu, argp, false);
		break;
	case SHV_SET_MSRS:
		r = shv_msrs_ioctl(vcpu, argp, true);
		break;
	case SHV_SET_CPUID:
		r = shv_set_cpuid(vcpu, argp);
		break;
	default:
		r = -ENOTTY;
	}
	mutex_unlock(&vcpu->mutex);
	return r;
}

static vm_fault_t shv_vcpu_fault(struct vm_fault *vmf)
{
	struct shv_vcpu *vcpu = vmf->vma->vm_file->private_data;

	if (vmf->pgoff >= SHV_RUN_PAGES)
		return VM_FAULT_SIGBUS;
	vmf->page = vcpu->run_pages[vmf->pgoff];
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct shv_vcpu_vm_ops = {
	.fault = shv_vcpu_fault,
};

static int shv_vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff + vma_pages(vma) > SHV_RUN_PAGES ||
	    vma->vm_pgoff + vma_pages(vma) < vma->vm_pgoff)
		return -EINVAL;
	vma->vm_ops = &shv_vcpu_vm_ops;
	return 0;
}

static int shv_vcpu_release(struct inode *inode, struct file *filp)
{
	struct shv_vcpu *vcpu = filp->private_data;

	shv_vm_put(vcpu->vm);
	return 0;
}

static const struct file_operations shv_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= shv_vcpu_release,
	.unlocked_ioctl	= shv_vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= shv_vcpu_mmap,
	.llseek		= noop_llseek,
};

void shv_vcpu_free(struct shv_vcpu *vcpu)
{
	unsigned int i;

	if (vcpu->vm->mmu_ops->vcpu_destroy)
		vcpu->vm->mmu_ops->vcpu_destroy(vcpu);
	shv_hv_vcpu_free(vcpu);
	shv_lapic_free(vcpu);
	shv_arch->vcpu_free(vcpu);
	for (i = 0; i < SHV_RUN_PAGES; i++)
		if (vcpu->run_pages[i])
			__free_page(vcpu->run_pages[i]);
	kfree(vcpu->cpuid);
	kfree(vcpu);
}

int shv_vcpu_create(struct shv_vm *vm, unsigned long id)
{
	struct shv_vcpu *vcpu;
	struct shv_exit_ring *ring;
	unsigned int i;
	int r, fd;

	if (id >= SHV_MAX_VCPUS)
		return -EINVAL;

	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->cpu = -1;
	mutex_init(&vcpu->mutex);
	init_waitqueue_head(&vcpu->wq);
	for (i = 0; i < SHV_RUN_PAGES; i++) {
		vcpu->run_pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!vcpu->run_pages[i]) {
			r = -ENOMEM;
			goto err_free;
		}
	}
	BUILD_BUG_ON(sizeof(struct shv_run) > SHV_RUN_PIO_DATA_OFFSET ||
		     SHV_RUN_PIO_DATA_OFFSET + SHV_RUN_PIO_DATA_SIZE > PAGE_SIZE);
	vcpu->run = page_address(vcpu->run_pages[0]);
	vcpu->run->ring_offset = PAGE_SIZE;
	ring = page_address(vcpu->run_pages[1]);
	ring->nr_entries = (PAGE_SIZE - sizeof(*ring)) /
			   sizeof(struct shv_ring_entry);

	shv_vcpu_reset_regs(vcpu);
	shv_msr_vcpu_init(vcpu);
	/* shadow paging picks its first root before the first entry */
	if (vm->mmu_ops->shadow)
		set_bit(SHV_REQ_MMU_RELOAD, &vcpu->requests);
	r = shv_arch->vcpu_create(vcpu);
	if (r)
		goto err_free;

	mutex_lock(&vm->lock);
	if (vm->vcpus[id]) {
		r = -EEXIST;
		goto err_unlock;
	}
	if (vm->irqchip) {
		r = shv_lapic_create(vcpu);
		if (!r)
			r = shv_hv_vcpu_create(vcpu);
		if (r)
			goto err_unlock;
		/* application processors wait for INIT-SIPI-SIPI */
		vcpu->mp_state = id ? SHV_MP_WAIT_SIPI : SHV_MP_RUNNABLE;
	}
	refcount_inc(&vm->users);
	fd = anon_inode_getfd("shv-vcpu", &shv_vcpu_fops, vcpu,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		refcount_dec(&vm->users);
		r = fd;
		goto err_unlock;
	}
	WRITE_ONCE(vm->vcpus[id], vcpu);
	vm->nr_vcpus++;
	mutex_unlock(&vm->lock);
	return fd;

err_unlock:
	mutex_unlock(&vm->lock);
	shv_hv_vcpu_free(vcpu);
	shv_lapic_free(vcpu);
	shv_arch->vcpu_free(vcpu);
	vcpu->arch = NULL;
err_free:
	for (i = 0; i < SHV_RUN_PAGES; i++)
		if (vcpu->run_pages[i])
			__free_page(vcpu->run_pages[i]);
	kfree(vcpu);
	return r;
}
