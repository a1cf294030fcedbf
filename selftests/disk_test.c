// SPDX-License-Identifier: GPL-2.0
/*
 * disk_test: the authenticated plug-in (aes-gcm-random) and VHD images
 * (Documentation/crypt.rst, "The authenticated layout" and "VHD images").
 * GCM round trips at 512 and 4096 bytes, its sectors checked against the
 * kernel's gcm(aes) through AF_ALG with the documented nonce, tag and AAD;
 * flipped bits, sectors moved within and between images, wrong keys and
 * corrupt headers; VHD fixed and dynamic round trips under every plug-in,
 * dynamic disks growing on write with the BAT written at flush, and
 * truncated or corrupt VHDs refused.  The VHD files are made here, by the
 * specification.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_alg.h>

#include "kselftest_harness.h"
#include "shv_util.h"

#define XTS	"aes-xts-plain64"
#define ESSIV	"aes-cbc-essiv:sha256"
#define GCM	"aes-gcm-random"
#define BUF_GPA	0x20000ull	/* 128 KiB of RAM from here: data */
#define BUF2_GPA 0x50000ull	/* and here: read back */
#define BUF_LEN	0x20000

#define META	32		/* aes-gcm-random's metadata entry */
#define RAW	SHV_DISK_FORMAT_RAW
#define VHD	SHV_DISK_FORMAT_VHD

static void pread_all(int fd, void *buf, size_t len, off_t off)
{
	SHV_CHECK(pread(fd, buf, len, off) == (ssize_t)len, "pread");
}

static void pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	SHV_CHECK(pwrite(fd, buf, len, off) == (ssize_t)len, "pwrite");
}

static int attach(int vm_fd, unsigned int disk, int fd, const char *cipher,
		  const void *key, unsigned int key_size,
		  unsigned int sector_size, uint32_t format,
		  uint64_t *nr_sectors)
{
	struct shv_disk_attach a = {
		.disk = disk, .fd = fd, .sector_size = sector_size,
		.key = (uintptr_t)key, .key_size = key_size, .format = format,
	};
	int r;

	strncpy(a.cipher, cipher, sizeof(a.cipher) - 1);
	r = ioctl(vm_fd, SHV_DISK_ATTACH, &a);
	if (!r && nr_sectors)
		*nr_sectors = a.nr_sectors;
	return r;
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

static int plugin_info(const char *name, struct shv_crypt_plugin_info *out)
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
		if (!strcmp(l.p[i].name, name)) {
			if (out)
				*out = l.p[i];
			return l.p[i].users;
		}
	return -1;
}

#define NEED_PLUGIN(name) do {						\
	if (plugin_info(name, NULL) < 0)				\
		SKIP(return, "plug-in %s not loaded", name);		\
} while (0)

static unsigned int key_size_of(const char *cipher)
{
	return !strcmp(cipher, XTS) ? 64 : 32;
}

/* ---- little- and big-endian fields, checksums ---- */

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void put_be(uint8_t *p, int n, uint64_t v)
{
	while (n--) {
		p[n] = v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* zlib's crc32() */
static uint32_t crc32(const uint8_t *p, size_t len)
{
	uint32_t c = ~0u;
	int k;

	while (len--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

/* VHD: one's complement of the byte sum, the checksum field as 0 */
static uint32_t vhd_sum(const uint8_t *p, size_t len, size_t off)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (i < off || i >= off + 4)
			s += p[i];
	return ~s;
}

/* ---- VHD files, made here by the specification ---- */

struct vhd {
	int fd;
	int dynamic;
	uint64_t size;		/* Current Size */
	uint32_t bs;		/* Block Size */
	uint32_t entries;
	uint64_t hdr_pos, bat_pos;
	uint32_t bitmap;	/* bytes */
	uint8_t footer[512];
	uint8_t dyn[1024];
};

static void vhd_footer(struct vhd *v, uint32_t type)
{
	uint8_t *f = v->footer;

	memset(f, 0, 512);
	memcpy(f, "conectix", 8);
	put_be(f + 8, 4, 2);			/* features: reserved bit */
	put_be(f + 12, 4, 0x00010000);
	put_be(f + 16, 8, type == 3 ? 512 : ~0ull);
	memcpy(f + 28, "shvt", 4);		/* creator application */
	memcpy(f + 36, "Wi2k", 4);
	put_be(f + 40, 8, v->size);
	put_be(f + 48, 8, v->size);
	put_be(f + 56, 4, 0x04001011);		/* CHS, not used */
	put_be(f + 60, 4, type);
	shv_fill_random(f + 68, 16);		/* unique id */
	put_be(f + 64, 4, vhd_sum(f, 512, 64));
}

/* a fixed VHD of size bytes, or an empty dynamic one with bs blocks */
static void vhd_create(struct vhd *v, const char *path, uint64_t size,
		       uint32_t bs)
{
	uint8_t *bat;

	memset(v, 0, sizeof(*v));
	v->size = size;
	v->dynamic = bs != 0;
	if (!v->dynamic) {
		vhd_footer(v, 2);
		v->fd = shv_make_image(path, size + 512);
		pwrite_all(v->fd, v->footer, 512, size);
		return;
	}
	v->bs = bs;
	v->entries = (size + bs - 1) / bs;
	v->hdr_pos = 512;
	v->bat_pos = 1536;
	v->bitmap = ((bs / 512 + 7) / 8 + 511) / 512 * 512;
	vhd_footer(v, 3);
	memcpy(v->dyn, "cxsparse", 8);
	put_be(v->dyn + 8, 8, ~0ull);
	put_be(v->dyn + 16, 8, v->bat_pos);
	put_be(v->dyn + 24, 4, 0x00010000);
	put_be(v->dyn + 28, 4, v->entries);
	put_be(v->dyn + 32, 4, bs);
	put_be(v->dyn + 36, 4, vhd_sum(v->dyn, 1024, 36));
	v->fd = shv_make_image(path, 0);
	pwrite_all(v->fd, v->footer, 512, 0);
	pwrite_all(v->fd, v->dyn, 1024, 512);
	bat = malloc(((size_t)v->entries * 4 + 511) / 512 * 512);
	SHV_CHECK(bat, "malloc");
	memset(bat, 0xff, ((size_t)v->entries * 4 + 511) / 512 * 512);
	pwrite_all(v->fd, bat, ((size_t)v->entries * 4 + 511) / 512 * 512,
		   v->bat_pos);
	free(bat);
	pwrite_all(v->fd, v->footer, 512,
		   v->bat_pos + ((size_t)v->entries * 4 + 511) / 512 * 512);
}

static uint32_t vhd_bat(struct vhd *v, uint32_t b)
{
	uint8_t e[4];

	pread_all(v->fd, e, 4, v->bat_pos + (uint64_t)b * 4);
	return get_be(e, 4);
}

/* the file offset of virtual byte pos, or -1 (unallocated) */
static off_t vhd_map(struct vhd *v, uint64_t pos)
{
	uint32_t e;

	if (!v->dynamic)
		return pos;
	e = vhd_bat(v, pos / v->bs);
	if (e == 0xffffffffu)
		return -1;
	return (off_t)e * 512 + v->bitmap + pos % v->bs;
}

/* write virtual bytes (within one block), allocating like a VHD tool */
static void vhd_vwrite(struct vhd *v, uint64_t pos, const void *buf,
		       size_t len)
{
	off_t f = vhd_map(v, pos);

	if (f < 0) {
		off_t end = lseek(v->fd, 0, SEEK_END) - 512;
		uint8_t *bm = malloc(v->bitmap), e[4];

		SHV_CHECK(bm, "malloc");
		memset(bm, 0xff, v->bitmap);
		pwrite_all(v->fd, bm, v->bitmap, end);
		free(bm);
		SHV_CHECK(!ftruncate(v->fd, end + v->bitmap + v->bs),
			  "ftruncate");
		pwrite_all(v->fd, v->footer, 512, end + v->bitmap + v->bs);
		put_be(e, 4, end / 512);
		pwrite_all(v->fd, e, 4, v->bat_pos + pos / v->bs * 4);
		f = vhd_map(v, pos);
	}
	pwrite_all(v->fd, buf, len, f);
}

/* ---- the authenticated layout ---- */

struct layout {
	uint64_t nr, meta_off, data_off;	/* sectors */
};

/* crypt.rst: the layout a tool creates in a virtual disk of vsize */
static struct layout auth_layout(uint64_t vsize, unsigned int ss)
{
	uint64_t vs = vsize / ss, n = vs;
	struct layout l;

	while (n && 1 + (n * META + ss - 1) / ss + n > vs)
		n--;
	l.nr = n;
	l.meta_off = 1;
	l.data_off = 1 + (n * META + ss - 1) / ss;
	return l;
}

static void auth_header(uint8_t *h, unsigned int ss, const uint8_t *uuid,
			struct layout l)
{
	memset(h, 0, 512);
	memcpy(h, "SHVAUTH1", 8);
	shv_put_le(h + 8, 4, 1);
	shv_put_le(h + 12, 4, ss);
	shv_put_le(h + 16, 4, META);
	memcpy(h + 24, uuid, 16);
	shv_put_le(h + 40, 8, l.nr);
	shv_put_le(h + 48, 8, l.meta_off);
	shv_put_le(h + 56, 8, l.data_off);
	strcpy((char *)h + 64, GCM);
	shv_put_le(h + 508, 4, crc32(h, 508));
}

/* a raw GCM image of size bytes with a fresh header; its layout */
static struct layout make_gcm_raw(int fd, uint64_t size, unsigned int ss,
				  uint8_t *uuid)
{
	struct layout l = auth_layout(size, ss);
	uint8_t h[512];

	shv_fill_random(uuid, 16);
	auth_header(h, ss, uuid, l);
	pwrite_all(fd, h, 512, 0);
	return l;
}

/*
 * Decrypt one sector of the image with the kernel's gcm(aes) through
 * AF_ALG, from the documented entry and AAD: 0 and the plaintext in out,
 * 1 when it does not authenticate, -1 when AF_ALG has no AEAD here.
 */
static int af_alg_gcm_open(const uint8_t *key, unsigned int key_size,
			   const uint8_t *uuid, uint64_t iv_sector,
			   const uint8_t *entry, const uint8_t *ct,
			   unsigned int ss, uint8_t *out)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	char cbuf[CMSG_SPACE(4) * 2 + CMSG_SPACE(sizeof(struct af_alg_iv) + 12)];
	uint8_t *in = malloc(24 + ss + 16), *res = malloc(24 + ss);
	struct iovec iov = { .iov_base = in, .iov_len = 24 + ss + 16 };
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct af_alg_iv *aiv;
	struct cmsghdr *c;
	int tfm, op, r = -1;
	ssize_t n;

	SHV_CHECK(in && res, "malloc");
	memcpy(in, uuid, 16);
	shv_put_le(in + 16, 8, iv_sector);
	memcpy(in + 24, ct, ss);
	memcpy(in + 24 + ss, entry + 12, 16);
	strcpy((char *)sa.salg_type, "aead");
	strcpy((char *)sa.salg_name, "gcm(aes)");
	tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (tfm < 0)
		goto out_free;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, key_size) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, 16))
		goto out;
	op = accept(tfm, NULL, 0);
	if (op < 0)
		goto out;
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(c) = ALG_OP_DECRYPT;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
	c->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(c) = 24;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(*aiv) + 12);
	aiv = (void *)CMSG_DATA(c);
	aiv->ivlen = 12;
	memcpy(aiv->iv, entry, 12);
	if (sendmsg(op, &msg, 0) == (ssize_t)(24 + ss + 16)) {
		n = read(op, res, 24 + ss);
		if (n == (ssize_t)(24 + ss)) {
			memcpy(out, res + 24, ss);
			r = 0;
		} else if (n < 0 && errno == EBADMSG) {
			r = 1;
		}
	}
	close(op);
