// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: virtio-blk (virtio 1.x, PCI transport, one split virtqueue),
 * one PCI function per --disk, at 00:08.0 upwards.
 *
 * BAR0 is 16 KiB of memory holding the four structures the vendor
 * capabilities point at: common configuration at 0x0000, ISR status at
 * 0x1000, the device configuration (struct virtio_blk_config) at 0x2000
 * and the queue notification register at 0x3000 (multiplier 4, queue 0
 * at offset 0); the MSI-X table (2 entries: configuration, queue 0) at
 * 0x3800 and its pending bits at 0x3c00.  Without MSI-X enabled,
 * interrupts are INTx (pin A) on GSI 10 (even disks) or 11 (odd),
 * level-triggered as the MADT says.
 *
 * The data path: a notification wakes the disk's worker threads, which
 * take requests off the available ring one at a time (several in
 * flight), do them without any lock held and put them on the used ring.
 * With a cipher (--accel shv only) a request's data segments become
 * SHV_DISK_IO descriptors of guest-physical memory: shv.ko moves and
 * en/decrypts the data between the image and guest RAM, the runner never
 * sees it.  Without one the workers pread()/pwrite() the image into guest
 * RAM, under either accelerator.
 *
 * Everything the guest hands over is checked: queue addresses and every
 * descriptor must lie in RAM, chains must end within the queue size,
 * the header, data and status must be where the request type wants them
 * (device-readable header and data out, device-writable data in and a
 * status byte last).  A malformed ring (an available index running more
 * than the queue size ahead, a head out of range) sets
 * DEVICE_NEEDS_RESET and stops the queue; a malformed request is
 * completed with status IOERR if its status byte can be found, else with
 * a used length of 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../dev.h"
#include "../pci.h"
#include "../virtio.h"
#include "../vm.h"

#define MAX_DISKS		8
#define DISK_SLOT0		8	/* PCI slot of the first disk */
#define QUEUE_MAX		256
#define NR_WORKERS		4
#define SEG_MAX			(QUEUE_MAX - 2)
#define MAX_DISCARD_SEG		32
#define MAX_DISCARD_SECTORS	(1u << 22)	/* 512-byte units: 2 GiB */

#define BAR_SIZE		0x4000
#define COMMON_OFF		0x0000
#define ISR_OFF			0x1000
#define DEVCFG_OFF		0x2000
#define NOTIFY_OFF		0x3000
#define NOTIFY_MULT		4
#define MSIX_TABLE_OFF		0x3800
#define MSIX_PBA_OFF		0x3c00
#define MSIX_NR			2	/* configuration, queue 0 */
#define MSIX_CAP		0x84
#define MSIX_CTRL_ENABLE	0x80	/* bits 15 and 14, in byte 3 */
#define MSIX_CTRL_MASKALL	0x40

#define BLK_HDR_SIZE		16
#define DISCARD_SEG_SIZE	16

struct disk_opts {
	char *path;
	char *cipher;		/* NULL: plain */
	char *keyid;		/* keyring description */
	char *keyfile;
	u32 key_size;		/* with keyid */
	u32 sector_size;
	u32 format;		/* SHV_DISK_FORMAT_* */
	bool ro;
};

struct vblk {
	struct pci_device pci;
	struct disk_opts o;
	unsigned int idx;
	char name[24];
	struct vm *vm;
	int fd;
	bool crypt;		/* the data path is shv.ko's disk idx */
	u64 size;		/* bytes */
	u32 gsi;
	bool irq_level;

	pthread_mutex_t lock;
	pthread_cond_t work;	/* requests may be available, or stop */
	pthread_cond_t idle;	/* nothing in flight */

	/* the transport, under lock */
	u32 dfselect, gfselect;
	u64 driver_features;
	u8 status;
	u16 qsel;
	bool resetting;
	u8 isr;

	/* MSI-X, under lock (the capability's control is in pci.cfg) */
	u16 msix_config, q_msix;
	u8 msix_table[MSIX_NR][16];
	u8 msix_pba;

	/* queue 0, under lock */
	u16 qsize;
	bool qenable;
	u64 qdesc, qavail, qused;
	u8 *desc, *avail, *used;	/* host addresses once enabled */
	u16 last_avail, used_idx;
	unsigned int inflight;

	bool stop;
	unsigned int nr_workers;
	pthread_t workers[NR_WORKERS];
};

static struct disk_opts disk_opts[MAX_DISKS];
static unsigned int nr_disks;
static struct vblk *disks[MAX_DISKS];
static pthread_mutex_t irq_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int irq_users[24];

static u64 dev_features(const struct vblk *b)
{
	u64 f = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (b->o.ro)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD;
	return f;
}

/* ---------------------------------------------------------------------
 * Options
 */

static char *opt_value(const char *tok, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(tok, key, n) || tok[n] != '=')
		return NULL;
	return (char *)tok + n + 1;
}

