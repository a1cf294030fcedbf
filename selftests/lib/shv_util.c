// SPDX-License-Identifier: GPL-2.0
/*
 * shv selftests: VM/vCPU helpers, guest mode setup, exit expectations and
 * kernel memory snapshots for leak checks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shv_util.h"

void __shv_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stdout);
	/* not 255: the harness reads that as SKIP */
	_exit(1);
}

unsigned long shv_test_mmu_flags(void)
{
	const char *s = getenv("SHV_TEST_MMU");

	if (!s || !*s || !strcmp(s, "default"))
		return SHV_VM_MMU_DEFAULT;
	if (!strcmp(s, "nested"))
		return SHV_VM_MMU_NESTED;
	if (!strcmp(s, "shadow"))
		return SHV_VM_MMU_SHADOW;
	shv_fail("bad SHV_TEST_MMU '%s'", s);
}

int shv_open_dev(void)
{
	int fd = open("/dev/shv", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		shv_fail("cannot open /dev/shv (is shv.ko loaded?): %s", strerror(errno));
	return fd;
}

struct shv_vm *shv_vm_create_bare(int sys_fd, unsigned long flags)
{
	struct shv_vm *vm = calloc(1, sizeof(*vm));

	SHV_CHECK(vm, "calloc");
	vm->sys_fd = sys_fd;
	vm->flags = flags;
	vm->mmap_size = ioctl(sys_fd, SHV_GET_VCPU_MMAP_SIZE, 0);
	SHV_CHECK(vm->mmap_size >= (int)sizeof(struct shv_run),
		  "SHV_GET_VCPU_MMAP_SIZE returned %d", vm->mmap_size);
	vm->fd = ioctl(sys_fd, SHV_CREATE_VM, flags);
	if (vm->fd < 0)
		shv_fail("SHV_CREATE_VM(%#lx): %s", flags, strerror(errno));
	return vm;
}

struct shv_vm *shv_vm_create(void)
{
	struct shv_vm *vm;

	vm = shv_vm_create_bare(shv_open_dev(), shv_test_mmu_flags());
	vm->own_sys_fd = true;
	shv_vm_add_mem(vm, 0, 0, RAM_SIZE, 0);
	return vm;
}

void shv_vm_free(struct shv_vm *vm)
{
	int i;

	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->own_sys_fd && vm->sys_fd >= 0)
		close(vm->sys_fd);
	for (i = 0; i < SHV_MAX_MEMSLOTS; i++)
		if (vm->slots[i].used)
			munmap(vm->slots[i].hva, vm->slots[i].size);
	free(vm);
}

int shv_set_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		   uint64_t size, uint64_t uaddr)
{
	struct shv_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
	};

	return ioctl(vm_fd, SHV_SET_USER_MEMORY_REGION, &r);
}

void *shv_vm_add_mem(struct shv_vm *vm, unsigned int slot, uint64_t gpa,
		     uint64_t size, uint32_t flags)
{
	void *p;

	SHV_CHECK(slot < SHV_MAX_MEMSLOTS && !vm->slots[slot].used,
		  "slot %u", slot);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	SHV_CHECK(p != MAP_FAILED, "mmap %#llx", (unsigned long long)size);
	if (shv_set_region(vm->fd, slot, flags, gpa, size, (uintptr_t)p))
		shv_fail("SHV_SET_USER_MEMORY_REGION slot %u gpa %#llx size %#llx: %s",
			 slot, (unsigned long long)gpa,
			 (unsigned long long)size, strerror(errno));
	vm->slots[slot].hva = p;
	vm->slots[slot].gpa = gpa;
	vm->slots[slot].size = size;
	vm->slots[slot].flags = flags;
	vm->slots[slot].used = true;
	return p;
}

void shv_vm_del_mem(struct shv_vm *vm, unsigned int slot)
{
	SHV_CHECK(slot < SHV_MAX_MEMSLOTS && vm->slots[slot].used,
		  "slot %u", slot);
	if (shv_set_region(vm->fd, slot, 0, vm->slots[slot].gpa, 0,
			   (uintptr_t)vm->slots[slot].hva))
		shv_fail("deleting slot %u: %s", slot, strerror(errno));
	munmap(vm->slots[slot].hva, vm->slots[slot].size);
	vm->slots[slot].used = false;
}

