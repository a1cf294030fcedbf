// SPDX-License-Identifier: GPL-2.0
/*
 * bench_irq: the cost of interrupt delivery, on the PC machine with two
 * vCPUs in x2APIC mode.
 *
 *   shv-run --kernel bench_irq.elf --smp 2 --hyperv [--accel kvm]
 *
 * Each metric is measured in three samples of up to 256 operations,
 * each operation timed on its own with the TSC.  A sample's figure is
 * the median operation (the host preempts the rig now and then: a mean
 * would measure that); the median sample is printed with the other two,
 * and the guest exits per operation over all three samples, read from
 * shv-run's exit-counter port (the exits of both vCPUs, as the
 * accelerator counts them; host interrupts that hit a running vCPU count
 * too):
 *
 *   bench: NAME N cycles/UNIT, E exits/UNIT (min A, max B of 3)
 *
 * ipi_rt          vCPU 0 sends a fixed IPI to vCPU 1, which waits in
 *                 "sti; hlt"; its handler sends one back and vCPU 0, which
 *                 spins, takes it: cycles per round trip.  One delivery
 *                 to a halted vCPU and one to a running vCPU (a kick).
 * self_ipi        an x2APIC SELF IPI, taken and EOIed: cycles per IPI
 * timer_latency   a TSC-deadline timer armed 100 us ahead while vCPU 0
 *                 spins: cycles from the deadline to the handler's entry
 * timer_periodic  a periodic LAPIC timer (500 us) while vCPU 0 runs a
 *                 loop reading the TSC: the cycles the loop loses to one
 *                 interrupt (exit, injection, handler, EOI, re-entry)
 * synic_autoeoi   STIMER0, one-shot, message mode, armed for a time long
 *                 past so it expires at once, to a SINT with AutoEOI: the
 *                 handler takes the message (EOM only if MessagePending)
 *                 and writes no EOI: cycles from arming to the handler's
 *                 end
 * synic_eoi       the same with AutoEOI clear: the handler writes the EOI
 *                 MSR too
 * stimer_direct   the same timer in direct mode (a plain APIC vector,
 *                 EOI written)
 *
 * The SynIC rows need --hyperv ("Hv#1" at CPUID 0x40000001).  The
 * TAP checks make the run fail when an interrupt goes missing, comes
 * before its deadline or brings the wrong message.
 */
#include "lib.h"

#define PING_VECTOR	0x70
#define PONG_VECTOR	0x71
#define SELF_VECTOR	0x72
#define TIMER_VECTOR	0x73
#define SINT_VECTOR	0x74
#define DIRECT_VECTOR	0x75

#define EXIT_COUNTER	0xe10	/* shv-run: exits of all vCPUs */

#define MSR_APIC_BASE	0x1b
#define APIC_BASE_EXTD	(1u << 10)
#define MSR_TSC_DEADLINE 0x6e0
#define X2APIC_EOI	0x80b
#define X2APIC_ICR	0x830
#define X2APIC_LVT_TIMER 0x832
#define X2APIC_TMICT	0x838
#define X2APIC_TMCCT	0x839
#define X2APIC_TDCR	0x83e
#define X2APIC_SELF_IPI	0x83f
#define LVT_MASKED	(1u << 16)
#define LVT_PERIODIC	(1u << 17)
#define LVT_DEADLINE	(2u << 17)

#define HV_GUEST_OS_ID	0x40000000
#define HV_EOI		0x40000070
#define HV_SCONTROL	0x40000080
#define HV_SIMP		0x40000083
#define HV_EOM		0x40000084
#define HV_SINT0	0x40000090
#define HV_STIMER0_CFG	0x400000b0
#define HV_STIMER0_CNT	0x400000b1
#define HV_SINT_AUTOEOI	(1u << 17)
#define HV_ST_AUTOENABLE (1u << 3)
#define HV_ST_DIRECT	(1u << 12)
#define HVMSG_TIMER_EXPIRED 0x80000010
#define SINT		2

