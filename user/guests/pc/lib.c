// SPDX-License-Identifier: GPL-2.0
/*
 * The PC test guests' library: start-up, console, TAP, interrupts and
 * the interrupt controllers, fw_cfg, the PM timer.
 */
#include "lib.h"

#define COM1		0x3f8
#define DEBUG_EXIT	0xf4
#define MB_BOOT_MAGIC	0x2BADB002

struct mb_info *mbi;
int argc;
char *argv[32];

static unsigned int tests_run, tests_failed;
void (*exit_hook)(int code);
static u64 idt[512];
extern u8 isr_stubs[];
static isr_fn isr_table[256];
static char cmdline_copy[512];

void *memset(void *d, int c, u32 n)
{
	u8 *p = d;

	while (n--)
		*p++ = c;
	return d;
}

void *memcpy(void *d, const void *s, u32 n)
{
	u8 *p = d;
	const u8 *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, u32 n)
{
	const u8 *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

u32 strlen(const char *s)
{
	u32 n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, u32 n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, ~0u);
}

u64 div64(u64 n, u32 d, u32 *rem)
{
	u64 q = 0, r = 0;
	int i;

	for (i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ULL << i;
		}
	}
	if (rem)
		*rem = r;
	return q;
}

u32 atou(const char *s)
{
	u32 v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

void putchar(char c)
{
	int i;

	if (c == '\n')
		putchar('\r');
	for (i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		pause();
	outb(COM1, c);
}

void puts(const char *s)
{
	while (*s)
		putchar(*s++);
}

static void put_num(u64 v, unsigned int base, int width, bool zero,
		    bool neg)
{
	char buf[24];
	int n = 0;
	u32 r;

	do {
		v = div64(v, base, &r);
		buf[n++] = "0123456789abcdef"[r];
	} while (v);
	if (neg)
		buf[n++] = '-';
	for (; width > n; width--)
		putchar(zero ? '0' : ' ');
	while (n)
		putchar(buf[--n]);
}

void vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		bool zero = false;
		u64 v;

		if (*fmt != '%') {
			putchar(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			zero = true;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng = 2;	/* long and long long: 64 bits */
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			putchar(va_arg(ap, int));
			break;
		case 's':
			puts(va_arg(ap, const char *));
			break;
		case 'd':
			if (lng >= 2) {
				long long s = va_arg(ap, long long);

				put_num(s < 0 ? -s : s, 10, width, zero, s < 0);
			} else {
				int s = va_arg(ap, int);

				put_num(s < 0 ? -(long long)s : s, 10, width,
					zero, s < 0);
			}
			break;
		case 'u':
		case 'x':
			v = lng >= 2 ? va_arg(ap, u64) : va_arg(ap, u32);
			put_num(v, *fmt == 'u' ? 10 : 16, width, zero, false);
			break;
		case 'p':
			put_num(va_arg(ap, ulong), 16, 16, true, false);
			break;
		case '%':
			putchar('%');
			break;
		default:
			putchar('%');
			putchar(*fmt);
		}
	}
}

void printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

bool ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %u - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return cond;
}

