// SPDX-License-Identifier: GPL-2.0
/*
 * The x86 instruction emulator core (see emucore.h).  Everything an
 * instruction does is computed here from struct shv_emu and the two memory
 * callbacks; the caller owns guest memory, exits and exception delivery.
 * The code has no kernel dependencies so that the userspace unit test
 * compiles this very file.
 *
 * Commit rule: registers are changed in place and put back by
 * shv_emu_exec() unless the instruction completes; memory is written once,
 * last, so a fault or an exit never leaves a half-done instruction.
 */
#include "emucore.h"

#define FL_CF		0x0001ull
#define FL_PF		0x0004ull
#define FL_AF		0x0010ull
#define FL_ZF		0x0040ull
#define FL_SF		0x0080ull
#define FL_TF		0x0100ull
#define FL_IF		0x0200ull
#define FL_DF		0x0400ull
#define FL_OF		0x0800ull
#define FL_IOPL		0x3000ull
#define FL_NT		0x4000ull
#define FL_RF		0x10000ull
#define FL_VM		0x20000ull
#define FL_AC		0x40000ull
#define FL_VIF		0x80000ull
#define FL_VIP		0x100000ull
#define FL_ID		0x200000ull
#define FL_ARITH	(FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define GPR_AX		0
#define GPR_CX		1
#define GPR_DX		2
#define GPR_BX		3
#define GPR_SP		4
#define GPR_BP		5
#define GPR_SI		6
#define GPR_DI		7

#define VEC_DE		0
#define VEC_BP		3
#define VEC_OF		4
#define VEC_UD		6
#define VEC_NP		11
#define VEC_SS		12
#define VEC_GP		13
#define VEC_AC		17

enum { OP_NONE, OP_REG, OP_MEM };

/* an operand: a (byte) register or memory at seg:off */
struct opnd {
	u8 kind;
	u8 size;
	u8 reg;
	bool high;		/* AH, CH, DH, BH */
	u8 seg;
	u64 off;
};

enum alu_op {
	ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
	ALU_TEST, ALU_INC, ALU_DEC, ALU_NEG,
};

/* --- small helpers --- */

static u64 szmask(unsigned int sz)
{
	return sz >= 8 ? ~0ull : (1ull << (sz * 8)) - 1;
}

static u64 sext(u64 v, unsigned int sz)
{
	unsigned int sh = 64 - 8 * sz;

	return sz >= 8 ? v : (u64)((s64)(v << sh) >> sh);
}

static u64 msb(u64 v, unsigned int sz)
{
	return (v >> (sz * 8 - 1)) & 1;
}

static u64 load_le(const u8 *b, unsigned int n)
{
	u64 v = 0;

	while (n--)
		v = (v << 8) | b[n];
	return v;
}

static void store_le(u8 *b, unsigned int n, u64 v)
{
	unsigned int i;

	for (i = 0; i < n; i++, v >>= 8)
		b[i] = v;
}

static u64 bswap(u64 v, unsigned int sz)
{
	u64 r = 0;
	unsigned int i;

	for (i = 0; i < sz; i++, v >>= 8)
		r = (r << 8) | (v & 0xff);
	return r;
}

static u64 flags_szp(u64 res, unsigned int sz)
{
	u64 f = 0;
	u8 p = res;

	res &= szmask(sz);
	if (!res)
		f |= FL_ZF;
	if (msb(res, sz))
		f |= FL_SF;
	p ^= p >> 4;
	p ^= p >> 2;
	p ^= p >> 1;
	if (!(p & 1))
		f |= FL_PF;
	return f;
}

static void set_flags(struct shv_emu *e, u64 mask, u64 val)
{
	e->rflags = (e->rflags & ~mask) | (val & mask);
}

static int raise(struct shv_emu *e, u8 vector, bool has_error, u32 code)
{
	e->exc = (struct shv_emu_exc){
		.vector = vector, .has_error = has_error, .error_code = code,
	};
	return SHV_EMU_EXCEPTION;
}

static int raise_ud(struct shv_emu *e)
{
	return raise(e, VEC_UD, false, 0);
}

static int raise_gp0(struct shv_emu *e)
{
	return raise(e, VEC_GP, true, 0);
}

/* --- registers --- */

static u64 reg_get(const struct shv_emu *e, unsigned int r, unsigned int sz,
		   bool high)
{
	if (high)
		return (e->regs[r] >> 8) & 0xff;
	return e->regs[r] & szmask(sz);
}

static void reg_set(struct shv_emu *e, unsigned int r, unsigned int sz,
		    bool high, u64 v)
{
	u64 *p = &e->regs[r];

	if (high)
		*p = (*p & ~0xff00ull) | ((v & 0xff) << 8);
	else if (sz == 4)
		*p = v & 0xffffffffull;	/* 32-bit writes zero-extend */
	else if (sz == 8)
		*p = v;
	else
		*p = (*p & ~szmask(sz)) | (v & szmask(sz));
}

/* a register operand; byte registers 4-7 are AH..BH without REX */
static void opnd_reg(const struct shv_emu *e, struct opnd *o,
		     unsigned int reg, unsigned int sz)
{
	*o = (struct opnd){ .kind = OP_REG, .size = sz, .reg = reg };
	if (sz == 1 && !e->insn.rex && reg >= 4 && reg < 8) {
		o->reg = reg - 4;
		o->high = true;
	}
}

/* --- addresses --- */

static u64 addr_mask(const struct shv_emu *e)
{
	return szmask(e->insn.addr_size);
}

/* the segment an access uses: the override unless 64-bit mode ignores it */
static int pick_seg(const struct shv_emu *e, int def)
{
	int s = e->insn.seg;

	if (s < 0 || (e->mode == 64 && s < SHV_EMU_FS))
		return def;
	return s;
}

void shv_emu_modrm_ea(const struct shv_emu *e, int *seg, u64 *off)
{
	static const s8 base16[8] = { GPR_BX, GPR_BX, GPR_BP, GPR_BP,
				      -1, -1, GPR_BP, GPR_BX };
	static const s8 index16[8] = { GPR_SI, GPR_DI, GPR_SI, GPR_DI,
				       GPR_SI, GPR_DI, -1, -1 };
	const struct shv_insn *in = &e->insn;
	int def = SHV_EMU_DS;
	u64 ea = 0;

	if (in->addr_size == 2) {
		int rm = in->modrm & 7;

		if (!(in->mod == 0 && rm == 6)) {
			if (base16[rm] >= 0)
				ea += e->regs[base16[rm]];
			if (index16[rm] >= 0)
				ea += e->regs[index16[rm]];
			if (base16[rm] == GPR_BP)
				def = SHV_EMU_SS;
		}
	} else if (in->has_sib) {
		unsigned int b = (in->sib & 7) | ((in->rex & 1) << 3);
		unsigned int x = ((in->sib >> 3) & 7) | ((in->rex & 2) << 2);

		if (!((in->sib & 7) == 5 && in->mod == 0)) {
			ea += e->regs[b];
			if (b == GPR_SP || b == GPR_BP)
				def = SHV_EMU_SS;
		}
		if (x != GPR_SP)
			ea += e->regs[x] << (in->sib >> 6);
	} else if (in->mod == 0 && (in->modrm & 7) == 5) {
		if (e->mode == 64)	/* RIP-relative */
			ea = e->rip + in->len;
	} else {
		ea = e->regs[in->rm];
		if (in->rm == GPR_SP || in->rm == GPR_BP)
			def = SHV_EMU_SS;
	}
	*off = (ea + in->disp) & addr_mask(e);
	*seg = pick_seg(e, def);
}

/* the r/m operand of e->insn, a register or memory */
static void opnd_rm(const struct shv_emu *e, struct opnd *o, unsigned int sz)
{
	int seg;

	if (e->insn.mod == 3) {
		opnd_reg(e, o, e->insn.rm, sz);
		return;
	}
	*o = (struct opnd){ .kind = OP_MEM, .size = sz };
	shv_emu_modrm_ea(e, &seg, &o->off);
	o->seg = seg;
}

static void opnd_mem(struct opnd *o, int seg, u64 off, unsigned int sz)
{
	*o = (struct opnd){ .kind = OP_MEM, .size = sz, .seg = seg,
			    .off = off };
}

static bool canonical(const struct shv_emu *e, u64 la)
{
	unsigned int sh = 64 - (e->va_bits ? e->va_bits : 48);

	return (u64)((s64)(la << sh) >> sh) == la;
}

/*
 * Segmentation: seg:off for len bytes to a linear address, with the
 * checks of the mode (#GP(0), or #SS(0) for the stack segment).
 */
static int linearize(struct shv_emu *e, int seg, u64 off, unsigned int len,
		     bool write, u64 *la)
{
	const struct shv_emu_seg *s = &e->seg[seg];
	u8 vec = seg == SHV_EMU_SS ? VEC_SS : VEC_GP;
	u64 last = off + len - 1;

	if (e->mode == 64) {
		u64 a = (seg >= SHV_EMU_FS ? s->base : 0) + off;

		if (!canonical(e, a) || !canonical(e, a + len - 1))
			return raise(e, vec, true, 0);
		*la = a;
	} else {
		bool prot = e->pe && !e->vm86;

		if (prot) {
			if (s->unusable)
				return raise(e, vec, true, 0);
			if (s->type & 8) {	/* code: never writable */
				if (write || !(s->type & 2))
					return raise(e, vec, true, 0);
			} else if (write && !(s->type & 2)) {
				return raise(e, vec, true, 0);
			}
		}
		if (prot && !(s->type & 8) && (s->type & 4)) {
			/* expand-down: offsets above the limit */
			if (off <= s->limit ||
			    last > (s->db ? 0xffffffffull : 0xffffull))
				return raise(e, vec, true, 0);
		} else if (last > s->limit) {
			return raise(e, vec, true, 0);
		}
		*la = (u32)(s->base + off);
	}
	if (e->am && e->cpl == 3 && (e->rflags & FL_AC) && len <= 8 &&
	    (*la & (len - 1)))
		return raise(e, VEC_AC, true, 0);
	return SHV_EMU_OK;
}

