/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: the virtual machine as the runner sees it: an accelerator, one
 * RAM slot, vCPU threads, and the stop protocol between them.
 *
 * Stopping: whoever decides the run is over (debug-exit, a triple fault,
 * an error, SIGINT/SIGTERM in the main thread) calls vm_request_exit();
 * the first caller's status wins.  Every running vCPU is kicked (its
 * immediate-exit flag is set, then SIGUSR1 interrupts its RUN ioctl) and
 * the main thread is woken with SIGUSR2.  A vCPU that halts ends its
 * thread; when the last running vCPU ends, the main thread is woken too.
 */
#ifndef SHV_RUN_VM_H
#define SHV_RUN_VM_H

#include <pthread.h>

#include "accel.h"
#include "mem.h"

#define SIG_VCPU_KICK	SIGUSR1
#define SIG_MAIN_WAKE	SIGUSR2

struct vm;

/*
 * The machine around the vCPUs.  MACHINE_PC (the default with --kernel)
 * is QEMU's standard PC as far as Documentation/machine.rst says;
 * MACHINE_BARE (the default with --flat) has the serial port, debug-exit
 * and the POST port only.
 */
enum machine_type {
	MACHINE_BARE,
	MACHINE_PC,
};

struct vcpu {
	struct vm *vm;
	unsigned int idx;
	struct accel_vcpu acc;
	bool created;
	bool runnable;		/* false: parked AP, never entered */
	bool started;		/* a thread was created */
	bool running;		/* the thread is in its run loop */
	pthread_t thread;
};

struct vm {
	struct accel accel;
	struct guest_mem mem;
	unsigned int nr_vcpus;
	struct vcpu *vcpus;

	/* configuration, fixed before devices_init() */
	enum machine_type machine;
	unsigned int smp;	/* vCPUs the machine has */
	const char *cmdline;	/* --append ("" if none), for fw_cfg */
	bool pin;		/* --pin: vCPU n on the n-th allowed CPU */

	pthread_mutex_t lock;
	pthread_t main_thread;
	unsigned int nr_running;
	bool stopping;		/* read without the lock in the run loop */
	int status;
};

/*
 * Drive interrupt line @gsi (see accel.h) to @level.  Without an
 * in-kernel irqchip the call does nothing.
 */
void vm_irq_line(struct vm *vm, u32 gsi, int level);

/* End the whole run with @status (first caller wins) */
void vm_request_exit(struct vm *vm, int status);
bool vm_stopping(struct vm *vm);

/* Start a thread running @v; -1 with a message on failure */
int vcpu_start(struct vcpu *v);

/* Print the registers of a vCPU for error reports */
void vcpu_dump(struct vcpu *v);

#endif /* SHV_RUN_VM_H */
