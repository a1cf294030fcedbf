// SPDX-License-Identifier: GPL-2.0
/*
 * crypt_test: encrypted disks (Documentation/crypt.rst).  Round trips of
 * random data through every plug-in and sector size between guest memory
 * and an image; the image compared with the kernel's own ciphers through
 * AF_ALG (IV conventions), and with dm-crypt through cryptsetup plain
 * mode both ways; wrong keys, keyring keys, bad input, and a plug-in that
 * cannot be unloaded under a disk.
 */
#include <fcntl.h>
#include <pthread.h>
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
#include <unistd.h>
#include <linux/if_alg.h>
#include <linux/keyctl.h>

#include "kselftest_harness.h"
#include "shv_util.h"

#define XTS	"aes-xts-plain64"
#define ESSIV	"aes-cbc-essiv:sha256"
#define BUF_GPA	0x20000ull	/* 128 KiB of RAM from here: data */
#define BUF2_GPA 0x50000ull	/* and here: read back */
#define IMG_SECTORS_512 256	/* 128 KiB images */

static int attach(int vm_fd, unsigned int disk, int fd, const char *cipher,
		  const void *key, unsigned int key_size,
		  unsigned int sector_size, uint32_t flags, uint64_t iv_offset)
{
	struct shv_disk_attach a = {
		.disk = disk, .fd = fd, .flags = flags,
		.sector_size = sector_size, .iv_offset = iv_offset,
		.key = (uintptr_t)key, .key_size = key_size,
	};

	strncpy(a.cipher, cipher, sizeof(a.cipher) - 1);
	return ioctl(vm_fd, SHV_DISK_ATTACH, &a);
}

/* one descriptor; returns its result (0 or -errno), or -1000 - errno */
static int disk_io(int vm_fd, unsigned int disk, uint32_t op, uint32_t flags,
		   uint64_t sector, uint32_t nr, uint64_t gpa)
{
	struct {
		struct shv_disk_ios h;
		struct shv_disk_io io;
	} q = {
		.h = { .disk = disk, .nr = 1 },
		.io = { .op = op, .flags = flags, .sector = sector,
			.nr_sectors = nr, .gpa = gpa },
	};
	long r = ioctl(vm_fd, SHV_DISK_IO, &q);

	if (r < 0)
		return -1000 - errno;
	return q.io.result;
}

static void read_file(int fd, void *buf, size_t len, off_t off)
{
	SHV_CHECK(pread(fd, buf, len, off) == (ssize_t)len, "pread");
}

static int plugin_users(const char *name)
{
	struct {
		struct shv_crypt_list h;
		struct shv_crypt_plugin_info p[SHV_CRYPT_MAX_PLUGINS];
	} l = { .h.nr = SHV_CRYPT_MAX_PLUGINS };
	int sys = shv_open_dev(), n, i;

	n = ioctl(sys, SHV_CRYPT_LIST, &l);
	close(sys);
	SHV_CHECK(n >= 0, "SHV_CRYPT_LIST: %s", strerror(errno));
	for (i = 0; i < n && i < SHV_CRYPT_MAX_PLUGINS; i++)
		if (!strcmp(l.p[i].name, name))
			return l.p[i].users;
	return -1;
}

/* the tests need the plug-ins loaded (the rig does; Bochs does not) */
#define NEED_PLUGIN(name) do {						\
	if (plugin_users(name) < 0)					\
		SKIP(return, "plug-in %s not loaded", name);		\
} while (0)

