// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the KVM backend (/dev/kvm), for comparison runs.  Registers
 * are converted between the shv structures and KVM's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel_kvm.h"

#define KVM_DEV			"/dev/kvm"
#define KVM_TSS_ADDR		0xfffbd000UL	/* below the BIOS ROM */
#define KVM_MAX_CPUID_NENT	1024

static int kvm_open(struct accel *a)
{
	int ret;

	a->sys_fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
	if (a->sys_fd < 0) {
		pr_errno("%s", KVM_DEV);
		return -1;
	}
	ret = ioctl(a->sys_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		if (ret < 0)
			pr_errno("KVM_GET_API_VERSION");
		else
			pr_err("%s: API version %d, expected %d", KVM_DEV,
			       ret, KVM_API_VERSION);
		goto err;
	}
	ret = ioctl(a->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret < 0) {
		pr_errno("KVM_GET_VCPU_MMAP_SIZE");
		goto err;
	}
	if ((size_t)ret < sizeof(struct kvm_run)) {
		pr_err("KVM_GET_VCPU_MMAP_SIZE: size %d is too small", ret);
		goto err;
	}
	a->vcpu_mmap_size = ret;
	a->priv = calloc(1, sizeof(struct kvm_priv));
	if (!a->priv) {
		pr_err("out of memory");
		goto err;
	}
	return 0;
err:
	close(a->sys_fd);
	a->sys_fd = -1;
	return -1;
}

static struct kvm_cpuid2 *kvm_supported_cpuid(struct accel *a)
{
	struct kvm_cpuid2 *c;
	unsigned int nent;

