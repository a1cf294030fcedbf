// SPDX-License-Identifier: GPL-2.0
/*
 * emulator_test: instructions against MMIO compared with the same
 * instructions against RAM.  The guest (emulator_guest.S) runs each
 * snippet once on a RAM area and once on an MMIO area; the test plays the
 * device with a buffer that starts as a copy of the RAM areas, so the
 * registers, flags and memory of both runs must agree, and the device
 * must have seen accesses.
 */
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "shv_util.h"
#include "emulator_guest.h"

DECLARE_GUEST(emu64);
DECLARE_GUEST_LABEL(emu64_snips);
DECLARE_GUEST_LABEL(emu64_snips_end);
DECLARE_GUEST(emu16);
DECLARE_GUEST_LABEL(emu16_snips);
DECLARE_GUEST_LABEL(emu16_snips_end);

static const char *const emu_regs[EMU_NREGS] = {
	"rax", "rcx", "rdx", "rbx", "rbp", "rsi", "rdi", "r8", "r9", "r10",
	"rflags",
};

/* an address in the snippet's area, as an offset from the area */
static uint64_t norm(uint64_t v, uint64_t area)
{
	if (v - area + 0x100 < 0x200 || (uint32_t)v - (uint32_t)area +
	    0x100 < 0x200)
		return 0xa4ea000000000000ull | (uint16_t)(v - area);
	return v;
}

/* the flags snippet i defines (the rest of RFLAGS must not change) */
static uint32_t snip_mask(struct shv_vcpu *v, uint64_t snips, unsigned int i)
{
	uint32_t m;

	memcpy(&m, shv_gpa2hva(v->vm, CODE_GPA + snips + i * 64 +
			       EMU_MASK_OFF), 4);
	return m | ~(uint32_t)EMU_FLAGS_ALL;
}

struct dev {
	uint8_t buf[EMU_MAX_SNIPS * 64];
	unsigned int reads, writes;
};

/* run until PORT_DONE, answering MMIO from the device buffer */
static int run_device(struct shv_vcpu *v, struct dev *d, uint64_t base)
{
	for (;;) {
		struct shv_run *run = v->run;
		uint32_t reason = shv_run(v);
		uint64_t off;

		if (reason == SHV_EXIT_IO && run->io.port == PORT_DONE)
			return 0;
		if (reason != SHV_EXIT_MMIO) {
			fprintf(stderr, "unexpected exit: %s\n",
				shv_describe_exit(v));
			return -1;
		}
		off = run->mmio.phys_addr - base;
		if (run->mmio.phys_addr < base ||
		    off + run->mmio.len > sizeof(d->buf) ||
		    run->mmio.len > 8) {
			fprintf(stderr, "MMIO outside the device: %s\n",
				shv_describe_exit(v));
			return -1;
		}
		if (run->mmio.is_write) {
			memcpy(d->buf + off, run->mmio.data, run->mmio.len);
			d->writes++;
		} else {
			memcpy(run->mmio.data, d->buf + off, run->mmio.len);
			d->reads++;
		}
	}
}

