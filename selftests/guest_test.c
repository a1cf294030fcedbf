// SPDX-License-Identifier: GPL-2.0
/*
 * guest_test: guests in real, 32-bit and 64-bit mode run code whose
 * results the tests check: port I/O (sizes, IN merging, string I/O),
 * MMIO emulation, HLT, CPUID, triple fault, read-only slots, hypercalls,
 * MSRs and #GP injection, memslot changes seen by a running guest.
 */
#include <cpuid.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "shv_util.h"

#define ASSERT_EQ64(e, s) ASSERT_EQ((uint64_t)(e), (uint64_t)(s))
#define EXPECT_EQ64(e, s) EXPECT_EQ((uint64_t)(e), (uint64_t)(s))

DECLARE_GUEST(real_sum);
DECLARE_GUEST_LABEL(real_sum_after_done);
DECLARE_GUEST_LABEL(real_sum_var);
DECLARE_GUEST(reset16);
DECLARE_GUEST_LABEL(reset16_after_hlt);
DECLARE_GUEST(prot32);
DECLARE_GUEST(long64);
DECLARE_GUEST(io16);
DECLARE_GUEST(io32);
DECLARE_GUEST(io64);
DECLARE_GUEST(io64_upper);
DECLARE_GUEST(strio32);
DECLARE_GUEST_LABEL(strio32_msg);
DECLARE_GUEST_LABEL(strio32_msg_end);
DECLARE_GUEST(mmio64);
DECLARE_GUEST(mmio32);
DECLARE_GUEST(mmio16);
DECLARE_GUEST(mmio64_virt);
DECLARE_GUEST(hlt32);
DECLARE_GUEST_LABEL(hlt32_after);
DECLARE_GUEST(cpuid64);
DECLARE_GUEST(triple32);
DECLARE_GUEST(triple64);
DECLARE_GUEST(rom32);
DECLARE_GUEST(read1m32);
DECLARE_GUEST(hcall64);
DECLARE_GUEST(msrgp64);
DECLARE_GUEST_LABEL(msrgp64_handler);
DECLARE_GUEST(lstar64);
DECLARE_GUEST(msrdirect64);
DECLARE_GUEST(msrhost32);
DECLARE_GUEST(pt64);
DECLARE_GUEST_LABEL(pt64_pf_handler);
DECLARE_GUEST(cr3sw64);

#define MSR_LSTAR 0xc0000082

static uint32_t rd32(struct shv_vm *vm, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, shv_gpa2hva(vm, gpa), 4);
	return v;
}

static void wr32(struct shv_vm *vm, uint64_t gpa, uint32_t v)
{
	memcpy(shv_gpa2hva(vm, gpa), &v, 4);
}

/* Real mode: loop, call/ret, memory, 32-bit operand prefix; final regs */
TEST(real_mode_compute)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_REAL, real_sum);
	uint16_t var;
	struct shv_regs regs;

	ASSERT_EQ64(5050, shv_expect_report(v));
	ASSERT_EQ64(10100, shv_expect_report(v));
	ASSERT_EQ64(0x23456789, shv_expect_report(v));
	shv_expect_done(v);

	shv_get_regs(v, &regs);
	ASSERT_EQ64(10100, regs.rbx & 0xffff);
	ASSERT_EQ64(0xbeef, regs.rsi & 0xffff);
	ASSERT_EQ64(0x23456789, regs.rcx & 0xffffffff);
	ASSERT_EQ64(REAL_SP, regs.rsp & 0xffff);
	ASSERT_EQ64(GUEST_OFF(real_sum, real_sum_after_done), regs.rip);
	memcpy(&var, shv_gpa2hva(v->vm, CODE_GPA +
				 GUEST_OFF(real_sum, real_sum_var)), 2);
	ASSERT_EQ64(10100, var);
}

/* A vCPU left in its reset state runs the code at 0xfffffff0 */
TEST(reset_vector)
{
	struct shv_vm *vm = shv_vm_create_bare(shv_open_dev(),
					       shv_test_mmu_flags());
	uint8_t *rom = shv_vm_add_mem(vm, 0, 0xffff0000, 0x10000, 0);
	struct shv_vcpu *v;
	struct shv_regs regs;
	struct shv_sregs sr;

	memcpy(rom, guest_reset16, guest_reset16_end - guest_reset16);
	/* at CS:0xfff0: jmp near to CS:0 */
	rom[0xfff0] = 0xe9;
	rom[0xfff1] = 0x0d;	/* 0 - 0xfff3 mod 64K */
	rom[0xfff2] = 0x00;

	v = shv_vcpu_create(vm, 0);
	shv_get_regs(v, &regs);
	shv_get_sregs(v, &sr);
	ASSERT_EQ64(0xfff0, regs.rip);
	ASSERT_EQ64(2, regs.rflags);
	ASSERT_EQ64(0xf000, sr.cs.selector);
	ASSERT_EQ64(0xffff0000, sr.cs.base);
	ASSERT_EQ64(0x60000010, sr.cr0);

	ASSERT_EQ64(regs.rdx & 0xffff, shv_expect_report(v));
	ASSERT_EQ64(0xf000, shv_expect_report(v));
	ASSERT_EQ64(0x60000010, shv_expect_report(v));	/* guest's CR0 */
	shv_expect_exit(v, SHV_EXIT_HLT);
	shv_get_regs(v, &regs);
	ASSERT_EQ64(GUEST_OFF(reset16, reset16_after_hlt), regs.rip);
	shv_get_sregs(v, &sr);
	ASSERT_EQ64(0xffff0000, sr.cs.base);
	shv_expect_done(v);
}

