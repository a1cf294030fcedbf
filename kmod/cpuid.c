// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID: the guest sees either the table the runner set with SHV_SET_CPUID
 * or a filtered view of the host: features shv does not virtualize are
 * hidden, the hypervisor bit is set and leaf 0x40000000 names shv.  The
 * per-vCPU fields (APIC ID, OSXSAVE) are filled in on every execution.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/processor.h>
#include <asm/processor-flags.h>

#include "shv.h"
#include "arch.h"
#include "hyperv.h"

#define SHV_CPUID_SIGNATURE	0x40000000u

/* leaf 1 ECX: features that are virtualized or harmless to expose */
#define L1_ECX_KEEP	(BIT(0) | BIT(1) | BIT(9) | BIT(13) | \
			 BIT(19) | BIT(20) | BIT(22) | BIT(23) | BIT(25) | \
			 BIT(30))
/* leaf 1 EDX: no APIC, MTRR, MCE/MCA, ACPI thermal, PBE */
#define L1_EDX_KEEP	(BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | \
			 BIT(5) | BIT(6) | BIT(8) | BIT(11) | BIT(13) | \
			 BIT(15) | BIT(16) | BIT(17) | BIT(19) | BIT(23) | \
			 BIT(24) | BIT(25) | BIT(26) | BIT(28))
/* 0x80000001 ECX: LAHF, ABM, SSE4A, misaligned SSE, 3DNow prefetch */
#define X1_ECX_KEEP	(BIT(0) | BIT(5) | BIT(6) | BIT(7) | BIT(8))
/* 0x80000001 EDX: leaf-1 bits plus SYSCALL, NX, MMXEXT, 1G pages, LM */
#define X1_EDX_KEEP	(L1_EDX_KEEP | BIT(11) | BIT(20) | BIT(22) | \
			 BIT(26) | BIT(29))
/* leaf 7 EBX: FSGSBASE, BMI1, SMEP, BMI2, ERMS, ADX, SMAP, CLFLUSHOPT */
#define L7_EBX_KEEP	(BIT(0) | BIT(3) | BIT(7) | BIT(8) | BIT(9) | \
			 BIT(19) | BIT(20) | BIT(23))

static void shv_host_cpuid(u32 fn, u32 idx, u32 *a, u32 *b, u32 *c, u32 *d)
{
	*a = fn;
	*c = idx;
	cpuid_count(fn, idx, a, b, c, d);
}

static void shv_default_cpuid(struct shv_vcpu *vcpu, u32 fn, u32 idx,
			      u32 *a, u32 *b, u32 *c, u32 *d)
{
	u32 max_basic, max_ext, t;

	shv_host_cpuid(0, 0, &max_basic, &t, &t, &t);
	shv_host_cpuid(0x80000000, 0, &max_ext, &t, &t, &t);
	max_basic = min(max_basic, 7u);
	max_ext = min(max_ext, 0x80000008u);

	*a = *b = *c = *d = 0;
	if (shv_hv_cpuid(vcpu, fn, a, b, c, d))
		return;
	if (fn >= SHV_CPUID_SIGNATURE && fn < SHV_CPUID_SIGNATURE + 0x100) {
		if (fn == SHV_CPUID_FEATURES && vcpu->lapic)
			*a = SHV_FEAT_SEOI;
		if (fn == SHV_CPUID_SIGNATURE) {
			*a = SHV_CPUID_FEATURES;
			memcpy(b, "ShvS", 4);
			memcpy(c, "hvSh", 4);
			memcpy(d, "vShv", 4);
		}
		return;
	}
	if ((fn < 0x80000000 && fn > max_basic) ||
	    (fn >= 0x80000000 && fn > max_ext))
		return;

	switch (fn) {
	case 0:
		shv_host_cpuid(0, 0, a, b, c, d);
		*a = max_basic;
		break;
	case 1:
		shv_host_cpuid(1, 0, a, b, c, d);
		*b &= 0xffff;		/* APIC ID and count filled in below */
		*c = (*c & L1_ECX_KEEP) | BIT(31);
		/* PCID: the shadow MMU tags its roots with them itself */
		if (shv_pcid_offered(vcpu->vm))
			*c |= BIT(17);
		*d &= L1_EDX_KEEP;
		break;
	case 7:
		if (idx == 0) {
			shv_host_cpuid(7, 0, a, b, c, d);
			*a = 0;
			*b &= L7_EBX_KEEP;
			*c = 0;
			*d = 0;
		}
		break;
	case 0x80000000:
		shv_host_cpuid(fn, 0, a, b, c, d);
		*a = max_ext;
		break;
	case 0x80000001:
		shv_host_cpuid(fn, 0, a, b, c, d);
		*c &= X1_ECX_KEEP;
		*d &= X1_EDX_KEEP;
		break;
	case 0x80000002 ... 0x80000006:
		shv_host_cpuid(fn, 0, a, b, c, d);
		break;
	case 0x80000008:
		shv_host_cpuid(fn, 0, a, b, c, d);
		*a &= 0xffff;		/* physical and linear address widths */
		*b = 0;
		*c = 0;
		break;
	default:
		break;
	}
}

