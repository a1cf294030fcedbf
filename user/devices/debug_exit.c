// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: QEMU-style isa-debug-exit at port 0xf4.  A write of value v
 * (any access size) ends the whole run with exit status (v << 1) | 1;
 * reads return 0.
 */
#include <string.h>

#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define DEBUG_EXIT_PORT	0xf4

static struct vm *debug_exit_vm;

static void debug_exit_io(void *opaque, u64 offset, u8 *data, u32 len,
			  bool is_write)
{
	u64 v;

	(void)opaque;
	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	v = le_get(data, len > 8 ? 8 : len);
	pr_debug("debug-exit: guest wrote 0x%llx, exit status %d",
		 (unsigned long long)v, (int)(((v << 1) | 1) & 0xff));
	vm_request_exit(debug_exit_vm, (int)(((v << 1) | 1) & 0xff));
}

static int debug_exit_init(struct device *dev, struct vm *vm)
{
	(void)dev;
	debug_exit_vm = vm;
	return bus_register(BUS_PIO, DEBUG_EXIT_PORT, 1, "debug-exit",
			    debug_exit_io, NULL);
}

static struct device debug_exit_dev = {
	.name	= "debug-exit",
	.init	= debug_exit_init,
};
DEVICE_REGISTER(debug_exit_dev);