/*
 * 32-bit protected mode tests run without paging, with 2-level paging
 * (4 MiB pages) and with PAE paging, all identity mapped.
 */
FIXTURE(prot32) {
	int unused;
};

FIXTURE_VARIANT(prot32) {
	enum shv_paging32 paging;
};

FIXTURE_VARIANT_ADD(prot32, flat) {
	.paging = PAGING32_NONE,
};

FIXTURE_VARIANT_ADD(prot32, pse) {
	.paging = PAGING32_PSE,
};

FIXTURE_VARIANT_ADD(prot32, pae) {
	.paging = PAGING32_PAE,
};

FIXTURE_SETUP(prot32) {}
FIXTURE_TEARDOWN(prot32) {}

static struct shv_vcpu *prot32_vm(const void *start, const void *end,
				  enum shv_paging32 paging)
{
	struct shv_vcpu *v = shv_vm_with_guest(MODE_PROT32, start, end);

	shv_vcpu_set_paging32(v, paging);
	return v;
}

/* arithmetic, memory shared both ways, stack */
TEST_F(prot32, compute)
{
	struct shv_vcpu *v;
	struct shv_vm *vm;
	struct shv_regs regs;
	uint32_t sum = 0;
	int i;

	v = prot32_vm(guest_prot32, guest_prot32_end, variant->paging);
	vm = v->vm;
	wr32(vm, DATA_GPA, 6);
	for (i = 1; i <= 6; i++) {
		wr32(vm, DATA_GPA + 4 * i, 0x30000001u * i);
		sum += 0x30000001u * i;
	}

	ASSERT_EQ64(832040, shv_expect_report(v));
	ASSERT_EQ64(sum, shv_expect_report(v));
	ASSERT_EQ64(0xabcd1235, shv_expect_report(v));
	for (i = 0; i < 16; i++)
		ASSERT_EQ64(0x01010101u * i, rd32(vm, DATA_GPA + 0x100 + 4 * i));
	ASSERT_EQ64(0x5555, shv_expect_report(v));
	wr32(vm, DATA_GPA + 0x200, 0x13579bdf);
	ASSERT_EQ64(0x13579bdf, shv_expect_report(v));
	shv_expect_done(v);

	shv_get_regs(v, &regs);
	ASSERT_EQ64(0x600d, regs.rdi);
	ASSERT_EQ64(STACK_TOP, regs.rsp);
}

static uint64_t rol64(uint64_t v, int n)
{
	return v << n | v >> (64 - n);
}

/* 64-bit mode: all GPRs, RIP-relative data, stack; GET_REGS/SREGS after */
TEST(long_mode_compute)
{
	uint64_t r8 = 0x0123456789abcdefULL, r9 = rol64(r8, 12);
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, long64);
	struct shv_regs regs;
	struct shv_sregs sr;
	uint64_t mem;

	ASSERT_EQ64(r9, shv_expect_report64(v));
	ASSERT_EQ64(r8 * 3, shv_expect_report64(v));
	ASSERT_EQ64(500500ULL << 40, shv_expect_report64(v));
	ASSERT_EQ64(0xfedcba9876543210ULL, shv_expect_report64(v));
	shv_expect_done(v);

	shv_get_regs(v, &regs);
	ASSERT_EQ64(r8, regs.r8);
	ASSERT_EQ64(r9, regs.r9);
	ASSERT_EQ64(r8 ^ r9, regs.r10);
	ASSERT_EQ64(r8 * 3, regs.r11);
	ASSERT_EQ64(0xfedcba9876543210ULL, regs.r12);
	ASSERT_EQ64(0xfedcba9876543210ULL, regs.r13);
	ASSERT_EQ64(0x8000000000000000ULL, regs.r14);
	ASSERT_EQ64(500500ULL << 40, regs.r15);
	ASSERT_EQ64(STACK_TOP, regs.rsp);
	memcpy(&mem, shv_gpa2hva(v->vm, DATA_GPA + 0x300), 8);
	ASSERT_EQ64(r8 ^ r9, mem);

	shv_get_sregs(v, &sr);
	ASSERT_EQ64(0x500, sr.efer & 0x500);
	ASSERT_EQ64(1, sr.cs.l);
	ASSERT_EQ64(PML4_GPA, sr.cr3);
}

/* Same OUT/IN sequence in each mode */
FIXTURE(io) {
	int unused;
};

FIXTURE_VARIANT(io) {
	enum shv_mode mode;
	const unsigned char *start, *end;
};

FIXTURE_VARIANT_ADD(io, real) {
	.mode = MODE_REAL, .start = guest_io16, .end = guest_io16_end,
};

FIXTURE_VARIANT_ADD(io, prot32) {
	.mode = MODE_PROT32, .start = guest_io32, .end = guest_io32_end,
};

FIXTURE_VARIANT_ADD(io, long64) {
	.mode = MODE_LONG64, .start = guest_io64, .end = guest_io64_end,
};

FIXTURE_SETUP(io) {}
FIXTURE_TEARDOWN(io) {}

static void fill_in(struct shv_run *run, unsigned int size, uint64_t val)
{
	memset(run->io.data, 0xcc, sizeof(run->io.data));
	shv_put_le(run->io.data, size, val);
}

