// SPDX-License-Identifier: GPL-2.0
/*
 * The PC's two cascaded 8259A programmable interrupt controllers (master at
 * ports 0x20/0x21, slave at 0xa0/0xa1 on master IR2) and the PIIX edge/level
 * control registers (ELCR, ports 0x4d0/0x4d1).  See
 * Documentation/interrupts.rst for what is modelled and what is not.
 */
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "shv.h"
#include "irq.h"

#define PIC_CASCADE_IR		2
#define PIC_SPURIOUS_IR		7

/* ICW1, OCW2 and OCW3 share the command port: bits 4 and 3 tell them apart */
#define PIC_ICW1		BIT(4)
#define PIC_ICW1_IC4		BIT(0)
#define PIC_ICW1_SNGL		BIT(1)
#define PIC_OCW3		BIT(3)
#define PIC_OCW3_RIS		BIT(0)
#define PIC_OCW3_RR		BIT(1)
#define PIC_OCW3_POLL		BIT(2)
#define PIC_OCW3_SMM		BIT(5)
#define PIC_OCW3_ESMM		BIT(6)
#define PIC_ICW4_AEOI		BIT(1)
#define PIC_ICW4_SFNM		BIT(4)

/* OCW2 commands (bits 7:5, R SL EOI) */
enum {
	OCW2_ROTATE_AEOI_CLEAR	= 0,
	OCW2_EOI		= 1,
	OCW2_NOP		= 2,
	OCW2_SPECIFIC_EOI	= 3,
	OCW2_ROTATE_AEOI_SET	= 4,
	OCW2_ROTATE_EOI		= 5,
	OCW2_SET_PRIORITY	= 6,
	OCW2_ROTATE_SPECIFIC	= 7,
};

/* where the next write to the data port goes */
enum {
	PIC_READY,	/* OCW1: the mask register */
	PIC_ICW2,
	PIC_ICW3,
	PIC_ICW4,
};

/* one 8259A */
struct shv_8259 {
	u8 irr;			/* interrupt request register */
	u8 isr;			/* in-service register */
	u8 imr;			/* interrupt mask register */
	u8 lines;		/* IR input levels, for edge detection */
	u8 elcr;		/* level-triggered inputs */
	u8 elcr_mask;		/* inputs that may be level-triggered */
	u8 vector_base;		/* ICW2: T7..T3 */
	u8 priority_add;	/* IR(priority_add) has the highest priority */
	u8 init_state;
	bool ic4;		/* ICW1: ICW4 follows */
	bool single;		/* ICW1: no ICW3 */
	bool auto_eoi;		/* ICW4 */
	bool sfnm;		/* ICW4: special fully nested mode */
	bool rotate_aeoi;	/* OCW2: rotate in automatic EOI mode */
	bool special_mask;	/* OCW3 */
	bool read_isr;		/* OCW3: the command port reads ISR, not IRR */
	bool poll;		/* OCW3: the next read is a poll */
};

struct shv_pic {
	spinlock_t lock;	/* everything below; taken with irqs off */
	struct shv_irqchip *chip;
	struct shv_8259 pics[2];	/* master, slave */
	bool output;		/* the master's INT pin */
};

/*
 * The priority level (0 highest .. 7 lowest) of the highest-priority bit
 * set in mask, or 8 when mask is empty.  IR(priority_add) has level 0.
 */
static int pic_priority(const struct shv_8259 *c, u8 mask)
{
	int p;

	if (!mask)
		return 8;
	for (p = 0; !(mask & BIT((p + c->priority_add) & 7)); p++)
		;
	return p;
}

/* the IR this 8259A would present on INT, or -1 */
static int pic_request(const struct shv_8259 *c, bool master)
{
	u8 in_service = c->isr;
	int req;

	req = pic_priority(c, c->irr & ~c->imr);
	if (req == 8)
		return -1;
	/* special mask mode: masked levels do not inhibit lower ones */
	if (c->special_mask)
		in_service &= ~c->imr;
	/* special fully nested mode: the slave may interrupt its own level */
	if (master && c->sfnm)
		in_service &= ~BIT(PIC_CASCADE_IR);
	if (req >= pic_priority(c, in_service))
		return -1;
	return (req + c->priority_add) & 7;
}

/*
 * Recompute the INT outputs.  The slave's INT reaches the master's IR2,
 * which is edge-triggered (ELCR bit 2 is not writable): a slave request
 * latches the master's IRR2 whenever the slave presents it.  Returns true
 * when the master's INT changed.
 */
