// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: --kernel FILE [--append CMDLINE]: Multiboot (v1) kernels.
 *
 * The header must sit 4-byte aligned in the first 8 KiB.  With flag bit
 * 16 the header's a.out-kludge address fields say what to load; without
 * it the image must be an ELF32 (i386) or ELF64 (x86-64, 32-bit entry)
 * executable whose PT_LOAD segments are loaded at their physical
 * addresses.  The boot vCPU enters in flat 32-bit protected mode, paging
 * off, IF=0, EAX=0x2BADB002, EBX=the multiboot information structure.
 *
 * Runner-owned memory besides the GDT (see cpu_mode.h):
 *   0x8000-0x80ff   multiboot info (0x8000), memory map (0x8080), boot
 *                   loader name (0x80e0)
 *   after the kernel, page aligned (as QEMU lays it out): the module
 *                   list, the command lines, then each module page
 *                   aligned
 * As under QEMU, the command line is the kernel's file name, a space and
 * the --append string, and a module's string is its "FILE ARGS" text.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define MB_HEADER_MAGIC		0x1BADB002u
#define MB_BOOT_MAGIC		0x2BADB002u
#define MB_SEARCH_LEN		8192
#define MB_FLAG_AOUT_KLUDGE	(1u << 16)
#define MB_FLAG_VIDEO		(1u << 2)
#define MB_FLAGS_KNOWN_REQ	0x7u		/* bits 0-2 */
#define MB_FLAGS_REQ_MASK	0xffffu

#define MBI_ADDR		0x8000ULL
#define MBI_AREA_SIZE		0x100ULL
#define MBI_MMAP_OFF		0x80
#define MBI_NAME_OFF		0xe0
#define MB_BOOT_DEVICE		0x8000ffffu	/* as QEMU: no BIOS drive */
#define PAGE_ALIGN(x)		(((x) + 0xfffULL) & ~0xfffULL)

#define MBI_MEM			(1u << 0)
#define MBI_BOOTDEV		(1u << 1)
#define MBI_CMDLINE		(1u << 2)
#define MBI_MODS		(1u << 3)
#define MBI_MMAP		(1u << 6)
#define MBI_LOADER_NAME		(1u << 9)

#define LOW_RAM_END		0x9fc00ULL
#define LOADER_NAME		"shv-run"