	for (nent = 64; nent <= KVM_MAX_CPUID_NENT; nent *= 2) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c) {
			pr_err("out of memory");
			return NULL;
		}
		c->nent = nent;
		if (!ioctl(a->sys_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		free(c);
		if (errno != E2BIG) {
			pr_errno("KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
	}
	pr_err("KVM_GET_SUPPORTED_CPUID: more than %d entries",
	       KVM_MAX_CPUID_NENT);
	return NULL;
}

static int kvm_create_vm(struct accel *a, unsigned int mmu)
{
	struct kvm_priv *p = a->priv;

	if (mmu) {
		pr_err("--mmu is only meaningful with --accel shv");
		return -1;
	}
	a->vm_fd = ioctl(a->sys_fd, KVM_CREATE_VM, 0);
	if (a->vm_fd < 0) {
		pr_errno("KVM_CREATE_VM");
		return -1;
	}
	/* Intel needs a TSS for real mode without unrestricted guest */
	if (ioctl(a->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		pr_debug("KVM_SET_TSS_ADDR failed (ignored): %s",
			 strerror(errno));
	p->cpuid = kvm_supported_cpuid(a);
	if (!p->cpuid)
		return -1;
	p->tsc_deadline = ioctl(a->sys_fd, KVM_CHECK_EXTENSION,
				KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	return 0;
}

static int kvm_max_vcpus(struct accel *a)
{
	int ret = ioctl(a->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (ret <= 0)
		ret = ioctl(a->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return ret > 0 ? ret : 1;
}

static int kvm_set_memslot(struct accel *a, u32 slot, u64 gpa, u64 size,
			   void *hva, bool readonly)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	if (readonly &&
	    ioctl(a->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		pr_err("kvm: read-only memory slots not supported");
		return -1;
	}
	if (ioctl(a->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		pr_errno("KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx",
			 slot, (unsigned long long)gpa,
			 (unsigned long long)size);
		return -1;
	}
	if (slot < KVM_MAX_SLOTS) {
		struct kvm_priv *p = a->priv;

		p->slots[slot].gpa = gpa;
		p->slots[slot].size = size;
		p->slots[slot].hva = hva;
	}
	return 0;
}

void *kvm_gpa_to_hva(struct accel *a, u64 gpa, u64 len)
{
	struct kvm_priv *p = a->priv;
	unsigned int i;

	for (i = 0; i < KVM_MAX_SLOTS; i++) {
		struct kvm_slot *s = &p->slots[i];

		if (s->size && gpa >= s->gpa && gpa - s->gpa <= s->size &&
		    len <= s->size - (gpa - s->gpa))
			return s->hva + (gpa - s->gpa);
	}
	return NULL;
}

/*
 * The vCPU's binary statistics: find the "exits" counter once; it is read
 * with pread() when asked, which takes no vCPU lock.  Without them
 * kvm_vcpu_exits() has nothing to say.
 */
static void kvm_open_stats(struct accel_vcpu *v)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	char *descs = NULL;
	size_t dsize, all;
	unsigned int i;
	int fd;

	if (ioctl(v->accel->sys_fd, KVM_CHECK_EXTENSION,
		  KVM_CAP_BINARY_STATS_FD) <= 0)
		return;
	fd = ioctl(v->fd, KVM_GET_STATS_FD, 0);
	if (fd < 0)
		return;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto out;
	dsize = sizeof(*d) + h.name_size;
	all = dsize * h.num_desc;
	descs = malloc(all);
	if (!descs || pread(fd, descs, all, h.desc_offset) != (ssize_t)all)
		goto out;
	for (i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsize);
		if (strnlen(d->name, h.name_size) != 5 ||
		    memcmp(d->name, "exits", 5) || d->size != 1)
			continue;
		v->exits_offset = h.data_offset + d->offset;
		v->stats_fd = fd;
		fd = -1;
		break;
	}
out:
	free(descs);
	if (fd >= 0)
		close(fd);
	if (v->stats_fd < 0)
		pr_debug("kvm: no \"exits\" statistic for vcpu %u", v->id);
}

static int kvm_vcpu_exits(struct accel_vcpu *v, u64 *exits)
{
	if (v->stats_fd < 0 ||
	    pread(v->stats_fd, exits, sizeof(*exits), v->exits_offset) !=
	    sizeof(*exits))
		return -1;
	return 0;
}

static int kvm_create_vcpu(struct accel *a, unsigned int id,
			   struct accel_vcpu *v)
{
	struct kvm_run *run;

	v->accel = a;
	v->id = id;
	v->stats_fd = -1;
	v->fd = ioctl(a->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		pr_errno("KVM_CREATE_VCPU %u", id);
		return -1;
	}
	if (a->hyperv) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_HYPERV_SYNIC2 };

		if (ioctl(v->fd, KVM_ENABLE_CAP, &cap) < 0) {
			pr_errno("KVM_ENABLE_CAP(KVM_CAP_HYPERV_SYNIC2) vcpu %u",
				 id);
			close(v->fd);
			v->fd = -1;
			return -1;
		}
		kvm_hv_add_vcpu(a, id);
	}
	if (accel_map_run(v, a->vcpu_mmap_size)) {
		close(v->fd);
		v->fd = -1;
		return -1;
	}
	run = v->run;
	v->immediate_exit = &run->immediate_exit;
	kvm_open_stats(v);
	return 0;
}

static int kvm_set_cpuid(struct accel_vcpu *v)
{
	struct kvm_priv *p = v->accel->priv;
	struct kvm_cpuid2 *c;
	size_t size;
	unsigned int i;
	int ret;

	size = sizeof(*c) + p->cpuid->nent * sizeof(c->entries[0]);
	c = malloc(size);
	if (!c) {
		pr_err("out of memory");
		return -1;
	}
	memcpy(c, p->cpuid, size);
	/* give each vCPU its own initial APIC ID */
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) {
			e->ebx = (e->ebx & 0x00ffffff) | (v->id << 24);
			/* KVM's LAPIC has the TSC-deadline timer (as QEMU) */
			if (p->tsc_deadline && v->accel->irqchip)
				e->ecx |= 1u << 24;
		}
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = v->id;
	}
	ret = ioctl(v->fd, KVM_SET_CPUID2, c);
	if (ret < 0)
		pr_errno("KVM_SET_CPUID2 vcpu %u", v->id);
	free(c);
	return ret < 0 ? -1 : 0;
}

static int kvm_get_regs(struct accel_vcpu *v, struct shv_regs *r)
{
	struct kvm_regs k;

	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0) {
		pr_errno("KVM_GET_REGS vcpu %u", v->id);
		return -1;
	}
	r->rax = k.rax;
	r->rbx = k.rbx;
	r->rcx = k.rcx;
	r->rdx = k.rdx;
	r->rsi = k.rsi;
	r->rdi = k.rdi;
	r->rsp = k.rsp;
	r->rbp = k.rbp;
	r->r8 = k.r8;
	r->r9 = k.r9;
	r->r10 = k.r10;
	r->r11 = k.r11;
	r->r12 = k.r12;
	r->r13 = k.r13;
	r->r14 = k.r14;
	r->r15 = k.r15;
	r->rip = k.rip;
	r->rflags = k.rflags;
	return 0;
}

static int kvm_set_regs(struct accel_vcpu *v, const struct shv_regs *r)
{
	struct kvm_regs k = {
		.rax = r->rax,
		.rbx = r->rbx,
		.rcx = r->rcx,
		.rdx = r->rdx,
		.rsi = r->rsi,
		.rdi = r->rdi,
		.rsp = r->rsp,
		.rbp = r->rbp,
		.r8 = r->r8,
		.r9 = r->r9,
		.r10 = r->r10,
		.r11 = r->r11,
		.r12 = r->r12,
		.r13 = r->r13,
		.r14 = r->r14,
		.r15 = r->r15,
		.rip = r->rip,
		.rflags = r->rflags,
	};

	if (ioctl(v->fd, KVM_SET_REGS, &k) < 0) {
		pr_errno("KVM_SET_REGS vcpu %u", v->id);
		return -1;
	}
	return 0;
}

static void seg_from_kvm(struct shv_segment *s, const struct kvm_segment *k)
{
	memset(s, 0, sizeof(*s));
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->type = k->type;
	s->present = k->present;
	s->dpl = k->dpl;
	s->db = k->db;
	s->s = k->s;
	s->l = k->l;
	s->g = k->g;
	s->avl = k->avl;
	s->unusable = k->unusable;
}

static void seg_to_kvm(struct kvm_segment *k, const struct shv_segment *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->type;
	k->present = s->present;
	k->dpl = s->dpl;
	k->db = s->db;
	k->s = s->s;
	k->l = s->l;
	k->g = s->g;
	k->avl = s->avl;
	k->unusable = s->unusable;
}

static int kvm_get_sregs(struct accel_vcpu *v, struct shv_sregs *s)
{
	struct kvm_sregs k;

	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0) {
		pr_errno("KVM_GET_SREGS vcpu %u", v->id);
		return -1;
	}
	memset(s, 0, sizeof(*s));
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	s->gdt.base = k.gdt.base;
	s->gdt.limit = k.gdt.limit;
	s->idt.base = k.idt.base;
	s->idt.limit = k.idt.limit;
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

static int kvm_set_sregs(struct accel_vcpu *v, const struct shv_sregs *s)
{
	struct kvm_sregs k;

	/* keep KVM's pending-interrupt bitmap */
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0) {
		pr_errno("KVM_GET_SREGS vcpu %u", v->id);
		return -1;
	}
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	memset(k.gdt.padding, 0, sizeof(k.gdt.padding));
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	memset(k.idt.padding, 0, sizeof(k.idt.padding));
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	k.apic_base = s->apic_base;
	if (ioctl(v->fd, KVM_SET_SREGS, &k) < 0) {
		pr_errno("KVM_SET_SREGS vcpu %u", v->id);
		return -1;
	}
	return 0;
}

