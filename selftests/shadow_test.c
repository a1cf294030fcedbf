// SPDX-License-Identifier: GPL-2.0
/*
 * shadow_test: guests that prove the shadow MMU against the architecture
 * (AMD APM vol. 2 ch. 5, Intel SDM vol. 3 ch. 4), each run under both
 * SHV_VM_MMU_SHADOW and SHV_VM_MMU_NESTED with the same expectations:
 *
 *  - permission matrix in 4-level, PAE and 32-bit paging: present, R/W,
 *    U/S, NX, CR0.WP, EFER.NXE, CPL 0 and 3, read/write/fetch, 2M/4M/1G
 *    pages, reserved and ignored bits: fault or not, error code, CR2,
 *    A/D bits after the access, the value read, memory after a write;
 *  - many address spaces (CR3 switching, root cache counters);
 *  - page-table edits (remap, unmap, protect, reload without INVLPG,
 *    page table freed and reused as data, shared tables, global pages);
 *  - deferred tracking overflow, two vCPUs sharing an address space,
 *    the shadow page cap, CR3 pointing at MMIO or beyond memory.
 *
 * Expectations are computed from the architecture's rules (model_walk()),
 * never from what shv does.  The guest side is an op interpreter
 * (shadow_guest.S); all page-table edits after the first entry are made
 * by the guest.  Counters (SHV_GET_MMU_STATS) are asserted under shadow
 * paging only; SHV_MMU_VERIFY must return 0 after every scenario.
 *
 * The rig's "hardware" is QEMU/TCG, whose page walker (QEMU >= 7.2,
 * target/i386/tcg/sysemu/excp_helper.c, mmu_translate) deviates from the
 * architecture in ways that show under nested paging: reserved-bit faults
 * have P clear in the error code (do_fault_rsvd), bit 5 of PAE PDPTEs
 * (reserved) is set as an A bit, and a faulting access through a 1 GiB
 * page sets A in its PDPTE.  Only these are tolerated, only for nested
 * paging on a TCG host.  Not tested because the rig's walker does not
 * implement them: PS in a PDPTE without 1 GiB pages (reserved; shadow
 * paging only), reserved bits in PAE PDPTEs (#GP at the CR3 load).
 * Without PAE, EFER.NXE does not enable NX; the I/D bit of a fetch fault
 * is then undefined (APM 8.4.2; SDM: 0) and is not compared.  Bochs 2.7
 * exempts implicit supervisor accesses at CPL 3 from SMAP when EFLAGS.AC
 * is set; under Bochs (either MMU: the hardware judges present shadow
 * leaves) that success is tolerated too.
 */
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shv_util.h"
#include "shadow_guest.h"

#define ASSERT_EQ64(e, s) ASSERT_EQ((uint64_t)(e), (uint64_t)(s))
#define EXPECT_EQ64(e, s) EXPECT_EQ((uint64_t)(e), (uint64_t)(s))

DECLARE_GUEST(sh64);
DECLARE_GUEST_LABEL(sh64_entry);
DECLARE_GUEST_LABEL(sh64_int80);
DECLARE_GUEST_LABEL(sh64_stubs);
DECLARE_GUEST(sh32);
DECLARE_GUEST_LABEL(sh32_entry);
DECLARE_GUEST_LABEL(sh32_int80);
DECLARE_GUEST_LABEL(sh32_stubs);

/* paging-structure entry bits */
#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_US		(1ULL << 2)
#define PTE_A		(1ULL << 5)
#define PTE_D		(1ULL << 6)
#define PTE_PS		(1ULL << 7)
#define PTE_G		(1ULL << 8)
#define PTE_NX		(1ULL << 63)
#define PTE_ALL		(PTE_P | PTE_RW | PTE_US)

/* #PF error code */
#define PF_P		(1u << 0)
#define PF_W		(1u << 1)
#define PF_U		(1u << 2)
#define PF_RSVD		(1u << 3)
#define PF_ID		(1u << 4)

#define CR0_WP		(1ULL << 16)
#define CR4_PGE		(1ULL << 7)
#define CR4_PCIDE	(1ULL << 17)
#define CR4_SMEP	(1ULL << 20)
#define CR4_SMAP	(1ULL << 21)
#define EFER_NXE	(1ULL << 11)
#define CR3_NOFLUSH	(1ULL << 63)

#define PF_STATUS	(ST_FAULT | (14u << 8))
#define GP_STATUS	(ST_FAULT | (13u << 8))
#define UD_STATUS	(ST_FAULT | (6u << 8))

/*
 * Guest-physical layout (slot 0 as in shv_util.h; slot 1 = 1..8 MiB;
 * slot 2 = two pages at 1 GiB for the 1 GiB page):
 *   0x101000 test PDPT, 0x102000 test PD, 0x103000 test PT
 *   0x104000 4K target, 0x105000 PAE PDPT, 0x106000 alias PT (PAE and
 *   4-level), 0x107000 alias PT (32-bit), 0x108000.. page pool
 *   0x200000 2M target (accessed at +0x1000), 0x400000 4M target
 *   0x600000 programs, 0x700000 results (vCPU 1 at +0xc0000 each)
 */
#define SLOT1_GPA	0x100000ULL
#define SLOT1_SIZE	0x700000ULL
#define SLOT2_GPA	0x40000000ULL
#define T_PDPT		0x101000ULL
#define T_PD		0x102000ULL
#define T_PT		0x103000ULL
#define TGT_4K		0x104000ULL
#define T_PAEPDPT	0x105000ULL
#define ALIAS_PT	0x106000ULL
#define ALIAS_PT32	0x107000ULL
#define POOL_GPA	0x108000ULL
#define TGT_2M		0x200000ULL
#define TGT_4M		0x400000ULL
#define TGT_1G		0x40000000ULL
#define PROG_GPA(c)	(0x600000ULL + (c) * 0xc0000ULL)
#define RES_GPA(c)	(0x700000ULL + (c) * 0xc0000ULL)
#define PROG_MAX(c)	((c) ? 0x40000u / 32 : 0xc0000u / 32)
#define FLAG_GPA	DATA_GPA
#define ACK_GPA		(DATA_GPA + 0x40)

/* the test address: PML4[1] PDPT[0] PD[0] PT[1]; 32-bit: PDE 512, PTE 1 */
#define TVA64		0x8000001000ULL
#define TVA32		0x80001000ULL

enum pm { PM_LM4, PM_PAE, PM_32 };
static const char *const pm_name[] = { "4-level", "PAE", "32-bit" };

struct op {
	uint32_t code, pad;
	uint64_t a, b, c;
};

struct rec {
	uint64_t st, err, cr2, val;
};

struct prog {
	struct op *ops;
	unsigned int n, cap, nrec;
};

struct tvm {
	struct shv_vm *vm;
	struct shv_vcpu *v[2];
	int nv;
	unsigned long mmu;
	enum pm pm;
	uint64_t pool;		/* next free page of the pool */
};

/* ---- host facts ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void host_cpuid(uint32_t fn, uint32_t *a, uint32_t *b, uint32_t *c,
		       uint32_t *d)
{
	__cpuid_count(fn, 0, *a, *b, *c, *d);
}

static int maxphyaddr(void)
{
	uint32_t a, b, c, d;

	host_cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x80000008)
		return 36;
	host_cpuid(0x80000008, &a, &b, &c, &d);
	return a & 0xff;
}

static bool has_1g_pages(void)
{
	uint32_t a, b, c, d;

	host_cpuid(0x80000001, &a, &b, &c, &d);
	return d & (1u << 26);
}

static bool has_pse36(void)
{
	uint32_t a, b, c, d;

	host_cpuid(1, &a, &b, &c, &d);
	return d & (1u << 17);
}

static bool has_smep(void)
{
	uint32_t a, b, c, d;

	host_cpuid(7, &a, &b, &c, &d);
	return b & (1u << 7);
}

static bool has_smap(void)
{
	uint32_t a, b, c, d;

	host_cpuid(7, &a, &b, &c, &d);
	return b & (1u << 20);
}

static bool has_pcid(void)
{
	uint32_t a, b, c, d;

	host_cpuid(1, &a, &b, &c, &d);
	return c & (1u << 17);
}

/* the test runs inside QEMU/TCG: nested paging is QEMU's page walker */
static bool host_is_tcg(void)
{
	uint32_t a, b, c, d;
	char sig[13];

	host_cpuid(1, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return false;
	host_cpuid(0x40000000, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	return !strcmp(sig, "TCGTCGTCGTCG");
}

/* the test runs inside Bochs (its BIOS names itself in DMI) */
static bool host_is_bochs(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/class/dmi/id/bios_version", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strstr(buf, "Bochs");
}

static long read_param(const char *name)
{
	char path[128], buf[32];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/sys/module/shv/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 0);
	fclose(f);
	return v;
}

static int write_param(const char *name, long v)
{
	char path[128];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/sys/module/shv/parameters/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	r = fprintf(f, "%ld\n", v) < 0 ? -1 : 0;
	if (fclose(f))
		r = -1;
	return r;
}

/* NULL if the variant's MMU can run here, else why not */
static const char *mmu_skip(unsigned long mmu)
{
	const char *env = getenv("SHV_TEST_MMU");
	const char *name = mmu == SHV_VM_MMU_SHADOW ? "shadow" : "nested";
	int fd, cap;

	if (env && *env && strcmp(env, "default") && strcmp(env, name))
		return "another MMU is under test (SHV_TEST_MMU)";
	fd = shv_open_dev();
	cap = ioctl(fd, SHV_CHECK_EXTENSION, mmu == SHV_VM_MMU_SHADOW ?
		    SHV_CAP_SHADOW_PAGING : SHV_CAP_NESTED_PAGING);
	close(fd);
	return cap > 0 ? NULL : "MMU not offered by this host";
}

/* ---- guest memory ---- */

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

static void put32(struct shv_vm *vm, uint64_t gpa, uint32_t v)
{
	memcpy(shv_gpa2hva(vm, gpa), &v, 4);
}

/* a zeroed page from the pool (0x108000..0x200000, then 0x210000..) */
static uint64_t page_alloc(struct tvm *t)
{
	uint64_t p = t->pool;

	if (p == TGT_2M)
		p = TGT_2M + 0x10000;
	if (p == TGT_4M)
		p = TGT_4M + 0x10000;
	SHV_CHECK(p < PROG_GPA(0), "page pool exhausted");
	t->pool = p + 0x1000;
	memset(shv_gpa2hva(t->vm, p), 0, 0x1000);
	return p;
}

/* ---- the test VM ---- */

static void gate(struct tvm *t, int vec, uint64_t h, int dpl)
{
	uint64_t type = 0x8e | (dpl << 5);

	if (t->pm == PM_LM4) {
		put64(t->vm, IDT_GPA + vec * 16,
		      (h & 0xffff) | ((uint64_t)SEL_CODE64 << 16) |
		      (type << 40) | (((h >> 16) & 0xffff) << 48));
		put64(t->vm, IDT_GPA + vec * 16 + 8, h >> 32);
	} else {
		put64(t->vm, IDT_GPA + vec * 8,
		      (h & 0xffff) | ((uint64_t)SEL_CODE32 << 16) |
		      (type << 40) | (((h >> 16) & 0xffff) << 48));
	}
}

static uint64_t block_gpa(int cpu)
{
	return SH_BLOCK_GPA + cpu * 0x100;
}

static struct tvm *tvm_new(unsigned long mmu, enum pm pm, int nv)
{
	struct tvm *t = calloc(1, sizeof(*t));
	struct shv_vm *vm;
	struct shv_sregs sr;
	struct shv_regs regs;
	uint64_t stubs, tva;
	int i;

	SHV_CHECK(t, "calloc");
	t->mmu = mmu;
	t->pm = pm;
	t->nv = nv;
	t->pool = POOL_GPA;
	vm = t->vm = shv_vm_create_bare(shv_open_dev(), mmu);
	vm->own_sys_fd = true;
	shv_vm_add_mem(vm, 0, 0, RAM_SIZE, 0);
	shv_vm_add_mem(vm, 1, SLOT1_GPA, SLOT1_SIZE, 0);
	shv_vm_add_mem(vm, 2, SLOT2_GPA, 0x2000, 0);
	if (pm == PM_LM4)
		shv_load_guest(vm, CODE_GPA, sh64);
	else
		shv_load_guest(vm, CODE_GPA, sh32);

	/* vCPUs first: shv_vcpu_setup rewrites the standard tables */
	for (i = 0; i < nv; i++) {
		t->v[i] = shv_vcpu_create(vm, i);
		shv_vcpu_setup(t->v[i], pm == PM_LM4 ? MODE_LONG64 : MODE_PROT32,
			       CODE_GPA);
		if (pm != PM_LM4)
			shv_vcpu_set_paging32(t->v[i], pm == PM_PAE ?
					      PAGING32_PAE : PAGING32_PSE);
	}

	/*
	 * User segments, the CPL 0 stack for CPL 3 -> 0, and an LDT at the
	 * test address (entry 2: a DPL 3 data segment, in the targets).
	 */
	put64(vm, GDT_GPA + SEL_UCODE32, 0x00cffb000000ffffULL);
	put64(vm, GDT_GPA + SEL_UDATA, 0x00cff3000000ffffULL);
	put64(vm, GDT_GPA + SEL_UCODE64, 0x00affb000000ffffULL);
	tva = pm == PM_LM4 ? TVA64 : TVA32;
	put64(vm, GDT_GPA + SEL_LDT, 0xfffULL | (tva & 0xffffff) << 16 |
	      0x82ULL << 40 | ((tva >> 24) & 0xff) << 56);
	put64(vm, GDT_GPA + SEL_LDT + 8, tva >> 32);
	if (pm == PM_LM4) {
		put64(vm, TSS_GPA + 4, SH_RSP0);
	} else {
		put32(vm, TSS_GPA + 4, SH_RSP0);
		put32(vm, TSS_GPA + 8, SEL_DATA);
	}
	/*
	 * The identity map stays supervisor-only; the engine's code and the
	 * user stack are also mapped for CPL 3 at + SH_ALIAS (PD_GPA[256],
	 * shared by 4-level and PAE paging; 32-bit PDE 128).
	 */
	put64(vm, PML4_GPA, get64(vm, PML4_GPA) | PTE_US);
	put64(vm, PDPT_GPA, get64(vm, PDPT_GPA) | PTE_US);
	memset(shv_gpa2hva(vm, ALIAS_PT), 0, 0x1000);
	memset(shv_gpa2hva(vm, ALIAS_PT32), 0, 0x1000);
	put64(vm, PD_GPA + 8 * (SH_ALIAS >> 21), ALIAS_PT | PTE_ALL);
	put32(vm, PD32_GPA + 4 * (SH_ALIAS >> 22), ALIAS_PT32 | PTE_ALL);
	for (i = 0; i < 17; i++) {
		uint64_t pa = i < 16 ? CODE_GPA + 0x1000 * i :
				       SH_USER_STACK - 0x1000;

		put64(vm, ALIAS_PT + 8 * (pa >> 12), pa | PTE_ALL);
		put32(vm, ALIAS_PT32 + 4 * (pa >> 12), pa | PTE_ALL);
	}

	/* the test tables: 4-level PML4[1]; PAE PDPT[2]; 32-bit PDE 512 */
	put64(vm, PML4_GPA + 8, T_PDPT | PTE_ALL);
	put64(vm, T_PDPT, T_PD | PTE_ALL);
	put64(vm, T_PD, T_PT | PTE_ALL);
	put64(vm, T_PAEPDPT + 0, (PD_GPA + 0x0000) | PTE_P);
	put64(vm, T_PAEPDPT + 8, (PD_GPA + 0x1000) | PTE_P);
	put64(vm, T_PAEPDPT + 16, T_PD | PTE_P);
	put64(vm, T_PAEPDPT + 24, (PD_GPA + 0x3000) | PTE_P);
	put32(vm, PD32_GPA + 512 * 4, T_PT | PTE_ALL);

	stubs = CODE_GPA + (pm == PM_LM4 ? GUEST_OFF(sh64, sh64_stubs) :
			    GUEST_OFF(sh32, sh32_stubs));
	for (i = 0; i < 32; i++)
		gate(t, i, stubs + 16 * i, 0);
	gate(t, 0x80, CODE_GPA + (pm == PM_LM4 ? GUEST_OFF(sh64, sh64_int80) :
				  GUEST_OFF(sh32, sh32_int80)), 3);

	for (i = 0; i < nv; i++) {
		memset(shv_gpa2hva(vm, block_gpa(i)), 0, 0x100);
		shv_get_sregs(t->v[i], &sr);
		sr.gdt.limit = SH_GDT_LIMIT;
		/*
		 * QEMU/TCG aborts ("invalid tss type") on a CPL change in
		 * 32-bit mode unless TR's cached type is "available" (it
		 * keeps that type after LTR); real CPUs do not look.
		 */
		if (pm != PM_LM4)
			sr.tr.type = 9;
		if (pm == PM_PAE)
			sr.cr3 = T_PAEPDPT;
		shv_set_sregs(t->v[i], &sr);
		memset(&regs, 0, sizeof(regs));
		regs.rflags = 2;
		regs.rip = CODE_GPA;
		regs.rsp = i ? SH_STACK1_TOP : STACK_TOP;
		regs.r15 = block_gpa(i);
		regs.rbp = block_gpa(i);
		shv_set_regs(t->v[i], &regs);
	}
	return t;
}

static void tvm_free(struct tvm *t)
{
	int i;

	for (i = 0; i < t->nv; i++)
		shv_vcpu_free(t->v[i]);
	shv_vm_free(t->vm);
	free(t);
}

static struct shv_mmu_stats tvm_stats(struct tvm *t)
{
	struct shv_mmu_stats s;

	if (ioctl(t->vm->fd, SHV_GET_MMU_STATS, &s))
		shv_fail("SHV_GET_MMU_STATS: %s", strerror(errno));
	return s;
}

static int tvm_verify(struct tvm *t, int cpu)
{
	int r = ioctl(t->v[cpu]->fd, SHV_MMU_VERIFY, 0);

	if (r < 0)
		shv_fail("SHV_MMU_VERIFY: %s", strerror(errno));
	return r;
}

static bool shadow(struct tvm *t)
{
	return t->mmu == SHV_VM_MMU_SHADOW;
}

static void print_stats(const char *what, const struct shv_mmu_stats *s)
{
	fprintf(stderr, "# %s: roots %llu hits %llu misses %llu stale %llu/%llu purges %llu defer %llu untracked %llu tracked %llu sps %llu wp %llu emul %llu unprot %llu fill %llu guest %llu mmio %llu reclaim %llu noflush %llu\n",
		what, (unsigned long long)s->roots_cached,
		(unsigned long long)s->root_hits,
		(unsigned long long)s->root_misses,
		(unsigned long long)s->stale_marks,
		(unsigned long long)s->stale_purges,
		(unsigned long long)s->purges_all,
		(unsigned long long)s->deferral_overflows,
		(unsigned long long)s->untracked_tables,
		(unsigned long long)s->tracked_tables,
		(unsigned long long)s->shadow_pages,
		(unsigned long long)s->wp_faults,
		(unsigned long long)s->emulated_pt_writes,
		(unsigned long long)s->unprotects,
		(unsigned long long)s->shadow_faults,
		(unsigned long long)s->guest_faults,
		(unsigned long long)s->mmio_faults,
		(unsigned long long)s->reclaims,
		(unsigned long long)s->cr3_noflush);
}

/* ---- programs ---- */

static void prog_init(struct prog *p)
{
	memset(p, 0, sizeof(*p));
}

static void prog_free(struct prog *p)
{
	free(p->ops);
	prog_init(p);
}

static void emit(struct prog *p, uint32_t code, uint64_t a, uint64_t b,
		 uint64_t c)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->ops = realloc(p->ops, p->cap * sizeof(*p->ops));
		SHV_CHECK(p->ops, "realloc");
	}
	p->ops[p->n++] = (struct op){ .code = code, .a = a, .b = b, .c = c };
	if (code == OP_R64 || code == OP_ACCESS)
		p->nrec++;
}

