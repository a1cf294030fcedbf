// SPDX-License-Identifier: GPL-2.0
/*
 * The Hyper-V guest interface (TLFS 6.0): CPUID leaves, the hypercall
 * page, VP index, the reference counter, the synthetic interrupt
 * controller (SynIC) with its message and event flag pages, four
 * synthetic timers per vCPU, the APIC access MSRs, and HvPostMessage /
 * HvSignalEvent between vCPUs of one VM or of different VMs.
 *
 * Delivery.  A message page or an event flag page is guest memory of the
 * receiving vCPU's VM, reachable only through that VM's process (its
 * runner's mm).  So a sender never writes it: the sender copies the
 * message from its own guest memory into a kernel buffer, queues it on
 * the target vCPU (per SINT, at most SHV_HV_MSG_QUEUE posted messages, or
 * HV_STATUS_INSUFFICIENT_BUFFERS), or sets the flag in the target vCPU's
 * pending-event bitmap, and kicks the vCPU (SHV_REQ_HV_WORK).  Timer
 * expiries, which happen in hard-IRQ context, do the same.  Before its
 * next entry, in its own process context, the target vCPU moves the work
 * into its pages (shv_hv_vcpu_run) and raises the SINT through its local
 * APIC:
 *
 *  - a message goes into slot n when the slot's MessageType is HVMSG_NONE;
 *    it is written with MessagePending set when more messages wait for
 *    the slot, and the SINT is raised.  When the slot is busy, the slot's
 *    MessagePending flag is set and the message stays queued, without an
 *    interrupt.  The guest clears MessageType and, only if MessagePending
 *    was set, writes EOM; EOM makes the vCPU retry its queues, which
 *    delivers the next message and raises the SINT again.  A message that
 *    finds nothing behind it therefore costs the guest no EOM exit, and
 *    with AutoEOI no EOI exit either;
 *  - an event flag is ORed into the SIEF page; the SINT is raised when a
 *    flag went from clear to set.
 *
 * Connections (SHV_HV_SET_CONNECTION) name the target VM through its
 * endpoint, a small refcounted object that outlives the VM; a post takes
 * a reference on the VM itself only for the time of the delivery, and
 * fails with HV_STATUS_INVALID_PORT_ID once the VM is going away.  VMs
 * that link to each other thus never keep each other alive.
 */
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <asm/hyperv-tlfs.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "irq.h"
#include "hyperv.h"

#define HV_NR_SINTS		HV_SYNIC_SINT_COUNT
#define HV_NR_STIMERS		HV_SYNIC_STIMER_COUNT
#define HV_SIEF_BITS		HV_EVENT_FLAGS_COUNT	/* per SINT */
#define HV_CONN_ID_MASK		0xffffffu

#define HV_SINT_POLLING		BIT_ULL(18)
#define HV_SINT_VALID		(HV_SYNIC_SINT_VECTOR_MASK | \
				 HV_SYNIC_SINT_MASKED | \
				 HV_SYNIC_SINT_AUTO_EOI | HV_SINT_POLLING)
#define HV_PAGE_VALID		(PAGE_MASK | 1ull)
#define HV_HYPERCALL_LOCKED	BIT_ULL(1)

#define HV_STIMER_ENABLE	BIT_ULL(0)
#define HV_STIMER_PERIODIC	BIT_ULL(1)
#define HV_STIMER_AUTOENABLE	BIT_ULL(3)
#define HV_STIMER_DIRECT	BIT_ULL(12)
#define HV_STIMER_VALID		(GENMASK_ULL(12, 0) | GENMASK_ULL(19, 16))
#define HV_STIMER_VECTOR(c)	(((c) >> 4) & 0xff)
#define HV_STIMER_SINTX(c)	(((c) >> 16) & 0xf)
#define HV_STIMER_MIN_NS	(50 * NSEC_PER_USEC)

#define HV_CPUID_MAX		HYPERV_CPUID_IMPLEMENT_LIMITS
#define HV_CPUID_SHV		0x40000100	/* shv's leaves move here */
#define HV_INTERFACE_HV1	0x31237648	/* "Hv#1" */

/* bits of shv_hv_vcpu.work */
#define WORK_MSG(sint)		(sint)
#define WORK_EVENT(sint)	(HV_NR_SINTS + (sint))
#define WORK_STIMER(i)		(2 * HV_NR_SINTS + (i))
#define WORK_SINT(sint)		(2 * HV_NR_SINTS + HV_NR_STIMERS + (sint))
#define WORK_BITS		(3 * HV_NR_SINTS + HV_NR_STIMERS)

/* HvPostMessage input */
struct hv_post_message_in {
	u32 connection_id;
	u32 reserved;
	u32 message_type;
	u32 payload_size;
	u64 payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
} __packed;

/* what connections point at: a VM while it lives */
struct shv_hv_ep {
	struct kref ref;
	spinlock_t lock;		/* vm */
	struct shv_vm *vm;		/* NULL once the VM is destroyed */
};

struct shv_hv_conn {
	struct shv_hv_ep *ep;
	u32 vcpu;
	u32 sint;
	u32 flags;			/* SHV_HV_CONN_* */
	u32 flag_base;			/* the port's event flags */
	u32 flag_count;
};

/* vm->hv: the partition */
struct shv_hv {
	struct shv_hv_ep *ep;
	struct mutex lock;		/* the fields below */
	struct xarray conns;		/* connection id -> shv_hv_conn */
	unsigned int nr_conns;
	u64 guest_os_id;
	u64 hypercall;
	u64 tsc_page;
	u64 t0_ns;			/* reference time 0, ktime_get_ns() */
};

struct shv_hv_vcpu;

struct shv_hv_msg {
	struct list_head node;
	struct shv_hv_stimer *stimer;	/* a timer's own message, or NULL */
	struct hv_message msg;
};

struct shv_hv_stimer {
	struct shv_hv_vcpu *hv;
	unsigned int index;
	u64 config;
	u64 count;
	u64 exp_time;			/* reference time of the next expiry */
	u64 period_ns;
	u64 expired;			/* set by the hrtimer: exp_time fired */
	struct hrtimer timer;
	bool queued;			/* msg waits in a SINT queue */
	struct shv_hv_msg msg;
};

