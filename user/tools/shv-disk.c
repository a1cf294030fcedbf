// SPDX-License-Identifier: GPL-2.0
/*
 * shv-disk: creates, encrypts, decrypts, re-keys, converts, checks and
 * describes the disk images of shv's encrypted disks
 * (Documentation/shv-disk.rst).
 *
 * The sectors are encrypted with the kernel's own ciphers through AF_ALG,
 * exactly as the plug-ins in kmod/plugins/ (and dm-crypt's plain mode) do:
 * an image made here is read by SHV_DISK_ATTACH and by cryptsetup, and the
 * other way round.  Images are raw, or Microsoft VHD (fixed or dynamic),
 * of which only the data sectors are encrypted, with the sector number of
 * the virtual disk; the footer, header, BAT and bitmaps stay readable.
 *
 * encrypt, decrypt and rekey rewrite an image in place, chunk by chunk,
 * with a journal (IMAGE.shv-reencrypt) that holds the position reached and
 * the old contents of the chunk being rewritten, so that a run killed at
 * any point resumes where it was (see "Re-encryption" below).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_alg.h>
#include <linux/keyctl.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#define __noreturn	__attribute__((noreturn))

#define KIB		1024ULL
#define SHV_KEY_MAX	128	/* bytes, as SHV_CRYPT_MAX_KEY_SIZE */
#define MIB		(1024ULL * 1024)

/* exit statuses */
#define EXIT_FAIL	1	/* an error: bad arguments, I/O, cipher */
#define EXIT_CORRUPT	2	/* check: the image is damaged */

static const char *prog = "shv-disk";
static bool quiet;

static void vmsg(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", prog, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static __noreturn __printf(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap);
	va_end(ap);
	exit(EXIT_FAIL);
}

/* die() with ": strerror(errno)" */
static __noreturn __printf(1, 2) void die_errno(const char *fmt, ...)
{
	char buf[512];
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	die("%s: %s", buf, strerror(err));
}

static __printf(1, 2) void note(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

static void *xmalloc(size_t n)
{
	void *p = aligned_alloc(4096, (n + 4095) & ~(size_t)4095);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void wipe(void *p, size_t n)
{
	volatile u8 *v = p;

	while (n--)
		*v++ = 0;
}

/* ---- byte order ---- */

static u64 be_get(const u8 *p, unsigned int n)
{
	u64 v = 0;

	while (n--)
		v = (v << 8) | *p++;
	return v;
}

static void be_put(u8 *p, unsigned int n, u64 v)
{
	while (n--) {
		p[n] = v & 0xff;
		v >>= 8;
	}
}

static u64 le_get(const u8 *p, unsigned int n)
{
	u64 v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static void le_put(u8 *p, unsigned int n, u64 v)
{
	unsigned int i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = v & 0xff;
}

/* CRC-32C (Castagnoli), for the journal's records */
static u32 crc32c(u32 crc, const void *buf, size_t len)
{
	static u32 table[256];
	const u8 *p = buf;
	unsigned int i, j;

	if (!table[1]) {
		for (i = 0; i < 256; i++) {
			u32 c = i;

			for (j = 0; j < 8; j++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- file I/O that either does it all or dies ---- */

static void pread_all(int fd, void *buf, size_t len, u64 off,
		      const char *what)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (u8 *)buf + done, len - done,
				  (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die_errno("read %s at %llu", what,
				  (unsigned long long)(off + done));
		if (r == 0)
			die("read %s at %llu: unexpected end of file", what,
			    (unsigned long long)(off + done));
		done += r;
	}
}

static void pwrite_all(int fd, const void *buf, size_t len, u64 off,
		       const char *what)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, (const u8 *)buf + done, len - done,
				   (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die_errno("write %s at %llu", what,
				  (unsigned long long)(off + done));
		done += r;
	}
}

static void sync_fd(int fd, const char *what)
{
	if (fdatasync(fd))
		die_errno("sync %s", what);
}

/* fsync the directory holding path (after creating, renaming, unlinking) */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die_errno("open directory %s", dir);
	if (fsync(fd))
		die_errno("sync directory %s", dir);
	close(fd);
}

static bool all_zero(const u8 *p, size_t len)
{
	while (len && !*p) {
		p++;
		len--;
	}
	return !len;
}

static void get_random(void *buf, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0)
		die_errno("/dev/urandom");
	pread_all(fd, buf, len, 0, "/dev/urandom");
	close(fd);
}

/* "16M", "2G", "4096", "1.5"-less: a size in bytes with K, M, G, T */
static u64 parse_size(const char *s, const char *what)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		die("%s: '%s' is not a size (N, NK, NM, NG or NT)", what, s);
	v = strtoull(s, &end, 0);
	if (errno)
		die("%s: '%s' is not a size", what, s);
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		die("%s: '%s' is not a size (N, NK, NM, NG or NT)", what, s);
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'I' &&
				toupper((unsigned char)end[2]) == 'B' &&
				!end[3]) && !(toupper((unsigned char)end[1]) == 'B' &&
					      !end[2]))
		die("%s: '%s' is not a size (N, NK, NM, NG or NT)", what, s);
	if (shift && v > (~0ULL >> shift))
		die("%s: '%s' is too large", what, s);
	return v << shift;
}

static u64 parse_u64_arg(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		die("%s: '%s' is not a number", what, s);
	v = strtoull(s, &end, 0);
	if (errno || *end)
		die("%s: '%s' is not a number", what, s);
	return v;
}

static bool is_pow2(u64 v)
{
	return v && !(v & (v - 1));
}

/* ================= ciphers: the kernel's, through AF_ALG ================= */

/*
 * The plug-ins' cipher specs (dm-crypt's names) and the kernel algorithms
 * behind them.  The IV of a sector is its IV sector (below) as a 64-bit
 * little-endian number, zero-padded to 16 bytes; for essiv the kernel's
 * template encrypts it under SHA-256(key), as in the plug-in.
 */
struct cipher_def {
	const char *spec;
	const char *alg;
	unsigned int key_sizes[4];	/* bytes, 0 ends */
	unsigned int default_key;
	bool xts;
	bool auth;	/* AEAD with the authenticated layout (crypt.rst) */
};

static const struct cipher_def ciphers[] = {
	{ "aes-xts-plain64", "xts(aes)", { 32, 48, 64 }, 64, true, false },
	{ "aes-cbc-essiv:sha256", "essiv(cbc(aes),sha256)", { 16, 24, 32 },
	  32, false, false },
	{ "aes-gcm-random", "gcm(aes)", { 16, 24, 32 }, 32, false, true },
};

static const struct cipher_def *cipher_find(const char *spec)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ciphers); i++)
		if (!strcmp(ciphers[i].spec, spec))
			return &ciphers[i];
	return NULL;
}

static __noreturn void die_cipher(const char *spec)
{
	char list[256] = "";
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ciphers); i++) {
		strcat(list, i ? ", " : "");
		strcat(list, ciphers[i].spec);
	}
	die("unknown cipher '%s' (known: %s)", spec, list);
}

static bool key_size_ok(const struct cipher_def *d, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(d->key_sizes) && d->key_sizes[i]; i++)
		if (d->key_sizes[i] == n)
			return true;
	return false;
}

/* how the sectors of a disk are encrypted (all but the key) */
struct layout {
	unsigned int sector_size;	/* 512 .. 4096 */
	u64 iv_offset;			/* 512-byte units */
	bool large;			/* IV sectors in sector_size units */
};

struct engine {
	const struct cipher_def *def;
	const struct layout *lay;
	int tfm;			/* the transform, with the key */
	int op;				/* its operation socket */
	unsigned int key_size;
	u8 kcv[16];			/* key check value */
};

/*
 * The IV sector of the disk sector at byte voff of the virtual disk, as
 * the kernel computes it (Documentation/crypt.rst, "IVs and sectors").
 */
static u64 iv_sector(const struct layout *l, u64 voff)
{
	u64 iv = voff / 512 + l->iv_offset;

	if (l->large)
		iv /= l->sector_size / 512;
	return iv;
}

/*
 * The control messages of an AF_ALG request: the operation, then the IV
 * (ivlen bytes of iv, or the le64 ivsec when iv is NULL).  Returns the IV
 * message, for an AEAD request to append its associated-data length.
 */
static struct cmsghdr *alg_cmsgs(struct msghdr *msg, bool enc, const u8 *iv,
				 u64 ivsec, unsigned int ivlen)
{
	struct af_alg_iv *aiv;
	struct cmsghdr *c;

	memset(msg->msg_control, 0, msg->msg_controllen);
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(4);
	*(u32 *)CMSG_DATA(c) = enc ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
	c = CMSG_NXTHDR(msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(*aiv) + ivlen);
	aiv = (void *)CMSG_DATA(c);
	aiv->ivlen = ivlen;
	if (iv)
		memcpy(aiv->iv, iv, ivlen);
	else
		le_put(aiv->iv, 8, ivsec);
	return c;
}

static int alg_op(int op, bool enc, u64 ivsec, const u8 *in, u8 *out,
		  size_t len)
{
	char cbuf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)];
	struct iovec iov = { .iov_base = (void *)in, .iov_len = len };
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	size_t done = 0;

	alg_cmsgs(&msg, enc, NULL, ivsec, 16);
	if (sendmsg(op, &msg, 0) != (ssize_t)len)
		return -1;
	while (done < len) {
		ssize_t r = read(op, out + done, len - done);

		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

#define GCM_NONCE	12
#define GCM_TAG		16
#define GCM_AAD		24	/* the image's UUID, the le64 IV sector */

/*
 * One AEAD request: encrypt len bytes of in to out and the tag to tag, or
 * decrypt and verify them; the AAD is aadlen bytes.  Returns 0, or -1
 * with errno (EBADMSG: authentication failed).
 */
static int aead_op(struct engine *e, bool enc, const u8 *nonce,
		   const u8 *aad, unsigned int aadlen, const u8 *in, u8 *out,
		   size_t len, u8 *tag)
{
	char cbuf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) +
					     GCM_NONCE) + CMSG_SPACE(4)];
	u8 aad_out[64];
	struct iovec iov[3] = {
		{ .iov_base = (void *)aad, .iov_len = aadlen },
		{ .iov_base = (void *)in, .iov_len = len },
		{ .iov_base = tag, .iov_len = enc ? 0 : GCM_TAG },
	};
	struct iovec oiov[3] = {
		{ .iov_base = aad_out, .iov_len = aadlen },
		{ .iov_base = out, .iov_len = len },
		{ .iov_base = tag, .iov_len = enc ? GCM_TAG : 0 },
	};
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = iov, .msg_iovlen = 3,
	};
	ssize_t want = aadlen + len + (enc ? 0 : GCM_TAG), r;
	struct cmsghdr *c;

	c = alg_cmsgs(&msg, enc, nonce, 0, GCM_NONCE);
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
	c->cmsg_len = CMSG_LEN(4);
	*(u32 *)CMSG_DATA(c) = aadlen;
	if (sendmsg(e->op, &msg, 0) != want)
		return -1;
	r = readv(e->op, oiov, 3);
	if (r < 0)
		return -1;
	if (r != (ssize_t)(aadlen + len + (enc ? GCM_TAG : 0))) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * Encrypt or decrypt len bytes (whole sectors) in place; voff is the byte
 * offset of buf's first sector in the virtual disk.
 */
static void engine_crypt(struct engine *e, bool enc, u64 voff, u8 *buf,
			 size_t len)
{
	unsigned int ss = e->lay->sector_size;
	size_t i;

	for (i = 0; i < len; i += ss)
		if (alg_op(e->op, enc, iv_sector(e->lay, voff + i), buf + i,
			   buf + i, ss))
			die_errno("%s %s: sector %llu through AF_ALG %s",
				  enc ? "encrypt" : "decrypt", e->def->spec,
				  (unsigned long long)((voff + i) / ss),
				  e->def->alg);
}

static void engine_open(struct engine *e, const struct cipher_def *def,
			const struct layout *lay, const u8 *key,
			unsigned int key_size)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	u8 zero[32] = { 0 };

	memset(e, 0, sizeof(*e));
	e->def = def;
	e->lay = lay;
	e->key_size = key_size;
	if (!key_size_ok(def, key_size))
		die("cipher %s: a %u-bit key is not supported", def->spec,
		    key_size * 8);
	/* the plug-ins refuse weak XTS keys (equal halves): so do we */
	if (def->xts && !memcmp(key, key + key_size / 2, key_size / 2))
		die("cipher %s: the key's two halves are equal (a weak XTS key, refused)",
		    def->spec);
	strcpy((char *)sa.salg_type, def->auth ? "aead" : "skcipher");
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", def->alg);
	e->tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (e->tfm < 0)
		die_errno("AF_ALG socket (the kernel's af_alg and %s modules are needed)",
			  def->auth ? "algif_aead" : "algif_skcipher");
	if (bind(e->tfm, (struct sockaddr *)&sa, sizeof(sa)))
		die_errno("AF_ALG: kernel %s %s not available (algif_%s loaded?)",
			  def->auth ? "aead" : "cipher", def->alg,
			  def->auth ? "aead" : "skcipher");
	if (setsockopt(e->tfm, SOL_ALG, ALG_SET_KEY, key, key_size))
		die_errno("AF_ALG %s: the key was refused", def->alg);
	if (def->auth &&
	    setsockopt(e->tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, GCM_TAG))
		die_errno("AF_ALG %s: tag size", def->alg);
	e->op = accept4(e->tfm, NULL, 0, SOCK_CLOEXEC);
	if (e->op < 0)
		die_errno("AF_ALG %s: accept", def->alg);
	if (def->auth) {
		/* the tag of 32 zero bytes under nonce 0, no AAD */
		u8 t[32 + GCM_TAG], nonce[GCM_NONCE] = { 0 };

		if (aead_op(e, true, nonce, NULL, 0, zero, t, sizeof(zero),
			    t + sizeof(zero)))
			die_errno("AF_ALG %s: key check", def->alg);
		memcpy(e->kcv, t + sizeof(zero), sizeof(e->kcv));
		return;
	}
	/*
	 * Key check value: the first 16 bytes of 32 zero bytes encrypted at
	 * IV sector 2^64 - 1 (no disk has that sector).  It tells a journal
	 * which keys it was made with; it is what anyone holding a sector
	 * of known plaintext has anyway.
	 */
	if (alg_op(e->op, true, ~0ULL, zero, zero, sizeof(zero)))
		die_errno("AF_ALG %s: key check", def->alg);
	memcpy(e->kcv, zero, sizeof(e->kcv));
}