/* record numbers of the next emitted recording op */
static unsigned int op_access(struct prog *p, uint64_t va, unsigned int kind,
			      uint64_t val)
{
	emit(p, OP_ACCESS, va, kind, val);
	return p->nrec - 1;
}

static unsigned int op_r64(struct prog *p, uint64_t gva)
{
	emit(p, OP_R64, gva, 0, 0);
	return p->nrec - 1;
}

static void op_w64(struct prog *p, uint64_t gva, uint64_t v)
{
	emit(p, OP_W64, gva, v, 0);
}

static void op_w32(struct prog *p, uint64_t gva, uint32_t v)
{
	emit(p, OP_W32, gva, v, 0);
}

static void op_cr3(struct prog *p, uint64_t v)
{
	emit(p, OP_CR3, v, 0, 0);
}

static void op_invlpg(struct prog *p, uint64_t va)
{
	emit(p, OP_INVLPG, va, 0, 0);
}

static void op_sync(struct prog *p, uint32_t v)
{
	emit(p, OP_SYNC, v, 0, 0);
}

typedef void (*sync_fn)(struct tvm *t, int cpu, uint32_t val, void *arg);

static struct rec *recs(struct tvm *t, int cpu)
{
	return shv_gpa2hva(t->vm, RES_GPA(cpu));
}

static void block_dump(struct tvm *t, int cpu)
{
	uint64_t b = block_gpa(cpu);
	struct shv_regs r;

	shv_get_regs(t->v[cpu], &r);
	fprintf(stderr, "# vCPU %d: op #%lld, record #%lld; rax %#llx rbx %#llx rcx %#llx rdx %#llx r8 %#llx r9 %#llx rsp %#llx\n",
		cpu, (long long)((uint32_t)r.rsi - PROG_GPA(cpu)) / 32 - 1,
		(long long)((uint32_t)r.rdi - RES_GPA(cpu)) / 32,
		(unsigned long long)r.rax, (unsigned long long)r.rbx,
		(unsigned long long)r.rcx, (unsigned long long)r.rdx,
		(unsigned long long)r.r8, (unsigned long long)r.r9,
		(unsigned long long)r.rsp);

	fprintf(stderr, "# vCPU %d: unexpected exception %llu error %#llx at %#llx:%#llx cr2 %#llx\n",
		cpu, (unsigned long long)get64(t->vm, b + 32),
		(unsigned long long)get64(t->vm, b + 40),
		(unsigned long long)get64(t->vm, b + 56),
		(unsigned long long)get64(t->vm, b + 48),
		(unsigned long long)get64(t->vm, b + 64));
}

/*
 * Run program p on vCPU cpu until its OP_END; OP_SYNCs call fn.  The
 * guest must record exactly p->nrec results.
 */
static void run_prog(struct tvm *t, int cpu, struct prog *p, sync_fn fn,
		     void *arg)
{
	struct shv_vcpu *v = t->v[cpu];
	struct shv_run *run = v->run;
	struct shv_regs regs;
	uint64_t end;

	emit(p, OP_END, 0, 0, 0);
	SHV_CHECK(p->n <= PROG_MAX(cpu), "program of %u ops too long", p->n);
	SHV_CHECK(p->nrec <= PROG_MAX(cpu), "%u records", p->nrec);
	memcpy(shv_gpa2hva(t->vm, PROG_GPA(cpu)), p->ops, p->n * sizeof(*p->ops));
	put64(t->vm, block_gpa(cpu) + 0, PROG_GPA(cpu));
	put64(t->vm, block_gpa(cpu) + 8, RES_GPA(cpu));
	for (;;) {
		shv_run(v);
		if (run->exit_reason == SHV_EXIT_IO &&
		    run->io.direction == SHV_EXIT_IO_OUT) {
			if (run->io.port == PORT_DONE)
				break;
			if (run->io.port == PORT_REPORT && run->io.size == 4) {
				if (fn)
					fn(t, cpu, shv_le(run->io.data, 4), arg);
				continue;
			}
			if (run->io.port == PORT_FAIL) {
				block_dump(t, cpu);
				shv_fail("vCPU %d: guest failure %#llx", cpu,
					 (unsigned long long)shv_le(run->io.data, 4));
			}
		}
		shv_fail("vCPU %d: unexpected exit: %s", cpu, shv_describe_exit(v));
	}
	shv_get_regs(v, &regs);
	end = t->pm == PM_LM4 ? regs.rdi : (uint32_t)regs.rdi;
	SHV_CHECK(end == RES_GPA(cpu) + 32ULL * p->nrec,
		  "vCPU %d recorded %lld results, expected %u", cpu,
		  (long long)(end - RES_GPA(cpu)) / 32, p->nrec);
}

/* ---- the architecture's rules (reference model) ---- */

struct mctx {
	enum pm pm;
	bool wp, nxe;
	bool smep, smap;
	bool gb1;		/* CPUID 0x80000001 EDX[26]: 1 GiB pages */
	bool pse36;
	int maxphy;		/* MAXPHYADDR */
};

struct mres {
	bool fault;
	uint32_t err;
	int stop;		/* level where the walk stopped (leaf or fault) */
	uint64_t pa;
};

static uint64_t bits(int hi, int lo)
{
	if (lo > hi)
		return 0;
	return (~0ULL >> (63 - hi)) & ~((1ULL << lo) - 1);
}

static int pm_top(enum pm pm)
{
	return pm == PM_LM4 ? 4 : pm == PM_PAE ? 3 : 2;
}

/* reserved bits of a present entry at a level (SDM tables 4-4..4-19) */
static uint64_t rsvd_bits(const struct mctx *m, int level, uint64_t e)
{
	uint64_t r = 0;

	switch (m->pm) {
	case PM_LM4:
		r = bits(51, m->maxphy);
		if (!m->nxe)
			r |= PTE_NX;
		if (level == 4)
			r |= PTE_PS;
		if (level == 3 && (e & PTE_PS))
			r |= m->gb1 ? bits(29, 13) : PTE_PS;
		if (level == 2 && (e & PTE_PS))
			r |= bits(20, 13);
		break;
	case PM_PAE:
		r = bits(62, m->maxphy);
		if (!m->nxe)
			r |= PTE_NX;
		if (level == 2 && (e & PTE_PS))
			r |= bits(20, 13);
		break;
	case PM_32:
		/* 4 MiB page: bits 20:13 are PA 39:32 with PSE-36 */
		if (level == 2 && (e & PTE_PS))
			r = m->pse36 ? bits(21, (m->maxphy < 40 ? m->maxphy : 40) - 19)
				     : bits(21, 13);
		break;
	}
	return r;
}

static bool is_large(const struct mctx *m, int level, uint64_t e)
{
	if (!(e & PTE_PS))
		return false;
	if (level == 2)
		return true;		/* 2M, or 4M with CR4.PSE (always on) */
	return m->pm == PM_LM4 && level == 3 && m->gb1;
}

static uint64_t leaf_pa(const struct mctx *m, int level, uint64_t e,
			uint64_t va)
{
	uint64_t size = level == 1 ? 0x1000 : level == 2 ?
			(m->pm == PM_32 ? 0x400000 : 0x200000) : 0x40000000;

	if (m->pm == PM_32) {
		if (level == 1)
			return (e & 0xfffff000) | (va & 0xfff);
		return (e & 0xffc00000) | ((e & 0x1fe000) << 19) |
		       (va & 0x3fffff);
	}
	return (e & bits(m->maxphy - 1, 12) & ~(size - 1)) | (va & (size - 1));
}

