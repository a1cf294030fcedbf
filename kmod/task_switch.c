// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware task switches (SDM vol. 3 ch. 7, APM vol. 2 ch. 12), for the
 * exits that report one: SVM's TASK_SWITCH intercept (the shadow MMU
 * intercepts them because they load CR3) and VMX's unconditional task
 * switch exit.  The backend says where the switch came from (CALL, JMP,
 * IRET, or an event delivered through a task gate) and what the new TSS
 * selector is; this file does the rest as the processor would: the checks
 * on the new TSS descriptor, the busy bits, the outgoing state saved into
 * the old TSS, the back link and NT, CR0.TS, the new state loaded from the
 * new TSS (CR3 through the normal CR3 path, the LDT, the segment registers
 * with their checks), the error code of an exception delivered through a
 * task gate, and the T bit.  See Documentation/modes.rst.
 */
#include <asm/processor-flags.h>
#include <asm/unaligned.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emulate.h"
#include "task_switch.h"

/* 32-bit TSS fields */
#define TSS32_LINK	0x00
#define TSS32_CR3	0x1c
#define TSS32_EIP	0x20
#define TSS32_SEGS	0x48	/* ES, CS, SS, DS, FS, GS: 4 bytes each */
#define TSS32_LDT	0x60
#define TSS32_TBIT	0x64
#define TSS32_SIZE	0x68

/* 16-bit TSS fields */
#define TSS16_LINK	0x00
#define TSS16_IP	0x0e
#define TSS16_SEGS	0x22	/* ES, CS, SS, DS: 2 bytes each */
#define TSS16_LDT	0x2a
#define TSS16_SIZE	0x2c

/* system descriptor types */
#define DESC_TSS16_AVAIL	1
#define DESC_LDT		2
#define DESC_TSS16_BUSY		3
#define DESC_TSS32_AVAIL	9
#define DESC_TSS32_BUSY		11
#define DESC_TSS_BUSY_BIT	2

#define EFLAGS_VALID		0x3f7fd7ull

/* what the helpers below return besides 0 */
#define TS_FAULT	1	/* ctx->vector/error is to be raised */
#define TS_QUEUED	2	/* a #PF was queued already */

struct ts_ctx {
	struct shv_vcpu *vcpu;
	struct shv_sregs s;	/* the state being built */
	u8 vector;		/* the fault, with TS_FAULT */
	u32 error;
};

static int ts_fault(struct ts_ctx *c, u8 vector, u32 error)
{
	c->vector = vector;
	c->error = error;
	return TS_FAULT;
}

static int ts_mem(int r)
{
	if (r == 1)
		return TS_QUEUED;	/* #PF, queued by the walker */
	return r ? -EFAULT : 0;
}

/* supervisor accesses by the processor itself (TSS, descriptor tables) */
static int ts_read(struct ts_ctx *c, u64 la, void *buf, unsigned int len)
{
	return ts_mem(shv_read_guest_virt(c->vcpu, &c->s, (u32)la, buf, len,
					  SHV_ACC_IMPLICIT));
}

static int ts_write(struct ts_ctx *c, u64 la, const void *buf,
		    unsigned int len)
{
	return ts_mem(shv_write_guest_virt_sys(c->vcpu, &c->s, (u32)la, buf,
					       len));
}

/* the linear address of a selector's descriptor; false: beyond the table */
static bool desc_addr(struct ts_ctx *c, u16 sel, u64 *la)
{
	u64 base, limit;

	if (sel & 4) {
		if (c->s.ldt.unusable || !c->s.ldt.present)
			return false;
		base = c->s.ldt.base;
		limit = c->s.ldt.limit;
	} else {
		base = c->s.gdt.base;
		limit = c->s.gdt.limit;
	}
	if ((u32)(sel & ~7) + 7 > limit)
		return false;
	*la = base + (sel & ~7);
	return true;
}

static void desc_to_seg(u64 d, u16 sel, struct shv_segment *s)
{
	u32 limit = (d & 0xffff) | ((d >> 32) & 0xf0000);

	*s = (struct shv_segment){
		.base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000),
		.selector = sel,
		.type = (d >> 40) & 15,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
	};
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
}

/* set bits in the access-rights byte of a descriptor (accessed, busy) */
static int desc_set_type_bits(struct ts_ctx *c, u64 la, u64 d, u8 bits)
{
	u8 ar = (d >> 40) & 0xff;

	if ((ar | bits) == ar)
		return 0;
	ar |= bits;
	return ts_write(c, la + 5, &ar, 1);
}

