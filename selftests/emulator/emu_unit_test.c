// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace unit test of the instruction decoder (kmod/decode.c) and the
 * emulator core (kmod/emucore.c), built from the module's own sources.
 *
 *  1. decoder: lengths of the instructions in decode_cases.h (assembled
 *     by GNU as), hand-written cases checking the decoded fields, and
 *     invalid or overlong encodings;
 *  2. emulator tables: 16/32/64-bit cases with expected registers, memory,
 *     flags and exceptions (segmentation, real mode, REP, MMIO replay);
 *  3. the CPU as the oracle: each template instruction is executed
 *     natively (64-bit mode, from a stub written into an executable
 *     buffer) and by the emulator on a copy of the same state, with
 *     random operands, and registers, defined flags, memory and the
 *     exception raised must agree.
 *
 * Prints KTAP (a failed case says what differed); exits 1 when a case
 * fails.  "-s SEED" changes the random inputs, "-n N" the iterations per
 * template.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cpuid.h>
#include <ucontext.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "decode.h"
#include "emucore.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define FL_CF	0x0001ull
#define FL_PF	0x0004ull
#define FL_AF	0x0010ull
#define FL_ZF	0x0040ull
#define FL_SF	0x0080ull
#define FL_DF	0x0400ull
#define FL_OF	0x0800ull
#define FL_AC	0x40000ull
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13,
       R14, R15 };

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* --- KTAP --- */

static int test_nr, test_failed;
static char fail_msg[1024];

static void failf(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(fail_msg);

	if (n >= sizeof(fail_msg) - 2)
		return;
	va_start(ap, fmt);
	vsnprintf(fail_msg + n, sizeof(fail_msg) - n, fmt, ap);
	va_end(ap);
}

/* report one test; the message collected by failf() makes it fail */
static void report(const char *fmt, ...)
{
	char name[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	test_nr++;
	if (!fail_msg[0]) {
		printf("ok %d %s\n", test_nr, name);
		return;
	}
	test_failed++;
	printf("not ok %d %s\n", test_nr, name);
	for (char *l = strtok(fail_msg, "\n"); l; l = strtok(NULL, "\n"))
		printf("# %s\n", l);
	fail_msg[0] = 0;
}

/* --- random numbers (xorshift64*) --- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* a value with a bias to the edges of arithmetic */
static uint64_t rnd_value(void)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffffull,
		0x8000000000000000ull, ~0ull, ~0ull - 1, 0x100, 0x10000,
		0x100000000ull,
	};

	switch (rnd_below(4)) {
	case 0:
		return edge[rnd_below(ARRAY_SIZE(edge))];
	case 1:
		return rnd_below(64);
	default:
		return rnd();
	}
}

/* ================================================================== */
/* 1. the decoder                                                      */
/* ================================================================== */

struct asm_case {
	uint8_t mode, len;
	uint8_t bytes[15];
	const char *text;
};

#include "decode_cases.h"

static void test_asm_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(asm_cases); i++) {
		const struct asm_case *c = &asm_cases[i];
		struct shv_insn in;
		uint8_t buf[32];
		int r;

		/* exact bytes, then trailing garbage, then one byte short */
		r = shv_decode(c->bytes, c->len, c->mode, &in);
		if (r)
			failf("decode of exact bytes: %d\n", r);
		else if (in.len != c->len)
			failf("length %u, expected %u\n", in.len, c->len);
		memset(buf, 0xcc, sizeof(buf));
		memcpy(buf, c->bytes, c->len);
		r = shv_decode(buf, 15, c->mode, &in);
		if (r || in.len != c->len)
			failf("with trailing bytes: r=%d len %u\n", r, in.len);
		if (!r && memcmp(in.bytes, c->bytes, c->len))
			failf("bytes not copied\n");
		r = shv_decode(c->bytes, c->len - 1, c->mode, &in);
		if (r != SHV_DECODE_SHORT)
			failf("one byte short: %d, expected SHORT\n", r);
		report("decode %d-bit: %s", c->mode, c->text);
	}
}

/* decoded fields; -1 (or ~0) means "do not check" */
struct field_case {
	const char *name;
	uint8_t mode, n;
	uint8_t bytes[15];
	int len, op_size, addr_size, seg, map, opcode;
	int mod, reg, rm, sib;		/* sib -1: none expected */
	long long disp;
	int disp_size;
	unsigned long long imm;
	int imm_size;
	int rex;
	unsigned int prefixes;
};

#define B(...)	.n = sizeof((uint8_t[]){ __VA_ARGS__ }), .bytes = { __VA_ARGS__ }
#define NOCHK	.seg = -2, .map = -1, .opcode = -1, .mod = -1, .reg = -1, \
		.rm = -1, .sib = -2, .disp = -1, .disp_size = -1, .imm = ~0ull, \
		.imm_size = -1, .rex = -1, .prefixes = ~0u, .op_size = -1, \
		.addr_size = -1

static const struct field_case field_cases[] = {
	{ "64: mov eax,[rax]", 64, B(0x8b, 0x00), NOCHK, .len = 2,
	  .op_size = 4, .addr_size = 8, .map = SHV_MAP_1, .opcode = 0x8b,
	  .mod = 0, .reg = 0, .rm = 0, .sib = -1, .disp_size = 0, .seg = -1 },
	{ "64: REX.R/B extend reg and rm", 64, B(0x4d, 0x8b, 0x07), NOCHK,
	  .len = 3, .op_size = 8, .reg = 8, .rm = 15, .rex = 0x4d },
	{ "64: 66 gives 16-bit operands", 64, B(0x66, 0x8b, 0x07), NOCHK,
	  .len = 3, .op_size = 2, .addr_size = 8,
	  .prefixes = SHV_PFX_OPSIZE },
	{ "64: REX.W beats 66", 64, B(0x66, 0x48, 0x8b, 0x07), NOCHK,
	  .len = 4, .op_size = 8 },
	{ "64: 67 gives 32-bit addresses", 64, B(0x67, 0x8b, 0x07), NOCHK,
	  .len = 3, .addr_size = 4, .prefixes = SHV_PFX_ADSIZE },
	{ "64: REX before a prefix is dropped", 64, B(0x48, 0x66, 0x8b, 0x07),
	  NOCHK, .len = 4, .op_size = 2, .rex = 0 },
	{ "64: last REX counts", 64, B(0x41, 0x48, 0x8b, 0x07), NOCHK,
	  .len = 4, .op_size = 8, .rex = 0x48, .rm = 7 },
	{ "64: SIB with disp8", 64, B(0x8b, 0x44, 0x98, 0xf0), NOCHK,
	  .len = 4, .mod = 1, .rm = 4, .sib = 0x98, .disp = -16,
	  .disp_size = 1 },
	{ "64: SIB no base disp32", 64, B(0x8b, 0x04, 0x25, 0x78, 0x56, 0x34,
					    0x12), NOCHK, .len = 7, .mod = 0,
	  .sib = 0x25, .disp = 0x12345678, .disp_size = 4 },
	{ "64: r13 base needs disp8", 64, B(0x41, 0x8b, 0x45, 0x00), NOCHK,
	  .len = 4, .mod = 1, .rm = 13, .disp = 0, .disp_size = 1 },
	{ "64: r12 base needs SIB", 64, B(0x41, 0x8b, 0x04, 0x24), NOCHK,
	  .len = 4, .rm = 12, .sib = 0x24 },
	{ "64: RIP-relative disp32", 64, B(0x8b, 0x05, 0xfc, 0xff, 0xff,
					   0xff), NOCHK, .len = 6, .mod = 0,
	  .rm = 5, .disp = -4, .disp_size = 4, .sib = -1 },
	{ "64: disp32 sign-extended", 64, B(0x8b, 0x80, 0x00, 0x00, 0x00,
					    0x80), NOCHK, .len = 6,
	  .disp = -2147483648LL, .disp_size = 4 },
	{ "64: mov r64, imm64", 64, B(0x49, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8),
	  NOCHK, .len = 10, .imm = 0x0807060504030201ull, .imm_size = 8 },
	{ "64: moffs64", 64, B(0xa1, 8, 7, 6, 5, 4, 3, 2, 1), NOCHK,
	  .len = 9, .imm = 0x0102030405060708ull, .imm_size = 8 },
	{ "64: moffs32 with 67", 64, B(0x67, 0xa1, 4, 3, 2, 1), NOCHK,
	  .len = 6, .imm = 0x01020304, .imm_size = 4 },
	{ "64: C7 imm32 with REX.W", 64, B(0x48, 0xc7, 0x00, 0xff, 0xff,
					   0xff, 0xff), NOCHK, .len = 7,
	  .imm = 0xffffffff, .imm_size = 4 },
	{ "64: 66 C7 imm16", 64, B(0x66, 0xc7, 0x00, 0x34, 0x12), NOCHK,
	  .len = 5, .imm = 0x1234, .imm_size = 2 },
	{ "64: F7 /0 has an immediate", 64, B(0xf7, 0x00, 1, 0, 0, 0), NOCHK,
	  .len = 6, .imm_size = 4 },
	{ "64: F7 /2 has none", 64, B(0xf7, 0x10), NOCHK, .len = 2,
	  .imm_size = 0 },
	{ "64: F6 /1 (TEST alias) imm8", 64, B(0xf6, 0x08, 0x12), NOCHK,
	  .len = 3, .imm = 0x12, .imm_size = 1 },
	{ "64: segment override FS", 64, B(0x64, 0x8b, 0x00), NOCHK,
	  .len = 3, .seg = SHV_EMU_FS },
	{ "64: last segment override wins", 64, B(0x64, 0x65, 0x8b, 0x00),
	  NOCHK, .len = 4, .seg = SHV_EMU_GS },
	{ "64: F3 then F2: REPNE", 64, B(0xf3, 0xf2, 0xa6), NOCHK, .len = 3,
	  .prefixes = SHV_PFX_REPNE },
	{ "64: LOCK recorded", 64, B(0xf0, 0x01, 0x00), NOCHK, .len = 3,
	  .prefixes = SHV_PFX_LOCK },
	{ "64: 0F map", 64, B(0x0f, 0xb6, 0x00), NOCHK, .len = 3,
	  .map = SHV_MAP_0F, .opcode = 0xb6 },
	{ "64: 0F38 map", 64, B(0x0f, 0x38, 0xf0, 0x00), NOCHK, .len = 4,
	  .map = SHV_MAP_0F38, .opcode = 0xf0 },
	{ "64: 0F3A map with imm8", 64, B(0x66, 0x0f, 0x3a, 0x0f, 0xc1, 4),
	  NOCHK, .len = 6, .map = SHV_MAP_0F3A, .imm = 4, .imm_size = 1 },
	{ "64: VEX2 map 0F", 64, B(0xc5, 0xf8, 0x10, 0x00), NOCHK, .len = 4,
	  .map = SHV_MAP_0F, .opcode = 0x10, .prefixes = SHV_PFX_VEX },
	{ "64: VEX3 map 0F3A imm8", 64, B(0xc4, 0xe3, 0x7d, 0x18, 0x08, 1),
	  NOCHK, .len = 6, .map = SHV_MAP_0F3A, .imm = 1 },
	{ "64: VEX3 R/X/B", 64, B(0xc4, 0x01, 0x78, 0x10, 0x04, 0x08),
	  NOCHK, .len = 6, .rex = 0x07, .reg = 8 },
	{ "64: EVEX map 0F", 64, B(0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00),
	  NOCHK, .len = 6, .map = SHV_MAP_0F, .opcode = 0x10,
	  .prefixes = SHV_PFX_EVEX },
	{ "64: EVEX disp8 (compressed)", 64, B(0x62, 0xf1, 0x7c, 0x48, 0x10,
					      0x40, 0x01), NOCHK, .len = 7,
	  .disp = 1, .disp_size = 1 },
	{ "64: XOP map 9", 64, B(0x8f, 0xe9, 0x78, 0x80, 0xc1), NOCHK,
	  .len = 5, .prefixes = SHV_PFX_XOP, .map = SHV_MAP_XOP9 },
	{ "64: XOP map 0Ah imm32", 64, B(0x8f, 0xea, 0x78, 0x10, 0xc0, 1, 0,
					 0, 0), NOCHK, .len = 9,
	  .map = SHV_MAP_XOPA, .imm = 1, .imm_size = 4 },
	{ "64: 8F /0 is POP", 64, B(0x8f, 0x00), NOCHK, .len = 2,
	  .map = SHV_MAP_1, .opcode = 0x8f },
	{ "64: ENTER keeps imm16", 64, B(0xc8, 0x10, 0x00, 0x01), NOCHK,
	  .len = 4, .imm = 0x10, .imm_size = 2 },
	{ "32: mov eax,[ebp+8]", 32, B(0x8b, 0x45, 0x08), NOCHK, .len = 3,
	  .op_size = 4, .addr_size = 4, .mod = 1, .rm = 5, .disp = 8 },
	{ "32: [disp32] no RIP", 32, B(0x8b, 0x05, 0, 0x10, 0, 0), NOCHK,
	  .len = 6, .disp = 0x1000, .disp_size = 4 },
	{ "32: 66 gives 16-bit operands", 32, B(0x66, 0xb8, 0x34, 0x12),
	  NOCHK, .len = 4, .op_size = 2, .imm = 0x1234, .imm_size = 2 },
	{ "32: 67 gives 16-bit addressing", 32, B(0x67, 0x8b, 0x40, 0x10),
	  NOCHK, .len = 4, .addr_size = 2, .mod = 1, .disp = 0x10,
	  .disp_size = 1, .sib = -1 },
	{ "32: 40 is INC, not REX", 32, B(0x40), NOCHK, .len = 1, .rex = 0,
	  .opcode = 0x40 },
	{ "32: C4 with memory ModRM is LES", 32, B(0xc4, 0x00), NOCHK,
	  .len = 2, .map = SHV_MAP_1, .opcode = 0xc4 },
	{ "32: C5 with register ModRM is VEX", 32, B(0xc5, 0xf8, 0x77),
	  NOCHK, .len = 3, .map = SHV_MAP_0F, .opcode = 0x77 },
	{ "32: 62 with memory ModRM is BOUND", 32, B(0x62, 0x00), NOCHK,
	  .len = 2, .opcode = 0x62 },
	{ "32: far pointer 16:32", 32, B(0x9a, 1, 2, 3, 4, 5, 6), NOCHK,
	  .len = 7, .imm_size = 6 },
	{ "16: mov ax,[bx+si]", 16, B(0x8b, 0x00), NOCHK, .len = 2,
	  .op_size = 2, .addr_size = 2, .mod = 0, .rm = 0, .sib = -1 },
	{ "16: [disp16]", 16, B(0x8b, 0x06, 0x34, 0x12), NOCHK, .len = 4,
	  .disp = 0x1234, .disp_size = 2 },
	{ "16: [bp+disp8] sign-extended", 16, B(0x8b, 0x46, 0xfe), NOCHK,
	  .len = 3, .disp = -2, .disp_size = 1 },
	{ "16: [bx+di+disp16]", 16, B(0x8b, 0x81, 0x00, 0x80), NOCHK,
	  .len = 4, .disp = -32768, .disp_size = 2 },
	{ "16: rm=4 has no SIB", 16, B(0x8b, 0x04), NOCHK, .len = 2,
	  .sib = -1 },
	{ "16: 67 gives 32-bit SIB", 16, B(0x67, 0x8b, 0x04, 0x98), NOCHK,
	  .len = 4, .addr_size = 4, .sib = 0x98 },
	{ "16: 66 gives 32-bit immediates", 16, B(0x66, 0xb8, 1, 2, 3, 4),
	  NOCHK, .len = 6, .op_size = 4, .imm = 0x04030201 },
	{ "16: far pointer 16:16", 16, B(0xea, 0xf0, 0xff, 0x00, 0xf0),
	  NOCHK, .len = 5, .imm_size = 4, .imm = 0xf000fff0 },
	{ "16: moffs16", 16, B(0xa1, 0x34, 0x12), NOCHK, .len = 3,
	  .imm_size = 2, .imm = 0x1234 },
};

static void check_field(const char *what, long long got, long long want)
{
	if (got != want)
		failf("%s: %lld (%#llx), expected %lld (%#llx)\n", what, got,
		      got, want, want);
}