static void engine_close(struct engine *e)
{
	if (e->def) {
		close(e->op);
		close(e->tfm);
	}
	e->def = NULL;
}

/* ---- keys ---- */

struct keyarg {
	const char *file;	/* --keyfile */
	const char *id;		/* --keyid type:NAME */
};

static unsigned int load_key(const struct keyarg *ka,
			     const struct cipher_def *def,
			     unsigned int key_bits, u8 *key, const char *opt)
{
	unsigned int want = key_bits ? key_bits / 8 : def->default_key;
	long n;
	int fd;

	if (key_bits && (key_bits % 8 || !key_size_ok(def, want)))
		die("--key-size %u: not a key size of %s", key_bits,
		    def->spec);
	if (ka->file && ka->id)
		die("give either --%sfile or --%sid, not both", opt, opt);
	if (ka->file) {
		struct stat st;
		ssize_t r;

		fd = open(ka->file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die_errno("key file %s", ka->file);
		if (fstat(fd, &st))
			die_errno("key file %s", ka->file);
		/* like cryptsetup plain: the first key-size bytes, as they are */
		r = read(fd, key, want);
		close(fd);
		if (r < 0)
			die_errno("key file %s", ka->file);
		if ((unsigned int)r < want)
			die("key file %s: %zd bytes, the %u-bit key of %s needs %u (--key-size)",
			    ka->file, r, want * 8, def->spec, want);
		return want;
	}
	if (ka->id) {
		const char *colon = strchr(ka->id, ':');
		long id;

		if (!colon || colon == ka->id || !colon[1])
			die("--%sid '%s': expected user:NAME or logon:NAME", opt,
			    ka->id);
		if (!strncmp(ka->id, "logon:", 6))
			die("--%sid %s: logon keys cannot be read by userspace, and shv-disk encrypts in userspace; use a user key or a key file",
			    opt, ka->id);
		if (strncmp(ka->id, "user:", 5))
			die("--%sid '%s': only user:NAME keys can be used here",
			    opt, ka->id);
		id = syscall(SYS_request_key, "user", ka->id + 5, NULL, 0);
		if (id < 0)
			die_errno("key %s", ka->id);
		n = syscall(SYS_keyctl, KEYCTL_READ, id, key,
			    (unsigned long)SHV_KEY_MAX);
		if (n < 0)
			die_errno("read key %s", ka->id);
		if (n > SHV_KEY_MAX || (unsigned long)n < want) {
			wipe(key, SHV_KEY_MAX);
			die("key %s: %ld bytes, the %u-bit key of %s needs %u",
			    ka->id, n, want * 8, def->spec, want);
		}
		return want;
	}
	die("a key is needed: --%sfile FILE or --%sid user:NAME", opt, opt);
}

/* ================= images: raw and VHD ================= */

enum fmt { FMT_RAW, FMT_VHD_FIXED, FMT_VHD_DYNAMIC };

static const char *const fmt_names[] = {
	[FMT_RAW] = "raw",
	[FMT_VHD_FIXED] = "vhd-fixed",
	[FMT_VHD_DYNAMIC] = "vhd-dynamic",
};

static enum fmt parse_fmt(const char *s)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fmt_names); i++)
		if (!strcmp(s, fmt_names[i]))
			return i;
	if (!strcmp(s, "vhd"))
		return FMT_VHD_DYNAMIC;
	die("--format %s: expected raw, vhd-fixed or vhd-dynamic", s);
}

/*
 * VHD (Microsoft's Virtual Hard Disk Image Format Specification 1.0): all
 * numbers big-endian.  The footer (512 bytes) ends the file, and a dynamic
 * disk also starts with a copy of it, followed by the dynamic disk header
 * (1024 bytes) and the block allocation table (BAT): one 32-bit sector
 * offset per block, 0xffffffff for a block not allocated, which reads as
 * zeros.  An allocated block is a sector bitmap (one bit per 512-byte
 * sector, padded to a whole sector) and then the block's data.
 */
#define VHD_FOOTER		512
#define VHD_HEADER		1024
#define VHD_COOKIE		"conectix"
#define VHD_DYN_COOKIE		"cxsparse"
#define VHD_VERSION		0x00010000
#define VHD_FEATURES		0x00000002	/* the reserved bit, always set */
#define VHD_TYPE_FIXED		2
#define VHD_TYPE_DYNAMIC	3
#define VHD_TYPE_DIFF		4
#define VHD_BAT_UNUSED		0xffffffffu
#define VHD_NO_OFFSET		0xffffffffffffffffULL
#define VHD_EPOCH		946684800	/* 2000-01-01 00:00:00 UTC */
#define VHD_MAX_SIZE		(2040ULL << 30)	/* the spec's limit */
#define VHD_MAX_ENTRIES		(1u << 22)	/* the kernel's limit */

/* footer fields */
#define VF_COOKIE	0
#define VF_FEATURES	8
#define VF_VERSION	12
#define VF_DATA_OFFSET	16
#define VF_TIMESTAMP	24
#define VF_CREATOR	28
#define VF_CREATOR_VER	32
#define VF_CREATOR_OS	36
#define VF_ORIG_SIZE	40
#define VF_CUR_SIZE	48
#define VF_GEOMETRY	56
#define VF_TYPE		60
#define VF_CHECKSUM	64
#define VF_UUID		68
#define VF_SAVED	84

/* dynamic disk header fields */
#define VH_COOKIE	0
#define VH_DATA_OFFSET	8
#define VH_TABLE_OFFSET	16
#define VH_VERSION	24
#define VH_MAX_ENTRIES	28
#define VH_BLOCK_SIZE	32
#define VH_CHECKSUM	36

/* one's complement of the byte sum, the checksum field counted as 0 */
static u32 vhd_checksum(const u8 *p, size_t len, size_t csum_off)
{
	u32 sum = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += p[i];
	return ~sum;
}

/* the spec's CHS geometry for a size (its appendix algorithm) */
static u32 vhd_geometry(u64 size)
{
	u64 total = size / 512, cth;
	u32 spt, heads;

	if (total > 65535ULL * 16 * 255)
		total = 65535ULL * 16 * 255;
	if (total >= 65535ULL * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = total / spt;
	} else {
		spt = 17;
		cth = total / spt;
		heads = (cth + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024ULL || heads > 16) {
			spt = 31;
			heads = 16;
			cth = total / spt;
		}
		if (cth >= heads * 1024ULL) {
			spt = 63;
			heads = 16;
			cth = total / spt;
		}
	}
	/*
	 * A size the geometry does not give exactly gets the largest one,
	 * which tells readers that go by the geometry (QEMU for creators it
	 * does not know) to take the size from the footer, as qemu-img's
	 * force_size does.
	 */
	if (cth / heads * heads * spt * 512 != size)
		return 65535u << 16 | 16 << 8 | 255;
	return (u32)(cth / heads) << 16 | heads << 8 | spt;
}

static void vhd_make_footer(u8 *f, u32 type, u64 size, u64 data_offset)
{
	memset(f, 0, VHD_FOOTER);
	memcpy(f + VF_COOKIE, VHD_COOKIE, 8);
	be_put(f + VF_FEATURES, 4, VHD_FEATURES);
	be_put(f + VF_VERSION, 4, VHD_VERSION);
	be_put(f + VF_DATA_OFFSET, 8, data_offset);
	be_put(f + VF_TIMESTAMP, 4, (u64)(time(NULL) - VHD_EPOCH));
	memcpy(f + VF_CREATOR, "shv ", 4);
	be_put(f + VF_CREATOR_VER, 4, 0x00010000);
	memcpy(f + VF_CREATOR_OS, "Lnux", 4);
	be_put(f + VF_ORIG_SIZE, 8, size);
	be_put(f + VF_CUR_SIZE, 8, size);
	be_put(f + VF_GEOMETRY, 4, vhd_geometry(size));
	be_put(f + VF_TYPE, 4, type);
	get_random(f + VF_UUID, 16);
	f[VF_UUID + 6] = (f[VF_UUID + 6] & 0x0f) | 0x40;	/* version 4 */
	f[VF_UUID + 8] = (f[VF_UUID + 8] & 0x3f) | 0x80;
	be_put(f + VF_CHECKSUM, 4, vhd_checksum(f, VHD_FOOTER, VF_CHECKSUM));
}

static void vhd_make_header(u8 *h, u64 table_offset, u32 entries,
			    u32 block_size)
{
	memset(h, 0, VHD_HEADER);
	memcpy(h + VH_COOKIE, VHD_DYN_COOKIE, 8);
	be_put(h + VH_DATA_OFFSET, 8, VHD_NO_OFFSET);
	be_put(h + VH_TABLE_OFFSET, 8, table_offset);
	be_put(h + VH_VERSION, 4, VHD_VERSION);
	be_put(h + VH_MAX_ENTRIES, 4, entries);
	be_put(h + VH_BLOCK_SIZE, 4, block_size);
	be_put(h + VH_CHECKSUM, 4, vhd_checksum(h, VHD_HEADER, VH_CHECKSUM));
}

static u64 round_up(u64 v, u64 a)
{
	return (v + a - 1) / a * a;
}

/* the sector bitmap in front of each block's data */
static u32 vhd_bitmap_size(u32 block_size)
{
	return round_up(block_size / 512 / 8, 512);
}

struct image {
	const char *path;
	int fd;
	enum fmt fmt;
	u64 file_size;
	u64 size;		/* of the virtual disk, bytes */
	/* VHD */
	u8 footer[VHD_FOOTER];
	u8 header[VHD_HEADER];
	u64 header_off, bat_off;
	u32 block_size, entries, bitmap_size;
	u32 *bat;		/* host order */
	u32 nr_blocks;		/* blocks the disk size covers */
	bool footer_from_copy;	/* the footer at the end is damaged */
};

/* problems found in an image: each printed (unless silent), counted */
struct report {
	const char *path;
	unsigned int errors;
	bool silent;
	bool check;		/* for check: a damaged footer is a problem */
};