int disk_parse_option(const char *arg)
{
	struct disk_opts *o;
	char *buf, *tok, *save, *v;
	u64 n;

	if (nr_disks == MAX_DISKS) {
		pr_err("--disk: at most %d disks", MAX_DISKS);
		return -1;
	}
	buf = strdup(arg);
	if (!buf) {
		pr_err("out of memory");
		return -1;
	}
	o = &disk_opts[nr_disks];
	memset(o, 0, sizeof(*o));
	o->sector_size = 512;
	tok = strtok_r(buf, ",", &save);
	if (!tok || buf[0] == ',') {
		pr_err("--disk: no image path in '%s'", arg);
		return -1;
	}
	o->path = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if ((v = opt_value(tok, "format"))) {
			if (!strcmp(v, "raw")) {
				o->format = SHV_DISK_FORMAT_RAW;
			} else if (!strcmp(v, "vhd")) {
				o->format = SHV_DISK_FORMAT_VHD;
			} else {
				pr_err("--disk: format '%s' is not supported (raw, vhd)",
				       v);
				return -1;
			}
		} else if ((v = opt_value(tok, "cipher"))) {
			if (!*v || strlen(v) >= SHV_CRYPT_NAME_LEN) {
				pr_err("--disk: bad cipher '%s'", v);
				return -1;
			}
			o->cipher = v;
		} else if ((v = opt_value(tok, "keyid"))) {
			if (!*v) {
				pr_err("--disk: empty keyid");
				return -1;
			}
			o->keyid = v;
		} else if ((v = opt_value(tok, "keyfile"))) {
			o->keyfile = v;
		} else if ((v = opt_value(tok, "keysize"))) {
			if (parse_u64(v, &n) || !n || n > 1024) {
				pr_err("--disk: bad keysize '%s' (bytes)", v);
				return -1;
			}
			o->key_size = n;
		} else if ((v = opt_value(tok, "sector"))) {
			if (parse_u64(v, &n) || n < 512 || n > 4096 ||
			    (n & (n - 1))) {
				pr_err("--disk: sector size must be 512, 1024, 2048 or 4096, not '%s'",
				       v);
				return -1;
			}
			o->sector_size = n;
		} else if (!strcmp(tok, "ro")) {
			o->ro = true;
		} else {
			pr_err("--disk: unknown option '%s'", tok);
			return -1;
		}
	}
	if (o->cipher && !o->keyid && !o->keyfile) {
		pr_err("--disk %s: cipher needs keyid= or keyfile=", o->path);
		return -1;
	}
	if ((o->keyid || o->keyfile) && !o->cipher) {
		pr_err("--disk %s: a key without cipher=", o->path);
		return -1;
	}
	if (o->format == SHV_DISK_FORMAT_VHD && !o->cipher) {
		pr_err("--disk %s: format=vhd needs cipher= (shv.ko reads VHD containers)",
		       o->path);
		return -1;
	}
	if (o->keyid && o->keyfile) {
		pr_err("--disk %s: keyid= and keyfile= are exclusive", o->path);
		return -1;
	}
	if (o->key_size && !o->keyid) {
		pr_err("--disk %s: keysize= goes with keyid= (a key file has its own size)",
		       o->path);
		return -1;
	}
	nr_disks++;
	return 0;
}