TEST(plugins_listed)
{
	struct {
		struct shv_crypt_list h;
		struct shv_crypt_plugin_info p[SHV_CRYPT_MAX_PLUGINS];
	} l = { .h.nr = SHV_CRYPT_MAX_PLUGINS };
	struct shv_crypt_list small = { .nr = 0 };
	int sys = shv_open_dev(), n, i, found = 0;

	NEED_PLUGIN(XTS);
	NEED_PLUGIN(ESSIV);
	ASSERT_EQ(SHV_CRYPT_MAX_DISKS,
		  ioctl(sys, SHV_CHECK_EXTENSION, SHV_CAP_CRYPT));
	n = ioctl(sys, SHV_CRYPT_LIST, &l);
	ASSERT_GE(n, 2);
	for (i = 0; i < n; i++) {
		TH_LOG("plug-in %s: key sizes %u %u %u, sectors %#x, iv %u, caps %#x, users %u",
		       l.p[i].name, l.p[i].key_sizes[0], l.p[i].key_sizes[1],
		       l.p[i].key_sizes[2], l.p[i].sector_sizes,
		       l.p[i].iv_scheme, l.p[i].caps, l.p[i].users);
		if (!strcmp(l.p[i].name, XTS)) {
			found |= 1;
			ASSERT_EQ(SHV_CRYPT_IV_PLAIN64, l.p[i].iv_scheme);
			ASSERT_TRUE(l.p[i].sector_sizes & 512);
			ASSERT_TRUE(l.p[i].sector_sizes & 4096);
			ASSERT_EQ(0, l.p[i].caps & SHV_CRYPT_CAP_AUTH);
		}
		if (!strcmp(l.p[i].name, ESSIV)) {
			found |= 2;
			ASSERT_EQ(SHV_CRYPT_IV_ESSIV, l.p[i].iv_scheme);
		}
	}
	ASSERT_EQ(3, found);
	/* no room: the count only */
	ASSERT_EQ(n, ioctl(sys, SHV_CRYPT_LIST, &small));
	small.pad = 1;
	ASSERT_ERRNO(EINVAL, ioctl(sys, SHV_CRYPT_LIST, &small));
	small.pad = 0;
	small.nr = SHV_CRYPT_MAX_PLUGINS + 1;
	ASSERT_ERRNO(EINVAL, ioctl(sys, SHV_CRYPT_LIST, &small));
	close(sys);
}

/*
 * Write random data from guest memory to disk 0 in several descriptors
 * (one from a guest address that is not sector aligned), read it back
 * into other guest memory, check the image is not the plaintext, reattach
 * and read again; a wrong key reads something else.
 */
static void roundtrip(struct __test_metadata *_metadata, const char *cipher,
		      unsigned int key_size, unsigned int ss, uint32_t flags)
{
	struct shv_vm *vm = shv_vm_create();
	unsigned int nsec = IMG_SECTORS_512 * 512 / ss, half = nsec / 2;
	size_t len = (size_t)nsec * ss;
	uint8_t key[64], bad[64], *src, *dst, *img;
	const char *path = "/tmp/shv-crypt-rt.img";
	unsigned int i;
	int fd;

	NEED_PLUGIN(cipher);
	shv_fill_random(key, sizeof(key));
	memcpy(bad, key, sizeof(bad));
	bad[0] ^= 1;
	fd = shv_make_image(path, len);
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	img = malloc(len);
	ASSERT_NE(NULL, img);
	shv_fill_random(src, len);

	ASSERT_EQ(0, attach(vm->fd, 0, fd, cipher, key, key_size, ss, flags,
			    0));
	ASSERT_EQ(1, plugin_users(cipher));
	/* the first half in one go, then sector by sector from +512 */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, half,
			     BUF_GPA));
	memmove(src + half * ss + 512, src + half * ss, (nsec - half) * ss);
	for (i = half; i < nsec; i++)
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE,
				     i == nsec - 1 ? SHV_DISK_IO_FUA : 0, i, 1,
				     BUF_GPA + (uint64_t)i * ss + 512));
	memmove(src + half * ss, src + half * ss + 512, (nsec - half) * ss);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_FLUSH, 0, 0, 0, 0));

	memset(dst, 0, len);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, nsec,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, len));
	read_file(fd, img, len, 0);
	for (i = 0; i < nsec; i++) {
		ASSERT_NE(0, memcmp(img + i * ss, src + i * ss, ss))
			TH_LOG("sector %u stored in the clear", i);
	}

	/* detach, attach again: the same plaintext, also unaligned */
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	ASSERT_EQ(0, plugin_users(cipher));
	ASSERT_EQ(0, attach(vm->fd, 0, fd, cipher, key, key_size, ss, flags,
			    0));
	memset(dst, 0, len);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 1, nsec - 1,
			     BUF2_GPA + 512));
	ASSERT_EQ(0, memcmp(src + ss, dst + 512, len - ss));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));

	/* a wrong key: every sector reads as something else */
	ASSERT_EQ(0, attach(vm->fd, 1, fd, cipher, bad, key_size, ss, flags,
			    0));
	ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 0, nsec,
			     BUF2_GPA));
	for (i = 0; i < nsec; i++)
		ASSERT_NE(0, memcmp(src + i * ss, dst + i * ss, ss));
	/* closing the VM detaches */
	shv_vm_free(vm);
	ASSERT_EQ(0, plugin_users(cipher));
	free(img);
	close(fd);
	unlink(path);
}

