// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the shv.ko backend (/dev/shv).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel.h"

#define SHV_DEV	"/dev/shv"

static int shv_open(struct accel *a)
{
	int ret;

	a->sys_fd = open(SHV_DEV, O_RDWR | O_CLOEXEC);
	if (a->sys_fd < 0) {
		pr_errno("%s (is shv.ko loaded? try --accel kvm)", SHV_DEV);
		return -1;
	}
	ret = ioctl(a->sys_fd, SHV_GET_API_VERSION, 0);
	if (ret < 0) {
		pr_errno("SHV_GET_API_VERSION");
		goto err;
	}
	if (ret != SHV_API_VERSION) {
		pr_err("%s: API version %d, shv-run was built for %d",
		       SHV_DEV, ret, SHV_API_VERSION);
		goto err;
	}
	ret = ioctl(a->sys_fd, SHV_GET_VCPU_MMAP_SIZE, 0);
	if (ret < 0) {
		pr_errno("SHV_GET_VCPU_MMAP_SIZE");
		goto err;
	}
	if ((size_t)ret < sizeof(struct shv_run)) {
		pr_err("SHV_GET_VCPU_MMAP_SIZE: size %d is too small", ret);
		goto err;
	}
	a->vcpu_mmap_size = ret;
	return 0;
err:
	close(a->sys_fd);
	a->sys_fd = -1;
	return -1;
}

static int shv_create_vm(struct accel *a, unsigned int mmu)
{
	a->vm_fd = ioctl(a->sys_fd, SHV_CREATE_VM, (unsigned long)mmu);
	if (a->vm_fd < 0) {
		if (errno == EINVAL && mmu)
			pr_err("SHV_CREATE_VM: MMU mode %u not supported on this host",
			       mmu);
		else
			pr_errno("SHV_CREATE_VM");
		return -1;
	}
	return 0;
}

static int shv_max_vcpus(struct accel *a)
{
	int ret = ioctl(a->sys_fd, SHV_CHECK_EXTENSION, SHV_CAP_NR_VCPUS);

	return ret > 0 ? ret : SHV_MAX_VCPUS;
}