/*
 * One access as the processor performs it (SDM 4.6, APM 5.6): walk from
 * the top, P then reserved bits at each level, rights combined over the
 * levels, then the checks of the access's mode:
 *  - user (CPL 3): U/S, R/W and NX;
 *  - supervisor, explicit (CPL 0) or implicit (ACC_LDT: a descriptor
 *    read, supervisor-mode at any CPL): NX, and SMEP for fetches from
 *    user pages; SMAP for data accesses to user pages unless explicit
 *    with EFLAGS.AC; R/W with CR0.WP.
 * The error code: P for a protection or reserved-bit fault, W, U (user
 * mode only), RSVD, and I/D for fetches when NX is enabled (EFER.NXE
 * with PAE or 4-level paging) or CR4.SMEP is set.
 */
static struct mres model_walk(const struct mctx *m, const uint64_t *e,
			      uint64_t va, unsigned int acc)
{
	unsigned int kind = acc & 0xf;
	bool implicit = kind == ACC_LDT, ac = acc & ACC_AC;
	bool user = (acc & ACC_USER) && !implicit;
	bool write = kind == ACC_WRITE, fetch = kind == ACC_FETCH;
	bool rw = true, us = true, nx = false;
	struct mres r = { 0 };
	int level;

	for (level = pm_top(m->pm); level >= 1; level--) {
		uint64_t v = e[level];

		r.stop = level;
		if (!(v & PTE_P)) {
			r.fault = true;
			goto out;
		}
		/* PAE PDPTEs: no rights; reserved bits #GP at CR3 load */
		if (m->pm == PM_PAE && level == 3)
			continue;
		if (v & rsvd_bits(m, level, v)) {
			r.fault = true;
			r.err = PF_RSVD | PF_P;
			goto out;
		}
		rw &= !!(v & PTE_RW);
		us &= !!(v & PTE_US);
		if (m->nxe && m->pm != PM_32)
			nx |= !!(v & PTE_NX);
		if (level == 1 || is_large(m, level, v))
			break;
	}
	r.pa = leaf_pa(m, r.stop, e[r.stop], va);
	if (user)
		r.fault = !us || (write && !rw) || (fetch && nx);
	else if (fetch)
		r.fault = nx || (m->smep && us);
	else
		r.fault = (m->smap && us && (implicit || !ac)) ||
			  (write && !rw && m->wp);
	if (r.fault)
		r.err = PF_P;
out:
	if (r.fault) {
		r.err |= (write ? PF_W : 0) | (user ? PF_U : 0);
		if (fetch && ((m->nxe && m->pm != PM_32) || m->smep))
			r.err |= PF_ID;
	}
	return r;
}

/*
 * The entries after the access: A in every entry used for a successful
 * access, D in the leaf of a write.  A fault changes nothing at or below
 * the level that faulted; above it A may have been set (ign).
 */
static void model_ad(const struct mctx *m, const uint64_t *e,
		     const struct mres *r, unsigned int kind, uint64_t *exp,
		     uint64_t *ign)
{
	int level;

	for (level = 1; level <= pm_top(m->pm); level++) {
		bool pdpte = m->pm == PM_PAE && level == 3;

		exp[level] = e[level];
		ign[level] = 0;
		if (pdpte || level < r->stop)
			continue;
		if (r->fault) {
			if (level > r->stop)
				ign[level] = PTE_A;
			continue;
		}
		exp[level] |= PTE_A;
		if (level == r->stop && kind == ACC_WRITE)
			exp[level] |= PTE_D;
	}
}

/* ---- the permission matrix ---- */

struct acc {
	unsigned int kind;	/* ACC_* */
	const char *name;
};

/* the accesses made under each configuration, in this order */
static const struct acc acc_std[] = {
	{ ACC_FETCH | ACC_USER, "user fetch" },
	{ ACC_WRITE | ACC_USER, "user write" },
	{ ACC_READ | ACC_USER, "user read" },
	{ ACC_FETCH, "kernel fetch" },
	{ ACC_WRITE, "kernel write" },
	{ ACC_READ, "kernel read" },
	{ ACC_READ | ACC_USER, "user read after" },
	{ 0, NULL }
};

/* SMEP: execution after a CR0.WP=0 kernel write, too */
static const struct acc acc_smep[] = {
	{ ACC_FETCH | ACC_USER, "user fetch" },
	{ ACC_WRITE | ACC_USER, "user write" },
	{ ACC_READ | ACC_USER, "user read" },
	{ ACC_FETCH, "kernel fetch" },
	{ ACC_WRITE, "kernel write" },
	{ ACC_FETCH, "kernel fetch after the write" },
	{ ACC_READ, "kernel read" },
	{ ACC_READ | ACC_USER, "user read after" },
	{ 0, NULL }
};

/*
 * SMAP: kernel data accesses with EFLAGS.AC 0 and 1 (and again with 0
 * after a write AC allowed), implicit supervisor reads (a descriptor
 * load from an LDT on the page) at CPL 0 with AC=0 and at CPL 3 with AC
 * 0 and 1 (first of all too: under the shadow MMU, with no shadow leaf
 * yet, shv's walk decides, later the hardware on the leaf).  Not at CPL 0 with AC=1: SMAP forbids it in current SDMs,
 * older ones and QEMU allow it, and shv cannot tell such an access from
 * an explicit one (Documentation/mmu.rst).
 */
static const struct acc acc_smap[] = {
	{ ACC_LDT | ACC_USER | ACC_AC, "user LDT load AC, first" },
	{ ACC_READ, "kernel read" },
	{ ACC_READ | ACC_AC, "kernel read AC" },
	{ ACC_WRITE, "kernel write" },
	{ ACC_WRITE | ACC_AC, "kernel write AC" },
	{ ACC_READ, "kernel read after" },
	{ ACC_WRITE, "kernel write after" },
	{ ACC_FETCH, "kernel fetch" },
	{ ACC_LDT, "kernel LDT load" },
	{ ACC_LDT | ACC_USER, "user LDT load" },
	{ ACC_LDT | ACC_USER | ACC_AC, "user LDT load AC" },
	{ ACC_READ | ACC_USER, "user read" },
	{ ACC_WRITE | ACC_USER, "user write" },
	{ ACC_FETCH | ACC_USER, "user fetch" },
	{ 0, NULL }
};

struct cfg {
	char label[96];
	uint64_t e[5];
	bool wp, nxe;
	uint64_t cr4;		/* CR4.SMEP and SMAP */
	const struct acc *acc;
	bool shadow_only;	/* the rig's nested walker deviates */
	unsigned int rec;	/* first record */
};

static unsigned int acc_count(const struct acc *a)
{
	unsigned int n = 0;

	while (a[n].name)
		n++;
	return n;
}

/* a DPL 3 data segment, at +16 of every target: the LDT's entry 2 */
#define LDT_DATA_DESC	0x00cff3000000ffffULL

enum mx_kind { MX_STD, MX_SMEP, MX_SMAP };
static const char *const mx_kind_name[] = { "", " with SMEP", " with SMAP" };

struct matrix {
	struct tvm *t;
	struct mctx m;
	bool tcg_nested;	/* tolerate QEMU's deviations (see top) */
	bool bochs;		/* tolerate Bochs's SMAP deviation */
	int tolerated;
	char failed[2048];	/* labels of failing configurations */
	int top;
	uint64_t ea[5];		/* where the entries are */
	uint64_t tva;
	struct cfg *cfgs;
	unsigned int ncfg, cap;
	/* model state */
	uint64_t e[5];
	uint64_t q1[4];		/* the qword at +8 of each target */
	int errors;
};

static const uint64_t tgt_pa[4] = {
	TGT_4K, TGT_2M + 0x1000, TGT_4M + 0x1000, TGT_1G + 0x1000,
};

static uint64_t tgt_marker(int i)
{
	return 0x0101010101010100ULL * (0x41 + i) | 0xc3;	/* RET first */
}

static int tgt_index(uint64_t pa)
{
	int i;

	for (i = 0; i < 4; i++)
		if ((pa & ~0xfffULL) == tgt_pa[i])
			return i;
	return -1;
}

static struct cfg *cfg_add(struct matrix *mx, const char *label, bool wp,
			   bool nxe)
{
	struct cfg *c;

	if (mx->ncfg == mx->cap) {
		mx->cap = mx->cap ? 2 * mx->cap : 64;
		mx->cfgs = realloc(mx->cfgs, mx->cap * sizeof(*c));
		SHV_CHECK(mx->cfgs, "realloc");
	}
	c = &mx->cfgs[mx->ncfg++];
	memset(c, 0, sizeof(*c));
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->wp = wp;
	c->nxe = nxe;
	c->acc = acc_std;
	/* default: every level present, writable, user; a 4K page */
	switch (mx->m.pm) {
	case PM_LM4:
		c->e[4] = T_PDPT | PTE_ALL;
		c->e[3] = T_PD | PTE_ALL;
		c->e[2] = T_PT | PTE_ALL;
		break;
	case PM_PAE:
		c->e[3] = T_PD | PTE_P;
		c->e[2] = T_PT | PTE_ALL;
		break;
	case PM_32:
		c->e[2] = T_PT | PTE_ALL;
		break;
	}
	c->e[1] = TGT_4K | PTE_ALL;
	return c;
}

static uint64_t leaf_flags(int i, bool nx_ok)
{
	/* 0: not present; 1..: P plus RW/US/NX combinations */
	uint64_t f;

	if (!i)
		return 0;
	i--;
	f = PTE_P | ((i & 1) ? PTE_RW : 0) | ((i & 2) ? PTE_US : 0);
	if (nx_ok && (i & 4))
		f |= PTE_NX;
	return f;
}

static void flags_str(char *buf, size_t n, uint64_t f)
{
	snprintf(buf, n, "%s%s%s%s", (f & PTE_P) ? "P" : "np",
		 (f & PTE_RW) ? "W" : "", (f & PTE_US) ? "U" : "",
		 (f & PTE_NX) ? "X" : "");
}

/*
 * The levels above the leaf.  4-level: every combination of {all rights,
 * read-only, supervisor, NX} over PML4E, PDPTE and PDE, then each of them
 * not present; PAE: the PDE's variants and a PDPTE that is not present;
 * 32-bit: the PDE's (no NX).
 */
static const char *const mods[] = { "ok", "ro", "sup", "nx" };

static void apply_mod(struct cfg *c, int level, int mod)
{
	switch (mod) {
	case 1:
		c->e[level] &= ~PTE_RW;
		break;
	case 2:
		c->e[level] &= ~PTE_US;
		break;
	case 3:
		c->e[level] |= PTE_NX;
		break;
	}
}

static int n_upper(const struct matrix *mx)
{
	switch (mx->m.pm) {
	case PM_LM4:
		return 64 + 3;
	case PM_PAE:
		return 4 + 2;
	default:
		return 3 + 1;
	}
}

static void upper_variant(struct matrix *mx, struct cfg *c, int v,
			  char *label, size_t n)
{
	int nmod = mx->m.pm == PM_32 ? 3 : 4;

	if (mx->m.pm == PM_LM4 && v < 64) {
		apply_mod(c, 4, v / 16);
		apply_mod(c, 3, v / 4 % 4);
		apply_mod(c, 2, v % 4);
		snprintf(label, n, "L4 %s L3 %s L2 %s", mods[v / 16],
			 mods[v / 4 % 4], mods[v % 4]);
		return;
	}
	if (mx->m.pm == PM_LM4) {
		c->e[4 - (v - 64)] &= ~PTE_P;
		snprintf(label, n, "L%d np", 4 - (v - 64));
		return;
	}
	if (v < nmod) {
		apply_mod(c, 2, v);
		snprintf(label, n, "L2 %s", mods[v]);
		return;
	}
	if (v == nmod) {
		c->e[2] &= ~PTE_P;
		snprintf(label, n, "L2 np");
		return;
	}
	c->e[3] &= ~PTE_P;		/* PAE */
	snprintf(label, n, "PDPTE np");
}

