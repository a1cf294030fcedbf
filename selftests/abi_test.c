// SPDX-License-Identifier: GPL-2.0
/*
 * abi_test: every ioctl with bad input fails with the documented errno,
 * changes nothing, and the fd keeps working afterwards.
 */
#include <cpuid.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>

#include "kselftest_harness.h"
#include "shv_util.h"

#define ASSERT_EQ64(e, s) ASSERT_EQ((uint64_t)(e), (uint64_t)(s))

DECLARE_GUEST(tiny16);
DECLARE_GUEST(tiny32);
DECLARE_GUEST(tiny64);
DECLARE_GUEST(hltonly);
DECLARE_GUEST(read1m32);

#define MSR_LSTAR		0xc0000082
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_BOGUS		0xdeadbeef

#define NONCANON		0x0000800000000000ULL

static long cap(int sys, long c)
{
	return ioctl(sys, SHV_CHECK_EXTENSION, c);
}

TEST(api_version)
{
	int sys = shv_open_dev();

	ASSERT_EQ(SHV_API_VERSION, ioctl(sys, SHV_GET_API_VERSION, 0));
}

TEST(check_extension)
{
	int sys = shv_open_dev();
	long v;

	v = cap(sys, SHV_CAP_NR_VCPUS);
	ASSERT_GE(v, 1);
	ASSERT_LE(v, SHV_MAX_VCPUS);
	v = cap(sys, SHV_CAP_NR_MEMSLOTS);
	ASSERT_GE(v, 1);
	ASSERT_LE(v, SHV_MAX_MEMSLOTS);
	v = cap(sys, SHV_CAP_VENDOR);
	ASSERT_TRUE(v == SHV_VENDOR_SVM || v == SHV_VENDOR_VMX);
	ASSERT_GE(cap(sys, SHV_CAP_READONLY_MEM), 0);
	ASSERT_GE(cap(sys, SHV_CAP_NESTED_PAGING), 0);
	ASSERT_GE(cap(sys, SHV_CAP_SHADOW_PAGING), 0);
	ASSERT_GE(cap(sys, SHV_CAP_EXIT_RING), 0);
	/* a usable MMU exists */
	ASSERT_TRUE(cap(sys, SHV_CAP_NESTED_PAGING) > 0 ||
		    cap(sys, SHV_CAP_SHADOW_PAGING) > 0);
	v = cap(sys, SHV_CAP_DEFAULT_MMU);
	ASSERT_TRUE(v == SHV_VM_MMU_NESTED || v == SHV_VM_MMU_SHADOW);
	if (v == SHV_VM_MMU_NESTED)
		ASSERT_GT(cap(sys, SHV_CAP_NESTED_PAGING), 0);
	if (v == SHV_VM_MMU_SHADOW)
		ASSERT_GT(cap(sys, SHV_CAP_SHADOW_PAGING), 0);
	/* unknown capabilities are 0 */
	ASSERT_EQ(0, cap(sys, 0));
	ASSERT_EQ(0, cap(sys, 64));
	ASSERT_EQ(0, cap(sys, 1000));
	ASSERT_EQ(0, cap(sys, 0xffffffffL));
	ASSERT_EQ(0, cap(sys, -1L));
}

TEST(vcpu_mmap_size)
{
	int sys = shv_open_dev();
	int size = ioctl(sys, SHV_GET_VCPU_MMAP_SIZE, 0);

	ASSERT_GE(size, 4096);
	ASSERT_EQ(0, size % 4096);
}

TEST(create_vm_flags)
{
	int sys = shv_open_dev();
	unsigned long bad[] = { 0x4, 0x100, 1UL << 31, 1UL << 32, ~0UL };
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_ERRNO(EINVAL, ioctl(sys, SHV_CREATE_VM, bad[i]));

	/* NESTED|SHADOW at once makes no sense */
	fd = ioctl(sys, SHV_CREATE_VM, SHV_VM_MMU_MASK);
	ASSERT_EQ(-1, fd);
	ASSERT_TRUE(errno == EINVAL || errno == EOPNOTSUPP);

	/* the MMU flags work exactly when the capability says so */
	fd = ioctl(sys, SHV_CREATE_VM, SHV_VM_MMU_NESTED);
	if (cap(sys, SHV_CAP_NESTED_PAGING) > 0) {
		ASSERT_GE(fd, 0);
	} else {
		ASSERT_EQ(-1, fd);
	}
	if (fd >= 0)
		close(fd);
	fd = ioctl(sys, SHV_CREATE_VM, SHV_VM_MMU_SHADOW);
	if (cap(sys, SHV_CAP_SHADOW_PAGING) > 0) {
		ASSERT_GE(fd, 0);
		close(fd);
	} else {
		ASSERT_EQ(-1, fd);
		ASSERT_EQ(EOPNOTSUPP, errno);
	}

	fd = ioctl(sys, SHV_CREATE_VM, SHV_VM_MMU_DEFAULT);
	ASSERT_GE(fd, 0);
	ASSERT_GE(ioctl(fd, SHV_CREATE_VCPU, 0), 0);
}

