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
#include "pc.h"
#include "virtio.h"
#include "vm.h"

#define DEFAULT_MEM_MIB	128
#define MAX_MEM		GUEST_RAM_MAX

enum irqchip_opt {
	IRQCHIP_AUTO,		/* on for the PC machine, off for bare */
	IRQCHIP_ON,
	IRQCHIP_OFF,
};

struct options {
	const struct accel_ops *accel;
	unsigned int mmu;
	u64 mem;		/* bytes */
	unsigned int smp;
	enum machine_type machine;
	bool machine_set;
	enum irqchip_opt irqchip;
	bool hyperv;
	bool pin;
	struct boot_opts boot;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: shv-run [options] --kernel FILE [--append CMDLINE] [--initrd FILES]\n"
"       shv-run [options] --flat FILE@ADDR [--flat FILE@ADDR...]\n"
"                         [--mode real|prot32|long64] [--entry ADDR]\n"
"\n"
"Run a guest on shv.ko (/dev/shv) or KVM (/dev/kvm).\n"
"\n"
"  --accel shv|kvm      accelerator (default shv)\n"
"  --mmu default|nested|shadow\n"
"                       shv only: the VM's MMU (default: module's choice)\n"
"  -m, --mem SIZE       guest RAM at guest-physical 0: MiB, or with a\n"
"                       K/M/G suffix (default %d MiB, at most %llu MiB)\n"
"  --smp N              number of vCPUs (default 1); QEMU's cpus=N works\n"
"  --machine pc|bare    the machine (default: pc with --kernel, bare with\n"
"                       --flat); see Documentation/machine.rst\n"
"  --irqchip, --no-irqchip\n"
"                       in-kernel LAPIC/IOAPIC/PIC/PIT (default: on for\n"
"                       the pc machine, off for bare)\n"
"  --hyperv             the Hyper-V guest interface: hypercall page, VP\n"
"                       index, reference time, SynIC and synthetic timers\n"
"                       (shv's in-kernel SynIC, or KVM's); needs the irqchip;\n"
"                       on the pc machine also QEMU's hyperv-testdev (0x3000)\n"
"  --pin                pin vCPU n to the n-th CPU shv-run may use (modulo\n"
"                       their number), for benchmarks\n"
"  --disk PATH[,format=raw|vhd][,cipher=SPEC,keyfile=FILE|keyid=DESC[,keysize=N]]\n"
"             [,sector=512|4096][,ro]\n"
"                       a virtio-blk disk (pc machine, repeatable) on the\n"
"                       image PATH (raw; vhd: fixed or dynamic, with\n"
"                       cipher=); with cipher= (--accel shv only)\n"
"                       encrypted by shv.ko's plug-in SPEC (e.g.\n"
"                       aes-xts-plain64) with the key in FILE or the\n"
"                       keyring key DESC ('logon:NAME', N bytes)\n"
"  --kernel FILE        a Linux bzImage, or a Multiboot v1 kernel (ELF32/\n"
"                       ELF64 or a.out kludge)\n"
"  --append CMDLINE     its command line (multiboot: after the file name)\n"
"  --initrd FILES       Linux: the initramfs; multiboot: modules, as\n"
"                       QEMU's -initrd: a comma-separated list of\n"
"                       'FILE [ARGS]' (',,' is a comma)\n"
"  --module 'FILE [ARGS]'\n"
"                       one more multiboot module\n"
"  --flat FILE@ADDR     load a raw binary at guest-physical ADDR\n"
"  --mode MODE          start mode for --flat (default real):\n"
"                         real    CS:IP = (ADDR & 0xf0000)>>4 : ADDR & 0xffff\n"
"                         prot32  flat 32-bit protected mode, paging off\n"
"                         long64  64-bit mode, low 4 GiB identity-mapped\n"
"  --entry ADDR         entry point (default: the first --flat ADDR)\n"
"  -v, --verbose        log setup, unclaimed I/O and more\n"
"  -h, --help           this text\n"
"\n"
"QEMU's spellings -kernel, -append, -initrd, -smp, -m and -accel work too.\n"
"\n"
"With --flat every vCPU starts at the entry with RBX = its index and\n"
"SP = 0x7000 - index * 0x80.  With --kernel vCPU 0 enters the kernel;\n"
"with an irqchip the others wait for INIT/SIPI, without one they are\n"
"parked.  The pc machine: 16550A UART at 0x3f8 (IRQ 4, stdio), fw_cfg,\n"
"ACPI and MP tables, CMOS/RTC, ACPI PM timer, PCI with pci-testdev and\n"
"the --disk devices, pc-testdev, port 0x92, debug-exit at 0xf4, POST\n"
"port 0x80.  The bare machine: the UART, debug-exit and the POST port.\n"
"Both: the exit counter at 0xe10 (a read gives the exits of all vCPUs so\n"
"far).\n"
"\n"
"Exit status: (v << 1) | 1 when the guest writes v to port 0xf4;\n"
"0 once every vCPU halted (no irqchip) or on ACPI power-off; 1 for bad\n"
"options or images; 2 on a guest triple fault or reset; 3 on an\n"
"accelerator or VM error; 128+N on signal N.\n",
		DEFAULT_MEM_MIB, (unsigned long long)(MAX_MEM >> 20));
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
	OPT_INITRD,
	OPT_MODULE,
	OPT_MACHINE,
	OPT_IRQCHIP,
	OPT_NO_IRQCHIP,
	OPT_HYPERV,
	OPT_PIN,
	OPT_DISK,
};

