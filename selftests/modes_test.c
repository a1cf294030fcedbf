// SPDX-License-Identifier: GPL-2.0
/*
 * modes_test: processor modes and what legacy guests do with them (see
 * Documentation/modes.rst).
 *
 *   task_switch   JMP/CALL to a TSS, a task gate in the IDT (INT n) and in
 *                 the GDT, IRET with NT, busy TSS #GP, #TS for a short TSS,
 *                 #NP and #DF through task gates (error codes pushed), a
 *                 16-bit TSS, the T bit, CR3 and LDT from the TSS, a bad SS
 *                 in the new task (#TS through a task gate), a task in
 *                 virtual-8086 mode left through a DPL 3 task gate
 *   v86_*         a virtual-8086 program under IOPL 0 and 3, with and
 *                 without CR4.VME: segment arithmetic, MMIO, REP OUTSB,
 *                 CLI/STI/PUSHF, INT n to the monitor, the IVT (VME
 *                 redirection bitmap) or #GP, the TSS I/O bitmap
 *   mode_walk     real -> 16-bit PM -> 32-bit PM -> paging -> PAE -> long
 *                 mode and back down to (unreal, then) real mode, with the
 *                 #GP cases of illegal CR0/CR4/EFER values on the way
 *
 * Every guest reports through PORT_REPORT; the test checks each value in
 * order, and guest memory at the end.  The guest is modes_guest.S.
 *
 * Where the rig's CPUs fall short the tests say so: SVM under QEMU's TCG
 * has no task-switch intercept (task_switch is skipped there and runs on
 * VMX under Bochs, where every task switch exits to shv) and TCG has no
 * VME (the v86_vme_* tests need CPUID.1:EDX.VME).  On VMX's shadow MMU
 * mode_walk's real mode runs in virtual-8086 mode and its way back down
 * (CS and the data segments still protected-mode ones) in the emulator.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "shv_util.h"
#include "modes_guest.h"

DECLARE_GUEST(modes);
DECLARE_GUEST_LABEL(modes_tasks_entry);
DECLARE_GUEST_LABEL(modes_task_b);
DECLARE_GUEST_LABEL(modes_task_c);
DECLARE_GUEST_LABEL(modes_task_d);
DECLARE_GUEST_LABEL(modes_task_e);
DECLARE_GUEST_LABEL(modes_task_f);
DECLARE_GUEST_LABEL(modes_task_g);
DECLARE_GUEST_LABEL(modes_task_h);
DECLARE_GUEST_LABEL(modes_task_i);
DECLARE_GUEST_LABEL(modes_task_j);
DECLARE_GUEST_LABEL(modes_task_k);
DECLARE_GUEST_LABEL(modes_task_k_after);
DECLARE_GUEST_LABEL(modes_task_l);
DECLARE_GUEST_LABEL(modes_exc1);
DECLARE_GUEST_LABEL(modes_exc6);
DECLARE_GUEST_LABEL(modes_exc10);
DECLARE_GUEST_LABEL(modes_exc11);
DECLARE_GUEST_LABEL(modes_exc12);
DECLARE_GUEST_LABEL(modes_exc13);
DECLARE_GUEST_LABEL(modes_exc64_13);
DECLARE_GUEST_LABEL(modes_pm31);
DECLARE_GUEST_LABEL(modes_pm32);
DECLARE_GUEST_LABEL(modes_v86_entry);
DECLARE_GUEST_LABEL(modes_v86_int32);
DECLARE_GUEST_LABEL(modes_walk_entry);

#define OFF(l)	GUEST_OFF(modes, l)
#define ADDR(l)	(CODE_GPA + OFF(l))
#define GP0	EXC_REPORT(13u, 0u)

/* task indexes: TSS_GPA_OF(n) */
enum { T_B, T_C, T_D, T_E, T_G, T_H, T_F, T_BAD, T_I, T_J, T_K, T_L };

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

/* a segment or system descriptor; flags are bits 52-55 (AVL L D/B G) */
static uint64_t desc(uint32_t base, uint32_t limit, uint8_t access,
		     uint8_t flags)
{
	return (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)(limit >> 16 & 15) << 48) |
	       ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

