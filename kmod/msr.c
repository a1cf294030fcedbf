// SPDX-License-Identifier: GPL-2.0
/*
 * Model-specific registers.  A guest RDMSR/WRMSR exits (on SVM always:
 * the MSR permission map is all ones; on VMX unless the MSR bitmap lets
 * the guest reach an MSR the VMCS switches, see Documentation/vmx.rst);
 * the MSRs shv implements are handled here or by the vendor backend where
 * its guest state holds them, and everything else raises #GP in the
 * guest, as on a processor without that MSR.  The runner reaches the same
 * MSRs through SHV_GET_MSRS / SHV_SET_MSRS.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/msr-index.h>
#include <asm/hyperv-tlfs.h>
#include <asm/apicdef.h>

#include "shv.h"
#include "arch.h"
#include "irq.h"
#include "hyperv.h"

#define SHV_APIC_BASE_BSP	BIT_ULL(8)
#define SHV_APIC_BASE_ENABLE	BIT_ULL(11)
#define SHV_APIC_BASE_EXTD	BIT_ULL(10)

/*
 * Identification and configuration MSRs that every processor of the
 * host's vendor has, and that kernels (Linux among them) read without a
 * fault handler: the microcode revision (0 written, then read, around a
 * CPUID), Intel's IA32_MISC_ENABLE, IA32_PLATFORM_ID and
 * IA32_FEATURE_CONTROL (locked, VMX off: no nested virtualization), and
 * AMD's interrupt-pending-message register of the K8 C1E logic.  Values
 * are what a processor without the optional features shows.
 */
#define SHV_UCODE_REV_INTEL	0x100000000ULL
#define SHV_MISC_ENABLE_RO	(MSR_IA32_MISC_ENABLE_BTS_UNAVAIL | \
				 MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL)
#define SHV_MISC_ENABLE_DEFAULT	(SHV_MISC_ENABLE_RO | \
				 MSR_IA32_MISC_ENABLE_FAST_STRING)

static bool shv_host_intel(void)
{
	return boot_cpu_data.x86_vendor == X86_VENDOR_INTEL;
}

static bool shv_host_amd(void)
{
	return boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	       boot_cpu_data.x86_vendor == X86_VENDOR_HYGON;
}

void shv_msr_vcpu_init(struct shv_vcpu *vcpu)
{
	vcpu->misc_enable = SHV_MISC_ENABLE_DEFAULT;
}

static int shv_get_ident_msr(struct shv_vcpu *vcpu, u32 index, u64 *data)
{
	switch (index) {
	case MSR_IA32_UCODE_REV:
		*data = shv_host_intel() ? SHV_UCODE_REV_INTEL : 0;
		return 0;
	case MSR_IA32_PLATFORM_ID:
		if (!shv_host_intel())
			break;
		*data = 0;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		if (!shv_host_intel())
			break;
		*data = vcpu->misc_enable;
		return 0;
	case MSR_IA32_FEAT_CTL:
		if (!shv_host_intel())
			break;
		*data = FEAT_CTL_LOCKED;
		return 0;
	case MSR_K8_INT_PENDING_MSG:
		if (!shv_host_amd())
			break;
		*data = 0;
		return 0;
	}
	return -ENOENT;
}

static int shv_set_ident_msr(struct shv_vcpu *vcpu, u32 index, u64 data,
			     bool host)
{
	switch (index) {
	case MSR_IA32_UCODE_REV:
		/* Intel: a write of 0 precedes CPUID; no update loads */
		return shv_host_intel() ? 0 : -EINVAL;
	case MSR_IA32_MISC_ENABLE:
		if (!shv_host_intel())
			break;
		/* fast strings may be toggled; no XD disable, no CPUID limit */
		if (data & ~SHV_MISC_ENABLE_DEFAULT)
			return -EINVAL;
		if (!host && (data ^ vcpu->misc_enable) & SHV_MISC_ENABLE_RO)
			return -EINVAL;
		vcpu->misc_enable = data;
		return 0;
	case MSR_IA32_FEAT_CTL:
		if (!shv_host_intel())
			break;
		/* locked: writes fault, as on hardware */
		return -EINVAL;
	case MSR_K8_INT_PENDING_MSG:
		if (!shv_host_amd())
			break;
		return 0;
	}
	return -ENOENT;
}

