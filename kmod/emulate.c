// SPDX-License-Identifier: GPL-2.0
/*
 * The instruction emulator.  Port I/O, MMIO and hypercalls that the kernel
 * cannot finish leave to the runner through struct shv_run; the emulator
 * decodes the trapping instruction, fills the exit, remembers what the
 * runner owes, and completes the instruction on the next SHV_RUN.
 */
#include <linux/string.h>
#include <linux/mm.h>
#include <linux/bitops.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"

/* code width of the current instruction: 16, 32 or 64 */
int shv_cpu_mode(const struct shv_sregs *sregs, u64 rflags)
{
	if (!(sregs->cr0 & X86_CR0_PE) || (rflags & SHV_RFLAGS_VM))
		return 16;
	if ((sregs->efer & EFER_LMA) && sregs->cs.l)
		return 64;
	return sregs->cs.db ? 32 : 16;
}

static u64 shv_linear(const struct shv_sregs *sregs, int mode, u64 base,
		      u64 off)
{
	return mode == 64 ? base + off : (u32)(base + off);
}

/*
 * Fetch and decode the instruction at CS:RIP.  Returns 0, 1 when a fault
 * was queued into the guest, or -EFAULT/-EINVAL when it cannot be had.
 */
int shv_fetch_insn(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		   struct shv_insn *insn)
{
	int mode = shv_cpu_mode(sregs, vcpu->rflags);
	unsigned int access = SHV_ACC_FETCH |
			      (shv_arch->get_cpl(vcpu) == 3 ? SHV_ACC_USER : 0);
	u64 lin = shv_linear(sregs, mode, sregs->cs.base, vcpu->rip);
	unsigned int first = min_t(unsigned int, SHV_INSN_MAX,
				   PAGE_SIZE - offset_in_page(lin));
	u8 buf[SHV_INSN_MAX];
	int r;

	r = shv_read_guest_virt(vcpu, sregs, lin, buf, first, access);
	if (r)
		return r;
	if (!shv_decode(buf, first, mode, insn))
		return 0;
	if (first == SHV_INSN_MAX)
		return -EINVAL;
	/* the instruction may continue on the next page */
	r = shv_read_guest_virt(vcpu, sregs, lin + first, buf + first,
				SHV_INSN_MAX - first, access);
	if (r)
		return r;
	return shv_decode(buf, SHV_INSN_MAX, mode, insn) ? -EINVAL : 0;
}

/*
 * The address of the next instruction for an intercept that does not
 * report it (no NRIPS): decode; fall back to the known length.
 */
u64 shv_insn_next_rip(struct shv_vcpu *vcpu, unsigned int fallback_len)
{
	struct shv_sregs sregs;
	struct shv_insn insn;

	shv_arch->get_sregs(vcpu, &sregs);
	if (shv_fetch_insn(vcpu, &sregs, &insn) == 0)
		return vcpu->rip + insn.len;
	return vcpu->rip + fallback_len;
}

int shv_internal_error(struct shv_vcpu *vcpu, u32 suberror, unsigned int n,
		       const u64 *data)
{
	struct shv_run *run = vcpu->run;

	n = min_t(unsigned int, n, ARRAY_SIZE(run->internal.data));
	run->exit_reason = SHV_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = n;
	memcpy(run->internal.data, data, n * sizeof(u64));
	return 0;
}

static int shv_emulation_failed(struct shv_vcpu *vcpu,
				const struct shv_insn *insn)
{
	u64 data[4] = { vcpu->rip, 0, 0, insn ? insn->len : 0 };

	if (insn)
		memcpy(&data[1], insn->bytes, insn->len);
	return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_EMULATION, 4, data);
}

/* --- GPR access by size, with the legacy AH/CH/DH/BH encoding --- */