static void test_field_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(field_cases); i++) {
		const struct field_case *c = &field_cases[i];
		struct shv_insn in;
		int r = shv_decode(c->bytes, c->n, c->mode, &in);

		if (r) {
			failf("decode failed: %d\n", r);
			report("fields %s", c->name);
			continue;
		}
		check_field("len", in.len, c->len);
		if (c->op_size >= 0)
			check_field("op_size", in.op_size, c->op_size);
		if (c->addr_size >= 0)
			check_field("addr_size", in.addr_size, c->addr_size);
		if (c->seg != -2)
			check_field("seg", in.seg, c->seg);
		if (c->map >= 0)
			check_field("map", in.map, c->map);
		if (c->opcode >= 0)
			check_field("opcode", in.opcode, c->opcode);
		if (c->mod >= 0)
			check_field("mod", in.mod, c->mod);
		if (c->reg >= 0)
			check_field("reg", in.reg, c->reg);
		if (c->rm >= 0)
			check_field("rm", in.rm, c->rm);
		if (c->sib == -1)
			check_field("has_sib", in.has_sib, 0);
		else if (c->sib >= 0)
			check_field("sib", in.has_sib ? in.sib : -1, c->sib);
		if (c->disp != -1)
			check_field("disp", in.disp, c->disp);
		if (c->disp_size >= 0)
			check_field("disp_size", in.disp_size, c->disp_size);
		if (c->imm != ~0ull)
			check_field("imm", in.imm, c->imm);
		if (c->imm_size >= 0)
			check_field("imm_size", in.imm_size, c->imm_size);
		if (c->rex >= 0)
			check_field("rex", in.rex, c->rex);
		if (c->prefixes != ~0u)
			check_field("prefixes", in.prefixes, c->prefixes);
		report("fields %s", c->name);
	}
}

struct bad_case {
	const char *name;
	uint8_t mode, n;
	uint8_t bytes[20];
	int expect;
};

static const struct bad_case bad_cases[] = {
	{ "64: PUSH ES is invalid", 64, B(0x06), SHV_DECODE_UD },
	{ "64: POP DS is invalid", 64, B(0x1f), SHV_DECODE_UD },
	{ "64: DAA is invalid", 64, B(0x27), SHV_DECODE_UD },
	{ "64: AAA is invalid", 64, B(0x37), SHV_DECODE_UD },
	{ "64: PUSHA is invalid", 64, B(0x60), SHV_DECODE_UD },
	{ "64: 82 is invalid", 64, B(0x82, 0xc0, 1), SHV_DECODE_UD },
	{ "64: far CALL ptr is invalid", 64, B(0x9a, 1, 2, 3, 4, 5, 6),
	  SHV_DECODE_UD },
	{ "64: INTO is invalid", 64, B(0xce), SHV_DECODE_UD },
	{ "64: AAM is invalid", 64, B(0xd4, 10), SHV_DECODE_UD },
	{ "64: SALC is invalid", 64, B(0xd6), SHV_DECODE_UD },
	{ "64: far JMP ptr is invalid", 64, B(0xea, 1, 2, 3, 4, 5, 6),
	  SHV_DECODE_UD },
	{ "0F 04 is invalid", 32, B(0x0f, 0x04), SHV_DECODE_UD },
	{ "0F 0A is invalid", 32, B(0x0f, 0x0a), SHV_DECODE_UD },
	{ "0F 24 is invalid", 64, B(0x0f, 0x24, 0xc0), SHV_DECODE_UD },
	{ "0F 36 is invalid", 64, B(0x0f, 0x36), SHV_DECODE_UD },
	{ "0F 39 is invalid", 64, B(0x0f, 0x39), SHV_DECODE_UD },
	{ "0F A6 is invalid", 64, B(0x0f, 0xa6, 0xc0), SHV_DECODE_UD },
	{ "VEX after 66 is invalid", 64, B(0x66, 0xc5, 0xf8, 0x77),
	  SHV_DECODE_UD },
	{ "VEX after F3 is invalid", 64, B(0xf3, 0xc5, 0xf8, 0x77),
	  SHV_DECODE_UD },
	{ "VEX after LOCK is invalid", 64, B(0xf0, 0xc5, 0xf8, 0x77),
	  SHV_DECODE_UD },
	{ "VEX after REX is invalid", 64, B(0x40, 0xc5, 0xf8, 0x77),
	  SHV_DECODE_UD },
	{ "VEX map 4 is invalid", 64, B(0xc4, 0xe4, 0x78, 0x10, 0xc0),
	  SHV_DECODE_UD },
	{ "EVEX with P0 bit 3 set", 64, B(0x62, 0xf9, 0x7c, 0x48, 0x10,
					  0xc0), SHV_DECODE_UD },
	{ "EVEX with P1 bit 2 clear", 64, B(0x62, 0xf1, 0x78, 0x48, 0x10,
					    0xc0), SHV_DECODE_UD },
	{ "XOP map 0Bh is invalid", 64, B(0x8f, 0xeb, 0x78, 0x10, 0xc0),
	  SHV_DECODE_UD },
	{ "15 bytes are fine", 64,
	  B(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	    0x2e, 0x0f, 0x1f, 0x00), 0 },
	{ "16 bytes are too long", 64,
	  B(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	    0x66, 0x2e, 0x0f, 0x1f, 0x00), SHV_DECODE_GP },
	{ "imm64 past 15 bytes", 64,
	  B(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xb8, 1, 2, 3, 4, 5, 6,
	    7, 8), SHV_DECODE_GP },
	{ "15 prefixes", 32,
	  B(0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3,
	    0xf3, 0xf3, 0xf3, 0xf3, 0x90), SHV_DECODE_GP },
	{ "missing ModRM", 64, B(0x8b), SHV_DECODE_SHORT },
	{ "missing SIB", 64, B(0x8b, 0x04), SHV_DECODE_SHORT },
	{ "missing disp32", 64, B(0x8b, 0x80, 1, 2), SHV_DECODE_SHORT },
	{ "missing imm", 64, B(0xb8, 1, 2, 3), SHV_DECODE_SHORT },
	{ "only prefixes", 64, B(0x66, 0xf3, 0x48), SHV_DECODE_SHORT },
	{ "bad mode", 8, B(0x90), SHV_DECODE_UD },
};

static void test_bad_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct shv_insn in;
		int r = shv_decode(c->bytes, c->n, c->mode, &in);

		if (r != c->expect)
			failf("decode returned %d, expected %d\n", r,
			      c->expect);
		report("decode %s", c->name);
	}
}

/* ================================================================== */
/* 2. emulator tables                                                  */
/* ================================================================== */

/*
 * Guest memory of the table tests, by linear address: RAM at [0, LOW_SIZE)
 * and [HIGH_BASE, 4G), a device at [MMIO_BASE, +MMIO_SIZE) answered the
 * way emulate.c does it (a read leaves, the instruction runs again with
 * the answer), anything else not present (#PF).
 */
#define LOW_SIZE	0x120000ull
#define HIGH_BASE	0xfffff000ull
#define MMIO_BASE	0x200000ull
#define MMIO_SIZE	0x1000ull

struct mmio_op {
	bool write;
	uint64_t addr;
	unsigned int len;
	uint64_t val;
};

struct tmem {
	uint8_t low[LOW_SIZE];
	uint8_t high[0x1000];
	uint8_t dev[MMIO_SIZE];
	/* replay of answered device reads, as in emulate.c */
	uint64_t answer[8];
	unsigned int nanswer, k;
	struct mmio_op log[32];
	unsigned int nlog;
	unsigned int writes;		/* write callbacks (commit rule) */
};

static struct tmem *tm;

static uint8_t *tm_byte(uint64_t la)
{
	if (la < LOW_SIZE)
		return &tm->low[la];
	if (la >= HIGH_BASE && la < 0x100000000ull)
		return &tm->high[la - HIGH_BASE];
	return NULL;
}

static bool in_dev(uint64_t la)
{
	return la >= MMIO_BASE && la < MMIO_BASE + MMIO_SIZE;
}

static int tm_fault(struct shv_emu *e, uint64_t la, bool write)
{
	e->exc = (struct shv_emu_exc){
		.vector = 14, .has_error = true, .cr2 = la,
		.error_code = (write ? 2 : 0) | (e->cpl == 3 ? 4 : 0),
	};
	return SHV_EMU_EXCEPTION;
}

static void tm_log(bool write, uint64_t la, unsigned int len, uint64_t v)
{
	if (tm->nlog < ARRAY_SIZE(tm->log))
		tm->log[tm->nlog++] = (struct mmio_op){ write, la, len, v };
}

static int tm_read(struct shv_emu *e, uint64_t la, void *buf,
		   unsigned int len)
{
	uint8_t *b = buf;

	if (in_dev(la)) {
		unsigned int k = tm->k++;
		uint64_t v = 0;

		if (k < tm->nanswer) {
			memcpy(buf, &tm->answer[k], len);
			return SHV_EMU_OK;
		}
		/* the device answers once; the instruction runs again */
		memcpy(&v, &tm->dev[la - MMIO_BASE], len);
		tm_log(false, la, len, v);
		tm->answer[tm->nanswer++] = v;
		return SHV_EMU_EXIT;
	}
	for (unsigned int i = 0; i < len; i++) {
		uint8_t *p = tm_byte(la + i);

		if (!p)
			return tm_fault(e, la + i, false);
		b[i] = *p;
	}
	return SHV_EMU_OK;
}

static int tm_write(struct shv_emu *e, uint64_t la, const void *buf,
		    unsigned int len)
{
	const uint8_t *b = buf;

	tm->writes++;
	if (in_dev(la)) {
		uint64_t v = 0;

		memcpy(&v, buf, len);
		memcpy(&tm->dev[la - MMIO_BASE], buf, len);
		tm_log(true, la, len, v);
		return SHV_EMU_OK;
	}
	for (unsigned int i = 0; i < len; i++)
		if (!tm_byte(la + i))
			return tm_fault(e, la + i, true);
	for (unsigned int i = 0; i < len; i++)
		*tm_byte(la + i) = b[i];
	return SHV_EMU_OK;
}

static const struct shv_emu_ops tm_ops = { .read = tm_read,
					   .write = tm_write };

static struct shv_emu E;

static void seg_set(int s, uint16_t sel, uint64_t base, uint32_t limit,
		    uint8_t type, bool db)
{
	E.seg[s] = (struct shv_emu_seg){ .base = base, .limit = limit,
					 .selector = sel, .type = type,
					 .db = db };
}

/* a fresh vCPU in mode: real (16), flat protected (32) or long (64) */
static void t_reset(int mode)
{
	memset(tm, 0, sizeof(*tm));
	memset(&E, 0, sizeof(E));
	E.ops = &tm_ops;
	E.mode = mode;
	E.pe = mode != 16;
	E.rflags = 2;
	E.va_bits = 48;
	E.features = SHV_EMU_F_BMI1 | SHV_EMU_F_LZCNT | SHV_EMU_F_POPCNT |
		     SHV_EMU_F_MOVBE | SHV_EMU_F_CX16;
	for (int s = 0; s < SHV_EMU_NR_SEGS; s++) {
		if (mode == 16)
			seg_set(s, 0, 0, 0xffff, 3, false);
		else
			seg_set(s, 0x10, 0, 0xffffffff, 3, true);
	}
	if (mode == 16)
		seg_set(SHV_EMU_CS, 0, 0, 0xffff, 0xb, false);
	else
		seg_set(SHV_EMU_CS, 8, 0, 0xffffffff, 0xb, mode == 32);
}

static uint64_t mem_get(uint64_t la, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++) {
		uint8_t *p = in_dev(la + i) ? &tm->dev[la + i - MMIO_BASE] :
					      tm_byte(la + i);
		v |= (uint64_t)*p << (8 * i);
	}
	return v;
}

static void mem_put(uint64_t la, unsigned int len, uint64_t v)
{
	for (unsigned int i = 0; i < len; i++, v >>= 8) {
		if (in_dev(la + i))
			tm->dev[la + i - MMIO_BASE] = v;
		else
			*tm_byte(la + i) = v;
	}
}

/*
 * Decode and run the instruction like emulate.c: again after each device
 * read (at most 8 times), and for each REP iteration while rep_more.
 */
static int t_run_bytes(const uint8_t *b, unsigned int n)
{
	unsigned int attempts = 0, iters = 0;
	int r;

	tm->nanswer = 0;
	r = shv_emu_decode(&E, b, n);
	if (r)
		return r;
	for (;;) {
		tm->k = 0;
		r = shv_emu_exec(&E);
		if (r == SHV_EMU_EXIT && ++attempts < 8)
			continue;
		if (r != SHV_EMU_OK || !E.rep_more || ++iters > 100000)
			return r;
		tm->nanswer = 0;
		attempts = 0;
	}
}

#define RUN(...) t_run_bytes((const uint8_t[]){ __VA_ARGS__ }, \
			     sizeof((uint8_t[]){ __VA_ARGS__ }))

#define EQ(got, want) do {						\
	unsigned long long g_ = (got), w_ = (want);			\
	if (g_ != w_)							\
		failf("line %d: %s = %#llx, expected %#llx\n", __LINE__,	\
		      #got, g_, w_);					\
} while (0)

/* expect an exception with error code (or ~0u for none) */
#define EXC(r, vec, err) do {						\
	EQ(r, SHV_EMU_EXCEPTION);					\
	if ((r) == SHV_EMU_EXCEPTION) {					\
		EQ(E.exc.vector, vec);					\
		if ((err) == ~0u)					\
			EQ(E.exc.has_error, 0);				\
		else							\
			EQ(E.exc.error_code, err);			\
	}								\
} while (0)

#define LOGEQ(i, w, a, l, v) do {					\
	EQ(tm->nlog > (i), 1);						\
	if (tm->nlog > (i)) {						\
		EQ(tm->log[i].write, w);				\
		EQ(tm->log[i].addr, a);					\
		EQ(tm->log[i].len, l);					\
		EQ(tm->log[i].val, v);					\
	}								\
} while (0)

/* --- real mode --- */

static void t_real_ea_wrap(void)
{
	t_reset(16);
	seg_set(SHV_EMU_DS, 0x1000, 0x10000, 0xffff, 3, false);
	E.regs[RBX] = 0xfff0;
	E.regs[RSI] = 0x0010;
	E.regs[RAX] = 0x12345678;
	mem_put(0x10010, 2, 0xbeef);
	EQ(RUN(0x8b, 0x40, 0x10), SHV_EMU_OK);	/* mov ax, [bx+si+0x10] */
	EQ(E.regs[RAX], 0x1234beef);
	EQ(E.rip, 3);
}

static void t_real_bp_uses_ss(void)
{
	t_reset(16);
	seg_set(SHV_EMU_DS, 0x1000, 0x10000, 0xffff, 3, false);
	seg_set(SHV_EMU_SS, 0x2000, 0x20000, 0xffff, 3, false);
	E.regs[RBP] = 0x100;
	mem_put(0x20102, 2, 0x1111);
	mem_put(0x10102, 2, 0x2222);
	EQ(RUN(0x8b, 0x46, 0x02), SHV_EMU_OK);		/* [bp+2]: SS */
	EQ(E.regs[RAX], 0x1111);
	EQ(RUN(0x3e, 0x8b, 0x46, 0x02), SHV_EMU_OK);	/* ds: override */
	EQ(E.regs[RAX], 0x2222);
	E.regs[RBX] = 0x100;
	E.regs[RDI] = 0;
	mem_put(0x20100, 2, 0x3333);
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);		/* [bp+di]: SS */
	EQ(E.regs[RAX], 0x3333);
}

static void t_real_limit(void)
{
	int r;

	t_reset(16);
	r = RUN(0x8b, 0x06, 0xff, 0xff);		/* mov ax, [0xffff] */
	EXC(r, 13, 0);
	EQ(RUN(0x8a, 0x06, 0xff, 0xff), SHV_EMU_OK);	/* the byte is fine */
	E.regs[RBP] = 0xffff;
	r = RUN(0x8b, 0x46, 0x00);			/* ss:[bp] word */
	EXC(r, 12, 0);
	E.regs[RBX] = 0x10000;
	r = RUN(0x67, 0x8b, 0x03);			/* [ebx] > limit */
	EXC(r, 13, 0);
	EQ(E.rip, 4);
}

static void t_real_unreal(void)
{
	t_reset(16);
	seg_set(SHV_EMU_DS, 0, 0, 0xffffffff, 3, false);
	E.regs[RBX] = 0x100000;
	mem_put(0x100000, 4, 0xcafef00d);
	EQ(RUN(0x66, 0x67, 0x8b, 0x03), SHV_EMU_OK);	/* mov eax, [ebx] */
	EQ(E.regs[RAX], 0xcafef00d);
}

static void t_real_stack_wrap(void)
{
	t_reset(16);
	seg_set(SHV_EMU_SS, 0x3000, 0x30000, 0xffff, 3, false);
	E.regs[RSP] = 0x12340000;
	E.regs[RBX] = 0x500;
	mem_put(0x500, 2, 0xa5a5);
	EQ(RUN(0xff, 0x37), SHV_EMU_OK);		/* push word [bx] */
	EQ(E.regs[RSP], 0x1234fffe);
	EQ(mem_get(0x3fffe, 2), 0xa5a5);
	EQ(RUN(0x8f, 0x06, 0x00, 0x06), SHV_EMU_OK);	/* pop word [0x600] */
	EQ(E.regs[RSP], 0x12340000);
	EQ(mem_get(0x600, 2), 0xa5a5);
}