TEST_F(io, out_in_sizes)
{
	struct shv_vcpu *v = shv_vm_with_guest(variant->mode, variant->start,
					       variant->end);
	struct shv_run *run;

	run = shv_expect_io(v, SHV_EXIT_IO_OUT, 0x80, 1);
	ASSERT_EQ64(0x12, run->io.data[0]);
	run = shv_expect_io(v, SHV_EXIT_IO_OUT, 0x1234, 2);
	ASSERT_EQ64(0x3456, shv_le(run->io.data, 2));
	run = shv_expect_io(v, SHV_EXIT_IO_OUT, 0xfffc, 4);
	ASSERT_EQ64(0x789abcde, shv_le(run->io.data, 4));

	/* IN: only size bytes are used; 8/16-bit merge into EAX */
	run = shv_expect_io(v, SHV_EXIT_IO_IN, 0x60, 1);
	fill_in(run, 1, 0x5a);
	ASSERT_EQ64(0xdeadbe5a, shv_expect_report(v));
	run = shv_expect_io(v, SHV_EXIT_IO_IN, 0x1234, 2);
	fill_in(run, 2, 0xa55a);
	ASSERT_EQ64(0xdeada55a, shv_expect_report(v));
	run = shv_expect_io(v, SHV_EXIT_IO_IN, 0xfffc, 4);
	fill_in(run, 4, 0xcafef00d);
	ASSERT_EQ64(0xcafef00d, shv_expect_report(v));
	shv_expect_done(v);
}

/* IN in 64-bit mode: AL/AX merge into RAX, EAX zero-extends */
TEST(io_in_64bit_rax)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, io64_upper);
	struct shv_run *run;

	run = shv_expect_io(v, SHV_EXIT_IO_IN, 0x60, 1);
	fill_in(run, 1, 0x5a);
	ASSERT_EQ64(0x112233445566775aULL, shv_expect_report64(v));
	run = shv_expect_io(v, SHV_EXIT_IO_IN, 0x1234, 2);
	fill_in(run, 2, 0xa55a);
	ASSERT_EQ64(0x112233445566a55aULL, shv_expect_report64(v));
	run = shv_expect_io(v, SHV_EXIT_IO_IN, 0x64, 4);
	fill_in(run, 4, 0xcafef00d);
	ASSERT_EQ64(0xcafef00dULL, shv_expect_report64(v));
	shv_expect_done(v);
}

/*
 * REP OUTSB / REP INSB / REP OUTSW: the elements reach the runner in
 * batches (count > 1); backwards OUTSB: one exit per element
 */
TEST_F(prot32, string_io)
{
	struct shv_vcpu *v = prot32_vm(guest_strio32, guest_strio32_end,
				       variant->paging);
	uint64_t msg = CODE_GPA + GUEST_OFF(strio32, strio32_msg);
	uint64_t msg_end = CODE_GPA + GUEST_OFF(strio32, strio32_msg_end);
	uint8_t *data = shv_gpa2hva(v->vm, DATA_GPA);
	struct shv_run *run;
	char out[16] = "";
	uint8_t words[4];

	ASSERT_EQ64(11, msg_end - msg);
	memset(data, 0xcc, 16);
	shv_expect_io_str(v, SHV_EXIT_IO_OUT, 0xe8, 1, 11, out);
	ASSERT_STREQ("Hello, shv!", out);
	ASSERT_EQ64(0, shv_expect_report(v));		/* ECX */
	ASSERT_EQ64(msg_end, shv_expect_report(v));	/* ESI */

	shv_expect_io_str(v, SHV_EXIT_IO_IN, 0xe9, 1, 8, "abcdefgh");
	ASSERT_EQ64(0, shv_expect_report(v));		/* ECX */
	ASSERT_EQ64(DATA_GPA + 8, shv_expect_report(v));	/* EDI */
	ASSERT_EQ(0, memcmp(data, "abcdefgh", 8));
	ASSERT_EQ64(0xcc, data[8]);

	shv_expect_io_str(v, SHV_EXIT_IO_OUT, 0xea, 2, 2, words);
	ASSERT_EQ64(0xbeef, shv_le(words, 2));
	ASSERT_EQ64(0xcafe, shv_le(words + 2, 2));

	/* DF=1 */
	run = shv_expect_io(v, SHV_EXIT_IO_OUT, 0xe8, 1);
	ASSERT_EQ64('l', run->io.data[0]);
	run = shv_expect_io(v, SHV_EXIT_IO_OUT, 0xe8, 1);
	ASSERT_EQ64('e', run->io.data[0]);
	run = shv_expect_io(v, SHV_EXIT_IO_OUT, 0xe8, 1);
	ASSERT_EQ64('H', run->io.data[0]);
	ASSERT_EQ64(msg - 1, shv_expect_report(v));
	shv_expect_done(v);
}

struct mmio_write {
	uint64_t gpa;
	uint32_t len;
	uint64_t data;
};

struct mmio_read {
	uint64_t gpa;
	uint32_t len;
	uint64_t supply;
	uint64_t expect;	/* register value the guest reports */
};

static void fill_mmio(struct shv_run *run, uint32_t len, uint64_t val)
{
	memset(run->mmio.data, 0xcc, sizeof(run->mmio.data));
	shv_put_le(run->mmio.data, len, val);
}