static u64 shv_reg_read(struct shv_vcpu *vcpu, int reg, unsigned int size,
			bool rex)
{
	if (size == 1 && !rex && reg >= 4 && reg < 8)
		return (vcpu->regs[reg - 4] >> 8) & 0xff;
	if (size == 8)
		return vcpu->regs[reg];
	return vcpu->regs[reg] & ((1ull << (size * 8)) - 1);
}

static void shv_reg_write(struct shv_vcpu *vcpu, int reg, unsigned int size,
			  bool high, u64 val)
{
	u64 *r = &vcpu->regs[reg];

	switch (size) {
	case 1:
		if (high)
			*r = (*r & ~0xff00ull) | ((val & 0xff) << 8);
		else
			*r = (*r & ~0xffull) | (val & 0xff);
		break;
	case 2:
		*r = (*r & ~0xffffull) | (val & 0xffff);
		break;
	case 4:
		*r = (u32)val;	/* 32-bit writes zero-extend */
		break;
	default:
		*r = val;
	}
}

static u64 shv_addr_mask(unsigned int addr_size)
{
	return addr_size == 8 ? ~0ull : (1ull << (addr_size * 8)) - 1;
}

/* update an address-size-wide register: rSI, rDI, rCX */
static void shv_reg_write_addr(struct shv_vcpu *vcpu, int reg,
			       unsigned int addr_size, u64 val)
{
	shv_reg_write(vcpu, reg, addr_size, false, val);
}

/* --- port I/O --- */

static void shv_fill_io(struct shv_vcpu *vcpu, bool in)
{
	struct shv_run *run = vcpu->run;

	run->exit_reason = SHV_EXIT_IO;
	run->io.direction = in ? SHV_EXIT_IO_IN : SHV_EXIT_IO_OUT;
	run->io.size = vcpu->pio.size;
	run->io.port = vcpu->pio.port;
	run->io.count = 1;
	if (in)
		memset(run->io.data, 0, sizeof(run->io.data));
}

/* linear address of the string operand of INS (ES:rDI) or OUTS (seg:rSI) */
static u64 shv_str_addr(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			bool in)
{
	static const int seg_off[] = {
		[SHV_SEG_ES] = offsetof(struct shv_sregs, es),
		[SHV_SEG_CS] = offsetof(struct shv_sregs, cs),
		[SHV_SEG_SS] = offsetof(struct shv_sregs, ss),
		[SHV_SEG_DS] = offsetof(struct shv_sregs, ds),
		[SHV_SEG_FS] = offsetof(struct shv_sregs, fs),
		[SHV_SEG_GS] = offsetof(struct shv_sregs, gs),
	};
	int mode = shv_cpu_mode(sregs, vcpu->rflags);
	int seg = in ? SHV_SEG_ES : vcpu->pio.seg;
	const struct shv_segment *s = (const void *)sregs + seg_off[seg];
	u64 off = vcpu->regs[in ? SHV_RDI : SHV_RSI] &
		  shv_addr_mask(vcpu->pio.addr_size);
	u64 base = s->base;

	/* in 64-bit mode only FS and GS have a base */
	if (mode == 64 && seg != SHV_SEG_FS && seg != SHV_SEG_GS)
		base = 0;
	return shv_linear(sregs, mode, base, off);
}

static int shv_pio_str_element(struct shv_vcpu *vcpu)
{
	struct shv_sregs sregs;
	int r;

	shv_arch->get_sregs(vcpu, &sregs);
	shv_fill_io(vcpu, vcpu->pio.in);
	if (!vcpu->pio.in) {
		r = shv_read_guest_virt(vcpu, &sregs,
					shv_str_addr(vcpu, &sregs, false),
					vcpu->run->io.data, vcpu->pio.size,
					shv_arch->get_cpl(vcpu) == 3 ?
					SHV_ACC_USER : 0);
		if (r == 1)
			return 1;	/* #PF queued: the guest takes it */
		if (r)
			return shv_emulation_failed(vcpu, NULL);
	}
	vcpu->pending = SHV_PENDING_PIO_STR;
	return 0;
}

