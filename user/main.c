// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: a minimal virtual machine runner for shv.ko (and KVM).
 *
 * Order of business: parse options, load and validate the images into
 * freshly allocated guest RAM (no accelerator touched yet, so image
 * errors are cheap and clear), then open the accelerator, map RAM as
 * slot 0 at guest-physical 0, bring up the devices, create the vCPUs,
 * run one thread per runnable vCPU and wait for the end (see vm.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "loader.h"
#include "vm.h"

#define DEFAULT_MEM_MIB	128
#define MAX_MEM_MIB	(GUEST_RAM_MAX >> 20)

struct options {
	const struct accel_ops *accel;
	unsigned int mmu;
	u64 mem_mib;
	unsigned int smp;
	struct boot_opts boot;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: shv-run [options] --flat FILE@ADDR [--flat FILE@ADDR...]\n"
"                         [--mode real|prot32|long64] [--entry ADDR]\n"
"       shv-run [options] --kernel FILE [--append CMDLINE]\n"
"\n"
"Run a guest on shv.ko (/dev/shv) or KVM (/dev/kvm).\n"
"\n"
"  --accel shv|kvm      accelerator (default shv)\n"
"  --mmu default|nested|shadow\n"
"                       shv only: the VM's MMU (default: module's choice)\n"
"  -m, --memory MIB     guest RAM in MiB at guest-physical 0 (default %d,\n"
"                       at most %llu)\n"
"  --smp N              number of vCPUs (default 1)\n"
"  --flat FILE@ADDR     load a raw binary at guest-physical ADDR\n"
"  --mode MODE          start mode for --flat (default real):\n"
"                         real    CS:IP = (ADDR & 0xf0000)>>4 : ADDR & 0xffff\n"
"                         prot32  flat 32-bit protected mode, paging off\n"
"                         long64  64-bit mode, low 4 GiB identity-mapped\n"
"  --entry ADDR         entry point (default: the first --flat ADDR)\n"
"  --kernel FILE        a Multiboot v1 kernel (ELF32/ELF64 or a.out kludge)\n"
"  --append CMDLINE     the multiboot command line\n"
"  -v, --verbose        log setup, unclaimed I/O and more\n"
"  -h, --help           this text\n"
"\n"
"With --flat every vCPU starts at the entry with RBX = its index and\n"
"SP = 0x7000 - index * 0x80.  With --kernel only vCPU 0 runs; the others\n"
"are created and parked.  Devices: 16550A UART at 0x3f8 (stdio),\n"
"debug-exit at 0xf4, POST port 0x80.\n"
"\n"
"Exit status: (v << 1) | 1 when the guest writes v to port 0xf4;\n"
"0 once every vCPU halted; 1 for bad options or images; 2 on a guest\n"
"triple fault; 3 on an accelerator or VM error; 128+N on signal N.\n",
		DEFAULT_MEM_MIB, (unsigned long long)MAX_MEM_MIB);
}

enum {
	OPT_ACCEL = 256,
	OPT_MMU,
	OPT_SMP,
	OPT_FLAT,
	OPT_MODE,
	OPT_ENTRY,
	OPT_KERNEL,
	OPT_APPEND,
};

