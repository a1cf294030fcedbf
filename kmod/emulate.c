// SPDX-License-Identifier: GPL-2.0
/*
 * The instruction emulator's kernel side.  Port I/O, MMIO and hypercalls
 * that the kernel cannot finish leave to the runner through struct
 * shv_run; the emulator decodes the trapping instruction, fills the exit,
 * remembers what the runner owes, and completes the instruction on the
 * next SHV_RUN.  What an instruction does is computed by the core
 * (emucore.c); this file gives it guest memory and turns its MMIO accesses
 * into exits.  See Documentation/emulator.rst.
 */
#include <linux/string.h>
#include <linux/mm.h>
#include <linux/bitops.h>
#include <linux/sched/signal.h>
#include <asm/cpufeature.h>
#include <asm/processor-flags.h>
#include <asm/msr-index.h>

#include "shv.h"
#include "arch.h"
#include "mmu.h"
#include "emucore.h"
#include "emulate.h"
#include "irq.h"
#include "hyperv.h"

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
/* instruction bytes: through the MMU's own mapping if it has one */
static int shv_read_insn_bytes(struct shv_vcpu *vcpu,
			       const struct shv_sregs *sregs, u64 lin, u8 *buf,
			       unsigned int len, unsigned int access)
{
	const struct shv_mmu_ops *ops = vcpu->vm->mmu_ops;

	if (ops->read_insn && !ops->read_insn(vcpu, lin, buf, len))
		return 0;
	return shv_read_guest_virt(vcpu, sregs, lin, buf, len, access);
}

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

	r = shv_read_insn_bytes(vcpu, sregs, lin, buf, first, access);
	if (r)
		return r;
	if (!shv_decode(buf, first, mode, insn))
		return 0;
	if (first == SHV_INSN_MAX)
		return -EINVAL;
	/* the instruction may continue on the next page */
	r = shv_read_insn_bytes(vcpu, sregs, lin + first, buf + first,
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

/* --- GPR access by size --- */

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
	run->io.data_offset = offsetof(struct shv_run, io.data);
	run->io.pad = 0;
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

/*
 * How many iterations of a REP INS/OUTS go to the runner in one exit:
 * forward (DF=0) and without single-stepping only, within one guest page and the data area, without
 * wrapping the address size, and inside an expand-up segment's limit
 * outside 64-bit mode.  1 when any of that does not hold, so that the
 * element-wise path raises whatever fault the next element takes.
 */
static u32 shv_pio_batch(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
			 u64 la)
{
	struct shv_pio_state *pio = &vcpu->pio;
	u64 mask = shv_addr_mask(pio->addr_size);
	u64 off = vcpu->regs[pio->in ? SHV_RDI : SHV_RSI] & mask;
	u64 n = vcpu->regs[SHV_RCX] & mask;
	const struct shv_segment *seg;
	u64 room;

	if (!pio->rep || n <= 1 ||
	    (vcpu->rflags & (SHV_RFLAGS_DF | SHV_RFLAGS_TF)))
		return 1;
	room = (PAGE_SIZE - (la & ~PAGE_MASK)) / pio->size;
	n = min3(n, room, (u64)(SHV_RUN_PIO_DATA_SIZE / pio->size));
	/* the offset register must not wrap inside the batch */
	if (n > 1 && off + n * pio->size - 1 > mask)
		n = (mask - off + 1) / pio->size;
	if (n > 1 && shv_cpu_mode(sregs, vcpu->rflags) != 64) {
		seg = pio->in ? &sregs->es :
		      pio->seg == SHV_SEG_CS ? &sregs->cs :
		      pio->seg == SHV_SEG_SS ? &sregs->ss :
		      pio->seg == SHV_SEG_ES ? &sregs->es :
		      pio->seg == SHV_SEG_FS ? &sregs->fs :
		      pio->seg == SHV_SEG_GS ? &sregs->gs : &sregs->ds;
		if ((seg->type & 0xc) == 0x4)	/* expand-down data */
			return 1;
		if (off > seg->limit)
			return 1;
		n = min(n, (seg->limit - off + 1) / pio->size);
	}
	return n ? n : 1;
}

static int shv_pio_str_element(struct shv_vcpu *vcpu)
{
	struct shv_run *run = vcpu->run;
	struct shv_sregs sregs;
	u64 la;
	u32 n;
	int r;

	shv_arch->get_sregs(vcpu, &sregs);
	shv_fill_io(vcpu, vcpu->pio.in);
	la = shv_str_addr(vcpu, &sregs, vcpu->pio.in);
	n = shv_pio_batch(vcpu, &sregs, la);
	vcpu->pio.count = n;
	if (n > 1) {
		run->io.count = n;
		run->io.data_offset = SHV_RUN_PIO_DATA_OFFSET;
	}
	if (!vcpu->pio.in) {
		r = shv_read_guest_virt(vcpu, &sregs, la,
					(u8 *)run + run->io.data_offset,
					n * vcpu->pio.size,
					shv_arch->get_cpl(vcpu) == 3 ?
					SHV_ACC_USER : 0);
		if (r == 1)
			return 1;	/* #PF queued: the guest takes it */
		if (r)
			return shv_emulation_failed(vcpu, NULL);
	} else if (n > 1) {
		memset((u8 *)run + SHV_RUN_PIO_DATA_OFFSET, 0,
		       n * vcpu->pio.size);
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

	u32 n = pio->count ? pio->count : 1;

	if (pio->in) {
		struct shv_sregs sregs;
		int r;

		shv_arch->get_sregs(vcpu, &sregs);
		r = shv_write_guest_virt(vcpu, &sregs,
					 shv_str_addr(vcpu, &sregs, true),
					 n > 1 ? (u8 *)vcpu->run +
						 SHV_RUN_PIO_DATA_OFFSET :
						 vcpu->run->io.data,
					 n * pio->size);
		if (r == 1)
			return 1;
		if (r)
			return shv_emulation_failed(vcpu, NULL);
	}
	shv_reg_write_addr(vcpu, idx, pio->addr_size,
			   (vcpu->regs[idx] + step * n) & mask);
	if (!pio->rep) {
		shv_arch->skip_insn(vcpu, pio->next_rip);
		return 1;
	}
	cnt = ((vcpu->regs[SHV_RCX] & mask) - n) & mask;
	shv_reg_write_addr(vcpu, SHV_RCX, pio->addr_size, cnt);
	/* RIP stays on the instruction until the count runs out */
	if (!cnt)
		shv_arch->skip_insn(vcpu, pio->next_rip);
	return 1;
}

/* --- the emulator core's glue: guest memory through the guest's paging --- */

/*
 * One emulation attempt.  The core sees linear addresses; the callbacks
 * translate them with the guest's page tables and send RAM accesses to the
 * memory slots, everything else to the runner (MMIO).  For page-table
 * writes (shv_emulate_write) MMIO is not expected and the write to the
 * protected table is what is being reported.
 */
struct emu_ctx {
	struct shv_emu e;
	struct shv_vcpu *vcpu;
	struct shv_sregs sregs;
	unsigned int mmio_reads;	/* MMIO reads made in this attempt */
	bool ram_only;			/* event delivery: RAM, no MMIO */
	/* page-table write emulation */
	bool pt;
	unsigned int iter;		/* REP iteration of this attempt */
	u64 pt_gfn;			/* the protected table */
	unsigned int pt_lo, pt_hi;	/* bytes of it written */
};

static int emu_read(struct shv_emu *e, u64 la, void *buf, unsigned int len);
static int emu_write(struct shv_emu *e, u64 la, const void *buf,
		     unsigned int len);

static const struct shv_emu_ops emu_ops = {
	.read = emu_read,
	.write = emu_write,
};

static void emu_seg(struct shv_emu_seg *d, const struct shv_segment *s)
{
	*d = (struct shv_emu_seg){
		.base = s->base, .limit = s->limit, .selector = s->selector,
		.type = s->type, .db = s->db, .unusable = s->unusable,
		.attr = s->s << 4 | s->dpl << 5 | s->present << 7 |
			s->avl << 12 | s->l << 13 | s->g << 15,
	};
}

/* a segment register the core loaded, back in the ABI's form */
static void emu_seg_store(struct shv_segment *d, const struct shv_emu_seg *s)
{
	d->base = s->base;
	d->limit = s->limit;
	d->selector = s->selector;
	d->type = s->type;
	d->db = s->db;
	d->unusable = s->unusable;
	d->s = (s->attr >> 4) & 1;
	d->dpl = (s->attr >> 5) & 3;
	d->present = (s->attr >> 7) & 1;
	d->avl = (s->attr >> 12) & 1;
	d->l = (s->attr >> 13) & 1;
	d->g = (s->attr >> 15) & 1;
}

static struct shv_segment *sregs_seg(struct shv_sregs *s, int seg)
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

static u32 emu_features(void)
{
	u32 f = 0;

	if (boot_cpu_has(X86_FEATURE_BMI1))
		f |= SHV_EMU_F_BMI1;
	if (boot_cpu_has(X86_FEATURE_ABM))
		f |= SHV_EMU_F_LZCNT;
	if (boot_cpu_has(X86_FEATURE_POPCNT))
		f |= SHV_EMU_F_POPCNT;
	if (boot_cpu_has(X86_FEATURE_MOVBE))
		f |= SHV_EMU_F_MOVBE;
	if (boot_cpu_has(X86_FEATURE_CX16))
		f |= SHV_EMU_F_CX16;
	return f;
}

/* load the core's view of the vCPU */
static void emu_init(struct emu_ctx *c, struct shv_vcpu *vcpu)
{
	struct shv_emu *e = &c->e;
	struct shv_sregs *s = &c->sregs;

	memset(c, 0, sizeof(*c));
	c->vcpu = vcpu;
	shv_arch->get_sregs(vcpu, s);
	memcpy(e->regs, vcpu->regs, sizeof(e->regs));
	e->rip = vcpu->rip;
	e->rflags = vcpu->rflags;
	emu_seg(&e->seg[SHV_EMU_ES], &s->es);
	emu_seg(&e->seg[SHV_EMU_CS], &s->cs);
	emu_seg(&e->seg[SHV_EMU_SS], &s->ss);
	emu_seg(&e->seg[SHV_EMU_DS], &s->ds);
	emu_seg(&e->seg[SHV_EMU_FS], &s->fs);
	emu_seg(&e->seg[SHV_EMU_GS], &s->gs);
	e->mode = shv_cpu_mode(s, vcpu->rflags);
	e->pe = s->cr0 & X86_CR0_PE;
	e->vm86 = vcpu->rflags & SHV_RFLAGS_VM;
	e->am = s->cr0 & X86_CR0_AM;
	e->cpl = shv_arch->get_cpl(vcpu);
	e->va_bits = (s->cr4 & X86_CR4_LA57) ? 57 : 48;
	e->features = emu_features();
	e->ops = &emu_ops;
	e->gdt = (struct shv_emu_dt){ s->gdt.base, s->gdt.limit };
	e->idt = (struct shv_emu_dt){ s->idt.base, s->idt.limit };
	e->ldt = (struct shv_emu_dt){ s->ldt.base, s->ldt.limit };
	e->ldt_usable = !s->ldt.unusable && s->ldt.present;
}

/* the segment registers and descriptor tables the core loaded */
static void emu_commit_segs(struct emu_ctx *c)
{
	struct shv_vcpu *vcpu = c->vcpu;
	struct shv_emu *e = &c->e;
	struct shv_segment seg;
	unsigned int i;

	for (i = 0; i < SHV_EMU_NR_SEGS; i++) {
		if (!(e->seg_dirty & BIT(i)))
			continue;
		seg = *sregs_seg(&c->sregs, i);
		emu_seg_store(&seg, &e->seg[i]);
		shv_arch->set_segment(vcpu, i, &seg);
	}
	if (e->dt_dirty & BIT(0))
		shv_arch->set_dtable(vcpu, false, e->gdt.base, e->gdt.limit);
	if (e->dt_dirty & BIT(1))
		shv_arch->set_dtable(vcpu, true, e->idt.base, e->idt.limit);
}

/*
 * Commit the core's registers to the vCPU; RIP through skip_insn (the
 * interrupt shadow ends, a single-step trap follows), then what the
 * instruction did to the shadow and NMI blocking.
 */
static void emu_commit(struct emu_ctx *c)
{
	struct shv_vcpu *vcpu = c->vcpu;

	memcpy(vcpu->regs, c->e.regs, sizeof(vcpu->regs));
	vcpu->rflags = c->e.rflags;
	emu_commit_segs(c);
	if (!c->e.rep_more)
		shv_arch->skip_insn(vcpu, c->e.rip);
	if (c->e.events && shv_arch->insn_events)
		shv_arch->insn_events(vcpu, c->e.events);
}

static void emu_raise(struct shv_vcpu *vcpu, const struct shv_emu_exc *x)
{
	if (x->vector == SHV_PF_VECTOR)
		shv_arch->set_cr2(vcpu, x->cr2);
	shv_arch->queue_exception(vcpu, x->vector, x->has_error,
				  x->error_code);
}

/* a linear address (within one page) to guest-physical, or a #PF */
static int emu_translate(struct emu_ctx *c, u64 la, bool write, u64 *gpa)
{
	unsigned int access = (write ? SHV_ACC_WRITE : 0) |
			      (c->e.cpl == 3 ? SHV_ACC_USER : 0);
	struct shv_walk w;
	int r;

	r = shv_gva_to_gpa(c->vcpu, &c->sregs, la, access, &w);
	if (r == 1) {
		c->e.exc = (struct shv_emu_exc){
			.vector = SHV_PF_VECTOR, .has_error = true,
			.error_code = w.error_code, .cr2 = la,
		};
		return SHV_EMU_EXCEPTION;
	}
	if (r)
		return SHV_EMU_UNHANDLED;	/* tables outside RAM */
	*gpa = w.gpa;
	return SHV_EMU_OK;
}

/* RAM that this access may use directly (a ROM slot only for reads) */
static bool emu_is_ram(struct emu_ctx *c, u64 gpa, bool write)
{
	struct shv_memslot *slot = shv_gfn_to_slot(c->vcpu->vm,
						   gpa >> PAGE_SHIFT);

	return slot && !(write && (slot->flags & SHV_MEM_READONLY));
}

/*
 * In-kernel devices get MMIO before the runner: true when one handled the
 * access (the irqchip's dispatcher belongs here).
 */
static bool emu_kernel_mmio(struct shv_vcpu *vcpu, u64 gpa, unsigned int len,
			    bool write, u64 *val)
{
	return shv_irq_mmio(vcpu, gpa, len, write, val);
}

/*
 * The k-th MMIO read of an attempt: answered from what an in-kernel device
 * or the runner gave for the earlier attempts of the same instruction
 * (each device register is read once), else it is the next question.
 */
static int emu_mmio_read(struct emu_ctx *c, u64 gpa, void *buf,
			 unsigned int len)
{
	struct shv_mmio_state *m = &c->vcpu->mmio;
	unsigned int k = c->mmio_reads++;

	if (c->pt || c->ram_only || len > sizeof(m->reads[0].data))
		return SHV_EMU_UNHANDLED;
	if (k < m->nr_reads) {
		if (m->reads[k].gpa == gpa && m->reads[k].len == len) {
			memcpy(buf, &m->reads[k].data, len);
			return SHV_EMU_OK;
		}
		m->nr_reads = k;	/* the instruction changed its mind */
	}
	if (k >= SHV_MMIO_MAX_READS)
		return SHV_EMU_UNHANDLED;
	m->reads[k] = (struct shv_mmio_access){ .gpa = gpa, .len = len };
	if (emu_kernel_mmio(c->vcpu, gpa, len, false, &m->reads[k].data)) {
		m->nr_reads = k + 1;
		memcpy(buf, &m->reads[k].data, len);
		return SHV_EMU_OK;
	}
	return SHV_EMU_EXIT;
}

static int emu_read(struct shv_emu *e, u64 la, void *buf, unsigned int len)
{
	struct emu_ctx *c = container_of(e, struct emu_ctx, e);
	unsigned int n;
	u64 gpa;
	int r;

	for (; len; la += n, buf += n, len -= n) {
		n = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(la));
		r = emu_translate(c, la, false, &gpa);
		if (r)
			return r;
		if (emu_is_ram(c, gpa, false)) {
			if (shv_read_guest_phys(c->vcpu->vm, gpa, buf, n))
				return SHV_EMU_UNHANDLED;
			continue;
		}
		r = emu_mmio_read(c, gpa, buf, n);
		if (r)
			return r;
	}
	return SHV_EMU_OK;
}

/*
 * The instruction's one memory write, last of all its accesses: translate
 * every page first so that a #PF leaves memory alone, then write RAM and
 * queue the MMIO parts for the runner.
 */
static int emu_write(struct shv_emu *e, u64 la, const void *buf,
		     unsigned int len)
{
	struct emu_ctx *c = container_of(e, struct emu_ctx, e);
	struct shv_mmio_state *m = &c->vcpu->mmio;
	unsigned int n[2] = {}, np = 0, i, nmmio = 0;
	bool ram[2];
	u64 gpa[2];
	int r;

	for (i = 0; i < len; i += n[np++]) {
		if (np == 2)
			return SHV_EMU_UNHANDLED;
		n[np] = min_t(unsigned int, len - i,
			      PAGE_SIZE - offset_in_page(la + i));
		r = emu_translate(c, la + i, true, &gpa[np]);
		if (r)
			return r;
		ram[np] = emu_is_ram(c, gpa[np], true);
		if (!ram[np] && c->ram_only)
			return SHV_EMU_UNHANDLED;
		nmmio += !ram[np];
		if (c->pt && (!ram[np] || n[np] != len))
			return SHV_EMU_UNHANDLED;
		if (c->pt && (gpa[np] >> PAGE_SHIFT) != c->pt_gfn)
			/* a later REP iteration left the table */
			return c->iter ? SHV_EMU_EXIT : SHV_EMU_UNHANDLED;
		if (!ram[np] && n[np] > sizeof(m->writes[0].data))
			return SHV_EMU_UNHANDLED;
	}
	if (m->nr_writes + nmmio > SHV_MMIO_MAX_WRITES)
		return SHV_EMU_UNHANDLED;

	for (i = 0; i < np; buf += n[i], i++) {
		if (!ram[i]) {
			struct shv_mmio_access *w = &m->writes[m->nr_writes++];

			*w = (struct shv_mmio_access){ .gpa = gpa[i],
						       .len = n[i] };
			memcpy(&w->data, buf, n[i]);
			continue;
		}
		if (shv_write_guest_phys(c->vcpu->vm, gpa[i], buf, n[i]))
			return SHV_EMU_UNHANDLED;
		/* RAM written behind the shadow MMU's back may be a table */
		if (!c->pt)
			shv_mmu_track_write(c->vcpu->vm, gpa[i], n[i]);
		if (c->pt) {
			unsigned int off = offset_in_page(gpa[i]);

			c->pt_lo = min(c->pt_lo, off);
			c->pt_hi = max(c->pt_hi, off + n[i]);
		}
	}
	return SHV_EMU_OK;
}

/* --- MMIO --- */

/* REP iterations done in the kernel before the guest runs again */
#define SHV_EMU_REP_BATCH	64

static void shv_fill_mmio(struct shv_vcpu *vcpu,
			  const struct shv_mmio_access *a, bool write)
{
	struct shv_run *run = vcpu->run;

	run->exit_reason = SHV_EXIT_MMIO;
	run->mmio.phys_addr = a->gpa;
	run->mmio.len = a->len;
	run->mmio.is_write = write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (write)
		memcpy(run->mmio.data, &a->data, a->len);
}

/* hand the next MMIO write to a device: 0 for the runner, 1 all done */
static int shv_mmio_next_write(struct shv_vcpu *vcpu)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	struct shv_mmio_access *w;

	while (m->next_write < m->nr_writes) {
		w = &m->writes[m->next_write++];
		if (emu_kernel_mmio(vcpu, w->gpa, w->len, true, &w->data))
			continue;
		shv_fill_mmio(vcpu, w, true);
		vcpu->pending = SHV_PENDING_MMIO_WRITE;
		return 0;
	}
	return 1;
}

