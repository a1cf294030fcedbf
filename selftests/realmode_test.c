// SPDX-License-Identifier: GPL-2.0
/*
 * realmode_test: real mode beyond what virtual-8086 mode can run (see
 * Documentation/vmx.rst, "Real mode and unpaged guests").  On VMX without
 * unrestricted guest (the shadow MMU, or unrestricted_guest=0) shv runs
 * real mode in v86 mode and emulates what v86 cannot express; on SVM and
 * with unrestricted guest the hardware runs it all, and the same results
 * are expected.
 *
 *   big_real      a protected-mode round trip leaves DS and ES with 4 GiB
 *                 limits and FS with a base that is not its selector
 *                 times 16; GET_SREGS shows that, FS works, then 32-bit
 *                 offsets, REP MOVSD and MMIO beyond 1 MiB through DS
 *   exceptions    #DE, #UD, #BP, #OF, INT n, #GP and #NM through the IVT:
 *                 vector, IP pushed, IF and TF cleared, IF before
 *   interrupt     the in-kernel 8259 PIC's interrupt wakes a HLT and goes
 *                 through the IVT, in plain real mode and again in the
 *                 state rm_big leaves (emulated on VMX)
 *   double_fault  INT n beyond the IVT limit: #GP, whose delivery fails
 *                 too: #DF through the IVT, the IP of the INT pushed
 *   triple_fault  INT3 with an IVT limit of 0: SHV_EXIT_SHUTDOWN
 *   pe_rpl        protected mode entered with real-mode SS and GS whose
 *                 selectors have RPL 3: VM entry without unrestricted
 *                 guest refuses that, so VMX emulates until they are
 *                 loaded (far JMP, MOV Sreg through the GDT)
 *
 * The guest is realmode_guest.S.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "shv_util.h"
#include "realmode_guest.h"

DECLARE_GUEST(rm);
DECLARE_GUEST_LABEL(rm_big);
DECLARE_GUEST_LABEL(rm_exc);
DECLARE_GUEST_LABEL(rm_exc_de);
DECLARE_GUEST_LABEL(rm_exc_ud);
DECLARE_GUEST_LABEL(rm_exc_bp_next);
DECLARE_GUEST_LABEL(rm_exc_of_next);
DECLARE_GUEST_LABEL(rm_exc_int_next);
DECLARE_GUEST_LABEL(rm_exc_gp);
DECLARE_GUEST_LABEL(rm_exc_nm);
DECLARE_GUEST_LABEL(rm_vec0);
DECLARE_GUEST_LABEL(rm_vec3);
DECLARE_GUEST_LABEL(rm_vec4);
DECLARE_GUEST_LABEL(rm_vec6);
DECLARE_GUEST_LABEL(rm_vec7);
DECLARE_GUEST_LABEL(rm_vec13);
DECLARE_GUEST_LABEL(rm_vec_int);
DECLARE_GUEST_LABEL(rm_irq);
DECLARE_GUEST_LABEL(rm_vec_irq);
DECLARE_GUEST_LABEL(rm_df);
DECLARE_GUEST_LABEL(rm_df_int);
DECLARE_GUEST_LABEL(rm_vec_df);
DECLARE_GUEST_LABEL(rm_triple);
DECLARE_GUEST_LABEL(rm_rpl);

#define OFF(l)	GUEST_OFF(rm, l)

/*
 * Does shv run this VM's real mode in virtual-8086 mode and the emulator
 * (VMX under the shadow MMU, which never has unrestricted guest)?  Then
 * the vCPU's rm_* counters show which did what; elsewhere they stay 0.
 */
static bool rm_by_shv(void)
{
	const char *s = getenv("SHV_TEST_MMU");
	int fd = shv_open_dev(), vendor, mmu;

	vendor = ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_VENDOR);
	mmu = ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_DEFAULT_MMU);
	close(fd);
	if (vendor != SHV_VENDOR_VMX)
		return false;
	if (s && !strcmp(s, "shadow"))
		return true;
	if (s && !strcmp(s, "nested"))
		return false;
	return mmu == SHV_VM_MMU_SHADOW;
}

static struct shv_vcpu_stats stats(struct shv_vcpu *v)
{
	struct shv_vcpu_stats st;

	SHV_CHECK(!ioctl(v->fd, SHV_GET_VCPU_STATS, &st), "SHV_GET_VCPU_STATS");
	return st;
}

static void put(struct shv_vm *vm, uint64_t gpa, uint64_t v, int len)
{
	memcpy(shv_gpa2hva(vm, gpa), &v, len);
}

static uint64_t get(struct shv_vm *vm, uint64_t gpa, int len)
{
	uint64_t v = 0;

	memcpy(&v, shv_gpa2hva(vm, gpa), len);
	return v;
}

/* IVT entry vector -> REAL_SEG:offset of the label */
static void ivt(struct shv_vm *vm, int vector, uint64_t off)
{
	put(vm, vector * 4, (uint32_t)REAL_SEG << 16 | (uint16_t)off, 4);
}