int disk_check_options(const struct accel_ops *accel, bool pc_machine)
{
	unsigned int i;

	if (nr_disks && !pc_machine) {
		pr_err("--disk needs the pc machine (PCI)");
		return -1;
	}
	for (i = 0; i < nr_disks; i++) {
		if (disk_opts[i].cipher && accel != &accel_shv_ops) {
			pr_err("--disk %s: cipher= needs --accel shv (the encrypted data path is in shv.ko); under %s only plain disks work",
			       disk_opts[i].path, accel->name);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Interrupts: INTx, shared between the disks on one GSI
 */

static void set_irq(struct vblk *b, bool level)
{
	if (b->irq_level == level)
		return;
	b->irq_level = level;
	pthread_mutex_lock(&irq_lock);
	if (level)
		irq_users[b->gsi]++;
	else
		irq_users[b->gsi]--;
	vm_irq_line(b->vm, b->gsi, irq_users[b->gsi] > 0);
	pthread_mutex_unlock(&irq_lock);
}

static bool msix_enabled(const struct vblk *b)
{
	return b->pci.cfg[MSIX_CAP + 3] & MSIX_CTRL_ENABLE;
}

/* under b->lock: MSI-X vector @v, or its pending bit while masked */
static void msix_notify(struct vblk *b, u16 v)
{
	const u8 *e;

	if (v >= MSIX_NR)
		return;
	e = b->msix_table[v];
	if ((b->pci.cfg[MSIX_CAP + 3] & MSIX_CTRL_MASKALL) ||
	    (le_get(e + 12, 4) & 1)) {
		b->msix_pba |= 1u << v;
		return;
	}
	b->msix_pba &= ~(1u << v);
	if (b->vm->accel.ops->signal_msi(&b->vm->accel, le_get(e, 8),
					 le_get(e + 8, 4)))
		pr_debug("%s: MSI to 0x%llx failed: %s", b->name,
			 (unsigned long long)le_get(e, 8), strerror(errno));
}

/* under b->lock: a used buffer notification */
static void raise_isr(struct vblk *b)
{
	if (msix_enabled(b)) {
		set_irq(b, false);
		msix_notify(b, b->q_msix);
		return;
	}
	b->isr |= 1;
	/* INTx disable in the command register */
	if (!(b->pci.cfg[PCI_COMMAND + 1] & 0x4))
		set_irq(b, true);
}

/* ---------------------------------------------------------------------
 * The virtqueue
 */

static bool queue_ready(const struct vblk *b)
{
	u8 need = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

	return !b->resetting && b->qenable && (b->status & need) == need &&
	       !(b->status & (VIRTIO_STATUS_NEEDS_RESET |
			      VIRTIO_STATUS_FAILED));
}

static void needs_reset(struct vblk *b, const char *why)
{
	pr_debug("%s: %s: device needs reset", b->name, why);
	b->status |= VIRTIO_STATUS_NEEDS_RESET;
}

static u16 ring_u16(const u8 *p)
{
	return __atomic_load_n((const u16 *)p, __ATOMIC_ACQUIRE);
}

/* under b->lock: the next available head, if any */
static bool take_request(struct vblk *b, u16 *head)
{
	u16 idx, h;

	if (!queue_ready(b))
		return false;
	idx = ring_u16(b->avail + 2);
	if (idx == b->last_avail)
		return false;
	if ((u16)(idx - b->last_avail) > b->qsize) {
		needs_reset(b, "available index too far ahead");
		return false;
	}
	h = ring_u16(b->avail + 4 + 2 * (b->last_avail % b->qsize));
	if (h >= b->qsize) {
		needs_reset(b, "available head out of range");
		return false;
	}
	b->last_avail++;
	*head = h;
	return true;
}

/* under b->lock */
static void push_used(struct vblk *b, u16 head, u32 len)
{
	u8 *e = b->used + 4 + 8 * (b->used_idx % b->qsize);
	u16 flags;

	le_put(e, 4, head);
	le_put(e + 4, 4, len);
	b->used_idx++;
	__atomic_store_n((u16 *)(b->used + 2), b->used_idx, __ATOMIC_RELEASE);
	/* the index is visible before the driver's flags are read */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = ring_u16(b->avail);
	if (!(flags & VRING_AVAIL_F_NO_INTERRUPT))
		raise_isr(b);
}

struct seg {
	u64 gpa;
	u32 len;
	bool write;		/* device-writable */
};

/* A request as the worker sees it, its queue state copied under the lock */
struct req {
	const u8 *desc;
	u16 qsize;
	unsigned int nr;
	struct seg segs[QUEUE_MAX];
};

/* Walk the chain from @head; false if it is malformed */
static bool walk_chain(struct vblk *b, struct req *r, u16 head)
{
	bool seen_write = false;
	u16 i = head;

	r->nr = 0;
	for (;;) {
		u8 d[16];
		u16 flags;

		if (r->nr == r->qsize)
			return false;		/* a loop */
		memcpy(d, r->desc + 16 * i, sizeof(d));
		flags = le_get(d + 12, 2);
		if (flags & VRING_DESC_F_INDIRECT)
			return false;		/* not offered */
		r->segs[r->nr].gpa = le_get(d, 8);
		r->segs[r->nr].len = le_get(d + 8, 4);
		r->segs[r->nr].write = flags & VRING_DESC_F_WRITE;
		if (!gpa_to_hva(&b->vm->mem, r->segs[r->nr].gpa,
				r->segs[r->nr].len))
			return false;
		/* device-readable buffers come first (2.7.4.2) */
		if (r->segs[r->nr].write)
			seen_write = true;
		else if (seen_write)
			return false;
		r->nr++;
		if (!(flags & VRING_DESC_F_NEXT))
			return true;
		i = le_get(d + 14, 2);
		if (i >= r->qsize)
			return false;
	}
}

/* copy @len bytes at byte @off of the readable part of the chain */
static bool chain_read(struct vblk *b, const struct req *r, u64 off,
		       void *out, u32 len)
{
	unsigned int i;
	u8 *o = out;

	for (i = 0; i < r->nr && len && !r->segs[i].write; i++) {
		const struct seg *s = &r->segs[i];
		u32 n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off < len ? s->len - off : len;
		memcpy(o, gpa_to_hva(&b->vm->mem, s->gpa + off, n), n);
		o += n;
		len -= n;
		off = 0;
	}
	return !len;
}

/*
 * The data segments of a request: @write selects the device-writable
 * part (minus the status byte at its end) or the readable one (minus the
 * header at its start).  Returns the number of segments in @out.
 */
static unsigned int data_segs(const struct req *r, bool write,
			      struct seg *out, u64 *total)
{
	unsigned int i, n = 0;
	u64 skip = write ? 0 : BLK_HDR_SIZE;
	u64 last = 0;

	*total = 0;
	for (i = 0; i < r->nr; i++)
		if (r->segs[i].write)
			last = i;
	for (i = 0; i < r->nr; i++) {
		struct seg s = r->segs[i];

		if (s.write != write)
			continue;
		if (!write && skip) {
			u64 k = skip < s.len ? skip : s.len;

			s.gpa += k;
			s.len -= k;
			skip -= k;
		}
		if (write && i == last)
			s.len--;		/* the status byte */
		if (!s.len)
			continue;
		out[n++] = s;
		*total += s.len;
	}
	return n;
}

/* ---------------------------------------------------------------------
 * The two data paths
 */

struct ios_batch {
	struct shv_disk_ios h;
	struct shv_disk_io io[SHV_DISK_MAX_IOS];
};

/* 0 or -errno of the first failed descriptor */
static int crypt_submit(struct vblk *b, struct ios_batch *batch)
{
	int n, ret;

	if (!batch->h.nr)
		return 0;
	batch->h.disk = b->idx;
	batch->h.reserved = 0;
	n = ioctl(b->vm->accel.vm_fd, SHV_DISK_IO, &batch->h);
	if (n < 0) {
		ret = -errno;
	} else if ((u32)n < batch->h.nr) {
		ret = batch->io[n].result;
		if (ret >= 0)
			ret = -EIO;
	} else {
		ret = 0;
	}
	batch->h.nr = 0;
	return ret;
}

static int crypt_add(struct vblk *b, struct ios_batch *batch, u32 op,
		     u64 sector, u32 nr_sectors, u64 gpa)
{
	struct shv_disk_io *io;
	int ret;

	if (batch->h.nr == SHV_DISK_MAX_IOS) {
		ret = crypt_submit(b, batch);
		if (ret)
			return ret;
	}
	io = &batch->io[batch->h.nr++];
	memset(io, 0, sizeof(*io));
	io->op = op;
	io->sector = sector;
	io->nr_sectors = nr_sectors;
	io->gpa = gpa;
	return 0;
}

/* READ or WRITE of @segs from byte @pos of the disk: 0 or -errno */
static int do_rw(struct vblk *b, bool write, const struct seg *segs,
		 unsigned int nr, u64 pos)
{
	u32 ss = b->o.sector_size;
	struct ios_batch batch;
	unsigned int i;
	int ret;

	batch.h.nr = 0;
	for (i = 0; i < nr; i++) {
		u64 gpa = segs[i].gpa, left = segs[i].len;

		if (b->crypt) {
			if (left % ss)
				return -EINVAL;
			while (left) {
				u64 n = left / ss;

				if (n > SHV_DISK_MAX_IO_SECTORS)
					n = SHV_DISK_MAX_IO_SECTORS;
				ret = crypt_add(b, &batch, write ?
						SHV_DISK_OP_WRITE :
						SHV_DISK_OP_READ,
						pos / ss, n, gpa);
				if (ret)
					return ret;
				gpa += n * ss;
				pos += n * ss;
				left -= n * ss;
			}
			continue;
		}
		while (left) {
			u8 *p = gpa_to_hva(&b->vm->mem, gpa, left);
			ssize_t n;

			if (!p)
				return -EFAULT;
			n = write ? pwrite(b->fd, p, left, pos) :
				    pread(b->fd, p, left, pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			gpa += n;
			pos += n;
			left -= n;
		}
	}
	return b->crypt ? crypt_submit(b, &batch) : 0;
}

static int do_flush(struct vblk *b)
{
	struct ios_batch batch;

	if (!b->crypt)
		return fdatasync(b->fd) ? -errno : 0;
	batch.h.nr = 0;
	crypt_add(b, &batch, SHV_DISK_OP_FLUSH, 0, 0, 0);
	return crypt_submit(b, &batch);
}

/* DISCARD of the ranges in the readable data: a virtio-blk status */
static u8 do_discard(struct vblk *b, const struct req *r, u64 len)
{
	u32 ss = b->o.sector_size, i;
	struct ios_batch batch;

	if (b->o.ro)
		return VIRTIO_BLK_S_IOERR;
	if (!len || len % DISCARD_SEG_SIZE ||
	    len / DISCARD_SEG_SIZE > MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	batch.h.nr = 0;
	for (i = 0; i < len / DISCARD_SEG_SIZE; i++) {
		u8 d[DISCARD_SEG_SIZE];
		u64 sector, pos, bytes;
		u32 num, flags;

		if (!chain_read(b, r, BLK_HDR_SIZE + i * DISCARD_SEG_SIZE, d,
				sizeof(d)))
			return VIRTIO_BLK_S_IOERR;
		sector = le_get(d, 8);
		num = le_get(d + 8, 4);
		flags = le_get(d + 12, 4);
		if (flags & ~1u)		/* only "unmap" is defined */
			return VIRTIO_BLK_S_UNSUPP;
		if (num > MAX_DISCARD_SECTORS || sector > b->size >> 9 ||
		    num > (b->size >> 9) - sector)
			return VIRTIO_BLK_S_IOERR;
		pos = sector << 9;
		bytes = (u64)num << 9;
		if (pos % ss || bytes % ss)
			return VIRTIO_BLK_S_IOERR;
		if (!bytes)
			continue;
		if (!b->crypt) {
			if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, pos, bytes))
				return VIRTIO_BLK_S_IOERR;
			continue;
		}
		while (bytes) {
			u64 n = bytes / ss;

			if (n > SHV_DISK_MAX_IO_SECTORS)
				n = SHV_DISK_MAX_IO_SECTORS;
			if (crypt_add(b, &batch, SHV_DISK_OP_DISCARD, pos / ss,
				      n, 0))
				return VIRTIO_BLK_S_IOERR;
			pos += n * ss;
			bytes -= n * ss;
		}
	}
	return crypt_submit(b, &batch) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* Do the request at @head; returns the used length */
static u32 handle_request(struct vblk *b, struct req *r, u16 head)
{
	struct seg data[QUEUE_MAX];
	u64 sector, pos, rlen, wlen;
	unsigned int nr, last;
	u8 hdr[BLK_HDR_SIZE], status;
	u32 type, used_len = 1;
	const struct seg *st;
	int ret;

	if (!walk_chain(b, r, head)) {
		pr_debug("%s: malformed descriptor chain at %u", b->name,
			 head);
		return 0;
	}
	last = r->nr - 1;
	st = &r->segs[last];
	if (!st->write || !st->len) {
		pr_debug("%s: no status byte in the chain at %u", b->name,
			 head);
		return 0;
	}
	if (!chain_read(b, r, 0, hdr, sizeof(hdr))) {
		status = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	type = le_get(hdr, 4);
	sector = le_get(hdr + 8, 8);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		nr = data_segs(r, type == VIRTIO_BLK_T_IN, data, &rlen);
		if (type == VIRTIO_BLK_T_IN)
			used_len = rlen + 1;
		status = VIRTIO_BLK_S_IOERR;
		if (type == VIRTIO_BLK_T_OUT && b->o.ro)
			break;
		if (sector > b->size >> 9)
			break;
		pos = sector << 9;
		if (rlen > b->size - pos || pos % b->o.sector_size ||
		    rlen % b->o.sector_size)
			break;
		ret = do_rw(b, type == VIRTIO_BLK_T_OUT, data, nr, pos);
		if (ret)
			pr_debug("%s: %s at sector %llu: %s", b->name,
				 type ? "write" : "read",
				 (unsigned long long)sector, strerror(-ret));
		status = ret ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = do_flush(b) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };
		u64 done = 0;
		unsigned int i;

		nr = data_segs(r, true, data, &wlen);
		snprintf(id, sizeof(id), "shv-disk%u", b->idx);
		for (i = 0; i < nr && done < sizeof(id); i++) {
			u64 n = sizeof(id) - done;

			if (n > data[i].len)
				n = data[i].len;
			memcpy(gpa_to_hva(&b->vm->mem, data[i].gpa, n),
			       id + done, n);
			done += n;
		}
		used_len = done + 1;
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
		data_segs(r, false, data, &rlen);
		status = do_discard(b, r, rlen);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
out:
	*(u8 *)gpa_to_hva(&b->vm->mem, st->gpa + st->len - 1, 1) = status;
	return used_len;
}

static void *worker(void *arg)
{
	struct vblk *b = arg;
	struct req *r;
	u16 head;
	u32 len;

	r = malloc(sizeof(*r));
	if (!r) {
		pr_err("%s: out of memory", b->name);
		return NULL;
	}
	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->stop && !take_request(b, &head))
			pthread_cond_wait(&b->work, &b->lock);
		if (b->stop)
			break;
		b->inflight++;
		r->desc = b->desc;
		r->qsize = b->qsize;
		pthread_mutex_unlock(&b->lock);
		len = handle_request(b, r, head);
		pthread_mutex_lock(&b->lock);
		push_used(b, head, len);
		if (!--b->inflight)
			pthread_cond_broadcast(&b->idle);
	}
	pthread_mutex_unlock(&b->lock);
	free(r);
	return NULL;
}

/* ---------------------------------------------------------------------
 * BAR0: common configuration, ISR, device configuration, notification
 */

/* under b->lock */
static void device_reset(struct vblk *b)
{
	b->resetting = true;
	while (b->inflight)
		pthread_cond_wait(&b->idle, &b->lock);
	b->resetting = false;
	b->dfselect = b->gfselect = 0;
	b->driver_features = 0;
	b->status = 0;
	b->qsel = 0;
	b->isr = 0;
	set_irq(b, false);
	b->msix_config = b->q_msix = VIRTIO_MSI_NO_VECTOR;
	b->qsize = QUEUE_MAX;
	b->qenable = false;
	b->qdesc = b->qavail = b->qused = 0;
	b->desc = b->avail = b->used = NULL;
	b->last_avail = b->used_idx = 0;
}

/* under b->lock: the queue's rings, checked */
static void queue_enable(struct vblk *b)
{
	struct guest_mem *m = &b->vm->mem;
	u32 n = b->qsize;

	if (!n || n > QUEUE_MAX || (n & (n - 1))) {
		needs_reset(b, "bad queue size");
		return;
	}
	if ((b->qdesc & 15) || (b->qavail & 1) || (b->qused & 3)) {
		needs_reset(b, "misaligned ring");
		return;
	}
	b->desc = gpa_to_hva(m, b->qdesc, 16 * n);
	b->avail = gpa_to_hva(m, b->qavail, 6 + 2 * n);
	b->used = gpa_to_hva(m, b->qused, 6 + 8 * n);
	if (!b->desc || !b->avail || !b->used) {
		needs_reset(b, "ring outside RAM");
		return;
	}
	b->last_avail = b->used_idx = 0;
	b->qenable = true;
	pr_debug("%s: queue of %u at 0x%llx/0x%llx/0x%llx", b->name, n,
		 (unsigned long long)b->qdesc, (unsigned long long)b->qavail,
		 (unsigned long long)b->qused);
}

static void common_image(const struct vblk *b, u8 *img)
{
	u64 df = dev_features(b);

	memset(img, 0, VIRTIO_PCI_COMMON_SIZE);
	le_put(img + VIRTIO_PCI_DFSELECT, 4, b->dfselect);
	le_put(img + VIRTIO_PCI_DF, 4,
	       b->dfselect < 2 ? (u32)(df >> (32 * b->dfselect)) : 0);
	le_put(img + VIRTIO_PCI_GFSELECT, 4, b->gfselect);
	le_put(img + VIRTIO_PCI_GF, 4, b->gfselect < 2 ?
	       (u32)(b->driver_features >> (32 * b->gfselect)) : 0);
	le_put(img + VIRTIO_PCI_MSIX_CONFIG, 2, b->msix_config);
	le_put(img + VIRTIO_PCI_NUM_QUEUES, 2, 1);
	img[VIRTIO_PCI_STATUS] = b->status;
	le_put(img + VIRTIO_PCI_Q_SELECT, 2, b->qsel);
	le_put(img + VIRTIO_PCI_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	if (b->qsel)
		return;		/* no such queue: size 0 */
	le_put(img + VIRTIO_PCI_Q_MSIX, 2, b->q_msix);
	le_put(img + VIRTIO_PCI_Q_SIZE, 2, b->qsize);
	le_put(img + VIRTIO_PCI_Q_ENABLE, 2, b->qenable);
	le_put(img + VIRTIO_PCI_Q_DESC, 8, b->qdesc);
	le_put(img + VIRTIO_PCI_Q_AVAIL, 8, b->qavail);
	le_put(img + VIRTIO_PCI_Q_USED, 8, b->qused);
}

static void write_status(struct vblk *b, u8 v)
{
	u64 df = dev_features(b);

	if (!v) {
		device_reset(b);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(b->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((b->driver_features & ~df) ||
	     !(b->driver_features & 1ULL << VIRTIO_F_VERSION_1))) {
		pr_debug("%s: features 0x%llx refused", b->name,
			 (unsigned long long)b->driver_features);
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	b->status = v | (b->status & VIRTIO_STATUS_NEEDS_RESET);
	if (queue_ready(b))
		pthread_cond_broadcast(&b->work);
}

/* does the write [off, off + len) touch the field [f, f + n)? */
static bool touches(u64 off, u32 len, u32 f, u32 n)
{
	return off < f + n && f < off + len;
}

static void common_write(struct vblk *b, u64 off, const u8 *data, u32 len)
{
	u8 img[VIRTIO_PCI_COMMON_SIZE];
	bool q0 = !b->qsel, qw;

	common_image(b, img);
	if (off >= sizeof(img))
		return;
	if (len > sizeof(img) - off)
		len = sizeof(img) - off;
	memcpy(img + off, data, len);
	if (touches(off, len, VIRTIO_PCI_DFSELECT, 4))
		b->dfselect = le_get(img + VIRTIO_PCI_DFSELECT, 4);
	if (touches(off, len, VIRTIO_PCI_GFSELECT, 4))
		b->gfselect = le_get(img + VIRTIO_PCI_GFSELECT, 4);
	if (touches(off, len, VIRTIO_PCI_GF, 4) && b->gfselect < 2 &&
	    !(b->status & VIRTIO_STATUS_FEATURES_OK)) {
		u32 sh = 32 * b->gfselect;

		b->driver_features = (b->driver_features &
				      ~(0xffffffffULL << sh)) |
				     le_get(img + VIRTIO_PCI_GF, 4) << sh;
	}
	if (touches(off, len, VIRTIO_PCI_Q_SELECT, 2))
		b->qsel = le_get(img + VIRTIO_PCI_Q_SELECT, 2);
	/* a vector beyond the table does not map: reads NO_VECTOR */
	if (touches(off, len, VIRTIO_PCI_MSIX_CONFIG, 2)) {
		b->msix_config = le_get(img + VIRTIO_PCI_MSIX_CONFIG, 2);
		if (b->msix_config >= MSIX_NR)
			b->msix_config = VIRTIO_MSI_NO_VECTOR;
	}
	if (q0 && touches(off, len, VIRTIO_PCI_Q_MSIX, 2)) {
		b->q_msix = le_get(img + VIRTIO_PCI_Q_MSIX, 2);
		if (b->q_msix >= MSIX_NR)
			b->q_msix = VIRTIO_MSI_NO_VECTOR;
	}
	/* queue fields are writable while the queue is off */
	qw = q0 && !b->qenable;
	if (qw && touches(off, len, VIRTIO_PCI_Q_SIZE, 2))
		b->qsize = le_get(img + VIRTIO_PCI_Q_SIZE, 2);
	if (qw && touches(off, len, VIRTIO_PCI_Q_DESC, 8))
		b->qdesc = le_get(img + VIRTIO_PCI_Q_DESC, 8);
	if (qw && touches(off, len, VIRTIO_PCI_Q_AVAIL, 8))
		b->qavail = le_get(img + VIRTIO_PCI_Q_AVAIL, 8);
	if (qw && touches(off, len, VIRTIO_PCI_Q_USED, 8))
		b->qused = le_get(img + VIRTIO_PCI_Q_USED, 8);
	if (qw && touches(off, len, VIRTIO_PCI_Q_ENABLE, 2) &&
	    le_get(img + VIRTIO_PCI_Q_ENABLE, 2) == 1)
		queue_enable(b);
	if (touches(off, len, VIRTIO_PCI_STATUS, 1))
		write_status(b, img[VIRTIO_PCI_STATUS]);
}

static void devcfg_image(const struct vblk *b, u8 *img)
{
	u32 ss = b->o.sector_size;

	memset(img, 0, VIRTIO_BLK_CFG_SIZE);
	le_put(img + VIRTIO_BLK_CFG_CAPACITY, 8, b->size >> 9);
	le_put(img + VIRTIO_BLK_CFG_SEG_MAX, 4, SEG_MAX);
	le_put(img + VIRTIO_BLK_CFG_BLK_SIZE, 4, ss);
	le_put(img + VIRTIO_BLK_CFG_NUM_QUEUES, 2, 1);
	if (b->o.ro)
		return;
	le_put(img + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4,
	       MAX_DISCARD_SECTORS);
	le_put(img + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4, MAX_DISCARD_SEG);
	le_put(img + VIRTIO_BLK_CFG_DISCARD_ALIGN, 4, ss >> 9);
}

static void bar_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct vblk *b = opaque;
	u8 img[VIRTIO_BLK_CFG_SIZE > VIRTIO_PCI_COMMON_SIZE ?
	       VIRTIO_BLK_CFG_SIZE : VIRTIO_PCI_COMMON_SIZE];
	u32 i, size = 0;

	pthread_mutex_lock(&b->lock);
	if (!is_write)
		memset(data, 0, len);
	if (off < ISR_OFF) {
		if (is_write) {
			common_write(b, off, data, len);
			goto out;
		}
		common_image(b, img);
		size = VIRTIO_PCI_COMMON_SIZE;
	} else if (off == ISR_OFF) {
		if (!is_write) {
			/* reading acknowledges */
			data[0] = b->isr;
			b->isr = 0;
			set_irq(b, false);
		}
		goto out;
	} else if (off >= DEVCFG_OFF && off < NOTIFY_OFF) {
		if (is_write)
			goto out;	/* read-only (no CONFIG_WCE) */
		devcfg_image(b, img);
		off -= DEVCFG_OFF;
		size = VIRTIO_BLK_CFG_SIZE;
	} else if (off >= MSIX_TABLE_OFF && off < MSIX_PBA_OFF) {
		off -= MSIX_TABLE_OFF;
		for (i = 0; i < len; i++) {
			u8 *t = b->msix_table[0] + off + i;

			if (off + i >= sizeof(b->msix_table))
				break;
			if (is_write)
				*t = data[i];
			else
				data[i] = *t;
		}
		/* an entry unmasked with its message pending: send it */
		for (i = 0; is_write && i < MSIX_NR; i++)
			if ((b->msix_pba & 1u << i) &&
			    !(le_get(b->msix_table[i] + 12, 4) & 1))
				msix_notify(b, i);
		goto out;
	} else if (off >= MSIX_PBA_OFF) {
		if (!is_write && off == MSIX_PBA_OFF)
			data[0] = b->msix_pba;
		goto out;
	} else if (off >= NOTIFY_OFF) {
		/* queue 0's notification: any value, any width */
		if (is_write && off - NOTIFY_OFF < NOTIFY_MULT &&
		    queue_ready(b))
			pthread_cond_broadcast(&b->work);
		goto out;
	} else {
		goto out;
	}
	for (i = 0; i < len; i++)
		if (off + i < size)
			data[i] = img[off + i];
out:
	pthread_mutex_unlock(&b->lock);
}

/* ---------------------------------------------------------------------
 * Setup
 */

static u8 add_cap(struct vblk *b, u8 at, u8 next, u8 type, u32 off,
		  u32 len)
{
	u8 *c = b->pci.cfg + at;
	u8 clen = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;

	c[0] = 0x09;		/* vendor-specific */
	c[1] = next;
	c[2] = clen;
	c[3] = type;
	c[4] = 0;		/* BAR0 */
	le_put(c + 8, 4, off);
	le_put(c + 12, 4, len);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		le_put(c + 16, 4, NOTIFY_MULT);
	return at;
}

static int key_attach(struct vblk *b)
{
	struct shv_disk_attach a;
	u8 *key = NULL;
	size_t klen = 0;
	int ret;

	memset(&a, 0, sizeof(a));
	a.disk = b->idx;
	a.fd = b->fd;
	a.flags = b->o.ro ? SHV_DISK_READONLY : 0;
	a.sector_size = b->o.sector_size;
	a.format = b->o.format;
	snprintf(a.cipher, sizeof(a.cipher), "%s", b->o.cipher);
	if (b->o.keyid) {
		a.flags |= SHV_DISK_KEY_KEYRING;
		a.key = (u64)(uintptr_t)b->o.keyid;
		a.key_size = b->o.key_size ? b->o.key_size :
			     !strncmp(b->o.cipher, "aes-xts", 7) ? 64 : 32;
	} else {
		if (read_whole_file(b->o.keyfile, &key, &klen))
			return -1;
		a.key = (u64)(uintptr_t)key;
		a.key_size = klen;
	}
	ret = ioctl(b->vm->accel.vm_fd, SHV_DISK_ATTACH, &a);
	if (key) {
		explicit_bzero(key, klen);
		free(key);
	}
	if (ret) {
		const char *why = strerror(errno);

		switch (errno) {
		case ENOENT:
			why = "no such cipher plug-in (is its module loaded?)";
			break;
		case EOPNOTSUPP:
			why = "the cipher does not support this key or sector size";
			break;
		case EKEYREJECTED:
			why = "the cipher rejected the key";
			break;
		}
		pr_err("--disk %s: cipher %s, %u-byte key: %s", b->o.path,
		       b->o.cipher, a.key_size, why);
		return -1;
	}
	b->crypt = true;
	/* the virtual disk: less than the file with metadata or a VHD */
	b->size = a.nr_sectors * b->o.sector_size;
	pr_debug("%s: %s, %s, %llu sectors of %u bytes through shv.ko",
		 b->name, b->o.path, b->o.cipher,
		 (unsigned long long)a.nr_sectors, b->o.sector_size);
	return 0;
}

static int vblk_setup(struct vblk *b, struct vm *vm)
{
	struct pci_device *d = &b->pci;
	struct stat st;
	unsigned int i;

	b->vm = vm;
	b->fd = open(b->o.path, (b->o.ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0) {
		pr_errno("--disk %s", b->o.path);
		return -1;
	}
	if (fstat(b->fd, &st)) {
		pr_errno("--disk %s: stat", b->o.path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("--disk %s: not a regular file", b->o.path);
		return -1;
	}
	if (b->o.format == SHV_DISK_FORMAT_RAW &&
	    (!st.st_size || st.st_size % b->o.sector_size)) {
		pr_err("--disk %s: size %lld is not a nonzero multiple of the %u-byte sector",
		       b->o.path, (long long)st.st_size, b->o.sector_size);
		return -1;
	}
	b->size = st.st_size;
	if (b->o.cipher && key_attach(b))
		return -1;

	pci_init_header(d, VIRTIO_PCI_VENDOR,
			VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_BLOCK, 0x010000, 1,
			false);
	le_put(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, 2, VIRTIO_PCI_VENDOR);
	le_put(d->cfg + PCI_SUBSYSTEM_ID, 2, 0x40);
	d->cfg[PCI_STATUS] |= 0x10;		/* capability list */
	d->cfg[0x34] = add_cap(b, 0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG,
			       COMMON_OFF, 0x1000);
	add_cap(b, 0x50, 0x64, VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFF,
		MSIX_TABLE_OFF - NOTIFY_OFF);
	add_cap(b, 0x64, 0x74, VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, 0x1000);
	add_cap(b, 0x74, MSIX_CAP, VIRTIO_PCI_CAP_DEVICE_CFG, DEVCFG_OFF,
		0x1000);
	/* MSI-X: 2 entries, table and PBA in BAR0; enable, mask-all writable */
	d->cfg[MSIX_CAP] = 0x11;
	d->cfg[MSIX_CAP + 1] = 0;
	le_put(d->cfg + MSIX_CAP + 2, 2, MSIX_NR - 1);
	le_put(d->cfg + MSIX_CAP + 4, 4, MSIX_TABLE_OFF);
	le_put(d->cfg + MSIX_CAP + 8, 4, MSIX_PBA_OFF);
	d->wmask[MSIX_CAP + 3] = MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL;
	for (i = 0; i < MSIX_NR; i++)
		b->msix_table[i][12] = 1;	/* masked */
	b->gsi = 10 + (b->idx & 1);
	d->cfg[PCI_INTERRUPT_LINE] = b->gsi;
	d->cfg[PCI_INTERRUPT_PIN] = 1;
	d->name = b->name;
	d->devfn = (DISK_SLOT0 + b->idx) << 3;
	d->bars[0] = (struct pci_bar) { BAR_SIZE, false, bar_io, b };
	return pci_add(d);
}

static void vblk_teardown(struct device *dev);

static int vblk_init(struct device *dev, struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < nr_disks; i++) {
		struct vblk *b = calloc(1, sizeof(*b));

		if (!b) {
			pr_err("out of memory");
			goto err;
		}
		disks[i] = b;
		b->o = disk_opts[i];
		b->idx = i;
		b->fd = -1;
		snprintf(b->name, sizeof(b->name), "virtio-blk%u", i);
		pthread_mutex_init(&b->lock, NULL);
		pthread_cond_init(&b->work, NULL);
		pthread_cond_init(&b->idle, NULL);
		if (vblk_setup(b, vm))
			goto err;
	}
	return 0;
err:
	vblk_teardown(dev);
	return -1;
}

static void vblk_reset(struct device *dev)
{
	unsigned int i;

	(void)dev;
	for (i = 0; i < nr_disks; i++) {
		if (!disks[i])
			continue;
		pthread_mutex_lock(&disks[i]->lock);
		device_reset(disks[i]);
		pthread_mutex_unlock(&disks[i]->lock);
	}
}

static void vblk_power_up(struct device *dev)
{
	unsigned int i, j;

	(void)dev;
	for (i = 0; i < nr_disks; i++) {
		struct vblk *b = disks[i];

		for (j = 0; j < NR_WORKERS; j++) {
			if (pthread_create(&b->workers[j], NULL, worker, b)) {
				pr_warn("%s: only %u I/O threads", b->name, j);
				break;
			}
			b->nr_workers++;
		}
	}
}

static void vblk_power_down(struct device *dev)
{
	unsigned int i, j;

	(void)dev;
	for (i = 0; i < nr_disks; i++) {
		struct vblk *b = disks[i];

		if (!b)
			continue;
		pthread_mutex_lock(&b->lock);
		b->stop = true;
		pthread_cond_broadcast(&b->work);
		pthread_mutex_unlock(&b->lock);
		for (j = 0; j < b->nr_workers; j++)
			pthread_join(b->workers[j], NULL);
		b->nr_workers = 0;
	}
}

static void vblk_teardown(struct device *dev)
{
	unsigned int i;

	vblk_power_down(dev);
	for (i = 0; i < nr_disks; i++) {
		struct vblk *b = disks[i];

		if (!b)
			continue;
		if (b->crypt &&
		    ioctl(b->vm->accel.vm_fd, SHV_DISK_DETACH, b->idx))
			pr_errno("%s: detach", b->name);
		if (b->fd >= 0)
			close(b->fd);
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->work);
		pthread_cond_destroy(&b->idle);
		free(b);
		disks[i] = NULL;
	}
}

static struct device vblk_dev = {
	.name		= "virtio-blk",
	.machines	= DEV_MACHINE_PC,
	.init		= vblk_init,
	.reset		= vblk_reset,
	.power_up	= vblk_power_up,
	.power_down	= vblk_power_down,
	.teardown	= vblk_teardown,
};
DEVICE_REGISTER(vblk_dev);
