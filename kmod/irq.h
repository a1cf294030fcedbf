/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel interrupt controllers: one local APIC per vCPU (lapic.c),
 * and per VM an IOAPIC (ioapic.c), a dual 8259 PIC (pic.c) and an 8254 PIT
 * (pit.c), created together by SHV_CREATE_IRQCHIP.  irq.c routes lines
 * and messages between them and owns their port/MMIO dispatch.
 *
 * Lines: GSI 0..15 reach both the PIC and the IOAPIC, 16..23 the IOAPIC
 * only (ISA IRQ 0, the PIT, is IOAPIC pin 2, as on a PC).  The PIC's INTR
 * output is wired to LINT0 of the BSP's local APIC (ExtINT).
 */
#ifndef SHV_IRQ_H
#define SHV_IRQ_H

#include <linux/types.h>
#include <linux/spinlock.h>
#include <linux/hrtimer.h>

#include "shv.h"

#define SHV_NR_GSIS		24
#define SHV_IOAPIC_BASE		0xfec00000ull
#define SHV_IOAPIC_SIZE		0x1000

/* an interrupt message, as an MSI or an IOAPIC redirection entry says */
struct shv_irq_msg {
	u32 dest;		/* APIC ID, or logical destination */
	bool logical;		/* destination mode */
	u8 delivery;		/* SHV_DM_* */
	u8 vector;
	bool level_trig;	/* trigger mode: level */
	bool assert;		/* level: asserted (INIT level de-assert) */
	u8 shorthand;		/* ICR only: SHV_SH_* */
};

#define SHV_DM_FIXED	0
#define SHV_DM_LOWEST	1
#define SHV_DM_SMI	2
#define SHV_DM_NMI	4
#define SHV_DM_INIT	5
#define SHV_DM_SIPI	6
#define SHV_DM_EXTINT	7

#define SHV_SH_NONE	0
#define SHV_SH_SELF	1
#define SHV_SH_ALL	2
#define SHV_SH_OTHERS	3

struct shv_pic;
struct shv_pit;
struct shv_ioapic;

struct shv_irqchip {
	struct shv_vm *vm;
	struct shv_pic *pic;
	struct shv_pit *pit;
	struct shv_ioapic *ioapic;
	/* line levels as the runner and the PIT drive them */
	DECLARE_BITMAP(line_levels, SHV_NR_GSIS);
	spinlock_t lock;	/* line_levels */
};

/* irq.c: creation, routing, and the in-kernel device dispatch */
int shv_irqchip_create(struct shv_vm *vm);
void shv_irqchip_destroy(struct shv_vm *vm);
int shv_irq_set_line(struct shv_vm *vm, u32 gsi, bool level);
int shv_irq_deliver(struct shv_vm *vm, const struct shv_irq_msg *msg,
		    struct shv_vcpu *src);
int shv_irq_msi(struct shv_vm *vm, u64 address, u32 data);
/* true when the access was handled by an in-kernel device */
bool shv_irq_pio(struct shv_vcpu *vcpu, u16 port, u8 size, bool in,
		 u32 *val);
bool shv_irq_mmio(struct shv_vcpu *vcpu, u64 gpa, unsigned int len,
		  bool write, u64 *val);

/* pic.c: dual 8259A, AEOI, special mask, ELCR (ports 0x4d0/0x4d1) */
struct shv_pic *shv_pic_create(struct shv_irqchip *chip);
void shv_pic_destroy(struct shv_pic *pic);
void shv_pic_set_irq(struct shv_pic *pic, int irq, bool level);
bool shv_pic_pio(struct shv_pic *pic, u16 port, bool in, u8 *val);
/* the INTR output; INTA cycle returning the vector (or spurious) */
bool shv_pic_intr(struct shv_pic *pic);
int shv_pic_ack(struct shv_pic *pic);

