// SPDX-License-Identifier: GPL-2.0
/*
 * pc_irq: interrupt lines through the 8259 PICs and the IOAPIC, driven
 * by pc-testdev's IRQ block (0x2000 + n), the PIT (ISA IRQ 0 at IOAPIC
 * pin 2, as the MADT's override says) and the 16550's THRE and received
 * data interrupts on IRQ 4.
 */
#include "lib.h"

#define IRQ_BLOCK	0x2000
#define COM1		0x3f8

static volatile u32 hits[256];

/*
 * Wait, interrupts on, until @vector has had @want interrupts or @max_ms
 * went by; returns the milliseconds waited.  Counting interrupts rather
 * than sampling a fixed window keeps the test independent of how fast
 * the host runs the guest.
 */
static u32 wait_hits(u8 vector, u32 want, u32 max_ms)
{
	u32 ms;

	sti();
	for (ms = 0; ms < max_ms && hits[vector] < want; ms++)
		pm_delay_us(1000);
	cli();
	return ms;
}
static volatile u32 uart_iir, uart_rbr;
static volatile u32 level_pin;		/* the level test's line */

static void set_line(unsigned int n, int level)
{
	outb(IRQ_BLOCK + n, level);
}

static void count_pic(struct frame *f)
{
	hits[f->vector]++;
	pic_eoi(f->vector >= 0x28 ? 8 : 0);
}

static void count_apic(struct frame *f)
{
	hits[f->vector]++;
	apic_eoi();
}

/* level-triggered: EOI with the line still high once, then lower it */
static void level_apic(struct frame *f)
{
	if (++hits[f->vector] >= 2)
		set_line(level_pin, 0);
	apic_eoi();
}

static void uart_isr(struct frame *f)
{
	u8 iir = inb(COM1 + 2);

	hits[f->vector]++;
	uart_iir = iir;
	if ((iir & 0x0f) == 0x04 || (iir & 0x0f) == 0x0c)
		uart_rbr = inb(COM1);
	outb(COM1 + 1, 0);		/* IER off: no more */
	apic_eoi();
}

static void settle(void)
{
	sti();
	pm_delay_us(2000);
	cli();
}

static void test_pic(void)
{
	u32 i, ms;

	pic_init(0x20, 0x28);
	for (i = 0x20; i < 0x30; i++)
		set_isr(i, count_pic);
	/* the BSP takes the PIC's INTR on LINT0 in ExtINT mode */
	apic_write(APIC_LVT_LINT0, 0x700);

	pic_set_mask(~((1 << 3) | (1 << 2) | (1 << 10)) & 0xffff);
	set_line(3, 1);
	settle();
	ok(hits[0x23] == 1, "PIC: IRQ 3 rising edge, one interrupt (%u)",
	   hits[0x23]);
	settle();
	ok(hits[0x23] == 1, "PIC: no more while the line stays high");
	set_line(3, 0);
	set_line(3, 1);
	settle();
	ok(hits[0x23] == 2, "PIC: next edge, next interrupt");
	set_line(3, 0);

	set_line(10, 1);
	settle();
	ok(hits[0x2a] == 1, "PIC: IRQ 10 through the slave");
	set_line(10, 0);

	pic_set_mask(0xffff);
	set_line(3, 1);
	settle();
	ok(hits[0x23] == 2, "PIC: masked IRQ 3 is held");
	pic_set_mask(~(1 << 3) & 0xffff);
	settle();
	ok(hits[0x23] == 3, "PIC: delivered once unmasked");
	set_line(3, 0);

	/* IRQ 0: the PIT through the PIC, mode 2, ~1 ms */
	pic_set_mask(~1 & 0xffff);
	outb(0x43, 0x34);
	outb(0x40, 1193 & 0xff);
	outb(0x40, 1193 >> 8);
	ms = wait_hits(0x20, 3, 2000);
	outb(0x43, 0x30);		/* mode 0, no count: stops */
	ok(hits[0x20] >= 3, "PIC: PIT interrupts on IRQ 0");
	diag("%u PIT interrupts in %u ms via the PIC", hits[0x20], ms);
	pic_set_mask(0xffff);
	pm_delay_us(2000);
}