/* ioctls sent to the wrong kind of fd, unknown ioctls */
TEST(wrong_fd_kind)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	int sys = vm->sys_fd;
	/* big enough for any argument, so EFAULT cannot interfere */
	static char buf[65536];
	const unsigned long unknown[] = {
		_IO(SHVIO, 0x02), _IO(SHVIO, 0x7f), _IO(SHVIO, 0xff),
		_IOR(SHVIO, 0x81, uint32_t),	/* GET_REGS nr, bad size */
		_IOW(SHVIO, 0x46, uint64_t),	/* SET_USER_MEMORY_REGION nr */
		_IO('Q', 0x80), TCGETS,
	};
	int fds[3] = { sys, vm->fd, v->fd };
	unsigned int i;

	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_CREATE_VCPU, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_SET_USER_MEMORY_REGION, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_RUN, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_GET_REGS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_SET_SREGS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_GET_MSRS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_SET_CPUID, buf));

	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_CREATE_VM, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_GET_API_VERSION, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_GET_VCPU_MMAP_SIZE, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_RUN, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_GET_REGS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_SET_REGS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_GET_SREGS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_SET_MSRS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(vm->fd, SHV_SET_CPUID, buf));

	ASSERT_ERRNO(ENOTTY, ioctl(v->fd, SHV_CREATE_VM, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(v->fd, SHV_GET_API_VERSION, 0));
	ASSERT_ERRNO(ENOTTY, ioctl(v->fd, SHV_CREATE_VCPU, 1));
	ASSERT_ERRNO(ENOTTY, ioctl(v->fd, SHV_SET_USER_MEMORY_REGION, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(v->fd, SHV_GET_MMU_STATS, buf));
	ASSERT_ERRNO(ENOTTY, ioctl(sys, SHV_GET_MMU_STATS, buf));

	for (i = 0; i < 3; i++) {
		unsigned int j;

		for (j = 0; j < sizeof(unknown) / sizeof(unknown[0]); j++) {
			errno = 0;
			ASSERT_EQ(-1, ioctl(fds[i], unknown[j], buf))
				TH_LOG("fd kind %u, ioctl %#lx", i, unknown[j]);
			ASSERT_EQ(ENOTTY, errno)
				TH_LOG("fd kind %u, ioctl %#lx", i, unknown[j]);
		}
	}

	/* everything still works */
	ASSERT_EQ(SHV_API_VERSION, ioctl(sys, SHV_GET_API_VERSION, 0));
	ASSERT_GE(ioctl(vm->fd, SHV_CREATE_VCPU, 1), 0);
	shv_load_guest(vm, CODE_GPA, tiny16);
	shv_vcpu_setup(v, MODE_REAL, CODE_GPA);
	ASSERT_EQ64(0x77, shv_expect_report(v));
	shv_expect_done(v);
}

TEST(bad_pointers)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	void *kaddr = (void *)0xffff888000000000UL;
	struct shv_regs regs;

	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_SET_REGS, NULL));
	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_GET_REGS, (void *)8));
	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_SET_SREGS, kaddr));
	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_GET_SREGS, kaddr));
	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_GET_MSRS, NULL));
	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_SET_MSRS, kaddr));
	ASSERT_ERRNO(EFAULT, ioctl(v->fd, SHV_SET_CPUID, NULL));
	ASSERT_ERRNO(EFAULT, ioctl(vm->fd, SHV_SET_USER_MEMORY_REGION, NULL));
	ASSERT_ERRNO(EFAULT, ioctl(vm->fd, SHV_GET_MMU_STATS, kaddr));
	ASSERT_EQ(0, ioctl(v->fd, SHV_GET_REGS, &regs));
	ASSERT_EQ64(0xfff0, regs.rip);
}

TEST(memslot_bad_slot)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	long n = cap(vm->sys_fd, SHV_CAP_NR_MEMSLOTS);
	void *p = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t u = (uintptr_t)p;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, SHV_MAX_MEMSLOTS, 0, 0,
					    0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, n, 0, 0, 0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0xffffffff, 0, 0,
					    0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0x80000000, 0, 0,
					    0x1000, u));
	ASSERT_EQ(0, shv_set_region(vm->fd, n - 1, 0, 0, 0x1000, u));
}

