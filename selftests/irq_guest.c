// SPDX-License-Identifier: GPL-2.0
/*
 * The irq_test guest: a freestanding 64-bit program linked at CODE_GPA
 * (irq_guest.lds) and embedded in irq_test by irq_blob.S.  It drives the
 * in-kernel local APIC (x2APIC MSRs or xAPIC MMIO), IOAPIC, 8259 PIC and
 * 8254 PIT, checks what a guest can see of them and reports a failed
 * check with its line number (see irq_guest.h for the protocol).
 *
 * vCPU 0 enters at guest_entry; vCPU 1 (the AP) is started by vCPU 0 with
 * INIT-SIPI at tramp_start, in real mode, and switches to 64-bit mode
 * with the same GDT, page tables and IDT.  Each vCPU has its own stack;
 * this_cpu() tells them apart by the stack pointer.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/shv_util.h"
#include "irq_guest.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define MSR_APIC_BASE		0x1b
#define MSR_TSC_DEADLINE	0x6e0
#define MSR_X2APIC(reg)		(0x800 + ((reg) >> 4))

#define APIC_GPA		0xfee00000ull
#define IOAPIC_GPA		0xfec00000ull

#define APIC_ID		0x20
#define APIC_VER	0x30
#define APIC_TPR	0x80
#define APIC_PPR	0xa0
#define APIC_EOI	0xb0
#define APIC_LDR	0xd0
#define APIC_DFR	0xe0
#define APIC_SVR	0xf0
#define APIC_ISR	0x100
#define APIC_TMR	0x180
#define APIC_IRR	0x200
#define APIC_ESR	0x280
#define APIC_ICR	0x300
#define APIC_ICR2	0x310
#define APIC_LVTT	0x320
#define APIC_LINT0	0x350
#define APIC_LINT1	0x360
#define APIC_LVTERR	0x370
#define APIC_TMICT	0x380
#define APIC_TMCCT	0x390
#define APIC_TDCR	0x3e0
#define APIC_SELF_IPI	0x3f0

/* ICR bits */
#define ICR_NMI		0x400
#define ICR_LOWEST	0x100
#define ICR_LOGICAL	0x800
#define ICR_SELF	0x40000
#define ICR_ALL		0x80000
#define ICR_OTHERS	0xc0000

#define __stringify_1(x)	#x
#define __stringify_(x)		__stringify_1(x)

#define SH		((struct irq_shared *)IRQ_SHARED_GPA)
#define X2		(!!(SH->flags & IRQ_F_X2APIC))

/* --- per-CPU state --- */

typedef void (*hook_t)(unsigned int vec);

struct percpu {
	volatile u32 count[256];	/* interrupts taken, per vector */
	volatile u64 first_tsc[256];
	volatile u64 last_tsc[256];
	hook_t hook[256];		/* called by the handler, IF=0 */
	u8 noeoi[256];			/* no LAPIC EOI after the hook */
	volatile u32 log[64];		/* vectors in the order taken */
	volatile u32 nlog;
	volatile u32 gp_expect, gp_count;
	volatile u32 nmi_depth;
	volatile u64 last_rip;		/* where the last interrupt hit */
	bool x2apic;
	bool lapic_eoi;			/* the handler EOIs the LAPIC */
	bool report_irqs;		/* report each vector taken */
};

static struct percpu pcpu[2];
static u64 tsc_khz;

static inline struct percpu *this_cpu(void)
{
	u64 sp;

	asm volatile("mov %%rsp, %0" : "=r"(sp));
	return sp > IRQ_AP_STACK_TOP ? &pcpu[0] : &pcpu[1];
}

#define P	this_cpu()

/* --- instructions --- */

static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(u16 port, u32 v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline u8 inb(u16 port)
{
	u8 v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline u64 rdmsr(u32 idx)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(idx) : "memory");
	return lo | (u64)hi << 32;
}

static inline void wrmsr(u32 idx, u64 v)
{
	asm volatile("wrmsr" : : "c"(idx), "a"((u32)v), "d"((u32)(v >> 32))
		     : "memory");
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | (u64)hi << 32;
}

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
		     : "a"(leaf), "c"(0));
}

static inline void sti(void) { asm volatile("sti; nop" : : : "memory"); }
static inline void cli(void) { asm volatile("cli" : : : "memory"); }
static inline void pause(void) { asm volatile("pause" : : : "memory"); }

static inline u64 read_cr8(void)
{
	u64 v;

	asm volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static inline void write_cr8(u64 v)
{
	asm volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

static inline u32 mmio_r32(u64 gpa)
{
	u32 v;

	asm volatile("movl (%1), %0" : "=r"(v) : "r"(gpa) : "memory");
	return v;
}

static inline void mmio_w32(u64 gpa, u32 v)
{
	asm volatile("movl %0, (%1)" : : "r"(v), "r"(gpa) : "memory");
}

/* --- reporting --- */

static void __attribute__((noreturn))
guest_fail(u32 line, const char *what, u64 a, u64 b, u64 c)
{
	struct irq_fail *f = &SH->fail[P == &pcpu[0] ? 0 : 1];

	f->line = line;
	f->a = a;
	f->b = b;
	f->c = c;
	f->what = (u64)what;
	outl(PORT_FAIL, line);
	for (;;)
		asm volatile("cli; hlt");
}

#define GASSERT(cond) do {						\
	if (!(cond))							\
		guest_fail(__LINE__, #cond, 0, 0, 0);			\
} while (0)

#define GASSERT_EQ(x, y) do {						\
	u64 _x = (u64)(x), _y = (u64)(y);				\
	if (_x != _y)							\
		guest_fail(__LINE__, #x " == " #y, _x, _y, 0);		\
} while (0)

#define GASSERT_RANGE(x, lo, hi) do {					\
	u64 _x = (u64)(x), _lo = (u64)(lo), _hi = (u64)(hi);		\
	if (_x < _lo || _x > _hi)					\
		guest_fail(__LINE__, #x " in [" #lo ", " #hi "]",	\
			   _x, _lo, _hi);				\
} while (0)

static void report(u32 v)
{
	outl(PORT_REPORT, v);
}

static int hostcmd(u32 cmd)
{
	outl(PORT_HOSTCMD, cmd);
	return SH->cmd_ret;
}

#define LINE(gsi, level)	GASSERT_EQ(hostcmd(HCMD_LINE(gsi, level)), 0)
#define PULSE(gsi)		do { LINE(gsi, 1); LINE(gsi, 0); } while (0)
#define MSI(addr, data) do {						\
	SH->msi_addr = (addr);						\
	SH->msi_data = (data);						\
	GASSERT_EQ(hostcmd(HCMD_MSI), 0);				\
} while (0)

/* --- time --- */

static u64 us_to_tsc(u64 us)
{
	return us * tsc_khz / 1000;
}

static u64 tsc_to_us(u64 t)
{
	return t * 1000 / tsc_khz;
}

static void delay_us(u64 us)
{
	u64 end = rdtsc() + us_to_tsc(us);

	while (rdtsc() < end)
		pause();
}

/* spin (interrupts as they are) until cond, at most us microseconds */
#define WAIT_US(cond, us) ({						\
	u64 _end = rdtsc() + us_to_tsc(us);				\
	bool _ok;							\
	while (!(_ok = (cond)) && rdtsc() < _end)			\
		pause();						\
	_ok;								\
})

#define GWAIT(cond, us) do {						\
	if (!WAIT_US(cond, us))						\
		guest_fail(__LINE__, "timeout: " #cond, 0, 0, 0);	\
} while (0)

/* --- #GP probes --- */

static int rdmsr_safe(u32 idx, u64 *val)
{
	struct percpu *p = P;
	u32 lo = 0, hi = 0;

	p->gp_count = 0;
	p->gp_expect = 1;
	asm volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(idx) : "memory");
	p->gp_expect = 0;
	*val = lo | (u64)hi << 32;
	return p->gp_count ? -1 : 0;
}

static int wrmsr_safe(u32 idx, u64 v)
{
	struct percpu *p = P;

	p->gp_count = 0;
	p->gp_expect = 1;
	asm volatile("wrmsr" : : "c"(idx), "a"((u32)v), "d"((u32)(v >> 32))
		     : "memory");
	p->gp_expect = 0;
	return p->gp_count ? -1 : 0;
}

/* --- local APIC --- */

static u32 apic_read(u32 reg)
{
	if (P->x2apic)
		return rdmsr(MSR_X2APIC(reg));
	return mmio_r32(APIC_GPA + reg);
}

static void apic_write(u32 reg, u32 v)
{
	if (P->x2apic)
		wrmsr(MSR_X2APIC(reg), v);
	else
		mmio_w32(APIC_GPA + reg, v);
}

static void apic_icr(u32 dest, u32 lo)
{
	if (P->x2apic) {
		wrmsr(MSR_X2APIC(APIC_ICR), (u64)dest << 32 | lo);
		return;
	}
	mmio_w32(APIC_GPA + APIC_ICR2, dest << 24);
	mmio_w32(APIC_GPA + APIC_ICR, lo);
}

/* x2APIC: the SELF IPI register; xAPIC: the ICR's self shorthand */
static void self_ipi(u8 vec)
{
	if (P->x2apic)
		wrmsr(MSR_X2APIC(APIC_SELF_IPI), vec);
	else
		apic_icr(0, ICR_SELF | vec);
}

static bool apic_bit(u32 base, u8 vec)
{
	return apic_read(base + (vec >> 5) * 0x10) >> (vec & 31) & 1;
}

#define apic_isr(v)	apic_bit(APIC_ISR, v)
#define apic_irr(v)	apic_bit(APIC_IRR, v)
#define apic_tmr(v)	apic_bit(APIC_TMR, v)

static void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

/* IA32_APIC_BASE mode, then the software enable (spurious vector 0xff) */
static void apic_enable(bool x2)
{
	if (x2)
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | 0xc00);
	P->x2apic = x2;
	apic_write(APIC_SVR, 0x1ff);
}

/* --- IOAPIC --- */

static u32 ioapic_read(u32 reg)
{
	mmio_w32(IOAPIC_GPA, reg);
	return mmio_r32(IOAPIC_GPA + 0x10);
}

static void ioapic_write(u32 reg, u32 v)
{
	mmio_w32(IOAPIC_GPA, reg);
	mmio_w32(IOAPIC_GPA + 0x10, v);
}

static void ioapic_set(int pin, u32 lo, u8 dest)
{
	ioapic_write(0x11 + 2 * pin, (u32)dest << 24);
	ioapic_write(0x10 + 2 * pin, lo);
}

static u32 ioapic_rte(int pin)
{
	return ioapic_read(0x10 + 2 * pin);
}

#define RTE_RIRR	0x4000
#define RTE_LEVEL	0x8000
#define RTE_MASKED	0x10000

/* --- 8259 PIC --- */

