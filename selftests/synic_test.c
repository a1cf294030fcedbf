// SPDX-License-Identifier: GPL-2.0
/*
 * The Hyper-V SynIC of shv: CPUID and MSRs, HvPostMessage and
 * HvSignalEvent to the same vCPU, another vCPU and a vCPU of a VM in
 * another process, ports with a base flag number, MessagePending and EOM
 * redelivery, AutoEOI, synthetic timers in message and direct mode,
 * selective EOI, messages, event flags and SINTs from userspace, and the
 * exit counts that show what AutoEOI and MessagePending save.  The guest code is in
 * synic_guest.S, the layout in synic_test.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "shv_util.h"
#include "synic_test.h"

DECLARE_GUEST(synic);
DECLARE_GUEST(ap_trampoline);
DECLARE_GUEST_LABEL(msg_handler_2);
DECLARE_GUEST_LABEL(msg_handler_4);
DECLARE_GUEST_LABEL(evt_handler);
DECLARE_GUEST_LABEL(direct_handler);
DECLARE_GUEST_LABEL(rec_handler_0x41);
DECLARE_GUEST_LABEL(rec_handler_0x42);
DECLARE_GUEST_LABEL(rec_handler_0x81);
DECLARE_GUEST_LABEL(ent_basics);
DECLARE_GUEST_LABEL(ent_autoeoi);
DECLARE_GUEST_LABEL(ent_pending);
DECLARE_GUEST_LABEL(ent_bsp);
DECLARE_GUEST_LABEL(ent_receiver);
DECLARE_GUEST_LABEL(ent_sender);
DECLARE_GUEST_LABEL(ent_stimer);
DECLARE_GUEST_LABEL(ent_seoi);
DECLARE_GUEST_LABEL(ent_queue);
DECLARE_GUEST_LABEL(ent_user);

#define GADDR(label)	(CODE_GPA + GUEST_OFF(synic, label))

/* a VM with the irqchip, Hyper-V and the guest code; no vCPU yet */
static struct shv_vm *hv_vm(void)
{
	struct shv_vm *vm = shv_vm_create();

	SHV_CHECK(!ioctl(vm->fd, SHV_CREATE_IRQCHIP, 0), "%s", strerror(errno));
	SHV_CHECK(!ioctl(vm->fd, SHV_ENABLE_HYPERV, 0), "%s", strerror(errno));
	shv_load_guest(vm, CODE_GPA, synic);
	return vm;
}

static int set_conn(struct shv_vm *vm, uint32_t id, int target_fd,
		    uint32_t vcpu, uint32_t sint, uint32_t flags)
{
	struct shv_hv_connection c = {
		.conn_id = id, .target_fd = target_fd, .vcpu = vcpu,
		.sint = sint, .flags = flags,
	};

	return ioctl(vm->fd, SHV_HV_SET_CONNECTION, &c);
}

/* an event port: flags base .. base + count - 1 */
static int set_port(struct shv_vm *vm, uint32_t id, uint32_t sint,
		    uint32_t flags, uint32_t base, uint32_t count)
{
	struct shv_hv_connection c = {
		.conn_id = id, .target_fd = -1, .sint = sint, .flags = flags,
		.flag_base = base, .flag_count = count,
	};

	return ioctl(vm->fd, SHV_HV_SET_CONNECTION, &c);
}

static void conn(struct shv_vm *vm, uint32_t id, int target_fd,
		 uint32_t vcpu, uint32_t sint, uint32_t flags)
{
	SHV_CHECK(!set_conn(vm, id, target_fd, vcpu, sint, flags), "%s",
		  strerror(errno));
}

/* long mode at entry, with page set 0 or 1 and the handlers installed */
static void setup_vcpu(struct shv_vcpu *v, uint64_t entry, int set,
		       uint64_t rsp)
{
	struct shv_vm *vm = v->vm;
	struct shv_regs r;

	shv_vcpu_setup(v, MODE_LONG64, entry);
	shv_idt_set_gate64(vm, VEC_MSG, GADDR(msg_handler_2));
	shv_idt_set_gate64(vm, VEC_TMR, GADDR(msg_handler_4));
	shv_idt_set_gate64(vm, VEC_EVT, GADDR(evt_handler));
	shv_idt_set_gate64(vm, VEC_DIRECT, GADDR(direct_handler));
	shv_idt_set_gate64(vm, VEC_LO, GADDR(rec_handler_0x41));
	shv_idt_set_gate64(vm, VEC_MID, GADDR(rec_handler_0x42));
	shv_idt_set_gate64(vm, VEC_HI, GADDR(rec_handler_0x81));
	shv_get_regs(v, &r);
	r.r12 = set ? SIMP1_GPA : SIMP0_GPA;
	r.r13 = set ? SIEF1_GPA : SIEF0_GPA;
	r.r14 = set ? INPUT1_GPA : INPUT0_GPA;
	r.r15 = set ? PCPU1_GPA : PCPU0_GPA;
	r.rsp = rsp;
	shv_set_regs(v, &r);
}