void *shv_gpa2hva(struct shv_vm *vm, uint64_t gpa)
{
	int i;

	for (i = 0; i < SHV_MAX_MEMSLOTS; i++) {
		if (!vm->slots[i].used)
			continue;
		if (gpa >= vm->slots[i].gpa &&
		    gpa - vm->slots[i].gpa < vm->slots[i].size)
			return (char *)vm->slots[i].hva + (gpa - vm->slots[i].gpa);
	}
	shv_fail("gpa %#llx is not in a slot", (unsigned long long)gpa);
}

void shv_load_code(struct shv_vm *vm, uint64_t gpa, const void *start,
		   const void *end)
{
	size_t len = (const char *)end - (const char *)start;

	SHV_CHECK(end > start, "empty payload");
	/* the payload must fit in one slot */
	shv_gpa2hva(vm, gpa + len - 1);
	memcpy(shv_gpa2hva(vm, gpa), start, len);
}

struct shv_vcpu *shv_vcpu_create(struct shv_vm *vm, unsigned int id)
{
	struct shv_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	SHV_CHECK(vcpu, "calloc");
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, SHV_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		shv_fail("SHV_CREATE_VCPU(%u): %s", id, strerror(errno));
	vcpu->run_size = vm->mmap_size;
	vcpu->run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED)
		shv_fail("mmap of the vCPU fd: %s", strerror(errno));
	return vcpu;
}

void shv_vcpu_free(struct shv_vcpu *vcpu)
{
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
}

static void put64(struct shv_vm *vm, uint64_t gpa, uint64_t v)
{
	memcpy(shv_gpa2hva(vm, gpa), &v, sizeof(v));
}

void shv_vm_write_tables(struct shv_vm *vm)
{
	uint64_t tss_lo;
	int i, j;

	/* GDT: null, code32, data, code64, 64-bit busy TSS (16 bytes) */
	put64(vm, GDT_GPA + 0x00, 0);
	put64(vm, GDT_GPA + SEL_CODE32, 0x00cf9b000000ffffULL);
	put64(vm, GDT_GPA + SEL_DATA, 0x00cf93000000ffffULL);
	put64(vm, GDT_GPA + SEL_CODE64, 0x00af9b000000ffffULL);
	tss_lo = 0x67 | ((uint64_t)(TSS_GPA & 0xffffff) << 16) |
		 (0x8bULL << 40) | ((uint64_t)(TSS_GPA >> 24) << 56);
	put64(vm, GDT_GPA + SEL_TSS, tss_lo);
	put64(vm, GDT_GPA + SEL_TSS + 8, 0);

	/* identity map of 0..4 GiB with 2 MiB pages */
	put64(vm, PML4_GPA, PDPT_GPA | 3);
	for (i = 0; i < 4; i++) {
		put64(vm, PDPT_GPA + i * 8, (PD_GPA + i * 0x1000) | 3);
		for (j = 0; j < 512; j++)
			put64(vm, PD_GPA + i * 0x1000 + j * 8,
			      ((uint64_t)(i * 512 + j) << 21) | 0x83);
	}
}