static void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* ICW1-4: master at 0x20, slave at 0x28, everything masked */
static void pic_init(u8 icw4_master)
{
	outb(0x20, 0x11);
	outb(0x21, 0x20);
	outb(0x21, 0x04);
	outb(0x21, icw4_master);
	outb(0xa0, 0x11);
	outb(0xa1, 0x28);
	outb(0xa1, 0x02);
	outb(0xa1, 0x01);
	pic_mask_all();
}

static u8 pic_isr(int slave)
{
	u16 port = slave ? 0xa0 : 0x20;

	outb(port, 0x0b);
	return inb(port);
}

static u8 pic_irr(int slave)
{
	u16 port = slave ? 0xa0 : 0x20;

	outb(port, 0x0a);
	return inb(port);
}

/* --- 8254 PIT --- */

#define PIT_HZ		1193182u

static u16 pit_read16(u16 port)
{
	u16 lo = inb(port);

	return lo | (u16)inb(port) << 8;
}

/* --- the interrupt handler --- */

struct frame {
	u64 r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	u64 vec, err, rip, cs, rflags, rsp, ss;
};

void irq_dispatch(struct frame *f);

void irq_dispatch(struct frame *f)
{
	struct percpu *p = P;
	unsigned int vec = f->vec & 0xff;
	u64 t = rdtsc();

	if (vec == 13 && p->gp_expect) {
		/* an expected #GP from RDMSR/WRMSR: skip it */
		p->gp_count++;
		f->rip += 2;
		return;
	}
	if (vec < 32 && vec != 2)
		guest_fail(__LINE__, "unexpected exception (vector, rip, err)",
			   vec, f->rip, f->err);
	if (!p->count[vec])
		p->first_tsc[vec] = t;
	p->last_tsc[vec] = t;
	p->last_rip = f->rip;
	if (p->nlog < 64)
		p->log[p->nlog] = vec;
	p->nlog++;
	p->count[vec]++;
	if (p->report_irqs)
		report(0x100 | vec);
	if (p->hook[vec])
		p->hook[vec](vec);
	cli();
	if (vec >= 32 && p->lapic_eoi && !p->noeoi[vec])
		apic_eoi();
}

static inline void *gpa_ptr(u64 gpa)
{
	/* hide the constant from the compiler's bounds checks */
	asm("" : "+r"(gpa));
	return (void *)gpa;
}

extern char isr_stubs[], tramp_start[];

