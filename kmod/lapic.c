// SPDX-License-Identifier: GPL-2.0
/*
 * The local APIC of a vCPU: xAPIC registers through MMIO at the APIC base,
 * x2APIC through MSRs 0x800-0x8ff, TPR/PPR with CR8, IRR/ISR/TMR and
 * priority arbitration, the LVT, the timer (one-shot, periodic and
 * TSC-deadline on an hrtimer), IPIs in every delivery and destination
 * mode and shorthand, NMI, INIT and SIPI.
 *
 * IRR is a bitmap changed with atomic bit operations from any context (a
 * timer, another vCPU, an IOAPIC); everything else is under lapic->lock,
 * which is IRQ-safe.  After posting an interrupt the sender kicks the
 * vCPU; the vCPU looks at IRR with IRQs off right before entry, after it
 * has announced it is entering (see vcpu.c), so nothing is missed.
 *
 * Interrupts whose vector is in auto_eoi are acknowledged without entering
 * the in-service register (Hyper-V SynIC AutoEOI).  shv_lapic_eoi_vector()
 * ends one named in-service vector that need not be the highest
 * (selective EOI); both are described in Documentation/interrupts.rst.
 */
#include <linux/hrtimer.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/bitmap.h>
#include <linux/ktime.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "shv.h"
#include "arch.h"
#include "irq.h"

#define APIC_REG_ID	0x20
#define APIC_REG_VER	0x30
#define APIC_REG_TPR	0x80
#define APIC_REG_APR	0x90
#define APIC_REG_PPR	0xa0
#define APIC_REG_EOI	0xb0
#define APIC_REG_RRD	0xc0
#define APIC_REG_LDR	0xd0
#define APIC_REG_DFR	0xe0
#define APIC_REG_SVR	0xf0
#define APIC_REG_ISR	0x100
#define APIC_REG_TMR	0x180
#define APIC_REG_IRR	0x200
#define APIC_REG_ESR	0x280
#define APIC_REG_LVT_CMCI 0x2f0
#define APIC_REG_ICR	0x300
#define APIC_REG_ICR2	0x310
#define APIC_REG_LVT0	0x320	/* timer; the LVT runs to 0x370 */
#define APIC_REG_LVT_ERR 0x370
#define APIC_REG_TMICT	0x380
#define APIC_REG_TMCCT	0x390
#define APIC_REG_TDCR	0x3e0
#define APIC_REG_SELF_IPI 0x3f0	/* x2APIC only */

enum {
	LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
	LVT_CMCI, LVT_NR
};

#define LVT_MASKED	BIT(16)
#define LVT_TIMER_MODE	GENMASK(18, 17)
#define LVT_ONESHOT	0
#define LVT_PERIODIC	BIT(17)
#define LVT_DEADLINE	BIT(18)
#define LVT_LEVEL	BIT(15)
#define LVT_REMOTE_IRR	BIT(14)
#define LVT_DM(v)	(((v) >> 8) & 7)

#define SVR_ENABLE	BIT(8)
#define ESR_SEND_ILLEGAL BIT(5)
#define ESR_RECV_ILLEGAL BIT(6)

#define APIC_BASE_ENABLE BIT_ULL(11)
#define APIC_BASE_EXTD	 BIT_ULL(10)

/* the APIC timer counts in 1 ns bus cycles (a 1 GHz bus, as KVM's) */
#define APIC_BUS_NS	1

struct shv_lapic {
	struct shv_vcpu *vcpu;
	spinlock_t lock;		/* all but irr */
	DECLARE_BITMAP(irr, 256);
	DECLARE_BITMAP(isr, 256);
	DECLARE_BITMAP(tmr, 256);
	DECLARE_BITMAP(auto_eoi, 256);
	u32 id, ldr, dfr, svr, tpr, esr, esr_pending;
	u32 lvt[LVT_NR];
	u32 icr, icr2, tmict, tdcr;
	struct hrtimer timer;
	ktime_t timer_start;
	u64 period_ns;
	u64 tsc_deadline;
	bool extint_pending;
};

static inline struct shv_lapic *lapic(struct shv_vcpu *vcpu)
{
	return vcpu->lapic;
}

static bool x2apic(struct shv_vcpu *vcpu)
{
	return vcpu->apic_base & APIC_BASE_EXTD;
}

static bool hw_enabled(struct shv_vcpu *vcpu)
{
	return vcpu->apic_base & APIC_BASE_ENABLE;
}