static uint64_t task_gate(uint16_t tss, int dpl)
{
	return ((uint64_t)tss << 16) | ((uint64_t)(0x85 | dpl << 5) << 40);
}

static uint64_t int_gate(uint32_t off, int dpl, bool present)
{
	return (off & 0xffff) | ((uint64_t)MS_CODE32 << 16) |
	       ((uint64_t)(0x0e | dpl << 5 | (present ? 0x80 : 0)) << 40) |
	       ((uint64_t)(off >> 16) << 48);
}

static void set_idt(struct shv_vm *vm, int vec, uint64_t gate)
{
	put(vm, IDT_GPA + vec * 8, gate, 8);
}

struct tss32 {
	uint32_t eip, esp, eflags, eax, cr3;
	uint16_t cs, ss, ds, ldt;
	bool tbit;
};

static void write_tss32(struct shv_vm *vm, uint64_t gpa, const struct tss32 *t)
{
	memset(shv_gpa2hva(vm, gpa), 0, 0x68);
	put(vm, gpa + 0x04, RING0_STACK, 4);		/* ESP0 */
	put(vm, gpa + 0x08, MS_DATA, 2);		/* SS0 */
	put(vm, gpa + 0x1c, t->cr3, 4);
	put(vm, gpa + 0x20, t->eip, 4);
	put(vm, gpa + 0x24, t->eflags ? t->eflags : 2, 4);
	put(vm, gpa + 0x28, t->eax, 4);
	put(vm, gpa + 0x38, t->esp, 4);
	put(vm, gpa + 0x48, t->ds, 2);			/* ES */
	put(vm, gpa + 0x4c, t->cs, 2);
	put(vm, gpa + 0x50, t->ss, 2);
	put(vm, gpa + 0x54, t->ds, 2);
	put(vm, gpa + 0x60, t->ldt, 2);
	put(vm, gpa + 0x64, t->tbit, 2);
	put(vm, gpa + 0x66, 0x68, 2);			/* no I/O bitmap */
}

/* a flat ring-0 task at eip with its own stack */
static void simple_task(struct shv_vm *vm, int n, uint32_t eip, uint32_t cr3)
{
	struct tss32 t = {
		.eip = eip, .esp = TASK_STACK(n), .cr3 = cr3,
		.cs = MS_CODE32, .ss = MS_DATA, .ds = MS_DATA,
	};

	write_tss32(vm, TSS_GPA_OF(n), &t);
}

static void gdt_tss(struct shv_vm *vm, uint16_t sel, uint32_t base,
		    uint32_t limit, uint8_t type)
{
	put(vm, GDT_GPA + sel, desc(base, limit, 0x80 | type, 0), 8);
}

/*
 * The GDT and IDT every guest here uses, and task A's TSS with an I/O
 * bitmap (only V86_PORT_DENIED denied) and a redirection bitmap (only
 * VEC_PM32 redirected).
 */