/*
 * Run the instruction in vcpu->mmio until it is done (1: enter the guest)
 * or needs the runner (0: the exit is in vcpu->run).  A read from MMIO
 * stops the attempt; the instruction runs again from the start once the
 * runner has answered, with every earlier answer replayed.  Writes to
 * MMIO come last and are handed over after the instruction completed.
 */
static int shv_mmio_emulate(struct shv_vcpu *vcpu)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	struct emu_ctx ctx, *c = &ctx;
	unsigned int iter;
	int r, ret = 1;

	for (iter = 0; ; iter++) {
		emu_init(c, vcpu);
		m->nr_writes = 0;
		r = shv_emu_decode(&c->e, m->insn, m->insn_len);
		if (r == SHV_EMU_OK)
			r = shv_emu_exec(&c->e);
		if (r == SHV_EMU_EXIT) {
			shv_fill_mmio(vcpu, &m->reads[m->nr_reads], false);
			vcpu->pending = SHV_PENDING_MMIO_READ;
			ret = 0;
			break;
		}
		m->nr_reads = 0;
		if (r == SHV_EMU_EXCEPTION) {
			emu_raise(vcpu, &c->e.exc);
			break;
		}
		if (r != SHV_EMU_OK) {
			ret = shv_emulation_failed(vcpu, &c->e.insn);
			break;
		}
		emu_commit(c);
		m->next_write = 0;
		m->rep_more = c->e.rep_more;
		if (m->nr_writes && !shv_mmio_next_write(vcpu)) {
			ret = 0;
			break;
		}
		/* a REP string op goes on: here, or in the guest again */
		if (!c->e.rep_more)
			break;
		if ((vcpu->rflags & SHV_RFLAGS_TF) ||
		    iter >= SHV_EMU_REP_BATCH || need_resched() ||
		    signal_pending(current)) {
			if (vcpu->rflags & SHV_RFLAGS_TF)
				shv_arch->skip_insn(vcpu, vcpu->rip);
			break;
		}
	}
	return ret;
}

