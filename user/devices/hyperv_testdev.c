// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: QEMU's Hyper-V test device (hyperv-testdev), as kvm-unit-tests'
 * hyperv_synic and hyperv_connections use it; present with --hyperv.
 *
 * One 32-bit write-only register at port 0x3000 (reads return 0, other
 * widths are ignored): bits 7:0 SINT, 15:8 VP index, 23:16 command,
 * 31:24 connection id.
 *
 *   1  SINT route create     a source for SINT sint of VP vp
 *   2  SINT route destroy
 *   3  SINT route set        raise that SINT once (nothing without a route)
 *   4  message conn create   HvPostMessage on conn_id reaches SINT sint of
 *                            VP vp: the guest gets its own message back
 *   5  message conn destroy  (conn_id only)
 *   6  event conn create     HvSignalEvent on conn_id sets the flag
 *                            numbered conn_id of SINT sint of VP vp
 *   7  event conn destroy    (conn_id only)
 *
 * Where QEMU asserts (a route or connection that is not there, one that
 * exists already, a VP that does not) the command is ignored.  Routes of
 * one VP and SINT count: as many destroys as creates.  The work is the
 * accelerator's (accel.h): shv's kernel, or the runner on KVM.
 *
 * A message and an event connection may share an id only if they reach
 * the same SINT (QEMU keeps them apart; shv's connections have one
 * target).  Message echoes differ from QEMU's in two ways that shv's
 * HvPostMessage defines: the header's sender is the connection id (QEMU:
 * 0), and up to 16 messages wait per SINT (QEMU: one per connection,
 * then HV_STATUS_INSUFFICIENT_BUFFERS).  HvSignalEvent with a non-zero
 * FlagNumber returns HV_STATUS_INVALID_PARAMETER (QEMU and KVM:
 * HV_STATUS_INVALID_PORT_ID).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../bus.h"
#include "../dev.h"
#include "../vm.h"

#define HV_TESTDEV_PORT		0x3000
#define HV_SINTS		16
#define HV_CONNS		256	/* 8-bit connection ids */

enum {
	CTL_SINT_ROUTE_CREATE = 1,
	CTL_SINT_ROUTE_DESTROY,
	CTL_SINT_ROUTE_SET_SINT,
	CTL_MSG_CONN_CREATE,
	CTL_MSG_CONN_DESTROY,
	CTL_EVT_CONN_CREATE,
	CTL_EVT_CONN_DESTROY,
};

/* one kind of connection with an id: its target, if it exists */
struct conn_end {
	bool on;
	u8 vp, sint;
};

static struct hv_testdev {
	pthread_mutex_t lock;
	struct vm *vm;
	/* SINT routes: creates minus destroys, per VP and SINT */
	unsigned int routes[SHV_MAX_VCPUS][HV_SINTS];
	struct conn_end msg[HV_CONNS], evt[HV_CONNS];
} td = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct accel *acc(void)
{
	return &td.vm->accel;
}

static void warn_errno(const char *what, u32 vp, u32 sint)
{
	pr_debug("hyperv-testdev: %s (VP %u, SINT %u): %s", what, vp, sint,
		 strerror(errno));
}

/* tell the accelerator what connection @id is now (lock held) */
static int conn_update(u8 id)
{
	const struct conn_end *m = &td.msg[id], *e = &td.evt[id];
	struct shv_hv_connection c = { .conn_id = id, .target_fd = -1 };

	if (m->on) {
		c.vcpu = m->vp;
		c.sint = m->sint;
		c.flags |= SHV_HV_CONN_MESSAGES;
	}
	if (e->on) {
		c.vcpu = e->vp;
		c.sint = e->sint;
		c.flags |= SHV_HV_CONN_EVENTS;
		/* QEMU's device sets the flag numbered by the connection */
		c.flag_base = id;
		c.flag_count = 1;
	}
	return acc()->ops->hv_set_connection(acc(), &c);
}