static void test_ioapic(void)
{
	u32 i, n, ms, ver = ioapic_read(1);

	/* shv's and QEMU's IOAPIC are version 0x20, KVM's 0x11 */
	ok(((ver & 0xff) == 0x20 || (ver & 0xff) == 0x11) &&
	   ((ver >> 16) & 0xff) == 23, "IOAPIC version 0x11/0x20, 24 pins");
	diag("IOAPIC version register 0x%x", ver);
	for (i = 0x50; i < 0x70; i++)
		set_isr(i, count_apic);

	ioapic_route(3, 0x53, false, false);
	set_line(3, 1);
	settle();
	ok(hits[0x53] == 1, "IOAPIC: pin 3 edge");
	set_line(3, 0);
	set_line(3, 1);
	settle();
	ok(hits[0x53] == 2, "IOAPIC: next edge");
	set_line(3, 0);

	ioapic_route(3, 0x53, false, true);
	set_line(3, 1);
	ioapic_route(3, 0x53, false, false);
	settle();
	ok(hits[0x53] == 2, "IOAPIC: an edge on a masked pin is lost");
	set_line(3, 0);
	ioapic_route(3, 0x53, false, true);

	ioapic_route(20, 0x54, false, false);
	set_line(20, 1);
	settle();
	ok(hits[0x54] == 1, "IOAPIC: pin 20 (GSI above the ISA range)");
	set_line(20, 0);
	ioapic_route(20, 0x54, false, true);

	level_pin = 10;
	set_isr(0x5a, level_apic);
	ioapic_route(10, 0x5a, true, false);
	set_line(10, 1);
	settle();
	/* KVM may deliver once more before the line drops: >= 2 */
	ok(hits[0x5a] >= 2, "IOAPIC: level pin redelivered after EOI while high");
	diag("%u level interrupts", hits[0x5a]);
	ok(!(ioapic_read(0x10 + 2 * 10) & (1 << 14)), "IOAPIC: remote IRR clear");
	ioapic_route(10, 0x5a, true, true);
	hits[0x5a] = 0;
	set_line(10, 1);
	settle();
	ok(hits[0x5a] == 0, "IOAPIC: masked level pin waits");
	hits[0x5a] = 1;		/* the handler lowers the line at once */
	ioapic_route(10, 0x5a, true, false);
	settle();
	ok(hits[0x5a] >= 2, "IOAPIC: unmasking an asserted level pin delivers");
	ioapic_route(10, 0x5a, true, true);

	/* the PIT: ISA IRQ 0 is pin 2, nothing on pin 0 */
	ioapic_route(2, 0x62, false, false);
	ioapic_route(0, 0x60, false, false);
	outb(0x43, 0x34);
	outb(0x40, 1193 & 0xff);
	outb(0x40, 1193 >> 8);
	ms = wait_hits(0x62, 3, 2000);
	outb(0x43, 0x30);
	n = hits[0x62];
	ok(n >= 3, "IOAPIC: PIT interrupts on pin 2");
	ok(hits[0x60] == 0, "IOAPIC: none on pin 0");
	diag("%u PIT interrupts in %u ms via IOAPIC pin 2", n, ms);
	ioapic_route(2, 0x62, false, true);
	ioapic_route(0, 0x60, false, true);
	set_line(0, 1);
	ioapic_route(2, 0x62, false, false);
	set_line(0, 0);
	set_line(0, 1);
	settle();
	ok(hits[0x62] == n + 1, "IOAPIC: GSI 0 from the IRQ block is pin 2 too");
	set_line(0, 0);
	ioapic_route(2, 0x62, false, true);
}

static void test_uart(void)
{
	set_isr(0x64, uart_isr);
	ioapic_route(4, 0x64, false, false);

	/* THR empty: enabling the interrupt raises it */
	outb(COM1 + 1, 0x02);
	settle();
	ok(hits[0x64] == 1, "UART: THRE interrupt on IRQ 4");
	ok(uart_iir == 0xc2, "UART: IIR 0xc2 (THRE, FIFOs on) (0x%x)", uart_iir);
	ok(inb(COM1 + 2) == 0xc1, "UART: IIR no interrupt after reading it");

	/* loopback: received data */
	outb(COM1 + 2, 0x07);		/* FIFO on, clear, trigger 1 byte */
	outb(COM1 + 4, 0x13);		/* loop, DTR, RTS */
	outb(COM1 + 1, 0x01);		/* RDI */
	outb(COM1, 'Z');
	settle();
	outb(COM1 + 4, 0x03);
	ok(hits[0x64] == 2, "UART: received data interrupt");
	ok(uart_iir == 0xc4, "UART: IIR 0xc4 (0x%x)", uart_iir);
	ok(uart_rbr == 'Z', "UART: loopback byte");
	ok(!(inb(COM1 + 5) & 1), "UART: receive FIFO empty");
	outb(COM1 + 2, 0xc7);
	ioapic_route(4, 0x64, false, true);
}

void test_main(void)
{
	apic_enable();
	test_pic();
	test_ioapic();
	test_uart();
}