void diag(const char *fmt, ...)
{
	va_list ap;

	puts("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void exit(int code)
{
	outl(DEBUG_EXIT, code);
	for (;;)
		asm volatile("cli; hlt");
}

void done(void)
{
	printf("1..%u\n", tests_run);
	if (tests_failed)
		diag("%u of %u failed", tests_failed, tests_run);
	if (exit_hook)
		exit_hook(tests_failed || !tests_run ? 2 : 0);
	exit(tests_failed || !tests_run ? 2 : 0);
}

const char *arg_value(const char *key)
{
	u32 n = strlen(key);
	int i;

	for (i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static void parse_cmdline(const char *s)
{
	char *p = cmdline_copy;
	u32 n = strlen(s);

	if (n >= sizeof(cmdline_copy))
		n = sizeof(cmdline_copy) - 1;
	memcpy(p, s, n);
	p[n] = 0;
	argc = 0;
	while (*p && argc < (int)ARRAY_SIZE(argv)) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
}

/* interrupts */
void isr_dispatch(struct frame *f)
{
	isr_fn fn = isr_table[f->vector & 0xff];

	if (fn) {
		fn(f);
		return;
	}
	printf("\nunexpected exception/interrupt %llu, error 0x%llx, rip 0x%llx, apic %u\n",
	       f->vector, f->error, f->rip, apic_id());
	ok(false, "no unexpected interrupts");
	done();
}

void set_isr(u8 vector, isr_fn fn)
{
	isr_table[vector] = fn;
}

static void load_idt(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (ulong)idt };

	asm volatile("lidt %0" :: "m"(d));
}

static void setup_idt(void)
{
	unsigned int i;

	for (i = 0; i < 256; i++) {
		u64 a = (ulong)isr_stubs + 16 * i;

		/* 64-bit interrupt gate, DPL 0, present */
		idt[2 * i] = (a & 0xffff) | ((u64)SEL_CODE64 << 16) |
			     ((u64)0x8e00 << 32) | ((a >> 16) & 0xffff) << 48;
		idt[2 * i + 1] = a >> 32;
	}
	load_idt();
}

void apic_enable(void)
{
	apic_write(APIC_SVR, 0x1ff);	/* enabled, spurious vector 0xff */
	apic_write(APIC_TPR, 0);
}

void apic_icr(u32 dest, u32 lo)
{
	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, lo);
	while (apic_read(APIC_ICR_LO) & (1 << 12))
		pause();
}

u32 ioapic_read(u32 reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned int pin, u8 vector, bool level, bool masked)
{
	ioapic_write(0x11 + 2 * pin, 0);	/* destination: APIC 0 */
	ioapic_write(0x10 + 2 * pin, vector | (level ? 1 << 15 : 0) |
				     (masked ? 1 << 16 : 0));
}

void pic_init(u8 master_base, u8 slave_base)
{
	outb(0x20, 0x11);		/* ICW1: edge, cascade, ICW4 */
	outb(0x21, master_base);
	outb(0x21, 0x04);		/* slave on IR2 */
	outb(0x21, 0x01);		/* 8086 mode */
	outb(0xa0, 0x11);
	outb(0xa1, slave_base);
	outb(0xa1, 0x02);
	outb(0xa1, 0x01);
	pic_set_mask(0xffff);
}

void pic_set_mask(u16 mask)
{
	outb(0x21, mask & 0xff);
	outb(0xa1, mask >> 8);
}

void pic_eoi(unsigned int irq)
{
	if (irq >= 8)
		outb(0xa0, 0x20);
	outb(0x20, 0x20);
}

void fwcfg_read(u16 key, void *buf, u32 len)
{
	u8 *p = buf;

	outw(0x510, key);
	while (len--)
		*p++ = inb(0x511);
}

u64 fwcfg_u64(u16 key, u32 len)
{
	u8 b[8] = { 0 };
	u64 v = 0;
	int i;

	fwcfg_read(key, b, len > 8 ? 8 : len);
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

void pm_delay_us(u32 us)
{
	u32 start = pm_timer(), ticks = (u32)div64((u64)us * PM_TIMER_HZ,
						   1000000, NULL);

	while (((pm_timer() - start) & 0xffffff) < ticks)
		pause();
}

bool wait_for(volatile u32 *p, u32 us)
{
	u32 start = pm_timer(), ticks, waited = 0, last = start;

	ticks = (u32)div64((u64)us * PM_TIMER_HZ, 1000000, NULL);
	while (!*p) {
		u32 now = pm_timer();

		waited += (now - last) & 0xffffff;
		last = now;
		if (waited >= ticks)
			return *p != 0;
		pause();
	}
	return true;
}

__attribute__((weak)) void ap_main(u32 index)
{
	(void)index;
}

void ap_start(u32 index)
{
	load_idt();
	apic_enable();
	ap_main(index);
}

void lib_start(u32 magic, struct mb_info *info)
{
	setup_idt();
	/* 115200 8N1, FIFOs, no interrupts */
	outb(COM1 + 1, 0);
	outb(COM1 + 3, 0x80);
	outb(COM1 + 0, 1);
	outb(COM1 + 1, 0);
	outb(COM1 + 3, 0x03);
	outb(COM1 + 2, 0xc7);
	outb(COM1 + 4, 0x03);
	puts("TAP version 13\n");
	if (magic != MB_BOOT_MAGIC) {
		ok(false, "multiboot magic 0x%x", magic);
		done();
	}
	mbi = info;
	parse_cmdline((mbi->flags & (1 << 2)) ?
		      (const char *)(ulong)mbi->cmdline : "");
	test_main();
	done();
}