out:
	close(tfm);
out_free:
	free(in);
	free(res);
	return r;
}

/* ---- the plug-in ---- */

TEST(gcm_listed)
{
	struct shv_crypt_plugin_info p;

	if (plugin_info(GCM, &p) < 0)
		SKIP(return, "plug-in %s not loaded", GCM);
	ASSERT_EQ(SHV_CRYPT_CAP_AUTH, p.caps);
	ASSERT_EQ(SHV_CRYPT_IV_RANDOM, p.iv_scheme);
	ASSERT_EQ(0x1e00, p.sector_sizes);
	ASSERT_EQ(16, p.key_sizes[0]);
	ASSERT_EQ(24, p.key_sizes[1]);
	ASSERT_EQ(32, p.key_sizes[2]);
	ASSERT_EQ(0, p.key_sizes[3]);
}

/*
 * A fresh GCM image reads as zeros; random data written (in several
 * descriptors, one from an unaligned guest address) reads back, also
 * after reattaching; the data area holds no plaintext, and each sector
 * opens with the kernel's gcm(aes) from its entry and the documented AAD;
 * two writes of a sector use different nonces.  A wrong key: -EIO for
 * every sector, which reads as zeros.
 */
static void gcm_roundtrip(struct __test_metadata *_metadata, unsigned int ss,
			  unsigned int key_size)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-gcm.img";
	uint64_t size = BUF_LEN + 4 * ss, nr;
	uint8_t key[32], bad[32], uuid[16], *src, *dst, *ct, *pt, entry[META];
	uint8_t entry2[META];
	int fd = shv_make_image(path, size), af = 0;
	struct layout l = make_gcm_raw(fd, size, ss, uuid);
	unsigned int i, n, half;

	NEED_PLUGIN(GCM);
	shv_fill_random(key, sizeof(key));
	memcpy(bad, key, sizeof(bad));
	bad[5] ^= 0x40;
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	ct = malloc(ss);
	pt = malloc(ss);
	ASSERT_TRUE(ct && pt);

	ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, key_size, ss, RAW, &nr));
	ASSERT_EQ(l.nr, nr);
	ASSERT_EQ(1, plugin_info(GCM, NULL));
	n = nr < BUF_LEN / ss ? nr : BUF_LEN / ss;
	half = n / 2;
	memset(dst, 0xcc, BUF_LEN);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, n, BUF2_GPA));
	for (i = 0; i < n * ss; i++)
		ASSERT_EQ(0, dst[i]) TH_LOG("byte %u of a fresh disk", i);

	shv_fill_random(src, BUF_LEN);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, half,
			     BUF_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, SHV_DISK_IO_FUA,
			     half, n - half - 1, BUF_GPA + half * ss));
	/* the last one from a guest address that is not sector aligned */
	memcpy(shv_gpa2hva(vm, BUF2_GPA + 100), src + (n - 1) * ss, ss);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, n - 1, 1,
			     BUF2_GPA + 100));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_FLUSH, 0, 0, 0, 0));
	memset(dst, 0, BUF_LEN);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, n, BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, (size_t)n * ss));

	/* the image: ciphertext that the kernel's gcm(aes) opens */
	for (i = 0; i < n; i++) {
		pread_all(fd, ct, ss, (l.data_off + i) * ss);
		pread_all(fd, entry, META, l.meta_off * ss + i * META);
		ASSERT_NE(0, memcmp(ct, src + i * ss, ss));
		ASSERT_EQ(0, get_le(entry + 28, 4));
		if (af < 0)
			continue;
		af = af_alg_gcm_open(key, key_size, uuid,
				     (uint64_t)i * (ss / 512), entry, ct, ss,
				     pt);
		if (af < 0) {
			TH_LOG("no AF_ALG aead gcm(aes): format not cross-checked");
			continue;
		}
		ASSERT_EQ(0, af) TH_LOG("sector %u does not open", i);
		ASSERT_EQ(0, memcmp(pt, src + i * ss, ss));
	}
	/* a rewrite of the same data: a new nonce, new ciphertext */
	pread_all(fd, entry, META, l.meta_off * ss);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 1, BUF_GPA));
	pread_all(fd, entry2, META, l.meta_off * ss);
	ASSERT_NE(0, memcmp(entry, entry2, 12));

	/* detach, attach again: the same plaintext */
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	ASSERT_EQ(0, plugin_info(GCM, NULL));
	ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, key_size, ss, RAW, NULL));
	memset(dst, 0, BUF_LEN);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, n, BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, (size_t)n * ss));

	/* a wrong key: every written sector fails, and reads as zeros */
	ASSERT_EQ(0, attach(vm->fd, 1, fd, GCM, bad, key_size, ss, RAW, NULL));
	memset(dst, 0xcc, BUF_LEN);
	ASSERT_EQ(-EIO, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 0, n,
				BUF2_GPA));
	for (i = 0; i < n * ss; i++)
		ASSERT_EQ(0, dst[i]);
	for (i = 0; i < n; i += 7)
		ASSERT_EQ(-EIO, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, i, 1,
					BUF2_GPA));
	shv_vm_free(vm);
	ASSERT_EQ(0, plugin_info(GCM, NULL));
	free(ct);
	free(pt);
	close(fd);
	unlink(path);
}

