// SPDX-License-Identifier: GPL-2.0
/*
 * shv_caps: print the MMUs the loaded shv.ko supports ("nested shadow"),
 * or with the argument "vendor" its backend ("svm" or "vmx"), for
 * run_tests.sh.  Prints nothing and fails without /dev/shv.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/shv.h>

int main(int argc, char **argv)
{
	int fd = open("/dev/shv", O_RDWR | O_CLOEXEC);
	const char *sep = "";

	if (fd < 0)
		return 1;
	if (argc > 1 && !strcmp(argv[1], "vendor")) {
		int v = ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_VENDOR);

		printf("%s\n", v == SHV_VENDOR_VMX ? "vmx" :
				v == SHV_VENDOR_SVM ? "svm" : "unknown");
		return 0;
	}
	if (ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_NESTED_PAGING) > 0) {
		printf("%snested", sep);
		sep = " ";
	}
	if (ioctl(fd, SHV_CHECK_EXTENSION, SHV_CAP_SHADOW_PAGING) > 0)
		printf("%sshadow", sep);
	printf("\n");
	return 0;
}