static void idt_setup(void)
{
	u64 *idt = gpa_ptr(IDT_GPA);
	int v;

	for (v = 0; v < 256; v++) {
		u64 h = (u64)isr_stubs + 16 * v;

		idt[2 * v] = (h & 0xffff) | (u64)SEL_CODE64 << 16 |
			     0x8eull << 40 | ((h >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = h >> 32;
	}
}

/*
 * Entry of vCPU 0, the interrupt stubs (16 bytes per vector, an error
 * code or 0 and the vector pushed), and the AP's start: real mode at
 * tramp_start (CS = its page), protected mode, long mode, ap_main().
 */
asm(
"	.section .text.entry, \"ax\"\n"
"	.code64\n"
"	.globl guest_entry\n"
"guest_entry:\n"
"	mov $" __stringify_(STACK_TOP) ", %rsp\n"
"	call guest_main\n"
"	outl %eax, $" __stringify_(PORT_DONE) "\n"
"1:	cli\n"
"	hlt\n"
"	jmp 1b\n"
"\n"
"	.text\n"
"	.p2align 4\n"
"	.globl isr_stubs\n"
"isr_stubs:\n"
"	.set vec, 0\n"
"	.rept 256\n"
"	.p2align 4\n"
"	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)\n"
"	.else\n"
"	pushq $0\n"
"	.endif\n"
"	pushq $vec\n"
"	jmp isr_common\n"
"	.set vec, vec + 1\n"
"	.endr\n"
"isr_common:\n"
"	push %rax\n"
"	push %rcx\n"
"	push %rdx\n"
"	push %rsi\n"
"	push %rdi\n"
"	push %r8\n"
"	push %r9\n"
"	push %r10\n"
"	push %r11\n"
"	mov %rsp, %rdi\n"
"	cld\n"
"	call irq_dispatch\n"
"	pop %r11\n"
"	pop %r10\n"
"	pop %r9\n"
"	pop %r8\n"
"	pop %rdi\n"
"	pop %rsi\n"
"	pop %rdx\n"
"	pop %rcx\n"
"	pop %rax\n"
"	add $16, %rsp\n"
"	iretq\n"
"\n"
"	.section .tramp, \"ax\"\n"
"	.code16\n"
"	.globl tramp_start\n"
"tramp_start:\n"
"	cli\n"
"	mov %cs, %ax\n"
"	mov %ax, %ds\n"
"	lgdtl tramp_gdtr - tramp_start\n"
"	mov %cr0, %eax\n"
"	and $0x9fffffff, %eax\n"	/* caches on */
"	or $1, %eax\n"
"	mov %eax, %cr0\n"
"	ljmpl $" __stringify_(SEL_CODE32) ", $tramp32\n"
"	.code32\n"
"tramp32:\n"
"	mov $" __stringify_(SEL_DATA) ", %ax\n"
"	mov %ax, %ds\n"
"	mov %ax, %es\n"
"	mov %ax, %ss\n"
"	mov %cr4, %eax\n"
"	or $0x20, %eax\n"		/* PAE */
"	mov %eax, %cr4\n"
"	mov $" __stringify_(PML4_GPA) ", %eax\n"
"	mov %eax, %cr3\n"
"	mov $0xc0000080, %ecx\n"
"	rdmsr\n"
"	or $0x100, %eax\n"		/* EFER.LME */
"	wrmsr\n"
"	mov %cr0, %eax\n"
"	or $0x80010000, %eax\n"		/* PG WP */
"	mov %eax, %cr0\n"
"	ljmp $" __stringify_(SEL_CODE64) ", $tramp64\n"
"	.code64\n"
"tramp64:\n"
"	mov $" __stringify_(IRQ_AP_STACK_TOP) ", %rsp\n"
"	lidt tramp_idtr(%rip)\n"
"	call ap_main\n"
"	outl %eax, $" __stringify_(PORT_DONE) "\n"
"2:	cli\n"
"	hlt\n"
"	jmp 2b\n"
"	.p2align 3\n"
"tramp_gdtr:\n"
"	.word " __stringify_(GDT_LIMIT) "\n"
"	.long " __stringify_(GDT_GPA) "\n"
"	.p2align 3\n"
"tramp_idtr:\n"
"	.word 0xfff\n"
"	.quad " __stringify_(IDT_GPA) "\n"
"	.text\n"
);

/* ------------------------------------------------------------------ */
/* LAPIC registers */

/* ns per APIC register read, mean of 16 */
static u64 access_cost_ns(void)
{
	u64 t0 = rdtsc();
	int i;

	for (i = 0; i < 16; i++)
		apic_read(APIC_VER);
	return (rdtsc() - t0) * 1000000 / tsc_khz / 16;
}

/* ns per self-IPI taken and EOIed, mean of 16 */
static u64 ipi_cost_ns(void)
{
	struct percpu *p = P;
	u32 n = p->count[0xfe];
	u64 t0;
	int i;

	sti();
	t0 = rdtsc();
	for (i = 1; i <= 16; i++) {
		self_ipi(0xfe);
		GWAIT(p->count[0xfe] == n + i, 1000000);
	}
	cli();
	p->nlog -= 16;
	return (rdtsc() - t0) * 1000000 / tsc_khz / 16;
}

static void sc_lapic_regs(void)
{
	bool x2 = X2;
	u32 a, b, c, d;
	u64 v, ver;

	cpuid(1, &a, &b, &c, &d);
	GASSERT(d & (1u << 9));			/* APIC */
	GASSERT(c & (1u << 21));		/* x2APIC */
	GASSERT_EQ(b >> 24, 0);			/* initial APIC ID */
	GASSERT_EQ(rdmsr(MSR_APIC_BASE), 0xfee00900);	/* enabled, BSP */

	/* the state after RESET, through the xAPIC page */
	GASSERT_EQ(apic_read(APIC_SVR), 0xff);
	GASSERT_EQ(apic_read(APIC_DFR), 0xffffffff);
	GASSERT_EQ(apic_read(APIC_LDR), 0);
	GASSERT_EQ(apic_read(APIC_TPR), 0);
	GASSERT_EQ(apic_read(APIC_LVTT), 0x10000);
	GASSERT_EQ(apic_read(APIC_LINT0), 0x700);	/* ExtINT: the PIC */
	GASSERT_EQ(apic_read(APIC_LINT1) & 0x10000, 0x10000);
	GASSERT_EQ(apic_read(APIC_ESR), 0);
	GASSERT_EQ(apic_read(APIC_TMICT), 0);

	apic_enable(x2);
	GASSERT_EQ(rdmsr(MSR_APIC_BASE), x2 ? 0xfee00d00 : 0xfee00900);
	GASSERT_EQ(apic_read(APIC_SVR), 0x1ff);
	GASSERT_EQ(apic_read(APIC_ID), 0);
	ver = apic_read(APIC_VER);
	GASSERT_RANGE(ver & 0xff, 0x10, 0x15);		/* integrated APIC */
	GASSERT_RANGE((ver >> 16) & 0xff, 4, 0x7f);	/* max LVT entry */

	if (x2) {
		/* logical ID from the x2APIC ID: cluster 0, bit 0 */
		GASSERT_EQ(apic_read(APIC_LDR), 1);
		GASSERT(wrmsr_safe(MSR_X2APIC(APIC_LDR), 5) < 0);
		GASSERT(rdmsr_safe(MSR_X2APIC(APIC_DFR), &v) < 0);
		GASSERT(rdmsr_safe(MSR_X2APIC(APIC_ICR2), &v) < 0);
		GASSERT(rdmsr_safe(MSR_X2APIC(APIC_SELF_IPI), &v) < 0);
		GASSERT(wrmsr_safe(MSR_X2APIC(APIC_ID), 5) < 0);
		GASSERT(wrmsr_safe(MSR_X2APIC(APIC_VER), 0) < 0);
		GASSERT(wrmsr_safe(MSR_X2APIC(APIC_PPR), 0) < 0);
		GASSERT(wrmsr_safe(MSR_X2APIC(APIC_TPR), 1ull << 32) < 0);
		GASSERT_EQ(apic_read(APIC_TPR), 0);
		GASSERT_EQ(apic_read(APIC_ID), 0);
		/* leaving x2APIC mode needs a pass through disabled */
		GASSERT(wrmsr_safe(MSR_APIC_BASE, 0xfee00900) < 0);
		GASSERT(wrmsr_safe(MSR_APIC_BASE, 0xfee00500) < 0);
		GASSERT_EQ(rdmsr(MSR_APIC_BASE), 0xfee00d00);
		/* the ICR is one 64-bit register (to nobody: APIC ID 5) */
		wrmsr(MSR_X2APIC(APIC_ICR), 5ull << 32 | 0xf0);
		GASSERT_EQ(rdmsr(MSR_X2APIC(APIC_ICR)), 5ull << 32 | 0xf0);
	} else {
		apic_write(APIC_LDR, 0x12345678);
		GASSERT_EQ(apic_read(APIC_LDR), 0x12000000);
		apic_write(APIC_DFR, 0x0fffffff);
		GASSERT_EQ(apic_read(APIC_DFR), 0x0fffffff);
		apic_write(APIC_DFR, 0xffffffff);
		GASSERT_EQ(apic_read(APIC_DFR), 0xffffffff);
		apic_write(APIC_LDR, 0);
		/* read-only registers ignore writes */
		apic_write(APIC_VER, 0);
		GASSERT_EQ(apic_read(APIC_VER), ver);
		apic_write(APIC_PPR, 0x40);
		GASSERT_EQ(apic_read(APIC_PPR), 0);
		apic_write(APIC_ICR2, 0x05000000);
		GASSERT_EQ(apic_read(APIC_ICR2), 0x05000000);
	}

	/* TPR, PPR and CR8 (CR8 is TPR[7:4]) */
	apic_write(APIC_TPR, 0x25);
	GASSERT_EQ(apic_read(APIC_TPR), 0x25);
	GASSERT_EQ(apic_read(APIC_PPR), 0x25);
	GASSERT_EQ(read_cr8(), 2);
	write_cr8(7);
	GASSERT_EQ(apic_read(APIC_TPR) & 0xf0, 0x70);
	GASSERT_EQ(apic_read(APIC_PPR) & 0xf0, 0x70);
	write_cr8(0);
	GASSERT_EQ(apic_read(APIC_TPR), 0);
	GASSERT_EQ(read_cr8(), 0);
	apic_write(APIC_TPR, 0xf0);
	GASSERT_EQ(read_cr8(), 15);
	apic_write(APIC_TPR, 0);
	GASSERT_EQ(read_cr8(), 0);
	GASSERT_EQ(P->nlog, 0);

	/* for the log: what a register read and a self-IPI round trip cost */
	SH->out[0] = access_cost_ns();
	SH->out[1] = ipi_cost_ns();
}

/* x2APIC on: the host then reads and writes the sregs */
static void sc_x2apic_on(void)
{
	apic_enable(true);
	GASSERT_EQ(rdmsr(MSR_APIC_BASE), 0xfee00d00);
}

/* x2APIC: a non-zero write to EOI raises #GP (SDM table 10-6) */
static void sc_x2apic_eoi_gp(void)
{
	apic_enable(true);
	GASSERT(wrmsr_safe(MSR_X2APIC(APIC_EOI), 0) == 0);
	GASSERT(wrmsr_safe(MSR_X2APIC(APIC_EOI), 1) < 0);
}

/* ------------------------------------------------------------------ */
/* TPR/PPR: interrupts at or below the task priority wait in IRR */

static void sc_tpr(void)
{
	struct percpu *p = P;

	apic_enable(X2);
	cli();
	apic_write(APIC_TPR, 0x50);
	self_ipi(0x65);
	self_ipi(0x45);
	self_ipi(0x25);
	GASSERT(apic_irr(0x65));
	GASSERT(apic_irr(0x45));
	GASSERT(apic_irr(0x25));
	GASSERT_EQ(apic_read(APIC_PPR), 0x50);
	sti();
	GWAIT(p->count[0x65] == 1, 100000);
	delay_us(3000);
	GASSERT_EQ(p->count[0x45], 0);
	GASSERT_EQ(p->count[0x25], 0);
	GASSERT(apic_irr(0x45));
	GASSERT(apic_irr(0x25));
	GASSERT(!apic_irr(0x65));
	GASSERT(!apic_isr(0x65));
	GASSERT_EQ(read_cr8(), 5);

	/* lowering TPR lets class 4 in, not class 2 */
	apic_write(APIC_TPR, 0x30);
	GWAIT(p->count[0x45] == 1, 100000);
	delay_us(3000);
	GASSERT_EQ(p->count[0x25], 0);
	GASSERT(apic_irr(0x25));
	apic_write(APIC_TPR, 0);
	GWAIT(p->count[0x25] == 1, 100000);
	GASSERT_EQ(p->nlog, 3);
	GASSERT_EQ(p->log[0], 0x65);
	GASSERT_EQ(p->log[1], 0x45);
	GASSERT_EQ(p->log[2], 0x25);

	/* several deliverable at once: the highest vector first */
	cli();
	self_ipi(0x71);
	self_ipi(0x92);
	self_ipi(0x83);
	sti();
	GWAIT(p->nlog == 6, 100000);
	GASSERT_EQ(p->log[3], 0x92);
	GASSERT_EQ(p->log[4], 0x83);
	GASSERT_EQ(p->log[5], 0x71);
	GASSERT_EQ(apic_read(APIC_PPR), 0);
}

/* the pending vector's class equals the TPR's, IF=1 */
static void sc_tpr_equal(void)
{
	struct percpu *p = P;

	apic_enable(X2);
	apic_write(APIC_TPR, 0x50);
	sti();
	self_ipi(0x55);
	delay_us(3000);
	GASSERT_EQ(p->count[0x55], 0);
	GASSERT(apic_irr(0x55));
	apic_write(APIC_TPR, 0x4f);
	GWAIT(p->count[0x55] == 1, 100000);
}

/* MOV to CR8 lowers the task priority (classes below it wait) */
static void sc_tpr_cr8(void)
{
	struct percpu *p = P;

	apic_enable(X2);
	write_cr8(7);
	GASSERT_EQ(apic_read(APIC_TPR), 0x70);
	sti();
	self_ipi(0x45);
	self_ipi(0x65);
	delay_us(3000);
	GASSERT_EQ(p->count[0x45], 0);
	GASSERT_EQ(p->count[0x65], 0);
	write_cr8(5);
	GWAIT(p->count[0x65] == 1, 100000);
	delay_us(3000);
	GASSERT_EQ(p->count[0x45], 0);
	GASSERT(apic_irr(0x45));
	write_cr8(0);
	GWAIT(p->count[0x45] == 1, 100000);
	GASSERT_EQ(apic_read(APIC_TPR), 0);
}

/*
 * TPR accesses, for the host to count their exits (SHV_GET_VCPU_STATS
 * between the reports): 64 MOV to and 64 MOV from CR8, then 64 writes
 * and 64 reads of the TPR register, with nothing pending; then the one
 * CR8 write that unblocks an interrupt held by the TPR.
 */
static void sc_tpr_noexit(void)
{
	struct percpu *p = P;
	u32 i;

	apic_enable(X2);
	report(1);
	for (i = 0; i < 64; i++) {
		write_cr8(i & 15);
		GASSERT_EQ(read_cr8(), i & 15);
	}
	report(2);
	for (i = 0; i < 64; i++) {
		apic_write(APIC_TPR, (i & 15) << 4 | (i & 3));
		GASSERT_EQ(apic_read(APIC_TPR), (i & 15) << 4 | (i & 3));
	}
	report(3);
	GASSERT_EQ(read_cr8(), 15);
	write_cr8(5);
	self_ipi(0x45);
	sti();
	delay_us(1000);
	GASSERT_EQ(p->count[0x45], 0);
	report(4);
	write_cr8(3);
	GWAIT(p->count[0x45] == 1, 100000);
	report(5);
	GASSERT_EQ(apic_read(APIC_PPR), 0x30);
	GASSERT_EQ(apic_read(APIC_TPR), 0x30);
	write_cr8(0);
}

/* ------------------------------------------------------------------ */
/* ISR/IRR/TMR while handlers run; nesting; EOI ends the highest ISR */

static volatile u32 nested_isr40, nested_isr80, nested_ppr;

static void nested_inner(unsigned int vec)
{
	(void)vec;
	nested_isr40 = apic_isr(0x40);
	nested_isr80 = apic_isr(0x80);
	nested_ppr = apic_read(APIC_PPR);
}

static void nested_outer(unsigned int vec)
{
	struct percpu *p = P;

	(void)vec;
	GASSERT(apic_isr(0x40));
	GASSERT(!apic_irr(0x40));
	GASSERT(!apic_tmr(0x40));		/* edge */
	GASSERT_EQ(apic_read(APIC_PPR), 0x40);
	self_ipi(0x30);
	sti();
	delay_us(3000);
	/* a lower class does not preempt */
	GASSERT_EQ(p->count[0x30], 0);
	GASSERT(apic_irr(0x30));
	/* a higher one does */
	self_ipi(0x80);
	GWAIT(p->count[0x80] == 1, 100000);
	cli();
	GASSERT(nested_isr40);
	GASSERT(nested_isr80);
	GASSERT_EQ(nested_ppr, 0x80);
	/* 0x80's handler sent no EOI: both are in service */
	GASSERT(apic_isr(0x80));
	GASSERT(apic_isr(0x40));
	GASSERT_EQ(apic_read(APIC_PPR), 0x80);
	/* EOI ends the highest in service */
	apic_eoi();
	GASSERT(!apic_isr(0x80));
	GASSERT(apic_isr(0x40));
	GASSERT_EQ(apic_read(APIC_PPR), 0x40);
	GASSERT_EQ(p->count[0x30], 0);
}

static void sc_nested(void)
{
	struct percpu *p = P;
	int i;

	apic_enable(X2);
	p->hook[0x40] = nested_outer;
	p->hook[0x80] = nested_inner;
	p->noeoi[0x80] = 1;
	sti();
	self_ipi(0x40);
	GWAIT(p->count[0x30] == 1, 100000);
	GASSERT_EQ(p->nlog, 3);
	GASSERT_EQ(p->log[0], 0x40);
	GASSERT_EQ(p->log[1], 0x80);
	GASSERT_EQ(p->log[2], 0x30);
	for (i = 0; i < 8; i++) {
		GASSERT_EQ(apic_read(APIC_ISR + i * 0x10), 0);
		GASSERT_EQ(apic_read(APIC_IRR + i * 0x10), 0);
	}
	GASSERT_EQ(apic_read(APIC_PPR), 0);
}

/* ------------------------------------------------------------------ */
/* SVR bit 8: a software-disabled APIC takes no fixed interrupts */

static void sc_svr(void)
{
	struct percpu *p = P;

	apic_enable(X2);
	apic_write(APIC_LVTT, 0x60);
	GASSERT_EQ(apic_read(APIC_LVTT), 0x60);
	apic_write(APIC_SVR, 0xff);
	GASSERT_EQ(apic_read(APIC_SVR), 0xff);
	/* software disable masks the LVT and keeps it masked */
	GASSERT_EQ(apic_read(APIC_LVTT), 0x10060);
	apic_write(APIC_LVTT, 0x61);
	GASSERT_EQ(apic_read(APIC_LVTT), 0x10061);
	sti();
	self_ipi(0x50);
	delay_us(3000);
	GASSERT_EQ(p->count[0x50], 0);
	/* NMIs still get through */
	apic_icr(0, ICR_NMI);
	GWAIT(p->count[2] == 1, 100000);
	apic_write(APIC_SVR, 0x1ff);
	GASSERT_EQ(apic_read(APIC_SVR), 0x1ff);
	/* whether 0x50 is delivered now is not specified: let it settle */
	delay_us(2000);
	self_ipi(0x51);
	GWAIT(p->count[0x51] == 1, 100000);
	GASSERT_EQ(apic_read(APIC_LVTT), 0x10061);
}

/* ------------------------------------------------------------------ */
/* ESR: illegal vectors */

static void sc_esr(void)
{
	apic_enable(X2);
	sti();
	apic_write(APIC_ESR, 0);
	GASSERT_EQ(apic_read(APIC_ESR), 0);
	apic_icr(0, ICR_SELF | 0x05);		/* fixed, vector 5 */
	delay_us(1000);
	apic_write(APIC_ESR, 0);
	GASSERT(apic_read(APIC_ESR) & 0x20);	/* send illegal vector */
	/* each write latches the errors since the previous one */
	apic_write(APIC_ESR, 0);
	GASSERT_EQ(apic_read(APIC_ESR), 0);
	apic_icr(0, 0x0f);			/* physical, to itself */
	delay_us(1000);
	apic_write(APIC_ESR, 0);
	GASSERT(apic_read(APIC_ESR) & 0x20);
	if (X2) {
		wrmsr(MSR_X2APIC(APIC_SELF_IPI), 3);
		delay_us(1000);
		apic_write(APIC_ESR, 0);
		GASSERT(apic_read(APIC_ESR) & 0x60);
		/* x2APIC: ESR takes only 0 */
		GASSERT(wrmsr_safe(MSR_X2APIC(APIC_ESR), 1) < 0);
	}
	GASSERT_EQ(P->nlog, 0);
}

/* ESR: an error raises the LVT error interrupt (SDM 10.5.3) */
static void sc_esr_lvt(void)
{
	struct percpu *p = P;

	apic_enable(X2);
	apic_write(APIC_ESR, 0);
	apic_write(APIC_LVTERR, 0xe0);
	GASSERT_EQ(apic_read(APIC_LVTERR), 0xe0);
	sti();
	apic_icr(0, ICR_SELF | 0x05);
	GWAIT(p->count[0xe0] == 1, 100000);
	apic_write(APIC_ESR, 0);
	GASSERT(apic_read(APIC_ESR) & 0x20);
}

/* ------------------------------------------------------------------ */
/* APIC timer */

/* time stamps of a periodic interrupt, taken by its handler */
#define NSTAMP	128
static volatile u64 stamps[NSTAMP];
static volatile u32 nstamps;
static hook_t stamp_next;

static void stamp_hook(unsigned int vec)
{
	if (nstamps < NSTAMP)
		stamps[nstamps] = P->last_tsc[vec];
	nstamps++;
	if (stamp_next)
		stamp_next(vec);
}

/*
 * Let a periodic interrupt at vec run for window_us and check it: the
 * count within -75%/+50% of window / period (host stalls under TCG
 * merge interrupts), the median interval within +-50% of the period.
 */
static void check_periodic(u32 line, u8 vec, u64 per_us, u64 window_us)
{
	u64 d[NSTAMP - 1], t0 = rdtsc(), x, want = window_us / per_us;
	u32 n, i, j;

	while (rdtsc() - t0 < us_to_tsc(window_us))
		pause();
	n = P->count[vec];
	SH->out[0] = n;
	if (n < want / 4 || n > want * 3 / 2 + 1)
		guest_fail(line, "periodic interrupts (count, expected)", n,
			   want, 0);
	n = nstamps < NSTAMP ? nstamps : NSTAMP;
	if (n < 3)
		guest_fail(line, "periodic interrupts stamped", n, 0, 0);
	for (i = 1; i < n; i++) {
		x = stamps[i] - stamps[i - 1];
		for (j = i - 1; j > 0 && d[j - 1] > x; j--)
			d[j] = d[j - 1];
		d[j] = x;
	}
	x = tsc_to_us(d[(n - 1) / 2]);
	SH->out[1] = x;
	if (x < per_us / 2 || x > per_us * 3 / 2)
		guest_fail(line, "median period (us, programmed)", x, per_us, 0);
}

/* a register read with the TSC before and after it */
struct sample {
	u64 t0, t1;
	u32 v;
};

static struct sample apic_sample(u32 reg)
{
	struct sample x;

	x.t0 = rdtsc();
	x.v = apic_read(reg);
	x.t1 = rdtsc();
	return x;
}

/* TSC ticks between the middles of two samples */
static u64 sample_gap(struct sample a, struct sample b)
{
	return (b.t0 + b.t1) / 2 - (a.t0 + a.t1) / 2;
}

/* the samples' own duration is at most a tenth of the time between */
static bool sample_precise(struct sample a, struct sample b)
{
	return (a.t1 - a.t0) + (b.t1 - b.t0) <= (b.t0 - a.t1) / 10;
}

/*
 * Timer counts per ms at a divide configuration, from TMCCT against the
 * TSC.  The reads are spaced so that their own latency (exits can take
 * milliseconds under TCG) is below a tenth of the interval.
 */
static u64 timer_rate(u32 tdcr)
{
	struct sample a, b;
	u64 gap = 2000;
	int tries;

	apic_write(APIC_LVTT, 0x100ef);		/* masked, one-shot */
	apic_write(APIC_TDCR, tdcr);
	for (tries = 0; ; tries++) {
		apic_write(APIC_TMICT, 0xffffffff);
		a = apic_sample(APIC_TMCCT);
		delay_us(gap);
		b = apic_sample(APIC_TMCCT);
		GASSERT(b.v < a.v);		/* it counts down */
		if (sample_precise(a, b) || tries == 6)
			break;
		gap *= 2;
	}
	apic_write(APIC_TMICT, 0);
	GASSERT_EQ(apic_read(APIC_TMCCT), 0);	/* TMICT 0 stops it */
	return (u64)(a.v - b.v) * tsc_khz / sample_gap(a, b);
}

static void sc_timer_oneshot(void)
{
	struct percpu *p = P;
	u64 k, t0, dt;
	u32 c;

	apic_enable(X2);
	sti();
	apic_write(APIC_TDCR, 0xb);
	GASSERT_EQ(apic_read(APIC_TDCR), 0xb);
	k = timer_rate(0xb);
	SH->out[0] = k;
	GASSERT(k >= 1000);			/* at least 1 MHz */

	apic_write(APIC_LVTT, 0x60);		/* one-shot, unmasked */
	t0 = rdtsc();
	apic_write(APIC_TMICT, 10 * k);		/* 10 ms */
	c = apic_read(APIC_TMCCT);
	GASSERT(c > 0 && c <= 10 * k);
	GWAIT(p->count[0x60] == 1, 1000000);
	dt = tsc_to_us(p->first_tsc[0x60] - t0);
	SH->out[1] = dt;
	GASSERT_RANGE(dt, 5000, 50000);
	GASSERT_EQ(apic_read(APIC_TMCCT), 0);	/* one-shot: stays at 0 */
	delay_us(25000);
	GASSERT_EQ(p->count[0x60], 1);
	/* a new TMICT starts it again; HLT sleeps until it fires */
	cli();
	apic_write(APIC_TMICT, 2 * k);
	asm volatile("sti; hlt" : : : "memory");
	GASSERT_EQ(p->count[0x60], 2);
	/* TMICT 0 stops it */
	apic_write(APIC_TMICT, 5 * k);
	apic_write(APIC_TMICT, 0);
	delay_us(15000);
	GASSERT_EQ(p->count[0x60], 2);
	GASSERT_EQ(apic_read(APIC_TMCCT), 0);
	/* masked: counts down without an interrupt */
	apic_write(APIC_LVTT, 0x10060);
	apic_write(APIC_TMICT, 2 * k);
	delay_us(6000);
	GASSERT_EQ(apic_read(APIC_TMCCT), 0);
	GASSERT_EQ(p->count[0x60], 2);
}

static void sc_timer_periodic(void)
{
	struct percpu *p = P;
	u64 k, per_us;
	u32 c, n;
	int i;

	apic_enable(X2);
	k = timer_rate(0xb);
	SH->out[2] = k;
	GASSERT(k >= 1000);
	/*
	 * 2 ms, or longer where taking an interrupt costs more than a
	 * quarter of that (slow exits under TCG), so that the count checks
	 * the timer rather than the speed of the guest
	 */
	per_us = ipi_cost_ns() / 1000 * 4;
	per_us = per_us < 2000 ? 2000 : (per_us + 999) / 1000 * 1000;
	SH->out[3] = per_us;
	GASSERT(per_us <= 50000);
	p->hook[0x61] = stamp_hook;
	apic_write(APIC_LVTT, 0x20061);		/* periodic */
	GASSERT_EQ(apic_read(APIC_LVTT), 0x20061);
	sti();
	apic_write(APIC_TMICT, per_us * k / 1000);
	/* TMCCT reloads: always within (0, TMICT] */
	for (i = 0; i < 20; i++) {
		c = apic_read(APIC_TMCCT);
		GASSERT(c > 0 && c <= per_us * k / 1000);
	}
	check_periodic(__LINE__, 0x61, per_us, 50 * per_us);
	apic_write(APIC_TMICT, 0);
	delay_us(per_us / 2);
	n = p->count[0x61];
	delay_us(5 * per_us);
	GASSERT_EQ(p->count[0x61], n);		/* stopped */
}

static void sc_timer_divide(void)
{
	static const struct {
		u8 tdcr, log2;
	} divs[] = {
		{ 0x0, 1 }, { 0x1, 2 }, { 0x2, 3 }, { 0x3, 4 },
		{ 0x8, 5 }, { 0x9, 6 }, { 0xa, 7 },
	};
	u64 k1, kd;
	unsigned int i;

	apic_enable(X2);
	k1 = timer_rate(0xb);
	SH->out[0] = k1;
	GASSERT(k1 >= 1000);
	for (i = 0; i < sizeof(divs) / sizeof(divs[0]); i++) {
		kd = timer_rate(divs[i].tdcr);
		GASSERT_EQ(apic_read(APIC_TDCR), divs[i].tdcr);
		SH->out[1 + i] = kd;
		GASSERT(kd > 0);
		/* k1 / kd == 2^log2, +-50% */
		GASSERT_RANGE(k1 * 100 / kd, 50u << divs[i].log2,
			      150u << divs[i].log2);
	}
	/* reserved bits are not kept */
	apic_write(APIC_TDCR, 0xff);
	GASSERT_EQ(apic_read(APIC_TDCR), 0xb);
}

static void sc_timer_deadline(void)
{
	struct percpu *p = P;
	u32 a, b, c, d;
	u64 dl, t;

	cpuid(1, &a, &b, &c, &d);
	GASSERT(c & (1u << 24));		/* TSC deadline */
	apic_enable(X2);
	sti();
	apic_write(APIC_LVTT, 0x40062);
	GASSERT_EQ(apic_read(APIC_LVTT), 0x40062);
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);
	/* TMICT is ignored in TSC-deadline mode */
	apic_write(APIC_TMICT, 100000);
	GASSERT_EQ(apic_read(APIC_TMICT), 0);

	dl = rdtsc() + us_to_tsc(5000);
	wrmsr(MSR_TSC_DEADLINE, dl);
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), dl);
	GWAIT(p->count[0x62] == 1, 1000000);
	t = p->first_tsc[0x62];
	SH->out[0] = t >= dl ? tsc_to_us(t - dl) : 0;
	GASSERT(t + us_to_tsc(50) >= dl);	/* not before the deadline */
	GASSERT(t <= dl + us_to_tsc(50000));
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);	/* disarmed */
	delay_us(6000);
	GASSERT_EQ(p->count[0x62], 1);

	/* a deadline in the past fires at once */
	wrmsr(MSR_TSC_DEADLINE, rdtsc() - 1000);
	GWAIT(p->count[0x62] == 2, 1000);
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);

	/* 0 disarms */
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + us_to_tsc(5000));
	wrmsr(MSR_TSC_DEADLINE, 0);
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);
	delay_us(10000);
	GASSERT_EQ(p->count[0x62], 2);

	/* so does leaving TSC-deadline mode */
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + us_to_tsc(5000));
	apic_write(APIC_LVTT, 0x62);
	delay_us(10000);
	GASSERT_EQ(p->count[0x62], 2);
	apic_write(APIC_LVTT, 0x40062);
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);

	/* masked: no interrupt */
	apic_write(APIC_LVTT, 0x50062);
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + us_to_tsc(1000));
	delay_us(5000);
	GASSERT_EQ(p->count[0x62], 2);
}

