// SPDX-License-Identifier: GPL-2.0
/*
 * x86 instruction decoder (see decode.h).  Table-driven: each opcode of
 * the one-byte and 0F maps has a byte of attributes saying whether a
 * ModRM byte and which immediate follow.  0F38 always has ModRM, 0F3A
 * ModRM and an imm8; VEX (C4/C5) and EVEX (62) select one of those maps
 * (EVEX also maps 5 and 6), AMD's XOP (8F) maps 8, 9 and 0Ah.  Lengths do
 * not depend on the VEX/EVEX payload (vector length, masking, broadcast).
 */
#include "decode.h"

#define M	0x01	/* ModRM follows */
#define I8	0x02	/* imm8 */
#define I16	0x04	/* imm16 */
#define IZ	0x08	/* imm16/32 by operand size */
#define IV	0x10	/* imm16/32/64 by operand size */
#define MO	0x20	/* moffs: address-size immediate */
#define FP	0x40	/* far pointer: imm16/32 + selector */
#define X	0x80	/* invalid or a prefix handled elsewhere */
#define I32	0x100	/* imm32 whatever the operand size (XOP map 0Ah) */

static const u8 map1[256] = {
/* 0 */	M, M, M, M, I8, IZ, 0, 0, M, M, M, M, I8, IZ, 0, X,
/* 1 */	M, M, M, M, I8, IZ, 0, 0, M, M, M, M, I8, IZ, 0, 0,
/* 2 */	M, M, M, M, I8, IZ, X, 0, M, M, M, M, I8, IZ, X, 0,
/* 3 */	M, M, M, M, I8, IZ, X, 0, M, M, M, M, I8, IZ, X, 0,
/* 4 */	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
/* 5 */	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
/* 6 */	0, 0, M, M, X, X, X, X, IZ, M | IZ, I8, M | I8, 0, 0, 0, 0,
/* 7 */	I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8,
/* 8 */	M | I8, M | IZ, M | I8, M | I8, M, M, M, M,
	M, M, M, M, M, M, M, M,
/* 9 */	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, FP, 0, 0, 0, 0, 0,
/* A */	MO, MO, MO, MO, 0, 0, 0, 0, I8, IZ, 0, 0, 0, 0, 0, 0,
/* B */	I8, I8, I8, I8, I8, I8, I8, I8, IV, IV, IV, IV, IV, IV, IV, IV,
/* C */	M | I8, M | I8, I16, 0, M, M, M | I8, M | IZ,
	I16 | I8, 0, I16, 0, 0, I8, 0, 0,
/* D */	M, M, M, M, I8, I8, 0, 0, M, M, M, M, M, M, M, M,
/* E */	I8, I8, I8, I8, I8, I8, I8, I8, IZ, IZ, FP, I8, 0, 0, 0, 0,
/* F */	X, 0, X, X, 0, 0, M, M, 0, 0, 0, 0, 0, 0, M, M,
};

static const u8 map0f[256] = {
/* 0 */	M, M, M, M, X, 0, 0, 0, 0, 0, X, 0, X, M, 0, M | I8,
/* 1 */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* 2 */	M, M, M, M, X, X, X, X, M, M, M, M, M, M, M, M,
/* 3 */	0, 0, 0, 0, 0, 0, X, 0, X, X, X, X, X, X, X, X,
/* 4 */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* 5 */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* 6 */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* 7 */	M | I8, M | I8, M | I8, M | I8, M, M, M, 0,
	M, M, X, X, M, M, M, M,
/* 8 */	IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
/* 9 */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* A */	0, 0, 0, M, M | I8, M, X, X, 0, 0, 0, M, M | I8, M, M, M,
/* B */	M, M, M, M, M, M, M, M, M, M, M | I8, M, M, M, M, M,
/* C */	M, M, M | I8, M, M | I8, M | I8, M | I8, M,
	0, 0, 0, 0, 0, 0, 0, 0,
/* D */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* E */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
/* F */	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};

/* segment override prefixes, in enum shv_seg order (ES CS SS DS FS GS) */
static int seg_prefix(u8 b)
{
	switch (b) {
	case 0x26: return 0;
	case 0x2e: return 1;
	case 0x36: return 2;
	case 0x3e: return 3;
	case 0x64: return 4;
	case 0x65: return 5;
	default: return -1;
	}
}

