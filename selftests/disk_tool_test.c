// SPDX-License-Identifier: GPL-2.0
/*
 * disk_tool_test: shv-disk, the image tool (Documentation/shv-disk.rst).
 * Images it encrypts are opened by dm-crypt (cryptsetup plain mode) and by
 * shv's plug-ins (SHV_DISK_ATTACH, SHV_DISK_IO) and read back the same
 * plaintext, and the other way round; re-keying, also killed at every
 * step of a chunk and by a SIGKILL from outside, then resumed; raw <-> VHD
 * conversions; check finding damaged VHDs; bad arguments.
 *
 * The tool is $SHV_DISK, or /shv-disk (the rig), or ../user/tools/shv-disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_alg.h>
#include <linux/keyctl.h>

#include "kselftest_harness.h"
#include "shv_util.h"

#define XTS	"aes-xts-plain64"
#define ESSIV	"aes-cbc-essiv:sha256"
#define DIR	"/tmp/shv-disk-test"
#define IMG	DIR "/disk.img"
#define IMG2	DIR "/disk2.img"
#define VHD	DIR "/disk.vhd"
#define KEY1	DIR "/key1"
#define KEY2	DIR "/key2"
#define JOURNAL	IMG ".shv-reencrypt"

#define MEM_GPA	0x100000ull	/* 1 MiB of guest memory for the kernel */
#define MEM_LEN	(1u << 20)

static char out[1 << 16];	/* the last command's stdout and stderr */

static const char *tool(void)
{
	static const char *const paths[] = {
		"/shv-disk", "../user/tools/shv-disk", "../../user/tools/shv-disk",
	};
	const char *e = getenv("SHV_DISK");
	unsigned int i;

	if (e && *e)
		return e;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

/*
 * Run shv-disk with the arguments (NULL-terminated), the environment
 * entry env (or NULL) added; out gets its output.  Returns the exit status,
 * or 128 + the signal that killed it.
 */
static int run_env(const char *env, const char *arg, ...)
{
	const char *argv[40];
	int pfd[2], st, n = 0;
	size_t len = 0;
	va_list ap;
	pid_t pid;

	argv[n++] = tool();
	va_start(ap, arg);
	for (; arg && n < 39; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	SHV_CHECK(argv[0], "no shv-disk");
	SHV_CHECK(!pipe(pfd), "pipe");
	pid = fork();
	SHV_CHECK(pid >= 0, "fork");
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		if (env)
			putenv((char *)env);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], out + len, sizeof(out) - 1 - len);

		if (r <= 0)
			break;
		len += r;
	}
	out[len] = 0;
	close(pfd[0]);
	SHV_CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define run(...) run_env(NULL, __VA_ARGS__, NULL)

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	SHV_CHECK(fd >= 0, "create %s", path);
	SHV_CHECK(write(fd, buf, len) == (ssize_t)len, "write %s", path);
	close(fd);
}

static size_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? (size_t)-1 : (size_t)st.st_size;
}

static uint8_t *read_all(const char *path, size_t *lenp)
{
	size_t len = file_size(path);
	uint8_t *buf;
	int fd;

	SHV_CHECK(len != (size_t)-1, "stat %s", path);
	buf = malloc(len + 1);
	fd = open(path, O_RDONLY);
	SHV_CHECK(buf && fd >= 0, "open %s", path);
	SHV_CHECK(pread(fd, buf, len, 0) == (ssize_t)len, "read %s", path);
	close(fd);
	if (lenp)
		*lenp = len;
	return buf;
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *p = read_all(from, &len);

	write_file(to, p, len);
	free(p);
}

static void patch_file(const char *path, off_t off, const void *p,
		       size_t len)
{
	int fd = open(path, O_WRONLY);

	SHV_CHECK(fd >= 0 && pwrite(fd, p, len, off) == (ssize_t)len,
		  "patch %s", path);
	close(fd);
}

/* a fresh directory, two random 512-bit keys */
static void setup_dir(uint8_t *k1, uint8_t *k2)
{
	uint8_t a[64], b[64];

	SHV_CHECK(!system("rm -rf " DIR " && mkdir -p " DIR), "mkdir");
	shv_fill_random(a, 64);
	shv_fill_random(b, 64);
	write_file(KEY1, a, 64);
	write_file(KEY2, b, 64);
	if (k1)
		memcpy(k1, a, 64);
	if (k2)
		memcpy(k2, b, 64);
}

/* a raw plaintext image of len random bytes, with a zero stretch */
static uint8_t *make_plain(const char *path, size_t len)
{
	uint8_t *p = malloc(len);

	SHV_CHECK(p, "malloc");
	shv_fill_random(p, len);
	memset(p + len / 4, 0, len / 4);
	write_file(path, p, len);
	return p;
}

#define NEED_TOOL() do {						\
	if (!tool())							\
		SKIP(return, "no shv-disk binary");			\
} while (0)

/* AF_ALG (the rig loads it): the tool dies saying so without it */
#define NEED_AF_ALG() do {						\
	int s_ = socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0);		\
	if (s_ < 0)							\
		SKIP(return, "no AF_ALG here");				\
	close(s_);							\
} while (0)

/* ---- dm-crypt through cryptsetup plain mode ---- */

static const char *cryptsetup(void)
{
	return shv_which("cryptsetup");
}


#define DM_NAME	"shvdisktooltest"
#define DM_DEV	"/dev/mapper/" DM_NAME

static int dm_open(const char *img, const char *cipher, unsigned int bits,
		   unsigned int ss, unsigned int skip)
{
	return shv_sh("%s open --batch-mode --type plain --cipher %s --key-size %u --key-file " KEY1 " --sector-size %u --skip %u --disable-locks %s " DM_NAME " </dev/null 2>&1",
		  cryptsetup(), cipher, bits, ss, skip, img);
}

static void dm_close(void)
{
	shv_sh("%s close --batch-mode --disable-locks " DM_NAME " </dev/null 2>&1",
	   cryptsetup());
}