static void write_tables(struct shv_vm *vm, uint32_t cr3)
{
	uint8_t *tss_a = shv_gpa2hva(vm, TSS_A_GPA);
	struct tss32 a = { .cr3 = cr3 };
	int i;

	memset(shv_gpa2hva(vm, GDT_GPA), 0, MS_GDT_LIMIT + 1);
	put(vm, GDT_GPA + MS_CODE32, 0x00cf9b000000ffffULL, 8);
	put(vm, GDT_GPA + MS_DATA, 0x00cf93000000ffffULL, 8);
	put(vm, GDT_GPA + MS_CODE64, 0x00af9b000000ffffULL, 8);
	gdt_tss(vm, MS_TSS_A, TSS_A_GPA, TSS_A_LIMIT, 9);	/* for LTR */
	put(vm, GDT_GPA + MS_CODE16, desc(CODE_GPA, 0xffff, 0x9b, 0), 8);
	put(vm, GDT_GPA + MS_DATA16, desc(0, 0xffff, 0x93, 0), 8);
	gdt_tss(vm, MS_TSS_B, TSS_GPA_OF(T_B), 0x67, 9);
	gdt_tss(vm, MS_TSS_C, TSS_GPA_OF(T_C), 0x67, 9);
	gdt_tss(vm, MS_TSS_D, TSS_GPA_OF(T_D), 0x67, 9);
	gdt_tss(vm, MS_TSS_E, TSS_GPA_OF(T_E), 0x2b, 1);
	gdt_tss(vm, MS_TSS_G, TSS_GPA_OF(T_G), 0x67, 9);
	gdt_tss(vm, MS_TSS_H, TSS_GPA_OF(T_H), 0x67, 9);
	gdt_tss(vm, MS_TSS_F, TSS_GPA_OF(T_F), 0x67, 9);
	gdt_tss(vm, MS_TSS_BAD, TSS_GPA_OF(T_BAD), 0x20, 9);
	gdt_tss(vm, MS_TSS_I, TSS_GPA_OF(T_I), 0x67, 9);
	gdt_tss(vm, MS_TSS_J, TSS_GPA_OF(T_J), 0x67, 9);
	gdt_tss(vm, MS_TSS_K, TSS_GPA_OF(T_K), 0x88, 9);	/* I/O bitmap */
	gdt_tss(vm, MS_TSS_L, TSS_GPA_OF(T_L), 0x67, 9);
	put(vm, GDT_GPA + MS_GATE_B, task_gate(MS_TSS_B, 0), 8);
	put(vm, GDT_GPA + MS_LDT, desc(LDT_GPA, 0xf, 0x82, 0), 8);
	/* past the GDT's limit: the gate task A puts into IDT 10 */
	put(vm, GDT_GPA + MS_GDT_LIMIT + 1, task_gate(MS_TSS_J, 0), 8);
	/* task C's LDT: entry 1 is data based at DATA_GPA */
	put(vm, LDT_GPA, 0, 8);
	put(vm, LDT_GPA + 8, desc(DATA_GPA, 0xffff, 0x93, 0), 8);

	memset(shv_gpa2hva(vm, IDT_GPA), 0, 0x800);
	set_idt(vm, 1, int_gate(ADDR(modes_exc1), 0, true));
	set_idt(vm, 6, int_gate(ADDR(modes_exc6), 0, true));
	set_idt(vm, 8, task_gate(MS_TSS_D, 0));
	set_idt(vm, 10, int_gate(ADDR(modes_exc10), 0, true));
	set_idt(vm, 11, task_gate(MS_TSS_F, 0));
	set_idt(vm, 12, int_gate(ADDR(modes_exc12), 0, true));
	set_idt(vm, 13, int_gate(ADDR(modes_exc13), 0, true));
	set_idt(vm, VEC_TASK_C, task_gate(MS_TSS_C, 0));
	set_idt(vm, VEC_NOTPRES, int_gate(ADDR(modes_exc13), 0, false));
	set_idt(vm, VEC_PM31, int_gate(ADDR(modes_pm31), 3, true));
	set_idt(vm, VEC_PM32, int_gate(ADDR(modes_pm32), 3, true));
	set_idt(vm, VEC_TASK_L, task_gate(MS_TSS_L, 3));

	/* the 64-bit IDT of the mode walk: #GP only */
	memset(shv_gpa2hva(vm, IDT64_GPA), 0, 0x1000);
	put(vm, IDT64_GPA + 13 * 16,
	    (ADDR(modes_exc64_13) & 0xffff) | ((uint64_t)MS_CODE64 << 16) |
	    (0x8eULL << 40) | ((uint64_t)(ADDR(modes_exc64_13) >> 16) << 48),
	    8);
	put(vm, IDT64_GPA + 13 * 16 + 8, 0, 8);

	write_tss32(vm, TSS_A_GPA, &a);
	put(vm, TSS_A_GPA + 0x66, TSS_A_IOMAP, 2);
	memset(tss_a + 0x68, 0xff, 32);			/* redirection bitmap */
	tss_a[0x68 + VEC_PM32 / 8] &= ~(1 << (VEC_PM32 % 8));
	memset(tss_a + TSS_A_IOMAP, 0, 0x2000);		/* I/O bitmap */
	tss_a[TSS_A_IOMAP + V86_PORT_DENIED / 8] |= 1 << (V86_PORT_DENIED % 8);
	tss_a[TSS_A_IOMAP + 0x2000] = 0xff;
	put(vm, RESUME_GPA, 0, 4);
	for (i = 0; i <= T_L; i++)
		memset(shv_gpa2hva(vm, TSS_GPA_OF(i)), 0, 0x100);
}

