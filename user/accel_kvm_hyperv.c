// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: Hyper-V SynIC sources and connections on KVM, with the
 * semantics shv's kernel gives them (Documentation/interrupts.rst), so
 * that a device behaves the same on both accelerators.
 *
 * KVM emulates the SynIC registers, its timers and the hypercall page;
 * it tells userspace through KVM_EXIT_HYPERV: a SYNIC exit after each
 * guest write of SCONTROL, SIEFP or SIMP, an HCALL exit for HvPostMessage
 * and for HvSignalEvent on connections it has no eventfd for (all of them
 * here: the runner answers both synchronously, in the calling vCPU's
 * thread).  On top of that:
 *
 *  - a SINT in use (by a device route or a connection) gets a GSI routed
 *    to it (KVM_IRQ_ROUTING_HV_SINT), an irqfd whose write raises it, and
 *    a resample eventfd that KVM signals when the guest writes EOM (or
 *    EOIs the SINT's vector); a thread waits on those;
 *  - HvPostMessage on a message connection queues the message on its
 *    SINT (SHV_HV_MSG_QUEUE deep, else HV_STATUS_INSUFFICIENT_BUFFERS);
 *    the queue's head goes into the SINT's slot when the slot's type is
 *    HVMSG_NONE, with MessagePending set if more wait, and the SINT is
 *    raised; a busy slot gets MessagePending and the message waits for
 *    the EOM.  The header's sender is the connection id;
 *  - HvSignalEvent on an event connection sets flag flag_base + FlagNumber
 *    of the SINT's area and raises the SINT if the flag was clear;
 *  - with the SynIC or the page disabled, messages and flags wait; a SIMP
 *    or SIEFP the guest enables at a new address is cleared first, as
 *    shv and Hyper-V's overlay pages do (KVM's SynIC2 leaves it).
 *
 * The runner writes a slot or a flag area while the guest may run, in
 * the order the TLFS asks of a hypervisor: MessagePending is set before
 * the type is looked at and the type is written last, flags are set by
 * atomic ORs.  One mutex orders the runner's side.  KVM's own timer
 * messages are written in the vCPU's context without it: a guest should
 * not share a SINT between a synthetic timer and a connection here.
 *
 * The runner does not see the SINT registers: a message or flag for a
 * masked SINT is written at once and its interrupt lost (as in QEMU),
 * where shv keeps it until the SINT is unmasked; a polling SINT gets an
 * interrupt.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel_kvm.h"

#define HVCALL_POST_MESSAGE		0x005c
#define HVCALL_SIGNAL_EVENT		0x005d
#define HV_HYPERCALL_FAST		(1ULL << 16)

#define HV_STATUS_SUCCESS			0
#define HV_STATUS_INVALID_HYPERCALL_CODE	2
#define HV_STATUS_INVALID_ALIGNMENT		4
#define HV_STATUS_INVALID_PARAMETER		5
#define HV_STATUS_INVALID_PORT_ID		17
#define HV_STATUS_INVALID_CONNECTION_ID		18
#define HV_STATUS_INSUFFICIENT_BUFFERS		19

#define HV_SYNIC_ENABLE		1ULL	/* SCONTROL, SIMP and SIEFP */
#define HV_PAGE_MASK		(~0xfffULL)
#define HV_MSR_SIEFP		0x40000082
#define HV_MSR_SIMP		0x40000083
#define HV_MSG_SIZE		256
#define HV_MSG_PAYLOAD		240
#define HV_MSG_PENDING		1	/* message_flags */
#define HVMSG_NONE		0
#define HV_FLAG_WORDS		(SHV_HV_EVENT_FLAGS / 64)
#define HV_CONN_ID_MASK		0xffffffu

/* a message slot, struct hv_message */
struct hv_msg {
	u32 type;
	u8 payload_size;
	u8 flags;
	u16 reserved;
	u64 sender;
	u64 payload[HV_MSG_PAYLOAD / 8];
};