static void t_real_string_wrap(void)
{
	t_reset(16);
	seg_set(SHV_EMU_DS, 0x1000, 0x10000, 0xffff, 3, false);
	seg_set(SHV_EMU_ES, 0x2000, 0x20000, 0xffff, 3, false);
	mem_put(0x1ffff, 1, 0x11);
	mem_put(0x10000, 1, 0x22);
	E.regs[RSI] = 0xffff;
	E.regs[RDI] = 0;
	E.regs[RCX] = 0xabcd0002;
	EQ(RUN(0xf3, 0xa4), SHV_EMU_OK);		/* rep movsb */
	EQ(mem_get(0x20000, 2), 0x2211);
	EQ(E.regs[RSI], 1);
	EQ(E.regs[RDI], 2);
	EQ(E.regs[RCX], 0xabcd0000);
	EQ(E.rip, 2);

	E.rip = 0;
	E.rflags |= FL_DF;
	E.regs[RDI] = 2;
	E.regs[RCX] = 3;
	E.regs[RAX] = 0x7777;
	EQ(RUN(0xf3, 0xab), SHV_EMU_OK);		/* std; rep stosw */
	EQ(mem_get(0x20002, 2), 0x7777);
	EQ(mem_get(0x20000, 2), 0x7777);
	EQ(mem_get(0x2fffe, 2), 0x7777);
	EQ(E.regs[RDI], 0xfffc);
	EQ(E.regs[RCX], 0);

	E.rip = 0;
	EQ(RUN(0xf3, 0xab), SHV_EMU_OK);		/* CX = 0: nothing */
	EQ(E.regs[RDI], 0xfffc);
	EQ(E.rip, 2);
}

static void t_real_ip_wrap(void)
{
	t_reset(16);
	E.rip = 0xfffe;
	EQ(RUN(0x8b, 0x07, 0x90), SHV_EMU_OK);		/* 3 bytes: IP wraps */
	EQ(E.rip, 0);
	E.rip = 0xfffe;
	EQ(RUN(0xc7, 0x07, 0x34, 0x12), SHV_EMU_OK);
	EQ(E.rip, 2);
}

static void t_real_misc(void)
{
	t_reset(16);
	E.regs[RSI] = 0x40;
	mem_put(0x40, 1, 0x80);
	EQ(RUN(0x66, 0x0f, 0xb6, 0x04), SHV_EMU_OK);	/* movzx eax, [si] */
	EQ(E.regs[RAX], 0x80);
	EQ(RUN(0x66, 0x0f, 0xbe, 0x04), SHV_EMU_OK);	/* movsx eax, [si] */
	EQ(E.regs[RAX], 0xffffff80);
	EQ(RUN(0x0f, 0xbe, 0x04), SHV_EMU_OK);		/* movsx ax, [si] */
	EQ(E.regs[RAX], 0xffffff80);
	E.regs[RBX] = 0x50;
	mem_put(0x50, 2, 0x0001);
	EQ(RUN(0x83, 0x07, 0xff), SHV_EMU_OK);		/* add word [bx], -1 */
	EQ(mem_get(0x50, 2), 0);
	EQ(E.rflags & FL_ARITH, FL_CF | FL_ZF | FL_PF | FL_AF);
	E.regs[RAX] = 0x1234;
	EQ(RUN(0x87, 0x07), SHV_EMU_OK);		/* xchg [bx], ax */
	EQ(E.regs[RAX], 0);
	EQ(mem_get(0x50, 2), 0x1234);
}

static void t_vm86(void)
{
	t_reset(16);
	E.pe = true;
	E.vm86 = true;
	E.cpl = 3;
	seg_set(SHV_EMU_DS, 0x1000, 0x10000, 0xffff, 0, false);
	E.seg[SHV_EMU_DS].unusable = true;	/* ignored in vm86 */
	E.regs[RBX] = 0x10;
	E.regs[RAX] = 0x4242;
	EQ(RUN(0x89, 0x07), SHV_EMU_OK);
	EQ(mem_get(0x10010, 2), 0x4242);
	EXC(RUN(0x89, 0x06, 0xff, 0xff), 13, 0);
}

/* --- 32-bit protected mode --- */

static void t_real_moves_stack(void)
{
	t_reset(16);
	seg_set(SHV_EMU_SS, 0x2000, 0x20000, 0xffff, 3, false);
	E.regs[RSP] = 0x100;
	EQ(RUN(0xb8, 0x34, 0x12), SHV_EMU_OK);		/* mov ax, 0x1234 */
	EQ(E.regs[RAX], 0x1234);
	EQ(RUN(0xb7, 0x56), SHV_EMU_OK);		/* mov bh, 0x56 */
	EQ(E.regs[RBX], 0x5600);
	EQ(RUN(0x66, 0xb9, 0x78, 0x56, 0x34, 0x12), SHV_EMU_OK);
	EQ(E.regs[RCX], 0x12345678);			/* mov ecx, imm32 */
	EQ(RUN(0x50), SHV_EMU_OK);			/* push ax */
	EQ(E.regs[RSP], 0xfe);
	EQ(mem_get(0x200fe, 2), 0x1234);
	EQ(RUN(0x5a), SHV_EMU_OK);			/* pop dx */
	EQ(E.regs[RDX], 0x1234);
	EQ(RUN(0x66, 0x51), SHV_EMU_OK);		/* push ecx */
	EQ(mem_get(0x200fc, 4), 0x12345678);
	EQ(RUN(0x66, 0x5f), SHV_EMU_OK);		/* pop edi */
	EQ(E.regs[RDI], 0x12345678);
	EQ(RUN(0x6a, 0xfe), SHV_EMU_OK);		/* push -2 */
	EQ(mem_get(0x200fe, 2), 0xfffe);
	EQ(RUN(0x44), SHV_EMU_OK);			/* inc sp */
	EQ(E.regs[RSP], 0xff);
	EQ(RUN(0x4c), SHV_EMU_OK);			/* dec sp */
	E.regs[RSI] = 0x10;
	E.regs[RBX] = 0x20;
	EQ(RUN(0x8d, 0x40, 0x05), SHV_EMU_OK);		/* lea ax, [bx+si+5] */
	EQ(E.regs[RAX], 0x35);
	EQ(RUN(0x96), SHV_EMU_OK);			/* xchg ax, si */
	EQ(E.regs[RSI], 0x35);
	EQ(E.regs[RAX], 0x10);
	E.regs[RAX] = 0x80;
	EQ(RUN(0x98), SHV_EMU_OK);			/* cbw */
	EQ(E.regs[RAX], 0xff80);
	EQ(RUN(0x99), SHV_EMU_OK);			/* cwd */
	EQ(E.regs[RDX], 0xffff);
	/* pusha/popa: SP as it was, skipped on the way back */
	E.regs[RSP] = 0x100;
	E.regs[RBP] = 0xbbbb;
	EQ(RUN(0x60), SHV_EMU_OK);
	EQ(E.regs[RSP], 0xf0);
	EQ(mem_get(0x200f6, 2), 0x100);
	EQ(mem_get(0x200fe, 2), 0xff80);
	E.regs[RAX] = E.regs[RBP] = 0;
	E.regs[RSP] = 0xf0;
	EQ(RUN(0x61), SHV_EMU_OK);
	EQ(E.regs[RAX], 0xff80);
	EQ(E.regs[RBP], 0xbbbb);
	EQ(E.regs[RSP], 0x100);
	/* the stack wraps inside PUSHA: slots on both sides of 0 */
	E.regs[RSP] = 4;
	EQ(RUN(0x60), SHV_EMU_OK);
	EQ(E.regs[RSP], 0xfff4);
	EQ(mem_get(0x20002, 2), 0xff80);
	EQ(mem_get(0x2fff4, 2), 0x5678);		/* DI */
	/* enter/leave */
	E.regs[RSP] = 0x100;
	E.regs[RBP] = 0x1111;
	EQ(RUN(0xc8, 0x10, 0x00, 0x00), SHV_EMU_OK);	/* enter 16, 0 */
	EQ(E.regs[RBP], 0xfe);
	EQ(E.regs[RSP], 0xee);
	EQ(RUN(0xc9), SHV_EMU_OK);			/* leave */
	EQ(E.regs[RBP], 0x1111);
	EQ(E.regs[RSP], 0x100);
	EQ(RUN(0xc8, 0x10, 0x00, 0x01), SHV_EMU_UNHANDLED);
}

static void t_real_branches(void)
{
	t_reset(16);
	E.regs[RSP] = 0x100;
	E.rip = 0x10;
	EQ(RUN(0xeb, 0x10), SHV_EMU_OK);		/* jmp short +16 */
	EQ(E.rip, 0x22);
	EQ(RUN(0xe9, 0xde, 0xff), SHV_EMU_OK);		/* jmp near -34 */
	EQ(E.rip, 0x3);
	E.rip = 0xfff0;
	EQ(RUN(0xe9, 0x20, 0x00), SHV_EMU_OK);		/* IP wraps */
	EQ(E.rip, 0x13);
	E.rflags |= FL_ZF;
	EQ(RUN(0x74, 0x05), SHV_EMU_OK);		/* jz taken */
	EQ(E.rip, 0x1a);
	EQ(RUN(0x75, 0x05), SHV_EMU_OK);		/* jnz not */
	EQ(E.rip, 0x1c);
	EQ(RUN(0x0f, 0x84, 0x00, 0x01), SHV_EMU_OK);	/* jz near */
	EQ(E.rip, 0x120);
	EQ(RUN(0xe8, 0x00, 0x10), SHV_EMU_OK);		/* call near */
	EQ(E.rip, 0x1123);
	EQ(E.regs[RSP], 0xfe);
	EQ(mem_get(0xfe, 2), 0x123);
	EQ(RUN(0xc2, 0x04, 0x00), SHV_EMU_OK);		/* ret 4 */
	EQ(E.rip, 0x123);
	EQ(E.regs[RSP], 0x104);
	E.regs[RCX] = 0x10002;
	EQ(RUN(0xe2, 0xfe), SHV_EMU_OK);		/* loop: CX 1 */
	EQ(E.rip, 0x123);
	EQ(E.regs[RCX], 0x10001);
	EQ(RUN(0xe2, 0xfe), SHV_EMU_OK);		/* CX 0: falls through */
	EQ(E.rip, 0x125);
	EQ(RUN(0xe3, 0x10), SHV_EMU_OK);		/* jcxz */
	EQ(E.rip, 0x137);
	/* beyond CS's limit: #GP, nothing changes */
	seg_set(SHV_EMU_CS, 0, 0, 0x1000, 0xb, false);
	EXC(RUN(0xe9, 0x00, 0x20), 13, 0);
	EQ(E.rip, 0x137);
}

static void t_real_segments(void)
{
	t_reset(16);
	E.idt.limit = 0x3ff;
	seg_set(SHV_EMU_DS, 0x10, 0, 0xffffffff, 3, false);	/* unreal */
	E.regs[RAX] = 0x2345;
	EQ(RUN(0x8e, 0xd8), SHV_EMU_OK);		/* mov ds, ax */
	EQ(E.seg[SHV_EMU_DS].base, 0x23450);
	EQ(E.seg[SHV_EMU_DS].limit, 0xffffffff);	/* kept */
	EQ(E.seg_dirty, 1u << SHV_EMU_DS);
	EQ(E.events, 0);
	EQ(RUN(0x8e, 0xd0), SHV_EMU_OK);		/* mov ss, ax */
	EQ(E.events, SHV_EMU_EV_SHADOW);
	EXC(RUN(0x8e, 0xc8), 6, ~0u);			/* mov cs, ax */
	E.regs[RSP] = 0x100;
	EQ(RUN(0x1e), SHV_EMU_OK);			/* push ds */
	EQ(RUN(0x07), SHV_EMU_OK);			/* pop es */
	EQ(E.seg[SHV_EMU_ES].selector, 0x2345);
	EQ(E.seg[SHV_EMU_ES].base, 0x23450);
	EQ(RUN(0x0f, 0xa0), SHV_EMU_OK);		/* push fs */
	EQ(RUN(0x0f, 0xa9), SHV_EMU_OK);		/* pop gs */
	EQ(E.seg[SHV_EMU_GS].selector, 0);
	mem_put(0x23450 + 0x40, 4, 0x9000abcd);
	E.regs[RSI] = 0x40;
	EQ(RUN(0xc4, 0x1c), SHV_EMU_OK);		/* les bx, [si] */
	EQ(E.regs[RBX], 0xabcd);
	EQ(E.seg[SHV_EMU_ES].base, 0x90000);
	EQ(RUN(0x0f, 0xb2, 0x24), SHV_EMU_OK);		/* lss sp, [si] */
	EQ(E.seg[SHV_EMU_SS].selector, 0x9000);
	EQ(E.events, 0);				/* no shadow */
	/* far transfers */
	E.regs[RSP] = 0x200;
	E.rip = 0x10;
	EQ(RUN(0xea, 0x00, 0x01, 0x00, 0x20), SHV_EMU_OK);	/* jmp 2000:100 */
	EQ(E.seg[SHV_EMU_CS].base, 0x20000);
	EQ(E.rip, 0x100);
	EQ(RUN(0x9a, 0x34, 0x12, 0x00, 0x30), SHV_EMU_OK);	/* call far */
	EQ(E.seg[SHV_EMU_CS].selector, 0x3000);
	EQ(E.rip, 0x1234);
	EQ(mem_get(0x90000 + 0x1fe, 2), 0x2000);
	EQ(mem_get(0x90000 + 0x1fc, 2), 0x105);
	EQ(RUN(0xcb), SHV_EMU_OK);				/* retf */
	EQ(E.seg[SHV_EMU_CS].selector, 0x2000);
	EQ(E.rip, 0x105);
	EQ(E.regs[RSP], 0x200);
	mem_put(0x23450 + 0x50, 4, 0x40000010);
	E.regs[RBX] = 0x50;
	EQ(RUN(0xff, 0x2f), SHV_EMU_OK);		/* jmp far [bx] */
	EQ(E.seg[SHV_EMU_CS].selector, 0x4000);
	EQ(E.rip, 0x10);
	EQ(E.seg_dirty, 1u << SHV_EMU_CS);
	/* virtual-8086 mode: the fixed limit and attributes */
	E.pe = true;
	E.vm86 = true;
	E.cpl = 3;
	E.rflags |= 0x3000;
	E.regs[RAX] = 0x100;
	EQ(RUN(0x8e, 0xd8), SHV_EMU_OK);
	EQ(E.seg[SHV_EMU_DS].limit, 0xffff);
	EQ(E.seg[SHV_EMU_DS].attr & 0xff, 0xf0);
}

static void t_real_int_iret(void)
{
	t_reset(16);
	E.idt.limit = 0x3ff;
	seg_set(SHV_EMU_CS, 0x1000, 0x10000, 0xffff, 0xb, false);
	E.regs[RSP] = 0x100;
	E.rflags = 0x2 | 0x200 | 0x100 | FL_CF;		/* IF TF CF */
	mem_put(0x21 * 4, 4, 0x50000123);		/* 5000:0123 */
	E.rip = 0x40;
	EQ(RUN(0xcd, 0x21), SHV_EMU_OK);		/* int 0x21 */
	EQ(E.seg[SHV_EMU_CS].base, 0x50000);
	EQ(E.rip, 0x123);
	EQ(E.rflags, 0x2 | FL_CF);
	EQ(E.regs[RSP], 0xfa);
	EQ(mem_get(0xfa, 2), 0x42);
	EQ(mem_get(0xfc, 2), 0x1000);
	EQ(mem_get(0xfe, 2), 0x303);
	EQ(RUN(0xcf), SHV_EMU_OK);			/* iret */
	EQ(E.rip, 0x42);
	EQ(E.seg[SHV_EMU_CS].selector, 0x1000);
	EQ(E.rflags, 0x303);
	EQ(E.events, SHV_EMU_EV_IRET);
	EQ(E.regs[RSP], 0x100);
	/* INTO without OF, INT3 */
	EQ(RUN(0xce), SHV_EMU_OK);
	EQ(E.rip, 0x43);
	mem_put(3 * 4, 4, 0x00000777);
	EQ(RUN(0xcc), SHV_EMU_OK);
	EQ(E.rip, 0x777);
	EQ(mem_get(0xfa, 2), 0x44);
	/* IVT beyond IDTR's limit: #GP, nothing changes */
	E.idt.limit = 0x83;
	E.regs[RSP] = 0x100;
	EXC(RUN(0xcd, 0x21), 13, 0x21 * 8 + 2);
	EQ(E.rip, 0x777);
	EQ(E.regs[RSP], 0x100);
	/* the stack wraps inside the frame; SP = 1 is #SS */
	E.idt.limit = 0x3ff;
	E.regs[RSP] = 2;
	EQ(RUN(0xcd, 0x21), SHV_EMU_OK);
	EQ(E.regs[RSP], 0xfffc);
	EQ(mem_get(0xfffc, 2), 0x779);
	E.regs[RSP] = 1;
	EXC(RUN(0xcd, 0x21), 12, 0);
	/* the 32-bit IRET keeps VM, VIF, VIP */
	E.regs[RSP] = 0x100;
	mem_put(0x100, 4, 0x10);
	mem_put(0x104, 4, 0x2000);
	mem_put(0x108, 4, 0x003f7fd7);
	E.rflags = 2;
	EQ(RUN(0x66, 0xcf), SHV_EMU_OK);
	EQ(E.rflags, 0x257fd7);
	EQ(E.rip, 0x10);
	/* in protected mode: not emulated */
	E.pe = true;
	EQ(RUN(0xcd, 0x21), SHV_EMU_UNHANDLED);
}