/* vcpu->hv: the SynIC of a vCPU */
struct shv_hv_vcpu {
	struct shv_vcpu *vcpu;
	unsigned long work;		/* WORK_*, from any context */
	spinlock_t lock;		/* queue, nr_posted */
	struct list_head queue[HV_NR_SINTS];
	unsigned int nr_posted[HV_NR_SINTS];
	unsigned long *events;		/* flags waiting for the SIEF page */
	/* the rest changes only in the vCPU's own context */
	u64 scontrol;
	u64 simp;
	u64 siefp;
	u64 sint[HV_NR_SINTS];
	struct shv_hv_stimer stimer[HV_NR_STIMERS];
};

static u64 ref_now(struct shv_hv *hv)
{
	return div_u64(ktime_get_ns() - hv->t0_ns, 100);
}

static ktime_t ref_to_ktime(struct shv_hv *hv, u64 ref)
{
	if (ref >= (KTIME_MAX - hv->t0_ns) / 100)
		return KTIME_MAX;
	return ns_to_ktime(hv->t0_ns + ref * 100);
}

/* new work for a vCPU, from any context */
static void hv_kick(struct shv_hv_vcpu *hv, unsigned int bit)
{
	set_bit(bit, &hv->work);
	set_bit(SHV_REQ_HV_WORK, &hv->vcpu->requests);
	shv_vcpu_kick(hv->vcpu);
}

/* --- the local APIC --- */

static bool sint_active(u64 sint)
{
	return !(sint & HV_SYNIC_SINT_MASKED) || (sint & HV_SINT_POLLING);
}

static void raise_sint(struct shv_hv_vcpu *hv, unsigned int sint)
{
	u64 s = hv->sint[sint];
	u8 vector = s & HV_SYNIC_SINT_VECTOR_MASK;

	if ((s & (HV_SYNIC_SINT_MASKED | HV_SINT_POLLING)) ||
	    vector < HV_SYNIC_FIRST_VALID_VECTOR)
		return;
	hv->vcpu->stats.hv_sint_irqs++;
	shv_lapic_post(hv->vcpu, vector);
}

/* AutoEOI applies to a vector when an unmasked SINT asks for it */
static void update_auto_eoi(struct shv_hv_vcpu *hv, u8 vector)
{
	bool on = false;
	unsigned int i;

	for (i = 0; i < HV_NR_SINTS; i++) {
		u64 s = hv->sint[i];

		if (!(s & HV_SYNIC_SINT_MASKED) &&
		    (s & HV_SYNIC_SINT_VECTOR_MASK) == vector &&
		    (s & HV_SYNIC_SINT_AUTO_EOI))
			on = true;
	}
	shv_lapic_set_auto_eoi(hv->vcpu, vector, on);
}

#define APIC_BASE_X2APIC	BIT_ULL(10)
#define X2APIC_MSR(reg)		(0x800 + ((reg) >> 4))

/* an APIC register through the x2APIC MSRs or the xAPIC page */
static int apic_write(struct shv_vcpu *vcpu, u32 reg, u32 val)
{
	u64 v = val;

	if (vcpu->apic_base & APIC_BASE_X2APIC)
		return shv_lapic_set_msr(vcpu, X2APIC_MSR(reg), val);
	return shv_lapic_mmio(vcpu, (vcpu->apic_base & PAGE_MASK) + reg, 4,
			      true, &v) ? 0 : -EINVAL;
}

static int apic_read(struct shv_vcpu *vcpu, u32 reg, u64 *val)
{
	if (vcpu->apic_base & APIC_BASE_X2APIC)
		return shv_lapic_get_msr(vcpu, X2APIC_MSR(reg), val);
	if (!shv_lapic_mmio(vcpu, (vcpu->apic_base & PAGE_MASK) + reg, 4,
			    false, val))
		return -EINVAL;
	*val = (u32)*val;
	return 0;
}

#define APIC_REG_TPR	0x80
#define APIC_REG_EOI	0xb0
#define APIC_REG_ICR	0x300
#define APIC_REG_ICR2	0x310

/* HV_X64_MSR_ICR: xAPIC format, or the x2APIC ICR in x2APIC mode */
static int apic_write_icr(struct shv_vcpu *vcpu, u64 data)
{
	int r;

	if (vcpu->apic_base & APIC_BASE_X2APIC)
		return shv_lapic_set_msr(vcpu, X2APIC_MSR(APIC_REG_ICR), data);
	r = apic_write(vcpu, APIC_REG_ICR2, data >> 32);
	return r ? r : apic_write(vcpu, APIC_REG_ICR, data);
}

static int apic_read_icr(struct shv_vcpu *vcpu, u64 *data)
{
	u64 lo, hi;
	int r;

	if (vcpu->apic_base & APIC_BASE_X2APIC)
		return shv_lapic_get_msr(vcpu, X2APIC_MSR(APIC_REG_ICR), data);
	r = apic_read(vcpu, APIC_REG_ICR, &lo);
	if (!r)
		r = apic_read(vcpu, APIC_REG_ICR2, &hi);
	if (!r)
		*data = lo | hi << 32;
	return r;
}

/* --- delivery into the vCPU's own pages (its own context) --- */

static void free_msg(struct shv_hv_msg *m)
{
	if (m->stimer)
		m->stimer->queued = false;
	else
		kfree(m);
}