TEST(roundtrip_xts_512)		{ roundtrip(_metadata, XTS, 64, 512, 0); }
TEST(roundtrip_xts_4096)	{ roundtrip(_metadata, XTS, 64, 4096, 0); }
TEST(roundtrip_xts256_4096_large) { roundtrip(_metadata, XTS, 32, 4096,
					      SHV_DISK_IV_LARGE_SECTORS); }
TEST(roundtrip_essiv_512)	{ roundtrip(_metadata, ESSIV, 32, 512, 0); }
TEST(roundtrip_essiv_4096)	{ roundtrip(_metadata, ESSIV, 16, 4096, 0); }

/*
 * Attach, I/O, detach, failed attaches, VMs closed with disks: no leak.
 * Early, before dm-crypt and loop devices come and go (their teardown
 * frees memory late).
 */
TEST(no_leak)
{
	static struct shv_memsnap before;
	const char *path = "/tmp/shv-crypt-leak.img";
	int fd = shv_make_image(path, 64 * 4096), i, j;
	uint8_t key[64], weak[64];
	struct shv_vm *vm;

	NEED_PLUGIN(XTS);
	NEED_PLUGIN(ESSIV);
	shv_fill_random(key, sizeof(key));
	memset(weak, 0x11, sizeof(weak));
	for (i = -1; i < 300; i++) {
		if (i == 0)
			shv_memsnap(&before);
		vm = shv_vm_create();
		for (j = 0; j < 4; j++) {
			const char *c = j & 1 ? ESSIV : XTS;
			unsigned int ks = j & 1 ? 32 : 64, ss = j & 2 ? 4096 : 512;

			ASSERT_EQ(0, attach(vm->fd, j, fd, c, key, ks, ss, 0,
					    0));
			ASSERT_EQ(0, disk_io(vm->fd, j, SHV_DISK_OP_WRITE, 0,
					     0, 8, BUF_GPA + 100));
			ASSERT_EQ(0, disk_io(vm->fd, j, SHV_DISK_OP_READ, 0,
					     0, 8, BUF2_GPA));
		}
		ASSERT_ERRNO(EKEYREJECTED, attach(vm->fd, 9, fd, XTS, weak,
						  64, 512, 0, 0));
		ASSERT_ERRNO(EOPNOTSUPP, attach(vm->fd, 9, fd, XTS, key, 16,
						512, 0, 0));
		ASSERT_ERRNO(EEXIST, attach(vm->fd, 0, fd, XTS, key, 64, 512,
					    0, 0));
		ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
		ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 1));
		/* disks 2 and 3 go with the VM */
		shv_vm_free(vm);
	}
	ASSERT_EQ(0, plugin_users(XTS));
	ASSERT_EQ(0, plugin_users(ESSIV));
	ASSERT_EQ(0, shv_leak_check(&before, 300));
	close(fd);
	unlink(path);
}

/* Encrypt one sector through AF_ALG: the kernel's cipher, our IV. */
static int af_alg_encrypt(const char *alg, const uint8_t *key,
			  unsigned int key_size, uint64_t iv_sector,
			  const uint8_t *in, uint8_t *out, unsigned int len)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	char cbuf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)];
	struct iovec iov = { .iov_base = (void *)in, .iov_len = len };
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct af_alg_iv *aiv;
	struct cmsghdr *c;
	int tfm, op, r = -1;

	strcpy((char *)sa.salg_type, "skcipher");
	strcpy((char *)sa.salg_name, alg);
	tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (tfm < 0)
		return -1;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, key_size))
		goto out;
	op = accept(tfm, NULL, 0);
	if (op < 0)
		goto out;
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(c) = ALG_OP_ENCRYPT;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(*aiv) + 16);
	aiv = (void *)CMSG_DATA(c);
	aiv->ivlen = 16;
	shv_put_le(aiv->iv, 8, iv_sector);
	if (sendmsg(op, &msg, 0) == (ssize_t)len &&
	    read(op, out, len) == (ssize_t)len)
		r = 0;
	close(op);