static void t_real_flags_dt(void)
{
	t_reset(16);
	E.regs[RSP] = 0x100;
	E.rflags = 0x2 | FL_CF | FL_ZF;
	EQ(RUN(0x9c), SHV_EMU_OK);			/* pushf */
	EQ(mem_get(0xfe, 2), 0x43);
	mem_put(0xfe, 2, 0xffff);
	EQ(RUN(0x9d), SHV_EMU_OK);			/* popf: IOPL too */
	EQ(E.rflags, 0x7fd7);
	EQ(RUN(0xfa), SHV_EMU_OK);			/* cli */
	EQ(E.rflags & 0x200, 0);
	EQ(RUN(0xfb), SHV_EMU_OK);			/* sti: a shadow */
	EQ(E.events, SHV_EMU_EV_SHADOW);
	EQ(RUN(0xfb), SHV_EMU_OK);			/* IF already set */
	EQ(E.events, 0);
	E.regs[RAX] = 0x0100;
	EQ(RUN(0x9e), SHV_EMU_OK);			/* sahf */
	EQ(E.rflags & FL_ARITH, FL_CF | FL_OF);
	EQ(RUN(0x9f), SHV_EMU_OK);			/* lahf */
	EQ(E.regs[RAX], 0x0300);
	EQ(RUN(0xf5), SHV_EMU_OK);			/* cmc */
	EQ(E.rflags & FL_CF, 0);
	EQ(RUN(0xfd), SHV_EMU_OK);			/* std */
	EQ(E.rflags & FL_DF, FL_DF);
	/* lgdt/lidt/sgdt */
	mem_put(0x200, 2, 0x27);
	mem_put(0x202, 4, 0xab012345);
	E.regs[RBX] = 0x200;
	EQ(RUN(0x0f, 0x01, 0x17), SHV_EMU_OK);		/* lgdt [bx]: 24 bits */
	EQ(E.gdt.base, 0x012345);
	EQ(E.gdt.limit, 0x27);
	EQ(E.dt_dirty, 1);
	EQ(RUN(0x66, 0x0f, 0x01, 0x1f), SHV_EMU_OK);	/* lidtd [bx] */
	EQ(E.idt.base, 0xab012345);
	EQ(E.dt_dirty, 2);
	E.regs[RBX] = 0x300;
	EQ(RUN(0x0f, 0x01, 0x07), SHV_EMU_OK);		/* sgdt [bx] */
	EQ(mem_get(0x300, 2), 0x27);
	EQ(mem_get(0x302, 4), 0x012345);
	EXC(RUN(0x0f, 0x00, 0xc0), 6, ~0u);		/* sldt: #UD */
	E.regs[RAX] = 0x11223344;
	EQ(RUN(0x66, 0x0f, 0xc8), SHV_EMU_OK);		/* bswap eax */
	EQ(E.regs[RAX], 0x44332211);
	/* virtual-8086 mode, CPL 3: LGDT is #GP */
	E.pe = E.vm86 = true;
	E.cpl = 3;
	EXC(RUN(0x0f, 0x01, 0x17), 13, 0);
}

/* protected-mode loads through the GDT (the switch from real mode) */
static void t_pm_desc_loads(void)
{
	t_reset(16);
	E.pe = true;
	E.gdt = (struct shv_emu_dt){ .base = 0x1000, .limit = 0x2f };
	mem_put(0x1008, 8, 0x00009a010000ffffull);	/* 16-bit code, 0x10000 */
	mem_put(0x1010, 8, 0x00cf92000000ffffull);	/* flat data, !accessed */
	mem_put(0x1018, 8, 0x000012000000ffffull);	/* not present */
	mem_put(0x1020, 8, 0x0000f3000000ffffull);	/* data, DPL 3 */
	mem_put(0x1028, 8, 0x00008b000000ffffull);	/* a TSS */
	E.regs[RAX] = 0x10;
	EQ(RUN(0x8e, 0xd8), SHV_EMU_OK);		/* mov ds, ax */
	EQ(E.seg[SHV_EMU_DS].limit, 0xffffffff);
	EQ(E.seg[SHV_EMU_DS].type, 3);
	EQ(E.seg[SHV_EMU_DS].db, 1);
	EQ(E.seg[SHV_EMU_DS].attr, 0xc090);
	EQ(mem_get(0x1015, 1), 0x93);			/* accessed */
	EQ(RUN(0x8e, 0xd0), SHV_EMU_OK);		/* mov ss, ax */
	EQ(E.events, SHV_EMU_EV_SHADOW);
	E.regs[RAX] = 0x13;				/* RPL 3 > DPL 0 */
	EXC(RUN(0x8e, 0xc0), 13, 0x10);
	EXC(RUN(0x8e, 0xd0), 13, 0x10);			/* SS: RPL != CPL */
	E.regs[RAX] = 0x18;
	EXC(RUN(0x8e, 0xc0), 11, 0x18);			/* #NP */
	EXC(RUN(0x8e, 0xd0), 12, 0x18);			/* #SS */
	E.regs[RAX] = 0x23;
	EQ(RUN(0x8e, 0xe0), SHV_EMU_OK);		/* DPL 3, RPL 3 */
	EXC(RUN(0x8e, 0xd0), 13, 0x20);			/* SS: DPL != CPL */
	E.regs[RAX] = 0x28;
	EXC(RUN(0x8e, 0xc0), 13, 0x28);			/* a system one */
	E.regs[RAX] = 0x30;
	EXC(RUN(0x8e, 0xc0), 13, 0x30);			/* beyond the GDT */
	E.regs[RAX] = 0;
	EQ(RUN(0x8e, 0xc0), SHV_EMU_OK);		/* null ES: unusable */
	EQ(E.seg[SHV_EMU_ES].unusable, 1);
	EXC(RUN(0x8e, 0xd0), 13, 0);			/* null SS */
	/* far jmp to the code segment; RPL above CPL is #GP */
	E.rip = 0;
	EXC(RUN(0xea, 0x34, 0x12, 0x0b, 0x00), 13, 8);	/* jmp 0xb:0x1234 */
	EQ(RUN(0xea, 0x34, 0x12, 0x08, 0x00), SHV_EMU_OK);	/* jmp 8:0x1234 */
	EQ(E.seg[SHV_EMU_CS].selector, 8);
	EQ(E.seg[SHV_EMU_CS].base, 0x10000);
	EQ(E.seg[SHV_EMU_CS].type, 0xb);
	EQ(E.rip, 0x1234);
	EXC(RUN(0xea, 0x00, 0x00, 0x10, 0x00), 13, 0x10);	/* data: #GP */
	EQ(RUN(0xea, 0x00, 0x00, 0x28, 0x00), SHV_EMU_UNHANDLED);	/* TSS */
	/* a call and its return; an outer-level return is not emulated */
	E.regs[RSP] = 0x800;
	EQ(RUN(0x9a, 0x00, 0x02, 0x08, 0x00), SHV_EMU_OK);
	EQ(E.rip, 0x200);
	EQ(mem_get(0x7fc, 4), 0x00081239ull);
	EQ(RUN(0xcb), SHV_EMU_OK);
	EQ(E.rip, 0x1239);
	mem_put(0x7fc, 4, 0x00231239);
	E.regs[RSP] = 0x7fc;
	EQ(RUN(0xcb), SHV_EMU_UNHANDLED);
	/* not at CPL 3 */
	E.cpl = 3;
	E.regs[RAX] = 0x23;
	EQ(RUN(0x8e, 0xe0), SHV_EMU_UNHANDLED);
}

static void t_pm_seg_types(void)
{
	t_reset(32);
	E.regs[RBX] = 0x100;
	seg_set(SHV_EMU_DS, 0x10, 0, 0xffffffff, 1, true);	/* RO data */
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);
	EXC(RUN(0x89, 0x03), 13, 0);
	EXC(RUN(0x80, 0x0b, 0x01), 13, 0);		/* or byte [ebx], 1 */
	seg_set(SHV_EMU_CS, 8, 0, 0xffffffff, 0xb, true);	/* readable */
	EQ(RUN(0x2e, 0x8b, 0x03), SHV_EMU_OK);
	EXC(RUN(0x2e, 0x89, 0x03), 13, 0);
	seg_set(SHV_EMU_CS, 8, 0, 0xffffffff, 0x9, true);	/* exec-only */
	EXC(RUN(0x2e, 0x8b, 0x03), 13, 0);
	E.seg[SHV_EMU_DS].unusable = true;		/* null DS */
	EXC(RUN(0x8b, 0x03), 13, 0);
	E.seg[SHV_EMU_ES].unusable = true;		/* null ES */
	E.regs[RDI] = 0x100;
	EXC(RUN(0xaa), 13, 0);				/* stosb */
	EQ(E.regs[RDI], 0x100);
}

static void t_pm_ss_limit(void)
{
	t_reset(32);
	seg_set(SHV_EMU_SS, 0x18, 0, 0xfff, 3, true);
	E.regs[RSP] = 0x1002;
	EXC(RUN(0xff, 0x30), 12, 0);		/* push [eax]: 0xffe..0x1001 */
	EQ(E.regs[RSP], 0x1002);
	E.regs[RSP] = 0xffc;
	EXC(RUN(0x8b, 0x44, 0x24, 0x04), 12, 0);	/* mov eax,[esp+4] */
	E.regs[RBP] = 0xffe;
	EXC(RUN(0x8b, 0x45, 0x00), 12, 0);		/* [ebp]: SS */
}

static void t_pm_expand_down(void)
{
	t_reset(32);
	seg_set(SHV_EMU_DS, 0x10, 0, 0xfff, 7, true);	/* exp-down, RW */
	E.regs[RBX] = 0x1000;
	EQ(RUN(0x89, 0x03), SHV_EMU_OK);
	E.regs[RBX] = 0xffe;
	EXC(RUN(0x89, 0x03), 13, 0);
	E.regs[RBX] = 0xfffffffc;
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);		/* top of 4G: ok */
	E.regs[RBX] = 0xfffffffd;
	EXC(RUN(0x8b, 0x03), 13, 0);			/* past the top */
	seg_set(SHV_EMU_DS, 0x10, 0, 0xfff, 7, false);	/* B=0: 64K top */
	E.regs[RBX] = 0xfffc;
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);
	E.regs[RBX] = 0xfffd;
	EXC(RUN(0x8b, 0x03), 13, 0);
}

static void t_pm_linear_wrap(void)
{
	t_reset(32);
	seg_set(SHV_EMU_DS, 0x10, 0xfffffff0, 0xffffffff, 3, true);
	E.regs[RBX] = 0xe;
	mem_put(0xfffffffe, 2, 0x2211);
	mem_put(0, 2, 0x4433);
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);		/* wraps at 4G */
	EQ(E.regs[RAX], 0x44332211);
	E.regs[RAX] = 0xa1b2c3d4;
	EQ(RUN(0x89, 0x03), SHV_EMU_OK);
	EQ(mem_get(0xfffffffe, 2), 0xc3d4);
	EQ(mem_get(0, 2), 0xa1b2);
}

static void t_pm_addr16(void)
{
	t_reset(32);
	E.regs[RBX] = 0x1234ffff;
	E.regs[RSI] = 2;
	mem_put(1, 4, 0x55667788);
	EQ(RUN(0x67, 0x8b, 0x00), SHV_EMU_OK);		/* [bx+si] wraps */
	EQ(E.regs[RAX], 0x55667788);
}

static void t_pm_stack16(void)
{
	t_reset(32);
	seg_set(SHV_EMU_SS, 0x18, 0x10000, 0xffff, 3, false);
	E.regs[RSP] = 0xdead0000;
	E.regs[RBX] = 0x300;
	mem_put(0x300, 4, 0x01020304);
	EQ(RUN(0x66, 0xff, 0x33), SHV_EMU_OK);		/* push word [ebx] */
	EQ(E.regs[RSP], 0xdeadfffe);
	EQ(mem_get(0x1fffe, 2), 0x0304);
	E.regs[RSP] = 0xdead0004;
	EQ(RUN(0xff, 0x33), SHV_EMU_OK);		/* push dword [ebx] */
	EQ(E.regs[RSP], 0xdead0000);
	EQ(mem_get(0x10000, 4), 0x01020304);
	E.regs[RSP] = 0xdead0002;
	EXC(RUN(0xff, 0x33), 12, 0);			/* wraps past limit */
}

static void t_pm_align_check(void)
{
	t_reset(32);
	E.am = true;
	E.cpl = 3;
	E.rflags |= FL_AC;
	E.regs[RBX] = 0x101;
	EXC(RUN(0x8b, 0x03), 17, 0);
	EQ(RUN(0x8a, 0x03), SHV_EMU_OK);
	E.regs[RBX] = 0x104;
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);
	E.regs[RBX] = 0x102;
	EQ(RUN(0x66, 0x8b, 0x03), SHV_EMU_OK);
	E.cpl = 0;
	E.regs[RBX] = 0x101;
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);
}

static void t_pm_strings(void)
{
	t_reset(32);
	seg_set(SHV_EMU_FS, 0x30, 0x1000, 0xffffffff, 3, true);
	E.regs[RSI] = 0x10;
	E.regs[RDI] = 0x2000;
	mem_put(0x1010, 4, 0xfeedface);
	EQ(RUN(0x64, 0xa5), SHV_EMU_OK);		/* movsd fs:[esi] */
	EQ(mem_get(0x2000, 4), 0xfeedface);
	EQ(E.regs[RSI], 0x14);
	EQ(E.regs[RDI], 0x2004);

	memcpy(&tm->low[0x3000], "abcdefgh", 8);
	memcpy(&tm->low[0x4000], "abcdXfgh", 8);
	E.regs[RSI] = 0x3000;
	E.regs[RDI] = 0x4000;
	E.regs[RCX] = 8;
	E.rip = 0;
	EQ(RUN(0xf3, 0xa6), SHV_EMU_OK);		/* repe cmpsb */
	EQ(E.regs[RCX], 3);
	EQ(E.regs[RSI], 0x3005);
	EQ(E.regs[RDI], 0x4005);
	EQ(E.rflags & FL_ZF, 0);
	EQ(E.rflags & FL_CF, 0);			/* 'e' > 'X' */
	EQ(E.rip, 2);

	E.regs[RDI] = 0x3000;
	E.regs[RCX] = 100;
	E.regs[RAX] = 'f';
	EQ(RUN(0xf2, 0xae), SHV_EMU_OK);		/* repne scasb */
	EQ(E.regs[RDI], 0x3006);
	EQ(E.regs[RCX], 94);
	EQ(E.rflags & FL_ZF, FL_ZF);
}

static void t_pm_branches(void)
{
	t_reset(32);
	seg_set(SHV_EMU_CS, 8, 0, 0xffff, 0xb, true);
	E.regs[RBX] = 0x500;
	E.regs[RSP] = 0x8000;
	mem_put(0x500, 4, 0x10000);
	EXC(RUN(0xff, 0x23), 13, 0);			/* jmp [ebx]: > limit */
	mem_put(0x500, 4, 0x1234);
	E.rip = 0x100;
	EQ(RUN(0xff, 0x13), SHV_EMU_OK);		/* call [ebx] */
	EQ(E.rip, 0x1234);
	EQ(E.regs[RSP], 0x7ffc);
	EQ(mem_get(0x7ffc, 4), 0x102);
}