/* what waits for one SINT of one VP */
struct hv_sint {
	struct hv_msg queue[SHV_HV_MSG_QUEUE];
	unsigned int head, count;
	u64 flags[HV_FLAG_WORDS];	/* pending event flags */
};

/* a VP (vCPU) as its SynIC exits describe it */
struct hv_vp {
	u64 control, simp, siefp;
	struct hv_sint sint[SHV_HV_SINTS];
};

/* a SINT in use: its GSI, irqfd and resample eventfd */
struct hv_route {
	struct hv_route *next;
	u32 vp, sint;
	unsigned int users;
	u32 gsi;
	int fd, resample_fd;
};

struct hv_conn {
	struct hv_conn *next;
	u32 id, vp, sint, flags;
	u32 flag_base, flag_count;
};

struct kvm_hv {
	pthread_mutex_t lock;		/* everything below */
	struct accel *a;
	struct hv_vp *vps[SHV_MAX_VCPUS];	/* NULL: no such vCPU */
	struct hv_route *routes;
	struct hv_route *dead;		/* routes whose fds the thread closes */
	struct hv_conn *conns;
	unsigned int nr_conns;
	int wake_fd;			/* eventfd: routes changed, or stop */
	bool stop;
	bool thread_started;
	pthread_t thread;
};

static struct kvm_hv *hv_of(struct accel *a)
{
	return ((struct kvm_priv *)a->priv)->hv;
}

static struct hv_route *route_find(struct kvm_hv *hv, u32 vp, u32 sint)
{
	struct hv_route *r;

	for (r = hv->routes; r; r = r->next)
		if (r->vp == vp && r->sint == sint)
			return r;
	return NULL;
}

static int routes_commit(struct kvm_hv *hv)
{
	struct kvm_irq_routing_entry *e;
	struct hv_route *r;
	unsigned int n = 0;
	int ret;

	for (r = hv->routes; r; r = r->next)
		n++;
	e = calloc(n ? n : 1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return -1;
	}
	n = 0;
	for (r = hv->routes; r; r = r->next) {
		e[n].gsi = r->gsi;
		e[n].type = KVM_IRQ_ROUTING_HV_SINT;
		e[n].u.hv_sint.vcpu = r->vp;
		e[n].u.hv_sint.sint = r->sint;
		n++;
	}
	ret = kvm_set_routes(hv->a, e, n);
	free(e);
	return ret;
}

static void wake_thread(struct kvm_hv *hv)
{
	u64 one = 1;

	if (write(hv->wake_fd, &one, sizeof(one)) != sizeof(one))
		pr_debug("kvm hyperv: cannot wake the EOM thread");
}

/* lowest GSI above the PC's that no route has */
static u32 free_gsi(struct kvm_hv *hv)
{
	u32 gsi = KVM_PC_GSIS;
	struct hv_route *r;

again:
	for (r = hv->routes; r; r = r->next) {
		if (r->gsi == gsi) {
			gsi++;
			goto again;
		}
	}
	return gsi;
}