/* try the head of a SINT's queue; see the top of the file */
static void deliver_msgs(struct shv_hv_vcpu *hv, unsigned int sint)
{
	struct shv_vcpu *vcpu = hv->vcpu;
	u64 gpa = (hv->simp & PAGE_MASK) + sint * HV_MESSAGE_SIZE;
	union hv_message_flags flags;
	struct shv_hv_msg *m;
	u32 type;
	bool more;

	if (!(hv->scontrol & HV_SYNIC_CONTROL_ENABLE) ||
	    !(hv->simp & HV_SYNIC_SIMP_ENABLE) || !sint_active(hv->sint[sint]))
		return;
	/* only this vCPU takes messages off its queues */
	spin_lock(&hv->lock);
	m = list_first_entry_or_null(&hv->queue[sint], struct shv_hv_msg,
				     node);
	more = m && !list_is_last(&m->node, &hv->queue[sint]);
	spin_unlock(&hv->lock);
	if (!m)
		return;

	if (shv_read_guest_phys(vcpu->vm, gpa, &type, sizeof(type)))
		return;
	if (type != HVMSG_NONE) {
		/* busy: the guest must EOM when it has emptied the slot */
		gpa += offsetof(struct hv_message_header, message_flags);
		if (shv_read_guest_phys(vcpu->vm, gpa, &flags, 1) ||
		    flags.msg_pending)
			return;
		flags.msg_pending = 1;
		if (!shv_write_guest_phys(vcpu->vm, gpa, &flags, 1))
			vcpu->stats.hv_msgs_pending++;
		return;
	}

	if (m->stimer) {
		struct hv_timer_message_payload *p =
			(void *)m->msg.u.payload;

		p->delivery_time = ref_now(vcpu->vm->hv);
	}
	m->msg.header.message_flags.msg_pending = more;
	if (shv_write_guest_phys(vcpu->vm, gpa, &m->msg,
				 sizeof(m->msg.header) +
				 m->msg.header.payload_size))
		return;
	vcpu->stats.hv_msgs_delivered++;
	if (more)
		vcpu->stats.hv_msgs_pending++;

	spin_lock(&hv->lock);
	list_del(&m->node);
	if (!m->stimer)
		hv->nr_posted[sint]--;
	spin_unlock(&hv->lock);
	free_msg(m);
	raise_sint(hv, sint);
}

/* OR the pending flags of a SINT into the SIEF page */
static void deliver_events(struct shv_hv_vcpu *hv, unsigned int sint)
{
	struct shv_vcpu *vcpu = hv->vcpu;
	u64 gpa = (hv->siefp & PAGE_MASK) + sint * (HV_SIEF_BITS / 8);
	unsigned long *pending = hv->events + sint * BITS_TO_LONGS(HV_SIEF_BITS);
	bool newly = false;
	unsigned int w;

	if (!(hv->scontrol & HV_SYNIC_CONTROL_ENABLE) ||
	    !(hv->siefp & HV_SYNIC_SIEFP_ENABLE) ||
	    !sint_active(hv->sint[sint]))
		return;		/* the flags stay pending */
	for (w = 0; w < BITS_TO_LONGS(HV_SIEF_BITS); w++) {
		unsigned long bits = xchg(&pending[w], 0), old;
		u64 at = gpa + w * sizeof(long);

		if (!bits)
			continue;
		if (shv_read_guest_phys(vcpu->vm, at, &old, sizeof(old)))
			continue;	/* no RAM behind the page: lost */
		if ((old | bits) == old)
			continue;
		vcpu->stats.hv_events += hweight_long(bits & ~old);
		old |= bits;
		if (!shv_write_guest_phys(vcpu->vm, at, &old, sizeof(old)))
			newly = true;
	}
	if (newly)
		raise_sint(hv, sint);
}

/* --- synthetic timers --- */

static enum hrtimer_restart stimer_fn(struct hrtimer *t)
{
	struct shv_hv_stimer *st = container_of(t, struct shv_hv_stimer,
						timer);
	bool periodic = st->config & HV_STIMER_PERIODIC;

	WRITE_ONCE(st->expired, st->exp_time);
	if (periodic) {
		/* lazy: missed periods are skipped, not caught up */
		u64 n = hrtimer_forward_now(t, ns_to_ktime(st->period_ns));

		st->exp_time += n * div_u64(st->period_ns, 100);
	}
	hv_kick(st->hv, WORK_STIMER(st->index));
	return periodic ? HRTIMER_RESTART : HRTIMER_NORESTART;
}

static void stimer_stop(struct shv_hv_stimer *st)
{
	hrtimer_cancel(&st->timer);
	clear_bit(WORK_STIMER(st->index), &st->hv->work);
	WRITE_ONCE(st->expired, 0);
}

/* enabled with a non-zero count: arm it (vCPU context, timer stopped) */
static void stimer_start(struct shv_hv_stimer *st)
{
	struct shv_hv *hv = st->hv->vcpu->vm->hv;
	u64 now = ref_now(hv);

	if (st->config & HV_STIMER_PERIODIC) {
		st->period_ns = max_t(u64, HV_STIMER_MIN_NS,
				      min_t(u64, st->count, KTIME_MAX / 200) *
				      100);
		st->exp_time = now + div_u64(st->period_ns, 100);
	} else {
		st->exp_time = st->count;
		if (st->count <= now) {
			/* a one-shot time in the past expires at once */
			WRITE_ONCE(st->expired, st->exp_time);
			hv_kick(st->hv, WORK_STIMER(st->index));
			return;
		}
	}
	hrtimer_start(&st->timer, ref_to_ktime(hv, st->exp_time),
		      HRTIMER_MODE_ABS);
}

/* an expiry, in the vCPU's context: returns message work it made */
static unsigned long stimer_expire(struct shv_hv_vcpu *hv, unsigned int i)
{
	struct shv_hv_stimer *st = &hv->stimer[i];
	struct hv_timer_message_payload *p = (void *)st->msg.msg.u.payload;
	u64 exp = xchg(&st->expired, 0), c = st->config;
	unsigned int sint = HV_STIMER_SINTX(c);

	if (!exp || !(c & HV_STIMER_ENABLE))
		return 0;
	hv->vcpu->stats.hv_stimer_expiries++;
	if (!(c & HV_STIMER_PERIODIC))
		st->config &= ~HV_STIMER_ENABLE;
	if (c & HV_STIMER_DIRECT) {
		if (HV_STIMER_VECTOR(c) >= HV_SYNIC_FIRST_VALID_VECTOR)
			shv_lapic_post(hv->vcpu, HV_STIMER_VECTOR(c));
		return 0;
	}
	if (st->queued)
		return 0;	/* the last expiry is still undelivered */
	memset(&st->msg.msg, 0, sizeof(st->msg.msg));
	st->msg.msg.header.message_type = HVMSG_TIMER_EXPIRED;
	st->msg.msg.header.payload_size = sizeof(*p);
	p->timer_index = i;
	p->expiration_time = exp;
	st->queued = true;
	spin_lock(&hv->lock);
	list_add_tail(&st->msg.node, &hv->queue[sint]);
	spin_unlock(&hv->lock);
	return BIT(WORK_MSG(sint));
}