static struct shv_vcpu *hv_vcpu(struct shv_vm *vm, uint64_t entry)
{
	struct shv_vcpu *v = shv_vcpu_create(vm, 0);

	setup_vcpu(v, entry, 0, STACK_TOP);
	return v;
}

static struct shv_vcpu_stats stats(struct shv_vcpu *v)
{
	struct shv_vcpu_stats s;

	SHV_CHECK(!ioctl(v->fd, SHV_GET_VCPU_STATS, &s), "%s",
		  strerror(errno));
	return s;
}

#define DELTA(a, b, f)	((b).f - (a).f)

static uint64_t g64(struct shv_vm *vm, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, shv_gpa2hva(vm, gpa), sizeof(v));
	return v;
}

static uint64_t log_at(struct shv_vm *vm, uint64_t pcpu, int i, int field)
{
	return g64(vm, pcpu + PC_LOG + (i % 32) * 64 + field);
}

TEST(ioctls)
{
	struct shv_vm *vm, *plain, *b;
	struct shv_memsnap snap;
	int fd, i, null;

	fd = shv_open_dev();
	ASSERT_EQ(1, ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_HYPERV));

	plain = shv_vm_create();
	EXPECT_EQ(-1, ioctl(plain->fd, SHV_ENABLE_HYPERV, 0));
	EXPECT_EQ(ENXIO, errno);		/* no irqchip */
	EXPECT_EQ(-1, set_conn(plain, 1, -1, 0, 0, SHV_HV_CONN_MESSAGES));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, ioctl(plain->fd, SHV_CREATE_IRQCHIP, 0));
	EXPECT_EQ(-1, ioctl(plain->fd, SHV_ENABLE_HYPERV, 1));
	EXPECT_EQ(EINVAL, errno);
	shv_vcpu_free(shv_vcpu_create(plain, 0));
	EXPECT_EQ(-1, ioctl(plain->fd, SHV_ENABLE_HYPERV, 0));
	EXPECT_EQ(EBUSY, errno);		/* after a vCPU */

	vm = hv_vm();
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_ENABLE_HYPERV, 0));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, set_conn(vm, 1, -1, 0, 16, SHV_HV_CONN_MESSAGES));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_conn(vm, 1, -1, SHV_MAX_VCPUS, 0,
			       SHV_HV_CONN_MESSAGES));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_conn(vm, 0x1000000, -1, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_conn(vm, 1, -1, 0, 0, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_conn(vm, 1, -7, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(EBADF, errno);
	null = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, null);
	EXPECT_EQ(-1, set_conn(vm, 1, null, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(EINVAL, errno);		/* not a VM */
	close(null);
	EXPECT_EQ(-1, set_conn(vm, 1, plain->fd, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(EINVAL, errno);		/* no Hyper-V there */
	{
		struct shv_hv_connection c = {
			.conn_id = 1, .target_fd = -1,
			.flags = SHV_HV_CONN_EVENTS, .reserved = 1,
		};

		EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_SET_CONNECTION, &c));
		EXPECT_EQ(EINVAL, errno);
	}
	/* ports: within the SINT's 2048 flags, only for events */
	EXPECT_EQ(-1, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS, 2048, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS, 2000, 49));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS, 0, 2049));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS, 0, 0xffffffff));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_port(vm, 1, 0, SHV_HV_CONN_MESSAGES, 8, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_port(vm, 1, 0, SHV_HV_CONN_MESSAGES, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_port(vm, 1, 0, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS, 2000, 48));
	EXPECT_EQ(0, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS, 2047, 0));
	EXPECT_EQ(0, set_port(vm, 1, 0, SHV_HV_CONN_EVENTS |
			      SHV_HV_CONN_MESSAGES, 5, 1));
	EXPECT_EQ(0, set_conn(vm, 1, -1, 0, 0, 0));
	EXPECT_EQ(-1, set_conn(vm, 5, -1, 0, 0, 0));
	EXPECT_EQ(ENOENT, errno);		/* delete what is not there */
	EXPECT_EQ(0, set_conn(vm, 5, -1, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(0, set_conn(vm, 5, vm->fd, 1, 3, SHV_HV_CONN_MESSAGES));
	EXPECT_EQ(0, set_conn(vm, 5, -1, 0, 0, 0));
	for (i = 0; i < SHV_HV_MAX_CONNECTIONS; i++)
		ASSERT_EQ(0, set_conn(vm, i, -1, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(-1, set_conn(vm, i, -1, 0, 0, SHV_HV_CONN_EVENTS));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(0, set_conn(vm, 7, -1, 0, 1, SHV_HV_CONN_EVENTS));
	shv_vm_free(vm);
	shv_vm_free(plain);

	/* VMs linked both ways do not keep each other alive */
	shv_memsnap(&snap);
	for (i = 0; i < 16; i++) {
		vm = hv_vm();
		b = hv_vm();
		conn(vm, 1, b->fd, 0, 2, SHV_HV_CONN_MESSAGES);
		conn(b, 1, vm->fd, 0, 2, SHV_HV_CONN_EVENTS);
		conn(b, 2, -1, 0, 2, SHV_HV_CONN_EVENTS);
		shv_vcpu_free(shv_vcpu_create(b, 0));
		shv_vm_free(vm);
		shv_vm_free(b);
	}
	EXPECT_EQ(0, shv_leak_check(&snap, 16));
	close(fd);
}

TEST(basics)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_basics));
	const uint8_t *page;
	uint8_t ff[4096];
	int i;

	conn(vm, CONN_SELF_MSG, -1, 0, SINT_MSG, SHV_HV_CONN_MESSAGES);
	conn(vm, CONN_SELF_EVT, -1, 0, SINT_EVT, SHV_HV_CONN_EVENTS);
	memset(ff, 0xff, sizeof(ff));
	memcpy(shv_gpa2hva(vm, SIMP0_GPA), ff, sizeof(ff));

	/* no guest OS ID: VMMCALL still reaches the runner */
	shv_expect_exit(v, SHV_EXIT_HYPERCALL);
	EXPECT_EQ(0x1234, v->run->hypercall.nr);
	v->run->hypercall.ret = 0x99;
	EXPECT_EQ(0x99, shv_expect_report64(v));

	EXPECT_EQ(0x40000005, shv_expect_report(v));
	EXPECT_EQ(0x7263694d, shv_expect_report(v));	/* "Micr" */
	EXPECT_EQ(0x666f736f, shv_expect_report(v));	/* "osof" */
	EXPECT_EQ(0x76482074, shv_expect_report(v));	/* "t Hv" */
	EXPECT_EQ(0x31237648, shv_expect_report(v));	/* "Hv#1" */
	/* RefCount, SynIC, timers, APIC MSRs, hypercall, VP index, TSC page */
	EXPECT_EQ(0x27e, shv_expect_report(v));
	EXPECT_EQ(0x30, shv_expect_report(v));		/* post, signal */
	EXPECT_EQ(1u << 19, shv_expect_report(v));	/* direct stimers */
	EXPECT_EQ(0x53766853, shv_expect_report(v));	/* "ShvS" */
	EXPECT_EQ(SHV_FEAT_SEOI, shv_expect_report(v));

	EXPECT_EQ(0, shv_expect_report64(v));		/* VP index */
	EXPECT_EQ(1, shv_expect_report64(v));		/* SynIC version */
	EXPECT_LT(0, (int64_t)shv_expect_report64(v));	/* time moves */
	EXPECT_EQ(HV_STATUS_INVALID_HYPERCALL_CODE, shv_expect_report64(v));
	EXPECT_EQ(HV_STATUS_INVALID_CONNECTION_ID, shv_expect_report64(v));
	EXPECT_EQ(HV_STATUS_INVALID_PARAMETER, shv_expect_report64(v));
	EXPECT_EQ(HV_STATUS_INVALID_PORT_ID, shv_expect_report64(v));
	EXPECT_EQ(HV_STATUS_INVALID_PARAMETER, shv_expect_report64(v));
	EXPECT_EQ(HV_STATUS_INVALID_HYPERCALL_INPUT, shv_expect_report64(v));
	shv_expect_done(v);

	page = shv_gpa2hva(vm, HCALL_GPA);
	/* vmmcall; ret (SVM) or vmcall; ret (VMX) */
	EXPECT_EQ(0, memcmp(page, shv_cap(SHV_CAP_VENDOR) == SHV_VENDOR_VMX ?
			    "\x0f\x01\xc1\xc3" : "\x0f\x01\xd9\xc3", 4));
	page = shv_gpa2hva(vm, SIMP0_GPA);
	for (i = 0; i < 4096 && !page[i]; i++)
		;
	EXPECT_EQ(4096, i);			/* the SIMP page reads zeros */
	EXPECT_EQ(6, stats(v).hv_hypercalls);
	shv_vm_free(vm);
}

