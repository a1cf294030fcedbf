// SPDX-License-Identifier: GPL-2.0
/*
 * irq_test: the in-kernel interrupt controllers (SHV_CREATE_IRQCHIP) as a
 * guest sees them.  A 64-bit guest (irq_guest.c) drives the local APIC
 * through x2APIC MSRs and xAPIC MMIO (TPR/PPR, IRR/ISR/TMR, nesting and
 * EOI, SVR, ESR, the timer in all three modes, IPIs to a second vCPU it
 * starts with INIT-SIPI), the IOAPIC, the 8259 PIC, the 8254 PIT and the
 * selective-EOI MSR, and checks the results itself.  The host raises
 * lines and sends MSIs when the guest asks (PORT_HOSTCMD), runs each vCPU
 * in its own thread, and reports the guest's failed check.  Timing checks
 * are loose (+-50%) and measured against the TSC around each access, as
 * exits under TCG take from 40 us to several ms.
 *
 * run_tests.sh runs this binary once per MMU (SHV_TEST_MMU).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shv_util.h"
#include "irq_guest.h"

DECLARE_GUEST(irq);

/* how long one scenario may run, host time */
#define RUN_TIMEOUT_S	20

#define NSTATS	8

/* what SHV_GET_MSRS reads of an x2APIC at a report: */
enum { AR_TPR, AR_PPR, AR_ISR0, AR_IRR0 = AR_ISR0 + 8, NAPIC_MSRS = AR_IRR0 + 8 };

static void read_apic(struct shv_vcpu *v, uint64_t *out)
{
	struct {
		struct shv_msrs m;
		struct shv_msr_entry e[NAPIC_MSRS];
	} u = { .m.nmsrs = NAPIC_MSRS };
	int i;

	u.e[AR_TPR].index = 0x808;
	u.e[AR_PPR].index = 0x80a;
	for (i = 0; i < 8; i++) {
		u.e[AR_ISR0 + i].index = 0x810 + i;
		u.e[AR_IRR0 + i].index = 0x820 + i;
	}
	/* in xAPIC mode the first read fails: nothing is stored */
	if (ioctl(v->fd, SHV_GET_MSRS, &u) != NAPIC_MSRS)
		return;
	for (i = 0; i < NAPIC_MSRS; i++)
		out[i] = u.e[i].data;
}

struct vcpu_result {
	uint32_t reports[256];
	/* the vCPU's counters at its first reports */
	struct shv_vcpu_stats stats[NSTATS];
	/* and in x2APIC mode its APIC registers (APIC_MSRS) */
	uint64_t apic[NSTATS][NAPIC_MSRS];
	int nreports;
	bool done;
	bool failed;
	char err[512];
};

struct irqvm {
	struct shv_vm *vm;
	struct shv_vcpu *vcpu[2];
	int nvcpus;
	struct irq_shared *sh;
	pthread_t thread[2];
	bool running[2];
	volatile bool stop;
	/* SC_IPI_LATE_AP: the AP's thread waits for HCMD_AP_GO */
	bool hold_ap;
	bool ap_go;
	int timeout_s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct timespec start;
	struct vcpu_result res[2];
};

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | (uint64_t)hi << 32;
}

static uint64_t ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000000000ull + b.tv_nsec - a->tv_nsec;
}

/* the TSC rate (the guest's TSC is the host's plus an offset) */
static uint64_t tsc_khz(void)
{
	static uint64_t khz;
	struct timespec a;
	uint64_t t0, ns;

	if (khz)
		return khz;
	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = rdtsc();
	do {
		ns = ns_since(&a);
	} while (ns < 50000000);
	khz = (rdtsc() - t0) * 1000000 / ns;
	return khz;
}

static void sig_nop(int sig)
{
	(void)sig;
}