static void matrix_build(struct matrix *mx)
{
	bool lm = mx->m.pm == PM_LM4, nxpm = mx->m.pm != PM_32;
	int nleaf = nxpm ? 9 : 5, u, l, lv;
	char ul[40], fl[16];
	struct cfg *c;
	uint64_t f;

	/* A: every leaf under every upper variant (WP=1; NXE=1 if it has NX) */
	for (u = 0; u < n_upper(mx); u++) {
		for (l = 0; l < nleaf; l++) {
			c = cfg_add(mx, "", true, nxpm);
			upper_variant(mx, c, u, ul, sizeof(ul));
			f = leaf_flags(l, nxpm);
			c->e[1] = TGT_4K | f;
			flags_str(fl, sizeof(fl), f);
			snprintf(c->label, sizeof(c->label), "%s, pte %s", ul, fl);
		}
	}
	/* B: CR0.WP=0 */
	for (u = 0; u < (lm ? 4 : 2); u++) {
		static const uint64_t lf[] = {
			PTE_P | PTE_US, PTE_P, PTE_ALL,
		};

		for (l = 0; l < 3; l++) {
			c = cfg_add(mx, "", false, nxpm);
			lv = mx->m.pm == PM_LM4 ? 5 - u : 2;
			if (u)
				c->e[lv] &= ~PTE_RW;
			c->e[1] = TGT_4K | lf[l];
			flags_str(fl, sizeof(fl), lf[l]);
			if (u)
				snprintf(c->label, sizeof(c->label),
					 "WP=0 ro L%d, pte %s", lv, fl);
			else
				snprintf(c->label, sizeof(c->label),
					 "WP=0 pte %s", fl);
		}
	}
	/* C: EFER.NXE=0: NX is a reserved bit */
	if (nxpm) {
		for (u = 0; u < (lm ? 4 : 2); u++) {
			for (l = 0; l < 2; l++) {
				c = cfg_add(mx, "", true, false);
				lv = lm ? 5 - u : 2;
				if (u)
					c->e[lv] |= PTE_NX;
				if (l)
					c->e[1] |= PTE_NX;
				snprintf(c->label, sizeof(c->label),
					 "NXE=0 nx L%d%s", u ? lv : 0,
					 l ? " + pte" : "");
			}
		}
	}
	/* D: large pages with every leaf variant */
	for (l = 0; l < nleaf; l++) {
		f = leaf_flags(l, nxpm);
		flags_str(fl, sizeof(fl), f);
		c = cfg_add(mx, "", true, nxpm);
		c->e[2] = (mx->m.pm == PM_32 ? TGT_4M : TGT_2M) | PTE_PS | f;
		snprintf(c->label, sizeof(c->label), "%s page %s",
			 mx->m.pm == PM_32 ? "4M" : "2M", fl);
		if (lm && mx->m.gb1) {
			c = cfg_add(mx, "", true, true);
			c->e[3] = TGT_1G | PTE_PS | f;
			snprintf(c->label, sizeof(c->label), "1G page %s", fl);
		}
	}
	/* E: reserved bits, and bits the architecture ignores */
	if (nxpm) {
		for (lv = 1; lv <= (lm ? 4 : 2); lv++) {
			c = cfg_add(mx, "", true, true);
			c->e[lv] |= 1ULL << 51;
			snprintf(c->label, sizeof(c->label), "rsvd bit 51 L%d", lv);
		}
		c = cfg_add(mx, "2M page bit 13", true, true);
		c->e[2] = TGT_2M | PTE_PS | PTE_ALL | (1ULL << 13);
	} else {
		c = cfg_add(mx, "4M page bit 21", true, false);
		c->e[2] = TGT_4M | PTE_PS | PTE_ALL | (1ULL << 21);
	}
	if (lm) {
		c = cfg_add(mx, "PML4E PS", true, true);
		c->e[4] |= PTE_PS;
		if (mx->m.gb1) {
			c = cfg_add(mx, "1G page bit 13", true, true);
			c->e[3] = TGT_1G | PTE_PS | PTE_ALL | (1ULL << 13);
		} else {
			/* PS in a PDPTE is reserved without 1G pages */
			c = cfg_add(mx, "PDPTE PS, no 1G pages", true, true);
			c->e[3] = TGT_1G | PTE_PS | PTE_ALL;
			c->shadow_only = true;
		}
		/*
		 * Ignored in 4-level paging (SDM tables 4-15..4-20, APM
		 * 5.4.1): 11:9, 58:52, 62:59 without CR4.PKE, G in a
		 * non-leaf entry.
		 */
		static const struct {
			int level, bit;
		} ign[] = {
			{ 1, 52 }, { 1, 58 }, { 1, 62 }, { 1, 9 }, { 1, 11 },
			{ 2, 52 }, { 2, 8 }, { 3, 62 }, { 4, 52 }, { 4, 58 },
		};

		for (l = 0; l < (int)(sizeof(ign) / sizeof(ign[0])); l++) {
			c = cfg_add(mx, "", true, true);
			c->e[ign[l].level] |= 1ULL << ign[l].bit;
			snprintf(c->label, sizeof(c->label), "ignored bit %d L%d",
				 ign[l].bit, ign[l].level);
		}
	}
	if (mx->m.pm == PM_32) {
		/* EFER.NXE=1 has no effect without PAE; I/D undefined (AMD) */
		for (l = 0; l < 2; l++) {
			c = cfg_add(mx, "", true, true);
			c->e[1] = TGT_4K | (l ? PTE_P | PTE_RW : 0);
			snprintf(c->label, sizeof(c->label), "NXE=1 pte %s",
				 l ? "PW" : "np");
		}
	}
}

/*
 * SMEP and SMAP (each run needs its feature; the SMAP run also combines
 * it with SMEP): every leaf under the upper variants that change who the
 * page belongs to (a supervisor entry above a user leaf) or what it
 * allows (read-only, NX above), CR0.WP=0 (a kernel write that WP=0 allows
 * must not open the page to what SMEP and SMAP forbid), EFER.NXE=0 (the
 * I/D bit of a SMEP fault), and large pages.
 */
static void matrix_build_smx(struct matrix *mx, enum mx_kind kind)
{
	static const int up_lm4[] = { 0, 32, 8, 2, 16, 1, 3 };
	static const int up_pae[] = { 0, 2, 1, 3 };
	static const int up_32[] = { 0, 2, 1 };
	bool lm = mx->m.pm == PM_LM4, nxpm = mx->m.pm != PM_32;
	const int *up = lm ? up_lm4 : nxpm ? up_pae : up_32;
	int nup = lm ? 7 : nxpm ? 4 : 3, nleaf = nxpm ? 9 : 5;
	const struct acc *acc = kind == MX_SMEP ? acc_smep : acc_smap;
	uint64_t cr4s[2] = { CR4_SMEP, CR4_SMEP };
	int u, l, x, nx4 = 1;
	char ul[40], fl[16];
	struct cfg *c;
	uint64_t f;

	if (kind == MX_SMAP) {
		cr4s[0] = CR4_SMAP;
		cr4s[1] = CR4_SMAP | CR4_SMEP;
		nx4 = 2;
	}
	for (x = 0; x < nx4; x++) {
		const char *c4 = cr4s[x] == CR4_SMEP ? "SMEP" :
				 cr4s[x] == CR4_SMAP ? "SMAP" : "SMAP+SMEP";
		static const uint64_t wp0[] = {
			PTE_P | PTE_US, PTE_P, PTE_ALL, PTE_P | PTE_US | PTE_NX,
		};

		for (u = 0; u < nup; u++) {
			for (l = 0; l < nleaf; l++) {
				c = cfg_add(mx, "", true, nxpm);
				c->cr4 = cr4s[x];
				c->acc = acc;
				upper_variant(mx, c, up[u], ul, sizeof(ul));
				f = leaf_flags(l, nxpm);
				c->e[1] = TGT_4K | f;
				flags_str(fl, sizeof(fl), f);
				snprintf(c->label, sizeof(c->label),
					 "%s %s, pte %s", c4, ul, fl);
			}
		}
		for (l = 0; l < (nxpm ? 4 : 3); l++) {
			c = cfg_add(mx, "", false, nxpm);
			c->cr4 = cr4s[x];
			c->acc = acc;
			c->e[1] = TGT_4K | wp0[l];
			flags_str(fl, sizeof(fl), wp0[l]);
			snprintf(c->label, sizeof(c->label), "%s WP=0 pte %s",
				 c4, fl);
			/* the same under a read-only PDE, as a 2M/4M page */
			c = cfg_add(mx, "", false, nxpm);
			c->cr4 = cr4s[x];
			c->acc = acc;
			c->e[2] = (mx->m.pm == PM_32 ? TGT_4M : TGT_2M) |
				  PTE_PS | wp0[l];
			snprintf(c->label, sizeof(c->label),
				 "%s WP=0 %s page %s", c4,
				 mx->m.pm == PM_32 ? "4M" : "2M", fl);
		}
		/* without NX (PAE/4-level: NXE=0; 32-bit: NXE=1, no effect) */
		for (l = 0; l < 3; l++) {
			static const uint64_t nf[] = {
				PTE_ALL, PTE_P | PTE_US, PTE_P | PTE_RW,
			};

			c = cfg_add(mx, "", true, !nxpm);
			c->cr4 = cr4s[x];
			c->acc = acc;
			c->e[1] = TGT_4K | nf[l];
			flags_str(fl, sizeof(fl), nf[l]);
			snprintf(c->label, sizeof(c->label), "%s NXE=%d pte %s",
				 c4, !nxpm, fl);
		}
		for (l = 1; l < nleaf; l++) {
			f = leaf_flags(l, nxpm);
			flags_str(fl, sizeof(fl), f);
			c = cfg_add(mx, "", true, nxpm);
			c->cr4 = cr4s[x];
			c->acc = acc;
			c->e[2] = (mx->m.pm == PM_32 ? TGT_4M : TGT_2M) |
				  PTE_PS | f;
			snprintf(c->label, sizeof(c->label), "%s %s page %s",
				 c4, mx->m.pm == PM_32 ? "4M" : "2M", fl);
			if (lm && mx->m.gb1) {
				c = cfg_add(mx, "", true, true);
				c->cr4 = cr4s[x];
				c->acc = acc;
				c->e[3] = TGT_1G | PTE_PS | f;
				snprintf(c->label, sizeof(c->label),
					 "%s 1G page %s", c4, fl);
			}
		}
	}
}

/* writes go to +8, descriptor loads read +16 (LDT entry 2) */
static uint64_t access_va(const struct matrix *mx, unsigned int kind)
{
	switch (kind & 0xf) {
	case ACC_WRITE:
		return mx->tva + 8;
	case ACC_LDT:
		return mx->tva + 16;
	default:
		return mx->tva;
	}
}

static uint64_t write_val(const struct matrix *mx, unsigned int ci,
			  unsigned int k)
{
	uint64_t v = 0x5700000000000000ULL | (uint64_t)ci << 8 | k;

	return mx->m.pm == PM_LM4 ? v : (uint32_t)(0x57000000 | ci << 8 | k);
}

static uint64_t cfg_target(const struct matrix *mx, const uint64_t *e)
{
	int level;

	for (level = mx->top; level > 1; level--)
		if (!(mx->m.pm == PM_PAE && level == 3) &&
		    is_large(&mx->m, level, e[level]))
			break;
	return leaf_pa(&mx->m, level, e[level], mx->tva) & ~0xfffULL;
}

/* emit configs [from, to) as one program */
static void matrix_emit(struct matrix *mx, struct prog *p, unsigned int from,
			unsigned int to, bool *wp, bool *nxe, uint64_t *cr4)
{
	unsigned int ci, k;
	int level;

	for (ci = from; ci < to; ci++) {
		struct cfg *c = &mx->cfgs[ci];

		if (c->shadow_only && !shadow(mx->t))
			continue;
		if (c->wp != *wp)
			emit(p, OP_CR0, ~CR0_WP, c->wp ? CR0_WP : 0, 0);
		if (c->nxe != *nxe)
			emit(p, OP_EFER, ~EFER_NXE, c->nxe ? EFER_NXE : 0, 0);
		if (c->cr4 != *cr4)
			emit(p, OP_CR4, ~(CR4_SMEP | CR4_SMAP), c->cr4, 0);
		*wp = c->wp;
		*nxe = c->nxe;
		*cr4 = c->cr4;
		for (level = mx->top; level >= 1; level--) {
			if (mx->m.pm == PM_32)
				op_w32(p, mx->ea[level], c->e[level]);
			else
				op_w64(p, mx->ea[level], c->e[level]);
		}
		emit(p, OP_RELOAD, 0, 0, 0);
		c->rec = p->nrec;
		for (k = 0; c->acc[k].name; k++) {
			op_access(p, access_va(mx, c->acc[k].kind),
				  c->acc[k].kind, write_val(mx, ci, k));
			for (level = mx->top; level >= 1; level--)
				op_r64(p, mx->ea[level]);
			op_r64(p, cfg_target(mx, c->e) + 8);
		}
	}
}

#define MX_ERR(mx, ...) do {						\
	if ((mx)->errors++ < 24)					\
		fprintf(stderr, "# " __VA_ARGS__);			\
} while (0)

static void matrix_check(struct matrix *mx, unsigned int from, unsigned int to)
{
	struct tvm *t = mx->t;
	struct rec *R = recs(t, 0);
	unsigned int ci, k;
	int level;

	for (ci = from; ci < to; ci++) {
		struct cfg *c = &mx->cfgs[ci];
		int errors0 = mx->errors;
		uint64_t mask = mx->m.pm == PM_32 ? 0xffffffffULL : ~0ULL;
		uint64_t vmask = mx->m.pm == PM_LM4 ? ~0ULL : 0xffffffffULL;
		uint64_t tgt = cfg_target(mx, c->e);
		int ti = tgt_index(tgt);

		if (c->shadow_only && !shadow(t))
			continue;
		mx->m.wp = c->wp;
		mx->m.nxe = c->nxe;
		mx->m.smep = c->cr4 & CR4_SMEP;
		mx->m.smap = c->cr4 & CR4_SMAP;
		memcpy(mx->e, c->e, sizeof(mx->e));
		for (k = 0; c->acc[k].name; k++) {
			unsigned int kind = c->acc[k].kind & 0xf;
			uint64_t va = access_va(mx, kind), exp[5], ign[5];
			struct rec *r = &R[c->rec + k * (mx->top + 2)];
			struct mres m = model_walk(&mx->m, mx->e, va,
						   c->acc[k].kind);
			uint32_t eerr, gerr = r[0].err;
			uint64_t got;

			/*
			 * Bochs 2.7 exempts implicit supervisor accesses at
			 * CPL 3 from SMAP when EFLAGS.AC is set: where that
			 * is the only reason to fault, success is tolerated
			 * (and judged as without SMAP).
			 */
			if (mx->bochs && c->acc[k].kind ==
			    (ACC_LDT | ACC_USER | ACC_AC) && m.fault &&
			    m.err == PF_P && !r[0].st) {
				struct mctx nosmap = mx->m;

				nosmap.smap = false;
				m = model_walk(&nosmap, mx->e, va,
					       c->acc[k].kind);
				mx->tolerated++;
			}
			eerr = m.err;

			/* undefined without PAE (APM 8.4.2), unless SMEP */
			if (mx->m.pm == PM_32 && mx->m.nxe && !mx->m.smep) {
				eerr &= ~PF_ID;
				gerr &= ~PF_ID;
			}
			if (mx->tcg_nested && (eerr & PF_RSVD) &&
			    gerr == (eerr & ~PF_P) && r[0].st == PF_STATUS) {
				gerr = eerr;		/* QEMU: no P with RSVD */
				mx->tolerated++;
			}
			if (m.fault && (r[0].st != PF_STATUS || gerr != eerr ||
					r[0].cr2 != (va & mask)))
				MX_ERR(mx, "%s [%s] %s: expected #PF err %#x cr2 %#llx, got status %#llx err %#llx cr2 %#llx\n",
				       pm_name[mx->m.pm], c->label,
				       c->acc[k].name, m.err,
				       (unsigned long long)(va & mask),
				       (unsigned long long)r[0].st,
				       (unsigned long long)r[0].err,
				       (unsigned long long)r[0].cr2);
			if (!m.fault) {
				uint64_t want = 0;

				if (kind == ACC_READ)
					want = tgt_marker(tgt_index(m.pa)) & vmask;
				if (r[0].st || r[0].val != want)
					MX_ERR(mx, "%s [%s] %s: expected success (value %#llx), got status %#llx err %#llx cr2 %#llx value %#llx\n",
					       pm_name[mx->m.pm], c->label,
					       c->acc[k].name,
					       (unsigned long long)want,
					       (unsigned long long)r[0].st,
					       (unsigned long long)r[0].err,
					       (unsigned long long)r[0].cr2,
					       (unsigned long long)r[0].val);
				if (kind == ACC_WRITE) {
					int wi = tgt_index(m.pa);

					if (mx->m.pm == PM_LM4)
						mx->q1[wi] = write_val(mx, ci, k);
					else
						mx->q1[wi] = (mx->q1[wi] & ~0xffffffffULL) |
							     write_val(mx, ci, k);
				}
			}
			model_ad(&mx->m, mx->e, &m, kind, exp, ign);
			/* QEMU sets A in a faulting 1G page's PDPTE */
			if (mx->tcg_nested && m.fault && m.stop == 3 &&
			    mx->m.pm == PM_LM4 && is_large(&mx->m, 3, mx->e[3]))
				ign[3] |= PTE_A;
			/* QEMU sets bit 5 of PAE PDPTEs (reserved: SDM 4.4.1) */
			if (mx->tcg_nested && mx->m.pm == PM_PAE) {
				if ((r[1].val & PTE_A) && !(exp[3] & PTE_A))
					mx->tolerated++;
				ign[3] |= PTE_A;
			}
			for (level = mx->top; level >= 1; level--) {
				got = r[1 + mx->top - level].val & mask;
				if ((got & ~ign[level]) != (exp[level] & ~ign[level]))
					MX_ERR(mx, "%s [%s] %s: L%d entry expected %#llx (ignoring %#llx), got %#llx\n",
					       pm_name[mx->m.pm], c->label,
					       c->acc[k].name, level,
					       (unsigned long long)exp[level],
					       (unsigned long long)ign[level],
					       (unsigned long long)got);
				mx->e[level] = got;
			}
			got = r[1 + mx->top].val;
			if (ti >= 0 && got != mx->q1[ti]) {
				MX_ERR(mx, "%s [%s] %s: target memory expected %#llx, got %#llx\n",
				       pm_name[mx->m.pm], c->label,
				       c->acc[k].name,
				       (unsigned long long)mx->q1[ti],
				       (unsigned long long)got);
				mx->q1[ti] = got;
			}
		}
		if (mx->errors != errors0 &&
		    strlen(mx->failed) + strlen(c->label) + 4 < sizeof(mx->failed)) {
			strcat(mx->failed, "[");
			strcat(mx->failed, c->label);
			strcat(mx->failed, "] ");
		}
	}
}