TEST(autoeoi_exits)
{
	bool vintr = shv_cap(SHV_CAP_ACCEL) & SHV_ACCEL_VINTR;
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_autoeoi));
	struct shv_vcpu_stats s0, s1, s2, s3;

	conn(vm, CONN_SELF_EVT, -1, 0, SINT_EVT, SHV_HV_CONN_EVENTS);
	ASSERT_EQ(1, shv_expect_report(v));
	s0 = stats(v);
	ASSERT_EQ(2, shv_expect_report(v));		/* N with AutoEOI */
	s1 = stats(v);
	ASSERT_EQ(3, shv_expect_report(v));
	s2 = stats(v);
	ASSERT_EQ(4, shv_expect_report(v));		/* N with EOI writes */
	s3 = stats(v);
	EXPECT_EQ(0, shv_expect_report(v));		/* ISR empty */
	shv_expect_done(v);

	TH_LOG("exits for %d interrupts: AutoEOI %llu, EOI write %llu%s",
	       N_IRQS, (unsigned long long)DELTA(s0, s1, exits),
	       (unsigned long long)DELTA(s2, s3, exits),
	       vintr ? " (virtual-interrupt delivery)" : "");
	EXPECT_EQ(N_IRQS, DELTA(s0, s1, hv_sint_irqs));
	EXPECT_EQ(N_IRQS, DELTA(s2, s3, hv_sint_irqs));
	EXPECT_EQ(N_IRQS, DELTA(s0, s1, hv_hypercalls));
	/* AutoEOI vectors are injected even with virtual-interrupt delivery */
	EXPECT_LE(N_IRQS, DELTA(s0, s1, irq_injections));
	EXPECT_EQ(0, DELTA(s0, s1, msr_exits));		/* no EOI exit */
	EXPECT_EQ(0, DELTA(s0, s1, eoi_exits));
	if (vintr) {
		/* the processor takes the EOI writes too */
		EXPECT_EQ(0, DELTA(s2, s3, msr_exits));
		EXPECT_EQ(0, DELTA(s2, s3, eoi_exits));
		EXPECT_EQ(0, DELTA(s2, s3, irq_injections));
	} else {
		EXPECT_EQ(N_IRQS, DELTA(s2, s3, msr_exits)); /* one per EOI */
		EXPECT_EQ(N_IRQS, DELTA(s2, s3, eoi_exits));
		EXPECT_LT(DELTA(s0, s1, exits), DELTA(s2, s3, exits));
	}
	shv_vm_free(vm);
}