static const struct option long_opts[] = {
	{ "accel",	required_argument, NULL, OPT_ACCEL },
	{ "mmu",	required_argument, NULL, OPT_MMU },
	{ "memory",	required_argument, NULL, 'm' },
	{ "smp",	required_argument, NULL, OPT_SMP },
	{ "flat",	required_argument, NULL, OPT_FLAT },
	{ "mode",	required_argument, NULL, OPT_MODE },
	{ "entry",	required_argument, NULL, OPT_ENTRY },
	{ "kernel",	required_argument, NULL, OPT_KERNEL },
	{ "append",	required_argument, NULL, OPT_APPEND },
	{ "verbose",	no_argument,	   NULL, 'v' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad_option(void)
{
	fprintf(stderr, "Try 'shv-run --help' for more information.\n");
	return -1;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	struct boot_opts *b = &o->boot;
	u64 v;
	int c;

	memset(o, 0, sizeof(*o));
	o->accel = &accel_shv_ops;
	o->mem_mib = DEFAULT_MEM_MIB;
	o->smp = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ACCEL:
			o->accel = accel_find(optarg);
			if (!o->accel) {
				pr_err("--accel: unknown accelerator '%s' (shv or kvm)",
				       optarg);
				return bad_option();
			}
			break;
		case OPT_MMU:
			if (!strcmp(optarg, "default")) {
				o->mmu = SHV_VM_MMU_DEFAULT;
			} else if (!strcmp(optarg, "nested")) {
				o->mmu = SHV_VM_MMU_NESTED;
			} else if (!strcmp(optarg, "shadow")) {
				o->mmu = SHV_VM_MMU_SHADOW;
			} else {
				pr_err("--mmu: expected default, nested or shadow, not '%s'",
				       optarg);
				return bad_option();
			}
			break;
		case 'm':
			if (parse_u64(optarg, &v) || !v || v > MAX_MEM_MIB) {
				pr_err("-m: memory must be 1..%llu MiB, not '%s'",
				       (unsigned long long)MAX_MEM_MIB, optarg);
				return bad_option();
			}
			o->mem_mib = v;
			break;
		case OPT_SMP:
			if (parse_u64(optarg, &v) || !v || v > SHV_MAX_VCPUS) {
				pr_err("--smp: vCPU count must be 1..%d, not '%s'",
				       SHV_MAX_VCPUS, optarg);
				return bad_option();
			}
			o->smp = v;
			break;
		case OPT_FLAT:
			if (b->nr_flat == MAX_FLAT_IMAGES) {
				pr_err("--flat: at most %d images",
				       MAX_FLAT_IMAGES);
				return bad_option();
			}
			if (flat_parse_arg(optarg, &b->flat[b->nr_flat]))
				return bad_option();
			b->nr_flat++;
			break;
		case OPT_MODE:
			if (cpu_mode_parse(optarg, &b->mode)) {
				pr_err("--mode: expected real, prot32 or long64, not '%s'",
				       optarg);
				return bad_option();
			}
			b->mode_set = true;
			break;
		case OPT_ENTRY:
			if (parse_u64(optarg, &b->entry)) {
				pr_err("--entry: bad address '%s'", optarg);
				return bad_option();
			}
			b->entry_set = true;
			break;
		case OPT_KERNEL:
			if (b->kernel) {
				pr_err("--kernel given twice");
				return bad_option();
			}
			b->kernel = optarg;
			break;
		case OPT_APPEND:
			b->append = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			pr_err("option '%s' needs an argument", argv[optind - 1]);
			return bad_option();
		default:
			pr_err("unknown option '%s'", argv[optind - 1]);
			return bad_option();
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return bad_option();
	}
	if (!b->nr_flat && !b->kernel) {
		pr_err("nothing to run: give --flat FILE@ADDR or --kernel FILE");
		return bad_option();
	}
	if (b->nr_flat && b->kernel) {
		pr_err("--flat and --kernel cannot be combined");
		return bad_option();
	}
	if (b->kernel && (b->mode_set || b->entry_set)) {
		pr_err("--mode and --entry apply to --flat only (multiboot fixes both)");
		return bad_option();
	}
	if (b->append && !b->kernel) {
		pr_err("--append needs --kernel");
		return bad_option();
	}
	if (o->mmu && o->accel != &accel_shv_ops) {
		pr_err("--mmu is only meaningful with --accel shv");
		return bad_option();
	}
	return 0;
}

/*
 * A closed stdin/stdout/stderr would be reused by the accelerator's fds
 * and the UART would then write guest output into them: fill the gaps.
 */
static int ensure_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			return -1;
	}
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig;	/* only there to interrupt the RUN ioctl */
}

static int setup_signals(sigset_t *wait_set)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the RUN ioctl must return EINTR */
	if (sigaction(SIG_VCPU_KICK, &sa, NULL)) {
		pr_errno("sigaction");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);

	/* vCPU threads inherit this mask; only the main thread waits */
	sigemptyset(wait_set);
	sigaddset(wait_set, SIGINT);
	sigaddset(wait_set, SIGTERM);
	sigaddset(wait_set, SIG_MAIN_WAKE);
	if (pthread_sigmask(SIG_BLOCK, wait_set, NULL)) {
		pr_err("pthread_sigmask failed");
		return -1;
	}
	return 0;
}