static __printf(2, 3) void problem(struct report *r, const char *fmt, ...)
{
	va_list ap;

	r->errors++;
	if (r->silent)
		return;
	fprintf(stderr, "%s: %s: ", prog, r->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool has_cookie(const u8 *p, const char *cookie)
{
	return !memcmp(p, cookie, 8);
}

/* the footer's own checks (the one at the end, or the copy at 0) */
static bool vhd_footer_ok(struct report *r, const u8 *f, const char *which)
{
	unsigned int before = r->errors;
	u32 type = be_get(f + VF_TYPE, 4);
	u64 size = be_get(f + VF_CUR_SIZE, 8);

	if (!has_cookie(f + VF_COOKIE, VHD_COOKIE)) {
		problem(r, "%s: no VHD footer cookie", which);
		return false;
	}
	if (be_get(f + VF_CHECKSUM, 4) !=
	    vhd_checksum(f, VHD_FOOTER, VF_CHECKSUM))
		problem(r, "%s: bad checksum %#llx (computed %#x)", which,
			(unsigned long long)be_get(f + VF_CHECKSUM, 4),
			vhd_checksum(f, VHD_FOOTER, VF_CHECKSUM));
	if (be_get(f + VF_VERSION, 4) >> 16 != 1)
		problem(r, "%s: unsupported format version %#llx", which,
			(unsigned long long)be_get(f + VF_VERSION, 4));
	if (type == VHD_TYPE_DIFF)
		problem(r, "%s: differencing disks are not supported", which);
	else if (type != VHD_TYPE_FIXED && type != VHD_TYPE_DYNAMIC)
		problem(r, "%s: unknown disk type %u", which, type);
	if (!size || size % 512 || size > VHD_MAX_SIZE)
		problem(r, "%s: bad disk size %llu", which,
			(unsigned long long)size);
	return r->errors == before;
}

static bool overlaps(u64 a, u64 alen, u64 b, u64 blen)
{
	return a < b + blen && b < a + alen;
}

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Read and check a VHD's footer, header and BAT.  Returns false if the
 * image cannot be used at all (after reporting why); other problems are
 * reported and counted in r.
 */
static bool vhd_load(struct image *img, struct report *r)
{
	struct report quiet_r = { .silent = true };
	u8 head[VHD_FOOTER];
	u64 data_end, bat_bytes, i;
	u32 type, *sorted, n;

	if (img->file_size < VHD_FOOTER) {
		problem(r, "too small for a VHD");
		return false;
	}
	pread_all(img->fd, img->footer, VHD_FOOTER,
		  img->file_size - VHD_FOOTER, img->path);
	pread_all(img->fd, head, VHD_FOOTER, 0, img->path);
	data_end = img->file_size - VHD_FOOTER;
	if (!vhd_footer_ok(&quiet_r, img->footer, "footer")) {
		struct report copy_r = { .silent = true };

		/*
		 * A dynamic disk whose footer at the end is damaged but whose
		 * copy at the start is intact: what a crash while a block is
		 * appended leaves (crypt.rst).  The kernel uses the copy, so
		 * do we; check reports it, check --repair rewrites it.
		 */
		if (img->file_size >= 2 * VHD_FOOTER &&
		    has_cookie(head, VHD_COOKIE) &&
		    vhd_footer_ok(&copy_r, head, "") &&
		    be_get(head + VF_TYPE, 4) == VHD_TYPE_DYNAMIC) {
			if (r->check)
				vhd_footer_ok(r, img->footer, "footer");
			else
				fprintf(stderr, "%s: warning: %s: the footer at the end is damaged; using its copy at the start (shv-disk check --repair)\n",
					prog, img->path);
			fprintf(stderr, "%s: %s: the footer copy at the start is intact\n",
				prog, img->path);
			memcpy(img->footer, head, VHD_FOOTER);
			img->footer_from_copy = true;
			data_end = img->file_size;
		} else {
			vhd_footer_ok(r, img->footer, "footer");
			return false;
		}
	}
	type = be_get(img->footer + VF_TYPE, 4);
	img->size = be_get(img->footer + VF_CUR_SIZE, 8);
	if (type == VHD_TYPE_FIXED) {
		img->fmt = FMT_VHD_FIXED;
		if (be_get(img->footer + VF_DATA_OFFSET, 8) != VHD_NO_OFFSET)
			problem(r, "footer: a fixed disk with a data offset");
		if (data_end != img->size) {
			problem(r, "fixed disk of %llu bytes in a file of %llu (expected %llu)",
				(unsigned long long)img->size,
				(unsigned long long)img->file_size,
				(unsigned long long)img->size + VHD_FOOTER);
			if (data_end < img->size)
				return false;
		}
		return true;
	}
	if (type != VHD_TYPE_DYNAMIC)
		return false;
	img->fmt = FMT_VHD_DYNAMIC;
	if (!img->footer_from_copy && memcmp(head, img->footer, VHD_FOOTER))
		problem(r, "the footer copy at offset 0 differs from the footer");
	img->header_off = be_get(img->footer + VF_DATA_OFFSET, 8);
	if (img->header_off % 512 || img->header_off < VHD_FOOTER ||
	    img->header_off > data_end ||
	    data_end - img->header_off < VHD_HEADER) {
		problem(r, "footer: dynamic disk header offset %llu outside the file",
			(unsigned long long)img->header_off);
		return false;
	}
	pread_all(img->fd, img->header, VHD_HEADER, img->header_off,
		  img->path);
	if (!has_cookie(img->header + VH_COOKIE, VHD_DYN_COOKIE)) {
		problem(r, "no dynamic disk header cookie at offset %llu",
			(unsigned long long)img->header_off);
		return false;
	}
	if (be_get(img->header + VH_CHECKSUM, 4) !=
	    vhd_checksum(img->header, VHD_HEADER, VH_CHECKSUM))
		problem(r, "dynamic disk header: bad checksum");
	if (be_get(img->header + VH_VERSION, 4) != VHD_VERSION)
		problem(r, "dynamic disk header: unsupported version %#llx",
			(unsigned long long)be_get(img->header + VH_VERSION, 4));
	img->block_size = be_get(img->header + VH_BLOCK_SIZE, 4);
	img->entries = be_get(img->header + VH_MAX_ENTRIES, 4);
	img->bat_off = be_get(img->header + VH_TABLE_OFFSET, 8);
	if (!is_pow2(img->block_size) || img->block_size < 512 ||
	    img->block_size > 256 * MIB) {
		problem(r, "dynamic disk header: bad block size %u",
			img->block_size);
		return false;
	}
	img->bitmap_size = vhd_bitmap_size(img->block_size);
	img->nr_blocks = (img->size + img->block_size - 1) / img->block_size;
	if (img->entries < img->nr_blocks || img->entries > VHD_MAX_ENTRIES) {
		problem(r, "dynamic disk header: %u BAT entries for %u blocks",
			img->entries, img->nr_blocks);
		return false;
	}
	bat_bytes = (u64)img->entries * 4;
	if (img->bat_off % 512 || img->bat_off > data_end ||
	    data_end - img->bat_off < bat_bytes) {
		problem(r, "dynamic disk header: the BAT (%llu bytes at %llu) is outside the file",
			(unsigned long long)bat_bytes,
			(unsigned long long)img->bat_off);
		return false;
	}
	if (overlaps(img->bat_off, bat_bytes, img->header_off, VHD_HEADER))
		problem(r, "the BAT overlaps the dynamic disk header");
	img->bat = malloc(bat_bytes + 4);
	if (!img->bat)
		die("out of memory");
	pread_all(img->fd, img->bat, bat_bytes, img->bat_off, img->path);
	for (i = 0; i < img->entries; i++)
		img->bat[i] = be_get((u8 *)&img->bat[i], 4);

	/* every allocated block inside the file, after the BAT, disjoint */
	sorted = malloc(bat_bytes + 4);
	if (!sorted)
		die("out of memory");
	for (i = 0, n = 0; i < img->entries; i++) {
		u64 off = (u64)img->bat[i] * 512;

		if (img->bat[i] == VHD_BAT_UNUSED)
			continue;
		if (i >= img->nr_blocks) {
			problem(r, "BAT entry %llu (beyond the disk's %u blocks) is allocated",
				(unsigned long long)i, img->nr_blocks);
			continue;
		}
		if (off < img->bat_off + bat_bytes ||
		    overlaps(off, img->bitmap_size + img->block_size,
			     img->header_off, VHD_HEADER)) {
			problem(r, "BAT entry %llu: block at %llu is not after the header and BAT",
				(unsigned long long)i,
				(unsigned long long)off);
			continue;
		}
		if (off + img->bitmap_size + img->block_size > data_end) {
			problem(r, "BAT entry %llu: block at %llu goes past the footer at %llu",
				(unsigned long long)i,
				(unsigned long long)off,
				(unsigned long long)data_end);
			continue;
		}
		sorted[n++] = img->bat[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	for (i = 1; i < n; i++)
		if ((u64)(sorted[i] - sorted[i - 1]) * 512 <
		    img->bitmap_size + img->block_size)
			problem(r, "blocks at sectors %u and %u overlap",
				sorted[i - 1], sorted[i]);
	free(sorted);
	return true;
}

static bool vhd_allocated(const struct image *img, u64 block)
{
	return img->bat[block] != VHD_BAT_UNUSED;
}

/* file offset of the data of block b */
static u64 vhd_block_data(const struct image *img, u64 b)
{
	return (u64)img->bat[b] * 512 + img->bitmap_size;
}

/*
 * Open an image: a VHD if its last sector is a VHD footer, or (damaged) if
 * its first is one; raw otherwise, or with force_raw.  Dies on anything it
 * cannot use unless r is given (check), which counts the problems.
 */
static bool image_open(struct image *img, const char *path, bool rw,
		       bool force_raw, struct report *r)
{
	struct report own = { .path = path };
	struct stat st;
	u8 tail[8] = { 0 }, head[8] = { 0 };
	bool ok = true;

	memset(img, 0, sizeof(*img));
	img->path = path;
	img->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (img->fd < 0)
		die_errno("%s", path);
	if (fstat(img->fd, &st))
		die_errno("%s", path);
	if (!S_ISREG(st.st_mode))
		die("%s: not a regular file", path);
	img->file_size = st.st_size;
	if (!r)
		r = &own;
	if (img->file_size >= 512 && !force_raw) {
		pread_all(img->fd, tail, 8, img->file_size - 512, path);
		pread_all(img->fd, head, 8, 0, path);
	}
	if (has_cookie(tail, VHD_COOKIE) || has_cookie(head, VHD_COOKIE)) {
		ok = vhd_load(img, r);
	} else {
		img->fmt = FMT_RAW;
		img->size = img->file_size;
		if (!img->size) {
			problem(r, "empty image");
			ok = false;
		}
	}
	if (r == &own && r->errors)
		die("%s: the image is damaged; see shv-disk check %s", path,
		    path);
	return ok;
}

static void image_close(struct image *img)
{
	free(img->bat);
	img->bat = NULL;
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

/* the stored data of the virtual disk, in order */
struct extent {
	u64 voff, foff, len;
};

static struct extent *image_extents(const struct image *img, size_t *nr)
{
	struct extent *e;
	u64 b;

	if (img->fmt != FMT_VHD_DYNAMIC) {
		e = malloc(sizeof(*e));
		if (!e)
			die("out of memory");
		*e = (struct extent){ 0, 0, img->size };
		*nr = 1;
		return e;
	}
	e = calloc(img->nr_blocks + 1, sizeof(*e));
	if (!e)
		die("out of memory");
	*nr = 0;
	for (b = 0; b < img->nr_blocks; b++) {
		u64 voff = b * img->block_size;

		if (!vhd_allocated(img, b))
			continue;
		e[*nr].voff = voff;
		e[*nr].foff = vhd_block_data(img, b);
		e[*nr].len = img->size - voff < img->block_size ?
			     img->size - voff : img->block_size;
		(*nr)++;
	}
	return e;
}

/*
 * Read len bytes of the virtual disk at voff (inside one block of a
 * dynamic VHD) into buf.  Returns true if they are not stored (a block not
 * allocated: buf is zeros).  The sector bitmaps are not consulted: like
 * the kernel and QEMU, a block's data is what its sectors hold.
 */
static bool image_read(const struct image *img, u64 voff, u8 *buf, u64 len)
{
	u64 b;

	if (img->fmt != FMT_VHD_DYNAMIC) {
		pread_all(img->fd, buf, len, voff, img->path);
		return false;
	}
	b = voff / img->block_size;
	if (!vhd_allocated(img, b)) {
		memset(buf, 0, len);
		return true;
	}
	pread_all(img->fd, buf, len, vhd_block_data(img, b) +
		  voff % img->block_size, img->path);
	return false;
}

/* ================= progress ================= */

enum { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_PLAIN, PROGRESS_NONE };
static int progress_mode = PROGRESS_AUTO;
static double progress_interval = 5;	/* seconds between plain lines */

struct progress {
	const char *what;
	u64 total;		/* bytes */
	u64 base;		/* done before this run (a resume) */
	double t0, last;
	int mode;
	bool drawn;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress_start(struct progress *p, const char *what, u64 total,
			   u64 base)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	p->total = total;
	p->base = base;
	p->t0 = now();
	p->last = p->t0;
	p->mode = progress_mode;
	if (quiet)
		p->mode = PROGRESS_NONE;
	if (p->mode == PROGRESS_AUTO)
		p->mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_PLAIN;
}

static void fmt_eta(char *buf, size_t len, double s)
{
	unsigned long v = s < 0 ? 0 : s > 359999 ? 359999 : (unsigned long)s;

	snprintf(buf, len, "%lu:%02lu:%02lu", v / 3600, v / 60 % 60, v % 60);
}

/* done: bytes of total done so far; final: the last call */
static void progress_update(struct progress *p, u64 done, bool final)
{
	double t = now(), el = t - p->t0, rate, pct;
	char eta[32], bar[41];
	unsigned int i, fill;

	if (p->mode == PROGRESS_NONE)
		return;
	if (!final && t - p->last < (p->mode == PROGRESS_BAR ? 0.1 :
				     progress_interval))
		return;
	p->last = t;
	rate = el > 0 ? (done - p->base) / el : 0;
	pct = p->total ? 100.0 * done / p->total : 100;
	if (rate > 0)
		fmt_eta(eta, sizeof(eta), (p->total - done) / rate);
	else
		snprintf(eta, sizeof(eta), "-:--:--");
	if (p->mode == PROGRESS_BAR) {
		fill = p->total ? (unsigned int)(40.0 * done / p->total) : 40;
		for (i = 0; i < 40; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[40] = 0;
		fprintf(stderr, "\r%s: %s [%s] %5.1f%% %8.1f MiB/s ETA %s ",
			prog, p->what, bar, pct, rate / MIB, eta);
		if (final)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "%s: %s: %5.1f%% (%llu of %llu MiB), %.1f MiB/s, ETA %s\n",
			prog, p->what, pct, (unsigned long long)(done / MIB),
			(unsigned long long)(p->total / MIB), rate / MIB, eta);
	}
	fflush(stderr);
}

/* any range of the virtual disk (zeros where a dynamic VHD stores none) */
static void vread(const struct image *img, u64 voff, u8 *buf, u64 len)
{
	while (len) {
		u64 n = len;

		if (img->fmt == FMT_VHD_DYNAMIC &&
		    n > img->block_size - voff % img->block_size)
			n = img->block_size - voff % img->block_size;
		image_read(img, voff, buf, n);
		voff += n;
		buf += n;
		len -= n;
	}
}

/*
 * Write a range of the virtual disk in place.  A dynamic VHD's blocks
 * not allocated are not allocated here: the range must be zeros there.
 */
static void vwrite(const struct image *img, u64 voff, const u8 *buf, u64 len)
{
	while (len) {
		u64 n = len, b;

		if (img->fmt != FMT_VHD_DYNAMIC) {
			pwrite_all(img->fd, buf, len, voff, img->path);
			return;
		}
		if (n > img->block_size - voff % img->block_size)
			n = img->block_size - voff % img->block_size;
		b = voff / img->block_size;
		if (vhd_allocated(img, b))
			pwrite_all(img->fd, buf, n, vhd_block_data(img, b) +
				   voff % img->block_size, img->path);
		else if (!all_zero(buf, n))
			die("%s: internal error: data for block %llu, which is not allocated",
			    img->path, (unsigned long long)b);
		voff += n;
		buf += n;
		len -= n;
	}
}

/* ================= the authenticated layout (crypt.rst) ================= */

#define AUTH_MAGIC	"SHVAUTH1"
#define AUTH_META	32	/* aes-gcm-random's metadata entry */
#define AH_MAGIC	0
#define AH_VERSION	8
#define AH_SECTOR	12
#define AH_META_SIZE	16
#define AH_FLAGS	20
#define AH_UUID		24
#define AH_NR		40
#define AH_META_OFF	48
#define AH_DATA_OFF	56
#define AH_CIPHER	64
#define AH_CRC		508

struct auth {
	u32 sector_size, meta_size;
	u8 uuid[16];
	u64 nr, meta_off, data_off;	/* data sectors; sectors */
	char cipher[65];
};

/* CRC-32 (IEEE 802.3, zlib's crc32()) */
static u32 crc32_ieee(const void *buf, size_t len)
{
	const u8 *p = buf;
	u32 crc = ~0u;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0xedb88320 : crc >> 1;
	}
	return ~crc;
}

static u64 div_round_up(u64 a, u64 b)
{
	return (a + b - 1) / b;
}

/* crypt.rst: the layout a tool creates for a virtual disk of v bytes */
static bool auth_geometry(u64 v, u32 ss, struct auth *a)
{
	u64 t = v / ss, n;

	if (t < 3)
		return false;
	n = (t - 1) * ss / (ss + AUTH_META);
	while (n && 1 + div_round_up(n * AUTH_META, ss) + n > t)
		n--;
	while (1 + div_round_up((n + 1) * AUTH_META, ss) + n + 1 <= t)
		n++;
	if (!n)
		return false;
	a->nr = n;
	a->meta_off = 1;
	a->data_off = 1 + div_round_up(n * AUTH_META, ss);
	return true;
}

static void auth_make_header(u8 *h, const struct auth *a)
{
	memset(h, 0, 512);
	memcpy(h + AH_MAGIC, AUTH_MAGIC, 8);
	le_put(h + AH_VERSION, 4, 1);
	le_put(h + AH_SECTOR, 4, a->sector_size);
	le_put(h + AH_META_SIZE, 4, AUTH_META);
	memcpy(h + AH_UUID, a->uuid, 16);
	le_put(h + AH_NR, 8, a->nr);
	le_put(h + AH_META_OFF, 8, a->meta_off);
	le_put(h + AH_DATA_OFF, 8, a->data_off);
	memcpy(h + AH_CIPHER, a->cipher, strnlen(a->cipher, 64));
	le_put(h + AH_CRC, 4, crc32_ieee(h, AH_CRC));
}

static bool is_auth_header(const u8 *h)
{
	return !memcmp(h + AH_MAGIC, AUTH_MAGIC, 8);
}

/* the header in virtual sector 0 of img, checked as the kernel does */
static bool auth_load(const struct image *img, struct auth *a,
		      struct report *r)
{
	u8 h[512];
	u64 ss, t;
	unsigned int before = r->errors;

	if (img->size < 512)
		return false;
	vread(img, 0, h, 512);
	if (!is_auth_header(h)) {
		problem(r, "no authenticated-layout header (\"%s\") in sector 0",
			AUTH_MAGIC);
		return false;
	}
	if (le_get(h + AH_CRC, 4) != crc32_ieee(h, AH_CRC)) {
		problem(r, "authenticated header: bad CRC");
		return false;
	}
	memset(a, 0, sizeof(*a));
	ss = a->sector_size = le_get(h + AH_SECTOR, 4);
	a->meta_size = le_get(h + AH_META_SIZE, 4);
	memcpy(a->uuid, h + AH_UUID, 16);
	a->nr = le_get(h + AH_NR, 8);
	a->meta_off = le_get(h + AH_META_OFF, 8);
	a->data_off = le_get(h + AH_DATA_OFF, 8);
	memcpy(a->cipher, h + AH_CIPHER, 64);
	if (le_get(h + AH_VERSION, 4) != 1)
		problem(r, "authenticated header: version %llu",
			(unsigned long long)le_get(h + AH_VERSION, 4));
	if (!is_pow2(ss) || ss < 512 || ss > 4096 || img->size % ss) {
		problem(r, "authenticated header: bad sector size %llu",
			(unsigned long long)ss);
		return false;
	}
	t = img->size / ss;
	if (a->meta_size != AUTH_META)
		problem(r, "authenticated header: metadata entries of %u bytes (aes-gcm-random's are %u)",
			a->meta_size, AUTH_META);
	if (le_get(h + AH_FLAGS, 4))
		problem(r, "authenticated header: flags %#llx",
			(unsigned long long)le_get(h + AH_FLAGS, 4));
	if (strcmp(a->cipher, "aes-gcm-random"))
		problem(r, "authenticated header: cipher '%.64s'", a->cipher);
	if (!a->nr || a->nr > t || !a->meta_off || a->meta_off > t ||
	    a->data_off > t || a->data_off + a->nr > t ||
	    (t - a->meta_off) * ss / AUTH_META < a->nr ||
	    (a->meta_off * ss + a->nr * AUTH_META > a->data_off * ss) ||
	    !a->data_off)
		problem(r, "authenticated header: %llu data sectors at %llu, metadata at %llu do not fit %llu sectors",
			(unsigned long long)a->nr,
			(unsigned long long)a->data_off,
			(unsigned long long)a->meta_off,
			(unsigned long long)t);
	return r->errors == before;
}

/*
 * Verify every written data sector's tag (an entry of zeros: never
 * written).  Problems are reported; returns the number of sectors that
 * failed.
 */
static u64 auth_verify(const struct image *img, const struct auth *a,
		       struct engine *e, struct report *r, u64 *written)
{
	u32 ss = a->sector_size;
	u64 batch = MIB / ss, n, i, failed = 0;
	u8 *meta = xmalloc(batch * AUTH_META), *data = xmalloc(batch * ss);
	u8 *plain = xmalloc(ss), aad[GCM_AAD];
	struct progress pr;

	*written = 0;
	memcpy(aad, a->uuid, 16);
	progress_start(&pr, "check", a->nr * ss, 0);
	for (n = 0; n < a->nr; n += batch) {
		u64 cnt = a->nr - n < batch ? a->nr - n : batch;

		vread(img, a->meta_off * ss + n * AUTH_META, meta,
		      cnt * AUTH_META);
		vread(img, (a->data_off + n) * ss, data, cnt * ss);
		for (i = 0; i < cnt; i++) {
			u8 *m = meta + i * AUTH_META;

			if (all_zero(m, AUTH_META))
				continue;
			(*written)++;
			le_put(aad + 16, 8, iv_sector(e->lay, (n + i) * ss));
			if (!all_zero(m + 28, 4) ||
			    aead_op(e, false, m, aad, GCM_AAD, data + i * ss,
				    plain, ss, m + GCM_NONCE)) {
				if (errno != EBADMSG && all_zero(m + 28, 4))
					die_errno("AF_ALG gcm(aes): sector %llu",
						  (unsigned long long)(n + i));
				if (++failed <= 10)
					problem(r, "data sector %llu: authentication failed",
						(unsigned long long)(n + i));
				else
					r->errors++;
			}
		}
		progress_update(&pr, (n + cnt) * ss, false);
	}
	progress_update(&pr, a->nr * ss, true);
	if (failed > 10)
		fprintf(stderr, "%s: %s: ... %llu sectors failed authentication\n",
			prog, img->path, (unsigned long long)failed);
	wipe(plain, ss);
	free(plain);
	free(meta);
	free(data);
	return failed;
}

/* ================= re-encryption in place ================= */

/*
 * The journal, IMAGE.shv-reencrypt, little-endian:
 *
 *   0     header slot 0 (512 bytes)
 *   512   header slot 1
 *   1024  chunk record (512 bytes), its data at 4096
 *
 * A header slot: magic, CRC-32C of the slot (this field 0), version, seq,
 * boundary (bytes of the virtual disk below which every stored sector is
 * in the new form), and what the run does: operation, ciphers, sector
 * size, IV offset, key check values, image size and format.  Slots are
 * written alternately (seq & 1); the valid one with the higher seq holds.
 *
 * The chunk record: magic, CRC-32C of the record and its data, seq, the
 * chunk's virtual offset, file offset and length; the data is the chunk's
 * old contents.  For each chunk, at boundary B:
 *
 *   1. read the chunk from the image, write it as record seq + 1, sync;
 *   2. re-encrypt it, write it to the image, sync;
 *   3. write header seq + 1 with boundary B + len, sync.
 *
 * Resuming, a valid record with seq = header's seq + 1 and offset = the
 * boundary means step 2 may have been cut short: the chunk is redone from
 * the record's copy.  Any other record (torn in step 1, or an old one)
 * means the chunk was not touched.
 */
#define J_MAGIC		"SHVRENC1"
#define J_CHUNK_MAGIC	"SHVRCHK1"
#define J_VERSION	1
#define J_SLOT		512
#define J_CHUNK_HDR	1024
#define J_CHUNK_DATA	4096

/* header slot fields */
#define JH_MAGIC	0
#define JH_CRC		8
#define JH_VERSION	12
#define JH_SEQ		16
#define JH_BOUNDARY	24
#define JH_SIZE		32
#define JH_FILE_SIZE	40
#define JH_OP		48
#define JH_SECTOR	52
#define JH_IV_OFFSET	56
#define JH_FLAGS	64
#define JH_FORMAT	68
#define JH_CHUNK	72
#define JH_OLD_KCV	80
#define JH_NEW_KCV	96
#define JH_OLD_CIPHER	112
#define JH_NEW_CIPHER	176
#define JH_OLD_KEYSZ	240
#define JH_NEW_KEYSZ	244

#define JH_FLAG_LARGE	1

/* chunk record fields */
#define JC_MAGIC	0
#define JC_CRC		8
#define JC_SEQ		16
#define JC_VOFF		24
#define JC_FOFF		32
#define JC_LEN		40

enum { OP_ENCRYPT = 1, OP_DECRYPT, OP_REKEY };
static const char *const op_names[] = {
	[OP_ENCRYPT] = "encrypt", [OP_DECRYPT] = "decrypt",
	[OP_REKEY] = "rekey",
};

struct reenc {
	struct image *img;
	struct engine *old, *new;	/* NULL: plaintext */
	const struct layout *lay;
	int op;
	u64 chunk;
	char jpath[PATH_MAX];
	int jfd;
	u64 seq, boundary;
	u8 slot[J_SLOT];		/* the header, as last written */
	u8 *buf;
	struct progress pr;
	u64 done;			/* bytes of stored data done */
	const struct auth *auth;	/* the authenticated layout, or NULL */
};

/*
 * The journal's copy of a chunk: its stored bytes, and for the
 * authenticated layout its metadata entries after them.  For that layout
 * voff and len are in data-sector bytes (data sector n at n * S).
 */
static u64 chunk_bytes(const struct reenc *re, u64 len)
{
	return len + (re->auth ? len / re->auth->sector_size * AUTH_META : 0);
}

static void chunk_read(struct reenc *re, u64 voff, u64 foff, u64 len)
{
	const struct auth *a = re->auth;

	if (!a) {
		pread_all(re->img->fd, re->buf, len, foff, re->img->path);
		return;
	}
	vread(re->img, a->data_off * a->sector_size + voff, re->buf, len);
	vread(re->img, a->meta_off * a->sector_size +
	      voff / a->sector_size * AUTH_META, re->buf + len,
	      len / a->sector_size * AUTH_META);
}

/* the first part of the chunk's new contents, or all of it */
static void chunk_write(struct reenc *re, u64 voff, u64 foff, u64 len,
			u64 part)
{
	const struct auth *a = re->auth;

	if (!a) {
		pwrite_all(re->img->fd, re->buf, part, foff, re->img->path);
		return;
	}
	/* the data, then the entries (what the kernel does) */
	vwrite(re->img, a->data_off * a->sector_size + voff, re->buf,
	       part < len ? part : len);
	if (part == len)
		vwrite(re->img, a->meta_off * a->sector_size +
		       voff / a->sector_size * AUTH_META, re->buf + len,
		       len / a->sector_size * AUTH_META);
}

/*
 * aes-gcm-random: each written sector (a metadata entry not all zeros)
 * verified and decrypted with the old key, encrypted with the new one
 * under a fresh random nonce; sectors never written stay so.
 */
static void reenc_auth(struct reenc *re, u64 voff, u8 *buf, u64 len)
{
	const struct auth *a = re->auth;
	u32 ss = a->sector_size;
	u64 i, n = len / ss;
	u8 *meta = buf + len, aad[GCM_AAD], *plain = xmalloc(ss);
	u8 *nonces = xmalloc(n * GCM_NONCE);

	if (getrandom(nonces, n * GCM_NONCE, 0) != (ssize_t)(n * GCM_NONCE))
		die_errno("getrandom");
	memcpy(aad, a->uuid, 16);
	for (i = 0; i < n; i++) {
		u8 *m = meta + i * AUTH_META, *d = buf + i * ss;
		u64 sec = voff / ss + i;

		if (all_zero(m, AUTH_META))
			continue;
		le_put(aad + 16, 8, iv_sector(re->lay, sec * ss));
		if (!all_zero(m + 28, 4) ||
		    aead_op(re->old, false, m, aad, GCM_AAD, d, plain, ss,
			    m + GCM_NONCE)) {
			if (errno == EBADMSG || !all_zero(m + 28, 4))
				die("%s: data sector %llu fails authentication with the old key: rekey stopped there (shv-disk check --cipher %s finds them all)",
				    re->img->path, (unsigned long long)sec,
				    re->old->def->spec);
			die_errno("AF_ALG gcm(aes): sector %llu",
				  (unsigned long long)sec);
		}
		memcpy(m, nonces + i * GCM_NONCE, GCM_NONCE);
		memset(m + 28, 0, 4);
		if (aead_op(re->new, true, m, aad, GCM_AAD, plain, d, ss,
			    m + GCM_NONCE))
			die_errno("AF_ALG gcm(aes): sector %llu",
				  (unsigned long long)sec);
	}
	wipe(plain, ss);
	free(plain);
	free(nonces);
}

static void journal_path(char *buf, size_t len, const char *image)
{
	if (snprintf(buf, len, "%s.shv-reencrypt", image) >= (int)len)
		die("%s: path too long", image);
}

static bool journal_exists(const char *image)
{
	char p[PATH_MAX];

	journal_path(p, sizeof(p), image);
	return !access(p, F_OK);
}

/* the header slot this run would write, seq and boundary aside */
static void journal_describe(struct reenc *re, u8 *s)
{
	memset(s, 0, J_SLOT);
	memcpy(s + JH_MAGIC, J_MAGIC, 8);
	le_put(s + JH_VERSION, 4, J_VERSION);
	le_put(s + JH_SIZE, 8, re->img->size);
	le_put(s + JH_FILE_SIZE, 8, re->img->file_size);
	le_put(s + JH_OP, 4, re->op);
	le_put(s + JH_SECTOR, 4, re->lay->sector_size);
	le_put(s + JH_IV_OFFSET, 8, re->lay->iv_offset);
	le_put(s + JH_FLAGS, 4, re->lay->large ? JH_FLAG_LARGE : 0);
	le_put(s + JH_FORMAT, 4, re->img->fmt);
	if (re->old) {
		memcpy(s + JH_OLD_KCV, re->old->kcv, 16);
		snprintf((char *)s + JH_OLD_CIPHER, 64, "%s",
			 re->old->def->spec);
		le_put(s + JH_OLD_KEYSZ, 4, re->old->key_size);
	}
	if (re->new) {
		memcpy(s + JH_NEW_KCV, re->new->kcv, 16);
		snprintf((char *)s + JH_NEW_CIPHER, 64, "%s",
			 re->new->def->spec);
		le_put(s + JH_NEW_KEYSZ, 4, re->new->key_size);
	}
}

static void journal_write_header(struct reenc *re, u64 seq, u64 boundary)
{
	u8 *s = re->slot;

	le_put(s + JH_SEQ, 8, seq);
	le_put(s + JH_BOUNDARY, 8, boundary);
	le_put(s + JH_CHUNK, 8, re->chunk);
	le_put(s + JH_CRC, 4, 0);
	le_put(s + JH_CRC, 4, crc32c(0, s, J_SLOT));
	pwrite_all(re->jfd, s, J_SLOT, (seq & 1) * J_SLOT, re->jpath);
	sync_fd(re->jfd, re->jpath);
	re->seq = seq;
	re->boundary = boundary;
}

static bool slot_valid(u8 *s)
{
	u32 crc = le_get(s + JH_CRC, 4);
	bool ok;

	if (memcmp(s + JH_MAGIC, J_MAGIC, 8) ||
	    le_get(s + JH_VERSION, 4) != J_VERSION)
		return false;
	le_put(s + JH_CRC, 4, 0);
	ok = crc32c(0, s, J_SLOT) == crc;
	le_put(s + JH_CRC, 4, crc);
	return ok;
}

/* the journal's valid header slot with the highest seq, or NULL */
static u8 *journal_read_header(int fd, const char *path, u8 slots[2][J_SLOT])
{
	struct stat st;
	bool v0, v1;

	if (fstat(fd, &st))
		die_errno("%s", path);
	if (st.st_size < J_CHUNK_DATA)
		return NULL;
	pread_all(fd, slots, 2 * J_SLOT, 0, path);
	v0 = slot_valid(slots[0]);
	v1 = slot_valid(slots[1]);
	if (v0 && v1)
		return le_get(slots[0] + JH_SEQ, 8) >
		       le_get(slots[1] + JH_SEQ, 8) ? slots[0] : slots[1];
	return v0 ? slots[0] : v1 ? slots[1] : NULL;
}

/* Compare the journal's run with this one; die with what differs. */
static void journal_match(struct reenc *re, const u8 *h)
{
	u8 want[J_SLOT];
	const char *old = (const char *)h + JH_OLD_CIPHER;
	const char *new = (const char *)h + JH_NEW_CIPHER;
	unsigned int jop = le_get(h + JH_OP, 4);

	journal_describe(re, want);
	if (jop != (unsigned int)re->op)
		die("%s: an interrupted %s of this image is in progress; finish it with shv-disk %s (same keys and options)",
		    re->jpath, jop < ARRAY_SIZE(op_names) && op_names[jop] ?
		    op_names[jop] : "(unknown)",
		    jop < ARRAY_SIZE(op_names) && op_names[jop] ?
		    op_names[jop] : "?");
	if (memcmp(want + JH_OLD_CIPHER, old, 64) ||
	    memcmp(want + JH_NEW_CIPHER, new, 64) ||
	    memcmp(want + JH_OLD_KEYSZ, h + JH_OLD_KEYSZ, 8))
		die("%s: the interrupted %s was from '%.64s' to '%.64s' with other key sizes or ciphers; give the same options",
		    re->jpath, op_names[re->op], *old ? old : "plaintext",
		    *new ? new : "plaintext");
	if (memcmp(want + JH_SECTOR, h + JH_SECTOR, 20))
		die("%s: the interrupted %s used sector size %llu, IV offset %llu%s; give the same options",
		    re->jpath, op_names[re->op],
		    (unsigned long long)le_get(h + JH_SECTOR, 4),
		    (unsigned long long)le_get(h + JH_IV_OFFSET, 8),
		    le_get(h + JH_FLAGS, 4) & JH_FLAG_LARGE ?
		    " and --iv-large-sectors" : "");
	if (memcmp(want + JH_OLD_KCV, h + JH_OLD_KCV, 16))
		die("%s: the old key is not the one the interrupted %s started with",
		    re->jpath, op_names[re->op]);
	if (memcmp(want + JH_NEW_KCV, h + JH_NEW_KCV, 16))
		die("%s: the new key is not the one the interrupted %s started with",
		    re->jpath, op_names[re->op]);
	if (memcmp(want + JH_SIZE, h + JH_SIZE, 16) ||
	    le_get(h + JH_FORMAT, 4) != re->img->fmt)
		die("%s: the image changed size or format since the interrupted %s started",
		    re->jpath, op_names[re->op]);
}

/* test hook: SHV_DISK_CRASH=STEP:N kills the run at STEP of chunk N */
static const char *crash_step;
static u64 crash_chunk;

static void crash_point(const char *step, u64 seq)
{
	if (crash_step && seq == crash_chunk && !strcmp(step, crash_step)) {
		fflush(NULL);
		kill(getpid(), SIGKILL);
		pause();
	}
}

/* old form -> new form, in place in buf */
static void reenc_transform(struct reenc *re, u64 voff, u8 *buf, u64 len)
{
	if (re->auth) {
		reenc_auth(re, voff, buf, len);
		return;
	}
	if (re->old)
		engine_crypt(re->old, false, voff, buf, len);
	if (re->new)
		engine_crypt(re->new, true, voff, buf, len);
}

/* steps 2 and 3 for the chunk in re->buf (its old contents) */
static void reenc_finish_chunk(struct reenc *re, u64 seq, u64 voff,
			       u64 foff, u64 len)
{
	reenc_transform(re, voff, re->buf, len);
	if (crash_step && seq == crash_chunk && !strcmp(crash_step, "torn")) {
		/* half the chunk's new sectors written, then a crash */
		chunk_write(re, voff, foff, len, len / 2);
		sync_fd(re->img->fd, re->img->path);
		crash_point("torn", seq);
	}
	chunk_write(re, voff, foff, len, len);
	sync_fd(re->img->fd, re->img->path);
	crash_point("image", seq);
	journal_write_header(re, seq, voff + len);
	crash_point("header", seq);
}

static void reenc_chunk(struct reenc *re, u64 voff, u64 foff, u64 len)
{
	u64 seq = re->seq + 1;
	u8 rec[J_SLOT];
	u32 crc;

	chunk_read(re, voff, foff, len);
	memset(rec, 0, sizeof(rec));
	memcpy(rec + JC_MAGIC, J_CHUNK_MAGIC, 8);
	le_put(rec + JC_SEQ, 8, seq);
	le_put(rec + JC_VOFF, 8, voff);
	le_put(rec + JC_FOFF, 8, foff);
	le_put(rec + JC_LEN, 8, len);
	crc = crc32c(crc32c(0, rec, sizeof(rec)), re->buf,
		     chunk_bytes(re, len));
	le_put(rec + JC_CRC, 4, crc);
	pwrite_all(re->jfd, re->buf, chunk_bytes(re, len), J_CHUNK_DATA,
		   re->jpath);
	pwrite_all(re->jfd, rec, sizeof(rec), J_CHUNK_HDR, re->jpath);
	sync_fd(re->jfd, re->jpath);
	crash_point("journal", seq);
	reenc_finish_chunk(re, seq, voff, foff, len);
}

/*
 * An interrupted chunk: if the record is the one after the header, redo
 * its chunk from the old contents saved there.
 */
static void reenc_recover(struct reenc *re)
{
	u8 rec[J_SLOT];
	u64 voff, foff, len;
	u32 crc;

	pread_all(re->jfd, rec, sizeof(rec), J_CHUNK_HDR, re->jpath);
	if (memcmp(rec + JC_MAGIC, J_CHUNK_MAGIC, 8) ||
	    le_get(rec + JC_SEQ, 8) != re->seq + 1 ||
	    le_get(rec + JC_VOFF, 8) != re->boundary)
		return;
	voff = le_get(rec + JC_VOFF, 8);
	foff = le_get(rec + JC_FOFF, 8);
	len = le_get(rec + JC_LEN, 8);
	if (!len || len > re->chunk || len % re->lay->sector_size ||
	    (!re->auth && foff + len > re->img->file_size))
		return;
	{
		struct stat st;

		if (fstat(re->jfd, &st))
			die_errno("%s", re->jpath);
		if ((u64)st.st_size < J_CHUNK_DATA + chunk_bytes(re, len))
			return;		/* torn: the data is not all there */
	}
	pread_all(re->jfd, re->buf, chunk_bytes(re, len), J_CHUNK_DATA,
		  re->jpath);
	crc = le_get(rec + JC_CRC, 4);
	le_put(rec + JC_CRC, 4, 0);
	if (crc32c(crc32c(0, rec, sizeof(rec)), re->buf,
		   chunk_bytes(re, len)) != crc)
		return;		/* torn in step 1: the image is untouched */
	note("%s: redoing the interrupted chunk at %llu MiB from the journal",
	     re->img->path, (unsigned long long)(voff / MIB));
	reenc_finish_chunk(re, re->seq + 1, voff, foff, len);
}

static void reenc_run(struct reenc *re)
{
	char tmp[PATH_MAX + 8];
	u8 slots[2][J_SLOT], *h;
	struct extent *ext;
	size_t nr, i;
	u64 total = 0, base = 0;

	journal_path(re->jpath, sizeof(re->jpath), re->img->path);
	journal_describe(re, re->slot);
	re->buf = xmalloc(chunk_bytes(re, re->chunk));
	re->jfd = open(re->jpath, O_RDWR | O_CLOEXEC);
	if (re->jfd >= 0) {
		h = journal_read_header(re->jfd, re->jpath, slots);
		if (!h)
			die("%s: no valid header: the journal is damaged, and with it the record of how far the %s got",
			    re->jpath, op_names[re->op]);
		journal_match(re, h);
		re->seq = le_get(h + JH_SEQ, 8);
		re->boundary = le_get(h + JH_BOUNDARY, 8);
		re->chunk = le_get(h + JH_CHUNK, 8);
		if (!re->chunk || re->chunk % re->lay->sector_size ||
		    re->chunk > 256 * MIB)
			die("%s: bad chunk size in the journal", re->jpath);
		free(re->buf);
		re->buf = xmalloc(chunk_bytes(re, re->chunk));
		note("%s: resuming the interrupted %s at %llu MiB of %llu",
		     re->img->path, op_names[re->op],
		     (unsigned long long)(re->boundary / MIB),
		     (unsigned long long)(re->img->size / MIB));
		reenc_recover(re);
	} else if (errno == ENOENT) {
		/* a journal appears whole or not at all */
		snprintf(tmp, sizeof(tmp), "%s.tmp", re->jpath);
		re->jfd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			       0600);
		if (re->jfd < 0)
			die_errno("create %s", tmp);
		if (ftruncate(re->jfd, J_CHUNK_DATA))
			die_errno("%s", tmp);
		journal_write_header(re, 0, 0);
		if (rename(tmp, re->jpath))
			die_errno("rename %s", tmp);
		sync_dir(re->jpath);
	} else {
		die_errno("%s", re->jpath);
	}

	if (re->auth) {
		/* the data sectors, in data-sector bytes */
		nr = 1;
		ext = calloc(1, sizeof(*ext));
		if (!ext)
			die("out of memory");
		ext->len = re->auth->nr * re->auth->sector_size;
	} else {
		ext = image_extents(re->img, &nr);
	}
	for (i = 0; i < nr; i++) {
		total += ext[i].len;
		if (ext[i].voff + ext[i].len <= re->boundary)
			base += ext[i].len;
		else if (ext[i].voff < re->boundary)
			base += re->boundary - ext[i].voff;
	}
	re->done = base;
	progress_start(&re->pr, op_names[re->op], total, base);
	for (i = 0; i < nr; i++) {
		u64 off = ext[i].voff > re->boundary ? 0 :
			  re->boundary - ext[i].voff;

		while (off < ext[i].len) {
			u64 len = ext[i].len - off;

			if (len > re->chunk)
				len = re->chunk;
			reenc_chunk(re, ext[i].voff + off, ext[i].foff + off,
				    len);
			off += len;
			re->done += len;
			progress_update(&re->pr, re->done, false);
		}
	}
	progress_update(&re->pr, re->done, true);
	free(ext);
	/* all done: the journal goes */
	if (unlink(re->jpath))
		die_errno("remove %s", re->jpath);
	sync_dir(re->jpath);
	close(re->jfd);
	free(re->buf);
}

/* ================= the commands ================= */

enum {
	O_SIZE = 1, O_FORMAT, O_BLOCK_SIZE, O_CIPHER, O_KEYFILE, O_KEYID,
	O_KEY_SIZE, O_NEW_CIPHER, O_NEW_KEYFILE, O_NEW_KEYID, O_NEW_KEY_SIZE,
	O_SECTOR, O_IV_OFFSET, O_IV_LARGE, O_CHUNK, O_SPARSE, O_RAW,
	O_PROGRESS, O_QUIET, O_HELP, O_OLD_KEYFILE, O_OLD_KEYID, O_REPAIR,
	O_RESUME,
};

#define OPT(x)		(1UL << O_##x)
#define OPTS_LAYOUT	(OPT(SECTOR) | OPT(IV_OFFSET) | OPT(IV_LARGE))
#define OPTS_KEY	(OPT(CIPHER) | OPT(KEYFILE) | OPT(KEYID) | \
			 OPT(KEY_SIZE) | OPTS_LAYOUT)
#define OPTS_ALWAYS	(OPT(QUIET) | OPT(HELP))
#define OPTS_RUN	(OPT(CHUNK) | OPT(PROGRESS) | OPT(RAW) | OPT(RESUME))

struct opts {
	u64 size;
	int fmt;			/* -1: not given */
	u64 block_size;
	const char *cipher, *new_cipher;
	struct keyarg key, new_key;
	unsigned int key_bits, new_key_bits;
	struct layout lay;
	u64 chunk;
	bool sparse, force_raw, repair;
	unsigned long given;		/* OPT_* bits given */
};

static void lock_image(struct image *img)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	/* an open file description lock: shared with no one */
	if (fcntl(img->fd, F_OFD_SETLK, &fl))
		die("%s: in use by another shv-disk (%s)", img->path,
		    strerror(errno));
}

static void check_layout(const struct image *img, const struct layout *l)
{
	if (img->size % l->sector_size)
		die("%s: the disk size %llu is not a multiple of the %u-byte sector",
		    img->path, (unsigned long long)img->size, l->sector_size);
	if (img->fmt == FMT_VHD_DYNAMIC && img->block_size % l->sector_size)
		die("%s: the VHD block size %u is not a multiple of the %u-byte sector",
		    img->path, img->block_size, l->sector_size);
}

/* an engine for --cipher/--keyfile (or the new_ ones) */
static void open_engine(struct engine *e, const char *spec,
			const struct keyarg *ka, unsigned int bits,
			const struct layout *lay, const char *opt)
{
	const struct cipher_def *def = cipher_find(spec);
	u8 key[SHV_KEY_MAX];
	unsigned int n;

	if (!def)
		die_cipher(spec);
	n = load_key(ka, def, bits, key, opt);
	engine_open(e, def, lay, key, n);
	wipe(key, sizeof(key));
}

/* write the encryption of zeros over [voff, voff + len) at foff */
static void write_encrypted_zeros(int fd, const char *path,
				  struct engine *e, u64 voff, u64 foff,
				  u64 len, struct progress *pr, u64 *done)
{
	u64 chunk = MIB, off;
	u8 *buf = xmalloc(chunk);

	for (off = 0; off < len; off += chunk) {
		u64 n = len - off < chunk ? len - off : chunk;

		memset(buf, 0, n);
		engine_crypt(e, true, voff + off, buf, n);
		pwrite_all(fd, buf, n, foff + off, path);
		if (pr) {
			*done += n;
			progress_update(pr, *done, false);
		}
	}
	free(buf);
}

static int create_exclusive(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST)
		die("%s exists; shv-disk does not overwrite images", path);
	if (fd < 0)
		die_errno("create %s", path);
	return fd;
}

