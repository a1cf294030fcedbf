/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The instruction emulator: what leaves a guest exit for the runner (port
 * I/O, MMIO, hypercalls) and its completion when the runner returns.
 */
#ifndef SHV_EMULATE_H
#define SHV_EMULATE_H

#include "shv.h"
#include "decode.h"

int shv_cpu_mode(const struct shv_sregs *sregs, u64 rflags);
int shv_fetch_insn(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		   struct shv_insn *insn);
u64 shv_insn_next_rip(struct shv_vcpu *vcpu, unsigned int fallback_len);

int shv_pio_exit(struct shv_vcpu *vcpu, u16 port, u8 size, bool in,
		 bool str, bool rep, u64 next_rip);
int shv_mmio_exit(struct shv_vcpu *vcpu, u64 gpa, bool write);
int shv_hypercall_exit(struct shv_vcpu *vcpu, u64 next_rip);
int shv_internal_error(struct shv_vcpu *vcpu, u32 suberror, unsigned int n,
		       const u64 *data);
int shv_complete_pending(struct shv_vcpu *vcpu);
u64 shv_insn_linear(struct shv_vcpu *vcpu, const struct shv_sregs *sregs,
		    const struct shv_insn *insn);
int shv_emulate_write(struct shv_vcpu *vcpu, u64 gpa, unsigned int *off,
		      unsigned int *len);
int shv_emulate_insn(struct shv_vcpu *vcpu);
int shv_real_mode_event(struct shv_vcpu *vcpu, u8 vector, bool exception);

#endif /* SHV_EMULATE_H */
