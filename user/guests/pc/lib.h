/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny freestanding library for the PC machine test guests: 64-bit
 * long mode, low 4 GiB identity-mapped, polled serial output, TAP, and
 * helpers for the PC's devices.  Each test defines test_main().
 */
#ifndef PC_GUEST_LIB_H
#define PC_GUEST_LIB_H

#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18
#define MAX_CPUS	64
#define AP_STACK_SHIFT	12
#define AP_TRAMPOLINE	0x6000

#ifndef __ASSEMBLER__

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long ulong;
typedef int bool;
#define true	1
#define false	0
#define NULL	((void *)0)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

typedef __builtin_va_list va_list;
#define va_start(v, l)	__builtin_va_start(v, l)
#define va_end(v)	__builtin_va_end(v)
#define va_arg(v, l)	__builtin_va_arg(v, l)

/* port I/O */
static inline void outb(u16 p, u8 v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outw(u16 p, u16 v) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(u16 p, u32 v) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u16 inw(u16 p) { u16 v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(u16 p) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

/* physical = virtual: the low 4 GiB are identity-mapped */
static inline u8 mmio_read8(ulong a) { return *(volatile u8 *)a; }
static inline u16 mmio_read16(ulong a) { return *(volatile u16 *)a; }
static inline u32 mmio_read32(ulong a) { return *(volatile u32 *)a; }
static inline u64 mmio_read64(ulong a) { return *(volatile u64 *)a; }
static inline void mmio_write8(ulong a, u8 v) { *(volatile u8 *)a = v; }
static inline void mmio_write16(ulong a, u16 v) { *(volatile u16 *)a = v; }
static inline void mmio_write32(ulong a, u32 v) { *(volatile u32 *)a = v; }
static inline void mmio_write64(ulong a, u64 v) { *(volatile u64 *)a = v; }

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
		     : "0"(leaf), "2"(sub));
}

static inline u64 rdmsr(u32 index)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
	return (u64)hi << 32 | lo;
}

static inline void wrmsr(u32 index, u64 v)
{
	asm volatile("wrmsr" :: "c"(index), "a"((u32)v), "d"((u32)(v >> 32))
		     : "memory");
}

static inline void sti(void) { asm volatile("sti" ::: "memory"); }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }
#define barrier()	asm volatile("" ::: "memory")

/* strings and memory */
void *memset(void *d, int c, u32 n);
void *memcpy(void *d, const void *s, u32 n);
int memcmp(const void *a, const void *b, u32 n);
u32 strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, u32 n);
/* 64-by-32 division without libgcc */
u64 div64(u64 n, u32 d, u32 *rem);

/* output on COM1 */
void putchar(char c);
void puts(const char *s);
void printf(const char *fmt, ...);
void vprintf(const char *fmt, va_list ap);

/*
 * TAP: one "ok N - ..." / "not ok N - ..." line per check; "# ..."
 * lines are diagnostics (values that differ between runs go there).
 * done() prints the plan and ends the run through debug-exit: 0 (exit
 * status 1) if everything passed, 2 (status 5) otherwise.
 */
bool ok(bool cond, const char *fmt, ...);
void diag(const char *fmt, ...);
void done(void) __attribute__((noreturn));
void exit(int code) __attribute__((noreturn));

/* the command line (argv[0] is the kernel's name) and multiboot info */
struct mb_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
	u32 mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
	u32 drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));

struct mb_module {
	u32 mod_start, mod_end, string, reserved;
};

extern struct mb_info *mbi;
extern int argc;
extern char *argv[32];
/* the value of "key=value" on the command line, or NULL */
const char *arg_value(const char *key);
u32 atou(const char *s);

/* interrupts */
struct frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rdi, rsi, rbp, rbx, rdx, rcx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};
typedef void (*isr_fn)(struct frame *f);
void set_isr(u8 vector, isr_fn fn);

/* local APIC (xAPIC MMIO) */
#define APIC_BASE	0xfee00000u
#define APIC_ID		0x20
#define APIC_VERSION	0x30
#define APIC_TPR	0x80
#define APIC_EOI	0xb0
#define APIC_SVR	0xf0
#define APIC_ISR	0x100
#define APIC_TMR	0x180
#define APIC_IRR	0x200
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_LVT_LINT0	0x350
#define APIC_LVT_LINT1	0x360
static inline u32 apic_read(u32 r) { return mmio_read32(APIC_BASE + r); }
static inline void apic_write(u32 r, u32 v) { mmio_write32(APIC_BASE + r, v); }
void apic_enable(void);
static inline void apic_eoi(void) { apic_write(APIC_EOI, 0); }
static inline u32 apic_id(void) { return apic_read(APIC_ID) >> 24; }
void apic_icr(u32 dest, u32 lo);

/* IOAPIC */
#define IOAPIC_BASE	0xfec00000u
u32 ioapic_read(u32 reg);
void ioapic_write(u32 reg, u32 v);
void ioapic_route(unsigned int pin, u8 vector, bool level, bool masked);

/* 8259 PICs */
void pic_init(u8 master_base, u8 slave_base);
void pic_set_mask(u16 mask);
void pic_eoi(unsigned int irq);

/* fw_cfg */
void fwcfg_read(u16 key, void *buf, u32 len);
u64 fwcfg_u64(u16 key, u32 len);

/* the ACPI PM timer (24 bits, 3.579545 MHz) */
#define PM_TIMER_PORT	0x608
#define PM_TIMER_HZ	3579545u
static inline u32 pm_timer(void) { return inl(PM_TIMER_PORT) & 0xffffff; }
void pm_delay_us(u32 us);

/* wait for *p to become nonzero, at most ~@us microseconds */
bool wait_for(volatile u32 *p, u32 us);

/* application processors: started by smp_start(), they run ap_main() */
extern volatile u32 ap_next_index;
extern u8 ap_tramp[], ap_tramp_end[];
void ap_main(u32 index);

/* the first byte past the loaded kernel */
extern u8 _end[];
static inline u32 _end_addr(void) { return (u32)(ulong)_end; }

/* what each test provides */
void test_main(void);

#endif /* __ASSEMBLER__ */
#endif /* PC_GUEST_LIB_H */