static void stimer_set_config(struct shv_hv_stimer *st, u64 data)
{
	u64 c = data & HV_STIMER_VALID;

	stimer_stop(st);
	/* message mode needs a SINT: SINT 0 leaves the timer disabled */
	if (!(c & HV_STIMER_DIRECT) && !HV_STIMER_SINTX(c))
		c &= ~HV_STIMER_ENABLE;
	st->config = c;
	if ((c & HV_STIMER_ENABLE) && st->count)
		stimer_start(st);
}

static void stimer_set_count(struct shv_hv_stimer *st, u64 count, bool host)
{
	stimer_stop(st);
	st->count = count;
	if (!host) {
		if (!count)
			st->config &= ~HV_STIMER_ENABLE;
		else if (st->config & HV_STIMER_AUTOENABLE)
			st->config |= HV_STIMER_ENABLE;
	}
	if ((st->config & HV_STIMER_ENABLE) && count)
		stimer_start(st);
}

/* --- the vCPU's work --- */

bool shv_hv_work_pending(struct shv_vcpu *vcpu)
{
	return vcpu->hv && test_bit(SHV_REQ_HV_WORK, &vcpu->requests);
}

void shv_hv_vcpu_run(struct shv_vcpu *vcpu)
{
	struct shv_hv_vcpu *hv = vcpu->hv;
	unsigned long work;
	unsigned int i;

	if (!hv || !test_and_clear_bit(SHV_REQ_HV_WORK, &vcpu->requests))
		return;
	work = xchg(&hv->work, 0);
	down_read(&vcpu->vm->slots_lock);
	for (i = 0; i < HV_NR_STIMERS; i++)
		if (work & BIT(WORK_STIMER(i)))
			work |= stimer_expire(hv, i);
	for (i = 0; i < HV_NR_SINTS; i++) {
		if (work & BIT(WORK_EVENT(i)))
			deliver_events(hv, i);
		if (work & BIT(WORK_MSG(i)))
			deliver_msgs(hv, i);
		/* a SINT raised from userspace: a disabled SynIC drops it */
		if ((work & BIT(WORK_SINT(i))) &&
		    (hv->scontrol & HV_SYNIC_CONTROL_ENABLE))
			raise_sint(hv, i);
	}
	up_read(&vcpu->vm->slots_lock);
}

/* retry the messages (and the event flags) of every SINT before entry */
static void hv_retry_all(struct shv_hv_vcpu *hv, bool events)
{
	unsigned int i;

	for (i = 0; i < (events ? 2 : 1) * HV_NR_SINTS; i++)
		set_bit(i, &hv->work);
	set_bit(SHV_REQ_HV_WORK, &hv->vcpu->requests);
}

/* --- MSRs --- */

/* slots_lock held */
static int write_hypercall_page(struct shv_vcpu *vcpu, u64 gpa)
{
	/* VMMCALL (AMD) or VMCALL (Intel), then RET */
	u8 code[4] = { 0x0f, 0x01, 0xd9, 0xc3 };

	if (shv_arch->vendor == SHV_VENDOR_VMX)
		code[2] = 0xc1;
	return shv_write_guest_phys(vcpu->vm, gpa, code, sizeof(code)) ?
	       -EINVAL : 0;
}

static int set_partition_msr(struct shv_vcpu *vcpu, u32 index, u64 data,
			     bool host)
{
	struct shv_hv *hv = vcpu->vm->hv;
	u32 seq = 0;
	int r = 0;

	/* slots_lock before hv->lock, as on the MSR exit path */
	if (host)
		down_read(&vcpu->vm->slots_lock);
	mutex_lock(&hv->lock);
	switch (index) {
	case HV_X64_MSR_GUEST_OS_ID:
		hv->guest_os_id = data;
		/* without a guest OS ID the hypercall page is disabled */
		if (!data)
			hv->hypercall &= ~HV_X64_MSR_HYPERCALL_ENABLE;
		break;
	case HV_X64_MSR_HYPERCALL:
		if (hv->hypercall & HV_HYPERCALL_LOCKED)
			break;			/* immutable until reset */
		if (!hv->guest_os_id)
			break;
		data &= PAGE_MASK | HV_X64_MSR_HYPERCALL_ENABLE |
			HV_HYPERCALL_LOCKED;
		if (data & HV_X64_MSR_HYPERCALL_ENABLE)
			r = write_hypercall_page(vcpu, data & PAGE_MASK);
		if (!r)
			hv->hypercall = data;
		break;
	case HV_X64_MSR_REFERENCE_TSC:
		/*
		 * TscSequence 0: the page is not valid, the guest reads
		 * HV_X64_MSR_TIME_REF_COUNT instead (TLFS 12.7).
		 */
		data &= HV_PAGE_VALID;
		if ((data & 1) &&
		    shv_write_guest_phys(vcpu->vm, data & PAGE_MASK, &seq,
					 sizeof(seq)))
			r = -EINVAL;
		else
			hv->tsc_page = data;
		break;
	}
	mutex_unlock(&hv->lock);
	if (host)
		up_read(&vcpu->vm->slots_lock);
	return r;
}

/* a SIMP/SIEFP overlay page reads as zeros when the guest enables it */
static int set_page_msr(struct shv_vcpu *vcpu, u64 *reg, u64 data, bool host)
{
	data &= HV_PAGE_VALID;
	if (!host && (data & 1) && data != *reg) {
		void *zero = kzalloc(PAGE_SIZE, GFP_KERNEL);
		int r;

		if (!zero)
			return -ENOMEM;
		/* a guest write: slots_lock is held */
		r = shv_write_guest_phys(vcpu->vm, data & PAGE_MASK, zero,
					 PAGE_SIZE);
		kfree(zero);
		if (r)
			return -EINVAL;
	}
	*reg = data;
	hv_retry_all(vcpu->hv, true);
	return 0;
}

static int set_sint(struct shv_hv_vcpu *hv, unsigned int i, u64 data,
		    bool host)
{
	u8 old = hv->sint[i] & HV_SYNIC_SINT_VECTOR_MASK;
	u8 vector = data & HV_SYNIC_SINT_VECTOR_MASK;

	if (vector < HV_SYNIC_FIRST_VALID_VECTOR && !host &&
	    !(data & HV_SYNIC_SINT_MASKED))
		return -EINVAL;
	hv->sint[i] = data & HV_SINT_VALID;
	update_auto_eoi(hv, old);
	update_auto_eoi(hv, vector);
	/* unmasking may let queued messages and flags through */
	set_bit(WORK_MSG(i), &hv->work);
	set_bit(WORK_EVENT(i), &hv->work);
	set_bit(SHV_REQ_HV_WORK, &hv->vcpu->requests);
	return 0;
}

