// SPDX-License-Identifier: GPL-2.0
/*
 * pc_disk: the virtio-blk disk through the guest library's driver
 * (vblk.c).  The command line picks what to do:
 *
 *   mode=test     (default) feature negotiation, capacity (sectors=N, in
 *                 512-byte units) and block size (bs=N), GET_ID, pseudo-
 *                 random patterns written and read back in one and in
 *                 several segments, several requests in flight, flush,
 *                 discard, the errors (out of range, misaligned, unknown
 *                 type, writes to a read-only disk), the INTx interrupt,
 *                 MSI-X (and a masked entry's pending bit),
 *                 malformed requests and rings (they must not hurt the
 *                 runner), and with cpus=2 both vCPUs doing I/O at once
 *   mode=fill     write the pattern of seed=S over the whole disk, flush,
 *                 read it back; "# crc32 X" is the CRC-32 of the disk
 *   mode=sum      "# crc32 X" of the whole disk as it reads
 *   mode=gen      write generation 1, 2, ... of a pattern over the first
 *                 2 MiB, each followed by a flush and "disk: flushed G";
 *                 runs until killed (or 10000 generations)
 *   mode=verify   gen=G: every sector of those 2 MiB holds generation G
 *                 or G + 1 (the one being written when the runner died)
 *   mode=bench    sequential 1 MiB and random 4 KiB writes and reads, one
 *                 request at a time (ops=N random ones, default 2048):
 *                 "bench: disk_seq_write N KiB/s" and so on
 *                 (Documentation/bench.rst)
 */
#include "lib.h"
#include "vblk.h"

#define VEC_DISK	0x50
#define CHUNK		(256u << 10)
#define GEN_BYTES	(2u << 20)
#define GEN_REQ		(64u << 10)
#define BIG		(1u << 20)

static struct vblk vb;
static u8 *heap;
static u8 *wbuf, *rbuf, *apbuf_w, *apbuf_r;
static u32 bs;
static u64 disk_bytes;
static volatile u32 irq_count, irq_isr;
static volatile u32 ap_go, ap_done, ap_errors;
static u32 crc_table[256];

static void *alloc(u32 size)
{
	u8 *p = heap;

	heap += (size + 0xfff) & ~0xfffu;
	return p;
}