/* len bytes at seg:off; outside 64-bit mode linear addresses wrap at 4G */
static int mem_access(struct shv_emu *e, int seg, u64 off, u8 *buf,
		      unsigned int len, bool write)
{
	unsigned int n = len;
	u64 la;
	int r;

	r = linearize(e, seg, off, len, write, &la);
	if (r)
		return r;
	if (e->mode != 64 && la + len > 0x100000000ull)
		n = 0x100000000ull - la;
	if (write) {
		r = e->ops->write(e, la, buf, n);
		if (!r && n < len)
			r = e->ops->write(e, 0, buf + n, len - n);
	} else {
		r = e->ops->read(e, la, buf, n);
		if (!r && n < len)
			r = e->ops->read(e, 0, buf + n, len - n);
	}
	return r;
}

static int mem_read(struct shv_emu *e, int seg, u64 off, unsigned int sz,
		    u64 *val)
{
	u8 b[8];
	int r = mem_access(e, seg, off, b, sz, false);

	if (!r)
		*val = load_le(b, sz);
	return r;
}

static int mem_write(struct shv_emu *e, int seg, u64 off, unsigned int sz,
		     u64 val)
{
	u8 b[8];

	store_le(b, sz, val);
	return mem_access(e, seg, off, b, sz, true);
}

static int opnd_read(struct shv_emu *e, const struct opnd *o, u64 *v)
{
	if (o->kind == OP_REG) {
		*v = reg_get(e, o->reg, o->size, o->high);
		return SHV_EMU_OK;
	}
	return mem_read(e, o->seg, o->off, o->size, v);
}

static int opnd_write(struct shv_emu *e, const struct opnd *o, u64 v)
{
	if (o->kind == OP_REG) {
		reg_set(e, o->reg, o->size, o->high, v);
		return SHV_EMU_OK;
	}
	return mem_write(e, o->seg, o->off, o->size, v);
}

/* --- the stack --- */

static unsigned int stack_size(const struct shv_emu *e)
{
	if (e->mode == 64)
		return 8;
	return e->seg[SHV_EMU_SS].db ? 4 : 2;
}

static int push(struct shv_emu *e, unsigned int sz, u64 v)
{
	unsigned int ss = stack_size(e);
	u64 sp = (e->regs[GPR_SP] - sz) & szmask(ss);
	int r = mem_write(e, SHV_EMU_SS, sp, sz, v);

	if (!r)
		reg_set(e, GPR_SP, ss, false, sp);
	return r;
}

static int pop(struct shv_emu *e, unsigned int sz, u64 *v)
{
	unsigned int ss = stack_size(e);
	u64 sp = e->regs[GPR_SP] & szmask(ss);
	int r = mem_read(e, SHV_EMU_SS, sp, sz, v);

	if (!r)
		reg_set(e, GPR_SP, ss, false, sp + sz);
	return r;
}

/*
 * Push n values of sz bytes, vals[0] first (at the highest address): one
 * write unless the stack pointer wraps inside the block, and every slot
 * is checked before anything is written.
 */
static int push_n(struct shv_emu *e, unsigned int sz, const u64 *vals,
		  unsigned int n)
{
	unsigned int ss = stack_size(e), i, len = n * sz;
	u64 m = szmask(ss), sp = e->regs[GPR_SP] & m, la;
	u8 buf[64];
	int r = SHV_EMU_OK;

	if (sp >= len) {
		for (i = 0; i < n; i++)
			store_le(buf + (n - 1 - i) * sz, sz, vals[i]);
		r = mem_access(e, SHV_EMU_SS, sp - len, buf, len, true);
	} else {
		for (i = 0; i < n && !r; i++)
			r = linearize(e, SHV_EMU_SS, (sp - (i + 1) * sz) & m, sz,
				      true, &la);
		for (i = 0; i < n && !r; i++)
			r = mem_write(e, SHV_EMU_SS, (sp - (i + 1) * sz) & m,
				      sz, vals[i]);
	}
	if (!r)
		reg_set(e, GPR_SP, ss, false, (sp - len) & m);
	return r;
}

/* pop n values of sz bytes, vals[0] first (from the lowest address) */
static int pop_n(struct shv_emu *e, unsigned int sz, u64 *vals,
		 unsigned int n)
{
	unsigned int ss = stack_size(e), i, len = n * sz;
	u64 m = szmask(ss), sp = e->regs[GPR_SP] & m;
	u8 buf[64];
	int r = SHV_EMU_OK;

	if (sp + len - 1 <= m) {
		r = mem_access(e, SHV_EMU_SS, sp, buf, len, false);
		for (i = 0; i < n && !r; i++)
			vals[i] = load_le(buf + i * sz, sz);
	} else {
		for (i = 0; i < n && !r; i++)
			r = mem_read(e, SHV_EMU_SS, (sp + i * sz) & m, sz,
				     &vals[i]);
	}
	if (!r)
		reg_set(e, GPR_SP, ss, false, (sp + len) & m);
	return r;
}

/* the size of push/pop and near branches: 64 bits by default in long mode */
static unsigned int stack_op_size(const struct shv_emu *e)
{
	if (e->mode == 64)
		return (e->insn.prefixes & SHV_PFX_OPSIZE) ? 2 : 8;
	return e->insn.op_size;
}

/* --- flags and arithmetic --- */

static u64 alu(struct shv_emu *e, enum alu_op op, u64 d, u64 s,
	       unsigned int sz)
{
	u64 m = szmask(sz), r, f = 0, v;
	unsigned int top = sz * 8 - 1;
	u64 cin = e->rflags & FL_CF;

	d &= m;
	s &= m;
	switch (op) {
	case ALU_ADD:
	case ALU_ADC:
	case ALU_INC:
		if (op == ALU_INC)
			s = 1;
		r = (d + s + (op == ALU_ADC ? cin : 0)) & m;
		v = (d & s) | ((d | s) & ~r);	/* carry out of each bit */
		if ((v >> top) & 1)
			f |= FL_CF;
		if (v & 8)
			f |= FL_AF;
		if ((((d ^ r) & (s ^ r)) >> top) & 1)
			f |= FL_OF;
		break;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
	case ALU_DEC:
	case ALU_NEG:
		if (op == ALU_DEC) {
			s = 1;
		} else if (op == ALU_NEG) {
			s = d;
			d = 0;
		}
		r = (d - s - (op == ALU_SBB ? cin : 0)) & m;
		v = (~d & s) | ((~d | s) & r);	/* borrow out of each bit */
		if ((v >> top) & 1)
			f |= FL_CF;
		if (v & 8)
			f |= FL_AF;
		if ((((d ^ s) & (d ^ r)) >> top) & 1)
			f |= FL_OF;
		break;
	case ALU_AND:
	case ALU_TEST:
		r = d & s;
		break;
	case ALU_OR:
		r = d | s;
		break;
	default:
		r = d ^ s;
		break;
	}
	f |= flags_szp(r, sz);
	if (op == ALU_INC || op == ALU_DEC)
		f = (f & ~FL_CF) | cin;
	set_flags(e, FL_ARITH, f);
	return r;
}

static bool cond(const struct shv_emu *e, unsigned int cc)
{
	u64 f = e->rflags;
	bool sf_ne_of = !(f & FL_SF) != !(f & FL_OF);
	bool r;

	switch (cc >> 1) {
	case 0:
		r = f & FL_OF;
		break;
	case 1:
		r = f & FL_CF;
		break;
	case 2:
		r = f & FL_ZF;
		break;
	case 3:
		r = f & (FL_CF | FL_ZF);
		break;
	case 4:
		r = f & FL_SF;
		break;
	case 5:
		r = f & FL_PF;
		break;
	case 6:
		r = sf_ne_of;
		break;
	default:
		r = (f & FL_ZF) || sf_ne_of;
		break;
	}
	return (cc & 1) ? !r : r;
}