/* TR = task A, the test's GDT; everything else as the mode set it */
static void load_tables(struct shv_vcpu *v)
{
	struct shv_sregs sr;

	shv_get_sregs(v, &sr);
	sr.gdt.base = GDT_GPA;
	sr.gdt.limit = MS_GDT_LIMIT;
	sr.idt.base = IDT_GPA;
	sr.idt.limit = 0x7ff;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.base = TSS_A_GPA;
	sr.tr.limit = TSS_A_LIMIT;
	sr.tr.selector = MS_TSS_A;
	sr.tr.type = 0xb;
	sr.tr.present = 1;
	shv_set_sregs(v, &sr);
}

/* where the guest is, for a report that was not the one expected */
static void diag(struct shv_vcpu *v)
{
	struct shv_regs r;
	struct shv_sregs s;

	shv_get_regs(v, &r);
	shv_get_sregs(v, &s);
	fprintf(stderr, "# rip %#llx rsp %#llx rflags %#llx cs %#x ss %#x ds %#x tr %#x/%#llx type %u cr0 %#llx cr3 %#llx\n",
		(unsigned long long)r.rip, (unsigned long long)r.rsp,
		(unsigned long long)r.rflags, s.cs.selector, s.ss.selector,
		s.ds.selector, s.tr.selector, (unsigned long long)s.tr.base,
		s.tr.type, (unsigned long long)s.cr0,
		(unsigned long long)s.cr3);
	fprintf(stderr, "# ds base %#llx limit %#x type %u unusable %u; ldt %#x base %#llx limit %#x\n",
		(unsigned long long)s.ds.base, s.ds.limit, s.ds.type,
		s.ds.unusable, s.ldt.selector,
		(unsigned long long)s.ldt.base, s.ldt.limit);
	fprintf(stderr, "# ss base %#llx limit %#x db %u dpl %u; cs base %#llx limit %#x db %u\n",
		(unsigned long long)s.ss.base, s.ss.limit, s.ss.db, s.ss.dpl,
		(unsigned long long)s.cs.base, s.cs.limit, s.cs.db);
	if (s.tr.base >= TSS_GPA_OF(0) && s.tr.base < TSS_GPA_OF(16))
		fprintf(stderr, "# TR's link %#x; K's TSS: eip %#x eflags %#x cs %#x ss %#x ds %#x\n",
			(unsigned int)get(v->vm, s.tr.base, 2),
			(unsigned int)get(v->vm, TSS_GPA_OF(10) + 0x20, 4),
			(unsigned int)get(v->vm, TSS_GPA_OF(10) + 0x24, 4),
			(unsigned int)get(v->vm, TSS_GPA_OF(10) + 0x4c, 2),
			(unsigned int)get(v->vm, TSS_GPA_OF(10) + 0x50, 2),
			(unsigned int)get(v->vm, TSS_GPA_OF(10) + 0x54, 2));
	if (r.rsp > 0x20 && r.rsp + 0x20 <= RAM_SIZE) {
		uint32_t w[8];

		memcpy(w, shv_gpa2hva(v->vm, r.rsp), sizeof(w));
		fprintf(stderr, "# stack %#x %#x %#x %#x %#x %#x %#x %#x\n",
			w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
	}
}

/* a report, or diagnostics and ~0 */
static uint64_t report(struct shv_vcpu *v)
{
	struct shv_run *run = v->run;

	shv_run(v);
	if (run->exit_reason == SHV_EXIT_IO &&
	    run->io.direction == SHV_EXIT_IO_OUT &&
	    run->io.port == PORT_REPORT && run->io.count == 1 &&
	    (run->io.size == 1 || run->io.size == 2 || run->io.size == 4))
		return shv_le(run->io.data, run->io.size);
	fprintf(stderr, "# not a report: %s\n", shv_describe_exit(v));
	return ~0ull;
}

#define EXPECT(v, val) do {						\
	uint64_t __got = report(v);					\
	if (__got != (uint64_t)(val))					\
		diag(v);						\
	ASSERT_EQ((uint64_t)(val), __got)				\
		TH_LOG("report %#llx, expected %#llx (%s)",		\
		       (unsigned long long)__got,			\
		       (unsigned long long)(val), #val);		\
} while (0)

static bool is_vmx(void)
{
	int fd = shv_open_dev();
	int r = ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_VENDOR);

	close(fd);
	return r == SHV_VENDOR_VMX;
}

