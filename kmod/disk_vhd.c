// SPDX-License-Identifier: GPL-2.0
/*
 * VHD containers: Microsoft's Virtual Hard Disk Image Format
 * Specification 1.0, fixed (type 2) and dynamic (type 3) disks.  The
 * footer, the dynamic header and the block allocation table (BAT) are
 * checked strictly at attach; a dynamic disk's BAT is kept in memory,
 * blocks are allocated at the end of the file and their BAT entries
 * written at the next flush, after the blocks are durable.  Only the
 * data sectors are the disk layer's (crypt.c): everything here is
 * plaintext.  Documentation/crypt.rst, "VHD images".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/log2.h>
#include <linux/bitmap.h>
#include <linux/bits.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <asm/unaligned.h>

#include "disk_vhd.h"

#define VHD_SECTOR		512
#define VHD_FOOTER_SIZE		512
#define VHD_DYNHDR_SIZE		1024
#define VHD_VERSION		0x00010000
#define VHD_TYPE_FIXED		2
#define VHD_TYPE_DYNAMIC	3
#define VHD_BAT_UNUSED		0xffffffffu
#define VHD_MAX_BLOCK_SIZE	SZ_256M
#define VHD_MAX_ENTRIES		BIT(22)

/* footer fields (byte offsets) */
#define VF_COOKIE		0
#define VF_VERSION		12
#define VF_DATA_OFFSET		16
#define VF_CURRENT_SIZE		48
#define VF_DISK_TYPE		60
#define VF_CHECKSUM		64

/* dynamic header fields */
#define VD_COOKIE		0
#define VD_TABLE_OFFSET		16
#define VD_VERSION		24
#define VD_MAX_ENTRIES		28
#define VD_BLOCK_SIZE		32
#define VD_CHECKSUM		36

struct shv_vhd {
	struct file *file;
	u8 footer[VHD_FOOTER_SIZE];
	u64 size;		/* Current Size */
	unsigned int block_shift;
	u32 bitmap_bytes;	/* the sector bitmap, 512-byte multiple */
	u32 entries;		/* Max Table Entries */
	u64 bat_pos;		/* Table Offset */
	__be32 *bat;		/* as in the file */
	unsigned long *dirty;	/* BAT sectors to write at the next flush */
	loff_t next;		/* where the next block goes */
};

/* one's complement of the byte sum, the checksum field taken as 0 */
static u32 vhd_checksum(const u8 *buf, unsigned int len, unsigned int csum_off)
{
	u32 sum = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += buf[i];
	return ~sum;
}

static int vhd_read(struct file *file, void *buf, size_t len, loff_t pos)
{
	ssize_t r = kernel_read(file, buf, len, &pos);

	if (r < 0)
		return r;
	return r == len ? 0 : -EINVAL;	/* truncated */
}

static int vhd_write(struct file *file, const void *buf, size_t len,
		     loff_t pos)
{
	ssize_t r = kernel_write(file, buf, len, &pos);

	if (r < 0)
		return r;
	return r == len ? 0 : -EIO;
}

static bool vhd_footer_ok(const u8 *f)
{
	return !memcmp(f + VF_COOKIE, "conectix", 8) &&
	       get_unaligned_be32(f + VF_CHECKSUM) ==
	       vhd_checksum(f, VHD_FOOTER_SIZE, VF_CHECKSUM);
}

