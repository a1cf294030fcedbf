// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: port 0x61 (NMI status and control) on a machine without the
 * in-kernel irqchip, whose PIT owns the port otherwise.  Bits 0-3 are
 * stored; bit 4 toggles every 15.085 us of host time like the DRAM
 * refresh request that delay loops watch; bit 5 (counter 2 OUT) and bits
 * 6-7 read 0, since there is no PIT here.
 */
#include <time.h>

#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define PORT61		0x61

static u8 port61_val;

static void port61_io(void *opaque, u64 offset, u8 *data, u32 len,
		      bool is_write)
{
	struct timespec ts;
	u64 ns;
	u32 i;

	(void)opaque;
	if (is_write) {
		if (!offset)
			__atomic_store_n(&port61_val, data[0] & 0x0f,
					 __ATOMIC_RELAXED);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	for (i = 0; i < len; i++)
		data[i] = offset + i ? 0xff :
			__atomic_load_n(&port61_val, __ATOMIC_RELAXED) |
			(((ns / 15085) & 1) << 4);
}

static void port61_reset(struct device *dev)
{
	(void)dev;
	__atomic_store_n(&port61_val, 0, __ATOMIC_RELAXED);
}

static int port61_init(struct device *dev, struct vm *vm)
{
	port61_reset(dev);
	if (vm->accel.irqchip)
		return 0;	/* the kernel's PIT has it */
	return bus_register(BUS_PIO, PORT61, 1, "port61", port61_io, NULL);
}

static struct device port61_dev = {
	.name		= "port61",
	.machines	= DEV_MACHINE_PC,
	.init		= port61_init,
	.reset		= port61_reset,
};
DEVICE_REGISTER(port61_dev);
