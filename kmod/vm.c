// SPDX-License-Identifier: GPL-2.0
/*
 * The VM file descriptor: memory slots, vCPU creation, guest-physical
 * memory access for the emulator, and VM lifetime.
 */
#include <linux/anon_inodes.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/smp.h>
#include <linux/moduleparam.h>
#include <linux/string.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "irq.h"
#include "hyperv.h"

static void shv_vm_destroy(struct shv_vm *vm)
{
	unsigned int i;

	for (i = 0; i < SHV_MAX_VCPUS; i++)
		if (vm->vcpus[i])
			shv_vcpu_free(vm->vcpus[i]);
	shv_disks_destroy(vm);
	shv_hv_vm_destroy(vm);
	shv_irqchip_destroy(vm);
	vm->mmu_ops->vm_destroy(vm);
	shv_arch->vm_destroy(vm);
	mmdrop(vm->mm);
	kfree(vm);
	shv_hw_put();
}

void shv_vm_put(struct shv_vm *vm)
{
	if (refcount_dec_and_test(&vm->users))
		shv_vm_destroy(vm);
}

struct shv_memslot *shv_gfn_to_slot(struct shv_vm *vm, u64 gfn)
{
	unsigned int i;

	for (i = 0; i < SHV_MAX_MEMSLOTS; i++) {
		struct shv_memslot *s = &vm->slots[i];

		if (s->used && gfn >= s->base_gfn &&
		    gfn - s->base_gfn < s->npages)
			return s;
	}
	return NULL;
}

/*
 * Copy to or from guest-physical memory through the runner's mapping.  The
 * caller runs in the VM owner's context (every ioctl checks that).
 * Returns -EFAULT where no RAM backs the range.
 */