/* read or write the whole dm-crypt device */
static int dm_io(bool write, uint8_t *buf, size_t len)
{
	int fd = open(DM_DEV, O_RDWR), ok;

	if (fd < 0)
		return -1;
	if (write)
		ok = pwrite(fd, buf, len, 0) == (ssize_t)len && !fsync(fd);
	else
		ok = pread(fd, buf, len, 0) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * shv-disk encrypts a plaintext image in place, dm-crypt reads the
 * plaintext; dm-crypt writes new plaintext, shv-disk decrypts it in place.
 */
static void dm_interop(struct __test_metadata *_metadata, const char *cipher,
		       unsigned int bits, unsigned int ss, unsigned int skip)
{
	size_t len = 1 << 20;
	uint8_t *plain, *buf = malloc(len), *img;
	char sector[16], bitstr[16], skipstr[16];

	NEED_TOOL();
	NEED_AF_ALG();
	if (!cryptsetup())
		SKIP(return, "no cryptsetup");
	setup_dir(NULL, NULL);
	plain = make_plain(IMG, len);
	snprintf(sector, sizeof(sector), "%u", ss);
	snprintf(bitstr, sizeof(bitstr), "%u", bits);
	snprintf(skipstr, sizeof(skipstr), "%u", skip);
	ASSERT_EQ(0, run("encrypt", IMG, "--cipher", cipher, "--keyfile",
			 KEY1, "--key-size", bitstr, "--sector", sector,
			 "--iv-offset", skipstr, "--chunk", "256K")) {
		TH_LOG("%s", out);
	}
	ASSERT_NE(0, access(JOURNAL, F_OK));
	img = read_all(IMG, NULL);
	for (size_t i = 0; i < len; i += ss)
		ASSERT_NE(0, memcmp(img + i, plain + i, ss));
	free(img);

	ASSERT_EQ(0, dm_open(IMG, cipher, bits, ss, skip));
	memset(buf, 0, len);
	EXPECT_EQ(0, dm_io(false, buf, len));
	EXPECT_EQ(0, memcmp(buf, plain, len));
	/* dm-crypt writes other plaintext */
	shv_fill_random(buf, len);
	EXPECT_EQ(0, dm_io(true, buf, len));
	dm_close();
	ASSERT_TRUE(_metadata->passed);

	ASSERT_EQ(0, run("decrypt", IMG, "--cipher", cipher, "--keyfile",
			 KEY1, "--key-size", bitstr, "--sector", sector,
			 "--iv-offset", skipstr)) {
		TH_LOG("%s", out);
	}
	img = read_all(IMG, NULL);
	ASSERT_EQ(0, memcmp(img, buf, len));
	free(img);
	free(buf);
	free(plain);
}

TEST(dmcrypt_xts_512)		{ dm_interop(_metadata, XTS, 512, 512, 0); }
TEST(dmcrypt_xts_4096_skip)	{ dm_interop(_metadata, XTS, 512, 4096, 16); }
TEST(dmcrypt_xts256_512_skip)	{ dm_interop(_metadata, XTS, 256, 512, 7); }
TEST(dmcrypt_essiv_512)		{ dm_interop(_metadata, ESSIV, 256, 512, 0); }
TEST(dmcrypt_essiv_4096)	{ dm_interop(_metadata, ESSIV, 128, 4096, 0); }

/* ---- shv's own plug-ins ---- */

static int plugin_loaded(const char *name)
{
	struct {
		struct shv_crypt_list h;
		struct shv_crypt_plugin_info p[SHV_CRYPT_MAX_PLUGINS];
	} l = { .h.nr = SHV_CRYPT_MAX_PLUGINS };
	int sys, n, i;

	if (access("/dev/shv", F_OK))
		return 0;
	sys = shv_open_dev();
	n = ioctl(sys, SHV_CRYPT_LIST, &l);
	close(sys);
	for (i = 0; i < n && i < SHV_CRYPT_MAX_PLUGINS; i++)
		if (!strcmp(l.p[i].name, name))
			return 1;
	return 0;
}

static int disk_io(int vm_fd, uint32_t op, uint64_t sector, uint32_t nr,
		   uint64_t gpa)
{
	struct {
		struct shv_disk_ios h;
		struct shv_disk_io io;
	} q = {
		.h = { .disk = 0, .nr = 1 },
		.io = { .op = op, .sector = sector, .nr_sectors = nr,
			.gpa = gpa },
	};

	if (ioctl(vm_fd, SHV_DISK_IO, &q) < 0)
		return -1000 - errno;
	return q.io.result;
}

/*
 * shv-disk encrypts, the plug-in reads the plaintext; the plug-in writes,
 * shv-disk decrypts.  The image is image (raw or a fixed VHD: its data
 * sectors come first).
 */
static void plugin_interop(struct __test_metadata *_metadata,
			   const char *cipher, unsigned int key_size,
			   unsigned int ss, uint64_t iv_offset, bool large)
{
	size_t len = MEM_LEN;
	uint8_t key[64], *plain, *mem, *img;
	struct shv_disk_attach a = {
		.sector_size = ss, .iv_offset = iv_offset,
		.flags = large ? SHV_DISK_IV_LARGE_SECTORS : 0,
		.key_size = key_size,
	};
	char sector[16], bits[16], ivo[16];
	struct shv_vm *vm;
	int fd;

	NEED_TOOL();
	NEED_AF_ALG();
	if (!plugin_loaded(cipher))
		SKIP(return, "plug-in %s not loaded", cipher);
	setup_dir(key, NULL);
	plain = make_plain(IMG, len);
	snprintf(sector, sizeof(sector), "%u", ss);
	snprintf(bits, sizeof(bits), "%u", key_size * 8);
	snprintf(ivo, sizeof(ivo), "%llu", (unsigned long long)iv_offset);
	ASSERT_EQ(0, run("encrypt", IMG, "--cipher", cipher, "--keyfile",
			 KEY1, "--key-size", bits, "--sector", sector,
			 "--iv-offset", ivo, large ? "--iv-large-sectors" :
			 "--quiet")) {
		TH_LOG("%s", out);
	}

	vm = shv_vm_create();
	mem = shv_vm_add_mem(vm, 1, MEM_GPA, MEM_LEN, 0);
	ASSERT_NE(NULL, mem);
	fd = open(IMG, O_RDWR);
	ASSERT_GE(fd, 0);
	a.fd = fd;
	a.key = (uintptr_t)key;
	strcpy(a.cipher, cipher);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	ASSERT_EQ(len / ss, a.nr_sectors);
	memset(mem, 0, len);
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_READ, 0, len / ss, MEM_GPA));
	ASSERT_EQ(0, memcmp(mem, plain, len));

	/* the plug-in writes new plaintext; shv-disk decrypts it */
	shv_fill_random(mem, len);
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_WRITE, 0, len / ss, MEM_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_FLUSH, 0, 0, 0));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	close(fd);
	ASSERT_EQ(0, run("decrypt", IMG, "--cipher", cipher, "--keyfile",
			 KEY1, "--key-size", bits, "--sector", sector,
			 "--iv-offset", ivo, large ? "--iv-large-sectors" :
			 "--quiet")) {
		TH_LOG("%s", out);
	}
	img = read_all(IMG, NULL);
	ASSERT_EQ(0, memcmp(img, mem, len));
	free(img);
	free(plain);
	shv_vm_free(vm);
}

TEST(plugin_xts_512)	{ plugin_interop(_metadata, XTS, 64, 512, 0, false); }
TEST(plugin_xts_4096_off) { plugin_interop(_metadata, XTS, 64, 4096, 40,
					   false); }
TEST(plugin_xts256_4096_large) { plugin_interop(_metadata, XTS, 32, 4096, 8,
						true); }
TEST(plugin_essiv_512)	{ plugin_interop(_metadata, ESSIV, 32, 512, 3,
					 false); }
TEST(plugin_essiv_4096)	{ plugin_interop(_metadata, ESSIV, 16, 4096, 0,
					 false); }

/* ---- re-keying ---- */

/* the image decrypted with KEY2 (and cipher) is plain */
static void expect_plain(struct __test_metadata *_metadata,
			 const char *path, const char *cipher,
			 const char *keyfile, const uint8_t *plain, size_t len)
{
	uint8_t *img;

	ASSERT_EQ(0, run("decrypt", path, "--cipher", cipher, "--keyfile",
			 keyfile, "--progress", "none")) {
		TH_LOG("%s", out);
	}
	img = read_all(path, NULL);
	ASSERT_EQ(0, memcmp(img, plain, len));
	free(img);
}

TEST(rekey)
{
	size_t len = 1 << 20;
	uint8_t *plain, *img1, *img2;

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(NULL, NULL);
	plain = make_plain(IMG, len);
	ASSERT_EQ(0, run("encrypt", IMG, "--keyfile", KEY1));
	img1 = read_all(IMG, NULL);
	ASSERT_EQ(0, run("rekey", IMG, "--old-keyfile", KEY1, "--new-keyfile",
			 KEY2, "--chunk", "128K")) {
		TH_LOG("%s", out);
	}
	img2 = read_all(IMG, NULL);
	for (size_t i = 0; i < len; i += 512)
		ASSERT_NE(0, memcmp(img1 + i, img2 + i, 512));
	/* the old key gives something else now */
	ASSERT_EQ(0, run("decrypt", IMG, "--keyfile", KEY1));
	free(img1);
	img1 = read_all(IMG, NULL);
	ASSERT_NE(0, memcmp(img1, plain, 512));
	write_file(IMG, img2, len);
	expect_plain(_metadata, IMG, XTS, KEY2, plain, len);

	/* to another cipher: XTS with KEY1 -> essiv with the first 32 bytes of KEY2 */
	ASSERT_EQ(0, run("encrypt", IMG, "--keyfile", KEY1));
	ASSERT_EQ(0, run("rekey", IMG, "--old-keyfile", KEY1, "--new-keyfile",
			 KEY2, "--new-cipher", ESSIV)) {
		TH_LOG("%s", out);
	}
	expect_plain(_metadata, IMG, ESSIV, KEY2, plain, len);
	free(img1);
	free(img2);
	free(plain);
}

/*
 * Killed at a step of chunk 5 of 16; the journal says so; a resume with
 * the wrong key or another command is refused; with the same keys it
 * finishes and the image decrypts with the new key.
 */