static int run_matrix(unsigned long mmu, enum pm pm, enum mx_kind kind)
{
	struct matrix mx;
	struct prog p;
	unsigned int from, to, chunk = 40, naccs = 0;
	bool wp = true, nxe = false;
	uint64_t cr4 = 0;
	double t0 = now();
	int i, bad;

	memset(&mx, 0, sizeof(mx));
	mx.t = tvm_new(mmu, pm, 1);
	mx.m.pm = pm;
	mx.m.maxphy = maxphyaddr();
	mx.m.gb1 = has_1g_pages();
	mx.m.pse36 = has_pse36();
	mx.tcg_nested = mmu == SHV_VM_MMU_NESTED && host_is_tcg();
	mx.bochs = host_is_bochs();
	mx.top = pm_top(pm);
	switch (pm) {
	case PM_LM4:
		mx.tva = TVA64;
		mx.ea[4] = PML4_GPA + 8;
		mx.ea[3] = T_PDPT;
		mx.ea[2] = T_PD;
		mx.ea[1] = T_PT + 8;
		break;
	case PM_PAE:
		mx.tva = TVA32;
		mx.ea[3] = T_PAEPDPT + 16;
		mx.ea[2] = T_PD;
		mx.ea[1] = T_PT + 8;
		break;
	case PM_32:
		mx.tva = TVA32;
		mx.ea[2] = PD32_GPA + 512 * 4;
		mx.ea[1] = T_PT + 4;
		break;
	}
	for (i = 0; i < 4; i++) {
		put64(mx.t->vm, tgt_pa[i], tgt_marker(i));
		put64(mx.t->vm, tgt_pa[i] + 8, 0);
		put64(mx.t->vm, tgt_pa[i] + 16, LDT_DATA_DESC);
	}
	if (kind == MX_STD)
		matrix_build(&mx);
	else
		matrix_build_smx(&mx, kind);
	for (i = 0; i < (int)mx.ncfg; i++)
		naccs += acc_count(mx.cfgs[i].acc);
	fprintf(stderr, "# %s paging%s, %s MMU: %u configurations, %u accesses (MAXPHYADDR %d, 1G pages %s)\n",
		pm_name[pm], mx_kind_name[kind],
		mmu == SHV_VM_MMU_SHADOW ? "shadow" : "nested",
		mx.ncfg, naccs, mx.m.maxphy, mx.m.gb1 ? "yes" : "no");

	for (from = 0; from < mx.ncfg; from = to) {
		to = from + chunk < mx.ncfg ? from + chunk : mx.ncfg;
		prog_init(&p);
		matrix_emit(&mx, &p, from, to, &wp, &nxe, &cr4);
		run_prog(mx.t, 0, &p, NULL, NULL);
		prog_free(&p);
		matrix_check(&mx, from, to);
		i = tvm_verify(mx.t, 0);
		if (i)
			MX_ERR(&mx, "SHV_MMU_VERIFY: %d inconsistent entries after configurations %u..%u\n",
			       i, from, to - 1);
	}
	if (shadow(mx.t)) {
		struct shv_mmu_stats s = tvm_stats(mx.t);

		print_stats("matrix", &s);
	}
	fprintf(stderr, "# %u configurations in %.1f s\n", mx.ncfg, now() - t0);
	if (mx.tolerated)
		fprintf(stderr, "# tolerated %d known QEMU/TCG or Bochs deviations (RSVD without P, A in PAE PDPTEs, A in faulting 1G PDPTEs; SMAP at CPL 3 with AC=1)\n",
			mx.tolerated);
	bad = mx.errors;
	if (bad)
		fprintf(stderr, "# %d mismatches in all; failing configurations: %s\n",
			bad, mx.failed);
	free(mx.cfgs);
	tvm_free(mx.t);
	return bad;
}

/* ---- the tests ---- */

FIXTURE(mmu) {
	int unused;
};

FIXTURE_VARIANT(mmu) {
	unsigned long flags;
};

FIXTURE_VARIANT_ADD(mmu, shadow) {
	.flags = SHV_VM_MMU_SHADOW,
};

FIXTURE_VARIANT_ADD(mmu, nested) {
	.flags = SHV_VM_MMU_NESTED,
};

FIXTURE_SETUP(mmu) {}
FIXTURE_TEARDOWN(mmu) {}

#define MMU_GATE() do {							\
	const char *why = mmu_skip(variant->flags);			\
									\
	if (why)							\
		SKIP(return, "%s", why);				\
} while (0)

/* 1: the permission matrix in each paging mode */
TEST_F_TIMEOUT(mmu, perm_4level, 600)
{
	MMU_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_LM4, MX_STD));
}

TEST_F_TIMEOUT(mmu, perm_pae, 600)
{
	MMU_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_PAE, MX_STD));
}

TEST_F_TIMEOUT(mmu, perm_32bit, 600)
{
	MMU_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_32, MX_STD));
}

/*
 * SMEP and SMAP where the CPU has them (shv offers them to its guests
 * then, under both MMUs); a SKIP, not a pass, where it does not.
 */
#define SMEP_GATE() do {						\
	MMU_GATE();							\
	if (!has_smep())						\
		SKIP(return, "the CPU has no SMEP");			\
} while (0)

#define SMAP_GATE() do {						\
	MMU_GATE();							\
	if (!has_smap() || !has_smep())					\
		SKIP(return, "the CPU lacks SMAP or SMEP");		\
} while (0)

TEST_F_TIMEOUT(mmu, perm_smep_4level, 600)
{
	SMEP_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_LM4, MX_SMEP));
}

TEST_F_TIMEOUT(mmu, perm_smep_pae, 600)
{
	SMEP_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_PAE, MX_SMEP));
}

TEST_F_TIMEOUT(mmu, perm_smep_32bit, 600)
{
	SMEP_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_32, MX_SMEP));
}

TEST_F_TIMEOUT(mmu, perm_smap_4level, 600)
{
	SMAP_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_LM4, MX_SMAP));
}

TEST_F_TIMEOUT(mmu, perm_smap_pae, 600)
{
	SMAP_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_PAE, MX_SMAP));
}

TEST_F_TIMEOUT(mmu, perm_smap_32bit, 600)
{
	SMAP_GATE();
	ASSERT_EQ(0, run_matrix(variant->flags, PM_32, MX_SMAP));
}

/* ---- scenario helpers (4-level paging) ---- */

static uint64_t data_marker(unsigned int i)
{
	return 0xda7a000000000000ULL | (uint64_t)i << 8 | 0xc3;
}

/* a data page holding data_marker(i) */
static uint64_t data_page(struct tvm *t, unsigned int i)
{
	uint64_t p = page_alloc(t);

	put64(t->vm, p, data_marker(i));
	return p;
}

/*
 * A new address space: the identity map (shared PDPT) at PML4[0] and
 * TVA64 -> data through its own PDPT, PD and PT.  Returns the PML4.
 */
static uint64_t make_as(struct tvm *t, uint64_t data, uint64_t *pd_out,
			uint64_t *pt_out)
{
	uint64_t pml4 = page_alloc(t), pdpt = page_alloc(t);
	uint64_t pd = page_alloc(t), pt = page_alloc(t);

	put64(t->vm, pml4, PDPT_GPA | PTE_ALL);
	put64(t->vm, pml4 + 8, pdpt | PTE_ALL);
	put64(t->vm, pdpt, pd | PTE_ALL);
	put64(t->vm, pd, pt | PTE_ALL);
	put64(t->vm, pt + 8, data | PTE_ALL);
	if (pd_out)
		*pd_out = pd;
	if (pt_out)
		*pt_out = pt;
	return pml4;
}

/* expected outcomes of recorded accesses */
struct expect {
	unsigned int rec;
	bool fault;
	uint32_t err;
	uint64_t v;		/* value, or CR2 for a #PF */
	const char *what;
	uint64_t st;		/* a fault's status: PF_STATUS, GP_STATUS */
	bool either;		/* success with value v or alt */
	uint64_t alt;
};

struct expects {
	struct expect *e;
	unsigned int n, cap;
};

static void expect_add(struct expects *x, unsigned int rec, bool fault,
		       uint32_t err, uint64_t v, const char *what)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 128;
		x->e = realloc(x->e, x->cap * sizeof(*x->e));
		SHV_CHECK(x->e, "realloc");
	}
	x->e[x->n++] = (struct expect){ rec, fault, err, v, what,
					fault ? PF_STATUS : 0, false, 0 };
}

/* an access that must raise #GP(0) */
static void expect_gp(struct prog *p, struct expects *x, uint64_t a,
		      unsigned int kind, const char *what)
{
	expect_add(x, op_access(p, a, kind, 0), true, 0, 0, what);
	x->e[x->n - 1].st = GP_STATUS;
}

/* a read of va that must return val */
static void read_expect(struct prog *p, struct expects *x, uint64_t va,
			uint64_t val, const char *what)
{
	expect_add(x, op_access(p, va, ACC_READ, 0), false, 0, val, what);
}

/* a read of va that may return either value */
static void read_either(struct prog *p, struct expects *x, uint64_t va,
			uint64_t val, uint64_t alt, const char *what)
{
	read_expect(p, x, va, val, what);
	x->e[x->n - 1].either = true;
	x->e[x->n - 1].alt = alt;
}

static int expects_check(struct tvm *t, int cpu, struct expects *x)
{
	struct rec *R = recs(t, cpu);
	unsigned int i;
	int bad = 0;

	for (i = 0; i < x->n; i++) {
		struct expect *e = &x->e[i];
		struct rec *r = &R[e->rec];
		bool ok;

		if (e->fault)
			ok = r->st == e->st && r->err == e->err &&
			     (e->st != PF_STATUS || r->cr2 == e->v);
		else
			ok = !r->st && (r->val == e->v ||
					(e->either && r->val == e->alt));
		if (ok)
			continue;
		if (bad++ < 20)
			fprintf(stderr, "# vCPU %d, %s (record %u): expected %s %#llx (err %#x), got status %#llx err %#llx cr2 %#llx value %#llx\n",
				cpu, e->what, e->rec,
				!e->fault ? "value" : e->st == PF_STATUS ?
				"#PF at" : "fault, status",
				(unsigned long long)(e->fault &&
						     e->st != PF_STATUS ?
						     e->st : e->v), e->err,
				(unsigned long long)r->st,
				(unsigned long long)r->err,
				(unsigned long long)r->cr2,
				(unsigned long long)r->val);
	}
	free(x->e);
	memset(x, 0, sizeof(*x));
	return bad;
}

/* stats at every OP_SYNC, indexed by its value; SHV_MMU_VERIFY there */
struct syncs {
	struct shv_mmu_stats s[64];
	int unverified;
};

static void syncs_fn(struct tvm *t, int cpu, uint32_t val, void *arg)
{
	struct syncs *y = arg;
	int bad = tvm_verify(t, cpu);

	SHV_CHECK(val < 64, "sync %u", val);
	y->s[val] = tvm_stats(t);
	if (bad)
		fprintf(stderr, "# SHV_MMU_VERIFY at sync %u: %d\n", val, bad);
	y->unverified += bad;
}

