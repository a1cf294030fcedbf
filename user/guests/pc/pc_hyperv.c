// SPDX-License-Identifier: GPL-2.0
/*
 * pc_hyperv: the Hyper-V SynIC through QEMU's Hyper-V test device at port
 * 0x3000 (shv-run --hyperv).  The hypercall page, SIMP and SIEFP on every
 * CPU; SINT routes fired at each SINT of this CPU and of another (with
 * and without AutoEOI), masked, with the SynIC off and after destroy; a
 * message connection that echoes HvPostMessage into the slot, a busy
 * slot with MessagePending and the EOM that brings the next message; an
 * event connection that sets the flag numbered by the connection for
 * HvSignalEvent; connections destroyed.  Command line: cpus=N (1 or 2).
 */
#include "lib.h"

#define FW_CFG_NB_CPUS		0x05

#define HV_CPUID_VENDOR		0x40000000
#define HV_CPUID_INTERFACE	0x40000001
#define HV_INTERFACE_HV1	0x31237648	/* "Hv#1" */
#define HV_CPUID_FEATURES	0x40000003
#define HV_SYNIC_AVAILABLE	(1u << 2)
#define HV_HYPERCALL_AVAILABLE	(1u << 5)
#define HV_VP_INDEX_AVAILABLE	(1u << 6)
#define HV_POST_MESSAGES	(1u << 4)	/* EBX */
#define HV_SIGNAL_EVENTS	(1u << 5)

#define MSR_GUEST_OS_ID		0x40000000
#define MSR_HYPERCALL		0x40000001
#define MSR_VP_INDEX		0x40000002
#define MSR_SCONTROL		0x40000080
#define MSR_SIEFP		0x40000082
#define MSR_SIMP		0x40000083
#define MSR_EOM			0x40000084
#define MSR_SINT0		0x40000090
#define SINT_MASKED		(1ull << 16)
#define SINT_AUTO_EOI		(1ull << 17)

#define HVCALL_POST_MESSAGE	0x5c
#define HVCALL_SIGNAL_EVENT	0x5d
#define HV_FAST			(1ull << 16)
#define HV_STATUS_INVALID_PARAMETER	5
#define HV_STATUS_INVALID_CONNECTION_ID	18

#define TESTDEV			0x3000
enum {
	SINT_ROUTE_CREATE = 1,
	SINT_ROUTE_DESTROY,
	SINT_ROUTE_SET_SINT,
	MSG_CONN_CREATE,
	MSG_CONN_DESTROY,
	EVT_CONN_CREATE,
	EVT_CONN_DESTROY,
};

#define NR_SINTS		16
#define SINT_VEC(s)		(0xb0 + (s))
#define MSG_SINT		8		/* AutoEOI */
#define EVT_SINT		9		/* EOI */
#define MSG_CONN		0x10		/* + CPU */
#define EVT_CONN		0x20		/* + CPU: flags 0x20, 0x21 */
#define MSG_TYPE		0x12345678
#define NCPUS			2
#define WAIT_US			3000000	/* for what must come */
#define QUIET_US		2000	/* for what must not */

struct hv_message {
	u32 type;
	u8 payload_size;
	u8 flags;
	u16 reserved;
	u64 sender;
	u64 payload[30];
};

struct hv_post_message {
	u32 connection_id;
	u32 reserved;
	u32 message_type;
	u32 payload_size;
	u64 payload[30];
};

struct percpu {
	struct hv_message msg_page[NR_SINTS];
	u64 evt_page[NR_SINTS][32];
	struct hv_post_message post;
	u8 pad[4096 - sizeof(struct hv_post_message)];
} __attribute__((aligned(4096)));

static u8 hypercall_page[4096] __attribute__((aligned(4096)));
static struct percpu percpu[NCPUS];
static volatile u32 sints[NCPUS][NR_SINTS];	/* interrupts per SINT */
static volatile u32 ap_ready;
static volatile u64 evt_input __attribute__((aligned(8)));

/* the SINTs kvm-unit-tests' hyperv_synic gives AutoEOI */
static bool auto_eoi(unsigned int sint)
{
	return sint == 3 || sint == 8 || sint == 10 || sint == 14;
}