TEST(mmio_vs_ram_64bit)
{
	uint64_t n = (GUEST_OFF(emu64, emu64_snips_end) -
		      GUEST_OFF(emu64, emu64_snips)) / 64;
	struct shv_vcpu *v = shv_guest_vm(MODE_LONG64, emu64);
	struct dev *d = calloc(1, sizeof(*d));
	uint8_t *ram = shv_gpa2hva(v->vm, EMU_RAM_GPA);
	uint64_t *rec = shv_gpa2hva(v->vm, EMU_RES_GPA);
	unsigned int i, k, bad = 0;
	uint32_t seed = 12345;

	ASSERT_NE(NULL, d);
	ASSERT_LE(n, EMU_MAX_SNIPS);
	for (i = 0; i < n * 64; i++) {
		seed = seed * 1103515245 + 12345;
		ram[i] = d->buf[i] = seed >> 16;
	}
	ASSERT_EQ(0, run_device(v, d, MMIO_GPA));

	for (i = 0; i < n; i++) {
		const uint64_t *a = rec + i * 2 * EMU_NREGS, *b = a + EMU_NREGS;
		uint64_t ra = EMU_RAM_GPA + i * 64, ma = MMIO_GPA + i * 64;

		uint32_t fm = snip_mask(v, GUEST_OFF(emu64, emu64_snips), i);

		for (k = 0; k < EMU_NREGS; k++) {
			uint64_t m = k == EMU_NREGS - 1 ? fm : ~0ull;

			if (!((norm(a[k], ra) ^ norm(b[k], ma)) & m))
				continue;
			TH_LOG("snippet %u: %s: RAM %#llx, MMIO %#llx", i,
			       emu_regs[k], (unsigned long long)a[k],
			       (unsigned long long)b[k]);
			bad++;
		}
		if (memcmp(ram + i * 64, d->buf + i * 64, 64)) {
			for (k = 0; k < 64; k++)
				if (ram[i * 64 + k] != d->buf[i * 64 + k])
					break;
			TH_LOG("snippet %u: memory +%u: RAM %02x, MMIO %02x", i,
			       k, ram[i * 64 + k], d->buf[i * 64 + k]);
			bad++;
		}
	}
	TH_LOG("%llu snippets, %u MMIO reads, %u MMIO writes",
	       (unsigned long long)n, d->reads, d->writes);
	EXPECT_EQ(0, bad);
	EXPECT_GE(d->reads, n / 2);
	EXPECT_GE(d->writes, n / 4);
	free(d);
}

static const char *const emu16_regs[EMU16_NREGS] = {
	"eax", "ecx", "edx", "ebx", "ebp", "esi", "edi", "eflags",
};

/* real mode: the areas are at the same offsets in both segments */
TEST(mmio_vs_ram_real_mode)
{
	uint64_t n = (GUEST_OFF(emu16, emu16_snips_end) -
		      GUEST_OFF(emu16, emu16_snips)) / 64;
	struct shv_vcpu *v = shv_guest_vm(MODE_REAL, emu16);
	struct dev *d = calloc(1, sizeof(*d));
	uint8_t *ram = shv_gpa2hva(v->vm, EMU_RAM_GPA);
	uint32_t *rec = shv_gpa2hva(v->vm, EMU_RES_GPA);
	unsigned int i, k, bad = 0;
	uint32_t seed = 54321;

	ASSERT_NE(NULL, d);
	ASSERT_LE(n, EMU_MAX_SNIPS);
	for (i = 0; i < n * 64; i++) {
		seed = seed * 1103515245 + 12345;
		ram[i] = d->buf[i] = seed >> 16;
	}
	ASSERT_EQ(0, run_device(v, d, (uint64_t)REAL_MMIO_SEG << 4));

	for (i = 0; i < n; i++) {
		const uint32_t *a = rec + i * 2 * EMU16_NREGS;
		const uint32_t *b = a + EMU16_NREGS;

		uint32_t fm = snip_mask(v, GUEST_OFF(emu16, emu16_snips), i);

		for (k = 0; k < EMU16_NREGS; k++) {
			uint32_t m = k == EMU16_NREGS - 1 ? fm : ~0u;

			if (!((a[k] ^ b[k]) & m))
				continue;
			TH_LOG("snippet %u: %s: RAM %#x, MMIO %#x", i,
			       emu16_regs[k], a[k], b[k]);
			bad++;
		}
		if (memcmp(ram + i * 64, d->buf + i * 64, 64)) {
			for (k = 0; k < 64; k++)
				if (ram[i * 64 + k] != d->buf[i * 64 + k])
					break;
			TH_LOG("snippet %u: memory +%u: RAM %02x, MMIO %02x", i,
			       k, ram[i * 64 + k], d->buf[i * 64 + k]);
			bad++;
		}
	}
	TH_LOG("%llu snippets, %u MMIO reads, %u MMIO writes",
	       (unsigned long long)n, d->reads, d->writes);
	EXPECT_EQ(0, bad);
	EXPECT_GE(d->reads, n / 2);
	EXPECT_GE(d->writes, n / 4);
	free(d);
}

TEST_HARNESS_MAIN
