// SPDX-License-Identifier: GPL-2.0
/*
 * The PC's 8254 programmable interval timer (ports 0x40-0x43) and the bits
 * of port 0x61 that belong to it.  Counters are not stepped: a counter's
 * value and its OUT pin are computed from the time its count was loaded,
 * at 1.193182 MHz on the host's monotonic clock.  The only host work is an
 * hrtimer at each rising edge of counter 0's OUT, which pulses GSI 0.
 * Counter 1 (DRAM refresh on a PC) counts but drives nothing; counter 2's
 * GATE and OUT are bits 0 and 5 of port 0x61.  See
 * Documentation/interrupts.rst.
 */
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>

#include "shv.h"
#include "irq.h"

#define PIT_HZ			1193182u
/* the fastest interrupt rate a guest gets from counter 0: 10 kHz */
#define PIT_MIN_PERIOD_NS	100000ull
/* port 0x61 bit 4 toggles at every DRAM refresh, every 15.085 us */
#define PIT_REFRESH_NS		15085u

/* control word, port 0x43 */
#define PIT_CW_BCD		BIT(0)
#define PIT_CW_SC(v)		(((v) >> 6) & 3)
#define PIT_CW_RW(v)		(((v) >> 4) & 3)
#define PIT_CW_MODE(v)		(((v) >> 1) & 7)
#define PIT_SC_READBACK		3
#define PIT_RB_NOCOUNT		BIT(5)
#define PIT_RB_NOSTATUS		BIT(4)

/* read/write access (control word RW field); 0 is the latch command */
#define PIT_RW_LATCH		0
#define PIT_RW_LSB		1
#define PIT_RW_MSB		2
#define PIT_RW_WORD		3

/* status byte (read-back command) */
#define PIT_ST_OUT		BIT(7)
#define PIT_ST_NULL		BIT(6)

/* port 0x61 */
#define PIT_P61_GATE2		BIT(0)
#define PIT_P61_SPEAKER		BIT(1)
#define PIT_P61_RW		(BIT(2) | BIT(3))	/* parity/IOCHK enables */
#define PIT_P61_REFRESH		BIT(4)
#define PIT_P61_OUT2		BIT(5)

struct shv_pit_channel {
	/* programming */
	u8 rw;			/* PIT_RW_LSB, _MSB or _WORD */
	u8 mode_bits;		/* M2..M0 as written */
	u8 mode;		/* 0..5 */
	bool bcd;
	bool gate;
	u32 reload;		/* count register, 1..0x10000; 0: none written */
	bool null_count;	/* reload not yet in the counting element */
	bool write_msb;		/* RW_WORD: the next write is the MSB */
	u8 write_lsb;
	/* reading */
	bool read_msb;		/* RW_WORD: the next plain read is the MSB */
	u8 latched;		/* bytes of a latched count left: an RW code */
	u16 latch;
	bool status_latched;
	u8 status;
	/*
	 * Counting element.  While loaded, the counter has run for
	 * ticks(now - start) clocks if running, or ticks(elapsed_ns) if
	 * stopped by GATE; n is the count of this counting sequence.
	 * Before a count is loaded the counter reads hold.
	 */
	bool loaded;
	bool running;
	u32 n;
	ktime_t start;
	s64 elapsed_ns;
	u16 hold;
};

struct shv_pit {
	spinlock_t lock;	/* everything below; taken with irqs off */
	struct shv_irqchip *chip;
	struct shv_pit_channel ch[3];
	u8 port61;		/* GATE2 is ch[2].gate; this keeps bits 1-3 */
	ktime_t epoch;		/* for the refresh bit */
	/*
	 * Counter 0's OUT rising edges: the k-th (k >= 0) comes first + k *
	 * period clocks after ch[0].start (period 0: only k = 0).  When the
	 * period is too short the edges are clamped to PIT_MIN_PERIOD_NS.
	 */
	struct hrtimer timer;
	bool armed;
	bool clamped;
	u64 first;
	u64 period;
	u64 k;
};

static u64 ns_to_ticks(s64 ns)
{
	if (ns <= 0)
		return 0;
	return mul_u64_u32_div(ns, PIT_HZ, NSEC_PER_SEC);
}

/* the earliest time, in ns, at which ns_to_ticks() reaches ticks */
static u64 ticks_to_ns(u64 ticks)
{
	return mul_u64_u32_div(ticks, NSEC_PER_SEC, PIT_HZ) + 1;
}

static u32 pit_modulus(const struct shv_pit_channel *c)
{
	return c->bcd ? 10000 : 0x10000;
}

