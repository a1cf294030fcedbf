// SPDX-License-Identifier: GPL-2.0
/*
 * pc_smp: count the CPUs (fw_cfg, MADT), start every AP with
 * INIT-SIPI-SIPI, then send IPIs across the CPUs in every destination
 * mode: xAPIC physical (each CPU, broadcast), logical flat and logical
 * cluster, x2APIC physical and cluster, the shorthands self, all and
 * all-but-self (from the BSP and from an AP), lowest priority, NMI, and
 * from AP to AP; and INIT-SIPI again to a running AP.  Command line:
 * cpus=N (1..16 keeps every CPU addressable in every mode; flat logical
 * mode reaches the first 8).
 *
 * Every CPU counts the test IPIs (IPI_VECTOR) and NMIs it takes.  After
 * each step the BSP waits for the counts it expects, then makes sure
 * nothing else is on its way: a SYNC command reaches each AP through
 * CMD_VECTOR, of a lower priority class than IPI_VECTOR, so it is
 * handled after any test IPI sent to that AP before it (the BSP syncs
 * with itself the same way).  Only then are the counts compared, exactly.
 * Lowest-priority IPIs may go to any CPU of the destination set, so only
 * their sum over the set is compared; they are sent one at a time, each
 * after the previous one arrived, since two pending IPIs of the same
 * vector would merge in IRR.
 *
 * The APs idle in "sti; hlt" and act in interrupt context only: the
 * CMD_VECTOR handler runs the command in the mailbox (change the logical
 * destination mode, switch to x2APIC, send an IPI) and acknowledges it.
 */
#include "acpi.h"

#define FW_CFG_NB_CPUS	0x05
#define IPI_VECTOR	0x70
#define CMD_VECTOR	0x40	/* a lower priority class than IPI_VECTOR */
#define SYNC_VECTOR	0x41	/* the BSP's own sync */

#define MSR_APIC_BASE	0x1b
#define APIC_BASE_EXTD	(1u << 10)
#define X2APIC_ID	0x802
#define X2APIC_EOI	0x80b
#define X2APIC_LDR	0x80d
#define X2APIC_ICR	0x830
#define X2APIC_SELF_IPI	0x83f
#define APIC_LDR	0xd0
#define APIC_DFR	0xe0

/* ICR */
#define DM_LOWEST	0x100
#define DM_NMI		0x400
#define LOGICAL		0x800
#define SH_SELF		(1u << 18)
#define SH_ALL		(2u << 18)
#define SH_OTHERS	(3u << 18)
#define X2_BROADCAST	0xffffffffu

#define CPUS		16	/* at most, for these tests */
#define ALL		0xff	/* mailbox target: every AP */
#define RING		0xff	/* OP_SEND destination: the next CPU */

enum { OP_SYNC, OP_FLAT, OP_CLUSTER, OP_X2APIC, OP_SEND };

static u32 cpus;
static u64 tsc_per_ms;
static volatile u32 online;
static volatile u32 ap_apic_id[MAX_CPUS + 1];

/* per APIC ID: what each CPU took, and what the BSP expects */
static volatile u32 got[CPUS], got_nmi[CPUS];
static u32 want[CPUS], want_nmi[CPUS];
static volatile bool in_x2apic[CPUS];
static volatile u32 x2_id[CPUS], x2_ldr[CPUS];

static struct {
	volatile u32 seq, target, op, dest, icr;
} mbox;
static volatile u32 ack[CPUS];
static volatile u32 self_syncs;

/* the initial APIC ID, whatever the APIC's mode */
static u32 me(void)
{
	u32 a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

static void eoi(u32 id)
{
	if (in_x2apic[id])
		wrmsr(X2APIC_EOI, 0);
	else
		apic_eoi();
}

/* send an IPI from CPU @id, in the mode its APIC is in */
static void send(u32 id, u32 dest, u32 icr)
{
	if (in_x2apic[id])
		wrmsr(X2APIC_ICR, (u64)dest << 32 | icr);
	else
		apic_icr(dest, icr);
}

static void ipi_isr(struct frame *f)
{
	u32 id = me();

	(void)f;
	if (id < CPUS)
		got[id]++;
	eoi(id);
}

static void nmi_isr(struct frame *f)
{
	u32 id = me();

	(void)f;
	if (id < CPUS)
		got_nmi[id]++;
}

static void sync_isr(struct frame *f)
{
	(void)f;
	self_syncs++;
	eoi(0);
}

static void run_command(u32 id, u32 op, u32 dest, u32 icr)
{
	switch (op) {
	case OP_FLAT:
		apic_write(APIC_DFR, 0xffffffff);
		apic_write(APIC_LDR, id < 8 ? 1u << (24 + id) : 0);
		break;
	case OP_CLUSTER:
		/* cluster id >> 2, member bit id & 3 */
		apic_write(APIC_DFR, 0x0fffffff);
		apic_write(APIC_LDR, (id >> 2) << 28 | 1u << (24 + (id & 3)));
		break;
	case OP_X2APIC:
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EXTD);
		in_x2apic[id] = true;
		x2_id[id] = rdmsr(X2APIC_ID);
		x2_ldr[id] = rdmsr(X2APIC_LDR);
		break;
	case OP_SEND:
		send(id, dest == RING ? (id + 1) % cpus : dest, icr);
		break;
	}
}