/* footer copy, header and an empty BAT of a dynamic VHD; returns its end */
static u64 vhd_write_dynamic_meta(int fd, const char *path, u64 size,
				  u32 block_size, const u32 *bat,
				  u8 *footer)
{
	u32 entries = (size + block_size - 1) / block_size, i;
	u64 bat_bytes = round_up((u64)entries * 4, 512);
	u8 header[VHD_HEADER], *b = calloc(1, bat_bytes);

	if (!b)
		die("out of memory");
	vhd_make_footer(footer, VHD_TYPE_DYNAMIC, size, VHD_FOOTER);
	vhd_make_header(header, VHD_FOOTER + VHD_HEADER, entries, block_size);
	memset(b, 0xff, bat_bytes);
	for (i = 0; bat && i < entries; i++)
		be_put(b + 4 * i, 4, bat[i]);
	pwrite_all(fd, footer, VHD_FOOTER, 0, path);
	pwrite_all(fd, header, VHD_HEADER, VHD_FOOTER, path);
	pwrite_all(fd, b, bat_bytes, VHD_FOOTER + VHD_HEADER, path);
	free(b);
	return VHD_FOOTER + VHD_HEADER + bat_bytes;
}

static u64 vhd_dynamic_data_start(u64 size, u32 block_size)
{
	u32 entries = (size + block_size - 1) / block_size;

	return VHD_FOOTER + VHD_HEADER + round_up((u64)entries * 4, 512);
}