static void rekey_crash(struct __test_metadata *_metadata, const char *step)
{
	size_t len = 1 << 20;
	char env[64];
	uint8_t *plain;

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(NULL, NULL);
	plain = make_plain(IMG, len);
	ASSERT_EQ(0, run("encrypt", IMG, "--keyfile", KEY1));
	snprintf(env, sizeof(env), "SHV_DISK_CRASH=%s:5", step);
	ASSERT_EQ(128 + SIGKILL, run_env(env, "rekey", IMG, "--old-keyfile",
					 KEY1, "--new-keyfile", KEY2,
					 "--chunk", "64K", NULL)) {
		TH_LOG("%s", out);
	}
	ASSERT_EQ(0, access(JOURNAL, F_OK));
	ASSERT_EQ(2, run("check", IMG));
	ASSERT_NE(NULL, strstr(out, "interrupted rekey"));
	ASSERT_EQ(0, run("info", IMG));
	ASSERT_NE(NULL, strstr(out, "interrupted rekey")) TH_LOG("%s", out);
	/* not with the keys swapped, nor another command, nor convert */
	ASSERT_EQ(1, run("rekey", IMG, "--old-keyfile", KEY2, "--new-keyfile",
			 KEY1));
	ASSERT_NE(NULL, strstr(out, "key is not the one")) TH_LOG("%s", out);
	ASSERT_EQ(1, run("decrypt", IMG, "--keyfile", KEY1));
	ASSERT_NE(NULL, strstr(out, "interrupted rekey")) TH_LOG("%s", out);
	ASSERT_EQ(1, run("convert", IMG, VHD, "--format", "vhd-dynamic"));
	ASSERT_EQ(0, access(JOURNAL, F_OK));
	/* resumed, even with another --chunk (the journal's holds) */
	ASSERT_EQ(0, run("rekey", IMG, "--old-keyfile", KEY1, "--new-keyfile",
			 KEY2, "--chunk", "1M", "--resume")) {
		TH_LOG("%s", out);
	}
	ASSERT_NE(NULL, strstr(out, "resuming")) TH_LOG("%s", out);
	ASSERT_NE(0, access(JOURNAL, F_OK));
	/* nothing left to resume */
	ASSERT_EQ(1, run("rekey", IMG, "--old-keyfile", KEY1, "--new-keyfile",
			 KEY2, "--resume"));
	ASSERT_NE(NULL, strstr(out, "no interrupted run")) TH_LOG("%s", out);
	expect_plain(_metadata, IMG, XTS, KEY2, plain, len);
	free(plain);
}

TEST(rekey_crash_journal)	{ rekey_crash(_metadata, "journal"); }
TEST(rekey_crash_torn)		{ rekey_crash(_metadata, "torn"); }
TEST(rekey_crash_image)		{ rekey_crash(_metadata, "image"); }
TEST(rekey_crash_header)	{ rekey_crash(_metadata, "header"); }

/* an encrypt killed, and a decrypt killed, resume too */
TEST(encrypt_decrypt_crash)
{
	size_t len = 1 << 20;
	uint8_t *plain, *img;

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(NULL, NULL);
	plain = make_plain(IMG, len);
	ASSERT_EQ(128 + SIGKILL, run_env("SHV_DISK_CRASH=torn:3", "encrypt",
					 IMG, "--keyfile", KEY1, "--chunk",
					 "128K", NULL));
	ASSERT_EQ(0, run("encrypt", IMG, "--keyfile", KEY1)) TH_LOG("%s", out);
	ASSERT_EQ(128 + SIGKILL, run_env("SHV_DISK_CRASH=image:7", "decrypt",
					 IMG, "--keyfile", KEY1, "--chunk",
					 "64K", NULL));
	ASSERT_EQ(0, run("decrypt", IMG, "--keyfile", KEY1)) TH_LOG("%s", out);
	img = read_all(IMG, NULL);
	ASSERT_EQ(0, memcmp(img, plain, len));
	free(img);
	free(plain);
}

/* the journal's boundary: of the header slot with the higher seq */
static uint64_t journal_boundary(void)
{
	uint8_t h[1024];
	uint64_t seq[2] = { 0 }, b[2] = { 0 };
	int fd = open(JOURNAL, O_RDONLY), i, best = -1;

	if (fd < 0)
		return 0;
	if (pread(fd, h, sizeof(h), 0) != sizeof(h)) {
		close(fd);
		return 0;
	}
	close(fd);
	for (i = 0; i < 2; i++) {
		if (memcmp(h + 512 * i, "SHVRENC1", 8))
			continue;
		memcpy(&seq[i], h + 512 * i + 16, 8);
		memcpy(&b[i], h + 512 * i + 24, 8);
		if (best < 0 || seq[i] > seq[best])
			best = i;
	}
	return best < 0 ? 0 : b[best];
}

/*
 * SIGKILL from outside while the rekey runs (once the journal shows
 * progress), then resume.
 */
TEST(rekey_sigkill)
{
	size_t len = 4 << 20;
	uint8_t *plain;
	int tries, killed = 0;

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(NULL, NULL);
	plain = make_plain(IMG, len);
	ASSERT_EQ(0, run("encrypt", IMG, "--keyfile", KEY1, "--quiet"));
	for (tries = 0; tries < 3 && !killed; tries++) {
		struct timespec ts = { 0, 2000000 };
		pid_t pid = fork();
		int st, i;

		ASSERT_GE(pid, 0);
		if (!pid) {
			int nul = open("/dev/null", O_WRONLY);

			dup2(nul, 1);
			dup2(nul, 2);
			execl(tool(), tool(), "rekey", IMG, "--old-keyfile", KEY1,
			      "--new-keyfile", KEY2, "--chunk", "16K", NULL);
			_exit(127);
		}
		/* wait for some progress, up to 20 s */
		for (i = 0; i < 10000 && !journal_boundary(); i++)
			nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		killed = WIFSIGNALED(st) && !access(JOURNAL, F_OK);
		TH_LOG("try %d: %s at %llu bytes", tries,
		       killed ? "killed" : "finished first",
		       (unsigned long long)journal_boundary());
		if (!killed) {
			/* it finished: back to KEY1 for another try */
			ASSERT_EQ(0, run("rekey", IMG, "--old-keyfile", KEY2,
					 "--new-keyfile", KEY1));
		}
	}
	ASSERT_TRUE(killed);
	ASSERT_LT(journal_boundary(), len);
	ASSERT_EQ(0, run("rekey", IMG, "--old-keyfile", KEY1, "--new-keyfile",
			 KEY2, "--progress", "plain")) {
		TH_LOG("%s", out);
	}
	ASSERT_NE(NULL, strstr(out, "resuming"));
	ASSERT_NE(NULL, strstr(out, "100.0%")) TH_LOG("%s", out);
	expect_plain(_metadata, IMG, XTS, KEY2, plain, len);
	free(plain);
}

/* the progress bar on a terminal: \r-updated, percent, MiB/s, ETA */
TEST(progress_bar_tty)
{
	int master, st;
	size_t len = 0;
	pid_t pid;

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(NULL, NULL);
	free(make_plain(IMG, 1 << 20));
	pid = forkpty(&master, NULL, NULL, NULL);
	if (pid < 0)
		SKIP(return, "no pty: %s", strerror(errno));
	if (!pid) {
		execl(tool(), tool(), "encrypt", IMG, "--keyfile", KEY1,
		      "--chunk", "64K", NULL);
		_exit(127);
	}
	for (;;) {
		ssize_t r = read(master, out + len, sizeof(out) - 1 - len);

		if (r <= 0)
			break;
		len += r;
	}
	out[len] = 0;
	close(master);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "\r")) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "[########################################] 100.0%"));
	ASSERT_NE(NULL, strstr(out, "MiB/s ETA "));
}