int shv_hv_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data, bool host)
{
	struct shv_hv *hv = vcpu->vm->hv;
	struct shv_hv_vcpu *h = vcpu->hv;

	if (!hv || !h || index < HV_X64_MSR_GUEST_OS_ID || index > 0x400000ff)
		return -ENOENT;
	switch (index) {
	case HV_X64_MSR_GUEST_OS_ID:
		*data = READ_ONCE(hv->guest_os_id);
		break;
	case HV_X64_MSR_HYPERCALL:
		*data = READ_ONCE(hv->hypercall);
		break;
	case HV_X64_MSR_REFERENCE_TSC:
		*data = READ_ONCE(hv->tsc_page);
		break;
	case HV_X64_MSR_VP_INDEX:
		*data = vcpu->id;
		break;
	case HV_X64_MSR_TIME_REF_COUNT:
		*data = ref_now(hv);
		break;
	case HV_X64_MSR_EOI:
		return -EINVAL;		/* write-only */
	case HV_X64_MSR_ICR:
		return apic_read_icr(vcpu, data);
	case HV_X64_MSR_TPR:
		return apic_read(vcpu, APIC_REG_TPR, data);
	case HV_X64_MSR_SCONTROL:
		*data = h->scontrol;
		break;
	case HV_X64_MSR_SVERSION:
		*data = HV_SYNIC_VERSION_1;
		break;
	case HV_X64_MSR_SIEFP:
		*data = h->siefp;
		break;
	case HV_X64_MSR_SIMP:
		*data = h->simp;
		break;
	case HV_X64_MSR_EOM:
		*data = 0;
		break;
	case HV_X64_MSR_SINT0 ... HV_X64_MSR_SINT15:
		*data = h->sint[index - HV_X64_MSR_SINT0];
		break;
	case HV_X64_MSR_STIMER0_CONFIG ... HV_X64_MSR_STIMER3_COUNT: {
		struct shv_hv_stimer *st =
			&h->stimer[(index - HV_X64_MSR_STIMER0_CONFIG) / 2];

		*data = (index & 1) ? st->count : st->config;
		break;
	}
	default:
		return -ENOENT;
	}
	return 0;
}

int shv_hv_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct shv_hv_vcpu *h = vcpu->hv;

	if (!vcpu->vm->hv || !h || index < HV_X64_MSR_GUEST_OS_ID ||
	    index > 0x400000ff)
		return -ENOENT;
	switch (index) {
	case HV_X64_MSR_GUEST_OS_ID:
	case HV_X64_MSR_HYPERCALL:
	case HV_X64_MSR_REFERENCE_TSC:
		return set_partition_msr(vcpu, index, data, host);
	case HV_X64_MSR_VP_INDEX:
		/* VP index = vCPU id: the runner may restore that value */
		return host && data == vcpu->id ? 0 : -EINVAL;
	case HV_X64_MSR_TIME_REF_COUNT:
	case HV_X64_MSR_SVERSION:
		return host ? 0 : -EINVAL;	/* read-only */
	case HV_X64_MSR_EOI:
		return apic_write(vcpu, APIC_REG_EOI, 0);
	case HV_X64_MSR_ICR:
		return apic_write_icr(vcpu, data);
	case HV_X64_MSR_TPR:
		return apic_write(vcpu, APIC_REG_TPR, data);
	case HV_X64_MSR_SCONTROL:
		h->scontrol = data & HV_SYNIC_CONTROL_ENABLE;
		hv_retry_all(h, true);
		return 0;
	case HV_X64_MSR_SIEFP:
		return set_page_msr(vcpu, &h->siefp, data, host);
	case HV_X64_MSR_SIMP:
		return set_page_msr(vcpu, &h->simp, data, host);
	case HV_X64_MSR_EOM:
		/* the guest emptied a slot that had MessagePending set */
		if (!host)
			vcpu->stats.hv_eoms++;
		hv_retry_all(h, false);
		return 0;
	case HV_X64_MSR_SINT0 ... HV_X64_MSR_SINT15:
		return set_sint(h, index - HV_X64_MSR_SINT0, data, host);
	case HV_X64_MSR_STIMER0_CONFIG ... HV_X64_MSR_STIMER3_COUNT: {
		struct shv_hv_stimer *st =
			&h->stimer[(index - HV_X64_MSR_STIMER0_CONFIG) / 2];

		if (index & 1)
			stimer_set_count(st, data, host);
		else
			stimer_set_config(st, data);
		return 0;
	}
	default:
		return -ENOENT;
	}
}

/* --- CPUID --- */

bool shv_hv_cpuid(struct shv_vcpu *vcpu, u32 fn, u32 *a, u32 *b, u32 *c,
		  u32 *d)
{
	if (!vcpu->vm->hv || fn < HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS ||
	    fn >= HV_CPUID_SHV + 0x100)
		return false;
	*a = *b = *c = *d = 0;
	switch (fn) {
	case HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS:
		*a = HV_CPUID_MAX;
		memcpy(b, "Micr", 4);
		memcpy(c, "osof", 4);
		memcpy(d, "t Hv", 4);
		break;
	case HYPERV_CPUID_INTERFACE:
		*a = HV_INTERFACE_HV1;
		break;
	case HYPERV_CPUID_VERSION:
		/* the version of Windows Server 2016: build 14393, 10.0 */
		*a = 14393;
		*b = 0x000a0000;
		break;
	case HYPERV_CPUID_FEATURES:
		*a = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_SYNIC_AVAILABLE |
		     HV_MSR_SYNTIMER_AVAILABLE | HV_MSR_APIC_ACCESS_AVAILABLE |
		     HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE |
		     HV_MSR_REFERENCE_TSC_AVAILABLE;
		*b = HV_POST_MESSAGES | HV_SIGNAL_EVENTS;
		*d = HV_STIMER_DIRECT_MODE_AVAILABLE;
		break;
	case HYPERV_CPUID_ENLIGHTMENT_INFO:
		*a = HV_X64_APIC_ACCESS_RECOMMENDED;
		*b = 0xffffffff;	/* never notify long spin waits */
		break;
	case HYPERV_CPUID_IMPLEMENT_LIMITS:
		*a = SHV_MAX_VCPUS;
		*b = SHV_MAX_VCPUS;
		break;
	case HV_CPUID_SHV:
		*a = HV_CPUID_SHV + (SHV_CPUID_FEATURES & 0xff);
		memcpy(b, "ShvS", 4);
		memcpy(c, "hvSh", 4);
		memcpy(d, "vShv", 4);
		break;
	case HV_CPUID_SHV + (SHV_CPUID_FEATURES & 0xff):
		*a = SHV_FEAT_SEOI;
		break;
	}
	return true;
}