int shv_mmio_exit(struct shv_vcpu *vcpu, u64 gpa, bool write)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	struct shv_sregs sregs;
	struct shv_insn insn;
	int r;

	shv_arch->get_sregs(vcpu, &sregs);
	r = shv_fetch_insn(vcpu, &sregs, &insn);
	if (r == 1)
		return 1;
	if (r)
		return shv_emulation_failed(vcpu, NULL);
	memset(m, 0, sizeof(*m));
	memcpy(m->insn, insn.bytes, insn.len);
	m->insn_len = insn.len;
	return shv_mmio_emulate(vcpu);
}

/* the runner answered an MMIO exit */
static int shv_complete_mmio(struct shv_vcpu *vcpu, enum shv_pending p)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	int r;

	if (p == SHV_PENDING_MMIO_READ) {
		memcpy(&m->reads[m->nr_reads].data, vcpu->run->mmio.data,
		       sizeof(m->reads[0].data));
		m->nr_reads++;
	} else if (!shv_mmio_next_write(vcpu)) {
		return 0;
	} else if (!m->rep_more) {
		return 1;
	}
	down_read(&vcpu->vm->slots_lock);
	r = shv_mmio_emulate(vcpu);
	up_read(&vcpu->vm->slots_lock);
	return r;
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
	case SHV_PENDING_MMIO_WRITE:
		r = shv_complete_mmio(vcpu, p);
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

