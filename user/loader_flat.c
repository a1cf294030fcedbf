// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: --flat FILE@ADDR: raw binaries copied to guest-physical
 * addresses, entered in the --mode the user asks for.
 */
#include <stdlib.h>
#include <string.h>

#include "loader.h"

int flat_parse_arg(const char *arg, struct flat_image *img)
{
	const char *at = strrchr(arg, '@');

	if (!at || at == arg) {
		pr_err("--flat %s: expected FILE@ADDR", arg);
		return -1;
	}
	if (parse_u64(at + 1, &img->addr)) {
		pr_err("--flat %s: bad load address '%s'", arg, at + 1);
		return -1;
	}
	img->path = strndup(arg, at - arg);
	if (!img->path) {
		pr_err("out of memory");
		return -1;
	}
	return 0;
}

static int load_one(struct guest_mem *m, const struct flat_image *img)
{
	size_t len;
	u8 *buf;
	int ret = -1;

	if (read_whole_file(img->path, &buf, &len))
		return -1;
	if (!len) {
		pr_err("%s: empty image", img->path);
		goto out;
	}
	if (guest_mem_claim(m, img->addr, len, img->path))
		goto out;
	memcpy(gpa_to_hva(m, img->addr, len), buf, len);
	pr_debug("%s: %zu bytes at 0x%llx", img->path, len,
		 (unsigned long long)img->addr);
	ret = 0;
out:
	free(buf);
	return ret;
}

int loader_flat(struct guest_mem *m, const struct boot_opts *o,
		struct boot *b)
{
	unsigned int i;

	for (i = 0; i < o->nr_flat; i++)
		if (load_one(m, &o->flat[i]))
			return -1;

	memset(b, 0, sizeof(*b));
	b->mode = o->mode_set ? o->mode : CPU_MODE_REAL;
	b->entry = o->entry_set ? o->entry : o->flat[0].addr;
	if (b->entry >= m->size) {
		pr_err("entry point 0x%llx is outside guest RAM",
		       (unsigned long long)b->entry);
		return -1;
	}
	if (b->mode == CPU_MODE_REAL && b->entry >= SZ_1M) {
		pr_err("entry point 0x%llx is not reachable in real mode (above 1 MiB)",
		       (unsigned long long)b->entry);
		return -1;
	}
	return cpu_mode_prepare(m, b->mode);
}