/* outside TSC-deadline mode IA32_TSC_DEADLINE reads 0, ignores writes */
static void sc_deadline_oneshot_msr(void)
{
	struct percpu *p = P;

	apic_enable(X2);
	sti();
	apic_write(APIC_LVTT, 0x62);		/* one-shot */
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + us_to_tsc(1000));
	GASSERT_EQ(rdmsr(MSR_TSC_DEADLINE), 0);
	delay_us(3000);
	GASSERT_EQ(p->count[0x62], 0);
}

/* ------------------------------------------------------------------ */
/* an NMI held back by NMI blocking is taken right after the IRET */

static volatile u64 nmi_loops, nmi_loops_at_iret, nmi_loops_at_nmi2;

static void nmi_iret_hook(unsigned int vec)
{
	struct percpu *p = P;

	(void)vec;
	if (++p->nmi_depth != 1)
		guest_fail(__LINE__, "nested NMI", p->nmi_depth, 0, 0);
	if (p->count[2] == 1) {
		apic_icr(0, ICR_NMI);		/* to itself: held */
		delay_us(3000);
		GASSERT_EQ(p->count[2], 1);
		nmi_loops_at_iret = nmi_loops;
	} else {
		nmi_loops_at_nmi2 = nmi_loops;
		SH->out[1] = p->last_rip;
	}
	p->nmi_depth--;
}