int shv_pio_exit(struct shv_vcpu *vcpu, u16 port, u8 size, bool in,
		 bool str, bool rep, u64 next_rip)
{
	struct shv_pio_state *pio = &vcpu->pio;

	pio->port = port;
	pio->size = size;
	pio->in = in;
	pio->rep = rep;
	pio->next_rip = next_rip;

	if (!str) {
		shv_fill_io(vcpu, in);
		if (!in)
			memcpy(vcpu->run->io.data, &vcpu->regs[SHV_RAX], size);
		else
			vcpu->pending = SHV_PENDING_PIO_IN;
		shv_arch->skip_insn(vcpu, next_rip);
		return 0;
	}

	{
		struct shv_sregs sregs;
		struct shv_insn insn;
		int r;

		shv_arch->get_sregs(vcpu, &sregs);
		r = shv_fetch_insn(vcpu, &sregs, &insn);
		if (r == 1)
			return 1;
		if (r)
			return shv_emulation_failed(vcpu, NULL);
		pio->addr_size = insn.addr_size;
		pio->seg = insn.seg >= 0 ? insn.seg : SHV_SEG_DS;
	}
	if (rep && !(vcpu->regs[SHV_RCX] & shv_addr_mask(pio->addr_size))) {
		shv_arch->skip_insn(vcpu, next_rip);
		return 1;
	}
	return shv_pio_str_element(vcpu);
}

static int shv_complete_pio_str(struct shv_vcpu *vcpu)
{
	struct shv_pio_state *pio = &vcpu->pio;
	u64 mask = shv_addr_mask(pio->addr_size);
	int idx = pio->in ? SHV_RDI : SHV_RSI;
	s64 step = (vcpu->rflags & SHV_RFLAGS_DF) ? -(s64)pio->size :
						     pio->size;
	u64 cnt;

	if (pio->in) {
		struct shv_sregs sregs;
		int r;

		shv_arch->get_sregs(vcpu, &sregs);
		r = shv_write_guest_virt(vcpu, &sregs,
					 shv_str_addr(vcpu, &sregs, true),
					 vcpu->run->io.data, pio->size);
		if (r == 1)
			return 1;
		if (r)
			return shv_emulation_failed(vcpu, NULL);
	}
	shv_reg_write_addr(vcpu, idx, pio->addr_size,
			   (vcpu->regs[idx] + step) & mask);
	if (!pio->rep) {
		shv_arch->skip_insn(vcpu, pio->next_rip);
		return 1;
	}
	cnt = ((vcpu->regs[SHV_RCX] & mask) - 1) & mask;
	shv_reg_write_addr(vcpu, SHV_RCX, pio->addr_size, cnt);
	/* RIP stays on the instruction until the count runs out */
	if (!cnt)
		shv_arch->skip_insn(vcpu, pio->next_rip);
	return 1;
}

/* --- MMIO --- */