void shv_vcpu_set_paging32(struct shv_vcpu *vcpu, enum shv_paging32 kind)
{
	struct shv_vm *vm = vcpu->vm;
	struct shv_sregs sr;
	uint32_t pde;
	int i;

	/* PAE: 4 PDPTEs (no RW/US bits there) onto the 2 MiB-page PDs */
	for (i = 0; i < 4; i++)
		put64(vm, PAE_PDPT_GPA + i * 8, (PD_GPA + i * 0x1000) | 1);
	/* 2-level: 1024 4 MiB pages, identity */
	for (i = 0; i < 1024; i++) {
		pde = ((uint32_t)i << 22) | 0x83;
		memcpy(shv_gpa2hva(vm, PD32_GPA + i * 4), &pde, 4);
	}

	shv_get_sregs(vcpu, &sr);
	switch (kind) {
	case PAGING32_NONE:
		sr.cr0 &= ~0x80000000ULL;
		sr.cr4 &= ~0x30ULL;
		sr.cr3 = 0;
		break;
	case PAGING32_PSE:
		sr.cr0 |= 0x80010000;		/* PG WP */
		sr.cr4 = (sr.cr4 & ~0x20ULL) | 0x10;	/* PSE */
		sr.cr3 = PD32_GPA;
		break;
	case PAGING32_PAE:
		sr.cr0 |= 0x80010000;
		sr.cr4 |= 0x20;			/* PAE */
		sr.cr3 = PAE_PDPT_GPA;
		break;
	}
	shv_set_sregs(vcpu, &sr);
}

void shv_idt_set_gate64(struct shv_vm *vm, int vector, uint64_t handler)
{
	uint64_t lo, hi;

	lo = (handler & 0xffff) | ((uint64_t)SEL_CODE64 << 16) |
	     (0x8eULL << 40) | (((handler >> 16) & 0xffff) << 48);
	hi = handler >> 32;
	put64(vm, IDT_GPA + vector * 16, lo);
	put64(vm, IDT_GPA + vector * 16 + 8, hi);
}

static void seg_flat(struct shv_segment *s, uint16_t sel, uint8_t type,
		     uint8_t db, uint8_t l)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = db;
	s->l = l;
	s->g = 1;
}

static void seg_real(struct shv_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
}

void shv_sregs_for_mode(struct shv_vcpu *vcpu, enum shv_mode mode,
			struct shv_sregs *sr)
{
	shv_get_sregs(vcpu, sr);

	if (mode == MODE_REAL) {
		seg_real(&sr->cs, REAL_SEG, 0xb);
		seg_real(&sr->ds, REAL_SEG, 0x3);
		seg_real(&sr->es, REAL_SEG, 0x3);
		seg_real(&sr->ss, REAL_SEG, 0x3);
		seg_real(&sr->fs, 0, 0x3);
		seg_real(&sr->gs, 0, 0x3);
		/* cr0/cr4/efer/tr/ldt/gdt/idt stay in the reset state */
		return;
	}

	seg_flat(&sr->cs, mode == MODE_LONG64 ? SEL_CODE64 : SEL_CODE32, 0xb,
		 mode == MODE_LONG64 ? 0 : 1, mode == MODE_LONG64 ? 1 : 0);
	seg_flat(&sr->ds, SEL_DATA, 0x3, 1, 0);
	sr->es = sr->ds;
	sr->fs = sr->ds;
	sr->gs = sr->ds;
	sr->ss = sr->ds;

	memset(&sr->tr, 0, sizeof(sr->tr));
	sr->tr.base = TSS_GPA;
	sr->tr.limit = 0x67;
	sr->tr.selector = SEL_TSS;
	sr->tr.type = 0xb;
	sr->tr.present = 1;

	memset(&sr->gdt, 0, sizeof(sr->gdt));
	sr->gdt.base = GDT_GPA;
	sr->gdt.limit = GDT_LIMIT;
	memset(&sr->idt, 0, sizeof(sr->idt));
	sr->idt.base = IDT_GPA;
	sr->idt.limit = mode == MODE_LONG64 ? 0xfff : 0x7ff;

	if (mode == MODE_PROT32) {
		sr->cr0 = 0x33;			/* PE MP ET NE */
		sr->cr3 = 0;
		sr->cr4 = 0;
		sr->efer = 0;
	} else {
		sr->cr0 = 0x80010033;		/* + WP PG */
		sr->cr3 = PML4_GPA;
		sr->cr4 = 0x20;			/* PAE */
		sr->efer = 0x500;		/* LME LMA */
	}
}