TEST(message_pending)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_pending));
	struct shv_vcpu_stats s1, s2;
	int i;

	conn(vm, CONN_SELF_MSG, -1, 0, SINT_MSG, SHV_HV_CONN_MESSAGES);
	/* three posts with interrupts off: one in the slot, two queued */
	EXPECT_EQ(1, shv_expect_report(v));		/* type */
	EXPECT_EQ(0x1111, shv_expect_report64(v));	/* the first */
	EXPECT_EQ(1, shv_expect_report(v));		/* MessagePending */
	EXPECT_EQ(0, shv_expect_report(v));		/* no interrupt yet */
	EXPECT_EQ(2, shv_expect_report(v));		/* EOMs: 2 of 3 */
	s1 = stats(v);
	EXPECT_EQ(2, s1.hv_eoms);
	EXPECT_EQ(3, s1.hv_msgs_delivered);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1, log_at(vm, PCPU0_GPA, i, LOG_TYPE));
		EXPECT_EQ(0x1111u * (i + 1), log_at(vm, PCPU0_GPA, i, LOG_P0));
		EXPECT_EQ(~(0x1111ull * (i + 1)),
			  log_at(vm, PCPU0_GPA, i, LOG_P1));
		EXPECT_EQ(0x5a5a, log_at(vm, PCPU0_GPA, i, LOG_P2));
		/* pending on all but the last */
		EXPECT_EQ(i < 2, log_at(vm, PCPU0_GPA, i, LOG_FLAGS));
	}
	/* one at a time: nothing waits, so no EOM and no MSR exit at all */
	EXPECT_EQ(2, shv_expect_report(v));
	s2 = stats(v);
	shv_expect_done(v);
	EXPECT_EQ(8, DELTA(s1, s2, hv_msgs_delivered));
	EXPECT_EQ(8, DELTA(s1, s2, hv_sint_irqs));
	EXPECT_EQ(0, DELTA(s1, s2, hv_eoms));
	EXPECT_EQ(0, DELTA(s1, s2, hv_msgs_pending));
	EXPECT_EQ(0, DELTA(s1, s2, msr_exits));
	for (i = 3; i < 11; i++) {
		EXPECT_EQ(i + 1, log_at(vm, PCPU0_GPA, i, LOG_P0));
		EXPECT_EQ(0, log_at(vm, PCPU0_GPA, i, LOG_FLAGS));
	}
	shv_vm_free(vm);
}

static void *ap_thread(void *arg)
{
	struct shv_vcpu *v = arg;

	/* after INIT-SIPI the AP reports from real mode: go to long mode */
	shv_expect_report(v);
	setup_vcpu(v, GADDR(ent_receiver), 1, AP_STACK);
	SHV_CHECK(shv_expect_report(v) == 3, "AP messages");
	shv_expect_done(v);
	return NULL;
}