static bool pic_update(struct shv_pic *pic)
{
	struct shv_8259 *m = &pic->pics[0];
	bool out;

	if (pic_request(&pic->pics[1], false) >= 0)
		m->irr |= BIT(PIC_CASCADE_IR);
	out = pic_request(m, true) >= 0;
	if (out == pic->output)
		return false;
	WRITE_ONCE(pic->output, out);
	return true;
}

/* the INTA response of one 8259A to request ir */
static void pic_intack(struct shv_8259 *c, int ir)
{
	/* a level-triggered request stays while its line is high */
	if (!(c->elcr & BIT(ir)))
		c->irr &= ~BIT(ir);
	if (!c->auto_eoi)
		c->isr |= BIT(ir);
	else if (c->rotate_aeoi)
		c->priority_add = (ir + 1) & 7;
}

static void pic_unlock(struct shv_pic *pic, unsigned long flags, bool changed)
	__releases(&pic->lock)
{
	spin_unlock_irqrestore(&pic->lock, flags);
	if (changed)
		shv_irq_pic_intr_changed(pic->chip);
}

void shv_pic_set_irq(struct shv_pic *pic, int irq, bool level)
{
	struct shv_8259 *c;
	unsigned long flags;
	bool changed;
	u8 bit;

	/* IR2 of the master is the cascade, not an external line */
	if (irq < 0 || irq >= 16 || irq == PIC_CASCADE_IR)
		return;
	c = &pic->pics[irq >> 3];
	bit = BIT(irq & 7);

	spin_lock_irqsave(&pic->lock, flags);
	if (c->elcr & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= ~bit;
	} else if (level && !(c->lines & bit)) {
		c->irr |= bit;
	}
	if (level)
		c->lines |= bit;
	else
		c->lines &= ~bit;
	changed = pic_update(pic);
	pic_unlock(pic, flags, changed);
}

bool shv_pic_intr(struct shv_pic *pic)
{
	return READ_ONCE(pic->output);
}

/*
 * A full INTA cycle: the master resolves its highest request; for IR2 the
 * slave supplies the vector.  With nothing to present, an 8259A answers
 * with its IR7 vector and leaves ISR alone (a spurious interrupt); a
 * spurious slave interrupt still puts IR2 in service on the master.  The
 * caller re-reads shv_pic_intr() afterwards; shv_irq_pic_intr_changed() is
 * not called from here.
 */
int shv_pic_ack(struct shv_pic *pic)
{
	struct shv_8259 *m = &pic->pics[0], *s = &pic->pics[1];
	unsigned long flags;
	int ir, ir2, vector;

	spin_lock_irqsave(&pic->lock, flags);
	ir = pic_request(m, true);
	if (ir < 0) {
		vector = m->vector_base + PIC_SPURIOUS_IR;
	} else if (ir == PIC_CASCADE_IR) {
		ir2 = pic_request(s, false);
		if (ir2 >= 0)
			pic_intack(s, ir2);
		else
			ir2 = PIC_SPURIOUS_IR;
		vector = s->vector_base + ir2;
		pic_intack(m, ir);
	} else {
		vector = m->vector_base + ir;
		pic_intack(m, ir);
	}
	pic_update(pic);
	spin_unlock_irqrestore(&pic->lock, flags);
	return vector;
}

/* ICW1: start the initialization sequence */
static void pic_icw1(struct shv_8259 *c, u8 val)
{
	/*
	 * The edge sense latches are reset, so an edge-triggered request
	 * needs a new rising edge; a level-triggered one follows its line.
	 * IMR and ISR are cleared, IR7 gets the lowest priority, OCW3 reads
	 * IRR, special mask mode is off and the ICW4 functions are cleared
	 * (ICW4, if any, sets them again).  LTIM (bit 3) is ignored: the
	 * ELCR decides, as on a PIIX.
	 */
	c->irr = c->lines & c->elcr;
	c->imr = 0;
	c->isr = 0;
	c->priority_add = 0;
	c->special_mask = false;
	c->read_isr = false;
	c->poll = false;
	c->auto_eoi = false;
	c->sfnm = false;
	c->rotate_aeoi = false;
	c->ic4 = val & PIC_ICW1_IC4;
	c->single = val & PIC_ICW1_SNGL;
	c->init_state = PIC_ICW2;
}