#define SAMPLES		3
#define MAX_EVENTS	256

struct hv_message {
	u32 type;
	u8 size, flags, reserved[2];
	u64 origin;
	u64 payload[30];
};

static u64 tsc_per_ms, tsc_per_us;
static bool have_exits;
static volatile u32 ap_online;

static volatile u32 pongs, selfs, ticks, sints, directs, bad_msgs;
static volatile u64 tick_tsc;
static bool eoi_sint;
static u8 simp[4096] __attribute__((aligned(4096)));

static inline void x2apic_eoi(void)
{
	wrmsr(X2APIC_EOI, 0);
}

static u32 exits(void)
{
	return inl(EXIT_COUNTER);
}

/* --- handlers --- */

/* on vCPU 1: answer */
static void ping_isr(struct frame *f)
{
	(void)f;
	wrmsr(X2APIC_ICR, (u64)0 << 32 | PONG_VECTOR);
	x2apic_eoi();
}

static void pong_isr(struct frame *f)
{
	(void)f;
	pongs++;
	x2apic_eoi();
}

static void self_isr(struct frame *f)
{
	(void)f;
	selfs++;
	x2apic_eoi();
}

static void timer_isr(struct frame *f)
{
	(void)f;
	tick_tsc = rdtsc();
	ticks++;
	x2apic_eoi();
}

static void sint_isr(struct frame *f)
{
	struct hv_message *m = (struct hv_message *)(simp + SINT * 256);

	(void)f;
	if (m->type != HVMSG_TIMER_EXPIRED)
		bad_msgs++;
	m->type = 0;
	/* the slot is free before MessagePending is looked at */
	asm volatile("mfence" ::: "memory");
	if (m->flags & 1)
		wrmsr(HV_EOM, 0);
	sints++;
	if (eoi_sint)
		wrmsr(HV_EOI, 0);
}

static void direct_isr(struct frame *f)
{
	(void)f;
	directs++;
	x2apic_eoi();
}

/* --- measuring --- */