static int tss_set_busy(struct ts_ctx *c, u16 sel, bool busy)
{
	u64 la, d;
	u8 ar;
	int r;

	if (!desc_addr(c, sel, &la))
		return ts_fault(c, SHV_GP_VECTOR, sel & 0xfffc);
	r = ts_read(c, la, &d, 8);
	if (r)
		return r;
	ar = (d >> 40) & 0xff;
	ar = busy ? ar | DESC_TSS_BUSY_BIT : ar & ~DESC_TSS_BUSY_BIT;
	return ts_write(c, la + 5, &ar, 1);
}

/*
 * Load a segment register from the new task (SDM table 7-1): #TS for a
 * bad selector or descriptor, #NP (#SS for SS) when not present.  The
 * accessed bit is set as on any segment load.
 */
static int ts_load_seg(struct ts_ctx *c, int seg, struct shv_segment *out,
		       u16 sel, int cpl)
{
	int rpl = sel & 3;
	struct shv_segment d;
	u64 la, raw;
	int r;

	if (!(sel & ~3)) {
		if (seg == SHV_SEG_CS || seg == SHV_SEG_SS)
			return ts_fault(c, SHV_TS_VECTOR, 0);
		*out = (struct shv_segment){ .selector = sel, .unusable = 1,
					     .dpl = cpl };
		return 0;
	}
	if (!desc_addr(c, sel, &la))
		return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
	r = ts_read(c, la, &raw, 8);
	if (r)
		return r;
	desc_to_seg(raw, sel, &d);
	if (!d.s)
		return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
	switch (seg) {
	case SHV_SEG_CS:
		if (!(d.type & 8))
			return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
		if ((d.type & 4) ? d.dpl > rpl : d.dpl != rpl)
			return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
		if (!d.present)
			return ts_fault(c, SHV_NP_VECTOR, sel & 0xfffc);
		break;
	case SHV_SEG_SS:
		if ((d.type & 8) || !(d.type & 2) || d.dpl != cpl ||
		    rpl != cpl)
			return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
		if (!d.present)
			return ts_fault(c, SHV_SS_VECTOR, sel & 0xfffc);
		break;
	default:
		/* data, or readable code */
		if ((d.type & 0xa) == 8)
			return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
		/* data and non-conforming code: DPL >= max(CPL, RPL) */
		if ((d.type & 0xc) != 0xc && (d.dpl < cpl || d.dpl < rpl))
			return ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
		if (!d.present)
			return ts_fault(c, SHV_NP_VECTOR, sel & 0xfffc);
		break;
	}
	r = desc_set_type_bits(c, la, raw, 1);	/* accessed */
	if (r)
		return r;
	d.type |= 1;
	*out = d;
	return 0;
}

/*
 * A virtual-8086 segment: base selector * 16, 64 KiB, DPL 3, read/write
 * data accessed (attributes 0xf3, CS included, as VMX requires them).
 */
static void ts_v86_seg(struct shv_segment *s, u16 sel)
{
	*s = (struct shv_segment){
		.base = (u32)sel << 4, .limit = 0xffff, .selector = sel,
		.type = 3, .s = 1, .dpl = 3, .present = 1,
	};
}

static struct shv_segment *ts_seg(struct shv_sregs *s, int seg)
{
	switch (seg) {
	case SHV_SEG_ES: return &s->es;
	case SHV_SEG_CS: return &s->cs;
	case SHV_SEG_SS: return &s->ss;
	case SHV_SEG_DS: return &s->ds;
	case SHV_SEG_FS: return &s->fs;
	default: return &s->gs;
	}
}

/* the new task's registers, read from its TSS */
struct ts_state {
	u32 cr3, eip, eflags;
	u32 regs[8];
	u16 segs[6];
	u16 ldt;
	bool tbit;
};

static void tss32_parse(const u8 *t, struct ts_state *st)
{
	unsigned int i;

	st->cr3 = get_unaligned_le32(t + TSS32_CR3);
	st->eip = get_unaligned_le32(t + TSS32_EIP);
	st->eflags = get_unaligned_le32(t + TSS32_EIP + 4);
	for (i = 0; i < 8; i++)
		st->regs[i] = get_unaligned_le32(t + TSS32_EIP + 8 + 4 * i);
	for (i = 0; i < 6; i++)
		st->segs[i] = get_unaligned_le16(t + TSS32_SEGS + 4 * i);
	st->ldt = get_unaligned_le16(t + TSS32_LDT);
	st->tbit = get_unaligned_le16(t + TSS32_TBIT) & 1;
}