int shv_mmio_exit(struct shv_vcpu *vcpu, u64 gpa, bool write)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	struct shv_run *run = vcpu->run;
	struct shv_sregs sregs;
	struct shv_insn insn;
	bool rex, is_write;
	u64 val = 0;
	int r;

	shv_arch->get_sregs(vcpu, &sregs);
	r = shv_fetch_insn(vcpu, &sregs, &insn);
	if (r == 1)
		return 1;
	if (r)
		return shv_emulation_failed(vcpu, NULL);

	rex = insn.rex != 0;
	*m = (struct shv_mmio_state){ .reg = -1 };
	m->next_rip = vcpu->rip + insn.len;

	if (insn.map == SHV_MAP_1) {
		switch (insn.opcode) {
		case 0x88:	/* mov r/m8, r8 */
		case 0x89:	/* mov r/m, r */
			is_write = true;
			m->len = insn.opcode == 0x88 ? 1 : insn.op_size;
			val = shv_reg_read(vcpu, insn.reg, m->len, rex);
			break;
		case 0x8a:	/* mov r8, r/m8 */
		case 0x8b:	/* mov r, r/m */
			is_write = false;
			m->len = insn.opcode == 0x8a ? 1 : insn.op_size;
			m->reg = insn.reg;
			m->dst_size = m->len;
			break;
		case 0xc6:	/* mov r/m8, imm8 */
		case 0xc7:	/* mov r/m, imm */
			if ((insn.reg & 7) != 0)
				return shv_emulation_failed(vcpu, &insn);
			is_write = true;
			m->len = insn.opcode == 0xc6 ? 1 : insn.op_size;
			val = insn.imm;
			if (m->len == 8)	/* imm32 sign-extended */
				val = (u64)(s64)(s32)val;
			break;
		case 0xa0:	/* mov al, moffs */
		case 0xa1:
			is_write = false;
			m->len = insn.opcode == 0xa0 ? 1 : insn.op_size;
			m->reg = SHV_RAX;
			m->dst_size = m->len;
			break;
		case 0xa2:	/* mov moffs, al */
		case 0xa3:
			is_write = true;
			m->len = insn.opcode == 0xa2 ? 1 : insn.op_size;
			val = shv_reg_read(vcpu, SHV_RAX, m->len, true);
			break;
		default:
			return shv_emulation_failed(vcpu, &insn);
		}
	} else if (insn.map == SHV_MAP_0F && !(insn.prefixes & SHV_PFX_VEX) &&
		   (insn.opcode == 0xb6 || insn.opcode == 0xb7 ||
		    insn.opcode == 0xbe || insn.opcode == 0xbf)) {
		/* movzx / movsx r, r/m8 or r/m16 */
		is_write = false;
		m->len = (insn.opcode & 1) ? 2 : 1;
		m->reg = insn.reg;
		m->dst_size = insn.op_size;
		m->sign_extend = insn.opcode >= 0xbe;
	} else {
		return shv_emulation_failed(vcpu, &insn);
	}

	if (insn.has_modrm && insn.mod == 3)
		return shv_emulation_failed(vcpu, &insn);
	if (is_write != write && write)
		return shv_emulation_failed(vcpu, &insn);

	if (m->reg >= 0 && m->dst_size == 1 && !rex && m->reg >= 4 &&
	    m->reg < 8) {
		m->high_byte = true;
		m->reg -= 4;
	}

	run->exit_reason = SHV_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = m->len;
	run->mmio.is_write = is_write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (is_write) {
		memcpy(run->mmio.data, &val, m->len);
		shv_arch->skip_insn(vcpu, m->next_rip);
	} else {
		vcpu->pending = SHV_PENDING_MMIO_READ;
	}
	return 0;
}

static int shv_complete_mmio_read(struct shv_vcpu *vcpu)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	u64 val = 0;

	memcpy(&val, vcpu->run->mmio.data, m->len);
	if (m->sign_extend)
		val = m->len == 1 ? (u64)(s64)(s8)val : (u64)(s64)(s16)val;
	shv_reg_write(vcpu, m->reg, m->dst_size, m->high_byte, val);
	shv_arch->skip_insn(vcpu, m->next_rip);
	return 1;
}

/* --- hypercalls (VMMCALL/VMCALL) --- */

int shv_hypercall_exit(struct shv_vcpu *vcpu, u64 next_rip)
{
	struct shv_run *run = vcpu->run;

	run->exit_reason = SHV_EXIT_HYPERCALL;
	run->hypercall.nr = vcpu->regs[SHV_RAX];
	run->hypercall.args[0] = vcpu->regs[SHV_RBX];
	run->hypercall.args[1] = vcpu->regs[SHV_RCX];
	run->hypercall.args[2] = vcpu->regs[SHV_RDX];
	run->hypercall.args[3] = vcpu->regs[SHV_RSI];
	run->hypercall.args[4] = vcpu->regs[SHV_RDI];
	run->hypercall.args[5] = 0;
	run->hypercall.ret = 0;
	vcpu->pending = SHV_PENDING_HYPERCALL;
	shv_arch->skip_insn(vcpu, next_rip);
	return 0;
}