TEST(other_vcpu)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v0 = shv_vcpu_create(vm, 0);
	struct shv_vcpu *v1 = shv_vcpu_create(vm, 1);
	pthread_t t;
	int i;

	shv_load_code(vm, AP_SIPI_VECTOR << 12, guest_ap_trampoline,
		      guest_ap_trampoline_end);
	setup_vcpu(v0, GADDR(ent_bsp), 0, STACK_TOP);
	conn(vm, CONN_AP_MSG, -1, 1, SINT_MSG, SHV_HV_CONN_MESSAGES);
	conn(vm, CONN_AP_EVT, -1, 1, SINT_EVT, SHV_HV_CONN_EVENTS);
	ASSERT_EQ(0, pthread_create(&t, NULL, ap_thread, v1));
	shv_expect_done(v0);
	pthread_join(t, NULL);

	for (i = 0; i < 3; i++) {
		EXPECT_EQ(7, log_at(vm, PCPU1_GPA, i, LOG_TYPE));
		EXPECT_EQ(0xa1 + i, log_at(vm, PCPU1_GPA, i, LOG_P0));
		EXPECT_EQ(SINT_MSG, log_at(vm, PCPU1_GPA, i, LOG_SINT));
	}
	EXPECT_EQ(0x280, g64(vm, PCPU1_GPA + PC_FLAGS));
	EXPECT_EQ(3, stats(v1).hv_msgs_delivered);
	EXPECT_EQ(2, stats(v1).hv_events);
	EXPECT_EQ(0, stats(v0).hv_msgs_delivered);
	EXPECT_EQ(5, stats(v0).hv_hypercalls);
	shv_vm_free(vm);
}

/* the receiving VM, in a child process: its memory is not ours */
static int other_vm_child(int sock)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_receiver));
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = "v", .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int i;

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &vm->fd, sizeof(int));
	SHV_CHECK(sendmsg(sock, &mh, 0) == 1, "%s", strerror(errno));

	SHV_CHECK(shv_expect_report(v) == 3, "messages");
	shv_expect_done(v);
	for (i = 0; i < 3; i++)
		SHV_CHECK(log_at(vm, PCPU0_GPA, i, LOG_P0) == 0xb1u + i &&
			  log_at(vm, PCPU0_GPA, i, LOG_TYPE) == 7, "log %d", i);
	SHV_CHECK(g64(vm, PCPU0_GPA + PC_FLAGS) == 0x280, "flags");
	shv_vm_free(vm);
	return 0;
}

TEST(other_vm)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_sender));
	int sv[2], status, bfd;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		_exit(other_vm_child(sv[1]));
	}
	close(sv[1]);
	ASSERT_EQ(1, recvmsg(sv[0], &mh, 0));
	memcpy(&bfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	/* the other process's VM: its own ioctls are not ours to call */
	EXPECT_EQ(-1, ioctl(bfd, SHV_ENABLE_HYPERV, 0));
	EXPECT_EQ(EIO, errno);
	conn(vm, CONN_VMB_MSG, bfd, 0, SINT_MSG, SHV_HV_CONN_MESSAGES);
	conn(vm, CONN_VMB_EVT, bfd, 0, SINT_EVT, SHV_HV_CONN_EVENTS);
	close(bfd);

	EXPECT_EQ(0, shv_expect_report(v));		/* all posted */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	/* that VM is gone: its port with it */
	EXPECT_EQ(HV_STATUS_INVALID_PORT_ID, shv_expect_report64(v));
	shv_expect_done(v);
	close(sv[0]);
	shv_vm_free(vm);
}

TEST(stimers)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_stimer));
	uint64_t due, exp, prev;
	int i;

	due = shv_expect_report64(v);
	/* the one-shot timer disabled itself */
	EXPECT_EQ((uint64_t)SINT_TMR << 16, shv_expect_report64(v));
	EXPECT_EQ(0, shv_expect_report(v));		/* ISR empty */
	shv_expect_done(v);

	EXPECT_EQ(HVMSG_TIMER, log_at(vm, PCPU0_GPA, 0, LOG_TYPE));
	EXPECT_EQ(0, log_at(vm, PCPU0_GPA, 0, LOG_P0));	/* timer 0 */
	EXPECT_EQ(due, log_at(vm, PCPU0_GPA, 0, LOG_P1));
	EXPECT_LE(due, log_at(vm, PCPU0_GPA, 0, LOG_P2));	/* delivered */
	prev = 0;
	for (i = 1; i < 6; i++) {
		EXPECT_EQ(HVMSG_TIMER, log_at(vm, PCPU0_GPA, i, LOG_TYPE));
		EXPECT_EQ(1, log_at(vm, PCPU0_GPA, i, LOG_P0));	/* timer 1 */
		exp = log_at(vm, PCPU0_GPA, i, LOG_P1);
		if (prev)
			EXPECT_LE(prev + 10000, exp);
		EXPECT_LE(exp, log_at(vm, PCPU0_GPA, i, LOG_P2));
		prev = exp;
	}
	EXPECT_LE(4, g64(vm, PCPU0_GPA + PC_DIRECT));
	EXPECT_LE(10, stats(v).hv_stimer_expiries);
	shv_vm_free(vm);
}

