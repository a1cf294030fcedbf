// SPDX-License-Identifier: GPL-2.0
/*
 * The test guests' virtio-blk driver (vblk.h): what a driver does by the
 * virtio 1.x specification, sections 3.1 (initialisation), 4.1.4 (PCI
 * capabilities), 2.7 (split virtqueues) and 5.2 (the block device).
 */
#include "vblk.h"

#define CFG_ADDR	0xcf8
#define CFG_DATA	0xcfc

/* common configuration */
#define C_DFSELECT	0x00
#define C_DF		0x04
#define C_GFSELECT	0x08
#define C_GF		0x0c
#define C_NUM_QUEUES	0x12
#define C_STATUS	0x14
#define C_Q_SELECT	0x16
#define C_Q_SIZE	0x18
#define C_Q_ENABLE	0x1c
#define C_Q_NOFF	0x1e
#define C_Q_DESC	0x20
#define C_Q_AVAIL	0x28
#define C_Q_USED	0x30

#define DESC_F_NEXT	1
#define DESC_F_WRITE	2

u32 pci_cfg_read32(u8 dev, u8 reg)
{
	outl(CFG_ADDR, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(CFG_DATA);
}

void pci_cfg_write32(u8 dev, u8 reg, u32 v)
{
	outl(CFG_ADDR, 0x80000000u | dev << 11 | (reg & 0xfc));
	outl(CFG_DATA, v);
}

static u8 cfg_read8(u8 dev, u8 reg)
{
	return pci_cfg_read32(dev, reg) >> (8 * (reg & 3));
}

static void lock(struct vblk *v)
{
	while (__atomic_exchange_n(&v->lock, 1, __ATOMIC_ACQUIRE))
		pause();
}

static void unlock(struct vblk *v)
{
	__atomic_store_n(&v->lock, 0, __ATOMIC_RELEASE);
}

/* TSC ticks per millisecond, from the PM timer, once */
static u64 tsc_per_ms;

static void calibrate(void)
{
	u32 p0 = pm_timer(), ticks = PM_TIMER_HZ / 100;
	u64 t0 = rdtsc();

	while (((pm_timer() - p0) & 0xffffff) < ticks)
		pause();
	tsc_per_ms = (rdtsc() - t0) / 10;
	if (!tsc_per_ms)
		tsc_per_ms = 1;
}

bool vblk_find(struct vblk *v, unsigned int nth)
{
	u8 dev, p;

	memset(v, 0, sizeof(*v));
	for (dev = 0; dev < 32; dev++) {
		if (pci_cfg_read32(dev, 0) != 0x10421af4)
			continue;
		if (nth--)
			continue;
		v->slot = dev;
		break;
	}
	if (dev == 32)
		return false;
	/* memory decoding and bus mastering */
	pci_cfg_write32(dev, 4, (pci_cfg_read32(dev, 4) & 0xffff) | 0x6);
	v->irq = cfg_read8(dev, 0x3c);
	if (!(pci_cfg_read32(dev, 4) & (0x10 << 16)))
		return false;
	for (p = cfg_read8(dev, 0x34) & 0xfc; p; p = cfg_read8(dev, p + 1) & 0xfc) {
		u8 type, bar;
		ulong base;

		if (cfg_read8(dev, p) != 0x09)
			continue;
		type = cfg_read8(dev, p + 3);
		bar = cfg_read8(dev, p + 4);
		if (bar > 5)
			continue;
		base = (pci_cfg_read32(dev, 0x10 + 4 * bar) & ~0xfu) +
		       pci_cfg_read32(dev, p + 8);
		switch (type) {
		case 1: v->common = base; break;
		case 2:
			v->notify = base;
			v->notify_mult = pci_cfg_read32(dev, p + 16);
			break;
		case 3: v->isr = base; break;
		case 4: v->devcfg = base; break;
		}
	}
	return v->common && v->notify && v->isr && v->devcfg;
}

u8 vblk_status(struct vblk *v)
{
	return mmio_read8(v->common + C_STATUS);
}

u64 vblk_reset(struct vblk *v)
{
	u64 f;

	mmio_write8(v->common + C_STATUS, 0);
	while (vblk_status(v))
		pause();
	mmio_write8(v->common + C_STATUS, VSTAT_ACK);
	mmio_write8(v->common + C_STATUS, VSTAT_ACK | VSTAT_DRIVER);
	mmio_write32(v->common + C_DFSELECT, 0);
	f = mmio_read32(v->common + C_DF);
	mmio_write32(v->common + C_DFSELECT, 1);
	f |= (u64)mmio_read32(v->common + C_DF) << 32;
	return f;
}

bool vblk_set_features(struct vblk *v, u64 features)
{
	mmio_write32(v->common + C_GFSELECT, 0);
	mmio_write32(v->common + C_GF, (u32)features);
	mmio_write32(v->common + C_GFSELECT, 1);
	mmio_write32(v->common + C_GF, features >> 32);
	mmio_write8(v->common + C_STATUS,
		    VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	v->features = features;
	return vblk_status(v) & VSTAT_FEATURES_OK;
}

bool vblk_start(struct vblk *v, void *rings)
{
	u8 *r = rings;
	u16 n;
	u32 i;

	mmio_write16(v->common + C_Q_SELECT, 0);
	n = mmio_read16(v->common + C_Q_SIZE);
	if (!n || mmio_read16(v->common + C_Q_ENABLE))
		return false;
	if (n > VBLK_QSIZE)
		n = VBLK_QSIZE;
	mmio_write16(v->common + C_Q_SIZE, n);
	v->qsize = n;
	memset(r, 0, VBLK_RING_BYTES);
	v->desc = r;
	v->avail = (volatile u16 *)(r + 0x1000);
	v->used = r + 0x2000;
	mmio_write64(v->common + C_Q_DESC, (ulong)v->desc);
	mmio_write32(v->common + C_Q_AVAIL, (ulong)v->avail);
	mmio_write32(v->common + C_Q_AVAIL + 4, 0);
	mmio_write64(v->common + C_Q_USED, (ulong)v->used);
	mmio_write16(v->common + C_Q_ENABLE, 1);
	v->notify += mmio_read16(v->common + C_Q_NOFF) * v->notify_mult;
	v->avail_idx = v->last_used = 0;
	if (!tsc_per_ms)
		calibrate();
	v->nr_free = n;
	for (i = 0; i < n; i++)
		v->free[i] = n - 1 - i;
	mmio_write8(v->common + C_STATUS, VSTAT_ACK | VSTAT_DRIVER |
		    VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
	v->capacity = mmio_read32(v->devcfg) |
		      (u64)mmio_read32(v->devcfg + 4) << 32;
	v->blk_size = (v->features & 1ULL << VIRTIO_BLK_F_BLK_SIZE) ?
		      mmio_read32(v->devcfg + 0x14) : 512;
	v->seg_max = (v->features & 1ULL << VIRTIO_BLK_F_SEG_MAX) ?
		     mmio_read32(v->devcfg + 0x0c) : 1;
	return vblk_status(v) == (VSTAT_ACK | VSTAT_DRIVER |
				  VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
}

void vblk_no_interrupt(struct vblk *v, bool on)
{
	v->avail[0] = on ? 1 : 0;
}

u8 vblk_isr(struct vblk *v)
{
	return mmio_read8(v->isr);
}

static void put_desc(struct vblk *v, u16 i, ulong addr, u32 len, u16 flags,
		     u16 next)
{
	u8 *d = v->desc + 16 * i;

	*(u64 *)d = addr;
	*(u32 *)(d + 8) = len;
	*(u16 *)(d + 12) = flags;
	*(u16 *)(d + 14) = next;
}

/* under the lock */
static void poll_locked(struct vblk *v)
{
	u16 idx = __atomic_load_n((volatile u16 *)(v->used + 2),
				  __ATOMIC_ACQUIRE);

	while (v->last_used != idx) {
		volatile u8 *e = v->used + 4 + 8 * (v->last_used % v->qsize);
		u32 id = *(volatile u32 *)e, len = *(volatile u32 *)(e + 4);

		v->last_used++;
		if (id >= v->qsize)
			continue;
		v->slots[id].used_len = len;
		__atomic_store_n(&v->slots[id].done, 1, __ATOMIC_RELEASE);
	}
}

void vblk_poll(struct vblk *v)
{
	lock(v);
	poll_locked(v);
	unlock(v);
}

int vblk_submit(struct vblk *v, u32 type, u64 sector,
		const struct vblk_buf *bufs, unsigned int nr)
{
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	u16 ids[VBLK_QSIZE];
	struct vblk_slot *s;
	unsigned int i;

	if (nr + 2 > v->qsize)
		return -1;
	lock(v);
	if (v->nr_free < nr + 2) {
		unlock(v);
		return -1;
	}
	for (i = 0; i < nr + 2; i++)
		ids[i] = v->free[--v->nr_free];
	s = &v->slots[ids[0]];
	memset(s->hdr, 0, sizeof(s->hdr));
	*(u32 *)s->hdr = type;
	*(u64 *)(s->hdr + 8) = sector;
	s->status = 0xff;
	s->done = 0;
	put_desc(v, ids[0], (ulong)s->hdr, 16, DESC_F_NEXT, ids[1]);
	for (i = 0; i < nr; i++)
		put_desc(v, ids[i + 1], (ulong)bufs[i].addr, bufs[i].len,
			 DESC_F_NEXT | (in ? DESC_F_WRITE : 0), ids[i + 2]);
	put_desc(v, ids[nr + 1], (ulong)&s->status, 1, DESC_F_WRITE, 0);
	v->avail[2 + v->avail_idx % v->qsize] = ids[0];
	v->avail_idx++;
	__atomic_store_n(&v->avail[1], v->avail_idx, __ATOMIC_RELEASE);
	mmio_write16(v->notify, 0);
	unlock(v);
	return ids[0];
}

/* the waiter gives the chain back: its head's slot stays valid till then */
static void release(struct vblk *v, int head)
{
	u16 i = head;

	lock(v);
	for (;;) {
		u8 *d = v->desc + 16 * i;

		v->free[v->nr_free++] = i;
		if (!(*(u16 *)(d + 12) & DESC_F_NEXT))
			break;
		i = *(u16 *)(d + 14);
	}
	unlock(v);
}

u64 vblk_tsc_per_ms(void)
{
	if (!tsc_per_ms)
		calibrate();
	return tsc_per_ms;
}

/* polls memory only and times out by the TSC: no exits while waiting */
int vblk_wait(struct vblk *v, int head, u32 ms)
{
	u64 end = rdtsc() + ms * tsc_per_ms;
	int st;

	if (head < 0)
		return -1;
	while (!__atomic_load_n(&v->slots[head].done, __ATOMIC_ACQUIRE)) {
		vblk_poll(v);
		if (v->slots[head].done)
			break;
		if (rdtsc() > end)
			return -1;
		pause();
	}
	st = v->slots[head].status;
	release(v, head);
	return st;
}

/* the MSI-X capability's offset in configuration space, or 0 */
static u8 msix_cap(struct vblk *v)
{
	u8 p;

	for (p = cfg_read8(v->slot, 0x34) & 0xfc; p;
	     p = cfg_read8(v->slot, p + 1) & 0xfc)
		if (cfg_read8(v->slot, p) == 0x11)
			return p;
	return 0;
}

bool vblk_msix(struct vblk *v, bool on, u8 qvec, u8 apic_vector)
{
	u8 cap = msix_cap(v);
	u32 ctrl, tbl;
	u16 got;

	if (!cap)
		return false;
	ctrl = pci_cfg_read32(v->slot, cap);
	if (!on) {
		pci_cfg_write32(v->slot, cap, ctrl & ~(1u << 31));
		mmio_write16(v->common + C_Q_SELECT, 0);
		mmio_write16(v->common + 0x1a, 0xffff);
		return true;
	}
	if (qvec > ((ctrl >> 16) & 0x7ff))
		return false;
	tbl = pci_cfg_read32(v->slot, cap + 4);
	v->msix_table = (pci_cfg_read32(v->slot, 0x10 + 4 * (tbl & 7)) &
			 ~0xfu) + (tbl & ~7u);
	tbl = pci_cfg_read32(v->slot, cap + 8);
	v->msix_pba = (pci_cfg_read32(v->slot, 0x10 + 4 * (tbl & 7)) &
		       ~0xfu) + (tbl & ~7u);
	/* fixed delivery to APIC 0, edge */
	mmio_write32(v->msix_table + 16 * qvec, APIC_BASE);
	mmio_write32(v->msix_table + 16 * qvec + 4, 0);
	mmio_write32(v->msix_table + 16 * qvec + 8, apic_vector);
	vblk_msix_mask(v, qvec, false);
	pci_cfg_write32(v->slot, cap, ctrl | 1u << 31);
	mmio_write16(v->common + C_Q_SELECT, 0);
	mmio_write16(v->common + 0x1a, qvec);
	got = mmio_read16(v->common + 0x1a);
	return got == qvec;
}

void vblk_msix_mask(struct vblk *v, u8 vec, bool mask)
{
	mmio_write32(v->msix_table + 16 * vec + 12, mask);
}

u32 vblk_msix_pending(struct vblk *v)
{
	return mmio_read32(v->msix_pba);
}

int vblk_take_desc(struct vblk *v)
{
	int id = -1;

	lock(v);
	if (v->nr_free)
		id = v->free[--v->nr_free];
	unlock(v);
	return id;
}

void vblk_give_desc(struct vblk *v, int id)
{
	lock(v);
	v->free[v->nr_free++] = id;
	unlock(v);
}

void vblk_put_desc(struct vblk *v, int id, u64 addr, u32 len, u16 flags,
		   u16 next)
{
	put_desc(v, id, addr, len, flags, next);
}

void vblk_post(struct vblk *v, int head, u16 advance)
{
	lock(v);
	v->slots[head].done = 0;
	v->avail[2 + v->avail_idx % v->qsize] = head;
	v->avail_idx += advance;
	__atomic_store_n(&v->avail[1], v->avail_idx, __ATOMIC_RELEASE);
	mmio_write16(v->notify, 0);
	unlock(v);
}

bool vblk_wait_done(struct vblk *v, int head, u32 ms)
{
	u64 end = rdtsc() + ms * tsc_per_ms;

	while (!__atomic_load_n(&v->slots[head].done, __ATOMIC_ACQUIRE)) {
		vblk_poll(v);
		if (rdtsc() > end)
			return v->slots[head].done;
		pause();
	}
	return true;
}

int vblk_rw(struct vblk *v, u32 type, u64 sector, void *buf, u32 len)
{
	struct vblk_buf b = { buf, len };
	int head;

	head = vblk_submit(v, type, sector, &b, buf ? 1 : 0);
	if (head < 0)
		return -1;
	return vblk_wait(v, head, 60000);
}
