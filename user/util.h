/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shv-run: small helpers shared by every file (messages, number parsing,
 * reading whole files).
 */
#ifndef SHV_RUN_UTIL_H
#define SHV_RUN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((format(printf, a, b)))

#define SZ_1K		0x400ULL
#define SZ_1M		0x100000ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL

/* Exit statuses of the runner itself (guest debug-exit gives (v<<1)|1) */
#define STATUS_OK		0
#define STATUS_USAGE		1	/* bad arguments, images, setup */
#define STATUS_SHUTDOWN		2	/* guest triple fault */
#define STATUS_VM_ERROR		3	/* internal error, failed entry */

extern bool verbose;

/* "shv-run: error: ..." on stderr */
void pr_err(const char *fmt, ...) __printf(1, 2);
/* as pr_err, with ": strerror(errno)" appended */
void pr_errno(const char *fmt, ...) __printf(1, 2);
/* "shv-run: warning: ..." */
void pr_warn(const char *fmt, ...) __printf(1, 2);
/* "shv-run: ..." */
void pr_info(const char *fmt, ...) __printf(1, 2);
/* "shv-run: ..." only with -v */
void pr_debug(const char *fmt, ...) __printf(1, 2);

/* Strict unsigned parse (decimal, 0x hex, 0 octal): 0 on success */
int parse_u64(const char *s, u64 *out);

/*
 * Read a whole regular file into a malloc'd buffer.  Prints the error and
 * returns -1 on failure.
 */
int read_whole_file(const char *path, u8 **buf, size_t *len);

/* Little-endian accessors for byte buffers (images, access data) */
static inline u64 le_get(const u8 *p, unsigned int len)
{
	u64 v = 0;

	while (len--)
		v = (v << 8) | p[len];
	return v;
}

static inline void le_put(u8 *p, unsigned int len, u64 v)
{
	unsigned int i;

	for (i = 0; i < len; i++, v >>= 8)
		p[i] = v & 0xff;
}

#endif /* SHV_RUN_UTIL_H */