static u32 cpu(void)
{
	return apic_id() ? 1 : 0;
}

static void testdev(u32 ctl, u32 vp, u32 sint, u32 conn)
{
	outl(TESTDEV, conn << 24 | ctl << 16 | vp << 8 | sint);
}

static u64 hypercall(u16 code, u64 in, bool fast)
{
	register u64 out asm("r8") = 0;
	u64 ret;

	asm volatile("call *%[page]"
		     : "=a"(ret)
		     : "c"(code | (fast ? HV_FAST : 0)), "d"(in), "r"(out),
		       [page] "r"((ulong)hypercall_page)
		     : "memory");
	return ret;
}

static u64 post(u32 conn, u64 p0, u64 p1)
{
	struct hv_post_message *m = &percpu[cpu()].post;

	m->connection_id = conn;
	m->reserved = 0;
	m->message_type = MSG_TYPE;
	m->payload_size = 16;
	m->payload[0] = p0;
	m->payload[1] = p1;
	return hypercall(HVCALL_POST_MESSAGE, (ulong)m, false);
}

static u64 signal(u32 conn, u32 flag)
{
	return hypercall(HVCALL_SIGNAL_EVENT, (u64)flag << 32 | conn, true);
}

/* wait until *p >= n, at most ~@us microseconds */
static bool wait_ge(volatile u32 *p, u32 n, u32 us)
{
	u32 ticks = (u32)div64((u64)us * PM_TIMER_HZ, 1000000, NULL);
	u32 last = pm_timer(), waited = 0;

	while (*p < n) {
		u32 now = pm_timer();

		waited += (now - last) & 0xffffff;
		last = now;
		if (waited >= ticks)
			return *p >= n;
		pause();
	}
	return true;
}

static u32 total(u32 c)
{
	u32 i, n = 0;

	for (i = 0; i < NR_SINTS; i++)
		n += sints[c][i];
	return n;
}

static void sint_isr(struct frame *f)
{
	u32 sint = f->vector - SINT_VEC(0);

	sints[cpu()][sint]++;
	if (!auto_eoi(sint))
		apic_eoi();
}

/* this CPU's SynIC: pages, every SINT on its vector, enabled */
static void synic_on(void)
{
	struct percpu *p = &percpu[cpu()];
	u32 i;

	wrmsr(MSR_SIMP, (ulong)p->msg_page | 1);
	wrmsr(MSR_SIEFP, (ulong)p->evt_page | 1);
	for (i = 0; i < NR_SINTS; i++)
		wrmsr(MSR_SINT0 + i, SINT_VEC(i) |
		      (auto_eoi(i) ? SINT_AUTO_EOI : 0));
	wrmsr(MSR_SCONTROL, 1);
}

void ap_main(u32 index)
{
	(void)index;
	synic_on();
	testdev(MSG_CONN_CREATE, 1, MSG_SINT, MSG_CONN + 1);
	testdev(EVT_CONN_CREATE, 1, EVT_SINT, EVT_CONN + 1);
	ap_ready = rdmsr(MSR_VP_INDEX) + 1;
	for (;;)
		asm volatile("sti; hlt; cli");
}

static u32 start_ap(void)
{
	memcpy((void *)AP_TRAMPOLINE, ap_tramp, ap_tramp_end - ap_tramp);
	apic_icr(0, 0xc4500);			/* INIT, all but self */
	pm_delay_us(10000);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
	pm_delay_us(200);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
	wait_for(&ap_ready, 3000000);
	return ap_ready;
}