static void check_vhd_size(u64 size, enum fmt fmt, u64 block_size)
{
	if (fmt == FMT_RAW)
		return;
	if (size % 512)
		die("a VHD's size is whole 512-byte sectors: %llu is not",
		    (unsigned long long)size);
	if (size > VHD_MAX_SIZE)
		die("a VHD is at most 2040 GiB");
	if (fmt == FMT_VHD_DYNAMIC &&
	    (!is_pow2(block_size) || block_size < 4096 ||
	     block_size > 256 * MIB))
		die("--block-size %llu: a power of two from 4K to 256M",
		    (unsigned long long)block_size);
}

static int cmd_create(const char *path, struct opts *o)
{
	enum fmt fmt = o->fmt < 0 ? FMT_RAW : o->fmt;
	struct engine e = { 0 };
	struct progress pr;
	u8 footer[VHD_FOOTER], hdr[512];
	struct auth auth = { 0 };
	bool is_auth = false;
	u64 done = 0;
	int fd;

	if (!o->size)
		die("create: --size is needed");
	if (o->size % o->lay.sector_size)
		die("--size %llu is not a multiple of the %u-byte sector",
		    (unsigned long long)o->size, o->lay.sector_size);
	check_vhd_size(o->size, fmt, o->block_size);
	if (fmt == FMT_VHD_DYNAMIC && o->block_size % o->lay.sector_size)
		die("--block-size is not a multiple of the sector size");
	if (o->cipher && cipher_find(o->cipher)->auth) {
		/* all zeros but the header: no key needed, one checked if given */
		auth.sector_size = o->lay.sector_size;
		snprintf(auth.cipher, sizeof(auth.cipher), "%s", o->cipher);
		if (!auth_geometry(o->size, o->lay.sector_size, &auth))
			die("--size %llu: too small for the authenticated layout",
			    (unsigned long long)o->size);
		get_random(auth.uuid, 16);
		auth_make_header(hdr, &auth);
		is_auth = true;
		if (o->sparse)
			die("--sparse: an authenticated image is sparse anyway");
		if (o->key.file || o->key.id) {
			open_engine(&e, o->cipher, &o->key, o->key_bits,
				    &o->lay, "key");
			engine_close(&e);
		}
	} else if (o->cipher) {
		open_engine(&e, o->cipher, &o->key, o->key_bits, &o->lay, "key");
	} else if (o->key.file || o->key.id) {
		die("create: a key without --cipher");
	}
	fd = create_exclusive(path);
	switch (fmt) {
	case FMT_RAW:
	case FMT_VHD_FIXED:
		if (ftruncate(fd, o->size))
			die_errno("%s", path);
		if (is_auth)
			pwrite_all(fd, hdr, sizeof(hdr), 0, path);
		if (e.def && !o->sparse) {
			progress_start(&pr, "create", o->size, 0);
			write_encrypted_zeros(fd, path, &e, 0, 0, o->size, &pr,
					      &done);
			progress_update(&pr, done, true);
		}
		if (fmt == FMT_VHD_FIXED) {
			vhd_make_footer(footer, VHD_TYPE_FIXED, o->size,
					VHD_NO_OFFSET);
			pwrite_all(fd, footer, VHD_FOOTER, o->size, path);
		}
		break;
	case FMT_VHD_DYNAMIC: {
		u64 end = vhd_write_dynamic_meta(fd, path, o->size,
						 o->block_size, NULL, footer);

		if (is_auth) {
			/* block 0 for the header; the rest reads as zeros */
			u32 bm = vhd_bitmap_size(o->block_size);
			u8 *blk = xmalloc(bm + o->block_size), bat[4];

			memset(blk, 0xff, bm);
			memset(blk + bm, 0, o->block_size);
			memcpy(blk + bm, hdr, sizeof(hdr));
			pwrite_all(fd, blk, bm + o->block_size, end, path);
			be_put(bat, 4, end / 512);
			pwrite_all(fd, bat, 4, VHD_FOOTER + VHD_HEADER, path);
			end += bm + o->block_size;
			free(blk);
		}
		/* no (other) block is allocated: they read as zeros */
		pwrite_all(fd, footer, VHD_FOOTER, end, path);
		break;
	}
	}
	if (fsync(fd))
		die_errno("sync %s", path);
	close(fd);
	sync_dir(path);
	engine_close(&e);
	note("created %s: %s, %llu bytes%s%s", path, fmt_names[fmt],
	     (unsigned long long)o->size, o->cipher ? ", " : "",
	     o->cipher ? o->cipher : "");
	if (is_auth)
		note("%s: authenticated layout: %llu data sectors of %u bytes from sector %llu",
		     path, (unsigned long long)auth.nr, auth.sector_size,
		     (unsigned long long)auth.data_off);
	return 0;
}