TEST(gcm_roundtrip_512)		{ gcm_roundtrip(_metadata, 512, 32); }
TEST(gcm_roundtrip_4096)	{ gcm_roundtrip(_metadata, 4096, 16); }
TEST(gcm_roundtrip_1024_aes192)	{ gcm_roundtrip(_metadata, 1024, 24); }

/*
 * Tampering: a flipped bit in a sector's ciphertext, nonce or tag, or a
 * reserved byte set, fails that sector only (and a multi-sector read
 * returns the others intact with the bad one zeroed); a sector's data and
 * entry copied to another sector, or into another image at the same
 * place, fail there.  Rollback (an old pair put back) is not detected,
 * as documented.
 */
TEST(gcm_tamper)
{
	struct shv_vm *vm = shv_vm_create();
	const char *p1 = "/tmp/shv-disk-t1.img", *p2 = "/tmp/shv-disk-t2.img";
	uint64_t size = 160 * 512;
	uint8_t key[32], uuid1[16], uuid2[16], *src, *dst, sec[512], e[META];
	uint8_t old_sec[512], old_e[META];
	int f1 = shv_make_image(p1, size), f2 = shv_make_image(p2, size);
	struct layout l = make_gcm_raw(f1, size, 512, uuid1);
	unsigned int i, n = 64;
	off_t data = l.data_off * 512, meta = l.meta_off * 512;

	NEED_PLUGIN(GCM);
	make_gcm_raw(f2, size, 512, uuid2);
	shv_fill_random(key, sizeof(key));
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	shv_fill_random(src, n * 512);
	ASSERT_EQ(0, attach(vm->fd, 0, f1, GCM, key, 32, 512, RAW, NULL));
	ASSERT_EQ(0, attach(vm->fd, 1, f2, GCM, key, 32, 512, RAW, NULL));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, n, BUF_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_WRITE, 0, 0, n, BUF_GPA));

	/* a bit of sector 5's ciphertext */
	pread_all(f1, sec, 1, data + 5 * 512 + 77);
	sec[0] ^= 0x08;
	pwrite_all(f1, sec, 1, data + 5 * 512 + 77);
	/* a bit of sector 9's nonce, of 13's tag; 17's reserved byte */
	pread_all(f1, e, META, meta + 9 * META);
	e[3] ^= 1;
	pwrite_all(f1, e, META, meta + 9 * META);
	pread_all(f1, e, META, meta + 13 * META);
	e[20] ^= 0x80;
	pwrite_all(f1, e, META, meta + 13 * META);
	pread_all(f1, e, META, meta + 17 * META);
	e[30] = 1;
	pwrite_all(f1, e, META, meta + 17 * META);
	for (i = 0; i < n; i++) {
		int bad = i == 5 || i == 9 || i == 13 || i == 17;

		memset(dst, 0xcc, 512);
		ASSERT_EQ(bad ? -EIO : 0,
			  disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, i, 1,
				  BUF2_GPA)) TH_LOG("sector %u", i);
		ASSERT_EQ(0, bad ? !!memcmp(dst, (uint8_t[512]){0}, 512) :
				   memcmp(dst, src + i * 512, 512));
	}
	/* all at once: -EIO, the good sectors read, the bad ones zeroed */
	memset(dst, 0xcc, n * 512);
	ASSERT_EQ(-EIO, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, n,
				BUF2_GPA));
	for (i = 0; i < n; i++) {
		int bad = i == 5 || i == 9 || i == 13 || i == 17;

		ASSERT_EQ(0, bad ? !!memcmp(dst + i * 512, (uint8_t[512]){0},
					    512) :
				   memcmp(dst + i * 512, src + i * 512, 512))
			TH_LOG("sector %u", i);
	}

	/* sector 30's data and entry copied over sector 31 */
	pread_all(f1, sec, 512, data + 30 * 512);
	pread_all(f1, e, META, meta + 30 * META);
	pwrite_all(f1, sec, 512, data + 31 * 512);
	pwrite_all(f1, e, META, meta + 31 * META);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 30, 1, BUF2_GPA));
	ASSERT_EQ(-EIO, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 31, 1,
				BUF2_GPA));
	/* and into the other image (same key, same place): its UUID differs */
	pwrite_all(f2, sec, 512, data + 30 * 512);
	pwrite_all(f2, e, META, meta + 30 * META);
	ASSERT_EQ(-EIO, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 30, 1,
				BUF2_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 29, 1, BUF2_GPA));

	/* rollback is a documented limit: an old pair reads as the old data */
	pread_all(f1, old_sec, 512, data + 40 * 512);
	pread_all(f1, old_e, META, meta + 40 * META);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 40, 1,
			     BUF_GPA + 41 * 512));
	pwrite_all(f1, old_sec, 512, data + 40 * 512);
	pwrite_all(f1, old_e, META, meta + 40 * META);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 40, 1, BUF2_GPA));
	ASSERT_EQ(0, memcmp(dst, src + 40 * 512, 512));

	/* discard: the sectors read as zeros, their entries are cleared */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_DISCARD, 0, 50, 4, 0));
	memset(dst, 0xcc, 6 * 512);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 49, 6, BUF2_GPA));
	ASSERT_EQ(0, memcmp(dst, src + 49 * 512, 512));
	for (i = 512; i < 5 * 512; i++)
		ASSERT_EQ(0, dst[i]);
	ASSERT_EQ(0, memcmp(dst + 5 * 512, src + 54 * 512, 512));
	pread_all(f1, e, META, meta + 51 * META);
	ASSERT_EQ(0, memcmp(e, (uint8_t[META]){0}, META));

	shv_vm_free(vm);
	close(f1);
	close(f2);
	unlink(p1);
	unlink(p2);
}

