/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: the device model interface.
 *
 * A device is a static struct device that registers itself with
 * DEVICE_REGISTER(); the pointer lands in the "shv_devices" linker
 * section, so adding a device is adding one file under devices/.
 *
 * Lifecycle, driven by dev.c in this order:
 *   init        once, before any vCPU exists: claim bus ranges, allocate
 *   reset       put the device in its power-on register state
 *   power_up    just before the vCPUs start (e.g. start host I/O)
 *   power_down  after every vCPU has stopped
 *   teardown    release everything init acquired
 * Every hook is optional.  Room is left for snapshotting: save/restore
 * hooks will join this structure when the runner grows them.
 */
#ifndef SHV_RUN_DEV_H
#define SHV_RUN_DEV_H

#include "util.h"

struct vm;

/* struct device.machines: where the device exists (0: everywhere) */
#define DEV_MACHINE_BARE	(1u << 0)	/* MACHINE_BARE */
#define DEV_MACHINE_PC		(1u << 1)	/* MACHINE_PC */

struct device {
	const char *name;
	unsigned int machines;
	int (*init)(struct device *dev, struct vm *vm);
	void (*reset)(struct device *dev);
	void (*power_up)(struct device *dev);
	void (*power_down)(struct device *dev);
	void (*teardown)(struct device *dev);
	/* int (*save)(...), (*restore)(...): later */
	void *priv;
	bool initialized;	/* owned by dev.c */
};

#define DEVICE_REGISTER(d)						\
	static struct device *const __shv_device_##d			\
	__attribute__((used, section("shv_devices"),			\
		       aligned(sizeof(void *)))) = &(d)

/* Lifecycle over every registered device; init undoes itself on failure */
int devices_init(struct vm *vm);
void devices_reset(void);
void devices_power_up(void);
void devices_power_down(void);
void devices_teardown(void);

#endif /* SHV_RUN_DEV_H */
