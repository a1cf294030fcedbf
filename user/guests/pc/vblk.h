/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small virtio-blk driver for the PC test guests: virtio 1.x over PCI
 * (the vendor capabilities), one split virtqueue, polled completions
 * (interrupts are the caller's business: vblk_isr() acknowledges one).
 * Requests may be submitted from several CPUs at once.
 */
#ifndef PC_GUEST_VBLK_H
#define PC_GUEST_VBLK_H

#include "lib.h"

#define VBLK_QSIZE		128
/* the rings: descriptors, then available, then used, in 3 pages */
#define VBLK_RING_BYTES		0x3000

#define VIRTIO_F_VERSION_1	32
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9
#define VIRTIO_BLK_F_DISCARD	13

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_T_DISCARD	11

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define VSTAT_ACK		0x01
#define VSTAT_DRIVER		0x02
#define VSTAT_DRIVER_OK		0x04
#define VSTAT_FEATURES_OK	0x08
#define VSTAT_NEEDS_RESET	0x40

struct vblk_buf {
	void *addr;
	u32 len;
};

struct vblk_slot {
	u8 hdr[16];
	volatile u8 status;
	volatile u32 done;
	u32 used_len;
};

struct vblk {
	u8 slot;		/* PCI device number on bus 0 */
	u8 irq;			/* interrupt line (GSI) */
	ulong common, isr, devcfg, notify;
	ulong msix_table, msix_pba;	/* once vblk_msix() found them */
	u32 notify_mult;
	u64 features;		/* negotiated */
	u64 capacity;		/* 512-byte sectors */
	u32 blk_size, seg_max;
	u16 qsize;
	u8 *desc;
	volatile u16 *avail;
	volatile u8 *used;
	u16 avail_idx, last_used;
	u16 free[VBLK_QSIZE];
	u32 nr_free;
	struct vblk_slot slots[VBLK_QSIZE];
	volatile u32 lock;
};

/* PCI configuration mechanism #1 on bus 0 */
u32 pci_cfg_read32(u8 dev, u8 reg);
void pci_cfg_write32(u8 dev, u8 reg, u32 v);

/*
 * Find the @nth virtio-blk function (1af4:1042) and its capabilities;
 * false if there is none or a structure is missing.
 */
bool vblk_find(struct vblk *v, unsigned int nth);
/* Reset; ACKNOWLEDGE and DRIVER; returns the device's features */
u64 vblk_reset(struct vblk *v);
u8 vblk_status(struct vblk *v);
/* Write @features and FEATURES_OK: whether the device kept FEATURES_OK */
bool vblk_set_features(struct vblk *v, u64 features);
/* Queue 0 in @rings (VBLK_RING_BYTES, page-aligned), DRIVER_OK; config */
bool vblk_start(struct vblk *v, void *rings);
/* Set or clear VRING_AVAIL_F_NO_INTERRUPT */
void vblk_no_interrupt(struct vblk *v, bool on);
/*
 * MSI-X: @on, queue 0 on table entry @qvec, a fixed interrupt of
 * @apic_vector to APIC 0 (the entry unmasked); whether the device took
 * the vector.  Off: INTx again, the queue's vector NO_VECTOR.
 */
bool vblk_msix(struct vblk *v, bool on, u8 qvec, u8 apic_vector);
void vblk_msix_mask(struct vblk *v, u8 vec, bool mask);
/* the pending bits */
u32 vblk_msix_pending(struct vblk *v);
/* Read (and so acknowledge) the ISR status */
u8 vblk_isr(struct vblk *v);

/*
 * Submit a request of type @type at @sector with @nr data buffers
 * (device-writable for IN and GET_ID, readable otherwise): the head, or
 * -1 if the queue has no room (a request holds its descriptors until
 * vblk_wait() returned it).
 */
int vblk_submit(struct vblk *v, u32 type, u64 sector,
		const struct vblk_buf *bufs, unsigned int nr);
/* Collect completions */
void vblk_poll(struct vblk *v);
/*
 * Wait for @head (polling, at most ~@ms): its status, or -1 on timeout;
 * then the request's descriptors are free again.
 */
int vblk_wait(struct vblk *v, int head, u32 ms);
/* A whole request, one buffer: the status, or -1 */
int vblk_rw(struct vblk *v, u32 type, u64 sector, void *buf, u32 len);

/*
 * Raw access for tests of malformed requests: take and give back
 * descriptors, write one, put @head on the available ring (the index
 * moves by @advance, normally 1) and notify, wait for @head's completion
 * without giving its descriptors back (slots[head].used_len has the used
 * length).
 */
int vblk_take_desc(struct vblk *v);
void vblk_give_desc(struct vblk *v, int id);
void vblk_put_desc(struct vblk *v, int id, u64 addr, u32 len, u16 flags,
		   u16 next);
void vblk_post(struct vblk *v, int head, u16 advance);
bool vblk_wait_done(struct vblk *v, int head, u32 ms);

/* TSC ticks per millisecond (calibrated against the PM timer once) */
u64 vblk_tsc_per_ms(void);

#endif /* PC_GUEST_VBLK_H */