/* Headers that do not match or are corrupt: EINVAL. */
TEST(gcm_bad_header)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-hdr.img";
	uint64_t size = 64 * 512;
	struct layout l = auth_layout(size, 512), m;
	uint8_t key[32], uuid[16], h[512];
	int fd = shv_make_image(path, size);

	NEED_PLUGIN(GCM);
	shv_fill_random(key, sizeof(key));
	shv_fill_random(uuid, sizeof(uuid));
	/* no header at all (zeros) */
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, GCM, key, 32, 512, RAW,
				    NULL));
#define BAD_HDR(edit) do {						\
	auth_header(h, 512, uuid, l);					\
	edit;								\
	pwrite_all(fd, h, 512, 0);					\
	ASSERT_EQ(-1, attach(vm->fd, 0, fd, GCM, key, 32, 512, RAW,	\
			     NULL)) TH_LOG("%s", #edit);		\
	ASSERT_EQ(EINVAL, errno) TH_LOG("%s", #edit);			\
} while (0)
	BAD_HDR(h[0] = 'X');					/* magic */
	BAD_HDR(h[100] ^= 1);					/* crc */
	BAD_HDR(shv_put_le(h + 8, 4, 2);
		shv_put_le(h + 508, 4, crc32(h, 508)));		/* version */
	BAD_HDR(shv_put_le(h + 12, 4, 4096);
		shv_put_le(h + 508, 4, crc32(h, 508)));		/* ss */
	BAD_HDR(shv_put_le(h + 16, 4, 16);
		shv_put_le(h + 508, 4, crc32(h, 508)));		/* meta */
	BAD_HDR(shv_put_le(h + 20, 4, 1);
		shv_put_le(h + 508, 4, crc32(h, 508)));		/* flags */
	BAD_HDR(strcpy((char *)h + 64, XTS);
		shv_put_le(h + 508, 4, crc32(h, 508)));		/* cipher */
	BAD_HDR(h[200] = 1;
		shv_put_le(h + 508, 4, crc32(h, 508)));		/* reserved */
	m = l;
	m.nr = 0;
	BAD_HDR(auth_header(h, 512, uuid, m));
	m = l;
	m.nr++;							/* too big */
	BAD_HDR(auth_header(h, 512, uuid, m));
	m = l;
	m.meta_off = 0;						/* over header */
	BAD_HDR(auth_header(h, 512, uuid, m));
	m = l;
	m.data_off--;						/* over meta */
	BAD_HDR(auth_header(h, 512, uuid, m));
	m = l;
	m.data_off = ~0ull - 2;
	BAD_HDR(auth_header(h, 512, uuid, m));
	/* the header for 512-byte sectors, attached with 4096 */
	auth_header(h, 512, uuid, l);
	pwrite_all(fd, h, 512, 0);
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, fd, GCM, key, 32, 4096, RAW,
				    NULL));
	ASSERT_ERRNO(EOPNOTSUPP, attach(vm->fd, 0, fd, GCM, key, 64, 512, RAW,
					NULL));
	ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, 32, 512, RAW, NULL));
	ASSERT_EQ(1, plugin_info(GCM, NULL));
	shv_vm_free(vm);
	ASSERT_EQ(0, plugin_info(GCM, NULL));
	close(fd);
	unlink(path);
}

/* ---- VHD ---- */

/*
 * The image: a fixed VHD, or a dynamic one with 16 KiB blocks created
 * empty; the cipher's disk on it.  Reads of a fresh disk are zeros; data
 * written in pieces (within a block, across blocks) reads back, the rest
 * of a newly allocated block reads as zeros; after FLUSH the BAT in the
 * file names the written blocks only, the footer at the end is valid and
 * the copy at 0 unchanged, the header too; reattached, the data reads
 * back; the VHD data area is not the plaintext.
 */