static bool test_mmu_shadow(void)
{
	const char *s = getenv("SHV_TEST_MMU");
	int fd, r;

	if (s && !strcmp(s, "shadow"))
		return true;
	if (s && !strcmp(s, "nested"))
		return false;
	fd = shv_open_dev();
	r = ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_DEFAULT_MMU);
	close(fd);
	return r == SHV_VM_MMU_SHADOW;
}

/*
 * SVM under QEMU's TCG (the test rig).  TCG does not deliver the
 * TASK_SWITCH intercept: it switches tasks itself, and under the shadow
 * MMU loads the TSS's CR3 (guest-physical) into the hardware's.  Where it
 * switches tasks for the guest (nested paging) it does not push the
 * error code of an exception delivered through a task gate; and it does
 * not check CR0 writes for PG without PE.  The tests leave these to
 * hardware that does them (or to VMX, where shv does them itself).
 */
static bool tcg_svm(void)
{
	char line[256];
	bool qemu = false;
	FILE *f;

	if (is_vmx())
		return false;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strstr(line, "QEMU"))
			qemu = true;
	fclose(f);
	return qemu;
}

TEST(mode_walk)
{
	struct shv_vcpu *v;
	struct shv_vm *vm;
	struct shv_sregs sr;
	uint64_t cr0;
	bool checks;
	int i;

	v = shv_guest_vm(MODE_REAL, modes);
	vm = v->vm;
	write_tables(vm, 0);
	/* the alias of physical 0 at WALK_ALIAS in every paging mode */
	for (i = 0; i < 1024; i++)
		put(vm, PD32_GPA + i * 4, (uint32_t)i << 22 | 0x83, 4);
	put(vm, PD32_GPA + 4, 0x83, 4);
	for (i = 0; i < 4; i++)
		put(vm, PAE_PDPT_GPA + i * 8, (PD_GPA + i * 0x1000) | 1, 8);
	put(vm, PD_GPA + 2 * 8, 0x83, 8);
	for (i = 0; i < 4; i++)
		put(vm, BAD_PDPT_GPA + i * 8, (PD_GPA + i * 0x1000) | 1 | 6, 8);
	put(vm, DATA_GPA + 0x40, 0x600dcafe, 4);
	/* the illegal values, unless the CPU's checks are TCG's */
	checks = !(tcg_svm() && !test_mmu_shadow());
	put(vm, CHECKS_GPA, checks, 4);
	if (!checks)
		TH_LOG("SVM nested paging under QEMU/TCG: no #GP cases");
	shv_get_sregs(v, &sr);
	cr0 = sr.cr0;
	shv_set_rip(v, OFF(modes_walk_entry));

	EXPECT(v, cr0);
	EXPECT(v, MS_CODE16);
	EXPECT(v, cr0 | 1);
	EXPECT(v, 0x600dcafe);
	EXPECT(v, MS_CODE32);
	if (checks) {
		EXPECT(v, GP0);				/* PG without PE */
		EXPECT(v, GP0);				/* NW without CD */
		EXPECT(v, GP0);				/* CR4 bit 15 */
		EXPECT(v, GP0);				/* EFER bit 1 */
		EXPECT(v, GP0);				/* LME, PG, no PAE */
		EXPECT(v, 0x100);
	}
	EXPECT(v, cr0 | 0x80000001);
	EXPECT(v, 0x600dcafe);
	if (checks)
		EXPECT(v, GP0);				/* LME under PG */
	EXPECT(v, 0x30);
	EXPECT(v, 0x600dcafe);
	if (checks)
		EXPECT(v, GP0);				/* bad PDPTEs */
	EXPECT(v, PAE_PDPT_GPA);
	EXPECT(v, 0x500);
	EXPECT(v, MS_CODE64);
	EXPECT(v, 0xbcdef012);
	EXPECT(v, 0x3456789a);
	EXPECT(v, 0x600dcafe);
	if (checks) {
		EXPECT(v, GP0);				/* PAE off, LMA */
		EXPECT(v, GP0);				/* PG off, CS.L */
	}
	EXPECT(v, 0x12345678);
	EXPECT(v, 0x100);
	EXPECT(v, 0x600dcafe);
	EXPECT(v, 0x600dcafe);
	EXPECT(v, cr0 | 1);
	EXPECT(v, 0x600dcafe);				/* unreal mode */
	EXPECT(v, REAL_SEG);
	EXPECT(v, cr0);
	shv_expect_done(v);
	ASSERT_EQ(0x11223344, get(vm, DATA_GPA + 0x44, 4));
	ASSERT_EQ(0x4242, get(vm, DATA_GPA + 0x48, 2));
	shv_get_sregs(v, &sr);
	ASSERT_EQ(0, sr.cr0 & 0x80000001);
	ASSERT_EQ(0, sr.efer & 0x500);
	ASSERT_EQ(REAL_SEG, sr.cs.selector);
	ASSERT_EQ(CODE_GPA, sr.cs.base);
	shv_vm_free(vm);
}