/* the linear address of the ModRM memory operand of insn */
u64 shv_insn_linear(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		    const struct shv_insn *insn)
{
	const struct shv_segment *segs[SHV_EMU_NR_SEGS] = {
		&sregs->es, &sregs->cs, &sregs->ss, &sregs->ds, &sregs->fs,
		&sregs->gs,
	};
	struct shv_emu e = { .mode = insn->mode, .rip = vcpu->rip,
			     .insn = *insn };
	u64 off, base;
	int seg;

	memcpy(e.regs, vcpu->regs, sizeof(e.regs));
	shv_emu_modrm_ea(&e, &seg, &off);
	base = segs[seg]->base;
	if (insn->mode == 64)
		return (seg >= SHV_EMU_FS ? base : 0) + off;
	return (u32)(base + off);
}

/* --- writes to write-protected guest page tables --- */

/* REP iterations emulated at most, e.g. a whole table cleared by STOSB */
#define SHV_PT_REP_MAX		(PAGE_SIZE + 1)

/*
 * Emulate the instruction at RIP, a write to the guest-physical gpa that
 * is a write-protected guest page table.  Any instruction the core knows
 * is emulated; REP string iterations go on while they write that page.
 * Reports the bytes of the page written through off/len.  Returns 0, 1
 * when a fault was queued, -EOPNOTSUPP when it is not emulated (MMIO,
 * writes across the page boundary, unknown instructions).
 */