static void t_pm_bt(void)
{
	t_reset(32);
	E.regs[RBX] = 0x1000;
	mem_put(0xffc, 4, 0x80000000);
	E.regs[RAX] = 0xffffffff;			/* bit -1 */
	EQ(RUN(0x0f, 0xa3, 0x03), SHV_EMU_OK);		/* bt [ebx], eax */
	EQ(E.rflags & FL_CF, FL_CF);
	E.regs[RAX] = 35;
	EQ(RUN(0x0f, 0xab, 0x03), SHV_EMU_OK);		/* bts [ebx], eax */
	EQ(mem_get(0x1004, 4), 8);
	EQ(E.rflags & FL_CF, 0);
	E.regs[RAX] = 0xfff0;				/* 16-bit: -16 */
	mem_put(0xffe, 2, 0x0001);
	EQ(RUN(0x66, 0x0f, 0xbb, 0x03), SHV_EMU_OK);	/* btc [ebx], ax */
	EQ(mem_get(0xffe, 2), 0);
	EQ(E.rflags & FL_CF, FL_CF);
	EQ(RUN(0x0f, 0xba, 0x23, 0x24), SHV_EMU_OK);	/* bt [ebx], 36 */
	EQ(E.rflags & FL_CF, 0);			/* bit 4 of [ebx] */
}

static void t_pm_cmpxchg8b(void)
{
	t_reset(32);
	E.regs[RDI] = 0x800;
	mem_put(0x800, 8, 0x1122334455667788ull);
	E.regs[RAX] = 0x55667788;
	E.regs[RDX] = 0x11223344;
	E.regs[RBX] = 0xaaaaaaaa;
	E.regs[RCX] = 0xbbbbbbbb;
	EQ(RUN(0xf0, 0x0f, 0xc7, 0x0f), SHV_EMU_OK);
	EQ(mem_get(0x800, 8), 0xbbbbbbbbaaaaaaaaull);
	EQ(E.rflags & FL_ZF, FL_ZF);
	EQ(RUN(0x0f, 0xc7, 0x0f), SHV_EMU_OK);
	EQ(E.rflags & FL_ZF, 0);
	EQ(E.regs[RAX], 0xaaaaaaaa);
	EQ(E.regs[RDX], 0xbbbbbbbb);
	EQ(tm->writes, 2);			/* written back on failure */
}

static void t_pm_stack_ops(void)
{
	t_reset(32);
	E.regs[RSP] = 0x7000;
	mem_put(0x7000, 4, 0x11111111);
	mem_put(0x7004, 4, 0x22222222);
	EQ(RUN(0x8f, 0x04, 0x24), SHV_EMU_OK);		/* pop [esp] */
	EQ(E.regs[RSP], 0x7004);
	EQ(mem_get(0x7004, 4), 0x11111111);		/* after increment */
	EQ(RUN(0xff, 0x34, 0x24), SHV_EMU_OK);		/* push [esp] */
	EQ(E.regs[RSP], 0x7000);
	EQ(mem_get(0x7000, 4), 0x11111111);		/* before decrement */
	E.regs[RAX] = 0;
	EQ(RUN(0x8c, 0x18), SHV_EMU_OK);		/* mov [eax], ds */
	EQ(tm->low[0], 0x10);
	EQ(tm->low[2], 0);				/* only 16 bits */
	EXC(RUN(0x8c, 0x38), 6, ~0u);			/* sreg 7 */
}

static void t_pm_divide(void)
{
	t_reset(32);
	E.regs[RBX] = 0x100;
	E.regs[RAX] = 100;
	E.regs[RDX] = 0;
	EXC(RUN(0xf7, 0x33), 0, ~0u);			/* div dword [ebx]=0 */
	EQ(E.regs[RAX], 100);
	mem_put(0x100, 4, 0xffffffff);			/* -1 */
	E.regs[RAX] = 0x80000000;
	E.regs[RDX] = 0xffffffff;
	EXC(RUN(0xf7, 0x3b), 0, ~0u);			/* idiv: overflow */
	mem_put(0x100, 4, 7);
	E.regs[RAX] = (uint32_t)-100;
	E.regs[RDX] = 0xffffffff;
	EQ(RUN(0xf7, 0x3b), SHV_EMU_OK);
	EQ(E.regs[RAX], (uint32_t)-14);
	EQ(E.regs[RDX], (uint32_t)-2);
}

static void t_pm_lock_ud(void)
{
	t_reset(32);
	E.regs[RBX] = 0x100;
	EXC(RUN(0xf0, 0x8b, 0x03), 6, ~0u);		/* lock mov */
	EXC(RUN(0xf0, 0x01, 0xd8), 6, ~0u);		/* lock add eax,ebx */
	EXC(RUN(0xf0, 0x0f, 0xa3, 0x03), 6, ~0u);	/* lock bt */
	EXC(RUN(0xf0, 0x39, 0x03), 6, ~0u);		/* lock cmp */
	EXC(RUN(0xf0, 0x85, 0x03), 6, ~0u);		/* lock test */
	EXC(RUN(0xf0, 0xa4), 6, ~0u);			/* lock movsb */
	EXC(RUN(0x0f, 0xc7, 0xc8), 6, ~0u);		/* cmpxchg8b eax */
	EXC(RUN(0xfe, 0x13), 6, ~0u);			/* FE /2 */
	EXC(RUN(0xff, 0x3b), 6, ~0u);			/* FF /7 */
	EXC(RUN(0xc6, 0x0b, 0x00), 6, ~0u);		/* C6 /1 */
	EXC(RUN(0x0f, 0xba, 0x03, 0x00), 6, ~0u);	/* BA /0 */
	EXC(RUN(0x0f, 0x0b), 6, ~0u);			/* an invalid decode */
	EQ(RUN(0xf0, 0x01, 0x03), SHV_EMU_OK);		/* lock add [ebx] */
	EQ(RUN(0xf0, 0x87, 0x03), SHV_EMU_OK);		/* lock xchg */
	EQ(E.rip, 6);
	EXC(RUN(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
		0x66, 0x66, 0x66, 0x66, 0x8b, 0x03), 13, 0);	/* 16 bytes */
}

static void t_pm_page_fault(void)
{
	t_reset(32);
	E.cpl = 3;
	E.regs[RBX] = 0x300000;				/* not present */
	E.regs[RAX] = 5;
	EXC(RUN(0x87, 0x03), 14, 4);			/* xchg: read fault */
	EQ(E.exc.cr2, 0x300000);
	EQ(E.regs[RAX], 5);
	E.regs[RSI] = 0x100;
	E.regs[RDI] = 0x300000;
	EXC(RUN(0xa5), 14, 6);				/* movsd: write */
	EQ(E.regs[RSI], 0x100);
	E.regs[RBX] = LOW_SIZE - 2;			/* straddles the end */
	EXC(RUN(0x89, 0x03), 14, 6);
	EQ(E.exc.cr2, LOW_SIZE);
	EQ(tm->low[LOW_SIZE - 1], 0);			/* nothing written */
}

/* --- MMIO: the replay of device reads and the order of accesses --- */

static void t_mmio_rmw(void)
{
	t_reset(64);
	E.regs[RBX] = MMIO_BASE + 8;
	E.regs[RAX] = 0x0f0f0f0f;
	mem_put(MMIO_BASE + 8, 4, 0xf0f0f0f1);
	EQ(RUN(0x01, 0x03), SHV_EMU_OK);		/* add [rbx], eax */
	EQ(tm->nlog, 2);
	LOGEQ(0, false, MMIO_BASE + 8, 4, 0xf0f0f0f1);
	LOGEQ(1, true, MMIO_BASE + 8, 4, 0);
	EQ(E.rflags & FL_ARITH, FL_CF | FL_ZF | FL_PF | FL_AF);
	EQ(E.rip, 2);
}

static void t_mmio_forms(void)
{
	t_reset(64);
	E.regs[RSI] = MMIO_BASE;
	E.regs[RDI] = MMIO_BASE + 0x10;
	mem_put(MMIO_BASE, 8, 0x1122334455667788ull);
	EQ(RUN(0x48, 0xa5), SHV_EMU_OK);		/* movsq dev -> dev */
	EQ(tm->nlog, 2);
	LOGEQ(1, true, MMIO_BASE + 0x10, 8, 0x1122334455667788ull);

	tm->nlog = 0;
	tm->nanswer = 0;
	E.regs[RSI] = MMIO_BASE;
	E.regs[RDI] = MMIO_BASE + 0x10;
	EQ(RUN(0x48, 0xa7), SHV_EMU_OK);		/* cmpsq dev, dev */
	EQ(tm->nlog, 2);
	EQ(tm->log[0].write | tm->log[1].write, 0);
	EQ(E.rflags & FL_ZF, FL_ZF);

	tm->nlog = 0;
	tm->nanswer = 0;
	E.regs[RSI] = 0x100;
	E.regs[RDI] = MMIO_BASE + 0x20;
	E.regs[RCX] = 3;
	mem_put(0x100, 12, 0);
	mem_put(0x100, 4, 1);
	mem_put(0x104, 4, 2);
	mem_put(0x108, 4, 3);
	EQ(RUN(0xf3, 0xa5), SHV_EMU_OK);		/* rep movsd ram -> dev */
	EQ(tm->nlog, 3);
	LOGEQ(2, true, MMIO_BASE + 0x28, 4, 3);
	EQ(E.regs[RCX], 0);

	tm->nlog = 0;
	tm->nanswer = 0;
	E.regs[RBX] = MMIO_BASE + 0x40;
	mem_put(MMIO_BASE + 0x40, 2, 0x8001);
	E.regs[RAX] = 0x5555;
	EQ(RUN(0x66, 0x87, 0x03), SHV_EMU_OK);		/* xchg [rbx], ax */
	EQ(E.regs[RAX], 0x8001);
	LOGEQ(1, true, MMIO_BASE + 0x40, 2, 0x5555);

	tm->nlog = 0;
	tm->nanswer = 0;
	E.regs[RAX] = 0;
	E.regs[RCX] = 0x77;
	EQ(RUN(0x66, 0x0f, 0xb1, 0x0b), SHV_EMU_OK);	/* cmpxchg fails */
	EQ(E.regs[RAX], 0x5555);
	EQ(tm->nlog, 2);
	LOGEQ(1, true, MMIO_BASE + 0x40, 2, 0x5555);	/* written back */

	tm->nlog = 0;
	tm->nanswer = 0;
	E.regs[RSP] = 0x8000;
	EQ(RUN(0xff, 0x33), SHV_EMU_OK);		/* push [rbx] */
	EQ(tm->nlog, 1);
	EQ(mem_get(0x7ff8, 8), 0x5555);
	EQ(RUN(0x8f, 0x03), SHV_EMU_OK);		/* pop [rbx] */
	LOGEQ(1, true, MMIO_BASE + 0x40, 8, 0x5555);

	tm->nlog = 0;
	tm->nanswer = 0;
	EQ(RUN(0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff), SHV_EMU_OK);
	LOGEQ(0, true, MMIO_BASE + 0x40, 8, 0xfffffffffffffffeull);
	EQ(RUN(0x48, 0x0f, 0xbf, 0x03), SHV_EMU_OK);	/* movsx rax, word */
	EQ(E.regs[RAX], ~1ull);
	tm->nlog = 0;
	tm->nanswer = 0;
	EQ(RUN(0xf6, 0x03, 0x01), SHV_EMU_OK);		/* test byte, 1 */
	EQ(tm->nlog, 1);
	EQ(E.rflags & FL_ZF, FL_ZF);
}

/* --- 64-bit --- */

static void t_64_addressing(void)
{
	t_reset(64);
	mem_put(0x1000, 4, 0x11111111);
	E.rip = 0x100000ff0ull;
	EQ(RUN(0x67, 0x8b, 0x05, 0x00, 0x00, 0x00, 0x00), SHV_EMU_OK);
	EQ(E.regs[RAX], 0);				/* [eip+0] = 0xff7 */
	mem_put(0xff7, 4, 0x22222222);
	E.rip = 0x100000ff0ull;
	EQ(RUN(0x67, 0x8b, 0x05, 0x00, 0x00, 0x00, 0x00), SHV_EMU_OK);
	EQ(E.regs[RAX], 0x22222222);
	seg_set(SHV_EMU_FS, 0, 0x800, 0, 0, false);	/* limits ignored */
	seg_set(SHV_EMU_DS, 0, 0x900, 0, 0, false);	/* base ignored */
	E.regs[RBX] = 0x800;
	EQ(RUN(0x64, 0x8b, 0x03), SHV_EMU_OK);		/* fs:[rbx] */
	EQ(E.regs[RAX], 0x11111111);
	E.regs[RBX] = 0x1000;
	EQ(RUN(0x3e, 0x8b, 0x03), SHV_EMU_OK);		/* ds: no base */
	EQ(E.regs[RAX], 0x11111111);
}

static void t_64_canonical(void)
{
	t_reset(64);
	E.regs[RBX] = 0x0000800000000000ull;
	EXC(RUN(0x8b, 0x03), 13, 0);
	E.regs[RBX] = 0x00007ffffffffffeull;
	EXC(RUN(0x8b, 0x03), 13, 0);			/* straddles */
	E.regs[RSP] = 0x0000800000000000ull;
	EXC(RUN(0x8b, 0x04, 0x24), 12, 0);		/* [rsp] */
	E.regs[RBX] = 0x100;
	E.regs[RSP] = 0x0000800000000008ull;
	EXC(RUN(0xff, 0x33), 12, 0);			/* push */
	E.regs[RBP] = 0x8000000000000000ull;
	EXC(RUN(0x8b, 0x45, 0x00), 12, 0);		/* [rbp] */
	E.va_bits = 57;
	E.regs[RBX] = 0x0000800000001000ull;		/* fine with LA57 */
	EXC(RUN(0x8b, 0x03), 14, 0);			/* (not mapped) */
}

static void t_64_regs(void)
{
	t_reset(64);
	E.regs[RBX] = 0x100;
	mem_put(0x100, 8, 0x8877665544332211ull);
	E.regs[RAX] = ~0ull;
	EQ(RUN(0x8b, 0x03), SHV_EMU_OK);		/* 32: zero-extend */
	EQ(E.regs[RAX], 0x44332211);
	E.regs[RAX] = ~0ull;
	EQ(RUN(0x66, 0x8b, 0x03), SHV_EMU_OK);		/* 16: merge */
	EQ(E.regs[RAX], 0xffffffffffff2211ull);
	E.regs[RAX] = 0;
	EQ(RUN(0x8a, 0x23), SHV_EMU_OK);		/* mov ah, [rbx] */
	EQ(E.regs[RAX], 0x1100);
	E.regs[RSP] = 0x5000;
	EQ(RUN(0x40, 0x8a, 0x23), SHV_EMU_OK);		/* mov spl, [rbx] */
	EQ(E.regs[RSP], 0x5011);
	E.regs[RCX] = ~0ull;
	E.rflags &= ~FL_ZF;
	EQ(RUN(0x0f, 0x44, 0x0b), SHV_EMU_OK);		/* cmovz: false */
	EQ(E.regs[RCX], 0xffffffff);
	E.regs[RSP] = 0x5000;
	EQ(RUN(0x66, 0xff, 0x33), SHV_EMU_OK);		/* push word */
	EQ(E.regs[RSP], 0x4ffe);
	EQ(RUN(0x66, 0x8f, 0x03), SHV_EMU_OK);		/* pop word */
	EQ(E.regs[RSP], 0x5000);
}

static void t_64_cx16(void)
{
	t_reset(64);
	E.regs[RDI] = 0x108;
	EXC(RUN(0x48, 0x0f, 0xc7, 0x0f), 13, 0);	/* misaligned */
	E.regs[RDI] = 0x110;
	E.regs[RBX] = 1;
	E.regs[RCX] = 2;
	EQ(RUN(0x48, 0x0f, 0xc7, 0x0f), SHV_EMU_OK);	/* 0 == 0: store */
	EQ(mem_get(0x110, 8), 1);
	EQ(mem_get(0x118, 8), 2);
	E.features = 0;
	EXC(RUN(0x48, 0x0f, 0xc7, 0x0f), 6, ~0u);
	EXC(RUN(0x0f, 0x38, 0xf0, 0x07), 6, ~0u);	/* movbe */
	EXC(RUN(0xf3, 0x0f, 0xb8, 0x07), 6, ~0u);	/* popcnt */
	E.regs[RAX] = 7;
	mem_put(0x110, 4, 0x100);
	EQ(RUN(0xf3, 0x0f, 0xbc, 0x07), SHV_EMU_OK);	/* no BMI1: BSF */
	EQ(E.regs[RAX], 8);
}

static void t_64_string32(void)
{
	t_reset(64);
	E.regs[RSI] = 0xffffffff00000100ull;
	E.regs[RDI] = 0xffffffff00000200ull;
	E.regs[RCX] = 0xffffffff00000002ull;
	mem_put(0x100, 2, 0x3412);
	EQ(RUN(0x67, 0xf3, 0xa4), SHV_EMU_OK);		/* rep movsb, addr32 */
	EQ(mem_get(0x200, 2), 0x3412);
	EQ(E.regs[RSI], 0x102);
	EQ(E.regs[RDI], 0x202);
	EQ(E.regs[RCX], 0);
	E.regs[RCX] = 1ull << 32;			/* ECX = 0 */
	EQ(RUN(0x67, 0xf3, 0xa4), SHV_EMU_OK);
	EQ(E.regs[RCX], 1ull << 32);			/* untouched */
}

