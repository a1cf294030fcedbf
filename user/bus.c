// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: sorted range tables for the port-I/O and MMIO buses.
 */
#include <stdlib.h>
#include <string.h>

#include <linux/shv.h>

#include "bus.h"

struct bus_range {
	u64 start, end;		/* [start, end) */
	const char *name;
	bus_io_fn *fn;
	void *opaque;
};

struct bus {
	const char *name;
	u64 limit;		/* first address past the bus */
	unsigned int nr, cap;
	struct bus_range *ranges;
};

static struct bus buses[NR_BUSES] = {
	[BUS_PIO]  = { .name = "ioport", .limit = 0x10000 },
	[BUS_MMIO] = { .name = "mmio",   .limit = 1ULL << SHV_MAX_PHYS_BITS },
};

int bus_register(enum bus_type type, u64 base, u64 len, const char *name,
		 bus_io_fn *fn, void *opaque)
{
	struct bus *b = &buses[type];
	struct bus_range *r;
	unsigned int i;

	if (!len || base >= b->limit || len > b->limit - base) {
		pr_err("%s: bad %s range 0x%llx+0x%llx", name, b->name,
		       (unsigned long long)base, (unsigned long long)len);
		return -1;
	}
	/* find the insertion point and check both neighbours */
	for (i = 0; i < b->nr && b->ranges[i].start < base; i++)
		;
	if ((i > 0 && b->ranges[i - 1].end > base) ||
	    (i < b->nr && b->ranges[i].start < base + len)) {
		r = (i > 0 && b->ranges[i - 1].end > base) ?
		    &b->ranges[i - 1] : &b->ranges[i];
		pr_err("%s: %s range [0x%llx, 0x%llx) overlaps %s [0x%llx, 0x%llx)",
		       name, b->name, (unsigned long long)base,
		       (unsigned long long)(base + len), r->name,
		       (unsigned long long)r->start,
		       (unsigned long long)r->end);
		return -1;
	}
	if (b->nr == b->cap) {
		unsigned int cap = b->cap ? b->cap * 2 : 16;

		r = realloc(b->ranges, cap * sizeof(*r));
		if (!r) {
			pr_err("%s: out of memory", name);
			return -1;
		}
		b->ranges = r;
		b->cap = cap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i],
		(b->nr - i) * sizeof(b->ranges[0]));
	b->ranges[i] = (struct bus_range) {
		.start = base, .end = base + len, .name = name,
		.fn = fn, .opaque = opaque,
	};
	b->nr++;
	pr_debug("%s: %s [0x%llx, 0x%llx)", b->name, name,
		 (unsigned long long)base, (unsigned long long)(base + len));
	return 0;
}

void bus_reset_all(void)
{
	unsigned int i;

	for (i = 0; i < NR_BUSES; i++) {
		free(buses[i].ranges);
		buses[i].ranges = NULL;
		buses[i].nr = 0;
		buses[i].cap = 0;
	}
}

static struct bus_range *bus_find(struct bus *b, u64 addr)
{
	unsigned int lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct bus_range *r = &b->ranges[mid];

		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(enum bus_type type, u64 addr, u8 *data, u32 len,
		bool is_write)
{
	struct bus *b = &buses[type];
	struct bus_range *r = bus_find(b, addr);

	if (r) {
		r->fn(r->opaque, addr - r->start, data, len, is_write);
		return true;
	}
	if (is_write) {
		pr_debug("unclaimed %s write 0x%llx size %u value 0x%llx",
			 b->name, (unsigned long long)addr, len,
			 (unsigned long long)le_get(data, len > 8 ? 8 : len));
	} else {
		memset(data, 0xff, len);
		pr_debug("unclaimed %s read 0x%llx size %u", b->name,
			 (unsigned long long)addr, len);
	}
	return false;
}
