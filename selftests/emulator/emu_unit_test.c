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
 * Prints KTAP; exits 1 when a case fails.  "-v" prints each mismatch in
 * full, "-s SEED" changes the random inputs, "-n N" iterations.
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

static int test_nr, test_failed, verbose;
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
