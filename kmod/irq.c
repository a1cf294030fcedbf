// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupt routing: the in-kernel irqchip of a VM (PIC, IOAPIC, PIT and
 * the local APICs), the lines the runner raises, MSI messages, IPIs, and
 * the port and MMIO accesses that never leave the kernel.
 */
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "shv.h"
#include "irq.h"

int shv_irqchip_create(struct shv_vm *vm)
{
	struct shv_irqchip *chip;
	int r = -ENOMEM;

	mutex_lock(&vm->lock);
	if (vm->irqchip) {
		r = -EEXIST;
		goto out;
	}
	if (vm->nr_vcpus) {
		r = -EBUSY;	/* vCPUs get their local APIC at creation */
		goto out;
	}
	chip = kzalloc(sizeof(*chip), GFP_KERNEL_ACCOUNT);
	if (!chip)
		goto out;
	chip->vm = vm;
	spin_lock_init(&chip->lock);
	chip->pic = shv_pic_create(chip);
	chip->ioapic = shv_ioapic_create(chip);
	if (!chip->pic || !chip->ioapic)
		goto err;
	/* published before the PIT, whose timer raises lines through it */
	smp_store_release(&vm->irqchip, chip);
	chip->pit = shv_pit_create(chip);
	if (!chip->pit) {
		WRITE_ONCE(vm->irqchip, NULL);
		goto err;
	}
	r = 0;
	goto out;
err:
	if (chip->ioapic)
		shv_ioapic_destroy(chip->ioapic);
	if (chip->pic)
		shv_pic_destroy(chip->pic);
	kfree(chip);
out:
	mutex_unlock(&vm->lock);
	return r;
}

void shv_irqchip_destroy(struct shv_vm *vm)
{
	struct shv_irqchip *chip = vm->irqchip;

	if (!chip)
		return;
	shv_pit_destroy(chip->pit);	/* first: its timer raises lines */
	shv_ioapic_destroy(chip->ioapic);
	shv_pic_destroy(chip->pic);
	kfree(chip);
	vm->irqchip = NULL;
}

/* ISA IRQ 0 (the PIT) is IOAPIC pin 2 on a PC; pin 0 is the PIC's */
static int gsi_to_pin(u32 gsi)
{
	if (gsi == 0)
		return 2;
	if (gsi == 2)
		return -1;
	return gsi;
}

int shv_irq_set_line(struct shv_vm *vm, u32 gsi, bool level)
{
	struct shv_irqchip *chip = READ_ONCE(vm->irqchip);
	int pin;

	if (!chip)
		return -ENXIO;
	if (gsi >= SHV_NR_GSIS)
		return -EINVAL;
	if (level)
		set_bit(gsi, chip->line_levels);
	else
		clear_bit(gsi, chip->line_levels);
	if (gsi < 16)
		shv_pic_set_irq(chip->pic, gsi, level);
	pin = gsi_to_pin(gsi);
	if (pin >= 0)
		shv_ioapic_set_irq(chip->ioapic, pin, level);
	return 0;
}

/* the PIC's INTR output changed: the BSP may have to take it */
void shv_irq_pic_intr_changed(struct shv_irqchip *chip)
{
	struct shv_vcpu *bsp = READ_ONCE(chip->vm->vcpus[0]);

	if (bsp)
		shv_vcpu_kick(bsp);
}

bool shv_irq_extint_pending(struct shv_vcpu *vcpu)
{
	struct shv_irqchip *chip = READ_ONCE(vcpu->vm->irqchip);

	return chip && vcpu->id == 0 && shv_lapic_accepts_pic(vcpu) &&
	       shv_pic_intr(chip->pic);
}

int shv_irq_extint_ack(struct shv_vm *vm)
{
	return shv_pic_ack(vm->irqchip->pic);
}

void shv_irq_eoi(struct shv_vm *vm, u8 vector)
{
	struct shv_irqchip *chip = READ_ONCE(vm->irqchip);

	if (chip)
		shv_ioapic_eoi(chip->ioapic, vector);
}

/*
 * Deliver a message to the local APICs it addresses.  src is the sending
 * vCPU for IPIs (shorthands are relative to it), NULL otherwise.  Lowest
 * priority goes to the first matching APIC, the lowest vCPU id.
 */
int shv_irq_deliver(struct shv_vm *vm, const struct shv_irq_msg *msg,
		    struct shv_vcpu *src)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < SHV_MAX_VCPUS; i++) {
		struct shv_vcpu *v = READ_ONCE(vm->vcpus[i]);
		bool hit;

		if (!v)
			continue;
		switch (msg->shorthand) {
		case SHV_SH_SELF:
			hit = v == src;
			break;
		case SHV_SH_ALL:
			hit = true;
			break;
		case SHV_SH_OTHERS:
			hit = v != src;
			break;
		default:
			hit = shv_lapic_match(v, msg);
		}
		if (!hit)
			continue;
		shv_lapic_accept(v, msg);
		n++;
		if (msg->delivery == SHV_DM_LOWEST &&
		    msg->shorthand == SHV_SH_NONE)
			break;
	}
	return n;
}

/* an MSI: address 0xfeeXXXXX carries the destination, data the rest */
int shv_irq_msi(struct shv_vm *vm, u64 address, u32 data)
{
	struct shv_irq_msg msg = {
		.dest = (address >> 12) & 0xff,
		.logical = address & BIT(2),
		.vector = data & 0xff,
		.delivery = (data >> 8) & 7,
		.assert = data & BIT(14),
		.level_trig = data & BIT(15),
	};

	if (!READ_ONCE(vm->irqchip))
		return -ENXIO;
	if ((address >> 20) != 0xfee)
		return -EINVAL;
	return shv_irq_deliver(vm, &msg, NULL);
}

bool shv_irq_pio(struct shv_vcpu *vcpu, u16 port, u8 size, bool in,
		 u32 *val)
{
	struct shv_irqchip *chip = READ_ONCE(vcpu->vm->irqchip);
	u8 b = *val;
	bool r;

	if (!chip || size != 1)
		return false;
	switch (port) {
	case 0x20: case 0x21: case 0xa0: case 0xa1: case 0x4d0: case 0x4d1:
		r = shv_pic_pio(chip->pic, port, in, &b);
		break;
	case 0x40 ... 0x43: case 0x61:
		r = shv_pit_pio(chip->pit, port, in, &b);
		break;
	default:
		return false;
	}
	if (r && in)
		*val = b;
	return r;
}

bool shv_irq_mmio(struct shv_vcpu *vcpu, u64 gpa, unsigned int len,
		  bool write, u64 *val)
{
	struct shv_irqchip *chip = READ_ONCE(vcpu->vm->irqchip);

	if (!chip)
		return false;
	if (shv_lapic_mmio(vcpu, gpa, len, write, val))
		return true;
	if (gpa >= SHV_IOAPIC_BASE && gpa < SHV_IOAPIC_BASE + SHV_IOAPIC_SIZE)
		return shv_ioapic_mmio(chip->ioapic, gpa - SHV_IOAPIC_BASE,
				       len, write, val);
	return false;
}