static const struct option long_opts[] = {
	{ "accel",	required_argument, NULL, OPT_ACCEL },
	{ "mmu",	required_argument, NULL, OPT_MMU },
	{ "mem",	required_argument, NULL, 'm' },
	{ "memory",	required_argument, NULL, 'm' },
	{ "smp",	required_argument, NULL, OPT_SMP },
	{ "flat",	required_argument, NULL, OPT_FLAT },
	{ "mode",	required_argument, NULL, OPT_MODE },
	{ "entry",	required_argument, NULL, OPT_ENTRY },
	{ "kernel",	required_argument, NULL, OPT_KERNEL },
	{ "append",	required_argument, NULL, OPT_APPEND },
	{ "initrd",	required_argument, NULL, OPT_INITRD },
	{ "module",	required_argument, NULL, OPT_MODULE },
	{ "machine",	required_argument, NULL, OPT_MACHINE },
	{ "irqchip",	no_argument,	   NULL, OPT_IRQCHIP },
	{ "no-irqchip",	no_argument,	   NULL, OPT_NO_IRQCHIP },
	{ "hyperv",	no_argument,	   NULL, OPT_HYPERV },
	{ "pin",	no_argument,	   NULL, OPT_PIN },
	{ "disk",	required_argument, NULL, OPT_DISK },
	{ "verbose",	no_argument,	   NULL, 'v' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* QEMU's single-dash long options, rewritten to ours before getopt */
static const char *const qemu_spellings[] = {
	"-kernel", "-append", "-initrd", "-smp", "-accel", "-machine",
};

static void rewrite_qemu_spellings(int argc, char **argv)
{
	static char buf[ARRAY_SIZE(qemu_spellings)][16];
	int i;
	unsigned int j;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		for (j = 0; j < ARRAY_SIZE(qemu_spellings); j++) {
			if (strcmp(argv[i], qemu_spellings[j]))
				continue;
			snprintf(buf[j], sizeof(buf[j]), "-%s",
				 qemu_spellings[j]);
			argv[i] = buf[j];
			break;
		}
	}
}

/* "512", "512M", "1G", "65536K": MiB without a suffix, as QEMU's -m */
static int parse_mem_size(const char *s, u64 *bytes)
{
	unsigned long long v;
	u64 shift = 20;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return -1;
		}
		if (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
			return -1;
	}
	if (v > (~0ULL >> shift))
		return -1;
	*bytes = (u64)v << shift;
	return 0;
}

/* "4" or QEMU's "cpus=4[,maxcpus=..,sockets=..]" (only cpus counts) */
static int parse_smp(const char *s, u64 *n)
{
	char buf[64], *tok, *save;

	if (!parse_u64(s, n))
		return 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "cpus=", 5)) {
			if (parse_u64(tok + 5, n))
				return -1;
		} else if (tok == buf && !parse_u64(tok, n)) {
			continue;
		}
		/* maxcpus, sockets, cores, threads: accepted, ignored */
	}
	return *n ? 0 : -1;
}