/*
 * Finish what the last exit left to the runner.  Returns 1 to enter the
 * guest, 0 when another exit for the runner is ready.
 */
int shv_complete_pending(struct shv_vcpu *vcpu)
{
	enum shv_pending p = vcpu->pending;
	struct shv_run *run = vcpu->run;
	int r = 1;

	vcpu->pending = SHV_PENDING_NONE;
	switch (p) {
	case SHV_PENDING_PIO_IN: {
		u64 val = 0;

		memcpy(&val, run->io.data, vcpu->pio.size);
		shv_reg_write(vcpu, SHV_RAX, vcpu->pio.size, false, val);
		break;
	}
	case SHV_PENDING_PIO_STR:
		r = shv_complete_pio_str(vcpu);
		break;
	case SHV_PENDING_MMIO_READ:
		r = shv_complete_mmio_read(vcpu);
		break;
	case SHV_PENDING_HYPERCALL:
		vcpu->regs[SHV_RAX] = run->hypercall.ret;
		break;
	default:
		break;
	}
	return r;
}

/* --- effective addresses --- */

static const struct shv_segment *shv_sreg(const struct shv_sregs *s, int seg)
{
	switch (seg) {
	case SHV_SEG_ES: return &s->es;
	case SHV_SEG_CS: return &s->cs;
	case SHV_SEG_SS: return &s->ss;
	case SHV_SEG_FS: return &s->fs;
	case SHV_SEG_GS: return &s->gs;
	default: return &s->ds;
	}
}

/* the linear address of the ModRM memory operand of insn */
u64 shv_insn_linear(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		    const struct shv_insn *insn)
{
	int mode = insn->mode, seg = SHV_SEG_DS;
	u64 ea = 0, base;

	if (insn->addr_size == 2) {
		static const s8 b16[8] = { SHV_RBX, SHV_RBX, SHV_RBP, SHV_RBP,
					   -1, -1, SHV_RBP, SHV_RBX };
		static const s8 i16[8] = { SHV_RSI, SHV_RDI, SHV_RSI, SHV_RDI,
					   SHV_RSI, SHV_RDI, -1, -1 };
		int rm = insn->modrm & 7;

		if (!(insn->mod == 0 && rm == 6)) {
			if (b16[rm] >= 0)
				ea += vcpu->regs[b16[rm]];
			if (i16[rm] >= 0)
				ea += vcpu->regs[i16[rm]];
			if (b16[rm] == SHV_RBP)
				seg = SHV_SEG_SS;
		}
		ea = (ea + insn->disp) & 0xffff;
	} else if (insn->has_sib) {
		int b = (insn->sib & 7) | ((insn->rex & 1) << 3);
		int x = ((insn->sib >> 3) & 7) | ((insn->rex & 2) << 2);

		if (!((insn->sib & 7) == 5 && insn->mod == 0)) {
			ea += vcpu->regs[b];
			if (b == SHV_RSP || b == SHV_RBP)
				seg = SHV_SEG_SS;
		}
		if (x != 4)
			ea += vcpu->regs[x] << (insn->sib >> 6);
		ea += insn->disp;
	} else if (insn->mod == 0 && (insn->modrm & 7) == 5) {
		ea = insn->disp;
		if (mode == 64)	/* RIP-relative */
			ea += vcpu->rip + insn->len;
	} else {
		ea = vcpu->regs[insn->rm] + insn->disp;
		if (insn->rm == SHV_RBP || insn->rm == SHV_RSP)
			seg = SHV_SEG_SS;
	}
	if (insn->addr_size == 4)
		ea = (u32)ea;
	if (insn->seg >= 0)
		seg = insn->seg;
	base = shv_sreg(sregs, seg)->base;
	if (mode == 64 && seg != SHV_SEG_FS && seg != SHV_SEG_GS)
		base = 0;
	return shv_linear(sregs, mode, base, ea);
}