static void vhd_roundtrip(struct __test_metadata *_metadata,
			  const char *cipher, unsigned int ss, int dynamic)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-vhd.img";
	uint64_t size = 256 * 1024, nr, exp_nr = size / ss, vs, first;
	unsigned int ks = key_size_of(cipher), i, bs = 16384;
	uint8_t key[64], *src, *dst, foot[512], copy[512], *buf;
	int gcm = !strcmp(cipher, GCM), blocks[16] = { 0 };
	struct layout l = { 0 };
	struct vhd v;
	off_t fsize;

	NEED_PLUGIN(cipher);
	shv_fill_random(key, sizeof(key));
	vhd_create(&v, path, size, dynamic ? bs : 0);
	first = 0;
	if (gcm) {
		uint8_t h[512], uuid[16];

		shv_fill_random(uuid, 16);
		l = auth_layout(size, ss);
		auth_header(h, ss, uuid, l);
		vhd_vwrite(&v, 0, h, 512);
		exp_nr = l.nr;
		first = l.data_off;
		if (dynamic)
			blocks[0] = 1;
	}
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	buf = malloc(size);
	ASSERT_NE(NULL, buf);
	shv_fill_random(src, BUF_LEN);

	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, cipher, key, ks, ss, VHD, &nr));
	ASSERT_EQ(exp_nr, nr);
	vs = BUF_LEN / ss;			/* sectors in the buffer */
	if (vs > nr)
		vs = nr;
	memset(dst, 0xcc, BUF_LEN);
	if (dynamic || gcm) {
		/* unallocated blocks, or never written sectors: zeros */
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, vs,
				     BUF2_GPA));
		for (i = 0; i < vs * ss; i++)
			ASSERT_EQ(0, dst[i]) TH_LOG("byte %u", i);
	}
	/*
	 * One sector inside the block after the first data sector's, then
	 * a run across three blocks, then the first half of the buffer.
	 */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 3 * bs / ss, 1,
			     BUF_GPA + 3 * bs));
	memset(dst, 0xcc, BUF_LEN);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 2 * bs / ss,
			     2 * bs / ss, BUF2_GPA));
	for (i = 0; (dynamic || gcm) && i < 2 * bs; i++)
		if (i < bs || i >= bs + ss)
			ASSERT_EQ(0, dst[i]) TH_LOG("byte %u", i);
	ASSERT_EQ(0, memcmp(dst + bs, src + 3 * bs, ss));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 4 * bs / ss + 1,
			     2 * bs / ss, BUF_GPA + 4 * bs + ss));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, vs / 4,
			     BUF_GPA));
	/* dynamic: what the writes touched (GCM: also the metadata's) */
	for (i = 0; i < (unsigned int)(size / bs); i++) {
		uint64_t a = (uint64_t)i * bs / ss, b = a + bs / ss;

		if ((a < vs / 4 + first && b > first) ||
		    (a <= 3 * bs / ss + first && b > 3 * bs / ss + first) ||
		    (a < 6 * bs / ss + 1 + first && b > 4 * bs / ss + 1 + first))
			blocks[i] = 1;
	}
	if (gcm && dynamic)
		for (i = 0; i < (unsigned int)((l.meta_off * ss + exp_nr * META +
						bs - 1) / bs); i++)
			blocks[i] = 1;
	if (dynamic) {
		/* before the flush the file still says unallocated */
		ASSERT_EQ(0xffffffffu, vhd_bat(&v, 3));
		if (!gcm)
			ASSERT_EQ(0xffffffffu, vhd_bat(&v, 0));
	}
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_FLUSH, 0, 0, 0, 0));
	fsize = lseek(v.fd, 0, SEEK_END);
	pread_all(v.fd, foot, 512, fsize - 512);
	ASSERT_EQ(0, memcmp(foot, v.footer, 512));
	if (dynamic) {
		unsigned int nb = 0;

		pread_all(v.fd, copy, 512, 0);
		ASSERT_EQ(0, memcmp(copy, v.footer, 512));
		pread_all(v.fd, buf, 1024, 512);
		ASSERT_EQ(0, memcmp(buf, v.dyn, 1024));
		for (i = 0; i < (unsigned int)(size / bs); i++) {
			uint32_t e = vhd_bat(&v, i);

			if (!blocks[i]) {
				ASSERT_EQ(0xffffffffu, e) TH_LOG("block %u", i);
				continue;
			}
			nb++;
			ASSERT_NE(0xffffffffu, e) TH_LOG("block %u", i);
			/* its bitmap all ones, inside the file */
			pread_all(v.fd, buf, v.bitmap, (off_t)e * 512);
			ASSERT_EQ(0xff, buf[0]);
			ASSERT_EQ(0xff, buf[v.bitmap - 1]);
			ASSERT_LE((off_t)e * 512 + v.bitmap + bs, fsize - 512);
		}
		/* grown by exactly the blocks written (and the GCM header's) */
		ASSERT_EQ(1536 + 512 + nb * (uint64_t)(v.bitmap + bs) + 512,
			  (uint64_t)fsize);
	} else {
		ASSERT_EQ(size + 512, (uint64_t)fsize);
	}
	/* no plaintext in the data area */
	for (i = 0; i < vs / 4; i++) {
		off_t f = vhd_map(&v, (first + i) * ss);

		ASSERT_LE(0, f);
		pread_all(v.fd, buf, ss, f);
		ASSERT_NE(0, memcmp(buf, src + i * ss, ss));
	}

	/* detach, attach again: everything reads back */
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, cipher, key, ks, ss, VHD, &nr));
	ASSERT_EQ(exp_nr, nr);
	memset(dst, 0xcc, BUF_LEN);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, vs, BUF2_GPA));
	ASSERT_EQ(0, memcmp(dst, src, vs / 4 * ss));
	ASSERT_EQ(0, memcmp(dst + 3 * bs, src + 3 * bs, ss));
	ASSERT_EQ(0, memcmp(dst + 4 * bs + ss, src + 4 * bs + ss, 2 * bs));
	if (dynamic || gcm)
		for (i = 6 * bs + ss; i < vs * ss; i++)
			ASSERT_EQ(0, dst[i]) TH_LOG("byte %u", i);
	/* the last sector of the disk */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, SHV_DISK_IO_FUA,
			     nr - 1, 1, BUF_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, nr - 1, 1,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(dst, src, ss));
	ASSERT_EQ(-ERANGE, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, nr, 1,
				   BUF2_GPA));
	shv_vm_free(vm);
	if (dynamic)
		ASSERT_NE(0xffffffffu, vhd_bat(&v, (first + nr - 1) * ss / bs));
	free(buf);
	close(v.fd);
	unlink(path);
}

TEST(vhd_fixed_xts)		{ vhd_roundtrip(_metadata, XTS, 512, 0); }
TEST(vhd_fixed_essiv)		{ vhd_roundtrip(_metadata, ESSIV, 512, 0); }
TEST(vhd_fixed_gcm)		{ vhd_roundtrip(_metadata, GCM, 512, 0); }
TEST(vhd_dynamic_xts)		{ vhd_roundtrip(_metadata, XTS, 512, 1); }
TEST(vhd_dynamic_essiv)		{ vhd_roundtrip(_metadata, ESSIV, 512, 1); }
TEST(vhd_dynamic_gcm)		{ vhd_roundtrip(_metadata, GCM, 512, 1); }
TEST(vhd_dynamic_xts_4096)	{ vhd_roundtrip(_metadata, XTS, 4096, 1); }
TEST(vhd_fixed_gcm_4096)	{ vhd_roundtrip(_metadata, GCM, 4096, 0); }

/*
 * A dynamic disk whose footer at the end is gone (a crash while a block
 * was appended) opens from the copy at 0 and keeps working; a fixed disk
 * without its footer does not.
 */
TEST(vhd_dynamic_footer_copy)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-vfc.img";
	uint8_t key[64], *src, *dst, z[512] = { 0 };
	uint64_t nr;
	struct vhd v;
	off_t end;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	shv_fill_random(src, 4096);
	vhd_create(&v, path, 1 << 20, 65536);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, &nr));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, SHV_DISK_IO_FUA,
			     300, 8, BUF_GPA));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	/* a torn append: garbage after the last block, no footer */
	end = lseek(v.fd, 0, SEEK_END);
	pwrite_all(v.fd, z, 512, end - 512);
	pwrite_all(v.fd, z, 300, end);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, &nr));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 300, 8,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, 4096));
	/* the next block goes after the last one the BAT knows */
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 1000, 8,
			     BUF_GPA));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	ASSERT_EQ((off_t)vhd_bat(&v, 300 / 128) * 512 + v.bitmap + 65536,
		  (off_t)vhd_bat(&v, 1000 / 128) * 512);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, &nr));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 1000, 8,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, 4096));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 300, 8,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, 4096));
	shv_vm_free(vm);
	close(v.fd);
	unlink(path);
}

/* Truncated and corrupt VHDs: EINVAL, never a splat. */
TEST(vhd_bad)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-vbad.img";
	uint8_t key[64], f[512], h[1024], e[4];
	struct vhd v;
	off_t end;

	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));