out:
	close(tfm);
	return r;
}

/*
 * The image as the kernel's xts(aes) makes it with dm-crypt's plain64
 * IV: 512-byte units plus the IV offset, or sector_size units with
 * SHV_DISK_IV_LARGE_SECTORS (iv_offset stays in 512-byte units).
 */
static void iv_check(struct __test_metadata *_metadata, unsigned int ss,
		     uint32_t flags, uint64_t iv_offset)
{
	struct shv_vm *vm = shv_vm_create();
	unsigned int nsec = 8;
	uint8_t key[64], *src, img[4096], ref[4096];
	int fd = shv_make_image("/tmp/shv-crypt-iv.img", nsec * ss);
	unsigned int i;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	src = shv_gpa2hva(vm, BUF_GPA);
	shv_fill_random(src, nsec * ss);
	ASSERT_EQ(0, attach(vm->fd, 3, fd, XTS, key, 64, ss, flags,
			    iv_offset));
	ASSERT_EQ(0, disk_io(vm->fd, 3, SHV_DISK_OP_WRITE, 0, 0, nsec,
			     BUF_GPA));
	for (i = 0; i < nsec; i++) {
		uint64_t iv = (uint64_t)i * (ss / 512) + iv_offset;

		if (flags & SHV_DISK_IV_LARGE_SECTORS)
			iv /= ss / 512;
		if (af_alg_encrypt("xts(aes)", key, 64, iv, src + i * ss, ref,
				   ss)) {
			shv_vm_free(vm);
			SKIP(return, "no AF_ALG skcipher xts(aes) here");
		}
		read_file(fd, img, ss, (off_t)i * ss);
		ASSERT_EQ(0, memcmp(img, ref, ss)) {
			TH_LOG("sector %u", i);
		}
	}
	shv_vm_free(vm);
	close(fd);
	unlink("/tmp/shv-crypt-iv.img");
}

TEST(af_alg_iv_512)		{ iv_check(_metadata, 512, 0, 0); }
TEST(af_alg_iv_512_offset)	{ iv_check(_metadata, 512, 0, 1000); }
TEST(af_alg_iv_4096)		{ iv_check(_metadata, 4096, 0, 0); }
TEST(af_alg_iv_4096_offset)	{ iv_check(_metadata, 4096, 0, 64); }
TEST(af_alg_iv_4096_large)	{ iv_check(_metadata, 4096,
					   SHV_DISK_IV_LARGE_SECTORS, 64); }

/* ---- dm-crypt through cryptsetup plain mode ---- */

static const char *cryptsetup(void)
{
	return shv_which("cryptsetup");
}


#define DM_NAME	"shvcrypttest"
#define DM_DEV	"/dev/mapper/" DM_NAME

static int dm_open(const char *cs, const char *img, unsigned int ss,
		   const char *keyfile, unsigned int skip)
{
	/* a key file is used as it is in plain mode (no --hash) */
	return shv_sh("%s open --batch-mode --type plain --cipher aes-xts-plain64 --key-size 512 --key-file %s --sector-size %u --skip %u --disable-locks %s %s </dev/null 2>&1",
		  cs, keyfile, ss, skip, img, DM_NAME);
}

static void dm_close(const char *cs)
{
	shv_sh("%s close --batch-mode --disable-locks " DM_NAME " </dev/null 2>&1",
	   cs);
}

/*
 * shv writes, dm-crypt reads; dm-crypt writes, shv reads.  skip is
 * cryptsetup's --skip, dm-crypt's iv_offset (512-byte units).
 */