void shv_vcpu_setup(struct shv_vcpu *vcpu, enum shv_mode mode, uint64_t entry)
{
	struct shv_sregs sr;
	struct shv_regs regs;

	shv_vm_write_tables(vcpu->vm);
	shv_sregs_for_mode(vcpu, mode, &sr);
	shv_set_sregs(vcpu, &sr);

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	if (mode == MODE_REAL) {
		SHV_CHECK(entry >= CODE_GPA && entry < CODE_GPA + 0x10000,
			  "real-mode entry %#llx", (unsigned long long)entry);
		regs.rip = entry - CODE_GPA;
		regs.rsp = REAL_SP;
	} else {
		regs.rip = entry;
		regs.rsp = STACK_TOP;
	}
	shv_set_regs(vcpu, &regs);
}

struct shv_vcpu *shv_vm_with_guest(enum shv_mode mode, const void *start,
				   const void *end)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *vcpu = shv_vcpu_create(vm, 0);

	shv_load_code(vm, CODE_GPA, start, end);
	shv_vcpu_setup(vcpu, mode, CODE_GPA);
	return vcpu;
}

void shv_get_regs(struct shv_vcpu *vcpu, struct shv_regs *regs)
{
	if (ioctl(vcpu->fd, SHV_GET_REGS, regs))
		shv_fail("SHV_GET_REGS: %s", strerror(errno));
}

void shv_set_regs(struct shv_vcpu *vcpu, const struct shv_regs *regs)
{
	if (ioctl(vcpu->fd, SHV_SET_REGS, regs))
		shv_fail("SHV_SET_REGS: %s", strerror(errno));
}

void shv_get_sregs(struct shv_vcpu *vcpu, struct shv_sregs *sregs)
{
	if (ioctl(vcpu->fd, SHV_GET_SREGS, sregs))
		shv_fail("SHV_GET_SREGS: %s", strerror(errno));
}

void shv_set_sregs(struct shv_vcpu *vcpu, const struct shv_sregs *sregs)
{
	if (ioctl(vcpu->fd, SHV_SET_SREGS, sregs))
		shv_fail("SHV_SET_SREGS: %s", strerror(errno));
}

void shv_set_rip(struct shv_vcpu *vcpu, uint64_t rip)
{
	struct shv_regs regs;

	shv_get_regs(vcpu, &regs);
	regs.rip = rip;
	shv_set_regs(vcpu, &regs);
}

uint64_t shv_get_msr(struct shv_vcpu *vcpu, uint32_t index)
{
	struct {
		struct shv_msrs m;
		struct shv_msr_entry e;
	} u = { .m.nmsrs = 1, .e.index = index };

	if (ioctl(vcpu->fd, SHV_GET_MSRS, &u) != 1)
		shv_fail("SHV_GET_MSRS %#x: %s", index, strerror(errno));
	return u.e.data;
}

void shv_set_msr(struct shv_vcpu *vcpu, uint32_t index, uint64_t data)
{
	struct {
		struct shv_msrs m;
		struct shv_msr_entry e;
	} u = { .m.nmsrs = 1, .e.index = index, .e.data = data };

	if (ioctl(vcpu->fd, SHV_SET_MSRS, &u) != 1)
		shv_fail("SHV_SET_MSRS %#x: %s", index, strerror(errno));
}

struct shv_vcpu_stats shv_vcpu_stats(struct shv_vcpu *vcpu)
{
	struct shv_vcpu_stats s;

	if (ioctl(vcpu->fd, SHV_GET_VCPU_STATS, &s))
		shv_fail("SHV_GET_VCPU_STATS: %s", strerror(errno));
	return s;
}

long shv_cap(long cap)
{
	int sys = shv_open_dev();
	long r = ioctl(sys, SHV_CHECK_EXTENSION, cap);

	close(sys);
	return r;
}

int shv_run_raw(struct shv_vcpu *vcpu)
{
	return ioctl(vcpu->fd, SHV_RUN, 0);
}

