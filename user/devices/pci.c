// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: PCI bus 0 with configuration mechanism #1, an i440FX-like host
 * bridge (00:00.0, 8086:1237) and a PIIX3-like ISA bridge (00:01.0,
 * 8086:7000), as on QEMU's pc machine.
 *
 * 0xcf8 (32-bit accesses only) is the address register; 0xcfc-0xcff the
 * data window, any width, to register (address & 0xfc) + (port & 3) of
 * the addressed function when bit 31 is set.  Absent functions, other
 * buses and a clear enable bit read all-ones and ignore writes.  A byte
 * at 0xcf9 is the PIIX reset control register: writing bit 2 resets
 * (the run ends as on a triple fault).
 *
 * BARs decode while the command register enables their space and they
 * lie inside the windows: memory [0xc0000000, 0xfec00000), I/O
 * [0xc000, 0x10000).  The runner assigns them upwards from 0xfe000000
 * and 0xc000, naturally aligned.
 */
#include <pthread.h>
#include <string.h>

#include "../bus.h"
#include "../dev.h"
#include "../pc.h"
#include "../pci.h"
#include "../vm.h"

#define PCI_CONFIG_PORT		0xcf8
#define PCI_MAX_DEVICES		32
#define PCI_MMIO_ALLOC_START	0xfe000000ULL

static struct pci {
	pthread_mutex_t lock;
	struct vm *vm;
	u32 config_addr;
	u8 rcr;
	struct pci_device *devs[PCI_MAX_DEVICES];
	unsigned int nr;
	u64 mmio_next, io_next;
} pci = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct pci_device host_bridge, isa_bridge;

void pci_init_header(struct pci_device *d, u16 vendor, u16 device,
		     u32 class_code, u8 revision, bool multifunction)
{
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->wmask, 0, sizeof(d->wmask));
	le_put(d->cfg + PCI_VENDOR_ID, 2, vendor);
	le_put(d->cfg + PCI_DEVICE_ID, 2, device);
	d->cfg[PCI_REVISION_ID] = revision;
	le_put(d->cfg + PCI_CLASS_PROG, 3, class_code);
	d->cfg[PCI_HEADER_TYPE] = multifunction ? 0x80 : 0;
	/* I/O, memory, bus master, parity, SERR, INTx disable */
	le_put(d->wmask + PCI_COMMAND, 2, 0x0547);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static u32 bar_reg(const struct pci_device *d, unsigned int i)
{
	return le_get(d->cfg + PCI_BASE_ADDRESS_0 + 4 * i, 4);
}

int pci_add(struct pci_device *d)
{
	unsigned int i;
	u16 cmd = 0;

	if (pci.nr == PCI_MAX_DEVICES)
		return -1;
	for (i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &d->bars[i];
		u64 *next = b->io ? &pci.io_next : &pci.mmio_next;
		u32 size = b->size, align, base;

		if (!size)
			continue;
		align = b->io ? size : (size < 0x1000 ? 0x1000 : size);
		base = (*next + align - 1) & ~(u64)(align - 1);
		*next = base + size;
		le_put(d->wmask + PCI_BASE_ADDRESS_0 + 4 * i, 4, ~(size - 1));
		le_put(d->cfg + PCI_BASE_ADDRESS_0 + 4 * i, 4,
		       base | (b->io ? 1 : 0));
		cmd |= b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
		pr_debug("pci %02x.%x %s: BAR%u %s 0x%x size 0x%x",
			 d->devfn >> 3, d->devfn & 7, d->name, i,
			 b->io ? "io" : "mem", base, size);
	}
	le_put(d->cfg + PCI_COMMAND, 2, cmd);
	pci.devs[pci.nr++] = d;
	return 0;
}

static struct pci_device *pci_find(u32 addr)
{
	unsigned int i;
	u8 devfn = (addr >> 8) & 0xff;

	if (((addr >> 16) & 0xff) != 0)
		return NULL;
	for (i = 0; i < pci.nr; i++)
		if (pci.devs[i]->devfn == devfn)
			return pci.devs[i];
	return NULL;
}

static void cfg_write(struct pci_device *d, unsigned int reg, u8 v)
{
	unsigned int bar;
	u8 type;

	d->cfg[reg] = (d->cfg[reg] & ~d->wmask[reg]) | (v & d->wmask[reg]);
	/* the type bits of a BAR are read-only */
	if (reg >= PCI_BASE_ADDRESS_0 && reg < PCI_BASE_ADDRESS_0 + 24 &&
	    !(reg & 3)) {
		bar = (reg - PCI_BASE_ADDRESS_0) / 4;
		if (d->bars[bar].size) {
			type = d->bars[bar].io ? 0x1 : 0x0;
			d->cfg[reg] = (d->cfg[reg] & ~(d->bars[bar].io ? 3 : 0xf)) |
				      type;
		}
	}
}