/* group 2: ROL ROR RCL RCR SHL SHR SAL SAR; false when nothing changes */
static bool shift(struct shv_emu *e, unsigned int op, u64 *val,
		  unsigned int cnt, unsigned int sz)
{
	unsigned int bits = sz * 8, n, i;
	u64 m = szmask(sz), v = *val & m, r, cf, of, f;

	cnt &= sz == 8 ? 63 : 31;
	if (!cnt)
		return false;
	switch (op) {
	case 0:		/* ROL */
		n = cnt % bits;
		r = n ? ((v << n) | (v >> (bits - n))) & m : v;
		cf = r & 1;
		set_flags(e, FL_CF | FL_OF, (cf ? FL_CF : 0) |
			  ((msb(r, sz) ^ cf) ? FL_OF : 0));
		break;
	case 1:		/* ROR */
		n = cnt % bits;
		r = n ? ((v >> n) | (v << (bits - n))) & m : v;
		cf = msb(r, sz);
		of = cf ^ ((r >> (bits - 2)) & 1);
		set_flags(e, FL_CF | FL_OF, (cf ? FL_CF : 0) |
			  (of ? FL_OF : 0));
		break;
	case 2:		/* RCL */
	case 3:		/* RCR */
		n = cnt % (bits + 1);
		cf = e->rflags & FL_CF;
		r = v;
		for (i = 0; i < n; i++) {
			u64 out;

			if (op == 2) {
				out = msb(r, sz);
				r = ((r << 1) | cf) & m;
			} else {
				out = r & 1;
				r = (r >> 1) | (cf << (bits - 1));
			}
			cf = out;
		}
		if (op == 2)
			of = msb(r, sz) ^ cf;
		else
			of = msb(r, sz) ^ ((r >> (bits - 2)) & 1);
		set_flags(e, FL_CF | FL_OF, (cf ? FL_CF : 0) |
			  (of ? FL_OF : 0));
		break;
	case 4:		/* SHL */
	case 6:		/* SAL */
		r = cnt < 64 ? (v << cnt) & m : 0;
		cf = cnt <= bits ? (v >> (bits - cnt)) & 1 : 0;
		f = flags_szp(r, sz) | (cf ? FL_CF : 0) |
		    ((msb(r, sz) ^ cf) ? FL_OF : 0);
		set_flags(e, FL_ARITH, f);
		break;
	case 5:		/* SHR */
		r = v >> cnt;
		cf = (v >> (cnt - 1)) & 1;
		f = flags_szp(r, sz) | (cf ? FL_CF : 0) |
		    (msb(v, sz) ? FL_OF : 0);
		set_flags(e, FL_ARITH, f);
		break;
	default:	/* SAR */
		r = (u64)((s64)sext(v, sz) >> (cnt < bits ? cnt : bits - 1));
		r &= m;
		cf = ((u64)((s64)sext(v, sz) >>
			    (cnt - 1 < bits ? cnt - 1 : bits - 1))) & 1;
		f = flags_szp(r, sz) | (cf ? FL_CF : 0);
		set_flags(e, FL_ARITH, f);
		break;
	}
	*val = r;
	return true;
}

/* SHLD/SHRD: false when the count is zero */
static bool shift_double(struct shv_emu *e, bool left, u64 *val, u64 src,
			 unsigned int cnt, unsigned int sz)
{
	unsigned int bits = sz * 8;
	u64 m = szmask(sz), d = *val & m, r, cf;

	cnt &= sz == 8 ? 63 : 31;
	src &= m;
	if (!cnt)
		return false;
	if (cnt > bits) {	/* 16-bit operands: the result is undefined */
		cnt -= bits;
		d = src;
	}
	if (left) {
		r = cnt == bits ? src : (d << cnt) | (src >> (bits - cnt));
		cf = (d >> (bits - cnt)) & 1;
	} else {
		r = cnt == bits ? src : (d >> cnt) | (src << (bits - cnt));
		cf = (d >> (cnt - 1)) & 1;
	}
	r &= m;
	set_flags(e, FL_ARITH, flags_szp(r, sz) | (cf ? FL_CF : 0) |
		  ((msb(r, sz) ^ msb(d, sz)) ? FL_OF : 0));
	*val = r;
	return true;
}

/* (hi:lo) / d; false when the quotient does not fit 64 bits or d == 0 */
static bool udiv128(u64 hi, u64 lo, u64 d, u64 *q, u64 *rem)
{
	unsigned int i;

	if (!d || hi >= d)
		return false;
	for (i = 0; i < 64; i++) {
		u64 top = hi >> 63;

		hi = (hi << 1) | (lo >> 63);
		lo <<= 1;
		if (top || hi >= d) {
			hi -= d;
			lo |= 1;
		}
	}
	*q = lo;
	*rem = hi;
	return true;
}