static const struct shv_cpuid_entry *shv_find_cpuid(struct shv_vcpu *vcpu,
						    u32 fn, u32 idx)
{
	unsigned int i;

	for (i = 0; i < vcpu->cpuid_nent; i++) {
		const struct shv_cpuid_entry *e = &vcpu->cpuid[i];

		if (e->function == fn &&
		    (!(e->flags & SHV_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     e->index == idx))
			return e;
	}
	return NULL;
}

/* the guest's CPUID leaf, before the per-vCPU fields */
static void shv_guest_cpuid(struct shv_vcpu *vcpu, u32 fn, u32 idx, u32 *a,
			    u32 *b, u32 *c, u32 *d)
{
	if (vcpu->cpuid) {
		const struct shv_cpuid_entry *e = shv_find_cpuid(vcpu, fn, idx);

		*a = e ? e->eax : 0;
		*b = e ? e->ebx : 0;
		*c = e ? e->ecx : 0;
		*d = e ? e->edx : 0;
	} else {
		shv_default_cpuid(vcpu, fn, idx, a, b, c, d);
	}
}

/* does the guest's CPUID leaf fn have bit in register reg (0=EAX..3=EDX)? */
bool shv_guest_has(struct shv_vcpu *vcpu, u32 fn, int reg, int bit)
{
	u32 r[4];

	shv_guest_cpuid(vcpu, fn, 0, &r[0], &r[1], &r[2], &r[3]);
	return r[reg & 3] & BIT(bit);
}

void shv_emulate_cpuid(struct shv_vcpu *vcpu)
{
	u32 fn = vcpu->regs[SHV_RAX], idx = vcpu->regs[SHV_RCX];
	u32 a, b, c, d;

	shv_guest_cpuid(vcpu, fn, idx, &a, &b, &c, &d);

	if (fn == 1) {
		struct shv_sregs sregs;

		/* initial APIC ID and OSXSAVE reflect this vCPU */
		b = (b & 0x00ffffff) | (vcpu->id << 24);
		/* the in-kernel APIC: xAPIC, x2APIC and the TSC deadline */
		if (!vcpu->cpuid && vcpu->lapic) {
			d |= BIT(9);
			c |= BIT(21) | BIT(24);
		}
		shv_arch->get_sregs(vcpu, &sregs);
		c &= ~BIT(27);
		if (sregs.cr4 & X86_CR4_OSXSAVE)
			c |= BIT(27);
	}
	vcpu->regs[SHV_RAX] = a;
	vcpu->regs[SHV_RBX] = b;
	vcpu->regs[SHV_RCX] = c;
	vcpu->regs[SHV_RDX] = d;
}

int shv_set_cpuid(struct shv_vcpu *vcpu, struct shv_cpuid __user *arg)
{
	struct shv_cpuid_entry *e;
	struct shv_cpuid hdr;
	unsigned int i;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.padding)
		return -EINVAL;
	if (hdr.nent > SHV_MAX_CPUID_ENTRIES)
		return -E2BIG;

	e = NULL;
	if (hdr.nent) {
		e = memdup_user(arg->entries, hdr.nent * sizeof(*e));
		if (IS_ERR(e))
			return PTR_ERR(e);
	}
	for (i = 0; i < hdr.nent; i++) {
		if ((e[i].flags & ~SHV_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		    e[i].padding[0] || e[i].padding[1] || e[i].padding[2]) {
			kfree(e);
			return -EINVAL;
		}
	}
	/* nent 0 returns to the default, filtered host view */
	kfree(vcpu->cpuid);
	vcpu->cpuid = e;
	vcpu->cpuid_nent = hdr.nent;
	return 0;
}
