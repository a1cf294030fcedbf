// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: walk the registered devices through their lifecycle.
 */
#include "dev.h"
#include "bus.h"
#include "vm.h"

extern struct device *const __start_shv_devices[];
extern struct device *const __stop_shv_devices[];

#define for_each_device(pp)						\
	for ((pp) = __start_shv_devices; (pp) < __stop_shv_devices; (pp)++)

#define for_each_device_reverse(pp)					\
	for ((pp) = __stop_shv_devices; (pp)-- > __start_shv_devices; )

int devices_init(struct vm *vm)
{
	struct device *const *pp;

	for_each_device(pp) {
		struct device *d = *pp;

		if (d->machines && !(d->machines & (1u << vm->machine)))
			continue;
		if (d->init && d->init(d, vm)) {
			pr_err("device %s: initialisation failed", d->name);
			devices_teardown();
			return -1;
		}
		d->initialized = true;
		pr_debug("device %s ready", d->name);
	}
	return 0;
}

void devices_reset(void)
{
	struct device *const *pp;

	for_each_device(pp)
		if ((*pp)->initialized && (*pp)->reset)
			(*pp)->reset(*pp);
}

void devices_power_up(void)
{
	struct device *const *pp;

	for_each_device(pp)
		if ((*pp)->initialized && (*pp)->power_up)
			(*pp)->power_up(*pp);
}

void devices_power_down(void)
{
	struct device *const *pp;

	for_each_device_reverse(pp)
		if ((*pp)->initialized && (*pp)->power_down)
			(*pp)->power_down(*pp);
}

void devices_teardown(void)
{
	struct device *const *pp;

	for_each_device_reverse(pp) {
		struct device *d = *pp;

		if (d->initialized && d->teardown)
			d->teardown(d);
		d->initialized = false;
	}
	bus_reset_all();
}
