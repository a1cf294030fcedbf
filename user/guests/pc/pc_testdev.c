// SPDX-License-Identifier: GPL-2.0
/*
 * pc_testdev: QEMU's ISA test device: the scratch register at 0xe0 with
 * every width and byte lane, its bytewise twin at 0xe8, string I/O on
 * both, the flush-page port and the MMIO buffer at 0xff000000.
 */
#include "lib.h"

#define SCRATCH		0xe0
#define SCRATCH_BYTE	0xe8
#define FLUSH_PAGE	0xe4
#define IOMEM		0xff000000u

static u8 page[4096] __attribute__((aligned(4096)));

static void outsb(u16 port, const void *p, u32 n)
{
	asm volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(port) : "memory");
}

static void outsw(u16 port, const void *p, u32 n)
{
	asm volatile("rep outsw" : "+S"(p), "+c"(n) : "d"(port) : "memory");
}

static void outsl(u16 port, const void *p, u32 n)
{
	asm volatile("rep outsl" : "+S"(p), "+c"(n) : "d"(port) : "memory");
}

static void insb(u16 port, void *p, u32 n)
{
	asm volatile("rep insb" : "+D"(p), "+c"(n) : "d"(port) : "memory");
}

static void insw(u16 port, void *p, u32 n)
{
	asm volatile("rep insw" : "+D"(p), "+c"(n) : "d"(port) : "memory");
}

static void insl(u16 port, void *p, u32 n)
{
	asm volatile("rep insl" : "+D"(p), "+c"(n) : "d"(port) : "memory");
}

static void test_scratch(u16 base, const char *what)
{
	outl(base, 0x12345678);
	ok(inl(base) == 0x12345678, "%s: dword write, dword read", what);
	ok(inb(base) == 0x78 && inb(base + 1) == 0x56 &&
	   inb(base + 2) == 0x34 && inb(base + 3) == 0x12,
	   "%s: byte lanes", what);
	ok(inw(base) == 0x5678 && inw(base + 2) == 0x1234,
	   "%s: word lanes", what);
	outb(base + 1, 0xab);
	ok(inl(base) == 0x1234ab78, "%s: byte write to lane 1", what);
	outw(base + 2, 0xcdef);
	ok(inl(base) == 0xcdefab78, "%s: word write to lanes 2-3", what);
	outw(base, 0x1122);
	ok(inl(base) == 0xcdef1122, "%s: word write to lanes 0-1", what);
	outb(base + 3, 0x99);
	ok(inw(base + 2) == 0x99ef, "%s: byte write to lane 3", what);
}

static void test_string_io(void)
{
	u8 b[4] = { 1, 2, 3, 4 }, rb[4];
	u16 w[3] = { 0x1111, 0x2222, 0x3333 }, rw[3];
	u32 l[3] = { 0xa1a2a3a4, 0xb1b2b3b4, 0xc1c2c3c4 }, rl[3];

	outl(SCRATCH, 0);
	outsb(SCRATCH, b, 4);
	ok(inl(SCRATCH) == 4, "rep outsb: each byte to lane 0 (last wins)");
	outsb(SCRATCH + 2, b, 3);
	ok(inl(SCRATCH) == 0x00030004, "rep outsb to 0xe2: lane 2");
	insb(SCRATCH + 2, rb, 4);
	ok(rb[0] == 3 && rb[1] == 3 && rb[2] == 3 && rb[3] == 3,
	   "rep insb from 0xe2");
	outsw(SCRATCH + 2, w, 3);
	ok(inl(SCRATCH) == 0x33330004, "rep outsw to 0xe2: lanes 2-3");
	insw(SCRATCH, rw, 3);
	ok(rw[0] == 0x0004 && rw[1] == 0x0004 && rw[2] == 0x0004,
	   "rep insw from 0xe0");
	outsl(SCRATCH_BYTE, l, 3);
	ok(inl(SCRATCH) == 0xc1c2c3c4, "rep outsl to 0xe8 (bytewise)");
	insl(SCRATCH_BYTE, rl, 3);
	ok(rl[0] == 0xc1c2c3c4 && rl[1] == 0xc1c2c3c4 &&
	   rl[2] == 0xc1c2c3c4, "rep insl from 0xe8");
}

static void test_iomem(void)
{
	u32 src[4] = { 0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10 };
	u32 dst[4] = { 0 };
	u32 i, good = 1;
	void *s, *d;
	u32 n;

	mmio_write32(IOMEM, 0xdeadbeef);
	ok(mmio_read32(IOMEM) == 0xdeadbeef, "iomem: dword");
	ok(mmio_read8(IOMEM) == 0xef && mmio_read8(IOMEM + 3) == 0xde,
	   "iomem: bytes of it");
	ok(mmio_read16(IOMEM + 1) == 0xadbe, "iomem: unaligned word");
	mmio_write16(IOMEM + 2, 0x1234);
	ok(mmio_read32(IOMEM) == 0x1234beef, "iomem: word write");
	mmio_write8(IOMEM + 0x8001, 0x5a);
	ok(mmio_read32(IOMEM + 0x8000) == 0x5a00, "iomem: byte write");
	mmio_write32(IOMEM + 0xfffc, 0xcafef00d);
	ok(mmio_read32(IOMEM + 0xfffc) == 0xcafef00d, "iomem: last dword");
	for (i = 0; i < 64; i++)
		mmio_write32(IOMEM + 0x100 + 4 * i, i * 0x01010101);
	for (i = 0; i < 64; i++)
		good &= mmio_read32(IOMEM + 0x100 + 4 * i) == i * 0x01010101;
	ok(good, "iomem: 64 dwords");

	s = src;
	d = (void *)(ulong)(IOMEM + 0x200);
	n = 4;
	asm volatile("rep movsl" : "+S"(s), "+D"(d), "+c"(n) :: "memory");
	ok(mmio_read32(IOMEM + 0x20c) == 0x0d0e0f10, "rep movsl RAM -> iomem");
	s = (void *)(ulong)(IOMEM + 0x200);
	d = dst;
	n = 4;
	asm volatile("rep movsl" : "+S"(s), "+D"(d), "+c"(n) :: "memory");
	ok(!memcmp(src, dst, sizeof(src)), "rep movsl iomem -> RAM");
}

void test_main(void)
{
	u32 i, good = 1;

	test_scratch(SCRATCH, "0xe0");
	test_scratch(SCRATCH_BYTE, "0xe8");
	outl(SCRATCH, 0x600dcafe);
	ok(inl(SCRATCH_BYTE) == 0x600dcafe, "0xe0 and 0xe8 are one register");
	test_string_io();
	test_iomem();

	for (i = 0; i < sizeof(page); i++)
		page[i] = i * 7;
	outl(FLUSH_PAGE, (u32)(ulong)page);
	for (i = 0; i < sizeof(page); i++)
		good &= page[i] == (u8)(i * 7);
	ok(good, "flush-page keeps the page's contents");
	page[5] = 0x55;
	ok(page[5] == 0x55, "the page is still writable");
	ok(inl(FLUSH_PAGE) == 0, "flush-page reads 0");
	ok(inb(0x2000) == 0, "the IRQ block reads 0");
}