static int vhd_open_dynamic(struct shv_vhd *v, unsigned int sector_size,
			    loff_t fsize, loff_t limit)
{
	u64 hdr_pos = get_unaligned_be64(v->footer + VF_DATA_OFFSET);
	u64 bat_end, meta_end, next;
	u32 block_size, i, used;
	u8 *h;
	int r;

	/* the header after the footer copy, inside the file */
	if (hdr_pos < VHD_FOOTER_SIZE || hdr_pos > fsize ||
	    fsize - hdr_pos < VHD_DYNHDR_SIZE)
		return -EINVAL;
	h = kmalloc(VHD_DYNHDR_SIZE, GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	r = vhd_read(v->file, h, VHD_DYNHDR_SIZE, hdr_pos);
	if (r)
		goto out;
	r = -EINVAL;
	if (memcmp(h + VD_COOKIE, "cxsparse", 8) ||
	    get_unaligned_be32(h + VD_CHECKSUM) !=
	    vhd_checksum(h, VHD_DYNHDR_SIZE, VD_CHECKSUM) ||
	    get_unaligned_be32(h + VD_VERSION) != VHD_VERSION)
		goto out;
	block_size = get_unaligned_be32(h + VD_BLOCK_SIZE);
	if (!is_power_of_2(block_size) || block_size < VHD_SECTOR ||
	    block_size > VHD_MAX_BLOCK_SIZE || block_size % sector_size)
		goto out;
	v->block_shift = ilog2(block_size);
	v->entries = get_unaligned_be32(h + VD_MAX_ENTRIES);
	used = DIV_ROUND_UP_ULL(v->size, block_size);
	if (v->entries < used || v->entries > VHD_MAX_ENTRIES)
		goto out;
	/* one bit per 512-byte sector, padded to a sector */
	v->bitmap_bytes = ALIGN(DIV_ROUND_UP(block_size / VHD_SECTOR, 8),
				VHD_SECTOR);

	/* the BAT: after the footer copy, clear of the header, in the file */
	v->bat_pos = get_unaligned_be64(h + VD_TABLE_OFFSET);
	bat_end = v->bat_pos + (u64)v->entries * 4;
	if (v->bat_pos < VHD_FOOTER_SIZE || v->bat_pos > fsize ||
	    bat_end > fsize ||
	    (v->bat_pos < hdr_pos + VHD_DYNHDR_SIZE && bat_end > hdr_pos))
		goto out;

	r = -ENOMEM;
	v->bat = kvmalloc_array(v->entries, 4, GFP_KERNEL_ACCOUNT);
	v->dirty = bitmap_zalloc(DIV_ROUND_UP(v->entries * 4, VHD_SECTOR),
				 GFP_KERNEL_ACCOUNT);
	if (!v->bat || !v->dirty)
		goto out;
	r = vhd_read(v->file, v->bat, (size_t)v->entries * 4, v->bat_pos);
	if (r)
		goto out;

	/* every allocated block after the metadata and inside the file */
	r = -EINVAL;
	meta_end = max(bat_end, hdr_pos + VHD_DYNHDR_SIZE);
	next = ALIGN(meta_end, VHD_SECTOR);
	for (i = 0; i < v->entries; i++) {
		u32 e = be32_to_cpu(v->bat[i]);
		u64 start = (u64)e * VHD_SECTOR;
		u64 end = start + v->bitmap_bytes + block_size;

		if (e == VHD_BAT_UNUSED)
			continue;
		if (start < meta_end || end > limit)
			goto out;
		next = max(next, end);
	}
	v->next = next;
	r = 0;
out:
	kfree(h);
	return r;
}

int shv_vhd_open(struct file *file, unsigned int sector_size, u64 *size,
		 struct shv_vhd **vhdp)
{
	loff_t fsize = i_size_read(file_inode(file)), limit;
	struct shv_vhd *v;
	u32 type;
	int r;

	if (fsize < VHD_FOOTER_SIZE)
		return -EINVAL;
	v = kzalloc(sizeof(*v), GFP_KERNEL_ACCOUNT);
	if (!v)
		return -ENOMEM;
	v->file = file;

	r = vhd_read(file, v->footer, VHD_FOOTER_SIZE, fsize - VHD_FOOTER_SIZE);
	if (r)
		goto err;
	limit = fsize - VHD_FOOTER_SIZE;
	if (!vhd_footer_ok(v->footer)) {
		/*
		 * A dynamic disk keeps a copy at 0: a crash while a block
		 * was appended may have left the end without a footer.
		 */
		r = -EINVAL;
		if (fsize < 2 * VHD_FOOTER_SIZE)
			goto err;
		r = vhd_read(file, v->footer, VHD_FOOTER_SIZE, 0);
		if (r)
			goto err;
		r = -EINVAL;
		if (!vhd_footer_ok(v->footer) ||
		    get_unaligned_be32(v->footer + VF_DISK_TYPE) !=
		    VHD_TYPE_DYNAMIC)
			goto err;
		limit = fsize;
	}
	r = -EINVAL;
	if (get_unaligned_be32(v->footer + VF_VERSION) != VHD_VERSION)
		goto err;
	v->size = get_unaligned_be64(v->footer + VF_CURRENT_SIZE);
	if (!v->size || v->size % sector_size)
		goto err;
	type = get_unaligned_be32(v->footer + VF_DISK_TYPE);
	if (type == VHD_TYPE_FIXED) {
		/* Data Offset is unused (0xFFFFFFFF, or 64 bits of ones) */
		if (v->size != fsize - VHD_FOOTER_SIZE)
			goto err;
		*size = v->size;
		*vhdp = NULL;
		kfree(v);
		return 0;
	}
	if (type != VHD_TYPE_DYNAMIC)
		goto err;
	r = vhd_open_dynamic(v, sector_size, fsize, limit);
	if (r)
		goto err;
	*size = v->size;
	*vhdp = v;
	return 0;
err:
	shv_vhd_free(v);
	return r;
}

void shv_vhd_free(struct shv_vhd *v)
{
	if (!v)
		return;
	kvfree(v->bat);
	bitmap_free(v->dirty);
	kfree(v);
}

loff_t shv_vhd_map(struct shv_vhd *v, u64 pos, u64 *len)
{
	u64 bsize = 1ull << v->block_shift, off = pos & (bsize - 1);
	u32 e = be32_to_cpu(v->bat[pos >> v->block_shift]);

	*len = min(*len, bsize - off);
	if (e == VHD_BAT_UNUSED)
		return SHV_VHD_UNALLOCATED;
	return (loff_t)e * VHD_SECTOR + v->bitmap_bytes + off;
}

int shv_vhd_alloc(struct shv_vhd *v, u64 pos, shv_vhd_fill_t fill,
		  void *arg)
{
	u64 bsize = 1ull << v->block_shift, b = pos >> v->block_shift;
	loff_t start = v->next, data = start + v->bitmap_bytes;
	void *bitmap;
	int r;

	if (start / VHD_SECTOR >= VHD_BAT_UNUSED)
		return -ENOSPC;
	/* a footer at the new end first, then the bitmap over the old one */
	r = vhd_write(v->file, v->footer, VHD_FOOTER_SIZE, data + bsize);
	if (r)
		return r;
	bitmap = kmalloc(v->bitmap_bytes, GFP_KERNEL);
	if (!bitmap)
		return -ENOMEM;
	memset(bitmap, 0xff, v->bitmap_bytes);
	r = vhd_write(v->file, bitmap, v->bitmap_bytes, start);
	kfree(bitmap);
	if (r)
		return r;
	r = fill(arg, b << v->block_shift, data, bsize);
	if (r)
		return r;
	v->bat[b] = cpu_to_be32(start / VHD_SECTOR);
	set_bit(b * 4 / VHD_SECTOR, v->dirty);
	v->next = data + bsize;
	return 0;
}

int shv_vhd_flush(struct shv_vhd *v)
{
	unsigned int nr = DIV_ROUND_UP(v->entries * 4, VHD_SECTOR), i;
	size_t bat_bytes = (size_t)v->entries * 4;
	int r;

	r = vfs_fsync(v->file, 1);
	if (r || bitmap_empty(v->dirty, nr))
		return r;
	/* the blocks are durable: now the entries that point to them */
	for_each_set_bit(i, v->dirty, nr) {
		size_t off = (size_t)i * VHD_SECTOR;

		r = vhd_write(v->file, (u8 *)v->bat + off,
			      min_t(size_t, VHD_SECTOR, bat_bytes - off),
			      v->bat_pos + off);
		if (r)
			return r;
		clear_bit(i, v->dirty);
	}
	return vfs_fsync(v->file, 1);
}