/* --- writes to write-protected guest page tables --- */

#define SHV_FLAGS_ARITH	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | \
			 X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

static u64 shv_size_mask(unsigned int sz)
{
	return sz == 8 ? ~0ull : (1ull << (sz * 8)) - 1;
}

static u64 shv_flags_result(u64 res, unsigned int sz)
{
	u64 f = 0;

	res &= shv_size_mask(sz);
	if (!res)
		f |= X86_EFLAGS_ZF;
	if (res >> (sz * 8 - 1))
		f |= X86_EFLAGS_SF;
	if (!(hweight8(res & 0xff) & 1))
		f |= X86_EFLAGS_PF;
	return f;
}

static void shv_set_arith_flags(struct shv_vcpu *vcpu, u64 f)
{
	vcpu->rflags = (vcpu->rflags & ~SHV_FLAGS_ARITH) | f;
}

/*
 * Emulate the instruction at RIP, a write to the guest-physical gpa that
 * is a write-protected guest page table.  Handles the forms guests use to
 * edit page tables: MOV, XCHG, CMPXCHG, CMPXCHG8B, AND/OR/XOR and
 * BTS/BTR.  Reports the bytes written through off/len.  Returns 0, 1 when
 * a fault was queued, -EOPNOTSUPP for anything else.
 */