static bool interface(void)
{
	u32 a, b, c, d;

	char vendor[13];

	/* shv says "Microsoft Hv", KVM "Linux KVM Hv": guests look at 1 */
	cpuid(HV_CPUID_VENDOR, 0, &a, &b, &c, &d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &c, 4);
	memcpy(vendor + 8, &d, 4);
	vendor[12] = 0;
	diag("hypervisor vendor \"%s\", leaves up to 0x%x", vendor, a);
	cpuid(HV_CPUID_INTERFACE, 0, &a, &b, &c, &d);
	if (!ok(a == HV_INTERFACE_HV1, "CPUID 0x40000001: the Hyper-V interface"))
		return false;
	cpuid(HV_CPUID_FEATURES, 0, &a, &b, &c, &d);
	diag("Hyper-V features EAX 0x%x EBX 0x%x", a, b);
	return ok((a & (HV_SYNIC_AVAILABLE | HV_HYPERCALL_AVAILABLE |
			HV_VP_INDEX_AVAILABLE)) ==
		  (HV_SYNIC_AVAILABLE | HV_HYPERCALL_AVAILABLE |
		   HV_VP_INDEX_AVAILABLE) &&
		  (b & (HV_POST_MESSAGES | HV_SIGNAL_EVENTS)) ==
		  (HV_POST_MESSAGES | HV_SIGNAL_EVENTS),
		  "SynIC, hypercalls, VP index, PostMessages, SignalEvents");
}

/* what a failed count saw: one diagnostic line (lost or extra?) */
static void counts(u32 vp)
{
	u32 i;

	printf("# VP %u, interrupts per SINT 0-15:", vp);
	for (i = 0; i < NR_SINTS; i++)
		printf(" %u", sints[vp][i]);
	if (vp == cpu())	/* vectors 0xa0-0xbf: SINTs in the top half */
		printf(" (IRR 0x%x, ISR 0x%x)", apic_read(APIC_IRR + 0x50),
		       apic_read(APIC_ISR + 0x50));
	printf("\n");
}

/* route every SINT of @vp, fire each once, count */
static void routes(u32 vp)
{
	bool each = true;
	u32 i;

	for (i = 0; i < NR_SINTS; i++)
		testdev(SINT_ROUTE_CREATE, vp, i, 0);
	for (i = 0; i < NR_SINTS; i++)
		testdev(SINT_ROUTE_SET_SINT, vp, i, 0);
	for (i = 0; i < NR_SINTS; i++)
		each &= wait_ge(&sints[vp][i], 1, WAIT_US);
	pm_delay_us(QUIET_US);
	for (i = 0; i < NR_SINTS; i++)
		each &= sints[vp][i] == 1;
	if (!ok(each, "VP %u: each of 16 SINT routes fired once", vp))
		counts(vp);
	if (vp == cpu())
		ok(!(apic_read(APIC_ISR + 0x50) & 0xffff0000),
		   "no SINT vector left in service (AutoEOI and EOI)");
	for (i = 0; i < NR_SINTS; i++)
		testdev(SINT_ROUTE_SET_SINT, vp, i, 0);
	each = true;
	for (i = 0; i < NR_SINTS; i++)
		each &= wait_ge(&sints[vp][i], 2, WAIT_US);
	if (!ok(each && total(vp) == 2 * NR_SINTS, "VP %u: and once more",
		vp))
		counts(vp);
}

static void sint_cases(void)
{
	u32 n = total(0);

	wrmsr(MSR_SINT0 + 5, SINT_VEC(5) | SINT_MASKED);
	testdev(SINT_ROUTE_SET_SINT, 0, 5, 0);
	pm_delay_us(QUIET_US);
	ok(total(0) == n, "a masked SINT takes nothing");
	wrmsr(MSR_SINT0 + 5, SINT_VEC(5));
	pm_delay_us(QUIET_US);
	ok(total(0) == n, "nor does it once unmasked");

	wrmsr(MSR_SCONTROL, 0);
	testdev(SINT_ROUTE_SET_SINT, 0, 4, 0);
	pm_delay_us(QUIET_US);
	wrmsr(MSR_SCONTROL, 1);
	pm_delay_us(QUIET_US);
	ok(total(0) == n, "the SynIC disabled: nothing");

	testdev(SINT_ROUTE_CREATE, 0, 6, 0);	/* two of SINT 6 */
	testdev(SINT_ROUTE_DESTROY, 0, 6, 0);
	testdev(SINT_ROUTE_SET_SINT, 0, 6, 0);
	ok(wait_ge(&sints[0][6], 3, WAIT_US) && total(0) == n + 1,
	   "a route created twice outlives one destroy");
	testdev(SINT_ROUTE_DESTROY, 0, 6, 0);
	testdev(SINT_ROUTE_SET_SINT, 0, 6, 0);
	pm_delay_us(QUIET_US);
	ok(total(0) == n + 1, "a destroyed route fires nothing");
	testdev(SINT_ROUTE_SET_SINT, 0, 7, 0);
	ok(wait_ge(&sints[0][7], 3, WAIT_US), "the others still fire");

	n = total(0);
	testdev(SINT_ROUTE_CREATE, NCPUS + 7, 0, 0);	/* no such VP */
	testdev(SINT_ROUTE_SET_SINT, NCPUS + 7, 0, 0);
	testdev(SINT_ROUTE_SET_SINT, 0, NR_SINTS, 0);	/* no such SINT */
	testdev(SINT_ROUTE_SET_SINT, 0, 0x80, 0);
	testdev(MSG_CONN_DESTROY, 0, 0, 0x77);		/* nothing there */
	testdev(EVT_CONN_DESTROY + 1, 0, 0, 0);		/* no such command */
	testdev(0, 0, 0, 0);
	outw(TESTDEV, SINT_ROUTE_SET_SINT << 8);	/* not 32 bits */
	pm_delay_us(QUIET_US);
	ok(total(0) == n && inl(TESTDEV) == 0,
	   "commands for no VP or SINT, unknown ones, other widths: ignored");
}