static int cmd_reencrypt(const char *path, int op, struct opts *o)
{
	struct engine old = { 0 }, new = { 0 };
	struct reenc re = { .op = op, .lay = &o->lay, .chunk = o->chunk };
	struct auth auth;
	struct image img;
	const char *spec = o->cipher ? o->cipher : "aes-xts-plain64";

	if (cipher_find(spec)->auth && op != OP_REKEY)
		die("%s: %s keeps a header and a tag per sector beside the data: a plaintext image cannot become one in place, nor the reverse (create one and copy the data through shv)",
		    op_names[op], spec);
	image_open(&img, path, true, o->force_raw, NULL);
	lock_image(&img);
	if (op == OP_REKEY &&
	    (cipher_find(spec)->auth ||
	     (o->new_cipher && cipher_find(o->new_cipher)->auth))) {
		struct report r = { .path = path };

		if (!cipher_find(spec)->auth ||
		    (o->new_cipher && !cipher_find(o->new_cipher)->auth))
			die("rekey: between the authenticated layout and the others is not possible in place (their layouts differ)");
		if (!auth_load(&img, &auth, &r))
			die("%s: not an image with the authenticated layout",
			    path);
		if (o->given & OPT(SECTOR) &&
		    o->lay.sector_size != auth.sector_size)
			die("--sector %u, but the image's header says %u",
			    o->lay.sector_size, auth.sector_size);
		o->lay.sector_size = auth.sector_size;
		re.auth = &auth;
	}
	check_layout(&img, &o->lay);
	if (o->chunk % o->lay.sector_size)
		die("--chunk %llu is not a multiple of the sector size",
		    (unsigned long long)o->chunk);
	switch (op) {
	case OP_ENCRYPT:
		open_engine(&new, spec, &o->key, o->key_bits, &o->lay, "key");
		re.new = &new;
		break;
	case OP_DECRYPT:
		open_engine(&old, spec, &o->key, o->key_bits, &o->lay, "key");
		re.old = &old;
		break;
	case OP_REKEY: {
		const struct cipher_def *od = cipher_find(spec);
		const struct cipher_def *nd = o->new_cipher ?
					      cipher_find(o->new_cipher) : od;
		u8 ok[SHV_KEY_MAX], nk[SHV_KEY_MAX];
		unsigned int on, nn;

		on = load_key(&o->key, od, o->key_bits, ok, "old-key");
		nn = load_key(&o->new_key, nd, o->new_key_bits ?
			      o->new_key_bits : o->new_cipher ? 0 :
			      o->key_bits, nk, "new-key");
		if (od == nd && on == nn && !memcmp(ok, nk, on))
			die("rekey: the new key is the old key");
		engine_open(&old, od, &o->lay, ok, on);
		engine_open(&new, nd, &o->lay, nk, nn);
		wipe(ok, sizeof(ok));
		wipe(nk, sizeof(nk));
		re.old = &old;
		re.new = &new;
		break;
	}
	}
	re.img = &img;
	reenc_run(&re);
	engine_close(&old);
	engine_close(&new);
	note("%s: %s done (%s, %llu bytes)", path, op_names[op],
	     fmt_names[img.fmt], (unsigned long long)img.size);
	image_close(&img);
	return 0;
}