#define DELTA(y, a, b, f) ((long long)((y)->s[b].f - (y)->s[a].f))

/* ---- 2: many address spaces ---- */

static void address_spaces(struct __test_metadata *_metadata,
			   unsigned long mmu, unsigned int n)
{
	struct tvm *t = tvm_new(mmu, PM_LM4, 1);
	unsigned int rounds = n <= 2 ? 24 : n <= 8 ? 10 : 5, r, i;
	long roots = read_param("shadow_roots");
	struct expects x = { 0 };
	struct syncs y;
	uint64_t pml4[64];
	struct prog p;
	bool steady = false;

	SHV_CHECK(n <= 64, "n %u", n);
	memset(&y, 0, sizeof(y));
	for (i = 0; i < n; i++)
		pml4[i] = make_as(t, data_page(t, i), NULL, NULL);
	prog_init(&p);
	op_sync(&p, 0);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			op_cr3(&p, pml4[i]);
			read_expect(&p, &x, TVA64, data_marker(i),
				    "read after CR3 switch");
		}
		op_sync(&p, r + 1);
	}
	run_prog(t, 0, &p, syncs_fn, &y);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	EXPECT_EQ(0, tvm_verify(t, 0));
	EXPECT_EQ(0, y.unverified);

	if (shadow(t)) {
		for (r = 1; r <= rounds; r++) {
			char what[32];

			snprintf(what, sizeof(what), "%u spaces, round %u", n, r);
			print_stats(what, &y.s[r]);
		}
		/* root_misses ~ n in the first round */
		EXPECT_GE(DELTA(&y, 0, 1, root_misses), (long long)n);
		if (roots >= 0 && n > (unsigned long)roots) {
			TH_LOG("%u spaces do not fit %ld cached roots: no hit checks",
			       n, roots);
		} else {
			/*
			 * Once the tables are tracked, switching back to a
			 * cached space is a hit and builds nothing: two rounds
			 * in a row without misses or new shadow pages.
			 */
			for (r = 2; r < rounds && !steady; r++)
				steady = DELTA(&y, r, r + 1, root_misses) == 0 &&
					 DELTA(&y, r - 1, r, root_misses) == 0 &&
					 DELTA(&y, r, r + 1, root_hits) >= n &&
					 DELTA(&y, r, r + 1, shadow_pages) <= 0;
			EXPECT_TRUE(steady)
				TH_LOG("no steady state in %u rounds: misses per round %lld, %lld, ..., last %lld",
				       rounds, DELTA(&y, 0, 1, root_misses),
				       DELTA(&y, 1, 2, root_misses),
				       DELTA(&y, rounds - 1, rounds, root_misses));
			EXPECT_GT(y.s[rounds].tracked_tables, 0);
		}
	}
	tvm_free(t);
}

TEST_F_TIMEOUT(mmu, address_spaces_2, 300)
{
	MMU_GATE();
	address_spaces(_metadata, variant->flags, 2);
}

TEST_F_TIMEOUT(mmu, address_spaces_8, 300)
{
	MMU_GATE();
	address_spaces(_metadata, variant->flags, 8);
}

TEST_F_TIMEOUT(mmu, address_spaces_64, 300)
{
	MMU_GATE();
	address_spaces(_metadata, variant->flags, 64);
}

/* ---- 3: page-table edits ---- */

TEST_F_TIMEOUT(mmu, pt_edits, 300)
{
	struct tvm *t;
	struct expects x = { 0 };
	struct syncs y;
	struct prog p;
	uint64_t d[8], pt_new, pml4_b, pt_e, pte;
	unsigned int i, rec[8];

	MMU_GATE();
	t = tvm_new(variant->flags, PM_LM4, 1);
	memset(&y, 0, sizeof(y));
	for (i = 0; i < 8; i++)
		d[i] = data_page(t, i);
	pte = T_PT + 8;				/* TVA64's PTE */
	put64(t->vm, pte, d[0] | PTE_ALL);
	pt_new = page_alloc(t);
	/* space B shares pt_new (the PT A uses after the edits below) */
	pml4_b = make_as(t, d[0], &pt_e, NULL);
	put64(t->vm, pt_e, pt_new | PTE_ALL);

	prog_init(&p);
	read_expect(&p, &x, TVA64, data_marker(0), "first read");
	op_sync(&p, 1);
	/* remap: one edit and INVLPG */
	op_w64(&p, pte, d[1] | PTE_ALL);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(1), "remap + INVLPG");
	op_sync(&p, 2);
	/* unmap */
	op_w64(&p, pte, 0);
	op_invlpg(&p, TVA64);
	expect_add(&x, op_access(&p, TVA64, ACC_READ, 0), true, 0, TVA64,
		   "unmap + INVLPG");
	/* protect */
	op_w64(&p, pte, d[1] | PTE_P | PTE_US);
	op_invlpg(&p, TVA64);
	expect_add(&x, op_access(&p, TVA64 + 8, ACC_WRITE, 1), true,
		   PF_P | PF_W, TVA64 + 8, "write after protect");
	expect_add(&x, op_access(&p, TVA64 + 8, ACC_WRITE | ACC_USER, 1), true,
		   PF_P | PF_W | PF_U, TVA64 + 8, "user write after protect");
	read_expect(&p, &x, TVA64, data_marker(1), "read after protect");
	/* edit without INVLPG, then a CR3 reload */
	op_w64(&p, pte, d[2] | PTE_ALL);
	emit(&p, OP_RELOAD, 0, 0, 0);
	read_expect(&p, &x, TVA64, data_marker(2), "edit + CR3 reload");
	/* a new PT; the old one is freed and becomes data */
	op_w64(&p, pt_new + 8, d[3] | PTE_ALL);
	op_w64(&p, T_PD, pt_new | PTE_ALL);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(3), "through the new PT");
	emit(&p, OP_FILL, T_PT, 0x5a5a5a5a5a5a5a5bULL, 512);	/* rep stosq */
	rec[0] = op_r64(&p, T_PT);
	rec[1] = op_r64(&p, T_PT + 0xff8);
	for (i = 0; i < 64; i++)			/* one by one */
		op_w64(&p, T_PT + 8 * i, 0x1111000000000000ULL + i);
	rec[2] = op_r64(&p, T_PT + 8);
	rec[3] = op_r64(&p, T_PT + 8 * 63);
	rec[4] = op_r64(&p, T_PT + 8 * 64);
	emit(&p, OP_FILL, T_PT + 0x800, 0x0123456789abcdefULL, 256);
	rec[5] = op_r64(&p, T_PT + 0xff8);
	read_expect(&p, &x, TVA64, data_marker(3), "after reusing the old PT");
	/* the old PT's contents (present bits set) must not translate */
	expect_add(&x, op_access(&p, TVA64 + 0x1000, ACC_READ, 0), true, 0,
		   TVA64 + 0x1000, "PTE 2 of the new PT");
	emit(&p, OP_RELOAD, 0, 0, 0);
	read_expect(&p, &x, TVA64, data_marker(3), "after reload");
	expect_add(&x, op_access(&p, TVA64 + 0x1000, ACC_READ, 0), true, 0,
		   TVA64 + 0x1000, "PTE 2 after reload");
	/* a PT shared by two spaces, edited through each */
	op_cr3(&p, pml4_b);
	read_expect(&p, &x, TVA64, data_marker(3), "space B, shared PT");
	op_cr3(&p, PML4_GPA);
	op_w64(&p, pt_new + 8, d[4] | PTE_ALL);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(4), "space A after its edit");
	op_cr3(&p, pml4_b);
	read_expect(&p, &x, TVA64, data_marker(4), "space B after A's edit");
	op_w64(&p, pt_new + 8, d[5] | PTE_ALL);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(5), "space B after its edit");
	op_cr3(&p, PML4_GPA);
	read_expect(&p, &x, TVA64, data_marker(5), "space A after B's edit");
	/* global pages: INVLPG and a CR4.PGE toggle drop them */
	emit(&p, OP_CR4, ~CR4_PGE, CR4_PGE, 0);
	op_w64(&p, pt_new + 8, d[6] | PTE_ALL | PTE_G);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(6), "global page");
	op_w64(&p, pt_new + 8, d[7] | PTE_ALL | PTE_G);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(7), "global page after INVLPG");
	op_w64(&p, pt_new + 8, d[0] | PTE_ALL | PTE_G);
	emit(&p, OP_CR4, ~CR4_PGE, 0, 0);
	emit(&p, OP_CR4, ~CR4_PGE, CR4_PGE, 0);
	read_expect(&p, &x, TVA64, data_marker(0), "global page after PGE toggle");
	emit(&p, OP_CR4, ~CR4_PGE, 0, 0);
	op_sync(&p, 3);
	run_prog(t, 0, &p, syncs_fn, &y);
	prog_free(&p);

	EXPECT_EQ(0, expects_check(t, 0, &x));
	EXPECT_EQ64(0x5a5a5a5a5a5a5a5bULL, recs(t, 0)[rec[0]].val);
	EXPECT_EQ64(0x5a5a5a5a5a5a5a5bULL, recs(t, 0)[rec[1]].val);
	EXPECT_EQ64(0x1111000000000001ULL, recs(t, 0)[rec[2]].val);
	EXPECT_EQ64(0x111100000000003fULL, recs(t, 0)[rec[3]].val);
	EXPECT_EQ64(0x5a5a5a5a5a5a5a5bULL, recs(t, 0)[rec[4]].val);
	EXPECT_EQ64(0x0123456789abcdefULL, recs(t, 0)[rec[5]].val);
	EXPECT_EQ64(0x0123456789abcdefULL, get64(t->vm, T_PT + 0xff8));
	EXPECT_EQ(0, tvm_verify(t, 0));
	EXPECT_EQ(0, y.unverified);
	if (shadow(t)) {
		print_stats("before the remap", &y.s[1]);
		print_stats("after the remap", &y.s[2]);
		print_stats("end", &y.s[3]);
		/* one edit: emulated, marks stale, purges nothing */
		EXPECT_GE(DELTA(&y, 1, 2, emulated_pt_writes), 1);
		EXPECT_GE(DELTA(&y, 1, 2, stale_marks), 1);
		EXPECT_EQ(0, DELTA(&y, 1, 2, purges_all));
	}
	tvm_free(t);
}

/*
 * One page table reached through two PDEs with different rights: the
 * rights of the path, not of the table, decide (a shadow MMU must keep
 * one shadow per combination of rights above the table).
 */
TEST_F_TIMEOUT(mmu, shared_pt_two_paths, 120)
{
	const uint64_t va0 = TVA64, va1 = TVA64 + 0x200000;
	struct expects x = { 0 };
	struct tvm *t;
	struct prog p;
	uint64_t d0;
	int pass;

	MMU_GATE();
	t = tvm_new(variant->flags, PM_LM4, 1);
	d0 = data_page(t, 0);
	put64(t->vm, T_PT + 8, d0 | PTE_ALL);
	put64(t->vm, T_PD + 0, T_PT | PTE_ALL);
	put64(t->vm, T_PD + 8, T_PT | PTE_P);		/* supervisor, RO */

	prog_init(&p);
	for (pass = 0; pass < 2; pass++) {
		read_expect(&p, &x, va0, data_marker(0), "user path, kernel read");
		expect_add(&x, op_access(&p, va0, ACC_READ | ACC_USER, 0),
			   false, 0, data_marker(0), "user path, user read");
		expect_add(&x, op_access(&p, va1, ACC_READ | ACC_USER, 0),
			   true, PF_P | PF_U, va1, "kernel path, user read");
		read_expect(&p, &x, va1, data_marker(0), "kernel path, kernel read");
		expect_add(&x, op_access(&p, va1 + 8, ACC_WRITE, 5), true,
			   PF_P | PF_W, va1 + 8, "RO path, kernel write");
		expect_add(&x, op_access(&p, va0 + 8, ACC_WRITE | ACC_USER, 6),
			   false, 0, 0, "RW path, user write");
		expect_add(&x, op_access(&p, va1 + 8, ACC_READ, 0), false, 0, 6,
			   "RO path sees the write");
		expect_add(&x, op_access(&p, va1 + 8, ACC_WRITE | ACC_USER, 7),
			   true, PF_P | PF_W | PF_U, va1 + 8, "RO path, user write");
		emit(&p, OP_RELOAD, 0, 0, 0);
	}
	run_prog(t, 0, &p, NULL, NULL);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	EXPECT_EQ64(6, get64(t->vm, d0 + 8));
	EXPECT_EQ(0, tvm_verify(t, 0));
	tvm_free(t);
}

/* linear address through PML4 indices a, b, c, d */
static uint64_t rva(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return a << 39 | b << 30 | c << 21 | d << 12;
}

/*
 * A recursive PML4 entry (PML4[2] -> the PML4): page tables read and
 * edited through the linear addresses it creates, one table used at
 * every level at once, A and D set in the entry that is the leaf.
 */