/* a real-mode VM (with the in-kernel irqchip if asked) at label off */
static struct shv_vcpu *rm_vm(uint64_t off, bool irqchip)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v;

	if (irqchip && ioctl(vm->fd, SHV_CREATE_IRQCHIP, 0))
		shv_fail("SHV_CREATE_IRQCHIP: %s", strerror(errno));
	v = shv_vcpu_create(vm, 0);
	shv_load_guest(vm, CODE_GPA, rm);
	shv_vcpu_setup(v, MODE_REAL, CODE_GPA + off);
	return v;
}

static void check_seg(struct __test_metadata *_metadata, const char *name,
		      const struct shv_segment *s, uint16_t sel, uint64_t base,
		      uint32_t limit)
{
	EXPECT_EQ(sel, s->selector) TH_LOG("%s selector", name);
	EXPECT_EQ(base, s->base) TH_LOG("%s base", name);
	EXPECT_EQ(limit, s->limit) TH_LOG("%s limit", name);
}

TEST(big_real)
{
	struct shv_vcpu *v = rm_vm(OFF(rm_big), false);
	struct shv_vm *vm = v->vm;
	struct shv_sregs sr;
	struct shv_run *run;
	int i;

	put(vm, RM_ODD_BASE, RM_ODD_VALUE, 2);
	for (i = 0; i < 4; i++)
		put(vm, RM_BIG_GPA + 4 * i, RM_BIG_VALUE + i, 4);

	ASSERT_EQ(RM_ODD_VALUE, shv_expect_report(v));
	/* the guest's real-mode view, whatever runs it */
	shv_get_sregs(v, &sr);
	EXPECT_EQ(0, sr.cr0 & 1);
	check_seg(_metadata, "cs", &sr.cs, REAL_SEG, CODE_GPA, 0xffff);
	check_seg(_metadata, "ds", &sr.ds, RM_FLAT, 0, 0xffffffff);
	check_seg(_metadata, "es", &sr.es, RM_FLAT, 0, 0xffffffff);
	check_seg(_metadata, "fs", &sr.fs, RM_ODD, RM_ODD_BASE, 0xffff);
	check_seg(_metadata, "ss", &sr.ss, REAL_SEG, CODE_GPA, 0xffff);

	ASSERT_EQ(RM_BIG_VALUE, shv_expect_report(v));
	shv_get_sregs(v, &sr);
	check_seg(_metadata, "ds", &sr.ds, 0, 0, 0xffffffff);
	check_seg(_metadata, "es", &sr.es, 0, 0, 0xffffffff);
	check_seg(_metadata, "fs", &sr.fs, 0, 0, 0xffff);

	run = shv_expect_mmio(v, MMIO_GPA, 4, true);
	EXPECT_EQ(RM_BIG_VALUE, shv_le(run->mmio.data, 4));
	run = shv_expect_mmio(v, MMIO_GPA + 8, 4, false);
	shv_put_le(run->mmio.data, 4, RM_MMIO_VALUE);
	ASSERT_EQ(RM_MMIO_VALUE, shv_expect_report(v));
	shv_expect_done(v);

	EXPECT_EQ(0x600dbeef, get(vm, RM_BIG_GPA + 4, 4));
	EXPECT_EQ(RM_BIG_VALUE, get(vm, RM_BIG_GPA + 0x100, 4));
	EXPECT_EQ(0x600dbeef, get(vm, RM_BIG_GPA + 0x104, 4));
	EXPECT_EQ(RM_BIG_VALUE + 2, get(vm, RM_BIG_GPA + 0x108, 4));
	EXPECT_EQ(RM_BIG_VALUE + 3, get(vm, RM_BIG_GPA + 0x10c, 4));
	/* the way back and every offset beyond 64 KiB: the emulator */
	if (rm_by_shv()) {
		EXPECT_LE(12, stats(v).rm_emulated);
	} else {
		EXPECT_EQ(0, stats(v).rm_emulated);
	}
	shv_vm_free(vm);
}

TEST(exceptions)
{
	const struct { int vec; uint64_t ip; } want[] = {
		{ 0, OFF(rm_exc_de) },
		{ 6, OFF(rm_exc_ud) },
		{ 3, OFF(rm_exc_bp_next) },
		{ 4, OFF(rm_exc_of_next) },
		{ RM_VEC_INT, OFF(rm_exc_int_next) },
		{ 13, OFF(rm_exc_gp) },
		{ 7, OFF(rm_exc_nm) },
	};
	struct shv_vcpu *v = rm_vm(OFF(rm_exc), false);
	struct shv_vm *vm = v->vm;
	unsigned int i;

	ivt(vm, 0, OFF(rm_vec0));
	ivt(vm, 3, OFF(rm_vec3));
	ivt(vm, 4, OFF(rm_vec4));
	ivt(vm, 6, OFF(rm_vec6));
	ivt(vm, 7, OFF(rm_vec7));
	ivt(vm, 13, OFF(rm_vec13));
	ivt(vm, RM_VEC_INT, OFF(rm_vec_int));

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ASSERT_EQ(want[i].vec, shv_expect_report(v))
			TH_LOG("event %u", i);
		ASSERT_EQ(want[i].ip, shv_expect_report(v))
			TH_LOG("vector %d: IP", want[i].vec);
		ASSERT_EQ(0, shv_expect_report(v))
			TH_LOG("vector %d: IF/TF in the handler", want[i].vec);
		ASSERT_EQ(0x200, shv_expect_report(v))
			TH_LOG("vector %d: IF pushed", want[i].vec);
	}
	ASSERT_EQ(0x600d, shv_expect_report(v));
	shv_expect_done(v);
	/*
	 * v86 ran the code, the exceptions came through shv (INT n went
	 * through the IVT in hardware: VME), and only what v86 refuses was
	 * emulated: RDMSR, MOV from and to CR0, CLTS.
	 */
	if (rm_by_shv()) {
		EXPECT_EQ(6, stats(v).rm_ivt_events);
		EXPECT_GE(6, stats(v).rm_emulated);
	}
	shv_vm_free(vm);
}