/* pit.c: 8254, channel 0 on GSI 0, channel 2 gate/out on port 0x61 */
struct shv_pit *shv_pit_create(struct shv_irqchip *chip);
void shv_pit_destroy(struct shv_pit *pit);
bool shv_pit_pio(struct shv_pit *pit, u16 port, bool in, u8 *val);

/* ioapic.c: 24 pins, edge/level, remote IRR, EOI broadcast */
struct shv_ioapic *shv_ioapic_create(struct shv_irqchip *chip);
void shv_ioapic_destroy(struct shv_ioapic *ioapic);
void shv_ioapic_set_irq(struct shv_ioapic *ioapic, int pin, bool level);
void shv_ioapic_eoi(struct shv_ioapic *ioapic, u8 vector);
bool shv_ioapic_mmio(struct shv_ioapic *ioapic, u64 off, unsigned int len,
		     bool write, u64 *val);

/* irq.c, for the interrupt controllers */
void shv_irq_pic_intr_changed(struct shv_irqchip *chip);
int shv_irq_extint_ack(struct shv_vm *vm);
bool shv_irq_extint_pending(struct shv_vcpu *vcpu);
void shv_irq_eoi(struct shv_vm *vm, u8 vector);

/* lapic.c: the local APIC of a vCPU */
#define SHV_EXTINT	0x100	/* shv_lapic_pending(): the PIC's INTR */
int shv_lapic_create(struct shv_vcpu *vcpu);
void shv_lapic_free(struct shv_vcpu *vcpu);
void shv_lapic_reset(struct shv_vcpu *vcpu, bool init);
/* accept an interrupt message addressed to this vCPU */
void shv_lapic_accept(struct shv_vcpu *vcpu, const struct shv_irq_msg *msg);
bool shv_lapic_match(struct shv_vcpu *vcpu, const struct shv_irq_msg *msg);
/* the vector to inject now, or -1; ack moves it to in-service */
int shv_lapic_pending(struct shv_vcpu *vcpu);
int shv_lapic_ack(struct shv_vcpu *vcpu, int vector);
int shv_lapic_tpr_blocked(struct shv_vcpu *vcpu);
bool shv_lapic_eoi_vector(struct shv_vcpu *vcpu, u8 vector);
void shv_lapic_set_auto_eoi(struct shv_vcpu *vcpu, u8 vector, bool on);
void shv_lapic_post(struct shv_vcpu *vcpu, u8 vector);
int shv_lapic_set_base(struct shv_vcpu *vcpu, u64 val, bool host);
bool shv_lapic_accepts_pic(struct shv_vcpu *vcpu);
bool shv_lapic_mmio(struct shv_vcpu *vcpu, u64 gpa, unsigned int len,
		    bool write, u64 *val);
int shv_lapic_get_msr(struct shv_vcpu *vcpu, u32 index, u64 *data);
int shv_lapic_set_msr(struct shv_vcpu *vcpu, u32 index, u64 data);
void shv_lapic_set_cr8(struct shv_vcpu *vcpu, u64 cr8);
u64 shv_lapic_get_cr8(struct shv_vcpu *vcpu);
u8 shv_lapic_get_tpr(struct shv_vcpu *vcpu);
void shv_lapic_set_tpr(struct shv_vcpu *vcpu, u8 tpr);
/* virtual-interrupt delivery: the state moves to and from a register page */
bool shv_lapic_vid_usable(struct shv_vcpu *vcpu);
void shv_lapic_vid_enter(struct shv_vcpu *vcpu, void *page, bool load_irr,
			 u8 *rvi, u8 *svi);
void shv_lapic_vid_exit(struct shv_vcpu *vcpu, const void *page);
void shv_lapic_eoi_exits(struct shv_vcpu *vcpu, u64 bitmap[4]);
void shv_lapic_vid_eoi(struct shv_vcpu *vcpu, u8 vector);

/* wake or interrupt a vCPU that has new work (any context) */
void shv_vcpu_kick(struct shv_vcpu *vcpu);

#endif /* SHV_IRQ_H */