static void t_64_one_iteration(void)
{
	t_reset(64);
	E.regs[RDI] = 0x100;
	E.regs[RCX] = 3;
	E.regs[RAX] = 0xab;
	EQ(shv_emu_decode(&E, (const uint8_t[]){ 0xf3, 0xaa }, 2), 0);
	EQ(shv_emu_exec(&E), SHV_EMU_OK);		/* one iteration */
	EQ(E.rep_more, 1);
	EQ(E.rip, 0);
	EQ(E.regs[RCX], 2);
	EQ(shv_emu_exec(&E), SHV_EMU_OK);
	EQ(shv_emu_exec(&E), SHV_EMU_OK);
	EQ(E.rep_more, 0);
	EQ(E.rip, 2);
	EQ(mem_get(0x100, 3), 0xababab);
}

struct table_test {
	const char *name;
	void (*fn)(void);
};

static const struct table_test table_tests[] = {
	{ "real mode: [bx+si+disp] wraps at 64K", t_real_ea_wrap },
	{ "real mode: BP bases use SS, overrides", t_real_bp_uses_ss },
	{ "real mode: segment limit #GP/#SS", t_real_limit },
	{ "real mode: big (unreal) limits", t_real_unreal },
	{ "real mode: SP wraps for push/pop r/m", t_real_stack_wrap },
	{ "real mode: SI/DI wrap, CX count, DF", t_real_string_wrap },
	{ "real mode: IP wraps", t_real_ip_wrap },
	{ "real mode: movzx/movsx/add/xchg", t_real_misc },
	{ "vm86: no type checks, limits apply", t_vm86 },
	{ "real mode: mov imm, push/pop, lea, pusha, enter", t_real_moves_stack },
	{ "real mode: jmp, jcc, call, ret, loop", t_real_branches },
	{ "real mode: segment loads, far jmp/call/retf", t_real_segments },
	{ "real mode: INT n/INT3/INTO through the IVT, IRET", t_real_int_iret },
	{ "real mode: flags, lgdt/lidt/sgdt, bswap", t_real_flags_dt },
	{ "pm16: descriptor loads, far jmp/call/retf", t_pm_desc_loads },
	{ "pm32: segment types and null selectors", t_pm_seg_types },
	{ "pm32: SS limit is #SS", t_pm_ss_limit },
	{ "pm32: expand-down segments", t_pm_expand_down },
	{ "pm32: linear addresses wrap at 4G", t_pm_linear_wrap },
	{ "pm32: 16-bit addressing wraps", t_pm_addr16 },
	{ "pm32: 16-bit stack", t_pm_stack16 },
	{ "pm32: alignment check", t_pm_align_check },
	{ "pm32: string ops, overrides, REPE/REPNE", t_pm_strings },
	{ "pm32: near branches through memory", t_pm_branches },
	{ "pm32: bit strings", t_pm_bt },
	{ "pm32: cmpxchg8b", t_pm_cmpxchg8b },
	{ "pm32: pop/push [esp], mov m16,sreg", t_pm_stack_ops },
	{ "pm32: divide errors", t_pm_divide },
	{ "pm32: LOCK misuse and invalid forms are #UD", t_pm_lock_ud },
	{ "pm32: #PF leaves state alone", t_pm_page_fault },
	{ "mmio: RMW is a read then a write", t_mmio_rmw },
	{ "mmio: movs/cmps/rep/xchg/cmpxchg/push/pop", t_mmio_forms },
	{ "64: RIP-relative, FS base, ignored DS", t_64_addressing },
	{ "64: canonical checks #GP/#SS, LA57", t_64_canonical },
	{ "64: register widths", t_64_regs },
	{ "64: cmpxchg16b, feature #UD", t_64_cx16 },
	{ "64: string ops with 32-bit addresses", t_64_string32 },
	{ "64: one REP iteration per exec", t_64_one_iteration },
};

static void test_tables(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(table_tests); i++) {
		table_tests[i].fn();
		report("emulate %s", table_tests[i].name);
	}
}

/* ================================================================== */
/* 3. the CPU as the oracle                                            */
/* ================================================================== */

/*
 * One region below 2 GiB (so 32-bit and absolute addresses reach it): a
 * code page with the stub and the register blocks, then the data the
 * instruction works on; the stack for PUSH/POP/CALL is in the data.
 */
#define CODE_SIZE	4096ull
#define DATA_SIZE	8192ull
#define STACK_OFF	0x1800ull
#define STATE_OFF	3072

struct cpu {
	uint64_t r[16];
	uint64_t fl;
};

static uint8_t *region, *data_copy;
static struct cpu *st_in, *st_out;
static uint64_t *host_rsp;
static uint64_t fs_base, gs_base;
static uint16_t host_sel[SHV_EMU_NR_SEGS];
static uint32_t host_features;
static unsigned int iterations = 40;

#define DATA		(region + CODE_SIZE)
#define DATA_LA		((uint64_t)(uintptr_t)DATA)

static sigjmp_buf sig_jb;
static volatile int sig_trapno;

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	sig_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	siglongjmp(sig_jb, 1);
}

static void riprel(uint8_t **p, const uint8_t *op, unsigned int n,
		   const void *target)
{
	int32_t d;

	memcpy(*p, op, n);
	*p += n;
	d = (int32_t)((const uint8_t *)target - (*p + 4));
	memcpy(*p, &d, 4);
	*p += 4;
}

/* mov r64, [rip+x] / mov [rip+x], r64 */
static void mov_reg(uint8_t **p, int r, bool store, const void *x)
{
	uint8_t op[3] = { 0x48 | (r >= 8 ? 4 : 0), store ? 0x89 : 0x8b,
			  ((r & 7) << 3) | 5 };

	riprel(p, op, 3, x);
}

