/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: image loaders.  A loader validates and copies its images into
 * guest RAM (before any accelerator is opened) and describes how the
 * vCPUs start.
 */
#ifndef SHV_RUN_LOADER_H
#define SHV_RUN_LOADER_H

#include "cpu_mode.h"
#include "mem.h"

#define MAX_FLAT_IMAGES	8
#define MAX_MB_MODULES	32

struct flat_image {
	const char *path;
	u64 addr;
};

struct boot_opts {
	struct flat_image flat[MAX_FLAT_IMAGES];
	unsigned int nr_flat;
	enum cpu_mode mode;
	bool mode_set;
	u64 entry;
	bool entry_set;
	const char *kernel;
	const char *append;
	/* multiboot modules: "FILE [ARGS]", the string the kernel gets */
	const char *modules[MAX_MB_MODULES];
	unsigned int nr_modules;
};

struct boot {
	enum cpu_mode mode;
	u64 entry;
	bool bsp_only;		/* APs are created but parked */
	bool bsp_regs;		/* vCPU 0 gets bsp_rax/bsp_rbx */
	u64 bsp_rax, bsp_rbx, bsp_rsi;
};

/* Parse "FILE@ADDR" into @img; -1 with a message if malformed */
int flat_parse_arg(const char *arg, struct flat_image *img);

int loader_flat(struct guest_mem *m, const struct boot_opts *o,
		struct boot *b);
int loader_multiboot(struct guest_mem *m, const struct boot_opts *o,
		     struct boot *b);

/* a Linux bzImage (the boot protocol's "HdrS" header)? */
bool loader_is_linux(const char *path);
int loader_linux(struct guest_mem *m, const struct boot_opts *o,
		 struct boot *b);

#endif /* SHV_RUN_LOADER_H */
