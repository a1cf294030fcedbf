/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv selftests: helpers shared by the tests and the guest payloads.
 *
 * Guest-physical layout of the standard test VM (slot 0 is RAM at 0):
 *
 *   0x01000  GDT            0x02000  IDT            0x03000  TSS
 *   0x04000  PML4           0x05000  PDPT           0x06000  4 PDs (4 GiB)
 *   0x0c000  PAE PDPT       0x0d000  32-bit PD (4 MiB pages)
 *   0x10000  guest code     0x20000  data area      0x40000  stack top
 *   0x80000  end of RAM;    0xa0000 and 0xc0000000 are MMIO (no slot)
 *
 * Real-mode payloads run with CS=DS=ES=SS=0x1000 (base = CODE_GPA), so a
 * label's offset from the payload start is its address.  32-bit payloads
 * run flat without paging, 64-bit payloads with identity-mapped 2 MiB
 * pages over the low 4 GiB.
 *
 * Guest "syscalls" (port I/O):
 *   out to PORT_REPORT: report a value (1, 2 or 4 bytes)
 *   out to PORT_FAIL:   the guest detected an error (value = code)
 *   out to PORT_DONE:   the payload finished
 */
#ifndef SHV_UTIL_H
#define SHV_UTIL_H

#define GDT_GPA		0x1000
#define IDT_GPA		0x2000
#define TSS_GPA		0x3000
#define PML4_GPA	0x4000
#define PDPT_GPA	0x5000
#define PD_GPA		0x6000
#define PAE_PDPT_GPA	0xc000
#define PD32_GPA	0xd000
#define CODE_GPA	0x10000
#define DATA_GPA	0x20000
#define STACK_TOP	0x40000
#define RAM_SIZE	0x80000
#define REAL_SEG	0x1000		/* CODE_GPA >> 4 */
#define REAL_SP		0xfff0
#define MMIO_GPA	0xc0000000
#define REAL_MMIO_SEG	0xa000		/* 0xa0000 */

#define SEL_CODE32	0x08
#define SEL_DATA	0x10
#define SEL_CODE64	0x18
#define SEL_TSS		0x20
#define GDT_LIMIT	0x2f

#define PORT_REPORT	0xe0
#define PORT_FAIL	0xe1
#define PORT_DONE	0xf4

#ifdef __ASSEMBLER__

/* Address of label x of the 32-bit payload that starts at label s. */
#define GA(s, x)	((x) - (s) + CODE_GPA)
/* Offset of label x in a real-mode payload (CS/DS base is CODE_GPA). */
#define RA(s, x)	((x) - (s))

.macro PAYLOAD name
	.globl guest_\name
	.globl guest_\name\()_end
	.p2align 4
guest_\name:
.endm

.macro ENDPAYLOAD name
guest_\name\()_end:
.endm

/* Make label l of a payload visible to C as guest_<l> */
.macro EXPORT l
	.globl guest_\l
guest_\l:
.endm

#else /* !__ASSEMBLER__ */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/shv.h>

#define PAGE_SIZE_4K	4096UL

/* Payload bytes assembled into the test (see *.S) */
#define DECLARE_GUEST(name) \
	extern const unsigned char guest_##name[], guest_##name##_end[]
