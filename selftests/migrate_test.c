// SPDX-License-Identifier: GPL-2.0
/*
 * migrate_test: a vCPU whose thread is moved from host CPU to host CPU
 * (sched_setaffinity() from another thread) while its guest runs: in the
 * kernel between two guest entries as well as between two SHV_RUNs.  On
 * VMX the VMCS follows the thread (VMCLEAR on the old CPU by IPI,
 * VMPTRLD and VMLAUNCH on the new one, the per-CPU host state rewritten,
 * VPID/EPT translations flushed); on SVM the VMCB runs wherever the
 * thread is.  The guest checks every result it depends on (an MSR the
 * VMCS switches, GPRs, an XMM register) and the host checks the sums.
 * SHV_GET_VCPU_STATS counts the entries that found the vCPU on another
 * CPU than the entry before: the mover waits for each move to show there
 * (at most a second) and stops the guest after MIGRATIONS of them.
 *
 * Needs at least two usable host CPUs (the Bochs rig boots two:
 * scripts/bochs.sh); with one it is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shv_util.h"

DECLARE_GUEST(migrate64);

#define MIGRATIONS	50
#define MAX_MOVES	200	/* affinity changes for them at most */

struct mig {
	struct shv_vcpu *v;
	pid_t tid;
	volatile bool started, done;
	int reports, cpu_changes;
	char err[256];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *vcpu_thread(void *p)
{
	struct mig *m = p;
	struct shv_run *run = m->v->run;
	int last = -1, cpu;

	m->tid = gettid();
	__atomic_store_n(&m->started, true, __ATOMIC_RELEASE);
	for (;;) {
		if (shv_run_raw(m->v) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(m->err, sizeof(m->err), "SHV_RUN: %s",
				 strerror(errno));
			break;
		}
		if (run->exit_reason != SHV_EXIT_IO ||
		    run->io.direction != SHV_EXIT_IO_OUT ||
		    (run->io.port != PORT_REPORT && run->io.port != PORT_DONE)) {
			snprintf(m->err, sizeof(m->err), "unexpected exit: %s",
				 shv_describe_exit(m->v));
			break;
		}
		if (run->io.port == PORT_DONE)
			break;
		m->reports++;
		cpu = sched_getcpu();
		if (last >= 0 && cpu != last)
			m->cpu_changes++;
		last = cpu;
	}
	__atomic_store_n(&m->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* the CPUs this process may run on */
static int usable_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int i, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (i = 0; i < CPU_SETSIZE && n < max; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	return n;
}

/* the CPU a thread of this process last ran on (/proc, field 39), or -1 */
static int thread_cpu(pid_t tid)
{
	char path[64], buf[1024], *p;
	int i, cpu = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* fields 3.. follow the command name; the CPU is field 39 */
	for (i = 3; p && i <= 39; i++) {
		p = strchr(p + 1, ' ');
		if (p && i == 39)
			cpu = atoi(p + 1);
	}
	return cpu;
}

static uint64_t g64(struct shv_vm *vm, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, shv_gpa2hva(vm, gpa), 8);
	return v;
}

FIXTURE(migrate) {
	int unused;
};

FIXTURE_SETUP(migrate) {}
FIXTURE_TEARDOWN(migrate) {}

TEST_F_TIMEOUT(migrate, vcpu_moves_between_cpus, 300)
{
	struct timespec pause = { 0, 200000 };
	struct shv_vcpu_stats s0, s;
	uint64_t n, i, sum = 0, mix = 1, moved = 0, before;
	struct mig m = { 0 };
	int cpus[64], ncpus, moves = 0, cpu, k;
	volatile uint32_t *stop;
	double t0, t;
	pthread_t th;
	cpu_set_t set;

	ncpus = usable_cpus(cpus, 64);
	if (ncpus < 2)
		SKIP(return, "one usable host CPU: nothing to move between");
	m.v = shv_guest_vm(MODE_LONG64, migrate64);
	stop = shv_gpa2hva(m.v->vm, DATA_GPA);
	*stop = 0;
	s0 = shv_vcpu_stats(m.v);

	ASSERT_EQ(0, pthread_create(&th, NULL, vcpu_thread, &m));
	while (!__atomic_load_n(&m.started, __ATOMIC_ACQUIRE))
		sched_yield();
	t0 = now();
	while (!__atomic_load_n(&m.done, __ATOMIC_ACQUIRE) &&
	       moved < MIGRATIONS && moves < MAX_MOVES) {
		before = shv_vcpu_stats(m.v).cpu_migrations;
		/* the next usable CPU after the one it is on */
		cpu = thread_cpu(m.tid);
		for (k = 0; k < ncpus - 1 && cpus[k] != cpu; k++)
			;
		CPU_ZERO(&set);
		CPU_SET(cpus[(k + 1) % ncpus], &set);
		if (sched_setaffinity(m.tid, sizeof(set), &set))
			break;
		moves++;
		/* until the vCPU entered the guest on its new CPU */
		t = now();
		do {
			nanosleep(&pause, NULL);
			s = shv_vcpu_stats(m.v);
		} while (s.cpu_migrations == before && now() - t < 1 &&
			 !__atomic_load_n(&m.done, __ATOMIC_ACQUIRE));
		moved = SHV_DELTA(s0, s, cpu_migrations);
	}
	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	s = shv_vcpu_stats(m.v);

	n = g64(m.v->vm, DATA_GPA + 8);
	TH_LOG("%d host CPUs, %d affinity changes in %.1f s: the vCPU entered on another CPU %llu times (%d changes seen at the reports), %llu iterations",
	       ncpus, moves, now() - t0,
	       (unsigned long long)SHV_DELTA(s0, s, cpu_migrations),
	       m.cpu_changes, (unsigned long long)n);
	ASSERT_EQ(0, m.err[0]) {
		TH_LOG("%s", m.err);
	}
	ASSERT_NE(0xbad, n) {
		TH_LOG("FS_BASE read back %#llx",
		       (unsigned long long)g64(m.v->vm, DATA_GPA + 16));
	}
	ASSERT_LT(0, n);
	EXPECT_EQ(n / 64, (uint64_t)m.reports);
	for (i = 1; i <= n; i++) {
		sum += i;
		mix = mix * 3 + i;
	}
	EXPECT_EQ(sum, g64(m.v->vm, DATA_GPA + 16));
	EXPECT_EQ(mix, g64(m.v->vm, DATA_GPA + 24));
	EXPECT_EQ(n, g64(m.v->vm, DATA_GPA + 32));
	EXPECT_LE(MIGRATIONS, SHV_DELTA(s0, s, cpu_migrations));
	shv_vm_free(m.v->vm);
}

TEST_HARNESS_MAIN
