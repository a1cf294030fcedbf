// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: --kernel bzImage: the Linux/x86 boot protocol (the kernel's
 * Documentation/arch/x86/boot.rst), 32-bit entry, as QEMU's -kernel and
 * kvmtool do it without a BIOS.
 *
 * The image is a bzImage with protocol 2.06 or later ("HdrS" at 0x202).
 * Its protected-mode part (after the (setup_sects + 1) * 512 bytes of
 * real-mode setup code, which does not run) is loaded at 1 MiB, or at the
 * kernel's pref_address when it is not relocatable.  The boot vCPU enters
 * code32_start in flat 32-bit protected mode, paging and interrupts off,
 * ESI = the boot_params ("zero page").
 *
 * Runner-owned memory besides the GDT (see cpu_mode.h):
 *   0x10000-0x10fff  boot_params: the setup header copied from the image
 *                    and filled in, the e820 map
 *   0x20000-...      the command line (at most cmdline_size bytes)
 *   the initrd       the highest page-aligned place below both the end of
 *                    RAM and the kernel's initrd_addr_max
 * The e820 map is the multiboot one: RAM below the EBDA, the EBDA and
 * BIOS area reserved, RAM from 1 MiB to the end of guest RAM.  The kernel
 * finds the ACPI tables of the PC machine by scanning the BIOS area.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define BP_ADDR			0x10000ULL
#define BP_SIZE			0x1000ULL
#define CMDLINE_ADDR		0x20000ULL
#define CMDLINE_AREA		0x10000ULL
#define KERNEL_LOAD_ADDR	0x100000ULL
#define LOW_RAM_END		0x9fc00ULL
#define PAGE_ALIGN_DOWN(x)	((x) & ~0xfffULL)

/* offsets in boot_params (and, from 0x1f1, in the image) */
#define BP_E820_ENTRIES		0x1e8
#define BP_SETUP_SECTS		0x1f1
#define BP_BOOT_FLAG		0x1fe
#define BP_JUMP			0x200
#define BP_HEADER		0x202
#define BP_VERSION		0x206
#define BP_TYPE_OF_LOADER	0x210
#define BP_LOADFLAGS		0x211
#define BP_CODE32_START		0x214
#define BP_RAMDISK_IMAGE	0x218
#define BP_RAMDISK_SIZE		0x21c
#define BP_HEAP_END_PTR		0x224
#define BP_CMD_LINE_PTR		0x228
#define BP_INITRD_ADDR_MAX	0x22c
#define BP_RELOCATABLE		0x234
#define BP_CMDLINE_SIZE		0x238
#define BP_PREF_ADDRESS		0x258
#define BP_INIT_SIZE		0x260
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128

#define HDRS_MAGIC		0x53726448u	/* "HdrS" */
#define BOOT_FLAG_MAGIC		0xaa55
#define MIN_PROTOCOL		0x0206
#define LOADED_HIGH		(1u << 0)
#define KEEP_SEGMENTS		(1u << 6)
#define CAN_USE_HEAP		(1u << 7)
#define LOADER_UNDEFINED	0xff

#define E820_RAM		1
#define E820_RESERVED		2

static u16 get16(const u8 *p, size_t off)
{
	return p[off] | p[off + 1] << 8;
}

static u32 get32(const u8 *p, size_t off)
{
	return get16(p, off) | (u32)get16(p, off + 2) << 16;
}

static void put16(u8 *p, size_t off, u16 v)
{
	p[off] = v;
	p[off + 1] = v >> 8;
}

static void put32(u8 *p, size_t off, u32 v)
{
	put16(p, off, v);
	put16(p, off + 2, v >> 16);
}

static void put64(u8 *p, size_t off, u64 v)
{
	put32(p, off, v);
	put32(p, off + 4, v >> 32);
}