static void tss16_parse(const u8 *t, struct ts_state *st)
{
	unsigned int i;

	st->eip = get_unaligned_le16(t + TSS16_IP);
	st->eflags = get_unaligned_le16(t + TSS16_IP + 2);
	for (i = 0; i < 8; i++)
		st->regs[i] = get_unaligned_le16(t + TSS16_IP + 4 + 2 * i);
	for (i = 0; i < 4; i++)
		st->segs[i] = get_unaligned_le16(t + TSS16_SEGS + 2 * i);
	st->segs[SHV_SEG_FS] = 0;
	st->segs[SHV_SEG_GS] = 0;
	st->ldt = get_unaligned_le16(t + TSS16_LDT);
}

/* save the outgoing task's dynamic state into its TSS */
static int ts_save_old(struct ts_ctx *c, bool tss32, u32 eip, u32 eflags)
{
	struct shv_vcpu *vcpu = c->vcpu;
	u8 buf[TSS32_SIZE - TSS32_EIP];
	u64 base = c->s.tr.base;
	unsigned int i;
	int r;

	if (tss32) {
		put_unaligned_le32(eip, buf);
		put_unaligned_le32(eflags, buf + 4);
		for (i = 0; i < 8; i++)
			put_unaligned_le32(vcpu->regs[i], buf + 8 + 4 * i);
		/* the selector fields are 16 bits, the rest is reserved */
		r = ts_write(c, base + TSS32_EIP, buf, 0x28);
		for (i = 0; !r && i < 6; i++)
			r = ts_write(c, base + TSS32_SEGS + 4 * i,
				     &ts_seg(&c->s, i)->selector, 2);
		return r;
	}
	put_unaligned_le16(eip, buf);
	put_unaligned_le16(eflags, buf + 2);
	for (i = 0; i < 8; i++)
		put_unaligned_le16(vcpu->regs[i], buf + 4 + 2 * i);
	for (i = 0; i < 4; i++)
		put_unaligned_le16(ts_seg(&c->s, i)->selector, buf + 20 + 2 * i);
	return ts_write(c, base + TSS16_IP, buf, TSS16_LDT - TSS16_IP);
}

/* after the commit point: CR3, LDTR and the segment registers */
static int ts_load_new(struct ts_ctx *c, const struct ts_state *st,
		       bool tss32, bool *cr3_changed)
{
	struct shv_sregs *s = &c->s;
	bool v86 = tss32 && (st->eflags & X86_EFLAGS_VM);
	int cpl = v86 ? 3 : st->segs[SHV_SEG_CS] & 3;
	struct shv_segment segs[6];
	u16 ldt = st->ldt;
	unsigned int i;
	u64 la, raw;
	int r;

	/* the selectors are loaded first, the descriptors after */
	for (i = 0; i < 6; i++) {
		struct shv_segment *d = ts_seg(s, i);

		*d = (struct shv_segment){ .selector = st->segs[i],
					   .unusable = 1, .dpl = cpl };
	}
	s->cs = (struct shv_segment){ .selector = st->segs[SHV_SEG_CS],
				      .type = 0xb, .s = 1, .present = 1,
				      .dpl = cpl, .limit = 0xffff };
	s->ldt = (struct shv_segment){ .selector = ldt, .unusable = 1 };

	if (tss32 && (s->cr0 & X86_CR0_PG) && st->cr3 != (u32)s->cr3) {
		if ((s->cr4 & X86_CR4_PAE) && !(s->efer & EFER_LMA) &&
		    shv_load_pdptrs(c->vcpu, st->cr3))
			return ts_fault(c, SHV_GP_VECTOR, 0);
		s->cr3 = st->cr3;
		*cr3_changed = true;
	}

	/* the LDT: a present LDT descriptor in the GDT, or null */
	if (ldt & ~3) {
		struct shv_segment d;

		if ((ldt & 4) || !desc_addr(c, ldt, &la))
			return ts_fault(c, SHV_TS_VECTOR, ldt & 0xfffc);
		r = ts_read(c, la, &raw, 8);
		if (r)
			return r;
		desc_to_seg(raw, ldt, &d);
		if (d.s || d.type != DESC_LDT || !d.present)
			return ts_fault(c, SHV_TS_VECTOR, ldt & 0xfffc);
		s->ldt = d;
	}

	if (v86) {
		for (i = 0; i < 6; i++)
			ts_v86_seg(ts_seg(s, i), st->segs[i]);
		return 0;
	}
	/* CS first (it sets the CPL), then SS, then the data segments */
	r = ts_load_seg(c, SHV_SEG_CS, &segs[SHV_SEG_CS],
			st->segs[SHV_SEG_CS], cpl);
	if (r)
		return r;
	s->cs = segs[SHV_SEG_CS];
	r = ts_load_seg(c, SHV_SEG_SS, &segs[SHV_SEG_SS],
			st->segs[SHV_SEG_SS], cpl);
	if (r)
		return r;
	s->ss = segs[SHV_SEG_SS];
	for (i = 0; i < 6; i++) {
		if (i == SHV_SEG_CS || i == SHV_SEG_SS)
			continue;
		r = ts_load_seg(c, i, &segs[i], st->segs[i], cpl);
		if (r)
			return r;
		*ts_seg(s, i) = segs[i];
	}
	return 0;
}