#define DECLARE_GUEST_LABEL(name) extern const unsigned char guest_##name[]
/* Offset of an exported label inside its payload */
#define GUEST_OFF(payload, label) \
	((uint64_t)((uintptr_t)guest_##label - (uintptr_t)guest_##payload))

enum shv_mode {
	MODE_REAL,	/* CS=DS=ES=SS=REAL_SEG, SP=REAL_SP */
	MODE_PROT32,	/* flat 32-bit, no paging, ESP=STACK_TOP */
	MODE_LONG64,	/* 64-bit, identity 2 MiB pages, RSP=STACK_TOP */
};

struct shv_vm {
	int sys_fd;
	bool own_sys_fd;	/* shv_vm_free closes sys_fd */
	int fd;
	unsigned long flags;
	int mmap_size;		/* SHV_GET_VCPU_MMAP_SIZE */
	struct {
		void *hva;
		uint64_t gpa;
		uint64_t size;
		uint32_t flags;
		bool used;
	} slots[SHV_MAX_MEMSLOTS];
};

struct shv_vcpu {
	struct shv_vm *vm;
	int fd;
	unsigned int id;
	struct shv_run *run;
	size_t run_size;
};

/* Print a diagnostic and end the test process with a failure. */
void __shv_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
#define shv_fail(...) __shv_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SHV_CHECK(cond, ...) do {					\
	if (!(cond))							\
		__shv_fail(__FILE__, __LINE__, "check '" #cond "' failed: " \
			   __VA_ARGS__);				\
} while (0)

/* MMU flags for SHV_CREATE_VM: $SHV_TEST_MMU = default|nested|shadow */
unsigned long shv_test_mmu_flags(void);

int shv_open_dev(void);				/* fails the test if absent */
/* VM with the given flags and no memory; sys_fd stays the caller's */
struct shv_vm *shv_vm_create_bare(int sys_fd, unsigned long flags);
/* VM with shv_test_mmu_flags() and RAM_SIZE of RAM in slot 0 */
struct shv_vm *shv_vm_create(void);
void shv_vm_free(struct shv_vm *vm);	/* closes everything, unmaps RAM */

/* Anonymous memory for a slot; returns its host address. */
void *shv_vm_add_mem(struct shv_vm *vm, unsigned int slot, uint64_t gpa,
		     uint64_t size, uint32_t flags);
void shv_vm_del_mem(struct shv_vm *vm, unsigned int slot);
int shv_set_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		   uint64_t size, uint64_t uaddr);	/* raw ioctl, -1/errno */
void *shv_gpa2hva(struct shv_vm *vm, uint64_t gpa);
void shv_load_code(struct shv_vm *vm, uint64_t gpa, const void *start,
		   const void *end);
