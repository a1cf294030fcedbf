// SPDX-License-Identifier: GPL-2.0
/*
 * lifecycle_test: concurrency (vCPUs and VMs in parallel), create/destroy
 * cycles without leaks, every fd close order, SIGKILL of a running
 * vCPU, and -EINTR from a signal during SHV_RUN.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "shv_util.h"

#define ASSERT_EQ64(e, s) ASSERT_EQ((uint64_t)(e), (uint64_t)(s))

DECLARE_GUEST(par32);
DECLARE_GUEST(tiny16);
DECLARE_GUEST(tiny32);
DECLARE_GUEST(waitflag32);
DECLARE_GUEST(spin32);

static uint32_t rd32(struct shv_vm *vm, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, shv_gpa2hva(vm, gpa), 4);
	return v;
}

static void wr32(struct shv_vm *vm, uint64_t gpa, uint32_t v)
{
	memcpy(shv_gpa2hva(vm, gpa), &v, 4);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What par32 reports for (id, n) */
static uint32_t par_expect(uint32_t id, uint32_t n)
{
	return (id + 1) * (uint32_t)((uint64_t)n * (n + 1) / 2);
}

/* Prepare vCPU to run par32 (already at CODE_GPA) with id and n */
static void par_setup(struct shv_vcpu *v, uint32_t id, uint32_t n)
{
	struct shv_regs regs;

	shv_vcpu_setup(v, MODE_PROT32, CODE_GPA);
	shv_get_regs(v, &regs);
	regs.rdi = id;
	regs.rsi = n;
	regs.rsp = STACK_TOP - id * 0x100;
	shv_set_regs(v, &regs);
}

FIXTURE(lc) {
	int unused;
};
FIXTURE_SETUP(lc) {}
FIXTURE_TEARDOWN(lc) {}

struct par_arg {
	struct shv_vcpu *v;
	pthread_barrier_t *barrier;
	uint32_t n;
	uint32_t report;
	double t0, t1;
};

static void *par_thread(void *p)
{
	struct par_arg *a = p;

	if (a->barrier)
		pthread_barrier_wait(a->barrier);
	a->t0 = now();
	a->report = shv_expect_report(a->v);
	shv_expect_done(a->v);
	a->t1 = now();
	return NULL;
}

/* Two vCPUs of one VM run at once; LOCKed increments on shared memory */
TEST_F_TIMEOUT(lc, two_vcpus_parallel, 300)
{
	struct shv_vm *vm = shv_vm_create();
	pthread_barrier_t barrier;
	struct par_arg a[2];
	pthread_t t[2];
	int i;

	shv_load_guest(vm, CODE_GPA, par32);
	pthread_barrier_init(&barrier, NULL, 2);
	for (i = 0; i < 2; i++) {
		a[i].v = shv_vcpu_create(vm, i);
		a[i].barrier = &barrier;
		a[i].n = 20000;
		par_setup(a[i].v, i, a[i].n);
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, par_thread, &a[i]));
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(par_expect(i, a[i].n), a[i].report);
	ASSERT_EQ(40000, rd32(vm, DATA_GPA + 0x40));
	TH_LOG("vCPU runs: [%.3f, %.3f] and [%.3f, %.3f]", 0.0,
	       a[0].t1 - a[0].t0, a[1].t0 - a[0].t0, a[1].t1 - a[0].t0);
}

struct vm_arg {
	uint32_t id, n;
	uint32_t report, counter;
};

static void *vm_thread(void *p)
{
	struct vm_arg *a = p;
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);

	shv_load_guest(vm, CODE_GPA, par32);
	par_setup(v, a->id, a->n);
	a->report = shv_expect_report(v);
	shv_expect_done(v);
	a->counter = rd32(vm, DATA_GPA + 0x40);
	shv_vcpu_free(v);
	shv_vm_free(vm);
	return NULL;
}

/* 16 VMs in 16 threads; each sees only its own memory */
TEST_F_TIMEOUT(lc, sixteen_vms_parallel, 300)
{
	struct vm_arg a[16];
	pthread_t t[16];
	int i;

	for (i = 0; i < 16; i++) {
		a[i].id = i;
		a[i].n = 1000 + 37 * i;
		a[i].report = a[i].counter = 0;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, vm_thread, &a[i]));
	}
	for (i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(par_expect(i, a[i].n), a[i].report) TH_LOG("VM %d", i);
		ASSERT_EQ(a[i].n, a[i].counter) TH_LOG("VM %d", i);
	}
}