int shv_emulate_write(struct shv_vcpu *vcpu, u64 gpa, unsigned int *off,
		      unsigned int *len)
{
	struct emu_ctx ctx, *c = &ctx;
	unsigned int iter, lo = PAGE_SIZE, hi = 0;
	struct shv_sregs sregs;
	struct shv_insn insn;
	int r;

	shv_arch->get_sregs(vcpu, &sregs);
	r = shv_fetch_insn(vcpu, &sregs, &insn);
	if (r)
		return r == 1 ? 1 : -EOPNOTSUPP;

	for (iter = 0; iter < SHV_PT_REP_MAX; iter++) {
		emu_init(c, vcpu);
		c->pt = true;
		c->iter = iter;
		c->pt_gfn = gpa >> PAGE_SHIFT;
		c->pt_lo = PAGE_SIZE;
		c->e.insn = insn;
		r = shv_emu_exec(&c->e);
		if (r == SHV_EMU_EXCEPTION && !iter) {
			emu_raise(vcpu, &c->e.exc);
			return 1;
		}
		if (r != SHV_EMU_OK) {
			if (!iter)
				return -EOPNOTSUPP;
			break;	/* the guest goes on with the rest itself */
		}
		emu_commit(c);
		lo = min(lo, c->pt_lo);
		hi = max(hi, c->pt_hi);
		if (!c->e.rep_more)
			break;
	}
	if (hi <= lo) {		/* it wrote nothing there after all */
		lo = offset_in_page(gpa);
		hi = lo + 1;
	}
	*off = lo;
	*len = hi - lo;
	return 0;
}