static int vcpu_init(struct vm *vm, struct vcpu *v, const struct boot *b)
{
	const struct accel_ops *ops = vm->accel.ops;
	struct shv_sregs sregs;
	struct shv_regs regs;

	if (ops->create_vcpu(&vm->accel, v->idx, &v->acc))
		return -1;
	v->created = true;
	if (ops->set_cpuid && ops->set_cpuid(&v->acc))
		return -1;
	if (ops->get_sregs(&v->acc, &sregs))
		return -1;
	if (cpu_mode_setup(b->mode, b->entry, v->idx, &regs, &sregs))
		return -1;
	if (v->idx == 0 && b->bsp_regs) {
		regs.rax = b->bsp_rax;
		regs.rbx = b->bsp_rbx;
	}
	if (ops->set_sregs(&v->acc, &sregs) || ops->set_regs(&v->acc, &regs))
		return -1;
	v->runnable = !b->bsp_only || v->idx == 0;
	pr_debug("vcpu %u: %s mode, entry 0x%llx, rsp 0x%llx%s", v->idx,
		 cpu_mode_name(b->mode), (unsigned long long)b->entry,
		 (unsigned long long)regs.rsp,
		 v->runnable ? "" : " (parked)");
	return 0;
}

static int vm_setup(struct vm *vm, const struct options *o,
		    const struct boot *b)
{
	const struct accel_ops *ops = o->accel;
	unsigned int i;
	int max;

	vm->accel.ops = ops;
	vm->accel.sys_fd = -1;
	vm->accel.vm_fd = -1;
	if (ops->open(&vm->accel))
		return -1;
	if (ops->create_vm(&vm->accel, o->mmu))
		return -1;
	max = ops->max_vcpus(&vm->accel);
	if (o->smp > (unsigned int)max) {
		pr_err("--smp %u: the %s accelerator allows at most %d vCPUs",
		       o->smp, ops->name, max);
		return -1;
	}
	if (ops->set_memslot(&vm->accel, 0, 0, vm->mem.size, vm->mem.hva,
			     false))
		return -1;
	if (devices_init(vm))
		return -1;
	devices_reset();

	vm->vcpus = calloc(o->smp, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		pr_err("out of memory");
		return -1;
	}
	vm->nr_vcpus = o->smp;
	for (i = 0; i < o->smp; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].idx = i;
		vm->vcpus[i].acc.fd = -1;
		if (vcpu_init(vm, &vm->vcpus[i], b))
			return -1;
	}
	return 0;
}

static void vm_teardown(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].created)
			vm->accel.ops->destroy_vcpu(&vm->vcpus[i].acc);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	devices_teardown();
	if (vm->accel.ops)
		vm->accel.ops->close(&vm->accel);
	guest_mem_free(&vm->mem);
}

static void vm_wait(struct vm *vm, const sigset_t *wait_set)
{
	bool done;
	int sig;

	for (;;) {
		pthread_mutex_lock(&vm->lock);
		done = vm->stopping || !vm->nr_running;
		pthread_mutex_unlock(&vm->lock);
		if (done)
			break;
		if (sigwait(wait_set, &sig))
			continue;
		if (sig == SIGINT || sig == SIGTERM) {
			pr_info("stopping on %s", sig == SIGINT ? "SIGINT" :
				"SIGTERM");
			vm_request_exit(vm, 128 + sig);
		}
	}
}

int main(int argc, char **argv)
{
	static struct vm vm = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct options o;
	sigset_t wait_set;
	struct boot boot;
	unsigned int i;
	int status;

	if (ensure_std_fds())
		return STATUS_USAGE;
	if (parse_options(argc, argv, &o))
		return STATUS_USAGE;

	/* images first: every mistake in them is reported before setup */
	if (guest_mem_alloc(&vm.mem, o.mem_mib << 20))
		return STATUS_USAGE;
	if (o.boot.kernel ? loader_multiboot(&vm.mem, &o.boot, &boot) :
			    loader_flat(&vm.mem, &o.boot, &boot)) {
		guest_mem_free(&vm.mem);
		return STATUS_USAGE;
	}

	vm.main_thread = pthread_self();
	if (setup_signals(&wait_set) || vm_setup(&vm, &o, &boot)) {
		vm_teardown(&vm);
		return STATUS_VM_ERROR;
	}

	devices_power_up();
	for (i = 0; i < vm.nr_vcpus; i++) {
		if (!vm.vcpus[i].runnable)
			continue;
		if (vcpu_start(&vm.vcpus[i])) {
			vm_request_exit(&vm, STATUS_VM_ERROR);
			break;
		}
	}
	vm_wait(&vm, &wait_set);
	for (i = 0; i < vm.nr_vcpus; i++)
		if (vm.vcpus[i].started)
			pthread_join(vm.vcpus[i].thread, NULL);
	devices_power_down();

	status = vm.stopping ? vm.status : 0;
	pr_debug("exit status %d", status);
	vm_teardown(&vm);
	return status;
}