static void sc_nmi_iret(void)
{
	struct percpu *p = P;
	u64 end;

	apic_enable(X2);
	p->hook[2] = nmi_iret_hook;
	apic_icr(0, ICR_NMI);
	/*
	 * The held NMI comes right after the first handler's IRET, before
	 * this code runs again: count may already be 2 here.
	 */
	GWAIT(p->count[2] >= 1, 1000000);
	/* no exits in this loop: only the NMI can stop it */
	end = rdtsc() + us_to_tsc(1000000);
	while (p->count[2] < 2 && nmi_loops < 1000000000) {
		nmi_loops++;
		if (!(nmi_loops & 0xffff) && rdtsc() > end)
			break;
	}
	GASSERT_EQ(p->count[2], 2);
	GASSERT_EQ(p->nlog, 2);
	SH->out[0] = nmi_loops_at_nmi2 - nmi_loops_at_iret;
	/* the loop ran on between the IRET and the second NMI */
	GASSERT(nmi_loops_at_nmi2 - nmi_loops_at_iret <= 16);
}

/* ------------------------------------------------------------------ */
/* IPIs between two vCPUs */

enum { SY_READY, SY_PHASE, SY_ACK, SY_HALTING, SY_IN_NMI, SY_NMI2,
       SY_APID, SY_APLDR };
enum { PH_CLUSTER = 1, PH_HALT, PH_QUIT };

static void ap_nmi(unsigned int vec)
{
	struct percpu *p = &pcpu[1];

	(void)vec;
	if (++p->nmi_depth != 1)
		guest_fail(__LINE__, "nested NMI", p->nmi_depth, 0, 0);
	if (p->count[2] == 1) {
		SH->sync[SY_IN_NMI] = 1;
		GWAIT(SH->sync[SY_NMI2] == 1, 2000000);
		delay_us(3000);
		/* NMIs are blocked until IRET */
		GASSERT_EQ(p->count[2], 1);
	}
	p->nmi_depth--;
}

void ap_main(void);

void ap_main(void)
{
	struct percpu *p = P;
	bool x2 = X2;
	u32 ph;

	GASSERT(p == &pcpu[1]);
	p->lapic_eoi = true;
	p->report_irqs = true;
	p->hook[2] = ap_nmi;
	GASSERT_EQ(rdmsr(MSR_APIC_BASE), 0xfee00800);	/* not the BSP */
	apic_enable(x2);
	SH->sync[SY_APID] = apic_read(APIC_ID);
	report(apic_read(APIC_ID));
	if (x2) {
		SH->sync[SY_APLDR] = apic_read(APIC_LDR);
	} else {
		apic_write(APIC_DFR, 0xffffffff);
		apic_write(APIC_LDR, 0x02000000);
	}
	sti();
	SH->sync[SY_READY] = 1;
	for (;;) {
		while ((ph = SH->sync[SY_PHASE]) == SH->sync[SY_ACK])
			pause();
		switch (ph) {
		case PH_CLUSTER:
			apic_write(APIC_DFR, 0x0fffffff);
			apic_write(APIC_LDR, 0x11000000);
			break;
		case PH_HALT:
			SH->sync[SY_HALTING] = 1;
			asm volatile("sti; hlt" : : : "memory");
			break;
		case PH_QUIT:
			SH->sync[SY_ACK] = ph;
			cli();
			return;
		}
		SH->sync[SY_ACK] = ph;
	}
}

static void ap_phase(u32 line, u32 ph)
{
	SH->sync[SY_PHASE] = ph;
	if (!WAIT_US(SH->sync[SY_ACK] == ph, 2000000))
		guest_fail(line, "timeout: AP phase", ph, 0, 0);
}

/* vec reaches vCPU 0 if bsp, vCPU 1 if ap, and nobody else */
static void expect_ipi(u32 line, u8 vec, u32 bsp, u32 ap)
{
	if (bsp && !WAIT_US(pcpu[0].count[vec] == 1, 1000000))
		guest_fail(line, "timeout: IPI at the BSP", vec, 0, 0);
	if (ap && !WAIT_US(pcpu[1].count[vec] == 1, 1000000))
		guest_fail(line, "timeout: IPI at the AP", vec, 0, 0);
	delay_us(3000);
	if (pcpu[0].count[vec] != bsp || pcpu[1].count[vec] != ap)
		guest_fail(line, "IPI (vector, BSP count, AP count)", vec,
			   pcpu[0].count[vec], pcpu[1].count[vec]);
}

#define IPI(dest, icr, bsp, ap) do {					\
	apic_icr(dest, icr);						\
	if (!X2)							\
		GASSERT_EQ(apic_read(APIC_ICR) & 0x1000, 0);		\
	expect_ipi(__LINE__, (icr) & 0xff, bsp, ap);			\
} while (0)

static void start_ap(bool late)
{
	u32 vec = (u64)tramp_start >> 12;

	apic_icr(1, 0x4500);			/* INIT, assert */
	if (late) {
		/* INIT then SIPI while the AP's thread is not running */
		apic_icr(1, 0x4600 | vec);
		GASSERT_EQ(hostcmd(HCMD_AP_GO), 0);
	} else {
		if (!X2)
			apic_icr(1, 0x8500);	/* INIT level de-assert */
		delay_us(10000);
		apic_icr(1, 0x4600 | vec);	/* SIPI */
		delay_us(200);
		apic_icr(1, 0x4600 | vec);	/* and again, as the MP spec says */
	}
	GWAIT(SH->sync[SY_READY] == 1, 3000000);
}

static void sc_ipi(void)
{
	bool x2 = X2;
	u32 both, n;

	apic_enable(x2);
	sti();
	start_ap(false);
	GASSERT_EQ(SH->sync[SY_APID], x2 ? 1 : 1u << 24);
	if (x2)
		GASSERT_EQ(SH->sync[SY_APLDR], 2);	/* cluster 0, bit 1 */

	/* physical destinations */
	IPI(1, 0x41, 0, 1);
	IPI(0, 0x42, 1, 0);
	IPI(5, 0x43, 0, 0);

	/* logical destinations */
	if (x2) {
		GASSERT_EQ(apic_read(APIC_LDR), 1);
		IPI(0x2, ICR_LOGICAL | 0x44, 0, 1);
		IPI(0x1, ICR_LOGICAL | 0x45, 1, 0);
		IPI(0x3, ICR_LOGICAL | 0x46, 1, 1);
		IPI(0x10003, ICR_LOGICAL | 0x47, 0, 0);	/* cluster 1 */
		IPI(0xffffffff, ICR_LOGICAL | 0x48, 1, 1);
		both = 0x3;
	} else {
		/* flat model: one bit per APIC */
		apic_write(APIC_DFR, 0xffffffff);
		apic_write(APIC_LDR, 0x01000000);
		IPI(0x02, ICR_LOGICAL | 0x44, 0, 1);
		IPI(0x01, ICR_LOGICAL | 0x45, 1, 0);
		IPI(0x03, ICR_LOGICAL | 0x46, 1, 1);
		IPI(0x04, ICR_LOGICAL | 0x47, 0, 0);
		IPI(0xff, ICR_LOGICAL | 0x48, 1, 1);
		/* cluster model: cluster 1, members 0 (AP) and 1 (BSP) */
		ap_phase(__LINE__, PH_CLUSTER);
		apic_write(APIC_DFR, 0x0fffffff);
		apic_write(APIC_LDR, 0x12000000);
		GASSERT_EQ(apic_read(APIC_DFR), 0x0fffffff);
		IPI(0x11, ICR_LOGICAL | 0x49, 0, 1);
		IPI(0x12, ICR_LOGICAL | 0x4a, 1, 0);
		IPI(0x13, ICR_LOGICAL | 0x4b, 1, 1);
		IPI(0x21, ICR_LOGICAL | 0x4c, 0, 0);
		IPI(0xff, ICR_LOGICAL | 0x4d, 1, 1);
		both = 0x13;
	}

	/* shorthands */
	IPI(0, ICR_OTHERS | 0x4e, 0, 1);
	IPI(0, ICR_ALL | 0x4f, 1, 1);
	IPI(0, ICR_SELF | 0x50, 1, 0);
	/* physical broadcast */
	IPI(x2 ? 0xffffffff : 0xff, 0x51, 1, 1);

	/* lowest priority: exactly one of the two */
	apic_icr(both, ICR_LOGICAL | ICR_LOWEST | 0x52);
	GWAIT(pcpu[0].count[0x52] + pcpu[1].count[0x52] == 1, 1000000);
	delay_us(3000);
	n = pcpu[0].count[0x52] + pcpu[1].count[0x52];
	GASSERT_EQ(n, 1);

	/* an AP halted in the kernel wakes up for a fixed IPI */
	SH->sync[SY_PHASE] = PH_HALT;
	GWAIT(SH->sync[SY_HALTING] == 1, 1000000);
	delay_us(5000);
	IPI(1, 0x53, 0, 1);
	GWAIT(SH->sync[SY_ACK] == PH_HALT, 1000000);

	/* NMI, and a second one held until the first handler's IRET */
	apic_icr(1, ICR_NMI);
	GWAIT(SH->sync[SY_IN_NMI] == 1, 1000000);
	apic_icr(1, ICR_NMI);
	SH->sync[SY_NMI2] = 1;
	GWAIT(pcpu[1].count[2] == 2, 1000000);
	GASSERT_EQ(pcpu[0].count[2], 0);

	ap_phase(__LINE__, PH_QUIT);
}

