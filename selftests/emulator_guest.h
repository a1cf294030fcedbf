/* SPDX-License-Identifier: GPL-2.0 */
/* Layout shared by emulator_test.c and emulator_guest.S */
#ifndef EMULATOR_GUEST_H
#define EMULATOR_GUEST_H

#define EMU_RAM_GPA	(DATA_GPA + 0x1000)	/* 64 bytes per snippet */
#define EMU_RES_GPA	(DATA_GPA + 0x4000)	/* two records per snippet */
#define EMU_REC		0x58			/* 10 registers + RFLAGS */
#define EMU_NREGS	11
#define EMU_FLAGS	0x893			/* CF AF SF OF */
#define EMU_MAX_SNIPS	128
#define EMU_MASK_OFF	60			/* defined flags, in the slot */
#define EMU_FLAGS_ALL	0xcd5			/* CF PF AF ZF SF DF OF */

/* real mode: segments of the RAM areas and the records */
#define EMU16_RAM_SEG	(EMU_RAM_GPA >> 4)
#define EMU16_RES_SEG	(EMU_RES_GPA >> 4)
#define EMU16_REC	0x20			/* 7 registers + EFLAGS */
#define EMU16_NREGS	8

#endif /* EMULATOR_GUEST_H */