static void cmd_isr(struct frame *f)
{
	u32 id = me(), seq = mbox.seq;

	(void)f;
	eoi(id);
	if (id >= CPUS)
		return;
	barrier();
	if (mbox.target == ALL || mbox.target == id)
		run_command(id, mbox.op, mbox.dest, mbox.icr);
	barrier();
	ack[id] = seq;
}

void ap_main(u32 index)
{
	u32 id = apic_id();

	ap_apic_id[index] = id;
	__atomic_add_fetch(&online, 1, __ATOMIC_SEQ_CST);
	for (;;)
		asm volatile("sti; hlt; cli");
}

/* spin until @cond holds, at most 2 s (TSC-timed: no exits) */
#define WAIT(cond) ({							\
	u64 _end = rdtsc() + 2000 * tsc_per_ms;				\
	bool _ok;							\
									\
	while (!(_ok = (cond)) && rdtsc() < _end)			\
		pause();						\
	_ok;								\
})

static bool command(u32 target, u32 op, u32 dest, u32 icr)
{
	u32 seq = mbox.seq + 1, i;
	bool good = true;

	if (cpus < 2)
		return true;
	mbox.target = target;
	mbox.op = op;
	mbox.dest = dest;
	mbox.icr = icr;
	barrier();
	mbox.seq = seq;
	if (target == ALL)
		send(0, 0, SH_OTHERS | CMD_VECTOR);
	else
		send(0, target, CMD_VECTOR);
	for (i = 1; i < cpus; i++)
		if (target == ALL || target == i)
			good &= WAIT(ack[i] == seq);
	if (!good)
		diag("command %u to %u: not acknowledged", op, target);
	return good;
}

/* everything sent before has been taken */
static bool sync_all(void)
{
	u32 n = self_syncs;

	send(0, 0, SH_SELF | SYNC_VECTOR);
	if (!WAIT(self_syncs == n + 1)) {
		diag("the BSP's sync IPI did not arrive");
		return false;
	}
	return command(ALL, OP_SYNC, 0, 0);
}

static bool counts_reached(void)
{
	u32 i;

	for (i = 0; i < cpus; i++)
		if (got[i] < want[i] || got_nmi[i] < want_nmi[i])
			return false;
	return true;
}

/* wait for the expected counts, sync, compare them exactly */
static bool check(const char *what)
{
	bool good;
	u32 i;

	WAIT(counts_reached());
	good = sync_all();
	for (i = 0; i < cpus; i++) {
		if (got[i] == want[i] && got_nmi[i] == want_nmi[i])
			continue;
		diag("CPU %u: %u IPIs, %u NMIs; expected %u, %u", i, got[i],
		     got_nmi[i], want[i], want_nmi[i]);
		good = false;
		/* the next step starts from what happened */
		want[i] = got[i];
		want_nmi[i] = got_nmi[i];
	}
	return ok(good, "%s", what);
}

static void expect_all(void)
{
	u32 i;

	for (i = 0; i < cpus; i++)
		want[i]++;
}

static void expect_others(u32 src)
{
	u32 i;

	for (i = 0; i < cpus; i++)
		if (i != src)
			want[i]++;
}

static u32 sum(u32 set)
{
	u32 i, n = 0;

	for (i = 0; i < cpus; i++)
		if (set & (1u << i))
			n += got[i];
	return n;
}

/*
 * @n lowest-priority IPIs to @dest (logical), whose CPUs are @set: each
 * is taken by exactly one CPU of the set
 */
static void lowest(const char *what, u32 dest, u32 set, u32 n)
{
	u32 base = sum(set), i;
	bool good = true;

	for (i = 0; i < n && good; i++) {
		send(0, dest, DM_LOWEST | LOGICAL | IPI_VECTOR);
		good = WAIT(sum(set) >= base + i + 1);
	}
	good &= sync_all();
	good &= sum(set) == base + n;
	for (i = 0; i < cpus; i++) {
		if (set & (1u << i)) {
			if (got[i] != want[i])
				diag("CPU %u took %u", i, got[i] - want[i]);
			want[i] = got[i];
		} else if (got[i] != want[i]) {
			diag("CPU %u is not in the set but took %u", i,
			     got[i] - want[i]);
			want[i] = got[i];
			good = false;
		}
	}
	ok(good, "%s", what);
}