static bool is_bzimage(const u8 *buf, size_t len)
{
	return len >= BP_HEADER + 4 && get32(buf, BP_HEADER) == HDRS_MAGIC &&
	       get16(buf, BP_BOOT_FLAG) == BOOT_FLAG_MAGIC;
}

bool loader_is_linux(const char *path)
{
	u8 head[BP_HEADER + 4];
	size_t n = 0;
	FILE *f = fopen(path, "rb");

	if (f) {
		n = fread(head, 1, sizeof(head), f);
		fclose(f);
	}
	return is_bzimage(head, n);
}

static void add_e820(u8 *bp, u64 addr, u64 size, u32 type)
{
	unsigned int n = bp[BP_E820_ENTRIES];
	size_t off = BP_E820_TABLE + n * 20;

	put64(bp, off, addr);
	put64(bp, off + 8, size);
	put32(bp, off + 16, type);
	bp[BP_E820_ENTRIES] = n + 1;
}

static int load_initrd(struct guest_mem *m, const struct boot_opts *o,
		       u8 *bp, u64 kernel_end)
{
	u64 max = get32(bp, BP_INITRD_ADDR_MAX), at;
	size_t len;
	u8 *buf;
	int ret = -1;

	if (o->nr_modules > 1) {
		pr_err("%s: a Linux kernel takes one --initrd file",
		       o->kernel);
		return -1;
	}
	/* the file name up to the first space: no arguments for a ramdisk */
	{
		char path[4096];
		const char *sp = strchr(o->modules[0], ' ');
		size_t n = sp ? (size_t)(sp - o->modules[0]) :
				strlen(o->modules[0]);

		if (n >= sizeof(path)) {
			pr_err("--initrd: file name too long");
			return -1;
		}
		memcpy(path, o->modules[0], n);
		path[n] = 0;
		if (read_whole_file(path, &buf, &len))
			return -1;
	}
	if (!max)
		max = 0x37ffffff;	/* protocol < 2.03 */
	if (max >= m->size)
		max = m->size - 1;
	if (len > max + 1) {
		pr_err("%s: initrd of %zu bytes does not fit below 0x%llx",
		       o->modules[0], len, (unsigned long long)max);
		goto out;
	}
	at = PAGE_ALIGN_DOWN(max + 1 - len);
	if (at < kernel_end) {
		pr_err("%s: initrd of %zu bytes does not fit in guest RAM after the kernel",
		       o->modules[0], len);
		goto out;
	}
	if (guest_mem_claim(m, at, len, "initrd"))
		goto out;
	memcpy(gpa_to_hva(m, at, len), buf, len);
	put32(bp, BP_RAMDISK_IMAGE, at);
	put32(bp, BP_RAMDISK_SIZE, len);
	ret = 0;
out:
	free(buf);
	return ret;
}

int loader_linux(struct guest_mem *m, const struct boot_opts *o,
		 struct boot *b)
{
	u64 load, kernel_end, init_size;
	size_t len, setup_len, hdr_end, cmd_len;
	unsigned int setup_sects;
	u32 cmdline_max;
	u16 version;
	u8 *buf, *bp;
	int ret = -1;

	if (read_whole_file(o->kernel, &buf, &len))
		return -1;
	if (!is_bzimage(buf, len))
		goto bad;
	version = get16(buf, BP_VERSION);
	if (version < MIN_PROTOCOL) {
		pr_err("%s: Linux boot protocol %u.%02u; 2.06 or later needed",
		       o->kernel, version >> 8, version & 0xff);
		goto out;
	}
	if (!(buf[BP_LOADFLAGS] & LOADED_HIGH)) {
		pr_err("%s: a zImage (loaded low); only bzImage is supported",
		       o->kernel);
		goto out;
	}
	setup_sects = buf[BP_SETUP_SECTS] ? buf[BP_SETUP_SECTS] : 4;
	setup_len = (setup_sects + 1) * 512;
	/* the setup header ends where the 2-byte jump at 0x200 says */
	hdr_end = BP_JUMP + 2 + buf[BP_JUMP + 1];
	if (setup_len >= len || hdr_end > setup_len || hdr_end > BP_E820_TABLE)
		goto bad;