uint32_t __shv_run(const char *f, int l, struct shv_vcpu *vcpu)
{
	int r;

	do {
		r = shv_run_raw(vcpu);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		__shv_fail(f, l, "SHV_RUN failed: %s", strerror(errno));
	return vcpu->run->exit_reason;
}

const char *shv_exit_name(uint32_t reason)
{
	switch (reason) {
	case SHV_EXIT_UNKNOWN: return "UNKNOWN";
	case SHV_EXIT_IO: return "IO";
	case SHV_EXIT_HLT: return "HLT";
	case SHV_EXIT_MMIO: return "MMIO";
	case SHV_EXIT_SHUTDOWN: return "SHUTDOWN";
	case SHV_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case SHV_EXIT_INTR: return "INTR";
	case SHV_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case SHV_EXIT_HYPERCALL: return "HYPERCALL";
	case SHV_EXIT_RING: return "RING";
	}
	return "?";
}

const char *shv_describe_exit(struct shv_vcpu *vcpu)
{
	static __thread char buf[256];
	struct shv_run *run = vcpu->run;
	struct shv_regs regs;
	uint64_t rip = ~0ULL;

	if (!ioctl(vcpu->fd, SHV_GET_REGS, &regs))
		rip = regs.rip;

	switch (run->exit_reason) {
	case SHV_EXIT_IO:
		snprintf(buf, sizeof(buf),
			 "IO %s port %#x size %u count %u data %#llx (rip %#llx)",
			 run->io.direction == SHV_EXIT_IO_OUT ? "out" : "in",
			 run->io.port, run->io.size, run->io.count,
			 (unsigned long long)shv_le(run->io.data, 4),
			 (unsigned long long)rip);
		break;
	case SHV_EXIT_MMIO:
		snprintf(buf, sizeof(buf),
			 "MMIO %s gpa %#llx len %u data %#llx (rip %#llx)",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len,
			 (unsigned long long)shv_le(run->mmio.data, 8),
			 (unsigned long long)rip);
		break;
	case SHV_EXIT_INTERNAL_ERROR:
		snprintf(buf, sizeof(buf),
			 "INTERNAL_ERROR suberror %u ndata %u data %#llx %#llx %#llx %#llx (rip %#llx)",
			 run->internal.suberror, run->internal.ndata,
			 (unsigned long long)run->internal.data[0],
			 (unsigned long long)run->internal.data[1],
			 (unsigned long long)run->internal.data[2],
			 (unsigned long long)run->internal.data[3],
			 (unsigned long long)rip);
		break;
	case SHV_EXIT_UNKNOWN:
	case SHV_EXIT_FAIL_ENTRY:
		snprintf(buf, sizeof(buf),
			 "%s hw reason %#llx info1 %#llx info2 %#llx (rip %#llx)",
			 shv_exit_name(run->exit_reason),
			 (unsigned long long)run->hw.hardware_exit_reason,
			 (unsigned long long)run->hw.info1,
			 (unsigned long long)run->hw.info2,
			 (unsigned long long)rip);
		break;
	case SHV_EXIT_HYPERCALL:
		snprintf(buf, sizeof(buf), "HYPERCALL nr %#llx (rip %#llx)",
			 (unsigned long long)run->hypercall.nr,
			 (unsigned long long)rip);
		break;
	default:
		snprintf(buf, sizeof(buf), "%s (%u) (rip %#llx)",
			 shv_exit_name(run->exit_reason), run->exit_reason,
			 (unsigned long long)rip);
	}
	return buf;
}

void __shv_expect_exit(const char *f, int l, struct shv_vcpu *vcpu,
		       uint32_t reason)
{
	uint32_t r = __shv_run(f, l, vcpu);

	if (r != reason)
		__shv_fail(f, l, "expected exit %s, got %s",
			   shv_exit_name(reason), shv_describe_exit(vcpu));
}

static void fail_unexpected(const char *f, int l, struct shv_vcpu *vcpu,
			    const char *what)
{
	struct shv_run *run = vcpu->run;

	if (run->exit_reason == SHV_EXIT_IO &&
	    run->io.direction == SHV_EXIT_IO_OUT && run->io.port == PORT_FAIL)
		__shv_fail(f, l, "guest reported failure %#llx while %s",
			   (unsigned long long)shv_le(run->io.data, run->io.size),
			   what);
	__shv_fail(f, l, "%s, got %s", what, shv_describe_exit(vcpu));
}

uint64_t __shv_expect_report(const char *f, int l, struct shv_vcpu *vcpu)
{
	struct shv_run *run = vcpu->run;

	__shv_run(f, l, vcpu);
	if (run->exit_reason != SHV_EXIT_IO ||
	    run->io.direction != SHV_EXIT_IO_OUT ||
	    run->io.port != PORT_REPORT ||
	    (run->io.size != 1 && run->io.size != 2 && run->io.size != 4) ||
	    run->io.count != 1)
		fail_unexpected(f, l, vcpu, "expecting a report");
	return shv_le(run->io.data, run->io.size);
}

uint64_t __shv_expect_report64(const char *f, int l, struct shv_vcpu *vcpu)
{
	uint64_t lo = __shv_expect_report(f, l, vcpu);
	uint64_t hi = __shv_expect_report(f, l, vcpu);

	return lo | hi << 32;
}

void __shv_expect_done(const char *f, int l, struct shv_vcpu *vcpu)
{
	struct shv_run *run = vcpu->run;

	__shv_run(f, l, vcpu);
	if (run->exit_reason != SHV_EXIT_IO ||
	    run->io.direction != SHV_EXIT_IO_OUT ||
	    run->io.port != PORT_DONE)
		fail_unexpected(f, l, vcpu, "expecting done");
}

struct shv_run *__shv_expect_io(const char *f, int l, struct shv_vcpu *vcpu,
				uint8_t dir, uint16_t port, uint8_t size)
{
	struct shv_run *run = vcpu->run;
	char what[96];

	__shv_run(f, l, vcpu);
	if (run->exit_reason != SHV_EXIT_IO || run->io.direction != dir ||
	    run->io.port != port || run->io.size != size ||
	    run->io.count != 1) {
		snprintf(what, sizeof(what),
			 "expecting IO %s port %#x size %u count 1",
			 dir == SHV_EXIT_IO_OUT ? "out" : "in", port, size);
		fail_unexpected(f, l, vcpu, what);
	}
	return run;
}

void shv_fill_random(void *p, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY);
	size_t done = 0;

	SHV_CHECK(fd >= 0, "/dev/urandom");
	while (done < len) {
		ssize_t r = read(fd, (char *)p + done, len - done);

		SHV_CHECK(r > 0, "read /dev/urandom");
		done += r;
	}
	close(fd);
}