static u64 mix(u64 z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* the pattern of @seed for the disk bytes [off, off + len), 8-aligned */
static void pattern(u8 *buf, u64 off, u32 len, u64 seed)
{
	u64 *p = (u64 *)buf;
	u32 i;

	for (i = 0; i < len / 8; i++)
		p[i] = mix(seed * 0x100000001b3ULL ^ ((off >> 3) + i));
}

static void crc_init(void)
{
	u32 i, j, c;

	for (i = 0; i < 256; i++) {
		for (c = i, j = 0; j < 8; j++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* zlib's CRC-32 (busybox crc32): start with 0 */
static u32 crc32(u32 crc, const u8 *p, u32 len)
{
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int rw(u32 type, u64 off, void *buf, u32 len)
{
	return vblk_rw(&vb, type, off >> 9, buf, len);
}

/* write the pattern at @off, read it back elsewhere, compare */
static bool round_trip(u64 off, u32 len, u64 seed, u8 *w, u8 *r)
{
	pattern(w, off, len, seed);
	if (rw(VIRTIO_BLK_T_OUT, off, w, len) != VIRTIO_BLK_S_OK)
		return false;
	memset(r, 0, len);
	if (rw(VIRTIO_BLK_T_IN, off, r, len) != VIRTIO_BLK_S_OK)
		return false;
	return !memcmp(w, r, len);
}

static void test_patterns(void)
{
	struct { u64 off; u32 len; } t[] = {
		{ 0, 0 },			/* one block */
		{ 3, 4096 },			/* blocks */
		{ 64 << 10, 64 << 10 },
		{ 256 << 10, BIG },
		{ ~0ULL, 128 << 10 },		/* the end of the disk */
	};
	unsigned int i;

	t[0].len = bs;
	t[1].off = 3 * bs;
	t[4].off = disk_bytes - t[4].len;
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (t[i].off + t[i].len > disk_bytes)
			continue;
		ok(round_trip(t[i].off, t[i].len, 100 + i, wbuf, rbuf),
		   "pattern %u: %u bytes at sector %u read back", i, t[i].len,
		   (u32)(t[i].off >> 9));
	}
}

static void test_segments(void)
{
	struct vblk_buf w[3], r[4];
	u64 off = 128 << 10;
	u32 len = 8 * bs;
	int st;

	/* 1 + 2 + 5 blocks from scattered places */
	pattern(rbuf, off, len, 7);
	memcpy(wbuf + 3 * bs, rbuf, bs);
	memcpy(wbuf + 7 * bs, rbuf + bs, 2 * bs);
	memcpy(wbuf + 20 * bs, rbuf + 3 * bs, 5 * bs);
	w[0] = (struct vblk_buf) { wbuf + 3 * bs, bs };
	w[1] = (struct vblk_buf) { wbuf + 7 * bs, 2 * bs };
	w[2] = (struct vblk_buf) { wbuf + 20 * bs, 5 * bs };
	st = vblk_wait(&vb, vblk_submit(&vb, VIRTIO_BLK_T_OUT, off >> 9, w, 3),
		       60000);
	ok(st == VIRTIO_BLK_S_OK, "write of 3 segments (status %d)", st);
	memset(wbuf, 0, BIG);
	ok(rw(VIRTIO_BLK_T_IN, off, wbuf, len) == VIRTIO_BLK_S_OK &&
	   !memcmp(wbuf, rbuf, len), "3 segments read back as one");
	/* and read as 4 segments of 2 blocks, in reverse order in memory */
	memset(wbuf, 0, BIG);
	r[0] = (struct vblk_buf) { wbuf + 6 * bs, 2 * bs };
	r[1] = (struct vblk_buf) { wbuf + 4 * bs, 2 * bs };
	r[2] = (struct vblk_buf) { wbuf + 2 * bs, 2 * bs };
	r[3] = (struct vblk_buf) { wbuf, 2 * bs };
	st = vblk_wait(&vb, vblk_submit(&vb, VIRTIO_BLK_T_IN, off >> 9, r, 4),
		       60000);
	ok(st == VIRTIO_BLK_S_OK && !memcmp(wbuf + 6 * bs, rbuf, 2 * bs) &&
	   !memcmp(wbuf + 4 * bs, rbuf + 2 * bs, 2 * bs) &&
	   !memcmp(wbuf + 2 * bs, rbuf + 4 * bs, 2 * bs) &&
	   !memcmp(wbuf, rbuf + 6 * bs, 2 * bs),
	   "read into 4 segments (status %d)", st);
}

/* 8 writes in flight, then 8 reads in flight */
static void test_inflight(void)
{
	int heads[8], st, i;
	bool good = true;
	u32 len = 16 << 10;
	u64 base = 512 << 10;

	for (i = 0; i < 8; i++) {
		struct vblk_buf b = { wbuf + i * len, len };

		pattern(wbuf + i * len, base + i * len, len, 31);
		heads[i] = vblk_submit(&vb, VIRTIO_BLK_T_OUT,
				       (base + i * len) >> 9, &b, 1);
	}
	for (i = 0; i < 8; i++) {
		st = heads[i] < 0 ? -1 : vblk_wait(&vb, heads[i], 60000);
		good &= st == VIRTIO_BLK_S_OK;
	}
	ok(good, "8 writes in flight at once");
	memset(rbuf, 0, 8 * len);
	for (i = 0; i < 8; i++) {
		struct vblk_buf b = { rbuf + i * len, len };

		heads[i] = vblk_submit(&vb, VIRTIO_BLK_T_IN,
				       (base + i * len) >> 9, &b, 1);
	}
	good = true;
	for (i = 0; i < 8; i++) {
		st = heads[i] < 0 ? -1 : vblk_wait(&vb, heads[i], 60000);
		good &= st == VIRTIO_BLK_S_OK;
	}
	ok(good && !memcmp(wbuf, rbuf, 8 * len),
	   "8 reads in flight at once, data as written");
}

static void test_errors(bool ro)
{
	u64 cap = vb.capacity;
	int st;

	st = rw(VIRTIO_BLK_T_IN, cap << 9, rbuf, bs);
	ok(st == VIRTIO_BLK_S_IOERR, "read at the capacity: IOERR (%d)", st);
	st = rw(VIRTIO_BLK_T_IN, (cap << 9) - bs, rbuf, 2 * bs);
	ok(st == VIRTIO_BLK_S_IOERR, "read across the end: IOERR (%d)", st);
	st = rw(VIRTIO_BLK_T_OUT, (cap + 1000) << 9, wbuf, bs);
	ok(st == VIRTIO_BLK_S_IOERR, "write past the end: IOERR (%d)", st);
	st = vblk_rw(&vb, VIRTIO_BLK_T_IN, ~0ULL >> 1, rbuf, bs);
	ok(st == VIRTIO_BLK_S_IOERR, "read at sector 2^63-1: IOERR (%d)", st);
	if (bs > 512) {
		st = vblk_rw(&vb, VIRTIO_BLK_T_IN, 1, rbuf, bs);
		ok(st == VIRTIO_BLK_S_IOERR,
		   "read at a sector inside a block: IOERR (%d)", st);
		st = rw(VIRTIO_BLK_T_OUT, 0, wbuf, 512);
		ok(st == VIRTIO_BLK_S_IOERR,
		   "write of part of a block: IOERR (%d)", st);
	}
	st = vblk_rw(&vb, 0x55, 0, rbuf, bs);
	ok(st == VIRTIO_BLK_S_UNSUPP, "unknown type 0x55: UNSUPP (%d)", st);
	if (ro) {
		st = rw(VIRTIO_BLK_T_OUT, 0, wbuf, bs);
		ok(st == VIRTIO_BLK_S_IOERR, "write to a read-only disk: IOERR (%d)",
		   st);
	}
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	ok(st == VIRTIO_BLK_S_OK, "a good read after the errors (%d)", st);
	ok(!(vblk_status(&vb) & VSTAT_NEEDS_RESET), "no DEVICE_NEEDS_RESET");
}

static void test_discard(void)
{
	u8 *d = wbuf + BIG;
	u64 off = 768 << 10;
	u32 len = 32 << 10, i;
	bool changed = true;
	int st;

	if (!(vb.features & 1ULL << VIRTIO_BLK_F_DISCARD))
		return;
	ok(round_trip(off, len, 55, wbuf, rbuf), "data to discard written");
	memset(d, 0, 16);
	*(u64 *)d = off >> 9;
	*(u32 *)(d + 8) = len >> 9;
	st = rw(VIRTIO_BLK_T_DISCARD, 0, d, 16);
	ok(st == VIRTIO_BLK_S_OK, "discard of %u bytes (%d)", len, st);
	memset(rbuf, 0, len);
	st = rw(VIRTIO_BLK_T_IN, off, rbuf, len);
	for (i = 0; i < len; i += bs)
		changed &= !!memcmp(wbuf + i, rbuf + i, bs);
	ok(st == VIRTIO_BLK_S_OK && changed,
	   "every discarded block reads differently");
	*(u32 *)(d + 12) = 2;
	st = rw(VIRTIO_BLK_T_DISCARD, 0, d, 16);
	ok(st == VIRTIO_BLK_S_UNSUPP, "discard with unknown flags: UNSUPP (%d)",
	   st);
}

/*
 * What a malicious driver could do: each malformed request completes
 * with used length 0 and its status byte untouched; a runaway available
 * index sets DEVICE_NEEDS_RESET; after a reset the disk works again.
 */
#define D_NEXT	1
#define D_WRITE	2

static bool evil(const char *what, u64 a1, u32 l1, u16 f1, u64 a2, u32 l2,
		 u16 f2, bool loop)
{
	int h = vblk_take_desc(&vb), d = vblk_take_desc(&vb);
	struct vblk_slot *s = &vb.slots[h];
	bool good;

	memset(s->hdr, 0, sizeof(s->hdr));
	s->status = 0xee;
	s->used_len = 0xdead;
	vblk_put_desc(&vb, h, a1 ? a1 : (ulong)s->hdr, l1, f1 | D_NEXT, d);
	vblk_put_desc(&vb, d, a2 ? a2 : (ulong)&s->status, l2, f2,
		      loop ? h : 0);
	vblk_post(&vb, h, 1);
	good = vblk_wait_done(&vb, h, 10000);
	ok(good && s->used_len == 0 && s->status == 0xee,
	   "%s: used length 0, status untouched", what);
	diag("done %u, used length %u, status 0x%x", good, s->used_len,
	     s->status);
	vblk_give_desc(&vb, h);
	vblk_give_desc(&vb, d);
	return good;
}

static void test_evil(void)
{
	u64 ram_end = 0xbff00000ULL;	/* below the PCI hole, above -m */
	u64 want;
	int h, st;

	evil("data outside RAM", 0, 16, 0, ram_end, 4096, D_WRITE, false);
	evil("descriptor wrapping around", 0, 16, 0, ~0ULL - 100, 4096,
	     D_WRITE, false);
	evil("a chain looping back", 0, 16, 0, 0, 1, D_WRITE | D_NEXT, true);
	evil("status byte device-readable", 0, 16, 0, 0, 1, 0, false);
	evil("readable after writable", 0, 16, D_WRITE, 0, 1, 0, false);
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	ok(st == VIRTIO_BLK_S_OK && !(vblk_status(&vb) & VSTAT_NEEDS_RESET),
	   "good requests still work (%d)", st);

	/* the available index runs ahead by more than the queue size */
	h = vblk_take_desc(&vb);
	vblk_post(&vb, h, vb.qsize + 1);
	pm_delay_us(20000);
	ok(vblk_status(&vb) & VSTAT_NEEDS_RESET,
	   "available index %u ahead: DEVICE_NEEDS_RESET", vb.qsize + 1);
	want = vb.features;
	vblk_reset(&vb);
	ok(vblk_set_features(&vb, want) &&
	   vblk_start(&vb, alloc(VBLK_RING_BYTES)), "reset and set up again");
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	ok(st == VIRTIO_BLK_S_OK, "I/O after the reset (%d)", st);
}

#define VEC_MSIX	0x51
static volatile u32 msix_count;

static void msix_isr(struct frame *f)
{
	(void)f;
	msix_count++;
	apic_eoi();
}

/* MSI-X: the completion as a message; masked, it waits in the PBA */
static void test_msix(void)
{
	u32 ms, before;
	int st;

	set_isr(VEC_MSIX, msix_isr);
	msix_count = 0;
	ok(vblk_msix(&vb, true, 1, VEC_MSIX),
	   "MSI-X enabled, queue 0 on entry 1");
	sti();
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	for (ms = 0; ms < 2000 && !msix_count; ms++)
		pm_delay_us(1000);
	pm_delay_us(5000);
	cli();
	ok(st == VIRTIO_BLK_S_OK && msix_count == 1 && !vblk_isr(&vb),
	   "one MSI-X interrupt per completion, ISR not used");
	diag("%u MSI-X interrupts", msix_count);

	vblk_msix_mask(&vb, 1, true);
	before = msix_count;
	sti();
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	pm_delay_us(5000);
	cli();
	ok(st == VIRTIO_BLK_S_OK && msix_count == before &&
	   (vblk_msix_pending(&vb) & 2),
	   "entry masked: no interrupt, pending bit set");
	sti();
	vblk_msix_mask(&vb, 1, false);
	for (ms = 0; ms < 2000 && msix_count == before; ms++)
		pm_delay_us(1000);
	cli();
	ok(msix_count == before + 1 && !(vblk_msix_pending(&vb) & 2),
	   "unmasked: the pending interrupt arrives, pending bit clear");
	ok(vblk_msix(&vb, false, 0, 0), "MSI-X disabled again");
}

static void disk_isr(struct frame *f)
{
	(void)f;
	irq_count++;
	irq_isr |= vblk_isr(&vb);
	apic_eoi();
}

static void test_interrupt(void)
{
	u32 before, ms;
	int st;
	u8 isr;

	if (vb.irq != 10 && vb.irq != 11) {
		ok(false, "interrupt line %u is not GSI 10 or 11", vb.irq);
		return;
	}
	pic_init(0x20, 0x28);
	pic_set_mask(0xffff);
	set_isr(VEC_DISK, disk_isr);
	vblk_isr(&vb);		/* nothing pending from earlier requests */
	irq_count = irq_isr = 0;
	ioapic_route(vb.irq, VEC_DISK, true, false);
	sti();
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	for (ms = 0; ms < 2000 && !irq_count; ms++)
		pm_delay_us(1000);
	pm_delay_us(20000);	/* whatever else comes, before the next part */
	cli();
	ok(st == VIRTIO_BLK_S_OK && irq_count >= 1 && (irq_isr & 1),
	   "completion interrupt on GSI %u, ISR bit 0 set", vb.irq);
	diag("%u interrupts in %u ms", irq_count, ms);

	/* suppressed: the used ring still fills, no interrupt, ISR clear */
	vblk_no_interrupt(&vb, true);
	before = irq_count;
	sti();
	st = rw(VIRTIO_BLK_T_IN, 0, rbuf, bs);
	pm_delay_us(20000);
	cli();
	isr = vblk_isr(&vb);
	ok(st == VIRTIO_BLK_S_OK && irq_count == before && !isr,
	   "VRING_AVAIL_F_NO_INTERRUPT: no interrupt, ISR clear");
	diag("status %d, %u interrupts, ISR %u", st, irq_count - before, isr);
	vblk_no_interrupt(&vb, false);
	ioapic_route(vb.irq, VEC_DISK, true, true);
}

/* both CPUs at once: the AP at 1 MiB + 512 KiB, the BSP below */
#define SMP_ROUNDS	12
#define SMP_LEN		(32u << 10)

void ap_main(u32 index)
{
	u32 i;

	(void)index;
	while (!ap_go)
		pause();
	for (i = 0; i < SMP_ROUNDS; i++) {
		u64 off = (1536u << 10) + (i % 4) * SMP_LEN;

		if (!round_trip(off, SMP_LEN, 1000 + i, apbuf_w, apbuf_r))
			ap_errors++;
	}
	__atomic_store_n(&ap_done, 1, __ATOMIC_RELEASE);
	for (;;)
		asm volatile("cli; hlt");
}

static void test_smp(void)
{
	u32 i, errors = 0;

	if (disk_bytes < (2u << 20)) {
		ok(false, "two vCPUs: the disk must have 2 MiB");
		return;
	}
	memcpy((void *)AP_TRAMPOLINE, ap_tramp, ap_tramp_end - ap_tramp);
	apic_icr(0, 0xc4500);
	pm_delay_us(10000);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
	pm_delay_us(200);
	apic_icr(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
	ap_go = 1;
	for (i = 0; i < SMP_ROUNDS; i++) {
		u64 off = (1024u << 10) + (i % 4) * SMP_LEN;

		if (!round_trip(off, SMP_LEN, 2000 + i, wbuf, rbuf))
			errors++;
	}
	ok(wait_for(&ap_done, 120000000), "the second vCPU finished its I/O");
	ok(!errors && !ap_errors,
	   "two vCPUs: %u round trips each, all read back", SMP_ROUNDS);
	diag("errors: BSP %u, AP %u", errors, ap_errors);
}

static u32 disk_crc(void)
{
	u32 crc = 0, n;
	u64 off;

	for (off = 0; off < disk_bytes; off += n) {
		n = disk_bytes - off < CHUNK ? disk_bytes - off : CHUNK;
		if (rw(VIRTIO_BLK_T_IN, off, rbuf, n) != VIRTIO_BLK_S_OK) {
			ok(false, "read at %u KiB", (u32)(off >> 10));
			return 0;
		}
		crc = crc32(crc, rbuf, n);
	}
	return crc;
}

static void mode_fill(u64 seed)
{
	u32 crc = 0, n, good = 1;
	u64 off;

	for (off = 0; off < disk_bytes; off += n) {
		n = disk_bytes - off < CHUNK ? disk_bytes - off : CHUNK;
		pattern(wbuf, off, n, seed);
		crc = crc32(crc, wbuf, n);
		good &= rw(VIRTIO_BLK_T_OUT, off, wbuf, n) == VIRTIO_BLK_S_OK;
	}
	ok(good, "pattern %u written over %u KiB", (u32)seed,
	   (u32)(disk_bytes >> 10));
	ok(rw(VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK, "flush");
	ok(disk_crc() == crc, "the disk reads back as written");
	diag("crc32 %08x", crc);
}

static void mode_gen(void)
{
	u32 g, off, bytes = disk_bytes < GEN_BYTES ? disk_bytes : GEN_BYTES;

	for (g = 1; g <= 10000; g++) {
		for (off = 0; off < bytes; off += GEN_REQ) {
			pattern(wbuf, off, GEN_REQ, g);
			if (rw(VIRTIO_BLK_T_OUT, off, wbuf, GEN_REQ)) {
				ok(false, "generation %u: write at %u", g, off);
				return;
			}
		}
		if (rw(VIRTIO_BLK_T_FLUSH, 0, NULL, 0)) {
			ok(false, "generation %u: flush", g);
			return;
		}
		printf("disk: flushed %u\n", g);
	}
}

static void mode_verify(u32 g)
{
	u32 off, i, bytes = disk_bytes < GEN_BYTES ? disk_bytes : GEN_BYTES;
	u32 old = 0, newer = 0, bad = 0;

	for (off = 0; off < bytes; off += GEN_REQ) {
		if (rw(VIRTIO_BLK_T_IN, off, rbuf, GEN_REQ)) {
			ok(false, "read at %u", off);
			return;
		}
		pattern(wbuf, off, GEN_REQ, g);
		pattern(wbuf + GEN_REQ, off, GEN_REQ, g + 1);
		for (i = 0; i < GEN_REQ; i += 512) {
			if (!memcmp(rbuf + i, wbuf + i, 512))
				old++;
			else if (!memcmp(rbuf + i, wbuf + GEN_REQ + i, 512))
				newer++;
			else
				bad++;
		}
	}
	ok(g >= 1 && !bad,
	   "every sector holds flushed generation %u or the next", g);
	diag("%u sectors of generation %u, %u of %u, %u neither", old, g,
	     newer, g + 1, bad);
}

static u32 kib_per_s(u64 bytes, u64 tsc)
{
	/* 64-bit divisions: x86-64 has them without libgcc */
	return bytes / 1024 * vblk_tsc_per_ms() * 1000 / (tsc ? tsc : 1);
}

/* the same sequence as selftests/disk_bench.c */
static u64 lcg(u64 *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x >> 33;
}

static void mode_bench(u32 ops)
{
	static const char *const names[4] = {
		"disk_seq_write", "disk_seq_read", "disk_rand_write",
		"disk_rand_read",
	};
	u64 x, t, off, bytes;
	u32 k, i, blk, bad = 0;

	pattern(wbuf, 0, BIG, 9);
	for (k = 0; k < 4; k++) {
		u32 type = k & 1 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		u8 *buf = k & 1 ? rbuf : wbuf;

		x = 42;
		bytes = 0;
		t = rdtsc();
		if (k < 2) {
			for (off = 0; off + BIG <= disk_bytes; off += BIG) {
				bad += rw(type, off, buf, BIG) != 0;
				bytes += BIG;
			}
		} else {
			for (i = 0; i < ops; i++) {
				div64(lcg(&x), disk_bytes >> 12, &blk);
				bad += rw(type, (u64)blk << 12, buf, 4096) != 0;
				bytes += 4096;
			}
		}
		t = rdtsc() - t;
		printf("bench: %s %u KiB/s\n", names[k], kib_per_s(bytes, t));
	}
	ok(!bad, "benchmark I/O without errors");
}

void test_main(void)
{
	const char *mode = arg_value("mode"), *a;
	u64 f, want;
	bool ro;

	if (!mode)
		mode = "test";
	crc_init();
	apic_enable();
	heap = (u8 *)(ulong)((_end_addr() + 0xfffff) & ~0xfffffu);
	wbuf = alloc(2 * BIG);
	rbuf = alloc(2 * BIG);
	apbuf_w = alloc(SMP_LEN);
	apbuf_r = alloc(SMP_LEN);

	if (!ok(vblk_find(&vb, 0), "virtio-blk 1af4:1042 with its common, notify, ISR and device capabilities"))
		return;
	diag("00:%02x.0, interrupt line %u", vb.slot, vb.irq);
	f = vblk_reset(&vb);
	ok((f & 1ULL << VIRTIO_F_VERSION_1) &&
	   (f & 1ULL << VIRTIO_BLK_F_FLUSH) &&
	   (f & 1ULL << VIRTIO_BLK_F_BLK_SIZE) &&
	   (f & 1ULL << VIRTIO_BLK_F_SEG_MAX),
	   "VERSION_1, FLUSH, BLK_SIZE and SEG_MAX offered");
	diag("device features 0x%llx", f);
	if (!strcmp(mode, "test")) {
		ok(!vblk_set_features(&vb, f & ~(1ULL << VIRTIO_F_VERSION_1)),
		   "FEATURES_OK refused without VERSION_1");
		vblk_reset(&vb);
		ok(!vblk_set_features(&vb, f | 1ULL << 28),
		   "FEATURES_OK refused with a feature not offered");
		vblk_reset(&vb);
	}
	want = f & (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_FLUSH |
		    1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		    1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_RO);
	ok(vblk_set_features(&vb, want), "FEATURES_OK kept");
	if (!ok(vblk_start(&vb, alloc(VBLK_RING_BYTES)), "queue 0 up, DRIVER_OK"))
		return;
	ro = !!(f & 1ULL << VIRTIO_BLK_F_RO);
	bs = vb.blk_size;
	disk_bytes = vb.capacity << 9;
	diag("capacity %llu sectors, block size %u, seg_max %u, qsize %u",
	     vb.capacity, bs, vb.seg_max, vb.qsize);
	a = arg_value("sectors");
	if (a)
		ok(vb.capacity == atou(a), "capacity %s sectors", a);
	a = arg_value("bs");
	if (a)
		ok(bs == atou(a), "block size %s", a);
	a = arg_value("ro");
	if (a)
		ok(ro == !!atou(a), "read-only: %s", a);

	if (!strcmp(mode, "fill")) {
		a = arg_value("seed");
		mode_fill(a ? atou(a) : 1);
	} else if (!strcmp(mode, "sum")) {
		diag("crc32 %08x", disk_crc());
	} else if (!strcmp(mode, "gen")) {
		mode_gen();
	} else if (!strcmp(mode, "bench")) {
		a = arg_value("ops");
		mode_bench(a ? atou(a) : 2048);
	} else if (!strcmp(mode, "verify")) {
		a = arg_value("gen");
		mode_verify(a ? atou(a) : 0);
	} else {
		char id[21];
		int st;

		memset(id, 0, sizeof(id));
		st = vblk_rw(&vb, VIRTIO_BLK_T_GET_ID, 0, id, 20);
		ok(st == VIRTIO_BLK_S_OK && !strcmp(id, "shv-disk0"),
		   "GET_ID: '%s'", id);
		if (ro) {
			test_errors(true);
			ok(rw(VIRTIO_BLK_T_IN, 0, rbuf, BIG > disk_bytes ?
			      disk_bytes : BIG) == VIRTIO_BLK_S_OK,
			   "reads from the read-only disk");
			return;
		}
		test_patterns();
		test_segments();
		test_inflight();
		ok(rw(VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK,
		   "flush");
		test_errors(false);
		test_discard();
		test_interrupt();
		test_msix();
		test_evil();
		a = arg_value("cpus");
		if (a && atou(a) >= 2)
			test_smp();
	}
}