/* one more user of SINT @sint of @vp (lock held) */
static int route_get(struct kvm_hv *hv, u32 vp, u32 sint)
{
	struct hv_route *r = route_find(hv, vp, sint);
	struct kvm_irqfd irqfd;
	int err;

	if (r) {
		r->users++;
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	r->vp = vp;
	r->sint = sint;
	r->users = 1;
	r->gsi = free_gsi(hv);
	r->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->fd < 0 || r->resample_fd < 0)
		goto err;
	r->next = hv->routes;
	hv->routes = r;
	if (routes_commit(hv)) {
		hv->routes = r->next;
		goto err;
	}
	irqfd = (struct kvm_irqfd) {
		.fd = r->fd,
		.gsi = r->gsi,
		.flags = KVM_IRQFD_FLAG_RESAMPLE,
		.resamplefd = r->resample_fd,
	};
	if (ioctl(hv->a->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		err = errno;
		hv->routes = r->next;
		routes_commit(hv);
		errno = err;
		goto err;
	}
	wake_thread(hv);
	return 0;
err:
	err = errno;
	if (r->fd >= 0)
		close(r->fd);
	if (r->resample_fd >= 0)
		close(r->resample_fd);
	free(r);
	errno = err;
	return -1;
}

/* one user less (lock held); the last one takes the route away */
static void route_put(struct kvm_hv *hv, u32 vp, u32 sint)
{
	struct hv_route **pp, *r;
	struct kvm_irqfd irqfd;

	for (pp = &hv->routes; (r = *pp); pp = &r->next)
		if (r->vp == vp && r->sint == sint)
			break;
	if (!r || --r->users)
		return;
	irqfd = (struct kvm_irqfd) {
		.fd = r->fd,
		.gsi = r->gsi,
		.flags = KVM_IRQFD_FLAG_DEASSIGN,
	};
	if (ioctl(hv->a->vm_fd, KVM_IRQFD, &irqfd) < 0)
		pr_debug("kvm hyperv: KVM_IRQFD deassign of GSI %u: %s",
			 r->gsi, strerror(errno));
	*pp = r->next;
	if (routes_commit(hv))
		pr_debug("kvm hyperv: KVM_SET_GSI_ROUTING: %s",
			 strerror(errno));
	/* the thread may be polling the resample fd: it closes them */
	r->next = hv->dead;
	hv->dead = r;
	wake_thread(hv);
}

static void route_free(struct hv_route *r)
{
	close(r->fd);
	close(r->resample_fd);
	free(r);
}

/* raise SINT @sint of @vp through its route (lock held) */
static void raise_sint(struct kvm_hv *hv, u32 vp, u32 sint)
{
	struct hv_route *r = route_find(hv, vp, sint);
	u64 one = 1;

	if (r && write(r->fd, &one, sizeof(one)) != sizeof(one))
		pr_debug("kvm hyperv: irqfd write for VP %u SINT %u: %s", vp,
			 sint, strerror(errno));
}

/* the queue's head into the slot if the slot is free (lock held) */
static void deliver_msgs(struct kvm_hv *hv, u32 vpi, u32 sint)
{
	struct hv_vp *vp = hv->vps[vpi];
	struct hv_sint *s = &vp->sint[sint];
	struct hv_msg *slot;
	const struct hv_msg *m;

	if (!s->count || !(vp->control & HV_SYNIC_ENABLE) ||
	    !(vp->simp & HV_SYNIC_ENABLE))
		return;
	slot = kvm_gpa_to_hva(hv->a, (vp->simp & HV_PAGE_MASK) +
			      sint * HV_MSG_SIZE, HV_MSG_SIZE);
	if (!slot)
		return;
	/* TLFS order: the guest that frees the slot then sees the flag */
	__atomic_fetch_or(&slot->flags, HV_MSG_PENDING, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->type, __ATOMIC_SEQ_CST) != HVMSG_NONE)
		return;			/* busy: the guest writes EOM */
	m = &s->queue[s->head];
	memcpy(slot->payload, m->payload, m->payload_size);
	slot->sender = m->sender;
	slot->payload_size = m->payload_size;
	slot->reserved = 0;
	slot->flags = s->count > 1 ? HV_MSG_PENDING : 0;
	__atomic_store_n(&slot->type, m->type, __ATOMIC_RELEASE);
	s->head = (s->head + 1) % SHV_HV_MSG_QUEUE;
	s->count--;
	raise_sint(hv, vpi, sint);
}

/* pending flags into the SIEF area (lock held) */
static void deliver_events(struct kvm_hv *hv, u32 vpi, u32 sint)
{
	struct hv_vp *vp = hv->vps[vpi];
	struct hv_sint *s = &vp->sint[sint];
	bool newly = false;
	unsigned int w;
	u64 *area;

	if (!(vp->control & HV_SYNIC_ENABLE) ||
	    !(vp->siefp & HV_SYNIC_ENABLE))
		return;
	area = kvm_gpa_to_hva(hv->a, (vp->siefp & HV_PAGE_MASK) +
			      sint * (SHV_HV_EVENT_FLAGS / 8),
			      SHV_HV_EVENT_FLAGS / 8);
	if (!area)
		return;
	for (w = 0; w < HV_FLAG_WORDS; w++) {
		u64 bits = s->flags[w];

		if (!bits)
			continue;
		s->flags[w] = 0;
		if (bits & ~__atomic_fetch_or(&area[w], bits, __ATOMIC_SEQ_CST))
			newly = true;
	}
	if (newly)
		raise_sint(hv, vpi, sint);
}