static void sc_ipi_late_ap(void)
{
	apic_enable(X2);
	sti();
	start_ap(true);
	GASSERT_EQ(SH->sync[SY_APID], X2 ? 1 : 1u << 24);
	ap_phase(__LINE__, PH_QUIT);
}

/* ------------------------------------------------------------------ */
/* IOAPIC */

static volatile u32 edge_tmr = 0xff;

static void edge_hook(unsigned int vec)
{
	edge_tmr = apic_tmr(vec);
}

static void ioapic_common_setup(void)
{
	pic_mask_all();
	apic_enable(X2);
	apic_write(APIC_LINT0, 0x10700);	/* the PIC is not used */
	sti();
}

static void sc_ioapic_edge(void)
{
	struct percpu *p = P;
	u32 v;
	int pin;

	ioapic_common_setup();
	v = ioapic_read(1);
	GASSERT_EQ(v & 0xff, 0x20);		/* version */
	GASSERT_EQ((v >> 16) & 0xff, 23);	/* 24 pins */
	GASSERT_EQ(ioapic_read(0), 0);
	ioapic_write(0, 0x0a000000);
	GASSERT_EQ(ioapic_read(0), 0x0a000000);
	ioapic_write(0, 0);
	for (pin = 0; pin < 24; pin++)
		GASSERT_EQ(ioapic_rte(pin), RTE_MASKED);

	/* edge: one interrupt per rising edge */
	p->hook[0x50] = edge_hook;
	ioapic_set(5, 0x50, 0);
	GASSERT_EQ(ioapic_rte(5), 0x50);
	GASSERT_EQ(ioapic_read(0x11 + 2 * 5), 0);
	LINE(5, 1);
	GWAIT(p->count[0x50] == 1, 100000);
	GASSERT_EQ(edge_tmr, 0);
	LINE(5, 1);
	delay_us(3000);
	GASSERT_EQ(p->count[0x50], 1);
	LINE(5, 0);
	LINE(5, 1);
	GWAIT(p->count[0x50] == 2, 100000);
	LINE(5, 0);
	/* an edge on a masked pin is lost */
	ioapic_set(5, RTE_MASKED | 0x50, 0);
	PULSE(5);
	delay_us(3000);
	ioapic_set(5, 0x50, 0);
	delay_us(3000);
	GASSERT_EQ(p->count[0x50], 2);

	/* ISA IRQ 0 is pin 2 */
	ioapic_set(0, 0x53, 0);
	ioapic_set(2, 0x52, 0);
	PULSE(0);
	GWAIT(p->count[0x52] == 1, 100000);
	/* logical destination */
	if (!X2) {
		apic_write(APIC_DFR, 0xffffffff);
		apic_write(APIC_LDR, 0x01000000);
	}
	ioapic_set(6, 0x800 | 0x56, 0x01);
	PULSE(6);
	GWAIT(p->count[0x56] == 1, 100000);
	ioapic_set(6, 0x800 | 0x57, 0x02);
	PULSE(6);
	/* physical destination: another APIC ID */
	ioapic_set(7, 0x58, 3);
	PULSE(7);
	/* NMI delivery mode */
	ioapic_set(8, 0x400, 0);
	PULSE(8);
	GWAIT(p->count[2] == 1, 100000);
	delay_us(3000);
	GASSERT_EQ(p->count[0x53], 0);
	GASSERT_EQ(p->count[0x57], 0);
	GASSERT_EQ(p->count[0x58], 0);
}

static volatile u32 lvl_tmr, lvl_isr, lvl_rirr;

static void level_hook(unsigned int vec)
{
	lvl_tmr = apic_tmr(vec);
	lvl_isr = apic_isr(vec);
	lvl_rirr = ioapic_rte(9) & RTE_RIRR;
}

static void sc_ioapic_level(void)
{
	struct percpu *p = P;

	ioapic_common_setup();
	p->hook[0x59] = level_hook;
	p->noeoi[0x59] = 1;
	ioapic_set(9, RTE_LEVEL | 0x59, 0);
	GASSERT_EQ(ioapic_rte(9), RTE_LEVEL | 0x59);
	LINE(9, 1);
	GWAIT(p->count[0x59] == 1, 100000);
	GASSERT(lvl_tmr);			/* level-triggered: TMR set */
	GASSERT(lvl_isr);
	GASSERT(lvl_rirr);			/* remote IRR set on delivery */
	GASSERT(ioapic_rte(9) & RTE_RIRR);	/* and kept until the EOI */
	delay_us(3000);
	GASSERT_EQ(p->count[0x59], 1);
	/* EOI with the line still asserted: delivered again */
	apic_eoi();
	GWAIT(p->count[0x59] == 2, 100000);
	GASSERT(ioapic_rte(9) & RTE_RIRR);
	/* the line drops; the EOI clears remote IRR, nothing more comes */
	LINE(9, 0);
	apic_eoi();
	GASSERT_EQ(ioapic_rte(9) & RTE_RIRR, 0);
	GASSERT(!apic_isr(0x59));
	delay_us(3000);
	GASSERT_EQ(p->count[0x59], 2);

	/* nothing while masked; unmasking an asserted pin sends it */
	ioapic_set(9, RTE_MASKED | RTE_LEVEL | 0x59, 0);
	LINE(9, 1);
	delay_us(3000);
	GASSERT_EQ(p->count[0x59], 2);
	GASSERT_EQ(ioapic_rte(9) & RTE_RIRR, 0);
	ioapic_set(9, RTE_LEVEL | 0x59, 0);
	GWAIT(p->count[0x59] == 3, 100000);
	LINE(9, 0);
	apic_eoi();
	GASSERT_EQ(ioapic_rte(9) & RTE_RIRR, 0);

	/* the IOAPIC's EOI register (version 0x20) */
	LINE(9, 1);
	GWAIT(p->count[0x59] == 4, 100000);
	LINE(9, 0);
	GASSERT(ioapic_rte(9) & RTE_RIRR);
	mmio_w32(IOAPIC_GPA + 0x40, 0x59);
	GASSERT_EQ(ioapic_rte(9) & RTE_RIRR, 0);
	apic_eoi();
	GASSERT(!apic_isr(0x59));

	/* switching the entry to edge clears a stuck remote IRR */
	LINE(9, 1);
	GWAIT(p->count[0x59] == 5, 100000);
	LINE(9, 0);
	GASSERT(ioapic_rte(9) & RTE_RIRR);
	ioapic_set(9, 0x59, 0);
	GASSERT_EQ(ioapic_rte(9), 0x59);
	apic_eoi();
	/* an edge interrupt at the vector clears its TMR bit */
	PULSE(9);
	GWAIT(p->count[0x59] == 6, 100000);
	GASSERT(!lvl_tmr);
	apic_eoi();
	GASSERT(!apic_isr(0x59));
}

static void sc_msi(void)
{
	struct percpu *p = P;

	ioapic_common_setup();
	MSI(0xfee00000, 0x61);
	GWAIT(p->count[0x61] == 1, 100000);
	MSI(0xfee01000, 0x62);			/* APIC ID 1: nobody */
	MSI(0xfee00000, 0x400);			/* NMI */
	GWAIT(p->count[2] == 1, 100000);
	if (!X2) {
		apic_write(APIC_DFR, 0xffffffff);
		apic_write(APIC_LDR, 0x01000000);
	}
	MSI(0xfee01004, 0x63);			/* logical, destination 1 */
	GWAIT(p->count[0x63] == 1, 100000);
	MSI(0xfee00000, 0x164);			/* lowest priority */
	GWAIT(p->count[0x64] == 1, 100000);
	delay_us(3000);
	GASSERT_EQ(p->count[0x62], 0);
	GASSERT_EQ(p->count[0x61], 1);
}

/*
 * Interrupts for the host to count the exits of (SHV_GET_VCPU_STATS and
 * the APIC registers through SHV_GET_MSRS at each report): 16 edge MSIs
 * taken and EOIed; an interrupt in service with a lower one pending
 * behind it and a TPR set by CR8; then a level-triggered IOAPIC
 * interrupt delivered again after each EOI while its line stays
 * asserted, three times.
 */
static volatile u32 vintr_level_seen;

static void vintr_level_hook(unsigned int vec)
{
	(void)vec;
	/* the line drops before the third EOI: no fourth delivery */
	if (++vintr_level_seen == 3)
		LINE(9, 0);
	GASSERT(ioapic_rte(9) & RTE_RIRR);
}

static void sc_vintr(void)
{
	struct percpu *p = P;
	u32 i;

	ioapic_common_setup();
	report(1);
	for (i = 1; i <= 16; i++) {
		MSI(0xfee00000, 0x61);
		GWAIT(p->count[0x61] == i, 100000);
	}
	report(2);
	GASSERT(!apic_isr(0x61));
	GASSERT(!apic_irr(0x61));
	GASSERT_EQ(apic_read(APIC_PPR), 0);

	/* 0x72 stays in service; 0x52 waits behind it */
	p->noeoi[0x72] = 1;
	MSI(0xfee00000, 0x72);
	GWAIT(p->count[0x72] == 1, 100000);
	MSI(0xfee00000, 0x52);
	write_cr8(3);
	delay_us(2000);
	GASSERT_EQ(p->count[0x52], 0);
	report(3);
	apic_eoi();
	GWAIT(p->count[0x52] == 1, 100000);
	report(4);
	write_cr8(0);

	p->hook[0x69] = vintr_level_hook;
	ioapic_set(9, RTE_LEVEL | 0x69, 0);
	LINE(9, 1);
	GWAIT(p->count[0x69] == 3, 100000);
	delay_us(2000);
	GASSERT_EQ(p->count[0x69], 3);
	GASSERT_EQ(ioapic_rte(9) & RTE_RIRR, 0);
	GASSERT(!apic_isr(0x69));
	report(5);
}

