// SPDX-License-Identifier: GPL-2.0
/*
 * An I/O APIC (82093AA register set, version 0x20 with the EOI register)
 * with 24 pins at SHV_IOAPIC_BASE.  Pins take the logical level of their
 * line, "asserted" or not; the polarity bit is kept for the guest but not
 * applied, as in KVM and QEMU.  See Documentation/interrupts.rst.
 */
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "shv.h"
#include "irq.h"

#define IOAPIC_PINS		24
#define IOAPIC_VERSION		0x20

/* MMIO registers, decoded from the low 8 bits of the offset */
#define IOAPIC_IOREGSEL		0x00
#define IOAPIC_IOWIN		0x10
#define IOAPIC_EOI		0x40

/* indirect registers */
#define IOAPIC_REG_ID		0x00
#define IOAPIC_REG_VER		0x01
#define IOAPIC_REG_ARB		0x02
#define IOAPIC_REG_REDTBL	0x10

#define IOAPIC_ID_SHIFT		24
#define IOAPIC_ID_MASK		0xf

/* redirection table entry */
#define RTE_VECTOR		GENMASK_ULL(7, 0)
#define RTE_DM_SHIFT		8
#define RTE_DM_MASK		7
#define RTE_LOGICAL		BIT_ULL(11)
#define RTE_DELIVS		BIT_ULL(12)
#define RTE_POLARITY		BIT_ULL(13)
#define RTE_REMOTE_IRR		BIT_ULL(14)
#define RTE_LEVEL		BIT_ULL(15)
#define RTE_MASKED		BIT_ULL(16)
#define RTE_DEST_SHIFT		56
#define RTE_RO			(RTE_DELIVS | RTE_REMOTE_IRR)

struct shv_ioapic {
	spinlock_t lock;	/* everything below; taken with irqs off */
	struct shv_irqchip *chip;
	u64 rte[IOAPIC_PINS];
	u32 lines;		/* pin levels (asserted = 1) */
	u8 ioregsel;
	u8 id;
};

/*
 * Messages are collected under the lock and sent after it is dropped, so
 * that delivery (which takes the local APICs' locks, whose EOI path comes
 * back here) never nests inside the IOAPIC lock.  A pin is sent at most
 * once per batch.
 */
struct ioapic_batch {
	unsigned int n;
	struct shv_irq_msg msg[IOAPIC_PINS];
};

/*
 * Send pin's interrupt if its entry allows: not masked and, for a level
 * trigger, no earlier one still waiting for its EOI.  A level-triggered
 * send sets remote IRR.  Delivery status always reads 0: the message is
 * accepted at once.
 */
static void ioapic_service(struct shv_ioapic *io, int pin,
			   struct ioapic_batch *b)
{
	u64 e = io->rte[pin];
	struct shv_irq_msg *msg;

	if (e & RTE_MASKED)
		return;
	if (e & RTE_LEVEL) {
		if (e & RTE_REMOTE_IRR)
			return;
		io->rte[pin] |= RTE_REMOTE_IRR;
	}
	msg = &b->msg[b->n++];
	*msg = (struct shv_irq_msg) {
		.dest = e >> RTE_DEST_SHIFT,
		.logical = e & RTE_LOGICAL,
		.delivery = (e >> RTE_DM_SHIFT) & RTE_DM_MASK,
		.vector = e & RTE_VECTOR,
		.level_trig = e & RTE_LEVEL,
		.assert = true,
		.shorthand = SHV_SH_NONE,
	};
}

static void ioapic_unlock(struct shv_ioapic *io, unsigned long flags,
			  const struct ioapic_batch *b)
	__releases(&io->lock)
{
	unsigned int i;

	spin_unlock_irqrestore(&io->lock, flags);
	for (i = 0; i < b->n; i++)
		shv_irq_deliver(io->chip->vm, &b->msg[i], NULL);
}

/*
 * Edge-triggered pins send on a rising edge of an unmasked pin (an edge
 * on a masked pin is lost); level-triggered pins send while asserted,
 * unmasked and with remote IRR clear.
 */
void shv_ioapic_set_irq(struct shv_ioapic *io, int pin, bool level)
{
	struct ioapic_batch b = { .n = 0 };
	unsigned long flags;
	bool rising;

	if (pin < 0 || pin >= IOAPIC_PINS)
		return;
	spin_lock_irqsave(&io->lock, flags);
	rising = level && !(io->lines & BIT(pin));
	if (level)
		io->lines |= BIT(pin);
	else
		io->lines &= ~BIT(pin);
	if (level && (rising || (io->rte[pin] & RTE_LEVEL)))
		ioapic_service(io, pin, &b);
	ioapic_unlock(io, flags, &b);
}