static void dm_interop(struct __test_metadata *_metadata, unsigned int ss,
		       unsigned int skip)
{
	const char *cs = cryptsetup(), *img = "/tmp/shv-crypt-dm.img",
		   *keyfile = "/tmp/shv-crypt-dm.key";
	unsigned int nsec = IMG_SECTORS_512 * 512 / ss;
	size_t len = (size_t)nsec * ss;
	uint8_t key[64], *src, *dst, *buf;
	struct shv_vm *vm;
	int fd, kfd, dfd;

	NEED_PLUGIN(XTS);
	if (!cs)
		SKIP(return, "no cryptsetup");
	shv_fill_random(key, sizeof(key));
	kfd = open(keyfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(kfd, 0);
	ASSERT_EQ(64, write(kfd, key, 64));
	close(kfd);
	fd = shv_make_image(img, len);
	vm = shv_vm_create();
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	buf = aligned_alloc(4096, len);	/* for O_DIRECT */
	ASSERT_NE(NULL, buf);

	/* shv writes */
	shv_fill_random(src, len);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, ss, 0, skip));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, SHV_DISK_IO_FUA,
			     0, nsec, BUF_GPA));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));

	/* dm-crypt reads the same plaintext */
	ASSERT_EQ(0, dm_open(cs, img, ss, keyfile, skip));
	dfd = open(DM_DEV, O_RDWR | O_DIRECT);
	if (dfd < 0)
		dfd = open(DM_DEV, O_RDWR);
	ASSERT_GE(dfd, 0) {
		dm_close(cs);
	}
	ASSERT_EQ((ssize_t)len, pread(dfd, buf, len, 0)) {
		close(dfd);
		dm_close(cs);
	}
	EXPECT_EQ(0, memcmp(buf, src, len));

	/* dm-crypt writes new plaintext */
	shv_fill_random(buf, len);
	EXPECT_EQ((ssize_t)len, pwrite(dfd, buf, len, 0));
	EXPECT_EQ(0, fsync(dfd));
	close(dfd);
	dm_close(cs);
	ASSERT_EQ(0, _metadata->passed ? 0 : 1);

	/* shv reads it */
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, ss, 0, skip));
	memset(dst, 0, len);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, nsec,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(buf, dst, len));
	shv_vm_free(vm);
	free(buf);
	close(fd);
	unlink(img);
	unlink(keyfile);
}

TEST(dmcrypt_plain_512)		{ dm_interop(_metadata, 512, 0); }
TEST(dmcrypt_plain_512_skip)	{ dm_interop(_metadata, 512, 24); }
TEST(dmcrypt_plain_4096)	{ dm_interop(_metadata, 4096, 0); }
TEST(dmcrypt_plain_4096_skip)	{ dm_interop(_metadata, 4096, 16); }

/*
 * ---- two threads at once, I/O across chunks (256 KiB), sectors
 * straddling guest pages ----
 */

#define BIG_GPA		0x100000ull
#define BIG_LEN		(2u << 20)	/* two halves, one per thread */

struct worker {
	int vm_fd;
	unsigned int id;
	uint8_t *mem;		/* BIG_GPA's host address */
	int err;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	unsigned int half = BIG_LEN / 2, nsec = half / 2 / 512, round;
	uint64_t src = BIG_GPA + (uint64_t)w->id * half;
	uint64_t dst = src + half / 2;
	uint64_t sector = (uint64_t)w->id * nsec;

	for (round = 0; round < 4 && !w->err; round++) {
		shv_fill_random(w->mem + (src - BIG_GPA), half / 2);
		if (disk_io(w->vm_fd, 0, SHV_DISK_OP_WRITE, 0, sector, nsec,
			    src) ||
		    disk_io(w->vm_fd, 0, SHV_DISK_OP_READ, 0, sector + 1,
			    nsec - 1, dst + 100) ||
		    memcmp(w->mem + (src - BIG_GPA) + 512,
			   w->mem + (dst - BIG_GPA) + 100, half / 2 - 512))
			w->err = 1;
	}
	return NULL;
}

