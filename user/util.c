// SPDX-License-Identifier: GPL-2.0
/*
 * shv-run: messages, number parsing, file reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Anything larger cannot fit below the 3 GiB guest RAM cap anyway */
#define MAX_FILE_SIZE	(3ULL * SZ_1G)

bool verbose;

static void vmsg(const char *prefix, const char *fmt, va_list ap, int err)
{
	char buf[1024];
	int n;

	/* one write per message so lines from several threads do not mix */
	n = snprintf(buf, sizeof(buf), "shv-run: %s", prefix);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	n = strlen(buf);
	if (err)
		n += snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap, 0);
	va_end(ap);
}

void pr_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap, err);
	va_end(ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap, 0);
	va_end(ap);
}

void pr_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap, 0);
	va_end(ap);
}

void pr_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap, 0);
	va_end(ap);
}

int parse_u64(const char *s, u64 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int read_whole_file(const char *path, u8 **buf, size_t *len)
{
	struct stat st;
	size_t done = 0;
	u8 *data;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_errno("%s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		pr_errno("%s: stat", path);
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s: not a regular file", path);
		goto err_close;
	}
	if ((u64)st.st_size > MAX_FILE_SIZE) {
		pr_err("%s: file too large (%lld bytes)", path,
		       (long long)st.st_size);
		goto err_close;
	}
	data = malloc(st.st_size ? st.st_size : 1);
	if (!data) {
		pr_err("%s: out of memory", path);
		goto err_close;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, data + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_errno("%s: read", path);
			goto err_free;
		}
		if (n == 0) {
			pr_err("%s: file shrank while reading", path);
			goto err_free;
		}
		done += n;
	}
	close(fd);
	*buf = data;
	*len = done;
	return 0;

err_free:
	free(data);
err_close:
	close(fd);
	return -1;
}