struct mb_header {
	u32 magic, flags, checksum;
	u32 header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_info {
	u32 flags;
	u32 mem_lower, mem_upper;
	u32 boot_device;
	u32 cmdline;
	u32 mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
	u32 drives_length, drives_addr;
	u32 config_table;
	u32 boot_loader_name;
	u32 apm_table;
	u32 vbe[6];
	u32 fb[8];
} __attribute__((packed));

struct mb_mmap_entry {
	u32 size;
	u64 base, len;
	u32 type;
} __attribute__((packed));

struct mb_module {
	u32 mod_start, mod_end, string, reserved;
};

struct image {
	const char *path;
	const u8 *data;
	size_t len;
	u64 end;		/* first byte past everything placed */
};

static int find_header(const struct image *img, struct mb_header *h,
		       size_t *off)
{
	size_t lim = img->len < MB_SEARCH_LEN ? img->len : MB_SEARCH_LEN;
	size_t i;

	for (i = 0; i + 12 <= lim; i += 4) {
		u32 magic = le_get(img->data + i, 4);
		u32 flags = le_get(img->data + i + 4, 4);
		u32 sum = le_get(img->data + i + 8, 4);

		if (magic != MB_HEADER_MAGIC)
			continue;
		if ((u32)(magic + flags + sum)) {
			pr_err("%s: multiboot header at 0x%zx has a bad checksum",
			       img->path, i);
			return -1;
		}
		memset(h, 0, sizeof(*h));
		h->magic = magic;
		h->flags = flags;
		h->checksum = sum;
		if (flags & MB_FLAG_AOUT_KLUDGE) {
			if (i + sizeof(*h) > img->len) {
				pr_err("%s: multiboot header truncated",
				       img->path);
				return -1;
			}
			h->header_addr = le_get(img->data + i + 12, 4);
			h->load_addr = le_get(img->data + i + 16, 4);
			h->load_end_addr = le_get(img->data + i + 20, 4);
			h->bss_end_addr = le_get(img->data + i + 24, 4);
			h->entry_addr = le_get(img->data + i + 28, 4);
		}
		*off = i;
		return 0;
	}
	pr_err("%s: no multiboot header in the first %d bytes", img->path,
	       MB_SEARCH_LEN);
	return -1;
}

/* Copy @filesz bytes and zero up to @memsz at @gpa, after claiming it */
static int place(struct guest_mem *m, struct image *img, u64 gpa,
		 u64 file_off, u64 filesz, u64 memsz, const char *what)
{
	char name[128];
	u8 *dst;

	snprintf(name, sizeof(name), "%s %s", img->path, what);
	if (filesz > memsz || file_off > img->len ||
	    filesz > img->len - file_off) {
		pr_err("%s: extends past the end of the file", name);
		return -1;
	}
	if (gpa >= 1ULL << 32 || memsz > (1ULL << 32) - gpa) {
		pr_err("%s: [0x%llx, 0x%llx) is not below 4 GiB", name,
		       (unsigned long long)gpa,
		       (unsigned long long)(gpa + memsz));
		return -1;
	}
	if (guest_mem_claim(m, gpa, memsz, name))
		return -1;
	dst = gpa_to_hva(m, gpa, memsz);
	memcpy(dst, img->data + file_off, filesz);
	memset(dst + filesz, 0, memsz - filesz);
	if (gpa + memsz > img->end)
		img->end = gpa + memsz;
	pr_debug("%s: 0x%llx bytes at 0x%llx (0x%llx from the file)", name,
		 (unsigned long long)memsz, (unsigned long long)gpa,
		 (unsigned long long)filesz);
	return 0;
}

static int load_aout_kludge(struct guest_mem *m, struct image *img,
			    const struct mb_header *h, size_t hoff, u64 *entry)
{
	u64 load_off, load_len, mem_len;

	if (h->load_addr > h->header_addr ||
	    h->header_addr - h->load_addr > hoff) {
		pr_err("%s: multiboot load_addr 0x%x / header_addr 0x%x do not match the file",
		       img->path, h->load_addr, h->header_addr);
		return -1;
	}
	load_off = hoff - (h->header_addr - h->load_addr);
	if (h->load_end_addr) {
		if (h->load_end_addr < h->load_addr) {
			pr_err("%s: multiboot load_end_addr 0x%x below load_addr 0x%x",
			       img->path, h->load_end_addr, h->load_addr);
			return -1;
		}
		load_len = h->load_end_addr - h->load_addr;
	} else {
		load_len = img->len - load_off;
	}
	if (load_len > img->len - load_off) {
		pr_err("%s: multiboot load_end_addr 0x%x is past the end of the file",
		       img->path, h->load_end_addr);
		return -1;
	}
	mem_len = load_len;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + load_len) {
			pr_err("%s: multiboot bss_end_addr 0x%x below the loaded image",
			       img->path, h->bss_end_addr);
			return -1;
		}
		mem_len = h->bss_end_addr - h->load_addr;
	}
	if (place(m, img, h->load_addr, load_off, load_len, mem_len, "image"))
		return -1;
	*entry = h->entry_addr;
	return 0;
}

/* Fields common to ELF32 and ELF64 program headers */
struct phdr {
	u32 type;
	u64 offset, vaddr, paddr, filesz, memsz;
};