TEST(selective_eoi)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_seoi));

	EXPECT_EQ(1u << (VEC_LO - 0x40), shv_expect_report(v));	/* ISR */
	EXPECT_EQ(1u << (VEC_HI - 0x80), shv_expect_report(v));
	EXPECT_EQ(1u << (VEC_MID - 0x40), shv_expect_report(v));	/* IRR */
	EXPECT_EQ(2, shv_expect_report(v));
	/* SEOI of the lower one: the higher stays in service */
	EXPECT_EQ(0, shv_expect_report(v));
	EXPECT_EQ(1u << (VEC_HI - 0x80), shv_expect_report(v));
	EXPECT_EQ(2, shv_expect_report(v));
	/* EOI of the higher one: the pending one is delivered */
	EXPECT_EQ(3, shv_expect_report(v));
	EXPECT_EQ(0, shv_expect_report(v));
	EXPECT_EQ(0, shv_expect_report(v));
	shv_expect_done(v);
	EXPECT_EQ(VEC_LO, log_at(vm, PCPU0_GPA, 0, LOG_TYPE));
	EXPECT_EQ(VEC_HI, log_at(vm, PCPU0_GPA, 1, LOG_TYPE));
	EXPECT_EQ(VEC_MID, log_at(vm, PCPU0_GPA, 2, LOG_TYPE));
	shv_vm_free(vm);
}

/* SHV_GET_MSRS / SHV_SET_MSRS of one MSR: the entries processed */
static int one_msr(struct shv_vcpu *v, bool set, uint32_t index,
		   uint64_t *data)
{
	struct {
		struct shv_msrs hdr;
		struct shv_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = index, .e.data = *data };
	int r = ioctl(v->fd, set ? SHV_SET_MSRS : SHV_GET_MSRS, &m);

	*data = m.e.data;
	return r;
}

TEST(queue_polling_msrs)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_queue));
	uint64_t d;
	int i;

	conn(vm, CONN_SELF_MSG, -1, 0, SINT_MSG, SHV_HV_CONN_MESSAGES);
	EXPECT_EQ(HV_STATUS_INSUFFICIENT_BUFFERS, shv_expect_report64(v));
	EXPECT_EQ(0, shv_expect_report(v));		/* masked: queued */
	EXPECT_EQ(0, shv_expect_report(v));
	EXPECT_EQ(15, shv_expect_report(v));		/* EOMs */
	for (i = 0; i < 16; i++) {
		EXPECT_EQ(i + 1, log_at(vm, PCPU0_GPA, i, LOG_P0));
		EXPECT_EQ(i < 15, log_at(vm, PCPU0_GPA, i, LOG_FLAGS));
	}
	EXPECT_EQ(2, shv_expect_report(v));		/* polled message */
	EXPECT_EQ(0x77, shv_expect_report64(v));
	EXPECT_EQ(16, shv_expect_report(v));		/* no interrupt */

	/* the runner sees and restores the registers */
	d = 0;
	EXPECT_EQ(1, one_msr(v, false, HV_SINT0 + SINT_MSG, &d));
	EXPECT_EQ(VEC_MSG | HV_SINT_MASKED | HV_SINT_POLLING, d);
	EXPECT_EQ(1, one_msr(v, false, HV_SIMP, &d));
	EXPECT_EQ(SIMP0_GPA | 1, d);
	EXPECT_EQ(1, one_msr(v, false, HV_SVERSION, &d));
	EXPECT_EQ(1, d);
	EXPECT_EQ(1, one_msr(v, true, HV_SVERSION, &d));
	d = 1;
	EXPECT_EQ(0, one_msr(v, true, HV_VP_INDEX, &d));	/* not ours */
	d = 0x12345;
	EXPECT_EQ(1, one_msr(v, true, HV_STIMER0_CNT + 6, &d));
	d = 0;
	EXPECT_EQ(1, one_msr(v, false, HV_STIMER0_CNT + 6, &d));
	EXPECT_EQ(0x12345, d);

	EXPECT_EQ(HCALL_GPA, shv_expect_report64(v));	/* disabled */
	shv_expect_exit(v, SHV_EXIT_HYPERCALL);
	EXPECT_EQ(0x4321, v->run->hypercall.nr);
	v->run->hypercall.ret = 5;
	EXPECT_EQ(5, shv_expect_report64(v));
	shv_expect_done(v);
	shv_vm_free(vm);
}