#define EXPECT_BAD(what) do {						\
	ASSERT_EQ(-1, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD,	\
			     NULL)) TH_LOG("%s", what);			\
	ASSERT_EQ(EINVAL, errno) TH_LOG("%s", what);			\
	close(v.fd);							\
} while (0)
/* a fresh fixed (bs 0) or dynamic VHD, its footer edited */
#define BAD_FOOTER(bs, edit) do {					\
	vhd_create(&v, path, 64 * 1024, bs);				\
	end = lseek(v.fd, 0, SEEK_END);					\
	memcpy(f, v.footer, 512);					\
	edit;								\
	put_be(f + 64, 4, vhd_sum(f, 512, 64));				\
	pwrite_all(v.fd, f, 512, end - 512);				\
	if (bs)								\
		pwrite_all(v.fd, f, 512, 0);				\
	EXPECT_BAD(#edit);						\
} while (0)
#define BAD_DYN(edit, sum) do {						\
	vhd_create(&v, path, 64 * 1024, 4096);				\
	memcpy(h, v.dyn, 1024);						\
	edit;								\
	if (sum)							\
		put_be(h + 36, 4, vhd_sum(h, 1024, 36));		\
	pwrite_all(v.fd, h, 1024, 512);					\
	EXPECT_BAD(#edit);						\
} while (0)

	/* good ones first: the helpers make valid files */
	vhd_create(&v, path, 64 * 1024, 0);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, NULL));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	/* an unknown format */
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, 2,
				    NULL));
	/* a fixed disk's Data Offset is not used */
	memcpy(f, v.footer, 512);
	put_be(f + 16, 8, 0xffffffffu);
	put_be(f + 64, 4, vhd_sum(f, 512, 64));
	pwrite_all(v.fd, f, 512, 64 * 1024);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, NULL));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	/* the raw view of a fixed VHD is fine; 4096 does not divide it */
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, v.fd, XTS, key, 64, 4096, RAW,
				    NULL));
	close(v.fd);
	vhd_create(&v, path, 64 * 1024, 4096);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, NULL));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	/* 4096-byte sectors in 4096-byte blocks */
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 4096, VHD, NULL));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	close(v.fd);

	/* truncated */
	v.fd = shv_make_image(path, 0);
	EXPECT_BAD("empty");
	v.fd = shv_make_image(path, 511);
	EXPECT_BAD("511 bytes");
	vhd_create(&v, path, 64 * 1024, 0);
	SHV_CHECK(!ftruncate(v.fd, 64 * 1024), "ftruncate");
	EXPECT_BAD("fixed without its footer");
	vhd_create(&v, path, 64 * 1024, 0);
	SHV_CHECK(!ftruncate(v.fd, 32 * 1024), "ftruncate");
	pwrite_all(v.fd, v.footer, 512, 32 * 1024);
	EXPECT_BAD("fixed shorter than its size");
	vhd_create(&v, path, 64 * 1024, 4096);
	SHV_CHECK(!ftruncate(v.fd, 1024), "ftruncate");
	pwrite_all(v.fd, v.footer, 512, 1024);
	EXPECT_BAD("dynamic without its header");

	/* the footer */
	vhd_create(&v, path, 64 * 1024, 0);
	end = lseek(v.fd, 0, SEEK_END);
	memcpy(f, v.footer, 512);
	f[200] ^= 1;				/* not in the checksum */
	pwrite_all(v.fd, f, 512, end - 512);
	EXPECT_BAD("bad footer checksum");
	vhd_create(&v, path, 64 * 1024, 4096);
	end = lseek(v.fd, 0, SEEK_END);
	memcpy(f, v.footer, 512);
	f[200] ^= 1;
	pwrite_all(v.fd, f, 512, end - 512);
	pwrite_all(v.fd, f, 512, 0);
	EXPECT_BAD("bad checksum at the end and in the copy");
	BAD_FOOTER(0, memcpy(f, "conectiX", 8));
	BAD_FOOTER(4096, memcpy(f, "conectiX", 8));
	BAD_FOOTER(0, put_be(f + 12, 4, 0x00020000));	/* version */
	BAD_FOOTER(0, put_be(f + 60, 4, 4));		/* differencing */
	BAD_FOOTER(0, put_be(f + 60, 4, 1));
	BAD_FOOTER(0, put_be(f + 48, 8, 0));		/* size 0 */
	BAD_FOOTER(0, put_be(f + 48, 8, 64 * 1024 - 512));
	BAD_FOOTER(0, put_be(f + 48, 8, 64 * 1024 + 100));
	BAD_FOOTER(4096, put_be(f + 16, 8, ~0ull));
	BAD_FOOTER(4096, put_be(f + 16, 8, 0));		/* over the copy */
	BAD_FOOTER(4096, put_be(f + 16, 8, 1ull << 40));
	BAD_FOOTER(4096, put_be(f + 48, 8, 1ull << 30)); /* > BAT's reach */

	/* the dynamic header */
	BAD_DYN(h[3] = 'X', 1);				/* cookie */
	BAD_DYN(h[600] ^= 1, 0);			/* checksum */
	BAD_DYN(put_be(h + 24, 4, 0x00020000), 1);	/* version */
	BAD_DYN(put_be(h + 32, 4, 3 * 4096), 1);	/* block size */
	BAD_DYN(put_be(h + 32, 4, 256), 1);
	BAD_DYN(put_be(h + 32, 4, 1u << 29), 1);
	BAD_DYN(put_be(h + 28, 4, 15), 1);		/* too few entries */
	BAD_DYN(put_be(h + 28, 4, 1u << 23), 1);	/* too many */
	BAD_DYN(put_be(h + 16, 8, 1ull << 40), 1);	/* BAT offset */
	BAD_DYN(put_be(h + 28, 4, 1u << 20), 1);	/* BAT past the end */
	BAD_DYN(put_be(h + 16, 8, 1024), 1);		/* BAT over header */
	BAD_DYN(put_be(h + 16, 8, 0), 1);		/* over the copy */
	/* block size 512, sectors of 4096 */
	vhd_create(&v, path, 64 * 1024, 512);
	ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, v.fd, XTS, key, 64, 4096, VHD,
				    NULL));
	close(v.fd);

	/* BAT entries: beyond the file, over the BAT, across the footer */
#define BAD_BAT(val) do {						\
	vhd_create(&v, path, 64 * 1024, 4096);				\
	put_be(e, 4, val);						\
	pwrite_all(v.fd, e, 4, v.bat_pos + 4);				\
	EXPECT_BAD("BAT entry " #val);					\
} while (0)
	BAD_BAT(1000000);
	BAD_BAT(3);				/* in the BAT itself */
	BAD_BAT(0);
	BAD_BAT(4);				/* block over the footer */
	/* one that fits is fine */
	vhd_create(&v, path, 64 * 1024, 4096);
	end = lseek(v.fd, 0, SEEK_END);
	SHV_CHECK(!ftruncate(v.fd, end + 512 + 4096), "ftruncate");
	pwrite_all(v.fd, v.footer, 512, end + 512 + 4096);
	put_be(e, 4, (end - 512) / 512 + 1);
	pwrite_all(v.fd, e, 4, v.bat_pos + 4);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, XTS, key, 64, 512, VHD, NULL));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 8, 8, BUF_GPA));
	close(v.fd);

	shv_vm_free(vm);
	unlink(path);
}

/* The GCM plug-in cannot be unloaded while a disk uses it. */
TEST(gcm_unload_in_use)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-unl.img";
	uint8_t key[16], uuid[16];
	int fd = shv_make_image(path, 64 * 512);

	NEED_PLUGIN(GCM);
	shv_fill_random(key, sizeof(key));
	make_gcm_raw(fd, 64 * 512, 512, uuid);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, 16, 512, RAW, NULL));
	ASSERT_ERRNO(EWOULDBLOCK, syscall(SYS_delete_module, "shv_aes_gcm",
					  O_NONBLOCK));
	ASSERT_EQ(1, plugin_info(GCM, NULL));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 8, BUF_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, 8, BUF2_GPA));
	ASSERT_EQ(0, memcmp(shv_gpa2hva(vm, BUF_GPA),
			    shv_gpa2hva(vm, BUF2_GPA), 8 * 512));
	shv_vm_free(vm);
	ASSERT_EQ(0, plugin_info(GCM, NULL));
	close(fd);
	unlink(path);
}

/* a dynamic VHD with a GCM header in block 0; its layout */
static struct layout make_gcm_vhd(struct vhd *v, const char *path,
				  uint64_t size, uint32_t bs)
{
	struct layout l = auth_layout(size, 512);
	uint8_t h[512], uuid[16];

	vhd_create(v, path, size, bs);
	shv_fill_random(uuid, 16);
	auth_header(h, 512, uuid, l);
	vhd_vwrite(v, 0, h, 512);
	return l;
}