static u16 bcd_to_bin(u16 v)
{
	return (v >> 12) * 1000 + ((v >> 8) & 0xf) * 100 +
	       ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

static u16 bin_to_bcd(u32 v)
{
	return (v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 |
	       v % 10;
}

/* clocks counted in the current counting sequence */
static u64 pit_ticks(const struct shv_pit_channel *c, ktime_t now)
{
	if (c->running)
		return ns_to_ticks(ktime_to_ns(ktime_sub(now, c->start)));
	return ns_to_ticks(c->elapsed_ns);
}

/* the counting element, as the counter would be read */
static u16 pit_value(const struct shv_pit_channel *c, ktime_t now)
{
	u32 m = pit_modulus(c), n = c->n, j, h, v;
	u64 d;

	if (!c->loaded)
		return c->hold;
	d = pit_ticks(c, now);
	switch (c->mode) {
	case 2:
		/* n, n - 1, ..., 1, reload */
		v = n - do_div(d, n);
		break;
	case 3:
		/*
		 * Down by two per clock, OUT flipping at each reload.  An
		 * odd count loses one on the first clock of the high half
		 * and three on the first of the low half, so the high
		 * half lasts (n + 1) / 2 clocks and the low half the rest.
		 */
		j = do_div(d, n);
		h = (n + 1) / 2;
		if (!(n & 1))
			v = n - 2 * (j % h);
		else if (j < h)
			v = j ? n + 1 - 2 * j : n;
		else
			v = j > h ? n - 1 - 2 * (j - h) : n;
		break;
	default:
		/* modes 0, 1, 4, 5 count down and wrap */
		v = n + m - do_div(d, m);
		break;
	}
	v %= m;
	return c->bcd ? bin_to_bcd(v) : v;
}

static bool pit_out(const struct shv_pit_channel *c, ktime_t now)
{
	u64 d;
	u32 j;

	/* after the control word: mode 0 low, the others high */
	if (!c->loaded)
		return c->mode != 0;
	d = pit_ticks(c, now);
	switch (c->mode) {
	case 0:		/* interrupt on terminal count */
	case 1:		/* hardware retriggerable one-shot */
		return d >= c->n;
	case 2:		/* rate generator: low for the clock at count 1 */
		j = do_div(d, c->n);
		return !c->gate || j != c->n - 1;
	case 3:		/* square wave */
		j = do_div(d, c->n);
		return !c->gate || j < (c->n + 1) / 2;
	default:	/* 4, 5: strobes, low for the clock at count 0 */
		return d != c->n;
	}
}

static u8 pit_status(const struct shv_pit_channel *c, ktime_t now)
{
	return (pit_out(c, now) ? PIT_ST_OUT : 0) |
	       (c->null_count ? PIT_ST_NULL : 0) |
	       c->rw << 4 | c->mode_bits << 1 | (c->bcd ? PIT_CW_BCD : 0);
}

/* start a counting sequence with the count register */
static void pit_start(struct shv_pit_channel *c, ktime_t now, bool run)
{
	c->n = c->reload;
	c->null_count = false;
	c->loaded = true;
	c->running = run;
	c->start = now;
	c->elapsed_ns = 0;
}

/* when the counter 0 edge k is due */
static ktime_t pit_edge_time(struct shv_pit *pit, u64 k)
{
	u64 ns;

	if (pit->clamped)
		ns = ticks_to_ns(pit->first) + k * PIT_MIN_PERIOD_NS;
	else
		ns = ticks_to_ns(pit->first + k * pit->period);
	return ktime_add_ns(pit->ch[0].start, ns);
}

/* (re)arm the timer for counter 0's first OUT rising edge after a start */
static void pit_timer_update(struct shv_pit *pit)
{
	struct shv_pit_channel *c = &pit->ch[0];

	lockdep_assert_held(&pit->lock);
	pit->armed = c->loaded && c->running;
	if (!pit->armed) {
		/* a callback already running sees !armed and does nothing */
		hrtimer_try_to_cancel(&pit->timer);
		return;
	}
	pit->period = 0;
	switch (c->mode) {
	case 0:
	case 1:
		pit->first = c->n;
		break;
	case 2:
	case 3:
		pit->first = c->n;
		pit->period = c->n;
		break;
	default:
		pit->first = c->n + 1;
		break;
	}
	pit->clamped = pit->period &&
		       ticks_to_ns(pit->period) < PIT_MIN_PERIOD_NS;
	pit->k = 0;
	hrtimer_start(&pit->timer, pit_edge_time(pit, 0), HRTIMER_MODE_ABS);
}

static enum hrtimer_restart pit_timer_fn(struct hrtimer *timer)
{
	struct shv_pit *pit = container_of(timer, struct shv_pit, timer);
	enum hrtimer_restart ret = HRTIMER_NORESTART;
	unsigned long flags;
	ktime_t now, next;
	bool fire = false;
	u64 k, d;

	spin_lock_irqsave(&pit->lock, flags);
	/* stopped, or restarted with a new expiry since this one was due */
	if (!pit->armed || hrtimer_is_queued(timer))
		goto out;
	fire = true;
	if (!pit->period) {
		pit->armed = false;
		goto out;
	}
	/*
	 * The next edge, counted from the start so that the edges never
	 * drift from the counter; edges already past are merged into this
	 * one.
	 */
	now = ktime_get();
	k = pit->k + 1;
	if (ktime_compare(pit_edge_time(pit, k), now) <= 0) {
		d = ktime_to_ns(ktime_sub(now, pit->ch[0].start));
		if (pit->clamped)
			d = div64_u64(d - ticks_to_ns(pit->first),
				      PIT_MIN_PERIOD_NS);
		else
			d = div64_u64(ns_to_ticks(d) - pit->first,
				      pit->period);
		k = max(k, d + 1);
		while (ktime_compare(pit_edge_time(pit, k), now) <= 0)
			k++;
	}
	next = pit_edge_time(pit, k);
	pit->k = k;
	hrtimer_set_expires(timer, next);
	ret = HRTIMER_RESTART;
out:
	spin_unlock_irqrestore(&pit->lock, flags);
	/* OUT is wired to IRQ 0, edge-triggered: one pulse per rising edge */
	if (fire) {
		shv_irq_set_line(pit->chip->vm, 0, true);
		shv_irq_set_line(pit->chip->vm, 0, false);
	}
	return ret;
}

static void pit_load(struct shv_pit *pit, struct shv_pit_channel *c, u16 raw,
		     ktime_t now)
{
	u32 n = c->bcd ? bcd_to_bin(raw) : raw;

	c->reload = n ? n : pit_modulus(c);
	c->null_count = true;
	/*
	 * Modes 1 and 5 wait for a rising edge of GATE.  The others load
	 * the count at once (a new count in modes 2 and 3 restarts the
	 * period rather than waiting for the current one to end) and count
	 * while GATE is high.
	 */
	if (c->mode == 1 || c->mode == 5)
		return;
	pit_start(c, now, c->gate);
	if (c == &pit->ch[0])
		pit_timer_update(pit);
}

static void pit_set_gate(struct shv_pit_channel *c, bool gate, ktime_t now)
{
	bool rising = gate && !c->gate;

	if (gate == c->gate)
		return;
	c->gate = gate;
	switch (c->mode) {
	case 0:
	case 4:
		/* GATE low suspends counting */
		if (!c->loaded)
			break;
		if (gate) {
			c->start = ktime_sub_ns(now, c->elapsed_ns);
		} else {
			c->elapsed_ns = ktime_to_ns(ktime_sub(now, c->start));
			if (c->elapsed_ns < 0)
				c->elapsed_ns = 0;
		}
		c->running = gate;
		break;
	case 2:
	case 3:
		/* low suspends counting (OUT high), a rising edge reloads */
		if (!c->loaded)
			break;
		if (rising) {
			pit_start(c, now, true);
		} else {
			c->elapsed_ns = ktime_to_ns(ktime_sub(now, c->start));
			c->running = false;
		}
		break;
	default:
		/* 1, 5: a rising edge (re)starts the count */
		if (rising && c->reload)
			pit_start(c, now, true);
		break;
	}
}

static void pit_latch_count(struct shv_pit_channel *c, ktime_t now)
{
	/* a second latch before the first is read is ignored */
	if (c->latched)
		return;
	c->latch = pit_value(c, now);
	c->latched = c->rw;
}

static void pit_control(struct shv_pit *pit, u8 val, ktime_t now)
{
	struct shv_pit_channel *c;
	int i;

	if (PIT_CW_SC(val) == PIT_SC_READBACK) {
		for (i = 0; i < 3; i++) {
			c = &pit->ch[i];
			if (!(val & BIT(i + 1)))
				continue;
			if (!(val & PIT_RB_NOCOUNT))
				pit_latch_count(c, now);
			if (!(val & PIT_RB_NOSTATUS) && !c->status_latched) {
				c->status = pit_status(c, now);
				c->status_latched = true;
			}
		}
		return;
	}
	c = &pit->ch[PIT_CW_SC(val)];
	if (PIT_CW_RW(val) == PIT_RW_LATCH) {
		pit_latch_count(c, now);
		return;
	}
	/* a new mode: the counter stops until a count is written */
	c->hold = pit_value(c, now);
	c->loaded = false;
	c->running = false;
	c->reload = 0;
	c->null_count = true;
	c->rw = PIT_CW_RW(val);
	c->mode_bits = PIT_CW_MODE(val);
	c->mode = c->mode_bits > 5 ? c->mode_bits & 3 : c->mode_bits;
	c->bcd = val & PIT_CW_BCD;
	c->write_msb = false;
	c->read_msb = false;
	if (c == &pit->ch[0])
		pit_timer_update(pit);
}

static u8 pit_read(struct shv_pit_channel *c, ktime_t now)
{
	u16 v;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latched) {
		v = c->latch;
		switch (c->latched) {
		case PIT_RW_LSB:
			c->latched = 0;
			return v;
		case PIT_RW_MSB:
			c->latched = 0;
			return v >> 8;
		default:
			c->latched = PIT_RW_MSB;
			return v;
		}
	}
	v = pit_value(c, now);
	switch (c->rw) {
	case PIT_RW_LSB:
		return v;
	case PIT_RW_MSB:
		return v >> 8;
	default:
		if (c->read_msb) {
			c->read_msb = false;
			return v >> 8;
		}
		c->read_msb = true;
		return v;
	}
}

static void pit_write(struct shv_pit *pit, struct shv_pit_channel *c, u8 val,
		      ktime_t now)
{
	switch (c->rw) {
	case PIT_RW_LSB:
		pit_load(pit, c, val, now);
		break;
	case PIT_RW_MSB:
		pit_load(pit, c, val << 8, now);
		break;
	default:
		if (!c->write_msb) {
			c->write_lsb = val;
			c->write_msb = true;
		} else {
			c->write_msb = false;
			pit_load(pit, c, c->write_lsb | val << 8, now);
		}
		break;
	}
}

static u8 pit_port61(struct shv_pit *pit, ktime_t now)
{
	struct shv_pit_channel *c = &pit->ch[2];
	u64 refresh = div_u64(ktime_to_ns(ktime_sub(now, pit->epoch)),
			      PIT_REFRESH_NS);

	return pit->port61 | (c->gate ? PIT_P61_GATE2 : 0) |
	       (refresh & 1 ? PIT_P61_REFRESH : 0) |
	       (pit_out(c, now) ? PIT_P61_OUT2 : 0);
}

bool shv_pit_pio(struct shv_pit *pit, u16 port, bool in, u8 *val)
{
	unsigned long flags;
	ktime_t now;

	if ((port < 0x40 || port > 0x43) && port != 0x61)
		return false;

	spin_lock_irqsave(&pit->lock, flags);
	now = ktime_get();
	if (port == 0x61) {
		if (in) {
			*val = pit_port61(pit, now);
		} else {
			pit->port61 = *val & (PIT_P61_SPEAKER | PIT_P61_RW);
			pit_set_gate(&pit->ch[2], *val & PIT_P61_GATE2, now);
		}
	} else if (port == 0x43) {
		/* the control word register is write-only */
		if (in)
			*val = 0;
		else
			pit_control(pit, *val, now);
	} else if (in) {
		*val = pit_read(&pit->ch[port - 0x40], now);
	} else {
		pit_write(pit, &pit->ch[port - 0x40], *val, now);
	}
	spin_unlock_irqrestore(&pit->lock, flags);
	return true;
}

struct shv_pit *shv_pit_create(struct shv_irqchip *chip)
{
	struct shv_pit *pit = kzalloc(sizeof(*pit), GFP_KERNEL_ACCOUNT);
	int i;

	if (!pit)
		return NULL;
	spin_lock_init(&pit->lock);
	pit->chip = chip;
	pit->epoch = ktime_get();
	hrtimer_init(&pit->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	pit->timer.function = pit_timer_fn;
	/*
	 * Unprogrammed counters do not count (no IRQ 0 before the guest
	 * programs counter 0).  GATE is high for counters 0 and 1, wired so
	 * on a PC, and low for counter 2 until port 0x61 bit 0 is set.
	 */
	for (i = 0; i < 3; i++) {
		pit->ch[i].rw = PIT_RW_WORD;
		pit->ch[i].mode_bits = 3;
		pit->ch[i].mode = 3;
		pit->ch[i].gate = i != 2;
		pit->ch[i].null_count = true;
	}
	return pit;
}

void shv_pit_destroy(struct shv_pit *pit)
{
	unsigned long flags;

	if (!pit)
		return;
	spin_lock_irqsave(&pit->lock, flags);
	pit->armed = false;
	spin_unlock_irqrestore(&pit->lock, flags);
	/* waits for a running callback, and cancels a re-armed one */
	hrtimer_cancel(&pit->timer);
	kfree(pit);
}