/*
 * convert: the virtual disk of SRC as a new image DST of another format.
 * The stored sectors are copied as they are (encrypted or not: the IV is
 * the virtual sector either way).  A dynamic DST leaves out the blocks
 * that read as zeros: all-zero bytes, or with a key, blocks that decrypt
 * to zeros; a block not stored in SRC is written to a raw or fixed DST as
 * zeros, or with a key as the encryption of zeros.
 */
static int cmd_convert(const char *src, const char *dst, struct opts *o)
{
	struct engine e = { 0 };
	struct image in;
	enum fmt fmt;
	struct progress pr;
	u8 footer[VHD_FOOTER], *buf, *tmp;
	u64 bs, vo, pos = 0, done = 0;
	u32 *bat = NULL, nblocks = 0, allocated = 0;
	int fd;

	if (o->fmt < 0)
		die("convert: --format is needed");
	fmt = o->fmt;
	image_open(&in, src, false, o->force_raw, NULL);
	if (journal_exists(src))
		die("%s: an interrupted re-encryption is in progress (%s.shv-reencrypt): finish it first",
		    src, src);
	if (o->cipher && cipher_find(o->cipher)->auth) {
		die("convert: no key is needed for %s images: their never-written sectors are zeros in every format",
		    o->cipher);
	} else if (o->cipher) {
		check_layout(&in, &o->lay);
		open_engine(&e, o->cipher, &o->key, o->key_bits, &o->lay,
			    "key");
	} else if (o->key.file || o->key.id) {
		die("convert: a key without --cipher");
	}
	bs = o->given & OPT(BLOCK_SIZE) ? o->block_size :
	     in.fmt == FMT_VHD_DYNAMIC ? in.block_size : o->block_size;
	check_vhd_size(in.size, fmt, bs);
	if (fmt == FMT_VHD_DYNAMIC && bs % o->lay.sector_size)
		die("--block-size is not a multiple of the sector size");
	fd = create_exclusive(dst);
	if (fmt == FMT_VHD_DYNAMIC) {
		nblocks = (in.size + bs - 1) / bs;
		bat = malloc((u64)nblocks * 4 + 4);
		if (!bat)
			die("out of memory");
		memset(bat, 0xff, (u64)nblocks * 4);
		pos = vhd_dynamic_data_start(in.size, bs);
	} else if (ftruncate(fd, in.size)) {
		die_errno("%s", dst);
	}
	buf = xmalloc(bs + VHD_FOOTER);
	tmp = xmalloc(bs);
	progress_start(&pr, "convert", in.size, 0);
	for (vo = 0; vo < in.size; vo += bs) {
		u64 len = in.size - vo < bs ? in.size - vo : bs;
		bool hole = true, zero;
		u64 p;

		/* the source's pieces (its blocks may be smaller) */
		for (p = 0; p < len;) {
			u64 n = len - p;

			if (in.fmt == FMT_VHD_DYNAMIC &&
			    n > in.block_size - (vo + p) % in.block_size)
				n = in.block_size - (vo + p) % in.block_size;
			if (!image_read(&in, vo + p, buf + p, n))
				hole = false;
			p += n;
		}
		zero = hole;
		if (!hole && fmt == FMT_VHD_DYNAMIC) {
			if (e.def) {
				memcpy(tmp, buf, len);
				engine_crypt(&e, false, vo, tmp, len);
				zero = all_zero(tmp, len);
			} else {
				zero = all_zero(buf, len);
			}
		}
		if (fmt == FMT_VHD_DYNAMIC) {
			if (!zero) {
				u32 bm = vhd_bitmap_size(bs);

				/* every sector present; past the disk end: 0 */
				memmove(buf + bm, buf, len);
				memset(buf, 0xff, bm);
				memset(buf + bm + len, 0, bs - len);
				pwrite_all(fd, buf, bm + bs, pos, dst);
				bat[vo / bs] = pos / 512;
				pos += bm + bs;
				allocated++;
			}
		} else if (hole && e.def) {
			write_encrypted_zeros(fd, dst, &e, vo, vo, len, NULL,
					      NULL);
		} else if (!all_zero(buf, len)) {
			pwrite_all(fd, buf, len, vo, dst);
		}
		done += len;
		progress_update(&pr, done, false);
	}
	progress_update(&pr, done, true);
	if (fmt == FMT_VHD_FIXED) {
		vhd_make_footer(footer, VHD_TYPE_FIXED, in.size, VHD_NO_OFFSET);
		pwrite_all(fd, footer, VHD_FOOTER, in.size, dst);
	} else if (fmt == FMT_VHD_DYNAMIC) {
		vhd_write_dynamic_meta(fd, dst, in.size, bs, bat, footer);
		pwrite_all(fd, footer, VHD_FOOTER, pos, dst);
		if (ftruncate(fd, pos + VHD_FOOTER))
			die_errno("%s", dst);
	}
	if (fsync(fd))
		die_errno("sync %s", dst);
	close(fd);
	sync_dir(dst);
	if (fmt == FMT_VHD_DYNAMIC)
		note("%s -> %s: %s, %u of %u blocks of %llu KiB stored", src,
		     dst, fmt_names[fmt], allocated, nblocks,
		     (unsigned long long)(bs / KIB));
	else
		note("%s -> %s: %s, %llu bytes", src, dst, fmt_names[fmt],
		     (unsigned long long)in.size);
	free(buf);
	free(tmp);
	free(bat);
	engine_close(&e);
	image_close(&in);
	return 0;
}