/* a user key from the keyring (--keyid) is the same key as its bytes */
TEST(keyid)
{
	size_t len = 256 << 10;
	uint8_t key[64], *plain, *img;
	long id, short_id;

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(key, NULL);
	plain = make_plain(IMG, len);
	id = syscall(SYS_add_key, "user", "shvdisktest:k1", key, 64,
		     KEY_SPEC_SESSION_KEYRING);
	if (id < 0)
		SKIP(return, "add_key: %s", strerror(errno));
	ASSERT_EQ(0, run("encrypt", IMG, "--keyid", "user:shvdisktest:k1"))
		TH_LOG("%s", out);
	ASSERT_EQ(0, run("decrypt", IMG, "--keyfile", KEY1));
	img = read_all(IMG, NULL);
	ASSERT_EQ(0, memcmp(img, plain, len));
	free(img);
	/* too short for the key size; no such key: nothing happens */
	short_id = syscall(SYS_add_key, "user", "shvdisktest:short", key, 16,
			   KEY_SPEC_SESSION_KEYRING);
	ASSERT_GE(short_id, 0);
	ASSERT_EQ(1, run("encrypt", IMG, "--keyid", "user:shvdisktest:short"));
	ASSERT_NE(NULL, strstr(out, "16 bytes")) TH_LOG("%s", out);
	ASSERT_EQ(1, run("encrypt", IMG, "--keyid", "user:shvdisktest:none"));
	ASSERT_NE(NULL, strstr(out, "shvdisktest:none")) TH_LOG("%s", out);
	img = read_all(IMG, NULL);
	ASSERT_EQ(0, memcmp(img, plain, len));
	free(img);
	syscall(SYS_keyctl, KEYCTL_UNLINK, id, KEY_SPEC_SESSION_KEYRING);
	syscall(SYS_keyctl, KEYCTL_UNLINK, short_id, KEY_SPEC_SESSION_KEYRING);
	free(plain);
}

/* ---- VHD: conversions, encryption, check ---- */

/* blocks_stored: how many blocks "info" says are allocated */
static int blocks_stored(const char *path)
{
	const char *p;
	int n;

	if (run("info", path))
		return -1;
	p = strstr(out, "vhd blocks: ");
	if (!p || sscanf(p, "vhd blocks: %d", &n) != 1)
		return -1;
	return n;
}

TEST(convert_roundtrip)
{
	size_t len = 8 << 20, n;
	uint8_t *plain, *back;

	NEED_TOOL();
	setup_dir(NULL, NULL);
	plain = malloc(len);
	ASSERT_NE(NULL, plain);
	memset(plain, 0, len);
	/* data in blocks 0 and 2 (2 MiB each), block 1 and 3 zero */
	shv_fill_random(plain + 4096, 8192);
	shv_fill_random(plain + (4 << 20) + 512, 1 << 20);
	write_file(IMG, plain, len);
	ASSERT_EQ(0, run("convert", IMG, VHD, "--format", "vhd-dynamic")) {
		TH_LOG("%s", out);
	}
	ASSERT_EQ(2, blocks_stored(VHD));
	ASSERT_LT(file_size(VHD), 5u << 20);
	ASSERT_EQ(0, run("check", VHD)) TH_LOG("%s", out);
	ASSERT_EQ(0, run("convert", VHD, IMG2, "--format", "raw"));
	back = read_all(IMG2, &n);
	ASSERT_EQ(len, n);
	ASSERT_EQ(0, memcmp(plain, back, len));
	free(back);
	/* dynamic -> fixed -> dynamic (small blocks) -> raw */
	unlink(IMG2);
	ASSERT_EQ(0, run("convert", VHD, DIR "/f.vhd", "--format",
			 "vhd-fixed"));
	ASSERT_EQ(len + 512, file_size(DIR "/f.vhd"));
	ASSERT_EQ(0, run("check", DIR "/f.vhd")) TH_LOG("%s", out);
	ASSERT_EQ(0, run("convert", DIR "/f.vhd", DIR "/s.vhd", "--format",
			 "vhd-dynamic", "--block-size", "64K"));
	ASSERT_EQ(1 + 17, blocks_stored(DIR "/s.vhd"));
	ASSERT_EQ(0, run("convert", DIR "/s.vhd", IMG2, "--format", "raw"));
	back = read_all(IMG2, &n);
	ASSERT_EQ(len, n);
	ASSERT_EQ(0, memcmp(plain, back, len));
	free(back);
	free(plain);
	/* not over an existing file */
	ASSERT_EQ(1, run("convert", VHD, IMG2, "--format", "raw"));
	ASSERT_NE(NULL, strstr(out, "exists"));
}

/*
 * An encrypted raw image (made by create --cipher: encrypted zeros) with
 * some data; to a dynamic VHD with the key: the blocks that decrypt to
 * zeros are left out; back to raw with the key: the same bytes.  The VHD's
 * data sectors are those of the raw image (IV = virtual sector), its
 * metadata plaintext; encrypting or decrypting the VHD in place works on
 * its data only.
 */
TEST(encrypted_vhd)
{
	size_t len = 8 << 20, n;
	uint8_t *enc, *back, data[65536];

	NEED_TOOL();
	NEED_AF_ALG();
	setup_dir(NULL, NULL);
	ASSERT_EQ(0, run("create", IMG, "--size", "8M", "--cipher", XTS,
			 "--keyfile", KEY1)) TH_LOG("%s", out);
	/* plaintext data at 2 MiB + 4 KiB, encrypted through a tool round */
	ASSERT_EQ(0, run("decrypt", IMG, "--keyfile", KEY1));
	back = read_all(IMG, &n);
	ASSERT_EQ(len, n);
	ASSERT_TRUE(back[0] == 0 && !memcmp(back, back + 1, len - 1));
	free(back);
	shv_fill_random(data, sizeof(data));
	patch_file(IMG, (2 << 20) + 4096, data, sizeof(data));
	ASSERT_EQ(0, run("encrypt", IMG, "--keyfile", KEY1));
	enc = read_all(IMG, NULL);

	ASSERT_EQ(0, run("convert", IMG, VHD, "--format", "vhd-dynamic",
			 "--cipher", XTS, "--keyfile", KEY1)) TH_LOG("%s", out);
	ASSERT_EQ(1, blocks_stored(VHD));
	ASSERT_EQ(0, run("convert", VHD, IMG2, "--format", "raw", "--cipher",
			 XTS, "--keyfile", KEY1)) TH_LOG("%s", out);
	back = read_all(IMG2, NULL);
	ASSERT_EQ(0, memcmp(enc, back, len));
	free(back);

	/* decrypting the VHD in place gives the plaintext in its block */
	ASSERT_EQ(0, run("decrypt", VHD, "--keyfile", KEY1)) TH_LOG("%s", out);
	ASSERT_EQ(0, run("check", VHD)) TH_LOG("%s", out);
	unlink(IMG2);
	ASSERT_EQ(0, run("convert", VHD, IMG2, "--format", "raw"));
	back = read_all(IMG2, NULL);
	ASSERT_EQ(0, memcmp(back + (2 << 20) + 4096, data, sizeof(data)));
	ASSERT_TRUE(back[0] == 0 && !memcmp(back, back + 1, (2 << 20) + 4095));
	free(back);
	/* and encrypting it again gives the raw image's sectors there */
	ASSERT_EQ(0, run("encrypt", VHD, "--keyfile", KEY1, "--sector", "4096",
			 "--chunk", "256K")) TH_LOG("%s", out);
	ASSERT_EQ(0, run("encrypt", IMG2, "--keyfile", KEY1, "--sector",
			 "4096"));
	unlink(DIR "/x.raw");
	ASSERT_EQ(0, run("convert", VHD, DIR "/x.raw", "--format", "raw"));
	back = read_all(DIR "/x.raw", NULL);
	enc = read_all(IMG2, NULL);
	ASSERT_EQ(0, memcmp(back + (2 << 20), enc + (2 << 20), 2 << 20));
	free(back);
	free(enc);
}

/*
 * Another implementation: VHDs shv-disk writes read by qemu-img, and
 * those qemu-img writes read by shv-disk, both formats, byte for byte
 * (qemu-img is in the rig where the rig packs it).
 */