/* sector s, generation g: self-describing contents */
static void pattern(uint8_t *p, uint64_t s, uint64_t g)
{
	uint64_t x = s * 1000003 + g * 7919 + 1;
	unsigned int i;

	for (i = 0; i < 512; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	shv_put_le(p, 8, s);
	shv_put_le(p + 8, 8, g);
}

struct worker {
	int vm_fd;
	uint8_t *src, *dst;	/* this thread's guest memory */
	uint64_t src_gpa, dst_gpa, base;
	unsigned int id;
	int err;
	char what[96];
};

/* random runs written and read back in this thread's 600 sectors */
static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	uint64_t shadow[600] = { 0 };	/* generation per sector, 0: none */
	unsigned int it, i, seed = 1234 + w->id;
	uint8_t ref[512];

	for (it = 1; it <= 60 && !w->err; it++) {
		unsigned int off = rand_r(&seed) % 560, n = 1 + rand_r(&seed) % 40;
		int r;

		for (i = 0; i < n; i++)
			pattern(w->src + i * 512, w->base + off + i, it);
		r = disk_io(w->vm_fd, 0, SHV_DISK_OP_WRITE, 0, w->base + off, n,
			    w->src_gpa);
		if (r) {
			snprintf(w->what, sizeof(w->what), "write %d", r);
			w->err = 1;
			break;
		}
		for (i = 0; i < n; i++)
			shadow[off + i] = it;
		/* read back a run around it */
		off = off > 10 ? off - 10 : 0;
		n = 60;
		r = disk_io(w->vm_fd, 0, SHV_DISK_OP_READ, 0, w->base + off, n,
			    w->dst_gpa);
		if (r) {
			snprintf(w->what, sizeof(w->what), "read %d", r);
			w->err = 1;
			break;
		}
		for (i = 0; i < n; i++) {
			if (shadow[off + i])
				pattern(ref, w->base + off + i, shadow[off + i]);
			else
				memset(ref, 0, 512);
			if (memcmp(ref, w->dst + i * 512, 512)) {
				snprintf(w->what, sizeof(w->what),
					 "sector %llu of iteration %u",
					 (unsigned long long)(w->base + off + i),
					 it);
				w->err = 1;
				break;
			}
		}
	}
	return NULL;
}

/*
 * Two threads doing I/O on one GCM disk on a dynamic VHD at once (writes
 * allocate blocks and take the disk's lock; reads share it): every read
 * sees exactly what its thread wrote, never -EIO.
 */
TEST(gcm_vhd_two_threads)
{
	struct shv_vm *vm = shv_vm_create();
	const char *path = "/tmp/shv-disk-mt.vhd";
	struct worker w[2];
	pthread_t t[2];
	uint8_t key[32];
	struct vhd v;
	uint64_t nr;
	int i;

	NEED_PLUGIN(GCM);
	shv_fill_random(key, sizeof(key));
	make_gcm_vhd(&v, path, 1 << 20, 16384);
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, GCM, key, 32, 512, VHD, &nr));
	ASSERT_LE(1200, nr);
	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){
			.vm_fd = vm->fd, .id = i, .base = i * 600,
			.src_gpa = BUF_GPA + i * 0x10000,
			.dst_gpa = BUF2_GPA + i * 0x10000,
		};
		w[i].src = shv_gpa2hva(vm, w[i].src_gpa);
		w[i].dst = shv_gpa2hva(vm, w[i].dst_gpa);
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker_fn, &w[i]));
	}
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].err) TH_LOG("thread %d: %s", i, w[i].what);
	}
	shv_vm_free(vm);
	close(v.fd);
	unlink(path);
}

/*
 * SIGKILL of the process during writes: sectors flushed before are
 * intact, every sector written after reads as one of its writes (or as
 * never written), none fails: the page cache keeps completed writes,
 * and closing the VM writes the BAT of the blocks allocated since.
 */
TEST(gcm_vhd_sigkill)
{
	const char *path = "/tmp/shv-disk-kill.vhd";
	uint8_t key[32], ref[512];
	struct shv_vm *vm;
	int pfd[2], i, later;
	struct vhd v;
	char c;
	pid_t pid;

	NEED_PLUGIN(GCM);
	shv_fill_random(key, sizeof(key));
	make_gcm_vhd(&v, path, 1 << 20, 16384);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint8_t *src;
		uint64_t g;

		vm = shv_vm_create();
		src = shv_gpa2hva(vm, BUF_GPA);
		if (attach(vm->fd, 0, v.fd, GCM, key, 32, 512, VHD, NULL))
			_exit(2);
		for (i = 0; i < 200; i++)
			pattern(src + i * 512, i, 1);
		if (disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 200, BUF_GPA) ||
		    disk_io(vm->fd, 0, SHV_DISK_OP_FLUSH, 0, 0, 0, 0))
			_exit(3);
		if (write(pfd[1], "f", 1) != 1)
			_exit(4);
		/* then runs of 8 over sectors 200..999 until killed */
		for (g = 2;; g++) {
			uint64_t s = 200 + (g * 37) % 792;

			for (i = 0; i < 8; i++)
				pattern(src + i * 512, s + i, g);
			if (disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, s, 8,
				    BUF_GPA))
				_exit(5);
		}
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &c, 1)) {
		int st = 0;

		waitpid(pid, &st, 0);
		TH_LOG("the child failed: status %#x", st);
	}
	usleep(300 * 1000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);

	vm = shv_vm_create();
	ASSERT_EQ(0, attach(vm->fd, 0, v.fd, GCM, key, 32, 512, VHD, NULL));
	later = 0;
	for (i = 0; i < 1000; i += 100) {
		uint8_t *dst = shv_gpa2hva(vm, BUF2_GPA);
		int j;

		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, i, 100,
				     BUF2_GPA)) TH_LOG("sectors %d..", i);
		for (j = 0; j < 100; j++) {
			uint8_t *p = dst + j * 512;
			uint64_t g = get_le(p + 8, 8);

			if (i + j < 200) {
				pattern(ref, i + j, 1);
			} else if (!g) {
				memset(ref, 0, 512);
			} else {
				ASSERT_EQ((uint64_t)(i + j), get_le(p, 8));
				pattern(ref, i + j, g);
				later++;
			}
			ASSERT_EQ(0, memcmp(ref, p, 512))
				TH_LOG("sector %d", i + j);
		}
	}
	/* the kill came after writes following the flush */
	TH_LOG("%d sectors written after the flush read back", later);
	ASSERT_LT(0, later);
	shv_vm_free(vm);
	close(v.fd);
	unlink(path);
}

/*
 * GCM and VHD attach, I/O (allocating blocks), flush and detach, and the
 * failed attaches of corrupt images, over and over: no leak.
 */