TEST(task_switch)
{
	struct shv_vcpu *v;
	struct shv_vm *vm;
	struct tss32 t;
	struct shv_sregs sr;
	struct shv_regs regs;
	int i;

	if (tcg_svm())
		SKIP(return, "QEMU/TCG: no task-switch intercept, no error code through task gates");
	v = shv_guest_vm(MODE_PROT32, modes);
	vm = v->vm;
	write_tables(vm, PD32_GPA);
	simple_task(vm, T_B, ADDR(modes_task_b), PD32_GPA);
	put(vm, TSS_GPA_OF(T_B) + 0x28, 0xb0b0b0b0, 4);		/* EAX */
	simple_task(vm, T_C, ADDR(modes_task_c), PD32_GPA);
	put(vm, TSS_GPA_OF(T_C) + 0x60, MS_LDT, 2);
	simple_task(vm, T_D, ADDR(modes_task_d), PD32_GPA);
	simple_task(vm, T_F, ADDR(modes_task_f), PD32_GPA);
	simple_task(vm, T_G, ADDR(modes_task_g), PD32_GPA);
	put(vm, TSS_GPA_OF(T_G) + 0x64, 1, 2);			/* T */
	simple_task(vm, T_H, ADDR(modes_task_h), H_PD_GPA);
	simple_task(vm, T_J, ADDR(modes_task_j), PD32_GPA);
	t = (struct tss32){ .eip = ADDR(modes_task_i), .esp = TASK_STACK(T_I),
			    .cr3 = PD32_GPA, .cs = MS_CODE32,
			    .ss = MS_CODE32, .ds = MS_DATA };	/* bad SS */
	write_tss32(vm, TSS_GPA_OF(T_I), &t);
	/* K: virtual-8086 mode, IOPL 3, an I/O bitmap allowing every port */
	t = (struct tss32){ .eip = OFF(modes_task_k), .esp = V86_SP,
			    .eflags = 0x23002, .cr3 = PD32_GPA, .cs = V86_CS,
			    .ss = V86_SS, .ds = V86_DS };
	write_tss32(vm, TSS_GPA_OF(T_K), &t);
	put(vm, TSS_GPA_OF(T_K) + 0x88, 0xff, 1);
	simple_task(vm, T_L, ADDR(modes_task_l), PD32_GPA);
	/* the 16-bit TSS: IP, FLAGS, AX..DI, ES, CS, SS, DS, LDT */
	put(vm, TSS_GPA_OF(T_E) + 0x0e, OFF(modes_task_e), 2);
	put(vm, TSS_GPA_OF(T_E) + 0x10, 2, 2);
	put(vm, TSS_GPA_OF(T_E) + 0x12, 0xe16e, 2);
	put(vm, TSS_GPA_OF(T_E) + 0x1a, 0xff00, 2);		/* SP */
	put(vm, TSS_GPA_OF(T_E) + 0x22, MS_DATA, 2);
	put(vm, TSS_GPA_OF(T_E) + 0x24, MS_CODE16, 2);
	put(vm, TSS_GPA_OF(T_E) + 0x26, MS_DATA, 2);
	put(vm, TSS_GPA_OF(T_E) + 0x28, MS_DATA, 2);
	put(vm, DATA_GPA + 0x100, 0xc0ffee11, 4);

	/* task H's tables: 4 KiB pages, ALIAS_PAGE moved up one page */
	memset(shv_gpa2hva(vm, H_PD_GPA), 0, 0x1000);
	put(vm, H_PD_GPA, H_PT_GPA | 3, 4);
	for (i = 0; i < 1024; i++)
		put(vm, H_PT_GPA + i * 4, (uint32_t)i << 12 | 3, 4);
	put(vm, H_PT_GPA + (ALIAS_PAGE >> 12) * 4, (ALIAS_PAGE + 0x1000) | 3,
	    4);
	put(vm, ALIAS_PAGE, 0xaaaa0001, 4);
	put(vm, ALIAS_PAGE + 0x1000, 0xbbbb0002, 4);

	shv_vcpu_set_paging32(v, PAGING32_PSE);
	put(vm, PD32_GPA, 0x87, 4);	/* user pages for the v86 task */
	load_tables(v);
	shv_get_regs(v, &regs);
	regs.rip = ADDR(modes_tasks_entry);
	shv_set_regs(v, &regs);

	/* JMP to B */
	EXPECT(v, 0xb0b0b0b0);
	EXPECT(v, MS_TSS_B);
	EXPECT(v, 0);
	EXPECT(v, 0xa1);
	EXPECT(v, 0x89);
	EXPECT(v, 0x8b);
	EXPECT(v, 8);
	/* CALL to B, IRET back */
	EXPECT(v, 0x4000);
	EXPECT(v, MS_TSS_A);
	EXPECT(v, 0x8b);
	EXPECT(v, 0xa2);
	EXPECT(v, 0x89);
	EXPECT(v, 0);
	/* INT n through a task gate; C's LDT */
	EXPECT(v, 0x4000);
	EXPECT(v, MS_TSS_A);
	EXPECT(v, MS_LDT);
	EXPECT(v, 0xffff);
	EXPECT(v, 0xc0ffee11);
	EXPECT(v, 0xa3);
	/* JMP through a GDT task gate */
	EXPECT(v, 0xb3);
	EXPECT(v, 0xa4);
	/* busy, short TSS */
	EXPECT(v, EXC_REPORT(13u, MS_TSS_A));
	EXPECT(v, EXC_REPORT(10u, MS_TSS_BAD));
	EXPECT(v, 0xa5);
	/* #NP through task gate F */
	EXPECT(v, VEC_NOTPRES << 3 | 2);
	EXPECT(v, MS_TSS_A);
	EXPECT(v, TASK_STACK(T_F));
	EXPECT(v, 0xa6);
	/* #DF through task gate D */
	EXPECT(v, 0);
	EXPECT(v, MS_TSS_A);
	EXPECT(v, 0xa7);
	/* the 16-bit task */
	EXPECT(v, 0xe16e);
	EXPECT(v, MS_TSS_E);
	EXPECT(v, 0x4000);
	EXPECT(v, MS_CODE16);
	EXPECT(v, 0x12345678);
	/* the T bit */
	EXPECT(v, EXC_REPORT(1u, 0x8000u));
	EXPECT(v, 0x9999);
	EXPECT(v, 0xa8);
	/* CR3 */
	EXPECT(v, 0xaaaa0001);
	EXPECT(v, 0xbbbb0002);
	EXPECT(v, H_PD_GPA);
	EXPECT(v, 0xaaaa0001);
	EXPECT(v, PD32_GPA);
	/* #TS in the new task, through task gate J */
	EXPECT(v, MS_CODE32);
	EXPECT(v, MS_TSS_I);
	EXPECT(v, 0xa9);
	EXPECT(v, 0x8b);
	/* a virtual-8086 task, left through a task gate */
	EXPECT(v, V86_DS);
	EXPECT(v, V86_CS);
	EXPECT(v, MS_TSS_K);
	EXPECT(v, 0x23002);
	EXPECT(v, V86_CS);
	EXPECT(v, OFF(modes_task_k_after));
	EXPECT(v, 0xaa);
	shv_expect_done(v);
	ASSERT_EQ(0x4b4b, get(vm, DATA_GPA + 0x20, 2));

	/* what the switches left in memory */
	ASSERT_EQ(MS_TSS_A, get(vm, TSS_GPA_OF(T_B), 2));	/* back link */
	ASSERT_EQ(MS_TSS_I, get(vm, TSS_GPA_OF(T_J), 2));
	ASSERT_EQ(0, get(vm, TSS_GPA_OF(T_B) + 0x24, 4) & 0x4000); /* NT */
	ASSERT_EQ(0x89, get(vm, GDT_GPA + MS_TSS_B + 5, 1));
	ASSERT_EQ(0x8b, get(vm, GDT_GPA + MS_TSS_I + 5, 1));
	ASSERT_EQ(0x89, get(vm, GDT_GPA + MS_TSS_J + 5, 1));
	ASSERT_EQ(0x8b, get(vm, GDT_GPA + MS_TSS_A + 5, 1));
	ASSERT_EQ(0x93, get(vm, LDT_GPA + 8 + 5, 1));	/* accessed */
	shv_get_sregs(v, &sr);
	ASSERT_EQ(MS_TSS_A, sr.tr.selector);
	ASSERT_EQ(TSS_A_GPA, sr.tr.base);
	ASSERT_EQ(0xb, sr.tr.type);
	ASSERT_EQ(PD32_GPA, sr.cr3);
	ASSERT_EQ(8, sr.cr0 & 8);				/* TS */
	shv_vm_free(vm);
}