int shv_emulate_write(struct shv_vcpu *vcpu, u64 gpa, unsigned int *off,
		      unsigned int *len)
{
	struct shv_sregs sregs;
	struct shv_insn insn;
	u64 old = 0, new, src = 0, f;
	unsigned int sz, op;
	bool rex;
	int r, reg;

	shv_arch->get_sregs(vcpu, &sregs);
	r = shv_fetch_insn(vcpu, &sregs, &insn);
	if (r)
		return r == 1 ? 1 : -EOPNOTSUPP;
	if (!insn.has_modrm && !(insn.map == SHV_MAP_1 &&
				 (insn.opcode == 0xa2 || insn.opcode == 0xa3)))
		return -EOPNOTSUPP;
	if (insn.has_modrm && insn.mod == 3)
		return -EOPNOTSUPP;
	rex = insn.rex != 0;
	reg = insn.reg;
	sz = insn.op_size;
	op = insn.map == SHV_MAP_1 ? insn.opcode : 0x100 | insn.opcode;

	/* byte forms */
	switch (op) {
	case 0x88: case 0x86: case 0xc6: case 0xa2: case 0x20: case 0x08:
	case 0x30: case 0x80: case 0x1b0:
		sz = 1;
		break;
	case 0x1c7:
		sz = 8;
		break;
	}
	if ((gpa & (PAGE_SIZE - 1)) + sz > PAGE_SIZE)
		return -EOPNOTSUPP;
	if (shv_read_guest_phys(vcpu->vm, gpa, &old, sz))
		return -EOPNOTSUPP;

	switch (op) {
	case 0x88: case 0x89:			/* mov r/m, r */
		new = shv_reg_read(vcpu, reg, sz, rex);
		break;
	case 0xa2: case 0xa3:			/* mov moffs, a */
		new = shv_reg_read(vcpu, SHV_RAX, sz, true);
		break;
	case 0xc6: case 0xc7:			/* mov r/m, imm */
		if (insn.reg & 7)
			return -EOPNOTSUPP;
		new = sz == 8 ? (u64)(s64)(s32)insn.imm : insn.imm;
		break;
	case 0x86: case 0x87:			/* xchg */
		new = shv_reg_read(vcpu, reg, sz, rex);
		shv_reg_write(vcpu, (sz == 1 && !rex && reg >= 4 && reg < 8) ?
			      reg - 4 : reg, sz,
			      sz == 1 && !rex && reg >= 4 && reg < 8, old);
		break;
	case 0x20: case 0x21: case 0x08: case 0x09: case 0x30: case 0x31:
		src = shv_reg_read(vcpu, reg, sz, rex);
		goto logic;
	case 0x80: case 0x81: case 0x83:
		src = insn.imm;
		if (op == 0x83 || (op == 0x81 && sz == 8))
			src = (u64)(s64)(insn.imm_size == 1 ? (s8)src : (s32)src);
		switch (insn.reg & 7) {
		case 1:
			op = 0x09;
			break;
		case 4:
			op = 0x21;
			break;
		case 6:
			op = 0x31;
			break;
		default:
			return -EOPNOTSUPP;
		}
logic:
		if (op == 0x20 || op == 0x21)
			new = old & src;
		else if (op == 0x08 || op == 0x09)
			new = old | src;
		else
			new = old ^ src;
		shv_set_arith_flags(vcpu, shv_flags_result(new, sz));
		break;
	case 0x1ab: case 0x1b3: case 0x1ba: {	/* bts / btr */
		u64 bit;
		bool set;

		if (op == 0x1ba) {
			if ((insn.reg & 7) != 5 && (insn.reg & 7) != 6)
				return -EOPNOTSUPP;
			set = (insn.reg & 7) == 5;
			bit = insn.imm & (sz * 8 - 1);
		} else {
			set = op == 0x1ab;
			bit = shv_reg_read(vcpu, reg, sz, rex);
			if (bit >= sz * 8)
				return -EOPNOTSUPP;
		}
		f = vcpu->rflags & ~X86_EFLAGS_CF;
		if (old & BIT_ULL(bit))
			f |= X86_EFLAGS_CF;
		vcpu->rflags = f;
		new = set ? old | BIT_ULL(bit) : old & ~BIT_ULL(bit);
		break;
	}
	case 0x1b0: case 0x1b1: {		/* cmpxchg */
		u64 acc = shv_reg_read(vcpu, SHV_RAX, sz, true);
		u64 res = (acc - old) & shv_size_mask(sz);

		f = shv_flags_result(res, sz);
		if (acc < (old & shv_size_mask(sz)))
			f |= X86_EFLAGS_CF;
		if (((acc ^ old) & (acc ^ res)) >> (sz * 8 - 1) & 1)
			f |= X86_EFLAGS_OF;
		if ((acc ^ old ^ res) & 0x10)
			f |= X86_EFLAGS_AF;
		shv_set_arith_flags(vcpu, f);
		if (res == 0) {
			new = shv_reg_read(vcpu, reg, sz, rex);
		} else {
			new = old;
			shv_reg_write(vcpu, SHV_RAX, sz, false, old);
		}
		break;
	}
	case 0x1c7: {				/* cmpxchg8b */
		u64 cmp = (u32)vcpu->regs[SHV_RAX] |
			  (vcpu->regs[SHV_RDX] << 32);

		if ((insn.reg & 7) != 1 || (insn.rex & 8))
			return -EOPNOTSUPP;
		f = vcpu->rflags & ~X86_EFLAGS_ZF;
		if (old == cmp) {
			f |= X86_EFLAGS_ZF;
			new = (u32)vcpu->regs[SHV_RBX] |
			      (vcpu->regs[SHV_RCX] << 32);
		} else {
			new = old;
			shv_reg_write(vcpu, SHV_RAX, 4, false, (u32)old);
			shv_reg_write(vcpu, SHV_RDX, 4, false, old >> 32);
		}
		vcpu->rflags = f;
		break;
	}
	default:
		return -EOPNOTSUPP;
	}

	if (shv_write_guest_phys(vcpu->vm, gpa, &new, sz))
		return -EOPNOTSUPP;
	*off = gpa & (PAGE_SIZE - 1);
	*len = sz;
	shv_arch->skip_insn(vcpu, vcpu->rip + insn.len);
	return 0;
}