TEST(mmio_64bit)
{
	static const struct mmio_write w[] = {
		{ MMIO_GPA + 0x00, 1, 0x11 },
		{ MMIO_GPA + 0x02, 2, 0x2233 },
		{ MMIO_GPA + 0x04, 4, 0x44556677 },
		{ MMIO_GPA + 0x08, 8, 0x8899aabbccddeeffULL },
		{ MMIO_GPA + 0x10, 8, 0xfffffffffffffffeULL },
		{ MMIO_GPA + 0x18, 1, 0xee },		/* AH */
		{ MMIO_GPA + 0x1a, 2, 0xcdef },		/* R9W */
		{ MMIO_GPA + 0x1c, 1, 0x5a },		/* SIL */
		{ MMIO_GPA + 0x20, 4, 0xfeedf00d },	/* SIB */
		{ MMIO_GPA + 0x30, 4, 0x31323334 },	/* (%r12) */
		{ MMIO_GPA + 0x38, 2, 0x7788 },		/* disp8(%r13) */
	};
	static const struct mmio_read r[] = {
		{ MMIO_GPA + 0x100, 1, 0xab, 0x11111111111111abULL },
		{ MMIO_GPA + 0x102, 2, 0xcdef, 0x111111111111cdefULL },
		{ MMIO_GPA + 0x104, 4, 0x89abcdef, 0x0000000089abcdefULL },
		{ MMIO_GPA + 0x108, 8, 0x0123456789abcdefULL,
		  0x0123456789abcdefULL },
		{ MMIO_GPA + 0x110, 1, 0xfe, 0xfe },		/* movzbl */
		{ MMIO_GPA + 0x111, 1, 0x80, 0xffffffffffffff80ULL }, /* movsbq */
		{ MMIO_GPA + 0x112, 2, 0x8001, 0x8001 },	/* movzwl */
		{ MMIO_GPA + 0x114, 2, 0x8001, 0xffff8001ULL },	/* movswl */
		{ MMIO_GPA + 0x116, 1, 0x80, 0x222222222222ff80ULL }, /* movsbw */
		{ MMIO_GPA + 0x118, 8, 0x0f1e2d3c4b5a6978ULL,
		  0x0f1e2d3c4b5a6978ULL },			/* R12 */
		{ MMIO_GPA + 0x120, 1, 0x44, 0x3333333333334433ULL }, /* AH */
		{ MMIO_GPA + 0x128, 4, 0x600df00d, 0x600df00d },	/* SIB */
	};
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, mmio64);
	struct shv_run *run;
	unsigned int i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		run = shv_expect_mmio(v, w[i].gpa, w[i].len, true);
		ASSERT_EQ64(w[i].data, shv_le(run->mmio.data, w[i].len))
			TH_LOG("write #%u", i);
	}
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		run = shv_expect_mmio(v, r[i].gpa, r[i].len, false);
		fill_mmio(run, r[i].len, r[i].supply);
		ASSERT_EQ64(r[i].expect, shv_expect_report64(v))
			TH_LOG("read #%u", i);
	}
	shv_expect_done(v);
}

TEST_F(prot32, mmio)
{
	static const struct mmio_write w[] = {
		{ MMIO_GPA + 0x01, 1, 0x5a },
		{ MMIO_GPA + 0x02, 2, 0x1234 },
		{ MMIO_GPA + 0x04, 4, 0xdeadbeef },
		{ MMIO_GPA + 0x08, 4, 0xcafebabe },	/* disp32 only */
	};
	static const struct mmio_read r[] = {
		{ MMIO_GPA + 0x00, 1, 0x9a, 0x1234569a },
		{ MMIO_GPA + 0x10, 2, 0xbcde, 0x1234bcde },
		{ MMIO_GPA + 0x14, 4, 0x0badcafe, 0x0badcafe },
		{ MMIO_GPA + 0x18, 1, 0xff, 0xff },
		{ MMIO_GPA + 0x1a, 2, 0xfff0, 0xfffffff0 },
		{ MMIO_GPA + 0x20, 4, 0x11223344, 0x11223344 },
	};
	struct shv_vcpu *v = prot32_vm(guest_mmio32, guest_mmio32_end,
				       variant->paging);
	struct shv_run *run;
	unsigned int i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		run = shv_expect_mmio(v, w[i].gpa, w[i].len, true);
		ASSERT_EQ64(w[i].data, shv_le(run->mmio.data, w[i].len))
			TH_LOG("write #%u", i);
	}
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		run = shv_expect_mmio(v, r[i].gpa, r[i].len, false);
		fill_mmio(run, r[i].len, r[i].supply);
		ASSERT_EQ64(r[i].expect, shv_expect_report(v))
			TH_LOG("read #%u", i);
	}
	shv_expect_done(v);
}

/*
 * Code and MMIO at virtual addresses that are not their guest-physical
 * ones (4 KiB pages above 4 GiB): instruction fetch and the MMIO address
 * go through the guest's page tables.
 */
TEST(mmio_64bit_paged)
{
	const uint64_t gva = 0x100000000ULL;	/* PML4[0], PDPT[4] */
	const uint64_t pd = 0xa000, pt = 0xb000;
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, mmio64_virt);
	struct shv_vm *vm = v->vm;
	struct shv_regs regs;
	struct shv_run *run;
	uint64_t e;

	e = pd | 3;
	memcpy(shv_gpa2hva(vm, PDPT_GPA + 4 * 8), &e, 8);
	e = pt | 3;
	memcpy(shv_gpa2hva(vm, pd), &e, 8);
	e = CODE_GPA | 3;				/* gva + 0x10000 */
	memcpy(shv_gpa2hva(vm, pt + 0x10 * 8), &e, 8);
	e = (MMIO_GPA + 0x3000) | 3;			/* gva + 0x20000 */
	memcpy(shv_gpa2hva(vm, pt + 0x20 * 8), &e, 8);

	shv_get_regs(v, &regs);
	regs.rip = gva + CODE_GPA;
	regs.rbx = gva + 0x20000;
	shv_set_regs(v, &regs);

	ASSERT_EQ64(gva + CODE_GPA + 7, shv_expect_report64(v));
	run = shv_expect_mmio(v, MMIO_GPA + 0x3008, 4, true);
	ASSERT_EQ64(0x11223344, shv_le(run->mmio.data, 4));
	run = shv_expect_mmio(v, MMIO_GPA + 0x3010, 8, false);
	fill_mmio(run, 8, 0x8877665544332211ULL);
	ASSERT_EQ64(0x8877665544332211ULL, shv_expect_report64(v));
	shv_expect_done(v);
}