/* push the error code of an exception delivered through a task gate */
static int ts_push_error(struct ts_ctx *c, bool tss32, u32 error)
{
	struct shv_vcpu *vcpu = c->vcpu;
	unsigned int size = tss32 ? 4 : 2;
	u64 mask = c->s.ss.db ? 0xffffffffull : 0xffffull;
	u64 sp = (vcpu->regs[SHV_RSP] - size) & mask;
	int r;

	r = shv_write_guest_virt(vcpu, &c->s, (u32)(c->s.ss.base + sp),
				 &error, size);
	if (r)
		return ts_mem(r);
	vcpu->regs[SHV_RSP] = (vcpu->regs[SHV_RSP] & ~mask) | sp;
	return 0;
}

/*
 * The direct form of CALL/JMP ptr16:16/32 names the TSS itself: its
 * descriptor's DPL must allow the CPL and the selector's RPL.  Through a
 * task gate only the gate's DPL counts (the processor checked it).
 */
static bool ts_direct_ok(struct ts_ctx *c, const struct shv_ts_info *info,
			 u64 desc)
{
	struct shv_insn insn;
	int dpl = (desc >> 45) & 3, cpl;
	u16 sel;

	if (info->source != SHV_TS_CALL && info->source != SHV_TS_JMP)
		return true;
	if (shv_fetch_insn(c->vcpu, &c->s, &insn) || insn.map != SHV_MAP_1 ||
	    (insn.opcode != 0x9a && insn.opcode != 0xea) || insn.imm_size < 4)
		return true;
	sel = insn.imm >> (8 * (insn.imm_size - 2));
	if ((sel & ~3) != (info->selector & ~3))
		return true;	/* a task gate */
	cpl = shv_arch->get_cpl(c->vcpu);
	return dpl >= cpl && dpl >= (sel & 3);
}