/*
 * Hyper-V through KVM's own emulation: its Hyper-V CPUID leaves replace
 * KVM's paravirtual ones at 0x40000000, and every vCPU gets a SynIC
 * (KVM_CAP_HYPERV_SYNIC2, in kvm_create_vcpu()).
 */
static int kvm_enable_hyperv(struct accel *a)
{
	struct kvm_priv *p = a->priv;
	struct kvm_cpuid2 *hv, *c;
	unsigned int i, n = 0;

	if (ioctl(a->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_SYNIC2) <= 0 ||
	    ioctl(a->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYS_HYPERV_CPUID) <= 0) {
		pr_err("kvm: no Hyper-V SynIC emulation (KVM_CAP_HYPERV_SYNIC2, KVM_CAP_SYS_HYPERV_CPUID)");
		return -1;
	}
	hv = calloc(1, sizeof(*hv) + 64 * sizeof(hv->entries[0]));
	c = calloc(1, sizeof(*c) + (p->cpuid->nent + 64) *
		   sizeof(c->entries[0]));
	if (!hv || !c) {
		pr_err("out of memory");
		goto err;
	}
	hv->nent = 64;
	if (ioctl(a->sys_fd, KVM_GET_SUPPORTED_HV_CPUID, hv) < 0) {
		pr_errno("KVM_GET_SUPPORTED_HV_CPUID");
		goto err;
	}
	for (i = 0; i < p->cpuid->nent; i++) {
		u32 f = p->cpuid->entries[i].function;

		if (f < 0x40000000 || f > 0x400000ff)
			c->entries[n++] = p->cpuid->entries[i];
	}
	for (i = 0; i < hv->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[n++];

		*e = hv->entries[i];
		/* the vendor Hyper-V and shv show ("Linux KVM Hv" otherwise) */
		if (e->function == 0x40000000)
			memcpy(&e->ebx, "Microsoft Hv", 12);
	}
	c->nent = n;
	free(p->cpuid);
	free(hv);
	p->cpuid = c;
	return kvm_hv_init(a);
err:
	free(hv);
	free(c);
	return -1;
}

