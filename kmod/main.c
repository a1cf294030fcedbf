// SPDX-License-Identifier: GPL-2.0
/*
 * shv: module entry, the /dev/shv misc device and its system ioctls, and
 * the reference count that keeps hardware virtualization enabled on every
 * online CPU while at least one VM exists.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/cpuhotplug.h>
#include <linux/mutex.h>
#include <asm/processor.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"

const struct shv_arch_ops *shv_arch;

static DEFINE_MUTEX(shv_hw_lock);
static unsigned int shv_hw_users;
static int shv_hp_state;

static int shv_cpu_online(unsigned int cpu)
{
	int r = shv_arch->cpu_enable();

	if (r)
		pr_err("cannot enable %s on CPU %u (%d)%s\n", shv_arch->name,
		       cpu, r, r == -EBUSY ?
		       ": another hypervisor owns it" : "");
	return r;
}

static int shv_cpu_offline(unsigned int cpu)
{
	shv_arch->cpu_disable();
	return 0;
}

/*
 * Turn virtualization on for every CPU (and on CPUs that come online later)
 * for the first VM; the last VM's destruction turns it off again, so shv
 * coexists with other hypervisors whenever it has no VMs.
 */
int shv_hw_get(void)
{
	int r = 0;

	mutex_lock(&shv_hw_lock);
	if (!shv_hw_users) {
		r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "shv:online",
				      shv_cpu_online, shv_cpu_offline);
		if (r < 0)
			goto out;
		shv_hp_state = r;
		r = 0;
	}
	shv_hw_users++;
out:
	mutex_unlock(&shv_hw_lock);
	return r;
}

void shv_hw_put(void)
{
	mutex_lock(&shv_hw_lock);
	if (!--shv_hw_users)
		cpuhp_remove_state(shv_hp_state);
	mutex_unlock(&shv_hw_lock);
}

static long shv_check_extension(unsigned long cap)
{
	switch (cap) {
	case SHV_CAP_NR_VCPUS:
		return SHV_MAX_VCPUS;
	case SHV_CAP_NR_MEMSLOTS:
		return SHV_MAX_MEMSLOTS;
	case SHV_CAP_READONLY_MEM:
		return 1;
	case SHV_CAP_NESTED_PAGING:
		return shv_arch->nested_paging;
	case SHV_CAP_SHADOW_PAGING:
		return 1;
	case SHV_CAP_VENDOR:
		return shv_arch->vendor;
	case SHV_CAP_ACCEL:
		return shv_arch->accel;
	case SHV_CAP_DEFAULT_MMU:
		return shv_default_mmu();
	case SHV_CAP_IRQCHIP:
	case SHV_CAP_HYPERV:
		return 1;
	case SHV_CAP_CRYPT:
		return SHV_CRYPT_MAX_DISKS;
	default:
		return 0;
	}
}

static long shv_dev_ioctl(struct file *filp, unsigned int ioctl,
			  unsigned long arg)
{
	switch (ioctl) {
	case SHV_GET_API_VERSION:
		return arg ? -EINVAL : SHV_API_VERSION;
	case SHV_CREATE_VM:
		return shv_vm_create(arg);
	case SHV_CHECK_EXTENSION:
		return shv_check_extension(arg);
	case SHV_GET_VCPU_MMAP_SIZE:
		return arg ? -EINVAL : SHV_RUN_PAGES * PAGE_SIZE;
	case SHV_CRYPT_LIST:
		return shv_crypt_list((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations shv_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= shv_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice shv_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "shv",
	.fops	= &shv_dev_fops,
	.mode	= 0660,
};

static int __init shv_init(void)
{
	int r;

	/* the backend follows the CPU vendor: SVM on AMD/Hygon, else VMX */
	if (boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	    boot_cpu_data.x86_vendor == X86_VENDOR_HYGON)
		shv_arch = shv_svm_probe();
	else
		shv_arch = shv_vmx_probe();
	if (IS_ERR(shv_arch)) {
		r = PTR_ERR(shv_arch);
		pr_err("no usable hardware virtualization (%d)\n", r);
		return r;
	}

	r = misc_register(&shv_dev);
	if (r) {
		shv_arch->hw_teardown();
		return r;
	}
	pr_info("%s backend ready; shadow paging%s; default MMU %s\n",
		shv_arch->name,
		shv_arch->nested_paging ? " and nested paging" : " only",
		shv_default_mmu() == SHV_VM_MMU_SHADOW ? "shadow" : "nested");
	return 0;
}

static void __exit shv_exit(void)
{
	misc_deregister(&shv_dev);
	shv_arch->hw_teardown();
}

module_init(shv_init);
module_exit(shv_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The shv developers");
MODULE_DESCRIPTION("shv: a shadow-paging hypervisor");
