// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: the POST code port 0x80.  Writes are remembered, reads return
 * the last value written.  Also the cheapest possible port-I/O exit for
 * benchmarks.
 */
#include "../bus.h"
#include "../dev.h"

#define POST_PORT	0x80

static u8 post_code;

static void port80_io(void *opaque, u64 offset, u8 *data, u32 len,
		      bool is_write)
{
	u32 i;

	(void)opaque;
	(void)offset;
	if (is_write) {
		__atomic_store_n(&post_code, data[0], __ATOMIC_RELAXED);
		return;
	}
	for (i = 0; i < len; i++)
		data[i] = __atomic_load_n(&post_code, __ATOMIC_RELAXED);
}

static void port80_reset(struct device *dev)
{
	(void)dev;
	__atomic_store_n(&post_code, 0, __ATOMIC_RELAXED);
}

static int port80_init(struct device *dev, struct vm *vm)
{
	(void)vm;
	port80_reset(dev);
	return bus_register(BUS_PIO, POST_PORT, 1, "port80", port80_io, NULL);
}

static void port80_power_down(struct device *dev)
{
	(void)dev;
	pr_debug("last POST code 0x%02x",
		 __atomic_load_n(&post_code, __ATOMIC_RELAXED));
}

static struct device port80_dev = {
	.name		= "port80",
	.init		= port80_init,
	.reset		= port80_reset,
	.power_up	= NULL,
	.power_down	= port80_power_down,
};
DEVICE_REGISTER(port80_dev);