TEST(qemu_img)
{
	static const char *const qi[] = { "/usr/bin/qemu-img", "/bin/qemu-img" };
	const char *q = NULL;
	size_t len = 6 << 20, n;
	uint8_t *plain, *back;
	unsigned int i;

	NEED_TOOL();
	for (i = 0; i < 2; i++)
		if (!access(qi[i], X_OK))
			q = qi[i];
	if (!q)
		SKIP(return, "no qemu-img");
	setup_dir(NULL, NULL);
	plain = make_plain(IMG, len);
	for (i = 0; i < 2; i++) {
		const char *sub = i ? "fixed" : "dynamic";

		unlink(VHD);
		unlink(IMG2);
		ASSERT_EQ(0, run("convert", IMG, VHD, "--format",
				 i ? "vhd-fixed" : "vhd-dynamic"));
		ASSERT_EQ(0, shv_sh("%s convert -f vpc -O raw %s %s 2>&1", q, VHD,
				IMG2)) TH_LOG("%s", sub);
		back = read_all(IMG2, &n);
		ASSERT_EQ(len, n) TH_LOG("%s", sub);
		ASSERT_EQ(0, memcmp(back, plain, len)) TH_LOG("%s", sub);
		free(back);

		unlink(VHD);
		unlink(IMG2);
		ASSERT_EQ(0, shv_sh("%s convert -f raw -O vpc -o subformat=%s,force_size=on %s %s 2>&1",
				q, sub, IMG, VHD)) TH_LOG("%s", sub);
		ASSERT_EQ(0, run("check", VHD)) TH_LOG("%s: %s", sub, out);
		ASSERT_EQ(0, run("convert", VHD, IMG2, "--format", "raw"));
		back = read_all(IMG2, &n);
		ASSERT_EQ(len, n) TH_LOG("%s", sub);
		ASSERT_EQ(0, memcmp(back, plain, len)) TH_LOG("%s", sub);
		free(back);
	}
	free(plain);
}

/* VHDs written by shv-disk as the kernel plug-in reads a fixed VHD: raw + footer */
TEST(vhd_fixed_plugin)
{
	size_t len = MEM_LEN;
	uint8_t key[64], *plain, *mem;
	struct shv_disk_attach a = { .sector_size = 512, .key_size = 64 };
	struct shv_vm *vm;
	int fd;

	NEED_TOOL();
	NEED_AF_ALG();
	if (!plugin_loaded(XTS))
		SKIP(return, "plug-in not loaded");
	setup_dir(key, NULL);
	plain = make_plain(IMG, len);
	ASSERT_EQ(0, run("convert", IMG, VHD, "--format", "vhd-fixed"));
	ASSERT_EQ(0, run("encrypt", VHD, "--keyfile", KEY1));
	ASSERT_EQ(0, run("check", VHD));
	/* the data sectors, without the footer, as a raw disk */
	ASSERT_EQ(0, truncate(VHD, len));
	vm = shv_vm_create();
	mem = shv_vm_add_mem(vm, 1, MEM_GPA, MEM_LEN, 0);
	fd = open(VHD, O_RDWR);
	ASSERT_GE(fd, 0);
	a.fd = fd;
	a.key = (uintptr_t)key;
	strcpy(a.cipher, XTS);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_READ, 0, len / 512, MEM_GPA));
	ASSERT_EQ(0, memcmp(mem, plain, len));
	shv_vm_free(vm);
	close(fd);
	free(plain);
}

/* check finds damage in the footer, the header and the BAT */
TEST(check_damage)
{
	uint8_t b, bat[4];
	size_t sz;

	NEED_TOOL();
	setup_dir(NULL, NULL);
	free(make_plain(IMG, 4 << 20));
	ASSERT_EQ(0, run("convert", IMG, VHD, "--format", "vhd-dynamic",
			 "--block-size", "1M"));
	ASSERT_EQ(0, run("check", VHD));
	sz = file_size(VHD);
	copy_file(VHD, DIR "/good.vhd");

	/* a flipped byte in the footer's size: checksum */
	b = 0x40;
	patch_file(VHD, sz - 512 + 48 + 4, &b, 1);
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "footer: bad checksum")) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "copy at the start is intact"))
		TH_LOG("%s", out);

	/* the footer gone: its copy at the start is reported */
	copy_file(DIR "/good.vhd", VHD);
	ASSERT_EQ(0, truncate(VHD, sz - 512));
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "copy at the start is intact"))
		TH_LOG("%s", out);
	/* as a crash while a block is appended leaves it: garbage after */
	{
		uint8_t junk[3000];

		shv_fill_random(junk, sizeof(junk));
		patch_file(VHD, sz - 512, junk, sizeof(junk));
	}
	ASSERT_EQ(2, run("check", VHD));
	/* the copy is used, as the kernel does; --repair rewrites it */
	unlink(IMG2);
	ASSERT_EQ(0, run("convert", VHD, IMG2, "--format", "raw"))
		TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "using its copy"));
	ASSERT_EQ(0, run("check", VHD, "--repair")) TH_LOG("%s", out);
	ASSERT_EQ(sz, file_size(VHD));
	{
		uint8_t *a = read_all(VHD, NULL), *g = read_all(DIR "/good.vhd",
								 NULL);

		ASSERT_EQ(0, memcmp(a, g, sz));
		free(a);
		free(g);
	}
	{
		uint8_t *a = read_all(IMG, NULL), *g = read_all(IMG2, NULL);

		ASSERT_EQ(0, memcmp(a, g, 4 << 20));
		free(a);
		free(g);
	}

	/* the copy at offset 0 differs */
	copy_file(DIR "/good.vhd", VHD);
	b = 0xff;
	patch_file(VHD, 100, &b, 1);
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "copy at offset 0 differs"));
	ASSERT_EQ(0, run("check", VHD, "--repair")) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "copy at offset 0 rewritten"));

	/* a BAT entry past the end of the file */
	copy_file(DIR "/good.vhd", VHD);
	memset(bat, 0x7f, 4);
	patch_file(VHD, 1536 + 4, bat, 4);
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "goes past the footer")) TH_LOG("%s", out);

	/* two BAT entries for one block */
	copy_file(DIR "/good.vhd", VHD);
	{
		int fd = open(VHD, O_RDWR);

		ASSERT_EQ(4, pread(fd, bat, 4, 1536));
		ASSERT_EQ(4, pwrite(fd, bat, 4, 1536 + 8));
		close(fd);
	}
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "overlap")) TH_LOG("%s", out);

	/* the dynamic header's checksum, and its cookie */
	copy_file(DIR "/good.vhd", VHD);
	b = 0x01;
	patch_file(VHD, 512 + 28, &b, 1);
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "header: bad checksum")) TH_LOG("%s", out);
	copy_file(DIR "/good.vhd", VHD);
	patch_file(VHD, 512, "xxxxxxxx", 8);
	ASSERT_EQ(2, run("check", VHD));
	ASSERT_NE(NULL, strstr(out, "no dynamic disk header cookie"));

	/* a fixed VHD cut short */
	ASSERT_EQ(0, run("convert", DIR "/good.vhd", DIR "/f.vhd", "--format",
			 "vhd-fixed"));
	ASSERT_EQ(0, run("check", DIR "/f.vhd"));
	{
		size_t fs = file_size(DIR "/f.vhd");
		uint8_t *f = read_all(DIR "/f.vhd", NULL);

		/* footer moved 4 KiB down: the data part is short */
		write_file(DIR "/f.vhd", f, fs - 4096 - 512);
		patch_file(DIR "/f.vhd", fs - 4096 - 512, f + fs - 512, 512);
		free(f);
	}
	ASSERT_EQ(2, run("check", DIR "/f.vhd"));
	ASSERT_NE(NULL, strstr(out, "fixed disk of")) TH_LOG("%s", out);
	ASSERT_EQ(1, run("decrypt", DIR "/f.vhd", "--keyfile", KEY1));
	ASSERT_NE(NULL, strstr(out, "damaged")) TH_LOG("%s", out);
	/* a raw image whose size is no whole 4 KiB sectors */
	write_file(IMG2, "x", 1000);
	ASSERT_EQ(2, run("check", IMG2, "--sector", "4096"));
	ASSERT_EQ(0, run("check", DIR "/good.vhd"));
}

/* ---- the authenticated layout, aes-gcm-random (crypt.rst) ---- */

#define GCM	"aes-gcm-random"

struct auth_hdr {
	uint32_t ss;
	uint8_t uuid[16];
	uint64_t nr, meta_off, data_off;
};

