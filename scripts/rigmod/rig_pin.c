// SPDX-License-Identifier: GPL-2.0
/*
 * rig_pin: a module for the QEMU test rig only, never part of shv.
 *
 * KVM enables the preempt-notifier static key (a branch in __schedule())
 * when it creates its first VM and disables it when it destroys its last,
 * so every KVM run in the rig patches __schedule() twice.  With a host
 * thread per vCPU, QEMU 7.2's TCG sometimes goes on executing its old
 * translation of the patched code: the INT3 that text_poke_bp() placed
 * there traps forever with the runqueue lock held and the rig's kernel
 * hangs.  Holding one reference on the key while this module is loaded
 * means KVM's references only count up and down: no more patching.
 * See Documentation/testing.rst.
 */
#include <linux/module.h>
#include <linux/preempt.h>

static int __init rig_pin_init(void)
{
	preempt_notifier_inc();
	return 0;
}

static void __exit rig_pin_exit(void)
{
	preempt_notifier_dec();
}

module_init(rig_pin_init);
module_exit(rig_pin_exit);
MODULE_DESCRIPTION("QEMU rig: keep the preempt-notifier static key enabled");
MODULE_LICENSE("GPL");