/* the journal's state, for info and check; false if there is none */
static bool journal_state(const char *path, char *desc, size_t len)
{
	char jp[PATH_MAX];
	u8 slots[2][J_SLOT], *h;
	unsigned int op;
	u64 size;
	int fd;

	journal_path(jp, sizeof(jp), path);
	fd = open(jp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	h = journal_read_header(fd, jp, slots);
	close(fd);
	if (!h) {
		snprintf(desc, len, "%s: damaged (no valid header)", jp);
		return true;
	}
	op = le_get(h + JH_OP, 4);
	size = le_get(h + JH_SIZE, 8);
	snprintf(desc, len, "interrupted %s from %s to %s, %.1f%% done (%s)",
		 op < ARRAY_SIZE(op_names) && op_names[op] ? op_names[op] :
		 "?", h[JH_OLD_CIPHER] ? (char *)h + JH_OLD_CIPHER : "plaintext",
		 h[JH_NEW_CIPHER] ? (char *)h + JH_NEW_CIPHER : "plaintext",
		 size ? 100.0 * le_get(h + JH_BOUNDARY, 8) / size : 0.0, jp);
	return true;
}

/*
 * check --repair: a dynamic VHD's footer.  A damaged footer at the end is
 * rewritten from the copy at the start, after the last block the BAT
 * references (the space after it is what the kernel allocates next), and
 * the file cut there; a footer copy that differs from a good footer is
 * rewritten from it.  Nothing else is touched.
 */
static void vhd_repair(const char *path, struct opts *o)
{
	struct report r = { .path = path, .silent = true, .check = true };
	struct image img;
	u8 head[VHD_FOOTER];
	u64 end, b;

	if (journal_exists(path))
		die("%s: an interrupted re-encryption is in progress: finish it before repairing",
		    path);
	if (!image_open(&img, path, true, o->force_raw, &r) ||
	    img.fmt != FMT_VHD_DYNAMIC) {
		image_close(&img);
		note("%s: nothing check --repair can do", path);
		return;
	}
	lock_image(&img);
	if (img.footer_from_copy) {
		end = round_up(img.bat_off + (u64)img.entries * 4, 512);
		if (end < img.header_off + VHD_HEADER)
			end = img.header_off + VHD_HEADER;
		for (b = 0; b < img.nr_blocks; b++) {
			u64 e = (u64)img.bat[b] * 512 + img.bitmap_size +
				img.block_size;

			if (vhd_allocated(&img, b) && e > end)
				end = e;
		}
		pwrite_all(img.fd, img.footer, VHD_FOOTER, end, path);
		if (ftruncate(img.fd, end + VHD_FOOTER))
			die_errno("%s", path);
		note("%s: footer rewritten from its copy at %llu", path,
		     (unsigned long long)end);
	} else {
		pread_all(img.fd, head, VHD_FOOTER, 0, path);
		if (memcmp(head, img.footer, VHD_FOOTER)) {
			pwrite_all(img.fd, img.footer, VHD_FOOTER, 0, path);
			note("%s: footer copy at offset 0 rewritten", path);
		}
	}
	if (fsync(img.fd))
		die_errno("sync %s", path);
	image_close(&img);
}

static int cmd_check(const char *path, struct opts *o)
{
	struct report r = { .path = path, .check = true };
	struct image img;
	char desc[PATH_MAX + 200];
	bool ok;

	if (o->repair)
		vhd_repair(path, o);
	const struct cipher_def *def = o->cipher ? cipher_find(o->cipher) : NULL;
	u64 written = 0, failed = 0;
	struct auth auth;
	bool is_auth = false;
	u8 h[512];

	if (def && !def->auth)
		die("check: %s has no tags: only the authenticated layout's sectors can be verified with a key",
		    def->spec);
	if (!def && (o->key.file || o->key.id))
		die("check: a key without --cipher aes-gcm-random");
	ok = image_open(&img, path, false, o->force_raw, &r);
	if (ok && img.size >= 512) {
		vread(&img, 0, h, 512);
		is_auth = is_auth_header(h);
	}
	if (ok && (is_auth || def)) {
		/* the header gives the sector size */
		if (auth_load(&img, &auth, &r)) {
			if (o->given & OPT(SECTOR) &&
			    o->lay.sector_size != auth.sector_size)
				problem(&r, "--sector %u, but the header says %u",
					o->lay.sector_size, auth.sector_size);
			o->lay.sector_size = auth.sector_size;
			if (def && (o->key.file || o->key.id)) {
				struct engine e;

				open_engine(&e, def->spec, &o->key,
					    o->key_bits, &o->lay, "key");
				failed = auth_verify(&img, &auth, &e, &r,
						     &written);
				engine_close(&e);
				if (!quiet)
					printf("%s: %llu of %llu data sectors written, %llu failed authentication\n",
					       path, (unsigned long long)written,
					       (unsigned long long)auth.nr,
					       (unsigned long long)failed);
			}
		} else {
			is_auth = false;
		}
	}
	if (ok && img.size % o->lay.sector_size)
		problem(&r, "the disk size %llu is not a multiple of the %u-byte sector",
			(unsigned long long)img.size, o->lay.sector_size);
	if (ok && img.fmt == FMT_VHD_DYNAMIC &&
	    img.block_size % o->lay.sector_size)
		problem(&r, "the block size %u is not a multiple of the %u-byte sector",
			img.block_size, o->lay.sector_size);
	if (journal_state(path, desc, sizeof(desc)))
		problem(&r, "%s: part of the image is in the old form, part in the new; run the same command again to finish",
			desc);
	image_close(&img);
	if (r.errors) {
		fprintf(stderr, "%s: %s: %u problem%s found\n", prog, path,
			r.errors, r.errors == 1 ? "" : "s");
		return EXIT_CORRUPT;
	}
	if (!quiet)
		printf("%s: %s, %llu bytes: no problems found\n", path,
		       fmt_names[img.fmt], (unsigned long long)img.size);
	return 0;
}

static int cmd_info(const char *path, struct opts *o)
{
	struct report r = { .path = path };
	struct image img;
	char desc[PATH_MAX + 200];
	bool ok;

	ok = image_open(&img, path, false, o->force_raw, &r);
	printf("image: %s\n", path);
	printf("format: %s%s\n", fmt_names[img.fmt],
	       ok && !r.errors ? "" : " (damaged: see shv-disk check)");
	if (ok) {
		printf("virtual size: %llu bytes (%.1f MiB)\n",
		       (unsigned long long)img.size, (double)img.size / MIB);
	}
	printf("file size: %llu bytes\n", (unsigned long long)img.file_size);
	if (ok && img.fmt != FMT_RAW) {
		const u8 *f = img.footer;
		u32 geo = be_get(f + VF_GEOMETRY, 4);
		time_t ts = be_get(f + VF_TIMESTAMP, 4) + VHD_EPOCH;
		char tbuf[64];
		unsigned int i;

		strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S UTC",
			 gmtime(&ts));
		printf("vhd creator: '%.4s' version %#llx on '%.4s', %s\n",
		       f + VF_CREATOR,
		       (unsigned long long)be_get(f + VF_CREATOR_VER, 4),
		       f + VF_CREATOR_OS, tbuf);
		printf("vhd geometry: %u/%u/%u (C/H/S)\n", geo >> 16,
		       (geo >> 8) & 0xff, geo & 0xff);
		printf("vhd uuid: ");
		for (i = 0; i < 16; i++)
			printf("%02x%s", f[VF_UUID + i],
			       i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
		printf("\n");
		if (img.fmt == FMT_VHD_DYNAMIC) {
			u32 n = 0, b;

			for (b = 0; b < img.nr_blocks; b++)
				n += vhd_allocated(&img, b);
			printf("vhd block size: %u bytes\n", img.block_size);
			printf("vhd blocks: %u of %u allocated (BAT of %u entries at %llu)\n",
			       n, img.nr_blocks, img.entries,
			       (unsigned long long)img.bat_off);
		}
	}
	if (ok && img.size >= 512) {
		struct auth a;
		u8 h[512];
		unsigned int i;

		vread(&img, 0, h, 512);
		if (is_auth_header(h) && auth_load(&img, &a, &r)) {
			printf("authenticated layout: %s, %u-byte sectors, %llu data sectors (%.1f MiB) from sector %llu, metadata from sector %llu\n",
			       a.cipher, a.sector_size,
			       (unsigned long long)a.nr,
			       (double)a.nr * a.sector_size / MIB,
			       (unsigned long long)a.data_off,
			       (unsigned long long)a.meta_off);
			printf("authenticated layout uuid: ");
			for (i = 0; i < 16; i++)
				printf("%02x", a.uuid[i]);
			printf("\n");
		}
	}
	if (journal_state(path, desc, sizeof(desc)))
		printf("re-encryption: %s\n", desc);
	image_close(&img);
	return ok && !r.errors ? 0 : EXIT_CORRUPT;
}

/* ================= arguments ================= */

static const struct option long_opts[] = {
	{ "size", required_argument, NULL, O_SIZE },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "block-size", required_argument, NULL, O_BLOCK_SIZE },
	{ "cipher", required_argument, NULL, O_CIPHER },
	{ "keyfile", required_argument, NULL, O_KEYFILE },
	{ "key-file", required_argument, NULL, O_KEYFILE },
	{ "keyid", required_argument, NULL, O_KEYID },
	{ "key-size", required_argument, NULL, O_KEY_SIZE },
	{ "old-keyfile", required_argument, NULL, O_OLD_KEYFILE },
	{ "old-keyid", required_argument, NULL, O_OLD_KEYID },
	{ "new-cipher", required_argument, NULL, O_NEW_CIPHER },
	{ "new-keyfile", required_argument, NULL, O_NEW_KEYFILE },
	{ "new-keyid", required_argument, NULL, O_NEW_KEYID },
	{ "new-key-size", required_argument, NULL, O_NEW_KEY_SIZE },
	{ "sector", required_argument, NULL, O_SECTOR },
	{ "sector-size", required_argument, NULL, O_SECTOR },
	{ "iv-offset", required_argument, NULL, O_IV_OFFSET },
	{ "iv-large-sectors", no_argument, NULL, O_IV_LARGE },
	{ "chunk", required_argument, NULL, O_CHUNK },
	{ "sparse", no_argument, NULL, O_SPARSE },
	{ "raw", no_argument, NULL, O_RAW },
	{ "repair", no_argument, NULL, O_REPAIR },
	{ "resume", no_argument, NULL, O_RESUME },
	{ "progress", required_argument, NULL, O_PROGRESS },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
"usage: shv-disk COMMAND ARGS [OPTIONS]\n"
"\n"
"  create IMAGE --size N[KMGT] [--format raw|vhd-fixed|vhd-dynamic]\n"
"         [--block-size 2M] [--cipher SPEC KEY [--sparse]]\n"
"  encrypt IMAGE [--cipher SPEC] KEY      plaintext -> ciphertext, in place\n"
"  decrypt IMAGE [--cipher SPEC] KEY      ciphertext -> plaintext, in place\n"
"  rekey IMAGE [--cipher SPEC] --old-keyfile A|--old-keyid D\n"
"        [--new-cipher SPEC] --new-keyfile B|--new-keyid D\n"
"  convert SRC DST --format raw|vhd-fixed|vhd-dynamic [--block-size N]\n"
"        [--cipher SPEC KEY]\n"
"  check IMAGE [--repair]                 footer, header, BAT, sizes\n"
"        [--cipher aes-gcm-random KEY]     and every written sector's tag\n"
"  info IMAGE\n"
"\n"
"KEY: --keyfile FILE (its first key-size bytes, as cryptsetup plain mode)\n"
"     or --keyid user:NAME (a user key in the kernel keyring)\n"
"     [--key-size BITS] (default: 512 for aes-xts-plain64, 256 otherwise)\n"
"SPEC: aes-xts-plain64 (default), aes-cbc-essiv:sha256, aes-gcm-random\n"
"     (authenticated: create, rekey, check; no encrypt/decrypt in place)\n"
"Sectors: --sector 512|1024|2048|4096 (default 512), --iv-offset N\n"
"     (512-byte units, cryptsetup's --skip), --iv-large-sectors\n"
"encrypt, decrypt and rekey resume an interrupted run of theirs from\n"
"IMAGE.shv-reencrypt when given the same keys and options (--resume:\n"
"only if there is one); --chunk N\n"
"(default 4M) is the unit they rewrite.  --progress auto|bar|plain|none,\n"
"--quiet; --raw treats an image as raw even if it looks like a VHD.\n"
"Exit status: 0 done, 1 error, 2 check found the image damaged.\n";

static __noreturn void usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.fmt = -1, .block_size = 2 * MIB, .chunk = 4 * MIB,
		.lay = { .sector_size = 512 },
	};
	unsigned long allowed = OPTS_ALWAYS;
	const char *cmd, *env;
	int c, nargs = 1, op = 0, li;
	char name[64];

	if (argc < 2)
		usage(EXIT_FAIL);
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help"))
		usage(0);
	env = getenv("SHV_DISK_CRASH");
	if (env && *env) {
		const char *colon = strchr(env, ':');

		if (!colon)
			die("SHV_DISK_CRASH=%s: expected STEP:N", env);
		crash_step = strndup(env, colon - env);
		crash_chunk = parse_u64_arg(colon + 1, "SHV_DISK_CRASH");
	}
	env = getenv("SHV_DISK_PROGRESS_INTERVAL");
	if (env && *env)
		progress_interval = parse_u64_arg(env,
						  "SHV_DISK_PROGRESS_INTERVAL");

	if (!strcmp(cmd, "create")) {
		allowed |= OPT(SIZE) | OPT(FORMAT) | OPT(BLOCK_SIZE) |
			   OPTS_KEY | OPT(SPARSE) | OPT(PROGRESS);
	} else if (!strcmp(cmd, "encrypt")) {
		op = OP_ENCRYPT;
		allowed |= OPTS_KEY | OPTS_RUN;
	} else if (!strcmp(cmd, "decrypt")) {
		op = OP_DECRYPT;
		allowed |= OPTS_KEY | OPTS_RUN;
	} else if (!strcmp(cmd, "rekey")) {
		op = OP_REKEY;
		allowed |= OPT(CIPHER) | OPT(KEY_SIZE) | OPT(OLD_KEYFILE) |
			   OPT(OLD_KEYID) | OPT(KEYFILE) | OPT(KEYID) | OPT(NEW_CIPHER) |
			   OPT(NEW_KEYFILE) | OPT(NEW_KEYID) |
			   OPT(NEW_KEY_SIZE) | OPTS_LAYOUT | OPTS_RUN;
	} else if (!strcmp(cmd, "convert")) {
		nargs = 2;
		allowed |= OPT(FORMAT) | OPT(BLOCK_SIZE) | OPTS_KEY |
			   OPT(PROGRESS) | OPT(RAW);
	} else if (!strcmp(cmd, "check")) {
		allowed |= OPTS_KEY | OPT(RAW) | OPT(REPAIR) | OPT(PROGRESS);
	} else if (!strcmp(cmd, "info")) {
		allowed |= OPT(SECTOR) | OPT(RAW);
	} else {
		fprintf(stderr, "%s: error: unknown command '%s'\n\n", prog,
			cmd);
		usage(EXIT_FAIL);
	}

	optind = 2;
	opterr = 0;
	while ((li = -1,
		c = getopt_long(argc, argv, "hq", long_opts, &li)) != -1) {
		if (li >= 0)
			snprintf(name, sizeof(name), "--%s", long_opts[li].name);
		else
			snprintf(name, sizeof(name), "-%c", c);
		if (c == 'h')
			c = O_HELP;
		if (c == 'q')
			c = O_QUIET;
		if (c == '?' || c == ':') {
			if (optopt)
				die("%s: unknown option or missing argument: -%c",
				    cmd, optopt);
			die("%s: unknown option '%s' or missing argument",
			    cmd, argv[optind - 1]);
		}
		if (!(allowed & (1UL << c)))
			die("%s: option '%s' does not apply here (see shv-disk --help)",
			    cmd, name);
		if (o.given & (1UL << c))
			die("%s: option '%s' given twice", cmd, name);
		o.given |= 1UL << c;
		switch (c) {
		case O_SIZE:
			o.size = parse_size(optarg, "--size");
			break;
		case O_FORMAT:
			o.fmt = parse_fmt(optarg);
			break;
		case O_BLOCK_SIZE:
			o.block_size = parse_size(optarg, "--block-size");
			break;
		case O_CIPHER:
			if (!cipher_find(optarg))
				die_cipher(optarg);
			o.cipher = optarg;
			break;
		case O_NEW_CIPHER:
			if (!cipher_find(optarg))
				die_cipher(optarg);
			o.new_cipher = optarg;
			break;
		case O_KEYFILE:
		case O_OLD_KEYFILE:
			if (o.key.file)
				die("--keyfile and --old-keyfile are the same key: give one");
			o.key.file = optarg;
			break;
		case O_KEYID:
		case O_OLD_KEYID:
			if (o.key.id)
				die("--keyid and --old-keyid are the same key: give one");
			o.key.id = optarg;
			break;
		case O_NEW_KEYFILE:
			o.new_key.file = optarg;
			break;
		case O_NEW_KEYID:
			o.new_key.id = optarg;
			break;
		case O_KEY_SIZE:
			o.key_bits = parse_u64_arg(optarg, "--key-size");
			if (!o.key_bits || o.key_bits > SHV_KEY_MAX * 8)
				die("--key-size %s: out of range", optarg);
			break;
		case O_NEW_KEY_SIZE:
			o.new_key_bits = parse_u64_arg(optarg, "--new-key-size");
			if (!o.new_key_bits || o.new_key_bits > SHV_KEY_MAX * 8)
				die("--new-key-size %s: out of range", optarg);
			break;
		case O_SECTOR: {
			u64 v = parse_size(optarg, "--sector");

			if (!is_pow2(v) || v < 512 || v > 4096)
				die("--sector %s: 512, 1024, 2048 or 4096",
				    optarg);
			o.lay.sector_size = v;
			break;
		}
		case O_IV_OFFSET:
			o.lay.iv_offset = parse_u64_arg(optarg, "--iv-offset");
			break;
		case O_IV_LARGE:
			o.lay.large = true;
			break;
		case O_CHUNK:
			o.chunk = parse_size(optarg, "--chunk");
			if (o.chunk < 512 || o.chunk > 256 * MIB)
				die("--chunk %s: from 512 bytes to 256M", optarg);
			break;
		case O_SPARSE:
			o.sparse = true;
			break;
		case O_RAW:
			o.force_raw = true;
			break;
		case O_REPAIR:
			o.repair = true;
			break;
		case O_RESUME:
			break;	/* checked below: resuming is automatic */
		case O_PROGRESS:
			if (!strcmp(optarg, "auto"))
				progress_mode = PROGRESS_AUTO;
			else if (!strcmp(optarg, "bar"))
				progress_mode = PROGRESS_BAR;
			else if (!strcmp(optarg, "plain"))
				progress_mode = PROGRESS_PLAIN;
			else if (!strcmp(optarg, "none"))
				progress_mode = PROGRESS_NONE;
			else
				die("--progress %s: auto, bar, plain or none",
				    optarg);
			break;
		case O_QUIET:
			quiet = true;
			break;
		case O_HELP:
			usage(0);
		}
	}
	if (argc - optind != nargs)
		die("%s: expected %s, got %d argument%s (see shv-disk --help)",
		    cmd, nargs == 2 ? "SRC and DST" : "one IMAGE",
		    argc - optind, argc - optind == 1 ? "" : "s");
	if (o.sparse && !o.cipher)
		die("--sparse goes with --cipher");
	if (o.given & OPT(BLOCK_SIZE) && o.fmt != FMT_VHD_DYNAMIC)
		die("--block-size is for --format vhd-dynamic");
	if (o.given & OPT(IV_LARGE) && o.lay.sector_size == 512)
		die("--iv-large-sectors makes no difference with 512-byte sectors: drop it");
	if (op == OP_REKEY && !o.new_key.file && !o.new_key.id)
		die("rekey: the new key is needed: --new-keyfile or --new-keyid");
	if (op == OP_REKEY && !o.key.file && !o.key.id)
		die("rekey: the old key is needed: --old-keyfile or --old-keyid");
	if ((o.given & OPT(KEY_SIZE) || o.given & OPTS_LAYOUT) && !o.cipher &&
	    op != OP_ENCRYPT && op != OP_DECRYPT && op != OP_REKEY &&
	    strcmp(cmd, "check") && strcmp(cmd, "info"))
		die("%s: key and sector options go with --cipher", cmd);

	if (o.given & OPT(RESUME) && !journal_exists(argv[optind]))
		die("--resume: %s has no interrupted run to resume (no %s.shv-reencrypt)",
		    argv[optind], argv[optind]);
	if (!strcmp(cmd, "create"))
		return cmd_create(argv[optind], &o);
	if (op)
		return cmd_reencrypt(argv[optind], op, &o);
	if (!strcmp(cmd, "convert"))
		return cmd_convert(argv[optind], argv[optind + 1], &o);
	if (!strcmp(cmd, "check"))
		return cmd_check(argv[optind], &o);
	return cmd_info(argv[optind], &o);
}