int shv_make_image(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	SHV_CHECK(fd >= 0, "create %s", path);
	SHV_CHECK(!ftruncate(fd, size), "ftruncate");
	return fd;
}

const char *shv_which(const char *name)
{
	static const char *const dirs[] = { "/sbin", "/usr/sbin", "/bin",
					    "/usr/bin" };
	char path[256];
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (!access(path, X_OK))
			return strdup(path);
	}
	return NULL;
}

int shv_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return r == -1 || !WIFEXITED(r) ? -1 : WEXITSTATUS(r);
}

void __shv_expect_io_str(const char *f, int l, struct shv_vcpu *vcpu,
			 uint8_t dir, uint16_t port, uint8_t size,
			 unsigned int n, void *buf)
{
	struct shv_run *run = vcpu->run;
	unsigned int done = 0;
	char what[128];

	while (done < n) {
		__shv_run(f, l, vcpu);
		if (run->exit_reason != SHV_EXIT_IO ||
		    run->io.direction != dir || run->io.port != port ||
		    run->io.size != size || !run->io.count ||
		    run->io.count > n - done ||
		    run->io.data_offset + (uint64_t)run->io.count * size >
		    SHV_RUN_PIO_DATA_OFFSET + SHV_RUN_PIO_DATA_SIZE) {
			snprintf(what, sizeof(what),
				 "expecting IO %s port %#x size %u, %u more elements",
				 dir == SHV_EXIT_IO_OUT ? "out" : "in", port,
				 size, n - done);
			fail_unexpected(f, l, vcpu, what);
		}
		if (dir == SHV_EXIT_IO_OUT)
			memcpy((uint8_t *)buf + done * size,
			       (uint8_t *)run + run->io.data_offset,
			       run->io.count * size);
		else
			memcpy((uint8_t *)run + run->io.data_offset,
			       (uint8_t *)buf + done * size,
			       run->io.count * size);
		done += run->io.count;
	}
}