TEST_F_TIMEOUT(mmu, recursive_pml4, 120)
{
	const uint64_t selfmap = PML4_GPA | PTE_P | PTE_RW;
	struct expects x = { 0 };
	struct tvm *t;
	struct prog p;
	uint64_t d0, d1;
	unsigned int r1, r2;

	MMU_GATE();
	t = tvm_new(variant->flags, PM_LM4, 1);
	d0 = data_page(t, 0);
	d1 = data_page(t, 1);
	put64(t->vm, T_PT + 8, d0 | PTE_ALL);
	put64(t->vm, PML4_GPA + 16, selfmap);

	prog_init(&p);
	read_expect(&p, &x, TVA64, data_marker(0), "first read");
	/* T_PT through PML4[2] -> PML4[1] -> T_PDPT[0] -> T_PD[0] */
	read_expect(&p, &x, rva(2, 1, 0, 0) + 8, d0 | PTE_ALL | PTE_A,
		    "the PTE through the recursive map");
	op_w64(&p, rva(2, 1, 0, 0) + 8, d1 | PTE_ALL);
	op_invlpg(&p, TVA64);
	read_expect(&p, &x, TVA64, data_marker(1), "after the recursive edit");
	/* the PML4 as a data page: PML4[2] is PML4E, PDPTE, PDE and PTE */
	read_expect(&p, &x, rva(2, 2, 2, 2) + 16, selfmap | PTE_A,
		    "PML4[2] through itselfmap");
	op_w64(&p, rva(2, 2, 2, 2) + 24, 0);		/* PML4[3]: was 0 */
	r1 = op_r64(&p, PML4_GPA + 16);
	expect_add(&x, op_access(&p, rva(2, 2, 2, 3), ACC_READ, 0), true,
		   0, rva(2, 2, 2, 3), "PML4[3] not present");
	emit(&p, OP_RELOAD, 0, 0, 0);
	read_expect(&p, &x, TVA64, data_marker(1), "after reload");
	r2 = op_r64(&p, T_PT + 8);
	run_prog(t, 0, &p, NULL, NULL);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	/* written through it: D in PML4[2], the leaf of that write */
	EXPECT_EQ64(selfmap | PTE_A | PTE_D, recs(t, 0)[r1].val);
	EXPECT_EQ64(d1 | PTE_ALL | PTE_A, recs(t, 0)[r2].val);
	EXPECT_EQ(0, tvm_verify(t, 0));
	tvm_free(t);
}

/* ---- 4: more fresh page tables than tracking may defer ---- */

/* k page tables under T_PD, each mapping a data page; returns VA of k */
static uint64_t fresh_va(unsigned int k)
{
	return 0x8000000000ULL + (uint64_t)k * 0x200000 + 0x1000;
}

static void emit_fresh_tables(struct tvm *t, struct prog *p,
			      struct expects *x, unsigned int n,
			      unsigned int first_sync)
{
	unsigned int k;

	op_sync(p, first_sync);
	for (k = 0; k < n; k++) {
		uint64_t pt = page_alloc(t), d = data_page(t, 100 + k);

		op_w64(p, pt + 8, d | PTE_ALL);		/* not a table yet */
		op_w64(p, T_PD + 8 * k, pt | PTE_ALL);
		op_invlpg(p, fresh_va(k));
		read_expect(p, x, fresh_va(k), data_marker(100 + k),
			    "through a fresh PT");
	}
	op_sync(p, first_sync + 1);
	for (k = 0; k < n; k++)
		read_expect(p, x, fresh_va(k), data_marker(100 + k),
			    "second pass");
	emit(p, OP_RELOAD, 0, 0, 0);
	for (k = 0; k < n; k++)
		read_expect(p, x, fresh_va(k), data_marker(100 + k),
			    "after reload");
	op_sync(p, first_sync + 2);
}

TEST_F_TIMEOUT(mmu, deferral_overflow, 300)
{
	long thr = read_param("shadow_defer_threshold");
	unsigned int n = thr >= 0 && thr < 400 ? thr + 16 : 80;
	struct expects x = { 0 };
	struct tvm *t;
	struct syncs y;
	struct prog p;

	MMU_GATE();
	t = tvm_new(variant->flags, PM_LM4, 1);
	memset(&y, 0, sizeof(y));
	prog_init(&p);
	emit_fresh_tables(t, &p, &x, n, 1);
	run_prog(t, 0, &p, syncs_fn, &y);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	EXPECT_EQ(0, tvm_verify(t, 0));
	EXPECT_EQ(0, y.unverified);
	if (shadow(t)) {
		print_stats("before", &y.s[1]);
		print_stats("after", &y.s[2]);
		print_stats("end", &y.s[3]);
		if (thr < 0 || thr >= 400) {
			TH_LOG("shadow_defer_threshold %ld: no counter checks", thr);
		} else {
			EXPECT_GE(DELTA(&y, 1, 2, deferral_overflows), 1);
			EXPECT_GE(DELTA(&y, 1, 2, purges_all), 1);
			/* after the purge, the known tables are tracked */
			EXPECT_GT(y.s[3].tracked_tables, 0);
		}
	}
	tvm_free(t);
}

/* ---- 5: two vCPUs, one address space, one of them editing it ---- */

struct thr {
	struct tvm *t;
	int cpu;
	struct prog *p;
};

static void *thr_run(void *arg)
{
	struct thr *a = arg;

	run_prog(a->t, a->cpu, a->p, NULL, NULL);
	return NULL;
}

TEST_F_TIMEOUT(mmu, two_vcpus_remap, 300)
{
	const unsigned int iters = 48;
	struct expects x0 = { 0 }, x1 = { 0 };
	struct prog p0, p1;
	struct thr a[2];
	pthread_t th[2];
	struct tvm *t;
	uint64_t d[4];
	unsigned int i;

	MMU_GATE();
	t = tvm_new(variant->flags, PM_LM4, 2);
	for (i = 0; i < 4; i++)
		d[i] = data_page(t, i);
	put64(t->vm, T_PT + 8, d[0] | PTE_ALL);
	put64(t->vm, FLAG_GPA, 0);
	put64(t->vm, ACK_GPA, 0);

	prog_init(&p0);
	prog_init(&p1);
	read_expect(&p0, &x0, TVA64, data_marker(0), "vCPU 0 first read");
	read_expect(&p1, &x1, TVA64, data_marker(0), "vCPU 1 first read");
	op_w64(&p1, ACK_GPA, 1);
	for (i = 1; i <= iters; i++) {
		emit(&p0, OP_WAIT, ACK_GPA, i, 0);
		op_w64(&p0, T_PT + 8, d[i % 4] | PTE_ALL);
		op_invlpg(&p0, TVA64);
		read_expect(&p0, &x0, TVA64, data_marker(i % 4),
			    "vCPU 0 after its remap");
		op_w64(&p0, FLAG_GPA, i);

		emit(&p1, OP_WAIT, FLAG_GPA, i, 0);
		op_invlpg(&p1, TVA64);
		read_expect(&p1, &x1, TVA64, data_marker(i % 4),
			    "vCPU 1 after vCPU 0's remap");
		op_w64(&p1, ACK_GPA, i + 1);
	}
	a[0] = (struct thr){ t, 0, &p0 };
	a[1] = (struct thr){ t, 1, &p1 };
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thr_run, &a[i]));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	prog_free(&p0);
	prog_free(&p1);
	EXPECT_EQ(0, expects_check(t, 0, &x0));
	EXPECT_EQ(0, expects_check(t, 1, &x1));
	EXPECT_EQ(0, tvm_verify(t, 0));
	EXPECT_EQ(0, tvm_verify(t, 1));
	tvm_free(t);
}

/* ---- 6: the shadow page cap; CR3 at MMIO or beyond memory ---- */

/* many fresh tables under a lowered cap; 0 or the number of problems */
static int cap_scenario(unsigned long mmu, long cap)
{
	struct expects x = { 0 };
	struct tvm *t = tvm_new(mmu, PM_LM4, 1);
	struct syncs y;
	struct prog p;
	int bad;

	memset(&y, 0, sizeof(y));
	prog_init(&p);
	emit_fresh_tables(t, &p, &x, 3 * cap / 2, 1);
	run_prog(t, 0, &p, syncs_fn, &y);
	prog_free(&p);
	bad = expects_check(t, 0, &x) + y.unverified;
	if (tvm_verify(t, 0)) {
		fprintf(stderr, "# SHV_MMU_VERIFY: inconsistent\n");
		bad++;
	}
	if (shadow(t)) {
		print_stats("under the cap", &y.s[3]);
		if (y.s[3].reclaims < 1) {
			fprintf(stderr, "# no reclaim under a cap of %ld\n", cap);
			bad++;
		}
		if (y.s[3].shadow_pages > (unsigned long long)cap) {
			fprintf(stderr, "# %llu shadow pages over the cap of %ld\n",
				(unsigned long long)y.s[3].shadow_pages, cap);
			bad++;
		}
	}
	tvm_free(t);
	return bad;
}