static void auth_hdr_read(const char *path, struct auth_hdr *h)
{
	uint8_t b[512];
	int fd = open(path, O_RDONLY);

	SHV_CHECK(fd >= 0 && pread(fd, b, 512, 0) == 512, "read %s", path);
	close(fd);
	SHV_CHECK(!memcmp(b, "SHVAUTH1", 8), "%s: no header", path);
	memcpy(&h->ss, b + 12, 4);
	memcpy(h->uuid, b + 24, 16);
	memcpy(&h->nr, b + 40, 8);
	memcpy(&h->meta_off, b + 48, 8);
	memcpy(&h->data_off, b + 56, 8);
}

/*
 * One sector through the kernel's gcm(aes) (AF_ALG aead), the format as
 * crypt.rst gives it: nonce, AAD = uuid || le64 sector, 16-byte tag.
 * Returns 0, or -errno (EBADMSG: authentication failed).
 */
static int gcm_sector(bool enc, const uint8_t *key, const struct auth_hdr *h,
		      uint64_t sector, const uint8_t *nonce, const uint8_t *in,
		      uint8_t *out, uint8_t *tag)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	uint8_t ibuf[24 + 4096 + 16], obuf[24 + 4096 + 16];
	char cbuf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 12) +
		  CMSG_SPACE(4)];
	struct iovec iov = { .iov_base = ibuf };
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct af_alg_iv *aiv;
	struct cmsghdr *c;
	int tfm, op, r = -EIO;
	ssize_t n;

	strcpy((char *)sa.salg_type, "aead");
	strcpy((char *)sa.salg_name, "gcm(aes)");
	tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (tfm < 0)
		return -errno;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, 32) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, 16)) {
		r = -errno;
		close(tfm);
		return r;
	}
	op = accept(tfm, NULL, 0);
	memcpy(ibuf, h->uuid, 16);
	memcpy(ibuf + 16, &sector, 8);
	memcpy(ibuf + 24, in, h->ss);
	if (!enc)
		memcpy(ibuf + 24 + h->ss, tag, 16);
	iov.iov_len = 24 + h->ss + (enc ? 0 : 16);
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(c) = enc ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(*aiv) + 12);
	aiv = (void *)CMSG_DATA(c);
	aiv->ivlen = 12;
	memcpy(aiv->iv, nonce, 12);
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
	c->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(c) = 24;
	if (op >= 0 && sendmsg(op, &msg, 0) == (ssize_t)iov.iov_len) {
		/* exactly the output: AF_ALG waits to fill a larger buffer */
		n = read(op, obuf, 24 + h->ss + (enc ? 16 : 0));
		if (n == (ssize_t)(24 + h->ss + (enc ? 16 : 0))) {
			memcpy(out, obuf + 24, h->ss);
			if (enc)
				memcpy(tag, obuf + 24 + h->ss, 16);
			r = 0;
		} else {
			r = n < 0 ? -errno : -EIO;
		}
	}
	if (op >= 0)
		close(op);
	close(tfm);
	return r;
}

/* write data sector n of a raw authenticated image as the plug-in does */
static void gcm_write(const char *path, const uint8_t *key,
		      const struct auth_hdr *h, uint64_t n,
		      const uint8_t *plain)
{
	uint8_t entry[32] = { 0 }, ct[4096];
	int fd = open(path, O_RDWR);

	shv_fill_random(entry, 12);
	SHV_CHECK(!gcm_sector(true, key, h, n, entry, plain, ct, entry + 12),
		  "gcm encrypt");
	SHV_CHECK(fd >= 0, "open %s", path);
	SHV_CHECK(pwrite(fd, ct, h->ss, (h->data_off + n) * h->ss) ==
		  (ssize_t)h->ss, "pwrite");
	SHV_CHECK(pwrite(fd, entry, 32, h->meta_off * h->ss + n * 32) == 32,
		  "pwrite");
	close(fd);
}

/* read data sector n back: 0 and the plaintext, or -EBADMSG */
static int gcm_read(const char *path, const uint8_t *key,
		    const struct auth_hdr *h, uint64_t n, uint8_t *plain)
{
	uint8_t entry[32], ct[4096];
	int fd = open(path, O_RDONLY);

	SHV_CHECK(fd >= 0, "open %s", path);
	SHV_CHECK(pread(fd, ct, h->ss, (h->data_off + n) * h->ss) ==
		  (ssize_t)h->ss, "pread");
	SHV_CHECK(pread(fd, entry, 32, h->meta_off * h->ss + n * 32) == 32,
		  "pread");
	close(fd);
	return gcm_sector(false, key, h, n, entry, ct, plain, entry + 12);
}

#define NEED_GCM() do {							\
	struct sockaddr_alg sa_ = { .salg_family = AF_ALG,		\
		.salg_type = "aead", .salg_name = "gcm(aes)" };		\
	int s_ = socket(AF_ALG, SOCK_SEQPACKET, 0);			\
	if (s_ < 0 || bind(s_, (struct sockaddr *)&sa_, sizeof(sa_))) {	\
		if (s_ >= 0)						\
			close(s_);					\
		SKIP(return, "no AF_ALG aead gcm(aes) here");		\
	}								\
	close(s_);							\
} while (0)

static const uint64_t gcm_secs[] = { 0, 5, 77, 500, 1000, 1500 };
#define NR_GCM	(sizeof(gcm_secs) / sizeof(gcm_secs[0]))

/*
 * An image made by create, sectors written as the plug-in writes them:
 * check --cipher verifies them all; a flipped bit, sectors swapped, the
 * wrong key fail, each sector named.
 */
TEST(gcm_check)
{
	uint8_t key[64], plain[NR_GCM][512], buf[512];
	struct auth_hdr h;
	char msg[64];
	unsigned int i;

	NEED_TOOL();
	NEED_GCM();
	setup_dir(key, NULL);
	ASSERT_EQ(0, run("create", IMG, "--size", "1M", "--cipher", GCM))
		TH_LOG("%s", out);
	ASSERT_EQ(0, run("info", IMG));
	ASSERT_NE(NULL, strstr(out, "authenticated layout: aes-gcm-random"))
		TH_LOG("%s", out);
	auth_hdr_read(IMG, &h);
	ASSERT_EQ(512, h.ss);
	ASSERT_EQ(1, h.meta_off);
	/* crypt.rst's: the largest n with 1 + ceil(n * 32 / 512) + n <= 2048 */
	for (i = 2048; 1 + (i * 32 + 511) / 512 + i > 2048; i--)
		;
	ASSERT_EQ(i, h.nr);
	ASSERT_EQ(1 + (i * 32 + 511) / 512, h.data_off);
	ASSERT_EQ(0, run("check", IMG, "--cipher", GCM, "--keyfile", KEY1));
	snprintf(msg, sizeof(msg), "0 of %u data sectors written", i);
	ASSERT_NE(NULL, strstr(out, msg)) TH_LOG("%s", out);
	for (i = 0; i < NR_GCM; i++) {
		shv_fill_random(plain[i], 512);
		gcm_write(IMG, key, &h, gcm_secs[i], plain[i]);
	}
	ASSERT_EQ(0, run("check", IMG, "--cipher", GCM, "--keyfile", KEY1))
		TH_LOG("%s", out);
	snprintf(msg, sizeof(msg), "6 of %llu data sectors written, 0 failed",
		 (unsigned long long)h.nr);
	ASSERT_NE(NULL, strstr(out, msg)) TH_LOG("%s", out);
	ASSERT_EQ(0, run("check", IMG));	/* the header only */
	/* the wrong key: all of them */
	ASSERT_EQ(2, run("check", IMG, "--cipher", GCM, "--keyfile", KEY2));
	ASSERT_NE(NULL, strstr(out, "6 failed")) TH_LOG("%s", out);
	/* a flipped bit in data sector 77 */
	copy_file(IMG, IMG2);
	{
		int fd = open(IMG2, O_RDWR);
		uint8_t b;

		ASSERT_EQ(1, pread(fd, &b, 1, (h.data_off + 77) * 512 + 100));
		b ^= 4;
		ASSERT_EQ(1, pwrite(fd, &b, 1, (h.data_off + 77) * 512 + 100));
		close(fd);
	}
	ASSERT_EQ(2, run("check", IMG2, "--cipher", GCM, "--keyfile", KEY1));
	ASSERT_NE(NULL, strstr(out, "data sector 77: authentication failed"))
		TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "1 failed"));
	/* sectors 5 and 500 swapped, data and entries */
	copy_file(IMG, IMG2);
	{
		int fd = open(IMG2, O_RDWR);
		uint8_t d[2][512], m[2][32];

		for (i = 0; i < 2; i++) {
			uint64_t n = i ? 500 : 5;

			ASSERT_EQ(512, pread(fd, d[i], 512,
					     (h.data_off + n) * 512));
			ASSERT_EQ(32, pread(fd, m[i], 32, 512 + n * 32));
		}
		for (i = 0; i < 2; i++) {
			uint64_t n = i ? 5 : 500;

			ASSERT_EQ(512, pwrite(fd, d[i], 512,
					      (h.data_off + n) * 512));
			ASSERT_EQ(32, pwrite(fd, m[i], 32, 512 + n * 32));
		}
		close(fd);
	}
	ASSERT_EQ(2, run("check", IMG2, "--cipher", GCM, "--keyfile", KEY1));
	for (i = 0; i < 2; i++) {
		snprintf(msg, sizeof(msg), "data sector %u: authentication failed",
			 i ? 500 : 5);
		ASSERT_NE(NULL, strstr(out, msg)) TH_LOG("%s", out);
	}
	/* a damaged header */
	copy_file(IMG, IMG2);
	patch_file(IMG2, 45, "\x7f", 1);
	ASSERT_EQ(2, run("check", IMG2));
	ASSERT_NE(NULL, strstr(out, "authenticated header: bad CRC"));
	/* in place: neither encrypt nor decrypt */
	ASSERT_EQ(1, run("decrypt", IMG, "--cipher", GCM, "--keyfile", KEY1));
	ASSERT_NE(NULL, strstr(out, "in place"));
	ASSERT_EQ(0, gcm_read(IMG, key, &h, 1500, buf));
	ASSERT_EQ(0, memcmp(buf, plain[5], 512));
}