TEST(gcm_vhd_no_leak)
{
	static struct shv_memsnap before;
	const char *p1 = "/tmp/shv-disk-leak.img", *p2 = "/tmp/shv-disk-leak.vhd";
	uint8_t key[64], uuid[16], e[4], b;
	struct shv_vm *vm;
	struct layout l;
	struct vhd v;
	int fd, i;

	NEED_PLUGIN(GCM);
	NEED_PLUGIN(XTS);
	shv_fill_random(key, sizeof(key));
	fd = shv_make_image(p1, 64 * 512);
	l = make_gcm_raw(fd, 64 * 512, 512, uuid);
	for (i = -1; i < 100; i++) {
		if (i == 0)
			shv_memsnap(&before);
		vm = shv_vm_create();
		vhd_create(&v, p2, 256 * 1024, 16384);
		ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, 32, 512, RAW,
				    NULL));
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 0, 8,
				     BUF_GPA + 100));
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, 8,
				     BUF2_GPA));
		ASSERT_EQ(0, attach(vm->fd, 1, v.fd, XTS, key, 64, 512, VHD,
				    NULL));
		ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_WRITE, 0, 40, 64,
				     BUF_GPA));
		ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_FLUSH, 0, 0, 0,
				     0));
		ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_WRITE, 0, 300, 8,
				     BUF_GPA));
		ASSERT_EQ(0, disk_io(vm->fd, 1, SHV_DISK_OP_READ, 0, 0, 128,
				     BUF2_GPA));
		/* a tampered sector fails */
		pread_all(fd, &b, 1, l.data_off * 512 + 3 * 512 + 9);
		b ^= 1;
		pwrite_all(fd, &b, 1, l.data_off * 512 + 3 * 512 + 9);
		ASSERT_EQ(-EIO, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 0, 8,
					BUF2_GPA));
		/* no GCM header in the VHD, no VHD footer on the raw image */
		ASSERT_ERRNO(EINVAL, attach(vm->fd, 2, v.fd, GCM, key, 32, 512,
					    VHD, NULL));
		ASSERT_ERRNO(EINVAL, attach(vm->fd, 2, fd, XTS, key, 64, 512,
					    VHD, NULL));
		ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
		/* disk 1 goes with the VM, its BAT written */
		shv_vm_free(vm);
		ASSERT_NE(0xffffffffu, vhd_bat(&v, 300 * 512 / 16384));
		/* a BAT entry out of range: refused once the BAT is read */
		vm = shv_vm_create();
		put_be(e, 4, 1000000);
		pwrite_all(v.fd, e, 4, v.bat_pos + 15 * 4);
		ASSERT_ERRNO(EINVAL, attach(vm->fd, 0, v.fd, XTS, key, 64, 512,
					    VHD, NULL));
		shv_vm_free(vm);
		close(v.fd);
		unlink(p2);
	}
	ASSERT_EQ(0, plugin_info(GCM, NULL));
	ASSERT_EQ(0, shv_leak_check(&before, 100));
	close(fd);
	unlink(p1);
}

/* ---- qemu-img: VHDs of another implementation ---- */

static const char *qemu_img(void)
{
	return shv_which("qemu-img");
}


/*
 * A dynamic VHD made by qemu-img (2 MiB blocks, BAT padded as qemu does)
 * attaches; what shv writes there (allocating both blocks), qemu-img
 * converts to raw, and that raw image reads back through shv as the same
 * plaintext, the rest of each allocated block as zeros.  The other way:
 * an image shv wrote raw (XTS, and GCM with its layout) converted by
 * qemu-img to dynamic and fixed VHDs reads back through shv.
 */
TEST(vhd_qemu_img)
{
	struct shv_vm *vm = shv_vm_create();
	const char *q = qemu_img();
	const char *qv = "/tmp/shv-disk-q.vhd", *qr = "/tmp/shv-disk-q.raw";
	const char *gr = "/tmp/shv-disk-g.raw", *gv = "/tmp/shv-disk-g.vhd";
	const char *gf = "/tmp/shv-disk-gf.vhd";
	uint8_t key[64], uuid[16], *src, *dst;
	uint64_t nr;
	int fd, i;
	struct stat st;

	NEED_PLUGIN(XTS);
	NEED_PLUGIN(GCM);
	if (!q) {
		shv_vm_free(vm);
		SKIP(return, "no qemu-img here");
	}
	shv_fill_random(key, sizeof(key));
	src = shv_gpa2hva(vm, BUF_GPA);
	dst = shv_gpa2hva(vm, BUF2_GPA);
	shv_fill_random(src, BUF_LEN);

	ASSERT_EQ(0, shv_sh("%s create -q -f vpc -o subformat=dynamic,force_size=on %s 4M",
			q, qv));
	fd = open(qv, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, 512, VHD, &nr));
	ASSERT_EQ(8192, nr);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 3000, 256,
			     BUF_GPA));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 6000, 64,
			     BUF_GPA + 256 * 512));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	close(fd);
	ASSERT_EQ(0, shv_sh("%s convert -f vpc -O raw %s %s", q, qv, qr));
	ASSERT_EQ(0, stat(qr, &st));
	ASSERT_EQ(4 << 20, st.st_size);
	fd = open(qr, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, XTS, key, 64, 512, RAW, &nr));
	ASSERT_EQ(8192, nr);
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 3000, 256,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(src, dst, 256 * 512));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 6000, 64,
			     BUF2_GPA));
	ASSERT_EQ(0, memcmp(src + 256 * 512, dst, 64 * 512));
	/* the rest of the two blocks: encrypted zeros */
	for (i = 0; i < 8192; i += 2048) {
		unsigned int j;

		memset(dst, 0xcc, 64 * 512);
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, i, 64,
				     BUF2_GPA));
		for (j = 0; j < 64 * 512; j++)
			ASSERT_EQ(0, dst[j]) TH_LOG("sector %u", i + j / 512);
	}
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	close(fd);

	/* a GCM disk written raw by shv, converted by qemu-img */
	fd = shv_make_image(gr, 4 << 20);
	make_gcm_raw(fd, 4 << 20, 512, uuid);
	ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, 32, 512, RAW, &nr));
	ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 5000, 256,
			     BUF_GPA));
	ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
	close(fd);
	ASSERT_EQ(0, shv_sh("%s convert -f raw -O vpc -o subformat=dynamic,force_size=on %s %s",
			q, gr, gv));
	ASSERT_EQ(0, shv_sh("%s convert -f raw -O vpc -o subformat=fixed,force_size=on %s %s",
			q, gr, gf));
	for (i = 0; i < 2; i++) {
		uint64_t nr2;

		fd = open(i ? gf : gv, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, 32, 512, VHD,
				    &nr2));
		ASSERT_EQ(nr, nr2);
		memset(dst, 0, BUF_LEN);
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 5000,
				     256, BUF2_GPA));
		ASSERT_EQ(0, memcmp(src, dst, 256 * 512)) TH_LOG("%s",
							       i ? gf : gv);
		/* and it takes writes: qemu-img reads them back */
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_WRITE, 0, 100, 8,
				     BUF_GPA));
		ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
		close(fd);
		ASSERT_EQ(0, shv_sh("%s convert -f vpc -O raw %s %s", q,
				i ? gf : gv, qr));
		fd = open(qr, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, attach(vm->fd, 0, fd, GCM, key, 32, 512, RAW,
				    NULL));
		ASSERT_EQ(0, disk_io(vm->fd, 0, SHV_DISK_OP_READ, 0, 100, 8,
				     BUF2_GPA));
		ASSERT_EQ(0, memcmp(src, dst, 8 * 512));
		ASSERT_EQ(0, ioctl(vm->fd, SHV_DISK_DETACH, 0));
		close(fd);
	}
	shv_vm_free(vm);
	unlink(qv);
	unlink(qr);
	unlink(gr);
	unlink(gv);
	unlink(gf);
}

TEST_HARNESS_MAIN