/* Real mode MMIO at 0xa0000: segment bases (ES override, DS) applied */
TEST(mmio_real_mode)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_REAL, mmio16);
	struct shv_run *run;

	run = shv_expect_mmio(v, 0xa0010, 2, true);
	ASSERT_EQ64(0x1234, shv_le(run->mmio.data, 2));
	run = shv_expect_mmio(v, 0xa0012, 1, true);
	ASSERT_EQ64(0x56, shv_le(run->mmio.data, 1));
	run = shv_expect_mmio(v, 0xa0014, 4, true);
	ASSERT_EQ64(0x89abcdef, shv_le(run->mmio.data, 4));
	run = shv_expect_mmio(v, 0xa0020, 2, false);
	fill_mmio(run, 2, 0x4321);
	ASSERT_EQ64(0x4321, shv_expect_report(v));
	run = shv_expect_mmio(v, 0xa0030, 1, false);
	fill_mmio(run, 1, 0x77);
	ASSERT_EQ64(0x77, shv_expect_report(v));
	shv_expect_done(v);
}

TEST(hlt_exit)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_PROT32, hlt32);
	struct shv_regs regs;

	shv_expect_exit(v, SHV_EXIT_HLT);
	shv_get_regs(v, &regs);
	ASSERT_EQ64(CODE_GPA + GUEST_OFF(hlt32, hlt32_after), regs.rip);
	ASSERT_EQ64(0x42, regs.rax & 0xffffffff);
	/* running again continues after the hlt */
	ASSERT_EQ64(0x43, shv_expect_report(v));
	shv_expect_done(v);
}

TEST(cpuid_host_vendor)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, cpuid64);
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	(void)a;
	shv_expect_report(v);			/* max leaf: may differ */
	ASSERT_EQ64(b, shv_expect_report(v));
	ASSERT_EQ64(d, shv_expect_report(v));
	ASSERT_EQ64(c, shv_expect_report(v));
	shv_expect_report(v);			/* leaf 1 EAX */
	ASSERT_NE(0ULL, shv_expect_report(v) & (1ULL << 31))
		TH_LOG("CPUID.1:ECX.hypervisor not set");
	shv_expect_done(v);
}

TEST(cpuid_set_entries)
{
	union {
		struct shv_cpuid c;
		char buf[sizeof(struct shv_cpuid) +
			 2 * sizeof(struct shv_cpuid_entry)];
	} u;
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, cpuid64);

	memset(&u, 0, sizeof(u));
	u.c.nent = 2;
	u.c.entries[0].function = 0;
	u.c.entries[0].eax = 1;
	memcpy(&u.c.entries[0].ebx, "ShvT", 4);
	memcpy(&u.c.entries[0].edx, "estV", 4);
	memcpy(&u.c.entries[0].ecx, "endr", 4);
	u.c.entries[1].function = 1;
	u.c.entries[1].eax = 0x00a20f12;
	ASSERT_EQ(0, ioctl(v->fd, SHV_SET_CPUID, &u.c));

	ASSERT_EQ64(1, shv_expect_report(v));
	ASSERT_EQ64(u.c.entries[0].ebx, shv_expect_report(v));
	ASSERT_EQ64(u.c.entries[0].edx, shv_expect_report(v));
	ASSERT_EQ64(u.c.entries[0].ecx, shv_expect_report(v));
	ASSERT_EQ64(0x00a20f12, shv_expect_report(v));
	shv_expect_report(v);
	shv_expect_done(v);
}

TEST(triple_fault_64bit)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, triple64);
	struct shv_sregs sr;
	struct shv_regs regs;

	shv_get_sregs(v, &sr);
	sr.idt.limit = 0;
	shv_set_sregs(v, &sr);
	shv_expect_exit(v, SHV_EXIT_SHUTDOWN);
	shv_get_regs(v, &regs);		/* fd still usable */
}

TEST(triple_fault_32bit)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_PROT32, triple32);

	shv_expect_exit(v, SHV_EXIT_SHUTDOWN);
}

/* Read-only slot: reads work, writes exit as MMIO and change nothing */
TEST_F(prot32, readonly_slot)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v;
	struct shv_run *run;
	uint32_t *rom;

	ASSERT_NE(0, ioctl(vm->sys_fd, SHV_CHECK_EXTENSION,
			   SHV_CAP_READONLY_MEM));
	rom = shv_vm_add_mem(vm, 1, 0x100000, 0x2000, SHV_MEM_READONLY);
	rom[0] = 0xa5a5a5a5;
	rom[1] = 0x11112222;
	rom[2] = 0x33334444;
	rom[0x400] = 0x55556666;
	v = shv_vcpu_create(vm, 0);
	shv_load_guest(vm, CODE_GPA, rom32);
	shv_vcpu_setup(v, MODE_PROT32, CODE_GPA);
	shv_vcpu_set_paging32(v, variant->paging);

	ASSERT_EQ64(0xa5a5a5a5, shv_expect_report(v));
	run = shv_expect_mmio(v, 0x100004, 4, true);
	ASSERT_EQ64(0x12345678, shv_le(run->mmio.data, 4));
	rom[2] = 0x77778888;	/* the slot is the runner's memory */
	run = shv_expect_mmio(v, 0x101000, 1, true);
	ASSERT_EQ64(0x99, run->mmio.data[0]);
	ASSERT_EQ64(0x11112222, shv_expect_report(v));
	ASSERT_EQ64(0x55556666, shv_expect_report(v));
	ASSERT_EQ64(0x77778888, shv_expect_report(v));
	shv_expect_done(v);
	ASSERT_EQ64(0x11112222, rom[1]);
	ASSERT_EQ64(0x55556666, rom[0x400]);
}