static void pulse(struct shv_vm *vm, int irq)
{
	struct shv_irq_level l = { .irq = irq, .level = 1 };

	SHV_CHECK(!ioctl(vm->fd, SHV_IRQ_LINE, &l), "SHV_IRQ_LINE");
	l.level = 0;
	SHV_CHECK(!ioctl(vm->fd, SHV_IRQ_LINE, &l), "SHV_IRQ_LINE");
}

TEST(interrupt)
{
	struct shv_vcpu *v;
	struct shv_vm *vm;
	struct shv_sregs sr;
	int sys = shv_open_dev();

	if (ioctl(sys, SHV_CHECK_EXTENSION, SHV_CAP_IRQCHIP) <= 0)
		SKIP(return, "no SHV_CAP_IRQCHIP");
	v = rm_vm(OFF(rm_irq), true);
	vm = v->vm;
	ivt(vm, RM_IRQ_BASE + RM_IRQ, OFF(rm_vec_irq));
	put(vm, RM_ODD_BASE, RM_ODD_VALUE, 2);

	ASSERT_EQ(1, shv_expect_report(v));
	pulse(vm, RM_IRQ);
	ASSERT_EQ(RM_IRQ_BASE + RM_IRQ, shv_expect_report(v));
	ASSERT_EQ(2, shv_expect_report(v));
	ASSERT_EQ(3, shv_expect_report(v));
	shv_get_sregs(v, &sr);
	check_seg(_metadata, "fs", &sr.fs, RM_ODD, RM_ODD_BASE, 0xffff);
	pulse(vm, RM_IRQ);
	ASSERT_EQ(RM_IRQ_BASE + RM_IRQ, shv_expect_report(v));
	ASSERT_EQ(4, shv_expect_report(v));
	shv_expect_done(v);
	if (rm_by_shv()) {
		EXPECT_EQ(2, stats(v).rm_ivt_events);
	} else {
		EXPECT_EQ(0, stats(v).rm_ivt_events);
	}
	shv_vm_free(vm);
}

TEST(double_fault)
{
	struct shv_vcpu *v = rm_vm(OFF(rm_df), false);

	ivt(v->vm, 8, OFF(rm_vec_df));
	ivt(v->vm, 13, OFF(rm_vec13));		/* beyond the limit anyway */
	ASSERT_EQ(8, shv_expect_report(v));
	ASSERT_EQ(OFF(rm_df_int), shv_expect_report(v));
	shv_expect_done(v);
	shv_vm_free(v->vm);
}

TEST(triple_fault)
{
	struct shv_vcpu *v = rm_vm(OFF(rm_triple), false);
	struct shv_sregs sr;
	struct shv_regs regs;

	shv_expect_exit(v, SHV_EXIT_SHUTDOWN);
	/* the vCPU starts over from the power-on state */
	shv_get_sregs(v, &sr);
	shv_get_regs(v, &regs);
	EXPECT_EQ(0xf000, sr.cs.selector);
	EXPECT_EQ(0xffff0000, sr.cs.base);
	EXPECT_EQ(0xfff0, regs.rip);
	shv_vm_free(v->vm);
}

TEST(pe_rpl)
{
	struct shv_vcpu *v = rm_vm(OFF(rm_rpl), false);
	struct shv_sregs sr;

	ASSERT_EQ(3, shv_expect_report(v));
	shv_get_sregs(v, &sr);
	EXPECT_EQ(1, sr.cr0 & 1);
	check_seg(_metadata, "cs", &sr.cs, RM_CODE16, CODE_GPA, 0xffff);
	check_seg(_metadata, "ss", &sr.ss, RM_SS_RPL3, CODE_GPA + 0x30,
		  0xffff);
	check_seg(_metadata, "gs", &sr.gs, 3, 0x30, 0xffff);
	ASSERT_EQ(RM_SS_RPL3, shv_expect_report(v));
	ASSERT_EQ(RM_DATA16, shv_expect_report(v));
	ASSERT_EQ(0x600d, shv_expect_report(v));
	shv_expect_done(v);
	/* from the far JMP to the loads: the emulator on VMX */
	if (rm_by_shv()) {
		EXPECT_LE(6, stats(v).rm_emulated);
	}
	shv_vm_free(v->vm);
}

TEST_HARNESS_MAIN