static int kvm_run_vcpu(struct accel_vcpu *v, struct accel_exit *e)
{
	struct kvm_run *run = v->run;

	memset(e, 0, sizeof(*e));
again:
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			e->kind = ACCEL_EXIT_INTR;
			e->raw_reason = KVM_EXIT_INTR;
			return 0;
		}
		pr_errno("KVM_RUN vcpu %u", v->id);
		return -1;
	}
	e->raw_reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_HYPERV:
		/* SynIC register writes and hypercalls: accel_kvm_hyperv.c */
		if (kvm_hv_exit(v, &run->hyperv))
			goto again;
		e->kind = ACCEL_EXIT_UNHANDLED;
		break;
	case KVM_EXIT_IO:
		e->kind = ACCEL_EXIT_IO;
		e->io.port = run->io.port;
		e->io.size = run->io.size;
		e->io.out = run->io.direction == KVM_EXIT_IO_OUT;
		e->io.count = run->io.count;
		e->io.data = (u8 *)run + run->io.data_offset;
		if (run->io.data_offset + (u64)run->io.count * run->io.size >
		    v->run_size) {
			pr_err("KVM_EXIT_IO: data outside the run area");
			return -1;
		}
		break;
	case KVM_EXIT_MMIO:
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = run->mmio.phys_addr;
		e->mmio.len = run->mmio.len;
		e->mmio.is_write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = ACCEL_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		e->hw.reason = run->system_event.type;
		break;
	case KVM_EXIT_INTR:
		e->kind = ACCEL_EXIT_INTR;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = ACCEL_EXIT_INTERNAL_ERROR;
		e->internal.suberror = run->internal.suberror;
		e->internal.ndata = run->internal.ndata;
		if (e->internal.ndata > ARRAY_SIZE(e->internal.data))
			e->internal.ndata = ARRAY_SIZE(e->internal.data);
		memcpy(e->internal.data, run->internal.data,
		       e->internal.ndata * sizeof(u64));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = ACCEL_EXIT_FAIL_ENTRY;
		e->hw.reason = run->fail_entry.hardware_entry_failure_reason;
		e->hw.cpu = run->fail_entry.cpu;
		break;
	case KVM_EXIT_UNKNOWN:
		e->kind = ACCEL_EXIT_UNKNOWN;
		e->hw.reason = run->hw.hardware_exit_reason;
		e->hw.cpu = v->id;
		break;
	default:
		e->kind = ACCEL_EXIT_UNHANDLED;
		break;
	}
	return 0;
}

static const char *const kvm_exit_names[] = {
	[KVM_EXIT_UNKNOWN]	= "KVM_EXIT_UNKNOWN",
	[KVM_EXIT_EXCEPTION]	= "KVM_EXIT_EXCEPTION",
	[KVM_EXIT_IO]		= "KVM_EXIT_IO",
	[KVM_EXIT_HYPERCALL]	= "KVM_EXIT_HYPERCALL",
	[KVM_EXIT_DEBUG]	= "KVM_EXIT_DEBUG",
	[KVM_EXIT_HLT]		= "KVM_EXIT_HLT",
	[KVM_EXIT_MMIO]		= "KVM_EXIT_MMIO",
	[KVM_EXIT_SHUTDOWN]	= "KVM_EXIT_SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY]	= "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTR]		= "KVM_EXIT_INTR",
	[KVM_EXIT_INTERNAL_ERROR]	= "KVM_EXIT_INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT]	= "KVM_EXIT_SYSTEM_EVENT",
	[KVM_EXIT_HYPERV]	= "KVM_EXIT_HYPERV",
};

static const char *kvm_exit_name(u32 reason)
{
	if (reason < ARRAY_SIZE(kvm_exit_names) && kvm_exit_names[reason])
		return kvm_exit_names[reason];
	return "unknown";
}

int kvm_set_routes(struct accel *a, const struct kvm_irq_routing_entry *more,
		   unsigned int n)
{
	struct kvm_priv *p = a->priv;
	struct kvm_irq_routing *r;
	unsigned int pc = p->nr_pc_routes;
	int ret;

	r = calloc(1, sizeof(*r) + (pc + n) * sizeof(r->entries[0]));
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(r->entries, p->pc_routes, pc * sizeof(r->entries[0]));
	if (n)
		memcpy(r->entries + pc, more, n * sizeof(r->entries[0]));
	r->nr = pc + n;
	ret = ioctl(a->vm_fd, KVM_SET_GSI_ROUTING, r);
	free(r);
	return ret < 0 ? -1 : 0;
}

