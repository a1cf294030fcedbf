// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: QEMU's ISA test device (pc-testdev), as kvm-unit-tests uses it.
 *
 *   0xe0-0xe3          a 32-bit scratch register, accesses of any width:
 *                      byte lanes, so a word at 0xe2 is bytes 2-3 (bytes
 *                      past 0xe3 read 0 and are not written)
 *   0xe4-0xe7          flush page: a 32-bit write of a guest-physical
 *                      address drops every cached translation and shadow
 *                      of its page (accel flush_page); reads return 0
 *   0xe8-0xeb          the same register, bytewise: wider accesses are
 *                      split into byte accesses (which gives the same
 *                      lanes); string I/O works element by element
 *   0x2000-0x2017      IRQ lines: a byte write of v at 0x2000 + n sets
 *                      GSI n to (v != 0); wider writes are ignored; reads
 *                      return 0
 *   0xff000000 64 KiB  a buffer that reads back what was written, in
 *                      MMIO space: every access exits to the runner
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../bus.h"
#include "../dev.h"
#include "../pc.h"
#include "../vm.h"

#define TESTDEV_IOPORT		0xe0
#define TESTDEV_FLUSH		0xe4
#define TESTDEV_IOPORT_BYTE	0xe8
#define TESTDEV_IRQ		0x2000
#define TESTDEV_NR_IRQS		24

static struct pc_testdev {
	pthread_mutex_t lock;
	struct vm *vm;
	u32 ioport_data;
	bool flush_warned;
	u8 iomem[PC_TESTDEV_MMIO_SIZE];
} td = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void scratch_io(void *opaque, u64 offset, u8 *data, u32 len,
		       bool is_write)
{
	u32 i;

	(void)opaque;
	pthread_mutex_lock(&td.lock);
	for (i = 0; i < len; i++) {
		u64 lane = offset + i;

		if (lane > 3) {
			if (!is_write)
				data[i] = 0;
			continue;
		}
		if (is_write)
			td.ioport_data = (td.ioport_data &
					  ~(0xffu << (8 * lane))) |
					 (u32)data[i] << (8 * lane);
		else
			data[i] = td.ioport_data >> (8 * lane);
	}
	pthread_mutex_unlock(&td.lock);
}

static void flush_io(void *opaque, u64 offset, u8 *data, u32 len,
		     bool is_write)
{
	struct accel *a = &td.vm->accel;
	u64 gpa;
	void *hva;

	(void)opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset || len != 4)
		return;
	gpa = le_get(data, 4) & ~0xfffULL;
	hva = gpa_to_hva(&td.vm->mem, gpa, 0x1000);
	if (!hva || !a->ops->flush_page)
		return;
	if (a->ops->flush_page(a, gpa, hva) && errno == ENOTTY &&
	    !__atomic_exchange_n(&td.flush_warned, true, __ATOMIC_RELAXED))
		pr_debug("pc-testdev: %s cannot flush guest pages yet (flush-page writes ignored)",
			 a->ops->name);
}

static void irq_io(void *opaque, u64 offset, u8 *data, u32 len,
		   bool is_write)
{
	(void)opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (len == 1 && offset < TESTDEV_NR_IRQS)
		vm_irq_line(td.vm, offset, data[0] != 0);
}

static void iomem_io(void *opaque, u64 offset, u8 *data, u32 len,
		     bool is_write)
{
	u32 n = len;

	(void)opaque;
	if (offset + n > PC_TESTDEV_MMIO_SIZE)
		n = PC_TESTDEV_MMIO_SIZE - offset;
	pthread_mutex_lock(&td.lock);
	if (is_write) {
		memcpy(&td.iomem[offset], data, n);
	} else {
		memcpy(data, &td.iomem[offset], n);
		memset(data + n, 0xff, len - n);
	}
	pthread_mutex_unlock(&td.lock);
}

static void pc_testdev_reset(struct device *dev)
{
	(void)dev;
	pthread_mutex_lock(&td.lock);
	td.ioport_data = 0;
	memset(td.iomem, 0, sizeof(td.iomem));
	pthread_mutex_unlock(&td.lock);
}

static int pc_testdev_init(struct device *dev, struct vm *vm)
{
	td.vm = vm;
	pc_testdev_reset(dev);
	if (bus_register(BUS_PIO, TESTDEV_IOPORT, 4, "pc-testdev ioport",
			 scratch_io, NULL) ||
	    bus_register(BUS_PIO, TESTDEV_FLUSH, 4, "pc-testdev flush-page",
			 flush_io, NULL) ||
	    bus_register(BUS_PIO, TESTDEV_IOPORT_BYTE, 4,
			 "pc-testdev ioport-byte", scratch_io, NULL) ||
	    bus_register(BUS_PIO, TESTDEV_IRQ, TESTDEV_NR_IRQS,
			 "pc-testdev irq-line", irq_io, NULL) ||
	    bus_register(BUS_MMIO, PC_TESTDEV_MMIO, PC_TESTDEV_MMIO_SIZE,
			 "pc-testdev iomem", iomem_io, NULL))
		return -1;
	return 0;
}

static struct device pc_testdev_dev = {
	.name		= "pc-testdev",
	.machines	= DEV_MACHINE_PC,
	.init		= pc_testdev_init,
	.reset		= pc_testdev_reset,
};
DEVICE_REGISTER(pc_testdev_dev);