#define shv_load_guest(vm, gpa, name) \
	shv_load_code(vm, gpa, guest_##name, guest_##name##_end)

struct shv_vcpu *shv_vcpu_create(struct shv_vm *vm, unsigned int id);
void shv_vcpu_free(struct shv_vcpu *vcpu);	/* close + munmap */

/* Tables in guest memory (idempotent; done by shv_vcpu_setup) */
void shv_vm_write_tables(struct shv_vm *vm);
/* 64-bit interrupt gate for vector -> handler (guest address) */
void shv_idt_set_gate64(struct shv_vm *vm, int vector, uint64_t handler);

/* sregs of a mode (based on the vCPU's current sregs) */
void shv_sregs_for_mode(struct shv_vcpu *vcpu, enum shv_mode mode,
			struct shv_sregs *sregs);
/* Paging for MODE_PROT32: none, 2-level with 4 MiB pages, or PAE */
enum shv_paging32 { PAGING32_NONE, PAGING32_PSE, PAGING32_PAE };
void shv_vcpu_set_paging32(struct shv_vcpu *vcpu, enum shv_paging32 kind);

/* Writes tables, sets sregs + regs (RIP = entry, stack, RFLAGS=2) */
void shv_vcpu_setup(struct shv_vcpu *vcpu, enum shv_mode mode, uint64_t entry);
/* Standard VM + vCPU 0 running payload [start,end) at CODE_GPA */
struct shv_vcpu *shv_vm_with_guest(enum shv_mode mode, const void *start,
				   const void *end);
#define shv_guest_vm(mode, name) \
	shv_vm_with_guest(mode, guest_##name, guest_##name##_end)

void shv_get_regs(struct shv_vcpu *vcpu, struct shv_regs *regs);
void shv_set_regs(struct shv_vcpu *vcpu, const struct shv_regs *regs);
void shv_get_sregs(struct shv_vcpu *vcpu, struct shv_sregs *sregs);
void shv_set_sregs(struct shv_vcpu *vcpu, const struct shv_sregs *sregs);
void shv_set_rip(struct shv_vcpu *vcpu, uint64_t rip);

/* one MSR through SHV_GET_MSRS / SHV_SET_MSRS (the host's view) */
uint64_t shv_get_msr(struct shv_vcpu *vcpu, uint32_t index);
void shv_set_msr(struct shv_vcpu *vcpu, uint32_t index, uint64_t data);
/* SHV_GET_VCPU_STATS; a counter's change is DELTA(before, after, field) */
struct shv_vcpu_stats shv_vcpu_stats(struct shv_vcpu *vcpu);
#define SHV_DELTA(a, b, f)	((b).f - (a).f)
/* SHV_CHECK_EXTENSION on a fresh /dev/shv fd */
long shv_cap(long cap);

/* SHV_RUN; returns the ioctl's result (errno set on -1) */
int shv_run_raw(struct shv_vcpu *vcpu);
/* SHV_RUN that must succeed; returns run->exit_reason */
uint32_t __shv_run(const char *f, int l, struct shv_vcpu *vcpu);
#define shv_run(v) __shv_run(__FILE__, __LINE__, v)

const char *shv_exit_name(uint32_t reason);
/* One-line description of the last exit, for diagnostics */
const char *shv_describe_exit(struct shv_vcpu *vcpu);

/* Run until the next exit, which must be of this reason. */
void __shv_expect_exit(const char *f, int l, struct shv_vcpu *vcpu,
		       uint32_t reason);
#define shv_expect_exit(v, r) __shv_expect_exit(__FILE__, __LINE__, v, r)
/* Run; the exit must be a report (OUT to PORT_REPORT): its value */
uint64_t __shv_expect_report(const char *f, int l, struct shv_vcpu *vcpu);
#define shv_expect_report(v) __shv_expect_report(__FILE__, __LINE__, v)
/* Two reports: low then high 32 bits */
uint64_t __shv_expect_report64(const char *f, int l, struct shv_vcpu *vcpu);
#define shv_expect_report64(v) __shv_expect_report64(__FILE__, __LINE__, v)
/* Run; the exit must be OUT to PORT_DONE */
void __shv_expect_done(const char *f, int l, struct shv_vcpu *vcpu);
#define shv_expect_done(v) __shv_expect_done(__FILE__, __LINE__, v)
/* Run; the exit must be port I/O with these properties. Returns run. */
struct shv_run *__shv_expect_io(const char *f, int l, struct shv_vcpu *vcpu,
				uint8_t dir, uint16_t port, uint8_t size);
#define shv_expect_io(v, d, p, s) __shv_expect_io(__FILE__, __LINE__, v, d, p, s)

/* fill @p with @len bytes from /dev/urandom */
void shv_fill_random(void *p, size_t len);
/* a fresh image file of @size bytes (zeros), open read-write */
int shv_make_image(const char *path, off_t size);
/* the first executable NAME in /sbin, /usr/sbin, /bin, /usr/bin, or NULL */
const char *shv_which(const char *name);
/* system() of the formatted command: its exit status, -1 if it died */
int shv_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The elements of a REP INS/OUTS: n of them, over as many exits as shv
 * takes (a batch per exit, SHV_RUN_PIO_DATA_*).  OUT: copies them into
 * buf; IN: hands them out of buf.
 */
void __shv_expect_io_str(const char *f, int l, struct shv_vcpu *vcpu,
			 uint8_t dir, uint16_t port, uint8_t size,
			 unsigned int n, void *buf);
#define shv_expect_io_str(v, d, p, s, n, b) \
	__shv_expect_io_str(__FILE__, __LINE__, v, d, p, s, n, b)
/* Run; the exit must be MMIO with these properties.  Returns run. */
struct shv_run *__shv_expect_mmio(const char *f, int l, struct shv_vcpu *vcpu,
				  uint64_t gpa, uint32_t len, bool is_write);
#define shv_expect_mmio(v, g, n, w) __shv_expect_mmio(__FILE__, __LINE__, v, g, n, w)

/* Little-endian value of the first len bytes of p */
uint64_t shv_le(const uint8_t *p, unsigned int len);
/* Store the low len bytes of val at p, little-endian */
void shv_put_le(uint8_t *p, unsigned int len, uint64_t val);

/* Kernel memory accounting for leak checks */
#define SHV_MAX_CACHES 512
struct shv_memsnap {
	long free_pages;	/* buddy free + per-cpu lists */
	long slab_kb;
	long vmalloc_kb;
	long pagetables_kb;
	int ncaches;
	struct {
		char name[40];
		long active;
	} caches[SHV_MAX_CACHES];
};
/* Drains what can be drained, then reads the counters. */
void shv_memsnap(struct shv_memsnap *snap);
/*
 * Compare two snapshots around "cycles" iterations.  Tolerance: 32 +
 * cycles/4 pages and 16 + cycles/4 objects of each watched slab cache, so
 * that a leak of one page or one object per cycle fails.  Returns 0 if
 * no leak, else prints the growth to stderr and returns -1.
 */
int shv_memsnap_compare(const struct shv_memsnap *before,
			const struct shv_memsnap *after, long cycles);
/* Snapshot again (with delays for RCU/deferred frees) until no leak. */
int shv_leak_check(const struct shv_memsnap *before, long cycles);

/*
 * In kselftest_harness tests: the call must fail with errno e (a macro,
 * so ASSERT_EQ and TH_LOG come from the test that uses it).
 */
#define ASSERT_ERRNO(e, call) do {					\
	errno = 0;							\
	long __r = (call);						\
	ASSERT_EQ(-1L, __r) TH_LOG("%s succeeded (%ld)", #call, __r);	\
	ASSERT_EQ(e, errno) TH_LOG("%s: errno %d (%s)", #call, errno,	\
				   strerror(errno));			\
} while (0)

#ifdef TEST_HARNESS_MAIN
#include <stdlib.h>
#include <string.h>

/*
 * SHV_TEST_FILTER="word,word": run only the tests whose "fixture.test"
 * name contains one of the words (every variant of them); unset or empty
 * runs all.  For the slow Bochs rig (scripts/bochs.sh passes it on).
 */
static inline bool shv_test_wanted(const char *filter, const char *name)
{
	char buf[256], *w, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", filter);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		if (strstr(name, w))
			return true;
	return false;
}

static inline void shv_filter_tests(void)
{
	const char *filter = getenv("SHV_TEST_FILTER");
	struct __fixture_metadata *f;
	struct __test_metadata *t, *next, *head, *tail;
	char name[256];

	if (!filter || !*filter)
		return;
	for (f = __fixture_list; f; f = f->next) {
		head = tail = NULL;
		for (t = f->tests; t; t = next) {
			next = t->next;
			snprintf(name, sizeof(name), "%s.%s", f->name, t->name);
			if (!shv_test_wanted(filter, name))
				continue;
			t->next = NULL;
			if (tail)
				tail->next = t;
			else
				head = t;
			tail = t;
		}
		if (head)
			head->prev = tail;	/* the harness's list format */
		f->tests = head;
	}
}

#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN \
	static void __attribute__((constructor)) \
	__constructor_order_last(void) \
	{ \
		if (!__constructor_order) \
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	} \
	int main(int argc, char **argv) \
	{ \
		shv_filter_tests(); \
		return test_harness_run(argc, argv); \
	}
#endif /* TEST_HARNESS_MAIN */

#endif /* __ASSEMBLER__ */
#endif /* SHV_UTIL_H */
