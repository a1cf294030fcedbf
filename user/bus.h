/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: the I/O buses.  Each bus keeps a sorted table of
 * non-overlapping ranges, looked up by binary search on every exit.
 * Ranges are registered before any vCPU runs and never change while
 * vCPUs run, so lookups take no lock; handlers lock their own state.
 */
#ifndef SHV_RUN_BUS_H
#define SHV_RUN_BUS_H

#include "util.h"

enum bus_type {
	BUS_PIO,	/* x86 I/O ports */
	BUS_MMIO,	/* guest-physical addresses outside RAM */
	NR_BUSES,
};

/*
 * A handler sees the offset of the access from the start of its range.
 * On a read it fills @data[0..len); on a write it consumes it.  An access
 * is sent to the range holding its first byte; the handler decides what
 * to do with bytes past the end of its range.
 */
typedef void bus_io_fn(void *opaque, u64 offset, u8 *data, u32 len,
		       bool is_write);

int bus_register(enum bus_type bus, u64 base, u64 len, const char *name,
		 bus_io_fn *fn, void *opaque);
/* Drop every range (after the devices were torn down) */
void bus_reset_all(void);

/*
 * Dispatch one access.  Unclaimed reads return all-ones and unclaimed
 * writes are dropped (logged with -v); returns false for those.
 */
bool bus_access(enum bus_type bus, u64 addr, u8 *data, u32 len,
		bool is_write);

#endif /* SHV_RUN_BUS_H */