TEST(concurrent_io)
{
	struct shv_vm *vm = shv_vm_create();
	int fd = shv_make_image("/tmp/shv-crypt-mt.img", 1 << 20);
	struct worker w[2];
	pthread_t t[2];
	uint8_t key[64], *mem;
	int i;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	mem = shv_vm_add_mem(vm, 1, BIG_GPA, BIG_LEN + 0x1000, 0);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, 512, 0, 0));
	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){ .vm_fd = vm->fd, .id = i, .mem = mem };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker_fn, &w[i]));
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].err) TH_LOG("thread %d", i);
	}
	/* detach while nothing runs, then the VM goes */
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	shv_vm_free(vm);
	close(fd);
	unlink("/tmp/shv-crypt-mt.img");
}

/* ---- keys from the kernel keyring ---- */

TEST(keyring_key)
{
	struct shv_vm *vm = shv_vm_create();
	uint8_t key[64], *src, *dst;
	int fd = shv_make_image("/tmp/shv-crypt-key.img", 64 * 512);
	long id;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	id = syscall(SYS_add_key, "logon", "shvtest:disk", key, 64,
		     KEY_SPEC_PROCESS_KEYRING);
	if (id < 0) {
		shv_vm_free(vm);
		SKIP(return, "add_key: %s", strerror(errno));
	}
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	shv_fill_random(src, 64 * 512);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, "logon:shvtest:disk", 64, 512,
			    SHV_DISK_KEY_KEYRING, 0));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 64, BUF_GPA));
	/* the same key as bytes reads it back */
	ASSERT_EQ(0, attach(vm->fd, 1, fd, XTS, key, 64, 512, 0, 0));
	ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 0, 64, BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, 64 * 512));
	/* wrong size, unknown key, unknown type */
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 2, fd, XTS, "logon:shvtest:disk",
				    32, 512, SHV_DISK_KEY_KEYRING, 0));
	ASSERT_ERRNO(ENOKEY, attach(vm->fd, 2, fd, XTS, "logon:shvtest:none",
				    64, 512, SHV_DISK_KEY_KEYRING, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 2, fd, XTS, "big_key:x", 64, 512,
				    SHV_DISK_KEY_KEYRING, 0));
	shv_vm_free(vm);
	close(fd);
	unlink("/tmp/shv-crypt-key.img");
}

/* ---- bad input ---- */