static bool sw_enabled(struct shv_lapic *a)
{
	return a->svr & SVR_ENABLE;
}

static int highest(const unsigned long *map)
{
	int v = find_last_bit(map, 256);

	return v < 256 ? v : -1;
}

static u32 ppr(struct shv_lapic *a)
{
	int isrv = highest(a->isr);
	u32 isr_class = isrv >= 0 ? (isrv & 0xf0) : 0;

	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

/* --- delivery into this APIC --- */

static void set_irr(struct shv_lapic *a, u8 vector, bool level);

/* an APIC error: latch it for ESR and signal it through LVT error */
static void apic_error(struct shv_lapic *a, u32 bit)
{
	u32 lvt = a->lvt[LVT_ERROR];

	a->esr_pending |= bit;
	if (!(lvt & LVT_MASKED) && (lvt & 0xff) >= 16)
		set_irr(a, lvt & 0xff, false);
}

static void set_irr(struct shv_lapic *a, u8 vector, bool level)
{
	unsigned long flags;

	if (vector < 16) {
		spin_lock_irqsave(&a->lock, flags);
		apic_error(a, ESR_RECV_ILLEGAL);
		spin_unlock_irqrestore(&a->lock, flags);
		return;
	}
	if (level)
		set_bit(vector, a->tmr);
	else
		clear_bit(vector, a->tmr);
	set_bit(vector, a->irr);
	shv_vcpu_kick(a->vcpu);
}

void shv_lapic_accept(struct shv_vcpu *vcpu, const struct shv_irq_msg *msg)
{
	struct shv_lapic *a = lapic(vcpu);

	if (!a)
		return;
	switch (msg->delivery) {
	case SHV_DM_FIXED:
	case SHV_DM_LOWEST:
		if (hw_enabled(vcpu) && sw_enabled(a))
			set_irr(a, msg->vector, msg->level_trig);
		break;
	case SHV_DM_NMI:
		WRITE_ONCE(vcpu->nmi_pending, true);
		shv_vcpu_kick(vcpu);
		break;
	case SHV_DM_INIT:
		/* the level de-assert INIT of old SMP boot code is a no-op */
		if (msg->level_trig && !msg->assert)
			break;
		set_bit(SHV_EVENT_INIT, &vcpu->events);
		shv_vcpu_kick(vcpu);
		break;
	case SHV_DM_SIPI:
		/* waiting for it, or about to (an INIT not yet processed) */
		if (READ_ONCE(vcpu->mp_state) == SHV_MP_WAIT_SIPI ||
		    test_bit(SHV_EVENT_INIT, &vcpu->events)) {
			WRITE_ONCE(vcpu->sipi_vector, msg->vector);
			set_bit(SHV_EVENT_SIPI, &vcpu->events);
			shv_vcpu_kick(vcpu);
		}
		break;
	case SHV_DM_EXTINT:
		WRITE_ONCE(a->extint_pending, true);
		shv_vcpu_kick(vcpu);
		break;
	default:
		break;	/* SMI: not modelled */
	}
}

static u32 x2apic_ldr(u32 id)
{
	return ((id >> 4) << 16) | BIT(id & 0xf);
}

bool shv_lapic_match(struct shv_vcpu *vcpu, const struct shv_irq_msg *msg)
{
	struct shv_lapic *a = lapic(vcpu);
	u32 dest = msg->dest;

	if (!a || !hw_enabled(vcpu))
		return false;
	if (x2apic(vcpu)) {
		if (dest == 0xffffffff)
			return true;
		if (!msg->logical)
			return dest == a->id;
		return (dest >> 16) == (a->ldr >> 16) &&
		       (dest & a->ldr & 0xffff);
	}
	dest &= 0xff;
	if (!msg->logical)
		return dest == 0xff || dest == (a->id & 0xff);
	if (dest == 0xff)
		return true;
	if ((a->dfr >> 28) == 0xf)		/* flat model */
		return (a->ldr >> 24) & dest;
	/* cluster model: high nibble is the cluster, low the members */
	return ((a->ldr >> 28) == (dest >> 4)) &&
	       ((a->ldr >> 24) & dest & 0xf);
}

/* --- what the vCPU sees --- */

int shv_lapic_pending(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags;
	int v;

	if (!a)
		return -1;
	/* the PIC reaches the CPU through LINT0 in ExtINT mode */
	if (READ_ONCE(a->extint_pending) || shv_irq_extint_pending(vcpu))
		return SHV_EXTINT;
	/* a software-disabled APIC holds what it has */
	if (!hw_enabled(vcpu) || !sw_enabled(a))
		return -1;
	v = highest(a->irr);
	if (v < 0)
		return -1;
	spin_lock_irqsave(&a->lock, flags);
	if ((v & 0xf0) <= (ppr(a) & 0xf0))
		v = -1;
	spin_unlock_irqrestore(&a->lock, flags);
	return v;
}

/* the vector blocked only by TPR, for the hardware to watch; or -1 */
int shv_lapic_tpr_blocked(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);
	int v, isrv;

	if (!a || !hw_enabled(vcpu))
		return -1;
	v = highest(a->irr);
	isrv = highest(a->isr);
	if (v < 0 || (isrv >= 0 && (v & 0xf0) <= (isrv & 0xf0)))
		return -1;
	return v;
}