TEST_F_TIMEOUT(mmu, shadow_page_cap, 300)
{
	const long cap = 96;
	long orig = read_param("shadow_pages_max");
	int status;
	pid_t pid;

	MMU_GATE();
	if (variant->flags == SHV_VM_MMU_SHADOW) {
		if (orig < 0)
			SKIP(return, "no shadow_pages_max parameter");
		if (write_param("shadow_pages_max", cap))
			SKIP(return, "cannot lower shadow_pages_max (not root?)");
	}
	/* the parameter is global: restore it whatever the scenario does */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(cap_scenario(variant->flags, cap) ? 1 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (variant->flags == SHV_VM_MMU_SHADOW)
		ASSERT_EQ(0, write_param("shadow_pages_max", orig));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * CR3 pointing at guest-physical memory that is not RAM (MMIO, or no slot
 * at all): the next translation cannot read the guest's tables.  Both
 * MMUs report SHV_EXIT_INTERNAL_ERROR/SHV_INTERNAL_ERROR_FETCH (the
 * runner decides; real hardware would read whatever the bus returns),
 * and the vCPU works again once given a good CR3.
 */
static void bad_cr3(struct __test_metadata *_metadata, unsigned long mmu,
		    enum pm pm, uint64_t cr3)
{
	struct tvm *t = tvm_new(mmu, pm, 1);
	uint64_t tva = pm == PM_LM4 ? TVA64 : TVA32;
	struct shv_run *run = t->v[0]->run;
	struct expects x = { 0 };
	struct shv_sregs sr;
	struct shv_regs regs;
	struct prog p;

	put64(t->vm, T_PT + (pm == PM_LM4 ? 8 : 4), TGT_4K | PTE_ALL);
	put64(t->vm, TGT_4K, tgt_marker(0));

	prog_init(&p);
	op_sync(&p, 1);
	op_cr3(&p, cr3);
	op_sync(&p, 2);
	emit(&p, OP_END, 0, 0, 0);
	memcpy(shv_gpa2hva(t->vm, PROG_GPA(0)), p.ops, p.n * sizeof(*p.ops));
	prog_free(&p);
	put64(t->vm, block_gpa(0), PROG_GPA(0));
	put64(t->vm, block_gpa(0) + 8, RES_GPA(0));

	ASSERT_EQ64(1, shv_expect_report(t->v[0]));
	ASSERT_EQ(SHV_EXIT_INTERNAL_ERROR, shv_run(t->v[0]))
		TH_LOG("CR3 %#llx: %s", (unsigned long long)cr3,
		       shv_describe_exit(t->v[0]));
	EXPECT_EQ(SHV_INTERNAL_ERROR_FETCH, run->internal.suberror);
	TH_LOG("CR3 %#llx: %s", (unsigned long long)cr3,
	       shv_describe_exit(t->v[0]));

	/* a good CR3 again, a fresh program */
	shv_get_sregs(t->v[0], &sr);
	EXPECT_EQ64(cr3, sr.cr3);
	sr.cr3 = pm == PM_LM4 ? PML4_GPA : PD32_GPA;
	shv_set_sregs(t->v[0], &sr);
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = CODE_GPA;
	regs.rsp = STACK_TOP;
	regs.r15 = regs.rbp = block_gpa(0);
	shv_set_regs(t->v[0], &regs);
	prog_init(&p);
	read_expect(&p, &x, tva, tgt_marker(0) & (pm == PM_LM4 ? ~0ULL : 0xffffffffULL),
		    "after recovery");
	run_prog(t, 0, &p, NULL, NULL);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	EXPECT_EQ(0, tvm_verify(t, 0));
	tvm_free(t);
}

TEST_F_TIMEOUT(mmu, cr3_mmio, 120)
{
	MMU_GATE();
	bad_cr3(_metadata, variant->flags, PM_LM4, MMIO_GPA);
}

TEST_F_TIMEOUT(mmu, cr3_beyond_ram, 120)
{
	MMU_GATE();
	bad_cr3(_metadata, variant->flags, PM_LM4, 0x10000000);
}

TEST_F_TIMEOUT(mmu, cr3_mmio_32bit, 120)
{
	MMU_GATE();
	bad_cr3(_metadata, variant->flags, PM_32, MMIO_GPA);
}

/* ---- 7: PCIDs ---- */

/*
 * The shadow MMU offers PCIDs on any CPU (it tags its roots with them);
 * nested paging only where the CPU has them (QEMU's TCG has not).
 */
static bool pcid_offered(unsigned long mmu)
{
	return mmu == SHV_VM_MMU_SHADOW || has_pcid();
}

/*
 * Two address spaces under PCIDs 1 and 2, switched with and without
 * no-flush, their page tables edited without the flush that would make
 * the edit visible.  What the architecture guarantees is checked under
 * both MMUs: a flushing CR3 load shows the new translation of its PCID;
 * a no-flush load of a PCID never used (C shares A's tables, whose edit
 * is not flushed) shows the new one too, and so does a no-flush return
 * to A for a page mapped and remapped while the vCPU was away; INVLPG
 * drops global translations in every PCID; a CR4.PGE toggle and clearing
 * CR4.PCIDE drop everything; MOV from CR3 returns the PCID and never bit
 * 63.  Where a stale translation may survive, either value is
 * accepted under nested paging; the shadow MMU's choices are asserted:
 * a stale translation of a PCID survives no-flush switches away and back
 * and a flush of another PCID, INVLPG drops stale translations of every
 * PCID.  The counters show that a no-flush switch to a cached address
 * space is a root hit that purges and rebuilds nothing.
 */
TEST_F_TIMEOUT(mmu, pcid_switches, 300)
{
	const uint64_t gva = TVA64 + 0x1000;	/* PTE 2: a global page */
	uint64_t pt_a, pt_b, a[4], b[5], g[3], A, B, C;
	struct expects x = { 0 };
	struct syncs y;
	struct tvm *t;
	struct prog p;
	unsigned int i, rec_cr3[2];
	bool sh;

	MMU_GATE();
	if (!pcid_offered(variant->flags))
		SKIP(return, "nested paging: the CPU has no PCID");
	t = tvm_new(variant->flags, PM_LM4, 1);
	sh = shadow(t);
	memset(&y, 0, sizeof(y));
	for (i = 0; i < 4; i++)
		a[i] = data_page(t, 10 + i);
	for (i = 0; i < 5; i++)
		b[i] = data_page(t, 20 + i);
	for (i = 0; i < 3; i++)
		g[i] = data_page(t, 30 + i);
	A = make_as(t, a[0], NULL, &pt_a) | 1;
	B = make_as(t, b[0], NULL, &pt_b) | 2;
	put64(t->vm, pt_a + 16, g[0] | PTE_ALL | PTE_G);
	put64(t->vm, pt_b + 16, g[0] | PTE_ALL | PTE_G);
	/* C shares A's tables below its own PML4 */
	C = page_alloc(t);
	put64(t->vm, C, PDPT_GPA | PTE_ALL);
	put64(t->vm, C + 8, get64(t->vm, (A & ~0xfffULL) + 8));
	C |= 3;

	prog_init(&p);
	emit(&p, OP_CR4, ~0ULL, CR4_PGE | CR4_PCIDE, 0);
	op_cr3(&p, A);
	read_expect(&p, &x, TVA64, data_marker(10), "A, PCID 1");
	read_expect(&p, &x, gva, data_marker(30), "global page in A");
	op_cr3(&p, B);
	read_expect(&p, &x, TVA64, data_marker(20), "B, PCID 2");
	read_expect(&p, &x, gva, data_marker(30), "global page in B");
	/* until the shadow MMU tracks the tables (deferred tracking) */
	for (i = 0; i < 8; i++) {
		op_cr3(&p, A | CR3_NOFLUSH);
		read_expect(&p, &x, TVA64, data_marker(10), "A, warming up");
		op_cr3(&p, B | CR3_NOFLUSH);
		read_expect(&p, &x, TVA64, data_marker(20), "B, warming up");
	}
	op_sync(&p, 1);
	for (i = 0; i < 4; i++) {
		op_cr3(&p, A | CR3_NOFLUSH);
		read_expect(&p, &x, TVA64, data_marker(10), "A, no-flush");
		op_cr3(&p, B | CR3_NOFLUSH);
		read_expect(&p, &x, TVA64, data_marker(20), "B, no-flush");
	}
	op_sync(&p, 2);

	/* an edit in A, not flushed: no-flush switches away and back */
	op_cr3(&p, A | CR3_NOFLUSH);
	read_expect(&p, &x, TVA64, data_marker(10), "A before its edit");
	op_w64(&p, pt_a + 8, a[1] | PTE_ALL);
	op_cr3(&p, B | CR3_NOFLUSH);
	read_expect(&p, &x, TVA64, data_marker(20), "B, A's edit unflushed");
	op_cr3(&p, A | CR3_NOFLUSH);
	if (sh)
		read_expect(&p, &x, TVA64, data_marker(10),
			    "A's stale translation after no-flush switches");
	else
		read_either(&p, &x, TVA64, data_marker(10), data_marker(11),
			    "A after no-flush switches");
	op_sync(&p, 3);
	op_cr3(&p, A);
	read_expect(&p, &x, TVA64, data_marker(11), "A after flushing PCID 1");

	/* PCID 3 was never used: a no-flush load shows no stale entry */
	op_w64(&p, pt_a + 8, a[2] | PTE_ALL);
	op_cr3(&p, C | CR3_NOFLUSH);
	read_expect(&p, &x, gva, data_marker(30), "C (PCID 3, first use)");
	read_expect(&p, &x, TVA64, data_marker(12),
		    "C (PCID 3, first use) after A's unflushed edit");
	/* a mapping made and changed while away from A: A never saw it */
	op_w64(&p, pt_a + 24, a[3] | PTE_ALL);
	read_expect(&p, &x, TVA64 + 0x2000, data_marker(13), "C, page 3");
	op_w64(&p, pt_a + 24, a[0] | PTE_ALL);
	op_cr3(&p, A | CR3_NOFLUSH);
	read_expect(&p, &x, TVA64 + 0x2000, data_marker(10),
		    "A, page 3 mapped and remapped while away");
	op_cr3(&p, A);

	/* an edit in B, not flushed: a flush of PCID 1 is not one of 2 */
	op_cr3(&p, B | CR3_NOFLUSH);
	read_expect(&p, &x, TVA64, data_marker(20), "B before its edit");
	op_w64(&p, pt_b + 8, b[1] | PTE_ALL);
	op_cr3(&p, A);
	read_expect(&p, &x, TVA64, data_marker(12), "A, flushed again");
	op_cr3(&p, B | CR3_NOFLUSH);
	if (sh)
		read_expect(&p, &x, TVA64, data_marker(20),
			    "B's stale translation after PCID 1's flush");
	else
		read_either(&p, &x, TVA64, data_marker(20), data_marker(21),
			    "B after PCID 1's flush");
	op_cr3(&p, B);
	read_expect(&p, &x, TVA64, data_marker(21), "B after flushing PCID 2");

	/* INVLPG under PCID 1 of an address B maps (not global) */
	op_w64(&p, pt_b + 8, b[2] | PTE_ALL);
	op_cr3(&p, A | CR3_NOFLUSH);
	op_invlpg(&p, TVA64);
	op_cr3(&p, B | CR3_NOFLUSH);
	if (sh)
		read_expect(&p, &x, TVA64, data_marker(22),
			    "B after INVLPG under PCID 1 (shv: every PCID)");
	else
		read_either(&p, &x, TVA64, data_marker(22), data_marker(21),
			    "B after INVLPG under PCID 1");

	/* a global page: INVLPG under one PCID drops it in all */
	op_cr3(&p, B);
	read_expect(&p, &x, gva, data_marker(30), "global page in B again");
	op_w64(&p, pt_a + 16, g[1] | PTE_ALL | PTE_G);
	op_w64(&p, pt_b + 16, g[1] | PTE_ALL | PTE_G);
	op_cr3(&p, A | CR3_NOFLUSH);
	op_invlpg(&p, gva);
	read_expect(&p, &x, gva, data_marker(31), "global page in A, INVLPG");
	op_cr3(&p, B | CR3_NOFLUSH);
	read_expect(&p, &x, gva, data_marker(31),
		    "global page in B after INVLPG under PCID 1");

	/* a CR4.PGE toggle flushes every PCID, global pages included */
	read_expect(&p, &x, TVA64, data_marker(22), "B before the toggle");
	op_w64(&p, pt_a + 16, g[2] | PTE_ALL | PTE_G);
	op_w64(&p, pt_b + 16, g[2] | PTE_ALL | PTE_G);
	op_w64(&p, pt_b + 8, b[3] | PTE_ALL);
	op_cr3(&p, A | CR3_NOFLUSH);
	emit(&p, OP_CR4, ~CR4_PGE, 0, 0);
	emit(&p, OP_CR4, ~0ULL, CR4_PGE, 0);
	read_expect(&p, &x, gva, data_marker(32), "global page in A, PGE");
	op_cr3(&p, B | CR3_NOFLUSH);
	read_expect(&p, &x, gva, data_marker(32), "global page in B, PGE");
	read_expect(&p, &x, TVA64, data_marker(23), "B after PGE toggled in A");

	/* MOV from CR3: the PCID, not the no-flush bit */
	rec_cr3[0] = op_access(&p, 0, ACC_RDCR3, 0);
	/* clearing CR4.PCIDE flushes everything; CR3 keeps its low bits */
	op_w64(&p, pt_b + 8, b[4] | PTE_ALL);
	emit(&p, OP_CR4, ~CR4_PCIDE, 0, 0);
	read_expect(&p, &x, TVA64, data_marker(24), "B after clearing PCIDE");
	rec_cr3[1] = op_access(&p, 0, ACC_RDCR3, 0);
	op_cr3(&p, B & ~0xfffULL);
	op_sync(&p, 4);
	run_prog(t, 0, &p, syncs_fn, &y);
	prog_free(&p);

	EXPECT_EQ(0, expects_check(t, 0, &x));
	EXPECT_EQ64(B, recs(t, 0)[rec_cr3[0]].val);
	EXPECT_EQ64(0, recs(t, 0)[rec_cr3[0]].st);
	EXPECT_EQ64(B, recs(t, 0)[rec_cr3[1]].val);
	EXPECT_EQ(0, tvm_verify(t, 0));
	EXPECT_EQ(0, y.unverified);
	if (sh) {
		for (i = 1; i <= 4; i++) {
			char what[32];

			snprintf(what, sizeof(what), "PCIDs, sync %u", i);
			print_stats(what, &y.s[i]);
		}
		/* no-flush switches between cached spaces: hits, no work */
		EXPECT_GE(DELTA(&y, 1, 2, cr3_noflush), 8);
		EXPECT_GE(DELTA(&y, 1, 2, root_hits), 8);
		EXPECT_EQ(0, DELTA(&y, 1, 2, root_misses));
		EXPECT_EQ(0, DELTA(&y, 1, 2, shadow_faults));
		EXPECT_EQ(0, DELTA(&y, 1, 2, shadow_pages));
		EXPECT_EQ(0, DELTA(&y, 1, 2, purges_all));
		/* the edit in A marked, and no-flush switches purged nothing */
		EXPECT_GE(DELTA(&y, 2, 3, stale_marks), 1);
		EXPECT_EQ(0, DELTA(&y, 2, 3, stale_purges));
		EXPECT_EQ(0, DELTA(&y, 2, 3, purges_all));
		EXPECT_EQ(0, DELTA(&y, 2, 3, root_misses));
	}
	tvm_free(t);
}

/*
 * The #GP cases of PCIDs: CR3 bit 63 without CR4.PCIDE, setting PCIDE
 * while CR3[11:0] is not 0, or outside long mode (and wherever PCIDs are
 * not offered), and what is allowed once they are on.  Not under nested
 * paging in QEMU/TCG, whose guests get no #GP for these: a MOV to CR3
 * with bit 63 in long mode ends the guest with VMEXIT_INVALID, and
 * setting CR4.PCIDE on its CPU without PCIDs is accepted.
 */
static void pcid_gp(struct __test_metadata *_metadata, unsigned long mmu,
		    enum pm pm)
{
	struct tvm *t = tvm_new(mmu, pm, 1);
	bool lm = pm == PM_LM4, ok = lm && pcid_offered(mmu);
	struct expects x = { 0 };
	struct shv_sregs sr;
	struct prog p;
	unsigned int rec = 0;
	uint64_t cr4;

	shv_get_sregs(t->v[0], &sr);
	cr4 = sr.cr4;
	prog_init(&p);
	if (lm) {
		expect_gp(&p, &x, PML4_GPA | CR3_NOFLUSH, ACC_MOVCR3,
			  "CR3 bit 63 without PCIDE");
		op_cr3(&p, PML4_GPA | 0x18);		/* PWT, PCD */
		expect_gp(&p, &x, cr4 | CR4_PCIDE, ACC_MOVCR4,
			  "PCIDE with CR3[11:0] = 0x18");
		op_cr3(&p, PML4_GPA);
	}
	if (ok) {
		expect_add(&x, op_access(&p, cr4 | CR4_PCIDE, ACC_MOVCR4, 0),
			   false, 0, 0, "PCIDE in long mode");
		expect_add(&x, op_access(&p, PML4_GPA | 5 | CR3_NOFLUSH,
					 ACC_MOVCR3, 0),
			   false, 0, 0, "CR3 with PCID 5, no-flush");
		rec = op_access(&p, 0, ACC_RDCR3, 0);
		read_expect(&p, &x, TVA64, 0, "a read under PCID 5");
		expect_add(&x, op_access(&p, cr4, ACC_MOVCR4, 0), false, 0, 0,
			   "PCIDE cleared");
	} else {
		expect_gp(&p, &x, cr4 | CR4_PCIDE, ACC_MOVCR4,
			  lm ? "PCIDE where PCIDs are not offered" :
			       "PCIDE outside long mode");
	}
	put64(t->vm, T_PT + 8, TGT_4K | PTE_ALL);
	put64(t->vm, TGT_4K, 0);
	run_prog(t, 0, &p, NULL, NULL);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	if (ok) {
		EXPECT_EQ64(0, recs(t, 0)[rec].st);
		EXPECT_EQ64(PML4_GPA | 5, recs(t, 0)[rec].val);
	}
	EXPECT_EQ(0, tvm_verify(t, 0));
	tvm_free(t);
}

#define PCID_GP_GATE() do {						\
	MMU_GATE();							\
	if (variant->flags == SHV_VM_MMU_NESTED && host_is_tcg())	\
		SKIP(return, "QEMU/TCG's nested guests get no #GP here"); \
} while (0)

TEST_F_TIMEOUT(mmu, pcid_gp_4level, 120)
{
	PCID_GP_GATE();
	pcid_gp(_metadata, variant->flags, PM_LM4);
}

TEST_F_TIMEOUT(mmu, pcid_gp_pae, 120)
{
	PCID_GP_GATE();
	pcid_gp(_metadata, variant->flags, PM_PAE);
}

/*
 * INVPCID is not offered (CPUID.7.EBX[10] is clear): #UD under both
 * MMUs, from the CPU that lacks it, the VMX control left clear, or the
 * SVM intercept.
 */
TEST_F_TIMEOUT(mmu, invpcid_ud, 120)
{
	struct expects x = { 0 };
	struct tvm *t;
	struct prog p;
	unsigned int type;

	MMU_GATE();
	t = tvm_new(variant->flags, PM_LM4, 1);
	memset(shv_gpa2hva(t->vm, DATA_GPA), 0, 16);
	prog_init(&p);
	for (type = 0; type < 4; type++) {
		expect_add(&x, op_access(&p, DATA_GPA, ACC_INVPCID, type),
			   true, 0, 0, "INVPCID");
		x.e[x.n - 1].st = UD_STATUS;
	}
	run_prog(t, 0, &p, NULL, NULL);
	prog_free(&p);
	EXPECT_EQ(0, expects_check(t, 0, &x));
	tvm_free(t);
}

TEST_HARNESS_MAIN
