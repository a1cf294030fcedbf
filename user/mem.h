/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: guest RAM.  One anonymous mapping backs guest-physical
 * [0, size).  Loaders and the boot code "claim" the ranges they write so
 * that two of them overlapping is reported instead of silently corrupting
 * each other.
 */
#ifndef SHV_RUN_MEM_H
#define SHV_RUN_MEM_H

#include "util.h"

/* RAM stays below the 32-bit PCI hole for now */
#define GUEST_RAM_MAX	0xC0000000ULL
#define MAX_CLAIMS	64

struct mem_claim {
	u64 start, end;		/* [start, end) */
	char what[64];
};

struct guest_mem {
	u8 *hva;
	u64 size;
	unsigned int nr_claims;
	struct mem_claim claims[MAX_CLAIMS];
};

int guest_mem_alloc(struct guest_mem *m, u64 size);
void guest_mem_free(struct guest_mem *m);

/* true if [gpa, gpa + len) lies inside guest RAM (no wrap-around) */
bool guest_range_ok(const struct guest_mem *m, u64 gpa, u64 len);

/* host pointer for [gpa, gpa + len), NULL when out of range */
void *gpa_to_hva(const struct guest_mem *m, u64 gpa, u64 len);

/*
 * Reserve [gpa, gpa + len) for @what.  Fails with a message when the range
 * is outside RAM or overlaps an earlier claim.
 */
int guest_mem_claim(struct guest_mem *m, u64 gpa, u64 len, const char *what);

#endif /* SHV_RUN_MEM_H */