/* INTA: returns the vector to deliver */
int shv_lapic_ack(struct shv_vcpu *vcpu, int vector)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags;

	if (vector == SHV_EXTINT) {
		WRITE_ONCE(a->extint_pending, false);
		return shv_irq_extint_ack(vcpu->vm);
	}
	spin_lock_irqsave(&a->lock, flags);
	clear_bit(vector, a->irr);
	if (!test_bit(vector, a->auto_eoi))
		set_bit(vector, a->isr);
	spin_unlock_irqrestore(&a->lock, flags);
	return vector;
}

/* end one in-service vector; returns true when it was in service */
static bool eoi_vector(struct shv_lapic *a, int v)
	__must_hold(&a->lock)
{
	bool level;

	if (v < 0 || !test_bit(v, a->isr))
		return false;
	clear_bit(v, a->isr);
	level = test_bit(v, a->tmr);
	spin_unlock(&a->lock);
	if (level)
		shv_irq_eoi(a->vcpu->vm, v);
	spin_lock(&a->lock);
	return true;
}

static void eoi(struct shv_lapic *a)
{
	eoi_vector(a, highest(a->isr));
	shv_vcpu_kick(a->vcpu);	/* a lower vector may be deliverable */
}

/*
 * Selective EOI: end the named vector although a higher one may still be
 * in service.  PPR follows from the remaining ISR bits.
 */
bool shv_lapic_eoi_vector(struct shv_vcpu *vcpu, u8 vector)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags;
	bool r;

	if (!a)
		return false;
	spin_lock_irqsave(&a->lock, flags);
	r = eoi_vector(a, vector);
	spin_unlock_irqrestore(&a->lock, flags);
	shv_vcpu_kick(vcpu);
	return r;
}

void shv_lapic_set_auto_eoi(struct shv_vcpu *vcpu, u8 vector, bool on)
{
	struct shv_lapic *a = lapic(vcpu);

	if (!a)
		return;
	if (on)
		set_bit(vector, a->auto_eoi);
	else
		clear_bit(vector, a->auto_eoi);
}

void shv_lapic_post(struct shv_vcpu *vcpu, u8 vector)
{
	struct shv_lapic *a = lapic(vcpu);

	if (a && hw_enabled(vcpu) && sw_enabled(a))
		set_irr(a, vector, false);
}

void shv_lapic_set_cr8(struct shv_vcpu *vcpu, u64 cr8)
{
	struct shv_lapic *a = lapic(vcpu);

	if (a && (a->tpr >> 4) != (cr8 & 0xf))
		a->tpr = (cr8 & 0xf) << 4;
}

u64 shv_lapic_get_cr8(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);

	return a ? a->tpr >> 4 : 0;
}

/*
 * The whole TPR, for a processor that keeps a copy of it while the guest
 * runs (VMX's TPR shadow): loaded before each entry, stored after each
 * exit, on the vCPU's own thread, as CR8 is on SVM.
 */
u8 shv_lapic_get_tpr(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);

	return a ? a->tpr : 0;
}

void shv_lapic_set_tpr(struct shv_vcpu *vcpu, u8 tpr)
{
	struct shv_lapic *a = lapic(vcpu);

	if (a)
		a->tpr = tpr;
}

/* --- virtual-interrupt delivery (VMX) --- */

