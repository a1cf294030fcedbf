/* SPDX-License-Identifier: GPL-2.0 */
/* The irq_test guest image (irq_guest.c linked by irq_guest.lds), as data. */
	.section .rodata.guest, "a"
	.p2align 4
	.globl guest_irq
	.globl guest_irq_end
guest_irq:
	.incbin "build/irq_guest.bin"
guest_irq_end:
	.section .note.GNU-stack, "", @progbits