static bool is_legacy_prefix(u8 b)
{
	return seg_prefix(b) >= 0 || b == 0x66 || b == 0x67 || b == 0xf0 ||
	       b == 0xf2 || b == 0xf3;
}

/* record a legacy prefix; false when b is not one */
static bool legacy_prefix(struct shv_insn *insn, u8 b, bool *opsize,
			  bool *adsize)
{
	if (seg_prefix(b) >= 0)
		insn->seg = seg_prefix(b);
	else if (b == 0x66)
		*opsize = true;
	else if (b == 0x67)
		*adsize = true;
	else if (b == 0xf0)
		insn->prefixes |= SHV_PFX_LOCK;
	else if (b == 0xf2)
		insn->prefixes = (insn->prefixes & ~SHV_PFX_REP) |
				 SHV_PFX_REPNE;
	else if (b == 0xf3)
		insn->prefixes = (insn->prefixes & ~SHV_PFX_REPNE) |
				 SHV_PFX_REP;
	else
		return false;
	return true;
}

struct cursor {
	const u8 *buf;
	unsigned int avail;
	unsigned int pos;
	int bad;		/* 0 or the first SHV_DECODE_* failure */
};

static u64 take(struct cursor *c, unsigned int n)
{
	u64 v = 0;
	unsigned int i;

	if (c->bad)
		return 0;
	if (c->pos + n > SHV_INSN_MAX) {
		c->bad = SHV_DECODE_GP;
		return 0;
	}
	if (c->pos + n > c->avail) {
		c->bad = SHV_DECODE_SHORT;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (u64)c->buf[c->pos + i] << (8 * i);
	c->pos += n;
	return v;
}

static s64 sign_extend(u64 v, unsigned int bytes)
{
	unsigned int shift = 64 - 8 * bytes;

	return bytes ? (s64)(v << shift) >> shift : 0;
}

static void decode_modrm(struct cursor *c, struct shv_insn *insn)
{
	u8 base;

	insn->has_modrm = true;
	insn->modrm = take(c, 1);
	insn->mod = insn->modrm >> 6;
	insn->reg = ((insn->modrm >> 3) & 7) | ((insn->rex & 4) << 1);
	insn->rm = (insn->modrm & 7) | ((insn->rex & 1) << 3);
	if (insn->mod == 3)
		return;

	if (insn->addr_size == 2) {
		if (insn->mod == 0 && (insn->modrm & 7) == 6)
			insn->disp_size = 2;
		else if (insn->mod == 1)
			insn->disp_size = 1;
		else if (insn->mod == 2)
			insn->disp_size = 2;
	} else {
		if ((insn->modrm & 7) == 4) {
			insn->has_sib = true;
			insn->sib = take(c, 1);
			base = insn->sib & 7;
			if (insn->mod == 0 && base == 5)
				insn->disp_size = 4;
		} else if (insn->mod == 0 && (insn->modrm & 7) == 5) {
			insn->disp_size = 4;	/* disp32, RIP-relative in 64-bit */
		}
		if (insn->mod == 1)
			insn->disp_size = 1;
		else if (insn->mod == 2)
			insn->disp_size = 4;
	}
	insn->disp = sign_extend(take(c, insn->disp_size), insn->disp_size);
}

/*
 * The REX bits a VEX3/EVEX/XOP prefix carries: inverted R, X, B in bits
 * 7:5 of its first payload byte, W in bit 7 of its second.  They mean
 * nothing outside 64-bit mode.
 */
static u8 vex_rex(const struct shv_insn *insn, u8 rxb, u8 w)
{
	if (insn->mode != 64)
		return 0;
	return ((~rxb >> 5) & 7) | ((w & 0x80) ? 8 : 0);
}

static int decode_vex(struct cursor *c, struct shv_insn *insn, u8 first)
{
	u8 b1 = take(c, 1), b2;

	insn->prefixes |= SHV_PFX_VEX;
	if (first == 0xc5) {
		insn->map = SHV_MAP_0F;
		insn->rex = (b1 & 0x80) ? 0 : 4;	/* inverted R */
	} else {
		b2 = take(c, 1);
		insn->rex = vex_rex(insn, b1, b2);
		switch (b1 & 0x1f) {
		case 1:
			insn->map = SHV_MAP_0F;
			break;
		case 2:
			insn->map = SHV_MAP_0F38;
			break;
		case 3:
			insn->map = SHV_MAP_0F3A;
			break;
		default:
			return SHV_DECODE_UD;
		}
	}
	if (insn->mode != 64)
		insn->rex = 0;	/* VEX.R/X/B/W are ignored outside 64-bit */
	return 0;
}

/* EVEX: 62 P0 P1 P2; P0 = R X B R' 0 m m m, P1 = W v v v v 1 p p */
static int decode_evex(struct cursor *c, struct shv_insn *insn)
{
	u8 p0 = take(c, 1), p1 = take(c, 1);

	take(c, 1);
	insn->prefixes |= SHV_PFX_EVEX;
	if ((p0 & 0x08) || !(p1 & 0x04))
		return SHV_DECODE_UD;
	switch (p0 & 7) {
	case 1:
		insn->map = SHV_MAP_0F;
		break;
	case 2:
		insn->map = SHV_MAP_0F38;
		break;
	case 3:
		insn->map = SHV_MAP_0F3A;
		break;
	case 5:
		insn->map = SHV_MAP_EVEX5;
		break;
	case 6:
		insn->map = SHV_MAP_EVEX6;
		break;
	default:
		return SHV_DECODE_UD;
	}
	insn->rex = vex_rex(insn, p0, p1);
	return 0;
}

/* AMD XOP: 8F RXBmmmmm WvvvvLpp, maps 8, 9 and 0Ah */
static int decode_xop(struct cursor *c, struct shv_insn *insn)
{
	u8 b1 = take(c, 1), b2 = take(c, 1);

	insn->prefixes |= SHV_PFX_XOP;
	switch (b1 & 0x1f) {
	case 8:
		insn->map = SHV_MAP_XOP8;
		break;
	case 9:
		insn->map = SHV_MAP_XOP9;
		break;
	case 10:
		insn->map = SHV_MAP_XOPA;
		break;
	default:
		return SHV_DECODE_UD;
	}
	insn->rex = vex_rex(insn, b1, b2);
	return 0;
}

/* one-byte opcodes that do not exist in 64-bit mode */
static bool invalid_in_64(u8 b)
{
	switch (b) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e:
	case 0x1f: case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60:
	case 0x61: case 0x82: case 0x9a: case 0xce: case 0xd4: case 0xd5:
	case 0xd6: case 0xea:
		return true;
	default:
		return false;
	}
}