TEST(hypercall)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, hcall64);
	struct shv_run *run = v->run;
	struct shv_regs regs;

	shv_expect_exit(v, SHV_EXIT_HYPERCALL);
	ASSERT_EQ64(0x42, run->hypercall.nr);
	ASSERT_EQ64(0x1111111111111111ULL, run->hypercall.args[0]);
	ASSERT_EQ64(0x2222222222222222ULL, run->hypercall.args[1]);
	ASSERT_EQ64(0x3333333333333333ULL, run->hypercall.args[2]);
	ASSERT_EQ64(0x4444444444444444ULL, run->hypercall.args[3]);
	run->hypercall.ret = 0xfeedfacecafebeefULL;
	ASSERT_EQ64(0xfeedfacecafebeefULL, shv_expect_report64(v));

	shv_expect_exit(v, SHV_EXIT_HYPERCALL);
	ASSERT_EQ64(7, run->hypercall.nr);
	ASSERT_EQ64(5, run->hypercall.args[0]);
	ASSERT_EQ64(6, run->hypercall.args[1]);
	ASSERT_EQ64(7, run->hypercall.args[2]);
	ASSERT_EQ64(8, run->hypercall.args[3]);
	run->hypercall.ret = 0;
	ASSERT_EQ64(0, shv_expect_report64(v));
	shv_expect_done(v);

	shv_get_regs(v, &regs);
	ASSERT_EQ64(5, regs.rbx);
	ASSERT_EQ64(6, regs.rcx);
	ASSERT_EQ64(7, regs.rdx);
	ASSERT_EQ64(8, regs.rsi);
}

/* RDMSR/WRMSR of an unknown MSR: #GP(0) delivered through the guest IDT */
TEST(unknown_msr_gp)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, msrgp64);

	shv_idt_set_gate64(v->vm, 13,
			   CODE_GPA + GUEST_OFF(msrgp64, msrgp64_handler));
	ASSERT_EQ64(13, shv_expect_report(v));		/* rdmsr: vector */
	ASSERT_EQ64(0, shv_expect_report(v));		/* error code */
	ASSERT_EQ64(0x1111, shv_expect_report(v));	/* EAX untouched */
	ASSERT_EQ64(0x2222, shv_expect_report(v));	/* EDX untouched */
	ASSERT_EQ64(13, shv_expect_report(v));		/* wrmsr */
	ASSERT_EQ64(0, shv_expect_report(v));
	ASSERT_EQ64(0x600d, shv_expect_report(v));	/* resumed after */
	shv_expect_done(v);
}

/* SET_MSRS reaches the guest's RDMSR; the guest's WRMSR reaches GET_MSRS */
TEST(msr_lstar)
{
	union {
		struct shv_msrs m;
		char buf[sizeof(struct shv_msrs) + sizeof(struct shv_msr_entry)];
	} u;
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, lstar64);

	memset(&u, 0, sizeof(u));
	u.m.nmsrs = 1;
	u.m.entries[0].index = MSR_LSTAR;
	u.m.entries[0].data = 0xffffffff81234560ULL;
	ASSERT_EQ(1, ioctl(v->fd, SHV_SET_MSRS, &u.m));
	u.m.entries[0].data = 0;
	ASSERT_EQ(1, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_EQ64(0xffffffff81234560ULL, u.m.entries[0].data);

	ASSERT_EQ64(0x81234560, shv_expect_report(v));
	ASSERT_EQ64(0xffffffff, shv_expect_report(v));
	shv_expect_done(v);

	u.m.entries[0].data = 0;
	ASSERT_EQ(1, ioctl(v->fd, SHV_GET_MSRS, &u.m));
	ASSERT_EQ64(0xffffffff89abcdefULL, u.m.entries[0].data);
}

/*
 * The MSRs the VMCS switches (FS/GS base, SYSENTER, PAT, TSC reads, and
 * in long mode the SYSCALL MSRs and KERNEL_GS_BASE shv loads around the
 * entry) read back what the guest wrote, and SHV_GET_MSRS sees it; with
 * SHV_ACCEL_MSR_BITMAP none of those accesses exits, other MSRs still do.
 */