TEST(memslot_bad_flags)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	void *p = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t bad[] = { 2, 4, 0x100, 0x80000000, 0xffffffff };
	unsigned int i;

	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, bad[i], 0,
						    0x1000, (uintptr_t)p));
	ASSERT_EQ(0, shv_set_region(vm->fd, 0, 0, 0, 0x1000, (uintptr_t)p));
}

TEST(memslot_unaligned)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	char *p = mmap(NULL, 0x3000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t u = (uintptr_t)p;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0x800, 0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0x1001, 0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1800, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1000, u + 8));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1000,
					    u + 0x800));
	ASSERT_EQ(0, shv_set_region(vm->fd, 0, 0, 0, 0x3000, u));
}

TEST(memslot_gpa_range)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	char *p = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t lim = 1ULL << SHV_MAX_PHYS_BITS;
	uintptr_t u = (uintptr_t)p;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, lim, 0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, lim - 0x1000,
					    0x2000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 1ULL << 60,
					    0x1000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0,
					    0xfffffffffffff000ULL, 0x2000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0x1000,
					    0xfffffffffffff000ULL, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, lim + 0x1000, u));
	/* the last page below the limit is fine */
	ASSERT_EQ(0, shv_set_region(vm->fd, 0, 0, lim - 0x1000, 0x1000, u));
}

TEST(memslot_bad_uaddr)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	char *p = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	/* wrapping */
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x2000,
					    0xfffffffffffff000ULL));
	/* kernel addresses */
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1000,
					    0xffff888000000000ULL));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1000,
					    0xffffffff81000000ULL));
	/* non-canonical, and straddling the end of user space */
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x1000,
					    NONCANON));
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0, 0x2000,
					    0x00007ffffffff000ULL));
	/* a user range that ends in the kernel */
	ASSERT_ERRNO(EINVAL, shv_set_region(vm->fd, 0, 0, 0,
					    0x0001000000000000ULL,
					    (uintptr_t)p));
	ASSERT_EQ(0, shv_set_region(vm->fd, 0, 0, 0, 0x1000, (uintptr_t)p));
}

TEST(memslot_overlap)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	char *p = mmap(NULL, 0x40000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t u = (uintptr_t)p;
	int fd = vm->fd;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, shv_set_region(fd, 0, 0, 0x100000, 0x10000, u));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, 0, 0x100000, 0x10000,
					    u + 0x10000));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, 0, 0x108000, 0x10000,
					    u + 0x10000));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, 0, 0xf8000, 0x10000,
					    u + 0x10000));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, 0, 0xf0000, 0x30000,
					    u + 0x10000));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, 0, 0x104000, 0x1000,
					    u + 0x10000));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, 0, 0x10f000, 0x1000,
					    u + 0x10000));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 1, SHV_MEM_READONLY, 0x100000,
					    0x1000, u + 0x10000));
	/* adjacent on both sides is fine */
	ASSERT_EQ(0, shv_set_region(fd, 1, 0, 0x110000, 0x1000, u + 0x10000));
	ASSERT_EQ(0, shv_set_region(fd, 2, 0, 0xff000, 0x1000, u + 0x11000));
	/* after deleting slot 0 its range is free */
	ASSERT_EQ(0, shv_set_region(fd, 0, 0, 0x100000, 0, u));
	ASSERT_EQ(0, shv_set_region(fd, 3, 0, 0x100000, 0x10000, u + 0x20000));
}

TEST(memslot_modify)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	char *p = mmap(NULL, 0x40000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t u = (uintptr_t)p;
	int fd = vm->fd;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, shv_set_region(fd, 0, 0, 0x100000, 0x10000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(fd, 0, 0, 0x100000, 0x20000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(fd, 0, 0, 0x200000, 0x10000, u));
	ASSERT_ERRNO(EINVAL, shv_set_region(fd, 0, 0, 0x100000, 0x10000,
					    u + 0x10000));
	/* delete, then re-add with other values */
	ASSERT_EQ(0, shv_set_region(fd, 0, 0, 0x100000, 0, u));
	ASSERT_EQ(0, shv_set_region(fd, 0, 0, 0x200000, 0x20000, u + 0x10000));
	/* the old range is free now, the new one is not */
	ASSERT_EQ(0, shv_set_region(fd, 1, 0, 0x100000, 0x10000, u));
	ASSERT_ERRNO(EEXIST, shv_set_region(fd, 2, 0, 0x210000, 0x1000, u));
}

/* Memory that is not mapped in the runner: found when the guest touches it */
TEST(memslot_unmapped_user_memory)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	struct shv_regs regs;
	void *p;
	int r;

	shv_load_guest(vm, CODE_GPA, read1m32);
	shv_vcpu_setup(v, MODE_PROT32, CODE_GPA);
	p = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, 0x2000));
	ASSERT_EQ(0, shv_set_region(vm->fd, 1, 0, 0x100000, 0x2000,
				    (uintptr_t)p));
	r = shv_run_raw(v);
	if (r < 0) {
		ASSERT_EQ(EFAULT, errno);
	} else {
		ASSERT_EQ(SHV_EXIT_INTERNAL_ERROR, v->run->exit_reason)
			TH_LOG("got %s", shv_describe_exit(v));
	}
	ASSERT_EQ(0, ioctl(v->fd, SHV_GET_REGS, &regs));
}