/* the v86 program's reports under one IOPL/VME combination */
static void v86_run(struct __test_metadata *_metadata, int iopl, bool vme)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_PROT32, modes);
	struct shv_vm *vm = v->vm;
	bool gp = iopl < 3 && !vme;	/* CLI, STI, PUSHF, INT n fault */
	struct shv_regs regs;
	struct shv_sregs sr;
	struct shv_run *run;
	const char *msg = "v86!";
	char out[4];
	int i;

	write_tables(vm, 0);
	/* IVT entry VEC_PM32 at linear 0 */
	put(vm, VEC_PM32 * 4, OFF(modes_v86_int32) | (uint32_t)V86_CS << 16, 4);
	load_tables(v);
	shv_get_sregs(v, &sr);
	if (vme)
		sr.cr4 |= 1;		/* VME */
	shv_set_sregs(v, &sr);
	shv_get_regs(v, &regs);
	regs.rip = ADDR(modes_v86_entry);
	regs.rbx = 0x20002 | (uint64_t)iopl << 12;
	shv_set_regs(v, &regs);

	EXPECT(v, V86_DS);
	run = shv_expect_mmio(v, 0xa0010, 2, false);
	shv_put_le(run->mmio.data, 2, 0xbeef);
	EXPECT(v, 0xbeef);
	run = shv_expect_mmio(v, 0xa0012, 2, true);
	ASSERT_EQ(0x7777, shv_le(run->mmio.data, 2));
	shv_expect_io_str(v, SHV_EXIT_IO_OUT, PORT_REPORT, 1, 4, out);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(msg[i], out[i]);
	EXPECT(v, gp ? GP0 : 0);			/* CLI; PUSHF */
	EXPECT(v, gp ? GP0 : 0x200);			/* STI; PUSHF */
	/* INT 0x31: not redirected */
	EXPECT(v, iopl == 3 ? 0xc0de0031 : GP0);
	/* INT 0x32: redirected to the IVT with VME */
	EXPECT(v, vme ? 0x3232 : iopl == 3 ? 0xc0de0032 : GP0);
	EXPECT(v, GP0);				/* the I/O bitmap */
	shv_expect_done(v);
	ASSERT_EQ(0x1234, get(vm, DATA_GPA + 0x10, 2));
	ASSERT_EQ(0x5678, get(vm, 0x21020, 2));
	shv_vm_free(vm);
}

static bool host_vme(void)
{
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	return d & 2;
}

TEST(v86_iopl0)
{
	v86_run(_metadata, 0, false);
}

TEST(v86_iopl3)
{
	v86_run(_metadata, 3, false);
}

TEST(v86_vme_iopl0)
{
	if (!host_vme())
		SKIP(return, "no VME on this CPU");
	v86_run(_metadata, 0, true);
}

TEST(v86_vme_iopl3)
{
	if (!host_vme())
		SKIP(return, "no VME on this CPU");
	v86_run(_metadata, 3, true);
}

TEST_HARNESS_MAIN