TEST(msr_bitmap)
{
	static const struct {
		uint32_t index;
		uint64_t val;
	} wr[] = {
		{ 0xc0000100, 0x12345000 },
		{ 0xc0000101, 0x23456000 },
		{ 0xc0000102, 0xffff800034567000ull },
		{ 0x174, 0x10 },
		{ 0x175, 0xffffffff80001234ull },
		{ 0x176, 0xffffffff80005678ull },
		{ 0x277, 0x0007010600070406ull },
	}, rd[] = {
		{ 0xc0000081, 0x0023001000000000ull },	/* STAR */
		{ 0xc0000082, 0xffffffff81000000ull },	/* LSTAR */
		{ 0xc0000083, 0xffffffff82000000ull },	/* CSTAR */
		{ 0xc0000084, 0x47700 },		/* SFMASK */
	};
	bool direct = shv_cap(SHV_CAP_ACCEL) & SHV_ACCEL_MSR_BITMAP;
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, msrdirect64);
	struct shv_vcpu_stats s0, s1, s2;
	uint64_t tsc;
	unsigned int i;

	for (i = 0; i < 4; i++)
		shv_set_msr(v, rd[i].index, rd[i].val);
	ASSERT_EQ64(1, shv_expect_report(v));
	s0 = shv_vcpu_stats(v);
	for (i = 0; i < 7; i++)
		EXPECT_EQ64(wr[i].val, shv_expect_report64(v)) {
			TH_LOG("MSR %#x", wr[i].index);
		}
	for (i = 0; i < 4; i++)
		EXPECT_EQ64(rd[i].val, shv_expect_report64(v)) {
			TH_LOG("MSR %#x", rd[i].index);
		}
	tsc = shv_expect_report64(v);
	EXPECT_NE(0, tsc);
	/* SWAPGS exchanged the GS base with the KERNEL_GS_BASE written */
	EXPECT_EQ64(wr[2].val, shv_expect_report64(v));
	ASSERT_EQ64(2, shv_expect_report(v));
	s1 = shv_vcpu_stats(v);
	ASSERT_EQ64(3, shv_expect_report(v));
	s2 = shv_vcpu_stats(v);
	shv_expect_done(v);

	TH_LOG("MSR bitmap %s: %llu MSR exits for 20 accesses",
	       direct ? "on" : "off",
	       (unsigned long long)SHV_DELTA(s0, s1, msr_exits));
	EXPECT_EQ64(direct ? 0 : 20, SHV_DELTA(s0, s1, msr_exits));
	EXPECT_EQ64(3, SHV_DELTA(s1, s2, msr_exits));
	for (i = 0; i < 7; i++)
		EXPECT_EQ64(wr[i].val, shv_get_msr(v, wr[i].index)) {
			TH_LOG("SHV_GET_MSRS %#x", wr[i].index);
		}
	EXPECT_EQ64(0x0023001000000000ull, shv_get_msr(v, 0xc0000081));
}

/*
 * Without EFER.SCE or long mode, the hardware holds the host's SYSCALL
 * MSRs while the guest runs: the guest's reads must still exit and see
 * its own values.
 */
TEST(msr_syscall_not_loaded)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_PROT32, msrhost32);
	struct shv_vcpu_stats s0, s1;

	shv_set_msr(v, 0xc0000102, 0x0000000044440000ull);
	shv_set_msr(v, 0xc0000081, 0x1234567800000000ull);
	s0 = shv_vcpu_stats(v);
	EXPECT_EQ64(0x44440000, shv_expect_report(v));
	EXPECT_EQ64(0, shv_expect_report(v));
	EXPECT_EQ64(0, shv_expect_report(v));
	EXPECT_EQ64(0x12345678, shv_expect_report(v));
	shv_expect_done(v);
	s1 = shv_vcpu_stats(v);
	EXPECT_EQ64(2, SHV_DELTA(s0, s1, msr_exits));
}

/* Deleting and re-adding a slot is seen by the guest (no stale mapping) */
TEST_F(prot32, slot_delete_readd)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);
	struct shv_run *run;
	uint32_t *p;

	p = shv_vm_add_mem(vm, 1, 0x100000, 0x1000, 0);
	p[0] = 0x11111111;
	shv_load_guest(vm, CODE_GPA, read1m32);
	shv_vcpu_setup(v, MODE_PROT32, CODE_GPA);
	shv_vcpu_set_paging32(v, variant->paging);
	ASSERT_EQ64(0x11111111, shv_expect_report(v));
	shv_expect_done(v);

	shv_vm_del_mem(vm, 1);
	shv_set_rip(v, CODE_GPA);
	run = shv_expect_mmio(v, 0x100000, 4, false);
	fill_mmio(run, 4, 0x22222222);
	ASSERT_EQ64(0x22222222, shv_expect_report(v));
	shv_expect_done(v);

	p = shv_vm_add_mem(vm, 1, 0x100000, 0x1000, 0);
	p[0] = 0x33333333;
	shv_set_rip(v, CODE_GPA);
	ASSERT_EQ64(0x33333333, shv_expect_report(v));
	shv_expect_done(v);
}

static void put64(struct shv_vm *vm, uint64_t gpa, uint64_t v)
{
	memcpy(shv_gpa2hva(vm, gpa), &v, 8);
}

static uint64_t get64(struct shv_vm *vm, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, shv_gpa2hva(vm, gpa), 8);
	return v;
}

/* Pages and tables of the paging tests (all inside the data area) */
#define PG_A	0x21000
#define PG_B	0x22000
#define PG_C	0x23000
#define T_PD	0x24000
#define T_PT	0x25000
#define T_PML4B	0x26000
#define T_PDPTB	0x27000
#define T_PDB	0x28000
#define T_PTB	0x29000
#define PT_GVA	0x200000000ULL		/* PML4[0], PDPT[8], PD[0], PT[0] */

/*
 * The guest edits its page tables: INVLPG and a CR3 reload make the new
 * PTE visible, A/D bits are set, read-only and not-present PTEs fault
 * with the right error code and CR2.
 */