TEST(vcpu_ids)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	long n = cap(vm->sys_fd, SHV_CAP_NR_VCPUS);
	int fd;

	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_CREATE_VCPU, SHV_MAX_VCPUS));
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_CREATE_VCPU, 0xffffffffUL));
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_CREATE_VCPU, 1UL << 32));
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_CREATE_VCPU, -1L));
	fd = ioctl(vm->fd, SHV_CREATE_VCPU, 0);
	ASSERT_GE(fd, 0);
	ASSERT_ERRNO(EEXIST, ioctl(vm->fd, SHV_CREATE_VCPU, 0));
	ASSERT_GE(n, 2);
	fd = ioctl(vm->fd, SHV_CREATE_VCPU, n - 1);
	ASSERT_GE(fd, 0);
	ASSERT_ERRNO(EEXIST, ioctl(vm->fd, SHV_CREATE_VCPU, n - 1));
	if (n > 2)
		ASSERT_GE(ioctl(vm->fd, SHV_CREATE_VCPU, 1), 0);
}

TEST(vcpu_reset_state)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	struct shv_regs regs;
	struct shv_sregs sr;

	shv_get_regs(v, &regs);
	shv_get_sregs(v, &sr);
	ASSERT_EQ64(0xfff0, regs.rip);
	ASSERT_EQ64(2, regs.rflags);
	ASSERT_NE(0ULL, regs.rdx);
	ASSERT_EQ64(0, regs.rax | regs.rbx | regs.rcx | regs.rsi | regs.rdi |
		       regs.rsp | regs.rbp | regs.r8 | regs.r15);
	ASSERT_EQ64(0xf000, sr.cs.selector);
	ASSERT_EQ64(0xffff0000, sr.cs.base);
	ASSERT_EQ64(0xffff, sr.cs.limit);
	ASSERT_EQ64(1, sr.cs.present);
	ASSERT_EQ64(0, sr.ds.base);
	ASSERT_EQ64(0xffff, sr.ds.limit);
	ASSERT_EQ64(0x60000010, sr.cr0);
	ASSERT_EQ64(0, sr.cr3);
	ASSERT_EQ64(0, sr.cr4);
	ASSERT_EQ64(0, sr.efer);
	ASSERT_EQ64(0xffff, sr.idt.limit);
}

TEST(regs_roundtrip)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(), 0);
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	struct shv_regs in, out;
	uint64_t *w = (uint64_t *)&in;
	unsigned int i;

	for (i = 0; i < sizeof(in) / 8; i++)
		w[i] = 0x0101010101010101ULL * (i + 1);
	in.rip = 0x1234;
	in.rflags = 0x2 | 0x1 | 0x4 | 0x80 | 0x800;	/* CF PF SF OF */
	shv_set_regs(v, &in);
	shv_get_regs(v, &out);
	ASSERT_EQ(0, memcmp(&in, &out, sizeof(in)));
}

static void check_sregs_equal(struct __test_metadata *_metadata,
			      const struct shv_sregs *a,
			      const struct shv_sregs *b)
{
	ASSERT_EQ64(a->cr0, b->cr0);
	ASSERT_EQ64(a->cr3, b->cr3);
	ASSERT_EQ64(a->cr4, b->cr4);
	ASSERT_EQ64(a->efer, b->efer);
	ASSERT_EQ64(a->cs.selector, b->cs.selector);
	ASSERT_EQ64(a->cs.base, b->cs.base);
	ASSERT_EQ64(a->cs.limit, b->cs.limit);
	ASSERT_EQ64(a->cs.l, b->cs.l);
	ASSERT_EQ64(a->cs.db, b->cs.db);
	ASSERT_EQ64(a->cs.type & 0xe, b->cs.type & 0xe);
	ASSERT_EQ64(a->cs.present, b->cs.present);
	ASSERT_EQ64(a->ss.selector, b->ss.selector);
	ASSERT_EQ64(a->fs.base, b->fs.base);
	ASSERT_EQ64(a->gs.base, b->gs.base);
	ASSERT_EQ64(a->tr.base, b->tr.base);
	ASSERT_EQ64(a->tr.selector, b->tr.selector);
	ASSERT_EQ64(a->gdt.base, b->gdt.base);
	ASSERT_EQ64(a->gdt.limit, b->gdt.limit);
	ASSERT_EQ64(a->idt.base, b->idt.base);
	ASSERT_EQ64(a->idt.limit, b->idt.limit);
}

