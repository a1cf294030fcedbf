// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: guest RAM allocation and range bookkeeping.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "mem.h"

int guest_mem_alloc(struct guest_mem *m, u64 size)
{
	void *p;

	memset(m, 0, sizeof(*m));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		pr_errno("cannot allocate %llu MiB of guest RAM",
			 (unsigned long long)(size >> 20));
		return -1;
	}
	m->hva = p;
	m->size = size;
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->hva)
		munmap(m->hva, m->size);
	m->hva = NULL;
	m->size = 0;
}

bool guest_range_ok(const struct guest_mem *m, u64 gpa, u64 len)
{
	return gpa <= m->size && len <= m->size - gpa;
}

void *gpa_to_hva(const struct guest_mem *m, u64 gpa, u64 len)
{
	if (!guest_range_ok(m, gpa, len))
		return NULL;
	return m->hva + gpa;
}

int guest_mem_claim(struct guest_mem *m, u64 gpa, u64 len, const char *what)
{
	struct mem_claim *c;
	unsigned int i;

	if (!guest_range_ok(m, gpa, len)) {
		pr_err("%s: [0x%llx, 0x%llx) does not fit in guest RAM (%llu MiB, use -m)",
		       what, (unsigned long long)gpa,
		       (unsigned long long)(gpa + len),
		       (unsigned long long)(m->size >> 20));
		return -1;
	}
	if (!len)
		return 0;
	for (i = 0; i < m->nr_claims; i++) {
		c = &m->claims[i];
		if (gpa < c->end && c->start < gpa + len) {
			pr_err("%s at [0x%llx, 0x%llx) overlaps %s at [0x%llx, 0x%llx)",
			       what, (unsigned long long)gpa,
			       (unsigned long long)(gpa + len), c->what,
			       (unsigned long long)c->start,
			       (unsigned long long)c->end);
			return -1;
		}
	}
	if (m->nr_claims == MAX_CLAIMS) {
		pr_err("%s: too many loaded ranges", what);
		return -1;
	}
	c = &m->claims[m->nr_claims++];
	c->start = gpa;
	c->end = gpa + len;
	snprintf(c->what, sizeof(c->what), "%s", what);
	return 0;
}