/* write the stub around insn; returns the instruction's address */
static uint64_t build_stub(const uint8_t *insn, unsigned int len)
{
	static const uint8_t pro[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
				       0x41, 0x56, 0x41, 0x57 };
	static const uint8_t epi[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
				       0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	uint8_t *p = region, *at;

	memcpy(p, pro, sizeof(pro));
	p += sizeof(pro);
	riprel(&p, (const uint8_t[]){ 0x48, 0x89, 0x25 }, 3, host_rsp);
	riprel(&p, (const uint8_t[]){ 0xff, 0x35 }, 2, &st_in->fl);
	*p++ = 0x9d;					/* popfq */
	for (int r = 0; r < 16; r++)
		if (r != RSP)
			mov_reg(&p, r, false, &st_in->r[r]);
	mov_reg(&p, RSP, false, &st_in->r[RSP]);
	at = p;
	memcpy(p, insn, len);
	p += len;
	for (int r = 0; r < 16; r++)
		mov_reg(&p, r, true, &st_out->r[r]);
	mov_reg(&p, RSP, false, host_rsp);
	*p++ = 0x9c;					/* pushfq */
	riprel(&p, (const uint8_t[]){ 0x8f, 0x05 }, 2, &st_out->fl);
	*p++ = 0xfc;					/* cld */
	memcpy(p, epi, sizeof(epi));
	return (uint64_t)(uintptr_t)at;
}

/* run the stub: -1, or the vector of the exception the CPU raised */
static int native_run(void)
{
	if (sigsetjmp(sig_jb, 1))
		return sig_trapno;
	((void (*)(void))(uintptr_t)region)();
	return -1;
}

/* the emulator's memory: a copy of the data area */
static int nat_access(struct shv_emu *e, uint64_t la, void *buf,
		      unsigned int len, bool write)
{
	if (la < DATA_LA || la + len > DATA_LA + DATA_SIZE) {
		e->exc = (struct shv_emu_exc){ .vector = 14, .cr2 = la,
					       .has_error = true };
		return SHV_EMU_EXCEPTION;
	}
	if (write)
		memcpy(data_copy + (la - DATA_LA), buf, len);
	else
		memcpy(buf, data_copy + (la - DATA_LA), len);
	return SHV_EMU_OK;
}

static int nat_read(struct shv_emu *e, uint64_t la, void *buf,
		    unsigned int len)
{
	return nat_access(e, la, buf, len, false);
}

static int nat_write(struct shv_emu *e, uint64_t la, const void *buf,
		     unsigned int len)
{
	return nat_access(e, la, (void *)buf, len, true);
}

static const struct shv_emu_ops nat_ops = { .read = nat_read,
					    .write = nat_write };

/* --- templates --- */

enum kind {
	K_PLAIN, K_DIV, K_CMPXCHG, K_CX8, K_CX16, K_BTREG, K_SHIFT, K_SHIFTD,
	K_STRING, K_BRANCH, K_MOFFS, K_SREG, K_FORM, K_NONCANON, K_BADSS,
	K_UD,
};

enum form { F_ANY, F_BASE, F_D8, F_D32, F_SIB, F_SIBD8, F_SIBD32, F_RIP,
	    F_ABS, F_RSP, F_REG, F_NFORMS };

struct tmpl {
	char name[48];
	uint8_t pfx[2], npfx;
	bool w;
	uint8_t op[3], nop;
	int8_t digit;		/* ModRM.reg, or -1 for a random register */
	uint8_t imm;		/* immediate bytes */
	uint8_t size;		/* operand size */
	uint64_t fmask;		/* flags to compare */
	uint8_t kind;
	uint8_t form;		/* F_ANY: random memory forms */
	bool a32;		/* always 67 */
	bool no_modrm;
};

static struct tmpl tmpls[700];
static unsigned int ntmpl;

static struct tmpl *add_t(const char *name, uint8_t size, uint64_t fmask)
{
	struct tmpl *t = &tmpls[ntmpl++];

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->size = size;
	t->fmask = fmask;
	t->digit = -1;
	t->w = size == 8;
	if (size == 2)
		t->pfx[t->npfx++] = 0x66;
	return t;
}

static void set_op(struct tmpl *t, int n, ...)
{
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		t->op[i] = va_arg(ap, int);
	va_end(ap);
	t->nop = n;
}

static const char *sfx(unsigned int size)
{
	return size == 1 ? "b" : size == 2 ? "w" : size == 4 ? "l" : "q";
}

static void tname(struct tmpl *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
}

#define LOGIC_FLAGS	(FL_ARITH & ~FL_AF)

static void build_templates(void)
{
	static const char *const alu[8] = { "add", "or", "adc", "sbb", "and",
					    "sub", "xor", "cmp" };
	static const char *const grp2[8] = { "rol", "ror", "rcl", "rcr",
					     "shl", "shr", "sal", "sar" };
	static const char *const cc[16] = { "o", "no", "b", "ae", "e", "ne",
					    "be", "a", "s", "ns", "p", "np",
					    "l", "ge", "le", "g" };
	static const uint8_t vsz[3] = { 2, 4, 8 };
	static const uint8_t allsz[4] = { 1, 2, 4, 8 };
	struct tmpl *t;

	for (int o = 0; o < 8; o++) {
		uint64_t fm = (o == 1 || o == 4 || o == 6) ? LOGIC_FLAGS :
							     FL_ARITH;

		t = add_t("", 1, fm);
		set_op(t, 1, o * 8);
		tname(t, "%s m8, r8", alu[o]);
		t = add_t("", 1, fm);
		set_op(t, 1, o * 8 + 2);
		tname(t, "%s r8, m8", alu[o]);
		t = add_t("", 1, fm);
		set_op(t, 1, 0x80);
		t->digit = o;
		t->imm = 1;
		tname(t, "%sb $imm8, m8", alu[o]);
		for (int i = 0; i < 3; i++) {
			unsigned int s = vsz[i];

			t = add_t("", s, fm);
			set_op(t, 1, o * 8 + 1);
			tname(t, "%s m%u, r%u", alu[o], s * 8, s * 8);
			t = add_t("", s, fm);
			set_op(t, 1, o * 8 + 3);
			tname(t, "%s r%u, m%u", alu[o], s * 8, s * 8);
			t = add_t("", s, fm);
			set_op(t, 1, 0x81);
			t->digit = o;
			t->imm = s == 2 ? 2 : 4;
			tname(t, "%s%s $imm, m%u", alu[o], sfx(s), s * 8);
			t = add_t("", s, fm);
			set_op(t, 1, 0x83);
			t->digit = o;
			t->imm = 1;
			tname(t, "%s%s $imm8, m%u", alu[o], sfx(s), s * 8);
		}
		if (o == 7)
			continue;
		t = add_t("", 4, fm);
		t->pfx[t->npfx++] = 0xf0;
		set_op(t, 1, o * 8 + 1);
		tname(t, "lock %s m32, r32", alu[o]);
		t = add_t("", 8, fm);
		t->pfx[t->npfx++] = 0xf0;
		set_op(t, 1, 0x83);
		t->digit = o;
		t->imm = 1;
		tname(t, "lock %sq $imm8, m64", alu[o]);
	}

	for (int i = 0; i < 4; i++) {
		unsigned int s = allsz[i];
		bool b = s == 1;

		t = add_t("", s, LOGIC_FLAGS);
		set_op(t, 1, b ? 0x84 : 0x85);
		tname(t, "test m%u, r%u", s * 8, s * 8);
		t = add_t("", s, LOGIC_FLAGS);
		set_op(t, 1, b ? 0xf6 : 0xf7);
		t->digit = 0;
		t->imm = b ? 1 : s == 2 ? 2 : 4;
		tname(t, "test%s $imm, m%u", sfx(s), s * 8);
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0x86 : 0x87);
		tname(t, "xchg m%u, r%u", s * 8, s * 8);
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0x88 : 0x89);
		tname(t, "mov m%u, r%u", s * 8, s * 8);
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0x8a : 0x8b);
		tname(t, "mov r%u, m%u", s * 8, s * 8);
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0xc6 : 0xc7);
		t->digit = 0;
		t->imm = b ? 1 : s == 2 ? 2 : 4;
		tname(t, "mov%s $imm, m%u", sfx(s), s * 8);
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0xa0 : 0xa1);
		t->kind = K_MOFFS;
		t->no_modrm = true;
		tname(t, "mov moffs, %s", s == 1 ? "al" : s == 2 ? "ax" :
		      s == 4 ? "eax" : "rax");
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0xa2 : 0xa3);
		t->kind = K_MOFFS;
		t->no_modrm = true;
		tname(t, "mov %s, moffs", s == 1 ? "al" : s == 2 ? "ax" :
		      s == 4 ? "eax" : "rax");
		t = add_t("", s, 0);
		set_op(t, 1, b ? 0xf6 : 0xf7);
		t->digit = 2;
		tname(t, "not%s m%u", sfx(s), s * 8);
		t = add_t("", s, FL_ARITH);
		set_op(t, 1, b ? 0xf6 : 0xf7);
		t->digit = 3;
		tname(t, "neg%s m%u", sfx(s), s * 8);
		t = add_t("", s, FL_ARITH);
		set_op(t, 1, b ? 0xfe : 0xff);
		t->digit = 0;
		tname(t, "inc%s m%u", sfx(s), s * 8);
		t = add_t("", s, FL_ARITH);
		set_op(t, 1, b ? 0xfe : 0xff);
		t->digit = 1;
		tname(t, "dec%s m%u", sfx(s), s * 8);
		for (int d = 4; d < 8; d++) {
			static const char *const md[] = { "mul", "imul", "div",
							  "idiv" };

			t = add_t("", s, d < 6 ? FL_CF | FL_OF : 0);
			set_op(t, 1, b ? 0xf6 : 0xf7);
			t->digit = d;
			t->kind = d >= 6 ? K_DIV : K_PLAIN;
			tname(t, "%s%s m%u", md[d - 4], sfx(s), s * 8);
		}
		for (int d = 0; d < 8; d++) {
			t = add_t("", s, 0);
			set_op(t, 1, b ? 0xd0 : 0xd1);
			t->digit = d;
			t->kind = K_SHIFT;
			tname(t, "%s%s m%u", grp2[d], sfx(s), s * 8);
			t = add_t("", s, 0);
			set_op(t, 1, b ? 0xc0 : 0xc1);
			t->digit = d;
			t->imm = 1;
			t->kind = K_SHIFT;
			tname(t, "%s%s $imm8, m%u", grp2[d], sfx(s), s * 8);
			t = add_t("", s, 0);
			set_op(t, 1, b ? 0xd2 : 0xd3);
			t->digit = d;
			t->kind = K_SHIFT;
			tname(t, "%s%s %%cl, m%u", grp2[d], sfx(s), s * 8);
		}
		t = add_t("", s, FL_ARITH);
		set_op(t, 2, 0x0f, b ? 0xc0 : 0xc1);
		tname(t, "xadd r%u, m%u", s * 8, s * 8);
		t = add_t("", s, FL_ARITH);
		set_op(t, 2, 0x0f, b ? 0xb0 : 0xb1);
		t->kind = K_CMPXCHG;
		tname(t, "cmpxchg r%u, m%u", s * 8, s * 8);
		t = add_t("", s, FL_ARITH);
		t->pfx[t->npfx++] = 0xf0;
		set_op(t, 2, 0x0f, b ? 0xb0 : 0xb1);
		t->kind = K_CMPXCHG;
		tname(t, "lock cmpxchg r%u, m%u", s * 8, s * 8);
	}
	t = add_t("lock xchg m32, r32", 4, 0);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0x87);
	t = add_t("lock xadd r64, m64", 8, FL_ARITH);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 2, 0x0f, 0xc1);
	t = add_t("lock notl m32", 4, 0);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0xf7);
	t->digit = 2;
	t = add_t("lock negb m8", 1, FL_ARITH);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0xf6);
	t->digit = 3;
	t = add_t("lock incq m64", 8, FL_ARITH);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0xff);
	t->digit = 0;
	t = add_t("lock decw m16", 2, FL_ARITH);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0xff);
	t->digit = 1;
	t = add_t("cmpxchg8b m64", 4, FL_ZF);
	set_op(t, 2, 0x0f, 0xc7);
	t->digit = 1;
	t->kind = K_CX8;
	t = add_t("lock cmpxchg8b m64", 4, FL_ZF);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 2, 0x0f, 0xc7);
	t->digit = 1;
	t->kind = K_CX8;
	if (host_features & SHV_EMU_F_CX16) {
		t = add_t("lock cmpxchg16b m128", 8, FL_ZF);
		t->pfx[t->npfx++] = 0xf0;
		set_op(t, 2, 0x0f, 0xc7);
		t->digit = 1;
		t->kind = K_CX16;
	}

	for (int i = 0; i < 3; i++) {
		unsigned int s = vsz[i];
		static const char *const bt[4] = { "bt", "bts", "btr", "btc" };
		static const uint8_t btop[4] = { 0xa3, 0xab, 0xb3, 0xbb };

		for (int k = 0; k < 4; k++) {
			t = add_t("", s, FL_CF);
			set_op(t, 2, 0x0f, btop[k]);
			t->kind = K_BTREG;
			tname(t, "%s r%u, m%u", bt[k], s * 8, s * 8);
			t = add_t("", s, FL_CF);
			set_op(t, 2, 0x0f, 0xba);
			t->digit = 4 + k;
			t->imm = 1;
			tname(t, "%s%s $imm8, m%u", bt[k], sfx(s), s * 8);
		}
		t = add_t("", s, FL_CF | FL_OF);
		set_op(t, 2, 0x0f, 0xaf);
		tname(t, "imul m%u, r%u", s * 8, s * 8);
		t = add_t("", s, FL_CF | FL_OF);
		set_op(t, 1, 0x69);
		t->imm = s == 2 ? 2 : 4;
		tname(t, "imul $imm, m%u, r%u", s * 8, s * 8);
		t = add_t("", s, FL_CF | FL_OF);
		set_op(t, 1, 0x6b);
		t->imm = 1;
		tname(t, "imul $imm8, m%u, r%u", s * 8, s * 8);
		for (int k = 0; k < 4; k++) {
			static const uint8_t sd[4] = { 0xa4, 0xa5, 0xac, 0xad };

			t = add_t("", s, 0);
			set_op(t, 2, 0x0f, sd[k]);
			t->imm = !(k & 1);
			t->kind = K_SHIFTD;
			tname(t, "%s %s, r%u, m%u", k < 2 ? "shld" : "shrd",
			      k & 1 ? "%cl" : "$imm8", s * 8, s * 8);
		}
		t = add_t("", s, 0);
		set_op(t, 2, 0x0f, 0xb6);
		tname(t, "movzb m8, r%u", s * 8);
		t = add_t("", s, 0);
		set_op(t, 2, 0x0f, 0xbe);
		tname(t, "movsb m8, r%u", s * 8);
		t = add_t("", s, 0);
		set_op(t, 2, 0x0f, 0xb7);
		tname(t, "movzw m16, r%u", s * 8);
		t = add_t("", s, 0);
		set_op(t, 2, 0x0f, 0xbf);
		tname(t, "movsw m16, r%u", s * 8);
		t = add_t("", s, 0);
		set_op(t, 1, 0x63);
		tname(t, "movsxd m, r%u", s * 8);
		t = add_t("", s, 0);
		set_op(t, 2, 0x0f, 0x40 + 4 * i + 1);
		tname(t, "cmov%s m%u, r%u", cc[4 * i + 1], s * 8, s * 8);
		t = add_t("", s, FL_ZF);
		set_op(t, 2, 0x0f, 0xbc);
		tname(t, "bsf m%u, r%u", s * 8, s * 8);
		t = add_t("", s, FL_ZF);
		set_op(t, 2, 0x0f, 0xbd);
		tname(t, "bsr m%u, r%u", s * 8, s * 8);
		if (host_features & SHV_EMU_F_BMI1) {
			t = add_t("", s, FL_CF | FL_ZF);
			t->pfx[t->npfx++] = 0xf3;
			set_op(t, 2, 0x0f, 0xbc);
			tname(t, "tzcnt m%u, r%u", s * 8, s * 8);
		}
		if (host_features & SHV_EMU_F_LZCNT) {
			t = add_t("", s, FL_CF | FL_ZF);
			t->pfx[t->npfx++] = 0xf3;
			set_op(t, 2, 0x0f, 0xbd);
			tname(t, "lzcnt m%u, r%u", s * 8, s * 8);
		}
		if (host_features & SHV_EMU_F_POPCNT) {
			t = add_t("", s, FL_ARITH);
			t->pfx[t->npfx++] = 0xf3;
			set_op(t, 2, 0x0f, 0xb8);
			tname(t, "popcnt m%u, r%u", s * 8, s * 8);
		}
		if (host_features & SHV_EMU_F_MOVBE) {
			t = add_t("", s, 0);
			set_op(t, 3, 0x0f, 0x38, 0xf0);
			tname(t, "movbe m%u, r%u", s * 8, s * 8);
			t = add_t("", s, 0);
			set_op(t, 3, 0x0f, 0x38, 0xf1);
			tname(t, "movbe r%u, m%u", s * 8, s * 8);
		}
		if (s != 2) {
			t = add_t("", s, 0);
			set_op(t, 2, 0x0f, 0xc3);
			tname(t, "movnti r%u, m%u", s * 8, s * 8);
		}
	}
	for (int c = 0; c < 16; c++) {
		t = add_t("", 4, 0);
		set_op(t, 2, 0x0f, 0x40 + c);
		tname(t, "cmov%s m32, r32", cc[c]);
		t = add_t("", 1, 0);
		set_op(t, 2, 0x0f, 0x90 + c);
		tname(t, "set%s m8", cc[c]);
	}
	t = add_t("mov %sreg, m16", 4, 0);
	set_op(t, 1, 0x8c);
	t->kind = K_SREG;
	t = add_t("push m64", 4, 0);
	set_op(t, 1, 0xff);
	t->digit = 6;
	t = add_t("push m16", 2, 0);
	set_op(t, 1, 0xff);
	t->digit = 6;
	t = add_t("pop m64", 4, 0);
	set_op(t, 1, 0x8f);
	t->digit = 0;
	t = add_t("pop m16", 2, 0);
	set_op(t, 1, 0x8f);
	t->digit = 0;
	t = add_t("call *m64", 4, 0);
	set_op(t, 1, 0xff);
	t->digit = 2;
	t->kind = K_BRANCH;
	t = add_t("jmp *m64", 4, 0);
	set_op(t, 1, 0xff);
	t->digit = 4;
	t->kind = K_BRANCH;

	/* string instructions: no ModRM */
	for (int i = 0; i < 4; i++) {
		static const char *const sn[5] = { "movs", "cmps", "stos",
						   "lods", "scas" };
		static const uint8_t so[5] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
		unsigned int s = allsz[i];

		for (int k = 0; k < 5; k++) {
			bool cmp = k == 1 || k == 4;

			for (int rp = 0; rp < (cmp ? 3 : 2); rp++) {
				static const char *const rn[3] = { "", "rep ",
								   "repne " };

				t = add_t("", s, cmp ? FL_ARITH : 0);
				if (rp)
					t->pfx[t->npfx++] = rp == 1 ? 0xf3 :
								      0xf2;
				set_op(t, 1, so[k] + (s > 1));
				t->kind = K_STRING;
				t->no_modrm = true;
				tname(t, "%s%s%s", cmp && rp == 1 ? "repe " :
				      rn[rp], sn[k], sfx(s));
			}
		}
	}
	for (int k = 0; k < 3; k++) {
		static const uint8_t so[3] = { 0xa4, 0xa7, 0xab };

		t = add_t("", k ? 4 : 1, k == 1 ? FL_ARITH : 0);
		t->pfx[t->npfx++] = 0xf3;
		set_op(t, 1, so[k]);
		t->kind = K_STRING;
		t->no_modrm = true;
		t->a32 = true;
		tname(t, "addr32 rep %s", k == 0 ? "movsb" : k == 1 ?
		      "cmpsl" : "stosl");
	}
	t = add_t("fs rep movsq", 8, 0);
	t->pfx[t->npfx++] = 0x64;
	t->pfx[t->npfx++] = 0xf3;
	set_op(t, 1, 0xa5);
	t->kind = K_STRING;
	t->no_modrm = true;

	/* every addressing form, 64- and 32-bit addresses */
	for (int f = F_BASE; f < F_NFORMS; f++) {
		static const char *const fn[F_NFORMS] = {
			"", "(base)", "d8(base)", "d32(base)",
			"(base,index,s)", "d8(base,index,s)",
			"d32(base,index,s)", "d32(%rip)", "d32(,index,s)",
			"d32(%rsp)", "register",
		};

		for (int a = 0; a < 2; a++) {
			if (f == F_REG && a)
				continue;
			t = add_t("", 8, 0);
			set_op(t, 1, 0x8b);
			t->form = f;
			t->a32 = a;
			t->kind = K_FORM;
			tname(t, "mov %s%s, r64", a ? "addr32 " : "", fn[f]);
		}
	}
	t = add_t("add m32, r32: non-canonical is #GP", 4, FL_ARITH);
	set_op(t, 1, 0x01);
	t->kind = K_NONCANON;
	t = add_t("mov (%rsp), r32: non-canonical is #SS", 4, 0);
	set_op(t, 1, 0x8b);
	t->kind = K_BADSS;
	t->form = F_RSP;
	t = add_t("ss: add m32, r32: non-canonical", 4, FL_ARITH);
	t->pfx[t->npfx++] = 0x36;
	set_op(t, 1, 0x01);
	t->kind = K_NONCANON;
	t = add_t("ds: mov (%rsp), r32: non-canonical", 4, 0);
	t->pfx[t->npfx++] = 0x3e;
	set_op(t, 1, 0x8b);
	t->kind = K_BADSS;
	t->form = F_RSP;
	t = add_t("lock mov m32, r32 is #UD", 4, 0);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0x89);
	t->kind = K_UD;
	t = add_t("lock add r32, r32 is #UD", 4, 0);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 1, 0x01);
	t->kind = K_UD;
	t->form = F_REG;
	t = add_t("lock bt r32, m32 is #UD", 4, 0);
	t->pfx[t->npfx++] = 0xf0;
	set_op(t, 2, 0x0f, 0xa3);
	t->kind = K_UD;
}

/* --- one template, many random inputs --- */

struct enc {
	uint8_t b[16];
	unsigned int n;
	unsigned int disp_at;		/* patch offset of a RIP disp32 */
	int reg;			/* ModRM.reg register, -1 */
	int base, index;
	bool a32, fs;
	uint64_t target;		/* linear address of the operand */
};

static uint64_t addr_of(const struct enc *x, uint64_t la)
{
	uint64_t ea = x->fs ? la - fs_base : la;

	return x->a32 ? (uint32_t)ea : ea;
}

/* a random register for the memory address, not one in use */
static int pick_reg(const struct tmpl *t, int a, int b, int c)
{
	for (;;) {
		int r = rnd_below(16);

		if (r == RSP || r == a || r == b || r == c)
			continue;
		if (t->kind == K_DIV && (r == RAX || r == RDX))
			continue;
		if (t->kind == K_SHIFTD && r == RCX)
			continue;
		return r;
	}
}

static void encode(const struct tmpl *t, struct enc *x, struct cpu *in,
		   int form)
{
	uint8_t rex = t->w ? 0x48 : 0, modrm, sib = 0;
	unsigned int scale = 0, dsz = 0, i;
	bool has_sib = false;
	int64_t disp = 0;
	uint64_t ea, idxv = 0;

	x->n = 0;
	x->base = x->index = -1;
	for (i = 0; i < t->npfx; i++)
		x->b[x->n++] = t->pfx[i];
	if (x->a32)
		x->b[x->n++] = 0x67;
	if (x->fs)
		x->b[x->n++] = 0x64;

	x->reg = t->digit >= 0 ? -1 : (int)rnd_below(16);
	if (t->kind == K_SREG)
		x->reg = -1;
	if (x->reg == RSP && t->size != 1)
		x->reg = RBX;
	if (x->reg >= 8)
		rex |= 0x44;
	modrm = ((t->digit >= 0 ? t->digit : x->reg) & 7) << 3;
	if (t->kind == K_SREG)
		modrm = rnd_below(6) << 3;

	if (form == F_REG) {
		x->base = pick_reg(t, x->reg, -1, -1);
		modrm |= 0xc0 | (x->base & 7);
		if (x->base >= 8)
			rex |= 0x41;
		goto emit;
	}
	if (form == F_RSP || form == F_ABS || form == F_SIB ||
	    form == F_SIBD8 || form == F_SIBD32)
		has_sib = true;
	if (form == F_RSP) {
		x->base = RSP;
	} else if (form != F_RIP && form != F_ABS) {
		x->base = pick_reg(t, x->reg, -1, -1);
		if ((x->base & 7) == 4)
			has_sib = true;		/* rsp/r12 need a SIB */
	}
	if (has_sib && form != F_RSP && rnd_below(4)) {
		x->index = pick_reg(t, x->reg, x->base, -1);
		scale = rnd_below(4);
	}
	switch (form) {
	case F_D8: case F_SIBD8:
		dsz = 1;
		break;
	case F_D32: case F_SIBD32: case F_RIP: case F_ABS:
		dsz = 4;
		break;
	case F_RSP:
		dsz = rnd_below(2) ? 1 : 4;
		break;
	default:
		dsz = 0;
		if (x->base >= 0 && (x->base & 7) == 5)
			dsz = 1;		/* rbp/r13 need a disp */
	}
	if (dsz == 1)
		disp = (int8_t)rnd();
	else if (dsz == 4 && form != F_RIP && form != F_ABS)
		disp = (int32_t)(rnd_below(0x2000)) - 0x1000;
	if (x->index >= 0) {
		idxv = rnd_below(2) ? rnd_below(0x100) :
				      (uint64_t)-(int64_t)rnd_below(0x100);
		if (x->a32)
			idxv = (uint32_t)idxv | (rnd() << 32);
	}

	ea = addr_of(x, x->target);
	if (form == F_RSP) {
		disp = (int64_t)(ea - in->r[RSP]);
		if (dsz == 1 && disp != (int8_t)disp)
			dsz = 4;
	} else if (form == F_ABS) {
		disp = (int64_t)(ea - (idxv << scale));
		if (x->a32)
			disp = (int32_t)disp;
	} else if (form != F_RIP) {
		uint64_t bv = ea - (idxv << scale) - disp;

		if (x->a32)
			bv = (uint32_t)bv | (rnd() << 32);
		in->r[x->base] = bv;
	}
	if (x->index >= 0)
		in->r[x->index] = idxv;

	if (form == F_RIP) {
		modrm |= 5;
	} else if (has_sib) {
		modrm |= 4 | (dsz == 1 ? 0x40 : dsz == 4 && form != F_ABS ?
			      0x80 : 0);
		sib = (scale << 6) |
		      ((x->index >= 0 ? x->index : 4) & 7) << 3 |
		      (form == F_ABS ? 5 : (x->base & 7));
		if (x->index >= 8)
			rex |= 0x42;
		if (x->base >= 8)
			rex |= 0x41;
	} else {
		modrm |= (x->base & 7) | (dsz == 1 ? 0x40 : dsz == 4 ?
					  0x80 : 0);
		if (x->base >= 8)
			rex |= 0x41;
	}
emit:
	if (!rex && t->size == 1 && rnd_below(2))
		rex = 0x40;		/* SPL..DIL instead of AH..BH */
	if (rex)
		x->b[x->n++] = rex;
	for (i = 0; i < t->nop; i++)
		x->b[x->n++] = t->op[i];
	x->b[x->n++] = modrm;
	if (has_sib)
		x->b[x->n++] = sib;
	x->disp_at = x->n;
	for (i = 0; i < dsz; i++)
		x->b[x->n++] = disp >> (8 * i);
	for (i = 0; i < t->imm; i++) {
		uint64_t v = rnd_value();

		x->b[x->n++] = v >> (8 * (i & 7));
	}
	if (form == F_RIP)
		x->disp_at |= 0x100;	/* patched once the address is known */
}