/*
 * An EOI for vector, from a local APIC (level-triggered vector) or the
 * EOI register: clear remote IRR of the level-triggered entries with that
 * vector, and send again those still asserted.
 */
static void ioapic_eoi(struct shv_ioapic *io, u8 vector,
		       struct ioapic_batch *b)
{
	int pin;

	for (pin = 0; pin < IOAPIC_PINS; pin++) {
		u64 e = io->rte[pin];

		if ((e & RTE_VECTOR) != vector || !(e & RTE_LEVEL) ||
		    !(e & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		if (io->lines & BIT(pin))
			ioapic_service(io, pin, b);
	}
}

void shv_ioapic_eoi(struct shv_ioapic *io, u8 vector)
{
	struct ioapic_batch b = { .n = 0 };
	unsigned long flags;

	spin_lock_irqsave(&io->lock, flags);
	ioapic_eoi(io, vector, &b);
	ioapic_unlock(io, flags, &b);
}

static u32 ioapic_read_reg(struct shv_ioapic *io)
{
	unsigned int pin;

	switch (io->ioregsel) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:	/* reads the ID, as KVM and QEMU do */
		return (u32)io->id << IOAPIC_ID_SHIFT;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION | (IOAPIC_PINS - 1) << 16;
	}
	pin = (io->ioregsel - IOAPIC_REG_REDTBL) / 2;
	if (io->ioregsel < IOAPIC_REG_REDTBL || pin >= IOAPIC_PINS)
		return 0;
	if (io->ioregsel & 1)
		return io->rte[pin] >> 32;
	return io->rte[pin];
}

static void ioapic_write_reg(struct shv_ioapic *io, u32 val,
			     struct ioapic_batch *b)
{
	unsigned int pin;
	u64 e;

	switch (io->ioregsel) {
	case IOAPIC_REG_ID:
		io->id = (val >> IOAPIC_ID_SHIFT) & IOAPIC_ID_MASK;
		return;
	case IOAPIC_REG_VER:
	case IOAPIC_REG_ARB:
		return;
	}
	pin = (io->ioregsel - IOAPIC_REG_REDTBL) / 2;
	if (io->ioregsel < IOAPIC_REG_REDTBL || pin >= IOAPIC_PINS)
		return;
	e = io->rte[pin];
	if (io->ioregsel & 1)
		e = (e & 0xffffffffull) | (u64)val << 32;
	else
		e = (e & ~0xffffffffull) | val;
	e = (e & ~RTE_RO) | (io->rte[pin] & RTE_RO);
	/*
	 * An edge-triggered entry has no remote IRR: software that lacks
	 * the EOI register (Linux, Xen) clears a stuck one by switching the
	 * entry to edge and back.
	 */
	if (!(e & RTE_LEVEL))
		e &= ~RTE_REMOTE_IRR;
	io->rte[pin] = e;
	/* a level-triggered pin asserted while masked is sent on unmask */
	if ((e & RTE_LEVEL) && (io->lines & BIT(pin)))
		ioapic_service(io, pin, b);
}

/*
 * off is relative to SHV_IOAPIC_BASE.  IOREGSEL takes any access of 1 to
 * 4 bytes (its low byte counts); IOWIN and the EOI register take only
 * 4-byte accesses; anything else reads 0 and writes are dropped.
 */
bool shv_ioapic_mmio(struct shv_ioapic *io, u64 off, unsigned int len,
		     bool write, u64 *val)
{
	struct ioapic_batch b = { .n = 0 };
	unsigned long flags;
	u64 r = 0;

	if (off >= SHV_IOAPIC_SIZE)
		return false;
	spin_lock_irqsave(&io->lock, flags);
	switch (off & 0xff) {
	case IOAPIC_IOREGSEL:
		if (len > 4)
			break;
		if (write)
			io->ioregsel = *val;
		else
			r = io->ioregsel;
		break;
	case IOAPIC_IOWIN:
		if (len != 4)
			break;
		if (write)
			ioapic_write_reg(io, *val, &b);
		else
			r = ioapic_read_reg(io);
		break;
	case IOAPIC_EOI:
		if (len == 4 && write)
			ioapic_eoi(io, *val, &b);
		break;
	}
	ioapic_unlock(io, flags, &b);
	if (!write)
		*val = r;
	return true;
}

struct shv_ioapic *shv_ioapic_create(struct shv_irqchip *chip)
{
	struct shv_ioapic *io = kzalloc(sizeof(*io), GFP_KERNEL_ACCOUNT);
	int pin;

	if (!io)
		return NULL;
	spin_lock_init(&io->lock);
	io->chip = chip;
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = RTE_MASKED;
	return io;
}

void shv_ioapic_destroy(struct shv_ioapic *io)
{
	kfree(io);
}