TEST(guest_page_table_updates)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, pt64);
	struct shv_vm *vm = v->vm;
	struct shv_regs regs;

	wr32(vm, PG_A, 0xaaaa0001);
	wr32(vm, PG_B, 0xbbbb0002);
	wr32(vm, PG_C, 0xcccc0003);
	wr32(vm, PG_C + 8, 0x0c0c0c0c);
	put64(vm, PDPT_GPA + 8 * 8, T_PD | 3);
	put64(vm, T_PD, T_PT | 3);
	put64(vm, T_PT, PG_A | 3);
	shv_idt_set_gate64(vm, 14, CODE_GPA + GUEST_OFF(pt64, pt64_pf_handler));
	shv_get_regs(v, &regs);
	regs.rbx = PT_GVA;
	regs.r12 = T_PT;
	regs.rsi = PG_A;
	regs.rdi = PG_B;
	regs.rbp = PG_C;
	shv_set_regs(v, &regs);

	ASSERT_EQ64(0xaaaa0001, shv_expect_report(v));
	ASSERT_EQ64(0xbbbb0002, shv_expect_report(v));	/* after INVLPG */
	ASSERT_EQ64(0xcccc0003, shv_expect_report(v));	/* after CR3 load */
	ASSERT_EQ64(PG_C | 0x63, shv_expect_report64(v));	/* P RW A D */
	ASSERT_EQ64(0x5a5a5a5a, rd32(vm, PG_C + 4));
	ASSERT_EQ64(0x5a5a5a5a, shv_expect_report(v));
	/* write to a read-only page: #PF(P|W) */
	ASSERT_EQ64(14, shv_expect_report(v));
	ASSERT_EQ64(3, shv_expect_report(v));
	ASSERT_EQ64(PT_GVA + 8, shv_expect_report64(v));
	ASSERT_EQ64(0x0c0c0c0c, shv_expect_report(v));
	/* read of a not-present page: #PF(0) */
	ASSERT_EQ64(14, shv_expect_report(v));
	ASSERT_EQ64(0, shv_expect_report(v));
	ASSERT_EQ64(PT_GVA, shv_expect_report64(v));
	shv_expect_done(v);
	ASSERT_EQ64(0x0c0c0c0c, rd32(vm, PG_C + 8));
	ASSERT_EQ64(0, get64(vm, T_PT));
}

/* Two address spaces map one virtual address to two pages */
TEST(cr3_switch)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, cr3sw64);
	struct shv_vm *vm = v->vm;
	struct shv_mmu_stats st;
	struct shv_regs regs;
	int i;

	wr32(vm, PG_A, 0xaaaa0001);
	wr32(vm, PG_B, 0xbbbb0002);
	put64(vm, PDPT_GPA + 8 * 8, T_PD | 3);
	put64(vm, T_PD, T_PT | 3);
	put64(vm, T_PT, PG_A | 3);
	put64(vm, T_PML4B, T_PDPTB | 3);
	for (i = 0; i < 4; i++)
		put64(vm, T_PDPTB + i * 8, get64(vm, PDPT_GPA + i * 8));
	put64(vm, T_PDPTB + 8 * 8, T_PDB | 3);
	put64(vm, T_PDB, T_PTB | 3);
	put64(vm, T_PTB, PG_B | 3);
	shv_get_regs(v, &regs);
	regs.rbx = PT_GVA;
	regs.r12 = PML4_GPA;
	regs.r13 = T_PML4B;
	regs.rcx = 20;
	shv_set_regs(v, &regs);

	for (i = 0; i < 20; i++) {
		ASSERT_EQ64(0xbbbb0002, shv_expect_report(v)) TH_LOG("round %d", i);
		ASSERT_EQ64(0xaaaa0001 + i, shv_expect_report(v))
			TH_LOG("round %d", i);
		/* the host changes page A in between: no stale copy */
		wr32(vm, PG_A, 0xaaaa0002 + i);
	}
	shv_expect_done(v);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_GET_MMU_STATS, &st));
	TH_LOG("roots_cached %llu root_hits %llu root_misses %llu",
	       (unsigned long long)st.roots_cached,
	       (unsigned long long)st.root_hits,
	       (unsigned long long)st.root_misses);
}

/* The MMU chosen at SHV_CREATE_VM is the one that runs the guest */
TEST(mmu_stats)
{
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, long64);
	struct shv_vm *vm = v->vm;
	unsigned long mmu = vm->flags;
	struct shv_mmu_stats st;
	unsigned int i;

	shv_expect_report64(v);
	memset(&st, 0xa5, sizeof(st));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_GET_MMU_STATS, &st));
	for (i = 0; i < sizeof(st.reserved) / sizeof(st.reserved[0]); i++)
		ASSERT_EQ64(0, st.reserved[i]);
	if (mmu == SHV_VM_MMU_DEFAULT)
		mmu = ioctl(vm->sys_fd, SHV_CHECK_EXTENSION,
			    SHV_CAP_DEFAULT_MMU);
	TH_LOG("MMU %s: shadow_pages %llu shadow_faults %llu root_misses %llu",
	       mmu == SHV_VM_MMU_SHADOW ? "shadow" : "nested",
	       (unsigned long long)st.shadow_pages,
	       (unsigned long long)st.shadow_faults,
	       (unsigned long long)st.root_misses);
	if (mmu == SHV_VM_MMU_SHADOW) {
		ASSERT_NE(0ULL, st.shadow_pages);
		ASSERT_NE(0ULL, st.shadow_faults);
		ASSERT_NE(0ULL, st.root_misses);
	} else {
		static const struct shv_mmu_stats zero;

		ASSERT_EQ(SHV_VM_MMU_NESTED, mmu);
		ASSERT_EQ(0, memcmp(&st, &zero, sizeof(st)));
	}
}

TEST_HARNESS_MAIN