/* QEMU's -initrd list: "a args,b" -> modules "a args" and "b"; ",," = ',' */
static int add_initrd_list(struct boot_opts *b, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = 0;
		char *m = malloc(strlen(p) + 1);

		if (!m) {
			pr_err("out of memory");
			return -1;
		}
		for (; *p; p++) {
			if (*p == ',' && p[1] == ',') {
				m[len++] = ',';
				p++;
			} else if (*p == ',') {
				p++;
				break;
			} else {
				m[len++] = *p;
			}
		}
		m[len] = 0;
		if (!len) {
			free(m);
			continue;
		}
		if (b->nr_modules == MAX_MB_MODULES) {
			pr_err("--initrd/--module: at most %d modules",
			       MAX_MB_MODULES);
			free(m);
			return -1;
		}
		b->modules[b->nr_modules++] = m;
	}
	return 0;
}

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
	o->mem = (u64)DEFAULT_MEM_MIB << 20;
	o->smp = 1;

	rewrite_qemu_spellings(argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ACCEL:
			/* QEMU allows "kvm,thread=..." */
			optarg[strcspn(optarg, ",")] = 0;
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
			/* QEMU's "size=512M" form too */
			if (!strncmp(optarg, "size=", 5))
				optarg += 5;
			if (parse_mem_size(optarg, &v) || v < SZ_1M ||
			    v > MAX_MEM || (v & 0xfff)) {
				pr_err("-m: memory must be 1 MiB..%llu MiB in whole pages, not '%s'",
				       (unsigned long long)(MAX_MEM >> 20),
				       optarg);
				return bad_option();
			}
			o->mem = v;
			break;
		case OPT_SMP:
			if (parse_smp(optarg, &v) || !v || v > SHV_MAX_VCPUS) {
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
		case OPT_INITRD:
			if (add_initrd_list(b, optarg))
				return bad_option();
			break;
		case OPT_MODULE:
			if (!*optarg || b->nr_modules == MAX_MB_MODULES) {
				pr_err("--module: %s", *optarg ?
				       "too many modules" : "empty argument");
				return bad_option();
			}
			b->modules[b->nr_modules++] = optarg;
			break;
		case OPT_MACHINE:
			/* QEMU's "pc,accel=kvm" style: the type comes first */
			optarg[strcspn(optarg, ",")] = 0;
			if (!strcmp(optarg, "pc") || !strcmp(optarg, "pc-i440fx")) {
				o->machine = MACHINE_PC;
			} else if (!strcmp(optarg, "bare") ||
				   !strcmp(optarg, "none")) {
				o->machine = MACHINE_BARE;
			} else {
				pr_err("--machine: expected pc or bare, not '%s'",
				       optarg);
				return bad_option();
			}
			o->machine_set = true;
			break;
		case OPT_IRQCHIP:
			o->irqchip = IRQCHIP_ON;
			break;
		case OPT_NO_IRQCHIP:
			o->irqchip = IRQCHIP_OFF;
			break;
		case OPT_HYPERV:
			o->hyperv = true;
			break;
		case OPT_PIN:
			o->pin = true;
			break;
		case OPT_DISK:
			if (disk_parse_option(optarg))
				return bad_option();
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
	if ((b->append || b->nr_modules) && !b->kernel) {
		pr_err("--append, --initrd and --module need --kernel");
		return bad_option();
	}
	if (o->mmu && o->accel != &accel_shv_ops) {
		pr_err("--mmu is only meaningful with --accel shv");
		return bad_option();
	}
	if (!o->machine_set)
		o->machine = b->kernel ? MACHINE_PC : MACHINE_BARE;
	if (o->hyperv && (o->irqchip == IRQCHIP_OFF ||
			  (o->irqchip == IRQCHIP_AUTO &&
			   o->machine != MACHINE_PC))) {
		pr_err("--hyperv needs the in-kernel irqchip (--irqchip)");
		return bad_option();
	}
	if (disk_check_options(o->accel, o->machine == MACHINE_PC))
		return bad_option();
	if (o->machine == MACHINE_PC && o->mem <= SZ_1M) {
		pr_err("the pc machine needs more than 1 MiB of RAM");
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
	/*
	 * With an irqchip a multiboot machine's APs are as on real
	 * hardware: in their reset state, waiting in the kernel for
	 * INIT/SIPI.  Their threads run from the start.
	 */
	if (b->bsp_only && v->idx && vm->accel.irqchip) {
		v->runnable = true;
		pr_debug("vcpu %u: waiting for INIT/SIPI", v->idx);
		return 0;
	}
	if (ops->get_sregs(&v->acc, &sregs))
		return -1;
	if (cpu_mode_setup(b->mode, b->entry, v->idx, &regs, &sregs))
		return -1;
	if (v->idx == 0 && b->bsp_regs) {
		regs.rax = b->bsp_rax;
		regs.rbx = b->bsp_rbx;
		regs.rsi = b->bsp_rsi;
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
	if (o->irqchip == IRQCHIP_ON ||
	    (o->irqchip == IRQCHIP_AUTO && o->machine == MACHINE_PC)) {
		if (!ops->create_irqchip) {
			pr_err("the %s accelerator has no in-kernel irqchip",
			       ops->name);
			return -1;
		}
		if (ops->create_irqchip(&vm->accel))
			return -1;
		vm->accel.irqchip = true;
		pr_debug("%s: in-kernel irqchip created", ops->name);
	}
	if (o->hyperv) {
		if (!ops->enable_hyperv) {
			pr_err("the %s accelerator has no Hyper-V interface",
			       ops->name);
			return -1;
		}
		if (ops->enable_hyperv(&vm->accel))
			return -1;
		vm->accel.hyperv = true;
		pr_debug("%s: Hyper-V interface enabled", ops->name);
	}
	vm->machine = o->machine;
	vm->smp = o->smp;
	vm->pin = o->pin;
	vm->cmdline = o->boot.append ? o->boot.append : "";
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

/* a Linux bzImage, a multiboot kernel, or flat binaries */
static int load_images(struct guest_mem *m, const struct boot_opts *o,
		       struct boot *b)
{
	if (!o->kernel)
		return loader_flat(m, o, b);
	if (loader_is_linux(o->kernel))
		return loader_linux(m, o, b);
	return loader_multiboot(m, o, b);
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
	if (guest_mem_alloc(&vm.mem, o.mem))
		return STATUS_USAGE;
	if ((o.machine == MACHINE_PC &&
	     pc_firmware_build(&vm.mem, o.smp)) ||
	    load_images(&vm.mem, &o.boot, &boot)) {
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