/* shifts: the flags the SDM defines for this count */
static uint64_t shift_fmask(const struct tmpl *t, const struct enc *x,
			    const struct cpu *in)
{
	unsigned int bits = t->size * 8, op = t->digit, cnt;
	uint64_t m;

	if (t->op[0] == 0xd0 || t->op[0] == 0xd1)
		cnt = 1;
	else if (t->op[0] == 0xd2 || t->op[0] == 0xd3)
		cnt = in->r[RCX] & 0xff;
	else
		cnt = x->b[x->n - 1];
	cnt &= t->size == 8 ? 63 : 31;
	if (!cnt)
		return FL_ARITH;
	m = FL_ARITH;
	if (cnt != 1)
		m &= ~FL_OF;
	if (op >= 4)
		m &= ~FL_AF;
	if ((op == 4 || op == 5 || op == 6) && cnt >= bits)
		m &= ~(FL_CF | FL_OF);
	return m;
}

static uint64_t shiftd_fmask(const struct tmpl *t, const struct enc *x,
			     const struct cpu *in)
{
	unsigned int cnt = (t->op[1] & 1) ? in->r[RCX] & 0xff :
					    x->b[x->n - 1];

	cnt &= t->size == 8 ? 63 : 31;
	if (!cnt)
		return FL_ARITH;
	return FL_ARITH & ~FL_AF & ~(cnt == 1 ? 0 : FL_OF);
}

static void put_data(uint64_t la, unsigned int n, uint64_t v)
{
	for (unsigned int i = 0; i < n; i++, v >>= 8)
		DATA[la - DATA_LA + i] = v;
}

static uint64_t get_data(uint64_t la, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)DATA[la - DATA_LA + i] << (8 * i);
	return v;
}

static const char *vec_name(int v)
{
	static char buf[16];

	if (v < 0)
		return "none";
	snprintf(buf, sizeof(buf), "#%d", v);
	return buf;
}

static void dump_case(const struct enc *x, const struct cpu *in)
{
	failf("  bytes:");
	for (unsigned int i = 0; i < x->n; i++)
		failf(" %02x", x->b[i]);
	failf("  rflags %#llx\n", (unsigned long long)in->fl);
	for (int r = 0; r < 16; r += 4)
		failf("  in %s=%#llx %s=%#llx %s=%#llx %s=%#llx\n",
		      reg_names[r], (unsigned long long)in->r[r],
		      reg_names[r + 1], (unsigned long long)in->r[r + 1],
		      reg_names[r + 2], (unsigned long long)in->r[r + 2],
		      reg_names[r + 3], (unsigned long long)in->r[r + 3]);
}

/* one random case of t; false on a mismatch (described with failf) */
static bool run_case(const struct tmpl *t)
{
	struct cpu in;
	struct enc x = { 0 };
	uint64_t insn_la, fmask = t->fmask | FL_DF, want_rip;
	int form = t->form, nvec, evec, r;
	unsigned int i, guard;
	bool ok = true;

	for (i = 0; i < DATA_SIZE; i += 8) {
		uint64_t v = rnd();

		memcpy(DATA + i, &v, 8);
	}
	for (i = 0; i < 16; i++)
		in.r[i] = rnd_value();
	in.r[RSP] = DATA_LA + STACK_OFF - 8 * rnd_below(16);
	in.fl = 2 | (rnd() & FL_ARITH);
	if (t->kind == K_STRING && rnd_below(2))
		in.fl |= FL_DF;

	if (form == F_ANY)
		form = 1 + rnd_below(F_RIP + 2);	/* F_BASE..F_ABS */
	if (t->kind == K_BRANCH && form == F_RSP)
		form = F_BASE;
	/* QEMU's TCG gets RIP-relative SHLD/SHRD with imm8 wrong */
	if (t->kind == K_SHIFTD && t->imm && form == F_RIP)
		form = F_SIBD32;
	x.a32 = t->a32 || (!t->no_modrm && form != F_REG &&
			   rnd_below(8) == 0);
	x.fs = !x.a32 && !t->no_modrm && form >= F_BASE &&
	       form <= F_SIBD32 && rnd_below(16) == 0;
	x.target = DATA_LA + 0x100 + rnd_below(0x1400);
	if (t->kind == K_BTREG)
		x.target = DATA_LA + 0x1000;
	if (t->kind == K_CX16 && rnd_below(8))
		x.target &= ~15ull;

	if (t->kind == K_STRING) {
		unsigned int s = t->size, cnt = rnd_below(24);
		bool df = in.fl & FL_DF;
		uint64_t so = 0x600 + rnd_below(0x40) * s;
		uint64_t dof = 0xe00 + rnd_below(0x40) * s;
		int dir = df ? -1 : 1;

		if (df) {
			so += 0x200;
			dof += 0x200;
		}
		/* make the compares run for a while */
		memcpy(DATA + dof - 0x100, DATA + so - 0x100, 0x200);
		if (rnd_below(2))
			DATA[dof + dir * (int)rnd_below(32)] ^= 1;
		if (t->op[0] >= 0xae)
			in.r[RAX] = get_data(DATA_LA + dof + dir * (int)s *
					     (int)rnd_below(20), s);
		in.r[RSI] = DATA_LA + so;
		in.r[RDI] = DATA_LA + dof;
		in.r[RCX] = rnd_below(8) ? cnt : 0;
		x.n = 0;
		for (i = 0; i < t->npfx; i++) {
			if (t->pfx[i] == 0x64)
				in.r[RSI] -= fs_base;
			x.b[x.n++] = t->pfx[i];
		}
		if (t->a32) {
			in.r[RSI] = (uint32_t)in.r[RSI] | (rnd() << 32);
			in.r[RDI] = (uint32_t)in.r[RDI] | (rnd() << 32);
			in.r[RCX] |= rnd() << 32;
			x.b[x.n++] = 0x67;
		}
		if (t->w)
			x.b[x.n++] = 0x48;
		x.b[x.n++] = t->op[0];
	} else if (t->kind == K_MOFFS) {
		x.n = 0;
		for (i = 0; i < t->npfx; i++)
			x.b[x.n++] = t->pfx[i];
		if (x.a32)
			x.b[x.n++] = 0x67;
		if (t->w)
			x.b[x.n++] = 0x48;
		x.b[x.n++] = t->op[0];
		for (i = 0; i < (x.a32 ? 4u : 8u); i++)
			x.b[x.n++] = x.target >> (8 * i);
	} else {
		if (t->kind == K_DIV && rnd_below(4)) {
			unsigned int s = t->size;
			uint64_t lo = in.r[RAX];
			bool sgn = t->digit == 7;
			uint64_t hi = sgn && ((lo >> (s * 8 - 1)) & 1) ? ~0ull :
									 0;

			if (s == 1)
				in.r[RAX] = (in.r[RAX] & ~0xff00ull) |
					    ((hi & 0xff) << 8);
			else
				in.r[RDX] = hi;
		}
		if (t->kind == K_NONCANON || t->kind == K_BADSS)
			form = t->kind == K_BADSS ? F_RSP : F_BASE;
		if (t->kind == K_UD && form == F_ANY)
			form = F_BASE;
		encode(t, &x, &in, form);
		if (t->kind == K_NONCANON)
			in.r[x.base] ^= 0x8000000000000000ull;
		if (t->kind == K_BADSS)
			in.r[RSP] ^= 0x0f00000000000000ull;
		if (t->kind == K_SHIFTD && t->size == 2) {
			if (t->imm)
				x.b[x.n - 1] &= 15;
			else
				in.r[RCX] &= ~0x10ull;
		}
		if (t->kind == K_BTREG) {
			int64_t off = (int64_t)rnd_below(0x6000) - 0x3000;

			if (t->size == 2)
				off = (int16_t)off;
			in.r[x.reg] = off;
		}
	}

	insn_la = build_stub(x.b, x.n);
	if (x.disp_at & 0x100) {	/* RIP-relative: aim at the target */
		int32_t d = (int32_t)(x.target - (insn_la + x.n));

		memcpy(x.b + (x.disp_at & 0xff), &d, 4);
		insn_la = build_stub(x.b, x.n);
	}

	/* memory operands that make the interesting paths likely */
	switch (t->kind) {
	case K_DIV:
		if (rnd_below(8) && !get_data(x.target, t->size))
			put_data(x.target, 1, 3);
		break;
	case K_CMPXCHG:
		if (rnd_below(2))
			put_data(x.target, t->size, in.r[RAX]);
		break;
	case K_CX8:
	case K_CX16:
		if (rnd_below(2)) {
			unsigned int h = t->kind == K_CX16 ? 8 : 4;

			put_data(x.target, h, in.r[RAX]);
			put_data(x.target + h, h, in.r[RDX]);
		}
		break;
	case K_BRANCH:
		put_data(x.target, 8, insn_la + x.n);
		break;
	}

	if (t->kind == K_SHIFT)
		fmask = shift_fmask(t, &x, &in) | FL_DF;
	else if (t->kind == K_SHIFTD)
		fmask = shiftd_fmask(t, &x, &in) | FL_DF;

	/* the emulator, on copies */
	memcpy(data_copy, DATA, DATA_SIZE);
	memset(&E, 0, sizeof(E));
	memcpy(E.regs, in.r, sizeof(in.r));
	E.rip = insn_la;
	E.rflags = in.fl;
	E.mode = 64;
	E.pe = true;
	E.cpl = 3;
	E.am = true;
	E.va_bits = 48;
	E.features = host_features;
	E.ops = &nat_ops;
	for (i = 0; i < SHV_EMU_NR_SEGS; i++)
		E.seg[i] = (struct shv_emu_seg){ .selector = host_sel[i],
						 .type = 3, .db = 1,
						 .limit = 0xffffffff };
	E.seg[SHV_EMU_CS].type = 0xb;
	E.seg[SHV_EMU_FS].base = fs_base;
	E.seg[SHV_EMU_GS].base = gs_base;
	r = shv_emu_decode(&E, x.b, x.n);
	for (guard = 0; r == SHV_EMU_OK && guard < 100000; guard++) {
		r = shv_emu_exec(&E);
		if (r || !E.rep_more)
			break;
	}
	evec = r == SHV_EMU_EXCEPTION ? E.exc.vector : -1;
	if (r != SHV_EMU_OK && r != SHV_EMU_EXCEPTION) {
		failf("emulator returned %d\n", r);
		ok = false;
	}

	/* the CPU */
	*st_in = in;
	nvec = native_run();
	if (nvec != evec) {
		failf("exception: cpu %s, ", vec_name(nvec));
		failf("emulator %s\n", vec_name(evec));
		ok = false;
	}
	if (memcmp(DATA, data_copy, DATA_SIZE)) {
		for (i = 0; i < DATA_SIZE && DATA[i] == data_copy[i]; i++)
			;
		failf("memory differs at data+%#x: cpu %02x emulator %02x\n",
		      i, DATA[i], data_copy[i]);
		ok = false;
	}
	if (nvec < 0 && evec < 0) {
		for (i = 0; i < 16; i++) {
			if (st_out->r[i] == E.regs[i])
				continue;
			failf("%s: cpu %#llx emulator %#llx\n", reg_names[i],
			      (unsigned long long)st_out->r[i],
			      (unsigned long long)E.regs[i]);
			ok = false;
		}
		if ((st_out->fl ^ E.rflags) & fmask) {
			failf("rflags: cpu %#llx emulator %#llx (compared "
			      "%#llx)\n", (unsigned long long)st_out->fl,
			      (unsigned long long)E.rflags,
			      (unsigned long long)fmask);
			ok = false;
		}
		want_rip = insn_la + x.n;
		if (E.rip != want_rip) {
			failf("rip: emulator %#llx, expected %#llx\n",
			      (unsigned long long)E.rip,
			      (unsigned long long)want_rip);
			ok = false;
		}
	}
	if (!ok)
		dump_case(&x, &in);
	return ok;
}

/*
 * Emulated CPUs that the test may run on (the rig's QEMU TCG) do not
 * raise #SS for non-canonical stack accesses nor #UD for a misplaced
 * LOCK; probe for that once and skip those templates there.
 */
static bool quirk_no_ss, quirk_no_lock_ud;

static void probe_quirks(void)
{
	memset(st_in, 0, sizeof(*st_in));
	st_in->fl = 2;
	st_in->r[RSP] = 0x8000000000000000ull;
	build_stub((const uint8_t[]){ 0x8b, 0x04, 0x24 }, 3);
	quirk_no_ss = native_run() != 12;
	st_in->r[RSP] = DATA_LA + STACK_OFF;
	st_in->r[RBX] = DATA_LA;
	build_stub((const uint8_t[]){ 0xf0, 0x89, 0x03 }, 3);
	quirk_no_lock_ud = native_run() != 6;
}

static void test_native(void)
{
	probe_quirks();
	for (unsigned int i = 0; i < ntmpl; i++) {
		const struct tmpl *t = &tmpls[i];

		if ((quirk_no_ss && (t->kind == K_NONCANON ||
				     t->kind == K_BADSS)) ||
		    (quirk_no_lock_ud && t->kind == K_UD)) {
			report("cpu vs emulator: %s # SKIP this CPU does not "
			       "raise %s", t->name, t->kind == K_UD ? "#UD" :
			       "#SS");
			continue;
		}

		for (unsigned int k = 0; k < iterations; k++)
			if (!run_case(t))
				break;
		report("cpu vs emulator: %s", t->name);
	}
}

static uint32_t cpu_features(void)
{
	unsigned int a, b, c, d;
	uint32_t f = 0;

	__cpuid(1, a, b, c, d);
	if (c & (1u << 13))
		f |= SHV_EMU_F_CX16;
	if (c & (1u << 22))
		f |= SHV_EMU_F_MOVBE;
	if (c & (1u << 23))
		f |= SHV_EMU_F_POPCNT;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 3)))
		f |= SHV_EMU_F_BMI1;
	if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5)))
		f |= SHV_EMU_F_LZCNT;
	return f;
}

static int setup_native(void)
{
	static uint8_t altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa = { .sa_sigaction = on_signal,
				.sa_flags = SA_SIGINFO | SA_ONSTACK |
					    SA_NODEFER };
	uint16_t sel;

	region = mmap(NULL, CODE_SIZE + DATA_SIZE,
		      PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (region == MAP_FAILED)
		return -1;
	data_copy = malloc(DATA_SIZE);
	st_in = (struct cpu *)(region + STATE_OFF);
	st_out = st_in + 1;
	host_rsp = (uint64_t *)(st_out + 1);
	if (sigaltstack(&ss, NULL))
		return -1;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base);
	syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_base);
	asm volatile("mov %%es, %0" : "=r"(sel));
	host_sel[SHV_EMU_ES] = sel;
	asm volatile("mov %%cs, %0" : "=r"(sel));
	host_sel[SHV_EMU_CS] = sel;
	asm volatile("mov %%ss, %0" : "=r"(sel));
	host_sel[SHV_EMU_SS] = sel;
	asm volatile("mov %%ds, %0" : "=r"(sel));
	host_sel[SHV_EMU_DS] = sel;
	asm volatile("mov %%fs, %0" : "=r"(sel));
	host_sel[SHV_EMU_FS] = sel;
	asm volatile("mov %%gs, %0" : "=r"(sel));
	host_sel[SHV_EMU_GS] = sel;
	host_features = cpu_features();
	return 0;
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		switch (opt) {
		case 's':
			rng_state = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'n':
			iterations = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-s seed] [-n iters]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	tm = calloc(1, sizeof(*tm));
	if (!tm || setup_native()) {
		printf("TAP version 13\n1..1\nnot ok 1 setup\n");
		return 1;
	}
	build_templates();

	printf("TAP version 13\n");
	printf("1..%zu\n", ARRAY_SIZE(asm_cases) + ARRAY_SIZE(field_cases) +
	       ARRAY_SIZE(bad_cases) + ARRAY_SIZE(table_tests) + ntmpl);
	test_asm_cases();
	test_field_cases();
	test_bad_cases();
	test_tables();
	test_native();
	printf("# %d passed, %d failed\n", test_nr - test_failed, test_failed);
	return test_failed ? 1 : 0;
}