TEST(sregs_roundtrip)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	enum shv_mode modes[] = { MODE_REAL, MODE_PROT32, MODE_LONG64 };
	struct shv_sregs in, out;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		shv_sregs_for_mode(v, modes[i], &in);
		if (modes[i] == MODE_LONG64) {
			in.fs.base = 0x00007fff12345000ULL;
			in.gs.base = 0xffff800000001000ULL;
		}
		shv_set_sregs(v, &in);
		shv_get_sregs(v, &out);
		check_sregs_equal(_metadata, &in, &out);
	}
}

/* Valid combinations that must not be rejected */
TEST(sregs_valid_combos)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	struct shv_sregs sr;

	shv_vm_write_tables(vm);
	/* 32-bit paging */
	shv_sregs_for_mode(v, MODE_PROT32, &sr);
	sr.cr0 |= 0x80000000;
	sr.cr3 = PML4_GPA;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
	/* 32-bit paging with 4 MiB pages */
	sr.cr4 |= 0x10;
	sr.cr3 = PD32_GPA;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
	/* PAE paging, legacy mode (CR3 -> valid PDPTEs) */
	shv_vcpu_set_paging32(v, PAGING32_PAE);
	shv_get_sregs(v, &sr);
	ASSERT_EQ64(0x20, sr.cr4 & 0x20);
	ASSERT_EQ64(PAE_PDPT_GPA, sr.cr3);
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
	/* EFER.LME before paging is on */
	shv_sregs_for_mode(v, MODE_PROT32, &sr);
	sr.cr4 = 0x20;
	sr.efer = 0x100;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
	/* CD and NW together */
	shv_sregs_for_mode(v, MODE_REAL, &sr);
	sr.cr0 = 0x60000010;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
	/* compatibility mode: long mode with a 32-bit CS */
	shv_sregs_for_mode(v, MODE_LONG64, &sr);
	sr.cs.l = 0;
	sr.cs.db = 1;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
}

enum bad_sreg {
	BAD_RESERVED0, BAD_RESERVED3, BAD_GDT_PAD, BAD_IDT_PAD, BAD_CS_PAD,
	BAD_SS_PAD, BAD_TR_PAD, BAD_PG_NO_PE, BAD_NW_NO_CD, BAD_CR0_HI32,
	BAD_CR0_BIT63, BAD_CR4_HI32, BAD_CR4_BIT63, BAD_EFER_BIT3,
	BAD_EFER_BIT63, BAD_LME_PG_NO_PAE, BAD_LMA_ALONE, BAD_LME_PG_NO_LMA,
	BAD_LMA_NO_PG, BAD_CS_L_DB, BAD_FS_BASE, BAD_GS_BASE, BAD_TR_BASE,
	BAD_GDT_BASE, BAD_IDT_BASE, BAD_CR3_BIT52, BAD_CR3_BIT63,
	BAD_NR
};

static const char *const bad_sreg_names[BAD_NR] = {
	"reserved[0]", "reserved[3]", "gdt.padding", "idt.padding",
	"cs.padding", "ss.padding", "tr.padding", "CR0.PG without PE",
	"CR0.NW without CD", "CR0 bit 32", "CR0 bit 63", "CR4 bit 32",
	"CR4 bit 63", "EFER bit 3", "EFER bit 63", "LME+PG without PAE",
	"LMA without LME/PG", "LME+PG without LMA", "LMA without PG",
	"CS.L with CS.DB", "non-canonical FS base", "non-canonical GS base",
	"non-canonical TR base", "non-canonical GDT base",
	"non-canonical IDT base", "CR3 bit 52", "CR3 bit 63",
};