static void config_io(void *opaque, u64 offset, u8 *data, u32 len,
		      bool is_write)
{
	struct pci_device *d;
	u32 i;

	(void)opaque;
	pthread_mutex_lock(&pci.lock);
	if (offset < 4) {
		if (offset == 0 && len == 4) {
			if (is_write)
				pci.config_addr = le_get(data, 4);
			else
				le_put(data, 4, pci.config_addr);
		} else if (offset == 1 && len == 1) {
			if (is_write) {
				if (data[0] & 4) {
					pr_info("guest reset (port 0xcf9)");
					vm_request_exit(pci.vm,
							STATUS_SHUTDOWN);
				}
				pci.rcr = data[0] & 2;
			} else {
				data[0] = pci.rcr;
			}
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		goto out;
	}
	d = (pci.config_addr & 0x80000000u) ? pci_find(pci.config_addr) :
					      NULL;
	for (i = 0; i < len; i++) {
		unsigned int reg = (pci.config_addr & 0xfc) + offset - 4 + i;

		if (!d || reg >= PCI_CFG_SIZE) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			cfg_write(d, reg, data[i]);
		else
			data[i] = d->cfg[reg];
	}
out:
	pthread_mutex_unlock(&pci.lock);
}

/* Find the enabled BAR holding @addr; fills what to call outside the lock */
static bool bar_lookup(bool io, u64 addr, struct pci_bar *out, u64 *off)
{
	unsigned int i, j;

	for (i = 0; i < pci.nr; i++) {
		struct pci_device *d = pci.devs[i];
		u16 cmd = le_get(d->cfg + PCI_COMMAND, 2);

		if (!(cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
			continue;
		for (j = 0; j < PCI_NR_BARS; j++) {
			struct pci_bar *b = &d->bars[j];
			u64 base;

			if (!b->size || b->io != io)
				continue;
			base = bar_reg(d, j) & (io ? ~3u : ~0xfu);
			if (addr >= base && addr - base < b->size) {
				*out = *b;
				*off = addr - base;
				return true;
			}
		}
	}
	return false;
}

static void window_io(bool io, u64 addr, u8 *data, u32 len, bool is_write)
{
	struct pci_bar b;
	u64 off;
	bool hit;

	pthread_mutex_lock(&pci.lock);
	hit = bar_lookup(io, addr, &b, &off);
	pthread_mutex_unlock(&pci.lock);
	if (hit) {
		b.fn(b.opaque, off, data, len, is_write);
		return;
	}
	if (!is_write)
		memset(data, 0xff, len);
	pr_debug("pci: %s %s 0x%llx size %u outside every BAR",
		 is_write ? "write" : "read", io ? "port" : "address",
		 (unsigned long long)addr, len);
}

static void mmio_window_io(void *opaque, u64 offset, u8 *data, u32 len,
			   bool is_write)
{
	(void)opaque;
	window_io(false, PC_PCI_MMIO_BASE + offset, data, len, is_write);
}

static void io_window_io(void *opaque, u64 offset, u8 *data, u32 len,
			 bool is_write)
{
	(void)opaque;
	window_io(true, PC_PCI_IO_BASE + offset, data, len, is_write);
}

static int pci_core_init(struct device *dev, struct vm *vm)
{
	(void)dev;
	pci.vm = vm;
	pci.config_addr = 0;
	pci.rcr = 0;

	pci_init_header(&host_bridge, 0x8086, 0x1237, 0x060000, 0x02, false);
	host_bridge.name = "i440fx host bridge";
	host_bridge.devfn = 0;
	/* PAM, SMRAM and the rest: plain storage */
	memset(host_bridge.wmask + 0x40, 0xff, PCI_CFG_SIZE - 0x40);

	pci_init_header(&isa_bridge, 0x8086, 0x7000, 0x060100, 0x00, true);
	isa_bridge.name = "piix3 isa bridge";
	isa_bridge.devfn = 1 << 3;
	memset(isa_bridge.wmask + 0x40, 0xff, PCI_CFG_SIZE - 0x40);
	/* PIRQ routing: all disabled */
	memset(isa_bridge.cfg + 0x60, 0x80, 4);

	if (pci_add(&host_bridge) || pci_add(&isa_bridge))
		return -1;
	return bus_register(BUS_PIO, PCI_CONFIG_PORT, 8, "pci config",
			    config_io, NULL) ||
	       bus_register(BUS_PIO, PC_PCI_IO_BASE,
			    PC_PCI_IO_END - PC_PCI_IO_BASE, "pci io window",
			    io_window_io, NULL) ||
	       bus_register(BUS_MMIO, PC_PCI_MMIO_BASE,
			    PC_PCI_MMIO_END - PC_PCI_MMIO_BASE,
			    "pci mmio window", mmio_window_io, NULL) ? -1 : 0;
}

static void pci_core_teardown(struct device *dev)
{
	(void)dev;
	pci.nr = 0;
	pci.mmio_next = PCI_MMIO_ALLOC_START;
	pci.io_next = PC_PCI_IO_BASE;
}

static struct device pci_dev = {
	.name		= "pci",
	.machines	= DEV_MACHINE_PC,
	.init		= pci_core_init,
	.teardown	= pci_core_teardown,
};
DEVICE_REGISTER(pci_dev);

/* allocation starts before any device adds itself */
__attribute__((constructor)) static void pci_alloc_init(void)
{
	pci.mmio_next = PCI_MMIO_ALLOC_START;
	pci.io_next = PC_PCI_IO_BASE;
}