int shv_decode(const u8 *buf, unsigned int avail, int mode,
	       struct shv_insn *insn)
{
	struct cursor c = { .buf = buf, .avail = avail };
	bool opsize = false, adsize = false;
	unsigned int attr;
	u8 b, next;
	unsigned int i;
	int r;

	*insn = (struct shv_insn){ .mode = mode, .seg = -1 };

	/* legacy prefixes, then REX immediately before the opcode */
	for (;;) {
		b = take(&c, 1);
		if (c.bad)
			return c.bad;
		if (legacy_prefix(insn, b, &opsize, &adsize))
			continue;
		if (mode != 64 || (b & 0xf0) != 0x40)
			break;
		insn->rex = b;	/* only a REX right before the opcode counts */
		b = take(&c, 1);
		if (c.bad)
			return c.bad;
		if ((b & 0xf0) != 0x40 && !is_legacy_prefix(b))
			break;
		insn->rex = 0;
		c.pos--;
	}
	if (opsize)
		insn->prefixes |= SHV_PFX_OPSIZE;
	if (adsize)
		insn->prefixes |= SHV_PFX_ADSIZE;

	switch (mode) {
	case 16:
		insn->op_size = opsize ? 4 : 2;
		insn->addr_size = adsize ? 4 : 2;
		break;
	case 32:
		insn->op_size = opsize ? 2 : 4;
		insn->addr_size = adsize ? 2 : 4;
		break;
	case 64:
		insn->op_size = (insn->rex & 8) ? 8 : (opsize ? 2 : 4);
		insn->addr_size = adsize ? 4 : 8;
		break;
	default:
		return SHV_DECODE_UD;
	}