/* --- whole instruction streams --- */

/* IN, OUT, INS, OUTS found by the decoder rather than an intercept */
static int shv_emulate_io(struct shv_vcpu *vcpu, const struct shv_sregs *s,
			  const struct shv_insn *insn, u64 next)
{
	u8 opc = insn->opcode;
	bool str = opc < 0x70, in = !(opc & 2);
	u8 size = (opc & 1) ? insn->op_size : 1;
	u16 port = (opc & 0xf8) == 0xe0 ? insn->imm : vcpu->regs[SHV_RDX];
	unsigned int iopl = (vcpu->rflags >> 12) & 3;

	/* above IOPL the TSS's I/O bitmap decides: not emulated here */
	if ((s->cr0 & X86_CR0_PE) &&
	    ((vcpu->rflags & SHV_RFLAGS_VM) || shv_arch->get_cpl(vcpu) > iopl))
		return shv_emulation_failed(vcpu, insn);
	if (size == 8)
		size = 4;
	if (vcpu->vm->irqchip && !str) {
		u32 val = vcpu->regs[SHV_RAX];

		if (shv_irq_pio(vcpu, port, size, in, &val)) {
			if (in)
				shv_reg_write(vcpu, SHV_RAX, size, false, val);
			shv_arch->skip_insn(vcpu, next);
			return 1;
		}
	}
	return shv_pio_exit(vcpu, port, size, in, str,
			    insn->prefixes & SHV_PFX_REP, next);
}

