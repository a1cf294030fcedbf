// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the Linux guest that linux_boot_test boots under shv-run: a
 * static program that checks what a Linux guest needs from the machine
 * and prints TAP ("ok N - ..."), then powers the machine off through ACPI
 * (exit status 0 of shv-run).  The kernel command line gives what to
 * expect: shv.cpus=N shv.mem=MIB.
 *
 * The checks load the shadow MMU the way real programs do: fork and exec
 * (new address spaces), copy-on-write, mprotect, threads on every CPU
 * mapping and unmapping memory (TLB shootdown IPIs), plus timers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MIB		(1024 * 1024)
#define THREAD_ROUNDS	200

static int tests, failed;
static long want_cpus, want_mem_mib;

static void ok(int good, const char *fmt, ...)
{
	va_list ap;

	tests++;
	if (!good)
		failed++;
	printf("%sok %d - ", good ? "" : "not ", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void read_cmdline(void)
{
	char buf[1024], *p;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	p = strstr(buf, "shv.cpus=");
	if (p)
		want_cpus = strtol(p + 9, NULL, 0);
	p = strstr(buf, "shv.mem=");
	if (p)
		want_mem_mib = strtol(p + 8, NULL, 0);
}

static void check_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	ok(n == want_cpus, "%ld CPUs online (expected %ld)", n, want_cpus);
}

static void check_memory(void)
{
	long total_kib = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %ld kB", &total_kib) == 1)
			break;
	if (f)
		fclose(f);
	/* the kernel keeps its image and reserved areas out of MemTotal */
	ok(total_kib > want_mem_mib * 1024 * 6 / 10 &&
	   total_kib <= want_mem_mib * 1024,
	   "MemTotal %ld KiB for %ld MiB of guest RAM", total_kib,
	   want_mem_mib);
}

/* children touch fresh memory and check a copy-on-write page */
static void check_forks(void)
{
	static char cow[4096 * 4];
	int i, bad = 0, st;

	memset(cow, 0x5a, sizeof(cow));
	for (i = 0; i < 50; i++) {
		pid_t p = fork();

		if (p == 0) {
			volatile char *m = malloc(MIB);
			int j, good = 1;

			for (j = 0; j < MIB; j += 4096)
				m[j] = (char)(j >> 12);
			for (j = 0; j < MIB; j += 4096)
				good &= m[j] == (char)(j >> 12);
			good &= cow[4096] == 0x5a;
			cow[4096] = (char)i;	/* the parent must not see it */
			_exit(good ? 0 : 1);
		}
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			bad++;
	}
	ok(!bad && cow[4096] == 0x5a,
	   "50 forks touching 1 MiB each, copy-on-write intact (%d bad)", bad);
}

/* a write to a page made read-only kills a child with SIGSEGV */
static void check_mprotect(void)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t c;
	int st = 0;

	if (p == MAP_FAILED) {
		ok(0, "mprotect: mmap failed");
		return;
	}
	p[0] = 1;
	mprotect(p, 4096, PROT_READ);
	c = fork();
	if (c == 0) {
		*(volatile char *)p = 2;
		_exit(0);
	}
	waitpid(c, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && p[0] == 1,
	   "a write to a read-only page faults (status 0x%x)", st);
	mprotect(p, 4096, PROT_READ | PROT_WRITE);
	p[0] = 3;
	ok(p[0] == 3, "the page is writable again after mprotect");
	munmap(p, 4096);
}

static volatile int go;
static long thread_bad;

static void *mapper(void *arg)
{
	long id = (long)arg, bad = 0;
	int r;

	while (!go)
		;
	for (r = 0; r < THREAD_ROUNDS; r++) {
		unsigned int *m = mmap(NULL, 16 * 4096,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int k;

		if (m == MAP_FAILED) {
			bad++;
			continue;
		}
		for (k = 0; k < 16; k++)
			m[k * 1024] = id << 16 | r << 4 | k;
		for (k = 0; k < 16; k++)
			bad += m[k * 1024] != (unsigned int)(id << 16 | r << 4 | k);
		munmap(m, 16 * 4096);
	}
	__atomic_add_fetch(&thread_bad, bad, __ATOMIC_SEQ_CST);
	return NULL;
}

/* threads on every CPU map, write and unmap: TLB shootdowns */
static void check_threads(void)
{
	long n = want_cpus > 1 ? want_cpus * 2 : 2, i;
	pthread_t t[64];

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, mapper, (void *)i);
	go = 1;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	ok(thread_bad == 0, "%ld threads mapping and unmapping %d times (%ld bad)",
	   n, THREAD_ROUNDS, thread_bad);
}

static void check_file(void)
{
	const size_t len = 4 * MIB;
	unsigned char *a = malloc(len), *b = malloc(len);
	size_t i;
	int fd, good;

	for (i = 0; i < len; i++)
		a[i] = (unsigned char)(i * 2654435761u >> 13);
	fd = open("/tmp.dat", O_CREAT | O_RDWR | O_TRUNC, 0600);
	good = fd >= 0 && write(fd, a, len) == (ssize_t)len &&
	       lseek(fd, 0, SEEK_SET) == 0 &&
	       read(fd, b, len) == (ssize_t)len && !memcmp(a, b, len);
	if (fd >= 0)
		close(fd);
	unlink("/tmp.dat");
	ok(good, "4 MiB written to a file and read back");
	free(a);
	free(b);
}

static void check_exec(const char *self)
{
	pid_t c = fork();
	int st = 0;

	if (c == 0) {
		execl(self, self, "exit42", (char *)NULL);
		_exit(1);
	}
	waitpid(c, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 42, "exec of a new program (status 0x%x)",
	   st);
}

static void check_time(void)
{
	struct timespec a, b, d = { 0, 100 * 1000 * 1000 };
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &a);
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	/* a loaded, emulated host may be slow, never early */
	ok(ms >= 100 && ms < 20000, "a 100 ms sleep took %ld ms", ms);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exit42"))
		return 42;
	/* no /dev/console in the archive: devtmpfs has one */
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	if (access("/dev/console", F_OK) == 0) {
		int fd = open("/dev/console", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	mount("proc", "/proc", "proc", 0, NULL);
	read_cmdline();
	printf("guest-init: checking\n");
	check_cpus();
	check_memory();
	check_forks();
	check_mprotect();
	check_threads();
	check_file();
	check_exec(argv[0]);
	check_time();
	printf("guest-init: %d passed, %d failed\n", tests - failed, failed);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	/* not reached unless the power-off failed */
	printf("guest-init: power-off failed: %s\n", strerror(errno));
	return 1;
}