/* the EOM thread: a resample eventfd fired, so retry that SINT's queue */
static void *eom_thread(void *arg)
{
	struct kvm_hv *hv = arg;
	struct pollfd *pfd = NULL;
	struct hv_route *r;
	u32 *who = NULL;
	unsigned int n, i;
	u64 v;

	for (;;) {
		pthread_mutex_lock(&hv->lock);
		if (hv->stop) {
			pthread_mutex_unlock(&hv->lock);
			break;
		}
		while ((r = hv->dead)) {
			hv->dead = r->next;
			route_free(r);
		}
		n = 1;
		for (r = hv->routes; r; r = r->next)
			n++;
		free(pfd);
		free(who);
		pfd = calloc(n, sizeof(*pfd));
		who = calloc(n, sizeof(*who) * 2);
		if (!pfd || !who) {
			pthread_mutex_unlock(&hv->lock);
			pr_err("kvm hyperv: out of memory");
			break;
		}
		pfd[0].fd = hv->wake_fd;
		pfd[0].events = POLLIN;
		for (i = 1, r = hv->routes; r; r = r->next, i++) {
			pfd[i].fd = r->resample_fd;
			pfd[i].events = POLLIN;
			who[2 * i] = r->vp;
			who[2 * i + 1] = r->sint;
		}
		pthread_mutex_unlock(&hv->lock);

		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_errno("kvm hyperv: poll");
			break;
		}
		if ((pfd[0].revents & POLLIN) &&
		    read(hv->wake_fd, &v, sizeof(v)) < 0)
			pr_debug("kvm hyperv: wake read: %s", strerror(errno));
		pthread_mutex_lock(&hv->lock);
		for (i = 1; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			/* fds of dead routes stay open until the next round */
			if (read(pfd[i].fd, &v, sizeof(v)) < 0)
				continue;
			if (route_find(hv, who[2 * i], who[2 * i + 1]))
				deliver_msgs(hv, who[2 * i], who[2 * i + 1]);
		}
		pthread_mutex_unlock(&hv->lock);
	}
	free(pfd);
	free(who);
	return NULL;
}

int kvm_hv_init(struct accel *a)
{
	struct kvm_priv *p = a->priv;
	struct kvm_hv *hv;
	int err;

	hv = calloc(1, sizeof(*hv));
	if (!hv) {
		pr_err("out of memory");
		return -1;
	}
	pthread_mutex_init(&hv->lock, NULL);
	hv->a = a;
	hv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hv->wake_fd < 0) {
		pr_errno("eventfd");
		free(hv);
		return -1;
	}
	err = pthread_create(&hv->thread, NULL, eom_thread, hv);
	if (err) {
		errno = err;
		pr_errno("kvm hyperv: cannot start the EOM thread");
		close(hv->wake_fd);
		free(hv);
		return -1;
	}
	hv->thread_started = true;
	p->hv = hv;
	return 0;
}

void kvm_hv_close(struct accel *a)
{
	struct kvm_priv *p = a->priv;
	struct kvm_hv *hv = p->hv;
	struct hv_conn *c;
	struct hv_route *r;
	unsigned int i;

	if (!hv)
		return;
	pthread_mutex_lock(&hv->lock);
	hv->stop = true;
	wake_thread(hv);
	pthread_mutex_unlock(&hv->lock);
	if (hv->thread_started)
		pthread_join(hv->thread, NULL);
	/* the VM goes with its fd: routes and irqfds need no undoing */
	while ((c = hv->conns)) {
		hv->conns = c->next;
		free(c);
	}
	while ((r = hv->routes)) {
		hv->routes = r->next;
		route_free(r);
	}
	while ((r = hv->dead)) {
		hv->dead = r->next;
		route_free(r);
	}
	for (i = 0; i < SHV_MAX_VCPUS; i++)
		free(hv->vps[i]);
	close(hv->wake_fd);
	free(hv);
	p->hv = NULL;
}