static void conn_create(struct conn_end *ends, u8 id, u8 vp, u8 sint)
{
	const struct conn_end *other = ends == td.msg ? &td.evt[id] :
					&td.msg[id];
	struct conn_end *end = &ends[id];

	if (end->on) {
		pr_debug("hyperv-testdev: connection %u exists", id);
		return;
	}
	if (other->on && (other->vp != vp || other->sint != sint)) {
		pr_warn("hyperv-testdev: connection %u: messages and events must reach the same SINT",
			id);
		return;
	}
	*end = (struct conn_end){ .on = true, .vp = vp, .sint = sint };
	if (conn_update(id)) {
		warn_errno("connection", vp, sint);
		end->on = false;
	}
}

static void conn_destroy(struct conn_end *ends, u8 id)
{
	if (!ends[id].on) {
		pr_debug("hyperv-testdev: no connection %u to destroy", id);
		return;
	}
	ends[id].on = false;
	if (conn_update(id))
		warn_errno("connection", ends[id].vp, ends[id].sint);
}

static void control(u32 v)
{
	u8 sint = v & 0xff, vp = (v >> 8) & 0xff, ctl = (v >> 16) & 0xff;
	u8 id = v >> 24;
	unsigned int *route;

	if ((ctl == CTL_SINT_ROUTE_CREATE || ctl == CTL_SINT_ROUTE_DESTROY ||
	     ctl == CTL_SINT_ROUTE_SET_SINT || ctl == CTL_MSG_CONN_CREATE ||
	     ctl == CTL_EVT_CONN_CREATE) &&
	    (vp >= td.vm->nr_vcpus || sint >= HV_SINTS)) {
		pr_debug("hyperv-testdev: command %u for VP %u SINT %u ignored",
			 ctl, vp, sint);
		return;
	}
	route = &td.routes[vp % SHV_MAX_VCPUS][sint % HV_SINTS];
	switch (ctl) {
	case CTL_SINT_ROUTE_CREATE:
		if (acc()->ops->hv_sint_route(acc(), vp, sint, true))
			warn_errno("route", vp, sint);
		else
			(*route)++;
		break;
	case CTL_SINT_ROUTE_DESTROY:
		if (!*route)
			break;
		(*route)--;
		if (acc()->ops->hv_sint_route(acc(), vp, sint, false))
			warn_errno("route", vp, sint);
		break;
	case CTL_SINT_ROUTE_SET_SINT:
		if (*route && acc()->ops->hv_sint_raise(acc(), vp, sint))
			warn_errno("raise", vp, sint);
		break;
	case CTL_MSG_CONN_CREATE:
		conn_create(td.msg, id, vp, sint);
		break;
	case CTL_MSG_CONN_DESTROY:
		conn_destroy(td.msg, id);
		break;
	case CTL_EVT_CONN_CREATE:
		conn_create(td.evt, id, vp, sint);
		break;
	case CTL_EVT_CONN_DESTROY:
		conn_destroy(td.evt, id);
		break;
	default:
		break;
	}
}

static void testdev_io(void *opaque, u64 offset, u8 *data, u32 len,
		       bool is_write)
{
	(void)opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset || len != 4)
		return;
	pthread_mutex_lock(&td.lock);
	control(le_get(data, 4));
	pthread_mutex_unlock(&td.lock);
}

static int hv_testdev_init(struct device *dev, struct vm *vm)
{
	const struct accel_ops *ops = vm->accel.ops;

	(void)dev;
	td.vm = vm;
	if (!vm->accel.hyperv)
		return 0;		/* QEMU's -device hyperv-testdev */
	if (!ops->hv_sint_route || !ops->hv_sint_raise ||
	    !ops->hv_set_connection) {
		pr_err("hyperv-testdev: the %s accelerator has no SynIC sources",
		       ops->name);
		return -1;
	}
	return bus_register(BUS_PIO, HV_TESTDEV_PORT, 4, "hyperv-testdev",
			    testdev_io, NULL);
}

static struct device hv_testdev_dev = {
	.name		= "hyperv-testdev",
	.machines	= DEV_MACHINE_PC,
	.init		= hv_testdev_init,
};
DEVICE_REGISTER(hv_testdev_dev);