static void vfail(struct irqvm *t, int id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vfail(struct irqvm *t, int id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->res[id].err, sizeof(t->res[id].err), fmt, ap);
	va_end(ap);
	t->res[id].failed = true;
	t->stop = true;
	pthread_mutex_lock(&t->lock);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static int32_t hostcmd(struct irqvm *t, uint32_t cmd)
{
	switch (HCMD_OP(cmd)) {
	case HCMD_OP(HCMD_LINE(0, 0)): {
		struct shv_irq_level l = {
			.irq = (cmd >> 8) & 0xff,
			.level = cmd & 0xff,
		};

		return ioctl(t->vm->fd, SHV_IRQ_LINE, &l) ? -errno : 0;
	}
	case HCMD_OP(HCMD_MSI): {
		struct shv_msi m = {
			.address = t->sh->msi_addr,
			.data = t->sh->msi_data,
		};

		return ioctl(t->vm->fd, SHV_SIGNAL_MSI, &m) ? -errno : 0;
	}
	case HCMD_OP(HCMD_AP_GO):
		pthread_mutex_lock(&t->lock);
		t->ap_go = true;
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	return -EINVAL;
}

static void guest_failed(struct irqvm *t, int id)
{
	struct irq_fail *f = &t->sh->fail[id];
	char what[160] = "?";

	if (f->what >= CODE_GPA && f->what < IRQ_IMAGE_END) {
		strncpy(what, shv_gpa2hva(t->vm, f->what), sizeof(what) - 1);
		what[sizeof(what) - 1] = 0;
	}
	vfail(t, id, "vCPU %d: check at irq_guest.c:%u failed: %s (values %#llx %#llx %#llx)",
	      id, f->line, what, (unsigned long long)f->a,
	      (unsigned long long)f->b, (unsigned long long)f->c);
}

/* SHV_RUN until the guest is done or fails; handles the ports */
static void run_vcpu(struct irqvm *t, int id)
{
	struct shv_vcpu *v = t->vcpu[id];
	struct shv_run *run = v->run;
	struct vcpu_result *r = &t->res[id];
	struct shv_regs regs;
	uint64_t val;

	if (id && t->hold_ap) {
		pthread_mutex_lock(&t->lock);
		while (!t->ap_go && !t->stop)
			pthread_cond_wait(&t->cond, &t->lock);
		pthread_mutex_unlock(&t->lock);
	}
	for (;;) {
		if (t->stop) {
			if (!r->failed && !r->done)
				snprintf(r->err, sizeof(r->err),
					 "vCPU %d: stopped", id);
			return;
		}
		if (ns_since(&t->start) > t->timeout_s * 1000000000ull) {
			shv_get_regs(v, &regs);
			vfail(t, id, "vCPU %d: timeout after %d s, rip %#llx",
			      id, t->timeout_s, (unsigned long long)regs.rip);
			return;
		}
		if (shv_run_raw(v) < 0) {
			if (errno == EINTR)
				continue;
			vfail(t, id, "vCPU %d: SHV_RUN: %s", id,
			      strerror(errno));
			return;
		}
		if (run->exit_reason != SHV_EXIT_IO ||
		    run->io.direction != SHV_EXIT_IO_OUT || run->io.count != 1) {
			vfail(t, id, "vCPU %d: unexpected exit: %s", id,
			      shv_describe_exit(v));
			return;
		}
		val = shv_le(run->io.data, run->io.size);
		switch (run->io.port) {
		case PORT_REPORT:
			if (r->nreports < NSTATS) {
				r->stats[r->nreports] = shv_vcpu_stats(v);
				read_apic(v, r->apic[r->nreports]);
			}
			if (r->nreports < 256)
				r->reports[r->nreports++] = val;
			break;
		case PORT_DONE:
			r->done = true;
			return;
		case PORT_FAIL:
			guest_failed(t, id);
			return;
		case PORT_HOSTCMD:
			t->sh->cmd_ret = hostcmd(t, val);
			break;
		default:
			vfail(t, id, "vCPU %d: unexpected exit: %s", id,
			      shv_describe_exit(v));
			return;
		}
	}
}

struct thread_arg {
	struct irqvm *t;
	int id;
};

static void *vcpu_thread(void *p)
{
	struct thread_arg *a = p;

	run_vcpu(a->t, a->id);
	return NULL;
}

/*
 * A VM with the irqchip, nvcpus vCPUs and the guest image; vCPU 0 starts
 * at CODE_GPA in 64-bit mode, vCPU 1 waits for INIT-SIPI.  NULL: skip.
 */
static struct irqvm *irqvm_create(struct __test_metadata *_metadata,
				  int nvcpus, uint32_t scenario, uint32_t flags)
{
	struct sigaction sa = { .sa_handler = sig_nop };
	struct irqvm *t;
	int sys, cap;

	sys = shv_open_dev();
	cap = ioctl(sys, SHV_CHECK_EXTENSION, SHV_CAP_IRQCHIP);
	close(sys);
	if (cap <= 0)
		SKIP(return NULL, "no SHV_CAP_IRQCHIP");
	/* no SA_RESTART: a signal makes SHV_RUN return EINTR */
	sigaction(SIGUSR1, &sa, NULL);

	t = calloc(1, sizeof(*t));
	SHV_CHECK(t, "calloc");
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->nvcpus = nvcpus;
	t->timeout_s = RUN_TIMEOUT_S;
	t->vm = shv_vm_create();
	if (ioctl(t->vm->fd, SHV_CREATE_IRQCHIP, 0))
		shv_fail("SHV_CREATE_IRQCHIP: %s", strerror(errno));
	t->vcpu[0] = shv_vcpu_create(t->vm, 0);
	if (nvcpus > 1)
		t->vcpu[1] = shv_vcpu_create(t->vm, 1);
	shv_load_code(t->vm, CODE_GPA, guest_irq, guest_irq_end);
	shv_vcpu_setup(t->vcpu[0], MODE_LONG64, CODE_GPA);
	t->sh = shv_gpa2hva(t->vm, IRQ_SHARED_GPA);
	memset(t->sh, 0, sizeof(*t->sh));
	t->sh->scenario = scenario;
	t->sh->flags = flags;
	t->sh->tsc_khz = tsc_khz();
	return t;
}

static void irqvm_free(struct irqvm *t)
{
	int i;

	for (i = 0; i < t->nvcpus; i++)
		shv_vcpu_free(t->vcpu[i]);
	shv_vm_free(t->vm);
	free(t);
}

/* run every vCPU in its own thread; kick them now and then for timeouts */
static void irqvm_run(struct irqvm *t)
{
	struct thread_arg args[2];
	struct timespec tick = { 0, 100000000 };
	bool all_done;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t->start);
	for (i = 0; i < t->nvcpus; i++) {
		args[i] = (struct thread_arg){ t, i };
		if (pthread_create(&t->thread[i], NULL, vcpu_thread, &args[i]))
			shv_fail("pthread_create");
		t->running[i] = true;
	}
	do {
		nanosleep(&tick, NULL);
		all_done = true;
		for (i = 0; i < t->nvcpus; i++) {
			if (pthread_tryjoin_np(t->thread[i], NULL) == 0)
				t->running[i] = false;
			if (t->running[i]) {
				all_done = false;
				pthread_kill(t->thread[i], SIGUSR1);
			}
		}
	} while (!all_done);
}

#define IRQ_RUN(t) do {							\
	int _i;								\
	irqvm_run(t);							\
	for (_i = 0; _i < (t)->nvcpus; _i++)				\
		if ((t)->res[_i].failed)				\
			TH_LOG("%s", (t)->res[_i].err);			\
	for (_i = 0; _i < (t)->nvcpus; _i++) {				\
		if (!(t)->res[_i].done)					\
			TH_LOG("%s", (t)->res[_i].err);			\
		ASSERT_TRUE((t)->res[_i].done);				\
	}								\
} while (0)