void kvm_hv_add_vcpu(struct accel *a, unsigned int id)
{
	struct kvm_hv *hv = hv_of(a);
	struct hv_vp *vp;

	if (!hv || id >= SHV_MAX_VCPUS)
		return;
	vp = calloc(1, sizeof(*vp));
	if (!vp) {
		pr_warn("kvm hyperv: out of memory: vCPU %u gets no connections",
			id);
		return;
	}
	pthread_mutex_lock(&hv->lock);
	hv->vps[id] = vp;
	pthread_mutex_unlock(&hv->lock);
}

/* a page MSR enabled at a new address: the page reads as zeros */
static void clear_page_if_new(struct kvm_hv *hv, u64 old, u64 val)
{
	void *page;

	if (!(val & HV_SYNIC_ENABLE) ||
	    (val & (HV_PAGE_MASK | HV_SYNIC_ENABLE)) ==
	    (old & (HV_PAGE_MASK | HV_SYNIC_ENABLE)))
		return;
	page = kvm_gpa_to_hva(hv->a, val & HV_PAGE_MASK, 4096);
	if (page)
		memset(page, 0, 4096);
}

static void synic_exit(struct kvm_hv *hv, u32 vpi,
		       const struct kvm_hyperv_exit *h)
{
	struct hv_vp *vp = hv->vps[vpi];
	unsigned int i;

	if (h->u.synic.msr == HV_MSR_SIMP)
		clear_page_if_new(hv, vp->simp, h->u.synic.msg_page);
	if (h->u.synic.msr == HV_MSR_SIEFP)
		clear_page_if_new(hv, vp->siefp, h->u.synic.evt_page);
	vp->control = h->u.synic.control;
	vp->simp = h->u.synic.msg_page;
	vp->siefp = h->u.synic.evt_page;
	/* what waited for the SynIC or its pages may go now */
	for (i = 0; i < SHV_HV_SINTS; i++) {
		deliver_events(hv, vpi, i);
		deliver_msgs(hv, vpi, i);
	}
}

/* the connection @id carrying @need, or an HV_STATUS (lock held) */
static u16 conn_find(struct kvm_hv *hv, u32 id, u32 need,
		     struct hv_conn **out)
{
	struct hv_conn *c;

	if (id & ~HV_CONN_ID_MASK)
		return HV_STATUS_INVALID_CONNECTION_ID;
	for (c = hv->conns; c; c = c->next)
		if (c->id == id)
			break;
	if (!c)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (!(c->flags & need) || !hv->vps[c->vp])
		return HV_STATUS_INVALID_PORT_ID;
	*out = c;
	return HV_STATUS_SUCCESS;
}

/* HvPostMessage's input */
struct hv_post_in {
	u32 connection_id;
	u32 reserved;
	u32 message_type;
	u32 payload_size;
	u64 payload[HV_MSG_PAYLOAD / 8];
};

static u16 hcall_post(struct kvm_hv *hv, bool fast, u64 gpa)
{
	struct hv_post_in in;
	struct hv_sint *s;
	struct hv_conn *c;
	struct hv_msg *m;
	const void *p;
	u16 status;

	if (fast)
		return HV_STATUS_INVALID_PARAMETER;	/* no XMM input */
	if ((gpa & 7) || (gpa & 0xfff) + sizeof(in) > 4096)
		return HV_STATUS_INVALID_ALIGNMENT;
	p = kvm_gpa_to_hva(hv->a, gpa, sizeof(in));
	if (!p)
		return HV_STATUS_INVALID_PARAMETER;
	memcpy(&in, p, sizeof(in));
	/* types with the top bit set belong to the hypervisor */
	if (in.payload_size > HV_MSG_PAYLOAD ||
	    in.message_type == HVMSG_NONE || (in.message_type & (1u << 31)))
		return HV_STATUS_INVALID_PARAMETER;

	pthread_mutex_lock(&hv->lock);
	status = conn_find(hv, in.connection_id, SHV_HV_CONN_MESSAGES, &c);
	if (status)
		goto out;
	s = &hv->vps[c->vp]->sint[c->sint];
	if (s->count == SHV_HV_MSG_QUEUE) {
		status = HV_STATUS_INSUFFICIENT_BUFFERS;
		goto out;
	}
	m = &s->queue[(s->head + s->count) % SHV_HV_MSG_QUEUE];
	memset(m, 0, sizeof(*m));
	m->type = in.message_type;
	m->payload_size = in.payload_size;
	m->sender = in.connection_id;
	memcpy(m->payload, in.payload, in.payload_size);
	s->count++;
	deliver_msgs(hv, c->vp, c->sint);
out:
	pthread_mutex_unlock(&hv->lock);
	return status;
}