static int shv_emulate_gp(struct shv_vcpu *vcpu)
{
	shv_arch->queue_exception(vcpu, SHV_GP_VECTOR, true, 0);
	return 1;
}

/*
 * The instructions emulate.c does not leave to the core because they act
 * on the vCPU rather than on registers and memory: port I/O, HLT, control
 * and debug registers, CPUID, MSRs, the TSC, cache control, hypercalls.
 * -EOPNOTSUPP for anything else.
 */
static int shv_emulate_system(struct shv_vcpu *vcpu,
			      const struct shv_sregs *s,
			      const struct shv_insn *insn)
{
	u64 next = vcpu->rip + insn->len, data;
	int cpl = shv_arch->get_cpl(vcpu), sub = insn->reg & 7;
	u32 index;

	if (insn->map == SHV_MAP_1) {
		switch (insn->opcode) {
		case 0x6c ... 0x6f:
		case 0xe4 ... 0xe7:
		case 0xec ... 0xef:
			return shv_emulate_io(vcpu, s, insn, next);
		case 0xf4:			/* HLT */
			if (cpl)
				return shv_emulate_gp(vcpu);
			shv_arch->skip_insn(vcpu, next);
			if (vcpu->lapic) {
				WRITE_ONCE(vcpu->mp_state, SHV_MP_HALTED);
				return 1;
			}
			vcpu->run->exit_reason = SHV_EXIT_HLT;
			return 0;
		}
		return -EOPNOTSUPP;
	}
	if (insn->map != SHV_MAP_0F)
		return -EOPNOTSUPP;

	switch (insn->opcode) {
	case 0x06:				/* CLTS */
	case 0x20:				/* MOV from CR */
	case 0x22:				/* MOV to CR */
		return shv_emulate_cr_access(vcpu);
	case 0x01:
		if (insn->modrm == 0xc1 || insn->modrm == 0xd9) {
			/* VMCALL, VMMCALL */
			if (shv_hv_hypercall(vcpu, next))
				return 1;
			return shv_hypercall_exit(vcpu, next);
		}
		if (sub == 4 || sub == 6)	/* SMSW, LMSW */
			return shv_emulate_cr_access(vcpu);
		if (sub == 7 && insn->mod != 3)	/* INVLPG */
			return shv_emulate_invlpg(vcpu);
		return -EOPNOTSUPP;	/* LGDT, LIDT, SGDT, SIDT: the core */
	case 0x21:				/* MOV from DR */
	case 0x23:				/* MOV to DR */
		if (!shv_arch->mov_dr || insn->reg > 7)
			return -EOPNOTSUPP;
		if (!shv_arch->mov_dr(vcpu, insn->reg, insn->rm,
				      insn->opcode == 0x23))
			shv_arch->skip_insn(vcpu, next);
		return 1;
	case 0xa2:				/* CPUID */
		shv_emulate_cpuid(vcpu);
		break;
	case 0x30:				/* WRMSR */
	case 0x32:				/* RDMSR */
		index = vcpu->regs[SHV_RCX];
		if (cpl)
			return shv_emulate_gp(vcpu);
		if (insn->opcode == 0x30) {
			data = (u32)vcpu->regs[SHV_RAX] |
			       (vcpu->regs[SHV_RDX] << 32);
			if (shv_set_msr(vcpu, index, data, false))
				return shv_emulate_gp(vcpu);
			break;
		}
		if (shv_get_msr(vcpu, index, &data, false))
			return shv_emulate_gp(vcpu);
		vcpu->regs[SHV_RAX] = (u32)data;
		vcpu->regs[SHV_RDX] = data >> 32;
		break;
	case 0x31:				/* RDTSC */
		if (cpl && (s->cr4 & X86_CR4_TSD))
			return shv_emulate_gp(vcpu);
		if (shv_get_msr(vcpu, MSR_IA32_TSC, &data, true))
			return shv_emulation_failed(vcpu, insn);
		vcpu->regs[SHV_RAX] = (u32)data;
		vcpu->regs[SHV_RDX] = data >> 32;
		break;
	case 0x08:				/* INVD */
	case 0x09:				/* WBINVD */
		if (cpl)
			return shv_emulate_gp(vcpu);
		break;
	default:
		return -EOPNOTSUPP;
	}
	shv_arch->skip_insn(vcpu, next);
	return 1;
}