/*
 * rekey of an authenticated image: the written sectors decrypt with the
 * new key (new nonces), the others stay never written; killed half-way
 * through a chunk and resumed; also as a dynamic VHD.
 */
static void gcm_rekey(struct __test_metadata *_metadata, bool vhd)
{
	uint8_t k1[64], k2[64], plain[NR_GCM][512], buf[512];
	struct auth_hdr h;
	unsigned int i;
	const char *img = vhd ? VHD : IMG;
	char msg[80];

	NEED_TOOL();
	NEED_GCM();
	setup_dir(k1, k2);
	ASSERT_EQ(0, run("create", IMG, "--size", "1M", "--cipher", GCM));
	auth_hdr_read(IMG, &h);
	for (i = 0; i < NR_GCM; i++) {
		shv_fill_random(plain[i], 512);
		gcm_write(IMG, k1, &h, gcm_secs[i], plain[i]);
	}
	if (vhd) {
		ASSERT_EQ(0, run("convert", IMG, VHD, "--format", "vhd-dynamic",
				 "--block-size", "64K"));
		ASSERT_EQ(5, blocks_stored(VHD)) TH_LOG("%s", out);
	}
	ASSERT_EQ(128 + SIGKILL,
		  run_env("SHV_DISK_CRASH=torn:2", "rekey", img, "--cipher",
			  GCM, "--old-keyfile", KEY1, "--new-keyfile", KEY2,
			  "--chunk", "128K", NULL)) TH_LOG("%s", out);
	ASSERT_EQ(1, run("rekey", img, "--cipher", GCM, "--old-keyfile", KEY2,
			 "--new-keyfile", KEY1));
	ASSERT_EQ(0, run("rekey", img, "--cipher", GCM, "--old-keyfile", KEY1,
			 "--new-keyfile", KEY2)) TH_LOG("%s", out);
	ASSERT_NE(NULL, strstr(out, "redoing the interrupted chunk"));
	ASSERT_EQ(0, run("check", img, "--cipher", GCM, "--keyfile", KEY2))
		TH_LOG("%s", out);
	snprintf(msg, sizeof(msg), "6 of %llu data sectors written, 0 failed",
		 (unsigned long long)h.nr);
	ASSERT_NE(NULL, strstr(out, msg)) TH_LOG("%s", out);
	if (vhd) {
		ASSERT_EQ(5, blocks_stored(VHD));
		ASSERT_EQ(0, run("convert", VHD, IMG2, "--format", "raw"));
		img = IMG2;
	}
	for (i = 0; i < NR_GCM; i++) {
		ASSERT_EQ(0, gcm_read(img, k2, &h, gcm_secs[i], buf));
		ASSERT_EQ(0, memcmp(buf, plain[i], 512));
		ASSERT_EQ(-EBADMSG, gcm_read(img, k1, &h, gcm_secs[i], buf));
	}
}

TEST(gcm_rekey_raw)	{ gcm_rekey(_metadata, false); }
TEST(gcm_rekey_vhd)	{ gcm_rekey(_metadata, true); }

/*
 * With the aes-gcm-random plug-in loaded: an image shv-disk creates is
 * attached and written by the kernel, check verifies its tags and finds a
 * flipped bit (which the kernel reads as EIO); rekey, and the kernel reads
 * the data with the new key.
 */
TEST(gcm_plugin)
{
	uint8_t k1[64], k2[64], *mem;
	struct shv_disk_attach a = { .sector_size = 512, .key_size = 32 };
	struct auth_hdr h;
	struct shv_vm *vm;
	uint8_t *copy;
	int fd;

	NEED_TOOL();
	NEED_GCM();
	if (!plugin_loaded(GCM))
		SKIP(return, "plug-in %s not loaded", GCM);
	setup_dir(k1, k2);
	ASSERT_EQ(0, run("create", IMG, "--size", "1M", "--cipher", GCM));
	auth_hdr_read(IMG, &h);
	vm = shv_vm_create();
	mem = shv_vm_add_mem(vm, 1, MEM_GPA, MEM_LEN, 0);
	fd = open(IMG, O_RDWR);
	a.fd = fd;
	a.key = (uintptr_t)k1;
	strcpy(a.cipher, GCM);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(h.nr, a.nr_sectors);
	shv_fill_random(mem, 1000 * 512);
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_WRITE, 10, 1000, MEM_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_FLUSH, 0, 0, 0));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	copy = malloc(1000 * 512);
	memcpy(copy, mem, 1000 * 512);
	ASSERT_EQ(0, run("check", IMG, "--cipher", GCM, "--keyfile", KEY1))
		TH_LOG("%s", out);
	{
		char msg[80];

		snprintf(msg, sizeof(msg),
			 "1000 of %llu data sectors written, 0 failed",
			 (unsigned long long)h.nr);
		ASSERT_NE(NULL, strstr(out, msg)) TH_LOG("%s", out);
	}
	/* rekey; the kernel reads with the new key */
	ASSERT_EQ(0, run("rekey", IMG, "--cipher", GCM, "--old-keyfile", KEY1,
			 "--new-keyfile", KEY2)) TH_LOG("%s", out);
	a.key = (uintptr_t)k2;
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	memset(mem, 0, 1000 * 512);
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_READ, 10, 1000, MEM_GPA));
	ASSERT_EQ(0, memcmp(mem, copy, 1000 * 512));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	/* a flipped bit: check names the sector, the kernel says EIO */
	{
		uint8_t b;

		ASSERT_EQ(1, pread(fd, &b, 1, (h.data_off + 20) * 512 + 7));
		b ^= 0x10;
		ASSERT_EQ(1, pwrite(fd, &b, 1, (h.data_off + 20) * 512 + 7));
	}
	ASSERT_EQ(2, run("check", IMG, "--cipher", GCM, "--keyfile", KEY2));
	ASSERT_NE(NULL, strstr(out, "data sector 20: authentication failed"))
		TH_LOG("%s", out);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	ASSERT_EQ(-EIO, disk_io(vm->fd, SHV_DISK_OP_READ, 20, 1, MEM_GPA));
	shv_vm_free(vm);
	close(fd);
	free(copy);
}

/*
 * Dynamic VHDs between shv-disk and the kernel (where the uapi has
 * SHV_DISK_FORMAT_VHD): shv-disk creates, the kernel writes (allocating
 * blocks), shv-disk checks, converts and decrypts to the same plaintext,
 * re-keys, and the kernel reads with the new key; the same for an
 * authenticated image in a dynamic VHD, whose tags check verifies.
 */