/* --- hypercalls --- */

static struct shv_vm *ep_get_vm(struct shv_hv_ep *ep)
{
	struct shv_vm *vm;

	spin_lock(&ep->lock);
	vm = ep->vm;
	if (vm && !refcount_inc_not_zero(&vm->users))
		vm = NULL;
	spin_unlock(&ep->lock);
	return vm;
}

static void ep_release(struct kref *ref)
{
	kfree(container_of(ref, struct shv_hv_ep, ref));
}

/*
 * The target of a connection, with a reference on its VM (shv_vm_put),
 * and a copy of the connection, or an HV_STATUS.
 */
static u16 conn_target(struct shv_vcpu *vcpu, u32 conn_id, u32 need,
		       struct shv_vcpu **target, struct shv_hv_conn *c)
{
	struct shv_hv *hv = vcpu->vm->hv;
	struct shv_hv_conn *conn;
	struct shv_vcpu *t = NULL;
	struct shv_vm *vm = NULL;
	u16 status = HV_STATUS_SUCCESS;

	if (conn_id & ~HV_CONN_ID_MASK)
		return HV_STATUS_INVALID_CONNECTION_ID;
	mutex_lock(&hv->lock);
	conn = xa_load(&hv->conns, conn_id);
	if (!conn) {
		status = HV_STATUS_INVALID_CONNECTION_ID;
	} else if (!(conn->flags & need)) {
		status = HV_STATUS_INVALID_PORT_ID;
	} else {
		vm = ep_get_vm(conn->ep);
		*c = *conn;
		if (vm)
			t = READ_ONCE(vm->vcpus[conn->vcpu]);
	}
	mutex_unlock(&hv->lock);
	if (status)
		return status;
	if (!t || !t->hv) {
		if (vm)
			shv_vm_put(vm);
		return HV_STATUS_INVALID_PORT_ID;
	}
	*target = t;
	return HV_STATUS_SUCCESS;
}

/* queue @m for SINT @sint of @th: false when the queue is full */
static bool queue_msg(struct shv_hv_vcpu *th, unsigned int sint,
		      struct shv_hv_msg *m)
{
	bool queued = false;

	spin_lock(&th->lock);
	if (th->nr_posted[sint] < SHV_HV_MSG_QUEUE) {
		list_add_tail(&m->node, &th->queue[sint]);
		th->nr_posted[sint]++;
		queued = true;
	}
	spin_unlock(&th->lock);
	if (queued)
		hv_kick(th, WORK_MSG(sint));
	return queued;
}

static u16 post_message(struct shv_vcpu *vcpu, bool fast, u64 gpa)
{
	struct hv_post_message_in in;
	struct shv_hv_conn conn;
	struct shv_hv_msg *m;
	struct shv_vcpu *t;
	u16 status;

	if (fast)
		return HV_STATUS_INVALID_PARAMETER;	/* no XMM input */
	if ((gpa & 7) || offset_in_page(gpa) + sizeof(in) > PAGE_SIZE)
		return HV_STATUS_INVALID_ALIGNMENT;
	if (shv_read_guest_phys(vcpu->vm, gpa, &in, sizeof(in)))
		return HV_STATUS_INVALID_PARAMETER;
	/* types with the top bit set belong to the hypervisor */
	if (in.payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT ||
	    in.message_type == HVMSG_NONE || (in.message_type & BIT(31)))
		return HV_STATUS_INVALID_PARAMETER;
	status = conn_target(vcpu, in.connection_id, SHV_HV_CONN_MESSAGES, &t,
			     &conn);
	if (status)
		return status;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		status = HV_STATUS_INSUFFICIENT_MEMORY;
		goto out;
	}
	m->msg.header.message_type = in.message_type;
	m->msg.header.payload_size = in.payload_size;
	m->msg.header.sender = in.connection_id;
	memcpy(m->msg.u.payload, in.payload, in.payload_size);
	if (!queue_msg(t->hv, conn.sint, m)) {
		kfree(m);
		status = HV_STATUS_INSUFFICIENT_BUFFERS;
	}
out:
	shv_vm_put(t->vm);
	return status;
}

/* set flag @flag of SINT @sint of @th, for its next entry */
static void set_event(struct shv_hv_vcpu *th, unsigned int sint,
		      unsigned int flag)
{
	set_bit(sint * HV_SIEF_BITS + flag, th->events);
	hv_kick(th, WORK_EVENT(sint));
}

static u16 signal_event(struct shv_vcpu *vcpu, bool fast, u64 in)
{
	struct shv_hv_conn conn;
	struct shv_vcpu *t;
	u16 status;
	u32 flag;

	if (!fast) {
		u64 gpa = in;

		if (gpa & 7)
			return HV_STATUS_INVALID_ALIGNMENT;
		if (shv_read_guest_phys(vcpu->vm, gpa, &in, sizeof(in)))
			return HV_STATUS_INVALID_PARAMETER;
	}
	flag = (in >> 32) & 0xffff;
	if ((in >> 48) || flag >= HV_SIEF_BITS)
		return HV_STATUS_INVALID_PARAMETER;
	status = conn_target(vcpu, (u32)in, SHV_HV_CONN_EVENTS, &t, &conn);
	if (status)
		return status;
	/* FlagNumber is relative to the port's base */
	if (flag < conn.flag_count)
		set_event(t->hv, conn.sint, conn.flag_base + flag);
	else
		status = HV_STATUS_INVALID_PARAMETER;
	shv_vm_put(t->vm);
	return status;
}

