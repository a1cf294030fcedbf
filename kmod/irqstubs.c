// SPDX-License-Identifier: GPL-2.0
/* TEMPORARY: placeholders until pic.c, pit.c and ioapic.c land */
#include "irq.h"
struct shv_pic *shv_pic_create(struct shv_irqchip *chip) { return NULL; }
void shv_pic_destroy(struct shv_pic *pic) {}
void shv_pic_set_irq(struct shv_pic *pic, int irq, bool level) {}
bool shv_pic_pio(struct shv_pic *pic, u16 port, bool in, u8 *val) { return false; }
bool shv_pic_intr(struct shv_pic *pic) { return false; }
int shv_pic_ack(struct shv_pic *pic) { return 0; }
struct shv_pit *shv_pit_create(struct shv_irqchip *chip) { return NULL; }
void shv_pit_destroy(struct shv_pit *pit) {}
bool shv_pit_pio(struct shv_pit *pit, u16 port, bool in, u8 *val) { return false; }
struct shv_ioapic *shv_ioapic_create(struct shv_irqchip *chip) { return NULL; }
void shv_ioapic_destroy(struct shv_ioapic *ioapic) {}
void shv_ioapic_set_irq(struct shv_ioapic *ioapic, int pin, bool level) {}
void shv_ioapic_eoi(struct shv_ioapic *ioapic, u8 vector) {}
bool shv_ioapic_mmio(struct shv_ioapic *ioapic, u64 off, unsigned int len, bool write, u64 *val) { return false; }