/*
 * Emulate the instruction at CS:RIP, whatever it is, for a backend that
 * runs a stretch of guest code in software (VMX real mode that
 * virtual-8086 mode cannot express, Documentation/vmx.rst).  System
 * instructions go where their intercepts go; everything else runs in the
 * core with guest memory and MMIO as for shv_mmio_exit().  Returns 1 to
 * go on, 0 when an exit for the runner is ready, <0 on errors.
 */
int shv_emulate_insn(struct shv_vcpu *vcpu)
{
	struct shv_mmio_state *m = &vcpu->mmio;
	struct shv_sregs sregs;
	struct shv_insn insn;
	int r;

	shv_arch->get_sregs(vcpu, &sregs);
	r = shv_fetch_insn(vcpu, &sregs, &insn);
	if (r == 1)
		return 1;
	if (r == -EINVAL) {		/* no valid instruction there */
		shv_arch->queue_exception(vcpu, SHV_UD_VECTOR, false, 0);
		return 1;
	}
	if (r)
		return shv_emulation_failed(vcpu, NULL);
	r = shv_emulate_system(vcpu, &sregs, &insn);
	if (r != -EOPNOTSUPP)
		return r;
	memset(m, 0, sizeof(*m));
	memcpy(m->insn, insn.bytes, insn.len);
	m->insn_len = insn.len;
	return shv_mmio_emulate(vcpu);
}

/*
 * Deliver an interrupt or exception through the real-mode IVT for a
 * backend whose hardware cannot (VMX real mode in virtual-8086 mode), as
 * the processor does in real-address mode.  A fault while delivering it
 * (#GP beyond the IVT's limit, #SS beyond the stack's) is delivered in
 * turn, combined as exceptions combine: #DF, then a triple fault.
 * Returns 1 when delivered, 0 for a triple fault, <0 when the IVT or the
 * stack is not RAM.
 */
int shv_real_mode_event(struct shv_vcpu *vcpu, u8 vector, bool exception)
{
	struct emu_ctx ctx, *c = &ctx;
	int first = exception ? vector : -1, v = vector, i, r;

	for (i = 0; i < 3; i++) {
		emu_init(c, vcpu);
		c->ram_only = true;
		r = shv_emu_real_int(&c->e, v);
		if (r == SHV_EMU_OK) {
			memcpy(vcpu->regs, c->e.regs, sizeof(vcpu->regs));
			vcpu->rflags = c->e.rflags;
			vcpu->rip = c->e.rip;
			emu_commit_segs(c);
			return 1;
		}
		if (r != SHV_EMU_EXCEPTION)
			return -EFAULT;
		v = shv_combine_exceptions(first, c->e.exc.vector);
		if (v < 0)
			return 0;
		first = v;
	}
	return 0;
}