static u16 hcall_signal(struct kvm_hv *hv, bool fast, u64 in)
{
	struct hv_conn *c;
	const u64 *p;
	u16 status;
	u32 flag;

	if (!fast) {
		if (in & 7)
			return HV_STATUS_INVALID_ALIGNMENT;
		p = kvm_gpa_to_hva(hv->a, in, sizeof(*p));
		if (!p)
			return HV_STATUS_INVALID_PARAMETER;
		in = *p;
	}
	flag = (in >> 32) & 0xffff;
	if ((in >> 48) || flag >= SHV_HV_EVENT_FLAGS)
		return HV_STATUS_INVALID_PARAMETER;

	pthread_mutex_lock(&hv->lock);
	status = conn_find(hv, (u32)in, SHV_HV_CONN_EVENTS, &c);
	if (status)
		goto out;
	/* FlagNumber is relative to the port's base */
	if (flag >= c->flag_count) {
		status = HV_STATUS_INVALID_PARAMETER;
		goto out;
	}
	flag += c->flag_base;
	hv->vps[c->vp]->sint[c->sint].flags[flag / 64] |= 1ULL << (flag % 64);
	deliver_events(hv, c->vp, c->sint);
out:
	pthread_mutex_unlock(&hv->lock);
	return status;
}

/*
 * The input GPA of a slow HvSignalEvent, from the registers: KVM reads
 * the input itself first and, depending on its version, leaves either
 * the GPA or the value it read in params[0].  Long mode: RDX; else
 * EBX:ECX.  ~0 if the registers cannot be read.
 */
static u64 signal_input_gpa(struct accel_vcpu *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return ~0ULL;
	if ((s.efer & (1ULL << 10)) && s.cs.l)
		return r.rdx;
	return (u64)(u32)r.rbx << 32 | (u32)r.rcx;
}

bool kvm_hv_exit(struct accel_vcpu *v, struct kvm_hyperv_exit *h)
{
	struct kvm_hv *hv = hv_of(v->accel);
	u64 input;
	bool fast;

	if (!hv)
		return false;
	switch (h->type) {
	case KVM_EXIT_HYPERV_SYNIC:
		if (v->id >= SHV_MAX_VCPUS || !hv->vps[v->id])
			return true;
		pthread_mutex_lock(&hv->lock);
		synic_exit(hv, v->id, h);
		pthread_mutex_unlock(&hv->lock);
		return true;
	case KVM_EXIT_HYPERV_HCALL:
		input = h->u.hcall.input;
		fast = input & HV_HYPERCALL_FAST;
		switch (input & 0xffff) {
		case HVCALL_POST_MESSAGE:
			h->u.hcall.result = hcall_post(hv, fast,
						       h->u.hcall.params[0]);
			break;
		case HVCALL_SIGNAL_EVENT:
			h->u.hcall.result = hcall_signal(hv, fast, fast ?
						h->u.hcall.params[0] :
						signal_input_gpa(v));
			break;
		default:
			h->u.hcall.result = HV_STATUS_INVALID_HYPERCALL_CODE;
			break;
		}
		return true;
	}
	return false;
}