static int load_elf(struct guest_mem *m, struct image *img, u64 *entry)
{
	const u8 *d = img->data;
	bool is64;
	u64 phoff, e_entry;
	unsigned int phnum, phentsize, i, nload = 0;
	bool entry_mapped = false;

	if (img->len < EI_NIDENT || memcmp(d, ELFMAG, SELFMAG)) {
		pr_err("%s: neither an ELF file nor a multiboot a.out-kludge image",
		       img->path);
		return -1;
	}
	if (d[EI_DATA] != ELFDATA2LSB || d[EI_VERSION] != EV_CURRENT) {
		pr_err("%s: not a little-endian ELF version 1 file", img->path);
		return -1;
	}
	is64 = d[EI_CLASS] == ELFCLASS64;
	if (!is64 && d[EI_CLASS] != ELFCLASS32) {
		pr_err("%s: bad ELF class %u", img->path, d[EI_CLASS]);
		return -1;
	}
	if (img->len < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr))) {
		pr_err("%s: truncated ELF header", img->path);
		return -1;
	}
	if (is64) {
		const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;

		if (eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
			goto bad_type;
		phoff = eh->e_phoff;
		phnum = eh->e_phnum;
		phentsize = eh->e_phentsize;
		e_entry = eh->e_entry;
		if (phentsize < sizeof(Elf64_Phdr))
			goto bad_phdr;
	} else {
		const Elf32_Ehdr *eh = (const Elf32_Ehdr *)d;

		if (eh->e_machine != EM_386 || eh->e_type != ET_EXEC)
			goto bad_type;
		phoff = eh->e_phoff;
		phnum = eh->e_phnum;
		phentsize = eh->e_phentsize;
		e_entry = eh->e_entry;
		if (phentsize < sizeof(Elf32_Phdr))
			goto bad_phdr;
	}
	if (!phnum || phoff > img->len ||
	    (u64)phnum * phentsize > img->len - phoff)
		goto bad_phdr;

	*entry = e_entry;
	for (i = 0; i < phnum; i++) {
		const u8 *p = d + phoff + (u64)i * phentsize;
		struct phdr ph;
		char what[32];
		Elf64_Phdr p64;
		Elf32_Phdr p32;

		if (is64) {
			memcpy(&p64, p, sizeof(p64));
			ph = (struct phdr) { p64.p_type, p64.p_offset,
				p64.p_vaddr, p64.p_paddr, p64.p_filesz,
				p64.p_memsz };
		} else {
			memcpy(&p32, p, sizeof(p32));
			ph = (struct phdr) { p32.p_type, p32.p_offset,
				p32.p_vaddr, p32.p_paddr, p32.p_filesz,
				p32.p_memsz };
		}
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		snprintf(what, sizeof(what), "segment %u", i);
		if (place(m, img, ph.paddr, ph.offset, ph.filesz, ph.memsz,
			  what))
			return -1;
		nload++;
		/* an entry given as a virtual address of this segment */
		if (!entry_mapped && e_entry >= ph.vaddr &&
		    e_entry - ph.vaddr < ph.memsz) {
			*entry = e_entry - ph.vaddr + ph.paddr;
			entry_mapped = true;
		}
	}
	if (!nload) {
		pr_err("%s: no loadable segments", img->path);
		return -1;
	}
	return 0;

bad_type:
	pr_err("%s: not an i386/x86-64 ELF executable", img->path);
	return -1;
bad_phdr:
	pr_err("%s: malformed ELF program headers", img->path);
	return -1;
}

/* The fixed part: the information structure, memory map, loader name */
static int build_info(struct guest_mem *m, u8 **area)
{
	struct mb_mmap_entry map[3];
	unsigned int n = 0;
	struct mb_info mbi;

	if (m->size <= SZ_1M) {
		pr_err("multiboot kernels need more than 1 MiB of guest RAM");
		return -1;
	}
	if (guest_mem_claim(m, MBI_ADDR, MBI_AREA_SIZE, "multiboot info"))
		return -1;
	*area = gpa_to_hva(m, MBI_ADDR, MBI_AREA_SIZE);
	memset(*area, 0, MBI_AREA_SIZE);

	map[n++] = (struct mb_mmap_entry) { 20, 0, LOW_RAM_END, 1 };
	map[n++] = (struct mb_mmap_entry) { 20, LOW_RAM_END,
					    SZ_1M - LOW_RAM_END, 2 };
	map[n++] = (struct mb_mmap_entry) { 20, SZ_1M, m->size - SZ_1M, 1 };

	memset(&mbi, 0, sizeof(mbi));
	mbi.flags = MBI_MEM | MBI_BOOTDEV | MBI_CMDLINE | MBI_MODS |
		    MBI_MMAP | MBI_LOADER_NAME;
	/* QEMU reports 640 KiB of low memory, though the EBDA takes 1 KiB */
	mbi.mem_lower = 640;
	mbi.mem_upper = (m->size - SZ_1M) / 1024;
	mbi.boot_device = MB_BOOT_DEVICE;
	mbi.mmap_addr = MBI_ADDR + MBI_MMAP_OFF;
	mbi.mmap_length = n * sizeof(map[0]);
	mbi.boot_loader_name = MBI_ADDR + MBI_NAME_OFF;

	memcpy(*area, &mbi, sizeof(mbi));
	memcpy(*area + MBI_MMAP_OFF, map, n * sizeof(map[0]));
	memcpy(*area + MBI_NAME_OFF, LOADER_NAME, sizeof(LOADER_NAME));
	return 0;
}

/*
 * After the kernel: the module list, the command lines, then the
 * modules, each page aligned.  Fills in cmdline and mods_* of the info.
 */