static bool slot_is(const struct hv_message *m, u64 p0, u8 flags)
{
	return m->type == MSG_TYPE && m->payload_size == 16 &&
	       m->payload[0] == p0 && m->payload[1] == ~p0 &&
	       m->flags == flags && m->sender == MSG_CONN;
}

/* free the slot as a guest's handler does; EOM if something waits */
static void slot_done(struct hv_message *m)
{
	m->type = 0;
	asm volatile("mfence" ::: "memory");
	if (m->flags & 1)
		wrmsr(MSR_EOM, 0);
}

static void messages(u32 cpus)
{
	struct hv_message *slot = &percpu[0].msg_page[MSG_SINT];
	volatile u32 *n = &sints[0][MSG_SINT];
	u32 base = *n;

	testdev(MSG_CONN_CREATE, 0, MSG_SINT, MSG_CONN);
	ok(post(MSG_CONN, 0x1111, ~0x1111ull) == 0, "HvPostMessage: success");
	ok(wait_ge(n, base + 1, WAIT_US) && *n == base + 1,
	   "the echo raised the SINT");
	ok(slot_is(slot, 0x1111, 0),
	   "the slot: type, size, payload, sender = connection id");

	/* the slot is busy: the next ones wait */
	ok(post(MSG_CONN, 0x2222, ~0x2222ull) == 0 &&
	   post(MSG_CONN, 0x3333, ~0x3333ull) == 0,
	   "two more posts to the busy slot succeed");
	pm_delay_us(QUIET_US);
	ok(*n == base + 1 && slot_is(slot, 0x1111, 1),
	   "no interrupt; the slot keeps the first, MessagePending set");
	slot_done(slot);
	ok(wait_ge(n, base + 2, WAIT_US) && slot_is(slot, 0x2222, 1),
	   "EOM: the second, MessagePending for the third");
	slot_done(slot);
	ok(wait_ge(n, base + 3, WAIT_US) && slot_is(slot, 0x3333, 0),
	   "EOM: the third, nothing pending");
	slot_done(slot);
	pm_delay_us(QUIET_US);
	ok(*n == base + 3, "three messages, three interrupts");

	if (cpus > 1) {
		struct hv_message *ap = &percpu[1].msg_page[MSG_SINT];
		u32 ap_base = sints[1][MSG_SINT];

		ok(post(MSG_CONN + 1, 0x4444, ~0x4444ull) == 0 &&
		   wait_ge(&sints[1][MSG_SINT], ap_base + 1, WAIT_US) &&
		   ap->type == MSG_TYPE && ap->payload[0] == 0x4444 &&
		   ap->sender == MSG_CONN + 1,
		   "a message to VP 1's connection reaches VP 1");
	}

	testdev(MSG_CONN_DESTROY, 0, 0, MSG_CONN);
	ok(post(MSG_CONN, 0x5555, 0) == HV_STATUS_INVALID_CONNECTION_ID,
	   "destroyed: HV_STATUS_INVALID_CONNECTION_ID");
	ok(post(0x55, 0x5555, 0) == HV_STATUS_INVALID_CONNECTION_ID,
	   "never created: the same");
	pm_delay_us(QUIET_US);
	ok(*n == base + 3 && slot->type == 0, "and nothing arrives");
}