static void vhd_kernel(struct __test_metadata *_metadata, const char *cipher)
{
#ifdef SHV_DISK_FORMAT_VHD
	bool gcm = !strcmp(cipher, GCM);
	uint8_t k1[64], k2[64], *mem, *copy, *img;
	struct shv_disk_attach a = { .sector_size = 512,
				     .key_size = gcm ? 32 : 64,
				     .format = SHV_DISK_FORMAT_VHD };
	struct shv_vm *vm;
	size_t len = 4 << 20;
	uint64_t secs;
	int fd;

	NEED_TOOL();
	NEED_AF_ALG();
	if (gcm)
		NEED_GCM();
	if (!plugin_loaded(cipher))
		SKIP(return, "plug-in %s not loaded", cipher);
	setup_dir(k1, k2);
	ASSERT_EQ(0, run("create", VHD, "--size", "4M", "--format",
			 "vhd-dynamic", "--block-size", "512K", "--cipher",
			 cipher, "--keyfile", KEY1)) TH_LOG("%s", out);
	vm = shv_vm_create();
	mem = shv_vm_add_mem(vm, 1, MEM_GPA, MEM_LEN, 0);
	fd = open(VHD, O_RDWR);
	a.fd = fd;
	a.key = (uintptr_t)k1;
	strcpy(a.cipher, cipher);
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a))
		TH_LOG("attach: %s", strerror(errno));
	secs = a.nr_sectors;
	/* 256 KiB at 1 MiB + 3 sectors: two blocks */
	shv_fill_random(mem, 512 << 10);
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_WRITE, 2051, 512, MEM_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_FLUSH, 0, 0, 0));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	copy = malloc(256 << 10);
	memcpy(copy, mem, 256 << 10);
	ASSERT_EQ(0, run("check", VHD)) TH_LOG("%s", out);
	if (gcm) {
		char msg[80];

		ASSERT_EQ(0, run("check", VHD, "--cipher", GCM, "--keyfile",
				 KEY1)) TH_LOG("%s", out);
		snprintf(msg, sizeof(msg), "512 of %llu data sectors written, 0 failed",
			 (unsigned long long)secs);
		ASSERT_NE(NULL, strstr(out, msg)) TH_LOG("%s", out);
	} else {
		/* to raw with the key, decrypted: the plaintext, zeros around */
		ASSERT_EQ(len / 512, secs);
		ASSERT_EQ(0, run("convert", VHD, IMG, "--format", "raw",
				 "--cipher", cipher, "--keyfile", KEY1));
		ASSERT_EQ(0, run("decrypt", IMG, "--cipher", cipher,
				 "--keyfile", KEY1));
		img = read_all(IMG, NULL);
		ASSERT_EQ(0, memcmp(img + 2051 * 512, copy, 256 << 10));
		ASSERT_TRUE(img[0] == 0 && !memcmp(img, img + 1, 2051 * 512 - 1));
		free(img);
	}
	ASSERT_EQ(0, run("rekey", VHD, "--cipher", cipher, "--old-keyfile",
			 KEY1, "--new-keyfile", KEY2)) TH_LOG("%s", out);
	a.key = (uintptr_t)k2;
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	memset(mem, 0x55, 512 << 10);
	ASSERT_EQ(0, disk_io(vm->fd, SHV_DISK_OP_READ, 2048, 1024, MEM_GPA));
	ASSERT_EQ(0, memcmp(mem + 3 * 512, copy, 256 << 10));
	ASSERT_TRUE(mem[0] == 0 && !memcmp(mem, mem + 1, 3 * 512 - 1));
	shv_vm_free(vm);
	close(fd);
	free(copy);
#else
	SKIP(return, "%s: no SHV_DISK_FORMAT_VHD in this uapi", cipher);
#endif
}

TEST(vhd_kernel_xts)	{ vhd_kernel(_metadata, XTS); }
TEST(vhd_kernel_gcm)	{ vhd_kernel(_metadata, GCM); }

/* ---- bad arguments: a clear message and exit status 1 ---- */

static void expect_error(struct __test_metadata *_metadata, int rc,
			 const char *msg)
{
	EXPECT_EQ(1, rc) TH_LOG("for '%s': %s", msg, out);
	EXPECT_NE(NULL, strstr(out, msg)) TH_LOG("wanted '%s' in: %s", msg,
						 out);
}

TEST(bad_arguments)
{
	uint8_t key[64];

	NEED_TOOL();
	setup_dir(NULL, NULL);
	free(make_plain(IMG, 64 << 10));
	expect_error(_metadata, run("frobnicate", IMG), "unknown command");
	expect_error(_metadata, run("create", IMG2), "--size is needed");
	expect_error(_metadata, run("create", IMG2, "--size", "12Q"),
		     "is not a size");
	expect_error(_metadata, run("create", IMG2, "--size", "1000"),
		     "not a multiple");
	expect_error(_metadata, run("create", IMG, "--size", "1M"), "exists");
	expect_error(_metadata, run("create", IMG2, "--size", "1M",
				    "--format", "qcow2"), "--format qcow2");
	expect_error(_metadata, run("create", IMG2, "--size", "4M",
				    "--format", "vhd-dynamic", "--block-size",
				    "3M"), "power of two");
	expect_error(_metadata, run("create", IMG2, "--size", "1M",
				    "--block-size", "1M"), "vhd-dynamic");
	expect_error(_metadata, run("encrypt", IMG, "--cipher", "rot13",
				    "--keyfile", KEY1), "unknown cipher 'rot13'");
	expect_error(_metadata, run("encrypt", IMG), "a key is needed");
	expect_error(_metadata, run("encrypt", IMG, "--keyfile",
				    DIR "/nokey"), "nokey");
	write_file(DIR "/short", "0123456789", 10);
	expect_error(_metadata, run("encrypt", IMG, "--keyfile",
				    DIR "/short"), "10 bytes");
	expect_error(_metadata, run("encrypt", IMG, "--keyfile", KEY1,
				    "--key-size", "128"), "not a key size");
	memset(key, 0x5a, sizeof(key));
	write_file(DIR "/weak", key, 64);
	expect_error(_metadata, run("encrypt", IMG, "--keyfile",
				    DIR "/weak"), "weak XTS key");
	expect_error(_metadata, run("encrypt", IMG, "--keyfile", KEY1,
				    "--sector", "1000"), "--sector 1000");
	expect_error(_metadata, run("encrypt", IMG, "--keyfile", KEY1,
				    "--size", "1M"), "does not apply");
	expect_error(_metadata, run("encrypt", IMG, "--keyfile", KEY1,
				    "--keyid", "user:x"), "not both");
	expect_error(_metadata, run("encrypt", IMG, "--keyid", "logon:x"),
		     "logon keys cannot be read");
	expect_error(_metadata, run("encrypt", IMG), "a key is needed");
	expect_error(_metadata, run("encrypt", IMG, IMG2, "--keyfile", KEY1),
		     "expected one IMAGE");
	expect_error(_metadata, run("encrypt", DIR "/none.img", "--keyfile",
				    KEY1), "none.img");
	expect_error(_metadata, run("rekey", IMG, "--old-keyfile", KEY1),
		     "the new key is needed");
	expect_error(_metadata, run("rekey", IMG, "--old-keyfile", KEY1,
				    "--new-keyfile", KEY1),
		     "the new key is the old key");
	expect_error(_metadata, run("rekey", IMG, "--keyfile", KEY1,
				    "--new-keyfile", KEY2, "--bogus"),
		     "unknown option");
	expect_error(_metadata, run("convert", IMG, IMG2), "--format is needed");
	write_file(IMG2, "x", 1000);
	expect_error(_metadata, run("encrypt", IMG2, "--keyfile", KEY1),
		     "not a multiple of the 512-byte sector");
	expect_error(_metadata, run("convert", IMG2, VHD, "--format",
				    "vhd-fixed"), "whole 512-byte sectors");
	/* nothing was left behind by the failures */
	ASSERT_NE(0, access(JOURNAL, F_OK));
	ASSERT_NE(0, access(VHD, F_OK));
	EXPECT_EQ(0, run("--help"));
	EXPECT_NE(NULL, strstr(out, "usage: shv-disk"));
}

TEST_HARNESS_MAIN
