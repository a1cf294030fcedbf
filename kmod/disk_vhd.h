/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VHD containers for shv's encrypted disks (disk_vhd.c): the footer,
 * dynamic header and block allocation table of a Microsoft VHD file, and
 * the mapping of the virtual disk onto the file.  Documentation/crypt.rst.
 */
#ifndef SHV_DISK_VHD_H
#define SHV_DISK_VHD_H

#include <linux/types.h>
#include <linux/fs.h>

struct shv_vhd;

/* shv_vhd_map(): the virtual range is in a block not allocated */
#define SHV_VHD_UNALLOCATED	((loff_t)-1)

/*
 * Check the VHD in file for sector_size-byte sectors; *size is set to its
 * virtual disk size in bytes.  A fixed disk needs no state: *vhdp is set
 * to NULL (its virtual byte x is file byte x).  A dynamic disk's BAT is
 * read into a new struct shv_vhd.  -EINVAL for anything corrupt.
 */
int shv_vhd_open(struct file *file, unsigned int sector_size, u64 *size,
		 struct shv_vhd **vhdp);
void shv_vhd_free(struct shv_vhd *v);

/*
 * The file position of virtual byte pos, or SHV_VHD_UNALLOCATED; *len is
 * cut down to what stays in pos's block (contiguous in the file).
 */
loff_t shv_vhd_map(struct shv_vhd *v, u64 pos, u64 *len);

/*
 * Called by shv_vhd_alloc() for a block about to be published: make the
 * block's data at file position fpos (vstart is its first virtual byte,
 * len its size) read as zeros, except what the caller writes next.
 */
typedef int (*shv_vhd_fill_t)(void *arg, u64 vstart, loff_t fpos, u64 len);

/*
 * Allocate the block holding virtual byte pos at the end of the file:
 * the footer after it, its bitmap, fill(), then the BAT entry in memory,
 * written to the file by shv_vhd_flush().  The caller excludes all other
 * I/O of the disk.
 */
int shv_vhd_alloc(struct shv_vhd *v, u64 pos, shv_vhd_fill_t fill,
		  void *arg);

/* Sync the file, then write the BAT entries changed since and sync. */
int shv_vhd_flush(struct shv_vhd *v);

#endif /* SHV_DISK_VHD_H */