struct shv_run *__shv_expect_mmio(const char *f, int l, struct shv_vcpu *vcpu,
				  uint64_t gpa, uint32_t len, bool is_write)
{
	struct shv_run *run = vcpu->run;
	char what[96];

	__shv_run(f, l, vcpu);
	if (run->exit_reason != SHV_EXIT_MMIO || run->mmio.phys_addr != gpa ||
	    run->mmio.len != len || !!run->mmio.is_write != is_write) {
		snprintf(what, sizeof(what), "expecting MMIO %s gpa %#llx len %u",
			 is_write ? "write" : "read", (unsigned long long)gpa,
			 len);
		fail_unexpected(f, l, vcpu, what);
	}
	return run;
}

uint64_t shv_le(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;

	while (len--)
		v = v << 8 | p[len];
	return v;
}

void shv_put_le(uint8_t *p, unsigned int len, uint64_t val)
{
	unsigned int i;

	for (i = 0; i < len; i++, val >>= 8)
		p[i] = val & 0xff;
}

/* ---- leak checks ---- */

/*
 * The files the snapshots use stay open: opening and closing them between
 * two snapshots would itself change the filp and kmalloc counts (files are
 * freed after an RCU grace period).
 */
#define MAX_SNAP_FDS 2048
static struct {
	char *path;
	int fd;
} snap_fds[MAX_SNAP_FDS];
static int nsnap_fds;

static int snap_fd(const char *path, int flags)
{
	int i, fd;

	for (i = 0; i < nsnap_fds; i++)
		if (!strcmp(snap_fds[i].path, path))
			return snap_fds[i].fd;
	fd = open(path, flags | O_CLOEXEC);
	if (nsnap_fds < MAX_SNAP_FDS) {
		snap_fds[nsnap_fds].path = strdup(path);
		snap_fds[nsnap_fds].fd = fd;
		nsnap_fds++;
	}
	return fd;
}

static void write_str(const char *path, const char *s)
{
	int fd = snap_fd(path, O_WRONLY);

	if (fd < 0)
		return;
	if (pwrite(fd, s, strlen(s), 0) < 0) {
		/* best effort */
	}
}

static void shrink_slabs(void)
{
	static char (*paths)[300];
	static int npaths = -1;
	struct dirent *de;
	DIR *d;
	int i;

	if (npaths < 0) {
		npaths = 0;
		paths = calloc(MAX_SNAP_FDS, sizeof(*paths));
		d = opendir("/sys/kernel/slab");
		while (paths && d && (de = readdir(d)) &&
		       npaths < MAX_SNAP_FDS - 16) {
			if (de->d_name[0] == '.' || de->d_name[0] == ':')
				continue;
			snprintf(paths[npaths++], sizeof(*paths),
				 "/sys/kernel/slab/%s/shrink", de->d_name);
		}
		if (d)
			closedir(d);
	}
	for (i = 0; i < npaths; i++)
		write_str(paths[i], "1");
}

static long meminfo_kb(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);

	if (!p)
		return -1;
	return strtol(p + strlen(key), NULL, 10);
}