static void pic_ocw2(struct shv_8259 *c, u8 val)
{
	int p, ir = val & 7;

	switch (val >> 5) {
	case OCW2_ROTATE_AEOI_CLEAR:
		c->rotate_aeoi = false;
		break;
	case OCW2_ROTATE_AEOI_SET:
		c->rotate_aeoi = true;
		break;
	case OCW2_EOI:
	case OCW2_ROTATE_EOI:
		/* the highest-priority level in service */
		p = pic_priority(c, c->isr);
		if (p == 8)
			break;
		ir = (p + c->priority_add) & 7;
		c->isr &= ~BIT(ir);
		if ((val >> 5) == OCW2_ROTATE_EOI)
			c->priority_add = (ir + 1) & 7;
		break;
	case OCW2_SPECIFIC_EOI:
		c->isr &= ~BIT(ir);
		break;
	case OCW2_ROTATE_SPECIFIC:
		c->isr &= ~BIT(ir);
		c->priority_add = (ir + 1) & 7;
		break;
	case OCW2_SET_PRIORITY:
		/* IR(ir) becomes the lowest priority */
		c->priority_add = (ir + 1) & 7;
		break;
	case OCW2_NOP:
		break;
	}
}

static void pic_ocw3(struct shv_8259 *c, u8 val)
{
	if (val & PIC_OCW3_POLL)
		c->poll = true;
	if (val & PIC_OCW3_RR)
		c->read_isr = val & PIC_OCW3_RIS;
	if (val & PIC_OCW3_ESMM)
		c->special_mask = val & PIC_OCW3_SMM;
}

static void pic_write_data(struct shv_8259 *c, u8 val)
{
	switch (c->init_state) {
	case PIC_READY:
		c->imr = val;
		break;
	case PIC_ICW2:
		c->vector_base = val & 0xf8;
		if (!c->single)
			c->init_state = PIC_ICW3;
		else
			c->init_state = c->ic4 ? PIC_ICW4 : PIC_READY;
		break;
	case PIC_ICW3:
		/* the cascade wiring is fixed */
		c->init_state = c->ic4 ? PIC_ICW4 : PIC_READY;
		break;
	case PIC_ICW4:
		/* microprocessor mode and buffered mode do not matter here */
		c->auto_eoi = val & PIC_ICW4_AEOI;
		c->sfnm = val & PIC_ICW4_SFNM;
		c->init_state = PIC_READY;
		break;
	}
}

/* the poll command's read: an INTA without the vector */
static u8 pic_poll(struct shv_8259 *c, bool master)
{
	int ir = pic_request(c, master);

	c->poll = false;
	if (ir < 0)
		return 0;
	pic_intack(c, ir);
	return 0x80 | ir;
}

bool shv_pic_pio(struct shv_pic *pic, u16 port, bool in, u8 *val)
{
	struct shv_8259 *c;
	unsigned long flags;
	bool changed;

	switch (port) {
	case 0x20:
	case 0x21:
		c = &pic->pics[0];
		break;
	case 0xa0:
	case 0xa1:
		c = &pic->pics[1];
		break;
	case 0x4d0:
	case 0x4d1:
		c = &pic->pics[port & 1];
		break;
	default:
		return false;
	}

	spin_lock_irqsave(&pic->lock, flags);
	if (port >= 0x4d0) {
		if (in) {
			*val = c->elcr;
		} else {
			c->elcr = *val & c->elcr_mask;
			/* level-triggered requests follow their lines */
			c->irr = (c->irr & ~c->elcr) | (c->lines & c->elcr);
		}
	} else if (in) {
		if (c->poll)
			*val = pic_poll(c, c == &pic->pics[0]);
		else if (port & 1)
			*val = c->imr;
		else
			*val = c->read_isr ? c->isr : c->irr;
	} else if (port & 1) {
		pic_write_data(c, *val);
	} else if (*val & PIC_ICW1) {
		pic_icw1(c, *val);
	} else if (*val & PIC_OCW3) {
		pic_ocw3(c, *val);
	} else {
		pic_ocw2(c, *val);
	}
	changed = pic_update(pic);
	pic_unlock(pic, flags, changed);
	return true;
}

struct shv_pic *shv_pic_create(struct shv_irqchip *chip)
{
	struct shv_pic *pic = kzalloc(sizeof(*pic), GFP_KERNEL_ACCOUNT);

	if (!pic)
		return NULL;
	spin_lock_init(&pic->lock);
	pic->chip = chip;
	/* IRQ 0, 1, 2, 8 and 13 are edge-triggered on a PC */
	pic->pics[0].elcr_mask = 0xf8;
	pic->pics[1].elcr_mask = 0xde;
	return pic;
}

void shv_pic_destroy(struct shv_pic *pic)
{
	kfree(pic);
}
