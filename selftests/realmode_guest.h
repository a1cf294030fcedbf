/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout shared by realmode_test.c and realmode_guest.S (on top of
 * lib/shv_util.h's): the guest's own GDT selectors for its trips through
 * protected mode, and the values the host plants for it.
 */
#ifndef REALMODE_GUEST_H
#define REALMODE_GUEST_H

/* selectors of the payload's GDT */
#define RM_CODE16	0x08	/* 16-bit code, base CODE_GPA, 64 KiB */
#define RM_FLAT		0x10	/* data, base 0, 4 GiB */
#define RM_ODD		0x18	/* data, base RM_ODD_BASE: not selector << 4 */
#define RM_DATA16	0x20	/* data, base 0, 64 KiB */
#define RM_SS_RPL3	(REAL_SEG | 3)	/* real-mode SS with RPL bits set */

#define RM_ODD_BASE	0x12340
#define RM_ODD_VALUE	0x5a5a		/* the host's word at RM_ODD_BASE */
#define RM_BIG_GPA	(DATA_GPA + 0x10000)	/* beyond 64 KiB of DS = 0 */
#define RM_BIG_VALUE	0x11223344
#define RM_MMIO_VALUE	0xfeedf00d

#define RM_IRQ		3		/* the PIC line the host pulses */
#define RM_IRQ_BASE	0x20		/* the master PIC's vectors */
#define RM_VEC_INT	0x42		/* INT n of the exception test */

#endif /* REALMODE_GUEST_H */
