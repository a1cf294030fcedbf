// SPDX-License-Identifier: GPL-2.0
/*
 * shv_caps: print the MMUs the loaded shv.ko supports ("nested shadow"),
 * for run_tests.sh.  Prints nothing and fails without /dev/shv.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/shv.h>

int main(void)
{
	int fd = open("/dev/shv", O_RDWR | O_CLOEXEC);
	const char *sep = "";

	if (fd < 0)
		return 1;
	if (ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_NESTED_PAGING) > 0) {
		printf("%snested", sep);
		sep = " ";
	}
	if (ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_SHADOW_PAGING) > 0)
		printf("%sshadow", sep);
	printf("\n");
	return 0;
}