static int load_modules(struct guest_mem *m, const struct boot_opts *o,
			u64 kernel_end, u8 *area)
{
	unsigned int i, n = o->nr_modules;
	u64 strings_len, base = PAGE_ALIGN(kernel_end), at;
	struct mb_module *mods;
	size_t klen = strlen(o->kernel), alen;
	const char *append = o->append ? o->append : "";
	struct mb_info *mbi = (struct mb_info *)area;
	u8 *p;

	alen = strlen(append);
	strings_len = n * sizeof(struct mb_module) + klen + 1 + alen + 1;
	for (i = 0; i < n; i++)
		strings_len += strlen(o->modules[i]) + 1;
	if (guest_mem_claim(m, base, strings_len, "multiboot command lines"))
		return -1;
	p = gpa_to_hva(m, base, strings_len);
	memset(p, 0, strings_len);
	mods = (struct mb_module *)p;
	at = base + n * sizeof(struct mb_module);

	/* the kernel's command line: "FILE APPEND", as QEMU passes it */
	memcpy(p + (at - base), o->kernel, klen);
	p[at - base + klen] = ' ';
	memcpy(p + (at - base) + klen + 1, append, alen + 1);
	mbi->cmdline = at;
	at += klen + 1 + alen + 1;

	for (i = 0; i < n; i++) {
		size_t slen = strlen(o->modules[i]);

		memcpy(p + (at - base), o->modules[i], slen + 1);
		mods[i].string = at;
		at += slen + 1;
	}
	at = PAGE_ALIGN(at);

	for (i = 0; i < n; i++) {
		size_t flen = strcspn(o->modules[i], " ");
		char *path = strndup(o->modules[i], flen), what[160];
		size_t len;
		u8 *buf;
		int r;

		if (!path) {
			pr_err("out of memory");
			return -1;
		}
		r = read_whole_file(path, &buf, &len);
		if (r) {
			free(path);
			return -1;
		}
		snprintf(what, sizeof(what), "module %s", path);
		if (at + len >= 1ULL << 32 ||
		    guest_mem_claim(m, at, len ? len : 1, what)) {
			if (at + len >= 1ULL << 32)
				pr_err("%s: does not fit below 4 GiB", what);
			free(buf);
			free(path);
			return -1;
		}
		memcpy(gpa_to_hva(m, at, len), buf, len);
		mods[i].mod_start = at;
		mods[i].mod_end = at + len;
		pr_debug("%s: 0x%zx bytes at 0x%llx", what, len,
			 (unsigned long long)at);
		at = PAGE_ALIGN(at + len);
		free(buf);
		free(path);
	}
	mbi->mods_count = n;
	mbi->mods_addr = base;
	return 0;
}

int loader_multiboot(struct guest_mem *m, const struct boot_opts *o,
		     struct boot *b)
{
	struct image img = { .path = o->kernel };
	struct mb_header h;
	size_t len, hoff;
	u64 entry = 0;
	u8 *buf, *area;
	int ret = -1;

	if (read_whole_file(o->kernel, &buf, &len))
		return -1;
	img.data = buf;
	img.len = len;
	if (find_header(&img, &h, &hoff))
		goto out;
	if ((h.flags & MB_FLAGS_REQ_MASK) & ~MB_FLAGS_KNOWN_REQ) {
		pr_err("%s: multiboot header requires unsupported features (flags 0x%x)",
		       o->kernel, h.flags);
		goto out;
	}
	if (h.flags & MB_FLAG_VIDEO)
		pr_debug("%s: video mode request ignored (no display)",
			 o->kernel);

	/* the runner's own areas first, so an image overlapping them is named */
	if (cpu_mode_prepare(m, CPU_MODE_PROT32) || build_info(m, &area))
		goto out;

	if (h.flags & MB_FLAG_AOUT_KLUDGE)
		ret = load_aout_kludge(m, &img, &h, hoff, &entry);
	else
		ret = load_elf(m, &img, &entry);
	if (ret)
		goto out;
	ret = -1;
	if (load_modules(m, o, img.end, area))
		goto out;
	if (entry >= m->size) {
		pr_err("%s: entry point 0x%llx is outside guest RAM",
		       o->kernel, (unsigned long long)entry);
		goto out;
	}

	memset(b, 0, sizeof(*b));
	b->mode = CPU_MODE_PROT32;
	b->entry = entry;
	b->bsp_only = true;
	b->bsp_regs = true;
	b->bsp_rax = MB_BOOT_MAGIC;
	b->bsp_rbx = MBI_ADDR;
	pr_debug("%s: multiboot entry 0x%llx", o->kernel,
		 (unsigned long long)entry);
	ret = 0;
out:
	free(buf);
	return ret;
}