static void sort(u64 *v, u32 n)
{
	u32 i, j;

	for (i = 1; i < n; i++)
		for (j = i; j && v[j - 1] > v[j]; j--) {
			u64 t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static u64 median(u64 *v, u32 n)
{
	sort(v, n);
	return n ? v[n / 2] : 0;
}

/* one sample of @n operations (at most MAX_EVENTS): the median cycles */
typedef u64 sample_fn(u32 n);

static void measure(const char *name, const char *unit, sample_fn *fn,
		    u32 n)
{
	u64 c[SAMPLES], e;
	u32 e0, i;

	if (n > MAX_EVENTS)
		n = MAX_EVENTS;
	fn(n / 8 + 1);			/* warm-up */
	e0 = exits();
	for (i = 0; i < SAMPLES; i++)
		c[i] = fn(n);
	e = (u32)(exits() - e0 - 1);	/* less the read that ends it */
	sort(c, SAMPLES);
	printf("bench: %s %llu cycles/%s", name, c[SAMPLES / 2], unit);
	if (have_exits) {
		e = div64(e * 100, SAMPLES * n, NULL);
		printf(", %llu.%02llu exits/%s", div64(e, 100, NULL),
		       e - div64(e, 100, NULL) * 100, unit);
	}
	printf(" (min %llu, max %llu of %u)\n", c[0], c[SAMPLES - 1],
	       SAMPLES);
}

/* spin with interrupts on until *@p reaches @v; false after ~1 s */
static bool spin_until(volatile u32 *p, u32 v)
{
	u64 end = rdtsc() + 1000 * tsc_per_ms;

	while (*p < v)
		if (rdtsc() > end)
			return false;
	return true;
}

static bool lost;	/* an interrupt did not come */
static u64 op[MAX_EVENTS];	/* cycles of each operation of a sample */

static u64 ipi_rt(u32 n)
{
	u32 i;

	for (i = 0; i < n && !lost; i++) {
		u32 want = pongs + 1;
		u64 t0 = rdtsc();

		wrmsr(X2APIC_ICR, (u64)1 << 32 | PING_VECTOR);
		lost |= !spin_until(&pongs, want);
		op[i] = rdtsc() - t0;
	}
	return median(op, i);
}

static u64 self_ipi(u32 n)
{
	u32 i;

	for (i = 0; i < n && !lost; i++) {
		u32 want = selfs + 1;
		u64 t0 = rdtsc();

		wrmsr(X2APIC_SELF_IPI, SELF_VECTOR);
		lost |= !spin_until(&selfs, want);
		op[i] = rdtsc() - t0;
	}
	return median(op, i);
}

static bool early;	/* a deadline interrupt before its deadline */

static u64 timer_latency(u32 n)
{
	u32 i;

	wrmsr(X2APIC_LVT_TIMER, LVT_DEADLINE | TIMER_VECTOR);
	for (i = 0; i < n && !lost; i++) {
		u32 want = ticks + 1;
		u64 deadline = rdtsc() + 100 * tsc_per_us;

		wrmsr(MSR_TSC_DEADLINE, deadline);
		lost |= !spin_until(&ticks, want);
		early |= tick_tsc < deadline;
		op[i] = tick_tsc - deadline;
	}
	wrmsr(X2APIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	return median(op, i);
}

static u64 apic_timer_per_ms;

static u64 timer_periodic(u32 n)
{
	u64 last, t, end;
	u32 k = 0, seen;

	wrmsr(X2APIC_TDCR, 0xb);			/* divide by 1 */
	wrmsr(X2APIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
	seen = ticks;
	wrmsr(X2APIC_TMICT, apic_timer_per_ms / 2);	/* 500 us */
	last = rdtsc();
	end = last + (u64)n * tsc_per_ms + 1000 * tsc_per_ms;
	while (k < n) {
		t = rdtsc();
		if (ticks != seen) {
			/* the loop was away for this interrupt */
			op[k++] = t - last;
			seen = ticks;
		}
		last = t;
		if (t > end) {
			lost = true;
			break;
		}
	}
	wrmsr(X2APIC_TMICT, 0);
	wrmsr(X2APIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	return median(op, k);
}

/* STIMER0 one-shot at reference time 1, long past: it expires at once */
static u64 stimer(volatile u32 *count, u32 n)
{
	u32 i;

	for (i = 0; i < n && !lost; i++) {
		u32 want = *count + 1;
		u64 t0 = rdtsc();

		wrmsr(HV_STIMER0_CNT, 1);
		lost |= !spin_until(count, want);
		op[i] = rdtsc() - t0;
	}
	return median(op, i);
}

static u64 stimer_sint(u32 n)
{
	return stimer(&sints, n);
}

static u64 stimer_direct(u32 n)
{
	return stimer(&directs, n);
}

/* --- set-up --- */

void ap_main(u32 index)
{
	(void)index;
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	ap_online = 1;
	for (;;)
		asm volatile("sti; hlt; cli");
}

static void calibrate(void)
{
	u32 p0, ticks_10ms = PM_TIMER_HZ / 100;
	u64 t0;

	p0 = pm_timer();
	t0 = rdtsc();
	while (((pm_timer() - p0) & 0xffffff) < ticks_10ms)
		pause();
	tsc_per_ms = div64(rdtsc() - t0, 10, NULL);
	tsc_per_us = div64(tsc_per_ms, 1000, NULL) + 1;

	/* the APIC timer's rate, masked, dividing by 1 */
	wrmsr(X2APIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	wrmsr(X2APIC_TDCR, 0xb);
	wrmsr(X2APIC_TMICT, 0xffffffff);
	p0 = pm_timer();
	while (((pm_timer() - p0) & 0xffffff) < ticks_10ms)
		pause();
	apic_timer_per_ms = (0xffffffffu - (u32)rdmsr(X2APIC_TMCCT)) / 10;
	wrmsr(X2APIC_TMICT, 0);
}

static bool start_ap(void)
{
	memcpy((void *)AP_TRAMPOLINE, ap_tramp, ap_tramp_end - ap_tramp);
	apic_icr(1, 0x4500);				/* INIT */
	pm_delay_us(10000);
	apic_icr(1, 0x4600 | (AP_TRAMPOLINE >> 12));	/* SIPI */
	pm_delay_us(200);
	apic_icr(1, 0x4600 | (AP_TRAMPOLINE >> 12));
	return ok(wait_for(&ap_online, 3000000), "vCPU 1 started");
}

/* the Hyper-V interface: "Hv#1" at CPUID 0x40000001 (TLFS 2.4) */
static bool hyperv(void)
{
	u32 a, b, c, d;

	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (a < 0x40000005)
		return false;
	cpuid(0x40000001, 0, &a, &b, &c, &d);
	return a == 0x31237648;
}

static void bench_synic(void)
{
	struct hv_message *m = (struct hv_message *)(simp + SINT * 256);

	wrmsr(HV_GUEST_OS_ID, 0x8100000000000000ull);	/* "open source" */
	wrmsr(HV_SIMP, (ulong)simp | 1);
	wrmsr(HV_SCONTROL, 1);
	m->type = 0;

	wrmsr(HV_SINT0 + SINT, SINT_VECTOR | HV_SINT_AUTOEOI);
	eoi_sint = false;
	wrmsr(HV_STIMER0_CFG, (u64)SINT << 16 | HV_ST_AUTOENABLE);
	measure("synic_autoeoi", "irq", stimer_sint, 256);

	wrmsr(HV_SINT0 + SINT, SINT_VECTOR);
	eoi_sint = true;
	measure("synic_eoi", "irq", stimer_sint, 256);

	wrmsr(HV_STIMER0_CFG, HV_ST_DIRECT | DIRECT_VECTOR << 4 |
	      HV_ST_AUTOENABLE);
	measure("stimer_direct", "irq", stimer_direct, 256);
	wrmsr(HV_STIMER0_CFG, 0);

	ok(!lost, "SynIC: every timer interrupt came");
	ok(!bad_msgs, "SynIC: every message was a timer expiry");
	ok(!(rdmsr(HV_SINT0 + SINT) & HV_SINT_AUTOEOI),
	   "SynIC: the SINT reads back");
}

void test_main(void)
{
	u32 a, b, c, d;

	set_isr(PING_VECTOR, ping_isr);
	set_isr(PONG_VECTOR, pong_isr);
	set_isr(SELF_VECTOR, self_isr);
	set_isr(TIMER_VECTOR, timer_isr);
	set_isr(SINT_VECTOR, sint_isr);
	set_isr(DIRECT_VECTOR, direct_isr);
	apic_enable();
	if (!start_ap())
		return;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!ok(c & (1u << 21), "CPUID: x2APIC"))
		return;
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
	calibrate();
	have_exits = exits() != 0xffffffff;
	diag("%llu TSC cycles/ms, APIC timer %llu/ms, exit counter %s",
	     tsc_per_ms, apic_timer_per_ms, have_exits ? "present" : "absent");
	sti();

	measure("ipi_rt", "rt", ipi_rt, 200);
	ok(!lost, "every IPI came back");
	measure("self_ipi", "irq", self_ipi, 256);
	ok(!lost, "every self-IPI came");
	if (c & (1u << 24)) {
		measure("timer_latency", "irq", timer_latency, 64);
		ok(!lost && !early,
		   "TSC-deadline: every interrupt came, none early");
	} else {
		diag("no TSC-deadline timer");
	}
	measure("timer_periodic", "irq", timer_periodic, 64);
	ok(!lost, "periodic timer: interrupts came");
	if (hyperv())
		bench_synic();
	else
		diag("no Hyper-V interface (--hyperv): no SynIC figures");
}