/* From a valid long-mode (or real-mode) state, break one thing */
static enum shv_mode make_bad(enum bad_sreg b, struct shv_sregs *sr)
{
	switch (b) {
	case BAD_RESERVED0: sr->reserved[0] = 1; break;
	case BAD_RESERVED3: sr->reserved[3] = 1; break;
	case BAD_GDT_PAD: sr->gdt.padding[0] = 1; break;
	case BAD_IDT_PAD: sr->idt.padding[2] = 1; break;
	case BAD_CS_PAD: sr->cs.padding = 1; break;
	case BAD_SS_PAD: sr->ss.padding = 0x80; break;
	case BAD_TR_PAD: sr->tr.padding = 1; break;
	case BAD_PG_NO_PE: sr->cr0 = 0x80000010; return MODE_REAL;
	case BAD_NW_NO_CD: sr->cr0 = 0x20000010; return MODE_REAL;
	case BAD_CR0_HI32: sr->cr0 |= 1ULL << 32; break;
	case BAD_CR0_BIT63: sr->cr0 |= 1ULL << 63; break;
	case BAD_CR4_HI32: sr->cr4 |= 1ULL << 32; break;
	case BAD_CR4_BIT63: sr->cr4 |= 1ULL << 63; break;
	case BAD_EFER_BIT3: sr->efer |= 1ULL << 3; break;
	case BAD_EFER_BIT63: sr->efer |= 1ULL << 63; break;
	case BAD_LME_PG_NO_PAE: sr->cr4 &= ~0x20ULL; break;
	case BAD_LMA_ALONE: sr->efer = 0x400; return MODE_REAL;
	case BAD_LME_PG_NO_LMA: sr->efer = 0x100; break;
	case BAD_LMA_NO_PG: sr->cr0 &= ~0x80000000ULL; break;
	case BAD_CS_L_DB: sr->cs.db = 1; break;
	case BAD_FS_BASE: sr->fs.base = NONCANON; break;
	case BAD_GS_BASE: sr->gs.base = 0xfff0000000000000ULL; break;
	case BAD_TR_BASE: sr->tr.base = NONCANON; break;
	case BAD_GDT_BASE: sr->gdt.base = NONCANON; break;
	case BAD_IDT_BASE: sr->idt.base = 0x8000000000000000ULL; break;
	case BAD_CR3_BIT52: sr->cr3 |= 1ULL << 52; break;
	case BAD_CR3_BIT63: sr->cr3 |= 1ULL << 63; break;
	case BAD_NR: break;
	}
	return MODE_LONG64;
}

TEST(sregs_invalid)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	struct shv_sregs good, bad, now;
	int b;

	shv_vm_write_tables(vm);
	for (b = 0; b < BAD_NR; b++) {
		enum shv_mode m;

		/* which base state does this case start from? */
		shv_sregs_for_mode(v, MODE_LONG64, &bad);
		m = make_bad(b, &bad);
		shv_sregs_for_mode(v, m, &good);
		shv_set_sregs(v, &good);
		bad = good;
		make_bad(b, &bad);

		errno = 0;
		ASSERT_EQ(-1, ioctl(v->fd, SHV_SET_SREGS, &bad))
			TH_LOG("%s accepted", bad_sreg_names[b]);
		ASSERT_EQ(EINVAL, errno)
			TH_LOG("%s: errno %d", bad_sreg_names[b], errno);
		/* nothing of the bad state was applied */
		shv_get_sregs(v, &now);
		check_sregs_equal(_metadata, &good, &now);
	}

	/* the vCPU still runs a 64-bit guest */
	shv_load_guest(vm, CODE_GPA, tiny64);
	shv_vcpu_setup(v, MODE_LONG64, CODE_GPA);
	ASSERT_EQ64(0x64646464, shv_expect_report(v));
	shv_expect_done(v);
}

#define CR4_PAE		(1ULL << 5)
#define CR4_UMIP	(1ULL << 11)
#define CR4_PCIDE	(1ULL << 17)

/* CPUID.1:ECX.PCID of the host */
static bool host_has_pcid(void)
{
	uint32_t a, b, c, d;

	__cpuid(1, a, b, c, d);
	return c & (1u << 17);
}

/*
 * CR4.PCIDE in SET_SREGS: only in long mode (compatibility mode too),
 * only where PCIDs are offered (the shadow MMU always, nested paging when
 * the CPU has them); CR3 then keeps a PCID in bits 11:0 and the guest
 * runs with it.  Bit 63 of CR3 (no-flush) is never part of the register.
 * CR4.UMIP is never offered.  Under each MMU the host offers.
 */
