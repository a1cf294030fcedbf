// SPDX-License-Identifier: GPL-2.0
/*
 * disk_bench: the host side of the disk benchmark (Documentation/bench.rst).
 *
 *   disk_bench dev PATH PREFIX [OPS]
 *	pc_disk's mode=bench on a block device or file, with O_DIRECT: 1 MiB
 *	sequential writes then reads over the whole of PATH, then OPS
 *	(default 2048) random 4 KiB writes and reads at the same offsets as
 *	the guest, one request at a time; prints "bench: PREFIX_seq_write N
 *	KiB/s" and so on
 *   disk_bench alg CIPHER KEYBYTES SECTOR PREFIX [MIB]
 *	the kernel cipher's own speed through AF_ALG: MIB (default 64) MiB
 *	encrypted and decrypted in requests of 64 KiB, one IV per SECTOR
 *	bytes as a disk would need it (one request per sector); prints
 *	"bench: PREFIX_encrypt N KiB/s" and "_decrypt"
 *   disk_bench key DESC FILE
 *	(for selftests/pc_disk.sh) add FILE's bytes as the logon key DESC
 *	to the user session keyring, where shv-run's keyid=logon:DESC finds
 *	it
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_alg.h>
#include <linux/keyctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

#define BIG	(1u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t lcg(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x >> 33;
}

static void report(const char *prefix, const char *what, uint64_t bytes,
		   double secs)
{
	printf("bench: %s_%s %llu KiB/s\n", prefix, what,
	       (unsigned long long)(bytes / 1024 / (secs > 0 ? secs : 1e-9)));
}

static int dev_bench(const char *path, const char *prefix, unsigned int ops)
{
	static const char *const names[4] = {
		"seq_write", "seq_read", "rand_write", "rand_read",
	};
	uint64_t size, off, x, bytes;
	unsigned int k, i;
	uint8_t *buf;
	double t;
	int fd;

	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	size = lseek(fd, 0, SEEK_END);
	if (posix_memalign((void **)&buf, 4096, BIG))
		return 1;
	for (i = 0; i < BIG; i++)
		buf[i] = i * 131 + 7;
	for (k = 0; k < 4; k++) {
		x = 42;
		bytes = 0;
		t = now();
		for (off = 0, i = 0; k < 2 ? off + BIG <= size : i < ops;
		     off += BIG, i++) {
			uint64_t pos = k < 2 ? off : lcg(&x) % (size >> 12) << 12;
			size_t len = k < 2 ? BIG : 4096;
			ssize_t n = k & 1 ? pread(fd, buf, len, pos) :
					    pwrite(fd, buf, len, pos);

			if (n != (ssize_t)len) {
				fprintf(stderr, "%s: I/O at %llu failed\n", path,
					(unsigned long long)pos);
				return 1;
			}
			bytes += len;
		}
		if (!(k & 1) && fdatasync(fd))
			perror("fdatasync");
		report(prefix, names[k], bytes, now() - t);
	}
	free(buf);
	close(fd);
	return 0;
}

static int alg_op(int op, int enc, uint8_t *buf, size_t len, size_t sector)
{
	char cbuf[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)];
	struct af_alg_iv *iv;
	struct cmsghdr *c;
	struct msghdr msg;
	struct iovec io;
	size_t done;

	for (done = 0; done < len; done += sector) {
		memset(cbuf, 0, sizeof(cbuf));
		memset(&msg, 0, sizeof(msg));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_ALG;
		c->cmsg_type = ALG_SET_OP;
		c->cmsg_len = CMSG_LEN(4);
		*(uint32_t *)CMSG_DATA(c) = enc ? ALG_OP_ENCRYPT :
						  ALG_OP_DECRYPT;
		c = CMSG_NXTHDR(&msg, c);
		c->cmsg_level = SOL_ALG;
		c->cmsg_type = ALG_SET_IV;
		c->cmsg_len = CMSG_LEN(sizeof(*iv) + 16);
		iv = (struct af_alg_iv *)CMSG_DATA(c);
		iv->ivlen = 16;
		memcpy(iv->iv, &done, sizeof(done));
		io.iov_base = buf + done;
		io.iov_len = sector;
		msg.msg_iov = &io;
		msg.msg_iovlen = 1;
		if (sendmsg(op, &msg, 0) != (ssize_t)sector ||
		    read(op, buf + done, sector) != (ssize_t)sector)
			return -1;
	}
	return 0;
}

static int alg_bench(const char *cipher, unsigned int key_bytes,
		     unsigned int sector, const char *prefix, unsigned int mib)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	size_t len = 64 << 10;
	uint8_t key[64], *buf;
	unsigned int k, i;
	int tfm, op;
	double t;

	snprintf((char *)sa.salg_type, sizeof(sa.salg_type), "skcipher");
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", cipher);
	tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (tfm < 0 || bind(tfm, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "AF_ALG %s: %s\n", cipher, strerror(errno));
		return 1;
	}
	for (i = 0; i < sizeof(key); i++)
		key[i] = i * 37 + 1;
	if (key_bytes > sizeof(key) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, key_bytes)) {
		fprintf(stderr, "AF_ALG %s: key: %s\n", cipher, strerror(errno));
		return 1;
	}
	op = accept(tfm, NULL, 0);
	buf = malloc(len);
	if (op < 0 || !buf)
		return 1;
	memset(buf, 0x5a, len);
	for (k = 0; k < 2; k++) {
		t = now();
		for (i = 0; i < mib * 16; i++)
			if (alg_op(op, !k, buf, len, sector)) {
				fprintf(stderr, "AF_ALG %s: %s\n", cipher,
					strerror(errno));
				return 1;
			}
		report(prefix, k ? "decrypt" : "encrypt", (uint64_t)mib << 20,
		       now() - t);
	}
	free(buf);
	close(op);
	close(tfm);
	return 0;
}

static int add_key(const char *desc, const char *path)
{
	uint8_t key[512];
	ssize_t n;
	long id;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n <= 0)
		return 1;
	id = syscall(SYS_add_key, "logon", desc, key, (size_t)n,
		     KEY_SPEC_USER_SESSION_KEYRING);
	memset(key, 0, sizeof(key));
	if (id < 0) {
		fprintf(stderr, "add_key %s: %s\n", desc, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "key"))
		return add_key(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "dev"))
		return dev_bench(argv[2], argv[3],
				 argc > 4 ? atoi(argv[4]) : 2048);
	if (argc >= 6 && !strcmp(argv[1], "alg"))
		return alg_bench(argv[2], atoi(argv[3]), atoi(argv[4]),
				 argv[5], argc > 6 ? atoi(argv[6]) : 64);
	fprintf(stderr, "usage: disk_bench dev PATH PREFIX [OPS]\n"
		"       disk_bench alg CIPHER KEYBYTES SECTOR PREFIX [MIB]\n"
		"       disk_bench key DESC FILE\n");
	return 2;
}