	/*
	 * VEX (C4/C5), EVEX (62) and XOP (8F) escapes.  Outside 64-bit mode
	 * C4/C5/62 are LES/LDS/BOUND unless the next byte looks like a
	 * register ModRM; 8F is POP r/m unless its ModRM.reg is non-zero.
	 */
	insn->map = SHV_MAP_1;
	next = c.pos < avail ? buf[c.pos] : 0;
	r = 0;
	if ((b == 0xc4 || b == 0xc5 || b == 0x62) &&
	    (mode == 64 || (next & 0xc0) == 0xc0)) {
		/* no 66/F2/F3/F0/REX in front of a VEX or EVEX prefix */
		if (opsize || insn->rex ||
		    (insn->prefixes & (SHV_PFX_LOCK | SHV_PFX_REP |
				       SHV_PFX_REPNE)))
			return SHV_DECODE_UD;
		if (b == 0x62)
			r = decode_evex(&c, insn);
		else
			r = decode_vex(&c, insn, b);
		b = take(&c, 1);
	} else if (b == 0x8f && c.pos < avail && (next & 0x1f) >= 8) {
		if (opsize || insn->rex ||
		    (insn->prefixes & (SHV_PFX_LOCK | SHV_PFX_REP |
				       SHV_PFX_REPNE)))
			return SHV_DECODE_UD;
		r = decode_xop(&c, insn);
		b = take(&c, 1);
	} else if (b == 0x0f) {
		b = take(&c, 1);
		insn->map = SHV_MAP_0F;
		if (b == 0x38 || b == 0x3a) {
			insn->map = b == 0x38 ? SHV_MAP_0F38 : SHV_MAP_0F3A;
			b = take(&c, 1);
		}
	}
	if (c.bad)
		return c.bad;
	if (r)
		return r;
	insn->opcode = b;

	switch (insn->map) {
	case SHV_MAP_1:
		attr = map1[b];
		if (mode == 64 && invalid_in_64(b))
			return SHV_DECODE_UD;
		break;
	case SHV_MAP_0F:
		attr = map0f[b];
		break;
	case SHV_MAP_0F3A:
	case SHV_MAP_XOP8:
		attr = M | I8;
		break;
	case SHV_MAP_XOPA:
		attr = M | I32;
		break;
	default:	/* 0F38, EVEX maps 5/6, XOP map 9 */
		attr = M;
		break;
	}
	if (attr & X)
		return SHV_DECODE_UD;

	if (attr & M) {
		decode_modrm(&c, insn);
		if (c.bad)
			return c.bad;
		/* TEST r/m, imm in group 3 */
		if (insn->map == SHV_MAP_1 && (b == 0xf6 || b == 0xf7) &&
		    (insn->reg & 7) < 2)
			attr |= b == 0xf6 ? I8 : IZ;
	}

	if (attr & I16) {
		insn->imm = take(&c, 2);
		insn->imm_size = 2;
	}
	if (attr & IZ) {
		insn->imm_size = insn->op_size == 2 ? 2 : 4;
		insn->imm = take(&c, insn->imm_size);
	}
	if (attr & I32) {
		insn->imm_size = 4;
		insn->imm = take(&c, 4);
	}
	if (attr & IV) {
		insn->imm_size = insn->op_size;
		insn->imm = take(&c, insn->imm_size);
	}
	if (attr & MO) {
		insn->imm_size = insn->addr_size;
		insn->imm = take(&c, insn->imm_size);
	}
	if (attr & FP) {
		insn->imm_size = insn->op_size == 2 ? 4 : 6;
		insn->imm = take(&c, insn->imm_size);
	}
	if (attr & I8) {
		/* ENTER has imm16 then imm8; keep the imm16 in imm */
		u64 v = take(&c, 1);

		if (!insn->imm_size) {
			insn->imm = v;
			insn->imm_size = 1;
		}
	}
	if (c.bad)
		return c.bad;

	insn->len = c.pos;
	for (i = 0; i < insn->len; i++)
		insn->bytes[i] = buf[i];
	return 0;
}