/* As many vCPUs as SHV_CAP_NR_VCPUS, each with its own state */
TEST_F_TIMEOUT(lc, max_vcpus, 300)
{
	struct shv_vm *vm = shv_vm_create();
	static struct shv_vcpu *v[SHV_MAX_VCPUS];
	long n = ioctl(vm->sys_fd, SHV_CHECK_EXTENSION, SHV_CAP_NR_VCPUS);
	long i;

	ASSERT_GE(n, 1);
	ASSERT_LE(n, SHV_MAX_VCPUS);
	shv_load_guest(vm, CODE_GPA, par32);
	for (i = 0; i < n; i++) {
		v[i] = shv_vcpu_create(vm, i);
		par_setup(v[i], i, 10);
	}
	/* run them interleaved: first exits of all, then the rest */
	for (i = 0; i < n; i++)
		ASSERT_EQ(par_expect(i, 10), shv_expect_report(v[i]));
	for (i = 0; i < n; i++)
		shv_expect_done(v[i]);
	ASSERT_EQ(10 * n, rd32(vm, DATA_GPA + 0x40));
	for (i = 0; i < n; i++) {
		struct shv_regs regs;

		shv_get_regs(v[i], &regs);
		ASSERT_EQ64(i, regs.rdi);
		ASSERT_EQ64(STACK_TOP - i * 0x100, regs.rsp);
	}
}

/* VM + slot + vCPU + run + destroy */
static void one_cycle(int sys)
{
	struct shv_vm *vm = shv_vm_create_bare(sys, shv_test_mmu_flags());
	struct shv_vcpu *v;

	shv_vm_add_mem(vm, 0, 0, RAM_SIZE, 0);
	v = shv_vcpu_create(vm, 0);
	shv_load_guest(vm, CODE_GPA, tiny16);
	shv_vcpu_setup(v, MODE_REAL, CODE_GPA);
	if (shv_expect_report(v) != 0x77)
		shv_fail("bad report");
	shv_expect_done(v);
	shv_vcpu_free(v);
	shv_vm_free(vm);
}

TEST_F_TIMEOUT(lc, create_destroy_1000, 900)
{
	static struct shv_memsnap before;
	int sys = shv_open_dev();
	double t;
	int i;

	for (i = 0; i < 20; i++)
		one_cycle(sys);
	shv_memsnap(&before);
	t = now();
	for (i = 0; i < 1000; i++)
		one_cycle(sys);
	TH_LOG("1000 cycles in %.1f s", now() - t);
	ASSERT_EQ(0, shv_leak_check(&before, 1000));
}

/* Close sys/VM/vCPU fds in the order given, using what is still open */
static void close_order(struct __test_metadata *_metadata, const int *order,
			bool unmap_ram_first)
{
	int sys = shv_open_dev();
	struct shv_vm *vm = shv_vm_create_bare(sys, shv_test_mmu_flags());
	struct shv_vcpu *v;
	void *ram = shv_vm_add_mem(vm, 0, 0, RAM_SIZE, 0);
	int fds[3], step, k;

	v = shv_vcpu_create(vm, 0);
	shv_load_guest(vm, CODE_GPA, tiny32);
	shv_vcpu_setup(v, MODE_PROT32, CODE_GPA);
	ASSERT_EQ64(0x1234abcd, shv_expect_report(v));
	shv_expect_done(v);

	if (unmap_ram_first) {
		/* the VM must not depend on the runner keeping its memory */
		munmap(ram, RAM_SIZE);
		vm->slots[0].used = false;
	}
	fds[0] = sys;
	fds[1] = vm->fd;
	fds[2] = v->fd;
	for (step = 0; step < 3; step++) {
		ASSERT_EQ(0, close(fds[order[step]]));
		fds[order[step]] = -1;
		if (unmap_ram_first)
			continue;
		if (fds[2] >= 0) {
			/* the vCPU keeps its VM alive */
			shv_set_rip(v, CODE_GPA);
			ASSERT_EQ64(0x1234abcd, shv_expect_report(v));
			shv_expect_done(v);
		} else if (fds[1] >= 0) {
			/* the VM still takes new vCPUs, even without /dev/shv */
			int id = 1 + step;
			int fd = ioctl(fds[1], SHV_CREATE_VCPU, id);

			ASSERT_GE(fd, 0);
			close(fd);
		}
	}
	/* the run area mapping may outlive the vCPU fd */
	ASSERT_EQ(0, munmap(v->run, v->run_size));
	free(v);
	if (!unmap_ram_first)
		munmap(ram, RAM_SIZE);
	free(vm);
	for (k = 0; k < 3; k++)
		if (fds[k] >= 0)
			close(fds[k]);
}

