// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the exit counter, a port for benchmark guests (not a QEMU
 * device).  A read of 0xe10-0xe13 returns the low 32 bits of the number
 * of guest exits of all vCPUs together, as the accelerator counts them
 * (shv: SHV_GET_VCPU_STATS, KVM: its "exits" statistic), all-ones when
 * it cannot tell.  The read is an exit itself and is counted; writes are
 * ignored.
 */
#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define EXIT_COUNTER_PORT	0xe10

static void exit_counter_io(void *opaque, u64 offset, u8 *data, u32 len,
			    bool is_write)
{
	struct vm *vm = opaque;
	u64 sum = 0, n;
	u32 v = ~0u, i;

	if (is_write)
		return;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		if (!c->created)
			continue;
		if (!vm->accel.ops->vcpu_exits ||
		    vm->accel.ops->vcpu_exits(&c->acc, &n))
			break;
		sum += n;
	}
	if (i == vm->nr_vcpus)
		v = sum;
	for (i = 0; i < len; i++)
		data[i] = offset + i < 4 ? v >> (8 * (offset + i)) : 0xff;
}

static int exit_counter_init(struct device *dev, struct vm *vm)
{
	(void)dev;
	return bus_register(BUS_PIO, EXIT_COUNTER_PORT, 4, "exit-counter",
			    exit_counter_io, vm);
}

static struct device exit_counter_dev = {
	.name	= "exit-counter",
	.init	= exit_counter_init,
};
DEVICE_REGISTER(exit_counter_dev);