static void calibrate_tsc(void)
{
	u32 p0 = pm_timer(), ticks = PM_TIMER_HZ / 100;
	u64 t0 = rdtsc();

	while (((pm_timer() - p0) & 0xffffff) < ticks)
		pause();
	tsc_per_ms = (rdtsc() - t0) / 10;
	if (!tsc_per_ms)
		tsc_per_ms = 1;
}

static bool start_aps(const u8 *ids)
{
	u32 start, end, i;
	bool good;

	memcpy((void *)AP_TRAMPOLINE, ap_tramp, ap_tramp_end - ap_tramp);
	start = pm_timer();
	apic_icr(0, 0xc4500);			/* INIT, assert, all but self */
	pm_delay_us(10000);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));	/* SIPI */
	pm_delay_us(200);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
	for (i = 0; i < 3000 && online < cpus - 1; i++)
		pm_delay_us(10000);
	end = pm_timer();
	ok(online == cpus - 1, "%u APs started by INIT-SIPI-SIPI", online);
	diag("APs up after %u ms", (u32)div64((u64)((end - start) & 0xffffff) * 1000,
					      PM_TIMER_HZ, NULL));

	/* the APs' APIC IDs are the MADT's, each once */
	good = online == cpus - 1;
	for (i = 1; i < cpus && good; i++) {
		u32 j, found = 0;

		for (j = 1; j < cpus; j++)
			found += ap_apic_id[j] == ids[i];
		good = found == 1;
	}
	return ok(good, "AP APIC IDs match the MADT");
}

static void xapic_physical(void)
{
	u32 i;

	for (i = 0; i < cpus; i++) {
		send(0, i, IPI_VECTOR);
		want[i]++;
	}
	check("xAPIC physical: an IPI to each CPU, the BSP included");
	send(0, 0xff, IPI_VECTOR);
	expect_all();
	check("xAPIC physical: broadcast (destination 0xff)");
}

/* the shorthands from the BSP, and all-but-self from the last AP */
static void shorthands(bool x2)
{
	send(0, 0, SH_SELF | IPI_VECTOR);
	want[0]++;
	check(x2 ? "x2APIC shorthand: self" :
	      "xAPIC shorthand: self");
	send(0, 0, SH_ALL | IPI_VECTOR);
	expect_all();
	check(x2 ? "x2APIC shorthand: all including self" :
	      "xAPIC shorthand: all including self");
	send(0, 0, SH_OTHERS | IPI_VECTOR);
	expect_others(0);
	check(x2 ? "x2APIC shorthand: all excluding self" :
	      "xAPIC shorthand: all excluding self");
	if (cpus < 2)
		return;
	command(cpus - 1, OP_SEND, 0, SH_OTHERS | IPI_VECTOR);
	expect_others(cpus - 1);
	check(x2 ? "x2APIC shorthand: all excluding self, from an AP" :
	      "xAPIC shorthand: all excluding self, from an AP");
}

/* every AP sends one to the next CPU, the last one to the BSP */
static void ring(const char *what)
{
	u32 i;

	if (cpus < 2)
		return;
	command(ALL, OP_SEND, RING, IPI_VECTOR);
	for (i = 1; i < cpus; i++)
		want[(i + 1) % cpus]++;
	check(what);
}

static void nmis(void)
{
	u32 i;

	for (i = 1; i < cpus; i++) {
		send(0, i, DM_NMI);
		want_nmi[i]++;
	}
	check("xAPIC physical: an NMI to each AP");
	send(0, 0, SH_OTHERS | DM_NMI);
	for (i = 1; i < cpus; i++)
		want_nmi[i]++;
	check("xAPIC shorthand: an NMI to all excluding self");
}

/* INIT and SIPI to a running AP: it starts over and takes IPIs again */
static void restart_ap(void)
{
	u32 ap = cpus - 1, before = online;

	if (cpus < 2)
		return;
	send(0, ap, 0x4500);				/* INIT */
	pm_delay_us(10000);
	send(0, ap, 0x4600 | (AP_TRAMPOLINE >> 12));	/* SIPI */
	ok(WAIT(online == before + 1) && ap_apic_id[ap_next_index - 1] == ap,
	   "INIT-SIPI restarts a running AP");
	send(0, ap, IPI_VECTOR);
	want[ap]++;
	check("the restarted AP takes IPIs");
}

static void logical_flat(void)
{
	u32 i, n = cpus < 8 ? cpus : 8, set = (1u << n) - 1;

	command(ALL, OP_FLAT, 0, 0);
	run_command(0, OP_FLAT, 0, 0);
	for (i = 0; i < n; i++) {
		send(0, 1u << i, LOGICAL | IPI_VECTOR);
		want[i]++;
	}
	check("xAPIC logical flat: an IPI to each LDR bit");
	send(0, 0x55 & set, LOGICAL | IPI_VECTOR);
	for (i = 0; i < n; i += 2)
		want[i]++;
	check("xAPIC logical flat: one IPI to CPUs 0, 2, 4, 6");
	lowest("xAPIC logical flat: lowest priority, each taken once",
	       set, set, 2 * n);
}

