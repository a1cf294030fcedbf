// SPDX-License-Identifier: GPL-2.0
/* ACPI and MP table lookup for the PC test guests */
#include "acpi.h"

u8 acpi_sum(const void *p, u32 len)
{
	const u8 *b = p;
	u8 s = 0;

	while (len--)
		s += *b++;
	return s;
}

struct acpi_rsdp *acpi_find_rsdp(void)
{
	u32 a;

	for (a = 0xe0000; a < 0x100000; a += 16) {
		struct acpi_rsdp *r = (struct acpi_rsdp *)(ulong)a;

		if (!memcmp(r->sig, "RSD PTR ", 8) && !acpi_sum(r, 20))
			return r;
	}
	return NULL;
}

struct acpi_header *acpi_find(const char *sig)
{
	struct acpi_rsdp *r = acpi_find_rsdp();
	struct acpi_header *rsdt;
	u32 i, n;

	if (!r)
		return NULL;
	rsdt = (struct acpi_header *)(ulong)r->rsdt;
	n = (rsdt->length - sizeof(*rsdt)) / 4;
	for (i = 0; i < n; i++) {
		u32 *ent = (u32 *)((u8 *)rsdt + sizeof(*rsdt));
		struct acpi_header *t = (struct acpi_header *)(ulong)ent[i];

		if (!memcmp(t->sig, sig, 4))
			return t;
	}
	return NULL;
}

unsigned int madt_cpus(u8 *apic_ids, unsigned int max)
{
	struct acpi_header *m = acpi_find("APIC");
	u8 *p, *end;
	unsigned int n = 0;

	if (!m)
		return 0;
	p = (u8 *)m + sizeof(*m) + 8;
	end = (u8 *)m + m->length;
	while (p + 2 <= end && p[1] >= 2) {
		if (p[0] == 0 && (*(u32 *)(p + 4) & 1)) {
			if (apic_ids && n < max)
				apic_ids[n] = p[3];
			n++;
		}
		p += p[1];
	}
	return n;
}

static u8 *mp_scan(u32 start, u32 len)
{
	u32 a;

	for (a = start; a < start + len; a += 16)
		if (!memcmp((void *)(ulong)a, "_MP_", 4) &&
		    !acpi_sum((void *)(ulong)a, 16 * ((u8 *)(ulong)a)[8]))
			return (u8 *)(ulong)a;
	return NULL;
}

u8 *mp_find_fp(void)
{
	u32 ebda = *(volatile u16 *)0x40eul << 4;
	u32 base_kib = *(volatile u16 *)0x413ul;
	u8 *fp = NULL;

	if (ebda)
		fp = mp_scan(ebda, 1024);
	if (!fp && base_kib)
		fp = mp_scan(base_kib * 1024 - 1024, 1024);
	if (!fp)
		fp = mp_scan(0xf0000, 0x10000);
	return fp;
}