	if (m->size <= SZ_1M * 16) {
		pr_err("a Linux kernel needs more than 16 MiB of guest RAM");
		goto out;
	}
	if (cpu_mode_prepare(m, CPU_MODE_PROT32) ||
	    guest_mem_claim(m, BP_ADDR, BP_SIZE, "Linux boot_params") ||
	    guest_mem_claim(m, CMDLINE_ADDR, CMDLINE_AREA, "Linux command line"))
		goto out;

	load = KERNEL_LOAD_ADDR;
	if (!buf[BP_RELOCATABLE] && get32(buf, BP_PREF_ADDRESS) >= SZ_1M)
		load = get32(buf, BP_PREF_ADDRESS);
	/* the kernel decompresses in place: init_size bytes from load */
	init_size = get32(buf, BP_INIT_SIZE);
	if (init_size < len - setup_len)
		init_size = len - setup_len;
	if (load + init_size > m->size) {
		pr_err("%s: needs %llu MiB of guest RAM at 0x%llx",
		       o->kernel, (unsigned long long)(init_size >> 20) + 1,
		       (unsigned long long)load);
		goto out;
	}
	kernel_end = load + init_size;
	if (guest_mem_claim(m, load, init_size, "Linux kernel"))
		goto out;
	memcpy(gpa_to_hva(m, load, len - setup_len), buf + setup_len,
	       len - setup_len);

	bp = gpa_to_hva(m, BP_ADDR, BP_SIZE);
	memset(bp, 0, BP_SIZE);
	memcpy(bp + BP_SETUP_SECTS, buf + BP_SETUP_SECTS,
	       hdr_end - BP_SETUP_SECTS);
	bp[BP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	bp[BP_LOADFLAGS] = (bp[BP_LOADFLAGS] | LOADED_HIGH) &
			   ~(KEEP_SEGMENTS | CAN_USE_HEAP);
	put16(bp, BP_HEAP_END_PTR, 0);
	put32(bp, BP_CODE32_START, load);

	cmdline_max = get32(buf, BP_CMDLINE_SIZE);
	if (!cmdline_max || cmdline_max > CMDLINE_AREA - 1)
		cmdline_max = CMDLINE_AREA - 1;
	cmd_len = o->append ? strlen(o->append) : 0;
	if (cmd_len > cmdline_max) {
		pr_err("--append: %zu bytes; the kernel takes at most %u",
		       cmd_len, cmdline_max);
		goto out;
	}
	memset(gpa_to_hva(m, CMDLINE_ADDR, CMDLINE_AREA), 0, CMDLINE_AREA);
	if (cmd_len)
		memcpy(gpa_to_hva(m, CMDLINE_ADDR, cmd_len), o->append,
		       cmd_len);
	put32(bp, BP_CMD_LINE_PTR, CMDLINE_ADDR);

	add_e820(bp, 0, LOW_RAM_END, E820_RAM);
	add_e820(bp, LOW_RAM_END, SZ_1M - LOW_RAM_END, E820_RESERVED);
	add_e820(bp, SZ_1M, m->size - SZ_1M, E820_RAM);

	if (o->nr_modules && load_initrd(m, o, bp, kernel_end))
		goto out;

	memset(b, 0, sizeof(*b));
	b->mode = CPU_MODE_PROT32;
	b->entry = load;
	b->bsp_only = true;
	b->bsp_regs = true;
	b->bsp_rsi = BP_ADDR;
	pr_debug("%s: Linux boot protocol %u.%02u, kernel at 0x%llx",
		 o->kernel, version >> 8, version & 0xff,
		 (unsigned long long)load);
	ret = 0;
	goto out;
bad:
	pr_err("%s: not a Linux bzImage, or a malformed one", o->kernel);
out:
	free(buf);
	return ret;
}