int shv_task_switch(struct shv_vcpu *vcpu, struct shv_ts_info *info)
{
	struct ts_ctx ctx = { .vcpu = vcpu };
	struct ts_ctx *c = &ctx;
	u16 sel = info->selector, old_sel;
	u8 tss[TSS32_SIZE];
	struct ts_state st = { 0 };
	struct shv_segment new_tr;
	bool tss32, old32, nest, cr3_changed = false;
	u32 eflags, limit;
	u64 la, desc;
	u8 type;
	int r;

	info->debug_trap = false;
	shv_arch->get_sregs(vcpu, &c->s);
	old_sel = c->s.tr.selector;
	old32 = c->s.tr.type & 8;
	nest = info->source == SHV_TS_CALL || info->source == SHV_TS_GATE;

	/* the new TSS descriptor: in the GDT, a TSS of the right kind */
	if ((sel & 4) || !desc_addr(c, sel, &la)) {
		r = ts_fault(c, info->source == SHV_TS_IRET ? SHV_TS_VECTOR :
				SHV_GP_VECTOR, sel & 0xfffc);
		goto out;
	}
	r = ts_read(c, la, &desc, 8);
	if (r)
		goto out;
	type = (desc >> 40) & 0x1f;	/* with the S bit */
	if (info->source == SHV_TS_IRET) {
		if (type != DESC_TSS16_BUSY && type != DESC_TSS32_BUSY) {
			r = ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
			goto out;
		}
	} else if (type != DESC_TSS16_AVAIL && type != DESC_TSS32_AVAIL) {
		/* a busy TSS: a task cannot be entered recursively */
		r = ts_fault(c, SHV_GP_VECTOR, sel & 0xfffc);
		goto out;
	}
	if (!ts_direct_ok(c, info, desc)) {
		r = ts_fault(c, SHV_GP_VECTOR, sel & 0xfffc);
		goto out;
	}
	if (!((desc >> 47) & 1)) {
		r = ts_fault(c, SHV_NP_VECTOR, sel & 0xfffc);
		goto out;
	}
	tss32 = type & 8;
	limit = (desc & 0xffff) | ((desc >> 32) & 0xf0000);
	if ((desc >> 55) & 1)
		limit = (limit << 12) | 0xfff;
	if (limit < (tss32 ? TSS32_SIZE - 1 : TSS16_SIZE - 1)) {
		r = ts_fault(c, SHV_TS_VECTOR, sel & 0xfffc);
		goto out;
	}
	/* the old TSS must hold the state about to be saved in it */
	if (c->s.tr.limit < (old32 ? TSS32_SEGS + 0x17 : TSS16_LDT - 1)) {
		r = ts_fault(c, SHV_TS_VECTOR, old_sel & 0xfffc);
		goto out;
	}
	desc_to_seg(desc, sel, &new_tr);
	r = ts_read(c, new_tr.base, tss, tss32 ? TSS32_SIZE : TSS16_SIZE);
	if (r)
		goto out;
	if (tss32)
		tss32_parse(tss, &st);
	else
		tss16_parse(tss, &st);

	/* leave the old task: its busy bit, its state saved in its TSS */
	eflags = vcpu->rflags;
	if (info->source == SHV_TS_IRET)
		eflags &= ~X86_EFLAGS_NT;
	if (info->source == SHV_TS_IRET || info->source == SHV_TS_JMP) {
		r = tss_set_busy(c, old_sel, false);
		if (r)
			goto out;
	}
	r = ts_save_old(c, old32, info->next_rip, eflags);
	if (r)
		goto out;
	c->s.tr = new_tr;

	/* the new task: back link, NT, busy bit */
	if (nest) {
		r = ts_write(c, c->s.tr.base, &old_sel, 2);
		if (r)
			goto out;
		st.eflags |= X86_EFLAGS_NT;
	}
	if (info->source != SHV_TS_IRET) {
		r = desc_set_type_bits(c, la, desc, DESC_TSS_BUSY_BIT);
		if (r)
			goto out;
	}

	/*
	 * The commit point: from here on faults are taken in the context of
	 * the new task.  The event that went through a task gate is done.
	 */
	if (info->commit)
		info->commit(vcpu, info);
	c->s.tr.type |= DESC_TSS_BUSY_BIT;
	c->s.tr.unusable = 0;
	c->s.cr0 |= X86_CR0_TS;
	vcpu->rip = st.eip;
	if (tss32) {
		unsigned int i;

		vcpu->rflags = (st.eflags & EFLAGS_VALID) | SHV_RFLAGS_FIXED;
		for (i = 0; i < 8; i++)
			vcpu->regs[i] = st.regs[i];
	} else {
		unsigned int i;

		vcpu->rflags = (st.eflags & 0xffd7) | SHV_RFLAGS_FIXED;
		for (i = 0; i < 8; i++)
			vcpu->regs[i] = st.regs[i];
	}
	r = ts_load_new(c, &st, tss32, &cr3_changed);

	/* whatever loaded, loaded: CR3 through the MMU, the rest at once */
	if (cr3_changed && vcpu->vm->mmu_ops->shadow) {
		u64 cr3 = c->s.cr3;

		c->s.cr3 = vcpu->cr3;
		shv_arch->set_sregs(vcpu, &c->s);
		shv_set_cr3(vcpu, cr3);	/* PDPTEs were checked above */
		c->s.cr3 = cr3;
	} else {
		shv_arch->set_sregs(vcpu, &c->s);
	}
	if (r)
		goto out;
	if (info->has_error) {
		r = ts_push_error(c, tss32, info->error_code);
		if (r)
			goto out;
	}
	info->debug_trap = st.tbit;
	return 1;

out:
	if (r == TS_FAULT) {
		shv_arch->queue_exception(vcpu, c->vector, true, c->error);
		return 1;
	}
	if (r == TS_QUEUED)
		return 1;
	{
		u64 data[3] = { vcpu->rip, sel, info->source };

		return shv_internal_error(vcpu, SHV_INTERNAL_ERROR_EMULATION,
					  3, data);
	}
}