/* a one-vCPU scenario that must finish without a failed check */
static struct irqvm *scenario_t(struct __test_metadata *_metadata,
				uint32_t sc, uint32_t flags, int timeout_s)
{
	struct irqvm *t = irqvm_create(_metadata, 1, sc, flags);

	if (!t)
		return NULL;
	t->timeout_s = timeout_s;
	irqvm_run(t);
	if (!t->res[0].done)
		TH_LOG("%s", t->res[0].err);
	return t;
}

#define scenario(m, sc, flags) scenario_t(m, sc, flags, RUN_TIMEOUT_S)

#define SCENARIO_T(sc, flags, timeout) do {				\
	struct irqvm *_t = scenario_t(_metadata, sc, flags, timeout);	\
	bool _ok;							\
	if (!_t)							\
		return;							\
	_ok = _t->res[0].done;						\
	irqvm_free(_t);							\
	ASSERT_TRUE(_ok);						\
} while (0)

#define SCENARIO(sc, flags)	SCENARIO_T(sc, flags, RUN_TIMEOUT_S)

/* ------------------------------------------------------------------ */
/* The local APIC through x2APIC MSRs and through xAPIC MMIO */

FIXTURE(lapic) {
	int unused;
};

FIXTURE_VARIANT(lapic) {
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(lapic, x2apic) {
	.flags = IRQ_F_X2APIC,
};

FIXTURE_VARIANT_ADD(lapic, xapic) {
	.flags = 0,
};

FIXTURE_SETUP(lapic) {}
FIXTURE_TEARDOWN(lapic) {}

/* ID, version, LDR/DFR, SVR and LVT reset values, #GPs, TPR/PPR/CR8 */
TEST_F_TIMEOUT(lapic, registers, 60)
{
	struct irqvm *t = scenario(_metadata, SC_LAPIC_REGS, variant->flags);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("APIC register read %llu ns, self-IPI round trip %llu ns",
	       (unsigned long long)t->sh->out[0],
	       (unsigned long long)t->sh->out[1]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

/* below or at TPR an interrupt waits in IRR; lowering TPR/CR8 lets it in */
TEST_F_TIMEOUT(lapic, tpr_blocks, 60)
{
	SCENARIO(SC_TPR, variant->flags);
}

/*
 * The pending interrupt's class equals TPR's class, with IF=1.  A vCPU
 * that makes no progress here spins on VINTR exits: 5 s is plenty.
 */
TEST_F_TIMEOUT(lapic, tpr_same_class, 60)
{
	SCENARIO_T(SC_TPR_EQUAL, variant->flags, 5);
}

/*
 * MOV to CR8 unblocks interrupts held by the task priority.  (QEMU 7.2's
 * TCG aborts on a guest CR8 write while V_IRQ is set, unless the write
 * is intercepted: a failure here may take the whole rig down.)
 */
TEST_F_TIMEOUT(lapic, tpr_cr8_unblock, 60)
{
	SCENARIO(SC_TPR_CR8, variant->flags);
}

/*
 * The exits TPR accesses cost: none for CR8 with a TPR shadow (VMX) or
 * V_TPR (SVM), none for the x2APIC TPR MSR with x2APIC virtualization;
 * one for the CR8 write that unblocks a held interrupt (the TPR
 * threshold's), none with virtual-interrupt delivery.
 */
TEST_F_TIMEOUT(lapic, tpr_exits, 60)
{
	bool x2 = variant->flags & IRQ_F_X2APIC;
	long accel = shv_cap(SHV_CAP_ACCEL);
	struct irqvm *t = scenario(_metadata, SC_TPR_NOEXIT, variant->flags);
	struct shv_vcpu_stats *st;
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	st = t->res[0].stats;
	ASSERT_TRUE(ok);
	ASSERT_EQ(5, t->res[0].nreports);
	TH_LOG("TPR exits: 128 CR8 accesses %llu, 128 TPR register accesses %llu, unblocking CR8 write %llu",
	       (unsigned long long)SHV_DELTA(st[0], st[1], tpr_exits),
	       (unsigned long long)SHV_DELTA(st[1], st[2], tpr_exits),
	       (unsigned long long)SHV_DELTA(st[3], st[4], tpr_exits));
	EXPECT_EQ(accel & SHV_ACCEL_TPR_SHADOW ? 0 : 128,
		  SHV_DELTA(st[0], st[1], tpr_exits));
	EXPECT_EQ(x2 && (accel & SHV_ACCEL_X2APIC_TPR) ? 0 : 128,
		  SHV_DELTA(st[1], st[2], tpr_exits));
	/* with virtual-interrupt delivery the processor itself unblocks */
	EXPECT_EQ(accel & SHV_ACCEL_VINTR ? 0 : 1,
		  SHV_DELTA(st[3], st[4], tpr_exits));
	irqvm_free(t);
}

/* whether vector v is set in the ISR or IRR words read at a report */
static bool apic_bit(const uint64_t *regs, int first, int v)
{
	return regs[first + v / 32] >> (v % 32) & 1;
}

/*
 * Interrupts and their EOIs: with virtual-interrupt delivery (SHV_ACCEL_
 * VINTR) edge interrupts are taken without an injection and, in x2APIC
 * mode, EOIed without an exit; a level-triggered one's EOI still exits,
 * so that the IOAPIC delivers it again while its line is asserted.  The
 * APIC registers read through SHV_GET_MSRS between runs are the guest's.
 */
TEST_F_TIMEOUT(lapic, vintr_exits, 60)
{
	bool x2 = variant->flags & IRQ_F_X2APIC;
	bool vintr = shv_cap(SHV_CAP_ACCEL) & SHV_ACCEL_VINTR;
	struct irqvm *t = scenario(_metadata, SC_VINTR, variant->flags);
	struct shv_vcpu_stats *st;
	uint64_t *r;
	int i;

	if (!t)
		return;
	ASSERT_TRUE(t->res[0].done);
	ASSERT_EQ(5, t->res[0].nreports);
	st = t->res[0].stats;
	TH_LOG("virtual-interrupt delivery %s: 16 edge MSIs: %llu injections, %llu EOI exits; 3 level: %llu injections, %llu EOI exits",
	       vintr ? "on" : "off",
	       (unsigned long long)SHV_DELTA(st[0], st[1], irq_injections),
	       (unsigned long long)SHV_DELTA(st[0], st[1], eoi_exits),
	       (unsigned long long)SHV_DELTA(st[3], st[4], irq_injections),
	       (unsigned long long)SHV_DELTA(st[3], st[4], eoi_exits));
	EXPECT_EQ(vintr ? 0 : 16, SHV_DELTA(st[0], st[1], irq_injections));
	EXPECT_EQ(vintr && x2 ? 0 : 16, SHV_DELTA(st[0], st[1], eoi_exits));
	EXPECT_EQ(vintr ? 0 : 3, SHV_DELTA(st[3], st[4], irq_injections));
	EXPECT_EQ(3, SHV_DELTA(st[3], st[4], eoi_exits));
	if (x2) {
		/* report 3: 0x72 in service, 0x52 behind it, TPR 0x30 */
		r = t->res[0].apic[2];
		EXPECT_EQ(0x30, r[AR_TPR]);
		EXPECT_EQ(0x70, r[AR_PPR]);
		for (i = 16; i < 256; i++) {
			EXPECT_EQ(i == 0x72, apic_bit(r, AR_ISR0, i)) {
				TH_LOG("ISR bit %#x", i);
			}
			EXPECT_EQ(i == 0x52, apic_bit(r, AR_IRR0, i)) {
				TH_LOG("IRR bit %#x", i);
			}
		}
		/* report 4: both done */
		r = t->res[0].apic[3];
		EXPECT_EQ(0x30, r[AR_PPR]);
		for (i = 0; i < 8; i++) {
			EXPECT_EQ(0, r[AR_ISR0 + i]);
			EXPECT_EQ(0, r[AR_IRR0 + i]);
		}
	}
	irqvm_free(t);
}

/* ISR/IRR in a handler, preemption by a higher class, EOI order */
TEST_F_TIMEOUT(lapic, nested_isr_eoi, 60)
{
	SCENARIO(SC_NESTED, variant->flags);
}

TEST_F_TIMEOUT(lapic, svr_software_disable, 60)
{
	SCENARIO(SC_SVR, variant->flags);
}

TEST_F_TIMEOUT(lapic, esr_illegal_vector, 60)
{
	SCENARIO(SC_ESR, variant->flags);
}

TEST_F_TIMEOUT(lapic, esr_error_interrupt, 60)
{
	SCENARIO(SC_ESR_LVT, variant->flags);
}

TEST_F_TIMEOUT(lapic, timer_oneshot, 60)
{
	struct irqvm *t = scenario(_metadata, SC_TIMER_ONESHOT,
				   variant->flags);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("APIC timer %llu counts/ms, a 10 ms one-shot fired after %llu us",
	       (unsigned long long)t->sh->out[0],
	       (unsigned long long)t->sh->out[1]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

TEST_F_TIMEOUT(lapic, timer_periodic, 60)
{
	struct irqvm *t = scenario(_metadata, SC_TIMER_PERIODIC,
				   variant->flags);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("%llu us periodic: %llu interrupts in 50 periods, median period %llu us",
	       (unsigned long long)t->sh->out[3],
	       (unsigned long long)t->sh->out[0],
	       (unsigned long long)t->sh->out[1]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

TEST_F_TIMEOUT(lapic, timer_divide, 60)
{
	SCENARIO(SC_TIMER_DIVIDE, variant->flags);
}

TEST_F_TIMEOUT(lapic, timer_tsc_deadline, 60)
{
	struct irqvm *t = scenario(_metadata, SC_TIMER_DEADLINE,
				   variant->flags);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("TSC deadline 5 ms ahead: interrupt %llu us after it",
	       (unsigned long long)t->sh->out[0]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

/*
 * vCPU 0 starts vCPU 1 with INIT-SIPI-SIPI, then sends it fixed IPIs in
 * physical and logical (flat, cluster; x2APIC cluster) destination mode,
 * with each shorthand, lowest priority, to it while halted, and two
 * NMIs.  The AP reports its APIC ID and every vector it takes.
 */
TEST_F_TIMEOUT(lapic, ipi, 90)
{
	bool x2 = variant->flags & IRQ_F_X2APIC;
	static const uint32_t want_x2[] = {
		0x41, 0x44, 0x46, 0x48, 0x4e, 0x4f, 0x51, 0x53, 0x02, 0x02,
	};
	static const uint32_t want_x[] = {
		0x41, 0x44, 0x46, 0x48, 0x49, 0x4b, 0x4d, 0x4e, 0x4f, 0x51,
		0x53, 0x02, 0x02,
	};
	const uint32_t *want = x2 ? want_x2 : want_x;
	int nwant = x2 ? 10 : 13;
	struct irqvm *t = irqvm_create(_metadata, 2, SC_IPI, variant->flags);
	struct vcpu_result *ap;
	int i, n = 0;

	if (!t)
		return;
	IRQ_RUN(t);
	ap = &t->res[1];
	ASSERT_GE(ap->nreports, 1);
	ASSERT_EQ(x2 ? 1u : 1u << 24, ap->reports[0]);
	for (i = 1; i < ap->nreports; i++) {
		/* lowest priority went to either */
		if (ap->reports[i] == (0x100 | 0x52))
			continue;
		ASSERT_LT(n, nwant);
		EXPECT_EQ(0x100 | want[n], ap->reports[i]) {
			TH_LOG("AP report %d", i);
		}
		n++;
	}
	ASSERT_EQ(nwant, n);
	irqvm_free(t);
}

/*
 * INIT and then SIPI, both sent before the AP's thread first enters
 * SHV_RUN (a descheduled vCPU thread): the AP must still start.
 */
TEST_F_TIMEOUT(lapic, init_sipi_before_ap_runs, 60)
{
	struct irqvm *t = irqvm_create(_metadata, 2, SC_IPI_LATE_AP,
				       variant->flags);

	if (!t)
		return;
	t->hold_ap = true;
	IRQ_RUN(t);
	irqvm_free(t);
}

/*
 * An NMI sent while the NMI handler runs is held until its IRET, and
 * taken right after it: the code after the IRET must not run on.
 */
TEST_F_TIMEOUT(lapic, nmi_after_iret, 60)
{
	struct irqvm *t = scenario(_metadata, SC_NMI_IRET, variant->flags);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("loop iterations between the IRET and the held NMI: %llu (at rip %#llx)",
	       (unsigned long long)t->sh->out[0],
	       (unsigned long long)t->sh->out[1]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

/* IOAPIC edge delivery, pin 2 for ISA IRQ 0, masks, destinations, NMI */
TEST_F_TIMEOUT(lapic, ioapic_edge, 60)
{
	SCENARIO(SC_IOAPIC_EDGE, variant->flags);
}

/* level: remote IRR, TMR, re-delivery after EOI, mask, EOI register */
TEST_F_TIMEOUT(lapic, ioapic_level, 60)
{
	SCENARIO(SC_IOAPIC_LEVEL, variant->flags);
}

TEST_F_TIMEOUT(lapic, msi, 60)
{
	SCENARIO(SC_MSI, variant->flags);
}

/* ------------------------------------------------------------------ */
/* PIC, PIT, x2APIC-only details and the selective EOI MSR */

FIXTURE(chip) {
	int unused;
};

FIXTURE_SETUP(chip) {}
FIXTURE_TEARDOWN(chip) {}

/*
 * The runner saves and restores a vCPU whose guest turned x2APIC on:
 * SHV_GET_SREGS reports apic_base with EXTD, SHV_SET_SREGS must take it.
 */
TEST_F_TIMEOUT(chip, x2apic_sregs_roundtrip, 60)
{
	struct irqvm *t = scenario(_metadata, SC_X2APIC_ON, IRQ_F_X2APIC);
	struct shv_sregs sr;
	int r, err;

	if (!t)
		return;
	ASSERT_TRUE(t->res[0].done);
	shv_get_sregs(t->vcpu[0], &sr);
	ASSERT_EQ(0xfee00d00, sr.apic_base);
	r = ioctl(t->vcpu[0]->fd, SHV_SET_SREGS, &sr);
	err = errno;
	irqvm_free(t);
	EXPECT_EQ(0, r) {
		TH_LOG("SHV_SET_SREGS with apic_base 0xfee00d00: %s",
		       strerror(err));
	}
}

/* x2APIC: WRMSR of a non-zero value to EOI raises #GP */
TEST_F_TIMEOUT(chip, x2apic_eoi_nonzero_gp, 60)
{
	SCENARIO(SC_X2APIC_EOI_GP, IRQ_F_X2APIC);
}

/* outside TSC-deadline mode IA32_TSC_DEADLINE reads 0, ignores writes */
TEST_F_TIMEOUT(chip, tsc_deadline_msr_in_oneshot_mode, 60)
{
	SCENARIO(SC_DEADLINE_ONESHOT_MSR, IRQ_F_X2APIC);
}

TEST_F_TIMEOUT(chip, pic_basic, 60)
{
	SCENARIO(SC_PIC_BASIC, 0);
}

TEST_F_TIMEOUT(chip, pic_aeoi, 60)
{
	SCENARIO(SC_PIC_AEOI, 0);
}

TEST_F_TIMEOUT(chip, pic_cascade, 60)
{
	SCENARIO(SC_PIC_CASCADE, 0);
}

TEST_F_TIMEOUT(chip, pic_elcr_level, 60)
{
	SCENARIO(SC_PIC_ELCR, 0);
}

TEST_F_TIMEOUT(chip, pit_periodic_pic, 60)
{
	struct irqvm *t = scenario(_metadata, SC_PIT_PIC, 0);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("PIT 2 ms via PIC: %llu interrupts in 100 ms, median %llu us",
	       (unsigned long long)t->sh->out[0],
	       (unsigned long long)t->sh->out[1]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

TEST_F_TIMEOUT(chip, pit_periodic_ioapic, 60)
{
	struct irqvm *t = scenario(_metadata, SC_PIT_IOAPIC, IRQ_F_X2APIC);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("PIT 2 ms via IOAPIC: %llu interrupts in 100 ms, median %llu us",
	       (unsigned long long)t->sh->out[0],
	       (unsigned long long)t->sh->out[1]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

TEST_F_TIMEOUT(chip, pit_channel2_gate, 60)
{
	struct irqvm *t = scenario(_metadata, SC_PIT_CH2, 0);
	bool ok;

	if (!t)
		return;
	ok = t->res[0].done;
	TH_LOG("PIT counter 2, 10 ms in mode 0: OUT rose after %llu us",
	       (unsigned long long)t->sh->out[0]);
	irqvm_free(t);
	ASSERT_TRUE(ok);
}

TEST_F_TIMEOUT(chip, pit_latch_readback, 60)
{
	SCENARIO(SC_PIT_LATCH, 0);
}

TEST_F_TIMEOUT(chip, selective_eoi, 60)
{
	SCENARIO(SC_SEOI, IRQ_F_X2APIC);
}

/* ------------------------------------------------------------------ */
/* The irqchip ioctls */

TEST(irqchip_ioctls)
{
	int sys = shv_open_dev();
	struct shv_irq_level l = { .irq = 0, .level = 1 };
	struct shv_msi m = { .address = 0xfee00000, .data = 0x30 };
	struct shv_vm *vm;
	struct shv_vcpu *v;

	if (ioctl(sys, SHV_CHECK_EXTENSION, SHV_CAP_IRQCHIP) <= 0)
		SKIP(return, "no SHV_CAP_IRQCHIP");
	vm = shv_vm_create_bare(sys, shv_test_mmu_flags());
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_IRQ_LINE, &l));
	ASSERT_EQ(ENXIO, errno);
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_SIGNAL_MSI, &m));
	ASSERT_EQ(ENXIO, errno);
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_CREATE_IRQCHIP, 1));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_CREATE_IRQCHIP, 0));
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_CREATE_IRQCHIP, 0));
	ASSERT_EQ(EEXIST, errno);

	ASSERT_EQ(0, ioctl(vm->fd, SHV_IRQ_LINE, &l));
	l.level = 0;
	ASSERT_EQ(0, ioctl(vm->fd, SHV_IRQ_LINE, &l));
	l.irq = 23;
	ASSERT_EQ(0, ioctl(vm->fd, SHV_IRQ_LINE, &l));
	l.irq = 24;
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_IRQ_LINE, &l));
	ASSERT_EQ(EINVAL, errno);
	l.irq = 1;
	l.level = 2;
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_IRQ_LINE, &l));
	ASSERT_EQ(EINVAL, errno);

	ASSERT_EQ(0, ioctl(vm->fd, SHV_SIGNAL_MSI, &m));
	m.address = 0xfed00000;
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_SIGNAL_MSI, &m));
	ASSERT_EQ(EINVAL, errno);
	m.address = 0xfee00000;
	m.flags = 1;
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_SIGNAL_MSI, &m));
	ASSERT_EQ(EINVAL, errno);
	m.flags = 0;
	m.reserved[2] = 1;
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_SIGNAL_MSI, &m));
	ASSERT_EQ(EINVAL, errno);
	shv_vm_free(vm);

	/* the local APICs come with the vCPUs: the irqchip goes first */
	vm = shv_vm_create_bare(sys, shv_test_mmu_flags());
	v = shv_vcpu_create(vm, 0);
	ASSERT_EQ(-1, ioctl(vm->fd, SHV_CREATE_IRQCHIP, 0));
	ASSERT_EQ(EBUSY, errno);
	shv_vcpu_free(v);
	shv_vm_free(vm);
	close(sys);
}

TEST_HARNESS_MAIN