/* ------------------------------------------------------------------ */
/* 8259 PIC, through LINT0 in ExtINT mode (the LAPIC stays as reset) */

static volatile u8 pic_isr_seen[16], pic_sisr_seen[16];
static bool pic_hook_eoi;

static void pic_hook(unsigned int vec)
{
	unsigned int irq = vec - 0x20;

	pic_isr_seen[irq] = pic_isr(0);
	pic_sisr_seen[irq] = pic_isr(1);
	if (pic_hook_eoi) {
		if (irq >= 8)
			outb(0xa0, 0x20);
		outb(0x20, 0x20);
	}
}

static void pic_setup(u8 icw4)
{
	struct percpu *p = P;
	int i;

	pic_init(icw4);
	p->lapic_eoi = false;
	for (i = 0; i < 16; i++)
		p->hook[0x20 + i] = pic_hook;
}

static void sc_pic_basic(void)
{
	struct percpu *p = P;

	pic_setup(0x01);
	pic_hook_eoi = true;
	GASSERT_EQ(inb(0x21), 0xff);
	GASSERT_EQ(inb(0xa1), 0xff);
	outb(0x21, 0xf7);
	GASSERT_EQ(inb(0x21), 0xf7);
	sti();
	PULSE(3);
	GWAIT(p->count[0x23] == 1, 100000);
	GASSERT_EQ(pic_isr_seen[3], 0x08);
	GASSERT_EQ(pic_isr(0), 0);
	GASSERT_EQ(pic_irr(0), 0);

	/* a masked request waits in IRR */
	PULSE(4);
	delay_us(3000);
	GASSERT_EQ(p->count[0x24], 0);
	GASSERT_EQ(pic_irr(0), 0x10);
	outb(0x21, 0xe7);
	GWAIT(p->count[0x24] == 1, 100000);

	/* two requests: the higher priority (lower IRQ) first */
	cli();
	outb(0x21, 0x87);			/* 3, 4, 5, 6 unmasked */
	PULSE(5);
	PULSE(3);
	GASSERT_EQ(pic_irr(0), 0x28);
	sti();
	GWAIT(p->count[0x25] == 1, 100000);
	GASSERT_EQ(p->count[0x23], 2);
	GASSERT_EQ(p->log[p->nlog - 2], 0x23);
	GASSERT_EQ(p->log[p->nlog - 1], 0x25);

	/* nesting; non-specific and specific EOI */
	pic_hook_eoi = false;
	PULSE(5);
	GWAIT(p->count[0x25] == 2, 100000);
	GASSERT_EQ(pic_isr(0), 0x20);
	PULSE(3);				/* higher than 5: nests */
	GWAIT(p->count[0x23] == 3, 100000);
	GASSERT_EQ(pic_isr(0), 0x28);
	PULSE(6);				/* lower than 5: waits */
	delay_us(3000);
	GASSERT_EQ(p->count[0x26], 0);
	GASSERT_EQ(pic_irr(0), 0x40);
	outb(0x20, 0x20);			/* ends IR3, the highest */
	GASSERT_EQ(pic_isr(0), 0x20);
	delay_us(3000);
	GASSERT_EQ(p->count[0x26], 0);
	outb(0x20, 0x65);			/* specific EOI, IR5 */
	GWAIT(p->count[0x26] == 1, 100000);
	GASSERT_EQ(pic_isr(0), 0x40);
	outb(0x20, 0x66);
	GASSERT_EQ(pic_isr(0), 0);

	/* poll command: the INTA without the vector */
	cli();
	PULSE(3);
	outb(0x20, 0x0c);
	GASSERT_EQ(inb(0x20), 0x83);
	GASSERT_EQ(pic_isr(0), 0x08);
	outb(0x20, 0x20);
	outb(0x20, 0x0c);
	GASSERT_EQ(inb(0x20), 0);
	sti();
	delay_us(1000);
	GASSERT_EQ(p->count[0x23], 3);

	/* LINT0 masked: the PIC's INTR does not reach the CPU */
	apic_write(APIC_LINT0, 0x10700);
	pic_hook_eoi = true;
	PULSE(3);
	delay_us(3000);
	GASSERT_EQ(p->count[0x23], 3);
	GASSERT_EQ(pic_irr(0), 0x08);
	/* a hardware-disabled APIC passes INTR straight through */
	wrmsr(MSR_APIC_BASE, 0xfee00100);
	GWAIT(p->count[0x23] == 4, 100000);
	GASSERT_EQ(pic_isr(0), 0);
}

static void sc_pic_aeoi(void)
{
	struct percpu *p = P;

	pic_setup(0x03);			/* AEOI */
	pic_hook_eoi = false;
	outb(0x21, 0xf7);
	sti();
	PULSE(3);
	GWAIT(p->count[0x23] == 1, 100000);
	GASSERT_EQ(pic_isr_seen[3], 0);		/* never in service */
	GASSERT_EQ(pic_isr(0), 0);
	PULSE(3);				/* no EOI needed */
	GWAIT(p->count[0x23] == 2, 100000);
	GASSERT_EQ(pic_isr(0), 0);
}

static void sc_pic_cascade(void)
{
	struct percpu *p = P;

	pic_setup(0x01);
	pic_hook_eoi = true;
	outb(0x21, 0xfb);			/* IR2: the slave */
	outb(0xa1, 0xfb);			/* IRQ 10 */
	sti();
	PULSE(10);
	GWAIT(p->count[0x2a] == 1, 100000);
	GASSERT_EQ(pic_isr_seen[10], 0x04);
	GASSERT_EQ(pic_sisr_seen[10], 0x04);
	GASSERT_EQ(pic_isr(0), 0);
	GASSERT_EQ(pic_isr(1), 0);
	outb(0xa1, 0x7f);			/* IRQ 15 */
	PULSE(15);
	GWAIT(p->count[0x2f] == 1, 100000);
	GASSERT_EQ(pic_sisr_seen[15], 0x80);
	/* the cascade input masked at the master: held until unmasked */
	outb(0x21, 0xff);
	outb(0xa1, 0xf7);			/* IRQ 11 */
	PULSE(11);
	delay_us(3000);
	GASSERT_EQ(p->count[0x2b], 0);
	outb(0x21, 0xfb);
	GWAIT(p->count[0x2b] == 1, 100000);
	GASSERT_EQ(p->count[0x2a], 1);
	GASSERT_EQ(p->count[0x2f], 1);
}

static void elcr_hook(unsigned int vec)
{
	/* the second time, drop the line before the EOI */
	if (P->count[vec] == 2)
		LINE(5, 0);
	outb(0x20, 0x20);
}

static void sc_pic_elcr(void)
{
	struct percpu *p = P;

	pic_setup(0x01);
	outb(0x4d0, 0xff);
	GASSERT_EQ(inb(0x4d0), 0xf8);		/* IRQ 0-2 are edge only */
	outb(0x4d1, 0xff);
	GASSERT_EQ(inb(0x4d1), 0xde);		/* and 8, 13 */
	outb(0x4d1, 0);
	outb(0x4d0, 0x20);			/* IRQ 5 level-triggered */
	GASSERT_EQ(inb(0x4d0), 0x20);

	/* a level request follows its line; an edge request latches */
	LINE(5, 1);
	GASSERT_EQ(pic_irr(0) & 0x20, 0x20);
	LINE(5, 0);
	GASSERT_EQ(pic_irr(0) & 0x20, 0);
	PULSE(3);
	GASSERT_EQ(pic_irr(0) & 0x08, 0x08);

	/* EOI with the line still high: delivered again */
	p->hook[0x25] = elcr_hook;
	outb(0x21, 0xdf);
	sti();
	LINE(5, 1);
	GWAIT(p->count[0x25] == 2, 100000);
	delay_us(3000);
	GASSERT_EQ(p->count[0x25], 2);
	GASSERT_EQ(pic_isr(0), 0);
	GASSERT_EQ(pic_irr(0) & 0x20, 0);
}

/* ------------------------------------------------------------------ */
/* 8254 PIT */

#define PIT_2MS		(PIT_HZ / 500)

static void sc_pit_pic(void)
{
	struct percpu *p = P;
	u32 n;

	pic_setup(0x01);
	pic_hook_eoi = true;
	outb(0x21, 0xfe);
	/* counter 0, lobyte/hibyte, mode 2 (rate generator) */
	outb(0x43, 0x34);
	outb(0x40, PIT_2MS & 0xff);
	outb(0x40, PIT_2MS >> 8);
	p->hook[0x20] = stamp_hook;
	stamp_next = pic_hook;
	sti();
	check_periodic(__LINE__, 0x20, 2000, 100000);
	/* a new control word stops the counter until a count is written */
	outb(0x43, 0x30);
	delay_us(3000);
	n = p->count[0x20];
	delay_us(10000);
	GASSERT_EQ(p->count[0x20], n);
}

static void sc_pit_ioapic(void)
{
	struct percpu *p = P;
	u32 n;

	ioapic_common_setup();
	p->hook[0x62] = stamp_hook;
	ioapic_set(2, 0x62, 0);
	ioapic_set(0, 0x63, 0);
	/* counter 0, mode 3 (square wave) */
	outb(0x43, 0x36);
	outb(0x40, PIT_2MS & 0xff);
	outb(0x40, PIT_2MS >> 8);
	check_periodic(__LINE__, 0x62, 2000, 100000);
	outb(0x43, 0x36);
	delay_us(3000);
	n = p->count[0x62];
	delay_us(10000);
	GASSERT_EQ(p->count[0x62], n);
	GASSERT_EQ(p->count[0x63], 0);
}

/* counter 2 as PC firmware uses it to calibrate delays */
static void sc_pit_ch2(void)
{
	u8 p61 = inb(0x61);
	u64 t0, dt;
	int i, seen0 = 0, seen1 = 0;

	GASSERT_EQ(p61 & 0x01, 0);		/* GATE2 low after reset */
	outb(0x61, p61 & ~0x03);
	/* counter 2, lobyte/hibyte, mode 0, 10 ms */
	outb(0x43, 0xb0);
	outb(0x42, (PIT_HZ / 100) & 0xff);
	outb(0x42, (PIT_HZ / 100) >> 8);
	GASSERT_EQ(inb(0x61) & 0x20, 0);	/* OUT low */
	delay_us(15000);
	GASSERT_EQ(inb(0x61) & 0x20, 0);	/* GATE low: not counting */
	t0 = rdtsc();
	outb(0x61, (p61 & ~0x02) | 0x01);
	GASSERT_EQ(inb(0x61) & 0x01, 0x01);
	while (!(inb(0x61) & 0x20)) {
		if (rdtsc() - t0 > us_to_tsc(1000000))
			guest_fail(__LINE__, "OUT2 never rose", 0, 0, 0);
	}
	dt = tsc_to_us(rdtsc() - t0);
	SH->out[0] = dt;
	GASSERT_RANGE(dt, 5000, 50000);
	/* OUT stays high after the terminal count in mode 0 */
	delay_us(2000);
	GASSERT_EQ(inb(0x61) & 0x20, 0x20);
	/* bit 4 toggles with the refresh clock */
	for (i = 0; i < 200; i++) {
		if (inb(0x61) & 0x10)
			seen1 = 1;
		else
			seen0 = 1;
	}
	GASSERT(seen0 && seen1);
	outb(0x61, p61 & ~0x03);
	GASSERT_EQ(inb(0x61) & 0x01, 0);
}