/* the guest's accesses of interrupt-controller MSRs, for the vCPU stats */
static void shv_msr_count(struct shv_vcpu *vcpu, u32 index)
{
	switch (index) {
	case APIC_BASE_MSR + (APIC_TASKPRI >> 4):
	case HV_X64_MSR_TPR:
		vcpu->stats.tpr_exits++;
		break;
	case APIC_BASE_MSR + (APIC_EOI >> 4):
	case HV_X64_MSR_EOI:
	case SHV_MSR_SEOI:
		vcpu->stats.eoi_exits++;
		break;
	}
}

int shv_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	int r;

	if (!host)
		shv_msr_count(vcpu, index);
	r = shv_arch->get_msr(vcpu, index, data);

	if (r != -ENOENT)
		return r;
	r = shv_lapic_get_msr(vcpu, index, data);
	if (r != -ENOENT)
		return r;
	r = shv_hv_get_msr(vcpu, index, data, host);
	if (r != -ENOENT)
		return r;
	r = shv_get_ident_msr(vcpu, index, data);
	if (r != -ENOENT)
		return r;

	switch (index) {
	case MSR_IA32_APICBASE:
		*data = vcpu->apic_base;
		return 0;
	default:
		return -EINVAL;
	}
}

static bool shv_pat_valid(u64 pat)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		u8 t = pat >> (8 * i);

		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return false;
	}
	return true;
}

/* what every backend's MSRs must satisfy before they are stored */
static int shv_msr_check(u32 index, u64 data)
{
	switch (index) {
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		return (s64)(data << 16) >> 16 == (s64)data ? 0 : -EINVAL;
	case MSR_IA32_CR_PAT:
		return shv_pat_valid(data) ? 0 : -EINVAL;
	case MSR_IA32_DEBUGCTLMSR:
		return data ? -EINVAL : 0;	/* no debug-store features */
	default:
		return 0;
	}
}

int shv_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data, bool host)
{
	int r;

	if (!host)
		shv_msr_count(vcpu, index);
	r = shv_msr_check(index, data);
	if (r)
		return r;
	r = shv_arch->set_msr(vcpu, index, data);

	if (r != -ENOENT)
		return r;
	r = shv_lapic_set_msr(vcpu, index, data);
	if (r != -ENOENT)
		return r;
	r = shv_hv_set_msr(vcpu, index, data, host);
	if (r != -ENOENT)
		return r;
	r = shv_set_ident_msr(vcpu, index, data, host);
	if (r != -ENOENT)
		return r;

	switch (index) {
	case SHV_MSR_SEOI:
		if (!vcpu->lapic || data > 0xff)
			return -EINVAL;
		shv_lapic_eoi_vector(vcpu, data);
		return 0;
	case MSR_IA32_APICBASE: {
		u64 rsvd = ~(SHV_APIC_BASE_BSP | SHV_APIC_BASE_ENABLE |
			     SHV_APIC_BASE_EXTD |
			     GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 12));

		if (data & rsvd)
			return -EINVAL;
		/* the BSP flag is read-only for the guest */
		if (!host)
			data = (data & ~SHV_APIC_BASE_BSP) |
			       (vcpu->apic_base & SHV_APIC_BASE_BSP);
		/* x2APIC mode exists only with the in-kernel APIC */
		if ((data & SHV_APIC_BASE_EXTD) && !vcpu->lapic)
			return -EINVAL;
		if (vcpu->lapic)
			return shv_lapic_set_base(vcpu, data, host);
		vcpu->apic_base = data;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

long shv_msrs_ioctl(struct shv_vcpu *vcpu, struct shv_msrs __user *arg,
		    bool set)
{
	struct shv_msr_entry *e;
	struct shv_msrs hdr;
	unsigned int i;
	long r;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.pad)
		return -EINVAL;
	if (hdr.nmsrs > SHV_MAX_MSR_ENTRIES)
		return -E2BIG;
	if (!hdr.nmsrs)
		return 0;

	e = memdup_user(arg->entries, hdr.nmsrs * sizeof(*e));
	if (IS_ERR(e))
		return PTR_ERR(e);
	for (i = 0; i < hdr.nmsrs; i++) {
		if (e[i].reserved) {
			r = -EINVAL;
			goto out;
		}
	}
	/* process in order, stopping at the first MSR that fails */
	for (i = 0; i < hdr.nmsrs; i++) {
		if (set ? shv_set_msr(vcpu, e[i].index, e[i].data, true) :
			  shv_get_msr(vcpu, e[i].index, &e[i].data, true))
			break;
	}
	r = i;
	if (!set && copy_to_user(arg->entries, e, i * sizeof(*e)))
		r = -EFAULT;
out:
	kfree(e);
	return r;
}