TEST(sregs_pcid)
{
	static const unsigned long mmus[] = {
		SHV_VM_MMU_SHADOW, SHV_VM_MMU_NESTED,
	};
	int i, fd = shv_open_dev(), tested = 0;

	for (i = 0; i < 2; i++) {
		bool shadow = mmus[i] == SHV_VM_MMU_SHADOW;
		bool offered = shadow || host_has_pcid();
		struct shv_sregs sr, bad, got;
		struct shv_vcpu *v;
		struct shv_vm *vm;

		if (ioctl(fd, SHV_CHECK_EXTENSION, shadow ?
			  SHV_CAP_SHADOW_PAGING : SHV_CAP_NESTED_PAGING) <= 0) {
			TH_LOG("%s MMU not offered", shadow ? "shadow" : "nested");
			continue;
		}
		vm = shv_vm_create_bare(fd, mmus[i]);
		shv_vm_add_mem(vm, 0, 0, RAM_SIZE, 0);
		shv_load_guest(vm, CODE_GPA, tiny64);
		v = shv_vcpu_create(vm, 0);
		shv_vcpu_setup(v, MODE_LONG64, CODE_GPA);
		shv_get_sregs(v, &sr);
		sr.cr4 |= CR4_PCIDE;
		sr.cr3 = PML4_GPA | 7;
		if (!offered) {
			ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_SREGS, &sr));
		} else {
			bad = sr;
			bad.cr3 |= 1ULL << 63;
			ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_SREGS, &bad));
			bad = sr;
			bad.cs.l = 0;
			bad.cs.db = 1;
			ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &bad));
			ASSERT_EQ(0, ioctl(v->fd, SHV_SET_SREGS, &sr));
			shv_get_sregs(v, &got);
			ASSERT_EQ64(PML4_GPA | 7, got.cr3);
			ASSERT_EQ64(CR4_PCIDE, got.cr4 & CR4_PCIDE);
			/* the guest runs under PCID 7 */
			ASSERT_EQ64(0x64646464, shv_expect_report(v));
			shv_expect_done(v);
		}
		/* outside long mode, never */
		shv_sregs_for_mode(v, MODE_PROT32, &bad);
		bad.cr4 |= CR4_PAE | CR4_PCIDE;
		ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_SREGS, &bad));
		shv_sregs_for_mode(v, MODE_LONG64, &bad);
		bad.cr4 |= CR4_UMIP;
		ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_SREGS, &bad));
		shv_vcpu_free(v);
		shv_vm_free(vm);
		tested++;
	}
	close(fd);
	ASSERT_GT(tested, 0);
}

/*
 * Nonsense CS state in protected mode: SET_SREGS may refuse it (EINVAL);
 * if it accepts, SHV_RUN must come back (any exit or error), not hang.
 */
TEST(bad_segment_state)
{
	int i;

	for (i = 0; i < 3; i++) {
		struct shv_vm *vm = shv_vm_create();
		struct shv_vcpu *v = shv_vcpu_create(vm, 0);
		struct shv_regs regs;
		struct shv_sregs sr;
		int r;

		shv_load_guest(vm, CODE_GPA, hltonly);
		shv_load_guest(vm, CODE_GPA + 0x100, tiny32);
		shv_vcpu_setup(v, MODE_PROT32, CODE_GPA);
		shv_get_sregs(v, &sr);
		switch (i) {
		case 0: sr.cs.type = 0x3; break;	/* data segment */
		case 1: sr.cs.present = 0; break;
		case 2: sr.cs.s = 0; break;		/* system segment */
		}
		r = ioctl(v->fd, SHV_SET_SREGS, &sr);
		if (r) {
			ASSERT_EQ(EINVAL, errno);
			/* rejected: the vCPU still works */
			shv_vcpu_setup(v, MODE_PROT32, CODE_GPA + 0x100);
			ASSERT_EQ64(0x1234abcd, shv_expect_report(v));
			shv_expect_done(v);
		} else {
			r = shv_run_raw(v);
			TH_LOG("case %d accepted; SHV_RUN: %d errno %d exit %s",
			       i, r, r ? errno : 0,
			       r ? "-" : shv_describe_exit(v));
			ASSERT_EQ(0, ioctl(v->fd, SHV_GET_REGS, &regs));
		}
		shv_vcpu_free(v);
		shv_vm_free(vm);
	}
}

/* Non-canonical RIP in 64-bit mode: EINVAL, or shutdown/fail-entry */
TEST(noncanonical_rip)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, tiny64);
	struct shv_regs regs;
	struct shv_sregs sr;
	int r;

	shv_get_sregs(v, &sr);
	sr.idt.limit = 0;
	shv_set_sregs(v, &sr);
	shv_get_regs(v, &regs);
	regs.rip = NONCANON;
	r = ioctl(v->fd, SHV_SET_REGS, &regs);
	if (r) {
		ASSERT_EQ(EINVAL, errno);
		shv_get_regs(v, &regs);
		ASSERT_EQ64(CODE_GPA, regs.rip);
		ASSERT_EQ64(0x64646464, shv_expect_report(v));
		return;
	}
	r = shv_run_raw(v);
	ASSERT_EQ(0, r) TH_LOG("SHV_RUN: errno %d", errno);
	ASSERT_TRUE(v->run->exit_reason == SHV_EXIT_SHUTDOWN ||
		    v->run->exit_reason == SHV_EXIT_FAIL_ENTRY)
		TH_LOG("got %s", shv_describe_exit(v));
}

#define MSRS_BUF(n) \
	union { struct shv_msrs m; \
		char b[sizeof(struct shv_msrs) + \
		       (n) * sizeof(struct shv_msr_entry)]; }