static size_t read_file(const char *path, char *buf, size_t size)
{
	int fd = snap_fd(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;

	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		shv_fail("open %s: %s", path, strerror(errno));
	while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	return n;
}

static bool watched_cache(const char *name)
{
	static const char *const exact[] = {
		"filp", "mm_struct", "task_struct", "signal_cache",
		"files_cache", "anon_vma", "vm_area_struct", "sighand_cache",
	};
	size_t i;

	if (strstr(name, "kmalloc-") || strstr(name, "shv"))
		return true;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return false;
}

void shv_memsnap(struct shv_memsnap *s)
{
	static char buf[1 << 20];
	char *line, *save;
	long v;

	memset(s, 0, sizeof(*s));
	write_str("/proc/sys/vm/drop_caches", "3");
	shrink_slabs();
	write_str("/proc/sys/vm/stat_refresh", "1");

	/* free pages: per zone "pages free N" plus per-cpu "count: N" */
	read_file("/proc/zoneinfo", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, " pages free %ld", &v) == 1)
			s->free_pages += v;
		else if (sscanf(line, " count: %ld", &v) == 1)
			s->free_pages += v;
	}
	SHV_CHECK(s->free_pages > 0, "no free page counts in /proc/zoneinfo");

	read_file("/proc/meminfo", buf, sizeof(buf));
	s->slab_kb = meminfo_kb(buf, "\nSlab:");
	s->vmalloc_kb = meminfo_kb(buf, "\nVmallocUsed:");
	s->pagetables_kb = meminfo_kb(buf, "\nPageTables:");
	SHV_CHECK(s->slab_kb >= 0 && s->vmalloc_kb >= 0 && s->pagetables_kb >= 0,
		  "/proc/meminfo lacks Slab/VmallocUsed/PageTables");

	/* /proc/slabinfo: "name active_objs num_objs ..." */
	read_file("/proc/slabinfo", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[40];

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%39s %ld", name, &v) != 2)
			continue;
		if (!watched_cache(name) || s->ncaches >= SHV_MAX_CACHES)
			continue;
		strcpy(s->caches[s->ncaches].name, name);
		s->caches[s->ncaches].active = v;
		s->ncaches++;
	}
	SHV_CHECK(s->ncaches > 0, "no kmalloc caches in /proc/slabinfo");
}

int shv_memsnap_compare(const struct shv_memsnap *b,
			const struct shv_memsnap *a, long cycles)
{
	long tol_pages = 32 + cycles / 4, tol_objs = 16 + cycles / 4;
	int i, j, bad = 0;

#define GROW(what, delta, tol) do {					\
	if ((delta) > (tol)) {						\
		fprintf(stderr, "# leak? %s grew by %ld (tolerance %ld, %ld cycles)\n", \
		       what, (long)(delta), (long)(tol), cycles);	\
		bad = 1;						\
	}								\
} while (0)

	fprintf(stderr, "# memsnap after %ld cycles: free pages %+ld, slab %+ld kB, vmalloc %+ld kB, page tables %+ld kB\n",
	       cycles, a->free_pages - b->free_pages, a->slab_kb - b->slab_kb,
	       a->vmalloc_kb - b->vmalloc_kb,
	       a->pagetables_kb - b->pagetables_kb);
	GROW("free pages (lost)", b->free_pages - a->free_pages, tol_pages);
	GROW("Slab pages", (a->slab_kb - b->slab_kb) / 4, tol_pages);
	GROW("VmallocUsed pages", (a->vmalloc_kb - b->vmalloc_kb) / 4, tol_pages);
	GROW("PageTables pages", (a->pagetables_kb - b->pagetables_kb) / 4,
	     tol_pages);
	for (i = 0; i < a->ncaches; i++) {
		long before = 0;

		for (j = 0; j < b->ncaches; j++)
			if (!strcmp(b->caches[j].name, a->caches[i].name))
				before = b->caches[j].active;
		if (a->caches[i].active - before > tol_objs) {
			char what[64];

			snprintf(what, sizeof(what), "slab cache %s objects",
				 a->caches[i].name);
			GROW(what, a->caches[i].active - before, tol_objs);
		}
	}
#undef GROW
	return bad ? -1 : 0;
}

int shv_leak_check(const struct shv_memsnap *before, long cycles)
{
	static struct shv_memsnap after;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		/* let RCU callbacks and deferred work run */
		sleep(tries ? 2 : 1);
		shv_memsnap(&after);
		if (!shv_memsnap_compare(before, &after, cycles))
			return 0;
		fprintf(stderr, "# leak check: not settled after try %d\n", tries + 1);
	}
	return -1;
}