static void logical_cluster(void)
{
	u32 i, c, last;

	command(ALL, OP_CLUSTER, 0, 0);
	run_command(0, OP_CLUSTER, 0, 0);
	for (i = 0; i < cpus; i++) {
		send(0, (i >> 2) << 4 | 1u << (i & 3), LOGICAL | IPI_VECTOR);
		want[i]++;
	}
	check("xAPIC logical cluster: an IPI to each CPU");
	for (c = 0; c <= (cpus - 1) >> 2; c++)
		send(0, c << 4 | 0xf, LOGICAL | IPI_VECTOR);
	expect_all();
	check("xAPIC logical cluster: an IPI to each whole cluster");
	last = (cpus - 1) >> 2;
	lowest("xAPIC logical cluster: lowest priority in the last cluster",
	       last << 4 | 0xf, ((1u << cpus) - 1) & (0xfu << (last * 4)), 8);
}

static void x2apic(void)
{
	u32 a, b, c, d, i, set = (1u << cpus) - 1;
	bool good = true;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!ok(c & (1u << 21), "CPUID: x2APIC"))
		return;
	command(ALL, OP_X2APIC, 0, 0);
	run_command(0, OP_X2APIC, 0, 0);
	for (i = 0; i < cpus; i++) {
		if (in_x2apic[i] && x2_id[i] == i &&
		    x2_ldr[i] == ((i >> 4) << 16 | 1u << (i & 15)))
			continue;
		diag("CPU %u: x2APIC %u, ID %u, LDR 0x%x", i, in_x2apic[i],
		     x2_id[i], x2_ldr[i]);
		good = false;
	}
	if (!ok(good, "x2APIC: every CPU switched, IDs and LDRs derived"))
		return;

	for (i = 0; i < cpus; i++) {
		send(0, i, IPI_VECTOR);
		want[i]++;
	}
	check("x2APIC physical: an IPI to each CPU, the BSP included");
	send(0, X2_BROADCAST, IPI_VECTOR);
	expect_all();
	check("x2APIC physical: broadcast (destination 0xffffffff)");
	for (i = 0; i < cpus; i++) {
		send(0, (i >> 4) << 16 | 1u << (i & 15), LOGICAL | IPI_VECTOR);
		want[i]++;
	}
	check("x2APIC cluster: an IPI to each CPU");
	send(0, 0xaaaa & set, LOGICAL | IPI_VECTOR);
	for (i = 1; i < cpus; i += 2)
		want[i]++;
	check("x2APIC cluster: one IPI to the odd CPUs");
	lowest("x2APIC cluster: lowest priority, each taken once",
	       set, set, 8);
	wrmsr(X2APIC_SELF_IPI, IPI_VECTOR);
	want[0]++;
	check("x2APIC SELF IPI register");
	shorthands(true);
	ring("x2APIC physical: from AP to AP, the last AP to the BSP");
	send(0, 0, SH_OTHERS | DM_NMI);
	for (i = 1; i < cpus; i++)
		want_nmi[i]++;
	check("x2APIC shorthand: an NMI to all excluding self");
}

void test_main(void)
{
	u32 fw, madt, i;
	u8 ids[MAX_CPUS];
	bool good;

	cpus = atou(arg_value("cpus") ? arg_value("cpus") : "1");
	fw = fwcfg_u64(FW_CFG_NB_CPUS, 2);
	ok(fw == cpus, "fw_cfg: %u CPUs", fw);
	madt = madt_cpus(ids, MAX_CPUS);
	ok(madt == cpus, "MADT: %u CPUs", madt);
	good = madt == cpus && cpus >= 1 && cpus <= CPUS;
	for (i = 0; i < cpus && good; i++)
		good = ids[i] == i;
	if (!ok(good, "MADT: APIC IDs 0..%u", cpus - 1))
		return;
	ok(apic_id() == 0, "BSP is APIC 0");
	calibrate_tsc();
	apic_enable();
	set_isr(IPI_VECTOR, ipi_isr);
	set_isr(CMD_VECTOR, cmd_isr);
	set_isr(SYNC_VECTOR, sync_isr);
	set_isr(2, nmi_isr);
	sti();

	if (!start_aps(ids))
		return;
	xapic_physical();
	shorthands(false);
	ring("xAPIC physical: from AP to AP, the last AP to the BSP");
	nmis();
	restart_ap();
	logical_flat();
	logical_cluster();
	x2apic();
	diag("IPIs taken: %u on the BSP, %u on the last AP", got[0],
	     got[cpus - 1]);
}