static int shv_guest_phys_rw(struct shv_vm *vm, u64 gpa, void *buf,
			     unsigned int len, bool write)
{
	while (len) {
		unsigned int off = offset_in_page(gpa);
		unsigned int n = min_t(unsigned int, len, PAGE_SIZE - off);
		struct shv_memslot *s = shv_gfn_to_slot(vm, gpa >> PAGE_SHIFT);
		void __user *hva;
		unsigned long left;

		if (!s || (write && (s->flags & SHV_MEM_READONLY)))
			return -EFAULT;
		hva = (void __user *)(s->userspace_addr +
			((gpa >> PAGE_SHIFT) - s->base_gfn) * PAGE_SIZE + off);
		if (write)
			left = copy_to_user(hva, buf, n);
		else
			left = copy_from_user(buf, hva, n);
		if (left)
			return -EFAULT;
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int shv_read_guest_phys(struct shv_vm *vm, u64 gpa, void *buf,
			unsigned int len)
{
	return shv_guest_phys_rw(vm, gpa, buf, len, false);
}

int shv_write_guest_phys(struct shv_vm *vm, u64 gpa, const void *buf,
			 unsigned int len)
{
	return shv_guest_phys_rw(vm, gpa, (void *)buf, len, true);
}

/*
 * Post a request to every vCPU and wait until none of them can still be
 * running in the guest without having seen it: a vCPU that was in the
 * guest is kicked out and waited for until that entry ended (its next
 * entry checks the request first).  The callers rely on the wait: the
 * shadow MMU frees zapped tables and takes write access to guest page
 * tables away only once no vCPU can use the old translations any more.
 *
 * The kick is a plain reschedule IPI, not a function call waited on with
 * smp_call_function_single(): what ends the entry is the VM exit that the
 * interrupt forces, and the wait watches the entry itself, so it also ends
 * when the vCPU left the guest for any other reason.  The caller waits in
 * a sleepable context with preemption on, not inside the IPI machinery.
 */
void shv_vm_request_all(struct shv_vm *vm, int req)
{
	unsigned int i;

	might_sleep();
	for (i = 0; i < SHV_MAX_VCPUS; i++) {
		struct shv_vcpu *vcpu = READ_ONCE(vm->vcpus[i]);
		unsigned long seq;
		int cpu;

		if (!vcpu)
			continue;
		set_bit(req, &vcpu->requests);
		/* pairs with the barrier in shv_enter_guest() */
		smp_mb__after_atomic();
		seq = READ_ONCE(vcpu->guest_seq);
		if (!(seq & 1))
			continue;	/* its next entry sees the request */
		/* the CPU of this entry or of a later one: read it after */
		smp_rmb();
		cpu = READ_ONCE(vcpu->cpu);
		if (cpu != raw_smp_processor_id())
			smp_send_reschedule(cpu);
		while (READ_ONCE(vcpu->guest_seq) == seq) {
			cpu_relax();
			cond_resched();
		}
	}
	/* order what the vCPUs did in the guest before what follows */
	smp_mb();
}

static bool shv_slots_overlap(struct shv_vm *vm, unsigned int skip,
			      u64 gfn, u64 npages)
{
	unsigned int i;

	for (i = 0; i < SHV_MAX_MEMSLOTS; i++) {
		struct shv_memslot *s = &vm->slots[i];

		if (i == skip || !s->used)
			continue;
		if (gfn < s->base_gfn + s->npages && s->base_gfn < gfn + npages)
			return true;
	}
	return false;
}

static int shv_set_memory_region(struct shv_vm *vm,
				 struct shv_userspace_memory_region *mr)
{
	struct shv_memslot *s;
	u64 gfn, npages;
	int r = 0;

	if (mr->slot >= SHV_MAX_MEMSLOTS || (mr->flags & ~SHV_MEM_READONLY))
		return -EINVAL;
	if (!PAGE_ALIGNED(mr->guest_phys_addr) ||
	    !PAGE_ALIGNED(mr->memory_size) ||
	    !PAGE_ALIGNED(mr->userspace_addr))
		return -EINVAL;
	if (mr->memory_size) {
		if (mr->guest_phys_addr + mr->memory_size < mr->guest_phys_addr ||
		    mr->guest_phys_addr + mr->memory_size >
		    (1ull << SHV_MAX_PHYS_BITS))
			return -EINVAL;
		if (mr->userspace_addr + mr->memory_size < mr->userspace_addr ||
		    !access_ok((void __user *)(unsigned long)mr->userspace_addr,
			       mr->memory_size))
			return -EINVAL;
	}

	gfn = mr->guest_phys_addr >> PAGE_SHIFT;
	npages = mr->memory_size >> PAGE_SHIFT;

	mutex_lock(&vm->lock);
	s = &vm->slots[mr->slot];
	if (!npages) {
		if (!s->used) {
			r = -EINVAL;
			goto out;
		}
		down_write(&vm->slots_lock);
		s->used = false;
		up_write(&vm->slots_lock);
		/* no vCPU can map the range again: drop what is mapped */
		vm->mmu_ops->zap_range(vm, s->base_gfn, s->npages);
		shv_vm_request_all(vm, SHV_REQ_TLB_FLUSH);
		memset(s, 0, sizeof(*s));
		goto out;
	}
	if (s->used) {
		/* only the flags of a live slot may change: not supported */
		r = -EINVAL;
		goto out;
	}
	if (shv_slots_overlap(vm, mr->slot, gfn, npages)) {
		r = -EEXIST;
		goto out;
	}
	down_write(&vm->slots_lock);
	s->base_gfn = gfn;
	s->npages = npages;
	s->userspace_addr = mr->userspace_addr;
	s->flags = mr->flags;
	s->used = true;
	up_write(&vm->slots_lock);
	/* an MMIO range may have become RAM: forget cached translations */
	shv_vm_request_all(vm, SHV_REQ_TLB_FLUSH);
out:
	mutex_unlock(&vm->lock);
	return r;
}

static long shv_vm_ioctl(struct file *filp, unsigned int ioctl,
			 unsigned long arg)
{
	struct shv_vm *vm = filp->private_data;
	void __user *argp = (void __user *)arg;

	if (vm->mm != current->mm)
		return -EIO;

	switch (ioctl) {
	case SHV_CREATE_VCPU:
		return shv_vcpu_create(vm, arg);
	case SHV_CREATE_IRQCHIP:
		return arg ? -EINVAL : shv_irqchip_create(vm);
	case SHV_IRQ_LINE: {
		struct shv_irq_level l;

		if (copy_from_user(&l, argp, sizeof(l)))
			return -EFAULT;
		if (l.level > 1)
			return -EINVAL;
		return shv_irq_set_line(vm, l.irq, l.level);
	}
	case SHV_SIGNAL_MSI: {
		struct shv_msi m;
		int r;

		if (copy_from_user(&m, argp, sizeof(m)))
			return -EFAULT;
		if (m.flags || m.pad || memchr_inv(m.reserved, 0,
						   sizeof(m.reserved)))
			return -EINVAL;
		r = shv_irq_msi(vm, m.address, m.data);
		return r < 0 ? r : 0;
	}
	case SHV_ENABLE_HYPERV:
	case SHV_HV_SET_CONNECTION:
	case SHV_HV_RAISE_SINT:
	case SHV_HV_SIGNAL_EVENT:
	case SHV_HV_POST_MESSAGE:
		return shv_hv_vm_ioctl(vm, ioctl, arg);
	case SHV_DISK_ATTACH:
	case SHV_DISK_DETACH:
	case SHV_DISK_IO:
		return shv_disk_ioctl(vm, ioctl, arg);
	case SHV_FLUSH_GPA: {
		struct shv_gpa_range g;

		if (copy_from_user(&g, argp, sizeof(g)))
			return -EFAULT;
		if (g.flags || g.pad || !g.size || !PAGE_ALIGNED(g.gpa) ||
		    !PAGE_ALIGNED(g.size) || g.gpa + g.size < g.gpa ||
		    g.gpa + g.size > (1ull << SHV_MAX_PHYS_BITS))
			return -EINVAL;
		mutex_lock(&vm->lock);
		vm->mmu_ops->zap_range(vm, g.gpa >> PAGE_SHIFT,
				       g.size >> PAGE_SHIFT);
		shv_vm_request_all(vm, SHV_REQ_TLB_FLUSH);
		mutex_unlock(&vm->lock);
		return 0;
	}
	case SHV_GET_MMU_STATS: {
		struct shv_mmu_stats st = {};

		if (vm->mmu_ops->get_stats)
			vm->mmu_ops->get_stats(vm, &st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	}
	case SHV_SET_USER_MEMORY_REGION: {
		struct shv_userspace_memory_region mr;

		if (copy_from_user(&mr, argp, sizeof(mr)))
			return -EFAULT;
		return shv_set_memory_region(vm, &mr);
	}
	default:
		return -ENOTTY;
	}
}

static int shv_vm_release(struct inode *inode, struct file *filp)
{
	shv_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations shv_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= shv_vm_release,
	.unlocked_ioctl	= shv_vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/* the VM behind a VM fd, with a reference (shv_vm_put), or ERR_PTR */
struct shv_vm *shv_vm_get_by_fd(int fd)
{
	struct fd f = fdget(fd);
	struct shv_vm *vm;

	if (!f.file)
		return ERR_PTR(-EBADF);
	if (f.file->f_op != &shv_vm_fops) {
		fdput(f);
		return ERR_PTR(-EINVAL);
	}
	vm = f.file->private_data;
	refcount_inc(&vm->users);
	fdput(f);
	return vm;
}

static char *mmu = "shadow";
module_param(mmu, charp, 0444);
MODULE_PARM_DESC(mmu, "default MMU of new VMs: shadow or nested");

int shv_default_mmu(void)
{
	if (!strcmp(mmu, "nested") && shv_arch->nested_paging)
		return SHV_VM_MMU_NESTED;
	return SHV_VM_MMU_SHADOW;
}

static const struct shv_mmu_ops *shv_pick_mmu(unsigned long flags)
{
	unsigned long kind = flags & SHV_VM_MMU_MASK;

	if (kind == SHV_VM_MMU_DEFAULT)
		kind = shv_default_mmu();
	switch (kind) {
	case SHV_VM_MMU_NESTED:
		if (!shv_arch->nested_paging)
			return ERR_PTR(-EOPNOTSUPP);
		return &shv_npt_mmu_ops;
	case SHV_VM_MMU_SHADOW:
		return &shv_shadow_mmu_ops;
	default:
		return ERR_PTR(-EINVAL);
	}
}

int shv_vm_create(unsigned long flags)
{
	const struct shv_mmu_ops *mmu;
	struct shv_vm *vm;
	int r, fd;

	if (flags & ~(unsigned long)SHV_VM_MMU_MASK)
		return -EINVAL;
	mmu = shv_pick_mmu(flags);
	if (IS_ERR(mmu))
		return PTR_ERR(mmu);

	r = shv_hw_get();
	if (r)
		return r;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm) {
		r = -ENOMEM;
		goto err_hw;
	}
	refcount_set(&vm->users, 1);
	mutex_init(&vm->lock);
	init_rwsem(&vm->slots_lock);
	init_rwsem(&vm->disks_lock);
	vm->mmu_ops = mmu;
	vm->mm = current->mm;
	mmgrab(vm->mm);

	r = shv_arch->vm_init(vm);
	if (r)
		goto err_free;
	r = mmu->vm_init(vm);
	if (r)
		goto err_arch;

	fd = anon_inode_getfd("shv-vm", &shv_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = fd;
		goto err_mmu;
	}
	return fd;

err_mmu:
	mmu->vm_destroy(vm);
err_arch:
	shv_arch->vm_destroy(vm);
err_free:
	mmdrop(vm->mm);
	kfree(vm);
err_hw:
	shv_hw_put();
	return r;
}
