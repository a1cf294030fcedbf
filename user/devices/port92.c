// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: system control port A (0x92) of a PC chipset.  Bit 1 is the
 * A20 gate, stored and read back (the address line itself is never
 * masked: A20 is always on, as on KVM and modern hardware).  Writing
 * bit 0 as 1 is a fast reset: the run ends as on a triple fault (exit
 * status 2).  Bit 0 reads 0.
 */
#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define PORT92		0x92
#define PORT92_RESET	0x01
#define PORT92_A20	0x02

static struct vm *port92_vm;
static u8 port92_val;

static void port92_io(void *opaque, u64 offset, u8 *data, u32 len,
		      bool is_write)
{
	u32 i;

	(void)opaque;
	if (!is_write) {
		for (i = 0; i < len; i++)
			data[i] = offset + i ? 0xff :
				__atomic_load_n(&port92_val, __ATOMIC_RELAXED);
		return;
	}
	if (offset)
		return;
	__atomic_store_n(&port92_val, data[0] & ~PORT92_RESET,
			 __ATOMIC_RELAXED);
	if (data[0] & PORT92_RESET) {
		pr_info("guest reset (port 0x92)");
		vm_request_exit(port92_vm, STATUS_SHUTDOWN);
	}
}

static void port92_reset(struct device *dev)
{
	(void)dev;
	__atomic_store_n(&port92_val, PORT92_A20, __ATOMIC_RELAXED);
}

static int port92_init(struct device *dev, struct vm *vm)
{
	port92_vm = vm;
	port92_reset(dev);
	return bus_register(BUS_PIO, PORT92, 1, "port92", port92_io, NULL);
}

static struct device port92_dev = {
	.name		= "port92",
	.machines	= DEV_MACHINE_PC,
	.init		= port92_init,
	.reset		= port92_reset,
};
DEVICE_REGISTER(port92_dev);