/*
 * KVM's default routing sends GSI 0 to IOAPIC pin 0; a PC (and shv)
 * has ISA IRQ 0 at pin 2, as the MADT's interrupt source override says.
 * Route like QEMU does: GSI 0-7 to the master PIC (not 2, the cascade),
 * 8-15 to the slave, and GSI n to IOAPIC pin n except GSI 0 -> pin 2
 * and GSI 2 -> nothing.
 */
static int kvm_set_pc_routing(struct accel *a)
{
	struct kvm_priv *p = a->priv;
	struct kvm_irq_routing_entry *e = p->pc_routes;
	unsigned int gsi, n = 0;

	memset(p->pc_routes, 0, sizeof(p->pc_routes));
	for (gsi = 0; gsi < KVM_PC_GSIS; gsi++) {
		if (gsi < 16 && gsi != 2) {
			e[n].gsi = gsi;
			e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			e[n].u.irqchip.irqchip = gsi < 8 ?
				KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			e[n].u.irqchip.pin = gsi & 7;
			n++;
		}
		if (gsi == 2)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n].u.irqchip.pin = gsi ? gsi : 2;
		n++;
	}
	p->nr_pc_routes = n;
	if (kvm_set_routes(a, NULL, 0)) {
		pr_errno("KVM_SET_GSI_ROUTING");
		return -1;
	}
	return 0;
}

static int kvm_create_irqchip(struct accel *a)
{
	/* the speaker port 0x61 (counter 2 gate and OUT) in the kernel too */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(a->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		pr_errno("KVM_CREATE_IRQCHIP");
		return -1;
	}
	if (ioctl(a->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		pr_errno("KVM_CREATE_PIT2");
		return -1;
	}
	return kvm_set_pc_routing(a);
}

static int kvm_irq_line(struct accel *a, u32 gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = !!level };

	return ioctl(a->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -1 : 0;
}

static int kvm_signal_msi(struct accel *a, u64 address, u32 data)
{
	struct kvm_msi m = {
		.address_lo = (u32)address,
		.address_hi = address >> 32,
		.data = data,
	};

	return ioctl(a->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -1 : 0;
}

/*
 * As QEMU does it: taking the host page away and back makes the MMU
 * notifiers drop KVM's mappings (NPT/EPT or shadow) of it.
 */
static int kvm_flush_page(struct accel *a, u64 gpa, void *hva)
{
	void *page = (void *)((unsigned long)hva & ~0xfffUL);

	(void)a;
	(void)gpa;
	if (mprotect(page, 0x1000, PROT_NONE) ||
	    mprotect(page, 0x1000, PROT_READ | PROT_WRITE))
		return -1;
	return 0;
}

static void kvm_destroy_vcpu(struct accel_vcpu *v)
{
	if (v->stats_fd >= 0)
		close(v->stats_fd);
	v->stats_fd = -1;
	accel_unmap_run(v);
}

static void kvm_close(struct accel *a)
{
	struct kvm_priv *p = a->priv;

	if (p) {
		kvm_hv_close(a);
		free(p->cpuid);
	}
	free(p);
	a->priv = NULL;
	if (a->vm_fd >= 0)
		close(a->vm_fd);
	if (a->sys_fd >= 0)
		close(a->sys_fd);
	a->vm_fd = -1;
	a->sys_fd = -1;
}

const struct accel_ops accel_kvm_ops = {
	.name		= "kvm",
	.open		= kvm_open,
	.create_vm	= kvm_create_vm,
	.max_vcpus	= kvm_max_vcpus,
	.set_memslot	= kvm_set_memslot,
	.create_vcpu	= kvm_create_vcpu,
	.set_cpuid	= kvm_set_cpuid,
	.get_regs	= kvm_get_regs,
	.set_regs	= kvm_set_regs,
	.get_sregs	= kvm_get_sregs,
	.set_sregs	= kvm_set_sregs,
	.run		= kvm_run_vcpu,
	.vcpu_exits	= kvm_vcpu_exits,
	.exit_name	= kvm_exit_name,
	.create_irqchip	= kvm_create_irqchip,
	.enable_hyperv	= kvm_enable_hyperv,
	.hv_sint_route	= kvm_hv_sint_route,
	.hv_sint_raise	= kvm_hv_sint_raise,
	.hv_set_connection = kvm_hv_set_connection,
	.irq_line	= kvm_irq_line,
	.signal_msi	= kvm_signal_msi,
	.flush_page	= kvm_flush_page,
	.destroy_vcpu	= kvm_destroy_vcpu,
	.close		= kvm_close,
};