TEST_F_TIMEOUT(lc, close_orders, 600)
{
	static const int perms[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	static struct shv_memsnap before;
	int p, i, cycles = 0;

	for (p = 0; p < 6; p++)
		close_order(_metadata, perms[p], false);
	shv_memsnap(&before);
	for (i = 0; i < 18; i++) {
		for (p = 0; p < 6; p++) {
			close_order(_metadata, perms[p], i & 1);
			cycles++;
		}
	}
	ASSERT_EQ(0, shv_leak_check(&before, cycles));
}

/*
 * Child: a vCPU in a busy loop (jmp $).  Parent: SIGKILL.  The child must
 * die promptly, and nothing may leak.
 */
static int kill_busy_child(int delay_ms)
{
	int pfd[2], status = 0;
	struct pollfd pe;
	pid_t pid;
	double t;
	char c;

	if (pipe(pfd))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct shv_vcpu *v;

		close(pfd[0]);
		v = shv_guest_vm(MODE_PROT32, spin32);
		if (shv_expect_report(v) != 1)
			_exit(3);
		if (write(pfd[1], "s", 1) != 1)
			_exit(4);
		shv_run(v);	/* spins forever */
		fprintf(stderr, "# child: SHV_RUN returned: %s\n", shv_describe_exit(v));
		fflush(stdout);
		_exit(5);
	}
	close(pfd[1]);
	pe.fd = pfd[0];
	pe.events = POLLIN;
	if (poll(&pe, 1, 30000) != 1 || read(pfd[0], &c, 1) != 1) {
		fprintf(stderr, "# child %d never started its guest\n", pid);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(pfd[0]);
		return -1;
	}
	close(pfd[0]);
	usleep(delay_ms * 1000);
	kill(pid, SIGKILL);
	t = now();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() - t > 20) {
			fprintf(stderr, "# child %d not dead 20 s after SIGKILL (vCPU stuck in the kernel?)\n",
			       pid);
			return -1;
		}
		usleep(10000);
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		fprintf(stderr, "# child status %#x, not killed by SIGKILL\n", status);
		return -1;
	}
	return 0;
}

TEST_F_TIMEOUT(lc, sigkill_busy_child, 900)
{
	static struct shv_memsnap before;
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, kill_busy_child(20));
	shv_memsnap(&before);
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, kill_busy_child(10 + (i % 8) * 15)) TH_LOG("round %d", i);
	ASSERT_EQ(0, shv_leak_check(&before, 100));
}

static void sigusr1(int sig)
{
	(void)sig;
}

struct eintr_arg {
	struct shv_vcpu *v;
	atomic_int started;
	atomic_int finished;
	int r, err;
	uint32_t exit_reason;
};

static void *eintr_thread(void *p)
{
	struct eintr_arg *a = p;

	if (shv_expect_report(a->v) != 1)
		shv_fail("no first report");
	atomic_store(&a->started, 1);
	a->r = shv_run_raw(a->v);
	a->err = errno;
	a->exit_reason = a->v->run->exit_reason;
	atomic_store(&a->finished, 1);
	return NULL;
}

/* A signal during SHV_RUN: -EINTR, SHV_EXIT_INTR, and the vCPU goes on */
TEST_F_TIMEOUT(lc, signal_eintr, 300)
{
	struct sigaction sa;
	int round;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigusr1;	/* no SA_RESTART */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));

	for (round = 0; round < 5; round++) {
		struct shv_vcpu *v = shv_guest_vm(MODE_PROT32, waitflag32);
		struct eintr_arg a = { .v = v };
		struct shv_regs regs;
		struct shv_vm *vm;
		pthread_t t;
		double t0;

		wr32(v->vm, DATA_GPA, 0);
		ASSERT_EQ(0, pthread_create(&t, NULL, eintr_thread, &a));
		while (!atomic_load(&a.started))
			usleep(1000);
		/* signal until SHV_RUN gives up (a signal may land before it) */
		t0 = now();
		while (!atomic_load(&a.finished) && now() - t0 < 20) {
			usleep(20000 + round * 10000);
			pthread_kill(t, SIGUSR1);
		}
		if (!atomic_load(&a.finished))
			wr32(v->vm, DATA_GPA, 0xdead);	/* unstick the guest */
		pthread_join(t, NULL);
		ASSERT_EQ(-1, a.r) TH_LOG("SHV_RUN returned %d, exit %s", a.r,
					  shv_exit_name(a.exit_reason));
		ASSERT_EQ(EINTR, a.err);
		ASSERT_EQ(SHV_EXIT_INTR, a.exit_reason);

		/* the guest was interrupted inside its loop, and resumes */
		shv_get_regs(v, &regs);
		ASSERT_GE(regs.rip, CODE_GPA);
		ASSERT_LT(regs.rip, CODE_GPA + (uint64_t)(guest_waitflag32_end -
							   guest_waitflag32));
		wr32(v->vm, DATA_GPA, 0xabc0 + round);
		ASSERT_EQ64(0xabc0 + round, shv_expect_report(v));
		shv_expect_done(v);
		vm = v->vm;
		shv_vcpu_free(v);
		shv_vm_free(vm);
	}
}

TEST_HARNESS_MAIN