static int raise_sint(struct shv_vm *vm, uint32_t vcpu, uint32_t sint)
{
	struct shv_hv_sint s = { .vcpu = vcpu, .sint = sint };

	return ioctl(vm->fd, SHV_HV_RAISE_SINT, &s);
}

static int signal_flag(struct shv_vm *vm, uint32_t vcpu, uint32_t sint,
		       uint32_t flag)
{
	struct shv_hv_sint s = { .vcpu = vcpu, .sint = sint, .flag = flag };

	return ioctl(vm->fd, SHV_HV_SIGNAL_EVENT, &s);
}

static void user_msg(struct shv_hv_message *m, uint32_t vcpu, uint32_t sint,
		     uint32_t type, uint64_t p0)
{
	memset(m, 0, sizeof(*m));
	m->vcpu = vcpu;
	m->sint = sint;
	m->message_type = type;
	m->payload_size = 24;
	m->sender = 0x5e0de7;
	m->payload[0] = p0;
	m->payload[1] = ~p0;
	m->payload[2] = 0x5a5a;
}

/* SHV_HV_RAISE_SINT, SHV_HV_SIGNAL_EVENT, SHV_HV_POST_MESSAGE: bad input */
TEST(user_source_ioctls)
{
	struct shv_vm *plain = shv_vm_create(), *vm = hv_vm();
	struct shv_hv_sint s = { .sint = 1 };
	struct shv_vcpu *v0, *v1;
	struct shv_hv_message m;
	struct shv_memsnap snap;
	int i, j;

	/* no Hyper-V */
	EXPECT_EQ(-1, raise_sint(plain, 0, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, signal_flag(plain, 0, 0, 0));
	EXPECT_EQ(ENXIO, errno);
	user_msg(&m, 0, 0, 1, 1);
	EXPECT_EQ(-1, ioctl(plain->fd, SHV_HV_POST_MESSAGE, &m));
	EXPECT_EQ(ENXIO, errno);

	/* no vCPU 0 yet, then fields one by one */
	EXPECT_EQ(-1, raise_sint(vm, 0, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, signal_flag(vm, 0, 0, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
	EXPECT_EQ(ENOENT, errno);
	v0 = shv_vcpu_create(vm, 0);
	EXPECT_EQ(-1, raise_sint(vm, 1, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, raise_sint(vm, SHV_MAX_VCPUS, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, raise_sint(vm, 0, SHV_HV_SINTS));
	EXPECT_EQ(EINVAL, errno);
	s.flag = 1;
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_RAISE_SINT, &s));
	EXPECT_EQ(EINVAL, errno);			/* no flag to raise */
	s.flag = 0;
	s.reserved = 1;
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_RAISE_SINT, &s));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_SIGNAL_EVENT, &s));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, signal_flag(vm, 0, 0, SHV_HV_EVENT_FLAGS));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, signal_flag(vm, 0, SHV_HV_SINTS, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, signal_flag(vm, 0xffffffff, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_RAISE_SINT, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_SIGNAL_EVENT, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_POST_MESSAGE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, raise_sint(vm, 0, 15));
	EXPECT_EQ(0, signal_flag(vm, 0, 15, SHV_HV_EVENT_FLAGS - 1));

	for (i = 0; i < 8; i++) {
		user_msg(&m, 0, 2, 1, 1);
		switch (i) {
		case 0: m.message_type = 0; break;	/* HVMSG_NONE */
		case 1: m.payload_size = 241; break;
		case 2: m.message_flags = 1; break;	/* MessagePending */
		case 3: m.flags = 1; break;
		case 4: m.reserved = 1; break;
		case 5: m.reserved2 = 1; break;
		case 6: m.sint = SHV_HV_SINTS; break;
		case 7: m.vcpu = SHV_MAX_VCPUS; break;
		}
		EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m))
			TH_LOG("case %d", i);
		EXPECT_EQ(EINVAL, errno);
	}
	/* the queue of a SINT: SHV_HV_MSG_QUEUE, then -EAGAIN */
	user_msg(&m, 0, 2, 0x80000010, 1);	/* a hypervisor type is fine */
	m.payload_size = 240;
	for (i = 0; i < SHV_HV_MSG_QUEUE; i++)
		EXPECT_EQ(0, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
	EXPECT_EQ(-1, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
	EXPECT_EQ(EAGAIN, errno);
	m.sint = 3;				/* another SINT has room */
	EXPECT_EQ(0, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
	shv_vcpu_free(v0);
	shv_vm_free(vm);
	shv_vm_free(plain);

	/* queued messages and flags of a vCPU that never ran: freed */
	shv_memsnap(&snap);
	for (i = 0; i < 16; i++) {
		vm = hv_vm();
		v0 = shv_vcpu_create(vm, 0);
		v1 = shv_vcpu_create(vm, 1);
		user_msg(&m, 1, 4, 7, i);
		for (j = 0; j < SHV_HV_MSG_QUEUE; j++)
			ASSERT_EQ(0, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
		ASSERT_EQ(0, signal_flag(vm, 1, 4, 99));
		ASSERT_EQ(0, raise_sint(vm, 0, 4));
		shv_vcpu_free(v1);
		shv_vm_free(vm);
		shv_vcpu_free(v0);
	}
	EXPECT_EQ(0, shv_leak_check(&snap, 16));
}

/* the same, delivered: a guest takes what userspace sends */
TEST(user_sources)
{
	struct shv_vm *vm = hv_vm();
	struct shv_vcpu *v = hv_vcpu(vm, GADDR(ent_user));
	const uint8_t *slot = shv_gpa2hva(vm, SIMP0_GPA + SINT_MSG * 256);
	struct shv_vcpu_stats s;
	struct shv_hv_message m;
	uint64_t sender;
	int i;

	ASSERT_EQ(0, set_port(vm, CONN_PORT_EVT, SINT_EVT, SHV_HV_CONN_EVENTS,
			      40, 2));
	ASSERT_EQ(1, shv_expect_report(v));	/* interrupts off */
	user_msg(&m, 0, SINT_MSG, 0x33, 0x111);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
	user_msg(&m, 0, SINT_MSG, 0x34, 0x222);
	m.sender = 0xabcdef;
	ASSERT_EQ(0, ioctl(vm->fd, SHV_HV_POST_MESSAGE, &m));
	ASSERT_EQ(0, signal_flag(vm, 0, SINT_EVT, 7));
	ASSERT_EQ(0, signal_flag(vm, 0, SINT_EVT, 9));
	ASSERT_EQ(0, signal_flag(vm, 0, SINT_EVT, 9));	/* once */
	ASSERT_EQ(0, raise_sint(vm, 0, SINT_RAW));
	ASSERT_EQ(0, raise_sint(vm, 0, 6));	/* masked: nothing */
	EXPECT_EQ(1, shv_expect_report(v));	/* EOM for the second */
	EXPECT_EQ(2, shv_expect_report(v));	/* SCONTROL 0 */
	ASSERT_EQ(0, raise_sint(vm, 0, SINT_RAW));
	EXPECT_EQ(3, shv_expect_report(v));	/* dropped: still 3 logged */
	EXPECT_EQ(HV_STATUS_INVALID_PARAMETER, shv_expect_report64(v));
	EXPECT_EQ(0x30000000280ull, shv_expect_report64(v));
	shv_expect_done(v);

	/* messages first (0x52 above 0x41), in order, pending on the first */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0x33u + i, log_at(vm, PCPU0_GPA, i, LOG_TYPE));
		EXPECT_EQ(0x111u * (i + 1), log_at(vm, PCPU0_GPA, i, LOG_P0));
		EXPECT_EQ(~(0x111ull * (i + 1)),
			  log_at(vm, PCPU0_GPA, i, LOG_P1));
		EXPECT_EQ(0x5a5a, log_at(vm, PCPU0_GPA, i, LOG_P2));
		EXPECT_EQ(!i, log_at(vm, PCPU0_GPA, i, LOG_FLAGS));
	}
	EXPECT_EQ(VEC_LO, log_at(vm, PCPU0_GPA, 2, LOG_TYPE));
	memcpy(&sender, slot + 8, sizeof(sender));
	EXPECT_EQ(0xabcdef, sender);		/* passed on as given */
	EXPECT_EQ(24, slot[4]);			/* payload_size */
	s = stats(v);
	EXPECT_EQ(2, s.hv_msgs_delivered);
	EXPECT_EQ(4, s.hv_events);		/* 7, 9, 40, 41 */
	EXPECT_EQ(1, s.hv_eoms);
	shv_vm_free(vm);
}

/* without SHV_ENABLE_HYPERV: shv's leaves, and #GP for the MSRs */
TEST(disabled)
{
	struct shv_vm *vm = shv_vm_create();
	struct shv_vcpu *v;
	uint64_t d = 0;

	ASSERT_EQ(0, ioctl(vm->fd, SHV_CREATE_IRQCHIP, 0));
	v = shv_vcpu_create(vm, 0);
	EXPECT_EQ(0, one_msr(v, false, HV_SIMP, &d));
	EXPECT_EQ(0, one_msr(v, false, HV_GUEST_OS_ID, &d));
	EXPECT_EQ(0, one_msr(v, true, HV_GUEST_OS_ID, &d));
	shv_vm_free(vm);
}

TEST_HARNESS_MAIN