TEST(bad_attach)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-crypt-bad.img";
	struct shv_disk_attach a;
	uint8_t key[64] = { 1, 2, 3 };
	int fd = shv_make_image(path, 64 * 4096), odd, empty, ro, app, pfd[2];

	NEED_PLUGIN(XTS);
	NEED_PLUGIN(ESSIV);
	key[40] = 7;
	odd = shv_make_image("/tmp/shv-crypt-odd.img", 64 * 512 + 100);
	empty = shv_make_image("/tmp/shv-crypt-empty.img", 0);
	ro = open(path, O_RDONLY);
	ASSERT_GE(ro, 0);
	app = open(path, O_RDWR | O_APPEND);
	ASSERT_GE(app, 0);
	ASSERT_EQ(0, pipe(pfd));

	ASSERT_ERRNO(ENOENT, attach(vm->fd, 0, fd, "rot13-ecb-plain", key, 64,
				    512, 0, 0));
	ASSERT_ERRNO(EOPNOTSUPP, attach(vm->fd, 0, fd, XTS, key, 16, 512, 0,
					0));
	ASSERT_ERRNO(EOPNOTSUPP, attach(vm->fd, 0, fd, ESSIV, key, 64, 512, 0,
					0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key, 0, 512, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key,
				    SHV_CRYPT_MAX_KEY_SIZE + 1, 512, 0, 0));
	ASSERT_ERRNO(EFAULT, attach(vm->fd, 0, fd, XTS, (void *)8, 64, 512, 0,
				    0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key, 64, 1000, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key, 64, 256, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key, 64, 8192, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, odd, XTS, key, 64, 512, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key, 64, 512 * 3, 0,
				    0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, empty, XTS, key, 64, 512, 0,
				    0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, pfd[0], XTS, key, 64, 512,
				    SHV_DISK_READONLY, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, app, XTS, key, 64, 512, 0, 0));
	ASSERT_ERRNO(EBADF, attach(vm->fd, 0, -1, XTS, key, 64, 512, 0, 0));
	ASSERT_ERRNO(EBADF, attach(vm->fd, 0, 1000, XTS, key, 64, 512, 0, 0));
	ASSERT_ERRNO(EBADF, attach(vm->fd, 0, ro, XTS, key, 64, 512, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, SHV_CRYPT_MAX_DISKS, fd, XTS, key,
				    64, 512, 0, 0));
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, XTS, key, 64, 512, 1u << 7,
				    0));
	/* equal XTS halves are a weak key: refused */
	memset(key, 0x5a, sizeof(key));
	ASSERT_ERRNO(EKEYREJECTED, attach(vm->fd, 0, fd, XTS, key, 64, 512, 0,
					  0));
	key[40] = 7;
	memset(&a, 0, sizeof(a));
	a.fd = fd;
	a.sector_size = 512;
	a.key = (uintptr_t)key;
	a.key_size = 64;
	memset(a.cipher, 'x', sizeof(a.cipher));	/* no NUL */
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	strcpy(a.cipher, XTS);
	a.reserved[2] = 1;
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	a.reserved[2] = 0;
	a.format = 2;	/* no such format */
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	a.format = 0;
	ASSERT_EQ(0, plugin_users(XTS));

	/* a good one, its size reported; the number taken */
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_ATTACH, &a));
	ASSERT_EQ(64 * 8, a.nr_sectors);
	ASSERT_ERRNO(EEXIST, attach(vm->fd, 0, fd, XTS, key, 64, 512, 0, 0));
	ASSERT_EQ(1, plugin_users(XTS));
	/* read-only from an O_RDONLY fd */
	ASSERT_EQ(0, attach(vm->fd, 5, ro, XTS, key, 64, 4096,
			    SHV_DISK_READONLY, 0));
	ASSERT_ERRNO(ENOENT, ioctl(vm->fd, SHV_DISK_DETACH, 1));
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_DETACH,
				   SHV_CRYPT_MAX_DISKS));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 5));
	ASSERT_EQ(0, plugin_users(XTS));
	shv_vm_free(vm);
	close(fd);
	close(odd);
	close(empty);
	close(ro);
	close(app);
	close(pfd[0]);
	close(pfd[1]);
	unlink(path);
	unlink("/tmp/shv-crypt-odd.img");
	unlink("/tmp/shv-crypt-empty.img");
}