static u64 do_hypercall(struct shv_vcpu *vcpu, u64 control, u64 in)
{
	bool fast = control & HV_HYPERCALL_FAST_BIT;
	u16 code = control & 0xffff;

	if (control & HV_HYPERCALL_RSVD_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	switch (code) {
	case HVCALL_POST_MESSAGE:
	case HVCALL_SIGNAL_EVENT:
		/* simple calls: no rep count, no variable header */
		if (control & (HV_HYPERCALL_REP_COMP_MASK |
			       HV_HYPERCALL_REP_START_MASK |
			       HV_HYPERCALL_VARHEAD_MASK))
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		if (code == HVCALL_POST_MESSAGE)
			return post_message(vcpu, fast, in);
		return signal_event(vcpu, fast, in);
	default:
		return HV_STATUS_INVALID_HYPERCALL_CODE;
	}
}

/*
 * VMMCALL with a guest OS ID set is a Hyper-V hypercall: RCX control, RDX
 * input, R8 output, result in RAX (64-bit); EDX:EAX, EBX:ECX, EDI:ESI and
 * EDX:EAX in 32-bit code.  #UD outside CPL 0 protected mode.
 */
bool shv_hv_hypercall(struct shv_vcpu *vcpu, u64 next_rip)
{
	struct shv_hv *hv = vcpu->vm->hv;
	u64 *g = vcpu->regs, control, in, ret;
	struct shv_sregs s;
	bool longmode;

	if (!hv || !vcpu->hv || !READ_ONCE(hv->guest_os_id))
		return false;
	shv_arch->get_sregs(vcpu, &s);
	if (!(s.cr0 & X86_CR0_PE) || shv_arch->get_cpl(vcpu)) {
		shv_arch->queue_exception(vcpu, SHV_UD_VECTOR, false, 0);
		return true;
	}
	longmode = (s.efer & EFER_LMA) && s.cs.l;
	if (longmode) {
		control = g[SHV_RCX];
		in = g[SHV_RDX];
	} else {
		control = (u64)(u32)g[SHV_RDX] << 32 | (u32)g[SHV_RAX];
		in = (u64)(u32)g[SHV_RBX] << 32 | (u32)g[SHV_RCX];
	}
	ret = do_hypercall(vcpu, control, in);
	vcpu->stats.hv_hypercalls++;
	if (longmode) {
		g[SHV_RAX] = ret;
	} else {
		g[SHV_RDX] = ret >> 32;
		g[SHV_RAX] = (u32)ret;
	}
	shv_arch->skip_insn(vcpu, next_rip);
	return true;
}

/* --- VM and vCPU life --- */

static int hv_enable(struct shv_vm *vm)
{
	struct shv_hv *hv;
	int r = 0;

	mutex_lock(&vm->lock);
	if (vm->hv)
		r = -EEXIST;
	else if (!vm->irqchip)
		r = -ENXIO;
	else if (vm->nr_vcpus)
		r = -EBUSY;
	if (r)
		goto out;
	r = -ENOMEM;
	hv = kzalloc(sizeof(*hv), GFP_KERNEL_ACCOUNT);
	if (!hv)
		goto out;
	hv->ep = kzalloc(sizeof(*hv->ep), GFP_KERNEL_ACCOUNT);
	if (!hv->ep) {
		kfree(hv);
		goto out;
	}
	kref_init(&hv->ep->ref);
	spin_lock_init(&hv->ep->lock);
	hv->ep->vm = vm;
	mutex_init(&hv->lock);
	xa_init(&hv->conns);
	hv->t0_ns = ktime_get_ns();
	WRITE_ONCE(vm->hv, hv);
	r = 0;
out:
	mutex_unlock(&vm->lock);
	return r;
}

static void conn_free(struct shv_hv_conn *conn)
{
	kref_put(&conn->ep->ref, ep_release);
	kfree(conn);
}

static int hv_set_connection(struct shv_vm *vm,
			     const struct shv_hv_connection *c)
{
	struct shv_hv *hv = vm->hv;
	struct shv_hv_conn *conn, *old;
	struct shv_hv_ep *ep;
	int r;

	if (!hv)
		return -ENXIO;
	if ((c->conn_id & ~HV_CONN_ID_MASK) || c->sint >= HV_NR_SINTS ||
	    c->vcpu >= SHV_MAX_VCPUS ||
	    (c->flags & ~(SHV_HV_CONN_MESSAGES | SHV_HV_CONN_EVENTS)) ||
	    c->reserved)
		return -EINVAL;
	/* the port's flags: only for events, within the SINT's area */
	if (c->flags & SHV_HV_CONN_EVENTS) {
		if (c->flag_base >= HV_SIEF_BITS ||
		    c->flag_count > HV_SIEF_BITS - c->flag_base)
			return -EINVAL;
	} else if (c->flag_base || c->flag_count) {
		return -EINVAL;
	}

	if (!c->flags) {
		mutex_lock(&hv->lock);
		old = xa_erase(&hv->conns, c->conn_id);
		if (old)
			hv->nr_conns--;
		mutex_unlock(&hv->lock);
		if (!old)
			return -ENOENT;
		conn_free(old);
		return 0;
	}

	if (c->target_fd == -1) {
		ep = hv->ep;
		kref_get(&ep->ref);
	} else {
		struct shv_vm *t = shv_vm_get_by_fd(c->target_fd);
		struct shv_hv *thv;

		if (IS_ERR(t))
			return PTR_ERR(t);
		thv = READ_ONCE(t->hv);
		ep = thv ? thv->ep : NULL;
		if (ep)
			kref_get(&ep->ref);
		shv_vm_put(t);
		if (!ep)
			return -EINVAL;
	}
	conn = kzalloc(sizeof(*conn), GFP_KERNEL_ACCOUNT);
	if (!conn) {
		kref_put(&ep->ref, ep_release);
		return -ENOMEM;
	}
	conn->ep = ep;
	conn->vcpu = c->vcpu;
	conn->sint = c->sint;
	conn->flags = c->flags;
	conn->flag_base = c->flag_base;
	conn->flag_count = c->flag_count ? c->flag_count :
			   HV_SIEF_BITS - c->flag_base;

	mutex_lock(&hv->lock);
	old = xa_load(&hv->conns, c->conn_id);
	if (!old && hv->nr_conns >= SHV_HV_MAX_CONNECTIONS) {
		r = -ENOSPC;
	} else {
		r = xa_err(xa_store(&hv->conns, c->conn_id, conn,
				    GFP_KERNEL_ACCOUNT));
		if (!r && !old)
			hv->nr_conns++;
	}
	mutex_unlock(&hv->lock);
	if (r)
		old = conn;	/* not stored: free it instead */
	if (old)
		conn_free(old);
	return r;
}

/*
 * The SynIC of vCPU @id of @vm, for userspace (fields checked: @id below
 * SHV_MAX_VCPUS), or NULL if there is no such vCPU.
 */
static struct shv_hv_vcpu *hv_user_target(struct shv_vm *vm, u32 id)
{
	/* vCPUs live as long as their VM: no reference needed */
	struct shv_vcpu *t = READ_ONCE(vm->vcpus[id]);

	return t ? t->hv : NULL;
}

static int hv_user_sint(struct shv_vm *vm, unsigned int ioctl,
			void __user *argp)
{
	struct shv_hv_vcpu *th;
	struct shv_hv_sint s;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (!vm->hv)
		return -ENXIO;
	if (s.vcpu >= SHV_MAX_VCPUS || s.sint >= HV_NR_SINTS || s.reserved ||
	    (ioctl == SHV_HV_RAISE_SINT ? s.flag : s.flag >= HV_SIEF_BITS))
		return -EINVAL;
	th = hv_user_target(vm, s.vcpu);
	if (!th)
		return -ENOENT;
	if (ioctl == SHV_HV_RAISE_SINT)
		hv_kick(th, WORK_SINT(s.sint));
	else
		set_event(th, s.sint, s.flag);
	return 0;
}

static int hv_user_post(struct shv_vm *vm, void __user *argp)
{
	struct shv_hv_message *u;
	struct shv_hv_vcpu *th;
	struct shv_hv_msg *m;
	int r;

	u = memdup_user(argp, sizeof(*u));
	if (IS_ERR(u))
		return PTR_ERR(u);
	r = -ENXIO;
	if (!vm->hv)
		goto out;
	r = -EINVAL;
	if (u->vcpu >= SHV_MAX_VCPUS || u->sint >= HV_NR_SINTS || u->flags ||
	    u->reserved || u->message_type == HVMSG_NONE ||
	    u->payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT ||
	    u->message_flags || u->reserved2)
		goto out;
	r = -ENOENT;
	th = hv_user_target(vm, u->vcpu);
	if (!th)
		goto out;
	r = -ENOMEM;
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		goto out;
	m->msg.header.message_type = u->message_type;
	m->msg.header.payload_size = u->payload_size;
	m->msg.header.sender = u->sender;
	memcpy(m->msg.u.payload, u->payload, u->payload_size);
	r = 0;
	if (!queue_msg(th, u->sint, m)) {
		kfree(m);
		r = -EAGAIN;
	}
out:
	kfree(u);
	return r;
}

long shv_hv_vm_ioctl(struct shv_vm *vm, unsigned int ioctl,
		     unsigned long arg)
{
	struct shv_hv_connection c;

	switch (ioctl) {
	case SHV_ENABLE_HYPERV:
		return arg ? -EINVAL : hv_enable(vm);
	case SHV_HV_SET_CONNECTION:
		if (copy_from_user(&c, (void __user *)arg, sizeof(c)))
			return -EFAULT;
		return hv_set_connection(vm, &c);
	case SHV_HV_RAISE_SINT:
	case SHV_HV_SIGNAL_EVENT:
		return hv_user_sint(vm, ioctl, (void __user *)arg);
	case SHV_HV_POST_MESSAGE:
		return hv_user_post(vm, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

/* after the vCPUs are gone, before the VM is freed */
void shv_hv_vm_destroy(struct shv_vm *vm)
{
	struct shv_hv *hv = vm->hv;
	struct shv_hv_conn *conn;
	unsigned long id;

	if (!hv)
		return;
	spin_lock(&hv->ep->lock);
	hv->ep->vm = NULL;
	spin_unlock(&hv->ep->lock);
	kref_put(&hv->ep->ref, ep_release);
	xa_for_each(&hv->conns, id, conn)
		conn_free(conn);
	xa_destroy(&hv->conns);
	kfree(hv);
	vm->hv = NULL;
}

int shv_hv_vcpu_create(struct shv_vcpu *vcpu)
{
	struct shv_hv_vcpu *hv;
	unsigned int i;

	BUILD_BUG_ON(WORK_BITS > BITS_PER_LONG);
	BUILD_BUG_ON(HV_NR_SINTS != SHV_HV_SINTS);
	BUILD_BUG_ON(HV_SIEF_BITS != SHV_HV_EVENT_FLAGS);
	BUILD_BUG_ON(sizeof(struct hv_message) !=
		     sizeof(struct shv_hv_message) -
		     offsetof(struct shv_hv_message, message_type));

	if (!vcpu->vm->hv)
		return 0;
	hv = kzalloc(sizeof(*hv), GFP_KERNEL_ACCOUNT);
	if (!hv)
		return -ENOMEM;
	hv->events = bitmap_zalloc(HV_NR_SINTS * HV_SIEF_BITS,
				   GFP_KERNEL_ACCOUNT);
	if (!hv->events) {
		kfree(hv);
		return -ENOMEM;
	}
	hv->vcpu = vcpu;
	spin_lock_init(&hv->lock);
	for (i = 0; i < HV_NR_SINTS; i++) {
		INIT_LIST_HEAD(&hv->queue[i]);
		hv->sint[i] = HV_SYNIC_SINT_MASKED;
	}
	for (i = 0; i < HV_NR_STIMERS; i++) {
		struct shv_hv_stimer *st = &hv->stimer[i];

		st->hv = hv;
		st->index = i;
		st->msg.stimer = st;
		hrtimer_init(&st->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
		st->timer.function = stimer_fn;
	}
	vcpu->hv = hv;
	return 0;
}

void shv_hv_vcpu_free(struct shv_vcpu *vcpu)
{
	struct shv_hv_vcpu *hv = vcpu->hv;
	struct shv_hv_msg *m, *n;
	unsigned int i;

	if (!hv)
		return;
	for (i = 0; i < HV_NR_STIMERS; i++)
		hrtimer_cancel(&hv->stimer[i].timer);
	for (i = 0; i < HV_NR_SINTS; i++)
		list_for_each_entry_safe(m, n, &hv->queue[i], node)
			free_msg(m);
	bitmap_free(hv->events);
	kfree(hv);
	vcpu->hv = NULL;
}