static int shv_set_memslot(struct accel *a, u32 slot, u64 gpa, u64 size,
			   void *hva, bool readonly)
{
	struct shv_userspace_memory_region r = {
		.slot = slot,
		.flags = readonly ? SHV_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	if (readonly &&
	    ioctl(a->sys_fd, SHV_CHECK_EXTENSION, SHV_CAP_READONLY_MEM) <= 0) {
		pr_err("shv: read-only memory slots not supported");
		return -1;
	}
	if (ioctl(a->vm_fd, SHV_SET_USER_MEMORY_REGION, &r) < 0) {
		pr_errno("SHV_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx",
			 slot, (unsigned long long)gpa,
			 (unsigned long long)size);
		return -1;
	}
	return 0;
}

static int shv_create_vcpu(struct accel *a, unsigned int id,
			   struct accel_vcpu *v)
{
	struct shv_run *run;

	v->accel = a;
	v->id = id;
	v->stats_fd = -1;
	v->fd = ioctl(a->vm_fd, SHV_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		pr_errno("SHV_CREATE_VCPU %u", id);
		return -1;
	}
	if (accel_map_run(v, a->vcpu_mmap_size)) {
		close(v->fd);
		v->fd = -1;
		return -1;
	}
	run = v->run;
	v->immediate_exit = &run->request_immediate_exit;
	return 0;
}

static int shv_get_regs(struct accel_vcpu *v, struct shv_regs *regs)
{
	if (ioctl(v->fd, SHV_GET_REGS, regs) < 0) {
		pr_errno("SHV_GET_REGS vcpu %u", v->id);
		return -1;
	}
	return 0;
}

static int shv_set_regs(struct accel_vcpu *v, const struct shv_regs *regs)
{
	if (ioctl(v->fd, SHV_SET_REGS, regs) < 0) {
		pr_errno("SHV_SET_REGS vcpu %u", v->id);
		return -1;
	}
	return 0;
}

static int shv_get_sregs(struct accel_vcpu *v, struct shv_sregs *sregs)
{
	if (ioctl(v->fd, SHV_GET_SREGS, sregs) < 0) {
		pr_errno("SHV_GET_SREGS vcpu %u", v->id);
		return -1;
	}
	return 0;
}

static int shv_set_sregs(struct accel_vcpu *v, const struct shv_sregs *sregs)
{
	struct shv_sregs s = *sregs;

	/* every reserved field must be zero */
	memset(s.reserved, 0, sizeof(s.reserved));
	if (ioctl(v->fd, SHV_SET_SREGS, &s) < 0) {
		pr_errno("SHV_SET_SREGS vcpu %u", v->id);
		return -1;
	}
	return 0;
}

static int shv_run(struct accel_vcpu *v, struct accel_exit *e)
{
	struct shv_run *run = v->run;

	memset(e, 0, sizeof(*e));
	if (ioctl(v->fd, SHV_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			e->kind = ACCEL_EXIT_INTR;
			e->raw_reason = SHV_EXIT_INTR;
			return 0;
		}
		pr_errno("SHV_RUN vcpu %u", v->id);
		return -1;
	}
	e->raw_reason = run->exit_reason;
	switch (run->exit_reason) {
	case SHV_EXIT_IO:
		e->kind = ACCEL_EXIT_IO;
		e->io.port = run->io.port;
		e->io.size = run->io.size;
		e->io.out = run->io.direction == SHV_EXIT_IO_OUT;
		/* a REP INS/OUTS hands over several elements at once */
		e->io.count = run->io.count;
		e->io.data = (u8 *)run + run->io.data_offset;
		if (!run->io.count || run->io.data_offset +
		    (u64)run->io.count * run->io.size > v->run_size) {
			pr_err("SHV_EXIT_IO: data outside the run area");
			return -1;
		}
		break;
	case SHV_EXIT_MMIO:
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = run->mmio.phys_addr;
		e->mmio.len = run->mmio.len;
		e->mmio.is_write = run->mmio.is_write;
		e->mmio.data = run->mmio.data;
		break;
	case SHV_EXIT_HLT:
		e->kind = ACCEL_EXIT_HLT;
		break;
	case SHV_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		e->hw.reason = run->shutdown.reason;
		break;
	case SHV_EXIT_INTR:
		e->kind = ACCEL_EXIT_INTR;
		break;
	case SHV_EXIT_INTERNAL_ERROR:
		e->kind = ACCEL_EXIT_INTERNAL_ERROR;
		e->internal.suberror = run->internal.suberror;
		e->internal.ndata = run->internal.ndata;
		if (e->internal.ndata > ARRAY_SIZE(e->internal.data))
			e->internal.ndata = ARRAY_SIZE(e->internal.data);
		memcpy(e->internal.data, run->internal.data,
		       e->internal.ndata * sizeof(u64));
		break;
	case SHV_EXIT_FAIL_ENTRY:
	case SHV_EXIT_UNKNOWN:
		e->kind = run->exit_reason == SHV_EXIT_FAIL_ENTRY ?
			  ACCEL_EXIT_FAIL_ENTRY : ACCEL_EXIT_UNKNOWN;
		e->hw.reason = run->hw.hardware_exit_reason;
		e->hw.info1 = run->hw.info1;
		e->hw.info2 = run->hw.info2;
		e->hw.cpu = v->id;
		break;
	default:
		/* HYPERCALL, RING: not produced without opting in */
		e->kind = ACCEL_EXIT_UNHANDLED;
		break;
	}
	return 0;
}

static const char *const shv_exit_names[] = {
	[SHV_EXIT_UNKNOWN]		= "SHV_EXIT_UNKNOWN",
	[SHV_EXIT_IO]			= "SHV_EXIT_IO",
	[SHV_EXIT_HLT]			= "SHV_EXIT_HLT",
	[SHV_EXIT_MMIO]			= "SHV_EXIT_MMIO",
	[SHV_EXIT_SHUTDOWN]		= "SHV_EXIT_SHUTDOWN",
	[SHV_EXIT_FAIL_ENTRY]		= "SHV_EXIT_FAIL_ENTRY",
	[SHV_EXIT_INTR]			= "SHV_EXIT_INTR",
	[SHV_EXIT_INTERNAL_ERROR]	= "SHV_EXIT_INTERNAL_ERROR",
	[SHV_EXIT_HYPERCALL]		= "SHV_EXIT_HYPERCALL",
	[SHV_EXIT_RING]			= "SHV_EXIT_RING",
};

static const char *shv_exit_name(u32 reason)
{
	if (reason < ARRAY_SIZE(shv_exit_names) && shv_exit_names[reason])
		return shv_exit_names[reason];
	return "unknown";
}

static int shv_create_irqchip(struct accel *a)
{
	if (ioctl(a->sys_fd, SHV_CHECK_EXTENSION, SHV_CAP_IRQCHIP) <= 0) {
		pr_err("shv: this module has no in-kernel irqchip (SHV_CAP_IRQCHIP)");
		return -1;
	}
	if (ioctl(a->vm_fd, SHV_CREATE_IRQCHIP, 0) < 0) {
		pr_errno("SHV_CREATE_IRQCHIP");
		return -1;
	}
	return 0;
}

static int shv_enable_hyperv(struct accel *a)
{
	if (ioctl(a->sys_fd, SHV_CHECK_EXTENSION, SHV_CAP_HYPERV) <= 0) {
		pr_err("shv: this module has no Hyper-V interface (SHV_CAP_HYPERV)");
		return -1;
	}
	if (ioctl(a->vm_fd, SHV_ENABLE_HYPERV, 0) < 0) {
		pr_errno("SHV_ENABLE_HYPERV");
		return -1;
	}
	return 0;
}

/* the kernel raises SINTs itself: a route needs nothing there */
static int shv_hv_sint_route(struct accel *a, u32 vp, u32 sint, bool add)
{
	(void)a;
	(void)add;
	if (vp >= SHV_MAX_VCPUS || sint >= SHV_HV_SINTS) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int shv_hv_sint_raise(struct accel *a, u32 vp, u32 sint)
{
	struct shv_hv_sint s = { .vcpu = vp, .sint = sint };

	return ioctl(a->vm_fd, SHV_HV_RAISE_SINT, &s) < 0 ? -1 : 0;
}

static int shv_hv_set_connection(struct accel *a,
				 const struct shv_hv_connection *c)
{
	return ioctl(a->vm_fd, SHV_HV_SET_CONNECTION, c) < 0 ? -1 : 0;
}

static int shv_irq_line(struct accel *a, u32 gsi, int level)
{
	struct shv_irq_level l = { .irq = gsi, .level = !!level };

	return ioctl(a->vm_fd, SHV_IRQ_LINE, &l) < 0 ? -1 : 0;
}

static int shv_signal_msi(struct accel *a, u64 address, u32 data)
{
	struct shv_msi m = { .address = address, .data = data };

	return ioctl(a->vm_fd, SHV_SIGNAL_MSI, &m) < 0 ? -1 : 0;
}

/*
 * shv pins guest pages and registers no MMU notifier, so QEMU's trick
 * (mprotect of the host page) does not reach it: SHV_FLUSH_GPA drops the
 * page's translations and pin, and the next access maps it afresh.
 */
static int shv_flush_page(struct accel *a, u64 gpa, void *hva)
{
	struct shv_gpa_range r = { .gpa = gpa & ~0xfffULL, .size = 0x1000 };

	(void)hva;
	return ioctl(a->vm_fd, SHV_FLUSH_GPA, &r) < 0 ? -1 : 0;
}

static int shv_vcpu_exits(struct accel_vcpu *v, u64 *exits)
{
	struct shv_vcpu_stats s;

	if (ioctl(v->fd, SHV_GET_VCPU_STATS, &s) < 0)
		return -1;
	*exits = s.exits;
	return 0;
}

static void shv_destroy_vcpu(struct accel_vcpu *v)
{
	accel_unmap_run(v);
}

static void shv_close(struct accel *a)
{
	if (a->vm_fd >= 0)
		close(a->vm_fd);
	if (a->sys_fd >= 0)
		close(a->sys_fd);
	a->vm_fd = -1;
	a->sys_fd = -1;
}

const struct accel_ops accel_shv_ops = {
	.name		= "shv",
	.open		= shv_open,
	.create_vm	= shv_create_vm,
	.max_vcpus	= shv_max_vcpus,
	.set_memslot	= shv_set_memslot,
	.create_vcpu	= shv_create_vcpu,
	.set_cpuid	= NULL,		/* the module's default CPUID */
	.get_regs	= shv_get_regs,
	.set_regs	= shv_set_regs,
	.get_sregs	= shv_get_sregs,
	.set_sregs	= shv_set_sregs,
	.run		= shv_run,
	.vcpu_exits	= shv_vcpu_exits,
	.exit_name	= shv_exit_name,
	.create_irqchip	= shv_create_irqchip,
	.enable_hyperv	= shv_enable_hyperv,
	.hv_sint_route	= shv_hv_sint_route,
	.hv_sint_raise	= shv_hv_sint_raise,
	.hv_set_connection = shv_hv_set_connection,
	.irq_line	= shv_irq_line,
	.signal_msi	= shv_signal_msi,
	.flush_page	= shv_flush_page,
	.destroy_vcpu	= shv_destroy_vcpu,
	.close		= shv_close,
};
