/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hardware task switches, emulated for the backends' task-switch exits
 * (task_switch.c, Documentation/modes.rst).
 */
#ifndef SHV_TASK_SWITCH_H
#define SHV_TASK_SWITCH_H

#include "shv.h"

enum shv_ts_source {
	SHV_TS_CALL,		/* CALL to a TSS or a task gate */
	SHV_TS_JMP,		/* JMP to a TSS or a task gate */
	SHV_TS_IRET,		/* IRET with EFLAGS.NT: back to the link */
	SHV_TS_GATE,		/* INT n, an exception or interrupt via IDT */
};

struct shv_ts_info {
	u16 selector;		/* the new TSS */
	u8 source;		/* enum shv_ts_source */
	bool has_error;		/* an exception's error code to push */
	u32 error_code;
	/* EIP saved in the old TSS: past CALL/JMP/IRET/INT n, else RIP */
	u64 next_rip;
	/*
	 * Called at the commit point: the event delivered through the gate
	 * is done, the interrupt shadow ends, DR7's local enables clear.
	 */
	void (*commit)(struct shv_vcpu *vcpu, const struct shv_ts_info *info);
	/* out: the new TSS has its T bit set, a #DB trap is due */
	bool debug_trap;
};

/* >0 resume the guest (faults queued), 0 an exit for the runner */
int shv_task_switch(struct shv_vcpu *vcpu, struct shv_ts_info *info);

#endif /* SHV_TASK_SWITCH_H */