/* the counter latch command, timed; then the latched count */
static struct sample pit_latch_sample(void)
{
	struct sample x;

	x.t0 = rdtsc();
	outb(0x43, 0x80);
	x.t1 = rdtsc();
	x.v = pit_read16(0x42);
	return x;
}

/*
 * Counter 2 (mode 2, 65536) went down by a.v - b.v between the latches:
 * at 1.193 MHz +-50%, allowing for the time the latch exits took.
 */
static void pit_check_rate(u32 line, struct sample a, struct sample b)
{
	u64 d = (u16)(a.v - b.v);
	u64 lo = d * tsc_khz / (b.t1 - a.t0);		/* counts per ms */
	u64 hi = d * tsc_khz / (b.t0 - a.t1 + 1);

	if (hi < PIT_HZ / 2000 || lo > PIT_HZ * 3 / 2000)
		guest_fail(line, "PIT counts per ms (count, lo, hi)", d, lo, hi);
}

static void sc_pit_latch(void)
{
	struct sample a, b;
	u8 st;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01);	/* GATE2 high */
	outb(0x43, 0xb4);			/* counter 2, mode 2 */
	outb(0x42, 0);				/* 65536 */
	outb(0x42, 0);
	/* counter latch command, 2 ms apart */
	a = pit_latch_sample();
	delay_us(2000);
	b = pit_latch_sample();
	SH->out[0] = (u16)(a.v - b.v);
	pit_check_rate(__LINE__, a, b);
	/* the latched value holds until it is read */
	a.t0 = rdtsc();
	outb(0x43, 0x80);
	a.t1 = rdtsc();
	delay_us(2000);
	a.v = pit_read16(0x42);
	b = pit_latch_sample();
	SH->out[1] = (u16)(a.v - b.v);
	pit_check_rate(__LINE__, a, b);
	/* a second latch before the read is ignored */
	a.t0 = rdtsc();
	outb(0x43, 0x80);
	a.t1 = rdtsc();
	delay_us(2000);
	outb(0x43, 0x80);
	a.v = pit_read16(0x42);
	b = pit_latch_sample();
	pit_check_rate(__LINE__, a, b);

	/* read-back: status (OUT, null count, access, mode, BCD), count */
	a.t0 = rdtsc();
	outb(0x43, 0xc8);
	a.t1 = rdtsc();
	st = inb(0x42);
	GASSERT_EQ(st & 0x7f, 0x34);
	a.v = pit_read16(0x42);
	delay_us(2000);
	b = pit_latch_sample();
	pit_check_rate(__LINE__, a, b);
	/* status only */
	outb(0x43, 0xe8);
	GASSERT_EQ(inb(0x42) & 0x7f, 0x34);
	/* null count from the control word until a count is written */
	outb(0x43, 0xb4);
	outb(0x43, 0xe8);
	GASSERT_EQ(inb(0x42) & 0x40, 0x40);
	outb(0x42, 0);
	outb(0x42, 0);
	outb(0x43, 0xe8);
	GASSERT_EQ(inb(0x42) & 0x40, 0);
	/* mode 0: OUT (status bit 7) high after the terminal count */
	outb(0x43, 0xb0);
	outb(0x42, 100);
	outb(0x42, 0);
	delay_us(1000);
	outb(0x43, 0xe8);
	GASSERT_EQ(inb(0x42), 0xb0);
	/* lobyte-only access */
	outb(0x43, 0x94);
	outb(0x42, 200);
	GASSERT_RANGE(inb(0x42), 1, 200);
	outb(0x61, inb(0x61) & ~0x03);
}

/* ------------------------------------------------------------------ */
/* selective EOI (SHV_MSR_SEOI) */

static void seoi_inner(unsigned int vec)
{
	struct percpu *p = P;

	(void)vec;
	GASSERT(apic_isr(0x40));
	GASSERT(apic_isr(0x90));
	GASSERT_EQ(apic_read(APIC_PPR), 0x90);
	self_ipi(0x50);
	GASSERT(apic_irr(0x50));
	/* end the LOWER one: 0x90 stays in service */
	wrmsr(SHV_MSR_SEOI, 0x40);
	GASSERT(!apic_isr(0x40));
	GASSERT(apic_isr(0x90));
	GASSERT_EQ(apic_read(APIC_PPR), 0x90);
	/* a vector not in service: nothing happens */
	wrmsr(SHV_MSR_SEOI, 0x55);
	GASSERT(apic_isr(0x90));
	GASSERT(apic_irr(0x50));
	GASSERT_EQ(p->count[0x50], 0);
}

static void seoi_outer(unsigned int vec)
{
	struct percpu *p = P;

	(void)vec;
	sti();
	self_ipi(0x90);
	GWAIT(p->count[0x90] == 1, 100000);
	/* back with IF=1: 0x50 is still held by 0x90 */
	delay_us(3000);
	GASSERT_EQ(p->count[0x50], 0);
	GASSERT(!apic_isr(0x40));
	GASSERT(apic_isr(0x90));
	GASSERT_EQ(apic_read(APIC_PPR), 0x90);
	wrmsr(SHV_MSR_SEOI, 0x90);
	GWAIT(p->count[0x50] == 1, 100000);
	GASSERT(!apic_isr(0x90));
	GASSERT_EQ(apic_read(APIC_PPR), 0);
	cli();
}

static void sc_seoi(void)
{
	struct percpu *p = P;
	u32 a, b, c, d;
	int i;

	cpuid(0x40000000, &a, &b, &c, &d);
	GASSERT_EQ(b, 0x53766853);		/* "ShvS" */
	GASSERT_EQ(c, 0x68537668);		/* "hvSh" */
	GASSERT_EQ(d, 0x76685376);		/* "vShv" */
	GASSERT(a >= SHV_CPUID_FEATURES);
	cpuid(SHV_CPUID_FEATURES, &a, &b, &c, &d);
	GASSERT(a & SHV_FEAT_SEOI);

	apic_enable(true);
	p->hook[0x40] = seoi_outer;
	p->hook[0x90] = seoi_inner;
	p->noeoi[0x40] = 1;
	p->noeoi[0x90] = 1;
	sti();
	self_ipi(0x40);
	GWAIT(p->count[0x50] == 1, 100000);
	GASSERT_EQ(p->nlog, 3);
	GASSERT_EQ(p->log[0], 0x40);
	GASSERT_EQ(p->log[1], 0x90);
	GASSERT_EQ(p->log[2], 0x50);
	for (i = 0; i < 8; i++)
		GASSERT_EQ(apic_read(APIC_ISR + i * 0x10), 0);
	GASSERT(wrmsr_safe(SHV_MSR_SEOI, 0x100) < 0);

	/* a level-triggered vector: the IOAPIC gets the EOI too */
	pic_mask_all();
	p->hook[0x5b] = NULL;
	p->noeoi[0x5b] = 1;
	ioapic_set(11, RTE_LEVEL | 0x5b, 0);
	LINE(11, 1);
	GWAIT(p->count[0x5b] == 1, 100000);
	LINE(11, 0);
	GASSERT(ioapic_rte(11) & RTE_RIRR);
	GASSERT(apic_isr(0x5b));
	wrmsr(SHV_MSR_SEOI, 0x5b);
	GASSERT(!apic_isr(0x5b));
	GASSERT_EQ(ioapic_rte(11) & RTE_RIRR, 0);
}

/* ------------------------------------------------------------------ */

/*
 * Read the GDT once (reloading SS reads its descriptor), so that the
 * first interrupt's delivery finds it mapped.  Bochs (the VMX rig)
 * records no IDT-vectoring information for virtual-interrupt delivery: a
 * VM exit during it, such as the EPT violation of a first GDT read,
 * reports a stale event instead (Documentation/vmx.rst).
 */
static void touch_gdt(void)
{
	u64 ss;

	asm volatile("mov %%ss, %0\n\tmov %0, %%ss" : "=&r"(ss) : : "memory");
}

void guest_main(void);

void guest_main(void)
{
	struct percpu *p = P;

	tsc_khz = SH->tsc_khz;
	idt_setup();
	touch_gdt();
	p->lapic_eoi = true;

	switch (SH->scenario) {
	case SC_LAPIC_REGS:		sc_lapic_regs(); break;
	case SC_X2APIC_EOI_GP:		sc_x2apic_eoi_gp(); break;
	case SC_TPR:			sc_tpr(); break;
	case SC_TPR_EQUAL:		sc_tpr_equal(); break;
	case SC_TPR_CR8:		sc_tpr_cr8(); break;
	case SC_TPR_NOEXIT:		sc_tpr_noexit(); break;
	case SC_VINTR:			sc_vintr(); break;
	case SC_NMI_IRET:		sc_nmi_iret(); break;
	case SC_X2APIC_ON:		sc_x2apic_on(); break;
	case SC_NESTED:			sc_nested(); break;
	case SC_SVR:			sc_svr(); break;
	case SC_ESR:			sc_esr(); break;
	case SC_ESR_LVT:		sc_esr_lvt(); break;
	case SC_TIMER_ONESHOT:		sc_timer_oneshot(); break;
	case SC_TIMER_PERIODIC:		sc_timer_periodic(); break;
	case SC_TIMER_DIVIDE:		sc_timer_divide(); break;
	case SC_TIMER_DEADLINE:		sc_timer_deadline(); break;
	case SC_DEADLINE_ONESHOT_MSR:	sc_deadline_oneshot_msr(); break;
	case SC_IPI:			sc_ipi(); break;
	case SC_IPI_LATE_AP:		sc_ipi_late_ap(); break;
	case SC_IOAPIC_EDGE:		sc_ioapic_edge(); break;
	case SC_IOAPIC_LEVEL:		sc_ioapic_level(); break;
	case SC_MSI:			sc_msi(); break;
	case SC_PIC_BASIC:		sc_pic_basic(); break;
	case SC_PIC_AEOI:		sc_pic_aeoi(); break;
	case SC_PIC_CASCADE:		sc_pic_cascade(); break;
	case SC_PIC_ELCR:		sc_pic_elcr(); break;
	case SC_PIT_PIC:		sc_pit_pic(); break;
	case SC_PIT_IOAPIC:		sc_pit_ioapic(); break;
	case SC_PIT_CH2:		sc_pit_ch2(); break;
	case SC_PIT_LATCH:		sc_pit_latch(); break;
	case SC_SEOI:			sc_seoi(); break;
	default:
		guest_fail(__LINE__, "unknown scenario", SH->scenario, 0, 0);
	}
	cli();
}
