// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: accelerator lookup and helpers common to the backends.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel.h"

static const struct accel_ops *const accels[] = {
	&accel_shv_ops,
	&accel_kvm_ops,
};

const struct accel_ops *accel_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(accels); i++)
		if (!strcmp(accels[i]->name, name))
			return accels[i];
	return NULL;
}

int accel_map_run(struct accel_vcpu *v, size_t size)
{
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (p == MAP_FAILED) {
		pr_errno("%s: mmap of vcpu %u run area", v->accel->ops->name,
			 v->id);
		return -1;
	}
	v->run = p;
	v->run_size = size;
	return 0;
}

void accel_unmap_run(struct accel_vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
