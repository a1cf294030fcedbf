// SPDX-License-Identifier: GPL-2.0
/*
 * pc_pci: PCI configuration mechanism #1, the i440FX host bridge, and
 * QEMU's pci-testdev driven through its memory and I/O BARs the way
 * kvm-unit-tests drives it.
 */
#include "lib.h"

#define CFG_ADDR	0xcf8
#define CFG_DATA	0xcfc

static u32 cfg_addr(u8 dev, u8 fn, u8 reg)
{
	return 0x80000000u | dev << 11 | fn << 8 | (reg & 0xfc);
}

static u32 cfg_read32(u8 dev, u8 fn, u8 reg)
{
	outl(CFG_ADDR, cfg_addr(dev, fn, reg));
	return inl(CFG_DATA);
}

static void cfg_write32(u8 dev, u8 fn, u8 reg, u32 v)
{
	outl(CFG_ADDR, cfg_addr(dev, fn, reg));
	outl(CFG_DATA, v);
}

static u16 cfg_read16(u8 dev, u8 fn, u8 reg)
{
	outl(CFG_ADDR, cfg_addr(dev, fn, reg));
	return inw(CFG_DATA + (reg & 2));
}

static u8 cfg_read8(u8 dev, u8 fn, u8 reg)
{
	outl(CFG_ADDR, cfg_addr(dev, fn, reg));
	return inb(CFG_DATA + (reg & 3));
}

/* the test protocol, through byte/dword accessors of one BAR */
struct bar_ops {
	u8 (*rb)(ulong a);
	u32 (*rl)(ulong a);
	void (*wb)(ulong a, u8 v);
	void (*wl)(ulong a, u32 v);
};

static u8 io_rb(ulong a) { return inb(a); }
static u32 io_rl(ulong a) { return inl(a); }
static void io_wb(ulong a, u8 v) { outb(a, v); }
static void io_wl(ulong a, u32 v) { outl(a, v); }
static u8 mm_rb(ulong a) { return mmio_read8(a); }
static u32 mm_rl(ulong a) { return mmio_read32(a); }
static void mm_wb(ulong a, u8 v) { mmio_write8(a, v); }
static void mm_wl(ulong a, u32 v) { mmio_write32(a, v); }

static const struct bar_ops io_ops = { io_rb, io_rl, io_wb, io_wl };
static const struct bar_ops mm_ops = { mm_rb, mm_rl, mm_wb, mm_wl };

static int run_tests(ulong base, const struct bar_ops *o, const char *what)
{
	int n;

	for (n = 0;; n++) {
		u32 count, sig, off, i;
		char name[40];
		u8 width;

		o->wb(base, n);
		count = o->rl(base + 12);
		width = o->rb(base + 1);
		if (count != 0 || (width != 1 && width != 2 && width != 4))
			break;
		sig = o->rl(base + 8);
		off = o->rl(base + 4);
		for (i = 0; i < 16; i++) {
			if (width == 4)
				o->wl(base + off, sig);
			else
				o->wb(base + off, sig);
		}
		count = o->rl(base + 12);
		for (i = 0; i < sizeof(name) - 1; i++) {
			name[i] = o->rb(base + 16 + i);
			if (!name[i])
				break;
		}
		name[i] = 0;
		ok(count == 16, "pci-testdev %s: test %d '%s', 16 writes counted",
		   what, n, name);
	}
	return n;
}

void test_main(void)
{
	int dev, fn, found = 0, td = -1;
	u32 bar0, bar1, sz, cmd;
	ulong mem;
	u16 io;

	outl(CFG_ADDR, 0x80001234 & ~3);
	ok(inl(CFG_ADDR) == 0x80001234u, "0xcf8 reads back");
	outl(CFG_ADDR, 0);
	ok(inl(CFG_DATA) == 0xffffffff, "enable bit clear: data reads all-ones");

	for (dev = 0; dev < 32; dev++) {
		for (fn = 0; fn < 8; fn++) {
			u32 id = cfg_read32(dev, fn, 0);

			if ((id & 0xffff) == 0xffff) {
				if (!fn)
					break;
				continue;
			}
			found++;
			printf("# %02x.%x %04x:%04x class %06x\n", dev, fn,
			       id & 0xffff, id >> 16,
			       cfg_read32(dev, fn, 8) >> 8);
			if (id == 0x00051b36)
				td = dev;
			if (!fn && !(cfg_read8(dev, 0, 0x0e) & 0x80))
				break;
		}
	}
	ok(found == 3, "bus 0: 3 functions");
	ok(cfg_read32(0, 0, 0) == 0x12378086, "00.0: 8086:1237 host bridge");
	ok(cfg_read16(0, 0, 0x0a) == 0x0600 && cfg_read8(0, 0, 0x08) == 2,
	   "00.0: class 0600, revision 2");
	ok(cfg_read16(0, 0, 2) == 0x1237 && cfg_read8(0, 0, 1) == 0x80,
	   "word and byte config reads");
	ok(cfg_read32(1, 0, 0) == 0x70008086 && cfg_read16(1, 0, 0x0a) == 0x0601,
	   "01.0: 8086:7000 ISA bridge");
	ok(td >= 0, "pci-testdev 1b36:0005 found");
	if (td < 0)
		return;

	cmd = cfg_read16(td, 0, 4);
	ok((cmd & 3) == 3, "pci-testdev: I/O and memory decoding on");
	ok(cfg_read8(td, 0, 0x3d) == 0, "pci-testdev: no interrupt pin");
	bar0 = cfg_read32(td, 0, 0x10);
	bar1 = cfg_read32(td, 0, 0x14);
	ok(!(bar0 & 1) && (bar0 & ~0xfu), "BAR0: memory, assigned");
	ok((bar1 & 1) && (bar1 & ~3u), "BAR1: I/O, assigned");

	cfg_write32(td, 0, 0x10, 0xffffffff);
	sz = cfg_read32(td, 0, 0x10);
	cfg_write32(td, 0, 0x10, bar0);
	ok(sz == 0xfffff000, "BAR0 sizing: 4 KiB (0x%x)", sz);
	cfg_write32(td, 0, 0x14, 0xffffffff);
	sz = cfg_read32(td, 0, 0x14);
	cfg_write32(td, 0, 0x14, bar1);
	ok(sz == 0xffffff01, "BAR1 sizing: 256 ports (0x%x)", sz);
	ok(cfg_read32(td, 0, 0x10) == bar0 && cfg_read32(td, 0, 0x14) == bar1,
	   "BARs restored");

	mem = bar0 & ~0xfu;
	io = bar1 & ~3u;
	ok(run_tests(mem, &mm_ops, "mem") == 3, "3 tests through BAR0");
	ok(run_tests(io, &io_ops, "io") == 3, "3 tests through BAR1");

	/* move the I/O BAR; decoding follows */
	cfg_write32(td, 0, 0x14, 0xd000);
	ok(run_tests(0xd000, &io_ops, "io at 0xd000") == 3,
	   "3 tests at the moved I/O BAR");
	mmio_write8(mem, 0);
	ok(inb(io + 1) == 0xff, "nothing at the old I/O BAR");
	cfg_write32(td, 0, 0x14, bar1);

	/* memory decoding off: all-ones */
	outl(CFG_ADDR, cfg_addr(td, 0, 4));
	outw(CFG_DATA, cmd & ~2);
	ok(mmio_read32(mem + 12) == 0xffffffff, "memory decoding off: all-ones");
	outw(CFG_DATA, cmd);
	mmio_write8(mem, 0);
	ok(mmio_read8(mem + 1) == 1, "memory decoding back on");
	mmio_write8(mem, 0xff);
}