static int bad_vp_sint(struct kvm_hv *hv, u32 vp, u32 sint)
{
	if (!hv) {
		errno = ENXIO;
		return -1;
	}
	if (vp >= SHV_MAX_VCPUS || sint >= SHV_HV_SINTS) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int kvm_hv_sint_route(struct accel *a, u32 vp, u32 sint, bool add)
{
	struct kvm_hv *hv = hv_of(a);
	int ret = 0;

	if (bad_vp_sint(hv, vp, sint))
		return -1;
	pthread_mutex_lock(&hv->lock);
	if (!hv->vps[vp]) {
		errno = ENOENT;
		ret = -1;
	} else if (add) {
		ret = route_get(hv, vp, sint);
	} else {
		route_put(hv, vp, sint);
	}
	pthread_mutex_unlock(&hv->lock);
	return ret;
}

int kvm_hv_sint_raise(struct accel *a, u32 vp, u32 sint)
{
	struct kvm_hv *hv = hv_of(a);
	int ret = 0;

	if (bad_vp_sint(hv, vp, sint))
		return -1;
	pthread_mutex_lock(&hv->lock);
	if (!hv->vps[vp]) {
		errno = ENOENT;
		ret = -1;
	} else if (hv->vps[vp]->control & HV_SYNIC_ENABLE) {
		/* a disabled SynIC drops it, as on shv */
		raise_sint(hv, vp, sint);
	}
	pthread_mutex_unlock(&hv->lock);
	return ret;
}

/* validated as SHV_HV_SET_CONNECTION does */
static int conn_check(const struct shv_hv_connection *c)
{
	if ((c->conn_id & ~HV_CONN_ID_MASK) || c->sint >= SHV_HV_SINTS ||
	    c->vcpu >= SHV_MAX_VCPUS || c->target_fd != -1 || c->reserved ||
	    (c->flags & ~(SHV_HV_CONN_MESSAGES | SHV_HV_CONN_EVENTS)))
		return -1;
	if (c->flags & SHV_HV_CONN_EVENTS)
		return c->flag_base >= SHV_HV_EVENT_FLAGS ||
		       c->flag_count > SHV_HV_EVENT_FLAGS - c->flag_base ?
		       -1 : 0;
	return c->flag_base || c->flag_count ? -1 : 0;
}

int kvm_hv_set_connection(struct accel *a, const struct shv_hv_connection *c)
{
	struct kvm_hv *hv = hv_of(a);
	struct hv_conn **pp, *old, *n;
	int ret = 0;

	if (!hv) {
		errno = ENXIO;
		return -1;
	}
	if (conn_check(c)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&hv->lock);
	for (pp = &hv->conns; (old = *pp); pp = &old->next)
		if (old->id == c->conn_id)
			break;
	if (!c->flags) {
		if (old) {
			*pp = old->next;
			hv->nr_conns--;
			route_put(hv, old->vp, old->sint);
			free(old);
		} else {
			errno = ENOENT;
			ret = -1;
		}
		goto out;
	}
	if (!hv->vps[c->vcpu]) {
		errno = ENOENT;		/* KVM routes only to a SynIC */
		ret = -1;
		goto out;
	}
	if (!old && hv->nr_conns >= SHV_HV_MAX_CONNECTIONS) {
		errno = ENOSPC;
		ret = -1;
		goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n || route_get(hv, c->vcpu, c->sint)) {
		if (!n)
			errno = ENOMEM;
		free(n);
		ret = -1;
		goto out;
	}
	n->id = c->conn_id;
	n->vp = c->vcpu;
	n->sint = c->sint;
	n->flags = c->flags;
	n->flag_base = c->flag_base;
	n->flag_count = c->flag_count ? c->flag_count :
			SHV_HV_EVENT_FLAGS - c->flag_base;
	if (old) {
		n->next = old->next;
		*pp = n;
		route_put(hv, old->vp, old->sint);
		free(old);
	} else {
		n->next = hv->conns;
		hv->conns = n;
		hv->nr_conns++;
	}
out:
	pthread_mutex_unlock(&hv->lock);
	return ret;
}
