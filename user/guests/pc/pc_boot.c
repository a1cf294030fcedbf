// SPDX-License-Identifier: GPL-2.0
/*
 * pc_boot: what a multiboot kernel finds at entry on the PC machine: the
 * multiboot information (command line with the program name first,
 * memory sizes, memory map, modules), the BIOS data area, the CMOS
 * memory-size bytes, the RTC, port 0x92.
 *
 * Command line: cpus=N mem=MIB [mods=N] [reset=port92|cf9] [poweroff]:
 * with reset or poweroff the run ends that way instead of through
 * debug-exit (if every check passed).
 */
#include "lib.h"

extern void (*exit_hook)(int code);

static u8 cmos(u8 idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static void cmos_set(u8 idx, u8 v)
{
	outb(0x70, idx);
	outb(0x71, v);
}

static u32 bcd(u8 v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static void test_multiboot(void)
{
	u32 mem = atou(arg_value("mem") ? arg_value("mem") : "0");
	const char *cmd = (const char *)(ulong)mbi->cmdline;
	const char *name = argv[0];
	u32 i, n, mods = 0;

	ok(argc >= 1 && strlen(name) > 8 &&
	   !strcmp(name + strlen(name) - 11, "pc_boot.elf"),
	   "argv[0] is the kernel's file name");
	ok(arg_value("cpus") != NULL,
	   "the --append text follows the name");
	ok(cmd[strlen(name)] == ' ', "one space after the name");
	ok((mbi->flags & 0x24f) == 0x24f,
	   "flags: mem, boot device, cmdline, mods, mmap, loader name");
	ok(mbi->mem_lower == 640, "mem_lower 640 KiB (%u)", mbi->mem_lower);
	ok(mbi->mem_upper == mem * 1024 - 1024,
	   "mem_upper %u KiB for %u MiB", mbi->mem_upper, mem);
	ok(mbi->boot_device == 0x8000ffff, "boot device 0x%x",
	   mbi->boot_device);

	/* memory map: [0, 0x9fc00) RAM, reserved up to 1 MiB, RAM above */
	n = mbi->mmap_length / 24;
	ok(n == 3, "3 memory map entries (%u)", n);
	if (n == 3) {
		u32 *e = (u32 *)(ulong)mbi->mmap_addr;

		ok(e[0] == 20 && e[1] == 0 && e[3] == 0x9fc00 && e[5] == 1,
		   "low RAM entry");
		ok(e[7] == 0x9fc00 && e[9] == 0x100000 - 0x9fc00 && e[11] == 2,
		   "reserved entry below 1 MiB");
		ok(e[13] == 0x100000 && e[15] == mem * 1024 * 1024 - 0x100000 &&
		   e[17] == 1, "RAM above 1 MiB");
	}

	if (arg_value("mods"))
		mods = atou(arg_value("mods"));
	ok(mbi->mods_count == mods, "%u modules", mods);
	for (i = 0; i < mbi->mods_count && i < mods; i++) {
		struct mb_module *m = (struct mb_module *)(ulong)mbi->mods_addr + i;
		const char *s = (const char *)(ulong)m->string;

		ok(!(m->mod_start & 0xfff) && m->mod_end > m->mod_start &&
		   m->mod_start >= (u32)_end_addr(),
		   "module %u page aligned, after the kernel", i);
		ok(!memcmp((void *)(ulong)m->mod_start, "shv-module-", 11) &&
		   ((u8 *)(ulong)m->mod_start)[11] == '0' + i,
		   "module %u contents", i);
		ok(strlen(s) > 0 && (i != 0 || !strcmp(s + strlen(s) - 8,
							" one two")),
		   "module %u string: file name%s", i,
		   i ? "" : " and arguments");
	}
}

static void test_bda_cmos(void)
{
	u32 mem = atou(arg_value("mem") ? arg_value("mem") : "0");
	u32 cpus = atou(arg_value("cpus") ? arg_value("cpus") : "1");
	u32 ext = mem * 1024 - 1024, above16;

	ok(*(volatile u16 *)0x400ul == 0x3f8, "BDA: COM1 at 0x3f8");
	ok(*(volatile u16 *)0x40eul == 0x9fc0, "BDA: EBDA segment 0x9fc0");
	ok(*(volatile u16 *)0x413ul == 639, "BDA: 639 KiB base memory");

	if (ext > 65535)
		ext = 65535;
	above16 = mem > 16 ? (mem - 16) * 16 : 0;
	ok((cmos(0x15) | cmos(0x16) << 8) == 640, "CMOS 0x15: 640 KiB");
	ok((u32)(cmos(0x17) | cmos(0x18) << 8) == ext, "CMOS 0x17: %u KiB", ext);
	ok((u32)(cmos(0x30) | cmos(0x31) << 8) == ext, "CMOS 0x30: %u KiB", ext);
	ok((u32)(cmos(0x34) | cmos(0x35) << 8) == above16,
	   "CMOS 0x34: %u x 64 KiB above 16 MiB", above16);
	ok(!cmos(0x5b) && !cmos(0x5c) && !cmos(0x5d), "CMOS 0x5b: none above 4 GiB");
	ok(cmos(0x5f) == cpus - 1, "CMOS 0x5f: %u CPUs - 1", cpus);
	ok(inb(0x70) == 0xff, "port 0x70 reads 0xff");
}

/* read h:m:s twice until stable (no update in between) */
static void rtc_time(u32 *h, u32 *m, u32 *s)
{
	u8 a, b, c;

	do {
		a = cmos(4);
		b = cmos(2);
		c = cmos(0);
	} while (a != cmos(4) || b != cmos(2) || c != cmos(0));
	*h = a;
	*m = b;
	*s = c;
}

static void test_rtc(void)
{
	u32 h, m, s, h2, m2, s2, tries;
	u8 b = cmos(0x0b);
	bool same = false;

	ok(b == 0x02, "status B: BCD, 24 hour (0x%x)", b);
	ok((cmos(0x0a) & 0x7f) == 0x26, "status A: divider 0x26");
	ok(cmos(0x0d) == 0x80, "status D: valid RAM and time");
	ok(cmos(0x32) == 0x20 && bcd(cmos(9)) >= 24, "century 20, year %u",
	   bcd(cmos(9)));
	rtc_time(&h, &m, &s);
	ok((h & 0xf) < 10 && (m & 0xf) < 10 && (s & 0xf) < 10 &&
	   bcd(h) < 24 && bcd(m) < 60 && bcd(s) < 60, "BCD time");

	/* binary: the same time */
	for (tries = 0; tries < 5 && !same; tries++) {
		cmos_set(0x0b, 0x06);
		rtc_time(&h2, &m2, &s2);
		cmos_set(0x0b, 0x02);
		rtc_time(&h, &m, &s);
		same = h2 == bcd(h) && m2 == bcd(m) && s2 == bcd(s);
	}
	ok(same, "binary mode gives the same time");

	/* 12 hour: 12 AM .. 11 PM with bit 7 for PM */
	for (same = false, tries = 0; tries < 5 && !same; tries++) {
		cmos_set(0x0b, 0x00);
		h2 = cmos(4);
		cmos_set(0x0b, 0x02);
		h = bcd(cmos(4));
		same = bcd(h2 & 0x7f) == (h % 12 ? h % 12 : 12) &&
		       !!(h2 & 0x80) == (h >= 12);
	}
	ok(same, "12-hour mode");

	/* setting the time: minutes to 42 */
	cmos_set(0x0b, 0x82);
	cmos_set(0x02, 0x42);
	cmos_set(0x0b, 0x02);
	m = cmos(2);
	ok(m == 0x42 || m == 0x43, "set minutes to 42 (0x%x)", m);

	/*
	 * UIP is seen within about a second: keep the index at A and read
	 * the data port alone (one exit per sample), looking at the clock
	 * every 64 samples.  UIP lasts 244 us, as in QEMU: on a loaded host
	 * the samples can miss several windows, hence up to 10 s.
	 */
	{
		u32 last = pm_timer(), waited = 0;

		outb(0x70, 0x0a);
		for (tries = 0, same = false; !same &&
		     waited < 10 * PM_TIMER_HZ; tries++) {
			u32 now;

			same = (inb(0x71) & 0x80) != 0;
			if (tries % 64)
				continue;
			now = pm_timer();
			waited += (now - last) & 0xffffff;
			last = now;
		}
		ok(same, "UIP set once a second");
		diag("UIP after %u reads, %u PM ticks", tries, waited);
	}

	ok(cmos(0x0c) == 0, "status C: no interrupt flags");
	cmos_set(0x50, 0x5a);
	ok(cmos(0x50) == 0x5a, "CMOS RAM byte 0x50 stores");
	outb(0x70, 0x80 | 0x50);	/* NMI mask bit: still index 0x50 */
	ok(inb(0x71) == 0x5a, "port 0x70 bit 7 is the NMI mask, not index");
	outb(0x70, 0x0d);
}

static void do_reset92(int code)
{
	if (code)
		exit(code);
	outb(0x92, inb(0x92) | 1);
	exit(2);
}

static void do_reset_cf9(int code)
{
	if (code)
		exit(code);
	outb(0xcf9, 0x06);
	exit(2);
}

static void do_poweroff(int code)
{
	if (code)
		exit(code);
	outw(0x604, 0x2000);	/* SLP_TYP 0 (\_S5), SLP_EN */
	exit(2);
}

void test_main(void)
{
	const char *r = arg_value("reset");
	int i;

	test_multiboot();
	test_bda_cmos();
	test_rtc();
	ok((inb(0x92) & 3) == 2, "port 0x92: A20 on, reset bit 0");

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "poweroff"))
			exit_hook = do_poweroff;
	if (r && !strcmp(r, "port92"))
		exit_hook = do_reset92;
	if (r && !strcmp(r, "cf9"))
		exit_hook = do_reset_cf9;
}
