// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the vCPU threads and their run loop, dispatching exits to the
 * buses, plus the stop protocol of vm.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "vm.h"

bool vm_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

void vm_irq_line(struct vm *vm, u32 gsi, int level)
{
	static bool warned;

	if (!vm->accel.irqchip)
		return;
	if (vm->accel.ops->irq_line(&vm->accel, gsi, level) &&
	    !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
		pr_warn("%s: cannot set interrupt line %u: %s",
			vm->accel.ops->name, gsi, strerror(errno));
}

void vm_request_exit(struct vm *vm, int status)
{
	pthread_t self = pthread_self();
	unsigned int i;

	pthread_mutex_lock(&vm->lock);
	if (vm->stopping) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	vm->status = status;
	__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->running)
			continue;
		*v->acc.immediate_exit = 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!pthread_equal(v->thread, self))
			pthread_kill(v->thread, SIG_VCPU_KICK);
	}
	if (!pthread_equal(vm->main_thread, self))
		pthread_kill(vm->main_thread, SIG_MAIN_WAKE);
	pthread_mutex_unlock(&vm->lock);
}

void vcpu_dump(struct vcpu *v)
{
	const struct accel_ops *ops = v->vm->accel.ops;
	struct shv_sregs s;
	struct shv_regs r;

	if (ops->get_regs(&v->acc, &r))
		return;
	fprintf(stderr,
		"shv-run: vcpu %u: rip %016llx rflags %08llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rsp %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n",
		v->idx, (unsigned long long)r.rip,
		(unsigned long long)r.rflags,
		(unsigned long long)r.rax, (unsigned long long)r.rbx,
		(unsigned long long)r.rcx, (unsigned long long)r.rdx,
		(unsigned long long)r.rsi, (unsigned long long)r.rdi,
		(unsigned long long)r.rsp, (unsigned long long)r.rbp,
		(unsigned long long)r.r8, (unsigned long long)r.r9,
		(unsigned long long)r.r10, (unsigned long long)r.r11,
		(unsigned long long)r.r12, (unsigned long long)r.r13,
		(unsigned long long)r.r14, (unsigned long long)r.r15);
	if (ops->get_sregs(&v->acc, &s))
		return;
	fprintf(stderr,
		"  cs %04x base %llx  ss %04x  cr0 %llx cr3 %llx cr4 %llx efer %llx\n",
		s.cs.selector, (unsigned long long)s.cs.base, s.ss.selector,
		(unsigned long long)s.cr0, (unsigned long long)s.cr3,
		(unsigned long long)s.cr4, (unsigned long long)s.efer);
}

static void vcpu_report(struct vcpu *v, const struct accel_exit *e)
{
	const struct accel_ops *ops = v->vm->accel.ops;
	unsigned int i;

	switch (e->kind) {
	case ACCEL_EXIT_INTERNAL_ERROR:
		pr_err("vcpu %u: internal error (exit reason %u %s, suberror %u, %u data words)",
		       v->idx, e->raw_reason, ops->exit_name(e->raw_reason),
		       e->internal.suberror, e->internal.ndata);
		for (i = 0; i < e->internal.ndata; i++)
			fprintf(stderr, "  data[%u] = 0x%llx\n", i,
				(unsigned long long)e->internal.data[i]);
		break;
	case ACCEL_EXIT_FAIL_ENTRY:
		pr_err("vcpu %u: VM entry failed (exit reason %u %s, hardware reason 0x%llx, info 0x%llx 0x%llx, cpu %u)",
		       v->idx, e->raw_reason, ops->exit_name(e->raw_reason),
		       (unsigned long long)e->hw.reason,
		       (unsigned long long)e->hw.info1,
		       (unsigned long long)e->hw.info2, e->hw.cpu);
		break;
	case ACCEL_EXIT_UNKNOWN:
		pr_err("vcpu %u: unknown exit (exit reason %u %s, hardware reason 0x%llx, info 0x%llx 0x%llx)",
		       v->idx, e->raw_reason, ops->exit_name(e->raw_reason),
		       (unsigned long long)e->hw.reason,
		       (unsigned long long)e->hw.info1,
		       (unsigned long long)e->hw.info2);
		break;
	default:
		pr_err("vcpu %u: unhandled exit reason %u (%s)", v->idx,
		       e->raw_reason, ops->exit_name(e->raw_reason));
		break;
	}
	vcpu_dump(v);
}

static void vcpu_io(const struct accel_exit *e)
{
	u32 i;

	/* string I/O (KVM) hands over several elements at once */
	for (i = 0; i < e->io.count; i++)
		bus_access(BUS_PIO, e->io.port, e->io.data + i * e->io.size,
			   e->io.size, e->io.out);
}

/* Returns false when the loop must end */
static bool vcpu_handle_exit(struct vcpu *v, const struct accel_exit *e)
{
	struct vm *vm = v->vm;

	switch (e->kind) {
	case ACCEL_EXIT_INTR:
		return true;
	case ACCEL_EXIT_IO:
		vcpu_io(e);
		return true;
	case ACCEL_EXIT_MMIO:
		if (e->mmio.len > 8) {
			pr_err("vcpu %u: MMIO access of %u bytes at 0x%llx",
			       v->idx, e->mmio.len,
			       (unsigned long long)e->mmio.addr);
			vm_request_exit(vm, STATUS_VM_ERROR);
			return false;
		}
		bus_access(BUS_MMIO, e->mmio.addr, e->mmio.data, e->mmio.len,
			   e->mmio.is_write);
		return true;
	case ACCEL_EXIT_HLT:
		pr_info("vcpu %u halted", v->idx);
		return false;
	case ACCEL_EXIT_SHUTDOWN:
		pr_info("guest shutdown (triple fault)");
		if (verbose)
			vcpu_dump(v);
		vm_request_exit(vm, STATUS_SHUTDOWN);
		return false;
	default:
		vcpu_report(v, e);
		vm_request_exit(vm, STATUS_VM_ERROR);
		return false;
	}
}

/* --pin: the n-th CPU of those the runner may use, modulo their number */
static void vcpu_pin(struct vcpu *v)
{
	cpu_set_t allowed, one;
	int cpu, n, k;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		return;
	n = CPU_COUNT(&allowed);
	if (!n)
		return;
	k = v->idx % n;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || k--)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one))
			pr_warn("vcpu %u: cannot pin it to CPU %d", v->idx, cpu);
		else
			pr_debug("vcpu %u: on CPU %d", v->idx, cpu);
		return;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	const struct accel_ops *ops = vm->accel.ops;
	struct accel_exit e;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	if (vm->pin)
		vcpu_pin(v);

	while (!vm_stopping(vm)) {
		if (ops->run(&v->acc, &e)) {
			vcpu_dump(v);
			vm_request_exit(vm, STATUS_VM_ERROR);
			break;
		}
		if (!vcpu_handle_exit(v, &e))
			break;
	}

	pthread_mutex_lock(&vm->lock);
	v->running = false;
	if (--vm->nr_running == 0 && !vm->stopping)
		pthread_kill(vm->main_thread, SIG_MAIN_WAKE);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	struct vm *vm = v->vm;
	int err;

	pthread_mutex_lock(&vm->lock);
	v->running = true;
	vm->nr_running++;
	err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (err) {
		v->running = false;
		vm->nr_running--;
		pthread_mutex_unlock(&vm->lock);
		errno = err;
		pr_errno("cannot start the thread of vcpu %u", v->idx);
		return -1;
	}
	v->started = true;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}