/*
 * With virtual-interrupt delivery the processor delivers interrupts from
 * a register page laid out as the APIC's (the virtual-APIC page): it
 * moves the highest vector of its IRR (RVI) into its ISR when PPR and
 * RFLAGS.IF allow, and an EOI clears the highest ISR bit (SVI), both
 * without exits.  This APIC stays the state's owner: right before an
 * entry the vCPU moves its IRR into the page and copies ISR, TPR and PPR
 * there; right after the exit it takes IRR and ISR back.  Both run on
 * the vCPU's thread with IRQs off, so between an exit and the next entry
 * every register reads as on hardware.  See Documentation/vmx.rst.
 */
#define VAPIC_REG32(page, reg, i) \
	((u32 *)((u8 *)(page) + (reg) + (i) * 0x10))

/*
 * Whether the processor may deliver this APIC's interrupts itself: not
 * while the APIC is disabled (its IRR waits), nor while any vector has
 * AutoEOI (the hardware would put it in service; KVM turns APICv off for
 * Hyper-V AutoEOI for the same reason).
 */
bool shv_lapic_vid_usable(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);

	return a && hw_enabled(vcpu) && sw_enabled(a) &&
	       bitmap_empty(a->auto_eoi, 256);
}

/*
 * Before entry: IRR (all of it when load_irr, else none) moves into the
 * page, ISR, TPR and PPR are copied; *rvi and *svi get the highest
 * vectors of the page's IRR and ISR (0 for none).  An interrupt posted
 * after the move sets IRR here and kicks the vCPU out of the guest.
 */
void shv_lapic_vid_enter(struct shv_vcpu *vcpu, void *page, bool load_irr,
			 u8 *rvi, u8 *svi)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags, w;
	unsigned int i;
	int v;

	BUILD_BUG_ON(BITS_PER_LONG != 64);
	*rvi = 0;
	for (i = 0; i < 4; i++) {
		w = load_irr ? xchg(&a->irr[i], 0) : 0;
		*VAPIC_REG32(page, APIC_REG_IRR, 2 * i) = w;
		*VAPIC_REG32(page, APIC_REG_IRR, 2 * i + 1) = w >> 32;
		if (w)
			*rvi = i * 64 + __fls(w);
	}
	spin_lock_irqsave(&a->lock, flags);
	for (i = 0; i < 4; i++) {
		*VAPIC_REG32(page, APIC_REG_ISR, 2 * i) = a->isr[i];
		*VAPIC_REG32(page, APIC_REG_ISR, 2 * i + 1) = a->isr[i] >> 32;
	}
	v = highest(a->isr);
	*svi = v >= 0 ? v : 0;
	*VAPIC_REG32(page, APIC_REG_TPR, 0) = a->tpr;
	*VAPIC_REG32(page, APIC_REG_PPR, 0) = ppr(a);
	spin_unlock_irqrestore(&a->lock, flags);
}

/* after the exit: what the processor left in IRR and ISR */
void shv_lapic_vid_exit(struct shv_vcpu *vcpu, const void *page)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags, w;
	unsigned int i, b;

	for (i = 0; i < 4; i++) {
		w = *VAPIC_REG32(page, APIC_REG_IRR, 2 * i) |
		    (u64)*VAPIC_REG32(page, APIC_REG_IRR, 2 * i + 1) << 32;
		for_each_set_bit(b, &w, BITS_PER_LONG)
			set_bit(i * BITS_PER_LONG + b, a->irr);
	}
	spin_lock_irqsave(&a->lock, flags);
	for (i = 0; i < 4; i++)
		a->isr[i] = *VAPIC_REG32(page, APIC_REG_ISR, 2 * i) |
			    (u64)*VAPIC_REG32(page, APIC_REG_ISR, 2 * i + 1) <<
			    32;
	spin_unlock_irqrestore(&a->lock, flags);
}

/*
 * The vectors whose EOI must exit (the EOI-exit bitmap): those accepted
 * level-triggered (TMR), whose EOI goes on to the IOAPIC.  Read after
 * shv_lapic_vid_enter() took IRR: a sender sets TMR before IRR.
 */
void shv_lapic_eoi_exits(struct shv_vcpu *vcpu, u64 bitmap[4])
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned int i;

	for (i = 0; i < 4; i++)
		bitmap[i] = READ_ONCE(a->tmr[i]);
}

/* an EOI the processor did (the ISR bit is clear), that had to exit */
void shv_lapic_vid_eoi(struct shv_vcpu *vcpu, u8 vector)
{
	struct shv_lapic *a = lapic(vcpu);

	vcpu->stats.eoi_exits++;
	if (a && test_bit(vector, a->tmr))
		shv_irq_eoi(vcpu->vm, vector);
}