static void events(u32 cpus)
{
	volatile u64 *word = &percpu[0].evt_page[EVT_SINT][0];
	volatile u32 *n = &sints[0][EVT_SINT];
	u64 bit = 1ull << EVT_CONN;
	u32 base = *n;

	testdev(EVT_CONN_CREATE, 0, EVT_SINT, EVT_CONN);
	ok(signal(EVT_CONN, 0) == 0, "HvSignalEvent: success");
	ok(wait_ge(n, base + 1, WAIT_US) && *word == bit,
	   "flag 0x%x (the connection id) set, the SINT raised", EVT_CONN);
	ok(signal(EVT_CONN, 0) == 0, "again: success");
	pm_delay_us(QUIET_US);
	ok(*n == base + 1 && *word == bit,
	   "no interrupt for a flag already set");
	__atomic_and_fetch(word, ~bit, __ATOMIC_SEQ_CST);
	evt_input = EVT_CONN;
	ok(hypercall(HVCALL_SIGNAL_EVENT, (ulong)&evt_input, false) == 0 &&
	   wait_ge(n, base + 2, WAIT_US) && *word == bit,
	   "cleared: the slow form sets it again, with an interrupt");
	ok(signal(EVT_CONN, 1) == HV_STATUS_INVALID_PARAMETER,
	   "FlagNumber 1: past the connection's one flag");

	if (cpus > 1) {
		volatile u64 *ap = &percpu[1].evt_page[EVT_SINT][0];
		u32 ap_base = sints[1][EVT_SINT];

		ok(signal(EVT_CONN + 1, 0) == 0 &&
		   wait_ge(&sints[1][EVT_SINT], ap_base + 1, WAIT_US) &&
		   *ap == 1ull << (EVT_CONN + 1),
		   "an event on VP 1's connection reaches VP 1");
	}

	testdev(EVT_CONN_DESTROY, 0, 0, EVT_CONN);
	__atomic_and_fetch(word, ~bit, __ATOMIC_SEQ_CST);
	ok(signal(EVT_CONN, 0) == HV_STATUS_INVALID_CONNECTION_ID,
	   "destroyed: HV_STATUS_INVALID_CONNECTION_ID");
	pm_delay_us(QUIET_US);
	ok(*n == base + 2 && !*word, "and no flag, no interrupt");
}

void test_main(void)
{
	u32 want = atou(arg_value("cpus") ? arg_value("cpus") : "1");
	u32 cpus = fwcfg_u64(FW_CFG_NB_CPUS, 2), i;

	ok(cpus == want && cpus <= NCPUS, "%u CPUs", cpus);
	if (!interface())
		return;
	apic_enable();
	for (i = 0; i < NR_SINTS; i++)
		set_isr(SINT_VEC(i), sint_isr);
	wrmsr(MSR_GUEST_OS_ID, 0x8100000000000001ull);
	wrmsr(MSR_HYPERCALL, (ulong)hypercall_page | 1);
	ok(rdmsr(MSR_HYPERCALL) == ((ulong)hypercall_page | 1),
	   "hypercall page enabled");
	synic_on();
	ok(rdmsr(MSR_VP_INDEX) == 0, "BSP: VP index 0");
	if (cpus > 1)
		ok(start_ap() == 2, "AP up with its SynIC: VP index 1");
	sti();

	routes(0);
	if (cpus > 1)
		routes(1);
	sint_cases();
	messages(cpus);
	events(cpus);
	for (i = 0; i < NR_SINTS; i++) {
		testdev(SINT_ROUTE_DESTROY, 0, i, 0);
		if (cpus > 1)
			testdev(SINT_ROUTE_DESTROY, 1, i, 0);
	}
	cli();
}