TEST(msrs_bad)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	static MSRS_BUF(SHV_MAX_MSR_ENTRIES + 1) u;
	int r;

	memset(&u, 0, sizeof(u));
	u.m.nmsrs = SHV_MAX_MSR_ENTRIES + 1;
	r = ioctl(v->fd, SHV_GET_MSRS, &u.m);
	ASSERT_EQ(-1, r);
	ASSERT_TRUE(errno == E2BIG || errno == EINVAL);
	r = ioctl(v->fd, SHV_SET_MSRS, &u.m);
	ASSERT_EQ(-1, r);
	ASSERT_TRUE(errno == E2BIG || errno == EINVAL);
	u.m.nmsrs = 0xffffffff;
	r = ioctl(v->fd, SHV_GET_MSRS, &u.m);
	ASSERT_EQ(-1, r);
	ASSERT_TRUE(errno == E2BIG || errno == EINVAL);

	/* nonzero pad / entry reserved */
	memset(&u, 0, sizeof(u));
	u.m.nmsrs = 1;
	u.m.pad = 1;
	u.m.entries[0].index = MSR_LSTAR;
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_MSRS, &u.m));
	u.m.pad = 0;
	u.m.entries[0].reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_MSRS, &u.m));

	/* processing stops at the first unsupported MSR */
	memset(&u, 0, sizeof(u));
	u.m.nmsrs = 0;
	ASSERT_EQ(0, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	u.m.nmsrs = 3;
	u.m.entries[0].index = MSR_LSTAR;
	u.m.entries[0].data = 0xffffffff80001000ULL;
	u.m.entries[1].index = MSR_BOGUS;
	u.m.entries[2].index = MSR_KERNEL_GS_BASE;
	u.m.entries[2].data = 0x1000;
	ASSERT_EQ(1, ioctl(v->fd, SHV_SET_MSRS, &u.m));
	ASSERT_EQ(1, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_EQ64(0xffffffff80001000ULL, u.m.entries[0].data);
	u.m.entries[0].index = MSR_BOGUS;
	u.m.entries[1].index = MSR_LSTAR;
	ASSERT_EQ(0, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_MSRS, &u.m));
	/* both known MSRs */
	u.m.nmsrs = 2;
	u.m.entries[0].index = MSR_KERNEL_GS_BASE;
	u.m.entries[0].data = 0x2000;
	u.m.entries[1].data = 0xffffffff80003000ULL;
	ASSERT_EQ(2, ioctl(v->fd, SHV_SET_MSRS, &u.m));
	u.m.entries[0].data = u.m.entries[1].data = 0;
	ASSERT_EQ(2, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_EQ64(0x2000, u.m.entries[0].data);
	ASSERT_EQ64(0xffffffff80003000ULL, u.m.entries[1].data);
}

#define CPUID_BUF(n) \
	union { struct shv_cpuid c; \
		char b[sizeof(struct shv_cpuid) + \
		       (n) * sizeof(struct shv_cpuid_entry)]; }

TEST(cpuid_bad)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	static CPUID_BUF(SHV_MAX_CPUID_ENTRIES + 1) u;
	unsigned int i;

	memset(&u, 0, sizeof(u));
	u.c.nent = SHV_MAX_CPUID_ENTRIES + 1;
	ASSERT_ERRNO(E2BIG, ioctl(v->fd, SHV_SET_CPUID, &u.c));
	u.c.nent = 0xffffffff;
	ASSERT_ERRNO(E2BIG, ioctl(v->fd, SHV_SET_CPUID, &u.c));

	memset(&u, 0, sizeof(u));
	u.c.nent = 1;
	u.c.padding = 1;
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_CPUID, &u.c));
	u.c.padding = 0;
	u.c.entries[0].padding[0] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_CPUID, &u.c));
	u.c.entries[0].padding[0] = 0;
	u.c.entries[0].padding[2] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_CPUID, &u.c));
	u.c.entries[0].padding[2] = 0;
	u.c.entries[0].flags = 2;
	ASSERT_ERRNO(EINVAL, ioctl(v->fd, SHV_SET_CPUID, &u.c));
	u.c.entries[0].flags = SHV_CPUID_FLAG_SIGNIFCANT_INDEX;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_CPUID, &u.c));
	/* the maximum number of distinct entries */
	memset(&u, 0, sizeof(u));
	u.c.nent = SHV_MAX_CPUID_ENTRIES;
	for (i = 0; i < SHV_MAX_CPUID_ENTRIES; i++)
		u.c.entries[i].function = i < 64 ? i : 0x80000000 + i - 64;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_CPUID, &u.c));
}

TEST(mmap_of_non_vcpu_fds_fails)
{
	struct shv_vm *vm = shv_vm_create();

	ASSERT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED,
				   vm->fd, 0));
	ASSERT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED,
				   vm->sys_fd, 0));
}

TEST_HARNESS_MAIN