/* --- the timer --- */

static u32 timer_divide(u32 tdcr)
{
	u32 v = (tdcr & 3) | ((tdcr & 8) >> 1);

	return v == 7 ? 1 : 2u << v;
}

static void timer_fire(struct shv_lapic *a)
{
	u32 lvt = a->lvt[LVT_TIMER];

	if (!(lvt & LVT_MASKED))
		set_irr(a, lvt & 0xff, false);
}

static enum hrtimer_restart timer_expired(struct hrtimer *t)
{
	struct shv_lapic *a = container_of(t, struct shv_lapic, timer);
	bool periodic;

	spin_lock(&a->lock);
	periodic = (a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_PERIODIC &&
		   a->period_ns;
	if ((a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_DEADLINE)
		a->tsc_deadline = 0;
	timer_fire(a);
	if (periodic) {
		/* advance by whole periods: no drift */
		hrtimer_forward(t, hrtimer_get_expires(t),
				ns_to_ktime(a->period_ns));
		a->timer_start = ktime_sub_ns(hrtimer_get_expires(t),
					      a->period_ns);
	}
	spin_unlock(&a->lock);
	return periodic ? HRTIMER_RESTART : HRTIMER_NORESTART;
}

/* (re)start the count-down timer from TMICT; lock held */
static void timer_start(struct shv_lapic *a)
{
	hrtimer_try_to_cancel(&a->timer);
	a->period_ns = (u64)a->tmict * timer_divide(a->tdcr) * APIC_BUS_NS;
	a->timer_start = ktime_get();
	if (!a->tmict || (a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_DEADLINE)
		return;
	/* keep periodic timers from flooding the host */
	if ((a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_PERIODIC)
		a->period_ns = max_t(u64, a->period_ns, 50 * NSEC_PER_USEC);
	hrtimer_start(&a->timer, ktime_add_ns(a->timer_start, a->period_ns),
		      HRTIMER_MODE_ABS);
}

static u32 timer_current(struct shv_lapic *a)
{
	u64 elapsed, per;

	if (!a->tmict || !a->period_ns ||
	    (a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_DEADLINE)
		return 0;
	elapsed = ktime_to_ns(ktime_sub(ktime_get(), a->timer_start));
	per = a->period_ns;
	if ((a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_PERIODIC)
		elapsed %= per;
	else if (elapsed >= per)
		return 0;
	return div64_u64((per - elapsed), timer_divide(a->tdcr) * APIC_BUS_NS);
}

static u64 guest_tsc(struct shv_vcpu *vcpu)
{
	u64 tsc = 0;

	shv_get_msr(vcpu, MSR_IA32_TSC, &tsc, true);
	return tsc;
}

static void set_tsc_deadline(struct shv_lapic *a, u64 deadline)
{
	u64 now, ns;

	/* ignored unless the timer is in TSC-deadline mode */
	if ((a->lvt[LVT_TIMER] & LVT_TIMER_MODE) != LVT_DEADLINE)
		return;
	hrtimer_try_to_cancel(&a->timer);
	a->tsc_deadline = deadline;
	if (!deadline)
		return;
	now = guest_tsc(a->vcpu);
	if (deadline <= now || !tsc_khz) {
		a->tsc_deadline = 0;
		timer_fire(a);
		return;
	}
	ns = mul_u64_u32_div(deadline - now, 1000000, tsc_khz);
	hrtimer_start(&a->timer, ktime_add_ns(ktime_get(), ns),
		      HRTIMER_MODE_ABS);
}

/* --- IPIs --- */

static void send_ipi(struct shv_lapic *a)
	__must_hold(&a->lock)
{
	struct shv_irq_msg msg = {
		.vector = a->icr & 0xff,
		.delivery = (a->icr >> 8) & 7,
		.logical = a->icr & BIT(11),
		.assert = a->icr & BIT(14),
		.level_trig = a->icr & BIT(15),
		.shorthand = (a->icr >> 18) & 3,
		.dest = x2apic(a->vcpu) ? a->icr2 : a->icr2 >> 24,
	};

	if ((msg.delivery == SHV_DM_FIXED || msg.delivery == SHV_DM_LOWEST) &&
	    msg.vector < 16) {
		apic_error(a, ESR_SEND_ILLEGAL);
		return;
	}
	spin_unlock(&a->lock);
	shv_irq_deliver(a->vcpu->vm, &msg, a->vcpu);
	spin_lock(&a->lock);
}

/* --- register access --- */

static u32 lvt_reg_index(u32 reg)
{
	if (reg == APIC_REG_LVT_CMCI)
		return LVT_CMCI;
	return (reg - APIC_REG_LVT0) >> 4;
}

static bool reg_read(struct shv_lapic *a, u32 reg, u32 *val)
{
	struct shv_vcpu *vcpu = a->vcpu;

	switch (reg) {
	case APIC_REG_ID:
		*val = x2apic(vcpu) ? a->id : a->id << 24;
		break;
	case APIC_REG_VER:
		/* version 0x14, six LVT entries after the first */
		*val = 0x14 | ((LVT_NR - 1) << 16);
		break;
	case APIC_REG_TPR:
		*val = a->tpr;
		break;
	case APIC_REG_APR:
		*val = 0;
		break;
	case APIC_REG_PPR:
		*val = ppr(a);
		break;
	case APIC_REG_LDR:
		*val = a->ldr;
		break;
	case APIC_REG_DFR:
		if (x2apic(vcpu))
			return false;
		*val = a->dfr;
		break;
	case APIC_REG_SVR:
		*val = a->svr;
		break;
	case APIC_REG_ISR ... APIC_REG_IRR + 0x70: {
		/* ISR, TMR, IRR: eight 32-bit registers each */
		const unsigned long *map = reg >= APIC_REG_IRR ? a->irr :
					   reg >= APIC_REG_TMR ? a->tmr : a->isr;
		u32 base = (reg & 0x70) * 2, i;

		if (reg & 0xf)
			return false;
		*val = 0;
		for (i = 0; i < 32; i++)
			if (test_bit(base + i, map))
				*val |= BIT(i);
		break;
	}
	case APIC_REG_ESR:
		*val = a->esr;
		break;
	case APIC_REG_ICR:
		*val = a->icr & ~BIT(12);	/* delivery status: idle */
		break;
	case APIC_REG_ICR2:
		if (x2apic(vcpu))
			return false;
		*val = a->icr2;
		break;
	case APIC_REG_LVT_CMCI:
	case APIC_REG_LVT0 ... APIC_REG_LVT_ERR:
		if (reg & 0xf)
			return false;
		*val = a->lvt[lvt_reg_index(reg)];
		break;
	case APIC_REG_TMICT:
		*val = a->tmict;
		break;
	case APIC_REG_TMCCT:
		*val = timer_current(a);
		break;
	case APIC_REG_TDCR:
		*val = a->tdcr;
		break;
	default:
		return false;
	}
	return true;
}

static const u32 lvt_valid[LVT_NR] = {
	[LVT_TIMER]	= 0x700ff,	/* vector, mask, mode */
	[LVT_THERMAL]	= 0x107ff,
	[LVT_PERF]	= 0x107ff,
	[LVT_LINT0]	= 0x1a7ff,	/* vector, dm, polarity, trigger, mask */
	[LVT_LINT1]	= 0x1a7ff,
	[LVT_ERROR]	= 0x100ff,
	[LVT_CMCI]	= 0x107ff,
};

static bool reg_write(struct shv_lapic *a, u32 reg, u32 val)
{
	struct shv_vcpu *vcpu = a->vcpu;
	unsigned int i;
	u32 old;

	switch (reg) {
	case APIC_REG_ID:
		if (x2apic(vcpu))
			return false;
		a->id = val >> 24;
		break;
	case APIC_REG_TPR:
		a->tpr = val & 0xff;
		shv_vcpu_kick(vcpu);
		break;
	case APIC_REG_EOI:
		if (x2apic(vcpu) && val)
			return false;	/* #GP */
		eoi(a);
		break;
	case APIC_REG_LDR:
		if (x2apic(vcpu))
			return false;
		a->ldr = val & 0xff000000;
		break;
	case APIC_REG_DFR:
		if (x2apic(vcpu))
			return false;
		a->dfr = val | 0x0fffffff;
		break;
	case APIC_REG_SVR:
		a->svr = val & 0x1ff;
		if (!sw_enabled(a)) {
			for (i = 0; i < LVT_NR; i++)
				a->lvt[i] |= LVT_MASKED;
		}
		break;
	case APIC_REG_ESR:
		if (x2apic(vcpu) && val)
			return false;
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		break;
	case APIC_REG_ICR:
		a->icr = val & ~BIT(12);
		send_ipi(a);
		break;
	case APIC_REG_ICR2:
		if (x2apic(vcpu))
			return false;
		a->icr2 = val & 0xff000000;
		break;
	case APIC_REG_LVT_CMCI:
	case APIC_REG_LVT0 ... APIC_REG_LVT_ERR:
		if (reg & 0xf)
			return false;
		i = lvt_reg_index(reg);
		old = a->lvt[i];
		val &= lvt_valid[i];
		if (!sw_enabled(a))
			val |= LVT_MASKED;
		if (i == LVT_TIMER && (val & LVT_TIMER_MODE) == LVT_TIMER_MODE)
			val &= ~LVT_TIMER_MODE;		/* reserved mode */
		a->lvt[i] = val | (old & LVT_REMOTE_IRR);
		if (i == LVT_TIMER &&
		    ((old ^ val) & LVT_TIMER_MODE)) {
			hrtimer_try_to_cancel(&a->timer);
			a->tmict = 0;
			a->tsc_deadline = 0;
		}
		break;
	case APIC_REG_TMICT:
		if ((a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_DEADLINE)
			break;
		a->tmict = val;
		timer_start(a);
		break;
	case APIC_REG_TDCR:
		a->tdcr = val & 0xb;
		break;
	case APIC_REG_SELF_IPI:
		if (!x2apic(vcpu))
			return false;
		if (!sw_enabled(a))
			break;	/* fixed interrupts to a disabled APIC are lost */
		spin_unlock(&a->lock);
		set_irr(a, val & 0xff, false);
		spin_lock(&a->lock);
		break;
	case APIC_REG_VER:
	case APIC_REG_PPR:
	case APIC_REG_APR:
	case APIC_REG_TMCCT:
	case APIC_REG_ISR ... APIC_REG_IRR + 0x70:
		/* read-only: xAPIC ignores the write, x2APIC faults */
		return !x2apic(vcpu);
	default:
		return false;
	}
	return true;
}

/* xAPIC MMIO: 32-bit accesses to 16-byte aligned registers */
bool shv_lapic_mmio(struct shv_vcpu *vcpu, u64 gpa, unsigned int len,
		    bool write, u64 *val)
{
	struct shv_lapic *a = lapic(vcpu);
	u32 reg = gpa & 0xfff, v = 0;
	unsigned long flags;

	if (!a || !hw_enabled(vcpu) || x2apic(vcpu) ||
	    (gpa & ~0xfffull) != (vcpu->apic_base & ~0xfffull))
		return false;
	if ((reg & ~0xf) == APIC_REG_TPR)
		vcpu->stats.tpr_exits++;
	if (write && (reg & ~0xf) == APIC_REG_EOI)
		vcpu->stats.eoi_exits++;
	spin_lock_irqsave(&a->lock, flags);
	if (write) {
		if (len == 4 && !(reg & 0xf))
			reg_write(a, reg, *val);
	} else {
		if (reg_read(a, reg & ~0xf, &v))
			v >>= (reg & 3) * 8;
		*val = v;
	}
	spin_unlock_irqrestore(&a->lock, flags);
	return true;
}

/* x2APIC MSRs and the TSC-deadline MSR; -EINVAL raises #GP */
int shv_lapic_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags;
	u32 lo = 0, hi = 0;
	bool ok;

	if (!a)
		return -ENOENT;
	if (index == MSR_IA32_TSC_DEADLINE) {
		/* reads 0 unless the timer is in TSC-deadline mode */
		*data = (a->lvt[LVT_TIMER] & LVT_TIMER_MODE) == LVT_DEADLINE ?
			a->tsc_deadline : 0;
		return 0;
	}
	if (index < 0x800 || index > 0x8ff)
		return -ENOENT;
	if (!x2apic(vcpu))
		return -EINVAL;
	spin_lock_irqsave(&a->lock, flags);
	if (index == 0x830) {		/* ICR is one 64-bit register */
		lo = a->icr;
		hi = a->icr2;
		ok = true;
	} else {
		ok = reg_read(a, (index - 0x800) << 4, &lo);
	}
	spin_unlock_irqrestore(&a->lock, flags);
	if (!ok)
		return -EINVAL;
	*data = lo | ((u64)hi << 32);
	return 0;
}

int shv_lapic_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags;
	bool ok;

	if (!a)
		return -ENOENT;
	if (index == MSR_IA32_TSC_DEADLINE) {
		spin_lock_irqsave(&a->lock, flags);
		set_tsc_deadline(a, data);
		spin_unlock_irqrestore(&a->lock, flags);
		return 0;
	}
	if (index < 0x800 || index > 0x8ff)
		return -ENOENT;
	if (!x2apic(vcpu))
		return -EINVAL;
	spin_lock_irqsave(&a->lock, flags);
	if (index == 0x830) {
		a->icr2 = data >> 32;
		ok = reg_write(a, APIC_REG_ICR, (u32)data);
	} else if (data >> 32) {
		ok = false;
	} else {
		ok = reg_write(a, (index - 0x800) << 4, data);
	}
	spin_unlock_irqrestore(&a->lock, flags);
	return ok ? 0 : -EINVAL;
}

/* a write to IA32_APIC_BASE: mode transitions */
int shv_lapic_set_base(struct shv_vcpu *vcpu, u64 val, bool host)
{
	struct shv_lapic *a = lapic(vcpu);
	u64 old = vcpu->apic_base;
	unsigned long flags;

	if (!a)
		return -ENOENT;
	/* x2APIC needs xAPIC; leaving x2APIC must pass through disabled */
	if ((val & APIC_BASE_EXTD) && !(val & APIC_BASE_ENABLE))
		return -EINVAL;
	if (!host && (old & APIC_BASE_EXTD) && (val & APIC_BASE_ENABLE) &&
	    !(val & APIC_BASE_EXTD))
		return -EINVAL;
	vcpu->apic_base = val;
	spin_lock_irqsave(&a->lock, flags);
	if (!(val & APIC_BASE_ENABLE)) {
		/* a hardware-disabled APIC loses its state */
		hrtimer_try_to_cancel(&a->timer);
		a->svr = 0xff;
		a->tmict = 0;
	}
	if ((val & APIC_BASE_EXTD) && !(old & APIC_BASE_EXTD)) {
		a->id = vcpu->id;
		a->ldr = x2apic_ldr(a->id);
	}
	spin_unlock_irqrestore(&a->lock, flags);
	return 0;
}

void shv_lapic_reset(struct shv_vcpu *vcpu, bool init)
{
	struct shv_lapic *a = lapic(vcpu);
	unsigned long flags;
	unsigned int i;

	if (!a)
		return;
	hrtimer_cancel(&a->timer);
	spin_lock_irqsave(&a->lock, flags);
	bitmap_zero(a->irr, 256);
	bitmap_zero(a->isr, 256);
	bitmap_zero(a->tmr, 256);
	if (!init) {
		bitmap_zero(a->auto_eoi, 256);
		a->id = vcpu->id;
	}
	a->ldr = 0;
	a->dfr = 0xffffffff;
	a->svr = 0xff;
	a->tpr = 0;
	a->esr = 0;
	a->esr_pending = 0;
	a->icr = 0;
	a->icr2 = 0;
	a->tmict = 0;
	a->tdcr = 0;
	a->tsc_deadline = 0;
	a->extint_pending = false;
	for (i = 0; i < LVT_NR; i++)
		a->lvt[i] = LVT_MASKED;
	/* virtual wire: the BSP takes the PIC through LINT0 */
	if (!vcpu->id)
		a->lvt[LVT_LINT0] = SHV_DM_EXTINT << 8;
	spin_unlock_irqrestore(&a->lock, flags);
}

/* does LINT0 pass the PIC's INTR (virtual wire mode, or APIC off)? */
bool shv_lapic_accepts_pic(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);
	u32 lint0;

	if (!a)
		return false;
	if (!hw_enabled(vcpu))
		return true;
	lint0 = READ_ONCE(a->lvt[LVT_LINT0]);
	return !(lint0 & LVT_MASKED) && LVT_DM(lint0) == SHV_DM_EXTINT;
}

int shv_lapic_create(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = kzalloc(sizeof(*a), GFP_KERNEL_ACCOUNT);

	if (!a)
		return -ENOMEM;
	a->vcpu = vcpu;
	spin_lock_init(&a->lock);
	hrtimer_init(&a->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	a->timer.function = timer_expired;
	vcpu->lapic = a;
	shv_lapic_reset(vcpu, false);
	return 0;
}

void shv_lapic_free(struct shv_vcpu *vcpu)
{
	struct shv_lapic *a = lapic(vcpu);

	if (!a)
		return;
	hrtimer_cancel(&a->timer);
	kfree(a);
	vcpu->lapic = NULL;
}