/* unsigned 64x64 -> 128 */
static void umul128(u64 a, u64 b, u64 *hi, u64 *lo)
{
	u64 a0 = (u32)a, a1 = a >> 32, b0 = (u32)b, b1 = b >> 32;
	u64 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
	u64 mid = (p00 >> 32) + (u32)p01 + (u32)p10;

	*lo = (mid << 32) | (u32)p00;
	*hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* signed product of sz-byte a and b as hi:lo of 2*sz bytes (sz=8: 128) */
static void mul_wide(u64 a, u64 b, unsigned int sz, bool sgn, u64 *hi,
		     u64 *lo)
{
	if (sz < 8) {
		u64 p;

		if (sgn)
			p = (u64)((s64)sext(a, sz) * (s64)sext(b, sz));
		else
			p = (a & szmask(sz)) * (b & szmask(sz));
		*lo = p & szmask(sz);
		*hi = (p >> (sz * 8)) & szmask(sz);
		return;
	}
	umul128(a, b, hi, lo);
	if (sgn) {	/* two's complement correction of the high half */
		if ((s64)a < 0)
			*hi -= b;
		if ((s64)b < 0)
			*hi -= a;
	}
}

/* MUL/IMUL (one operand), DIV/IDIV of rDX:rAX (AX for bytes) */
static int muldiv(struct shv_emu *e, unsigned int op, u64 src,
		  unsigned int sz)
{
	u64 m = szmask(sz), hi, lo, q, rem, ahi, alo, f;
	bool sgn = op & 1, neg_q = false, neg_r = false;

	if (sz == 1) {
		alo = e->regs[GPR_AX] & 0xff;
		ahi = (e->regs[GPR_AX] >> 8) & 0xff;
	} else {
		alo = reg_get(e, GPR_AX, sz, false);
		ahi = reg_get(e, GPR_DX, sz, false);
	}
	if (op < 6) {		/* 4 MUL, 5 IMUL */
		mul_wide(alo, src, sz, sgn, &hi, &lo);
		if (sgn)
			f = hi != (msb(lo, sz) ? m : 0);
		else
			f = hi != 0;
		set_flags(e, FL_ARITH, (f ? FL_CF | FL_OF : 0) |
			  flags_szp(lo, sz));
		goto store;
	}

	/* 6 DIV, 7 IDIV: magnitudes, then signs */
	src &= m;
	if (sgn) {
		neg_r = msb(ahi, sz);		/* the dividend's sign */
		neg_q = neg_r != !!msb(src, sz);
		if (msb(src, sz))
			src = (0 - src) & m;
		if (neg_r) {	/* negate the 2*sz-byte dividend */
			if (sz == 8) {
				alo = 0 - alo;
				ahi = ~ahi + !alo;
			} else {
				u64 w = (ahi << (sz * 8)) | alo;

				w = (0 - w) & szmask(2 * sz);
				alo = w & m;
				ahi = w >> (sz * 8);
			}
		}
	}
	if (sz == 8) {
		if (!udiv128(ahi, alo, src, &q, &rem))
			return raise(e, VEC_DE, false, 0);
	} else {
		u64 w = (ahi << (sz * 8)) | alo;

		if (!src)
			return raise(e, VEC_DE, false, 0);
		q = w / src;
		rem = w % src;
		if (q > m)
			return raise(e, VEC_DE, false, 0);
	}
	if (sgn) {
		/* the quotient must fit the signed range */
		if (neg_q ? q > (m >> 1) + 1 : q > (m >> 1))
			return raise(e, VEC_DE, false, 0);
		if (neg_q)
			q = 0 - q;
		if (neg_r)
			rem = 0 - rem;
	}
	lo = q & m;
	hi = rem & m;
store:
	if (sz == 1) {
		reg_set(e, GPR_AX, 2, false, (hi << 8) | lo);
	} else {
		reg_set(e, GPR_AX, sz, false, lo);
		reg_set(e, GPR_DX, sz, false, hi);
	}
	return SHV_EMU_OK;
}

/* --- instruction groups --- */

/* may this instruction take a LOCK prefix? (memory destination only) */
static bool lock_ok(const struct shv_emu *e)
{
	const struct shv_insn *in = &e->insn;
	unsigned int sub = in->reg & 7;

	if (!in->has_modrm || in->mod == 3)
		return false;
	if (in->map == SHV_MAP_0F) {
		switch (in->opcode) {
		case 0xab: case 0xb3: case 0xbb: case 0xb0: case 0xb1:
		case 0xc0: case 0xc1:
			return true;
		case 0xba:
			return sub >= 5;
		case 0xc7:
			return sub == 1;
		}
		return false;
	}
	if (in->map != SHV_MAP_1)
		return false;
	if (in->opcode < 0x40)
		return (in->opcode & 7) < 2 && (in->opcode >> 3) != 7;
	switch (in->opcode) {
	case 0x80: case 0x81: case 0x82: case 0x83:
		return sub != 7;
	case 0x86: case 0x87:
		return true;
	case 0xf6: case 0xf7:
		return sub == 2 || sub == 3;
	case 0xfe: case 0xff:
		return sub < 2;
	}
	return false;
}

/* r/m op= reg / reg op= r/m / acc op= imm / r/m op= imm */
static int exec_alu(struct shv_emu *e, enum alu_op op, struct opnd *dst,
		    u64 src)
{
	u64 d, r;
	int rc = opnd_read(e, dst, &d);

	if (rc)
		return rc;
	r = alu(e, op, d, src, dst->size);
	if (op == ALU_CMP || op == ALU_TEST)
		return SHV_EMU_OK;
	return opnd_write(e, dst, r);
}

/* string instructions: one iteration */
static int exec_string(struct shv_emu *e)
{
	const struct shv_insn *in = &e->insn;
	unsigned int sz = (in->opcode & 1) ? in->op_size : 1;
	unsigned int as = in->addr_size, kind = in->opcode & ~1;
	u64 am = addr_mask(e), si = e->regs[GPR_SI] & am;
	u64 di = e->regs[GPR_DI] & am, a, b, cnt;
	bool rep = in->prefixes & (SHV_PFX_REP | SHV_PFX_REPNE);
	int seg = pick_seg(e, SHV_EMU_DS), r = SHV_EMU_OK;
	s64 step = (e->rflags & FL_DF) ? -(s64)sz : (s64)sz;
	bool uses_si = kind != 0xaa && kind != 0xae;
	bool uses_di = kind != 0xac;

	if (rep && !(e->regs[GPR_CX] & am))
		return SHV_EMU_OK;	/* nothing to do: just skip it */

	switch (kind) {
	case 0xa4:	/* MOVS */
		r = mem_read(e, seg, si, sz, &a);
		if (!r)
			r = mem_write(e, SHV_EMU_ES, di, sz, a);
		break;
	case 0xa6:	/* CMPS: [rSI] - [rDI] */
		r = mem_read(e, seg, si, sz, &a);
		if (!r)
			r = mem_read(e, SHV_EMU_ES, di, sz, &b);
		if (!r)
			alu(e, ALU_CMP, a, b, sz);
		break;
	case 0xaa:	/* STOS */
		r = mem_write(e, SHV_EMU_ES, di, sz,
			      reg_get(e, GPR_AX, sz, false));
		break;
	case 0xac:	/* LODS */
		r = mem_read(e, seg, si, sz, &a);
		if (!r)
			reg_set(e, GPR_AX, sz, false, a);
		break;
	default:	/* SCAS: rAX - [rDI] */
		r = mem_read(e, SHV_EMU_ES, di, sz, &b);
		if (!r)
			alu(e, ALU_CMP, reg_get(e, GPR_AX, sz, false), b, sz);
		break;
	}
	if (r)
		return r;
	if (uses_si)
		reg_set(e, GPR_SI, as, false, (si + step) & am);
	if (uses_di)
		reg_set(e, GPR_DI, as, false, (di + step) & am);
	if (!rep)
		return SHV_EMU_OK;
	cnt = ((e->regs[GPR_CX] & am) - 1) & am;
	reg_set(e, GPR_CX, as, false, cnt);
	if (!cnt)
		return SHV_EMU_OK;
	if (kind == 0xa6 || kind == 0xae) {
		bool zf = e->rflags & FL_ZF;

		if ((in->prefixes & SHV_PFX_REP) ? !zf : zf)
			return SHV_EMU_OK;
	}
	e->rep_more = true;
	return SHV_EMU_OK;
}

/* BT, BTS, BTR, BTC (op 0-3) with a register or imm8 bit offset */
static int exec_bt(struct shv_emu *e, unsigned int op, bool imm)
{
	const struct shv_insn *in = &e->insn;
	unsigned int sz = in->op_size, bits = sz * 8;
	struct opnd dst;
	u64 off, v, bit;
	int r;

	opnd_rm(e, &dst, sz);
	if (imm) {
		off = in->imm & (bits - 1);
	} else {
		off = reg_get(e, in->reg, sz, false);
		if (dst.kind == OP_MEM) {
			/* a bit string: the offset also selects the unit */
			s64 so = (s64)sext(off, sz);

			dst.off = (dst.off + (so >> 3) - ((so >> 3) &
				   (s64)(sz - 1))) & addr_mask(e);
		}
		off &= bits - 1;
	}
	r = opnd_read(e, &dst, &v);
	if (r)
		return r;
	bit = 1ull << off;
	set_flags(e, FL_CF, (v & bit) ? FL_CF : 0);
	switch (op) {
	case 0:
		return SHV_EMU_OK;
	case 1:
		v |= bit;
		break;
	case 2:
		v &= ~bit;
		break;
	default:
		v ^= bit;
		break;
	}
	return opnd_write(e, &dst, v);
}

/* CMPXCHG8B / CMPXCHG16B */
static int exec_cmpxchg_wide(struct shv_emu *e)
{
	const struct shv_insn *in = &e->insn;
	unsigned int half = (in->rex & 8) ? 8 : 4, i;
	u64 cmp[2], old[2], m = szmask(half);
	struct opnd o;
	u8 buf[16];
	int r;

	if (in->mod == 3)
		return raise_ud(e);
	if (half == 8 && !(e->features & SHV_EMU_F_CX16))
		return raise_ud(e);
	opnd_rm(e, &o, 2 * half);
	if (half == 8) {	/* 16-byte alignment: #GP(0) */
		u64 la;

		r = linearize(e, o.seg, o.off, 16, true, &la);
		if (r)
			return r;
		if (la & 15)
			return raise_gp0(e);
	}
	r = mem_access(e, o.seg, o.off, buf, 2 * half, false);
	if (r)
		return r;
	old[0] = load_le(buf, half);
	old[1] = load_le(buf + half, half);
	cmp[0] = e->regs[GPR_AX] & m;
	cmp[1] = e->regs[GPR_DX] & m;
	if (old[0] == cmp[0] && old[1] == cmp[1]) {
		store_le(buf, half, e->regs[GPR_BX]);
		store_le(buf + half, half, e->regs[GPR_CX]);
		r = mem_access(e, o.seg, o.off, buf, 2 * half, true);
		set_flags(e, FL_ZF, FL_ZF);
		return r;
	}
	/* a failed compare writes the old value back */
	r = mem_access(e, o.seg, o.off, buf, 2 * half, true);
	if (r)
		return r;
	set_flags(e, FL_ZF, 0);
	for (i = 0; i < 2; i++)
		reg_set(e, i ? GPR_DX : GPR_AX, half, false, old[i]);
	return SHV_EMU_OK;
}

/* BSF/BSR/TZCNT/LZCNT/POPCNT */
static int exec_bitscan(struct shv_emu *e, unsigned int kind)
{
	const struct shv_insn *in = &e->insn;
	unsigned int sz = in->op_size, bits = sz * 8, n = 0;
	struct opnd src;
	u64 v;
	int r;

	opnd_rm(e, &src, sz);
	r = opnd_read(e, &src, &v);
	if (r)
		return r;
	v &= szmask(sz);
	switch (kind) {
	case 0:		/* BSF */
	case 1:		/* BSR */
		if (!v) {
			set_flags(e, FL_ZF, FL_ZF);
			return SHV_EMU_OK;	/* destination unchanged */
		}
		if (kind == 0)
			while (!((v >> n) & 1))
				n++;
		else
			for (n = bits - 1; !((v >> n) & 1); n--)
				;
		set_flags(e, FL_ZF, 0);
		break;
	case 2:		/* TZCNT */
	case 3:		/* LZCNT */
		while (n < bits &&
		       !((v >> (kind == 2 ? n : bits - 1 - n)) & 1))
			n++;
		set_flags(e, FL_CF | FL_ZF, (n == bits ? FL_CF : 0) |
			  (n == 0 ? FL_ZF : 0));
		break;
	default:	/* POPCNT */
		for (; v; v &= v - 1)
			n++;
		set_flags(e, FL_ARITH, n ? 0 : FL_ZF);
		break;
	}
	reg_set(e, in->reg, sz, false, n);
	return SHV_EMU_OK;
}

/* --- segment loads and control transfers --- */

static bool prot_mode(const struct shv_emu *e)
{
	return e->pe && !e->vm86;
}

static unsigned int iopl(const struct shv_emu *e)
{
	return (e->rflags & FL_IOPL) >> 12;
}

/* the descriptor of sel in the GDT or LDT, and its linear address */
static int read_desc(struct shv_emu *e, u16 sel, u64 *desc, u64 *la)
{
	const struct shv_emu_dt *t = (sel & 4) ? &e->ldt : &e->gdt;
	u8 b[8];
	int r;

	if (((sel & 4) && !e->ldt_usable) || (u32)(sel & ~7) + 7 > t->limit)
		return raise(e, VEC_GP, true, sel & ~3);
	*la = (u32)(t->base + (sel & ~7));
	r = e->ops->read(e, *la, b, 8);
	if (!r)
		*desc = load_le(b, 8);
	return r;
}

/*
 * A protected-mode load of a code or data segment descriptor, with the
 * processor's checks (SDM vol. 3 5.5-5.8, MOV/POP/LDS/JMP/CALL/RET):
 * #GP(selector) for a wrong type or privilege, #NP or #SS when not
 * present; the accessed bit is set.  CPL 0 outside 64-bit mode, with
 * code segments only (no gates, no TSSs): what runs there is the switch
 * from real mode, not a whole protected-mode guest.
 */
static int load_seg_pm(struct shv_emu *e, int seg, u16 sel)
{
	struct shv_emu_seg *s = &e->seg[seg];
	unsigned int rpl = sel & 3, dpl, type;
	u32 limit;
	u64 d, la;
	u8 ab;
	int r;

	if (e->mode == 64 || e->cpl)
		return SHV_EMU_UNHANDLED;
	if (!(sel & ~3)) {			/* null */
		if (seg == SHV_EMU_CS || seg == SHV_EMU_SS)
			return raise_gp0(e);
		s->selector = sel;
		s->unusable = true;
		s->attr &= ~0x80;
		e->seg_dirty |= 1u << seg;
		return SHV_EMU_OK;
	}
	r = read_desc(e, sel, &d, &la);
	if (r)
		return r;
	type = (d >> 40) & 15;
	dpl = (d >> 45) & 3;
	if (!((d >> 44) & 1))			/* a system descriptor */
		return seg == SHV_EMU_CS ? SHV_EMU_UNHANDLED :
		       raise(e, VEC_GP, true, sel & ~3);
	if (seg == SHV_EMU_CS) {
		if (!(type & 8) || ((type & 4) ? dpl > e->cpl :
				    rpl > e->cpl || dpl != e->cpl))
			return raise(e, VEC_GP, true, sel & ~3);
	} else if (seg == SHV_EMU_SS) {
		if (rpl != e->cpl || (type & 0xa) != 2 || dpl != e->cpl)
			return raise(e, VEC_GP, true, sel & ~3);
	} else if ((type & 0xa) == 8 ||		/* execute-only code */
		   ((type & 0xc) != 0xc && (dpl < rpl || dpl < e->cpl))) {
		return raise(e, VEC_GP, true, sel & ~3);
	}
	if (!((d >> 47) & 1))
		return raise(e, seg == SHV_EMU_SS ? VEC_SS : VEC_NP, true,
			     sel & ~3);
	if (!(type & 1)) {
		ab = (d >> 40) | 1;
		r = e->ops->write(e, la + 5, &ab, 1);
		if (r)
			return r;
		type |= 1;
	}
	limit = (d & 0xffff) | ((d >> 32) & 0xf0000);
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->limit = ((d >> 55) & 1) ? (limit << 12) | 0xfff : limit;
	s->selector = seg == SHV_EMU_CS ? (sel & ~3) | e->cpl : sel;
	s->type = type;
	s->db = (d >> 54) & 1;
	s->unusable = false;
	s->attr = ((d >> 40) & 0xf0) | (((d >> 52) & 0xf) << 12);
	e->seg_dirty |= 1u << seg;
	return SHV_EMU_OK;
}

/*
 * Load a segment register.  In real and virtual-8086 mode the base is the
 * selector times 16; real mode keeps the cached limit and attributes (so
 * "unreal" limits survive a load), virtual-8086 mode sets the fixed ones.
 */
static int load_seg(struct shv_emu *e, int seg, u16 sel)
{
	struct shv_emu_seg *s = &e->seg[seg];

	if (prot_mode(e))
		return load_seg_pm(e, seg, sel);
	s->selector = sel;
	s->base = (u64)sel << 4;
	s->unusable = false;
	s->attr |= 0x90;			/* S, P */
	if (e->vm86) {
		s->limit = 0xffff;
		s->type = 3;
		s->db = 0;
		s->attr = 0xf0;			/* S, DPL 3, P */
	}
	e->seg_dirty |= 1u << seg;
	return SHV_EMU_OK;
}

/* a near branch to target: wrapped to the operand size, inside CS */
static int near_jump(struct shv_emu *e, u64 target)
{
	if (e->mode == 64) {
		if (!canonical(e, target))
			return raise_gp0(e);
	} else {
		target &= szmask(e->insn.op_size);
		if (target > e->seg[SHV_EMU_CS].limit)
			return raise_gp0(e);
	}
	e->rip = target;
	return SHV_EMU_OK;
}

/*
 * A far JMP/CALL/RET to sel:off: the target must be inside the new CS
 * (real mode keeps CS's limit, virtual-8086 mode's is 64 KiB).  On a
 * fault shv_emu_exec() puts CS back.
 */
static int far_jump(struct shv_emu *e, u16 sel, u64 off)
{
	int r = load_seg(e, SHV_EMU_CS, sel);

	if (r)
		return r;
	if (off > e->seg[SHV_EMU_CS].limit)
		return raise_gp0(e);
	e->rip = off;
	return SHV_EMU_OK;
}

/* the selector and offset of a far pointer in memory (m16:16/32) */
static int read_farptr(struct shv_emu *e, u16 *sel, u64 *off)
{
	unsigned int sz = e->insn.op_size;
	struct opnd o;
	u8 buf[10];
	int r;

	if (e->insn.mod == 3)
		return raise_ud(e);
	opnd_rm(e, &o, sz + 2);
	r = mem_access(e, o.seg, o.off, buf, sz + 2, false);
	if (r)
		return r;
	*off = load_le(buf, sz);
	*sel = load_le(buf + sz, 2);
	return SHV_EMU_OK;
}

/* JMP/CALL far: EA/9A with a pointer, FF /5 and FF /3 through memory */
static int exec_far(struct shv_emu *e, bool call, bool mem)
{
	unsigned int sz = e->insn.op_size;
	u64 off, ret[2];
	u16 sel;
	int r;

	if (mem) {
		r = read_farptr(e, &sel, &off);
		if (r)
			return r;
	} else {
		off = e->insn.imm & szmask(sz);
		sel = e->insn.imm >> (8 * sz);
	}
	ret[0] = e->seg[SHV_EMU_CS].selector;
	ret[1] = (e->rip + e->insn.len) & szmask(sz);
	/* the target is checked first; the stack is SS's, not CS's */
	r = far_jump(e, sel, off);
	if (r || !call)
		return r;
	return push_n(e, sz, ret, 2);
}

/* RETF (imm16): IP, then CS */
static int exec_retf(struct shv_emu *e)
{
	unsigned int sz = e->insn.op_size, ss = stack_size(e);
	u64 v[2];
	int r;

	r = pop_n(e, sz, v, 2);
	if (r)
		return r;
	/* a return to an outer privilege level is not emulated */
	if (prot_mode(e) && (v[1] & 3) != e->cpl)
		return SHV_EMU_UNHANDLED;
	r = far_jump(e, v[1], v[0]);
	if (r || e->insn.opcode != 0xca)
		return r;
	reg_set(e, GPR_SP, ss, false,
		(e->regs[GPR_SP] + (e->insn.imm & 0xffff)) & szmask(ss));
	return SHV_EMU_OK;
}

int shv_emu_real_int(struct shv_emu *e, u8 vector)
{
	u64 off = 4ull * vector, v[3];
	u8 ent[4];
	int r;

	if (off + 3 > e->idt.limit)
		return raise(e, VEC_GP, true, vector * 8 + 2);
	r = e->ops->read(e, (u32)(e->idt.base + off), ent, 4);
	if (r)
		return r;
	v[0] = e->rflags & 0xffff;
	v[1] = e->seg[SHV_EMU_CS].selector;
	v[2] = e->rip & 0xffff;
	r = push_n(e, 2, v, 3);
	if (r)
		return r;
	e->rflags &= ~(FL_IF | FL_TF | FL_AC | FL_RF);
	load_seg(e, SHV_EMU_CS, load_le(ent + 2, 2));
	e->rip = load_le(ent, 2);
	return SHV_EMU_OK;
}

/* INT3, INT n, INTO: real mode only (the IVT) */
static int exec_int(struct shv_emu *e)
{
	u8 opc = e->insn.opcode;

	if (e->pe)
		return SHV_EMU_UNHANDLED;
	e->rip += e->insn.len;
	if (opc == 0xce && !(e->rflags & FL_OF))
		return SHV_EMU_OK;
	return shv_emu_real_int(e, opc == 0xcc ? VEC_BP :
				   opc == 0xce ? VEC_OF : e->insn.imm);
}

/* IRET in real mode */
static int exec_iret(struct shv_emu *e)
{
	unsigned int sz = e->insn.op_size;
	u64 v[3], keep;
	int r;

	if (e->pe)
		return SHV_EMU_UNHANDLED;
	r = pop_n(e, sz, v, 3);
	if (r)
		return r;
	r = far_jump(e, v[1], v[0]);
	if (r)
		return r;
	if (sz == 2) {
		keep = ~0xffffull;
		v[2] &= 0x7fd5;
	} else {
		keep = FL_VM | FL_VIF | FL_VIP;
		v[2] &= 0x257fd5;
	}
	e->rflags = (e->rflags & keep) | v[2] | 2;
	e->events |= SHV_EMU_EV_IRET;
	return SHV_EMU_OK;
}

/* the flags POPF may change at the current privilege */
static u64 popf_mask(const struct shv_emu *e, unsigned int sz)
{
	u64 m = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;

	if (!e->pe || e->cpl <= iopl(e))
		m |= FL_IF;
	if (!e->pe || (!e->vm86 && !e->cpl))
		m |= FL_IOPL;
	return sz == 2 ? m & 0xffff : m;
}

/* PUSHF, POPF, CLI, STI: not the virtual-8086 VME/IOPL cases */
static int exec_flags(struct shv_emu *e)
{
	unsigned int sz = stack_op_size(e);
	u8 opc = e->insn.opcode;
	u64 v, m;
	int r;

	if (e->vm86 && iopl(e) < 3)
		return SHV_EMU_UNHANDLED;
	switch (opc) {
	case 0x9c:
		return push(e, sz, e->rflags & ~(FL_VM | FL_RF) & szmask(sz));
	case 0x9d:
		r = pop(e, sz, &v);
		if (r)
			return r;
		m = popf_mask(e, sz);
		e->rflags = (e->rflags & ~m) | (v & m);
		return SHV_EMU_OK;
	default:
		/* CLI/STI above IOPL: #GP, or PVI; not emulated */
		if (e->pe && e->cpl > iopl(e))
			return SHV_EMU_UNHANDLED;
		if (opc == 0xfa) {
			e->rflags &= ~FL_IF;
		} else if (!(e->rflags & FL_IF)) {
			e->rflags |= FL_IF;
			e->events |= SHV_EMU_EV_SHADOW;
		}
		return SHV_EMU_OK;
	}
}

/* MOV Sreg, r/m; POP Sreg; LES/LDS/LSS/LFS/LGS */
static int exec_mov_sreg(struct shv_emu *e, int seg, struct opnd *src)
{
	u64 v;
	int r;

	if (seg == SHV_EMU_CS || seg >= SHV_EMU_NR_SEGS)
		return raise_ud(e);
	r = opnd_read(e, src, &v);
	if (r)
		return r;
	r = load_seg(e, seg, v);
	if (!r && seg == SHV_EMU_SS)
		e->events |= SHV_EMU_EV_SHADOW;
	return r;
}

static int exec_pop_sreg(struct shv_emu *e, int seg)
{
	u64 v;
	int r;

	r = pop(e, stack_op_size(e), &v);
	if (r)
		return r;
	r = load_seg(e, seg, v);
	if (!r && seg == SHV_EMU_SS)
		e->events |= SHV_EMU_EV_SHADOW;
	return r;
}

static int exec_lxs(struct shv_emu *e, int seg)
{
	u64 off;
	u16 sel;
	int r;

	r = read_farptr(e, &sel, &off);
	if (r)
		return r;
	r = load_seg(e, seg, sel);
	if (!r)
		reg_set(e, e->insn.reg, e->insn.op_size, false, off);
	return r;
}

/* LGDT, LIDT, SGDT, SIDT */
static int exec_dt(struct shv_emu *e, unsigned int sub)
{
	struct shv_emu_dt *dt = (sub & 1) ? &e->idt : &e->gdt;
	unsigned int bsz = e->mode == 64 ? 8 : 4;
	struct opnd o;
	u8 buf[10];
	u64 base;
	int r;

	opnd_rm(e, &o, 2 + bsz);
	if (sub < 2) {		/* SGDT, SIDT: no UMIP */
		store_le(buf, 2, dt->limit);
		store_le(buf + 2, bsz, dt->base);
		return mem_access(e, o.seg, o.off, buf, 2 + bsz, true);
	}
	if (e->cpl)
		return raise_gp0(e);
	r = mem_access(e, o.seg, o.off, buf, 2 + bsz, false);
	if (r)
		return r;
	base = load_le(buf + 2, bsz);
	if (e->mode != 64 && e->insn.op_size == 2)
		base &= 0xffffff;
	if (e->mode == 64 && !canonical(e, base))
		return raise_gp0(e);
	dt->base = base;
	dt->limit = load_le(buf, 2);
	e->dt_dirty |= (sub & 1) ? 2 : 1;
	return SHV_EMU_OK;
}

/* ENTER (nesting level 0) and LEAVE */
static int exec_frame(struct shv_emu *e)
{
	unsigned int sz = stack_op_size(e), ss = stack_size(e);
	u64 m = szmask(ss), v;
	int r;

	if (e->insn.opcode == 0xc9) {		/* LEAVE */
		reg_set(e, GPR_SP, ss, false, e->regs[GPR_BP] & m);
		r = pop(e, sz, &v);
		if (!r)
			reg_set(e, GPR_BP, sz, false, v);
		return r;
	}
	if (e->insn.bytes[e->insn.len - 1] & 31)
		return SHV_EMU_UNHANDLED;	/* nested frames */
	r = push(e, sz, e->regs[GPR_BP] & szmask(sz));
	if (r)
		return r;
	v = e->regs[GPR_SP] & m;
	reg_set(e, GPR_BP, sz, false, v);
	reg_set(e, GPR_SP, ss, false, (v - (e->insn.imm & 0xffff)) & m);
	return SHV_EMU_OK;
}

/* LOOPNE, LOOPE, LOOP, JCXZ: the count is address-sized */
static bool exec_loop(struct shv_emu *e)
{
	u8 opc = e->insn.opcode;
	u64 am = addr_mask(e), c = e->regs[GPR_CX] & am;
	bool zf = e->rflags & FL_ZF;

	if (opc == 0xe3)
		return !c;
	c = (c - 1) & am;
	reg_set(e, GPR_CX, e->insn.addr_size, false, c);
	if (!c)
		return false;
	return opc == 0xe2 || (opc == 0xe1) == zf;
}

/*
 * The one-byte opcodes 40-5F, 60/61, 68-7F, 8D, 8E, 90-9F, B0-BF, C2-CF
 * (but C6/C7), D7 and E0-FD (branches, stack, flags): register and
 * control-flow instructions, emulated when the whole instruction stream
 * is (see Documentation/emulator.rst).
 */
static int exec_flow(struct shv_emu *e, bool *jumped)
{
	const struct shv_insn *in = &e->insn;
	unsigned int opc = in->opcode, sz = in->op_size;
	unsigned int rb = (opc & 7) | ((in->rex & 1) << 3);
	u64 next = e->rip + in->len, v[8];
	struct opnd o;
	int r, i;

	switch (opc) {
	case 0x06: case 0x0e: case 0x16: case 0x1e:	/* PUSH Sreg */
		return push(e, stack_op_size(e),
			    e->seg[opc >> 3].selector);
	case 0x07: case 0x17: case 0x1f:		/* POP Sreg */
		return exec_pop_sreg(e, opc >> 3);
	case 0x40 ... 0x4f:				/* INC/DEC r */
		opnd_reg(e, &o, opc & 7, sz);
		return exec_alu(e, opc < 0x48 ? ALU_INC : ALU_DEC, &o, 0);
	case 0x50 ... 0x57:				/* PUSH r */
		sz = stack_op_size(e);
		return push(e, sz, e->regs[rb] & szmask(sz));
	case 0x58 ... 0x5f:				/* POP r */
		sz = stack_op_size(e);
		r = pop(e, sz, v);
		if (!r)
			reg_set(e, rb, sz, false, v[0]);
		return r;
	case 0x60:					/* PUSHA */
		for (i = 0; i < 8; i++)
			v[i] = e->regs[i] & szmask(sz);
		return push_n(e, sz, v, 8);
	case 0x61:					/* POPA */
		r = pop_n(e, sz, v, 8);
		for (i = 0; i < 8 && !r; i++)
			if (i != 3)	/* the saved SP is skipped */
				reg_set(e, 7 - i, sz, false, v[i]);
		return r;
	case 0x68: case 0x6a:				/* PUSH imm */
		sz = stack_op_size(e);
		return push(e, sz, sext(in->imm, in->imm_size) & szmask(sz));
	case 0x70 ... 0x7f:				/* Jcc rel8 */
		if (!cond(e, opc & 15))
			return SHV_EMU_OK;
		*jumped = true;
		return near_jump(e, next + sext(in->imm, 1));
	case 0x8d:					/* LEA */
		if (in->mod == 3)
			return raise_ud(e);
		opnd_rm(e, &o, sz);
		reg_set(e, in->reg, sz, false, o.off);
		return SHV_EMU_OK;
	case 0x8e:					/* MOV Sreg, r/m */
		opnd_rm(e, &o, 2);
		return exec_mov_sreg(e, in->reg & 7, &o);
	case 0x90 ... 0x97:				/* XCHG rAX, r; NOP */
		if (rb) {
			v[0] = e->regs[rb];
			reg_set(e, rb, sz, false, e->regs[GPR_AX]);
			reg_set(e, GPR_AX, sz, false, v[0]);
		}
		return SHV_EMU_OK;
	case 0x98:					/* CBW, CWDE, CDQE */
		reg_set(e, GPR_AX, sz, false, sext(e->regs[GPR_AX], sz / 2));
		return SHV_EMU_OK;
	case 0x99:					/* CWD, CDQ, CQO */
		reg_set(e, GPR_DX, sz, false,
			msb(e->regs[GPR_AX], sz) ? ~0ull : 0);
		return SHV_EMU_OK;
	case 0x9a:					/* CALL far */
		*jumped = true;
		return exec_far(e, true, false);
	case 0x9c: case 0x9d: case 0xfa: case 0xfb:	/* PUSHF POPF CLI STI */
		return exec_flags(e);
	case 0x9e:					/* SAHF */
		set_flags(e, FL_ARITH & ~FL_OF, e->regs[GPR_AX] >> 8);
		return SHV_EMU_OK;
	case 0x9f:					/* LAHF */
		reg_set(e, GPR_AX, 1, true, (e->rflags & 0xd5) | 2);
		return SHV_EMU_OK;
	case 0xb0 ... 0xb7:				/* MOV r8, imm8 */
		opnd_reg(e, &o, rb, 1);
		return opnd_write(e, &o, in->imm);
	case 0xb8 ... 0xbf:				/* MOV r, imm */
		reg_set(e, rb, sz, false, in->imm);
		return SHV_EMU_OK;
	case 0xc2: case 0xc3:				/* RET near */
		sz = stack_op_size(e);
		r = pop(e, sz, v);
		if (r)
			return r;
		*jumped = true;
		r = near_jump(e, v[0]);
		if (!r && opc == 0xc2)
			reg_set(e, GPR_SP, stack_size(e), false,
				e->regs[GPR_SP] + (in->imm & 0xffff));
		return r;
	case 0xc4: case 0xc5:				/* LES, LDS */
		return exec_lxs(e, opc == 0xc4 ? SHV_EMU_ES : SHV_EMU_DS);
	case 0xc8: case 0xc9:				/* ENTER, LEAVE */
		return exec_frame(e);
	case 0xca: case 0xcb:				/* RETF */
		*jumped = true;
		return exec_retf(e);
	case 0xcc: case 0xcd: case 0xce:		/* INT3, INT n, INTO */
		*jumped = true;
		return exec_int(e);
	case 0xcf:					/* IRET */
		*jumped = true;
		return exec_iret(e);
	case 0xd7:					/* XLAT */
		opnd_mem(&o, pick_seg(e, SHV_EMU_DS),
			 (e->regs[GPR_BX] + (e->regs[GPR_AX] & 0xff)) &
			 addr_mask(e), 1);
		r = opnd_read(e, &o, v);
		if (!r)
			reg_set(e, GPR_AX, 1, false, v[0]);
		return r;
	case 0xe0 ... 0xe3:				/* LOOPcc, JCXZ */
		if (!exec_loop(e))
			return SHV_EMU_OK;
		*jumped = true;
		return near_jump(e, next + sext(in->imm, 1));
	case 0xe8:					/* CALL rel */
		sz = stack_op_size(e);
		*jumped = true;
		r = near_jump(e, next + sext(in->imm, in->imm_size));
		if (r)
			return r;
		return push(e, sz, next & szmask(sz));
	case 0xe9: case 0xeb:				/* JMP rel */
		*jumped = true;
		return near_jump(e, next + sext(in->imm, in->imm_size));
	case 0xea:					/* JMP far */
		*jumped = true;
		return exec_far(e, false, false);
	case 0xf5:					/* CMC */
		e->rflags ^= FL_CF;
		return SHV_EMU_OK;
	case 0xf8: case 0xf9:				/* CLC, STC */
		set_flags(e, FL_CF, opc & 1 ? FL_CF : 0);
		return SHV_EMU_OK;
	case 0xfc: case 0xfd:				/* CLD, STD */
		set_flags(e, FL_DF, opc & 1 ? FL_DF : 0);
		return SHV_EMU_OK;
	default:
		return SHV_EMU_UNHANDLED;
	}
}

static int exec_0f(struct shv_emu *e, bool *jumped)
{
	const struct shv_insn *in = &e->insn;
	unsigned int sz = in->op_size, sub = in->reg & 7;
	struct opnd dst, src;
	u64 d, s, t;
	int r;

	switch (in->opcode) {
	case 0x0b: case 0xb9: case 0xff:	/* UD2, UD1, UD0 */
		return raise_ud(e);
	case 0x40 ... 0x4f:	/* CMOVcc: the source is always read */
		opnd_rm(e, &src, sz);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		if (!cond(e, in->opcode & 15))
			s = reg_get(e, in->reg, sz, false);
		reg_set(e, in->reg, sz, false, s);
		return SHV_EMU_OK;
	case 0x90 ... 0x9f:	/* SETcc */
		opnd_rm(e, &dst, 1);
		return opnd_write(e, &dst, cond(e, in->opcode & 15));
	case 0xa3:
		return exec_bt(e, 0, false);
	case 0xab:
		return exec_bt(e, 1, false);
	case 0xb3:
		return exec_bt(e, 2, false);
	case 0xbb:
		return exec_bt(e, 3, false);
	case 0xba:
		if (sub < 4)
			return raise_ud(e);
		return exec_bt(e, sub - 4, true);
	case 0xa4: case 0xa5: case 0xac: case 0xad:	/* SHLD, SHRD */
		opnd_rm(e, &dst, sz);
		r = opnd_read(e, &dst, &d);
		if (r)
			return r;
		s = reg_get(e, in->reg, sz, false);
		t = (in->opcode & 1) ? e->regs[GPR_CX] : in->imm;
		if (!shift_double(e, in->opcode < 0xa8, &d, s, t, sz))
			return SHV_EMU_OK;
		return opnd_write(e, &dst, d);
	case 0xaf:		/* IMUL r, r/m */
		opnd_rm(e, &src, sz);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		d = reg_get(e, in->reg, sz, false);
		goto imul;
	case 0xb0: case 0xb1:	/* CMPXCHG */
		sz = in->opcode & 1 ? sz : 1;
		opnd_rm(e, &dst, sz);
		opnd_reg(e, &src, in->reg, sz);
		r = opnd_read(e, &dst, &d);
		if (r)
			return r;
		alu(e, ALU_CMP, reg_get(e, GPR_AX, sz, false), d, sz);
		if (e->rflags & FL_ZF) {
			opnd_read(e, &src, &s);
			return opnd_write(e, &dst, s);
		}
		if (dst.kind == OP_MEM) {
			r = opnd_write(e, &dst, d);
			if (r)
				return r;
		}
		reg_set(e, GPR_AX, sz, false, d);
		return SHV_EMU_OK;
	case 0xc0: case 0xc1:	/* XADD */
		sz = in->opcode & 1 ? sz : 1;
		opnd_rm(e, &dst, sz);
		opnd_reg(e, &src, in->reg, sz);
		r = opnd_read(e, &dst, &d);
		if (r)
			return r;
		opnd_read(e, &src, &s);
		t = alu(e, ALU_ADD, d, s, sz);
		if (dst.kind == OP_MEM) {
			r = opnd_write(e, &dst, t);
			if (r)
				return r;
			return opnd_write(e, &src, d);
		}
		opnd_write(e, &src, d);
		return opnd_write(e, &dst, t);
	case 0xb6: case 0xb7: case 0xbe: case 0xbf:	/* MOVZX, MOVSX */
		opnd_rm(e, &src, (in->opcode & 1) ? 2 : 1);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		if (in->opcode >= 0xbe)
			s = sext(s, src.size);
		reg_set(e, in->reg, sz, false, s);
		return SHV_EMU_OK;
	case 0xb8:		/* POPCNT (F3 only) */
		if (!(in->prefixes & SHV_PFX_REP) ||
		    !(e->features & SHV_EMU_F_POPCNT))
			return raise_ud(e);
		return exec_bitscan(e, 4);
	case 0xbc: case 0xbd:	/* BSF, BSR, TZCNT, LZCNT */
		r = in->opcode & 1;
		if ((in->prefixes & SHV_PFX_REP) &&
		    (e->features & (r ? SHV_EMU_F_LZCNT : SHV_EMU_F_BMI1)))
			r += 2;
		return exec_bitscan(e, r);
	case 0xc3:		/* MOVNTI m, r */
		if (in->mod == 3 || sz == 2)
			return raise_ud(e);
		opnd_rm(e, &dst, sz);
		return opnd_write(e, &dst, reg_get(e, in->reg, sz, false));
	case 0xc7:
		if (sub == 1)
			return exec_cmpxchg_wide(e);
		return SHV_EMU_UNHANDLED;
	case 0x80 ... 0x8f:	/* Jcc rel16/32 */
		if (!cond(e, in->opcode & 15))
			return SHV_EMU_OK;
		*jumped = true;
		return near_jump(e, e->rip + in->len + sext(in->imm,
							     in->imm_size));
	case 0xa0: case 0xa8:	/* PUSH FS, GS */
		sz = stack_op_size(e);
		return push(e, sz, e->seg[in->opcode == 0xa0 ? SHV_EMU_FS :
					  SHV_EMU_GS].selector);
	case 0xa1: case 0xa9:	/* POP FS, GS */
		return exec_pop_sreg(e, in->opcode == 0xa1 ? SHV_EMU_FS :
							     SHV_EMU_GS);
	case 0xb2:		/* LSS */
		return exec_lxs(e, SHV_EMU_SS);
	case 0xb4: case 0xb5:	/* LFS, LGS */
		return exec_lxs(e, in->opcode == 0xb4 ? SHV_EMU_FS :
							SHV_EMU_GS);
	case 0x00: case 0x02: case 0x03:	/* group 6, LAR, LSL */
		if (!prot_mode(e))
			return raise_ud(e);
		return SHV_EMU_UNHANDLED;
	case 0x01:		/* SGDT, SIDT, LGDT, LIDT */
		if (in->mod == 3 || sub >= 4)
			return SHV_EMU_UNHANDLED;
		return exec_dt(e, sub);
	case 0x18 ... 0x1f:	/* hint NOPs, prefetches */
		return SHV_EMU_OK;
	case 0xc8 ... 0xcf:	/* BSWAP */
		if (sz == 2)
			return SHV_EMU_UNHANDLED;	/* undefined */
		t = (in->opcode & 7) | ((in->rex & 1) << 3);
		reg_set(e, t, sz, false, bswap(e->regs[t], sz));
		return SHV_EMU_OK;
	default:
		return SHV_EMU_UNHANDLED;
	}
imul:
	{
		u64 hi, lo;

		mul_wide(d, s, sz, true, &hi, &lo);
		t = hi != (msb(lo, sz) ? szmask(sz) : 0);
		set_flags(e, FL_ARITH, (t ? FL_CF | FL_OF : 0) |
			  flags_szp(lo, sz));
		reg_set(e, in->reg, sz, false, lo);
		return SHV_EMU_OK;
	}
}

static int exec_0f38(struct shv_emu *e)
{
	const struct shv_insn *in = &e->insn;
	unsigned int sz = in->op_size;
	struct opnd o;
	u64 v;
	int r;

	if (in->opcode != 0xf0 && in->opcode != 0xf1)
		return SHV_EMU_UNHANDLED;
	if (in->prefixes & SHV_PFX_REPNE)
		return SHV_EMU_UNHANDLED;	/* CRC32 */
	if (in->mod == 3 || !(e->features & SHV_EMU_F_MOVBE) ||
	    (in->prefixes & SHV_PFX_REP))
		return raise_ud(e);
	opnd_rm(e, &o, sz);
	if (in->opcode == 0xf0) {	/* MOVBE r, m */
		r = opnd_read(e, &o, &v);
		if (!r)
			reg_set(e, in->reg, sz, false, bswap(v, sz));
		return r;
	}
	return opnd_write(e, &o, bswap(reg_get(e, in->reg, sz, false), sz));
}

/* near JMP/CALL through memory or a register (FF /2, /4) */
static int exec_branch(struct shv_emu *e, bool call)
{
	unsigned int sz = stack_op_size(e);
	u64 next = e->rip + e->insn.len, target;
	struct opnd o;
	int r;

	opnd_rm(e, &o, sz);
	r = opnd_read(e, &o, &target);
	if (r)
		return r;
	if (e->mode == 64) {
		if (!canonical(e, target))
			return raise_gp0(e);
	} else if (target > e->seg[SHV_EMU_CS].limit) {
		return raise_gp0(e);
	}
	if (call) {
		r = push(e, sz, next & szmask(sz));
		if (r)
			return r;
	}
	e->rip = target;
	return SHV_EMU_OK;
}

static int exec_1(struct shv_emu *e, bool *jumped)
{
	const struct shv_insn *in = &e->insn;
	unsigned int opc = in->opcode, sz = in->op_size, sub = in->reg & 7;
	struct opnd dst, src;
	u64 d, s, imm;
	int r;

	/* the eight ALU ops: 00-3D */
	if (opc < 0x40 && (opc & 7) < 6) {
		enum alu_op op = opc >> 3;

		switch (opc & 7) {
		case 0:
		case 1:
			sz = (opc & 1) ? sz : 1;
			opnd_rm(e, &dst, sz);
			opnd_reg(e, &src, in->reg, sz);
			break;
		case 2:
		case 3:
			sz = (opc & 1) ? sz : 1;
			opnd_reg(e, &dst, in->reg, sz);
			opnd_rm(e, &src, sz);
			break;
		default:
			sz = (opc & 1) ? sz : 1;
			opnd_reg(e, &dst, GPR_AX, sz);
			imm = sz == 8 ? sext(in->imm, 4) : in->imm;
			return exec_alu(e, op, &dst, imm);
		}
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		return exec_alu(e, op, &dst, s);
	}

	switch (opc) {
	case 0x63:		/* MOVSXD r, r/m32 */
		if (e->mode != 64)
			return SHV_EMU_UNHANDLED;	/* ARPL */
		opnd_rm(e, &src, sz == 8 ? 4 : sz);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		reg_set(e, in->reg, sz, false, sext(s, src.size));
		return SHV_EMU_OK;
	case 0x69: case 0x6b:	/* IMUL r, r/m, imm */
		opnd_rm(e, &src, sz);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		imm = sext(in->imm, in->imm_size);
		{
			u64 hi, lo;

			mul_wide(s, imm, sz, true, &hi, &lo);
			d = hi != (msb(lo, sz) ? szmask(sz) : 0);
			set_flags(e, FL_ARITH, (d ? FL_CF | FL_OF : 0) |
				  flags_szp(lo, sz));
			reg_set(e, in->reg, sz, false, lo);
		}
		return SHV_EMU_OK;
	case 0x80: case 0x81: case 0x82: case 0x83:
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		imm = opc == 0x81 ? in->imm : sext(in->imm, 1);
		if (opc == 0x81 && sz == 8)
			imm = sext(imm, 4);
		return exec_alu(e, sub, &dst, imm);
	case 0x84: case 0x85:	/* TEST r/m, r */
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		opnd_reg(e, &src, in->reg, sz);
		opnd_read(e, &src, &s);
		return exec_alu(e, ALU_TEST, &dst, s);
	case 0x86: case 0x87:	/* XCHG r/m, r */
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		opnd_reg(e, &src, in->reg, sz);
		r = opnd_read(e, &dst, &d);
		if (r)
			return r;
		opnd_read(e, &src, &s);
		r = opnd_write(e, &dst, s);
		if (r)
			return r;
		return opnd_write(e, &src, d);
	case 0x88: case 0x89:	/* MOV r/m, r */
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		opnd_reg(e, &src, in->reg, sz);
		opnd_read(e, &src, &s);
		return opnd_write(e, &dst, s);
	case 0x8a: case 0x8b:	/* MOV r, r/m */
		sz = (opc & 1) ? sz : 1;
		opnd_reg(e, &dst, in->reg, sz);
		opnd_rm(e, &src, sz);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		return opnd_write(e, &dst, s);
	case 0x8c:		/* MOV r/m, Sreg */
		if (sub >= SHV_EMU_NR_SEGS)
			return raise_ud(e);
		opnd_rm(e, &dst, in->mod == 3 ? sz : 2);
		return opnd_write(e, &dst, e->seg[sub].selector);
	case 0x8f:		/* POP r/m: the address uses the new rSP */
		if (sub)
			return raise_ud(e);
		sz = stack_op_size(e);
		{
			unsigned int ss = stack_size(e);
			u64 sp = e->regs[GPR_SP] & szmask(ss);

			r = mem_read(e, SHV_EMU_SS, sp, sz, &s);
			if (r)
				return r;
			reg_set(e, GPR_SP, ss, false, sp + sz);
		}
		opnd_rm(e, &dst, sz);
		return opnd_write(e, &dst, s);
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:	/* MOV with moffs */
		sz = (opc & 1) ? sz : 1;
		opnd_mem(&dst, pick_seg(e, SHV_EMU_DS), in->imm & addr_mask(e),
			 sz);
		if (opc < 0xa2) {
			r = opnd_read(e, &dst, &s);
			if (!r)
				reg_set(e, GPR_AX, sz, false, s);
			return r;
		}
		return opnd_write(e, &dst, reg_get(e, GPR_AX, sz, false));
	case 0xa8: case 0xa9:	/* TEST acc, imm */
		sz = (opc & 1) ? sz : 1;
		opnd_reg(e, &dst, GPR_AX, sz);
		return exec_alu(e, ALU_TEST, &dst,
				sz == 8 ? sext(in->imm, 4) : in->imm);
	case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab:
	case 0xac: case 0xad: case 0xae: case 0xaf:
		r = exec_string(e);
		if (!r && e->rep_more)
			*jumped = true;		/* RIP stays */
		return r;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		r = opnd_read(e, &dst, &d);
		if (r)
			return r;
		if (opc >= 0xd2)
			s = e->regs[GPR_CX] & 0xff;
		else
			s = opc >= 0xd0 ? 1 : in->imm;
		if (!shift(e, sub, &d, s, sz))
			return SHV_EMU_OK;
		return opnd_write(e, &dst, d);
	case 0xc6: case 0xc7:	/* MOV r/m, imm */
		if (sub)
			return sub == 7 ? SHV_EMU_UNHANDLED : raise_ud(e);
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		return opnd_write(e, &dst,
				  sz == 8 ? sext(in->imm, 4) : in->imm);
	case 0xf6: case 0xf7:
		sz = (opc & 1) ? sz : 1;
		opnd_rm(e, &dst, sz);
		r = opnd_read(e, &dst, &d);
		if (r)
			return r;
		switch (sub) {
		case 0:
		case 1:		/* TEST r/m, imm */
			alu(e, ALU_TEST, d,
			    sz == 8 ? sext(in->imm, 4) : in->imm, sz);
			return SHV_EMU_OK;
		case 2:		/* NOT */
			return opnd_write(e, &dst, ~d);
		case 3:		/* NEG */
			return opnd_write(e, &dst, alu(e, ALU_NEG, d, 0, sz));
		default:	/* MUL IMUL DIV IDIV */
			return muldiv(e, sub, d, sz);
		}
	case 0xfe: case 0xff:
		sz = (opc & 1) ? sz : 1;
		if (sub < 2) {		/* INC, DEC */
			opnd_rm(e, &dst, sz);
			return exec_alu(e, sub ? ALU_DEC : ALU_INC, &dst, 0);
		}
		if (opc == 0xfe || sub == 7)
			return raise_ud(e);
		if (sub == 3 || sub == 5) {	/* far CALL/JMP */
			*jumped = true;
			return exec_far(e, sub == 3, true);
		}
		if (sub == 2 || sub == 4) {
			*jumped = true;
			return exec_branch(e, sub == 2);
		}
		/* PUSH r/m */
		sz = stack_op_size(e);
		opnd_rm(e, &src, sz);
		r = opnd_read(e, &src, &s);
		if (r)
			return r;
		return push(e, sz, s);
	default:
		return exec_flow(e, jumped);
	}
}

int shv_emu_decode(struct shv_emu *e, const u8 *buf, unsigned int avail)
{
	switch (shv_decode(buf, avail, e->mode, &e->insn)) {
	case 0:
		return SHV_EMU_OK;
	case SHV_DECODE_GP:
		return raise_gp0(e);
	case SHV_DECODE_SHORT:
		return SHV_EMU_UNHANDLED;
	default:
		return raise_ud(e);
	}
}

int shv_emu_exec(struct shv_emu *e)
{
	const struct shv_insn *in = &e->insn;
	u64 regs[16], rip = e->rip, rflags = e->rflags;
	struct shv_emu_seg segs[SHV_EMU_NR_SEGS];
	struct shv_emu_dt gdt = e->gdt, idt = e->idt;
	bool jumped = false;
	unsigned int i;
	int r;

	for (i = 0; i < 16; i++)
		regs[i] = e->regs[i];
	for (i = 0; i < SHV_EMU_NR_SEGS; i++)
		segs[i] = e->seg[i];
	e->rep_more = false;
	e->seg_dirty = 0;
	e->dt_dirty = 0;
	e->events = 0;

	if ((in->prefixes & SHV_PFX_LOCK) && !lock_ok(e))
		r = raise_ud(e);
	else if (in->prefixes & (SHV_PFX_VEX | SHV_PFX_EVEX | SHV_PFX_XOP))
		r = SHV_EMU_UNHANDLED;
	else if (in->map == SHV_MAP_1)
		r = exec_1(e, &jumped);
	else if (in->map == SHV_MAP_0F)
		r = exec_0f(e, &jumped);
	else if (in->map == SHV_MAP_0F38)
		r = exec_0f38(e);
	else
		r = SHV_EMU_UNHANDLED;

	if (r != SHV_EMU_OK) {
		for (i = 0; i < 16; i++)
			e->regs[i] = regs[i];
		for (i = 0; i < SHV_EMU_NR_SEGS; i++)
			e->seg[i] = segs[i];
		e->gdt = gdt;
		e->idt = idt;
		e->rip = rip;
		e->rflags = rflags;
		e->rep_more = false;
		e->seg_dirty = 0;
		e->dt_dirty = 0;
		e->events = 0;
		return r;
	}
	if (!jumped)
		e->rip += in->len;
	if (e->mode == 16 && (!jumped || stack_op_size(e) == 2))
		e->rip &= 0xffff;
	else if (e->mode != 64)
		e->rip = (u32)e->rip;
	/* RF ends with the instruction, unless IRET loaded it */
	if (!(e->events & SHV_EMU_EV_IRET))
		e->rflags &= ~FL_RF;
	return SHV_EMU_OK;
}