TEST(bad_io)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-crypt-bio.img";
	uint8_t key[64], *rom;
	int fd = shv_make_image(path, 64 * 512), ro = open(path, O_RDONLY);
	struct {
		struct shv_disk_ios h;
		struct shv_disk_io io[3];
	} q;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	rom = shv_vm_add_mem(vm, 1, 0x100000, 0x10000, SHV_MEM_READONLY);
	ASSERT_NE(NULL, rom);
	ASSERT_EQ(-1000 - ENOENT, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0,
					  1, BUF_GPA));
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, 512, 0, 0));
	ASSERT_EQ(0, attach(vm->fd, 1, ro, XTS, key, 64, 512,
			    SHV_DISK_READONLY, 0));

	ASSERT_EQ(-ERANGE, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 64, 1,
				   BUF_GPA));
	ASSERT_EQ(-ERANGE, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 63, 2,
				   BUF_GPA));
	ASSERT_EQ(-ERANGE, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 0,
				   BUF_GPA));
	ASSERT_EQ(-ERANGE, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0,
				   ~0ull - 1, 4, BUF_GPA));
	ASSERT_EQ(-ERANGE, disk_io(vm->fd, 0, SHV_DISK_OP_DISCARD, 0, 60, 8,
				   0));
	ASSERT_EQ(-EINVAL, disk_io(vm->fd, 0, 7, 0, 0, 1, BUF_GPA));
	ASSERT_EQ(-EINVAL, disk_io(vm->fd, 0, SHV_DISK_OP_READ,
				   SHV_DISK_IO_FUA, 0, 1, BUF_GPA));
	ASSERT_EQ(-EINVAL, disk_io(vm->fd, 0, SHV_DISK_OP_FLUSH, 0, 1, 0, 0));
	/* guest memory: none there, across the end of RAM, read-only */
	ASSERT_EQ(-EFAULT, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, 1,
				   0x90000000ull));
	ASSERT_EQ(-EFAULT, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, 2,
				   RAM_SIZE - 512));
	ASSERT_EQ(-EFAULT, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 1,
				   ~0ull - 100));
	ASSERT_EQ(-EFAULT, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, 1,
				   0x100000));
	/* a ROM may be the source of a write */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 1, 0x100000));
	/* read-only disk */
	ASSERT_EQ(-EROFS, disk_io(vm->fd, 1, SHV_DISK_OP_WRITE, 0, 0, 1,
				  BUF_GPA));
	ASSERT_EQ(-EROFS, disk_io(vm->fd, 1, SHV_DISK_OP_DISCARD, 0, 0, 1, 0));
	ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 0, 1, BUF_GPA));
	/* flush and discard */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_FLUSH, 0, 0, 0, 0));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_DISCARD, 0, 8, 8, 0));

	/* a batch stops at the first failure */
	memset(&q, 0, sizeof(q));
	q.h.disk = 0;
	q.h.nr = 3;
	q.io[0] = (struct shv_disk_io){ .op = SHV_DISK_OP_WRITE, .sector = 0,
					.nr_sectors = 4, .gpa = BUF_GPA };
	q.io[1] = (struct shv_disk_io){ .op = SHV_DISK_OP_READ, .sector = 99,
					.nr_sectors = 1, .gpa = BUF_GPA };
	q.io[2] = (struct shv_disk_io){ .op = SHV_DISK_OP_FLUSH };
	ASSERT_EQ(1, ioctl(vm->fd, SHV_DISK_IO, &q));
	ASSERT_EQ(0, q.io[0].result);
	ASSERT_EQ(-ERANGE, q.io[1].result);
	ASSERT_EQ(-ECANCELED, q.io[2].result);
	q.h.nr = 0;
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_IO, &q));
	q.h.nr = SHV_DISK_MAX_IOS + 1;
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_IO, &q));
	q.h.nr = 1;
	q.h.reserved = 1;
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_IO, &q));
	q.h.reserved = 0;
	q.h.disk = SHV_CRYPT_MAX_DISKS;
	ASSERT_ERRNO(EINVAL, ioctl(vm->fd, SHV_DISK_IO, &q));
	q.h.disk = 0;
	q.io[0].reserved = 1;
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_IO, &q));
	ASSERT_EQ(-EINVAL, q.io[0].result);
	ASSERT_ERRNO(EFAULT, ioctl(vm->fd, SHV_DISK_IO, (void *)8));

	shv_vm_free(vm);
	close(fd);
	close(ro);
	unlink(path);
}

/* The plug-in cannot be unloaded while a disk uses it. */
TEST(unload_in_use)
{
	struct shv_vm *vm = shv_vm_create();
	const char *ko = getenv("SHV_XTS_KO") ?: "/shv-aes-xts.ko";
	uint8_t key[64];
	int fd = shv_make_image("/tmp/shv-crypt-unl.img", 64 * 512), kfd;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, 512, 0, 0));
	/* delete_module fails with EWOULDBLOCK (rmmod: "in use") */
	ASSERT_ERRNO(EWOULDBLOCK, syscall(SYS_delete_module, "shv_aes_xts",
					  O_NONBLOCK));
	ASSERT_EQ(1, plugin_users(XTS));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 8, BUF_GPA));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));

	/* unused now: it goes, and comes back, when its .ko is at hand */
	kfd = open(ko, O_RDONLY | O_CLOEXEC);
	if (kfd >= 0) {
		ASSERT_EQ(0, syscall(SYS_delete_module, "shv_aes_xts",
				     O_NONBLOCK));
		ASSERT_EQ(-1, plugin_users(XTS));
		ASSERT_ERRNO(ENOENT, attach(vm->fd, 0, fd, XTS, key, 64, 512,
					    0, 0));
		ASSERT_EQ(0, syscall(SYS_finit_module, kfd, "", 0));
		close(kfd);
		ASSERT_EQ(0, plugin_users(XTS));
		ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, 512, 0, 0));
	} else {
		TH_LOG("%s: %s; not unloaded", ko, strerror(errno));
	}
	shv_vm_free(vm);
	close(fd);
	unlink("/tmp/shv-crypt-unl.img");
}

TEST_HARNESS_MAIN
